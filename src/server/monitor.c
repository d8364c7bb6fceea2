/*
 * monitor.c - cloisterd's fleet monitor, attested connections and termination (fleet.h).
 *
 * One thread owns one libcurl multi handle and an in-memory table of per-backend state (a hash
 * by id: when the next poll is due, consecutive failures, when the backend was last attested,
 * and one easy handle reused for its polls). The multi's connection cache is sized to the fleet,
 * so each agent keeps one warm mTLS connection between polls (a new handshake costs far more CPU
 * than a request on an open one).
 *
 * The loop runs sweeps. A sweep starts when a backend is due (or fleet_kick asked, or one poll
 * interval passed): it reloads the backend list from the store (pages of STORE_LIST_MAX, every
 * owner, so deletions, terminations and new backends are seen), queues every backend due now
 * (or within a small slack, so jittered due times batch together), runs at most max_concurrent
 * requests at once, and ends when the last one completes. A poll is GET /overview; a backend
 * with a policy (has_info) and no pin, or whose evidence is older than attest_interval_s, gets
 * GET /attestation?nonce= on a fresh connection instead, whose evidence is verified against the
 * policy and bound to the TLS key that connection presented (evidence.h), then that key is
 * pinned. Sweeps do not overlap; a poll's timeout bounds one.
 *
 * Results: a reply decides online/degraded (attested/unattested for a backend with a policy);
 * a failure (connect, TLS, timeout, HTTP status) counts, and after offline_after_failures in a
 * row the backend is offline with the failure named; the next try is at min(interval * 2^k,
 * backoff_max_s). Only a change of status is written to the store (with its audit record and a
 * history point); last_seen of every reached backend is written once per sweep in one
 * transaction (store_backend_seen_batch), so a sweep of a healthy fleet costs one write.
 *
 * Intel TDX evidence is verified against the collateral of [fleet] tdx_collateral_dir
 * (attest/tdx_dir.h), read and checked at start (a directory that cannot be used stops
 * cloisterd from starting) and re-read by the monitor thread at the start of a sweep when the
 * directory's entries changed (name, inode, size, mtime), or FLEET_TDX_RELOAD_S after the last
 * read: an operator refreshes the collateral by writing new files and renaming them in. A
 * re-read that fails keeps the collateral in use and logs why.
 *
 * Other threads talk to the monitor through a small queue under a mutex (kicks and forgets by
 * id) and curl_multi_wakeup; they never touch its table. fleet_curl_prepare and
 * fleet_terminate run on the caller's thread and read only the store.
 */
#include "server/fleet.h"

#include "fsx.h"
#include "json.h"
#include "log.h"
#include "prom.h"
#include "attest/tdx.h"
#include "attest/tdx_dir.h"
#include "server/ca.h"
#include "server/evidence.h"
#include "server/settings.h"
#include "util.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#define FLEET_REPLY_MAX_BYTES (64u * 1024) /* an /overview or terminate reply */
#define FLEET_QUEUE_MAX 1024               /* pending kicks/forgets; past it: reload all */
/* Connections to one agent address at once. A poll takes about a millisecond on a kept-alive
 * connection, so a few connections carry hundreds of backend records; every extra connection is
 * a mutual-TLS handshake (~5 ms of CPU here, ~4 ms at the agent) when a sweep starts cold. With
 * 32, a cold sweep over 1,000 records on 16 agents opened 512 handshakes on 2 CPUs and missed the
 * 10 s interval (33 s, 441 timeouts); with 8 it took 6.1 s, and 0.6 s on 4 agents (was 2.6 s):
 * bench/fleet_sweep, docs/benchmarks.md. */
#define FLEET_HOST_CONNECTIONS_MAX 8
#define FLEET_TEST_ROOTS_MAX_BYTES (256u * 1024)
#define FLEET_URL_MAX 512
#define FLEET_SWEEP_SLACK_MIN_MS 50
#define FLEET_HASH_BUCKETS_MIN 256u

enum job { JOB_NONE = 0, JOB_POLL, JOB_ATTEST };

struct bstate {
	struct bstate *next;    /* hash chain */
	struct store_backend b; /* the store's view at the start of the last sweep */
	uint64_t gen;           /* sweep generation it was last listed in */
	int64_t next_due_ms;    /* monotonic */
	unsigned failures;      /* consecutive */
	int64_t attested_ms;    /* monotonic time of the last verified evidence, 0 = never */
	bool unattested;        /* the policy accepted provider "none" evidence */
	bool degraded;          /* the last /overview said "degraded" */
	bool attest_hold;       /* evidence refused: not retried until kicked */
	bool forgotten;         /* forgotten while a request was in flight: freed when it ends */
	bool queued;
	enum job job;
	CURL *h;
	char pin[STORE_PIN_MAX + 1]; /* as read when the job started */
	unsigned char nonce[FLEET_NONCE_BYTES];
	char errbuf[CURL_ERROR_SIZE];
	struct util_buf reply;
	size_t reply_max;
	bool reply_overflow;
};

struct pending {
	char id[STORE_ID_BUF];
	bool forget;
};

struct fleet {
	struct server *srv;
	CURLM *multi;
	pthread_t thread;
	atomic_bool stop;

	/* Shared with other threads, under mu. */
	pthread_mutex_t mu;
	struct pending *q;
	size_t nq;
	bool kick_all;

	/* Monitor thread only. */
	struct bstate **buckets;
	size_t nbuckets, count;
	uint64_t gen;
	uint64_t rng;
	int64_t interval_ms, backoff_max_ms, attest_ms, slack_ms;
	unsigned max_concurrent, running;
	struct bstate **sweepq;
	size_t nsweep, sweep_pos, sweep_cap;
	bool sweep_active, want_sweep;
	int64_t sweep_started_ms, last_sweep_ms;
	struct timespec sweep_cpu0;
	size_t sweep_polled, sweep_ok, sweep_failed;
	char (*seen_ids)[STORE_ID_BUF];
	int64_t *seen_at;
	size_t nseen, seen_cap;

	uint8_t *test_roots; /* CLOISTERD_TEST_HOOKS builds only */
	size_t test_roots_len;

	/* Intel TDX collateral (monitor thread only after fleet_start); NULL: none configured. */
	struct tdx_collateral *tdx_col;
	uint64_t tdx_fp; /* dir_fingerprint when last read */
	int64_t tdx_read_ms;
	uint8_t *tdx_test_roots; /* CLOISTERD_TEST_HOOKS builds only */
	size_t tdx_test_roots_len;

	struct prom_family *m_sweep_s, *m_sweep_cpu, *m_sweep_n, *m_polls, *m_changes;
};

/* ---------------------------------------------------------------- small helpers */

