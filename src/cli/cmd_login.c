/*
 * cmd_login.c - `cloister login` and `cloister logout`, and the connection to cloisterd that
 * every control-plane command shares (struct cp, declared in cli.h).
 *
 * login asks cloisterd for a token pair (POST /users/tokens/issue) and stores it with the
 * server's URL in the session file (session.c, mode 0600). The password never comes from argv:
 * from --password-file, else typed on the terminal with echo off (/dev/tty, so it works with
 * stdin redirected elsewhere only when stdin is a terminal), else the first line of stdin; it is
 * wiped as soon as the request is sent.
 *
 * cp_open loads the session and refuses to send its token to any server but the one that
 * issued it (an --server or CLOISTER_SERVER naming another one is an error, not a leak).
 * cp_send retries a request once after a 401 whose message says the token expired: it spends
 * the refresh token (POST /users/tokens/refresh with it as the bearer), saves the new pair
 * before retrying (the old refresh token is single-use, so losing the new pair would log the
 * user out), and never refreshes twice in one process. Reply bodies that carry tokens are
 * wiped before they are freed.
 */
#include "cli/cli.h"

#include "cli/client.h"
#include "cli/cp_reply.h"
#include "cli/limits.h"
#include "cli/session.h"
#include "fsx.h"
#include "secret.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

struct cp {
	struct client *c;
	struct session s;
	char *path; /* the session file */
	char *url;  /* the server, without trailing '/' */
	bool refreshed;
};

/* ---------------------------------------------------------------- options */

void cp_opts_init(struct cp_opts *o)
{
	*o = (struct cp_opts){ .timeout_s = CLI_TIMEOUT_DEFAULT_S };
}

int cp_opts_handle(struct cp_opts *o, int opt, const char *arg, const char *help)
{
	uint64_t v;
	switch (opt) {
	case CP_OPT_SERVER:
		o->server = arg;
		return -1;
	case CP_OPT_CACERT:
		o->cacert = arg;
		return -1;
	case CP_OPT_JSON:
		o->json = true;
		return -1;
	case CP_OPT_TIMEOUT:
		if (util_parse_u64(arg, CLI_TIMEOUT_MAX_S, &v) < 0)
			return cli_usage_error(help, "--timeout wants seconds (0 to %d), not '%s'",
					       CLI_TIMEOUT_MAX_S, arg);
		o->timeout_s = (long)v;
		return -1;
	case CP_OPT_HELP:
	case 'h':
		fputs(help, stdout);
		return CLI_EXIT_OK;
	default:
		fputs(help, stderr);
		return CLI_EXIT_USAGE;
	}
}

int cp_parse_opts(struct cp_opts *o, int argc, char **argv, const struct option *extra,
		  const char *help, cp_opt_fn on_opt, void *ud, int want_args, int *first)
{
	struct option lo[16] = { CP_GLOBAL_LONGOPTS };
	size_t n = CP_GLOBAL_LONGOPTS_COUNT;
	/* Options may follow the ID (`update ID --name N`): GNU getopt permutes argv. */
	const char *shortopts = "h";
	for (size_t i = 0; extra && extra[i].name && n + 1 < ARRAY_SIZE(lo); i++) {
		lo[n++] = extra[i];
		if (extra[i].val == 'o')
			shortopts = "ho:";
	}
	int opt;
	optind = 0;
	while ((opt = getopt_long(argc, argv, shortopts, lo, NULL)) != -1) {
		if (opt < CP_OPT_SERVER && opt != 'h' && opt != '?' && on_opt) {
			int rc = on_opt(opt, optarg, ud, help);
			if (rc)
				return rc;
			continue;
		}
		int rc = cp_opts_handle(o, opt, optarg, help);
		if (rc >= 0)
			return rc;
	}
	if (argc - optind > want_args)
		return cli_usage_error(help, "unexpected argument '%s'", argv[optind + want_args]);
	if (argc - optind < want_args)
		return cli_usage_error(help, "missing %s", want_args == 1 ? "ID" : "argument");
	*first = optind;
	return -1;
}

static bool url_ok(const char *u)
{
	if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
		return false;
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	return strlen(u) < CLI_URL_MAX_BYTES / 2;
}

/* The URL without trailing slashes (caller frees); NULL on ENOMEM. */
static char *url_norm(const char *u)
{
	size_t n = strlen(u);
	while (n > 0 && u[n - 1] == '/')
		n--;
	return strndup(u, n);
}

