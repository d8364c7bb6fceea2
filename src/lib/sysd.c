/*
 * sysd.c - `systemctl show` parser and the sek8s status mapping (see sysd.h).
 *
 * How it works: the input is copied once into storage_ and cut in place: each line end and the
 * first '=' of a property line become NULs, so every key and value is a pointer into that one
 * buffer and parsing costs three allocations whatever the size (the copy, the unit array, and
 * one property array per unit, each grown by doubling). Over-long values are cut by writing a
 * NUL at the limit, moved back to the start of a UTF-8 sequence so the cut never splits a
 * character that was valid.
 */
#include "sysd.h"

#include "json.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SYSD_UNITS_INITIAL 4
#define SYSD_PROPS_INITIAL 16

void sysd_show_done(struct sysd_show *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->units[i].props);
	free(s->units);
	free(s->storage_);
	memset(s, 0, sizeof(*s));
}

/* Starts a new, empty unit at the end of s. */
static int add_unit(struct sysd_show *s, size_t *units_cap)
{
	if (s->n >= SYSD_MAX_UNITS)
		return -E2BIG;
	if (s->n == *units_cap) {
		size_t cap = *units_cap ? *units_cap * 2 : SYSD_UNITS_INITIAL;
		if (cap > SYSD_MAX_UNITS)
			cap = SYSD_MAX_UNITS;
		struct sysd_unit *u = realloc(s->units, cap * sizeof(*u));
		if (!u)
			return -ENOMEM;
		s->units = u;
		*units_cap = cap;
	}
	s->units[s->n++] = (struct sysd_unit){ 0 };
	return 0;
}

static int add_prop(struct sysd_unit *u, size_t *props_cap, const struct sysd_prop *p)
{
	if (u->n >= SYSD_MAX_PROPS)
		return -E2BIG;
	if (u->n == *props_cap) {
		size_t cap = *props_cap ? *props_cap * 2 : SYSD_PROPS_INITIAL;
		if (cap > SYSD_MAX_PROPS)
			cap = SYSD_MAX_PROPS;
		struct sysd_prop *np = realloc(u->props, cap * sizeof(*np));
		if (!np)
			return -ENOMEM;
		u->props = np;
		*props_cap = cap;
	}
	u->props[u->n++] = *p;
	return 0;
}

/* Length to keep of a value of vlen bytes: at most SYSD_MAX_VALUE_BYTES, backed off a UTF-8
 * continuation byte (at most 3 steps: the longest sequence is 4 bytes). */
static size_t cut_len(const char *v, size_t vlen)
{
	if (vlen <= SYSD_MAX_VALUE_BYTES)
		return vlen;
	size_t n = SYSD_MAX_VALUE_BYTES;
	for (int i = 0; i < 3 && n > 0 && ((unsigned char)v[n] & 0xc0) == 0x80; i++)
		n--;
	return n;
}

int sysd_parse_show(const char *buf, size_t len, struct sysd_show *out)
{
	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!buf && len)
		return -EINVAL;
	if (len > SYSD_MAX_INPUT_BYTES)
		return -E2BIG;
	if (len && memchr(buf, '\0', len))
		return -EINVAL;

	out->storage_ = malloc(len + 1);
	if (!out->storage_)
		return -ENOMEM;
	if (len)
		memcpy(out->storage_, buf, len);
	out->storage_[len] = '\0';

	size_t units_cap = 0, props_cap = 0;
	bool in_unit = false;
	char *p = out->storage_, *end = out->storage_ + len;
	int rc = 0;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *le = nl ? nl : end;
		char *next = nl ? nl + 1 : end;
		if (le > p && le[-1] == '\r')
			le--;
		*le = '\0'; /* le <= end, and storage_[len] exists */
		size_t line_len = (size_t)(le - p);
		if (line_len == 0) {
			in_unit = false;
			p = next;
			continue;
		}
		char *eq = memchr(p, '=', line_len);
		if (!eq || eq == p || (size_t)(eq - p) > SYSD_MAX_KEY_BYTES) {
			out->skipped_lines++;
			p = next;
			continue;
		}
		*eq = '\0';
		char *val = eq + 1;
		size_t vlen = (size_t)(le - val);
		size_t keep = cut_len(val, vlen);
		struct sysd_prop prop = {
			.key = p, .value = val, .value_len = keep, .value_truncated = keep < vlen
		};
		val[keep] = '\0';
		if (!in_unit) {
			rc = add_unit(out, &units_cap);
			if (rc < 0)
				goto fail;
			props_cap = 0;
			in_unit = true;
		}
		rc = add_prop(&out->units[out->n - 1], &props_cap, &prop);
		if (rc < 0)
			goto fail;
		if (prop.value_truncated)
			out->cut_values++;
		p = next;
	}
	return (int)out->n;
fail:
	sysd_show_done(out);
	return rc;
}

const char *sysd_unit_get(const struct sysd_unit *u, const char *key)
{
	if (!u || !key)
		return NULL;
	for (size_t i = u->n; i > 0; i--)
		if (strcmp(u->props[i - 1].key, key) == 0)
			return u->props[i - 1].value;
	return NULL;
}

json_t *sysd_status_json(const struct sysd_unit *u)
{
	static const struct {
		const char *field, *prop;
	} map[] = {
		{ "load_state", "LoadState" },       { "active_state", "ActiveState" },
		{ "sub_state", "SubState" },         { "unit_file_state", "UnitFileState" },
		{ "main_pid", "MainPID" },           { "exit_code", "ExecMainCode" },
		{ "exit_status", "ExecMainStatus" },
	};
	json_t *o = json_object();
	if (!o)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		const char *v = sysd_unit_get(u, map[i].prop);
		json_t *j = v ? json_string_lossy(v, strlen(v)) : json_null();
		if (!j || json_object_set_new(o, map[i].field, j) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static bool eq(const char *a, const char *b)
{
	return a && strcmp(a, b) == 0;
}

bool sysd_healthy(const struct sysd_unit *u, bool masked_ok)
{
	if (!u)
		return false;
	const char *load = sysd_unit_get(u, "LoadState");
	if (eq(load, "masked"))
		return masked_ok;
	if (!eq(load, "loaded") || !eq(sysd_unit_get(u, "ActiveState"), "active"))
		return false;
	const char *sub = sysd_unit_get(u, "SubState");
	if (!sub || eq(sub, "running") || eq(sub, "listening"))
		return true;
	/* A oneshot with RemainAfterExit stays active/exited after it ran; it is healthy when its
	 * main process succeeded. ExecMainStatus is the exit status, "0" exactly. */
	if (eq(sub, "exited"))
		return eq(sysd_unit_get(u, "ExecMainStatus"), "0");
	return false;
}
