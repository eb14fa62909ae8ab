/*
 * The snapshot writer and the reading side of a snapshot's objects
 * (docs/backup-format.md). The walk is archive_read_disk's; each regular
 * file is read once, its blocks hashed and handed to the pax writer; the
 * tar stream is compressed, encrypted and written on the writer thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <archive.h>
#include <archive_entry.h>
#include <sodium.h>

#include "crypt.h"
#include "digest.h"
#include "log.h"
#include "manifest.h"
#include "relay.h"
#include "snapshot.h"
#include "target.h"
#include "xmalloc.h"
#include "zstream.h"

#define ESC_MAX		1024
#define WALK_BUF	(64 * 1024)

struct snapshot_source {
	struct target_get *get;
	struct crypt_reader *cr;
	char		 name[TARGET_NAME_MAX + 1];
	int		 err;
	uint8_t		 buf[65536];
};

/* Where the archive or manifest bytes go: the target, encrypted or not. */
struct sink {
	struct target_put *put;
	struct crypt_writer *cw;
	struct relay	*relay;		/* the archive's writer thread */
	struct zstream	*z;		/* the archive's compression */
	int		 err;
};

struct walk {
	const struct snapshot_opts *o;
	struct archive	*aw;
	struct archive_entry_linkresolver *lr;
	struct manifest	*m;
	struct manifest	*parent;	/* NULL for a full */
	struct snapshot_stats *stats;
	struct archive	*meta;		/* attributes of what is archived */
	struct archive	*meta_sparse;	/* the same, and the holes */
	uint8_t		*buf;		/* WALK_BUF bytes of file data */
};

static const char *
esc(char *buf, const char *s)
{
	return log_escape(buf, ESC_MAX, s);
}

void
snapshot_object_name(char *buf, size_t len, const char *id, int manifest,
    int encrypted)
{
	snprintf(buf, len, "%s.%s%s", id, manifest ? "manifest" : "tar.zst",
	    encrypted ? ".enc" : "");
}

static int
put_sink(void *arg, const void *buf, size_t len)
{
	return target_put_write(arg, buf, len);
}

static int
sink_write(struct sink *s, const void *buf, size_t len)
{
	int	 r;

	if (s->err != 0)
		return s->err;
	r = s->cw ? crypt_writer_write(s->cw, buf, len) :
	    target_put_write(s->put, buf, len);
	if (r != 0)
		s->err = r;
	return r;
}

static int
sink_write_fn(void *arg, const void *buf, size_t len)
{
	return sink_write(arg, buf, len);
}

static int
sink_open(struct target *t, const char *name, const uint8_t *key,
    struct sink *s)
{
	int	 r;

	memset(s, 0, sizeof(*s));
	if ((r = target_put_begin(t, name, &s->put)) != 0)
		return r;
	if (key != NULL && (r = crypt_writer_new(&s->cw, key, name, put_sink,
	    s->put)) != 0) {
		target_put_abort(s->put);
		s->put = NULL;
	}
	return r;
}

/* Waits for the writer thread, if any, to pass on what it holds. */
static void
sink_drain(struct sink *s)
{
	int	 r;

	if (s->relay != NULL && (r = relay_finish(s->relay)) != 0 &&
	    s->err == 0)
		s->err = r;
	s->relay = NULL;
}

/* Finishes the stream and commits the object; the bytes stored in *stored. */
static int
sink_commit(struct sink *s, uint64_t *stored)
{
	struct target_put *put;
	int	 r;

	sink_drain(s);
	if (s->z != NULL && s->err == 0 && (r = zstream_finish(s->z)) != 0 &&
	    s->err == 0)
		s->err = r;
	zstream_free(s->z);
	s->z = NULL;
	put = s->put;
	r = s->err;

	if (r == 0 && s->cw != NULL)
		r = crypt_writer_finish(s->cw);
	crypt_writer_free(s->cw);
	s->cw = NULL;
	s->put = NULL;
	if (r != 0) {
		target_put_abort(put);
		return r;
	}
	*stored += target_put_bytes(put);
	return target_put_commit(put);
}

static void
sink_abort(struct sink *s)
{
	sink_drain(s);
	zstream_free(s->z);
	crypt_writer_free(s->cw);
	target_put_abort(s->put);
	memset(s, 0, sizeof(*s));
}