static uint64_t rng_next(struct fleet *f)
{
	/* xorshift64*: jitter only needs to spread polls, not to be unpredictable */
	uint64_t x = f->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	f->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static int64_t jittered(struct fleet *f, int64_t base_ms)
{
	int64_t span = base_ms * f->srv->cfg->fleet_jitter_pct / 100;
	if (span <= 0)
		return base_ms;
	return base_ms - span + (int64_t)(rng_next(f) % (uint64_t)(2 * span + 1));
}

static size_t hash_id(const char *id, size_t nb)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ULL;
	return (size_t)(h % nb);
}

static struct bstate *state_find(struct fleet *f, const char *id)
{
	for (struct bstate *s = f->buckets[hash_id(id, f->nbuckets)]; s; s = s->next)
		if (strcmp(s->b.id, id) == 0)
			return s;
	return NULL;
}

static int state_grow(struct fleet *f)
{
	size_t nb = f->nbuckets * 2;
	struct bstate **n = calloc(nb, sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (size_t i = 0; i < f->nbuckets; i++) {
		struct bstate *s = f->buckets[i];
		while (s) {
			struct bstate *next = s->next;
			size_t k = hash_id(s->b.id, nb);
			s->next = n[k];
			n[k] = s;
			s = next;
		}
	}
	free(f->buckets);
	f->buckets = n;
	f->nbuckets = nb;
	return 0;
}

static struct bstate *state_add(struct fleet *f, const struct store_backend *b)
{
	if (f->count + 1 > f->nbuckets && state_grow(f) < 0)
		return NULL;
	struct bstate *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->b = *b;
	size_t k = hash_id(b->id, f->nbuckets);
	s->next = f->buckets[k];
	f->buckets[k] = s;
	f->count++;
	return s;
}

static void state_free(struct fleet *f, struct bstate *s)
{
	if (s->h) {
		if (s->job != JOB_NONE) {
			curl_multi_remove_handle(f->multi, s->h);
			f->running--;
		}
		curl_easy_cleanup(s->h);
	}
	free(s->reply.p);
	free(s);
}

/* Unlinks and frees; a sweep queue entry pointing at it is cleared first. */
static void state_remove(struct fleet *f, const char *id)
{
	struct bstate **pp = &f->buckets[hash_id(id, f->nbuckets)];
	for (; *pp; pp = &(*pp)->next) {
		struct bstate *s = *pp;
		if (strcmp(s->b.id, id) != 0)
			continue;
		*pp = s->next;
		f->count--;
		/* Started entries too (their queued flag is already down): sweep_end writes
		 * through every entry of the sweep queue. */
		for (size_t i = 0; i < f->nsweep; i++)
			if (f->sweepq[i] == s)
				f->sweepq[i] = NULL;
		state_free(f, s);
		return;
	}
}

/* Cuts s so that it stays valid UTF-8 (a multi-byte sequence cut by snprintf is dropped). */
static void trim_utf8(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && !util_utf8_valid(s, n))
		n--;
	s[n] = '\0';
}

static void fill_audit(struct store_audit *a, const char *action, const char *id,
		       const char *result)
{
	memset(a, 0, sizeof(*a));
	a->at = util_now_ns();
	snprintf(a->principal, sizeof(a->principal), "cloisterd");
	snprintf(a->action, sizeof(a->action), "%s", action);
	snprintf(a->resource, sizeof(a->resource), "/backends/%s", id);
	snprintf(a->result, sizeof(a->result), "%s", result);
}

/* https://<address><path>: a bare IPv6 address gets its brackets; no port is added. */
static int build_url(char *out, size_t cap, const char *address, const char *path)
{
	const char *colon = strchr(address, ':');
	bool bare_v6 = address[0] != '[' && colon && strchr(colon + 1, ':');
	int n = snprintf(out, cap, bare_v6 ? "https://[%s]%s" : "https://%s%s", address, path);
	return n < 0 || (size_t)n >= cap ? -E2BIG : 0;
}

/* ---------------------------------------------------------------- TLS to agents */

static int prepare(struct server *srv, CURL *h, const struct store_backend *b, const char *path,
		   bool for_terminate, char pin_out[STORE_PIN_MAX + 1], char *err, size_t errlen)
{
	if (!srv->ca) {
		snprintf(err, errlen, "cloisterd has no CA: cannot reach agents");
		return -EPERM;
	}
	if (!for_terminate && strcmp(b->status, "terminated") == 0) {
		snprintf(err, errlen, "the backend is terminated");
		return -EPERM;
	}
	if (!for_terminate && strcmp(b->status, "attestation_failed") == 0) {
		snprintf(err, errlen,
			 "attestation failed (%s): commands are refused until the backend "
			 "information is stored again",
			 b->last_error[0] ? b->last_error : "no detail");
		return -EPERM;
	}
	char pin[STORE_PIN_MAX + 1] = "";
	int rc = store_backend_pin_get(srv->store, b->id, pin);
	if (rc < 0) {
		snprintf(err, errlen, "%s", rc == -ENOENT ? "backend not found" : "store error");
		return rc == -ENOENT ? -ENOENT : -EIO;
	}
	if (!for_terminate && b->has_info && !pin[0]) {
		snprintf(err, errlen, "the backend has a policy and is not attested yet");
		return -EPERM;
	}
	char url[FLEET_URL_MAX];
	if (build_url(url, sizeof(url), b->address, path) < 0) {
		snprintf(err, errlen, "request path too long");
		return -E2BIG;
	}
	CURLcode c = curl_easy_setopt(h, CURLOPT_URL, url);
	c |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	c |= curl_easy_setopt(h, CURLOPT_PROXY, ""); /* agents are dialled directly */
	c |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	c |= curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	c |= curl_easy_setopt(h, CURLOPT_SSLCERT, ca_client_cert_path(srv));
	c |= curl_easy_setopt(h, CURLOPT_SSLKEY, ca_client_key_path(srv));
	c |= curl_easy_setopt(h, CURLOPT_CAINFO, ca_cert_path(srv));
	c |= curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	c |= curl_easy_setopt(h, CURLOPT_CRLFILE, ca_crl_path(srv));
	if (pin[0]) {
		/* The attested key is the identity: no CA chain is needed or wanted. */
		c |= curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, pin);
		c |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		c |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		c |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
		c |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	}
	if (c != CURLE_OK) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (pin_out)
		memcpy(pin_out, pin, sizeof(pin));
	return 0;
}

int fleet_curl_prepare(struct server *srv, CURL *h, const struct store_backend *b,
		       const char *path_and_query, char *err, size_t errlen)
{
	return prepare(srv, h, b, path_and_query, false, NULL, err, errlen);
}

