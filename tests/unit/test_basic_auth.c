/*
 * test_basic_auth.c - the Authorization: Basic parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/basic_auth.h"

static int parse(const char *h, char *u, char *p)
{
	size_t pl = 0;
	return http_basic_auth_parse(h, u, 16, p, 16, &pl);
}

static void test_valid(void **state)
{
	(void)state;
	char u[16], p[16];
	assert_int_equal(parse("Basic YWRtaW46Zm9vYmFy", u, p), 0); /* admin:foobar */
	assert_string_equal(u, "admin");
	assert_string_equal(p, "foobar");
	assert_int_equal(parse("basic  YWRtaW46Zm9vYmFy ", u, p), 0); /* scheme case, spaces */
	assert_int_equal(parse("Basic YWRtaW46", u, p), 0);           /* empty password */
	assert_string_equal(p, "");
	assert_int_equal(parse("Basic YTpiOmM=", u, p), 0); /* a:b:c: first colon splits */
	assert_string_equal(u, "a");
	assert_string_equal(p, "b:c");
}

static void test_invalid(void **state)
{
	(void)state;
	char u[16], p[16];
	assert_int_equal(parse("Bearer YWRtaW46Zm9vYmFy", u, p), -EINVAL);
	assert_int_equal(parse("Basic", u, p), -EINVAL);
	assert_int_equal(parse("Basic ", u, p), -EINVAL);
	assert_int_equal(parse("Basic YWRtaW4=", u, p), -EINVAL);        /* no colon */
	assert_int_equal(parse("Basic YWRtaW46Zm9vYmF", u, p), -EINVAL); /* bad padding */
	assert_int_equal(parse("Basic !!!!", u, p), -EINVAL);
	assert_int_equal(parse("Basic AGFkbWluOng=", u, p), -EINVAL); /* NUL inside */
	assert_int_equal(parse(NULL, u, p), -EINVAL);
	/* Parts that do not fit: -E2BIG, never a truncated password. */
	assert_int_equal(parse("Basic YWRtaW46MDEyMzQ1Njc4OWFiY2RlZg==", u, p), -E2BIG);
	/* The header value limit, at and past. */
	char *h = malloc(HTTP_BASIC_AUTH_MAX_BYTES + 2);
	memcpy(h, "Basic ", 6);
	memset(h + 6, 'A', HTTP_BASIC_AUTH_MAX_BYTES - 6);
	h[HTTP_BASIC_AUTH_MAX_BYTES] = '\0';
	assert_int_equal(parse(h, u, p), -EINVAL); /* at the limit: parsed, no colon */
	h[HTTP_BASIC_AUTH_MAX_BYTES] = 'A';
	h[HTTP_BASIC_AUTH_MAX_BYTES + 1] = '\0';
	assert_int_equal(parse(h, u, p), -E2BIG);
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
