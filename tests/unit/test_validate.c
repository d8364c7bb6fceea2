/*
 * test_validate.c - cloisterd's request validators: every field rule at its limit and one past
 * it, the address forms cloisterd will dial, the body shapes (ours, Prism's, SuperMQ's), and the
 * 400-versus-422 split a client sees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/validate.h"
#include "util.h"

static char err[256];

/* A string of n copies of c (static buffer, NUL-terminated). */
static const char *rep(char c, size_t n)
{
	static char buf[4096];
	assert_true(n < sizeof(buf));
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

static int name_s(const char *s)
{
	return validate_name(s, strlen(s), err, sizeof(err));
}

static int addr_s(const char *s)
{
	return validate_address(s, strlen(s), err, sizeof(err));
}

static int backend_s(const char *body, struct backend_input *in)
{
	return validate_backend_body(body, strlen(body), in, err, sizeof(err));
}

static void test_name(void **state)
{
	(void)state;
	assert_int_equal(name_s("my dell server"), VALID_OK);
	assert_string_equal(err, "");
	assert_int_equal(name_s("caf\xc3\xa9 \xe2\x82\xac"), VALID_OK); /* UTF-8 is fine */
	assert_int_equal(name_s(rep('n', STORE_NAME_MAX)), VALID_OK);
	assert_int_equal(name_s(rep('n', STORE_NAME_MAX + 1)), VALID_INVALID);
	assert_non_null(strstr(err, "name: longer than 128 bytes"));
	assert_int_equal(name_s(""), VALID_INVALID);
	assert_non_null(strstr(err, "name:"));
	/* Leading/trailing whitespace, ASCII or not. */
	assert_int_equal(name_s(" x"), VALID_INVALID);
	assert_non_null(strstr(err, "start with whitespace"));
	assert_int_equal(name_s("x "), VALID_INVALID);
	assert_non_null(strstr(err, "end with whitespace"));
	assert_int_equal(name_s("x\xc2\xa0"), VALID_INVALID);     /* NBSP */
	assert_int_equal(name_s("\xe3\x80\x80x"), VALID_INVALID); /* ideographic space */
	assert_int_equal(name_s("a b"), VALID_OK);                /* inside is fine */
	/* Control characters: C0, DEL, C1; tab and newline too. */
	assert_int_equal(name_s("a\tb"), VALID_INVALID);
	assert_non_null(strstr(err, "control character"));
	assert_int_equal(name_s("a\nb"), VALID_INVALID);
	assert_int_equal(name_s("a\x7f"
				"b"),
			 VALID_INVALID);
	assert_int_equal(name_s("a\xc2\x85"
				"b"),
			 VALID_INVALID);
	assert_int_equal(name_s("a\x1b[31mb"), VALID_INVALID);
	/* Invalid UTF-8: stray continuation, overlong, surrogate, truncated. */
	assert_int_equal(name_s("a\x80"), VALID_INVALID);
	assert_non_null(strstr(err, "UTF-8"));
	assert_int_equal(name_s("\xc0\xaf"), VALID_INVALID);
	assert_int_equal(name_s("\xed\xa0\x80"), VALID_INVALID);
	assert_int_equal(name_s("ab\xe2\x82"), VALID_INVALID);
	/* A NUL inside (length includes it). */
	assert_int_equal(validate_name("a\0b", 3, err, sizeof(err)), VALID_INVALID);
	assert_non_null(strstr(err, "NUL"));
}

static void test_description(void **state)
{
	(void)state;
	const char *d = rep('d', STORE_DESCRIPTION_MAX);
	assert_int_equal(validate_description(d, STORE_DESCRIPTION_MAX, err, sizeof(err)),
			 VALID_OK);
	d = rep('d', STORE_DESCRIPTION_MAX + 1);
	assert_int_equal(validate_description(d, STORE_DESCRIPTION_MAX + 1, err, sizeof(err)),
			 VALID_INVALID);
	assert_non_null(strstr(err, "description: longer than 1024 bytes"));
	assert_int_equal(validate_description("", 0, err, sizeof(err)), VALID_OK);
	assert_int_equal(validate_description(" line 1\n\tline 2 ", 16, err, sizeof(err)),
			 VALID_OK);
	assert_int_equal(validate_description("a\rb", 3, err, sizeof(err)), VALID_INVALID);
	assert_int_equal(validate_description("a\x01", 2, err, sizeof(err)), VALID_INVALID);
	assert_int_equal(validate_description("a\xff", 2, err, sizeof(err)), VALID_INVALID);
	assert_int_equal(validate_description("a\0", 2, err, sizeof(err)), VALID_INVALID);
}

/* A host name of exactly n bytes made of 63-byte labels. */
static const char *host_of(size_t n)
{
	static char buf[512];
	size_t o = 0;
	while (o < n) {
		size_t l = n - o > 63 ? 63 : n - o;
		if (n - o - l == 1) /* never leave a 1-byte tail that would need an empty label */
			l--;
		memset(buf + o, 'h', l);
		o += l;
		if (o < n)
			buf[o++] = '.';
	}
	buf[o] = '\0';
	assert_int_equal(strlen(buf), n);
	return buf;
}

static void test_address_host(void **state)
{
	(void)state;
	assert_int_equal(addr_s("192.168.100.4"), VALID_OK);
	assert_int_equal(addr_s("localhost"), VALID_OK);
	assert_int_equal(addr_s("backend-1.example.com"), VALID_OK);
	assert_int_equal(addr_s("Backend-1.Example.COM:7001"), VALID_OK);
	assert_int_equal(addr_s("xn--bcher-kva.example"), VALID_OK);
	/* Host name length: 253 ok, 254 refused (also with a port). */
	assert_int_equal(addr_s(host_of(253)), VALID_OK);
	char buf[8192];
	snprintf(buf, sizeof(buf), "%s:65535", host_of(253));
	assert_int_equal(addr_s(buf), VALID_OK);
	assert_int_equal(addr_s(host_of(254)), VALID_INVALID);
	assert_non_null(strstr(err, "longer than 253"));
	/* Label length: 63 ok, 64 refused. */
	snprintf(buf, sizeof(buf), "%s.example", rep('l', 63));
	assert_int_equal(addr_s(buf), VALID_OK);
	snprintf(buf, sizeof(buf), "%s.example", rep('l', 64));
	assert_int_equal(addr_s(buf), VALID_INVALID);
	assert_non_null(strstr(err, "label longer than 63"));
	/* Label shape. */
	assert_int_equal(addr_s("-a.example"), VALID_INVALID);
	assert_int_equal(addr_s("a-.example"), VALID_INVALID);
	assert_non_null(strstr(err, "'-'"));
	assert_int_equal(addr_s("a..example"), VALID_INVALID);
	assert_non_null(strstr(err, "empty label"));
	assert_int_equal(addr_s(".example"), VALID_INVALID);
	assert_int_equal(addr_s("example.com."), VALID_INVALID);
	assert_non_null(strstr(err, "trailing dot"));
	assert_int_equal(addr_s("under_score.example"), VALID_INVALID);
	assert_int_equal(addr_s("sp ace.example"), VALID_INVALID);
	assert_int_equal(addr_s(" example.com"), VALID_INVALID);
	assert_int_equal(addr_s("example.com "), VALID_INVALID);
	assert_int_equal(addr_s("b\xc3\xbc"
				"cher.example"),
			 VALID_INVALID);
	assert_int_equal(addr_s("a\x01.example"), VALID_INVALID);
	assert_int_equal(validate_address("a\0b", 3, err, sizeof(err)), VALID_INVALID);
	assert_int_equal(addr_s(""), VALID_INVALID);
	assert_non_null(strstr(err, "address: required"));
	assert_int_equal(addr_s(":80"), VALID_INVALID);
	assert_non_null(strstr(err, "host missing"));
	/* Whole-field limit. */
	assert_int_equal(addr_s(rep('a', STORE_ADDRESS_MAX + 1)), VALID_INVALID);
	assert_non_null(strstr(err, "longer than 262"));
}

static void test_address_ipv4(void **state)
{
	(void)state;
	assert_int_equal(addr_s("10.0.0.1"), VALID_OK);
	assert_int_equal(addr_s("0.0.0.0"), VALID_OK);
	assert_int_equal(addr_s("255.255.255.255:443"), VALID_OK);
	assert_int_equal(addr_s("010.0.0.1"), VALID_INVALID); /* octal to inet_aton */
	assert_non_null(strstr(err, "leading zeros"));
	assert_int_equal(addr_s("10.0.0.01"), VALID_INVALID);
	assert_int_equal(addr_s("256.0.0.1"), VALID_INVALID);
	assert_int_equal(addr_s("1.2.3"), VALID_INVALID);
	assert_int_equal(addr_s("1.2.3.4.5"), VALID_INVALID);
	assert_int_equal(addr_s("123"), VALID_INVALID); /* inet_aton reads 0.0.0.123 */
	assert_int_equal(addr_s("0x7f.1"), VALID_INVALID);
	assert_int_equal(addr_s("example.123"), VALID_INVALID); /* no numeric TLD */
	assert_int_equal(addr_s("1.2.3.4."), VALID_INVALID);
}

static void test_address_port(void **state)
{
	(void)state;
	assert_int_equal(addr_s("h:1"), VALID_OK);
	assert_int_equal(addr_s("h:65535"), VALID_OK);
	assert_int_equal(addr_s("h:65536"), VALID_INVALID);
	assert_non_null(strstr(err, "1..65535"));
	assert_int_equal(addr_s("h:0"), VALID_INVALID);
	assert_int_equal(addr_s("h:080"), VALID_INVALID);
	assert_non_null(strstr(err, "leading zeros"));
	assert_int_equal(addr_s("h:"), VALID_INVALID);
	assert_non_null(strstr(err, "port missing"));
	assert_int_equal(addr_s("h:+80"), VALID_INVALID);
	assert_int_equal(addr_s("h:-1"), VALID_INVALID);
	assert_int_equal(addr_s("h:8 0"), VALID_INVALID);
	assert_int_equal(addr_s("h:999999999999999999999"), VALID_INVALID);
	assert_int_equal(addr_s("h:http"), VALID_INVALID);
	assert_int_equal(addr_s("1.2.3.4:8080"), VALID_OK);
}

static void test_address_ipv6(void **state)
{
	(void)state;
	assert_int_equal(addr_s("::1"), VALID_OK);
	assert_int_equal(addr_s("fe80::1"), VALID_OK);
	assert_int_equal(addr_s("2001:db8:0:0:0:0:0:1"), VALID_OK);
	assert_int_equal(addr_s("::ffff:192.0.2.1"), VALID_OK);
	assert_int_equal(addr_s("[::1]"), VALID_OK);
	assert_int_equal(addr_s("[::1]:8080"), VALID_OK);
	assert_int_equal(addr_s("[2001:DB8::1]:65535"), VALID_OK);
	assert_int_equal(addr_s("[::1]:65536"), VALID_INVALID);
	assert_int_equal(addr_s("[::1]:0"), VALID_INVALID);
	assert_int_equal(addr_s("[::1]:"), VALID_INVALID);
	assert_int_equal(addr_s("2001:db8::1:80:x"), VALID_INVALID);
	assert_non_null(strstr(err, "[IPv6]:port"));
	assert_int_equal(addr_s(":::"), VALID_INVALID);
	assert_int_equal(addr_s("1::2::3"), VALID_INVALID);
	assert_int_equal(addr_s("fe80::1%eth0"), VALID_INVALID); /* zones are host-local */
	/* Bracket misuse. */
	assert_int_equal(addr_s("[1.2.3.4]"), VALID_INVALID);
	assert_int_equal(addr_s("[example.com]:80"), VALID_INVALID);
	assert_int_equal(addr_s("[::1"), VALID_INVALID);
	assert_non_null(strstr(err, "without ']'"));
	assert_int_equal(addr_s("::1]"), VALID_INVALID);
	assert_int_equal(addr_s("[::1]x"), VALID_INVALID);
	assert_int_equal(addr_s("[::1]]"), VALID_INVALID);
	assert_int_equal(addr_s("[]"), VALID_INVALID);
	assert_int_equal(addr_s("[]:80"), VALID_INVALID);
	assert_int_equal(addr_s("ex[ample].com"), VALID_INVALID);
	assert_non_null(strstr(err, "brackets"));
	assert_int_equal(addr_s("a]:80"), VALID_INVALID);
}

static void test_backend_body(void **state)
{
	(void)state;
	struct backend_input in;
	/* Prism's documented request, byte for byte. */
	assert_int_equal(backend_s("{\n  \"name\": \"my dell server\",\n  \"description\": \"\",\n"
				   "  \"address\": \"192.168.100.4\"\n}\n",
				   &in),
			 VALID_OK);
	assert_string_equal(in.name, "my dell server");
	assert_string_equal(in.description, "");
	assert_string_equal(in.address, "192.168.100.4");
	assert_string_equal(err, "");
	assert_int_equal(backend_s("{\"name\":\"n\",\"address\":\"h\"}", &in), VALID_OK);
	assert_int_equal(backend_s("{\"name\":\"n\",\"address\":\"h\",\"description\":null}", &in),
			 VALID_OK);
	assert_string_equal(in.description, "");
	/* Limits through the body. */
	char body[8192];
	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"address\":\"h\"}", rep('n', 128));
	assert_int_equal(backend_s(body, &in), VALID_OK);
	assert_int_equal(strlen(in.name), 128);
	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"address\":\"h\"}", rep('n', 129));
	assert_int_equal(backend_s(body, &in), VALID_INVALID);
	assert_string_equal(in.name, ""); /* nothing half-filled */
	snprintf(body, sizeof(body), "{\"name\":\"n\",\"description\":\"%s\",\"address\":\"h\"}",
		 rep('d', 1024));
	assert_int_equal(backend_s(body, &in), VALID_OK);
	snprintf(body, sizeof(body), "{\"name\":\"n\",\"description\":\"%s\",\"address\":\"h\"}",
		 rep('d', 1025));
	assert_int_equal(backend_s(body, &in), VALID_INVALID);
	snprintf(body, sizeof(body), "{\"name\":\"n\",\"address\":\"%s\"}", host_of(253));
	assert_int_equal(backend_s(body, &in), VALID_OK);
	assert_string_equal(in.address, host_of(253));
	/* Missing and invalid fields: 422 naming the field. */
	assert_int_equal(backend_s("{\"address\":\"h\"}", &in), VALID_INVALID);
	assert_string_equal(err, "name: required");
	assert_int_equal(backend_s("{\"name\":\"n\"}", &in), VALID_INVALID);
	assert_string_equal(err, "address: required");
	assert_int_equal(backend_s("{\"name\":\"n\",\"address\":\"010.0.0.1\"}", &in),
			 VALID_INVALID);
	assert_int_equal(strncmp(err, "address:", 8), 0);
	assert_int_equal(backend_s("{\"name\":\" n\",\"address\":\"h\"}", &in), VALID_INVALID);
	assert_int_equal(backend_s("{\"name\":\"a\\u0000b\",\"address\":\"h\"}", &in),
			 VALID_MALFORMED); /* jansson refuses \u0000 outright */
	assert_int_equal(backend_s("{\"name\":\"a\\u0007b\",\"address\":\"h\"}", &in),
			 VALID_INVALID);
	/* Malformed: 400. */
	assert_int_equal(backend_s("{\"name\":\"n\",\"address\":\"h\",\"addr\":\"x\"}", &in),
			 VALID_MALFORMED);
	assert_string_equal(err, "unknown key \"addr\"");
	assert_int_equal(backend_s("{\"name\":\"n\",\"name\":\"m\",\"address\":\"h\"}", &in),
			 VALID_MALFORMED);
	assert_non_null(strstr(err, "invalid JSON"));
	assert_int_equal(backend_s("{\"name\":5,\"address\":\"h\"}", &in), VALID_MALFORMED);
	assert_string_equal(err, "name: must be a string");
	assert_int_equal(backend_s("{\"name\":\"n\",\"address\":[\"h\"]}", &in), VALID_MALFORMED);
	assert_int_equal(backend_s("{\"name\":\"n\",\"description\":1,\"address\":\"h\"}", &in),
			 VALID_MALFORMED);
	assert_int_equal(backend_s("[]", &in), VALID_MALFORMED);
	assert_int_equal(backend_s("\"x\"", &in), VALID_MALFORMED);
	assert_int_equal(backend_s("{\"name\":\"n\",\"address\":\"h\"} {}", &in), VALID_MALFORMED);
	assert_int_equal(backend_s("{\"name\":\"\xff\",\"address\":\"h\"}", &in), VALID_MALFORMED);
	assert_int_equal(backend_s("", &in), VALID_MALFORMED);
	assert_int_equal(validate_backend_body(NULL, 0, &in, err, sizeof(err)), VALID_MALFORMED);
	/* An unknown key is quoted short and as valid UTF-8, whatever the client sent. */
	snprintf(body, sizeof(body), "{\"%s\xe2\x82\xac\xe2\x82\xac\":1}", rep('k', 63));
	assert_int_equal(backend_s(body, &in), VALID_MALFORMED);
	assert_true(util_utf8_valid(err, strlen(err)));
	assert_true(strlen(err) < 100);
	/* A tiny err buffer is never overrun nor left with half a sequence. */
	char small[5];
	assert_int_equal(
		validate_backend_body("{\"\xe2\x82\xac\":1}", 9, &in, small, sizeof(small)),
		VALID_MALFORMED);
	assert_true(strlen(small) < sizeof(small));
	assert_true(util_utf8_valid(small, strlen(small)));
}

