/*
 * sysd.h - parse `systemctl show` output and map one unit to the sek8s status shape.
 *
 * Who uses it: cloister-agent's `GET /services/{id}/status` and `/overview`, which run
 *   systemctl show <unit> --no-pager --property=Id --property=LoadState ... --property=UnitFileState
 * and hand the captured stdout here. The bytes come from a child process and are treated as
 * untrusted: every length is bounded, nothing is unescaped or interpreted.
 *
 * Format accepted (what systemctl prints, and what the recorded RHEL samples contain):
 *   - one "Key=Value" per line; the value is everything after the FIRST '=' (values may contain
 *     '=' and spaces; escaped unit names such as `dev-mapper-rhel\x5cx2dswap.swap` are kept
 *     verbatim);
 *   - a blank line ends a unit (multi-unit output); runs of blank lines count as one; a block
 *     without any property is not a unit;
 *   - "\r\n" line ends are accepted (the '\r' is dropped);
 *   - lines without '=' (continuation lines of cut output) and lines with an empty key or a key
 *     longer than SYSD_MAX_KEY_BYTES are skipped and counted, never an error;
 *   - a value longer than SYSD_MAX_VALUE_BYTES is cut (at a UTF-8 character boundary) and the
 *     property is flagged value_truncated;
 *   - a NUL byte anywhere is refused (-EINVAL): systemctl never prints one and a C string could
 *     not carry it.
 * A key that appears twice in one unit: sysd_unit_get returns the LAST one (as the sek8s parser,
 * a Python dict, does).
 *
 * Ownership: sysd_parse_show fills a caller-provided struct sysd_show that owns everything it
 * points to (one copy of the input plus two arrays); release with sysd_show_done. Keys and values
 * are borrowed from it. sysd_status_json returns a new reference (json_decref).
 * Thread safety: no global state; distinct sysd_show values may be used from distinct threads.
 * Limits: SYSD_MAX_INPUT_BYTES of input, SYSD_MAX_UNITS units, SYSD_MAX_PROPS properties per unit
 * (-E2BIG past any of them); SYSD_MAX_KEY_BYTES per key, SYSD_MAX_VALUE_BYTES per value (see
 * above).
 */
#ifndef CLOISTER_SYSD_H
#define CLOISTER_SYSD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define SYSD_MAX_INPUT_BYTES (1024u * 1024u) /* whole systemctl output, bytes */
#define SYSD_MAX_UNITS 256                   /* units in one output */
#define SYSD_MAX_PROPS 1024                  /* properties in one unit */
#define SYSD_MAX_KEY_BYTES 256               /* a longer key is not a property: line skipped */
#define SYSD_MAX_VALUE_BYTES 4096            /* a longer value is cut and flagged */

struct sysd_prop {
	const char *key;      /* NUL-terminated, non-empty, borrowed from the sysd_show */
	const char *value;    /* NUL-terminated, may be empty, borrowed from the sysd_show */
	size_t value_len;     /* strlen(value) */
	bool value_truncated; /* the value was longer than SYSD_MAX_VALUE_BYTES and was cut */
};

struct sysd_unit {
	struct sysd_prop *props; /* in input order */
	size_t n;
};

struct sysd_show {
	struct sysd_unit *units; /* in input order */
	size_t n;
	size_t skipped_lines; /* non-blank lines that were not properties (see above) */
	size_t cut_values;    /* properties with value_truncated set */
	char *storage_;       /* private: the copy of the input the strings live in */
};

/*
 * Parses len bytes of `systemctl show` output (buf need not be NUL-terminated; len 0 is valid and
 * gives zero units). On success returns the number of units (out->n) and out owns the result.
 * On failure out is left empty (safe to pass to sysd_show_done) and the return is -EINVAL (NULL
 * arguments, a NUL byte in the input), -E2BIG (a limit above) or -ENOMEM.
 */
int sysd_parse_show(const char *buf, size_t len, struct sysd_show *out);

/* Frees what sysd_parse_show allocated and empties s. Accepts NULL or an empty/zeroed s. */
void sysd_show_done(struct sysd_show *s);

/* The value of key in u (last occurrence), borrowed from the owning sysd_show; NULL when the
 * unit has no such property (or on NULL arguments). Keys are case-sensitive. */
const char *sysd_unit_get(const struct sysd_unit *u, const char *key);

/*
 * The sek8s "status" object of one unit: {"load_state","active_state","sub_state",
 * "unit_file_state","main_pid","exit_code","exit_status"} from LoadState, ActiveState, SubState,
 * UnitFileState, MainPID, ExecMainCode and ExecMainStatus. Every member is the property's text as
 * a JSON string (invalid UTF-8 replaced by U+FFFD; "main_pid" stays a string such as "1234", as
 * sek8s sends it), or null when the property is absent. u may be NULL (all members null).
 * Returns a new reference, NULL on ENOMEM.
 */
json_t *sysd_status_json(const struct sysd_unit *u);

/*
 * Health of one unit, the sek8s rule with its later fixes:
 *   - LoadState=masked: healthy exactly when masked_ok (whatever the other states say);
 *   - otherwise LoadState=loaded and ActiveState=active are required, and then
 *     SubState absent, "running" or "listening" is healthy, and SubState "exited" (a oneshot
 *     with RemainAfterExit) is healthy only when ExecMainStatus is exactly "0";
 *   - anything else (failed, activating, inactive, not-found, a target's "active" substate,
 *     u NULL) is unhealthy.
 */
bool sysd_healthy(const struct sysd_unit *u, bool masked_ok);

#endif
