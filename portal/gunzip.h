/* Bounded gzip decoding of request bodies (Content-Encoding: gzip). */
#ifndef GUNZIP_H
#define GUNZIP_H

#include <stddef.h>

/*
 * Inflates the single gzip member in[0..inlen) into *out (NUL-terminated,
 * caller frees), at most max bytes. Returns 0, -E2BIG when the output
 * would exceed max (a zip bomb stops there, having used at most max bytes)
 * or -EINVAL for a corrupt, truncated or trailing-garbage stream.
 */
int	gunzip_bounded(const void *in, size_t inlen, size_t max, char **out,
	    size_t *outlen);

#endif
