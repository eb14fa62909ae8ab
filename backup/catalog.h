/*
 * The catalog: which snapshots a target holds, built from their manifests'
 * headers every time (there is no catalog object on the target to go stale
 * or be tampered with separately; each header is the first chunk of an
 * authenticated manifest).
 */
#ifndef CATALOG_H
#define CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "target.h"

struct catalog_entry {
	char		 id[MANIFEST_ID_MAX];
	char		 job[MANIFEST_ID_MAX];		/* "" when unnamed */
	int		 incremental;
	char		 parent[MANIFEST_ID_MAX];	/* "" for a full */
	int64_t		 started, finished;	/* Unix seconds; finished 0:
						 * not recorded */
	uint64_t	 files, bytes, stored_bytes;
	int		 partial;
};

struct catalog {
	struct catalog_entry *entries;	/* oldest first (ids sort by time) */
	size_t		 n;
	size_t		 unreadable;	/* manifests that could not be read */
	size_t		 foreign;	/* encrypted under another key */
};

/*
 * The snapshots on t of job (NULL: every job) with the encryption given by
 * key (NULL: the unencrypted ones). A manifest that cannot be read or
 * authenticated is logged, counted in unreadable and left out; one that
 * names another key (another job's on a shared target) is only counted
 * in foreign and left out. 0 or
 * -errno when the target could not be listed; c is then empty.
 */
int	catalog_load(struct target *t, const uint8_t *key, const char *job,
	    struct catalog *c);
void	catalog_free(struct catalog *c);
/* Appends a copy of e (tests and callers that build one by hand). */
void	catalog_add(struct catalog *c, const struct catalog_entry *e);
const struct catalog_entry *catalog_find(const struct catalog *c,
	    const char *id);
/* The newest snapshot, or NULL: the parent of the next incremental. */
const struct catalog_entry *catalog_latest(const struct catalog *c);
/* Snapshots in id's chain, id included, or 0 when it is broken. */
size_t	catalog_chain_length(const struct catalog *c, const char *id);

#endif
