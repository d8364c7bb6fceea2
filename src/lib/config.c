/*
 * config.c - strict TOML-subset parser and schema checker (see config.h for the grammar).
 *
 * How it works: a first pass walks the physical lines once and enforces what holds for every
 * byte of the file (line length, UTF-8, no control characters, CR only as part of CRLF), so the
 * parser proper never meets those cases. The parser is then a cursor over the text that reads
 * one statement per line (a header, a key/value pair, a comment or nothing); only an array may
 * continue over several lines. Strings are decoded into a fixed buffer of the maximum string
 * size, so an over-long string is refused before anything is allocated for it.
 *
 * Tables are kept in a list with a "defined" flag: [a.b] implies [a] (which may still be
 * defined later), while defining one twice is an error. Name clashes between keys and tables
 * are found by comparing (parent table, last component) pairs rather than joined strings, so a
 * quoted key containing a dot never aliases a table. Lookups are linear: the entry count is
 * bounded by CONFIG_MAX_ENTRIES, which keeps the worst case at a few million string compares.
 */
#include "config.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* A decoded value before it becomes an entry. */
struct value {
	enum config_type type;
	char *str;
	long long num;
	bool boolean;
	char **arr;
	size_t arr_len;
};

struct parser {
	const char *p, *end;
	unsigned line;
	const char *cur_table; /* "" or a name owned by doc.tables */
	struct config_doc doc;
	size_t cap_entries, cap_tables;
	struct config_error *err;
	char buf[CONFIG_MAX_STRING_BYTES + 1]; /* decoded string or key */
};

__attribute__((format(printf, 4, 5))) static int fail_at(struct parser *ps, unsigned line, int rc,
							 const char *fmt, ...)
{
	va_list ap;
	ps->err->line = line;
	va_start(ap, fmt);
	vsnprintf(ps->err->msg, sizeof(ps->err->msg), fmt, ap);
	va_end(ap);
	return rc;
}

#define fail(ps, rc, ...) fail_at((ps), (ps)->line, (rc), __VA_ARGS__)

/* Copies s for an error message: control characters become '?', and long names are cut (at a
 * UTF-8 boundary) so the message keeps its point. Keys may hold any decoded character. */
#define SHOW_BYTES 64
static const char *show(char out[static SHOW_BYTES], const char *s)
{
	size_t n = strlen(s), k = n;
	if (k > SHOW_BYTES - 4) {
		k = SHOW_BYTES - 4;
		while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
			k--;
	}
	for (size_t i = 0; i < k; i++) {
		unsigned char c = (unsigned char)s[i];
		out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (k < n) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k] = '\0';
	return out;
}

