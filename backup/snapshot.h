/*
 * Snapshots: the writer walks the job's paths into a pax+zstd archive and
 * a manifest on a target, hashing each file as its bytes go into the
 * archive; the reading side opens a snapshot's archive and manifest
 * (decrypting when a key is given) for restore and verify.
 */
#ifndef SNAPSHOT_H
#define SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "manifest.h"
#include "target.h"

struct archive;
struct snapshot_source;
struct snapshot_stats;

/* Upper bound for a manifest read back from a target. */
#define SNAPSHOT_MANIFEST_MAX	(1024UL * 1024 * 1024)

struct snapshot_opts {
	const char *const *paths;	/* absolute or relative, as given */
	size_t		 npaths;
	/* A glob with a '/' matches the whole path, one without matches
	 * the last component; an excluded directory is not entered. */
	const char *const *excludes;
	size_t		 nexcludes;
	int		 one_file_system;
	int		 compression;	/* zstd level, 1..19 */
	int		 threads;	/* zstd workers, 0 = cores - 2 */
	const uint8_t	*key;		/* NULL: not encrypted */
	/* An incremental on top of this snapshot of the same target: a
	 * regular file unchanged since it (type, size, mtime and ctime to
	 * the ns, inode, dev; not hard-linked) is recorded "in parent" and
	 * not stored again. NULL: a full snapshot. */
	const char	*parent;
	const char	*job;		/* recorded in the manifest; may be NULL */
	/* Called after each entry with the counts so far (agentd-backup's
	 * progress frames); NULL for none. */
	void		(*progress)(const struct snapshot_stats *, void *);
	void		*progress_arg;
};

struct snapshot_stats {
	char		 id[MANIFEST_ID_MAX];
	/* files and bytes: every regular file of the snapshot; unchanged:
	 * those of them only recorded "in parent". */
	uint64_t	 entries, files, bytes, stored_bytes, unchanged;
	uint64_t	 unreadable, changed;
	int		 partial;
};

/*
 * Writes a new snapshot to t. 0 when it is complete (stats->partial tells
 * whether some files could not be read), or -errno when no snapshot was
 * made (nothing of it is left under a final name). Problems with single
 * files are logged naming the file.
 */
int	snapshot_create(struct target *t, const struct snapshot_opts *o,
	    struct snapshot_stats *stats);

/* Reads only the header of a snapshot's manifest (its first 64 KiB). */
int	snapshot_load_header(struct target *t, const char *id,
	    const uint8_t *key, struct manifest *m);

/*
 * Loads the manifests of id and its ancestors, id first, up to and
 * including the full one, into *chain (*n of them; free each and the
 * array). -EBADMSG when the chain is broken (a parent missing, a loop,
 * longer than SNAPSHOT_CHAIN_MAX).
 */
#define SNAPSHOT_CHAIN_MAX	1000
int	snapshot_load_chain(struct target *t, const char *id,
	    const uint8_t *key, struct manifest **chain, size_t *n);
void	snapshot_chain_free(struct manifest *chain, size_t n);

/* "ID.manifest[.enc]" or "ID.tar.zst[.enc]" into buf. */
void	snapshot_object_name(char *buf, size_t len, const char *id,
	    int manifest, int encrypted);

/* Reads and parses a snapshot's manifest. -EBADMSG when it was tampered
 * with, truncated or malformed, -ENOENT when it does not exist. */
int	snapshot_load_manifest(struct target *t, const char *id,
	    const uint8_t *key, struct manifest *m);

/* An archive reader on the snapshot's archive, ready for
 * archive_read_next_header; its errors name the object. Closed with
 * snapshot_archive_close. */
int	snapshot_archive_open(struct target *t, const char *id,
	    const uint8_t *key, struct archive **ar,
	    struct snapshot_source **src);
void	snapshot_archive_close(struct archive *ar, struct snapshot_source *src);
/* The first error of the source under the archive (-EBADMSG: tampered),
 * 0 if none. */
int	snapshot_source_error(const struct snapshot_source *src);

#endif
