/*
 * test_policy.c - SEV-SNP policy files and their evaluation (src/lib/attest/policy.c).
 *
 * Parsing: the Prism backend-information sample (a template: it loads, its placeholders are
 * present-but-invalid, listed by snp_policy_problems and fail their checks until filled), the
 * Cocos v0.3 (integer-array byte fields) and v0.8 forms, large u64 values, every refusal naming
 * its field, the size limit at and past it.
 * Evaluation: each check passes, fails and is skipped with a hand-built report; a policy built
 * from testdata/snp/valid/milan_virtee/report.bin passes and flipping each field fails exactly
 * that check (the report read by snp_report_parse, the chain verdict from snp_verify).
 * File editing: `policy measurement|hostdata` round trips, atomically, keeping mode,
 * formatting and every other key; refusals leave the file untouched.
 * The test data directory is $TESTDATA, else $SRCDIR/../shared/testdata.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "attest/policy.h"
#include "fsx.h"
#include "util.h"

/* ------------------------------------------------------------------------------------------ */
/* Helpers */

/* The Prism docs' backend-information file, verbatim: 1-byte "AA==" placeholders, and a chip_id
 * of 85 base64 characters (not decodable: a copy/paste casualty in the docs). */
#define PRISM_CHIP_ID                                                                              \
	"GrFqQtRklrsjBslu9pcQ6X4rkftFW1Ar1oT+I4guQ1sVC6qakgSvEtE4P/SLSJ6mHNp0kY0mHnGpvz1Ov+k/w=="
/* The 64-byte chip_id of the Cocos v0.8 sample. */
#define V08_CHIP_ID                                                                                \
	"GrFqtQ+lrkLsjBslu9pcC6XqkrtFWY1ArIQ+I4gugQIsvCG0qekSvEtE4P/SLSJ6mHNpOkY0MHnGpvz1OkV+kw=="
static const char prism_sample[] = "{\n"
				   "  \"snp_policy\": {\n"
				   "    \"policy\": 1966081,\n"
				   "    \"family_id\": \"AA==\",\n"
				   "    \"image_id\": \"AA==\",\n"
				   "    \"vmpl\": {\n"
				   "      \"value\": 0\n"
				   "    },\n"
				   "    \"minimum_tcb\": 1506397780360888800,\n"
				   "    \"minimum_launch_tcb\": 1506397780360888800,\n"
				   "    \"require_author_key\": false,\n"
				   "    \"measurement\": \"AA==\",\n"
				   "    \"host_data\": \"AA==\",\n"
				   "    \"report_id_ma\": \"AA==\",\n"
				   "    \"chip_id\": \"" PRISM_CHIP_ID "\",\n"
				   "    \"minimum_build\": 7,\n"
				   "    \"minimum_version\": \"1.55\",\n"
				   "    \"permit_provisional_firmware\": false,\n"
				   "    \"require_id_block\": false\n"
				   "  },\n"
				   "  \"root_of_trust\": {\n"
				   "    \"product\": \"Milan\",\n"
				   "    \"check_crl\": true,\n"
				   "    \"disallow_network\": false\n"
				   "  }\n"
				   "}\n";

static bool all_zero_bytes(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static struct snp_policy *parse_str(const char *s, char *err)
{
	return snp_policy_parse(s, strlen(s), err, SNP_POLICY_ERR_BYTES);
}

/* Parses s, which must fail with an error containing want. */
static void expect_refused(const char *s, const char *want)
{
	char err[SNP_POLICY_ERR_BYTES];
	struct snp_policy *p = parse_str(s, err);
	if (p || !strstr(err, want)) {
		snp_policy_free(p);
		fail_msg("policy %s\n  want error containing \"%s\", got %s \"%s\"", s, want,
			 p ? "success" : "error", err);
	}
}

static struct snp_policy *expect_parsed(const char *s)
{
	char err[SNP_POLICY_ERR_BYTES];
	struct snp_policy *p = parse_str(s, err);
	if (!p)
		fail_msg("policy %s\n  refused: %s", s, err);
	return p;
}

/* Replaces the first occurrence of from in s (static buffer). */
static const char *subst(const char *s, const char *from, const char *to)
{
	static char buf[8192];
	const char *at = strstr(s, from);
	assert_non_null(at);
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
	return buf;
}

static char *b64(const uint8_t *b, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	assert_non_null(out);
	EVP_EncodeBlock((unsigned char *)out, b, (int)n);
	return out;
}

/* Result ("pass", "fail", "skipped") of the named check in a verdict. */
static const char *check_result(json_t *v, const char *name)
{
	json_t *checks = json_object_get(v, "checks");
	size_t i;
	json_t *c;
	json_array_foreach(checks, i, c)
	{
		if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
			return json_string_value(json_object_get(c, "result"));
	}
	fail_msg("no check named %s", name);
	return NULL;
}

static const char *check_field(json_t *v, const char *name, const char *field)
{
	json_t *checks = json_object_get(v, "checks");
	size_t i;
	json_t *c;
	json_array_foreach(checks, i, c)
	{
		if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
			return json_string_value(json_object_get(c, field));
	}
	return NULL;
}

/* Names of the failed checks, comma separated (static buffer). */
static const char *failed_checks(json_t *v)
{
	static char buf[512];
	size_t o = 0, i;
	json_t *c;
	buf[0] = '\0';
	json_array_foreach(json_object_get(v, "checks"), i, c)
	{
		if (strcmp(json_string_value(json_object_get(c, "result")), "fail") == 0)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", o ? "," : "",
					      json_string_value(json_object_get(c, "name")));
	}
	return buf;
}

static json_t *eval(const struct snp_policy *p, const struct snp_report *r,
		    const struct snp_verdict *cv, bool *pass)
{
	json_t *v = snp_policy_evaluate(p, r, cv, pass);
	assert_non_null(v);
	assert_int_equal(json_is_true(json_object_get(v, "verified")), *pass);
	return v;
}

/* Evaluates policy text against r and returns the failed checks (static buffer). */
static const char *fails_of(const char *policy, const struct snp_report *r,
			    const struct snp_verdict *cv)
{
	struct snp_policy *p = expect_parsed(policy);
	bool pass;
	json_t *v = eval(p, r, cv, &pass);
	const char *f = failed_checks(v);
	assert_int_equal(pass, f[0] == '\0');
	json_decref(v);
	snp_policy_free(p);
	return f;
}

static const char *result_of(const char *policy, const struct snp_report *r, const char *name)
{
	static char res[16];
	struct snp_policy *p = expect_parsed(policy);
	bool pass;
	json_t *v = eval(p, r, NULL, &pass);
	snprintf(res, sizeof(res), "%s", check_result(v, name));
	json_decref(v);
	snp_policy_free(p);
	return res;
}

/* A Milan v3 report (CPUID 19/01/01) that the "full" policy below accepts. */
static void base_report(struct snp_report *r)
{
	memset(r, 0, sizeof(*r));
	r->version = 3;
	r->guest_svn = 4;
	r->policy = 0x30000; /* ABI 0.0, SMT allowed, reserved bit */
	r->vmpl = 0;
	r->signature_algo = 1;
	r->current_tcb = r->reported_tcb = r->committed_tcb = r->launch_tcb = 0x7308000000000003ull;
	r->platform_info = 0x1; /* SMT_EN */
	memset(r->measurement, 0xab, 48);
	memset(r->host_data, 0x11, 32);
	memset(r->report_id, 0x22, 32);
	memset(r->report_id_ma, 0xff, 32);
	memset(r->chip_id, 0x33, 64);
	memset(r->report_data, 0x44, 64);
	r->cpuid_fam_id = 0x19;
	r->cpuid_mod_id = 0x01;
	r->cpuid_step = 0x01;
	r->current_build = r->committed_build = 4;
	r->current_minor = r->committed_minor = 52;
	r->current_major = r->committed_major = 1;
}

static const struct snp_verdict verdict_ok = { SNP_OK, "", SNP_PRODUCT_MILAN, SNP_SIGNER_VCEK };

/* ------------------------------------------------------------------------------------------ */
/* Parsing */

static char *full_policy(void);

/* The Prism sample's placeholder checks, in check order. */
#define PRISM_PLACEHOLDER_FAILS "family_id,image_id,measurement,host_data,report_id_ma,chip_id"
#define PRISM_PROBLEMS                                                                             \
	"snp_policy.family_id: want 16 bytes, got 1; snp_policy.image_id: want 16 bytes, got 1; "  \
	"snp_policy.measurement: want 48 bytes, got 1; snp_policy.host_data: want 32 bytes, got "  \
	"1; snp_policy.report_id_ma: want 32 bytes, got 1; snp_policy.chip_id: not base64"

/* A Milan report that satisfies every non-placeholder field of the Prism sample. */
static void prism_report(struct snp_report *r)
{
	base_report(r);
	r->policy = 0x120001; /* ABI 0.1, reserved bit 17, SINGLE_SOCKET (required by 0x1e0001) */
	r->current_tcb = r->reported_tcb = r->committed_tcb = r->launch_tcb =
		1506397780360888800ull;
	r->current_build = r->committed_build = 7;
	r->current_minor = r->committed_minor = 55;
}

