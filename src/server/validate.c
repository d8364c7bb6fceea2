/*
 * validate.c - cloisterd's checks of request bodies, path ids and list queries (validate.h).
 *
 * Every body goes through json_parse_strict (duplicate keys, bad UTF-8, \u0000 and trailing
 * data refused by jansson), must be an object, and is then walked key by key: a key that is not
 * in the route's list is refused by name, because a misspelt optional field ("descripton") would
 * otherwise be dropped without a word. Each value is type-checked (400) and then run through the
 * field rule (422), and only a fully valid body is copied to the output, so a caller never sees
 * half a struct. Error messages name the field and never echo more than a short, UTF-8-safe
 * excerpt of what the client sent (they end up in JSON replies, which must stay valid UTF-8).
 *
 * Addresses are where this file is deliberately stricter than Prism: cloisterd dials what is
 * stored here, so anything a resolver or inet_aton could read two ways ("010.0.0.1", "0x7f.1",
 * a bare "123", a trailing dot, brackets around a name) is refused rather than guessed at.
 */
#include "server/validate.h"

#include "json.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define HOST_MAX_BYTES 253 /* RFC 1035 host name, without a trailing dot */
#define LABEL_MAX_BYTES 63
#define KEY_EXCERPT_BYTES 64 /* how much of an unknown key an error message repeats */

/* Formats the message, then drops a UTF-8 sequence the truncation may have cut in half. */
__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t errlen, int code,
						      const char *fmt, ...)
{
	if (!err || errlen == 0)
		return code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	size_t n = strlen(err);
	while (n > 0 && !util_utf8_valid(err, n))
		n--;
	err[n] = '\0';
	return code;
}

static void ok_err(char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
}

/* A short excerpt of a client-chosen key for an error message, never cut inside a sequence. */
static void key_excerpt(const char *key, char out[KEY_EXCERPT_BYTES + 1])
{
	json_utf8_lossy(key, strlen(key), out, KEY_EXCERPT_BYTES + 1);
}

/* Decodes one code point of VALID UTF-8 at s (n bytes left); *len gets its length. */
static uint32_t utf8_decode(const unsigned char *s, size_t n, size_t *len)
{
	if (s[0] < 0x80 || n < 2) {
		*len = 1;
		return s[0];
	}
	if ((s[0] & 0xe0) == 0xc0) {
		*len = 2;
		return ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
	}
	if ((s[0] & 0xf0) == 0xe0 && n >= 3) {
		*len = 3;
		return ((uint32_t)(s[0] & 0x0f) << 12) | ((uint32_t)(s[1] & 0x3f) << 6) |
		       (s[2] & 0x3f);
	}
	if (n >= 4) {
		*len = 4;
		return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3f) << 12) |
		       ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
	}
	*len = 1;
	return s[0];
}

/* C0, DEL and C1 controls. */
static bool is_control(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

/* Unicode White_Space: a name that starts or ends with any of them looks like another name. */
static bool is_space(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
	       c == 0x205f || c == 0x3000;
}

/* Shared text rule: bytes, UTF-8, then every code point through the control check. */
static int check_text(const char *field, const char *s, size_t len, size_t min, size_t max,
		      bool allow_nl_tab, char *err, size_t errlen)
{
	if (!s)
		return fail(err, errlen, VALID_INVALID, "%s: required", field);
	if (len < min)
		return fail(err, errlen, VALID_INVALID, "%s: must not be empty", field);
	if (len > max)
		return fail(err, errlen, VALID_INVALID, "%s: longer than %zu bytes", field, max);
	if (!util_utf8_valid(s, len))
		return fail(err, errlen, VALID_INVALID, "%s: not valid UTF-8", field);
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		size_t l;
		uint32_t c = utf8_decode(p + i, len - i, &l);
		if (c == 0)
			return fail(err, errlen, VALID_INVALID, "%s: contains a NUL byte", field);
		if (is_control(c) && !(allow_nl_tab && (c == '\n' || c == '\t')))
			return fail(err, errlen, VALID_INVALID,
				    "%s: contains a control character (U+%04X)", field,
				    (unsigned)c);
		i += l;
	}
	return VALID_OK;
}

