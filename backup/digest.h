/*
 * SHA-256 of a file's data as the manifest records it (docs/backup-format.md):
 * the bytes in order with every hole read as zeros. Nettle's SHA-256 uses
 * the CPU's SHA extensions where there are some (about 4x libsodium's
 * portable one here), and libarchive already links it.
 */
#ifndef DIGEST_H
#define DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include <nettle/sha2.h>

#define DIGEST_SIZE	SHA256_DIGEST_SIZE

struct digest {
	struct sha256_ctx ctx;
	uint64_t	 pos;		/* bytes hashed so far */
};

void	digest_init(struct digest *);
/* Hashes a block that starts at off, zeros first for a hole before it. */
void	digest_block(struct digest *, const void *buf, size_t len,
	    uint64_t off);
/* Pads with zeros up to size (a hole at the end, a file that shrank). */
void	digest_final(struct digest *, uint64_t size, uint8_t out[DIGEST_SIZE]);

#endif
