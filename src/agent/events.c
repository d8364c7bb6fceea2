/*
 * events.c - the agent's event log (see events.h): two rings in memory, an append-only file.
 *
 * Memory. Entries (seq, time, offset, length, checksum) live in a ring of struct entry and their
 * message bytes in a byte ring, both in arrival order, so eviction is moving two head indices and
 * appending is two memcpy()s: no allocation per event. Both rings start small and double (up to
 * max_entries and max_bytes) only when the retained set outgrows them, so a log of short messages
 * does not pin max_bytes of memory.
 *
 * File format. A 16-byte file header (EVENTS_FILE_MAGIC: a high byte, "CLOISTER-EVT", CR LF and
 * a version byte, so a wrong or text-mangled file is refused instead of "repaired") followed by
 * one record per event:
 *
 *     le32 magic 0x01FF5645 ("EV", 0xFF, 1)   le32 len   le64 seq   le64 received_ns
 *     le32 crc32c(the 24 bytes above ++ message)   message (len bytes, no terminator)
 *
 * Binary rather than JSON lines: there is nothing to escape or parse on the hot path, and the
 * length makes each record self-delimiting while the CRC catches torn and flipped bytes. The
 * record magic contains 0xFF, which never occurs in UTF-8, and a record header contains bytes
 * below 0x20; messages contain neither, so no valid record can hide inside a message. Each
 * record is written with one write(2) on an O_APPEND fd, so a crash of the process never leaves
 * half a record; a crash of the machine can, and only at the end. On open, a bad record is
 * treated as a torn tail (dropped, file truncated) only when at most one record's worth of bytes
 * remains and no valid record starts anywhere after it; otherwise the file is corrupt
 * (-EBADMSG) and left alone for an operator to look at.
 *
 * The file is replayed through the same eviction as live appends, so the retained set after a
 * restart is the one before it, and seq continues from the highest record. When the file holds
 * more than twice the retained count or bytes, and more than EVENTS_COMPACT_MIN_FILE_BYTES (so a
 * small log is not rewritten every few hundred events), it is rewritten with only the retained
 * entries (fsx_write_atomic: temp file, fsync, rename) and the append fd is reopened, under the
 * lock. A failed write is cut back off the file so the next append does not bury a torn record
 * in the middle.
 *
 * Locking: one mutex for the rings and the file; a second one for the subscriber table, whose
 * callbacks run with neither held. events_sync duplicates the fd under the lock and calls
 * fdatasync without it, so concurrent HTTP appends share one sync (group commit).
 */
#include "events.h"

#include "fsx.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EVENTS_FILE_MAGIC                                                                          \
	"\x89"                                                                                     \
	"CLOISTER-EVT\r\n\x01"
#define EVENTS_FILE_MAGIC_BYTES 16
#define EVENTS_REC_MAGIC 0x01FF5645u
#define EVENTS_REC_HDR_BYTES 28
#define EVENTS_REC_MAX_BYTES (EVENTS_REC_HDR_BYTES + EVENTS_MESSAGE_MAX_BYTES)
#define EVENTS_FILE_MODE 0600
#define EVENTS_LOAD_BUF_BYTES (256u * 1024u)
#define EVENTS_BYTES_INITIAL 4096u
#define EVENTS_ENTRIES_INITIAL 64u

struct entry {
	uint64_t seq;
	int64_t ns;
	size_t off; /* start of the message in the byte ring */
	uint32_t len;
	uint32_t crc; /* of the file record, kept so compaction does not recompute it */
};

struct sub {
	int id; /* 0 = free slot */
	bool active;
	unsigned running; /* callbacks of this slot in progress */
	void (*cb)(void *ud);
	void *ud;
};

struct events {
	pthread_mutex_t lock;
	size_t max_entries, max_bytes, max_msg;

	struct entry *ents;
	size_t ecap, ehead, ecount;
	char *ring;
	size_t bcap, bhead, bused; /* bused = sum of the kept messages' lengths */
	uint64_t last_seq;

	char *path;          /* NULL = memory only */
	int fd;              /* O_APPEND; -1 after a failed reopen (retried on the next append) */
	off_t file_size;     /* bytes known good */
	bool file_dirty;     /* a failed write may have left bytes past file_size */
	size_t file_records; /* records in the file */
	uint64_t file_msg_bytes; /* message bytes in the file */
	size_t compact_skip;     /* appends to wait after a failed compaction */
	uint64_t synced_seq;
	unsigned char rec[EVENTS_REC_MAX_BYTES];

