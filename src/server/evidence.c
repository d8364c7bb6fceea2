/*
 * evidence.c - cloisterd's verification of an agent's attestation evidence (see evidence.h).
 *
 * The checks run in this order and the first failure is the answer, named as "<check>: <why>":
 *   1. the reply: at most EVIDENCE_MAX_BYTES, strict JSON (json_parse_strict), an object; the
 *      policy parses (attest_policy_parse: SEV-SNP and/or TDX sections; it was validated when
 *      stored, so a failure here is EVIDENCE_MALFORMED, not a refusal of the agent)
 *   2. the binding, before anything costly: "nonce" is the hex of the nonce we sent, and
 *      "report_data" is hex(SHA-512(SPKI DER || nonce)) for the key of the TLS connection the
 *      reply came on ("tls_spki_sha256", when present, must be that key's SHA-256). A reply
 *      replayed from another connection or another key fails here.
 *   3. provider "none": accepted as EVIDENCE_UNATTESTED only when the policy opts in with a
 *      top-level "allow_unattested": true (policy.c records it; DESIGN.md "Trust")
 *   4. tee "sev_guest": the base64 "report" parses (snp_report_parse); the VCEK (or VLEK, as
 *      the report's signing-key field says) from "certs" builds a chain (snp_chain_new) with
 *      the ASK/ARK the agent sent; when it sent no ASK, the caller's test roots (which carry
 *      the test ASK) stand in as the chain, so a test VCEK alone can be verified; otherwise
 *      the pinned AMD ASKs are used. A host-supplied CRL is checked too (it can only refuse).
 *      snp_verify_report then checks the report against the chain.
 *   5. the policy (snp_policy_evaluate) with REPORT_DATA forced to the binding of step 2 and
 *      the chain verdict as its first check: every check is evaluated and the first failing
 *      one is the refusal ("measurement: ... (report: <hex>)", "signature_and_chain:
 *      unknown_root: ..."), with the report's value when the check shows one.
 *   4'. tee "tdx_guest": the base64 "report" is the quote (tdx_quote_parse); tdx_verify checks
 *      it against the caller's collateral (signatures, PCK chain up to the Intel root, CRLs,
 *      QE and TDX module identities, collateral windows at o->now, TCB level) and the verdict
 *      becomes the first check of tdx_policy_evaluate, run with REPORTDATA forced to the
 *      binding of step 2 (5. as for SEV-SNP: the first failing check is the refusal). Without
 *      collateral the evidence is refused by name.
 * Evidence of one TEE against a policy without that TEE's section is refused.
 *
 * Everything the agent sent is untrusted: sizes are bounded before decoding, base64 is decoded
 * strictly, and messages quote none of its bytes (only our own hex and lengths), so an err
 * can be logged and stored as a backend's last_error as is.
 */
#include "server/evidence.h"

#include "attest/policy.h"
#include "attest/snp.h"
#include "attest/tdx.h"
#include "json.h"
#include "util.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define EV_NONCE_MAX_BYTES 64 /* the agent's AGENT_ATTEST_NONCE_MAX_BYTES */
#define EV_RD_BYTES 64
#define EV_ACTUAL_MAX_CHARS 96 /* a 48-byte measurement in hex; longer values are left out */
#define EV_REPORT_B64_MAX_CHARS (4u * ((SNP_HCL_MAX_BYTES + 2) / 3))
#define EV_CERT_B64_MAX_CHARS (4u * ((SNP_CERT_MAX_BYTES + 2) / 3))
#define EV_CRL_B64_MAX_CHARS (4u * ((SNP_CRL_MAX_BYTES + 2) / 3))
#define EV_QUOTE_B64_MAX_CHARS (4u * ((TDX_QUOTE_MAX_BYTES + 2) / 3))

__attribute__((format(printf, 4, 5))) static int ev_fail(char *err, size_t errlen, int rc,
							 const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* A string member, or NULL when absent or not a string. */
static const char *str_member(json_t *o, const char *key, size_t *len)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_string(v))
		return NULL;
	*len = json_string_length(v);
	return json_string_value(v);
}

