/*
 * ca.c - cloisterd's CA primitives on OpenSSL 3 (see ca.h).
 *
 * How it works: every object is built in memory from the caller's values. Fixed extensions
 * (basicConstraints, keyUsage, extendedKeyUsage, key identifiers) come from constant strings
 * through X509V3_EXT_nconf_nid; the subjectAltName is built as GENERAL_NAME objects after each
 * name was checked here (inet_pton for addresses, a strict character and label check for DNS
 * names), so a caller's string never reaches OpenSSL's config parser and cannot smuggle a second
 * name or another SAN type in. PEM input is parsed from a memory BIO with passphrase prompts
 * disabled; key PEM copies are wiped.
 *
 * OpenSSL keeps a per-thread error queue that other users of the thread (libcurl, the TLS
 * server) read: every public function clears it before returning.
 */
#include "ca.h"

#include "util.h"
#include "x509.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define CA_SERIAL_BYTES 16 /* 128 bits, top bit cleared: positive */
#define CA_DNS_LABEL_MAX_BYTES 63
#define CA_ORG "Cloister"

struct ca_signer {
	X509 *cert;
	EVP_PKEY *key;
};

/* ---- helpers --------------------------------------------------------------------------------- */

static int no_password_cb(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static int finish(int r)
{
	ERR_clear_error();
	return r;
}

static BIO *mem_bio(const char *pem, size_t len, size_t max, int *r)
{
	if (!pem) {
		*r = -EINVAL;
		return NULL;
	}
	if (len > max) {
		*r = -E2BIG;
		return NULL;
	}
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	*r = b ? 0 : -ENOMEM;
	return b;
}

static int parse_cert(const char *pem, size_t len, X509 **out)
{
	int r;
	BIO *b = mem_bio(pem, len, CA_PEM_MAX_BYTES, &r);
	if (!b)
		return r;
	*out = PEM_read_bio_X509(b, NULL, no_password_cb, NULL);
	BIO_free(b);
	return *out ? 0 : -EINVAL;
}

static int parse_key(const char *pem, EVP_PKEY **out)
{
	int r;
	BIO *b = mem_bio(pem, pem ? strnlen(pem, CA_PEM_MAX_BYTES + 1) : 0, CA_PEM_MAX_BYTES, &r);
	if (!b)
		return r;
	*out = PEM_read_bio_PrivateKey(b, NULL, no_password_cb, NULL);
	BIO_free(b);
	return *out ? 0 : -EINVAL;
}

static int parse_crl(const char *pem, size_t len, X509_CRL **out)
{
	int r;
	BIO *b = mem_bio(pem, len, CA_CRL_PEM_MAX_BYTES, &r);
	if (!b)
		return r;
	*out = PEM_read_bio_X509_CRL(b, NULL, no_password_cb, NULL);
	BIO_free(b);
	return *out ? 0 : -EINVAL;
}

/* A memory BIO's contents as a NUL-terminated malloc'd string (wiped in the BIO when secret). */
static char *bio_string(BIO *b)
{
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);
	if (n <= 0 || !data)
		return NULL;
	char *s = malloc((size_t)n + 1);
	if (s) {
		memcpy(s, data, (size_t)n);
		s[n] = '\0';
	}
	OPENSSL_cleanse(data, (size_t)n);
	return s;
}

static int cert_to_pem(X509 *x, char **out)
{
	BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		return -ENOMEM;
	*out = PEM_write_bio_X509(b, x) == 1 ? bio_string(b) : NULL;
	BIO_free(b);
	return *out ? 0 : -ENOMEM;
}

static int key_to_pem(EVP_PKEY *k, char **out)
{
	BIO *b = BIO_new(BIO_s_secmem());
	if (!b)
		b = BIO_new(BIO_s_mem());
	if (!b)
		return -ENOMEM;
	*out = PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1 ? bio_string(b)
									      : NULL;
	BIO_free(b);
	return *out ? 0 : -ENOMEM;
}

static int asn1_time_unix(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return -EINVAL;
	*out = (int64_t)timegm(&tm);
	return 0;
}

