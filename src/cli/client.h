/*
 * client.h - the CLI's HTTP client: one libcurl easy handle per process, talking to one base URL
 * (a cloister-agent today, cloisterd later).
 *
 * A request is a method, a path (already escaped, with its query) and an optional body, given as
 * bytes in memory or pulled from a reader callback (uploads stream from a file, never read whole).
 * The response body is either collected (capped at CLI_RESPONSE_MAX_BYTES: -E2BIG past it) or,
 * for 2xx replies when the request names a sink, handed to the sink as it arrives (follow
 * streams); error replies are always collected so their message can be shown.
 *
 * Only http and https are allowed, redirects are not followed, TLS peers are verified (against
 * --cacert when given, else the system store), and credentials are sent as Basic auth only.
 *
 * Ownership: the client copies nothing from client_opts except through libcurl; the strings must
 * outlive the client (the caller wipes the password after client_free). A client_resp owns its
 * body until client_resp_done. Thread safety: a client is used by one thread at a time.
 */
#ifndef CLOISTER_CLI_CLIENT_H
#define CLOISTER_CLI_CLIENT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLIENT_ERR_BYTES 320 /* room for libcurl's CURL_ERROR_SIZE (256) message */

struct client_opts {
	const char *url;      /* base, "http[s]://host:port[/prefix]"; a trailing '/' is ignored */
	const char *user;     /* Basic auth user, used only when password is set */
	const char *password; /* NULL = no credentials */
	const char *cacert;   /* PEM file of trusted CAs, NULL = system store */
	const char *cert;     /* client certificate (PEM) for mTLS, with key */
	const char *key;
	long timeout_s; /* whole request; 0 = none. Streams never get one. */
};

struct client_req {
	const char *method;       /* "GET", "POST", ... */
	const char *path;         /* "/api/v1/..." with query, escaped by the caller */
	const char *content_type; /* of the body; NULL = application/octet-stream */
	/* A body in memory (body may be NULL with body_len 0 for an empty POST)... */
	const void *body;
	size_t body_len;
	/* ...or one pulled through read: it fills up to cap bytes and returns the count, 0 at the
	 * end, or (size_t)-1 to abort. read_len is the exact total it will deliver. */
	size_t (*read)(char *buf, size_t cap, void *ud);
	uint64_t read_len;
	void *read_ud;
	/* For a 2xx reply, body bytes go to sink as they arrive (return <0 to stop); the request
	 * then has no total timeout and ends when *stop becomes non-zero (checked at least once a
	 * second), returning -ECANCELED. */
	int (*sink)(const char *data, size_t len, void *ud);
	void *sink_ud;
	const volatile sig_atomic_t *stop;
};

struct client_resp {
	long status; /* HTTP status */
	char *body;  /* collected body, NUL-terminated (never NULL after success) */
	size_t len;
	char *content_type; /* NULL when absent */
};

struct client;

/* NULL on ENOMEM or when libcurl cannot start. */
struct client *client_new(const struct client_opts *o);
void client_free(struct client *c);

/*
 * Performs one request. Returns 0 when a reply arrived (whatever its status; r filled, caller
 * calls client_resp_done), or: -E2BIG the reply passed CLI_RESPONSE_MAX_BYTES, -ECANCELED *stop
 * was set, -EPIPE the sink or the reader stopped the transfer, -ENOMEM, -EINVAL a bad URL,
 * -EIO a transport failure. On failure err holds a one-line reason (curl's message for -EIO).
 */
int client_do(struct client *c, const struct client_req *rq, struct client_resp *r, char *err,
	      size_t errlen);
void client_resp_done(struct client_resp *r);

/*
 * The human message of an error reply, into out (cap bytes, always terminated): the "message"
 * (or "detail") string of a JSON object, else the first line of a short text body, else the
 * status's reason phrase. Control characters are replaced so the agent cannot drive the terminal.
 */
void client_error_message(const struct client_resp *r, char *out, size_t cap);

/* Percent-encodes every byte outside RFC 3986's unreserved set. Caller frees; NULL on ENOMEM. */
char *client_escape(const char *s, size_t len);

/* Replaces bytes that would drive a terminal (C0 controls except '\t' and '\n', DEL) with '?',
 * in place. */
void client_sanitize(char *s, size_t len);

#endif
