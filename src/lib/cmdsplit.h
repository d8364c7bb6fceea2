/*
 * cmdsplit.h - split a command string into argv words like a POSIX shell would quote them,
 * without ever expanding or running anything; resolve argv[0] on a fixed safe path.
 *
 * Who uses it: cloister-agent for `[actions]` strings of a flashbots systemapi-config.toml, which
 * system-api hands to a shell. We never run a shell: the string is split here and the result is
 * given to execve (proc.c). Anything that would mean more than quoting to a shell is refused
 * with a message naming it, so an action never silently means something else than it did:
 *
 *   - words are separated by spaces and tabs;
 *   - '...' keeps everything literally up to the next single quote;
 *   - "..." keeps everything literally except the escapes \" \\ \$ \` (a backslash before any
 *     other character stays, as in sh); an unescaped $ or ` inside "..." is refused (expansion);
 *   - outside quotes a backslash makes the next character literal;
 *   - "" or '' makes an empty word; quoted and unquoted parts join into one word (a"b c"d);
 *   - refused outside quotes: the operators and expansions | & ; < > ( ) $ `, a newline or other
 *     control character (tab excepted), a '#' that starts a word (a comment in sh), and a first
 *     word of the form NAME=value (a variable assignment in sh); refused anywhere: a backslash
 *     before a newline (line continuation), an unterminated quote, a trailing backslash;
 *   - kept literally (no expansion happens): the glob characters * ? [ and ~, {, }, !, '#'
 *     inside a word.
 *
 * Ownership: cmdsplit returns one allocation, released with cmdsplit_free.
 * Thread safety: no global state; every function is reentrant.
 * Limits: CMDSPLIT_MAX_BYTES of input and CMDSPLIT_MAX_WORDS words (-E2BIG past either).
 */
#ifndef CLOISTER_CMDSPLIT_H
#define CLOISTER_CMDSPLIT_H

#include <stddef.h>

#define CMDSPLIT_MAX_BYTES 4096 /* length of the command string, in bytes, without its NUL */
#define CMDSPLIT_MAX_WORDS 256  /* words in one command, argv[0] included */
/* The only directories a bare command name is looked up in; $PATH is never read. */
#define CMDSPLIT_SAFE_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Splits cmd (NUL-terminated). On success *argv_out is a NULL-terminated array (one allocation;
 * free with cmdsplit_free) and the word count (>= 1) is returned. On failure returns -EINVAL or
 * -E2BIG, leaves *argv_out NULL and writes a NUL-terminated reason into msg (msglen bytes; msg
 * may be NULL when msglen is 0). */
int cmdsplit(const char *cmd, char ***argv_out, char *msg, size_t msglen);

/* Frees what cmdsplit returned. Accepts NULL. */
void cmdsplit_free(char **argv);

/* Resolves argv0 to an absolute executable path: if it contains '/', it must be absolute
 * (relative -> -EINVAL) and name an executable regular file; otherwise it is searched in
 * CMDSPLIT_SAFE_PATH, first match wins. Writes the path into out (outlen bytes). Returns 0,
 * -ENOENT (no such executable regular file), -EINVAL (empty, relative, bad arguments) or
 * -ENAMETOOLONG (the name or the result does not fit in PATH_MAX or outlen). */
int cmdsplit_resolve(const char *argv0, char *out, size_t outlen);

#endif