	pthread_mutex_t sub_lock;
	pthread_cond_t sub_cond;
	atomic_int nsubs;
	int next_id;
	struct sub subs[EVENTS_MAX_SUBSCRIBERS];
};

/* ---- CRC-32C (Castagnoli), slicing by 8 ---- */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^
					  crc_table[0][crc_table[t - 1][i] & 0xff];
}

static uint32_t crc_update(uint32_t crc, const unsigned char *p, size_t n)
{
	crc = ~crc;
	while (n >= 8) {
		uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
				     (uint32_t)p[3] << 24);
		crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		      crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
		      crc_table[3][p[4]] ^ crc_table[2][p[5]] ^ crc_table[1][p[6]] ^
		      crc_table[0][p[7]];
		p += 8;
		n -= 8;
	}
	while (n--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

/* ---- little-endian fields ---- */

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Fills the 28-byte record header for a message and returns the record's CRC. */
static uint32_t rec_header(unsigned char *h, uint64_t seq, int64_t ns, const void *msg, size_t len)
{
	put32(h, EVENTS_REC_MAGIC);
	put32(h + 4, (uint32_t)len);
	put64(h + 8, seq);
	put64(h + 16, (uint64_t)ns);
	uint32_t crc = crc_update(crc_update(0, h, 24), msg, len);
	put32(h + 24, crc);
	return crc;
}

/* ---- UTF-8 ---- */

/* Length of the valid character at s[0..n) (n >= 1, s[0] >= 0x80), or 0 with *bad set to the
 * length of the maximal ill-formed prefix (>= 1), which the sanitiser replaces by one U+FFFD. */
static size_t utf8_char(const unsigned char *s, size_t n, size_t *bad)
{
	unsigned char c = s[0];
	size_t need;
	unsigned char lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		*bad = 1;
		return 0;
	}
	for (size_t k = 1; k <= need; k++) {
		if (k >= n || s[k] < lo || s[k] > hi) {
			*bad = k;
			return 0;
		}
		lo = 0x80;
		hi = 0xBF;
	}
	return need + 1;
}

