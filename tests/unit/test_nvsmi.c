/*
 * test_nvsmi.c - the nvidia-smi parsers against real outputs from real machines (the shared
 * test data: XML schemas v10..v13, -q text from 1 to 10 GPUs, a damaged -q output), against
 * damage made on purpose (truncation, misaligned keys, bad indentation), against hostile XML
 * (entities of every kind), every limit at and one past it, and the JSON for GET /gpu.
 *
 * The test data directory is $TESTDATA, else $SRCDIR/../shared/testdata.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvsmi.h"
#include "util.h"

/* ---- helpers ---------------------------------------------------------------------------- */

static char *read_testdata(const char *rel, size_t *len)
{
	const char *td = getenv("TESTDATA");
	const char *src = getenv("SRCDIR");
	char path[4096];
	if (td && *td)
		snprintf(path, sizeof(path), "%s/%s", td, rel);
	else if (src && *src)
		snprintf(path, sizeof(path), "%s/../shared/testdata/%s", src, rel);
	else
		fail_msg("set SRCDIR (repository root) or TESTDATA to find %s", rel);
	FILE *f = fopen(path, "rbe");
	if (!f)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	assert_true(n >= 0);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

/* A growable string for building synthetic outputs. */
struct sb {
	char *s;
	size_t n, cap;
};

__attribute__((format(printf, 2, 3))) static void sb_add(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int need = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	assert_true(need >= 0);
	if (b->n + (size_t)need + 1 > b->cap) {
		b->cap = (b->n + (size_t)need + 1) * 2;
		b->s = realloc(b->s, b->cap);
		assert_non_null(b->s);
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
	va_end(ap);
	b->n += (size_t)need;
}

static void sb_pad(struct sb *b, char c, size_t total)
{
	if (total > b->cap) {
		b->cap = total + 1;
		b->s = realloc(b->s, b->cap);
		assert_non_null(b->s);
	}
	memset(b->s + b->n, c, total - b->n);
	b->n = total;
	b->s[b->n] = '\0';
}

/* One "Key : Value" line as nvidia-smi prints it: the ':' in column 43. */
static void kv(struct sb *b, int level, const char *key, const char *value)
{
	sb_add(b, "%*s%-*s : %s\n", level * 4, "", 41 - level * 4, key, value);
}

static void q_header(struct sb *b, int attached)
{
	sb_add(b, "\n==============NVSMI LOG==============\n\n");
	kv(b, 0, "Timestamp", "Thu Nov 14 07:00:14 2024");
	kv(b, 0, "Driver Version", "565.57.01");
	kv(b, 0, "CUDA Version", "12.7");
	sb_add(b, "\n");
	char n[16];
	snprintf(n, sizeof(n), "%d", attached);
	kv(b, 0, "Attached GPUs", n);
}

/* A complete small GPU section with nprocs processes in the 535+ layout. */
static void q_gpu(struct sb *b, int i, int nprocs)
{
	sb_add(b, "GPU 00000000:%02X:00.0\n", i);
	kv(b, 1, "Product Name", "NVIDIA H100 80GB HBM3");
	sb_add(b, "    FB Memory Usage\n");
	kv(b, 2, "Total", "81559 MiB");
	if (nprocs == 0) {
		kv(b, 1, "Processes", "None");
	} else {
		sb_add(b, "    Processes\n");
		for (int p = 0; p < nprocs; p++) {
			char pid[16];
			snprintf(pid, sizeof(pid), "%d", 1000 + p);
			kv(b, 2, "GPU instance ID", "N/A");
			kv(b, 2, "Compute instance ID", "N/A");
			kv(b, 2, "Process ID", pid);
			kv(b, 3, "Type", "C");
			kv(b, 3, "Name", "/usr/bin/python3");
			kv(b, 3, "Used GPU Memory", "100 MiB");
		}
	}
	sb_add(b, "\n");
}

static const char xml_head[] = "<?xml version=\"1.0\" ?>\n"
			       "<!DOCTYPE nvidia_smi_log SYSTEM \"nvsmi_device_v12.dtd\">\n"
			       "<nvidia_smi_log>\n"
			       "<driver_version>550.90.07</driver_version>\n";

static void x_gpu(struct sb *b, int i, int nprocs)
{
	sb_add(b,
	       "<gpu id=\"00000000:%02X:00.0\"><product_name>NVIDIA L4</product_name>"
	       "<processes>\n",
	       i);
	for (int p = 0; p < nprocs; p++)
		sb_add(b,
		       "<process_info><pid>%d</pid><type>C</type><process_name>p</process_name>"
		       "<used_memory>1 MiB</used_memory></process_info>\n",
		       100 + p);
	sb_add(b, "</processes></gpu>\n");
}

static int parse_xml_str(const char *s, struct nvsmi_report *r, char *err, size_t errlen)
{
	return nvsmi_parse_xml(s, strlen(s), r, err, errlen);
}

static int parse_query_str(const char *s, struct nvsmi_report *r, char *err, size_t errlen)
{
	return nvsmi_parse_query(s, strlen(s), r, err, errlen);
}

static void assert_report_empty(const struct nvsmi_report *r)
{
	assert_int_equal(r->ngpus, 0);
	assert_null(r->gpus);
	assert_null(r->driver_version);
	assert_null(r->cuda_version);
	assert_null(r->timestamp);
	assert_int_equal(r->attached_gpus, -1);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("<%s> does not contain <%s>", hay, needle);
}

static void assert_near(double got, double want)
{
	if (!(fabs(got - want) < 1e-9))
		fail_msg("got %f, want %f", got, want);
}

/* ---- XML: real files -------------------------------------------------------------------- */

struct xml_case {
	const char *file;
	size_t ngpus;
	int attached;
	const char *driver, *cuda, *name0;
	int64_t mem_total0, temp0;
	double power0; /* NAN: absent */
};

static const struct xml_case xml_cases[] = {
	{ "a10g_telegraf.xml", 1, 1, "515.105.01", "11.7", "NVIDIA A10G", 23028, 17, 25.58 },
	{ "gtx-1070-ti_telegraf.xml", 1, -1, NULL, NULL, "GeForce GTX 1070 Ti", 4096, 39, NAN },
	{ "quadro-p2000-v12_telegraf.xml", 1, 1, "525.125.06", "12.0", "Quadro P2000", 5120, 34,
	  4.61 },
	{ "rtx-3080-v13_telegraf.xml", 1, 1, "595.58.03", "13.2", "NVIDIA GeForce RTX 3080", 10240,
	  27, 139.62 },
	{ "v100_pcie_x1_460.39_datakit.xml", 1, 1, "460.39", "11.2", "Tesla V100-PCIE-32GB", 32510,
	  66, 170.16 },
	{ "v100s_pcie_x8_460.73.01_datakit.xml", 8, 8, "460.73.01", "11.2", "Tesla V100S-PCIE-32GB",
	  32510, 66, 232.80 },
};

static void assert_opt_str(const char *got, const char *want)
{
	if (want)
		assert_string_equal(got, want);
	else
		assert_null(got);
}

static void test_xml_every_file(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(xml_cases) / sizeof(xml_cases[0]); i++) {
		const struct xml_case *c = &xml_cases[i];
		char rel[256], err[256];
		snprintf(rel, sizeof(rel), "nvidia-smi/xml/%s", c->file);
		size_t len;
		char *buf = read_testdata(rel, &len);
		struct nvsmi_report r;
		int rc = nvsmi_parse_xml(buf, len, &r, err, sizeof(err));
		if (rc != 0)
			fail_msg("%s: rc %d <%s>", c->file, rc, err);
		assert_int_equal(r.ngpus, c->ngpus);
		assert_int_equal(r.attached_gpus, c->attached);
		assert_opt_str(r.driver_version, c->driver);
		assert_opt_str(r.cuda_version, c->cuda);
		assert_string_equal(r.gpus[0].name, c->name0);
		assert_int_equal(r.gpus[0].memory_total_mib, c->mem_total0);
		assert_int_equal(r.gpus[0].temperature_c, c->temp0);
		if (isnan(c->power0))
			assert_true(isnan(r.gpus[0].power_draw_w));
		else
			assert_near(r.gpus[0].power_draw_w, c->power0);
		for (size_t g = 0; g < r.ngpus; g++)
			assert_int_equal(r.gpus[g].index, (int)g);
		nvsmi_report_done(&r);
		free(buf);
	}
}

/* Captured by this project on a real H200 (driver 580.159.04, schema v13) with the device check
 * in docs/device-checks.md: newer than anything in the shared test data. */
static char *read_fixture(const char *rel, size_t *len)
{
	const char *src = getenv("SRCDIR");
	if (!src || !*src)
		fail_msg("set SRCDIR (repository root) to find %s", rel);
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/fixtures/nvidia-smi/%s", src, rel);
	FILE *f = fopen(path, "rbe");
	if (!f)
		fail_msg("cannot open %s", path);
	char *buf = malloc(1 << 20);
	assert_non_null(buf);
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static void test_device_h200(void **state)
{
	(void)state;
	size_t len;
	char err[256];
	char *buf = read_fixture("h200_x1_580.159.04_device.xml", &len);
	struct nvsmi_report r;
	int rc = nvsmi_parse_xml(buf, len, &r, err, sizeof(err));
	if (rc != 0)
		fail_msg("rc %d <%s>", rc, err);
	assert_int_equal(r.ngpus, 1);
	assert_string_equal(r.driver_version, "580.159.04");
	assert_string_equal(r.cuda_version, "13.0");
	assert_string_equal(r.gpus[0].name, "NVIDIA H200");
	assert_int_equal(r.gpus[0].memory_total_mib, 143771);
	assert_int_equal(r.gpus[0].temperature_c, 36);
	assert_near(r.gpus[0].power_draw_w, 77.90);
	assert_int_equal(r.gpus[0].ecc_volatile_uncorrected, 0);
	nvsmi_report_done(&r);
	free(buf);
	buf = read_fixture("h200_x1_580.159.04_device_q.txt", &len);
	rc = nvsmi_parse_query(buf, len, &r, err, sizeof(err));
	if (rc != 0)
		fail_msg("-q: rc %d <%s>", rc, err);
	assert_int_equal(r.ngpus, 1);
	assert_string_equal(r.gpus[0].name, "NVIDIA H200");
	assert_string_equal(r.driver_version, "580.159.04");
	nvsmi_report_done(&r);
	free(buf);
}

static void test_xml_v100s_x8_last_gpu(void **state)
{
	(void)state;
	size_t len;
	char *buf = read_testdata("nvidia-smi/xml/v100s_pcie_x8_460.73.01_datakit.xml", &len);
	struct nvsmi_report r;
	assert_int_equal(nvsmi_parse_xml(buf, len, &r, NULL, 0), 0);
	assert_string_equal(r.timestamp, "Thu Sep 15 13:55:33 2022");
	const struct nvsmi_gpu *g = &r.gpus[7];
	assert_int_equal(g->index, 7);
	assert_string_equal(g->id, "00000000:00:14.0");
	assert_string_equal(g->pci_bus_id, "00000000:00:14.0");
	assert_string_equal(g->serial, "1562920006372");
	assert_int_equal(g->temperature_c, 57);
	assert_int_equal(g->utilization_gpu_pct, 99);
	assert_int_equal(g->memory_total_mib, 32510);
	assert_near(g->power_draw_w, 61.47);
	assert_near(g->power_limit_w, 250.0);
	assert_int_equal(g->clock_graphics_mhz, 1575);
	assert_int_equal(g->ecc_volatile_corrected, 0);
	assert_int_equal(g->ecc_aggregate_uncorrected, 0);
	assert_int_equal(g->fan_speed_pct, -1); /* N/A */
	assert_null(g->mig_mode);               /* N/A */
	assert_int_equal(g->nprocs, 1);
	assert_string_equal(g->procs[0].pid, "37305");
	assert_string_equal(g->procs[0].name, "python");
	assert_string_equal(g->procs[0].type, "C");
	assert_int_equal(g->procs[0].used_memory_mib, 29495);
	nvsmi_report_done(&r);
	free(buf);
}

/* Schema v13: no power_draw, an average and an instant one; SRAM/DRAM ECC all N/A. */
static void test_xml_v13_power_and_ecc(void **state)
{
	(void)state;
	size_t len;
	char *buf = read_testdata("nvidia-smi/xml/rtx-3080-v13_telegraf.xml", &len);
	struct nvsmi_report r;
	assert_int_equal(nvsmi_parse_xml(buf, len, &r, NULL, 0), 0);
	const struct nvsmi_gpu *g = &r.gpus[0];
	assert_near(g->power_draw_w, 139.62); /* average_power_draw, not instant 142.33 */
	assert_near(g->power_limit_w, 320.0); /* current_power_limit */
	assert_int_equal(g->clock_max_graphics_mhz, 2100);
	assert_int_equal(g->utilization_gpu_pct, 65);
	assert_int_equal(g->utilization_memory_pct, 9);
	assert_int_equal(g->ecc_volatile_corrected, -1);
	assert_int_equal(g->ecc_volatile_uncorrected, -1);
	assert_int_equal(g->ecc_aggregate_corrected, -1);
	assert_int_equal(g->ecc_aggregate_uncorrected, -1);
	assert_string_equal(g->vbios_version, "94.02.71.40.72");
	assert_string_equal(g->persistence_mode, "Disabled");
	assert_int_equal(g->nprocs, 0);
	nvsmi_report_done(&r);
	free(buf);
}

static void test_xml_minimal_document(void **state)
{
	(void)state;
	size_t len;
	char *buf = read_testdata("nvidia-smi/xml/gtx-1070-ti_telegraf.xml", &len);
	struct nvsmi_report r;
	assert_int_equal(nvsmi_parse_xml(buf, len, &r, NULL, 0), 0);
	assert_null(r.timestamp);
	assert_null(r.driver_version);
	assert_int_equal(r.attached_gpus, -1);
	const struct nvsmi_gpu *g = &r.gpus[0];
	assert_string_equal(g->id, "00000000:01:00.0");
	assert_null(g->pci_bus_id);
	assert_null(g->serial);
	assert_int_equal(g->fan_speed_pct, 100);
	assert_int_equal(g->memory_used_mib, 42);
	assert_int_equal(g->memory_free_mib, 4054);
	assert_int_equal(g->clock_memory_mhz, 405);
	assert_int_equal(g->clock_max_graphics_mhz, -1);
	assert_true(isnan(g->power_draw_w));
	assert_true(isnan(g->power_limit_w));
	assert_int_equal(g->ecc_volatile_corrected, -1);
	assert_string_equal(g->performance_state, "P8");
	nvsmi_report_done(&r);
	free(buf);
}

/* Every file cut at half is not well-formed: -EINVAL, a line number, an empty report. */
static void test_xml_truncated(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(xml_cases) / sizeof(xml_cases[0]); i++) {
		char rel[256], err[256];
		snprintf(rel, sizeof(rel), "nvidia-smi/xml/%s", xml_cases[i].file);
		size_t len;
		char *buf = read_testdata(rel, &len);
		struct nvsmi_report r;
		assert_int_equal(nvsmi_parse_xml(buf, len / 2, &r, err, sizeof(err)), -EINVAL);
		assert_contains(err, "XML syntax error at line ");
		assert_report_empty(&r);
		nvsmi_report_done(&r);
		free(buf);
	}
	struct nvsmi_report r;
	char err[256];
	assert_int_equal(parse_xml_str("<nvidia_smi_log>\n<gpu id=\"x\">\n<product_name>A</pro", &r,
				       err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "XML syntax error at line 3: unclosed token");
}

static void test_xml_not_nvsmi(void **state)
{
	(void)state;
	struct nvsmi_report r;
	char err[256];
	assert_int_equal(parse_xml_str("<foo><gpu/></foo>", &r, err, sizeof(err)), -EINVAL);
	assert_contains(err, "<foo>");
	assert_report_empty(&r);
	assert_int_equal(nvsmi_parse_xml("", 0, &r, err, sizeof(err)), -EINVAL);
	assert_contains(err, "line 1");
	assert_int_equal(parse_xml_str("NVIDIA-SMI has failed", &r, err, sizeof(err)), -EINVAL);
	assert_int_equal(
		parse_xml_str("<nvidia_smi_log></nvidia_smi_log><x/>", &r, err, sizeof(err)),
		-EINVAL);
	/* a NUL byte inside */
	assert_int_equal(
		nvsmi_parse_xml("<nvidia_smi_log>\0</nvidia_smi_log>", 34, &r, err, sizeof(err)),
		-EINVAL);
	/* a long non-ASCII root name is cut at a character boundary: err stays UTF-8 */
	struct sb b = { 0 };
	sb_add(&b, "<");
	for (int i = 0; i < 40; i++)
		sb_add(&b, "\xc3\xa9");
	sb_add(&b, "/>");
	assert_int_equal(parse_xml_str(b.s, &r, err, sizeof(err)), -EINVAL);
	assert_true(util_utf8_valid(err, strlen(err)));
	assert_contains(err, "\xc3\xa9> is not <nvidia_smi_log>");
	free(b.s);
	/* err may be NULL */
	assert_int_equal(parse_xml_str("<a", &r, NULL, 0), -EINVAL);
	nvsmi_report_done(&r);
}

/* No entity is ever declared, fetched or expanded: each of these is refused outright. */
static void test_xml_entities_refused(void **state)
{
	(void)state;
	static const char *const docs[] = {
		/* billion laughs */
		("<?xml version=\"1.0\"?>\n<!DOCTYPE nvidia_smi_log [\n"
		 " <!ENTITY lol \"lol\">\n"
		 " <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
		 " <!ENTITY lol3 "
		 "\"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
		 " <!ENTITY lol4 "
		 "\"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
		 "]>\n<nvidia_smi_log><timestamp>&lol4;</timestamp></nvidia_smi_log>\n"),
		/* external entity */
		("<?xml version=\"1.0\"?>\n<!DOCTYPE nvidia_smi_log [\n"
		 " <!ENTITY xxe SYSTEM \"file:///etc/passwd\">\n]>\n"
		 "<nvidia_smi_log><gpu id=\"1\"><product_name>&xxe;</product_name></gpu>"
		 "</nvidia_smi_log>\n"),
		/* parameter entity pulling an external DTD */
		("<?xml version=\"1.0\"?>\n<!DOCTYPE nvidia_smi_log [\n"
		 " <!ENTITY % ext SYSTEM \"http://127.0.0.1:1/evil.dtd\">\n %ext;\n]>\n"
		 "<nvidia_smi_log/>\n"),
		/* reference to an entity declared nowhere we read */
		("<?xml version=\"1.0\"?>\n<!DOCTYPE nvidia_smi_log SYSTEM "
		 "\"nvsmi_device_v11.dtd\">\n"
		 "<nvidia_smi_log><timestamp>&undeclared;</timestamp></nvidia_smi_log>\n"),
	};
	static const char *const why[] = { "entity declaration 'lol'", "entity declaration 'xxe'",
					   "entity declaration 'ext'", "undeclared" };
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct nvsmi_report r;
		char err[256];
		assert_int_equal(parse_xml_str(docs[i], &r, err, sizeof(err)), -EINVAL);
		assert_contains(err, why[i]);
		assert_contains(err, "line ");
		assert_report_empty(&r);
	}
	/* predefined entities and character references are plain text */
	struct nvsmi_report r;
	assert_int_equal(
		parse_xml_str("<nvidia_smi_log><gpu id=\"g\"><product_name>A&amp;B&lt;&#67;"
			      "</product_name></gpu></nvidia_smi_log>",
			      &r, NULL, 0),
		0);
	assert_string_equal(r.gpus[0].name, "A&B<C");
	nvsmi_report_done(&r);
}

static char *nested_xml(int depth)
{
	struct sb b = { 0 };
	sb_add(&b, "<nvidia_smi_log><gpu id=\"g\">");
	for (int i = 2; i < depth; i++)
		sb_add(&b, "<e%d>", i);
	for (int i = depth - 1; i >= 2; i--)
		sb_add(&b, "</e%d>", i);
	sb_add(&b, "</gpu></nvidia_smi_log>");
	return b.s;
}

static void test_xml_depth_limit(void **state)
{
	(void)state;
	struct nvsmi_report r;
	char err[256];
	char *s = nested_xml(NVSMI_MAX_DEPTH);
	assert_int_equal(parse_xml_str(s, &r, err, sizeof(err)), 0);
	assert_int_equal(r.ngpus, 1);
	nvsmi_report_done(&r);
	free(s);
	s = nested_xml(NVSMI_MAX_DEPTH + 1);
	assert_int_equal(parse_xml_str(s, &r, err, sizeof(err)), -E2BIG);
	assert_contains(err, "deeper than 32");
	assert_report_empty(&r);
	free(s);
}

static void test_xml_text_limit(void **state)
{
	(void)state;
	for (int extra = 0; extra <= 1; extra++) {
		struct sb b = { 0 };
		sb_add(&b, "<nvidia_smi_log><gpu id=\"g\"><product_name>");
		sb_pad(&b, 'N', b.n + NVSMI_MAX_TEXT_BYTES + (size_t)extra);
		sb_add(&b, "</product_name></gpu></nvidia_smi_log>");
		struct nvsmi_report r;
		char err[256];
		int rc = parse_xml_str(b.s, &r, err, sizeof(err));
		if (extra == 0) {
			assert_int_equal(rc, 0);
			assert_int_equal(strlen(r.gpus[0].name), NVSMI_MAX_TEXT_BYTES);
		} else {
			assert_int_equal(rc, -E2BIG);
			assert_contains(err, "1024 bytes");
			assert_report_empty(&r);
		}
		nvsmi_report_done(&r);
		free(b.s);
	}
	/* the cap also holds for elements we do not read */
	struct sb b = { 0 };
	sb_add(&b, "<nvidia_smi_log><gpu id=\"g\"><unknown>");
	sb_pad(&b, 'x', b.n + NVSMI_MAX_TEXT_BYTES + 1);
	sb_add(&b, "</unknown></gpu></nvidia_smi_log>");
	struct nvsmi_report r;
	assert_int_equal(parse_xml_str(b.s, &r, NULL, 0), -E2BIG);
	free(b.s);
}

static void test_xml_gpu_and_process_limits(void **state)
{
	(void)state;
	for (int n = NVSMI_MAX_GPUS; n <= NVSMI_MAX_GPUS + 1; n++) {
		struct sb b = { 0 };
		sb_add(&b, "%s", xml_head);
		for (int i = 0; i < n; i++)
			x_gpu(&b, i, 0);
		sb_add(&b, "</nvidia_smi_log>\n");
		struct nvsmi_report r;
		char err[256];
		int rc = parse_xml_str(b.s, &r, err, sizeof(err));
		if (n == NVSMI_MAX_GPUS) {
			assert_int_equal(rc, 0);
			assert_int_equal(r.ngpus, NVSMI_MAX_GPUS);
			assert_string_equal(r.gpus[63].id, "00000000:3F:00.0");
		} else {
			assert_int_equal(rc, -E2BIG);
			assert_contains(err, "more than 64 GPUs");
			assert_report_empty(&r);
		}
		nvsmi_report_done(&r);
		free(b.s);
	}
	for (int n = NVSMI_MAX_PROCESSES; n <= NVSMI_MAX_PROCESSES + 1; n++) {
		struct sb b = { 0 };
		sb_add(&b, "%s", xml_head);
		x_gpu(&b, 0, n);
		sb_add(&b, "</nvidia_smi_log>\n");
		struct nvsmi_report r;
		char err[256];
		int rc = parse_xml_str(b.s, &r, err, sizeof(err));
		if (n == NVSMI_MAX_PROCESSES) {
			assert_int_equal(rc, 0);
			assert_int_equal(r.gpus[0].nprocs, NVSMI_MAX_PROCESSES);
			assert_string_equal(r.gpus[0].procs[255].pid, "355");
			assert_int_equal(r.gpus[0].procs[255].used_memory_mib, 1);
		} else {
			assert_int_equal(rc, -E2BIG);
			assert_contains(err, "more than 256 processes");
			assert_report_empty(&r);
		}
		nvsmi_report_done(&r);
		free(b.s);
	}
}

static void test_xml_input_limit(void **state)
{
	(void)state;
	struct sb b = { 0 };
	sb_add(&b, "%s", xml_head);
	x_gpu(&b, 0, 1);
	sb_add(&b, "</nvidia_smi_log>\n");
	sb_pad(&b, ' ', NVSMI_MAX_INPUT_BYTES + 1);
	struct nvsmi_report r;
	char err[256];
	assert_int_equal(nvsmi_parse_xml(b.s, NVSMI_MAX_INPUT_BYTES, &r, err, sizeof(err)), 0);
	assert_int_equal(r.ngpus, 1);
	nvsmi_report_done(&r);
	assert_int_equal(nvsmi_parse_xml(b.s, NVSMI_MAX_INPUT_BYTES + 1, &r, err, sizeof(err)),
			 -E2BIG);
	assert_contains(err, "8388609 bytes");
	assert_report_empty(&r);
	free(b.s);
}

/* ---- text (-q): real files ----------------------------------------------------------- */

struct query_case {
	const char *file;
	size_t ngpus;
	const char *driver, *cuda, *name0, *uuid0;
	int64_t mem_total0, temp0;
	double power0, limit0;
};

static const struct query_case query_cases[] = {
	{ "a100sxm4_x4_555.42.02_gls.txt", 4, "555.42.02", "12.5", "NVIDIA A100-SXM4-80GB",
	  "GPU-31515c3d-1414-7c2c-004a-f86a898946ac", 81920, 25, 59.77, 500 },
	{ "a10_535.129.03_gpud.txt", 1, "535.129.03", "12.2", "NVIDIA A10",
	  "GPU-73d12ef7-f589-f867-4259-c7090ab44736", 23028, 33, 43.89, 150 },
	{ "a40_x10_550.127.05_gls.txt", 10, "550.127.05", "12.4", "NVIDIA A40",
	  "GPU-4e65de01-972e-93cf-b077-181a5378972a", 46068, 29, 29.70, 300 },
	{ "h100sxm_x8_565.57.01_gls.txt", 8, "565.57.01", "12.7", "NVIDIA H100 80GB HBM3",
	  "GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1", 81559, 30, 100.89, 700 },
	{ "h100x8_535.161.08_gpud.txt", 8, "535.161.08", "12.2", "NVIDIA H100 80GB HBM3",
	  "GPU-ee7954ec-da95-fd7a-ddfd-c6b32cc2f8aa", 81559, 29, 67.74, 700 },
	{ "h200_x1_550.90.12_gls.txt", 1, "550.90.12", "12.4", "NVIDIA H200",
	  "GPU-cb3dfa52-e2f3-9ca4-a399-7d16041c3732", 143771, 28, 74.58, 700 },
	{ "l40s_x1_550.127.05_gls.txt", 1, "550.127.05", "12.4", "NVIDIA L40S",
	  "GPU-1db6b1cf-de5e-b497-caca-1a027578d587", 46068, 30, 33.44, 350 },
	{ "l4_x1_550.90.07_gls.txt", 1, "550.90.07", "12.4", "NVIDIA L4",
	  "GPU-453f8851-d1a3-e72d-4d85-3ef04418205b", 23034, 33, 16.47, 72 },
	{ "rtx4090x8_535.154.05_gpud.txt", 8, "535.154.05", "12.2", "NVIDIA GeForce RTX 4090",
	  "GPU-988008fc-0059-17f4-9001-0ab4143e0e63", 24564, 31, 17.11, 450 },
};

static void test_query_every_file(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(query_cases) / sizeof(query_cases[0]); i++) {
		const struct query_case *c = &query_cases[i];
		char rel[256], err[600];
		snprintf(rel, sizeof(rel), "nvidia-smi/query/%s", c->file);
		size_t len;
		char *buf = read_testdata(rel, &len);
		struct nvsmi_report r;
		int rc = nvsmi_parse_query(buf, len, &r, err, sizeof(err));
		if (rc != 0)
			fail_msg("%s: rc %d <%s>", c->file, rc, err);
		assert_string_equal(err, "");
		assert_int_equal(r.ngpus, c->ngpus);
		assert_int_equal(r.attached_gpus, (int)c->ngpus);
		assert_string_equal(r.driver_version, c->driver);
		assert_string_equal(r.cuda_version, c->cuda);
		assert_non_null(r.timestamp);
		const struct nvsmi_gpu *g = &r.gpus[0];
		assert_string_equal(g->name, c->name0);
		assert_string_equal(g->uuid, c->uuid0);
		assert_int_equal(g->memory_total_mib, c->mem_total0);
		assert_int_equal(g->temperature_c, c->temp0);
		assert_near(g->power_draw_w, c->power0);
		assert_near(g->power_limit_w, c->limit0);
		for (size_t k = 0; k < r.ngpus; k++) {
			assert_int_equal(r.gpus[k].index, (int)k);
			assert_string_equal(r.gpus[k].id, r.gpus[k].pci_bus_id);
			assert_string_equal(r.gpus[k].name, c->name0);
		}
		nvsmi_report_done(&r);
		free(buf);
	}
}

