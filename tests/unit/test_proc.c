/*
 * test_proc.c - proc_run(): exit status, capture and its caps, timeouts that kill the whole
 * process group, the child's environment, stdin, fds and signal state, error paths, threads and
 * fd/zombie hygiene.
 *
 * The child is tests/unit/helpers/proc_helper, found through $PROC_HELPER (or the compile-time
 * PROC_HELPER_PATH). The test process makes itself a child subreaper so that grandchildren
 * orphaned by a killed helper are reparented to it: it can then reap them and prove they died.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"

static char helper[PATH_MAX];

/* Must match pat() in helpers/proc_helper.c. */
static char pat(size_t i)
{
	return (char)('!' + (unsigned)((i * 2654435761u) >> 7) % 90u);
}

static int run(struct proc_opts *o, struct proc_result *r, char **argv)
{
	if (!o->path)
		o->path = helper;
	o->argv = argv;
	if (!o->timeout_ms)
		o->timeout_ms = 5000;
	return proc_run(o, r);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void check_pattern(const char *buf, size_t len, size_t from)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != pat(from + i))
			fail_msg("byte %zu differs (pattern offset %zu)", i, from + i);
	}
}

/* Waits for an orphaned grandchild (reparented to us, the subreaper) and proves it is gone. */
static void assert_reaped_and_gone(pid_t g)
{
	int st;
	pid_t w;
	while ((w = waitpid(g, &st, 0)) < 0 && errno == EINTR)
		;
	assert_int_equal(w, g);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(kill(g, 0), -1);
	assert_int_equal(errno, ESRCH);
}

static void test_exit_codes(void **state)
{
	(void)state;
	static const struct {
		const char *arg;
		int code;
	} cases[] = { { "0", 0 }, { "3", 3 }, { "255", 255 } };
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct proc_opts o = { 0 };
		struct proc_result r;
		char *argv[] = { "h", "exit", (char *)cases[i].arg, NULL };
		assert_int_equal(run(&o, &r, argv), 0);
		assert_int_equal(r.exit_code, cases[i].code);
		assert_int_equal(r.term_signal, 0);
		assert_false(r.timed_out);
		assert_non_null(r.out);
		assert_int_equal(r.out_len, 0);
		assert_string_equal(r.out, "");
		proc_result_done(&r);
	}
	struct proc_opts o = { .path = "/bin/false" };
	struct proc_result r;
	char *argv[] = { "false", NULL };
	assert_int_equal(run(&o, &r, argv), 0);
	assert_int_equal(r.exit_code, 1);
	proc_result_done(&r);
}

static void test_killed_by_signal(void **state)
{
	(void)state;
	struct proc_opts o = { 0 };
	struct proc_result r;
	char *argv[] = { "h", "raise", "6", NULL };
	assert_int_equal(run(&o, &r, argv), 0);
	assert_int_equal(r.exit_code, -1);
	assert_int_equal(r.term_signal, SIGABRT);
	assert_false(r.timed_out);
	proc_result_done(&r);
}

static void test_capture_both_streams(void **state)
{
	(void)state;
	struct proc_opts o = { 0 };
	struct proc_result r;
	char *argv[] = { "h", "echo", "hello out\n", "oops err\n", NULL };
	assert_int_equal(run(&o, &r, argv), 0);
	assert_string_equal(r.out, "hello out\n");
	assert_int_equal(r.out_len, 10);
	assert_string_equal(r.err, "oops err\n");
	assert_int_equal(r.err_len, 9);
	assert_false(r.out_truncated);
	assert_false(r.err_truncated);
	proc_result_done(&r);
	/* proc_result_done leaves a reusable, empty result. */
	assert_null(r.out);
	proc_result_done(&r);
}

/* Runs "pattern nout nerr" with both caps at max and checks what is kept. */
static void check_cap(size_t max, size_t nout, size_t nerr, bool tail)
{
	struct proc_opts o = { .stdout_max = max, .stderr_max = max, .keep_tail = tail };
	struct proc_result r;
	char a[32], b[32];
	snprintf(a, sizeof(a), "%zu", nout);
	snprintf(b, sizeof(b), "%zu", nerr);
	char *argv[] = { "h", "pattern", a, b, NULL };
	size_t eff = max ? (max > PROC_OUTPUT_MAX_BYTES ? PROC_OUTPUT_MAX_BYTES : max)
			 : PROC_OUTPUT_DEFAULT_BYTES;
	assert_int_equal(run(&o, &r, argv), 0);
	assert_int_equal(r.exit_code, 0);
	assert_false(r.timed_out);
	size_t want_out = nout < eff ? nout : eff, want_err = nerr < eff ? nerr : eff;
	assert_int_equal(r.out_len, want_out);
	assert_int_equal(r.err_len, want_err);
	assert_int_equal(r.out_truncated, nout > eff);
	assert_int_equal(r.err_truncated, nerr > eff);
	assert_int_equal(r.out[r.out_len], '\0');
	assert_int_equal(r.err[r.err_len], '\0');
	check_pattern(r.out, r.out_len, tail ? nout - want_out : 0);
	check_pattern(r.err, r.err_len, tail ? nerr - want_err : 0);
	proc_result_done(&r);
}

