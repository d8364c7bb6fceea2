/*
 * ca.c - cloisterd's certificate authority: its files under <state_dir>/ca/, issuing and renewing
 * backend certificates into the store, the CRL, and the single-use download tokens (see ca.h;
 * the OpenSSL work is src/lib/ca.c).
 *
 * Files (each written atomically with fsx, so a crash leaves the old or the new one):
 *   ca.pem                     the CA certificate (0644)
 *   ca-key.pem                 its key (0600), made on first start, never leaves this process
 *   cloisterd-client.pem       cloisterd's client certificate, CN "cloisterd", clientAuth only
 *   cloisterd-client-key.pem   its key (0600); re-issued at start when missing, not from this
 *                              CA, or within CA_CLIENT_RENEW_BEFORE_S of expiry
 *   crl.pem                    the current CRL; its crlNumber is the persisted counter: the next
 *                              CRL (at every start, every revocation) carries that number + 1
 * The CA key is written before the certificate, so a crash between the two leaves a key without
 * a certificate, which the next start refuses (rather than silently making a second CA).
 *
 * The CRL is rebuilt from the store (every revoked certificate) under the CA's lock, so two
 * revocations at once cannot publish CRLs out of order. GET /certs/crl serves the file, after
 * rebuilding it when it is past half its validity (a CRL whose nextUpdate passed makes agents
 * refuse everyone) or when, checked at most every CA_CRL_RECHECK_S, the store holds revocations
 * it lacks (deleting a backend revokes its certificates in the store).
 *
 * Download tokens are HS256 JWTs under a random per-process key (a restart voids them), sub =
 * serial, token_use "download"; a used jti is remembered until the token expires.
 */
#include "server/ca.h"

#include "../lib/ca.h" /* the library's ca.h: a plain "ca.h" finds this directory's first */
#include "fsx.h"
#include "jwt.h"
#include "log.h"
#include "server/settings.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define CA_CN "Cloister CA"
#define CA_CLIENT_CN "cloisterd"
#define CA_TOKEN_ISS "cloisterd"
#define CA_TOKEN_AUD "cloisterd-certs"
#define CA_TOKEN_USE "download"

struct used_token {
	char jti[JWT_JTI_MAX];
	int64_t exp;
};

struct ca {
	char dir[PATH_MAX];
	char cert_path[PATH_MAX], key_path[PATH_MAX];
	char client_cert_path[PATH_MAX], client_key_path[PATH_MAX];
	char crl_path[PATH_MAX];
	struct ca_signer *signer;
	char *cert_pem; /* the CA certificate */
	size_t cert_len;
	struct jwt_key *dl_key;

	pthread_mutex_t mu; /* everything below */
	uint64_t crl_number;
	int64_t crl_this_update; /* Unix s of the CRL on disk */
	size_t crl_entries;
	int64_t crl_checked_ms; /* monotonic: last comparison with the store */
	struct used_token used[CA_DOWNLOAD_USED_MAX];
	size_t n_used;
};

static int path_in(char *out, const char *dir, const char *name)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
	return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

static bool exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

static int read_pem(const char *path, char **out, size_t *len)
{
	return fsx_read_file(path, CA_PEM_MAX_BYTES, out, len);
}

static void wipe_free(char *p, size_t len)
{
	if (p) {
		OPENSSL_cleanse(p, len);
		free(p);
	}
}

