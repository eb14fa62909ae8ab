#include "digest.h"

static void
digest_zeros(struct digest *d, uint64_t n)
{
	static const uint8_t zeros[65536];
	size_t	 k;

	while (n > 0) {
		k = n > sizeof(zeros) ? sizeof(zeros) : (size_t)n;
		sha256_update(&d->ctx, k, zeros);
		n -= k;
	}
}

void
digest_init(struct digest *d)
{
	sha256_init(&d->ctx);
	d->pos = 0;
}

void
digest_block(struct digest *d, const void *buf, size_t len, uint64_t off)
{
	if (off > d->pos)
		digest_zeros(d, off - d->pos);
	sha256_update(&d->ctx, len, buf);
	d->pos = off + len;
}

void
digest_final(struct digest *d, uint64_t size, uint8_t out[DIGEST_SIZE])
{
	if (size > d->pos)
		digest_zeros(d, size - d->pos);
	sha256_digest(&d->ctx, DIGEST_SIZE, out);
}
