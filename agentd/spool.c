/*
 * The durable report spool: segment files of JSON lines appended with group
 * commit, the acknowledged watermark in "acked", recovery after a crash at
 * any point. Memory holds per-segment metadata and the unsynced queue only.
 */
#include <sys/stat.h>
#include <sys/uio.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"
#include "sysfile.h"
#include "xmalloc.h"

#define SEG_DIGITS	20
#define SEG_SUFFIX	".seg"
#define TMP_SUFFIX	".tmp"
#define SEG_NAMELEN	(SEG_DIGITS + sizeof(SEG_SUFFIX) + sizeof(TMP_SUFFIX))
#define ACKED_FILE	"acked"
#define RENUMBER_FILE	"renumbered"	/* a renumbering, committed */
#define RENUMBER_TMP	"renumbered" TMP_SUFFIX
#define LINE_CAP	(SPOOL_RECORD_MAX + 1)	/* a record and its '\n' */
#define READ_CHUNK	(64 * 1024)

struct segment {
	uint64_t	name;		/* seq in the file name */
	uint64_t	first, last;	/* valid seqs held; 0 when empty */
	uint64_t	bytes;		/* durable length */
	size_t		records;	/* valid records */
	size_t		unacked;	/* of those, seq > acked */
	size_t		routine;	/* of those, not important */
	int		contiguous;	/* records == last - first + 1 */
};

struct pending {
	char		*line;		/* compact JSON and '\n' */
	size_t		 len;
	uint64_t	 seq;
	bool		 important;
};

struct spool {
	char		*dir;
	int		 dfd;
	int		 curfd;		/* newest segment, opened to append */
	uint64_t	 max_bytes;	/* 0: unbounded */
	uint64_t	 next_seq;
	uint64_t	 acked;
	uint64_t	 bytes;
	uint64_t	 dropped;
	bool		 over;		/* in an over-the-bound episode */
	bool		 refusing;	/* routine appends refused, logged */
	bool		 dir_failing;	/* removed, not recreated, logged */
	bool		 write_failing;	/* spool_sync failing, logged */

	struct segment	*segs;
	size_t		 nsegs, segcap;

	struct pending	*q;		/* queue: q[qhead .. qlen) */
	size_t		 qhead, qlen, qcap;
	uint64_t	 qbytes;
};

/* Streams the lines of one file from a bounded, growing buffer. */
struct lines {
	int		 fd;
	char		*buf;
	size_t		 cap, start, end;
	uint64_t	 off;		/* file offset of buf[0] */
	uint64_t	 limit;		/* never read past this offset */
	bool		 eof;
};

enum line_kind {
	LINE_OK,
	LINE_LONG,		/* over LINE_CAP: contents skipped */
	LINE_TORN,		/* last line, no '\n' */
};

static void
seg_name(char *buf, size_t len, uint64_t name, const char *suffix)
{
	snprintf(buf, len, "%0*" PRIu64 SEG_SUFFIX "%s", SEG_DIGITS, name,
	    suffix);
}

/* Returns 1 and the seq for "NNNNNNNNNNNNNNNNNNNN.seg", else 0. */
static int
seg_parse_name(const char *s, uint64_t *namep)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < SEG_DIGITS; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return 0;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (strcmp(s + SEG_DIGITS, SEG_SUFFIX) != 0)
		return 0;
	*namep = v;
	return 1;
}

static int
seg_cmp(const void *a, const void *b)
{
	const struct segment *x = a, *y = b;

	return x->name < y->name ? -1 : x->name > y->name;
}

static void
lines_init(struct lines *lb, int fd, uint64_t limit)
{
	memset(lb, 0, sizeof(*lb));
	lb->fd = fd;
	lb->limit = limit;
	lb->cap = READ_CHUNK;
	lb->buf = xcalloc(1, lb->cap);
}

static void
lines_free(struct lines *lb)
{
	free(lb->buf);
	lb->buf = NULL;
}

/*
 * Next line without its '\n': 1 with *line, *len, its file offset *at and
 * its kind; 0 at the end; or -errno. An overlong line is skipped to its
 * '\n' so one bad line cannot make the buffer grow past LINE_CAP.
 */
static int
lines_next(struct lines *lb, const char **line, size_t *len, uint64_t *at,
    enum line_kind *kind)
{
	uint64_t skip_at = 0;
	bool skipping = false;
	size_t want;
	ssize_t n;
	char *nl;

	for (;;) {
		nl = lb->start < lb->end ?
		    memchr(lb->buf + lb->start, '\n', lb->end - lb->start) :
		    NULL;
		if (nl != NULL || (lb->eof && (lb->start < lb->end ||
		    skipping))) {
			*at = skipping ? skip_at : lb->off + lb->start;
			*line = lb->buf + lb->start;
			if (nl != NULL) {
				*len = (size_t)(nl - *line);
				*kind = skipping ? LINE_LONG : LINE_OK;
				lb->start += *len + 1;
			} else {
				*len = lb->end - lb->start;
				*kind = LINE_TORN;
				lb->start = lb->end;
			}
			return 1;
		}
		if (lb->eof)
			return 0;
		if (lb->start > 0) {
			memmove(lb->buf, lb->buf + lb->start,
			    lb->end - lb->start);
			lb->off += lb->start;
			lb->end -= lb->start;
			lb->start = 0;
		}
		if (lb->end == lb->cap) {
			if (lb->cap < LINE_CAP) {
				lb->cap = lb->cap * 2 > LINE_CAP ? LINE_CAP :
				    lb->cap * 2;
				lb->buf = xreallocarray(lb->buf, 1, lb->cap);
			} else {
				if (!skipping)
					skip_at = lb->off;
				skipping = true;
				lb->off += lb->end;
				lb->end = 0;
			}
		}
		want = lb->cap - lb->end;
		if (lb->off + lb->end >= lb->limit)
			want = 0;
		else if (lb->limit - (lb->off + lb->end) < want)
			want = (size_t)(lb->limit - (lb->off + lb->end));
		if (want == 0) {
			lb->eof = true;
			continue;
		}
		n = pread(lb->fd, lb->buf + lb->end, want,
		    (off_t)(lb->off + lb->end));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -errno;
		if (n == 0)
			lb->eof = true;
		lb->end += (size_t)n;
	}
}