int validate_name(const char *s, size_t len, char *err, size_t errlen)
{
	int rc = check_text("name", s, len, 1, STORE_NAME_MAX, false, err, errlen);
	if (rc != VALID_OK)
		return rc;
	const unsigned char *p = (const unsigned char *)s;
	size_t l;
	if (is_space(utf8_decode(p, len, &l)))
		return fail(err, errlen, VALID_INVALID, "name: must not start with whitespace");
	size_t last = len - 1; /* find the start of the last code point */
	while (last > 0 && (p[last] & 0xc0) == 0x80)
		last--;
	if (is_space(utf8_decode(p + last, len - last, &l)))
		return fail(err, errlen, VALID_INVALID, "name: must not end with whitespace");
	ok_err(err, errlen);
	return VALID_OK;
}

int validate_description(const char *s, size_t len, char *err, size_t errlen)
{
	int rc = check_text("description", s, len, 0, STORE_DESCRIPTION_MAX, true, err, errlen);
	if (rc == VALID_OK)
		ok_err(err, errlen);
	return rc;
}

static bool all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Port text: 1..65535, decimal, no sign, no leading zero. */
static int check_port(const char *s, size_t n, char *err, size_t errlen)
{
	if (n == 0)
		return fail(err, errlen, VALID_INVALID, "address: port missing after ':'");
	if (!all_digits(s, n))
		return fail(err, errlen, VALID_INVALID, "address: port must be decimal digits");
	if (s[0] == '0')
		return fail(err, errlen, VALID_INVALID,
			    "address: port must be 1..65535 without leading zeros");
	if (n > 5)
		return fail(err, errlen, VALID_INVALID, "address: port must be 1..65535");
	unsigned v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	if (v > 65535)
		return fail(err, errlen, VALID_INVALID, "address: port must be 1..65535");
	return VALID_OK;
}

/* Dotted-quad IPv4 with every octet written canonically (no leading zeros). */
static int check_ipv4(const char *s, size_t n, char *err, size_t errlen)
{
	char buf[INET_ADDRSTRLEN + 1];
	if (n >= sizeof(buf))
		return fail(err, errlen, VALID_INVALID, "address: not a valid IPv4 address");
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && s[j] != '.')
			j++;
		if (j - i > 1 && s[i] == '0')
			return fail(err, errlen, VALID_INVALID,
				    "address: leading zeros in an IPv4 octet are ambiguous");
		i = j + 1;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	struct in_addr a;
	if (inet_pton(AF_INET, buf, &a) != 1)
		return fail(err, errlen, VALID_INVALID, "address: not a valid IPv4 address");
	return VALID_OK;
}

static int check_ipv6(const char *s, size_t n, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 1];
	struct in6_addr a;
	if (n == 0 || n >= sizeof(buf))
		return fail(err, errlen, VALID_INVALID, "address: not a valid IPv6 address");
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET6, buf, &a) != 1)
		return fail(err, errlen, VALID_INVALID, "address: not a valid IPv6 address");
	return VALID_OK;
}

