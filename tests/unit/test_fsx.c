/*
 * test_fsx.c - atomic replacement (content, exact modes, no temp left behind on any failure,
 * concurrent writers and readers), fsx_read_file limits, append opens and directory fsync.
 * Every test works in its own mkdtemp directory under /tmp and removes it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsx.h"
#include "util.h"

struct tdir {
	char dir[64];
};

static int setup(void **state)
{
	struct tdir *t = calloc(1, sizeof(*t));
	if (!t)
		return -1;
	memcpy(t->dir, "/tmp/h2-fsx-XXXXXX", sizeof("/tmp/h2-fsx-XXXXXX"));
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

/* Removes the (flat) test directory; fails the test if a stray file is found. */
static int teardown(void **state)
{
	struct tdir *t = *state;
	DIR *d = opendir(t->dir);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			char p[PATH_MAX];
			snprintf(p, sizeof(p), "%s/%s", t->dir, de->d_name);
			if (unlink(p) < 0)
				rmdir(p);
		}
		closedir(d);
	}
	int rc = rmdir(t->dir);
	free(t);
	return rc;
}

static void pathof(char *out, const struct tdir *t, const char *name)
{
	snprintf(out, PATH_MAX, "%s/%s", t->dir, name);
}

/* Entries of the directory other than . and .., sorted names joined by ' '. */
static void listing(const struct tdir *t, char *out, size_t n)
{
	struct dirent **names;
	int k = scandir(t->dir, &names, NULL, alphasort);
	assert_true(k >= 0);
	out[0] = '\0';
	size_t used = 0;
	for (int i = 0; i < k; i++) {
		if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..")) {
			int w = snprintf(out + used, n - used, "%s%s", used ? " " : "",
					 names[i]->d_name);
			assert_true(w >= 0 && (size_t)w < n - used);
			used += (size_t)w;
		}
		free(names[i]);
	}
	free(names);
}

