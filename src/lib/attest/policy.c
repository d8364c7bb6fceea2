/*
 * attest/policy.c - SEV-SNP policy files (Prism / Cocos forms) and their evaluation (policy.h).
 *
 * Parsing: the file is first scanned as raw text so that integers above INT64_MAX (jansson's
 * limit) are turned into JSON strings of the same digits; the integer readers accept decimal
 * strings anyway, so the result is what the author wrote. jansson then parses it strictly
 * (json_parse_strict: duplicate keys refused) and every member is dispatched by name, in file
 * order, so the first problem in the file is the one reported. The struct records, per field,
 * whether it was present; evaluation turns "absent" into a "skipped" check. A byte field whose
 * value is well-typed but unusable (not base64, wrong length: Prism's template placeholders) is
 * kept as SNP_PB_INVALID with its reason instead of failing the parse, so a template loads; its
 * check then always fails, so "present means enforced" still holds.
 *
 * Evaluation follows go-sev-guest validate.SnpAttestation field by field, but instead of
 * stopping at the first error it records every check (pass / fail / skipped) in a JSON verdict.
 *
 * A file may also carry a "tdx_policy" object (attest/tdx_policy.c): snp_policy_parse accepts
 * and skips it; attest_policy_parse reads whichever sections exist with the two parsers.
 *
 * snp_policy_file_set edits a file without re-serialising it: a small scanner finds the value
 * of "measurement"/"host_data" inside the policy object and splices the new base64 string in,
 * so formatting, key order and large integers stay byte-for-byte as written.
 */
#include "policy.h"

#include "fsx.h"
#include "json.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------------------------------------ */
/* Small helpers */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Copies untrusted text for an error message: printable ASCII only, at most 48 characters, so
 * messages stay short, one line and valid UTF-8 whatever the input. */