static void free_strv(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void value_done(struct value *v)
{
	free(v->str);
	free_strv(v->arr, v->arr_len);
	*v = (struct value){ 0 };
}

void config_doc_done(struct config_doc *doc)
{
	if (!doc)
		return;
	for (size_t i = 0; i < doc->n; i++) {
		struct config_entry *e = &doc->entries[i];
		free(e->table);
		free(e->key);
		free(e->str);
		free_strv(e->arr, e->arr_len);
	}
	free(doc->entries);
	for (size_t i = 0; i < doc->n_tables; i++)
		free(doc->tables[i].name);
	free(doc->tables);
	*doc = (struct config_doc){ 0 };
}

/* ---- lookups ---- */

static const struct config_entry *find_entry_n(const struct config_doc *doc, const char *table,
					       size_t tlen, const char *key)
{
	for (size_t i = 0; i < doc->n; i++) {
		const struct config_entry *e = &doc->entries[i];
		if (strlen(e->table) == tlen && memcmp(e->table, table, tlen) == 0 &&
		    strcmp(e->key, key) == 0)
			return e;
	}
	return NULL;
}

const struct config_entry *config_find(const struct config_doc *doc, const char *table,
				       const char *key)
{
	if (!doc || !key)
		return NULL;
	if (!table)
		table = "";
	return find_entry_n(doc, table, strlen(table), key);
}

static struct config_table *find_table(const struct config_doc *doc, const char *name)
{
	for (size_t i = 0; i < doc->n_tables; i++)
		if (strcmp(doc->tables[i].name, name) == 0)
			return &doc->tables[i];
	return NULL;
}

size_t config_table_count(const struct config_doc *doc)
{
	return doc ? doc->n_tables : 0;
}

bool config_has_table(const struct config_doc *doc, const char *table)
{
	if (!doc)
		return false;
	if (!table || !*table)
		return true;
	return find_table(doc, table) != NULL;
}

/* Splits a table name into its parent ("" for a top-level table) and its last component.
 * Table components are bare names, so the last '.' is always the separator. */
static void table_split(const char *name, size_t *parent_len, const char **last)
{
	const char *dot = strrchr(name, '.');
	*parent_len = dot ? (size_t)(dot - name) : 0;
	*last = dot ? dot + 1 : name;
}

/* ---- first pass: properties of every line ---- */

static int check_lines(struct parser *ps)
{
	const char *p = ps->p;
	while (p < ps->end) {
		const char *nl = memchr(p, '\n', (size_t)(ps->end - p));
		size_t n = (size_t)((nl ? nl : ps->end) - p);
		if (nl && n > 0 && p[n - 1] == '\r')
			n--;
		if (n > CONFIG_MAX_LINE_BYTES)
			return fail(ps, -E2BIG, "line is longer than %d bytes",
				    CONFIG_MAX_LINE_BYTES);
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)p[i];
			if (c == '\r')
				return fail(ps, -EINVAL,
					    "carriage return not followed by a line feed");
			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return fail(ps, -EINVAL, "control character 0x%02x is not allowed",
					    c);
		}
		if (!util_utf8_valid(p, n))
			return fail(ps, -EINVAL, "invalid UTF-8");
		if (!nl)
			break;
		p = nl + 1;
		ps->line++;
	}
	ps->line = 1;
	return 0;
}

/* ---- lexical helpers ---- */

/* The first pass guarantees a CR is followed by LF, so CR alone marks the end of a line. */
static bool at_eol(const struct parser *ps)
{
	return ps->p == ps->end || *ps->p == '\n' || *ps->p == '\r';
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))
		ps->p++;
}

static void skip_comment(struct parser *ps)
{
	if (ps->p < ps->end && *ps->p == '#')
		while (!at_eol(ps))
			ps->p++;
}

static void eat_newline(struct parser *ps)
{
	if (ps->p < ps->end && *ps->p == '\r')
		ps->p++;
	if (ps->p < ps->end && *ps->p == '\n') {
		ps->p++;
		ps->line++;
	}
}

/* Whitespace, comments and line ends, as allowed between the items of an array. */
static void skip_blank(struct parser *ps)
{
	for (;;) {
		skip_ws(ps);
		skip_comment(ps);
		if (ps->p == ps->end || !at_eol(ps))
			return;
		eat_newline(ps);
	}
}

static int expect_eol(struct parser *ps, const char *after)
{
	skip_ws(ps);
	skip_comment(ps);
	if (!at_eol(ps))
		return fail(ps, -EINVAL, "unexpected characters after %s", after);
	eat_newline(ps);
	return 0;
}

