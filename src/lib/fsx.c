/*
 * fsx.c - atomic writes, bounded reads, append opens (see fsx.h).
 *
 * The atomic write is the classic sequence: mkostemp() a dot-file next to the destination (same
 * filesystem, so rename() is atomic), fchmod() it to the exact mode (mkostemp and open() both
 * filter the mode through the umask), write, fsync() the data, rename() over the destination,
 * then fsync() the directory so the rename itself survives a crash. Until the rename the
 * destination is never touched, so every failure path only has to unlink the temp file.
 */
#include "fsx.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>

#define FSX_MODE_BITS 07777
#define FSX_READ_INITIAL_BYTES 4096
#define FSX_OPEN_APPEND_TRIES 8

/* Length of the directory prefix of path, including its trailing '/'; 0 when there is none. */
static size_t dir_prefix_len(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? (size_t)(slash - path) + 1 : 0;
}

int fsx_fsync_dir(const char *path)
{
	if (!path || !*path)
		return -EINVAL;
	size_t n = dir_prefix_len(path);
	if (n >= PATH_MAX)
		return -ENAMETOOLONG;
	char dir[PATH_MAX];
	if (n == 0) {
		memcpy(dir, ".", 2);
	} else {
		/* keep "/" for a file in the root, drop the trailing slash otherwise */
		size_t k = n > 1 ? n - 1 : 1;
		memcpy(dir, path, k);
		dir[k] = '\0';
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = 0;
	if (fsync(fd) < 0 && errno != EINVAL)
		rc = -errno;
	close(fd);
	return rc;
}

void fsx_atomic_abort(struct fsx_atomic *a)
{
	if (!a)
		return;
	if (a->fd >= 0)
		close(a->fd);
	if (a->tmp_path)
		unlink(a->tmp_path);
	free(a->tmp_path);
	free(a->path);
	*a = (struct fsx_atomic)FSX_ATOMIC_INIT;
}

int fsx_atomic_open(struct fsx_atomic *a, const char *path, mode_t mode)
{
	if (!a)
		return -EINVAL;
	*a = (struct fsx_atomic)FSX_ATOMIC_INIT;
	if (!path || !*path || (mode & ~(mode_t)FSX_MODE_BITS))
		return -EINVAL;
	size_t len = strlen(path);
	if (len >= PATH_MAX)
		return -ENAMETOOLONG;
	size_t pre = dir_prefix_len(path);
	const char *base = path + pre;
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return -EINVAL;
	size_t blen = len - pre;
	/* prefix + "." + base + ".XXXXXX" + NUL */
	size_t tlen = pre + 1 + blen + 7;
	a->tmp_path = malloc(tlen + 1);
	a->path = strdup(path);
	if (!a->tmp_path || !a->path) {
		fsx_atomic_abort(a);
		return -ENOMEM;
	}
	memcpy(a->tmp_path, path, pre);
	a->tmp_path[pre] = '.';
	memcpy(a->tmp_path + pre + 1, base, blen);
	memcpy(a->tmp_path + pre + 1 + blen, ".XXXXXX", 8);
	a->fd = mkostemp(a->tmp_path, O_CLOEXEC);
	if (a->fd < 0) {
		int e = -errno;
		free(a->tmp_path);
		a->tmp_path = NULL; /* nothing was created: do not unlink a stranger's file */
		fsx_atomic_abort(a);
		return e;
	}
	if (fchmod(a->fd, mode) < 0) {
		int e = -errno;
		fsx_atomic_abort(a);
		return e;
	}
	return 0;
}

int fsx_atomic_write(struct fsx_atomic *a, const void *buf, size_t len)
{
	if (!a || a->fd < 0)
		return -EBADF;
	if (len > 0 && !buf)
		return -EINVAL;
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(a->fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		a->written += n;
	}
	return 0;
}

int fsx_atomic_commit(struct fsx_atomic *a)
{
	if (!a)
		return -EINVAL;
	if (a->fd < 0 || !a->tmp_path || !a->path) {
		fsx_atomic_abort(a);
		return -EBADF;
	}
	int rc = 0;
	if (fsync(a->fd) < 0) {
		rc = -errno;
		fsx_atomic_abort(a);
		return rc;
	}
	int fd = TAKE_FD(a->fd);
	if (close(fd) < 0) {
		rc = -errno;
		fsx_atomic_abort(a);
		return rc;
	}
	if (rename(a->tmp_path, a->path) < 0) {
		rc = -errno;
		fsx_atomic_abort(a);
		return rc;
	}
	free(a->tmp_path);
	a->tmp_path = NULL; /* renamed: abort must not unlink it any more */
	rc = fsx_fsync_dir(a->path);
	fsx_atomic_abort(a);
	return rc;
}

int fsx_write_atomic(const char *path, const void *buf, size_t len, mode_t mode)
{
	struct fsx_atomic a;
	int rc = fsx_atomic_open(&a, path, mode);
	if (rc < 0)
		return rc;
	rc = fsx_atomic_write(&a, buf, len);
	if (rc < 0) {
		fsx_atomic_abort(&a);
		return rc;
	}
	return fsx_atomic_commit(&a);
}

/* Frees a buffer that may hold a secret (the basic-auth file, keys). */
static void wipe_free(char *buf, size_t n)
{
	if (!buf)
		return;
	sodium_memzero(buf, n);
	free(buf);
}

int fsx_read_file(const char *path, size_t max, char **out, size_t *len)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (len)
		*len = 0;
	if (!path || !*path || max == SIZE_MAX)
		return -EINVAL;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	/* Files in /proc and pipes report size 0: then the buffer grows as data comes. */
	size_t cap = FSX_READ_INITIAL_BYTES;
	if (S_ISREG(st.st_mode) && st.st_size > 0) {
		if ((uint64_t)st.st_size > max)
			return -E2BIG;
		cap = (size_t)st.st_size;
	}
	if (cap > max)
		cap = max;
	char *buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	size_t total = 0;
	int rc = 0;
	for (;;) {
		if (total == cap) {
			if (cap == max) {
				char c;
				ssize_t n;
				while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
					;
				if (n < 0)
					rc = -errno;
				else if (n > 0)
					rc = -E2BIG;
				break;
			}
			size_t ncap =
				cap > max / 2 ? max : (cap ? cap * 2 : FSX_READ_INITIAL_BYTES);
			if (ncap > max)
				ncap = max;
			/* No realloc: it could leave a copy of a secret behind in freed memory. */
			char *nb = malloc(ncap + 1);
			if (!nb) {
				rc = -ENOMEM;
				break;
			}
			memcpy(nb, buf, total);
			wipe_free(buf, cap + 1);
			buf = nb;
			cap = ncap;
		}
		ssize_t n = read(fd, buf + total, cap - total);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		total += (size_t)n;
	}
	if (rc < 0) {
		wipe_free(buf, cap + 1);
		return rc;
	}
	buf[total] = '\0';
	*out = buf;
	if (len)
		*len = total;
	return 0;
}

int fsx_open_append(const char *path, mode_t mode)
{
	if (!path || !*path || (mode & ~(mode_t)FSX_MODE_BITS))
		return -EINVAL;
	/* O_EXCL first tells us whether we created the file, and so whether to fchmod it; the
	 * loop covers the file vanishing or appearing between the two opens. */
	for (int i = 0; i < FSX_OPEN_APPEND_TRIES; i++) {
		int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY,
			      mode);
		if (fd >= 0) {
			if (fchmod(fd, mode) < 0) {
				int e = -errno;
				close(fd);
				unlink(path);
				return e;
			}
			return fd;
		}
		if (errno != EEXIST)
			return -errno;
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
		if (fd >= 0)
			return fd;
		if (errno != ENOENT)
			return -errno;
	}
	return -EAGAIN;
}