static void test_query_h100sxm_spot(void **state)
{
	(void)state;
	size_t len;
	char *buf = read_testdata("nvidia-smi/query/h100sxm_x8_565.57.01_gls.txt", &len);
	struct nvsmi_report r;
	assert_int_equal(nvsmi_parse_query(buf, len, &r, NULL, 0), 0);
	assert_string_equal(r.timestamp, "Thu Nov 14 07:00:14 2024");
	const struct nvsmi_gpu *g = &r.gpus[0];
	assert_string_equal(g->id, "00000000:18:00.0");
	assert_string_equal(g->serial, "1654423001593");
	assert_string_equal(g->vbios_version, "96.00.74.00.01");
	assert_string_equal(g->persistence_mode, "Enabled");
	assert_string_equal(g->performance_state, "P0");
	assert_string_equal(g->compute_mode, "Default");
	assert_string_equal(g->mig_mode, "Disabled");
	assert_int_equal(g->fan_speed_pct, -1);
	assert_int_equal(g->memory_used_mib, 1);
	assert_int_equal(g->memory_free_mib, 81106);
	assert_int_equal(g->utilization_gpu_pct, 0);
	assert_int_equal(g->clock_graphics_mhz, 345);
	assert_int_equal(g->clock_sm_mhz, 345);
	assert_int_equal(g->clock_memory_mhz, 2619);
	assert_int_equal(g->clock_max_graphics_mhz, 1980);
	assert_int_equal(g->ecc_volatile_corrected, 0);
	assert_int_equal(g->ecc_volatile_uncorrected, 0);
	assert_int_equal(g->ecc_aggregate_corrected, 0);
	assert_int_equal(g->ecc_aggregate_uncorrected, 0);
	assert_int_equal(g->nprocs, 0);
	assert_string_equal(r.gpus[7].id, "00000000:DB:00.0");
	assert_near(r.gpus[7].power_draw_w, 75.09);
	nvsmi_report_done(&r);
	free(buf);
}

