/*
 * http/server.c - routing, limits, mTLS gate, workers and streams over libmicrohttpd.
 *
 * libmicrohttpd calls on_access several times per request: once with only the headers, then
 * once per body chunk, then once more with no data. We decide everything we can on the first
 * call (peer certificate, gate, route, Content-Length limit) but queue the response only on a
 * later call: a response queued on the first call makes libmicrohttpd close the connection,
 * which costs a new TCP (and TLS) handshake per request. The exception is an early error on a
 * request that still has a body in flight: that response is queued at once and the connection
 * is closed, so we never read a body we are going to refuse.
 *
 * Blocking handlers (commands that may run for seconds) go to a detached worker thread while the
 * connection is suspended; the worker stores the reply and resumes the connection, and the next
 * on_access call queues it. Follow streams suspend their connection when they have nothing to
 * send and are resumed by http_stream_wake or by the ticker (HTTP_STREAM_TICK_MS), which lets a
 * stream send heartbeats and lets libmicrohttpd notice a client that went away.
 *
 * mTLS: libmicrohttpd (GnuTLS) only requests a client certificate. The verdict comes from an
 * OpenSSL X509_STORE (x509_verifier) over the peer's DER chain, computed once per connection
 * and cached in the socket context with the verifier's generation. A CRL reload swaps in a new
 * verifier (generation + 1) under vlock; a check in flight holds a reference to the one it
 * started with, which is freed by whoever drops the last reference. A connection whose cached
 * verdict is of an older generation is checked again on its next request, so a long keep-alive
 * connection of a client revoked since does not outlive the reload.
 */
#include "http/server.h"

#include "util.h"
#include "x509.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define HTTP_REPLY_HEADERS_MAX 16

struct http_stream {
	struct http_server *s;
	struct http_req *req;
	struct MHD_Connection *c;
	ssize_t (*read)(void *ud, char *buf, size_t cap);
	void (*done)(void *ud);
	void *ud;
	bool suspended;    /* guarded by s->lock */
	bool pending_wake; /* guarded by s->lock */
	struct http_stream *next, *prev;
};

struct conn_state {
	int verified; /* 0 not yet, 1 trusted, -1 refused */
	unsigned gen; /* the verifier generation of that verdict */
	char *subject;
	char why[160];
};

struct header_kv {
	char *name, *value;
};

struct route_param {
	const char *name; /* points into the pattern */
	size_t name_len;
	char *value;
};

enum worker_state { WORKER_NONE, WORKER_RUNNING, WORKER_DONE };

struct http_req {
	struct http_server *s;
	struct MHD_Connection *c;
	const char *method;
	unsigned mbit;
	char *path;
	const struct http_route *route;
	struct route_param params[HTTP_ROUTE_PARAMS_MAX];
	size_t nparams;
	int64_t t0_us;
	int64_t content_length;

	/* reply */
	bool replied, queued;
	unsigned status;
	struct MHD_Response *resp;
	struct header_kv headers[HTTP_REPLY_HEADERS_MAX];
	size_t nheaders;

	/* body */
	char *body;
	size_t body_len, body_cap, body_seen;
	size_t discarded; /* bytes thrown away after a refusal decided mid-body */
	bool body_started;

	void *ctx;
	/* The gate's record of who is calling (cloisterd's principal), zeroed per request. */
	_Alignas(max_align_t) unsigned char auth[HTTP_REQ_AUTH_BYTES];
	enum worker_state worker;
	struct http_stream *stream;
	struct conn_state *cs;
	char client[INET6_ADDRSTRLEN];
};

struct http_server {
	struct http_server_opts o;
	struct MHD_Daemon *d;
	int listen_fd;
	unsigned port;
	/* mTLS: the current verifier (never NULL once started with a client CA), its generation,
	 * and what a reload needs to build the next one. Guarded by vlock. */
	struct verifier_ref *vref;
	unsigned vgen;
	pthread_mutex_t vlock;
	char *client_ca_path, *client_cn;
	unsigned client_flags;
	char *cert_pem, *key_pem, *trust_pem;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned workers;
	unsigned active; /* requests begun and not completed */
	struct http_stream *streams;
	bool stopping;
	pthread_t ticker;
	bool ticker_started;
	/* libmicrohttpd diagnostics are mostly about clients (a reset, a bad TLS record): rate
	 * limited, so no client can flood the program's log. Guarded by lock. */
	int64_t log_window_ms;
	unsigned log_in_window, log_suppressed;
};

