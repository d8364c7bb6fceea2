/*
 * events.h - the agent's event log: a bounded, persistent, ordered list of text messages.
 *
 * This replaces flashbots system-api's in-memory slice. Messages arrive from the HTTP route
 * (new_event, validated with events_validate) and from the named pipe (pipe.h, cleaned with
 * events_sanitize); GET /logs and GET /api/v1/events read them back with events_list, and
 * follow-mode streams learn about new ones through events_subscribe.
 *
 * Every event gets a sequence number (seq, starting at 1, never reused, monotonic across
 * restarts) and the UTC wall-clock time it was received. The log keeps the newest events: the
 * oldest are evicted while there are more than max_entries of them or their messages add up to
 * more than max_bytes (system-api bounded the count only). With a path, each event is appended
 * to a checksummed file (mode 0600) with one write(2) so it survives a crash of the process;
 * events_sync makes it survive a crash of the machine. On open the file is replayed with the same
 * eviction, so the retained set is the same as before the restart.
 *
 * Ownership: events_open hands out a struct events that the caller frees with events_free (after
 * unsubscribing everyone and stopping every thread that uses it). events_list returns a copy the
 * caller frees with events_list_free.
 * Thread safety: every function taking a struct events may be called from any thread at once,
 * except events_free. Subscriber callbacks run on the appending thread, outside the log's lock.
 *
 * Limits: messages <= max_message_bytes (<= EVENTS_MESSAGE_MAX_BYTES); max_entries <=
 * EVENTS_MAX_ENTRIES_CEILING; max_bytes <= EVENTS_MAX_BYTES_CEILING; EVENTS_MAX_SUBSCRIBERS
 * subscribers. The file is compacted when it holds more than twice the retained count or bytes
 * and is larger than EVENTS_COMPACT_MIN_FILE_BYTES, so it stays below
 * max(2 x retained, EVENTS_COMPACT_MIN_FILE_BYTES) plus one record.
 */
#ifndef CLOISTER_AGENT_EVENTS_H
#define CLOISTER_AGENT_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define EVENTS_MESSAGE_MAX_BYTES 4096 /* ceiling of one message; config may lower */
#define EVENTS_MAX_ENTRIES_CEILING 1000000
#define EVENTS_MAX_BYTES_CEILING (256u << 20) /* sum of retained message bytes */
#define EVENTS_MAX_ENTRIES_DEFAULT 1000       /* system-api's log_max_entries default */
#define EVENTS_MAX_BYTES_DEFAULT (16u << 20)
#define EVENTS_MAX_SUBSCRIBERS 64
#define EVENTS_COMPACT_MIN_FILE_BYTES (4u << 20) /* never compact a file smaller than this */

struct event {
	uint64_t seq;        /* 1, 2, 3, ... */
	int64_t received_ns; /* Unix time in nanoseconds, UTC */
	char *message;       /* NUL-terminated UTF-8 (no control characters but TAB) */
	size_t len;          /* bytes of message, without the NUL */
};

struct events_opts {
	const char *path;         /* persistence file; NULL = memory only */
	size_t max_entries;       /* system-api log_max_entries; 0 = EVENTS_MAX_ENTRIES_DEFAULT */
	size_t max_bytes;         /* sum of message bytes kept; 0 = EVENTS_MAX_BYTES_DEFAULT */
	size_t max_message_bytes; /* 0 = min(EVENTS_MESSAGE_MAX_BYTES, max_bytes); must be
	                             <= max_bytes so the newest event always fits */
};

struct events;

/* Opens the log. With a path, loads and validates the file (created, 0600, when missing; an empty
 * file is adopted): a torn or corrupt LAST record left by a crash is dropped and the file
 * repaired; corruption elsewhere, or a file that is not an event log, gives -EBADMSG and leaves
 * the file untouched. Returns 0 and *out (free with events_free), or -EINVAL (opts out of range or
 * inconsistent), -E2BIG (above a ceiling), -EBADMSG, -ENOMEM or another -errno from the file. */
int events_open(const struct events_opts *o, struct events **out);
/* Closes the file and frees everything; NULL ok. No other thread may use ev any more. */
void events_free(struct events *ev);

/* Appends one message (already validated by the caller: valid UTF-8, no control characters but
 * TAB). Assigns seq = last + 1 and received_ns = now, writes the record to the file with one
 * write(2), evicts the oldest entries while count > max_entries or bytes > max_bytes, then calls
 * the subscribers. Returns 0 (and *seq_out when not NULL) or -E2BIG (len > max_message_bytes),
 * -ENOMEM, -EIO or another -errno of the file write; nothing is added on failure. */
int events_append(struct events *ev, const char *msg, size_t len, uint64_t *seq_out);

/* fdatasync of the file up to the last appended event; a no-op when memory-only or when another
 * caller already synced that far (group commit). The HTTP route syncs before acknowledging, the
 * pipe reader after each drained batch. Returns 0 or -errno. */
int events_sync(struct events *ev);

/* Copies up to limit events with seq > after, oldest first, into one new allocation: *out is
 * NULL when the count is 0, else the caller frees it with events_list_free. Returns the count or
 * -ENOMEM. */
ssize_t events_list(struct events *ev, uint64_t after, size_t limit, struct event **out);
void events_list_free(struct event *list, size_t n);

uint64_t events_last_seq(struct events *ev);  /* newest assigned, 0 when none ever */
uint64_t events_first_seq(struct events *ev); /* oldest kept, 0 when empty */
size_t events_count(struct events *ev);       /* events kept */

/* Follow-mode streams: cb(ud) is called from the appending thread, outside the log's lock, after
 * each append. Returns an id > 0, or -EINVAL (cb NULL), -EBUSY (EVENTS_MAX_SUBSCRIBERS already).
 * events_unsubscribe guarantees that cb is not running and will not run afterwards; it must not
 * be called from inside cb. Unknown ids are ignored. */
int events_subscribe(struct events *ev, void (*cb)(void *ud), void *ud);
void events_unsubscribe(struct events *ev, int id);

/* Turns raw bytes from the named pipe into a message: invalid UTF-8 (including overlongs,
 * surrogates and a sequence cut off by the end of the input) and C0 control characters other
 * than TAB, and DEL, each become U+FFFD; one trailing "\r" is removed; the result is cut at
 * min(max, outcap) bytes on a character boundary. Writes no NUL. Returns the length written.
 * Pure function (the fuzz target). */
size_t events_sanitize(const char *in, size_t len, char *out, size_t outcap, size_t max);

/* Checks a message from HTTP: 0 when it is valid UTF-8 without control characters (C0 but TAB,
 * and DEL) and len <= max; -E2BIG when longer, -EINVAL otherwise. */
int events_validate(const char *msg, size_t len, size_t max);

#endif
