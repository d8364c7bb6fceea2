/*
 * client.c - the CLI's HTTP client over one libcurl easy handle (see client.h).
 *
 * Each request resets the handle's options (curl_easy_reset keeps the connection cache, so a
 * second request to the same agent reuses the connection and its TLS session) and sets them
 * again from the client's options: the request is then fully described here, nothing leaks from
 * one call to the next. The write callback decides on its first call, from the status already
 * parsed, whether the body is streamed to the request's sink (2xx) or collected (anything else,
 * so that an error reply's message can be shown). Collection grows the buffer geometrically and
 * stops the transfer at CLI_RESPONSE_MAX_BYTES. A request body pulled from a reader cannot be
 * rewound: the seek callback refuses, so a body is never sent twice or hashed wrong.
 * A header callback keeps the Location of the final reply only: a status line (an interim
 * "100 Continue" before the real reply) forgets what an earlier one carried.
 */
#include "cli/client.h"

#include "cli/cli.h"
#include "cli/limits.h"
#include "json.h"
#include "secret.h"
#include "util.h"
#include "version.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct client {
	CURL *h;
	struct client_opts o;
	char *base;
	char errbuf[CURL_ERROR_SIZE];
};

struct transfer {
	struct client *c;
	const struct client_req *rq;
	struct client_resp *r;
	size_t cap;
	bool decided, to_sink;
	bool too_big, sink_stopped, read_failed, oom;
};

/* A bearer token goes into a header line: only visible ASCII, so no CR/LF can split it. */
static bool bearer_ok(const char *b)
{
	if (!b[0])
		return false;
	for (const char *p = b; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

struct client *client_new(const struct client_opts *o)
{
	if (o->password && o->bearer)
		return NULL;
	struct client *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->o = *o;
	size_t n = strlen(o->url);
	while (n > 0 && o->url[n - 1] == '/')
		n--;
	c->base = strndup(o->url, n);
	c->h = curl_easy_init();
	if (!c->base || !c->h) {
		client_free(c);
		return NULL;
	}
	return c;
}

void client_free(struct client *c)
{
	if (!c)
		return;
	if (c->h)
		curl_easy_cleanup(c->h);
	free(c->base);
	free(c);
}

int client_set_bearer(struct client *c, const char *bearer)
{
	if (c->o.password)
		return -EINVAL;
	c->o.bearer = bearer;
	return 0;
}

void client_resp_done(struct client_resp *r)
{
	if (!r)
		return;
	free(r->body);
	free(r->content_type);
	free(r->location);
	*r = (struct client_resp){ 0 };
}

static int collect(struct transfer *t, const char *data, size_t len)
{
	struct client_resp *r = t->r;
	if (len > CLI_RESPONSE_MAX_BYTES - r->len) {
		t->too_big = true;
		return -1;
	}
	if (r->len + len + 1 > t->cap) {
		size_t ncap = t->cap ? t->cap : 4096;
		while (ncap < r->len + len + 1)
			ncap *= 2;
		if (ncap > (size_t)CLI_RESPONSE_MAX_BYTES + 1)
			ncap = (size_t)CLI_RESPONSE_MAX_BYTES + 1;
		char *nb = realloc(r->body, ncap);
		if (!nb) {
			t->oom = true;
			return -1;
		}
		r->body = nb;
		t->cap = ncap;
	}
	memcpy(r->body + r->len, data, len);
	r->len += len;
	r->body[r->len] = '\0';
	return 0;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
	struct transfer *t = ud;
	size_t len = size * nmemb;
	if (!t->decided) {
		long status = 0;
		curl_easy_getinfo(t->c->h, CURLINFO_RESPONSE_CODE, &status);
		t->to_sink = t->rq->sink && status >= 200 && status < 300;
		t->decided = true;
	}
	if (t->to_sink) {
		if (t->rq->stop && *t->rq->stop)
			return 0;
		if (t->rq->sink(data, len, t->rq->sink_ud) < 0) {
			t->sink_stopped = true;
			return 0;
		}
		return len;
	}
	return collect(t, data, len) == 0 ? len : 0;
}

static bool header_is(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);
	return len > n && strncasecmp(line, name, n) == 0 && line[n] == ':';
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
	struct transfer *t = ud;
	size_t len = size * nmemb;
	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		free(t->r->location);
		t->r->location = NULL;
	} else if (header_is(data, len, "Location")) {
		const char *v = data + sizeof("Location");
		size_t n = len - sizeof("Location");
		while (n > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			n--;
		}
		while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
			n--;
		if (n > CLI_URL_MAX_BYTES)
			n = CLI_URL_MAX_BYTES;
		free(t->r->location);
		t->r->location = strndup(v, n);
		if (!t->r->location) {
			t->oom = true;
			return 0;
		}
		client_sanitize(t->r->location, strlen(t->r->location));
	}
	return len;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct transfer *t = ud;
	size_t n = t->rq->read(buf, size * nmemb, t->rq->read_ud);
	if (n == (size_t)-1) {
		t->read_failed = true;
		return CURL_READFUNC_ABORT;
	}
	return n;
}

