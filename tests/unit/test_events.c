/*
 * test_events.c - the event log: order and cursors, eviction by count and by bytes, persistence
 * across restarts, crash repair, corruption, compaction, subscribers, concurrency, and the
 * sanitiser and validator used for pipe and HTTP input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent/events.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define REC_HDR 28 /* record header bytes of the file format (events.c) */
#define FILE_HDR 16

struct fixture {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_events.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/events.log", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	DIR *d = opendir(f->dir);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			char p[512];
			snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct events *open_ok(const char *path, size_t max_entries, size_t max_bytes)
{
	struct events_opts o = { .path = path, .max_entries = max_entries, .max_bytes = max_bytes };
	struct events *ev = NULL;
	assert_int_equal(events_open(&o, &ev), 0);
	assert_non_null(ev);
	return ev;
}

static uint64_t append_str(struct events *ev, const char *s)
{
	uint64_t seq = 0;
	assert_int_equal(events_append(ev, s, strlen(s), &seq), 0);
	return seq;
}

static off_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static size_t read_all(const char *path, unsigned char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, cap);
	assert_true(n >= 0);
	close(fd);
	return (size_t)n;
}

static void write_all(const char *path, const unsigned char *buf, size_t n)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
	close(fd);
}

/* Asserts the log holds exactly the events first..last with messages "m<seq>". */
static void assert_range(struct events *ev, uint64_t first, uint64_t last)
{
	struct event *list;
	ssize_t n = events_list(ev, 0, SIZE_MAX, &list);
	assert_int_equal(n, (ssize_t)(last - first + 1));
	for (ssize_t i = 0; i < n; i++) {
		char want[32];
		snprintf(want, sizeof(want), "m%llu", (unsigned long long)(first + (uint64_t)i));
		assert_int_equal(list[i].seq, first + (uint64_t)i);
		assert_string_equal(list[i].message, want);
	}
	events_list_free(list, (size_t)n);
	assert_int_equal(events_first_seq(ev), first);
	assert_int_equal(events_last_seq(ev), last);
}

static void append_m(struct events *ev, uint64_t from, uint64_t to)
{
	for (uint64_t s = from; s <= to; s++) {
		char m[32];
		snprintf(m, sizeof(m), "m%llu", (unsigned long long)s);
		assert_int_equal(append_str(ev, m), s);
	}
}

/* ---- basics ---- */

static void test_append_list_cursor(void **state)
{
	(void)state;
	struct events *ev = open_ok(NULL, 0, 0);
	assert_int_equal(events_first_seq(ev), 0);
	assert_int_equal(events_last_seq(ev), 0);
	struct event *list = (struct event *)1;
	assert_int_equal(events_list(ev, 0, 10, &list), 0);
	assert_null(list);

	int64_t before = util_now_ns();
	assert_int_equal(append_str(ev, "alpha"), 1);
	assert_int_equal(append_str(ev, "beta\twith tab"), 2);
	assert_int_equal(append_str(ev, "gamma é"), 3);
	assert_int_equal(events_append(ev, NULL, 0, NULL), 0); /* empty message, seq 4 */
	int64_t after = util_now_ns();

	ssize_t n = events_list(ev, 0, 10, &list);
	assert_int_equal(n, 4);
	assert_string_equal(list[0].message, "alpha");
	assert_int_equal(list[0].len, 5);
	assert_string_equal(list[1].message, "beta\twith tab");
	assert_string_equal(list[2].message, "gamma é");
	assert_int_equal(list[3].len, 0);
	assert_string_equal(list[3].message, "");
	for (int i = 0; i < 4; i++) {
		assert_int_equal(list[i].seq, (uint64_t)i + 1);
		assert_true(list[i].received_ns >= before && list[i].received_ns <= after);
		if (i)
			assert_true(list[i].received_ns >= list[i - 1].received_ns);
	}
	events_list_free(list, (size_t)n);

	n = events_list(ev, 1, 10, &list); /* cursor: strictly after */
	assert_int_equal(n, 3);
	assert_int_equal(list[0].seq, 2);
	events_list_free(list, (size_t)n);

	n = events_list(ev, 0, 2, &list); /* limit, oldest first */
	assert_int_equal(n, 2);
	assert_int_equal(list[1].seq, 2);
	events_list_free(list, (size_t)n);

	assert_int_equal(events_list(ev, 4, 10, &list), 0);
	assert_null(list);
	assert_int_equal(events_list(ev, 0, 0, &list), 0);
	assert_int_equal(events_list(ev, 1000, 10, &list), 0);
	assert_int_equal(events_first_seq(ev), 1);
	assert_int_equal(events_last_seq(ev), 4);
	assert_int_equal(events_count(ev), 4);
	assert_int_equal(events_sync(ev), 0); /* memory only: nothing to do */
	events_free(ev);
	events_free(NULL);
}

