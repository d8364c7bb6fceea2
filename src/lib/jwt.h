/*
 * jwt.h - JSON Web Tokens (RFC 7519, compact JWS) for cloisterd's access and refresh tokens,
 * on OpenSSL EVP: EdDSA (Ed25519, RFC 8037) by default, HS256 (HMAC-SHA-256) available.
 *
 * One fixed algorithm per key: a token is accepted only when its header's "alg" is exactly the
 * key's algorithm ("none", "HS256" presented to an EdDSA key, "EdDSA" to an HS256 key, any other
 * value or case: JWT_E_ALG), so the classic algorithm-confusion attacks cannot apply. The header
 * may carry "typ":"JWT" and "kid"; a "kid" that is present must equal the key's id (a hex prefix
 * of SHA-256 of the public key, or of the HMAC secret's SHA-256, so it reveals nothing); any other
 * header member ("jku", "x5u", "crit", ...) is refused. Base64url without padding only; JSON is
 * parsed strictly (duplicate keys, invalid UTF-8 and trailing data are malformed).
 *
 * Claims: sub, role, jti, aud, iss, token_use ("access" | "refresh"), iat, exp (and nbf when set),
 * all required on verification except nbf. Times are Unix seconds; verification allows
 * JWT_CLOCK_SKEW_S of skew on exp, nbf and iat (an iat in the future past the skew is refused).
 *
 * Ownership: a jwt_key owns its OpenSSL key and wipes secrets when freed. Thread safety: a key is
 * immutable after creation; sign and verify may run on many threads with the same key.
 * Library code: no logging; errors are negative enum jwt_err values, jwt_strerror() names them.
 */
#ifndef CLOISTER_JWT_H
#define CLOISTER_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JWT_TOKEN_MAX_BYTES 4096      /* whole compact token; longer: JWT_E_TOO_LARGE */
#define JWT_HS256_SECRET_MIN_BYTES 32 /* shorter HMAC secrets are refused (RFC 7518 §3.2) */
#define JWT_HS256_SECRET_MAX_BYTES 128
#define JWT_CLOCK_SKEW_S 30
#define JWT_KID_CHARS 16
#define JWT_PEM_MAX_BYTES 16384 /* PEM text given to jwt_key_eddsa_from_pem; longer: JWT_E_KEY */
#define JWT_SUB_MAX 64          /* bytes incl. NUL, for every string claim below */
#define JWT_ROLE_MAX 16
#define JWT_JTI_MAX 48
#define JWT_AUD_MAX 64
#define JWT_ISS_MAX 64
#define JWT_USE_MAX 16

enum jwt_alg { JWT_ALG_EDDSA = 1, JWT_ALG_HS256 = 2 };

enum jwt_err {
	JWT_OK = 0,
	JWT_E_MALFORMED = -1, /* not three base64url parts, bad JSON, a missing or mistyped claim */
	JWT_E_TOO_LARGE = -2,
	JWT_E_ALG = -3, /* alg missing, "none", or not this key's algorithm */
	JWT_E_KID = -4, /* kid present and not this key's */
	JWT_E_SIGNATURE = -5,
	JWT_E_EXPIRED = -6, /* now > exp + skew */
	JWT_E_NOT_YET = -7, /* nbf or iat in the future past the skew */
	JWT_E_AUDIENCE = -8,
	JWT_E_ISSUER = -9,
	JWT_E_USE = -10, /* token_use is not the expected one (a refresh token as access) */
	JWT_E_NOMEM = -11,
	JWT_E_KEY = -12, /* key material unusable (wrong size, wrong type, unreadable PEM) */
};

struct jwt_claims {
	char sub[JWT_SUB_MAX];   /* the user's id */
	char role[JWT_ROLE_MAX]; /* "admin" | "user" */
	char jti[JWT_JTI_MAX];   /* unique token id */
	char aud[JWT_AUD_MAX];
	char iss[JWT_ISS_MAX];
	char token_use[JWT_USE_MAX]; /* "access" | "refresh" */
	int64_t iat, exp, nbf;       /* nbf 0 = absent */
};

struct jwt_verify_opts {
	int64_t now;           /* Unix seconds */
	const char *audience;  /* required exact "aud" (NULL = not checked) */
	const char *issuer;    /* required exact "iss" (NULL = not checked) */
	const char *token_use; /* required exact "token_use" (NULL = not checked) */
};

struct jwt_key;

/* Ed25519 private key (signs and verifies) from a PEM "PRIVATE KEY" (PKCS#8) text of at most
 * JWT_PEM_MAX_BYTES. Encrypted PEM, other key types and public keys: JWT_E_KEY. NULL on failure
 * with *err (when err is not NULL) set; JWT_OK on success. The same for the constructors below. */
struct jwt_key *jwt_key_eddsa_from_pem(const char *pem, size_t len, int *err);
/* A fresh Ed25519 key; *pem_out (malloc'd, caller frees after wiping) is its PKCS#8 PEM. */
struct jwt_key *jwt_key_eddsa_generate(char **pem_out, size_t *pem_len, int *err);
/* HS256 key from a secret of JWT_HS256_SECRET_MIN_BYTES..JWT_HS256_SECRET_MAX_BYTES bytes. */
struct jwt_key *jwt_key_hs256(const unsigned char *secret, size_t len, int *err);
void jwt_key_free(struct jwt_key *k);
enum jwt_alg jwt_key_alg(const struct jwt_key *k);
/* JWT_KID_CHARS hex chars, NUL-terminated, borrowed from the key. */
const char *jwt_key_id(const struct jwt_key *k);

/* Signs c into a compact token (malloc'd, NUL-terminated; caller frees). Every string in c must
 * be non-empty valid UTF-8, NUL-terminated inside its array; iat, exp and nbf in 0..2^53, and
 * nbf 0 leaves nbf out of the token. Claims that break this: JWT_E_MALFORMED. The header is
 * {"alg":..,"typ":"JWT","kid":..}. Returns JWT_OK or a negative jwt_err (*out NULL then). */
int jwt_sign(const struct jwt_key *k, const struct jwt_claims *c, char **out);

/* Verifies token (len bytes, need not be NUL-terminated) with k and o, in this order: size,
 * structure, header (alg, kid, no other members), signature, claims (types, then exp, nbf,
 * iat, aud, iss, token_use). On JWT_OK fills *out; on failure *out is zeroed.
 * Claim types: the six strings non-empty JSON strings that fit their arrays ("aud" as an array
 * is refused), iat/exp/nbf JSON integers (not reals) in 0..2^53; other payload members are
 * ignored. The payload JSON is parsed only after the signature has been checked. An empty
 * signature part is structurally valid (then JWT_E_ALG or JWT_E_SIGNATURE); a "typ" other than
 * "JWT" or an unknown header member is JWT_E_MALFORMED. */
int jwt_verify(const struct jwt_key *k, const char *token, size_t len,
	       const struct jwt_verify_opts *o, struct jwt_claims *out);

/* "expired", "bad signature", ... for an enum jwt_err value. */
const char *jwt_strerror(int err);

#endif
