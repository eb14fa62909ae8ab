/*
 * addr.c: HOST:PORT and [V6]:PORT split; every malformed shape refused
 * (no port, port 0 or over 65535, signs and blanks, stray colons or
 * brackets, an empty host) and parts that do not fit reported.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "addr.h"

static void
test_ok(void **state)
{
	char h[64], p[8];

	(void)state;
	assert_int_equal(addr_split("127.0.0.1:22", h, sizeof(h), p,
	    sizeof(p)), 0);
	assert_string_equal(h, "127.0.0.1");
	assert_string_equal(p, "22");
	assert_int_equal(addr_split("bastion.example.net:65535", h,
	    sizeof(h), p, sizeof(p)), 0);
	assert_string_equal(h, "bastion.example.net");
	assert_string_equal(p, "65535");
	assert_int_equal(addr_split("[::1]:2222", h, sizeof(h), p,
	    sizeof(p)), 0);
	assert_string_equal(h, "::1");
	assert_string_equal(p, "2222");
}

static void
test_bad(void **state)
{
	static const char *bad[] = {
		"", "host", "host:", ":22", "host:0", "host:65536",
		"host:123456", "host:+22", "host:2 2", "host:-1", "::1:22",
		"[::1]22", "[::1]:", "[]:22", "[::1:22", "ho st:22",
		"host:22:", "a/b:22", "host]:22",
	};
	char h[64], p[8];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(addr_split(bad[i], h, sizeof(h), p,
		    sizeof(p)), -EINVAL);
		assert_string_equal(h, "");
		assert_string_equal(p, "");
	}
	assert_int_equal(addr_split(NULL, h, sizeof(h), p, sizeof(p)),
	    -EINVAL);
}

static void
test_too_long(void **state)
{
	char h[4], p[8];

	(void)state;
	assert_int_equal(addr_split("abcd:22", h, sizeof(h), p, sizeof(p)),
	    -ENAMETOOLONG);
	assert_int_equal(addr_split("abc:22", h, sizeof(h), p, sizeof(p)), 0);
	assert_int_equal(addr_split("abc:22", h, sizeof(h), p, 2),
	    -ENAMETOOLONG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
