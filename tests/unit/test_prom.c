/*
 * test_prom.c - the Prometheus registry: counters, gauges, histograms, label escaping, the
 * series cap, and exact exposition text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom.h"

static void test_render(void **state)
{
	(void)state;
	struct prom *p = prom_new();
	const char *l[] = { "route", "code", NULL };
	struct prom_family *c = prom_family(p, PROM_COUNTER, "req_total", "Requests.", l, NULL, 0);
	struct prom_family *g =
		prom_family(p, PROM_GAUGE, "temp", "Temp\nwith \\ newline", NULL, NULL, 0);
	double b[] = { 0.1, 1 };
	const char *hl[] = { "route", NULL };
	struct prom_family *h = prom_family(p, PROM_HISTOGRAM, "lat_seconds", "Latency.", hl, b, 2);
	assert_non_null(c);
	assert_non_null(g);
	assert_non_null(h);
	const char *v1[] = { "/a", "200" }, *v2[] = { "/b\"x\n", "404" };
	prom_inc(c, v1, 1);
	prom_inc(c, v1, 2);
	prom_inc(c, v2, 1);
	prom_set(g, NULL, 21.5);
	const char *hv[] = { "/a" };
	prom_observe(h, hv, 0.05);
	prom_observe(h, hv, 0.5);
	prom_observe(h, hv, 5);
	size_t len;
	char *txt = prom_render(p, &len);
	assert_non_null(txt);
	assert_int_equal(strlen(txt), len);
	const char *want = "# HELP req_total Requests.\n"
			   "# TYPE req_total counter\n"
			   "req_total{route=\"/a\",code=\"200\"} 3\n"
			   "req_total{route=\"/b\\\"x\\n\",code=\"404\"} 1\n"
			   "# HELP temp Temp\\nwith \\\\ newline\n"
			   "# TYPE temp gauge\n"
			   "temp 21.5\n"
			   "# HELP lat_seconds Latency.\n"
			   "# TYPE lat_seconds histogram\n"
			   "lat_seconds_bucket{route=\"/a\",le=\"0.1\"} 1\n"
			   "lat_seconds_bucket{route=\"/a\",le=\"1\"} 2\n"
			   "lat_seconds_bucket{route=\"/a\",le=\"+Inf\"} 3\n"
			   "lat_seconds_sum{route=\"/a\"} 5.5499999999999998\n"
			   "lat_seconds_count{route=\"/a\"} 3\n";
	assert_string_equal(txt, want);
	free(txt);
	prom_clear(c);
	txt = prom_render(p, NULL);
	assert_null(strstr(txt, "req_total{"));
	free(txt);
	prom_free(p);
}

static void test_limits(void **state)
{
	(void)state;
	struct prom *p = prom_new();
	const char *l[] = { "k", NULL };
	assert_null(prom_family(p, PROM_COUNTER, "bad name", "", NULL, NULL, 0));
	assert_null(prom_family(p, PROM_COUNTER, "9bad", "", NULL, NULL, 0));
	const char *bad_l[] = { "__reserved", NULL };
	assert_null(prom_family(p, PROM_COUNTER, "x", "", bad_l, NULL, 0));
	double unsorted[] = { 1, 0.5 };
	assert_null(prom_family(p, PROM_HISTOGRAM, "h", "", NULL, unsorted, 2));
	struct prom_family *c = prom_family(p, PROM_COUNTER, "many_total", "", l, NULL, 0);
	char v[32];
	for (int i = 0; i < PROM_SERIES_MAX + 10; i++) {
		snprintf(v, sizeof(v), "v%d", i);
		const char *vals[] = { v };
		prom_inc(c, vals, 1);
	}
	assert_int_equal(prom_dropped(p), 10); /* at the cap: kept; past it: dropped */
	char *txt = prom_render(p, NULL);
	assert_non_null(strstr(txt, "many_total{k=\"v511\"} 1\n"));
	assert_null(strstr(txt, "many_total{k=\"v512\"}"));
	free(txt);
	prom_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