static void test_username_password(void **state)
{
	(void)state;
	const char *u = rep('u', STORE_USERNAME_MAX);
	assert_int_equal(validate_username(u, strlen(u), err, sizeof(err)), VALID_OK);
	u = rep('u', STORE_USERNAME_MAX + 1);
	assert_int_equal(validate_username(u, strlen(u), err, sizeof(err)), VALID_INVALID);
	assert_non_null(strstr(err, "longer than 64"));
	assert_int_equal(validate_username("a.b_c@d-e9", 10, err, sizeof(err)), VALID_OK);
	assert_int_equal(validate_username("", 0, err, sizeof(err)), VALID_INVALID);
	assert_int_equal(validate_username("a b", 3, err, sizeof(err)), VALID_INVALID);
	assert_int_equal(validate_username("a/b", 3, err, sizeof(err)), VALID_INVALID);
	assert_int_equal(validate_username("\xc3\xa9", 2, err, sizeof(err)), VALID_INVALID);
	const char *p = rep('p', 8);
	assert_int_equal(validate_password(p, 8, err, sizeof(err)), VALID_OK);
	assert_int_equal(validate_password(p, 7, err, sizeof(err)), VALID_INVALID);
	assert_non_null(strstr(err, "shorter than 8"));
	p = rep('p', VALID_PASSWORD_MAX_BYTES + 1);
	assert_int_equal(validate_password(p, VALID_PASSWORD_MAX_BYTES, err, sizeof(err)),
			 VALID_OK);
	assert_int_equal(validate_password(p, VALID_PASSWORD_MAX_BYTES + 1, err, sizeof(err)),
			 VALID_INVALID);
	assert_int_equal(validate_password("passw\0rd", 8, err, sizeof(err)), VALID_INVALID);
	assert_int_equal(validate_password("passw\xffrd", 8, err, sizeof(err)), VALID_INVALID);
}

