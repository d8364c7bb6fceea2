/*
 * nvsmi.c - parsers for `nvidia-smi -q -x` (expat) and `nvidia-smi -q` (a line scanner), see
 * nvsmi.h.
 *
 * Both formats are trees, and both parsers reduce them to one event: "value V at path P in the
 * current GPU", where P joins the element names (XML: "fb_memory_usage/total") or the keys above
 * a line by indentation (text: "FB Memory Usage/Total"). One table per format maps the few paths
 * we report to a field; every other path is skipped, so keys added by newer drivers never break
 * parsing, and schema differences (v11 <power_readings> against v13 <gpu_power_readings> with
 * average/instant draws, single/double-bit ECC totals against SRAM/DRAM counters) are only more
 * rows in the tables. Power has several candidate sources per GPU: they are kept aside while the
 * GPU is parsed and the preferred one is chosen when its section ends.
 *
 * XML safety: expat never reads external entities (no handler is installed and parameter entity
 * parsing is off), and an entity declaration aborts the parse before anything can be expanded,
 * which also rules out billion-laughs documents whatever expat's own amplification limits are.
 *
 * The text form has no end marker, so damage is detected from its regularities: every
 * "Key : Value" separator sits in one column (learned from the first such line), indentation
 * moves in steps of 4 spaces, keys are printable ASCII, every GPU section ends with its
 * "Processes" entry and there are as many sections as "Attached GPUs" says. A line that breaks a
 * rule is reported (-EPROTO) but parsing goes on, so a damaged output still yields its header and
 * every GPU field that could be read. Keys we do not know are not damage: drivers add new ones.
 */
#include "nvsmi.h"

#include "json.h"
#include "util.h"

#include <errno.h>
#include <expat.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NVSMI_PATH_CAP 256      /* longest path we ever need to compare is < 64 bytes */
#define NVSMI_PROBLEM_BYTES 256 /* one damage report in err */
#define NVSMI_ID_MAX_BYTES 32   /* "00000000:18:00.0" is 16 */

enum field {
	F_NONE,
	F_TIMESTAMP,
	F_DRIVER,
	F_CUDA,
	F_ATTACHED,
	F_NAME,
	F_UUID,
	F_SERIAL,
	F_PCI_BUS_ID,
	F_VBIOS,
	F_PERSISTENCE,
	F_PSTATE,
	F_COMPUTE_MODE,
	F_MIG_MODE,
	F_TEMP,
	F_FAN,
	F_UTIL_GPU,
	F_UTIL_MEM,
	F_MEM_TOTAL,
	F_MEM_USED,
	F_MEM_FREE,
	F_POWER_DRAW,
	F_POWER_DRAW_AVG,
	F_POWER_DRAW_INST,
	F_POWER_LIMIT,
	F_POWER_LIMIT_ENF,
	F_CLK_GR,
	F_CLK_SM,
	F_CLK_MEM,
	F_CLK_MAX_GR,
	F_ECC_VOL_CORR,
	F_ECC_VOL_UNCORR,
	F_ECC_AGG_CORR,
	F_ECC_AGG_UNCORR,
	F_PROCS,
	F_PROC_NEW,
	F_PROC_PID,
	F_PROC_TYPE,
	F_PROC_NAME,
	F_PROC_MEM,
};

struct path_map {
	const char *path;
	enum field f;
};

static const struct path_map xml_header_map[] = {
	{ "timestamp", F_TIMESTAMP },
	{ "driver_version", F_DRIVER },
	{ "cuda_version", F_CUDA },
	{ "attached_gpus", F_ATTACHED },
};

/* Paths below <gpu>. */
static const struct path_map xml_gpu_map[] = {
	{ "product_name", F_NAME },
	{ "uuid", F_UUID },
	{ "serial", F_SERIAL },
	{ "vbios_version", F_VBIOS },
	{ "persistence_mode", F_PERSISTENCE },
	{ "performance_state", F_PSTATE },
	{ "compute_mode", F_COMPUTE_MODE },
	{ "mig_mode/current_mig", F_MIG_MODE },
	{ "pci/pci_bus_id", F_PCI_BUS_ID },
	{ "fan_speed", F_FAN },
	{ "fb_memory_usage/total", F_MEM_TOTAL },
	{ "fb_memory_usage/used", F_MEM_USED },
	{ "fb_memory_usage/free", F_MEM_FREE },
	{ "utilization/gpu_util", F_UTIL_GPU },
	{ "utilization/memory_util", F_UTIL_MEM },
	{ "temperature/gpu_temp", F_TEMP },
	{ "power_readings/power_draw", F_POWER_DRAW },
	{ "power_readings/average_power_draw", F_POWER_DRAW_AVG },
	{ "power_readings/instant_power_draw", F_POWER_DRAW_INST },
	{ "power_readings/power_limit", F_POWER_LIMIT },
	{ "power_readings/current_power_limit", F_POWER_LIMIT },
	{ "power_readings/enforced_power_limit", F_POWER_LIMIT_ENF },
	{ "gpu_power_readings/power_draw", F_POWER_DRAW },
	{ "gpu_power_readings/average_power_draw", F_POWER_DRAW_AVG },
	{ "gpu_power_readings/instant_power_draw", F_POWER_DRAW_INST },
	{ "gpu_power_readings/power_limit", F_POWER_LIMIT },
	{ "gpu_power_readings/current_power_limit", F_POWER_LIMIT },
	{ "gpu_power_readings/enforced_power_limit", F_POWER_LIMIT_ENF },
	{ "clocks/graphics_clock", F_CLK_GR },
	{ "clocks/sm_clock", F_CLK_SM },
	{ "clocks/mem_clock", F_CLK_MEM },
	{ "max_clocks/graphics_clock", F_CLK_MAX_GR },
	{ "ecc_errors/volatile/single_bit/total", F_ECC_VOL_CORR },
	{ "ecc_errors/volatile/double_bit/total", F_ECC_VOL_UNCORR },
	{ "ecc_errors/volatile/sram_correctable", F_ECC_VOL_CORR },
	{ "ecc_errors/volatile/dram_correctable", F_ECC_VOL_CORR },
	{ "ecc_errors/volatile/sram_uncorrectable", F_ECC_VOL_UNCORR },
	{ "ecc_errors/volatile/sram_uncorrectable_parity", F_ECC_VOL_UNCORR },
	{ "ecc_errors/volatile/sram_uncorrectable_secded", F_ECC_VOL_UNCORR },
	{ "ecc_errors/volatile/dram_uncorrectable", F_ECC_VOL_UNCORR },
	{ "ecc_errors/aggregate/single_bit/total", F_ECC_AGG_CORR },
	{ "ecc_errors/aggregate/double_bit/total", F_ECC_AGG_UNCORR },
	{ "ecc_errors/aggregate/sram_correctable", F_ECC_AGG_CORR },
	{ "ecc_errors/aggregate/dram_correctable", F_ECC_AGG_CORR },
	{ "ecc_errors/aggregate/sram_uncorrectable", F_ECC_AGG_UNCORR },
	{ "ecc_errors/aggregate/sram_uncorrectable_parity", F_ECC_AGG_UNCORR },
	{ "ecc_errors/aggregate/sram_uncorrectable_secded", F_ECC_AGG_UNCORR },
	{ "ecc_errors/aggregate/dram_uncorrectable", F_ECC_AGG_UNCORR },
	{ "processes/process_info", F_PROC_NEW },
	{ "processes/process_info/pid", F_PROC_PID },
	{ "processes/process_info/type", F_PROC_TYPE },
	{ "processes/process_info/process_name", F_PROC_NAME },
	{ "processes/process_info/used_memory", F_PROC_MEM },
};

