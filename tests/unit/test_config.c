/*
 * test_config.c - the TOML-subset parser and schema checker: every grammar rule, every error
 * (with its line), every limit at and one past it, and the real systemapi-config.toml.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

static const char systemapi_toml[] =
	"[general]\n"
	"listen_addr = \"0.0.0.0:3535\"\n"
	"pipe_file = \"pipe.fifo\"\n"
	"log_json = false\n"
	"log_debug = true\n"
	"pprof = true\n"
	"log_max_entries = 1000\n"
	"# HTTP Basic Auth\n"
	"basic_auth_secret_path = \"basic-auth-secret.txt\" # basic_auth_secret_salt = \"...\"\n"
	"basic_auth_secret_salt = \"D;%yL9TS:5PalS/d\"\n"
	"# http_read_timeout_ms = 2500\n"
	"tls_enabled = true\n"
	"tls_create_if_missing = true\n"
	"tls_cert_hosts = [\"localhost\", \"\"]\n"
	"tls_cert_path = \"cert.pem\"\n"
	"tls_key_path = \"key.pem\"\n"
	"\n"
	"[actions]\n"
	"echo_test = \"echo test\"\n"
	"# reboot = \"reboot\"\n"
	"argv_form = [\"/bin/echo\", \"hello world\"]\n"
	"\n"
	"[file_uploads]\n"
	"testfile = \"/tmp/testfile.txt\"\n";

static int parse(const char *s, struct config_doc *doc, struct config_error *err)
{
	return config_parse(s, strlen(s), doc, err);
}

/* Asserts that text fails with rc on line, with a message containing substr, and that the
 * document is left empty. */
static void expect_fail(const char *text, int rc, unsigned line, const char *substr)
{
	struct config_doc doc;
	struct config_error err;
	int r = parse(text, &doc, &err);
	if (r != rc || err.line != line || !strstr(err.msg, substr))
		print_error("input <%s>: rc %d line %u msg <%s>\n", text, r, err.line, err.msg);
	assert_int_equal(r, rc);
	assert_int_equal(err.line, line);
	assert_non_null(strstr(err.msg, substr));
	assert_int_equal(doc.n, 0);
	assert_null(doc.entries);
	assert_int_equal(doc.n_tables, 0);
	assert_null(doc.tables);
}

static char *repeat(char c, size_t n);

static const struct config_entry *must_find(const struct config_doc *doc, const char *t,
					    const char *k, enum config_type type)
{
	const struct config_entry *e = config_find(doc, t, k);
	assert_non_null(e);
	assert_int_equal(e->type, type);
	return e;
}

static void test_systemapi_config(void **state)
{
	(void)state;
	struct config_doc doc;
	struct config_error err;
	assert_int_equal(parse(systemapi_toml, &doc, &err), 0);
	assert_int_equal(doc.n, 16);
	const struct config_entry *e = must_find(&doc, "general", "listen_addr", CONFIG_STRING);
	assert_string_equal(e->str, "0.0.0.0:3535");
	assert_int_equal(e->line, 2);
	assert_false(must_find(&doc, "general", "log_json", CONFIG_BOOL)->boolean);
	assert_true(must_find(&doc, "general", "log_debug", CONFIG_BOOL)->boolean);
	assert_int_equal(must_find(&doc, "general", "log_max_entries", CONFIG_INT)->num, 1000);
	assert_string_equal(
		must_find(&doc, "general", "basic_auth_secret_path", CONFIG_STRING)->str,
		"basic-auth-secret.txt");
	assert_string_equal(
		must_find(&doc, "general", "basic_auth_secret_salt", CONFIG_STRING)->str,
		"D;%yL9TS:5PalS/d");
	assert_null(config_find(&doc, "general", "http_read_timeout_ms"));
	e = must_find(&doc, "general", "tls_cert_hosts", CONFIG_STRING_ARRAY);
	assert_int_equal(e->arr_len, 2);
	assert_string_equal(e->arr[0], "localhost");
	assert_string_equal(e->arr[1], "");
	assert_null(e->arr[2]);
	assert_string_equal(must_find(&doc, "actions", "echo_test", CONFIG_STRING)->str,
			    "echo test");
	assert_null(config_find(&doc, "actions", "reboot"));
	e = must_find(&doc, "actions", "argv_form", CONFIG_STRING_ARRAY);
	assert_int_equal(e->line, 21);
	assert_string_equal(e->arr[1], "hello world");
	e = must_find(&doc, "file_uploads", "testfile", CONFIG_STRING);
	assert_string_equal(e->table, "file_uploads");
	assert_string_equal(e->key, "testfile");
	assert_int_equal(e->line, 24);
	/* file order */
	assert_string_equal(doc.entries[0].key, "listen_addr");
	assert_string_equal(doc.entries[15].key, "testfile");
	assert_int_equal(config_table_count(&doc), 3);
	assert_string_equal(doc.tables[1].name, "actions");
	assert_int_equal(doc.tables[1].line, 18);
	config_doc_done(&doc);
	assert_int_equal(doc.n, 0);
	config_doc_done(&doc); /* twice is harmless */
}

static void test_bom_crlf_no_final_newline(void **state)
{
	(void)state;
	struct config_doc doc;
	struct config_error err;
	const char *t = "\xef\xbb\xbf# c\r\n[a]\r\nk = \"v\"\r\n\r\nn = 5";
	assert_int_equal(parse(t, &doc, &err), 0);
	assert_int_equal(must_find(&doc, "a", "k", CONFIG_STRING)->line, 3);
	assert_string_equal(config_find(&doc, "a", "k")->str, "v");
	assert_int_equal(must_find(&doc, "a", "n", CONFIG_INT)->line, 5);
	config_doc_done(&doc);
	/* a BOM anywhere else is not skipped */
	expect_fail("a = 1\n\xef\xbb\xbf b = 2\n", -EINVAL, 2, "expected a key");
	/* an empty document is fine */
	assert_int_equal(config_parse("", 0, &doc, &err), 0);
	assert_int_equal(doc.n, 0);
	assert_int_equal(config_parse(NULL, 0, &doc, NULL), 0);
	config_doc_done(&doc);
}

