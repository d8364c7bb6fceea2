/*
 * attestation.c - GET /attestation?nonce=<hex> (see attestation.h).
 *
 *   200 {"provider":"configfs-tsm","tee":"sev_guest"|"tdx_guest","tee_type":"snp"|"tdx",
 *        "attested":true,"nonce":hex,"report_data":hex,"tls_spki_sha256":hex,
 *        "report":base64(outblob) (SNP: the 1184-byte report; TDX: the whole quote),
 *        "certs":{"vcek"|"vlek"|"ask"|"ark"|"crl": base64 DER} (SNP, from the auxblob's
 *        certificate table, when the host supplied one),"generation":N}
 *   200 {"provider":"none","attested":false,"nonce","report_data","tls_spki_sha256"}
 *   400 nonce missing, empty, not hex, or over AGENT_ATTEST_NONCE_MAX_BYTES
 *   409 TLS is off: there is no key for the evidence to bind
 *   502 the provider answered something unusable (an I/O error from the firmware, an empty or
 *       oversized blob, an unknown TEE, a report whose REPORT_DATA is not ours, a malformed
 *       certificate table)
 *   503 no provider here (configfs-tsm missing, no permission) or a concurrent writer kept
 *       changing the entry: try again later
 *
 * "tee" is the configfs-tsm provider attribute as the kernel writes it (cloisterd and older
 * clients read it); "tee_type" is the same as the short name that `cloister attest verify` and
 * the policy file's sections use. Which one the outblob is comes from the provider attribute
 * (tsm_evidence.tee), never from guessing at the bytes.
 *
 * The SPKI is read once at start-up from the certificate the server was started with (the
 * agent never changes its certificate while running), so every reply binds the key that
 * actually terminates the TLS connection. Before answering we check that the report carries
 * the report_data we asked for: a kernel or fixture answering another writer's request must
 * never produce evidence that looks valid for this nonce.
 */
#include "agent/attestation.h"

#include "agent/agent.h"
#include "agent/limits.h"
#include "attest/snp.h"
#include "attest/tsm.h"
#include "log.h"
#include "util.h"
#include "x509.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ATT_SNP_REPORT_DATA_OFFSET 0x50
#define ATT_TDX_V4_BODY_OFFSET 48 /* quote header */
#define ATT_TDX_V5_BODY_OFFSET 54 /* header, u16 body type, u32 body size */
#define ATT_TDX_REPORTDATA_OFFSET 520
#define ATT_REPORT_DATA_BYTES 64

int attestation_init(struct agent *a, char *err, size_t errlen)
{
	const struct settings *c = a->cfg;
	if (!c->tls_enabled) {
		if (strcmp(c->attestation_provider, "none") != 0)
			log_kv(CLOG_WARN, "attestation needs TLS: GET /attestation will answer 409",
			       "provider", c->attestation_provider, NULL);
		return 0;
	}
	int rc = x509_spki_der_file(c->tls_cert_path, &a->tls_spki, &a->tls_spki_len);
	if (rc < 0) {
		snprintf(err, errlen, "attestation: cannot read the public key of %s: %s",
			 c->tls_cert_path, strerror(-rc));
		return rc;
	}
	if (strcmp(c->attestation_provider, "configfs-tsm") == 0 && access(c->tsm_path, F_OK) != 0)
		log_kv(CLOG_WARN, "attestation: the configfs-tsm directory is missing", "tsm_path",
		       c->tsm_path, NULL);
	return 0;
}

void attestation_done(struct agent *a)
{
	free(a->tls_spki);
	a->tls_spki = NULL;
	a->tls_spki_len = 0;
}

