/*
 * test_sysd.c - `systemctl show` parsing over the recorded RHEL outputs (unit counts, values kept
 * verbatim, cut lines), CRLF, every limit at and one past, the error paths, the sek8s status
 * object and health rule; and, when $FAKE_CMD names the built tests/fixtures/fake_cmd, the
 * replay fixture end to end through proc_run (argv log, keyed outputs, mode directives, and a
 * timeout that must kill the fake's child too).
 *
 * Test data: $TESTDATA, else $SRCDIR/../shared/testdata (SRCDIR defaults to "."); the samples
 * of tests/fixtures/fake_cmd/ under $SRCDIR.
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
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "sysd.h"
#include "util.h"

#define READ_MAX_BYTES (16u << 20)

static char testdata[2048];
static char srcdir[1024];

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rbe");
	if (!f)
		print_error("cannot open %s\n", path);
	assert_non_null(f);
	char *buf = malloc(READ_MAX_BYTES + 1);
	assert_non_null(buf);
	*len = fread(buf, 1, READ_MAX_BYTES, f);
	fclose(f);
	return buf;
}

static char *read_td(const char *rel, size_t *len)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/systemd/%s", testdata, rel);
	return read_file(p, len);
}

static int parse_str(const char *s, struct sysd_show *out)
{
	return sysd_parse_show(s, strlen(s), out);
}

static void check_well_formed(const struct sysd_show *s)
{
	for (size_t u = 0; u < s->n; u++) {
		assert_true(s->units[u].n > 0);
		for (size_t i = 0; i < s->units[u].n; i++) {
			const struct sysd_prop *p = &s->units[u].props[i];
			assert_true(p->key[0] != '\0');
			assert_true(strlen(p->key) <= SYSD_MAX_KEY_BYTES);
			assert_null(strchr(p->key, '\n'));
			assert_null(strchr(p->key, '='));
			assert_int_equal(strlen(p->value), p->value_len);
			assert_true(p->value_len <= SYSD_MAX_VALUE_BYTES);
			assert_null(strchr(p->value, '\n'));
		}
	}
}

static void test_mariadb_single_unit(void **state)
{
	(void)state;
	size_t len;
	char *buf = read_td("systemctl_show/rhel7_mariadb_service.txt", &len);
	struct sysd_show s;
	assert_int_equal(sysd_parse_show(buf, len, &s), 1);
	assert_int_equal(s.units[0].n, 22);
	assert_int_equal(s.skipped_lines, 0);
	const struct sysd_unit *u = &s.units[0];
	assert_string_equal(sysd_unit_get(u, "Type"), "simple");
	assert_string_equal(sysd_unit_get(u, "LoadState"), "loaded");
	assert_string_equal(sysd_unit_get(u, "UnitFileState"), "enabled");
	assert_string_equal(sysd_unit_get(u, "Description"), "MariaDB database server");
	/* value = everything after the first '=' */
	assert_string_equal(
		sysd_unit_get(u, "ExecStart"),
		"{ path=/usr/bin/mysqld_safe ; argv[]=/usr/bin/mysqld_safe --basedir=/usr ; "
		"ignore_errors=no ; start_time=[Mon 2017-05-22 06:49:02 EDT] ; "
		"stop_time=[n/a] ; pid=2304 ; code=(null) ; status=0/0 }");
	assert_null(sysd_unit_get(u, "ActiveState"));
	assert_false(sysd_healthy(u, true));
	sysd_show_done(&s);
	free(buf);
}

