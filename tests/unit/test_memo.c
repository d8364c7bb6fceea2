/*
 * test_memo.c - the TTL cache with single-flight: hits, misses and expiry, ttl 0, 8 concurrent
 * callers sharing one slow fill (value, error and transient value alike), errors and transient
 * values never cached, LRU eviction, independent keys not serialised, the key-length limit at
 * and one past, and bad arguments.
 * TTLs and sleeps are a few hundred ms at most, with wide margins, so the file runs in ~2 s.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memo.h"
#include "util.h"

struct filler {
	atomic_int calls;
	int sleep_ms;
	int rc;           /* returned by fill; 0 = success */
	bool leave_value; /* on error, still hand back a blob (the memo must free it) */
	bool empty;       /* succeed with NULL, 0 */
};

/* Produces "v<call number>" after sleeping. */
static int fill(void *ud, void **value, size_t *len)
{
	struct filler *f = ud;
	int n = atomic_fetch_add(&f->calls, 1) + 1;
	if (f->sleep_ms)
		usleep((useconds_t)f->sleep_ms * 1000);
	if (f->rc < 0 && !f->leave_value)
		return f->rc;
	if (f->empty) {
		*value = NULL;
		*len = 0;
		return 0;
	}
	char *s = malloc(16);
	if (!s)
		return -ENOMEM;
	*len = (size_t)snprintf(s, 16, "v%d", n);
	*value = s;
	return f->rc;
}

/* memo_get and compare the value with want (NULL: expect rc, no value). */
static void get(struct memo *m, const char *key, int64_t ttl, struct filler *f, int want_rc,
		const char *want, bool want_hit)
{
	void *v = (void *)1;
	size_t len = 99;
	bool hit = !want_hit;
	int rc = memo_get(m, key, ttl, fill, f, &v, &len, &hit);
	assert_int_equal(rc, want_rc);
	if (want_rc == 0) {
		assert_non_null(v);
		assert_int_equal(len, strlen(want));
		assert_memory_equal(v, want, len);
		assert_int_equal(hit, want_hit);
	} else {
		assert_null(v);
		assert_int_equal(len, 0);
		assert_false(hit);
	}
	free(v);
}

static void test_new_and_bad_args(void **state)
{
	(void)state;
	errno = 0;
	assert_null(memo_new(0));
	assert_int_equal(errno, EINVAL);
	assert_null(memo_new(MEMO_MAX_ENTRIES + 1));
	struct memo *m = memo_new(MEMO_MAX_ENTRIES);
	assert_non_null(m);
	struct filler f = { 0 };
	void *v;
	size_t len;
	assert_int_equal(memo_get(NULL, "k", 10, fill, &f, &v, &len, NULL), -EINVAL);
	assert_int_equal(memo_get(m, NULL, 10, fill, &f, &v, &len, NULL), -EINVAL);
	assert_int_equal(memo_get(m, "k", 10, NULL, &f, &v, &len, NULL), -EINVAL);
	assert_int_equal(memo_get(m, "k", 10, fill, &f, NULL, &len, NULL), -EINVAL);
	assert_int_equal(memo_get(m, "k", 10, fill, &f, &v, NULL, NULL), -EINVAL);
	assert_int_equal(memo_get(m, "k", -1, fill, &f, &v, &len, NULL), -EINVAL);
	assert_int_equal(atomic_load(&f.calls), 0);
	assert_int_equal(memo_count(m), 0);
	memo_free(m);
	memo_free(NULL);
	assert_int_equal(memo_count(NULL), 0);
}