static int user_s(const char *body, struct user_input *in)
{
	return validate_user_body(body, strlen(body), in, err, sizeof(err));
}

static void test_user_body(void **state)
{
	(void)state;
	struct user_input in;
	assert_int_equal(user_s("{\"username\":\"alice\",\"password\":\"12345678\"}", &in),
			 VALID_OK);
	assert_string_equal(in.username, "alice");
	assert_string_equal(in.password, "12345678");
	assert_string_equal(in.role, "user");
	assert_int_equal(
		user_s("{\"username\":\"bob\",\"password\":\"12345678\",\"role\":\"admin\"}", &in),
		VALID_OK);
	assert_string_equal(in.role, "admin");
	assert_int_equal(
		user_s("{\"username\":\"bob\",\"password\":\"12345678\",\"role\":\"root\"}", &in),
		VALID_INVALID);
	assert_non_null(strstr(err, "role:"));
	assert_int_equal(user_s("{\"username\":\"bob\",\"password\":\"1234567\"}", &in),
			 VALID_INVALID);
	assert_non_null(strstr(err, "password: shorter than 8"));
	assert_string_equal(in.password, ""); /* never a partial copy */
	assert_int_equal(user_s("{\"username\":\"b b\",\"password\":\"12345678\"}", &in),
			 VALID_INVALID);
	assert_int_equal(user_s("{\"password\":\"12345678\"}", &in), VALID_INVALID);
	assert_string_equal(err, "username: required");
	assert_int_equal(user_s("{\"username\":\"bob\"}", &in), VALID_INVALID);
	assert_int_equal(user_s("{\"username\":\"bob\",\"password\":12345678}", &in),
			 VALID_MALFORMED);
	assert_int_equal(user_s("{\"username\":\"bob\",\"password\":\"12345678\",\"x\":1}", &in),
			 VALID_MALFORMED);
	assert_string_equal(err, "unknown key \"x\"");
	/* SuperMQ's shape, with the fields cloisterd ignores. */
	assert_int_equal(user_s("{\"first_name\":\"Jane\",\"last_name\":\"Doe\","
				"\"email\":\"jane@example.com\",\"credentials\":{\"username\":"
				"\"jane@example.com\",\"secret\":\"12345678\"},\"tags\":[\"a\"],"
				"\"metadata\":{\"k\":1},\"profile_picture\":\"\",\"status\":"
				"\"enabled\"}",
				&in),
			 VALID_OK);
	assert_string_equal(in.username, "jane@example.com");
	assert_string_equal(in.password, "12345678");
	assert_string_equal(in.role, "user");
	assert_int_equal(
		user_s("{\"credentials\":{\"identity\":\"old\",\"secret\":\"12345678\"}}", &in),
		VALID_OK);
	assert_string_equal(in.username, "old");
	assert_int_equal(user_s("{\"credentials\":{\"identity\":\"a\",\"username\":\"b\","
				"\"secret\":\"12345678\"}}",
				&in),
			 VALID_MALFORMED);
	assert_int_equal(user_s("{\"credentials\":{\"username\":\"a\",\"secret\":\"1\"}}", &in),
			 VALID_INVALID);
	assert_non_null(strstr(err, "credentials.secret"));
	assert_int_equal(
		user_s("{\"credentials\":{\"username\":\"a b\",\"secret\":\"12345678\"}}", &in),
		VALID_INVALID);
	assert_non_null(strstr(err, "credentials.username:"));
	assert_int_equal(user_s("{\"credentials\":{\"username\":\"a\",\"secret\":\"12345678\","
				"\"x\":1}}",
				&in),
			 VALID_MALFORMED);
	assert_non_null(strstr(err, "credentials: unknown key \"x\""));
	assert_int_equal(user_s("{\"credentials\":\"x\"}", &in), VALID_MALFORMED);
	assert_int_equal(user_s("{\"username\":\"a\",\"credentials\":{}}", &in), VALID_MALFORMED);
	assert_int_equal(user_s("{\"credentials\":{\"username\":\"a\",\"secret\":\"12345678\"},"
				"\"tags\":\"x\"}",
				&in),
			 VALID_MALFORMED);
	assert_int_equal(user_s("{\"credentials\":{\"username\":\"a\",\"secret\":\"12345678\"},"
				"\"tags\":[1]}",
				&in),
			 VALID_MALFORMED);
	assert_int_equal(user_s("{\"credentials\":{\"username\":\"a\",\"secret\":\"12345678\"},"
				"\"metadata\":[]}",
				&in),
			 VALID_MALFORMED);
	assert_int_equal(user_s("{\"credentials\":{\"username\":\"a\",\"secret\":\"12345678\"},"
				"\"email\":5}",
				&in),
			 VALID_MALFORMED);
}

