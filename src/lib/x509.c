/*
 * x509.c - X.509 helpers on OpenSSL 3 (see x509.h).
 *
 * Certificate generation builds every extension from fixed strings except the SANs, which are
 * built as GENERAL_NAME objects: a host string never passes through OpenSSL's config syntax,
 * so "a,IP:1.2.3.4" cannot smuggle in a second name (system-api's generator formats names into
 * a template). Files are read whole with fsx_read_file (size-capped) and parsed from memory;
 * key file bytes are wiped after parsing. Verification keeps one X509_STORE per verifier and
 * builds a fresh X509_STORE_CTX per call; OpenSSL locks the store internally for lookups, so
 * concurrent checks are safe.
 *
 * OpenSSL keeps a per-thread error queue that other users in the same thread (libcurl, the TLS
 * server) read. Every public function here clears it before returning an error, so a failure
 * of ours is never misreported as theirs.
 */
#include "x509.h"

#include "fsx.h"
#include "util.h"

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
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#define X509_SERIAL_BYTES 16 /* 128 bits with the top one cleared: positive, 127 random bits */
#define X509_DEFAULT_CN "cloister-agent"

struct x509_verifier {
	X509_STORE *store;
	unsigned flags;                         /* X509_VERIFY_* */
	char require_cn[X509_CN_MAX_BYTES + 1]; /* "" = any */
};

/* ---- small helpers ------------------------------------------------------------------------ */

static void set_str(char *buf, size_t len, const char *s)
{
	if (buf && len > 0)
		snprintf(buf, len, "%s", s);
}

/* "CA file /etc/x.pem: No such file or directory" */
static void set_file_err(char *buf, size_t len, const char *what, const char *path, int r)
{
	const char *reason = r == -E2BIG ? "file too large" : strerror(-r);
	if (buf && len > 0)
		snprintf(buf, len, "%s %s: %s", what, path ? path : "(null)", reason);
}

static void set_parse_err(char *buf, size_t len, const char *what, const char *path,
			  const char *reason)
{
	if (buf && len > 0)
		snprintf(buf, len, "%s %s: %s", what, path ? path : "(null)", reason);
}

/* Never prompt on a terminal for a passphrase: encrypted PEM is simply refused. */
static int no_password_cb(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static int read_file_capped(const char *path, char **out, size_t *outlen)
{
	if (!path)
		return -EINVAL;
	return fsx_read_file(path, X509_MAX_FILE_BYTES, out, outlen);
}

static void free_wiped(char *buf, size_t len)
{
	if (buf) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
}

static int load_first_cert(const char *path, X509 **out)
{
	char *pem = NULL;
	size_t len = 0;
	int r = read_file_capped(path, &pem, &len);
	if (r < 0)
		return r;
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio) {
		free(pem);
		return -ENOMEM;
	}
	X509 *x = PEM_read_bio_X509(bio, NULL, no_password_cb, NULL);
	BIO_free(bio);
	free(pem);
	if (!x)
		return -EINVAL;
	*out = x;
	return 0;
}

/* A copy of a memory BIO's contents as a NUL-terminated malloc'd string. */
static char *bio_to_string(BIO *bio)
{
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);
	if (n <= 0 || !data)
		return NULL;
	char *s = malloc((size_t)n + 1);
	if (!s)
		return NULL;
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	return s;
}

static int asn1_time_to_unix(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return -EINVAL;
	*out = (int64_t)timegm(&tm);
	return 0;
}

/* ---- self-signed certificate ------------------------------------------------------------- */

static bool dns_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '*';
}

/* IP address bytes of host (4 or 16) or 0 when it is not an address. */
static size_t parse_ip(const char *host, unsigned char ip[16])
{
	if (inet_pton(AF_INET, host, ip) == 1)
		return 4;
	if (inet_pton(AF_INET6, host, ip) == 1)
		return 16;
	return 0;
}