static bool is_bare(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static size_t utf8_encode(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* ---- strings ---- */

static int parse_unicode_escape(struct parser *ps, char kind, char out[4], size_t *outlen)
{
	int digits = kind == 'u' ? 4 : 8;
	uint32_t cp = 0;
	for (int k = 0; k < digits; k++) {
		int d = ps->p < ps->end ? hex_digit(*ps->p) : -1;
		if (d < 0)
			return fail(ps, -EINVAL, "escape \\%c needs %d hex digits", kind, digits);
		cp = cp << 4 | (uint32_t)d;
		ps->p++;
	}
	if (cp == 0)
		return fail(ps, -EINVAL, "NUL characters are not allowed in strings");
	if (cp >= 0xd800 && cp <= 0xdfff)
		return fail(ps, -EINVAL, "escape \\%c names a surrogate code point", kind);
	if (cp > 0x10ffff)
		return fail(ps, -EINVAL, "escape \\%c is beyond U+10FFFF", kind);
	*outlen = utf8_encode(cp, out);
	return 0;
}

/* Decodes the string at ps->p (on its opening quote) into ps->buf, at most limit bytes.
 * what names the thing in messages ("string", "key"). */
static int parse_string(struct parser *ps, size_t limit, const char *what, size_t *outlen)
{
	char quote = *ps->p;
	if (ps->end - ps->p >= 3 && ps->p[1] == quote && ps->p[2] == quote)
		return fail(ps, -EINVAL, "multi-line strings are not supported");
	ps->p++;
	size_t n = 0;
	for (;;) {
		if (at_eol(ps))
			return fail(ps, -EINVAL, "unterminated %s", what);
		char c = *ps->p;
		if (c == quote) {
			ps->p++;
			break;
		}
		char tmp[4] = { c };
		size_t tl = 1;
		ps->p++;
		if (c == '\\' && quote == '"') {
			char e = ps->p < ps->end ? *ps->p : '\0';
			if (ps->p < ps->end)
				ps->p++;
			switch (e) {
			case '"':
			case '\\':
				tmp[0] = e;
				break;
			case 'b':
				tmp[0] = '\b';
				break;
			case 'f':
				tmp[0] = '\f';
				break;
			case 'n':
				tmp[0] = '\n';
				break;
			case 'r':
				tmp[0] = '\r';
				break;
			case 't':
				tmp[0] = '\t';
				break;
			case 'u':
			case 'U': {
				int rc = parse_unicode_escape(ps, e, tmp, &tl);
				if (rc < 0)
					return rc;
				break;
			}
			default:
				if (e > 0x20 && e < 0x7f)
					return fail(ps, -EINVAL, "invalid escape \\%c in %s", e,
						    what);
				return fail(ps, -EINVAL, "invalid escape in %s", what);
			}
		}
		if (n + tl > limit)
			return fail(ps, -E2BIG, "%s is longer than %zu bytes", what, limit);
		memcpy(ps->buf + n, tmp, tl);
		n += tl;
	}
	ps->buf[n] = '\0';
	*outlen = n;
	return 0;
}

/* ---- scalars ---- */

static bool tok_is(const char *tok, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(tok, word, n) == 0;
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return false;
	return true;
}

/* Digits of the given base with single '_' only between digits. */
static int parse_digits(struct parser *ps, const char *s, size_t n, unsigned base,
			unsigned long long limit, unsigned long long *out)
{
	unsigned long long v = 0;
	if (n == 0)
		return fail(ps, -EINVAL, "invalid integer");
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '_') {
			if (i == 0 || i + 1 == n || s[i - 1] == '_' || s[i + 1] == '_')
				return fail(ps, -EINVAL,
					    "'_' in an integer must be between digits");
			continue;
		}
		int d = base == 16 ? hex_digit(s[i]) : (is_digit(s[i]) ? s[i] - '0' : -1);
		if (d < 0)
			return fail(ps, -EINVAL, "invalid integer");
		if (v > (limit - (unsigned)d) / base)
			return fail(ps, -EINVAL, "integer out of range");
		v = v * base + (unsigned)d;
	}
	*out = v;
	return 0;
}

