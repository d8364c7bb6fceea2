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
 */
#ifndef CLOISTER_CLI_H
#define CLOISTER_CLI_H

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

#endif
