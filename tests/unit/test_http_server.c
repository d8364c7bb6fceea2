/*
 * test_http_server.c - the HTTP server module over real sockets on 127.0.0.1, driven by libcurl:
 * routing and params, 404/405, the gate, body limits (Content-Length and chunked), streamed
 * bodies, keep-alive reuse, blocking handlers on workers, follow streams with wake, the header
 * limit, TLS with a generated certificate, and the completion hook.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/server.h"
#include "util.h"
#include "x509.h"

struct app {
	pthread_mutex_t mu;
	unsigned completed;
	unsigned last_status;
	char last_route[64];
	size_t streamed;
	struct http_stream *st;
	int stream_items; /* items ready for the stream */
	int stream_sent;
	bool stream_done_called;
};

static void h_hello(struct http_req *req)
{
	const char *who = http_req_query(req, "who");
	char buf[128];
	snprintf(buf, sizeof(buf), "hello %s", who ? who : "world");
	http_reply(req, 200, "text/plain", buf, strlen(buf));
}

static void h_item(struct http_req *req)
{
	http_reply_json(req, 200,
			json_pack("{s:s,s:s}", "id", http_req_param(req, "id"), "rest",
				  http_req_param(req, "rest") ? http_req_param(req, "rest") : ""));
}

static void h_echo(struct http_req *req)
{
	size_t len;
	const char *b = http_req_body(req, &len);
	http_reply(req, 200, "application/octet-stream", b, len);
}

static int s_begin(struct http_req *req)
{
	size_t *count = calloc(1, sizeof(size_t));
	http_req_set_ctx(req, count);
	return 0;
}
static int s_chunk(struct http_req *req, const char *data, size_t len)
{
	(void)data;
	size_t *count = http_req_ctx(req);
	*count += len;
	return 0;
}
static void s_done(struct http_req *req)
{
	size_t *count = http_req_ctx(req);
	char buf[32];
	snprintf(buf, sizeof(buf), "%zu", *count);
	http_reply(req, 200, "text/plain", buf, strlen(buf));
}
static void s_cleanup(struct http_req *req)
{
	free(http_req_ctx(req));
}

static void h_slow(struct http_req *req)
{
	usleep(200 * 1000);
	http_reply(req, 200, "text/plain", "slow", 4);
}

static ssize_t st_read(void *ud, char *buf, size_t cap)
{
	struct app *a = ud;
	pthread_mutex_lock(&a->mu);
	ssize_t n = 0;
	if (a->stream_sent < a->stream_items && cap >= 8) {
		n = snprintf(buf, cap, "item%d\n", a->stream_sent);
		a->stream_sent++;
	} else if (a->stream_sent >= 3) {
		n = -1;
	}
	pthread_mutex_unlock(&a->mu);
	return n;
}
static void st_done(void *ud)
{
	struct app *a = ud;
	pthread_mutex_lock(&a->mu);
	a->stream_done_called = true;
	a->st = NULL;
	pthread_mutex_unlock(&a->mu);
}
static void h_stream(struct http_req *req)
{
	struct app *a = http_req_app(req);
	struct http_stream *st = http_reply_stream(req, 200, "text/plain", st_read, st_done, a);
	pthread_mutex_lock(&a->mu);
	a->st = st;
	pthread_mutex_unlock(&a->mu);
}

static int gate(struct http_req *req)
{
	const char *k = http_req_header(req, "X-Key");
	if (k && strcmp(k, "open") == 0)
		return 0;
	http_reply_error(req, 401, "Unauthorized");
	return -1;
}

static void on_complete(void *app, const char *route, const char *method, unsigned status,
			int64_t us)
{
	(void)method;
	(void)us;
	struct app *a = app;
	pthread_mutex_lock(&a->mu);
	a->completed++;
	a->last_status = status;
	snprintf(a->last_route, sizeof(a->last_route), "%s", route);
	pthread_mutex_unlock(&a->mu);
}

static const struct http_route routes[] = {
	{ HTTP_GET, "/hello", h_hello },
	{ HTTP_GET | HTTP_DELETE, "/items/{id}", h_item, .name = "item" },
	{ HTTP_GET, "/files/{id}/{rest*}", h_item },
	{ HTTP_POST, "/echo", h_echo, HTTP_BODY_BUFFER, 1000 },
	{ HTTP_PUT, "/stream-in", s_done, HTTP_BODY_STREAM, 100000, .body_begin = s_begin,
	  .body_chunk = s_chunk, .cleanup = s_cleanup },
	{ HTTP_GET, "/slow", h_slow, .flags = HTTP_ROUTE_BLOCKING },
	{ HTTP_GET, "/stream", h_stream },
};

struct fixture {
	struct app app;
	struct http_server *s;
	char base[64];
};

