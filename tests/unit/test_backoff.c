/*
 * backoff.c: the reconnect delays double from the minimum to the cap,
 * stay within [d/2, d] whatever the random word, never overflow at huge
 * attempt numbers, and take degenerate bounds sensibly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "backoff.h"

static void
test_doubles_to_cap(void **state)
{
	(void)state;
	/* rnd 0: the lower edge, d/2 rounded up. */
	assert_int_equal(backoff_delay(0, 1000, 60000, 0), 500);
	assert_int_equal(backoff_delay(1, 1000, 60000, 0), 1000);
	assert_int_equal(backoff_delay(2, 1000, 60000, 0), 2000);
	assert_int_equal(backoff_delay(5, 1000, 60000, 0), 16000);
	assert_int_equal(backoff_delay(6, 1000, 60000, 0), 30000);
	assert_int_equal(backoff_delay(7, 1000, 60000, 0), 30000);
	/* rnd at the top: the nominal delay itself. */
	assert_int_equal(backoff_delay(0, 1000, 60000, 500), 1000);
	assert_int_equal(backoff_delay(9, 1000, 60000, 30000), 60000);
	/* modulo (d/2 + 1): 501 wraps to 0. */
	assert_int_equal(backoff_delay(0, 1000, 60000, 501), 500);
}

static void
test_bounds(void **state)
{
	unsigned a;
	uint32_t r, d, nominal;

	(void)state;
	for (a = 0; a < 80; a++)
		for (r = 0; r < 4000000000u; r += 123456789u) {
			d = backoff_delay(a, 200, 5000, r);
			nominal = a >= 5 ? 5000 : 200u << a;
			if (nominal > 5000)
				nominal = 5000;
			assert_true(d >= nominal - nominal / 2);
			assert_true(d <= nominal);
		}
	/* No overflow at absurd attempts or bounds. */
	assert_int_equal(backoff_delay(1000, 1, UINT32_MAX, 0),
	    UINT32_MAX - UINT32_MAX / 2);
	assert_true(backoff_delay(31, 3, UINT32_MAX, UINT32_MAX) <=
	    UINT32_MAX);
}

static void
test_degenerate(void **state)
{
	(void)state;
	/* min 0 is 1 ms; max under min is min. */
	assert_int_equal(backoff_delay(0, 0, 0, 0), 1);
	assert_int_equal(backoff_delay(3, 800, 100, 0), 400);
	assert_int_equal(backoff_delay(3, 800, 100, 400), 800);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_doubles_to_cap),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_degenerate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
