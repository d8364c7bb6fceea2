/*
 * test_jwt.c - JWT signing and verification as cloisterd's callers see them: round trips for
 * EdDSA and HS256, one crafted token per jwt_err (the algorithm-confusion attacks, tampering,
 * kid of another key, closed header, times at and past the skew, audience, issuer, token use,
 * non-canonical base64url, size at and past JWT_TOKEN_MAX_BYTES), key material limits, PEM
 * round trips and the RFC 8037 A.4 Ed25519 vector.
 *
 * Tokens are crafted here with OpenSSL directly and a base64url built on EVP_EncodeBlock, so the
 * tests do not trust jwt.c's own encoder or signer. Every token is handed to jwt_verify in an
 * exact-size, unterminated heap copy so ASan catches any read past its end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "jwt.h"
#include "util.h"

#define NOW INT64_C(1700000000)
#define AUD "cloisterd"
#define ISS "https://cloister.example"

/* A payload that verifies at NOW with the default options, in pieces to build variants. */
#define P_STRS                                                                                     \
	"\"iss\":\"" ISS "\",\"sub\":\"u1\",\"aud\":\"" AUD "\",\"jti\":\"j1\",\"role\":\"user\"," \
	"\"token_use\":\"access\""
#define P_TIMES "\"iat\":1700000000,\"exp\":1700000900"
#define P_GOOD "{" P_STRS "," P_TIMES "}"
#define H_ED "{\"alg\":\"EdDSA\"}"
#define H_HS "{\"alg\":\"HS256\"}"

static struct jwt_key *ed, *ed2, *hs;
static EVP_PKEY *ed_pk; /* the same key as ed, loaded by OpenSSL for crafting */
static char *ed_pem;
static size_t ed_pem_len;
static const unsigned char hs_secret[32] = { 's', 'e', 'c', 'r', 'e', 't', '-', 'f', 'o', 'r', '-',
					     'h', 's', '2', '5', '6', '-', 't', 'e', 's', 't', 's',
					     '-', '3', '2', '-', 'b', 'y', 't', 'e', 's', '!' };

/* ---- helpers ---- */

static void b64(char *out, size_t cap, const void *in, size_t n)
{
	unsigned char *tmp = malloc(n / 3 * 4 + 8);
	assert_non_null(tmp);
	int l = EVP_EncodeBlock(tmp, in, (int)n);
	size_t o = 0;
	for (int i = 0; i < l && tmp[i] != '='; i++) {
		char c = (char)tmp[i];
		assert_true(o + 1 < cap);
		out[o++] = c == '+' ? '-' : c == '/' ? '_' : c;
	}
	out[o] = '\0';
	free(tmp);
}

static size_t unb64(unsigned char *out, const char *in, size_t n)
{
	char std[8192];
	assert_true(n + 4 < sizeof(std));
	size_t l = 0;
	for (size_t i = 0; i < n; i++)
		std[l++] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
	while (l % 4)
		std[l++] = '=';
	int r = EVP_DecodeBlock(out, (const unsigned char *)std, (int)l);
	assert_true(r >= 0);
	size_t pad = (4 - n % 4) % 4;
	return (size_t)r - pad;
}

/* A ring of static buffers so a test can hold a few crafted tokens without freeing them. */
static char *slot(void)
{
	static char bufs[8][12288];
	static unsigned i;
	return bufs[i++ % 8];
}

enum craft_kind { C_ED, C_HS, C_NONE };

/* b64(hdr).b64(pl).b64(signature), signed with ed_pk (C_ED), HMAC-SHA-256 with secret (C_HS),
 * or with an empty signature (C_NONE). */
static char *craft(enum craft_kind kind, const void *secret, size_t slen, const char *hdr,
		   const char *pl)
{
	char *t = slot();
	size_t cap = 12288;
	b64(t, cap, hdr, strlen(hdr));
	size_t n = strlen(t);
	t[n++] = '.';
	b64(t + n, cap - n, pl, strlen(pl));
	n += strlen(t + n);
	unsigned char sig[64];
	size_t siglen = 0;
	if (kind == C_ED) {
		EVP_MD_CTX *mc = EVP_MD_CTX_new();
		siglen = sizeof(sig);
		assert_int_equal(EVP_DigestSignInit(mc, NULL, NULL, NULL, ed_pk), 1);
		assert_int_equal(EVP_DigestSign(mc, sig, &siglen, (unsigned char *)t, n), 1);
		EVP_MD_CTX_free(mc);
	} else if (kind == C_HS) {
		unsigned int l = 0;
		assert_non_null(
			HMAC(EVP_sha256(), secret, (int)slen, (unsigned char *)t, n, sig, &l));
		siglen = l;
	}
	t[n++] = '.';
	b64(t + n, cap - n, sig, siglen);
	return t;
}

static char *craft_ed(const char *hdr, const char *pl)
{
	return craft(C_ED, NULL, 0, hdr, pl);
}

static char *craft_hs(const char *hdr, const char *pl)
{
	return craft(C_HS, hs_secret, sizeof(hs_secret), hdr, pl);
}

static const struct jwt_verify_opts default_opts = {
	.now = NOW, .audience = AUD, .issuer = ISS, .token_use = "access"
};

static int vfy_opts(const struct jwt_key *k, const char *tok, const struct jwt_verify_opts *o,
		    struct jwt_claims *c)
{
	size_t n = strlen(tok);
	char *copy = malloc(n ? n : 1);
	assert_non_null(copy);
	memcpy(copy, tok, n);
	struct jwt_claims tmp;
	int r = jwt_verify(k, copy, n, o, c ? c : &tmp);
	free(copy);
	return r;
}

static int vfy(const struct jwt_key *k, const char *tok)
{
	return vfy_opts(k, tok, &default_opts, NULL);
}

static void good_claims(struct jwt_claims *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->sub, sizeof(c->sub), "u1");
	snprintf(c->role, sizeof(c->role), "user");
	snprintf(c->jti, sizeof(c->jti), "j1");
	snprintf(c->aud, sizeof(c->aud), AUD);
	snprintf(c->iss, sizeof(c->iss), ISS);
	snprintf(c->token_use, sizeof(c->token_use), "access");
	c->iat = NOW;
	c->exp = NOW + 900;
}

/* Signs c with k and returns the verification result at now (other options default). */
static int sign_then_verify_at(const struct jwt_key *k, const struct jwt_claims *c, int64_t now)
{
	char *tok = NULL;
	assert_int_equal(jwt_sign(k, c, &tok), JWT_OK);
	struct jwt_verify_opts o = default_opts;
	o.now = now;
	int r = vfy_opts(k, tok, &o, NULL);
	free(tok);
	return r;
}