static const struct path_map text_header_map[] = {
	{ "Timestamp", F_TIMESTAMP },
	{ "Driver Version", F_DRIVER },
	{ "CUDA Version", F_CUDA },
	{ "Attached GPUs", F_ATTACHED },
};

/* Paths below a "GPU <bus id>" line, keys joined by '/'. */
static const struct path_map text_gpu_map[] = {
	{ "Product Name", F_NAME },
	{ "GPU UUID", F_UUID },
	{ "Serial Number", F_SERIAL },
	{ "VBIOS Version", F_VBIOS },
	{ "Persistence Mode", F_PERSISTENCE },
	{ "Performance State", F_PSTATE },
	{ "Compute Mode", F_COMPUTE_MODE },
	{ "MIG Mode/Current", F_MIG_MODE },
	{ "PCI/Bus Id", F_PCI_BUS_ID },
	{ "Fan Speed", F_FAN },
	{ "FB Memory Usage/Total", F_MEM_TOTAL },
	{ "FB Memory Usage/Used", F_MEM_USED },
	{ "FB Memory Usage/Free", F_MEM_FREE },
	{ "Utilization/Gpu", F_UTIL_GPU },
	{ "Utilization/Memory", F_UTIL_MEM },
	{ "Temperature/GPU Current Temp", F_TEMP },
	{ "Power Readings/Power Draw", F_POWER_DRAW },
	{ "Power Readings/Average Power Draw", F_POWER_DRAW_AVG },
	{ "Power Readings/Instant Power Draw", F_POWER_DRAW_INST },
	{ "Power Readings/Power Limit", F_POWER_LIMIT },
	{ "Power Readings/Current Power Limit", F_POWER_LIMIT },
	{ "Power Readings/Enforced Power Limit", F_POWER_LIMIT_ENF },
	{ "GPU Power Readings/Power Draw", F_POWER_DRAW },
	{ "GPU Power Readings/Average Power Draw", F_POWER_DRAW_AVG },
	{ "GPU Power Readings/Instant Power Draw", F_POWER_DRAW_INST },
	{ "GPU Power Readings/Power Limit", F_POWER_LIMIT },
	{ "GPU Power Readings/Current Power Limit", F_POWER_LIMIT },
	{ "GPU Power Readings/Enforced Power Limit", F_POWER_LIMIT_ENF },
	{ "Clocks/Graphics", F_CLK_GR },
	{ "Clocks/SM", F_CLK_SM },
	{ "Clocks/Memory", F_CLK_MEM },
	{ "Max Clocks/Graphics", F_CLK_MAX_GR },
	{ "ECC Errors/Volatile/Single Bit/Total", F_ECC_VOL_CORR },
	{ "ECC Errors/Volatile/Double Bit/Total", F_ECC_VOL_UNCORR },
	{ "ECC Errors/Volatile/SRAM Correctable", F_ECC_VOL_CORR },
	{ "ECC Errors/Volatile/DRAM Correctable", F_ECC_VOL_CORR },
	{ "ECC Errors/Volatile/SRAM Uncorrectable", F_ECC_VOL_UNCORR },
	{ "ECC Errors/Volatile/SRAM Uncorrectable Parity", F_ECC_VOL_UNCORR },
	{ "ECC Errors/Volatile/SRAM Uncorrectable SEC-DED", F_ECC_VOL_UNCORR },
	{ "ECC Errors/Volatile/DRAM Uncorrectable", F_ECC_VOL_UNCORR },
	{ "ECC Errors/Aggregate/Single Bit/Total", F_ECC_AGG_CORR },
	{ "ECC Errors/Aggregate/Double Bit/Total", F_ECC_AGG_UNCORR },
	{ "ECC Errors/Aggregate/SRAM Correctable", F_ECC_AGG_CORR },
	{ "ECC Errors/Aggregate/DRAM Correctable", F_ECC_AGG_CORR },
	{ "ECC Errors/Aggregate/SRAM Uncorrectable", F_ECC_AGG_UNCORR },
	{ "ECC Errors/Aggregate/SRAM Uncorrectable Parity", F_ECC_AGG_UNCORR },
	{ "ECC Errors/Aggregate/SRAM Uncorrectable SEC-DED", F_ECC_AGG_UNCORR },
	{ "ECC Errors/Aggregate/DRAM Uncorrectable", F_ECC_AGG_UNCORR },
	{ "Processes", F_PROCS },
	{ "Processes/GPU instance ID", F_PROC_NEW },
	{ "Processes/Process ID", F_PROC_PID },
	{ "Processes/Process ID/Type", F_PROC_TYPE },
	{ "Processes/Process ID/Name", F_PROC_NAME },
	{ "Processes/Process ID/Used GPU Memory", F_PROC_MEM },
};

