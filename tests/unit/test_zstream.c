/*
 * zstream.c: what goes in in any pieces comes out as one zstd frame that
 * decodes to the same bytes (with its checksum); a sink's error is
 * returned.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zstd.h>

#include "zstream.h"

struct out {
	unsigned char	*p;
	size_t		 len, cap;
	int		 fail_after;	/* calls; 0 never */
	int		 calls;
};

static int
collect(void *arg, const void *buf, size_t len)
{
	struct out *o = arg;

	if (o->fail_after && ++o->calls > o->fail_after)
		return -ENOSPC;
	if (o->len + len > o->cap) {
		o->cap = (o->len + len) * 2;
		o->p = realloc(o->p, o->cap);
		assert_non_null(o->p);
	}
	memcpy(o->p + o->len, buf, len);
	o->len += len;
	return 0;
}

static unsigned char *
sample(size_t n)
{
	unsigned char *p = malloc(n);
	uint32_t x = 1;
	size_t	 i;

	assert_non_null(p);
	for (i = 0; i < n; i++) {
		/* Half text-like, half noise: both paths of the encoder. */
		x = x * 1103515245 + 12345;
		p[i] = (i / 65536) % 2 ? (unsigned char)(x >> 16) :
		    (unsigned char)("backup manifest "[i % 16]);
	}
	return p;
}

static void
roundtrip(int workers)
{
	size_t	 n = 3 * 1024 * 1024 + 17, off = 0, k = 1;
	unsigned char *in = sample(n), *back = malloc(n);
	struct out o = { 0 };
	struct zstream *z;

	assert_non_null(z = zstream_new(3, workers, collect, &o));
	while (off < n) {
		if (k > n - off)
			k = n - off;
		assert_int_equal(zstream_write(z, in + off, k), 0);
		off += k;
		k = k * 3 % 200003 + 1;
	}
	assert_int_equal(zstream_finish(z), 0);
	zstream_free(z);
	assert_int_equal(ZSTD_getFrameContentSize(o.p, o.len),
	    ZSTD_CONTENTSIZE_UNKNOWN);
	assert_int_equal(ZSTD_findFrameCompressedSize(o.p, o.len), o.len);
	assert_int_equal(ZSTD_decompress(back, n, o.p, o.len), n);
	assert_memory_equal(back, in, n);
	assert_true(o.len < n);
	/* A flipped byte fails the frame's checksum (or its structure). */
	o.p[o.len / 2] ^= 0x40;
	assert_true(ZSTD_isError(ZSTD_decompress(back, n, o.p, o.len)));
	free(in);
	free(back);
	free(o.p);
}

static void
test_roundtrip(void **state)
{
	(void)state;
	roundtrip(0);
	roundtrip(2);
}

static void
test_errors(void **state)
{
	unsigned char *in = sample(1024 * 1024);
	struct out o = { .fail_after = 1 };
	struct zstream *z;
	int	 r = 0, i;

	(void)state;
	assert_non_null(z = zstream_new(1, 0, collect, &o));
	for (i = 0; i < 16 && r == 0; i++)
		r = zstream_write(z, in, 1024 * 1024);
	if (r == 0)
		r = zstream_finish(z);
	assert_int_equal(r, -ENOSPC);
	zstream_free(z);
	free(in);
	free(o.p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
