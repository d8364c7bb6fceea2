/*
 * memo.c - TTL cache with single-flight filling (see memo.h).
 *
 * How it works: one mutex guards a doubly linked list of entries kept in LRU order (head = most
 * recently used) and one condition variable shared by every waiter. An entry carries the last
 * good value with the monotonic time it was filled, an in_flight flag while some caller runs
 * fill without the lock, a waiter count, and a generation number bumped when a flight ends.
 * Waiters sleep until their entry's generation changes, then read the flight's result code (and
 * the value on success) from the entry. Because waiters and flights pin their entry, it is
 * unlinked only when idle: after an error (errors are never cached), after a ttl 0 flight, or by
 * LRU eviction.
 */
#include "memo.h"

#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct memo_entry {
	struct memo_entry *prev, *next;
	char *key;
	void *value; /* last good result, owned */
	size_t len;
	bool has_value;
	int64_t filled_ms; /* util_mono_ms() when value was stored */
	bool in_flight;
	bool keep;     /* the last flight's caller asked for caching (ttl_ms > 0) */
	int flight_rc; /* result of the last finished flight */
	uint64_t gen;  /* bumped at the end of every flight */
	unsigned waiters;
};

struct memo {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct memo_entry *head, *tail;
	size_t n, max;
};

struct memo *memo_new(size_t max_entries)
{
	if (max_entries == 0 || max_entries > MEMO_MAX_ENTRIES) {
		errno = EINVAL;
		return NULL;
	}
	struct memo *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	if (pthread_mutex_init(&m->mu, NULL) != 0) {
		free(m);
		errno = ENOMEM;
		return NULL;
	}
	if (pthread_cond_init(&m->cv, NULL) != 0) {
		pthread_mutex_destroy(&m->mu);
		free(m);
		errno = ENOMEM;
		return NULL;
	}
	m->max = max_entries;
	return m;
}

static void entry_free(struct memo_entry *e)
{
	free(e->key);
	free(e->value);
	free(e);
}

void memo_free(struct memo *m)
{
	if (!m)
		return;
	struct memo_entry *e = m->head;
	while (e) {
		struct memo_entry *next = e->next;
		entry_free(e);
		e = next;
	}
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static void unlink_entry(struct memo *m, struct memo_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		m->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		m->tail = e->prev;
	e->prev = e->next = NULL;
	m->n--;
}

static void push_front(struct memo *m, struct memo_entry *e)
{
	e->prev = NULL;
	e->next = m->head;
	if (m->head)
		m->head->prev = e;
	else
		m->tail = e;
	m->head = e;
	m->n++;
}

static void touch(struct memo *m, struct memo_entry *e)
{
	if (m->head == e)
		return;
	unlink_entry(m, e);
	push_front(m, e);
}

static bool busy(const struct memo_entry *e)
{
	return e->in_flight || e->waiters > 0;
}

/* Drops e when nobody needs it and it holds nothing worth keeping. */
static void maybe_drop(struct memo *m, struct memo_entry *e)
{
	if (!busy(e) && (!e->has_value || !e->keep)) {
		unlink_entry(m, e);
		entry_free(e);
	}
}

/* Evicts idle entries from the LRU end until the count is back within max. */
static void trim(struct memo *m)
{
	struct memo_entry *e = m->tail;
	while (m->n > m->max && e) {
		struct memo_entry *prev = e->prev;
		if (!busy(e)) {
			unlink_entry(m, e);
			entry_free(e);
		}
		e = prev;
	}
}

static struct memo_entry *find(struct memo *m, const char *key)
{
	for (struct memo_entry *e = m->head; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

/* A caller-owned copy of the entry's value (never NULL on success). */
static int copy_out(const struct memo_entry *e, void **value_copy, size_t *len)
{
	void *c = malloc(e->len ? e->len : 1);
	if (!c)
		return -ENOMEM;
	if (e->len)
		memcpy(c, e->value, e->len);
	*value_copy = c;
	*len = e->len;
	return 0;
}

int memo_get(struct memo *m, const char *key, int64_t ttl_ms, memo_fill_fn fill, void *ud,
	     void **value_copy, size_t *len, bool *hit)
{
	if (value_copy)
		*value_copy = NULL;
	if (len)
		*len = 0;
	if (hit)
		*hit = false;
	if (!m || !key || !fill || !value_copy || !len || ttl_ms < 0)
		return -EINVAL;
	size_t key_len = strnlen(key, MEMO_MAX_KEY_BYTES + 1);
	if (key_len > MEMO_MAX_KEY_BYTES)
		return -E2BIG;

	int rc;
	pthread_mutex_lock(&m->mu);
	struct memo_entry *e = find(m, key);
	if (e && e->has_value && util_mono_ms() - e->filled_ms < ttl_ms) {
		touch(m, e);
		rc = copy_out(e, value_copy, len);
		if (rc == 0 && hit)
			*hit = true;
		goto out;
	}
	if (e && e->in_flight) {
		/* Join the running flight: its result, whatever it is, is ours. */
		uint64_t gen = e->gen;
		e->waiters++;
		while (e->gen == gen)
			pthread_cond_wait(&m->cv, &m->mu);
		e->waiters--;
		rc = e->flight_rc;
		if (rc == 0) {
			rc = copy_out(e, value_copy, len);
			if (rc == 0 && hit)
				*hit = true;
		}
		maybe_drop(m, e);
		trim(m);
		goto out;
	}
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e || !(e->key = strndup(key, key_len))) {
			free(e);
			rc = -ENOMEM;
			goto out;
		}
		push_front(m, e);
	} else {
		touch(m, e);
	}
	e->in_flight = true;
	pthread_mutex_unlock(&m->mu);

	void *v = NULL;
	size_t l = 0;
	int frc = fill(ud, &v, &l);

	pthread_mutex_lock(&m->mu);
	if (frc >= 0) {
		free(e->value);
		e->value = v;
		e->len = v ? l : 0;
		e->has_value = true;
		e->filled_ms = util_mono_ms();
		e->flight_rc = 0;
	} else {
		free(v);
		free(e->value);
		e->value = NULL;
		e->len = 0;
		e->has_value = false;
		e->flight_rc = frc;
	}
	e->keep = ttl_ms > 0 && frc != MEMO_FILL_TRANSIENT;
	e->in_flight = false;
	touch(m, e); /* just filled: the most recently used, not the first to evict */
	e->gen++;
	pthread_cond_broadcast(&m->cv);
	rc = e->flight_rc == 0 ? copy_out(e, value_copy, len) : e->flight_rc;
	maybe_drop(m, e);
	trim(m);
out:
	pthread_mutex_unlock(&m->mu);
	return rc;
}

size_t memo_count(struct memo *m)
{
	if (!m)
		return 0;
	pthread_mutex_lock(&m->mu);
	size_t n = m->n;
	pthread_mutex_unlock(&m->mu);
	return n;
}
