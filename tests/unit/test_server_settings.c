/*
 * test_server_settings.c - cloisterd's configuration: defaults, every key, the ranges at the
 * limit and one past, derived paths, flags overriding the file, and every kind of mistake
 * refused with file:line.
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

#include "server/settings.h"

static char dir[] = "/tmp/test_server_settings_XXXXXX";
static char path[256];

static const char *write_cfg(const char *text)
{
	snprintf(path, sizeof(path), "%s/cloisterd.toml", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static struct server_settings *load(const char *text, char *err, size_t errlen)
{
	err[0] = '\0';
	return server_settings_load(write_cfg(text), NULL, err, errlen);
}

/* The text must be refused with an error naming the file and the line. */
static void refused_at(const char *text, unsigned line, const char *needle)
{
	char err[512];
	struct server_settings *s = load(text, err, sizeof(err));
	if (s) {
		server_settings_free(s);
		fail_msg("accepted: %s", text);
	}
	char want[320];
	snprintf(want, sizeof(want), "%s:%u: ", path, line);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("error '%s' does not start with '%s'", err, want);
	if (needle && !strstr(err, needle))
		fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void accepted(const char *text)
{
	char err[512];
	struct server_settings *s = load(text, err, sizeof(err));
	if (!s)
		fail_msg("refused (%s): %s", err, text);
	server_settings_free(s);
}

static void test_defaults(void **state)
{
	(void)state;
	char err[256] = "";
	struct server_settings *s = server_settings_load(NULL, NULL, err, sizeof(err));
	assert_non_null(s);
	assert_null(s->config_path);
	assert_string_equal(s->listen_addr, "127.0.0.1:8080");
	assert_string_equal(s->state_dir, "/var/lib/cloisterd");
	assert_string_equal(s->database, "sqlite:/var/lib/cloisterd/cloisterd.db");
	assert_string_equal(s->tls_cert_path, "");
	assert_string_equal(s->tls_key_path, "");
	assert_true(s->allow_get_side_effects);
	assert_false(s->log_json);
	assert_false(s->log_debug);
	assert_int_equal(s->max_connections, 0);
	assert_int_equal(s->http_threads, 0);
	assert_int_equal(s->jwt_alg, JWT_ALG_EDDSA);
	assert_string_equal(s->jwt_key_path, "/var/lib/cloisterd/jwt-ed25519.pem");
	assert_string_equal(s->audience, "cloisterd");
	assert_string_equal(s->issuer, "cloisterd");
	assert_int_equal(s->access_ttl_s, 900);
	assert_int_equal(s->refresh_ttl_s, 604800);
	assert_string_equal(s->admin_username, "admin");
	assert_string_equal(s->admin_password_file, "");
	server_settings_free(s);

	/* An empty file is the same as no file. */
	s = load("# nothing\n", err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(s->config_path, path);
	assert_string_equal(s->database, "sqlite:/var/lib/cloisterd/cloisterd.db");
	server_settings_free(s);
}

static void test_every_key(void **state)
{
	(void)state;
	char err[512];
	struct server_settings *s = load("[server]\n"
					 "listen_addr = \"0.0.0.0:9443\"\n"
					 "state_dir = \"/srv/cp\"\n"
					 "database = \"sqlite:/data/cp.db\"\n"
					 "tls_cert_path = \"/etc/cp/cert.pem\"\n"
					 "tls_key_path = \"/etc/cp/key.pem\"\n"
					 "allow_get_side_effects = false\n"
					 "log_json = true\n"
					 "log_debug = true\n"
					 "max_connections = 100\n"
					 "max_connections_per_ip = 10\n"
					 "connection_timeout_s = 20\n"
					 "http_threads = 4\n"
					 "[auth]\n"
					 "jwt_alg = \"HS256\"\n"
					 "jwt_key_path = \"/etc/cp/jwt.key\"\n"
					 "audience = \"aud-x\"\n"
					 "issuer = \"iss-y\"\n"
					 "access_ttl_s = 120\n"
					 "refresh_ttl_s = 3600\n"
					 "admin_username = \"root@example.org\"\n"
					 "admin_password_file = \"/etc/cp/admin-pw\"\n",
					 err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(s->listen_addr, "0.0.0.0:9443");
	assert_string_equal(s->state_dir, "/srv/cp");
	assert_string_equal(s->database, "sqlite:/data/cp.db");
	assert_string_equal(s->tls_cert_path, "/etc/cp/cert.pem");
	assert_string_equal(s->tls_key_path, "/etc/cp/key.pem");
	assert_false(s->allow_get_side_effects);
	assert_true(s->log_json);
	assert_true(s->log_debug);
	assert_int_equal(s->max_connections, 100);
	assert_int_equal(s->max_connections_per_ip, 10);
	assert_int_equal(s->connection_timeout_s, 20);
	assert_int_equal(s->http_threads, 4);
	assert_int_equal(s->jwt_alg, JWT_ALG_HS256);
	assert_string_equal(s->jwt_key_path, "/etc/cp/jwt.key");
	assert_string_equal(s->audience, "aud-x");
	assert_string_equal(s->issuer, "iss-y");
	assert_int_equal(s->access_ttl_s, 120);
	assert_int_equal(s->refresh_ttl_s, 3600);
	assert_string_equal(s->admin_username, "root@example.org");
	assert_string_equal(s->admin_password_file, "/etc/cp/admin-pw");
	server_settings_free(s);
}

static void test_derived_paths(void **state)
{
	(void)state;
	char err[512];
	/* HS256 without a key path: the HS256 file name in the state dir; a trailing '/' on the
	 * directory does not double. */
	struct server_settings *s = load(
		"[server]\nstate_dir = \"/x/y/\"\n[auth]\njwt_alg = \"HS256\"\n", err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(s->jwt_key_path, "/x/y/jwt-hs256.key");
	assert_string_equal(s->database, "sqlite:/x/y/cloisterd.db");
	server_settings_free(s);
	/* Empty strings in the file mean "derive". */
	s = load("[server]\nstate_dir = \"/s\"\ndatabase = \"\"\n[auth]\njwt_key_path = \"\"\n",
		 err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(s->database, "sqlite:/s/cloisterd.db");
	assert_string_equal(s->jwt_key_path, "/s/jwt-ed25519.pem");
	server_settings_free(s);
}

static void test_flags_override(void **state)
{
	(void)state;
	char err[512] = "";
	const char *p = write_cfg("[server]\nlisten_addr = \"127.0.0.1:1\"\nstate_dir = \"/a\"\n");
	struct server_settings_overrides ov = { .listen_addr = "[::1]:0", .state_dir = "/b" };
	struct server_settings *s = server_settings_load(p, &ov, err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(s->listen_addr, "[::1]:0");
	assert_string_equal(s->state_dir, "/b");
	/* Derived paths follow the state dir given on the command line. */
	assert_string_equal(s->database, "sqlite:/b/cloisterd.db");
	assert_string_equal(s->jwt_key_path, "/b/jwt-ed25519.pem");
	server_settings_free(s);

	ov = (struct server_settings_overrides){ .database = "sqlite:/tmp/other.db" };
	s = server_settings_load(p, &ov, err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(s->database, "sqlite:/tmp/other.db");
	assert_string_equal(s->listen_addr, "127.0.0.1:1");
	server_settings_free(s);

	/* Flags are checked like the file: an empty state dir is refused. */
	ov = (struct server_settings_overrides){ .state_dir = "" };
	s = server_settings_load(NULL, &ov, err, sizeof(err));
	assert_null(s);
	assert_non_null(strstr(err, "state_dir must not be empty"));
}

static void test_ranges(void **state)
{
	(void)state;
	/* access_ttl_s 60..86400 (refresh_ttl_s must stay longer). */
	accepted("[auth]\naccess_ttl_s = 60\n");
	refused_at("[auth]\naccess_ttl_s = 59\n", 2, "access_ttl_s");
	accepted("[auth]\naccess_ttl_s = 86400\n");
	refused_at("[auth]\naccess_ttl_s = 86401\n", 2, "access_ttl_s");
	/* refresh_ttl_s 300..2592000. */
	accepted("[auth]\naccess_ttl_s = 60\nrefresh_ttl_s = 300\n");
	refused_at("[auth]\naccess_ttl_s = 60\nrefresh_ttl_s = 299\n", 3, "refresh_ttl_s");
	accepted("[auth]\nrefresh_ttl_s = 2592000\n");
	refused_at("[auth]\nrefresh_ttl_s = 2592001\n", 2, "refresh_ttl_s");
	/* A refresh token must outlive the access token it renews. */
	refused_at("[auth]\naccess_ttl_s = 3600\nrefresh_ttl_s = 3600\n", 3, "longer");
	/* Connection knobs. */
	accepted("[server]\nmax_connections = 1\nmax_connections_per_ip = 65536\n");
	refused_at("[server]\nmax_connections = 0\n", 2, "max_connections");
	refused_at("[server]\nmax_connections_per_ip = 65537\n", 2, "max_connections_per_ip");
	accepted("[server]\nconnection_timeout_s = 3600\n");
	refused_at("[server]\nconnection_timeout_s = 3601\n", 2, "connection_timeout_s");
	refused_at("[server]\nconnection_timeout_s = 0\n", 2, "connection_timeout_s");
	accepted("[server]\nhttp_threads = 64\n");
	refused_at("[server]\nhttp_threads = 65\n", 2, "http_threads");
}

static void test_unknown_and_wrong_types(void **state)
{
	(void)state;
	refused_at("[server]\nlisten_addr = \"127.0.0.1:8080\"\nlisten_adr = \"x\"\n", 3,
		   "listen_adr");
	refused_at("[auth]\njwt_secret = \"x\"\n", 2, "jwt_secret");
	/* A key in the wrong table is unknown there. */
	refused_at("[server]\naudience = \"x\"\n", 2, "audience");
	refused_at("# top\nstate_dir = \"/x\"\n", 2, "state_dir");
	refused_at("[general]\nlisten_addr = \"x\"\n", 1, "general");
	refused_at("[auth]\naccess_ttl_s = \"900\"\n", 2, "access_ttl_s");
	refused_at("[server]\nallow_get_side_effects = 1\n", 2, "allow_get_side_effects");
	refused_at("[server]\nstate_dir = true\n", 2, "state_dir");
	/* Syntax errors name their line too. */
	refused_at("[server]\nlisten_addr = \n", 2, NULL);
	refused_at("[server]\nlisten_addr = \"a\"\nlisten_addr = \"b\"\n", 3, NULL);
}

static void test_values(void **state)
{
	(void)state;
	accepted("[auth]\njwt_alg = \"EdDSA\"\n");
	refused_at("[auth]\njwt_alg = \"none\"\n", 2, "jwt_alg");
	refused_at("[auth]\n\njwt_alg = \"hs256\"\n", 3, "jwt_alg");
	refused_at("[auth]\njwt_alg = \"RS256\"\n", 2, "jwt_alg");
	/* TLS needs both files. */
	refused_at("[server]\ntls_cert_path = \"/c.pem\"\n", 2, "tls_key_path");
	refused_at("[server]\n\ntls_key_path = \"/k.pem\"\n", 3, "tls_cert_path");
	/* Strings that must not be empty. */
	refused_at("[server]\nstate_dir = \"\"\n", 2, "state_dir");
	refused_at("[server]\nlisten_addr = \"\"\n", 2, "listen_addr");
	refused_at("[auth]\naudience = \"\"\n", 2, "audience");
	refused_at("[auth]\nissuer = \"\"\n", 2, "issuer");
	/* audience/issuer: 63 bytes fit the token's claim buffers, 64 do not. */
	char text[256];
	char s63[64], s64[65];
	memset(s63, 'a', 63);
	s63[63] = '\0';
	memset(s64, 'a', 64);
	s64[64] = '\0';
	snprintf(text, sizeof(text), "[auth]\naudience = \"%s\"\nissuer = \"%s\"\n", s63, s63);
	accepted(text);
	snprintf(text, sizeof(text), "[auth]\naudience = \"%s\"\n", s64);
	refused_at(text, 2, "audience");
	snprintf(text, sizeof(text), "[auth]\nissuer = \"%s\"\n", s64);
	refused_at(text, 2, "issuer");
	/* admin_username: the username rules, 64 bytes at most. */
	snprintf(text, sizeof(text), "[auth]\nadmin_username = \"%s\"\n", s64);
	accepted(text);
	snprintf(text, sizeof(text), "[auth]\nadmin_username = \"%sa\"\n", s64);
	refused_at(text, 2, "admin_username");
	refused_at("[auth]\nadmin_username = \"bad name\"\n", 2, "admin_username");
	refused_at("[auth]\nadmin_username = \"\"\n", 2, "admin_username");
}

static void test_file_errors(void **state)
{
	(void)state;
	char err[512] = "";
	char missing[300];
	snprintf(missing, sizeof(missing), "%s/absent.toml", dir);
	struct server_settings *s = server_settings_load(missing, NULL, err, sizeof(err));
	assert_null(s);
	assert_non_null(strstr(err, missing));
	assert_non_null(strstr(err, "No such file"));
	/* The settings free accepts NULL. */
	server_settings_free(NULL);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_derived_paths),
		cmocka_unit_test(test_flags_override),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_unknown_and_wrong_types),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_file_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