static int parse_number(struct parser *ps, const char *tok, size_t n, struct value *v)
{
	bool sign = tok[0] == '+' || tok[0] == '-', neg = tok[0] == '-';
	const char *s = tok + sign;
	size_t sn = n - sign;

	if (tok_is(s, sn, "inf") || tok_is(s, sn, "nan"))
		return fail(ps, -EINVAL, "floats are not supported");
	if (sn == 0 || !is_digit(s[0]))
		return fail(ps, -EINVAL, "invalid value (strings must be quoted)");
	if (!sign && ((n > 4 && all_digits(tok, 4) && tok[4] == '-') ||
		      (n > 2 && all_digits(tok, 2) && tok[2] == ':')))
		return fail(ps, -EINVAL, "dates and times are not supported");
	if (sn > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) {
		if (s[1] != 'x')
			return fail(ps, -EINVAL, "octal and binary integers are not supported");
		if (sign)
			return fail(ps, -EINVAL, "hexadecimal integers cannot have a sign");
		unsigned long long u;
		int rc = parse_digits(ps, s + 2, sn - 2, 16, LLONG_MAX, &u);
		if (rc < 0)
			return rc;
		v->type = CONFIG_INT;
		v->num = (long long)u;
		return 0;
	}
	if (memchr(s, '.', sn) || memchr(s, 'e', sn) || memchr(s, 'E', sn))
		return fail(ps, -EINVAL, "floats are not supported");
	if (s[0] == '0' && sn > 1)
		return fail(ps, -EINVAL, "leading zeros are not allowed in integers");
	unsigned long long u, limit = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;
	int rc = parse_digits(ps, s, sn, 10, limit, &u);
	if (rc < 0)
		return rc;
	v->type = CONFIG_INT;
	if (!neg)
		v->num = (long long)u;
	else if (u == (unsigned long long)LLONG_MAX + 1)
		v->num = LLONG_MIN;
	else
		v->num = -(long long)u;
	return 0;
}

/* Characters that can belong to a number, boolean, date or float token. Reading the whole
 * token first lets us name what an unsupported value is instead of failing on its first odd
 * character. */
static bool is_tok(char c)
{
	return is_bare(c) || c == '+' || c == '.' || c == ':';
}

static int parse_scalar(struct parser *ps, struct value *v)
{
	if (at_eol(ps) || *ps->p == '#')
		return fail(ps, -EINVAL, "missing value");
	char c = *ps->p;
	if (c == '"' || c == '\'') {
		size_t n;
		int rc = parse_string(ps, CONFIG_MAX_STRING_BYTES, "string", &n);
		if (rc < 0)
			return rc;
		v->type = CONFIG_STRING;
		v->str = strndup(ps->buf, n);
		return v->str ? 0 : fail(ps, -ENOMEM, "out of memory");
	}
	if (c == '{')
		return fail(ps, -EINVAL, "inline tables are not supported");
	const char *tok = ps->p;
	while (ps->p < ps->end && is_tok(*ps->p))
		ps->p++;
	size_t n = (size_t)(ps->p - tok);
	if (n == 0)
		return fail(ps, -EINVAL, "invalid value (strings must be quoted)");
	if (tok_is(tok, n, "true") || tok_is(tok, n, "false")) {
		v->type = CONFIG_BOOL;
		v->boolean = tok[0] == 't';
		return 0;
	}
	return parse_number(ps, tok, n, v);
}