static void assert_content(const char *path, const char *want)
{
	char *got = NULL;
	size_t len = 0;
	assert_int_equal(fsx_read_file(path, 1 << 20, &got, &len), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);
	free(got);
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void write_file(const char *path, const char *s, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_write_creates_with_exact_mode(void **state)
{
	struct tdir *t = *state;
	char p[PATH_MAX], q[PATH_MAX], l[256];
	pathof(p, t, "secret");
	pathof(q, t, "shared");
	mode_t old = umask(0);
	assert_int_equal(fsx_write_atomic(p, "pw\n", 3, 0600), 0);
	umask(077);
	assert_int_equal(fsx_write_atomic(q, "x", 1, 0644), 0);
	umask(old);
	assert_int_equal(mode_of(p), 0600);
	assert_int_equal(mode_of(q), 0644);
	assert_content(p, "pw\n");
	assert_content(q, "x");
	listing(t, l, sizeof(l));
	assert_string_equal(l, "secret shared");
}

static void test_write_replaces(void **state)
{
	struct tdir *t = *state;
	char p[PATH_MAX], l[256];
	pathof(p, t, "f");
	write_file(p, "old content", 0644);
	struct stat a, b;
	assert_int_equal(stat(p, &a), 0);
	assert_int_equal(fsx_write_atomic(p, "new", 3, 0600), 0);
	assert_int_equal(stat(p, &b), 0);
	assert_content(p, "new");
	assert_int_not_equal(a.st_ino, b.st_ino);  /* a new inode was renamed in */
	assert_int_equal(b.st_mode & 07777, 0600); /* the new mode, not the old file's */
	assert_int_equal(fsx_write_atomic(p, "", 0, 0600), 0);
	assert_content(p, "");
	assert_int_equal(fsx_write_atomic(p, NULL, 0, 0600), 0);
	listing(t, l, sizeof(l));
	assert_string_equal(l, "f");
}

static void test_write_missing_dir(void **state)
{
	struct tdir *t = *state;
	char p[PATH_MAX], l[256];
	pathof(p, t, "nodir/f");
	assert_int_equal(fsx_write_atomic(p, "x", 1, 0600), -ENOENT);
	listing(t, l, sizeof(l));
	assert_string_equal(l, "");
}

static void test_write_invalid(void **state)
{
	struct tdir *t = *state;
	char p[PATH_MAX], l[256];
	assert_int_equal(fsx_write_atomic("", "x", 1, 0600), -EINVAL);
	assert_int_equal(fsx_write_atomic(NULL, "x", 1, 0600), -EINVAL);
	snprintf(p, sizeof(p), "%s/", t->dir);
	assert_int_equal(fsx_write_atomic(p, "x", 1, 0600), -EINVAL);
	snprintf(p, sizeof(p), "%s/.", t->dir);
	assert_int_equal(fsx_write_atomic(p, "x", 1, 0600), -EINVAL);
	snprintf(p, sizeof(p), "%s/..", t->dir);
	assert_int_equal(fsx_write_atomic(p, "x", 1, 0600), -EINVAL);
	pathof(p, t, "f");
	assert_int_equal(fsx_write_atomic(p, "x", 1, 010600), -EINVAL);
	assert_int_equal(fsx_write_atomic(p, NULL, 1, 0600), -EINVAL);

	/* PATH_MAX - 1 bytes is the longest path; here the name itself is then too long. */
	char *longp = malloc(PATH_MAX + 1);
	assert_non_null(longp);
	memset(longp, 'a', PATH_MAX);
	longp[0] = '/';
	longp[PATH_MAX] = '\0';
	assert_int_equal(fsx_write_atomic(longp, "x", 1, 0600), -ENAMETOOLONG);
	longp[PATH_MAX - 1] = '\0';
	assert_int_equal(fsx_write_atomic(longp, "x", 1, 0600), -ENAMETOOLONG);
	free(longp);
	listing(t, l, sizeof(l));
	assert_string_equal(l, "");
}

static void test_stream_commit(void **state)
{
	struct tdir *t = *state;
	char p[PATH_MAX], l[256];
	pathof(p, t, "up.bin");
	write_file(p, "old", 0644);
	struct fsx_atomic a;
	mode_t old = umask(0);
	assert_int_equal(fsx_atomic_open(&a, p, 0640), 0);
	umask(old);
	assert_int_equal(fsx_atomic_write(&a, "hello ", 6), 0);
	assert_int_equal(fsx_atomic_write(&a, "", 0), 0);
	assert_int_equal(fsx_atomic_write(&a, "world", 5), 0);
	assert_int_equal(a.written, 11);
	/* Before the commit: the old content is still there, beside one dot temp file. */
	assert_content(p, "old");
	listing(t, l, sizeof(l));
	assert_int_equal(strlen(l), strlen(".up.bin.XXXXXX up.bin"));
	assert_memory_equal(l, ".up.bin.", 8);
	assert_int_equal(mode_of(a.tmp_path), 0640);
	assert_int_equal(fsx_atomic_commit(&a), 0);
	assert_content(p, "hello world");
	assert_int_equal(mode_of(p), 0640);
	listing(t, l, sizeof(l));
	assert_string_equal(l, "up.bin");
	/* abort after commit is a no-op, and so is a second one */
	fsx_atomic_abort(&a);
	fsx_atomic_abort(&a);
	assert_content(p, "hello world");
	assert_int_equal(fsx_atomic_write(&a, "x", 1), -EBADF);
	assert_int_equal(fsx_atomic_commit(&a), -EBADF);
}

static void test_stream_abort(void **state)
{
	struct tdir *t = *state;
	char p[PATH_MAX], l[256];
	pathof(p, t, "f");
	write_file(p, "keep me", 0600);
	struct fsx_atomic a;
	assert_int_equal(fsx_atomic_open(&a, p, 0600), 0);
	assert_int_equal(fsx_atomic_write(&a, "partial", 7), 0);
	fsx_atomic_abort(&a);
	fsx_atomic_abort(&a);
	assert_content(p, "keep me");
	listing(t, l, sizeof(l));
	assert_string_equal(l, "f");
	assert_int_equal(fsx_atomic_write(&a, "x", 1), -EBADF);

	struct fsx_atomic b = FSX_ATOMIC_INIT;
	fsx_atomic_abort(&b);
	assert_int_equal(fsx_atomic_commit(&b), -EBADF);
	fsx_atomic_abort(NULL);
	assert_int_equal(fsx_atomic_open(NULL, p, 0600), -EINVAL);
	/* A failed open leaves the struct safe to abort. */
	pathof(p, t, "missing/f");
	assert_int_equal(fsx_atomic_open(&b, p, 0600), -ENOENT);
	assert_int_equal(b.fd, -1);
	assert_null(b.tmp_path);
	fsx_atomic_abort(&b);
}

/* The rename fails (the destination is a non-empty directory): the temp file goes away and the
 * destination is as it was. */
static void test_commit_rename_fails(void **state)
{
	struct tdir *t = *state;
	char p[PATH_MAX], inner[PATH_MAX], l[256];
	pathof(p, t, "d");
	assert_int_equal(mkdir(p, 0700), 0);
	pathof(inner, t, "d/x");
	write_file(inner, "x", 0600);
	assert_int_equal(fsx_write_atomic(p, "data", 4, 0600), -EISDIR);
	listing(t, l, sizeof(l));
	assert_string_equal(l, "d");
	assert_content(inner, "x");
	assert_int_equal(unlink(inner), 0);
}

/* A write that fails half way (file size limit): old content intact, no temp file left. */
static void test_write_fails_midway(void **state)
{
	struct tdir *t = *state;
	char p[PATH_MAX], l[256];
	pathof(p, t, "f");
	write_file(p, "old", 0600);
	struct rlimit old, small;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 4096;
	struct sigaction ign = { .sa_handler = SIG_IGN }, oldsa;
	sigaction(SIGXFSZ, &ign, &oldsa);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	static char big[10000];
	memset(big, 'z', sizeof(big));
	int rc = fsx_write_atomic(p, big, sizeof(big), 0600);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	sigaction(SIGXFSZ, &oldsa, NULL);
	assert_int_equal(rc, -EFBIG);
	assert_content(p, "old");
	listing(t, l, sizeof(l));
	assert_string_equal(l, "f");
}

#define WRITERS 8
#define WRITES_PER_THREAD 40
#define VERSION_BYTES 8192

struct race {
	char path[PATH_MAX];
	int stop;
	int bad;
};

struct writer {
	struct race *r;
	char letter;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	char *buf = malloc(VERSION_BYTES);
	if (!buf) {
		__atomic_fetch_add(&w->r->bad, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	memset(buf, w->letter, VERSION_BYTES);
	for (int i = 0; i < WRITES_PER_THREAD; i++) {
		if (fsx_write_atomic(w->r->path, buf, VERSION_BYTES, 0600) != 0)
			__atomic_fetch_add(&w->r->bad, 1, __ATOMIC_RELAXED);
	}
	free(buf);
	return NULL;
}

/* Whatever a reader sees is one whole version: VERSION_BYTES copies of one letter. */
static void *reader_main(void *arg)
{
	struct race *r = arg;
	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		char *s = NULL;
		size_t n = 0;
		bool ok = fsx_read_file(r->path, VERSION_BYTES, &s, &n) == 0 && n == VERSION_BYTES;
		for (size_t i = 1; ok && i < n; i++)
			ok = s[i] == s[0];
		if (!ok)
			__atomic_fetch_add(&r->bad, 1, __ATOMIC_RELAXED);
		free(s);
	}
	return NULL;
}

static void test_concurrent_writers_readers(void **state)
{
	struct tdir *t = *state;
	struct race r = { .stop = 0 };
	char l[256];
	pathof(r.path, t, "f");
	static char init[VERSION_BYTES];
	memset(init, 'A', sizeof(init));
	assert_int_equal(fsx_write_atomic(r.path, init, sizeof(init), 0600), 0);
	pthread_t w[WRITERS], rd;
	struct writer wa[WRITERS];
	assert_int_equal(pthread_create(&rd, NULL, reader_main, &r), 0);
	for (int i = 0; i < WRITERS; i++) {
		wa[i] = (struct writer){ .r = &r, .letter = (char)('B' + i) };
		assert_int_equal(pthread_create(&w[i], NULL, writer_main, &wa[i]), 0);
	}
	for (int i = 0; i < WRITERS; i++)
		pthread_join(w[i], NULL);
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELAXED);
	pthread_join(rd, NULL);
	assert_int_equal(r.bad, 0);
	listing(t, l, sizeof(l));
	assert_string_equal(l, "f");
}

static void test_read_limits(void **state)
{
	struct tdir *t = *state;
	char p[PATH_MAX], e[PATH_MAX];
	char *s = (char *)"sentinel";
	size_t n = 99;
	pathof(p, t, "f");
	write_file(p, "0123456789", 0600);
	assert_int_equal(fsx_read_file(p, 10, &s, &n), 0); /* at the limit */
	assert_int_equal(n, 10);
	assert_string_equal(s, "0123456789");
	free(s);
	assert_int_equal(fsx_read_file(p, 9, &s, &n), -E2BIG); /* one past */
	assert_null(s);
	assert_int_equal(n, 0);
	assert_int_equal(fsx_read_file(p, 100, &s, NULL), 0);
	free(s);

	pathof(e, t, "empty");
	write_file(e, "", 0600);
	assert_int_equal(fsx_read_file(e, 0, &s, &n), 0);
	assert_int_equal(n, 0);
	assert_string_equal(s, "");
	free(s);
	assert_int_equal(fsx_read_file(p, 0, &s, &n), -E2BIG);

	/* Size unknown in advance (procfs reports 0): the limit still holds. */
	assert_int_equal(fsx_read_file("/proc/self/status", 1 << 20, &s, &n), 0);
	assert_true(n > 100);
	assert_int_equal(strlen(s), n);
	free(s);
	assert_int_equal(fsx_read_file("/proc/self/status", 100, &s, &n), -E2BIG);
	assert_null(s);
	assert_int_equal(fsx_read_file("/proc/self/status", 5000, &s, &n), 0);
	free(s);

	pathof(e, t, "nope");
	assert_int_equal(fsx_read_file(e, 10, &s, &n), -ENOENT);
	assert_int_equal(fsx_read_file(t->dir, 10, &s, &n), -EISDIR);
	assert_int_equal(fsx_read_file(p, SIZE_MAX, &s, &n), -EINVAL);
	assert_int_equal(fsx_read_file(p, 10, NULL, &n), -EINVAL);
	assert_int_equal(fsx_read_file("", 10, &s, &n), -EINVAL);
	assert_int_equal(unlink(p), 0);
}

static void test_open_append(void **state)
{
	struct tdir *t = *state;
	char p[PATH_MAX];
	pathof(p, t, "log");
	mode_t old = umask(0);
	int fd = fsx_open_append(p, 0600);
	umask(old);
	assert_true(fd >= 0);
	assert_int_equal(mode_of(p), 0600);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fd, F_GETFL) & O_APPEND);
	assert_int_equal(write(fd, "a", 1), 1);
	close(fd);

	assert_int_equal(chmod(p, 0644), 0);
	fd = fsx_open_append(p, 0600);
	assert_true(fd >= 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(write(fd, "b", 1), 1); /* O_APPEND: still at the end */
	close(fd);
	assert_content(p, "ab");
	assert_int_equal(mode_of(p), 0644); /* an existing file keeps its mode */

	pathof(p, t, "missing/log");
	assert_int_equal(fsx_open_append(p, 0600), -ENOENT);
	assert_int_equal(fsx_open_append(p, 020000), -EINVAL);
	assert_int_equal(fsx_open_append("", 0600), -EINVAL);
}

static void test_fsync_dir(void **state)
{
	struct tdir *t = *state;
	char p[PATH_MAX];
	pathof(p, t, "anything");
	assert_int_equal(fsx_fsync_dir(p), 0);
	assert_int_equal(fsx_fsync_dir("relative-name"), 0);
	assert_int_equal(fsx_fsync_dir("/etc"), 0);
	pathof(p, t, "missing/f");
	assert_int_equal(fsx_fsync_dir(p), -ENOENT);
	assert_int_equal(fsx_fsync_dir(""), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_creates_with_exact_mode, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_write_replaces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_missing_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_invalid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_rename_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_fails_midway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_writers_readers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fsync_dir, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