static enum field map_find(const struct path_map *m, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(m[i].path, path) == 0)
			return m[i].f;
	return F_NONE;
}

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
							  ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- values ---------------------------------------------------------------------------- */

/* Placeholders nvidia-smi prints instead of a value. */
static bool is_placeholder(const char *v)
{
	static const char *const na[] = {
		"",
		"N/A",
		"[N/A]",
		"Not Supported",
		"[Not Supported]",
		"Unknown Error",
		"[Unknown Error]",
		"Insufficient Permissions",
		"[Insufficient Permissions]",
		"Requested functionality has been deprecated",
	};
	for (size_t i = 0; i < ARRAY_SIZE(na); i++)
		if (strcmp(v, na[i]) == 0)
			return true;
	return false;
}

/* Parses the run of decimal digits at *p (at most maxdigits of them), advancing *p. */
static bool take_digits(const char **p, size_t maxdigits, uint64_t *out)
{
	char num[24];
	size_t n = 0;
	while ((*p)[n] >= '0' && (*p)[n] <= '9') {
		if (n == maxdigits || n + 1 >= sizeof(num))
			return false;
		num[n] = (*p)[n];
		n++;
	}
	if (n == 0)
		return false;
	num[n] = '\0';
	*p += n;
	return util_parse_u64(num, UINT64_MAX, out) == 0;
}

/* True when p is the end of the string, or " <unit>" exactly (unit NULL: end only). */
static bool unit_ok(const char *p, const char *unit)
{
	if (!unit)
		return *p == '\0';
	return p[0] == ' ' && strcmp(p + 1, unit) == 0;
}

/* "<digits>[ unit]" (a leading '-' when neg_ok) as a number, or -1. */
static int64_t parse_int(const char *v, const char *unit, bool neg_ok)
{
	const char *p = v;
	bool neg = false;
	uint64_t n;
	if (neg_ok && *p == '-') {
		neg = true;
		p++;
	}
	if (!take_digits(&p, 18, &n) || !unit_ok(p, unit))
		return -1;
	return neg ? -(int64_t)n : (int64_t)n;
}

/* "<digits>[.<digits>][ unit]" as a non-negative double, or NAN. Done by hand rather than with
 * strtod so the result does not depend on the locale. */
static double parse_double(const char *v, const char *unit)
{
	const char *p = v;
	uint64_t ip, fp = 0;
	double scale = 1;
	if (!take_digits(&p, 12, &ip))
		return NAN;
	if (*p == '.') {
		p++;
		const char *f = p;
		if (!take_digits(&p, 9, &fp))
			return NAN;
		for (const char *q = f; q < p; q++)
			scale *= 10;
	}
	if (!unit_ok(p, unit))
		return NAN;
	return (double)ip + (double)fp / scale;
}

/* ---- building the report ---------------------------------------------------------------- */

/* Parse state common to both formats. */
struct build {
	struct nvsmi_report *r;
	struct nvsmi_gpu *gpu;      /* GPU being filled, NULL between sections */
	struct nvsmi_process *proc; /* its latest process, NULL when none yet */
	bool proc_has_pid;
	bool procs_seen; /* text: the section reached its "Processes" entry */
	double draw, draw_avg, draw_inst, limit, limit_enf;
	size_t gpus_cap, procs_cap;
};

static void report_init(struct nvsmi_report *r)
{
	memset(r, 0, sizeof(*r));
	r->attached_gpus = -1;
}

static int set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = NULL;
	if (is_placeholder(v))
		return 0;
	*dst = strdup(v);
	return *dst ? 0 : -ENOMEM;
}

static int gpu_begin(struct build *b)
{
	struct nvsmi_report *r = b->r;
	if (r->ngpus == NVSMI_MAX_GPUS)
		return -E2BIG;
	if (r->ngpus == b->gpus_cap) {
		size_t cap = b->gpus_cap ? b->gpus_cap * 2 : 8;
		struct nvsmi_gpu *g = realloc(r->gpus, cap * sizeof(*g));
		if (!g)
			return -ENOMEM;
		r->gpus = g;
		b->gpus_cap = cap;
	}
	struct nvsmi_gpu *g = &r->gpus[r->ngpus];
	memset(g, 0, sizeof(*g));
	g->index = (int)r->ngpus;
	g->temperature_c = g->fan_speed_pct = g->utilization_gpu_pct = g->utilization_memory_pct =
		-1;
	g->memory_total_mib = g->memory_used_mib = g->memory_free_mib = -1;
	g->power_draw_w = g->power_limit_w = NAN;
	g->clock_graphics_mhz = g->clock_sm_mhz = g->clock_memory_mhz = -1;
	g->clock_max_graphics_mhz = -1;
	g->ecc_volatile_corrected = g->ecc_volatile_uncorrected = -1;
	g->ecc_aggregate_corrected = g->ecc_aggregate_uncorrected = -1;
	r->ngpus++;
	b->gpu = g;
	b->proc = NULL;
	b->proc_has_pid = false;
	b->procs_seen = false;
	b->procs_cap = 0;
	b->draw = b->draw_avg = b->draw_inst = b->limit = b->limit_enf = NAN;
	return 0;
}

/* Chooses among the power sources seen; see struct nvsmi_gpu for the order. */
static void gpu_end(struct build *b)
{
	struct nvsmi_gpu *g = b->gpu;
	if (!g)
		return;
	g->power_draw_w = !isnan(b->draw)       ? b->draw
			  : !isnan(b->draw_avg) ? b->draw_avg
						: b->draw_inst;
	g->power_limit_w = !isnan(b->limit) ? b->limit : b->limit_enf;
	b->gpu = NULL;
	b->proc = NULL;
}

