/*
 * test_session.c - the CLI's stored login (src/cli/session.c): where the file lives
 * (XDG_CONFIG_HOME, HOME), the modes it is written with (0700 directories, a 0600 file, whatever
 * the umask), atomic replacement, the refusal of a file others can read or that is not a plain
 * file of ours, and the parse of good, bad and over-limit content. Every test works in its own
 * mkdtemp directory under /tmp and removes it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/session.h"
#include "fsx.h"
#include "util.h"

struct tdir {
	char dir[64];
};

static void rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		if (d) {
			struct dirent *de;
			while ((de = readdir(d))) {
				if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
					continue;
				char p[512];
				snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
				rm_rf(p);
			}
			closedir(d);
		}
		rmdir(path);
	} else {
		unlink(path);
	}
}

static int setup(void **state)
{
	struct tdir *t = calloc(1, sizeof(*t));
	if (!t)
		return -1;
	memcpy(t->dir, "/tmp/cl-session-XXXXXX", sizeof("/tmp/cl-session-XXXXXX"));
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tdir *t = *state;
	rm_rf(t->dir);
	free(t);
	return 0;
}

static const char good[] = "{\"server\":\"https://cp.example:8443\",\"username\":\"alice\","
			   "\"access_token\":\"aaa.bbb.ccc\",\"refresh_token\":\"ddd.eee.fff\"}";

static void write_file(const char *path, const char *content, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void make_session(struct session *s, const char *server)
{
	*s = (struct session){ 0 };
	assert_int_equal(session_set(&s->server, server), 0);
	assert_int_equal(session_set(&s->username, "alice"), 0);
	assert_int_equal(session_set(&s->access_token, "acc.ess.tok"), 0);
	assert_int_equal(session_set(&s->refresh_token, "ref.resh.tok"), 0);
}

/* ---------------------------------------------------------------- paths */

static void test_path_xdg(void **state)
{
	(void)state;
	char *p;
	setenv("XDG_CONFIG_HOME", "/x/conf", 1);
	setenv("HOME", "/home/u", 1);
	assert_int_equal(session_path(&p), 0);
	assert_string_equal(p, "/x/conf/cloister/session.json");
	free(p);
}

static void test_path_home_when_xdg_unset_empty_or_relative(void **state)
{
	(void)state;
	char *p;
	setenv("HOME", "/home/u", 1);
	unsetenv("XDG_CONFIG_HOME");
	assert_int_equal(session_path(&p), 0);
	assert_string_equal(p, "/home/u/.config/cloister/session.json");
	free(p);
	setenv("XDG_CONFIG_HOME", "", 1);
	assert_int_equal(session_path(&p), 0);
	assert_string_equal(p, "/home/u/.config/cloister/session.json");
	free(p);
	/* The XDG spec: a relative path is invalid and ignored. */
	setenv("XDG_CONFIG_HOME", "conf", 1);
	assert_int_equal(session_path(&p), 0);
	assert_string_equal(p, "/home/u/.config/cloister/session.json");
	free(p);
}

static void test_path_nothing(void **state)
{
	(void)state;
	char *p = (char *)"sentinel";
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("HOME");
	assert_int_equal(session_path(&p), -ENOENT);
	assert_null(p);
	setenv("HOME", "relative", 1);
	assert_int_equal(session_path(&p), -ENOENT);
}

static void test_path_too_long(void **state)
{
	(void)state;
	char *p;
	char *home = malloc(PATH_MAX + 1);
	assert_non_null(home);
	memset(home, 'a', PATH_MAX);
	home[0] = '/';
	home[PATH_MAX] = '\0';
	unsetenv("XDG_CONFIG_HOME");
	setenv("HOME", home, 1);
	assert_int_equal(session_path(&p), -ENAMETOOLONG);
	free(home);
}

/* ---------------------------------------------------------------- save */