static void test_query_processes(void **state)
{
	(void)state;
	size_t len;
	char *buf = read_testdata("nvidia-smi/query/rtx4090x8_535.154.05_gpud.txt", &len);
	struct nvsmi_report r;
	assert_int_equal(nvsmi_parse_query(buf, len, &r, NULL, 0), 0);
	for (size_t i = 0; i < r.ngpus; i++)
		assert_int_equal(r.gpus[i].nprocs, 1);
	const struct nvsmi_process *p = &r.gpus[0].procs[0];
	assert_string_equal(p->pid, "2010222");
	assert_string_equal(p->type, "C");
	assert_string_equal(p->name, "/usr/bin/python");
	assert_int_equal(p->used_memory_mib, 6724);
	assert_string_equal(r.gpus[1].procs[0].name, "/opt/conda/bin/python");
	assert_int_equal(r.gpus[1].procs[0].used_memory_mib, 21952);
	assert_null(r.gpus[0].serial); /* "N/A" */
	assert_int_equal(r.gpus[0].fan_speed_pct, 72);
	assert_int_equal(r.gpus[0].ecc_volatile_corrected, -1);
	nvsmi_report_done(&r);
	free(buf);
}

/* The damaged gpud output: -EPROTO naming the corrupted keys and the cut, header recovered. */
static void test_query_invalid_file(void **state)
{
	(void)state;
	size_t len;
	char *buf = read_testdata(
		"nvidia-smi/query_invalid/h100x8_535.183.01_truncated_corrupt_gpud.txt", &len);
	struct nvsmi_report r;
	char err[1024];
	assert_int_equal(nvsmi_parse_query(buf, len, &r, err, sizeof(err)), -EPROTO);
	assert_contains(err, "line 86: key 'Invalid HW Slowdown' is misaligned");
	assert_contains(err, "cut off");
	assert_string_equal(r.cuda_version, "12.2");
	assert_string_equal(r.driver_version, "535.183.01");
	assert_string_equal(r.timestamp, "Fri Jun 21 02:03:08 2024");
	assert_int_equal(r.attached_gpus, 8);
	assert_int_equal(r.ngpus, 1);
	assert_string_equal(r.gpus[0].name, "NVIDIA H100 80GB HBM3");
	assert_string_equal(r.gpus[0].pci_bus_id, "00000000:53:00.0");
	assert_string_equal(r.gpus[0].performance_state, "P0");
	assert_int_equal(r.gpus[0].memory_total_mib, -1); /* cut before FB Memory Usage */
	nvsmi_report_done(&r);
	free(buf);
}

