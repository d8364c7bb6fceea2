/*
 * fuzz_jwt.c - libFuzzer harness for jwt_verify, with one fixed EdDSA key and one fixed HS256
 * key built once.
 *
 * Each input is used twice:
 *  1. as a compact token, verified with both keys (size, structure, base64url, header, the
 *     signature check);
 *  2. when it contains a '\n', as "<header JSON>\n<payload JSON>": the harness encodes both and
 *     MACs them with the HS256 key's secret, so mutated JSON gets past the signature and
 *     reaches the header and claim parsers, which random tokens never would.
 * Whenever a token verifies, the claims must be well-formed and must survive a jwt_sign /
 * jwt_verify round trip unchanged; a failed verification must leave the claims zeroed.
 * The seeds' tokens are valid at FUZZ_NOW.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "jwt.h"

#define FUZZ_NOW INT64_C(1700000000)

static const char fuzz_pem[] = "-----BEGIN PRIVATE KEY-----\n"
			       "MC4CAQAwBQYDK2VwBCIEIFHnzk/cTnMdfEzcuMyHDvWAHEPnmw8Q3PlrXiqrX5IK\n"
			       "-----END PRIVATE KEY-----\n";
static const unsigned char fuzz_secret[32] = "fuzz-jwt-hs256-secret-32-bytes!";

static struct jwt_key *fuzz_ed, *fuzz_hs;

static void fuzz_init(void)
{
	if (fuzz_ed)
		return;
	fuzz_ed = jwt_key_eddsa_from_pem(fuzz_pem, sizeof(fuzz_pem) - 1, NULL);
	fuzz_hs = jwt_key_hs256(fuzz_secret, sizeof(fuzz_secret), NULL);
	if (!fuzz_ed || !fuzz_hs)
		abort();
}

static const struct jwt_verify_opts fuzz_opts = {
	.now = FUZZ_NOW, .audience = "cloisterd", .issuer = "cloisterd", .token_use = "access"
};

static void check_str(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	if (n == 0 || n == cap)
		abort();
}

/* Verifies len bytes at tok with k and checks the postconditions. */
static void verify_one(const struct jwt_key *k, const char *tok, size_t len)
{
	struct jwt_claims c;
	memset(&c, 0x5a, sizeof(c));
	int r = jwt_verify(k, tok, len, &fuzz_opts, &c);
	if (r != JWT_OK) {
		static const struct jwt_claims zero;
		if (r > 0 || r < JWT_E_KEY || memcmp(&c, &zero, sizeof(c)) != 0)
			abort();
		return;
	}
	check_str(c.sub, sizeof(c.sub));
	check_str(c.role, sizeof(c.role));
	check_str(c.jti, sizeof(c.jti));
	check_str(c.aud, sizeof(c.aud));
	check_str(c.iss, sizeof(c.iss));
	check_str(c.token_use, sizeof(c.token_use));
	char *again = NULL;
	if (jwt_sign(k, &c, &again) != JWT_OK)
		abort();
	struct jwt_claims c2;
	if (jwt_verify(k, again, strlen(again), &fuzz_opts, &c2) != JWT_OK ||
	    memcmp(&c, &c2, sizeof(c)) != 0)
		abort();
	free(again);
}

/* base64url without padding of n bytes into out (room for n / 3 * 4 + 5); returns its length */
static size_t b64u(char *out, const unsigned char *in, size_t n)
{
	int l = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	size_t o = 0;
	for (int i = 0; i < l && out[i] != '='; i++)
		out[o++] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_init();
	verify_one(fuzz_ed, (const char *)data, size);
	verify_one(fuzz_hs, (const char *)data, size);

	const uint8_t *nl = memchr(data, '\n', size);
	if (!nl || size > 2 * JWT_TOKEN_MAX_BYTES)
		return 0;
	size_t hn = (size_t)(nl - data), pn = size - hn - 1;
	char *tok = malloc((size + 2) / 3 * 4 + 3 * 8 + 64);
	if (!tok)
		return 0;
	size_t n = b64u(tok, data, hn);
	tok[n++] = '.';
	n += b64u(tok + n, nl + 1, pn);
	unsigned char mac[32];
	unsigned int maclen = 0;
	if (HMAC(EVP_sha256(), fuzz_secret, (int)sizeof(fuzz_secret), (unsigned char *)tok, n, mac,
		 &maclen)) {
		tok[n++] = '.';
		n += b64u(tok + n, mac, maclen);
		verify_one(fuzz_hs, tok, n);
	}
	free(tok);
	return 0;
}
