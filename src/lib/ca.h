/*
 * ca.h - the certificate-authority primitives of cloisterd's internal CA, on OpenSSL 3: create a
 * CA (key and self-signed certificate), issue leaf certificates for backends (serverAuth) and
 * for cloisterd itself (clientAuth), re-issue for an existing key, and build signed CRLs (v2).
 * Everything goes in and out as PEM text; nothing touches the disk (src/server/ca.c
 * keeps the files).
 *
 * Profile (RFC 5280): every key is ECDSA P-256 and every signature ECDSA with SHA-256.
 *  - CA: subject O=Cloister, CN=<cn>; basicConstraints critical CA:TRUE, pathlen 0; keyUsage
 *    critical keyCertSign, cRLSign; subjectKeyIdentifier.
 *  - leaf: subject O=Cloister, CN=<cn>; random positive 128-bit serial (top bit clear, never 0);
 *    notBefore now - X509_BACKDATE_SEC, notAfter now + days, never past the CA's notAfter;
 *    basicConstraints critical CA:FALSE; keyUsage critical digitalSignature; extendedKeyUsage
 *    serverAuth or clientAuth (exactly one); subjectAltName from the IP addresses (parsed with
 *    inet_pton, stored as 4 or 16 bytes) and DNS names given (built as GENERAL_NAMEs, never
 *    through OpenSSL's config syntax); subjectKeyIdentifier; authorityKeyIdentifier (keyid).
 *  - CRL: v2, issuer = the CA's subject, lastUpdate, nextUpdate, crlNumber, AKI, entries sorted
 *    by serial, each with its revocation date.
 *
 * Serials are lower-case hex without leading zeros (CA_SERIAL_HEX_MAX chars at most).
 *
 * Used by src/server/ca.c and api_certs.c (cloisterd) and the tests. Ownership: PEM strings
 * returned are malloc'd and the caller's; private-key PEM must be released with
 * ca_free_secret_pem (wipes it). A struct ca_signer owns its copy of the CA key and wipes it
 * when freed. Thread safety: every function is reentrant; a ca_signer is immutable after
 * ca_signer_new and may sign on many threads at once.
 *
 * Errors: 0 on success; -EINVAL malformed input (bad PEM, a key that is not the certificate's,
 * a certificate that is not a CA, a bad IP address or DNS name, a bad serial); -E2BIG over a
 * limit below; -ENOMEM; -EIO an OpenSSL failure that is not the input's fault.
 */
#ifndef CLOISTER_CA_H
#define CLOISTER_CA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CA_PEM_MAX_BYTES (64u * 1024)    /* one certificate, key or CRL handed in as PEM */
#define CA_CRL_PEM_MAX_BYTES (16u << 20) /* a CRL read back (100k entries fit) */
#define CA_MAX_DAYS 3650                 /* validity of anything issued */
#define CA_CN_MAX_BYTES 64               /* ub-common-name (RFC 5280) */
#define CA_LEAF_MAX_SANS 32              /* IP addresses + DNS names per certificate */
#define CA_DNS_NAME_MAX_BYTES 253
#define CA_SERIAL_HEX_MAX 40      /* 20 octets, RFC 5280's ceiling */
#define CA_CRL_MAX_ENTRIES 100000 /* revoked certificates in one CRL */

enum ca_usage {
	CA_USAGE_SERVER = 1, /* extendedKeyUsage serverAuth: an agent's TLS certificate */
	CA_USAGE_CLIENT = 2, /* extendedKeyUsage clientAuth: cloisterd talking to agents */
};

/* Creates a CA: a new P-256 key and a self-signed CA certificate valid for days (1..CA_MAX_DAYS)
 * from now - X509_BACKDATE_SEC. cn: 1..CA_CN_MAX_BYTES printable ASCII. */
int ca_create(const char *cn, int days, char **cert_pem, char **key_pem);

/* Wipes and frees a private-key PEM. NULL is fine. */
void ca_free_secret_pem(char *pem);

/* A CA loaded for signing: its certificate must be a CA (basicConstraints CA:TRUE) and the key
 * its own. NULL on failure with *err (when non-NULL) set to a negative errno. */
struct ca_signer;
struct ca_signer *ca_signer_new(const char *cert_pem, const char *key_pem, int *err);
void ca_signer_free(struct ca_signer *ca);

