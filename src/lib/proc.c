/*
 * proc.c - bounded child processes (see proc.h).
 *
 * How it works: the executable is checked (stat + access) before anything is created, so a
 * missing binary is reported as -ENOENT without a fork. posix_spawn() (glibc: clone(CLONE_VFORK),
 * safe in threaded programs) starts the child in its own process group; when it returns, the child
 * has already called setpgid() and exec'd, so the group exists and can be signalled. The parent
 * then polls the two pipe read ends and a pidfd of the child until both pipes reach EOF and the
 * child has exited, or until the deadline (CLOCK_MONOTONIC).
 *
 * The child's exit is observed with waitid(WNOWAIT), and it is reaped only at the very end: while
 * it is a zombie its pid cannot be reused, so kill(-pgid) can never hit an unrelated group.
 * Output beyond the kept size is still read (so the child never blocks on a full pipe) and
 * dropped; in tail mode the kept bytes live in a ring buffer that is straightened at the end.
 */
#include "proc.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* Poll slice used only when pidfd_open() is unavailable (kernels older than 5.3). */
#define PROC_POLL_SLICE_MS 10
/* Reads per stream when draining the pipes after SIGKILL: a writer that escaped the group must
 * not keep us here forever. */
#define PROC_DRAIN_READS 64
#define PROC_READ_CHUNK_BYTES 16384

static char proc_env_path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
static char proc_env_lang[] = "LANG=C.UTF-8";
static char *const proc_default_env[] = { proc_env_path, proc_env_lang, NULL };

/* One captured stream. Invariant in tail mode: start != 0 only once len == max (ring full). */
struct capture {
	char *buf;
	size_t cap; /* bytes usable in buf, excluding the NUL slot */
	size_t len;
	size_t start;
	size_t max;
	uint64_t seen;
	bool tail;
	int fd;
};

static int capture_reserve(struct capture *c, size_t need)
{
	if (need <= c->cap && c->buf)
		return 0;
	size_t ncap = c->cap ? c->cap : 4096;
	while (ncap < need)
		ncap *= 2;
	if (ncap > c->max)
		ncap = c->max;
	char *nb = realloc(c->buf, ncap + 1);
	if (!nb)
		return -ENOMEM;
	c->buf = nb;
	c->cap = ncap;
	return 0;
}

static int capture_put(struct capture *c, const char *p, size_t n)
{
	c->seen += n;
	if (!c->tail) {
		size_t room = c->max - c->len;
		size_t k = n < room ? n : room;
		if (k == 0)
			return 0;
		int rc = capture_reserve(c, c->len + k);
		if (rc < 0)
			return rc;
		memcpy(c->buf + c->len, p, k);
		c->len += k;
		return 0;
	}
	if (n >= c->max) {
		int rc = capture_reserve(c, c->max);
		if (rc < 0)
			return rc;
		memcpy(c->buf, p + (n - c->max), c->max);
		c->len = c->max;
		c->start = 0;
		return 0;
	}
	if (c->len + n <= c->max) {
		int rc = capture_reserve(c, c->len + n);
		if (rc < 0)
			return rc;
		memcpy(c->buf + c->len, p, n);
		c->len += n;
		return 0;
	}
	int rc = capture_reserve(c, c->max);
	if (rc < 0)
		return rc;
	if (c->len < c->max) {
		size_t k = c->max - c->len;
		memcpy(c->buf + c->len, p, k);
		c->len = c->max;
		p += k;
		n -= k;
	}
	size_t first = c->max - c->start;
	if (first > n)
		first = n;
	memcpy(c->buf + c->start, p, first);
	memcpy(c->buf, p + first, n - first);
	c->start = (c->start + n) % c->max;
	return 0;
}

/* Hands the kept bytes over as one NUL-terminated string, oldest byte first. */
static int capture_finish(struct capture *c, char **out, size_t *len, bool *truncated)
{
	if (c->start != 0) {
		char *nb = malloc(c->len + 1);
		if (!nb)
			return -ENOMEM;
		memcpy(nb, c->buf + c->start, c->len - c->start);
		memcpy(nb + (c->len - c->start), c->buf, c->start);
		free(c->buf);
		c->buf = nb;
		c->start = 0;
	}
	if (!c->buf) {
		c->buf = malloc(1);
		if (!c->buf)
			return -ENOMEM;
	}
	c->buf[c->len] = '\0';
	*out = TAKE_PTR(c->buf);
	*len = c->len;
	*truncated = c->seen > c->max;
	return 0;
}