static void test_open_limits(void **state)
{
	struct fixture *f = *state;
	struct events *ev = NULL;
	struct events_opts o = { .max_entries = EVENTS_MAX_ENTRIES_CEILING };
	assert_int_equal(events_open(&o, &ev), 0);
	events_free(ev);
	o.max_entries = EVENTS_MAX_ENTRIES_CEILING + 1;
	assert_int_equal(events_open(&o, &ev), -E2BIG);

	o = (struct events_opts){ .max_bytes = EVENTS_MAX_BYTES_CEILING };
	assert_int_equal(events_open(&o, &ev), 0);
	events_free(ev);
	o.max_bytes = EVENTS_MAX_BYTES_CEILING + 1;
	assert_int_equal(events_open(&o, &ev), -E2BIG);

	o = (struct events_opts){ .max_message_bytes = EVENTS_MESSAGE_MAX_BYTES };
	assert_int_equal(events_open(&o, &ev), 0);
	events_free(ev);
	o.max_message_bytes = EVENTS_MESSAGE_MAX_BYTES + 1;
	assert_int_equal(events_open(&o, &ev), -E2BIG);

	/* The newest message must always fit in max_bytes. */
	o = (struct events_opts){ .max_bytes = 100, .max_message_bytes = 101 };
	assert_int_equal(events_open(&o, &ev), -EINVAL);
	o = (struct events_opts){ .max_bytes = 100, .max_message_bytes = 100 };
	assert_int_equal(events_open(&o, &ev), 0);
	events_free(ev);

	o = (struct events_opts){ .path = "" };
	assert_int_equal(events_open(&o, &ev), -EINVAL);
	assert_int_equal(events_open(NULL, &ev), -EINVAL);

	char missing[256];
	snprintf(missing, sizeof(missing), "%s/no/such/dir/events.log", f->dir);
	o = (struct events_opts){ .path = missing };
	assert_int_equal(events_open(&o, &ev), -ENOENT);

	o = (struct events_opts){ .path = f->dir }; /* a directory is not an event log */
	assert_int_equal(events_open(&o, &ev), -EBADMSG);
}

static void test_message_limit(void **state)
{
	(void)state;
	struct events_opts o = { .max_message_bytes = 10 };
	struct events *ev;
	assert_int_equal(events_open(&o, &ev), 0);
	assert_int_equal(append_str(ev, "0123456789"), 1); /* at the limit */
	uint64_t seq = 77;
	assert_int_equal(events_append(ev, "0123456789a", 11, &seq), -E2BIG); /* past it */
	assert_int_equal(seq, 77);
	assert_int_equal(events_last_seq(ev), 1);
	assert_int_equal(events_count(ev), 1);
	events_free(ev);

	/* Default max_message_bytes is the ceiling, lowered to max_bytes when that is smaller. */
	o = (struct events_opts){ 0 };
	assert_int_equal(events_open(&o, &ev), 0);
	char big[EVENTS_MESSAGE_MAX_BYTES + 1];
	memset(big, 'x', sizeof(big));
	assert_int_equal(events_append(ev, big, EVENTS_MESSAGE_MAX_BYTES, NULL), 0);
	assert_int_equal(events_append(ev, big, EVENTS_MESSAGE_MAX_BYTES + 1, NULL), -E2BIG);
	events_free(ev);
	o = (struct events_opts){ .max_bytes = 8 };
	assert_int_equal(events_open(&o, &ev), 0);
	assert_int_equal(events_append(ev, big, 8, NULL), 0);
	assert_int_equal(events_append(ev, big, 9, NULL), -E2BIG);
	events_free(ev);
}

