/*
 * proc_helper.c - a small child program for tests/unit/test_proc.c.
 *
 * Each mode makes the child do one observable thing (exit with a code, write a known byte
 * pattern, report its environment, stdin, fds, signal state or process group, fork a sleeping
 * grandchild and print its pid) so the test can check what proc_run() did to it. It exists so the
 * tests need no shell. Usage: proc_helper MODE [ARG...]
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

/* Must match pat() in test_proc.c: a printable pattern whose period is much longer than any cap
 * the tests use, so a misplaced ring-buffer wrap cannot go unnoticed. */
static char pat(size_t i)
{
	return (char)('!' + (unsigned)((i * 2654435761u) >> 7) % 90u);
}

static size_t arg_size(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || end == s)
		exit(100);
	return (size_t)v;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			exit(101);
		}
		p += w;
		n -= (size_t)w;
	}
}

/* Writes n pattern bytes to fd in uneven chunks. */
static void write_pattern(int fd, size_t n)
{
	char buf[7919];
	size_t off = 0, step = 1;
	while (off < n) {
		size_t k = step % sizeof(buf) + 1;
		if (k > n - off)
			k = n - off;
		for (size_t i = 0; i < k; i++)
			buf[i] = pat(off + i);
		write_all(fd, buf, k);
		off += k;
		step = step * 31 + 17;
	}
}

static void sleep_forever(void)
{
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 100;
	const char *m = argv[1];
	if (!strcmp(m, "exit") && argc == 3)
		return (int)arg_size(argv[2]);
	if (!strcmp(m, "echo") && argc == 4) {
		write_all(1, argv[2], strlen(argv[2]));
		write_all(2, argv[3], strlen(argv[3]));
		return 0;
	}
	if (!strcmp(m, "pattern") && argc == 4) {
		write_pattern(1, arg_size(argv[2]));
		write_pattern(2, arg_size(argv[3]));
		return 0;
	}
	if (!strcmp(m, "env")) {
		for (char **e = environ; *e; e++)
			printf("%s\n", *e);
		return 0;
	}
	if (!strcmp(m, "stdin")) {
		struct stat a, b;
		char c;
		if (fstat(0, &a) < 0 || stat("/dev/null", &b) < 0)
			return 1;
		ssize_t n = read(0, &c, 1);
		printf("%s %s\n",
		       S_ISCHR(a.st_mode) && a.st_rdev == b.st_rdev ? "devnull" : "other",
		       n == 0 ? "eof" : "data");
		return 0;
	}
	if (!strcmp(m, "fds")) {
		DIR *d = opendir("/proc/self/fd");
		if (!d)
			return 1;
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.' || strtol(de->d_name, NULL, 10) == dirfd(d))
				continue;
			printf("%s\n", de->d_name);
		}
		closedir(d);
		return 0;
	}
	if (!strcmp(m, "signals")) {
		struct sigaction sa;
		sigset_t cur;
		sigaction(SIGPIPE, NULL, &sa);
		sigprocmask(SIG_SETMASK, NULL, &cur);
		printf("pipe=%s usr1=%s\n", sa.sa_handler == SIG_DFL ? "dfl" : "other",
		       sigismember(&cur, SIGUSR1) ? "blocked" : "open");
		return 0;
	}
	if (!strcmp(m, "pgrp")) {
		printf("%s\n", getpgrp() == getpid() ? "leader" : "member");
		return 0;
	}
	if (!strcmp(m, "cwd")) {
		char buf[4096];
		if (!getcwd(buf, sizeof(buf)))
			return 1;
		printf("%s\n", buf);
		return 0;
	}
	if (!strcmp(m, "ignore-term")) {
		signal(SIGTERM, SIG_IGN);
		printf("ready\n");
		fflush(stdout);
		sleep_forever();
	}
	/* grandchild MODE: forks a grandchild that holds stdout/stderr and sleeps, prints its pid.
	 * "wait": the main child sleeps too; "exit": it exits 7 at once; "escape": the grandchild
	 * leaves the process group (setsid) first, and the main child exits 0. */
	if (!strcmp(m, "grandchild") && argc == 3) {
		pid_t g = fork();
		if (g < 0)
			return 1;
		if (g == 0) {
			if (!strcmp(argv[2], "escape"))
				setsid();
			sleep_forever();
		}
		printf("%d\n", (int)g);
		fflush(stdout);
		if (!strcmp(argv[2], "wait"))
			sleep_forever();
		return !strcmp(argv[2], "exit") ? 7 : 0;
	}
	if (!strcmp(m, "raise") && argc == 3) {
		fflush(stdout);
		raise((int)arg_size(argv[2]));
		return 1;
	}
	return 100;
}