struct verifier_ref {
	struct x509_verifier *v;
	unsigned refs; /* the server's own plus one per check in flight */
};

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

const char *http_status_text(unsigned status)
{
	const char *t = MHD_get_reason_phrase_for(status);
	return t && *t ? t : "Unknown";
}

/* ---------------------------------------------------------------- routing */

static unsigned method_bit(const char *m)
{
	static const struct {
		const char *name;
		unsigned bit;
	} tab[] = { { "GET", HTTP_GET }, { "HEAD", HTTP_HEAD },     { "POST", HTTP_POST },
		    { "PUT", HTTP_PUT }, { "DELETE", HTTP_DELETE }, { "PATCH", HTTP_PATCH } };
	for (size_t i = 0; i < ARRAY_SIZE(tab); i++)
		if (strcmp(m, tab[i].name) == 0)
			return tab[i].bit;
	return 0;
}

static void params_clear(struct http_req *r)
{
	for (size_t i = 0; i < r->nparams; i++)
		free(r->params[i].value);
	r->nparams = 0;
}

/* Matches path against pattern, filling r->params. Segments are compared literally; "{x}"
 * takes one non-empty segment, a final "{x*}" takes the non-empty rest. */
static bool route_match(struct http_req *r, const char *pattern, const char *path)
{
	params_clear(r);
	const char *p = pattern, *u = path;
	while (*p) {
		if (*p == '{') {
			const char *end = strchr(p, '}');
			if (!end)
				return false;
			bool rest = end > p + 1 && end[-1] == '*';
			size_t nlen = (size_t)(end - p - 1) - (rest ? 1 : 0);
			size_t vlen = rest ? strlen(u) : strcspn(u, "/");
			if (vlen == 0 || r->nparams >= HTTP_ROUTE_PARAMS_MAX)
				return false;
			char *v = strndup(u, vlen);
			if (!v)
				return false;
			r->params[r->nparams++] = (struct route_param){ p + 1, nlen, v };
			p = end + 1;
			u += vlen;
			continue;
		}
		if (*p != *u)
			return false;
		p++;
		u++;
	}
	return *u == '\0';
}

/* Finds the route for r; returns 0, -ENOENT (no path match) or -EPERM (path known, method not). */
static int route_find(struct http_req *r)
{
	bool path_known = false;
	for (size_t i = 0; i < r->s->o.nroutes; i++) {
		const struct http_route *rt = &r->s->o.routes[i];
		if (!route_match(r, rt->pattern, r->path))
			continue;
		unsigned allowed = rt->methods;
		if (allowed & HTTP_GET)
			allowed |= HTTP_HEAD;
		if (allowed & r->mbit) {
			r->route = rt;
			return 0;
		}
		path_known = true;
	}
	params_clear(r);
	return path_known ? -EPERM : -ENOENT;
}

/* ---------------------------------------------------------------- replies */

void http_reply_header(struct http_req *r, const char *name, const char *value)
{
	if (r->replied || r->nheaders >= HTTP_REPLY_HEADERS_MAX)
		return;
	char *n = strdup(name), *v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return;
	}
	r->headers[r->nheaders].name = n;
	r->headers[r->nheaders].value = v;
	r->nheaders++;
}

static void set_response(struct http_req *r, unsigned status, struct MHD_Response *resp,
			 const char *content_type)
{
	if (!resp) {
		/* Out of memory: fall back to a bodiless 500 if even that works. */
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		status = 500;
		content_type = NULL;
		if (!resp)
			return;
	}
	if (content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	for (size_t i = 0; i < r->nheaders; i++)
		MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
	r->resp = resp;
	r->status = status;
	r->replied = true;
}

void http_reply(struct http_req *r, unsigned status, const char *content_type, const void *body,
		size_t len)
{
	if (r->replied)
		return;
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	set_response(r, status, resp, content_type);
}

void http_reply_json(struct http_req *r, unsigned status, json_t *body)
{
	if (r->replied) {
		json_decref(body);
		return;
	}
	char *txt =
		body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15))
		     : NULL;
	json_decref(body);
	if (!txt) {
		set_response(r, 500, NULL, NULL);
		return;
	}
	size_t n = strlen(txt);
	char *buf = realloc(txt, n + 2);
	if (!buf) {
		free(txt);
		set_response(r, 500, NULL, NULL);
		return;
	}
	buf[n] = '\n';
	buf[n + 1] = '\0';
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(n + 1, buf, MHD_RESPMEM_MUST_FREE);
	if (!resp)
		free(buf);
	set_response(r, status, resp, "application/json");
}