static int parse_array(struct parser *ps, struct value *v)
{
	unsigned open_line = ps->line;
	char **arr = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	ps->p++;
	for (;;) {
		skip_blank(ps);
		if (ps->p == ps->end) {
			rc = fail(ps, -EINVAL, "unterminated array (opened on line %u)", open_line);
			goto out;
		}
		if (*ps->p == ']') {
			ps->p++;
			break;
		}
		if (*ps->p == '[') {
			rc = fail(ps, -EINVAL, "nested arrays are not supported");
			goto out;
		}
		if (*ps->p == ',') {
			rc = fail(ps, -EINVAL, "expected a value before ','");
			goto out;
		}
		struct value item = { 0 };
		rc = parse_scalar(ps, &item);
		if (rc < 0)
			goto out;
		if (item.type != CONFIG_STRING) {
			value_done(&item);
			rc = fail(ps, -EINVAL,
				  n ? "arrays cannot mix types"
				    : "only arrays of strings are supported");
			goto out;
		}
		if (n == CONFIG_MAX_ARRAY_ITEMS) {
			value_done(&item);
			rc = fail(ps, -E2BIG, "array has more than %d items",
				  CONFIG_MAX_ARRAY_ITEMS);
			goto out;
		}
		/* +1 keeps room for the NULL that makes the array usable as an argv. */
		if (n + 1 >= cap) {
			size_t ncap = cap ? cap * 2 : 8;
			char **na = realloc(arr, ncap * sizeof(*na));
			if (!na) {
				value_done(&item);
				rc = fail(ps, -ENOMEM, "out of memory");
				goto out;
			}
			arr = na;
			cap = ncap;
		}
		arr[n++] = item.str;
		skip_blank(ps);
		if (ps->p == ps->end) {
			rc = fail(ps, -EINVAL, "unterminated array (opened on line %u)", open_line);
			goto out;
		}
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p == ']') {
			ps->p++;
			break;
		}
		rc = fail(ps, -EINVAL, "expected ',' or ']' in array");
		goto out;
	}
	if (!arr) {
		arr = calloc(1, sizeof(*arr));
		if (!arr)
			return fail(ps, -ENOMEM, "out of memory");
	}
	arr[n] = NULL;
	v->type = CONFIG_STRING_ARRAY;
	v->arr = TAKE_PTR(arr);
	v->arr_len = n;
out:
	free_strv(arr, n);
	return rc;
}

/* ---- statements ---- */

static int add_table(struct parser *ps, const char *name, bool defined, struct config_table **out)
{
	struct config_doc *doc = &ps->doc;
	if (doc->n_tables == CONFIG_MAX_ENTRIES)
		return fail(ps, -E2BIG, "more than %d tables", CONFIG_MAX_ENTRIES);
	if (doc->n_tables == ps->cap_tables) {
		size_t ncap = ps->cap_tables ? ps->cap_tables * 2 : 8;
		struct config_table *nt = realloc(doc->tables, ncap * sizeof(*nt));
		if (!nt)
			return fail(ps, -ENOMEM, "out of memory");
		doc->tables = nt;
		ps->cap_tables = ncap;
	}
	char *copy = strdup(name);
	if (!copy)
		return fail(ps, -ENOMEM, "out of memory");
	struct config_table *t = &doc->tables[doc->n_tables++];
	*t = (struct config_table){ .name = copy, .line = ps->line, .defined = defined };
	*out = t;
	return 0;
}

static int parse_header(struct parser *ps)
{
	char name[CONFIG_MAX_TABLE_DEPTH * (CONFIG_MAX_KEY_BYTES + 1)];
	size_t ends[CONFIG_MAX_TABLE_DEPTH], nl = 0;
	int depth = 0;
	char sh[SHOW_BYTES];

	ps->p++;
	if (ps->p < ps->end && *ps->p == '[')
		return fail(ps, -EINVAL, "arrays of tables ([[...]]) are not supported");
	for (;;) {
		skip_ws(ps);
		if (ps->p < ps->end && (*ps->p == '"' || *ps->p == '\''))
			return fail(ps, -EINVAL, "quoted table names are not supported");
		const char *start = ps->p;
		while (ps->p < ps->end && is_bare(*ps->p))
			ps->p++;
		size_t len = (size_t)(ps->p - start);
		if (len == 0)
			return fail(ps, -EINVAL, "invalid table name");
		if (len > CONFIG_MAX_KEY_BYTES)
			return fail(ps, -E2BIG, "table name part is longer than %d bytes",
				    CONFIG_MAX_KEY_BYTES);
		if (depth == CONFIG_MAX_TABLE_DEPTH)
			return fail(ps, -E2BIG, "tables nest at most %d deep",
				    CONFIG_MAX_TABLE_DEPTH);
		if (depth > 0)
			name[nl++] = '.';
		memcpy(name + nl, start, len);
		nl += len;
		ends[depth++] = nl;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == '.') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
			break;
		}
		return fail(ps, -EINVAL, "expected '.' or ']' in table header");
	}
	name[nl] = '\0';

	/* Register every prefix: [a.b.c] implies [a] and [a.b]. */
	struct config_table *t = NULL;
	for (int i = 0; i < depth; i++) {
		char pre[sizeof(name)];
		size_t plen = i > 0 ? ends[i - 1] : 0;
		memcpy(pre, name, ends[i]);
		pre[ends[i]] = '\0';
		const char *last = pre + (i > 0 ? plen + 1 : 0);
		const struct config_entry *e = find_entry_n(&ps->doc, pre, plen, last);
		if (e)
			return fail(ps, -EINVAL, "table [%s] conflicts with key '%s' on line %u",
				    show(sh, pre), last, e->line);
		t = find_table(&ps->doc, pre);
		bool is_last = i == depth - 1;
		if (!t) {
			int rc = add_table(ps, pre, is_last, &t);
			if (rc < 0)
				return rc;
		} else if (is_last) {
			if (t->defined)
				return fail(ps, -EINVAL, "duplicate table [%s] (first on line %u)",
					    show(sh, pre), t->line);
			t->defined = true;
			t->line = ps->line;
		}
	}
	/* depth >= 1: the loop above only leaves through ']' after a non-empty name part. */
	// cppcheck-suppress nullPointer
	ps->cur_table = t->name;
	return expect_eol(ps, "table header");
}