static int patch_s(const char *body, struct user_patch *p)
{
	return validate_user_patch(body, strlen(body), p, err, sizeof(err));
}

static void test_user_patch(void **state)
{
	(void)state;
	struct user_patch p;
	assert_int_equal(patch_s("{}", &p), VALID_OK);
	assert_false(p.has_role || p.has_disabled || p.has_password);
	assert_int_equal(
		patch_s("{\"role\":\"admin\",\"disabled\":true,\"password\":\"abcdefgh\"}", &p),
		VALID_OK);
	assert_true(p.has_role && p.has_disabled && p.has_password);
	assert_string_equal(p.role, "admin");
	assert_true(p.disabled);
	assert_string_equal(p.password, "abcdefgh");
	assert_int_equal(patch_s("{\"disabled\":false}", &p), VALID_OK);
	assert_true(p.has_disabled);
	assert_false(p.disabled);
	assert_int_equal(patch_s("{\"disabled\":\"true\"}", &p), VALID_MALFORMED);
	assert_int_equal(patch_s("{\"disabled\":1}", &p), VALID_MALFORMED);
	assert_int_equal(patch_s("{\"role\":\"owner\"}", &p), VALID_INVALID);
	assert_int_equal(patch_s("{\"password\":\"short\"}", &p), VALID_INVALID);
	assert_false(p.has_password);
	assert_int_equal(patch_s("{\"username\":\"x\"}", &p), VALID_MALFORMED);
	assert_string_equal(err, "unknown key \"username\"");
	assert_int_equal(patch_s("{\"role\":\"user\",\"role\":\"admin\"}", &p), VALID_MALFORMED);
}

