/*
 * test_evidence.c - cloisterd's verification of agent evidence (src/server/evidence.c).
 *
 * Builds, in process, what an attested agent would send: a test-only AMD-style chain (the
 * fixture tests/fixtures/snp_testchain.c, compiled in) whose VCEK signs a synthetic SEV-SNP
 * report carrying REPORT_DATA = SHA-512(SPKI || nonce), wrapped in the agent's GET /attestation
 * JSON (src/agent/attestation.c). The test ARK is trusted only through
 * evidence_opts.test_roots; without it the production roots refuse the chain. Each test edits
 * one thing and checks the result and the named reason.
 * Intel TDX: a real quote with Intel's real collateral (../shared/testdata/tdx), which verifies
 * up to the binding it cannot have, and quotes signed by the test Intel-style PKI
 * (tests/fixtures/tdx_testchain.c, trusted only through its collateral's test roots) that pass.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SNP_TESTCHAIN_NO_MAIN
#include "../fixtures/snp_testchain.c"
#define TDX_TESTCHAIN_NO_MAIN
#include "../fixtures/tdx_testchain.c"

#include "attest/snp.h"
#include "attest/tdx.h"
#include "attest/tdx_dir.h"
#include "fsx.h"
#include "server/evidence.h"
#include "util.h"

#define NOW 1795305600LL /* 2026-11-22T00:00:00Z */
#define YEAR_S (365LL * 86400)

static struct snp_tc TC, OTHER; /* the trusted test chain, and one from another test ARK */
static char *roots_pem;         /* TC's ARK + ASK, as CLOISTERD_TEST_SNP_ROOTS holds them */
static size_t roots_len;

static const uint8_t SPKI[] = "spki-of-the-agent-tls-key (opaque bytes to the verifier)";
static const uint8_t SPKI2[] = "spki-of-another-key";
static const uint8_t NONCE[32] = { 1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
				   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };

static int group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0 || snp_tc_make(&TC, NOW - 30 * 86400) < 0 ||
	    snp_tc_make(&OTHER, NOW - 30 * 86400) < 0)
		return -1;
	X509 *r[2] = { TC.ark, TC.ask };
	roots_pem = snp_tc_pem(r, 2, &roots_len);
	return roots_pem ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	snp_tc_free(&TC);
	snp_tc_free(&OTHER);
	free(roots_pem);
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Building evidence                                                                        */

static void binding(uint8_t rd[64], const uint8_t *spki, size_t spki_len, const uint8_t *nonce,
		    size_t nonce_len)
{
	crypto_hash_sha512_state st;
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, spki, spki_len);
	crypto_hash_sha512_update(&st, nonce, nonce_len);
	crypto_hash_sha512_final(&st, rd);
}

/* The report tsm_fixture writes (v2, policy 0x30000, MEASUREMENT 0x11.., CHIP_ID 0x42..),
 * signed by key. */
static void mk_report(uint8_t raw[SNP_REPORT_BYTES], const uint8_t rd[64], EVP_PKEY *key)
{
	memset(raw, 0, SNP_REPORT_BYTES);
	util_put_le32(raw + 0x000, 2);
	util_put_le64(raw + 0x008, 0x30000);
	util_put_le32(raw + 0x034, 1);
	util_put_le64(raw + 0x038, SNP_TESTCHAIN_TCB);
	memcpy(raw + 0x050, rd, 64);
	memset(raw + 0x090, 0x11, 48);
	util_put_le64(raw + 0x180, SNP_TESTCHAIN_TCB);
	memset(raw + 0x1a0, SNP_TESTCHAIN_CHIP, 64);
	util_put_le64(raw + 0x1e0, SNP_TESTCHAIN_TCB);
	raw[0x1e8] = 40;
	raw[0x1e9] = 55;
	raw[0x1ea] = 1;
	util_put_le64(raw + 0x1f0, SNP_TESTCHAIN_TCB);
	assert_int_equal(snp_tc_sign_report(raw, key), 0);
}