/* ---- eviction ---- */

static void test_evict_by_count(void **state)
{
	(void)state;
	struct events *ev = open_ok(NULL, 3, 0);
	append_m(ev, 1, 3);
	assert_range(ev, 1, 3); /* at the limit: all kept */
	append_m(ev, 4, 4);
	assert_range(ev, 2, 4); /* past it: the oldest goes */
	append_m(ev, 5, 100);
	assert_range(ev, 98, 100);
	events_free(ev);

	ev = open_ok(NULL, 0, 0); /* 0 = system-api's default of 1000 */
	append_m(ev, 1, 1001);
	assert_int_equal(events_count(ev), EVENTS_MAX_ENTRIES_DEFAULT);
	assert_int_equal(events_first_seq(ev), 2);
	events_free(ev);
}

static void test_evict_by_bytes(void **state)
{
	(void)state;
	struct events *ev = open_ok(NULL, 1000, 20);
	/* "m1".."m9" are 2 bytes each: 10 of them would be 20 bytes. */
	append_m(ev, 1, 9);
	assert_int_equal(append_str(ev, "xx"), 10);
	assert_int_equal(events_count(ev), 10); /* exactly 20 bytes: at the limit, all kept */
	assert_int_equal(events_first_seq(ev), 1);
	assert_int_equal(append_str(ev, "y"), 11); /* 21 bytes: past it */
	assert_int_equal(events_count(ev), 10);
	assert_int_equal(events_first_seq(ev), 2);
	assert_int_equal(append_str(ev, "0123456789abcdefghij"), 12); /* one message of max_bytes */
	assert_int_equal(events_count(ev), 1);
	assert_int_equal(events_first_seq(ev), 12);
	struct event *list;
	assert_int_equal(events_list(ev, 0, 10, &list), 1);
	assert_string_equal(list[0].message, "0123456789abcdefghij");
	events_list_free(list, 1);
	events_free(ev);
}

/* A reference model under random appends: both rings wrap and grow many times. */
static void test_ring_model(void **state)
{
	(void)state;
	enum { N = 5000, MAXE = 50, MAXB = 3000 };
	struct events_opts o = { .max_entries = MAXE, .max_bytes = MAXB, .max_message_bytes = 200 };
	struct events *ev;
	assert_int_equal(events_open(&o, &ev), 0);
	static char msgs[N][201];
	static size_t lens[N];
	uint32_t rnd = 12345;
	size_t first = 0, bytes = 0; /* model: indices [first, i] kept */
	for (size_t i = 0; i < N; i++) {
		rnd = rnd * 1103515245u + 12345u;
		size_t len = (rnd >> 16) % 201;
		for (size_t k = 0; k < len; k++)
			msgs[i][k] = (char)('a' + (i + k) % 26);
		lens[i] = len;
		assert_int_equal(events_append(ev, msgs[i], len, NULL), 0);
		bytes += len;
		while (i + 1 - first > MAXE || bytes > MAXB)
			bytes -= lens[first++];
		if (i % 97 == 0 || i == N - 1) {
			struct event *list;
			ssize_t n = events_list(ev, 0, SIZE_MAX, &list);
			assert_int_equal(n, (ssize_t)(i + 1 - first));
			for (ssize_t j = 0; j < n; j++) {
				assert_int_equal(list[j].seq, first + (size_t)j + 1);
				assert_int_equal(list[j].len, lens[first + (size_t)j]);
				assert_memory_equal(list[j].message, msgs[first + (size_t)j],
						    list[j].len);
			}
			if (n)
				events_list_free(list, (size_t)n);
		}
	}
	events_free(ev);
}

/* ---- persistence ---- */

