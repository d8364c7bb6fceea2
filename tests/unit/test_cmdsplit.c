/*
 * test_cmdsplit.c - command-string splitting: every quoting rule, every refusal (with the
 * character it names), the limits at and one past, and argv[0] resolution on the safe path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmdsplit.h"

/* Splits cmd and compares with the expected words (NULL-terminated list). */
static void expect_words(const char *cmd, ...)
{
	char **argv = NULL;
	char msg[160];
	int n = cmdsplit(cmd, &argv, msg, sizeof(msg));
	if (n < 0)
		print_error("cmd <%s>: %d %s\n", cmd, n, msg);
	assert_true(n > 0);
	assert_non_null(argv);
	va_list ap;
	va_start(ap, cmd);
	int i = 0;
	for (const char *w = va_arg(ap, const char *); w; w = va_arg(ap, const char *), i++) {
		assert_true(i < n);
		assert_string_equal(argv[i], w);
	}
	va_end(ap);
	assert_int_equal(i, n);
	assert_null(argv[n]);
	cmdsplit_free(argv);
}

static void expect_error(const char *cmd, int rc, const char *substr)
{
	char **argv = (char **)&argv; /* must be reset to NULL */
	char msg[160];
	int r = cmdsplit(cmd, &argv, msg, sizeof(msg));
	if (r != rc || !strstr(msg, substr))
		print_error("cmd <%s>: %d <%s>\n", cmd, r, msg);
	assert_int_equal(r, rc);
	assert_null(argv);
	assert_non_null(strstr(msg, substr));
}

static void test_brief_example(void **state)
{
	(void)state;
	expect_words("echo \"hello world\" 'a b' c\\ d", "echo", "hello world", "a b", "c d", NULL);
	expect_words("echo test", "echo", "test", NULL);
	expect_words("reboot", "reboot", NULL);
}

static void test_whitespace(void **state)
{
	(void)state;
	expect_words("  \t ls \t  -l\t/tmp   ", "ls", "-l", "/tmp", NULL);
	expect_words("a", "a", NULL);
}

static void test_single_quotes(void **state)
{
	(void)state;
	expect_words("echo 'a\\b $x | \"q\" `c` # ; ( )'", "echo", "a\\b $x | \"q\" `c` # ; ( )",
		     NULL);
	expect_words("echo 'multi\nline'", "echo", "multi\nline", NULL);
}

static void test_double_quotes(void **state)
{
	(void)state;
	expect_words("printf \"a\\\"b\\\\c\\$d\\`e\"", "printf", "a\"b\\c$d`e", NULL);
	/* a backslash before any other character stays, as in sh */
	expect_words("echo \"a\\nb\\'c\\ d\\#\"", "echo", "a\\nb\\'c\\ d\\#", NULL);
	expect_words("echo \"| & ; < > ( ) ' # * ~\"", "echo", "| & ; < > ( ) ' # * ~", NULL);
	expect_words("echo \"two\nlines\"", "echo", "two\nlines", NULL);
	expect_words("echo \"tab\there\"", "echo", "tab\there", NULL);
}

static void test_backslash_unquoted(void **state)
{
	(void)state;
	expect_words("echo a\\|b \\$HOME \\#x \\\"q\\\" \\'s\\' \\\\ \\a", "echo", "a|b", "$HOME",
		     "#x", "\"q\"", "'s'", "\\", "a", NULL);
	expect_words("echo \\ ", "echo", " ", NULL);
}

static void test_concatenation_and_empty_words(void **state)
{
	(void)state;
	expect_words("echo a\"b c\"'d'e", "echo", "ab cde", NULL);
	expect_words("echo \"\" '' x", "echo", "", "", "x", NULL);
	expect_words("\"\"", "", NULL);
	expect_words("echo \"\"''\"\"", "echo", "", NULL);
}

