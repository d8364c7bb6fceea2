/*
 * json.c - lossy UTF-8 strings and strict parsing over jansson (see json.h).
 */
#include "json.h"

#include "util.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 when it is invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	if (s[0] < 0x80)
		return 1;
	size_t len = (s[0] & 0xe0) == 0xc0   ? 2
		     : (s[0] & 0xf0) == 0xe0 ? 3
		     : (s[0] & 0xf8) == 0xf0 ? 4
					     : 0;
	if (len == 0 || len > n)
		return 0;
	return util_utf8_valid((const char *)s, len) ? len : 0;
}

size_t json_utf8_lossy(const char *s, size_t len, char *out, size_t cap)
{
	static const char repl[] = "\xef\xbf\xbd";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0;
	if (cap == 0)
		return 0;
	while (i < len) {
		size_t l = utf8_seq_len(p + i, len - i);
		const char *src = l ? s + i : repl;
		size_t sl = l ? l : 3;
		if (o + sl + 1 > cap)
			break;
		memcpy(out + o, src, sl);
		o += sl;
		i += l ? l : 1;
	}
	out[o] = '\0';
	return o;
}

json_t *json_string_lossy(const char *s, size_t len)
{
	if (util_utf8_valid(s, len))
		return json_stringn_nocheck(s, len);
	size_t cap = len * 3 + 1;
	char *buf = malloc(cap);
	if (!buf)
		return NULL;
	size_t n = json_utf8_lossy(s, len, buf, cap);
	json_t *j = json_stringn_nocheck(buf, n);
	free(buf);
	return j;
}

json_t *json_parse_strict(const char *buf, size_t len, json_error_t *err)
{
	if (len > JSON_BODY_MAX_BYTES) {
		if (err) {
			memset(err, 0, sizeof(*err));
			snprintf(err->text, sizeof(err->text), "JSON document too large");
		}
		return NULL;
	}
	return json_loadb(buf, len, JSON_REJECT_DUPLICATES, err);
}