static int login_s(const char *body, struct login_input *in)
{
	return validate_login_body(body, strlen(body), in, err, sizeof(err));
}

static void test_login_body(void **state)
{
	(void)state;
	struct login_input in;
	assert_int_equal(login_s("{\"username\":\"admin\",\"password\":\"pw\"}", &in), VALID_OK);
	assert_string_equal(in.username, "admin");
	assert_string_equal(in.password, "pw"); /* no minimum at login */
	assert_int_equal(login_s("{\"identity\":\"a@b.c\",\"secret\":\"s3cret!!\"}", &in),
			 VALID_OK);
	assert_string_equal(in.username, "a@b.c");
	assert_string_equal(in.password, "s3cret!!");
	assert_int_equal(login_s("{\"identity\":\"a\",\"username\":\"b\",\"secret\":\"x\"}", &in),
			 VALID_MALFORMED);
	assert_int_equal(login_s("{\"username\":\"a\",\"password\":\"x\",\"secret\":\"y\"}", &in),
			 VALID_MALFORMED);
	assert_int_equal(login_s("{\"username\":\"a\",\"password\":\"\"}", &in), VALID_INVALID);
	assert_int_equal(login_s("{\"username\":\"a\"}", &in), VALID_INVALID);
	assert_int_equal(login_s("{\"password\":\"x\"}", &in), VALID_INVALID);
	assert_int_equal(login_s("{\"identity\":\"a b\",\"secret\":\"x\"}", &in), VALID_INVALID);
	assert_non_null(strstr(err, "identity:"));
	assert_int_equal(login_s("{\"username\":\"a\",\"password\":\"x\",\"otp\":\"1\"}", &in),
			 VALID_MALFORMED);
	assert_int_equal(login_s("{\"username\":[],\"password\":\"x\"}", &in), VALID_MALFORMED);
	char body[8192];
	snprintf(body, sizeof(body), "{\"username\":\"a\",\"password\":\"%s\"}", rep('p', 1024));
	assert_int_equal(login_s(body, &in), VALID_OK);
	snprintf(body, sizeof(body), "{\"username\":\"a\",\"password\":\"%s\"}", rep('p', 1025));
	assert_int_equal(login_s(body, &in), VALID_INVALID);
	assert_string_equal(in.username, "");
}