static bool is_control(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

size_t events_sanitize(const char *in, size_t len, char *out, size_t outcap, size_t max)
{
	static const char fffd[3] = { '\xEF', '\xBF', '\xBD' };
	const unsigned char *s = (const unsigned char *)in;
	size_t limit = max < outcap ? max : outcap;
	size_t i = 0, o = 0;

	if (len > 0 && s[len - 1] == '\r')
		len--;
	while (i < len) {
		const char *src;
		size_t take, adv;
		if (s[i] < 0x80) {
			bool ctl = is_control(s[i]);
			src = ctl ? fffd : in + i;
			take = ctl ? 3 : 1;
			adv = 1;
		} else {
			size_t bad = 0;
			take = utf8_char(s + i, len - i, &bad);
			src = take ? in + i : fffd;
			adv = take ? take : bad;
			if (!take)
				take = 3;
		}
		if (o + take > limit)
			break;
		memcpy(out + o, src, take);
		o += take;
		i += adv;
	}
	return o;
}

int events_validate(const char *msg, size_t len, size_t max)
{
	const unsigned char *s = (const unsigned char *)msg;
	if (len > max)
		return -E2BIG;
	for (size_t i = 0; i < len;) {
		if (s[i] < 0x80) {
			if (is_control(s[i]))
				return -EINVAL;
			i++;
			continue;
		}
		size_t bad, n = utf8_char(s + i, len - i, &bad);
		if (!n)
			return -EINVAL;
		i += n;
	}
	return 0;
}

/* ---- rings ---- */

static struct entry *ent_at(struct events *ev, size_t i)
{
	return &ev->ents[(ev->ehead + i) % ev->ecap];
}

static void ring_put(struct events *ev, size_t off, const char *src, size_t n)
{
	size_t first = n < ev->bcap - off ? n : ev->bcap - off;
	memcpy(ev->ring + off, src, first);
	memcpy(ev->ring, src + first, n - first);
}

static void ring_get(const struct events *ev, size_t off, char *dst, size_t n)
{
	size_t first = n < ev->bcap - off ? n : ev->bcap - off;
	memcpy(dst, ev->ring + off, first);
	memcpy(dst + first, ev->ring, n - first);
}

/* Grows the rings so that one more entry of len bytes fits once eviction has run. Changes no
 * visible state, so a failure here leaves the log as it was. */
static int reserve(struct events *ev, size_t len)
{
	if (ev->ecount == ev->ecap && ev->ecap < ev->max_entries) {
		size_t ncap = ev->ecap * 2;
		if (ncap > ev->max_entries)
			ncap = ev->max_entries;
		struct entry *n = malloc(ncap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		for (size_t i = 0; i < ev->ecount; i++)
			n[i] = *ent_at(ev, i);
		free(ev->ents);
		ev->ents = n;
		ev->ecap = ncap;
		ev->ehead = 0;
	}
	if (ev->bused + len > ev->bcap && ev->bcap < ev->max_bytes) {
		size_t ncap = ev->bcap * 2;
		if (ncap < ev->bused + len)
			ncap = ev->bused + len;
		if (ncap > ev->max_bytes)
			ncap = ev->max_bytes;
		char *n = malloc(ncap);
		if (!n)
			return -ENOMEM;
		ring_get(ev, ev->bhead, n, ev->bused);
		for (size_t i = 0; i < ev->ecount; i++) {
			struct entry *e = ent_at(ev, i);
			e->off = (e->off + ev->bcap - ev->bhead) % ev->bcap;
		}
		free(ev->ring);
		ev->ring = n;
		ev->bcap = ncap;
		ev->bhead = 0;
	}
	return 0;
}

static void evict_oldest(struct events *ev)
{
	struct entry *e = &ev->ents[ev->ehead];
	ev->bhead = (ev->bhead + e->len) % ev->bcap;
	ev->bused -= e->len;
	ev->ehead = (ev->ehead + 1) % ev->ecap;
	ev->ecount--;
	if (ev->ecount == 0)
		ev->bhead = 0;
}

/* Adds an entry after reserve() succeeded; len <= max_bytes. Evicting before adding is the same
 * as system-api's "add, then drop the oldest while over" because the new entry always fits. */
static void push(struct events *ev, uint64_t seq, int64_t ns, const char *msg, size_t len,
		 uint32_t crc)
{
	while (ev->ecount > 0 &&
	       (ev->ecount + 1 > ev->max_entries || ev->bused + len > ev->max_bytes))
		evict_oldest(ev);
	size_t off = (ev->bhead + ev->bused) % ev->bcap;
	ring_put(ev, off, msg, len);
	ev->bused += len;
	*ent_at(ev, ev->ecount) = (struct entry){
		.seq = seq, .ns = ns, .off = off, .len = (uint32_t)len, .crc = crc
	};
	ev->ecount++;
}

/* First index whose seq is > after (ecount when none). */
static size_t find_after(struct events *ev, uint64_t after)
{
	size_t lo = 0, hi = ev->ecount;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ent_at(ev, mid)->seq <= after)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* ---- file ---- */

/* Twice the retained set, as long as the file is not small: with system-api's default of 1000
 * entries a compaction every 1000 events (two fsyncs each) would cap the pipe's throughput on a
 * slow disk, while a few MiB of dead records cost nothing. */
static bool file_needs_compaction(const struct events *ev)
{
	return (ev->file_records > 2 * ev->max_entries ||
		ev->file_msg_bytes > 2 * (uint64_t)ev->max_bytes) &&
	       ev->file_size > (off_t)EVENTS_COMPACT_MIN_FILE_BYTES;
}

/* Rewrites the file with the retained entries only and reopens the append fd. */
static int compact(struct events *ev)
{
	size_t total = EVENTS_FILE_MAGIC_BYTES + ev->ecount * EVENTS_REC_HDR_BYTES + ev->bused;
	_cleanup_free_ unsigned char *buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, EVENTS_FILE_MAGIC, EVENTS_FILE_MAGIC_BYTES);
	size_t o = EVENTS_FILE_MAGIC_BYTES;
	for (size_t i = 0; i < ev->ecount; i++) {
		const struct entry *e = ent_at(ev, i);
		unsigned char *h = buf + o;
		put32(h, EVENTS_REC_MAGIC);
		put32(h + 4, e->len);
		put64(h + 8, e->seq);
		put64(h + 16, (uint64_t)e->ns);
		put32(h + 24, e->crc);
		ring_get(ev, e->off, (char *)h + EVENTS_REC_HDR_BYTES, e->len);
		o += EVENTS_REC_HDR_BYTES + e->len;
	}
	int r = fsx_write_atomic(ev->path, buf, total, EVENTS_FILE_MODE);
	if (r < 0)
		return r;
	/* The old fd now points at the replaced inode: appending there would lose events. */
	if (ev->fd >= 0)
		close(ev->fd);
	ev->fd = -1;
	ev->file_size = (off_t)total;
	ev->file_dirty = false;
	ev->file_records = ev->ecount;
	ev->file_msg_bytes = ev->bused;
	ev->synced_seq = ev->last_seq;
	r = fsx_open_append(ev->path, EVENTS_FILE_MODE);
	if (r < 0)
		return r;
	ev->fd = r;
	return 0;
}

static void maybe_compact(struct events *ev)
{
	if (!ev->path || !file_needs_compaction(ev))
		return;
	if (ev->compact_skip > 0) {
		ev->compact_skip--;
		return;
	}
	if (compact(ev) < 0 && ev->fd >= 0)
		ev->compact_skip =
			ev->max_entries; /* e.g. disk full: do not retry on every append */
}

/* Makes the append fd usable: reopens it after a failed compaction, and cuts off whatever a
 * failed write left past the last good record. */
static int file_ready(struct events *ev)
{
	if (ev->fd < 0) {
		int fd = fsx_open_append(ev->path, EVENTS_FILE_MODE);
		if (fd < 0)
			return fd;
		ev->fd = fd;
	}
	if (ev->file_dirty) {
		if (ftruncate(ev->fd, ev->file_size) < 0)
			return -errno;
		ev->file_dirty = false;
	}
	return 0;
}

static int file_write_record(struct events *ev, size_t reclen)
{
	int r = file_ready(ev);
	if (r < 0)
		return r;
	ssize_t n;
	do
		n = write(ev->fd, ev->rec, reclen);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)reclen) {
		ev->file_size += (off_t)reclen;
		return 0;
	}
	r = n < 0 ? -errno : -EIO;
	if (n != 0) {
		ev->file_dirty = true;
		if (ftruncate(ev->fd, ev->file_size) == 0)
			ev->file_dirty = false;
	}
	return r;
}