static void test_root_table_and_find(void **state)
{
	(void)state;
	struct config_doc doc;
	assert_int_equal(parse("top = 1\n[t]\ntop = 2\n", &doc, NULL), 0);
	assert_int_equal(config_find(&doc, "", "top")->num, 1);
	assert_int_equal(config_find(&doc, NULL, "top")->num, 1);
	assert_string_equal(config_find(&doc, NULL, "top")->table, "");
	assert_int_equal(config_find(&doc, "t", "top")->num, 2);
	assert_null(config_find(&doc, "u", "top"));
	assert_null(config_find(&doc, "t", NULL));
	assert_null(config_find(NULL, "t", "top"));
	config_doc_done(&doc);
}

static void test_basic_string_escapes(void **state)
{
	(void)state;
	struct config_doc doc;
	struct config_error err;
	assert_int_equal(
		parse("s = \"q\\\" b\\\\ \\b\\f\\n\\r\\t \\u00e9 \\U0001F600 \\u20AC\tx\"\n", &doc,
		      &err),
		0);
	assert_string_equal(config_find(&doc, "", "s")->str,
			    "q\" b\\ \b\f\n\r\t \xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac\tx");
	config_doc_done(&doc);
	assert_int_equal(parse("s = \"\"\nt = ''\nu = \"#not a comment\" # one\n", &doc, &err), 0);
	assert_string_equal(config_find(&doc, "", "s")->str, "");
	assert_string_equal(config_find(&doc, "", "t")->str, "");
	assert_string_equal(config_find(&doc, "", "u")->str, "#not a comment");
	config_doc_done(&doc);
	assert_int_equal(parse("s = \"\\u0041\\U0000007a\\u07FF\\uFFFF\\U0010FFFF\"\n", &doc, &err),
			 0);
	assert_string_equal(config_find(&doc, "", "s")->str,
			    "Az\xdf\xbf\xef\xbf\xbf\xf4\x8f\xbf\xbf");
	config_doc_done(&doc);
	/* UTF-8 passes through untouched */
	assert_int_equal(parse("s = \"h\xc3\xa9llo \xe2\x9c\x93\"\n", &doc, &err), 0);
	assert_string_equal(config_find(&doc, "", "s")->str, "h\xc3\xa9llo \xe2\x9c\x93");
	config_doc_done(&doc);
}

static void test_basic_string_errors(void **state)
{
	(void)state;
	expect_fail("s = \"a\\x\"\n", -EINVAL, 1, "invalid escape \\x");
	expect_fail("s = \"a\\e\"\n", -EINVAL, 1, "invalid escape \\e");
	expect_fail("s = \"a\\ \"\n", -EINVAL, 1, "invalid escape");
	expect_fail("\ns = \"\\uD800\"\n", -EINVAL, 2, "surrogate");
	expect_fail("s = \"\\uDFFF\"\n", -EINVAL, 1, "surrogate");
	expect_fail("s = \"\\U00110000\"\n", -EINVAL, 1, "beyond U+10FFFF");
	expect_fail("s = \"\\u0000\"\n", -EINVAL, 1, "NUL");
	expect_fail("s = \"\\U00000000\"\n", -EINVAL, 1, "NUL");
	expect_fail("s = \"\\u12\"\n", -EINVAL, 1, "4 hex digits");
	expect_fail("s = \"\\U1234567\"\n", -EINVAL, 1, "8 hex digits");
	expect_fail("s = \"\\u12", -EINVAL, 1, "4 hex digits");
	expect_fail("s = \"abc\n", -EINVAL, 1, "unterminated string");
	expect_fail("s = \"abc\\", -EINVAL, 1, "invalid escape");
	expect_fail("s = \"abc", -EINVAL, 1, "unterminated string");
	expect_fail("s = \"a\\\nb\"\n", -EINVAL, 1, "invalid escape");
	expect_fail("s = \"\"\"multi\"\"\"\n", -EINVAL, 1, "multi-line strings");
	expect_fail("s = '''multi'''\n", -EINVAL, 1, "multi-line strings");
	/* raw control characters: only tab is allowed */
	expect_fail("s = \"a\x01\"\n", -EINVAL, 1, "control character 0x01");
	expect_fail("s = \"a\x7f\"\n", -EINVAL, 1, "control character 0x7f");
	expect_fail("s = \"a\x1b[31m\"\n", -EINVAL, 1, "control character 0x1b");
	expect_fail("# comment \x08\n", -EINVAL, 1, "control character 0x08");
	struct config_doc doc;
	const char nul[] = "s = \"a\0b\"\n";
	struct config_error err;
	assert_int_equal(config_parse(nul, sizeof(nul) - 1, &doc, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "control character 0x00"));
}

static void test_literal_strings(void **state)
{
	(void)state;
	struct config_doc doc;
	assert_int_equal(parse("p = 'C:\\path\\n \"q\" #x'\n", &doc, NULL), 0);
	assert_string_equal(config_find(&doc, "", "p")->str, "C:\\path\\n \"q\" #x");
	config_doc_done(&doc);
	expect_fail("p = 'abc\n", -EINVAL, 1, "unterminated string");
	expect_fail("p = 'abc", -EINVAL, 1, "unterminated string");
}

