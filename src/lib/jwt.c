/*
 * jwt.c - compact JWS tokens for cloisterd (see jwt.h), on OpenSSL EVP and jansson.
 *
 * How it works. A key is created once (PEM or secret) and then only read, so verification can run
 * on any number of threads: Ed25519 keys are a shared EVP_PKEY; an HS256 key is an HMAC context
 * keyed once and duplicated per token, so no per-token algorithm fetch or re-keying. The
 * key also holds its kid and its already encoded header, which signing simply prepends.
 *
 * Verification works on one stack buffer (a token is at most JWT_TOKEN_MAX_BYTES, its decoded
 * parts are smaller), and decides as much as it can before parsing anything: size, three strictly
 * canonical base64url parts, then the header (jansson, strict) whose "alg" must be the key's own,
 * then the signature over the original bytes, and only then the payload JSON. Attacker-chosen
 * JSON bodies therefore never reach the claim parser without a valid signature.
 *
 * Base64url is our own small codec because a token must have exactly one encoding: no padding,
 * no whitespace, and the unused low bits of the last character must be zero (OpenSSL's decoder
 * accepts all three, which would make a tampered-but-equivalent token verify).
 * Every OpenSSL failure clears the thread's error queue: a stale entry there would otherwise be
 * reported by the next unrelated TLS call on that thread.
 */
#include "jwt.h"

#include "json.h"
#include "util.h"

#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#define ED25519_SIG_BYTES 64
#define ED25519_PUB_BYTES 32
#define HS256_MAC_BYTES 32
#define SHA256_BYTES 32
/* 2^53: the largest integer every JSON implementation reads exactly. */
#define JWT_TIME_MAX (INT64_C(1) << 53)
/* {"alg":"EdDSA","typ":"JWT","kid":"<16 hex>"} is 52 bytes; 70 base64url chars. */
#define JWT_HEADER_B64_MAX 96

struct jwt_key {
	enum jwt_alg alg;
	EVP_PKEY *pkey;   /* JWT_ALG_EDDSA: the private key (its public half verifies) */
	EVP_MAC_CTX *mac; /* JWT_ALG_HS256: keyed template, never used directly */
	char kid[JWT_KID_CHARS + 1];
	char header[JWT_HEADER_B64_MAX]; /* base64url of the header this key signs with */
	size_t header_len;
};

/* ---- base64url (RFC 4648 §5, no padding, canonical only) ---- */

static const char b64u_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64u_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

/* Writes b64u_len(n) chars to out (no NUL); returns that length. */
static size_t b64u_encode(char *out, const unsigned char *in, size_t n)
{
	size_t o = 0, i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64u_chars[v >> 18];
		out[o++] = b64u_chars[(v >> 12) & 63];
		out[o++] = b64u_chars[(v >> 6) & 63];
		out[o++] = b64u_chars[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = b64u_chars[v >> 18];
		out[o++] = b64u_chars[(v >> 12) & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64u_chars[v >> 18];
		out[o++] = b64u_chars[(v >> 12) & 63];
		out[o++] = b64u_chars[(v >> 6) & 63];
	}
	return o;
}

static int b64u_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Decodes n chars into out (room for n * 3 / 4 bytes). Returns the byte count, or -1 for a
 * character outside the alphabet, an impossible length, or non-zero unused trailing bits. */
static ssize_t b64u_decode(unsigned char *out, const char *in, size_t n)
{
	if (n % 4 == 1)
		return -1;
	size_t o = 0;
	uint32_t acc = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64u_val((unsigned char)in[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			out[o++] = (unsigned char)(acc >> 16);
			out[o++] = (unsigned char)(acc >> 8);
			out[o++] = (unsigned char)acc;
			acc = 0;
		}
	}
	if (n % 4 == 2) {
		if (acc & 0xf)
			return -1;
		out[o++] = (unsigned char)(acc >> 4);
	} else if (n % 4 == 3) {
		if (acc & 0x3)
			return -1;
		out[o++] = (unsigned char)(acc >> 10);
		out[o++] = (unsigned char)(acc >> 2);
	}
	return (ssize_t)o;
}

/* ---- keys ---- */

static const char *alg_name(enum jwt_alg alg)
{
	return alg == JWT_ALG_EDDSA ? "EdDSA" : "HS256";
}

static void set_err(int *err, int v)
{
	if (err)
		*err = v;
}

/* Fills the kid (hex prefix of SHA-256(material)) and the encoded header. */
static int key_finish(struct jwt_key *k, const unsigned char *material, size_t len)
{
	unsigned char md[SHA256_BYTES];
	char hex[2 * SHA256_BYTES + 1];
	if (EVP_Digest(material, len, md, NULL, EVP_sha256(), NULL) != 1) {
		ERR_clear_error();
		return JWT_E_NOMEM;
	}
	util_hex(hex, md, sizeof(md));
	memcpy(k->kid, hex, JWT_KID_CHARS);
	k->kid[JWT_KID_CHARS] = '\0';

	char hdr[JWT_HEADER_B64_MAX];
	int n = snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
			 alg_name(k->alg), k->kid);
	if (n < 0 || b64u_len((size_t)n) >= sizeof(k->header))
		return JWT_E_KEY;
	k->header_len = b64u_encode(k->header, (const unsigned char *)hdr, (size_t)n);
	k->header[k->header_len] = '\0';
	return JWT_OK;
}