static json_t *b64(const uint8_t *p, size_t n)
{
	size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(cap);
	if (!s)
		return NULL;
	sodium_bin2base64(s, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
	json_t *j = json_string(s);
	free(s);
	return j;
}

/* Does the evidence carry our report_data where its format puts it? */
static bool binds(enum tsm_tee tee, const uint8_t *out, size_t n, const uint8_t *rd)
{
	size_t off;
	if (tee == TSM_TEE_SNP) {
		if (n < SNP_REPORT_BYTES)
			return false;
		off = ATT_SNP_REPORT_DATA_OFFSET;
	} else {
		/* A TD quote: TEE type 0x81 at offset 4, then the body after a v4 or v5 header. */
		if (n < 8 || out[4] != 0x81 || out[5] || out[6] || out[7])
			return false;
		unsigned version = (unsigned)out[0] | (unsigned)out[1] << 8;
		if (version == 4)
			off = ATT_TDX_V4_BODY_OFFSET + ATT_TDX_REPORTDATA_OFFSET;
		else if (version == 5)
			off = ATT_TDX_V5_BODY_OFFSET + ATT_TDX_REPORTDATA_OFFSET;
		else
			return false;
	}
	return n >= off + ATT_REPORT_DATA_BYTES &&
	       memcmp(out + off, rd, ATT_REPORT_DATA_BYTES) == 0;
}

/* The certificate table as {"vcek": base64, ...}; NULL when malformed (or out of memory). */
static json_t *certs_json(const uint8_t *aux, size_t len)
{
	struct snp_certtable t;
	if (snp_certtable_parse(aux, len, &t) < 0)
		return NULL;
	const struct {
		const char *name;
		const uint8_t *p;
		size_t n;
	} certs[] = {
		{ "vcek", t.vcek, t.vcek_len }, { "vlek", t.vlek, t.vlek_len },
		{ "ask", t.ask, t.ask_len },    { "ark", t.ark, t.ark_len },
		{ "crl", t.crl, t.crl_len },
	};
	json_t *o = json_object();
	for (size_t i = 0; o && i < ARRAY_SIZE(certs); i++) {
		if (!certs[i].p)
			continue;
		if (json_object_set_new(o, certs[i].name, b64(certs[i].p, certs[i].n)) < 0) {
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}

static void provider_failed(struct http_req *req, unsigned status, const char *msg)
{
	log_kv(CLOG_WARN, "attestation failed", "provider", "configfs-tsm", "error", msg, NULL);
	char m[640];
	snprintf(m, sizeof(m), "attestation provider configfs-tsm: %s", msg);
	http_reply_error(req, status, m);
}

static void reply_tsm(struct http_req *req, struct agent *a, json_t *base, const uint8_t *rd)
{
	struct tsm_evidence ev;
	char err[512] = "";
	int rc = tsm_get_report(a->cfg->tsm_path, rd, (int)a->cfg->tsm_privlevel, &ev, err,
				sizeof(err));
	if (rc < 0) {
		bool unavailable = rc == -ENOENT || rc == -ENOTDIR || rc == -EACCES ||
				   rc == -EPERM || rc == -EAGAIN || rc == -EBUSY;
		json_decref(base);
		provider_failed(req, unavailable ? 503 : 502, err);
		return;
	}
	char msg[256] = "";
	json_t *certs = NULL;
	if (ev.tee == TSM_TEE_UNKNOWN)
		snprintf(msg, sizeof(msg), "TEE '%s' is not supported (sev_guest, tdx_guest)",
			 ev.provider);
	else if (!binds(ev.tee, ev.outblob, ev.outlen, rd))
		snprintf(msg, sizeof(msg),
			 "the %s evidence (%zu bytes) does not carry the requested report_data",
			 ev.provider, ev.outlen);
	else if (ev.tee == TSM_TEE_SNP && ev.auxlen > 0 &&
		 !(certs = certs_json(ev.auxblob, ev.auxlen)))
		snprintf(msg, sizeof(msg), "the auxblob certificate table (%zu bytes) is malformed",
			 ev.auxlen);
	if (msg[0]) {
		tsm_evidence_done(&ev);
		json_decref(base);
		provider_failed(req, 502, msg);
		return;
	}
	int bad = json_object_set_new(base, "tee", json_string(ev.provider));
	bad |= json_object_set_new(base, "tee_type", json_string(tsm_tee_name(ev.tee)));
	bad |= json_object_set_new(base, "attested", json_true());
	bad |= json_object_set_new(base, "report", b64(ev.outblob, ev.outlen));
	if (certs)
		bad |= json_object_set_new(base, "certs", certs);
	bad |= json_object_set_new(base, "generation", json_integer(ev.generation));
	tsm_evidence_done(&ev);
	if (bad) {
		json_decref(base);
		http_reply_error(req, 500, "out of memory");
		return;
	}
	http_reply_json(req, 200, base);
}

void attestation_handle(struct http_req *req)
{
	struct agent *a = http_req_app(req);
	if (!a->cfg->tls_enabled || !a->tls_spki) {
		http_reply_error(req, 409, "attestation needs TLS: the evidence binds the TLS key");
		return;
	}
	size_t hexlen = 0;
	const char *hex = http_req_query_n(req, "nonce", &hexlen);
	uint8_t nonce[AGENT_ATTEST_NONCE_MAX_BYTES];
	size_t n = hexlen / 2;
	if (!hex || hexlen == 0 || hexlen % 2 != 0 || n > sizeof(nonce) ||
	    util_unhex(nonce, n, hex, hexlen) < 0) {
		char m[128];
		snprintf(m, sizeof(m), "nonce must be 1 to %d bytes of hex",
			 AGENT_ATTEST_NONCE_MAX_BYTES);
		http_reply_error(req, 400, m);
		return;
	}

	uint8_t rd[crypto_hash_sha512_BYTES];
	crypto_hash_sha512_state st;
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, a->tls_spki, a->tls_spki_len);
	crypto_hash_sha512_update(&st, nonce, n);
	crypto_hash_sha512_final(&st, rd);
	uint8_t spki_sha[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(spki_sha, a->tls_spki, a->tls_spki_len);

	char nonce_hex[2 * AGENT_ATTEST_NONCE_MAX_BYTES + 1], rd_hex[2 * sizeof(rd) + 1],
		spki_hex[2 * sizeof(spki_sha) + 1];
	util_hex(nonce_hex, nonce, n);
	util_hex(rd_hex, rd, sizeof(rd));
	util_hex(spki_hex, spki_sha, sizeof(spki_sha));
	bool tsm = strcmp(a->cfg->attestation_provider, "configfs-tsm") == 0;
	json_t *o = json_pack("{s:s,s:b,s:s,s:s,s:s}", "provider", a->cfg->attestation_provider,
			      "attested", 0, "nonce", nonce_hex, "report_data", rd_hex,
			      "tls_spki_sha256", spki_hex);
	if (!o) {
		http_reply_error(req, 500, "out of memory");
		return;
	}
	if (!tsm) {
		http_reply_json(req, 200, o);
		return;
	}
	reply_tsm(req, a, o, rd);
}
