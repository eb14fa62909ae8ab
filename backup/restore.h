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

/* What to do with a path that already exists in the destination (a
 * directory over a directory is always merged). */
enum restore_overwrite {
	RESTORE_OVERWRITE_ALWAYS = 0,	/* replace it */
	RESTORE_OVERWRITE_NEVER,	/* keep it, count it in kept */
	RESTORE_OVERWRITE_OLDER,	/* replace it only if its mtime is older
					 * than the snapshot's */
};

struct restore_opts {
	const char	*to;		/* existing directory */
	/* Only these archive paths and what is below them (leading '/'
	 * ignored); none: everything. */
	const char *const *paths;
	size_t		 npaths;
	int		 dry_run;	/* list, write nothing */
	const uint8_t	*key;		/* NULL: not encrypted */
	enum restore_overwrite overwrite;
	/* Called for each entry restored (or, in a dry run, that would be). */
	void		(*on_entry)(void *arg, const char *path);
	void		*arg;
};

struct restore_stats {
	uint64_t	 entries, files, bytes;
	uint64_t	 refused;	/* entries libarchive would not write */
	uint64_t	 mismatched;	/* content differs from the manifest */
	uint64_t	 kept;		/* existing paths left alone (overwrite) */
};

/*
 * Restores snapshot id from t. 0 when every selected entry was restored
 * and matched its manifest hash; -EBADMSG when the snapshot is damaged or
 * some content did not match, -EPERM when entries were refused (unsafe
 * paths), other -errno otherwise. Each problem is logged naming the file;
 * so is each existing path kept by o->overwrite (counted in stats->kept,
 * not an error: the caller decides). A dry run looks at the destination
 * too, when it exists, to name the paths it would keep.
 * Changes the working directory while it runs (libarchive extracts
 * relative to it), so it must not run on two threads at once.
 */
int	restore_snapshot(struct target *t, const char *id,
	    const struct restore_opts *o, struct restore_stats *stats);

#endif
