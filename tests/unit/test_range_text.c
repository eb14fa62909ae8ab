/*
 * range.c's threshold text for summaries: range_describe (the bound a
 * range alerts beyond) and range_why (why one value alerted, with its
 * unit), for every shape of range.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "range.h"

struct describe_case {
	const char	*range;
	const char	*want;
};

static void
test_range_describe(void **state)
{
	static const struct describe_case cases[] = {
		{ "60", "> 60" },
		{ "~:60", "> 60" },
		{ "0", "> 0" },
		{ "10:", "< 10" },
		{ "0:", "< 0" },
		{ "-1:", "< -1" },
		{ "10:20", "outside 10:20" },
		{ "-5:-1", "outside -5:-1" },
		{ "@10:20", "inside 10:20" },
		/* 15 significant digits, not %g's 6. */
		{ "1234567.5", "> 1234567.5" },
		{ "0.1234567", "> 0.1234567" },
	};
	struct range r;
	char buf[80];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (range_parse(cases[i].range, &r) != 0)
			fail_msg("range_parse(\"%s\") failed", cases[i].range);
		range_describe(&r, buf, sizeof(buf));
		if (strcmp(buf, cases[i].want) != 0)
			fail_msg("\"%s\": got '%s', want '%s'", cases[i].range,
			    buf, cases[i].want);
	}
}

struct why_case {
	const char	*range;
	double		 value;
	const char	*unit;
	const char	*want;
};

static void
test_range_why(void **state)
{
	static const struct why_case cases[] = {
		{ "90", 95, "%", "> 90%" },
		{ "~:5", 6, "", "> 5" },
		{ "10:", 5, "%", "< 10%" },
		{ "2", 2.5, " per CPU", "> 2 per CPU" },
		/* A bounded range names the side the value left by. */
		{ "10:20", 25, "/s", "> 20/s" },
		{ "10:20", 5, "/s", "< 10/s" },
		/* Inside ranges print the range as given, without the '@'. */
		{ "@10:20", 15, "%", "inside 10:20%" },
		{ "@5", 3, "", "inside 5" },
		{ "@~:", 1, "", "inside ~:" },
		{ "1.5", 2, "%", "> 1.5%" },
		/* A value that does not alert still gets a sentence. */
		{ "10:20", 15, "%", "outside 10:20%" },
	};
	struct range r;
	char buf[80];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct why_case *c = &cases[i];

		if (range_parse(c->range, &r) != 0)
			fail_msg("range_parse(\"%s\") failed", c->range);
		range_why(&r, c->value, c->unit, buf, sizeof(buf));
		if (strcmp(buf, c->want) != 0)
			fail_msg("\"%s\" at %g: got '%s', want '%s'", c->range,
			    c->value, buf, c->want);
	}
}

static void
test_small_buffers(void **state)
{
	struct range r;
	char buf[6];

	(void)state;
	assert_int_equal(range_parse("@10:20", &r), 0);
	range_describe(&r, buf, sizeof(buf));
	assert_string_equal(buf, "insid");
	range_why(&r, 15, "%", buf, sizeof(buf));
	assert_string_equal(buf, "insid");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_describe),
		cmocka_unit_test(test_range_why),
		cmocka_unit_test(test_small_buffers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
