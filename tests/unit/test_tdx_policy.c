/*
 * test_tdx_policy.c - the "tdx_policy" section of a policy file (attest/tdx_policy.c), the
 * file with both TEEs' sections (attest_policy_parse in attest/policy.c), and the evaluation
 * of TDX policies against real quotes of shared/testdata/tdx/ verified with their collateral.
 * Test data: $TESTDATA, else $SRCDIR/../shared/testdata.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest/policy.h"
#include "attest/tdx.h"
#include "util.h"

static char testdata[512];

static void find_testdata(void)
{
	const char *t = getenv("TESTDATA");
	const char *s = getenv("SRCDIR");
	if (t && *t)
		snprintf(testdata, sizeof(testdata), "%s", t);
	else if (s && *s)
		snprintf(testdata, sizeof(testdata), "%s/../shared/testdata", s);
	else
		snprintf(testdata, sizeof(testdata), "../shared/testdata");
}

static uint8_t *td_read(const char *rel, size_t *len)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", testdata, rel);
	FILE *f = fopen(path, "rbe");
	if (!f)
		fail_msg("cannot open %s (set TESTDATA or SRCDIR)", path);
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			uint8_t *nb = realloc(buf, cap + 1);
			assert_non_null(nb);
			buf = nb;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		if (r == 0)
			break;
		n += r;
	}
	fclose(f);
	buf[n] = 0;
	*len = n;
	return buf;
}

static int64_t ts(const char *s)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, se;
	assert_int_equal(sscanf(s, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &se), 6);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	return (int64_t)timegm(&tm);
}

static struct tdx_policy *parse_ok(const char *json)
{
	char err[TDX_POLICY_ERR_BYTES];
	struct tdx_policy *p = tdx_policy_parse(json, strlen(json), err, sizeof(err));
	if (!p)
		fail_msg("%s: %s", json, err);
	assert_string_equal(err, "");
	return p;
}

static void refused(const char *json, const char *msg)
{
	char err[TDX_POLICY_ERR_BYTES] = "";
	errno = 0;
	struct tdx_policy *p = tdx_policy_parse(json, strlen(json), err, sizeof(err));
	if (p || !strstr(err, msg))
		fail_msg("%s: %s \"%s\", want refused \"%s\"", json, p ? "accepted" : "refused",
			 err, msg);
	assert_int_equal(errno, EINVAL);
}

#define H48                                                                                        \
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b" \
	"2c2d2e2f"
#define B48 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v"

static void test_parse(void **state)
{
	(void)state;
	struct tdx_policy *p = parse_ok("{\"tdx_policy\":{}}");
	assert_int_equal(p->accepted_statuses, 1u << TDX_TCB_UP_TO_DATE);
	assert_false(p->allow_debug || p->mr_td.set || p->has_xfam);
	tdx_policy_free(p);

	p = parse_ok("{\"tdx_policy\":{\"mr_td\":\"" H48 "\",\"mr_owner\":\"" B48 "\","
		     "\"mr_config_id\":\"\",\"mr_seam\":null,\"rtmrs\":[\"" H48
		     "\",\"\",null,\"" B48 "\"],\"td_attributes\":\"0x10000000\",\"xfam\":231,"
		     "\"minimum_tee_tcb_svn\":\"03000400000000000000000000000000\","
		     "\"accepted_tcb_statuses\":[\"UpToDate\",\"SWHardeningNeeded\"],"
		     "\"allow_debug\":false},\"allow_unattested\":true}");
	assert_true(p->mr_td.set && p->mr_owner.set);
	assert_memory_equal(p->mr_td.v, p->mr_owner.v, 48);
	assert_int_equal(p->mr_td.v[47], 0x2f);
	assert_false(p->mr_config_id.set || p->mr_seam.set);
	assert_true(p->rtmr[0].set && !p->rtmr[1].set && !p->rtmr[2].set && p->rtmr[3].set);
	assert_true(p->has_td_attributes && p->td_attributes == 0x10000000);
	assert_true(p->has_xfam && p->xfam == 231);
	assert_true(p->has_minimum_tee_tcb_svn && p->minimum_tee_tcb_svn[0] == 3);
	assert_int_equal(p->accepted_statuses,
			 (1u << TDX_TCB_UP_TO_DATE) | (1u << TDX_TCB_SW_HARDENING_NEEDED));
	assert_true(p->allow_unattested);
	tdx_policy_free(p);

	/* u64 above INT64_MAX written in full; a decimal string */
	p = parse_ok("{\"tdx_policy\":{\"xfam\":18446744073709551615,\"td_attributes\":\"42\"}}");
	assert_true(p->xfam == UINT64_MAX && p->td_attributes == 42);
	tdx_policy_free(p);
	/* every status at once (7 names: the limit) */
	p = parse_ok(
		"{\"tdx_policy\":{\"accepted_tcb_statuses\":[\"UpToDate\",\"SWHardeningNeeded\","
		"\"ConfigurationNeeded\",\"ConfigurationAndSWHardeningNeeded\",\"OutOfDate\","
		"\"OutOfDateConfigurationNeeded\",\"Revoked\"]}}");
	assert_int_equal(p->accepted_statuses, 0xfeu);
	tdx_policy_free(p);

	refused("{\"snp_policy\":{}}", "no \"tdx_policy\" object");
	refused("{\"tdx_policy\":null}", "no \"tdx_policy\" object");
	refused("{\"tdx_policy\":[]}", "tdx_policy: want an object");
	refused("{\"tdx_policy\":{\"mrtd\":\"\"}}", "tdx_policy: unknown key \"mrtd\"");
	refused("{\"tdx_policy\":{},\"tdx\":{}}", "unknown top-level key \"tdx\"");
	refused("{\"tdx_policy\":{\"mr_td\":\"00\"}}",
		"tdx_policy.mr_td: want 48 bytes as 96 hex digits or 64 base64 characters");
	refused("{\"tdx_policy\":{\"mr_td\":\"" H48 "00\"}}", "tdx_policy.mr_td: want 48 bytes");
	refused("{\"tdx_policy\":{\"mr_td\":42}}", "tdx_policy.mr_td: want a string");
	refused("{\"tdx_policy\":{\"report_data\":\"" H48 "\"}}",
		"tdx_policy.report_data: want 64 bytes");
	refused("{\"tdx_policy\":{\"rtmrs\":[\"\",\"\",\"\"]}}", "tdx_policy.rtmrs: want an array "
								 "of 4");
	refused("{\"tdx_policy\":{\"rtmrs\":[\"\",\"\",\"\",\"zz\"]}}",
		"tdx_policy.rtmrs[3]: want 48 bytes");
	refused("{\"tdx_policy\":{\"xfam\":-1}}", "tdx_policy.xfam: want an unsigned 64-bit");
	refused("{\"tdx_policy\":{\"xfam\":1.5}}", "tdx_policy.xfam: want an unsigned 64-bit");
	refused("{\"tdx_policy\":{\"td_attributes\":\"0x\"}}", "tdx_policy.td_attributes");
	refused("{\"tdx_policy\":{\"td_attributes\":\"0x10000000000000000\"}}",
		"tdx_policy.td_attributes");
	refused("{\"tdx_policy\":{\"accepted_tcb_statuses\":[]}}", "want an array of 1..7");
	refused("{\"tdx_policy\":{\"accepted_tcb_statuses\":[\"UpToDate\",\"UpToDate\","
		"\"UpToDate\",\"UpToDate\",\"UpToDate\",\"UpToDate\",\"UpToDate\",\"UpToDate\"]}}",
		"want an array of 1..7");
	refused("{\"tdx_policy\":{\"accepted_tcb_statuses\":[\"uptodate\"]}}",
		"accepted_tcb_statuses[0]: not one of");
	refused("{\"tdx_policy\":{\"allow_debug\":1}}", "allow_debug: want true or false");
	refused("{\"tdx_policy\":{\"minimum_tee_tcb_svn\":\"0300\"}}", "want 16 bytes");
	refused("{\"tdx_policy\":{},\"allow_unattested\":\"yes\"}", "allow_unattested");
	refused("{\"tdx_policy\":{},\"tdx_policy\":{}}", "invalid JSON");
	refused("[]", "must be a JSON object");

	/* the file size limit */
	char *big = malloc(SNP_POLICY_MAX_BYTES + 2);
	assert_non_null(big);
	memset(big, ' ', SNP_POLICY_MAX_BYTES + 1);
	memcpy(big, "{\"tdx_policy\":{}}", 17);
	char err[TDX_POLICY_ERR_BYTES];
	struct tdx_policy *q = tdx_policy_parse(big, SNP_POLICY_MAX_BYTES, err, sizeof(err));
	assert_non_null(q);
	tdx_policy_free(q);
	errno = 0;
	assert_null(tdx_policy_parse(big, SNP_POLICY_MAX_BYTES + 1, err, sizeof(err)));
	assert_int_equal(errno, E2BIG);
	free(big);
	tdx_policy_free(NULL);
	assert_int_equal(tdx_policy_set_report_data(NULL, NULL), -EINVAL);
}