/* A DNS host name (RFC 1123 labels) or, when the last label is numeric, an IPv4 address. */
static int check_host(const char *s, size_t n, char *err, size_t errlen)
{
	if (n == 0)
		return fail(err, errlen, VALID_INVALID, "address: host missing");
	if (memchr(s, '[', n) || memchr(s, ']', n))
		return fail(err, errlen, VALID_INVALID,
			    "address: brackets are only allowed around an IPv6 address");
	if (n > HOST_MAX_BYTES)
		return fail(err, errlen, VALID_INVALID, "address: host name longer than %d bytes",
			    HOST_MAX_BYTES);
	if (s[n - 1] == '.')
		return fail(err, errlen, VALID_INVALID,
			    "address: a trailing dot is not allowed in the host name");
	size_t last_label = 0;
	for (size_t i = 0; i <= n;) {
		size_t j = i;
		while (j < n && s[j] != '.')
			j++;
		size_t ll = j - i;
		if (ll == 0)
			return fail(err, errlen, VALID_INVALID,
				    "address: empty label in host name");
		if (ll > LABEL_MAX_BYTES)
			return fail(err, errlen, VALID_INVALID,
				    "address: host name label longer than %d bytes",
				    LABEL_MAX_BYTES);
		for (size_t k = i; k < j; k++) {
			char c = s[k];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '-'))
				return fail(err, errlen, VALID_INVALID,
					    "address: host name may contain only letters, digits, "
					    "'-' and '.'");
		}
		if (s[i] == '-' || s[j - 1] == '-')
			return fail(err, errlen, VALID_INVALID,
				    "address: host name label starts or ends with '-'");
		last_label = i;
		i = j + 1;
	}
	/* A numeric top label is an IPv4 address or nothing (no TLD is numeric). */
	if (all_digits(s + last_label, n - last_label))
		return check_ipv4(s, n, err, errlen);
	return VALID_OK;
}

int validate_address(const char *s, size_t len, char *err, size_t errlen)
{
	if (!s || len == 0)
		return fail(err, errlen, VALID_INVALID, "address: required");
	if (len > STORE_ADDRESS_MAX)
		return fail(err, errlen, VALID_INVALID, "address: longer than %d bytes",
			    STORE_ADDRESS_MAX);
	if (memchr(s, '\0', len))
		return fail(err, errlen, VALID_INVALID, "address: contains a NUL byte");
	int rc;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', len);
		if (!close)
			return fail(err, errlen, VALID_INVALID, "address: '[' without ']'");
		size_t in = (size_t)(close - s) - 1;
		if ((rc = check_ipv6(s + 1, in, err, errlen)) != VALID_OK)
			return rc;
		size_t rest = len - (size_t)(close - s) - 1;
		if (rest > 0) {
			if (close[1] != ':')
				return fail(err, errlen, VALID_INVALID,
					    "address: only ':port' may follow ']'");
			if ((rc = check_port(close + 2, rest - 1, err, errlen)) != VALID_OK)
				return rc;
		}
	} else {
		size_t colons = 0;
		const char *first = NULL;
		for (size_t i = 0; i < len; i++)
			if (s[i] == ':' && colons++ == 0)
				first = s + i;
		if (colons >= 2) {
			/* A bare IPv6 address: its port, if any, needs brackets. */
			if (memchr(s, ']', len))
				return fail(err, errlen, VALID_INVALID, "address: ']' without '['");
			if ((rc = check_ipv6(s, len, err, errlen)) != VALID_OK)
				return fail(err, errlen, VALID_INVALID,
					    "address: not a valid IPv6 address (write "
					    "[IPv6]:port for a port)");
		} else if (colons == 1) {
			size_t hl = (size_t)(first - s);
			if ((rc = check_host(s, hl, err, errlen)) != VALID_OK)
				return rc;
			if ((rc = check_port(first + 1, len - hl - 1, err, errlen)) != VALID_OK)
				return rc;
		} else if ((rc = check_host(s, len, err, errlen)) != VALID_OK) {
			return rc;
		}
	}
	ok_err(err, errlen);
	return VALID_OK;
}

int validate_username(const char *s, size_t len, char *err, size_t errlen)
{
	if (!s || len == 0)
		return fail(err, errlen, VALID_INVALID, "username: required");
	if (len > STORE_USERNAME_MAX)
		return fail(err, errlen, VALID_INVALID, "username: longer than %d bytes",
			    STORE_USERNAME_MAX);
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '@' || c == '-'))
			return fail(err, errlen, VALID_INVALID,
				    "username: may contain only letters, digits and . _ @ -");
	}
	ok_err(err, errlen);
	return VALID_OK;
}