static int proc_begin(struct build *b)
{
	struct nvsmi_gpu *g = b->gpu;
	if (g->nprocs == NVSMI_MAX_PROCESSES)
		return -E2BIG;
	if (g->nprocs == b->procs_cap) {
		size_t cap = b->procs_cap ? b->procs_cap * 2 : 4;
		struct nvsmi_process *p = realloc(g->procs, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		g->procs = p;
		b->procs_cap = cap;
	}
	b->proc = &g->procs[g->nprocs++];
	memset(b->proc, 0, sizeof(*b->proc));
	b->proc->used_memory_mib = -1;
	b->proc_has_pid = false;
	return 0;
}

static void ecc_add(int64_t *dst, const char *v)
{
	int64_t n = parse_int(v, NULL, false);
	if (n < 0)
		return;
	*dst = *dst < 0 ? n : (*dst > INT64_MAX - n ? INT64_MAX : *dst + n);
}

/* Records value v (trimmed, NUL-terminated) for field f. Header fields go to the report, the
 * others to the current GPU, which the caller guarantees exists. */
static int apply(struct build *b, enum field f, const char *v)
{
	struct nvsmi_report *r = b->r;
	struct nvsmi_gpu *g = b->gpu;
	int rc;

	switch (f) {
	case F_NONE:
	case F_PROCS:
		return 0;
	case F_TIMESTAMP:
		return set_str(&r->timestamp, v);
	case F_DRIVER:
		return set_str(&r->driver_version, v);
	case F_CUDA:
		return set_str(&r->cuda_version, v);
	case F_ATTACHED: {
		int64_t n = parse_int(v, NULL, false);
		r->attached_gpus = n >= 0 && n <= 1000000 ? (int)n : -1;
		return 0;
	}
	case F_NAME:
		return set_str(&g->name, v);
	case F_UUID:
		return set_str(&g->uuid, v);
	case F_SERIAL:
		return set_str(&g->serial, v);
	case F_PCI_BUS_ID:
		return set_str(&g->pci_bus_id, v);
	case F_VBIOS:
		return set_str(&g->vbios_version, v);
	case F_PERSISTENCE:
		return set_str(&g->persistence_mode, v);
	case F_PSTATE:
		return set_str(&g->performance_state, v);
	case F_COMPUTE_MODE:
		return set_str(&g->compute_mode, v);
	case F_MIG_MODE:
		return set_str(&g->mig_mode, v);
	case F_TEMP:
		g->temperature_c = parse_int(v, "C", true);
		return 0;
	case F_FAN:
		g->fan_speed_pct = parse_int(v, "%", false);
		return 0;
	case F_UTIL_GPU:
		g->utilization_gpu_pct = parse_int(v, "%", false);
		return 0;
	case F_UTIL_MEM:
		g->utilization_memory_pct = parse_int(v, "%", false);
		return 0;
	case F_MEM_TOTAL:
		g->memory_total_mib = parse_int(v, "MiB", false);
		return 0;
	case F_MEM_USED:
		g->memory_used_mib = parse_int(v, "MiB", false);
		return 0;
	case F_MEM_FREE:
		g->memory_free_mib = parse_int(v, "MiB", false);
		return 0;
	case F_POWER_DRAW:
		b->draw = parse_double(v, "W");
		return 0;
	case F_POWER_DRAW_AVG:
		b->draw_avg = parse_double(v, "W");
		return 0;
	case F_POWER_DRAW_INST:
		b->draw_inst = parse_double(v, "W");
		return 0;
	case F_POWER_LIMIT:
		b->limit = parse_double(v, "W");
		return 0;
	case F_POWER_LIMIT_ENF:
		b->limit_enf = parse_double(v, "W");
		return 0;
	case F_CLK_GR:
		g->clock_graphics_mhz = parse_int(v, "MHz", false);
		return 0;
	case F_CLK_SM:
		g->clock_sm_mhz = parse_int(v, "MHz", false);
		return 0;
	case F_CLK_MEM:
		g->clock_memory_mhz = parse_int(v, "MHz", false);
		return 0;
	case F_CLK_MAX_GR:
		g->clock_max_graphics_mhz = parse_int(v, "MHz", false);
		return 0;
	case F_ECC_VOL_CORR:
		ecc_add(&g->ecc_volatile_corrected, v);
		return 0;
	case F_ECC_VOL_UNCORR:
		ecc_add(&g->ecc_volatile_uncorrected, v);
		return 0;
	case F_ECC_AGG_CORR:
		ecc_add(&g->ecc_aggregate_corrected, v);
		return 0;
	case F_ECC_AGG_UNCORR:
		ecc_add(&g->ecc_aggregate_uncorrected, v);
		return 0;
	case F_PROC_NEW:
		return proc_begin(b);
	case F_PROC_PID:
		/* Old drivers print no "GPU instance ID": a second pid starts the next process. */
		if (!b->proc || b->proc_has_pid) {
			rc = proc_begin(b);
			if (rc < 0)
				return rc;
		}
		b->proc_has_pid = true;
		return set_str(&b->proc->pid, v);
	case F_PROC_TYPE:
	case F_PROC_NAME:
	case F_PROC_MEM:
		if (!b->proc) {
			rc = proc_begin(b);
			if (rc < 0)
				return rc;
		}
		if (f == F_PROC_TYPE)
			return set_str(&b->proc->type, v);
		if (f == F_PROC_NAME)
			return set_str(&b->proc->name, v);
		b->proc->used_memory_mib = parse_int(v, "MiB", false);
		return 0;
	}
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void nvsmi_report_done(struct nvsmi_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->ngpus; i++) {
		struct nvsmi_gpu *g = &r->gpus[i];
		free(g->id);
		free(g->name);
		free(g->uuid);
		free(g->serial);
		free(g->pci_bus_id);
		free(g->vbios_version);
		free(g->persistence_mode);
		free(g->performance_state);
		free(g->compute_mode);
		free(g->mig_mode);
		for (size_t j = 0; j < g->nprocs; j++) {
			free(g->procs[j].pid);
			free(g->procs[j].name);
			free(g->procs[j].type);
		}
		free(g->procs);
	}
	free(r->gpus);
	free(r->timestamp);
	free(r->driver_version);
	free(r->cuda_version);
	report_init(r);
}

/* ---- XML ------------------------------------------------------------------------------- */

struct xml_ctx {
	XML_Parser p;
	struct build b;
	int rc;
	char msg[256];
	unsigned depth;
	bool in_gpu;
	/* Element names from the root joined by '/'; plen[d] is its length with d elements. A
	 * name that does not fit stops matching below it (no real path comes close). */
	char path[NVSMI_PATH_CAP];
	size_t plen[NVSMI_MAX_DEPTH + 1];
	unsigned overflow_depth; /* 0: none */
	enum field collect;      /* field whose text is being gathered, F_NONE when none */
	unsigned collect_depth;
	char text[NVSMI_MAX_TEXT_BYTES + 1];
	size_t text_len;
	size_t raw_len; /* character data seen directly in the current element since a tag */
};

__attribute__((format(printf, 3, 4))) static void xml_fail(struct xml_ctx *x, int rc,
							   const char *fmt, ...)
{
	if (x->rc)
		return;
	x->rc = rc;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->msg, sizeof(x->msg), fmt, ap);
	va_end(ap);
	XML_StopParser(x->p, XML_FALSE);
}