static struct jwt_key *eddsa_key(EVP_PKEY *pkey, int *err)
{
	if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pkey);
		set_err(err, JWT_E_KEY);
		return NULL;
	}
	unsigned char pub[ED25519_PUB_BYTES];
	size_t publen = sizeof(pub);
	if (EVP_PKEY_get_raw_public_key(pkey, pub, &publen) != 1 || publen != sizeof(pub)) {
		ERR_clear_error();
		EVP_PKEY_free(pkey);
		set_err(err, JWT_E_KEY);
		return NULL;
	}
	struct jwt_key *k = calloc(1, sizeof(*k));
	if (!k) {
		EVP_PKEY_free(pkey);
		set_err(err, JWT_E_NOMEM);
		return NULL;
	}
	k->alg = JWT_ALG_EDDSA;
	k->pkey = pkey;
	int r = key_finish(k, pub, publen);
	if (r < 0) {
		jwt_key_free(k);
		set_err(err, r);
		return NULL;
	}
	set_err(err, JWT_OK);
	return k;
}

/* Refuses encrypted PEM instead of letting OpenSSL prompt on the terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

struct jwt_key *jwt_key_eddsa_from_pem(const char *pem, size_t len, int *err)
{
	if (!pem || len == 0 || len > JWT_PEM_MAX_BYTES) {
		set_err(err, JWT_E_KEY);
		return NULL;
	}
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio) {
		ERR_clear_error();
		set_err(err, JWT_E_NOMEM);
		return NULL;
	}
	EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (!pkey) {
		ERR_clear_error();
		set_err(err, JWT_E_KEY);
		return NULL;
	}
	return eddsa_key(pkey, err);
}

struct jwt_key *jwt_key_eddsa_generate(char **pem_out, size_t *pem_len, int *err)
{
	if (!pem_out || !pem_len) {
		set_err(err, JWT_E_KEY);
		return NULL;
	}
	*pem_out = NULL;
	*pem_len = 0;
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!pkey) {
		ERR_clear_error();
		set_err(err, JWT_E_NOMEM);
		return NULL;
	}
	/* secmem: the BIO's buffer is cleansed when freed, so no copy of the key lingers. */
	BIO *bio = BIO_new(BIO_s_secmem());
	char *data = NULL;
	long n = 0;
	if (!bio || PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
	    (n = BIO_get_mem_data(bio, &data)) <= 0) {
		ERR_clear_error();
		BIO_free(bio);
		EVP_PKEY_free(pkey);
		set_err(err, JWT_E_NOMEM);
		return NULL;
	}
	char *copy = malloc((size_t)n + 1);
	if (!copy) {
		BIO_free(bio);
		EVP_PKEY_free(pkey);
		set_err(err, JWT_E_NOMEM);
		return NULL;
	}
	memcpy(copy, data, (size_t)n);
	copy[n] = '\0';
	BIO_free(bio);
	struct jwt_key *k = eddsa_key(pkey, err);
	if (!k) {
		OPENSSL_cleanse(copy, (size_t)n);
		free(copy);
		return NULL;
	}
	*pem_out = copy;
	*pem_len = (size_t)n;
	return k;
}