static int check_hosts(const char *const *hosts, size_t nhosts)
{
	if (nhosts > X509_MAX_HOSTS)
		return -E2BIG;
	if (nhosts > 0 && !hosts)
		return -EINVAL;
	for (size_t i = 0; i < nhosts; i++) {
		const char *h = hosts[i];
		if (!h)
			return -EINVAL;
		size_t len = strnlen(h, X509_MAX_HOST_BYTES + 1);
		if (len > X509_MAX_HOST_BYTES)
			return -E2BIG;
		unsigned char ip[16];
		if (len == 0 || parse_ip(h, ip) > 0)
			continue;
		for (size_t k = 0; k < len; k++)
			if (!dns_char_ok(h[k]))
				return -EINVAL;
	}
	return 0;
}

static int add_sans(X509 *x, const char *const *hosts, size_t nhosts)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	if (!gens)
		return -ENOMEM;
	int r = -ENOMEM;
	for (size_t i = 0; i < nhosts; i++) {
		const char *h = hosts[i];
		if (!*h)
			continue;
		GENERAL_NAME *g = GENERAL_NAME_new();
		if (!g)
			goto out;
		unsigned char ip[16];
		size_t iplen = parse_ip(h, ip);
		ASN1_STRING *s = iplen ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
		if (!s || (iplen ? !ASN1_OCTET_STRING_set(s, ip, (int)iplen)
				 : !ASN1_STRING_set(s, h, (int)strlen(h)))) {
			ASN1_STRING_free(s);
			GENERAL_NAME_free(g);
			goto out;
		}
		GENERAL_NAME_set0_value(g, iplen ? GEN_IPADD : GEN_DNS, s);
		if (!sk_GENERAL_NAME_push(gens, g)) {
			GENERAL_NAME_free(g);
			goto out;
		}
	}
	r = 0;
	if (sk_GENERAL_NAME_num(gens) > 0 &&
	    X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1)
		r = -EIO;
out:
	GENERAL_NAMES_free(gens);
	return r;
}

/* Extensions from fixed strings only (see the file comment). */
static int add_fixed_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	if (!ext)
		return -EIO;
	int ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -ENOMEM;
}

static int set_random_serial(X509 *x)
{
	unsigned char b[X509_SERIAL_BYTES];
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
	int ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : -ENOMEM;
}

static const char *pick_cn(const char *const *hosts, size_t nhosts)
{
	for (size_t i = 0; i < nhosts; i++)
		if (hosts[i][0])
			return strlen(hosts[i]) <= X509_CN_MAX_BYTES ? hosts[i] : X509_DEFAULT_CN;
	return X509_DEFAULT_CN;
}

static int build_cert(EVP_PKEY *pkey, const char *const *hosts, size_t nhosts, int days, X509 **out)
{
	X509 *x = X509_new();
	if (!x)
		return -ENOMEM;
	int r = -ENOMEM;
	time_t now = time(NULL);
	if (!X509_set_version(x, X509_VERSION_3) || (r = set_random_serial(x)) < 0)
		goto fail;
	r = -ENOMEM;
	if (!ASN1_TIME_adj(X509_getm_notBefore(x), now, 0, -X509_BACKDATE_SEC) ||
	    !ASN1_TIME_adj(X509_getm_notAfter(x), now, days, 0) || !X509_set_pubkey(x, pkey))
		goto fail;

	X509_NAME *name = X509_get_subject_name(x);
	const char *cn = pick_cn(hosts, nhosts);
	if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Cloister",
					-1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
					0) ||
	    !X509_set_issuer_name(x, name))
		goto fail;

	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((r = add_fixed_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE")) < 0 ||
	    (r = add_fixed_ext(x, &ctx, NID_key_usage, "critical,digitalSignature")) < 0 ||
	    (r = add_fixed_ext(x, &ctx, NID_ext_key_usage, "serverAuth")) < 0 ||
	    (r = add_fixed_ext(x, &ctx, NID_subject_key_identifier, "hash")) < 0 ||
	    (r = add_sans(x, hosts, nhosts)) < 0)
		goto fail;
	if (X509_sign(x, pkey, EVP_sha256()) <= 0) {
		r = -EIO;
		goto fail;
	}
	*out = x;
	return 0;
fail:
	X509_free(x);
	return r;
}