/* Reads what is available; returns 1 at EOF (fd closed), 0 otherwise, or -ENOMEM. */
static int capture_read(struct capture *c)
{
	char chunk[PROC_READ_CHUNK_BYTES];
	ssize_t n = read(c->fd, chunk, sizeof(chunk));
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		n = 0; /* any other read error ends the stream */
	}
	if (n == 0) {
		close(c->fd);
		c->fd = -1;
		return 1;
	}
	return capture_put(c, chunk, (size_t)n);
}

static size_t clamp_max(size_t v)
{
	if (v == 0)
		return PROC_OUTPUT_DEFAULT_BYTES;
	return v > PROC_OUTPUT_MAX_BYTES ? PROC_OUTPUT_MAX_BYTES : v;
}

/* pipe2(O_CLOEXEC) with both ends at fd >= 3, so the dup2 file actions onto 0..2 never act on a
 * pipe end itself (possible when the caller runs with stdio closed). */
static int make_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	for (int i = 0; i < 2; i++) {
		if (p[i] >= 3)
			continue;
		int nfd = fcntl(p[i], F_DUPFD_CLOEXEC, 3);
		if (nfd < 0) {
			int e = -errno;
			close(p[0]);
			close(p[1]);
			return e;
		}
		close(p[i]);
		p[i] = nfd;
	}
	return 0;
}

static int check_executable(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return errno == ENOTDIR ? -ENOENT : -errno;
	if (!S_ISREG(st.st_mode))
		return -EACCES;
	if (access(path, X_OK) < 0)
		return -errno;
	return 0;
}

static int spawn_child(const struct proc_opts *o, int out_w, int err_w, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t mask, def;
	int rc = posix_spawn_file_actions_init(&fa);
	if (rc)
		return -rc;
	rc = posix_spawnattr_init(&attr);
	if (rc) {
		posix_spawn_file_actions_destroy(&fa);
		return -rc;
	}
	sigemptyset(&mask);
	/* Everything back to SIG_DFL: an ignored SIGPIPE or SIGTERM would otherwise survive exec. */
	sigfillset(&def);
	short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
	if ((rc = posix_spawnattr_setflags(&attr, flags)) ||
	    (rc = posix_spawnattr_setpgroup(&attr, 0)) ||
	    (rc = posix_spawnattr_setsigmask(&attr, &mask)) ||
	    (rc = posix_spawnattr_setsigdefault(&attr, &def)) ||
	    (rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, out_w, 1)) ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, err_w, 2)) ||
	    (rc = posix_spawn_file_actions_addchdir_np(&fa, o->cwd ? o->cwd : "/")) ||
	    (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)))
		goto out;
	rc = posix_spawn(pid, o->path, &fa, &attr, o->argv, o->envp ? o->envp : proc_default_env);
out:
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return -rc;
}

/* True once the child has terminated; leaves it a zombie (WNOWAIT) so its pid stays reserved. */
static bool child_exited(pid_t pid)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno != EINTR; /* ECHILD: nothing left to wait for */
	return si.si_pid == pid;
}

static void reap(pid_t pid, struct proc_result *r)
{
	int status = 0;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return;
	}
	if (WIFEXITED(status)) {
		r->exit_code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		r->term_signal = WTERMSIG(status);
	}
}

