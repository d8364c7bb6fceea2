/*
 * test_log.c - log lines as a reader of the daemons' logs sees them: captured through a pipe
 * (log_set_fd), in text and JSON, with hostile values, debug filtering and the line cap.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Big enough for many lines; pipes hold 64 KiB by default. */
#define CAPTURE_BYTES (64 * 1024)

struct capture {
	int rfd, wfd;
	char buf[CAPTURE_BYTES + 1];
	size_t len;
};

static int setup(void **state)
{
	struct capture *c = calloc(1, sizeof(*c));
	int p[2];
	if (!c || pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0)
		return -1;
	c->rfd = p[0];
	c->wfd = p[1];
	log_set_fd(c->wfd);
	log_setup("cloister-agent", false, false);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct capture *c = *state;
	log_set_fd(2);
	log_setup("cloister", false, false);
	close(c->rfd);
	close(c->wfd);
	free(c);
	return 0;
}

/* Reads everything written so far; returns the captured text (NUL-terminated). */
static const char *drain(struct capture *c)
{
	c->len = 0;
	for (;;) {
		ssize_t r = read(c->rfd, c->buf + c->len, CAPTURE_BYTES - c->len);
		if (r <= 0)
			break;
		c->len += (size_t)r;
	}
	c->buf[c->len] = '\0';
	return c->buf;
}

static size_t count_char(const char *s, size_t n, char ch)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += s[i] == ch;
	return k;
}

/* "2026-11-26T00:00:01.123Z" */
static void assert_timestamp(const char *t)
{
	const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
	for (size_t i = 0; shape[i]; i++) {
		if (shape[i] == 'd')
			assert_true(t[i] >= '0' && t[i] <= '9');
		else
			assert_int_equal(t[i], shape[i]);
	}
}

#define TS_LEN 24

static void test_text_format(void **state)
{
	struct capture *c = *state;
	log_kv(CLOG_INFO, "listening", "addr", "127.0.0.1:3535", "tls", "on", NULL);
	const char *out = drain(c);
	assert_timestamp(out);
	assert_string_equal(out + TS_LEN,
			    " INFO cloister-agent: listening addr=127.0.0.1:3535 tls=on\n");

	log_kv(CLOG_ERROR, "bad", NULL);
	assert_string_equal(drain(c) + TS_LEN, " ERROR cloister-agent: bad\n");
	log_kv(CLOG_WARN, "slow", "ms", "12", NULL);
	assert_string_equal(drain(c) + TS_LEN, " WARN cloister-agent: slow ms=12\n");
}

static void test_text_quoting(void **state)
{
	struct capture *c = *state;
	log_kv(CLOG_INFO, "m", "a", "two words", "b", "x=y", "c", "say \"hi\"", "d", "", "e",
	       "back\\slash", "f", "tab\there", "g", "bell\x07", "h", "caf\xc3\xa9", NULL);
	assert_string_equal(drain(c) + TS_LEN,
			    " INFO cloister-agent: m a=\"two words\" b=\"x=y\" c=\"say \\\"hi\\\"\""
			    " d=\"\" e=\"back\\\\slash\" f=\"tab\\there\" g=\"bell\\x07\""
			    " h=café\n");
}

static void test_text_invalid_utf8(void **state)
{
	struct capture *c = *state;
	/* A lone continuation byte, an overlong '/', a surrogate and a truncated sequence. */
	log_kv(CLOG_INFO, "m", "v",
	       "a\x80"
	       "b\xc0\xaf"
	       "c\xed\xa0\x80"
	       "d\xe2\x82",
	       NULL);
	assert_string_equal(drain(c) + TS_LEN,
			    " INFO cloister-agent: m v=\"a\\x80b\\xc0\\xafc\\xed\\xa0\\x80d"
			    "\\xe2\\x82\"\n");
	/* C1 control (U+0085 NEL) is valid UTF-8 but a terminal control: escaped too. */
	log_kv(CLOG_INFO, "m", "v", "x\xc2\x85y", NULL);
	assert_string_equal(drain(c) + TS_LEN, " INFO cloister-agent: m v=\"x\\xc2\\x85y\"\n");
}