static void test_literal_globs_and_friends(void **state)
{
	(void)state;
	expect_words("ls *.txt ~/x [ab]? {a,b} !x a#b x= =y %s", "ls", "*.txt", "~/x", "[ab]?",
		     "{a,b}", "!x", "a#b", "x=", "=y", "%s", NULL);
	/* UTF-8 passes untouched */
	expect_words("echo h\xc3\xa9llo", "echo", "h\xc3\xa9llo", NULL);
}

static void test_shell_operators(void **state)
{
	(void)state;
	const char ops[] = "|&;<>()$`";
	for (size_t i = 0; ops[i]; i++) {
		char cmd[32], want[64];
		snprintf(cmd, sizeof(cmd), "echo a%cb", ops[i]);
		snprintf(want, sizeof(want),
			 "shell syntax '%c' is not supported; use an argv array", ops[i]);
		expect_error(cmd, -EINVAL, want);
		snprintf(cmd, sizeof(cmd), "%c", ops[i]);
		expect_error(cmd, -EINVAL, want);
	}
	expect_error("ls | grep x", -EINVAL, "'|'");
	expect_error("reboot && echo done", -EINVAL, "'&'");
	expect_error("sleep 1 &", -EINVAL, "'&'");
	expect_error("echo $HOME", -EINVAL, "'$'");
	expect_error("echo hi > /etc/passwd", -EINVAL, "'>'");
	expect_error("echo `id`", -EINVAL, "'`'");
	expect_error("(cd /; ls)", -EINVAL, "'('");
}

static void test_expansions_in_double_quotes(void **state)
{
	(void)state;
	expect_error("echo \"$HOME\"", -EINVAL, "'$' inside double quotes");
	expect_error("echo \"a $(id)\"", -EINVAL, "'$' inside double quotes");
	expect_error("echo \"`id`\"", -EINVAL, "'`' inside double quotes");
}

static void test_comments_newlines_controls(void **state)
{
	(void)state;
	expect_error("# just a comment", -EINVAL, "'#' starts a comment");
	expect_error("echo hi #comment", -EINVAL, "'#' starts a comment");
	expect_error("echo a\nreboot", -EINVAL, "newlines are not supported");
	expect_error("echo a\n", -EINVAL, "newlines are not supported");
	expect_error("echo a\\\nb", -EINVAL, "line continuation");
	expect_error("echo \"a\\\nb\"", -EINVAL, "line continuation");
	expect_error("echo a\rb", -EINVAL, "control character 0x0d");
	expect_error("echo \x1b[31m", -EINVAL, "control character 0x1b");
	expect_error("echo \x7f", -EINVAL, "control character 0x7f");
}

static void test_assignments(void **state)
{
	(void)state;
	expect_error("FOO=bar cmd", -EINVAL, "variable assignments");
	expect_error("_x1=2", -EINVAL, "variable assignments");
	expect_error("  PATH=/tmp ls", -EINVAL, "variable assignments");
	/* not assignments in sh either: later words, quoted names, invalid names */
	expect_words("env FOO=bar cmd", "env", "FOO=bar", "cmd", NULL);
	expect_words("\"FOO\"=bar", "FOO=bar", NULL);
	expect_words("F\\OO=bar", "FOO=bar", NULL);
	expect_words("1A=b", "1A=b", NULL);
	expect_words("a-b=c", "a-b=c", NULL);
	expect_words("=x", "=x", NULL);
}

static void test_syntax_errors(void **state)
{
	(void)state;
	expect_error("echo 'abc", -EINVAL, "unterminated single quote");
	expect_error("echo \"abc", -EINVAL, "unterminated double quote");
	expect_error("echo \"abc\\\"", -EINVAL, "unterminated double quote");
	expect_error("echo \"abc\\", -EINVAL, "unterminated double quote");
	expect_error("echo abc\\", -EINVAL, "trailing backslash");
	expect_error("", -EINVAL, "empty command");
	expect_error(" \t ", -EINVAL, "empty command");
}

