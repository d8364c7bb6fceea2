/*
 * session.h - the credentials `cloister login` stores for later commands: which cloisterd, as
 * whom, and the access/refresh token pair it issued.
 *
 * The file is $XDG_CONFIG_HOME/cloister/session.json (XDG_CONFIG_HOME only when it is set to an
 * absolute path, as the XDG spec says), else $HOME/.config/cloister/session.json:
 *   {"server":"https://...","username":"...","access_token":"...","refresh_token":"...",
 *    "cacert":"/abs/ca.pem"}            (cacert only when login was given one)
 * It holds bearer tokens, so it is written atomically (fsx) with mode 0600 in directories
 * created 0700, and a file that group or others may access, or that is not a regular file
 * owned by the user, is refused rather than used: a leaked token is a leaked login.
 *
 * Used by cmd_login.c (save, remove) and by every control-plane command (load, save after a
 * token refresh). Pure file and JSON work: no network, no printing.
 * Ownership: a struct session owns its strings; session_done wipes the tokens and frees all.
 * Thread safety: none needed (the CLI is single-threaded); functions keep no state.
 * Limits: the file is at most SESSION_FILE_MAX_BYTES; each token at most
 * SESSION_TOKEN_MAX_BYTES of visible ASCII (a token is sent in a header line); server and
 * cacert at most SESSION_STRING_MAX_BYTES; username at most SESSION_USERNAME_MAX_BYTES.
 */
#ifndef CLOISTER_CLI_SESSION_H
#define CLOISTER_CLI_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#define SESSION_FILE_MAX_BYTES (64u << 10)
#define SESSION_TOKEN_MAX_BYTES 8192
#define SESSION_STRING_MAX_BYTES 4096
#define SESSION_USERNAME_MAX_BYTES 64

struct session {
	char *server;   /* base URL, never NULL after a successful load/parse */
	char *username; /* never NULL after a successful load/parse */
	char *access_token;
	char *refresh_token;
	char *cacert; /* NULL when absent */
};

/*
 * The session file's path (caller frees), from XDG_CONFIG_HOME or HOME. Returns 0, -ENOENT
 * when neither names an absolute directory, -ENAMETOOLONG, or -ENOMEM.
 */
int session_path(char **out);

/*
 * Parses the content of a session file into s (zeroed first; session_done frees it even on
 * failure). Returns 0, or -EINVAL when it is not one JSON object with the string members
 * above (unknown keys are ignored, for files written by later versions), -E2BIG when len or a
 * member is over its limit, -EPROTO when a token is not visible ASCII or the server is not an
 * http(s) URL, -ENOMEM.
 */
int session_parse(const char *buf, size_t len, struct session *s);

/*
 * Loads path into s. Returns 0; -ENOENT when there is no file; -EACCES when group or others
 * have any permission on it (fix: chmod 600); -EPERM when it is not owned by the effective
 * user; -EISDIR / -EINVAL when it is not a regular file; session_parse's errors; -errno.
 */
int session_load(const char *path, struct session *s);

/*
 * Writes s to path atomically with mode 0600, creating the missing directories of path (the
 * last two components at most: ".config" and "cloister") with mode 0700. Returns 0, -EINVAL
 * when server, username or a token is missing, or -errno. The serialised copy is wiped.
 */
int session_save(const char *path, const struct session *s);

/* Deletes the session file. Returns 0, -ENOENT when there was none, or -errno. */
int session_remove(const char *path);

/* Replaces *slot by a copy of v (NULL clears it), wiping the old value. 0 or -ENOMEM. */
int session_set(char **slot, const char *v);

/* True when t (len bytes) can be a token: 1..SESSION_TOKEN_MAX_BYTES of visible ASCII. */
bool session_token_valid(const char *t, size_t len);

/* Wipes the tokens, frees every string and zeroes s; s may be NULL. */
void session_done(struct session *s);

#endif