/* Strict standard base64 (padding required, no whitespace) of at most max_chars characters.
 * Returns 0 with *out (caller frees) or -EINVAL / -E2BIG / -ENOMEM. */
static int b64_decode(const char *s, size_t n, size_t max_chars, uint8_t **out, size_t *outlen)
{
	*out = NULL;
	*outlen = 0;
	if (n == 0)
		return -EINVAL;
	if (n > max_chars)
		return -E2BIG;
	size_t cap = n / 4 * 3 + 3;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	const char *end = NULL;
	if (sodium_base642bin(buf, cap, s, n, NULL, outlen, &end, sodium_base64_VARIANT_ORIGINAL) !=
		    0 ||
	    end != s + n || *outlen == 0) {
		free(buf);
		*outlen = 0;
		return -EINVAL;
	}
	*out = buf;
	return 0;
}

/* hex == the lower-case hex of want[0..n) (any case accepted). */
static bool hex_equals(const char *hex, size_t hexlen, const uint8_t *want, size_t n)
{
	char buf[2 * EV_RD_BYTES + 1];
	if (n > EV_RD_BYTES || hexlen != 2 * n)
		return false;
	util_hex(buf, want, n);
	return strncasecmp(hex, buf, hexlen) == 0;
}

/* The certificate named key in certs, decoded; -ENOENT when absent. */
static int cert_member(json_t *certs, const char *key, size_t max_chars, uint8_t **out, size_t *len,
		       char *err, size_t errlen)
{
	*out = NULL;
	*len = 0;
	json_t *v = json_object_get(certs, key);
	if (!v || json_is_null(v))
		return -ENOENT;
	if (!json_is_string(v))
		return ev_fail(err, errlen, -EINVAL, "certs.%s: want a base64 string", key);
	int rc = b64_decode(json_string_value(v), json_string_length(v), max_chars, out, len);
	if (rc == -E2BIG)
		return ev_fail(err, errlen, rc, "certs.%s: %zu base64 characters, limit %zu", key,
			       json_string_length(v), max_chars);
	if (rc < 0)
		return ev_fail(err, errlen, rc, "certs.%s: not base64", key);
	return 0;
}

/* Step 5 for either TEE: a failed policy verdict names its first failing check ("<check>:
 * <detail> (report: <value>)"; the chain check with the verifier's reason name), a passed one
 * gains "binding":"ok" and is handed to *verdict (taking res; the caller's reference is then
 * NULL). Returns EVIDENCE_OK, EVIDENCE_REFUSED or EVIDENCE_MALFORMED (out of memory). */
static int policy_result(json_t *res, bool pass, const char *chain_reason, char *err, size_t errlen,
			 json_t **verdict)
{
	if (!pass) {
		size_t i;
		json_t *chk;
		json_array_foreach(json_object_get(res, "checks"), i, chk)
		{
			const char *st = json_string_value(json_object_get(chk, "result"));
			if (!st || strcmp(st, "fail") != 0)
				continue;
			const char *name = json_string_value(json_object_get(chk, "name"));
			const char *det = json_string_value(json_object_get(chk, "detail"));
			/* our own rendering of a signed report field: hex or a number */
			const char *act = json_string_value(json_object_get(chk, "actual"));
			if (name && strcmp(name, "signature_and_chain") == 0)
				return ev_fail(err, errlen, EVIDENCE_REFUSED, "%s: %s: %s", name,
					       chain_reason, det ? det : "");
			if (act && strlen(act) <= EV_ACTUAL_MAX_CHARS)
				return ev_fail(err, errlen, EVIDENCE_REFUSED, "%s: %s (report: %s)",
					       name ? name : "policy", det ? det : "failed", act);
			return ev_fail(err, errlen, EVIDENCE_REFUSED, "%s: %s",
				       name ? name : "policy", det ? det : "failed");
		}
		return ev_fail(err, errlen, EVIDENCE_REFUSED, "policy: failed");
	}
	if (json_object_set_new(res, "binding", json_string("ok")) < 0)
		return ev_fail(err, errlen, EVIDENCE_MALFORMED, "out of memory");
	if (verdict)
		*verdict = json_incref(res);
	return ev_fail(err, errlen, EVIDENCE_OK, "%s", "");
}

