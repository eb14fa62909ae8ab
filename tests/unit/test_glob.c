/*
 * glob.c: comma-separated fnmatch(3) pattern lists as exclude and ignore
 * keys take them: splitting and trimming, the length and count limits
 * (with the message and an emptied list), replacement, matching.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "glob.h"

#define MAX	4

struct list {
	char	*pat[MAX];
	size_t	 n;
};

static int
teardown(void **state)
{
	struct list *l = *state;

	glob_list_clear(l->pat, &l->n);
	free(l);
	return 0;
}

static int
setup(void **state)
{
	*state = calloc(1, sizeof(struct list));
	return *state != NULL ? 0 : -1;
}

/* The list as "a|b|c", to compare in one assertion. */
static const char *
joined(const struct list *l)
{
	static char buf[2048];
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < l->n; i++)
		used += snprintf(buf + used, sizeof(buf) - used, "%s%s",
		    i > 0 ? "|" : "", l->pat[i]);
	return buf;
}

static void
test_parse_splits_and_trims(void **state)
{
	struct list *l = *state;
	char err[256] = "";

	assert_int_equal(glob_list_parse(l->pat, &l->n, MAX, "exclude",
	    " loop*, ram*,\tdm-* ,,", err, sizeof(err)), 0);
	assert_string_equal(joined(l), "loop*|ram*|dm-*");
	assert_string_equal(err, "");

	/* A blank inside a pattern is part of it. */
	assert_int_equal(glob_list_parse(l->pat, &l->n, MAX, "exclude",
	    "/mnt/my disk*", err, sizeof(err)), 0);
	assert_string_equal(joined(l), "/mnt/my disk*");
}

static void
test_parse_replaces(void **state)
{
	struct list *l = *state;
	char err[256];

	assert_int_equal(glob_list_parse(l->pat, &l->n, MAX, "exclude",
	    "a, b, c", err, sizeof(err)), 0);
	assert_int_equal(l->n, 3);
	/* The second value replaces the list; "" and blanks empty it. */
	assert_int_equal(glob_list_parse(l->pat, &l->n, MAX, "exclude",
	    "veth*", err, sizeof(err)), 0);
	assert_string_equal(joined(l), "veth*");
	assert_int_equal(glob_list_parse(l->pat, &l->n, MAX, "exclude", "",
	    err, sizeof(err)), 0);
	assert_int_equal(l->n, 0);
	assert_int_equal(glob_list_parse(l->pat, &l->n, MAX, "exclude",
	    " , \t,", err, sizeof(err)), 0);
	assert_int_equal(l->n, 0);
}

static void
test_parse_length_limit(void **state)
{
	struct list *l = *state;
	char value[GLOB_LEN_MAX + 16], err[256];

	/* GLOB_LEN_MAX bytes, blanks around not counted: accepted. */
	value[0] = ' ';
	memset(value + 1, 'a', GLOB_LEN_MAX);
	snprintf(value + 1 + GLOB_LEN_MAX, 3, " ,");
	assert_int_equal(glob_list_parse(l->pat, &l->n, MAX, "exclude", value,
	    err, sizeof(err)), 0);
	assert_int_equal(l->n, 1);
	assert_int_equal(strlen(l->pat[0]), GLOB_LEN_MAX);

	/* One byte more: refused, the message quotes the pattern's start,
	 * and the list that was there is gone too. */
	snprintf(value, sizeof(value), "x,");
	memset(value + 2, 'b', GLOB_LEN_MAX + 1);
	value[2 + GLOB_LEN_MAX + 1] = '\0';
	assert_int_equal(glob_list_parse(l->pat, &l->n, MAX, "exclude", value,
	    err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "exclude: pattern "
	    "'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb...' is longer than 255 bytes");
	assert_int_equal(l->n, 0);
}

static void
test_parse_count_limit(void **state)
{
	struct list *l = *state;
	char err[256];

	assert_int_equal(glob_list_parse(l->pat, &l->n, MAX, "ignore",
	    "a,b,c,d", err, sizeof(err)), 0);
	assert_int_equal(l->n, MAX);
	assert_int_equal(glob_list_parse(l->pat, &l->n, MAX, "ignore",
	    "a,b,c,d,e", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "ignore: more than 4 patterns");
	assert_int_equal(l->n, 0);

	/* Empty entries do not count against the limit. */
	assert_int_equal(glob_list_parse(l->pat, &l->n, MAX, "ignore",
	    "a,,b,,c,,d,,", err, sizeof(err)), 0);
	assert_int_equal(l->n, MAX);

	/* Defaults are parsed without an error buffer. */
	assert_int_equal(glob_list_parse(l->pat, &l->n, MAX, "ignore",
	    "a,b,c,d,e", NULL, 0), -EINVAL);
	assert_int_equal(l->n, 0);
}

struct match_case {
	const char	*list;
	const char	*name;
	bool		 want;
};

static void
test_match(void **state)
{
	static const struct match_case cases[] = {
		{ "loop*, ram*", "loop0", true },
		{ "loop*, ram*", "ram15", true },
		{ "loop*, ram*", "xloop0", false },
		{ "sd?", "sda", true },
		{ "sd?", "sda1", false },
		{ "nvme[0-9]n1", "nvme0n1", true },
		{ "nvme[0-9]n1", "nvme0n1p1", false },
		{ "*.mount", "mnt-backup.mount", true },
		{ "*.mount", "nginx.service", false },
		{ "", "anything", false },
		{ "*", "", true },
	};
	struct list *l = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct match_case *c = &cases[i];

		assert_int_equal(glob_list_parse(l->pat, &l->n, MAX, "exclude",
		    c->list, NULL, 0), 0);
		if (glob_list_match(l->pat, l->n, c->name) != c->want)
			fail_msg("'%s' against \"%s\": want %s", c->name,
			    c->list, c->want ? "a match" : "no match");
	}
}

static void
test_clear(void **state)
{
	struct list *l = *state;

	assert_int_equal(glob_list_parse(l->pat, &l->n, MAX, "exclude",
	    "a, b", NULL, 0), 0);
	glob_list_clear(l->pat, &l->n);
	assert_int_equal(l->n, 0);
	assert_null(l->pat[0]);
	assert_false(glob_list_match(l->pat, l->n, "a"));
	/* Clearing an empty list is fine. */
	glob_list_clear(l->pat, &l->n);
	assert_int_equal(l->n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_parse_splits_and_trims,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_replaces, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_parse_length_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_parse_count_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_match, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clear, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
