/*
 * attest/tdx_dir.c - Intel TDX collateral from a directory (see tdx_dir.h).
 *
 * The entries are listed first (bounded), sorted, then read one by one with fsx_read_file,
 * each under the limit of its kind; a second PCK CRL file is appended to the first, as
 * tdx_collateral_new accepts several CRLs in one input.
 */
#include "attest/tdx_dir.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsx.h"
#include "util.h"

int tdx_collateral_dir_adopt(struct tdx_collateral_dir *d, uint8_t *blob)
{
	if (d->n_blobs >= TDX_DIR_MAX_BLOBS) {
		free(blob);
		return -E2BIG;
	}
	d->blobs[d->n_blobs++] = blob;
	return 0;
}

void tdx_collateral_dir_done(struct tdx_collateral_dir *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_blobs; i++)
		free(d->blobs[i]);
	tdx_bundle_done(&d->bundle);
	memset(d, 0, sizeof(*d));
}

static int names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Reads dir/name (at most max bytes) into a blob of d. */
static int read_blob(struct tdx_collateral_dir *d, const char *dir, const char *name, size_t max,
		     const uint8_t **out, size_t *len, char *err, size_t errlen)
{
	char path[4096];
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return util_errf(err, errlen, -ENAMETOOLONG, "%s: path too long", name);
	if (d->n_blobs >= TDX_DIR_MAX_BLOBS)
		return util_errf(err, errlen, -E2BIG, "more than %d collateral files",
				 TDX_DIR_MAX_BLOBS);
	char *b = NULL;
	int rc = fsx_read_file(path, max, &b, len);
	if (rc == -E2BIG)
		return util_errf(err, errlen, rc, "%s: larger than %zu bytes", name, max);
	if (rc < 0)
		return util_errf(err, errlen, rc, "%s: %s", name, strerror(-rc));
	d->blobs[d->n_blobs++] = (uint8_t *)b;
	*out = (const uint8_t *)b;
	return 0;
}

/* A PCK CRL file: the first is kept as is, a later one is appended to it. */
static int add_pck_crl(struct tdx_collateral_dir *d, const char *dir, const char *name, char *err,
		       size_t errlen)
{
	struct tdx_collateral_opts *o = &d->o;
	const uint8_t *b;
	size_t n;
	int rc = read_blob(d, dir, name, TDX_CRL_MAX_BYTES, &b, &n, err, errlen);
	if (rc < 0)
		return rc;
	if (!o->pck_crl) {
		o->pck_crl = b;
		o->pck_crl_len = n;
		return 0;
	}
	if (o->pck_crl_len + n > TDX_CRL_MAX_BYTES)
		return util_errf(err, errlen, -E2BIG,
				 "the PCK CRL files are larger than %u bytes together",
				 TDX_CRL_MAX_BYTES);
	uint8_t *j = malloc(o->pck_crl_len + n);
	if (!j)
		return util_errf(err, errlen, -ENOMEM, "out of memory");
	memcpy(j, o->pck_crl, o->pck_crl_len);
	memcpy(j + o->pck_crl_len, b, n);
	if (tdx_collateral_dir_adopt(d, j) < 0)
		return util_errf(err, errlen, -E2BIG, "more than %d collateral files",
				 TDX_DIR_MAX_BLOBS);
	o->pck_crl = j;
	o->pck_crl_len += n;
	return 0;
}

static int read_bundle(struct tdx_collateral_dir *d, const char *dir, char *err, size_t errlen)
{
	const uint8_t *b;
	size_t n;
	char perr[256] = "";
	int rc = read_blob(d, dir, "collateral_bundle.json", TDX_BUNDLE_MAX_BYTES, &b, &n, err,
			   errlen);
	if (rc < 0)
		return rc;
	if ((rc = tdx_bundle_parse((const char *)b, n, &d->bundle, perr, sizeof(perr))) < 0)
		return util_errf(err, errlen, rc, "collateral_bundle.json: %s", perr);
	d->have_bundle = true;
	tdx_bundle_opts(&d->bundle, &d->o);
	return 0;
}