/* A failed transfer in words an operator can act on. */
static void describe_failure(CURLcode c, const char *errbuf, long http, long os_errno, char *out,
			     size_t cap)
{
	const char *detail = errbuf && errbuf[0] ? errbuf : curl_easy_strerror(c);
	switch (c) {
	case CURLE_OK:
		snprintf(out, cap, "HTTP %ld", http);
		break;
	case CURLE_COULDNT_CONNECT:
		if (os_errno == ECONNREFUSED)
			snprintf(out, cap, "connection refused");
		else if (os_errno)
			snprintf(out, cap, "cannot connect: %s", strerror((int)os_errno));
		else
			snprintf(out, cap, "cannot connect: %s", detail);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(out, cap, "timeout");
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		snprintf(out, cap, "cannot resolve the host");
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		snprintf(out, cap, "TLS: certificate verify failed (%s)", detail);
		break;
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		snprintf(out, cap, "the agent's TLS key changed");
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
		snprintf(out, cap, "TLS: %s", detail);
		break;
	case CURLE_WRITE_ERROR:
		snprintf(out, cap, "reply larger than %u bytes", FLEET_REPLY_MAX_BYTES);
		break;
	default:
		snprintf(out, cap, "%s", detail);
		break;
	}
	trim_utf8(out);
}

/* ---------------------------------------------------------------- status changes */

static const char *const statuses_for_metrics[] = {
	"online",     "degraded",   "offline",    "attested", "attestation_failed",
	"terminated", "unattested", "unverified",
};

/* Writes a new status when it differs from the snapshot's, with its audit record. */
static void set_status(struct fleet *f, struct bstate *s, const char *status, const char *error,
		       int64_t seen_ns)
{
	if (strcmp(s->b.status, status) == 0 && strcmp(s->b.last_error, error ? error : "") == 0)
		return;
	if (strcmp(s->b.status, status) == 0 && strcmp(status, "offline") == 0)
		return; /* a different failure of an offline backend is not news */
	struct store_audit a;
	char result[STORE_RESULT_MAX + 1];
	snprintf(result, sizeof(result), "%s->%s", s->b.status, status);
	fill_audit(&a, "backends.status", s->b.id, result);
	int rc = store_backend_set_status(f->srv->store, s->b.id, status, error, seen_ns,
					  util_now_ns(), &a);
	if (rc < 0) {
		log_kv(CLOG_WARN, "monitor: cannot record a status", "backend", s->b.id, "status",
		       status, "error", store_last_error(), NULL);
		return;
	}
	bool changed = strcmp(s->b.status, status) != 0;
	if (changed) {
		const char *v[] = { status };
		prom_inc(f->m_changes, v, 1);
		log_kv(CLOG_INFO, "backend status", "backend", s->b.id, "name", s->b.name, "from",
		       s->b.status, "to", status, "error", error ? error : "", NULL);
	}
	snprintf(s->b.status, sizeof(s->b.status), "%s", status);
	snprintf(s->b.last_error, sizeof(s->b.last_error), "%s", error ? error : "");
}

static void seen(struct fleet *f, struct bstate *s)
{
	if (f->nseen == f->seen_cap) {
		size_t cap = f->seen_cap ? f->seen_cap * 2 : 64;
		void *ids = realloc(f->seen_ids, cap * sizeof(*f->seen_ids));
		if (!ids)
			return;
		f->seen_ids = ids;
		int64_t *at = realloc(f->seen_at, cap * sizeof(*at));
		if (!at)
			return;
		f->seen_at = at;
		f->seen_cap = cap;
	}
	memcpy(f->seen_ids[f->nseen], s->b.id, STORE_ID_BUF);
	f->seen_at[f->nseen] = util_now_ns();
	f->nseen++;
}

static void schedule_ok(struct fleet *f, struct bstate *s, int64_t now)
{
	s->failures = 0;
	s->next_due_ms = now + jittered(f, f->interval_ms);
}

static void poll_failed(struct fleet *f, struct bstate *s, const char *why, int64_t now)
{
	s->failures++;
	f->sweep_failed++;
	const char *v[] = { "failed" };
	prom_inc(f->m_polls, v, 1);
	int64_t wait = f->interval_ms;
	for (unsigned k = 1; k < s->failures && wait < f->backoff_max_ms; k++)
		wait *= 2;
	if (wait > f->backoff_max_ms)
		wait = f->backoff_max_ms;
	s->next_due_ms = now + jittered(f, wait);
	if (s->failures >= (unsigned)f->srv->cfg->fleet_offline_after)
		set_status(f, s, "offline", why, 0);
	else
		log_kv(CLOG_DEBUG, "monitor: poll failed", "backend", s->b.id, "error", why, NULL);
}

static void attestation_failed(struct fleet *f, struct bstate *s, const char *why, int64_t now)
{
	const char *v[] = { "attestation_failed" };
	prom_inc(f->m_polls, v, 1);
	s->attest_hold = true;
	s->attested_ms = 0;
	s->failures = 0;
	s->next_due_ms = now + f->interval_ms;
	f->sweep_failed++;
	set_status(f, s, "attestation_failed", why, util_now_ns());
}

/* ---------------------------------------------------------------- jobs */

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct bstate *s = ud;
	size_t n = size * nmemb;
	if (s->reply.len + n > s->reply_max) {
		s->reply_overflow = true;
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	util_buf_put(&s->reply, ptr, n);
	return s->reply.oom ? 0 : n;
}

static long agent_timeout_s(const struct fleet *f)
{
	/* A hung agent must not hold a sweep much past one interval. */
	long t = (long)(f->interval_ms / 1000);
	if (t < 2)
		t = 2;
	return t > FLEET_AGENT_TIMEOUT_S ? FLEET_AGENT_TIMEOUT_S : t;
}