static void test_save_creates_private_dirs_and_0600_file(void **state)
{
	struct tdir *t = *state;
	char home[128], path[256];
	snprintf(home, sizeof(home), "%s/home", t->dir);
	assert_int_equal(mkdir(home, 0755), 0);
	unsetenv("XDG_CONFIG_HOME");
	setenv("HOME", home, 1);
	char *p;
	assert_int_equal(session_path(&p), 0);
	snprintf(path, sizeof(path), "%s", p);
	free(p);

	struct session s;
	make_session(&s, "http://127.0.0.1:8080");
	assert_int_equal(session_set(&s.cacert, "/etc/ca.pem"), 0);
	mode_t old = umask(0); /* the modes must not depend on the umask */
	int rc = session_save(path, &s);
	umask(old);
	assert_int_equal(rc, 0);
	session_done(&s);

	struct stat st;
	char dir[256];
	snprintf(dir, sizeof(dir), "%s/.config", home);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(dir, sizeof(dir), "%s/.config/cloister", home);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	struct session back;
	assert_int_equal(session_load(path, &back), 0);
	assert_string_equal(back.server, "http://127.0.0.1:8080");
	assert_string_equal(back.username, "alice");
	assert_string_equal(back.access_token, "acc.ess.tok");
	assert_string_equal(back.refresh_token, "ref.resh.tok");
	assert_string_equal(back.cacert, "/etc/ca.pem");
	session_done(&back);
}

static void test_save_replaces_atomically(void **state)
{
	struct tdir *t = *state;
	char dir[128], path[256];
	snprintf(dir, sizeof(dir), "%s/cloister", t->dir);
	snprintf(path, sizeof(path), "%s/session.json", dir);
	struct session s;
	make_session(&s, "http://one:1");
	assert_int_equal(session_save(path, &s), 0);
	/* An old file with loose permissions is replaced by a 0600 one. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(session_set(&s.server, "http://two:2"), 0);
	assert_int_equal(session_set(&s.access_token, "new.access.tok"), 0);
	assert_int_equal(session_save(path, &s), 0);
	session_done(&s);

	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	struct session back;
	assert_int_equal(session_load(path, &back), 0);
	assert_string_equal(back.server, "http://two:2");
	assert_string_equal(back.access_token, "new.access.tok");
	assert_null(back.cacert);
	session_done(&back);
	/* Nothing but the session file: no temp file left behind. */
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	assert_int_equal(n, 1);
}

static void test_save_refuses_incomplete_and_missing_home(void **state)
{
	struct tdir *t = *state;
	char path[256];
	snprintf(path, sizeof(path), "%s/cloister/session.json", t->dir);
	struct session s;
	make_session(&s, "http://one:1");
	session_set(&s.refresh_token, NULL);
	assert_int_equal(session_save(path, &s), -EINVAL);
	session_done(&s);
	/* Only .config and cloister are created, never the home directory itself. */
	make_session(&s, "http://one:1");
	snprintf(path, sizeof(path), "%s/nohome/.config/cloister/session.json", t->dir);
	assert_int_equal(session_save(path, &s), -ENOENT);
	session_done(&s);
	struct stat st;
	snprintf(path, sizeof(path), "%s/nohome", t->dir);
	assert_int_equal(stat(path, &st), -1);
}

/* ---------------------------------------------------------------- load */

static void test_load_refuses_group_or_other_access(void **state)
{
	struct tdir *t = *state;
	char path[256];
	snprintf(path, sizeof(path), "%s/session.json", t->dir);
	static const mode_t bad[] = { 0644, 0640, 0604, 0620, 0602, 0601, 0610 };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		write_file(path, good, strlen(good), bad[i]);
		struct session s;
		assert_int_equal(session_load(path, &s), -EACCES);
		assert_null(s.access_token);
	}
	write_file(path, good, strlen(good), 0600);
	struct session s;
	assert_int_equal(session_load(path, &s), 0);
	assert_string_equal(s.server, "https://cp.example:8443");
	session_done(&s);
	write_file(path, good, strlen(good), 0400);
	assert_int_equal(session_load(path, &s), 0);
	session_done(&s);
}

static void test_load_refuses_other_owner(void **state)
{
	struct tdir *t = *state;
	char path[256];
	snprintf(path, sizeof(path), "%s/session.json", t->dir);
	write_file(path, good, strlen(good), 0600);
	if (chown(path, geteuid() + 1, (gid_t)-1) < 0)
		skip(); /* only root can give a file away */
	struct session s;
	assert_int_equal(session_load(path, &s), -EPERM);
}

