/*
 * test_x509.c - the agent's self-signed certificate as a TLS peer would read it, file facts,
 * and client-certificate verification against a test PKI (two roots, an intermediate, a CRL)
 * built here with the OpenSSL API and written as PEM files into a fresh mkdtemp directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "x509.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define DAY (24L * 3600)

/* ---- temp dir ---------------------------------------------------------------------------- */

static char tmpdir[64];

static void path_in_tmp(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* ---- test PKI ---------------------------------------------------------------------------- */

static EVP_PKEY *gen_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	assert_non_null(k);
	return k;
}

static void add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	assert_non_null(e);
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/* issuer == NULL: self-signed. eku: NULL for none, else an OpenSSL EKU list. Validity is
 * [now + nb, now + na] seconds. */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, bool ca,
		       const char *eku, long nb, long na, long serial)
{
	X509 *x = X509_new();
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
	time_t now = time(NULL);
	assert_non_null(ASN1_TIME_adj(X509_getm_notBefore(x), now, 0, nb));
	assert_non_null(ASN1_TIME_adj(X509_getm_notAfter(x), now, 0, na));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	X509_NAME *name = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
						    (const unsigned char *)cn, -1, -1, 0),
			 1);
	assert_int_equal(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name), 1);
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	add_ext(x, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	add_ext(x, &ctx, NID_key_usage,
		ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
	if (eku)
		add_ext(x, &ctx, NID_ext_key_usage, eku);
	add_ext(x, &ctx, NID_subject_key_identifier, "hash");
	if (issuer)
		add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
	assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
	return x;
}

static X509_CRL *make_crl(X509 *ca, EVP_PKEY *ca_key, const long *revoked, size_t n)
{
	X509_CRL *crl = X509_CRL_new();
	assert_non_null(crl);
	assert_int_equal(X509_CRL_set_version(crl, X509_CRL_VERSION_2), 1);
	assert_int_equal(X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)), 1);
	time_t now = time(NULL);
	ASN1_TIME *t = ASN1_TIME_adj(NULL, now, 0, -3600);
	assert_int_equal(X509_CRL_set1_lastUpdate(crl, t), 1);
	ASN1_TIME_free(t);
	t = ASN1_TIME_adj(NULL, now, 7, 0);
	assert_int_equal(X509_CRL_set1_nextUpdate(crl, t), 1);
	ASN1_TIME_free(t);
	for (size_t i = 0; i < n; i++) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *s = ASN1_INTEGER_new();
		ASN1_TIME *rt = ASN1_TIME_adj(NULL, now, 0, -60);
		assert_true(r && s && rt);
		ASN1_INTEGER_set(s, revoked[i]);
		assert_int_equal(X509_REVOKED_set_serialNumber(r, s), 1);
		assert_int_equal(X509_REVOKED_set_revocationDate(r, rt), 1);
		assert_int_equal(X509_CRL_add0_revoked(crl, r), 1);
		ASN1_INTEGER_free(s);
		ASN1_TIME_free(rt);
	}
	assert_int_equal(X509_CRL_sort(crl), 1);
	assert_true(X509_CRL_sign(crl, ca_key, EVP_sha256()) > 0);
	return crl;
}

static void write_certs(const char *name, X509 *const *certs, size_t n)
{
	char p[128];
	path_in_tmp(p, sizeof(p), name);
	FILE *f = fopen(p, "we");
	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(PEM_write_X509(f, certs[i]), 1);
	assert_int_equal(fclose(f), 0);
}

static void write_crls(const char *name, X509_CRL *const *crls, size_t n)
{
	char p[128];
	path_in_tmp(p, sizeof(p), name);
	FILE *f = fopen(p, "we");
	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(PEM_write_X509_CRL(f, crls[i]), 1);
	assert_int_equal(fclose(f), 0);
}