void http_reply_error(struct http_req *r, unsigned status, const char *msg)
{
	http_reply_json(r, status, json_pack("{s:i,s:s}", "code", (int)status, "message", msg));
}

static enum MHD_Result queue(struct http_req *r)
{
	if (r->queued)
		return MHD_YES;
	if (!r->replied)
		http_reply_error(r, 500, "handler sent no reply");
	if (!r->resp)
		return MHD_NO;
	r->queued = true;
	enum MHD_Result ret = MHD_queue_response(r->c, r->status, r->resp);
	MHD_destroy_response(r->resp);
	r->resp = NULL;
	return ret;
}

/* ---------------------------------------------------------------- streams */

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	struct http_stream *st = cls;
	struct http_server *s = st->s;
	pthread_mutex_lock(&s->lock);
	bool stopping = s->stopping;
	st->pending_wake = false;
	pthread_mutex_unlock(&s->lock);
	if (stopping)
		return MHD_CONTENT_READER_END_OF_STREAM;
	ssize_t n = st->read(st->ud, buf, max);
	if (n < 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (n > 0)
		return n;
	pthread_mutex_lock(&s->lock);
	/* A wake that arrived while we were reading must not be lost: read again next round. */
	if (!st->pending_wake && !s->stopping) {
		st->suspended = true;
		MHD_suspend_connection(st->c);
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static void stream_free(void *cls)
{
	struct http_stream *st = cls;
	struct http_server *s = st->s;
	pthread_mutex_lock(&s->lock);
	if (st->prev)
		st->prev->next = st->next;
	else
		s->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	pthread_mutex_unlock(&s->lock);
	if (st->done)
		st->done(st->ud);
	free(st);
}

struct http_stream *http_reply_stream(struct http_req *r, unsigned status, const char *content_type,
				      ssize_t (*read)(void *ud, char *buf, size_t cap),
				      void (*done)(void *ud), void *ud)
{
	if (r->replied) {
		if (done)
			done(ud);
		return NULL;
	}
	struct http_stream *st = calloc(1, sizeof(*st));
	if (!st) {
		if (done)
			done(ud);
		http_reply_error(r, 500, "out of memory");
		return NULL;
	}
	*st = (struct http_stream){
		.s = r->s, .req = r, .c = r->c, .read = read, .done = done, .ud = ud
	};
	struct MHD_Response *resp = MHD_create_response_from_callback(
		MHD_SIZE_UNKNOWN, 16 * 1024, stream_reader, st, stream_free);
	if (!resp) {
		free(st);
		if (done)
			done(ud);
		http_reply_error(r, 500, "out of memory");
		return NULL;
	}
	pthread_mutex_lock(&r->s->lock);
	st->next = r->s->streams;
	if (st->next)
		st->next->prev = st;
	r->s->streams = st;
	pthread_mutex_unlock(&r->s->lock);
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	set_response(r, status, resp, content_type);
	r->stream = st;
	return st;
}

void http_stream_wake(struct http_stream *st)
{
	struct http_server *s = st->s;
	pthread_mutex_lock(&s->lock);
	if (st->suspended) {
		st->suspended = false;
		MHD_resume_connection(st->c);
	} else {
		st->pending_wake = true;
	}
	pthread_mutex_unlock(&s->lock);
}

static void resume_all_streams_locked(struct http_server *s)
{
	for (struct http_stream *st = s->streams; st; st = st->next) {
		if (st->suspended) {
			st->suspended = false;
			MHD_resume_connection(st->c);
		}
	}
}

static void *ticker_main(void *arg)
{
	struct http_server *s = arg;
	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += HTTP_STREAM_TICK_MS / 1000;
		pthread_cond_timedwait(&s->cond, &s->lock, &ts);
		resume_all_streams_locked(s);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ---------------------------------------------------------------- mTLS */

static void vref_put_locked(struct verifier_ref *vr)
{
	if (vr && --vr->refs == 0) {
		x509_verifier_free(vr->v);
		free(vr);
	}
}

/* Builds a verifier from the server's CA file and restrictions and the CRL file crl_path. */
static struct verifier_ref *vref_new(struct http_server *s, const char *crl_path, char *err,
				     size_t errlen)
{
	struct verifier_ref *vr = calloc(1, sizeof(*vr));
	if (!vr) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	vr->refs = 1;
	vr->v = x509_verifier_new(s->client_ca_path, crl_path, err, errlen);
	if (!vr->v) {
		free(vr);
		return NULL;
	}
	if (x509_verifier_restrict(vr->v, s->client_flags, s->client_cn) < 0) {
		snprintf(err, errlen, "bad client certificate restrictions (CN too long?)");
		x509_verifier_free(vr->v);
		free(vr);
		return NULL;
	}
	return vr;
}

int http_server_reload_client_crl(struct http_server *s, const char *crl_path, char *err,
				  size_t errlen)
{
	if (!s || !s->client_ca_path || !crl_path) {
		snprintf(err, errlen, "this server does not check client certificates");
		return -EINVAL;
	}
	struct verifier_ref *vr = vref_new(s, crl_path, err, errlen);
	if (!vr)
		return -EINVAL;
	pthread_mutex_lock(&s->vlock);
	struct verifier_ref *old = s->vref;
	s->vref = vr;
	s->vgen++;
	vref_put_locked(old);
	pthread_mutex_unlock(&s->vlock);
	return 0;
}

static void verify_peer(struct http_server *s, struct http_req *r)
{
	struct conn_state *cs = r->cs;
	if (!cs)
		return;
	pthread_mutex_lock(&s->vlock);
	struct verifier_ref *vr = s->vref;
	unsigned gen = s->vgen;
	if (cs->verified != 0 && cs->gen == gen) {
		pthread_mutex_unlock(&s->vlock);
		return;
	}
	vr->refs++;
	pthread_mutex_unlock(&s->vlock);
	free(cs->subject);
	cs->subject = NULL;
	cs->why[0] = '\0';
	cs->verified = -1;
	cs->gen = gen;
	int rc = -1;
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (!ci || !ci->tls_session) {
		snprintf(cs->why, sizeof(cs->why), "no TLS session");
		goto out;
	}
	gnutls_session_t sess = (gnutls_session_t)ci->tls_session;
	unsigned n = 0;
	const gnutls_datum_t *peers = gnutls_certificate_get_peers(sess, &n);
	if (!peers || n == 0) {
		snprintf(cs->why, sizeof(cs->why), "no client certificate");
		goto out;
	}
	if (n > 8)
		n = 8;
	const unsigned char *der[8];
	size_t len[8];
	for (unsigned i = 0; i < n; i++) {
		der[i] = peers[i].data;
		len[i] = peers[i].size;
	}
	rc = x509_verifier_check(vr->v, der, len, n, 0, cs->why, sizeof(cs->why));
	if (rc < 0)
		goto out;
	gnutls_x509_crt_t crt;
	if (gnutls_x509_crt_init(&crt) == 0) {
		if (gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) == 0) {
			gnutls_datum_t dn = { 0 };
			if (gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0) {
				cs->subject = strndup((const char *)dn.data, dn.size);
				gnutls_free(dn.data);
			}
		}
		gnutls_x509_crt_deinit(crt);
	}
	cs->verified = 1;
out:
	pthread_mutex_lock(&s->vlock);
	vref_put_locked(vr);
	pthread_mutex_unlock(&s->vlock);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	(void)c;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_context = calloc(1, sizeof(struct conn_state));
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		struct conn_state *cs = *socket_context;
		if (cs) {
			free(cs->subject);
			free(cs);
		}
		*socket_context = NULL;
	}
}

/* ---------------------------------------------------------------- workers */

static void *worker_main(void *arg)
{
	struct http_req *r = arg;
	struct http_server *s = r->s;
	r->route->handler(r);
	if (!r->replied)
		http_reply_error(r, 500, "handler sent no reply");
	pthread_mutex_lock(&s->lock);
	r->worker = WORKER_DONE;
	MHD_resume_connection(r->c);
	s->workers--;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static enum MHD_Result start_worker(struct http_req *r)
{
	struct http_server *s = r->s;
	pthread_mutex_lock(&s->lock);
	if (s->workers >= HTTP_WORKERS_MAX || s->stopping) {
		pthread_mutex_unlock(&s->lock);
		http_reply_error(r, 503, "server busy");
		return queue(r);
	}
	s->workers++;
	r->worker = WORKER_RUNNING;
	MHD_suspend_connection(r->c);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	pthread_t t;
	int rc = pthread_create(&t, &attr, worker_main, r);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		s->workers--;
		r->worker = WORKER_DONE;
		MHD_resume_connection(r->c);
		pthread_mutex_unlock(&s->lock);
		http_reply_error(r, 503, "server busy");
		return MHD_YES; /* queued on the call that follows the resume */
	}
	pthread_mutex_unlock(&s->lock);
	return MHD_YES;
}

/* ---------------------------------------------------------------- access handler */

static void default_not_found(struct http_req *r, int why)
{
	if (why == -ENOENT && r->s->o.not_found) {
		r->s->o.not_found(r);
		if (r->replied)
			return;
	}
	if (why == -EPERM)
		http_reply_error(r, 405, "Method not allowed");
	else
		http_reply_error(r, 404, "Not found");
}

static size_t route_body_max(const struct http_route *rt)
{
	if (rt->body == HTTP_BODY_STREAM)
		return rt->body_max ? rt->body_max : SIZE_MAX;
	size_t m = rt->body_max ? rt->body_max : HTTP_BODY_MAX_DEFAULT_BYTES;
	return m > HTTP_BODY_MAX_CEILING_BYTES ? HTTP_BODY_MAX_CEILING_BYTES : m;
}

/* Decides on the headers alone. Returns true when a reply is already stored. */
static bool first_call(struct http_req *r)
{
	struct http_server *s = r->s;
	/* Content-Length first: whether a body is on its way decides how an early refusal is sent. */
	const char *cl = MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, "Content-Length");
	if (cl) {
		uint64_t v;
		if (util_parse_u64(cl, INT64_MAX, &v) < 0) {
			http_reply_error(r, 400, "bad Content-Length");
			return true;
		}
		r->content_length = (int64_t)v;
	}
	if (s->client_ca_path) {
		verify_peer(s, r);
		if (!r->cs || r->cs->verified != 1) {
			http_reply_error(r, 403, "client certificate required");
			return true;
		}
	}
	if (strlen(r->path) > HTTP_PATH_MAX_BYTES) {
		http_reply_error(r, 414, "URI too long");
		return true;
	}
	if (s->o.gate && s->o.gate(r) < 0) {
		if (!r->replied)
			http_reply_error(r, 403, "Forbidden");
		return true;
	}
	if (!r->mbit) {
		http_reply_error(r, 405, "Method not allowed");
		return true;
	}
	int rc = route_find(r);
	if (rc < 0) {
		default_not_found(r, rc);
		return true;
	}
	if (r->content_length >= 0 && (uint64_t)r->content_length > route_body_max(r->route)) {
		http_reply_error(r, 413, "request body too large");
		return true;
	}
	if (r->route->body == HTTP_BODY_STREAM && r->route->body_begin) {
		r->body_started = true;
		if (r->route->body_begin(r) < 0) {
			if (!r->replied)
				http_reply_error(r, 500, "upload refused");
			return true;
		}
	}
	return false;
}