static void test_utf8_and_line_endings(void **state)
{
	(void)state;
	expect_fail("a = 1\nb = \"\xff\"\n", -EINVAL, 2, "invalid UTF-8");
	expect_fail("a = \"\xc0\xaf\"\n", -EINVAL, 1, "invalid UTF-8");     /* overlong */
	expect_fail("a = \"\xed\xa0\x80\"\n", -EINVAL, 1, "invalid UTF-8"); /* surrogate */
	expect_fail("# \xe2\x82\n", -EINVAL, 1, "invalid UTF-8");           /* truncated */
	expect_fail("a = 1\rb = 2\n", -EINVAL, 1, "carriage return");
	expect_fail("a = 1\n\r", -EINVAL, 2, "carriage return");
}

static void test_integers(void **state)
{
	(void)state;
	struct config_doc doc;
	struct config_error err;
	const char *t = "a = 0\nb = +17\nc = -42\nd = 1_000_000\ne = 0xff\nf = 0xDEAD_beef\n"
			"g = 9223372036854775807\nh = -9223372036854775808\ni = +0\nj = -0\n"
			"k = 0x7fffffffffffffff\nl = 5 # five\n";
	assert_int_equal(parse(t, &doc, &err), 0);
	assert_int_equal(config_find(&doc, "", "a")->num, 0);
	assert_int_equal(config_find(&doc, "", "b")->num, 17);
	assert_int_equal(config_find(&doc, "", "c")->num, -42);
	assert_int_equal(config_find(&doc, "", "d")->num, 1000000);
	assert_int_equal(config_find(&doc, "", "e")->num, 255);
	assert_int_equal(config_find(&doc, "", "f")->num, 0xdeadbeef);
	assert_true(config_find(&doc, "", "g")->num == LLONG_MAX);
	assert_true(config_find(&doc, "", "h")->num == LLONG_MIN);
	assert_int_equal(config_find(&doc, "", "i")->num, 0);
	assert_int_equal(config_find(&doc, "", "j")->num, 0);
	assert_true(config_find(&doc, "", "k")->num == LLONG_MAX);
	assert_int_equal(config_find(&doc, "", "l")->num, 5);
	config_doc_done(&doc);
}

static void test_integer_errors(void **state)
{
	(void)state;
	expect_fail("a = 012\n", -EINVAL, 1, "leading zeros");
	expect_fail("a = 00\n", -EINVAL, 1, "leading zeros");
	expect_fail("a = -01\n", -EINVAL, 1, "leading zeros");
	expect_fail("a = 0_1\n", -EINVAL, 1, "leading zeros");
	expect_fail("a = 1__0\n", -EINVAL, 1, "between digits");
	expect_fail("a = 1_\n", -EINVAL, 1, "between digits");
	expect_fail("a = 0x_1\n", -EINVAL, 1, "between digits");
	expect_fail("a = _1\n", -EINVAL, 1, "strings must be quoted");
	expect_fail("a = 0x\n", -EINVAL, 1, "invalid integer");
	expect_fail("a = 0xg1\n", -EINVAL, 1, "invalid integer");
	expect_fail("a = 12abc\n", -EINVAL, 1, "invalid integer");
	expect_fail("a = 1-2\n", -EINVAL, 1, "invalid integer");
	expect_fail("a = +0x1\n", -EINVAL, 1, "cannot have a sign");
	expect_fail("a = 0o17\n", -EINVAL, 1, "octal and binary");
	expect_fail("a = 0b101\n", -EINVAL, 1, "octal and binary");
	expect_fail("a = 9223372036854775808\n", -EINVAL, 1, "out of range");
	expect_fail("a = -9223372036854775809\n", -EINVAL, 1, "out of range");
	expect_fail("a = 0x8000000000000000\n", -EINVAL, 1, "out of range");
	expect_fail("a = 99999999999999999999999\n", -EINVAL, 1, "out of range");
	expect_fail("a = +\n", -EINVAL, 1, "strings must be quoted");
	expect_fail("a = 1 2\n", -EINVAL, 1, "unexpected characters after value");
}

static void test_unsupported_values(void **state)
{
	(void)state;
	expect_fail("a = 1.5\n", -EINVAL, 1, "floats are not supported");
	expect_fail("a = 1e5\n", -EINVAL, 1, "floats are not supported");
	expect_fail("a = -2E-3\n", -EINVAL, 1, "floats are not supported");
	expect_fail("a = inf\n", -EINVAL, 1, "floats are not supported");
	expect_fail("a = -inf\n", -EINVAL, 1, "floats are not supported");
	expect_fail("a = nan\n", -EINVAL, 1, "floats are not supported");
	expect_fail("a = 1979-05-27\n", -EINVAL, 1, "dates and times");
	expect_fail("a = 1979-05-27T07:32:00Z\n", -EINVAL, 1, "dates and times");
	expect_fail("a = 1979-05-27 07:32:00\n", -EINVAL, 1, "dates and times");
	expect_fail("a = 07:32:00\n", -EINVAL, 1, "dates and times");
	expect_fail("a = { b = 1 }\n", -EINVAL, 1, "inline tables");
	expect_fail("[[fruit]]\nname = \"x\"\n", -EINVAL, 1, "arrays of tables");
	expect_fail("a = hello\n", -EINVAL, 1, "strings must be quoted");
	expect_fail("a = True\n", -EINVAL, 1, "strings must be quoted");
	expect_fail("a = @\n", -EINVAL, 1, "strings must be quoted");
	expect_fail("a = truex\n", -EINVAL, 1, "strings must be quoted");
}