int validate_password(const char *s, size_t len, char *err, size_t errlen)
{
	if (!s || len < VALID_PASSWORD_MIN_BYTES)
		return fail(err, errlen, VALID_INVALID, "password: shorter than %d bytes",
			    VALID_PASSWORD_MIN_BYTES);
	if (len > VALID_PASSWORD_MAX_BYTES)
		return fail(err, errlen, VALID_INVALID, "password: longer than %d bytes",
			    VALID_PASSWORD_MAX_BYTES);
	if (memchr(s, '\0', len))
		return fail(err, errlen, VALID_INVALID, "password: contains a NUL byte");
	if (!util_utf8_valid(s, len))
		return fail(err, errlen, VALID_INVALID, "password: not valid UTF-8");
	ok_err(err, errlen);
	return VALID_OK;
}

static bool valid_role(const char *s)
{
	return strcmp(s, "admin") == 0 || strcmp(s, "user") == 0;
}

bool validate_uuid(const char *s, char out[STORE_ID_BUF])
{
	if (!s || strnlen(s, STORE_ID_CHARS + 1) != STORE_ID_CHARS)
		return false;
	char tmp[STORE_ID_BUF];
	for (size_t i = 0; i < STORE_ID_CHARS; i++) {
		char c = s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (c >= '0' && c <= '9') {
		} else if (c >= 'a' && c <= 'f') {
		} else if (c >= 'A' && c <= 'F') {
			c = (char)(c - 'A' + 'a');
		} else {
			return false;
		}
		tmp[i] = c;
	}
	tmp[STORE_ID_CHARS] = '\0';
	memcpy(out, tmp, STORE_ID_BUF);
	return true;
}

int validate_terminate_type(const char *s, int *type, char *err, size_t errlen)
{
	if (s && strcmp(s, "0") == 0)
		*type = 0;
	else if (s && strcmp(s, "1") == 0)
		*type = 1;
	else
		return fail(err, errlen, VALID_INVALID,
			    "type: must be 0 (certificate revocation) or 1 (user initiated)");
	ok_err(err, errlen);
	return VALID_OK;
}

int validate_list_query(const char *limit, const char *offset, unsigned default_limit,
			struct list_query *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	uint64_t l = default_limit, o = 0;
	if (l == 0 || l > VALID_LIST_LIMIT_MAX)
		l = l == 0 ? 1 : VALID_LIST_LIMIT_MAX;
	if (limit && (util_parse_u64(limit, VALID_LIST_LIMIT_MAX, &l) < 0 || l == 0))
		return fail(err, errlen, VALID_INVALID, "limit: must be an integer 1..%d",
			    VALID_LIST_LIMIT_MAX);
	if (offset && util_parse_u64(offset, VALID_OFFSET_MAX, &o) < 0)
		return fail(err, errlen, VALID_INVALID, "offset: must be an integer 0..%llu",
			    (unsigned long long)VALID_OFFSET_MAX);
	out->limit = (unsigned)l;
	out->offset = o;
	ok_err(err, errlen);
	return VALID_OK;
}

/* --- JSON bodies --- */

/* Parses body as one JSON object; NULL with err filled (VALID_MALFORMED) otherwise. */
static json_t *parse_object(const char *body, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	if (!body || len == 0) {
		fail(err, errlen, VALID_MALFORMED, "body: a JSON object is required");
		return NULL;
	}
	json_t *j = json_parse_strict(body, len, &je);
	if (!j) {
		/* jansson's text is ASCII apart from the excerpt it quotes: keep it lossy-safe. */
		char txt[JSON_ERROR_TEXT_LENGTH];
		json_utf8_lossy(je.text, strnlen(je.text, sizeof(je.text)), txt, sizeof(txt));
		fail(err, errlen, VALID_MALFORMED, "body: invalid JSON: %s", txt);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		fail(err, errlen, VALID_MALFORMED, "body: must be a JSON object");
		return NULL;
	}
	return j;
}

