/*
 * proc.h - run a child process without a shell, bounded in time and in captured output.
 *
 * Used by the agent for allowlisted actions, systemctl/journalctl and nvidia-smi, and by anything
 * else that must execute a host command. The child is posix_spawn()ed from an absolute path with
 * an explicit argv, into its own process group, with stdin on /dev/null, stdout and stderr on
 * pipes, an empty signal mask, default signal dispositions and every fd >= 3 closed. On timeout
 * the whole group gets SIGTERM, then SIGKILL PROC_KILL_GRACE_MS later.
 *
 * Ownership: the caller owns struct proc_result and releases it with proc_result_done().
 * Thread safety: proc_run() may be called from several threads at once. It reaps only its own
 * child, so the process must not set SIGCHLD to SIG_IGN nor reap with waitpid(-1) elsewhere.
 *
 * Limits: PROC_OUTPUT_DEFAULT_BYTES kept per stream unless the caller asks otherwise, never more
 * than PROC_OUTPUT_MAX_BYTES; the rest of a stream is read and discarded so the child never
 * blocks on a full pipe. timeout_ms must be in 1..PROC_TIMEOUT_MAX_MS.
 */
#ifndef CLOISTER_PROC_H
#define CLOISTER_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROC_KILL_GRACE_MS 1000
#define PROC_OUTPUT_DEFAULT_BYTES (64u * 1024u)
#define PROC_OUTPUT_MAX_BYTES (16u * 1024u * 1024u)
#define PROC_TIMEOUT_MAX_MS (24 * 3600 * 1000)

struct proc_opts {
	/* absolute path of the executable (else -EINVAL) */
	const char *path;
	/* argv[0] is the display name; NULL-terminated; required */
	char *const *argv;
	/* NULL = PATH=/usr/sbin:/usr/bin:/sbin:/bin and LANG=C.UTF-8 only */
	char *const *envp;
	/* 1..PROC_TIMEOUT_MAX_MS; on expiry SIGTERM the whole process group, then SIGKILL after
	 * PROC_KILL_GRACE_MS */
	int timeout_ms;
	/* bytes kept of each stream: 0 = PROC_OUTPUT_DEFAULT_BYTES, larger values are capped at
	 * PROC_OUTPUT_MAX_BYTES; the rest is read and discarded */
	size_t stdout_max, stderr_max;
	/* true: keep the LAST max bytes (for logs); false: the first */
	bool keep_tail;
	/* working directory of the child; NULL = "/" */
	const char *cwd;
};

struct proc_result {
	/* 0..255 when the child exited normally, else -1 */
	int exit_code;
	/* signal number when the child was killed by a signal, else 0 */
	int term_signal;
	/* the deadline passed and the group was killed; exit_code/term_signal still say how the
	 * main child ended (it may have exited before the deadline while a grandchild kept the
	 * pipes open) */
	bool timed_out;
	/* from spawn to reaping the main child (monotonic clock) */
	int64_t duration_ms;
	/* captured stdout and stderr, NUL-terminated, never NULL after success; *_truncated: the
	 * child wrote more than the kept size */
	char *out;
	size_t out_len;
	bool out_truncated;
	char *err;
	size_t err_len;
	bool err_truncated;
};

/*
 * Runs the child to completion, blocking the calling thread. Returns 0 when the child was started
 * and reaped, whatever its exit status (check r); then r owns out/err. On failure r holds no
 * allocation and the return is:
 *   -EINVAL  bad options (relative path, no argv, timeout out of range, NULL pointers)
 *   -ENOENT  the executable does not exist (checked before spawning, so the caller can map it to
 *            "missing binary"); -EACCES it is not a regular executable file;
 *   -ENOMEM, or the errno of pipe2()/posix_spawn() (e.g. -ENOENT when cwd is missing,
 *            -ENOEXEC for a bad binary format).
 * The main child is always reaped before returning: no zombies are left behind.
 */
int proc_run(const struct proc_opts *o, struct proc_result *r);

/* Frees out/err and resets r. Accepts a zeroed or already released result. */
void proc_result_done(struct proc_result *r);

#endif