/* Length of at most 64 bytes of an element or entity name for err, cut at a UTF-8 boundary. */
static int name_len(const char *s)
{
	size_t n = strlen(s);
	if (n <= 64)
		return (int)n;
	n = 64;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return (int)n;
}

static unsigned long xml_line(struct xml_ctx *x)
{
	return (unsigned long)XML_GetCurrentLineNumber(x->p);
}

static void XMLCALL xml_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct xml_ctx *x = ud;
	int rc = 0;
	if (x->rc)
		return;
	x->raw_len = 0;
	if (x->depth == NVSMI_MAX_DEPTH) {
		xml_fail(x, -E2BIG, "XML nesting deeper than %d elements at line %lu",
			 NVSMI_MAX_DEPTH, xml_line(x));
		return;
	}
	x->depth++;
	size_t base = x->plen[x->depth - 1], n = strlen(name);
	size_t sep = x->depth > 1 ? 1 : 0;
	if (!x->overflow_depth && base + sep + n < sizeof(x->path)) {
		if (sep)
			x->path[base] = '/';
		memcpy(x->path + base + sep, name, n + 1);
		x->plen[x->depth] = base + sep + n;
	} else {
		if (!x->overflow_depth)
			x->overflow_depth = x->depth;
		x->plen[x->depth] = base;
	}

	if (x->depth == 1) {
		if (strcmp(name, "nvidia_smi_log") != 0)
			xml_fail(x, -EINVAL, "XML root element <%.*s> is not <nvidia_smi_log>",
				 name_len(name), name);
		return;
	}
	if (x->overflow_depth)
		return;
	enum field nf = F_NONE;
	if (x->depth == 2) {
		if (strcmp(name, "gpu") == 0) {
			rc = gpu_begin(&x->b);
			if (rc == 0) {
				x->in_gpu = true;
				for (size_t i = 0; attrs[i] && attrs[i + 1]; i += 2)
					if (strcmp(attrs[i], "id") == 0 && rc == 0)
						rc = set_str(&x->b.gpu->id, attrs[i + 1]);
			}
		} else {
			nf = map_find(xml_header_map, ARRAY_SIZE(xml_header_map), name);
		}
	} else if (x->in_gpu && x->collect == F_NONE) {
		/* path is "nvidia_smi_log/gpu/<rel>" */
		nf = map_find(xml_gpu_map, ARRAY_SIZE(xml_gpu_map), x->path + x->plen[2] + 1);
		if (nf == F_PROC_NEW) {
			rc = apply(&x->b, nf, "");
			nf = F_NONE;
		}
	}
	if (nf != F_NONE && x->collect == F_NONE) {
		x->collect = nf;
		x->collect_depth = x->depth;
		x->text_len = 0;
	}
	if (rc == -E2BIG)
		xml_fail(x, rc, "more than %d %s at line %lu",
			 x->depth == 2 ? NVSMI_MAX_GPUS : NVSMI_MAX_PROCESSES,
			 x->depth == 2 ? "GPUs" : "processes in one GPU", xml_line(x));
	else if (rc < 0)
		xml_fail(x, rc, "out of memory");
}

static void XMLCALL xml_text(void *ud, const XML_Char *s, int len)
{
	struct xml_ctx *x = ud;
	if (x->rc || len <= 0)
		return;
	x->raw_len += (size_t)len;
	bool collecting = x->collect != F_NONE && x->depth == x->collect_depth;
	if (x->raw_len > NVSMI_MAX_TEXT_BYTES ||
	    (collecting && x->text_len + (size_t)len > NVSMI_MAX_TEXT_BYTES)) {
		xml_fail(x, -E2BIG, "XML text longer than %d bytes in one element at line %lu",
			 NVSMI_MAX_TEXT_BYTES, xml_line(x));
		return;
	}
	if (collecting) {
		memcpy(x->text + x->text_len, s, (size_t)len);
		x->text_len += (size_t)len;
	}
}

static void XMLCALL xml_end(void *ud, const XML_Char *name)
{
	struct xml_ctx *x = ud;
	(void)name;
	if (x->rc)
		return;
	x->raw_len = 0;
	if (x->collect != F_NONE && x->depth == x->collect_depth) {
		size_t a = 0, e = x->text_len;
		while (a < e && is_space(x->text[a]))
			a++;
		while (e > a && is_space(x->text[e - 1]))
			e--;
		x->text[e] = '\0';
		int rc = apply(&x->b, x->collect, x->text + a);
		x->collect = F_NONE;
		if (rc == -E2BIG)
			xml_fail(x, rc, "more than %d processes in one GPU at line %lu",
				 NVSMI_MAX_PROCESSES, xml_line(x));
		else if (rc < 0)
			xml_fail(x, rc, "out of memory");
	}
	if (x->depth == 2 && x->in_gpu && !x->overflow_depth) {
		gpu_end(&x->b);
		x->in_gpu = false;
	}
	if (x->overflow_depth == x->depth)
		x->overflow_depth = 0;
	x->depth--;
}