/* Loads the CA, or creates it when neither file exists. */
static int load_or_create_ca(struct ca *ca, char *err, size_t errlen)
{
	bool have_cert = exists(ca->cert_path), have_key = exists(ca->key_path);
	int r;
	if (have_cert != have_key) {
		snprintf(err, errlen, "CA: %s exists but %s does not; restore both or remove both",
			 have_cert ? ca->cert_path : ca->key_path,
			 have_cert ? ca->key_path : ca->cert_path);
		return -ENOENT;
	}
	if (!have_cert) {
		char *cert = NULL, *key = NULL;
		if ((r = ca_create(CA_CN, CA_CA_DAYS, &cert, &key)) < 0) {
			snprintf(err, errlen, "CA: cannot create a CA: %s", strerror(-r));
			return r;
		}
		r = fsx_write_atomic(ca->key_path, key, strlen(key), 0600);
		if (r == 0)
			r = fsx_write_atomic(ca->cert_path, cert, strlen(cert), 0644);
		ca_free_secret_pem(key);
		free(cert);
		if (r < 0) {
			snprintf(err, errlen, "CA: cannot write %s: %s", ca->dir, strerror(-r));
			return r;
		}
		log_kv(CLOG_INFO, "created the CA", "cert", ca->cert_path, "key", ca->key_path,
		       NULL);
	}
	char *key = NULL;
	size_t key_len = 0;
	if ((r = read_pem(ca->cert_path, &ca->cert_pem, &ca->cert_len)) < 0 ||
	    (r = read_pem(ca->key_path, &key, &key_len)) < 0) {
		snprintf(err, errlen, "CA: cannot read %s: %s", ca->dir, strerror(-r));
		return r;
	}
	ca->signer = ca_signer_new(ca->cert_pem, key, &r);
	wipe_free(key, key_len);
	if (!ca->signer) {
		snprintf(err, errlen, "CA: %s / %s: not a CA certificate with its key (%s)",
			 ca->cert_path, ca->key_path, strerror(-r));
		return r;
	}
	return 0;
}

/* cloisterd's client certificate: kept while it is this CA's, matches its key and is far from
 * expiry; otherwise a new key and certificate. */
static int client_cert_ready(struct ca *ca, char *err, size_t errlen)
{
	char *cert = NULL, *key = NULL;
	size_t cert_len = 0, key_len = 0;
	bool fresh = false;
	if (read_pem(ca->client_cert_path, &cert, &cert_len) == 0 &&
	    read_pem(ca->client_key_path, &key, &key_len) == 0) {
		struct ca_cert_facts f;
		struct ca_issued probe;
		/* Re-issuing for the stored key is how we learn it is a P-256 key this CA can use;
		 * the probe itself is thrown away. */
		fresh = ca_cert_facts(cert, cert_len, &f) == 0 && !f.is_ca &&
			f.not_after > (int64_t)time(NULL) + CA_CLIENT_RENEW_BEFORE_S &&
			ca_cert_verify_sig(cert, cert_len, ca->cert_pem, ca->cert_len) == 0 &&
			ca_renew(ca->signer, cert, cert_len, 1, key, &probe) == 0;
		if (fresh) {
			/* Same key: the SPKI of the probe equals the stored certificate's. */
			char a[CA_PIN_BUF], b[CA_PIN_BUF];
			fresh = ca_cert_pin(cert, cert_len, a) == 0 &&
				ca_cert_pin(probe.cert_pem, strlen(probe.cert_pem), b) == 0 &&
				strcmp(a, b) == 0;
			ca_issued_done(&probe);
		}
	}
	free(cert);
	wipe_free(key, key_len);
	if (fresh)
		return 0;
	struct ca_leaf_req req = { .cn = CA_CLIENT_CN,
				   .usage = CA_USAGE_CLIENT,
				   .days = CA_CLIENT_CERT_DAYS };
	struct ca_issued out;
	int r = ca_issue(ca->signer, &req, NULL, &out);
	if (r == 0) {
		r = fsx_write_atomic(ca->client_key_path, out.key_pem, strlen(out.key_pem), 0600);
		if (r == 0)
			r = fsx_write_atomic(ca->client_cert_path, out.cert_pem,
					     strlen(out.cert_pem), 0600);
	}
	ca_issued_done(&out);
	if (r < 0) {
		snprintf(err, errlen, "CA: cannot issue cloisterd's client certificate %s: %s",
			 ca->client_cert_path, strerror(-r));
		return r;
	}
	log_kv(CLOG_INFO, "issued cloisterd's client certificate", "cert", ca->client_cert_path,
	       NULL);
	return 0;
}

/* The crlNumber of the CRL on disk, when it is this CA's. */
static void crl_restore(struct ca *ca)
{
	char *pem = NULL;
	size_t len = 0;
	if (fsx_read_file(ca->crl_path, CA_CRL_PEM_MAX_BYTES, &pem, &len) < 0)
		return;
	struct ca_crl_facts f;
	if (ca_crl_verify(pem, len, ca->cert_pem, ca->cert_len) == 0 &&
	    ca_crl_facts(pem, len, &f) == 0)
		ca->crl_number = f.crl_number;
	else
		log_kv(CLOG_WARN, "CA: ignoring a CRL file this CA did not sign", "file",
		       ca->crl_path, NULL);
	free(pem);
}

