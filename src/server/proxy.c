/*
 * proxy.c - forwards /backends/{id}/... calls to the backend's agent over mutual TLS (proxy.h).
 *
 * Every handler follows the backends routes' order: the principal, then the backend (404 for an
 * unknown id or another user's backend, the latter audited as authz.denied), then the path names
 * and query values (422 / 400), then the agent. The agent is reached with an easy handle that
 * fleet_curl_prepare points at it (URL, client certificate, the agent's identity: CA and CRL or
 * the pinned key); it refuses backends that must not get commands (409 here).
 *
 * Easy handles are made per call but share one libcurl connection cache and TLS session cache
 * (a CURLSH locked by a mutex per data kind), so consecutive calls to one agent reuse its
 * connection instead of paying a new mutual-TLS handshake. Replies are collected up to
 * PROXY_REPLY_MAX_BYTES and passed through with the agent's status and Content-Type (and its
 * X-Last-Seq / Retry-After headers, which clients of the events and busy replies use).
 *
 * Follow streams: the route is blocking, so its handler runs on a worker. It starts a thread
 * that runs the transfer, waits for the agent's reply headers, and then either answers with a
 * streaming reply (a 2xx) that drains the thread's ring buffer, or collects the agent's short
 * error reply and passes it on. The ring is the only shared state (one mutex, one condition):
 * the write callback waits while it is full, the stream's read callback empties it and signals,
 * and the stream's done callback (client gone or stream over) marks it gone, which the write
 * and progress callbacks turn into an aborted transfer within a second. The struct lives until
 * both the thread and the stream have let go of it (a count of two references).
 *
 * Uploads: body_begin authorizes and opens a temp file in <state_dir>/spool that is unlinked at
 * once (no failure, crash included, can leave it behind); body_chunk appends to it within
 * PROXY_UPLOAD_MAX_BYTES; the handler sends it with a read callback and an exact length.
 */
#include "server/proxy.h"

#include "json.h"
#include "server/fleet.h"
#include "server/settings.h"
#include "server/validate.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CTYPE_MAX_BYTES 128
#define HDR_VALUE_MAX_BYTES 32
#define RESOURCE_BYTES (STORE_RESOURCE_MAX + 1)
#define PATH_BYTES 1024 /* agent path + query: names and values are bounded far below */
#define THREAD_STACK_BYTES (256u * 1024)

/* ---------------------------------------------------------------- shared connection cache */

static pthread_once_t share_once = PTHREAD_ONCE_INIT;
static CURLSH *share;
static pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
	(void)h;
	(void)access;
	(void)ud;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&share_mu[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
	(void)h;
	(void)ud;
	if ((unsigned)data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&share_mu[data]);
}

