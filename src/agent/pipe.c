/*
 * pipe.c - the named-pipe reader thread (see pipe.h).
 *
 * How it waits. system-api reads a FIFO in a loop; once the last writer closes, read() returns 0
 * at once, for ever, and the loop spins a core. Here the thread holds a read fd opened with
 * O_NONBLOCK and sleeps in poll() on it and on a stop eventfd. On Linux a FIFO read fd reports
 * POLLHUP only for a writer that came and went after that fd was opened, so when read() returns
 * 0 (no data, no writer) the thread flushes the unterminated last line, opens a fresh read fd and
 * only then closes the old one, and sleeps again: no CPU without writers, none with idle writers.
 *
 * Why not block in open() (the obvious design): between the EOF and the blocking open there is a
 * moment with no reader; a writer that opens, writes and closes in that moment leaves its line in
 * a pipe that the kernel frees when both ends are closed, and a writer that is still writing gets
 * EPIPE. Opening the new fd before closing the old one keeps a reader on the FIFO at all times.
 * It also makes stopping simple: a write to the eventfd wakes poll(), with no need to unblock an
 * open() by opening the FIFO for writing.
 *
 * Lines: reads go into a buffer of max_line + PIPE_READ_CHUNK_BYTES bytes that holds at most one
 * partial line (<= max_line) before each read; complete lines are sanitised into a second buffer
 * of max_line bytes and handed to on_line. A partial line that grows past max_line is delivered
 * cut, and the rest of it is skipped up to the next newline.
 */
#include "pipe.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

struct pipe_reader {
	char *path;
	size_t max_line;
	void (*on_line)(void *ud, const char *msg, size_t len);
	void (*on_batch_end)(void *ud);
	void *ud;

	int efd; /* stop signal */
	atomic_bool stop;
	pthread_t thread;
	pthread_mutex_t lock; /* start handshake: tid */
	pthread_cond_t cond;
	_Atomic pid_t tid;

	char *buf; /* max_line + PIPE_READ_CHUNK_BYTES */
	size_t cap, used;
	bool discarding; /* inside the cut-off rest of a long line */
	bool delivered;  /* lines since the last on_batch_end */
	char *out;       /* sanitised line, max_line bytes */
};

/* Creates the FIFO with exactly PIPE_FIFO_MODE: mkfifo() applies the umask, chmod() does not. */
static int make_fifo(const char *path)
{
	if (mkfifo(path, PIPE_FIFO_MODE) < 0)
		return errno == EEXIST ? -EEXIST : -errno;
	if (chmod(path, PIPE_FIFO_MODE) < 0)
		return -errno;
	return 0;
}

/* Sleeps up to ms (-1: for ever) unless asked to stop. Returns true when stopping. */
static bool wait_stop(struct pipe_reader *pr, int ms)
{
	struct pollfd p = { .fd = pr->efd, .events = POLLIN };
	if (atomic_load(&pr->stop))
		return true;
	if (poll(&p, 1, ms) > 0)
		return true;
	return atomic_load(&pr->stop);
}

/* Opens the FIFO for reading without waiting for a writer. Returns the fd or -errno. */
static int open_fifo(struct pipe_reader *pr)
{
	int fd = open(pr->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == ENOENT) {
		/* Someone removed it: put it back, as start would have. */
		int r = make_fifo(pr->path);
		if (r < 0 && r != -EEXIST)
			return r;
		fd = open(pr->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	}
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		/* Replaced by a regular file: reading it would loop on EOF. */
		close(fd);
		return -EEXIST;
	}
	return fd;
}

static void deliver(struct pipe_reader *pr, const char *line, size_t len)
{
	size_t n = events_sanitize(line, len, pr->out, pr->max_line, pr->max_line);
	if (n == 0)
		return;
	pr->on_line(pr->ud, pr->out, n);
	pr->delivered = true;
}

/* Splits the buffer after nread new bytes were appended to the partial line. */
static void split_lines(struct pipe_reader *pr, size_t nread)
{
	size_t end = pr->used + nread, start = 0;
	char *nl, *scan = pr->buf + pr->used; /* the partial line holds no newline */

	while ((nl = memchr(scan, '\n', (size_t)(pr->buf + end - scan)))) {
		size_t len = (size_t)(nl - (pr->buf + start));
		if (pr->discarding)
			pr->discarding = false;
		else
			deliver(pr, pr->buf + start, len);
		start = (size_t)(nl - pr->buf) + 1;
		scan = nl + 1;
	}
	size_t rest = end - start;
	pr->used = 0;
	if (pr->discarding)
		return;
	if (rest > pr->max_line) {
		deliver(pr, pr->buf + start, rest);
		pr->discarding = true;
		return;
	}
	memmove(pr->buf, pr->buf + start, rest);
	pr->used = rest;
}

