/*
 * tls.c - load, generate or renew the agent's TLS certificate and key (see tls.h).
 */
#include "agent/tls.h"

#include "agent/limits.h"
#include "fsx.h"
#include "x509.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int generate(const struct settings *s, char *err, size_t errlen)
{
	int rc = x509_selfsigned_write(s->tls_cert_path, s->tls_key_path,
				       (const char *const *)s->tls_cert_hosts, s->n_tls_cert_hosts,
				       (int)s->tls_cert_days);
	if (rc < 0)
		snprintf(err, errlen, "cannot create TLS certificate %s / key %s: %s",
			 s->tls_cert_path, s->tls_key_path, strerror(-rc));
	return rc;
}

int agent_tls_load(const struct settings *s, bool check_only, char **cert_pem, char **key_pem,
		   bool *renewed, char *err, size_t errlen)
{
	*cert_pem = *key_pem = NULL;
	*renewed = false;
	bool have_cert = access(s->tls_cert_path, F_OK) == 0;
	bool have_key = access(s->tls_key_path, F_OK) == 0;
	int rc;
	if (have_cert != have_key) {
		snprintf(err, errlen, "TLS: %s exists but %s does not; provide both or neither",
			 have_cert ? s->tls_cert_path : s->tls_key_path,
			 have_cert ? s->tls_key_path : s->tls_cert_path);
		return -ENOENT;
	}
	if (!have_cert) {
		if (!s->tls_create_if_missing) {
			snprintf(err, errlen,
				 "TLS: %s and %s are missing and tls_create_if_missing is false",
				 s->tls_cert_path, s->tls_key_path);
			return -ENOENT;
		}
		*renewed = true;
		if (check_only)
			return 0;
		if ((rc = generate(s, err, errlen)) < 0)
			return rc;
	}
	rc = x509_key_matches_cert(s->tls_cert_path, s->tls_key_path);
	if (rc < 0) {
		snprintf(err, errlen, "TLS: cannot read %s / %s: %s", s->tls_cert_path,
			 s->tls_key_path, strerror(-rc));
		return rc;
	}
	if (rc == 0) {
		snprintf(err, errlen, "TLS: the key in %s does not belong to the certificate in %s",
			 s->tls_key_path, s->tls_cert_path);
		return -EINVAL;
	}
	struct x509_info info;
	if ((rc = x509_cert_info_file(s->tls_cert_path, &info)) < 0) {
		snprintf(err, errlen, "TLS: cannot parse %s", s->tls_cert_path);
		return rc;
	}
	if (info.not_after <= (int64_t)time(NULL) + AGENT_TLS_RENEW_BEFORE_S) {
		if (!info.self_signed || !s->tls_create_if_missing) {
			snprintf(err, errlen,
				 "TLS: certificate %s has expired (or expires within a day)",
				 s->tls_cert_path);
			return -EKEYEXPIRED;
		}
		*renewed = true;
		if (check_only)
			return 0;
		if ((rc = generate(s, err, errlen)) < 0)
			return rc;
	}
	if (check_only)
		return 0;
	size_t len;
	if ((rc = fsx_read_file(s->tls_cert_path, AGENT_PEM_MAX_BYTES, cert_pem, &len)) < 0 ||
	    (rc = fsx_read_file(s->tls_key_path, AGENT_PEM_MAX_BYTES, key_pem, &len)) < 0) {
		snprintf(err, errlen, "TLS: cannot read %s / %s: %s", s->tls_cert_path,
			 s->tls_key_path, strerror(-rc));
		free(*cert_pem);
		*cert_pem = NULL;
		return rc;
	}
	return 0;
}