struct jwt_key *jwt_key_hs256(const unsigned char *secret, size_t len, int *err)
{
	if (!secret || len < JWT_HS256_SECRET_MIN_BYTES || len > JWT_HS256_SECRET_MAX_BYTES) {
		set_err(err, JWT_E_KEY);
		return NULL;
	}
	struct jwt_key *k = calloc(1, sizeof(*k));
	if (!k) {
		set_err(err, JWT_E_NOMEM);
		return NULL;
	}
	k->alg = JWT_ALG_HS256;
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	k->mac = mac ? EVP_MAC_CTX_new(mac) : NULL;
	EVP_MAC_free(mac); /* the context keeps its own reference */
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	if (!k->mac || EVP_MAC_init(k->mac, secret, len, params) != 1) {
		ERR_clear_error();
		jwt_key_free(k);
		set_err(err, JWT_E_NOMEM);
		return NULL;
	}
	/* The kid hashes SHA-256(secret), not the secret, so it is no cheap oracle for guesses. */
	unsigned char inner[SHA256_BYTES];
	int r = EVP_Digest(secret, len, inner, NULL, EVP_sha256(), NULL) == 1
			? key_finish(k, inner, sizeof(inner))
			: JWT_E_NOMEM;
	OPENSSL_cleanse(inner, sizeof(inner));
	if (r < 0) {
		ERR_clear_error();
		jwt_key_free(k);
		set_err(err, r);
		return NULL;
	}
	set_err(err, JWT_OK);
	return k;
}

void jwt_key_free(struct jwt_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);   /* OpenSSL cleanses private key material on free */
	EVP_MAC_CTX_free(k->mac); /* likewise the HMAC key schedule */
	OPENSSL_cleanse(k, sizeof(*k));
	free(k);
}

enum jwt_alg jwt_key_alg(const struct jwt_key *k)
{
	return k ? k->alg : (enum jwt_alg)0;
}

const char *jwt_key_id(const struct jwt_key *k)
{
	return k ? k->kid : "";
}

/* ---- signature primitives ---- */

/* Signs msg; sig gets ED25519_SIG_BYTES or HS256_MAC_BYTES bytes, *siglen says which. */
static int sig_make(const struct jwt_key *k, const char *msg, size_t n, unsigned char *sig,
		    size_t *siglen)
{
	int ok = 0;
	if (k->alg == JWT_ALG_EDDSA) {
		EVP_MD_CTX *mc = EVP_MD_CTX_new();
		*siglen = ED25519_SIG_BYTES;
		ok = mc && EVP_DigestSignInit_ex(mc, NULL, NULL, NULL, NULL, k->pkey, NULL) == 1 &&
		     EVP_DigestSign(mc, sig, siglen, (const unsigned char *)msg, n) == 1 &&
		     *siglen == ED25519_SIG_BYTES;
		EVP_MD_CTX_free(mc);
	} else {
		EVP_MAC_CTX *mc = EVP_MAC_CTX_dup(k->mac);
		ok = mc && EVP_MAC_update(mc, (const unsigned char *)msg, n) == 1 &&
		     EVP_MAC_final(mc, sig, siglen, HS256_MAC_BYTES) == 1 &&
		     *siglen == HS256_MAC_BYTES;
		EVP_MAC_CTX_free(mc);
	}
	if (!ok) {
		ERR_clear_error();
		return JWT_E_NOMEM;
	}
	return JWT_OK;
}