/* Printable ASCII without the characters that make a distinguished name ambiguous to read. */
static bool cn_ok(const char *cn)
{
	if (!cn)
		return false;
	size_t n = strnlen(cn, CA_CN_MAX_BYTES + 1);
	if (n == 0 || n > CA_CN_MAX_BYTES)
		return false;
	for (size_t i = 0; i < n; i++)
		if (cn[i] < 0x20 || cn[i] > 0x7e || cn[i] == '/' || cn[i] == ',' || cn[i] == '=' ||
		    cn[i] == '+' || cn[i] == '\\' || cn[i] == '"')
			return false;
	return true;
}

static EVP_PKEY *new_p256(void)
{
	return EVP_EC_gen("P-256");
}

static bool is_p256(EVP_PKEY *k)
{
	char group[32];
	size_t n = 0;
	return EVP_PKEY_is_a(k, "EC") &&
	       EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof(group), &n) == 1 &&
	       strcmp(group, "prime256v1") == 0;
}

static int set_name(X509_NAME *name, const char *cn)
{
	return X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)CA_ORG,
					  -1, -1, 0) &&
			       X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
							  (const unsigned char *)cn, -1, -1, 0)
		       ? 0
		       : -ENOMEM;
}

static int random_serial(ASN1_INTEGER *dst)
{
	unsigned char b[CA_SERIAL_BYTES];
	BIGNUM *bn = NULL;
	do {
		BN_free(bn);
		if (RAND_bytes(b, sizeof(b)) != 1)
			return -EIO;
		b[0] &= 0x7f;
		bn = BN_bin2bn(b, sizeof(b), NULL);
		if (!bn)
			return -ENOMEM;
	} while (BN_is_zero(bn));
	int ok = BN_to_ASN1_INTEGER(bn, dst) != NULL;
	BN_free(bn);
	return ok ? 0 : -ENOMEM;
}

/* Lower-case hex of a (positive) ASN.1 integer. */
static int serial_hex(const ASN1_INTEGER *i, char out[CA_SERIAL_HEX_MAX + 1])
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(i, NULL);
	if (!bn)
		return -ENOMEM;
	char *h = BN_is_negative(bn) ? NULL : BN_bn2hex(bn);
	BN_free(bn);
	if (!h)
		return -EINVAL;
	size_t n = strlen(h);
	int r = 0;
	if (n > CA_SERIAL_HEX_MAX) {
		r = -E2BIG;
	} else {
		/* BN_bn2hex pads to whole bytes; drop the leading zero so "0a" reads "a". */
		const char *p = h;
		while (p[0] == '0' && p[1])
			p++;
		size_t k = 0;
		for (; *p; p++)
			out[k++] = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
		out[k] = '\0';
	}
	OPENSSL_free(h);
	return r;
}

/* Parses a hex serial (either case) into an ASN.1 integer. */
static int serial_parse(const char *hex, ASN1_INTEGER **out)
{
	if (!hex)
		return -EINVAL;
	size_t n = strnlen(hex, CA_SERIAL_HEX_MAX + 1);
	if (n == 0)
		return -EINVAL;
	if (n > CA_SERIAL_HEX_MAX)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		char c = hex[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return -EINVAL;
	}
	BIGNUM *bn = NULL;
	if (BN_hex2bn(&bn, hex) != (int)n) {
		BN_free(bn);
		return -EINVAL;
	}
	*out = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	return *out ? 0 : -ENOMEM;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	if (!ext)
		return -EIO;
	int ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -ENOMEM;
}

static bool dns_name_ok(const char *s)
{
	size_t n = strnlen(s, CA_DNS_NAME_MAX_BYTES + 1);
	if (n == 0 || n > CA_DNS_NAME_MAX_BYTES || s[0] == '.' || s[n - 1] == '.')
		return false;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > CA_DNS_LABEL_MAX_BYTES)
			return false;
	}
	return s[n - 1] != '-';
}

static int push_name(GENERAL_NAMES *gens, int type, const void *data, size_t len)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_STRING *s = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
	if (!g || !s || !ASN1_STRING_set(s, data, (int)len)) {
		ASN1_STRING_free(s);
		GENERAL_NAME_free(g);
		return -ENOMEM;
	}
	GENERAL_NAME_set0_value(g, type, s);
	if (!sk_GENERAL_NAME_push(gens, g)) {
		GENERAL_NAME_free(g);
		return -ENOMEM;
	}
	return 0;
}