static void test_cap_head(void **state)
{
	(void)state;
	check_cap(100, 100, 99, false);    /* at the limit: nothing lost */
	check_cap(100, 101, 5000, false);  /* past it: the first 100 bytes */
	check_cap(0, 65536, 65537, false); /* default cap, at and past */
	check_cap(1, 0, 2, false);
}

static void test_cap_tail(void **state)
{
	(void)state;
	check_cap(100, 100, 99, true);
	check_cap(100, 101, 5000, true); /* ring wraps many times */
	check_cap(4096, 1000000, 4097, true);
	check_cap(0, 65536, 300000, true);
	check_cap(1, 0, 2, true);
}

static void test_cap_ceiling(void **state)
{
	(void)state;
	/* Asking for more than PROC_OUTPUT_MAX_BYTES gets exactly the ceiling. */
	check_cap(PROC_OUTPUT_MAX_BYTES, PROC_OUTPUT_MAX_BYTES, 0, false);
	check_cap(2 * PROC_OUTPUT_MAX_BYTES, PROC_OUTPUT_MAX_BYTES + 1, 0, false);
	check_cap(SIZE_MAX, PROC_OUTPUT_MAX_BYTES + 1, 10, true);
}

static void test_timeout_sigterm(void **state)
{
	(void)state;
	struct proc_opts o = { .path = "/bin/sleep", .timeout_ms = 200 };
	struct proc_result r;
	char *argv[] = { "sleep", "30", NULL };
	assert_int_equal(run(&o, &r, argv), 0);
	assert_true(r.timed_out);
	assert_int_equal(r.exit_code, -1);
	assert_int_equal(r.term_signal, SIGTERM);
	assert_true(r.duration_ms >= 190);
	assert_true(r.duration_ms < 1000);
	proc_result_done(&r);
}

static void test_timeout_sigkill_after_grace(void **state)
{
	(void)state;
	struct proc_opts o = { .timeout_ms = 200 };
	struct proc_result r;
	char *argv[] = { "h", "ignore-term", NULL };
	assert_int_equal(run(&o, &r, argv), 0);
	assert_true(r.timed_out);
	assert_int_equal(r.term_signal, SIGKILL);
	assert_string_equal(r.out, "ready\n");
	assert_true(r.duration_ms >= 200 + PROC_KILL_GRACE_MS - 10);
	assert_true(r.duration_ms < 200 + PROC_KILL_GRACE_MS + 1000);
	proc_result_done(&r);
}

static void test_timeout_kills_group(void **state)
{
	(void)state;
	struct proc_opts o = { .timeout_ms = 300 };
	struct proc_result r;
	char *argv[] = { "h", "grandchild", "wait", NULL };
	assert_int_equal(run(&o, &r, argv), 0);
	assert_true(r.timed_out);
	assert_int_equal(r.term_signal, SIGTERM);
	pid_t g = (pid_t)strtol(r.out, NULL, 10);
	assert_true(g > 0);
	proc_result_done(&r);
	assert_reaped_and_gone(g);
}

/* The main child exits at once but a grandchild keeps the pipes: proc_run keeps reading until
 * the deadline, then kills the group; the exit code of the main child is still reported. */
static void test_grandchild_holds_pipes(void **state)
{
	(void)state;
	struct proc_opts o = { .timeout_ms = 300 };
	struct proc_result r;
	char *argv[] = { "h", "grandchild", "exit", NULL };
	assert_int_equal(run(&o, &r, argv), 0);
	assert_true(r.timed_out);
	assert_int_equal(r.exit_code, 7);
	assert_int_equal(r.term_signal, 0);
	assert_true(r.duration_ms >= 290);
	pid_t g = (pid_t)strtol(r.out, NULL, 10);
	assert_true(g > 0);
	proc_result_done(&r);
	assert_reaped_and_gone(g);
}

/* A grandchild that left the group cannot be killed by us, but it cannot hold us either. */
static void test_escaped_grandchild_does_not_block(void **state)
{
	(void)state;
	struct proc_opts o = { .timeout_ms = 200 };
	struct proc_result r;
	char *argv[] = { "h", "grandchild", "escape", NULL };
	int64_t t0 = util_mono_ms();
	assert_int_equal(run(&o, &r, argv), 0);
	assert_true(util_mono_ms() - t0 < 200 + PROC_KILL_GRACE_MS + 1000);
	assert_true(r.timed_out);
	assert_int_equal(r.exit_code, 0);
	pid_t g = (pid_t)strtol(r.out, NULL, 10);
	assert_true(g > 0);
	proc_result_done(&r);
	assert_int_equal(kill(g, 0), 0); /* still alive: it escaped */
	assert_int_equal(kill(g, SIGKILL), 0);
	assert_reaped_and_gone(g);
}