static int term_s(const char *body, struct terminate_input *in)
{
	return validate_terminate_body(body, strlen(body), in, err, sizeof(err));
}

static void test_terminate(void **state)
{
	(void)state;
	int type = -1;
	assert_int_equal(validate_terminate_type("0", &type, err, sizeof(err)), VALID_OK);
	assert_int_equal(type, 0);
	assert_int_equal(validate_terminate_type("1", &type, err, sizeof(err)), VALID_OK);
	assert_int_equal(type, 1);
	assert_int_equal(validate_terminate_type("2", &type, err, sizeof(err)), VALID_INVALID);
	assert_non_null(strstr(err, "type:"));
	assert_int_equal(validate_terminate_type("01", &type, err, sizeof(err)), VALID_INVALID);
	assert_int_equal(validate_terminate_type("-1", &type, err, sizeof(err)), VALID_INVALID);
	assert_int_equal(validate_terminate_type("", &type, err, sizeof(err)), VALID_INVALID);
	assert_int_equal(validate_terminate_type(NULL, &type, err, sizeof(err)), VALID_INVALID);
	struct terminate_input in;
	assert_int_equal(term_s("{\"type\":1}", &in), VALID_OK);
	assert_int_equal(in.type, 1);
	assert_string_equal(in.reason, "");
	assert_int_equal(term_s("{\"type\":0,\"reason\":\"key leaked\"}", &in), VALID_OK);
	assert_int_equal(in.type, 0);
	assert_string_equal(in.reason, "key leaked");
	assert_int_equal(term_s("{\"type\":2}", &in), VALID_INVALID);
	assert_int_equal(term_s("{\"type\":-1}", &in), VALID_INVALID);
	assert_int_equal(term_s("{\"type\":\"1\"}", &in), VALID_MALFORMED);
	assert_int_equal(term_s("{\"type\":1.0}", &in), VALID_MALFORMED);
	assert_int_equal(term_s("{\"type\":true}", &in), VALID_MALFORMED);
	assert_int_equal(term_s("{}", &in), VALID_INVALID);
	assert_int_equal(term_s("{\"type\":1,\"reason\":3}", &in), VALID_MALFORMED);
	assert_int_equal(term_s("{\"type\":1,\"why\":\"x\"}", &in), VALID_MALFORMED);
	assert_int_equal(term_s("{\"type\":1,\"reason\":\"a\\nb\"}", &in), VALID_INVALID);
	char body[8192];
	snprintf(body, sizeof(body), "{\"type\":1,\"reason\":\"%s\"}", rep('r', 256));
	assert_int_equal(term_s(body, &in), VALID_OK);
	assert_int_equal(strlen(in.reason), 256);
	snprintf(body, sizeof(body), "{\"type\":1,\"reason\":\"%s\"}", rep('r', 257));
	assert_int_equal(term_s(body, &in), VALID_INVALID);
	assert_non_null(strstr(err, "reason: longer than 256"));
}