static int selfsigned_impl(const char *const *hosts, size_t nhosts, int days, char **cert_pem,
			   char **key_pem)
{
	if (!cert_pem || !key_pem || days < 1)
		return -EINVAL;
	if (days > X509_MAX_DAYS)
		return -E2BIG;
	int r = check_hosts(hosts, nhosts);
	if (r < 0)
		return r;

	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	if (!pkey)
		return -EIO;
	X509 *x = NULL;
	BIO *cb = NULL, *kb = NULL;
	char *cert = NULL, *key = NULL;
	if ((r = build_cert(pkey, hosts, nhosts, days, &x)) < 0)
		goto out;
	r = -ENOMEM;
	/* The key only ever sits in secure-heap BIO memory (wiped on free) and our copy. */
	cb = BIO_new(BIO_s_mem());
	kb = BIO_new(BIO_s_secmem());
	if (!cb || !kb || PEM_write_bio_X509(cb, x) != 1 ||
	    PEM_write_bio_PrivateKey(kb, pkey, NULL, NULL, 0, NULL, NULL) != 1)
		goto out;
	cert = bio_to_string(cb);
	key = bio_to_string(kb);
	if (!cert || !key)
		goto out;
	*cert_pem = TAKE_PTR(cert);
	*key_pem = TAKE_PTR(key);
	r = 0;
out:
	free(cert);
	x509_free_secret_pem(key);
	BIO_free(cb);
	BIO_free(kb);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return r;
}

int x509_selfsigned(const char *const *hosts, size_t nhosts, int days, char **cert_pem,
		    char **key_pem)
{
	int r = selfsigned_impl(hosts, nhosts, days, cert_pem, key_pem);
	if (r < 0)
		ERR_clear_error();
	return r;
}

void x509_free_secret_pem(char *pem)
{
	if (pem)
		free_wiped(pem, strlen(pem));
}

int x509_selfsigned_write(const char *cert_path, const char *key_path, const char *const *hosts,
			  size_t nhosts, int days)
{
	if (!cert_path || !key_path)
		return -EINVAL;
	char *cert = NULL, *key = NULL;
	int r = x509_selfsigned(hosts, nhosts, days, &cert, &key);
	if (r < 0)
		return r;
	/* Key first: a cert on disk always has its key beside it. */
	r = fsx_write_atomic(key_path, key, strlen(key), 0600);
	if (r >= 0)
		r = fsx_write_atomic(cert_path, cert, strlen(cert), 0600);
	x509_free_secret_pem(key);
	free(cert);
	return r < 0 ? r : 0;
}

/* ---- facts about files ------------------------------------------------------------------- */

static int cert_info_impl(const char *path, struct x509_info *info)
{
	if (!info)
		return -EINVAL;
	X509 *x = NULL;
	int r = load_first_cert(path, &x);
	if (r < 0)
		return r;
	struct x509_info in = { 0 };
	r = asn1_time_to_unix(X509_get0_notBefore(x), &in.not_before);
	if (r == 0)
		r = asn1_time_to_unix(X509_get0_notAfter(x), &in.not_after);
	if (r == 0) {
		EVP_PKEY *pub = X509_get0_pubkey(x);
		/* X509_check_issued would also demand keyCertSign, which a leaf lacks. */
		in.self_signed =
			X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(x)) == 0 &&
			pub && X509_verify(x, pub) == 1;
		*info = in;
	}
	X509_free(x);
	return r;
}

int x509_cert_info_file(const char *cert_pem_path, struct x509_info *info)
{
	int r = cert_info_impl(cert_pem_path, info);
	ERR_clear_error(); /* X509_verify of a non-self-signed cert leaves errors behind */
	return r;
}