static int parse_key(struct parser *ps, char **out)
{
	size_t n = 0;
	char c = *ps->p;
	if (c == '"' || c == '\'') {
		int rc = parse_string(ps, CONFIG_MAX_KEY_BYTES, "key", &n);
		if (rc < 0)
			return rc;
		if (n == 0)
			return fail(ps, -EINVAL, "empty keys are not allowed");
	} else {
		while (ps->p < ps->end && is_bare(*ps->p)) {
			if (n == CONFIG_MAX_KEY_BYTES)
				return fail(ps, -E2BIG, "key is longer than %d bytes",
					    CONFIG_MAX_KEY_BYTES);
			ps->buf[n++] = *ps->p++;
		}
		if (n == 0)
			return fail(ps, -EINVAL, "expected a key, a [table] or a comment");
	}
	*out = strndup(ps->buf, n);
	return *out ? 0 : fail(ps, -ENOMEM, "out of memory");
}

static int parse_keyval(struct parser *ps)
{
	_cleanup_free_ char *key = NULL;
	struct value v = { 0 };
	char sh[SHOW_BYTES], sh2[SHOW_BYTES];
	unsigned kline = ps->line;

	int rc = parse_key(ps, &key);
	if (rc < 0)
		return rc;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '.')
		return fail(ps, -EINVAL, "dotted keys are not supported; use a [table] header");
	if (ps->p == ps->end || *ps->p != '=')
		return fail(ps, -EINVAL, "expected '=' after key '%s'", show(sh, key));
	ps->p++;

	const struct config_entry *dup = config_find(&ps->doc, ps->cur_table, key);
	if (dup)
		return fail(ps, -EINVAL, "duplicate key '%s' (first on line %u)", show(sh, key),
			    dup->line);
	for (size_t i = 0; i < ps->doc.n_tables; i++) {
		const struct config_table *t = &ps->doc.tables[i];
		size_t plen;
		const char *last;
		table_split(t->name, &plen, &last);
		if (strlen(ps->cur_table) == plen && memcmp(t->name, ps->cur_table, plen) == 0 &&
		    strcmp(last, key) == 0)
			return fail(ps, -EINVAL, "key '%s' conflicts with table [%s] on line %u",
				    show(sh, key), show(sh2, t->name), t->line);
	}
	if (ps->doc.n == CONFIG_MAX_ENTRIES)
		return fail(ps, -E2BIG, "more than %d keys", CONFIG_MAX_ENTRIES);

	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '[')
		rc = parse_array(ps, &v);
	else
		rc = parse_scalar(ps, &v);
	if (rc >= 0)
		rc = expect_eol(ps, "value");
	if (rc >= 0 && ps->doc.n == ps->cap_entries) {
		size_t ncap = ps->cap_entries ? ps->cap_entries * 2 : 16;
		struct config_entry *ne = realloc(ps->doc.entries, ncap * sizeof(*ne));
		if (ne) {
			ps->doc.entries = ne;
			ps->cap_entries = ncap;
		} else {
			rc = fail(ps, -ENOMEM, "out of memory");
		}
	}
	char *table = rc >= 0 ? strdup(ps->cur_table) : NULL;
	if (rc >= 0 && !table)
		rc = fail(ps, -ENOMEM, "out of memory");
	if (rc < 0) {
		value_done(&v);
		return rc;
	}
	ps->doc.entries[ps->doc.n++] = (struct config_entry){
		.table = table,
		.key = TAKE_PTR(key),
		.type = v.type,
		.str = v.str,
		.num = v.num,
		.boolean = v.boolean,
		.arr = v.arr,
		.arr_len = v.arr_len,
		.line = kline,
	};
	return 0;
}

