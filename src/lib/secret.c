/*
 * secret.c - argon2id passwords, legacy flashbots SHA-256 secrets, constant-time helpers (see
 * secret.h).
 *
 * Stored values are checked for shape here before libsodium sees them: crypto_pwhash_str_verify
 * would happily run an argon2id string that asks for 4 TiB and a million passes, and it reports
 * a malformed string and a wrong password the same way. After the shape check, libsodium's own
 * distinction (errno EINVAL only for a mismatch) separates "wrong password" from "bad string".
 */
#include "secret.h"

#include "util.h"

#include <errno.h>
#include <string.h>

#define ARGON2ID_PREFIX "$argon2id$v=19$"

static unsigned long long secret_ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
static size_t secret_mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;

int secret_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

void secret_set_cost_for_tests(unsigned long long ops, size_t mem)
{
	secret_ops = ops;
	secret_mem = mem;
}

bool secret_equal(const void *a, const void *b, size_t n)
{
	if (n == 0)
		return true;
	return sodium_memcmp(a, b, n) == 0;
}

void secret_wipe(void *p, size_t n)
{
	if (p && n)
		sodium_memzero(p, n);
}

/* Parses "<digits><stop>" starting at *p: 1..10 digits, no leading zero, value in 1..max. */
static bool parse_param(const char **p, const char *end, char stop, unsigned long max)
{
	const char *s = *p;
	unsigned long v = 0;
	size_t nd = 0;
	while (s < end && *s >= '0' && *s <= '9') {
		if (nd == 0 && *s == '0' && s + 1 < end && s[1] >= '0' && s[1] <= '9')
			return false;
		if (++nd > 10)
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
		s++;
	}
	if (nd == 0 || v < 1 || v > max || s >= end || *s != stop)
		return false;
	*p = s + 1;
	return true;
}

/* One non-empty run of unpadded standard base64, ending at end or at stop. */
static bool parse_b64(const char **p, const char *end, char stop)
{
	const char *s = *p;
	while (s < end && *s != stop) {
		char c = *s;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/'))
			return false;
		s++;
	}
	if (s == *p)
		return false;
	*p = s;
	return true;
}

static bool argon2id_well_formed(const char *s, size_t len)
{
	size_t plen = sizeof(ARGON2ID_PREFIX) - 1;
	if (len >= SECRET_HASH_MAX || len < plen || memcmp(s, ARGON2ID_PREFIX, plen) != 0)
		return false;
	const char *p = s + plen, *end = s + len;
	if (end - p < 2 || memcmp(p, "m=", 2) != 0)
		return false;
	p += 2;
	if (!parse_param(&p, end, ',', SECRET_ARGON2_MAX_MEM_KIB))
		return false;
	if (end - p < 2 || memcmp(p, "t=", 2) != 0)
		return false;
	p += 2;
	if (!parse_param(&p, end, ',', SECRET_ARGON2_MAX_OPS))
		return false;
	if (end - p < 2 || memcmp(p, "p=", 2) != 0)
		return false;
	p += 2;
	if (!parse_param(&p, end, '$', 255))
		return false;
	if (!parse_b64(&p, end, '$') || p >= end || *p != '$')
		return false;
	p++;
	return parse_b64(&p, end, '$') && p == end;
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

static size_t trim_one_newline(const char *s, size_t len)
{
	if (len >= 2 && s[len - 2] == '\r' && s[len - 1] == '\n')
		return len - 2;
	if (len >= 1 && s[len - 1] == '\n')
		return len - 1;
	return len;
}

int secret_classify(const char *content, size_t len)
{
	if (!content)
		return len == 0 ? SECRET_KIND_EMPTY : -EINVAL;
	len = trim_one_newline(content, len);
	if (len == 0)
		return SECRET_KIND_EMPTY;
	if (len == SECRET_LEGACY_HEX_CHARS && all_hex(content, len))
		return SECRET_KIND_LEGACY;
	if (argon2id_well_formed(content, len))
		return SECRET_KIND_ARGON2ID;
	return -EINVAL;
}

int secret_hash_password(const char *pw, size_t pwlen, char out[SECRET_HASH_MAX])
{
	if (!out || (!pw && pwlen))
		return -EINVAL;
	out[0] = '\0';
	if (pwlen > SECRET_PASSWORD_MAX_BYTES)
		return -E2BIG;
	errno = 0;
	if (crypto_pwhash_str(out, pw ? pw : "", pwlen, secret_ops, secret_mem) != 0) {
		int e = errno == ENOMEM ? -ENOMEM : -EINVAL;
		secret_wipe(out, SECRET_HASH_MAX);
		return e;
	}
	return 0;
}

static int verify_legacy(const char *hex, const char *pw, size_t pwlen, const char *salt)
{
	unsigned char want[crypto_hash_sha256_BYTES], got[crypto_hash_sha256_BYTES];
	if (util_unhex(want, sizeof(want), hex, SECRET_LEGACY_HEX_CHARS) < 0)
		return -EINVAL;
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const unsigned char *)pw, pwlen);
	if (salt)
		crypto_hash_sha256_update(&st, (const unsigned char *)salt, strlen(salt));
	crypto_hash_sha256_final(&st, got);
	int rc = sodium_memcmp(want, got, sizeof(got)) == 0 ? 1 : 0;
	secret_wipe(&st, sizeof(st));
	secret_wipe(got, sizeof(got));
	secret_wipe(want, sizeof(want));
	return rc;
}

int secret_verify(const char *stored, const char *pw, size_t pwlen, const char *legacy_salt)
{
	if (!stored || (!pw && pwlen))
		return -EINVAL;
	if (pwlen > SECRET_PASSWORD_MAX_BYTES)
		return -E2BIG;
	if (!pw)
		pw = "";
	/* +2 leaves room for a "\r\n" that classify trims; anything longer is malformed. */
	size_t len = strnlen(stored, SECRET_HASH_MAX + 2);
	if (len >= SECRET_HASH_MAX + 2)
		return -EINVAL;
	int kind = secret_classify(stored, len);
	if (kind < 0)
		return kind;
	if (kind == SECRET_KIND_EMPTY)
		return -ENOKEY;
	if (kind == SECRET_KIND_LEGACY)
		return verify_legacy(stored, pw, pwlen, legacy_salt);

	char str[SECRET_HASH_MAX];
	size_t n = trim_one_newline(stored, len);
	memcpy(str, stored, n);
	str[n] = '\0';
	errno = 0;
	int rc = crypto_pwhash_str_verify(str, pw, pwlen);
	if (rc == 0)
		return 1;
	if (errno == EINVAL)
		return 0;
	return errno == ENOMEM ? -ENOMEM : -EINVAL;
}
