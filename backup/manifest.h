/*
 * The manifest of a snapshot (docs/backup-format.md, "The manifest"): one
 * entry per archived path with its metadata and content hash, formatted as
 * escaped text and parsed back with hard bounds, since a manifest comes
 * from the target.
 */
#ifndef MANIFEST_H
#define MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MANIFEST_MAX_LINE	262144
#define MANIFEST_MAX_PATH	65536
#define MANIFEST_MAX_DEPTH	8192
#define MANIFEST_MAX_ENTRIES	100000000UL
#define MANIFEST_ID_MAX		64

/* Entry flags. */
#define MANIFEST_CHANGED	0x1	/* changed while it was read */
#define MANIFEST_UNREADABLE	0x2	/* could not be read */
#define MANIFEST_SPARSE		0x4
/* Unchanged since the parent: its bytes are in an ancestor's archive. */
#define MANIFEST_INPARENT	0x8

/* In the order that packs it: a manifest holds one per file. */
struct manifest_entry {
	char		*path;
	char		*uname, *gname;	/* NULL when unknown */
	char		*link;		/* NULL unless l or h */
	uint64_t	 size;
	uint64_t	 dev, ino, nlink;
	int64_t		 mtime_sec, ctime_sec;
	long		 mtime_nsec, ctime_nsec;
	uint32_t	 mode;
	uint32_t	 uid, gid;
	uint32_t	 rdev_major, rdev_minor;
	uint32_t	 flags;
	uint8_t		 sha256[32];
	char		 type;		/* f d l h c b p s */
	uint8_t		 has_rdev;
	uint8_t		 has_sha256;
};

#define MANIFEST_NAMES	64	/* user and group names stored once */

struct manifest_block;

struct manifest {
	char		 id[MANIFEST_ID_MAX];
	int64_t		 created;
	int		 partial;
	int		 incremental;	/* kind: 0 full, 1 incremental */
	char		 parent[MANIFEST_ID_MAX];	/* "" for a full */
	char		 job[MANIFEST_ID_MAX];		/* "" when unnamed */
	int64_t		 finished;	/* 0 when not recorded */
	/* Regular files and their bytes in the snapshot (stored here or in
	 * an ancestor), bytes of this snapshot's archive object. */
	uint64_t	 files, bytes, stored;
	struct manifest_entry *entries;
	size_t		 n, cap;
	size_t		*sorted;	/* index by path, built by find */
	/* The entries' strings: in blocks, freed with the manifest (a
	 * malloc per string cost a third of the memory). */
	struct manifest_block *pool;
	char		*names[MANIFEST_NAMES];
	size_t		 nnames;
};

/* Where formatted text goes: 0 or -errno. */
typedef int	(*manifest_sink_fn)(void *arg, const void *buf, size_t len);

void	manifest_init(struct manifest *m);
void	manifest_free(struct manifest *m);
/* Appends a copy of e (its strings copied into m); returns the new entry. */
struct manifest_entry *manifest_add(struct manifest *m,
	    const struct manifest_entry *e);
int	manifest_format(const struct manifest *m, manifest_sink_fn sink,
	    void *arg);
/* Parses len bytes into m (initialised here). 0, or -EBADMSG for anything
 * malformed or over a bound; m is then empty. */
int	manifest_parse(struct manifest *m, const char *buf, size_t len);
/* Only the header lines (up to the first entry): what a catalog needs,
 * from the first bytes of a manifest (buf may end anywhere after the
 * header). No entries are kept. 0 or -EBADMSG. */
int	manifest_parse_header(struct manifest *m, const char *buf, size_t len);
/* A snapshot id or job name: [A-Za-z0-9._-], 1 to MANIFEST_ID_MAX - 1. */
int	manifest_name_valid(const char *s, size_t len);
/* The entry for path, or NULL. The first call sorts an index. */
const struct manifest_entry *manifest_find(struct manifest *m,
	    const char *path);

#endif
