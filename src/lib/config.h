/*
 * config.h - strict parser for the TOML subset our configuration files use, and a schema checker.
 *
 * Who uses it: cloister-agent (an unmodified flashbots `systemapi-config.toml` plus our own
 * keys), cloisterd and the cli. No C TOML parser ships in Debian bookworm, so this one is small,
 * strict and fuzzed (fuzz/fuzz_config.c).
 *
 * Grammar accepted (anything else is an error with a 1-based line number and a short message):
 *   - comments (`# ...`, whole line or after a value), blank lines, LF or CRLF line endings,
 *     a UTF-8 BOM at the very start; the whole input must be valid UTF-8 with no control
 *     characters other than tab (also inside comments, as TOML requires);
 *   - table headers `[a]`, `[a.b]` made of bare names [A-Za-z0-9_-]+ (quoted table names and
 *     `[[arrays.of.tables]]` are rejected); `[a.b]` implies table `a`, which may be defined later;
 *   - `key = value` where key is bare or quoted ("basic" or 'literal'; dotted keys rejected);
 *   - values: "basic strings" (escapes \" \\ \b \f \n \r \t \uXXXX \UXXXXXXXX; no NUL, no
 *     surrogates), 'literal strings', integers (decimal with optional sign and `_` between
 *     digits, no leading zeros; hexadecimal 0x...), true/false, and arrays of strings (may span
 *     lines, may hold comments, trailing comma allowed). Floats, dates/times, inline tables,
 *     multi-line strings, octal/binary integers and arrays of other types are rejected by name.
 *   - a key defined twice in one table, a table header given twice, or one name used both as a
 *     key and as a table is an error.
 *
 * Ownership: config_parse fills a caller-provided struct config_doc whose strings and arrays
 * it owns; release with config_doc_done. config_find returns a pointer borrowed from the doc.
 * Thread safety: no global state; a doc may be read from several threads, not modified.
 *
 * Limits (exceeding one returns -E2BIG): see the CONFIG_MAX_* constants below.
 */
#ifndef CLOISTER_CONFIG_H
#define CLOISTER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define CONFIG_MAX_BYTES (1024 * 1024) /* whole file, in bytes (BOM included) */
#define CONFIG_MAX_LINE_BYTES 8192     /* one physical line, in bytes, without its LF/CRLF */
#define CONFIG_MAX_KEY_BYTES 128 /* a key or one table-name component, in bytes after decoding */
#define CONFIG_MAX_STRING_BYTES 4096 /* a string value or array item, in bytes after decoding */
#define CONFIG_MAX_ARRAY_ITEMS 256   /* items in one array */
#define CONFIG_MAX_ENTRIES 4096      /* key/value pairs in a document; also the cap on tables */
#define CONFIG_MAX_TABLE_DEPTH 4     /* components in a table name: [a.b.c.d] is the deepest */

enum config_type { CONFIG_STRING = 1, CONFIG_INT, CONFIG_BOOL, CONFIG_STRING_ARRAY };

struct config_entry {
	char *table; /* "" for the root table, "general", "a.b" for dotted */
	char *key;
	enum config_type type;
	char *str;     /* CONFIG_STRING: NUL-terminated (no embedded NUL possible) */
	long long num; /* CONFIG_INT */
	bool boolean;  /* CONFIG_BOOL */
	char **arr;    /* CONFIG_STRING_ARRAY: arr_len strings, then a NULL (usable as an argv) */
	size_t arr_len;
	unsigned line; /* 1-based line of the key */
};

/* A table named by a header, or implied by one ([a.b] implies [a]). */
struct config_table {
	char *name;    /* "general", "a.b" (never the root table) */
	unsigned line; /* 1-based line of the header that defined (or first implied) it */
	bool defined;  /* false when only implied by a deeper header */
};

struct config_doc {
	struct config_entry *entries; /* in file order */
	size_t n;
	struct config_table *tables; /* in order of first appearance */
	size_t n_tables;
};

struct config_error {
	unsigned line; /* 1-based; 0 when the error is not about one line (I/O, size) */
	char msg[192];
};

/* Parses text (len bytes; need not be NUL-terminated). On success fills doc (caller calls
 * config_doc_done) and returns 0. On failure returns a negative errno (-EINVAL syntax, -E2BIG
 * limit, -ENOMEM), fills err (may be NULL), and leaves doc empty. doc need not be initialised. */
int config_parse(const char *text, size_t len, struct config_doc *doc, struct config_error *err);

/* Reads a regular file (at most CONFIG_MAX_BYTES; -E2BIG past it) and parses it. I/O errors
 * return the negative errno with err->line 0. */
int config_parse_file(const char *path, struct config_doc *doc, struct config_error *err);

/* Frees everything the doc owns and empties it. Accepts an empty or already-done doc. */
void config_doc_done(struct config_doc *doc);

/* The entry for (table, key), or NULL. table "" (or NULL) is the root table. Borrowed from doc. */
const struct config_entry *config_find(const struct config_doc *doc, const char *table,
				       const char *key);

/* Tables present in the document, including tables with no keys and implied parents. */
size_t config_table_count(const struct config_doc *doc);
/* True when the document has that table (defined or implied); "" (root) is always present. */
bool config_has_table(const struct config_doc *doc, const char *table);

/* One row of a program's key table (Redis style). key == NULL makes `table` an open table: any
 * key is accepted there when its type matches `type` (or, for CONFIG_STRING, is a
 * CONFIG_STRING_ARRAY: actions take a command string or an argv array). min/max bound ints. */
struct config_key {
	const char *table;
	const char *key;
	enum config_type type;
	long long min, max; /* for CONFIG_INT */
};

/* Checks every entry (and every table) of doc against keys[n]: an unknown key, a table no row
 * names (nor any row's table below it), a wrong type or an int out of [min, max] is an error.
 * Returns 0, or -EINVAL with err filled for the first error in file order. */
int config_check(const struct config_doc *doc, const struct config_key *keys, size_t n,
		 struct config_error *err);

#endif
