/*
 * bench/tdx_verify.c - Intel TDX quote verifications per second with the collateral and the PCK
 * chain cached, the number bench/run sets beside `openssl speed ecdsap256` (verify/s) in the
 * same run (a cached verification is two P-256 ECDSA verifications and a SHA-256).
 *
 * Usage: tdx_verify [QUOTE COLLATERAL_BUNDLE NOW [SECONDS]]
 *   QUOTE              a raw quote file (default: tdx/valid/v4_b0c06f_dcapqvl/quote.dat under
 *                      $TESTDATA, else ../shared/testdata next to the source)
 *   COLLATERAL_BUNDLE  a dcap-qvl collateral_bundle.json (default: the dcapqvl_2025-06_b0c06f
 *                      set's)
 *   NOW                unix seconds inside the collateral's window (default 1752919234,
 *                      2025-07-19T10:00:34Z, where the default case is UpToDate)
 *   SECONDS            how long the cached loop runs (default 5, 1..60)
 *
 * It parses the quote once, loads and checks the collateral once (tdx_collateral_new: JSON,
 * TCB info / QE identity signatures, issuer chains, CRL signatures) and the quote's PCK chain
 * once (tdx_chain_new), then calls tdx_verify_quote - what cloisterd does per evidence once a
 * platform's collateral and chain are cached - in a loop until SECONDS have passed, checking
 * every result (a failed verification aborts the run: a fast wrong answer is no benchmark).
 * For scale it also times the whole thing (collateral + chain + quote, nothing cached) for one
 * second. Single-threaded, like `openssl speed` without -multi.
 * Output: readable lines, then "tdx_cached_verify_per_s <float>" and
 * "tdx_uncached_verify_per_s <float>", one per line, for bench/run to parse.
 */
#include "attest/tdx.h"
#include "fsx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_SECONDS_DEFAULT 5
#define BENCH_SECONDS_MAX 60
#define BENCH_UNCACHED_SECONDS 1
#define BENCH_FILE_MAX_BYTES (256u * 1024)
#define BENCH_NOW_UNIX 1752919234LL /* 2025-07-19T10:00:34Z */
#define BENCH_CLOCK_EVERY 64        /* iterations between clock reads */
#ifndef TDX_BENCH_DEFAULT_TESTDATA  /* meson sets it to <source>/../shared/testdata */
#define TDX_BENCH_DEFAULT_TESTDATA "../shared/testdata"
#endif

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *load(const char *path, size_t *len)
{
	char *buf = NULL;
	int rc = fsx_read_file(path, BENCH_FILE_MAX_BYTES, &buf, len);
	if (rc < 0) {
		fprintf(stderr, "tdx_verify: %s: %s\n", path, strerror(-rc));
		return NULL;
	}
	return buf;
}