/* JWT_OK when sig (siglen bytes) is k's signature of msg, else JWT_E_SIGNATURE. */
static int sig_check(const struct jwt_key *k, const char *msg, size_t n, const unsigned char *sig,
		     size_t siglen)
{
	if (k->alg == JWT_ALG_EDDSA) {
		if (siglen != ED25519_SIG_BYTES)
			return JWT_E_SIGNATURE;
		EVP_MD_CTX *mc = EVP_MD_CTX_new();
		if (!mc)
			return JWT_E_NOMEM;
		int r = JWT_E_NOMEM;
		if (EVP_DigestVerifyInit_ex(mc, NULL, NULL, NULL, NULL, k->pkey, NULL) == 1)
			r = EVP_DigestVerify(mc, sig, siglen, (const unsigned char *)msg, n) == 1
				    ? JWT_OK
				    : JWT_E_SIGNATURE;
		EVP_MD_CTX_free(mc);
		if (r != JWT_OK)
			ERR_clear_error();
		return r;
	}
	if (siglen != HS256_MAC_BYTES)
		return JWT_E_SIGNATURE;
	unsigned char mac[HS256_MAC_BYTES];
	size_t maclen = 0;
	int r = sig_make(k, msg, n, mac, &maclen);
	if (r < 0)
		return r;
	return CRYPTO_memcmp(mac, sig, HS256_MAC_BYTES) == 0 ? JWT_OK : JWT_E_SIGNATURE;
}

/* ---- signing ---- */

/* A bounded JSON writer: an overflow is remembered and reported once at the end. */
struct jw {
	char *p;
	size_t len, cap;
	bool full;
};