static void test_key_limit(void **state)
{
	(void)state;
	struct memo *m = memo_new(4);
	struct filler f = { 0 };
	char key[MEMO_MAX_KEY_BYTES + 2];
	memset(key, 'k', MEMO_MAX_KEY_BYTES);
	key[MEMO_MAX_KEY_BYTES] = '\0';
	get(m, key, 10000, &f, 0, "v1", false);
	get(m, key, 10000, &f, 0, "v1", true);
	key[MEMO_MAX_KEY_BYTES] = 'k';
	key[MEMO_MAX_KEY_BYTES + 1] = '\0';
	get(m, key, 10000, &f, -E2BIG, NULL, false);
	assert_int_equal(atomic_load(&f.calls), 1);
	assert_int_equal(memo_count(m), 1);
	memo_free(m);
}

static void test_hit_miss_expiry(void **state)
{
	(void)state;
	struct memo *m = memo_new(8);
	struct filler f = { 0 };
	get(m, "a", 150, &f, 0, "v1", false);
	get(m, "a", 150, &f, 0, "v1", true);
	get(m, "b", 150, &f, 0, "v2", false); /* another key is another entry */
	get(m, "a", 150, &f, 0, "v1", true);
	usleep(250 * 1000);
	get(m, "a", 150, &f, 0, "v3", false); /* expired: filled again */
	get(m, "a", 150, &f, 0, "v3", true);
	/* the TTL is the caller's: the same entry is stale for a shorter one */
	usleep(30 * 1000);
	get(m, "a", 10, &f, 0, "v4", false);
	get(m, "a", 60000, &f, 0, "v4", true);
	assert_int_equal(atomic_load(&f.calls), 4);
	/* hit may be NULL */
	void *v;
	size_t len;
	assert_int_equal(memo_get(m, "a", 60000, fill, &f, &v, &len, NULL), 0);
	free(v);
	memo_free(m);
}

static void test_ttl_zero_never_caches(void **state)
{
	(void)state;
	struct memo *m = memo_new(8);
	struct filler f = { 0 };
	get(m, "a", 0, &f, 0, "v1", false);
	get(m, "a", 0, &f, 0, "v2", false);
	assert_int_equal(memo_count(m), 0);
	assert_int_equal(atomic_load(&f.calls), 2);
	memo_free(m);
}

static void test_empty_value_and_error_blob(void **state)
{
	(void)state;
	struct memo *m = memo_new(8);
	struct filler f = { .empty = true };
	void *v = NULL;
	size_t len = 7;
	bool hit = true;
	assert_int_equal(memo_get(m, "e", 10000, fill, &f, &v, &len, &hit), 0);
	assert_non_null(v); /* never NULL on success */
	assert_int_equal(len, 0);
	assert_false(hit);
	free(v);
	assert_int_equal(memo_get(m, "e", 10000, fill, &f, &v, &len, &hit), 0);
	assert_non_null(v);
	assert_true(hit);
	free(v);
	/* a failing fill that still returned a blob: the memo frees it (ASan would see a leak) */
	struct filler g = { .rc = -EIO, .leave_value = true };
	get(m, "x", 10000, &g, -EIO, NULL, false);
	/* another positive return counts as 0: cached */
	struct filler p = { .rc = 5, .leave_value = true };
	get(m, "p", 10000, &p, 0, "v1", false);
	get(m, "p", 10000, &p, 0, "v1", true);
	memo_free(m);
}

/* ---- concurrency ---- */

#define NTHREADS 8

struct worker {
	struct memo *m;
	struct filler *f;
	const char *key;
	int64_t ttl;
	pthread_barrier_t *barrier;
	int rc;
	char value[16];
	bool hit;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	pthread_barrier_wait(w->barrier);
	void *v = NULL;
	size_t len = 0;
	w->rc = memo_get(w->m, w->key, w->ttl, fill, w->f, &v, &len, &w->hit);
	if (w->rc == 0 && len < sizeof(w->value)) {
		memcpy(w->value, v, len);
		w->value[len] = '\0';
	}
	free(v);
	return NULL;
}

