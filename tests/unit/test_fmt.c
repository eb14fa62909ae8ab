/*
 * fmt.c: byte counts for people, at and around each unit boundary, and
 * into a buffer too small for the text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fmt.h"

struct bytes_case {
	double		 bytes;
	const char	*want;
};

static const struct bytes_case cases[] = {
	{ 0, "0 B" },
	{ 1, "1 B" },
	{ 1023, "1023 B" },
	{ 1024, "1.0 KiB" },
	{ 1536, "1.5 KiB" },
	{ 1024.0 * 1024, "1.0 MiB" },
	{ 23.5 * 1024 * 1024 * 1024, "23.5 GiB" },
	{ 2.0 * 1024 * 1024 * 1024 * 1024, "2.0 TiB" },
	{ 1024.0 * 1024 * 1024 * 1024 * 1024, "1.0 PiB" },
	{ 1024.0 * 1024 * 1024 * 1024 * 1024 * 1024, "1.0 EiB" },
	/* EiB is the largest unit: bigger numbers stay in it. */
	{ 2048.0 * 1024 * 1024 * 1024 * 1024 * 1024 * 1024, "2048.0 EiB" },
};

static void
test_fmt_bytes(void **state)
{
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fmt_bytes(cases[i].bytes, buf, sizeof(buf));
		if (strcmp(buf, cases[i].want) != 0)
			fail_msg("%.17g bytes: got '%s', want '%s'",
			    cases[i].bytes, buf, cases[i].want);
	}
}

static void
test_fmt_bytes_small_buffer(void **state)
{
	char buf[5];

	(void)state;
	/* Cut to fit and still terminated. */
	fmt_bytes(1536, buf, sizeof(buf));
	assert_string_equal(buf, "1.5 ");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fmt_bytes),
		cmocka_unit_test(test_fmt_bytes_small_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