static int check_sans(const struct ca_leaf_req *r)
{
	if ((r->n_ips && !r->ips) || (r->n_dns && !r->dns_names))
		return -EINVAL;
	if (r->n_ips > CA_LEAF_MAX_SANS || r->n_dns > CA_LEAF_MAX_SANS ||
	    r->n_ips + r->n_dns > CA_LEAF_MAX_SANS)
		return -E2BIG;
	unsigned char ip[16];
	for (size_t i = 0; i < r->n_ips; i++)
		if (!r->ips[i] || (inet_pton(AF_INET, r->ips[i], ip) != 1 &&
				   inet_pton(AF_INET6, r->ips[i], ip) != 1))
			return -EINVAL;
	for (size_t i = 0; i < r->n_dns; i++)
		if (!r->dns_names[i] || !dns_name_ok(r->dns_names[i]))
			return -EINVAL;
	if (r->usage == CA_USAGE_SERVER && r->n_ips + r->n_dns == 0)
		return -EINVAL;
	return 0;
}

/* The request's names as GENERAL_NAMES (checked by check_sans already); NULL when none. */
static int build_sans(const struct ca_leaf_req *r, GENERAL_NAMES **out)
{
	*out = NULL;
	if (r->n_ips + r->n_dns == 0)
		return 0;
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	if (!gens)
		return -ENOMEM;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < r->n_ips; i++) {
		unsigned char ip[16];
		size_t n = inet_pton(AF_INET, r->ips[i], ip) == 1 ? 4 : 16;
		if (n == 16 && inet_pton(AF_INET6, r->ips[i], ip) != 1)
			rc = -EINVAL;
		else
			rc = push_name(gens, GEN_IPADD, ip, n);
	}
	for (size_t i = 0; rc == 0 && i < r->n_dns; i++)
		rc = push_name(gens, GEN_DNS, r->dns_names[i], strlen(r->dns_names[i]));
	if (rc < 0)
		GENERAL_NAMES_free(gens);
	else
		*out = gens;
	return rc;
}

/* ---- CA --------------------------------------------------------------------------------------- */

static int create_impl(const char *cn, int days, char **cert_pem, char **key_pem)
{
	if (!cert_pem || !key_pem || !cn_ok(cn) || days < 1)
		return -EINVAL;
	if (days > CA_MAX_DAYS)
		return -E2BIG;
	*cert_pem = *key_pem = NULL;
	EVP_PKEY *k = new_p256();
	X509 *x = k ? X509_new() : NULL;
	int r = -ENOMEM;
	if (!x)
		goto out;
	time_t now = time(NULL);
	if (!X509_set_version(x, X509_VERSION_3) ||
	    (r = random_serial(X509_get_serialNumber(x))) < 0)
		goto out;
	r = -ENOMEM;
	if (!ASN1_TIME_adj(X509_getm_notBefore(x), now, 0, -X509_BACKDATE_SEC) ||
	    !ASN1_TIME_adj(X509_getm_notAfter(x), now, days, 0) || !X509_set_pubkey(x, k) ||
	    set_name(X509_get_subject_name(x), cn) < 0 ||
	    !X509_set_issuer_name(x, X509_get_subject_name(x)))
		goto out;
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((r = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0")) < 0 ||
	    (r = add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign")) < 0 ||
	    (r = add_ext(x, &ctx, NID_subject_key_identifier, "hash")) < 0)
		goto out;
	r = -EIO;
	if (X509_sign(x, k, EVP_sha256()) <= 0)
		goto out;
	if ((r = cert_to_pem(x, cert_pem)) < 0 || (r = key_to_pem(k, key_pem)) < 0)
		goto out;
	r = 0;
out:
	if (r < 0) {
		free(*cert_pem);
		ca_free_secret_pem(*key_pem);
		*cert_pem = *key_pem = NULL;
	}
	X509_free(x);
	EVP_PKEY_free(k);
	return r;
}

int ca_create(const char *cn, int days, char **cert_pem, char **key_pem)
{
	return finish(create_impl(cn, days, cert_pem, key_pem));
}

void ca_free_secret_pem(char *pem)
{
	if (pem) {
		OPENSSL_cleanse(pem, strlen(pem));
		free(pem);
	}
}

struct ca_signer *ca_signer_new(const char *cert_pem, const char *key_pem, int *err)
{
	int r;
	struct ca_signer *ca = calloc(1, sizeof(*ca));
	if (!ca) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = parse_cert(cert_pem, cert_pem ? strnlen(cert_pem, CA_PEM_MAX_BYTES + 1) : 0,
			    &ca->cert)) < 0 ||
	    (r = parse_key(key_pem, &ca->key)) < 0)
		goto fail;
	r = -EINVAL;
	if (X509_check_ca(ca->cert) != 1 || EVP_PKEY_eq(X509_get0_pubkey(ca->cert), ca->key) != 1)
		goto fail;
	if (err)
		*err = 0;
	ERR_clear_error();
	return ca;
fail:
	if (err)
		*err = r;
	ca_signer_free(ca);
	ERR_clear_error();
	return NULL;
}

