/*
 * audit.c - cloisterd's audit trail: filling records from a request, recording denied and failed
 * requests on their own, and GET /audit for admins.
 *
 * A successful mutation passes its record (audit_fill) to the store call that makes the change,
 * so the two commit together. Requests that change nothing (denied, invalid, failed) are
 * recorded with audit_record, in their own small transaction; if that write fails the request
 * still gets its answer and the failure is counted (cloisterd_audit_write_failures_total) and
 * logged: auditing must not turn a refusal into a 500.
 *
 * Denials from the authentication gate (auth.denied: any client can cause them, and the gate
 * runs on the server's few polling threads) are not written in place: they go to a bounded queue
 * (AUDIT_QUEUE_MAX) that a writer thread drains in batches, one transaction (one fsync) per batch
 * of up to STORE_AUDIT_BATCH_MAX, so a flood of bad tokens costs a few fsyncs per second and
 * every denial is still recorded. Only past the queue's capacity (the disk cannot keep up) are
 * records dropped, counted (cloisterd_audit_write_failures_total) and logged once per second.
 * audit_stop writes what is queued before the store closes.
 */
#include "server/server.h"

#include "json.h"
#include "log.h"
#include "prom.h"
#include "server/validate.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_QUEUE_MAX 8192 /* gate denials waiting for the writer */
#define AUDIT_LIST_DEFAULT_LIMIT 50

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct store_audit *q; /* ring of AUDIT_QUEUE_MAX */
	struct store_audit *batch;
	size_t head, len;
	bool running, stop;
	pthread_t th;
	struct server *srv;
	uint64_t dropped; /* since the last log line */
	int64_t drop_logged_ms;
} aq = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void copy_field(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

void audit_fill(struct store_audit *a, struct http_req *req, const char *action,
		const char *resource, const char *result, unsigned status)
{
	memset(a, 0, sizeof(*a));
	a->at = util_now_ns();
	copy_field(a->client, sizeof(a->client), req ? http_req_client_addr(req) : "local");
	/* The raw record, not auth_principal(): a failed login leaves the name it tried there
	 * (role ROLE_NONE), which is what an investigator wants to see. */
	const struct principal *p = req ? http_req_auth(req) : NULL;
	copy_field(a->principal, sizeof(a->principal), p ? p->username : "");
	copy_field(a->action, sizeof(a->action), action);
	copy_field(a->resource, sizeof(a->resource), resource);
	copy_field(a->result, sizeof(a->result), result);
	a->status = status;
}

static void write_failed(struct server *srv, const char *what, size_t n)
{
	if (srv && srv->m_audit_fail)
		prom_inc(srv->m_audit_fail, NULL, (double)n);
	char k[24];
	snprintf(k, sizeof(k), "%zu", n);
	log_kv(CLOG_ERROR, "audit write failed", "what", what, "records", k, "detail",
	       store_last_error(), NULL);
}

static void *writer_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&aq.mu);
	for (;;) {
		while (aq.len == 0 && !aq.stop)
			pthread_cond_wait(&aq.cv, &aq.mu);
		if (aq.len == 0)
			break; /* stopping, and everything was written */
		size_t n = aq.len < STORE_AUDIT_BATCH_MAX ? aq.len : STORE_AUDIT_BATCH_MAX;
		for (size_t i = 0; i < n; i++)
			aq.batch[i] = aq.q[(aq.head + i) % AUDIT_QUEUE_MAX];
		aq.head = (aq.head + n) % AUDIT_QUEUE_MAX;
		aq.len -= n;
		pthread_mutex_unlock(&aq.mu);
		if (store_audit_add_many(aq.srv->store, aq.batch, n) < 0)
			write_failed(aq.srv, "auth.denied batch", n);
		pthread_mutex_lock(&aq.mu);
	}
	pthread_mutex_unlock(&aq.mu);
	return NULL;
}

int audit_start(struct server *srv)
{
	aq.q = calloc(AUDIT_QUEUE_MAX, sizeof(*aq.q));
	aq.batch = calloc(STORE_AUDIT_BATCH_MAX, sizeof(*aq.batch));
	if (!aq.q || !aq.batch) {
		free(aq.q);
		free(aq.batch);
		aq.q = aq.batch = NULL;
		return -ENOMEM;
	}
	aq.srv = srv;
	aq.head = aq.len = 0;
	aq.stop = false;
	if (pthread_create(&aq.th, NULL, writer_main, NULL) != 0) {
		free(aq.q);
		free(aq.batch);
		aq.q = aq.batch = NULL;
		return -EAGAIN;
	}
	aq.running = true;
	return 0;
}

void audit_stop(struct server *srv)
{
	(void)srv;
	if (!aq.running)
		return;
	pthread_mutex_lock(&aq.mu);
	aq.stop = true;
	pthread_cond_signal(&aq.cv);
	pthread_mutex_unlock(&aq.mu);
	pthread_join(aq.th, NULL);
	aq.running = false;
	free(aq.q);
	free(aq.batch);
	aq.q = aq.batch = NULL;
}