static void test_persist_restart(void **state)
{
	struct fixture *f = *state;
	struct events *ev = open_ok(f->path, 5, 0);
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	append_m(ev, 1, 8);
	assert_int_equal(events_sync(ev), 0);
	assert_int_equal(events_sync(ev), 0); /* nothing new: no-op */
	struct event *before;
	ssize_t nb = events_list(ev, 0, SIZE_MAX, &before);
	assert_int_equal(nb, 5);
	events_free(ev);

	ev = open_ok(f->path, 5, 0);
	assert_range(ev, 4, 8); /* same retained set: eviction replayed */
	struct event *after;
	assert_int_equal(events_list(ev, 0, SIZE_MAX, &after), nb);
	for (ssize_t i = 0; i < nb; i++) /* including the original receive times */
		assert_int_equal(after[i].received_ns, before[i].received_ns);
	events_list_free(before, (size_t)nb);
	events_list_free(after, (size_t)nb);
	append_m(ev, 9, 9); /* seq continues */
	events_free(ev);

	/* Byte-bounded too, and a restart with a lower bound replays the lower one. */
	ev = open_ok(f->path, 5, 0);
	assert_range(ev, 5, 9);
	events_free(ev);
	ev = open_ok(f->path, 2, 0);
	assert_range(ev, 8, 9);
	events_free(ev);
	ev = open_ok(f->path, 100, 4); /* "m8" + "m9" = 4 bytes */
	assert_range(ev, 8, 9);
	events_free(ev);
}

static void test_persist_mode_and_empty_file(void **state)
{
	struct fixture *f = *state;
	int fd = open(f->path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644); /* an empty file is adopted */
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(f->path, 0644), 0);
	struct events *ev = open_ok(f->path, 10, 0);
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	append_m(ev, 1, 2);
	events_free(ev);
	ev = open_ok(f->path, 10, 0);
	assert_range(ev, 1, 2);
	events_free(ev);
}

static void test_torn_tail_repaired(void **state)
{
	struct fixture *f = *state;
	struct events *ev = open_ok(f->path, 100, 0);
	append_m(ev, 1, 3);
	events_free(ev);
	off_t full = file_size(f->path);
	off_t two = full - (REC_HDR + 2); /* records are 28 + len("m3") bytes */

	/* A power cut in the middle of record 3: its last bytes never reached the disk. */
	assert_int_equal(truncate(f->path, full - 1), 0);
	ev = open_ok(f->path, 100, 0);
	assert_range(ev, 1, 2);
	assert_int_equal(file_size(f->path), two); /* repaired on disk */
	append_m(ev, 3, 3);                        /* seq continues from the last persisted */
	events_free(ev);
	ev = open_ok(f->path, 100, 0);
	assert_range(ev, 1, 3);
	events_free(ev);

	/* Only part of a header. */
	assert_int_equal(truncate(f->path, two + 5), 0);
	ev = open_ok(f->path, 100, 0);
	assert_range(ev, 1, 2);
	events_free(ev);
	assert_int_equal(file_size(f->path), two);

	/* The last record is whole but a byte of it is wrong. */
	ev = open_ok(f->path, 100, 0);
	append_m(ev, 3, 3);
	events_free(ev);
	unsigned char buf[4096];
	size_t n = read_all(f->path, buf, sizeof(buf));
	buf[n - 1] ^= 0x01;
	write_all(f->path, buf, n);
	ev = open_ok(f->path, 100, 0);
	assert_range(ev, 1, 2);
	events_free(ev);

	/* Zeros after the last record (a file extended but never written). */
	n = read_all(f->path, buf, sizeof(buf));
	memset(buf + n, 0, 100);
	write_all(f->path, buf, n + 100);
	ev = open_ok(f->path, 100, 0);
	assert_range(ev, 1, 2);
	events_free(ev);
	assert_int_equal(file_size(f->path), two);
}

static void assert_open_badmsg_untouched(const char *path)
{
	static unsigned char before[16384], after[16384];
	size_t nb = read_all(path, before, sizeof(before));
	struct events_opts o = { .path = path };
	struct events *ev = (struct events *)1;
	assert_int_equal(events_open(&o, &ev), -EBADMSG);
	size_t na = read_all(path, after, sizeof(after));
	assert_int_equal(na, nb);
	assert_memory_equal(before, after, nb);
}