static void take_chunk(struct http_req *r, const char *data, size_t len)
{
	const struct http_route *rt = r->route;
	size_t max = route_body_max(rt);
	if (len > max - r->body_seen) {
		http_reply_error(r, 413, "request body too large");
		return;
	}
	r->body_seen += len;
	switch (rt->body) {
	case HTTP_BODY_NONE:
		return;
	case HTTP_BODY_BUFFER:
		if (r->body_len + len + 1 > r->body_cap) {
			size_t cap = r->body_cap ? r->body_cap : 4096;
			while (cap < r->body_len + len + 1)
				cap *= 2;
			char *nb = realloc(r->body, cap);
			if (!nb) {
				http_reply_error(r, 500, "out of memory");
				return;
			}
			r->body = nb;
			r->body_cap = cap;
		}
		memcpy(r->body + r->body_len, data, len);
		r->body_len += len;
		r->body[r->body_len] = '\0';
		return;
	case HTTP_BODY_STREAM:
		if (rt->body_chunk && rt->body_chunk(r, data, len) < 0 && !r->replied)
			http_reply_error(r, 500, "upload failed");
		return;
	}
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
				 const char *method, const char *version, const char *upload_data,
				 size_t *upload_data_size, void **con_cls)
{
	(void)version;
	struct http_server *s = cls;
	struct http_req *r = *con_cls;
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		*con_cls = r;
		pthread_mutex_lock(&s->lock);
		s->active++;
		pthread_mutex_unlock(&s->lock);
		r->s = s;
		r->c = c;
		r->t0_us = now_us();
		r->method = method;
		r->mbit = method_bit(method);
		r->content_length = -1;
		r->path = strdup(url);
		if (!r->path)
			return MHD_NO;
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		r->cs = ci ? ci->socket_context : NULL;
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		if (ci && ci->client_addr) {
			const struct sockaddr *sa = ci->client_addr;
			if (sa->sa_family == AF_INET)
				inet_ntop(AF_INET,
					  &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
					  r->client, sizeof(r->client));
			else if (sa->sa_family == AF_INET6)
				inet_ntop(
					AF_INET6,
					&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
					r->client, sizeof(r->client));
		}
		bool early = first_call(r);
		/* A refused request with a body on the way: answer now and let MHD close. */
		bool has_body =
			r->content_length > 0 ||
			MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
		if (early && has_body)
			return queue(r);
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (!r->replied) {
			take_chunk(r, upload_data, n);
			return MHD_YES;
		}
		if (r->queued)
			return MHD_YES;
		/* libmicrohttpd cannot queue a reply while a body is arriving: the refusal is sent
		 * when the body ends. Discard what still comes, up to a bound; past it, close. */
		r->discarded += n;
		return r->discarded > HTTP_DISCARD_MAX_BYTES ? MHD_NO : MHD_YES;
	}
	if (r->queued)
		return MHD_YES;
	if (r->replied || r->worker == WORKER_DONE)
		return queue(r);
	if (r->worker == WORKER_RUNNING)
		return MHD_YES;
	if (r->route->flags & HTTP_ROUTE_BLOCKING)
		return start_worker(r);
	r->route->handler(r);
	return queue(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)c;
	(void)toe;
	struct http_server *s = cls;
	struct http_req *r = *con_cls;
	if (!r)
		return;
	*con_cls = NULL;
	if (s->o.on_complete)
		s->o.on_complete(s->o.app,
				 r->route ? (r->route->name ? r->route->name : r->route->pattern)
					  : "",
				 r->method, r->status, now_us() - r->t0_us);
	if (r->route && r->route->cleanup)
		r->route->cleanup(r);
	if (r->resp)
		MHD_destroy_response(r->resp);
	for (size_t i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	params_clear(r);
	free(r->body);
	free(r->path);
	free(r);
	pthread_mutex_lock(&s->lock);
	s->active--;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* libmicrohttpd hands us its own printf-style format; it is not ours to check. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *s = cls;
	if (!s->o.log)
		return;
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	size_t n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	int64_t now = util_mono_ms();
	unsigned suppressed = 0;
	pthread_mutex_lock(&s->lock);
	if (now - s->log_window_ms >= 1000) {
		s->log_window_ms = now;
		s->log_in_window = 0;
	}
	bool emit = s->log_in_window < HTTP_LOG_PER_SECOND_MAX;
	if (emit) {
		s->log_in_window++;
		suppressed = s->log_suppressed;
		s->log_suppressed = 0;
	} else {
		s->log_suppressed++;
	}
	pthread_mutex_unlock(&s->lock);
	if (!emit)
		return;
	if (suppressed) {
		char note[96];
		snprintf(note, sizeof(note), "%u similar messages suppressed", suppressed);
		s->o.log(s->o.app, note);
	}
	s->o.log(s->o.app, buf);
}
#pragma GCC diagnostic pop