void ca_signer_free(struct ca_signer *ca)
{
	if (!ca)
		return;
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key); /* OpenSSL clears EC private key material on free */
	free(ca);
}

/* ---- leaf ------------------------------------------------------------------------------------- */

/* Loads key_pem (a P-256 key) or makes a new one. */
static int leaf_key(const char *key_pem, EVP_PKEY **k)
{
	if (!key_pem)
		return (*k = new_p256()) ? 0 : -ENOMEM;
	int r = parse_key(key_pem, k);
	if (r == 0 && !is_p256(*k)) {
		EVP_PKEY_free(*k);
		*k = NULL;
		r = -EINVAL;
	}
	return r;
}

/* Builds, signs and exports a leaf for key k with subject CN cn and the names gens (NULL: no
 * subjectAltName). with_key: out->key_pem gets k's PEM. */
static int leaf_build(const struct ca_signer *ca, EVP_PKEY *k, const char *cn, GENERAL_NAMES *gens,
		      enum ca_usage usage, int days, bool with_key, struct ca_issued *out)
{
	X509 *x = X509_new();
	int r = -ENOMEM;
	if (!x)
		goto out;
	time_t now = time(NULL);
	if (!X509_set_version(x, X509_VERSION_3) ||
	    (r = random_serial(X509_get_serialNumber(x))) < 0)
		goto out;
	r = -ENOMEM;
	if (!ASN1_TIME_adj(X509_getm_notBefore(x), now, 0, -X509_BACKDATE_SEC) ||
	    !ASN1_TIME_adj(X509_getm_notAfter(x), now, days, 0))
		goto out;
	/* Never valid past its issuer: a chain check would refuse it then anyway. */
	if (ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(ca->cert)) > 0 &&
	    !X509_set1_notAfter(x, X509_get0_notAfter(ca->cert)))
		goto out;
	if (!X509_set_pubkey(x, k) || set_name(X509_get_subject_name(x), cn) < 0 ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca->cert)))
		goto out;
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, ca->cert, x, NULL, NULL, 0);
	if ((r = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE")) < 0 ||
	    (r = add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature")) < 0 ||
	    (r = add_ext(x, &ctx, NID_ext_key_usage,
			 usage == CA_USAGE_SERVER ? "serverAuth" : "clientAuth")) < 0 ||
	    (r = add_ext(x, &ctx, NID_subject_key_identifier, "hash")) < 0 ||
	    (r = add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always")) < 0)
		goto out;
	if (gens && X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1) {
		r = -EIO;
		goto out;
	}
	r = -EIO;
	if (X509_sign(x, ca->key, EVP_sha256()) <= 0)
		goto out;
	memset(out, 0, sizeof(*out));
	if ((r = serial_hex(X509_get0_serialNumber(x), out->serial)) < 0 ||
	    (r = asn1_time_unix(X509_get0_notBefore(x), &out->not_before)) < 0 ||
	    (r = asn1_time_unix(X509_get0_notAfter(x), &out->not_after)) < 0 ||
	    (r = cert_to_pem(x, &out->cert_pem)) < 0 ||
	    (with_key && (r = key_to_pem(k, &out->key_pem)) < 0))
		goto out;
	r = 0;
out:
	if (r < 0)
		ca_issued_done(out);
	X509_free(x);
	return r;
}

static int issue_impl(const struct ca_signer *ca, const struct ca_leaf_req *req,
		      const char *key_pem, struct ca_issued *out)
{
	if (!ca || !req || !out || !cn_ok(req->cn) || req->days < 1 ||
	    (req->usage != CA_USAGE_SERVER && req->usage != CA_USAGE_CLIENT))
		return -EINVAL;
	if (req->days > CA_MAX_DAYS)
		return -E2BIG;
	int r = check_sans(req);
	if (r < 0)
		return r;
	EVP_PKEY *k = NULL;
	GENERAL_NAMES *gens = NULL;
	if ((r = leaf_key(key_pem, &k)) == 0 && (r = build_sans(req, &gens)) == 0)
		r = leaf_build(ca, k, req->cn, gens, req->usage, req->days, !key_pem, out);
	GENERAL_NAMES_free(gens);
	EVP_PKEY_free(k);
	return r;
}

int ca_issue(const struct ca_signer *ca, const struct ca_leaf_req *req, const char *key_pem,
	     struct ca_issued *out)
{
	if (out)
		memset(out, 0, sizeof(*out));
	return finish(issue_impl(ca, req, key_pem, out));
}

void ca_issued_done(struct ca_issued *out)
{
	if (!out)
		return;
	free(out->cert_pem);
	ca_free_secret_pem(out->key_pem);
	memset(out, 0, sizeof(*out));
}

static int renew_impl(const struct ca_signer *ca, const char *old_pem, size_t old_len, int days,
		      const char *key_pem, struct ca_issued *out)
{
	if (!ca || !out || days < 1)
		return -EINVAL;
	if (days > CA_MAX_DAYS)
		return -E2BIG;
	X509 *old = NULL;
	EVP_PKEY *k = NULL;
	GENERAL_NAMES *gens = NULL;
	int r = parse_cert(old_pem, old_len, &old);
	if (r < 0)
		return r;
	char cn[CA_CN_MAX_BYTES + 1] = "";
	r = -EINVAL;
	/* Only what this CA issued: its name, its signature, a leaf. */
	if (X509_NAME_cmp(X509_get_issuer_name(old), X509_get_subject_name(ca->cert)) != 0 ||
	    X509_verify(old, ca->key) != 1 || X509_check_ca(old) != 0 ||
	    X509_NAME_get_text_by_NID(X509_get_subject_name(old), NID_commonName, cn, sizeof(cn)) <=
		    0 ||
	    !cn_ok(cn))
		goto out;
	uint32_t xku = X509_get_extended_key_usage(old);
	enum ca_usage usage = (xku & XKU_SSL_SERVER) ? CA_USAGE_SERVER : CA_USAGE_CLIENT;
	int crit = 0;
	gens = X509_get_ext_d2i(old, NID_subject_alt_name, &crit, NULL);
	if ((r = leaf_key(key_pem, &k)) == 0)
		r = leaf_build(ca, k, cn, gens, usage, days, !key_pem, out);
out:
	GENERAL_NAMES_free(gens);
	EVP_PKEY_free(k);
	X509_free(old);
	return r;
}

int ca_renew(const struct ca_signer *ca, const char *old_cert_pem, size_t old_len, int days,
	     const char *key_pem, struct ca_issued *out)
{
	if (out)
		memset(out, 0, sizeof(*out));
	return finish(renew_impl(ca, old_cert_pem, old_len, days, key_pem, out));
}

static int verify_sig_impl(const char *pem, size_t len, const char *ca_pem, size_t ca_len)
{
	X509 *x = NULL, *c = NULL;
	int r = parse_cert(pem, len, &x);
	if (r == 0 && (r = parse_cert(ca_pem, ca_len, &c)) == 0)
		r = X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(c)) == 0 &&
				    X509_verify(x, X509_get0_pubkey(c)) == 1
			    ? 0
			    : -EACCES;
	X509_free(x);
	X509_free(c);
	return r;
}

int ca_cert_verify_sig(const char *pem, size_t len, const char *ca_cert_pem, size_t ca_len)
{
	return finish(verify_sig_impl(pem, len, ca_cert_pem, ca_len));
}

/* ---- CRL -------------------------------------------------------------------------------------- */

static int add_revoked(X509_CRL *crl, const struct ca_revoked *e)
{
	ASN1_INTEGER *serial = NULL;
	int r = serial_parse(e->serial, &serial);
	if (r < 0)
		return r;
	X509_REVOKED *rev = X509_REVOKED_new();
	ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)e->revoked_at);
	r = -ENOMEM;
	if (rev && t && X509_REVOKED_set_serialNumber(rev, serial) &&
	    X509_REVOKED_set_revocationDate(rev, t) && X509_CRL_add0_revoked(crl, rev)) {
		rev = NULL; /* owned by the CRL now */
		r = 0;
	}
	X509_REVOKED_free(rev);
	ASN1_TIME_free(t);
	ASN1_INTEGER_free(serial);
	return r;
}

