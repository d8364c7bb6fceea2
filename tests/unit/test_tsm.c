/*
 * test_tsm.c - the configfs-tsm provider (attest/tsm.c) against tests/fixtures/tsm_fixture, a
 * program that answers like the kernel's report interface in a temporary directory: the
 * round trip (REPORT_DATA = our inblob, certificate table, privlevel as VMPL, TDX), a
 * concurrent writer (retry succeeds; at the retry limit; one past it: -EAGAIN), the limits
 * (outblob exactly TSM_OUTBLOB_MAX_BYTES and one past), every error path, that the report
 * entry is always removed, and concurrent callers.
 *
 * The fixture binary is found through $TSM_FIXTURE (or the compile-time TSM_FIXTURE_PATH).
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attest/tsm.h"
#include "util.h"

static char fixture[PATH_MAX];

struct fx {
	char dir[64];
	pid_t pid;
};

static void rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			rm_tree(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

/* Starts the fixture on a fresh temp dir with extra arguments (NULL-terminated list). */
static void fx_start(struct fx *f, ...)
{
	*f = (struct fx){ .pid = 0 };
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_tsm.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	char *argv[16];
	size_t n = 0;
	argv[n++] = fixture;
	va_list ap;
	va_start(ap, f);
	const char *a;
	while ((a = va_arg(ap, const char *)) != NULL && n < 14)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n++] = f->dir;
	argv[n] = NULL;
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		execv(fixture, argv);
		_exit(127);
	}
	char ready[PATH_MAX];
	snprintf(ready, sizeof(ready), "%s/.ready", f->dir);
	for (int i = 0; i < 1000 && access(ready, F_OK) != 0; i++) {
		int st;
		if (waitpid(f->pid, &st, WNOHANG) == f->pid)
			fail_msg("the fixture exited during start-up");
		usleep(5000);
	}
	assert_int_equal(access(ready, F_OK), 0);
}

/* Stops the fixture (SIGTERM; it must exit 0) and returns how many inblob writes it served. */
static long fx_stop(struct fx *f)
{
	long count = 0;
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/.count", f->dir);
	FILE *c = fopen(p, "r");
	if (c) {
		if (fscanf(c, "%ld", &count) != 1)
			count = -1;
		fclose(c);
	}
	if (f->pid > 0) {
		kill(f->pid, SIGTERM);
		int st = 0;
		assert_int_equal(waitpid(f->pid, &st, 0), f->pid);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
		f->pid = 0;
	}
	rm_tree(f->dir);
	return count;
}

/* Entries (subdirectories other than the fixture's .tmp) left in dir. */
static int entries_left(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "cloister-", 9) == 0)
			n++;
	closedir(d);
	return n;
}

static void fill_inblob(uint8_t *in, uint8_t seed)
{
	for (int i = 0; i < TSM_INBLOB_BYTES; i++)
		in[i] = (uint8_t)(seed + i * 7);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void assert_empty(const struct tsm_evidence *ev)
{
	assert_null(ev->outblob);
	assert_null(ev->auxblob);
	assert_int_equal(ev->outlen, 0);
	assert_int_equal(ev->auxlen, 0);
}

static void test_roundtrip_snp(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, NULL);
	uint8_t in[TSM_INBLOB_BYTES];
	fill_inblob(in, 3);
	struct tsm_evidence ev;
	char err[256] = "";
	assert_int_equal(tsm_get_report(f.dir, in, -1, &ev, err, sizeof(err)), 0);
	assert_string_equal(ev.provider, "sev_guest");
	assert_int_equal(ev.outlen, 1184);
	assert_int_equal(le32(ev.outblob), 2);          /* VERSION */
	assert_int_equal(le32(ev.outblob + 0x34), 1);   /* SIGNATURE_ALGO */
	assert_int_equal(le32(ev.outblob + 0x30), 0);   /* VMPL: privlevel left alone */
	assert_memory_equal(ev.outblob + 0x50, in, 64); /* REPORT_DATA */
	assert_int_equal(ev.generation, 1);
	/* auxblob: one VCEK entry, the terminator, the DER. */
	static const uint8_t vcek_guid[16] = { 0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
					       0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd };
	assert_non_null(ev.auxblob);
	assert_true(ev.auxlen > 48);
	assert_memory_equal(ev.auxblob, vcek_guid, 16);
	assert_int_equal(le32(ev.auxblob + 16), 48);
	assert_int_equal(le32(ev.auxblob + 20), ev.auxlen - 48);
	assert_int_equal(ev.auxblob[48], 0x30);
	assert_int_equal(entries_left(f.dir), 0);
	tsm_evidence_done(&ev);
	assert_empty(&ev);
	tsm_evidence_done(&ev); /* twice is fine */
	tsm_evidence_done(NULL);
	assert_int_equal(fx_stop(&f), 1);
}

