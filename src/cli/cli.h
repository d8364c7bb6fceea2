/*
 * cli.h - what main.c and the cmd_<noun>.c files of the cloister CLI share: exit codes and the
 * entry point of each noun.
 *
 * Exit codes are a contract for scripts: 0 success, 1 the peer refused or failed (an HTTP error,
 * a failed verification, a local file that cannot be read), 2 no usable reply (connection, TLS,
 * timeout, an oversized reply), 64 a usage error. `cloister agent action` exits with the
 * action's own exit code instead of 1 when the action ran and failed. `cloister attest verify`
 * exits 0 only when the evidence verified, 1 when it did not, and 2 (CLI_EXIT_IO) when one of
 * the verifier's own inputs (a file, the policy) cannot be read or used.
 * Single-threaded; each cmd_* owns the process while it runs.
 *
 * The control-plane nouns (login, logout, backends, users, certs, and agent BACKEND_ID)
 * share, from cmd_login.c, their global options and one connection to cloisterd (struct cp)
 * that carries the stored session's access token and renews the token pair once when the
 * server says it expired.
 */
#ifndef CLOISTER_CLI_H
#define CLOISTER_CLI_H

#include <stdbool.h>
#include <stddef.h>

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_UNREACHABLE 2
#define CLI_EXIT_IO 2 /* attest verify: an input cannot be read or used */
#define CLI_EXIT_USAGE 64

/* `cloister agent ...`: argv[0] is "agent". Returns the process exit code. */
/* Prints "cloister: <message>" and the usage text on stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *text, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int cmd_agent(int argc, char **argv);
/* `cloister attest verify ...`: argv[0] is "attest". */
int cmd_attest(int argc, char **argv);
/* `cloister policy measurement|hostdata ...`: argv[0] is "policy". */
int cmd_policy(int argc, char **argv);
/* `cloister login ...` and `cloister logout`: argv[0] is the verb. */
int cmd_login(int argc, char **argv);
int cmd_logout(int argc, char **argv);
/* `cloister backends create|list|get|update|delete|terminate|info ...`: argv[0] is "backends". */
int cmd_backends(int argc, char **argv);
/* `cloister users create|list ...`: argv[0] is "users". */
int cmd_users(int argc, char **argv);
/* `cloister certs issue|list|get|download|renew|revoke|crl|ca ...`: argv[0] is "certs". */
int cmd_certs(int argc, char **argv);

/* ---------------------------------------------------------------- control plane (cmd_login.c) */

#define CP_SERVER_DEFAULT "http://127.0.0.1:8080"
#define CP_INFO_MAX_BYTES (64u << 10) /* PUT /backends/{id}/info: cloisterd's body limit */

/* The options every control-plane command accepts, before or after the command word. */
struct cp_opts {
	const char *server; /* --server, else CLOISTER_SERVER, else the session's */
	const char *cacert; /* --cacert, else the session's */
	bool json;
	long timeout_s;
};

enum { CP_OPT_SERVER = 0x100, CP_OPT_CACERT, CP_OPT_JSON, CP_OPT_TIMEOUT, CP_OPT_HELP };
/* clang-format off */
#define CP_GLOBAL_LONGOPTS                                                                         \
	{ "server", required_argument, NULL, CP_OPT_SERVER },                                      \
	{ "cacert", required_argument, NULL, CP_OPT_CACERT },                                      \
	{ "json", no_argument, NULL, CP_OPT_JSON },                                                \
	{ "timeout", required_argument, NULL, CP_OPT_TIMEOUT },                                    \
	{ "help", no_argument, NULL, CP_OPT_HELP }
/* clang-format on */
#define CP_GLOBAL_LONGOPTS_COUNT 5

/* Defaults for o (timeout CLI_TIMEOUT_DEFAULT_S). */
void cp_opts_init(struct cp_opts *o);
/*
 * Handles one getopt_long result opt (with optarg) of a control-plane command whose usage text
 * is help: the CP_GLOBAL_LONGOPTS, --help (printed on stdout) and errors. Returns -1 when opt
 * was one of the globals, else an exit code to return: CLI_EXIT_OK after --help,
 * CLI_EXIT_USAGE after a bad value or an unknown option (help printed on stderr).
 */
int cp_opts_handle(struct cp_opts *o, int opt, const char *arg, const char *help);

/*
 * Parses the options of one control-plane command (argv[0] is the command word): the globals
 * plus extra (the command's own, ended by { 0 }, at most 10, values below CP_OPT_SERVER; 'o'
 * is also accepted as a short option when extra holds it), each of those handed to on_opt
 * (returning 0, or an exit code). Exactly want_args positionals must follow. Returns -1 with
 * *first at the first positional, or an exit code to return: CLI_EXIT_OK after --help,
 * CLI_EXIT_USAGE (or on_opt's code) after printing why.
 */
struct option;
typedef int (*cp_opt_fn)(int opt, const char *arg, void *ud, const char *help);
int cp_parse_opts(struct cp_opts *o, int argc, char **argv, const struct option *extra,
		  const char *help, cp_opt_fn on_opt, void *ud, int want_args, int *first);

struct client_req;
struct client_resp;
struct cp;

/* Loads the session, picks the server (which must be the session's: a token is never sent to
 * another server) and starts the client. Returns 0 with *out (cp_close frees), or an exit code
 * after printing why (not logged in, an unsafe session file, ...). */
int cp_open(const struct cp_opts *o, struct cp **out);
void cp_close(struct cp *x);
/* Performs rq with the access token; on a 401 "token expired" renews the pair once (saving it)
 * and repeats rq. Returns -1 when a reply arrived (r filled; client_resp_done it), or an exit
 * code after printing why (2 for connection problems). */
int cp_send(struct cp *x, const struct client_req *rq, struct client_resp *r);
/* Prints "cloister: <server message> (HTTP N)"; returns CLI_EXIT_FAIL. */
int cp_http_fail(const struct client_resp *r);
/* --json: prints the reply as received (plus a final newline when it has none) once it parses
 * as JSON; returns CLI_EXIT_OK, or CLI_EXIT_FAIL after saying the reply is not JSON. */
int cp_print_json(const struct cp *x, const struct client_resp *r);
/* "cloister: out of memory" on stderr; returns CLI_EXIT_FAIL. */
int cp_oom(void);
/* Writes a rendered buffer to stdout and frees it: CLI_EXIT_OK, or cp_oom() when building it
 * ran out of memory. */
struct util_buf;
int cp_put_buf(struct util_buf *b);
/* A malformed reply from the server: says so and returns CLI_EXIT_FAIL. */
int cp_bad_reply(const struct cp *x, const char *what);
/*
 * A password: the first line of file, else typed on the terminal (/dev/tty, echo off; twice
 * when confirm) when stdin is one, else the first line of stdin. Returns 0 with *out (caller
 * wipes with secret_wipe and frees), or an exit code after printing why.
 */
int cp_read_password(const char *file, bool confirm, char **out, size_t *len);

#endif