static struct fixture *start(bool with_gate, const struct http_tls_opts *tls)
{
	struct fixture *f = calloc(1, sizeof(*f));
	pthread_mutex_init(&f->app.mu, NULL);
	struct http_server_opts o = {
		.listen_addr = "127.0.0.1:0",
		.routes = routes,
		.nroutes = sizeof(routes) / sizeof(routes[0]),
		.app = &f->app,
		.gate = with_gate ? gate : NULL,
		.on_complete = on_complete,
		.tls = tls,
	};
	char err[256];
	f->s = http_server_start(&o, err, sizeof(err));
	if (!f->s)
		fail_msg("start: %s", err);
	snprintf(f->base, sizeof(f->base), "%s://127.0.0.1:%u", tls ? "https" : "http",
		 http_server_port(f->s));
	return f;
}

static void stop(struct fixture *f)
{
	http_server_stop(f->s);
	pthread_mutex_destroy(&f->app.mu);
	free(f);
}

struct resp {
	long status;
	char body[65536];
	size_t len;
};

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;
	size_t k = sz * n;
	if (r->len + k >= sizeof(r->body))
		k = sizeof(r->body) - 1 - r->len;
	memcpy(r->body + r->len, p, k);
	r->len += k;
	r->body[r->len] = '\0';
	return sz * n;
}

static CURL *handle(const char *url, struct resp *r)
{
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	return c;
}

static long get(struct fixture *f, const char *path, struct resp *r)
{
	char url[256];
	snprintf(url, sizeof(url), "%s%s", f->base, path);
	memset(r, 0, sizeof(*r));
	CURL *c = handle(url, r);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_cleanup(c);
	return r->status;
}

static void test_routing(void **state)
{
	(void)state;
	struct fixture *f = start(false, NULL);
	struct resp r;
	assert_int_equal(get(f, "/hello?who=a+b%21", &r), 200);
	assert_string_equal(r.body, "hello a b!");
	assert_int_equal(get(f, "/items/42", &r), 200);
	assert_string_equal(r.body, "{\"id\":\"42\",\"rest\":\"\"}\n");
	assert_int_equal(get(f, "/files/7/a/b/c", &r), 200);
	assert_non_null(strstr(r.body, "\"rest\":\"a/b/c\""));
	assert_int_equal(get(f, "/items/", &r), 404);
	assert_int_equal(get(f, "/items/1/2", &r), 404);
	assert_int_equal(get(f, "/nope", &r), 404);
	assert_string_equal(r.body, "{\"code\":404,\"message\":\"Not found\"}\n");
	/* Known path, wrong method. */
	char url[128];
	snprintf(url, sizeof(url), "%s/hello", f->base);
	memset(&r, 0, sizeof(r));
	CURL *c = handle(url, &r);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	assert_int_equal(r.status, 405);
	curl_easy_cleanup(c);
	/* Completion hook saw the route name. */
	assert_int_equal(get(f, "/items/9", &r), 200);
	usleep(50 * 1000);
	pthread_mutex_lock(&f->app.mu);
	assert_string_equal(f->app.last_route, "item");
	assert_int_equal(f->app.last_status, 200);
	pthread_mutex_unlock(&f->app.mu);
	stop(f);
}

static void test_keepalive(void **state)
{
	(void)state;
	struct fixture *f = start(false, NULL);
	char url[128];
	snprintf(url, sizeof(url), "%s/hello", f->base);
	struct resp r = { 0 };
	CURL *c = handle(url, &r);
	for (int i = 0; i < 5; i++) {
		r.len = 0;
		assert_int_equal(curl_easy_perform(c), CURLE_OK);
		long conns = -1;
		curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
		/* Only the first request opens a connection: the response is not queued on the
		 * first handler call, so libmicrohttpd keeps the connection alive. */
		assert_int_equal(conns, i == 0 ? 1 : 0);
	}
	curl_easy_cleanup(c);
	stop(f);
}

static long post(struct fixture *f, const char *path, const char *method, const char *body,
		 size_t len, bool chunked, struct resp *r)
{
	char url[256];
	snprintf(url, sizeof(url), "%s%s", f->base, path);
	memset(r, 0, sizeof(*r));
	CURL *c = handle(url, r);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	struct curl_slist *h = NULL;
	if (chunked) {
		h = curl_slist_append(h, "Transfer-Encoding: chunked");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	}
	CURLcode rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	else
		r->status = -1;
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return r->status;
}