/* Steps 4 and 5 for SEV-SNP evidence. */
static int verify_snp(json_t *ev, struct snp_policy *pol, const uint8_t rd[EV_RD_BYTES],
		      const struct evidence_opts *o, char *err, size_t errlen, json_t **verdict)
{
	size_t len = 0;
	const char *b64 = str_member(ev, "report", &len);
	if (!b64)
		return ev_fail(err, errlen, EVIDENCE_MALFORMED, "report: missing");
	uint8_t *raw = NULL, *leaf = NULL, *ask = NULL, *ark = NULL, *crl = NULL, *chain = NULL;
	size_t raw_len = 0, leaf_len = 0, ask_len = 0, ark_len = 0, crl_len = 0;
	struct snp_chain *c = NULL;
	json_t *res = NULL;
	int ret = EVIDENCE_MALFORMED;
	int rc = b64_decode(b64, len, EV_REPORT_B64_MAX_CHARS, &raw, &raw_len);
	if (rc < 0) {
		if (rc == -E2BIG)
			ev_fail(err, errlen, ret, "report: %zu base64 characters, limit %u", len,
				EV_REPORT_B64_MAX_CHARS);
		else
			ev_fail(err, errlen, ret, "report: not base64");
		goto out;
	}
	struct snp_report r;
	char perr[256];
	if (snp_report_parse(raw, raw_len, &r, perr, sizeof(perr)) < 0) {
		ev_fail(err, errlen, ret, "report: %s", perr);
		goto out;
	}

	json_t *certs = json_object_get(ev, "certs");
	if (certs && !json_is_object(certs) && !json_is_null(certs)) {
		ev_fail(err, errlen, ret, "certs: want an object");
		goto out;
	}
	bool vlek = snp_report_signer(&r) == SNP_SIGNER_VLEK;
	const char *leaf_name = vlek ? "vlek" : "vcek";
	rc = cert_member(certs, leaf_name, EV_CERT_B64_MAX_CHARS, &leaf, &leaf_len, err, errlen);
	if (rc == -ENOENT) {
		/* cloisterd does not fetch from AMD's KDS: the host must hand the VCEK out. */
		ret = ev_fail(
			err, errlen, EVIDENCE_REFUSED,
			"signature_and_chain: the evidence carries no %s (the host supplies no "
			"certificate table)",
			vlek ? "VLEK" : "VCEK");
		goto out;
	}
	if (rc < 0 ||
	    ((rc = cert_member(certs, "ask", EV_CERT_B64_MAX_CHARS, &ask, &ask_len, err, errlen)) <
		     0 &&
	     rc != -ENOENT) ||
	    ((rc = cert_member(certs, "ark", EV_CERT_B64_MAX_CHARS, &ark, &ark_len, err, errlen)) <
		     0 &&
	     rc != -ENOENT) ||
	    ((rc = cert_member(certs, "crl", EV_CRL_B64_MAX_CHARS, &crl, &crl_len, err, errlen)) <
		     0 &&
	     rc != -ENOENT))
		goto out;

	struct snp_chain_opts co = { .leaf = leaf,
				     .leaf_len = leaf_len,
				     .crl = crl,
				     .crl_len = crl_len,
				     .now = o ? o->now : 0,
				     .test_roots = o ? o->test_roots : NULL,
				     .test_roots_len = o ? o->test_roots_len : 0 };
	if (ask || ark) {
		/* ASK and ARK as one concatenated DER blob (snp.c reads several). */
		chain = malloc(ask_len + ark_len);
		if (!chain) {
			ev_fail(err, errlen, ret, "out of memory");
			goto out;
		}
		if (ask)
			memcpy(chain, ask, ask_len);
		if (ark)
			memcpy(chain + ask_len, ark, ark_len);
		co.chain = chain;
		co.chain_len = ask_len + ark_len;
	} else if (co.test_roots) {
		co.chain = co.test_roots;
		co.chain_len = co.test_roots_len;
	}
	struct snp_verdict cv;
	c = snp_chain_new(&co, &cv);
	if (!c) {
		/* Unparsable certificates (or no memory): nothing to evaluate. */
		ev_fail(err, errlen, ret, "certs: %s", cv.detail);
		goto out;
	}
	if (cv.reason == SNP_OK)
		snp_verify_report(c, &r, &cv);

	bool pass = false;
	if (snp_policy_set_report_data(pol, rd) < 0 ||
	    !(res = snp_policy_evaluate(pol, &r, &cv, &pass))) {
		ev_fail(err, errlen, ret, "out of memory");
		goto out;
	}
	ret = policy_result(res, pass, snp_reason_name(cv.reason), err, errlen, verdict);
out:
	json_decref(res);
	snp_chain_free(c);
	free(chain);
	free(raw);
	free(leaf);
	free(ask);
	free(ark);
	free(crl);
	return ret;
}

