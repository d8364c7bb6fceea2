/*
 * main.c - `cloister`, the command-line client of cloister-agent and cloisterd.
 *
 * Dispatches on the first word (the noun) to cmd_<noun>.c, which parses its own options. libcurl
 * is initialised once here, before anything else can start a thread. SIGPIPE is ignored so a
 * closed stdout or socket becomes an error we report, not a silent death.
 */
#include "cli/cli.h"
#include "version.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
	fputs("Usage: cloister [--help] [--version] <noun> [options] <command> [args]\n"
	      "\n"
	      "Nouns:\n"
	      "  agent    operate a cloister-agent (or flashbots system-api) directly:\n"
	      "           events, log, action, upload, set-password, health\n"
	      "           (`cloister agent BACKEND_ID ...`: through cloisterd's proxy)\n"
	      "  attest   verify AMD SEV-SNP evidence offline: verify\n"
	      "  policy   fill an attestation policy file: measurement, hostdata\n"
	      "\n"
	      "Control plane (cloisterd; global options --server URL, --cacert FILE, --json,\n"
	      "--timeout SECONDS):\n"
	      "  login    log in and store the token pair (mode 0600 in ~/.config/cloister)\n"
	      "  logout   forget the stored session\n"
	      "  backends create, list, get, update, delete, terminate, info\n"
	      "  users    create, list (admins)\n"
	      "  certs    issue, list, get, download, renew, revoke, crl, ca\n"
	      "\n"
	      "Run `cloister <noun> --help` for the noun's options and commands.\n"
	      "Exit status: 0 ok, 1 refused or failed, 2 no usable reply (connection, TLS,\n"
	      "timeout; for attest verify: an input cannot be read), 64 usage error.\n",
	      f);
}

int cli_usage_error(const char *text, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("cloister: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fputs(text, stderr);
	return CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	const char *noun = argv[1];
	if (strcmp(noun, "--help") == 0 || strcmp(noun, "-h") == 0 || strcmp(noun, "help") == 0) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(noun, "--version") == 0) {
		printf("cloister %s\n", CLOISTER_VERSION);
		return CLI_EXIT_OK;
	}
	int (*cmd)(int, char **) = NULL;
	if (strcmp(noun, "agent") == 0)
		cmd = cmd_agent;
	else if (strcmp(noun, "attest") == 0)
		cmd = cmd_attest;
	else if (strcmp(noun, "policy") == 0)
		cmd = cmd_policy;
	else if (strcmp(noun, "login") == 0)
		cmd = cmd_login;
	else if (strcmp(noun, "logout") == 0)
		cmd = cmd_logout;
	else if (strcmp(noun, "backends") == 0)
		cmd = cmd_backends;
	else if (strcmp(noun, "users") == 0)
		cmd = cmd_users;
	else if (strcmp(noun, "certs") == 0)
		cmd = cmd_certs;
	if (!cmd) {
		fprintf(stderr, "cloister: unknown noun '%s'\n", noun);
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fputs("cloister: cannot initialise libcurl\n", stderr);
		return CLI_EXIT_FAIL;
	}
	int rc = cmd(argc - 1, argv + 1);
	curl_global_cleanup();
	if (fflush(stdout) != 0 && rc == CLI_EXIT_OK) {
		perror("cloister: writing to stdout");
		rc = CLI_EXIT_FAIL;
	}
	return rc;
}