static void test_list_query(void **state)
{
	(void)state;
	struct list_query q;
	assert_int_equal(validate_list_query(NULL, NULL, 10, &q, err, sizeof(err)), VALID_OK);
	assert_int_equal(q.limit, 10);
	assert_int_equal(q.offset, 0);
	assert_int_equal(validate_list_query("1", "0", 10, &q, err, sizeof(err)), VALID_OK);
	assert_int_equal(q.limit, 1);
	assert_int_equal(validate_list_query("1000", NULL, 10, &q, err, sizeof(err)), VALID_OK);
	assert_int_equal(q.limit, 1000);
	assert_int_equal(validate_list_query("1001", NULL, 10, &q, err, sizeof(err)),
			 VALID_INVALID);
	assert_non_null(strstr(err, "limit: must be an integer 1..1000"));
	assert_int_equal(validate_list_query("0", NULL, 10, &q, err, sizeof(err)), VALID_INVALID);
	assert_int_equal(validate_list_query("abc", NULL, 10, &q, err, sizeof(err)), VALID_INVALID);
	assert_int_equal(validate_list_query("", NULL, 10, &q, err, sizeof(err)), VALID_INVALID);
	assert_int_equal(validate_list_query("-1", NULL, 10, &q, err, sizeof(err)), VALID_INVALID);
	assert_int_equal(validate_list_query("1e3", NULL, 10, &q, err, sizeof(err)), VALID_INVALID);
	assert_int_equal(validate_list_query(" 5", NULL, 10, &q, err, sizeof(err)), VALID_INVALID);
	assert_int_equal(validate_list_query(NULL, "9007199254740992", 10, &q, err, sizeof(err)),
			 VALID_OK);
	assert_true(q.offset == (UINT64_C(1) << 53));
	assert_int_equal(validate_list_query(NULL, "9007199254740993", 10, &q, err, sizeof(err)),
			 VALID_INVALID);
	assert_non_null(strstr(err, "offset:"));
	assert_int_equal(
		validate_list_query(NULL, "99999999999999999999999", 10, &q, err, sizeof(err)),
		VALID_INVALID);
	assert_int_equal(validate_list_query(NULL, "x", 10, &q, err, sizeof(err)), VALID_INVALID);
	assert_int_equal(q.limit, 0); /* zeroed on failure */
}

