/*
 * counter.c: reading /proc counters (blanks, the end of a number, overflow,
 * garbage) and their deltas across 32- and 64-bit wraps, and the decreases
 * that are resets rather than wraps.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "counter.h"

#define UNTOUCHED	UINT64_C(0xdeadbeef)
#define TOP32		(UINT64_C(1) << 31)	/* 32-bit top half */
#define TOP64		(UINT64_C(1) << 63)

struct delta_case {
	const char	*name;
	uint64_t	 prev, cur;
	bool		 ok;
	uint64_t	 want;		/* UNTOUCHED when !ok */
};

static const struct delta_case delta_cases[] = {
	{ "forward", 5, 9, true, 4 },
	{ "unchanged", 7, 7, true, 0 },
	{ "forward across 2^32 (a 64-bit counter)", UINT32_MAX - 1,
	    UINT64_C(1) << 32, true, 2 },
	{ "64-bit wrap", UINT64_MAX - 1, 3, true, 5 },
	{ "64-bit wrap from exactly 2^63", TOP64, 0, true, TOP64 },
	{ "32-bit wrap", UINT32_MAX - 9, 10, true, 20 },
	{ "32-bit wrap from exactly 2^31", TOP32, 0, true, TOP32 },
	{ "32-bit wrap to just below 2^31", UINT32_MAX, TOP32 - 1, true,
	    TOP32 },
	{ "reset: prev in the bottom half of 32 bits", TOP32 - 1, 0, false,
	    UNTOUCHED },
	{ "reset: small decrease", 1000, 10, false, UNTOUCHED },
	{ "reset: 32-bit top half to top half", UINT32_MAX, TOP32, false,
	    UNTOUCHED },
	{ "reset: prev past 32 bits, below 2^63", UINT64_C(1) << 40, 5, false,
	    UNTOUCHED },
	{ "reset: 64-bit top half to top half", UINT64_MAX, TOP64, false,
	    UNTOUCHED },
};

static void
test_counter_delta(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(delta_cases) / sizeof(delta_cases[0]);
	    i++) {
		const struct delta_case *c = &delta_cases[i];
		uint64_t d = UNTOUCHED;
		bool ok = counter_delta(c->prev, c->cur, &d);

		if (ok != c->ok || d != c->want)
			fail_msg("%s: prev %ju cur %ju: got %s %ju, want %s "
			    "%ju", c->name, (uintmax_t)c->prev,
			    (uintmax_t)c->cur, ok ? "true" : "false",
			    (uintmax_t)d, c->ok ? "true" : "false",
			    (uintmax_t)c->want);
	}
}

struct parse_case {
	const char	*text;
	int		 rc;
	uint64_t	 want;
	const char	*rest;		/* where *p is left */
};

static void
test_counter_parse(void **state)
{
	static const struct parse_case cases[] = {
		{ "42", 0, 42, "" },
		{ "  \t7 8", 0, 7, " 8" },
		{ "0\t1", 0, 0, "\t1" },
		{ "18446744073709551615", 0, UINT64_MAX, "" },
		{ "18446744073709551616", -EINVAL, 0, NULL },
		{ "", -EINVAL, 0, NULL },
		{ "   ", -EINVAL, 0, NULL },
		{ "-1", -EINVAL, 0, NULL },
		{ "+1", -EINVAL, 0, NULL },
		{ "12x", -EINVAL, 0, NULL },
		{ "12\n", -EINVAL, 0, NULL },
		{ "1.5", -EINVAL, 0, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct parse_case *c = &cases[i];
		const char *p = c->text;
		uint64_t v = UNTOUCHED;
		int rc = counter_parse(&p, &v);

		if (rc != c->rc)
			fail_msg("\"%s\": returned %d, want %d", c->text, rc,
			    c->rc);
		if (rc == 0 && (v != c->want || strcmp(p, c->rest) != 0))
			fail_msg("\"%s\": read %ju leaving \"%s\", want %ju "
			    "leaving \"%s\"", c->text, (uintmax_t)v, p,
			    (uintmax_t)c->want, c->rest);
		if (rc != 0 && p != c->text)
			fail_msg("\"%s\": failed but moved the cursor",
			    c->text);
	}
}

/* Several counters of one device: wraps alone pass, a reset or two going
 * back at once do not, and d is filled only as far as it is valid. */
static void
test_counter_deltas(void **state)
{
	const uint64_t prev[] = { 10, UINT32_MAX - 5, 7 };
	const uint64_t up[] = { 15, UINT32_MAX, 7 };
	const uint64_t wrap[] = { 15, 4, 9 };		/* one 32-bit wrap */
	/* Each of these alone is a plausible 32-bit wrap; both at once are
	 * not. */
	const uint64_t high[] = { UINT32_MAX - 1, UINT32_MAX - 5 };
	const uint64_t one[] = { UINT32_MAX, 4 }, two[] = { 1, 4 };
	const uint64_t reset[] = { 15, UINT32_MAX, 1 };	/* 7 -> 1: reset */
	uint64_t d[3];

	(void)state;
	assert_int_equal(counter_deltas(prev, up, 3, d), 0);
	assert_true(d[0] == 5 && d[1] == 5 && d[2] == 0);
	assert_int_equal(counter_deltas(prev, wrap, 3, d), 0);
	assert_true(d[0] == 5 && d[1] == 10 && d[2] == 2);
	assert_int_equal(counter_deltas(high, one, 2, d), 0);
	assert_true(d[0] == 1 && d[1] == 10);
	assert_int_equal(counter_deltas(high, two, 2, d), -EAGAIN);
	assert_int_equal(counter_deltas(prev, reset, 3, d), -EAGAIN);
	assert_int_equal(counter_deltas(prev, up, 0, d), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_parse),
		cmocka_unit_test(test_counter_delta),
		cmocka_unit_test(test_counter_deltas),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