/* One file, two TEEs: which sections exist, and the SNP parser's rules kept. */
static void test_sections(void **state)
{
	(void)state;
	char err[256];
	const char *both = "{\"snp_policy\":{\"vmpl\":0},\"tdx_policy\":{\"xfam\":231},"
			   "\"root_of_trust\":{\"product\":\"Milan\"}}";
	struct attest_policy *a = attest_policy_parse(both, strlen(both), err, sizeof(err));
	assert_non_null(a);
	assert_int_equal(a->sections, ATTEST_POLICY_SNP | ATTEST_POLICY_TDX);
	assert_true(a->snp && a->tdx && a->tdx->has_xfam && a->snp->has_vmpl);
	attest_policy_free(a);
	struct snp_policy *s = snp_policy_parse(both, strlen(both), err, sizeof(err));
	assert_non_null(s); /* the SNP parser accepts and skips the TDX section */
	snp_policy_free(s);

	const char *tdx_only = "{\"tdx_policy\":{},\"allow_unattested\":true}";
	a = attest_policy_parse(tdx_only, strlen(tdx_only), err, sizeof(err));
	assert_non_null(a);
	assert_int_equal(a->sections, ATTEST_POLICY_TDX);
	assert_null(a->snp);
	assert_true(a->allow_unattested);
	attest_policy_free(a);
	/* ...which the SNP parser still refuses: it has no SNP section */
	assert_null(snp_policy_parse(tdx_only, strlen(tdx_only), err, sizeof(err)));
	assert_non_null(strstr(err, "no \"snp_policy\""));

	const char *v4 = "{\"policy\":{}}";
	a = attest_policy_parse(v4, strlen(v4), err, sizeof(err));
	assert_non_null(a);
	assert_int_equal(a->sections, ATTEST_POLICY_SNP);
	assert_null(a->tdx);
	attest_policy_free(a);

	const char *none = "{\"root_of_trust\":{}}";
	errno = 0;
	assert_null(attest_policy_parse(none, strlen(none), err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "\"tdx_policy\" object"));
	/* a bad section fails the whole file, named by its parser */
	const char *bad_tdx = "{\"snp_policy\":{},\"tdx_policy\":{\"mr_td\":\"1\"}}";
	assert_null(attest_policy_parse(bad_tdx, strlen(bad_tdx), err, sizeof(err)));
	assert_non_null(strstr(err, "tdx_policy.mr_td"));
	const char *bad_snp = "{\"snp_policy\":{\"vmpl\":9},\"tdx_policy\":{}}";
	assert_null(attest_policy_parse(bad_snp, strlen(bad_snp), err, sizeof(err)));
	assert_non_null(strstr(err, "vmpl"));
	const char *tdx_not_obj = "{\"snp_policy\":{},\"tdx_policy\":7}";
	assert_null(snp_policy_parse(tdx_not_obj, strlen(tdx_not_obj), err, sizeof(err)));
	assert_non_null(strstr(err, "tdx_policy: want an object"));
	attest_policy_free(NULL);
	const char *bigint = "{\"a\":99999999999999999999}";
	json_t *j = attest_policy_load_json(bigint, strlen(bigint), err, sizeof(err));
	assert_non_null(j);
	assert_true(json_is_string(json_object_get(j, "a")));
	json_decref(j);
}