static void write_bytes(const char *name, const void *buf, size_t len)
{
	char p[128];
	path_in_tmp(p, sizeof(p), name);
	FILE *f = fopen(p, "we");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

struct der {
	unsigned char *p;
	size_t len;
};

static struct der to_der(X509 *x)
{
	struct der d = { NULL, 0 };
	int n = i2d_X509(x, &d.p);
	assert_true(n > 0);
	d.len = (size_t)n;
	return d;
}

#define REVOKED_SERIAL 666

/* Everything the verifier tests share, built once. */
static struct pki {
	EVP_PKEY *k_ca1, *k_ca2, *k_ca3, *k_int, *k_leaf;
	X509 *ca1, *ca2, *ca3, *inter;
	struct der ok, other, expired, revoked, server, noeku, via_int, inter_der, ca1_der;
	char ca_path[128], crl_path[128];
} pki;

static int pki_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_x509.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	pki.k_ca1 = gen_key();
	pki.k_ca2 = gen_key();
	pki.k_ca3 = gen_key();
	pki.k_int = gen_key();
	pki.k_leaf = gen_key();
	/* CAs valid from well before the expired leaf's window so it can be checked inside it. */
	const long ca_nb = -20 * DAY, ca_na = 30 * DAY;
	pki.ca1 = make_cert("Test CA 1", pki.k_ca1, NULL, NULL, true, NULL, ca_nb, ca_na, 1);
	pki.ca2 = make_cert("Test CA 2", pki.k_ca2, NULL, NULL, true, NULL, ca_nb, ca_na, 1);
	pki.ca3 = make_cert("Test CA 3", pki.k_ca3, NULL, NULL, true, NULL, ca_nb, ca_na, 1);
	pki.inter = make_cert("Test Intermediate", pki.k_int, pki.ca1, pki.k_ca1, true, NULL, ca_nb,
			      ca_na, 2);

	struct {
		struct der *out;
		X509 *issuer;
		EVP_PKEY *ik;
		const char *eku;
		long nb, na, serial;
	} leaves[] = {
		{ &pki.ok, pki.ca1, pki.k_ca1, "clientAuth", -DAY, 10 * DAY, 100 },
		{ &pki.other, pki.ca2, pki.k_ca2, "clientAuth", -DAY, 10 * DAY, 101 },
		{ &pki.expired, pki.ca1, pki.k_ca1, "clientAuth", -10 * DAY, -DAY, 102 },
		{ &pki.revoked, pki.ca1, pki.k_ca1, "clientAuth", -DAY, 10 * DAY, REVOKED_SERIAL },
		{ &pki.server, pki.ca1, pki.k_ca1, "serverAuth", -DAY, 10 * DAY, 103 },
		{ &pki.noeku, pki.ca1, pki.k_ca1, NULL, -DAY, 10 * DAY, 104 },
		{ &pki.via_int, pki.inter, pki.k_int, "clientAuth", -DAY, 10 * DAY, 105 },
	};
	for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		X509 *x = make_cert("client", pki.k_leaf, leaves[i].issuer, leaves[i].ik, false,
				    leaves[i].eku, leaves[i].nb, leaves[i].na, leaves[i].serial);
		*leaves[i].out = to_der(x);
		X509_free(x);
	}
	pki.inter_der = to_der(pki.inter);
	pki.ca1_der = to_der(pki.ca1);

	/* The CA file holds several roots; CA 1 is not the first. Likewise the CRL file. */
	X509 *cas[] = { pki.ca3, pki.ca1 };
	write_certs("ca.pem", cas, 2);
	long rev = REVOKED_SERIAL;
	X509_CRL *crls[] = { make_crl(pki.ca3, pki.k_ca3, NULL, 0),
			     make_crl(pki.ca1, pki.k_ca1, &rev, 1) };
	write_crls("crl.pem", crls, 2);
	X509_CRL_free(crls[0]);
	X509_CRL_free(crls[1]);
	path_in_tmp(pki.ca_path, sizeof(pki.ca_path), "ca.pem");
	path_in_tmp(pki.crl_path, sizeof(pki.crl_path), "crl.pem");
	return 0;
}

