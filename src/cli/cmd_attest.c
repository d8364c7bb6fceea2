/*
 * cmd_attest.c - `cloister attest verify`: checks AMD SEV-SNP and Intel TDX evidence offline, on
 * the user's machine, with the same library code cloisterd uses (attest/snp.c, attest/tdx.c,
 * attest/policy.c, attest/tdx_policy.c).
 *
 * The kind of evidence is read from the input: a TDX quote starts with version 4 or 5 (u16 LE)
 * and TEE type 0x81 at offset 4 (also when written as hex or base64), an agent's evidence JSON
 * says "tee" ("tdx_guest"/"tdx" or "sev_guest"/"snp"); anything else is taken as SNP. A TDX
 * quote is checked against the Intel collateral of --collateral DIR (laid out as Intel's PCS
 * serves it: tcbinfo_*.json, qe_identity*.json, *_issuer_chain.pem, pck_crl*.der,
 * root_ca_crl.der, or dcap-qvl's collateral_bundle.json), its chain ending in the Intel SGX Root
 * CA pinned in the binary, and with --policy against the file's "tdx_policy".
 *
 * Inputs are a report file (1184 bytes, an Azure HCL report, or the same as hex / base64 text)
 * or the JSON an agent's GET /attestation returns (base64 report and certificate table), the
 * VCEK/VLEK and ASK/ARK from files or from the evidence, optional CRLs, an optional policy file
 * and the verifier's expected REPORT_DATA (given, or computed from a nonce and the agent's TLS
 * certificate as the agent binds it). The certificate chain ends only in the AMD roots pinned
 * in the binary; when no ASK is supplied the pinned one of the leaf's product is used. Nothing
 * is fetched from the network.
 *
 * The verdict lists every check with PASS / FAIL / SKIP (or, with --json, the policy verdict of
 * snp_policy_evaluate with the chain verdict and a summary of the report beside it). Without a
 * policy only the chain and the signature (plus REPORT_DATA when an expected value is given)
 * are checked, and the verdict says so. Exit status: 0 only when verified, 1 when not, 2 when
 * one of the verifier's own inputs cannot be read or used, 64 on a usage error. Text that comes
 * from the evidence is stripped of control characters before it reaches the terminal.
 */
#include "cli/cli.h"

#include "attest/policy.h"
#include "attest/snp.h"
#include "attest/tdx.h"
#include "attest/tdx_dir.h"
#include "fsx.h"
#include "json.h"
#include "util.h"
#include "x509.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A report file may be an Azure HCL report written as hex with whitespace; a certificate or
 * chain file a PEM bundle; a CRL file several CRLs. The library enforces tighter bounds on
 * each; this only caps what is read into memory. */
#define ATTEST_FILE_MAX_BYTES (256u * 1024)
#define ATTEST_EVIDENCE_MAX_BYTES JSON_BODY_MAX_BYTES
#define ATTEST_NONCE_MAX_BYTES 64   /* the agent's GET /attestation accepts 1..64 bytes */
#define ATTEST_REPORT_DATA_BYTES 64 /* REPORT_DATA */

static const char attest_usage_text[] =
	"Usage: cloister attest verify [options]\n"
	"\n"
	"Verifies an AMD SEV-SNP attestation report or an Intel TDX quote offline: the\n"
	"certificate chain up to the AMD or Intel root pinned in cloister, the signatures, for "
	"TDX\n"
	"the collateral and the TCB level, and with --policy every policy field.\n"
	"\n"
	"Evidence (one of):\n"
	"  --report FILE          SNP: 1184 bytes or an Azure HCL report; TDX: a quote v4/v5;\n"
	"                         raw, or as hex/base64 text (the kind is read from the data)\n"
	"  --evidence FILE        the JSON of an agent's GET /attestation (report and "
	"certificates)\n"
	"Intel TDX:\n"
	"  --collateral DIR       Intel collateral: tcbinfo_*.json, qe_identity*.json,\n"
	"                         *_issuer_chain.pem, pck_crl*.der, root_ca_crl.der (PCS "
	"formats),\n"
	"                         or collateral_bundle.json; without it the TCB level is not\n"
	"                         evaluated\n"
	"  --tcb-issuer-chain FILE\n"
	"                         the TCB info / QE identity issuer chain (PEM), instead of DIR's\n"
	"SEV-SNP certificates (default: from the evidence):\n"
	"  --vcek FILE, --vlek FILE  the report's signing certificate, DER or PEM\n"
	"  --chain FILE           ASK/ASVK (+ ARK) PEM bundle; default: the evidence's, else the\n"
	"                         intermediate pinned for the leaf's product\n"
	"  --crl FILE             CRL(s) issued by the ARK (DER or PEM); required when the policy\n"
	"                         sets root_of_trust.check_crl\n"
	"Expectations:\n"
	"  --policy FILE          backend-information / attestation_policy.json file (SNP:\n"
	"                         \"snp_policy\" or \"policy\"; TDX: \"tdx_policy\"); without it\n"
	"                         only the chain and the signature (TDX: and the TCB status) are\n"
	"                         checked\n"
	"  --report-data HEX      expected REPORT_DATA (64 bytes; overrides the policy's)\n"
	"  --nonce HEX --tls-cert PEM\n"
	"                         expected REPORT_DATA = SHA-512(SPKI DER of the agent's TLS\n"
	"                         certificate || nonce), as the agent binds its evidence\n"
	"  --now TIME             certificate and collateral validity at TIME: RFC 3339 or\n"
	"                         @unix-seconds (default: the current time)\n"
	"  --json                 print the verdict as JSON\n"
	"\n"
	"Exit status: 0 verified, 1 not verified, 2 an input cannot be read or used, 64 usage.\n";

static const char attest_noun_usage_text[] =
	"Usage: cloister attest verify [options]\n"
	"\n"
	"Commands:\n"
	"  verify    verify an AMD SEV-SNP report, an Intel TDX quote or an agent's evidence\n"
	"            (see `cloister attest verify --help`)\n";

/* ---------------------------------------------------------------- small helpers */

/* Prints s with control characters and non-ASCII bytes replaced, so that a certificate name
 * or a message quoting the evidence cannot move the cursor or change the terminal. */
static void put_safe(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		fputc(c >= 0x20 && c < 0x7f ? (int)c : '?', f);
	}
}

static const char *product_str(enum snp_product p)
{
	switch (p) {
	case SNP_PRODUCT_MILAN:
		return "Milan";
	case SNP_PRODUCT_GENOA:
		return "Genoa";
	case SNP_PRODUCT_TURIN:
		return "Turin";
	case SNP_PRODUCT_UNKNOWN:
		break;
	}
	return "unknown";
}

static const char *signer_str(enum snp_signer s)
{
	switch (s) {
	case SNP_SIGNER_VCEK:
		return "VCEK";
	case SNP_SIGNER_VLEK:
		return "VLEK";
	case SNP_SIGNER_NONE:
		return "none";
	}
	return "reserved";
}

/* Reads a file the verifier named. Returns 0, or CLI_EXIT_IO with the reason on stderr. */
static int read_input(const char *opt, const char *path, size_t max, char **out, size_t *len)
{
	int rc = fsx_read_file(path, max, out, len);
	if (rc == -E2BIG) {
		fprintf(stderr, "cloister: %s %s: larger than %zu bytes\n", opt, path, max);
		return CLI_EXIT_IO;
	}
	if (rc < 0) {
		fprintf(stderr, "cloister: %s %s: %s\n", opt, path, strerror(-rc));
		return CLI_EXIT_IO;
	}
	return 0;
}

/* Is the buffer text (hex or base64 with whitespace) rather than binary report bytes? */
static bool looks_text(const char *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (!(c >= 0x20 && c < 0x7f) && c != '\n' && c != '\r' && c != '\t')
			return false;
	}
	return true;
}

