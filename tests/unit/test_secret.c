/*
 * test_secret.c - argon2id round trips, legacy flashbots SHA-256 secrets (known vectors from
 * `printf 'secretsalt' | sha256sum`), classification edge cases and the shape limits that keep a
 * hostile stored hash from running, constant-time equality and wiping.
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

#include "secret.h"

/* hex(SHA-256("secret" || "salt")), the vector of flashbots system-api's TestBasicAuth */
#define V_SECRET_SALT "f84fa2149dbb62ed4e0cf1f550d2949b33a6513d3a7707e08502511c79ccb0ee"
/* hex(SHA-256("secret")): no salt */
#define V_SECRET "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"
/* hex(SHA-256("pw" || "D;%yL9TS:5PalS/d")), the salt of the shipped example config */
#define V_PW_CFGSALT "7c8108e3e55816ca64b876fad05928e6370343e1c6daf0b3b0b921d4461cda15"
#define CFG_SALT "D;%yL9TS:5PalS/d"

/* A well-formed argon2id string with its parameters spliced in. */
static void mk_argon(char *out, size_t n, const char *params, const char *salt, const char *hash)
{
	snprintf(out, n, "$argon2id$v=19$%s$%s$%s", params, salt, hash);
}

#define SALT22 "c29tZXNhbHRzb21lc2FsdA"
#define HASH43 "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"

static int fast_cost(void **state)
{
	(void)state;
	secret_set_cost_for_tests(crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN);
	return 0;
}

static void test_init(void **state)
{
	(void)state;
	assert_int_equal(secret_init(), 0);
	assert_int_equal(secret_init(), 0);
}

static void test_default_cost(void **state)
{
	(void)state;
	secret_set_cost_for_tests(crypto_pwhash_OPSLIMIT_INTERACTIVE,
				  crypto_pwhash_MEMLIMIT_INTERACTIVE);
	char h[SECRET_HASH_MAX];
	assert_int_equal(secret_hash_password("pw", 2, h), 0);
	assert_non_null(strstr(h, "$argon2id$v=19$m=65536,t=2,p=1$"));
	assert_int_equal(strstr(h, "$argon2id$"), h);
	assert_int_equal(secret_verify(h, "pw", 2, NULL), 1);
}

static void test_argon2id_roundtrip(void **state)
{
	(void)state;
	char h[SECRET_HASH_MAX], h2[SECRET_HASH_MAX];
	assert_int_equal(secret_hash_password("correct horse", 13, h), 0);
	assert_int_equal(secret_classify(h, strlen(h)), SECRET_KIND_ARGON2ID);
	assert_int_equal(secret_verify(h, "correct horse", 13, NULL), 1);
	assert_int_equal(secret_verify(h, "correct horsf", 13, NULL), 0);
	assert_int_equal(secret_verify(h, "correct hors", 12, NULL), 0);
	assert_int_equal(secret_verify(h, "", 0, NULL), 0);
	/* the legacy salt plays no part in argon2id */
	assert_int_equal(secret_verify(h, "correct horse", 13, "salt"), 1);
	/* a fresh salt every time */
	assert_int_equal(secret_hash_password("correct horse", 13, h2), 0);
	assert_string_not_equal(h, h2);
	assert_int_equal(secret_verify(h2, "correct horse", 13, NULL), 1);

	/* as read from a file with a trailing newline */
	char file[SECRET_HASH_MAX + 2];
	snprintf(file, sizeof(file), "%s\r\n", h);
	assert_int_equal(secret_verify(file, "correct horse", 13, NULL), 1);

	/* bytes, not C strings: an embedded NUL counts */
	assert_int_equal(secret_hash_password("a\0b", 3, h), 0);
	assert_int_equal(secret_verify(h, "a\0b", 3, NULL), 1);
	assert_int_equal(secret_verify(h, "a", 1, NULL), 0);

	assert_int_equal(secret_hash_password(NULL, 0, h), 0);
	assert_int_equal(secret_verify(h, NULL, 0, NULL), 1);
	assert_int_equal(secret_verify(h, "x", 1, NULL), 0);
}

