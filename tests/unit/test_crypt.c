/*
 * crypt.c: round trips at chunk boundaries, and every kind of tampering the
 * target could do (a flipped byte anywhere, truncation at and between chunk
 * boundaries, chunks reordered or duplicated, a wrong key, an object
 * renamed) is refused with -EBADMSG. Also the key file.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypt.h"

#define CHUNK_CT	(CRYPT_CHUNK + 17)
#define HEAD		(8 + CRYPT_KEYIDBYTES + 24)

struct buf {
	uint8_t	*p;
	size_t	 len, pos;
};

static int
buf_sink(void *arg, const void *data, size_t len)
{
	struct buf *b = arg;

	b->p = realloc(b->p, b->len + len);
	assert_non_null(b->p);
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

/* Hands out odd-sized pieces, so the reader's reassembly is exercised. */
static ssize_t
buf_source(void *arg, void *data, size_t len)
{
	struct buf *b = arg;
	size_t	 n = b->len - b->pos;

	if (n > len)
		n = len;
	if (n > 7919)
		n = 7919;
	memcpy(data, b->p + b->pos, n);
	b->pos += n;
	return (ssize_t)n;
}

static void
encrypt(const uint8_t *key, const char *ad, const uint8_t *plain, size_t len,
    struct buf *out)
{
	struct crypt_writer *w;
	size_t	 i, n;

	memset(out, 0, sizeof(*out));
	assert_int_equal(crypt_writer_new(&w, key, ad, buf_sink, out), 0);
	/* Uneven writes, crossing chunk boundaries. */
	for (i = 0; i < len; i += n) {
		n = len - i < 10007 ? len - i : 10007;
		assert_int_equal(crypt_writer_write(w, plain + i, n), 0);
	}
	assert_int_equal(crypt_writer_finish(w), 0);
	crypt_writer_free(w);
}

/* Decrypts all of in; returns 0 and the plaintext, or the first error. */
static int
decrypt(const uint8_t *key, const char *ad, struct buf *in, uint8_t **out,
    size_t *outlen)
{
	struct crypt_reader *rd;
	uint8_t	 tmp[5000];
	ssize_t	 n;
	int	 r;

	in->pos = 0;
	*out = NULL;
	*outlen = 0;
	if ((r = crypt_reader_new(&rd, key, ad, buf_source, in)) != 0)
		return r;
	while ((n = crypt_reader_read(rd, tmp, sizeof(tmp))) > 0) {
		*out = realloc(*out, *outlen + (size_t)n);
		memcpy(*out + *outlen, tmp, (size_t)n);
		*outlen += (size_t)n;
	}
	crypt_reader_free(rd);
	if (n < 0) {
		free(*out);
		*out = NULL;
		return (int)n;
	}
	return 0;
}

static uint8_t *
pattern(size_t len)
{
	uint8_t	*p = malloc(len + 1);
	size_t	 i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 131 + (i >> 9));
	return p;
}

static void
test_roundtrip(void **state)
{
	static const size_t sizes[] = { 0, 1, CRYPT_CHUNK - 1, CRYPT_CHUNK,
	    CRYPT_CHUNK + 1, 3 * CRYPT_CHUNK, 3 * CRYPT_CHUNK + 12345 };
	uint8_t	 key[CRYPT_KEYBYTES], *plain, *out;
	struct buf ct;
	size_t	 i, outlen, chunks;

	(void)state;
	assert_int_equal(crypt_key_generate(key), 0);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		plain = pattern(sizes[i]);
		encrypt(key, "x.manifest.enc", plain, sizes[i], &ct);
		/* The framing of the spec: full chunks, then the last. */
		chunks = sizes[i] == 0 ? 1 :
		    (sizes[i] + CRYPT_CHUNK - 1) / CRYPT_CHUNK;
		if (ct.len != HEAD + sizes[i] + 17 * chunks)
			fail_msg("size %zu: %zu bytes of ciphertext", sizes[i],
			    ct.len);
		assert_memory_equal(ct.p, CRYPT_MAGIC, 8);
		assert_int_equal(decrypt(key, "x.manifest.enc", &ct, &out,
		    &outlen), 0);
		assert_int_equal(outlen, sizes[i]);
		if (outlen > 0)
			assert_memory_equal(out, plain, outlen);
		free(out);
		free(plain);
		free(ct.p);
	}
}

static void
expect_err(const uint8_t *key, const char *ad, struct buf *ct,
    const char *what, int want)
{
	uint8_t	*out;
	size_t	 outlen;
	int	 r;

	r = decrypt(key, ad, ct, &out, &outlen);
	if (r != want)
		fail_msg("%s: decrypt returned %d, expected %d", what, r, want);
}

static void
expect_bad(const uint8_t *key, const char *ad, struct buf *ct,
    const char *what)
{
	expect_err(key, ad, ct, what, -EBADMSG);
}

