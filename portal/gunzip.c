/*
 * Streaming inflate into a buffer that grows as output arrives and never
 * past the caller's bound, so a small body cannot expand into gigabytes.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include <zlib.h>

#include "gunzip.h"
#include "xmalloc.h"

int
gunzip_bounded(const void *in, size_t inlen, size_t max, char **out,
    size_t *outlen)
{
	z_stream z = { 0 };
	char *buf = NULL;
	size_t cap, len = 0;
	int r, zr, init = 0;

	*out = NULL;
	*outlen = 0;
	if (inlen > UINT_MAX)
		return -E2BIG;
	/* 16 + MAX_WBITS: gzip wrapper only, no raw or zlib streams. */
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return -ENOMEM;
	init = 1;
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)inlen;
	cap = inlen * 4 < 64 * 1024 ? 64 * 1024 : inlen * 4;
	if (cap > max)
		cap = max;
	buf = xcalloc(1, cap + 1);
	for (;;) {
		if (len == cap) {
			if (cap >= max) {
				/* Full: one more byte of output means too big. */
				char probe;

				z.next_out = (Bytef *)&probe;
				z.avail_out = 1;
				zr = inflate(&z, Z_NO_FLUSH);
				if (zr == Z_STREAM_END && z.avail_out == 1)
					break;
				r = (zr == Z_OK || zr == Z_STREAM_END) ?
				    -E2BIG : -EINVAL;
				goto out;
			}
			cap = cap * 2 > max ? max : cap * 2;
			buf = xreallocarray(buf, cap + 1, 1);
		}
		z.next_out = (Bytef *)buf + len;
		z.avail_out = (uInt)(cap - len);
		zr = inflate(&z, Z_NO_FLUSH);
		len = cap - z.avail_out;
		if (zr == Z_STREAM_END)
			break;
		if (zr == Z_BUF_ERROR && z.avail_in == 0) {
			r = -EINVAL;	/* truncated */
			goto out;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			r = zr == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
			goto out;
		}
	}
	if (z.avail_in != 0) {
		r = -EINVAL;	/* trailing bytes or a second member */
		goto out;
	}
	buf[len] = '\0';
	*out = buf;
	buf = NULL;	/* transferred */
	*outlen = len;
	r = 0;
out:
	if (init)
		inflateEnd(&z);
	free(buf);
	return r;
}
