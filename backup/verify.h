/*
 * Verify: re-reads a snapshot from its target, decrypts it, re-hashes
 * every file and compares with the manifest, naming every bad file.
 */
#ifndef VERIFY_H
#define VERIFY_H

#include <stdint.h>

#include "target.h"

struct verify_stats {
	uint64_t	 entries, files, bytes, bad;
};

/* Called once per problem: the file (or object) and what is wrong. */
typedef void	(*verify_bad_fn)(void *arg, const char *path, const char *why);

/* 0 when the snapshot is intact; -EBADMSG when anything is bad (each
 * reported through bad); other -errno when it could not be read at all. */
int	verify_snapshot(struct target *t, const char *id, const uint8_t *key,
	    verify_bad_fn bad, void *arg, struct verify_stats *stats);

#endif