static void XMLCALL xml_entity_decl(void *ud, const XML_Char *name, int is_param,
				    const XML_Char *value, int value_len, const XML_Char *base,
				    const XML_Char *system_id, const XML_Char *public_id,
				    const XML_Char *notation)
{
	struct xml_ctx *x = ud;
	(void)is_param, (void)value, (void)value_len, (void)base, (void)system_id, (void)public_id,
		(void)notation;
	xml_fail(x, -EINVAL, "XML entity declaration '%.*s' at line %lu refused", name_len(name),
		 name, xml_line(x));
}

static void XMLCALL xml_skipped_entity(void *ud, const XML_Char *name, int is_param)
{
	struct xml_ctx *x = ud;
	(void)is_param;
	xml_fail(x, -EINVAL, "reference to undeclared XML entity '%.*s' at line %lu refused",
		 name_len(name), name, xml_line(x));
}

int nvsmi_parse_xml(const char *buf, size_t len, struct nvsmi_report *out, char *err, size_t errlen)
{
	report_init(out);
	set_err(err, errlen, "%s", "");
	if (len > NVSMI_MAX_INPUT_BYTES) {
		set_err(err, errlen, "nvidia-smi XML is %zu bytes, more than %u", len,
			NVSMI_MAX_INPUT_BYTES);
		return -E2BIG;
	}
	struct xml_ctx *x = calloc(1, sizeof(*x));
	if (!x) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	x->b.r = out;
	x->p = XML_ParserCreate(NULL);
	if (!x->p) {
		free(x);
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	XML_SetUserData(x->p, x);
	XML_SetElementHandler(x->p, xml_start, xml_end);
	XML_SetCharacterDataHandler(x->p, xml_text);
	XML_SetEntityDeclHandler(x->p, xml_entity_decl);
	XML_SetSkippedEntityHandler(x->p, xml_skipped_entity);
	XML_SetParamEntityParsing(x->p, XML_PARAM_ENTITY_PARSING_NEVER);

	int rc = 0;
	if (XML_Parse(x->p, buf, (int)len, XML_TRUE) != XML_STATUS_OK) {
		if (x->rc) {
			rc = x->rc;
			set_err(err, errlen, "%s", x->msg);
		} else {
			rc = -EINVAL;
			set_err(err, errlen, "XML syntax error at line %lu: %s",
				(unsigned long)XML_GetCurrentLineNumber(x->p),
				XML_ErrorString(XML_GetErrorCode(x->p)));
		}
	}
	XML_ParserFree(x->p);
	free(x);
	if (rc < 0)
		nvsmi_report_done(out);
	return rc;
}

/* ---- text ------------------------------------------------------------------------------ */

struct slice {
	const char *s;
	size_t n;
};

struct text_ctx {
	struct build b;
	bool banner, header;
	bool in_gpu;
	bool in_unknown;   /* children of an unknown top-level line: already reported */
	unsigned gpu_line; /* line of the current "GPU ..." header */
	size_t col;        /* column of the ':' separator, 0 until learned */
	unsigned prev_level;
	struct slice stack[NVSMI_MAX_DEPTH];
	unsigned nproblems;
	char first[2][NVSMI_PROBLEM_BYTES], last[NVSMI_PROBLEM_BYTES];
	char *err; /* the caller's, for the errors that end the parse */
	size_t errlen;
};

/* Records a damage report. err shows the first two and the last (a cut-off is found last and
 * is the one that matters most), with the count when some were left out. */
__attribute__((format(printf, 3, 4))) static void problem(struct text_ctx *t, unsigned line,
							  const char *fmt, ...)
{
	char one[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(one, sizeof(one), fmt, ap);
	va_end(ap);
	char *dst = t->nproblems < 2 ? t->first[t->nproblems] : t->last;
	snprintf(dst, NVSMI_PROBLEM_BYTES, "line %u: %s", line, one);
	t->nproblems++;
}

static bool valid_bus_id(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > NVSMI_ID_MAX_BYTES)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
		      c == ':' || c == '.'))
			return false;
	}
	return true;
}

static void text_gpu_end(struct text_ctx *t, unsigned line)
{
	if (!t->in_gpu)
		return;
	if (!t->b.procs_seen)
		problem(t, line,
			"GPU %s (line %u) ends before its \"Processes\" entry: output cut off",
			valid_bus_id(t->b.gpu->id) ? t->b.gpu->id : "?", t->gpu_line);
	gpu_end(&t->b);
	t->in_gpu = false;
}

static int dup_slice(struct slice v, char **out)
{
	*out = strndup(v.s, v.n);
	return *out ? 0 : -ENOMEM;
}