/* Steps 4' and 5 for Intel TDX evidence. */
static int verify_tdx(json_t *ev, struct tdx_policy *pol, const uint8_t rd[EV_RD_BYTES],
		      const struct evidence_opts *o, char *err, size_t errlen, json_t **verdict)
{
	if (!o || !o->tdx_collateral)
		return ev_fail(err, errlen, EVIDENCE_REFUSED,
			       "tdx: cloisterd has no Intel collateral to verify TDX quotes with "
			       "(set [fleet] tdx_collateral_dir)");
	size_t len = 0;
	const char *b64 = str_member(ev, "report", &len);
	if (!b64)
		return ev_fail(err, errlen, EVIDENCE_MALFORMED, "report: missing");
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	int rc = b64_decode(b64, len, EV_QUOTE_B64_MAX_CHARS, &raw, &raw_len);
	if (rc == -E2BIG)
		return ev_fail(err, errlen, EVIDENCE_MALFORMED,
			       "report: %zu base64 characters, limit %u", len,
			       EV_QUOTE_B64_MAX_CHARS);
	if (rc < 0)
		return ev_fail(err, errlen, EVIDENCE_MALFORMED, "report: not base64");
	struct tdx_quote q;
	char perr[256];
	rc = tdx_quote_parse(raw, raw_len, &q, perr, sizeof(perr));
	free(raw);
	if (rc < 0)
		return ev_fail(err, errlen, EVIDENCE_MALFORMED, "report: %s", perr);
	struct tdx_verdict tv;
	tdx_verify(&q, o->tdx_collateral, o->now, &tv);
	bool pass = false;
	json_t *res = NULL;
	int ret;
	if (tdx_policy_set_report_data(pol, rd) < 0 ||
	    !(res = tdx_policy_evaluate(pol, &q, &tv, &pass)))
		ret = ev_fail(err, errlen, EVIDENCE_MALFORMED, "out of memory");
	else
		ret = policy_result(res, pass, tdx_reason_name(tv.reason), err, errlen, verdict);
	json_decref(res);
	tdx_quote_done(&q);
	return ret;
}