static int unknown_key(const char *where, const char *key, char *err, size_t errlen)
{
	char k[KEY_EXCERPT_BYTES + 1];
	key_excerpt(key, k);
	return fail(err, errlen, VALID_MALFORMED, "%sunknown key \"%s\"", where, k);
}

/* Takes a JSON string (type error: 400), refuses NUL (422) and returns it with its length. */
static int get_string(const char *field, json_t *v, const char **s, size_t *len, char *err,
		      size_t errlen)
{
	if (!json_is_string(v))
		return fail(err, errlen, VALID_MALFORMED, "%s: must be a string", field);
	*s = json_string_value(v);
	*len = json_string_length(v);
	if (memchr(*s, '\0', *len))
		return fail(err, errlen, VALID_INVALID, "%s: contains a NUL byte", field);
	return VALID_OK;
}

/* dst has room for cap bytes including the NUL; the validators already bounded len. */
static void copy_str(char *dst, size_t cap, const char *s, size_t len)
{
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, s, len);
	dst[len] = '\0';
}

int validate_backend_body(const char *body, size_t len, struct backend_input *out, char *err,
			  size_t errlen)
{
	memset(out, 0, sizeof(*out));
	json_t *j = parse_object(body, len, err, errlen);
	if (!j)
		return VALID_MALFORMED;
	const char *key;
	json_t *v;
	json_t *name = NULL, *desc = NULL, *addr = NULL;
	int rc = VALID_OK;
	json_object_foreach(j, key, v)
	{
		if (strcmp(key, "name") == 0)
			name = v;
		else if (strcmp(key, "description") == 0)
			desc = v;
		else if (strcmp(key, "address") == 0)
			addr = v;
		else {
			rc = unknown_key("", key, err, errlen);
			goto out;
		}
	}
	const char *s;
	size_t n;
	struct backend_input tmp = { { 0 } };
	if (!name) {
		rc = fail(err, errlen, VALID_INVALID, "name: required");
		goto out;
	}
	if ((rc = get_string("name", name, &s, &n, err, errlen)) != VALID_OK ||
	    (rc = validate_name(s, n, err, errlen)) != VALID_OK)
		goto out;
	copy_str(tmp.name, sizeof(tmp.name), s, n);
	/* null is accepted for the optional description: Go clients marshal an unset one so. */
	if (desc && !json_is_null(desc)) {
		if ((rc = get_string("description", desc, &s, &n, err, errlen)) != VALID_OK ||
		    (rc = validate_description(s, n, err, errlen)) != VALID_OK)
			goto out;
		copy_str(tmp.description, sizeof(tmp.description), s, n);
	}
	if (!addr) {
		rc = fail(err, errlen, VALID_INVALID, "address: required");
		goto out;
	}
	if ((rc = get_string("address", addr, &s, &n, err, errlen)) != VALID_OK ||
	    (rc = validate_address(s, n, err, errlen)) != VALID_OK)
		goto out;
	copy_str(tmp.address, sizeof(tmp.address), s, n);
	*out = tmp;
	ok_err(err, errlen);
out:
	json_decref(j);
	return rc;
}

/* Wipes a struct that held a password before it goes. */
static void wipe(void *p, size_t n)
{
	OPENSSL_cleanse(p, n);
}

/* jansson frees strings without clearing them: clear a password's copy in the parsed tree. */
static void wipe_json_string(json_t *v)
{
	if (json_is_string(v))
		OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
}

