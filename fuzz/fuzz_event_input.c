/*
 * fuzz_event_input.c - events_sanitize and events_validate on arbitrary bytes (pipe and HTTP
 * input). The first byte picks a small max so that cutting on a character boundary is exercised
 * as often as the full EVENTS_MESSAGE_MAX_BYTES. Aborts when the sanitised message is not valid
 * UTF-8, holds a control character other than TAB, is longer than max, fails events_validate, or
 * changes when sanitised again; or when events_validate accepts input it would have changed.
 */
#include "agent/events.h"
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_clean(const char *s, size_t n, size_t max)
{
	if (n > max || !util_utf8_valid(s, n))
		abort();
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			abort();
	}
	if (events_validate(s, n, max) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[EVENTS_MESSAGE_MAX_BYTES * 3 + 4], again[EVENTS_MESSAGE_MAX_BYTES * 3 + 4];
	const char *in = (const char *)data;
	size_t maxes[2] = { EVENTS_MESSAGE_MAX_BYTES, size ? data[0] % 16 : 0 };

	for (size_t k = 0; k < 2; k++) {
		size_t max = maxes[k];
		size_t n = events_sanitize(in, size, out, sizeof(out), max);
		check_clean(out, n, max);
		size_t m = events_sanitize(out, n, again, sizeof(again), max);
		if (m != n || memcmp(out, again, n) != 0)
			abort();
	}

	int v = events_validate(in, size, EVENTS_MESSAGE_MAX_BYTES);
	if (v != 0 && v != -EINVAL && v != -E2BIG)
		abort();
	if (v == 0) {
		/* Valid input passes through the sanitiser unchanged (no trailing CR: it is a control). */
		size_t n = events_sanitize(in, size, out, sizeof(out), EVENTS_MESSAGE_MAX_BYTES);
		if (n != size || memcmp(out, in, size) != 0)
			abort();
	}
	if (size > EVENTS_MESSAGE_MAX_BYTES && v != -E2BIG)
		abort();
	return 0;
}