/* A real quote verified with its collateral inside the window. */
struct verified {
	struct tdx_quote q;
	struct tdx_verdict v;
};

static void verify_case(const char *quote, const char *set, const char *signing,
			const char *tcbinfo, const char *now, struct verified *out)
{
	char rel[512], err[256];
	size_t ql, tl, cl;
	snprintf(rel, sizeof(rel), "tdx/%s", quote);
	uint8_t *qb = td_read(rel, &ql);
	assert_int_equal(tdx_quote_parse(qb, ql, &out->q, err, sizeof(err)), 0);
	free(qb);
	snprintf(rel, sizeof(rel), "tdx/collateral/%s/%s", set, tcbinfo);
	uint8_t *ti = td_read(rel, &tl);
	snprintf(rel, sizeof(rel), "tdx/collateral/%s/tcb_info_issuer_chain.pem", signing);
	uint8_t *ch = td_read(rel, &cl);
	struct tdx_collateral_opts o = { .tcb_info = { ti },
					 .tcb_info_len = { tl },
					 .n_tcb_info = 1,
					 .tcb_info_chain = ch,
					 .tcb_info_chain_len = cl };
	struct tdx_collateral *c = tdx_collateral_new(&o, &out->v);
	assert_int_equal(out->v.reason, TDX_OK);
	tdx_verify(&out->q, c, ts(now), &out->v);
	tdx_collateral_free(c);
	free(ti);
	free(ch);
}

