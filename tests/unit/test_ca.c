/*
 * test_ca.c - the CA primitives (ca.h), checked with OpenSSL itself: a created CA is a CA
 * (critical basicConstraints, keyCertSign/cRLSign), issued leaves chain to it with the asked-for
 * SANs and exactly one extended key usage, renewals keep the names and nothing else, CRLs carry
 * their number, dates, AKI and entries and verify with the CA key, and every bad input and limit
 * is refused. Also the x509 verifier restrictions (clientAuth EKU, exact CN) that the agent uses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ca.h"
#include "x509.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

struct fixture {
	char *ca_cert, *ca_key;
	struct ca_signer *ca;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f || ca_create("Test CA", 30, &f->ca_cert, &f->ca_key) != 0)
		return -1;
	f->ca = ca_signer_new(f->ca_cert, f->ca_key, NULL);
	*state = f;
	return f->ca ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	ca_signer_free(f->ca);
	free(f->ca_cert);
	ca_free_secret_pem(f->ca_key);
	free(f);
	return 0;
}

static X509 *pem_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(x);
	return x;
}

/* OpenSSL's own chain check of leaf against ca (purpose as given), optionally with a CRL. */
static int chain_ok(const char *ca_pem, const char *leaf_pem, int purpose, const char *crl_pem)
{
	X509_STORE *st = X509_STORE_new();
	X509 *ca = pem_cert(ca_pem), *leaf = pem_cert(leaf_pem);
	X509_STORE_add_cert(st, ca);
	if (crl_pem) {
		BIO *b = BIO_new_mem_buf(crl_pem, -1);
		X509_CRL *crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
		BIO_free(b);
		assert_non_null(crl);
		X509_STORE_add_crl(st, crl);
		X509_CRL_free(crl);
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	}
	X509_STORE_set_purpose(st, purpose);
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_STORE_CTX_init(ctx, st, leaf, NULL);
	int ok = X509_verify_cert(ctx);
	int err = X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_free(ca);
	X509_free(leaf);
	X509_STORE_free(st);
	return ok == 1 ? 0 : err;
}

static void test_create_is_a_ca(void **state)
{
	struct fixture *f = *state;
	X509 *x = pem_cert(f->ca_cert);
	assert_int_equal(X509_check_ca(x), 1);
	int crit = -1;
	BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_true(bc->ca);
	assert_int_equal(crit, 1);
	BASIC_CONSTRAINTS_free(bc);
	uint32_t ku = X509_get_key_usage(x);
	assert_true(ku & KU_KEY_CERT_SIGN);
	assert_true(ku & KU_CRL_SIGN);
	assert_non_null(X509_get0_subject_key_id(x));
	X509_free(x);
	struct ca_cert_facts cf;
	assert_int_equal(ca_cert_facts(f->ca_cert, strlen(f->ca_cert), &cf), 0);
	assert_true(cf.is_ca);
	assert_true(cf.not_after - cf.not_before >= 30 * 86400);
}

static void test_create_bad_inputs(void **state)
{
	(void)state;
	char *c = NULL, *k = NULL;
	assert_int_equal(ca_create("", 10, &c, &k), -EINVAL);
	assert_int_equal(ca_create("a,CN=evil", 10, &c, &k), -EINVAL);
	assert_int_equal(ca_create("x", 0, &c, &k), -EINVAL);
	assert_int_equal(ca_create("x", CA_MAX_DAYS + 1, &c, &k), -E2BIG);
	char cn[CA_CN_MAX_BYTES + 2];
	memset(cn, 'a', sizeof(cn) - 1);
	cn[sizeof(cn) - 1] = '\0';
	assert_int_equal(ca_create(cn, 10, &c, &k), -EINVAL); /* 65 bytes */
	cn[CA_CN_MAX_BYTES] = '\0';
	assert_int_equal(ca_create(cn, 10, &c, &k), 0); /* 64: at the limit */
	free(c);
	ca_free_secret_pem(k);
}

static void test_signer_refuses_non_ca_and_wrong_key(void **state)
{
	struct fixture *f = *state;
	char *c2 = NULL, *k2 = NULL;
	assert_int_equal(ca_create("Other", 5, &c2, &k2), 0);
	int err = 0;
	assert_null(ca_signer_new(f->ca_cert, k2, &err)); /* another CA's key */
	assert_int_equal(err, -EINVAL);
	const char *ip[] = { "10.0.0.1" };
	struct ca_leaf_req r = {
		.cn = "leaf", .ips = ip, .n_ips = 1, .usage = CA_USAGE_SERVER, .days = 5
	};
	struct ca_issued out;
	assert_int_equal(ca_issue(f->ca, &r, NULL, &out), 0);
	assert_null(ca_signer_new(out.cert_pem, out.key_pem, &err)); /* a leaf is no CA */
	assert_int_equal(err, -EINVAL);
	assert_null(ca_signer_new("garbage", "garbage", &err));
	assert_int_equal(err, -EINVAL);
	ca_issued_done(&out);
	free(c2);
	ca_free_secret_pem(k2);
}