/* Called with ca->mu held. */
static int crl_write_locked(struct server *srv)
{
	struct ca *ca = srv->ca;
	struct store_revoked *rv = NULL;
	size_t n = 0;
	int r = store_cert_revoked(srv->store, &rv, &n);
	if (r < 0) {
		log_kv(CLOG_ERROR, "CA: cannot list revoked certificates", "detail",
		       store_last_error(), NULL);
		return r;
	}
	struct ca_revoked *e = n ? calloc(n, sizeof(*e)) : NULL;
	if (n && !e) {
		free(rv);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		e[i] = (struct ca_revoked){ rv[i].serial, rv[i].revoked_at / 1000000000 };
	int64_t now = (int64_t)time(NULL);
	char *pem = NULL;
	r = ca_crl_build(ca->signer, e, n, ca->crl_number + 1, now, CA_CRL_NEXT_UPDATE_S, &pem);
	free(e);
	free(rv);
	if (r == 0)
		r = fsx_write_atomic(ca->crl_path, pem, strlen(pem), 0644);
	free(pem);
	if (r < 0) {
		log_kv(CLOG_ERROR, "CA: cannot write the CRL", "file", ca->crl_path, "error",
		       strerror(-r), NULL);
		return r;
	}
	ca->crl_number++;
	ca->crl_this_update = now;
	ca->crl_entries = n;
	ca->crl_checked_ms = util_mono_ms();
	return 0;
}

int ca_crl_regenerate(struct server *srv)
{
	if (!srv->ca)
		return -EINVAL;
	pthread_mutex_lock(&srv->ca->mu);
	int r = crl_write_locked(srv);
	pthread_mutex_unlock(&srv->ca->mu);
	return r;
}

int ca_crl_current(struct server *srv, char **pem, size_t *len)
{
	struct ca *ca = srv->ca;
	if (!ca)
		return -EINVAL;
	pthread_mutex_lock(&ca->mu);
	bool stale = (int64_t)time(NULL) - ca->crl_this_update > CA_CRL_NEXT_UPDATE_S / 2;
	if (!stale && util_mono_ms() - ca->crl_checked_ms >= CA_CRL_RECHECK_S * 1000) {
		struct store_revoked *rv = NULL;
		size_t n = 0;
		if (store_cert_revoked(srv->store, &rv, &n) == 0)
			stale = n != ca->crl_entries;
		free(rv);
		ca->crl_checked_ms = util_mono_ms();
	}
	/* A failed rebuild still serves the last good CRL (it stays valid until nextUpdate). */
	if (stale)
		(void)crl_write_locked(srv);
	int r = fsx_read_file(ca->crl_path, CA_CRL_PEM_MAX_BYTES, pem, len);
	pthread_mutex_unlock(&ca->mu);
	return r;
}

static int store_issued(struct server *srv, const char *backend_id, struct ca_issued *out,
			const char *renewed_from, const struct store_audit *a)
{
	struct store_cert *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	int r = -E2BIG;
	size_t cl = strlen(out->cert_pem), kl = out->key_pem ? strlen(out->key_pem) : 0;
	if (cl <= STORE_CERT_PEM_MAX && kl <= STORE_KEY_PEM_MAX) {
		memcpy(c->serial, out->serial, sizeof(c->serial));
		snprintf(c->backend_id, sizeof(c->backend_id), "%s", backend_id);
		memcpy(c->cert_pem, out->cert_pem, cl + 1);
		if (kl)
			memcpy(c->key_pem, out->key_pem, kl + 1);
		snprintf(c->renewed_from, sizeof(c->renewed_from), "%s", renewed_from);
		c->created_at = util_now_ns();
		c->not_before = out->not_before * 1000000000;
		c->not_after = out->not_after * 1000000000;
		r = store_cert_create(srv->store, c, a);
	}
	OPENSSL_cleanse(c->key_pem, sizeof(c->key_pem));
	free(c);
	return r;
}

int ca_issue_backend(struct server *srv, const struct ca_issue_req *rq, const struct store_audit *a,
		     char serial[STORE_SERIAL_MAX + 1])
{
	if (!srv->ca)
		return -EINVAL;
	struct ca_leaf_req req = {
		.cn = rq->backend_id,
		.ips = rq->ips,
		.n_ips = rq->n_ips,
		.dns_names = rq->dns_names,
		.n_dns = rq->n_dns,
		.usage = CA_USAGE_SERVER,
		.days = rq->days,
	};
	struct ca_issued out;
	int r = ca_issue(srv->ca->signer, &req, NULL, &out);
	if (r < 0)
		return r == -ENOMEM ? r : r == -EIO ? r : -EINVAL;
	r = store_issued(srv, rq->backend_id, &out, "", a);
	if (r == 0)
		memcpy(serial, out.serial, STORE_SERIAL_MAX + 1);
	ca_issued_done(&out);
	return r;
}

int ca_renew_backend(struct server *srv, const struct store_cert *old, const struct store_audit *a,
		     char serial[STORE_SERIAL_MAX + 1])
{
	if (!srv->ca)
		return -EINVAL;
	int64_t span = (old->not_after - old->not_before) / 1000000000;
	int days = (int)((span + 43200) / 86400); /* nearest: the span includes the backdating */
	if (days < 1)
		days = 1;
	if (days > CA_MAX_DAYS)
		days = CA_MAX_DAYS;
	struct ca_issued out;
	int r = ca_renew(srv->ca->signer, old->cert_pem, strlen(old->cert_pem), days, NULL, &out);
	if (r < 0)
		return r;
	r = store_issued(srv, old->backend_id, &out, old->serial, a);
	if (r == 0)
		memcpy(serial, out.serial, STORE_SERIAL_MAX + 1);
	ca_issued_done(&out);
	if (r < 0)
		return r;
	/* Superseded: the old one goes on the CRL. A failure here leaves two valid certificates,
	 * which a retried revoke settles; the renewal itself stands. */
	int rr = store_cert_revoke(srv->store, old->serial, util_now_ns(), NULL);
	if (rr < 0 && rr != -EALREADY)
		log_kv(CLOG_WARN, "CA: cannot revoke a renewed certificate", "serial", old->serial,
		       "detail", store_last_error(), NULL);
	(void)ca_crl_regenerate(srv);
	return 0;
}

const char *ca_cert_pem(const struct server *srv, size_t *len)
{
	if (!srv->ca) {
		if (len)
			*len = 0;
		return "";
	}
	if (len)
		*len = srv->ca->cert_len;
	return srv->ca->cert_pem;
}

/* --- download tokens --- */

static void random_jti(char out[JWT_JTI_MAX])
{
	unsigned char b[16];
	if (RAND_bytes(b, sizeof(b)) != 1)
		memset(b, 0, sizeof(b)); /* then jwt_sign still signs; uniqueness is best effort */
	util_hex(out, b, sizeof(b));
}

int ca_download_token(struct server *srv, const char *serial, char **token)
{
	if (!srv->ca || !srv->ca->dl_key)
		return -EINVAL;
	struct jwt_claims c = { 0 };
	snprintf(c.sub, sizeof(c.sub), "%s", serial);
	snprintf(c.role, sizeof(c.role), "certs");
	random_jti(c.jti);
	snprintf(c.aud, sizeof(c.aud), CA_TOKEN_AUD);
	snprintf(c.iss, sizeof(c.iss), CA_TOKEN_ISS);
	snprintf(c.token_use, sizeof(c.token_use), CA_TOKEN_USE);
	c.iat = (int64_t)time(NULL);
	c.exp = c.iat + CA_DOWNLOAD_TOKEN_TTL_S;
	int r = jwt_sign(srv->ca->dl_key, &c, token);
	return r == JWT_OK ? 0 : r == JWT_E_NOMEM ? -ENOMEM : -EIO;
}

int ca_download_redeem(struct server *srv, const char *token, size_t len,
		       char serial[STORE_SERIAL_MAX + 1])
{
	struct ca *ca = srv->ca;
	if (!ca || !ca->dl_key || !token)
		return -EACCES;
	int64_t now = (int64_t)time(NULL);
	struct jwt_verify_opts o = { .now = now,
				     .audience = CA_TOKEN_AUD,
				     .issuer = CA_TOKEN_ISS,
				     .token_use = CA_TOKEN_USE };
	struct jwt_claims c;
	if (jwt_verify(ca->dl_key, token, len, &o, &c) != JWT_OK ||
	    strlen(c.sub) > STORE_SERIAL_MAX)
		return -EACCES;
	int r = 0;
	pthread_mutex_lock(&ca->mu);
	size_t k = 0;
	for (size_t i = 0; i < ca->n_used; i++) /* forget the expired ones */
		if (ca->used[i].exp + JWT_CLOCK_SKEW_S >= now)
			ca->used[k++] = ca->used[i];
	ca->n_used = k;
	for (size_t i = 0; i < ca->n_used && r == 0; i++)
		if (strcmp(ca->used[i].jti, c.jti) == 0)
			r = -EACCES;
	if (r == 0 && ca->n_used == CA_DOWNLOAD_USED_MAX)
		r = -EBUSY;
	if (r == 0) {
		memcpy(ca->used[ca->n_used].jti, c.jti, sizeof(c.jti));
		ca->used[ca->n_used++].exp = c.exp;
		memcpy(serial, c.sub, strlen(c.sub) + 1);
	}
	pthread_mutex_unlock(&ca->mu);
	return r;
}

/* --- start and stop --- */

const char *ca_cert_path(const struct server *srv)
{
	return srv->ca ? srv->ca->cert_path : "";
}

const char *ca_client_cert_path(const struct server *srv)
{
	return srv->ca ? srv->ca->client_cert_path : "";
}

const char *ca_client_key_path(const struct server *srv)
{
	return srv->ca ? srv->ca->client_key_path : "";
}

const char *ca_crl_path(const struct server *srv)
{
	return srv->ca ? srv->ca->crl_path : "";
}

int ca_init(struct server *srv, char *err, size_t errlen)
{
	struct ca *ca = calloc(1, sizeof(*ca));
	if (!ca) {
		snprintf(err, errlen, "CA: out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&ca->mu, NULL);
	int r;
	if ((r = path_in(ca->dir, srv->cfg->state_dir, "ca")) < 0 ||
	    (r = path_in(ca->cert_path, ca->dir, "ca.pem")) < 0 ||
	    (r = path_in(ca->key_path, ca->dir, "ca-key.pem")) < 0 ||
	    (r = path_in(ca->client_cert_path, ca->dir, "cloisterd-client.pem")) < 0 ||
	    (r = path_in(ca->client_key_path, ca->dir, "cloisterd-client-key.pem")) < 0 ||
	    (r = path_in(ca->crl_path, ca->dir, "crl.pem")) < 0) {
		snprintf(err, errlen, "CA: state_dir path too long");
		goto fail;
	}
	if (mkdir(ca->dir, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(err, errlen, "CA: cannot create %s: %s", ca->dir, strerror(errno));
		goto fail;
	}
	if ((r = load_or_create_ca(ca, err, errlen)) < 0 ||
	    (r = client_cert_ready(ca, err, errlen)) < 0)
		goto fail;
	unsigned char secret[32];
	int jr = JWT_OK;
	if (RAND_bytes(secret, sizeof(secret)) != 1 ||
	    !(ca->dl_key = jwt_key_hs256(secret, sizeof(secret), &jr))) {
		OPENSSL_cleanse(secret, sizeof(secret));
		snprintf(err, errlen, "CA: cannot make the download-token key");
		r = -EIO;
		goto fail;
	}
	OPENSSL_cleanse(secret, sizeof(secret));
	crl_restore(ca);
	srv->ca = ca;
	/* Every start publishes a CRL that matches the store (a crash may have come between a
	 * revocation and its CRL). */
	if ((r = ca_crl_regenerate(srv)) < 0) {
		snprintf(err, errlen, "CA: cannot write the CRL %s: %s", ca->crl_path,
			 strerror(-r));
		srv->ca = NULL;
		goto fail;
	}
	return 0;
fail:
	ca_signer_free(ca->signer);
	free(ca->cert_pem);
	jwt_key_free(ca->dl_key);
	pthread_mutex_destroy(&ca->mu);
	free(ca);
	return r;
}

void ca_done(struct server *srv)
{
	struct ca *ca = srv ? srv->ca : NULL;
	if (!ca)
		return;
	srv->ca = NULL;
	ca_signer_free(ca->signer);
	free(ca->cert_pem);
	jwt_key_free(ca->dl_key);
	pthread_mutex_destroy(&ca->mu);
	free(ca);
}
