/*
 * test_pipe.c - the named-pipe reader: lines from successive writers, the unterminated last line,
 * long lines, sanitising, no CPU while idle or after a writer closes (system-api's busy-spin),
 * stopping in every state, and the FIFO's creation rules.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent/pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINES 512
#define WAIT_MS 5000

struct fixture {
	char dir[64];
	char path[128];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char *lines[MAX_LINES];
	size_t lens[MAX_LINES];
	int count;
	int batches;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_pipe.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/pipe", f->dir);
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	for (int i = 0; i < f->count && i < MAX_LINES; i++)
		free(f->lines[i]);
	unlink(f->path);
	rmdir(f->path); /* when a test made it a directory */
	rmdir(f->dir);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->cond);
	free(f);
	return 0;
}

static void on_line(void *ud, const char *msg, size_t len)
{
	struct fixture *f = ud;
	pthread_mutex_lock(&f->lock);
	if (f->count < MAX_LINES) {
		f->lines[f->count] = strndup(msg, len);
		f->lens[f->count] = len;
	}
	f->count++;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static void on_batch(void *ud)
{
	struct fixture *f = ud;
	pthread_mutex_lock(&f->lock);
	f->batches++;
	pthread_mutex_unlock(&f->lock);
}

/* Waits until n lines arrived (or WAIT_MS passed); returns the count. */
static int wait_lines(struct fixture *f, int n)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += WAIT_MS / 1000;
	pthread_mutex_lock(&f->lock);
	while (f->count < n && pthread_cond_timedwait(&f->cond, &f->lock, &dl) == 0)
		;
	int c = f->count;
	pthread_mutex_unlock(&f->lock);
	return c;
}

static int count_now(struct fixture *f)
{
	pthread_mutex_lock(&f->lock);
	int c = f->count;
	pthread_mutex_unlock(&f->lock);
	return c;
}

static struct pipe_reader *start(struct fixture *f, size_t max_line)
{
	struct pipe_reader *pr = NULL;
	assert_int_equal(pipe_reader_start(f->path, max_line, on_line, on_batch, f, &pr), 0);
	assert_non_null(pr);
	assert_true(pipe_reader_tid(pr) > 0);
	return pr;
}

static int open_writer(struct fixture *f)
{
	int fd = open(f->path, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static void put(int fd, const char *s, size_t n)
{
	assert_int_equal(write(fd, s, n), (ssize_t)n);
}

static void write_once(struct fixture *f, const char *s)
{
	int fd = open_writer(f);
	put(fd, s, strlen(s));
	close(fd);
}

static void assert_line(struct fixture *f, int i, const char *want)
{
	pthread_mutex_lock(&f->lock);
	assert_true(i < f->count);
	assert_int_equal(f->lens[i], strlen(want));
	assert_memory_equal(f->lines[i], want, f->lens[i]);
	pthread_mutex_unlock(&f->lock);
}

/* utime + stime of one thread, in clock ticks. */
static long thread_ticks(pid_t tid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	/* Fields after "(comm)": state is field 3, utime 14 and stime 15. */
	char *p = strrchr(buf, ')');
	assert_non_null(p);
	unsigned long utime, stime;
	assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
				&utime, &stime),
			 2);
	return (long)(utime + stime);
}

/* ---- lines ---- */

static void test_sequential_writers(void **state)
{
	struct fixture *f = *state;
	struct pipe_reader *pr = start(f, 100);
	for (int w = 0; w < 3; w++) {
		char buf[64];
		snprintf(buf, sizeof(buf), "w%d-a\nw%d-b\n", w, w);
		write_once(f, buf);
		assert_int_equal(wait_lines(f, 2 * (w + 1)), 2 * (w + 1));
	}
	pipe_reader_stop(pr);
	assert_int_equal(f->count, 6);
	assert_line(f, 0, "w0-a");
	assert_line(f, 1, "w0-b");
	assert_line(f, 4, "w2-a");
	assert_line(f, 5, "w2-b");
	assert_true(f->batches >= 1);
}

/* Writers that connect, write and go away while the reader is between two fds lose nothing. */
static void test_many_short_writers(void **state)
{
	struct fixture *f = *state;
	struct pipe_reader *pr = start(f, 100);
	for (int w = 0; w < 300; w++) {
		char buf[32];
		snprintf(buf, sizeof(buf), "n%d\n", w);
		write_once(f, buf);
	}
	assert_int_equal(wait_lines(f, 300), 300);
	pipe_reader_stop(pr);
	assert_int_equal(f->count, 300);
	assert_line(f, 0, "n0");
	assert_line(f, 299, "n299");
}