int evidence_verify(const char *body, size_t body_len, const char *policy, size_t policy_len,
		    const unsigned char *spki_der, size_t spki_len, const unsigned char *nonce,
		    size_t nonce_len, const struct evidence_opts *o, char *err, size_t errlen,
		    json_t **verdict)
{
	if (verdict)
		*verdict = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!body || !policy || !spki_der || !spki_len || !nonce || !nonce_len)
		return ev_fail(err, errlen, EVIDENCE_MALFORMED,
			       "evidence_verify: missing argument");
	if (nonce_len > EV_NONCE_MAX_BYTES)
		return ev_fail(err, errlen, EVIDENCE_MALFORMED, "nonce: %zu bytes, limit %d",
			       nonce_len, EV_NONCE_MAX_BYTES);
	if (body_len > EVIDENCE_MAX_BYTES)
		return ev_fail(err, errlen, EVIDENCE_MALFORMED, "evidence: %zu bytes, limit %u",
			       body_len, EVIDENCE_MAX_BYTES);
	json_error_t je;
	json_t *ev = json_parse_strict(body, body_len, &je);
	if (!ev)
		return ev_fail(err, errlen, EVIDENCE_MALFORMED, "evidence: not JSON: %s", je.text);
	char perr[SNP_POLICY_ERR_BYTES];
	struct attest_policy *pol = NULL;
	int ret = EVIDENCE_MALFORMED;
	if (!json_is_object(ev)) {
		ev_fail(err, errlen, ret, "evidence: want a JSON object");
		goto out;
	}
	pol = attest_policy_parse(policy, policy_len, perr, sizeof(perr));
	if (!pol) {
		ev_fail(err, errlen, ret, "policy: %s", perr);
		goto out;
	}

	/* The binding: this nonce, this connection's key. */
	size_t len = 0;
	const char *s = str_member(ev, "nonce", &len);
	if (!s) {
		ev_fail(err, errlen, ret, "nonce: missing");
		goto out;
	}
	if (!hex_equals(s, len, nonce, nonce_len)) {
		ret = ev_fail(
			err, errlen, EVIDENCE_REFUSED,
			"nonce: the evidence answers another nonce than the %zu-byte one sent",
			nonce_len);
		goto out;
	}
	uint8_t rd[EV_RD_BYTES];
	crypto_hash_sha512_state st;
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, spki_der, spki_len);
	crypto_hash_sha512_update(&st, nonce, nonce_len);
	crypto_hash_sha512_final(&st, rd);
	if (!(s = str_member(ev, "report_data", &len))) {
		ev_fail(err, errlen, ret, "report_data: missing");
		goto out;
	}
	if (!hex_equals(s, len, rd, sizeof(rd))) {
		ret = ev_fail(
			err, errlen, EVIDENCE_REFUSED,
			"report_data: not SHA-512(SPKI || nonce) of this connection's TLS key: "
			"the evidence is bound to another key");
		goto out;
	}
	if ((s = str_member(ev, "tls_spki_sha256", &len))) {
		uint8_t h[crypto_hash_sha256_BYTES];
		crypto_hash_sha256(h, spki_der, spki_len);
		if (!hex_equals(s, len, h, sizeof(h))) {
			ret = ev_fail(
				err, errlen, EVIDENCE_REFUSED,
				"tls_spki_sha256: not the SHA-256 of this connection's TLS key");
			goto out;
		}
	}

	const char *provider = str_member(ev, "provider", &len);
	if (!provider) {
		ev_fail(err, errlen, ret, "provider: missing");
		goto out;
	}
	if (strcmp(provider, "none") == 0) {
		if (pol->allow_unattested)
			ret = ev_fail(err, errlen, EVIDENCE_UNATTESTED, "%s", "");
		else
			ret = ev_fail(
				err, errlen, EVIDENCE_REFUSED,
				"provider: the agent has no attestation provider (\"none\") and "
				"the policy does not set \"allow_unattested\": true");
		goto out;
	}
	const char *tee = str_member(ev, "tee", &len);
	if (!tee) {
		ev_fail(err, errlen, ret, "tee: missing");
		goto out;
	}
	if (strcmp(tee, "sev_guest") == 0 && !pol->snp)
		ret = ev_fail(err, errlen, EVIDENCE_REFUSED,
			      "tee: SEV-SNP evidence, and the policy has no SEV-SNP section");
	else if (strcmp(tee, "sev_guest") == 0)
		ret = verify_snp(ev, pol->snp, rd, o, err, errlen, verdict);
	else if (strcmp(tee, "tdx_guest") == 0 && !pol->tdx)
		ret = ev_fail(err, errlen, EVIDENCE_REFUSED,
			      "tee: Intel TDX evidence, and the policy has no TDX section");
	else if (strcmp(tee, "tdx_guest") == 0)
		ret = verify_tdx(ev, pol->tdx, rd, o, err, errlen, verdict);
	else
		ret = ev_fail(err, errlen, EVIDENCE_REFUSED,
			      "tee: unknown TEE (want sev_guest or tdx_guest)");
out:
	attest_policy_free(pol);
	json_decref(ev);
	return ret;
}