/* Every multi-line file cut at half reads as damaged, keeping its header and first GPU. */
static void test_query_truncated(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(query_cases) / sizeof(query_cases[0]); i++) {
		const struct query_case *c = &query_cases[i];
		char rel[256], err[1024];
		snprintf(rel, sizeof(rel), "nvidia-smi/query/%s", c->file);
		size_t len;
		char *buf = read_testdata(rel, &len);
		struct nvsmi_report r;
		int rc = nvsmi_parse_query(buf, len / 2, &r, err, sizeof(err));
		if (rc != -EPROTO)
			fail_msg("%s: rc %d", c->file, rc);
		assert_contains(err, "cut off");
		assert_string_equal(r.driver_version, c->driver);
		assert_string_equal(r.cuda_version, c->cuda);
		assert_true(r.ngpus >= 1 && r.ngpus <= c->ngpus);
		assert_string_equal(r.gpus[0].name, c->name0);
		nvsmi_report_done(&r);
		free(buf);
	}
	/* cut exactly between two GPU sections: the count gives it away */
	struct sb b = { 0 };
	q_header(&b, 2);
	q_gpu(&b, 0, 0);
	struct nvsmi_report r;
	char err[512];
	assert_int_equal(parse_query_str(b.s, &r, err, sizeof(err)), -EPROTO);
	assert_contains(err, "1 GPU sections but \"Attached GPUs\" is 2: output cut off");
	assert_int_equal(r.ngpus, 1);
	nvsmi_report_done(&r);
	free(b.s);
}

