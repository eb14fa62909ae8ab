#include <errno.h>
#include <stdlib.h>

#include <zstd.h>

#include "log.h"
#include "xmalloc.h"
#include "zstream.h"

struct zstream {
	ZSTD_CCtx	*cctx;
	zstream_sink_fn	 sink;
	void		*arg;
	void		*out;
	size_t		 outcap;
};

struct zstream *
zstream_new(int level, int workers, zstream_sink_fn sink, void *arg)
{
	struct zstream *z = xcalloc(1, sizeof(*z));

	if ((z->cctx = ZSTD_createCCtx()) == NULL ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(z->cctx,
	    ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_checksumFlag,
	    1)))
		fatalx("zstd: cannot make a compression context");
	/* A zstd built without threads refuses workers: one thread then. */
	if (workers > 0 && ZSTD_isError(ZSTD_CCtx_setParameter(z->cctx,
	    ZSTD_c_nbWorkers, workers)))
		log_debug("zstd workers: not supported, compressing in one "
		    "thread");
	z->sink = sink;
	z->arg = arg;
	z->outcap = ZSTD_CStreamOutSize();
	z->out = xcalloc(1, z->outcap);
	return z;
}

/* Runs the compressor over in with the given directive, passing every
 * output buffer on; for ZSTD_e_end, until the frame is complete. */
static int
zstream_run(struct zstream *z, ZSTD_inBuffer *in, ZSTD_EndDirective end)
{
	ZSTD_outBuffer o;
	size_t	 left;
	int	 r;

	do {
		o.dst = z->out;
		o.size = z->outcap;
		o.pos = 0;
		left = ZSTD_compressStream2(z->cctx, &o, in, end);
		if (ZSTD_isError(left)) {
			log_warnx("zstd: %s", ZSTD_getErrorName(left));
			return -EIO;
		}
		if (o.pos > 0 && (r = z->sink(z->arg, z->out, o.pos)) != 0)
			return r;
	} while (end == ZSTD_e_end ? left != 0 : in->pos < in->size);
	return 0;
}

int
zstream_write(struct zstream *z, const void *buf, size_t len)
{
	ZSTD_inBuffer in = { buf, len, 0 };

	return zstream_run(z, &in, ZSTD_e_continue);
}

int
zstream_finish(struct zstream *z)
{
	ZSTD_inBuffer in = { NULL, 0, 0 };

	return zstream_run(z, &in, ZSTD_e_end);
}

void
zstream_free(struct zstream *z)
{
	if (z == NULL)
		return;
	ZSTD_freeCCtx(z->cctx);
	free(z->out);
	free(z);
}