static void test_prism_sample_loads_placeholders_fail(void **state)
{
	(void)state;
	/* The template loads (Prism hands it out to be filled), but each placeholder is recorded
	 * as present-but-invalid: never "unchecked". */
	struct snp_policy *p = expect_parsed(prism_sample);
	assert_int_equal(p->family_id.state, SNP_PB_INVALID);
	assert_string_equal(p->family_id.why, "want 16 bytes, got 1");
	assert_int_equal(p->family_id.got, 1);
	assert_true(all_zero_bytes(p->family_id.v, sizeof(p->family_id.v)));
	assert_int_equal(p->measurement.state, SNP_PB_INVALID);
	assert_string_equal(p->measurement.why, "want 48 bytes, got 1");
	assert_int_equal(p->chip_id.state, SNP_PB_INVALID);
	assert_string_equal(p->chip_id.why, "not base64");
	assert_int_equal(p->chip_id.got, -1);
	assert_int_equal(p->report_id.state, SNP_PB_ABSENT);
	assert_int_equal(p->report_id.why[0], '\0');
	/* Everything else was read as written. */
	assert_int_equal(p->policy, 1966081);
	assert_int_equal(p->minimum_tcb, 1506397780360888800ull);
	assert_int_equal(p->minimum_build, 7);
	assert_int_equal(p->product, SNP_PRODUCT_MILAN);

	/* problems(): the count and the list, in check order. */
	char buf[SNP_POLICY_PROBLEMS_BYTES];
	assert_int_equal(snp_policy_problems(p, buf, sizeof(buf)), 6);
	assert_string_equal(buf, PRISM_PROBLEMS);
	assert_int_equal(snp_policy_problems(p, NULL, 0), 6);
	char small[12];
	memset(small, 'x', sizeof(small));
	assert_int_equal(snp_policy_problems(p, small, sizeof(small)), 6);
	assert_string_equal(small, "snp_policy.");
	assert_int_equal(snp_policy_problems(NULL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");

	/* Evaluation fails exactly the placeholder checks, saying how to fix each. */
	struct snp_report r;
	prism_report(&r);
	bool pass = true;
	json_t *v = eval(p, &r, NULL, &pass);
	assert_false(pass);
	assert_string_equal(failed_checks(v), PRISM_PLACEHOLDER_FAILS);
	assert_string_equal(check_field(v, "measurement", "detail"),
			    "measurement in the policy is not a 48-byte value (got 1 byte): fill "
			    "it with `cloister policy measurement`");
	assert_string_equal(check_field(v, "host_data", "detail"),
			    "host_data in the policy is not a 32-byte value (got 1 byte): fill it "
			    "with `cloister policy hostdata`");
	assert_string_equal(check_field(v, "family_id", "detail"),
			    "family_id in the policy is not a 16-byte value (got 1 byte): set it "
			    "to the expected 16 bytes in base64");
	assert_string_equal(check_field(v, "chip_id", "detail"),
			    "chip_id in the policy is not a 64-byte value (not base64): set it to "
			    "the expected 64 bytes in base64");
	assert_null(check_field(v, "measurement", "expected"));
	assert_non_null(check_field(v, "measurement", "actual"));
	assert_string_equal(check_result(v, "report_id"), "skipped");
	assert_string_equal(check_result(v, "minimum_tcb"), "pass");
	json_decref(v);

	/* An invalid value fails even when the report holds the bytes it decodes to ("AA==" is
	 * one zero byte; a zero family_id must not match it). */
	memset(r.family_id, 0, sizeof(r.family_id));
	v = eval(p, &r, NULL, &pass);
	assert_string_equal(check_result(v, "family_id"), "fail");
	json_decref(v);
	snp_policy_free(p);

	/* A valid policy has no problems. */
	char *full = full_policy();
	p = expect_parsed(full);
	assert_int_equal(snp_policy_problems(p, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	snp_policy_free(p);
	free(full);
}

static void test_prism_sample_filled_parses(void **state)
{
	(void)state;
	char *zero16 = b64((const uint8_t[16]){ 0 }, 16);
	uint8_t m[48], ma[32];
	memset(m, 0x5a, sizeof(m));
	memset(ma, 0xff, sizeof(ma));
	char *mb = b64(m, 48), *hb = b64((const uint8_t[32]){ 0 }, 32), *mab = b64(ma, 32);
	char buf[4096], tmp[4096];
	snprintf(buf, sizeof(buf), "%s", prism_sample);
	const char *fields[][2] = { { "\"family_id\": \"AA==\"", zero16 },
				    { "\"image_id\": \"AA==\"", zero16 },
				    { "\"measurement\": \"AA==\"", mb },
				    { "\"host_data\": \"AA==\"", hb },
				    { "\"report_id_ma\": \"AA==\"", mab },
				    { "\"chip_id\": \"" PRISM_CHIP_ID "\"", V08_CHIP_ID } };
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		char to[200];
		snprintf(to, sizeof(to), "%.*s\"%s\"",
			 (int)(strchr(fields[i][0], ':') - fields[i][0] + 2), fields[i][0],
			 fields[i][1]);
		snprintf(tmp, sizeof(tmp), "%s", subst(buf, fields[i][0], to));
		snprintf(buf, sizeof(buf), "%s", tmp);
	}
	struct snp_policy *p = expect_parsed(buf);
	assert_false(p->v4_form);
	assert_true(p->has_policy);
	assert_int_equal(p->policy, 1966081);
	assert_true(p->has_vmpl);
	assert_int_equal(p->vmpl, 0);
	assert_int_equal(p->minimum_tcb, 1506397780360888800ull);
	assert_int_equal(p->minimum_launch_tcb, 1506397780360888800ull);
	assert_int_equal(p->family_id.state, SNP_PB_SET);
	assert_true(all_zero_bytes(p->family_id.v, 16));
	assert_memory_equal(p->measurement.v, m, 48);
	assert_int_equal(p->chip_id.state, SNP_PB_SET);
	assert_int_equal(p->chip_id.v[0], 0x1a);
	assert_int_equal(p->minimum_build, 7);
	assert_true(p->has_minimum_version);
	assert_int_equal(p->minimum_major, 1);
	assert_int_equal(p->minimum_minor, 55);
	assert_true(p->has_permit_provisional_firmware);
	assert_false(p->permit_provisional_firmware);
	assert_true(p->has_require_id_block);
	assert_int_equal(p->product, SNP_PRODUCT_MILAN);
	assert_true(p->check_crl);
	assert_false(p->disallow_network);
	assert_string_equal(p->rot_product, "Milan");
	assert_int_equal(p->report_data.state, SNP_PB_ABSENT);
	assert_false(p->has_platform_info);
	snp_policy_free(p);
	free(zero16);
	free(mb);
	free(hb);
	free(mab);
}

static void test_cocos_v03_integer_arrays(void **state)
{
	(void)state;
	char buf[4096];
	size_t o = 0;
	o += (size_t)snprintf(buf + o, sizeof(buf) - o,
			      "{\"snp_policy\":{\"policy\":1966081,\"family_id\":[");
	for (int i = 0; i < 16; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s0", i ? "," : "");
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, "],\"measurement\":[");
	for (int i = 0; i < 48; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%d", i ? "," : "", i * 5);
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, "],\"report_id_ma\":[");
	for (int i = 0; i < 32; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s255", i ? "," : "");
	snprintf(buf + o, sizeof(buf) - o,
		 "],\"image_id\":[],\"vmpl\":{\"value\":0},\"minimum_tcb\":0,"
		 "\"minimum_version\":\"\"},\"root_of_trust\":{\"product\":\"Milan\"}}");
	struct snp_policy *p = expect_parsed(buf);
	assert_int_equal(p->family_id.state, SNP_PB_SET);
	assert_int_equal(p->measurement.state, SNP_PB_SET);
	for (int i = 0; i < 48; i++)
		assert_int_equal(p->measurement.v[i], i * 5);
	assert_int_equal(p->report_id_ma.v[31], 255);
	assert_int_equal(p->image_id.state, SNP_PB_EMPTY);
	assert_false(p->has_minimum_version); /* "" is unchecked */
	assert_true(p->has_minimum_tcb);
	snp_policy_free(p);

	expect_refused("{\"snp_policy\":{\"family_id\":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,256]}}",
		       "snp_policy.family_id: element 15: want an integer 0..255");
	expect_refused("{\"snp_policy\":{\"family_id\":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,-1]}}",
		       "snp_policy.family_id: element 15");
	expect_refused("{\"snp_policy\":{\"family_id\":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,\"1\"]}}",
		       "snp_policy.family_id: element 15");
	/* Wrong length: present but invalid; a bad element is still refused whatever the length. */
	p = expect_parsed("{\"snp_policy\":{\"family_id\":[0,0,0]}}");
	assert_int_equal(p->family_id.state, SNP_PB_INVALID);
	assert_string_equal(p->family_id.why, "want 16 bytes, got 3");
	struct snp_report r;
	base_report(&r);
	bool pass;
	json_t *v = eval(p, &r, NULL, &pass);
	assert_string_equal(failed_checks(v), "family_id");
	assert_non_null(strstr(check_field(v, "family_id", "detail"), "(got 3 bytes)"));
	json_decref(v);
	snp_policy_free(p);
	expect_refused("{\"snp_policy\":{\"family_id\":[0,0,256]}}",
		       "snp_policy.family_id: element 2: want an integer 0..255");
	expect_refused("{\"snp_policy\":{\"family_id\":[0,{}]}}",
		       "snp_policy.family_id: element 1");
}

static void test_cocos_v08_form(void **state)
{
	(void)state;
	const char *v08 =
		"{\n  \"pcr_values\": {\"sha256\": {\"0\": \"71e0\"}, \"sha384\": {}},\n"
		"  \"policy\": {\n"
		"    \"chip_id\": "
		"\"GrFqtQ+lrkLsjBslu9pcC6XqkrtFWY1ArIQ+I4gugQIsvCG0qekSvEtE4P/"
		"SLSJ6mHNpOkY0MHnGpvz1OkV+kw==\",\n"
		"    \"family_id\": \"AAAAAAAAAAAAAAAAAAAAAA==\",\n"
		"    \"host_data\": \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\n"
		"    \"image_id\": \"AAAAAAAAAAAAAAAAAAAAAA==\",\n"
		"    \"measurement\": "
		"\"oDYo4e98Da2Fy73nDVZmxiWiz+5gnxae7NMRtdfnwpbBuVYZsI0mynz3fpfe+YIX\",\n"
		"    \"minimum_build\": 8,\n"
		"    \"minimum_launch_tcb\": 15352208179752599555,\n"
		"    \"minimum_tcb\": 15352208179752599555,\n"
		"    \"minimum_version\": \"1.55\",\n"
		"    \"permit_provisional_firmware\": true,\n"
		"    \"policy\": 196608,\n"
		"    \"product\": {\n      \"name\": 1\n    },\n"
		"    \"report_id_ma\": \"//////////////////////////////////////////8=\",\n"
		"    \"require_author_key\": false,\n"
		"    \"require_id_block\": false,\n"
		"    \"vmpl\": 2\n"
		"  },\n"
		"  \"root_of_trust\": {\"check_crl\": true, \"disallow_network\": false,\n"
		"    \"product\": \"Milan\", \"product_line\": \"Milan\"}\n}\n";
	struct snp_policy *p = expect_parsed(v08);
	assert_true(p->v4_form);
	assert_int_equal(p->minimum_tcb, 15352208179752599555ull);
	assert_int_equal(p->minimum_launch_tcb, 15352208179752599555ull);
	assert_int_equal(p->vmpl, 2);
	assert_int_equal(p->policy, 196608);
	assert_int_equal(p->product, SNP_PRODUCT_MILAN);
	assert_string_equal(p->rot_product_line, "Milan");
	assert_int_equal(p->measurement.v[0], 0xa0);
	assert_int_equal(p->report_id_ma.v[0], 0xff);
	snp_policy_free(p);
}

static void test_u64_forms(void **state)
{
	(void)state;
	struct {
		const char *text;
		uint64_t want;
	} ok[] = {
		{ "18446744073709551615", UINT64_MAX },
		{ "9223372036854775807", 9223372036854775807ull },
		{ "9223372036854775808", 9223372036854775808ull },
		{ "\"18446744073709551615\"", UINT64_MAX },
		{ "\"0xdb18000000000004\"", 0xdb18000000000004ull },
		{ "\"0XDB18000000000004\"", 0xdb18000000000004ull },
		{ "0", 0 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		char buf[256];
		snprintf(buf, sizeof(buf), "{\"snp_policy\":{\"minimum_tcb\":%s}}", ok[i].text);
		struct snp_policy *p = expect_parsed(buf);
		assert_int_equal(p->minimum_tcb, ok[i].want);
		snp_policy_free(p);
	}
	const char *bad[] = { "18446744073709551616",
			      "-1",
			      "1.5e18",
			      "1506397780360888800.0",
			      "\"\"",
			      "\"0x\"",
			      "\"0x10000000000000000\"",
			      "\"12a\"",
			      "\"-5\"",
			      "true",
			      "-99999999999999999999",
			      "[1]" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char buf[256];
		snprintf(buf, sizeof(buf), "{\"snp_policy\":{\"minimum_tcb\":%s}}", bad[i]);
		expect_refused(buf, "snp_policy.minimum_tcb: ");
	}
	/* A big integer inside a string is text, not rewritten; a key that looks like a number
	 * stays a key. */
	struct snp_policy *p = expect_parsed("{\"snp_policy\":{\"minimum_version\":\"1.2\"},"
					     "\"pcr_values\":{\"99999999999999999999\":"
					     "\"99999999999999999999\"}}");
	snp_policy_free(p);
	/* minimum_build at its limit and past it; vmpl likewise. */
	p = expect_parsed("{\"snp_policy\":{\"minimum_build\":255,\"vmpl\":3,"
			  "\"minimum_guest_svn\":4294967295}}");
	assert_int_equal(p->minimum_build, 255);
	assert_int_equal(p->vmpl, 3);
	assert_int_equal(p->minimum_guest_svn, UINT32_MAX);
	snp_policy_free(p);
	expect_refused("{\"snp_policy\":{\"minimum_build\":256}}",
		       "snp_policy.minimum_build: 256 is out of range 0..255");
	expect_refused("{\"snp_policy\":{\"vmpl\":4}}", "snp_policy.vmpl: 4 is out of range 0..3");
	expect_refused("{\"snp_policy\":{\"vmpl\":{\"value\":4}}}", "snp_policy.vmpl.value: 4");
	expect_refused("{\"snp_policy\":{\"vmpl\":{\"valu\":1}}}",
		       "snp_policy.vmpl: unknown key \"valu\"");
	expect_refused("{\"snp_policy\":{\"minimum_guest_svn\":4294967296}}",
		       "snp_policy.minimum_guest_svn: ");
	p = expect_parsed("{\"policy\":{\"vmpl\":{},\"platform_info\":{\"value\":\"0x3\"}}}");
	assert_true(p->has_vmpl);
	assert_int_equal(p->vmpl, 0);
	assert_int_equal(p->platform_info, 3);
	snp_policy_free(p);
}

static void test_policy_bits_refused(void **state)
{
	(void)state;
	expect_refused("{\"snp_policy\":{\"policy\":0}}",
		       "snp_policy.policy: 0x0: bit 17 is reserved and must be 1");
	expect_refused("{\"snp_policy\":{\"policy\":67305472}}", /* 0x4030000: bit 26 */
		       "snp_policy.policy: 0x4030000: bits 26-63 are reserved and must be 0");
	struct snp_policy *p =
		expect_parsed("{\"snp_policy\":{\"policy\":67043328}}"); /* 0x3FF0000 */
	snp_policy_free(p);
}

static void test_strings_and_versions(void **state)
{
	(void)state;
	const char *bad[] = { "\"1\"",     "\"1.\"",  "\".5\"",   "\"1.256\"", "\"256.1\"",
			      "\"1.2.3\"", "\"a.b\"", "\"-1.2\"", "155",       "\"01234567.1\"" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char buf[128];
		snprintf(buf, sizeof(buf), "{\"snp_policy\":{\"minimum_version\":%s}}", bad[i]);
		expect_refused(buf, "snp_policy.minimum_version: want");
	}
	struct snp_policy *p = expect_parsed("{\"snp_policy\":{\"minimum_version\":\"255.255\"}}");
	assert_int_equal(p->minimum_major, 255);
	assert_int_equal(p->minimum_minor, 255);
	snp_policy_free(p);
	expect_refused("{\"snp_policy\":{\"require_id_block\":\"false\"}}",
		       "snp_policy.require_id_block: want true or false");
	expect_refused("{\"snp_policy\":{\"require_author_key\":0}}",
		       "snp_policy.require_author_key: want true or false");
	expect_refused("{\"snp_policy\":{},\"root_of_trust\":{\"check_crl\":1}}",
		       "root_of_trust.check_crl: want true or false");
}

static void test_byte_lengths(void **state)
{
	(void)state;
	struct {
		const char *name;
		size_t size;
	} f[] = { { "family_id", 16 }, { "image_id", 16 },   { "measurement", 48 },
		  { "host_data", 32 }, { "report_id", 32 },  { "report_id_ma", 32 },
		  { "chip_id", 64 },   { "report_data", 64 } };
	uint8_t bytes[65];
	memset(bytes, 0x7e, sizeof(bytes));
	for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
		char buf[512], want[128];
		for (size_t len = f[i].size - 1; len <= f[i].size + 1; len++) {
			char *e = b64(bytes, len);
			snprintf(buf, sizeof(buf), "{\"policy\":{\"%s\":\"%s\"}}", f[i].name, e);
			free(e);
			/* One byte short or long: loads, but present-but-invalid. */
			struct snp_policy *p = expect_parsed(buf);
			char probs[SNP_POLICY_PROBLEMS_BYTES];
			size_t np = snp_policy_problems(p, probs, sizeof(probs));
			if (len == f[i].size) {
				assert_int_equal(np, 0);
			} else {
				snprintf(want, sizeof(want), "policy.%s: want %zu bytes, got %zu",
					 f[i].name, f[i].size, len);
				assert_int_equal(np, 1);
				assert_string_equal(probs, want);
			}
			snp_policy_free(p);
		}
		/* Empty means unchecked. */
		snprintf(buf, sizeof(buf), "{\"policy\":{\"%s\":\"\"}}", f[i].name);
		struct snp_policy *p = expect_parsed(buf);
		assert_int_equal(snp_policy_problems(p, NULL, 0), 0);
		snp_policy_free(p);
		snprintf(buf, sizeof(buf), "{\"policy\":{\"%s\":\"A?==\"}}", f[i].name);
		snprintf(want, sizeof(want), "policy.%s: not base64", f[i].name);
		p = expect_parsed(buf);
		char probs[SNP_POLICY_PROBLEMS_BYTES];
		assert_int_equal(snp_policy_problems(p, probs, sizeof(probs)), 1);
		assert_string_equal(probs, want);
		snp_policy_free(p);
		/* Wrong JSON types stay parse errors. */
		snprintf(buf, sizeof(buf), "{\"policy\":{\"%s\":42}}", f[i].name);
		snprintf(want, sizeof(want), "policy.%s: want a base64 string", f[i].name);
		expect_refused(buf, want);
	}
	/* Unpadded base64 is accepted; padding in the middle is not. */
	struct snp_policy *p =
		expect_parsed("{\"policy\":{\"family_id\":\"AAAAAAAAAAAAAAAAAAAAAA\"}}");
	assert_int_equal(p->family_id.state, SNP_PB_SET);
	snp_policy_free(p);
	p = expect_parsed("{\"policy\":{\"family_id\":\"AA==AAAAAAAAAAAAAAAAAA==\"}}");
	assert_int_equal(p->family_id.state, SNP_PB_INVALID);
	assert_string_equal(p->family_id.why, "not base64");
	snp_policy_free(p);
	p = expect_parsed("{\"policy\":{\"family_id\":\"AAAAA\"}}");
	assert_string_equal(p->family_id.why, "not base64");
	snp_policy_free(p);
	/* Far too long: the length is reported, nothing overflows. */
	char *big = b64((const uint8_t[300]){ 0 }, 300);
	char bigdoc[600];
	snprintf(bigdoc, sizeof(bigdoc), "{\"policy\":{\"chip_id\":\"%s\"}}", big);
	free(big);
	p = expect_parsed(bigdoc);
	assert_string_equal(p->chip_id.why, "want 64 bytes, got 300");
	assert_true(all_zero_bytes(p->chip_id.v, 64));
	snp_policy_free(p);
	expect_refused("{\"policy\":{\"family_id\":{}}}", "policy.family_id: want a base64 string");
	expect_refused("{\"policy\":{\"family_id\":true}}",
		       "policy.family_id: want a base64 string");
	/* Every field invalid at once: all listed, in check order, and the list fits. */
	p = expect_parsed(
		"{\"policy\":{\"report_data\":[1],\"chip_id\":\"!\",\"report_id_ma\":\"AA\","
		"\"report_id\":\"AA\",\"host_data\":\"AA\",\"measurement\":\"AA\","
		"\"image_id\":\"AA\",\"family_id\":\"AA\"}}");
	char probs[SNP_POLICY_PROBLEMS_BYTES];
	assert_int_equal(snp_policy_problems(p, probs, sizeof(probs)), 8);
	assert_string_equal(probs,
			    "policy.family_id: want 16 bytes, got 1; policy.image_id: want 16 "
			    "bytes, got 1; policy.measurement: want 48 bytes, got 1; "
			    "policy.host_data: want 32 bytes, got 1; policy.report_id: want 32 "
			    "bytes, got 1; policy.report_id_ma: want 32 bytes, got 1; "
			    "policy.chip_id: not base64; policy.report_data: want 64 bytes, got "
			    "1");
	struct snp_report r;
	base_report(&r);
	bool pass;
	json_t *v = eval(p, &r, &verdict_ok, &pass);
	assert_false(pass);
	assert_string_equal(failed_checks(v), "family_id,image_id,measurement,host_data,report_id,"
					      "report_id_ma,chip_id,report_data");
	json_decref(v);
	/* The verifier's REPORT_DATA replaces an invalid one: no longer a problem. */
	uint8_t rd[64];
	memcpy(rd, r.report_data, 64);
	assert_int_equal(snp_policy_set_report_data(p, rd), 0);
	assert_int_equal(snp_policy_problems(p, NULL, 0), 7);
	v = eval(p, &r, &verdict_ok, &pass);
	assert_string_equal(check_result(v, "report_data"), "pass");
	json_decref(v);
	snp_policy_free(p);
	/* null = absent */
	p = expect_parsed(
		"{\"policy\":{\"measurement\":null,\"vmpl\":null},\"root_of_trust\":null}");
	assert_int_equal(p->measurement.state, SNP_PB_ABSENT);
	assert_false(p->has_vmpl);
	assert_false(p->has_root_of_trust);
	snp_policy_free(p);
}

static void test_unknown_keys_and_shape(void **state)
{
	(void)state;
	expect_refused("{\"snp_policy\":{\"measurment\":\"\"}}",
		       "snp_policy: unknown key \"measurment\"");
	expect_refused("{\"policy\":{\"allow_debug\":true}}",
		       "policy: unknown key \"allow_debug\"");
	expect_refused("{\"snp_policy\":{},\"root_of_trust\":{\"check_crls\":true}}",
		       "root_of_trust: unknown key \"check_crls\"");
	expect_refused("{\"snp_policy\":{},\"rot\":{}}", "unknown top-level key \"rot\"");
	expect_refused("{\"policy\":{\"product\":{\"nam\":1}}}",
		       "policy.product: unknown key \"nam\"");
	expect_refused("{\"snp_policy\":{},\"policy\":{}}", "both \"snp_policy\" and \"policy\"");
	expect_refused("{\"root_of_trust\":{}}", "no \"snp_policy\"");
	expect_refused("[]", "the policy must be a JSON object");
	expect_refused("{\"snp_policy\":[]}", "snp_policy: want an object");
	expect_refused("{\"snp_policy\":{\"vmpl\":0,\"vmpl\":1}}", "invalid JSON");
	expect_refused("{\"snp_policy\":{}", "invalid JSON at line 1");
	expect_refused("{\"snp_policy\":{}} x", "invalid JSON");
	expect_refused("", "invalid JSON");
	expect_refused("{\"snp_policy\":{\"\\u0000\":1}}", "invalid JSON");
	/* A control character in an unknown key is not echoed raw. */
	expect_refused("{\"snp_policy\":{\"a\\nb\":1}}", "unknown key \"a?b\"");
	/* Top-level extras. */
	struct snp_policy *p = expect_parsed("{\"policy\":{},\"pcr_values\":null,"
					     "\"allow_unattested\":true}");
	assert_true(p->allow_unattested);
	snp_policy_free(p);
	expect_refused("{\"policy\":{},\"allow_unattested\":1}", "allow_unattested: want true");
	expect_refused("{\"policy\":{},\"pcr_values\":[]}", "pcr_values: want an object");
	/* Unsupported lists: only empty. */
	p = expect_parsed("{\"policy\":{\"trusted_author_keys\":[],\"trusted_id_keys\":[]},"
			  "\"root_of_trust\":{\"cabundles\":[],\"cabundle_paths\":[]}}");
	snp_policy_free(p);
	expect_refused("{\"policy\":{\"trusted_id_keys\":[\"AA==\"]}}",
		       "policy.trusted_id_keys: not supported");
	expect_refused("{\"policy\":{},\"root_of_trust\":{\"cabundle_paths\":[\"/x\"]}}",
		       "root_of_trust.cabundle_paths: not supported");
}

static void test_products(void **state)
{
	(void)state;
	struct snp_policy *p =
		expect_parsed("{\"policy\":{\"product\":{\"name\":\"SEV_PRODUCT_TURIN\","
			      "\"machine_stepping\":{\"value\":1}}}}");
	assert_int_equal(p->product, SNP_PRODUCT_TURIN);
	assert_true(p->has_machine_stepping);
	assert_int_equal(p->machine_stepping, 1);
	snp_policy_free(p);
	p = expect_parsed("{\"policy\":{},\"root_of_trust\":{\"product\":\"Genoa-B1\"}}");
	assert_int_equal(p->product, SNP_PRODUCT_GENOA);
	snp_policy_free(p);
	p = expect_parsed(
		"{\"policy\":{\"product\":{\"name\":0}},\"root_of_trust\":{\"product\":\"\"}}");
	assert_int_equal(p->product, SNP_PRODUCT_UNKNOWN);
	snp_policy_free(p);
	expect_refused("{\"policy\":{},\"root_of_trust\":{\"product\":\"milan\"}}",
		       "root_of_trust.product: unknown product \"milan\"");
	expect_refused("{\"policy\":{},\"root_of_trust\":{\"product_line\":\"Milan-B0\"}}",
		       "root_of_trust.product_line: unknown product");
	expect_refused("{\"policy\":{\"product\":{\"name\":4}}}", "policy.product.name: ");
	expect_refused("{\"policy\":{\"product\":{\"name\":\"MILAN\"}}}", "policy.product.name: ");
	expect_refused("{\"policy\":{\"product\":{\"name\":1}},\"root_of_trust\":{\"product_line\":"
		       "\"Genoa\"}}",
		       "root_of_trust.product_line: Genoa contradicts policy.product.name (Milan)");
	expect_refused(
		"{\"snp_policy\":{},\"root_of_trust\":{\"product_line\":\"Milan\","
		"\"product\":\"Turin\"}}",
		"root_of_trust.product: Turin contradicts root_of_trust.product_line (Milan)");
}

static void test_key_hash_lists(void **state)
{
	(void)state;
	uint8_t h[48];
	memset(h, 0x9c, sizeof(h));
	char *e = b64(h, 48);
	/* SNP_POLICY_MAX_KEY_HASHES entries accepted, one more refused. */
	static char buf[16384];
	for (int n = SNP_POLICY_MAX_KEY_HASHES; n <= SNP_POLICY_MAX_KEY_HASHES + 1; n++) {
		size_t o = (size_t)snprintf(buf, sizeof(buf),
					    "{\"policy\":{\"trusted_id_key_hashes\":[");
		for (int i = 0; i < n; i++)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s\"%s\"", i ? "," : "",
					      e);
		snprintf(buf + o, sizeof(buf) - o, "]}}");
		if (n == SNP_POLICY_MAX_KEY_HASHES) {
			struct snp_policy *p = expect_parsed(buf);
			assert_int_equal(p->n_trusted_id_key_hashes, n);
			assert_memory_equal(p->trusted_id_key_hashes[n - 1], h, 48);
			snp_policy_free(p);
		} else {
			expect_refused(buf,
				       "policy.trusted_id_key_hashes: 65 entries, the limit is 64");
		}
	}
	char b2[512];
	snprintf(b2, sizeof(b2), "{\"policy\":{\"trusted_author_key_hashes\":[\"%s\",\"AAAA\"]}}",
		 e);
	expect_refused(b2, "policy.trusted_author_key_hashes[1]: want 48 bytes, got 3");
	char *z = b64((const uint8_t[48]){ 0 }, 48);
	snprintf(b2, sizeof(b2), "{\"policy\":{\"trusted_id_key_hashes\":[\"%s\"]}}", z);
	expect_refused(b2, "policy.trusted_id_key_hashes[0]: all zero");
	expect_refused("{\"policy\":{\"trusted_id_key_hashes\":[\"\"]}}",
		       "policy.trusted_id_key_hashes[0]: empty");
	expect_refused("{\"policy\":{\"trusted_id_key_hashes\":\"x\"}}",
		       "policy.trusted_id_key_hashes: want an array");
	free(z);
	free(e);
}

static void test_size_limit(void **state)
{
	(void)state;
	const char *core = "{\"snp_policy\":{\"vmpl\":1}}";
	char *buf = malloc(SNP_POLICY_MAX_BYTES + 2);
	assert_non_null(buf);
	size_t cl = strlen(core);
	memset(buf, ' ', SNP_POLICY_MAX_BYTES + 1);
	memcpy(buf, core, cl);
	char err[SNP_POLICY_ERR_BYTES];
	struct snp_policy *p = snp_policy_parse(buf, SNP_POLICY_MAX_BYTES, err, sizeof(err));
	assert_non_null(p);
	assert_int_equal(p->vmpl, 1);
	snp_policy_free(p);
	errno = 0;
	p = snp_policy_parse(buf, SNP_POLICY_MAX_BYTES + 1, err, sizeof(err));
	assert_null(p);
	assert_int_equal(errno, E2BIG);
	assert_non_null(strstr(err, "the limit is 65536"));
	free(buf);
	assert_null(snp_policy_parse(NULL, 0, err, sizeof(err)));
	/* A tiny err buffer is NUL-terminated, not overrun. */
	char small[8];
	memset(small, 'x', sizeof(small));
	assert_null(snp_policy_parse("{}", 2, small, sizeof(small)));
	assert_int_equal(small[7], '\0');
	assert_null(snp_policy_parse("{}", 2, NULL, 0));
}

/* ------------------------------------------------------------------------------------------ */
/* Evaluation with a hand-built report */

/* Matches base_report in every field. */
static char *full_policy(void)
{
	uint8_t m[48], hd[32], rid[32], rma[32], chip[64], rd[64], z16[16] = { 0 };
	memset(m, 0xab, 48);
	memset(hd, 0x11, 32);
	memset(rid, 0x22, 32);
	memset(rma, 0xff, 32);
	memset(chip, 0x33, 64);
	memset(rd, 0x44, 64);
	char *em = b64(m, 48), *ehd = b64(hd, 32), *erid = b64(rid, 32), *erma = b64(rma, 32),
	     *echip = b64(chip, 64), *erd = b64(rd, 64), *ez = b64(z16, 16);
	char *out = malloc(4096);
	assert_non_null(out);
	snprintf(out, 4096,
		 "{\"snp_policy\":{\"policy\":196608,\"minimum_guest_svn\":4,\"family_id\":\"%s\","
		 "\"image_id\":\"%s\",\"measurement\":\"%s\",\"host_data\":\"%s\","
		 "\"report_id\":\"%s\",\"report_id_ma\":\"%s\",\"chip_id\":\"%s\","
		 "\"report_data\":\"%s\",\"minimum_tcb\":8288875114175397891,"
		 "\"minimum_launch_tcb\":\"0x7308000000000003\",\"minimum_build\":4,"
		 "\"minimum_version\":\"1.52\",\"permit_provisional_firmware\":false,"
		 "\"vmpl\":{\"value\":0},\"platform_info\":1,\"require_author_key\":false,"
		 "\"require_id_block\":false},"
		 "\"root_of_trust\":{\"product\":\"Milan\",\"check_crl\":true}}",
		 ez, ez, em, ehd, erid, erma, echip, erd);
	free(em);
	free(ehd);
	free(erid);
	free(erma);
	free(echip);
	free(erd);
	free(ez);
	return out;
}

static const char *const all_checks[] = {
	"signature_and_chain",
	"product",
	"debug",
	"migration_agent",
	"policy",
	"guest_svn",
	"family_id",
	"image_id",
	"measurement",
	"host_data",
	"report_id",
	"report_id_ma",
	"chip_id",
	"report_data",
	"minimum_tcb",
	"minimum_launch_tcb",
	"minimum_build",
	"minimum_version",
	"provisional_firmware",
	"vmpl",
	"platform_info",
	"author_key",
	"id_block",
};

static void test_eval_full_policy_passes(void **state)
{
	(void)state;
	struct snp_report r;
	base_report(&r);
	char *pol = full_policy();
	struct snp_policy *p = expect_parsed(pol);
	bool pass = false;
	json_t *v = eval(p, &r, &verdict_ok, &pass);
	assert_true(pass);
	json_t *checks = json_object_get(v, "checks");
	assert_int_equal(json_array_size(checks), ARRAY_SIZE(all_checks));
	for (size_t i = 0; i < ARRAY_SIZE(all_checks); i++) {
		json_t *c = json_array_get(checks, i);
		assert_string_equal(json_string_value(json_object_get(c, "name")), all_checks[i]);
		const char *want = strcmp(all_checks[i], "author_key") == 0 ||
						   strcmp(all_checks[i], "id_block") == 0
					   ? "skipped"
					   : "pass";
		if (strcmp(json_string_value(json_object_get(c, "result")), want) != 0)
			fail_msg("%s: %s (%s)", all_checks[i],
				 json_string_value(json_object_get(c, "result")),
				 json_string_value(json_object_get(c, "detail")));
		assert_non_null(json_object_get(c, "detail"));
	}
	assert_string_equal(check_field(v, "measurement", "expected"),
			    "ababababababababababababababababababababababababababababababababababab"
			    "ababababababababababababab");
	assert_string_equal(check_field(v, "minimum_tcb", "actual"), "0x7308000000000003");
	json_decref(v);
	snp_policy_free(p);
	free(pol);
}

/* The i-th report change of test_eval_each_check_fails. */
static void mutate(size_t i, struct snp_report *r)
{
	switch (i) {
	case 0:
		r->cpuid_mod_id = 0x11;
		break; /* Genoa */
	case 1:
		r->policy |= SNP_POLICY_DEBUG;
		break;
	case 2:
		r->policy |= SNP_POLICY_MIGRATE_MA;
		break;
	case 3:
		r->policy = (r->policy & ~SNP_POLICY_SMT) | SNP_POLICY_CXL_ALLOW;
		break;
	case 4:
		r->guest_svn = 3;
		break;
	case 5:
		r->family_id[15] = 1;
		break;
	case 6:
		r->image_id[0] = 0x80;
		break;
	case 7:
		r->measurement[47] ^= 1;
		break;
	case 8:
		r->host_data[0] ^= 1;
		break;
	case 9:
		r->report_id[5] ^= 1;
		break;
	case 10:
		r->report_id_ma[31] = 0xfe;
		break;
	case 11:
		r->chip_id[63] ^= 1;
		break;
	case 12:
		r->report_data[0] ^= 1;
		break;
	case 13:
		r->reported_tcb = 0x7208000000000003ull;
		break;
	case 14:
		r->launch_tcb = 0x7308000000000002ull;
		break;
	case 15:
		r->current_build = r->committed_build = 3;
		break;
	case 16:
		r->current_minor = r->committed_minor = 51;
		break;
	case 17:
		r->committed_tcb = 0x7307000000000003ull;
		break;
	case 18:
		r->vmpl = 2;
		break;
	case 19:
		r->platform_info |= SNP_PLATFORM_TSME_EN;
		break;
	default:
		fail_msg("no mutation %zu", i);
	}
}

/* Each report change fails exactly the check it concerns. */
static void test_eval_each_check_fails(void **state)
{
	(void)state;
	char *pol = full_policy();
	static const char *const names[] = {
		"product",       "debug",           "migration_agent",
		"policy",        "guest_svn",       "family_id",
		"image_id",      "measurement",     "host_data",
		"report_id",     "report_id_ma",    "chip_id",
		"report_data",   "minimum_tcb",     "minimum_launch_tcb",
		"minimum_build", "minimum_version", "provisional_firmware",
		"vmpl",          "platform_info",
	};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct snp_report r;
		base_report(&r);
		mutate(i, &r);
		const char *f = fails_of(pol, &r, &verdict_ok);
		if (strcmp(f, names[i]) != 0)
			fail_msg("mutation for %s failed [%s]", names[i], f);
	}
	/* The chain verdict is the first check. */
	struct snp_report r;
	base_report(&r);
	struct snp_verdict bad = { SNP_ERR_BAD_SIGNATURE, "report signature does not verify",
				   SNP_PRODUCT_MILAN, SNP_SIGNER_VCEK };
	struct snp_policy *p = expect_parsed(pol);
	bool pass = true;
	json_t *v = eval(p, &r, &bad, &pass);
	assert_false(pass);
	assert_string_equal(failed_checks(v), "signature_and_chain");
	assert_string_equal(check_field(v, "signature_and_chain", "actual"), "bad_signature");
	assert_non_null(strstr(check_field(v, "signature_and_chain", "detail"), "does not verify"));
	json_decref(v);
	/* No verdict: skipped, the rest still decides. */
	v = eval(p, &r, NULL, &pass);
	assert_true(pass);
	assert_string_equal(check_result(v, "signature_and_chain"), "skipped");
	json_decref(v);
	snp_policy_free(p);
	free(pol);
}

static void test_eval_absent_means_skipped(void **state)
{
	(void)state;
	struct snp_report r;
	base_report(&r);
	struct snp_policy *p = expect_parsed("{\"snp_policy\":{}}");
	bool pass = false;
	json_t *v = eval(p, &r, NULL, &pass);
	assert_true(pass);
	for (size_t i = 0; i < ARRAY_SIZE(all_checks); i++) {
		const char *want = strcmp(all_checks[i], "debug") == 0 ||
						   strcmp(all_checks[i], "migration_agent") == 0
					   ? "pass"
					   : "skipped";
		assert_string_equal(check_result(v, all_checks[i]), want);
	}
	json_decref(v);
	/* Empty byte values are skipped too; zeros are enforced. */
	const char *pol = "{\"policy\":{\"measurement\":\"\",\"host_data\":[]}}";
	assert_string_equal(result_of(pol, &r, "measurement"), "skipped");
	assert_string_equal(result_of(pol, &r, "host_data"), "skipped");
	char buf[256];
	char *z = b64((const uint8_t[32]){ 0 }, 32);
	snprintf(buf, sizeof(buf), "{\"policy\":{\"host_data\":\"%s\"}}", z);
	assert_string_equal(result_of(buf, &r, "host_data"), "fail");
	memset(r.host_data, 0, 32);
	assert_string_equal(result_of(buf, &r, "host_data"), "pass");
	free(z);
	/* Zero minimums are enforced (and pass). */
	assert_string_equal(result_of("{\"policy\":{\"minimum_tcb\":0,\"minimum_build\":0}}", &r,
				      "minimum_tcb"),
			    "pass");
	snp_policy_free(p);
}

static void test_eval_debug_and_migration(void **state)
{
	(void)state;
	struct snp_report r;
	base_report(&r);
	r.policy |= SNP_POLICY_DEBUG;
	/* Refused with no policy field at all... */
	assert_string_equal(fails_of("{\"snp_policy\":{}}", &r, NULL), "debug");
	/* ...and with a policy field that does not set the bit. */
	assert_string_equal(fails_of("{\"snp_policy\":{\"policy\":196608}}", &r, NULL), "debug");
	/* Allowed by the policy's DEBUG bit (0xB0000). */
	assert_string_equal(fails_of("{\"snp_policy\":{\"policy\":720896}}", &r, NULL), "");
	base_report(&r);
	r.policy |= SNP_POLICY_MIGRATE_MA;
	assert_string_equal(fails_of("{\"snp_policy\":{}}", &r, NULL), "migration_agent");
	/* Cocos v0.3's 0x1E0001 allows both (and requires SINGLE_SOCKET, forbids SMT). */
	r.policy = 0x1E0000 | SNP_POLICY_DEBUG;
	assert_string_equal(fails_of("{\"snp_policy\":{\"policy\":1966081}}", &r, NULL), "policy");
	r.policy = 0x1E0001;
	assert_string_equal(fails_of("{\"snp_policy\":{\"policy\":1966081}}", &r, NULL), "");
}

static void test_eval_policy_maximum(void **state)
{
	(void)state;
	struct snp_report r;
	base_report(&r);
	/* ABI version: policy 1.2 needs report >= 1.2. */
	const char *abi = "{\"policy\":{\"policy\":\"0x30102\"}}";
	r.policy = 0x30101;
	assert_string_equal(fails_of(abi, &r, NULL), "policy");
	r.policy = 0x30102;
	assert_string_equal(fails_of(abi, &r, NULL), "");
	r.policy = 0x30200;
	assert_string_equal(fails_of(abi, &r, NULL), "");
	/* SMT and CXL_ALLOW: a maximum. */
	r.policy = 0x30000;
	assert_string_equal(fails_of("{\"policy\":{\"policy\":\"0x20000\"}}", &r, NULL), "policy");
	r.policy = 0x20000;
	assert_string_equal(fails_of("{\"policy\":{\"policy\":\"0x30000\"}}", &r, NULL), "");
	r.policy = 0x220000;
	assert_string_equal(fails_of("{\"policy\":{\"policy\":\"0x20000\"}}", &r, NULL), "policy");
	assert_string_equal(fails_of("{\"policy\":{\"policy\":\"0x220000\"}}", &r, NULL), "");
	/* The required bits. */
	const uint64_t req[] = { SNP_POLICY_SINGLE_SOCKET, SNP_POLICY_MEM_AES_256_XTS,
				 SNP_POLICY_RAPL_DIS, SNP_POLICY_CIPHERTEXT_HIDING,
				 SNP_POLICY_PAGE_SWAP_DISABLE };
	for (size_t i = 0; i < ARRAY_SIZE(req); i++) {
		char pol[128];
		snprintf(pol, sizeof(pol), "{\"policy\":{\"policy\":\"0x%llx\"}}",
			 (unsigned long long)(0x20000 | req[i]));
		r.policy = 0x20000;
		assert_string_equal(fails_of(pol, &r, NULL), "policy");
		r.policy = 0x20000 | req[i];
		assert_string_equal(fails_of(pol, &r, NULL), "");
	}
	/* The detail names the offending bits. */
	r.policy = 0x230000;
	struct snp_policy *p = expect_parsed("{\"policy\":{\"policy\":\"0x120000\"}}");
	bool pass;
	json_t *v = eval(p, &r, NULL, &pass);
	const char *d = check_field(v, "policy", "detail");
	assert_non_null(strstr(d, "SMT, CXL_ALLOW"));
	assert_non_null(strstr(d, "SINGLE_SOCKET"));
	json_decref(v);
	snp_policy_free(p);
}

static void test_eval_tcb(void **state)
{
	(void)state;
	struct snp_report r;
	base_report(&r); /* bl 3, tee 0, snp 8, ucode 0x73 */
	/* Per component: a higher microcode does not make up for a lower SNP. */
	const char *pol = "{\"policy\":{\"minimum_tcb\":\"0x7209000000000003\"}}";
	assert_string_equal(fails_of(pol, &r, NULL), "minimum_tcb");
	struct snp_policy *p = expect_parsed(pol);
	bool pass;
	json_t *v = eval(p, &r, NULL, &pass);
	assert_non_null(strstr(check_field(v, "minimum_tcb", "detail"), "snp 9 vs 8"));
	json_decref(v);
	snp_policy_free(p);
	/* Reserved bytes 2-5 are not compared. */
	assert_string_equal(
		fails_of("{\"policy\":{\"minimum_tcb\":\"0x73080000ffff0003\"}}", &r, NULL), "");
	/* Turin layout: byte 0 FMC, 1 bootloader, 2 TEE, 3 SNP, 7 microcode. */
	r.cpuid_fam_id = 0x1a;
	r.cpuid_mod_id = 0x02;
	r.reported_tcb = 0x4800000016030201ull; /* fmc 1, bl 2, tee 3, snp 0x16, ucode 0x48 */
	const char *turin = "{\"policy\":{\"minimum_tcb\":\"0x4800000016030201\",\"product\":{"
			    "\"name\":3}}}";
	assert_string_equal(fails_of(turin, &r, NULL), "");
	/* With the Milan layout the same minimum would be read differently and fail. */
	r.reported_tcb = 0x4800000016030202ull; /* higher FMC: still fine */
	assert_string_equal(fails_of(turin, &r, NULL), "");
	r.reported_tcb = 0x4800000016030200ull; /* FMC 0 < 1 */
	assert_string_equal(fails_of(turin, &r, NULL), "minimum_tcb");
	/* Product from the report when the policy has none. */
	assert_string_equal(
		fails_of("{\"policy\":{\"minimum_tcb\":\"0x4800000016030201\"}}", &r, NULL),
		"minimum_tcb");
	/* Launch TCB likewise. */
	base_report(&r);
	r.launch_tcb = 0x7308000000000002ull;
	assert_string_equal(
		fails_of("{\"policy\":{\"minimum_launch_tcb\":\"0x7308000000000003\"}}", &r, NULL),
		"minimum_launch_tcb");
}

static void test_eval_provisional(void **state)
{
	(void)state;
	struct snp_report r;
	base_report(&r);
	const char *strict = "{\"policy\":{\"permit_provisional_firmware\":false}}";
	const char *prov = "{\"policy\":{\"permit_provisional_firmware\":true}}";
	assert_string_equal(fails_of(strict, &r, NULL), "");
	assert_string_equal(fails_of(prov, &r, NULL), "");
	/* Committed below current: only with provisional firmware permitted. */
	r.committed_build = 3;
	assert_string_equal(fails_of(strict, &r, NULL), "provisional_firmware");
	assert_string_equal(fails_of(prov, &r, NULL), "");
	base_report(&r);
	r.committed_minor = 51;
	assert_string_equal(fails_of(strict, &r, NULL), "provisional_firmware");
	assert_string_equal(fails_of(prov, &r, NULL), "");
	base_report(&r);
	r.committed_tcb = 0x7208000000000003ull;
	assert_string_equal(fails_of(strict, &r, NULL), "provisional_firmware");
	assert_string_equal(fails_of(prov, &r, NULL), "");
	/* Committed above current fails both. */
	r.committed_tcb = 0x7408000000000003ull;
	assert_string_equal(fails_of(prov, &r, NULL), "provisional_firmware");
	base_report(&r);
	r.committed_build = 5;
	assert_string_equal(fails_of(prov, &r, NULL), "provisional_firmware");
	base_report(&r);
	r.committed_major = 2;
	assert_string_equal(fails_of(prov, &r, NULL), "provisional_firmware");
	/* Absent: skipped, whatever the committed values. */
	base_report(&r);
	r.committed_build = 1;
	assert_string_equal(result_of("{\"policy\":{}}", &r, "provisional_firmware"), "skipped");
}

static void test_eval_platform_info(void **state)
{
	(void)state;
	struct snp_report r;
	base_report(&r);
	r.platform_info = SNP_PLATFORM_SMT_EN | SNP_PLATFORM_TSME_EN;
	assert_string_equal(fails_of("{\"policy\":{\"platform_info\":1}}", &r, NULL),
			    "platform_info");
	assert_string_equal(fails_of("{\"policy\":{\"platform_info\":3}}", &r, NULL), "");
	/* A bit this code does not know is a maximum too. */
	r.platform_info = 1ull << 7;
	assert_string_equal(fails_of("{\"policy\":{\"platform_info\":0}}", &r, NULL),
			    "platform_info");
	/* ECC_EN, RAPL_DIS, CIPHERTEXT_HIDING_EN, ALIAS_CHECK_COMPLETE: required when set. */
	const uint64_t req[] = { SNP_PLATFORM_ECC_EN, SNP_PLATFORM_RAPL_DIS,
				 SNP_PLATFORM_CIPHERTEXT_HIDING_EN,
				 SNP_PLATFORM_ALIAS_CHECK_COMPLETE };
	for (size_t i = 0; i < ARRAY_SIZE(req); i++) {
		char pol[96];
		snprintf(pol, sizeof(pol), "{\"policy\":{\"platform_info\":%llu}}",
			 (unsigned long long)req[i]);
		r.platform_info = 0;
		assert_string_equal(fails_of(pol, &r, NULL), "platform_info");
		r.platform_info = req[i];
		assert_string_equal(fails_of(pol, &r, NULL), "");
		/* Set in the report but not in the policy: fine. */
		assert_string_equal(fails_of("{\"policy\":{\"platform_info\":0}}", &r, NULL), "");
	}
}

static void test_eval_keys(void **state)
{
	(void)state;
	struct snp_report r;
	base_report(&r);
	uint8_t id[48], au[48];
	memset(id, 0x61, 48);
	memset(au, 0x62, 48);
	char *eid = b64(id, 48), *eau = b64(au, 48);
	char by_id[512], by_author[512], need_author[512];
	snprintf(by_id, sizeof(by_id),
		 "{\"policy\":{\"require_id_block\":true,\"trusted_id_key_hashes\":[\"%s\"]}}",
		 eid);
	snprintf(by_author, sizeof(by_author),
		 "{\"policy\":{\"require_id_block\":true,\"trusted_author_key_hashes\":[\"%s\"]}}",
		 eau);
	snprintf(need_author, sizeof(need_author),
		 "{\"policy\":{\"require_author_key\":true,\"trusted_author_key_hashes\":[\"%s\"],"
		 "\"trusted_id_key_hashes\":[\"%s\"]}}",
		 eau, eid);
	/* No ID block in the report (zero digest). */
	assert_string_equal(fails_of(by_id, &r, NULL), "id_block");
	assert_string_equal(fails_of(need_author, &r, NULL), "author_key,id_block");
	memcpy(r.id_key_digest, id, 48);
	assert_string_equal(fails_of(by_id, &r, NULL), "");
	assert_string_equal(fails_of(by_author, &r, NULL), "id_block");
	/* Trusted through the author key, which needs AUTHOR_KEY_EN. */
	memset(r.id_key_digest, 0x70, 48);
	memcpy(r.author_key_digest, au, 48);
	assert_string_equal(fails_of(by_author, &r, NULL), "id_block");
	r.flags |= 1;
	assert_string_equal(fails_of(by_author, &r, NULL), "");
	assert_string_equal(fails_of(need_author, &r, NULL), "");
	/* Author key required: AUTHOR_KEY_EN must be 1 and the digest trusted. */
	r.flags &= ~1u;
	assert_string_equal(fails_of(need_author, &r, NULL), "author_key,id_block");
	r.flags |= 1;
	r.author_key_digest[0] ^= 1;
	assert_string_equal(fails_of(need_author, &r, NULL), "author_key,id_block");
	memcpy(r.id_key_digest, id, 48); /* ID key trusted directly, author still required */
	assert_string_equal(fails_of(need_author, &r, NULL), "author_key");
	/* false = skipped. */
	assert_string_equal(
		result_of("{\"policy\":{\"require_author_key\":false}}", &r, "author_key"),
		"skipped");
	free(eid);
	free(eau);
}

static void test_eval_report_data_override(void **state)
{
	(void)state;
	struct snp_report r;
	base_report(&r);
	uint8_t rd[64];
	memset(rd, 0x44, 64);
	struct snp_policy *p = expect_parsed("{\"policy\":{}}");
	assert_int_equal(snp_policy_set_report_data(p, rd), 0);
	assert_int_equal(snp_policy_set_report_data(NULL, rd), -EINVAL);
	bool pass;
	json_t *v = eval(p, &r, NULL, &pass);
	assert_true(pass);
	assert_string_equal(check_result(v, "report_data"), "pass");
	assert_non_null(strstr(check_field(v, "report_data", "detail"), "from the verifier"));
	json_decref(v);
	r.report_data[63] ^= 1;
	v = eval(p, &r, NULL, &pass);
	assert_false(pass);
	assert_string_equal(failed_checks(v), "report_data");
	json_decref(v);
	snp_policy_free(p);
	/* It overrides the file's value. */
	char *other = b64((const uint8_t[64]){ 1 }, 64);
	char buf[256];
	snprintf(buf, sizeof(buf), "{\"policy\":{\"report_data\":\"%s\"}}", other);
	p = expect_parsed(buf);
	r.report_data[63] ^= 1;
	v = eval(p, &r, NULL, &pass);
	assert_false(pass);
	json_decref(v);
	snp_policy_set_report_data(p, rd);
	v = eval(p, &r, NULL, &pass);
	assert_true(pass);
	json_decref(v);
	snp_policy_free(p);
	free(other);
	assert_null(snp_policy_evaluate(NULL, &r, NULL, &pass));
	assert_false(pass);
}

static void test_eval_product(void **state)
{
	(void)state;
	struct snp_report r;
	base_report(&r);
	const char *genoa = "{\"policy\":{},\"root_of_trust\":{\"product\":\"Genoa\"}}";
	/* From the report's CPUID (v3+). */
	assert_string_equal(fails_of(genoa, &r, NULL), "product");
	r.cpuid_mod_id = 0xa0; /* Siena: Genoa certificates */
	assert_string_equal(fails_of(genoa, &r, NULL), "");
	/* v2 and no chain: unknown, skipped. */
	r.version = 2;
	assert_string_equal(result_of(genoa, &r, "product"), "skipped");
	/* The chain's product decides when known. */
	assert_string_equal(fails_of(genoa, &r, &verdict_ok), "product");
	/* The chain and the CPUID disagree: fail even without a policy product. */
	r.version = 3;
	r.cpuid_mod_id = 0x11;
	assert_string_equal(fails_of("{\"policy\":{}}", &r, &verdict_ok), "product");
	/* Stepping. */
	base_report(&r);
	const char *step = "{\"policy\":{\"product\":{\"name\":1,\"machine_stepping\":1}}}";
	assert_string_equal(fails_of(step, &r, NULL), "");
	r.cpuid_step = 0;
	assert_string_equal(fails_of(step, &r, NULL), "product");
}

/* ------------------------------------------------------------------------------------------ */
/* Real report: testdata/snp/valid/milan_virtee */

static char *testdata_path(const char *rel)
{
	const char *td = getenv("TESTDATA");
	const char *src = getenv("SRCDIR");
	char *p = malloc(PATH_MAX);
	assert_non_null(p);
	if (td)
		snprintf(p, PATH_MAX, "%s/%s", td, rel);
	else
		snprintf(p, PATH_MAX, "%s/../shared/testdata/%s", src ? src : ".", rel);
	return p;
}

static char *read_testdata(const char *rel, size_t max, size_t *len)
{
	char *path = testdata_path(rel);
	char *buf = NULL;
	int rc = fsx_read_file(path, max, &buf, len);
	if (rc < 0)
		fail_msg("%s: %s (set TESTDATA or SRCDIR)", path, strerror(-rc));
	free(path);
	return buf;
}

/* Reads a report with the report parser (snp.c). */
static void load_report(const char *rel, struct snp_report *r)
{
	size_t len = 0;
	char *buf = read_testdata(rel, 4096, &len);
	char err[256];
	if (snp_report_parse((const uint8_t *)buf, len, r, err, sizeof(err)) != 0)
		fail_msg("%s: %s", rel, err);
	free(buf);
}

/* A policy pinning every field of r; override (field, JSON value) replaces one member. */
static char *policy_for(const struct snp_report *r, const char *ofield, const char *ovalue)
{
	json_t *o = json_object();
	char *e;
#define SETB(name, field, n)                                                                       \
	e = b64(r->field, n);                                                                      \
	json_object_set_new(o, name, json_string(e));                                              \
	free(e)
	SETB("family_id", family_id, 16);
	SETB("image_id", image_id, 16);
	SETB("measurement", measurement, 48);
	SETB("host_data", host_data, 32);
	SETB("report_id", report_id, 32);
	SETB("report_id_ma", report_id_ma, 32);
	SETB("chip_id", chip_id, 64);
	SETB("report_data", report_data, 64);
#undef SETB
	char tmp[40];
	snprintf(tmp, sizeof(tmp), "0x%llx", (unsigned long long)r->policy);
	json_object_set_new(o, "policy", json_string(tmp));
	json_object_set_new(o, "minimum_guest_svn", json_integer(r->guest_svn));
	snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)r->reported_tcb);
	json_object_set_new(o, "minimum_tcb", json_string(tmp));
	snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)r->launch_tcb);
	json_object_set_new(o, "minimum_launch_tcb", json_string(tmp));
	json_object_set_new(o, "minimum_build", json_integer(r->current_build));
	snprintf(tmp, sizeof(tmp), "%u.%u", r->current_major, r->current_minor);
	json_object_set_new(o, "minimum_version", json_string(tmp));
	json_object_set_new(o, "permit_provisional_firmware", json_false());
	json_object_set_new(o, "vmpl", json_pack("{s:i}", "value", (int)r->vmpl));
	json_object_set_new(o, "platform_info", json_integer((json_int_t)r->platform_info));
	json_object_set_new(o, "require_author_key", json_false());
	json_object_set_new(o, "require_id_block", json_false());
	json_t *rot = json_pack("{s:s,s:b,s:b}", "product", "Milan", "check_crl", 1,
				"disallow_network", 0);
	if (ofield) {
		json_error_t je;
		json_t *v = json_loads(ovalue, JSON_DECODE_ANY, &je);
		assert_non_null(v);
		if (strcmp(ofield, "product") == 0)
			json_object_set_new(rot, "product", v);
		else
			json_object_set_new(o, ofield, v);
	}
	json_t *root = json_pack("{s:o,s:o}", "snp_policy", o, "root_of_trust", rot);
	char *s = json_dumps(root, JSON_INDENT(2));
	json_decref(root);
	assert_non_null(s);
	return s;
}