static int
sink_compress_fn(void *arg, const void *buf, size_t len)
{
	struct sink *s = arg;

	return zstream_write(s->z, buf, len);
}

static la_ssize_t
archive_write_cb(struct archive *a, void *arg, const void *buf, size_t len)
{
	struct sink *s = arg;
	int	 r;

	r = s->relay != NULL ? relay_write(s->relay, buf, len) :
	    zstream_write(s->z, buf, len);
	if (r != 0) {
		archive_set_error(a, -r, "writing to the target: %s",
		    strerror(-r));
		return -1;
	}
	return (la_ssize_t)len;
}

static int
excluded(const struct snapshot_opts *o, const char *path)
{
	const char *base;
	size_t	 i;

	base = strrchr(path, '/');
	base = base && base[1] != '\0' ? base + 1 : path;
	for (i = 0; i < o->nexcludes; i++) {
		if (strchr(o->excludes[i], '/') != NULL ?
		    fnmatch(o->excludes[i], path, 0) == 0 :
		    fnmatch(o->excludes[i], base, 0) == 0)
			return 1;
	}
	return 0;
}

static char
entry_type(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:	return 'f';
	case S_IFDIR:	return 'd';
	case S_IFLNK:	return 'l';
	case S_IFCHR:	return 'c';
	case S_IFBLK:	return 'b';
	case S_IFIFO:	return 'p';
	default:	return 's';
	}
}

/* Writes n zero bytes of a hole: the pax writer drops those that fall in
 * the entry's sparse map and stores the rest (bsdtar does the same). */
static int
write_zeros(struct archive *aw, uint64_t n)
{
	static const uint8_t zeros[65536];
	size_t	 k;

	while (n > 0) {
		k = n > sizeof(zeros) ? sizeof(zeros) : (size_t)n;
		if (archive_write_data(aw, zeros, k) < 0)
			return -1;
		n -= k;
	}
	return 0;
}

/*
 * Copies a regular file's data from fd into the archive, hashing it (holes
 * as zeros). Only the data regions of a sparse file are read. 0, or -EIO
 * when the file could not be read to its end (the archive then holds zeros
 * for the rest), or -EPIPE when the archive writer failed, which is fatal.
 */
static int
copy_data(struct walk *w, int fd, struct archive_entry *e, uint8_t sha[32])
{
	struct digest d;
	la_int64_t off = 0, len = archive_entry_size(e);
	ssize_t	 n = 0;
	char	 eb[ESC_MAX];
	int	 rv = 0, sparse = archive_entry_sparse_reset(e) > 0;

	digest_init(&d);
	while (!sparse || archive_entry_sparse_next(e, &off, &len) ==
	    ARCHIVE_OK) {
		if ((uint64_t)off > d.pos &&
		    write_zeros(w->aw, (uint64_t)off - d.pos) != 0)
			goto fail;
		if (sparse && lseek(fd, off, SEEK_SET) == -1)
			len = -1;
		while (len > 0) {
			n = read(fd, w->buf, len < WALK_BUF ? (size_t)len :
			    WALK_BUF);
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0)
				break;	/* an error, or it shrank */
			digest_block(&d, w->buf, (size_t)n, (uint64_t)off);
			if (archive_write_data(w->aw, w->buf, (size_t)n) < 0)
				goto fail;
			off += n;
			len -= n;
		}
		if (len != 0) {
			if (len < 0 || n < 0) {
				log_warn("%s", esc(eb,
				    archive_entry_sourcepath(e)));
				rv = -EIO;
			}
			break;
		}
		if (!sparse)
			break;
	}
	/* A file that shrank, or a hole at its end: the archive has zeros
	 * (finish_entry pads), so the hash has them too. */
	digest_final(&d, (uint64_t)archive_entry_size(e), sha);
	return rv;
 fail:
	log_warnx("%s: %s", esc(eb, archive_entry_pathname(e)),
	    archive_error_string(w->aw));
	return -EPIPE;
}

/* Did the file change while it was read? */
static int
changed_since(int fd, struct archive_entry *e)
{
	struct stat st;

	if (fstat(fd, &st) == -1)
		return 1;
	return st.st_size != archive_entry_size(e) ||
	    st.st_mtim.tv_sec != archive_entry_mtime(e) ||
	    st.st_mtim.tv_nsec != archive_entry_mtime_nsec(e) ||
	    st.st_ctim.tv_sec != archive_entry_ctime(e) ||
	    st.st_ctim.tv_nsec != archive_entry_ctime_nsec(e);
}