/* Synthetic damage, one rule each: -EPROTO, the line, and the rest still parsed. */
static void test_query_damage_rules(void **state)
{
	(void)state;
	static const struct {
		const char *bad_line, *msg;
	} cases[] = {
		{ "    Fan Speed                                 : 10 %\n", "misaligned" },
		{ "   Fan Speed                              : 10 %\n", "not a multiple of 4" },
		{ "            Fan Speed                     : 10 %\n", "jumps from level 1 to 3" },
		{ "    Fan\tSpeed                             : 10 %\n", "control character 0x09" },
		{ "    Fan Sp\xc3\xa9"
		  "ed                            : 10 %\n",
		  "non-ASCII" },
		{ "Bogus top level\n    Child                             : 1\n",
		  "unexpected top-level line 'Bogus top level'" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sb b = { 0 };
		q_header(&b, 2);
		sb_add(&b, "GPU 00000000:01:00.0\n");
		kv(&b, 1, "Product Name", "NVIDIA L4");
		sb_add(&b, "%s", cases[i].bad_line);
		kv(&b, 1, "Processes", "None");
		sb_add(&b, "\n");
		q_gpu(&b, 2, 0);
		struct nvsmi_report r;
		char err[1024];
		assert_int_equal(parse_query_str(b.s, &r, err, sizeof(err)), -EPROTO);
		assert_contains(err, "line 11: ");
		assert_contains(err, cases[i].msg);
		assert_string_equal(r.driver_version, "565.57.01");
		assert_string_equal(r.gpus[0].name, "NVIDIA L4");
		assert_string_equal(r.gpus[r.ngpus - 1].id, "00000000:02:00.0");
		assert_int_equal(r.gpus[r.ngpus - 1].memory_total_mib, 81559);
		nvsmi_report_done(&r);
		free(b.s);
	}

	/* no banner: cut at the start */
	struct sb b = { 0 };
	kv(&b, 0, "Driver Version", "550.90.07");
	kv(&b, 0, "Attached GPUs", "1");
	q_gpu(&b, 0, 0);
	struct nvsmi_report r;
	char err[512];
	assert_int_equal(parse_query_str(b.s, &r, err, sizeof(err)), -EPROTO);
	assert_contains(err, "no NVSMI LOG banner");
	assert_string_equal(r.driver_version, "550.90.07");
	nvsmi_report_done(&r);
	free(b.s);

	/* more sections than attached; a malformed bus id; an indented line before any GPU */
	b = (struct sb){ 0 };
	q_header(&b, 1);
	sb_add(&b, "    Orphan                                : 1\n");
	q_gpu(&b, 0, 0);
	sb_add(&b, "GPU zz:yy\n");
	kv(&b, 1, "Processes", "None");
	assert_int_equal(parse_query_str(b.s, &r, err, sizeof(err)), -EPROTO);
	assert_contains(err, "(3 problems)");
	assert_contains(err, "line 9: indented line outside a GPU section");
	assert_contains(err, "malformed bus id");
	assert_contains(err, "2 GPU sections but \"Attached GPUs\" is 1");
	assert_int_equal(r.ngpus, 2);
	nvsmi_report_done(&r);
	free(b.s);

	/* neither a malformed bus id nor a non-ASCII key is quoted back: err stays ASCII */
	b = (struct sb){ 0 };
	q_header(&b, 1);
	sb_add(&b, "GPU zz:yy\n");
	kv(&b, 1, "Product Name", "x");
	sb_add(&b, "GPU caf\xe9\n");
	assert_int_equal(parse_query_str(b.s, &r, err, sizeof(err)), -EPROTO);
	assert_contains(err, "line 9: GPU section header with a malformed bus id");
	assert_contains(err, "line 11: GPU ? (line 9) ends before");
	assert_contains(err, "key with a non-ASCII byte");
	assert_true(util_utf8_valid(err, strlen(err)));
	assert_string_equal(r.gpus[0].name, "x");
	nvsmi_report_done(&r);
	free(b.s);

	/* more than three problems: the first two, the last and the count */
	b = (struct sb){ 0 };
	q_header(&b, 1);
	sb_add(&b, "GPU 00000000:01:00.0\n");
	for (int i = 0; i < 5; i++)
		sb_add(&b, "  x%d\n", i);
	assert_int_equal(parse_query_str(b.s, &r, err, sizeof(err)), -EPROTO);
	assert_contains(err, "(6 problems): line 10: ");
	assert_contains(err, "; line 11: ");
	assert_contains(err, "...; line 14: GPU 00000000:01:00.0 (line 9) ends before");
	nvsmi_report_done(&r);
	free(b.s);
}

static void test_query_not_nvsmi(void **state)
{
	(void)state;
	struct nvsmi_report r;
	char err[256];
	assert_int_equal(nvsmi_parse_query("", 0, &r, err, sizeof(err)), -EINVAL);
	assert_contains(err, "not nvidia-smi -q output");
	assert_report_empty(&r);
	assert_int_equal(parse_query_str("NVIDIA-SMI has failed because it couldn't communicate "
					 "with the NVIDIA driver.\n",
					 &r, err, sizeof(err)),
			 -EINVAL);
	assert_report_empty(&r);
	assert_int_equal(parse_query_str("\n\n   \n", &r, NULL, 0), -EINVAL);
	nvsmi_report_done(&r);
}

/* Older layouts: "Power Readings" with "Power Limit", single/double-bit ECC totals, processes
 * without instance ids; and the fallbacks to enforced limit and instant draw. */
static void test_query_old_layouts(void **state)
{
	(void)state;
	struct sb b = { 0 };
	q_header(&b, 2);
	sb_add(&b, "GPU 00000000:04:00.0\n");
	kv(&b, 1, "Product Name", "Tesla V100-SXM2-16GB");
	sb_add(&b, "    ECC Errors\n        Volatile\n            Single Bit\n");
	kv(&b, 4, "Device Memory", "3");
	kv(&b, 4, "Total", "5");
	sb_add(&b, "            Double Bit\n");
	kv(&b, 4, "Total", "1");
	sb_add(&b, "        Aggregate\n            Single Bit\n");
	kv(&b, 4, "Total", "N/A");
	sb_add(&b, "            Double Bit\n");
	kv(&b, 4, "Total", "7");
	sb_add(&b, "    Temperature\n");
	kv(&b, 2, "GPU Current Temp", "-3 C");
	sb_add(&b, "    Power Readings\n");
	kv(&b, 2, "Power Draw", "[Not Supported]");
	kv(&b, 2, "Instant Power Draw", "41.5 W");
	kv(&b, 2, "Power Limit", "N/A");
	kv(&b, 2, "Enforced Power Limit", "300.00 W");
	sb_add(&b, "    Processes\n");
	kv(&b, 2, "Process ID", "11");
	kv(&b, 3, "Type", "G");
	kv(&b, 3, "Name", "/usr/lib/xorg/Xorg");
	kv(&b, 3, "Used GPU Memory", "[N/A]");
	kv(&b, 2, "Process ID", "12");
	kv(&b, 3, "Type", "C+G");
	kv(&b, 3, "Name", "caf\xe9"); /* Latin-1 bytes from a process name */
	kv(&b, 3, "Used GPU Memory", "12 MiB");
	sb_add(&b, "\n");
	/* A40-style SRAM/DRAM with the parity/SEC-DED split, plus bogus units */
	sb_add(&b, "GPU 00000000:05:00.0\n");
	sb_add(&b, "    ECC Errors\n        Volatile\n");
	kv(&b, 3, "SRAM Correctable", "2");
	kv(&b, 3, "SRAM Uncorrectable Parity", "1");
	kv(&b, 3, "SRAM Uncorrectable SEC-DED", "4");
	kv(&b, 3, "DRAM Correctable", "10");
	kv(&b, 3, "DRAM Uncorrectable", "N/A");
	sb_add(&b, "    FB Memory Usage\n");
	kv(&b, 2, "Total", "100 GiB");
	kv(&b, 2, "Used", "-5 MiB");
	kv(&b, 2, "Free", "12MiB");
	sb_add(&b, "    Clocks\n");
	kv(&b, 2, "Graphics", "99999999999999999999 MHz");
	kv(&b, 1, "Processes", "None");

	struct nvsmi_report r;
	char err[512];
	int rc = parse_query_str(b.s, &r, err, sizeof(err));
	if (rc != 0)
		fail_msg("rc %d <%s>", rc, err);
	const struct nvsmi_gpu *g = &r.gpus[0];
	assert_int_equal(g->ecc_volatile_corrected, 5);
	assert_int_equal(g->ecc_volatile_uncorrected, 1);
	assert_int_equal(g->ecc_aggregate_corrected, -1);
	assert_int_equal(g->ecc_aggregate_uncorrected, 7);
	assert_int_equal(g->temperature_c, -3);
	assert_near(g->power_draw_w, 41.5);
	assert_near(g->power_limit_w, 300.0);
	assert_int_equal(g->nprocs, 2);
	assert_string_equal(g->procs[0].pid, "11");
	assert_string_equal(g->procs[0].type, "G");
	assert_int_equal(g->procs[0].used_memory_mib, -1);
	assert_string_equal(g->procs[1].pid, "12");
	assert_string_equal(g->procs[1].type, "C+G");
	assert_int_equal(g->procs[1].used_memory_mib, 12);
	g = &r.gpus[1];
	assert_int_equal(g->ecc_volatile_corrected, 12);
	assert_int_equal(g->ecc_volatile_uncorrected, 5);
	assert_int_equal(g->ecc_aggregate_corrected, -1);
	assert_int_equal(g->memory_total_mib, -1);
	assert_int_equal(g->memory_used_mib, -1);
	assert_int_equal(g->memory_free_mib, -1);
	assert_int_equal(g->clock_graphics_mhz, -1);
	assert_null(g->name);

	json_t *j = nvsmi_report_json(&r);
	assert_non_null(j);
	json_t *p1 = json_array_get(
		json_object_get(json_array_get(json_object_get(j, "gpus"), 0), "processes"), 1);
	assert_string_equal(json_string_value(json_object_get(p1, "name")), "caf\xef\xbf\xbd");
	assert_int_equal(json_integer_value(json_object_get(p1, "pid")), 12);
	json_t *g0 = json_array_get(json_object_get(j, "gpus"), 0);
	assert_int_equal(json_integer_value(json_object_get(g0, "temperature_c")), -3);
	json_decref(j);
	nvsmi_report_done(&r);
	free(b.s);
}

static void test_query_limits(void **state)
{
	(void)state;
	char err[512];
	struct nvsmi_report r;
	/* GPUs */
	for (int n = NVSMI_MAX_GPUS; n <= NVSMI_MAX_GPUS + 1; n++) {
		struct sb b = { 0 };
		q_header(&b, n);
		for (int i = 0; i < n; i++)
			q_gpu(&b, i, 0);
		int rc = parse_query_str(b.s, &r, err, sizeof(err));
		if (n == NVSMI_MAX_GPUS) {
			assert_int_equal(rc, 0);
			assert_int_equal(r.ngpus, NVSMI_MAX_GPUS);
		} else {
			assert_int_equal(rc, -E2BIG);
			assert_contains(err, "more than 64 GPUs");
			assert_report_empty(&r);
		}
		nvsmi_report_done(&r);
		free(b.s);
	}
	/* processes */
	for (int n = NVSMI_MAX_PROCESSES; n <= NVSMI_MAX_PROCESSES + 1; n++) {
		struct sb b = { 0 };
		q_header(&b, 1);
		q_gpu(&b, 0, n);
		int rc = parse_query_str(b.s, &r, err, sizeof(err));
		if (n == NVSMI_MAX_PROCESSES) {
			assert_int_equal(rc, 0);
			assert_int_equal(r.gpus[0].nprocs, NVSMI_MAX_PROCESSES);
			assert_string_equal(r.gpus[0].procs[255].pid, "1255");
		} else {
			assert_int_equal(rc, -E2BIG);
			assert_contains(err, "more than 256 processes");
			assert_report_empty(&r);
		}
		nvsmi_report_done(&r);
		free(b.s);
	}
	/* line length */
	for (size_t extra = 0; extra <= 1; extra++) {
		struct sb b = { 0 };
		q_header(&b, 1);
		sb_add(&b, "GPU 00000000:01:00.0\n");
		size_t start = b.n;
		sb_add(&b, "    Product Name                          : ");
		sb_pad(&b, 'n', start + NVSMI_MAX_LINE_BYTES + extra);
		sb_add(&b, "\n");
		kv(&b, 1, "Processes", "None");
		int rc = parse_query_str(b.s, &r, err, sizeof(err));
		if (extra == 0) {
			assert_int_equal(rc, 0);
			assert_int_equal(strlen(r.gpus[0].name), NVSMI_MAX_LINE_BYTES - 44);
		} else {
			assert_int_equal(rc, -E2BIG);
			assert_contains(err, "line 10 is longer than 2048 bytes");
			assert_report_empty(&r);
		}
		nvsmi_report_done(&r);
		free(b.s);
	}
	/* indentation depth: levels 1..31 are read, level 32 is past the limit */
	for (int extra = 0; extra <= 1; extra++) {
		struct sb b = { 0 };
		q_header(&b, 1);
		sb_add(&b, "GPU 00000000:01:00.0\n");
		for (int lv = 1; lv < NVSMI_MAX_DEPTH + extra; lv++)
			sb_add(&b, "%*sK%d\n", lv * 4, "", lv);
		kv(&b, 1, "Processes", "None");
		int rc = parse_query_str(b.s, &r, err, sizeof(err));
		if (extra == 0) {
			assert_int_equal(rc, 0);
		} else {
			assert_int_equal(rc, -E2BIG);
			assert_contains(err, "deeper than 31 levels");
		}
		nvsmi_report_done(&r);
		free(b.s);
	}
	/* whole input */
	struct sb b = { 0 };
	q_header(&b, 1);
	q_gpu(&b, 0, 1);
	sb_pad(&b, '\n', NVSMI_MAX_INPUT_BYTES + 1);
	assert_int_equal(nvsmi_parse_query(b.s, NVSMI_MAX_INPUT_BYTES, &r, err, sizeof(err)), 0);
	assert_int_equal(r.gpus[0].nprocs, 1);
	nvsmi_report_done(&r);
	assert_int_equal(nvsmi_parse_query(b.s, NVSMI_MAX_INPUT_BYTES + 1, &r, err, sizeof(err)),
			 -E2BIG);
	assert_report_empty(&r);
	free(b.s);
}

/* ---- JSON ------------------------------------------------------------------------------ */

static json_t *jpath(json_t *o, const char *a, const char *b)
{
	json_t *x = json_object_get(o, a);
	return b ? json_object_get(x, b) : x;
}

static void test_json_a10g(void **state)
{
	(void)state;
	size_t len;
	char *buf = read_testdata("nvidia-smi/xml/a10g_telegraf.xml", &len);
	struct nvsmi_report r;
	assert_int_equal(nvsmi_parse_xml(buf, len, &r, NULL, 0), 0);
	json_t *j = nvsmi_report_json(&r);
	assert_non_null(j);
	assert_string_equal(json_string_value(jpath(j, "driver_version", NULL)), "515.105.01");
	assert_string_equal(json_string_value(jpath(j, "cuda_version", NULL)), "11.7");
	assert_string_equal(json_string_value(jpath(j, "timestamp", NULL)),
			    "Mon Apr 24 16:11:51 2023");
	assert_int_equal(json_integer_value(jpath(j, "attached_gpus", NULL)), 1);
	json_t *gpus = json_object_get(j, "gpus");
	assert_int_equal(json_array_size(gpus), 1);
	json_t *g = json_array_get(gpus, 0);
	assert_int_equal(json_integer_value(jpath(g, "index", NULL)), 0);
	assert_string_equal(json_string_value(jpath(g, "id", NULL)), "00000000:00:1E.0");
	assert_string_equal(json_string_value(jpath(g, "name", NULL)), "NVIDIA A10G");
	assert_string_equal(json_string_value(jpath(g, "uuid", NULL)),
			    "GPU-9a9a6c50-2a47-2f51-a902-b82c3b127e94");
	assert_int_equal(json_integer_value(jpath(g, "temperature_c", NULL)), 17);
	assert_int_equal(json_integer_value(jpath(g, "utilization", "gpu_pct")), 0);
	assert_int_equal(json_integer_value(jpath(g, "memory", "total_mib")), 23028);
	assert_int_equal(json_integer_value(jpath(g, "memory", "used_mib")), 22);
	assert_int_equal(json_integer_value(jpath(g, "memory", "free_mib")), 22569);
	assert_near(json_real_value(jpath(g, "power", "draw_w")), 25.58);
	assert_near(json_real_value(jpath(g, "power", "limit_w")), 300.0);
	assert_int_equal(json_integer_value(jpath(g, "clocks", "graphics_mhz")), 210);
	assert_int_equal(json_integer_value(jpath(g, "clocks", "max_graphics_mhz")), 1710);
	json_t *ecc = jpath(g, "ecc", "volatile");
	assert_int_equal(json_integer_value(json_object_get(ecc, "corrected")), 0);
	assert_true(json_is_integer(json_object_get(ecc, "uncorrected")));
	assert_true(json_is_integer(jpath(jpath(g, "ecc", "aggregate"), "corrected", NULL)));
	assert_string_equal(json_string_value(jpath(g, "persistence_mode", NULL)), "Disabled");
	assert_string_equal(json_string_value(jpath(g, "performance_state", NULL)), "P8");
	assert_true(json_is_null(jpath(g, "mig_mode", NULL)));
	json_t *procs = json_object_get(g, "processes");
	assert_int_equal(json_array_size(procs), 1);
	json_t *p = json_array_get(procs, 0);
	assert_int_equal(json_integer_value(json_object_get(p, "pid")), 725);
	assert_string_equal(json_string_value(json_object_get(p, "name")), "/usr/lib/xorg/Xorg");
	assert_string_equal(json_string_value(json_object_get(p, "type")), "G");
	assert_int_equal(json_integer_value(json_object_get(p, "used_memory_mib")), 22);
	json_decref(j);
	nvsmi_report_done(&r);
	free(buf);
}

static void test_json_absent_values_are_null(void **state)
{
	(void)state;
	size_t len;
	char *buf = read_testdata("nvidia-smi/xml/gtx-1070-ti_telegraf.xml", &len);
	struct nvsmi_report r;
	assert_int_equal(nvsmi_parse_xml(buf, len, &r, NULL, 0), 0);
	json_t *j = nvsmi_report_json(&r);
	assert_non_null(j);
	assert_true(json_is_null(jpath(j, "driver_version", NULL)));
	assert_true(json_is_null(jpath(j, "attached_gpus", NULL)));
	json_t *g = json_array_get(json_object_get(j, "gpus"), 0);
	assert_true(json_is_null(jpath(g, "power", "draw_w")));
	assert_true(json_is_null(jpath(g, "power", "limit_w")));
	assert_true(json_is_null(jpath(g, "serial", NULL)));
	assert_true(json_is_null(jpath(g, "clocks", "max_graphics_mhz")));
	assert_true(json_is_null(jpath(jpath(g, "ecc", "aggregate"), "uncorrected", NULL)));
	assert_int_equal(json_integer_value(jpath(g, "fan_speed_pct", NULL)), 100);
	assert_int_equal(json_array_size(json_object_get(g, "processes")), 0);
	json_decref(j);
	nvsmi_report_done(&r);
	free(buf);

	/* an empty report is a valid document too */
	struct nvsmi_report empty;
	assert_int_equal(parse_xml_str("<nvidia_smi_log/>", &empty, NULL, 0), 0);
	j = nvsmi_report_json(&empty);
	assert_non_null(j);
	assert_int_equal(json_array_size(json_object_get(j, "gpus")), 0);
	json_decref(j);
	nvsmi_report_done(&empty);
}

static void test_report_done_idempotent(void **state)
{
	(void)state;
	nvsmi_report_done(NULL);
	struct nvsmi_report r;
	assert_int_equal(
		parse_xml_str("<nvidia_smi_log><gpu id=\"a\"/></nvidia_smi_log>", &r, NULL, 0), 0);
	nvsmi_report_done(&r);
	assert_report_empty(&r);
	nvsmi_report_done(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xml_every_file),
		cmocka_unit_test(test_device_h200),
		cmocka_unit_test(test_xml_v100s_x8_last_gpu),
		cmocka_unit_test(test_xml_v13_power_and_ecc),
		cmocka_unit_test(test_xml_minimal_document),
		cmocka_unit_test(test_xml_truncated),
		cmocka_unit_test(test_xml_not_nvsmi),
		cmocka_unit_test(test_xml_entities_refused),
		cmocka_unit_test(test_xml_depth_limit),
		cmocka_unit_test(test_xml_text_limit),
		cmocka_unit_test(test_xml_gpu_and_process_limits),
		cmocka_unit_test(test_xml_input_limit),
		cmocka_unit_test(test_query_every_file),
		cmocka_unit_test(test_query_h100sxm_spot),
		cmocka_unit_test(test_query_processes),
		cmocka_unit_test(test_query_invalid_file),
		cmocka_unit_test(test_query_truncated),
		cmocka_unit_test(test_query_damage_rules),
		cmocka_unit_test(test_query_not_nvsmi),
		cmocka_unit_test(test_query_old_layouts),
		cmocka_unit_test(test_query_limits),
		cmocka_unit_test(test_json_a10g),
		cmocka_unit_test(test_json_absent_values_are_null),
		cmocka_unit_test(test_report_done_idempotent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