/*
 * Parses one spool line. Returns the record (the caller owns it) with its
 * seq and importance, or NULL when it is not one. A record without the
 * flag counts as important: when in doubt, never drop.
 */
static json_t *
record_parse(const char *line, size_t len, uint64_t *seqp, bool *importantp)
{
	json_t *o, *v;

	o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o))
		goto bad;
	v = json_object_get(o, "seq");
	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		goto bad;
	*seqp = (uint64_t)json_integer_value(v);
	if (!json_is_string(json_object_get(o, "kind")) ||
	    json_object_get(o, "payload") == NULL)
		goto bad;
	v = json_object_get(o, "important");
	*importantp = json_is_boolean(v) ? json_is_true(v) : true;
	return o;
 bad:
	json_decref(o);
	return NULL;
}

static void
seg_count(struct segment *seg, uint64_t seq, bool important, uint64_t acked)
{
	if (seg->records == 0)
		seg->first = seq;
	seg->contiguous = seg->records == 0 ? 1 :
	    seg->contiguous && seq == seg->last + 1;
	seg->last = seq;
	seg->records++;
	if (seq > acked)
		seg->unacked++;
	if (!important)
		seg->routine++;
}

/*
 * Counts the valid records of a segment up to limit. *prevp is the highest
 * seq before it and is raised; a seq not above it is skipped, as is an
 * unparsable line. Recovering, those are logged and a torn last line is
 * cut off the file (it was never reported durable); seg->bytes is then the
 * length kept.
 */
static int
seg_scan(struct spool *s, struct segment *seg, int fd, uint64_t limit,
    uint64_t *prevp, bool recovering)
{
	char name[SEG_NAMELEN];
	struct lines lb;
	enum line_kind kind;
	const char *line;
	uint64_t at, seq;
	size_t len, lineno = 0;
	bool important;
	json_t *o;
	int r;

	seg_name(name, sizeof(name), seg->name, "");
	seg->records = seg->unacked = seg->routine = 0;
	seg->first = seg->last = 0;
	seg->contiguous = 1;
	lines_init(&lb, fd, limit);
	while ((r = lines_next(&lb, &line, &len, &at, &kind)) == 1) {
		lineno++;
		if (kind == LINE_TORN) {
			if (!recovering)
				continue;
			log_warnx("spool: %s: cutting off a torn last record "
			    "(%zu bytes at offset %" PRIu64 ")", name, len, at);
			if (ftruncate(fd, (off_t)at) == -1 ||
			    fdatasync(fd) == -1) {
				r = -errno;
				log_warn("spool: %s: truncate", name);
				goto out;
			}
			limit = at;
			break;
		}
		o = kind == LINE_OK ?
		    record_parse(line, len, &seq, &important) : NULL;
		if (o == NULL) {
			if (recovering)
				log_warnx("spool: %s line %zu: not a report, "
				    "skipped", name, lineno);
			continue;
		}
		json_decref(o);
		if (seq <= *prevp) {
			if (recovering)
				log_warnx("spool: %s line %zu: seq %" PRIu64
				    " not after %" PRIu64 ", skipped", name,
				    lineno, seq, *prevp);
			continue;
		}
		*prevp = seq;
		seg_count(seg, seq, important, s->acked);
	}
	if (r < 0) {
		log_warnx("spool: %s: read: %s", name, strerror(-r));
		goto out;
	}
	if (recovering)
		seg->bytes = limit;
	r = 0;
 out:
	lines_free(&lb);
	return r;
}

static int
spool_fsync_dir(struct spool *s)
{
	if (fsync(s->dfd) == -1) {
		log_warn("spool: %s: fsync", s->dir);
		return -errno;
	}
	return 0;
}

static void
seg_remove_at(struct spool *s, size_t i)
{
	s->bytes -= s->segs[i].bytes;
	if (i == s->nsegs - 1 && s->curfd != -1) {
		close(s->curfd);
		s->curfd = -1;
	}
	memmove(&s->segs[i], &s->segs[i + 1],
	    (s->nsegs - i - 1) * sizeof(s->segs[0]));
	s->nsegs--;
}