static json_t *b64(const uint8_t *p, size_t n)
{
	size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(cap);
	assert_non_null(s);
	sodium_bin2base64(s, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
	json_t *j = json_string(s);
	free(s);
	assert_non_null(j);
	return j;
}

static json_t *b64_cert(X509 *x)
{
	size_t n = 0;
	unsigned char *der = snp_tc_der(x, &n);
	assert_non_null(der);
	json_t *j = b64(der, n);
	OPENSSL_free(der);
	return j;
}

static json_t *hexj(const uint8_t *p, size_t n)
{
	char buf[2 * 64 + 1];
	assert_true(n <= 64);
	util_hex(buf, p, n);
	return json_string(buf);
}

/* The agent's reply for NONCE on a connection with key spki: the binding fields, the TEE and
 * the base64 report (SEV-SNP report or TDX quote). */
static json_t *evidence_head(const uint8_t *spki, size_t spki_len, const char *tee,
			     const uint8_t *report, size_t report_len)
{
	uint8_t rd[64], sha[32];
	binding(rd, spki, spki_len, NONCE, sizeof(NONCE));
	crypto_hash_sha256(sha, spki, spki_len);
	json_t *e = json_object();
	assert_non_null(e);
	json_object_set_new(e, "provider", json_string("configfs-tsm"));
	json_object_set_new(e, "attested", json_true());
	json_object_set_new(e, "nonce", hexj(NONCE, sizeof(NONCE)));
	json_object_set_new(e, "report_data", hexj(rd, 64));
	json_object_set_new(e, "tls_spki_sha256", hexj(sha, 32));
	json_object_set_new(e, "tee", json_string(tee));
	json_object_set_new(e, "report", b64(report, report_len));
	return e;
}

enum certs_set { CERTS_FULL, CERTS_VCEK_ONLY, CERTS_NONE };

/* The agent's reply for NONCE on a connection with key SPKI, signed by chain c. */
static json_t *mk_evidence(const struct snp_tc *c, enum certs_set cs, uint8_t raw[SNP_REPORT_BYTES])
{
	uint8_t rd[64];
	binding(rd, SPKI, sizeof(SPKI), NONCE, sizeof(NONCE));
	mk_report(raw, rd, c->vcek_key);
	json_t *e = evidence_head(SPKI, sizeof(SPKI), "sev_guest", raw, SNP_REPORT_BYTES);
	if (cs != CERTS_NONE) {
		json_t *certs = json_object();
		json_object_set_new(certs, "vcek", b64_cert(c->vcek));
		if (cs == CERTS_FULL) {
			json_object_set_new(certs, "ask", b64_cert(c->ask));
			json_object_set_new(certs, "ark", b64_cert(c->ark));
		}
		json_object_set_new(e, "certs", certs);
	}
	json_object_set_new(e, "generation", json_integer(1));
	return e;
}

/* A policy that the fixture's report satisfies, with the measurement given as its base64. */
static char *mk_policy(uint8_t meas_byte, const char *extra)
{
	uint8_t m[48];
	memset(m, meas_byte, sizeof(m));
	char mb[80];
	sodium_bin2base64(mb, sizeof(mb), m, sizeof(m), sodium_base64_VARIANT_ORIGINAL);
	uint8_t chip[64];
	memset(chip, SNP_TESTCHAIN_CHIP, sizeof(chip));
	char cb[100];
	sodium_bin2base64(cb, sizeof(cb), chip, sizeof(chip), sodium_base64_VARIANT_ORIGINAL);
	char *p = NULL;
	assert_true(asprintf(&p,
			     "{\"snp_policy\":{\"policy\":196608,\"measurement\":\"%s\","
			     "\"chip_id\":\"%s\",\"vmpl\":0,\"minimum_tcb\":%llu,"
			     "\"minimum_build\":40,\"minimum_version\":\"1.55\"},"
			     "\"root_of_trust\":{\"product\":\"Milan\"}%s}",
			     mb, cb, (unsigned long long)SNP_TESTCHAIN_TCB,
			     extra ? extra : "") > 0);
	return p;
}

struct run {
	int rc;
	char err[512];
	json_t *verdict;
};

/* Verifies e against policy with (spki, nonce) and the given test roots; checks rc and that
 * err contains want (NULL: err is ""). The verdict is kept in r (caller json_decref). */
static void verify_full(json_t *e, const char *policy, const uint8_t *spki, size_t spki_len,
			const uint8_t *nonce, size_t nonce_len, const void *roots, size_t rlen,
			int64_t now, int want_rc, const char *want, struct run *r)
{
	char *body = json_dumps(e, JSON_COMPACT);
	assert_non_null(body);
	struct evidence_opts o = { .now = now, .test_roots = roots, .test_roots_len = rlen };
	memset(r, 0, sizeof(*r));
	r->verdict = (json_t *)1; /* must be overwritten */
	r->rc = evidence_verify(body, strlen(body), policy, strlen(policy), spki, spki_len, nonce,
				nonce_len, &o, r->err, sizeof(r->err), &r->verdict);
	free(body);
	if (r->rc != want_rc || (want && !strstr(r->err, want)) || (!want && r->err[0]))
		fail_msg("rc %d err \"%s\", want %d \"%s\"", r->rc, r->err, want_rc,
			 want ? want : "");
	if (want_rc != EVIDENCE_OK)
		assert_null(r->verdict);
	else
		assert_non_null(r->verdict);
}

static void verify(json_t *e, const char *policy, int want_rc, const char *want)
{
	struct run r;
	verify_full(e, policy, SPKI, sizeof(SPKI), NONCE, sizeof(NONCE), roots_pem, roots_len, NOW,
		    want_rc, want, &r);
	json_decref(r.verdict);
}

/* ---------------------------------------------------------------------------------------- */
/* Tests                                                                                    */

static void test_verified(void **state)
{
	(void)state;
	uint8_t raw[SNP_REPORT_BYTES];
	char *pol = mk_policy(0x11, NULL);
	/* the agent sent VCEK, ASK and ARK */
	json_t *e = mk_evidence(&TC, CERTS_FULL, raw);
	struct run r;
	verify_full(e, pol, SPKI, sizeof(SPKI), NONCE, sizeof(NONCE), roots_pem, roots_len, NOW,
		    EVIDENCE_OK, NULL, &r);
	assert_true(json_is_true(json_object_get(r.verdict, "verified")));
	assert_string_equal(json_string_value(json_object_get(r.verdict, "binding")), "ok");
	json_t *checks = json_object_get(r.verdict, "checks");
	assert_true(json_array_size(checks) > 10);
	bool saw_measurement = false, saw_rd = false;
	size_t i;
	json_t *c;
	json_array_foreach(checks, i, c)
	{
		const char *n = json_string_value(json_object_get(c, "name"));
		const char *res = json_string_value(json_object_get(c, "result"));
		assert_string_not_equal(res, "fail");
		if (strcmp(n, "measurement") == 0 && strcmp(res, "pass") == 0)
			saw_measurement = true;
		if (strcmp(n, "report_data") == 0 && strcmp(res, "pass") == 0)
			saw_rd = true;
	}
	assert_true(saw_measurement);
	assert_true(saw_rd); /* the binding is enforced by the policy evaluation too */
	json_decref(r.verdict);
	json_decref(e);

	/* the VCEK alone: the test roots (ARK + ASK) complete the chain */
	e = mk_evidence(&TC, CERTS_VCEK_ONLY, raw);
	verify(e, pol, EVIDENCE_OK, NULL);
	/* err and verdict may be omitted */
	char *body = json_dumps(e, JSON_COMPACT);
	struct evidence_opts o = { .now = NOW,
				   .test_roots = (const uint8_t *)roots_pem,
				   .test_roots_len = roots_len };
	assert_int_equal(evidence_verify(body, strlen(body), pol, strlen(pol), SPKI, sizeof(SPKI),
					 NONCE, sizeof(NONCE), &o, NULL, 0, NULL),
			 EVIDENCE_OK);
	free(body);
	/* upper-case hex for nonce and report_data is the same value */
	static const char *const hexkeys[] = { "nonce", "report_data", "tls_spki_sha256" };
	for (size_t k = 0; k < ARRAY_SIZE(hexkeys); k++) {
		char up[200];
		snprintf(up, sizeof(up), "%s", json_string_value(json_object_get(e, hexkeys[k])));
		for (char *p = up; *p; p++)
			if (*p >= 'a' && *p <= 'f')
				*p = (char)(*p - 32);
		json_object_set_new(e, hexkeys[k], json_string(up));
	}
	verify(e, pol, EVIDENCE_OK, NULL);
	json_decref(e);
	free(pol);
}

static void test_wrong_nonce(void **state)
{
	(void)state;
	uint8_t raw[SNP_REPORT_BYTES];
	char *pol = mk_policy(0x11, NULL);
	json_t *e = mk_evidence(&TC, CERTS_FULL, raw);
	struct run r;
	uint8_t other[32];
	memcpy(other, NONCE, sizeof(other));
	other[31] ^= 1;
	/* a replayed reply: the verifier sent another nonce */
	verify_full(e, pol, SPKI, sizeof(SPKI), other, sizeof(other), roots_pem, roots_len, NOW,
		    EVIDENCE_REFUSED, "nonce: the evidence answers another nonce", &r);
	/* a prefix of the nonce is another nonce */
	verify_full(e, pol, SPKI, sizeof(SPKI), NONCE, 16, roots_pem, roots_len, NOW,
		    EVIDENCE_REFUSED, "nonce: ", &r);
	/* the echo edited to match, the binding still the old nonce's */
	json_object_set_new(e, "nonce", hexj(other, sizeof(other)));
	verify_full(e, pol, SPKI, sizeof(SPKI), other, sizeof(other), roots_pem, roots_len, NOW,
		    EVIDENCE_REFUSED, "report_data: not SHA-512(SPKI || nonce)", &r);
	json_object_set_new(e, "nonce", json_integer(7));
	verify(e, pol, EVIDENCE_MALFORMED, "nonce: missing");
	json_decref(e);
	free(pol);
}

static void test_other_key(void **state)
{
	(void)state;
	uint8_t raw[SNP_REPORT_BYTES];
	char *pol = mk_policy(0x11, NULL);
	json_t *e = mk_evidence(&TC, CERTS_FULL, raw);
	struct run r;
	/* evidence bound to SPKI, presented on a connection with SPKI2 */
	verify_full(e, pol, SPKI2, sizeof(SPKI2), NONCE, sizeof(NONCE), roots_pem, roots_len, NOW,
		    EVIDENCE_REFUSED, "report_data: not SHA-512(SPKI || nonce) of this connection",
		    &r);
	/* the JSON rewritten for SPKI2: the signed report still carries SPKI's binding */
	uint8_t rd2[64], sha2[32];
	binding(rd2, SPKI2, sizeof(SPKI2), NONCE, sizeof(NONCE));
	crypto_hash_sha256(sha2, SPKI2, sizeof(SPKI2));
	json_object_set_new(e, "report_data", hexj(rd2, 64));
	json_object_set_new(e, "tls_spki_sha256", hexj(sha2, 32));
	verify_full(e, pol, SPKI2, sizeof(SPKI2), NONCE, sizeof(NONCE), roots_pem, roots_len, NOW,
		    EVIDENCE_REFUSED, "report_data: ", &r);
	/* tls_spki_sha256 of another key */
	json_object_set_new(e, "tls_spki_sha256", hexj(rd2, 32));
	verify_full(e, pol, SPKI2, sizeof(SPKI2), NONCE, sizeof(NONCE), roots_pem, roots_len, NOW,
		    EVIDENCE_REFUSED, "tls_spki_sha256: not the SHA-256", &r);
	json_decref(e);
	free(pol);
}

static void test_tampered_report(void **state)
{
	(void)state;
	uint8_t raw[SNP_REPORT_BYTES];
	char *pol = mk_policy(0x12, NULL);
	json_t *e = mk_evidence(&TC, CERTS_FULL, raw);
	/* the measurement edited to what the policy wants, after signing */
	memset(raw + 0x90, 0x12, 48);
	json_object_set_new(e, "report", b64(raw, SNP_REPORT_BYTES));
	verify(e, pol, EVIDENCE_REFUSED,
	       "signature_and_chain: bad_signature: report signature does not verify");
	/* a report the parser refuses */
	raw[0x4c] = 1;
	json_object_set_new(e, "report", b64(raw, SNP_REPORT_BYTES));
	verify(e, pol, EVIDENCE_MALFORMED, "report: malformed at offset 0x4c");
	json_object_set_new(e, "report", b64(raw, 500));
	verify(e, pol, EVIDENCE_MALFORMED, "report: malformed at offset 500");
	json_decref(e);
	free(pol);
}

static void test_untrusted_vcek(void **state)
{
	(void)state;
	uint8_t raw[SNP_REPORT_BYTES];
	char *pol = mk_policy(0x11, NULL);
	/* another test ARK's full chain: its ARK is no trusted root */
	json_t *e = mk_evidence(&OTHER, CERTS_FULL, raw);
	verify(e, pol, EVIDENCE_REFUSED,
	       "signature_and_chain: unknown_root: ARK-Milan in the supplied chain is not a pinned "
	       "AMD root");
	json_decref(e);
	/* its VCEK alone: the trusted test ASK did not sign it */
	e = mk_evidence(&OTHER, CERTS_VCEK_ONLY, raw);
	verify(e, pol, EVIDENCE_REFUSED,
	       "signature_and_chain: chain: VCEK signature by ASK SEV-Milan does not verify");
	json_decref(e);
	/* the trusted VCEK, but the report signed by another key */
	e = mk_evidence(&TC, CERTS_FULL, raw);
	uint8_t rd[64];
	memcpy(rd, raw + 0x50, sizeof(rd));
	mk_report(raw, rd, OTHER.vcek_key);
	json_object_set_new(e, "report", b64(raw, SNP_REPORT_BYTES));
	verify(e, pol, EVIDENCE_REFUSED, "signature_and_chain: bad_signature");
	json_decref(e);
	/* no VCEK at all: cloisterd does not fetch one */
	e = mk_evidence(&TC, CERTS_NONE, raw);
	verify(e, pol, EVIDENCE_REFUSED, "signature_and_chain: the evidence carries no VCEK");
	json_decref(e);
	free(pol);
}

/* Production: no test roots. The test chain never verifies. */
static void test_production_roots(void **state)
{
	(void)state;
	uint8_t raw[SNP_REPORT_BYTES];
	char *pol = mk_policy(0x11, NULL);
	json_t *e = mk_evidence(&TC, CERTS_FULL, raw);
	struct run r;
	verify_full(e, pol, SPKI, sizeof(SPKI), NONCE, sizeof(NONCE), NULL, 0, NOW,
		    EVIDENCE_REFUSED,
		    "signature_and_chain: unknown_root: ARK-Milan in the supplied chain is not a "
		    "pinned AMD root",
		    &r);
	json_decref(e);
	e = mk_evidence(&TC, CERTS_VCEK_ONLY, raw); /* the pinned ASK did not sign it */
	verify_full(e, pol, SPKI, sizeof(SPKI), NONCE, sizeof(NONCE), NULL, 0, NOW,
		    EVIDENCE_REFUSED, "signature_and_chain: chain: VCEK signature by ASK SEV-Milan",
		    &r);
	json_decref(e);
	free(pol);
}

static void test_expired(void **state)
{
	(void)state;
	uint8_t raw[SNP_REPORT_BYTES];
	char *pol = mk_policy(0x11, NULL);
	json_t *e = mk_evidence(&TC, CERTS_FULL, raw);
	struct run r;
	verify_full(e, pol, SPKI, sizeof(SPKI), NONCE, sizeof(NONCE), roots_pem, roots_len,
		    NOW + 8 * YEAR_S, EVIDENCE_REFUSED, "signature_and_chain: expired: VCEK", &r);
	verify_full(e, pol, SPKI, sizeof(SPKI), NONCE, sizeof(NONCE), roots_pem, roots_len,
		    NOW - 60 * 86400, EVIDENCE_REFUSED, "signature_and_chain: expired", &r);
	json_decref(e);
	free(pol);
}

static void test_policy_mismatch(void **state)
{
	(void)state;
	uint8_t raw[SNP_REPORT_BYTES];
	json_t *e = mk_evidence(&TC, CERTS_FULL, raw);
	char *pol = mk_policy(0x22, NULL);
	char want[200];
	int n = snprintf(want, sizeof(want),
			 "measurement: MEASUREMENT differs from the expected "
			 "value (report: ");
	for (int i = 0; i < 48; i++)
		n += snprintf(want + n, sizeof(want) - (size_t)n, "11");
	snprintf(want + n, sizeof(want) - (size_t)n, ")");
	verify(e, pol, EVIDENCE_REFUSED, want);
	free(pol);
	/* the first failing check is named: vmpl 1 wanted */
	pol = mk_policy(0x11, NULL);
	char *v = strstr(pol, "\"vmpl\":0");
	assert_non_null(v);
	v[7] = '1';
	verify(e, pol, EVIDENCE_REFUSED, "vmpl: ");
	free(pol);
	/* another product */
	pol = mk_policy(0x11, NULL);
	char *g = strstr(pol, "\"Milan\"");
	assert_non_null(g);
	memcpy(g + 1, "Genoa", 5);
	verify(e, pol, EVIDENCE_REFUSED, "product: ");
	free(pol);
	/* a policy that does not parse (it was validated when stored: malformed, not refused) */
	verify(e, "{\"snp_policy\":{\"vmpl\":9}}", EVIDENCE_MALFORMED, "policy: ");
	verify(e, "{\"snp_policy\":", EVIDENCE_MALFORMED, "policy: ");
	/* allow_unattested does not weaken the checks of real evidence */
	pol = mk_policy(0x22, ",\"allow_unattested\":true");
	verify(e, pol, EVIDENCE_REFUSED, "measurement: ");
	free(pol);
	json_decref(e);
}

static json_t *none_evidence(void)
{
	uint8_t rd[64], sha[32];
	binding(rd, SPKI, sizeof(SPKI), NONCE, sizeof(NONCE));
	crypto_hash_sha256(sha, SPKI, sizeof(SPKI));
	json_t *e = json_object();
	json_object_set_new(e, "provider", json_string("none"));
	json_object_set_new(e, "attested", json_false());
	json_object_set_new(e, "nonce", hexj(NONCE, sizeof(NONCE)));
	json_object_set_new(e, "report_data", hexj(rd, 64));
	json_object_set_new(e, "tls_spki_sha256", hexj(sha, 32));
	return e;
}

static void test_provider_none(void **state)
{
	(void)state;
	json_t *e = none_evidence();
	char *pol = mk_policy(0x11, NULL);
	verify(e, pol, EVIDENCE_REFUSED,
	       "provider: the agent has no attestation provider (\"none\") and the policy does not "
	       "set \"allow_unattested\": true");
	free(pol);
	pol = mk_policy(0x11, ",\"allow_unattested\":false");
	verify(e, pol, EVIDENCE_REFUSED, "provider: ");
	free(pol);
	pol = mk_policy(0x11, ",\"allow_unattested\":true");
	struct run r;
	verify_full(e, pol, SPKI, sizeof(SPKI), NONCE, sizeof(NONCE), NULL, 0, NOW,
		    EVIDENCE_UNATTESTED, NULL, &r);
	assert_null(r.verdict);
	verify(e, "{\"snp_policy\":{},\"allow_unattested\":true}", EVIDENCE_UNATTESTED, NULL);
	/* still bound to this connection and nonce */
	verify_full(e, pol, SPKI2, sizeof(SPKI2), NONCE, sizeof(NONCE), NULL, 0, NOW,
		    EVIDENCE_REFUSED, "report_data: ", &r);
	free(pol);
	json_decref(e);
}

static void test_tee(void **state)
{
	(void)state;
	uint8_t raw[SNP_REPORT_BYTES];
	char *pol = mk_policy(0x11, NULL);
	json_t *e = mk_evidence(&TC, CERTS_FULL, raw);
	/* SEV-SNP evidence against a policy with only a TDX section: refused, not skipped */
	verify(e, "{\"tdx_policy\":{\"accepted_tcb_statuses\":[\"UpToDate\"]}}", EVIDENCE_REFUSED,
	       "the policy has no SEV-SNP section");
	json_object_set_new(e, "tee", json_string("tdx_guest"));
	verify(e, pol, EVIDENCE_REFUSED,
	       "tee: Intel TDX evidence, and the policy has no TDX section");
	json_object_set_new(e, "tee", json_string("arm_cca_guest"));
	verify(e, pol, EVIDENCE_REFUSED, "tee: unknown TEE");
	json_object_del(e, "tee");
	verify(e, pol, EVIDENCE_MALFORMED, "tee: missing");
	json_object_del(e, "provider");
	verify(e, pol, EVIDENCE_MALFORMED, "provider: missing");
	json_decref(e);
	free(pol);
}

static void test_malformed(void **state)
{
	(void)state;
	uint8_t raw[SNP_REPORT_BYTES];
	char *pol = mk_policy(0x11, NULL);
	struct evidence_opts o = { .now = NOW };
	char err[256];
	json_t *v = NULL;
	static const char *const bad[] = {
		"", "{", "[]", "\"x\"", "{\"a\":1,\"a\":2}", "{\"nonce\":\"00\"} x"
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(evidence_verify(bad[i], strlen(bad[i]), pol, strlen(pol), SPKI,
						 sizeof(SPKI), NONCE, sizeof(NONCE), &o, err,
						 sizeof(err), &v),
				 EVIDENCE_MALFORMED);
		assert_true(strncmp(err, "evidence: ", 10) == 0);
		assert_null(v);
	}
	/* missing arguments */
	assert_int_equal(evidence_verify("{}", 2, pol, strlen(pol), SPKI, 0, NONCE, sizeof(NONCE),
					 &o, err, sizeof(err), &v),
			 EVIDENCE_MALFORMED);
	assert_int_equal(evidence_verify("{}", 2, pol, strlen(pol), SPKI, sizeof(SPKI), NONCE, 0,
					 &o, err, sizeof(err), &v),
			 EVIDENCE_MALFORMED);
	assert_int_equal(evidence_verify(NULL, 0, pol, strlen(pol), SPKI, sizeof(SPKI), NONCE,
					 sizeof(NONCE), &o, err, sizeof(err), &v),
			 EVIDENCE_MALFORMED);

	json_t *e = mk_evidence(&TC, CERTS_FULL, raw);
	json_object_set_new(e, "report", json_string("AAAA*AAA"));
	verify(e, pol, EVIDENCE_MALFORMED, "report: not base64");
	json_object_set_new(e, "report", json_string(""));
	verify(e, pol, EVIDENCE_MALFORMED, "report: not base64");
	json_object_set_new(e, "report", json_integer(1));
	verify(e, pol, EVIDENCE_MALFORMED, "report: missing");
	json_object_set_new(e, "report", b64(raw, SNP_REPORT_BYTES));
	json_t *certs = json_object_get(e, "certs");
	json_object_set_new(certs, "ask", json_string("bm90IGEgY2VydA=="));
	verify(e, pol, EVIDENCE_MALFORMED, "certs: malformed");
	json_object_set_new(certs, "ask", json_string("not base64!"));
	verify(e, pol, EVIDENCE_MALFORMED, "certs.ask: not base64");
	json_object_set_new(certs, "ask", json_true());
	verify(e, pol, EVIDENCE_MALFORMED, "certs.ask: want a base64 string");
	json_object_set_new(e, "certs", json_string("x"));
	verify(e, pol, EVIDENCE_MALFORMED, "certs: want an object");
	json_object_set_new(e, "report_data", json_null());
	verify(e, pol, EVIDENCE_MALFORMED, "report_data: missing");
	json_decref(e);
	free(pol);
}

/* EVIDENCE_MAX_BYTES: a reply of exactly that size is read, one byte more is refused unread;
 * a certificate or report field past its own bound is refused before it is decoded. */
static void test_limits(void **state)
{
	(void)state;
	uint8_t raw[SNP_REPORT_BYTES];
	char *pol = mk_policy(0x11, NULL);
	json_t *e = mk_evidence(&TC, CERTS_FULL, raw);
	char *body = json_dumps(e, JSON_COMPACT);
	size_t n = strlen(body);
	char *big = malloc(EVIDENCE_MAX_BYTES + 2);
	assert_non_null(big);
	memcpy(big, body, n);
	memset(big + n, ' ', EVIDENCE_MAX_BYTES + 1 - n); /* trailing whitespace is JSON */
	struct evidence_opts o = { .now = NOW,
				   .test_roots = (const uint8_t *)roots_pem,
				   .test_roots_len = roots_len };
	char err[256];
	assert_int_equal(evidence_verify(big, EVIDENCE_MAX_BYTES, pol, strlen(pol), SPKI,
					 sizeof(SPKI), NONCE, sizeof(NONCE), &o, err, sizeof(err),
					 NULL),
			 EVIDENCE_OK);
	assert_int_equal(evidence_verify(big, EVIDENCE_MAX_BYTES + 1, pol, strlen(pol), SPKI,
					 sizeof(SPKI), NONCE, sizeof(NONCE), &o, err, sizeof(err),
					 NULL),
			 EVIDENCE_MALFORMED);
	assert_string_equal(err, "evidence: 262145 bytes, limit 262144");
	free(big);
	free(body);

	/* a certificate field: base64 of SNP_CERT_MAX_BYTES (rounded up to whole quanta) is
	 * decoded (and then refused by the certificate parser), 4 characters more are not */
	size_t cl = 4 * ((SNP_CERT_MAX_BYTES + 2) / 3);
	char *s = malloc(cl + 5);
	assert_non_null(s);
	memset(s, 'A', cl + 4);
	s[cl] = '\0';
	json_object_set_new(json_object_get(e, "certs"), "ark", json_string(s));
	verify(e, pol, EVIDENCE_MALFORMED, "certs: malformed");
	s[cl] = 'A';
	s[cl + 4] = '\0';
	json_object_set_new(json_object_get(e, "certs"), "ark", json_string(s));
	verify(e, pol, EVIDENCE_MALFORMED, "certs.ark: 21852 base64 characters, limit 21848");
	free(s);
	/* the nonce: 64 bytes is the agent's limit */
	struct run r;
	uint8_t n65[65] = { 0 };
	verify_full(e, pol, SPKI, sizeof(SPKI), n65, 65, roots_pem, roots_len, NOW,
		    EVIDENCE_MALFORMED, "nonce: 65 bytes, limit 64", &r);
	verify_full(e, pol, SPKI, sizeof(SPKI), n65, 64, roots_pem, roots_len, NOW,
		    EVIDENCE_REFUSED, "nonce: ", &r);
	json_decref(e);
	free(pol);
}

/* ---------------------------------------------------------------------------------------- */
/* Intel TDX with real data: a quote from a real TD and Intel's collateral for it
 * (../shared/testdata/tdx, the v4_b0c06f_dcapqvl case: UpToDate at 2025-07-19T10:00:34Z).
 * Its REPORTDATA is the TD's own, not our binding, so a full pass is impossible with it; what
 * it shows is that the whole Intel verification passes inside evidence_verify (the first
 * failing check is the last one, report_data) and that each other failure is named. */

#define TDX_REAL_NOW 1752919234LL /* 2025-07-19T10:00:34Z */

static char *testdata_path(const char *rel)
{
	const char *td = getenv("TESTDATA");
	char *p = NULL;
	if (td && td[0])
		assert_true(asprintf(&p, "%s/%s", td, rel) > 0);
	else
		assert_true(asprintf(&p, "%s/../shared/testdata/%s",
				     getenv("SRCDIR") ? getenv("SRCDIR") : ".", rel) > 0);
	return p;
}

static struct tdx_collateral *real_collateral(void)
{
	char *dir = testdata_path("tdx/collateral/dcapqvl_2025-06_b0c06f");
	struct tdx_collateral_dir d;
	char err[512];
	if (tdx_collateral_dir_read(dir, &d, err, sizeof(err)) < 0)
		fail_msg("%s: %s", dir, err);
	free(dir);
	struct tdx_verdict v;
	struct tdx_collateral *c = tdx_collateral_new(&d.o, &v);
	tdx_collateral_dir_done(&d);
	assert_non_null(c);
	assert_int_equal(v.reason, TDX_OK);
	return c;
}

/* The agent's reply carrying the real quote (optionally with byte flip_at xor 1), bound in its
 * JSON to SPKI and NONCE. */
static json_t *tdx_real_evidence(long flip_at)
{
	char *qp = testdata_path("tdx/valid/v4_b0c06f_dcapqvl/quote.dat");
	char *q = NULL;
	size_t ql = 0;
	assert_int_equal(fsx_read_file(qp, TDX_QUOTE_MAX_BYTES, &q, &ql), 0);
	free(qp);
	if (flip_at >= 0) {
		assert_true((size_t)flip_at < ql);
		q[flip_at] ^= 1;
	}
	json_t *e = evidence_head(SPKI, sizeof(SPKI), "tdx_guest", (const uint8_t *)q, ql);
	json_object_set_new(e, "tee_type", json_string("tdx"));
	json_object_set_new(e, "generation", json_integer(1));
	free(q);
	return e;
}

static void tdx_check_full(json_t *e, const char *policy, const struct tdx_collateral *col,
			   int64_t now, const uint8_t *spki, size_t spki_len, int want_rc,
			   const char *want)
{
	char *body = json_dumps(e, JSON_COMPACT);
	assert_non_null(body);
	struct evidence_opts o = { .now = now, .tdx_collateral = col };
	char err[512];
	json_t *verdict = (json_t *)1;
	int rc = evidence_verify(body, strlen(body), policy, strlen(policy), spki, spki_len, NONCE,
				 sizeof(NONCE), &o, err, sizeof(err), &verdict);
	free(body);
	if (rc != want_rc || !strstr(err, want))
		fail_msg("rc %d err \"%s\", want %d \"%s\"", rc, err, want_rc, want);
	assert_null(verdict);
}

static void tdx_check(json_t *e, const char *policy, const struct tdx_collateral *col, int64_t now,
		      int want_rc, const char *want)
{
	tdx_check_full(e, policy, col, now, SPKI, sizeof(SPKI), want_rc, want);
}

static void tdx_check_key(json_t *e, const char *policy, const struct tdx_collateral *col,
			  const uint8_t *spki, size_t spki_len, int want_rc, const char *want)
{
	tdx_check_full(e, policy, col, NOW, spki, spki_len, want_rc, want);
}

static const char TDX_POLICY[] = "{\"tdx_policy\":{\"accepted_tcb_statuses\":[\"UpToDate\"]}}";

static void test_tdx_real_quote(void **state)
{
	(void)state;
	struct tdx_collateral *col = real_collateral();
	json_t *e = tdx_real_evidence(-1);
	/* Everything Intel's side verifies; only our binding is (necessarily) missing. */
	tdx_check(e, TDX_POLICY, col, TDX_REAL_NOW, EVIDENCE_REFUSED, "report_data: ");
	/* A measurement the policy does not accept is named before the binding. */
	char pol[256];
	snprintf(pol, sizeof(pol), "{\"tdx_policy\":{\"mr_td\":\"%096d\"}}", 0);
	tdx_check(e, pol, col, TDX_REAL_NOW, EVIDENCE_REFUSED, "mr_td: ");
	/* At the real date the collateral has expired. */
	tdx_check(e, TDX_POLICY, col, NOW, EVIDENCE_REFUSED,
		  "signature_and_chain: collateral_expired: ");
	/* No collateral configured: refused by name. */
	tdx_check(e, TDX_POLICY, NULL, TDX_REAL_NOW, EVIDENCE_REFUSED,
		  "cloisterd has no Intel collateral");
	/* A policy without a TDX section. */
	tdx_check(e, "{\"snp_policy\":{\"policy\":196608}}", col, TDX_REAL_NOW, EVIDENCE_REFUSED,
		  "the policy has no TDX section");
	json_decref(e);

	/* A flipped byte of the signed body (MRTD, at 48 + 136): the quote signature fails. */
	e = tdx_real_evidence(48 + 136);
	tdx_check(e, TDX_POLICY, col, TDX_REAL_NOW, EVIDENCE_REFUSED,
		  "signature_and_chain: bad_signature: ");
	json_decref(e);
	/* The version field: the quote does not parse (malformed evidence, not a refusal). */
	e = tdx_real_evidence(0);
	tdx_check(e, TDX_POLICY, col, TDX_REAL_NOW, EVIDENCE_MALFORMED, "report: ");
	json_decref(e);
	tdx_collateral_free(col);
}

static void test_tdx_report_field(void **state)
{
	(void)state;
	struct tdx_collateral *col = real_collateral();
	json_t *e = tdx_real_evidence(-1);
	json_object_set_new(e, "report", json_string("not base64!"));
	tdx_check(e, TDX_POLICY, col, TDX_REAL_NOW, EVIDENCE_MALFORMED, "report: not base64");
	/* Over the quote limit (as base64): refused before decoding. */
	size_t n = 4u * ((TDX_QUOTE_MAX_BYTES + 2) / 3) + 4;
	char *big = malloc(n + 1);
	assert_non_null(big);
	memset(big, 'A', n);
	big[n] = '\0';
	json_object_set_new(e, "report", json_string(big));
	free(big);
	tdx_check(e, TDX_POLICY, col, TDX_REAL_NOW, EVIDENCE_MALFORMED, "base64 characters, limit");
	json_object_del(e, "report");
	tdx_check(e, TDX_POLICY, col, TDX_REAL_NOW, EVIDENCE_MALFORMED, "report: missing");
	json_decref(e);
	tdx_collateral_free(col);
}

/* Intel TDX end to end with the test Intel-style PKI (tests/fixtures/tdx_testchain.c): a quote
 * whose REPORTDATA is the binding passes, with the verdict; the same quote presented for
 * another key, or bound to another key, is refused. */
static void test_tdx_synthetic(void **state)
{
	(void)state;
	struct tdx_tc *tc = tdx_tc_make(NOW);
	assert_non_null(tc);
	struct tdx_collateral_opts co;
	tdx_tc_collateral_opts(tc, &co);
	struct tdx_verdict cv;
	struct tdx_collateral *col = tdx_collateral_new(&co, &cv);
	assert_non_null(col);
	assert_int_equal(cv.reason, TDX_OK);
	uint8_t rd[64];
	binding(rd, SPKI, sizeof(SPKI), NONCE, sizeof(NONCE));
	size_t qlen = 0;
	uint8_t *quote = tdx_tc_quote(tc, rd, &qlen);
	assert_non_null(quote);
	char pol[1024];
	snprintf(pol, sizeof(pol),
		 "{\"tdx_policy\":{\"mr_td\":\"%s\",\"rtmrs\":[\"%s\",\"%s\",\"%s\",\"%s\"],"
		 "\"td_attributes\":\"%s\",\"xfam\":\"%s\"}}",
		 TDX_TC_MRTD_HEX, TDX_TC_RTMR0_HEX, TDX_TC_RTMR1_HEX, TDX_TC_RTMR2_HEX,
		 TDX_TC_RTMR3_HEX, TDX_TC_TD_ATTRIBUTES, TDX_TC_XFAM);

	json_t *e = evidence_head(SPKI, sizeof(SPKI), "tdx_guest", quote, qlen);
	char *body = json_dumps(e, JSON_COMPACT);
	assert_non_null(body);
	struct evidence_opts o = { .now = NOW, .tdx_collateral = col };
	char err[512];
	json_t *verdict = NULL;
	int rc = evidence_verify(body, strlen(body), pol, strlen(pol), SPKI, sizeof(SPKI), NONCE,
				 sizeof(NONCE), &o, err, sizeof(err), &verdict);
	if (rc != EVIDENCE_OK)
		fail_msg("rc %d: %s", rc, err);
	assert_string_equal(err, "");
	assert_non_null(verdict);
	assert_true(json_is_true(json_object_get(verdict, "verified")));
	assert_string_equal(json_string_value(json_object_get(verdict, "binding")), "ok");
	json_decref(verdict);
	/* The same reply on a connection with another key: the binding fails first. */
	rc = evidence_verify(body, strlen(body), pol, strlen(pol), SPKI2, sizeof(SPKI2), NONCE,
			     sizeof(NONCE), &o, err, sizeof(err), NULL);
	assert_int_equal(rc, EVIDENCE_REFUSED);
	assert_non_null(strstr(err, "report_data: not SHA-512(SPKI || nonce)"));
	free(body);
	json_decref(e);
	/* A reply that claims another key in its JSON while the quote binds SPKI: the quote's
	 * REPORTDATA is what counts. */
	e = evidence_head(SPKI2, sizeof(SPKI2), "tdx_guest", quote, qlen);
	tdx_check_key(e, pol, col, SPKI2, sizeof(SPKI2), EVIDENCE_REFUSED, "report_data: ");
	json_decref(e);
	/* TD attributes with DEBUG refused by default: a policy wanting another value is named. */
	snprintf(pol, sizeof(pol), "{\"tdx_policy\":{\"td_attributes\":\"0x1\"}}");
	e = evidence_head(SPKI, sizeof(SPKI), "tdx_guest", quote, qlen);
	tdx_check_key(e, pol, col, SPKI, sizeof(SPKI), EVIDENCE_REFUSED, "td_attributes: ");
	json_decref(e);
	free(quote);
	tdx_collateral_free(col);
	tdx_tc_free(tc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verified),       cmocka_unit_test(test_wrong_nonce),
		cmocka_unit_test(test_other_key),      cmocka_unit_test(test_tampered_report),
		cmocka_unit_test(test_untrusted_vcek), cmocka_unit_test(test_production_roots),
		cmocka_unit_test(test_expired),        cmocka_unit_test(test_policy_mismatch),
		cmocka_unit_test(test_provider_none),  cmocka_unit_test(test_tee),
		cmocka_unit_test(test_malformed),      cmocka_unit_test(test_limits),
		cmocka_unit_test(test_tdx_real_quote), cmocka_unit_test(test_tdx_report_field),
		cmocka_unit_test(test_tdx_synthetic),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
