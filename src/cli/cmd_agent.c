/*
 * cmd_agent.c - `cloister agent ...`: operate one cloister-agent (or flashbots system-api) over
 * its HTTP API.
 *
 * Global options pick the agent and the credentials; each command is one or two requests through
 * client.c. Passwords never come from argv (a process list shows argv): they are read from a file
 * (--password-file, CLOISTER_AGENT_PASSWORD_FILE) or, for set-password, from stdin without echo,
 * and wiped after use. Replies are never trusted to be well-formed or terminal-safe: messages and
 * event text are stripped of control characters before they are printed. An upload streams the
 * file through SHA-256 as libcurl pulls it, so the digest covers exactly the bytes that were sent,
 * and is compared with the digest the agent computed over what it stored.
 *
 * By backend: when the first word after `agent` is a backend ID (a UUID), the same commands (and
 * the status ones: status, logs, gpu, overview) go through cloisterd's proxy
 * (/backends/{id}/...) with the stored session instead (cp_open/cp_send, as `cloister backends`
 * does); cloisterd reaches the agent over mutual TLS and passes its replies through unchanged,
 * so the reply handling is the same code. Status replies are rendered by cp_reply.c.
 */
#include "cli/cli.h"

#include "cli/client.h"
#include "cli/cp_reply.h"
#include "cli/limits.h"
#include "fsx.h"
#include "json.h"
#include "secret.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define AGENT_URL_DEFAULT "http://127.0.0.1:3535"

struct agent_cli {
	struct client *c;
	const char *url; /* for messages: the agent's URL, or the backend ID */
	bool json;
	struct cp *cp;       /* by backend: cloisterd's session (then c is unused) */
	const char *backend; /* by backend: its ID */
};

#define BACKEND_PATH_BYTES 96 /* "/backends/<uuid>/uploads/" */

static volatile sig_atomic_t follow_stop;

static const char agent_usage_text[] =
	"Usage: cloister agent [options] <command> [args]\n"
	"\n"
	"Options:\n"
	"  --url URL              agent base URL (env CLOISTER_AGENT_URL, "
	"default " AGENT_URL_DEFAULT ")\n"
	"  --user USER            Basic auth user (default admin)\n"
	"  --password-file FILE   Basic auth password, first line of FILE\n"
	"                         (env CLOISTER_AGENT_PASSWORD_FILE; never on the command line)\n"
	"  --cacert FILE          trust the CA certificates in FILE (PEM) for https\n"
	"  --cert FILE --key FILE client certificate and key (PEM) for mutual TLS\n"
	"  --timeout SECONDS      limit for each request (default 60, 0 = none; follow has none)\n"
	"  --json                 print the agent's JSON replies instead of text\n"
	"\n"
	"Commands:\n"
	"  events [--after N] [--limit N] [--follow]   list events (text like /logs)\n"
	"  log MESSAGE                                 record an event\n"
	"  action NAME                                 run an action; prints its stdout and stderr "
	"and\n"
	"                                              exits with its exit code\n"
	"  upload NAME FILE                            stream FILE to the upload NAME; checks "
	"SHA-256\n"
	"  set-password [--password-file FILE]         set the Basic auth password (FILE or "
	"stdin)\n"
	"  health                                      GET /livez and /readyz\n"
	"\n"
	"Run `cloister agent <command> --help` for one command.\n";

/* ---------------------------------------------------------------- secrets */

static void strip_newlines(char *s, size_t *len)
{
	while (*len > 0 && (s[*len - 1] == '\n' || s[*len - 1] == '\r'))
		s[--*len] = '\0';
}

static void wipe_free(char *s, size_t len)
{
	if (s) {
		secret_wipe(s, len);
		free(s);
	}
}

/* Reads a password file; returns 0 with *out (caller wipes and frees), or an exit code. */
static int read_password_file(const char *path, char **out, size_t *len)
{
	/* Room for a "\r\n" after a password at the limit. */
	int rc = fsx_read_file(path, CLI_PASSWORD_MAX_BYTES + 2, out, len);
	if (rc == 0) {
		strip_newlines(*out, len);
		if (*len > CLI_PASSWORD_MAX_BYTES) {
			wipe_free(*out, *len);
			*out = NULL;
			rc = -E2BIG;
		}
	}
	if (rc == -E2BIG) {
		fprintf(stderr, "cloister: %s: password file larger than %d bytes\n", path,
			CLI_PASSWORD_MAX_BYTES);
		return CLI_EXIT_FAIL;
	}
	if (rc < 0) {
		fprintf(stderr, "cloister: %s: %s\n", path, strerror(-rc));
		return CLI_EXIT_FAIL;
	}
	if (*len == 0) {
		wipe_free(*out, 1);
		*out = NULL;
		fprintf(stderr, "cloister: %s: the password is empty\n", path);
		return CLI_EXIT_FAIL;
	}
	return 0;
}

/* Reads up to CLI_PASSWORD_MAX_BYTES from fd: to the first newline when stop_at_newline (a
 * terminal), else to end of file. Returns the length, or -E2BIG / -errno. */
