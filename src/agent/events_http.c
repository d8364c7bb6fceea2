/*
 * events_http.c - the event log over HTTP, in flashbots system-api's formats, plus a cursor and
 * a follow mode.
 *
 *   GET|POST /api/v1/new_event?message=...   record one event (POST may send the message as the
 *                                            raw body instead); 200 with an empty body
 *   GET /logs                                text: "<RFC3339> \t <message>\n" per event
 *   GET /api/v1/events[?format=text]         JSON array of {"received_at","message"}
 *       &after=<seq>&limit=<n>               page through the log; objects then carry "seq"
 *       &follow=1                            keep the response open and stream new events
 *                                            (NDJSON objects with "seq", or text lines)
 *
 * A follow stream is a libmicrohttpd response of unknown length; it subscribes to the event log
 * and is woken on each append, and costs no CPU while nothing happens (server.h). While idle it
 * sends an empty line every AGENT_FOLLOW_HEARTBEAT_MS (NDJSON and text readers skip it): a client
 * that went away is only noticed when a write fails, and without it a quiet stream would hold
 * one of the AGENT_EVENTS_FOLLOWERS_MAX slots for ever.
 */
#include "agent/agent.h"
#include "agent/limits.h"
#include "agent/metrics.h"
#include "json.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int agent_event(struct agent *a, const char *fmt, ...)
{
	char raw[AGENT_EVENT_MAX_BYTES_CEILING + 1];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	size_t len = (size_t)n < sizeof(raw) ? (size_t)n : sizeof(raw) - 1;
	size_t max = (size_t)a->cfg->event_max_bytes;
	char clean[AGENT_EVENT_MAX_BYTES_CEILING * 3 + 4];
	size_t cl = events_sanitize(raw, len, clean, sizeof(clean), max);
	int rc = events_append(a->events, clean, cl, NULL);
	if (rc == 0) {
		metrics_event(a, "internal");
		rc = events_sync(a->events);
	}
	return rc;
}

/* Event lists are rendered straight into a util_buf, without building a JSON tree (jansson's
 * per-value checks made a 1,000-event list cost ~4 ms of CPU). */
static void rb_put(struct util_buf *b, const char *s, size_t n)
{
	util_buf_put(b, s, n);
}

/* A JSON string body, escaped as jansson does (", \\, \b \f \n \r \t, other controls as
 * \u00XX; '/' and non-ASCII kept). Messages are valid UTF-8 (validated or sanitised on input). */
static void rb_json_str(struct util_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		rb_put(b, s + run, i - run);
		run = i + 1;
		char esc[7] = { '\\', 0 };
		size_t el = 2;
		switch (c) {
		case '"':
			esc[1] = '"';
			break;
		case '\\':
			esc[1] = '\\';
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			el = 6;
		}
		rb_put(b, esc, el);
	}
	rb_put(b, s + run, n - run);
}

/* One event as a compact JSON object, byte for byte what jansson printed before. */
static void rb_event_json(struct util_buf *b, const struct event *e, bool with_seq)
{
	char ts[UTIL_TIME_BUF], head[64];
	util_rfc3339_nano(ts, e->received_ns);
	if (with_seq) {
		int n = snprintf(head, sizeof(head), "{\"seq\":%llu,", (unsigned long long)e->seq);
		rb_put(b, head, (size_t)n);
	} else {
		rb_put(b, "{", 1);
	}
	rb_put(b, "\"received_at\":\"", 15);
	rb_put(b, ts, strlen(ts));
	rb_put(b, "\",\"message\":\"", 13);
	rb_json_str(b, e->message, e->len);
	rb_put(b, "\"}", 2);
}

/* Appends the text form of one event to buf (cap bytes). Returns bytes written or 0 if it does
 * not fit. */