struct ca_leaf_req {
	const char *cn;         /* 1..CA_CN_MAX_BYTES printable ASCII */
	const char *const *ips; /* IPv4 / IPv6 text, each must parse */
	size_t n_ips;
	const char *const *dns_names; /* [A-Za-z0-9.-], labels 1..63, no leading/trailing '.' */
	size_t n_dns;
	enum ca_usage usage;
	int days; /* 1..CA_MAX_DAYS */
};

struct ca_issued {
	char serial[CA_SERIAL_HEX_MAX + 1];
	int64_t not_before, not_after; /* Unix seconds */
	char *cert_pem;                /* malloc'd */
	char *key_pem;                 /* malloc'd, only when a new key was made (else NULL) */
};

/* Issues a leaf certificate. key_pem NULL: a new P-256 key is made and returned in out->key_pem;
 * else the certificate is issued for that (unencrypted, P-256) key, a re-issue. SANs: at most
 * CA_LEAF_MAX_SANS together (a server certificate needs at least one: -EINVAL without). On
 * failure out is zeroed. Release with ca_issued_done. */
int ca_issue(const struct ca_signer *ca, const struct ca_leaf_req *req, const char *key_pem,
	     struct ca_issued *out);
void ca_issued_done(struct ca_issued *out);

/* Renews a certificate this CA issued (old_cert_pem): the same subject CN, subjectAltName and
 * extended key usage, a new serial, validity days from now. key_pem as for ca_issue (NULL: a
 * new key). -EINVAL when old_cert_pem is not a leaf signed by this CA. */
int ca_renew(const struct ca_signer *ca, const char *old_cert_pem, size_t old_len, int days,
	     const char *key_pem, struct ca_issued *out);

/* 0 when the first certificate of pem names ca_cert_pem's subject as issuer and its signature
 * verifies with that key; -EACCES when not (validity and extensions are not checked here). */
int ca_cert_verify_sig(const char *pem, size_t len, const char *ca_cert_pem, size_t ca_len);

struct ca_revoked {
	const char *serial; /* hex, either case, 1..CA_SERIAL_HEX_MAX chars */
	int64_t revoked_at; /* Unix seconds */
};

/* Builds and signs a CRL listing n entries (n <= CA_CRL_MAX_ENTRIES; rv may be NULL when 0):
 * lastUpdate = this_update, nextUpdate = this_update + next_update_s (> 0), crlNumber =
 * crl_number. *crl_pem is malloc'd. */
int ca_crl_build(const struct ca_signer *ca, const struct ca_revoked *rv, size_t n,
		 uint64_t crl_number, int64_t this_update, int64_t next_update_s, char **crl_pem);

struct ca_cert_facts {
	char serial[CA_SERIAL_HEX_MAX + 1];
	int64_t not_before, not_after; /* Unix seconds */
	bool is_ca;
};
/* Facts about the first certificate of a PEM text (len bytes, at most CA_PEM_MAX_BYTES). */
int ca_cert_facts(const char *pem, size_t len, struct ca_cert_facts *f);

struct ca_crl_facts {
	uint64_t crl_number;              /* 0 when the CRL has none */
	int64_t last_update, next_update; /* Unix seconds; next_update 0 when absent */
	size_t n_revoked;
};
/* Facts about a PEM CRL (len bytes, at most CA_CRL_PEM_MAX_BYTES); does not check the
 * signature (ca_crl_verify does). */
int ca_crl_facts(const char *pem, size_t len, struct ca_crl_facts *f);
/* 0 when the CRL's signature verifies with the CA certificate's key, -EACCES when not. */
int ca_crl_verify(const char *crl_pem, size_t crl_len, const char *ca_cert_pem, size_t ca_len);
/* The DER encoding of a PEM CRL; *der malloc'd (caller frees). */
int ca_crl_der(const char *pem, size_t len, unsigned char **der, size_t *der_len);

/* "sha256//<base64>" of the SubjectPublicKeyInfo of the first certificate in a PEM text (the
 * form of libcurl's CURLOPT_PINNEDPUBLICKEY); out holds CA_PIN_BUF bytes. */
#define CA_PIN_BUF 64
int ca_cert_pin(const char *pem, size_t len, char out[CA_PIN_BUF]);

#endif