static ssize_t read_secret_fd(int fd, char *buf, size_t cap, bool stop_at_newline)
{
	size_t n = 0;
	for (;;) {
		if (n == cap)
			return -E2BIG;
		ssize_t r = read(fd, buf + n, stop_at_newline ? 1 : cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		n += (size_t)r;
		if (stop_at_newline && buf[n - 1] == '\n')
			break;
	}
	return (ssize_t)n;
}

/* Prompts on the terminal with echo off. Returns the length or a negative errno. Echo goes off
 * (discarding type-ahead, as getpass does) before the prompt appears, so nothing typed after the
 * prompt is lost or shown. */
static ssize_t prompt_secret(const char *prompt, char *buf, size_t cap)
{
	struct termios old, quiet;
	bool restore = false;
	if (tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
	}
	fputs(prompt, stderr);
	fflush(stderr);
	ssize_t n = read_secret_fd(STDIN_FILENO, buf, cap, true);
	if (restore)
		tcsetattr(STDIN_FILENO, TCSANOW, &old);
	return n;
}

/* The new password for set-password: from file, else stdin (asked twice on a terminal). Returns
 * 0 with *out (caller wipes and frees, CLI_PASSWORD_MAX_BYTES + 2 bytes), or an exit code. */
static int read_new_password(const char *file, char **out, size_t *len)
{
	if (file)
		return read_password_file(file, out, len);
	size_t cap = CLI_PASSWORD_MAX_BYTES + 2; /* room for "\r\n" on a password at the limit */
	char *a = calloc(1, cap + 1), *b = calloc(1, cap + 1);
	int rc = CLI_EXIT_FAIL;
	ssize_t na = 0, nb = 0;
	if (!a || !b) {
		fputs("cloister: out of memory\n", stderr);
		goto out;
	}
	if (isatty(STDIN_FILENO)) {
		na = prompt_secret("New password: ", a, cap);
		if (na >= 0)
			nb = prompt_secret("Retype new password: ", b, cap);
	} else {
		na = read_secret_fd(STDIN_FILENO, a, cap, false);
	}
	if (na < 0 || nb < 0) {
		int e = na < 0 ? (int)-na : (int)-nb;
		if (e == E2BIG)
			fprintf(stderr, "cloister: password longer than %d bytes\n",
				CLI_PASSWORD_MAX_BYTES);
		else
			fprintf(stderr, "cloister: reading the password: %s\n", strerror(e));
		goto out;
	}
	size_t la = (size_t)na, lb = (size_t)nb;
	strip_newlines(a, &la);
	if (isatty(STDIN_FILENO)) {
		strip_newlines(b, &lb);
		if (la != lb || !secret_equal(a, b, la)) {
			fputs("cloister: the passwords do not match\n", stderr);
			goto out;
		}
	}
	if (la > CLI_PASSWORD_MAX_BYTES) {
		fprintf(stderr, "cloister: password longer than %d bytes\n",
			CLI_PASSWORD_MAX_BYTES);
		goto out;
	}
	if (la == 0) {
		fputs("cloister: the new password is empty\n", stderr);
		goto out;
	}
	*out = a;
	*len = la;
	a = NULL;
	rc = 0;
out:
	wipe_free(a, cap + 1);
	wipe_free(b, cap + 1);
	return rc;
}

/* ---------------------------------------------------------------- replies */

/* Performs rq. Returns -1 when a reply arrived (r filled), else prints why and returns an exit
 * code (0 for an interrupted stream). */
static int send_req(struct agent_cli *x, const struct client_req *rq, struct client_resp *r)
{
	if (x->cp) {
		int rc = cp_send(x->cp, rq, r);
		/* An interrupted follow stream is a normal end, as in the direct mode. */
		return rc >= 0 && follow_stop ? CLI_EXIT_OK : rc;
	}
	char err[CLIENT_ERR_BYTES];
	int rc = client_do(x->c, rq, r, err, sizeof(err));
	if (rc == 0)
		return -1;
	if (rc == -ECANCELED)
		return CLI_EXIT_OK;
	fprintf(stderr, "cloister: %s: %s\n", x->url, err);
	return rc == -EPIPE || rc == -ENOMEM ? CLI_EXIT_FAIL : CLI_EXIT_UNREACHABLE;
}

/* prefix + the percent-escaped argument, e.g. "/api/v1/actions/" + name. Caller frees; NULL
 * on ENOMEM. */
static char *escaped_path(const char *prefix, const char *arg)
{
	_cleanup_free_ char *e = client_escape(arg, strlen(arg));
	char *path = NULL;
	if (!e || asprintf(&path, "%s%s", prefix, e) < 0)
		return NULL;
	return path;
}

/* The agent's path (direct) or cloisterd's proxy path for it ("/backends/<id>" + proxy). */
static const char *route_of(struct agent_cli *x, char buf[BACKEND_PATH_BYTES], const char *direct,
			    const char *proxy)
{
	if (!x->cp)
		return direct;
	snprintf(buf, BACKEND_PATH_BYTES, "/backends/%s%s", x->backend, proxy);
	return buf;
}

static int http_fail(const struct client_resp *r)
{
	char msg[CLI_ERROR_MESSAGE_MAX_BYTES];
	client_error_message(r, msg, sizeof(msg));
	fprintf(stderr, "cloister: %ld: %s\n", r->status, msg);
	return CLI_EXIT_FAIL;
}

/* Writes bytes to a stream with control characters replaced. */
static void write_clean(FILE *f, const char *s, size_t len)
{
	char buf[4096];
	while (len > 0) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);
		memcpy(buf, s, n);
		client_sanitize(buf, n);
		fwrite(buf, 1, n, f);
		s += n;
		len -= n;
	}
}

