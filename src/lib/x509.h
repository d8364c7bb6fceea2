/*
 * x509.h - X.509 helpers on OpenSSL 3: the agent's self-signed TLS certificate, certificate
 * facts (validity, self-signature, key match, SubjectPublicKeyInfo for attestation binding)
 * and client-certificate chain verification for mutual TLS.
 *
 * Users: cloister-agent (generates its key and certificate inside the VM, binds the SPKI into
 * its evidence, verifies cloisterd's client certificate), cloisterd (checks its own files,
 * pins agent keys).
 *
 * Ownership: PEM strings and DER buffers returned here are malloc'd and owned by the caller;
 * private-key PEM must be released with x509_free_secret_pem, which wipes it.
 *
 * Thread safety: every function is reentrant. A struct x509_verifier is immutable after
 * x509_verifier_new and may be used by many threads at once.
 *
 * Limits: X509_MAX_HOSTS names per certificate, each at most X509_MAX_HOST_BYTES; validity at
 * most X509_MAX_DAYS; files read here at most X509_MAX_FILE_BYTES; a peer chain at most
 * X509_MAX_CHAIN certificates of at most X509_MAX_CERT_DER_BYTES each.
 */
#ifndef CLOISTER_X509_H
#define CLOISTER_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define X509_MAX_HOSTS 32
#define X509_MAX_HOST_BYTES 253 /* longest DNS name */
#define X509_MAX_DAYS 3650
#define X509_MAX_FILE_BYTES (1024 * 1024)
#define X509_MAX_CHAIN 8
#define X509_MAX_CERT_DER_BYTES (64 * 1024)
/* Seconds notBefore is set in the past, so peers with a slightly slow clock accept it. */
#define X509_BACKDATE_SEC 300

/* ECDSA P-256 key and a self-signed server certificate signed with SHA-256: subject
 * O=Cloister, CN = the first non-empty host (or "cloister-agent"; also when that host is longer
 * than the 64 bytes a CN may hold); one SAN per non-empty host, an IP SAN when it parses as
 * IPv4 or IPv6, else a DNS SAN (no SAN extension when there is no host); random 127-bit positive
 * serial; notBefore = now - X509_BACKDATE_SEC, notAfter = now + days; basicConstraints CA:FALSE
 * and keyUsage digitalSignature (both critical); extKeyUsage serverAuth; subjectKeyIdentifier.
 * hosts may be NULL when nhosts is 0; "" entries are skipped. A DNS name may hold only
 * [A-Za-z0-9.-_*] (no way to smuggle other SAN types or config syntax in).
 * On success *cert_pem (free) and *key_pem (PKCS#8 "PRIVATE KEY", x509_free_secret_pem) are
 * set. Returns 0, -EINVAL (days < 1, NULL entry, bad name), -E2BIG (too many hosts, a host
 * too long, days > X509_MAX_DAYS), -ENOMEM or -EIO (OpenSSL failure). */
int x509_selfsigned(const char *const *hosts, size_t nhosts, int days, char **cert_pem,
		    char **key_pem);

/* A certificate name's common name for messages: printable ASCII ('?' for anything else), cut
 * to len - 1 bytes, "(no CN)" when there is none. The arguments are OpenSSL's X509_NAME and
 * X509 (declared here without including OpenSSL). */
struct X509_name_st;
struct x509_st;
void x509_name_cn(const struct X509_name_st *n, char *buf, size_t len);
void x509_subject_cn(const struct x509_st *x, char *buf, size_t len);
void x509_issuer_cn(const struct x509_st *x, char *buf, size_t len);

/* Wipes and frees a private-key PEM string. NULL is fine. */
void x509_free_secret_pem(char *pem);

/* x509_selfsigned, then writes key_path first and cert_path second, each atomically with mode
 * 0600. Returns 0 or a negative errno from either step (a failed cert write may leave the new
 * key file in place, never a partial file). */
int x509_selfsigned_write(const char *cert_path, const char *key_path, const char *const *hosts,
			  size_t nhosts, int days);

struct x509_info {
	int64_t not_before; /* unix seconds */
	int64_t not_after;
	bool self_signed; /* issuer == subject and the signature verifies with its own key */
};

/* Facts about the first certificate of a PEM file. Returns 0, -errno from reading it (-ENOENT,
 * -EACCES, -EISDIR...), -E2BIG (file over X509_MAX_FILE_BYTES), -EINVAL (no certificate in it,
 * NULL argument). */
int x509_cert_info_file(const char *cert_pem_path, struct x509_info *info);

/* 1 when the (unencrypted) private key file's public key matches the certificate's, 0 when
 * not, negative errno as above (-EINVAL also for an unparsable or encrypted key). */
int x509_key_matches_cert(const char *cert_pem_path, const char *key_pem_path);

/* DER SubjectPublicKeyInfo of the first certificate in a PEM file, for attestation binding
 * (report_data = SHA-512(SPKI DER || nonce)). On success *der is malloc'd (caller frees) and
 * *len set. Errors as x509_cert_info_file, plus -ENOMEM. */
int x509_spki_der_file(const char *cert_pem_path, unsigned char **der, size_t *len);

/* Client-certificate verification for mTLS. The HTTP server only requests client certificates
 * and hands the peer chain here as DER blobs; the decision is made with an OpenSSL X509_STORE
 * holding every certificate of the CA file, plus every CRL of the optional CRL file (then the
 * leaf must be covered by a current CRL from its issuer: fail closed). Purpose: SSL client,
 * so a certificate whose extKeyUsage lacks clientAuth is refused. */
struct x509_verifier;

/* ca_pem_path: one or more PEM certificates (required). crl_pem_path: NULL or one or more PEM
 * CRLs. Returns NULL on error with a reason in err (errlen bytes, may be 0). */
struct x509_verifier *x509_verifier_new(const char *ca_pem_path, const char *crl_pem_path,
					char *err, size_t errlen);
void x509_verifier_free(struct x509_verifier *v);

/* Narrows what a verifier accepts, on top of the chain: X509_VERIFY_CLIENT_EKU requires the
 * leaf to carry an extendedKeyUsage extension that lists clientAuth (OpenSSL's SSL-client
 * purpose alone also accepts a certificate without the extension); require_cn non-NULL and
 * non-empty requires the leaf's subject to hold exactly one commonName, equal to it byte for
 * byte (at most X509_CN_MAX_BYTES). Call it before the verifier is shared (it is not
 * thread-safe against x509_verifier_check). Returns 0 or -EINVAL. A refusal reads "certificate
 * not for client authentication" or "client certificate subject CN is not the expected one". */
#define X509_VERIFY_CLIENT_EKU 1u
#define X509_CN_MAX_BYTES 64 /* ub-common-name (RFC 5280) */
int x509_verifier_restrict(struct x509_verifier *v, unsigned flags, const char *require_cn);

/* der[0] is the leaf, der[1..n-1] untrusted intermediates. now = 0: current time; else check
 * at that unix time. Returns 0 trusted; -EACCES untrusted or no certificate (n = 0), with
 * OpenSSL's reason in why (e.g. "certificate revoked", "certificate has expired", "unable to
 * get local issuer certificate"); -EINVAL malformed DER (trailing bytes included); -E2BIG more
 * than X509_MAX_CHAIN certificates or one over X509_MAX_CERT_DER_BYTES; -ENOMEM. why (whylen
 * bytes, may be 0) is set on every failure. */
int x509_verifier_check(const struct x509_verifier *v, const unsigned char *const *der,
			const size_t *der_len, size_t n, int64_t now, char *why, size_t whylen);

#endif