static json_t *check_of(json_t *verdict, const char *name)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(verdict, "checks"), i, c)
	{
		if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
			return c;
	}
	fail_msg("no check %s", name);
	return NULL;
}

static const char *result_of(json_t *verdict, const char *name)
{
	return json_string_value(json_object_get(check_of(verdict, name), "result"));
}

static json_t *eval(const char *policy, const struct verified *vf, bool use_verdict, bool *pass)
{
	struct tdx_policy *p = parse_ok(policy);
	json_t *j = tdx_policy_evaluate(p, &vf->q, use_verdict ? &vf->v : NULL, pass);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "verified")) == *pass);
	tdx_policy_free(p);
	return j;
}

static void test_evaluate(void **state)
{
	(void)state;
	struct verified up, ood;
	verify_case("valid/v4_b0c06f_dcapqvl/quote.dat", "dcapqvl_2025-06_b0c06f",
		    "dcapqvl_2025-06_b0c06f", "tcbinfo_tdx_b0c06f000000.json",
		    "2025-07-19T10:00:34Z", &up);
	assert_int_equal(up.v.tcb_status, TDX_TCB_UP_TO_DATE);
	verify_case("valid/v4_50806f_trustee/quote.dat", "teekit_2025-09", "dcapqvl_2026-02_90c06f",
		    "tcbinfo_tdx_50806f000000.json", "2025-10-01T00:00:00Z", &ood);
	assert_int_equal(ood.v.tcb_status, TDX_TCB_OUT_OF_DATE);

	bool pass;
	json_t *j = eval("{\"tdx_policy\":{}}", &up, true, &pass);
	assert_true(pass);
	static const char *const order[] = {
		"signature_and_chain",
		"tcb_status",
		"debug",
		"td_attributes",
		"xfam",
		"minimum_tee_tcb_svn",
		"mr_seam",
		"mr_signer_seam",
		"mr_td",
		"mr_config_id",
		"mr_owner",
		"mr_owner_config",
		"rtmr0",
		"rtmr1",
		"rtmr2",
		"rtmr3",
		"report_data",
	};
	json_t *checks = json_object_get(j, "checks");
	assert_int_equal(json_array_size(checks), ARRAY_SIZE(order));
	for (size_t i = 0; i < ARRAY_SIZE(order); i++)
		assert_string_equal(
			json_string_value(json_object_get(json_array_get(checks, i), "name")),
			order[i]);
	assert_string_equal(result_of(j, "tcb_status"), "pass");
	assert_string_equal(result_of(j, "mr_td"), "skipped");
	assert_string_equal(result_of(j, "debug"), "pass");
	json_decref(j);

	/* exact values from the quote itself pass; one changed byte fails */
	char mrtd[97], rtmr1[97], rd[129], pol[1024];
	util_hex(mrtd, up.q.mr_td, 48);
	util_hex(rtmr1, up.q.rtmr[1], 48);
	util_hex(rd, up.q.report_data, 64);
	snprintf(pol, sizeof(pol),
		 "{\"tdx_policy\":{\"mr_td\":\"%s\",\"rtmrs\":[\"\",\"%s\",\"\",\"\"],"
		 "\"report_data\":\"%s\",\"td_attributes\":\"0x%016llx\",\"xfam\":%llu,"
		 "\"minimum_tee_tcb_svn\":\"06010300000000000000000000000000\"}}",
		 mrtd, rtmr1, rd, (unsigned long long)up.q.td_attributes,
		 (unsigned long long)up.q.xfam);
	j = eval(pol, &up, true, &pass);
	if (!pass) {
		char *d = json_dumps(j, JSON_INDENT(1));
		fail_msg("%s", d);
	}
	assert_string_equal(result_of(j, "mr_td"), "pass");
	assert_string_equal(result_of(j, "rtmr1"), "pass");
	assert_string_equal(result_of(j, "report_data"), "pass");
	assert_string_equal(result_of(j, "td_attributes"), "pass");
	assert_string_equal(result_of(j, "xfam"), "pass");
	assert_string_equal(result_of(j, "minimum_tee_tcb_svn"), "pass");
	json_decref(j);
	mrtd[0] = mrtd[0] == '0' ? '1' : '0';
	snprintf(pol, sizeof(pol),
		 "{\"tdx_policy\":{\"mr_td\":\"%s\",\"xfam\":1,\"minimum_tee_tcb_svn\":"
		 "\"06020000000000000000000000000000\"}}",
		 mrtd);
	j = eval(pol, &up, true, &pass);
	assert_false(pass);
	assert_string_equal(result_of(j, "mr_td"), "fail");
	assert_string_equal(json_string_value(json_object_get(check_of(j, "mr_td"), "expected")),
			    mrtd);
	assert_string_equal(result_of(j, "xfam"), "fail");
	assert_string_equal(result_of(j, "minimum_tee_tcb_svn"), "fail");
	assert_non_null(strstr(
		json_string_value(json_object_get(check_of(j, "minimum_tee_tcb_svn"), "detail")),
		"component 1 is 1, below 2"));
	json_decref(j);

	/* the verifier's REPORTDATA overrides the file's */
	struct tdx_policy *p = parse_ok("{\"tdx_policy\":{}}");
	uint8_t want[64] = { 1 };
	assert_int_equal(tdx_policy_set_report_data(p, want), 0);
	j = tdx_policy_evaluate(p, &up.q, &up.v, &pass);
	assert_false(pass);
	assert_non_null(
		strstr(json_string_value(json_object_get(check_of(j, "report_data"), "detail")),
		       "the verifier's binding"));
	json_decref(j);
	tdx_policy_free(p);

	/* TCB statuses: OutOfDate is refused by default, accepted when listed */
	j = eval("{\"tdx_policy\":{}}", &ood, true, &pass);
	assert_false(pass);
	json_t *c = check_of(j, "tcb_status");
	assert_string_equal(json_string_value(json_object_get(c, "actual")), "OutOfDate");
	assert_non_null(strstr(json_string_value(json_object_get(c, "detail")),
			       "INTEL-SA-00837 INTEL-SA-00960"));
	/* (trustee's quote comes from a debug TD: TDATTRIBUTES 0x...01) */
	assert_string_equal(result_of(j, "debug"), "fail");
	json_decref(j);
	j = eval("{\"tdx_policy\":{\"accepted_tcb_statuses\":[\"UpToDate\",\"OutOfDate\"],"
		 "\"allow_debug\":true}}",
		 &ood, true, &pass);
	assert_true(pass);
	assert_string_equal(
		json_string_value(json_object_get(check_of(j, "tcb_status"), "expected")),
		"UpToDate, OutOfDate");
	json_decref(j);

	/* DEBUG: refused unless allowed */
	up.q.td_attributes |= 1;
	j = eval("{\"tdx_policy\":{}}", &up, true, &pass);
	assert_false(pass);
	assert_string_equal(result_of(j, "debug"), "fail");
	json_decref(j);
	j = eval("{\"tdx_policy\":{\"allow_debug\":true}}", &up, true, &pass);
	assert_true(pass);
	assert_string_equal(result_of(j, "debug"), "pass");
	json_decref(j);
	up.q.td_attributes &= ~1ull;

	/* no verdict: signature_and_chain skipped, the TCB status cannot pass... */
	j = eval("{\"tdx_policy\":{}}", &up, false, &pass);
	assert_string_equal(result_of(j, "signature_and_chain"), "skipped");
	assert_string_equal(result_of(j, "tcb_status"), "skipped");
	assert_true(pass);
	json_decref(j);
	/* ...a verdict without TCB info fails it; a failed verification fails both */
	struct tdx_verdict saved = up.v;
	up.v.tcb_evaluated = false;
	up.v.tcb_status = TDX_TCB_UNKNOWN;
	j = eval("{\"tdx_policy\":{}}", &up, true, &pass);
	assert_false(pass);
	assert_non_null(
		strstr(json_string_value(json_object_get(check_of(j, "tcb_status"), "detail")),
		       "give the collateral"));
	json_decref(j);
	up.v.reason = TDX_ERR_BAD_SIGNATURE;
	j = eval("{\"tdx_policy\":{}}", &up, true, &pass);
	assert_false(pass);
	assert_string_equal(result_of(j, "signature_and_chain"), "fail");
	assert_string_equal(result_of(j, "tcb_status"), "fail");
	json_decref(j);
	up.v = saved;
	assert_null(tdx_policy_evaluate(NULL, &up.q, NULL, &pass));
	assert_false(pass);
	tdx_quote_done(&up.q);
	tdx_quote_done(&ood.q);
}

int main(void)
{
	find_testdata();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_evaluate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