/* One PCS-layout file; names that are not collateral are skipped. */
static int read_entry(struct tdx_collateral_dir *d, const char *dir, const char *n, char *err,
		      size_t errlen)
{
	struct tdx_collateral_opts *o = &d->o;
	if (strncmp(n, "tcbinfo", 7) == 0 && ends_with(n, ".json")) {
		if (o->n_tcb_info >= TDX_COLLATERAL_MAX_TCB_INFOS)
			return util_errf(err, errlen, -E2BIG, "more than %d tcbinfo*.json files",
					 TDX_COLLATERAL_MAX_TCB_INFOS);
		int rc = read_blob(d, dir, n, TDX_JSON_MAX_BYTES, &o->tcb_info[o->n_tcb_info],
				   &o->tcb_info_len[o->n_tcb_info], err, errlen);
		if (rc == 0)
			o->n_tcb_info++;
		return rc;
	}
	if (strncmp(n, "qe_identity", 11) == 0 && ends_with(n, ".json")) {
		if (o->qe_identity)
			return util_errf(err, errlen, -EINVAL,
					 "more than one qe_identity*.json file");
		return read_blob(d, dir, n, TDX_JSON_MAX_BYTES, &o->qe_identity,
				 &o->qe_identity_len, err, errlen);
	}
	if (strcmp(n, "tcb_info_issuer_chain.pem") == 0)
		return read_blob(d, dir, n, TDX_DIR_PEM_MAX_BYTES, &o->tcb_info_chain,
				 &o->tcb_info_chain_len, err, errlen);
	if (strcmp(n, "qe_identity_issuer_chain.pem") == 0)
		return read_blob(d, dir, n, TDX_DIR_PEM_MAX_BYTES, &o->qe_identity_chain,
				 &o->qe_identity_chain_len, err, errlen);
	if (strcmp(n, "pck_crl_issuer_chain.pem") == 0)
		return read_blob(d, dir, n, TDX_DIR_PEM_MAX_BYTES, &o->pck_crl_chain,
				 &o->pck_crl_chain_len, err, errlen);
	if (strncmp(n, "pck_crl", 7) == 0 && ends_with(n, ".der"))
		return add_pck_crl(d, dir, n, err, errlen);
	if (strcmp(n, "root_ca_crl.der") == 0)
		return read_blob(d, dir, n, TDX_CRL_MAX_BYTES, &o->root_crl, &o->root_crl_len, err,
				 errlen);
	return 0;
}

int tdx_collateral_dir_read(const char *dir, struct tdx_collateral_dir *d, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	if (err && errlen)
		err[0] = '\0';
	DIR *dh = opendir(dir);
	if (!dh)
		return util_errf(err, errlen, -errno, "%s", strerror(errno));
	char *names[TDX_DIR_MAX_ENTRIES] = { 0 };
	size_t nn = 0;
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(dh))) {
		if (e->d_name[0] == '.')
			continue;
		if (nn >= TDX_DIR_MAX_ENTRIES) {
			rc = util_errf(err, errlen, -E2BIG, "more than %d entries in the directory",
				       TDX_DIR_MAX_ENTRIES);
			break;
		}
		if (!(names[nn] = strdup(e->d_name))) {
			rc = util_errf(err, errlen, -ENOMEM, "out of memory");
			break;
		}
		nn++;
	}
	closedir(dh);
	if (rc == 0) {
		qsort(names, nn, sizeof(names[0]), names_cmp);
		bool bundle = false;
		for (size_t i = 0; i < nn; i++)
			bundle = bundle || strcmp(names[i], "collateral_bundle.json") == 0;
		if (bundle)
			rc = read_bundle(d, dir, err, errlen);
		for (size_t i = 0; rc == 0 && !bundle && i < nn; i++)
			rc = read_entry(d, dir, names[i], err, errlen);
	}
	for (size_t i = 0; i < nn; i++)
		free(names[i]);
	if (rc < 0)
		tdx_collateral_dir_done(d);
	return rc;
}

void tdx_collateral_dir_summary(const struct tdx_collateral_dir *d, char *buf, size_t size)
{
	const struct tdx_collateral_opts *o = &d->o;
	snprintf(buf, size, "%zu TCB info%s, %s QE identity, %s PCK CRL, %s Root CA CRL%s",
		 o->n_tcb_info, o->n_tcb_info == 1 ? "" : "s", o->qe_identity ? "a" : "no",
		 o->pck_crl ? "a" : "no", o->root_crl ? "a" : "no",
		 d->have_bundle ? " (from collateral_bundle.json)" : "");
}