/* ---------------------------------------------------------------- replies */

static void wipe_resp(struct client_resp *r)
{
	if (r->body)
		secret_wipe(r->body, r->len);
	client_resp_done(r);
}

int cp_http_fail(const struct client_resp *r)
{
	char msg[CLI_ERROR_MESSAGE_MAX_BYTES];
	client_error_message(r, msg, sizeof(msg));
	fprintf(stderr, "cloister: %s (HTTP %ld)\n", msg, r->status);
	return CLI_EXIT_FAIL;
}

int cp_oom(void)
{
	fputs("cloister: out of memory\n", stderr);
	return CLI_EXIT_FAIL;
}

int cp_put_buf(struct util_buf *b)
{
	int rc = CLI_EXIT_OK;
	if (b->oom)
		rc = cp_oom();
	else if (b->len)
		fwrite(b->p, 1, b->len, stdout);
	free(b->p);
	return rc;
}

int cp_bad_reply(const struct cp *x, const char *what)
{
	fprintf(stderr, "cloister: %s: malformed reply (%s)\n", x->url, what);
	return CLI_EXIT_FAIL;
}

int cp_print_json(const struct cp *x, const struct client_resp *r)
{
	if (!cp_json_valid(r->body, r->len))
		return cp_bad_reply(x, "not JSON");
	fwrite(r->body, 1, r->len, stdout);
	if (r->len == 0 || r->body[r->len - 1] != '\n')
		fputc('\n', stdout);
	return CLI_EXIT_OK;
}

/* client_do, with a transport failure printed and mapped to an exit code (-1: a reply). */
static int do_req(struct client *c, const char *url, const struct client_req *rq,
		  struct client_resp *r)
{
	char err[CLIENT_ERR_BYTES];
	int rc = client_do(c, rq, r, err, sizeof(err));
	if (rc == 0)
		return -1;
	fprintf(stderr, "cloister: %s: %s\n", url, err);
	return rc == -EPIPE || rc == -ENOMEM || rc == -EINVAL ? CLI_EXIT_FAIL
							      : CLI_EXIT_UNREACHABLE;
}

/* ---------------------------------------------------------------- passwords */

static volatile sig_atomic_t prompt_interrupted;

static void on_prompt_signal(int sig)
{
	prompt_interrupted = sig;
}

/* Reads one line (without its "\n" or "\r\n") of at most cap bytes from fd. Returns the length,
 * -E2BIG past cap, -EINTR when a signal interrupted it, or -errno. */
static ssize_t read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	for (;;) {
		char ch;
		ssize_t r = read(fd, &ch, 1);
		if (r < 0 && errno == EINTR && !prompt_interrupted)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0 || ch == '\n')
			break;
		if (n == cap)
			return -E2BIG;
		buf[n++] = ch;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	return (ssize_t)n;
}

/* Prompts on the terminal with echo off, restoring it even when interrupted (SIGINT and
 * SIGTERM are caught for the duration and then re-raised). */
