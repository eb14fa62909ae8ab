/*
 * filesystems collector: the mountinfo parser, the choice of mounts worth
 * checking, and the instance layout (its statvfs is a seam for the tests).
 */
#ifndef FILESYSTEMS_H
#define FILESYSTEMS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/statvfs.h>

#include "collector.h"
#include "threshold.h"

#define FILESYSTEMS_EXCLUDE_MAX	64	/* patterns in exclude */

/* One line of /proc/self/mountinfo; strings are owned and decoded (the
 * kernel writes space, tab, newline and backslash as \ooo). */
struct fs_mount {
	unsigned	 major, minor;
	char		*root;		/* path inside the fs */
	char		*mountpoint;
	char		*fstype;
	char		*source;
};

/* The mounts to check, in mountinfo order, and why the rest were left. */
struct fs_selection {
	struct fs_mount	*mounts;
	size_t		 n;
	unsigned	 skipped_type;	/* pseudo, network, image */
	unsigned	 skipped_path;	/* containers, sessions */
	unsigned	 excluded;	/* by the exclude key */
	unsigned	 duplicates;	/* same device, or mounted over */
	unsigned	 bad_lines;	/* not mountinfo */
};

struct filesystems {
	struct threshold	 used, inodes;	/* % of space, of inodes */
	struct threshold_memory	 held;		/* levels raised per mount */
	char			*exclude[FILESYSTEMS_EXCLUDE_MAX];
	size_t			 nexclude;
	struct collector_env	 env;
	/* statvfs(3); tests put a table lookup here. */
	int			(*statvfs_fn)(const char *path,
				    struct statvfs *st);
	unsigned		 logged;	/* failures already logged */
};

/* Parses one mountinfo line (NUL-terminated, without the newline) into m,
 * which the caller empties with filesystems_mount_clear. Returns 0 or
 * -EINVAL (m is then empty). */
int	filesystems_parse_mountinfo_line(const char *line,
	    struct fs_mount *m);
void	filesystems_mount_clear(struct fs_mount *m);

/*
 * Picks the mounts to check from mountinfo text (only complete lines):
 * drops pseudo, network and read-only image filesystems and mounts that
 * belong to containers or sessions; then mounts hidden by a later mount on
 * the same point, and further mounts of one device (bind mounts, btrfs
 * subvolumes: statvfs answers for the whole device), keeping the one with
 * the shortest root; then the kept mounts matching exclude (fnmatch
 * patterns: "/..." against the mount point, others against the fstype).
 * Returns 0 with sel filled (free it with filesystems_selection_free), or
 * -EINVAL when there were lines but none was mountinfo.
 */
int	filesystems_select(const char *buf, size_t len,
	    char *const *exclude, size_t nexclude, struct fs_selection *sel);
void	filesystems_selection_free(struct fs_selection *sel);

extern const struct collector collector_filesystems;

#endif