static int job_start(struct fleet *f, struct bstate *s, int64_t now)
{
	char err[256];
	if (!s->h && !(s->h = curl_easy_init()))
		return -ENOMEM;
	curl_easy_reset(s->h);
	free(s->reply.p);
	memset(&s->reply, 0, sizeof(s->reply));
	s->reply_overflow = false;
	s->errbuf[0] = '\0';
	bool attest = false;
	if (s->b.has_info) {
		int rc = store_backend_pin_get(f->srv->store, s->b.id, s->pin);
		if (rc < 0)
			return rc;
		attest = !s->pin[0] || !s->attested_ms || now - s->attested_ms >= f->attest_ms;
	}
	int rc;
	if (attest) {
		/* The evidence must come over the very connection whose key it binds: a fresh
		 * one, closed afterwards, and no chain check (the evidence is the identity). */
		char path[sizeof("/attestation?nonce=") + 2 * FLEET_NONCE_BYTES];
		char hex[2 * FLEET_NONCE_BYTES + 1];
		if (RAND_bytes(s->nonce, sizeof(s->nonce)) != 1)
			return -EIO;
		util_hex(hex, s->nonce, sizeof(s->nonce));
		snprintf(path, sizeof(path), "/attestation?nonce=%s", hex);
		/* for_terminate: the status and pin checks were made by the caller (pollable). */
		rc = prepare(f->srv, s->h, &s->b, path, true, NULL, err, sizeof(err));
		if (rc == 0 && (curl_easy_setopt(s->h, CURLOPT_PINNEDPUBLICKEY, NULL) != CURLE_OK ||
				curl_easy_setopt(s->h, CURLOPT_SSL_VERIFYPEER, 0L) != CURLE_OK ||
				curl_easy_setopt(s->h, CURLOPT_SSL_VERIFYHOST, 0L) != CURLE_OK ||
				curl_easy_setopt(s->h, CURLOPT_FRESH_CONNECT, 1L) != CURLE_OK ||
				curl_easy_setopt(s->h, CURLOPT_FORBID_REUSE, 1L) != CURLE_OK ||
				curl_easy_setopt(s->h, CURLOPT_CERTINFO, 1L) != CURLE_OK))
			rc = -ENOMEM;
		s->reply_max = EVIDENCE_MAX_BYTES;
		s->job = JOB_ATTEST;
	} else {
		rc = prepare(f->srv, s->h, &s->b, "/overview", false, s->pin, err, sizeof(err));
		s->reply_max = FLEET_REPLY_MAX_BYTES;
		s->job = JOB_POLL;
	}
	if (rc < 0) {
		s->job = JOB_NONE;
		log_kv(CLOG_DEBUG, "monitor: not polled", "backend", s->b.id, "reason", err, NULL);
		return rc;
	}
	long tmo = agent_timeout_s(f);
	CURLcode c = curl_easy_setopt(s->h, CURLOPT_TIMEOUT, tmo);
	c |= curl_easy_setopt(s->h, CURLOPT_CONNECTTIMEOUT, tmo);
	c |= curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_data);
	c |= curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
	c |= curl_easy_setopt(s->h, CURLOPT_ERRORBUFFER, s->errbuf);
	c |= curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
	c |= curl_easy_setopt(s->h, CURLOPT_MAXAGE_CONN, (long)(2 * f->interval_ms / 1000 + 30));
	if (c != CURLE_OK || curl_multi_add_handle(f->multi, s->h) != CURLM_OK) {
		s->job = JOB_NONE;
		return -ENOMEM;
	}
	f->running++;
	f->sweep_polled++;
	return 0;
}

/* The leaf certificate's SubjectPublicKeyInfo, DER, from the transfer's certificate info. */
static int peer_spki(CURL *h, unsigned char **der, int *len)
{
	struct curl_certinfo *ci = NULL;
	if (curl_easy_getinfo(h, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci || ci->num_of_certs < 1)
		return -ENOENT;
	for (struct curl_slist *l = ci->certinfo[0]; l; l = l->next) {
		if (strncmp(l->data, "Cert:", 5) != 0)
			continue;
		BIO *bio = BIO_new_mem_buf(l->data + 5, -1);
		X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
		BIO_free(bio);
		if (!x)
			return -EINVAL;
		*der = NULL;
		*len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), der);
		X509_free(x);
		return *len > 0 ? 0 : -EINVAL;
	}
	return -ENOENT;
}

/* "sha256//" + base64(SHA-256(spki)), libcurl's CURLOPT_PINNEDPUBLICKEY form. */
static int pin_of(const unsigned char *spki, size_t len, char out[STORE_PIN_MAX + 1])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	if (EVP_Digest(spki, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != sizeof(md))
		return -EIO;
	memcpy(out, "sha256//", 8);
	int n = EVP_EncodeBlock((unsigned char *)out + 8, md, (int)sizeof(md));
	if (n <= 0 || 8 + n > STORE_PIN_MAX)
		return -EIO;
	out[8 + n] = '\0';
	return 0;
}

static void attest_done(struct fleet *f, struct bstate *s, int64_t now)
{
	char why[STORE_ERROR_MAX + 1];
	unsigned char *spki = NULL;
	int spki_len = 0;
	if (peer_spki(s->h, &spki, &spki_len) < 0) {
		poll_failed(f, s, "attestation: no peer certificate on the connection", now);
		return;
	}
	char *policy = NULL;
	size_t policy_len = 0;
	int rc = store_backend_info_get(f->srv->store, s->b.id, &policy, &policy_len);
	if (rc < 0) {
		OPENSSL_free(spki);
		log_kv(CLOG_WARN, "monitor: cannot read the policy", "backend", s->b.id, NULL);
		s->next_due_ms = now + f->interval_ms;
		return;
	}
	struct evidence_opts o = {
		.now = util_now_ns() / 1000000000LL,
		.test_roots = f->test_roots,
		.test_roots_len = f->test_roots_len,
		.tdx_collateral = f->tdx_col,
	};
	char err[STORE_ERROR_MAX + 1 - (sizeof("attestation: ") - 1)] = "";
	json_t *verdict = NULL;
	int v = evidence_verify(s->reply.p ? s->reply.p : "", s->reply.len, policy, policy_len,
				spki, (size_t)spki_len, s->nonce, sizeof(s->nonce), &o, err,
				sizeof(err), &verdict);
	json_decref(verdict);
	free(policy);
	char pin[STORE_PIN_MAX + 1];
	rc = pin_of(spki, (size_t)spki_len, pin);
	OPENSSL_free(spki);
	seen(f, s);
	if (v != EVIDENCE_OK && v != EVIDENCE_UNATTESTED) {
		snprintf(why, sizeof(why), "attestation: %s", err[0] ? err : "evidence refused");
		trim_utf8(why);
		attestation_failed(f, s, why, now);
		return;
	}
	if (rc < 0) {
		poll_failed(f, s, "attestation: cannot compute the key pin", now);
		return;
	}
	if (s->pin[0] && strcmp(s->pin, pin) != 0) {
		attestation_failed(f, s, "the agent's TLS key changed", now);
		return;
	}
	if (!s->pin[0]) {
		struct store_audit a;
		fill_audit(&a, "backends.pin", s->b.id, "ok");
		rc = store_backend_pin_set(f->srv->store, s->b.id, pin, &a);
		if (rc < 0) {
			log_kv(CLOG_WARN, "monitor: cannot store the key pin", "backend", s->b.id,
			       "error", store_last_error(), NULL);
			s->next_due_ms = now + f->interval_ms;
			return;
		}
		memcpy(s->pin, pin, sizeof(pin));
	}
	const char *ok[] = { "attested" };
	prom_inc(f->m_polls, ok, 1);
	f->sweep_ok++;
	s->attested_ms = now;
	s->unattested = v == EVIDENCE_UNATTESTED;
	s->attest_hold = false;
	schedule_ok(f, s, now);
	/* A degraded agent stays degraded: the evidence says nothing of its services. */
	set_status(f, s,
		   s->degraded     ? "degraded"
		   : s->unattested ? "unattested"
				   : "attested",
		   NULL, util_now_ns());
}