static int
spool_read_acked(struct spool *s)
{
	char path[PATH_MAX], buf[32], *end;
	unsigned long long v;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/" ACKED_FILE, s->dir);
	r = sysfile_read_small(path, buf, sizeof(buf), &len);
	if (r == -ENOENT) {
		s->acked = 0;
		return 0;
	}
	if (r < 0) {
		log_warnx("spool: %s: %s", path, strerror(-r));
		return r;
	}
	errno = 0;
	v = strtoull(buf, &end, 10);
	/* Guessing a lower watermark could reuse seqs: refuse instead. */
	if (buf[0] < '0' || buf[0] > '9' || errno != 0 ||
	    (*end != '\0' && strcmp(end, "\n") != 0)) {
		log_warnx("spool: %s: not a sequence number", path);
		return -EBADMSG;
	}
	s->acked = v;
	return 0;
}

/* Lists the segments, sorted; removes temporaries of an interrupted
 * rewrite. */
static int
spool_list(struct spool *s)
{
	struct dirent *de;
	uint64_t name;
	size_t n;
	DIR *d;
	int fd, r = 0;

	if ((fd = openat(s->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1 || (d = fdopendir(fd)) == NULL) {
		r = -errno;
		log_warn("spool: %s", s->dir);
		if (fd != -1)
			close(fd);
		return r;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		/* A segment rewrite's temp file, or the watermark's
		 * (sysfile_write_atomic's ".acked.XXXXXX") left by a crash. */
		if ((n > strlen(TMP_SUFFIX) && strcmp(de->d_name + n -
		    strlen(TMP_SUFFIX), TMP_SUFFIX) == 0) ||
		    strncmp(de->d_name, "." ACKED_FILE ".",
		    strlen("." ACKED_FILE ".")) == 0) {
			if (unlinkat(s->dfd, de->d_name, 0) == -1)
				log_warn("spool: %s/%s", s->dir, de->d_name);
			continue;
		}
		if (!seg_parse_name(de->d_name, &name))
			continue;
		if (s->nsegs == s->segcap) {
			s->segcap = s->segcap ? s->segcap * 2 : 16;
			s->segs = xreallocarray(s->segs, s->segcap,
			    sizeof(s->segs[0]));
		}
		memset(&s->segs[s->nsegs], 0, sizeof(s->segs[0]));
		s->segs[s->nsegs++].name = name;
	}
	if (errno != 0) {
		r = -errno;
		log_warn("spool: %s: readdir", s->dir);
	}
	closedir(d);
	if (s->nsegs > 1)
		qsort(s->segs, s->nsegs, sizeof(s->segs[0]), seg_cmp);
	return r;
}

/* Removes every segment file (their records live on, renumbered, in
 * RENUMBER_FILE). */
static int
spool_unlink_segments(struct spool *s)
{
	struct dirent *de;
	uint64_t v;
	DIR *d;
	int fd, r = 0;

	if ((fd = openat(s->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1 || (d = fdopendir(fd)) == NULL) {
		r = -errno;
		if (fd != -1)
			close(fd);
		return r;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (!seg_parse_name(de->d_name, &v))
			continue;
		if (unlinkat(s->dfd, de->d_name, 0) == -1 && errno != ENOENT) {
			r = -errno;
			break;
		}
	}
	if (r == 0 && errno != 0)
		r = -errno;
	closedir(d);
	return r;
}

/*
 * Completes a committed renumbering (RENUMBER_FILE exists; its first
 * record has seq base + 1): the old segments go, the watermark becomes
 * base, the file becomes the one segment. Every step can be repeated, so
 * a crash anywhere in here is finished by the next spool_open.
 */
static int
spool_renumber_finish(struct spool *s, uint64_t base)
{
	char name[SEG_NAMELEN], text[32];
	int r;

	if ((r = spool_unlink_segments(s)) < 0 ||
	    (r = spool_fsync_dir(s)) < 0)
		goto fail;
	snprintf(text, sizeof(text), "%" PRIu64 "\n", base);
	if (base > s->acked &&
	    (r = sysfile_write_atomic(s->dir, ACKED_FILE, text, 0600)) < 0)
		goto fail;
	if (base > s->acked)
		s->acked = base;
	seg_name(name, sizeof(name), base + 1, "");
	if (renameat(s->dfd, RENUMBER_FILE, s->dfd, name) == -1) {
		r = -errno;
		goto fail;
	}
	return spool_fsync_dir(s);
 fail:
	log_warnx("spool: %s: finishing a renumbering: %s", s->dir,
	    strerror(-r));
	return r;
}

/* At open: a renumbering that was committed but not finished. */
static int
spool_recover_renumber(struct spool *s)
{
	enum line_kind kind;
	struct lines lb;
	const char *line;
	uint64_t at, seq = 0;
	size_t len;
	bool important;
	json_t *o = NULL;
	int fd, r;

	if ((fd = openat(s->dfd, RENUMBER_FILE, O_RDONLY | O_CLOEXEC)) ==
	    -1)
		return errno == ENOENT ? 0 : -errno;
	lines_init(&lb, fd, UINT64_MAX);
	/* Written in full and fsynced before its rename: the first line
	 * is a whole record. */
	if ((r = lines_next(&lb, &line, &len, &at, &kind)) == 1 &&
	    kind == LINE_OK)
		o = record_parse(line, len, &seq, &important);
	lines_free(&lb);
	close(fd);
	if (o == NULL) {
		log_warnx("spool: %s/" RENUMBER_FILE ": no first record",
		    s->dir);
		return r < 0 ? r : -EBADMSG;
	}
	json_decref(o);
	log_warnx("spool: %s: finishing the renumbering interrupted at seq "
	    "%" PRIu64, s->dir, seq);
	return spool_renumber_finish(s, seq - 1);
}

static int
spool_recover(struct spool *s)
{
	char name[SEG_NAMELEN];
	uint64_t prev = 0;
	struct segment *seg;
	struct stat st;
	bool changed = false;
	size_t i;
	int fd, r;

	if ((r = spool_read_acked(s)) < 0 ||
	    (r = spool_recover_renumber(s)) < 0 || (r = spool_list(s)) < 0)
		return r;
	for (i = 0; i < s->nsegs; ) {
		seg = &s->segs[i];
		seg_name(name, sizeof(name), seg->name, "");
		if ((fd = openat(s->dfd, name, O_RDWR | O_CLOEXEC)) == -1 ||
		    fstat(fd, &st) == -1) {
			r = -errno;
			log_warn("spool: %s/%s", s->dir, name);
			if (fd != -1)
				close(fd);
			return r;
		}
		r = seg_scan(s, seg, fd, (uint64_t)st.st_size, &prev, true);
		close(fd);
		if (r < 0)
			return r;
		s->bytes += seg->bytes;
		/* prev already holds its seqs, so dropping it cannot
		 * lower the numbering. */
		if (seg->unacked == 0) {
			if (unlinkat(s->dfd, name, 0) == -1) {
				r = -errno;
				log_warn("spool: %s/%s", s->dir, name);
				return r;
			}
			seg_remove_at(s, i);
			changed = true;
			continue;
		}
		i++;
	}
	if (changed && (r = spool_fsync_dir(s)) < 0)
		return r;
	s->next_seq = (prev > s->acked ? prev : s->acked) + 1;
	return 0;
}

/*
 * The directory was removed under us (rm -rf, a cleanup script): every
 * open would fail, or worse, succeed in a deleted directory. Recreate it,
 * 0700, and carry on with what memory holds: the queue and the numbering.
 * The watermark goes to the highest seq used, so that no seq of a lost
 * report is ever reused. Returns 0 (nothing to do, or recreated) or -errno.
 */
static int
spool_check_dir(struct spool *s)
{
	char text[32];
	struct stat st;
	uint64_t lost = 0, top;
	size_t i;
	int fd, r;

	if (s->dfd != -1 && fstat(s->dfd, &st) == 0 && st.st_nlink > 0)
		return 0;
	for (i = 0; i < s->nsegs; i++)
		lost += s->segs[i].unacked;
	if (mkdir(s->dir, 0700) == -1 && errno != EEXIST) {
		r = -errno;
		if (!s->dir_failing)
			log_warn("spool: %s was removed and cannot be "
			    "recreated", s->dir);
		s->dir_failing = true;
		return r;
	}
	if ((fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fchmod(fd, 0700) == -1) {
		r = -errno;
		if (!s->dir_failing)
			log_warn("spool: %s", s->dir);
		s->dir_failing = true;
		if (fd != -1)
			close(fd);
		return r;
	}
	if (s->curfd != -1)
		close(s->curfd);
	s->curfd = -1;
	if (s->dfd != -1)
		close(s->dfd);
	s->dfd = fd;
	s->nsegs = 0;
	s->bytes = 0;
	top = s->next_seq - 1 - (s->qlen - s->qhead);
	if (top > s->acked) {
		snprintf(text, sizeof(text), "%" PRIu64 "\n", top);
		if ((r = sysfile_write_atomic(s->dir, ACKED_FILE, text,
		    0600)) < 0) {
			log_warnx("spool: %s/" ACKED_FILE ": %s", s->dir,
			    strerror(-r));
			return r;
		}
		s->acked = top;
	}
	s->dir_failing = false;
	log_warnx("spool: %s was removed while running: recreated (0700); "
	    "%" PRIu64 " unacknowledged reports in it are lost, numbering "
	    "goes on after seq %" PRIu64, s->dir, lost, s->acked);
	return 0;
}

int
spool_open(const char *dir, uint64_t max_bytes, struct spool **sp)
{
	struct spool *s;
	int r;

	*sp = NULL;
	s = xcalloc(1, sizeof(*s));
	s->dir = xstrdup(dir);
	s->dfd = s->curfd = -1;
	s->max_bytes = max_bytes;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		r = -errno;
		log_warn("spool: mkdir %s", dir);
		goto out;
	}
	if ((s->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		r = -errno;
		log_warn("spool: %s", dir);
		goto out;
	}
	if ((r = spool_recover(s)) < 0)
		goto out;
	*sp = s;
	s = NULL;	/* transferred */
	r = 0;
 out:
	spool_close(s);
	return r;
}

void
spool_close(struct spool *s)
{
	size_t i;

	if (s == NULL)
		return;
	/* Whatever is still queued was never reported durable. */
	for (i = s->qhead; i < s->qlen; i++)
		free(s->q[i].line);
	free(s->q);
	if (s->curfd != -1)
		close(s->curfd);
	if (s->dfd != -1)
		close(s->dfd);
	free(s->segs);
	free(s->dir);
	free(s);
}

/* Drops the oldest queued routine report; false if there is none. */
static bool
spool_drop_queued(struct spool *s)
{
	size_t i;

	for (i = s->qhead; i < s->qlen; i++)
		if (!s->q[i].important)
			break;
	if (i == s->qlen)
		return false;
	s->qbytes -= s->q[i].len;
	free(s->q[i].line);
	memmove(&s->q[i], &s->q[i + 1], (s->qlen - i - 1) * sizeof(s->q[0]));
	s->qlen--;
	s->dropped++;
	return true;
}

uint64_t
spool_append(struct spool *s, const char *kind, double time, json_t *payload,
    bool important)
{
	json_t *rec = NULL, *t;
	struct pending *p;
	uint64_t seq = 0;
	char *text = NULL;
	size_t len;

	if (kind == NULL || payload == NULL || (t = json_real(time)) == NULL) {
		log_warnx("spool: %s report without kind, payload or a "
		    "finite time: not spooled", kind ? kind : "a");
		goto out;
	}
	rec = json_object();
	json_object_set_new(rec, "seq", json_integer((json_int_t)s->next_seq));
	json_object_set_new(rec, "kind", json_string(kind));
	json_object_set_new(rec, "time", t);
	json_object_set_new(rec, "important", json_boolean(important));
	json_object_set(rec, "payload", payload);
	if ((text = json_dumps(rec, JSON_COMPACT)) == NULL) {
		log_warnx("spool: %s report cannot be encoded (invalid "
		    "UTF-8?): not spooled", kind);
		goto out;
	}
	len = strlen(text);
	if (len + 1 > SPOOL_RECORD_MAX) {
		log_warnx("spool: %s report of %zu bytes is over the limit "
		    "of %d: not spooled", kind, len, SPOOL_RECORD_MAX);
		goto out;
	}
	/* A disk full for long must not fill memory instead: the queue
	 * obeys the same bound, and only routine reports give way. */
	/* The newest state is worth more than an older one: make room by
	 * dropping the oldest queued routine reports first. */
	while (!important && s->max_bytes != 0 &&
	    s->qbytes + len + 1 > s->max_bytes && spool_drop_queued(s))
		;
	if (!important && s->max_bytes != 0 &&
	    s->qbytes + len + 1 > s->max_bytes) {
		if (!s->refusing)
			log_warnx("spool: %" PRIu64 " bytes queued and not "
			    "yet on disk: refusing routine reports",
			    s->qbytes);
		s->refusing = true;
		goto out;
	}
	if (s->qlen == s->qcap) {
		s->qcap = s->qcap ? s->qcap * 2 : 16;
		s->q = xreallocarray(s->q, s->qcap, sizeof(s->q[0]));
	}
	p = &s->q[s->qlen++];
	p->line = xcalloc(1, len + 1);
	memcpy(p->line, text, len);
	p->line[len] = '\n';
	p->len = len + 1;
	p->seq = seq = s->next_seq++;
	p->important = important;
	s->qbytes += p->len;
 out:
	free(text);
	json_decref(rec);
	json_decref(payload);
	return seq;
}

/* Makes the newest segment one that can take len more bytes: rotates at
 * SPOOL_SEGMENT_MAX, creates the file and makes its name durable. */
static int
spool_segment_for(struct spool *s, size_t len)
{
	char name[SEG_NAMELEN];
	struct segment *seg;
	int r;

	seg = s->nsegs > 0 ? &s->segs[s->nsegs - 1] : NULL;
	if (seg != NULL && (seg->bytes == 0 ||
	    seg->bytes + len <= SPOOL_SEGMENT_MAX)) {
		if (s->curfd != -1)
			return 0;
		seg_name(name, sizeof(name), seg->name, "");
		if ((s->curfd = openat(s->dfd, name, O_WRONLY | O_CLOEXEC)) ==
		    -1) {
			r = -errno;
			log_warn("spool: %s/%s", s->dir, name);
			return r;
		}
		return 0;
	}
	if (s->curfd != -1) {
		close(s->curfd);
		s->curfd = -1;
	}
	seg_name(name, sizeof(name), s->q[s->qhead].seq, "");
	if ((s->curfd = openat(s->dfd, name,
	    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1) {
		r = -errno;
		log_warn("spool: %s/%s", s->dir, name);
		return r;
	}
	if ((r = spool_fsync_dir(s)) < 0) {
		close(s->curfd);
		s->curfd = -1;
		unlinkat(s->dfd, name, 0);
		return r;
	}
	if (s->nsegs == s->segcap) {
		s->segcap = s->segcap ? s->segcap * 2 : 16;
		s->segs = xreallocarray(s->segs, s->segcap, sizeof(s->segs[0]));
	}
	seg = &s->segs[s->nsegs++];
	memset(seg, 0, sizeof(*seg));
	seg->name = s->q[s->qhead].seq;
	seg->contiguous = 1;
	return 0;
}

/* Writes n queued records from q[qhead] at off, IOV_MAX at a time. */
static int
spool_write_records(struct spool *s, size_t n, uint64_t off)
{
	struct iovec iov[IOV_MAX > 1024 ? 1024 : IOV_MAX];
	size_t done = 0, cnt, i, skip;
	ssize_t w;

	while (done < n) {
		cnt = n - done;
		if (cnt > sizeof(iov) / sizeof(iov[0]))
			cnt = sizeof(iov) / sizeof(iov[0]);
		for (i = 0; i < cnt; i++) {
			iov[i].iov_base = s->q[s->qhead + done + i].line;
			iov[i].iov_len = s->q[s->qhead + done + i].len;
		}
		i = 0;
		while (i < cnt) {
			w = pwritev(s->curfd, iov + i, (int)(cnt - i),
			    (off_t)off);
			if (w == -1 && errno == EINTR)
				continue;
			if (w == -1)
				return -errno;
			if (w == 0)
				return -EIO;
			off += (uint64_t)w;
			skip = (size_t)w;
			while (i < cnt && skip >= iov[i].iov_len)
				skip -= iov[i++].iov_len;
			if (i < cnt) {
				iov[i].iov_base = (char *)iov[i].iov_base +
				    skip;
				iov[i].iov_len -= skip;
			}
		}
		done += cnt;
	}
	return 0;
}

/* All of buf at off, or -errno: a short write is continued, so the error
 * reported is the one that stopped it, never a stale errno. */
static int
spool_pwrite_all(int fd, const char *buf, size_t len, uint64_t off)
{
	ssize_t w;

	while (len > 0) {
		w = pwrite(fd, buf, len, (off_t)off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -errno;
		if (w == 0)
			return -EIO;
		buf += w;
		len -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/*
 * Rewrites segment i without its routine and acknowledged records (temp,
 * fsync, rename, fsync dir), or removes it when nothing is left. *removedp
 * says which; *droppedp counts the unacknowledged routine records dropped.
 */
static int
spool_rewrite(struct spool *s, size_t i, bool *removedp, uint64_t *droppedp)
{
	char name[SEG_NAMELEN], tmp[SEG_NAMELEN];
	struct segment *seg = &s->segs[i], nseg;
	uint64_t prev, seq, at, off = 0;
	enum line_kind kind;
	struct lines lb;
	const char *line;
	size_t len;
	bool important;
	json_t *o;
	int in, out = -1, r;

	*removedp = false;
	*droppedp = 0;
	seg_name(name, sizeof(name), seg->name, "");
	seg_name(tmp, sizeof(tmp), seg->name, TMP_SUFFIX);
	if ((in = openat(s->dfd, name, O_RDONLY | O_CLOEXEC)) == -1) {
		r = -errno;
		log_warn("spool: %s/%s", s->dir, name);
		return r;
	}
	lines_init(&lb, in, seg->bytes);
	if ((out = openat(s->dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0600)) == -1) {
		r = -errno;
		log_warn("spool: %s/%s", s->dir, tmp);
		goto out;
	}
	memset(&nseg, 0, sizeof(nseg));
	nseg.name = seg->name;
	nseg.contiguous = 1;
	prev = i > 0 ? s->segs[i - 1].last : 0;
	while ((r = lines_next(&lb, &line, &len, &at, &kind)) == 1) {
		o = kind == LINE_OK ?
		    record_parse(line, len, &seq, &important) : NULL;
		if (o == NULL)
			continue;
		json_decref(o);
		if (seq <= prev)
			continue;
		prev = seq;
		if (seq <= s->acked)
			continue;
		if (!important) {
			(*droppedp)++;
			continue;
		}
		/* The line and its '\n' are contiguous in the buffer. */
		if ((r = spool_pwrite_all(out, line, len + 1, off)) < 0) {
			log_warnx("spool: %s/%s: write: %s", s->dir, tmp,
			    strerror(-r));
			goto out;
		}
		off += len + 1;
		seg_count(&nseg, seq, true, s->acked);
	}
	if (r < 0) {
		log_warnx("spool: %s/%s: read: %s", s->dir, name, strerror(-r));
		goto out;
	}
	if (nseg.records == 0) {
		if (unlinkat(s->dfd, name, 0) == -1) {
			r = -errno;
			log_warn("spool: %s/%s", s->dir, name);
			goto out;
		}
		seg_remove_at(s, i);
		*removedp = true;
	} else {
		if (fsync(out) == -1 || renameat(s->dfd, tmp, s->dfd,
		    name) == -1) {
			r = -errno;
			log_warn("spool: %s/%s: replace", s->dir, name);
			goto out;
		}
		tmp[0] = '\0';	/* renamed */
		nseg.bytes = off;
		s->bytes = s->bytes - seg->bytes + nseg.bytes;
		*seg = nseg;
	}
	r = spool_fsync_dir(s);
 out:
	lines_free(&lb);
	close(in);
	if (out != -1)
		close(out);
	if (tmp[0] != '\0')
		unlinkat(s->dfd, tmp, 0);
	return r;
}

/* Over the bound: the oldest routine records go first, never the newest
 * segment (it holds the highest seq) and never an important record. */
static void
spool_shed(struct spool *s)
{
	uint64_t dropped, total = 0;
	bool removed;
	size_t i = 0;

	while (i + 1 < s->nsegs && s->bytes > s->max_bytes) {
		if (s->segs[i].routine == 0 && s->segs[i].first > s->acked) {
			i++;
			continue;
		}
		if (spool_rewrite(s, i, &removed, &dropped) < 0)
			break;
		total += dropped;
		if (!removed)
			i++;
	}
	s->dropped += total;
	/* One warning per shedding, or per stretch spent over the bound
	 * with nothing left to drop. */
	if (total > 0 || (!s->over && s->bytes > s->max_bytes))
		log_warnx("spool: over its bound of %" PRIu64 " bytes: dropped "
		    "the %" PRIu64 " oldest routine reports, now %" PRIu64
		    " bytes%s", s->max_bytes, total, s->bytes,
		    s->bytes > s->max_bytes ? " (the rest are important and "
		    "kept over the bound)" : "");
	s->over = s->bytes > s->max_bytes;
}

int
spool_sync(struct spool *s)
{
	struct segment *seg;
	struct pending *p;
	uint64_t add;
	size_t n, i;
	int r;

	if (s->qhead < s->qlen && (r = spool_check_dir(s)) < 0)
		return r;
	while (s->qhead < s->qlen) {
		if ((r = spool_segment_for(s, s->q[s->qhead].len)) < 0)
			return r;
		seg = &s->segs[s->nsegs - 1];
		for (n = 0, add = 0; s->qhead + n < s->qlen; n++) {
			p = &s->q[s->qhead + n];
			if (seg->bytes + add > 0 &&
			    seg->bytes + add + p->len > SPOOL_SEGMENT_MAX)
				break;
			add += p->len;
		}
		r = spool_write_records(s, n, seg->bytes);
		if (r == 0 && fdatasync(s->curfd) == -1)
			r = -errno;
		if (r < 0) {
			errno = -r;
			/* Once per episode: the caller retries every second. */
			if (!s->write_failing)
				log_warn("spool: writing %zu reports", n);
			s->write_failing = true;
			/* No partial record may stay behind to be read as
			 * durable, nor be cut as torn after a crash. */
			if (ftruncate(s->curfd, (off_t)seg->bytes) == -1)
				log_warn("spool: truncate after a failed "
				    "write");
			return r;
		}
		for (i = 0; i < n; i++) {
			p = &s->q[s->qhead++];
			seg_count(seg, p->seq, p->important, s->acked);
			s->qbytes -= p->len;
			free(p->line);
		}
		seg->bytes += add;
		s->bytes += add;
	}
	s->qhead = s->qlen = 0;
	s->write_failing = false;
	if (s->refusing) {
		log_info("spool: queue written: routine reports accepted "
		    "again");
		s->refusing = false;
	}
	if (s->max_bytes != 0 && s->bytes > s->max_bytes)
		spool_shed(s);
	else if (s->over) {
		log_info("spool: back under its bound");
		s->over = false;
	}
	return 0;
}

json_t *
spool_read(struct spool *s, uint64_t after, size_t max_reports,
    size_t max_bytes)
{
	char name[SEG_NAMELEN];
	json_t *arr, *o;
	enum line_kind kind;
	struct lines lb;
	const char *line;
	uint64_t at, seq, floor, used = 0;
	size_t i, len;
	bool important, full = false;
	int fd, r = 0;

	if (spool_check_dir(s) < 0)
		return NULL;
	arr = json_array();
	floor = after > s->acked ? after : s->acked;
	for (i = 0; i < s->nsegs && !full && max_reports > 0; i++) {
		if (s->segs[i].records == 0 || s->segs[i].last <= floor)
			continue;
		seg_name(name, sizeof(name), s->segs[i].name, "");
		if ((fd = openat(s->dfd, name, O_RDONLY | O_CLOEXEC)) == -1) {
			log_warn("spool: %s/%s", s->dir, name);
			goto fail;
		}
		lines_init(&lb, fd, s->segs[i].bytes);
		while ((r = lines_next(&lb, &line, &len, &at, &kind)) == 1) {
			o = kind == LINE_OK ?
			    record_parse(line, len, &seq, &important) : NULL;
			if (o == NULL)
				continue;
			if (seq <= floor) {
				json_decref(o);
				continue;
			}
			if (json_array_size(arr) > 0 && used + len > max_bytes) {
				json_decref(o);
				full = true;
				break;
			}
			/* Ours, not the protocol's. */
			json_object_del(o, "important");
			json_array_append_new(arr, o);
			used += len;
			floor = seq;
			if (json_array_size(arr) == max_reports) {
				full = true;
				break;
			}
		}
		lines_free(&lb);
		close(fd);
		if (r < 0) {
			log_warnx("spool: %s/%s: read: %s", s->dir, name,
			    strerror(-r));
			goto fail;
		}
	}
	return arr;
 fail:
	json_decref(arr);
	return NULL;
}

int
spool_ack(struct spool *s, uint64_t ack)
{
	char name[SEG_NAMELEN], text[32];
	uint64_t durable, prev;
	struct segment *seg;
	bool removed = false;
	size_t i;
	int fd, r;

	if ((r = spool_check_dir(s)) < 0)
		return r;
	durable = s->next_seq - 1 - (s->qlen - s->qhead);
	if (ack > durable) {
		log_warnx("spool: the portal acknowledged seq %" PRIu64
		    ", past the last one spooled, %" PRIu64, ack, durable);
		ack = durable;
	}
	if (ack <= s->acked)
		return 0;
	snprintf(text, sizeof(text), "%" PRIu64 "\n", ack);
	/* Durable before any segment goes, so numbering never goes back. */
	if ((r = sysfile_write_atomic(s->dir, ACKED_FILE, text, 0600)) < 0) {
		log_warnx("spool: %s/" ACKED_FILE ": %s", s->dir,
		    strerror(-r));
		return r;
	}
	s->acked = ack;
	for (i = 0; i < s->nsegs; ) {
		seg = &s->segs[i];
		seg_name(name, sizeof(name), seg->name, "");
		if (seg->last <= ack) {
			if (unlinkat(s->dfd, name, 0) == -1) {
				/* Harmless: its records read as acked. */
				log_warn("spool: %s/%s", s->dir, name);
				seg->unacked = 0;
				i++;
				continue;
			}
			seg_remove_at(s, i);
			removed = true;
			continue;
		}
		if (seg->first <= ack) {
			if (seg->contiguous)
				seg->unacked = (size_t)(seg->last - ack);
			else if ((fd = openat(s->dfd, name,
			    O_RDONLY | O_CLOEXEC)) != -1) {
				prev = i > 0 ? s->segs[i - 1].last : 0;
				seg_scan(s, seg, fd, seg->bytes, &prev, false);
				close(fd);
			}
		}
		i++;
	}
	if (removed)
		return spool_fsync_dir(s);
	return 0;
}

json_t *
spool_queued_last(struct spool *s, const char *kind)
{
	const char *k;
	uint64_t seq;
	bool important;
	size_t i;
	json_t *o;

	for (i = s->qlen; i > s->qhead; i--) {
		o = record_parse(s->q[i - 1].line, s->q[i - 1].len - 1, &seq,
		    &important);
		k = json_string_value(json_object_get(o, "kind"));
		if (k != NULL && strcmp(k, kind) == 0) {
			json_object_del(o, "important");
			return o;
		}
		json_decref(o);
	}
	return NULL;
}

int
spool_renumber(struct spool *s, uint64_t base, size_t *np,
    uint64_t *old_firstp)
{
	char name[SEG_NAMELEN];
	enum line_kind kind;
	struct lines lb;
	struct segment nseg;
	const char *line;
	uint64_t at, seq, prev, off = 0;
	size_t i, len;
	bool important;
	char *text;
	json_t *o;
	int fd, out = -1, r = 0;

	*np = 0;
	*old_firstp = 0;
	if ((r = spool_check_dir(s)) < 0 ||
	    (s->qhead < s->qlen && (r = spool_sync(s)) < 0))
		return r;
	if (base < s->acked)
		base = s->acked;
	/* The base is the portal's word: near the top, the new seqs would
	 * pass what a JSON integer holds and read back as garbage. */
	if (base > SPOOL_SEQ_MAX)
		return -ERANGE;
	memset(&nseg, 0, sizeof(nseg));
	nseg.name = base + 1;
	nseg.contiguous = 1;
	if ((out = openat(s->dfd, RENUMBER_TMP, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0600)) == -1) {
		r = -errno;
		log_warn("spool: %s/" RENUMBER_TMP, s->dir);
		return r;
	}
	prev = 0;
	for (i = 0; i < s->nsegs && r == 0; i++) {
		seg_name(name, sizeof(name), s->segs[i].name, "");
		if ((fd = openat(s->dfd, name, O_RDONLY | O_CLOEXEC)) == -1) {
			r = -errno;
			log_warn("spool: %s/%s", s->dir, name);
			break;
		}
		lines_init(&lb, fd, s->segs[i].bytes);
		while ((r = lines_next(&lb, &line, &len, &at, &kind)) == 1) {
			o = kind == LINE_OK ?
			    record_parse(line, len, &seq, &important) : NULL;
			if (o == NULL)
				continue;
			if (seq <= prev || seq <= s->acked) {
				json_decref(o);
				continue;
			}
			prev = seq;
			if (*old_firstp == 0)
				*old_firstp = seq;
			seq = base + 1 + nseg.records;
			json_object_set_new(o, "seq",
			    json_integer((json_int_t)seq));
			text = json_dumps(o, JSON_COMPACT);
			json_decref(o);
			if (text == NULL) {
				r = -ENOMEM;
				break;
			}
			len = strlen(text);
			text[len] = '\n';	/* replaces the NUL */
			r = spool_pwrite_all(out, text, len + 1, off);
			free(text);
			if (r < 0)
				break;
			off += len + 1;
			seg_count(&nseg, seq, important, base);
		}
		lines_free(&lb);
		close(fd);
	}
	if (r < 0)
		goto out;
	if (nseg.records == 0)
		goto out;
	/* The commit point: from the rename on, the renumbered file is the
	 * spool, here or in the next spool_open. */
	if (fsync(out) == -1 || renameat(s->dfd, RENUMBER_TMP, s->dfd,
	    RENUMBER_FILE) == -1 || fsync(s->dfd) == -1) {
		r = -errno;
		log_warn("spool: %s: committing a renumbering", s->dir);
		goto out;
	}
	close(out);
	out = -1;
	if (s->curfd != -1) {
		close(s->curfd);
		s->curfd = -1;
	}
	if ((r = spool_renumber_finish(s, base)) < 0) {
		/* Committed: the next spool_open finishes it. Until then the
		 * old segments must not be sent again. */
		s->nsegs = 0;
		s->bytes = 0;
		goto out;
	}
	nseg.bytes = off;
	s->nsegs = 0;
	if (s->segcap == 0) {
		s->segcap = 16;
		s->segs = xreallocarray(s->segs, s->segcap, sizeof(s->segs[0]));
	}
	s->segs[s->nsegs++] = nseg;
	s->bytes = off;
	s->next_seq = base + nseg.records + 1;
	*np = nseg.records;
 out:
	if (out != -1) {
		close(out);
		unlinkat(s->dfd, RENUMBER_TMP, 0);
	}
	return r;
}

void
spool_stats(const struct spool *s, struct spool_stats *st)
{
	size_t i;

	memset(st, 0, sizeof(*st));
	st->next_seq = s->next_seq;
	st->acked = s->acked;
	for (i = 0; i < s->nsegs; i++)
		st->depth += s->segs[i].unacked;
	st->pending = s->qlen - s->qhead;
	st->bytes = s->bytes;
	st->dropped = s->dropped;
}
