/*
 * nvsmi.h - parsers for nvidia-smi output: `nvidia-smi -q -x` (XML, schema v10..v13) and
 * `nvidia-smi -q` (indented "Key : Value" text), into one per-GPU report, and its JSON form.
 *
 * Used by the agent's GPU telemetry (GET /gpu); the output of the command is untrusted bytes.
 * Both parsers are pure functions over a buffer: nothing is read from disk or the network (the
 * XML DOCTYPE is accepted but never fetched, and any entity declaration is refused, so neither
 * external entities nor entity expansion can happen).
 *
 * Ownership: a parser fills a caller-provided struct nvsmi_report whose strings and arrays it
 * allocates; the caller releases them with nvsmi_report_done() whatever the parser returned.
 * Thread safety: no global state; distinct reports may be parsed from several threads at once.
 *
 * Limits (each past-the-limit input fails with -E2BIG and leaves the report empty):
 *   NVSMI_MAX_INPUT_BYTES  the whole output
 *   NVSMI_MAX_GPUS         GPU sections in one output
 *   NVSMI_MAX_PROCESSES    processes listed under one GPU
 *   NVSMI_MAX_DEPTH        XML element nesting / text indentation levels
 *   NVSMI_MAX_TEXT_BYTES   character data directly inside one XML element
 *   NVSMI_MAX_LINE_BYTES   one line of the text form
 */
#ifndef CLOISTER_NVSMI_H
#define CLOISTER_NVSMI_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define NVSMI_MAX_INPUT_BYTES (8u << 20)
#define NVSMI_MAX_GPUS 64
#define NVSMI_MAX_PROCESSES 256 /* per GPU */
#define NVSMI_MAX_DEPTH 32
#define NVSMI_MAX_TEXT_BYTES 1024
#define NVSMI_MAX_LINE_BYTES 2048

struct nvsmi_process {
	char *pid;  /* NULL when absent */
	char *name; /* process name as printed */
	char *type; /* "C", "G", "C+G" */
	int64_t used_memory_mib;
};

/*
 * Numbers come from strings like "34 C", "81559 MiB", "63.21 W", "1410 MHz", "12 %". A value that
 * is missing, "N/A", "[N/A]", "[Not Supported]" or otherwise not a number with the expected unit
 * is -1 (NAN for doubles); a string that is missing or one of those placeholders is NULL.
 */
struct nvsmi_gpu {
	char *id; /* PCI bus id from the section header / gpu id attribute, "00000000:18:00.0" */
	char *name, *uuid, *serial, *pci_bus_id, *vbios_version;
	int index; /* position in the output, 0-based (nvidia-smi -i order) */
	int64_t temperature_c, fan_speed_pct, utilization_gpu_pct, utilization_memory_pct;
	int64_t memory_total_mib, memory_used_mib, memory_free_mib;
	/* draw: "Power Draw", else "Average Power Draw" (schema v13), else "Instant Power Draw";
	 * limit: "Current Power Limit" / "Power Limit", else "Enforced Power Limit". */
	double power_draw_w, power_limit_w;
	int64_t clock_graphics_mhz, clock_sm_mhz, clock_memory_mhz, clock_max_graphics_mhz;
	/* Totals: single-bit (corrected) and double-bit (uncorrected) "Total" in old schemas,
	 * SRAM + DRAM correctable / uncorrectable (parity + SEC-DED) in new ones. -1 when ECC is
	 * unsupported or absent. */
	int64_t ecc_volatile_corrected, ecc_volatile_uncorrected, ecc_aggregate_corrected,
		ecc_aggregate_uncorrected;
	char *persistence_mode, *performance_state, *compute_mode, *mig_mode;
	struct nvsmi_process *procs;
	size_t nprocs;
};

struct nvsmi_report {
	char *timestamp, *driver_version, *cuda_version;
	int attached_gpus; /* as reported, -1 if absent */
	struct nvsmi_gpu *gpus;
	size_t ngpus;
};

/*
 * Parses `nvidia-smi -q -x` XML. The DOCTYPE is allowed but never fetched; entity declarations
 * and references to undeclared entities are refused (-EINVAL), so nothing is ever expanded.
 * Returns 0; -EINVAL when the document is not well-formed or not an <nvidia_smi_log> (err gets
 * e.g. "XML syntax error at line 120: unclosed token"); -E2BIG past a limit; -ENOMEM.
 * out is always initialised; on failure it is left empty. err (may be NULL) gets a message.
 */
int nvsmi_parse_xml(const char *buf, size_t len, struct nvsmi_report *out, char *err,
		    size_t errlen);

/*
 * Parses `nvidia-smi -q` text. Damage (a GPU section cut off before its "Processes" entry, a GPU
 * count other than "Attached GPUs", misaligned or non-ASCII keys, control characters, bad
 * indentation, unknown top-level lines, no banner) gives -EPROTO with the problems and their
 * lines in err, BUT out still holds everything recovered (the header fields at least). Input with
 * nothing of nvidia-smi -q in it is -EINVAL; -E2BIG past a limit; -ENOMEM; out is left empty on
 * those three. Meant for the full `-q` output: one filtered with -d lacks "Processes" and one
 * filtered with -i has fewer sections than "Attached GPUs", so both read as cut off (-EPROTO,
 * data intact).
 */
int nvsmi_parse_query(const char *buf, size_t len, struct nvsmi_report *out, char *err,
		      size_t errlen);

/* Frees everything the report owns and empties it; accepts NULL and an emptied report. */
void nvsmi_report_done(struct nvsmi_report *r);

/*
 * JSON for GET /gpu: {"driver_version","cuda_version","timestamp","attached_gpus","gpus":[{
 *   "index","id","name","uuid","serial","pci_bus_id","vbios_version","temperature_c",
 *   "fan_speed_pct","utilization":{"gpu_pct","memory_pct"},
 *   "memory":{"total_mib","used_mib","free_mib"},"power":{"draw_w","limit_w"},
 *   "clocks":{"graphics_mhz","sm_mhz","memory_mhz","max_graphics_mhz"},
 *   "ecc":{"volatile":{"corrected","uncorrected"},"aggregate":{...}},"persistence_mode",
 *   "performance_state","compute_mode","mig_mode",
 *   "processes":[{"pid","name","type","used_memory_mib"}]}]}
 * Absent values are null; "pid" is an integer (null when not a decimal number); strings that are
 * not valid UTF-8 get U+FFFD. New reference the caller owns (json_decref); NULL on ENOMEM.
 */
json_t *nvsmi_report_json(const struct nvsmi_report *r);

#endif