static void test_corrupt_middle(void **state)
{
	struct fixture *f = *state;
	struct events *ev = open_ok(f->path, 100, 0);
	append_m(ev, 1, 3);
	events_free(ev);
	static unsigned char good[16384], buf[16384];
	size_t n = read_all(f->path, good, sizeof(good));

	/* A flipped byte in the first record's message. */
	memcpy(buf, good, n);
	buf[FILE_HDR + REC_HDR] ^= 0x20;
	write_all(f->path, buf, n);
	assert_open_badmsg_untouched(f->path);

	/* A flipped byte in the first record's length. */
	memcpy(buf, good, n);
	buf[FILE_HDR + 4] = 0x7f;
	write_all(f->path, buf, n);
	assert_open_badmsg_untouched(f->path);

	/* A valid record out of order (record 1 again after record 3). */
	memcpy(buf, good, n);
	memcpy(buf + n, good + FILE_HDR, REC_HDR + 2);
	write_all(f->path, buf, n + REC_HDR + 2);
	assert_open_badmsg_untouched(f->path);

	/* Garbage longer than one record at the end cannot be a torn write. */
	memcpy(buf, good, n);
	memset(buf + n, 'z', REC_HDR + EVENTS_MESSAGE_MAX_BYTES + 1);
	write_all(f->path, buf, n + REC_HDR + EVENTS_MESSAGE_MAX_BYTES + 1);
	assert_open_badmsg_untouched(f->path);

	/* Not an event log at all, or too short to be one. */
	write_all(f->path, (const unsigned char *)"hello\n", 6);
	assert_open_badmsg_untouched(f->path);
	memcpy(buf, good, n);
	buf[0] = 'X';
	write_all(f->path, buf, n);
	assert_open_badmsg_untouched(f->path);

	/* The original is still fine. */
	write_all(f->path, good, n);
	ev = open_ok(f->path, 100, 0);
	assert_range(ev, 1, 3);
	events_free(ev);
}

/* Appends n messages of len bytes ("<seq>" padded with 'p') and returns the largest file size. */
static off_t append_big(struct events *ev, const char *path, uint64_t first, int n, size_t len)
{
	static char m[EVENTS_MESSAGE_MAX_BYTES];
	off_t biggest = 0;
	memset(m, 'p', sizeof(m));
	for (int i = 0; i < n; i++) {
		char num[24];
		int k = snprintf(num, sizeof(num), "%llu",
				 (unsigned long long)(first + (uint64_t)i));
		memcpy(m, num, (size_t)k);
		uint64_t seq;
		assert_int_equal(events_append(ev, m, len, &seq), 0);
		assert_int_equal(seq, first + (uint64_t)i);
		off_t sz = file_size(path);
		if (sz > biggest)
			biggest = sz;
	}
	return biggest;
}

static void assert_big_range(struct events *ev, uint64_t first, uint64_t last, size_t len)
{
	struct event *list;
	ssize_t n = events_list(ev, 0, SIZE_MAX, &list);
	assert_int_equal(n, (ssize_t)(last - first + 1));
	for (ssize_t i = 0; i < n; i++) {
		assert_int_equal(list[i].seq, first + (uint64_t)i);
		assert_int_equal(list[i].len, len);
		assert_int_equal(strtoull(list[i].message, NULL, 10), first + (uint64_t)i);
	}
	events_list_free(list, (size_t)n);
}

#define REC_BIG (REC_HDR + EVENTS_MESSAGE_MAX_BYTES)