static int crl_impl(const struct ca_signer *ca, const struct ca_revoked *rv, size_t n,
		    uint64_t crl_number, int64_t this_update, int64_t next_update_s, char **crl_pem)
{
	if (!ca || !crl_pem || (n && !rv) || next_update_s <= 0 || this_update < 0 ||
	    next_update_s > (int64_t)CA_MAX_DAYS * 86400)
		return -EINVAL;
	if (n > CA_CRL_MAX_ENTRIES)
		return -E2BIG;
	*crl_pem = NULL;
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *last = ASN1_TIME_set(NULL, (time_t)this_update);
	ASN1_TIME *next = ASN1_TIME_set(NULL, (time_t)(this_update + next_update_s));
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	BIO *b = NULL;
	int r = -ENOMEM;
	if (!crl || !last || !next || !num || !ASN1_INTEGER_set_uint64(num, crl_number) ||
	    !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert)) ||
	    !X509_CRL_set1_lastUpdate(crl, last) || !X509_CRL_set1_nextUpdate(crl, next))
		goto out;
	for (size_t i = 0; i < n; i++)
		if ((r = add_revoked(crl, &rv[i])) < 0)
			goto out;
	r = -ENOMEM;
	if (X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, X509V3_ADD_DEFAULT) != 1)
		goto out;
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, ca->cert, NULL, NULL, crl, 0);
	X509_EXTENSION *aki =
		X509V3_EXT_nconf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
	if (!aki) {
		r = -EIO;
		goto out;
	}
	int ok = X509_CRL_add_ext(crl, aki, -1);
	X509_EXTENSION_free(aki);
	if (!ok || !X509_CRL_sort(crl))
		goto out;
	r = -EIO;
	if (X509_CRL_sign(crl, ca->key, EVP_sha256()) <= 0)
		goto out;
	r = -ENOMEM;
	if (!(b = BIO_new(BIO_s_mem())) || PEM_write_bio_X509_CRL(b, crl) != 1 ||
	    !(*crl_pem = bio_string(b)))
		goto out;
	r = 0;
