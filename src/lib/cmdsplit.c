/*
 * cmdsplit.c - shell-like word splitting with no expansion, and argv[0] lookup on a fixed path.
 *
 * How it works: one pass over the string decodes the words, NUL-separated, into a buffer of the
 * maximum input size (a decoded word is never longer than its source and each separator yields
 * at most one NUL, so input length + 1 bytes always suffice), and records where each word
 * starts. The result is then copied into a single allocation: the pointer array followed by the
 * string bytes, so cmdsplit_free is one free().
 *
 * Why refuse instead of passing through: these strings come from configs written for a shell.
 * A '|' or '$' there meant something to the shell; running the command with a literal '|'
 * argument would do something else, silently. Refusing with the character's name tells the
 * operator to write an argv array or a script instead.
 */
#include "cmdsplit.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

__attribute__((format(printf, 4, 5))) static int fail(char *msg, size_t msglen, int rc,
						      const char *fmt, ...)
{
	if (msg && msglen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, msglen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

#define SHELL_HINT "use an argv array or a script"

static bool is_name_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

int cmdsplit(const char *cmd, char ***argv_out, char *msg, size_t msglen)
{
	char buf[CMDSPLIT_MAX_BYTES + 1];
	size_t offs[CMDSPLIT_MAX_WORDS];
	size_t nw = 0, bn = 0;
	bool in_word = false;
	/* For the first word: how many characters of an unquoted NAME have been seen, and whether
	 * the word so far could still be the NAME of a NAME=value assignment. */
	size_t name_len = 0;
	bool maybe_assign = false;

	if (argv_out)
		*argv_out = NULL;
	if (msg && msglen > 0)
		msg[0] = '\0';
	if (!cmd || !argv_out)
		return fail(msg, msglen, -EINVAL, "invalid arguments");
	size_t len = strnlen(cmd, CMDSPLIT_MAX_BYTES + 1);
	if (len > CMDSPLIT_MAX_BYTES)
		return fail(msg, msglen, -E2BIG, "command is longer than %d bytes",
			    CMDSPLIT_MAX_BYTES);

	const char *p = cmd;
	while (*p) {
		char c = *p;
		if (c == ' ' || c == '\t') {
			if (in_word) {
				buf[bn++] = '\0';
				in_word = false;
				maybe_assign = false;
			}
			p++;
			continue;
		}
		if (!in_word) {
			if (c == '#')
				return fail(msg, msglen, -EINVAL,
					    "'#' starts a comment in sh and is not supported; "
					    "quote it");
			if (nw == CMDSPLIT_MAX_WORDS)
				return fail(msg, msglen, -E2BIG, "command has more than %d words",
					    CMDSPLIT_MAX_WORDS);
			offs[nw++] = bn;
			in_word = true;
			maybe_assign = nw == 1;
			name_len = 0;
		}
		switch (c) {
		case '\'': {
			const char *q = strchr(p + 1, '\'');
			if (!q)
				return fail(msg, msglen, -EINVAL, "unterminated single quote");
			memcpy(buf + bn, p + 1, (size_t)(q - p - 1));
			bn += (size_t)(q - p - 1);
			p = q + 1;
			maybe_assign = false;
			break;
		}
		case '"':
			p++;
			maybe_assign = false;
			for (;;) {
				char d = *p;
				if (d == '\0')
					return fail(msg, msglen, -EINVAL,
						    "unterminated double quote");
				if (d == '"') {
					p++;
					break;
				}
				if (d == '\\') {
					char e = p[1];
					if (e == '"' || e == '\\' || e == '$' || e == '`') {
						buf[bn++] = e;
						p += 2;
						continue;
					}
					if (e == '\n')
						return fail(msg, msglen, -EINVAL,
							    "backslash-newline (line continuation) "
							    "is not supported");
					/* Any other character (or the closing quote's absence, caught
					 * on the next turn) keeps the backslash, as sh does. */
					buf[bn++] = '\\';
					p++;
					continue;
				}
				if (d == '$' || d == '`')
					return fail(msg, msglen, -EINVAL,
						    "'%c' inside double quotes is an expansion in "
						    "sh and is "
						    "not supported; escape it as \\%c",
						    d, d);
				buf[bn++] = d;
				p++;
			}
			break;
		case '\\': {
			char e = p[1];
			if (e == '\0')
				return fail(msg, msglen, -EINVAL, "trailing backslash");
			if (e == '\n')
				return fail(
					msg, msglen, -EINVAL,
					"backslash-newline (line continuation) is not supported");
			buf[bn++] = e;
			p += 2;
			maybe_assign = false;
			break;
		}
		case '|':
		case '&':
		case ';':
		case '<':
		case '>':
		case '(':
		case ')':
		case '$':
		case '`':
			return fail(msg, msglen, -EINVAL,
				    "shell syntax '%c' is not supported; " SHELL_HINT, c);
		case '\n':
			return fail(msg, msglen, -EINVAL,
				    "newlines are not supported; " SHELL_HINT);
		default:
			if ((unsigned char)c < 0x20 || c == 0x7f)
				return fail(msg, msglen, -EINVAL,
					    "control character 0x%02x is not supported",
					    (unsigned)(unsigned char)c);
			if (maybe_assign) {
				if (c == '=' && name_len > 0)
					return fail(msg, msglen, -EINVAL,
						    "variable assignments (NAME=value) are not "
						    "supported; " SHELL_HINT);
				if (name_len == 0 ? is_name_start(c) : is_name_char(c))
					name_len++;
				else
					maybe_assign = false;
			}
			buf[bn++] = c;
			p++;
			break;
		}
	}
	if (in_word)
		buf[bn++] = '\0';
	if (nw == 0)
		return fail(msg, msglen, -EINVAL, "empty command");

	size_t ptrs = (nw + 1) * sizeof(char *);
	char **argv = malloc(ptrs + bn);
	if (!argv)
		return fail(msg, msglen, -ENOMEM, "out of memory");
	char *strings = (char *)argv + ptrs;
	memcpy(strings, buf, bn);
	for (size_t i = 0; i < nw; i++)
		argv[i] = strings + offs[i];
	argv[nw] = NULL;
	*argv_out = argv;
	return (int)nw;
}

void cmdsplit_free(char **argv)
{
	free(argv);
}

/* Effective-ID check: the agent may run with different real and effective IDs. */
static bool is_exec_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	       faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0;
}

int cmdsplit_resolve(const char *argv0, char *out, size_t outlen)
{
	if (!out || outlen == 0)
		return -EINVAL;
	out[0] = '\0';
	if (!argv0 || !*argv0)
		return -EINVAL;
	size_t n = strnlen(argv0, PATH_MAX);
	if (n >= PATH_MAX)
		return -ENAMETOOLONG;
	if (strchr(argv0, '/')) {
		if (argv0[0] != '/')
			return -EINVAL;
		if (n + 1 > outlen)
			return -ENAMETOOLONG;
		if (!is_exec_file(argv0))
			return -ENOENT;
		memcpy(out, argv0, n + 1);
		return 0;
	}
	if (n > NAME_MAX)
		return -ENAMETOOLONG;
	const char *d = CMDSPLIT_SAFE_PATH;
	for (;;) {
		const char *colon = strchr(d, ':');
		size_t dl = colon ? (size_t)(colon - d) : strlen(d);
		char path[PATH_MAX];
		int k = snprintf(path, sizeof(path), "%.*s/%s", (int)dl, d, argv0);
		if (k > 0 && (size_t)k < sizeof(path) && is_exec_file(path)) {
			if ((size_t)k + 1 > outlen)
				return -ENAMETOOLONG;
			memcpy(out, path, (size_t)k + 1);
			return 0;
		}
		if (!colon)
			break;
		d = colon + 1;
	}
	return -ENOENT;
}