static void test_compaction_bounds_file(void **state)
{
	struct fixture *f = *state;
	/* Bounded by count: 3000 x 4 KiB written (12 MiB), 10 retained. The file never holds more
	 * than max(2 x retained, EVENTS_COMPACT_MIN_FILE_BYTES) plus the record that crossed it. */
	struct events *ev = open_ok(f->path, 10, 0);
	off_t biggest = append_big(ev, f->path, 1, 3000, EVENTS_MESSAGE_MAX_BYTES);
	assert_true(biggest <= (off_t)EVENTS_COMPACT_MIN_FILE_BYTES + REC_BIG);
	assert_true(biggest > (off_t)EVENTS_COMPACT_MIN_FILE_BYTES - REC_BIG); /* it did grow */
	assert_big_range(ev, 2991, 3000, EVENTS_MESSAGE_MAX_BYTES);
	events_free(ev);
	ev = open_ok(f->path, 10, 0); /* a compacted file restarts with the same set */
	assert_big_range(ev, 2991, 3000, EVENTS_MESSAGE_MAX_BYTES);
	assert_int_equal(append_big(ev, f->path, 3001, 1, 5) > 0, 1);
	events_free(ev);

	/* Bounded by bytes: 4000-byte messages, max_bytes 100000 keeps 25. */
	unlink(f->path);
	ev = open_ok(f->path, 100000, 100000);
	biggest = append_big(ev, f->path, 1, 3000, 4000);
	assert_true(biggest <= (off_t)EVENTS_COMPACT_MIN_FILE_BYTES + REC_BIG);
	assert_big_range(ev, 2976, 3000, 4000);
	events_free(ev);

	/* A file left big by a larger config is compacted on open. */
	unlink(f->path);
	ev = open_ok(f->path, 2000, 0);
	append_big(ev, f->path, 1, 1100, EVENTS_MESSAGE_MAX_BYTES);
	events_free(ev);
	assert_true(file_size(f->path) > (off_t)EVENTS_COMPACT_MIN_FILE_BYTES);
	ev = open_ok(f->path, 10, 0);
	assert_big_range(ev, 1091, 1100, EVENTS_MESSAGE_MAX_BYTES);
	assert_int_equal(file_size(f->path), FILE_HDR + 10 * REC_BIG);
	events_free(ev);

	/* A small file is left alone even when it holds far more than it retains. */
	unlink(f->path);
	ev = open_ok(f->path, 10, 0);
	append_m(ev, 1, 100);
	events_free(ev);
	off_t small = file_size(f->path);
	ev = open_ok(f->path, 10, 0);
	assert_range(ev, 91, 100);
	events_free(ev);
	assert_int_equal(file_size(f->path), small);
}

/* A write that fails half-way leaves neither a half record in the file nor an event in memory. */
static void test_failed_write_rolled_back(void **state)
{
	struct fixture *f = *state;
	struct events *ev = open_ok(f->path, 100, 0);
	append_m(ev, 1, 2);
	off_t sz = file_size(f->path);

	struct rlimit old, lim;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	void (*oldsig)(int) = signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = (rlim_t)sz + 10; /* the next record is 28 + 2 bytes */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	uint64_t seq = 0;
	int r = events_append(ev, "m3", 2, &seq);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, oldsig);

	assert_true(r < 0);
	assert_int_equal(seq, 0);
	assert_int_equal(file_size(f->path), sz);
	assert_range(ev, 1, 2);
	append_m(ev, 3, 3); /* works again once the disk has room */
	events_free(ev);
	ev = open_ok(f->path, 100, 0);
	assert_range(ev, 1, 3);
	events_free(ev);
}

/* ---- subscribers ---- */

static void count_cb(void *ud)
{
	atomic_fetch_add((atomic_int *)ud, 1);
}

static void test_subscribers(void **state)
{
	(void)state;
	struct events *ev = open_ok(NULL, 10, 0);
	atomic_int a = 0, b = 0;
	assert_int_equal(events_subscribe(ev, NULL, NULL), -EINVAL);
	int ia = events_subscribe(ev, count_cb, &a);
	int ib = events_subscribe(ev, count_cb, &b);
	assert_true(ia > 0 && ib > 0 && ia != ib);
	append_m(ev, 1, 3);
	assert_int_equal(atomic_load(&a), 3);
	assert_int_equal(atomic_load(&b), 3);
	events_unsubscribe(ev, ia);
	append_m(ev, 4, 4);
	assert_int_equal(atomic_load(&a), 3);
	assert_int_equal(atomic_load(&b), 4);
	assert_int_equal(events_append(ev, "x", 5000, NULL), -E2BIG); /* failed: nobody woken */
	assert_int_equal(atomic_load(&b), 4);
	events_unsubscribe(ev, ib);
	events_unsubscribe(ev, 12345); /* unknown: ignored */

	/* EVENTS_MAX_SUBSCRIBERS at the limit, one past it, and a freed slot is reusable. */
	int ids[EVENTS_MAX_SUBSCRIBERS];
	for (int i = 0; i < EVENTS_MAX_SUBSCRIBERS; i++) {
		ids[i] = events_subscribe(ev, count_cb, &a);
		assert_true(ids[i] > 0);
	}
	assert_int_equal(events_subscribe(ev, count_cb, &a), -EBUSY);
	events_unsubscribe(ev, ids[7]);
	ids[7] = events_subscribe(ev, count_cb, &a);
	assert_true(ids[7] > 0);
	atomic_store(&a, 0);
	append_m(ev, 5, 5);
	assert_int_equal(atomic_load(&a), EVENTS_MAX_SUBSCRIBERS);
	for (int i = 0; i < EVENTS_MAX_SUBSCRIBERS; i++)
		events_unsubscribe(ev, ids[i]);
	events_free(ev);
}