static void drain(struct capture *c)
{
	for (int i = 0; i < PROC_DRAIN_READS && c->fd >= 0; i++) {
		char chunk[PROC_READ_CHUNK_BYTES];
		ssize_t n = read(c->fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (capture_put(c, chunk, (size_t)n) < 0)
			break;
	}
}

int proc_run(const struct proc_opts *o, struct proc_result *r)
{
	if (!r)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->exit_code = -1;
	if (!o || !o->path || o->path[0] != '/' || !o->argv || !o->argv[0] || o->timeout_ms <= 0 ||
	    o->timeout_ms > PROC_TIMEOUT_MAX_MS)
		return -EINVAL;
	int rc = check_executable(o->path);
	if (rc < 0)
		return rc;

	struct capture cap[2] = {
		{ .max = clamp_max(o->stdout_max), .tail = o->keep_tail, .fd = -1 },
		{ .max = clamp_max(o->stderr_max), .tail = o->keep_tail, .fd = -1 },
	};
	int outp[2], errp[2];
	rc = make_pipe(outp);
	if (rc < 0)
		return rc;
	rc = make_pipe(errp);
	if (rc < 0) {
		close(outp[0]);
		close(outp[1]);
		return rc;
	}
	int64_t start = util_mono_ms();
	pid_t pid = -1;
	int pidfd = -1;
	rc = spawn_child(o, outp[1], errp[1], &pid);
	close(outp[1]);
	close(errp[1]);
	cap[0].fd = outp[0];
	cap[1].fd = errp[0];
	if (rc < 0)
		goto out;
	for (int i = 0; i < 2; i++)
		fcntl(cap[i].fd, F_SETFL, fcntl(cap[i].fd, F_GETFL) | O_NONBLOCK);

	pidfd = pidfd_open(pid, 0);
	bool exited = false, term_sent = false;
	int64_t deadline = start + o->timeout_ms, kill_at = 0;
	for (;;) {
		if (!exited && pidfd < 0)
			exited = child_exited(pid);
		if (exited && cap[0].fd < 0 && cap[1].fd < 0)
			break;
		int64_t now = util_mono_ms();
		if (!term_sent && now >= deadline) {
			kill(-pid, SIGTERM);
			term_sent = true;
			r->timed_out = true;
			kill_at = now + PROC_KILL_GRACE_MS;
		}
		if (term_sent && now >= kill_at)
			break;
		int64_t wait_ms = (term_sent ? kill_at : deadline) - now;
		if (!exited && pidfd < 0 && wait_ms > PROC_POLL_SLICE_MS)
			wait_ms = PROC_POLL_SLICE_MS;

		struct pollfd pfd[3];
		int idx[3];
		nfds_t n = 0;
		for (int i = 0; i < 2; i++) {
			if (cap[i].fd >= 0) {
				pfd[n] = (struct pollfd){ .fd = cap[i].fd, .events = POLLIN };
				idx[n++] = i;
			}
		}
		if (!exited && pidfd >= 0) {
			pfd[n] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
			idx[n++] = 2;
		}
		int pr = poll(pfd, n, (int)wait_ms);
		if (pr < 0 && errno != EINTR) {
			rc = -errno;
			break;
		}
		for (nfds_t k = 0; pr > 0 && k < n; k++) {
			if (!pfd[k].revents)
				continue;
			if (idx[k] == 2) {
				exited = child_exited(pid);
				continue;
			}
			int cr = capture_read(&cap[idx[k]]);
			if (cr < 0) {
				rc = cr;
				break;
			}
		}
		if (rc < 0)
			break;
	}
	/* The leader is still unreaped here, so -pid still names our group and nobody else's. */
	if (r->timed_out || rc < 0) {
		kill(-pid, SIGKILL);
		drain(&cap[0]);
		drain(&cap[1]);
	}
	reap(pid, r);
	r->duration_ms = util_mono_ms() - start;
	if (rc < 0)
		goto out;
	rc = capture_finish(&cap[0], &r->out, &r->out_len, &r->out_truncated);
	if (rc == 0)
		rc = capture_finish(&cap[1], &r->err, &r->err_len, &r->err_truncated);
out:
	if (pidfd >= 0)
		close(pidfd);
	for (int i = 0; i < 2; i++) {
		if (cap[i].fd >= 0)
			close(cap[i].fd);
		free(cap[i].buf);
	}
	if (rc < 0) {
		proc_result_done(r);
		return rc;
	}
	return 0;
}

void proc_result_done(struct proc_result *r)
{
	if (!r)
		return;
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
	r->exit_code = -1;
}