static size_t event_text(char *buf, size_t cap, const struct event *e)
{
	char ts[UTIL_TIME_BUF];
	util_rfc3339(ts, e->received_ns);
	size_t tl = strlen(ts), need = tl + 3 + e->len + 1;
	if (need > cap)
		return 0;
	memcpy(buf, ts, tl);
	memcpy(buf + tl, " \t ", 3);
	memcpy(buf + tl + 3, e->message, e->len);
	buf[need - 1] = '\n';
	return need;
}

void events_http_new(struct http_req *req)
{
	struct agent *a = http_req_app(req);
	if (http_req_method_bit(req) != HTTP_POST && !a->cfg->new_event_allow_get) {
		http_reply_header(req, "Allow", "POST");
		http_reply_error(req, 405,
				 "Events must be sent with POST (new_event_allow_get = false)");
		return;
	}
	size_t len = 0;
	const char *msg = http_req_query_n(req, "message", &len);
	if (msg) {
		if (memchr(msg, '\0', len)) {
			http_reply_error(req, 400,
					 "message must be UTF-8 text without control characters");
			return;
		}
	} else if (http_req_method_bit(req) == HTTP_POST) {
		msg = http_req_body(req, &len);
		/* A body sent by `curl -d` or `echo | curl --data-binary @-` ends with one newline. */
		if (len > 0 && msg[len - 1] == '\n')
			len--;
		if (len > 0 && msg[len - 1] == '\r')
			len--;
	} else {
		msg = "";
		len = 0;
	}
	int rc = events_validate(msg, len, (size_t)a->cfg->event_max_bytes);
	if (rc == -E2BIG) {
		char m[96];
		snprintf(m, sizeof(m), "message longer than %lld bytes", a->cfg->event_max_bytes);
		http_reply_error(req, 413, m);
		return;
	}
	if (rc < 0) {
		http_reply_error(req, 400, "message must be UTF-8 text without control characters");
		return;
	}
	rc = events_append(a->events, msg, len, NULL);
	if (rc == 0) {
		metrics_event(a, "http");
		rc = events_sync(a->events);
	}
	if (rc < 0) {
		http_reply_error(req, 500, "cannot record the event");
		return;
	}
	/* system-api answers 200 with an empty body and no Content-Type. */
	http_reply(req, 200, NULL, "", 0);
}

/* ---------------------------------------------------------------- follow streams */

struct follower {
	struct agent *a;
	struct http_stream *st;
	int sub;
	uint64_t after;
	bool text;
	char *pending; /* formatted bytes not yet sent */
	size_t plen, poff;
	int64_t last_sent_ms; /* monotonic: the last bytes handed to the server */
};

static void follower_wake(void *ud)
{
	struct follower *f = ud;
	if (f->st)
		http_stream_wake(f->st);
}

static ssize_t follower_read(void *ud, char *buf, size_t cap)
{
	struct follower *f = ud;
	size_t out = 0;
	for (;;) {
		if (f->poff < f->plen) {
			size_t n = f->plen - f->poff;
			if (n > cap - out)
				n = cap - out;
			memcpy(buf + out, f->pending + f->poff, n);
			f->poff += n;
			out += n;
			if (out == cap)
				return (ssize_t)out;
			continue;
		}
		free(f->pending);
		f->pending = NULL;
		f->plen = f->poff = 0;
		struct event *list = NULL;
		ssize_t n = events_list(f->a->events, f->after, 1, &list);
		if (n <= 0) {
			int64_t now = util_mono_ms();
			if (out > 0) {
				f->last_sent_ms = now;
			} else if (now - f->last_sent_ms >= AGENT_FOLLOW_HEARTBEAT_MS) {
				/* woken by the server's ticker: the heartbeat */
				buf[0] = '\n';
				f->last_sent_ms = now;
				return 1;
			}
			return (ssize_t)out;
		}
		const struct event *e = &list[0];
		f->after = e->seq;
		if (f->text) {
			size_t need = UTIL_TIME_BUF + 4 + e->len;
			f->pending = malloc(need);
			f->plen = f->pending ? event_text(f->pending, need, e) : 0;
		} else {
			struct util_buf rb = { 0 };
			rb_event_json(&rb, e, true);
			rb_put(&rb, "\n", 1);
			if (rb.oom) {
				free(rb.p);
			} else {
				f->pending = rb.p;
				f->plen = rb.len;
			}
		}
		events_list_free(list, (size_t)n);
		if (!f->pending)
			return out ? (ssize_t)out : -1;
	}
}