static void test_limits(void **state)
{
	(void)state;
	char *cmd = malloc(CMDSPLIT_MAX_BYTES + 2);
	assert_non_null(cmd);
	char **argv = NULL;
	char msg[128];

	/* CMDSPLIT_MAX_BYTES of input: one long word */
	memset(cmd, 'a', CMDSPLIT_MAX_BYTES);
	cmd[CMDSPLIT_MAX_BYTES] = '\0';
	assert_int_equal(cmdsplit(cmd, &argv, msg, sizeof(msg)), 1);
	assert_int_equal(strlen(argv[0]), CMDSPLIT_MAX_BYTES);
	cmdsplit_free(argv);
	cmd[CMDSPLIT_MAX_BYTES] = 'a';
	cmd[CMDSPLIT_MAX_BYTES + 1] = '\0';
	assert_int_equal(cmdsplit(cmd, &argv, msg, sizeof(msg)), -E2BIG);
	assert_null(argv);
	assert_non_null(strstr(msg, "longer than 4096 bytes"));

	/* the most words a 4096-byte string can hold: "a a a ... a" (2048 words) is over 256 */
	for (int i = 0; i < CMDSPLIT_MAX_WORDS; i++) {
		cmd[2 * i] = (char)('a' + i % 26);
		cmd[2 * i + 1] = ' ';
	}
	cmd[2 * CMDSPLIT_MAX_WORDS] = '\0';
	assert_int_equal(cmdsplit(cmd, &argv, msg, sizeof(msg)), CMDSPLIT_MAX_WORDS);
	assert_string_equal(argv[255], "v");
	assert_null(argv[CMDSPLIT_MAX_WORDS]);
	cmdsplit_free(argv);
	cmd[2 * CMDSPLIT_MAX_WORDS] = 'x';
	cmd[2 * CMDSPLIT_MAX_WORDS + 1] = '\0';
	assert_int_equal(cmdsplit(cmd, &argv, msg, sizeof(msg)), -E2BIG);
	assert_non_null(strstr(msg, "more than 256 words"));

	/* empty words count too, and 4096 bytes of "" pairs stay inside the buffer */
	for (int i = 0; i < CMDSPLIT_MAX_WORDS; i++)
		memcpy(cmd + 3 * i, "'' ", 3);
	cmd[3 * CMDSPLIT_MAX_WORDS - 1] = '\0';
	assert_int_equal(cmdsplit(cmd, &argv, msg, sizeof(msg)), CMDSPLIT_MAX_WORDS);
	assert_string_equal(argv[0], "");
	cmdsplit_free(argv);
	free(cmd);
}