static void test_multi_targets(void **state)
{
	(void)state;
	size_t len;
	char *buf = read_td("systemctl_show/rhel7_multi_targets.txt", &len);
	struct sysd_show s;
	assert_int_equal(sysd_parse_show(buf, len, &s), 4);
	static const char *ids[] = { "network.target", "swap.target", "paths.target",
				     "sockets.target" };
	for (size_t i = 0; i < 4; i++) {
		assert_string_equal(sysd_unit_get(&s.units[i], "Id"), ids[i]);
		assert_string_equal(sysd_unit_get(&s.units[i], "ActiveState"), "active");
		/* a target's substate is "active": not healthy under the sek8s rule */
		assert_false(sysd_healthy(&s.units[i], false));
	}
	/* escaped unit names are kept verbatim, backslashes included */
	assert_string_equal(sysd_unit_get(&s.units[1], "Requires"),
			    "dev-mapper-rhel\\x5cx2dswap.swap");
	assert_non_null(strstr(sysd_unit_get(&s.units[1], "After"),
			       "dev-disk-by\\x5cx2duuid-1ffaf940\\x5cx2de836"));
	assert_string_equal(sysd_unit_get(&s.units[0], "InactiveExitTimestamp"),
			    "Tue 2020-02-25 10:39:46 GMT");
	assert_int_equal(s.units[0].n, 21);
	check_well_formed(&s);
	sysd_show_done(&s);
	free(buf);
}

static void test_limited_props(void **state)
{
	(void)state;
	size_t len;
	char *buf = read_td("systemctl_show/rhel_limited_props_info.txt", &len);
	struct sysd_show s;
	assert_int_equal(sysd_parse_show(buf, len, &s), 2);
	assert_string_equal(sysd_unit_get(&s.units[0], "Names"), "test1.service");
	assert_string_equal(sysd_unit_get(&s.units[0], "UnitFileState"), "static");
	assert_string_equal(sysd_unit_get(&s.units[0], "CPUAccounting"), "no");
	assert_string_equal(sysd_unit_get(&s.units[1], "Names"), "test2.service");
	assert_string_equal(sysd_unit_get(&s.units[1], "UnitFileState"), "enabled");
	assert_string_equal(sysd_unit_get(&s.units[1], "SubState"), "dead");
	assert_int_equal(s.units[0].n, 7);
	assert_int_equal(s.units[1].n, 7);
	sysd_show_done(&s);
	free(buf);
}

static void test_edge_truncated_lines(void **state)
{
	(void)state;
	size_t len;
	char *buf = read_td("systemctl_show_edge/rhel7_multi_services_truncated_lines.txt", &len);
	struct sysd_show s;
	assert_int_equal(sysd_parse_show(buf, len, &s), 3);
	assert_string_equal(sysd_unit_get(&s.units[0], "Id"), "postfix.service");
	assert_string_equal(sysd_unit_get(&s.units[0], "LimitMEMLOCK"), "");
	assert_string_equal(sysd_unit_get(&s.units[1], "Id"), "postgresql.service");
	assert_string_equal(sysd_unit_get(&s.units[1], "User"), "postgres");
	/* a value cut upstream mid-word is kept as it is */
	const char *reload = sysd_unit_get(&s.units[1], "ExecReload");
	assert_non_null(reload);
	assert_int_equal(strcmp(reload + strlen(reload) - 5, "statu"), 0);
	const struct sysd_unit *tuned = &s.units[2];
	assert_string_equal(sysd_unit_get(tuned, "Id"), "tuned.service");
	/* the continuation line "basic.target dbus.service" has no '=' and is skipped */
	assert_int_equal(s.skipped_lines, 1);
	assert_string_equal(sysd_unit_get(tuned, "After"),
			    "systemd-sysctl.service system.slice network.target "
			    "systemd-journald.socket");
	assert_string_equal(sysd_unit_get(tuned, "ABC"), "");
	assert_string_equal(sysd_unit_get(tuned, "Transient"), "no");
	assert_true(sysd_healthy(tuned, false));
	check_well_formed(&s);
	sysd_show_done(&s);
	free(buf);
}

/* Every recorded file, and every prefix of it (output cut at any byte), parses without error
 * and gives well-formed units, never more than the whole file gives. */
