/*
 * test_settings.c - cloister-agent's configuration: an unmodified system-api sample loads, our
 * keys load, every kind of mistake is refused with file:line, flags override the file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/settings.h"

static char dir[] = "/tmp/test_settings_XXXXXX";

static const char *write_cfg(const char *text)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/c.toml", dir);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static const char sample[] = "[general]\n"
			     "listen_addr = \"0.0.0.0:3535\"\n"
			     "pipe_file = \"pipe.fifo\"\n"
			     "log_json = false\n"
			     "log_debug = true\n"
			     "pprof = true\n"
			     "log_max_entries = 1000\n"
			     "# HTTP Basic Auth\n"
			     "basic_auth_secret_path = \"basic-auth-secret.txt\"\n"
			     "basic_auth_secret_salt = \"D;%yL9TS:5PalS/d\"\n"
			     "# http_read_timeout_ms = 2500\n"
			     "tls_enabled = true\n"
			     "tls_create_if_missing = true\n"
			     "tls_cert_hosts = [\"localhost\", \"\"]\n"
			     "tls_cert_path = \"cert.pem\"\n"
			     "tls_key_path = \"key.pem\"\n"
			     "\n"
			     "[actions]\n"
			     "echo_test = \"echo test\"\n"
			     "# reboot = \"reboot\"\n"
			     "\n"
			     "[file_uploads]\n"
			     "testfile = \"/tmp/testfile.txt\"\n";

static void test_systemapi_sample(void **state)
{
	(void)state;
	char err[512] = "";
	struct settings *s = settings_load(write_cfg(sample), NULL, err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(s->listen_addr, "0.0.0.0:3535");
	assert_string_equal(s->pipe_file, "pipe.fifo");
	assert_true(s->log_debug);
	assert_int_equal(s->log_max_entries, 1000);
	assert_string_equal(s->basic_auth_secret_salt, "D;%yL9TS:5PalS/d");
	assert_true(s->tls_enabled && s->tls_create_if_missing);
	assert_int_equal(s->n_tls_cert_hosts, 2);
	assert_string_equal(s->tls_cert_hosts[1], "");
	const struct settings_action *a = settings_action(s, "echo_test");
	assert_non_null(a);
	assert_string_equal(a->command, "echo test");
	assert_true(a->path[0] == '/');
	assert_string_equal(a->argv[0], "echo");
	assert_string_equal(a->argv[1], "test");
	assert_null(a->argv[2]);
	assert_null(settings_action(s, "reboot"));
	assert_string_equal(settings_upload(s, "testfile")->path, "/tmp/testfile.txt");
	/* Defaults for our keys. */
	assert_true(s->actions_allow_get);
	assert_string_equal(s->events_file, "events.log");
	settings_free(s);
}

static void test_empty_and_defaults(void **state)
{
	(void)state;
	char err[512] = "";
	/* system-api: empty TOML gives the default log_max_entries; 0 means the default too. */
	struct settings *s = settings_load(write_cfg(""), NULL, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(s->log_max_entries, 1000);
	assert_string_equal(s->listen_addr, "127.0.0.1:3535");
	settings_free(s);
	s = settings_load(write_cfg("[general]\nlog_max_entries = 0\n"), NULL, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(s->log_max_entries, 1000);
	settings_free(s);
	s = settings_load(NULL, NULL, err, sizeof(err));
	assert_non_null(s);
	settings_free(s);
}

static void test_overrides(void **state)
{
	(void)state;
	char err[512] = "";
	struct settings_overrides ov = { .listen_addr = "127.0.0.1:9", .pipe_file = "/tmp/x.fifo" };
	struct settings *s = settings_load(write_cfg(sample), &ov, err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(s->listen_addr, "127.0.0.1:9");
	assert_string_equal(s->pipe_file, "/tmp/x.fifo");
	settings_free(s);
}

static void expect_error(const char *text, const char *needle)
{
	char err[512] = "";
	struct settings *s = settings_load(write_cfg(text), NULL, err, sizeof(err));
	if (s)
		fail_msg("accepted: %s", text);
	if (!strstr(err, needle))
		fail_msg("error '%s' lacks '%s'", err, needle);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("[general]\nlisten_adr = \"x\"\n", "c.toml:2:");
	expect_error("[general]\nlisten_adr = \"x\"\n", "listen_adr");
	expect_error("[general]\nlog_json = \"yes\"\n", "c.toml:2:");
	expect_error("[general]\n\nlog_max_entries = -1\n", "c.toml:3:");
	expect_error("[cloister]\naction_max_concurrent = 1000\n", "c.toml:2:");
	expect_error("[nonsense]\nx = 1\n", "c.toml:1:");
	expect_error("[actions]\nbad = \"echo a | wc\"\n", "c.toml:2:");
	expect_error("[actions]\nbad = \"no-such-binary-xyz\"\n", "not found");
	expect_error("[actions]\nbad = \"./relative\"\n", "absolute");
	expect_error("[actions]\n\"bad name\" = \"echo\"\n", "action name");
	expect_error("[actions]\nbad = []\n", "empty argv");
	expect_error("[file_uploads]\nx = \"relative.txt\"\n", "absolute path");
	expect_error("[file_uploads]\nx = \"/tmp/\"\n", "must name a file");
	expect_error("[general]\ntls_enabled = true\n", "tls_cert_path");
	expect_error("[cloister]\ntls_client_ca_path = \"ca.pem\"\n", "tls_enabled");
}

static void test_argv_action(void **state)
{
	(void)state;
	char err[512] = "";
	struct settings *s = settings_load(
		write_cfg("[actions]\nhi = [\"/bin/echo\", \"hello world\", \"$HOME\"]\n"), NULL,
		err, sizeof(err));
	assert_non_null(s);
	const struct settings_action *a = settings_action(s, "hi");
	assert_string_equal(a->path, "/bin/echo");
	assert_string_equal(a->argv[1], "hello world");
	assert_string_equal(a->argv[2], "$HOME"); /* never expanded */
	assert_string_equal(a->command, "/bin/echo hello world $HOME");
	settings_free(s);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char path[256];
	snprintf(path, sizeof(path), "%s/c.toml", dir);
	unlink(path);
	rmdir(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_systemapi_sample), cmocka_unit_test(test_empty_and_defaults),
		cmocka_unit_test(test_overrides),        cmocka_unit_test(test_errors),
		cmocka_unit_test(test_argv_action),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
