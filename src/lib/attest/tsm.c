/*
 * attest/tsm.c - the configfs-tsm evidence provider (see tsm.h).
 *
 * One attempt: mkdir root/cloister-<16 random hex> (our own entry, so no other process has a
 * reason to touch it), read `provider`, read `generation` (g0), write `privlevel` when asked,
 * write the 64-byte `inblob`, wait for `generation` to reach g0 + the number of our writes, read
 * `outblob` and `auxblob`, read `generation` again, and remove the entry. A generation past the
 * expected value, or one that moved while we read, means another writer changed the entry
 * (configfs lets anyone with access write any entry): the blobs may answer its inblob, not ours,
 * so the attempt is discarded and repeated with a fresh entry, up to TSM_RETRIES times.
 *
 * The real kernel and the test fixture differ in two ways, and the code is correct for both:
 *  - configfs creates an entry's attributes together with the mkdir and answers writes
 *    synchronously: the inblob write is committed by close(), which bumps the generation before
 *    close returns (configfs ignores the bin attribute's write result, so the generation moving
 *    is also the only evidence that the write took), and outblob is produced on the first read
 *    after a change. So on configfs every wait below is satisfied on its first check and
 *    nothing sleeps.
 *  - in an ordinary directory (tests/fixtures/tsm_fixture.c) another process answers through
 *    inotify, some time later: it creates the attributes after our mkdir (`provider` last), and
 *    on a write it writes outblob/auxblob atomically (temp + rename) and only then bumps the
 *    generation. So we poll, bounded by TSM_SETTLE_TIMEOUT_MS in steps of TSM_POLL_STEP_MS,
 *    for `provider` to appear and for the generation to reach the expected value; once it has,
 *    the blobs are complete. rmdir of a non-empty ordinary directory fails with ENOTEMPTY
 *    (configfs removes an entry with its attributes), so then the entry's files are unlinked
 *    and the rmdir repeated.
 * Each write bumps the generation by one in both (privlevel too), hence "g0 + our writes".
 */
#include "attest/tsm.h"