static void poll_done(struct fleet *f, struct bstate *s, int64_t now)
{
	json_error_t je;
	json_t *o = json_parse_strict(s->reply.p ? s->reply.p : "", s->reply.len, &je);
	const char *st = json_string_value(json_object_get(o, "status"));
	bool degraded = st && strcmp(st, "degraded") == 0;
	if (!st || (!degraded && strcmp(st, "ok") != 0)) {
		json_decref(o);
		poll_failed(f, s, "the agent's /overview reply has no status ok or degraded", now);
		return;
	}
	json_decref(o);
	const char *v[] = { "ok" };
	prom_inc(f->m_polls, v, 1);
	f->sweep_ok++;
	seen(f, s);
	schedule_ok(f, s, now);
	s->degraded = degraded;
	const char *status = degraded ? "degraded" : "online";
	if (s->b.has_info && !degraded)
		status = s->unattested ? "unattested" : "attested";
	set_status(f, s, status, NULL, util_now_ns());
}

static void job_done(struct fleet *f, CURL *h, CURLcode c)
{
	char *priv = NULL;
	curl_easy_getinfo(h, CURLINFO_PRIVATE, &priv);
	struct bstate *s = (struct bstate *)(void *)priv;
	curl_multi_remove_handle(f->multi, h);
	f->running--;
	if (!s)
		return;
	enum job job = s->job;
	s->job = JOB_NONE;
	if (s->forgotten) {
		/* Terminated or deleted meanwhile: the answer changes nothing. */
		state_remove(f, s->b.id);
		return;
	}
	int64_t now = util_mono_ms();
	long http = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http);
	char why[STORE_ERROR_MAX + 1];
	if (c == CURLE_SSL_PINNEDPUBKEYNOTMATCH) {
		attestation_failed(f, s, "the agent's TLS key changed", now);
		return;
	}
	if (c != CURLE_OK || http != 200) {
		char d[STORE_ERROR_MAX + 1 - (sizeof("attestation: ") - 1)];
		long os_errno = 0;
		curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
		describe_failure(s->reply_overflow ? CURLE_WRITE_ERROR : c, s->errbuf, http,
				 os_errno, d, sizeof(d));
		snprintf(why, sizeof(why), "%s%s", job == JOB_ATTEST ? "attestation: " : "", d);
		trim_utf8(why);
		poll_failed(f, s, why, now);
		return;
	}
	if (job == JOB_ATTEST)
		attest_done(f, s, now);
	else
		poll_done(f, s, now);
}

/* ---------------------------------------------------------------- sweeps */

static void apply_queue(struct fleet *f)
{
	pthread_mutex_lock(&f->mu);
	struct pending *q = f->q;
	size_t n = f->nq;
	bool all = f->kick_all;
	f->q = NULL;
	f->nq = 0;
	f->kick_all = false;
	pthread_mutex_unlock(&f->mu);
	int64_t now = util_mono_ms();
	for (size_t i = 0; i < n; i++) {
		struct bstate *s = state_find(f, q[i].id);
		if (q[i].forget) {
			/* A request in flight is left to finish (job_done frees the state then):
			 * taking a handle out of the multi mid-handshake is the one path of
			 * libcurl's this loop otherwise never takes. */
			if (s && s->job != JOB_NONE)
				s->forgotten = true;
			else if (s)
				state_remove(f, q[i].id);
			continue;
		}
		if (s) {
			/* A new policy, address or name: re-attest and poll now. */
			s->attest_hold = false;
			s->attested_ms = 0;
			s->failures = 0;
			s->next_due_ms = now;
		}
		f->want_sweep = true;
	}
	free(q);
	if (all) {
		for (size_t i = 0; i < f->nbuckets; i++)
			for (struct bstate *s = f->buckets[i]; s; s = s->next)
				s->next_due_ms = now;
		f->want_sweep = true;
	}
}

