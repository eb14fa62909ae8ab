/*
 * relay.c: every byte reaches fn once, in order, whatever the sizes of the
 * writes; a failing fn is told to the writer, nothing reaches fn after
 * it, and finish returns it; a slow fn holds the writer back (bounded
 * memory) instead of losing bytes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "relay.h"

struct sinkrec {
	unsigned char	*got;
	size_t		 len, cap;
	size_t		 calls;
	size_t		 fail_at;	/* fail the Nth call (1-based); 0 never */
	size_t		 after_fail;	/* calls after the failure */
	int		 failed;
	int		 slow;
};

static int
record(void *arg, const void *buf, size_t len)
{
	struct sinkrec *s = arg;

	if (s->failed)
		s->after_fail++;
	if (++s->calls == s->fail_at) {
		s->failed = 1;
		return -ENOSPC;
	}
	if (s->slow) {
		struct timespec ts = { 0, 2000000 };

		nanosleep(&ts, NULL);
	}
	assert_true(len > 0 && len <= RELAY_CHUNK);
	assert_true(s->len + len <= s->cap);
	memcpy(s->got + s->len, buf, len);
	s->len += len;
	return 0;
}

static unsigned char *
pattern(size_t n)
{
	unsigned char *p = malloc(n);
	size_t	 i;

	assert_non_null(p);
	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 131 + (i >> 11));
	return p;
}

static void
test_order(void **state)
{
	size_t	 n = 5 * RELAY_CHUNK + 12345, off = 0, k, step = 1;
	unsigned char *src = pattern(n);
	struct sinkrec s = { .cap = n };
	struct relay *r;

	(void)state;
	s.got = malloc(n);
	assert_non_null(r = relay_start(record, &s));
	/* Writes of 1 byte to over two chunks, crossing every boundary. */
	while (off < n) {
		k = step < n - off ? step : n - off;
		assert_int_equal(relay_write(r, src + off, k), 0);
		off += k;
		step = step * 7 % (2 * RELAY_CHUNK + 3) + 1;
	}
	assert_int_equal(relay_finish(r), 0);
	assert_int_equal(s.len, n);
	assert_memory_equal(s.got, src, n);
	free(src);
	free(s.got);
}

static void
test_error(void **state)
{
	size_t	 n = 40 * RELAY_CHUNK, off, seen = 0;
	unsigned char *src = pattern(RELAY_CHUNK);
	struct sinkrec s = { .cap = n, .fail_at = 2 };
	struct relay *r;
	int	 e = 0;

	(void)state;
	s.got = malloc(n);
	assert_non_null(r = relay_start(record, &s));
	for (off = 0; off < n && e == 0; off += RELAY_CHUNK / 2) {
		e = relay_write(r, src, RELAY_CHUNK / 2);
		seen++;
	}
	/* Told within the chunks in flight, not at the end. */
	assert_int_equal(e, -ENOSPC);
	assert_true(seen < 2 * (RELAY_DEPTH + 3));
	assert_int_equal(relay_finish(r), -ENOSPC);
	assert_int_equal(s.after_fail, 0);
	assert_int_equal(s.len, RELAY_CHUNK);
	free(src);
	free(s.got);
}

static void
test_slow_and_empty(void **state)
{
	size_t	 n = 3 * RELAY_DEPTH * RELAY_CHUNK + 1;
	unsigned char *src = pattern(n);
	struct sinkrec s = { .cap = n, .slow = 1 };
	struct relay *r;

	(void)state;
	s.got = malloc(n);
	assert_non_null(r = relay_start(record, &s));
	assert_int_equal(relay_write(r, src, n), 0);
	assert_int_equal(relay_finish(r), 0);
	assert_int_equal(s.len, n);
	assert_memory_equal(s.got, src, n);
	free(s.got);
	/* Nothing written: fn is never called. */
	memset(&s, 0, sizeof(s));
	assert_non_null(r = relay_start(record, &s));
	assert_int_equal(relay_finish(r), 0);
	assert_int_equal(s.calls, 0);
	free(src);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_error),
		cmocka_unit_test(test_slow_and_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