static int on_seek(void *ud, curl_off_t off, int origin)
{
	(void)ud;
	(void)off;
	(void)origin;
	return CURL_SEEKFUNC_CANTSEEK;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	struct transfer *t = ud;
	return t->rq->stop && *t->rq->stop ? 1 : 0;
}

/* Sets every option of one request; returns the first libcurl failure. */
static CURLcode setup(struct client *c, const struct client_req *rq, struct transfer *t,
		      const char *url, struct curl_slist *hdrs)
{
	CURL *h = c->h;
	CURLcode e = CURLE_OK;
#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (e == CURLE_OK)                                                                 \
			e = curl_easy_setopt(h, opt, val);                                         \
	} while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_ERRORBUFFER, c->errbuf);
	SET(CURLOPT_USERAGENT, "cloister/" CLOISTER_VERSION);
	SET(CURLOPT_CONNECTTIMEOUT, (long)CLI_CONNECT_TIMEOUT_S);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->o.cacert)
		SET(CURLOPT_CAINFO, c->o.cacert);
	if (c->o.cert)
		SET(CURLOPT_SSLCERT, c->o.cert);
	if (c->o.key)
		SET(CURLOPT_SSLKEY, c->o.key);
	if (c->o.password) {
		SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SET(CURLOPT_USERNAME, c->o.user ? c->o.user : "");
		SET(CURLOPT_PASSWORD, c->o.password);
	}
	if (!rq->sink && c->o.timeout_s > 0)
		SET(CURLOPT_TIMEOUT, c->o.timeout_s);
	SET(CURLOPT_WRITEFUNCTION, on_write);
	SET(CURLOPT_WRITEDATA, t);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, t);
	if (rq->stop) {
		SET(CURLOPT_XFERINFOFUNCTION, on_progress);
		SET(CURLOPT_XFERINFODATA, t);
		SET(CURLOPT_NOPROGRESS, 0L);
	}
	bool has_body = rq->read || rq->body || strcmp(rq->method, "POST") == 0 ||
			strcmp(rq->method, "PUT") == 0;
	if (strcmp(rq->method, "GET") == 0 && !has_body) {
		SET(CURLOPT_HTTPGET, 1L);
	} else {
		SET(CURLOPT_POST, 1L);
		if (strcmp(rq->method, "POST") != 0)
			SET(CURLOPT_CUSTOMREQUEST, rq->method);
		if (rq->read) {
			SET(CURLOPT_READFUNCTION, on_read);
			SET(CURLOPT_READDATA, t);
			SET(CURLOPT_SEEKFUNCTION, on_seek);
			SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->read_len);
		} else {
			SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
			SET(CURLOPT_POSTFIELDS, rq->body ? (const char *)rq->body : "");
		}
	}
	if (hdrs)
		SET(CURLOPT_HTTPHEADER, hdrs);
#undef SET
	return e;
}