int config_parse(const char *text, size_t len, struct config_doc *doc, struct config_error *err)
{
	struct config_error dummy;
	if (!err)
		err = &dummy;
	*err = (struct config_error){ 0 };
	if (!doc || (!text && len > 0)) {
		snprintf(err->msg, sizeof(err->msg), "invalid arguments");
		return -EINVAL;
	}
	*doc = (struct config_doc){ 0 };
	if (!text)
		text = "";
	if (len > CONFIG_MAX_BYTES) {
		snprintf(err->msg, sizeof(err->msg), "config is larger than %d bytes",
			 CONFIG_MAX_BYTES);
		return -E2BIG;
	}

	struct parser *ps = calloc(1, sizeof(*ps));
	if (!ps) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	ps->p = text;
	ps->end = text + len;
	ps->line = 1;
	ps->cur_table = "";
	ps->err = err;
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		ps->p += 3;

	int rc = check_lines(ps);
	while (rc >= 0 && ps->p < ps->end) {
		skip_ws(ps);
		skip_comment(ps);
		if (at_eol(ps))
			eat_newline(ps);
		else if (*ps->p == '[')
			rc = parse_header(ps);
		else
			rc = parse_keyval(ps);
	}
	if (rc < 0)
		config_doc_done(&ps->doc);
	else
		*doc = ps->doc;
	free(ps);
	return rc < 0 ? rc : 0;
}

