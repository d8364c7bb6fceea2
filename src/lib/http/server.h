/*
 * http/server.h - the HTTP(S) server both daemons use, on libmicrohttpd.
 *
 * A program declares a routing table (method mask, path pattern with {params}, body mode and
 * limit, handler) and starts a server on an address. The server:
 *  - queues responses on the second call of libmicrohttpd's access handler (keep-alive works);
 *  - enforces a total and a per-IP connection limit, an idle connection timeout and a header
 *    memory cap (HTTP_HEADER_MAX_BYTES), and a body limit per route (413 before the body is read
 *    when Content-Length says so; for a chunked body, once it ends, reading and discarding at
 *    most HTTP_DISCARD_MAX_BYTES past the limit before closing the connection instead);
 *  - with a client CA configured (mTLS), verifies the peer chain with OpenSSL (x509.h) once per
 *    connection (again after http_server_reload_client_crl) and answers 403 before any gate or
 *    handler runs when it is missing or untrusted;
 *  - runs the program's gate (authentication) before routing, so unknown paths are protected too;
 *  - runs handlers flagged HTTP_ROUTE_BLOCKING on a worker thread with the connection suspended,
 *    so a slow command never holds one of the (few) polling threads;
 *  - streams responses of unknown length (follow mode) with suspend/resume, so an idle stream
 *    costs no CPU; a ticker wakes idle streams every HTTP_STREAM_TICK_MS so they can send
 *    heartbeats and notice closed clients.
 *
 * Ownership: a struct http_req is borrowed by handlers until the request completes. Strings
 * returned by http_req_* are borrowed for the same time. Thread safety: handlers run on the
 * server's threads concurrently; everything a handler touches must be thread-safe.
 * Library code: no logging (errors go to the program through http_server_opts.log).
 */
#ifndef CLOISTER_HTTP_SERVER_H
#define CLOISTER_HTTP_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_HEADER_MAX_BYTES (12u * 1024)       /* per-connection memory for headers (and reads) */
#define HTTP_BODY_MAX_DEFAULT_BYTES (64u * 1024) /* buffered body default */
#define HTTP_BODY_MAX_CEILING_BYTES (64u << 20)  /* buffered bodies never exceed this */
#define HTTP_CONN_LIMIT_DEFAULT 256
#define HTTP_PER_IP_LIMIT_DEFAULT 64
#define HTTP_CONN_TIMEOUT_DEFAULT_S 30
#define HTTP_THREADS_DEFAULT 2
#define HTTP_WORKERS_MAX 64 /* blocking handlers running at once; 503 past it */
#define HTTP_ROUTE_PARAMS_MAX 4
#define HTTP_PATH_MAX_BYTES 2048
#define HTTP_STREAM_TICK_MS 1000
#define HTTP_LOG_PER_SECOND_MAX 10 /* library diagnostics passed to opts.log; the rest counted */
#define HTTP_STOP_GRACE_MS 5000    /* stop waits this long for replies in flight */
#define HTTP_DISCARD_MAX_BYTES (1u << 20) /* body read after a mid-body refusal, then close */
#define HTTP_REQ_AUTH_BYTES 256           /* per-request space for the gate's principal */

enum http_method {
	HTTP_GET = 1 << 0,
	HTTP_HEAD = 1 << 1,
	HTTP_POST = 1 << 2,
	HTTP_PUT = 1 << 3,
	HTTP_DELETE = 1 << 4,
	HTTP_PATCH = 1 << 5,
};

enum http_body_mode {
	HTTP_BODY_NONE = 0, /* a body is read and discarded up to body_max, 413 past it */
	HTTP_BODY_BUFFER,   /* collected in memory up to body_max (413 past it) */
	HTTP_BODY_STREAM,   /* handed to body_chunk as it arrives */
};

enum http_route_flags {
	HTTP_ROUTE_BLOCKING = 1 << 0, /* the handler runs on a worker thread */
};

struct http_req;

struct http_route {
	unsigned methods;    /* enum http_method mask */
	const char *pattern; /* "/api/v1/actions/{name}": a {param} matches one non-empty segment;
	                        a trailing "/{param*}" matches the rest of the path */
	void (*handler)(struct http_req *req); /* must reply (http_reply*) before returning */
	enum http_body_mode body;
	size_t body_max;  /* bytes; 0 = HTTP_BODY_MAX_DEFAULT_BYTES (NONE/BUFFER) or unlimited
	                        (STREAM, the route enforces its own limit) */
	unsigned flags;   /* enum http_route_flags */
	const char *name; /* label for metrics and logs; defaults to pattern */
	/* HTTP_BODY_STREAM only: called once before the first chunk (0 to continue, or reply with
	 * an error and return <0), then per chunk (0, or reply and return <0 to stop reading). */
	int (*body_begin)(struct http_req *req);
	int (*body_chunk)(struct http_req *req, const char *data, size_t len);
	/* Called once when the request ends for any reason (also after an aborted upload). */
	void (*cleanup)(struct http_req *req);
};

struct http_tls_opts {
	const char *cert_pem;        /* server certificate chain, PEM text */
	const char *key_pem;         /* private key, PEM text (wiped by the caller) */
	const char *client_ca_path;  /* non-NULL: mTLS, only certificates from this CA pass */
	const char *client_crl_path; /* optional CRL (PEM) for client certificates */
	/* mTLS only: require the clientAuth extended key usage (not merely its absence), and,
	 * when non-NULL and non-empty, exactly this subject CN (x509_verifier_restrict). */
	bool client_require_eku;
	const char *client_cn;
};