static int pki_teardown(void **state)
{
	(void)state;
	EVP_PKEY *keys[] = { pki.k_ca1, pki.k_ca2, pki.k_ca3, pki.k_int, pki.k_leaf };
	for (size_t i = 0; i < 5; i++)
		EVP_PKEY_free(keys[i]);
	X509 *certs[] = { pki.ca1, pki.ca2, pki.ca3, pki.inter };
	for (size_t i = 0; i < 4; i++)
		X509_free(certs[i]);
	struct der *ders[] = { &pki.ok,    &pki.other,   &pki.expired,   &pki.revoked, &pki.server,
			       &pki.noeku, &pki.via_int, &pki.inter_der, &pki.ca1_der };
	for (size_t i = 0; i < sizeof(ders) / sizeof(ders[0]); i++)
		OPENSSL_free(ders[i]->p);
	return nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Checks one chain; returns the result and leaves the reason in why. */
static int check(const struct x509_verifier *v, const struct der *chain, size_t n, int64_t now,
		 char *why, size_t whylen)
{
	const unsigned char *ders[16];
	size_t lens[16];
	assert_true(n <= 16);
	for (size_t i = 0; i < n; i++) {
		ders[i] = chain[i].p;
		lens[i] = chain[i].len;
	}
	return x509_verifier_check(v, ders, lens, n, now, why, whylen);
}

static struct x509_verifier *new_verifier(bool with_crl)
{
	char err[256];
	struct x509_verifier *v =
		x509_verifier_new(pki.ca_path, with_crl ? pki.crl_path : NULL, err, sizeof(err));
	if (!v)
		fail_msg("x509_verifier_new: %s", err);
	return v;
}

/* ---- verifier ---------------------------------------------------------------------------- */

static void test_verify_trusted(void **state)
{
	(void)state;
	char why[256];
	for (int crl = 0; crl < 2; crl++) {
		struct x509_verifier *v = new_verifier(crl);
		assert_int_equal(check(v, &pki.ok, 1, 0, why, sizeof(why)), 0);
		/* No EKU at all means "any purpose" (RFC 5280): accepted. */
		assert_int_equal(check(v, &pki.noeku, 1, 0, why, sizeof(why)), 0);
		x509_verifier_free(v);
	}
}

static void test_verify_other_ca(void **state)
{
	(void)state;
	char why[256];
	struct x509_verifier *v = new_verifier(true);
	assert_int_equal(check(v, &pki.other, 1, 0, why, sizeof(why)), -EACCES);
	assert_string_equal(why, "unable to get local issuer certificate");
	x509_verifier_free(v);
}

static void test_verify_expired(void **state)
{
	(void)state;
	char why[256];
	struct x509_verifier *v = new_verifier(false);
	assert_int_equal(check(v, &pki.expired, 1, 0, why, sizeof(why)), -EACCES);
	assert_non_null(strstr(why, "expired"));
	/* The same certificate checked at a time inside its window is fine... */
	int64_t then = (int64_t)time(NULL) - 5 * DAY;
	assert_int_equal(check(v, &pki.expired, 1, then, why, sizeof(why)), 0);
	/* ...and a valid one checked past its end, or before its start, is not. */
	int64_t later = (int64_t)time(NULL) + 20 * DAY;
	assert_int_equal(check(v, &pki.ok, 1, later, why, sizeof(why)), -EACCES);
	assert_non_null(strstr(why, "expired"));
	int64_t before = (int64_t)time(NULL) - 2 * DAY;
	assert_int_equal(check(v, &pki.ok, 1, before, why, sizeof(why)), -EACCES);
	assert_non_null(strstr(why, "not yet valid"));
	x509_verifier_free(v);
}

static void test_verify_revoked(void **state)
{
	(void)state;
	char why[256];
	struct x509_verifier *v = new_verifier(true);
	assert_int_equal(check(v, &pki.revoked, 1, 0, why, sizeof(why)), -EACCES);
	assert_string_equal(why, "certificate revoked");
	x509_verifier_free(v);
	/* Without the CRL the same certificate passes: the CRL is what refuses it. */
	v = new_verifier(false);
	assert_int_equal(check(v, &pki.revoked, 1, 0, why, sizeof(why)), 0);
	x509_verifier_free(v);
}

static void test_verify_server_only_eku(void **state)
{
	(void)state;
	char why[256];
	struct x509_verifier *v = new_verifier(false);
	assert_int_equal(check(v, &pki.server, 1, 0, why, sizeof(why)), -EACCES);
	assert_string_equal(why, "unsuitable certificate purpose");
	x509_verifier_free(v);
}

static void test_verify_intermediate(void **state)
{
	(void)state;
	char why[256];
	struct x509_verifier *v = new_verifier(false);
	struct der chain[] = { pki.via_int, pki.inter_der };
	assert_int_equal(check(v, chain, 2, 0, why, sizeof(why)), 0);
	assert_int_equal(check(v, chain, 1, 0, why, sizeof(why)), -EACCES);
	assert_string_equal(why, "unable to get local issuer certificate");
	x509_verifier_free(v);
	/* With revocation on, a leaf whose issuer published no CRL is refused (fail closed). */
	v = new_verifier(true);
	assert_int_equal(check(v, chain, 2, 0, why, sizeof(why)), -EACCES);
	assert_string_equal(why, "unable to get certificate CRL");
	x509_verifier_free(v);
}

static void test_verify_malformed(void **state)
{
	(void)state;
	char why[256];
	struct x509_verifier *v = new_verifier(false);
	unsigned char garbage[] = { 0x30, 0x82, 0x01, 0x00, 0xde, 0xad, 0xbe, 0xef };
	struct der g = { garbage, sizeof(garbage) };
	assert_int_equal(check(v, &g, 1, 0, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "malformed certificate");

	/* A good certificate with one trailing byte is not one certificate. */
	unsigned char *padded = malloc(pki.ok.len + 1);
	assert_non_null(padded);
	memcpy(padded, pki.ok.p, pki.ok.len);
	padded[pki.ok.len] = 0;
	struct der pd = { padded, pki.ok.len + 1 };
	assert_int_equal(check(v, &pd, 1, 0, why, sizeof(why)), -EINVAL);
	free(padded);

	struct der empty = { pki.ok.p, 0 };
	assert_int_equal(check(v, &empty, 1, 0, why, sizeof(why)), -EINVAL);
	struct der bad_int[] = { pki.ok, g };
	assert_int_equal(check(v, bad_int, 2, 0, why, sizeof(why)), -EINVAL);
	/* Truncated DER of a real certificate. */
	struct der cut = { pki.ok.p, pki.ok.len - 1 };
	assert_int_equal(check(v, &cut, 1, 0, why, sizeof(why)), -EINVAL);
	x509_verifier_free(v);
}

static void test_verify_limits(void **state)
{
	(void)state;
	char why[256];
	struct x509_verifier *v = new_verifier(false);
	/* X509_MAX_CHAIN certificates: accepted (extra untrusted certs are harmless). */
	struct der chain[X509_MAX_CHAIN + 1];
	chain[0] = pki.via_int;
	for (size_t i = 1; i <= X509_MAX_CHAIN; i++)
		chain[i] = (i % 2) ? pki.inter_der : pki.ca1_der;
	assert_int_equal(check(v, chain, X509_MAX_CHAIN, 0, why, sizeof(why)), 0);
	assert_int_equal(check(v, chain, X509_MAX_CHAIN + 1, 0, why, sizeof(why)), -E2BIG);
	assert_string_equal(why, "certificate chain too long");

	/* Size cap per certificate: at the cap it is parsed (and malformed), past it refused. */
	unsigned char *big = calloc(1, X509_MAX_CERT_DER_BYTES + 1);
	assert_non_null(big);
	struct der b = { big, X509_MAX_CERT_DER_BYTES };
	assert_int_equal(check(v, &b, 1, 0, why, sizeof(why)), -EINVAL);
	b.len++;
	assert_int_equal(check(v, &b, 1, 0, why, sizeof(why)), -E2BIG);
	free(big);

	/* No certificate at all: untrusted, not malformed. */
	assert_int_equal(x509_verifier_check(v, NULL, NULL, 0, 0, why, sizeof(why)), -EACCES);
	assert_string_equal(why, "no peer certificate");
	/* why is optional. */
	assert_int_equal(check(v, &pki.other, 1, 0, NULL, 0), -EACCES);
	assert_int_equal(x509_verifier_check(NULL, NULL, NULL, 0, 0, NULL, 0), -EINVAL);
	x509_verifier_free(v);
	x509_verifier_free(NULL);
}

static void test_verifier_new_errors(void **state)
{
	(void)state;
	char err[512], p[128], p2[128];
	path_in_tmp(p, sizeof(p), "missing.pem");
	assert_null(x509_verifier_new(p, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "CA file"));
	assert_non_null(strstr(err, "missing.pem"));
	assert_non_null(strstr(err, "No such file"));

	write_bytes("empty.pem", "not pem at all\n", 15);
	path_in_tmp(p, sizeof(p), "empty.pem");
	assert_null(x509_verifier_new(p, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "no certificate"));

	/* A good certificate followed by a corrupt one: refused, not half-loaded. */
	char buf[8192];
	FILE *f = fopen(pki.ca_path, "re");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 64, f);
	fclose(f);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n,
			      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
	write_bytes("corrupt.pem", buf, n);
	path_in_tmp(p, sizeof(p), "corrupt.pem");
	assert_null(x509_verifier_new(p, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "malformed certificate"));

	/* The CRL file must hold CRLs. */
	path_in_tmp(p2, sizeof(p2), "empty.pem");
	assert_null(x509_verifier_new(pki.ca_path, p2, err, sizeof(err)));
	assert_non_null(strstr(err, "CRL file"));
	assert_non_null(strstr(err, "no CRL"));
	assert_null(x509_verifier_new(pki.ca_path, pki.ca_path, err, sizeof(err)));
	assert_non_null(strstr(err, "no CRL"));

	/* A directory, and a file past X509_MAX_FILE_BYTES. */
	assert_null(x509_verifier_new(tmpdir, NULL, err, sizeof(err)));
	char *huge = malloc(X509_MAX_FILE_BYTES + 1);
	assert_non_null(huge);
	memset(huge, '\n', X509_MAX_FILE_BYTES + 1);
	write_bytes("huge.pem", huge, X509_MAX_FILE_BYTES + 1);
	free(huge);
	path_in_tmp(p, sizeof(p), "huge.pem");
	assert_null(x509_verifier_new(p, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "file too large"));

	/* err is optional. */
	assert_null(x509_verifier_new(NULL, NULL, NULL, 0));
}

/* Many threads share one verifier. */
#define CHECK_THREADS 8
#define CHECKS_PER_THREAD 100

static void *check_thread(void *arg)
{
	const struct x509_verifier *v = arg;
	char why[128];
	for (int i = 0; i < CHECKS_PER_THREAD; i++) {
		if (check(v, &pki.ok, 1, 0, why, sizeof(why)) != 0 ||
		    check(v, &pki.revoked, 1, 0, why, sizeof(why)) != -EACCES ||
		    strcmp(why, "certificate revoked") != 0 ||
		    check(v, &pki.other, 1, 0, why, sizeof(why)) != -EACCES)
			return (void *)1;
	}
	return NULL;
}

static void test_verify_threads(void **state)
{
	(void)state;
	struct x509_verifier *v = new_verifier(true);
	pthread_t th[CHECK_THREADS];
	for (int i = 0; i < CHECK_THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, check_thread, v), 0);
	for (int i = 0; i < CHECK_THREADS; i++) {
		void *res;
		pthread_join(th[i], &res);
		assert_null(res);
	}
	x509_verifier_free(v);
}