static void test_privlevel(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, NULL);
	uint8_t in[TSM_INBLOB_BYTES];
	fill_inblob(in, 9);
	struct tsm_evidence ev;
	char err[256] = "";
	for (int pl = 0; pl <= TSM_PRIVLEVEL_MAX; pl++) {
		assert_int_equal(tsm_get_report(f.dir, in, pl, &ev, err, sizeof(err)), 0);
		assert_int_equal(le32(ev.outblob + 0x30), (uint32_t)pl);
		assert_memory_equal(ev.outblob + 0x50, in, 64);
		assert_int_equal(ev.generation, 2); /* privlevel and inblob writes */
		tsm_evidence_done(&ev);
	}
	/* Outside -1..3: refused before anything is created. */
	assert_int_equal(tsm_get_report(f.dir, in, TSM_PRIVLEVEL_MAX + 1, &ev, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "privlevel"));
	assert_empty(&ev);
	assert_int_equal(tsm_get_report(f.dir, in, -2, &ev, err, sizeof(err)), -EINVAL);
	assert_int_equal(entries_left(f.dir), 0);
	assert_int_equal(fx_stop(&f), TSM_PRIVLEVEL_MAX + 1);
}

static void test_tdx(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, "--tdx", NULL);
	uint8_t in[TSM_INBLOB_BYTES];
	fill_inblob(in, 77);
	struct tsm_evidence ev;
	char err[256] = "";
	assert_int_equal(tsm_get_report(f.dir, in, -1, &ev, err, sizeof(err)), 0);
	assert_string_equal(ev.provider, "tdx_guest");
	assert_int_equal(ev.outlen, 48 + 584 + 4);
	assert_memory_equal(ev.outblob + 48 + 520, in, 64);
	assert_null(ev.auxblob); /* no auxblob attribute: not an error */
	assert_int_equal(ev.auxlen, 0);
	tsm_evidence_done(&ev);
	assert_int_equal(entries_left(f.dir), 0);
	fx_stop(&f);
}

static void test_race_retry_succeeds(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, "--race", "1", NULL);
	uint8_t in[TSM_INBLOB_BYTES];
	fill_inblob(in, 1);
	struct tsm_evidence ev;
	char err[256] = "";
	assert_int_equal(tsm_get_report(f.dir, in, -1, &ev, err, sizeof(err)), 0);
	/* Our REPORT_DATA, not the concurrent writer's 0xEE bytes. */
	assert_memory_equal(ev.outblob + 0x50, in, 64);
	tsm_evidence_done(&ev);
	assert_int_equal(entries_left(f.dir), 0);
	assert_int_equal(fx_stop(&f), 2);
}

static void test_race_at_retry_limit(void **state)
{
	(void)state;
	struct fx f;
	char k[16];
	snprintf(k, sizeof(k), "%d", TSM_RETRIES);
	fx_start(&f, "--race-first", k, NULL);
	uint8_t in[TSM_INBLOB_BYTES];
	fill_inblob(in, 2);
	struct tsm_evidence ev;
	char err[256] = "";
	assert_int_equal(tsm_get_report(f.dir, in, -1, &ev, err, sizeof(err)), 0);
	assert_memory_equal(ev.outblob + 0x50, in, 64);
	tsm_evidence_done(&ev);
	assert_int_equal(entries_left(f.dir), 0);
	assert_int_equal(fx_stop(&f), TSM_RETRIES + 1);
}

