/*
 * crl.c - fetches and reloads the agent's client CRL (see crl.h).
 *
 * One thread sleeps on a condition variable (so stop is immediate) and wakes every
 * AGENT_CRL_FILE_POLL_MS: when a fetch is due it downloads the CRL into memory, checks it and
 * writes it with fsx_write_atomic; then, when the file's identity (inode, size, mtime) differs
 * from the one last seen, it checks the file and swaps the server's verifier. A failed fetch is
 * retried after min(refresh, AGENT_CRL_RETRY_S). The network fetch never holds the server: the
 * verifier swap is the only shared step and it is atomic in http/server.c.
 */
#include "agent/crl.h"

#include "../lib/ca.h"
#include "fsx.h"
#include "log.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define AGENT_CRL_RETRY_S 30

struct agent_crl {
	const struct settings *cfg;
	struct http_server *http;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	struct stat seen; /* identity of the file last looked at */
	bool have_seen;
	uint64_t number; /* crlNumber in force */
};

struct fetch_buf {
	char *p;
	size_t len;
	bool too_big;
};

static size_t on_data(char *data, size_t size, size_t n, void *ud)
{
	struct fetch_buf *b = ud;
	size_t add = size * n;
	if (add > AGENT_CRL_MAX_BYTES - b->len) {
		b->too_big = true;
		return 0; /* aborts the transfer */
	}
	char *np = realloc(b->p, b->len + add + 1);
	if (!np)
		return 0;
	memcpy(np + b->len, data, add);
	b->p = np;
	b->len += add;
	b->p[b->len] = '\0';
	return add;
}

/* Checks a CRL against the CA file: parses, is signed by its first certificate. */
static int crl_check(const struct settings *cfg, const char *pem, size_t len,
		     struct ca_crl_facts *f, char *why, size_t whylen)
{
	char *ca = NULL;
	size_t ca_len = 0;
	int r = fsx_read_file(cfg->tls_client_ca_path, CA_PEM_MAX_BYTES, &ca, &ca_len);
	if (r < 0) {
		snprintf(why, whylen, "cannot read %s: %s", cfg->tls_client_ca_path, strerror(-r));
		return r;
	}
	r = ca_crl_facts(pem, len, f);
	if (r < 0)
		snprintf(why, whylen, "not a PEM CRL");
	else if ((r = ca_crl_verify(pem, len, ca, ca_len)) < 0)
		snprintf(why, whylen, "not signed by the client CA");
	free(ca);
	return r;
}

/* Downloads the CRL and, when it checks out and is not older than `number`, writes it. */
static int fetch(const struct settings *cfg, uint64_t number, char *why, size_t whylen)
{
	CURL *h = curl_easy_init();
	if (!h) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	struct fetch_buf b = { 0 };
	char cerr[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(h, CURLOPT_URL, cfg->tls_client_crl_url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)AGENT_CRL_FETCH_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)AGENT_CRL_FETCH_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)AGENT_CRL_MAX_BYTES);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	CURLcode rc = curl_easy_perform(h);
	curl_easy_cleanup(h);
	int r = 0;
	struct ca_crl_facts f;
	if (rc != CURLE_OK) {
		snprintf(why, whylen, "fetch %s: %s", cfg->tls_client_crl_url,
			 b.too_big ? "larger than the limit"
			 : cerr[0] ? cerr
				   : curl_easy_strerror(rc));
		r = -EIO;
	} else if (!b.p || (r = crl_check(cfg, b.p, b.len, &f, why, whylen)) < 0) {
		if (!b.p)
			snprintf(why, whylen, "fetch %s: empty reply", cfg->tls_client_crl_url);
		r = -EINVAL;
	} else if (f.crl_number < number) {
		snprintf(why, whylen,
			 "fetched CRL number %llu is older than the one in force (%llu)",
			 (unsigned long long)f.crl_number, (unsigned long long)number);
		r = -ESTALE;
	} else if ((r = fsx_write_atomic(cfg->tls_client_crl_path, b.p, b.len, 0644)) < 0) {
		snprintf(why, whylen, "cannot write %s: %s", cfg->tls_client_crl_path,
			 strerror(-r));
	}
	free(b.p);
	return r;
}