static void test_password_limit(void **state)
{
	(void)state;
	char *pw = malloc(SECRET_PASSWORD_MAX_BYTES + 1);
	assert_non_null(pw);
	memset(pw, 'p', SECRET_PASSWORD_MAX_BYTES + 1);
	char h[SECRET_HASH_MAX];
	assert_int_equal(secret_hash_password(pw, SECRET_PASSWORD_MAX_BYTES, h), 0);
	assert_int_equal(secret_verify(h, pw, SECRET_PASSWORD_MAX_BYTES, NULL), 1);
	assert_int_equal(secret_hash_password(pw, SECRET_PASSWORD_MAX_BYTES + 1, h), -E2BIG);
	assert_string_equal(h, "");
	assert_int_equal(secret_verify(V_SECRET, pw, SECRET_PASSWORD_MAX_BYTES + 1, NULL), -E2BIG);
	assert_int_equal(secret_verify(V_SECRET, pw, SECRET_PASSWORD_MAX_BYTES, NULL), 0);
	free(pw);
	assert_int_equal(secret_hash_password(NULL, 1, h), -EINVAL);
	assert_int_equal(secret_hash_password("x", 1, NULL), -EINVAL);
	assert_int_equal(secret_verify(V_SECRET, NULL, 1, NULL), -EINVAL);
}

static void test_hash_bad_cost(void **state)
{
	(void)state;
	char h[SECRET_HASH_MAX];
	secret_set_cost_for_tests(0, crypto_pwhash_MEMLIMIT_MIN);
	assert_int_equal(secret_hash_password("pw", 2, h), -EINVAL);
	assert_string_equal(h, "");
}

