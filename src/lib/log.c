/*
 * log.c - structured log lines for the programs' edges (see log.h).
 *
 * A line is built in a fixed LOG_LINE_MAX_BYTES stack buffer and leaves in one write(2) under a
 * mutex. Every piece goes through put(), which refuses a piece that would cross the limit and
 * remembers that it did. The line is built at most twice: the first pass has the whole buffer
 * (minus the closing "}\n" or "\n"); when it overflows, the second pass runs with room kept for
 * a tail ("...", the closing quote, a dummy JSON value and the log_truncated marker) so the
 * cut line is still well-formed. A line that fits exactly is therefore never cut.
 *
 * Escaping works on "units": one ASCII byte, one valid UTF-8 sequence, or one invalid byte.
 * Units are never split, so a cut never leaves half an escape or half a character behind.
 */
#include "log.h"

#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Room kept in the second pass for: `..."` (4) + `:""` (3) + `,"log_truncated":true` (21) +
 * `}\n` (2); the text tail is shorter. */
#define LOG_CUT_RESERVE_BYTES 40

static char log_program[LOG_PROGRAM_MAX_BYTES + 1] = "cloister";
static atomic_bool log_json;
static atomic_bool log_debug;
static atomic_int log_fd = 2;
static pthread_mutex_t log_write_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t log_setup_lock = PTHREAD_MUTEX_INITIALIZER;

void log_setup(const char *program, bool json, bool debug)
{
	if (program) {
		size_t n = strnlen(program, LOG_PROGRAM_MAX_BYTES);
		pthread_mutex_lock(&log_setup_lock);
		memcpy(log_program, program, n);
		log_program[n] = '\0';
		pthread_mutex_unlock(&log_setup_lock);
	}
	atomic_store(&log_json, json);
	atomic_store(&log_debug, debug);
}

void log_set_fd(int fd)
{
	atomic_store(&log_fd, fd);
}

/* Where a cut can happen, so the tail can close what is open. */
enum log_ctx { CTX_NONE, CTX_BARE, CTX_QUOTED, CTX_JSON_KEY };

struct log_writer {
	char buf[LOG_LINE_MAX_BYTES];
	size_t len;
	size_t limit; /* bytes put() may fill; the rest is for the tail */
	bool over;
	enum log_ctx ctx;
};

static bool put(struct log_writer *w, const char *s, size_t n)
{
	if (w->over)
		return false;
	if (n > w->limit - w->len) {
		w->over = true;
		return false;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	return true;
}

static bool puts_(struct log_writer *w, const char *s)
{
	return put(w, s, strlen(s));
}

/* Tail pieces go into the reserved room, past limit; the reserve is sized for them. */
static void put_tail(struct log_writer *w, const char *s)
{
	size_t n = strlen(s);
	if (n > sizeof(w->buf) - w->len)
		n = sizeof(w->buf) - w->len;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

/* Length of the valid UTF-8 sequence at p (1 for ASCII), or 0 when p[0] starts no valid one. */
static size_t utf8_unit(const unsigned char *p, size_t n)
{
	size_t len;
	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0)
		len = 2;
	else if ((p[0] & 0xf0) == 0xe0)
		len = 3;
	else if ((p[0] & 0xf8) == 0xf0)
		len = 4;
	else
		return 0;
	if (len > n || !util_utf8_valid((const char *)p, len))
		return 0;
	return len;
}

enum esc_mode { ESC_TEXT_BARE, ESC_TEXT_QUOTED, ESC_JSON };

/* Writes into out (>= 16 bytes) the escaped form of the unit at p and returns its length;
 * *adv gets the number of input bytes consumed. */
static size_t escape_unit(enum esc_mode mode, const unsigned char *p, size_t n, char *out,
			  size_t *adv)
{
	size_t u = utf8_unit(p, n);
	if (u == 0) {
		*adv = 1;
		/* JSON cannot carry raw bytes: write the same \xNN text the text format shows. */
		return (size_t)snprintf(out, 16, mode == ESC_JSON ? "\\\\x%02x" : "\\x%02x", p[0]);
	}
	*adv = u;
	if (u > 1) {
		bool c1 = u == 2 && p[0] == 0xc2 && p[1] < 0xa0; /* U+0080..U+009F: C1 controls */
		/* U+2028/U+2029: line breaks to JavaScript readers of the JSON. */
		bool lsep =
			u == 3 && p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9);
		if (mode == ESC_JSON && lsep)
			return (size_t)snprintf(out, 16, "\\u%04x", p[2] == 0xa8 ? 0x2028 : 0x2029);
		if (mode == ESC_JSON && c1)
			return (size_t)snprintf(out, 16, "\\u%04x", p[1]);
		if (c1)
			return (size_t)snprintf(out, 16, "\\x%02x\\x%02x", p[0], p[1]);
		memcpy(out, p, u);
		return u;
	}
	unsigned char c = p[0];
	switch (c) {
	case '\n':
		memcpy(out, "\\n", 2);
		return 2;
	case '\t':
		memcpy(out, "\\t", 2);
		return 2;
	case '\r':
		memcpy(out, "\\r", 2);
		return 2;
	case '\\':
		memcpy(out, "\\\\", 2);
		return 2;
	case '"':
		if (mode == ESC_TEXT_BARE)
			break;
		memcpy(out, "\\\"", 2);
		return 2;
	default:
		break;
	}
	if (c < 0x20 || c == 0x7f)
		return (size_t)snprintf(out, 16, mode == ESC_JSON ? "\\u%04x" : "\\x%02x", c);
	out[0] = (char)c;
	return 1;
}

