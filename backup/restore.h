/*
 * Restore: extracts a snapshot into a directory with libarchive's SECURE_*
 * checks, numeric owners, and every regular file's content re-hashed
 * against the manifest.
 */
#ifndef RESTORE_H
#define RESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "target.h"

struct restore_opts {
	const char	*to;		/* existing directory */
	/* Only these archive paths and what is below them (leading '/'
	 * ignored); none: everything. */
	const char *const *paths;
	size_t		 npaths;
	int		 dry_run;	/* list, write nothing */
	const uint8_t	*key;		/* NULL: not encrypted */
	/* Called for each entry restored (or, in a dry run, that would be). */
	void		(*on_entry)(void *arg, const char *path);
	void		*arg;
};

struct restore_stats {
	uint64_t	 entries, files, bytes;
	uint64_t	 refused;	/* entries libarchive would not write */
	uint64_t	 mismatched;	/* content differs from the manifest */
};

/*
 * Restores snapshot id from t. 0 when every selected entry was restored
 * and matched its manifest hash; -EBADMSG when the snapshot is damaged or
 * some content did not match, -EPERM when entries were refused (unsafe
 * paths), other -errno otherwise. Each problem is logged naming the file.
 * Changes the working directory while it runs (libarchive extracts
 * relative to it), so it must not run on two threads at once.
 */
int	restore_snapshot(struct target *t, const char *id,
	    const struct restore_opts *o, struct restore_stats *stats);

#endif