static void print_raw_json(const struct client_resp *r)
{
	fwrite(r->body, 1, r->len, stdout);
	if (r->len == 0 || r->body[r->len - 1] != '\n')
		fputc('\n', stdout);
}

/* Parses a reply that may be large (action output): our own cap already bounds it. */
static json_t *parse_reply(const struct client_resp *r)
{
	json_error_t e;
	return json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &e);
}

/* ---------------------------------------------------------------- option parsing */

/* Parses the options of a command that has only --help and positionals. Returns 0 with *first
 * at the first positional, 1 for --help (printed), or an exit code > 1. */
static int simple_opts(int argc, char **argv, const char *help, int want_args, int *first)
{
	static const struct option lo[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
	int opt;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		if (opt == 'h') {
			fputs(help, stdout);
			return 1;
		}
		fputs(help, stderr);
		return CLI_EXIT_USAGE;
	}
	if (argc - optind != want_args) {
		fputs("cloister: wrong number of arguments\n", stderr);
		fputs(help, stderr);
		return CLI_EXIT_USAGE;
	}
	*first = optind;
	return 0;
}

/* ---------------------------------------------------------------- events */

static void on_sigint(int sig)
{
	(void)sig;
	follow_stop = 1;
}

struct follow_state {
	bool json;
	struct client_lines lines;
	bool bad, out_failed, oom;
};

static int follow_line(const char *line, size_t len, void *ud)
{
	struct follow_state *st = ud;
	char *text;
	size_t n;
	int rc = client_event_format(line, len, st->json, &text, &n);
	if (rc == -ENOMEM) {
		st->oom = true;
		return -1;
	}
	if (rc < 0) {
		st->bad = true;
		return -1;
	}
	if (!text)
		return 0; /* a keep-alive */
	fwrite(text, 1, n, stdout);
	free(text);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		st->out_failed = true;
		return -1;
	}
	return 0;
}

static int follow_sink(const char *data, size_t len, void *ud)
{
	struct follow_state *st = ud;
	if (client_lines_feed(&st->lines, data, len, follow_line, st) == -E2BIG)
		st->bad = true;
	return st->bad || st->out_failed || st->oom ? -1 : 0;
}

static const char events_help[] =
	"Usage: cloister agent [options] events [--after N] [--limit N] [--follow]\n"
	"\n"
	"Lists the agent's events, one \"RFC3339 \\t message\" line each (as GET /logs), or the\n"
	"agent's JSON with --json. --after N starts after event number N, --limit N returns at "
	"most\n"
	"N events. --follow keeps listening and prints each new event as it arrives, until\n"
	"interrupted (Ctrl-C exits 0); with --json it prints one JSON object per line.\n";