static int queue_push(struct fleet *f, struct bstate *s)
{
	if (f->nsweep == f->sweep_cap) {
		size_t cap = f->sweep_cap ? f->sweep_cap * 2 : 256;
		struct bstate **n = realloc(f->sweepq, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		f->sweepq = n;
		f->sweep_cap = cap;
	}
	f->sweepq[f->nsweep++] = s;
	s->queued = true;
	return 0;
}

/* Should this backend be polled at all now? */
static bool pollable(const struct bstate *s)
{
	if (strcmp(s->b.status, "terminated") == 0)
		return false;
	if (strcmp(s->b.status, "attestation_failed") == 0)
		return s->b.has_info && !s->attest_hold && !s->pin[0];
	return true;
}

/* ---------------------------------------------------------------- TDX collateral */

/* A fingerprint of a directory's entries (name, inode, size, mtime of each): a file renamed
 * in, rewritten or removed changes it, even within one tick of the directory's own mtime.
 * 0 when the directory cannot be read. */
static uint64_t dir_fingerprint(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	uint64_t sum = 0x9e3779b97f4a7c15ULL;
	struct dirent *e;
	unsigned n = 0;
	while ((e = readdir(d)) && n++ < TDX_DIR_MAX_ENTRIES * 2) {
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		/* FNV-1a over the name and the numbers; entries are summed, so order is moot. */
		uint64_t h = 0xcbf29ce484222325ULL;
		for (const char *c = e->d_name; *c; c++)
			h = (h ^ (unsigned char)*c) * 0x100000001b3ULL;
		const uint64_t v[] = { (uint64_t)st.st_ino, (uint64_t)st.st_size,
				       (uint64_t)st.st_mtim.tv_sec, (uint64_t)st.st_mtim.tv_nsec };
		for (size_t i = 0; i < ARRAY_SIZE(v); i++)
			h = (h ^ v[i]) * 0x100000001b3ULL;
		sum += h;
	}
	closedir(d);
	return sum;
}

/* Reads and checks [fleet] tdx_collateral_dir. Returns 0 with *out (NULL when none is
 * configured), or -errno with err naming the file or the failed check. */
static int tdx_collateral_read(const struct fleet *f, struct tdx_collateral **out, char *err,
			       size_t errlen)
{
	*out = NULL;
	const char *dir = f->srv->cfg->fleet_tdx_collateral_dir;
	if (!dir || !dir[0])
		return 0;
	struct tdx_collateral_dir d;
	char derr[512];
	int rc = tdx_collateral_dir_read(dir, &d, derr, sizeof(derr));
	if (rc < 0)
		return util_errf(err, errlen, rc, "%s: %s", dir, derr);
	if (d.o.n_tcb_info == 0) {
		tdx_collateral_dir_done(&d);
		return util_errf(err, errlen, -EINVAL,
				 "%s: no TCB info (tcbinfo*.json or collateral_bundle.json)", dir);
	}
	d.o.test_roots = f->tdx_test_roots;
	d.o.test_roots_len = f->tdx_test_roots_len;
	struct tdx_verdict v;
	struct tdx_collateral *c = tdx_collateral_new(&d.o, &v);
	tdx_collateral_dir_done(&d);
	if (!c)
		return util_errf(err, errlen, -ENOMEM, "out of memory");
	if (v.reason != TDX_OK) {
		tdx_collateral_free(c);
		return util_errf(err, errlen, -EINVAL, "%s: %s: %s", dir, tdx_reason_name(v.reason),
				 v.detail);
	}
	*out = c;
	return 0;
}

/* At a sweep's start: re-reads the collateral when its directory's fingerprint changed or it
 * is FLEET_TDX_RELOAD_S old; a failure keeps the one in use. The fingerprint is taken before
 * reading, so a change made during the read is seen at the next sweep. */
static void tdx_collateral_refresh(struct fleet *f, int64_t now)
{
	const char *dir = f->srv->cfg->fleet_tdx_collateral_dir;
	if (!dir || !dir[0])
		return;
	uint64_t fp = dir_fingerprint(dir);
	bool changed = fp != f->tdx_fp;
	if (!changed && now - f->tdx_read_ms < FLEET_TDX_RELOAD_S * 1000LL)
		return;
	/* Tried once per change (or period), so a broken update is not re-read every sweep. */
	f->tdx_read_ms = now;
	f->tdx_fp = fp;
	struct tdx_collateral *c = NULL;
	char err[640];
	if (tdx_collateral_read(f, &c, err, sizeof(err)) < 0) {
		log_kv(CLOG_WARN,
		       "monitor: cannot re-read the TDX collateral: keeping the loaded one",
		       "error", err, NULL);
		return;
	}
	tdx_collateral_free(f->tdx_col);
	f->tdx_col = c;
	if (changed) {
		char n[24];
		snprintf(n, sizeof(n), "%zu", tdx_collateral_tcb_infos(c));
		log_kv(CLOG_INFO, "monitor: TDX collateral re-read", "dir", dir, "tcb_infos", n,
		       NULL);
	}
}

static void sweep_begin(struct fleet *f, int64_t now)
{
	tdx_collateral_refresh(f, now);
	f->gen++;
	f->nsweep = f->sweep_pos = 0;
	f->nseen = 0;
	f->sweep_polled = f->sweep_ok = f->sweep_failed = 0;
	f->sweep_started_ms = now;
	f->last_sweep_ms = now;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &f->sweep_cpu0);
	struct store_backend_filter flt = { .limit = STORE_LIST_MAX };
	bool complete = true;
	for (;;) {
		struct store_backend *rows = NULL;
		size_t n = 0;
		uint64_t total = 0;
		int rc = store_backend_list(f->srv->store, &flt, &rows, &n, &total);
		if (rc < 0) {
			log_kv(CLOG_WARN, "monitor: cannot list backends", "error",
			       store_last_error(), NULL);
			complete = false;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			struct bstate *s = state_find(f, rows[i].id);
			if (!s) {
				s = state_add(f, &rows[i]);
				if (!s)
					continue;
				s->next_due_ms = now;
				/* A pin from before a restart: re-attest now, and a refused one
				 * stays refused until the policy is stored again. */
				if (rows[i].has_info &&
				    store_backend_pin_get(f->srv->store, rows[i].id, s->pin) < 0)
					s->pin[0] = '\0';
			} else if (s->job == JOB_NONE) {
				s->b = rows[i];
				/* A new policy clears the pin: notice it. */
				if (rows[i].has_info &&
				    strcmp(rows[i].status, "attestation_failed") == 0 &&
				    store_backend_pin_get(f->srv->store, rows[i].id, s->pin) < 0)
					s->pin[0] = '\0';
			}
			s->gen = f->gen;
		}
		free(rows);
		flt.offset += n;
		if (n < STORE_LIST_MAX || flt.offset >= total)
			break;
	}
	/* Drop what the store no longer lists (deleted behind our back). */
	for (size_t i = 0; complete && i < f->nbuckets; i++) {
		struct bstate *s = f->buckets[i];
		while (s) {
			struct bstate *next = s->next;
			if (s->gen != f->gen && s->job == JOB_NONE)
				state_remove(f, s->b.id);
			s = next;
		}
	}
	int64_t horizon = now + f->slack_ms;
	for (size_t i = 0; i < f->nbuckets; i++) {
		for (struct bstate *s = f->buckets[i]; s; s = s->next) {
			if (s->job != JOB_NONE || s->next_due_ms > horizon || !pollable(s))
				continue;
			if (queue_push(f, s) < 0)
				break;
		}
	}
	curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, (long)(f->count + 16));
	f->sweep_active = true;
	f->want_sweep = false;
}

static void sweep_end(struct fleet *f)
{
	struct timespec cpu1;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
	if (f->nseen) {
		const char **ids = malloc(f->nseen * sizeof(*ids));
		if (ids) {
			for (size_t i = 0; i < f->nseen; i++)
				ids[i] = f->seen_ids[i];
			int rc = store_backend_seen_batch(f->srv->store, ids, f->seen_at, f->nseen);
			if (rc < 0)
				log_kv(CLOG_WARN, "monitor: cannot record last_seen", "error",
				       store_last_error(), NULL);
			free(ids);
		}
	}
	double wall = (double)(util_mono_ms() - f->sweep_started_ms) / 1e3;
	double cpu = (double)(cpu1.tv_sec - f->sweep_cpu0.tv_sec) +
		     (double)(cpu1.tv_nsec - f->sweep_cpu0.tv_nsec) / 1e9;
	/* A reload that polled nothing would hide the last real sweep from bench. */
	if (f->sweep_polled) {
		prom_set(f->m_sweep_s, NULL, wall);
		prom_set(f->m_sweep_cpu, NULL, cpu);
		prom_set(f->m_sweep_n, NULL, (double)f->sweep_polled);
	}
	char nb[24], np[24], nok[24], nf[24], ws[32], cs[32];
	snprintf(nb, sizeof(nb), "%zu", f->count);
	snprintf(np, sizeof(np), "%zu", f->sweep_polled);
	snprintf(nok, sizeof(nok), "%zu", f->sweep_ok);
	snprintf(nf, sizeof(nf), "%zu", f->sweep_failed);
	snprintf(ws, sizeof(ws), "%.6f", wall);
	snprintf(cs, sizeof(cs), "%.6f", cpu);
	if (f->sweep_polled)
		log_kv(CLOG_DEBUG, "monitor sweep", "backends", nb, "polled", np, "ok", nok,
		       "failed", nf, "wall_s", ws, "cpu_s", cs, NULL);
	for (size_t i = 0; i < f->nsweep; i++)
		if (f->sweepq[i])
			f->sweepq[i]->queued = false;
	f->nsweep = f->sweep_pos = 0;
	f->sweep_active = false;
}

static void start_queued(struct fleet *f)
{
	int64_t now = util_mono_ms();
	while (f->sweep_pos < f->nsweep && f->running < f->max_concurrent) {
		struct bstate *s = f->sweepq[f->sweep_pos++];
		if (!s)
			continue;
		s->queued = false;
		if (job_start(f, s, now) < 0)
			s->next_due_ms = now + f->interval_ms;
	}
}

static int64_t earliest_due(struct fleet *f)
{
	int64_t e = INT64_MAX;
	for (size_t i = 0; i < f->nbuckets; i++)
		for (struct bstate *s = f->buckets[i]; s; s = s->next)
			if (s->job == JOB_NONE && pollable(s) && s->next_due_ms < e)
				e = s->next_due_ms;
	return e;
}