static void test_legacy_vectors(void **state)
{
	(void)state;
	assert_int_equal(secret_verify(V_SECRET_SALT, "secret", 6, "salt"), 1);
	assert_int_equal(secret_verify(V_SECRET_SALT, "secreT", 6, "salt"), 0);
	assert_int_equal(secret_verify(V_SECRET_SALT, "secret", 6, "salT"), 0);
	assert_int_equal(secret_verify(V_SECRET_SALT, "secret", 6, NULL), 0);
	/* pw || salt is one byte string: moving the boundary gives the same hash (as in Go) */
	assert_int_equal(secret_verify(V_SECRET_SALT, "secrets", 7, "alt"), 1);
	assert_int_equal(secret_verify(V_SECRET, "secret", 6, NULL), 1);
	assert_int_equal(secret_verify(V_SECRET, "secret", 6, ""), 1);
	assert_int_equal(secret_verify(V_SECRET, "secret", 6, "salt"), 0);
	assert_int_equal(secret_verify(V_PW_CFGSALT, "pw", 2, CFG_SALT), 1);
	assert_int_equal(secret_verify(V_PW_CFGSALT, "", 0, CFG_SALT), 0);

	/* uppercase hex and one trailing newline are accepted */
	char up[80];
	snprintf(up, sizeof(up), "%s", V_SECRET_SALT);
	for (char *c = up; *c; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A');
	assert_int_equal(secret_verify(up, "secret", 6, "salt"), 1);
	assert_int_equal(secret_verify(V_SECRET_SALT "\n", "secret", 6, "salt"), 1);
	assert_int_equal(secret_verify(V_SECRET_SALT "\r\n", "secret", 6, "salt"), 1);
	assert_int_equal(secret_verify(V_SECRET_SALT "\n\n", "secret", 6, "salt"), -EINVAL);
}

static void test_verify_malformed(void **state)
{
	(void)state;
	char s[200];
	assert_int_equal(secret_verify(NULL, "x", 1, NULL), -EINVAL);
	assert_int_equal(secret_verify("", "x", 1, NULL), -ENOKEY);
	assert_int_equal(secret_verify("\n", "x", 1, NULL), -ENOKEY);
	assert_int_equal(secret_verify("abc", "x", 1, NULL), -EINVAL);
	assert_int_equal(secret_verify(V_SECRET "0", "secret", 6, NULL), -EINVAL);
	snprintf(s, sizeof(s), "%.63s", V_SECRET);
	assert_int_equal(secret_verify(s, "secret", 6, NULL), -EINVAL);
	/* argon2i (not id) is not accepted */
	snprintf(s, sizeof(s), "$argon2i$v=19$m=8,t=1,p=1$%s$%s", SALT22, HASH43);
	assert_int_equal(secret_verify(s, "x", 1, NULL), -EINVAL);
	/* a hostile cost is refused before anything runs */
	mk_argon(s, sizeof(s), "m=4294967295,t=1,p=1", SALT22, HASH43);
	assert_int_equal(secret_verify(s, "x", 1, NULL), -EINVAL);
	mk_argon(s, sizeof(s), "m=8,t=1000000,p=1", SALT22, HASH43);
	assert_int_equal(secret_verify(s, "x", 1, NULL), -EINVAL);
	/* the right shape, but libsodium rejects its content (salt too short) */
	mk_argon(s, sizeof(s), "m=8,t=1,p=1", "c2E", HASH43);
	assert_int_equal(secret_classify(s, strlen(s)), SECRET_KIND_ARGON2ID);
	assert_int_equal(secret_verify(s, "x", 1, NULL), -EINVAL);
	/* well-formed and valid, but not this password */
	mk_argon(s, sizeof(s), "m=8,t=1,p=1", SALT22, HASH43);
	assert_int_equal(secret_verify(s, "x", 1, NULL), 0);
	/* longer than any stored form could be */
	char big[400];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(secret_verify(big, "x", 1, NULL), -EINVAL);
}

static void test_classify_plain(void **state)
{
	(void)state;
	assert_int_equal(secret_classify("", 0), SECRET_KIND_EMPTY);
	assert_int_equal(secret_classify(NULL, 0), SECRET_KIND_EMPTY);
	assert_int_equal(secret_classify(NULL, 3), -EINVAL);
	assert_int_equal(secret_classify("\n", 1), SECRET_KIND_EMPTY);
	assert_int_equal(secret_classify("\r\n", 2), SECRET_KIND_EMPTY);
	assert_int_equal(secret_classify("\n\n", 2), -EINVAL);
	assert_int_equal(secret_classify("\r", 1), -EINVAL);
	assert_int_equal(secret_classify(" ", 1), -EINVAL);

	assert_int_equal(secret_classify(V_SECRET, 64), SECRET_KIND_LEGACY);
	assert_int_equal(secret_classify(V_SECRET "\n", 65), SECRET_KIND_LEGACY);
	assert_int_equal(secret_classify(V_SECRET "\r\n", 66), SECRET_KIND_LEGACY);
	assert_int_equal(secret_classify(V_SECRET "\n\n", 66), -EINVAL);
	assert_int_equal(secret_classify(V_SECRET "\r", 65), -EINVAL);
	assert_int_equal(secret_classify(V_SECRET " ", 65), -EINVAL);
	assert_int_equal(secret_classify(V_SECRET, 63), -EINVAL);
	assert_int_equal(secret_classify(V_SECRET "a", 65), -EINVAL);
	/* len, not the NUL, decides: the first 64 bytes of a longer buffer are legacy */
	assert_int_equal(secret_classify(V_SECRET "zz", 64), SECRET_KIND_LEGACY);
	char s[80];
	memcpy(s, V_SECRET, 65);
	s[10] = 'g';
	assert_int_equal(secret_classify(s, 64), -EINVAL);
	s[10] = '\0';
	assert_int_equal(secret_classify(s, 64), -EINVAL);
	memcpy(s, V_SECRET, 65);
	s[0] = 'F';
	assert_int_equal(secret_classify(s, 64), SECRET_KIND_LEGACY);
}

static void test_classify_argon2id_shape(void **state)
{
	(void)state;
	char s[300];
	static const struct {
		const char *params;
		int want;
	} cases[] = {
		{ "m=65536,t=2,p=1", SECRET_KIND_ARGON2ID },
		{ "m=8,t=1,p=1", SECRET_KIND_ARGON2ID },
		{ "m=1048576,t=16,p=1", SECRET_KIND_ARGON2ID }, /* at both cost limits */
		{ "m=1048577,t=1,p=1", -EINVAL },               /* memory one past */
		{ "m=8,t=17,p=1", -EINVAL },                    /* passes one past */
		{ "m=0,t=1,p=1", -EINVAL },
		{ "m=8,t=0,p=1", -EINVAL },
		{ "m=8,t=1,p=0", -EINVAL },
		{ "m=08,t=1,p=1", -EINVAL },
		{ "m=,t=1,p=1", -EINVAL },
		{ "m=8,t=1", -EINVAL },
		{ "t=1,m=8,p=1", -EINVAL },
		{ "m=8 ,t=1,p=1", -EINVAL },
		{ "m=99999999999,t=1,p=1", -EINVAL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mk_argon(s, sizeof(s), cases[i].params, SALT22, HASH43);
		if (secret_classify(s, strlen(s)) != cases[i].want)
			fail_msg("params %s", cases[i].params);
	}
	const char *bad[] = {
		"$argon2id$v=19$m=8,t=1,p=1$" SALT22,                /* no hash */
		"$argon2id$v=19$m=8,t=1,p=1$" SALT22 "$",            /* empty hash */
		"$argon2id$v=19$m=8,t=1,p=1$$" HASH43,               /* empty salt */
		"$argon2id$v=19$m=8,t=1,p=1$" SALT22 "$" HASH43 "$", /* trailing $ */
		"$argon2id$v=19$m=8,t=1,p=1$" SALT22 "$" HASH43 "=", /* padding */
		"$argon2id$v=19$m=8,t=1,p=1$" SALT22 "$" HASH43 " ",
		"$argon2id$v=16$m=8,t=1,p=1$" SALT22 "$" HASH43,
		"$argon2id$m=8,t=1,p=1$" SALT22 "$" HASH43,
		"$argon2id$v=19$",
		"$argon2id$",
		"$argon2i$v=19$m=8,t=1,p=1$" SALT22 "$" HASH43,
		"argon2id$v=19$m=8,t=1,p=1$" SALT22 "$" HASH43,
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (secret_classify(bad[i], strlen(bad[i])) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
	}
	/* Total length: SECRET_HASH_MAX - 1 chars is the longest accepted (it must fit with its
	 * NUL in the SECRET_HASH_MAX buffer), SECRET_HASH_MAX is one past. */
	mk_argon(s, sizeof(s), "m=8,t=1,p=1", SALT22, "");
	size_t base = strlen(s);
	memset(s + base, 'A', SECRET_HASH_MAX - 1 - base);
	s[SECRET_HASH_MAX - 1] = '\0';
	assert_int_equal(secret_classify(s, SECRET_HASH_MAX - 1), SECRET_KIND_ARGON2ID);
	s[SECRET_HASH_MAX - 1] = 'A';
	s[SECRET_HASH_MAX] = '\0';
	assert_int_equal(secret_classify(s, SECRET_HASH_MAX), -EINVAL);
	assert_int_equal(secret_verify(s, "x", 1, NULL), -EINVAL);
	/* with a newline, the trimmed length is what counts */
	s[SECRET_HASH_MAX - 1] = '\n';
	assert_int_equal(secret_classify(s, SECRET_HASH_MAX), SECRET_KIND_ARGON2ID);
}

static void test_equal_and_wipe(void **state)
{
	(void)state;
	assert_true(secret_equal("abcdef", "abcdef", 6));
	assert_false(secret_equal("abcdef", "abcdeg", 6));
	assert_false(secret_equal("xbcdef", "abcdef", 6));
	assert_true(secret_equal("a", "b", 0));
	assert_true(secret_equal(NULL, NULL, 0));
	char buf[32];
	memset(buf, 0x5a, sizeof(buf));
	secret_wipe(buf, 16);
	for (size_t i = 0; i < 16; i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal((unsigned char)buf[16], 0x5a);
	secret_wipe(NULL, 0);
}

int main(void)
{
	if (secret_init() != 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_default_cost),
		cmocka_unit_test_setup(test_argon2id_roundtrip, fast_cost),
		cmocka_unit_test_setup(test_password_limit, fast_cost),
		cmocka_unit_test_setup(test_hash_bad_cost, fast_cost),
		cmocka_unit_test_setup(test_legacy_vectors, fast_cost),
		cmocka_unit_test_setup(test_verify_malformed, fast_cost),
		cmocka_unit_test(test_classify_plain),
		cmocka_unit_test(test_classify_argon2id_shape),
		cmocka_unit_test(test_equal_and_wipe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