/* Parses --now: RFC 3339 ("2026-11-22T00:00:00Z", "...T01:00:00.5+01:00") or "@<unix seconds>".
 * Returns 0 with *out > 0, or -EINVAL. */
static int parse_now(const char *s, int64_t *out)
{
	if (s[0] == '@') {
		uint64_t v;
		if (util_parse_u64(s + 1, INT64_MAX, &v) < 0 || v == 0)
			return -EINVAL;
		*out = (int64_t)v;
		return 0;
	}
	/* YYYY-MM-DDTHH:MM:SS */
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	size_t n = strlen(s);
	if (n < sizeof(shape) - 1)
		return -EINVAL;
	int f[6] = { 0 }, fi = 0;
	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		char c = s[i];
		if (shape[i] == 'd') {
			if (c < '0' || c > '9')
				return -EINVAL;
			f[fi] = f[fi] * 10 + (c - '0');
		} else if (shape[i] == 'T') {
			if (c != 'T' && c != 't' && c != ' ')
				return -EINVAL;
			fi++;
		} else {
			if (c != shape[i])
				return -EINVAL;
			fi++;
		}
	}
	const char *p = s + sizeof(shape) - 1;
	if (*p == '.') { /* fraction: validity is checked to the second */
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	int64_t offset = 0;
	if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0') {
		offset = 0;
	} else if ((p[0] == '+' || p[0] == '-') && strlen(p) == 6 && p[3] == ':' && p[1] >= '0' &&
		   p[1] <= '9' && p[2] >= '0' && p[2] <= '9' && p[4] >= '0' && p[4] <= '5' &&
		   p[5] >= '0' && p[5] <= '9') {
		int oh = (p[1] - '0') * 10 + (p[2] - '0'), om = (p[4] - '0') * 10 + (p[5] - '0');
		if (oh > 23)
			return -EINVAL;
		offset = (int64_t)(oh * 3600 + om * 60) * (p[0] == '+' ? 1 : -1);
	} else {
		return -EINVAL;
	}
	if (f[0] < 1970 || f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 ||
	    f[4] > 59 || f[5] > 60)
		return -EINVAL;
	struct tm tm = { .tm_year = f[0] - 1900,
			 .tm_mon = f[1] - 1,
			 .tm_mday = f[2],
			 .tm_hour = f[3],
			 .tm_min = f[4],
			 .tm_sec = f[5] == 60 ? 59 : f[5] };
	time_t t = timegm(&tm);
	struct tm back;
	/* timegm normalises 2026-02-30 to March: such a date is refused, not moved. */
	if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_mday != f[2] ||
	    back.tm_mon != f[1] - 1)
		return -EINVAL;
	int64_t v = (int64_t)t - offset;
	if (v <= 0)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Decodes standard base64 (whitespace ignored) into a new buffer. Returns 0 or -EINVAL /
 * -ENOMEM. */