static void *monitor_main(void *arg)
{
	struct fleet *f = arg;
	while (!atomic_load(&f->stop)) {
		apply_queue(f);
		int64_t now = util_mono_ms();
		if (!f->sweep_active) {
			int64_t due = earliest_due(f);
			if (f->want_sweep || due <= now || now - f->last_sweep_ms >= f->interval_ms)
				sweep_begin(f, now);
		}
		if (f->sweep_active)
			start_queued(f);
		int still = 0;
		curl_multi_perform(f->multi, &still);
		CURLMsg *m;
		int left;
		while ((m = curl_multi_info_read(f->multi, &left)))
			if (m->msg == CURLMSG_DONE)
				job_done(f, m->easy_handle, m->data.result);
		if (f->sweep_active) {
			start_queued(f);
			if (f->sweep_pos >= f->nsweep && f->running == 0)
				sweep_end(f);
		}
		int wait_ms = 1000;
		if (f->sweep_active) {
			long t = -1;
			curl_multi_timeout(f->multi, &t);
			if (t >= 0 && t < wait_ms)
				wait_ms = (int)t;
		} else {
			now = util_mono_ms();
			int64_t next = earliest_due(f);
			int64_t reload = f->last_sweep_ms + f->interval_ms;
			if (reload < next)
				next = reload;
			int64_t d = next - now;
			wait_ms = d <= 0 ? 0 : (d < 1000 ? (int)d : 1000);
		}
		if (f->want_sweep && !f->sweep_active)
			wait_ms = 0;
		curl_multi_poll(f->multi, NULL, 0, wait_ms, NULL);
	}
	return NULL;
}

/* ---------------------------------------------------------------- start, stop, queue */

#ifdef CLOISTERD_TEST_HOOKS
/* The test roots file named by env (absent or empty: none), logged loudly. */
static int load_test_roots(const char *env, const char *what, uint8_t **out, size_t *out_len,
			   char *err, size_t errlen)
{
	const char *path = getenv(env);
	if (!path || !path[0])
		return 0;
	char *buf = NULL;
	size_t len = 0;
	int rc = fsx_read_file(path, FLEET_TEST_ROOTS_MAX_BYTES, &buf, &len);
	if (rc < 0) {
		snprintf(err, errlen, "%s %s: %s", env, path, strerror(-rc));
		return rc;
	}
	*out = (uint8_t *)buf;
	*out_len = len;
	char msg[128];
	snprintf(msg, sizeof(msg), "TEST BUILD: %s accepted under test roots", what);
	log_kv(CLOG_WARN, msg, "file", path, NULL);
	return 0;
}
#endif

int fleet_start(struct server *srv, char *err, size_t errlen)
{
	if (srv->fleet || !srv->cfg->fleet_enabled)
		return 0;
	struct fleet *f = calloc(1, sizeof(*f));
	if (!f) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	f->srv = srv;
	pthread_mutex_init(&f->mu, NULL);
	const struct server_settings *c = srv->cfg;
	f->interval_ms = c->fleet_poll_interval_s * 1000;
	f->backoff_max_ms = c->fleet_backoff_max_s * 1000;
	f->attest_ms = c->fleet_attest_interval_s * 1000;
	f->max_concurrent = (unsigned)c->fleet_max_concurrent;
	f->slack_ms = f->interval_ms * c->fleet_jitter_pct / 200;
	if (f->slack_ms < FLEET_SWEEP_SLACK_MIN_MS)
		f->slack_ms = FLEET_SWEEP_SLACK_MIN_MS;
	if (getrandom(&f->rng, sizeof(f->rng), 0) != sizeof(f->rng) || !f->rng)
		f->rng = (uint64_t)util_now_ns() | 1;
	f->nbuckets = FLEET_HASH_BUCKETS_MIN;
	f->buckets = calloc(f->nbuckets, sizeof(*f->buckets));
	f->multi = curl_multi_init();
	const char *result_l[] = { "result", NULL };
	const char *to_l[] = { "to", NULL };
	f->m_sweep_s = prom_family(srv->prom, PROM_GAUGE, "cloisterd_monitor_sweep_seconds",
				   "Wall time of the last monitoring sweep.", NULL, NULL, 0);
	f->m_sweep_cpu =
		prom_family(srv->prom, PROM_GAUGE, "cloisterd_monitor_sweep_cpu_seconds",
			    "CPU time the monitor thread used in the last sweep.", NULL, NULL, 0);
	f->m_sweep_n = prom_family(srv->prom, PROM_GAUGE, "cloisterd_monitor_sweep_backends",
				   "Backends polled in the last sweep.", NULL, NULL, 0);
	f->m_polls =
		prom_family(srv->prom, PROM_COUNTER, "cloisterd_monitor_polls_total",
			    "Agent polls by result (ok, failed, attested, attestation_failed).",
			    result_l, NULL, 0);
	f->m_changes =
		prom_family(srv->prom, PROM_COUNTER, "cloisterd_backend_status_changes_total",
			    "Backend status changes by the new status.", to_l, NULL, 0);
	if (!f->buckets || !f->multi || !f->m_sweep_s || !f->m_sweep_cpu || !f->m_sweep_n ||
	    !f->m_polls || !f->m_changes) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	prom_set(f->m_sweep_s, NULL, 0);
	prom_set(f->m_sweep_cpu, NULL, 0);
	prom_set(f->m_sweep_n, NULL, 0);
	static const char *const results[] = { "ok", "failed", "attested", "attestation_failed" };
	for (size_t i = 0; i < ARRAY_SIZE(results); i++) {
		const char *v[] = { results[i] };
		prom_inc(f->m_polls, v, 0);
	}
	for (size_t i = 0; i < ARRAY_SIZE(statuses_for_metrics); i++) {
		const char *v[] = { statuses_for_metrics[i] };
		prom_inc(f->m_changes, v, 0);
	}
	curl_multi_setopt(f->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
			  (long)FLEET_HOST_CONNECTIONS_MAX);
#ifdef CLOISTERD_TEST_HOOKS
	if (load_test_roots("CLOISTERD_TEST_SNP_ROOTS", "SEV-SNP evidence is", &f->test_roots,
			    &f->test_roots_len, err, errlen) < 0 ||
	    load_test_roots("CLOISTERD_TEST_TDX_ROOTS", "Intel TDX collateral and quotes are",
			    &f->tdx_test_roots, &f->tdx_test_roots_len, err, errlen) < 0)
		goto fail;
#endif
	f->tdx_fp = f->srv->cfg->fleet_tdx_collateral_dir[0]
			    ? dir_fingerprint(f->srv->cfg->fleet_tdx_collateral_dir)
			    : 0;
	if (tdx_collateral_read(f, &f->tdx_col, err, errlen) < 0)
		goto fail;
	f->tdx_read_ms = util_mono_ms();
	f->want_sweep = true;
	if (pthread_create(&f->thread, NULL, monitor_main, f) != 0) {
		snprintf(err, errlen, "cannot start the monitor thread");
		goto fail;
	}
	srv->fleet = f;
	char iv[24];
	snprintf(iv, sizeof(iv), "%lld", c->fleet_poll_interval_s);
	log_kv(CLOG_INFO, "monitor started", "interval_s", iv, NULL);
	return 0;
fail:
	curl_multi_cleanup(f->multi);
	free(f->buckets);
	free(f->test_roots);
	free(f->tdx_test_roots);
	tdx_collateral_free(f->tdx_col);
	pthread_mutex_destroy(&f->mu);
	free(f);
	return -ENOMEM;
}