struct slow_sub {
	atomic_int entered, finished;
};

static void slow_cb(void *ud)
{
	struct slow_sub *s = ud;
	atomic_store(&s->entered, 1);
	usleep(200 * 1000);
	atomic_store(&s->finished, 1);
}

static void *append_one(void *ev)
{
	events_append(ev, "slow", 4, NULL);
	return NULL;
}

static void test_unsubscribe_waits_for_callback(void **state)
{
	(void)state;
	struct events *ev = open_ok(NULL, 10, 0);
	struct slow_sub s = { 0 };
	int id = events_subscribe(ev, slow_cb, &s);
	assert_true(id > 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, append_one, ev), 0);
	while (!atomic_load(&s.entered))
		usleep(1000);
	events_unsubscribe(ev, id);
	assert_int_equal(atomic_load(&s.finished), 1); /* not running any more when it returns */
	pthread_join(t, NULL);
	atomic_store(&s.finished, 0);
	append_m(ev, 2, 2);
	assert_int_equal(atomic_load(&s.finished), 0); /* and never again */
	events_free(ev);
}

/* ---- concurrency ---- */

#define THREADS 8
#define PER_THREAD 2000

struct worker {
	struct events *ev;
	int id;
	uint64_t seqs[PER_THREAD];
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < PER_THREAD; i++) {
		char m[32];
		int n = snprintf(m, sizeof(m), "t%d-%d", w->id, i);
		if (events_append(w->ev, m, (size_t)n, &w->seqs[i]) != 0)
			w->seqs[i] = 0;
		if (i % 500 == 0)
			events_sync(w->ev);
	}
	return NULL;
}

static void check_concurrent_result(struct events *ev)
{
	struct event *list;
	ssize_t n = events_list(ev, 0, SIZE_MAX, &list);
	assert_int_equal(n, THREADS * PER_THREAD);
	int next[THREADS] = { 0 };
	for (ssize_t i = 0; i < n; i++) {
		assert_int_equal(list[i].seq, (uint64_t)i + 1);
		int t, k;
		assert_int_equal(sscanf(list[i].message, "t%d-%d", &t, &k), 2);
		assert_true(t >= 0 && t < THREADS);
		assert_int_equal(k, next[t]); /* each thread's events in its own order */
		next[t]++;
	}
	events_list_free(list, (size_t)n);
}

static void test_concurrent_appends(void **state)
{
	struct fixture *f = *state;
	struct events *ev = open_ok(f->path, 100000, 0);
	atomic_int woken = 0;
	int id = events_subscribe(ev, count_cb, &woken);
	static struct worker w[THREADS];
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .ev = ev, .id = i };
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	events_unsubscribe(ev, id);
	assert_int_equal(atomic_load(&woken), THREADS * PER_THREAD);
	static unsigned char seen[THREADS * PER_THREAD + 1];
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < THREADS; i++)
		for (int k = 0; k < PER_THREAD; k++) {
			uint64_t s = w[i].seqs[k];
			assert_true(s >= 1 && s <= THREADS * PER_THREAD);
			assert_int_equal(seen[s], 0); /* unique */
			seen[s] = 1;
		}
	assert_int_equal(events_last_seq(ev), THREADS * PER_THREAD);
	check_concurrent_result(ev);
	assert_int_equal(events_sync(ev), 0);
	events_free(ev);
	ev = open_ok(f->path, 100000, 0);
	check_concurrent_result(ev);
	events_free(ev);
}