int client_do(struct client *c, const struct client_req *rq, struct client_resp *r, char *err,
	      size_t errlen)
{
	*r = (struct client_resp){ 0 };
	err[0] = '\0';
	char url[CLI_URL_MAX_BYTES];
	int n = snprintf(url, sizeof(url), "%s%s", c->base, rq->path);
	if (n < 0 || (size_t)n >= sizeof(url)) {
		snprintf(err, errlen, "URL longer than %u bytes", (unsigned)CLI_URL_MAX_BYTES);
		return -E2BIG;
	}
	if (c->o.bearer && !bearer_ok(c->o.bearer)) {
		snprintf(err, errlen, "the access token holds characters a header cannot carry");
		return -EINVAL;
	}
	/* Only a request with a body names its type (as before bearer tokens existed). */
	bool has_body = rq->read || rq->body || strcmp(rq->method, "GET") != 0;
	struct curl_slist *hdrs = NULL;
	bool oom = false;
	if (has_body) {
		char ct[128];
		snprintf(ct, sizeof(ct), "Content-Type: %s",
			 rq->content_type ? rq->content_type : "application/octet-stream");
		struct curl_slist *h = curl_slist_append(hdrs, ct);
		oom = !h;
		hdrs = h ? h : hdrs;
	}
	if (c->o.bearer && !oom) {
		_cleanup_free_ char *auth = NULL;
		struct curl_slist *h = NULL;
		if (asprintf(&auth, "Authorization: Bearer %s", c->o.bearer) >= 0)
			h = curl_slist_append(hdrs, auth);
		if (auth)
			secret_wipe(auth, strlen(auth));
		oom = !h;
		hdrs = h ? h : hdrs;
	}
	if (oom) {
		curl_slist_free_all(hdrs);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	struct transfer t = { .c = c, .rq = rq, .r = r };
	curl_easy_reset(c->h);
	c->errbuf[0] = '\0';
	CURLcode e = setup(c, rq, &t, url, hdrs);
	if (e == CURLE_OK)
		e = curl_easy_perform(c->h);
	curl_slist_free_all(hdrs);
	/* The handle keeps pointers to this call's buffers; drop them before returning. */
	curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, NULL);

	int rc = 0;
	if (e == CURLE_OK) {
		curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &r->status);
		char *type = NULL;
		curl_easy_getinfo(c->h, CURLINFO_CONTENT_TYPE, &type);
		if (type && !(r->content_type = strdup(type)))
			rc = -ENOMEM;
		if (rc == 0 && !r->body && !(r->body = calloc(1, 1)))
			rc = -ENOMEM;
		if (rc < 0)
			snprintf(err, errlen, "out of memory");
	} else if (rq->stop && *rq->stop) {
		rc = -ECANCELED;
		snprintf(err, errlen, "interrupted");
	} else if (t.too_big) {
		rc = -E2BIG;
		snprintf(err, errlen, "reply larger than %u MiB",
			 (unsigned)(CLI_RESPONSE_MAX_BYTES >> 20));
	} else if (t.oom || e == CURLE_OUT_OF_MEMORY) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
	} else if (t.sink_stopped || t.read_failed) {
		rc = -EPIPE;
		snprintf(err, errlen, "%s",
			 t.read_failed ? "reading the request body failed"
				       : "the reply could not be processed");
	} else {
		rc = e == CURLE_URL_MALFORMAT || e == CURLE_UNSUPPORTED_PROTOCOL ? -EINVAL : -EIO;
		snprintf(err, errlen, "%s", c->errbuf[0] ? c->errbuf : curl_easy_strerror(e));
	}
	if (rc < 0)
		client_resp_done(r);
	return rc;
}

/* ---------------------------------------------------------------- messages */

static const char *reason(long status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 414:
		return "URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Entity";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "HTTP error";
	}
}

void client_sanitize(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch < 0x20 && ch != '\t' && ch != '\n') || ch == 0x7f)
			s[i] = '?';
	}
}

static void copy_clean(char *out, size_t cap, const char *s, size_t len)
{
	size_t n = json_utf8_lossy(s, len, out, cap);
	client_sanitize(out, n);
	/* One line: a message is printed after "cloister: <status>: ". */
	for (size_t i = 0; i < n; i++)
		if (out[i] == '\n' || out[i] == '\t')
			out[i] = ' ';
}

void client_error_message(const struct client_resp *r, char *out, size_t cap)
{
	if (cap == 0)
		return;
	out[0] = '\0';
	if (r->body && r->len > 0 && r->len <= JSON_BODY_MAX_BYTES) {
		json_error_t jerr;
		json_t *doc = json_parse_strict(r->body, r->len, &jerr);
		json_t *m = json_is_object(doc) ? json_object_get(doc, "message") : NULL;
		if (!json_is_string(m) && json_is_object(doc))
			m = json_object_get(doc, "detail");
		if (json_is_string(m) && json_string_length(m) > 0) {
			copy_clean(out, cap, json_string_value(m), json_string_length(m));
			json_decref(doc);
			return;
		}
		json_decref(doc);
	}
	if (r->body && r->len > 0 && r->body[0] != '<' && r->body[0] != '{' && r->body[0] != '[') {
		size_t n = 0;
		while (n < r->len && n < CLI_ERROR_MESSAGE_MAX_BYTES && r->body[n] != '\n' &&
		       r->body[n] != '\r')
			n++;
		while (n > 0 && r->body[n - 1] == ' ')
			n--;
		if (n > 0) {
			copy_clean(out, cap, r->body, n);
			return;
		}
	}
	snprintf(out, cap, "%s", reason(r->status));
}