static int key_matches_impl(const char *cert_path, const char *key_path)
{
	X509 *x = NULL;
	int r = load_first_cert(cert_path, &x);
	if (r < 0)
		return r;
	char *pem = NULL;
	size_t len = 0;
	r = read_file_capped(key_path, &pem, &len);
	if (r < 0) {
		X509_free(x);
		return r;
	}
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_password_cb, NULL) : NULL;
	bool no_bio = !bio;
	BIO_free(bio);
	free_wiped(pem, len);
	if (!pkey)
		r = no_bio ? -ENOMEM : -EINVAL;
	else
		r = EVP_PKEY_eq(X509_get0_pubkey(x), pkey) == 1 ? 1 : 0;
	EVP_PKEY_free(pkey);
	X509_free(x);
	return r;
}

int x509_key_matches_cert(const char *cert_pem_path, const char *key_pem_path)
{
	int r = key_matches_impl(cert_pem_path, key_pem_path);
	ERR_clear_error(); /* EVP_PKEY_eq of different key types leaves errors behind */
	return r;
}

static int spki_impl(const char *path, unsigned char **der, size_t *len)
{
	if (!der || !len)
		return -EINVAL;
	X509 *x = NULL;
	int r = load_first_cert(path, &x);
	if (r < 0)
		return r;
	unsigned char *tmp = NULL;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &tmp);
	X509_free(x);
	if (n <= 0)
		return -EINVAL;
	/* Hand out plain malloc memory so the caller can free() it. */
	unsigned char *out = malloc((size_t)n);
	if (out)
		memcpy(out, tmp, (size_t)n);
	OPENSSL_free(tmp);
	if (!out)
		return -ENOMEM;
	*der = out;
	*len = (size_t)n;
	return 0;
}

int x509_spki_der_file(const char *cert_pem_path, unsigned char **der, size_t *len)
{
	int r = spki_impl(cert_pem_path, der, len);
	if (r < 0)
		ERR_clear_error();
	return r;
}

/* ---- client-certificate verification ----------------------------------------------------- */

/* True when the PEM reader stopped because there was nothing more to read, not on bad data. */
static bool pem_clean_eof(void)
{
	unsigned long e = ERR_peek_last_error();
	return ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
}

static int read_one_cert(X509_STORE *store, BIO *bio)
{
	X509 *x = PEM_read_bio_X509(bio, NULL, no_password_cb, NULL);
	if (!x)
		return 0;
	int ok = X509_STORE_add_cert(store, x);
	X509_free(x);
	return ok ? 1 : -ENOMEM;
}

static int read_one_crl(X509_STORE *store, BIO *bio)
{
	X509_CRL *crl = PEM_read_bio_X509_CRL(bio, NULL, no_password_cb, NULL);
	if (!crl)
		return 0;
	int ok = X509_STORE_add_crl(store, crl);
	X509_CRL_free(crl);
	return ok ? 1 : -ENOMEM;
}

/* Adds every PEM object of a file to the store; at least one is required, and anything after
 * the last one that looks like PEM but does not parse is an error, not silently dropped. */
static int load_pem_file(X509_STORE *store, const char *path, const char *what, const char *noun,
			 int (*read_one)(X509_STORE *, BIO *), char *err, size_t errlen)
{
	char *pem = NULL;
	size_t len = 0;
	int r = read_file_capped(path, &pem, &len);
	if (r < 0) {
		set_file_err(err, errlen, what, path, r);
		return r;
	}
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio) {
		free(pem);
		set_file_err(err, errlen, what, path, -ENOMEM);
		return -ENOMEM;
	}
	int count = 0;
	ERR_clear_error();
	while ((r = read_one(store, bio)) > 0)
		count++;
	if (r == 0 && (count == 0 || !pem_clean_eof()))
		r = -EINVAL;
	BIO_free(bio);
	free(pem);
	if (r == -EINVAL) {
		char reason[64];
		snprintf(reason, sizeof(reason), "%s %s", count ? "malformed" : "no", noun);
		set_parse_err(err, errlen, what, path, reason);
	} else if (r < 0) {
		set_file_err(err, errlen, what, path, r);
	}
	return r < 0 ? r : 0;
}