/* Queues a gate denial for the writer; false when the queue is full (counted, logged). */
static bool enqueue_denial(const struct store_audit *a)
{
	bool ok;
	uint64_t report = 0;
	int64_t now = util_mono_ms();
	pthread_mutex_lock(&aq.mu);
	ok = aq.len < AUDIT_QUEUE_MAX;
	if (ok) {
		aq.q[(aq.head + aq.len) % AUDIT_QUEUE_MAX] = *a;
		aq.len++;
		pthread_cond_signal(&aq.cv);
	} else {
		aq.dropped++;
		if (now - aq.drop_logged_ms >= 1000) {
			report = aq.dropped;
			aq.dropped = 0;
			aq.drop_logged_ms = now;
		}
	}
	pthread_mutex_unlock(&aq.mu);
	if (!ok && aq.srv && aq.srv->m_audit_fail)
		prom_inc(aq.srv->m_audit_fail, NULL, 1);
	if (report) {
		char n[24];
		snprintf(n, sizeof(n), "%llu", (unsigned long long)report);
		log_kv(CLOG_WARN, "audit: queue full, auth.denied records dropped", "count", n,
		       NULL);
	}
	return ok;
}

void audit_record(struct http_req *req, const char *action, const char *resource,
		  const char *result, unsigned status)
{
	struct server *srv = http_req_app(req);
	struct store_audit a;
	audit_fill(&a, req, action, resource, result, status);
	if (aq.running && strcmp(action, "auth.denied") == 0) {
		enqueue_denial(&a);
		return;
	}
	int rc = srv && srv->store ? store_audit_add(srv->store, &a) : -EIO;
	if (rc < 0) {
		if (srv && srv->m_audit_fail)
			prom_inc(srv->m_audit_fail, NULL, 1);
		log_kv(CLOG_ERROR, "audit write failed", "action", action, "result", result,
		       "detail", store_last_error(), NULL);
	}
}

static json_t *entry_json(const struct store_audit *e)
{
	char t[UTIL_TIME_BUF];
	util_rfc3339_nano(t, e->at);
	/* Resources and client strings come from requests: never let a stray byte break the
	 * reply. */
	return json_pack("{s:I,s:s,s:o,s:o,s:o,s:o,s:o,s:I}", "id", (json_int_t)e->id, "time", t,
			 "client", json_string_lossy(e->client, strlen(e->client)), "principal",
			 json_string_lossy(e->principal, strlen(e->principal)), "action",
			 json_string_lossy(e->action, strlen(e->action)), "resource",
			 json_string_lossy(e->resource, strlen(e->resource)), "result",
			 json_string_lossy(e->result, strlen(e->result)), "status",
			 (json_int_t)e->status);
}

/* A query value within SERVER_QUERY_VALUE_MAX_BYTES and without NUL, or a 422 (returns
 * false). *out is NULL when the key is absent. */
static bool query_value(struct http_req *req, const char *key, const char **out)
{
	size_t len = 0;
	const char *v = http_req_query_n(req, key, &len);
	*out = v;
	if (!v)
		return true;
	if (len > SERVER_QUERY_VALUE_MAX_BYTES || strlen(v) != len) {
		server_error(req, 422, "%s: at most %d bytes, no NUL", key,
			     SERVER_QUERY_VALUE_MAX_BYTES);
		return false;
	}
	return true;
}

void api_audit_list(struct http_req *req)
{
	struct server *srv = http_req_app(req);
	if (!auth_require_admin(req))
		return;
	const char *limit_s, *before_s;
	if (!query_value(req, "limit", &limit_s) || !query_value(req, "before", &before_s))
		return;
	struct list_query q;
	char err[160] = "";
	if (validate_list_query(limit_s, NULL, AUDIT_LIST_DEFAULT_LIMIT, &q, err, sizeof(err)) !=
	    VALID_OK) {
		server_error(req, 422, "%s", err);
		return;
	}
	uint64_t before = 0;
	if (before_s && util_parse_u64(before_s, INT64_MAX, &before) < 0) {
		server_error(req, 422, "before: must be an audit entry id (0..%lld)",
			     (long long)INT64_MAX);
		return;
	}
	struct store_audit *rows = NULL;
	size_t n = 0;
	int rc = store_audit_list(srv->store, q.limit, (int64_t)before, &rows, &n);
	if (rc < 0) {
		server_store_error(req, rc, "audit log");
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < n; i++) {
		if (json_array_append_new(arr, entry_json(&rows[i])) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	/* A full page may have a next one; its cursor is the oldest id shown. */
	json_t *next =
		n == q.limit && n > 0 ? json_integer((json_int_t)rows[n - 1].id) : json_null();
	free(rows);
	if (!arr) {
		json_decref(next);
		server_error(req, 500, "out of memory");
		return;
	}
	http_reply_json(req, 200,
			json_pack("{s:I,s:o,s:o}", "limit", (json_int_t)q.limit, "entries", arr,
				  "next_before", next));
}

const char *audit_result_for(unsigned status)
{
	switch (status) {
	case 400:
	case 413:
	case 415:
	case 422:
		return "invalid";
	case 401:
	case 403:
	case 405:
		return "denied";
	case 404:
		return "not_found";
	case 409:
	case 410:
		return "conflict";
	default:
		return "failed";
	}
}