char *client_escape(const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	if (len > (SIZE_MAX - 1) / 3)
		return NULL;
	char *out = malloc(len * 3 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
	return out;
}

/* ---------------------------------------------------------------- reply parsers */

/* Replies that may be large (action output, up to CLI_RESPONSE_MAX_BYTES): our own cap bounds
 * them, so json_parse_strict's 1 MiB limit would be wrong here. */
static json_t *parse_reply(const char *body, size_t len)
{
	json_error_t e;
	return json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
}

int client_lines_feed(struct client_lines *l, const char *data, size_t len,
		      int (*on_line)(const char *line, size_t len, void *ud), void *ud)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;
		if (take > l->cap - l->len)
			return -E2BIG;
		memcpy(l->buf + l->len, data, take);
		l->len += take;
		data += take;
		len -= take;
		if (nl) {
			data++;
			len--;
			size_t n = l->len;
			l->len = 0;
			int rc = on_line(l->buf, n, ud);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* "2024-11-05T22:03:23.123456789Z" -> "2024-11-05T22:03:23Z", as /logs prints it. */
static void seconds_only(const char *ts, char *out, size_t cap)
{
	const char *dot = strchr(ts, '.');
	size_t n = strlen(ts);
	if (dot && n > 0 && ts[n - 1] == 'Z') {
		const char *p = dot + 1;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == ts + n - 1 && p > dot + 1) {
			snprintf(out, cap, "%.*sZ", (int)(dot - ts), ts);
			return;
		}
	}
	snprintf(out, cap, "%s", ts);
}

int client_event_format(const char *line, size_t len, bool json, char **out, size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return 0; /* a keep-alive */
	json_t *ev = parse_reply(line, len);
	json_t *ts = json_object_get(ev, "received_at"), *msg = json_object_get(ev, "message");
	if (!json_is_object(ev) || !json_is_string(ts) || !json_is_string(msg)) {
		json_decref(ev);
		return -EPROTO;
	}
	char *s;
	size_t n;
	if (json) {
		n = len + 1;
		s = malloc(n);
		if (s) {
			memcpy(s, line, len);
			s[len] = '\n';
		}
	} else {
		char tsbuf[UTIL_TIME_BUF + 8], sec[UTIL_TIME_BUF + 8];
		snprintf(tsbuf, sizeof(tsbuf), "%s", json_string_value(ts));
		client_sanitize(tsbuf, strlen(tsbuf));
		seconds_only(tsbuf, sec, sizeof(sec));
		size_t sl = strlen(sec), ml = json_string_length(msg);
		n = sl + 3 + ml + 1;
		s = malloc(n);
		if (s) {
			memcpy(s, sec, sl);
			memcpy(s + sl, " \t ", 3);
			memcpy(s + sl + 3, json_string_value(msg), ml);
			client_sanitize(s + sl + 3, ml);
			/* One event is one line: an agent cannot forge a second one. */
			for (size_t i = sl + 3; i < sl + 3 + ml; i++)
				if (s[i] == '\n')
					s[i] = '?';
			s[n - 1] = '\n';
		}
	}
	json_decref(ev);
	if (!s)
		return -ENOMEM;
	*out = s;
	*out_len = n;
	return 0;
}

int client_upload_check(const char *body, size_t len, const char *local_hex, uint64_t size,
			struct client_upload_check *u)
{
	*u = (struct client_upload_check){ .sha = CLIENT_SHA_ABSENT, .size_ok = true };
	json_t *doc = parse_reply(body, len);
	json_t *sha = json_object_get(doc, "sha256"), *sz = json_object_get(doc, "size_bytes");
	json_t *dest = json_object_get(doc, "file");
	if (json_is_string(sha)) {
		size_t rl = json_string_length(sha);
		const char *rs = json_string_value(sha);
		size_t i;
		for (i = 0; i < rl && i < 64; i++)
			u->remote[i] = (char)tolower((unsigned char)rs[i]);
		u->remote[i] = '\0';
		if (rl != 64)
			u->sha = CLIENT_SHA_MALFORMED;
		else if (strcmp(u->remote, local_hex) != 0)
			u->sha = CLIENT_SHA_MISMATCH;
		else
			u->sha = CLIENT_SHA_MATCH;
		/* The agent's string may hold a NUL (\u0000): sanitize what strlen sees. */
		client_sanitize(u->remote, strlen(u->remote));
	}
	uint64_t rsize = 0;
	if (json_is_string(sz))
		u->size_ok = util_parse_u64(json_string_value(sz), UINT64_MAX, &rsize) == 0 &&
			     rsize == size;
	else if (json_is_integer(sz))
		u->size_ok =
			json_integer_value(sz) >= 0 && (uint64_t)json_integer_value(sz) == size;
	int rc = 0;
	if (json_is_string(dest)) {
		u->file_len = json_string_length(dest);
		u->file = malloc(u->file_len + 1);
		if (u->file) {
			memcpy(u->file, json_string_value(dest), u->file_len + 1);
			client_sanitize(u->file, u->file_len);
		} else {
			u->file_len = 0;
			rc = -ENOMEM;
		}
	}
	json_decref(doc);
	return rc;
}

void client_upload_check_done(struct client_upload_check *u)
{
	if (!u)
		return;
	free(u->file);
	*u = (struct client_upload_check){ 0 };
}

void client_action_reply_parse(const char *body, size_t len, struct client_action_reply *a)
{
	*a = (struct client_action_reply){ 0 };
	json_t *doc = parse_reply(body, len);
	json_t *out = json_object_get(doc, "stdout"), *err = json_object_get(doc, "stderr");
	json_t *code = json_object_get(doc, "exit_code");
	if (json_is_string(out)) {
		a->out = json_string_value(out);
		a->out_len = json_string_length(out);
	}
	if (json_is_string(err)) {
		a->err = json_string_value(err);
		a->err_len = json_string_length(err);
	}
	a->out_truncated = json_is_true(json_object_get(doc, "stdout_truncated"));
	a->err_truncated = json_is_true(json_object_get(doc, "stderr_truncated"));
	if (json_is_integer(code)) {
		a->has_code = true;
		a->code = (long long)json_integer_value(code);
	}
	a->doc = doc;
}

void client_action_reply_done(struct client_action_reply *a)
{
	if (!a)
		return;
	json_decref(a->doc);
	*a = (struct client_action_reply){ 0 };
}

int client_action_exit_code(long status, const struct client_action_reply *a)
{
	if (status >= 200 && status < 300) {
		/* flashbots system-api replies with a message only: success is the status. */
		return a->has_code && a->code != 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	}
	if (a->has_code && a->code > 0)
		return a->code > 255 ? 255 : (int)a->code;
	return CLI_EXIT_FAIL;
}

void client_health_line(const char *what, const struct client_resp *r, char *out, size_t cap)
{
	if (cap == 0)
		return;
	bool ok = r->status >= 200 && r->status < 300;
	json_t *doc = parse_reply(r->body, r->len);
	json_t *status = json_object_get(doc, "status");
	char s[64];
	if (json_is_string(status))
		snprintf(s, sizeof(s), "%s", json_string_value(status));
	else if (ok)
		snprintf(s, sizeof(s), "ok");
	else
		client_error_message(r, s, sizeof(s));
	size_t n = 0;
#define ADD(...)                                                                                   \
	do {                                                                                       \
		if (n < cap) {                                                                     \
			int k = snprintf(out + n, cap - n, __VA_ARGS__);                           \
			n = k < 0 ? cap : n + (size_t)k;                                           \
		}                                                                                  \
	} while (0)
	ADD("%s: %s", what, s);
	if (!ok)
		ADD(" (HTTP %ld)", r->status);
	json_t *ver = json_object_get(doc, "version");
	if (json_is_string(ver)) {
		char v[64];
		snprintf(v, sizeof(v), "%s", json_string_value(ver));
		ADD(", version %s", v);
	}
	json_t *auth = json_object_get(doc, "auth"), *tls = json_object_get(doc, "tls");
	if (json_is_boolean(auth))
		ADD(", auth %s", json_is_true(auth) ? "on" : "off");
	if (json_is_boolean(tls))
		ADD(", tls %s", json_is_true(tls) ? "on" : "off");
	json_t *seq = json_object_get(doc, "last_event_seq");
	if (json_is_integer(seq))
		ADD(", last event %lld", (long long)json_integer_value(seq));
#undef ADD
	json_decref(doc);
	client_sanitize(out, strlen(out));
}