#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TSM_NAME_PREFIX "cloister-"
#define TSM_SMALL_ATTR_BYTES 64 /* provider, generation, privlevel_floor */
#define TSM_MKDIR_TRIES 4       /* name collisions (64 random bits: never, in practice) */
#define TSM_RMDIR_TRIES 10

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Reads a whole attribute of at most max bytes. Returns the length, -E2BIG past max, -errno. */
static ssize_t read_attr(int dfd, const char *name, uint8_t *buf, size_t max)
{
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	size_t off = 0;
	for (;;) {
		uint8_t extra = 0;
		/* Read one byte past max (into a scratch byte) to tell "exactly max" from "more". */
		uint8_t *dst = off < max ? buf + off : &extra;
		size_t want = off < max ? max - off : 1;
		ssize_t n = read(fd, dst, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return (ssize_t)off;
		if (off >= max)
			return -E2BIG;
		off += (size_t)n;
	}
}

/* A small text attribute, NUL-terminated with one trailing newline removed. */
static int read_text(int dfd, const char *name, char *buf, size_t cap)
{
	ssize_t n = read_attr(dfd, name, (uint8_t *)buf, cap - 1);
	if (n < 0)
		return n == -E2BIG ? -EPROTO : (int)n;
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return (int)n;
}

static int read_generation(int dfd, uint64_t *gen)
{
	char buf[TSM_SMALL_ATTR_BYTES];
	int rc = read_text(dfd, "generation", buf, sizeof(buf));
	if (rc < 0)
		return rc;
	return util_parse_u64(buf, UINT64_MAX, gen) < 0 ? -EPROTO : 0;
}

static int write_attr(int dfd, const char *name, const void *data, size_t len)
{
	/* No O_CREAT: configfs attributes exist or the entry is not what we think it is. */
	int fd = openat(dfd, name, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	const uint8_t *p = data;
	size_t off = 0;
	int rc = 0;
	while (off < len) {
		ssize_t n = write(fd, p + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		off += (size_t)n;
	}
	/* configfs commits a bin attribute (inblob) in close(). */
	if (close(fd) < 0 && rc == 0 && errno != EINTR)
		rc = -errno;
	return rc;
}

enum tsm_tee tsm_tee_from_provider(const char *provider)
{
	if (!provider)
		return TSM_TEE_UNKNOWN;
	if (strcmp(provider, "sev_guest") == 0)
		return TSM_TEE_SNP;
	if (strcmp(provider, "tdx_guest") == 0)
		return TSM_TEE_TDX;
	return TSM_TEE_UNKNOWN;
}

const char *tsm_tee_name(enum tsm_tee t)
{
	switch (t) {
	case TSM_TEE_SNP:
		return "snp";
	case TSM_TEE_TDX:
		return "tdx";
	case TSM_TEE_UNKNOWN:
		break;
	}
	return "unknown";
}

static bool provider_ok(const char *p)
{
	if (!p[0])
		return false;
	for (; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
		      *p == '-'))
			return false;
	return true;
}

/* Removes our entry: one rmdir on configfs; on an ordinary directory unlink what is in it
 * first (the fixture's attribute files; never a subdirectory). Best effort. */
static void remove_entry(int rootfd, const char *name)
{
	for (int i = 0; i < TSM_RMDIR_TRIES; i++) {
		if (unlinkat(rootfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
			return;
		if (errno != ENOTEMPTY && errno != EEXIST)
			return;
		int dfd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (dfd < 0)
			return;
		DIR *d = fdopendir(dfd);
		if (!d) {
			close(dfd);
			return;
		}
		struct dirent *de;
		while ((de = readdir(d)) != NULL)
			if (de->d_type != DT_DIR)
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
		if (i > 0)
			sleep_ms(TSM_POLL_STEP_MS); /* something is still writing into it */
	}
}

static int make_entry(int rootfd, const char *root, char *name, size_t cap, char *err,
		      size_t errlen)
{
	for (int i = 0; i < TSM_MKDIR_TRIES; i++) {
		uint64_t r;
		if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
			int e = errno ? errno : EIO;
			set_err(err, errlen, "getrandom: %s", strerror(e));
			return -e;
		}
		snprintf(name, cap, TSM_NAME_PREFIX "%016" PRIx64, r);
		if (mkdirat(rootfd, name, 0700) == 0)
			return 0;
		if (errno != EEXIST) {
			int e = errno;
			set_err(err, errlen, "cannot create a report entry in %s: %s", root,
				strerror(e));
			return -e;
		}
	}
	set_err(err, errlen, "cannot create a report entry in %s: names keep colliding", root);
	return -EEXIST;
}

/* One attempt with a fresh entry. -EAGAIN: a concurrent writer was seen (err set). */
static int attempt(int rootfd, const char *root, const uint8_t *inblob, int privlevel,
		   struct tsm_evidence *ev, char *err, size_t errlen)
{
	char name[sizeof(TSM_NAME_PREFIX) + 16];
	int rc = make_entry(rootfd, root, name, sizeof(name), err, errlen);
	if (rc < 0)
		return rc;
	int dfd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0) {
		rc = -errno;
		set_err(err, errlen, "%s/%s: %s", root, name, strerror(-rc));
		remove_entry(rootfd, name);
		return rc;
	}
	int64_t deadline = util_mono_ms() + TSM_SETTLE_TIMEOUT_MS;
	uint8_t *out = NULL, *aux = NULL;
	ssize_t outlen = 0, auxlen = 0;
	const char *what = "provider";

	char provider[TSM_SMALL_ATTR_BYTES];
	while ((rc = read_text(dfd, "provider", provider, sizeof(provider))) == -ENOENT &&
	       util_mono_ms() < deadline)
		sleep_ms(TSM_POLL_STEP_MS);
	if (rc == -ENOENT) {
		rc = -ETIMEDOUT;
		set_err(err, errlen,
			"%s/%s has no provider attribute after %d ms: is %s a configfs-tsm report "
			"directory?",
			root, name, TSM_SETTLE_TIMEOUT_MS, root);
		goto out;
	}
	if (rc < 0)
		goto io;
	if (!provider_ok(provider) || strlen(provider) >= sizeof(ev->provider)) {
		rc = -EPROTO;
		set_err(err, errlen, "%s/%s/provider holds an unexpected value", root, name);
		goto out;
	}

	uint64_t g0, g1, g2;
	what = "generation";
	if ((rc = read_generation(dfd, &g0)) < 0)
		goto io;
	uint64_t expect = g0;
	if (privlevel >= 0) {
		char pl[16];
		int n = snprintf(pl, sizeof(pl), "%d\n", privlevel);
		what = "privlevel";
		if ((rc = write_attr(dfd, "privlevel", pl, (size_t)n)) < 0) {
			if (rc == -EINVAL) {
				char floor[TSM_SMALL_ATTR_BYTES] = "?";
				read_text(dfd, "privlevel_floor", floor, sizeof(floor));
				set_err(err, errlen,
					"%s: privlevel %d refused (privlevel_floor is %s)", root,
					privlevel, floor);
				goto out;
			}
			goto io;
		}
		expect++;
	}
	what = "inblob";
	if ((rc = write_attr(dfd, "inblob", inblob, TSM_INBLOB_BYTES)) < 0)
		goto io;
	expect++;

	/* Modular distances from g0, so a counter that wraps is no problem. */
	what = "generation";
	for (;;) {
		if ((rc = read_generation(dfd, &g1)) < 0)
			goto io;
		if (g1 - g0 >= expect - g0)
			break;
		if (util_mono_ms() >= deadline) {
			rc = -ETIMEDOUT;
			set_err(err, errlen,
				"%s/%s: generation stayed at %" PRIu64
				" after our write (want %" PRIu64 ") for %d ms",
				root, name, g1, expect, TSM_SETTLE_TIMEOUT_MS);
			goto out;
		}
		sleep_ms(TSM_POLL_STEP_MS);
	}
	if (g1 != expect) {
		rc = -EAGAIN;
		set_err(err, errlen,
			"%s: another writer changed the report entry (generation %" PRIu64
			", want %" PRIu64 ")",
			root, g1, expect);
		goto out;
	}

	what = "outblob";
	out = malloc(TSM_OUTBLOB_MAX_BYTES);
	aux = malloc(TSM_AUXBLOB_MAX_BYTES);
	if (!out || !aux) {
		rc = -ENOMEM;
		set_err(err, errlen, "out of memory");
		goto out;
	}
	outlen = read_attr(dfd, "outblob", out, TSM_OUTBLOB_MAX_BYTES);
	if (outlen == -E2BIG) {
		rc = -E2BIG;
		set_err(err, errlen, "%s/%s/outblob is larger than %u bytes", root, name,
			TSM_OUTBLOB_MAX_BYTES);
		goto out;
	}
	if (outlen < 0) {
		rc = (int)outlen;
		goto io;
	}
	if (outlen == 0) {
		rc = -EPROTO;
		set_err(err, errlen, "%s/%s/outblob is empty", root, name);
		goto out;
	}
	what = "auxblob";
	auxlen = read_attr(dfd, "auxblob", aux, TSM_AUXBLOB_MAX_BYTES);
	if (auxlen == -ENOENT) /* TDX, and kernels that hide it for the provider */
		auxlen = 0;
	if (auxlen == -E2BIG) {
		rc = -E2BIG;
		set_err(err, errlen, "%s/%s/auxblob is larger than %u bytes", root, name,
			TSM_AUXBLOB_MAX_BYTES);
		goto out;
	}
	if (auxlen < 0) {
		rc = (int)auxlen;
		goto io;
	}

	what = "generation";
	if ((rc = read_generation(dfd, &g2)) < 0)
		goto io;
	if (g2 != g1) {
		rc = -EAGAIN;
		set_err(err, errlen,
			"%s: another writer changed the report entry while it was read (generation "
			"%" PRIu64 " -> %" PRIu64 ")",
			root, g1, g2);
		goto out;
	}

	memcpy(ev->provider, provider, strlen(provider) + 1);
	ev->tee = tsm_tee_from_provider(provider);
	uint8_t *o = realloc(out, (size_t)outlen);
	ev->outblob = o ? o : out;
	ev->outlen = (size_t)outlen;
	out = NULL;
	if (auxlen > 0) {
		uint8_t *a = realloc(aux, (size_t)auxlen);
		ev->auxblob = a ? a : aux;
		ev->auxlen = (size_t)auxlen;
		aux = NULL;
	}
	ev->generation = (uint32_t)g1;
	rc = 0;
	goto out;
io:
	if (rc == -EPROTO)
		set_err(err, errlen, "%s/%s/%s holds an unexpected value", root, name, what);
	else
		set_err(err, errlen, "%s/%s/%s: %s", root, name, what, strerror(-rc));
out:
	free(out);
	free(aux);
	close(dfd);
	remove_entry(rootfd, name);
	return rc;
}

int tsm_get_report(const char *root, const uint8_t inblob[TSM_INBLOB_BYTES], int privlevel,
		   struct tsm_evidence *ev, char *err, size_t errlen)
{
	if (!ev || !inblob) {
		set_err(err, errlen, "invalid argument");
		return -EINVAL;
	}
	*ev = (struct tsm_evidence){ 0 };
	if (!root)
		root = TSM_DEFAULT_ROOT;
	if (privlevel < -1 || privlevel > TSM_PRIVLEVEL_MAX) {
		set_err(err, errlen, "privlevel %d is outside -1..%d", privlevel,
			TSM_PRIVLEVEL_MAX);
		return -EINVAL;
	}
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		int e = errno;
		set_err(err, errlen, "%s: %s%s", root, strerror(e),
			e == ENOENT ? " (configfs not mounted, or no TSM provider in this kernel)"
				    : "");
		return -e;
	}
	int rc = -EAGAIN;
	for (int i = 0; i <= TSM_RETRIES && rc == -EAGAIN; i++)
		rc = attempt(rootfd, root, inblob, privlevel, ev, err, errlen);
	if (rc == -EAGAIN)
		set_err(err, errlen,
			"%s: another writer changed the report entry on each of %d attempts", root,
			TSM_RETRIES + 1);
	close(rootfd);
	return rc;
}

void tsm_evidence_done(struct tsm_evidence *ev)
{
	if (!ev)
		return;
	free(ev->outblob);
	free(ev->auxblob);
	*ev = (struct tsm_evidence){ 0 };
}