static void jw_put(struct jw *w, const char *s, size_t n)
{
	if (w->full || n > w->cap - w->len) {
		w->full = true;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

static void jw_str(struct jw *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	jw_put(w, "\"", 1);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		char esc[6] = { '\\', 'u', '0', '0', hex[*c >> 4], hex[*c & 15] };
		if (*c == '"' || *c == '\\') {
			esc[1] = (char)*c;
			jw_put(w, esc, 2);
		} else if (*c < 0x20) {
			jw_put(w, esc, 6);
		} else {
			jw_put(w, (const char *)c, 1);
		}
	}
	jw_put(w, "\"", 1);
}

static void jw_member_str(struct jw *w, const char *name, const char *v)
{
	jw_put(w, w->len > 1 ? ",\"" : "\"", w->len > 1 ? 2 : 1);
	jw_put(w, name, strlen(name));
	jw_put(w, "\":", 2);
	jw_str(w, v);
}

static void jw_member_int(struct jw *w, const char *name, int64_t v)
{
	char num[32];
	int n = snprintf(num, sizeof(num), ",\"%s\":%lld", name, (long long)v);
	if (n < 0 || (size_t)n >= sizeof(num)) {
		w->full = true;
		return;
	}
	jw_put(w, num, (size_t)n);
}

static bool claim_str_ok(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	return n > 0 && n < cap && util_utf8_valid(s, n);
}

static bool claim_time_ok(int64_t t)
{
	return t >= 0 && t <= JWT_TIME_MAX;
}

int jwt_sign(const struct jwt_key *k, const struct jwt_claims *c, char **out)
{
	if (!out)
		return JWT_E_MALFORMED;
	*out = NULL;
	if (!k)
		return JWT_E_KEY;
	if (!c)
		return JWT_E_MALFORMED;
	if (!claim_str_ok(c->sub, sizeof(c->sub)) || !claim_str_ok(c->role, sizeof(c->role)) ||
	    !claim_str_ok(c->jti, sizeof(c->jti)) || !claim_str_ok(c->aud, sizeof(c->aud)) ||
	    !claim_str_ok(c->iss, sizeof(c->iss)) ||
	    !claim_str_ok(c->token_use, sizeof(c->token_use)) || !claim_time_ok(c->iat) ||
	    !claim_time_ok(c->exp) || !claim_time_ok(c->nbf))
		return JWT_E_MALFORMED;

	/* The payload can be at most 3/4 of a token; its encoding must still fit after it. */
	char payload[JWT_TOKEN_MAX_BYTES / 4 * 3];
	struct jw w = { .p = payload, .cap = sizeof(payload) };
	jw_put(&w, "{", 1);
	jw_member_str(&w, "iss", c->iss);
	jw_member_str(&w, "sub", c->sub);
	jw_member_str(&w, "aud", c->aud);
	jw_member_int(&w, "iat", c->iat);
	if (c->nbf)
		jw_member_int(&w, "nbf", c->nbf);
	jw_member_int(&w, "exp", c->exp);
	jw_member_str(&w, "jti", c->jti);
	jw_member_str(&w, "role", c->role);
	jw_member_str(&w, "token_use", c->token_use);
	jw_put(&w, "}", 1);
	if (w.full)
		return JWT_E_TOO_LARGE;

	size_t sig_chars = b64u_len(k->alg == JWT_ALG_EDDSA ? ED25519_SIG_BYTES : HS256_MAC_BYTES);
	size_t total = k->header_len + 1 + b64u_len(w.len) + 1 + sig_chars;
	if (total > JWT_TOKEN_MAX_BYTES)
		return JWT_E_TOO_LARGE;
	char *tok = malloc(total + 1);
	if (!tok)
		return JWT_E_NOMEM;
	size_t o = k->header_len;
	memcpy(tok, k->header, o);
	tok[o++] = '.';
	o += b64u_encode(tok + o, (const unsigned char *)payload, w.len);
	unsigned char sig[ED25519_SIG_BYTES];
	size_t siglen = 0;
	int r = sig_make(k, tok, o, sig, &siglen);
	if (r < 0) {
		free(tok);
		return r;
	}
	tok[o++] = '.';
	o += b64u_encode(tok + o, sig, siglen);
	tok[o] = '\0';
	*out = tok;
	return JWT_OK;
}

/* ---- verification ---- */

/* Header checks in the documented order: alg, kid, then no members besides alg, typ, kid. */
static int check_header(const struct jwt_key *k, const unsigned char *h, size_t n)
{
	json_error_t jerr;
	json_t *hdr = json_parse_strict((const char *)h, n, &jerr);
	int r = JWT_E_MALFORMED;
	if (!json_is_object(hdr))
		goto out;
	/* jansson refuses U+0000 in strings, so strcmp sees the whole value. */
	json_t *alg = json_object_get(hdr, "alg");
	r = JWT_E_ALG;
	if (!json_is_string(alg) || strcmp(json_string_value(alg), alg_name(k->alg)) != 0)
		goto out;
	size_t known = 1;
	json_t *kid = json_object_get(hdr, "kid");
	if (kid) {
		r = JWT_E_KID;
		if (!json_is_string(kid) || strcmp(json_string_value(kid), k->kid) != 0)
			goto out;
		known++;
	}
	r = JWT_E_MALFORMED;
	json_t *typ = json_object_get(hdr, "typ");
	if (typ) {
		if (!json_is_string(typ) || strcmp(json_string_value(typ), "JWT") != 0)
			goto out;
		known++;
	}
	if (json_object_size(hdr) != known)
		goto out;
	r = JWT_OK;
out:
	json_decref(hdr);
	return r;
}

static bool get_str(json_t *obj, const char *name, char *dst, size_t cap)
{
	json_t *v = json_object_get(obj, name);
	if (!json_is_string(v))
		return false;
	size_t n = json_string_length(v);
	if (n == 0 || n >= cap)
		return false;
	memcpy(dst, json_string_value(v), n);
	dst[n] = '\0';
	return true;
}

/* Missing -> absent; present: a JSON integer (not a real) in 0..2^53. */
static bool get_time(json_t *obj, const char *name, int64_t *dst, bool *present)
{
	json_t *v = json_object_get(obj, name);
	*present = v != NULL;
	if (!v)
		return true;
	if (!json_is_integer(v))
		return false;
	json_int_t t = json_integer_value(v);
	if (t < 0 || t > JWT_TIME_MAX)
		return false;
	*dst = (int64_t)t;
	return true;
}

static int check_claims(const unsigned char *p, size_t n, const struct jwt_verify_opts *o,
			struct jwt_claims *c)
{
	json_error_t jerr;
	json_t *pl = json_parse_strict((const char *)p, n, &jerr);
	int r = JWT_E_MALFORMED;
	bool has_iat = false, has_exp = false, has_nbf = false;
	if (!json_is_object(pl) || !get_str(pl, "sub", c->sub, sizeof(c->sub)) ||
	    !get_str(pl, "role", c->role, sizeof(c->role)) ||
	    !get_str(pl, "jti", c->jti, sizeof(c->jti)) ||
	    !get_str(pl, "aud", c->aud, sizeof(c->aud)) ||
	    !get_str(pl, "iss", c->iss, sizeof(c->iss)) ||
	    !get_str(pl, "token_use", c->token_use, sizeof(c->token_use)) ||
	    !get_time(pl, "iat", &c->iat, &has_iat) || !get_time(pl, "exp", &c->exp, &has_exp) ||
	    !get_time(pl, "nbf", &c->nbf, &has_nbf) || !has_iat || !has_exp)
		goto out;
	/* Written as now-versus-(claim ± skew): claims are <= 2^53, so nothing can overflow
	 * whatever now the caller passes. */
	if (o->now > c->exp + JWT_CLOCK_SKEW_S)
		r = JWT_E_EXPIRED;
	else if ((has_nbf && o->now < c->nbf - JWT_CLOCK_SKEW_S) ||
		 o->now < c->iat - JWT_CLOCK_SKEW_S)
		r = JWT_E_NOT_YET;
	else if (o->audience && strcmp(c->aud, o->audience) != 0)
		r = JWT_E_AUDIENCE;
	else if (o->issuer && strcmp(c->iss, o->issuer) != 0)
		r = JWT_E_ISSUER;
	else if (o->token_use && strcmp(c->token_use, o->token_use) != 0)
		r = JWT_E_USE;
	else
		r = JWT_OK;
out:
	json_decref(pl);
	return r;
}

int jwt_verify(const struct jwt_key *k, const char *token, size_t len,
	       const struct jwt_verify_opts *o, struct jwt_claims *out)
{
	if (out)
		memset(out, 0, sizeof(*out));
	if (!k)
		return JWT_E_KEY;
	if (!token || !o || !out)
		return JWT_E_MALFORMED;
	if (len > JWT_TOKEN_MAX_BYTES)
		return JWT_E_TOO_LARGE;

	const char *d1 = memchr(token, '.', len);
	const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
	if (!d2)
		return JWT_E_MALFORMED;
	const char *h = token, *p = d1 + 1, *s = d2 + 1;
	size_t hn = (size_t)(d1 - h), pn = (size_t)(d2 - p), sn = len - (size_t)(s - token);
	/* A fourth part shows up as a '.' in the signature, outside the alphabet: refused below.
	 * An empty signature is structurally fine so "alg":"none" tokens get JWT_E_ALG. */
	if (hn == 0 || pn == 0)
		return JWT_E_MALFORMED;

	/* Decoded parts are 3/4 of their text, so they share one buffer the size of the token. */
	unsigned char buf[JWT_TOKEN_MAX_BYTES];
	unsigned char *hb = buf;
	ssize_t hl = b64u_decode(hb, h, hn);
	unsigned char *pb = hl >= 0 ? hb + hl : NULL;
	ssize_t pl = pb ? b64u_decode(pb, p, pn) : -1;
	unsigned char *sb = pl >= 0 ? pb + pl : NULL;
	ssize_t sl = sb ? b64u_decode(sb, s, sn) : -1;
	if (sl < 0)
		return JWT_E_MALFORMED;

	int r = check_header(k, hb, (size_t)hl);
	if (r == JWT_OK)
		r = sig_check(k, token, (size_t)(d2 - token), sb, (size_t)sl);
	struct jwt_claims c;
	memset(&c, 0, sizeof(c));
	if (r == JWT_OK)
		r = check_claims(pb, (size_t)pl, o, &c);
	if (r == JWT_OK)
		*out = c;
	return r;
}

const char *jwt_strerror(int err)
{
	switch (err) {
	case JWT_OK:
		return "ok";
	case JWT_E_MALFORMED:
		return "malformed token";
	case JWT_E_TOO_LARGE:
		return "token too large";
	case JWT_E_ALG:
		return "algorithm not allowed";
	case JWT_E_KID:
		return "unknown key id";
	case JWT_E_SIGNATURE:
		return "bad signature";
	case JWT_E_EXPIRED:
		return "expired";
	case JWT_E_NOT_YET:
		return "not yet valid";
	case JWT_E_AUDIENCE:
		return "wrong audience";
	case JWT_E_ISSUER:
		return "wrong issuer";
	case JWT_E_USE:
		return "wrong token use";
	case JWT_E_NOMEM:
		return "out of memory";
	case JWT_E_KEY:
		return "unusable key";
	default:
		return "unknown error";
	}
}