void fleet_stop(struct server *srv)
{
	struct fleet *f = srv ? srv->fleet : NULL;
	if (!f)
		return;
	atomic_store(&f->stop, true);
	curl_multi_wakeup(f->multi);
	pthread_join(f->thread, NULL);
	srv->fleet = NULL;
	for (size_t i = 0; i < f->nbuckets; i++) {
		struct bstate *s = f->buckets[i];
		while (s) {
			struct bstate *next = s->next;
			state_free(f, s);
			s = next;
		}
	}
	curl_multi_cleanup(f->multi);
	free(f->buckets);
	free(f->sweepq);
	free(f->seen_ids);
	free(f->seen_at);
	free(f->q);
	free(f->test_roots);
	free(f->tdx_test_roots);
	tdx_collateral_free(f->tdx_col);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

static void enqueue(struct server *srv, const char *id, bool forget)
{
	struct fleet *f = srv ? srv->fleet : NULL;
	if (!f || !id || strlen(id) != STORE_ID_CHARS)
		return;
	pthread_mutex_lock(&f->mu);
	if (f->nq >= FLEET_QUEUE_MAX) {
		/* A flood of kicks: one full reload serves them all; forgets are found by the
		 * reload too (the store no longer lists them). */
		f->kick_all = true;
	} else {
		struct pending *n = realloc(f->q, (f->nq + 1) * sizeof(*n));
		if (n) {
			f->q = n;
			memcpy(n[f->nq].id, id, STORE_ID_BUF);
			n[f->nq].forget = forget;
			f->nq++;
		} else {
			f->kick_all = true;
		}
	}
	pthread_mutex_unlock(&f->mu);
	curl_multi_wakeup(f->multi);
}

void fleet_kick(struct server *srv, const char *backend_id)
{
	enqueue(srv, backend_id, false);
}

void fleet_forget(struct server *srv, const char *backend_id)
{
	enqueue(srv, backend_id, true);
}

/* ---------------------------------------------------------------- termination */

struct sink {
	struct util_buf buf;
};

static size_t sink_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct sink *k = ud;
	size_t n = size * nmemb;
	if (k->buf.len + n > FLEET_REPLY_MAX_BYTES)
		return 0;
	util_buf_put(&k->buf, ptr, n);
	return k->buf.oom ? 0 : n;
}

/* POSTs the termination to the agent; true when it answered 200. */
static bool send_terminate(struct server *srv, const struct store_backend *b, int type,
			   const char *reason, char *detail, size_t cap)
{
	CURL *h = curl_easy_init();
	if (!h) {
		snprintf(detail, cap, "out of memory");
		return false;
	}
	bool ok = false;
	struct sink k = { 0 };
	struct curl_slist *hdr = NULL;
	char *body = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	int rc = prepare(srv, h, b, "/api/v1/terminate", true, NULL, detail, cap);
	if (rc < 0)
		goto out;
	json_t *o = json_pack("{s:i,s:s}", "type", type, "reason", reason ? reason : "");
	body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	hdr = curl_slist_append(NULL, "Content-Type: application/json");
	if (!body || !hdr) {
		snprintf(detail, cap, "out of memory");
		goto out;
	}
	CURLcode c = curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	c |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	c |= curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)FLEET_TERMINATE_TIMEOUT_S);
	c |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)FLEET_TERMINATE_TIMEOUT_S);
	c |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_data);
	c |= curl_easy_setopt(h, CURLOPT_WRITEDATA, &k);
	c |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	if (c != CURLE_OK) {
		snprintf(detail, cap, "out of memory");
		goto out;
	}
	c = curl_easy_perform(h);
	long http = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http);
	ok = c == CURLE_OK && http == 200;
	long os_errno = 0;
	curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
	if (!ok)
		describe_failure(c, errbuf, http, os_errno, detail, cap);
out:
	curl_slist_free_all(hdr);
	free(body);
	free(k.buf.p);
	curl_easy_cleanup(h);
	return ok;
}

int fleet_terminate_audited(struct server *srv, const char *backend_id, int type,
			    const char *reason, const struct store_audit *a, bool *agent_reached,
			    char *err, size_t errlen)
{
	bool reached = false;
	if (agent_reached)
		*agent_reached = false;
	struct store_backend b;
	int rc = store_backend_get(srv->store, backend_id, &b);
	if (rc < 0) {
		snprintf(err, errlen, "%s",
			 rc == -ENOENT ? "backend not found" : store_last_error());
		return rc == -ENOENT ? -ENOENT : -EIO;
	}
	char detail[STORE_ERROR_MAX + 1] = "";
	reached = send_terminate(srv, &b, type, reason, detail, sizeof(detail));
	char why[STORE_ERROR_MAX + 1];
	snprintf(why, sizeof(why), "terminated: %s%s%s",
		 type == 0 ? "certificate revocation" : "user initiated",
		 reason && reason[0] ? ": " : "", reason ? reason : "");
	trim_utf8(why);
	struct store_audit au;
	if (a)
		au = *a;
	else
		fill_audit(&au, "backends.terminate", b.id, "ok");
	snprintf(au.result, sizeof(au.result), "%s", reached ? "ok" : "ok: agent unreachable");
	int64_t now = util_now_ns();
	rc = store_backend_set_status(srv->store, b.id, "terminated", why, reached ? now : 0, now,
				      &au);
	if (rc < 0) {
		snprintf(err, errlen, "%s", store_last_error());
		return rc == -ENOENT ? -ENOENT : -EIO;
	}
	fleet_forget(srv, b.id);
	log_kv(CLOG_INFO, "backend terminated", "backend", b.id, "name", b.name, "type",
	       type == 0 ? "certificate revocation" : "user initiated", "agent",
	       reached ? "acknowledged" : "unreachable", "detail", detail, NULL);
	if (agent_reached)
		*agent_reached = reached;
	return 0;
}

int fleet_terminate(struct server *srv, const char *backend_id, int type, const char *reason,
		    bool *agent_reached, char *err, size_t errlen)
{
	return fleet_terminate_audited(srv, backend_id, type, reason, NULL, agent_reached, err,
				       errlen);
}