/* Runs NTHREADS callers of key at once; returns the elapsed time in ms. */
static int64_t run_threads(struct memo *m, struct filler *f, int64_t ttl, struct worker *w,
			   const char *const *keys)
{
	pthread_barrier_t barrier;
	pthread_barrier_init(&barrier, NULL, NTHREADS);
	pthread_t th[NTHREADS];
	int64_t t0 = util_mono_ms();
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){
			.m = m, .f = f, .key = keys[i], .ttl = ttl, .barrier = &barrier
		};
		assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&barrier);
	return util_mono_ms() - t0;
}

static const char *const same_key[NTHREADS] = { "k", "k", "k", "k", "k", "k", "k", "k" };

static void check_single_flight(int64_t ttl)
{
	struct memo *m = memo_new(8);
	struct filler f = { .sleep_ms = 200 };
	struct worker w[NTHREADS];
	int64_t ms = run_threads(m, &f, ttl, w, same_key);
	assert_int_equal(atomic_load(&f.calls), 1);
	int misses = 0;
	for (int i = 0; i < NTHREADS; i++) {
		assert_int_equal(w[i].rc, 0);
		assert_string_equal(w[i].value, "v1");
		misses += !w[i].hit;
	}
	assert_int_equal(misses, 1); /* only the caller that ran fill */
	assert_true(ms < 1500);
	assert_int_equal(memo_count(m), ttl > 0 ? 1 : 0);
	memo_free(m);
}

static void test_single_flight(void **state)
{
	(void)state;
	check_single_flight(10000);
}

static void test_single_flight_ttl_zero(void **state)
{
	(void)state;
	check_single_flight(0);
}

static void test_error_shared_not_cached(void **state)
{
	(void)state;
	struct memo *m = memo_new(8);
	struct filler f = { .sleep_ms = 200, .rc = -EIO };
	struct worker w[NTHREADS];
	run_threads(m, &f, 10000, w, same_key);
	assert_int_equal(atomic_load(&f.calls), 1);
	for (int i = 0; i < NTHREADS; i++) {
		assert_int_equal(w[i].rc, -EIO);
		assert_false(w[i].hit);
	}
	assert_int_equal(memo_count(m), 0);
	/* not cached: the next call runs fill again, and a success then is cached */
	f.sleep_ms = 0;
	get(m, "k", 10000, &f, -EIO, NULL, false);
	f.rc = 0;
	get(m, "k", 10000, &f, 0, "v3", false);
	get(m, "k", 10000, &f, 0, "v3", true);
	/* an error after expiry drops the stale value too */
	usleep(20 * 1000);
	f.rc = -ETIMEDOUT;
	get(m, "k", 10, &f, -ETIMEDOUT, NULL, false);
	assert_int_equal(memo_count(m), 0);
	f.rc = 0;
	get(m, "k", 10000, &f, 0, "v5", false);
	memo_free(m);
}

/* A transient value reaches every caller of its flight but is not kept. */
static void test_transient_shared_not_cached(void **state)
{
	(void)state;
	struct memo *m = memo_new(8);
	struct filler f = { .sleep_ms = 200, .rc = MEMO_FILL_TRANSIENT, .leave_value = true };
	struct worker w[NTHREADS];
	run_threads(m, &f, 10000, w, same_key);
	assert_int_equal(atomic_load(&f.calls), 1);
	for (int i = 0; i < NTHREADS; i++) {
		assert_int_equal(w[i].rc, 0);
		assert_string_equal(w[i].value, "v1");
	}
	assert_int_equal(memo_count(m), 0);
	f.sleep_ms = 0;
	get(m, "k", 10000, &f, 0, "v2", false);
	f.rc = 0;
	get(m, "k", 10000, &f, 0, "v3", false);
	get(m, "k", 10000, &f, 0, "v3", true);
	memo_free(m);
}