int agent_crl_prefetch(const struct settings *cfg, char *err, size_t errlen)
{
	if (!cfg->tls_client_crl_url[0])
		return 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "cannot initialise libcurl");
		return -EIO;
	}
	char why[512];
	int r = fetch(cfg, 0, why, sizeof(why));
	if (r == 0)
		return 0;
	struct stat sb;
	if (stat(cfg->tls_client_crl_path, &sb) == 0) {
		log_kv(CLOG_WARN, "client CRL: fetch failed; using the last one", "file",
		       cfg->tls_client_crl_path, "error", why, NULL);
		return 0;
	}
	snprintf(err, errlen, "client CRL: %s, and there is no earlier CRL at %s", why,
		 cfg->tls_client_crl_path);
	return r;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Reloads the file into the server when it changed since last seen. */
static void reload_if_changed(struct agent_crl *c)
{
	const struct settings *cfg = c->cfg;
	struct stat sb;
	if (stat(cfg->tls_client_crl_path, &sb) < 0 || (c->have_seen && same_file(&sb, &c->seen)))
		return;
	c->seen = sb;
	c->have_seen = true;
	char *pem = NULL;
	size_t len = 0;
	char why[512];
	struct ca_crl_facts f;
	int r = fsx_read_file(cfg->tls_client_crl_path, AGENT_CRL_MAX_BYTES, &pem, &len);
	if (r < 0)
		snprintf(why, sizeof(why), "cannot read it: %s", strerror(-r));
	else
		r = crl_check(cfg, pem, len, &f, why, sizeof(why));
	free(pem);
	if (r == 0)
		r = http_server_reload_client_crl(c->http, cfg->tls_client_crl_path, why,
						  sizeof(why));
	if (r < 0) {
		log_kv(CLOG_WARN, "client CRL: keeping the one in force", "file",
		       cfg->tls_client_crl_path, "error", why, NULL);
		return;
	}
	c->number = f.crl_number;
	char num[24], n[24];
	snprintf(num, sizeof(num), "%llu", (unsigned long long)f.crl_number);
	snprintf(n, sizeof(n), "%zu", f.n_revoked);
	log_kv(CLOG_INFO, "client CRL reloaded", "file", cfg->tls_client_crl_path, "crl_number",
	       num, "revoked", n, NULL);
}

static void *crl_main(void *arg)
{
	struct agent_crl *c = arg;
	const struct settings *cfg = c->cfg;
	int64_t next_fetch = util_mono_ms() + cfg->tls_client_crl_refresh_s * 1000;
	pthread_mutex_lock(&c->mu);
	while (!c->stop) {
		pthread_mutex_unlock(&c->mu);
		if (cfg->tls_client_crl_url[0] && util_mono_ms() >= next_fetch) {
			char why[512];
			int64_t wait_s = cfg->tls_client_crl_refresh_s;
			if (fetch(cfg, c->number, why, sizeof(why)) < 0) {
				log_kv(CLOG_WARN, "client CRL: fetch failed; keeping the last one",
				       "error", why, NULL);
				if (wait_s > AGENT_CRL_RETRY_S)
					wait_s = AGENT_CRL_RETRY_S;
			}
			next_fetch = util_mono_ms() + wait_s * 1000;
		}
		reload_if_changed(c);
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += (long)(AGENT_CRL_FILE_POLL_MS % 1000) * 1000000L;
		until.tv_sec += AGENT_CRL_FILE_POLL_MS / 1000 + until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&c->mu);
		if (!c->stop)
			(void)pthread_cond_timedwait(&c->cv, &c->mu, &until);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

int agent_crl_start(const struct settings *cfg, struct http_server *http, struct agent_crl **out,
		    char *err, size_t errlen)
{
	*out = NULL;
	if (!cfg->tls_enabled || !cfg->tls_client_ca_path[0] || !cfg->tls_client_crl_path[0])
		return 0;
	struct agent_crl *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->cfg = cfg;
	c->http = http;
	/* The server loaded this file at start: remember it as seen, with its number. */
	if (stat(cfg->tls_client_crl_path, &c->seen) == 0) {
		c->have_seen = true;
		char *pem = NULL;
		size_t len = 0;
		struct ca_crl_facts f;
		if (fsx_read_file(cfg->tls_client_crl_path, AGENT_CRL_MAX_BYTES, &pem, &len) == 0 &&
		    ca_crl_facts(pem, len, &f) == 0)
			c->number = f.crl_number;
		free(pem);
	}
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&c->mu, NULL);
	if (pthread_create(&c->thread, NULL, crl_main, c) != 0) {
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->mu);
		free(c);
		snprintf(err, errlen, "cannot start the CRL thread");
		return -EAGAIN;
	}
	*out = c;
	return 0;
}

void agent_crl_stop(struct agent_crl *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	if (c->cfg->tls_client_crl_url[0])
		curl_global_cleanup();
	free(c);
}