static void batch_end(struct pipe_reader *pr)
{
	if (pr->delivered && pr->on_batch_end)
		pr->on_batch_end(pr->ud);
	pr->delivered = false;
}

/* Reads what is there. Returns 1 at EOF (no data and no writer), 0 when drained or the batch is
 * full, -errno on a read error. */
static int read_batch(struct pipe_reader *pr, int fd)
{
	for (int k = 0; k < PIPE_BATCH_MAX_READS && !atomic_load(&pr->stop); k++) {
		ssize_t n = read(fd, pr->buf + pr->used, pr->cap - pr->used);
		if (n > 0) {
			split_lines(pr, (size_t)n);
			continue;
		}
		if (n == 0)
			return 1;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN)
			return 0;
		return -errno;
	}
	return 0;
}

static void *reader_main(void *arg)
{
	struct pipe_reader *pr = arg;
	int fd = -1;

	pthread_mutex_lock(&pr->lock);
	atomic_store(&pr->tid, gettid());
	pthread_cond_broadcast(&pr->cond);
	pthread_mutex_unlock(&pr->lock);

	while (!atomic_load(&pr->stop)) {
		if (fd < 0) {
			fd = open_fifo(pr);
			if (fd < 0) {
				if (wait_stop(pr, PIPE_RETRY_MS))
					break;
				continue;
			}
		}
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
				       { .fd = pr->efd, .events = POLLIN } };
		if (poll(p, 2, -1) < 0) {
			if (errno != EINTR && wait_stop(pr, PIPE_RETRY_MS))
				break;
			continue;
		}
		if (p[1].revents || atomic_load(&pr->stop))
			break;
		if (!p[0].revents)
			continue;
		int r = read_batch(pr, fd);
		if (r != 0 && !pr->discarding && pr->used > 0)
			deliver(pr, pr->buf, pr->used); /* the last line had no newline */
		if (r != 0) {
			pr->used = 0;
			pr->discarding = false;
		}
		batch_end(pr);
		if (r == 0)
			continue;
		/* EOF: a fresh fd forgets the hang-up; open it before closing the old one so the FIFO
		 * never lacks a reader. */
		int nfd = open_fifo(pr);
		close(fd);
		fd = nfd;
		if ((r < 0 || nfd < 0) && wait_stop(pr, PIPE_RETRY_MS))
			break;
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void reader_free(struct pipe_reader *pr)
{
	if (pr->efd >= 0)
		close(pr->efd);
	pthread_mutex_destroy(&pr->lock);
	pthread_cond_destroy(&pr->cond);
	free(pr->path);
	free(pr->buf);
	free(pr->out);
	free(pr);
}

int pipe_reader_start(const char *path, size_t max_line,
		      void (*on_line)(void *ud, const char *msg, size_t len),
		      void (*on_batch_end)(void *ud), void *ud, struct pipe_reader **out)
{
	if (!path || !*path || !on_line || !out || max_line == 0)
		return -EINVAL;
	if (max_line > PIPE_LINE_MAX_BYTES)
		return -E2BIG;

	struct stat st;
	if (stat(path, &st) == 0) {
		if (!S_ISFIFO(st.st_mode))
			return -EEXIST;
	} else if (errno == ENOENT) {
		int r = make_fifo(path);
		if (r < 0)
			return r;
	} else {
		return -errno;
	}

	struct pipe_reader *pr = calloc(1, sizeof(*pr));
	if (!pr)
		return -ENOMEM;
	pthread_mutex_init(&pr->lock, NULL);
	pthread_cond_init(&pr->cond, NULL);
	pr->max_line = max_line;
	pr->on_line = on_line;
	pr->on_batch_end = on_batch_end;
	pr->ud = ud;
	pr->cap = max_line + PIPE_READ_CHUNK_BYTES;
	pr->path = strdup(path);
	pr->buf = malloc(pr->cap);
	pr->out = malloc(max_line);
	pr->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int r = pr->efd < 0 ? -errno : 0;
	if (!r && (!pr->path || !pr->buf || !pr->out))
		r = -ENOMEM;
	if (r < 0) {
		reader_free(pr);
		return r;
	}

	/* Signals belong to the main thread, not to this helper. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&pr->thread, NULL, reader_main, pr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		reader_free(pr);
		return r;
	}
	pthread_mutex_lock(&pr->lock);
	while (atomic_load(&pr->tid) == 0)
		pthread_cond_wait(&pr->cond, &pr->lock);
	pthread_mutex_unlock(&pr->lock);
	*out = pr;
	return 0;
}

void pipe_reader_stop(struct pipe_reader *pr)
{
	if (!pr)
		return;
	atomic_store(&pr->stop, true);
	uint64_t one = 1;
	ssize_t n;
	do
		n = write(pr->efd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
	pthread_join(pr->thread, NULL);
	reader_free(pr);
}

pid_t pipe_reader_tid(struct pipe_reader *pr)
{
	return atomic_load(&pr->tid);
}