static void test_every_file_every_prefix(void **state)
{
	(void)state;
	static const char *subdirs[] = { "systemctl_show", "systemctl_show_edge" };
	int files = 0;
	for (size_t d = 0; d < ARRAY_SIZE(subdirs); d++) {
		char dp[PATH_MAX];
		snprintf(dp, sizeof(dp), "%s/systemd/%s", testdata, subdirs[d]);
		DIR *dir = opendir(dp);
		assert_non_null(dir);
		struct dirent *de;
		while ((de = readdir(dir))) {
			if (de->d_name[0] == '.')
				continue;
			char fp[PATH_MAX + 300];
			snprintf(fp, sizeof(fp), "%s/%s", dp, de->d_name);
			size_t len;
			char *buf = read_file(fp, &len);
			struct sysd_show whole;
			int n = sysd_parse_show(buf, len, &whole);
			assert_true(n > 0);
			check_well_formed(&whole);
			for (size_t cut = 0; cut <= len; cut++) {
				/* exact-size copy: ASan catches any read past the end */
				char *c = malloc(cut ? cut : 1);
				assert_non_null(c);
				memcpy(c, buf, cut);
				struct sysd_show s;
				int m = sysd_parse_show(c, cut, &s);
				assert_true(m >= 0 && m <= n);
				check_well_formed(&s);
				sysd_show_done(&s);
				free(c);
			}
			sysd_show_done(&whole);
			free(buf);
			files++;
		}
		closedir(dir);
	}
	assert_true(files >= 4);
}

static void test_crlf(void **state)
{
	(void)state;
	size_t len;
	char *buf = read_td("systemctl_show/rhel7_multi_targets.txt", &len);
	char *crlf = malloc(len * 2);
	assert_non_null(crlf);
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n')
			crlf[o++] = '\r';
		crlf[o++] = buf[i];
	}
	struct sysd_show a, b;
	assert_int_equal(sysd_parse_show(buf, len, &a), 4);
	assert_int_equal(sysd_parse_show(crlf, o, &b), 4);
	for (size_t u = 0; u < 4; u++) {
		assert_int_equal(a.units[u].n, b.units[u].n);
		for (size_t i = 0; i < a.units[u].n; i++) {
			assert_string_equal(a.units[u].props[i].key, b.units[u].props[i].key);
			assert_string_equal(a.units[u].props[i].value, b.units[u].props[i].value);
		}
	}
	sysd_show_done(&a);
	sysd_show_done(&b);
	free(crlf);
	free(buf);
}

static void test_separators_and_oddities(void **state)
{
	(void)state;
	struct sysd_show s;
	/* leading, repeated and trailing blank lines; CR-only blank line; no final newline */
	assert_int_equal(parse_str("\n\nA=1\n\n\n\r\nB=2\nC=x=y=z\n\n", &s), 2);
	assert_string_equal(sysd_unit_get(&s.units[0], "A"), "1");
	assert_string_equal(sysd_unit_get(&s.units[1], "C"), "x=y=z");
	sysd_show_done(&s);
	assert_int_equal(parse_str("A=1", &s), 1);
	assert_string_equal(sysd_unit_get(&s.units[0], "A"), "1");
	sysd_show_done(&s);
	/* empty key and '='-less lines are skipped, and a block of only those is no unit */
	assert_int_equal(parse_str("=v\nnoequals\n\nK=\n", &s), 1);
	assert_int_equal(s.skipped_lines, 2);
	assert_string_equal(sysd_unit_get(&s.units[0], "K"), "");
	sysd_show_done(&s);
	/* duplicate key: the last one wins; keys are case-sensitive; a bare '\r' in a value
	 * that is not at the line end stays */
	assert_int_equal(parse_str("X=1\nX=2\nx=3\nY=a\rb\n", &s), 1);
	assert_string_equal(sysd_unit_get(&s.units[0], "X"), "2");
	assert_string_equal(sysd_unit_get(&s.units[0], "x"), "3");
	assert_string_equal(sysd_unit_get(&s.units[0], "Y"), "a\rb");
	assert_null(sysd_unit_get(&s.units[0], "Z"));
	assert_null(sysd_unit_get(NULL, "X"));
	assert_null(sysd_unit_get(&s.units[0], NULL));
	sysd_show_done(&s);
	/* empty input and blank-only input: zero units */
	assert_int_equal(sysd_parse_show("", 0, &s), 0);
	sysd_show_done(&s);
	assert_int_equal(sysd_parse_show(NULL, 0, &s), 0);
	sysd_show_done(&s);
	assert_int_equal(parse_str("\n\r\n\n", &s), 0);
	assert_int_equal(s.skipped_lines, 0);
	sysd_show_done(&s);
	sysd_show_done(NULL);
}