/* ---- self-signed ------------------------------------------------------------------------- */

static X509 *parse_cert_pem(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(x);
	return x;
}

static EVP_PKEY *parse_key_pem(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(k);
	return k;
}

static void name_entry(X509_NAME *n, int nid, char *buf, size_t len)
{
	assert_true(X509_NAME_get_text_by_NID(n, nid, buf, (int)len) > 0);
}

static int64_t asn1_to_unix(const ASN1_TIME *t)
{
	struct tm tm;
	assert_int_equal(ASN1_TIME_to_tm(t, &tm), 1);
	return (int64_t)timegm(&tm);
}

static void assert_near(int64_t got, int64_t want)
{
	if (got < want - 5 || got > want + 5)
		fail_msg("%lld is not within 5 s of %lld", (long long)got, (long long)want);
}

static void test_selfsigned_contents(void **state)
{
	(void)state;
	const char *hosts[] = { "localhost", "", "127.0.0.1", "::1", "example.com" };
	char *cert = NULL, *key = NULL;
	int64_t now = (int64_t)time(NULL);
	assert_int_equal(x509_selfsigned(hosts, 5, 365, &cert, &key), 0);
	assert_memory_equal(cert, "-----BEGIN CERTIFICATE-----\n", 28);
	assert_memory_equal(key, "-----BEGIN PRIVATE KEY-----\n", 28);

	X509 *x = parse_cert_pem(cert);
	EVP_PKEY *k = parse_key_pem(key);
	char buf[256];
	name_entry(X509_get_subject_name(x), NID_organizationName, buf, sizeof(buf));
	assert_string_equal(buf, "Cloister");
	name_entry(X509_get_subject_name(x), NID_commonName, buf, sizeof(buf));
	assert_string_equal(buf, "localhost");
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);
	assert_int_equal(X509_get_version(x), X509_VERSION_3);

	/* Key: P-256, matches, signs the certificate with SHA-256. */
	char group[64];
	size_t glen;
	assert_int_equal(EVP_PKEY_get_group_name(k, group, sizeof(group), &glen), 1);
	assert_string_equal(group, "prime256v1");
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), k), 1);
	assert_int_equal(X509_verify(x, k), 1);
	assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);

	/* SANs in order, empty entry skipped, IPs as IP SANs. */
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_non_null(gens);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 4);
	const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, 0);
	assert_int_equal(g->type, GEN_DNS);
	assert_string_equal((const char *)ASN1_STRING_get0_data(g->d.dNSName), "localhost");
	g = sk_GENERAL_NAME_value(gens, 1);
	assert_int_equal(g->type, GEN_IPADD);
	assert_int_equal(ASN1_STRING_length(g->d.iPAddress), 4);
	assert_memory_equal(ASN1_STRING_get0_data(g->d.iPAddress), "\x7f\0\0\x01", 4);
	g = sk_GENERAL_NAME_value(gens, 2);
	assert_int_equal(g->type, GEN_IPADD);
	unsigned char v6[16];
	inet_pton(AF_INET6, "::1", v6);
	assert_int_equal(ASN1_STRING_length(g->d.iPAddress), 16);
	assert_memory_equal(ASN1_STRING_get0_data(g->d.iPAddress), v6, 16);
	g = sk_GENERAL_NAME_value(gens, 3);
	assert_int_equal(g->type, GEN_DNS);
	assert_string_equal((const char *)ASN1_STRING_get0_data(g->d.dNSName), "example.com");
	GENERAL_NAMES_free(gens);

	/* Extensions and their criticality. */
	int i = X509_get_ext_by_NID(x, NID_basic_constraints, -1);
	assert_true(i >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, i)));
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
	assert_non_null(bc);
	assert_false(bc->ca);
	BASIC_CONSTRAINTS_free(bc);
	i = X509_get_ext_by_NID(x, NID_key_usage, -1);
	assert_true(i >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, i)));
	assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	i = X509_get_ext_by_NID(x, NID_ext_key_usage, -1);
	assert_true(i >= 0 && !X509_EXTENSION_get_critical(X509_get_ext(x, i)));
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER);
	assert_non_null(X509_get0_subject_key_id(x));

	/* Serial: positive, at most 127 bits. */
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	assert_non_null(bn);
	assert_false(BN_is_negative(bn));
	assert_false(BN_is_zero(bn));
	assert_true(BN_num_bits(bn) <= 127);
	BN_free(bn);

	/* Validity window. */
	assert_near(asn1_to_unix(X509_get0_notBefore(x)), now - X509_BACKDATE_SEC);
	assert_near(asn1_to_unix(X509_get0_notAfter(x)), now + 365 * DAY);

	/* A second certificate has its own key and serial. */
	char *cert2 = NULL, *key2 = NULL;
	assert_int_equal(x509_selfsigned(hosts, 5, 365, &cert2, &key2), 0);
	X509 *x2 = parse_cert_pem(cert2);
	const ASN1_INTEGER *s1 = X509_get0_serialNumber(x), *s2 = X509_get0_serialNumber(x2);
	assert_int_not_equal(ASN1_INTEGER_cmp(s1, s2), 0);
	assert_int_not_equal(EVP_PKEY_eq(X509_get0_pubkey(x2), k), 1);
	X509_free(x2);
	free(cert2);
	x509_free_secret_pem(key2);

	X509_free(x);
	EVP_PKEY_free(k);
	free(cert);
	x509_free_secret_pem(key);
	x509_free_secret_pem(NULL);
}

