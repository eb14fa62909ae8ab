/*
 * argv_split: words an admin's command line must become, shell
 * metacharacters that must stay literal, and errors with their messages.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "argv.h"

#define WORDS_WANT_MAX	20

struct split_case {
	const char	*name;
	const char	*line;
	const char	*words[WORDS_WANT_MAX];	/* NULL-terminated */
};

struct error_case {
	const char	*name;
	const char	*line;
	const char	*err;
};

static const struct split_case splits[] = {
	{ "plain", "/usr/lib/nagios/plugins/check_load -w 5,4,3 -c 10,8,6",
	    { "/usr/lib/nagios/plugins/check_load", "-w", "5,4,3", "-c",
	    "10,8,6" } },
	{ "one word", "check_dummy", { "check_dummy" } },
	{ "blanks and tabs", "  a \t b\t\tc  ", { "a", "b", "c" } },
	{ "single quotes", "check 'a b' 'c\"d' '$HOME' 'x\\y'",
	    { "check", "a b", "c\"d", "$HOME", "x\\y" } },
	{ "double-quote escapes", "x \"a \\\"b\\\" \\\\ \\$HOME \\`id\\`\"",
	    { "x", "a \"b\" \\ $HOME `id`" } },
	{ "other backslashes kept in double quotes",
	    "x \"a\\nb\\c\" \"\\'\"", { "x", "a\\nb\\c", "\\'" } },
	{ "backslash outside quotes", "x a\\ b \\'q\\' \\\\ \\\" \\a",
	    { "x", "a b", "'q'", "\\", "\"", "a" } },
	{ "empty arguments", "x '' \"\" a''b", { "x", "", "", "ab" } },
	{ "empty argument last", "x ''", { "x", "" } },
	{ "adjacent parts join", "x a\"b c\"'d e'f", { "x", "ab cd ef" } },
	{ "quote of the other kind", "x \"it's\" '\"a\"'",
	    { "x", "it's", "\"a\"" } },
	{ "command chaining stays literal",
	    "check_x ; rm -rf / | nc evil 1 & reboot && halt || true",
	    { "check_x", ";", "rm", "-rf", "/", "|", "nc", "evil", "1", "&",
	    "reboot", "&&", "halt", "||", "true" } },
	{ "substitution stays literal", "check_x $(id) `id` ${PATH} $HOME",
	    { "check_x", "$(id)", "`id`", "${PATH}", "$HOME" } },
	{ "redirection and globs stay literal",
	    "check_x > /etc/passwd < /dev/zero 2>&1 * /etc/*.conf ? ~ ~/x",
	    { "check_x", ">", "/etc/passwd", "<", "/dev/zero", "2>&1", "*",
	    "/etc/*.conf", "?", "~", "~/x" } },
	{ "metacharacters glued to words", "x a;b a|b a&&b a>b #c",
	    { "x", "a;b", "a|b", "a&&b", "a>b", "#c" } },
	{ "double-quoted $ and backtick literal", "x \"$(id) `id` $HOME\"",
	    { "x", "$(id) `id` $HOME" } },
	{ "UTF-8 bytes kept", "check 'h\xc3\xa9llo w\xc3\xb6rld'",
	    { "check", "h\xc3\xa9llo w\xc3\xb6rld" } },
	{ "check_http with a quoted -s", "check_http -H example.org -s "
	    "'Welcome to nginx!' -u \"/health check\"",
	    { "check_http", "-H", "example.org", "-s", "Welcome to nginx!",
	    "-u", "/health check" } },
};

static const struct error_case errors[] = {
	{ "empty", "", "empty command" },
	{ "only blanks", "  \t  ", "empty command" },
	{ "unterminated single quote", "x 'abc",
	    "unterminated single quote (opened at column 3)" },
	{ "unterminated double quote", "x y \"abc",
	    "unterminated double quote (opened at column 5)" },
	{ "escaped closing double quote", "x \"abc\\\"",
	    "unterminated double quote (opened at column 3)" },
	{ "trailing backslash", "x abc\\",
	    "trailing backslash at column 6" },
	{ "newline", "x\ny", "control character 0x0a at column 2" },
	{ "escape sequence", "x \x1b[31m",
	    "control character 0x1b at column 3" },
	{ "DEL in quotes", "x '\x7f'", "control character 0x7f at column 4" },
	{ "empty program name", "'' -h",
	    "empty program name (the first word is an empty quoted string)" },
	{ "empty program name, double quotes", "\"\"",
	    "empty program name (the first word is an empty quoted string)" },
};