static void test_errors(void **state)
{
	(void)state;
	struct sysd_show s;
	assert_int_equal(sysd_parse_show("A=1", 3, NULL), -EINVAL);
	assert_int_equal(sysd_parse_show(NULL, 3, &s), -EINVAL);
	assert_int_equal(s.n, 0);
	assert_int_equal(sysd_parse_show("A=1\nB=\0x\n", 9, &s), -EINVAL);
	assert_int_equal(s.n, 0);
	assert_null(s.units);
	sysd_show_done(&s);
}

/* Builds units blocks of props lines "K<p>=v<u>", each block ended by a blank line. */
static char *gen(size_t units, size_t props, size_t *len)
{
	size_t cap = units * (props * 16 + 2) + 1;
	char *b = malloc(cap);
	assert_non_null(b);
	size_t o = 0;
	for (size_t u = 0; u < units; u++) {
		for (size_t p = 0; p < props; p++)
			o += (size_t)snprintf(b + o, cap - o, "K%zu=v%zu\n", p, u);
		b[o++] = '\n';
	}
	*len = o;
	return b;
}

static void test_limit_units(void **state)
{
	(void)state;
	size_t len;
	struct sysd_show s;
	char *b = gen(SYSD_MAX_UNITS, 2, &len);
	assert_int_equal(sysd_parse_show(b, len, &s), SYSD_MAX_UNITS);
	assert_string_equal(sysd_unit_get(&s.units[SYSD_MAX_UNITS - 1], "K1"), "v255");
	sysd_show_done(&s);
	free(b);
	b = gen(SYSD_MAX_UNITS + 1, 2, &len);
	assert_int_equal(sysd_parse_show(b, len, &s), -E2BIG);
	assert_int_equal(s.n, 0);
	assert_null(s.units);
	sysd_show_done(&s);
	free(b);
}

static void test_limit_props(void **state)
{
	(void)state;
	size_t len;
	struct sysd_show s;
	char *b = gen(1, SYSD_MAX_PROPS, &len);
	assert_int_equal(sysd_parse_show(b, len, &s), 1);
	assert_int_equal(s.units[0].n, SYSD_MAX_PROPS);
	assert_string_equal(sysd_unit_get(&s.units[0], "K1023"), "v0");
	sysd_show_done(&s);
	free(b);
	b = gen(1, SYSD_MAX_PROPS + 1, &len);
	assert_int_equal(sysd_parse_show(b, len, &s), -E2BIG);
	assert_int_equal(s.n, 0);
	sysd_show_done(&s);
	free(b);
	/* the per-unit count restarts with each unit */
	b = gen(3, SYSD_MAX_PROPS, &len);
	assert_int_equal(sysd_parse_show(b, len, &s), 3);
	sysd_show_done(&s);
	free(b);
}

static void test_limit_input(void **state)
{
	(void)state;
	size_t len = SYSD_MAX_INPUT_BYTES;
	char *b = malloc(len + 1);
	assert_non_null(b);
	/* one 4 KiB-ish value per line keeps the property count small */
	memset(b, 'v', len + 1);
	for (size_t i = 0; i + 4000 < len; i += 4000) {
		memcpy(b + i, "Key=", 4);
		b[i + 3999] = '\n';
	}
	struct sysd_show s;
	assert_int_equal(sysd_parse_show(b, len, &s), 1);
	sysd_show_done(&s);
	assert_int_equal(sysd_parse_show(b, len + 1, &s), -E2BIG);
	assert_int_equal(s.n, 0);
	sysd_show_done(&s);
	free(b);
}

