/*
 * test_json.c - lossy UTF-8 strings (command output is bytes) and strict parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "json.h"

static void test_lossy(void **state)
{
	(void)state;
	json_t *j = json_string_lossy("ok\xff!", 4);
	assert_non_null(j);
	assert_string_equal(json_string_value(j), "ok\xef\xbf\xbd!");
	json_decref(j);
	j = json_string_lossy("caf\xc3\xa9", 5); /* valid input is kept as is */
	assert_string_equal(json_string_value(j), "caf\xc3\xa9");
	json_decref(j);
	j = json_string_lossy("a\0b", 3); /* NUL survives as a JSON \u0000 */
	assert_int_equal(json_string_length(j), 3);
	char *s = json_dumps(j, JSON_ENCODE_ANY);
	assert_string_equal(s, "\"a\\u0000b\"");
	free(s);
	json_decref(j);
	char out[8];
	/* The output buffer is never overrun and never ends inside a sequence. */
	size_t n = json_utf8_lossy("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 9, out, sizeof(out));
	assert_int_equal(n, 6);
	assert_int_equal(out[6], '\0');
}

static void test_strict(void **state)
{
	(void)state;
	json_error_t e;
	json_t *j = json_parse_strict("{\"a\":1}", 7, &e);
	assert_non_null(j);
	json_decref(j);
	assert_null(json_parse_strict("{\"a\":1,\"a\":2}", 13, &e)); /* duplicate key */
	assert_null(json_parse_strict("{\"a\":1} x", 9, &e));        /* trailing garbage */
	char *big = malloc(JSON_BODY_MAX_BYTES + 2);
	memset(big, ' ', JSON_BODY_MAX_BYTES + 1);
	big[0] = '1';
	assert_null(json_parse_strict(big, JSON_BODY_MAX_BYTES + 1, &e));
	assert_non_null(strstr(e.text, "too large"));
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lossy),
		cmocka_unit_test(test_strict),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
