/* The delivery retry policy: Retry-After is a bounded 64-bit value (a
 * portal cannot stop delivery for good, nor overflow the delay), jitter
 * stays within half to all of the back-off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "reply.h"
#include "deliver.h"

static void
test_reply_retry_after(void **state)
{
	(void)state;
	assert_int_equal(reply_retry_after(-1), -1);
	assert_int_equal(reply_retry_after(0), 0);
	assert_int_equal(reply_retry_after(2), 2);
	assert_int_equal(reply_retry_after(3600), 3600);
	/* once truncated to an int: 1215752191 s, 38 years */
	assert_int_equal(reply_retry_after(99999999999LL),
	    REPLY_RETRY_AFTER_MAX);
	assert_int_equal(reply_retry_after(INT64_MAX), REPLY_RETRY_AFTER_MAX);
}

static void
test_retry_delay(void **state)
{
	const uint64_t s = 1000000;

	(void)state;
	/* jitter: half to all of the back-off */
	assert_int_equal(deliver_retry_delay(4 * s, -1, 0), 2 * s);
	assert_int_equal(deliver_retry_delay(4 * s, -1, 2 * s), 4 * s);
	/* Retry-After is a floor... */
	assert_int_equal(deliver_retry_delay(4 * s, 30, 0), 30 * s);
	assert_int_equal(deliver_retry_delay(4 * s, 1, 0), 2 * s);
	/* ...capped at an hour, whatever the child said */
	assert_int_equal(deliver_retry_delay(4 * s, 99999999999LL, 0),
	    (uint64_t)DELIVER_RETRY_AFTER_MAX * s);
	assert_int_equal(deliver_retry_delay(4 * s, INT64_MAX, 0),
	    (uint64_t)DELIVER_RETRY_AFTER_MAX * s);
	assert_int_equal(deliver_retry_delay(DELIVER_BACKOFF_MAX_USEC, -5, 0),
	    DELIVER_BACKOFF_MAX_USEC / 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_retry_after),
		cmocka_unit_test(test_retry_delay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