static void share_init(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(share_mu); i++)
		pthread_mutex_init(&share_mu[i], NULL);
	CURLSH *s = curl_share_init();
	if (!s)
		return; /* every call then makes its own connection: slower, still correct */
	if (curl_share_setopt(s, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
	    curl_share_setopt(s, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
	    curl_share_setopt(s, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
	    curl_share_setopt(s, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
	    curl_share_setopt(s, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK) {
		curl_share_cleanup(s);
		return;
	}
	share = s;
}

/* ---------------------------------------------------------------- follow-stream count */

static pthread_mutex_t follow_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t follow_cond = PTHREAD_COND_INITIALIZER;
static unsigned follow_count;

static bool follow_admit(void)
{
	pthread_mutex_lock(&follow_mu);
	bool ok = follow_count < PROXY_FOLLOW_MAX;
	if (ok)
		follow_count++;
	pthread_mutex_unlock(&follow_mu);
	return ok;
}

static void follow_leave(void)
{
	pthread_mutex_lock(&follow_mu);
	follow_count--;
	pthread_cond_broadcast(&follow_cond);
	pthread_mutex_unlock(&follow_mu);
}

void proxy_stop(void)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += PROXY_STOP_WAIT_MS / 1000;
	pthread_mutex_lock(&follow_mu);
	while (follow_count > 0)
		if (pthread_cond_timedwait(&follow_cond, &follow_mu, &until) == ETIMEDOUT)
			break;
	bool idle = follow_count == 0;
	pthread_mutex_unlock(&follow_mu);
	/* A transfer still running uses the share: leave it to the process exit then. */
	if (idle && share) {
		curl_share_cleanup(share);
		share = NULL;
	}
}

/* ---------------------------------------------------------------- validation */

bool proxy_name_valid(const char *s)
{
	if (!s)
		return false;
	size_t n = strlen(s);
	if (n == 0 || n > PROXY_NAME_MAX_BYTES || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		if (!ok)
			return false;
	}
	return true;
}

/* ---------------------------------------------------------------- one call's context */

struct call {
	struct http_req *req;
	struct server *srv;
	const char *action; /* "proxy.events", ... */
	char resource[RESOURCE_BYTES];
	struct store_backend b;
};

static const char *result_for(unsigned status)
{
	if (status < 400)
		return "ok";
	switch (status) {
	case 400:
	case 413:
	case 415:
	case 422:
		return "invalid";
	case 404:
		return "not_found";
	case 409:
		return "conflict";
	default:
		return "failed";
	}
}

/* Replies with our own error and audits it. */
__attribute__((format(printf, 3, 4))) static void refuse(struct call *c, unsigned status,
							 const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	audit_record(c->req, c->action, c->resource, result_for(status), status);
	server_error(c->req, status, "%s", msg);
}

/*
 * Authorizes the call: false after replying. The resource is the request path (client text,
 * so a lossy, bounded copy). Order and answers as api_backends.c's load_backend.
 */
static bool call_open(struct call *c, struct http_req *req, const char *action)
{
	memset(c, 0, sizeof(*c));
	c->req = req;
	c->srv = http_req_app(req);
	c->action = action;
	const char *path = http_req_path(req);
	json_utf8_lossy(path ? path : "", path ? strlen(path) : 0, c->resource,
			sizeof(c->resource));
	const struct principal *p = auth_principal(req);
	if (!p) { /* the gate lets no one through without one; never trust that blindly */
		server_error(req, 401, "missing bearer token");
		return false;
	}
	char id[STORE_ID_BUF];
	if (!validate_uuid(http_req_param(req, "id"), id)) {
		refuse(c, 404, "backend not found");
		return false;
	}
	int rc = store_backend_get(c->srv->store, id, &c->b);
	if (rc == -ENOENT) {
		refuse(c, 404, "backend not found");
		return false;
	}
	if (rc < 0) {
		audit_record(req, action, c->resource, "failed", rc == -EBUSY ? 503 : 500);
		server_store_error(req, rc, "backend");
		return false;
	}
	if (p->role != ROLE_ADMIN && strcmp(c->b.owner, p->user_id) != 0) {
		audit_record(req, "authz.denied", c->resource, "denied", 404);
		server_error(req, 404, "backend not found");
		return false;
	}
	return true;
}

/* A path name parameter ([A-Za-z0-9._-]{1,128}); false after replying 400. */
static bool name_param(struct call *c, const char *key, const char **out)
{
	*out = http_req_param(c->req, key);
	if (!proxy_name_valid(*out)) {
		refuse(c, 400, "%s: 1 to %d of A-Z a-z 0-9 . _ -", key, PROXY_NAME_MAX_BYTES);
		return false;
	}
	return true;
}

/* A bounded query value without NUL; false after replying 422. *v is NULL when absent. */
static bool query_value(struct call *c, const char *key, const char **v)
{
	size_t len = 0;
	*v = http_req_query_n(c->req, key, &len);
	if (!*v)
		return true;
	if (len > SERVER_QUERY_VALUE_MAX_BYTES || strlen(*v) != len) {
		refuse(c, 422, "%s: at most %d bytes, no NUL", key, SERVER_QUERY_VALUE_MAX_BYTES);
		return false;
	}
	return true;
}

/* An optional unsigned query value; false after replying 422. */
static bool query_u64(struct call *c, const char *key, uint64_t min, bool *has, uint64_t *out)
{
	const char *v;
	*has = false;
	if (!query_value(c, key, &v))
		return false;
	if (!v)
		return true;
	if (util_parse_u64(v, UINT64_MAX, out) < 0 || *out < min) {
		refuse(c, 422, "%s: must be an integer of at least %llu", key,
		       (unsigned long long)min);
		return false;
	}
	*has = true;
	return true;
}

/* An optional signed query value (the agent judges its range); false after replying 422. */
static bool query_i64(struct call *c, const char *key, bool *has, long long *out)
{
	const char *v;
	*has = false;
	if (!query_value(c, key, &v))
		return false;
	if (!v)
		return true;
	bool neg = v[0] == '-';
	uint64_t u;
	if (util_parse_u64(v + neg, 1000000000000ull, &u) < 0) {
		refuse(c, 422, "%s: must be an integer", key);
		return false;
	}
	*out = neg ? -(long long)u : (long long)u;
	*has = true;
	return true;
}

/* Appends "?k=v" or "&k=v" (v already safe: digits, hex or a fixed word). */
static void path_add(char *path, size_t cap, const char *key, const char *value)
{
	size_t n = strlen(path);
	snprintf(path + n, cap - n, "%c%s=%s", strchr(path, '?') ? '&' : '?', key, value);
}

/* ---------------------------------------------------------------- plain calls */

struct xfer {
	struct util_buf body;
	bool too_big;
	char last_seq[HDR_VALUE_MAX_BYTES + 1];
	char retry_after[HDR_VALUE_MAX_BYTES + 1];
	int fd; /* upload source, -1 when none */
	uint64_t size, sent;
	int read_err;
	char err[CURL_ERROR_SIZE];
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = sz * n;
	if (len > PROXY_REPLY_MAX_BYTES - x->body.len) {
		x->too_big = true;
		return CURL_WRITEFUNC_ERROR;
	}
	util_buf_put(&x->body, p, len);
	return x->body.oom ? CURL_WRITEFUNC_ERROR : len;
}

/* Keeps a header value when it is short and plain (digits): those two are all we pass on. */
static void keep_digits(char *dst, const char *v, size_t len)
{
	while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
		len--;
	while (len > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	if (len == 0 || len > HDR_VALUE_MAX_BYTES)
		return;
	for (size_t i = 0; i < len; i++)
		if (v[i] < '0' || v[i] > '9')
			return;
	memcpy(dst, v, len);
	dst[len] = '\0';
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = sz * n;
	static const char seq[] = "x-last-seq:", retry[] = "retry-after:";
	if (len > sizeof(seq) - 1 && strncasecmp(p, seq, sizeof(seq) - 1) == 0)
		keep_digits(x->last_seq, p + sizeof(seq) - 1, len - (sizeof(seq) - 1));
	else if (len > sizeof(retry) - 1 && strncasecmp(p, retry, sizeof(retry) - 1) == 0)
		keep_digits(x->retry_after, p + sizeof(retry) - 1, len - (sizeof(retry) - 1));
	return len;
}

static size_t on_read(char *buf, size_t sz, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t want = sz * n;
	if (want > x->size - x->sent)
		want = (size_t)(x->size - x->sent);
	if (want == 0)
		return 0;
	ssize_t r;
	do
		r = read(x->fd, buf, want);
	while (r < 0 && errno == EINTR);
	if (r <= 0) {
		x->read_err = r < 0 ? errno : EIO;
		return CURL_READFUNC_ABORT;
	}
	x->sent += (uint64_t)r;
	return (size_t)r;
}

/* The agent's Content-Type when it is plain header text, else a neutral one. */
static void copy_ctype(char *dst, size_t cap, const char *ct)
{
	snprintf(dst, cap, "application/octet-stream");
	if (!ct || strlen(ct) >= cap || strlen(ct) > CTYPE_MAX_BYTES)
		return;
	for (const char *q = ct; *q; q++)
		if (*q < 0x20 || *q > 0x7e)
			return;
	snprintf(dst, cap, "%s", ct);
}

/* Options every transfer shares; 0 or -ENOMEM. */
static int common_opts(CURL *h, char *errbuf)
{
	pthread_once(&share_once, share_init);
	CURLcode e = CURLE_OK;
	if (share)
		e |= curl_easy_setopt(h, CURLOPT_SHARE, share);
	e |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	e |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	e |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)PROXY_CONNECT_TIMEOUT_S);
	e |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	e |= curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	return e == CURLE_OK ? 0 : -ENOMEM;
}

/* fleet_curl_prepare with our reply on refusal; false after replying. */
static bool prepare(struct call *c, CURL *h, const char *path, char *errbuf)
{
	char why[256] = "";
	int rc = fleet_curl_prepare(c->srv, h, &c->b, path, why, sizeof(why));
	if (rc == -EPERM) {
		refuse(c, 409, "%s", why[0] ? why : "commands to this backend are refused");
		return false;
	}
	if (rc < 0 || common_opts(h, errbuf) < 0) {
		refuse(c, 500, "cannot prepare the call to the agent");
		return false;
	}
	return true;
}

/* Our answer to a failed transfer: 504 for a timeout, else 502. */
static void transfer_failed(struct call *c, CURLcode rc, const char *errbuf)
{
	const char *e = errbuf && errbuf[0] ? errbuf : curl_easy_strerror(rc);
	char clean[CURL_ERROR_SIZE];
	json_utf8_lossy(e, strlen(e), clean, sizeof(clean));
	if (rc == CURLE_OPERATION_TIMEDOUT)
		refuse(c, 504, "agent timed out: %s", clean);
	else
		refuse(c, 502, "agent unreachable: %s", clean);
}

/*
 * Performs one call on the agent (GET, or POST with an empty body or x->fd's bytes) and passes
 * its reply on; audits the result.
 */
static void forward(struct call *c, const char *path, bool post, struct xfer *x)
{
	CURL *h = curl_easy_init();
	if (!h) {
		refuse(c, 500, "out of memory");
		return;
	}
	struct curl_slist *hdrs = NULL;
	if (!prepare(c, h, path, x->err))
		goto out;
	CURLcode e = CURLE_OK;
	e |= curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)PROXY_TRANSFER_TIMEOUT_S);
	e |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	e |= curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	e |= curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	e |= curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	if (post) {
		/* The upload goes out as raw bytes; no 100-continue round trip. */
		hdrs = curl_slist_append(NULL, "Expect:");
		struct curl_slist *h2 =
			hdrs ? curl_slist_append(hdrs, "Content-Type: application/octet-stream")
			     : NULL;
		if (!h2) {
			refuse(c, 500, "out of memory");
			goto out;
		}
		hdrs = h2;
		e |= curl_easy_setopt(h, CURLOPT_POST, 1L);
		e |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		if (x->fd >= 0) {
			e |= curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
			e |= curl_easy_setopt(h, CURLOPT_READDATA, x);
			e |= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->size);
		} else {
			e |= curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
			e |= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
		}
	} else {
		e |= curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	if (e != CURLE_OK) {
		refuse(c, 500, "cannot prepare the call to the agent");
		goto out;
	}
	CURLcode rc = curl_easy_perform(h);
	if (x->too_big) {
		refuse(c, 502, "agent reply larger than %u bytes", PROXY_REPLY_MAX_BYTES);
		goto out;
	}
	if (x->body.oom) {
		refuse(c, 500, "out of memory");
		goto out;
	}
	if (x->read_err) {
		refuse(c, 500, "reading the spooled upload: %s", strerror(x->read_err));
		goto out;
	}
	if (rc != CURLE_OK) {
		transfer_failed(c, rc, x->err);
		goto out;
	}
	long status = 0;
	char *ct = NULL;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
	if (status < 200 || status > 599) {
		refuse(c, 502, "agent sent HTTP status %ld", status);
		goto out;
	}
	char ctype[CTYPE_MAX_BYTES + 1];
	copy_ctype(ctype, sizeof(ctype), ct);
	audit_record(c->req, c->action, c->resource, result_for((unsigned)status),
		     (unsigned)status);
	if (x->last_seq[0])
		http_reply_header(c->req, "X-Last-Seq", x->last_seq);
	if (x->retry_after[0])
		http_reply_header(c->req, "Retry-After", x->retry_after);
	http_reply(c->req, (unsigned)status, ct ? ctype : NULL, x->body.p ? x->body.p : "",
		   x->body.len);
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	free(x->body.p);
	x->body = (struct util_buf){ 0 };
}