int config_parse_file(const char *path, struct config_doc *doc, struct config_error *err)
{
	struct config_error dummy;
	char sh[SHOW_BYTES];
	if (!err)
		err = &dummy;
	*err = (struct config_error){ 0 };
	if (doc)
		*doc = (struct config_doc){ 0 };
	if (!path || !doc) {
		snprintf(err->msg, sizeof(err->msg), "invalid arguments");
		return -EINVAL;
	}
	/* O_NONBLOCK so that a FIFO named as the config cannot hang the open. */
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;
		snprintf(err->msg, sizeof(err->msg), "%s: %s", show(sh, path), strerrordesc_np(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		snprintf(err->msg, sizeof(err->msg), "%s: %s", show(sh, path), strerrordesc_np(e));
		return -e;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err->msg, sizeof(err->msg), "%s: not a regular file", show(sh, path));
		return -EINVAL;
	}
	/* Read up to one byte past the limit: the size from fstat may change under us. */
	_cleanup_free_ char *buf = malloc(CONFIG_MAX_BYTES + 1);
	if (!buf) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	size_t len = 0;
	while (len < CONFIG_MAX_BYTES + 1) {
		ssize_t r = read(fd, buf + len, CONFIG_MAX_BYTES + 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			snprintf(err->msg, sizeof(err->msg), "%s: %s", show(sh, path),
				 strerrordesc_np(e));
			return -e;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > CONFIG_MAX_BYTES) {
		snprintf(err->msg, sizeof(err->msg), "%s: larger than %d bytes", show(sh, path),
			 CONFIG_MAX_BYTES);
		return -E2BIG;
	}
	return config_parse(buf, len, doc, err);
}

/* ---- schema check ---- */

static const char *type_name(enum config_type t)
{
	switch (t) {
	case CONFIG_STRING:
		return "a string";
	case CONFIG_INT:
		return "an integer";
	case CONFIG_BOOL:
		return "true or false";
	case CONFIG_STRING_ARRAY:
		return "an array of strings";
	}
	return "a known type";
}

static const char *spec_table(const struct config_key *k)
{
	return k->table ? k->table : "";
}

/* Writes the entry's error into err (and returns true) when the entry breaks the schema. */
static bool check_entry(const struct config_entry *e, const struct config_key *keys, size_t n,
			struct config_error *err)
{
	const struct config_key *exact = NULL, *open = NULL;
	char sk[SHOW_BYTES], st[SHOW_BYTES];
	for (size_t i = 0; i < n && !exact; i++) {
		if (strcmp(spec_table(&keys[i]), e->table) != 0)
			continue;
		if (!keys[i].key)
			open = open ? open : &keys[i];
		else if (strcmp(keys[i].key, e->key) == 0)
			exact = &keys[i];
	}
	const struct config_key *k = exact ? exact : open;
	err->line = e->line;
	if (!k) {
		if (*e->table)
			snprintf(err->msg, sizeof(err->msg), "unknown key '%s' in [%s]",
				 show(sk, e->key), show(st, e->table));
		else
			snprintf(err->msg, sizeof(err->msg), "unknown key '%s' at top level",
				 show(sk, e->key));
		return true;
	}
	bool alt = !exact && k->type == CONFIG_STRING && e->type == CONFIG_STRING_ARRAY;
	if (e->type != k->type && !alt) {
		if (!exact && k->type == CONFIG_STRING)
			snprintf(err->msg, sizeof(err->msg),
				 "'%s' must be a string or an array of strings", show(sk, e->key));
		else
			snprintf(err->msg, sizeof(err->msg), "'%s' must be %s", show(sk, e->key),
				 type_name(k->type));
		return true;
	}
	if (e->type == CONFIG_INT && (e->num < k->min || e->num > k->max)) {
		snprintf(err->msg, sizeof(err->msg), "'%s' must be between %lld and %lld",
			 show(sk, e->key), k->min, k->max);
		return true;
	}
	return false;
}

static bool check_table(const struct config_table *t, const struct config_key *keys, size_t n,
			struct config_error *err)
{
	size_t tl = strlen(t->name);
	char st[SHOW_BYTES];
	for (size_t i = 0; i < n; i++) {
		const char *kt = spec_table(&keys[i]);
		if (strncmp(kt, t->name, tl) == 0 && (kt[tl] == '\0' || kt[tl] == '.'))
			return false;
	}
	err->line = t->line;
	snprintf(err->msg, sizeof(err->msg), "unknown table [%s]", show(st, t->name));
	return true;
}

int config_check(const struct config_doc *doc, const struct config_key *keys, size_t n,
		 struct config_error *err)
{
	struct config_error dummy, cur;
	if (!err)
		err = &dummy;
	*err = (struct config_error){ 0 };
	if (!doc || (!keys && n > 0)) {
		snprintf(err->msg, sizeof(err->msg), "invalid arguments");
		return -EINVAL;
	}
	bool found = false;
	/* A table header precedes its keys, so on equal lines the table error wins. */
	for (size_t i = 0; i < doc->n_tables; i++) {
		if (check_table(&doc->tables[i], keys, n, &cur) &&
		    (!found || cur.line < err->line)) {
			*err = cur;
			found = true;
		}
	}
	for (size_t i = 0; i < doc->n; i++) {
		if (check_entry(&doc->entries[i], keys, n, &cur) &&
		    (!found || cur.line < err->line)) {
			*err = cur;
			found = true;
		}
	}
	return found ? -EINVAL : 0;
}
