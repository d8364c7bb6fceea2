/*
 * secret.h - password hashing and verification, constant-time compare, wiping (libsodium).
 *
 * Used by the agent's basic auth (the flashbots system-api secret file) and by cloisterd's users.
 * New passwords are stored as argon2id strings ("$argon2id$v=19$m=...,t=...,p=...$salt$hash").
 * Stored values written by flashbots system-api stay valid: 64 hex chars of
 * SHA-256(password || salt), salt being the literal config string; they are only ever read.
 *
 * Call secret_init() once before anything else (it is idempotent and thread-safe).
 * Thread safety: everything may run concurrently except secret_set_cost_for_tests(), which must
 * be called before any thread hashes. Nothing here allocates memory the caller has to free.
 *
 * Limits: passwords up to SECRET_PASSWORD_MAX_BYTES (-E2BIG past it); stored argon2id strings
 * shorter than SECRET_HASH_MAX with memory cost at most SECRET_ARGON2_MAX_MEM_KIB and time cost at
 * most SECRET_ARGON2_MAX_OPS, so a planted secret file cannot make each login take gigabytes
 * or minutes.
 */
#ifndef CLOISTER_SECRET_H
#define CLOISTER_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#include <sodium.h>

#define SECRET_HASH_MAX crypto_pwhash_STRBYTES
#define SECRET_PASSWORD_MAX_BYTES 4096
#define SECRET_LEGACY_HEX_CHARS 64
/* libsodium's MEMLIMIT_SENSITIVE (1 GiB) and 4x its OPSLIMIT_SENSITIVE: generous for any hash
 * made on purpose, a hard stop for a hostile one. */
#define SECRET_ARGON2_MAX_MEM_KIB (1024u * 1024u)
#define SECRET_ARGON2_MAX_OPS 16u

enum secret_kind { SECRET_KIND_EMPTY = 0, SECRET_KIND_LEGACY = 1, SECRET_KIND_ARGON2ID = 2 };

/* sodium_init(); returns 0, or -EIO when libsodium cannot initialise. */
int secret_init(void);

/*
 * Hashes pw (pwlen bytes, may contain NULs; pw may be NULL when pwlen is 0) with argon2id at
 * OPSLIMIT_INTERACTIVE / MEMLIMIT_INTERACTIVE (or the test cost) into out, NUL-terminated.
 * Returns 0, -E2BIG when pwlen > SECRET_PASSWORD_MAX_BYTES, -EINVAL, or -ENOMEM.
 */
int secret_hash_password(const char *pw, size_t pwlen, char out[SECRET_HASH_MAX]);

/*
 * Verifies pw against stored: an argon2id string, or a legacy value of exactly 64 hex chars =
 * hex(SHA-256(pw || legacy_salt)) (legacy_salt may be NULL or "": no salt). One trailing "\n" or
 * "\r\n" on stored is ignored, as in secret_classify(). The legacy check is constant-time on the
 * 32 decoded bytes. Returns 1 match, 0 mismatch; -EINVAL when stored is malformed (or NULL),
 * -ENOKEY when stored is empty (no password set: the caller decides what that means), -E2BIG when
 * pwlen > SECRET_PASSWORD_MAX_BYTES, -ENOMEM.
 */
int secret_verify(const char *stored, const char *pw, size_t pwlen, const char *legacy_salt);

/*
 * Classifies the content of a secret file (len bytes, not necessarily NUL-terminated) after
 * trimming ONE trailing "\n" or "\r\n": SECRET_KIND_EMPTY, SECRET_KIND_LEGACY (64 hex chars,
 * either case) or SECRET_KIND_ARGON2ID (well-formed "$argon2id$v=19$m=M,t=T,p=P$salt$hash" within
 * the limits above); anything else is -EINVAL.
 */
int secret_classify(const char *content, size_t len);

/* Constant-time equality of n bytes (true for n == 0). */
bool secret_equal(const void *a, const void *b, size_t n);

/* Zeroes n bytes in a way the compiler cannot elide; p may be NULL when n is 0. */
void secret_wipe(void *p, size_t n);

/* Lowers the argon2id cost of secret_hash_password() so tests run fast. Not thread-safe. */
void secret_set_cost_for_tests(unsigned long long ops, size_t mem);

#endif