static void test_text_newline_injection(void **state)
{
	struct capture *c = *state;
	const char *evil = "x\n2026-01-01T00:00:00.000Z ERROR cloister-agent: forged\r\n";
	log_kv(CLOG_INFO, evil, "user", evil, "ke\ny", "v", NULL);
	const char *out = drain(c);
	assert_int_equal(count_char(out, c->len, '\n'), 1);
	assert_int_equal(count_char(out, c->len, '\r'), 0);
	assert_int_equal(out[c->len - 1], '\n');
	assert_non_null(strstr(out, " INFO cloister-agent: x\\n2026-01-01T00:00:00.000Z ERROR"));
	assert_non_null(strstr(out, " user=\"x\\n2026"));
	assert_non_null(strstr(out, " ke_y=v\n"));
}

static void test_text_null_value_and_key_sanitizing(void **state)
{
	struct capture *c = *state;
	log_kv(CLOG_INFO, "m", "k", (const char *)NULL, "a b=c", "1", "", "2", NULL);
	assert_string_equal(drain(c) + TS_LEN, " INFO cloister-agent: m k=(null) a_b_c=1 _=2\n");
}

static json_t *parse_one_json_line(struct capture *c)
{
	const char *out = drain(c);
	assert_true(c->len > 0);
	assert_int_equal(count_char(out, c->len, '\n'), 1);
	assert_int_equal(out[c->len - 1], '\n');
	json_error_t err;
	json_t *j = json_loadb(out, c->len, JSON_REJECT_DUPLICATES, &err);
	if (!j)
		fail_msg("invalid JSON (%s): %s", err.text, out);
	assert_true(json_is_object(j));
	return j;
}

static void test_json_format(void **state)
{
	struct capture *c = *state;
	log_setup("cloister-agent", true, false);
	log_kv(CLOG_INFO, "listening", "addr", "127.0.0.1:3535", "tls", "on", NULL);
	const char *out = drain(c);
	assert_memory_equal(out, "{\"time\":\"", 9);
	assert_timestamp(out + 9);
	assert_string_equal(out + 9 + TS_LEN,
			    "\",\"level\":\"info\",\"program\":\"cloister-agent\","
			    "\"msg\":\"listening\""
			    ",\"addr\":\"127.0.0.1:3535\",\"tls\":\"on\"}\n");

	log_kv(CLOG_WARN, "w", "k", (const char *)NULL, NULL);
	json_t *j = parse_one_json_line(c);
	assert_string_equal(json_string_value(json_object_get(j, "level")), "warn");
	assert_true(json_is_null(json_object_get(j, "k")));
	json_decref(j);
}

static void test_json_hostile_values(void **state)
{
	struct capture *c = *state;
	log_setup("cloister-agent", true, true);
	const char *evil = "q\"uote\\ \n\"},{\"level\":\"error\" \x01\x7f\t\r\xe2\x80\xa8";
	log_kv(CLOG_DEBUG, evil, evil, evil, "bytes",
	       "a\xff\xfe"
	       "b\xc3",
	       NULL);
	json_t *j = parse_one_json_line(c);
	assert_string_equal(json_string_value(json_object_get(j, "level")), "debug");
	/* Valid UTF-8 input round-trips exactly through a JSON parser. */
	assert_string_equal(json_string_value(json_object_get(j, "msg")), evil);
	assert_string_equal(json_string_value(json_object_get(j, evil)), evil);
	/* Invalid bytes become the text \xNN. */
	assert_string_equal(json_string_value(json_object_get(j, "bytes")), "a\\xff\\xfeb\\xc3");
	assert_int_equal(json_object_size(j), 6);
	json_decref(j);
}

static void test_debug_filtering(void **state)
{
	struct capture *c = *state;
	log_kv(CLOG_DEBUG, "hidden", "k", "v", NULL);
	drain(c);
	assert_int_equal(c->len, 0);
	log_setup("cloister-agent", false, true);
	log_kv(CLOG_DEBUG, "shown", NULL);
	assert_string_equal(drain(c) + TS_LEN, " DEBUG cloister-agent: shown\n");
	/* Out-of-range levels count as debug. */
	log_setup("cloister-agent", false, false);
	log_kv((enum log_level)42, "hidden", NULL);
	drain(c);
	assert_int_equal(c->len, 0);
}