static void test_load_not_a_regular_file(void **state)
{
	struct tdir *t = *state;
	char path[256];
	struct session s;
	snprintf(path, sizeof(path), "%s/missing.json", t->dir);
	assert_int_equal(session_load(path, &s), -ENOENT);
	snprintf(path, sizeof(path), "%s/dir", t->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(session_load(path, &s), -EISDIR);
	snprintf(path, sizeof(path), "%s/fifo", t->dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(session_load(path, &s), -EINVAL); /* and it did not block */
}

static void test_load_size_limit(void **state)
{
	struct tdir *t = *state;
	char path[256];
	snprintf(path, sizeof(path), "%s/session.json", t->dir);
	/* good padded with spaces to exactly the limit, then one byte more. */
	char *buf = malloc(SESSION_FILE_MAX_BYTES + 1);
	assert_non_null(buf);
	memset(buf, ' ', SESSION_FILE_MAX_BYTES + 1);
	memcpy(buf, good, strlen(good));
	write_file(path, buf, SESSION_FILE_MAX_BYTES, 0600);
	struct session s;
	assert_int_equal(session_load(path, &s), 0);
	session_done(&s);
	write_file(path, buf, SESSION_FILE_MAX_BYTES + 1, 0600);
	assert_int_equal(session_load(path, &s), -E2BIG);
	assert_int_equal(session_parse(buf, SESSION_FILE_MAX_BYTES + 1, &s), -E2BIG);
	free(buf);
}

/* ---------------------------------------------------------------- parse */

static void expect_parse(const char *text, int want)
{
	struct session s;
	int rc = session_parse(text, strlen(text), &s);
	if (rc != want)
		fail_msg("parse of %s: %d, want %d", text, rc, want);
	if (rc < 0) {
		assert_null(s.server);
		assert_null(s.access_token);
	}
	session_done(&s);
}

static void test_parse_bad_json(void **state)
{
	(void)state;
	expect_parse("", -EINVAL);
	expect_parse("{", -EINVAL);
	expect_parse("not json", -EINVAL);
	expect_parse("[]", -EINVAL);
	expect_parse("\"a string\"", -EINVAL);
	expect_parse("{\"server\":\"http://a\"} trailing", -EINVAL);
	/* good with its server repeated: duplicate keys are refused. */
	expect_parse("{\"server\":\"http://a\",\"server\":\"http://b\",\"username\":\"u\","
		     "\"access_token\":\"a\",\"refresh_token\":\"r\"}",
		     -EINVAL);
	expect_parse("{\"server\":\"http://a\",\"username\":\"u\",\"access_token\":\"a\","
		     "\"refresh_token\":\"r\"\xff}",
		     -EINVAL);
}

static void test_parse_members(void **state)
{
	(void)state;
	expect_parse(good, 0);
	/* Unknown keys are ignored (a later version may add some). */
	expect_parse("{\"server\":\"http://a\",\"username\":\"u\",\"access_token\":\"a\","
		     "\"refresh_token\":\"r\",\"future\":[1,2]}",
		     0);
	/* Each required member missing, or of the wrong type, or empty. */
	expect_parse("{\"username\":\"u\",\"access_token\":\"a\",\"refresh_token\":\"r\"}",
		     -EINVAL);
	expect_parse("{\"server\":\"http://a\",\"access_token\":\"a\",\"refresh_token\":\"r\"}",
		     -EINVAL);
	expect_parse("{\"server\":\"http://a\",\"username\":\"u\",\"refresh_token\":\"r\"}",
		     -EINVAL);
	expect_parse("{\"server\":\"http://a\",\"username\":\"u\",\"access_token\":\"a\"}",
		     -EINVAL);
	expect_parse("{\"server\":1,\"username\":\"u\",\"access_token\":\"a\",\"refresh_token\":"
		     "\"r\"}",
		     -EINVAL);
	expect_parse("{\"server\":\"http://a\",\"username\":\"\",\"access_token\":\"a\","
		     "\"refresh_token\":\"r\"}",
		     -EINVAL);
	expect_parse("{\"server\":\"http://a\",\"username\":\"u\",\"access_token\":\"a\","
		     "\"refresh_token\":\"r\",\"cacert\":false}",
		     -EINVAL);
	/* A NUL inside a string would let the C string differ from the file. */
	expect_parse("{\"server\":\"http://a\",\"username\":\"u\\u0000x\",\"access_token\":\"a\","
		     "\"refresh_token\":\"r\"}",
		     -EINVAL);
}

static void test_parse_protocol(void **state)
{
	(void)state;
	/* A token goes into a header line: no spaces, controls or non-ASCII. */
	expect_parse("{\"server\":\"http://a\",\"username\":\"u\",\"access_token\":\"a b\","
		     "\"refresh_token\":\"r\"}",
		     -EPROTO);
	expect_parse("{\"server\":\"http://a\",\"username\":\"u\",\"access_token\":\"a\","
		     "\"refresh_token\":\"r\\r\\nX-Evil: 1\"}",
		     -EPROTO);
	expect_parse("{\"server\":\"http://a\",\"username\":\"u\",\"access_token\":\"\\u00e9\","
		     "\"refresh_token\":\"r\"}",
		     -EPROTO);
	expect_parse("{\"server\":\"ftp://a\",\"username\":\"u\",\"access_token\":\"a\","
		     "\"refresh_token\":\"r\"}",
		     -EPROTO);
	expect_parse("{\"server\":\"http://a b\",\"username\":\"u\",\"access_token\":\"a\","
		     "\"refresh_token\":\"r\"}",
		     -EPROTO);
}

/* Builds a session document with one member of n bytes of 'x' (a URL for server). */
static char *doc_with(const char *key, size_t n)
{
	char *v = malloc(n + 1);
	assert_non_null(v);
	memset(v, 'x', n);
	v[n] = '\0';
	if (strcmp(key, "server") == 0 && n >= 7)
		memcpy(v, "http://", 7);
	char *doc = NULL;
	assert_true(asprintf(&doc,
			     "{\"server\":\"%s\",\"username\":\"%s\",\"access_token\":\"%s\","
			     "\"refresh_token\":\"%s\"}",
			     strcmp(key, "server") ? "http://a" : v,
			     strcmp(key, "username") ? "u" : v,
			     strcmp(key, "access_token") ? "a" : v,
			     strcmp(key, "refresh_token") ? "r" : v) > 0);
	free(v);
	return doc;
}

static void test_parse_limits(void **state)
{
	(void)state;
	static const struct {
		const char *key;
		size_t max;
	} lim[] = {
		{ "server", SESSION_STRING_MAX_BYTES },
		{ "username", SESSION_USERNAME_MAX_BYTES },
		{ "access_token", SESSION_TOKEN_MAX_BYTES },
		{ "refresh_token", SESSION_TOKEN_MAX_BYTES },
	};
	for (size_t i = 0; i < ARRAY_SIZE(lim); i++) {
		char *at = doc_with(lim[i].key, lim[i].max);
		char *past = doc_with(lim[i].key, lim[i].max + 1);
		expect_parse(at, 0);
		expect_parse(past, -E2BIG);
		free(at);
		free(past);
	}
}

static void test_token_valid(void **state)
{
	(void)state;
	assert_true(session_token_valid("eyJ.eyJ.sig-_~", 14));
	assert_false(session_token_valid("", 0));
	assert_false(session_token_valid("a b", 3));
	assert_false(session_token_valid("a\tb", 3));
	assert_false(session_token_valid("a\x7f", 2));
	char *t = malloc(SESSION_TOKEN_MAX_BYTES + 1);
	assert_non_null(t);
	memset(t, 'A', SESSION_TOKEN_MAX_BYTES + 1);
	assert_true(session_token_valid(t, SESSION_TOKEN_MAX_BYTES));
	assert_false(session_token_valid(t, SESSION_TOKEN_MAX_BYTES + 1));
	free(t);
}

/* ---------------------------------------------------------------- remove */

static void test_remove(void **state)
{
	struct tdir *t = *state;
	char path[256];
	snprintf(path, sizeof(path), "%s/s/session.json", t->dir);
	struct session s;
	make_session(&s, "http://one:1");
	assert_int_equal(session_save(path, &s), 0);
	session_done(&s);
	assert_int_equal(session_remove(path), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(session_remove(path), -ENOENT);
	assert_int_equal(session_load(path, &s), -ENOENT);
}

static void test_done_on_zeroed_and_null(void **state)
{
	(void)state;
	struct session s = { 0 };
	session_done(&s);
	session_done(NULL);
	char *slot = NULL;
	assert_int_equal(session_set(&slot, "v"), 0);
	assert_string_equal(slot, "v");
	assert_int_equal(session_set(&slot, NULL), 0);
	assert_null(slot);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_xdg),
		cmocka_unit_test(test_path_home_when_xdg_unset_empty_or_relative),
		cmocka_unit_test(test_path_nothing),
		cmocka_unit_test(test_path_too_long),
		cmocka_unit_test_setup_teardown(test_save_creates_private_dirs_and_0600_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_save_replaces_atomically, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_refuses_incomplete_and_missing_home,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_refuses_group_or_other_access, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_load_refuses_other_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_not_a_regular_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_size_limit, setup, teardown),
		cmocka_unit_test(test_parse_bad_json),
		cmocka_unit_test(test_parse_members),
		cmocka_unit_test(test_parse_protocol),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_token_valid),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test(test_done_on_zeroed_and_null),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