static void test_limit_value_and_key(void **state)
{
	(void)state;
	char line[2 * SYSD_MAX_VALUE_BYTES];
	struct sysd_show s;
	/* value at the limit: kept whole */
	memcpy(line, "V=", 2);
	memset(line + 2, 'a', SYSD_MAX_VALUE_BYTES);
	assert_int_equal(sysd_parse_show(line, 2 + SYSD_MAX_VALUE_BYTES, &s), 1);
	assert_int_equal(s.units[0].props[0].value_len, SYSD_MAX_VALUE_BYTES);
	assert_false(s.units[0].props[0].value_truncated);
	assert_int_equal(s.cut_values, 0);
	sysd_show_done(&s);
	/* one past: cut to the limit and flagged */
	memset(line + 2, 'a', SYSD_MAX_VALUE_BYTES + 1);
	memcpy(line + 3 + SYSD_MAX_VALUE_BYTES, "\nW=1\n", 5);
	assert_int_equal(sysd_parse_show(line, 8 + SYSD_MAX_VALUE_BYTES, &s), 1);
	assert_int_equal(s.units[0].props[0].value_len, SYSD_MAX_VALUE_BYTES);
	assert_int_equal(strlen(sysd_unit_get(&s.units[0], "V")), SYSD_MAX_VALUE_BYTES);
	assert_true(s.units[0].props[0].value_truncated);
	assert_int_equal(s.cut_values, 1);
	assert_string_equal(sysd_unit_get(&s.units[0], "W"), "1");
	sysd_show_done(&s);
	/* a cut never splits a UTF-8 character: "é" straddling the limit is dropped whole */
	memset(line + 2, 'a', SYSD_MAX_VALUE_BYTES - 1);
	memcpy(line + 1 + SYSD_MAX_VALUE_BYTES, "\xc3\xa9", 2);
	assert_int_equal(sysd_parse_show(line, 3 + SYSD_MAX_VALUE_BYTES, &s), 1);
	assert_int_equal(s.units[0].props[0].value_len, SYSD_MAX_VALUE_BYTES - 1);
	assert_true(s.units[0].props[0].value_truncated);
	sysd_show_done(&s);
	/* key at the limit kept, one past skipped */
	memset(line, 'k', SYSD_MAX_KEY_BYTES);
	memcpy(line + SYSD_MAX_KEY_BYTES, "=1\n", 3);
	assert_int_equal(sysd_parse_show(line, SYSD_MAX_KEY_BYTES + 3, &s), 1);
	assert_int_equal(strlen(s.units[0].props[0].key), SYSD_MAX_KEY_BYTES);
	sysd_show_done(&s);
	memset(line, 'k', SYSD_MAX_KEY_BYTES + 1);
	memcpy(line + SYSD_MAX_KEY_BYTES + 1, "=1\n", 3);
	assert_int_equal(sysd_parse_show(line, SYSD_MAX_KEY_BYTES + 4, &s), 0);
	assert_int_equal(s.skipped_lines, 1);
	sysd_show_done(&s);
}

static const char K3S_RUNNING[] = "MainPID=1234\n"
				  "ExecMainCode=0\n"
				  "ExecMainStatus=0\n"
				  "Id=k3s.service\n"
				  "LoadState=loaded\n"
				  "ActiveState=active\n"
				  "SubState=running\n"
				  "UnitFileState=enabled\n";

static void expect_json(const char *show, const char *want)
{
	struct sysd_show s;
	assert_int_equal(parse_str(show, &s), 1);
	json_t *j = sysd_status_json(&s.units[0]);
	assert_non_null(j);
	char *dump = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	if (strcmp(dump, want) != 0)
		print_error("got  %s\nwant %s\n", dump, want);
	assert_string_equal(dump, want);
	free(dump);
	json_decref(j);
	sysd_show_done(&s);
}

static void test_status_json(void **state)
{
	(void)state;
	expect_json(K3S_RUNNING,
		    "{\"active_state\":\"active\",\"exit_code\":\"0\",\"exit_status\":\"0\","
		    "\"load_state\":\"loaded\",\"main_pid\":\"1234\",\"sub_state\":\"running\","
		    "\"unit_file_state\":\"enabled\"}");
	/* absent properties are null; an empty one is "" */
	expect_json("Id=x.service\nLoadState=not-found\nMainPID=\n",
		    "{\"active_state\":null,\"exit_code\":null,\"exit_status\":null,"
		    "\"load_state\":\"not-found\",\"main_pid\":\"\",\"sub_state\":null,"
		    "\"unit_file_state\":null}");
	/* invalid UTF-8 becomes U+FFFD rather than failing */
	expect_json("SubState=a\xff"
		    "b\n",
		    "{\"active_state\":null,\"exit_code\":null,\"exit_status\":null,"
		    "\"load_state\":null,\"main_pid\":null,\"sub_state\":\"a\xef\xbf\xbd"
		    "b\",\"unit_file_state\":null}");
	json_t *j = sysd_status_json(NULL);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 7);
	assert_true(json_is_null(json_object_get(j, "load_state")));
	json_decref(j);
}