/* One line without its '\n' (and '\r'). Returns 0, or a negative errno that ends the parse. */
static int text_line(struct text_ctx *t, const char *l, size_t n, unsigned line)
{
	int rc;
	while (n > 0 && (l[n - 1] == ' ' || l[n - 1] == '\r'))
		n--;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)l[i];
		if (c < 0x20 || c == 0x7f) {
			problem(t, line, "control character 0x%02x", c);
			return 0;
		}
	}
	size_t indent = 0;
	while (indent < n && l[indent] == ' ')
		indent++;
	if (indent % 4 != 0) {
		problem(t, line, "indentation of %zu spaces is not a multiple of 4", indent);
		return 0;
	}
	unsigned level = (unsigned)(indent / 4);
	if (level >= NVSMI_MAX_DEPTH) {
		set_err(t->err, t->errlen, "line %u: indented deeper than %d levels", line,
			NVSMI_MAX_DEPTH - 1);
		return -E2BIG;
	}

	/* The separator is the first ':' with a space before it and a space or the end after. */
	size_t sep = 0;
	for (size_t i = indent + 1; i < n; i++)
		if (l[i] == ':' && l[i - 1] == ' ' && (i + 1 == n || l[i + 1] == ' ')) {
			sep = i;
			break;
		}
	struct slice key = { l + indent, (sep ? sep : n) - indent }, val = { "", 0 };
	while (key.n > 0 && key.s[key.n - 1] == ' ')
		key.n--;
	/* Keys are ASCII; checked first so that err, which quotes keys, stays ASCII too. */
	for (size_t i = 0; i < key.n; i++)
		if ((unsigned char)key.s[i] >= 0x7f) {
			problem(t, line, "key with a non-ASCII byte");
			return 0;
		}
	if (sep) {
		val.s = l + sep + 1;
		val.n = n - sep - 1;
		while (val.n > 0 && val.s[0] == ' ')
			val.s++, val.n--;
		/* Columns line up; a key too long for its column pushes the ':' right by one space. */
		if (t->col == 0)
			t->col = sep;
		else if (sep != t->col && !(sep > t->col && l[sep - 2] != ' '))
			problem(t, line,
				"key '%.*s' is misaligned (':' in column %zu, expected %zu)",
				(int)(key.n > 60 ? 60 : key.n), key.s, sep + 1, t->col + 1);
	}

	if (level == 0) {
		if (!sep && key.s[0] == '=' && memmem(key.s, key.n, "NVSMI LOG", 9)) {
			t->banner = true;
			return 0;
		}
		text_gpu_end(t, line);
		t->in_unknown = false;
		if (!sep && key.n > 4 && memcmp(key.s, "GPU ", 4) == 0) {
			rc = gpu_begin(&t->b);
			if (rc == -E2BIG)
				set_err(t->err, t->errlen, "line %u: more than %d GPUs", line,
					NVSMI_MAX_GPUS);
			if (rc < 0)
				return rc;
			t->in_gpu = true;
			t->gpu_line = line;
			t->prev_level = 0;
			struct slice id = { key.s + 4, key.n - 4 };
			rc = dup_slice(id, &t->b.gpu->id);
			if (rc < 0)
				return rc;
			if (!valid_bus_id(t->b.gpu->id))
				problem(t, line, "GPU section header with a malformed bus id");
			return 0;
		}
		if (!sep) {
			problem(t, line, "unexpected top-level line '%.*s'",
				(int)(key.n > 60 ? 60 : key.n), key.s);
			t->in_unknown = true;
			return 0;
		}
		char k[64], v[NVSMI_MAX_LINE_BYTES + 1];
		if (key.n >= sizeof(k))
			return 0;
		memcpy(k, key.s, key.n);
		k[key.n] = '\0';
		memcpy(v, val.s, val.n);
		v[val.n] = '\0';
		enum field f = map_find(text_header_map, ARRAY_SIZE(text_header_map), k);
		if (f != F_NONE)
			t->header = true;
		return apply(&t->b, f, v);
	}

	if (!t->in_gpu) {
		if (!t->in_unknown)
			problem(t, line, "indented line outside a GPU section");
		return 0;
	}
	if (level > t->prev_level + 1) {
		problem(t, line, "indentation jumps from level %u to %u", t->prev_level, level);
		return 0;
	}
	t->prev_level = level;
	t->stack[level - 1] = key;

	char path[NVSMI_PATH_CAP];
	size_t plen = 0;
	for (unsigned i = 0; i < level; i++) {
		struct slice k = t->stack[i];
		if (plen + k.n + 2 > sizeof(path))
			return 0;
		if (i)
			path[plen++] = '/';
		memcpy(path + plen, k.s, k.n);
		plen += k.n;
	}
	path[plen] = '\0';
	enum field f = map_find(text_gpu_map, ARRAY_SIZE(text_gpu_map), path);
	if (f == F_PROCS)
		t->b.procs_seen = true;
	if (f == F_NONE || (!sep && f != F_PROC_NEW))
		return 0;
	char v[NVSMI_MAX_LINE_BYTES + 1];
	memcpy(v, val.s, val.n);
	v[val.n] = '\0';
	rc = apply(&t->b, f, v);
	if (rc == -E2BIG)
		set_err(t->err, t->errlen, "line %u: more than %d processes in one GPU", line,
			NVSMI_MAX_PROCESSES);
	return rc;
}

int nvsmi_parse_query(const char *buf, size_t len, struct nvsmi_report *out, char *err,
		      size_t errlen)
{
	report_init(out);
	set_err(err, errlen, "%s", "");
	if (len > NVSMI_MAX_INPUT_BYTES) {
		set_err(err, errlen, "nvidia-smi output is %zu bytes, more than %u", len,
			NVSMI_MAX_INPUT_BYTES);
		return -E2BIG;
	}
	struct text_ctx *t = calloc(1, sizeof(*t));
	if (!t) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->b.r = out;
	t->err = err;
	t->errlen = errlen;
	int rc = 0;
	unsigned line = 0;
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		line++;
		if ((size_t)(le - p) > NVSMI_MAX_LINE_BYTES) {
			rc = -E2BIG;
			set_err(err, errlen, "line %u is longer than %d bytes", line,
				NVSMI_MAX_LINE_BYTES);
			goto out;
		}
		rc = text_line(t, p, (size_t)(le - p), line);
		if (rc < 0)
			goto out;
		p = nl ? nl + 1 : end;
	}
	text_gpu_end(t, line);
	if (!t->banner && !t->header && out->ngpus == 0) {
		rc = -EINVAL;
		set_err(err, errlen,
			"not nvidia-smi -q output (no NVSMI LOG banner, header or GPU)");
		goto out;
	}
	if (!t->banner)
		problem(t, 1, "no NVSMI LOG banner: output cut at the start");
	if (out->attached_gpus >= 0 && out->ngpus != (size_t)out->attached_gpus)
		problem(t, line, "%zu GPU sections but \"Attached GPUs\" is %d%s", out->ngpus,
			out->attached_gpus,
			out->ngpus < (size_t)out->attached_gpus ? ": output cut off" : "");
	if (t->nproblems) {
		rc = -EPROTO;
		if (t->nproblems == 1)
			set_err(err, errlen, "damaged nvidia-smi -q output: %s", t->first[0]);
		else if (t->nproblems == 2)
			set_err(err, errlen, "damaged nvidia-smi -q output: %s; %s", t->first[0],
				t->first[1]);
		else
			set_err(err, errlen,
				"damaged nvidia-smi -q output (%u problems): %s; %s;%s %s",
				t->nproblems, t->first[0], t->first[1],
				t->nproblems > 3 ? " ...;" : "", t->last);
	}