static void test_uuid(void **state)
{
	(void)state;
	char id[STORE_ID_BUF];
	assert_true(validate_uuid("fde3263e-70b8-4ce9-9f3c-4a203a0dcdf5", id));
	assert_string_equal(id, "fde3263e-70b8-4ce9-9f3c-4a203a0dcdf5");
	assert_true(validate_uuid("FDE3263E-70B8-4CE9-9F3C-4A203A0DCDF5", id));
	assert_string_equal(id, "fde3263e-70b8-4ce9-9f3c-4a203a0dcdf5");
	memset(id, 'x', sizeof(id));
	assert_false(validate_uuid("fde3263e-70b8-4ce9-9f3c-4a203a0dcdf", id));   /* 35 */
	assert_false(validate_uuid("fde3263e-70b8-4ce9-9f3c-4a203a0dcdf55", id)); /* 37 */
	assert_false(validate_uuid("fde3263e70b84ce99f3c4a203a0dcdf5", id));
	assert_false(validate_uuid("fde3263e-70b8-4ce9-9f3c_4a203a0dcdf5", id));
	assert_false(validate_uuid("gde3263e-70b8-4ce9-9f3c-4a203a0dcdf5", id));
	assert_false(validate_uuid("{de3263e-70b8-4ce9-9f3c-4a203a0dcdf5", id));
	assert_false(validate_uuid("", id));
	assert_false(validate_uuid(NULL, id));
	assert_int_equal(id[0], 'x'); /* untouched on failure */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name),         cmocka_unit_test(test_description),
		cmocka_unit_test(test_address_host), cmocka_unit_test(test_address_ipv4),
		cmocka_unit_test(test_address_port), cmocka_unit_test(test_address_ipv6),
		cmocka_unit_test(test_backend_body), cmocka_unit_test(test_username_password),
		cmocka_unit_test(test_user_body),    cmocka_unit_test(test_user_patch),
		cmocka_unit_test(test_login_body),   cmocka_unit_test(test_terminate),
		cmocka_unit_test(test_list_query),   cmocka_unit_test(test_uuid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
