/*
 * fuzz_x509_der.c - libFuzzer harness for x509_verifier_check: arbitrary DER chains against a
 * verifier holding one CA and one CRL.
 *
 * Input format: up to FUZZ_MAX_BLOBS records, each a 2-byte big-endian length followed by that
 * many bytes (a length past the end of the input takes what is left); record 0 is the leaf,
 * the rest untrusted intermediates; bytes after the last record are ignored. An empty input is
 * a chain of no certificates.
 *
 * The verifier is built once per process (static once-init on the first input): the CA
 * certificate and its CRL are made with OpenSSL APIs from a fixed test key, a fixed subject and
 * fixed validity windows, written as PEM into a mkdtemp directory, loaded, and the directory is
 * removed again. Only the CA's and CRL's signature bytes differ between runs (ECDSA nonces), and
 * neither changes any decision, so leaves signed by the same key (the seed corpus holds some:
 * trusted, revoked, expired, serverAuth only, via an intermediate) verify identically in every
 * run. Every check uses the fixed time FUZZ_NOW, never the clock.
 *
 * Invariants checked (a violation traps): the return value is one x509.h documents; `why` is
 * empty exactly on success; no OpenSSL error is left queued after a failure.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "x509.h"

#define FUZZ_MAX_BLOBS X509_MAX_CHAIN
#define FUZZ_NOW INT64_C(1750000000)         /* 2025-06-15, inside every window below */
#define FUZZ_NOT_BEFORE ((time_t)1704067200) /* 2024-01-01 */
#define FUZZ_NOT_AFTER ((time_t)2019686400)  /* 2034-01-01 */
#define FUZZ_REVOKED_SERIAL 0x666
#define FUZZ_CA_CN "Cloister Fuzz CA"

/* A throwaway P-256 key that exists only to sign the fuzz CA and the seed corpus. */
static const char fuzz_ca_key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgsGvjfeLVu1i91GBd\n"
	"yX+ON3R9awkyz0ltSB1H3vgXwh+hRANCAATu1qoYOc2Smmslsjf9r9IuEGP5e3ub\n"
	"40VrEo+R8qJXzlzlZuQYi8jODtS9iSk+H5vcLxB5H6LMQn5wstxV59NR\n"
	"-----END PRIVATE KEY-----\n";

static struct x509_verifier *verifier;

static void add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	if (!e || X509_add_ext(x, e, -1) != 1)
		abort();
	X509_EXTENSION_free(e);
}

static X509 *make_ca(EVP_PKEY *key)
{
	X509 *x = X509_new();
	if (!x || X509_set_version(x, X509_VERSION_3) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1 ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), FUZZ_NOT_BEFORE) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), FUZZ_NOT_AFTER) || X509_set_pubkey(x, key) != 1)
		abort();
	X509_NAME *name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)FUZZ_CA_CN,
				       -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1)
		abort();
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE");
	add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
	add_ext(x, &ctx, NID_subject_key_identifier, "hash");
	if (X509_sign(x, key, EVP_sha256()) <= 0)
		abort();
	return x;
}

static X509_CRL *make_crl(X509 *ca, EVP_PKEY *key)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *last = ASN1_TIME_set(NULL, FUZZ_NOT_BEFORE);
	ASN1_TIME *next = ASN1_TIME_set(NULL, FUZZ_NOT_AFTER);
	X509_REVOKED *rev = X509_REVOKED_new();
	ASN1_INTEGER *serial = ASN1_INTEGER_new();
	if (!crl || !last || !next || !rev || !serial ||
	    X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) != 1 ||
	    X509_CRL_set1_lastUpdate(crl, last) != 1 || X509_CRL_set1_nextUpdate(crl, next) != 1 ||
	    ASN1_INTEGER_set(serial, FUZZ_REVOKED_SERIAL) != 1 ||
	    X509_REVOKED_set_serialNumber(rev, serial) != 1 ||
	    X509_REVOKED_set_revocationDate(rev, last) != 1 || X509_CRL_add0_revoked(crl, rev) != 1)
		abort();
	if (X509_CRL_sort(crl) != 1 || X509_CRL_sign(crl, key, EVP_sha256()) <= 0)
		abort();
	ASN1_INTEGER_free(serial);
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	return crl;
}

static void verifier_init(void)
{
	char dir[] = "/tmp/fuzz_x509_der.XXXXXX";
	char ca_path[sizeof(dir) + 16], crl_path[sizeof(dir) + 16];
	if (!mkdtemp(dir))
		abort();
	snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", dir);
	snprintf(crl_path, sizeof(crl_path), "%s/crl.pem", dir);

	BIO *kb = BIO_new_mem_buf(fuzz_ca_key_pem, -1);
	EVP_PKEY *key = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	BIO_free(kb);
	if (!key)
		abort();
	X509 *ca = make_ca(key);
	X509_CRL *crl = make_crl(ca, key);
	BIO *out = BIO_new_file(ca_path, "w");
	if (!out || PEM_write_bio_X509(out, ca) != 1)
		abort();
	BIO_free(out);
	out = BIO_new_file(crl_path, "w");
	if (!out || PEM_write_bio_X509_CRL(out, crl) != 1)
		abort();
	BIO_free(out);
	X509_CRL_free(crl);
	X509_free(ca);
	EVP_PKEY_free(key);

	char err[256];
	verifier = x509_verifier_new(ca_path, crl_path, err, sizeof(err));
	unlink(ca_path);
	unlink(crl_path);
	rmdir(dir);
	if (!verifier) {
		fprintf(stderr, "fuzz_x509_der: verifier: %s\n", err);
		abort();
	}
	ERR_clear_error();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!verifier)
		verifier_init();

	const unsigned char *der[FUZZ_MAX_BLOBS];
	size_t der_len[FUZZ_MAX_BLOBS];
	size_t n = 0, off = 0;
	while (n < FUZZ_MAX_BLOBS && size - off >= 2) {
		size_t len = (size_t)data[off] << 8 | data[off + 1];
		off += 2;
		if (len > size - off)
			len = size - off;
		der[n] = data + off;
		der_len[n] = len;
		n++;
		off += len;
	}

	char why[128];
	int r = x509_verifier_check(verifier, der, der_len, n, FUZZ_NOW, why, sizeof(why));
	if (r != 0 && r != -EACCES && r != -EINVAL && r != -E2BIG && r != -ENOMEM)
		__builtin_trap();
	if ((r == 0) != (why[0] == '\0'))
		__builtin_trap();
	if (r < 0 && ERR_peek_error() != 0)
		__builtin_trap();
	return 0;
}