/* ---------------------------------------------------------------- request accessors */

void *http_req_app(struct http_req *r)
{
	return r->s->o.app;
}
const char *http_req_method(struct http_req *r)
{
	return r->method;
}
unsigned http_req_method_bit(struct http_req *r)
{
	return r->mbit;
}
const char *http_req_path(struct http_req *r)
{
	return r->path;
}
const char *http_req_route_name(struct http_req *r)
{
	if (!r->route)
		return "";
	return r->route->name ? r->route->name : r->route->pattern;
}
const char *http_req_param(struct http_req *r, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < r->nparams; i++)
		if (r->params[i].name_len == n && memcmp(r->params[i].name, name, n) == 0)
			return r->params[i].value;
	return NULL;
}
const char *http_req_query(struct http_req *r, const char *key)
{
	return MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, key);
}
const char *http_req_query_n(struct http_req *r, const char *key, size_t *len)
{
	const char *v = NULL;
	size_t n = 0;
	if (MHD_lookup_connection_value_n(r->c, MHD_GET_ARGUMENT_KIND, key, strlen(key), &v, &n) !=
	    MHD_YES)
		return NULL;
	*len = v ? n : 0;
	return v ? v : "";
}
bool http_req_has_query(struct http_req *r, const char *key)
{
	const char *v = NULL;
	return MHD_lookup_connection_value_n(r->c, MHD_GET_ARGUMENT_KIND, key, strlen(key), &v,
					     NULL) == MHD_YES;
}
const char *http_req_header(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, name);
}
const char *http_req_body(struct http_req *r, size_t *len)
{
	if (len)
		*len = r->body_len;
	return r->body ? r->body : "";
}
int64_t http_req_content_length(struct http_req *r)
{
	return r->content_length;
}
const char *http_req_client_addr(struct http_req *r)
{
	return r->client;
}
const char *http_req_peer_subject(struct http_req *r)
{
	return r->cs && r->cs->verified == 1 ? r->cs->subject : NULL;
}
bool http_req_is_tls(struct http_req *r)
{
	return r->s->cert_pem != NULL;
}
void http_req_set_ctx(struct http_req *r, void *ctx)
{
	r->ctx = ctx;
}
void *http_req_ctx(struct http_req *r)
{
	return r->ctx;
}
void *http_req_auth(struct http_req *r)
{
	return r->auth;
}