static void forward_get(struct call *c, const char *path)
{
	struct xfer x = { .fd = -1 };
	forward(c, path, false, &x);
}

/* ---------------------------------------------------------------- follow streams */

enum follow_mode { MODE_UNDECIDED, MODE_STREAM, MODE_COLLECT };

struct follow {
	pthread_mutex_t mu;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	int refs;            /* the thread and the handler-then-stream */
	CURL *h;
	char ring[PROXY_FOLLOW_RING_BYTES];
	size_t head, len;
	bool headers_done, ended, gone;
	enum follow_mode mode;
	long status;
	char ctype[CTYPE_MAX_BYTES + 1];
	bool has_ctype;
	CURLcode rc;
	char err[CURL_ERROR_SIZE];
	struct http_stream *st;
	int64_t last_out_ms; /* when the client was last sent something */
	bool at_line_start;  /* the last byte sent ended a line: a keep-alive may go now */
};

static void follow_unref(struct follow *f)
{
	pthread_mutex_lock(&f->mu);
	bool last = --f->refs == 0;
	pthread_mutex_unlock(&f->mu);
	if (!last)
		return;
	curl_easy_cleanup(f->h);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->mu);
	free(f);
	follow_leave();
}

static size_t follow_header(char *p, size_t sz, size_t n, void *ud)
{
	struct follow *f = ud;
	size_t len = sz * n;
	if (!(len == 2 && p[0] == '\r' && p[1] == '\n') && !(len == 1 && p[0] == '\n'))
		return len;
	long status = 0;
	char *ct = NULL;
	curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200) /* an interim 1xx: the real headers follow */
		return len;
	curl_easy_getinfo(f->h, CURLINFO_CONTENT_TYPE, &ct);
	pthread_mutex_lock(&f->mu);
	f->status = status;
	f->has_ctype = ct != NULL;
	copy_ctype(f->ctype, sizeof(f->ctype), ct);
	f->headers_done = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->mu);
	return len;
}