static void
manifest_fill(struct manifest_entry *me, struct archive_entry *e)
{
	memset(me, 0, sizeof(*me));
	me->type = entry_type(archive_entry_mode(e));
	me->path = (char *)archive_entry_pathname(e);
	me->mode = archive_entry_mode(e);
	me->uid = (uint32_t)archive_entry_uid(e);
	me->gid = (uint32_t)archive_entry_gid(e);
	me->uname = (char *)archive_entry_uname(e);
	me->gname = (char *)archive_entry_gname(e);
	me->mtime_sec = archive_entry_mtime(e);
	me->mtime_nsec = archive_entry_mtime_nsec(e);
	me->ctime_sec = archive_entry_ctime(e);
	me->ctime_nsec = archive_entry_ctime_nsec(e);
	me->dev = archive_entry_dev(e);
	me->ino = archive_entry_ino64(e);
	me->nlink = archive_entry_nlink(e);
	if (me->type == 'c' || me->type == 'b') {
		me->has_rdev = 1;
		me->rdev_major = archive_entry_rdevmajor(e);
		me->rdev_minor = archive_entry_rdevminor(e);
	}
	if (me->type == 'f')
		me->size = (uint64_t)archive_entry_size(e);
	if (me->type == 'l')
		me->link = (char *)archive_entry_symlink(e);
}

/* Stored relative, as tar does. */
static void
strip_root(struct archive_entry *e)
{
	const char *p = archive_entry_pathname(e);

	while (*p == '/')
		p++;
	archive_entry_copy_pathname(e, *p == '\0' ? "." : p);
}

/* Lists a file that could not be read, flagged, in the manifest. */
static void
list_unreadable(struct walk *w, struct archive_entry *e)
{
	struct manifest_entry me;

	strip_root(e);
	manifest_fill(&me, e);
	me.flags |= MANIFEST_UNREADABLE;
	manifest_add(w->m, &me);
	w->stats->entries++;
}

/*
 * The parent's entry when this regular file is unchanged since the parent
 * and its bytes can be taken from the chain: same type, size, mtime and
 * ctime to the nanosecond, inode and device (a write or a metadata change
 * moves ctime, which no one can set back). Not for hard-linked files: the
 * link resolver pairs paths within one archive only. Not when the parent
 * flagged it: its bytes there may not be what the file holds.
 */
static const struct manifest_entry *
unchanged(struct walk *w, struct archive_entry *e)
{
	const struct manifest_entry *pe;

	if (w->parent == NULL || archive_entry_nlink(e) != 1)
		return NULL;
	if ((pe = manifest_find(w->parent, archive_entry_pathname(e))) == NULL)
		return NULL;
	if (pe->type != 'f' || !pe->has_sha256 ||
	    (pe->flags & (MANIFEST_CHANGED | MANIFEST_UNREADABLE)) != 0 ||
	    pe->size != (uint64_t)archive_entry_size(e) ||
	    pe->mtime_sec != archive_entry_mtime(e) ||
	    pe->mtime_nsec != archive_entry_mtime_nsec(e) ||
	    pe->ctime_sec != archive_entry_ctime(e) ||
	    pe->ctime_nsec != archive_entry_ctime_nsec(e) ||
	    pe->ino != (uint64_t)archive_entry_ino64(e) ||
	    pe->dev != (uint64_t)archive_entry_dev(e))
		return NULL;
	return pe;
}

/*
 * Fills in what the walk left out (flags, ACLs, xattrs, holes) for an entry
 * that will be archived, from the file opened for its data when there is
 * one; st is what that descriptor says. Only a file whose blocks do not
 * cover its size is searched for holes. ARCHIVE_OK, or a libarchive status.
 */