out:
	BIO_free(b);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	X509_CRL_free(crl);
	return r;
}

int ca_crl_build(const struct ca_signer *ca, const struct ca_revoked *rv, size_t n,
		 uint64_t crl_number, int64_t this_update, int64_t next_update_s, char **crl_pem)
{
	return finish(crl_impl(ca, rv, n, crl_number, this_update, next_update_s, crl_pem));
}

/* ---- facts ------------------------------------------------------------------------------------ */

static int cert_facts_impl(const char *pem, size_t len, struct ca_cert_facts *f)
{
	if (!f)
		return -EINVAL;
	memset(f, 0, sizeof(*f));
	X509 *x = NULL;
	int r = parse_cert(pem, len, &x);
	if (r < 0)
		return r;
	if ((r = serial_hex(X509_get0_serialNumber(x), f->serial)) == 0 &&
	    (r = asn1_time_unix(X509_get0_notBefore(x), &f->not_before)) == 0)
		r = asn1_time_unix(X509_get0_notAfter(x), &f->not_after);
	f->is_ca = X509_check_ca(x) == 1;
	X509_free(x);
	return r;
}

int ca_cert_facts(const char *pem, size_t len, struct ca_cert_facts *f)
{
	return finish(cert_facts_impl(pem, len, f));
}