static void test_last_line_without_newline(void **state)
{
	struct fixture *f = *state;
	struct pipe_reader *pr = start(f, 100);
	int fd = open_writer(f);
	put(fd, "first\nlast without newline", 26);
	assert_int_equal(wait_lines(f, 1), 1);
	usleep(100 * 1000);
	assert_int_equal(count_now(f), 1); /* not yet: the writer may still finish the line */
	close(fd);
	assert_int_equal(wait_lines(f, 2), 2); /* delivered when the writer closes */
	assert_line(f, 1, "last without newline");

	/* The same with two writers: only when the last one goes. */
	int a = open_writer(f), b = open_writer(f);
	put(a, "from a", 6);
	close(a);
	put(b, " and b", 6);
	usleep(100 * 1000);
	assert_int_equal(count_now(f), 2);
	close(b);
	assert_int_equal(wait_lines(f, 3), 3);
	assert_line(f, 2, "from a and b");
	pipe_reader_stop(pr);
}

static void test_long_lines_capped(void **state)
{
	struct fixture *f = *state;
	struct pipe_reader *pr = start(f, 16);
	int fd = open_writer(f);
	put(fd, "0123456789abcdef\n", 17);  /* exactly max_line */
	put(fd, "0123456789abcdefX\n", 18); /* one past it */
	static char big[200 * 1024];        /* far past the read buffer */
	memset(big, 'y', sizeof(big));
	put(fd, big, sizeof(big));
	put(fd, "\nafter\n", 7);
	put(fd, "ééééééééé\n", 19);          /* 18 bytes: cut on a character boundary */
	put(fd, "0123456789abcdef\r\n", 18); /* max_line + CR LF */
	close(fd);
	assert_int_equal(wait_lines(f, 6), 6);
	assert_line(f, 0, "0123456789abcdef");
	assert_line(f, 1, "0123456789abcdef");
	assert_line(f, 2, "yyyyyyyyyyyyyyyy");
	assert_line(f, 3, "after");
	assert_line(f, 4, "éééééééé");
	assert_line(f, 5, "0123456789abcdef");

	/* An unterminated long last line is cut too. */
	write_once(f, "0123456789abcdefghijklmnopqrstuvwxyz");
	assert_int_equal(wait_lines(f, 7), 7);
	assert_line(f, 6, "0123456789abcdef");
	pipe_reader_stop(pr);
	assert_int_equal(f->count, 7);
}

static void test_sanitised_and_empty_lines(void **state)
{
	struct fixture *f = *state;
	struct pipe_reader *pr = start(f, 100);
	write_once(f, "a\xff"
		      "b\n\n\r\nc\x01"
		      "d\r\n\n\ttab\n\xE2\x82\n");
	assert_int_equal(wait_lines(f, 4), 4);
	usleep(50 * 1000);
	pipe_reader_stop(pr);
	assert_int_equal(f->count, 4); /* the empty lines were skipped */
	assert_line(f, 0,
		    "a\xEF\xBF\xBD"
		    "b");
	assert_line(f, 1,
		    "c\xEF\xBF\xBD"
		    "d");
	assert_line(f, 2, "\ttab");
	assert_line(f, 3, "\xEF\xBF\xBD");
}

/* ---- no CPU while idle ---- */

static void test_no_spin(void **state)
{
	struct fixture *f = *state;
	struct pipe_reader *pr = start(f, 100);
	pid_t tid = pipe_reader_tid(pr);

	write_once(f, "hello\n");
	assert_int_equal(wait_lines(f, 1), 1);
	long t0 = thread_ticks(tid);
	sleep(1); /* the writer is gone: system-api spins a core here */
	long t1 = thread_ticks(tid);
	assert_true(t1 - t0 < 5);

	int fd = open_writer(f); /* a writer connected but silent */
	put(fd, "x\n", 2);
	assert_int_equal(wait_lines(f, 2), 2);
	t0 = thread_ticks(tid);
	usleep(500 * 1000);
	t1 = thread_ticks(tid);
	assert_true(t1 - t0 < 5);
	close(fd);

	/* And it still works after all that. */
	write_once(f, "again\n");
	assert_int_equal(wait_lines(f, 3), 3);
	assert_line(f, 2, "again");
	pipe_reader_stop(pr);
}

/* ---- stop ---- */