static bool put_escaped(struct log_writer *w, enum esc_mode mode, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	while (n > 0) {
		char tmp[16];
		size_t adv;
		size_t k = escape_unit(mode, p, n, tmp, &adv);
		if (!put(w, tmp, k))
			return false;
		p += adv;
		n -= adv;
	}
	return true;
}

static bool text_needs_quotes(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	if (n == 0)
		return true;
	while (n > 0) {
		char tmp[16];
		size_t adv;
		size_t k = escape_unit(ESC_TEXT_QUOTED, p, n, tmp, &adv);
		if (k != adv || memcmp(tmp, p, k) != 0 || *p == ' ' || *p == '=')
			return true;
		p += adv;
		n -= adv;
	}
	return false;
}

static bool put_text_key(struct log_writer *w, const char *key)
{
	if (!*key)
		return put(w, "_", 1);
	for (const char *k = key; *k; k++) {
		char c = *k;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
		if (!put(w, ok ? k : "_", 1))
			return false;
	}
	return true;
}

static const char *const level_text[] = { "ERROR", "WARN", "INFO", "DEBUG" };
static const char *const level_json[] = { "error", "warn", "info", "debug" };

static void format_time(char *buf, size_t len)
{
	int64_t ns = util_now_ns();
	time_t sec = (time_t)(ns / 1000000000LL);
	struct tm tm;
	gmtime_r(&sec, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03dZ", (int)(ns % 1000000000LL / 1000000));
}

/* One pass over the line. Returns false when a piece did not fit (w->over, w->ctx tell where). */
static bool build_text(struct log_writer *w, const char *ts, unsigned lvl, const char *program,
		       const char *msg, va_list ap)
{
	w->ctx = CTX_NONE;
	if (!puts_(w, ts) || !puts_(w, " ") || !puts_(w, level_text[lvl]) || !puts_(w, " "))
		return false;
	w->ctx = CTX_BARE;
	if (!put_escaped(w, ESC_TEXT_BARE, program) || !puts_(w, ": ") ||
	    !put_escaped(w, ESC_TEXT_BARE, msg))
		return false;
	for (;;) {
		const char *key = va_arg(ap, const char *);
		if (!key)
			break;
		const char *val = va_arg(ap, const char *);
		w->ctx = CTX_NONE;
		if (!puts_(w, " "))
			return false;
		w->ctx = CTX_BARE;
		if (!put_text_key(w, key) || !puts_(w, "="))
			return false;
		if (!val) {
			if (!puts_(w, "(null)"))
				return false;
		} else if (text_needs_quotes(val)) {
			if (!puts_(w, "\""))
				return false;
			w->ctx = CTX_QUOTED;
			if (!put_escaped(w, ESC_TEXT_QUOTED, val) || !puts_(w, "\""))
				return false;
		} else if (!put_escaped(w, ESC_TEXT_BARE, val)) {
			return false;
		}
	}
	w->ctx = CTX_NONE;
	return true;
}

static bool build_json(struct log_writer *w, const char *ts, unsigned lvl, const char *program,
		       const char *msg, va_list ap)
{
	w->ctx = CTX_NONE;
	if (!puts_(w, "{\"time\":\"") || !puts_(w, ts) || !puts_(w, "\",\"level\":\"") ||
	    !puts_(w, level_json[lvl]) || !puts_(w, "\",\"program\":\""))
		return false;
	w->ctx = CTX_QUOTED;
	if (!put_escaped(w, ESC_JSON, program) || !puts_(w, "\",\"msg\":\"") ||
	    !put_escaped(w, ESC_JSON, msg) || !puts_(w, "\""))
		return false;
	for (;;) {
		const char *key = va_arg(ap, const char *);
		if (!key)
			break;
		const char *val = va_arg(ap, const char *);
		w->ctx = CTX_NONE;
		if (!puts_(w, ",\""))
			return false;
		w->ctx = CTX_JSON_KEY;
		if (!put_escaped(w, ESC_JSON, key))
			return false;
		if (!val) {
			if (!puts_(w, "\":null"))
				return false;
			continue;
		}
		if (!puts_(w, "\":\""))
			return false;
		w->ctx = CTX_QUOTED;
		if (!put_escaped(w, ESC_JSON, val) || !puts_(w, "\""))
			return false;
	}
	w->ctx = CTX_NONE;
	return true;
}

static void write_all(int fd, const char *buf, size_t len)
{
	pthread_mutex_lock(&log_write_lock);
	while (len > 0) {
		ssize_t r = write(fd, buf, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		buf += r;
		len -= (size_t)r;
	}
	pthread_mutex_unlock(&log_write_lock);
}

void log_kv(enum log_level lvl, const char *msg, ...)
{
	int saved_errno = errno;
	unsigned l = (unsigned)lvl;
	if (l > CLOG_DEBUG)
		l = CLOG_DEBUG;
	if (l == CLOG_DEBUG && !atomic_load(&log_debug))
		goto out;
	bool json = atomic_load(&log_json);
	if (!msg)
		msg = "";

	char program[LOG_PROGRAM_MAX_BYTES + 1];
	pthread_mutex_lock(&log_setup_lock);
	memcpy(program, log_program, sizeof(program));
	pthread_mutex_unlock(&log_setup_lock);

	char ts[UTIL_TIME_BUF];
	format_time(ts, sizeof(ts));

	const char *end = json ? "}\n" : "\n";
	struct log_writer w;
	for (int pass = 0; pass < 2; pass++) {
		w.len = 0;
		w.over = false;
		w.limit = sizeof(w.buf) - (pass == 0 ? strlen(end) : LOG_CUT_RESERVE_BYTES);
		va_list ap;
		va_start(ap, msg);
		bool ok = json ? build_json(&w, ts, l, program, msg, ap)
			       : build_text(&w, ts, l, program, msg, ap);
		va_end(ap);
		if (ok)
			break;
		if (pass == 0)
			continue;
		switch (w.ctx) {
		case CTX_BARE:
			put_tail(&w, "...");
			break;
		case CTX_QUOTED:
			put_tail(&w, "...\"");
			break;
		case CTX_JSON_KEY:
			put_tail(&w, "...\":\"\"");
			break;
		case CTX_NONE:
			break;
		}
		put_tail(&w, json ? ",\"log_truncated\":true" : " log_truncated=true");
	}
	put_tail(&w, end);
	write_all(atomic_load(&log_fd), w.buf, w.len);
out:
	errno = saved_errno;
}
