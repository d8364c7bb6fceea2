/*
 * fuzz_cli_reply.c - libFuzzer harness for the CLI's parsers of agent replies (src/cli/client.c).
 *
 * Input: a mode byte, a parameter byte, then the reply bytes. The mode picks the parser:
 *   'e' client_error_message (param % 8 picks the HTTP status)
 *   'f' client_event_format, text; 'j' the same with --json
 *   'l' client_lines_feed over a 256-byte line buffer, fed in chunks of (param % 7) + 1 bytes,
 *       each line formatted as 'f' (or 'j' when param & 0x10), as a follow stream is
 *   'u' client_upload_check (param is the size sent; the digest sent is SHA-256 of "")
 *   'a' client_action_reply_parse and client_action_exit_code (param % 8 picks the status)
 *   'h' client_health_line (param % 8 picks the status)
 * Any other mode byte picks one of these by its value, so every input exercises a parser.
 * Beyond memory safety it checks what the CLI promises: printed text carries no control
 * character other than '\t' and '\n' (none at all in error messages), outputs stay in their
 * buffers, and an exit code is 0..255.
 */
#include "cli/client.h"
#include "cli/limits.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_LINE_CAP 256

static const long statuses[8] = { 400, 401, 403, 404, 413, 500, 503, 200 };
static const char sha_empty[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

static void check_clean(const char *s, size_t len, bool allow_tab_nl)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (allow_tab_nl && (ch == '\t' || ch == '\n'))
			continue;
		if (ch < 0x20 || ch == 0x7f)
			abort();
	}
}

static void check_event(const char *line, size_t len, bool json)
{
	char *out = NULL;
	size_t n = 0;
	int rc = client_event_format(line, len, json, &out, &n);
	if (rc != 0 && rc != -EPROTO && rc != -ENOMEM)
		abort();
	if (rc == 0 && out) {
		if (n == 0 || out[n - 1] != '\n')
			abort();
		if (!json)
			check_clean(out, n, true);
	}
	free(out);
}

struct lines_ud {
	bool json;
	unsigned count;
};

static int on_line(const char *line, size_t len, void *ud)
{
	struct lines_ud *l = ud;
	if (len > FUZZ_LINE_CAP || memchr(line, '\n', len))
		abort();
	check_event(line, len, l->json);
	l->count++;
	return l->count < 64 ? 0 : -1;
}

static void fuzz_lines(const char *body, size_t len, unsigned param)
{
	char buf[FUZZ_LINE_CAP];
	struct client_lines l = { .buf = buf, .cap = sizeof(buf) };
	struct lines_ud ud = { .json = (param & 0x10) != 0 };
	size_t chunk = param % 7 + 1;
	while (len > 0) {
		size_t n = len < chunk ? len : chunk;
		int rc = client_lines_feed(&l, body, n, on_line, &ud);
		if (l.len > l.cap)
			abort();
		if (rc < 0)
			break;
		body += n;
		len -= n;
	}
}

static void fuzz_upload(const char *body, size_t len, unsigned param)
{
	struct client_upload_check u;
	if (client_upload_check(body, len, sha_empty, param, &u) < 0)
		return;
	size_t rl = strnlen(u.remote, sizeof(u.remote));
	if (rl == sizeof(u.remote))
		abort();
	check_clean(u.remote, rl, true);
	if (u.file)
		check_clean(u.file, u.file_len, true);
	client_upload_check_done(&u);
}

static void fuzz_action(const char *body, size_t len, long status)
{
	struct client_action_reply a;
	client_action_reply_parse(body, len, &a);
	/* The bytes the CLI writes out must all be readable (jansson terminates its strings). */
	if ((a.out && !memchr(a.out, '\0', a.out_len + 1)) ||
	    (a.err && !memchr(a.err, '\0', a.err_len + 1)))
		abort();
	int code = client_action_exit_code(status, &a);
	if (code < 0 || code > 255)
		abort();
	client_action_reply_done(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char modes[] = "efjluah";
	if (size < 2)
		return 0;
	char mode = (char)data[0];
	if (!memchr(modes, mode, sizeof(modes) - 1))
		mode = modes[data[0] % (sizeof(modes) - 1)];
	unsigned param = data[1];
	size_t len = size - 2;
	/* A collected body is NUL-terminated (client_do); an exact-size copy keeps ASan precise. */
	char *body = malloc(len + 1);
	if (!body)
		return 0;
	memcpy(body, data + 2, len);
	body[len] = '\0';
	struct client_resp r = { .status = statuses[param % 8], .body = body, .len = len };
	char out[CLI_ERROR_MESSAGE_MAX_BYTES];

	switch (mode) {
	case 'e':
		client_error_message(&r, out, sizeof(out));
		if (!memchr(out, '\0', sizeof(out)))
			abort();
		check_clean(out, strlen(out), false);
		/* A tiny buffer must still be terminated. */
		client_error_message(&r, out, 1);
		if (out[0] != '\0')
			abort();
		break;
	case 'f':
	case 'j':
		check_event(body, len, mode == 'j');
		break;
	case 'l':
		fuzz_lines(body, len, param);
		break;
	case 'u':
		fuzz_upload(body, len, param);
		break;
	case 'a':
		fuzz_action(body, len, r.status);
		break;
	default: /* 'h' */
		client_health_line(param & 1 ? "readyz" : "livez", &r, out, sizeof(out));
		if (!memchr(out, '\0', sizeof(out)))
			abort();
		check_clean(out, strlen(out), true);
		client_health_line("livez", &r, out, 8);
		if (strlen(out) >= 8)
			abort();
		break;
	}
	free(body);
	return 0;
}