static int b64_decode(const char *s, size_t n, uint8_t **out, size_t *outlen)
{
	uint8_t *buf = malloc(n / 4 * 3 + 3);
	if (!buf)
		return -ENOMEM;
	size_t len = 0;
	const char *end = NULL;
	if (sodium_base642bin(buf, n / 4 * 3 + 3, s, n, " \t\r\n", &len, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != s + n || len == 0) {
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

/* ---------------------------------------------------------------- evidence JSON */

/* What an agent's GET /attestation reply holds for SNP. Every blob is malloc'd. */
struct evidence {
	uint8_t *report, *vcek, *vlek, *ask, *ark, *crl;
	size_t report_len, vcek_len, vlek_len, ask_len, ark_len, crl_len;
	char spki_sha256[65]; /* the agent's "tls_spki_sha256", "" when absent */
};

static void evidence_done(struct evidence *e)
{
	free(e->report);
	free(e->vcek);
	free(e->vlek);
	free(e->ask);
	free(e->ark);
	free(e->crl);
	memset(e, 0, sizeof(*e));
}

/* Parses the evidence JSON. Returns 0, or -1 with the reason in err (the evidence is unusable:
 * not verified). */
static int evidence_parse(const char *text, size_t len, struct evidence *e, char *err,
			  size_t errlen)
{
	json_error_t je;
	json_t *root = json_parse_strict(text, len, &je);
	int rc = -1;
	if (!root || !json_is_object(root)) {
		if (root)
			snprintf(err, errlen, "the evidence is not a JSON object");
		else
			snprintf(err, errlen, "the evidence is not JSON (line %d column %d)",
				 je.line, je.column);
		goto out;
	}
	json_t *att = json_object_get(root, "attested");
	json_t *tee = json_object_get(root, "tee");
	json_t *rep = json_object_get(root, "report");
	json_t *certs = json_object_get(root, "certs");
	json_t *spki = json_object_get(root, "tls_spki_sha256");
	if (att && json_is_false(att)) {
		snprintf(err, errlen,
			 "the evidence is not attested (provider \"none\"): there is no report to "
			 "verify");
		goto out;
	}
	if (tee && (!json_is_string(tee) || (strcmp(json_string_value(tee), "sev_guest") != 0 &&
					     strcmp(json_string_value(tee), "snp") != 0))) {
		snprintf(err, errlen,
			 "the evidence is not from an SEV-SNP guest (tee is not "
			 "\"sev_guest\"): only SEV-SNP reports are verified here");
		goto out;
	}
	if (!rep || !json_is_string(rep)) {
		snprintf(err, errlen, "the evidence has no \"report\" string");
		goto out;
	}
	if (b64_decode(json_string_value(rep), json_string_length(rep), &e->report,
		       &e->report_len) < 0) {
		snprintf(err, errlen, "the evidence's \"report\" is not base64");
		goto out;
	}
	if (spki && json_is_string(spki) && json_string_length(spki) == 64)
		memcpy(e->spki_sha256, json_string_value(spki), 65);
	if (certs && !json_is_null(certs)) {
		if (!json_is_object(certs)) {
			snprintf(err, errlen, "the evidence's \"certs\" is not an object");
			goto out;
		}
		const struct {
			const char *name;
			uint8_t **p;
			size_t *n;
		} f[] = {
			{ "vcek", &e->vcek, &e->vcek_len }, { "vlek", &e->vlek, &e->vlek_len },
			{ "ask", &e->ask, &e->ask_len },    { "ark", &e->ark, &e->ark_len },
			{ "crl", &e->crl, &e->crl_len },
		};
		for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
			json_t *v = json_object_get(certs, f[i].name);
			if (!v || json_is_null(v))
				continue;
			if (!json_is_string(v) || json_string_length(v) > ATTEST_FILE_MAX_BYTES ||
			    b64_decode(json_string_value(v), json_string_length(v), f[i].p,
				       f[i].n) < 0) {
				snprintf(
					err, errlen,
					"the evidence's certs.%s is not a base64 string of at most "
					"%u bytes",
					f[i].name, ATTEST_FILE_MAX_BYTES);
				goto out;
			}
		}
	}
	rc = 0;
out:
	json_decref(root);
	if (rc < 0)
		evidence_done(e);
	return rc;
}

/* ---------------------------------------------------------------- verdict building */

struct verify_opts {
	const char *report_path, *evidence_path, *leaf_path, *leaf_opt, *chain_path, *crl_path;
	const char *policy_path, *report_data_hex, *nonce_hex, *tls_cert_path, *now_str;
	const char *collateral_dir, *tcb_chain_path; /* TDX only */
	bool json;
};

/* Everything the output needs. */
struct verify_state {
	struct snp_report rep;
	bool have_report;
	struct snp_verdict cv; /* chain + signature */
	struct snp_policy *pol;
	bool have_rd;
	uint8_t rd[ATTEST_REPORT_DATA_BYTES];
	const char *rd_source; /* "--report-data", "--nonce and --tls-cert" */
	int64_t now;
	json_t *checks; /* the check list (the policy verdict's, or ours) */
	bool verified;
	char note[512]; /* something the user should know, printed before the checks */
};

static json_t *hexj(const uint8_t *p, size_t n)
{
	char buf[2 * 64 + 1];
	util_hex(buf, p, n);
	return json_string(buf);
}

static json_t *u64j(uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "0x%016llx", (unsigned long long)v);
	return json_string(buf);
}

static enum snp_product layout_product(const struct verify_state *s)
{
	if (s->cv.reason == SNP_OK && s->cv.product != SNP_PRODUCT_UNKNOWN)
		return s->cv.product;
	if (s->pol && s->pol->product != SNP_PRODUCT_UNKNOWN)
		return s->pol->product;
	return SNP_PRODUCT_MILAN;
}

static json_t *tcbj(uint64_t raw, enum snp_product p)
{
	struct snp_tcb t = snp_tcb_decode(raw, p);
	json_t *o = json_pack("{s:o,s:i,s:i,s:i,s:i}", "raw", u64j(raw), "bootloader",
			      (int)t.bootloader, "tee", (int)t.tee, "snp", (int)t.snp, "microcode",
			      (int)t.microcode);
	if (o && p == SNP_PRODUCT_TURIN)
		json_object_set_new(o, "fmc", json_integer(t.fmc));
	return o;
}

static json_t *report_json(const struct verify_state *s)
{
	const struct snp_report *r = &s->rep;
	enum snp_product p = layout_product(s);
	char fw[16];
	snprintf(fw, sizeof(fw), "%u.%u", r->current_major, r->current_minor);
	return json_pack(
		"{s:i,s:b,s:i,s:o,s:s,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,"
		"s:s,s:i}",
		"version", (int)r->version, "from_hcl", (int)r->from_hcl, "vmpl", (int)r->vmpl,
		"policy", u64j(r->policy), "signing_key", signer_str(snp_report_signer(r)),
		"guest_svn", (json_int_t)r->guest_svn, "measurement", hexj(r->measurement, 48),
		"host_data", hexj(r->host_data, 32), "report_data", hexj(r->report_data, 64),
		"family_id", hexj(r->family_id, 16), "image_id", hexj(r->image_id, 16), "chip_id",
		hexj(r->chip_id, 64), "platform_info", u64j(r->platform_info), "reported_tcb",
		tcbj(r->reported_tcb, p), "current_tcb", tcbj(r->current_tcb, p), "committed_tcb",
		tcbj(r->committed_tcb, p), "launch_tcb", tcbj(r->launch_tcb, p), "firmware", fw,
		"current_build", (int)r->current_build);
}

static json_t *chain_json(const struct snp_verdict *v)
{
	json_t *o = json_pack("{s:s,s:s,s:o}", "result", v->reason == SNP_OK ? "pass" : "fail",
			      "reason", snp_reason_name(v->reason), "detail",
			      json_string_lossy(v->detail, strnlen(v->detail, sizeof(v->detail))));
	if (o && v->reason == SNP_OK) {
		json_object_set_new(o, "product", json_string(product_str(v->product)));
		json_object_set_new(o, "signer", json_string(signer_str(v->signer)));
	}
	return o;
}

__attribute__((format(printf, 6, 7))) static void
add_check(json_t *checks, const char *name, const char *result, const char *expected,
	  const char *actual, const char *fmt, ...)
{
	char detail[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	json_t *c = json_pack("{s:s,s:s}", "name", name, "result", result);
	if (!c)
		return;
	if (expected)
		json_object_set_new(c, "expected", json_string(expected));
	if (actual)
		json_object_set_new(c, "actual", json_string(actual));
	json_object_set_new(c, "detail", json_string_lossy(detail, strlen(detail)));
	json_array_append_new(checks, c);
}

/* Without a policy: the chain and signature, and REPORT_DATA when an expected value was given.
 * The checks have the names and shape of snp_policy_evaluate's. */
static void own_checks(struct verify_state *s)
{
	const struct snp_verdict *v = &s->cv;
	if (!s->have_report)
		add_check(s->checks, "report", "fail", NULL, snp_reason_name(v->reason), "%s",
			  v->detail[0] ? v->detail : snp_reason_name(v->reason));
	else if (v->reason == SNP_OK)
		add_check(s->checks, "signature_and_chain", "pass", NULL, NULL,
			  "report signed by the %s, chain to the %s ARK verified%s%s",
			  signer_str(v->signer), product_str(v->product), v->detail[0] ? ": " : "",
			  v->detail);
	else
		add_check(s->checks, "signature_and_chain", "fail", NULL,
			  snp_reason_name(v->reason), "%s",
			  v->detail[0] ? v->detail : snp_reason_name(v->reason));
	s->verified = v->reason == SNP_OK;
	if (s->have_rd && s->have_report) {
		char exp[129], act[129];
		util_hex(exp, s->rd, sizeof(s->rd));
		util_hex(act, s->rep.report_data, sizeof(s->rep.report_data));
		bool same = sodium_memcmp(s->rd, s->rep.report_data, sizeof(s->rd)) == 0;
		if (same)
			add_check(s->checks, "report_data", "pass", exp, act,
				  "REPORT_DATA matches (expected value from %s)", s->rd_source);
		else
			add_check(s->checks, "report_data", "fail", exp, act,
				  "REPORT_DATA differs from the value expected from %s",
				  s->rd_source);
		s->verified = s->verified && same;
	}
}

/* ---------------------------------------------------------------- output */

static void print_tcb(const char *label, uint64_t raw, enum snp_product p)
{
	struct snp_tcb t = snp_tcb_decode(raw, p);
	printf("%-14s0x%016llx (bootloader %u, tee %u, snp %u, microcode %u", label,
	       (unsigned long long)raw, t.bootloader, t.tee, t.snp, t.microcode);
	if (p == SNP_PRODUCT_TURIN)
		printf(", fmc %u", t.fmc);
	fputs(")\n", stdout);
}

static void print_hex_line(const char *label, const uint8_t *p, size_t n)
{
	char buf[2 * 64 + 1];
	util_hex(buf, p, n);
	printf("%-14s%s\n", label, buf);
}

static const char *result_word(const char *r)
{
	if (strcmp(r, "pass") == 0)
		return "PASS";
	if (strcmp(r, "fail") == 0)
		return "FAIL";
	return "SKIP";
}

static void print_checks(json_t *checks, bool verified);

static void print_text(const struct verify_state *s, const struct verify_opts *o)
{
	char when[UTIL_TIME_BUF];
	util_rfc3339(when, s->now * 1000000000LL);
	if (s->have_report) {
		const struct snp_report *r = &s->rep;
		enum snp_product p = layout_product(s);
		printf("%-14sversion %u%s, VMPL %u, guest SVN %u, signing key %s\n",
		       "Report:", r->version, r->from_hcl ? " (inside an Azure HCL report)" : "",
		       r->vmpl, r->guest_svn, signer_str(snp_report_signer(r)));
		if (s->cv.reason == SNP_OK)
			printf("%-14s%s, signed by its %s\n",
			       "Product:", product_str(s->cv.product), signer_str(s->cv.signer));
		else
			printf("%-14sunknown (the chain did not verify)\n", "Product:");
		printf("%-14s0x%016llx\n", "Guest policy:", (unsigned long long)r->policy);
		print_hex_line("Measurement:", r->measurement, 48);
		print_hex_line("Host data:", r->host_data, 32);
		print_hex_line("Report data:", r->report_data, 64);
		print_hex_line("Chip ID:", r->chip_id, 64);
		print_tcb("Reported TCB:", r->reported_tcb, p);
		print_tcb("Current TCB:", r->current_tcb, p);
		print_tcb("Launch TCB:", r->launch_tcb, p);
		printf("%-14s%u.%u build %u\n", "Firmware:", r->current_major, r->current_minor,
		       r->current_build);
	}
	printf("%-14s%s\n", "Checked at:", when);
	if (o->policy_path) {
		printf("%-14s", "Policy:");
		put_safe(stdout, o->policy_path);
		fputc('\n', stdout);
	} else {
		printf("%-14snone applied: only the certificate chain and the report signature%s "
		       "were checked\n",
		       "Policy:", s->have_rd ? " (and REPORT_DATA)" : "");
	}
	if (s->note[0]) {
		printf("%-14s", "Note:");
		put_safe(stdout, s->note);
		fputc('\n', stdout);
	}
	print_checks(s->checks, s->verified);
}

static int print_json(const struct verify_state *s, json_t *policy_verdict)
{
	char when[UTIL_TIME_BUF];
	util_rfc3339(when, s->now * 1000000000LL);
	json_t *o = policy_verdict ? json_incref(policy_verdict) : json_object();
	if (!o)
		return -ENOMEM;
	int bad = 0;
	if (!policy_verdict) {
		bad |= json_object_set_new(o, "verified", json_boolean(s->verified));
		bad |= json_object_set(o, "checks", s->checks);
	}
	bad |= json_object_set_new(o, "policy_applied", json_boolean(policy_verdict != NULL));
	bad |= json_object_set_new(o, "chain", chain_json(&s->cv));
	bad |= json_object_set_new(o, "report", s->have_report ? report_json(s) : json_null());
	bad |= json_object_set_new(o, "now", json_string(when));
	if (s->note[0])
		bad |= json_object_set_new(o, "note", json_string_lossy(s->note, strlen(s->note)));
	char *text = bad ? NULL : json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!text)
		return -ENOMEM;
	puts(text);
	free(text);
	return 0;
}

/* ---------------------------------------------------------------- verify */

/* The expected REPORT_DATA from --report-data, or --nonce and --tls-cert. Returns 0, or an
 * exit code. */
static int expected_report_data(const struct verify_opts *o, struct verify_state *s,
				const struct evidence *ev)
{
	if (o->report_data_hex) {
		size_t n = strlen(o->report_data_hex);
		if (n != 2 * ATTEST_REPORT_DATA_BYTES ||
		    util_unhex(s->rd, ATTEST_REPORT_DATA_BYTES, o->report_data_hex, n) < 0)
			return cli_usage_error(
				attest_usage_text, "--report-data wants %d bytes as %d hex digits",
				ATTEST_REPORT_DATA_BYTES, 2 * ATTEST_REPORT_DATA_BYTES);
		s->have_rd = true;
		s->rd_source = "--report-data";
		return 0;
	}
	if (!o->nonce_hex)
		return 0;
	uint8_t nonce[ATTEST_NONCE_MAX_BYTES];
	size_t n = strlen(o->nonce_hex);
	if (n == 0 || n % 2 || n / 2 > sizeof(nonce) ||
	    util_unhex(nonce, n / 2, o->nonce_hex, n) < 0)
		return cli_usage_error(attest_usage_text, "--nonce wants 1 to %d bytes of hex",
				       ATTEST_NONCE_MAX_BYTES);
	unsigned char *spki = NULL;
	size_t spki_len = 0;
	int rc = x509_spki_der_file(o->tls_cert_path, &spki, &spki_len);
	if (rc < 0) {
		fprintf(stderr, "cloister: --tls-cert ");
		put_safe(stderr, o->tls_cert_path);
		fprintf(stderr, ": cannot read a certificate's public key: %s\n", strerror(-rc));
		return CLI_EXIT_IO;
	}
	crypto_hash_sha512_state st;
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, spki, spki_len);
	crypto_hash_sha512_update(&st, nonce, n / 2);
	crypto_hash_sha512_final(&st, s->rd);
	if (ev && ev->spki_sha256[0]) {
		uint8_t h[crypto_hash_sha256_BYTES];
		char hex[2 * sizeof(h) + 1];
		crypto_hash_sha256(h, spki, spki_len);
		util_hex(hex, h, sizeof(h));
		if (strcmp(hex, ev->spki_sha256) != 0)
			snprintf(s->note, sizeof(s->note),
				 "the evidence names TLS key SHA-256 %s, --tls-cert holds %s: the "
				 "evidence was made for another key",
				 ev->spki_sha256, hex);
	}
	free(spki);
	s->have_rd = true;
	s->rd_source = "--nonce and --tls-cert";
	return 0;
}