static void test_body_limits(void **state)
{
	(void)state;
	struct fixture *f = start(false, NULL);
	char *big = malloc(200000);
	memset(big, 'x', 200000);
	struct resp r;
	assert_int_equal(post(f, "/echo", "POST", big, 1000, false, &r), 200);
	assert_int_equal(r.len, 1000);
	assert_int_equal(post(f, "/echo", "POST", big, 1001, false, &r), 413);
	/* Refused mid-body (no Content-Length): the 413 comes when the body ends. */
	long st = post(f, "/echo", "POST", big, 5000, true, &r);
	assert_int_equal(st, 413);
	assert_int_equal(post(f, "/stream-in", "PUT", big, 100000, false, &r), 200);
	assert_string_equal(r.body, "100000");
	assert_int_equal(post(f, "/stream-in", "PUT", big, 100000, true, &r), 200);
	assert_string_equal(r.body, "100000");
	assert_int_equal(post(f, "/stream-in", "PUT", big, 100001, false, &r), 413);
	st = post(f, "/stream-in", "PUT", big, 150000, true, &r);
	assert_int_equal(st, 413);
	/* Far past the limit without Content-Length: the connection is closed instead. */
	char *huge = calloc(1, HTTP_DISCARD_MAX_BYTES + 300000);
	st = post(f, "/stream-in", "PUT", huge, HTTP_DISCARD_MAX_BYTES + 300000, true, &r);
	assert_true(st == -1 || st == 413);
	free(huge);
	/* The server still serves. */
	assert_int_equal(get(f, "/hello", &r), 200);
	free(big);
	stop(f);
}

static void test_gate(void **state)
{
	(void)state;
	struct fixture *f = start(true, NULL);
	struct resp r;
	assert_int_equal(get(f, "/hello", &r), 401);
	/* The gate runs before routing: unknown paths are protected too. */
	assert_int_equal(get(f, "/does-not-exist", &r), 401);
	/* A refused request that carries a body still gets its answer. */
	assert_int_equal(post(f, "/echo", "POST", "evil", 4, false, &r), 401);
	assert_int_equal(post(f, "/nope", "POST", "evil", 4, false, &r), 401);
	char url[128];
	snprintf(url, sizeof(url), "%s/hello", f->base);
	memset(&r, 0, sizeof(r));
	CURL *c = handle(url, &r);
	struct curl_slist *h = curl_slist_append(NULL, "X-Key: open");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	assert_int_equal(r.status, 200);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	stop(f);
}

static void test_blocking_workers(void **state)
{
	(void)state;
	struct fixture *f = start(false, NULL);
	CURLM *m = curl_multi_init();
	struct resp rs[4];
	CURL *hs[4];
	char url[128];
	snprintf(url, sizeof(url), "%s/slow", f->base);
	for (int i = 0; i < 4; i++) {
		memset(&rs[i], 0, sizeof(rs[i]));
		hs[i] = handle(url, &rs[i]);
		curl_multi_add_handle(m, hs[i]);
	}
	int running = 1;
	for (int loops = 0; running && loops < 2000; loops++) {
		curl_multi_perform(m, &running);
		curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	assert_int_equal(running, 0);
	for (int i = 0; i < 4; i++) {
		long st = 0;
		curl_easy_getinfo(hs[i], CURLINFO_RESPONSE_CODE, &st);
		assert_int_equal(st, 200);
		assert_string_equal(rs[i].body, "slow");
		curl_multi_remove_handle(m, hs[i]);
		curl_easy_cleanup(hs[i]);
	}
	curl_multi_cleanup(m);
	/* While workers ran, the polling threads were free: a plain request is answered. */
	struct resp r;
	assert_int_equal(get(f, "/hello", &r), 200);
	stop(f);
}

static void *producer(void *arg)
{
	struct app *a = arg;
	for (int i = 0; i < 3; i++) {
		usleep(100 * 1000);
		pthread_mutex_lock(&a->mu);
		a->stream_items++;
		struct http_stream *st = a->st;
		pthread_mutex_unlock(&a->mu);
		if (st)
			http_stream_wake(st);
	}
	return NULL;
}

static void test_stream(void **state)
{
	(void)state;
	struct fixture *f = start(false, NULL);
	pthread_t t;
	pthread_create(&t, NULL, producer, &f->app);
	struct resp r;
	assert_int_equal(get(f, "/stream", &r), 200);
	pthread_join(t, NULL);
	assert_string_equal(r.body, "item0\nitem1\nitem2\n");
	usleep(50 * 1000);
	pthread_mutex_lock(&f->app.mu);
	assert_true(f->app.stream_done_called);
	pthread_mutex_unlock(&f->app.mu);
	stop(f);
}

static void test_header_limit(void **state)
{
	(void)state;
	struct fixture *f = start(false, NULL);
	char url[128];
	snprintf(url, sizeof(url), "%s/hello", f->base);
	struct resp r = { 0 };
	CURL *c = handle(url, &r);
	size_t n = HTTP_HEADER_MAX_BYTES + 100;
	char *hdr = malloc(n + 16);
	memcpy(hdr, "X-Big: ", 7);
	memset(hdr + 7, 'a', n);
	hdr[7 + n] = '\0';
	struct curl_slist *h = curl_slist_append(NULL, hdr);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	CURLcode rc = curl_easy_perform(c);
	long st = 0;
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
	assert_true(rc != CURLE_OK || st == 431 || st == 413 || st == 400);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(hdr);
	assert_int_equal(get(f, "/hello", &r), 200);
	stop(f);
}

static void test_tls(void **state)
{
	(void)state;
	const char *hosts[] = { "localhost", "127.0.0.1" };
	char *cert = NULL, *key = NULL;
	assert_int_equal(x509_selfsigned(hosts, 2, 1, &cert, &key), 0);
	struct http_tls_opts tls = { .cert_pem = cert, .key_pem = key };
	struct fixture *f = start(false, &tls);
	char path[] = "/tmp/test_http_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, cert, strlen(cert)), (ssize_t)strlen(cert));
	close(fd);
	char url[128];
	snprintf(url, sizeof(url), "%s/hello", f->base);
	struct resp r = { 0 };
	CURL *c = handle(url, &r);
	curl_easy_setopt(c, CURLOPT_CAINFO, path);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "hello world");
	curl_easy_cleanup(c);
	/* Without trusting the certificate the handshake fails. */
	memset(&r, 0, sizeof(r));
	c = handle(url, &r);
	assert_int_not_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_cleanup(c);
	unlink(path);
	stop(f);
	x509_free_secret_pem(key);
	free(cert);
}

