/*
 * Restore of one snapshot. Extraction is relative to the destination
 * (fchdir there, back after): archive paths are relative, and
 * SECURE_NOABSOLUTEPATHS refuses any that is not, SECURE_NODOTDOT any
 * "..", SECURE_SYMLINKS any write through a symlink.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "digest.h"
#include "log.h"
#include "manifest.h"
#include "restore.h"
#include "snapshot.h"
#include "xmalloc.h"

#define ESC_MAX		1024

#define EXTRACT_FLAGS	(ARCHIVE_EXTRACT_SECURE_SYMLINKS |		\
	ARCHIVE_EXTRACT_SECURE_NODOTDOT |				\
	ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS |			\
	ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM |			\
	ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |			\
	ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_FFLAGS)

static int
selected(const struct restore_opts *o, const char *path)
{
	const char *p;
	size_t	 i, n;

	if (o->npaths == 0)
		return 1;
	for (i = 0; i < o->npaths; i++) {
		p = o->paths[i];
		while (*p == '/')
			p++;
		n = strlen(p);
		while (n > 0 && p[n - 1] == '/')
			n--;
		if (strncmp(path, p, n) == 0 &&
		    (path[n] == '\0' || path[n] == '/'))
			return 1;
	}
	return 0;
}

/* Copies an entry's data to disk, hashing it. 0, or -EBADMSG when the
 * archive could not be read (fatal), or -EIO when the disk write failed. */
static int
copy_data(struct archive *ar, struct archive *aw, struct archive_entry *e,
    uint8_t sha[32], uint64_t *bytes)
{
	struct digest d;
	const void *buf;
	size_t	 len;
	la_int64_t off;
	uint64_t size = (uint64_t)archive_entry_size(e);
	char	 eb[ESC_MAX];
	int	 r;

	digest_init(&d);
	for (;;) {
		r = archive_read_data_block(ar, &buf, &len, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			log_warnx("%s", archive_error_string(ar));
			return -EBADMSG;
		}
		digest_block(&d, buf, len, (uint64_t)off);
		if (aw != NULL &&
		    archive_write_data_block(aw, buf, len, off) < ARCHIVE_OK) {
			log_warnx("%s: %s", log_escape(eb, sizeof(eb),
			    archive_entry_pathname(e)),
			    archive_error_string(aw));
			return -EIO;
		}
	}
	*bytes += size;
	digest_final(&d, size, sha);
	return 0;
}

/*
 * With a path filter, a selected hard link may name a first path that is
 * not selected, whose entry holds the data. Such a first path is restored
 * under the first selected link's path instead, and the other selected
 * links point there. The pairs come from the manifest.
 */
struct relink {
	const char	*first;		/* not selected, has the data */
	const char	*as;		/* selected path that gets it */
};

static struct relink *
relinks_find(struct relink *rl, size_t n, const char *first)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(rl[i].first, first) == 0)
			return &rl[i];
	return NULL;
}

static struct relink *
relinks_make(const struct restore_opts *o, const struct manifest *m,
    size_t *np)
{
	struct relink *rl = NULL;
	const struct manifest_entry *me;
	size_t	 i, n = 0;

	*np = 0;
	if (o->npaths == 0)
		return NULL;
	for (i = 0; i < m->n; i++) {
		me = &m->entries[i];
		if (me->type != 'h' || !selected(o, me->path) ||
		    selected(o, me->link) || relinks_find(rl, n, me->link))
			continue;
		rl = xreallocarray(rl, n + 1, sizeof(*rl));
		rl[n].first = me->link;
		rl[n].as = me->path;
		n++;
	}
	*np = n;
	return rl;
}

/* One archive's extraction into the (current) destination. */
struct extract {
	const struct restore_opts *o;
	struct restore_stats *stats;
	struct archive	*aw;		/* NULL in a dry run */
	int		 destfd;	/* the destination, or -1 */
	/* Directories that already existed: libarchive sets their times at
	 * once rather than after their contents, so they are set again at
	 * the end. */
	struct dirtime {
		char		*path;
		struct timespec	 ts[2];	/* atime, mtime */
	}		*dirs;
	size_t		 ndirs;
};