/* ---------------------------------------------------------------- lifecycle */

/* Parses "host:port", "[v6]:port" or ":port" and binds a listening socket. */
static int bind_listen(const char *addr, int *fd_out, unsigned *port_out, bool *v6, char *err,
		       size_t errlen)
{
	char host[256];
	const char *colon;
	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');
		if (!end || end[1] != ':') {
			snprintf(err, errlen, "bad listen address '%s'", addr);
			return -EINVAL;
		}
		size_t hl = (size_t)(end - addr - 1);
		if (hl >= sizeof(host)) {
			snprintf(err, errlen, "bad listen address '%s'", addr);
			return -EINVAL;
		}
		memcpy(host, addr + 1, hl);
		host[hl] = '\0';
		colon = end + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || (size_t)(colon - addr) >= sizeof(host)) {
			snprintf(err, errlen, "bad listen address '%s' (want host:port)", addr);
			return -EINVAL;
		}
		memcpy(host, addr, (size_t)(colon - addr));
		host[colon - addr] = '\0';
	}
	uint64_t port;
	if (util_parse_u64(colon + 1, 65535, &port) < 0) {
		snprintf(err, errlen, "bad port in listen address '%s'", addr);
		return -EINVAL;
	}
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	socklen_t sl;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	if (host[0] == '\0' || inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		if (host[0] == '\0')
			a4->sin_addr.s_addr = htonl(INADDR_ANY);
		sl = sizeof(*a4);
		*v6 = false;
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		sl = sizeof(*a6);
		*v6 = true;
	} else if (strcmp(host, "localhost") == 0) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*a4);
		*v6 = false;
	} else {
		snprintf(err, errlen, "listen host '%s' must be an IP address", host);
		return -EINVAL;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -errno;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (*v6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, SOMAXCONN) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(e));
		close(fd);
		return -e;
	}
	struct sockaddr_storage bound;
	socklen_t bl = sizeof(bound);
	getsockname(fd, (struct sockaddr *)&bound, &bl);
	*port_out = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
						      : ((struct sockaddr_in *)&bound)->sin_port);
	*fd_out = fd;
	return 0;
}