static ssize_t prompt_tty(int tty, const char *prompt, char *buf, size_t cap)
{
	struct termios old, quiet;
	bool restore = false;
	struct sigaction sa = { .sa_handler = on_prompt_signal }, old_int, old_term;
	sigemptyset(&sa.sa_mask);
	prompt_interrupted = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	if (tcgetattr(tty, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		restore = tcsetattr(tty, TCSAFLUSH, &quiet) == 0;
	}
	if (write(tty, prompt, strlen(prompt)) < 0) {
		/* the prompt is a courtesy; reading still works */
	}
	ssize_t n = read_line(tty, buf, cap);
	if (restore)
		tcsetattr(tty, TCSANOW, &old);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (prompt_interrupted) {
		if (write(tty, "\n", 1) < 0) {
			/* nothing more to do */
		}
		raise(prompt_interrupted);
		n = -EINTR;
	}
	return n;
}

/* Prompts with echo on (a user name). */
static ssize_t prompt_plain(int tty, const char *prompt, char *buf, size_t cap)
{
	if (write(tty, prompt, strlen(prompt)) < 0) {
		/* as above */
	}
	return read_line(tty, buf, cap);
}

static void password_error(ssize_t e)
{
	if (e == -E2BIG)
		fprintf(stderr, "cloister: password longer than %d bytes\n",
			CLI_PASSWORD_MAX_BYTES);
	else
		fprintf(stderr, "cloister: reading the password: %s\n", strerror((int)-e));
}

int cp_read_password(const char *file, bool confirm, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	char *pw = NULL;
	size_t n = 0;
	if (file) {
		/* Room for a "\r\n" after a password at the limit. */
		int rc = fsx_read_file(file, CLI_PASSWORD_MAX_BYTES + 2, &pw, &n);
		if (rc < 0) {
			if (rc == -E2BIG)
				fprintf(stderr,
					"cloister: %s: password file larger than %d bytes\n", file,
					CLI_PASSWORD_MAX_BYTES);
			else
				fprintf(stderr, "cloister: %s: %s\n", file, strerror(-rc));
			return CLI_EXIT_FAIL;
		}
		/* The first line: a trailing "\n" or "\r\n" is not part of it. */
		char *nl = memchr(pw, '\n', n);
		size_t l = nl ? (size_t)(nl - pw) : n;
		if (l > 0 && pw[l - 1] == '\r')
			l--;
		secret_wipe(pw + l, n - l);
		n = l;
		if (n > CLI_PASSWORD_MAX_BYTES) {
			fprintf(stderr, "cloister: %s: password longer than %d bytes\n", file,
				CLI_PASSWORD_MAX_BYTES);
			secret_wipe(pw, n);
			free(pw);
			return CLI_EXIT_FAIL;
		}
	} else {
		size_t cap = CLI_PASSWORD_MAX_BYTES;
		pw = calloc(1, cap + 1);
		char *again = confirm ? calloc(1, cap + 1) : NULL;
		if (!pw || (confirm && !again)) {
			free(pw);
			free(again);
			fputs("cloister: out of memory\n", stderr);
			return CLI_EXIT_FAIL;
		}
		ssize_t r, r2 = 0;
		if (isatty(STDIN_FILENO)) {
			_cleanup_close_ int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
			int fd = tty >= 0 ? tty : STDIN_FILENO;
			r = prompt_tty(fd, confirm ? "New password: " : "Password: ", pw, cap);
			if (r >= 0 && confirm)
				r2 = prompt_tty(fd, "Retype new password: ", again, cap);
		} else {
			r = read_line(STDIN_FILENO, pw, cap);
			confirm = false;
		}
		int rc = 0;
		if (r < 0 || r2 < 0) {
			password_error(r < 0 ? r : r2);
			rc = CLI_EXIT_FAIL;
		} else if (confirm && (r != r2 || !secret_equal(pw, again, (size_t)r))) {
			fputs("cloister: the passwords do not match\n", stderr);
			rc = CLI_EXIT_FAIL;
		}
		if (again) {
			secret_wipe(again, cap + 1);
			free(again);
		}
		if (rc) {
			secret_wipe(pw, cap + 1);
			free(pw);
			return rc;
		}
		n = (size_t)r;
	}
	if (n == 0) {
		fputs("cloister: the password is empty\n", stderr);
		free(pw);
		return CLI_EXIT_FAIL;
	}
	pw[n] = '\0';
	*out = pw;
	*len = n;
	return 0;
}

/* ---------------------------------------------------------------- connection */

/* Prints why the session at path cannot be used; returns CLI_EXIT_FAIL. */
static int session_error(const char *path, int rc)
{
	switch (rc) {
	case -ENOENT:
		fputs("cloister: not logged in; run `cloister login --server URL` first\n", stderr);
		break;
	case -EACCES:
		fprintf(stderr,
			"cloister: %s can be read or changed by other users, so its tokens are not "
			"used; fix it with `chmod 600 %s` (and log in again if others may have "
			"read it)\n",
			path, path);
		break;
	case -EPERM:
		fprintf(stderr,
			"cloister: %s belongs to another user; remove it and log in again\n", path);
		break;
	case -EINVAL:
	case -EPROTO:
	case -E2BIG:
		fprintf(stderr,
			"cloister: %s is not a valid session file; run `cloister login` again\n",
			path);
		break;
	default:
		fprintf(stderr, "cloister: %s: %s\n", path, strerror(-rc));
		break;
	}
	return CLI_EXIT_FAIL;
}

static int locate_session(char **path)
{
	int rc = session_path(path);
	if (rc == 0)
		return 0;
	if (rc == -ENOENT)
		fputs("cloister: cannot locate the session file: set HOME (or "
		      "XDG_CONFIG_HOME) to an absolute directory\n",
		      stderr);
	else
		fprintf(stderr, "cloister: the session file's path: %s\n", strerror(-rc));
	return CLI_EXIT_FAIL;
}

void cp_close(struct cp *x)
{
	if (!x)
		return;
	client_free(x->c);
	session_done(&x->s);
	free(x->path);
	free(x->url);
	free(x);
}

int cp_open(const struct cp_opts *o, struct cp **out)
{
	*out = NULL;
	struct cp *x = calloc(1, sizeof(*x));
	if (!x) {
		fputs("cloister: out of memory\n", stderr);
		return CLI_EXIT_FAIL;
	}
	int rc = locate_session(&x->path);
	if (rc) {
		cp_close(x);
		return rc;
	}
	int e = session_load(x->path, &x->s);
	if (e < 0) {
		rc = session_error(x->path, e);
		cp_close(x);
		return rc;
	}
	const char *want = o->server ? o->server : getenv("CLOISTER_SERVER");
	if (!want || !want[0])
		want = x->s.server;
	_cleanup_free_ char *w = url_norm(want), *have = url_norm(x->s.server);
	if (!w || !have) {
		fputs("cloister: out of memory\n", stderr);
		cp_close(x);
		return CLI_EXIT_FAIL;
	}
	if (strcmp(w, have) != 0) {
		fprintf(stderr,
			"cloister: the session is for %s, not %s; run `cloister login --server "
			"%s` to use that server\n",
			have, w, w);
		cp_close(x);
		return CLI_EXIT_FAIL;
	}
	x->url = TAKE_PTR(have);
	struct client_opts co = { .url = x->url,
				  .bearer = x->s.access_token,
				  .cacert = o->cacert ? o->cacert : x->s.cacert,
				  .timeout_s = o->timeout_s };
	x->c = client_new(&co);
	if (!x->c) {
		fputs("cloister: cannot start the HTTP client\n", stderr);
		cp_close(x);
		return CLI_EXIT_FAIL;
	}
	*out = x;
	return 0;
}

/* Spends the refresh token for a new pair and saves it. Returns 0 or an exit code. */
static int cp_refresh(struct cp *x)
{
	client_set_bearer(x->c, x->s.refresh_token);
	struct client_req rq = { .method = "POST",
				 .path = "/users/tokens/refresh",
				 .content_type = "application/json" };
	struct client_resp r;
	int rc = do_req(x->c, x->url, &rq, &r);
	client_set_bearer(x->c, x->s.access_token);
	if (rc >= 0)
		return rc;
	if (r.status < 200 || r.status >= 300) {
		char msg[CLI_ERROR_MESSAGE_MAX_BYTES];
		client_error_message(&r, msg, sizeof(msg));
		fprintf(stderr,
			"cloister: the session expired and could not be renewed: %s (HTTP %ld); "
			"run `cloister login`\n",
			msg, r.status);
		wipe_resp(&r);
		return CLI_EXIT_FAIL;
	}
	char *access = NULL, *refresh = NULL;
	int e = cp_token_reply_parse(r.body, r.len, &access, &refresh);
	wipe_resp(&r);
	if (e < 0)
		return cp_bad_reply(x, "no token pair");
	/* The strings move into the session; the old ones are wiped. */
	secret_wipe(x->s.access_token, strlen(x->s.access_token));
	secret_wipe(x->s.refresh_token, strlen(x->s.refresh_token));
	free(x->s.access_token);
	free(x->s.refresh_token);
	x->s.access_token = access;
	x->s.refresh_token = refresh;
	client_set_bearer(x->c, x->s.access_token);
	e = session_save(x->path, &x->s);
	if (e < 0)
		fprintf(stderr,
			"cloister: warning: cannot save the renewed tokens in %s: %s; the next "
			"command will need `cloister login`\n",
			x->path, strerror(-e));
	return 0;
}

int cp_send(struct cp *x, const struct client_req *rq, struct client_resp *r)
{
	int rc = do_req(x->c, x->url, rq, r);
	if (rc >= 0 || x->refreshed || !cp_token_expired(r->status, r->body, r->len))
		return rc;
	x->refreshed = true;
	client_resp_done(r);
	rc = cp_refresh(x);
	if (rc)
		return rc;
	return do_req(x->c, x->url, rq, r);
}

/* ---------------------------------------------------------------- login */

static const char login_help[] =
	"Usage: cloister login [--server URL] [--username USER] [--password-file FILE]\n"
	"                      [--cacert FILE] [--timeout SECONDS] [--json]\n"
	"\n"
	"Logs in to cloisterd (POST /users/tokens/issue) and stores the token pair in\n"
	"$XDG_CONFIG_HOME/cloister/session.json (else ~/.config/cloister/session.json, mode 0600)\n"
	"for the other commands.\n"
	"\n"
	"  --server URL          cloisterd's URL (env CLOISTER_SERVER, else the last session's,\n"
	"                        else " CP_SERVER_DEFAULT ")\n"
	"  --username USER       asked on the terminal when missing\n"
	"  --password-file FILE  the password is the first line of FILE; without it, it is typed\n"
	"                        on the terminal (no echo), or read as one line from stdin\n"
	"  --cacert FILE         trust the CA certificates in FILE (PEM) for https; remembered\n"
	"  --timeout SECONDS     limit for each request (default 60, 0 = none)\n"
	"  --json                print {\"server\",\"username\"} instead of a sentence\n";

/* The user name: the option, else asked on the terminal. Returns 0 or an exit code. */
static int login_username(const char *opt, char *buf, size_t cap)
{
	if (opt) {
		if (strlen(opt) >= cap || !opt[0])
			return cli_usage_error(login_help, "--username wants 1 to %d bytes",
					       SESSION_USERNAME_MAX_BYTES);
		memcpy(buf, opt, strlen(opt) + 1);
		return 0;
	}
	if (!isatty(STDIN_FILENO))
		return cli_usage_error(login_help,
				       "--username is required when stdin is not a terminal");
	_cleanup_close_ int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	ssize_t n = prompt_plain(tty >= 0 ? tty : STDIN_FILENO, "Username: ", buf, cap - 1);
	if (n <= 0) {
		fputs("cloister: no user name given\n", stderr);
		return CLI_EXIT_FAIL;
	}
	buf[n] = '\0';
	return 0;
}

int cmd_login(int argc, char **argv)
{
	enum { OPT_USERNAME = 1, OPT_PWFILE };
	static const struct option lo[] = {
		CP_GLOBAL_LONGOPTS,
		{ "username", required_argument, NULL, OPT_USERNAME },
		{ "password-file", required_argument, NULL, OPT_PWFILE },
		{ 0 },
	};
	struct cp_opts o;
	cp_opts_init(&o);
	const char *user_opt = NULL, *pwfile = NULL;
	int opt;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		if (opt == OPT_USERNAME) {
			user_opt = optarg;
		} else if (opt == OPT_PWFILE) {
			pwfile = optarg;
		} else {
			int rc = cp_opts_handle(&o, opt, optarg, login_help);
			if (rc >= 0)
				return rc;
		}
	}
	if (optind != argc)
		return cli_usage_error(login_help, "unexpected argument '%s'", argv[optind]);

	_cleanup_free_ char *path = NULL;
	int rc = locate_session(&path);
	if (rc)
		return rc;
	/* The last session only supplies a default server; a broken one is replaced. */
	struct session old;
	bool have_old = session_load(path, &old) == 0;
	const char *server = o.server ? o.server : getenv("CLOISTER_SERVER");
	if (!server || !server[0])
		server = have_old ? old.server : CP_SERVER_DEFAULT;
	_cleanup_free_ char *url = url_norm(server);
	if (have_old)
		session_done(&old);
	if (!url) {
		fputs("cloister: out of memory\n", stderr);
		return CLI_EXIT_FAIL;
	}
	if (!url_ok(url))
		return cli_usage_error(
			login_help, "the server must be an http:// or https:// URL, not '%s'", url);
	/* Kept as an absolute path: later commands may run from another directory. */
	_cleanup_free_ char *cacert = NULL;
	if (o.cacert && !(cacert = realpath(o.cacert, NULL))) {
		fprintf(stderr, "cloister: %s: %s\n", o.cacert, strerror(errno));
		return CLI_EXIT_FAIL;
	}

	char username[SESSION_USERNAME_MAX_BYTES + 1];
	rc = login_username(user_opt, username, sizeof(username));
	if (rc)
		return rc;
	char *pw = NULL;
	size_t pwlen = 0;
	rc = cp_read_password(pwfile, false, &pw, &pwlen);
	if (rc)
		return rc;

	json_t *req = json_object();
	json_t *ju = json_string(username), *jp = json_stringn(pw, pwlen);
	secret_wipe(pw, pwlen);
	free(pw);
	if (!req || !ju || !jp || json_object_set_new(req, "username", ju) < 0 ||
	    json_object_set_new(req, "password", jp) < 0) {
		json_decref(req);
		fputs("cloister: the user name and the password must be UTF-8\n", stderr);
		return CLI_EXIT_FAIL;
	}
	size_t blen = json_dumpb(req, NULL, 0, JSON_COMPACT);
	char *body = blen ? malloc(blen) : NULL;
	if (body && json_dumpb(req, body, blen, JSON_COMPACT) != blen) {
		free(body);
		body = NULL;
	}
	json_decref(req);
	if (!body) {
		fputs("cloister: out of memory\n", stderr);
		return CLI_EXIT_FAIL;
	}

	struct client_opts co = { .url = url, .cacert = cacert, .timeout_s = o.timeout_s };
	struct client *c = client_new(&co);
	struct client_resp r = { 0 };
	rc = CLI_EXIT_FAIL;
	if (!c) {
		fputs("cloister: cannot start the HTTP client\n", stderr);
	} else {
		struct client_req rq = { .method = "POST",
					 .path = "/users/tokens/issue",
					 .content_type = "application/json",
					 .body = body,
					 .body_len = blen };
		rc = do_req(c, url, &rq, &r);
	}
	secret_wipe(body, blen);
	free(body);
	client_free(c);
	if (rc >= 0)
		return rc;
	if (r.status < 200 || r.status >= 300) {
		rc = cp_http_fail(&r);
		wipe_resp(&r);
		return rc;
	}
	struct session s = { 0 };
	int e = cp_token_reply_parse(r.body, r.len, &s.access_token, &s.refresh_token);
	wipe_resp(&r);
	if (e < 0) {
		session_done(&s);
		fprintf(stderr, "cloister: %s: malformed reply (no token pair)\n", url);
		return CLI_EXIT_FAIL;
	}
	if (session_set(&s.server, url) < 0 || session_set(&s.username, username) < 0 ||
	    session_set(&s.cacert, cacert) < 0) {
		session_done(&s);
		fputs("cloister: out of memory\n", stderr);
		return CLI_EXIT_FAIL;
	}
	e = session_save(path, &s);
	session_done(&s);
	if (e < 0) {
		fprintf(stderr, "cloister: cannot save the session in %s: %s\n", path,
			strerror(-e));
		return CLI_EXIT_FAIL;
	}
	if (o.json) {
		json_t *j = json_pack("{s:s,s:s}", "server", url, "username", username);
		char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
		if (t)
			puts(t);
		free(t);
		json_decref(j);
	} else {
		/* The name was accepted by the server, but print it clean all the same. */
		client_sanitize(username, strlen(username));
		printf("logged in to %s as %s\n", url, username);
	}
	return CLI_EXIT_OK;
}

/* ---------------------------------------------------------------- logout */

static const char logout_help[] =
	"Usage: cloister logout\n"
	"\n"
	"Deletes the stored session (its tokens stay valid on the server until they expire).\n";

int cmd_logout(int argc, char **argv)
{
	static const struct option lo[] = { CP_GLOBAL_LONGOPTS, { 0 } };
	struct cp_opts o;
	cp_opts_init(&o);
	int opt;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		int rc = cp_opts_handle(&o, opt, optarg, logout_help);
		if (rc >= 0)
			return rc;
	}
	if (optind != argc)
		return cli_usage_error(logout_help, "unexpected argument '%s'", argv[optind]);
	_cleanup_free_ char *path = NULL;
	int rc = locate_session(&path);
	if (rc)
		return rc;
	int e = session_remove(path);
	if (e == -ENOENT) {
		puts("not logged in");
		return CLI_EXIT_OK;
	}
	if (e < 0) {
		fprintf(stderr, "cloister: %s: %s\n", path, strerror(-e));
		return CLI_EXIT_FAIL;
	}
	puts("logged out");
	return CLI_EXIT_OK;
}