/* Moves the agent's bytes into the ring, waiting while it is full; aborts when the client is
 * gone, or when a collected (error) reply overflows the ring. */
static size_t follow_write(char *p, size_t sz, size_t n, void *ud)
{
	struct follow *f = ud;
	size_t len = sz * n, done = 0;
	pthread_mutex_lock(&f->mu);
	while (done < len) {
		if (f->gone)
			break;
		if (f->len == sizeof(f->ring)) {
			if (f->mode == MODE_COLLECT)
				break;
			pthread_cond_wait(&f->cond, &f->mu);
			continue;
		}
		size_t tail = (f->head + f->len) % sizeof(f->ring);
		size_t room = sizeof(f->ring) - f->len;
		size_t chunk = sizeof(f->ring) - tail; /* contiguous room from tail */
		if (chunk > room)
			chunk = room;
		if (chunk > len - done)
			chunk = len - done;
		memcpy(f->ring + tail, p + done, chunk);
		f->len += chunk;
		done += chunk;
		if (f->st)
			http_stream_wake(f->st);
	}
	pthread_mutex_unlock(&f->mu);
	return done == len ? len : CURL_WRITEFUNC_ERROR;
}

/* Called by libcurl about once a second even when nothing arrives: how an idle stream learns
 * that its client went away. */