static void test_stop_without_writer(void **state)
{
	struct fixture *f = *state;
	struct pipe_reader *pr = start(f, 100);
	pipe_reader_stop(pr); /* at once */
	pr = start(f, 100);
	usleep(50 * 1000); /* asleep, no writer ever came */
	pipe_reader_stop(pr);
	pr = start(f, 100);
	write_once(f, "x\n");
	assert_int_equal(wait_lines(f, 1), 1);
	usleep(50 * 1000); /* asleep after a writer left */
	pipe_reader_stop(pr);
	pipe_reader_stop(NULL);
	assert_int_equal(f->count, 1);
}

static void test_stop_with_writer(void **state)
{
	struct fixture *f = *state;
	struct pipe_reader *pr = start(f, 100);
	int fd = open_writer(f);
	put(fd, "one\n", 4);
	assert_int_equal(wait_lines(f, 1), 1);
	put(fd, "partial", 7);
	pipe_reader_stop(pr);
	assert_int_equal(f->count, 1); /* a partial line is dropped at stop */
	/* Nobody reads any more: the writer sees a broken pipe. */
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	assert_int_equal(write(fd, "x\n", 2), -1);
	assert_int_equal(errno, EPIPE);
	signal(SIGPIPE, old);
	close(fd);
}

/* ---- the FIFO itself ---- */

static void test_fifo_created_with_mode(void **state)
{
	struct fixture *f = *state;
	mode_t old = umask(077);
	struct pipe_reader *pr = start(f, 100);
	umask(old);
	struct stat st;
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0620);
	pipe_reader_stop(pr);
	assert_int_equal(lstat(f->path, &st), 0); /* left in place */

	/* An existing FIFO is used as it is. */
	assert_int_equal(chmod(f->path, 0600), 0);
	pr = start(f, 100);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	write_once(f, "ok\n");
	assert_int_equal(wait_lines(f, 1), 1);
	pipe_reader_stop(pr);
}

static void test_start_errors(void **state)
{
	struct fixture *f = *state;
	struct pipe_reader *pr = NULL;
	int fd = open(f->path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(pipe_reader_start(f->path, 100, on_line, NULL, f, &pr), -EEXIST);
	assert_null(pr);
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISREG(st.st_mode)); /* untouched */
	unlink(f->path);
	assert_int_equal(mkdir(f->path, 0700), 0);
	assert_int_equal(pipe_reader_start(f->path, 100, on_line, NULL, f, &pr), -EEXIST);
	rmdir(f->path);

	char missing[256];
	snprintf(missing, sizeof(missing), "%s/no/such/pipe", f->dir);
	assert_int_equal(pipe_reader_start(missing, 100, on_line, NULL, f, &pr), -ENOENT);
	assert_int_equal(pipe_reader_start(NULL, 100, on_line, NULL, f, &pr), -EINVAL);
	assert_int_equal(pipe_reader_start(f->path, 100, NULL, NULL, f, &pr), -EINVAL);
	assert_int_equal(pipe_reader_start(f->path, 0, on_line, NULL, f, &pr), -EINVAL);
	assert_int_equal(pipe_reader_start(f->path, PIPE_LINE_MAX_BYTES + 1, on_line, NULL, f, &pr),
			 -E2BIG);
	assert_null(pr);

	/* max_line at the ceiling works, with no batch callback. */
	assert_int_equal(pipe_reader_start(f->path, PIPE_LINE_MAX_BYTES, on_line, NULL, f, &pr), 0);
	static char line[PIPE_LINE_MAX_BYTES + 2];
	memset(line, 'z', sizeof(line));
	line[PIPE_LINE_MAX_BYTES + 1] = '\n';
	fd = open_writer(f);
	put(fd, line + 1, PIPE_LINE_MAX_BYTES + 1); /* at the limit */
	put(fd, line, PIPE_LINE_MAX_BYTES + 2);     /* one byte past it */
	close(fd);
	assert_int_equal(wait_lines(f, 2), 2);
	pipe_reader_stop(pr);
	assert_int_equal(f->count, 2);
	assert_int_equal(f->lens[0], PIPE_LINE_MAX_BYTES);
	assert_int_equal(f->lens[1], PIPE_LINE_MAX_BYTES);
}

int main(void)
{
	alarm(60); /* a reader that cannot be stopped fails the run instead of hanging it */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sequential_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_short_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_line_without_newline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_lines_capped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sanitised_and_empty_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_spin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_without_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_with_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_created_with_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