static void test_booleans(void **state)
{
	(void)state;
	struct config_doc doc;
	assert_int_equal(parse("t = true\nf = false#c\n", &doc, NULL), 0);
	assert_true(must_find(&doc, "", "t", CONFIG_BOOL)->boolean);
	assert_false(must_find(&doc, "", "f", CONFIG_BOOL)->boolean);
	config_doc_done(&doc);
	expect_fail("t = true false\n", -EINVAL, 1, "unexpected characters after value");
}

static void test_arrays(void **state)
{
	(void)state;
	struct config_doc doc;
	struct config_error err;
	const char *t = "a = [ \"x\" , 'y' ]\n"
			"b = [\n"
			"  \"one\", # first\n"
			"  # a comment line\n"
			"\n"
			"  \"two\",\n"
			"]\n"
			"c = []\n"
			"d = [\"trailing\",]\n"
			"e = [ # note\n"
			"]\n"
			"after = 1\n";
	assert_int_equal(parse(t, &doc, &err), 0);
	const struct config_entry *e = must_find(&doc, "", "a", CONFIG_STRING_ARRAY);
	assert_int_equal(e->arr_len, 2);
	assert_string_equal(e->arr[0], "x");
	assert_string_equal(e->arr[1], "y");
	assert_null(e->arr[2]);
	e = must_find(&doc, "", "b", CONFIG_STRING_ARRAY);
	assert_int_equal(e->line, 2);
	assert_int_equal(e->arr_len, 2);
	assert_string_equal(e->arr[1], "two");
	e = must_find(&doc, "", "c", CONFIG_STRING_ARRAY);
	assert_int_equal(e->arr_len, 0);
	assert_non_null(e->arr);
	assert_null(e->arr[0]);
	assert_int_equal(must_find(&doc, "", "d", CONFIG_STRING_ARRAY)->arr_len, 1);
	assert_int_equal(must_find(&doc, "", "e", CONFIG_STRING_ARRAY)->arr_len, 0);
	assert_int_equal(must_find(&doc, "", "after", CONFIG_INT)->line, 12);
	config_doc_done(&doc);
}

static void test_array_errors(void **state)
{
	(void)state;
	expect_fail("a = [\"x\", 1]\n", -EINVAL, 1, "cannot mix types");
	expect_fail("a = [\"x\",\n true]\n", -EINVAL, 2, "cannot mix types");
	expect_fail("a = [1, 2]\n", -EINVAL, 1, "only arrays of strings");
	expect_fail("a = [true]\n", -EINVAL, 1, "only arrays of strings");
	expect_fail("a = [1.5]\n", -EINVAL, 1, "floats are not supported");
	expect_fail("a = [[\"x\"]]\n", -EINVAL, 1, "nested arrays");
	expect_fail("a = [{}]\n", -EINVAL, 1, "inline tables");
	expect_fail("a = [\"x\" \"y\"]\n", -EINVAL, 1, "expected ',' or ']'");
	expect_fail("a = [,]\n", -EINVAL, 1, "expected a value before ','");
	expect_fail("a = [\"x\",,]\n", -EINVAL, 1, "expected a value before ','");
	expect_fail("a = [\"x\"\n", -EINVAL, 2, "unterminated array (opened on line 1)");
	expect_fail("a = [\n\"x\",\n# c\n", -EINVAL, 4, "unterminated array (opened on line 1)");
	expect_fail("a = [\"x\"] y\n", -EINVAL, 1, "unexpected characters after value");
	expect_fail("a = [\"x\n", -EINVAL, 1, "unterminated string");
}

static void test_tables(void **state)
{
	(void)state;
	struct config_doc doc;
	struct config_error err;
	const char *t = "[a.b]\nk = 1\n[ a ]\nk = 2\n[ a . c ]\n[d-1.e_2.F3.g]\nk = 3\n";
	assert_int_equal(parse(t, &doc, &err), 0);
	assert_int_equal(config_find(&doc, "a.b", "k")->num, 1);
	assert_int_equal(config_find(&doc, "a", "k")->num, 2);
	assert_int_equal(config_find(&doc, "d-1.e_2.F3.g", "k")->num, 3);
	assert_string_equal(config_find(&doc, "d-1.e_2.F3.g", "k")->table, "d-1.e_2.F3.g");
	/* a, a.b, a.c, d-1, d-1.e_2, d-1.e_2.F3, d-1.e_2.F3.g; a.c has no keys */
	assert_int_equal(config_table_count(&doc), 7);
	assert_true(config_has_table(&doc, "a.c"));
	assert_true(config_has_table(&doc, "d-1.e_2"));
	assert_true(config_has_table(&doc, ""));
	assert_false(config_has_table(&doc, "a.b.c"));
	assert_false(config_has_table(&doc, "b"));
	/* [a] was implied on line 1, then defined on line 3 */
	assert_string_equal(doc.tables[0].name, "a");
	assert_true(doc.tables[0].defined);
	assert_int_equal(doc.tables[0].line, 3);
	assert_false(doc.tables[3].defined); /* d-1 is only implied */
	config_doc_done(&doc);
	assert_int_equal(config_table_count(&doc), 0);
	assert_int_equal(config_table_count(NULL), 0);
}