static int follow_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	struct follow *f = ud;
	pthread_mutex_lock(&f->mu);
	bool gone = f->gone;
	pthread_mutex_unlock(&f->mu);
	return gone ? 1 : 0;
}

static void *follow_main(void *arg)
{
	struct follow *f = arg;
	CURLcode rc = curl_easy_perform(f->h);
	pthread_mutex_lock(&f->mu);
	f->rc = rc;
	f->ended = true;
	pthread_cond_broadcast(&f->cond);
	if (f->st)
		http_stream_wake(f->st);
	pthread_mutex_unlock(&f->mu);
	follow_unref(f);
	return NULL;
}

static ssize_t follow_read(void *ud, char *buf, size_t cap)
{
	struct follow *f = ud;
	ssize_t out = 0;
	pthread_mutex_lock(&f->mu);
	while (f->len > 0 && (size_t)out < cap) {
		size_t chunk = sizeof(f->ring) - f->head;
		if (chunk > f->len)
			chunk = f->len;
		if (chunk > cap - (size_t)out)
			chunk = cap - (size_t)out;
		memcpy(buf + out, f->ring + f->head, chunk);
		f->head = (f->head + chunk) % sizeof(f->ring);
		f->len -= chunk;
		out += (ssize_t)chunk;
	}
	int64_t now = util_mono_ms();
	if (out > 0) {
		pthread_cond_broadcast(&f->cond);
		f->at_line_start = buf[out - 1] == '\n';
		f->last_out_ms = now;
	} else if (f->ended) {
		out = -1;
	} else if (f->at_line_start && now - f->last_out_ms >= PROXY_FOLLOW_KEEPALIVE_MS &&
		   cap > 0) {
		/* An empty line (a keep-alive to NDJSON readers) is the only way to learn that an
		 * idle client went away: a suspended stream that sends nothing never sees the close.
		 * It also keeps the connection's idle timeout from ending a quiet stream. */
		buf[0] = '\n';
		out = 1;
		f->last_out_ms = now;
	}
	pthread_mutex_unlock(&f->mu);
	return out;
}

static void follow_done(void *ud)
{
	struct follow *f = ud;
	pthread_mutex_lock(&f->mu);
	f->gone = true;
	f->st = NULL;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->mu);
	follow_unref(f);
}

/* Waits on f->cond (f->mu held) until pred or the deadline; false on timeout. */
static bool wait_until(struct follow *f, const struct timespec *until, const bool *a, const bool *b)
{
	while (!*a && !*b)
		if (pthread_cond_timedwait(&f->cond, &f->mu, until) == ETIMEDOUT)
			return *a || *b;
	return true;
}

static void deadline(struct timespec *ts, int seconds)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += seconds;
}

/* Copies the ring out in order (the collected error reply). */
static size_t ring_take(struct follow *f, char *out)
{
	size_t n = 0;
	while (f->len > 0) {
		size_t chunk = sizeof(f->ring) - f->head;
		if (chunk > f->len)
			chunk = f->len;
		memcpy(out + n, f->ring + f->head, chunk);
		f->head = (f->head + chunk) % sizeof(f->ring);
		f->len -= chunk;
		n += chunk;
	}
	return n;
}