static int take_username(const char *field, json_t *v, char *dst, size_t cap, char *err,
			 size_t errlen)
{
	const char *s;
	size_t n;
	int rc = get_string(field, v, &s, &n, err, errlen);
	if (rc == VALID_OK && (rc = validate_username(s, n, err, errlen)) != VALID_OK) {
		/* validate_username names "username"; keep the client's field name. */
		if (strcmp(field, "username") != 0 && err && errlen) {
			char msg[128];
			const char *colon = strchr(err, ':');
			snprintf(msg, sizeof(msg), "%s%s", field, colon ? colon : ": invalid");
			fail(err, errlen, rc, "%s", msg);
		}
	}
	if (rc == VALID_OK)
		copy_str(dst, cap, s, n);
	return rc;
}

static int take_password(const char *field, json_t *v, size_t min, char *dst, size_t cap, char *err,
			 size_t errlen)
{
	const char *s;
	size_t n;
	int rc = get_string(field, v, &s, &n, err, errlen);
	if (rc != VALID_OK)
		return rc;
	if (n < min)
		return fail(err, errlen, VALID_INVALID, "%s: shorter than %zu bytes", field, min);
	if (n > VALID_PASSWORD_MAX_BYTES)
		return fail(err, errlen, VALID_INVALID, "%s: longer than %d bytes", field,
			    VALID_PASSWORD_MAX_BYTES);
	copy_str(dst, cap, s, n);
	return VALID_OK;
}

static int take_role(json_t *v, char *dst, size_t cap, char *err, size_t errlen)
{
	const char *s;
	size_t n;
	int rc = get_string("role", v, &s, &n, err, errlen);
	if (rc != VALID_OK)
		return rc;
	if (!valid_role(s))
		return fail(err, errlen, VALID_INVALID, "role: must be \"admin\" or \"user\"");
	copy_str(dst, cap, s, n);
	return VALID_OK;
}

/* SuperMQ's user fields cloisterd has no use for: accepted (type-checked) and ignored. */
static int supermq_ignored(const char *key, json_t *v, bool *known, char *err, size_t errlen)
{
	static const char *const strings[] = { "first_name", "last_name", "email",
					       "profile_picture", "status" };
	*known = true;
	for (size_t i = 0; i < ARRAY_SIZE(strings); i++)
		if (strcmp(key, strings[i]) == 0) {
			if (!json_is_string(v) && !json_is_null(v))
				return fail(err, errlen, VALID_MALFORMED, "%s: must be a string",
					    key);
			return VALID_OK;
		}
	if (strcmp(key, "tags") == 0) {
		size_t i;
		json_t *e;
		if (json_is_null(v))
			return VALID_OK;
		if (!json_is_array(v))
			return fail(err, errlen, VALID_MALFORMED, "tags: must be an array");
		json_array_foreach(v, i, e)
		{
			if (!json_is_string(e))
				return fail(err, errlen, VALID_MALFORMED,
					    "tags: must be an array of strings");
		}
		return VALID_OK;
	}
	if (strcmp(key, "metadata") == 0) {
		if (!json_is_object(v) && !json_is_null(v))
			return fail(err, errlen, VALID_MALFORMED, "metadata: must be an object");
		return VALID_OK;
	}
	*known = false;
	return VALID_OK;
}