static void
test_tamper(void **state)
{
	uint8_t	 key[CRYPT_KEYBYTES], key2[CRYPT_KEYBYTES], *plain, save;
	struct buf ct, bad;
	size_t	 len = 3 * CRYPT_CHUNK + 500, off;
	char	 what[64];
	static const size_t flips[] = { 0, 7, HEAD - 24, HEAD - 1, HEAD,
	    HEAD + 1, HEAD + 100, HEAD + CHUNK_CT - 1, HEAD + CHUNK_CT,
	    HEAD + 3 * CHUNK_CT + 3 };

	(void)state;
	assert_int_equal(crypt_key_generate(key), 0);
	assert_int_equal(crypt_key_generate(key2), 0);
	plain = pattern(len);
	encrypt(key, "a.tar.zst.enc", plain, len, &ct);

	/* A flipped byte in the magic, header, any chunk, the last chunk. */
	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		off = flips[i] < ct.len ? flips[i] : ct.len - 1;
		save = ct.p[off];
		ct.p[off] ^= 0x01;
		snprintf(what, sizeof(what), "byte %zu flipped", off);
		expect_bad(key, "a.tar.zst.enc", &ct, what);
		ct.p[off] = save;
	}

	/* Truncated: at a chunk boundary (no FINAL), inside a chunk, one
	 * byte short, and just the header. */
	bad = ct;
	for (off = 0; off < 4; off++) {
		static const size_t cut[] = { HEAD + CHUNK_CT,
		    HEAD + 2 * CHUNK_CT + 99, 0, HEAD };
		bad.len = cut[off] ? cut[off] : ct.len - 1;
		snprintf(what, sizeof(what), "truncated to %zu", bad.len);
		expect_bad(key, "a.tar.zst.enc", &bad, what);
	}

	/* Bytes appended after the FINAL chunk. */
	bad.p = malloc(ct.len + 1);
	memcpy(bad.p, ct.p, ct.len);
	bad.p[ct.len] = 0;
	bad.len = ct.len + 1;
	expect_bad(key, "a.tar.zst.enc", &bad, "a byte appended");

	/* Chunks 0 and 1 swapped; chunk 0 duplicated over chunk 1. */
	memcpy(bad.p, ct.p, ct.len);
	bad.len = ct.len;
	memcpy(bad.p + HEAD, ct.p + HEAD + CHUNK_CT, CHUNK_CT);
	memcpy(bad.p + HEAD + CHUNK_CT, ct.p + HEAD, CHUNK_CT);
	expect_bad(key, "a.tar.zst.enc", &bad, "chunks 0 and 1 swapped");
	memcpy(bad.p + HEAD, ct.p + HEAD, CHUNK_CT);
	memcpy(bad.p + HEAD + CHUNK_CT, ct.p + HEAD, CHUNK_CT);
	expect_bad(key, "a.tar.zst.enc", &bad, "chunk 0 duplicated");
	/* A chunk dropped: the stream closes up but the chain breaks. */
	memcpy(bad.p, ct.p, HEAD + CHUNK_CT);
	memcpy(bad.p + HEAD + CHUNK_CT, ct.p + HEAD + 2 * CHUNK_CT,
	    ct.len - HEAD - 2 * CHUNK_CT);
	bad.len = ct.len - CHUNK_CT;
	expect_bad(key, "a.tar.zst.enc", &bad, "chunk 1 dropped");
	free(bad.p);

	/* A wrong key is told by the key id (another job's object);
	 * so is a key id changed. The right key but another object's
	 * name. */
	expect_err(key2, "a.tar.zst.enc", &ct, "wrong key", -ENOKEY);
	for (off = 8; off < 8 + CRYPT_KEYIDBYTES; off += CRYPT_KEYIDBYTES - 1) {
		ct.p[off] ^= 0x01;
		snprintf(what, sizeof(what), "key id byte %zu flipped", off);
		expect_err(key, "a.tar.zst.enc", &ct, what, -ENOKEY);
		ct.p[off] ^= 0x01;
	}
	expect_bad(key, "b.tar.zst.enc", &ct, "object renamed");

	/* The development format without a key id is refused. */
	bad.len = ct.len - CRYPT_KEYIDBYTES;
	bad.p = malloc(bad.len);
	memcpy(bad.p, "AGDBENC1", 8);
	memcpy(bad.p + 8, ct.p + 8 + CRYPT_KEYIDBYTES, bad.len - 8);
	expect_bad(key, "a.tar.zst.enc", &bad, "the AGDBENC1 layout");
	free(bad.p);

	free(plain);
	free(ct.p);
}

static void
test_keyfile(void **state)
{
	uint8_t	 key[CRYPT_KEYBYTES], back[CRYPT_KEYBYTES];
	char	 path[] = "/tmp/test_crypt.XXXXXX", file[64];
	struct stat st;
	FILE	*f;

	(void)state;
	assert_non_null(mkdtemp(path));
	snprintf(file, sizeof(file), "%s/key", path);
	assert_int_equal(crypt_key_generate(key), 0);
	assert_int_equal(crypt_key_save(file, key), 0);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(crypt_key_load(file, back), 0);
	assert_memory_equal(key, back, sizeof(key));

	f = fopen(file, "w");
	fputs("agentd-backup-key 1 00112233\n", f);
	fclose(f);
	assert_int_equal(crypt_key_load(file, back), -EINVAL);
	unlink(file);
	assert_int_equal(crypt_key_load(file, back), -ENOENT);
	rmdir(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_keyfile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
