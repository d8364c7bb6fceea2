/*
 * test_util.c - time formatting (Go's RFC3339 / RFC3339Nano), strict integers, hex, UTF-8.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void test_time(void **state)
{
	(void)state;
	char b[UTIL_TIME_BUF];
	int64_t t = 1730844203LL * 1000000000LL; /* 2024-11-05T22:03:23Z */
	util_rfc3339(b, t);
	assert_string_equal(b, "2024-11-05T22:03:23Z");
	util_rfc3339_nano(b, t);
	assert_string_equal(b, "2024-11-05T22:03:23Z"); /* Go drops a zero fraction */
	util_rfc3339_nano(b, t + 123456789);
	assert_string_equal(b, "2024-11-05T22:03:23.123456789Z");
	util_rfc3339_nano(b, t + 120000000);
	assert_string_equal(b, "2024-11-05T22:03:23.12Z"); /* trailing zeros trimmed */
	util_rfc3339(b, t + 999999999);
	assert_string_equal(b, "2024-11-05T22:03:23Z"); /* truncated, never rounded up */
	util_rfc3339(b, 0);
	assert_string_equal(b, "1970-01-01T00:00:00Z");
}

static void test_parse_u64(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(util_parse_u64("0", 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(util_parse_u64("10", 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(util_parse_u64("11", 10, &v), -ERANGE);
	assert_int_equal(util_parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
	assert_int_equal(util_parse_u64("18446744073709551616", UINT64_MAX, &v), -ERANGE);
	assert_int_equal(util_parse_u64("", 10, &v), -EINVAL);
	assert_int_equal(util_parse_u64("-1", 10, &v), -EINVAL);
	assert_int_equal(util_parse_u64("+1", 10, &v), -EINVAL);
	assert_int_equal(util_parse_u64(" 1", 10, &v), -EINVAL);
	assert_int_equal(util_parse_u64("1x", 10, &v), -EINVAL);
	assert_int_equal(util_parse_u64(NULL, 10, &v), -EINVAL);
}

static void test_hex(void **state)
{
	(void)state;
	unsigned char in[3] = { 0x00, 0xab, 0xff }, out[3];
	char h[7];
	util_hex(h, in, 3);
	assert_string_equal(h, "00abff");
	assert_int_equal(util_unhex(out, 3, "00ABff", 6), 0);
	assert_memory_equal(in, out, 3);
	assert_int_equal(util_unhex(out, 3, "00abf", 5), -EINVAL);
	assert_int_equal(util_unhex(out, 3, "00abfg", 6), -EINVAL);
}

static void test_utf8(void **state)
{
	(void)state;
	assert_true(util_utf8_valid("", 0));
	assert_true(util_utf8_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15));
	assert_false(util_utf8_valid("\xc3", 1));             /* truncated */
	assert_false(util_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
	assert_false(util_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	assert_false(util_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	assert_false(util_utf8_valid("\xff", 1));
	assert_false(util_utf8_valid("a\x80", 2));
}

static void test_buf(void **state)
{
	(void)state;
	struct util_buf b = { 0 };
	util_buf_put(&b, "", 0);
	assert_non_null(b.p);
	assert_string_equal(b.p, "");
	for (int i = 0; i < 1000; i++)
		util_buf_put(&b, "abcdefghij", 10);
	assert_int_equal(b.len, 10000);
	assert_true(b.cap > b.len);
	assert_int_equal(b.p[10000], '\0');
	assert_memory_equal(b.p + 9990, "abcdefghij", 10);
	assert_false(b.oom);
	free(b.p);
}

static void test_little_endian(void **state)
{
	(void)state;
	uint8_t b[8];
	util_put_le16(b, 0xbeef);
	assert_memory_equal(b, "\xef\xbe", 2);
	assert_int_equal(util_le16(b), 0xbeef);
	util_put_le32(b, 0x01020304u);
	assert_memory_equal(b, "\x04\x03\x02\x01", 4);
	assert_int_equal(util_le32(b), 0x01020304u);
	util_put_le64(b, 0xf1e2d3c4b5a69788ULL);
	assert_memory_equal(b, "\x88\x97\xa6\xb5\xc4\xd3\xe2\xf1", 8);
	assert_true(util_le64(b) == 0xf1e2d3c4b5a69788ULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time), cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_hex),  cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_buf),  cmocka_unit_test(test_little_endian),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