static void test_milan_virtee_policy(void **state)
{
	(void)state;
	struct snp_report r;
	load_report("snp/valid/milan_virtee/report.bin", &r);
	assert_int_equal(r.version, 2);
	assert_int_equal(r.policy, 0x30000);
	assert_int_equal(r.reported_tcb, 0x7308000000000003ull);

	/* The real chain verdict (VCEK valid 2023-04-03..2030-04-03; the clock is pinned). */
	size_t vl, cl;
	char *vcek = read_testdata("snp/valid/milan_virtee/vcek.der", 65536, &vl);
	char *chain = read_testdata("snp/valid/milan_virtee/ask_ark.pem", 65536, &cl);
	struct snp_chain_opts o = { .leaf = (const uint8_t *)vcek,
				    .leaf_len = vl,
				    .chain = (const uint8_t *)chain,
				    .chain_len = cl,
				    .now = 1735689600 /* 2025-01-01 */ };
	struct snp_verdict cv;
	memset(&cv, 0, sizeof(cv));
	if (snp_verify(&r, &o, &cv) != 0)
		fail_msg("milan_virtee does not verify: %s", cv.detail);
	assert_int_equal(cv.product, SNP_PRODUCT_MILAN);
	free(vcek);
	free(chain);

	char *pol = policy_for(&r, NULL, NULL);
	struct snp_policy *p = expect_parsed(pol);
	bool pass = false;
	json_t *v = eval(p, &r, &cv, &pass);
	if (!pass)
		fail_msg("milan_virtee: failed checks %s", failed_checks(v));
	assert_string_equal(check_result(v, "product"), "pass");
	assert_string_equal(check_result(v, "id_block"), "skipped");
	json_decref(v);
	snp_policy_free(p);
	free(pol);

	/* Flip each field of the policy: exactly that check fails. */
	char m[80], hd[64], rid[64], chip[100], rd[100], fam[40];
	uint8_t b[64];
	memcpy(b, r.measurement, 48);
	b[0] ^= 1;
	char *e = b64(b, 48);
	snprintf(m, sizeof(m), "\"%s\"", e);
	free(e);
	memcpy(b, r.host_data, 32);
	b[31] ^= 0x80;
	e = b64(b, 32);
	snprintf(hd, sizeof(hd), "\"%s\"", e);
	free(e);
	memcpy(b, r.report_id, 32);
	b[7] ^= 2;
	e = b64(b, 32);
	snprintf(rid, sizeof(rid), "\"%s\"", e);
	free(e);
	memcpy(b, r.chip_id, 64);
	b[0] ^= 1;
	e = b64(b, 64);
	snprintf(chip, sizeof(chip), "\"%s\"", e);
	free(e);
	memcpy(b, r.report_data, 64);
	b[63] ^= 1;
	e = b64(b, 64);
	snprintf(rd, sizeof(rd), "\"%s\"", e);
	free(e);
	memcpy(b, r.family_id, 16);
	b[0] ^= 1;
	e = b64(b, 16);
	snprintf(fam, sizeof(fam), "\"%s\"", e);
	free(e);
	char tcb[40], ltcb[40], ver[16], build[8], svn[8], vmpl[24];
	snprintf(tcb, sizeof(tcb), "\"0x%llx\"",
		 (unsigned long long)(r.reported_tcb + (1ull << 56)));
	snprintf(ltcb, sizeof(ltcb), "\"0x%llx\"", (unsigned long long)(r.launch_tcb + 1));
	snprintf(ver, sizeof(ver), "\"%u.%u\"", r.current_major, r.current_minor + 1);
	snprintf(build, sizeof(build), "%u", r.current_build + 1);
	snprintf(svn, sizeof(svn), "%u", r.guest_svn + 1);
	snprintf(vmpl, sizeof(vmpl), "{\"value\":%u}", (r.vmpl + 1) % 4);
	struct {
		const char *field, *value, *check;
	} flips[] = {
		{ "measurement", m, "measurement" },
		{ "host_data", hd, "host_data" },
		{ "report_id", rid, "report_id" },
		{ "chip_id", chip, "chip_id" },
		{ "report_data", rd, "report_data" },
		{ "family_id", fam, "family_id" },
		{ "image_id", fam, "image_id" },
		{ "report_id_ma", rid, "report_id_ma" },
		{ "minimum_tcb", tcb, "minimum_tcb" },
		{ "minimum_launch_tcb", ltcb, "minimum_launch_tcb" },
		{ "minimum_version", ver, "minimum_version" },
		{ "minimum_build", build, "minimum_build" },
		{ "minimum_guest_svn", svn, "guest_svn" },
		{ "vmpl", vmpl, "vmpl" },
		{ "policy", "\"0x20000\"", "policy" },     /* the report allows SMT */
		{ "platform_info", "0", "platform_info" }, /* the report has SMT_EN */
		{ "require_id_block", "true", "id_block" },
		{ "product", "\"Genoa\"", "product" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(flips); i++) {
		pol = policy_for(&r, flips[i].field, flips[i].value);
		const char *f = fails_of(pol, &r, &cv);
		if (strcmp(f, flips[i].check) != 0)
			fail_msg("flipping %s: failed [%s], want [%s]", flips[i].field, f,
				 flips[i].check);
		free(pol);
	}
}

/* The Azure v3 report's TCB is above INT64_MAX: written in full as a JSON number. */
static void test_azure_v3_big_tcb(void **state)
{
	(void)state;
	struct snp_report r;
	load_report("snp/valid/milan_azure_v3_chipA/report.bin", &r);
	assert_int_equal(r.reported_tcb, 0xdb18000000000004ull);
	char pol[256];
	snprintf(pol, sizeof(pol), "{\"policy\":{\"minimum_tcb\":%llu,\"product\":{\"name\":1}}}",
		 (unsigned long long)r.reported_tcb);
	assert_string_equal(fails_of(pol, &r, NULL), "");
	snprintf(pol, sizeof(pol), "{\"policy\":{\"minimum_tcb\":%llu}}",
		 (unsigned long long)r.reported_tcb + 1);
	assert_string_equal(fails_of(pol, &r, NULL), "minimum_tcb");
	assert_string_equal(result_of(pol, &r, "product"), "skipped");
}

/* ------------------------------------------------------------------------------------------ */
/* snp_policy_file_set */

struct tmpdir {
	char path[64];
};

static void tmpdir_make(struct tmpdir *t)
{
	snprintf(t->path, sizeof(t->path), "/tmp/test_policy.XXXXXX");
	assert_non_null(mkdtemp(t->path));
}

static void tmpdir_remove(struct tmpdir *t)
{
	DIR *d = opendir(t->path);
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/%s", t->path, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(t->path);
}

static size_t dir_entries(const char *path)
{
	DIR *d = opendir(path);
	assert_non_null(d);
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void write_file(const char *path, const char *s, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static char *read_all(const char *path)
{
	char *buf = NULL;
	assert_int_equal(fsx_read_file(path, 1 << 20, &buf, NULL), 0);
	return buf;
}

static void test_file_set_roundtrip(void **state)
{
	(void)state;
	struct tmpdir t;
	tmpdir_make(&t);
	char path[128];
	snprintf(path, sizeof(path), "%s/backend_info.json", t.path);
	write_file(path, prism_sample, 0640);
	struct stat st0;
	assert_int_equal(stat(path, &st0), 0);

	uint8_t m[48];
	for (int i = 0; i < 48; i++)
		m[i] = (uint8_t)(i * 7);
	char *mb = b64(m, 48);
	char err[SNP_POLICY_ERR_BYTES];
	assert_int_equal(snp_policy_file_set(path, "measurement", mb, err, sizeof(err)), 0);
	char *after = read_all(path);
	/* Only the measurement value changed, byte for byte. */
	char want[4096];
	char repl[128];
	snprintf(repl, sizeof(repl), "\"measurement\": \"%s\"", mb);
	snprintf(want, sizeof(want), "%s", subst(prism_sample, "\"measurement\": \"AA==\"", repl));
	assert_string_equal(after, want);
	free(after);
	struct stat st1;
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(st1.st_mode & 07777, 0640);
	assert_true(st1.st_ino != st0.st_ino);    /* replaced by rename, not rewritten in place */
	assert_int_equal(dir_entries(t.path), 1); /* no temp file left */

	/* hostdata, then the result parses once the other placeholders are filled. */
	uint8_t hd[32];
	memset(hd, 0xc3, 32);
	char *hb = b64(hd, 32);
	assert_int_equal(snp_policy_file_set(path, "hostdata", hb, err, sizeof(err)), 0);
	after = read_all(path);
	/* It loads; the remaining placeholders are still listed as problems. */
	struct snp_policy *p = expect_parsed(after);
	char probs[SNP_POLICY_PROBLEMS_BYTES];
	assert_int_equal(snp_policy_problems(p, probs, sizeof(probs)), 4);
	assert_string_equal(probs, "snp_policy.family_id: want 16 bytes, got 1; "
				   "snp_policy.image_id: want 16 bytes, got 1; "
				   "snp_policy.report_id_ma: want 32 bytes, got 1; "
				   "snp_policy.chip_id: not base64");
	snp_policy_free(p);
	char *z16 = b64((const uint8_t[16]){ 0 }, 16), *ff = b64((const uint8_t[32]){ 0 }, 32);
	char fixed[4096], tmp[4096], to[96];
	snprintf(to, sizeof(to), "\"family_id\": \"%s\"", z16);
	snprintf(tmp, sizeof(tmp), "%s", subst(after, "\"family_id\": \"AA==\"", to));
	snprintf(to, sizeof(to), "\"image_id\": \"%s\"", z16);
	snprintf(fixed, sizeof(fixed), "%s", subst(tmp, "\"image_id\": \"AA==\"", to));
	snprintf(to, sizeof(to), "\"report_id_ma\": \"%s\"", ff);
	snprintf(tmp, sizeof(tmp), "%s", subst(fixed, "\"report_id_ma\": \"AA==\"", to));
	snprintf(fixed, sizeof(fixed), "%s", subst(tmp, PRISM_CHIP_ID, V08_CHIP_ID));
	p = expect_parsed(fixed);
	assert_int_equal(snp_policy_problems(p, probs, sizeof(probs)), 0);
	assert_memory_equal(p->measurement.v, m, 48);
	assert_memory_equal(p->host_data.v, hd, 32);
	assert_int_equal(p->minimum_tcb, 1506397780360888800ull);
	assert_true(p->check_crl);
	snp_policy_free(p);
	free(after);
	free(z16);
	free(ff);

	/* Setting it again replaces (no duplicate key). */
	memset(hd, 0x3c, 32);
	free(hb);
	hb = b64(hd, 32);
	assert_int_equal(snp_policy_file_set(path, "host_data", hb, err, sizeof(err)), 0);
	after = read_all(path);
	assert_non_null(strstr(after, hb));
	free(after);
	free(hb);
	free(mb);
	tmpdir_remove(&t);
}

/* cocos-cli's flow on the Prism template: fill the measurement, re-load, evaluate. */
static void test_prism_template_fill_measurement(void **state)
{
	(void)state;
	struct tmpdir t;
	tmpdir_make(&t);
	char path[128];
	snprintf(path, sizeof(path), "%s/backend_info.json", t.path);
	write_file(path, prism_sample, 0600);
	struct snp_report r;
	prism_report(&r);
	char *mb = b64(r.measurement, 48);
	char err[SNP_POLICY_ERR_BYTES];
	assert_int_equal(snp_policy_file_set(path, "measurement", mb, err, sizeof(err)), 0);
	char *text = read_all(path);
	struct snp_policy *p = expect_parsed(text);
	assert_int_equal(p->measurement.state, SNP_PB_SET);
	char probs[SNP_POLICY_PROBLEMS_BYTES];
	assert_int_equal(snp_policy_problems(p, probs, sizeof(probs)), 5);
	assert_null(strstr(probs, "measurement"));
	bool pass = true;
	json_t *v = eval(p, &r, NULL, &pass);
	assert_false(pass);
	assert_string_equal(failed_checks(v), "family_id,image_id,host_data,report_id_ma,chip_id");
	assert_string_equal(check_result(v, "measurement"), "pass");
	json_decref(v);
	snp_policy_free(p);
	/* A different measurement is a mismatch, not a problem. */
	r.measurement[0] ^= 1;
	p = expect_parsed(text);
	v = eval(p, &r, NULL, &pass);
	assert_string_equal(check_result(v, "measurement"), "fail");
	assert_non_null(strstr(check_field(v, "measurement", "detail"), "differs"));
	json_decref(v);
	snp_policy_free(p);
	free(text);
	free(mb);
	tmpdir_remove(&t);
}

static void test_file_set_inserts_and_keeps_big_ints(void **state)
{
	(void)state;
	struct tmpdir t;
	tmpdir_make(&t);
	char path[128];
	snprintf(path, sizeof(path), "%s/attestation_policy.json", t.path);
	const char *orig =
		"{\"pcr_values\":{},\n \"policy\": {\"minimum_tcb\": 15352208179752599555,"
		"\"vmpl\":2},\n \"root_of_trust\":{\"product_line\":\"Milan\"}}\n";
	write_file(path, orig, 0744);
	uint8_t hd[32];
	memset(hd, 0x01, 32);
	char *hb = b64(hd, 32);
	char err[SNP_POLICY_ERR_BYTES];
	assert_int_equal(snp_policy_file_set(path, "hostdata", hb, err, sizeof(err)), 0);
	char *after = read_all(path);
	char want[512];
	snprintf(want, sizeof(want),
		 "{\"pcr_values\":{},\n \"policy\": {\"minimum_tcb\": 15352208179752599555,"
		 "\"vmpl\":2, \"host_data\": \"%s\"},\n "
		 "\"root_of_trust\":{\"product_line\":\"Milan\"}}\n",
		 hb);
	assert_string_equal(after, want);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0744);
	struct snp_policy *p = expect_parsed(after);
	assert_int_equal(p->minimum_tcb, 15352208179752599555ull);
	assert_memory_equal(p->host_data.v, hd, 32);
	snp_policy_free(p);
	free(after);

	/* An empty policy object gets its first member. */
	write_file(path, "{\"snp_policy\":{ }}", 0600);
	assert_int_equal(snp_policy_file_set(path, "hostdata", hb, err, sizeof(err)), 0);
	after = read_all(path);
	snprintf(want, sizeof(want), "{\"snp_policy\":{ \"host_data\": \"%s\"}}", hb);
	assert_string_equal(after, want);
	free(after);

	/* A key written with an escape is the same key: replaced, not duplicated. */
	write_file(path, "{\"snp_policy\":{\"host_\\u0064ata\":\"\",\"x\":{\"host_data\":1}}}",
		   0600);
	assert_int_equal(snp_policy_file_set(path, "hostdata", hb, err, sizeof(err)), 0);
	after = read_all(path);
	snprintf(want, sizeof(want),
		 "{\"snp_policy\":{\"host_\\u0064ata\":\"%s\",\"x\":{\"host_data\":1}}}", hb);
	assert_string_equal(after, want);
	free(after);
	free(hb);
	tmpdir_remove(&t);
}

static void test_file_set_refusals_leave_file(void **state)
{
	(void)state;
	struct tmpdir t;
	tmpdir_make(&t);
	char path[128];
	snprintf(path, sizeof(path), "%s/p.json", t.path);
	write_file(path, prism_sample, 0640);
	struct stat st0;
	assert_int_equal(stat(path, &st0), 0);
	char err[SNP_POLICY_ERR_BYTES];
	uint8_t b[49] = { 0 };
	char *b47 = b64(b, 47), *b49 = b64(b, 49), *b32 = b64(b, 32), *b48 = b64(b, 48);
	struct {
		const char *field, *val, *want;
	} bad[] = {
		{ "measurement", b47, "measurement: want 48 bytes, got 47" },
		{ "measurement", b49, "measurement: want 48 bytes, got 49" },
		{ "measurement", b32, "measurement: want 48 bytes, got 32" },
		{ "hostdata", b48, "host_data: want 32 bytes, got 48" },
		{ "hostdata", "AA==", "host_data: want 32 bytes, got 1" },
		{ "hostdata", "not base64!", "host_data: invalid base64" },
		{ "measurement", "", "measurement: want 48 bytes, got 0" },
		{ "chip_id", b48, "unknown field \"chip_id\"" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(
			snp_policy_file_set(path, bad[i].field, bad[i].val, err, sizeof(err)),
			-EINVAL);
		if (!strstr(err, bad[i].want))
			fail_msg("want \"%s\", got \"%s\"", bad[i].want, err);
	}
	struct stat st1;
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(st1.st_ino, st0.st_ino);
	char *now = read_all(path);
	assert_string_equal(now, prism_sample);
	free(now);

	/* Not JSON / no policy object / both objects / duplicate keys: untouched. */
	const char *docs[][2] = {
		{ "not json", "invalid JSON" },
		{ "{\"root_of_trust\":{}}", "want exactly one" },
		{ "{\"policy\":{},\"snp_policy\":{}}", "want exactly one" },
		{ "{\"policy\":[]}", "want exactly one" },
		{ "[1]", "must be a JSON object" },
		{ "{\"policy\":{\"measurement\":\"\",\"measurement\":\"\"}}", "invalid JSON" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(docs); i++) {
		write_file(path, docs[i][0], 0600);
		assert_int_equal(snp_policy_file_set(path, "measurement", b48, err, sizeof(err)),
				 -EINVAL);
		if (!strstr(err, docs[i][1]))
			fail_msg("%s: want \"%s\", got \"%s\"", docs[i][0], docs[i][1], err);
		now = read_all(path);
		assert_string_equal(now, docs[i][0]);
		free(now);
	}
	/* Missing file; file over the limit. */
	char missing[160];
	snprintf(missing, sizeof(missing), "%s/nope.json", t.path);
	assert_int_equal(snp_policy_file_set(missing, "measurement", b48, err, sizeof(err)),
			 -ENOENT);
	char *big = malloc(SNP_POLICY_MAX_BYTES + 2);
	assert_non_null(big);
	memset(big, ' ', SNP_POLICY_MAX_BYTES + 1);
	memcpy(big, "{\"policy\":{}}", 13);
	big[SNP_POLICY_MAX_BYTES + 1] = '\0';
	write_file(path, big, 0600);
	assert_int_equal(snp_policy_file_set(path, "measurement", b48, err, sizeof(err)), -E2BIG);
	/* Exactly at the limit: read, but the result would exceed it. */
	big[SNP_POLICY_MAX_BYTES] = '\0';
	write_file(path, big, 0600);
	assert_int_equal(snp_policy_file_set(path, "measurement", b48, err, sizeof(err)), -E2BIG);
	/* Below it by enough: fine. */
	big[SNP_POLICY_MAX_BYTES - 100] = '\0';
	write_file(path, big, 0600);
	assert_int_equal(snp_policy_file_set(path, "measurement", b48, err, sizeof(err)), 0);
	free(big);
	assert_int_equal(snp_policy_file_set(NULL, "measurement", b48, err, sizeof(err)), -EINVAL);
	assert_int_equal(dir_entries(t.path), 1);
	free(b47);
	free(b49);
	free(b32);
	free(b48);
	tmpdir_remove(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prism_sample_loads_placeholders_fail),
		cmocka_unit_test(test_prism_sample_filled_parses),
		cmocka_unit_test(test_cocos_v03_integer_arrays),
		cmocka_unit_test(test_cocos_v08_form),
		cmocka_unit_test(test_u64_forms),
		cmocka_unit_test(test_policy_bits_refused),
		cmocka_unit_test(test_strings_and_versions),
		cmocka_unit_test(test_byte_lengths),
		cmocka_unit_test(test_unknown_keys_and_shape),
		cmocka_unit_test(test_products),
		cmocka_unit_test(test_key_hash_lists),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_eval_full_policy_passes),
		cmocka_unit_test(test_eval_each_check_fails),
		cmocka_unit_test(test_eval_absent_means_skipped),
		cmocka_unit_test(test_eval_debug_and_migration),
		cmocka_unit_test(test_eval_policy_maximum),
		cmocka_unit_test(test_eval_tcb),
		cmocka_unit_test(test_eval_provisional),
		cmocka_unit_test(test_eval_platform_info),
		cmocka_unit_test(test_eval_keys),
		cmocka_unit_test(test_eval_report_data_override),
		cmocka_unit_test(test_eval_product),
		cmocka_unit_test(test_milan_virtee_policy),
		cmocka_unit_test(test_azure_v3_big_tcb),
		cmocka_unit_test(test_file_set_roundtrip),
		cmocka_unit_test(test_prism_template_fill_measurement),
		cmocka_unit_test(test_file_set_inserts_and_keeps_big_ints),
		cmocka_unit_test(test_file_set_refusals_leave_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