static void test_selfsigned_names(void **state)
{
	(void)state;
	char *cert = NULL, *key = NULL;
	char buf[256];
	/* No hosts, or only empty ones: default CN, no SAN extension. */
	const char *empties[] = { "", "" };
	for (int round = 0; round < 2; round++) {
		assert_int_equal(
			x509_selfsigned(round ? empties : NULL, round ? 2 : 0, 1, &cert, &key), 0);
		X509 *x = parse_cert_pem(cert);
		name_entry(X509_get_subject_name(x), NID_commonName, buf, sizeof(buf));
		assert_string_equal(buf, "cloister-agent");
		assert_int_equal(X509_get_ext_by_NID(x, NID_subject_alt_name, -1), -1);
		X509_free(x);
		free(cert);
		x509_free_secret_pem(key);
	}

	/* CN: the first non-empty host when it fits the 64 bytes a CN may hold. */
	char h64[65], h65[66];
	memset(h64, 'a', 64);
	h64[64] = '\0';
	memset(h65, 'b', 65);
	h65[65] = '\0';
	const char *fits[] = { "", h64 };
	assert_int_equal(x509_selfsigned(fits, 2, 1, &cert, &key), 0);
	X509 *x = parse_cert_pem(cert);
	name_entry(X509_get_subject_name(x), NID_commonName, buf, sizeof(buf));
	assert_string_equal(buf, h64);
	X509_free(x);
	free(cert);
	x509_free_secret_pem(key);
	const char *toolong[] = { h65, "10.0.0.1" };
	assert_int_equal(x509_selfsigned(toolong, 2, 1, &cert, &key), 0);
	x = parse_cert_pem(cert);
	name_entry(X509_get_subject_name(x), NID_commonName, buf, sizeof(buf));
	assert_string_equal(buf, "cloister-agent");
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 2);
	GENERAL_NAMES_free(gens);
	X509_free(x);
	free(cert);
	x509_free_secret_pem(key);

	/* Names that are neither addresses nor DNS names are refused, nothing smuggled in. */
	const char *bad[] = { "a b", "a,IP:1.2.3.4", "caf\xc3\xa9", "x\ny", "[::1]", "1.2.3.4/8" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *one[] = { bad[i] };
		cert = key = NULL;
		assert_int_equal(x509_selfsigned(one, 1, 1, &cert, &key), -EINVAL);
		assert_null(cert);
		assert_null(key);
	}
	const char *with_null[] = { "ok", NULL };
	assert_int_equal(x509_selfsigned(with_null, 2, 1, &cert, &key), -EINVAL);
	assert_int_equal(x509_selfsigned(NULL, 1, 1, &cert, &key), -EINVAL);
	const char *ok[] = { "ok" };
	assert_int_equal(x509_selfsigned(ok, 1, 1, NULL, &key), -EINVAL);
	assert_int_equal(x509_selfsigned(ok, 1, 1, &cert, NULL), -EINVAL);
}