static void test_env_minimal_and_explicit(void **state)
{
	(void)state;
	setenv("CLOISTER_TEST_LEAK", "1", 1);
	struct proc_opts o = { 0 };
	struct proc_result r;
	char *argv[] = { "h", "env", NULL };
	assert_int_equal(run(&o, &r, argv), 0);
	assert_string_equal(r.out, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\nLANG=C.UTF-8\n");
	proc_result_done(&r);

	char e1[] = "FOO=bar";
	char *envp[] = { e1, NULL };
	struct proc_opts o2 = { .envp = envp };
	assert_int_equal(run(&o2, &r, argv), 0);
	assert_string_equal(r.out, "FOO=bar\n");
	proc_result_done(&r);
	unsetenv("CLOISTER_TEST_LEAK");
}

static void test_stdin_is_devnull(void **state)
{
	(void)state;
	struct proc_opts o = { 0 };
	struct proc_result r;
	char *argv[] = { "h", "stdin", NULL };
	assert_int_equal(run(&o, &r, argv), 0);
	assert_string_equal(r.out, "devnull eof\n");
	proc_result_done(&r);
}

static void test_child_fds_signals_group(void **state)
{
	(void)state;
	/* An fd the caller forgot to mark O_CLOEXEC must still not reach the child. */
	int leaky = open("/dev/null", O_RDONLY);
	assert_true(leaky >= 0);
	struct proc_opts o = { 0 };
	struct proc_result r;
	char *argv[] = { "h", "fds", NULL };
	assert_int_equal(run(&o, &r, argv), 0);
	assert_string_equal(r.out, "0\n1\n2\n");
	proc_result_done(&r);
	close(leaky);

	/* Ignored SIGPIPE and a blocked SIGUSR1 in the caller do not leak into the child. */
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	sigaction(SIGPIPE, &ign, &old);
	sigset_t set, oldset;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, &oldset);
	char *argv2[] = { "h", "signals", NULL };
	assert_int_equal(run(&o, &r, argv2), 0);
	assert_string_equal(r.out, "pipe=dfl usr1=open\n");
	proc_result_done(&r);
	pthread_sigmask(SIG_SETMASK, &oldset, NULL);
	sigaction(SIGPIPE, &old, NULL);

	char *argv3[] = { "h", "pgrp", NULL };
	assert_int_equal(run(&o, &r, argv3), 0);
	assert_string_equal(r.out, "leader\n");
	proc_result_done(&r);
}

static void test_cwd(void **state)
{
	(void)state;
	char *argv[] = { "h", "cwd", NULL };
	struct proc_opts o = { 0 };
	struct proc_result r;
	assert_int_equal(run(&o, &r, argv), 0);
	assert_string_equal(r.out, "/\n");
	proc_result_done(&r);

	char dir[] = "/tmp/h2-proc-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char want[64];
	snprintf(want, sizeof(want), "%s\n", dir);
	struct proc_opts o2 = { .cwd = dir };
	assert_int_equal(run(&o2, &r, argv), 0);
	assert_string_equal(r.out, want);
	proc_result_done(&r);
	assert_int_equal(rmdir(dir), 0);

	struct proc_opts o3 = { .cwd = "/nonexistent/h2" };
	assert_int_equal(run(&o3, &r, argv), -ENOENT);
	assert_null(r.out);
}