static unsigned log_calls;
static void count_log(void *app, const char *msg)
{
	(void)app;
	(void)msg;
	__atomic_fetch_add(&log_calls, 1, __ATOMIC_SEQ_CST);
}

/* Clients can make libmicrohttpd complain at will (plain HTTP to a TLS port): what reaches the
 * program's log is rate limited. */
static void test_log_rate_limit(void **state)
{
	(void)state;
	const char *hosts[] = { "127.0.0.1" };
	char *cert = NULL, *key = NULL;
	assert_int_equal(x509_selfsigned(hosts, 1, 1, &cert, &key), 0);
	struct http_tls_opts tls = { .cert_pem = cert, .key_pem = key };
	struct http_server_opts o = { .listen_addr = "127.0.0.1:0",
				      .routes = routes,
				      .nroutes = sizeof(routes) / sizeof(routes[0]),
				      .tls = &tls,
				      .log = count_log };
	char err[256];
	struct http_server *s = http_server_start(&o, err, sizeof(err));
	assert_non_null(s);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hello", http_server_port(s));
	int64_t t0 = util_mono_ms();
	for (int i = 0; i < 100; i++) {
		struct resp r = { 0 };
		CURL *c = handle(url, &r);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, 2L);
		curl_easy_perform(c);
		curl_easy_cleanup(c);
	}
	unsigned n = __atomic_load_n(&log_calls, __ATOMIC_SEQ_CST);
	int64_t windows = (util_mono_ms() - t0) / 1000 + 2;
	http_server_stop(s);
	x509_free_secret_pem(key);
	free(cert);
	/* Without the limit each bad client is one line. With it: at most HTTP_LOG_PER_SECOND_MAX
	 * per one-second window, plus one "suppressed" note per window. */
	if (n == 0 || n > (unsigned)windows * (HTTP_LOG_PER_SECOND_MAX + 1) || n >= 100)
		fail_msg("%u log lines for 100 bad clients in %lld windows", n, (long long)windows);
}

static void test_bad_listen(void **state)
{
	(void)state;
	char err[256];
	struct http_server_opts o = { .listen_addr = "not-an-ip:80",
				      .routes = routes,
				      .nroutes = 1 };
	assert_null(http_server_start(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "must be an IP address"));
	o.listen_addr = "127.0.0.1:99999";
	assert_null(http_server_start(&o, err, sizeof(err)));
	o.listen_addr = "127.0.0.1";
	assert_null(http_server_start(&o, err, sizeof(err)));
	/* Port in use: a clear error, not a silent start without a listener (system-api's bug). */
	struct fixture *f = start(false, NULL);
	char addr[64];
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", http_server_port(f->s));
	o.listen_addr = addr;
	assert_null(http_server_start(&o, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot listen"));
	stop(f);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routing),          cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_body_limits),      cmocka_unit_test(test_gate),
		cmocka_unit_test(test_blocking_workers), cmocka_unit_test(test_stream),
		cmocka_unit_test(test_header_limit),     cmocka_unit_test(test_tls),
		cmocka_unit_test(test_bad_listen),       cmocka_unit_test(test_log_rate_limit),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
