/*
 * The archive's zstd compression, done on the writer thread (relay.c)
 * rather than in libarchive's filter: the reading thread then only reads,
 * hashes and makes tar headers, and one compression context costs a few
 * MiB where libarchive's multi-threaded filter held about 25. On more than
 * two cores zstd's own workers are added. The output is one standard zstd
 * frame, as before: `zstd -d | tar -x` reads it.
 */
#ifndef ZSTREAM_H
#define ZSTREAM_H

#include <stddef.h>

struct zstream;

/* Where compressed bytes go: 0 or -errno. */
typedef int (*zstream_sink_fn)(void *arg, const void *buf, size_t len);

/* level 1-19 (the config's bound; zstd clamps others); workers 0 =
 * compress in the calling thread. */
struct zstream *zstream_new(int level, int workers, zstream_sink_fn sink,
	    void *arg);
/* Compresses len bytes: 0, or the sink's error, or -EIO. */
int	zstream_write(struct zstream *z, const void *buf, size_t len);
/* Ends the frame and flushes it to the sink. */
int	zstream_finish(struct zstream *z);
void	zstream_free(struct zstream *z);

#endif