struct http_server *http_server_start(const struct http_server_opts *o, char *err, size_t errlen)
{
	struct http_server *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->o = *o;
	s->listen_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->vlock, NULL);
	pthread_cond_init(&s->cond, NULL);
	bool v6 = false;
	if (bind_listen(o->listen_addr, &s->listen_fd, &s->port, &v6, err, errlen) < 0)
		goto fail;
	unsigned flags =
		MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (v6)
		flags |= MHD_USE_IPv6;
	if (o->tls) {
		flags |= MHD_USE_TLS;
		s->cert_pem = strdup(o->tls->cert_pem);
		s->key_pem = strdup(o->tls->key_pem);
		if (!s->cert_pem || !s->key_pem) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		if (o->tls->client_ca_path) {
			s->client_ca_path = strdup(o->tls->client_ca_path);
			s->client_cn = o->tls->client_cn ? strdup(o->tls->client_cn) : NULL;
			s->client_flags = o->tls->client_require_eku ? X509_VERIFY_CLIENT_EKU : 0;
			if (!s->client_ca_path || (o->tls->client_cn && !s->client_cn)) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			s->vref = vref_new(s, o->tls->client_crl_path, err, errlen);
			if (!s->vref)
				goto fail;
			FILE *f = fopen(o->tls->client_ca_path, "re");
			if (!f) {
				snprintf(err, errlen, "cannot read %s", o->tls->client_ca_path);
				goto fail;
			}
			s->trust_pem = calloc(1, 1 << 20);
			size_t n = s->trust_pem ? fread(s->trust_pem, 1, (1 << 20) - 1, f) : 0;
			fclose(f);
			if (!s->trust_pem || n == 0) {
				snprintf(err, errlen, "cannot read %s", o->tls->client_ca_path);
				goto fail;
			}
		}
	}
	struct MHD_OptionItem opts[16];
	size_t k = 0;
	opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, s };
	opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET, s->listen_fd, NULL };
	opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE,
					     o->threads ? o->threads : HTTP_THREADS_DEFAULT, NULL };
	opts[k++] =
		(struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT,
					 o->conn_limit ? o->conn_limit : HTTP_CONN_LIMIT_DEFAULT,
					 NULL };
	opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT,
					     o->per_ip_limit ? o->per_ip_limit
							     : HTTP_PER_IP_LIMIT_DEFAULT,
					     NULL };
	opts[k++] =
		(struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT,
					 o->timeout_s ? o->timeout_s : HTTP_CONN_TIMEOUT_DEFAULT_S,
					 NULL };
	opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT,
					     HTTP_HEADER_MAX_BYTES, NULL };
	opts[k++] =
		(struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s };
	opts[k++] =
		(struct MHD_OptionItem){ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, s };
	if (o->tls) {
		opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert_pem };
		opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, s->key_pem };
		opts[k++] = (struct MHD_OptionItem){
			MHD_OPTION_HTTPS_PRIORITIES, 0,
			(void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
		};
		if (s->trust_pem)
			opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0,
							     s->trust_pem };
	}
	opts[k++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s, MHD_OPTION_ARRAY, opts,
				MHD_OPTION_END);
	if (!s->d) {
		snprintf(err, errlen,
			 "cannot start the HTTP server on %s (bad TLS key or certificate?)",
			 o->listen_addr);
		goto fail;
	}
	s->listen_fd = -1; /* owned by MHD now */
	if (pthread_create(&s->ticker, NULL, ticker_main, s) != 0) {
		snprintf(err, errlen, "cannot start the stream ticker");
		goto fail;
	}
	s->ticker_started = true;
	return s;
