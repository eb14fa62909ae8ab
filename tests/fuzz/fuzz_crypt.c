/*
 * libFuzzer target: an encrypted object read back from the target
 * (crypt_reader: the magic of either format, the key id, the chunks). The
 * input is read as an object under a fixed key and must be refused or
 * read without harm; it is also encrypted under that key and must read
 * back to the same bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "crypt.h"

#define FZ_AD	"20261125T165500Z-1a2b3c4d.manifest.enc"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_buf {
	uint8_t	*p;
	size_t	 len, pos, cap;
};

static ssize_t
fz_source(void *arg, void *buf, size_t len)
{
	struct fz_buf *b = arg;
	size_t	 n = b->len - b->pos;

	/* Short reads, as a network target gives them. */
	if (n > len)
		n = len;
	if (n > 7000)
		n = 7000;
	memcpy(buf, b->p + b->pos, n);
	b->pos += n;
	return (ssize_t)n;
}

static int
fz_sink(void *arg, const void *buf, size_t len)
{
	struct fz_buf *b = arg;

	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2;
		if ((b->p = realloc(b->p, b->cap)) == NULL)
			abort();
	}
	memcpy(b->p + b->len, buf, len);
	b->len += len;
	return 0;
}

/* Reads all of in; the plaintext into out (if not NULL). 0 or -errno. */
static int
fz_read(const uint8_t *key, struct fz_buf *in, struct fz_buf *out)
{
	struct crypt_reader *rd;
	uint8_t	 tmp[5000];
	ssize_t	 n;
	int	 r;

	in->pos = 0;
	if ((r = crypt_reader_new(&rd, key, FZ_AD, fz_source, in)) != 0)
		return r;
	while ((n = crypt_reader_read(rd, tmp, sizeof(tmp))) > 0)
		if (out != NULL)
			fz_sink(out, tmp, (size_t)n);
	crypt_reader_free(rd);
	return n < 0 ? (int)n : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t key[CRYPT_KEYBYTES];
	struct fz_buf raw = { (uint8_t *)(uintptr_t)data, size, 0, size };
	struct fz_buf ct = { 0 }, pt = { 0 };
	struct crypt_writer *w;

	memset(key, 0x5a, sizeof(key));
	(void)fz_read(key, &raw, NULL);

	if (crypt_writer_new(&w, key, FZ_AD, fz_sink, &ct) != 0 ||
	    crypt_writer_write(w, data, size) != 0 ||
	    crypt_writer_finish(w) != 0)
		abort();
	crypt_writer_free(w);
	if (fz_read(key, &ct, &pt) != 0 || pt.len != size ||
	    (size > 0 && memcmp(pt.p, data, size) != 0))
		abort();
	free(ct.p);
	free(pt.p);
	return 0;
}