static int cmd_events(struct agent_cli *x, int argc, char **argv)
{
	static const struct option lo[] = { { "after", required_argument, NULL, 'a' },
					    { "limit", required_argument, NULL, 'l' },
					    { "follow", no_argument, NULL, 'f' },
					    { "help", no_argument, NULL, 'h' },
					    { 0 } };
	uint64_t after = 0, limit = 0;
	bool has_after = false, has_limit = false, follow = false;
	int opt;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		switch (opt) {
		case 'a':
			if (util_parse_u64(optarg, UINT64_MAX, &after) < 0)
				return cli_usage_error(events_help,
						       "--after wants a number, not '%s'", optarg);
			has_after = true;
			break;
		case 'l':
			if (util_parse_u64(optarg, UINT64_MAX, &limit) < 0 || limit == 0)
				return cli_usage_error(events_help,
						       "--limit wants a positive number, not '%s'",
						       optarg);
			has_limit = true;
			break;
		case 'f':
			follow = true;
			break;
		case 'h':
			fputs(events_help, stdout);
			return CLI_EXIT_OK;
		default:
			fputs(events_help, stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage_error(events_help, "unexpected argument '%s'", argv[optind]);
	if (follow && has_limit)
		return cli_usage_error(events_help, "--limit cannot be combined with --follow");

	/* Text comes from the agent's own /logs formatter, except in follow mode where each NDJSON
	 * object is checked and formatted here as it arrives. */
	char path[256], base[BACKEND_PATH_BYTES];
	size_t n = (size_t)snprintf(path, sizeof(path), "%s",
				    route_of(x, base, "/api/v1/events", "/events"));
	char sep = '?';
	if (has_after) {
		n += (size_t)snprintf(path + n, sizeof(path) - n, "%cafter=%llu", sep,
				      (unsigned long long)after);
		sep = '&';
	}
	if (has_limit) {
		n += (size_t)snprintf(path + n, sizeof(path) - n, "%climit=%llu", sep,
				      (unsigned long long)limit);
		sep = '&';
	}
	if (follow || !x->json)
		snprintf(path + n, sizeof(path) - n, "%c%s", sep,
			 follow ? "follow=1" : "format=text");

	struct client_resp r;
	if (!follow) {
		struct client_req rq = { .method = "GET", .path = path };
		int rc = send_req(x, &rq, &r);
		if (rc >= 0)
			return rc;
		if (!client_resp_2xx(&r)) {
			rc = http_fail(&r);
		} else {
			if (x->json)
				print_raw_json(&r);
			else
				write_clean(stdout, r.body, r.len);
			rc = CLI_EXIT_OK;
		}
		client_resp_done(&r);
		return rc;
	}

	struct follow_state st = { .json = x->json,
				   .lines = { .buf = malloc(CLI_STREAM_LINE_MAX_BYTES),
					      .cap = CLI_STREAM_LINE_MAX_BYTES } };
	if (!st.lines.buf) {
		fputs("cloister: out of memory\n", stderr);
		return CLI_EXIT_FAIL;
	}
	follow_stop = 0;
	struct sigaction sa = { .sa_handler = on_sigint }, old_int;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	struct client_req rq = { .method = "GET",
				 .path = path,
				 .sink = follow_sink,
				 .sink_ud = &st,
				 .stop = &follow_stop };
	int rc = send_req(x, &rq, &r);
	sigaction(SIGINT, &old_int, NULL);
	if (st.bad) {
		fprintf(stderr, "cloister: %s: malformed event in the follow stream\n", x->url);
		rc = CLI_EXIT_FAIL;
	} else if (st.out_failed) {
		perror("cloister: writing to stdout");
		rc = CLI_EXIT_FAIL;
	} else if (st.oom) {
		fputs("cloister: out of memory\n", stderr);
		rc = CLI_EXIT_FAIL;
	} else if (rc < 0) {
		rc = client_resp_2xx(&r) ? CLI_EXIT_OK : http_fail(&r);
		client_resp_done(&r);
	}
	free(st.lines.buf);
	return rc;
}

/* ---------------------------------------------------------------- log */

static const char log_help[] =
	"Usage: cloister agent [options] log [--] MESSAGE\n"
	"\n"
	"Records MESSAGE in the agent's event log (POST /api/v1/new_event). Use -- before a\n"
	"message that starts with '-'.\n";

static int cmd_log(struct agent_cli *x, int argc, char **argv)
{
	int first, rc = simple_opts(argc, argv, log_help, 1, &first);
	if (rc)
		return rc == 1 ? CLI_EXIT_OK : rc;
	_cleanup_free_ char *path = escaped_path("/api/v1/new_event?message=", argv[first]);
	if (!path) {
		fputs("cloister: out of memory\n", stderr);
		return CLI_EXIT_FAIL;
	}
	struct client_req rq = { .method = "POST", .path = path };
	struct client_resp r;
	rc = send_req(x, &rq, &r);
	if (rc >= 0)
		return rc;
	rc = client_resp_2xx(&r) ? CLI_EXIT_OK : http_fail(&r);
	client_resp_done(&r);
	return rc;
}

/* ---------------------------------------------------------------- action */

static const char action_help[] =
	"Usage: cloister agent [options] action NAME\n"
	"\n"
	"Runs the action NAME configured on the agent (POST /api/v1/actions/NAME), prints its\n"
	"stdout on stdout and its stderr on stderr, and exits with its exit code (1 when the\n"
	"agent refuses, or the action was killed or timed out). --json prints the agent's reply.\n";

static int cmd_action(struct agent_cli *x, int argc, char **argv)
{
	int first, rc = simple_opts(argc, argv, action_help, 1, &first);
	if (rc)
		return rc == 1 ? CLI_EXIT_OK : rc;
	char base[BACKEND_PATH_BYTES];
	_cleanup_free_ char *path =
		escaped_path(route_of(x, base, "/api/v1/actions/", "/actions/"), argv[first]);
	if (!path) {
		fputs("cloister: out of memory\n", stderr);
		return CLI_EXIT_FAIL;
	}
	struct client_req rq = { .method = "POST", .path = path };
	struct client_resp r;
	rc = send_req(x, &rq, &r);
	if (rc >= 0)
		return rc;
	struct client_action_reply a;
	client_action_reply_parse(r.body, r.len, &a);
	if (x->json) {
		print_raw_json(&r);
	} else {
		fwrite(a.out ? a.out : "", 1, a.out_len, stdout);
		fflush(stdout);
		fwrite(a.err ? a.err : "", 1, a.err_len, stderr);
		if (a.out_truncated)
			fputs("cloister: the agent truncated the action's stdout\n", stderr);
		if (a.err_truncated)
			fputs("cloister: the agent truncated the action's stderr\n", stderr);
	}
	if (!client_resp_2xx(&r))
		http_fail(&r);
	rc = client_action_exit_code(r.status, &a);
	client_action_reply_done(&a);
	client_resp_done(&r);
	return rc;
}

/* ---------------------------------------------------------------- upload */

struct upload_src {
	int fd;
	uint64_t size, sent;
	EVP_MD_CTX *md;
	int err; /* errno of a failed read; EIO when the file shrank */
};

static size_t upload_read(char *buf, size_t cap, void *ud)
{
	struct upload_src *u = ud;
	if (u->sent == u->size)
		return 0;
	size_t want = cap;
	if (want > u->size - u->sent)
		want = (size_t)(u->size - u->sent);
	ssize_t n;
	do
		n = read(u->fd, buf, want);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		u->err = n < 0 ? errno : EIO;
		return (size_t)-1;
	}
	if (EVP_DigestUpdate(u->md, buf, (size_t)n) != 1) {
		u->err = ENOMEM;
		return (size_t)-1;
	}
	u->sent += (uint64_t)n;
	return (size_t)n;
}

static const char upload_help[] =
	"Usage: cloister agent [options] upload NAME FILE\n"
	"\n"
	"Streams FILE (a regular file) to the upload NAME configured on the agent\n"
	"(POST /api/v1/file-upload/NAME), prints the size and SHA-256 stored, and checks that\n"
	"SHA-256 against the one computed here over the bytes sent: a mismatch exits 1.\n";

static int verify_upload(struct agent_cli *x, const struct client_resp *r, const char *file,
			 const char *local_hex, uint64_t size)
{
	struct client_upload_check u;
	if (client_upload_check(r->body, r->len, local_hex, size, &u) < 0) {
		fputs("cloister: out of memory\n", stderr);
		return CLI_EXIT_FAIL;
	}
	int rc = CLI_EXIT_OK;
	if (u.sha == CLIENT_SHA_ABSENT) {
		fprintf(stderr,
			"cloister: warning: the agent did not return a SHA-256 (not a "
			"cloister-agent?); "
			"%s was uploaded but is not verified\n",
			file);
	} else if (u.sha != CLIENT_SHA_MATCH) {
		fprintf(stderr,
			"cloister: SHA-256 MISMATCH: %s was sent with SHA-256 %s but the "
			"agent "
			"stored SHA-256 %s\n",
			file, local_hex, u.sha == CLIENT_SHA_MISMATCH ? u.remote : "(malformed)");
		rc = CLI_EXIT_FAIL;
	}
	if (!u.size_ok) {
		fprintf(stderr,
			"cloister: SIZE MISMATCH: %s has %llu bytes but the agent stored another "
			"size\n",
			file, (unsigned long long)size);
		rc = CLI_EXIT_FAIL;
	}
	if (x->json) {
		print_raw_json(r);
	} else if (rc == CLI_EXIT_OK) {
		if (u.file) {
			fputs("file ", stdout);
			fwrite(u.file, 1, u.file_len, stdout);
			fputc('\n', stdout);
		}
		printf("size %llu\nsha256 %s%s\n", (unsigned long long)size, local_hex,
		       u.sha == CLIENT_SHA_MATCH ? " (verified)" : "");
	}
	client_upload_check_done(&u);
	return rc;
}

static int cmd_upload(struct agent_cli *x, int argc, char **argv)
{
	int first, rc = simple_opts(argc, argv, upload_help, 2, &first);
	if (rc)
		return rc == 1 ? CLI_EXIT_OK : rc;
	const char *file = argv[first + 1];
	_cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "cloister: %s: %s\n", file, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "cloister: %s: not a regular file\n", file);
		return CLI_EXIT_FAIL;
	}
	char base[BACKEND_PATH_BYTES];
	_cleanup_free_ char *path =
		escaped_path(route_of(x, base, "/api/v1/file-upload/", "/uploads/"), argv[first]);
	struct upload_src u = { .fd = fd, .size = (uint64_t)st.st_size, .md = EVP_MD_CTX_new() };
	if (!path || !u.md || EVP_DigestInit_ex(u.md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(u.md);
		fputs("cloister: out of memory\n", stderr);
		return CLI_EXIT_FAIL;
	}
	struct client_req rq = { .method = "POST",
				 .path = path,
				 .read = upload_read,
				 .read_len = u.size,
				 .read_ud = &u };
	struct client_resp r;
	rc = send_req(x, &rq, &r);
	if (rc >= 0) {
		if (u.err)
			fprintf(stderr, "cloister: %s: %s\n", file,
				u.err == EIO ? "the file shrank while it was sent"
					     : strerror(u.err));
		EVP_MD_CTX_free(u.md);
		return rc;
	}
	if (!client_resp_2xx(&r)) {
		rc = http_fail(&r);
	} else if (u.sent != u.size) {
		fprintf(stderr, "cloister: %s: the agent replied before the whole file was sent\n",
			x->url);
		rc = CLI_EXIT_FAIL;
	} else {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned mdlen = 0;
		char hex[65];
		EVP_DigestFinal_ex(u.md, md, &mdlen);
		util_hex(hex, md, 32);
		rc = verify_upload(x, &r, file, hex, u.size);
	}
	EVP_MD_CTX_free(u.md);
	client_resp_done(&r);
	return rc;
}