static void follower_done(void *ud)
{
	struct follower *f = ud;
	if (f->sub > 0)
		events_unsubscribe(f->a->events, f->sub);
	pthread_mutex_lock(&f->a->lock);
	f->a->followers--;
	pthread_mutex_unlock(&f->a->lock);
	free(f->pending);
	free(f);
}

static void start_follow(struct http_req *req, uint64_t after, bool text)
{
	struct agent *a = http_req_app(req);
	pthread_mutex_lock(&a->lock);
	bool ok = a->followers < AGENT_EVENTS_FOLLOWERS_MAX;
	if (ok)
		a->followers++;
	pthread_mutex_unlock(&a->lock);
	if (!ok) {
		http_reply_header(req, "Retry-After", "5");
		http_reply_error(req, 429, "Too many follow streams");
		return;
	}
	struct follower *f = calloc(1, sizeof(*f));
	if (!f) {
		pthread_mutex_lock(&a->lock);
		a->followers--;
		pthread_mutex_unlock(&a->lock);
		http_reply_error(req, 500, "out of memory");
		return;
	}
	f->a = a;
	f->after = after;
	f->text = text;
	f->last_sent_ms = util_mono_ms();
	/* Subscribe before the stream exists: a wake with f->st still NULL is harmless, and no
	 * event appended from here on can be missed because reading starts from f->after. */
	f->sub = events_subscribe(a->events, follower_wake, f);
	if (f->sub < 0) {
		follower_done(f);
		http_reply_error(req, 429, "Too many follow streams");
		return;
	}
	f->st = http_reply_stream(req, 200,
				  text ? "text/plain; charset=utf-8" : "application/x-ndjson",
				  follower_read, follower_done, f);
	/* On failure http_reply_stream has called follower_done and replied. */
}

/* ---------------------------------------------------------------- listing */

static int parse_cursor(struct http_req *req, uint64_t *after, size_t *limit, bool *paged)
{
	const char *as = http_req_query(req, "after");
	const char *ls = http_req_query(req, "limit");
	*after = 0;
	*limit = SIZE_MAX;
	*paged = as || ls;
	uint64_t v;
	if (as) {
		if (util_parse_u64(as, UINT64_MAX, &v) < 0) {
			http_reply_error(req, 400, "after must be a non-negative integer");
			return -1;
		}
		*after = v;
	}
	if (ls) {
		if (util_parse_u64(ls, UINT64_MAX, &v) < 0 || v == 0) {
			http_reply_error(req, 400, "limit must be a positive integer");
			return -1;
		}
		if (v > AGENT_EVENTS_PAGE_MAX) {
			char m[64];
			snprintf(m, sizeof(m), "limit must be at most %d", AGENT_EVENTS_PAGE_MAX);
			http_reply_error(req, 422, m);
			return -1;
		}
		*limit = (size_t)v;
	}
	return 0;
}

/* Renders list as /logs text or as the JSON array (with "seq" when with_seq). NULL on ENOMEM. */
static char *render_list(const struct event *list, size_t n, bool text, bool with_seq, size_t *len)
{
	struct util_buf rb = { 0 };
	if (text) {
		for (size_t i = 0; i < n; i++) {
			char line[UTIL_TIME_BUF + 4];
			util_rfc3339(line, list[i].received_ns);
			size_t tl = strlen(line);
			memcpy(line + tl, " \t ", 3);
			rb_put(&rb, line, tl + 3);
			rb_put(&rb, list[i].message, list[i].len);
			rb_put(&rb, "\n", 1);
		}
		rb_put(&rb, "", 0);
	} else {
		rb_put(&rb, "[", 1);
		for (size_t i = 0; i < n; i++) {
			if (i)
				rb_put(&rb, ",", 1);
			rb_event_json(&rb, &list[i], with_seq);
		}
		rb_put(&rb, "]\n", 2);
	}
	if (rb.oom) {
		free(rb.p);
		return NULL;
	}
	*len = rb.len;
	return rb.p;
}