static void test_errno_preserved(void **state)
{
	struct capture *c = *state;
	errno = ENOSPC;
	log_kv(CLOG_INFO, "m", NULL);
	assert_int_equal(errno, ENOSPC);
	drain(c);
}

static void test_program_name(void **state)
{
	struct capture *c = *state;
	char longname[200];
	memset(longname, 'p', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	log_setup(longname, false, false);
	log_kv(CLOG_INFO, "m", NULL);
	const char *out = drain(c);
	char want[128];
	snprintf(want, sizeof(want), " INFO %.*s: m\n", LOG_PROGRAM_MAX_BYTES, longname);
	assert_string_equal(out + TS_LEN, want);
	log_setup(NULL, false, false); /* NULL keeps the name */
	log_kv(CLOG_INFO, "m", NULL);
	assert_string_equal(drain(c) + TS_LEN, want);
}

/* " INFO cloister-agent: m k=" */
#define TEXT_PREFIX_LEN (TS_LEN + 26)

static void test_text_line_cap(void **state)
{
	struct capture *c = *state;
	static char val[3 * LOG_LINE_MAX_BYTES];
	/* At the limit: the line is exactly LOG_LINE_MAX_BYTES and uncut. */
	size_t fit = LOG_LINE_MAX_BYTES - TEXT_PREFIX_LEN - 1;
	memset(val, 'a', fit);
	val[fit] = '\0';
	log_kv(CLOG_INFO, "m", "k", val, NULL);
	drain(c);
	assert_int_equal(c->len, LOG_LINE_MAX_BYTES);
	assert_null(strstr(c->buf, "..."));
	assert_memory_equal(c->buf + TS_LEN, " INFO cloister-agent: m k=aaa", 29);

	/* One past: cut with "...", still one line, still within the cap. */
	val[fit] = 'a';
	val[fit + 1] = '\0';
	log_kv(CLOG_INFO, "m", "k", val, "after", "dropped", NULL);
	const char *out = drain(c);
	assert_true(c->len <= LOG_LINE_MAX_BYTES);
	assert_int_equal(count_char(out, c->len, '\n'), 1);
	assert_non_null(strstr(out, "a... log_truncated=true\n"));
	assert_null(strstr(out, "dropped"));

	/* A huge quoted value of escapes: the cut never splits an escape, quotes stay closed. */
	for (size_t i = 0; i < sizeof(val) - 1; i++)
		val[i] = (i % 2) ? '\n' : '\x80';
	val[sizeof(val) - 1] = '\0';
	log_kv(CLOG_INFO, "m", "k", val, NULL);
	out = drain(c);
	assert_true(c->len <= LOG_LINE_MAX_BYTES);
	assert_int_equal(count_char(out, c->len, '\n'), 1);
	const char *tail = strstr(out, "...\" log_truncated=true\n");
	assert_non_null(tail);
	assert_true(tail[-2] == '\\' && (tail[-1] == 'n' || (tail[-4] == '\\' && tail[-3] == 'x')));
}

static void test_json_line_cap(void **state)
{
	struct capture *c = *state;
	log_setup("cloister-agent", true, false);
	static char val[3 * LOG_LINE_MAX_BYTES];

	/* Find the exact fitting length from a short line, then hit it and pass it by one. */
	log_kv(CLOG_INFO, "m", "k", "", NULL);
	drain(c);
	size_t fit = LOG_LINE_MAX_BYTES - c->len;
	memset(val, 'b', fit);
	val[fit] = '\0';
	log_kv(CLOG_INFO, "m", "k", val, NULL);
	json_t *j = parse_one_json_line(c);
	assert_int_equal(c->len, LOG_LINE_MAX_BYTES);
	assert_int_equal(strlen(json_string_value(json_object_get(j, "k"))), fit);
	json_decref(j);

	val[fit] = 'b';
	val[fit + 1] = '\0';
	log_kv(CLOG_INFO, "m", "k", val, "later", "x", NULL);
	j = parse_one_json_line(c);
	assert_true(c->len <= LOG_LINE_MAX_BYTES);
	const char *k = json_string_value(json_object_get(j, "k"));
	assert_non_null(k);
	assert_string_equal(k + strlen(k) - 3, "...");
	assert_true(json_is_true(json_object_get(j, "log_truncated")));
	assert_null(json_object_get(j, "later"));
	json_decref(j);

	/* Cut inside escapes and inside a huge key: still valid JSON. */
	for (size_t i = 0; i < sizeof(val) - 1; i++)
		val[i] = (i % 3 == 0) ? '\x01' : (i % 3 == 1) ? '\xff' : '"';
	val[sizeof(val) - 1] = '\0';
	log_kv(CLOG_INFO, "m", "k", val, NULL);
	j = parse_one_json_line(c);
	assert_true(c->len <= LOG_LINE_MAX_BYTES);
	json_decref(j);
	log_kv(CLOG_INFO, "m", val, "v", NULL);
	j = parse_one_json_line(c);
	assert_true(c->len <= LOG_LINE_MAX_BYTES);
	assert_true(json_is_true(json_object_get(j, "log_truncated")));
	json_decref(j);
	log_kv(CLOG_INFO, val, "k", "v", NULL);
	j = parse_one_json_line(c);
	assert_true(c->len <= LOG_LINE_MAX_BYTES);
	assert_null(json_object_get(j, "k"));
	json_decref(j);
}

/* Many threads writing long lines into one pipe: every line read back is whole. */
#define THREADS 8
#define LINES_PER_THREAD 50

static void *writer_thread(void *arg)
{
	const char *val = arg;
	for (int i = 0; i < LINES_PER_THREAD; i++)
		log_kv(CLOG_INFO, "t", "v", val, NULL);
	return NULL;
}

static void test_threads_do_not_interleave(void **state)
{
	struct capture *c = *state;
	/* The write end blocks so that lines larger than PIPE_BUF (where the kernel no longer
	 * promises atomic writes) still go out whole; only the lock keeps them apart. */
	int flags = fcntl(c->wfd, F_GETFL);
	fcntl(c->wfd, F_SETFL, flags & ~O_NONBLOCK);
	static char vals[THREADS][6000];
	pthread_t th[THREADS];
	for (int t = 0; t < THREADS; t++) {
		memset(vals[t], 'A' + t, sizeof(vals[t]) - 1);
		vals[t][sizeof(vals[t]) - 1] = '\0';
		assert_int_equal(pthread_create(&th[t], NULL, writer_thread, vals[t]), 0);
	}
	size_t total = 0, want = (size_t)THREADS * LINES_PER_THREAD;
	static char line[LOG_LINE_MAX_BYTES + 1];
	size_t ll = 0;
	while (total < want) {
		char chunk[4096];
		ssize_t r = read(c->rfd, chunk, sizeof(chunk));
		if (r < 0 && errno == EAGAIN) {
			usleep(100);
			continue;
		}
		assert_true(r > 0);
		for (ssize_t k = 0; k < r; k++) {
			assert_true(ll < LOG_LINE_MAX_BYTES);
			line[ll++] = chunk[k];
			if (chunk[k] != '\n')
				continue;
			/* " INFO cloister-agent: t v=" then 5999 copies of one letter */
			const char *v = line + TS_LEN + 26;
			assert_int_equal(ll, TS_LEN + 26 + 5999 + 1);
			for (size_t i = 0; i < 5999; i++)
				assert_int_equal(v[i], v[0]);
			total++;
			ll = 0;
		}
	}
	assert_int_equal(ll, 0);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	fcntl(c->wfd, F_SETFL, flags);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_text_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_quoting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_invalid_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_newline_injection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_null_value_and_key_sanitizing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_json_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_hostile_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_debug_filtering, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errno_preserved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_program_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_line_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_line_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads_do_not_interleave, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