/* ---------------------------------------------------------------- set-password */

static const char set_password_help[] =
	"Usage: cloister agent [options] set-password [--password-file FILE]\n"
	"\n"
	"Sets the agent's Basic auth password (POST /api/v1/set-basic-auth). The new password is\n"
	"the content of FILE or of stdin (asked twice, without echo, on a terminal); one trailing\n"
	"newline is ignored. It is never taken from the command line. The current password, when\n"
	"one is set, comes from the global --password-file.\n";

static int cmd_set_password(struct agent_cli *x, int argc, char **argv)
{
	static const struct option lo[] = { { "password-file", required_argument, NULL, 'p' },
					    { "help", no_argument, NULL, 'h' },
					    { 0 } };
	const char *file = NULL;
	int opt;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		switch (opt) {
		case 'p':
			file = optarg;
			break;
		case 'h':
			fputs(set_password_help, stdout);
			return CLI_EXIT_OK;
		default:
			fputs(set_password_help, stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage_error(
			set_password_help,
			"unexpected argument '%s' (the password is never an argument)",
			argv[optind]);
	char *pw = NULL;
	size_t len = 0;
	int rc = read_new_password(file, &pw, &len);
	if (rc)
		return rc;
	struct client_req rq = { .method = "POST",
				 .path = "/api/v1/set-basic-auth",
				 .body = pw,
				 .body_len = len,
				 .content_type = "text/plain" };
	struct client_resp r;
	rc = send_req(x, &rq, &r);
	wipe_free(pw, len);
	if (rc >= 0)
		return rc;
	if (!client_resp_2xx(&r)) {
		rc = http_fail(&r);
	} else if (x->json) {
		print_raw_json(&r);
		rc = CLI_EXIT_OK;
	} else {
		char msg[CLI_ERROR_MESSAGE_MAX_BYTES];
		client_error_message(&r, msg, sizeof(msg));
		puts(msg);
		rc = CLI_EXIT_OK;
	}
	client_resp_done(&r);
	return rc;
}

/* ---------------------------------------------------------------- health */

static const char health_help[] =
	"Usage: cloister agent [options] health\n"
	"\n"
	"Asks the agent whether it is alive (GET /livez) and ready (GET /readyz); exits 0 only\n"
	"when both answer 200.\n";

static int cmd_health(struct agent_cli *x, int argc, char **argv)
{
	int first, rc = simple_opts(argc, argv, health_help, 0, &first);
	if (rc)
		return rc == 1 ? CLI_EXIT_OK : rc;
	static const char *const paths[2] = { "/livez", "/readyz" };
	json_t *all = json_object();
	bool healthy = true;
	for (int i = 0; i < 2; i++) {
		struct client_req rq = { .method = "GET", .path = paths[i] };
		struct client_resp r;
		rc = send_req(x, &rq, &r);
		if (rc >= 0) {
			json_decref(all);
			return rc;
		}
		if (r.status == 401 || r.status == 403) {
			rc = http_fail(&r);
			client_resp_done(&r);
			json_decref(all);
			return rc;
		}
		healthy = healthy && r.status == 200;
		if (x->json) {
			json_t *doc = parse_reply(&r);
			json_t *v = doc ? doc : json_string_lossy(r.body, r.len);
			json_object_set_new(all, paths[i] + 1, v);
		} else {
			char line[CLI_ERROR_MESSAGE_MAX_BYTES];
			client_health_line(paths[i] + 1, &r, line, sizeof(line));
			puts(line);
		}
		client_resp_done(&r);
	}
	if (x->json) {
		char *s = json_dumps(all, JSON_COMPACT);
		if (s)
			puts(s);
		free(s);
	}
	json_decref(all);
	return healthy ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* ---------------------------------------------------------------- status (by backend) */

/* GETs path through the proxy and prints the reply with render (or as received with --json). */
static int show_status(struct agent_cli *x, const char *path,
		       int (*render)(const char *body, size_t len, struct util_buf *out))
{
	struct client_req rq = { .method = "GET", .path = path };
	struct client_resp r;
	int rc = send_req(x, &rq, &r);
	if (rc >= 0)
		return rc;
	if (!client_resp_2xx(&r)) {
		rc = http_fail(&r);
	} else if (x->json) {
		rc = cp_json_valid(r.body, r.len) ? (print_raw_json(&r), CLI_EXIT_OK)
						  : cp_bad_reply(x->cp, "not JSON");
	} else {
		struct util_buf b = { 0 };
		int e = render(r.body, r.len, &b);
		if (e == -ENOMEM || b.oom) {
			fputs("cloister: out of memory\n", stderr);
			rc = CLI_EXIT_FAIL;
		} else if (e < 0) {
			rc = cp_bad_reply(x->cp, "not the agent's status reply");
		} else {
			fwrite(b.p ? b.p : "", 1, b.len, stdout);
			rc = CLI_EXIT_OK;
		}
		free(b.p);
	}
	client_resp_done(&r);
	return rc;
}

static const char status_help[] =
	"Usage: cloister agent BACKEND_ID status [SERVICE]\n"
	"\n"
	"Without SERVICE, lists the services the agent reports on (GET /services); with it,\n"
	"shows that service's systemd state (GET /services/SERVICE/status).\n";

static int cmd_status(struct agent_cli *x, int argc, char **argv)
{
	static const struct option lo[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
	int opt;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		if (opt == 'h') {
			fputs(status_help, stdout);
			return CLI_EXIT_OK;
		}
		fputs(status_help, stderr);
		return CLI_EXIT_USAGE;
	}
	if (argc - optind > 1)
		return cli_usage_error(status_help, "unexpected argument '%s'", argv[optind + 1]);
	char base[BACKEND_PATH_BYTES];
	if (argc - optind == 0)
		return show_status(x, route_of(x, base, "/services", "/services"),
				   cp_services_render);
	_cleanup_free_ char *e = client_escape(argv[optind], strlen(argv[optind]));
	_cleanup_free_ char *path = NULL;
	if (!e ||
	    asprintf(&path, "%s/%s/status", route_of(x, base, "/services", "/services"), e) < 0) {
		path = NULL;
		fputs("cloister: out of memory\n", stderr);
		return CLI_EXIT_FAIL;
	}
	return show_status(x, path, cp_service_status_render);
}

static const char logs_help[] =
	"Usage: cloister agent BACKEND_ID logs SERVICE [--lines N] [--since-minutes N]\n"
	"\n"
	"Prints the newest journal lines of SERVICE (GET /services/SERVICE/logs); the agent\n"
	"clamps --lines to its log_lines_max.\n";

static int cmd_logs(struct agent_cli *x, int argc, char **argv)
{
	static const struct option lo[] = { { "lines", required_argument, NULL, 'l' },
					    { "since-minutes", required_argument, NULL, 's' },
					    { "help", no_argument, NULL, 'h' },
					    { 0 } };
	uint64_t lines = 0, since = 0;
	bool has_lines = false, has_since = false;
	int opt;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'l':
			if (util_parse_u64(optarg, 1000000, &lines) < 0 || lines == 0)
				return cli_usage_error(
					logs_help, "--lines wants 1 to 1000000, not '%s'", optarg);
			has_lines = true;
			break;
		case 's':
			if (util_parse_u64(optarg, 1000000, &since) < 0 || since == 0)
				return cli_usage_error(
					logs_help, "--since-minutes wants 1 to 1000000, not '%s'",
					optarg);
			has_since = true;
			break;
		case 'h':
			fputs(logs_help, stdout);
			return CLI_EXIT_OK;
		default:
			fputs(logs_help, stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(
			logs_help, argc - optind ? "unexpected argument '%s'" : "missing SERVICE%s",
			argc - optind ? argv[optind + 1] : "");
	char base[BACKEND_PATH_BYTES], query[64] = "";
	size_t qn = 0;
	if (has_lines)
		qn += (size_t)snprintf(query + qn, sizeof(query) - qn, "?lines=%llu",
				       (unsigned long long)lines);
	if (has_since)
		snprintf(query + qn, sizeof(query) - qn, "%csince_minutes=%llu", qn ? '&' : '?',
			 (unsigned long long)since);
	_cleanup_free_ char *e = client_escape(argv[optind], strlen(argv[optind]));
	_cleanup_free_ char *path = NULL;
	if (!e || asprintf(&path, "%s/%s/logs%s", route_of(x, base, "/services", "/services"), e,
			   query) < 0) {
		path = NULL;
		fputs("cloister: out of memory\n", stderr);
		return CLI_EXIT_FAIL;
	}
	return show_status(x, path, cp_service_logs_render);
}

static const char gpu_help[] = "Usage: cloister agent BACKEND_ID gpu\n"
			       "\n"
			       "Shows the agent's GPUs (GET /gpu, from nvidia-smi -q -x).\n";
static const char overview_help[] =
	"Usage: cloister agent BACKEND_ID overview\n"
	"\n"
	"Shows the agent's overview (GET /overview): its status, its services and the GPU\n"
	"command's result.\n";

static int cmd_gpu(struct agent_cli *x, int argc, char **argv)
{
	int first, rc = simple_opts(argc, argv, gpu_help, 0, &first);
	if (rc)
		return rc == 1 ? CLI_EXIT_OK : rc;
	char base[BACKEND_PATH_BYTES];
	return show_status(x, route_of(x, base, "/gpu", "/gpu"), cp_gpu_render);
}

static int cmd_overview(struct agent_cli *x, int argc, char **argv)
{
	int first, rc = simple_opts(argc, argv, overview_help, 0, &first);
	if (rc)
		return rc == 1 ? CLI_EXIT_OK : rc;
	char base[BACKEND_PATH_BYTES];
	return show_status(x, route_of(x, base, "/overview", "/overview"), cp_overview_render);
}

/* ---------------------------------------------------------------- by backend */

static const char backend_usage_text[] =
	"Usage: cloister agent BACKEND_ID [options] <command> [args]\n"
	"\n"
	"Operates the agent of a backend through cloisterd's proxy, with the session of\n"
	"`cloister login` (cloisterd reaches the agent over mutual TLS).\n"
	"\n"
	"Options (before the command):\n"
	"  --server URL        cloisterd's URL (env CLOISTER_SERVER; default: the session's)\n"
	"  --cacert FILE       trust the CA certificates in FILE (PEM) for https\n"
	"  --timeout SECONDS   limit for each request (default 60, 0 = none; follow has none)\n"
	"  --json              print the agent's JSON replies\n"
	"\n"
	"Commands:\n"
	"  events [--after N] [--limit N] [--follow]   list (or follow) the agent's events\n"
	"  action NAME                                 run an action (exits with its exit code)\n"
	"  upload NAME FILE                            stream FILE to the upload NAME (64 MiB at\n"
	"                                              most); checks SHA-256\n"
	"  status [SERVICE]                            the services, or one service's state\n"
	"  logs SERVICE [--lines N] [--since-minutes N]  a service's journal lines\n"
	"  gpu                                         the GPUs\n"
	"  overview                                    status, services and GPU at once\n";

static const struct {
	const char *name;
	int (*run)(struct agent_cli *x, int argc, char **argv);
} backend_commands[] = {
	{ "events", cmd_events },     { "action", cmd_action }, { "upload", cmd_upload },
	{ "status", cmd_status },     { "logs", cmd_logs },     { "gpu", cmd_gpu },
	{ "overview", cmd_overview },
};

/* argv[0] is the backend ID. */
static int agent_by_backend(int argc, char **argv)
{
	char id[CP_UUID_CHARS + 1];
	for (size_t i = 0; i <= CP_UUID_CHARS; i++)
		id[i] = (char)tolower((unsigned char)argv[0][i]);
	struct cp_opts o;
	cp_opts_init(&o);
	static const struct option lo[] = { CP_GLOBAL_LONGOPTS, { 0 } };
	int opt;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		int rc = cp_opts_handle(&o, opt, optarg, backend_usage_text);
		if (rc >= 0)
			return rc;
	}
	if (optind >= argc)
		return cli_usage_error(backend_usage_text, "missing command");
	const char *name = argv[optind];
	int (*run)(struct agent_cli *, int, char **) = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(backend_commands); i++)
		if (strcmp(backend_commands[i].name, name) == 0)
			run = backend_commands[i].run;
	if (!run)
		return cli_usage_error(backend_usage_text,
				       "unknown command '%s' for an agent reached by backend",
				       name);
	struct agent_cli x = { .url = id, .json = o.json, .backend = id };
	/* `--help` of a command works without a session. */
	bool help = false;
	for (int i = optind + 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		help = help || strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
	if (!help) {
		int rc = cp_open(&o, &x.cp);
		if (rc)
			return rc;
	}
	int rc = run(&x, argc - optind, argv + optind);
	if (x.cp)
		cp_close(x.cp);
	return rc;
}

/* ---------------------------------------------------------------- entry */

struct agent_command {
	const char *name;
	int (*run)(struct agent_cli *x, int argc, char **argv);
};

static const struct agent_command agent_commands[] = {
	{ "events", cmd_events },
	{ "log", cmd_log },
	{ "action", cmd_action },
	{ "upload", cmd_upload },
	{ "set-password", cmd_set_password },
	{ "health", cmd_health },
};

int cmd_agent(int argc, char **argv)
{
	enum {
		OPT_URL = 1,
		OPT_USER,
		OPT_PWFILE,
		OPT_CACERT,
		OPT_CERT,
		OPT_KEY,
		OPT_TIMEOUT,
		OPT_JSON
	};
	static const struct option lo[] = {
		{ "url", required_argument, NULL, OPT_URL },
		{ "user", required_argument, NULL, OPT_USER },
		{ "password-file", required_argument, NULL, OPT_PWFILE },
		{ "cacert", required_argument, NULL, OPT_CACERT },
		{ "cert", required_argument, NULL, OPT_CERT },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	/* `cloister agent BACKEND_ID ...`: through cloisterd (an agent's URL never is a UUID). */
	if (argc >= 2 && cp_uuid_valid(argv[1]))
		return agent_by_backend(argc - 1, argv + 1);
	struct client_opts co = { .user = "admin", .timeout_s = CLI_TIMEOUT_DEFAULT_S };
	const char *url = getenv("CLOISTER_AGENT_URL");
	const char *pwfile = getenv("CLOISTER_AGENT_PASSWORD_FILE");
	bool json = false;
	uint64_t v;
	int opt;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		switch (opt) {
		case OPT_URL:
			url = optarg;
			break;
		case OPT_USER:
			co.user = optarg;
			break;
		case OPT_PWFILE:
			pwfile = optarg;
			break;
		case OPT_CACERT:
			co.cacert = optarg;
			break;
		case OPT_CERT:
			co.cert = optarg;
			break;
		case OPT_KEY:
			co.key = optarg;
			break;
		case OPT_TIMEOUT:
			if (util_parse_u64(optarg, CLI_TIMEOUT_MAX_S, &v) < 0)
				return cli_usage_error(
					agent_usage_text,
					"--timeout wants seconds (0 to 86400), not '%s'", optarg);
			co.timeout_s = (long)v;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'h':
			fputs(agent_usage_text, stdout);
			return CLI_EXIT_OK;
		default:
			fputs(agent_usage_text, stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_error(agent_usage_text, "missing command");
	const char *name = argv[optind];
	const struct agent_command *cmd = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(agent_commands); i++)
		if (strcmp(agent_commands[i].name, name) == 0)
			cmd = &agent_commands[i];
	if (!cmd)
		return cli_usage_error(agent_usage_text, "unknown agent command '%s'", name);
	if (!url || !url[0])
		url = AGENT_URL_DEFAULT;
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		return cli_usage_error(agent_usage_text,
				       "--url must start with http:// or https://, not '%s'", url);
	if (!co.cert != !co.key)
		return cli_usage_error(agent_usage_text, "--cert and --key go together");

	/* `--help` of a command must work without a readable password file. */
	bool help = false;
	for (int i = optind + 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		help = help || strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;

	char *pw = NULL;
	size_t pwlen = 0;
	if (pwfile && pwfile[0] && !help) {
		int rc = read_password_file(pwfile, &pw, &pwlen);
		if (rc)
			return rc;
	}
	co.url = url;
	co.password = pw;
	struct agent_cli x = { .url = url, .json = json, .c = client_new(&co) };
	int rc;
	if (!x.c) {
		fputs("cloister: cannot start the HTTP client\n", stderr);
		rc = CLI_EXIT_FAIL;
	} else {
		rc = cmd->run(&x, argc - optind, argv + optind);
	}
	client_free(x.c);
	wipe_free(pw, pwlen);
	return rc;
}