static int
walk_attributes(struct walk *w, struct archive_entry *e, int fd,
    const struct stat *st)
{
	struct archive *a;
	struct stat copy;
	char	 eb[ESC_MAX];
	int	 r;

	if (st == NULL) {
		copy = *archive_entry_stat(e);
		st = &copy;
	}
	a = fd >= 0 && st->st_blocks * 512 < st->st_size ? w->meta_sparse :
	    w->meta;
	if ((r = archive_read_disk_entry_from_file(a, e, fd, st)) < ARCHIVE_OK)
		log_warnx("%s: %s", esc(eb, archive_entry_sourcepath(e)),
		    archive_error_string(a));
	return r;
}

/*
 * Opens a regular file for its data, before its header is written: an
 * unreadable file is left out rather than stored as zeros. The entry takes
 * the attributes of what was opened (the path may have been replaced
 * since the walk saw it). The descriptor, or -1 when it was left out.
 */
static int
walk_open(struct walk *w, struct archive_entry *e)
{
	const char *src = archive_entry_sourcepath(e);
	struct stat st;
	char	 eb[ESC_MAX];
	int	 fd;

	if ((fd = open(src, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1 || fstat(fd, &st) == -1) {
		log_warn("%s: cannot read, left out", esc(eb, src));
		goto unreadable;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("%s: replaced while it was read, left out",
		    esc(eb, src));
		goto unreadable;
	}
	if (walk_attributes(w, e, fd, &st) <= ARCHIVE_FAILED)
		goto unreadable;
	return fd;
 unreadable:
	if (fd != -1)
		close(fd);
	list_unreadable(w, e);
	w->stats->unreadable++;
	w->stats->partial = 1;
	return -1;
}

/* One entry of the walk: archived (or only listed) and recorded. */
static int
walk_entry(struct walk *w, struct archive_entry *e)
{
	struct manifest_entry me;
	const struct manifest_entry *pe;
	struct archive_entry *spare = NULL;
	const char *src = archive_entry_sourcepath(e);
	char	 eb[ESC_MAX];
	int	 fd = -1, r, rv = 0, unreadable = 0, hard = 0, hashed = 0;
	uint8_t	 sha[32];

	strip_root(e);

	if (entry_type(archive_entry_mode(e)) == 's') {
		/* tar cannot hold a socket: listed only. */
		manifest_fill(&me, e);
		manifest_add(w->m, &me);
		w->stats->entries++;
		return 0;
	}
	if (archive_entry_filetype(e) == AE_IFREG &&
	    (pe = unchanged(w, e)) != NULL) {
		manifest_fill(&me, e);
		me.has_sha256 = 1;
		memcpy(me.sha256, pe->sha256, sizeof(me.sha256));
		me.flags |= MANIFEST_INPARENT;
		manifest_add(w->m, &me);
		w->stats->entries++;
		w->stats->files++;
		w->stats->bytes += me.size;
		w->stats->unchanged++;
		return 0;
	}
	if (archive_entry_filetype(e) == AE_IFREG) {
		if ((fd = walk_open(w, e)) == -1)
			return 0;
		archive_entry_linkify(w->lr, &e, &spare);
		hard = archive_entry_hardlink(e) != NULL;
	} else if (walk_attributes(w, e, -1, NULL) <= ARCHIVE_FAILED) {
		list_unreadable(w, e);
		w->stats->unreadable++;
		w->stats->partial = 1;
		return 0;
	}
	if ((r = archive_write_header(w->aw, e)) < ARCHIVE_OK) {
		/* A warning is mostly a name that is not text in this
		 * locale: stored as raw bytes (hdrcharset=BINARY), not a
		 * problem. */
		if (r == ARCHIVE_WARN)
			log_debug("%s: %s", esc(eb, src),
			    archive_error_string(w->aw));
		else
			log_warnx("%s: %s", esc(eb, src),
			    archive_error_string(w->aw));
		if (r == ARCHIVE_FATAL) {
			rv = archive_errno(w->aw) > 0 ?
			    -archive_errno(w->aw) : -EIO;
			goto out;
		}
		if (r == ARCHIVE_FAILED) {
			manifest_fill(&me, e);
			me.flags |= MANIFEST_UNREADABLE;
			manifest_add(w->m, &me);
			w->stats->unreadable++;
			w->stats->partial = 1;
			goto out;
		}
	}
	if (fd != -1 && !hard) {
		r = copy_data(w, fd, e, sha);
		if (r == -EIO)
			unreadable = 1;
		else if (r != 0) {
			rv = archive_errno(w->aw) > 0 ?
			    -archive_errno(w->aw) : -EIO;
			goto out;
		}
		hashed = 1;
	}
	if (archive_write_finish_entry(w->aw) == ARCHIVE_FATAL) {
		log_warnx("%s: %s", esc(eb, src), archive_error_string(w->aw));
		rv = -EIO;
		goto out;
	}

	manifest_fill(&me, e);
	if (hard) {
		me.type = 'h';
		me.link = (char *)archive_entry_hardlink(e);
	}
	if (hashed) {
		me.has_sha256 = 1;
		memcpy(me.sha256, sha, sizeof(sha));
		if (archive_entry_sparse_count(e) > 0)
			me.flags |= MANIFEST_SPARSE;
		if (changed_since(fd, e)) {
			log_warnx("%s: changed while it was read",
			    esc(eb, src));
			me.flags |= MANIFEST_CHANGED;
			w->stats->changed++;
		}
		w->stats->files++;
		w->stats->bytes += me.size;
	}
	if (unreadable) {
		me.flags |= MANIFEST_UNREADABLE;
		w->stats->unreadable++;
		w->stats->partial = 1;
	}
	manifest_add(w->m, &me);
	w->stats->entries++;
	if (w->o->progress != NULL)
		w->o->progress(w->stats, w->o->progress_arg);
 out:
	if (fd != -1)
		close(fd);
	return rv;
}

/* Walks one of the job's paths. 0, or -errno when the run cannot go on. */
static int
walk_path(struct walk *w, const char *path)
{
	struct archive *disk;
	struct archive_entry *e;
	const char *p;
	char	 eb[ESC_MAX];
	int	 r, flags;

	if ((disk = archive_read_disk_new()) == NULL)
		return -ENOMEM;
	archive_read_disk_set_symlink_physical(disk);
	archive_read_disk_set_standard_lookup(disk);
	/* The walk itself only stats: an unchanged file is then never
	 * opened. What is archived gets the rest from walk_attributes. */
	flags = ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL |
	    ARCHIVE_READDISK_NO_FFLAGS | ARCHIVE_READDISK_NO_SPARSE;
	if (w->o->one_file_system)
		flags |= ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS;
	archive_read_disk_set_behavior(disk, flags);
	if (archive_read_disk_open(disk, path) != ARCHIVE_OK) {
		log_warnx("%s: %s", esc(eb, path), archive_error_string(disk));
		w->stats->unreadable++;
		w->stats->partial = 1;
		r = 0;
		goto out;
	}
	e = archive_entry_new();
	for (;;) {
		archive_entry_clear(e);
		r = archive_read_next_header2(disk, e);
		if (r == ARCHIVE_EOF) {
			r = 0;
			break;
		}
		if (r == ARCHIVE_FATAL) {
			log_warnx("%s: %s", esc(eb, path),
			    archive_error_string(disk));
			r = -EIO;
			break;
		}
		/* Before any complaint: an excluded file is not our
		 * business even when it cannot be read. */
		if (archive_entry_sourcepath(e) != NULL &&
		    excluded(w->o, archive_entry_sourcepath(e)))
			continue;
		if (r < ARCHIVE_OK) {
			/* e.g. a file that cannot be opened for its
			 * attributes, a directory that cannot be listed */
			p = archive_entry_pathname(e);
			log_warnx("%s: cannot read, left out: %s",
			    esc(eb, p ? p : path), archive_error_string(disk));
			if (r == ARCHIVE_FAILED || r == ARCHIVE_RETRY) {
				if (p != NULL && archive_entry_filetype(e) != 0)
					list_unreadable(w, e);
				w->stats->unreadable++;
				w->stats->partial = 1;
				continue;
			}
		}
		if (archive_read_disk_can_descend(disk))
			archive_read_disk_descend(disk);
		if ((r = walk_entry(w, e)) != 0)
			break;
	}
	archive_entry_free(e);
 out:
	archive_read_close(disk);
	archive_read_free(disk);
	return r;
}

/* A disk reader used for attributes only (no walk). */
static struct archive *
walk_meta(int flags)
{
	struct archive *a;

	if ((a = archive_read_disk_new()) == NULL)
		fatalx("archive_read_disk_new: out of memory");
	archive_read_disk_set_symlink_physical(a);
	archive_read_disk_set_standard_lookup(a);
	archive_read_disk_set_behavior(a, flags);
	return a;
}

static void
make_id(char *buf, size_t len, time_t now)
{
	struct tm tm;
	char	 t[32];

	gmtime_r(&now, &tm);
	strftime(t, sizeof(t), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(buf, len, "%s-%08x", t, randombytes_random());
}

int
snapshot_create(struct target *t, const struct snapshot_opts *o,
    struct snapshot_stats *stats)
{
	struct manifest m, parent;
	struct walk w;
	struct sink as, ms;
	struct archive *aw = NULL;
	char	 name[TARGET_NAME_MAX + 1];
	time_t	 now = time(NULL);
	size_t	 i;
	uint64_t mbytes = 0;
	int	 r, workers, tries;

	memset(stats, 0, sizeof(*stats));
	memset(&as, 0, sizeof(as));
	memset(&ms, 0, sizeof(ms));
	manifest_init(&m);
	manifest_init(&parent);
	if (sodium_init() < 0)
		return -EIO;
	make_id(stats->id, sizeof(stats->id), now);
	memcpy(m.id, stats->id, sizeof(m.id));
	m.created = now;
	if (o->job != NULL) {
		if (!manifest_name_valid(o->job, strlen(o->job)))
			return -EINVAL;
		snprintf(m.job, sizeof(m.job), "%s", o->job);
	}
	if (o->parent != NULL) {
		/* Its manifest is what "unchanged" is measured against. */
		if ((r = snapshot_load_manifest(t, o->parent, o->key,
		    &parent)) != 0) {
			log_warnx("parent %s: %s", esc(name, o->parent),
			    r == -EBADMSG ? "tampered with, truncated or "
			    "malformed" : strerror(-r));
			return r;
		}
		/* Ids carry the start second: a run in the same second as
		 * its parent waits for the next one, as a child's id must
		 * sort after its parent's (that is what keeps chains
		 * free of loops). */
		for (tries = 0; tries < 3 && strcmp(o->parent, m.id) >= 0;
		    tries++) {
			sleep(1);
			now = time(NULL);
			make_id(stats->id, sizeof(stats->id), now);
			memcpy(m.id, stats->id, sizeof(m.id));
			m.created = now;
		}
		if (strcmp(parent.id, o->parent) != 0 ||
		    strcmp(o->parent, m.id) >= 0) {
			log_warnx("parent %s: not an earlier snapshot",
			    esc(name, o->parent));
			manifest_free(&parent);
			return -EINVAL;
		}
		m.incremental = 1;
		snprintf(m.parent, sizeof(m.parent), "%s", o->parent);
	}

	snapshot_object_name(name, sizeof(name), stats->id, 0, o->key != NULL);
	if ((r = sink_open(t, name, o->key, &as)) != 0) {
		log_warnx("%s: %s", name, strerror(-r));
		goto out;
	}
	/* The reading thread reads, hashes and makes headers; the writer
	 * thread compresses, encrypts and writes, which on 2 cores keeps
	 * both busy. zstd's own workers only on more cores. */
	workers = o->threads > 0 ? o->threads :
	    (int)sysconf(_SC_NPROCESSORS_ONLN) - 2;
	as.z = zstream_new(o->compression > 0 ? o->compression : 3,
	    workers > 0 ? workers : 0, sink_write_fn, &as);
	as.relay = relay_start(sink_compress_fn, &as);
	aw = archive_write_new();
	/* Full pax, not "restricted": restricted pax keeps sub-second times
	 * only for entries that need an extended header for another reason. */
	archive_write_set_format_pax(aw);
	archive_write_set_bytes_in_last_block(aw, 1);
	if (archive_write_open2(aw, &as, NULL, archive_write_cb, NULL,
	    NULL) != ARCHIVE_OK) {
		log_warnx("%s: %s", name, archive_error_string(aw));
		r = -EIO;
		goto out;
	}

	memset(&w, 0, sizeof(w));
	w.o = o;
	w.aw = aw;
	w.m = &m;
	w.parent = o->parent != NULL ? &parent : NULL;
	w.stats = stats;
	w.lr = archive_entry_linkresolver_new();
	archive_entry_linkresolver_set_strategy(w.lr,
	    ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE);
	w.meta = walk_meta(ARCHIVE_READDISK_NO_SPARSE);
	w.meta_sparse = walk_meta(0);
	w.buf = xcalloc(1, WALK_BUF);
	for (i = 0; i < o->npaths && r == 0; i++)
		r = walk_path(&w, o->paths[i]);
	archive_entry_linkresolver_free(w.lr);
	archive_read_free(w.meta);
	archive_read_free(w.meta_sparse);
	free(w.buf);
	if (r != 0)
		goto out;
	if (archive_write_close(aw) != ARCHIVE_OK) {
		log_warnx("%s: %s", name, archive_error_string(aw));
		sink_drain(&as);
		r = as.err ? as.err : -EIO;
		goto out;
	}
	if ((r = sink_commit(&as, &stats->stored_bytes)) != 0) {
		log_warnx("%s: %s", name, strerror(-r));
		goto out;
	}

	/* The manifest last: its presence is what makes the snapshot. Its
	 * own size is not counted in stored_bytes, which the manifest
	 * records, so that a run's report and the catalog agree. */
	m.partial = stats->partial;
	m.finished = time(NULL);
	m.files = stats->files;
	m.bytes = stats->bytes;
	m.stored = stats->stored_bytes;
	snapshot_object_name(name, sizeof(name), stats->id, 1, o->key != NULL);
	if ((r = sink_open(t, name, o->key, &ms)) != 0 ||
	    (r = manifest_format(&m, sink_write_fn, &ms)) != 0 ||
	    (r = sink_commit(&ms, &mbytes)) != 0) {
		log_warnx("%s: %s", name, strerror(-r));
		goto out;
	}
	r = 0;
 out:
	if (aw != NULL)
		archive_write_free(aw);
	if (as.put != NULL)
		sink_abort(&as);
	if (ms.put != NULL)
		sink_abort(&ms);
	if (r != 0) {
		/* The archive may have been committed: a snapshot without
		 * a manifest is a leftover, remove it now. */
		snapshot_object_name(name, sizeof(name), stats->id, 0,
		    o->key != NULL);
		target_remove(t, name);
	}
	manifest_free(&m);
	manifest_free(&parent);
	return r;
}

/* Reading */

static ssize_t
get_source(void *arg, void *buf, size_t len)
{
	return target_get_read(arg, buf, len);
}

static int
source_open(struct target *t, const char *id, int manifest,
    const uint8_t *key, struct snapshot_source **out)
{
	struct snapshot_source *s;
	int	 r;

	*out = NULL;
	s = xcalloc(1, sizeof(*s));
	snapshot_object_name(s->name, sizeof(s->name), id, manifest,
	    key != NULL);
	if ((r = target_get_open(t, s->name, &s->get)) != 0)
		goto out;
	if (key != NULL && (r = crypt_reader_new(&s->cr, key, s->name,
	    get_source, s->get)) != 0)
		goto out;
	*out = s;
	s = NULL;	/* transferred */
 out:
	if (s != NULL) {
		target_get_close(s->get);
		free(s);
	}
	return r;
}

static ssize_t
source_read(struct snapshot_source *s, void *buf, size_t len)
{
	ssize_t	 n;

	if (s->err != 0)
		return s->err;
	n = s->cr ? crypt_reader_read(s->cr, buf, len) :
	    target_get_read(s->get, buf, len);
	if (n < 0)
		s->err = (int)n;
	return n;
}

static void
source_close(struct snapshot_source *s)
{
	if (s == NULL)
		return;
	crypt_reader_free(s->cr);
	target_get_close(s->get);
	free(s);
}

int
snapshot_source_error(const struct snapshot_source *src)
{
	return src->err;
}

/*
 * Reads at most max bytes of id's manifest object (decrypted) into *bufp.
 * With whole, more than max is -EFBIG; without, the rest is not read (a
 * header is all the caller wants).
 */
static int
snapshot_read_manifest(struct target *t, const char *id, const uint8_t *key,
    size_t max, int whole, char **bufp, size_t *lenp)
{
	struct snapshot_source *s = NULL;
	char	*buf = NULL;
	size_t	 len = 0, cap = 0;
	ssize_t	 n;
	int	 r;

	if ((r = source_open(t, id, 1, key, &s)) != 0)
		goto out;
	for (;;) {
		if (len == cap) {
			if (cap >= max) {
				r = whole ? -EFBIG : 0;
				break;
			}
			cap = cap ? cap * 2 : 65536;
			if (cap > max)
				cap = max;
			buf = xreallocarray(buf, cap, 1);
		}
		if ((n = source_read(s, buf + len, cap - len)) < 0) {
			r = (int)n;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
 out:
	source_close(s);
	if (r != 0) {
		free(buf);
		buf = NULL;
		len = 0;
	}
	*bufp = buf;
	*lenp = len;
	return r;
}

int
snapshot_load_manifest(struct target *t, const char *id, const uint8_t *key,
    struct manifest *m)
{
	char	*buf;
	size_t	 len;
	int	 r;

	manifest_init(m);
	if ((r = snapshot_read_manifest(t, id, key, SNAPSHOT_MANIFEST_MAX + 1,
	    1, &buf, &len)) == 0)
		r = manifest_parse(m, buf, len);
	free(buf);
	return r;
}

int
snapshot_load_header(struct target *t, const char *id, const uint8_t *key,
    struct manifest *m)
{
	char	*buf;
	size_t	 len;
	int	 r;

	manifest_init(m);
	if ((r = snapshot_read_manifest(t, id, key, 65536, 0, &buf,
	    &len)) == 0)
		r = manifest_parse_header(m, buf, len);
	free(buf);
	return r;
}

void
snapshot_chain_free(struct manifest *chain, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		manifest_free(&chain[i]);
	free(chain);
}

int
snapshot_load_chain(struct target *t, const char *id, const uint8_t *key,
    struct manifest **out, size_t *np)
{
	struct manifest *chain = NULL, *m;
	char	 next[MANIFEST_ID_MAX];
	size_t	 n = 0;
	int	 r;

	*out = NULL;
	*np = 0;
	if (strlen(id) >= sizeof(next))
		return -EINVAL;
	memcpy(next, id, strlen(id) + 1);
	for (;;) {
		if (n == SNAPSHOT_CHAIN_MAX) {
			r = -EBADMSG;
			goto out;
		}
		chain = xreallocarray(chain, n + 1, sizeof(*chain));
		m = &chain[n];
		if ((r = snapshot_load_manifest(t, next, key, m)) != 0)
			goto out;
		n++;
		/* A parent is always older (ids sort by time): no loops. */
		if (strcmp(m->id, next) != 0 ||
		    (n > 1 && strcmp(m->id, chain[n - 2].id) >= 0)) {
			r = -EBADMSG;
			goto out;
		}
		if (!m->incremental)
			break;
		memcpy(next, m->parent, sizeof(next));
	}
	*out = chain;
	*np = n;
	chain = NULL;	/* transferred */
	r = 0;
 out:
	if (chain != NULL)
		snapshot_chain_free(chain, n);
	return r;
}

static la_ssize_t
archive_read_cb(struct archive *a, void *arg, const void **buf)
{
	struct snapshot_source *s = arg;
	ssize_t	 n;

	if ((n = source_read(s, s->buf, sizeof(s->buf))) < 0) {
		archive_set_error(a, (int)-n, "%s: %s", s->name,
		    n == -EBADMSG ? "authentication failed: the object was "
		    "tampered with or truncated" : strerror((int)-n));
		return -1;
	}
	*buf = s->buf;
	return n;
}

int
snapshot_archive_open(struct target *t, const char *id, const uint8_t *key,
    struct archive **ar, struct snapshot_source **src)
{
	struct snapshot_source *s = NULL;
	struct archive *a = NULL;
	int	 r;

	*ar = NULL;
	*src = NULL;
	if ((r = source_open(t, id, 0, key, &s)) != 0)
		return r;
	a = archive_read_new();
	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	if (archive_read_open2(a, s, NULL, archive_read_cb, NULL, NULL) !=
	    ARCHIVE_OK) {
		log_warnx("%s", archive_error_string(a));
		r = s->err ? s->err : -EBADMSG;
		archive_read_free(a);
		source_close(s);
		return r;
	}
	*ar = a;
	*src = s;
	return 0;
}

void
snapshot_archive_close(struct archive *ar, struct snapshot_source *src)
{
	if (ar != NULL)
		archive_read_free(ar);
	source_close(src);
}