static void
test_split(void **state)
{
	const struct split_case *c = *state;
	char **argv = NULL, err[256] = "unchanged";
	int argc, nwant = 0;

	while (nwant < WORDS_WANT_MAX && c->words[nwant] != NULL)
		nwant++;
	argc = argv_split(c->line, &argv, err, sizeof(err));
	if (argc < 0)
		fail_msg("argv_split(\"%s\") failed: %s", c->line, err);
	assert_string_equal(err, "");
	for (int i = 0; i < argc && argc != nwant; i++)
		print_message("  got argv[%d] \"%s\"\n", i, argv[i]);
	assert_int_equal(argc, nwant);
	for (int i = 0; i < argc; i++)
		assert_string_equal(argv[i], c->words[i]);
	assert_null(argv[argc]);
	argv_free(argv);
}

static void
test_error(void **state)
{
	const struct error_case *c = *state;
	char **argv = (char **)(uintptr_t)1, err[256] = "";
	int r;

	r = argv_split(c->line, &argv, err, sizeof(err));
	if (r >= 0) {
		print_message("  \"%s\" gave %d words, first \"%s\"\n", c->line,
		    r, argv[0]);
		argv_free(argv);
	}
	assert_int_equal(r, -EINVAL);
	assert_null(argv);
	assert_string_equal(err, c->err);
}

/* Exactly ARGV_WORDS_MAX words pass; one more is an error. */
static void
test_word_limit(void **state)
{
	char line[ARGV_WORDS_MAX * 5 + 8], **argv = NULL, err[128] = "";
	size_t len = 0;
	int r;

	(void)state;
	for (int i = 0; i < ARGV_WORDS_MAX; i++)
		len += snprintf(line + len, sizeof(line) - len, "%d ", i);
	r = argv_split(line, &argv, err, sizeof(err));
	assert_int_equal(r, ARGV_WORDS_MAX);
	assert_string_equal(argv[ARGV_WORDS_MAX - 1], "255");
	assert_null(argv[ARGV_WORDS_MAX]);
	argv_free(argv);

	snprintf(line + len, sizeof(line) - len, "x");
	r = argv_split(line, &argv, err, sizeof(err));
	assert_int_equal(r, -EINVAL);
	assert_null(argv);
	/* 10 one-digit + 90 two-digit + 156 three-digit words, with blanks. */
	assert_string_equal(err,
	    "more than 256 words (word 257 starts at column 915)");
}

/* ARGV_LINE_MAX bytes pass; one more is an error. */
static void
test_line_limit(void **state)
{
	char *line, **argv = NULL, err[128] = "";
	int r;

	(void)state;
	line = malloc(ARGV_LINE_MAX + 2);
	assert_non_null(line);
	memset(line, 'a', ARGV_LINE_MAX);
	line[ARGV_LINE_MAX] = '\0';
	line[0] = 'x';
	line[1] = ' ';
	r = argv_split(line, &argv, err, sizeof(err));
	assert_int_equal(r, 2);
	assert_int_equal(strlen(argv[1]), ARGV_LINE_MAX - 2);
	argv_free(argv);

	line[ARGV_LINE_MAX] = 'a';
	line[ARGV_LINE_MAX + 1] = '\0';
	r = argv_split(line, &argv, err, sizeof(err));
	assert_int_equal(r, -EINVAL);
	assert_null(argv);
	assert_string_equal(err, "command line is longer than 65536 bytes");
	free(line);
}

/* err may be NULL or short; the message is cut, never overrun. */
static void
test_err_buffer(void **state)
{
	char **argv = NULL, err[8];

	(void)state;
	assert_int_equal(argv_split("'", &argv, NULL, 0), -EINVAL);
	assert_null(argv);
	memset(err, 'z', sizeof(err));
	assert_int_equal(argv_split("'", &argv, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "untermi");
	assert_int_equal(argv_split("ok", &argv, NULL, 0), 1);
	assert_string_equal(argv[0], "ok");
	argv_free(argv);
	argv_free(NULL);
}

static int
run_table(const char *group, CMUnitTestFunction fn, const void *rows,
    size_t n, size_t size)
{
	struct CMUnitTest *t;
	int failed;

	if ((t = calloc(n, sizeof(*t))) == NULL)
		return 1;
	for (size_t i = 0; i < n; i++) {
		const void *row = (const char *)rows + i * size;

		/* Every row struct starts with its name. */
		t[i].name = *(const char *const *)row;
		t[i].test_func = fn;
		t[i].initial_state = (void *)(uintptr_t)row;
	}
	failed = _cmocka_run_group_tests(group, t, n, NULL, NULL);
	free(t);
	return failed;
}

int
main(void)
{
	const struct CMUnitTest others[] = {
		cmocka_unit_test(test_word_limit),
		cmocka_unit_test(test_line_limit),
		cmocka_unit_test(test_err_buffer),
	};
	int failed = 0;

	failed += run_table("argv_split", test_split, splits,
	    sizeof(splits) / sizeof(splits[0]), sizeof(splits[0]));
	failed += run_table("argv_errors", test_error, errors,
	    sizeof(errors) / sizeof(errors[0]), sizeof(errors[0]));
	failed += cmocka_run_group_tests(others, NULL, NULL);
	return failed != 0;
}