struct x509_verifier *x509_verifier_new(const char *ca_pem_path, const char *crl_pem_path,
					char *err, size_t errlen)
{
	set_str(err, errlen, "");
	struct x509_verifier *v = calloc(1, sizeof(*v));
	if (!v || !(v->store = X509_STORE_new())) {
		set_str(err, errlen, "out of memory");
		free(v);
		return NULL;
	}
	if (load_pem_file(v->store, ca_pem_path, "CA file", "certificate", read_one_cert, err,
			  errlen) < 0 ||
	    (crl_pem_path && load_pem_file(v->store, crl_pem_path, "CRL file", "CRL", read_one_crl,
					   err, errlen) < 0))
		goto fail;
	/* CRL_CHECK covers the leaf only; a leaf whose issuer has no CRL in the file is refused
	 * ("unable to get certificate CRL"): with revocation on, fail closed. */
	if (crl_pem_path && X509_STORE_set_flags(v->store, X509_V_FLAG_CRL_CHECK) != 1)
		goto fail_oom;
	if (X509_STORE_set_purpose(v->store, X509_PURPOSE_SSL_CLIENT) != 1 ||
	    X509_STORE_set_trust(v->store, X509_TRUST_SSL_CLIENT) != 1)
		goto fail_oom;
	ERR_clear_error();
	return v;
fail_oom:
	set_str(err, errlen, "out of memory");
fail:
	ERR_clear_error();
	x509_verifier_free(v);
	return NULL;
}

int x509_verifier_restrict(struct x509_verifier *v, unsigned flags, const char *require_cn)
{
	if (!v || (flags & ~X509_VERIFY_CLIENT_EKU))
		return -EINVAL;
	size_t n = require_cn ? strnlen(require_cn, X509_CN_MAX_BYTES + 1) : 0;
	if (n > X509_CN_MAX_BYTES)
		return -EINVAL;
	v->flags = flags;
	memcpy(v->require_cn, require_cn ? require_cn : "", n);
	v->require_cn[n] = '\0';
	return 0;
}

/* The restrictions of x509_verifier_restrict on a leaf whose chain already verified. */
static int check_leaf(const struct x509_verifier *v, X509 *leaf, char *why, size_t whylen)
{
	if ((v->flags & X509_VERIFY_CLIENT_EKU) &&
	    (!(X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE) ||
	     !(X509_get_extended_key_usage(leaf) & XKU_SSL_CLIENT))) {
		set_str(why, whylen, "certificate not for client authentication");
		return -EACCES;
	}
	if (v->require_cn[0]) {
		const X509_NAME *name = X509_get_subject_name(leaf);
		int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
		const ASN1_STRING *cn =
			i >= 0 ? X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)) : NULL;
		size_t want = strlen(v->require_cn);
		/* Exactly one CN, and its bytes equal: no prefix, no embedded NUL, no second CN. */
		if (!cn || X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0 ||
		    (size_t)ASN1_STRING_length(cn) != want ||
		    memcmp(ASN1_STRING_get0_data(cn), v->require_cn, want) != 0) {
			set_str(why, whylen,
				"client certificate subject CN is not the expected one");
			return -EACCES;
		}
	}
	return 0;
}

void x509_verifier_free(struct x509_verifier *v)
{
	if (!v)
		return;
	X509_STORE_free(v->store);
	free(v);
}

