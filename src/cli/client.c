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
 */
#include "cli/client.h"

#include "cli/limits.h"
#include "json.h"
#include "util.h"
#include "version.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

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

struct client *client_new(const struct client_opts *o)
{
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

void client_resp_done(struct client_resp *r)
{
	if (!r)
		return;
	free(r->body);
	free(r->content_type);
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
		SET(CURLOPT_HTTPHEADER, hdrs);
	}
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
	char ct[128];
	snprintf(ct, sizeof(ct), "Content-Type: %s",
		 rq->content_type ? rq->content_type : "application/octet-stream");
	struct curl_slist *hdrs = curl_slist_append(NULL, ct);
	if (!hdrs) {
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