/* Notes an existing directory's times from the archive entry. */
static void
dirtime_add(struct extract *x, struct archive_entry *e, const char *path)
{
	struct dirtime *d;
	struct stat st;

	if (archive_entry_filetype(e) != AE_IFDIR ||
	    !archive_entry_mtime_is_set(e) ||
	    fstatat(x->destfd, path, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISDIR(st.st_mode))
		return;
	x->dirs = xreallocarray(x->dirs, x->ndirs + 1, sizeof(*x->dirs));
	d = &x->dirs[x->ndirs++];
	d->path = xstrdup(path);
	d->ts[1].tv_sec = archive_entry_mtime(e);
	d->ts[1].tv_nsec = archive_entry_mtime_nsec(e);
	if (archive_entry_atime_is_set(e)) {
		d->ts[0].tv_sec = archive_entry_atime(e);
		d->ts[0].tv_nsec = archive_entry_atime_nsec(e);
	} else
		d->ts[0].tv_nsec = UTIME_OMIT;
}

/* Sets the noted directories' times, deepest last written first. */
static void
dirtime_apply(struct extract *x)
{
	char	 eb[ESC_MAX];
	size_t	 i;

	for (i = x->ndirs; i > 0; i--) {
		if (utimensat(x->destfd, x->dirs[i - 1].path,
		    x->dirs[i - 1].ts, AT_SYMLINK_NOFOLLOW) == -1)
			log_warn("%s", log_escape(eb, sizeof(eb),
			    x->dirs[i - 1].path));
		free(x->dirs[i - 1].path);
	}
	free(x->dirs);
	x->dirs = NULL;
	x->ndirs = 0;
}

/*
 * Whether the entry's path exists in the destination and o->overwrite
 * says to keep it. Decided here rather than with libarchive's NO_OVERWRITE
 * flags, which skip silently: the admin is told each path kept.
 */
static int
keep_existing(const struct extract *x, struct archive_entry *e,
    const char *path)
{
	struct stat st;
	int64_t	 sec;
	long	 nsec;

	if (x->o->overwrite == RESTORE_OVERWRITE_ALWAYS || x->destfd == -1 ||
	    fstatat(x->destfd, path, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return 0;
	if (S_ISDIR(st.st_mode) && archive_entry_filetype(e) == AE_IFDIR)
		return 0;
	if (x->o->overwrite == RESTORE_OVERWRITE_NEVER)
		return 1;
	/* A hard link entry has no times of its own: keep what is there. */
	if (archive_entry_hardlink(e) != NULL || !archive_entry_mtime_is_set(e))
		return 1;
	sec = archive_entry_mtime(e);
	nsec = archive_entry_mtime_nsec(e);
	return !(st.st_mtim.tv_sec < sec ||
	    (st.st_mtim.tv_sec == sec && st.st_mtim.tv_nsec < nsec));
}

/*
 * Extracts from snapshot m->id the entries wanted: with need (an
 * ancestor's archive) those whose manifest index is marked, else those
 * the path filter selects, hard links re-pointed through rl. 0, or the
 * first -errno (the extraction goes on past single bad files).
 */
static int
extract_archive(struct extract *x, struct target *t, struct manifest *m,
    const uint8_t *need, struct relink *rl, size_t nrl)
{
	const struct restore_opts *o = x->o;
	struct restore_stats *stats = x->stats;
	const struct manifest_entry *me;
	struct snapshot_source *src = NULL;
	struct archive *ar = NULL, *aw = x->aw;
	struct archive_entry *e;
	struct relink *rel;
	char	 eb[ESC_MAX], *orig = NULL;
	const char *path;
	uint8_t	 sha[32];
	int	 r, rv = 0, w;

	if ((r = snapshot_archive_open(t, m->id, o->key, &ar, &src)) != 0)
		return r;
	for (;;) {
		r = archive_read_next_header(ar, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			log_warnx("%s", archive_error_string(ar));
			rv = -EBADMSG;
			break;
		}
		free(orig);
		orig = xstrdup(archive_entry_pathname(e));
		if (need != NULL) {
			me = manifest_find(m, orig);
			if (me == NULL || !need[me - m->entries] ||
			    archive_entry_filetype(e) != AE_IFREG ||
			    archive_entry_hardlink(e) != NULL)
				continue;
		} else if (!selected(o, orig)) {
			if ((rel = relinks_find(rl, nrl, orig)) == NULL)
				continue;
			archive_entry_copy_pathname(e, rel->as);
		} else if (archive_entry_hardlink(e) != NULL &&
		    (rel = relinks_find(rl, nrl,
		    archive_entry_hardlink(e))) != NULL) {
			if (strcmp(rel->as, orig) == 0)
				continue;	/* restored with the data */
			archive_entry_copy_hardlink(e, rel->as);
		}
		path = archive_entry_pathname(e);
		if (keep_existing(x, e, path)) {
			stats->kept++;
			log_info("%s: exists, kept (--overwrite %s)",
			    log_escape(eb, sizeof(eb), path),
			    o->overwrite == RESTORE_OVERWRITE_NEVER ? "never" :
			    "older");
			continue;
		}
		stats->entries++;
		if (o->on_entry != NULL)
			o->on_entry(o->arg, path);
		if (aw != NULL) {
			dirtime_add(x, e, path);
			w = archive_write_header(aw, e);
			if (w < ARCHIVE_OK)
				log_warnx("%s: %s", log_escape(eb, sizeof(eb),
				    path), archive_error_string(aw));
			if (w == ARCHIVE_FATAL) {
				rv = -EIO;
				break;
			}
			if (w == ARCHIVE_FAILED) {
				stats->refused++;
				continue;
			}
		}
		if (archive_entry_filetype(e) == AE_IFREG &&
		    archive_entry_hardlink(e) == NULL) {
			if ((r = copy_data(ar, aw, e, sha, &stats->bytes)) != 0) {
				rv = r;
				break;
			}
			stats->files++;
			me = manifest_find(m, orig);
			if (me == NULL || !me->has_sha256 ||
			    memcmp(me->sha256, sha, sizeof(sha)) != 0) {
				log_warnx("%s: %s", log_escape(eb, sizeof(eb),
				    path), me == NULL ? "not in the manifest" :
				    "content differs from the manifest");
				stats->mismatched++;
			}
		}
		if (aw != NULL && archive_write_finish_entry(aw) < ARCHIVE_OK) {
			log_warnx("%s: %s", log_escape(eb, sizeof(eb), path),
			    archive_error_string(aw));
			stats->refused++;
		}
	}
	snapshot_archive_close(ar, src);
	free(orig);
	return rv;
}

/*
 * For each selected file of chain[0] recorded "in parent", marks it in the
 * need array of the nearest ancestor that stored its bytes. -EBADMSG when
 * the chain does not hold it (with the same hash).
 */
static int
chain_resolve(const struct restore_opts *o, struct manifest *chain, size_t n,
    uint8_t **need)
{
	const struct manifest_entry *me, *pe;
	char	 eb[ESC_MAX];
	size_t	 i, j;
	int	 found;

	for (i = 0; i < chain[0].n; i++) {
		me = &chain[0].entries[i];
		if (!(me->flags & MANIFEST_INPARENT) || !selected(o, me->path))
			continue;
		found = 0;
		for (j = 1; j < n; j++) {
			pe = manifest_find(&chain[j], me->path);
			if (pe == NULL || pe->type != 'f' || !pe->has_sha256 ||
			    memcmp(pe->sha256, me->sha256,
			    sizeof(me->sha256)) != 0)
				break;
			if (!(pe->flags & MANIFEST_INPARENT)) {
				if (need[j] == NULL)
					need[j] = xcalloc(chain[j].n, 1);
				need[j][pe - chain[j].entries] = 1;
				found = 1;
				break;
			}
		}
		if (!found) {
			log_warnx("%s: %s: not held by its parent chain",
			    chain[0].id, log_escape(eb, sizeof(eb), me->path));
			return -EBADMSG;
		}
	}
	return 0;
}

int
restore_snapshot(struct target *t, const char *id,
    const struct restore_opts *o, struct restore_stats *stats)
{
	struct manifest *chain = NULL;
	struct extract x;
	struct relink *rl = NULL;
	uint8_t	**need = NULL;
	size_t	 nrl = 0, n = 0, j;
	int	 r, rv = 0, cwd = -1, dest = -1;

	memset(stats, 0, sizeof(*stats));
	memset(&x, 0, sizeof(x));
	x.o = o;
	x.stats = stats;
	x.destfd = -1;
	if ((r = snapshot_load_chain(t, id, o->key, &chain, &n)) != 0) {
		log_warnx("%s: manifest chain: %s", id, r == -EBADMSG ?
		    "tampered with, truncated, malformed or broken" :
		    strerror(-r));
		goto out;
	}
	need = xcalloc(n, sizeof(*need));
	if ((r = chain_resolve(o, chain, n, need)) != 0)
		goto out;
	rl = relinks_make(o, &chain[0], &nrl);
	if (o->dry_run)
		x.destfd = open(o->to, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	else {
		if ((dest = open(o->to, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC)) == -1 ||
		    (cwd = open(".", O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC)) == -1) {
			r = -errno;
			log_warn("%s", o->to);
			goto out;
		}
		if (fchdir(dest) == -1) {
			r = -errno;
			log_warn("%s", o->to);
			goto out;
		}
		x.destfd = dest;
		x.aw = archive_write_disk_new();
		archive_write_disk_set_options(x.aw, EXTRACT_FLAGS);
		/* No user lookup: owners are restored by number. */
	}
	/* The snapshot's own archive first: it makes every directory, whose
	 * modes and times archive_write_close sets after everything else;
	 * then the unchanged files from the ancestors that hold them. */
	rv = extract_archive(&x, t, &chain[0], NULL, rl, nrl);
	for (j = 1; j < n && rv == 0; j++)
		if (need[j] != NULL)
			rv = extract_archive(&x, t, &chain[j], need[j], NULL, 0);
	if (x.aw != NULL && archive_write_close(x.aw) != ARCHIVE_OK) {
		log_warnx("%s: %s", o->to, archive_error_string(x.aw));
		if (rv == 0)
			rv = -EIO;
	}
	if (x.aw != NULL)
		dirtime_apply(&x);
	if (rv == 0 && stats->mismatched > 0)
		rv = -EBADMSG;
	if (rv == 0 && stats->refused > 0)
		rv = -EPERM;
	r = rv;
 out:
	if (cwd != -1) {
		if (fchdir(cwd) == -1)
			log_warn("cannot return to the working directory");
		close(cwd);
	}
	if (dest != -1)
		close(dest);
	else if (x.destfd != -1)
		close(x.destfd);
	if (x.aw != NULL)
		archive_write_free(x.aw);
	for (j = 0; j < x.ndirs; j++)	/* not applied: a failure */
		free(x.dirs[j].path);
	free(x.dirs);
	for (j = 0; need != NULL && j < n; j++)
		free(need[j]);
	free(need);
	free(rl);
	snapshot_chain_free(chain, n);
	return r;
}
