/*
 * fuzz_systemctl.c - libFuzzer harness for sysd: parse arbitrary bytes as `systemctl show`
 * output, check every invariant the agent relies on (limits, well-formed keys and values), run
 * the status mapping and health rule over each unit, and free everything.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sysd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sysd_show s;
	int n = sysd_parse_show((const char *)data, size, &s);
	if (n < 0) {
		if (s.n != 0 || s.units != NULL)
			__builtin_trap();
		return 0;
	}
	if ((size_t)n != s.n || s.n > SYSD_MAX_UNITS)
		__builtin_trap();
	for (size_t u = 0; u < s.n; u++) {
		const struct sysd_unit *unit = &s.units[u];
		if (unit->n == 0 || unit->n > SYSD_MAX_PROPS)
			__builtin_trap();
		for (size_t i = 0; i < unit->n; i++) {
			const struct sysd_prop *p = &unit->props[i];
			size_t kl = strlen(p->key);
			if (kl == 0 || kl > SYSD_MAX_KEY_BYTES || memchr(p->key, '\n', kl) ||
			    memchr(p->key, '=', kl))
				__builtin_trap();
			if (strlen(p->value) != p->value_len ||
			    p->value_len > SYSD_MAX_VALUE_BYTES ||
			    memchr(p->value, '\n', p->value_len))
				__builtin_trap();
			if (sysd_unit_get(unit, p->key) == NULL)
				__builtin_trap();
		}
		json_t *j = sysd_status_json(unit);
		if (j && json_object_size(j) != 7)
			__builtin_trap();
		json_decref(j);
		(void)sysd_healthy(unit, true);
		(void)sysd_healthy(unit, false);
	}
	sysd_show_done(&s);
	return 0;
}
