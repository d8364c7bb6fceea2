/*
 * cmd_policy.c - `cloister policy measurement|hostdata <base64> <policy.json>`: fills one field
 * of an attestation policy file, as cocos-cli's `policy measurement` / `policy hostdata` do.
 *
 * The work is snp_policy_file_set's: the value is decoded and its length checked (48 bytes for
 * the launch measurement, 32 for host data) before the file is touched; only that value's text
 * changes, and the file is replaced atomically with its mode kept, so a refused or interrupted
 * edit leaves the old file as it was. Afterwards the file is parsed as a policy to tell the user
 * which template placeholders are still unusable (their checks would fail).
 * Exit status: 0 written, 1 refused (bad value, unreadable or malformed file), 64 usage.
 */
#include "cli/cli.h"

#include "attest/policy.h"
#include "fsx.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char policy_usage_text[] =
	"Usage: cloister policy <command> <base64> <policy.json>\n"
	"\n"
	"Sets one field of the \"snp_policy\" (or \"policy\") object of an attestation policy\n"
	"file (a Prism backend-information file or a Cocos attestation_policy.json), keeping\n"
	"everything else as written. The file is replaced atomically.\n"
	"\n"
	"Commands:\n"
	"  measurement <base64> <file>   the launch MEASUREMENT (48 bytes, standard base64)\n"
	"  hostdata <base64> <file>      HOST_DATA (32 bytes, standard base64)\n"
	"\n"
	"Exit status: 0 written, 1 refused (nothing changed), 64 usage.\n";

static void put_safe(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		fputc(c >= 0x20 && c < 0x7f ? (int)c : '?', f);
	}
}

static int usage_error(const char *msg, const char *arg)
{
	fputs("cloister: ", stderr);
	fputs(msg, stderr);
	if (arg) {
		fputs(" '", stderr);
		put_safe(stderr, arg);
		fputc('\'', stderr);
	}
	fputc('\n', stderr);
	fputs(policy_usage_text, stderr);
	return CLI_EXIT_USAGE;
}

/* After a successful edit: names the placeholders that still need a value. Advisory only. */
static void report_remaining(const char *path)
{
	char *text = NULL;
	size_t len = 0;
	if (fsx_read_file(path, SNP_POLICY_MAX_BYTES, &text, &len) < 0)
		return;
	char err[SNP_POLICY_ERR_BYTES] = "";
	struct snp_policy *p = snp_policy_parse(text, len, err, sizeof(err));
	free(text);
	if (!p) {
		fputs("cloister: note: the file is not yet a usable policy: ", stderr);
		put_safe(stderr, err);
		fputc('\n', stderr);
		return;
	}
	char problems[SNP_POLICY_PROBLEMS_BYTES];
	if (snp_policy_problems(p, problems, sizeof(problems)) > 0) {
		fputs("cloister: note: still unusable (their checks fail until filled): ", stderr);
		put_safe(stderr, problems);
		fputc('\n', stderr);
	}
	snp_policy_free(p);
}

int cmd_policy(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("missing command", NULL);
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fputs(policy_usage_text, stdout);
		return CLI_EXIT_OK;
	}
	const char *field;
	if (strcmp(cmd, "measurement") == 0)
		field = "measurement";
	else if (strcmp(cmd, "hostdata") == 0)
		field = "hostdata";
	else
		return usage_error("unknown policy command", cmd);
	int first = 2;
	if (argc > first && strcmp(argv[first], "--help") == 0) {
		fputs(policy_usage_text, stdout);
		return CLI_EXIT_OK;
	}
	if (argc > first && strcmp(argv[first], "--") == 0)
		first++;
	if (argc - first != 2)
		return usage_error(argc - first < 2 ? "missing <base64> or <policy.json>"
						    : "too many arguments",
				   NULL);
	const char *b64 = argv[first], *path = argv[first + 1];
	char err[SNP_POLICY_ERR_BYTES] = "";
	int rc = snp_policy_file_set(path, field, b64, err, sizeof(err));
	if (rc < 0) {
		fputs("cloister: policy ", stderr);
		fputs(cmd, stderr);
		fputs(": ", stderr);
		put_safe(stderr, err[0] ? err : "failed");
		fputs("; the file is unchanged\n", stderr);
		return CLI_EXIT_FAIL;
	}
	printf("%s set in ", strcmp(field, "measurement") == 0 ? "measurement" : "host_data");
	put_safe(stdout, path);
	fputc('\n', stdout);
	report_remaining(path);
	return CLI_EXIT_OK;
}