static void test_table_errors(void **state)
{
	(void)state;
	expect_fail("[a]\nx = 1\n\n[a]\n", -EINVAL, 4, "duplicate table [a] (first on line 1)");
	expect_fail("[a.b]\n[a]\n[a]\n", -EINVAL, 3, "duplicate table [a] (first on line 2)");
	expect_fail("[a.b]\n[a.b]\n", -EINVAL, 2, "duplicate table [a.b]");
	expect_fail("a = 1\n[a]\n", -EINVAL, 2, "table [a] conflicts with key 'a' on line 1");
	expect_fail("[t]\nb = 1\n[t.b.c]\n", -EINVAL, 3, "table [t.b] conflicts with key 'b'");
	expect_fail("[a.b]\n[a]\nb = 1\n", -EINVAL, 3, "key 'b' conflicts with table [a.b]");
	expect_fail("[\"q\"]\n", -EINVAL, 1, "quoted table names");
	expect_fail("[a.'q']\n", -EINVAL, 1, "quoted table names");
	expect_fail("[]\n", -EINVAL, 1, "invalid table name");
	expect_fail("[a.]\n", -EINVAL, 1, "invalid table name");
	expect_fail("[.a]\n", -EINVAL, 1, "invalid table name");
	expect_fail("[a..b]\n", -EINVAL, 1, "invalid table name");
	expect_fail("[a b]\n", -EINVAL, 1, "expected '.' or ']'");
	expect_fail("[a\n", -EINVAL, 1, "expected '.' or ']'");
	expect_fail("[a] x\n", -EINVAL, 1, "unexpected characters after table header");
	struct config_doc doc;
	/* a quoted key with a dot is one key, not a path: it does not clash with [a.b] */
	assert_int_equal(parse("[a]\n\"b.c\" = 1\n[a.b]\n[x.y]\n[x]\n\"y.z\" = 2\n", &doc, NULL),
			 0);
	assert_int_equal(config_find(&doc, "a", "b.c")->num, 1);
	assert_int_equal(config_find(&doc, "x", "y.z")->num, 2);
	config_doc_done(&doc);
	/* trailing comment and spaces after a header are fine */
	assert_int_equal(parse("  [a]   # c\n", &doc, NULL), 0);
	config_doc_done(&doc);
}