/* ---- sanitize / validate ---- */

static size_t san(const char *in, char *out, size_t max)
{
	return events_sanitize(in, strlen(in), out, 64, max);
}

#define FFFD "\xEF\xBF\xBD"

static void assert_san(const char *in, size_t max, const char *want)
{
	char out[64];
	size_t n = san(in, out, max);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);
}

static void test_sanitize(void **state)
{
	(void)state;
	assert_san("hello", 100, "hello");
	assert_san("a\tb", 100, "a\tb"); /* TAB kept */
	assert_san("a\xff"
		   "b",
		   100, "a" FFFD "b"); /* invalid byte */
	assert_san("a\x01"
		   "b\x7f",
		   100, "a" FFFD "b" FFFD);    /* C0 control and DEL */
	assert_san("a\rb", 100, "a" FFFD "b"); /* \r inside */
	assert_san("line\r", 100, "line");     /* one trailing \r removed */
	assert_san("line\r\r", 100, "line" FFFD);
	assert_san("\r", 100, "");
	assert_san("\xC0\xAF", 100, FFFD FFFD);                   /* overlong */
	assert_san("\xED\xA0\x80", 100, FFFD FFFD FFFD);          /* surrogate */
	assert_san("\xF4\x90\x80\x80", 100, FFFD FFFD FFFD FFFD); /* > U+10FFFF */
	assert_san("x\xE2\x82", 100, "x" FFFD);                   /* cut off sequence: one U+FFFD */
	assert_san("\xE2\x82x", 100, FFFD "x");
	assert_san("€𝄞é", 100, "€𝄞é");
	/* Cut at max on a character boundary. */
	assert_san("ééé", 6, "ééé");
	assert_san("ééé", 5, "éé");
	assert_san("abc\xff", 5, "abc"); /* U+FFFD would not fit */
	assert_san("abc\xff", 6, "abc" FFFD);
	assert_san("abcdef", 0, "");
	/* outcap bounds the output too. */
	char out[4];
	assert_int_equal(events_sanitize("abcdef", 6, out, sizeof(out), 100), 4);
	assert_memory_equal(out, "abcd", 4);
	assert_int_equal(events_sanitize("", 0, out, sizeof(out), 100), 0);
}

static void test_validate(void **state)
{
	(void)state;
	assert_int_equal(events_validate("hello\tworld é€𝄞", strlen("hello\tworld é€𝄞"), 100), 0);
	assert_int_equal(events_validate("", 0, 0), 0);
	assert_int_equal(events_validate("abcde", 5, 5), 0);       /* at the limit */
	assert_int_equal(events_validate("abcdef", 6, 5), -E2BIG); /* past it */
	assert_int_equal(events_validate("a\nb", 3, 100), -EINVAL);
	assert_int_equal(events_validate("a\rb", 3, 100), -EINVAL);
	assert_int_equal(events_validate("a\0b", 3, 100), -EINVAL);
	assert_int_equal(events_validate("a\x7f", 2, 100), -EINVAL);
	assert_int_equal(events_validate("a\xff", 2, 100), -EINVAL);
	assert_int_equal(events_validate("\xC0\xAF", 2, 100), -EINVAL);
	assert_int_equal(events_validate("\xED\xA0\x80", 3, 100), -EINVAL);
	assert_int_equal(events_validate("\xE2\x82", 2, 100), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_list_cursor),
		cmocka_unit_test_setup_teardown(test_open_limits, setup, teardown),
		cmocka_unit_test(test_message_limit),
		cmocka_unit_test(test_evict_by_count),
		cmocka_unit_test(test_evict_by_bytes),
		cmocka_unit_test(test_ring_model),
		cmocka_unit_test_setup_teardown(test_persist_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persist_mode_and_empty_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail_repaired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_middle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compaction_bounds_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_write_rolled_back, setup, teardown),
		cmocka_unit_test(test_subscribers),
		cmocka_unit_test(test_unsubscribe_waits_for_callback),
		cmocka_unit_test_setup_teardown(test_concurrent_appends, setup, teardown),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_validate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