static void reply_rendered(struct http_req *req, bool text, const char *buf, size_t len)
{
	/* system-api: /logs is text/plain without a charset. */
	http_reply(req, 200, text ? "text/plain" : "application/json", buf, len);
}

/* The whole log, rendered once per change of the log. */
static void reply_full(struct http_req *req, bool text)
{
	struct agent *a = http_req_app(req);
	int k = text ? 1 : 0;
	uint64_t first = events_first_seq(a->events), last = events_last_seq(a->events);
	pthread_mutex_lock(&a->render_lock);
	if (a->render[k].valid && a->render[k].first == first && a->render[k].last == last) {
		reply_rendered(req, text, a->render[k].buf, a->render[k].len);
		pthread_mutex_unlock(&a->render_lock);
		return;
	}
	pthread_mutex_unlock(&a->render_lock);
	struct event *list = NULL;
	ssize_t n = events_list(a->events, 0, SIZE_MAX, &list);
	size_t len = 0;
	char *buf = n < 0 ? NULL : render_list(list, (size_t)n, text, false, &len);
	if (n >= 0)
		events_list_free(list, (size_t)n);
	if (!buf) {
		http_reply_error(req, 500, "out of memory");
		return;
	}
	reply_rendered(req, text, buf, len);
	/* Keep it only if the log did not change while we listed it. */
	pthread_mutex_lock(&a->render_lock);
	if (events_first_seq(a->events) == first && events_last_seq(a->events) == last) {
		free(a->render[k].buf);
		a->render[k].buf = buf;
		a->render[k].len = len;
		a->render[k].first = first;
		a->render[k].last = last;
		a->render[k].valid = true;
		buf = NULL;
	}
	pthread_mutex_unlock(&a->render_lock);
	free(buf);
}

static void list_events(struct http_req *req, bool text, bool allow_json_cursor)
{
	struct agent *a = http_req_app(req);
	uint64_t after;
	size_t limit;
	bool paged;
	if (parse_cursor(req, &after, &limit, &paged) < 0)
		return;
	const char *follow = http_req_query(req, "follow");
	if (follow && (strcmp(follow, "1") == 0 || strcmp(follow, "true") == 0)) {
		start_follow(req, after, text);
		return;
	}
	if (follow && strcmp(follow, "0") != 0 && strcmp(follow, "false") != 0) {
		http_reply_error(req, 400, "follow must be 1, true, 0 or false");
		return;
	}
	if (!paged) {
		reply_full(req, text);
		return;
	}
	struct event *list = NULL;
	ssize_t n = events_list(a->events, after, limit, &list);
	if (n < 0) {
		http_reply_error(req, 500, "out of memory");
		return;
	}
	char hdr[24];
	snprintf(hdr, sizeof(hdr), "%llu", (unsigned long long)events_last_seq(a->events));
	http_reply_header(req, "X-Last-Seq", hdr);
	size_t len = 0;
	char *buf = render_list(list, (size_t)n, text, allow_json_cursor, &len);
	events_list_free(list, (size_t)n);
	if (!buf) {
		http_reply_error(req, 500, "out of memory");
		return;
	}
	reply_rendered(req, text, buf, len);
	free(buf);
}

void events_http_list(struct http_req *req)
{
	const char *fmt = http_req_query(req, "format");
	list_events(req, fmt && strcmp(fmt, "text") == 0, true);
}

void events_http_logs(struct http_req *req)
{
	list_events(req, true, false);
}