static void test_keys(void **state)
{
	(void)state;
	struct config_doc doc;
	struct config_error err;
	assert_int_equal(parse("\"a b\" = 1\n'c\\d' = 2\n\"\\u00e9\" = 3\nA-_9 = 4\n1234 = 5\n"
			       "  \tindented\t=\t6\n",
			       &doc, &err),
			 0);
	assert_int_equal(config_find(&doc, "", "a b")->num, 1);
	assert_int_equal(config_find(&doc, "", "c\\d")->num, 2);
	assert_int_equal(config_find(&doc, "", "\xc3\xa9")->num, 3);
	assert_int_equal(config_find(&doc, "", "A-_9")->num, 4);
	assert_int_equal(config_find(&doc, "", "1234")->num, 5);
	assert_int_equal(config_find(&doc, "", "indented")->num, 6);
	config_doc_done(&doc);
	/* the same key in two tables is fine */
	assert_int_equal(parse("k = 1\n[a]\nk = 2\n[b]\nk = 3\n", &doc, NULL), 0);
	assert_int_equal(doc.n, 3);
	config_doc_done(&doc);

	expect_fail("k = 1\nj = 2\nk = 3\n", -EINVAL, 3, "duplicate key 'k' (first on line 1)");
	expect_fail("[t]\nk = 1\n\"k\" = 2\n", -EINVAL, 3, "duplicate key 'k'");
	expect_fail("a.b = 1\n", -EINVAL, 1, "dotted keys");
	expect_fail("a . b = 1\n", -EINVAL, 1, "dotted keys");
	expect_fail("\"\" = 1\n", -EINVAL, 1, "empty keys");
	expect_fail("k 1\n", -EINVAL, 1, "expected '=' after key 'k'");
	expect_fail("k\n", -EINVAL, 1, "expected '=' after key 'k'");
	expect_fail("k =\n", -EINVAL, 1, "missing value");
	expect_fail("k = # nothing\n", -EINVAL, 1, "missing value");
	expect_fail("= 1\n", -EINVAL, 1, "expected a key");
	expect_fail("k = \"v\" extra\n", -EINVAL, 1, "unexpected characters after value");
	expect_fail("k = \"v\"x\n", -EINVAL, 1, "unexpected characters after value");
	expect_fail("\"k\n", -EINVAL, 1, "unterminated key");
	/* a control character in a key never reaches the message */
	struct config_doc d2;
	assert_int_equal(parse("\"a\\nb\" = 1\n\"a\\nb\" = 2\n", &d2, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'a?b'"));
	/* a long key is cut in the message, never inside a UTF-8 character */
	char t[256], want[160];
	char *k59 = repeat('k', 59);
	snprintf(t, sizeof(t), "\"%s\xc3\xa9xxxxxxxxxx\" = 1\n\"%s\xc3\xa9xxxxxxxxxx\" = 2\n", k59,
		 k59);
	snprintf(want, sizeof(want), "duplicate key '%s...' (first on line 1)", k59);
	assert_int_equal(parse(t, &d2, &err), -EINVAL);
	assert_string_equal(err.msg, want);
	free(k59);
}

/* ---- limits ---- */

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static int parse_fmt(struct config_doc *doc, struct config_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int parse_fmt(struct config_doc *doc, struct config_error *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	assert_true(vasprintf(&s, fmt, ap) >= 0);
	va_end(ap);
	int rc = parse(s, doc, err);
	free(s);
	return rc;
}

static void test_limit_key_bytes(void **state)
{
	(void)state;
	struct config_doc doc;
	struct config_error err;
	char *k = repeat('k', CONFIG_MAX_KEY_BYTES), *k1 = repeat('k', CONFIG_MAX_KEY_BYTES + 1);
	assert_int_equal(parse_fmt(&doc, &err, "%s = 1\n\"%s\" = 2\n[x.%s]\n", k, k + 1, k), 0);
	assert_non_null(config_find(&doc, "", k));
	config_doc_done(&doc);
	assert_int_equal(parse_fmt(&doc, &err, "a = 1\n%s = 1\n", k1), -E2BIG);
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.msg, "key is longer than 128 bytes"));
	assert_int_equal(parse_fmt(&doc, &err, "\"%s\" = 1\n", k1), -E2BIG);
	assert_non_null(strstr(err.msg, "key is longer than 128 bytes"));
	/* decoded length counts: 127 'k' + "\u00e9" (2 bytes) = 129 */
	assert_int_equal(parse_fmt(&doc, &err, "\"%s\\u00e9\" = 1\n", k + 1), -E2BIG);
	assert_int_equal(parse_fmt(&doc, &err, "[a.%s]\n", k1), -E2BIG);
	assert_non_null(strstr(err.msg, "table name part is longer than 128 bytes"));
	assert_int_equal(doc.n, 0);
	free(k);
	free(k1);
}

static void test_limit_string_bytes(void **state)
{
	(void)state;
	struct config_doc doc;
	struct config_error err;
	char *s = repeat('s', CONFIG_MAX_STRING_BYTES),
	     *s1 = repeat('s', CONFIG_MAX_STRING_BYTES + 1);
	assert_int_equal(parse_fmt(&doc, &err, "a = \"%s\"\nb = '%s'\nc = [\"%s\"]\n", s, s, s), 0);
	assert_int_equal(strlen(config_find(&doc, "", "a")->str), CONFIG_MAX_STRING_BYTES);
	assert_int_equal(strlen(config_find(&doc, "", "b")->str), CONFIG_MAX_STRING_BYTES);
	config_doc_done(&doc);
	assert_int_equal(parse_fmt(&doc, &err, "a = \"%s\"\n", s1), -E2BIG);
	assert_int_equal(err.line, 1);
	assert_non_null(strstr(err.msg, "string is longer than 4096 bytes"));
	assert_int_equal(parse_fmt(&doc, &err, "a = '%s'\n", s1), -E2BIG);
	assert_int_equal(parse_fmt(&doc, &err, "a = [\"x\",\n\"%s\"]\n", s1), -E2BIG);
	assert_int_equal(err.line, 2);
	/* decoded size: 4095 bytes + a 2-byte escape decodes to 4097 */
	assert_int_equal(parse_fmt(&doc, &err, "a = \"%s\\u00e9\"\n", s + 1), -E2BIG);
	/* 4094 bytes + the same escape: exactly 4096 */
	assert_int_equal(parse_fmt(&doc, &err, "a = \"%s\\u00e9\"\n", s + 2), 0);
	config_doc_done(&doc);
	free(s);
	free(s1);
}

static void test_limit_line_bytes(void **state)
{
	(void)state;
	struct config_doc doc;
	struct config_error err;
	/* "# " + filler = exactly CONFIG_MAX_LINE_BYTES, with LF and with CRLF */
	char *f = repeat('x', CONFIG_MAX_LINE_BYTES - 2);
	assert_int_equal(parse_fmt(&doc, &err, "# %s\n# %s\r\n# %s", f, f, f), 0);
	config_doc_done(&doc);
	assert_int_equal(parse_fmt(&doc, &err, "a = 1\n\n# %sx\n", f), -E2BIG);
	assert_int_equal(err.line, 3);
	assert_non_null(strstr(err.msg, "line is longer than 8192 bytes"));
	assert_int_equal(parse_fmt(&doc, &err, "# %sx", f), -E2BIG);
	free(f);
}

static void test_limit_file_bytes(void **state)
{
	(void)state;
	struct config_doc doc;
	struct config_error err;
	char *big = repeat('#', CONFIG_MAX_BYTES + 1);
	for (size_t i = 4000; i < CONFIG_MAX_BYTES; i += 4000)
		big[i] = '\n';
	assert_int_equal(config_parse(big, CONFIG_MAX_BYTES, &doc, &err), 0);
	config_doc_done(&doc);
	assert_int_equal(config_parse(big, CONFIG_MAX_BYTES + 1, &doc, &err), -E2BIG);
	assert_int_equal(err.line, 0);
	assert_non_null(strstr(err.msg, "larger than 1048576 bytes"));
	free(big);
}

static void test_limit_array_items(void **state)
{
	(void)state;
	struct config_doc doc;
	struct config_error err;
	size_t cap = 8 * (CONFIG_MAX_ARRAY_ITEMS + 1) + 32;
	char *t = malloc(cap);
	assert_non_null(t);
	size_t n = (size_t)snprintf(t, cap, "a = [");
	for (int i = 0; i < CONFIG_MAX_ARRAY_ITEMS; i++)
		n += (size_t)snprintf(t + n, cap - n, "\"%d\",\n", i);
	snprintf(t + n, cap - n, "]\n");
	assert_int_equal(parse(t, &doc, &err), 0);
	const struct config_entry *e = config_find(&doc, "", "a");
	assert_int_equal(e->arr_len, CONFIG_MAX_ARRAY_ITEMS);
	assert_string_equal(e->arr[255], "255");
	assert_null(e->arr[256]);
	config_doc_done(&doc);
	snprintf(t + n, cap - n, "\"x\"]\n");
	assert_int_equal(parse(t, &doc, &err), -E2BIG);
	assert_int_equal(err.line, CONFIG_MAX_ARRAY_ITEMS + 1);
	assert_non_null(strstr(err.msg, "more than 256 items"));
	free(t);
}

static void test_limit_entries_and_tables(void **state)
{
	(void)state;
	struct config_doc doc;
	struct config_error err;
	size_t cap = 16 * (CONFIG_MAX_ENTRIES + 1) + 32;
	char *t = malloc(cap);
	assert_non_null(t);
	size_t n = 0;
	for (int i = 0; i < CONFIG_MAX_ENTRIES; i++)
		n += (size_t)snprintf(t + n, cap - n, "k%d = %d\n", i, i);
	assert_int_equal(parse(t, &doc, &err), 0);
	assert_int_equal(doc.n, CONFIG_MAX_ENTRIES);
	assert_int_equal(config_find(&doc, "", "k4095")->num, 4095);
	config_doc_done(&doc);
	snprintf(t + n, cap - n, "[z]\nk = 1\n");
	assert_int_equal(parse(t, &doc, &err), -E2BIG);
	assert_int_equal(err.line, CONFIG_MAX_ENTRIES + 2);
	assert_non_null(strstr(err.msg, "more than 4096 keys"));

	n = 0;
	for (int i = 0; i < CONFIG_MAX_ENTRIES; i++)
		n += (size_t)snprintf(t + n, cap - n, "[t%d]\n", i);
	assert_int_equal(parse(t, &doc, &err), 0);
	assert_int_equal(config_table_count(&doc), CONFIG_MAX_ENTRIES);
	config_doc_done(&doc);
	snprintf(t + n, cap - n, "[last]\n");
	assert_int_equal(parse(t, &doc, &err), -E2BIG);
	assert_int_equal(err.line, CONFIG_MAX_ENTRIES + 1);
	assert_non_null(strstr(err.msg, "more than 4096 tables"));
	free(t);
}

static void test_limit_table_depth(void **state)
{
	(void)state;
	struct config_doc doc;
	struct config_error err;
	assert_int_equal(parse("[a.b.c.d]\nk = 1\n", &doc, &err), 0);
	assert_int_equal(config_find(&doc, "a.b.c.d", "k")->num, 1);
	config_doc_done(&doc);
	assert_int_equal(parse("\n[a.b.c.d.e]\n", &doc, &err), -E2BIG);
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.msg, "at most 4 deep"));
}