static void follow_start(struct call *c, const char *path)
{
	if (!follow_admit()) {
		http_reply_header(c->req, "Retry-After", "5");
		refuse(c, 503, "too many follow streams (at most %d)", PROXY_FOLLOW_MAX);
		return;
	}
	struct follow *f = calloc(1, sizeof(*f));
	if (!f) {
		follow_leave();
		refuse(c, 500, "out of memory");
		return;
	}
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cond, &ca);
	pthread_condattr_destroy(&ca);
	f->refs = 1; /* the handler's, until the thread starts */
	f->h = curl_easy_init();
	if (!f->h) {
		refuse(c, 500, "out of memory");
		follow_unref(f);
		return;
	}
	if (!prepare(c, f->h, path, f->err)) {
		follow_unref(f);
		return;
	}
	CURLcode e = CURLE_OK;
	e |= curl_easy_setopt(f->h, CURLOPT_HTTPGET, 1L);
	/* A stream holds its connection for as long as it lives and ends it when its client goes:
	 * it never takes a pooled connection from the short calls, nor leaves one behind. */
	e |= curl_easy_setopt(f->h, CURLOPT_FRESH_CONNECT, 1L);
	e |= curl_easy_setopt(f->h, CURLOPT_FORBID_REUSE, 1L);
	e |= curl_easy_setopt(f->h, CURLOPT_WRITEFUNCTION, follow_write);
	e |= curl_easy_setopt(f->h, CURLOPT_WRITEDATA, f);
	e |= curl_easy_setopt(f->h, CURLOPT_HEADERFUNCTION, follow_header);
	e |= curl_easy_setopt(f->h, CURLOPT_HEADERDATA, f);
	e |= curl_easy_setopt(f->h, CURLOPT_NOPROGRESS, 0L);
	e |= curl_easy_setopt(f->h, CURLOPT_XFERINFOFUNCTION, follow_progress);
	e |= curl_easy_setopt(f->h, CURLOPT_XFERINFODATA, f);
	if (e != CURLE_OK) {
		refuse(c, 500, "cannot prepare the call to the agent");
		follow_unref(f);
		return;
	}
	f->refs = 2;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, THREAD_STACK_BYTES);
	pthread_t t;
	int prc = pthread_create(&t, &attr, follow_main, f);
	pthread_attr_destroy(&attr);
	if (prc != 0) {
		f->refs = 1;
		http_reply_header(c->req, "Retry-After", "5");
		refuse(c, 503, "cannot start the stream");
		follow_unref(f);
		return;
	}

	struct timespec until;
	deadline(&until, PROXY_FOLLOW_START_TIMEOUT_S);
	pthread_mutex_lock(&f->mu);
	if (!wait_until(f, &until, &f->headers_done, &f->ended)) {
		f->gone = true;
		pthread_cond_broadcast(&f->cond);
		pthread_mutex_unlock(&f->mu);
		refuse(c, 504, "agent timed out: no reply within %d s",
		       PROXY_FOLLOW_START_TIMEOUT_S);
		follow_unref(f);
		return;
	}
	if (!f->headers_done) { /* ended without a reply */
		CURLcode rc = f->rc;
		char err[CURL_ERROR_SIZE];
		memcpy(err, f->err, sizeof(err));
		err[sizeof(err) - 1] = '\0';
		pthread_mutex_unlock(&f->mu);
		transfer_failed(c, rc, err);
		follow_unref(f);
		return;
	}
	long status = f->status;
	if (status >= 200 && status < 300) {
		f->mode = MODE_STREAM;
		f->at_line_start = true;
		f->last_out_ms = util_mono_ms();
		char ctype[CTYPE_MAX_BYTES + 1];
		memcpy(ctype, f->ctype, sizeof(ctype));
		bool has_ctype = f->has_ctype;
		pthread_mutex_unlock(&f->mu);
		audit_record(c->req, c->action, c->resource, "ok", (unsigned)status);
		/* The handler's reference passes to the stream (done drops it, also on failure).
		 * The stream is queued only after this handler returns, so f outlives the call. */
		struct http_stream *st =
			http_reply_stream(c->req, (unsigned)status, has_ctype ? ctype : NULL,
					  follow_read, follow_done, f);
		if (st) {
			pthread_mutex_lock(&f->mu);
			if (!f->gone)
				f->st = st;
			pthread_mutex_unlock(&f->mu);
		}
		return;
	}
	/* An error reply (429 too many streams, 400 bad query...): short; pass it on whole. */
	f->mode = MODE_COLLECT;
	pthread_cond_broadcast(&f->cond);
	bool never = false;
	wait_until(f, &until, &f->ended, &never);
	bool complete = f->ended && f->rc == CURLE_OK;
	f->gone = true;
	pthread_cond_broadcast(&f->cond);
	char *body = malloc(f->len + 1);
	size_t len = body ? ring_take(f, body) : 0;
	char ctype[CTYPE_MAX_BYTES + 1];
	memcpy(ctype, f->ctype, sizeof(ctype));
	bool has_ctype = f->has_ctype;
	pthread_mutex_unlock(&f->mu);
	if (!body)
		refuse(c, 500, "out of memory");
	else if (!complete)
		refuse(c, 502, "agent sent HTTP %ld with an incomplete body", status);
	else {
		audit_record(c->req, c->action, c->resource, result_for((unsigned)status),
			     (unsigned)status);
		http_reply(c->req, (unsigned)status, has_ctype ? ctype : NULL, body, len);
	}
	free(body);
	follow_unref(f);
}

