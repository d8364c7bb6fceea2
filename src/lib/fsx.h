/*
 * fsx.h - atomic file replacement, bounded whole-file reads, append opens, directory fsync.
 *
 * Used by the agent (file uploads, the basic-auth secret, TLS keys, event persistence) and by
 * cloisterd (CA material, config it writes). A reader of the destination sees either the old or
 * the new content, never a mix, and after a crash one of the two survives: the data goes to a
 * temp file "<dir>/.<base>.XXXXXX" in the same directory, is fsync'ed, renamed over the
 * destination, and the directory is fsync'ed.
 *
 * Modes: a file created here gets exactly the mode asked for (fchmod after create, whatever the
 * umask). Replacing an existing file gives the new file the mode passed in, NOT the old file's
 * mode, and the caller's uid/gid as owner. Pass mode 0600 for secrets.
 *
 * Ownership: struct fsx_atomic owns its fd and strings until commit or abort. fsx_read_file hands
 * a malloc'ed buffer to the caller (free it; wipe it first if it held a secret).
 * Thread safety: all functions may run concurrently; temp names come from mkostemp and never
 * collide. One struct fsx_atomic must not be used by two threads at once.
 * Limits: paths longer than PATH_MAX - 1 bytes are -ENAMETOOLONG; fsx_read_file enforces the
 * caller's max (-E2BIG past it).
 */
#ifndef CLOISTER_FSX_H
#define CLOISTER_FSX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Writes len bytes to path atomically (see above). mode is applied exactly (bits beyond 07777
 * are -EINVAL). On any failure the temp file is removed and path is untouched. Returns 0 or
 * -errno (-ENOENT when the directory does not exist, -EINVAL for an empty path or one ending
 * in '/').
 */
int fsx_write_atomic(const char *path, const void *buf, size_t len, mode_t mode);

/* Streaming variant, for bodies that arrive in chunks: open, write*, then commit or abort. */
struct fsx_atomic {
	int fd;         /* temp file, -1 when closed */
	char *tmp_path; /* "<dir>/.<base>.XXXXXX", NULL when gone */
	char *path;     /* destination */
	int64_t written;
};
/* A struct set to this (or to a failed/finished fsx_atomic_open) is safe to abort. */
#define FSX_ATOMIC_INIT                                                                            \
	{                                                                                          \
		.fd = -1, .tmp_path = NULL, .path = NULL, .written = 0                             \
	}

/* Creates the temp file next to path. On failure a is left empty (abort is a no-op). */
int fsx_atomic_open(struct fsx_atomic *a, const char *path, mode_t mode);
/* Appends len bytes (all of them, or an error). -EBADF when a is not open. */
int fsx_atomic_write(struct fsx_atomic *a, const void *buf, size_t len);
/*
 * fsync, close, rename over the destination, fsync the directory; frees a's resources whatever
 * the result. A failure before the rename removes the temp file and leaves the destination
 * untouched. A failure of the final directory fsync is returned although the new content is
 * already in place (it may just not be durable yet).
 */
int fsx_atomic_commit(struct fsx_atomic *a);
/* Closes and unlinks the temp file, frees; safe to call twice and after commit. */
void fsx_atomic_abort(struct fsx_atomic *a);

/*
 * Reads the whole file into a NUL-terminated malloc'ed buffer (*out, caller frees; len may be
 * NULL). Files larger than max bytes give -E2BIG (a file of exactly max bytes is read); max must
 * be a real bound (SIZE_MAX is -EINVAL). Works for /proc files and pipes, whose size is unknown.
 * Other errors are -errno (-EISDIR for a directory). On failure *out is NULL and any partial
 * content has been wiped.
 */
int fsx_read_file(const char *path, size_t max, char **out, size_t *len);

/*
 * Opens path with O_WRONLY|O_APPEND|O_CREAT|O_CLOEXEC. When this call creates the file it gets
 * exactly mode; an existing file keeps its mode. Returns the fd or -errno.
 */
int fsx_open_append(const char *path, mode_t mode);

/* fsync of the directory containing path ("." when path has no '/'). Returns 0 or -errno;
 * filesystems that cannot fsync a directory (EINVAL) count as success. */
int fsx_fsync_dir(const char *path);

#endif