out:
	if (rc == -ENOMEM)
		set_err(err, errlen, "out of memory");
	free(t);
	if (rc < 0 && rc != -EPROTO)
		nvsmi_report_done(out);
	return rc;
}

/* ---- JSON ------------------------------------------------------------------------------ */

static json_t *j_str(const char *s)
{
	return s ? json_string_lossy(s, strlen(s)) : json_null();
}

static json_t *j_int(int64_t v)
{
	return v < 0 ? json_null() : json_integer(v);
}

/* temperature_c may be below zero; only the -1 placeholder is absent. */
static json_t *j_temp(int64_t v)
{
	return v == -1 ? json_null() : json_integer(v);
}

static json_t *j_real(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

static json_t *j_pid(const char *s)
{
	uint64_t n;
	if (s && util_parse_u64(s, INT64_MAX, &n) == 0)
		return json_integer((json_int_t)n);
	return json_null();
}

/* Sets o[k] = v (stealing v); false when either is missing. */
static bool put(json_t *o, const char *k, json_t *v)
{
	if (!o) {
		json_decref(v);
		return false;
	}
	return json_object_set_new(o, k, v) == 0;
}

static json_t *pair(const char *k1, json_t *v1, const char *k2, json_t *v2)
{
	json_t *o = json_object();
	bool ok = put(o, k1, v1);
	ok = put(o, k2, v2) && ok;
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *gpu_json(const struct nvsmi_gpu *g)
{
	json_t *o = json_object();
	bool ok = o != NULL;
	ok = put(o, "index", json_integer(g->index)) && ok;
	ok = put(o, "id", j_str(g->id)) && ok;
	ok = put(o, "name", j_str(g->name)) && ok;
	ok = put(o, "uuid", j_str(g->uuid)) && ok;
	ok = put(o, "serial", j_str(g->serial)) && ok;
	ok = put(o, "pci_bus_id", j_str(g->pci_bus_id)) && ok;
	ok = put(o, "vbios_version", j_str(g->vbios_version)) && ok;
	ok = put(o, "temperature_c", j_temp(g->temperature_c)) && ok;
	ok = put(o, "fan_speed_pct", j_int(g->fan_speed_pct)) && ok;
	ok = put(o, "utilization",
		 pair("gpu_pct", j_int(g->utilization_gpu_pct), "memory_pct",
		      j_int(g->utilization_memory_pct))) &&
	     ok;
	json_t *mem = pair("total_mib", j_int(g->memory_total_mib), "used_mib",
			   j_int(g->memory_used_mib));
	ok = put(mem, "free_mib", j_int(g->memory_free_mib)) && ok;
	ok = put(o, "memory", mem) && ok;
	ok = put(o, "power",
		 pair("draw_w", j_real(g->power_draw_w), "limit_w", j_real(g->power_limit_w))) &&
	     ok;
	json_t *clk = pair("graphics_mhz", j_int(g->clock_graphics_mhz), "sm_mhz",
			   j_int(g->clock_sm_mhz));
	ok = put(clk, "memory_mhz", j_int(g->clock_memory_mhz)) && ok;
	ok = put(clk, "max_graphics_mhz", j_int(g->clock_max_graphics_mhz)) && ok;
	ok = put(o, "clocks", clk) && ok;
	ok = put(o, "ecc",
		 pair("volatile",
		      pair("corrected", j_int(g->ecc_volatile_corrected), "uncorrected",
			   j_int(g->ecc_volatile_uncorrected)),
		      "aggregate",
		      pair("corrected", j_int(g->ecc_aggregate_corrected), "uncorrected",
			   j_int(g->ecc_aggregate_uncorrected)))) &&
	     ok;
	ok = put(o, "persistence_mode", j_str(g->persistence_mode)) && ok;
	ok = put(o, "performance_state", j_str(g->performance_state)) && ok;
	ok = put(o, "compute_mode", j_str(g->compute_mode)) && ok;
	ok = put(o, "mig_mode", j_str(g->mig_mode)) && ok;
	json_t *procs = json_array();
	for (size_t i = 0; procs && i < g->nprocs; i++) {
		const struct nvsmi_process *p = &g->procs[i];
		json_t *po = pair("pid", j_pid(p->pid), "name", j_str(p->name));
		ok = put(po, "type", j_str(p->type)) && ok;
		ok = put(po, "used_memory_mib", j_int(p->used_memory_mib)) && ok;
		ok = po && json_array_append_new(procs, po) == 0 && ok;
	}
	ok = put(o, "processes", procs) && ok;
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *nvsmi_report_json(const struct nvsmi_report *r)
{
	json_t *o = json_object();
	bool ok = o != NULL;
	ok = put(o, "driver_version", j_str(r->driver_version)) && ok;
	ok = put(o, "cuda_version", j_str(r->cuda_version)) && ok;
	ok = put(o, "timestamp", j_str(r->timestamp)) && ok;
	ok = put(o, "attached_gpus",
		 r->attached_gpus < 0 ? json_null() : json_integer(r->attached_gpus)) &&
	     ok;
	json_t *gpus = json_array();
	for (size_t i = 0; gpus && i < r->ngpus; i++) {
		json_t *g = gpu_json(&r->gpus[i]);
		ok = g && json_array_append_new(gpus, g) == 0 && ok;
	}
	ok = put(o, "gpus", gpus) && ok;
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}