static void test_api_edges(void **state)
{
	(void)state;
	char **argv = NULL;
	char msg[8];
	/* msg may be absent, or short (truncated, still terminated) */
	assert_int_equal(cmdsplit("a|b", &argv, NULL, 0), -EINVAL);
	assert_int_equal(cmdsplit("a|b", &argv, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(strlen(msg), sizeof(msg) - 1);
	assert_int_equal(cmdsplit("ok", &argv, msg, sizeof(msg)), 1);
	assert_string_equal(msg, "");
	cmdsplit_free(argv);
	assert_int_equal(cmdsplit(NULL, &argv, msg, sizeof(msg)), -EINVAL);
	assert_null(argv);
	assert_int_equal(cmdsplit("ls", NULL, msg, sizeof(msg)), -EINVAL);
	cmdsplit_free(NULL);
}

/* ---- resolve ---- */

static void test_resolve_search(void **state)
{
	(void)state;
	char out[PATH_MAX];
	assert_int_equal(cmdsplit_resolve("echo", out, sizeof(out)), 0);
	assert_true(strcmp(out, "/usr/bin/echo") == 0 || strcmp(out, "/bin/echo") == 0);
	assert_int_equal(cmdsplit_resolve("sh", out, sizeof(out)), 0);
	assert_int_equal(out[0], '/');
	assert_int_equal(cmdsplit_resolve("no-such-command-cloister", out, sizeof(out)), -ENOENT);
	assert_string_equal(out, "");
	/* directories on the path are not commands */
	assert_int_equal(cmdsplit_resolve("..", out, sizeof(out)), -ENOENT);
	/* the result must fit */
	assert_int_equal(cmdsplit_resolve("echo", out, 5), -ENAMETOOLONG);
	char name[NAME_MAX + 2];
	memset(name, 'n', sizeof(name) - 1);
	name[NAME_MAX + 1] = '\0';
	assert_int_equal(cmdsplit_resolve(name, out, sizeof(out)), -ENAMETOOLONG);
}

static void test_resolve_absolute_and_relative(void **state)
{
	(void)state;
	char out[PATH_MAX];
	assert_int_equal(cmdsplit_resolve("/bin/sh", out, sizeof(out)), 0);
	assert_string_equal(out, "/bin/sh");
	assert_int_equal(cmdsplit_resolve("/no/such/binary", out, sizeof(out)), -ENOENT);
	assert_int_equal(cmdsplit_resolve("/usr/bin", out, sizeof(out)), -ENOENT);
	assert_int_equal(cmdsplit_resolve("bin/echo", out, sizeof(out)), -EINVAL);
	assert_int_equal(cmdsplit_resolve("./echo", out, sizeof(out)), -EINVAL);
	assert_int_equal(cmdsplit_resolve("../bin/echo", out, sizeof(out)), -EINVAL);
	assert_int_equal(cmdsplit_resolve("", out, sizeof(out)), -EINVAL);
	assert_int_equal(cmdsplit_resolve(NULL, out, sizeof(out)), -EINVAL);
	assert_int_equal(cmdsplit_resolve("echo", NULL, 0), -EINVAL);
	assert_int_equal(cmdsplit_resolve("/bin/sh", out, 7), -ENAMETOOLONG);
	assert_int_equal(cmdsplit_resolve("/bin/sh", out, 8), 0);
	char *longp = malloc(PATH_MAX + 1);
	assert_non_null(longp);
	memset(longp, 'p', PATH_MAX);
	longp[0] = '/';
	longp[PATH_MAX] = '\0';
	assert_int_equal(cmdsplit_resolve(longp, out, sizeof(out)), -ENAMETOOLONG);
	free(longp);
}

static void test_resolve_files_and_path_env(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_cmdsplit.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char exe[128], plain[128], out[PATH_MAX];
	snprintf(exe, sizeof(exe), "%s/cloister-test-tool", dir);
	snprintf(plain, sizeof(plain), "%s/plain", dir);
	int fd = open(exe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	assert_true(fd >= 0);
	close(fd);
	fd = open(plain, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);

	assert_int_equal(cmdsplit_resolve(exe, out, sizeof(out)), 0);
	assert_string_equal(out, exe);
	/* not executable */
	assert_int_equal(cmdsplit_resolve(plain, out, sizeof(out)), -ENOENT);
	/* $PATH is never consulted, even when it names the tool's directory */
	char *old = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	assert_int_equal(setenv("PATH", dir, 1), 0);
	assert_int_equal(cmdsplit_resolve("cloister-test-tool", out, sizeof(out)), -ENOENT);
	if (old)
		setenv("PATH", old, 1);
	else
		unsetenv("PATH");
	free(old);

	assert_int_equal(unlink(exe), 0);
	assert_int_equal(unlink(plain), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_brief_example),
		cmocka_unit_test(test_whitespace),
		cmocka_unit_test(test_single_quotes),
		cmocka_unit_test(test_double_quotes),
		cmocka_unit_test(test_backslash_unquoted),
		cmocka_unit_test(test_concatenation_and_empty_words),
		cmocka_unit_test(test_literal_globs_and_friends),
		cmocka_unit_test(test_shell_operators),
		cmocka_unit_test(test_expansions_in_double_quotes),
		cmocka_unit_test(test_comments_newlines_controls),
		cmocka_unit_test(test_assignments),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_api_edges),
		cmocka_unit_test(test_resolve_search),
		cmocka_unit_test(test_resolve_absolute_and_relative),
		cmocka_unit_test(test_resolve_files_and_path_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