struct http_server_opts {
	const char *listen_addr; /* "127.0.0.1:3535", "[::1]:0", "0.0.0.0:3535", ":3535" */
	const struct http_route *routes;
	size_t nroutes;
	void *app;                                             /* returned by http_req_app() */
	const struct http_tls_opts *tls;                       /* NULL = plain HTTP */
	unsigned conn_limit, per_ip_limit, timeout_s, threads; /* 0 = defaults above */
	/* Called before routing for every request; return 0 to continue, or reply (e.g. 401) and
	 * return <0. NULL = no gate. */
	int (*gate)(struct http_req *req);
	/* Reply for an unknown path / a known path with another method. NULL = the defaults
	 * ({"code":404,"message":"Not found"} style via http_reply_error). */
	void (*not_found)(struct http_req *req);
	/* Called when a request completes, with the route name ("" when no route matched), the
	 * status sent and the time from first byte to completion. */
	void (*on_complete)(void *app, const char *route, const char *method, unsigned status,
			    int64_t duration_us);
	/* Diagnostics the library cannot log itself (bind errors, libmicrohttpd errors). */
	void (*log)(void *app, const char *msg);
};

struct http_server;

/* Binds and starts the server. Returns NULL on failure with the reason in err. */
struct http_server *http_server_start(const struct http_server_opts *o, char *err, size_t errlen);
/* The bound port (useful with port 0). */
unsigned http_server_port(const struct http_server *s);
/* Stops accepting, ends streams, waits for workers, frees. NULL ok. */
void http_server_stop(struct http_server *s);

/*
 * Replaces the client-certificate verifier of a running mTLS server with one built from the same
 * CA file and restrictions and the CRL file crl_path (PEM), atomically: a handshake being checked
 * keeps the verifier it started with (reference counted), new connections and the next request
 * of every open connection are checked with the new one, so a revoked client is refused without
 * a restart. On any error (unreadable or malformed CRL) the old verifier stays and the reason is
 * in err. Returns 0, -EINVAL (no mTLS on this server), or the x509 error. Thread-safe.
 */
int http_server_reload_client_crl(struct http_server *s, const char *crl_path, char *err,
				  size_t errlen);

/* --- request accessors (borrowed until the request ends) --- */
void *http_req_app(struct http_req *req);
const char *http_req_method(struct http_req *req);
unsigned http_req_method_bit(struct http_req *req);
const char *http_req_path(struct http_req *req);
const char *http_req_route_name(struct http_req *req);
/* Path parameter by name ("name" for "{name}"), already percent-decoded; NULL if absent. */
const char *http_req_param(struct http_req *req, const char *name);
/* Query argument (percent- and '+'-decoded); NULL if absent. */
const char *http_req_query(struct http_req *req, const char *key);
/* The same with the decoded length, which differs from strlen when the value held %00. */
const char *http_req_query_n(struct http_req *req, const char *key, size_t *len);
/* True when the raw query string contains the key (even with no value). */
bool http_req_has_query(struct http_req *req, const char *key);
const char *http_req_header(struct http_req *req, const char *name);
/* The buffered body (HTTP_BODY_BUFFER), NUL-terminated for convenience; len may be NULL. */
const char *http_req_body(struct http_req *req, size_t *len);
/* Content-Length announced by the client, or -1. */
int64_t http_req_content_length(struct http_req *req);
/* Client address text ("127.0.0.1", "::1"). */
const char *http_req_client_addr(struct http_req *req);
/* Verified client certificate subject (mTLS), or NULL. */
const char *http_req_peer_subject(struct http_req *req);
bool http_req_is_tls(struct http_req *req);
/* One pointer of per-request state for the route (freed by the route's cleanup). */
void http_req_set_ctx(struct http_req *req, void *ctx);
void *http_req_ctx(struct http_req *req);
/* HTTP_REQ_AUTH_BYTES of zeroed, max_align_t-aligned per-request space owned by the gate: it
 * records who is calling there, and handlers (on any thread) read it back. No free needed. */
void *http_req_auth(struct http_req *req);

/* --- replies: exactly one per request (later calls are ignored) --- */
/* Adds a header to the reply sent next (at most 16 per request). */
void http_reply_header(struct http_req *req, const char *name, const char *value);
/* Copies body. content_type NULL = no Content-Type header. */
void http_reply(struct http_req *req, unsigned status, const char *content_type, const void *body,
		size_t len);
/* Serialises body compactly followed by "\n" and steals the reference. */
void http_reply_json(struct http_req *req, unsigned status, json_t *body);
/* {"code":status,"message":msg}, the flashbots system-api error shape. */
void http_reply_error(struct http_req *req, unsigned status, const char *msg);

/*
 * Streaming reply of unknown length (chunked). read(ud, buf, cap) returns bytes written (> 0),
 * 0 when there is nothing to send now (the connection is suspended until http_stream_wake or the
 * next tick), or -1 at the end of the stream. done(ud) is called once when the stream ends or
 * the client goes away; after it returns, wake must not be called with this stream any more.
 * Returns a handle for http_stream_wake, or NULL (then a 500 was sent and done was called).
 */
struct http_stream;
struct http_stream *http_reply_stream(struct http_req *req, unsigned status,
				      const char *content_type,
				      ssize_t (*read)(void *ud, char *buf, size_t cap),
				      void (*done)(void *ud), void *ud);
/* Thread-safe; cheap when the stream is not suspended. */
void http_stream_wake(struct http_stream *st);

/* Reason phrase for a status ("Not Found"). */
const char *http_status_text(unsigned status);

#endif