/* Parses the report bytes (binary or text) into s->rep; on failure fills s->cv. */
static void parse_report(const char *buf, size_t len, bool allow_text, struct verify_state *s)
{
	char err[256] = "";
	int rc = allow_text && looks_text(buf, len)
			 ? snp_report_parse_text(buf, len, &s->rep, err, sizeof(err))
			 : snp_report_parse((const uint8_t *)buf, len, &s->rep, err, sizeof(err));
	if (rc == 0) {
		s->have_report = true;
		return;
	}
	s->cv.reason = rc == -ENOTSUP  ? SNP_ERR_UNSUPPORTED
		       : rc == -ENOMEM ? SNP_ERR_INTERNAL
				       : SNP_ERR_MALFORMED;
	snprintf(s->cv.detail, sizeof(s->cv.detail), "%s",
		 err[0] ? err : snp_reason_name(s->cv.reason));
}

/* ---------------------------------------------------------------- Intel TDX */

enum tee_kind { TEE_SNP, TEE_TDX };

/* The first bytes of a hex or base64 text, decoded (at most n). Returns the count. */
static size_t text_prefix(const char *p, size_t len, uint8_t *out, size_t n)
{
	char s[32];
	size_t k = 0;
	for (size_t i = 0; i < len && k < sizeof(s); i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			s[k++] = p[i];
	size_t off = k >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? 2 : 0;
	bool hex = k > off;
	for (size_t i = off; i < k && hex; i++)
		hex = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F');
	if (hex) {
		size_t m = (k - off) / 2 < n ? (k - off) / 2 : n;
		return util_unhex(out, m, s + off, 2 * m) == 0 ? m : 0;
	}
	size_t b = k / 4 * 4 < 12 ? k / 4 * 4 : 12;
	uint8_t tmp[9];
	size_t got = 0;
	if (b && sodium_base642bin(tmp, sizeof(tmp), s, b, NULL, &got, NULL,
				   sodium_base64_VARIANT_ORIGINAL) == 0) {
		size_t m = got < n ? got : n;
		memcpy(out, tmp, m);
		return m;
	}
	return 0;
}

/* TEE type 0x81 at offset 4, and not an SNP report's version (u32 2..5) at 0: a TD quote, also
 * one of a version this code refuses (it then says "unsupported quote version"). An SNP report
 * has its guest SVN at offset 4, so the version word decides. */
static bool looks_tdx(const uint8_t *b, size_t n)
{
	if (n < 8)
		return false;
	uint32_t w0 =
		(uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
	uint32_t tee =
		(uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
	return tee == TDX_TEE_TYPE_TDX && !(w0 >= 2 && w0 <= 5);
}

/* Which TEE the input is from, reading the evidence file (it is read again by the verifier).
 * Returns TEE_TDX or TEE_SNP; anything unreadable is left to the SNP path to report. */
static enum tee_kind detect_tee(const struct verify_opts *o)
{
	char *buf = NULL;
	size_t len = 0;
	enum tee_kind k = TEE_SNP;
	if (o->evidence_path) {
		if (fsx_read_file(o->evidence_path, ATTEST_EVIDENCE_MAX_BYTES, &buf, &len) < 0)
			return TEE_SNP;
		json_error_t je;
		json_t *root = json_parse_strict(buf, len, &je);
		json_t *tee = root ? json_object_get(root, "tee") : NULL;
		json_t *tt = root ? json_object_get(root, "tee_type") : NULL;
		if ((json_is_string(tee) && (strcmp(json_string_value(tee), "tdx_guest") == 0 ||
					     strcmp(json_string_value(tee), "tdx") == 0)) ||
		    (json_is_string(tt) && strcmp(json_string_value(tt), "tdx") == 0))
			k = TEE_TDX;
		json_decref(root);
	} else if (o->report_path) {
		if (fsx_read_file(o->report_path, ATTEST_FILE_MAX_BYTES, &buf, &len) < 0)
			return TEE_SNP;
		uint8_t pre[8];
		if (looks_text(buf, len))
			k = text_prefix(buf, len, pre, sizeof(pre)) == sizeof(pre) &&
					    looks_tdx(pre, sizeof(pre))
				    ? TEE_TDX
				    : TEE_SNP;
		else
			k = looks_tdx((const uint8_t *)buf, len) ? TEE_TDX : TEE_SNP;
	}
	free(buf);
	return k;
}

/* --collateral DIR (attest/tdx_dir.c reads it, as cloisterd does) and its summary line. */
struct collateral_files {
	struct tdx_collateral_dir d;
	char summary[256];
};

/* Loads --collateral DIR (and --tcb-issuer-chain). Returns 0 or an exit code. */
static int collateral_load(const struct verify_opts *vo, struct collateral_files *c)
{
	const char *dir = vo->collateral_dir;
	if (dir) {
		char err[512];
		int rc = tdx_collateral_dir_read(dir, &c->d, err, sizeof(err));
		if (rc < 0) {
			fputs("cloister: --collateral ", stderr);
			put_safe(stderr, dir);
			fputs(": ", stderr);
			put_safe(stderr, err);
			fputc('\n', stderr);
			return rc == -ENOMEM ? CLI_EXIT_FAIL : CLI_EXIT_IO;
		}
	}
	if (vo->tcb_chain_path) {
		char *chain = NULL;
		size_t len;
		int rc = read_input("--tcb-issuer-chain", vo->tcb_chain_path, TDX_DIR_PEM_MAX_BYTES,
				    &chain, &len);
		if (rc)
			return rc;
		if (tdx_collateral_dir_adopt(&c->d, (uint8_t *)chain) < 0) {
			fputs("cloister: --collateral: too many collateral files\n", stderr);
			return CLI_EXIT_IO;
		}
		struct tdx_collateral_opts *o = &c->d.o;
		o->tcb_info_chain = (const uint8_t *)chain;
		o->tcb_info_chain_len = len;
		o->qe_identity_chain = (const uint8_t *)chain;
		o->qe_identity_chain_len = len;
	}
	tdx_collateral_dir_summary(&c->d, c->summary, sizeof(c->summary));
	return 0;
}

/* Evidence JSON of a TDX guest: the base64 quote and the agent's TLS key hash. */
static int tdx_evidence_parse(const char *text, size_t len, uint8_t **quote, size_t *qlen,
			      char spki[65], char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_parse_strict(text, len, &je);
	int rc = -1;
	json_t *rep = root ? json_object_get(root, "report") : NULL;
	json_t *sp = root ? json_object_get(root, "tls_spki_sha256") : NULL;
	if (!root || !json_is_object(root))
		snprintf(err, errlen, "the evidence is not a JSON object");
	else if (!json_is_string(rep))
		snprintf(err, errlen, "the evidence has no \"report\" string");
	else if (b64_decode(json_string_value(rep), json_string_length(rep), quote, qlen) < 0)
		snprintf(err, errlen, "the evidence's \"report\" is not base64");
	else
		rc = 0;
	if (rc == 0 && json_is_string(sp) && json_string_length(sp) == 64)
		memcpy(spki, json_string_value(sp), 65);
	json_decref(root);
	return rc;
}

static json_t *hexn(const uint8_t *p, size_t n)
{
	char buf[2 * 64 + 1];
	util_hex(buf, p, n);
	return json_string(buf);
}

static json_t *tdx_quote_json(const struct tdx_quote *q)
{
	json_t *o = json_object();
	json_t *rt = json_array();
	if (!o || !rt) {
		json_decref(o);
		json_decref(rt);
		return NULL;
	}
	for (int i = 0; i < 4; i++)
		json_array_append_new(rt, hexn(q->rtmr[i], 48));
	int bad = json_object_set_new(o, "version", json_integer(q->version));
	bad |= json_object_set_new(o, "body_type", json_integer(q->body_type));
	bad |= json_object_set_new(o, "quote_bytes", json_integer((json_int_t)q->quote_len));
	bad |= json_object_set_new(o, "tee_tcb_svn", hexn(q->tee_tcb_svn, 16));
	bad |= json_object_set_new(o, "mr_seam", hexn(q->mr_seam, 48));
	bad |= json_object_set_new(o, "mr_signer_seam", hexn(q->mr_signer_seam, 48));
	bad |= json_object_set_new(o, "seam_attributes", u64j(q->seam_attributes));
	bad |= json_object_set_new(o, "td_attributes", u64j(q->td_attributes));
	bad |= json_object_set_new(o, "xfam", u64j(q->xfam));
	bad |= json_object_set_new(o, "mr_td", hexn(q->mr_td, 48));
	bad |= json_object_set_new(o, "mr_config_id", hexn(q->mr_config_id, 48));
	bad |= json_object_set_new(o, "mr_owner", hexn(q->mr_owner, 48));
	bad |= json_object_set_new(o, "mr_owner_config", hexn(q->mr_owner_config, 48));
	bad |= json_object_set_new(o, "rtmrs", rt);
	bad |= json_object_set_new(o, "report_data", hexn(q->report_data, 64));
	bad |= json_object_set_new(o, "qe_isv_svn", json_integer(q->qe_isv_svn));
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *tdx_verdict_json(const struct tdx_verdict *v)
{
	json_t *adv = json_array();
	for (size_t i = 0; adv && i < v->n_advisory_ids; i++)
		json_array_append_new(adv, json_string(v->advisory_ids[i]));
	char fm[13];
	util_hex(fm, v->fmspc, 6);
	json_t *o = json_pack(
		"{s:s,s:s,s:o,s:b,s:s,s:s,s:s,s:s,s:o,s:b,s:b,s:b}", "result",
		v->reason == TDX_OK ? "pass" : "fail", "reason", tdx_reason_name(v->reason),
		"detail", json_string_lossy(v->detail, strnlen(v->detail, sizeof(v->detail))),
		"tcb_evaluated", (int)v->tcb_evaluated, "tcb_status",
		tdx_tcb_status_name(v->tcb_status), "platform_status",
		tdx_tcb_status_name(v->platform_status), "module_status",
		tdx_tcb_status_name(v->module_status), "qe_status",
		tdx_tcb_status_name(v->qe_status), "advisory_ids", adv ? adv : json_array(),
		"qe_identity_checked", (int)v->qe_identity_checked, "pck_crl_checked",
		(int)v->pck_crl_checked, "root_crl_checked", (int)v->root_crl_checked);
	if (o && v->have_pck) {
		char pce[5];
		snprintf(pce, sizeof(pce), "%04x", v->pce_id);
		json_object_set_new(o, "fmspc", json_string(fm));
		json_object_set_new(o, "pce_id", json_string(pce));
		json_object_set_new(o, "pck_ca", json_string(v->pck_ca));
	}
	return o;
}

/* Without a policy: signatures and chain, the TCB status (UpToDate, when evaluated) and
 * REPORTDATA when an expected value was given. Same shape as tdx_policy_evaluate's checks. */
static bool tdx_own_checks(json_t *checks, const struct tdx_verdict *v, const struct tdx_quote *q,
			   const uint8_t *rd, const char *rd_source)
{
	bool ok = v->reason == TDX_OK;
	if (ok)
		add_check(checks, "signature_and_chain", "pass", NULL, NULL, "%s", v->detail);
	else
		add_check(checks, "signature_and_chain", "fail", NULL, tdx_reason_name(v->reason),
			  "%s", v->detail);
	if (ok && !v->tcb_evaluated) {
		add_check(checks, "tcb_status", "skipped", "UpToDate", NULL,
			  "no collateral: the TCB level was not evaluated (give --collateral DIR)");
	} else if (ok) {
		bool up = v->tcb_status == TDX_TCB_UP_TO_DATE;
		add_check(checks, "tcb_status", up ? "pass" : "fail", "UpToDate",
			  tdx_tcb_status_name(v->tcb_status), "TCB status %s%s",
			  tdx_tcb_status_name(v->tcb_status),
			  up ? "" : " (a policy's tdx_policy.accepted_tcb_statuses can accept it)");
		ok = up;
	}
	if (rd) {
		char exp[129], act[129];
		util_hex(exp, rd, 64);
		util_hex(act, q->report_data, 64);
		bool same = sodium_memcmp(rd, q->report_data, 64) == 0;
		add_check(checks, "report_data", same ? "pass" : "fail", exp, act,
			  "REPORTDATA %s the value expected from %s",
			  same ? "matches" : "differs from", rd_source);
		ok = ok && same;
	}
	return ok;
}

static void print_checks(json_t *checks, bool verified)
{
	fputs("\nChecks:\n", stdout);
	const char *first_fail = NULL, *first_detail = NULL;
	size_t i;
	json_t *c;
	json_array_foreach(checks, i, c)
	{
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *res = json_string_value(json_object_get(c, "result"));
		const char *det = json_string_value(json_object_get(c, "detail"));
		const char *exp = json_string_value(json_object_get(c, "expected"));
		const char *act = json_string_value(json_object_get(c, "actual"));
		if (!name || !res)
			continue;
		printf("  %s  %-22s ", result_word(res), name);
		put_safe(stdout, det ? det : "");
		if (strcmp(res, "fail") == 0) {
			if (exp || act)
				fputs(" (", stdout);
			if (exp) {
				fputs("expected ", stdout);
				put_safe(stdout, exp);
			}
			if (act) {
				fputs(exp ? ", actual " : "actual ", stdout);
				put_safe(stdout, act);
			}
			if (exp || act)
				fputc(')', stdout);
			if (!first_fail) {
				first_fail = name;
				first_detail = det;
			}
		}
		fputc('\n', stdout);
	}
	fputc('\n', stdout);
	if (verified) {
		fputs("VERIFIED\n", stdout);
	} else {
		fputs("NOT VERIFIED", stdout);
		if (first_fail) {
			printf(": %s: ", first_fail);
			put_safe(stdout, first_detail ? first_detail : "");
		}
		fputc('\n', stdout);
	}
}

static void tdx_hex_line(const char *label, const uint8_t *p, size_t n)
{
	char buf[2 * 64 + 1];
	util_hex(buf, p, n);
	printf("%-15s%s\n", label, buf);
}

static void tdx_print_text(const struct verify_opts *o, const struct tdx_quote *q, bool have_q,
			   const struct tdx_verdict *v, const struct collateral_files *cf,
			   int64_t now, const char *note, json_t *checks, bool verified)
{
	char when[UTIL_TIME_BUF];
	util_rfc3339(when, now * 1000000000LL);
	if (have_q) {
		printf("%-15sIntel TDX quote v%u (%s body), %zu bytes\n", "Quote:", q->version,
		       q->body_type == 3 ? "TD 1.5" : "TD 1.0", q->quote_len);
		tdx_hex_line("TEE_TCB_SVN:", q->tee_tcb_svn, 16);
		tdx_hex_line("MRSEAM:", q->mr_seam, 48);
		tdx_hex_line("MRSIGNERSEAM:", q->mr_signer_seam, 48);
		tdx_hex_line("MRTD:", q->mr_td, 48);
		tdx_hex_line("MRCONFIGID:", q->mr_config_id, 48);
		tdx_hex_line("MROWNER:", q->mr_owner, 48);
		tdx_hex_line("MROWNERCONFIG:", q->mr_owner_config, 48);
		for (int i = 0; i < 4; i++) {
			char l[16];
			snprintf(l, sizeof(l), "RTMR%d:", i);
			tdx_hex_line(l, q->rtmr[i], 48);
		}
		printf("%-15s0x%016llx%s\n", "TD attributes:", (unsigned long long)q->td_attributes,
		       (q->td_attributes & 1) ? " (DEBUG)" : "");
		printf("%-15s0x%016llx\n", "XFAM:", (unsigned long long)q->xfam);
		tdx_hex_line("Report data:", q->report_data, 64);
	}
	if (v->have_pck) {
		char fm[13];
		util_hex(fm, v->fmspc, 6);
		printf("%-15sFMSPC %s, PCE-ID %04x, PCK issued by %s\n", "Platform:", fm, v->pce_id,
		       v->pck_ca);
	}
	if (v->tcb_evaluated) {
		printf("%-15s%s (platform %s, TDX module %s, QE %s)",
		       "TCB status:", tdx_tcb_status_name(v->tcb_status),
		       tdx_tcb_status_name(v->platform_status),
		       tdx_tcb_status_name(v->module_status), tdx_tcb_status_name(v->qe_status));
		for (size_t i = 0; i < v->n_advisory_ids; i++) {
			fputs(i ? " " : "; advisories ", stdout);
			put_safe(stdout, v->advisory_ids[i]);
		}
		fputc('\n', stdout);
	}
	printf("%-15s", "Collateral:");
	if (o->collateral_dir) {
		put_safe(stdout, o->collateral_dir);
		printf(" (%s)\n", cf->summary);
	} else {
		puts("none: the TCB level was not evaluated");
	}
	printf("%-15s%s\n", "Checked at:", when);
	if (o->policy_path) {
		printf("%-15s", "Policy:");
		put_safe(stdout, o->policy_path);
		fputc('\n', stdout);
	} else {
		printf("%-15snone applied: only the signatures, the PCK chain and the TCB status "
		       "were checked\n",
		       "Policy:");
	}
	if (note && note[0]) {
		printf("%-15s", "Note:");
		put_safe(stdout, note);
		fputc('\n', stdout);
	}
	print_checks(checks, verified);
}

static int do_verify_tdx(const struct verify_opts *o)
{
	if (o->leaf_path || o->chain_path || o->crl_path)
		return cli_usage_error(attest_usage_text,
				       "--vcek, --vlek, --chain and --crl are for SEV-SNP reports; "
				       "a TDX quote carries its PCK chain (use --collateral DIR)");
	struct verify_state s = { .checks = json_array() };
	struct collateral_files cf = { 0 };
	struct tdx_quote q = { 0 };
	struct tdx_verdict v = { 0 };
	struct tdx_policy *pol = NULL;
	struct tdx_collateral *col = NULL;
	json_t *pverdict = NULL;
	char *report = NULL, *evtext = NULL, *policy = NULL;
	uint8_t *evquote = NULL;
	size_t report_len = 0, evtext_len = 0, policy_len = 0, evquote_len = 0;
	bool have_q = false, verified = false;
	int rc;
	if (!s.checks || sodium_init() < 0) {
		json_decref(s.checks);
		fputs("cloister: out of memory\n", stderr);
		return CLI_EXIT_FAIL;
	}
	s.now = (int64_t)time(NULL);
	if (o->now_str && parse_now(o->now_str, &s.now) < 0) {
		rc = cli_usage_error(
			attest_usage_text,
			"--now wants RFC 3339 (2026-11-22T00:00:00Z) or @unix-seconds, not '%s'",
			o->now_str);
		goto out;
	}
	if ((o->report_path && (rc = read_input("--report", o->report_path, ATTEST_FILE_MAX_BYTES,
						&report, &report_len))) ||
	    (o->evidence_path &&
	     (rc = read_input("--evidence", o->evidence_path, ATTEST_EVIDENCE_MAX_BYTES, &evtext,
			      &evtext_len))) ||
	    (o->policy_path && (rc = read_input("--policy", o->policy_path, SNP_POLICY_MAX_BYTES,
						&policy, &policy_len))))
		goto out;
	if (policy) {
		char err[TDX_POLICY_ERR_BYTES] = "";
		pol = tdx_policy_parse(policy, policy_len, err, sizeof(err));
		if (!pol) {
			fputs("cloister: --policy ", stderr);
			put_safe(stderr, o->policy_path);
			fputs(": ", stderr);
			put_safe(stderr, err);
			fputs(" (a TDX quote is checked against the file's \"tdx_policy\")\n",
			      stderr);
			rc = CLI_EXIT_IO;
			goto out;
		}
	}
	if ((rc = collateral_load(o, &cf)))
		goto out;

	/* The quote. */
	struct evidence ev = { 0 };
	char err[256] = "";
	int prc;
	if (evtext) {
		if (tdx_evidence_parse(evtext, evtext_len, &evquote, &evquote_len, ev.spki_sha256,
				       err, sizeof(err)) < 0)
			prc = -EINVAL;
		else
			prc = tdx_quote_parse(evquote, evquote_len, &q, err, sizeof(err));
	} else {
		prc = looks_text(report, report_len)
			      ? tdx_quote_parse_text(report, report_len, &q, err, sizeof(err))
			      : tdx_quote_parse((const uint8_t *)report, report_len, &q, err,
						sizeof(err));
	}
	if (prc == 0) {
		have_q = true;
	} else {
		v.reason = prc == -ENOTSUP  ? TDX_ERR_UNSUPPORTED
			   : prc == -ENOMEM ? TDX_ERR_INTERNAL
					    : TDX_ERR_MALFORMED;
		snprintf(v.detail, sizeof(v.detail), "%s", err[0] ? err : "malformed");
	}
	if ((rc = expected_report_data(o, &s, evtext ? &ev : NULL)) != 0)
		goto out;
	if (s.have_rd && pol && tdx_policy_set_report_data(pol, s.rd) < 0) {
		rc = CLI_EXIT_FAIL;
		goto out;
	}

	/* Collateral, chain, signatures, TCB. */
	if (have_q) {
		col = tdx_collateral_new(&cf.d.o, &v);
		if (!col) {
			fputs("cloister: out of memory\n", stderr);
			rc = CLI_EXIT_FAIL;
			goto out;
		}
		tdx_verify(&q, col, s.now, &v);
	}

	/* The verdict. */
	if (!have_q) {
		add_check(s.checks, "report", "fail", NULL, tdx_reason_name(v.reason), "%s",
			  v.detail);
	} else if (pol) {
		bool pass = false;
		pverdict = tdx_policy_evaluate(pol, &q, &v, &pass);
		if (!pverdict) {
			fputs("cloister: out of memory\n", stderr);
			rc = CLI_EXIT_FAIL;
			goto out;
		}
		json_decref(s.checks);
		s.checks = json_incref(json_object_get(pverdict, "checks"));
		verified = pass && v.reason == TDX_OK;
	} else {
		verified = tdx_own_checks(s.checks, &v, &q, s.have_rd ? s.rd : NULL, s.rd_source);
	}
	if (o->json) {
		json_t *j = json_pack("{s:b,s:O,s:b,s:s,s:o,s:o,s:s}", "verified", (int)verified,
				      "checks", s.checks, "policy_applied", (int)(pol != NULL),
				      "tee", "tdx", "verification", tdx_verdict_json(&v), "quote",
				      have_q ? tdx_quote_json(&q) : json_null(), "now", "");
		char when[UTIL_TIME_BUF];
		util_rfc3339(when, s.now * 1000000000LL);
		if (j) {
			json_object_set_new(j, "now", json_string(when));
			json_object_set_new(j, "collateral",
					    o->collateral_dir
						    ? json_string_lossy(o->collateral_dir,
									strlen(o->collateral_dir))
						    : json_null());
			if (s.note[0])
				json_object_set_new(j, "note",
						    json_string_lossy(s.note, strlen(s.note)));
		}
		char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
		json_decref(j);
		if (!text) {
			fputs("cloister: out of memory\n", stderr);
			rc = CLI_EXIT_FAIL;
			goto out;
		}
		puts(text);
		free(text);
	} else {
		tdx_print_text(o, &q, have_q, &v, &cf, s.now, s.note, s.checks, verified);
	}
	rc = verified ? CLI_EXIT_OK : CLI_EXIT_FAIL;
out:
	tdx_collateral_free(col);
	tdx_policy_free(pol);
	tdx_quote_done(&q);
	tdx_collateral_dir_done(&cf.d);
	json_decref(pverdict);
	json_decref(s.checks);
	free(evquote);
	free(report);
	free(evtext);
	free(policy);
	return rc;
}

static int do_verify(const struct verify_opts *o)
{
	if (detect_tee(o) == TEE_TDX)
		return do_verify_tdx(o);
	if (o->collateral_dir || o->tcb_chain_path)
		return cli_usage_error(
			attest_usage_text,
			"--collateral and --tcb-issuer-chain are for Intel TDX quotes; "
			"this is an SEV-SNP report");
	struct verify_state s = { .checks = json_array() };
	struct evidence ev = { 0 };
	char *report = NULL, *leaf = NULL, *chain = NULL, *crl = NULL, *policy = NULL;
	char *evtext = NULL;
	uint8_t *evchain = NULL;
	size_t report_len = 0, leaf_len = 0, chain_len = 0, crl_len = 0, policy_len = 0,
	       evtext_len = 0;
	struct snp_chain *c = NULL;
	json_t *pverdict = NULL;
	int rc;
	if (!s.checks || sodium_init() < 0) {
		fputs("cloister: out of memory\n", stderr);
		return CLI_EXIT_FAIL;
	}

	/* 1. The verifier's own inputs: any problem here means nothing was verified (exit 2). */
	s.now = (int64_t)time(NULL);
	if (o->now_str && parse_now(o->now_str, &s.now) < 0) {
		rc = cli_usage_error(
			attest_usage_text,
			"--now wants RFC 3339 (2026-11-22T00:00:00Z) or @unix-seconds, "
			"not '%s'",
			o->now_str);
		goto out;
	}
	if ((o->report_path && (rc = read_input("--report", o->report_path, ATTEST_FILE_MAX_BYTES,
						&report, &report_len))) ||
	    (o->evidence_path &&
	     (rc = read_input("--evidence", o->evidence_path, ATTEST_EVIDENCE_MAX_BYTES, &evtext,
			      &evtext_len))) ||
	    (o->leaf_path && (rc = read_input(o->leaf_opt, o->leaf_path, ATTEST_FILE_MAX_BYTES,
					      &leaf, &leaf_len))) ||
	    (o->chain_path && (rc = read_input("--chain", o->chain_path, ATTEST_FILE_MAX_BYTES,
					       &chain, &chain_len))) ||
	    (o->crl_path &&
	     (rc = read_input("--crl", o->crl_path, ATTEST_FILE_MAX_BYTES, &crl, &crl_len))) ||
	    (o->policy_path && (rc = read_input("--policy", o->policy_path, SNP_POLICY_MAX_BYTES,
						&policy, &policy_len))))
		goto out;
	if (policy) {
		char err[SNP_POLICY_ERR_BYTES] = "";
		s.pol = snp_policy_parse(policy, policy_len, err, sizeof(err));
		if (!s.pol) {
			fputs("cloister: --policy ", stderr);
			put_safe(stderr, o->policy_path);
			fputs(": ", stderr);
			put_safe(stderr, err);
			fputc('\n', stderr);
			rc = CLI_EXIT_IO;
			goto out;
		}
		char problems[SNP_POLICY_PROBLEMS_BYTES];
		if (snp_policy_problems(s.pol, problems, sizeof(problems)) > 0) {
			fputs("cloister: warning: the policy has unusable values (their checks "
			      "fail): ",
			      stderr);
			put_safe(stderr, problems);
			fputc('\n', stderr);
		}
		if (s.pol->check_crl && !crl) {
			fputs("cloister: the policy sets root_of_trust.check_crl: give the AMD CRL "
			      "with --crl FILE (https://kdsintf.amd.com/vcek/v1/<product>/crl); "
			      "not verified\n",
			      stderr);
			rc = CLI_EXIT_FAIL;
			goto out;
		}
	}

	/* 2. The evidence. */
	if (evtext) {
		char err[256] = "";
		if (evidence_parse(evtext, evtext_len, &ev, err, sizeof(err)) < 0) {
			s.cv.reason = SNP_ERR_MALFORMED;
			snprintf(s.cv.detail, sizeof(s.cv.detail), "%s", err);
		} else {
			parse_report((const char *)ev.report, ev.report_len, false, &s);
		}
	} else {
		parse_report(report, report_len, true, &s);
	}
	if ((rc = expected_report_data(o, &s, evtext ? &ev : NULL)) != 0)
		goto out;
	if (s.have_rd && s.pol && snp_policy_set_report_data(s.pol, s.rd) < 0) {
		rc = CLI_EXIT_FAIL;
		goto out;
	}

	/* 3. The chain and the signature. */
	if (s.have_report) {
		struct snp_chain_opts co = { .now = s.now };
		if (leaf) {
			co.leaf = (const uint8_t *)leaf;
			co.leaf_len = leaf_len;
		} else {
			bool vlek = snp_report_signer(&s.rep) == SNP_SIGNER_VLEK;
			co.leaf = vlek && ev.vlek ? ev.vlek : ev.vcek ? ev.vcek : ev.vlek;
			co.leaf_len = co.leaf == ev.vlek ? ev.vlek_len : ev.vcek_len;
		}
		if (chain) {
			co.chain = (const uint8_t *)chain;
			co.chain_len = chain_len;
		} else if (ev.ask || ev.ark) {
			/* Concatenated DER is one chain blob for the library. */
			chain_len = ev.ask_len + ev.ark_len;
			evchain = malloc(chain_len);
			if (!evchain) {
				fputs("cloister: out of memory\n", stderr);
				rc = CLI_EXIT_FAIL;
				goto out;
			}
			if (ev.ask)
				memcpy(evchain, ev.ask, ev.ask_len);
			if (ev.ark)
				memcpy(evchain + ev.ask_len, ev.ark, ev.ark_len);
			co.chain = evchain;
			co.chain_len = chain_len;
		}
		if (crl) {
			co.crl = (const uint8_t *)crl;
			co.crl_len = crl_len;
		} else if (ev.crl) {
			co.crl = ev.crl;
			co.crl_len = ev.crl_len;
		}
		if (!co.leaf && !co.chain) {
			if (!evtext) {
				rc = cli_usage_error(
					attest_usage_text,
					"no certificate: give --vcek FILE or --vlek FILE "
					"(or --chain with the VCEK in it)");
				goto out;
			}
			s.cv.reason = SNP_ERR_CHAIN;
			snprintf(s.cv.detail, sizeof(s.cv.detail),
				 "the evidence carries no VCEK or VLEK (the host supplied no "
				 "certificate table): give --vcek FILE or --vlek FILE");
		} else {
			c = snp_chain_new(&co, &s.cv);
			if (c)
				snp_verify_report(c, &s.rep, &s.cv);
		}
	}

	/* 4. The verdict. */
	if (s.pol && s.have_report) {
		bool pass = false;
		pverdict = snp_policy_evaluate(s.pol, &s.rep, &s.cv, &pass);
		if (!pverdict) {
			fputs("cloister: out of memory\n", stderr);
			rc = CLI_EXIT_FAIL;
			goto out;
		}
		json_decref(s.checks);
		s.checks = json_incref(json_object_get(pverdict, "checks"));
		s.verified = pass && s.cv.reason == SNP_OK;
	} else {
		own_checks(&s);
	}
	if (o->json) {
		if (print_json(&s, pverdict) < 0) {
			fputs("cloister: out of memory\n", stderr);
			rc = CLI_EXIT_FAIL;
			goto out;
		}
	} else {
		print_text(&s, o);
	}
	rc = s.verified ? CLI_EXIT_OK : CLI_EXIT_FAIL;
out:
	snp_chain_free(c);
	snp_policy_free(s.pol);
	json_decref(pverdict);
	json_decref(s.checks);
	evidence_done(&ev);
	free(evchain);
	free(report);
	free(evtext);
	free(leaf);
	free(chain);
	free(crl);
	free(policy);
	return rc;
}

static int cmd_verify(int argc, char **argv)
{
	enum {
		OPT_REPORT = 1,
		OPT_EVIDENCE,
		OPT_VCEK,
		OPT_VLEK,
		OPT_CHAIN,
		OPT_CRL,
		OPT_POLICY,
		OPT_RD,
		OPT_NONCE,
		OPT_TLS_CERT,
		OPT_NOW,
		OPT_JSON,
		OPT_COLLATERAL,
		OPT_TCB_CHAIN
	};
	static const struct option lo[] = {
		{ "report", required_argument, NULL, OPT_REPORT },
		{ "evidence", required_argument, NULL, OPT_EVIDENCE },
		{ "vcek", required_argument, NULL, OPT_VCEK },
		{ "vlek", required_argument, NULL, OPT_VLEK },
		{ "chain", required_argument, NULL, OPT_CHAIN },
		{ "crl", required_argument, NULL, OPT_CRL },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "report-data", required_argument, NULL, OPT_RD },
		{ "nonce", required_argument, NULL, OPT_NONCE },
		{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
		{ "now", required_argument, NULL, OPT_NOW },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "collateral", required_argument, NULL, OPT_COLLATERAL },
		{ "tcb-issuer-chain", required_argument, NULL, OPT_TCB_CHAIN },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct verify_opts o = { 0 };
	int opt;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		switch (opt) {
		case OPT_REPORT:
			o.report_path = optarg;
			break;
		case OPT_EVIDENCE:
			o.evidence_path = optarg;
			break;
		case OPT_VCEK:
		case OPT_VLEK:
			if (o.leaf_path)
				return cli_usage_error(attest_usage_text,
						       "give one of --vcek and --vlek, once");
			o.leaf_path = optarg;
			o.leaf_opt = opt == OPT_VCEK ? "--vcek" : "--vlek";
			break;
		case OPT_CHAIN:
			o.chain_path = optarg;
			break;
		case OPT_CRL:
			o.crl_path = optarg;
			break;
		case OPT_POLICY:
			o.policy_path = optarg;
			break;
		case OPT_RD:
			o.report_data_hex = optarg;
			break;
		case OPT_NONCE:
			o.nonce_hex = optarg;
			break;
		case OPT_TLS_CERT:
			o.tls_cert_path = optarg;
			break;
		case OPT_NOW:
			o.now_str = optarg;
			break;
		case OPT_JSON:
			o.json = true;
			break;
		case OPT_COLLATERAL:
			o.collateral_dir = optarg;
			break;
		case OPT_TCB_CHAIN:
			o.tcb_chain_path = optarg;
			break;
		case 'h':
			fputs(attest_usage_text, stdout);
			return CLI_EXIT_OK;
		default:
			fputs(attest_usage_text, stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_usage_error(attest_usage_text, "unexpected argument '%s'", argv[optind]);
	if (!o.report_path == !o.evidence_path)
		return cli_usage_error(attest_usage_text,
				       "give exactly one of --report and --evidence");
	if (!o.nonce_hex != !o.tls_cert_path)
		return cli_usage_error(attest_usage_text, "--nonce and --tls-cert go together");
	if (o.report_data_hex && o.nonce_hex)
		return cli_usage_error(attest_usage_text,
				       "give --report-data or --nonce with --tls-cert, not both");
	return do_verify(&o);
}

int cmd_attest(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error(attest_noun_usage_text, "missing command");
	const char *name = argv[1];
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
		fputs(attest_noun_usage_text, stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(name, "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	return cli_usage_error(attest_noun_usage_text, "unknown attest command '%s'", name);
}
