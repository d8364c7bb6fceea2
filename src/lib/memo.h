/*
 * memo.h - a small thread-safe TTL cache of byte blobs with single-flight filling.
 *
 * Who uses it: cloister-agent, for the results of expensive host commands (systemctl show,
 * journalctl, nvidia-smi) behind the sek8s status API: a result is reused while it is younger
 * than the caller's TTL, and concurrent identical requests share ONE command run instead of
 * starting one child each (the sek8s service leaked processes under load; see
 * docs/agent-anchors.md §2.8).
 *
 * Semantics of memo_get(key, ttl_ms, fill):
 *   - an entry filled less than ttl_ms ago (monotonic clock) is copied out: *hit = true;
 *   - otherwise, if a fill for key is already running, the caller waits for it and gets the
 *     same result, the same error code included (*hit = true on success: it ran nothing);
 *   - otherwise the caller runs fill itself, without the lock held (*hit = false);
 *   - an error from fill is handed to that flight's callers only, never cached: the next call
 *     runs fill again; so is a value whose fill returned MEMO_FILL_TRANSIENT;
 *   - ttl_ms 0: nothing is kept after the flight, but concurrent callers still share it;
 *   - past max_entries, the least recently used idle entry is evicted. Entries being filled or
 *     waited on are never evicted, so the count may exceed max_entries by the number of flights
 *     in progress; it is trimmed back when they finish.
 * The TTL is the caller's, per call: one key read with different TTLs uses the entry's age.
 * Meant for tens to a few hundred keys (lookups are a linear scan under one mutex).
 *
 * Ownership: the memo owns its copies; every caller gets its own malloc'd copy (free()).
 * fill hands over a malloc'd blob (or NULL with length 0) that the memo then owns and frees.
 * Thread safety: every function except memo_new/memo_free may be called from any number of
 * threads at once. fill must not call memo_get for the same key on the same memo (it would wait
 * for itself). memo_free must not race with any other call.
 * Limits: keys of at most MEMO_MAX_KEY_BYTES (-E2BIG past it); max_entries in
 * 1..MEMO_MAX_ENTRIES.
 */
#ifndef CLOISTER_MEMO_H
#define CLOISTER_MEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEMO_MAX_KEY_BYTES 256 /* key length, bytes, without its NUL */
#define MEMO_MAX_ENTRIES 4096  /* ceiling for max_entries */

struct memo;

/* Returned by a fill whose value must reach the callers of this flight but not be cached: a
 * result that describes a failure (a timeout, a missing binary) yet still carries data. */
#define MEMO_FILL_TRANSIENT 1

/* Produces the value for a key: on success returns 0 (or MEMO_FILL_TRANSIENT, above; any other
 * positive value counts as 0) and sets *value to a malloc'd blob of *len bytes (or NULL and 0);
 * on failure returns a negative errno (anything it left in *value is freed by the memo). */
typedef int (*memo_fill_fn)(void *ud, void **value, size_t *len);

/* New empty cache holding at most max_entries (1..MEMO_MAX_ENTRIES) idle entries. NULL on a bad
 * argument (errno EINVAL) or ENOMEM. */
struct memo *memo_new(size_t max_entries);

/* Frees the cache and every value. Accepts NULL. No call may be in progress. */
void memo_free(struct memo *m);

/*
 * Gets key's value as described above. On success returns 0 and *value_copy is a new malloc'd
 * copy (never NULL, even for 0 bytes; caller frees) of *len bytes, and *hit (hit may be NULL)
 * says whether this call ran fill (false) or not (true). On failure *value_copy is NULL, *len 0,
 * *hit false, and the return is -EINVAL (NULL m/key/fill/value_copy/len, ttl_ms < 0), -E2BIG
 * (key longer than MEMO_MAX_KEY_BYTES), -ENOMEM, or fill's own negative code.
 */
int memo_get(struct memo *m, const char *key, int64_t ttl_ms, memo_fill_fn fill, void *ud,
	     void **value_copy, size_t *len, bool *hit);

/* Number of entries held now (idle and in flight). For tests and metrics. */
size_t memo_count(struct memo *m);

#endif