static void test_issue_server_leaf(void **state)
{
	struct fixture *f = *state;
	const char *ips[] = { "127.0.0.1", "::1" };
	const char *dns[] = { "agent-1.example.org" };
	struct ca_leaf_req r = { .cn = "backend-1",
				 .ips = ips,
				 .n_ips = 2,
				 .dns_names = dns,
				 .n_dns = 1,
				 .usage = CA_USAGE_SERVER,
				 .days = 10 };
	struct ca_issued out;
	assert_int_equal(ca_issue(f->ca, &r, NULL, &out), 0);
	assert_non_null(out.key_pem);
	assert_int_equal(chain_ok(f->ca_cert, out.cert_pem, X509_PURPOSE_SSL_SERVER, NULL), 0);
	/* serverAuth only: not a client certificate. */
	assert_int_not_equal(chain_ok(f->ca_cert, out.cert_pem, X509_PURPOSE_SSL_CLIENT, NULL), 0);
	X509 *x = pem_cert(out.cert_pem);
	assert_int_equal(X509_check_host(x, "agent-1.example.org", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "::1", 0), 1);
	assert_int_equal(X509_check_ip_asc(x, "127.0.0.2", 0), 0);
	assert_true(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
	assert_false(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT);
	assert_non_null(X509_get0_authority_key_id(x));
	assert_int_equal(X509_check_ca(x), 0);
	/* Serial: the text we were given, positive, 128 bits at most. */
	char hex[CA_SERIAL_HEX_MAX + 1];
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *h = BN_bn2hex(bn);
	snprintf(hex, sizeof(hex), "%s", h[0] == '0' && h[1] ? h + 1 : h);
	for (char *p = hex; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
	assert_string_equal(hex, out.serial);
	assert_false(BN_is_negative(bn));
	assert_true(BN_num_bits(bn) <= 128);
	OPENSSL_free(h);
	BN_free(bn);
	time_t now = time(NULL);
	assert_true(out.not_before <= now - X509_BACKDATE_SEC + 5);
	assert_true(out.not_after >= now + 10 * 86400 - 5);
	X509_free(x);
	/* Two issues never share a serial. */
	struct ca_issued again;
	assert_int_equal(ca_issue(f->ca, &r, NULL, &again), 0);
	assert_string_not_equal(again.serial, out.serial);
	ca_issued_done(&again);
	ca_issued_done(&out);
}

/* A leaf with no extendedKeyUsage at all, CN "cloisterd", signed by the fixture's CA: OpenSSL's
 * SSL-client purpose alone lets it through. */
static char *leaf_without_eku(const struct fixture *f)
{
	BIO *b = BIO_new_mem_buf(f->ca_key, -1);
	EVP_PKEY *cak = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	X509 *ca = pem_cert(f->ca_cert);
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	assert_non_null(cak);
	assert_non_null(k);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"cloisterd", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(ca));
	assert_true(X509_sign(x, cak, EVP_sha256()) > 0);
	BIO *o = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(o, x);
	char *data = NULL;
	long n = BIO_get_mem_data(o, &data);
	char *pem = strndup(data, (size_t)n);
	BIO_free(o);
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(k);
	EVP_PKEY_free(cak);
	return pem;
}

static int check_pem(struct x509_verifier *v, const char *pem, char *why, size_t whylen)
{
	X509 *x = pem_cert(pem);
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	const unsigned char *d[] = { der };
	size_t l[] = { (size_t)n };
	int rc = x509_verifier_check(v, d, l, 1, 0, why, whylen);
	OPENSSL_free(der);
	X509_free(x);
	return rc;
}

static void test_issue_client_leaf_and_verifier(void **state)
{
	struct fixture *f = *state;
	struct ca_leaf_req r = { .cn = "cloisterd", .usage = CA_USAGE_CLIENT, .days = 3 };
	struct ca_issued cl, other, srv;
	assert_int_equal(ca_issue(f->ca, &r, NULL, &cl), 0);
	assert_int_equal(chain_ok(f->ca_cert, cl.cert_pem, X509_PURPOSE_SSL_CLIENT, NULL), 0);
	r.cn = "cloisterd2";
	assert_int_equal(ca_issue(f->ca, &r, NULL, &other), 0);
	const char *ip[] = { "127.0.0.1" };
	struct ca_leaf_req rs = {
		.cn = "cloisterd", .ips = ip, .n_ips = 1, .usage = CA_USAGE_SERVER, .days = 3
	};
	assert_int_equal(ca_issue(f->ca, &rs, NULL, &srv), 0);

	/* The agent's verifier: CA file, clientAuth EKU required, CN "cloisterd" exactly. */
	char dir[] = "/tmp/test-ca-XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	FILE *fp = fopen(path, "w");
	fputs(f->ca_cert, fp);
	fclose(fp);
	char err[128];
	struct x509_verifier *v = x509_verifier_new(path, NULL, err, sizeof(err));
	assert_non_null(v);
	assert_int_equal(x509_verifier_restrict(v, X509_VERIFY_CLIENT_EKU, "cloisterd"), 0);
	char why[160];
	assert_int_equal(check_pem(v, cl.cert_pem, why, sizeof(why)), 0);
	assert_int_equal(check_pem(v, other.cert_pem, why, sizeof(why)), -EACCES);
	assert_string_equal(why, "client certificate subject CN is not the expected one");
	assert_int_equal(check_pem(v, srv.cert_pem, why, sizeof(why)), -EACCES);
	assert_string_equal(why, "unsuitable certificate purpose"); /* serverAuth only */
	/* No EKU: the purpose check passes it; only the restriction refuses it. */
	char *noeku = leaf_without_eku(f);
	assert_int_equal(check_pem(v, noeku, why, sizeof(why)), -EACCES);
	assert_string_equal(why, "certificate not for client authentication");
	assert_int_equal(x509_verifier_restrict(v, 0, "cloisterd"), 0);
	assert_int_equal(check_pem(v, noeku, why, sizeof(why)), 0);
	assert_int_equal(x509_verifier_restrict(v, 0, NULL), 0); /* no CN rule any more */
	assert_int_equal(check_pem(v, other.cert_pem, why, sizeof(why)), 0);
	free(noeku);
	char longcn[X509_CN_MAX_BYTES + 2];
	memset(longcn, 'c', sizeof(longcn) - 1);
	longcn[sizeof(longcn) - 1] = '\0';
	assert_int_equal(x509_verifier_restrict(v, 0, longcn), -EINVAL);
	assert_int_equal(x509_verifier_restrict(v, 0x80, NULL), -EINVAL);
	x509_verifier_free(v);
	unlink(path);
	rmdir(dir);
	ca_issued_done(&cl);
	ca_issued_done(&other);
	ca_issued_done(&srv);
}

static void test_issue_bad_inputs_and_limits(void **state)
{
	struct fixture *f = *state;
	struct ca_issued out;
	const char *bad_ip[] = { "300.1.1.1" };
	const char *bad_dns[] = { "a b.example" };
	const char *dash[] = { "-lead.example" };
	const char *trail[] = { "trail.example." };
	struct ca_leaf_req r = { .cn = "x", .usage = CA_USAGE_SERVER, .days = 5 };
	assert_int_equal(ca_issue(f->ca, &r, NULL, &out), -EINVAL); /* server needs a name */
	r.ips = bad_ip;
	r.n_ips = 1;
	assert_int_equal(ca_issue(f->ca, &r, NULL, &out), -EINVAL);
	r.n_ips = 0;
	r.n_dns = 1;
	r.dns_names = bad_dns;
	assert_int_equal(ca_issue(f->ca, &r, NULL, &out), -EINVAL);
	r.dns_names = dash;
	assert_int_equal(ca_issue(f->ca, &r, NULL, &out), -EINVAL);
	r.dns_names = trail;
	assert_int_equal(ca_issue(f->ca, &r, NULL, &out), -EINVAL);
	/* SAN count: at the limit and one past it. */
	const char *many[CA_LEAF_MAX_SANS + 1];
	for (size_t i = 0; i < CA_LEAF_MAX_SANS + 1; i++)
		many[i] = "10.1.2.3";
	r.dns_names = NULL;
	r.n_dns = 0;
	r.ips = many;
	r.n_ips = CA_LEAF_MAX_SANS;
	assert_int_equal(ca_issue(f->ca, &r, NULL, &out), 0);
	ca_issued_done(&out);
	r.n_ips = CA_LEAF_MAX_SANS + 1;
	assert_int_equal(ca_issue(f->ca, &r, NULL, &out), -E2BIG);
	assert_null(out.cert_pem);
	r.n_ips = 1;
	r.days = CA_MAX_DAYS + 1;
	assert_int_equal(ca_issue(f->ca, &r, NULL, &out), -E2BIG);
	r.days = 0;
	assert_int_equal(ca_issue(f->ca, &r, NULL, &out), -EINVAL);
	r.days = 5;
	r.usage = 7;
	assert_int_equal(ca_issue(f->ca, &r, NULL, &out), -EINVAL);
	r.usage = CA_USAGE_SERVER;
	assert_int_equal(ca_issue(f->ca, &r, "not a key", &out), -EINVAL);
	/* A leaf never outlives its CA (30 days here). */
	r.days = 365;
	assert_int_equal(ca_issue(f->ca, &r, NULL, &out), 0);
	struct ca_cert_facts cf;
	assert_int_equal(ca_cert_facts(f->ca_cert, strlen(f->ca_cert), &cf), 0);
	assert_true(out.not_after <= cf.not_after);
	ca_issued_done(&out);
}

static void test_reissue_and_renew(void **state)
{
	struct fixture *f = *state;
	const char *ip[] = { "192.0.2.7" };
	const char *dns[] = { "b.example" };
	struct ca_leaf_req r = { .cn = "b",
				 .ips = ip,
				 .n_ips = 1,
				 .dns_names = dns,
				 .n_dns = 1,
				 .usage = CA_USAGE_SERVER,
				 .days = 5 };
	struct ca_issued a, same_key, renewed;
	assert_int_equal(ca_issue(f->ca, &r, NULL, &a), 0);
	/* Re-issue for the same key: the same SPKI, no key handed out. */
	assert_int_equal(ca_issue(f->ca, &r, a.key_pem, &same_key), 0);
	assert_null(same_key.key_pem);
	char p1[CA_PIN_BUF], p2[CA_PIN_BUF], p3[CA_PIN_BUF];
	assert_int_equal(ca_cert_pin(a.cert_pem, strlen(a.cert_pem), p1), 0);
	assert_int_equal(ca_cert_pin(same_key.cert_pem, strlen(same_key.cert_pem), p2), 0);
	assert_string_equal(p1, p2);
	assert_int_equal(strncmp(p1, "sha256//", 8), 0);
	assert_int_equal(strlen(p1), 8 + 44);
	/* Renew with a new key: new serial, new key, same names and usage. */
	assert_int_equal(ca_renew(f->ca, a.cert_pem, strlen(a.cert_pem), 7, NULL, &renewed), 0);
	assert_non_null(renewed.key_pem);
	assert_string_not_equal(renewed.serial, a.serial);
	assert_int_equal(ca_cert_pin(renewed.cert_pem, strlen(renewed.cert_pem), p3), 0);
	assert_string_not_equal(p1, p3);
	assert_string_not_equal(renewed.key_pem, a.key_pem);
	X509 *x = pem_cert(renewed.cert_pem);
	assert_int_equal(X509_check_ip_asc(x, "192.0.2.7", 0), 1);
	assert_int_equal(X509_check_host(x, "b.example", 0, 0, NULL), 1);
	assert_true(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
	X509_free(x);
	assert_int_equal(chain_ok(f->ca_cert, renewed.cert_pem, X509_PURPOSE_SSL_SERVER, NULL), 0);
	/* Another CA's certificate cannot be renewed here. */
	char *oc = NULL, *ok = NULL;
	assert_int_equal(ca_create("Other", 5, &oc, &ok), 0);
	struct ca_signer *other = ca_signer_new(oc, ok, NULL);
	struct ca_issued foreign;
	assert_int_equal(ca_issue(other, &r, NULL, &foreign), 0);
	ca_issued_done(&renewed);
	assert_int_equal(
		ca_renew(f->ca, foreign.cert_pem, strlen(foreign.cert_pem), 5, NULL, &renewed),
		-EINVAL);
	assert_null(renewed.cert_pem);
	assert_int_equal(
		ca_cert_verify_sig(a.cert_pem, strlen(a.cert_pem), f->ca_cert, strlen(f->ca_cert)),
		0);
	assert_int_equal(ca_cert_verify_sig(foreign.cert_pem, strlen(foreign.cert_pem), f->ca_cert,
					    strlen(f->ca_cert)),
			 -EACCES);
	ca_issued_done(&foreign);
	ca_signer_free(other);
	free(oc);
	ca_free_secret_pem(ok);
	ca_issued_done(&a);
	ca_issued_done(&same_key);
}

static void test_crl(void **state)
{
	struct fixture *f = *state;
	const char *ip[] = { "10.9.9.9" };
	struct ca_leaf_req r = {
		.cn = "c", .ips = ip, .n_ips = 1, .usage = CA_USAGE_SERVER, .days = 5
	};
	struct ca_issued good, bad;
	assert_int_equal(ca_issue(f->ca, &r, NULL, &good), 0);
	assert_int_equal(ca_issue(f->ca, &r, NULL, &bad), 0);
	int64_t now = (int64_t)time(NULL);
	char upper[CA_SERIAL_HEX_MAX + 1];
	snprintf(upper, sizeof(upper), "%s", bad.serial);
	for (char *p = upper; *p; p++)
		*p = (char)(*p >= 'a' && *p <= 'f' ? *p - 'a' + 'A' : *p);
	struct ca_revoked rv[] = { { upper, now - 10 }, { "1f", now - 20 } };
	char *crl = NULL;
	assert_int_equal(ca_crl_build(f->ca, rv, 2, 7, now, 3600, &crl), 0);
	struct ca_crl_facts cf;
	assert_int_equal(ca_crl_facts(crl, strlen(crl), &cf), 0);
	assert_int_equal(cf.crl_number, 7);
	assert_int_equal(cf.last_update, now);
	assert_int_equal(cf.next_update, now + 3600);
	assert_int_equal(cf.n_revoked, 2);
	assert_int_equal(ca_crl_verify(crl, strlen(crl), f->ca_cert, strlen(f->ca_cert)), 0);
	/* OpenSSL with CRL checking: the listed one is revoked, the other passes. */
	assert_int_equal(chain_ok(f->ca_cert, bad.cert_pem, X509_PURPOSE_SSL_SERVER, crl),
			 X509_V_ERR_CERT_REVOKED);
	assert_int_equal(chain_ok(f->ca_cert, good.cert_pem, X509_PURPOSE_SSL_SERVER, crl), 0);
	BIO *b = BIO_new_mem_buf(crl, -1);
	X509_CRL *x = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_int_equal(X509_CRL_get_version(x), X509_CRL_VERSION_2);
	assert_true(X509_CRL_get_ext_by_NID(x, NID_authority_key_identifier, -1) >= 0);
	X509_CRL_free(x);
	unsigned char *der = NULL;
	size_t dl = 0;
	assert_int_equal(ca_crl_der(crl, strlen(crl), &der, &dl), 0);
	assert_true(dl > 50 && der[0] == 0x30);
	free(der);
	/* Another CA's key does not verify it; an empty CRL is fine. */
	char *oc = NULL, *ok = NULL;
	assert_int_equal(ca_create("Other", 5, &oc, &ok), 0);
	assert_int_equal(ca_crl_verify(crl, strlen(crl), oc, strlen(oc)), -EACCES);
	free(crl);
	assert_int_equal(ca_crl_build(f->ca, NULL, 0, 1, now, 60, &crl), 0);
	assert_int_equal(ca_crl_facts(crl, strlen(crl), &cf), 0);
	assert_int_equal(cf.n_revoked, 0);
	free(crl);
	/* Bad inputs. */
	struct ca_revoked badser[] = { { "xyz", now } };
	assert_int_equal(ca_crl_build(f->ca, badser, 1, 1, now, 60, &crl), -EINVAL);
	char longser[CA_SERIAL_HEX_MAX + 2];
	memset(longser, 'a', sizeof(longser) - 1);
	longser[sizeof(longser) - 1] = '\0';
	struct ca_revoked toolong[] = { { longser, now } };
	assert_int_equal(ca_crl_build(f->ca, toolong, 1, 1, now, 60, &crl), -E2BIG);
	longser[CA_SERIAL_HEX_MAX] = '\0'; /* 40 hex digits: the limit */
	toolong[0].serial = longser;
	assert_int_equal(ca_crl_build(f->ca, toolong, 1, 1, now, 60, &crl), 0);
	free(crl);
	assert_int_equal(ca_crl_build(f->ca, rv, CA_CRL_MAX_ENTRIES + 1, 1, now, 60, &crl), -E2BIG);
	assert_int_equal(ca_crl_build(f->ca, NULL, 0, 1, now, 0, &crl), -EINVAL);
	assert_int_equal(ca_crl_facts("nope", 4, &cf), -EINVAL);
	assert_int_equal(ca_crl_der("nope", 4, &der, &dl), -EINVAL);
	free(oc);
	ca_free_secret_pem(ok);
	ca_issued_done(&good);
	ca_issued_done(&bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_is_a_ca, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_bad_inputs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signer_refuses_non_ca_and_wrong_key, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_issue_server_leaf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_issue_client_leaf_and_verifier, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_issue_bad_inputs_and_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reissue_and_renew, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crl, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