int main(int argc, char **argv)
{
	char defq[4096], defc[4096];
	const char *td = getenv("TESTDATA");
	td = td && td[0] ? td : TDX_BENCH_DEFAULT_TESTDATA;
	snprintf(defq, sizeof(defq), "%s/tdx/valid/v4_b0c06f_dcapqvl/quote.dat", td);
	snprintf(defc, sizeof(defc),
		 "%s/tdx/collateral/dcapqvl_2025-06_b0c06f/collateral_bundle.json", td);
	if (argc != 1 && argc != 4 && argc != 5) {
		fprintf(stderr, "usage: tdx_verify [QUOTE COLLATERAL_BUNDLE NOW [SECONDS]]\n");
		return 64;
	}
	const char *qpath = argc > 1 ? argv[1] : defq, *cpath = argc > 1 ? argv[2] : defc;
	long long now = BENCH_NOW_UNIX;
	long seconds = BENCH_SECONDS_DEFAULT;
	char *end = NULL;
	if (argc > 3) {
		now = strtoll(argv[3], &end, 10);
		if (!end || *end || now <= 0) {
			fprintf(stderr, "tdx_verify: NOW must be unix seconds\n");
			return 64;
		}
	}
	if (argc > 4) {
		seconds = strtol(argv[4], &end, 10);
		if (!end || *end || seconds < 1 || seconds > BENCH_SECONDS_MAX) {
			fprintf(stderr, "tdx_verify: SECONDS must be 1..%d\n", BENCH_SECONDS_MAX);
			return 64;
		}
	}

	size_t ql = 0, cl = 0;
	char *qb = load(qpath, &ql), *cb = load(cpath, &cl);
	int ret = 1;
	struct tdx_quote q = { 0 };
	struct tdx_bundle b = { 0 };
	struct tdx_collateral *col = NULL;
	struct tdx_chain *ch = NULL;
	struct tdx_verdict v;
	char err[256] = "";
	if (!qb || !cb)
		goto out;
	if (tdx_quote_parse((const uint8_t *)qb, ql, &q, err, sizeof(err)) < 0) {
		fprintf(stderr, "tdx_verify: %s: %s\n", qpath, err);
		goto out;
	}
	if (tdx_bundle_parse(cb, cl, &b, err, sizeof(err)) < 0) {
		fprintf(stderr, "tdx_verify: %s: %s\n", cpath, err);
		goto out;
	}
	struct tdx_collateral_opts o;
	tdx_bundle_opts(&b, &o);
	double t0 = mono_s();
	col = tdx_collateral_new(&o, &v);
	double t_col = mono_s() - t0;
	t0 = mono_s();
	ch = col ? tdx_chain_new(&q, col, &v) : NULL;
	double t_chain = mono_s() - t0;
	if (!col || !ch || tdx_verify_quote(col, ch, &q, now, &v) != 0) {
		fprintf(stderr, "tdx_verify: the case does not verify: %s: %s\n",
			tdx_reason_name(v.reason), v.detail);
		goto out;
	}

	/* Cached: the quote against the loaded collateral and the verified chain. */
	unsigned long n = 0;
	double start = mono_s(), deadline = start + (double)seconds, tnow = start;
	for (;;) {
		if (tdx_verify_quote(col, ch, &q, now, &v) != 0) {
			fprintf(stderr, "tdx_verify: verification %lu failed: %s\n", n, v.detail);
			goto out;
		}
		n++;
		if (n % BENCH_CLOCK_EVERY == 0 && (tnow = mono_s()) >= deadline)
			break;
	}
	double cached = (double)n / (tnow - start);

	/* Uncached, for scale: collateral, chain and quote every time. */
	unsigned long m = 0;
	start = mono_s();
	deadline = start + BENCH_UNCACHED_SECONDS;
	do {
		struct tdx_collateral *c2 = tdx_collateral_new(&o, &v);
		int rc = c2 ? tdx_verify(&q, c2, now, &v) : -1;
		tdx_collateral_free(c2);
		if (rc != 0) {
			fprintf(stderr, "tdx_verify: uncached verification failed: %s\n", v.detail);
			goto out;
		}
		m++;
	} while ((tnow = mono_s()) < deadline);
	double uncached = (double)m / (tnow - start);

	printf("case: %s (quote v%u, TCB status %s)\n", qpath, q.version,
	       tdx_tcb_status_name(v.tcb_status));
	printf("first tdx_collateral_new: %.3f ms, first tdx_chain_new: %.3f ms\n", t_col * 1e3,
	       t_chain * 1e3);
	printf("tdx_verify_quote, collateral and chain cached: %lu in %.2f s = %.1f "
	       "verifications/s\n",
	       n, (double)n / cached, cached);
	printf("collateral + chain + quote every time:         %lu in %.2f s = %.1f "
	       "verifications/s\n",
	       m, (double)m / uncached, uncached);
	printf("tdx_cached_verify_per_s %.1f\n", cached);
	printf("tdx_uncached_verify_per_s %.1f\n", uncached);
	ret = 0;
out:
	tdx_chain_free(ch);
	tdx_collateral_free(col);
	tdx_bundle_done(&b);
	tdx_quote_done(&q);
	free(qb);
	free(cb);
	return ret;
}