static void test_selfsigned_limits(void **state)
{
	(void)state;
	char *cert = NULL, *key = NULL;
	const char *hosts[X509_MAX_HOSTS + 1];
	char names[X509_MAX_HOSTS + 1][16];
	for (size_t i = 0; i <= X509_MAX_HOSTS; i++) {
		snprintf(names[i], sizeof(names[i]), "h%zu.test", i);
		hosts[i] = names[i];
	}
	assert_int_equal(x509_selfsigned(hosts, X509_MAX_HOSTS, 1, &cert, &key), 0);
	X509 *x = parse_cert_pem(cert);
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_int_equal(sk_GENERAL_NAME_num(gens), X509_MAX_HOSTS);
	GENERAL_NAMES_free(gens);
	X509_free(x);
	free(cert);
	x509_free_secret_pem(key);
	assert_int_equal(x509_selfsigned(hosts, X509_MAX_HOSTS + 1, 1, &cert, &key), -E2BIG);

	/* Days: 1..X509_MAX_DAYS. */
	int64_t now = (int64_t)time(NULL);
	assert_int_equal(x509_selfsigned(hosts, 1, X509_MAX_DAYS, &cert, &key), 0);
	x = parse_cert_pem(cert);
	assert_near(asn1_to_unix(X509_get0_notAfter(x)), now + (int64_t)X509_MAX_DAYS * DAY);
	X509_free(x);
	free(cert);
	x509_free_secret_pem(key);
	assert_int_equal(x509_selfsigned(hosts, 1, X509_MAX_DAYS + 1, &cert, &key), -E2BIG);
	assert_int_equal(x509_selfsigned(hosts, 1, 0, &cert, &key), -EINVAL);
	assert_int_equal(x509_selfsigned(hosts, 1, -1, &cert, &key), -EINVAL);

	/* Host length: X509_MAX_HOST_BYTES. */
	char longest[X509_MAX_HOST_BYTES + 2];
	memset(longest, 'a', sizeof(longest) - 1);
	longest[X509_MAX_HOST_BYTES] = '\0';
	const char *one[] = { longest };
	assert_int_equal(x509_selfsigned(one, 1, 1, &cert, &key), 0);
	free(cert);
	x509_free_secret_pem(key);
	longest[X509_MAX_HOST_BYTES] = 'a';
	longest[X509_MAX_HOST_BYTES + 1] = '\0';
	assert_int_equal(x509_selfsigned(one, 1, 1, &cert, &key), -E2BIG);
}