static int parse_chain(const unsigned char *const *der, const size_t *der_len, size_t n,
		       X509 **certs, char *why, size_t whylen)
{
	for (size_t i = 0; i < n; i++) {
		if (der_len[i] > X509_MAX_CERT_DER_BYTES) {
			set_str(why, whylen, "certificate too large");
			return -E2BIG;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const unsigned char *p = der[i];
		if (!p || der_len[i] == 0) {
			set_str(why, whylen, "malformed certificate");
			return -EINVAL;
		}
		certs[i] = d2i_X509(NULL, &p, (long)der_len[i]);
		/* Trailing bytes mean the blob is not one certificate: refuse, don't guess. */
		if (!certs[i] || p != der[i] + der_len[i]) {
			set_str(why, whylen, "malformed certificate");
			return -EINVAL;
		}
	}
	return 0;
}

static int verify_impl(const struct x509_verifier *v, const unsigned char *const *der,
		       const size_t *der_len, size_t n, int64_t now, char *why, size_t whylen)
{
	if (!v || (n > 0 && (!der || !der_len))) {
		set_str(why, whylen, "invalid argument");
		return -EINVAL;
	}
	if (n == 0) {
		set_str(why, whylen, "no peer certificate");
		return -EACCES;
	}
	if (n > X509_MAX_CHAIN) {
		set_str(why, whylen, "certificate chain too long");
		return -E2BIG;
	}
	X509 *certs[X509_MAX_CHAIN] = { 0 };
	STACK_OF(X509) *untrusted = NULL;
	X509_STORE_CTX *ctx = NULL;
	int r = parse_chain(der, der_len, n, certs, why, whylen);
	if (r < 0)
		goto out;
	r = -ENOMEM;
	untrusted = sk_X509_new_null();
	if (!untrusted)
		goto out;
	for (size_t i = 1; i < n; i++)
		if (!sk_X509_push(untrusted, certs[i]))
			goto out;
	ctx = X509_STORE_CTX_new();
	if (!ctx || X509_STORE_CTX_init(ctx, v->store, certs[0], untrusted) != 1)
		goto out;
	if (now != 0)
		X509_STORE_CTX_set_time(ctx, 0, (time_t)now);
	if (X509_verify_cert(ctx) == 1) {
		r = check_leaf(v, certs[0], why, whylen);
		goto out;
	}
	int e = X509_STORE_CTX_get_error(ctx);
	if (e == X509_V_ERR_OUT_OF_MEM)
		goto out;
	set_str(why, whylen, X509_verify_cert_error_string(e));
	r = -EACCES;
out:
	if (r == -ENOMEM)
		set_str(why, whylen, "out of memory");
	X509_STORE_CTX_free(ctx);
	sk_X509_free(untrusted); /* the certificates themselves are freed below */
	for (size_t i = 0; i < n && i < X509_MAX_CHAIN; i++)
		X509_free(certs[i]);
	return r;
}

int x509_verifier_check(const struct x509_verifier *v, const unsigned char *const *der,
			const size_t *der_len, size_t n, int64_t now, char *why, size_t whylen)
{
	if (why && whylen > 0)
		why[0] = '\0';
	int r = verify_impl(v, der, der_len, n, now, why, whylen);
	if (r < 0)
		ERR_clear_error();
	return r;
}

void x509_name_cn(const X509_NAME *n, char *buf, size_t len)
{
	snprintf(buf, len, "(no CN)");
	int i = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
	if (i < 0)
		return;
	const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i));
	unsigned char *u = NULL;
	int ul = ASN1_STRING_to_UTF8(&u, s);
	if (ul < 0) {
		ERR_clear_error();
		return;
	}
	size_t k = 0;
	for (int j = 0; j < ul && k + 1 < len; j++)
		buf[k++] = (u[j] >= 0x20 && u[j] < 0x7f) ? (char)u[j] : '?';
	buf[k] = '\0';
	OPENSSL_free(u);
}

void x509_subject_cn(const X509 *x, char *buf, size_t len)
{
	x509_name_cn(X509_get_subject_name(x), buf, len);
}

void x509_issuer_cn(const X509 *x, char *buf, size_t len)
{
	x509_name_cn(X509_get_issuer_name(x), buf, len);
}