static void sanitize(char *out, size_t cap, const char *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 4 < cap && i < 48; i++) {
		unsigned char c = (unsigned char)s[i];
		out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (n > 48 && o + 4 < cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Standard base64, padded or not (Go's StdEncoding writes padding; people trim it). Returns the
 * decoded length, which may exceed cap (then nothing is written: the caller reports the length),
 * or -1 when s is not base64. */
static long b64_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
	size_t pad = 0;
	if (n >= 4 && n % 4 == 0 && s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	size_t m = n - pad;
	if (m % 4 == 1)
		return -1;
	for (size_t i = 0; i < m; i++)
		if (b64_val((unsigned char)s[i]) < 0)
			return -1;
	size_t outlen = m / 4 * 3 + (m % 4 == 2 ? 1 : m % 4 == 3 ? 2 : 0);
	if (outlen > cap)
		return (long)outlen;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < m; i++) {
		acc = (acc << 6) | (uint32_t)b64_val((unsigned char)s[i]);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return (long)o;
}

/* Standard padded base64 of n bytes into out (4 * ((n + 2) / 3) + 1 bytes). */
static void b64_encode(char *out, const uint8_t *in, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
}

static bool all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Raw text pass: integers beyond int64 become strings of the same digits */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Does the integer token (digits only, optional leading '-') fit json_int_t? */
static bool fits_int64(const char *tok, size_t n)
{
	bool neg = tok[0] == '-';
	const char *d = tok + neg;
	size_t nd = n - neg;
	if (nd < 19)
		return true;
	if (nd > 19)
		return false;
	return memcmp(d, neg ? "9223372036854775808" : "9223372036854775807", 19) <= 0;
}

/* Returns a new NUL-terminated copy of in with every out-of-range JSON integer quoted; *outlen
 * its length. Only well-formed integer tokens are touched; anything malformed is left for jansson
 * to refuse. NULL on ENOMEM. */
static char *quote_big_ints(const char *in, size_t len, size_t *outlen)
{
	char *out = malloc(len * 2 + 1);
	if (!out)
		return NULL;
	size_t o = 0, i = 0;
	while (i < len) {
		char c = in[i];
		if (c == '"') {
			size_t j = i + 1;
			while (j < len && in[j] != '"')
				j += in[j] == '\\' ? 2 : 1;
			j = j < len ? j + 1 : len;
			memcpy(out + o, in + i, j - i);
			o += j - i;
			i = j;
			continue;
		}
		if (c == '-' || is_digit(c)) {
			size_t j = i + (c == '-');
			size_t ds = j;
			while (j < len && is_digit(in[j]))
				j++;
			bool integer = j > ds && !(in[ds] == '0' && j - ds > 1) &&
				       !(j < len && (in[j] == '.' || in[j] == 'e' || in[j] == 'E'));
			if (integer && !fits_int64(in + i, j - i)) {
				out[o++] = '"';
				memcpy(out + o, in + i, j - i);
				o += j - i;
				out[o++] = '"';
			} else {
				memcpy(out + o, in + i, j - i);
				o += j - i;
			}
			i = j;
			continue;
		}
		out[o++] = c;
		i++;
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

/* ------------------------------------------------------------------------------------------ */
/* Field readers */

struct pctx {
	char *err;
	size_t errlen;
	const char *obj; /* "snp_policy", "policy", "root_of_trust" */
};

static int pfail(struct pctx *c, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int pfail(struct pctx *c, const char *field, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	set_err(c->err, c->errlen, "%s.%s: %s", c->obj, field, msg);
	return -EINVAL;
}

static int hex_u64(const char *s, size_t n, uint64_t *out)
{
	if (n == 0 || n > 16)
		return -EINVAL;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		unsigned d;
		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			d = (unsigned)(ch - 'A' + 10);
		else
			return -EINVAL;
		v = (v << 4) | d;
	}
	*out = v;
	return 0;
}

/* A JSON integer, or a string with a decimal or 0x-hex number, in 0..max. */
static int get_uint(struct pctx *c, const char *field, json_t *v, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;
	int r = -EINVAL;
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (i >= 0) {
			x = (uint64_t)i;
			r = 0;
		}
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
			r = hex_u64(s + 2, n - 2, &x);
		else if (n > 0 && n < 21)
			r = util_parse_u64(s, UINT64_MAX, &x);
	}
	if (r < 0)
		return pfail(
			c, field,
			"want an unsigned integer 0..%llu (a JSON integer, or a decimal or 0x-hex "
			"string)",
			(unsigned long long)max);
	if (x > max)
		return pfail(c, field, "%llu is out of range 0..%llu", (unsigned long long)x,
			     (unsigned long long)max);
	*out = x;
	return 0;
}

/* n, {"value": n} or {} (Go's omitempty rendering of a zero wrapper). */
static int get_wrapped_uint(struct pctx *c, const char *field, json_t *v, uint64_t max,
			    uint64_t *out)
{
	if (!json_is_object(v))
		return get_uint(c, field, v, max, out);
	*out = 0;
	const char *k;
	json_t *x;
	json_object_foreach(v, k, x)
	{
		if (strcmp(k, "value") != 0) {
			char safe[64];
			sanitize(safe, sizeof(safe), k, strlen(k));
			return pfail(c, field, "unknown key \"%s\" (want {\"value\": n})", safe);
		}
		char sub[64];
		snprintf(sub, sizeof(sub), "%s.value", field);
		if (get_uint(c, sub, x, max, out) < 0)
			return -EINVAL;
	}
	return 0;
}

static int get_bool(struct pctx *c, const char *field, json_t *v, bool *out)
{
	if (!json_is_boolean(v))
		return pfail(c, field, "want true or false");
	*out = json_is_true(v);
	return 0;
}

/* A byte value of size bytes: base64 string or array of 0..255. Returns 0 with dst filled, or
 * *empty for ""/[]; 1 when the value is well-typed but unusable, *got being its decoded length
 * or -1 for "not base64" (dst then holds no meaningful bytes); -EINVAL with err for a wrong JSON
 * type or an array element outside 0..255. */
static int get_bytes(struct pctx *c, const char *field, json_t *v, size_t size, uint8_t *dst,
		     bool *empty, long *got)
{
	*empty = false;
	*got = 0;
	if (json_is_string(v)) {
		size_t n = json_string_length(v);
		if (n == 0) {
			*empty = true;
			return 0;
		}
		*got = b64_decode(json_string_value(v), n, dst, size);
		return *got >= 0 && (size_t)*got == size ? 0 : 1;
	}
	if (json_is_array(v)) {
		size_t n = json_array_size(v);
		if (n == 0) {
			*empty = true;
			return 0;
		}
		/* Element types are checked whatever the length: a wrong type is a typo, not a
		 * placeholder. */
		for (size_t i = 0; i < n; i++) {
			json_t *e = json_array_get(v, i);
			json_int_t b = json_is_integer(e) ? json_integer_value(e) : -1;
			if (b < 0 || b > 255)
				return pfail(c, field, "element %zu: want an integer 0..255", i);
			if (n == size)
				dst[i] = (uint8_t)b;
		}
		*got = (long)n;
		return n == size ? 0 : 1;
	}
	return pfail(c, field, "want a base64 string or an array of integers 0..255");
}

static int get_field_bytes(struct pctx *c, const char *field, json_t *v, size_t size,
			   struct snp_policy_bytes *out)
{
	bool empty;
	long got;
	memset(out, 0, sizeof(*out));
	int r = get_bytes(c, field, v, size, out->v, &empty, &got);
	if (r < 0)
		return r;
	if (r == 1) {
		/* Present but unusable: kept (it fails its check), never read as "unchecked". */
		memset(out->v, 0, sizeof(out->v));
		out->state = SNP_PB_INVALID;
		out->got = got;
		if (got < 0)
			snprintf(out->why, sizeof(out->why), "not base64");
		else
			snprintf(out->why, sizeof(out->why), "want %zu bytes, got %ld", size, got);
		return 0;
	}
	out->state = empty ? SNP_PB_EMPTY : SNP_PB_SET;
	return 0;
}

static int get_hash_list(struct pctx *c, const char *field, json_t *v, uint8_t (**out)[48],
			 size_t *n_out)
{
	if (!json_is_array(v))
		return pfail(c, field, "want an array of 48-byte values");
	size_t n = json_array_size(v);
	if (n > SNP_POLICY_MAX_KEY_HASHES)
		return pfail(c, field, "%zu entries, the limit is %d", n,
			     SNP_POLICY_MAX_KEY_HASHES);
	uint8_t(*arr)[48] = n ? calloc(n, 48) : NULL;
	if (n && !arr) {
		set_err(c->err, c->errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		char sub[80];
		bool empty;
		long got;
		snprintf(sub, sizeof(sub), "%s[%zu]", field, i);
		int r = get_bytes(c, sub, json_array_get(v, i), 48, arr[i], &empty, &got);
		if (r != 0) {
			free(arr);
			if (r < 0)
				return r;
			/* Strict here: a list entry is not a template placeholder. */
			return got < 0 ? pfail(c, sub, "invalid base64")
				       : pfail(c, sub, "want 48 bytes, got %ld", got);
		}
		if (empty || all_zero(arr[i], 48)) {
			free(arr);
			return pfail(c, sub, "%s (a zero digest means \"no key\")",
				     empty ? "empty" : "all zero");
		}
	}
	free(*out);
	*out = arr;
	*n_out = n;
	return 0;
}

/* Fields this implementation cannot honour: accepted only when empty, so that nothing the
 * author wrote is silently ignored. */
static int get_unsupported_list(struct pctx *c, const char *field, json_t *v, const char *why)
{
	if (json_is_array(v) && json_array_size(v) == 0)
		return 0;
	return pfail(c, field, "not supported (%s); only [] is accepted", why);
}

static int get_version(struct pctx *c, const char *field, json_t *v, struct snp_policy *p)
{
	if (!json_is_string(v))
		return pfail(c, field, "want a string \"major.minor\"");
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (n == 0)
		return 0; /* go-sev-guest: empty means 0.0, i.e. unchecked */
	const char *dot = memchr(s, '.', n);
	uint64_t maj, min;
	char a[8], b[8];
	size_t la = dot ? (size_t)(dot - s) : 0, lb = dot ? n - la - 1 : 0;
	if (!dot || la == 0 || lb == 0 || la >= sizeof(a) || lb >= sizeof(b))
		return pfail(c, field, "want \"major.minor\" with each 0..255");
	memcpy(a, s, la);
	a[la] = '\0';
	memcpy(b, dot + 1, lb);
	b[lb] = '\0';
	if (util_parse_u64(a, 255, &maj) < 0 || util_parse_u64(b, 255, &min) < 0)
		return pfail(c, field, "want \"major.minor\" with each 0..255");
	p->has_minimum_version = true;
	p->minimum_major = (uint8_t)maj;
	p->minimum_minor = (uint8_t)min;
	return 0;
}

static const char *product_name(enum snp_product pr)
{
	switch (pr) {
	case SNP_PRODUCT_MILAN:
		return "Milan";
	case SNP_PRODUCT_GENOA:
		return "Genoa";
	case SNP_PRODUCT_TURIN:
		return "Turin";
	default:
		return "unknown";
	}
}

/* "Milan", "Genoa", "Turin"; with_stepping also allows "Milan-B0" (go-sev-guest product names). */
static int product_from_string(const char *s, size_t n, bool with_stepping, enum snp_product *out)
{
	static const struct {
		const char *name;
		enum snp_product p;
	} names[] = { { "Milan", SNP_PRODUCT_MILAN },
		      { "Genoa", SNP_PRODUCT_GENOA },
		      { "Turin", SNP_PRODUCT_TURIN } };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (n < 5 || memcmp(s, names[i].name, 5) != 0)
			continue;
		if (n == 5 || (with_stepping && n == 8 && s[5] == '-' && s[6] >= 'A' &&
			       s[6] <= 'Z' && is_digit(s[7]))) {
			*out = names[i].p;
			return 0;
		}
	}
	return -EINVAL;
}

static int get_policy_product(struct pctx *c, json_t *v, struct snp_policy *p,
			      enum snp_product *out)
{
	if (!json_is_object(v))
		return pfail(c, "product", "want {\"name\": n}");
	const char *k;
	json_t *x;
	json_object_foreach(v, k, x)
	{
		if (json_is_null(x))
			continue;
		if (strcmp(k, "name") == 0) {
			static const char *const enum_names[] = { "SEV_PRODUCT_UNKNOWN",
								  "SEV_PRODUCT_MILAN",
								  "SEV_PRODUCT_GENOA",
								  "SEV_PRODUCT_TURIN" };
			uint64_t n = UINT64_MAX;
			if (json_is_string(x)) {
				for (size_t i = 0; i < ARRAY_SIZE(enum_names); i++)
					if (strcmp(json_string_value(x), enum_names[i]) == 0)
						n = i;
				if (n == UINT64_MAX)
					return pfail(c, "product.name",
						     "want 0..3 or SEV_PRODUCT_MILAN|GENOA|TURIN");
			} else if (get_uint(c, "product.name", x, 3, &n) < 0) {
				return -EINVAL;
			}
			*out = n == 1   ? SNP_PRODUCT_MILAN
			       : n == 2 ? SNP_PRODUCT_GENOA
			       : n == 3 ? SNP_PRODUCT_TURIN
					: SNP_PRODUCT_UNKNOWN;
		} else if (strcmp(k, "machine_stepping") == 0) {
			uint64_t st;
			if (get_wrapped_uint(c, "product.machine_stepping", x, 255, &st) < 0)
				return -EINVAL;
			p->has_machine_stepping = true;
			p->machine_stepping = (uint8_t)st;
		} else {
			char safe[64];
			sanitize(safe, sizeof(safe), k, strlen(k));
			return pfail(c, "product", "unknown key \"%s\"", safe);
		}
	}
	return 0;
}

/* The exact-match byte fields, in check order; the command that fills one, where there is one. */
static const struct {
	const char *name;
	size_t size;
	size_t off;
	const char *fill_cmd;
} byte_fields[] = {
	{ "family_id", 16, offsetof(struct snp_policy, family_id), NULL },
	{ "image_id", 16, offsetof(struct snp_policy, image_id), NULL },
	{ "measurement", 48, offsetof(struct snp_policy, measurement),
	  "cloister policy measurement" },
	{ "host_data", 32, offsetof(struct snp_policy, host_data), "cloister policy hostdata" },
	{ "report_id", 32, offsetof(struct snp_policy, report_id), NULL },
	{ "report_id_ma", 32, offsetof(struct snp_policy, report_id_ma), NULL },
	{ "chip_id", 64, offsetof(struct snp_policy, chip_id), NULL },
	{ "report_data", 64, offsetof(struct snp_policy, report_data), NULL },
};

static const struct snp_policy_bytes *field_bytes(const struct snp_policy *p, size_t i)
{
	return (const struct snp_policy_bytes *)((const char *)p + byte_fields[i].off);
}

/* The members of "policy" / "snp_policy". */
static int parse_policy_obj(struct pctx *c, json_t *obj, struct snp_policy *p,
			    enum snp_product *prod)
{
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v)
	{
		uint64_t u;
		bool done = false;
		if (json_is_null(v))
			continue; /* null = absent */
		for (size_t i = 0; i < ARRAY_SIZE(byte_fields); i++) {
			if (strcmp(k, byte_fields[i].name) != 0)
				continue;
			struct snp_policy_bytes *b =
				(struct snp_policy_bytes *)((char *)p + byte_fields[i].off);
			if (get_field_bytes(c, k, v, byte_fields[i].size, b) < 0)
				return -EINVAL;
			done = true;
		}
		if (done)
			continue;
		if (strcmp(k, "policy") == 0) {
			if (get_uint(c, k, v, UINT64_MAX, &p->policy) < 0)
				return -EINVAL;
			if (!(p->policy & SNP_POLICY_RESERVED_ONE))
				return pfail(c, k, "0x%llx: bit 17 is reserved and must be 1",
					     (unsigned long long)p->policy);
			if (p->policy & SNP_POLICY_MBZ_MASK)
				return pfail(c, k, "0x%llx: bits 26-63 are reserved and must be 0",
					     (unsigned long long)p->policy);
			p->has_policy = true;
		} else if (strcmp(k, "minimum_guest_svn") == 0) {
			if (get_uint(c, k, v, UINT32_MAX, &u) < 0)
				return -EINVAL;
			p->minimum_guest_svn = (uint32_t)u;
			p->has_minimum_guest_svn = true;
		} else if (strcmp(k, "minimum_tcb") == 0) {
			if (get_uint(c, k, v, UINT64_MAX, &p->minimum_tcb) < 0)
				return -EINVAL;
			p->has_minimum_tcb = true;
		} else if (strcmp(k, "minimum_launch_tcb") == 0) {
			if (get_uint(c, k, v, UINT64_MAX, &p->minimum_launch_tcb) < 0)
				return -EINVAL;
			p->has_minimum_launch_tcb = true;
		} else if (strcmp(k, "minimum_build") == 0) {
			if (get_uint(c, k, v, 255, &u) < 0)
				return -EINVAL;
			p->minimum_build = (uint8_t)u;
			p->has_minimum_build = true;
		} else if (strcmp(k, "minimum_version") == 0) {
			if (get_version(c, k, v, p) < 0)
				return -EINVAL;
		} else if (strcmp(k, "vmpl") == 0) {
			if (get_wrapped_uint(c, k, v, 3, &u) < 0)
				return -EINVAL;
			p->vmpl = (uint32_t)u;
			p->has_vmpl = true;
		} else if (strcmp(k, "platform_info") == 0) {
			if (get_wrapped_uint(c, k, v, UINT64_MAX, &p->platform_info) < 0)
				return -EINVAL;
			p->has_platform_info = true;
		} else if (strcmp(k, "permit_provisional_firmware") == 0) {
			if (get_bool(c, k, v, &p->permit_provisional_firmware) < 0)
				return -EINVAL;
			p->has_permit_provisional_firmware = true;
		} else if (strcmp(k, "require_author_key") == 0) {
			if (get_bool(c, k, v, &p->require_author_key) < 0)
				return -EINVAL;
			p->has_require_author_key = true;
		} else if (strcmp(k, "require_id_block") == 0) {
			if (get_bool(c, k, v, &p->require_id_block) < 0)
				return -EINVAL;
			p->has_require_id_block = true;
		} else if (strcmp(k, "trusted_author_key_hashes") == 0) {
			int r = get_hash_list(c, k, v, &p->trusted_author_key_hashes,
					      &p->n_trusted_author_key_hashes);
			if (r < 0)
				return r;
		} else if (strcmp(k, "trusted_id_key_hashes") == 0) {
			int r = get_hash_list(c, k, v, &p->trusted_id_key_hashes,
					      &p->n_trusted_id_key_hashes);
			if (r < 0)
				return r;
		} else if (strcmp(k, "trusted_author_keys") == 0 ||
			   strcmp(k, "trusted_id_keys") == 0) {
			if (get_unsupported_list(c, k, v,
						 "give the SHA-384 digests in *_key_hashes") < 0)
				return -EINVAL;
		} else if (strcmp(k, "product") == 0) {
			if (get_policy_product(c, v, p, prod) < 0)
				return -EINVAL;
		} else {
			char safe[64];
			sanitize(safe, sizeof(safe), k, strlen(k));
			set_err(c->err, c->errlen, "%s: unknown key \"%s\"", c->obj, safe);
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_rot_obj(struct pctx *c, json_t *obj, struct snp_policy *p, enum snp_product *prod,
			 enum snp_product *line)
{
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v)
	{
		if (json_is_null(v))
			continue;
		if (strcmp(k, "product") == 0 || strcmp(k, "product_line") == 0) {
			bool is_line = k[7] == '_';
			if (!json_is_string(v))
				return pfail(c, k, "want a string (Milan, Genoa or Turin)");
			const char *s = json_string_value(v);
			size_t n = json_string_length(v);
			if (n == 0)
				continue;
			if (product_from_string(s, n, !is_line, is_line ? line : prod) < 0) {
				char safe[64];
				sanitize(safe, sizeof(safe), s, n);
				return pfail(
					c, k,
					"unknown product \"%s\" (want Milan, Genoa or Turin%s)",
					safe, is_line ? "" : ", optionally with -B0 etc.");
			}
			char *dst = is_line ? p->rot_product_line : p->rot_product;
			memcpy(dst, s, n); /* n <= 8 after validation */
			dst[n] = '\0';
		} else if (strcmp(k, "check_crl") == 0) {
			if (get_bool(c, k, v, &p->check_crl) < 0)
				return -EINVAL;
		} else if (strcmp(k, "disallow_network") == 0) {
			if (get_bool(c, k, v, &p->disallow_network) < 0)
				return -EINVAL;
		} else if (strcmp(k, "cabundle_paths") == 0 || strcmp(k, "cabundles") == 0) {
			if (get_unsupported_list(c, k, v,
						 "the AMD roots are pinned in the binary") < 0)
				return -EINVAL;
		} else {
			char safe[64];
			sanitize(safe, sizeof(safe), k, strlen(k));
			set_err(c->err, c->errlen, "%s: unknown key \"%s\"", c->obj, safe);
			return -EINVAL;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Parse */

void snp_policy_free(struct snp_policy *p)
{
	if (!p)
		return;
	free(p->trusted_author_key_hashes);
	free(p->trusted_id_key_hashes);
	free(p);
}

static struct snp_policy *parse_fail(struct snp_policy *p, json_t *root, int e)
{
	snp_policy_free(p);
	json_decref(root);
	errno = e;
	return NULL;
}

struct snp_policy *snp_policy_parse(const char *json, size_t len, char *err, size_t errlen)
{
	set_err(err, errlen, "%s", "");
	if (!json) {
		set_err(err, errlen, "no policy text");
		errno = EINVAL;
		return NULL;
	}
	if (len > SNP_POLICY_MAX_BYTES) {
		set_err(err, errlen, "policy is %zu bytes, the limit is %u", len,
			SNP_POLICY_MAX_BYTES);
		errno = E2BIG;
		return NULL;
	}
	size_t tlen;
	char *text = quote_big_ints(json, len, &tlen);
	if (!text) {
		set_err(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	json_error_t jerr;
	json_t *root = json_parse_strict(text, tlen, &jerr);
	free(text);
	if (!root) {
		char safe[128];
		sanitize(safe, sizeof(safe), jerr.text, strlen(jerr.text));
		set_err(err, errlen, "invalid JSON at line %d column %d: %s", jerr.line,
			jerr.column, safe);
		errno = EINVAL;
		return NULL;
	}
	struct snp_policy *p = calloc(1, sizeof(*p));
	if (!p) {
		set_err(err, errlen, "out of memory");
		return parse_fail(NULL, root, ENOMEM);
	}
	if (!json_is_object(root)) {
		set_err(err, errlen, "the policy must be a JSON object");
		return parse_fail(p, root, EINVAL);
	}
	json_t *pol = json_object_get(root, "snp_policy");
	json_t *pol4 = json_object_get(root, "policy");
	if (pol && pol4) {
		set_err(err, errlen, "both \"snp_policy\" and \"policy\": give one");
		return parse_fail(p, root, EINVAL);
	}
	if (!pol && !pol4) {
		set_err(err, errlen,
			"no \"snp_policy\" (Prism, Cocos v0.3) or \"policy\" (Cocos "
			"v0.4+) object");
		return parse_fail(p, root, EINVAL);
	}
	p->v4_form = pol4 != NULL;
	enum snp_product pol_prod = SNP_PRODUCT_UNKNOWN, rot_prod = SNP_PRODUCT_UNKNOWN,
			 rot_line = SNP_PRODUCT_UNKNOWN;
	const char *k;
	json_t *v;
	json_object_foreach(root, k, v)
	{
		struct pctx c = { err, errlen, k };
		int r = 0;
		if (strcmp(k, "snp_policy") == 0 || strcmp(k, "policy") == 0) {
			if (!json_is_object(v)) {
				set_err(err, errlen, "%s: want an object", k);
				r = -EINVAL;
			} else {
				r = parse_policy_obj(&c, v, p, &pol_prod);
			}
		} else if (strcmp(k, "root_of_trust") == 0) {
			if (json_is_null(v))
				continue;
			if (!json_is_object(v)) {
				set_err(err, errlen, "root_of_trust: want an object");
				r = -EINVAL;
			} else {
				p->has_root_of_trust = true;
				r = parse_rot_obj(&c, v, p, &rot_prod, &rot_line);
			}
		} else if (strcmp(k, "pcr_values") == 0) {
			/* vTPM PCRs (Cocos v0.8, Azure/GCP): not part of SNP evaluation. */
			if (!json_is_object(v) && !json_is_null(v)) {
				set_err(err, errlen, "pcr_values: want an object");
				r = -EINVAL;
			}
		} else if (strcmp(k, "allow_unattested") == 0) {
			if (json_is_boolean(v)) {
				p->allow_unattested = json_is_true(v);
			} else if (!json_is_null(v)) {
				set_err(err, errlen, "allow_unattested: want true or false");
				r = -EINVAL;
			}
		} else if (strcmp(k, "tdx_policy") == 0) {
			/* The TDX section: tdx_policy_parse (attest_policy_parse) reads it. */
			if (!json_is_object(v) && !json_is_null(v)) {
				set_err(err, errlen, "tdx_policy: want an object");
				r = -EINVAL;
			}
		} else {
			char safe[64];
			sanitize(safe, sizeof(safe), k, strlen(k));
			set_err(err, errlen, "unknown top-level key \"%s\"", safe);
			r = -EINVAL;
		}
		if (r < 0)
			return parse_fail(p, root, -r);
	}
	/* One expected product: the sources must agree. */
	char polprod[32];
	snprintf(polprod, sizeof(polprod), "%s.product.name", p->v4_form ? "policy" : "snp_policy");
	struct {
		enum snp_product pr;
		const char *what;
	} src[] = { { pol_prod, polprod },
		    { rot_line, "root_of_trust.product_line" },
		    { rot_prod, "root_of_trust.product" } };
	const char *first = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(src); i++) {
		if (src[i].pr == SNP_PRODUCT_UNKNOWN)
			continue;
		if (!first) {
			p->product = src[i].pr;
			first = src[i].what;
		} else if (p->product != src[i].pr) {
			set_err(err, errlen, "%s: %s contradicts %s (%s)", src[i].what,
				product_name(src[i].pr), first, product_name(p->product));
			return parse_fail(p, root, EINVAL);
		}
	}
	json_decref(root);
	return p;
}

json_t *attest_policy_load_json(const char *json, size_t len, char *err, size_t errlen)
{
	set_err(err, errlen, "%s", "");
	if (!json) {
		set_err(err, errlen, "no policy text");
		errno = EINVAL;
		return NULL;
	}
	if (len > SNP_POLICY_MAX_BYTES) {
		set_err(err, errlen, "policy is %zu bytes, the limit is %u", len,
			SNP_POLICY_MAX_BYTES);
		errno = E2BIG;
		return NULL;
	}
	size_t tlen;
	char *text = quote_big_ints(json, len, &tlen);
	if (!text) {
		set_err(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	json_error_t jerr;
	json_t *root = json_parse_strict(text, tlen, &jerr);
	free(text);
	if (!root) {
		char safe[128];
		sanitize(safe, sizeof(safe), jerr.text, strlen(jerr.text));
		set_err(err, errlen, "invalid JSON at line %d column %d: %s", jerr.line,
			jerr.column, safe);
		errno = EINVAL;
		return NULL;
	}
	if (!json_is_object(root)) {
		set_err(err, errlen, "the policy must be a JSON object");
		json_decref(root);
		errno = EINVAL;
		return NULL;
	}
	return root;
}

void attest_policy_free(struct attest_policy *p)
{
	if (!p)
		return;
	snp_policy_free(p->snp);
	tdx_policy_free(p->tdx);
	free(p);
}

struct attest_policy *attest_policy_parse(const char *json, size_t len, char *err, size_t errlen)
{
	json_t *root = attest_policy_load_json(json, len, err, errlen);
	if (!root)
		return NULL;
	json_t *snp = json_object_get(root, "snp_policy"), *v4 = json_object_get(root, "policy");
	json_t *tdx = json_object_get(root, "tdx_policy");
	bool has_snp = (snp && !json_is_null(snp)) || (v4 && !json_is_null(v4));
	bool has_tdx = tdx && !json_is_null(tdx);
	json_decref(root);
	if (!has_snp && !has_tdx) {
		set_err(err, errlen,
			"no \"snp_policy\" (Prism, Cocos v0.3), \"policy\" (Cocos v0.4+) or "
			"\"tdx_policy\" object");
		errno = EINVAL;
		return NULL;
	}
	struct attest_policy *p = calloc(1, sizeof(*p));
	if (!p) {
		set_err(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	if (has_snp && !(p->snp = snp_policy_parse(json, len, err, errlen))) {
		int e = errno;
		attest_policy_free(p);
		errno = e;
		return NULL;
	}
	if (has_tdx && !(p->tdx = tdx_policy_parse(json, len, err, errlen))) {
		int e = errno;
		attest_policy_free(p);
		errno = e;
		return NULL;
	}
	p->sections = (has_snp ? ATTEST_POLICY_SNP : 0u) | (has_tdx ? ATTEST_POLICY_TDX : 0u);
	p->allow_unattested = p->snp ? p->snp->allow_unattested : p->tdx->allow_unattested;
	return p;
}

int snp_policy_set_report_data(struct snp_policy *p, const uint8_t rd[64])
{
	if (!p || !rd)
		return -EINVAL;
	memset(&p->report_data, 0, sizeof(p->report_data));
	memcpy(p->report_data.v, rd, 64);
	p->report_data.state = SNP_PB_SET;
	p->report_data_from_verifier = true;
	return 0;
}

size_t snp_policy_problems(const struct snp_policy *p, char *buf, size_t cap)
{
	if (buf && cap)
		buf[0] = '\0';
	if (!p)
		return 0;
	size_t count = 0, o = 0;
	for (size_t i = 0; i < ARRAY_SIZE(byte_fields); i++) {
		const struct snp_policy_bytes *b = field_bytes(p, i);
		if (b->state != SNP_PB_INVALID)
			continue;
		count++;
		if (!buf || o >= cap)
			continue;
		int w = snprintf(buf + o, cap - o, "%s%s.%s: %s", count > 1 ? "; " : "",
				 p->v4_form ? "policy" : "snp_policy", byte_fields[i].name, b->why);
		o = w < 0 ? cap : o + (size_t)w; /* past cap: truncated, stop writing */
	}
	return count;
}

/* ------------------------------------------------------------------------------------------ */
/* Evaluate */

enum res { RES_PASS, RES_FAIL, RES_SKIP };

struct ev {
	json_t *checks;
	bool failed, oom;
};

static void add_check(struct ev *e, const char *name, enum res res, const char *expected,
		      const char *actual, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static void add_check(struct ev *e, const char *name, enum res res, const char *expected,
		      const char *actual, const char *fmt, ...)
{
	static const char *const res_names[] = { "pass", "fail", "skipped" };
	char detail[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (res == RES_FAIL)
		e->failed = true;
	json_t *o = json_object();
	if (!o) {
		e->oom = true;
		return;
	}
	int rc = json_object_set_new(o, "name", json_string(name));
	rc |= json_object_set_new(o, "result", json_string(res_names[res]));
	if (expected)
		rc |= json_object_set_new(o, "expected",
					  json_string_lossy(expected, strlen(expected)));
	if (actual)
		rc |= json_object_set_new(o, "actual", json_string_lossy(actual, strlen(actual)));
	rc |= json_object_set_new(o, "detail", json_string_lossy(detail, strlen(detail)));
	if (rc || json_array_append_new(e->checks, o) < 0)
		e->oom = true;
}

/* CPUID family/model (report v3+) to product; UNKNOWN for v2 or an unknown part. */
static enum snp_product report_product(const struct snp_report *r)
{
	if (r->version < 3)
		return SNP_PRODUCT_UNKNOWN;
	uint8_t fam = r->cpuid_fam_id, mod = r->cpuid_mod_id;
	if (fam == 0x19 && mod <= 0x0f)
		return SNP_PRODUCT_MILAN;
	if (fam == 0x19 && ((mod >= 0x10 && mod <= 0x1f) || (mod >= 0xa0 && mod <= 0xaf)))
		return SNP_PRODUCT_GENOA;
	if (fam == 0x1a && mod <= 0x1f)
		return SNP_PRODUCT_TURIN;
	return SNP_PRODUCT_UNKNOWN;
}

static void tcb_str(char *out, size_t cap, struct snp_tcb t, enum snp_product pr)
{
	if (pr == SNP_PRODUCT_TURIN)
		snprintf(out, cap, "fmc %u, bootloader %u, tee %u, snp %u, microcode %u", t.fmc,
			 t.bootloader, t.tee, t.snp, t.microcode);
	else
		snprintf(out, cap, "bootloader %u, tee %u, snp %u, microcode %u", t.bootloader,
			 t.tee, t.snp, t.microcode);
}

/* Components of lo that exceed hi, as "microcode 209 > 115, ..."; empty when lo <= hi. */
static void tcb_excess(char *out, size_t cap, struct snp_tcb lo, struct snp_tcb hi)
{
	struct {
		const char *n;
		uint8_t l, h;
	} c[] = { { "fmc", lo.fmc, hi.fmc },
		  { "bootloader", lo.bootloader, hi.bootloader },
		  { "tee", lo.tee, hi.tee },
		  { "snp", lo.snp, hi.snp },
		  { "microcode", lo.microcode, hi.microcode } };
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		if (c[i].l <= c[i].h)
			continue;
		int w = snprintf(out + o, cap - o, "%s%s %u vs %u", o ? ", " : "", c[i].n, c[i].l,
				 c[i].h);
		if (w < 0 || (size_t)w >= cap - o)
			break;
		o += (size_t)w;
	}
}

static bool tcb_eq(struct snp_tcb a, struct snp_tcb b)
{
	return a.fmc == b.fmc && a.bootloader == b.bootloader && a.tee == b.tee && a.snp == b.snp &&
	       a.microcode == b.microcode;
}

static void check_min_tcb(struct ev *e, const char *name, bool has, uint64_t min, uint64_t rep,
			  const char *field, enum snp_product pr, const char *layout_note)
{
	char exp[24], act[24];
	snprintf(act, sizeof(act), "0x%016llx", (unsigned long long)rep);
	if (!has) {
		add_check(e, name, RES_SKIP, NULL, act, "not in the policy");
		return;
	}
	snprintf(exp, sizeof(exp), "0x%016llx", (unsigned long long)min);
	struct snp_tcb m = snp_tcb_decode(min, pr), r = snp_tcb_decode(rep, pr);
	char ms[96], rs[96], ex[160];
	tcb_str(ms, sizeof(ms), m, pr);
	tcb_str(rs, sizeof(rs), r, pr);
	tcb_excess(ex, sizeof(ex), m, r);
	if (ex[0])
		add_check(e, name, RES_FAIL, exp, act,
			  "%s (%s) is below the minimum (%s) in: %s (minimum vs report)%s", field,
			  rs, ms, ex, layout_note);
	else
		add_check(e, name, RES_PASS, exp, act, "%s (%s) >= minimum (%s)%s", field, rs, ms,
			  layout_note);
}

static void check_bytes(struct ev *e, const char *name, const struct snp_policy_bytes *b,
			const uint8_t *actual, size_t n, const char *field, const char *source,
			const char *fill_cmd)
{
	char exp[129], act[129];
	util_hex(act, actual, n);
	if (b->state == SNP_PB_INVALID) {
		char got[40], how[80];
		if (b->got < 0)
			snprintf(got, sizeof(got), "not base64");
		else
			snprintf(got, sizeof(got), "got %ld byte%s", b->got,
				 b->got == 1 ? "" : "s");
		if (fill_cmd)
			snprintf(how, sizeof(how), "fill it with `%s`", fill_cmd);
		else
			snprintf(how, sizeof(how), "set it to the expected %zu bytes in base64", n);
		add_check(e, name, RES_FAIL, NULL, act,
			  "%s in the policy is not a %zu-byte value (%s): %s", name, n, got, how);
		return;
	}
	if (b->state == SNP_PB_ABSENT) {
		add_check(e, name, RES_SKIP, NULL, act, "not in the policy");
		return;
	}
	if (b->state == SNP_PB_EMPTY) {
		add_check(e, name, RES_SKIP, NULL, act, "empty in the policy: unchecked");
		return;
	}
	util_hex(exp, b->v, n);
	if (memcmp(b->v, actual, n) == 0)
		add_check(e, name, RES_PASS, exp, act, "%s matches%s", field, source);
	else
		add_check(e, name, RES_FAIL, exp, act, "%s differs from the expected value%s",
			  field, source);
}

static bool hash_in(uint8_t (*list)[48], size_t n, const uint8_t *d)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(list[i], d, 48) == 0)
			return true;
	return false;
}

/* Bit names for details; "list" gets the names of the bits in mask, comma separated. */
static void bit_names(char *out, size_t cap, uint64_t mask, bool platform)
{
	static const char *const pol[64] = {
		[16] = "SMT",
		[17] = "RESERVED_17",
		[18] = "MIGRATE_MA",
		[19] = "DEBUG",
		[20] = "SINGLE_SOCKET",
		[21] = "CXL_ALLOW",
		[22] = "MEM_AES_256_XTS",
		[23] = "RAPL_DIS",
		[24] = "CIPHERTEXT_HIDING",
		[25] = "PAGE_SWAP_DISABLE",
	};
	static const char *const plat[64] = {
		[0] = "SMT_EN",
		[1] = "TSME_EN",
		[2] = "ECC_EN",
		[3] = "RAPL_DIS",
		[4] = "CIPHERTEXT_HIDING_EN",
		[5] = "ALIAS_CHECK_COMPLETE",
	};
	size_t o = 0;
	out[0] = '\0';
	for (int i = 0; i < 64; i++) {
		if (!(mask & (1ull << i)))
			continue;
		const char *n = (platform ? plat : pol)[i];
		char tmp[16];
		if (!n) {
			snprintf(tmp, sizeof(tmp), "bit %d", i);
			n = tmp;
		}
		int w = snprintf(out + o, cap - o, "%s%s", o ? ", " : "", n);
		if (w < 0 || (size_t)w >= cap - o)
			break;
		o += (size_t)w;
	}
}

static void check_permission_bit(struct ev *e, const struct snp_policy *p,
				 const struct snp_report *r, const char *name, uint64_t bit,
				 const char *bitname)
{
	char exp[24], act[24];
	snprintf(act, sizeof(act), "0x%llx", (unsigned long long)r->policy);
	if (p->has_policy)
		snprintf(exp, sizeof(exp), "0x%llx", (unsigned long long)p->policy);
	const char *x = p->has_policy ? exp : NULL;
	if (!(r->policy & bit))
		add_check(e, name, RES_PASS, x, act, "%s is 0 in the guest policy", bitname);
	else if (p->has_policy && (p->policy & bit))
		add_check(e, name, RES_PASS, x, act,
			  "%s is 1 in the guest policy, allowed by the "
			  "policy's %s bit",
			  bitname, bitname);
	else
		add_check(e, name, RES_FAIL, x, act,
			  "%s is 1 in the guest policy: refused unless the policy sets its %s bit",
			  bitname, bitname);
}

static void check_guest_policy(struct ev *e, const struct snp_policy *p, const struct snp_report *r)
{
	char exp[24], act[24];
	snprintf(act, sizeof(act), "0x%llx", (unsigned long long)r->policy);
	if (!p->has_policy) {
		add_check(e, "policy", RES_SKIP, NULL, act, "not in the policy");
		return;
	}
	snprintf(exp, sizeof(exp), "0x%llx", (unsigned long long)p->policy);
	char msg[400] = "";
	size_t o = 0;
	unsigned rmaj = (unsigned)(r->policy >> 8) & 0xff, rmin = (unsigned)r->policy & 0xff;
	unsigned pmaj = (unsigned)(p->policy >> 8) & 0xff, pmin = (unsigned)p->policy & 0xff;
	if ((pmaj << 8 | pmin) > (rmaj << 8 | rmin)) {
		int w = snprintf(msg, sizeof(msg), "ABI %u.%u required, the guest's is %u.%u", pmaj,
				 pmin, rmaj, rmin);
		o = w > 0 ? (size_t)w : 0;
	}
	/* DEBUG and MIGRATE_MA have their own checks. */
	uint64_t max_bits = SNP_POLICY_SMT | SNP_POLICY_CXL_ALLOW;
	uint64_t req_bits = SNP_POLICY_SINGLE_SOCKET | SNP_POLICY_MEM_AES_256_XTS |
			    SNP_POLICY_RAPL_DIS | SNP_POLICY_CIPHERTEXT_HIDING |
			    SNP_POLICY_PAGE_SWAP_DISABLE;
	uint64_t unauthorized = r->policy & max_bits & ~p->policy;
	uint64_t missing = p->policy & req_bits & ~r->policy;
	char names[200];
	if (unauthorized && o < sizeof(msg)) {
		bit_names(names, sizeof(names), unauthorized, false);
		int w = snprintf(msg + o, sizeof(msg) - o,
				 "%sallowed by the guest but not by the "
				 "policy: %s",
				 o ? "; " : "", names);
		o += w > 0 ? (size_t)w : 0;
	}
	if (missing && o < sizeof(msg)) {
		bit_names(names, sizeof(names), missing, false);
		snprintf(msg + o, sizeof(msg) - o,
			 "%srequired by the policy but not set by the "
			 "guest: %s",
			 o ? "; " : "", names);
	}
	if (msg[0])
		add_check(e, "policy", RES_FAIL, exp, act, "%s", msg);
	else
		add_check(e, "policy", RES_PASS, exp, act,
			  "guest policy within the maximum (ABI %u.%u >= %u.%u)", rmaj, rmin, pmaj,
			  pmin);
}

static void check_product(struct ev *e, const struct snp_policy *p, const struct snp_report *r,
			  enum snp_product chain_pr, enum snp_product rep_pr)
{
	enum snp_product actual = chain_pr != SNP_PRODUCT_UNKNOWN ? chain_pr : rep_pr;
	const char *act = actual != SNP_PRODUCT_UNKNOWN ? product_name(actual) : NULL;
	if (chain_pr != SNP_PRODUCT_UNKNOWN && rep_pr != SNP_PRODUCT_UNKNOWN &&
	    chain_pr != rep_pr) {
		add_check(e, "product", RES_FAIL, p->product ? product_name(p->product) : NULL, act,
			  "the certificate chain is %s but the report's CPUID (%02x/%02x) is %s",
			  product_name(chain_pr), r->cpuid_fam_id, r->cpuid_mod_id,
			  product_name(rep_pr));
		return;
	}
	if (p->product == SNP_PRODUCT_UNKNOWN) {
		add_check(e, "product", RES_SKIP, NULL, act, "no product in the policy");
		return;
	}
	const char *exp = product_name(p->product);
	if (actual == SNP_PRODUCT_UNKNOWN) {
		add_check(e, "product", RES_SKIP, exp, NULL,
			  "the product is not known from the chain or the report (v%u)",
			  r->version);
		return;
	}
	if (actual != p->product) {
		add_check(e, "product", RES_FAIL, exp, act,
			  "the attester is %s, the policy wants %s", act, exp);
		return;
	}
	if (p->has_machine_stepping && r->version >= 3 && r->cpuid_step != p->machine_stepping) {
		add_check(e, "product", RES_FAIL, exp, act,
			  "%s, but CPUID stepping %u differs from the policy's machine_stepping %u",
			  act, r->cpuid_step, p->machine_stepping);
		return;
	}
	add_check(e, "product", RES_PASS, exp, act, "%s%s", act,
		  p->has_machine_stepping && r->version < 3
			  ? " (machine_stepping not checked: a v2 report has no CPUID)"
			  : "");
}

static void check_provisional(struct ev *e, const struct snp_policy *p, const struct snp_report *r,
			      enum snp_product pr)
{
	char act[120];
	snprintf(act, sizeof(act), "committed 0x%016llx %u.%u.%u, current 0x%016llx %u.%u.%u",
		 (unsigned long long)r->committed_tcb, r->committed_major, r->committed_minor,
		 r->committed_build, (unsigned long long)r->current_tcb, r->current_major,
		 r->current_minor, r->current_build);
	if (!p->has_permit_provisional_firmware) {
		add_check(e, "provisional_firmware", RES_SKIP, NULL, act, "not in the policy");
		return;
	}
	struct snp_tcb ct = snp_tcb_decode(r->committed_tcb, pr);
	struct snp_tcb cu = snp_tcb_decode(r->current_tcb, pr);
	unsigned cver = (unsigned)r->committed_major << 8 | r->committed_minor;
	unsigned uver = (unsigned)r->current_major << 8 | r->current_minor;
	if (!p->permit_provisional_firmware) {
		const char *what = !tcb_eq(ct, cu)                          ? "TCB"
				   : r->committed_build != r->current_build ? "build"
				   : cver != uver                           ? "API version"
									    : NULL;
		if (what)
			add_check(
				e, "provisional_firmware", RES_FAIL, "committed == current", act,
				"provisional firmware not permitted: the committed %s differs from "
				"the current one",
				what);
		else
			add_check(e, "provisional_firmware", RES_PASS, "committed == current", act,
				  "committed firmware equals the current firmware");
		return;
	}
	char ex[160];
	tcb_excess(ex, sizeof(ex), ct, cu);
	const char *what = ex[0]                                   ? "TCB"
			   : r->committed_build > r->current_build ? "build"
			   : cver > uver                           ? "API version"
								   : NULL;
	if (what)
		add_check(e, "provisional_firmware", RES_FAIL, "committed <= current", act,
			  "the committed %s is above the current one%s%s", what, ex[0] ? ": " : "",
			  ex);
	else
		add_check(e, "provisional_firmware", RES_PASS, "committed <= current", act,
			  "provisional firmware permitted; committed <= current");
}

static void check_platform_info(struct ev *e, const struct snp_policy *p,
				const struct snp_report *r)
{
	char exp[24], act[24];
	snprintf(act, sizeof(act), "0x%llx", (unsigned long long)r->platform_info);
	if (!p->has_platform_info) {
		add_check(e, "platform_info", RES_SKIP, NULL, act, "not in the policy");
		return;
	}
	snprintf(exp, sizeof(exp), "0x%llx", (unsigned long long)p->platform_info);
	uint64_t unauthorized = r->platform_info & ~p->platform_info & ~SNP_PLATFORM_REQUIRED_BITS;
	uint64_t missing = p->platform_info & SNP_PLATFORM_REQUIRED_BITS & ~r->platform_info;
	char a[200] = "", b[200] = "";
	if (unauthorized)
		bit_names(a, sizeof(a), unauthorized, true);
	if (missing)
		bit_names(b, sizeof(b), missing, true);
	if (unauthorized || missing)
		add_check(e, "platform_info", RES_FAIL, exp, act, "%s%s%s%s%s",
			  unauthorized ? "enabled but not allowed by the policy: " : "", a,
			  unauthorized && missing ? "; " : "",
			  missing ? "required by the policy but not enabled: " : "", b);
	else
		add_check(e, "platform_info", RES_PASS, exp, act,
			  "platform features within the policy");
}

static void check_keys(struct ev *e, const struct snp_policy *p, const struct snp_report *r)
{
	char idd[97], aud[97];
	util_hex(idd, r->id_key_digest, 48);
	util_hex(aud, r->author_key_digest, 48);
	bool author_en = r->flags & 1;
	bool author_trusted =
		author_en && hash_in(p->trusted_author_key_hashes, p->n_trusted_author_key_hashes,
				     r->author_key_digest);
	if (!p->require_author_key)
		add_check(e, "author_key", RES_SKIP, NULL, aud,
			  p->has_require_author_key ? "require_author_key is false"
						    : "not in the policy");
	else if (!author_en)
		add_check(e, "author_key", RES_FAIL, "a trusted author key", aud,
			  "AUTHOR_KEY_EN is 0: the guest was launched without an author key");
	else if (!author_trusted)
		add_check(e, "author_key", RES_FAIL, "a trusted author key", aud,
			  "the author key digest is not in trusted_author_key_hashes (%zu entries)",
			  p->n_trusted_author_key_hashes);
	else
		add_check(e, "author_key", RES_PASS, "a trusted author key", aud,
			  "the author key is trusted");

	if (!p->require_author_key && !p->require_id_block) {
		add_check(e, "id_block", RES_SKIP, NULL, idd,
			  p->has_require_id_block ? "require_id_block is false"
						  : "not in the policy");
		return;
	}
	/* The ID block's signature is not re-checked: firmware verified it at launch. */
	if (author_trusted)
		add_check(e, "id_block", RES_PASS, "a trusted ID key", idd,
			  "the ID key is trusted through the trusted author key");
	else if (hash_in(p->trusted_id_key_hashes, p->n_trusted_id_key_hashes, r->id_key_digest))
		add_check(e, "id_block", RES_PASS, "a trusted ID key", idd,
			  "the ID key digest is in trusted_id_key_hashes");
	else
		add_check(
			e, "id_block", RES_FAIL, "a trusted ID key", idd,
			"%s is not in trusted_id_key_hashes (%zu entries) nor signed by a trusted "
			"author key",
			all_zero(r->id_key_digest, 48) ? "no ID block: the zero ID key digest"
						       : "the ID key digest",
			p->n_trusted_id_key_hashes);
}

json_t *snp_policy_evaluate(const struct snp_policy *p, const struct snp_report *r,
			    const struct snp_verdict *chain_verdict, bool *pass)
{
	if (pass)
		*pass = false;
	if (!p || !r)
		return NULL;
	struct ev e = { .checks = json_array() };
	if (!e.checks)
		return NULL;

	/* 1. Signature and certificate chain (snp_verify*). */
	enum snp_product chain_pr = SNP_PRODUCT_UNKNOWN;
	if (!chain_verdict) {
		add_check(&e, "signature_and_chain", RES_SKIP, NULL, NULL,
			  "no certificate chain verdict supplied");
	} else {
		/* The verifier's message in full (sanitize() cuts policy keys at 48 bytes). */
		char det[sizeof(chain_verdict->detail)];
		size_t dn = strnlen(chain_verdict->detail, sizeof(chain_verdict->detail) - 1);
		for (size_t i = 0; i < dn; i++) {
			unsigned char c = (unsigned char)chain_verdict->detail[i];
			det[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
		}
		det[dn] = '\0';
		if (chain_verdict->reason == SNP_OK) {
			chain_pr = chain_verdict->product;
			add_check(&e, "signature_and_chain", RES_PASS, NULL, NULL,
				  "report signed by the %s, chain to the %s ARK verified%s%s",
				  chain_verdict->signer == SNP_SIGNER_VLEK ? "VLEK" : "VCEK",
				  product_name(chain_pr), det[0] ? ": " : "", det);
		} else {
			add_check(&e, "signature_and_chain", RES_FAIL, NULL,
				  snp_reason_name(chain_verdict->reason), "%s",
				  det[0] ? det : snp_reason_name(chain_verdict->reason));
		}
	}

	/* 2. Product; it also selects the TCB layout. */
	enum snp_product rep_pr = report_product(r);
	check_product(&e, p, r, chain_pr, rep_pr);
	enum snp_product layout = p->product ? p->product
				  : chain_pr ? chain_pr
				  : rep_pr   ? rep_pr
					     : SNP_PRODUCT_MILAN;
	const char *layout_note = (p->product || chain_pr || rep_pr)
					  ? ""
					  : " (product unknown: Milan/Genoa TCB layout assumed)";

	/* 3. Guest policy: DEBUG and MIGRATE_MA always, the rest as a maximum. */
	check_permission_bit(&e, p, r, "debug", SNP_POLICY_DEBUG, "DEBUG");
	check_permission_bit(&e, p, r, "migration_agent", SNP_POLICY_MIGRATE_MA, "MIGRATE_MA");
	check_guest_policy(&e, p, r);

	/* 4. GUEST_SVN. */
	{
		char exp[16], act[16];
		snprintf(act, sizeof(act), "%u", r->guest_svn);
		snprintf(exp, sizeof(exp), "%u", p->minimum_guest_svn);
		if (!p->has_minimum_guest_svn)
			add_check(&e, "guest_svn", RES_SKIP, NULL, act, "not in the policy");
		else if (r->guest_svn < p->minimum_guest_svn)
			add_check(&e, "guest_svn", RES_FAIL, exp, act,
				  "GUEST_SVN %u is below the minimum %u", r->guest_svn,
				  p->minimum_guest_svn);
		else
			add_check(&e, "guest_svn", RES_PASS, exp, act, "GUEST_SVN >= minimum");
	}

	/* 5. Exact-match byte fields. */
	{
		static const char *const upper[] = { "FAMILY_ID", "IMAGE_ID",   "MEASUREMENT",
						     "HOST_DATA", "REPORT_ID",  "REPORT_ID_MA",
						     "CHIP_ID",   "REPORT_DATA" };
		const uint8_t *actual[] = { r->family_id, r->image_id,   r->measurement,
					    r->host_data, r->report_id,  r->report_id_ma,
					    r->chip_id,   r->report_data };
		_Static_assert(ARRAY_SIZE(upper) == ARRAY_SIZE(byte_fields), "byte fields");
		_Static_assert(ARRAY_SIZE(actual) == ARRAY_SIZE(byte_fields), "byte fields");
		for (size_t i = 0; i < ARRAY_SIZE(byte_fields); i++) {
			bool verifier_rd = field_bytes(p, i) == &p->report_data &&
					   p->report_data_from_verifier;
			check_bytes(&e, byte_fields[i].name, field_bytes(p, i), actual[i],
				    byte_fields[i].size, upper[i],
				    verifier_rd ? " (expected value from the verifier)" : "",
				    byte_fields[i].fill_cmd);
		}
	}

	/* 6. TCBs. */
	check_min_tcb(&e, "minimum_tcb", p->has_minimum_tcb, p->minimum_tcb, r->reported_tcb,
		      "REPORTED_TCB", layout, layout_note);
	check_min_tcb(&e, "minimum_launch_tcb", p->has_minimum_launch_tcb, p->minimum_launch_tcb,
		      r->launch_tcb, "LAUNCH_TCB", layout, layout_note);

	/* 7. Firmware build and version. */
	{
		char exp[16], act[16];
		snprintf(act, sizeof(act), "%u", r->current_build);
		snprintf(exp, sizeof(exp), "%u", p->minimum_build);
		if (!p->has_minimum_build)
			add_check(&e, "minimum_build", RES_SKIP, NULL, act, "not in the policy");
		else if (r->current_build < p->minimum_build)
			add_check(&e, "minimum_build", RES_FAIL, exp, act,
				  "firmware build %u is below the minimum %u", r->current_build,
				  p->minimum_build);
		else
			add_check(&e, "minimum_build", RES_PASS, exp, act,
				  "CURRENT_BUILD >= minimum");

		snprintf(act, sizeof(act), "%u.%u", r->current_major, r->current_minor);
		snprintf(exp, sizeof(exp), "%u.%u", p->minimum_major, p->minimum_minor);
		unsigned cur = (unsigned)r->current_major << 8 | r->current_minor;
		unsigned min = (unsigned)p->minimum_major << 8 | p->minimum_minor;
		if (!p->has_minimum_version)
			add_check(&e, "minimum_version", RES_SKIP, NULL, act,
				  "not in the policy (or empty)");
		else if (cur < min)
			add_check(&e, "minimum_version", RES_FAIL, exp, act,
				  "firmware API version %s is below the minimum %s", act, exp);
		else
			add_check(&e, "minimum_version", RES_PASS, exp, act,
				  "firmware API version >= minimum");
	}

	/* 8. Provisional firmware. */
	check_provisional(&e, p, r, layout);

	/* 9. VMPL. */
	{
		char exp[16], act[16];
		snprintf(act, sizeof(act), "%u", r->vmpl);
		snprintf(exp, sizeof(exp), "%u", p->vmpl);
		if (!p->has_vmpl)
			add_check(&e, "vmpl", RES_SKIP, NULL, act, "not in the policy");
		else if (r->vmpl != p->vmpl)
			add_check(&e, "vmpl", RES_FAIL, exp, act,
				  "the report was requested at VMPL %u, "
				  "the policy wants %u",
				  r->vmpl, p->vmpl);
		else
			add_check(&e, "vmpl", RES_PASS, exp, act, "VMPL matches");
	}

	/* 10. Platform info, 11. ID block and author key. */
	check_platform_info(&e, p, r);
	check_keys(&e, p, r);

	if (e.oom) {
		json_decref(e.checks);
		return NULL;
	}
	json_t *out = json_object();
	if (!out || json_object_set_new(out, "verified", json_boolean(!e.failed)) < 0 ||
	    json_object_set_new(out, "checks", e.checks) < 0) {
		json_decref(out);
		return NULL;
	}
	if (pass)
		*pass = !e.failed;
	return out;
}

/* ------------------------------------------------------------------------------------------ */
/* File editing (cocos-cli `policy measurement|hostdata`) */

static size_t skip_ws(const char *s, size_t n, size_t i)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

static size_t skip_string(const char *s, size_t n, size_t i)
{
	for (i++; i < n; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return i + 1;
	}
	return n;
}

static size_t skip_value(const char *s, size_t n, size_t i)
{
	if (i >= n)
		return n;
	if (s[i] == '"')
		return skip_string(s, n, i);
	if (s[i] == '{' || s[i] == '[') {
		size_t depth = 0;
		while (i < n) {
			char c = s[i];
			if (c == '"') {
				i = skip_string(s, n, i);
				continue;
			}
			if (c == '{' || c == '[')
				depth++;
			else if ((c == '}' || c == ']') && --depth == 0)
				return i + 1;
			i++;
		}
		return n;
	}
	while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\t' &&
	       s[i] != '\n' && s[i] != '\r')
		i++;
	return i;
}

/* Compares a raw JSON string token (quotes included) with key, decoding escapes if any. */
static bool key_equals(const char *tok, size_t n, const char *key)
{
	if (n < 2)
		return false;
	if (!memchr(tok, '\\', n))
		return n - 2 == strlen(key) && memcmp(tok + 1, key, n - 2) == 0;
	json_error_t je;
	json_t *s = json_loadb(tok, n, JSON_DECODE_ANY, &je);
	bool eq = json_is_string(s) && strcmp(json_string_value(s), key) == 0;
	json_decref(s);
	return eq;
}

struct member {
	bool found, empty;
	size_t vstart, vend; /* the value's span when found */
	size_t last_vend;    /* end of the last member's value */
	size_t close;        /* the object's '}' */
};

/* s[obj] is '{' of a well-formed object (the text was validated by jansson). */
static int find_member(const char *s, size_t n, size_t obj, const char *key, struct member *m)
{
	memset(m, 0, sizeof(*m));
	m->empty = true;
	size_t i = skip_ws(s, n, obj + 1);
	if (i < n && s[i] == '}') {
		m->close = i;
		return 0;
	}
	for (;;) {
		if (i >= n || s[i] != '"')
			return -EINVAL;
		size_t ke = skip_string(s, n, i);
		bool match = key_equals(s + i, ke - i, key);
		i = skip_ws(s, n, ke);
		if (i >= n || s[i] != ':')
			return -EINVAL;
		i = skip_ws(s, n, i + 1);
		size_t ve = skip_value(s, n, i);
		m->empty = false;
		m->last_vend = ve;
		if (match) {
			m->found = true;
			m->vstart = i;
			m->vend = ve;
		}
		i = skip_ws(s, n, ve);
		if (i < n && s[i] == ',') {
			i = skip_ws(s, n, i + 1);
			continue;
		}
		if (i < n && s[i] == '}') {
			m->close = i;
			return 0;
		}
		return -EINVAL;
	}
}

/* Parses text (big integers tolerated) into a JSON object, or NULL with err. */
static json_t *load_doc(const char *text, size_t len, const char *label, char *err, size_t errlen,
			int *rc)
{
	size_t tlen;
	char *q = quote_big_ints(text, len, &tlen);
	if (!q) {
		set_err(err, errlen, "out of memory");
		*rc = -ENOMEM;
		return NULL;
	}
	json_error_t je;
	json_t *root = json_parse_strict(q, tlen, &je);
	free(q);
	if (!root || !json_is_object(root)) {
		char safe[128];
		sanitize(safe, sizeof(safe), je.text, root ? 0 : strlen(je.text));
		if (root)
			set_err(err, errlen, "%s: the policy must be a JSON object", label);
		else
			set_err(err, errlen, "%s: invalid JSON at line %d column %d: %s", label,
				je.line, je.column, safe);
		json_decref(root);
		*rc = -EINVAL;
		return NULL;
	}
	return root;
}

int snp_policy_file_set(const char *path, const char *field, const char *b64, char *err,
			size_t errlen)
{
	set_err(err, errlen, "%s", "");
	if (!path || !field || !b64) {
		set_err(err, errlen, "missing argument");
		return -EINVAL;
	}
	const char *key;
	size_t want;
	if (strcmp(field, "measurement") == 0) {
		key = "measurement";
		want = 48;
	} else if (strcmp(field, "hostdata") == 0 || strcmp(field, "host_data") == 0) {
		key = "host_data";
		want = 32;
	} else {
		char safe[64];
		sanitize(safe, sizeof(safe), field, strlen(field));
		set_err(err, errlen, "unknown field \"%s\" (want measurement or hostdata)", safe);
		return -EINVAL;
	}
	uint8_t bytes[48];
	size_t b64len = strlen(b64);
	long got = b64_decode(b64, b64len, bytes, want);
	if (got < 0) {
		set_err(err, errlen, "%s: invalid base64", key);
		return -EINVAL;
	}
	if ((size_t)got != want) {
		set_err(err, errlen, "%s: want %zu bytes, got %ld", key, want, got);
		return -EINVAL;
	}
	char enc[80];
	b64_encode(enc, bytes, want);

	char label[80];
	sanitize(label, sizeof(label), path, strlen(path));
	struct stat st;
	if (stat(path, &st) < 0) {
		int e = errno;
		set_err(err, errlen, "%s: %s", label, strerror(e));
		return -e;
	}
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = fsx_read_file(path, SNP_POLICY_MAX_BYTES, &text, &len);
	if (r < 0) {
		if (r == -E2BIG)
			set_err(err, errlen, "%s: larger than %u bytes", label,
				SNP_POLICY_MAX_BYTES);
		else
			set_err(err, errlen, "%s: %s", label, strerror(-r));
		return r;
	}
	json_t *root = load_doc(text, len, label, err, errlen, &r);
	if (!root)
		return r;
	json_t *pol = json_object_get(root, "snp_policy");
	json_t *pol4 = json_object_get(root, "policy");
	const char *top = pol ? "snp_policy" : "policy";
	bool ok = (pol != NULL) != (pol4 != NULL) && json_is_object(pol ? pol : pol4);
	json_decref(root);
	if (!ok) {
		set_err(err, errlen, "%s: want exactly one \"snp_policy\" or \"policy\" object",
			label);
		return -EINVAL;
	}

	/* Locate the policy object, then the member, in the original text. */
	struct member top_m, m;
	size_t start = skip_ws(text, len, 0);
	if (find_member(text, len, start, top, &top_m) < 0 || !top_m.found ||
	    find_member(text, len, top_m.vstart, key, &m) < 0) {
		set_err(err, errlen, "%s: cannot locate %s in the text", label, top);
		return -EINVAL;
	}
	char ins[128];
	size_t cut_from, cut_to;
	if (m.found) {
		snprintf(ins, sizeof(ins), "\"%s\"", enc);
		cut_from = m.vstart;
		cut_to = m.vend;
	} else {
		snprintf(ins, sizeof(ins), "%s\"%s\": \"%s\"", m.empty ? "" : ", ", key, enc);
		cut_from = cut_to = m.empty ? m.close : m.last_vend;
	}
	size_t ilen = strlen(ins);
	size_t outlen = cut_from + ilen + (len - cut_to);
	_cleanup_free_ char *out = malloc(outlen + 1);
	if (!out) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(out, text, cut_from);
	memcpy(out + cut_from, ins, ilen);
	memcpy(out + cut_from + ilen, text + cut_to, len - cut_to);
	out[outlen] = '\0';

	/* The edit must read back as intended before it replaces the file. */
	root = load_doc(out, outlen, label, err, errlen, &r);
	if (!root)
		return r;
	json_t *val = json_object_get(json_object_get(root, top), key);
	ok = json_is_string(val) && strcmp(json_string_value(val), enc) == 0;
	json_decref(root);
	if (!ok) {
		set_err(err, errlen, "%s: internal error: the edit did not read back", label);
		return -EINVAL;
	}
	if (outlen > SNP_POLICY_MAX_BYTES) {
		set_err(err, errlen, "%s: the result would exceed %u bytes", label,
			SNP_POLICY_MAX_BYTES);
		return -E2BIG;
	}
	r = fsx_write_atomic(path, out, outlen, st.st_mode & 07777);
	if (r < 0) {
		set_err(err, errlen, "%s: %s", label, strerror(-r));
		return r;
	}
	return 0;
}
