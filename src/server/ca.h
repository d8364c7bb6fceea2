/*
 * ca.h - cloisterd's certificate authority (issue 7), on OpenSSL (src/lib/ca.h has the
 * primitives): created on first start under <state_dir>/ca/ (the CA key 0600), cloisterd's own
 * client certificate for talking to agents (CN "cloisterd", extendedKeyUsage clientAuth only),
 * certificates issued for backends (serverAuth only, with the IP addresses / DNS names asked
 * for), renewal, revocation and a signed CRL regenerated on every revocation.
 *
 * Revoking a backend's certificate terminates the backend with type 0 (fleet_terminate) before
 * the CRL that refuses its key is published.
 *
 * Thread safety: every function may run on any HTTP thread; issuing and revoking serialise on
 * the CA's lock. Paths returned are stable for the process's life (files replaced atomically).
 */
#ifndef CLOISTER_SERVER_CA_H
#define CLOISTER_SERVER_CA_H

#include "server/server.h"

#define CA_BACKEND_CERT_DAYS_DEFAULT 365
#define CA_CLIENT_CERT_DAYS 365 /* cloisterd's client certificate, renewed at start when < 30 d */
#define CA_CRL_NEXT_UPDATE_S (7 * 24 * 3600)
#define CA_DOWNLOAD_TOKEN_TTL_S 300
#define CA_MAX_SANS 16

/* Loads or creates the CA, the client certificate and the CRL. */
int ca_init(struct server *srv, char *err, size_t errlen);
void ca_done(struct server *srv);
const char *ca_cert_path(const struct server *srv);        /* CA certificate, PEM */
const char *ca_client_cert_path(const struct server *srv); /* cloisterd's client cert, PEM */
const char *ca_client_key_path(const struct server *srv);  /* its key, PEM, 0600 */
const char *ca_crl_path(const struct server *srv);         /* current CRL, PEM */

/* --- between ca.c and api_certs.c --- */
#define CA_CLIENT_RENEW_BEFORE_S (30 * 24 * 3600)
#define CA_CRL_RECHECK_S 60       /* GET /certs/crl compares the store's revocations this often */
#define CA_DOWNLOAD_USED_MAX 4096 /* used download tokens remembered until they expire */
#define CA_CA_DAYS 3650           /* the CA certificate made on first start */

struct ca_issue_req {
	const char *backend_id;
	const char *const *ips;
	size_t n_ips;
	const char *const *dns_names;
	size_t n_dns;
	int days;
};
/* Issues a backend certificate (serverAuth) and stores it with its key (audit a, may be NULL):
 * 0 with serial set, or -EINVAL (a name the CA refuses), -ENOENT (no such backend), a store
 * errno, -EIO (OpenSSL). */
int ca_issue_backend(struct server *srv, const struct ca_issue_req *r, const struct store_audit *a,
		     char serial[STORE_SERIAL_MAX + 1]);
/* Renews old (not revoked) with a new key and serial (same names, same validity length), stores
 * it with renewed_from, then revokes old (superseded) and rewrites the CRL. a: the audit of the
 * new certificate's creation. */
int ca_renew_backend(struct server *srv, const struct store_cert *old, const struct store_audit *a,
		     char serial[STORE_SERIAL_MAX + 1]);
/* Rebuilds the CRL from the store's revocations (crlNumber + 1) and writes it atomically. */
int ca_crl_regenerate(struct server *srv);
/* The current CRL PEM (malloc'd, caller frees), regenerated first when it is past half its
 * validity or the store holds revocations it lacks (checked every CA_CRL_RECHECK_S). */
int ca_crl_current(struct server *srv, char **pem, size_t *len);
/* The CA certificate PEM, borrowed for the process's life. */
const char *ca_cert_pem(const struct server *srv, size_t *len);
/* A download token for serial (malloc'd JWT, CA_DOWNLOAD_TOKEN_TTL_S). */
int ca_download_token(struct server *srv, const char *serial, char **token);
/* Checks and consumes a download token: 0 with its serial, -EACCES (bad, expired, used). */
int ca_download_redeem(struct server *srv, const char *token, size_t len,
		       char serial[STORE_SERIAL_MAX + 1]);

/* Routes (Prism's certs service shape). */
void api_certs_issue(struct http_req *req);          /* POST /certs/issue/backend/{id} */
void api_certs_list(struct http_req *req);           /* GET /certs?backend_id&limit&offset */
void api_certs_get(struct http_req *req);            /* GET /certs/{serial} */
void api_certs_download_token(struct http_req *req); /* GET /certs/{serial}/download/token */
void api_certs_download(struct http_req *req);       /* GET /certs/{serial}/download?token= */
void api_certs_renew(struct http_req *req);          /* PATCH /certs/{serial}/renew */
void api_certs_revoke(struct http_req *req);         /* PATCH /certs/{serial}/revoke */
void api_certs_crl(struct http_req *req);            /* GET /certs/crl (public) */
void api_certs_view_ca(struct http_req *req);        /* GET /certs/view-ca (public) */

#endif