static bool healthy(const char *show, bool masked_ok)
{
	struct sysd_show s;
	assert_int_equal(parse_str(show, &s), 1);
	bool h = sysd_healthy(&s.units[0], masked_ok);
	sysd_show_done(&s);
	return h;
}

static void test_healthy(void **state)
{
	(void)state;
	assert_true(healthy(K3S_RUNNING, false));
	assert_true(healthy("LoadState=loaded\nActiveState=active\nSubState=listening\n", false));
	assert_true(healthy("LoadState=loaded\nActiveState=active\n", false));
	/* oneshot, RemainAfterExit: healthy only with ExecMainStatus exactly 0 */
	assert_true(healthy("LoadState=loaded\nActiveState=active\nSubState=exited\n"
			    "ExecMainCode=1\nExecMainStatus=0\n",
			    false));
	assert_false(healthy("LoadState=loaded\nActiveState=active\nSubState=exited\n"
			     "ExecMainCode=1\nExecMainStatus=1\n",
			     false));
	assert_false(healthy("LoadState=loaded\nActiveState=active\nSubState=exited\n", false));
	assert_false(healthy("LoadState=loaded\nActiveState=active\nSubState=exited\n"
			     "ExecMainStatus=00\n",
			     false));
	/* masked: healthy only when the caller allows it */
	static const char masked[] = "Id=nvidia-fabricmanager.service\nLoadState=masked\n"
				     "ActiveState=inactive\nSubState=dead\nUnitFileState=masked\n";
	assert_true(healthy(masked, true));
	assert_false(healthy(masked, false));
	assert_false(healthy("LoadState=loaded\nActiveState=failed\nSubState=failed\n"
			     "ExecMainStatus=1\n",
			     true));
	assert_false(healthy("LoadState=loaded\nActiveState=activating\nSubState=start\n", false));
	assert_false(healthy("LoadState=loaded\nActiveState=inactive\nSubState=dead\n", false));
	assert_false(healthy("LoadState=not-found\nActiveState=inactive\nSubState=dead\n", true));
	assert_false(healthy("ActiveState=active\nSubState=running\n", false));
	assert_false(healthy("LoadState=loaded\nSubState=running\n", false));
	/* values are compared exactly */
	assert_false(healthy("LoadState=Loaded\nActiveState=active\nSubState=running\n", false));
	assert_false(sysd_healthy(NULL, true));
}

/* The hand-written control-directory samples in tests/fixtures/fake_cmd/ say what their README
 * says they are. */
static void test_fixture_samples(void **state)
{
	(void)state;
	static const struct {
		const char *file, *id;
		bool healthy, healthy_masked_ok;
	} cases[] = {
		{ "systemctl.k3s.service.out", "k3s.service", true, true },
		{ "systemctl.storage-bind-mounts.service.out", "storage-bind-mounts.service", true,
		  true },
		{ "systemctl.nvidia-fabricmanager.service.out", "nvidia-fabricmanager.service",
		  false, true },
		{ "systemctl.admission-controller.service.out", "admission-controller.service",
		  false, false },
		{ "systemctl.out", "unknown.service", false, false },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/tests/fixtures/fake_cmd/%s", srcdir, cases[i].file);
		size_t len;
		char *buf = read_file(p, &len);
		struct sysd_show s;
		assert_int_equal(sysd_parse_show(buf, len, &s), 1);
		assert_int_equal(s.units[0].n, 8);
		assert_string_equal(sysd_unit_get(&s.units[0], "Id"), cases[i].id);
		assert_int_equal(sysd_healthy(&s.units[0], false), cases[i].healthy);
		assert_int_equal(sysd_healthy(&s.units[0], true), cases[i].healthy_masked_ok);
		sysd_show_done(&s);
		free(buf);
	}
}

