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
 * --cacert when given, else the system store). Credentials are either Basic auth (the agent) or
 * a bearer token (cloisterd), never both: a client given both is refused. A token is sent only
 * when it is plain header text (visible ASCII), so a corrupt one cannot inject header lines.
 * The reply's Location header is kept (cloisterd names a created resource there).
 *
 * The reply parsers at the end (error message, follow-stream lines and events, upload, action and
 * health replies) are pure functions of the bytes the agent sent, so fuzz/fuzz_cli_reply.c can
 * run them without a network; every string they return has had its control characters replaced.
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
	const char *bearer;   /* "Authorization: Bearer <bearer>"; NULL = none. Not with password */
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
	char *location;     /* the Location header (trimmed, control characters replaced), NULL
			     * when absent; at most CLI_URL_MAX_BYTES */
};

/* A 2xx reply. */
static inline bool client_resp_2xx(const struct client_resp *r)
{
	return r->status >= 200 && r->status < 300;
}

struct client;

/* NULL on ENOMEM, when libcurl cannot start, or when both password and bearer are set. */
struct client *client_new(const struct client_opts *o);
void client_free(struct client *c);

/* Replaces the bearer token for the next requests (borrowed: it must outlive its use; NULL
 * removes it). Returns 0, or -EINVAL on a client that sends Basic auth. */
int client_set_bearer(struct client *c, const char *bearer);

/*
 * Performs one request. Returns 0 when a reply arrived (whatever its status; r filled, caller
 * calls client_resp_done), or: -E2BIG the reply passed CLI_RESPONSE_MAX_BYTES, -ECANCELED *stop
 * was set, -EPIPE the sink or the reader stopped the transfer, -ENOMEM, -EINVAL a bad URL or a
 * bearer token that is not visible ASCII, -EIO a transport failure. On failure err holds a one-line reason (curl's message for -EIO).
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

/* ---------------------------------------------------------------- reply parsers */

/*
 * Splits a follow stream into lines as its bytes arrive: each complete line (without its '\n')
 * goes to on_line. The caller owns buf (cap bytes, CLI_STREAM_LINE_MAX_BYTES in the CLI). Returns
 * 0, -E2BIG when a line passes cap bytes, or on_line's negative return. A last line without '\n'
 * stays in buf: an event cut by the end of the stream is never shown.
 */
struct client_lines {
	char *buf;
	size_t cap, len;
};
int client_lines_feed(struct client_lines *l, const char *data, size_t len,
		      int (*on_line)(const char *line, size_t len, void *ud), void *ud);

/*
 * One line of a follow stream as it is printed, '\n'-terminated: with json the line itself (one
 * trailing '\r' dropped), else "<received_at without its fraction> \t <message>" as /logs prints
 * it, control characters replaced. Returns 0 with *out (caller frees; NULL and *out_len 0 for an
 * empty keep-alive line), -EPROTO when the line is not a JSON object with string received_at and
 * message, -ENOMEM.
 */
int client_event_format(const char *line, size_t len, bool json, char **out, size_t *out_len);

enum client_sha_check {
	CLIENT_SHA_ABSENT,    /* no "sha256" string: not a cloister-agent, nothing to verify */
	CLIENT_SHA_MATCH,     /* equal (case-insensitively) to the digest of the bytes sent */
	CLIENT_SHA_MISMATCH,  /* 64 characters, but another digest */
	CLIENT_SHA_MALFORMED, /* a string of another length */
};

struct client_upload_check {
	enum client_sha_check sha;
	char remote[65]; /* the agent's digest (first 64 bytes, lowercased, control characters
			  * replaced), for MISMATCH */
	bool size_ok;    /* "size_bytes" (number or decimal string) absent or equal to the size */
	char *file;      /* the agent's "file" (control characters replaced), NULL when absent */
	size_t file_len;
};

/* Checks an upload reply against what was sent (local_hex: lowercase SHA-256 hex). Returns 0
 * with u filled (client_upload_check_done frees it) or -ENOMEM. A body that is not JSON is a
 * reply without a digest. */
int client_upload_check(const char *body, size_t len, const char *local_hex, uint64_t size,
			struct client_upload_check *u);
void client_upload_check_done(struct client_upload_check *u);

struct client_action_reply {
	const char *out, *err; /* the action's stdout and stderr, raw bytes (NULL when absent) */
	size_t out_len, err_len;
	bool out_truncated, err_truncated;
	bool has_code;
	long long code; /* "exit_code", when has_code */
	void *doc;      /* owns out and err */
};

/* Parses an action reply (any body: fields that are missing or mistyped are absent). a owns
 * what it points to until client_action_reply_done. */
void client_action_reply_parse(const char *body, size_t len, struct client_action_reply *a);
void client_action_reply_done(struct client_action_reply *a);
/* The CLI's exit code for an action reply with this HTTP status (see cli.h): 0..255. */
int client_action_exit_code(long status, const struct client_action_reply *a);

/* The line `cloister agent health` prints for a /livez or /readyz reply, without '\n':
 * "<what>: <status>[ (HTTP n)][, version v][, auth on|off][, tls on|off][, last event n]", into
 * out (cap bytes, always terminated), control characters replaced. */
void client_health_line(const char *what, const struct client_resp *r, char *out, size_t cap);

/* Percent-encodes every byte outside RFC 3986's unreserved set. Caller frees; NULL on ENOMEM. */
char *client_escape(const char *s, size_t len);

/* Replaces bytes that would drive a terminal (C0 controls except '\t' and '\n', DEL) with '?',
 * in place. */
void client_sanitize(char *s, size_t len);

#endif