static void test_race_persistent(void **state)
{
	(void)state;
	struct fx f;
	char k[16];
	snprintf(k, sizeof(k), "%d", TSM_RETRIES + 1);
	fx_start(&f, "--race-first", k, NULL);
	uint8_t in[TSM_INBLOB_BYTES];
	fill_inblob(in, 4);
	struct tsm_evidence ev;
	char err[256] = "";
	assert_int_equal(tsm_get_report(f.dir, in, -1, &ev, err, sizeof(err)), -EAGAIN);
	assert_non_null(strstr(err, "another writer"));
	assert_empty(&ev);
	assert_int_equal(entries_left(f.dir), 0);
	assert_int_equal(fx_stop(&f), TSM_RETRIES + 1);
}

static void test_missing_root(void **state)
{
	(void)state;
	uint8_t in[TSM_INBLOB_BYTES] = { 0 };
	struct tsm_evidence ev;
	char err[256] = "";
	assert_int_equal(tsm_get_report("/nonexistent/tsm/report", in, -1, &ev, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/tsm/report"));
	assert_empty(&ev);
	/* A file, not a directory. */
	char path[] = "/tmp/test_tsm_file.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(tsm_get_report(path, in, -1, &ev, err, sizeof(err)), -ENOTDIR);
	unlink(path);
	/* No buffer for the message is fine. */
	assert_int_equal(tsm_get_report("/nonexistent", in, -1, &ev, NULL, 0), -ENOENT);
	assert_int_equal(tsm_get_report("/nonexistent", NULL, -1, &ev, NULL, 0), -EINVAL);
	assert_int_equal(tsm_get_report("/nonexistent", in, -1, NULL, NULL, 0), -EINVAL);
}

static void test_provider_value(void **state)
{
	(void)state;
	uint8_t in[TSM_INBLOB_BYTES];
	fill_inblob(in, 5);
	struct tsm_evidence ev;
	char err[256] = "";
	/* A provider this code does not know is passed on: the caller decides. */
	struct fx f;
	fx_start(&f, "--provider", "arm_cca_guest", NULL);
	assert_int_equal(tsm_get_report(f.dir, in, -1, &ev, err, sizeof(err)), 0);
	assert_string_equal(ev.provider, "arm_cca_guest");
	tsm_evidence_done(&ev);
	fx_stop(&f);
	/* Text the kernel never writes there: an error naming the attribute. */
	fx_start(&f, "--provider", "Sev Guest!", NULL);
	assert_int_equal(tsm_get_report(f.dir, in, -1, &ev, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "provider"));
	assert_empty(&ev);
	assert_int_equal(entries_left(f.dir), 0);
	fx_stop(&f);
	/* Longest name that fits (31 bytes) and one past it. */
	fx_start(&f, "--provider", "abcdefghijklmnopqrstuvwxyz_0123", NULL);
	assert_int_equal(tsm_get_report(f.dir, in, -1, &ev, err, sizeof(err)), 0);
	assert_string_equal(ev.provider, "abcdefghijklmnopqrstuvwxyz_0123");
	tsm_evidence_done(&ev);
	fx_stop(&f);
	fx_start(&f, "--provider", "abcdefghijklmnopqrstuvwxyz_01234", NULL);
	assert_int_equal(tsm_get_report(f.dir, in, -1, &ev, err, sizeof(err)), -EPROTO);
	assert_int_equal(entries_left(f.dir), 0);
	fx_stop(&f);
	/* An empty provider attribute. */
	fx_start(&f, "--provider", "", NULL);
	assert_int_equal(tsm_get_report(f.dir, in, -1, &ev, err, sizeof(err)), -EPROTO);
	fx_stop(&f);
}

static void test_outblob_limit(void **state)
{
	(void)state;
	uint8_t in[TSM_INBLOB_BYTES];
	fill_inblob(in, 6);
	struct tsm_evidence ev;
	char err[256] = "";
	char n[16];
	struct fx f;
	snprintf(n, sizeof(n), "%u", TSM_OUTBLOB_MAX_BYTES);
	fx_start(&f, "--outblob-bytes", n, NULL);
	assert_int_equal(tsm_get_report(f.dir, in, -1, &ev, err, sizeof(err)), 0);
	assert_int_equal(ev.outlen, TSM_OUTBLOB_MAX_BYTES);
	assert_memory_equal(ev.outblob + 0x50, in, 64);
	tsm_evidence_done(&ev);
	fx_stop(&f);

	snprintf(n, sizeof(n), "%u", TSM_OUTBLOB_MAX_BYTES + 1);
	fx_start(&f, "--outblob-bytes", n, NULL);
	assert_int_equal(tsm_get_report(f.dir, in, -1, &ev, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "outblob"));
	assert_empty(&ev);
	assert_int_equal(entries_left(f.dir), 0);
	fx_stop(&f);

	/* An empty outblob is not evidence. */
	fx_start(&f, "--outblob-bytes", "0", NULL);
	assert_int_equal(tsm_get_report(f.dir, in, -1, &ev, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "empty"));
	assert_int_equal(entries_left(f.dir), 0);
	fx_stop(&f);
}

static void test_not_configfs(void **state)
{
	(void)state;
	/* An ordinary directory nobody answers in: the entry never gets its attributes. */
	char dir[] = "/tmp/test_tsm_plain.XXXXXX";
	assert_non_null(mkdtemp(dir));
	uint8_t in[TSM_INBLOB_BYTES] = { 0 };
	struct tsm_evidence ev;
	char err[256] = "";
	int64_t t0 = util_mono_ms();
	assert_int_equal(tsm_get_report(dir, in, -1, &ev, err, sizeof(err)), -ETIMEDOUT);
	int64_t took = util_mono_ms() - t0;
	assert_true(took >= TSM_SETTLE_TIMEOUT_MS && took < TSM_SETTLE_TIMEOUT_MS + 1500);
	assert_non_null(strstr(err, "configfs-tsm"));
	assert_int_equal(entries_left(dir), 0);
	assert_int_equal(rmdir(dir), 0);

	/* A writer that never completes: the generation does not move. */
	struct fx f;
	fx_start(&f, "--stuck", NULL);
	assert_int_equal(tsm_get_report(f.dir, in, -1, &ev, err, sizeof(err)), -ETIMEDOUT);
	assert_non_null(strstr(err, "generation"));
	assert_empty(&ev);
	assert_int_equal(entries_left(f.dir), 0);
	fx_stop(&f);
}

struct thr {
	const char *dir;
	uint8_t seed;
	int rc;
	bool match;
};

static void *thr_main(void *p)
{
	struct thr *t = p;
	uint8_t in[TSM_INBLOB_BYTES];
	fill_inblob(in, t->seed);
	struct tsm_evidence ev;
	char err[256];
	t->rc = tsm_get_report(t->dir, in, -1, &ev, err, sizeof(err));
	t->match = t->rc == 0 && ev.outlen == 1184 && memcmp(ev.outblob + 0x50, in, 64) == 0;
	tsm_evidence_done(&ev);
	return NULL;
}

static void test_concurrent_callers(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, NULL);
	enum { N = 8 };
	pthread_t th[N];
	struct thr t[N];
	for (int i = 0; i < N; i++) {
		t[i] = (struct thr){ f.dir, (uint8_t)(i * 31 + 1), -1, false };
		assert_int_equal(pthread_create(&th[i], NULL, thr_main, &t[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].rc, 0);
		assert_true(t[i].match);
	}
	assert_int_equal(entries_left(f.dir), 0);
	assert_int_equal(fx_stop(&f), N);
}

int main(void)
{
	const char *h = getenv("TSM_FIXTURE");
#ifdef TSM_FIXTURE_PATH
	if (!h)
		h = TSM_FIXTURE_PATH;
#endif
	if (!h || !realpath(h, fixture)) {
		fprintf(stderr, "test_tsm: set TSM_FIXTURE to the tsm_fixture binary\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_snp),
		cmocka_unit_test(test_privlevel),
		cmocka_unit_test(test_tdx),
		cmocka_unit_test(test_race_retry_succeeds),
		cmocka_unit_test(test_race_at_retry_limit),
		cmocka_unit_test(test_race_persistent),
		cmocka_unit_test(test_missing_root),
		cmocka_unit_test(test_provider_value),
		cmocka_unit_test(test_outblob_limit),
		cmocka_unit_test(test_not_configfs),
		cmocka_unit_test(test_concurrent_callers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