static int crl_facts_impl(const char *pem, size_t len, struct ca_crl_facts *f)
{
	if (!f)
		return -EINVAL;
	memset(f, 0, sizeof(*f));
	X509_CRL *crl = NULL;
	int r = parse_crl(pem, len, &crl);
	if (r < 0)
		return r;
	if ((r = asn1_time_unix(X509_CRL_get0_lastUpdate(crl), &f->last_update)) < 0)
		goto out;
	if (X509_CRL_get0_nextUpdate(crl) &&
	    (r = asn1_time_unix(X509_CRL_get0_nextUpdate(crl), &f->next_update)) < 0)
		goto out;
	int crit = 0;
	ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
	if (num) {
		uint64_t v = 0;
		r = ASN1_INTEGER_get_uint64(&v, num) == 1 ? 0 : -EINVAL;
		ASN1_INTEGER_free(num);
		if (r < 0)
			goto out;
		f->crl_number = v;
	}
	STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(crl);
	f->n_revoked = revs ? (size_t)sk_X509_REVOKED_num(revs) : 0;
out:
	X509_CRL_free(crl);
	return r;
}

int ca_crl_facts(const char *pem, size_t len, struct ca_crl_facts *f)
{
	return finish(crl_facts_impl(pem, len, f));
}

static int crl_verify_impl(const char *crl_pem, size_t crl_len, const char *ca_pem, size_t ca_len)
{
	X509_CRL *crl = NULL;
	X509 *x = NULL;
	int r = parse_crl(crl_pem, crl_len, &crl);
	if (r == 0 && (r = parse_cert(ca_pem, ca_len, &x)) == 0)
		r = X509_CRL_verify(crl, X509_get0_pubkey(x)) == 1 ? 0 : -EACCES;
	X509_CRL_free(crl);
	X509_free(x);
	return r;
}

int ca_crl_verify(const char *crl_pem, size_t crl_len, const char *ca_cert_pem, size_t ca_len)
{
	return finish(crl_verify_impl(crl_pem, crl_len, ca_cert_pem, ca_len));
}

static int crl_der_impl(const char *pem, size_t len, unsigned char **der, size_t *der_len)
{
	if (!der || !der_len)
		return -EINVAL;
	X509_CRL *crl = NULL;
	int r = parse_crl(pem, len, &crl);
	if (r < 0)
		return r;
	unsigned char *tmp = NULL;
	int n = i2d_X509_CRL(crl, &tmp);
	X509_CRL_free(crl);
	if (n <= 0)
		return -ENOMEM;
	*der = malloc((size_t)n);
	if (*der)
		memcpy(*der, tmp, (size_t)n);
	OPENSSL_free(tmp);
	if (!*der)
		return -ENOMEM;
	*der_len = (size_t)n;
	return 0;
}

int ca_crl_der(const char *pem, size_t len, unsigned char **der, size_t *der_len)
{
	return finish(crl_der_impl(pem, len, der, der_len));
}

static int pin_impl(const char *pem, size_t len, char out[CA_PIN_BUF])
{
	X509 *x = NULL;
	int r = parse_cert(pem, len, &x);
	if (r < 0)
		return r;
	unsigned char *spki = NULL;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
	X509_free(x);
	if (n <= 0)
		return -EINVAL;
	unsigned char md[32];
	unsigned int mdlen = 0;
	int ok = EVP_Digest(spki, (size_t)n, md, &mdlen, EVP_sha256(), NULL);
	OPENSSL_free(spki);
	if (!ok || mdlen != sizeof(md))
		return -EIO;
	static const char prefix[] = "sha256//";
	memcpy(out, prefix, sizeof(prefix) - 1);
	/* 32 bytes -> 44 base64 chars + NUL: fits after the 8-byte prefix in CA_PIN_BUF. */
	EVP_EncodeBlock((unsigned char *)out + sizeof(prefix) - 1, md, (int)sizeof(md));
	return 0;
}

int ca_cert_pin(const char *pem, size_t len, char out[CA_PIN_BUF])
{
	if (!out)
		return -EINVAL;
	out[0] = '\0';
	return finish(pin_impl(pem, len, out));
}