/* ---------------------------------------------------------------- handlers */

void api_proxy_events(struct http_req *req)
{
	struct call c;
	if (!call_open(&c, req, "proxy.events"))
		return;
	uint64_t after = 0, limit = 0;
	bool has_after, has_limit;
	const char *format, *follow_s;
	if (!query_u64(&c, "after", 0, &has_after, &after) ||
	    !query_u64(&c, "limit", 1, &has_limit, &limit) || !query_value(&c, "format", &format) ||
	    !query_value(&c, "follow", &follow_s))
		return;
	if (format && strcmp(format, "text") != 0 && strcmp(format, "json") != 0) {
		refuse(&c, 422, "format: must be text or json");
		return;
	}
	bool follow = false;
	if (follow_s) {
		if (strcmp(follow_s, "1") == 0 || strcmp(follow_s, "true") == 0)
			follow = true;
		else if (strcmp(follow_s, "0") != 0 && strcmp(follow_s, "false") != 0) {
			refuse(&c, 422, "follow: must be 1, true, 0 or false");
			return;
		}
	}
	char path[PATH_BYTES] = "/api/v1/events";
	char num[24];
	if (has_after) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)after);
		path_add(path, sizeof(path), "after", num);
	}
	if (has_limit) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)limit);
		path_add(path, sizeof(path), "limit", num);
	}
	if (format && strcmp(format, "text") == 0)
		path_add(path, sizeof(path), "format", "text");
	if (follow) {
		path_add(path, sizeof(path), "follow", "1");
		follow_start(&c, path);
		return;
	}
	forward_get(&c, path);
}

void api_proxy_action(struct http_req *req)
{
	struct call c;
	const char *name;
	if (!call_open(&c, req, "proxy.actions") || !name_param(&c, "name", &name))
		return;
	char path[PATH_BYTES];
	snprintf(path, sizeof(path), "/api/v1/actions/%s", name);
	struct xfer x = { .fd = -1 };
	forward(&c, path, true, &x);
}

void api_proxy_services(struct http_req *req)
{
	struct call c;
	if (call_open(&c, req, "proxy.services"))
		forward_get(&c, "/services");
}

void api_proxy_service_status(struct http_req *req)
{
	struct call c;
	const char *sid;
	if (!call_open(&c, req, "proxy.services") || !name_param(&c, "sid", &sid))
		return;
	char path[PATH_BYTES];
	snprintf(path, sizeof(path), "/services/%s/status", sid);
	forward_get(&c, path);
}

void api_proxy_service_logs(struct http_req *req)
{
	struct call c;
	const char *sid;
	if (!call_open(&c, req, "proxy.services") || !name_param(&c, "sid", &sid))
		return;
	bool has_lines, has_since;
	long long lines = 0, since = 0;
	if (!query_i64(&c, "lines", &has_lines, &lines) ||
	    !query_i64(&c, "since_minutes", &has_since, &since))
		return;
	char path[PATH_BYTES], num[24];
	snprintf(path, sizeof(path), "/services/%s/logs", sid);
	if (has_lines) {
		snprintf(num, sizeof(num), "%lld", lines);
		path_add(path, sizeof(path), "lines", num);
	}
	if (has_since) {
		snprintf(num, sizeof(num), "%lld", since);
		path_add(path, sizeof(path), "since_minutes", num);
	}
	forward_get(&c, path);
}

void api_proxy_gpu(struct http_req *req)
{
	struct call c;
	if (call_open(&c, req, "proxy.gpu"))
		forward_get(&c, "/gpu");
}