int validate_user_body(const char *body, size_t len, struct user_input *out, char *err,
		       size_t errlen)
{
	memset(out, 0, sizeof(*out));
	json_t *j = parse_object(body, len, err, errlen);
	if (!j)
		return VALID_MALFORMED;
	struct user_input tmp;
	memset(&tmp, 0, sizeof(tmp));
	json_t *user = NULL, *pass = NULL, *role = NULL, *creds = NULL;
	const char *user_field = "username", *pass_field = "password";
	const char *key;
	json_t *v;
	int rc = VALID_OK;
	json_object_foreach(j, key, v)
	{
		bool known;
		if (strcmp(key, "username") == 0)
			user = v;
		else if (strcmp(key, "password") == 0)
			pass = v;
		else if (strcmp(key, "role") == 0)
			role = v;
		else if (strcmp(key, "credentials") == 0)
			creds = v;
		else if ((rc = supermq_ignored(key, v, &known, err, errlen)) != VALID_OK)
			goto out;
		else if (!known) {
			rc = unknown_key("", key, err, errlen);
			goto out;
		}
	}
	if (creds) {
		/* SuperMQ: {"credentials":{"username"|"identity","secret"}} */
		if (user || pass) {
			rc = fail(err, errlen, VALID_MALFORMED,
				  "credentials: cannot be combined with username/password");
			goto out;
		}
		if (!json_is_object(creds)) {
			rc = fail(err, errlen, VALID_MALFORMED, "credentials: must be an object");
			goto out;
		}
		json_object_foreach(creds, key, v)
		{
			if (strcmp(key, "username") == 0 || strcmp(key, "identity") == 0) {
				if (user) {
					rc = fail(err, errlen, VALID_MALFORMED,
						  "credentials: username and identity both given");
					goto out;
				}
				user = v;
				user_field = strcmp(key, "username") == 0 ? "credentials.username"
									  : "credentials.identity";
			} else if (strcmp(key, "secret") == 0) {
				pass = v;
				pass_field = "credentials.secret";
			} else {
				rc = unknown_key("credentials: ", key, err, errlen);
				goto out;
			}
		}
	}
	if (!user) {
		rc = fail(err, errlen, VALID_INVALID, "%s: required", user_field);
		goto out;
	}
	if ((rc = take_username(user_field, user, tmp.username, sizeof(tmp.username), err,
				errlen)) != VALID_OK)
		goto out;
	if (!pass) {
		rc = fail(err, errlen, VALID_INVALID, "%s: required", pass_field);
		goto out;
	}
	if ((rc = take_password(pass_field, pass, VALID_PASSWORD_MIN_BYTES, tmp.password,
				sizeof(tmp.password), err, errlen)) != VALID_OK)
		goto out;
	if (role) {
		if ((rc = take_role(role, tmp.role, sizeof(tmp.role), err, errlen)) != VALID_OK)
			goto out;
	} else {
		copy_str(tmp.role, sizeof(tmp.role), "user", 4);
	}
	*out = tmp;
	ok_err(err, errlen);
out:
	wipe(&tmp, sizeof(tmp));
	wipe_json_string(pass);
	json_decref(j);
	return rc;
}

int validate_user_patch(const char *body, size_t len, struct user_patch *out, char *err,
			size_t errlen)
{
	memset(out, 0, sizeof(*out));
	json_t *j = parse_object(body, len, err, errlen);
	if (!j)
		return VALID_MALFORMED;
	struct user_patch tmp;
	memset(&tmp, 0, sizeof(tmp));
	json_t *pass = NULL;
	const char *key;
	json_t *v;
	int rc = VALID_OK;
	json_object_foreach(j, key, v)
	{
		if (strcmp(key, "role") == 0) {
			if ((rc = take_role(v, tmp.role, sizeof(tmp.role), err, errlen)) !=
			    VALID_OK)
				goto out;
			tmp.has_role = true;
		} else if (strcmp(key, "disabled") == 0) {
			if (!json_is_boolean(v)) {
				rc = fail(err, errlen, VALID_MALFORMED,
					  "disabled: must be true or false");
				goto out;
			}
			tmp.disabled = json_is_true(v);
			tmp.has_disabled = true;
		} else if (strcmp(key, "password") == 0) {
			pass = v;
			if ((rc = take_password("password", v, VALID_PASSWORD_MIN_BYTES,
						tmp.password, sizeof(tmp.password), err, errlen)) !=
			    VALID_OK)
				goto out;
			tmp.has_password = true;
		} else {
			rc = unknown_key("", key, err, errlen);
			goto out;
		}
	}
	*out = tmp;
	ok_err(err, errlen);
out:
	wipe(&tmp, sizeof(tmp));
	wipe_json_string(pass);
	json_decref(j);
	return rc;
}