static char *kid_header(const char *alg, const char *kid)
{
	char *h = slot();
	snprintf(h, 12288, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", alg, kid);
	return h;
}

static int setup(void **state)
{
	(void)state;
	int err = 1;
	ed = jwt_key_eddsa_generate(&ed_pem, &ed_pem_len, &err);
	assert_non_null(ed);
	assert_int_equal(err, JWT_OK);
	BIO *bio = BIO_new_mem_buf(ed_pem, (int)ed_pem_len);
	ed_pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(ed_pk);
	char *pem2 = NULL;
	size_t pem2_len = 0;
	ed2 = jwt_key_eddsa_generate(&pem2, &pem2_len, NULL);
	assert_non_null(ed2);
	free(pem2);
	hs = jwt_key_hs256(hs_secret, sizeof(hs_secret), &err);
	assert_non_null(hs);
	assert_int_equal(err, JWT_OK);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	jwt_key_free(ed);
	jwt_key_free(ed2);
	jwt_key_free(hs);
	EVP_PKEY_free(ed_pk);
	free(ed_pem);
	return 0;
}

/* ---- round trips ---- */

static void check_roundtrip(const struct jwt_key *k, const char *alg)
{
	struct jwt_claims c, got;
	good_claims(&c);
	c.nbf = NOW - 5;
	char *tok = NULL;
	assert_int_equal(jwt_sign(k, &c, &tok), JWT_OK);
	assert_int_equal(vfy_opts(k, tok, &default_opts, &got), JWT_OK);
	assert_memory_equal(&c, &got, sizeof(c));

	/* The header and payload are exactly the documented ones, claims in a fixed order. */
	char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
	assert_null(strchr(d2 + 1, '.'));
	unsigned char buf[1024];
	size_t n = unb64(buf, tok, (size_t)(d1 - tok));
	char want[256];
	snprintf(want, sizeof(want), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", alg,
		 jwt_key_id(k));
	assert_int_equal(n, strlen(want));
	assert_memory_equal(buf, want, n);
	n = unb64(buf, d1 + 1, (size_t)(d2 - d1 - 1));
	static const char want_pl[] = "{\"iss\":\"" ISS "\",\"sub\":\"u1\",\"aud\":\"" AUD "\","
				      "\"iat\":1700000000,\"nbf\":1699999995,\"exp\":1700000900,"
				      "\"jti\":\"j1\",\"role\":\"user\",\"token_use\":\"access\"}";
	assert_int_equal(n, strlen(want_pl));
	assert_memory_equal(buf, want_pl, n);
	free(tok);

	/* nbf 0 is left out of the token and comes back as 0. */
	c.nbf = 0;
	assert_int_equal(jwt_sign(k, &c, &tok), JWT_OK);
	d1 = strchr(tok, '.');
	d2 = strchr(d1 + 1, '.');
	n = unb64(buf, d1 + 1, (size_t)(d2 - d1 - 1));
	buf[n] = '\0';
	assert_null(strstr((char *)buf, "nbf"));
	assert_int_equal(vfy_opts(k, tok, &default_opts, &got), JWT_OK);
	assert_memory_equal(&c, &got, sizeof(c));
	free(tok);
}

static void test_roundtrip_eddsa(void **state)
{
	(void)state;
	assert_int_equal(jwt_key_alg(ed), JWT_ALG_EDDSA);
	check_roundtrip(ed, "EdDSA");
}

static void test_roundtrip_hs256(void **state)
{
	(void)state;
	assert_int_equal(jwt_key_alg(hs), JWT_ALG_HS256);
	check_roundtrip(hs, "HS256");
}

static void test_sign_escapes_and_utf8(void **state)
{
	(void)state;
	struct jwt_claims c, got;
	good_claims(&c);
	snprintf(c.sub, sizeof(c.sub), "a\"b\\c\n\t\x01/\xc3\xa9\xe2\x82\xac");
	char *tok = NULL;
	assert_int_equal(jwt_sign(ed, &c, &tok), JWT_OK);
	assert_int_equal(vfy_opts(ed, tok, &default_opts, &got), JWT_OK);
	assert_string_equal(got.sub, c.sub);
	free(tok);
	/* The longest strings that fit, all control characters (6 bytes each when escaped). */
	memset(c.sub, 0x1f, sizeof(c.sub) - 1);
	memset(c.jti, 0x01, sizeof(c.jti) - 1);
	memset(c.aud, '"', sizeof(c.aud) - 1);
	memset(c.iss, 0x02, sizeof(c.iss) - 1);
	memset(c.role, 0x03, sizeof(c.role) - 1);
	memset(c.token_use, '\\', sizeof(c.token_use) - 1);
	assert_int_equal(jwt_sign(hs, &c, &tok), JWT_OK);
	assert_true(strlen(tok) <= JWT_TOKEN_MAX_BYTES);
	struct jwt_verify_opts o = { .now = NOW };
	assert_int_equal(vfy_opts(hs, tok, &o, &got), JWT_OK);
	assert_memory_equal(&c, &got, sizeof(c));
	free(tok);
}

static void test_sign_refuses_bad_claims(void **state)
{
	(void)state;
	struct jwt_claims c;
	char *tok = (char *)1;
	good_claims(&c);
	c.sub[0] = '\0';
	assert_int_equal(jwt_sign(ed, &c, &tok), JWT_E_MALFORMED);
	assert_null(tok);
	good_claims(&c);
	memset(c.role, 'r', sizeof(c.role)); /* no NUL inside the array */
	assert_int_equal(jwt_sign(ed, &c, &tok), JWT_E_MALFORMED);
	good_claims(&c);
	snprintf(c.jti, sizeof(c.jti), "\xc3\x28"); /* invalid UTF-8 */
	assert_int_equal(jwt_sign(ed, &c, &tok), JWT_E_MALFORMED);
	good_claims(&c);
	c.exp = -1;
	assert_int_equal(jwt_sign(ed, &c, &tok), JWT_E_MALFORMED);
	good_claims(&c);
	c.iat = (INT64_C(1) << 53) + 1;
	assert_int_equal(jwt_sign(ed, &c, &tok), JWT_E_MALFORMED);
	good_claims(&c);
	c.nbf = -5;
	assert_int_equal(jwt_sign(ed, &c, &tok), JWT_E_MALFORMED);
	good_claims(&c);
	c.exp = INT64_C(1) << 53; /* the limit itself is fine */
	assert_int_equal(jwt_sign(ed, &c, &tok), JWT_OK);
	free(tok);
	assert_int_equal(jwt_sign(NULL, &c, &tok), JWT_E_KEY);
	assert_int_equal(jwt_sign(ed, NULL, &tok), JWT_E_MALFORMED);
	assert_int_equal(jwt_sign(ed, &c, NULL), JWT_E_MALFORMED);
}

/* ---- algorithm ---- */

static void test_alg_none(void **state)
{
	(void)state;
	const char *h = "{\"alg\":\"none\"}";
	assert_int_equal(vfy(ed, craft(C_NONE, NULL, 0, h, P_GOOD)), JWT_E_ALG);
	assert_int_equal(vfy(hs, craft(C_NONE, NULL, 0, h, P_GOOD)), JWT_E_ALG);
	/* "none" with a real signature attached */
	assert_int_equal(vfy(ed, craft_ed(h, P_GOOD)), JWT_E_ALG);
	assert_int_equal(vfy(hs, craft_hs(h, P_GOOD)), JWT_E_ALG);
	assert_int_equal(vfy(ed, craft_ed("{\"alg\":\"None\",\"typ\":\"JWT\"}", P_GOOD)),
			 JWT_E_ALG);
	/* without the signature part at all: only two parts */
	char *t = craft(C_NONE, NULL, 0, h, P_GOOD);
	t[strlen(t) - 1] = '\0';
	assert_int_equal(vfy(ed, t), JWT_E_MALFORMED);
}

static void test_alg_mismatch(void **state)
{
	(void)state;
	/* HS256 header to an EdDSA key, MACed with any secret */
	assert_int_equal(vfy(ed, craft_hs(H_HS, P_GOOD)), JWT_E_ALG);
	/* EdDSA header (validly Ed25519-signed) to an HS256 key */
	assert_int_equal(vfy(hs, craft_ed(H_ED, P_GOOD)), JWT_E_ALG);
	/* only the exact, case-sensitive name */
	const char *bad[] = {
		"{\"alg\":\"eddsa\"}",   "{\"alg\":\"EDDSA\"}", "{\"alg\":\"Ed25519\"}",
		"{\"alg\":\"EdDSA \"}",  "{\"alg\":1}",         "{\"alg\":null}",
		"{\"alg\":[\"EdDSA\"]}", "{\"typ\":\"JWT\"}",   "{}"
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(vfy(ed, craft_ed(bad[i], P_GOOD)), JWT_E_ALG);
	assert_int_equal(vfy(hs, craft_hs("{\"alg\":\"hs256\"}", P_GOOD)), JWT_E_ALG);
	assert_int_equal(vfy(ed, craft_ed(H_ED, P_GOOD)), JWT_OK);
	assert_int_equal(vfy(hs, craft_hs(H_HS, P_GOOD)), JWT_OK);
}

static void test_alg_confusion_public_key_as_secret(void **state)
{
	(void)state;
	/* The classic attack: HMAC keyed with the verifier's public key, raw or as PEM. */
	unsigned char pub[32];
	size_t publen = sizeof(pub);
	assert_int_equal(EVP_PKEY_get_raw_public_key(ed_pk, pub, &publen), 1);
	BIO *bio = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PUBKEY(bio, ed_pk), 1);
	char *pem = NULL;
	long pemlen = BIO_get_mem_data(bio, &pem);
	assert_true(pemlen > 0);
	char hdr_kid[128];
	snprintf(hdr_kid, sizeof(hdr_kid), "{\"alg\":\"HS256\",\"kid\":\"%s\"}", jwt_key_id(ed));
	assert_int_equal(vfy(ed, craft(C_HS, pub, publen, H_HS, P_GOOD)), JWT_E_ALG);
	assert_int_equal(vfy(ed, craft(C_HS, pub, publen, hdr_kid, P_GOOD)), JWT_E_ALG);
	assert_int_equal(vfy(ed, craft(C_HS, pem, (size_t)pemlen, H_HS, P_GOOD)), JWT_E_ALG);
	assert_int_equal(vfy(ed, craft(C_HS, pem, (size_t)pemlen, hdr_kid, P_GOOD)), JWT_E_ALG);
	BIO_free(bio);
}

/* ---- kid and header ---- */

static void test_kid(void **state)
{
	(void)state;
	/* a token of another key, with that key's kid */
	struct jwt_claims c;
	good_claims(&c);
	char *tok = NULL;
	assert_int_equal(jwt_sign(ed2, &c, &tok), JWT_OK);
	assert_int_equal(vfy(ed, tok), JWT_E_KID);
	free(tok);
	assert_string_not_equal(jwt_key_id(ed), jwt_key_id(ed2));
	/* this key's signature but another key's kid, a wrong-case kid, a kid of the wrong type */
	assert_int_equal(vfy(ed, craft_ed(kid_header("EdDSA", jwt_key_id(ed2)), P_GOOD)),
			 JWT_E_KID);
	assert_int_equal(vfy(hs, craft_hs(kid_header("HS256", jwt_key_id(ed)), P_GOOD)), JWT_E_KID);
	char upper[JWT_KID_CHARS + 1];
	for (size_t i = 0; i <= JWT_KID_CHARS; i++)
		upper[i] = (char)(jwt_key_id(ed)[i] >= 'a' ? jwt_key_id(ed)[i] - 32
							   : jwt_key_id(ed)[i]);
	if (strcmp(upper, jwt_key_id(ed)) != 0)
		assert_int_equal(vfy(ed, craft_ed(kid_header("EdDSA", upper), P_GOOD)), JWT_E_KID);
	assert_int_equal(vfy(ed, craft_ed("{\"alg\":\"EdDSA\",\"kid\":7}", P_GOOD)), JWT_E_KID);
	assert_int_equal(vfy(ed, craft_ed("{\"alg\":\"EdDSA\",\"kid\":\"\"}", P_GOOD)), JWT_E_KID);
	assert_int_equal(vfy(ed, craft_ed(kid_header("EdDSA", jwt_key_id(ed)), P_GOOD)), JWT_OK);
}

static void test_key_ids(void **state)
{
	(void)state;
	/* EdDSA: SHA-256 of the raw public key; HS256: SHA-256(SHA-256(secret)), never of the
	 * secret itself */
	unsigned char pub[32], md[32], md2[32];
	size_t publen = sizeof(pub);
	char hex[65];
	assert_int_equal(EVP_PKEY_get_raw_public_key(ed_pk, pub, &publen), 1);
	assert_int_equal(EVP_Digest(pub, publen, md, NULL, EVP_sha256(), NULL), 1);
	util_hex(hex, md, 32);
	hex[JWT_KID_CHARS] = '\0';
	assert_string_equal(jwt_key_id(ed), hex);
	assert_int_equal(EVP_Digest(hs_secret, sizeof(hs_secret), md, NULL, EVP_sha256(), NULL), 1);
	util_hex(hex, md, 32);
	hex[JWT_KID_CHARS] = '\0';
	assert_string_not_equal(jwt_key_id(hs), hex);
	assert_int_equal(EVP_Digest(md, 32, md2, NULL, EVP_sha256(), NULL), 1);
	util_hex(hex, md2, 32);
	hex[JWT_KID_CHARS] = '\0';
	assert_string_equal(jwt_key_id(hs), hex);
	assert_int_equal(strlen(jwt_key_id(ed)), JWT_KID_CHARS);
}

static void test_header_closed(void **state)
{
	(void)state;
	const char *bad[] = {
		"{\"alg\":\"EdDSA\",\"jku\":\"https://evil.example/jwks\"}",
		"{\"alg\":\"EdDSA\",\"x5u\":\"https://evil.example/x\"}",
		"{\"alg\":\"EdDSA\",\"crit\":[\"exp\"]}",
		"{\"alg\":\"EdDSA\",\"jwk\":{}}",
		"{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\"}",
		"{\"alg\":\"EdDSA\",\"typ\":\"jwt\"}",
		"{\"alg\":\"EdDSA\",\"typ\":1}",
		"{\"alg\":\"EdDSA\",\"alg\":\"EdDSA\"}", /* duplicate key */
		"[\"EdDSA\"]",
		"\"EdDSA\"",
		"{\"alg\":\"EdDSA\"",
		"{\"alg\":\"EdDSA\"}x",
		"{\"alg\":\"Ed\xff\"}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(vfy(ed, craft_ed(bad[i], P_GOOD)), JWT_E_MALFORMED);
	/* whitespace around the value is plain JSON */
	assert_int_equal(vfy(ed, craft_ed(" {\"alg\":\"EdDSA\"} ", P_GOOD)), JWT_OK);
	assert_int_equal(vfy(ed, craft_ed("{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}", P_GOOD)), JWT_OK);
	assert_int_equal(
		vfy(ed, craft_ed("{\"kid\":\"x\",\"alg\":\"EdDSA\",\"jku\":\"u\"}", P_GOOD)),
		JWT_E_KID);
}

/* ---- signature ---- */

static void check_tamper(const struct jwt_key *k)
{
	struct jwt_claims c;
	good_claims(&c);
	char *tok = NULL;
	assert_int_equal(jwt_sign(k, &c, &tok), JWT_OK);
	char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');

	/* one claim changed (role user -> admin), signature kept */
	snprintf(c.role, sizeof(c.role), "admin");
	char *other = NULL;
	assert_int_equal(jwt_sign(k, &c, &other), JWT_OK);
	char *o1 = strchr(other, '.'), *o2 = strchr(o1 + 1, '.');
	char *t = slot();
	snprintf(t, 12288, "%.*s%s", (int)(o2 - other), other, d2);
	assert_int_equal(vfy(k, t), JWT_E_SIGNATURE);
	free(other);

	/* signature changed in its first character (keeps the encoding canonical) */
	t = slot();
	snprintf(t, 12288, "%s", tok);
	char *s = t + (d2 + 1 - tok);
	s[0] = s[0] == 'A' ? 'B' : 'A';
	assert_int_equal(vfy(k, t), JWT_E_SIGNATURE);

	/* truncated to its whole base64 groups (1 or 2 bytes short), to 3 bytes, and empty; cuts
	 * elsewhere would leave non-canonical trailing bits, a different (MALFORMED) case */
	size_t sn = strlen(d2 + 1);
	t = slot();
	snprintf(t, 12288, "%.*s", (int)((size_t)(d2 + 1 - tok) + sn / 4 * 4), tok);
	assert_int_equal(vfy(k, t), JWT_E_SIGNATURE);
	t = slot();
	snprintf(t, 12288, "%.*s", (int)(d2 - tok) + 5, tok);
	assert_int_equal(vfy(k, t), JWT_E_SIGNATURE);
	t = slot();
	snprintf(t, 12288, "%.*s", (int)(d2 - tok) + 1, tok);
	assert_int_equal(vfy(k, t), JWT_E_SIGNATURE);
	/* one base64 group longer */
	t = slot();
	snprintf(t, 12288, "%sAAAA", tok);
	assert_int_equal(vfy(k, t), JWT_E_SIGNATURE);
	assert_int_equal(vfy(k, tok), JWT_OK);
	free(tok);
}

static void test_tampered_eddsa(void **state)
{
	(void)state;
	check_tamper(ed);
}

static void test_tampered_hs256(void **state)
{
	(void)state;
	check_tamper(hs);
	/* the right algorithm, but MACed with another secret */
	unsigned char other[32];
	memcpy(other, hs_secret, sizeof(other));
	other[31] ^= 1;
	assert_int_equal(vfy(hs, craft(C_HS, other, sizeof(other), H_HS, P_GOOD)), JWT_E_SIGNATURE);
}

/* ---- times ---- */

static void test_expiry_and_skew(void **state)
{
	(void)state;
	struct jwt_claims c;
	good_claims(&c);
	c.iat = NOW - 900;
	c.exp = NOW - JWT_CLOCK_SKEW_S;
	assert_int_equal(sign_then_verify_at(ed, &c, NOW), JWT_OK);
	c.exp = NOW - JWT_CLOCK_SKEW_S - 1;
	assert_int_equal(sign_then_verify_at(ed, &c, NOW), JWT_E_EXPIRED);
	assert_int_equal(sign_then_verify_at(hs, &c, NOW), JWT_E_EXPIRED);
	/* absurd clocks do not overflow into acceptance */
	assert_int_equal(sign_then_verify_at(ed, &c, INT64_MAX), JWT_E_EXPIRED);
	good_claims(&c);
	assert_int_equal(sign_then_verify_at(ed, &c, INT64_MIN), JWT_E_NOT_YET);
}

static void test_nbf_iat_future(void **state)
{
	(void)state;
	struct jwt_claims c;
	good_claims(&c);
	c.nbf = NOW + JWT_CLOCK_SKEW_S;
	assert_int_equal(sign_then_verify_at(ed, &c, NOW), JWT_OK);
	c.nbf = NOW + JWT_CLOCK_SKEW_S + 1;
	assert_int_equal(sign_then_verify_at(ed, &c, NOW), JWT_E_NOT_YET);
	good_claims(&c);
	c.iat = NOW + JWT_CLOCK_SKEW_S;
	assert_int_equal(sign_then_verify_at(hs, &c, NOW), JWT_OK);
	c.iat = NOW + JWT_CLOCK_SKEW_S + 1;
	assert_int_equal(sign_then_verify_at(hs, &c, NOW), JWT_E_NOT_YET);
	/* expiry is decided before nbf/iat */
	c.exp = NOW - 100;
	assert_int_equal(sign_then_verify_at(hs, &c, NOW), JWT_E_EXPIRED);
}

/* ---- audience, issuer, use ---- */

static void test_aud_iss_use(void **state)
{
	(void)state;
	struct jwt_claims c;
	good_claims(&c);
	char *tok = NULL;
	assert_int_equal(jwt_sign(ed, &c, &tok), JWT_OK);
	struct jwt_verify_opts o = default_opts;
	o.audience = "cloisterd-other";
	assert_int_equal(vfy_opts(ed, tok, &o, NULL), JWT_E_AUDIENCE);
	o.audience = "cloister"; /* a prefix is not a match */
	assert_int_equal(vfy_opts(ed, tok, &o, NULL), JWT_E_AUDIENCE);
	o = default_opts;
	o.issuer = "https://evil.example";
	assert_int_equal(vfy_opts(ed, tok, &o, NULL), JWT_E_ISSUER);
	o = default_opts;
	o.token_use = "refresh";
	assert_int_equal(vfy_opts(ed, tok, &o, NULL), JWT_E_USE);
	/* NULL options are not checked */
	o = (struct jwt_verify_opts){ .now = NOW };
	assert_int_equal(vfy_opts(ed, tok, &o, NULL), JWT_OK);
	free(tok);

	/* a refresh token presented as an access token */
	snprintf(c.token_use, sizeof(c.token_use), "refresh");
	c.exp = NOW + 7 * 86400;
	assert_int_equal(jwt_sign(hs, &c, &tok), JWT_OK);
	assert_int_equal(vfy(hs, tok), JWT_E_USE);
	o = default_opts;
	o.token_use = "refresh";
	assert_int_equal(vfy_opts(hs, tok, &o, NULL), JWT_OK);
	free(tok);
}

/* ---- structure and encoding ---- */

static void test_base64url_strict(void **state)
{
	(void)state;
	char good[1024]; /* a copy: the loop below cycles through every crafting slot */
	snprintf(good, sizeof(good), "%s", craft_ed(kid_header("EdDSA", jwt_key_id(ed)), P_GOOD));
	assert_int_equal(vfy(ed, good), JWT_OK);
	char *d1 = strchr(good, '.');
	size_t hn = (size_t)(d1 - good);
	assert_int_not_equal(hn % 4, 0); /* so the header would carry '=' padding */
	char *t = slot();
	snprintf(t, 12288, "%.*s=%s", (int)hn, good, d1);
	assert_int_equal(vfy(ed, t), JWT_E_MALFORMED);
	t = slot();
	snprintf(t, 12288, "%s=", good);
	assert_int_equal(vfy(ed, t), JWT_E_MALFORMED);

	/* standard-alphabet and other characters, whitespace, NUL, in each part */
	const char bad[] = { '+', '/', ' ', '\n', '=', '\0', '*', '\x80' };
	size_t n = strlen(good);
	size_t at[] = { 5, hn + 5, n - 5 };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		for (size_t j = 0; j < ARRAY_SIZE(at); j++) {
			char *copy = malloc(n);
			memcpy(copy, good, n);
			copy[at[j]] = bad[i];
			struct jwt_claims c;
			assert_int_equal(jwt_verify(ed, copy, n, &default_opts, &c),
					 JWT_E_MALFORMED);
			free(copy);
		}
	}

	/* non-canonical trailing bits: "QQ" is "A", "QR" decodes to "A" too under lax decoders */
	t = slot();
	snprintf(t, 12288, "%s", good);
	char *last = t + strlen(t) - 1; /* 64-byte signature: 86 chars, the last has 4 spare bits */
	const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t v = (size_t)(strchr(alpha, *last) - alpha);
	assert_int_equal(v & 3, 0);
	*last = alpha[v | 1];
	assert_int_equal(vfy(ed, t), JWT_E_MALFORMED);
	/* 32-byte HMAC: 43 chars, the last has 2 spare bits */
	t = slot();
	snprintf(t, 12288, "%s", craft_hs(H_HS, P_GOOD));
	assert_int_equal(vfy(hs, t), JWT_OK);
	last = t + strlen(t) - 1;
	v = (size_t)(strchr(alpha, *last) - alpha);
	assert_int_equal(v & 3, 0);
	*last = alpha[v | 2];
	assert_int_equal(vfy(hs, t), JWT_E_MALFORMED);
	/* a part whose length is 1 mod 4 cannot be base64 */
	t = slot();
	snprintf(t, 12288, "%.*s", (int)n - 1, good);
	assert_int_equal(vfy(ed, t), JWT_E_MALFORMED);
}

static void test_parts(void **state)
{
	(void)state;
	char *good = craft_ed(H_ED, P_GOOD);
	char *d1 = strchr(good, '.'), *d2 = strchr(d1 + 1, '.');
	char *t = slot();
	snprintf(t, 12288, "%s.AAAA", good);
	assert_int_equal(vfy(ed, t), JWT_E_MALFORMED);
	t = slot();
	snprintf(t, 12288, "%s.", good);
	assert_int_equal(vfy(ed, t), JWT_E_MALFORMED);
	t = slot();
	snprintf(t, 12288, "%s", d1); /* empty header */
	assert_int_equal(vfy(ed, t), JWT_E_MALFORMED);
	t = slot();
	snprintf(t, 12288, "%.*s.%s", (int)(d1 - good), good, d2); /* empty payload */
	assert_int_equal(vfy(ed, t), JWT_E_MALFORMED);
	const char *bad[] = { "", ".", "..", "...", "abc", "abc.def", "a.b.c.d" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(vfy(ed, bad[i]), JWT_E_MALFORMED);
	/* a header that is not JSON at all */
	assert_int_equal(vfy(ed, craft_ed("not json", P_GOOD)), JWT_E_MALFORMED);
}

static void test_payload_types(void **state)
{
	(void)state;
	const char *bad[] = {
		"{" P_STRS ",\"iat\":1700000000,\"exp\":\"1700000900\"}",
		"{" P_STRS ",\"iat\":1700000000,\"exp\":1700000900.0}",
		"{" P_STRS ",\"iat\":1700000000,\"exp\":1.7e9}",
		"{" P_STRS ",\"iat\":1700000000,\"exp\":true}",
		"{" P_STRS ",\"iat\":1700000000,\"exp\":-1}",
		"{" P_STRS ",\"iat\":1700000000,\"exp\":9007199254740993}",
		"{" P_STRS ",\"iat\":1700000000,\"exp\":99999999999999999999999}",
		"{" P_STRS ",\"iat\":1700000000}",
		"{" P_STRS ",\"exp\":1700000900}",
		"{" P_STRS "," P_TIMES ",\"nbf\":\"0\"}",
		"{" P_STRS "," P_TIMES ",\"nbf\":1.5}",
		"{" P_STRS "," P_TIMES ",\"exp\":1700000900}", /* duplicate key */
		"{" P_STRS "," P_TIMES ",\"sub\":\"u2\"}",     /* duplicate string claim */
		"{" P_STRS "," P_TIMES "}x",
		"[" P_STRS "]",
		"null",
		"{\"sub\":\"u1\"}",
		"{\"iss\":\"" ISS "\",\"sub\":\"\",\"aud\":\"" AUD
		"\",\"jti\":\"j1\",\"role\":\"user\","
		"\"token_use\":\"access\"," P_TIMES "}",
		"{\"iss\":\"" ISS "\",\"sub\":1,\"aud\":\"" AUD
		"\",\"jti\":\"j1\",\"role\":\"user\","
		"\"token_use\":\"access\"," P_TIMES "}",
		"{\"iss\":\"" ISS "\",\"sub\":\"u\\u0000x\",\"aud\":\"" AUD "\",\"jti\":\"j1\","
		"\"role\":\"user\",\"token_use\":\"access\"," P_TIMES "}",
		"{\"iss\":\"" ISS "\",\"sub\":\"u\xff\",\"aud\":\"" AUD "\",\"jti\":\"j1\","
		"\"role\":\"user\",\"token_use\":\"access\"," P_TIMES "}",
		"{\"iss\":\"" ISS "\",\"sub\":\"u1\",\"aud\":[\"" AUD "\"],\"jti\":\"j1\","
		"\"role\":\"user\",\"token_use\":\"access\"," P_TIMES "}",
		"{\"iss\":\"" ISS "\",\"sub\":\"u1\",\"aud\":\"" AUD "\",\"jti\":\"j1\","
		"\"role\":\"superadministrator\",\"token_use\":\"access\"," P_TIMES "}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(vfy(ed, craft_ed(H_ED, bad[i])), JWT_E_MALFORMED);
		assert_int_equal(vfy(hs, craft_hs(H_HS, bad[i])), JWT_E_MALFORMED);
	}
	/* unknown claims are ignored; times at 2^53 are integers like any other */
	const char *ok[] = {
		"{" P_STRS "," P_TIMES ",\"scope\":[1,{\"a\":null}],\"x\":1.5}",
		"{" P_STRS ",\"iat\":1700000000,\"exp\":9007199254740992}",
		"{" P_STRS "," P_TIMES ",\"nbf\":0}",
		" {" P_STRS "," P_TIMES "}\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		assert_int_equal(vfy(ed, craft_ed(H_ED, ok[i])), JWT_OK);
}

static void test_claim_string_limits(void **state)
{
	(void)state;
	/* sub of JWT_SUB_MAX - 1 bytes fits; one more does not */
	char sub[JWT_SUB_MAX + 1];
	char pl[1024];
	struct jwt_claims got;
	memset(sub, 's', sizeof(sub));
	sub[JWT_SUB_MAX - 1] = '\0';
	snprintf(pl, sizeof(pl),
		 "{\"iss\":\"" ISS "\",\"sub\":\"%s\",\"aud\":\"" AUD "\",\"jti\":\"j1\","
		 "\"role\":\"user\",\"token_use\":\"access\"," P_TIMES "}",
		 sub);
	assert_int_equal(vfy_opts(ed, craft_ed(H_ED, pl), &default_opts, &got), JWT_OK);
	assert_string_equal(got.sub, sub);
	sub[JWT_SUB_MAX - 1] = 's';
	sub[JWT_SUB_MAX] = '\0';
	snprintf(pl, sizeof(pl),
		 "{\"iss\":\"" ISS "\",\"sub\":\"%s\",\"aud\":\"" AUD "\",\"jti\":\"j1\","
		 "\"role\":\"user\",\"token_use\":\"access\"," P_TIMES "}",
		 sub);
	assert_int_equal(vfy(ed, craft_ed(H_ED, pl)), JWT_E_MALFORMED);
	/* token_use at its limit (15 bytes) and past it */
	struct jwt_verify_opts o = { .now = NOW };
	assert_int_equal(
		vfy_opts(ed,
			 craft_ed(H_ED,
				  "{\"iss\":\"i\",\"sub\":\"s\",\"aud\":\"a\",\"jti\":\"j\","
				  "\"role\":\"r\",\"token_use\":\"123456789012345\"," P_TIMES "}"),
			 &o, &got),
		JWT_OK);
	assert_string_equal(got.token_use, "123456789012345");
	assert_int_equal(
		vfy_opts(ed,
			 craft_ed(H_ED,
				  "{\"iss\":\"i\",\"sub\":\"s\",\"aud\":\"a\",\"jti\":\"j\","
				  "\"role\":\"r\",\"token_use\":\"1234567890123456\"," P_TIMES "}"),
			 &o, &got),
		JWT_E_MALFORMED);
}

/* A token of exactly target bytes for hdr, padded with an unknown claim; NULL if the
 * base64url lengths cannot meet target with this header. */
static char *craft_sized(enum craft_kind kind, const char *hdr, size_t target)
{
	char pl[4096];
	for (size_t pad = 0; pad < 3500; pad++) {
		int n = snprintf(pl, sizeof(pl), "{" P_STRS "," P_TIMES ",\"pad\":\"%*s\"}",
				 (int)pad, "");
		assert_true(n > 0 && (size_t)n < sizeof(pl));
		char *t = kind == C_ED ? craft_ed(hdr, pl) : craft_hs(hdr, pl);
		if (strlen(t) == target)
			return t;
		if (strlen(t) > target)
			return NULL;
	}
	return NULL;
}

static void check_size_limit(const struct jwt_key *k, enum craft_kind kind, const char *alg)
{
	char h1[64], h2[64], h3[160];
	snprintf(h1, sizeof(h1), "{\"alg\":\"%s\"}", alg);
	snprintf(h2, sizeof(h2), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
	snprintf(h3, sizeof(h3), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", alg,
		 jwt_key_id(k));
	const char *hdrs[] = { h1, h2, h3 };
	char *at = NULL, *past = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(hdrs) && !at; i++)
		at = craft_sized(kind, hdrs[i], JWT_TOKEN_MAX_BYTES);
	for (size_t i = 0; i < ARRAY_SIZE(hdrs) && !past; i++)
		past = craft_sized(kind, hdrs[i], JWT_TOKEN_MAX_BYTES + 1);
	assert_non_null(at);
	assert_non_null(past);
	assert_int_equal(vfy(k, at), JWT_OK);
	assert_int_equal(vfy(k, past), JWT_E_TOO_LARGE);
}

static void test_size_limit(void **state)
{
	(void)state;
	check_size_limit(ed, C_ED, "EdDSA");
	check_size_limit(hs, C_HS, "HS256");
	/* the size check comes first: garbage past the limit is TOO_LARGE, not MALFORMED */
	char *big = malloc(JWT_TOKEN_MAX_BYTES + 1);
	memset(big, '.', JWT_TOKEN_MAX_BYTES + 1);
	struct jwt_claims c;
	assert_int_equal(jwt_verify(ed, big, JWT_TOKEN_MAX_BYTES + 1, &default_opts, &c),
			 JWT_E_TOO_LARGE);
	free(big);
}

static void test_verify_args_and_zeroed_output(void **state)
{
	(void)state;
	struct jwt_claims c;
	char *tok = craft_ed(H_ED, P_GOOD);
	memset(&c, 0xaa, sizeof(c));
	assert_int_equal(vfy_opts(ed, craft_ed("{\"alg\":\"none\"}", P_GOOD), &default_opts, &c),
			 JWT_E_ALG);
	struct jwt_claims zero;
	memset(&zero, 0, sizeof(zero));
	assert_memory_equal(&c, &zero, sizeof(c));
	memset(&c, 0xaa, sizeof(c));
	assert_int_equal(vfy_opts(hs, tok, &default_opts, &c), JWT_E_ALG);
	assert_memory_equal(&c, &zero, sizeof(c));
	assert_int_equal(jwt_verify(NULL, tok, strlen(tok), &default_opts, &c), JWT_E_KEY);
	assert_int_equal(jwt_verify(ed, NULL, 0, &default_opts, &c), JWT_E_MALFORMED);
	assert_int_equal(jwt_verify(ed, tok, strlen(tok), NULL, &c), JWT_E_MALFORMED);
	assert_int_equal(jwt_verify(ed, tok, strlen(tok), &default_opts, NULL), JWT_E_MALFORMED);
	/* the length, not a NUL, ends the token */
	char *t = slot();
	snprintf(t, 12288, "%sAAAA", tok);
	assert_int_equal(jwt_verify(ed, t, strlen(tok), &default_opts, &c), JWT_OK);
	assert_string_equal(c.sub, "u1");
}

/* ---- keys ---- */

static void test_hs256_secret_limits(void **state)
{
	(void)state;
	unsigned char s[JWT_HS256_SECRET_MAX_BYTES + 1];
	memset(s, 'k', sizeof(s));
	int err = 0;
	assert_null(jwt_key_hs256(s, JWT_HS256_SECRET_MIN_BYTES - 1, &err));
	assert_int_equal(err, JWT_E_KEY);
	struct jwt_key *k = jwt_key_hs256(s, JWT_HS256_SECRET_MIN_BYTES, &err);
	assert_non_null(k);
	assert_int_equal(err, JWT_OK);
	jwt_key_free(k);
	k = jwt_key_hs256(s, JWT_HS256_SECRET_MAX_BYTES, &err);
	assert_non_null(k);
	/* long secrets are HMAC-hashed first (RFC 2104): the MAC must still match OpenSSL's */
	const char *tok = craft(C_HS, s, JWT_HS256_SECRET_MAX_BYTES, H_HS, P_GOOD);
	assert_int_equal(vfy(k, tok), JWT_OK);
	assert_int_equal(vfy(hs, tok), JWT_E_SIGNATURE);
	jwt_key_free(k);
	err = 0;
	assert_null(jwt_key_hs256(s, JWT_HS256_SECRET_MAX_BYTES + 1, &err));
	assert_int_equal(err, JWT_E_KEY);
	assert_null(jwt_key_hs256(NULL, 32, &err));
	assert_int_equal(err, JWT_E_KEY);
	assert_null(jwt_key_hs256(s, 0, NULL));
	jwt_key_free(NULL);
}

static void test_generated_pem_roundtrip(void **state)
{
	(void)state;
	char *pem = NULL;
	size_t len = 0;
	int err = 1;
	struct jwt_key *gen = jwt_key_eddsa_generate(&pem, &len, &err);
	assert_non_null(gen);
	assert_int_equal(err, JWT_OK);
	assert_int_equal(strlen(pem), len);
	assert_int_equal(strncmp(pem, "-----BEGIN PRIVATE KEY-----\n", 28), 0);
	struct jwt_key *re = jwt_key_eddsa_from_pem(pem, len, &err);
	assert_non_null(re);
	assert_int_equal(err, JWT_OK);
	assert_string_equal(jwt_key_id(gen), jwt_key_id(re));
	assert_int_equal(jwt_key_alg(re), JWT_ALG_EDDSA);
	struct jwt_claims c, got;
	good_claims(&c);
	char *t1 = NULL, *t2 = NULL;
	assert_int_equal(jwt_sign(gen, &c, &t1), JWT_OK);
	assert_int_equal(jwt_sign(re, &c, &t2), JWT_OK);
	assert_string_equal(t1, t2); /* Ed25519 is deterministic */
	assert_int_equal(vfy_opts(re, t1, &default_opts, &got), JWT_OK);
	assert_int_equal(vfy_opts(gen, t2, &default_opts, &got), JWT_OK);
	assert_int_equal(vfy(ed, t1), JWT_E_KID); /* another generated key differs */
	free(t1);
	free(t2);
	jwt_key_free(re);

	/* the PEM limit: the same PEM padded with trailing newlines to exactly the limit, and one
	 * byte past */
	char *big = malloc(JWT_PEM_MAX_BYTES + 1);
	memcpy(big, pem, len);
	memset(big + len, '\n', JWT_PEM_MAX_BYTES + 1 - len);
	re = jwt_key_eddsa_from_pem(big, JWT_PEM_MAX_BYTES, &err);
	assert_non_null(re);
	assert_string_equal(jwt_key_id(re), jwt_key_id(gen));
	jwt_key_free(re);
	assert_null(jwt_key_eddsa_from_pem(big, JWT_PEM_MAX_BYTES + 1, &err));
	assert_int_equal(err, JWT_E_KEY);
	free(big);
	memset(pem, 0, len);
	free(pem);
	jwt_key_free(gen);
	assert_null(jwt_key_eddsa_generate(NULL, &len, &err));
	assert_int_equal(err, JWT_E_KEY);
}

static char *pem_of(EVP_PKEY *pk, bool pub, const EVP_CIPHER *enc)
{
	BIO *bio = BIO_new(BIO_s_mem());
	if (pub)
		assert_int_equal(PEM_write_bio_PUBKEY(bio, pk), 1);
	else
		assert_int_equal(PEM_write_bio_PKCS8PrivateKey(bio, pk, enc, enc ? "pw" : NULL,
							       enc ? 2 : 0, NULL, NULL),
				 1);
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);
	char *out = slot();
	assert_true(n > 0 && n < 12288);
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	BIO_free(bio);
	return out;
}

static void test_pem_refused(void **state)
{
	(void)state;
	int err = 0;
	const char *garbage = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
	assert_null(jwt_key_eddsa_from_pem(garbage, strlen(garbage), &err));
	assert_int_equal(err, JWT_E_KEY);
	assert_null(jwt_key_eddsa_from_pem("", 0, &err));
	assert_int_equal(err, JWT_E_KEY);
	assert_null(jwt_key_eddsa_from_pem(NULL, 10, &err));
	/* other key types, including X25519 which has the same size */
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *x = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	assert_non_null(ec);
	assert_non_null(x);
	char *p = pem_of(ec, false, NULL);
	err = 0;
	assert_null(jwt_key_eddsa_from_pem(p, strlen(p), &err));
	assert_int_equal(err, JWT_E_KEY);
	p = pem_of(x, false, NULL);
	err = 0;
	assert_null(jwt_key_eddsa_from_pem(p, strlen(p), &err));
	assert_int_equal(err, JWT_E_KEY);
	/* a public key is not a signing key; an encrypted one is refused without a prompt */
	p = pem_of(ed_pk, true, NULL);
	err = 0;
	assert_null(jwt_key_eddsa_from_pem(p, strlen(p), &err));
	assert_int_equal(err, JWT_E_KEY);
	p = pem_of(ed_pk, false, EVP_aes_128_cbc());
	assert_non_null(strstr(p, "ENCRYPTED"));
	err = 0;
	assert_null(jwt_key_eddsa_from_pem(p, strlen(p), &err));
	assert_int_equal(err, JWT_E_KEY);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(x);
}

/* RFC 8037 Appendix A.1 key and A.4 JWS. Its payload is not JSON, so a correct signature gets
 * as far as the claims (JWT_E_MALFORMED), and a wrong one stops at JWT_E_SIGNATURE. */
static void test_rfc8037_vector(void **state)
{
	(void)state;
	const char *d = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
	const char *x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
	const char *jws = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
			  "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7"
			  "sVvpAr_MuM0KAg";
	unsigned char raw[64];
	assert_int_equal(unb64(raw, d, strlen(d)), 32);
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw, 32);
	assert_non_null(pk);
	char *pem = pem_of(pk, false, NULL);
	EVP_PKEY_free(pk);
	int err = 0;
	struct jwt_key *k = jwt_key_eddsa_from_pem(pem, strlen(pem), &err);
	assert_non_null(k);
	/* kid from the RFC's public key x */
	unsigned char pub[64], md[32];
	char hex[65];
	assert_int_equal(unb64(pub, x, strlen(x)), 32);
	EVP_Digest(pub, 32, md, NULL, EVP_sha256(), NULL);
	util_hex(hex, md, 32);
	hex[JWT_KID_CHARS] = '\0';
	assert_string_equal(jwt_key_id(k), hex);

	assert_int_equal(vfy(k, jws), JWT_E_MALFORMED);
	char *t = slot();
	snprintf(t, 12288, "%s", jws);
	char *s = strrchr(t, '.') + 1;
	s[10] = s[10] == 'A' ? 'B' : 'A';
	assert_int_equal(vfy(k, t), JWT_E_SIGNATURE);
	/* and a real token from this key verifies */
	struct jwt_claims c;
	good_claims(&c);
	assert_int_equal(sign_then_verify_at(k, &c, NOW), JWT_OK);
	jwt_key_free(k);
}

/* One key, many threads signing and verifying at once: every result stays correct. */
#define CONC_THREADS 4
#define CONC_ROUNDS 50

static void *conc_worker(void *arg)
{
	const struct jwt_key *k = arg;
	struct jwt_claims c, got;
	good_claims(&c);
	intptr_t bad = 0;
	for (int i = 0; i < CONC_ROUNDS; i++) {
		snprintf(c.jti, sizeof(c.jti), "t%p-%d", (void *)&c, i);
		char *tok = NULL;
		if (jwt_sign(k, &c, &tok) != JWT_OK) {
			bad++;
			continue;
		}
		if (jwt_verify(k, tok, strlen(tok), &default_opts, &got) != JWT_OK ||
		    strcmp(got.jti, c.jti) != 0)
			bad++;
		tok[strlen(tok) - 2] = tok[strlen(tok) - 2] == 'A' ? 'B' : 'A';
		if (jwt_verify(k, tok, strlen(tok), &default_opts, &got) == JWT_OK)
			bad++;
		free(tok);
	}
	return (void *)bad;
}

static void test_concurrent_use(void **state)
{
	(void)state;
	pthread_t th[2 * CONC_THREADS];
	for (int i = 0; i < 2 * CONC_THREADS; i++)
		assert_int_equal(
			pthread_create(&th[i], NULL, conc_worker, i % 2 ? (void *)ed : (void *)hs),
			0);
	for (int i = 0; i < 2 * CONC_THREADS; i++) {
		void *bad = NULL;
		assert_int_equal(pthread_join(th[i], &bad), 0);
		assert_null(bad);
	}
}

static void test_strerror(void **state)
{
	(void)state;
	const char *seen[14];
	for (int e = 0; e >= JWT_E_KEY; e--) {
		const char *s = jwt_strerror(e);
		assert_non_null(s);
		assert_true(strlen(s) > 0);
		assert_string_not_equal(s, "unknown error");
		for (int j = 0; j > e; j--)
			assert_string_not_equal(s, seen[-j]);
		seen[-e] = s;
	}
	assert_string_equal(jwt_strerror(JWT_E_EXPIRED), "expired");
	assert_string_equal(jwt_strerror(JWT_E_SIGNATURE), "bad signature");
	assert_string_equal(jwt_strerror(-99), "unknown error");
	assert_string_equal(jwt_strerror(5), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_eddsa),
		cmocka_unit_test(test_roundtrip_hs256),
		cmocka_unit_test(test_sign_escapes_and_utf8),
		cmocka_unit_test(test_sign_refuses_bad_claims),
		cmocka_unit_test(test_alg_none),
		cmocka_unit_test(test_alg_mismatch),
		cmocka_unit_test(test_alg_confusion_public_key_as_secret),
		cmocka_unit_test(test_kid),
		cmocka_unit_test(test_key_ids),
		cmocka_unit_test(test_header_closed),
		cmocka_unit_test(test_tampered_eddsa),
		cmocka_unit_test(test_tampered_hs256),
		cmocka_unit_test(test_expiry_and_skew),
		cmocka_unit_test(test_nbf_iat_future),
		cmocka_unit_test(test_aud_iss_use),
		cmocka_unit_test(test_base64url_strict),
		cmocka_unit_test(test_parts),
		cmocka_unit_test(test_payload_types),
		cmocka_unit_test(test_claim_string_limits),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_verify_args_and_zeroed_output),
		cmocka_unit_test(test_hs256_secret_limits),
		cmocka_unit_test(test_generated_pem_roundtrip),
		cmocka_unit_test(test_pem_refused),
		cmocka_unit_test(test_rfc8037_vector),
		cmocka_unit_test(test_concurrent_use),
		cmocka_unit_test(test_strerror),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