static void test_null_args(void **state)
{
	(void)state;
	struct config_doc doc;
	struct config_error err;
	assert_int_equal(config_parse("a = 1", 5, NULL, &err), -EINVAL);
	assert_int_equal(config_parse(NULL, 5, &doc, &err), -EINVAL);
	assert_int_equal(config_parse_file(NULL, &doc, &err), -EINVAL);
	/* err may be NULL */
	assert_int_equal(config_parse("a = ", 4, &doc, NULL), -EINVAL);
	config_doc_done(NULL);
	assert_false(config_has_table(NULL, "a"));
}

/* ---- files ---- */

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void test_parse_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_config.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256], big[256], missing[256];
	snprintf(path, sizeof(path), "%s/systemapi-config.toml", dir);
	snprintf(big, sizeof(big), "%s/big.toml", dir);
	snprintf(missing, sizeof(missing), "%s/missing.toml", dir);
	struct config_doc doc;
	struct config_error err;

	write_file(path, systemapi_toml, strlen(systemapi_toml));
	assert_int_equal(config_parse_file(path, &doc, &err), 0);
	assert_int_equal(doc.n, 16);
	config_doc_done(&doc);

	assert_int_equal(config_parse_file(missing, &doc, &err), -ENOENT);
	assert_int_equal(err.line, 0);
	assert_non_null(strstr(err.msg, "missing.toml"));
	assert_int_equal(doc.n, 0);

	assert_int_equal(config_parse_file(missing, &doc, NULL), -ENOENT);
	assert_int_equal(config_parse_file(dir, &doc, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not a regular file"));

	char *data = repeat('#', CONFIG_MAX_BYTES + 1);
	for (size_t i = 100; i < CONFIG_MAX_BYTES; i += 100)
		data[i] = '\n';
	write_file(big, data, CONFIG_MAX_BYTES);
	assert_int_equal(config_parse_file(big, &doc, &err), 0);
	config_doc_done(&doc);
	write_file(big, data, CONFIG_MAX_BYTES + 1);
	assert_int_equal(config_parse_file(big, &doc, &err), -E2BIG);
	assert_int_equal(err.line, 0);
	assert_non_null(strstr(err.msg, "larger than"));
	free(data);

	/* a syntax error keeps its line number */
	write_file(path, "[a]\nk = 01\n", 11);
	assert_int_equal(config_parse_file(path, &doc, &err), -EINVAL);
	assert_int_equal(err.line, 2);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(unlink(big), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* ---- schema ---- */

static const struct config_key systemapi_keys[] = {
	{ "general", "listen_addr", CONFIG_STRING },
	{ "general", "pipe_file", CONFIG_STRING },
	{ "general", "log_json", CONFIG_BOOL },
	{ "general", "log_debug", CONFIG_BOOL },
	{ "general", "pprof", CONFIG_BOOL },
	{ "general", "log_max_entries", CONFIG_INT, 0, 100000 },
	{ "general", "basic_auth_secret_path", CONFIG_STRING },
	{ "general", "basic_auth_secret_salt", CONFIG_STRING },
	{ "general", "http_read_timeout_ms", CONFIG_INT, 1, 600000 },
	{ "general", "tls_enabled", CONFIG_BOOL },
	{ "general", "tls_create_if_missing", CONFIG_BOOL },
	{ "general", "tls_cert_hosts", CONFIG_STRING_ARRAY },
	{ "general", "tls_cert_path", CONFIG_STRING },
	{ "general", "tls_key_path", CONFIG_STRING },
	{ "actions", NULL, CONFIG_STRING },
	{ "file_uploads", NULL, CONFIG_STRING },
	{ "limits.http", "max_body", CONFIG_INT, 1, 10 },
	{ NULL, "version", CONFIG_INT, 1, 1 },
};

static int check(const char *text, struct config_error *err)
{
	struct config_doc doc;
	int rc = parse(text, &doc, err);
	assert_int_equal(rc, 0);
	rc = config_check(&doc, systemapi_keys, sizeof(systemapi_keys) / sizeof(systemapi_keys[0]),
			  err);
	config_doc_done(&doc);
	return rc;
}

static void expect_schema_error(const char *text, unsigned line, const char *msg)
{
	struct config_error err;
	int rc = check(text, &err);
	if (rc != -EINVAL || err.line != line || strcmp(err.msg, msg) != 0)
		print_error("input <%s>: rc %d line %u msg <%s>\n", text, rc, err.line, err.msg);
	assert_int_equal(rc, -EINVAL);
	assert_int_equal(err.line, line);
	assert_string_equal(err.msg, msg);
}

static void test_check_ok(void **state)
{
	(void)state;
	struct config_error err;
	assert_int_equal(check(systemapi_toml, &err), 0);
	assert_int_equal(check("", &err), 0);
	assert_int_equal(check("version = 1\n[limits.http]\nmax_body = 10\n[limits]\n", &err), 0);
	assert_int_equal(
		check("[general]\nlog_max_entries = 0\nhttp_read_timeout_ms = 600000\n", &err), 0);
	/* empty open tables are fine */
	assert_int_equal(check("[actions]\n[file_uploads]\n", &err), 0);
}

static void test_check_errors(void **state)
{
	(void)state;
	expect_schema_error("[general]\nlisten_addr = \"x\"\nlisten_adr = \"y\"\n", 3,
			    "unknown key 'listen_adr' in [general]");
	expect_schema_error("verbose = true\n", 1, "unknown key 'verbose' at top level");
	expect_schema_error("[general]\nlog_json = \"yes\"\n", 2,
			    "'log_json' must be true or false");
	expect_schema_error("[general]\nlisten_addr = 3535\n", 2, "'listen_addr' must be a string");
	expect_schema_error("[general]\nlog_max_entries = \"1000\"\n", 2,
			    "'log_max_entries' must be an integer");
	expect_schema_error("[general]\ntls_cert_hosts = \"localhost\"\n", 2,
			    "'tls_cert_hosts' must be an array of strings");
	expect_schema_error("[general]\nlog_max_entries = 100001\n", 2,
			    "'log_max_entries' must be between 0 and 100000");
	expect_schema_error("[general]\nlog_max_entries = -1\n", 2,
			    "'log_max_entries' must be between 0 and 100000");
	expect_schema_error("[general]\nhttp_read_timeout_ms = 0\n", 2,
			    "'http_read_timeout_ms' must be between 1 and 600000");
	expect_schema_error("[actions]\nreboot = 1\n", 2,
			    "'reboot' must be a string or an array of strings");
	expect_schema_error("[file_uploads]\nf = true\n", 2,
			    "'f' must be a string or an array of strings");
	expect_schema_error("[general]\n[nope]\n", 2, "unknown table [nope]");
	expect_schema_error("[limits.tcp]\n", 1, "unknown table [limits.tcp]");
	expect_schema_error("[actions.sub]\n", 1, "unknown table [actions.sub]");
	expect_schema_error("[limits.http]\nother = 1\n", 2,
			    "unknown key 'other' in [limits.http]");
	/* the first error in file order wins, whatever its kind */
	expect_schema_error("[general]\nlog_json = 1\nzzz = 2\n[bad]\n", 2,
			    "'log_json' must be true or false");
	expect_schema_error("[bad]\n[general]\nzzz = 2\n", 1, "unknown table [bad]");
	expect_schema_error("[general]\nzzz = 2\nlog_json = 1\n", 2,
			    "unknown key 'zzz' in [general]");
	/* an exact row wins over an open one in the same table */
	static const struct config_key mixed[] = {
		{ "t", NULL, CONFIG_STRING },
		{ "t", "n", CONFIG_INT, 0, 5 },
	};
	struct config_doc doc;
	struct config_error err;
	assert_int_equal(parse("[t]\nn = 5\ns = \"x\"\na = [\"y\"]\n", &doc, &err), 0);
	assert_int_equal(config_check(&doc, mixed, 2, &err), 0);
	config_doc_done(&doc);
	assert_int_equal(parse("[t]\nn = \"5\"\n", &doc, &err), 0);
	assert_int_equal(config_check(&doc, mixed, 2, &err), -EINVAL);
	assert_string_equal(err.msg, "'n' must be an integer");
	assert_int_equal(config_check(NULL, mixed, 2, &err), -EINVAL);
	assert_int_equal(config_check(&doc, NULL, 2, &err), -EINVAL);
	assert_int_equal(config_check(&doc, mixed, 2, NULL), -EINVAL);
	config_doc_done(&doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_systemapi_config),
		cmocka_unit_test(test_bom_crlf_no_final_newline),
		cmocka_unit_test(test_root_table_and_find),
		cmocka_unit_test(test_basic_string_escapes),
		cmocka_unit_test(test_basic_string_errors),
		cmocka_unit_test(test_literal_strings),
		cmocka_unit_test(test_utf8_and_line_endings),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_integer_errors),
		cmocka_unit_test(test_unsupported_values),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_arrays),
		cmocka_unit_test(test_array_errors),
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_table_errors),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_limit_key_bytes),
		cmocka_unit_test(test_limit_string_bytes),
		cmocka_unit_test(test_limit_line_bytes),
		cmocka_unit_test(test_limit_file_bytes),
		cmocka_unit_test(test_limit_array_items),
		cmocka_unit_test(test_limit_entries_and_tables),
		cmocka_unit_test(test_limit_table_depth),
		cmocka_unit_test(test_null_args),
		cmocka_unit_test(test_parse_file),
		cmocka_unit_test(test_check_ok),
		cmocka_unit_test(test_check_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