/* Keeps the file's bytes [start, start+len) in buf; refills by pread only when needed. */
struct loader {
	int fd;
	off_t size;
	unsigned char *buf;
	off_t bstart;
	size_t blen;
};

static int load_window(struct loader *l, off_t off, size_t want, const unsigned char **p)
{
	if (off < l->bstart || off + (off_t)want > l->bstart + (off_t)l->blen) {
		size_t got = 0;
		while (got < EVENTS_LOAD_BUF_BYTES && off + (off_t)got < l->size) {
			ssize_t n = pread(l->fd, l->buf + got, EVENTS_LOAD_BUF_BYTES - got,
					  off + (off_t)got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			if (n == 0)
				break;
			got += (size_t)n;
		}
		l->bstart = off;
		l->blen = got;
		if (got < want)
			return -EBADMSG; /* the file shrank under us */
	}
	*p = l->buf + (off - l->bstart);
	return 0;
}

/* Decodes the record at p (avail bytes). Returns its total length, or 0 if it is not a whole
 * valid record. */
static size_t rec_parse(const unsigned char *p, size_t avail, uint64_t *seq, int64_t *ns,
			uint32_t *len, uint32_t *crc)
{
	if (avail < EVENTS_REC_HDR_BYTES || get32(p) != EVENTS_REC_MAGIC)
		return 0;
	uint32_t l = get32(p + 4);
	if (l > EVENTS_MESSAGE_MAX_BYTES || l > avail - EVENTS_REC_HDR_BYTES)
		return 0;
	uint32_t c = get32(p + 24);
	if (crc_update(crc_update(0, p, 24), p + EVENTS_REC_HDR_BYTES, l) != c)
		return 0;
	*len = l;
	*crc = c;
	*seq = get64(p + 8);
	*ns = (int64_t)get64(p + 16);
	return EVENTS_REC_HDR_BYTES + l;
}

/* The bytes from off to the end do not start with a valid record. Returns 0 when they can be a
 * torn last write (at most one record long, no valid record inside), else -EBADMSG. */
static int check_torn_tail(struct loader *l, off_t off)
{
	size_t rest = (size_t)(l->size - off);
	const unsigned char *p;
	if (rest > EVENTS_REC_MAX_BYTES)
		return -EBADMSG;
	int r = load_window(l, off, rest, &p);
	if (r < 0)
		return r;
	for (size_t i = 1; i + EVENTS_REC_HDR_BYTES <= rest; i++) {
		uint64_t seq;
		int64_t ns;
		uint32_t len, crc;
		if (rec_parse(p + i, rest - i, &seq, &ns, &len, &crc))
			return -EBADMSG;
	}
	return 0;
}

static int create_file(struct events *ev)
{
	int r = fsx_write_atomic(ev->path, EVENTS_FILE_MAGIC, EVENTS_FILE_MAGIC_BYTES,
				 EVENTS_FILE_MODE);
	if (r < 0)
		return r;
	ev->file_size = EVENTS_FILE_MAGIC_BYTES;
	r = fsx_open_append(ev->path, EVENTS_FILE_MODE);
	if (r < 0)
		return r;
	ev->fd = r;
	return 0;
}

static int load_file(struct events *ev)
{
	_cleanup_close_ int rfd = open(ev->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (rfd < 0)
		return errno == ENOENT ? create_file(ev) : -errno;
	struct stat st;
	if (fstat(rfd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADMSG;
	if (st.st_size == 0)
		return create_file(ev);

	_cleanup_free_ unsigned char *buf = malloc(EVENTS_LOAD_BUF_BYTES);
	if (!buf)
		return -ENOMEM;
	struct loader l = { .fd = rfd, .size = st.st_size, .buf = buf };
	const unsigned char *p;
	if (st.st_size < EVENTS_FILE_MAGIC_BYTES)
		return -EBADMSG;
	int r = load_window(&l, 0, EVENTS_FILE_MAGIC_BYTES, &p);
	if (r < 0)
		return r;
	if (memcmp(p, EVENTS_FILE_MAGIC, EVENTS_FILE_MAGIC_BYTES) != 0)
		return -EBADMSG;

	off_t off = EVENTS_FILE_MAGIC_BYTES;
	bool torn = false;
	while (off < l.size) {
		size_t avail = (size_t)(l.size - off);
		size_t want = avail < EVENTS_REC_MAX_BYTES ? avail : EVENTS_REC_MAX_BYTES;
		r = load_window(&l, off, want, &p);
		if (r < 0)
			return r;
		uint64_t seq;
		int64_t ns;
		uint32_t len, crc;
		size_t n = rec_parse(p, want, &seq, &ns, &len, &crc);
		if (n == 0) {
			r = check_torn_tail(&l, off);
			if (r < 0)
				return r;
			torn = true;
			break;
		}
		/* A valid record out of order is not a torn write but a damaged or foreign file. */
		if (seq <= ev->last_seq)
			return -EBADMSG;
		/* Longer than max_bytes (the config was lowered): it would evict itself at once. */
		if (len <= ev->max_bytes) {
			r = reserve(ev, len);
			if (r < 0)
				return r;
			push(ev, seq, ns, (const char *)p + EVENTS_REC_HDR_BYTES, len, crc);
		}
		ev->last_seq = seq;
		ev->file_records++;
		ev->file_msg_bytes += len;
		off += (off_t)n;
	}

	int fd = fsx_open_append(ev->path, EVENTS_FILE_MODE);
	if (fd < 0)
		return fd;
	ev->fd = fd;
	ev->file_size = off;
	ev->synced_seq = ev->last_seq;
	if ((st.st_mode & 07777) != EVENTS_FILE_MODE && fchmod(fd, EVENTS_FILE_MODE) < 0)
		return -errno;
	if (torn) {
		if (ftruncate(fd, off) < 0 || fsync(fd) < 0)
			return -errno;
	}
	/* A failed compaction only costs disk space; a lost append fd is fatal. */
	if (file_needs_compaction(ev) && compact(ev) < 0 && ev->fd < 0)
		return -EIO;
	return 0;
}

/* ---- public API ---- */

int events_open(const struct events_opts *o, struct events **out)
{
	if (!o || !out)
		return -EINVAL;
	size_t max_entries = o->max_entries ? o->max_entries : EVENTS_MAX_ENTRIES_DEFAULT;
	size_t max_bytes = o->max_bytes ? o->max_bytes : EVENTS_MAX_BYTES_DEFAULT;
	if (max_entries > EVENTS_MAX_ENTRIES_CEILING || max_bytes > EVENTS_MAX_BYTES_CEILING ||
	    o->max_message_bytes > EVENTS_MESSAGE_MAX_BYTES)
		return -E2BIG;
	size_t max_msg = o->max_message_bytes;
	if (!max_msg)
		max_msg =
			max_bytes < EVENTS_MESSAGE_MAX_BYTES ? max_bytes : EVENTS_MESSAGE_MAX_BYTES;
	if (max_msg > max_bytes)
		return -EINVAL;
	if (o->path && !*o->path)
		return -EINVAL;

	pthread_once(&crc_once, crc_init);
	struct events *ev = calloc(1, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	pthread_mutex_init(&ev->lock, NULL);
	pthread_mutex_init(&ev->sub_lock, NULL);
	pthread_cond_init(&ev->sub_cond, NULL);
	ev->fd = -1;
	ev->max_entries = max_entries;
	ev->max_bytes = max_bytes;
	ev->max_msg = max_msg;
	ev->ecap = max_entries < EVENTS_ENTRIES_INITIAL ? max_entries : EVENTS_ENTRIES_INITIAL;
	ev->bcap = max_bytes < EVENTS_BYTES_INITIAL ? max_bytes : EVENTS_BYTES_INITIAL;
	ev->ents = malloc(ev->ecap * sizeof(*ev->ents));
	ev->ring = malloc(ev->bcap);
	int r = -ENOMEM;
	if (!ev->ents || !ev->ring)
		goto fail;
	if (o->path) {
		ev->path = strdup(o->path);
		if (!ev->path)
			goto fail;
		r = load_file(ev);
		if (r < 0)
			goto fail;
	}
	*out = ev;
	return 0;
fail:
	events_free(ev);
	return r;
}

void events_free(struct events *ev)
{
	if (!ev)
		return;
	if (ev->fd >= 0) {
		if (ev->synced_seq < ev->last_seq)
			(void)fdatasync(ev->fd);
		close(ev->fd);
	}
	free(ev->path);
	free(ev->ents);
	free(ev->ring);
	pthread_mutex_destroy(&ev->lock);
	pthread_mutex_destroy(&ev->sub_lock);
	pthread_cond_destroy(&ev->sub_cond);
	free(ev);
}

static void notify(struct events *ev)
{
	if (atomic_load_explicit(&ev->nsubs, memory_order_acquire) == 0)
		return;
	pthread_mutex_lock(&ev->sub_lock);
	for (size_t i = 0; i < EVENTS_MAX_SUBSCRIBERS; i++) {
		struct sub *s = &ev->subs[i];
		if (!s->active)
			continue;
		void (*cb)(void *) = s->cb;
		void *ud = s->ud;
		s->running++;
		pthread_mutex_unlock(&ev->sub_lock);
		cb(ud);
		pthread_mutex_lock(&ev->sub_lock);
		s->running--;
		if (!s->active && s->running == 0)
			pthread_cond_broadcast(&ev->sub_cond);
	}
	pthread_mutex_unlock(&ev->sub_lock);
}

int events_append(struct events *ev, const char *msg, size_t len, uint64_t *seq_out)
{
	if (len > ev->max_msg)
		return -E2BIG;
	if (!msg) {
		if (len)
			return -EINVAL;
		msg = "";
	}
	pthread_mutex_lock(&ev->lock);
	int r = reserve(ev, len);
	if (r < 0)
		goto out;
	uint64_t seq = ev->last_seq + 1;
	int64_t ns = util_now_ns();
	uint32_t crc = 0;
	if (ev->path) {
		memcpy(ev->rec + EVENTS_REC_HDR_BYTES, msg, len);
		crc = rec_header(ev->rec, seq, ns, msg, len);
		r = file_write_record(ev, EVENTS_REC_HDR_BYTES + len);
		if (r < 0)
			goto out;
		ev->file_records++;
		ev->file_msg_bytes += len;
	}
	push(ev, seq, ns, msg, len, crc);
	ev->last_seq = seq;
	maybe_compact(ev);
	if (seq_out)
		*seq_out = seq;
out:
	pthread_mutex_unlock(&ev->lock);
	if (r == 0)
		notify(ev);
	return r;
}

int events_sync(struct events *ev)
{
	pthread_mutex_lock(&ev->lock);
	if (!ev->path || ev->synced_seq >= ev->last_seq) {
		pthread_mutex_unlock(&ev->lock);
		return 0;
	}
	uint64_t target = ev->last_seq;
	int fd = ev->fd >= 0 ? fcntl(ev->fd, F_DUPFD_CLOEXEC, 3) : -1;
	int r = ev->fd < 0 ? -EIO : fd < 0 ? -errno : 0;
	pthread_mutex_unlock(&ev->lock);
	if (r < 0)
		return r;
	if (fdatasync(fd) < 0)
		r = -errno;
	close(fd);
	if (r < 0)
		return r;
	pthread_mutex_lock(&ev->lock);
	if (target > ev->synced_seq)
		ev->synced_seq = target;
	pthread_mutex_unlock(&ev->lock);
	return 0;
}

ssize_t events_list(struct events *ev, uint64_t after, size_t limit, struct event **out)
{
	*out = NULL;
	pthread_mutex_lock(&ev->lock);
	size_t i0 = find_after(ev, after);
	size_t n = ev->ecount - i0;
	if (n > limit)
		n = limit;
	if (n == 0) {
		pthread_mutex_unlock(&ev->lock);
		return 0;
	}
	/* One allocation: the array, then the NUL-terminated messages. */
	size_t total = n * sizeof(struct event);
	for (size_t i = 0; i < n; i++)
		total += ent_at(ev, i0 + i)->len + 1;
	struct event *list = malloc(total);
	if (!list) {
		pthread_mutex_unlock(&ev->lock);
		return -ENOMEM;
	}
	char *p = (char *)(list + n);
	for (size_t i = 0; i < n; i++) {
		const struct entry *e = ent_at(ev, i0 + i);
		ring_get(ev, e->off, p, e->len);
		p[e->len] = '\0';
		list[i] = (struct event){
			.seq = e->seq, .received_ns = e->ns, .message = p, .len = e->len
		};
		p += e->len + 1;
	}
	pthread_mutex_unlock(&ev->lock);
	*out = list;
	return (ssize_t)n;
}

void events_list_free(struct event *list, size_t n)
{
	(void)n;
	free(list);
}

uint64_t events_last_seq(struct events *ev)
{
	pthread_mutex_lock(&ev->lock);
	uint64_t v = ev->last_seq;
	pthread_mutex_unlock(&ev->lock);
	return v;
}

uint64_t events_first_seq(struct events *ev)
{
	pthread_mutex_lock(&ev->lock);
	uint64_t v = ev->ecount ? ent_at(ev, 0)->seq : 0;
	pthread_mutex_unlock(&ev->lock);
	return v;
}

size_t events_count(struct events *ev)
{
	pthread_mutex_lock(&ev->lock);
	size_t v = ev->ecount;
	pthread_mutex_unlock(&ev->lock);
	return v;
}

int events_subscribe(struct events *ev, void (*cb)(void *ud), void *ud)
{
	if (!cb)
		return -EINVAL;
	pthread_mutex_lock(&ev->sub_lock);
	int r = -EBUSY;
	for (size_t i = 0; i < EVENTS_MAX_SUBSCRIBERS; i++) {
		struct sub *s = &ev->subs[i];
		if (s->id != 0)
			continue;
		if (ev->next_id == INT32_MAX)
			ev->next_id = 0;
		r = ++ev->next_id;
		*s = (struct sub){ .id = r, .active = true, .cb = cb, .ud = ud };
		atomic_fetch_add_explicit(&ev->nsubs, 1, memory_order_release);
		break;
	}
	pthread_mutex_unlock(&ev->sub_lock);
	return r;
}

void events_unsubscribe(struct events *ev, int id)
{
	if (id <= 0)
		return;
	pthread_mutex_lock(&ev->sub_lock);
	for (size_t i = 0; i < EVENTS_MAX_SUBSCRIBERS; i++) {
		struct sub *s = &ev->subs[i];
		if (s->id != id)
			continue;
		s->active = false;
		while (s->running > 0)
			pthread_cond_wait(&ev->sub_cond, &ev->sub_lock);
		*s = (struct sub){ 0 };
		atomic_fetch_sub_explicit(&ev->nsubs, 1, memory_order_release);
		break;
	}
	pthread_mutex_unlock(&ev->sub_lock);
}