int validate_login_body(const char *body, size_t len, struct login_input *out, char *err,
			size_t errlen)
{
	memset(out, 0, sizeof(*out));
	json_t *j = parse_object(body, len, err, errlen);
	if (!j)
		return VALID_MALFORMED;
	struct login_input tmp;
	memset(&tmp, 0, sizeof(tmp));
	json_t *user = NULL, *pass = NULL;
	const char *user_field = "username", *pass_field = "password";
	const char *key;
	json_t *v;
	int rc = VALID_OK;
	json_object_foreach(j, key, v)
	{
		bool is_user = strcmp(key, "username") == 0 || strcmp(key, "identity") == 0;
		bool is_pass = strcmp(key, "password") == 0 || strcmp(key, "secret") == 0;
		if (!is_user && !is_pass) {
			rc = unknown_key("", key, err, errlen);
			goto out;
		}
		if ((is_user && user) || (is_pass && pass)) {
			rc = fail(err, errlen, VALID_MALFORMED, "%s",
				  is_user ? "username and identity both given"
					  : "password and secret both given");
			goto out;
		}
		if (is_user) {
			user = v;
			user_field = key[0] == 'u' ? "username" : "identity";
		} else {
			pass = v;
			pass_field = key[0] == 'p' ? "password" : "secret";
		}
	}
	if (!user) {
		rc = fail(err, errlen, VALID_INVALID, "username: required");
		goto out;
	}
	if ((rc = take_username(user_field, user, tmp.username, sizeof(tmp.username), err,
				errlen)) != VALID_OK)
		goto out;
	if (!pass) {
		rc = fail(err, errlen, VALID_INVALID, "password: required");
		goto out;
	}
	/* No minimum at login: a rule tightened later must not lock anyone out; a wrong
	 * password simply fails verification (401). */
	if ((rc = take_password(pass_field, pass, 1, tmp.password, sizeof(tmp.password), err,
				errlen)) != VALID_OK)
		goto out;
	*out = tmp;
	ok_err(err, errlen);
out:
	wipe(&tmp, sizeof(tmp));
	wipe_json_string(pass);
	json_decref(j);
	return rc;
}

int validate_terminate_body(const char *body, size_t len, struct terminate_input *out, char *err,
			    size_t errlen)
{
	memset(out, 0, sizeof(*out));
	json_t *j = parse_object(body, len, err, errlen);
	if (!j)
		return VALID_MALFORMED;
	struct terminate_input tmp;
	memset(&tmp, 0, sizeof(tmp));
	json_t *type = NULL, *reason = NULL;
	const char *key;
	json_t *v;
	int rc = VALID_OK;
	json_object_foreach(j, key, v)
	{
		if (strcmp(key, "type") == 0)
			type = v;
		else if (strcmp(key, "reason") == 0)
			reason = v;
		else {
			rc = unknown_key("", key, err, errlen);
			goto out;
		}
	}
	if (!type) {
		rc = fail(err, errlen, VALID_INVALID, "type: required (0 or 1)");
		goto out;
	}
	if (!json_is_integer(type)) {
		rc = fail(err, errlen, VALID_MALFORMED, "type: must be an integer");
		goto out;
	}
	json_int_t t = json_integer_value(type);
	if (t != 0 && t != 1) {
		rc = fail(err, errlen, VALID_INVALID,
			  "type: must be 0 (certificate revocation) or 1 (user initiated)");
		goto out;
	}
	tmp.type = (int)t;
	if (reason && !json_is_null(reason)) {
		const char *s;
		size_t n;
		if ((rc = get_string("reason", reason, &s, &n, err, errlen)) != VALID_OK ||
		    (rc = check_text("reason", s, n, 0, VALID_REASON_MAX_BYTES, false, err,
				     errlen)) != VALID_OK)
			goto out;
		copy_str(tmp.reason, sizeof(tmp.reason), s, n);
	}
	*out = tmp;
	ok_err(err, errlen);
out:
	json_decref(j);
	return rc;
}