/* ---- files ------------------------------------------------------------------------------- */

static void test_write_and_file_facts(void **state)
{
	(void)state;
	char cp[128], kp[128];
	path_in_tmp(cp, sizeof(cp), "agent.crt");
	path_in_tmp(kp, sizeof(kp), "agent.key");
	const char *hosts[] = { "localhost", "" };
	mode_t old = umask(0);
	int r = x509_selfsigned_write(cp, kp, hosts, 2, 30);
	umask(old);
	assert_int_equal(r, 0);
	struct stat st;
	assert_int_equal(stat(cp, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(kp, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	struct x509_info info;
	int64_t now = (int64_t)time(NULL);
	assert_int_equal(x509_cert_info_file(cp, &info), 0);
	assert_true(info.self_signed);
	assert_near(info.not_before, now - X509_BACKDATE_SEC);
	assert_near(info.not_after, now + 30 * DAY);
	assert_int_equal(x509_key_matches_cert(cp, kp), 1);

	/* SPKI DER: the key's public half, as i2d_PUBKEY writes it (91 bytes for P-256). */
	unsigned char *der = NULL;
	size_t len = 0;
	assert_int_equal(x509_spki_der_file(cp, &der, &len), 0);
	FILE *f = fopen(kp, "re");
	assert_non_null(f);
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(k);
	unsigned char *want = NULL;
	int wlen = i2d_PUBKEY(k, &want);
	assert_int_equal(len, (size_t)wlen);
	assert_int_equal(len, 91);
	assert_memory_equal(der, want, len);
	OPENSSL_free(want);
	free(der);

	/* A different key does not match; an encrypted key is refused without a prompt. */
	char kp2[128];
	path_in_tmp(kp2, sizeof(kp2), "other.key");
	EVP_PKEY *k2 = gen_key();
	f = fopen(kp2, "we");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, k2, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	assert_int_equal(x509_key_matches_cert(cp, kp2), 0);
	f = fopen(kp2, "we");
	assert_non_null(f);
	assert_int_equal(PEM_write_PKCS8PrivateKey(f, k, EVP_aes_256_cbc(), NULL, 0, NULL,
						   (void *)"password"),
			 1);
	fclose(f);
	assert_int_equal(x509_key_matches_cert(cp, kp2), -EINVAL);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(k);

	/* Missing and malformed files. */
	char missing[128], junk[128];
	path_in_tmp(missing, sizeof(missing), "nope.pem");
	path_in_tmp(junk, sizeof(junk), "junk.pem");
	write_bytes("junk.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n", 33);
	assert_int_equal(x509_cert_info_file(missing, &info), -ENOENT);
	assert_int_equal(x509_cert_info_file(junk, &info), -EINVAL);
	assert_int_equal(x509_key_matches_cert(missing, kp), -ENOENT);
	assert_int_equal(x509_key_matches_cert(cp, missing), -ENOENT);
	assert_int_equal(x509_key_matches_cert(cp, junk), -EINVAL);
	assert_int_equal(x509_spki_der_file(missing, &der, &len), -ENOENT);
	assert_int_equal(x509_spki_der_file(junk, &der, &len), -EINVAL);
	assert_int_equal(x509_cert_info_file(cp, NULL), -EINVAL);
	assert_int_equal(x509_spki_der_file(cp, NULL, &len), -EINVAL);
	assert_int_equal(x509_cert_info_file(NULL, &info), -EINVAL);

	/* File size cap: a cert padded to exactly X509_MAX_FILE_BYTES is read, one more is not. */
	char *buf = malloc(X509_MAX_FILE_BYTES + 1);
	assert_non_null(buf);
	f = fopen(cp, "re");
	assert_non_null(f);
	size_t n = fread(buf, 1, X509_MAX_FILE_BYTES, f);
	fclose(f);
	memset(buf + n, '\n', X509_MAX_FILE_BYTES + 1 - n);
	write_bytes("big.pem", buf, X509_MAX_FILE_BYTES);
	char big[128];
	path_in_tmp(big, sizeof(big), "big.pem");
	assert_int_equal(x509_cert_info_file(big, &info), 0);
	write_bytes("big.pem", buf, X509_MAX_FILE_BYTES + 1);
	assert_int_equal(x509_cert_info_file(big, &info), -E2BIG);
	free(buf);

	/* A write into a missing directory fails and leaves no certificate behind. */
	char bad_cp[160], bad_kp[160];
	snprintf(bad_cp, sizeof(bad_cp), "%s/nodir/a.crt", tmpdir);
	snprintf(bad_kp, sizeof(bad_kp), "%s/nodir/a.key", tmpdir);
	assert_int_equal(x509_selfsigned_write(bad_cp, bad_kp, hosts, 2, 30), -ENOENT);
	assert_int_not_equal(stat(bad_cp, &st), 0);
	assert_int_equal(x509_selfsigned_write(NULL, kp, hosts, 2, 30), -EINVAL);
	/* Bad arguments are refused before anything is written. */
	char fresh_c[128], fresh_k[128];
	path_in_tmp(fresh_c, sizeof(fresh_c), "fresh.crt");
	path_in_tmp(fresh_k, sizeof(fresh_k), "fresh.key");
	assert_int_equal(x509_selfsigned_write(fresh_c, fresh_k, hosts, 2, 0), -EINVAL);
	assert_int_not_equal(stat(fresh_k, &st), 0);
}

static void test_info_self_signed_flag(void **state)
{
	(void)state;
	char p[128];
	struct x509_info info;
	/* A root CA is self-signed; a leaf it issued is not. */
	write_certs("root.pem", &pki.ca1, 1);
	path_in_tmp(p, sizeof(p), "root.pem");
	assert_int_equal(x509_cert_info_file(p, &info), 0);
	assert_true(info.self_signed);
	const unsigned char *d = pki.ok.p;
	X509 *leaf = d2i_X509(NULL, &d, (long)pki.ok.len);
	assert_non_null(leaf);
	write_certs("leaf.pem", &leaf, 1);
	X509_free(leaf);
	path_in_tmp(p, sizeof(p), "leaf.pem");
	assert_int_equal(x509_cert_info_file(p, &info), 0);
	assert_false(info.self_signed);
	/* Issuer == subject but signed by another key: not self-signed. */
	X509 *fake = make_cert("Test CA 1", pki.k_leaf, NULL, pki.k_ca2, true, NULL, -DAY, DAY, 9);
	write_certs("fake.pem", &fake, 1);
	X509_free(fake);
	path_in_tmp(p, sizeof(p), "fake.pem");
	assert_int_equal(x509_cert_info_file(p, &info), 0);
	assert_false(info.self_signed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verify_trusted),
		cmocka_unit_test(test_verify_other_ca),
		cmocka_unit_test(test_verify_expired),
		cmocka_unit_test(test_verify_revoked),
		cmocka_unit_test(test_verify_server_only_eku),
		cmocka_unit_test(test_verify_intermediate),
		cmocka_unit_test(test_verify_malformed),
		cmocka_unit_test(test_verify_limits),
		cmocka_unit_test(test_verifier_new_errors),
		cmocka_unit_test(test_verify_threads),
		cmocka_unit_test(test_selfsigned_contents),
		cmocka_unit_test(test_selfsigned_names),
		cmocka_unit_test(test_selfsigned_limits),
		cmocka_unit_test(test_write_and_file_facts),
		cmocka_unit_test(test_info_self_signed_flag),
	};
	return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