/* ---- the replay fixture, driven the way the agent drives the real commands ---- */

static const char *fake_cmd;
static char tmpdir[64];

static void write_str(const char *dir, const char *name, const char *content)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

/* Copies the fake into the temp dir as name, next to a fake_cmd.dir naming the temp dir. */
static void install(const char *name, char *path_out)
{
	size_t len;
	char *bin = read_file(fake_cmd, &len);
	snprintf(path_out, PATH_MAX, "%s/%s", tmpdir, name);
	int fd = open(path_out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bin, len), (ssize_t)len);
	close(fd);
	free(bin);
	write_str(tmpdir, "fake_cmd.dir", tmpdir);
}

static int fake_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_sysd.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int fake_teardown(void **state)
{
	(void)state;
	DIR *d = opendir(tmpdir);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			char p[PATH_MAX];
			snprintf(p, sizeof(p), "%s/%s", tmpdir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(tmpdir);
	return 0;
}

static void run_fake(const char *path, char *const *argv, int timeout_ms, struct proc_result *r)
{
	struct proc_opts o = { .path = path, .argv = argv, .timeout_ms = timeout_ms };
	assert_int_equal(proc_run(&o, r), 0);
}

static void test_fake_systemctl(void **state)
{
	(void)state;
	if (!fake_cmd)
		skip();
	char path[PATH_MAX];
	install("systemctl", path);
	write_str(tmpdir, "systemctl.k3s.service.out", K3S_RUNNING);
	char *argv[] = { "systemctl",  "show",          "k3s.service",
			 "--no-pager", "--property=Id", "--property=LoadState",
			 NULL };
	struct proc_result r;
	/* the child gets the default minimal environment: the dir comes from fake_cmd.dir */
	run_fake(path, argv, 5000, &r);
	assert_int_equal(r.exit_code, 0);
	struct sysd_show s;
	assert_int_equal(sysd_parse_show(r.out, r.out_len, &s), 1);
	assert_true(sysd_healthy(&s.units[0], false));
	assert_string_equal(sysd_unit_get(&s.units[0], "MainPID"), "1234");
	sysd_show_done(&s);
	proc_result_done(&r);

	/* an unknown unit falls back to systemctl.out; a per-key mode applies to its key only */
	write_str(tmpdir, "systemctl.out", "Id=other.service\nLoadState=not-found\n");
	write_str(tmpdir, "systemctl.bad.service.mode",
		  "stderr Failed to get properties\nexit 4\n");
	char *argv2[] = { "systemctl", "show", "--no-pager", "other.service", NULL };
	run_fake(path, argv2, 5000, &r);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.out, "Id=other.service\nLoadState=not-found\n");
	assert_string_equal(r.err, "");
	proc_result_done(&r);
	char *argv3[] = { "systemctl", "show", "bad.service", NULL };
	run_fake(path, argv3, 5000, &r);
	assert_int_equal(r.exit_code, 4);
	assert_string_equal(r.err, "Failed to get properties\n");
	assert_string_equal(r.out, "Id=other.service\nLoadState=not-found\n");
	proc_result_done(&r);

	/* argv.log: one line per run, \x1f between arguments, in order */
	size_t len;
	char lp[PATH_MAX];
	snprintf(lp, sizeof(lp), "%s/argv.log", tmpdir);
	char *log = read_file(lp, &len);
	log[len] = '\0';
	assert_string_equal(log, "systemctl\x1fshow\x1fk3s.service\x1f--no-pager\x1f--property=Id"
				 "\x1f--property=LoadState\n"
				 "systemctl\x1fshow\x1f--no-pager\x1fother.service\n"
				 "systemctl\x1fshow\x1f"
				 "bad.service\n");
	free(log);
}