static void test_errors(void **state)
{
	(void)state;
	char *argv[] = { "x", NULL };
	struct proc_result r;

	struct proc_opts o = { .path = "/nonexistent/bin/tool" };
	assert_int_equal(run(&o, &r, argv), -ENOENT);
	assert_null(r.out);
	assert_null(r.err);
	struct proc_opts o1 = { .path = "/etc/hostname/x" };
	assert_int_equal(run(&o1, &r, argv), -ENOENT);
	struct proc_opts o2 = { .path = "bin/true" };
	assert_int_equal(run(&o2, &r, argv), -EINVAL);
	struct proc_opts o3 = { .path = "/tmp" };
	assert_int_equal(run(&o3, &r, argv), -EACCES);
	struct proc_opts o4 = { .path = "/bin/true", .timeout_ms = -1 };
	assert_int_equal(run(&o4, &r, argv), -EINVAL);
	struct proc_opts o5 = { .path = "/bin/true", .timeout_ms = PROC_TIMEOUT_MAX_MS + 1 };
	assert_int_equal(run(&o5, &r, argv), -EINVAL);
	struct proc_opts o6 = { .path = "/bin/true", .timeout_ms = PROC_TIMEOUT_MAX_MS };
	assert_int_equal(run(&o6, &r, argv), 0);
	assert_int_equal(r.exit_code, 0);
	proc_result_done(&r);

	struct proc_opts o7 = { .path = "/bin/true", .argv = NULL, .timeout_ms = 100 };
	assert_int_equal(proc_run(&o7, &r), -EINVAL);
	char *empty[] = { NULL };
	struct proc_opts o8 = { .path = "/bin/true", .argv = empty, .timeout_ms = 100 };
	assert_int_equal(proc_run(&o8, &r), -EINVAL);
	assert_int_equal(proc_run(NULL, &r), -EINVAL);
	assert_int_equal(proc_run(&o6, NULL), -EINVAL);

	/* Not executable, and executable but not a valid program. */
	char dir[] = "/tmp/h2-proc-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char file[64];
	snprintf(file, sizeof(file), "%s/prog", dir);
	int fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "garbage\n", 8), 8);
	close(fd);
	struct proc_opts o9 = { .path = file };
	/* EACCES for root too: access(X_OK) needs at least one x bit. */
	assert_int_equal(run(&o9, &r, argv), -EACCES);
	assert_int_equal(chmod(file, 0755), 0);
	assert_int_equal(run(&o9, &r, argv), -ENOEXEC);
	assert_null(r.out);
	assert_int_equal(unlink(file), 0);
	assert_int_equal(rmdir(dir), 0);
}

#define THREADS 8
#define RUNS_PER_THREAD 5

static void *thread_main(void *arg)
{
	intptr_t id = (intptr_t)arg;
	char want[32];
	snprintf(want, sizeof(want), "thread-%ld", (long)id);
	for (int i = 0; i < RUNS_PER_THREAD; i++) {
		struct proc_opts o = { .path = helper, .timeout_ms = 5000 };
		struct proc_result r;
		char *argv[] = { "h", "echo", want, "e", NULL };
		o.argv = argv;
		if (proc_run(&o, &r) != 0 || r.exit_code != 0 || strcmp(r.out, want) != 0 ||
		    strcmp(r.err, "e") != 0) {
			proc_result_done(&r);
			return (void *)1;
		}
		proc_result_done(&r);
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	pthread_t t[THREADS];
	for (intptr_t i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, thread_main, (void *)i), 0);
	for (int i = 0; i < THREADS; i++) {
		void *ret;
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_null(ret);
	}
}

static void test_no_fd_leak_no_zombie(void **state)
{
	(void)state;
	int before = count_fds();
	struct proc_result r;
	char *argv[] = { "h", "pattern", "100000", "100", NULL };
	struct proc_opts o = { .stdout_max = 10 };
	assert_int_equal(run(&o, &r, argv), 0);
	proc_result_done(&r);
	struct proc_opts o2 = { .path = "/bin/sleep", .timeout_ms = 50 };
	char *argv2[] = { "sleep", "10", NULL };
	assert_int_equal(run(&o2, &r, argv2), 0);
	assert_true(r.timed_out);
	proc_result_done(&r);
	struct proc_opts o3 = { .path = "/nonexistent" };
	assert_int_equal(run(&o3, &r, argv), -ENOENT);
	struct proc_opts o4 = { .cwd = "/nonexistent" };
	assert_int_equal(run(&o4, &r, argv), -ENOENT);
	assert_int_equal(count_fds(), before);
	/* Every child was reaped: nothing is left to wait for. */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

int main(void)
{
	const char *h = getenv("PROC_HELPER");
#ifdef PROC_HELPER_PATH
	if (!h)
		h = PROC_HELPER_PATH;
#endif
	if (!h || !realpath(h, helper)) {
		fprintf(stderr, "test_proc: set PROC_HELPER to the proc_helper binary\n");
		return 1;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
		fprintf(stderr, "test_proc: PR_SET_CHILD_SUBREAPER failed\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_killed_by_signal),
		cmocka_unit_test(test_capture_both_streams),
		cmocka_unit_test(test_cap_head),
		cmocka_unit_test(test_cap_tail),
		cmocka_unit_test(test_cap_ceiling),
		cmocka_unit_test(test_timeout_sigterm),
		cmocka_unit_test(test_timeout_sigkill_after_grace),
		cmocka_unit_test(test_timeout_kills_group),
		cmocka_unit_test(test_grandchild_holds_pipes),
		cmocka_unit_test(test_escaped_grandchild_does_not_block),
		cmocka_unit_test(test_env_minimal_and_explicit),
		cmocka_unit_test(test_stdin_is_devnull),
		cmocka_unit_test(test_child_fds_signals_group),
		cmocka_unit_test(test_cwd),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_no_fd_leak_no_zombie),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