fail:
	http_server_stop(s);
	return NULL;
}

unsigned http_server_port(const struct http_server *s)
{
	return s->port;
}

void http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->cond);
	/* Workers finish their command (bounded by its timeout) and resume their connection. */
	while (s->workers > 0)
		pthread_cond_wait(&s->cond, &s->lock);
	resume_all_streams_locked(s);
	pthread_mutex_unlock(&s->lock);
	if (s->ticker_started)
		pthread_join(s->ticker, NULL);
	if (s->d) {
		/* Let requests in flight finish sending their reply (a worker's answer, the end of a
		 * stream), for at most HTTP_STOP_GRACE_MS; then close whatever is left. */
		struct timespec deadline;
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += HTTP_STOP_GRACE_MS / 1000;
		pthread_mutex_lock(&s->lock);
		while (s->active > 0) {
			resume_all_streams_locked(s);
			struct timespec step;
			clock_gettime(CLOCK_REALTIME, &step);
			step.tv_nsec += 20 * 1000 * 1000;
			if (step.tv_nsec >= 1000000000L) {
				step.tv_sec++;
				step.tv_nsec -= 1000000000L;
			}
			if (step.tv_sec > deadline.tv_sec ||
			    (step.tv_sec == deadline.tv_sec && step.tv_nsec > deadline.tv_nsec))
				break;
			pthread_cond_timedwait(&s->cond, &s->lock, &step);
		}
		resume_all_streams_locked(s);
		pthread_mutex_unlock(&s->lock);
		MHD_stop_daemon(s->d);
	}
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->vref) /* every check in flight has ended: the connections are closed */
		vref_put_locked(s->vref);
	free(s->client_ca_path);
	free(s->client_cn);
	pthread_mutex_destroy(&s->vlock);
	if (s->key_pem) {
		explicit_bzero(s->key_pem, strlen(s->key_pem));
		free(s->key_pem);
	}
	free(s->cert_pem);
	free(s->trust_pem);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}