static void test_fake_nvidia_smi(void **state)
{
	(void)state;
	if (!fake_cmd)
		skip();
	char path[PATH_MAX];
	install("nvidia-smi", path);
	write_str(tmpdir, "nvidia-smi.default.out", "table\n");
	write_str(tmpdir, "nvidia-smi.q.out", "query\n");
	write_str(tmpdir, "nvidia-smi.qx.i0.out", "<xml/>\n");
	write_str(tmpdir, "nvidia-smi.out", "fallback\n");
	struct {
		char *argv[6];
		const char *want;
	} cases[] = {
		{ { "nvidia-smi", NULL }, "table\n" },
		{ { "nvidia-smi", "-q", NULL }, "query\n" },
		{ { "nvidia-smi", "-q", "-x", "-i", "0", NULL }, "<xml/>\n" },
		{ { "nvidia-smi", "-q", "-i", "3", NULL }, "fallback\n" },
		/* argv[0] as a full path works the same */
		{ { path, "-q", NULL }, "query\n" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct proc_result r;
		run_fake(path, cases[i].argv, 5000, &r);
		assert_int_equal(r.exit_code, 0);
		assert_string_equal(r.out, cases[i].want);
		proc_result_done(&r);
	}
	/* a mistyped mode file fails loudly */
	write_str(tmpdir, "nvidia-smi.mode", "exitt 3\n");
	struct proc_result r;
	char *argv[] = { "nvidia-smi", NULL };
	run_fake(path, argv, 5000, &r);
	assert_int_equal(r.exit_code, 125);
	assert_non_null(strstr(r.err, "unknown directive"));
	proc_result_done(&r);
	unlink(path);
}

static long read_pid(const char *name)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	size_t len;
	char *b = read_file(p, &len);
	b[len] = '\0';
	long v = strtol(b, NULL, 10);
	free(b);
	return v;
}

/* sleep mode: the timeout must take the fake's own child down too (process group kill). The test
 * is a child subreaper, so the orphaned child comes back to it and its fate can be read. */
static void test_fake_timeout_kills_group(void **state)
{
	(void)state;
	if (!fake_cmd)
		skip();
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	char path[PATH_MAX];
	install("systemctl", path);
	write_str(tmpdir, "systemctl.mode", "sleep 20\n");
	char *argv[] = { "systemctl", "show", "k3s.service", NULL };
	struct proc_result r;
	int64_t t0 = util_mono_ms();
	run_fake(path, argv, 300, &r);
	assert_true(r.timed_out);
	assert_true(util_mono_ms() - t0 < 5000);
	proc_result_done(&r);
	pid_t child = (pid_t)read_pid("systemctl.child.pid");
	assert_true(child > 1);
	int st = 0;
	pid_t w = -1;
	for (int i = 0; i < 300 && (w = waitpid(child, &st, WNOHANG)) == 0; i++)
		usleep(10000);
	assert_int_equal(w, child);
	assert_true(WIFSIGNALED(st));
	unlink(path);
	prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
}

int main(void)
{
	const char *src = getenv("SRCDIR");
	snprintf(srcdir, sizeof(srcdir), "%s", src && src[0] ? src : ".");
	const char *td = getenv("TESTDATA");
	if (td && td[0])
		snprintf(testdata, sizeof(testdata), "%s", td);
	else
		snprintf(testdata, sizeof(testdata), "%s/../shared/testdata", srcdir);
	fake_cmd = getenv("FAKE_CMD");
	if (fake_cmd && !fake_cmd[0])
		fake_cmd = NULL;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mariadb_single_unit),
		cmocka_unit_test(test_multi_targets),
		cmocka_unit_test(test_limited_props),
		cmocka_unit_test(test_edge_truncated_lines),
		cmocka_unit_test(test_every_file_every_prefix),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_separators_and_oddities),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limit_units),
		cmocka_unit_test(test_limit_props),
		cmocka_unit_test(test_limit_input),
		cmocka_unit_test(test_limit_value_and_key),
		cmocka_unit_test(test_status_json),
		cmocka_unit_test(test_healthy),
		cmocka_unit_test(test_fixture_samples),
		cmocka_unit_test_setup_teardown(test_fake_systemctl, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_fake_nvidia_smi, fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_fake_timeout_kills_group, fake_setup,
						fake_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