void api_proxy_overview(struct http_req *req)
{
	struct call c;
	if (call_open(&c, req, "proxy.overview"))
		forward_get(&c, "/overview");
}

void api_proxy_attestation(struct http_req *req)
{
	struct call c;
	if (!call_open(&c, req, "proxy.attestation"))
		return;
	const char *nonce;
	if (!query_value(&c, "nonce", &nonce))
		return;
	char path[PATH_BYTES] = "/attestation";
	if (nonce) {
		size_t n = strlen(nonce);
		unsigned char raw[PROXY_NONCE_MAX_BYTES];
		if (n == 0 || n % 2 || n > 2 * PROXY_NONCE_MAX_BYTES ||
		    util_unhex(raw, n / 2, nonce, n) < 0) {
			refuse(&c, 422, "nonce: 1 to %d bytes in hex", PROXY_NONCE_MAX_BYTES);
			return;
		}
		char hex[2 * PROXY_NONCE_MAX_BYTES + 1];
		util_hex(hex, raw, n / 2);
		path_add(path, sizeof(path), "nonce", hex);
	}
	forward_get(&c, path);
}

/* ---------------------------------------------------------------- uploads */

struct upload {
	struct call c;
	char name[PROXY_NAME_MAX_BYTES + 1];
	int fd;
	uint64_t size;
	bool failed;
};

/* An unlinked 0600 file in <state_dir>/spool; returns the fd or a negative errno. */
static int spool_open(struct server *srv)
{
	char dir[4096], tmpl[4200];
	if ((size_t)snprintf(dir, sizeof(dir), "%s/spool", srv->cfg->state_dir) >= sizeof(dir))
		return -ENAMETOOLONG;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(tmpl, sizeof(tmpl), "%s/upload-XXXXXX", dir);
	int fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* The name is not needed: the open descriptor keeps the bytes, and nothing is left
	 * behind however the request ends. */
	if (unlink(tmpl) < 0 || fchmod(fd, 0600) < 0) {
		int e = -errno;
		unlink(tmpl);
		close(fd);
		return e;
	}
	return fd;
}

int api_proxy_upload_begin(struct http_req *req)
{
	struct upload *u = calloc(1, sizeof(*u));
	if (!u) {
		server_error(req, 500, "out of memory");
		return -1;
	}
	u->fd = -1;
	http_req_set_ctx(req, u);
	const char *name;
	if (!call_open(&u->c, req, "proxy.uploads") || !name_param(&u->c, "name", &name))
		return -1;
	snprintf(u->name, sizeof(u->name), "%s", name);
	int64_t cl = http_req_content_length(req);
	if (cl > (int64_t)PROXY_UPLOAD_MAX_BYTES) {
		refuse(&u->c, 413, "upload larger than %u bytes", PROXY_UPLOAD_MAX_BYTES);
		return -1;
	}
	u->fd = spool_open(u->c.srv);
	if (u->fd < 0) {
		int e = -u->fd;
		u->fd = -1;
		refuse(&u->c, 500, "cannot spool the upload: %s", strerror(e));
		return -1;
	}
	return 0;
}

int api_proxy_upload_chunk(struct http_req *req, const char *data, size_t len)
{
	struct upload *u = http_req_ctx(req);
	if (!u || u->fd < 0)
		return -1;
	if (len > PROXY_UPLOAD_MAX_BYTES - u->size) {
		u->failed = true;
		refuse(&u->c, 413, "upload larger than %u bytes", PROXY_UPLOAD_MAX_BYTES);
		return -1;
	}
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(u->fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			u->failed = true;
			refuse(&u->c, 500, "cannot spool the upload: %s",
			       strerror(w < 0 ? errno : EIO));
			return -1;
		}
		off += (size_t)w;
	}
	u->size += len;
	return 0;
}

void api_proxy_upload(struct http_req *req)
{
	struct upload *u = http_req_ctx(req);
	if (!u || u->fd < 0 || u->failed) {
		server_error(req, 500, "upload not spooled");
		return;
	}
	if (lseek(u->fd, 0, SEEK_SET) != 0) {
		refuse(&u->c, 500, "cannot read the spooled upload: %s", strerror(errno));
		return;
	}
	char path[PATH_BYTES];
	snprintf(path, sizeof(path), "/api/v1/file-upload/%s", u->name);
	struct xfer x = { .fd = u->fd, .size = u->size };
	forward(&u->c, path, true, &x);
}

void api_proxy_upload_cleanup(struct http_req *req)
{
	struct upload *u = http_req_ctx(req);
	if (!u)
		return;
	if (u->fd >= 0)
		close(u->fd);
	free(u);
	http_req_set_ctx(req, NULL);
}