/* Fills of different keys run in parallel: the lock is not held during fill. */
static void test_distinct_keys_in_parallel(void **state)
{
	(void)state;
	struct memo *m = memo_new(NTHREADS);
	struct filler f = { .sleep_ms = 200 };
	static const char *const keys[NTHREADS] = { "a", "b", "c", "d", "e", "f", "g", "h" };
	struct worker w[NTHREADS];
	int64_t ms = run_threads(m, &f, 10000, w, keys);
	assert_int_equal(atomic_load(&f.calls), NTHREADS);
	for (int i = 0; i < NTHREADS; i++) {
		assert_int_equal(w[i].rc, 0);
		assert_false(w[i].hit);
	}
	assert_true(ms < 1000); /* 8 x 200 ms would be serialised */
	assert_int_equal(memo_count(m), NTHREADS);
	memo_free(m);
}

static void test_lru_eviction(void **state)
{
	(void)state;
	struct memo *m = memo_new(2);
	struct filler f = { 0 };
	get(m, "a", 60000, &f, 0, "v1", false);
	get(m, "b", 60000, &f, 0, "v2", false);
	get(m, "a", 60000, &f, 0, "v1", true); /* a is now the most recent */
	assert_int_equal(memo_count(m), 2);
	get(m, "c", 60000, &f, 0, "v3", false); /* at the limit + 1: b, the LRU, goes */
	assert_int_equal(memo_count(m), 2);
	get(m, "a", 60000, &f, 0, "v1", true);
	get(m, "c", 60000, &f, 0, "v3", true);
	get(m, "b", 60000, &f, 0, "v4", false); /* refilled; evicts a */
	get(m, "c", 60000, &f, 0, "v3", true);
	get(m, "a", 60000, &f, 0, "v5", false);
	assert_int_equal(memo_count(m), 2);
	memo_free(m);
	/* max 1: each new key evicts the previous one */
	m = memo_new(1);
	get(m, "x", 60000, &f, 0, "v6", false);
	get(m, "x", 60000, &f, 0, "v6", true);
	get(m, "y", 60000, &f, 0, "v7", false);
	get(m, "x", 60000, &f, 0, "v8", false);
	assert_int_equal(memo_count(m), 1);
	memo_free(m);
}

/* While a slow fill is in flight its entry cannot be evicted, and once filled it is the most
 * recently used entry. */
struct slow_arg {
	struct memo *m;
	struct filler *f;
	int rc;
};

static void *slow_main(void *arg)
{
	struct slow_arg *a = arg;
	void *v = NULL;
	size_t len;
	a->rc = memo_get(a->m, "slow", 60000, fill, a->f, &v, &len, NULL);
	free(v);
	return NULL;
}

static void test_in_flight_not_evicted(void **state)
{
	(void)state;
	struct memo *m = memo_new(1);
	struct filler slow = { .sleep_ms = 300 };
	struct slow_arg a = { .m = m, .f = &slow };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, slow_main, &a), 0);
	usleep(100 * 1000);
	struct filler f = { 0 };
	get(m, "quick", 60000, &f, 0, "v1", false);
	/* the flight pins the only slot, so the idle entry is the one evicted */
	assert_int_equal(memo_count(m), 1);
	get(m, "quick", 60000, &f, 0, "v2", false);
	pthread_join(th, NULL);
	assert_int_equal(a.rc, 0);
	assert_int_equal(memo_count(m), 1);
	/* the entry just filled is kept; the older idle one went */
	get(m, "slow", 60000, &slow, 0, "v1", true);
	memo_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_and_bad_args),
		cmocka_unit_test(test_key_limit),
		cmocka_unit_test(test_hit_miss_expiry),
		cmocka_unit_test(test_ttl_zero_never_caches),
		cmocka_unit_test(test_empty_value_and_error_blob),
		cmocka_unit_test(test_single_flight),
		cmocka_unit_test(test_single_flight_ttl_zero),
		cmocka_unit_test(test_error_shared_not_cached),
		cmocka_unit_test(test_transient_shared_not_cached),
		cmocka_unit_test(test_distinct_keys_in_parallel),
		cmocka_unit_test(test_lru_eviction),
		cmocka_unit_test(test_in_flight_not_evicted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
