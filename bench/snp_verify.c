/*
 * bench/snp_verify.c - SEV-SNP report verifications per second with the certificate chain
 * cached, the number bench/run sets beside `openssl speed ecdsap384` (verify/s) in the same run.
 *
 * Usage: snp_verify [CASE_DIR [SECONDS]]
 *   CASE_DIR  a test-data case with report.bin, vcek.der and ask_ark.pem (default: the
 *             milan_virtee case under $TESTDATA, else ../shared/testdata next to the source)
 *   SECONDS   how long the cached loop runs (default 5, 1..60)
 *
 * It parses the report once and builds and verifies the chain once (snp_chain_new: RSA-PSS
 * ASK and ARK signatures, extensions, validity), then calls snp_verify_report - what cloisterd
 * does per evidence once a backend's VCEK chain is cached - in a loop until SECONDS have passed,
 * checking every result (a failed verification aborts the run: a fast wrong answer is no
 * benchmark). For scale it also times chain + report (snp_verify, nothing cached) for one
 * second. The clock for certificate validity is pinned at 2026-11-22 (the test data's "now"),
 * so the run does not depend on the date. Single-threaded, like `openssl speed` without -multi.
 * Output: readable lines, then one line "cached_verify_per_s <float>" for bench/run to parse.
 */
#include "attest/snp.h"
#include "fsx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_SECONDS_DEFAULT 5
#define BENCH_SECONDS_MAX 60
#define BENCH_UNCACHED_SECONDS 1
#define BENCH_FILE_MAX_BYTES (256u * 1024)
#define BENCH_NOW_UNIX 1795305600  /* 2026-11-22T00:00:00Z */
#define BENCH_CLOCK_EVERY 64       /* iterations between clock reads */
#ifndef SNP_BENCH_DEFAULT_TESTDATA /* meson sets it to <source>/../shared/testdata */
#define SNP_BENCH_DEFAULT_TESTDATA "../shared/testdata"
#endif

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *load(const char *dir, const char *name, size_t *len)
{
	char path[4096];
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
		fprintf(stderr, "snp_verify: path too long\n");
		return NULL;
	}
	char *buf = NULL;
	int rc = fsx_read_file(path, BENCH_FILE_MAX_BYTES, &buf, len);
	if (rc < 0) {
		fprintf(stderr, "snp_verify: %s: %s\n", path, strerror(-rc));
		return NULL;
	}
	return buf;
}

int main(int argc, char **argv)
{
	char defdir[4096];
	const char *dir = argc > 1 && argv[1][0] ? argv[1] : NULL;
	if (!dir) {
		const char *td = getenv("TESTDATA");
		snprintf(defdir, sizeof(defdir), "%s/snp/valid/milan_virtee",
			 td && td[0] ? td : SNP_BENCH_DEFAULT_TESTDATA);
		dir = defdir;
	}
	long seconds = BENCH_SECONDS_DEFAULT;
	if (argc > 2) {
		char *end = NULL;
		seconds = strtol(argv[2], &end, 10);
		if (!end || *end || seconds < 1 || seconds > BENCH_SECONDS_MAX) {
			fprintf(stderr, "snp_verify: SECONDS must be 1..%d\n", BENCH_SECONDS_MAX);
			return 64;
		}
	}
	if (argc > 3) {
		fprintf(stderr, "usage: snp_verify [CASE_DIR [SECONDS]]\n");
		return 64;
	}

	size_t rlen = 0, llen = 0, clen = 0;
	char *rep = load(dir, "report.bin", &rlen);
	char *leaf = load(dir, "vcek.der", &llen);
	char *chain = load(dir, "ask_ark.pem", &clen);
	int ret = 1;
	struct snp_chain *c = NULL;
	if (!rep || !leaf || !chain)
		goto out;

	struct snp_report r;
	char err[256] = "";
	if (snp_report_parse((const uint8_t *)rep, rlen, &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "snp_verify: %s/report.bin: %s\n", dir, err);
		goto out;
	}
	struct snp_chain_opts o = {
		.leaf = (const uint8_t *)leaf,
		.leaf_len = llen,
		.chain = (const uint8_t *)chain,
		.chain_len = clen,
		.now = BENCH_NOW_UNIX,
	};
	struct snp_verdict v;
	double t0 = mono_s();
	c = snp_chain_new(&o, &v);
	double t_chain = mono_s() - t0;
	if (!c || v.reason != SNP_OK || snp_verify_report(c, &r, &v) != 0) {
		fprintf(stderr, "snp_verify: the case does not verify: %s: %s\n",
			snp_reason_name(v.reason), v.detail);
		goto out;
	}

	/* Cached: the report against the verified chain. */
	unsigned long n = 0;
	double start = mono_s(), deadline = start + (double)seconds, now = start;
	for (;;) {
		if (snp_verify_report(c, &r, &v) != 0) {
			fprintf(stderr, "snp_verify: verification %lu failed: %s\n", n, v.detail);
			goto out;
		}
		n++;
		if (n % BENCH_CLOCK_EVERY == 0 && (now = mono_s()) >= deadline)
			break;
	}
	double cached = (double)n / (now - start);

	/* Uncached, for scale: the whole chain every time. */
	unsigned long m = 0;
	start = mono_s();
	deadline = start + BENCH_UNCACHED_SECONDS;
	do {
		if (snp_verify(&r, &o, &v) != 0) {
			fprintf(stderr, "snp_verify: uncached verification failed: %s\n", v.detail);
			goto out;
		}
		m++;
	} while ((now = mono_s()) < deadline);
	double uncached = (double)m / (now - start);

	printf("case: %s (report v%u, %s)\n", dir, r.version, "VCEK, chain to the pinned ARK");
	printf("first snp_chain_new: %.3f ms\n", t_chain * 1e3);
	printf("snp_verify_report, chain cached: %lu in %.2f s = %.1f verifications/s\n", n,
	       (double)n / cached, cached);
	printf("snp_verify, chain every time:   %lu in %.2f s = %.1f verifications/s\n", m,
	       (double)m / uncached, uncached);
	printf("cached_verify_per_s %.1f\n", cached);
	printf("uncached_verify_per_s %.1f\n", uncached);
	ret = 0;
out:
	snp_chain_free(c);
	free(rep);
	free(leaf);
	free(chain);
	return ret;
}
