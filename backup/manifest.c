/*
 * Manifest text: formatting and a bounded parser. Arbitrary bytes in names
 * are %XX-escaped so that a record is always one line of printable ASCII.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"
#include "xmalloc.h"

#define HEADER	"agentd-manifest 1"

#define POOL_BLOCK	65536

struct manifest_block {
	struct manifest_block *next;
	size_t		 used, cap;
	char		 data[];
};

void
manifest_init(struct manifest *m)
{
	memset(m, 0, sizeof(*m));
}

void
manifest_free(struct manifest *m)
{
	struct manifest_block *b, *next;

	for (b = m->pool; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(m->entries);
	free(m->sorted);
	manifest_init(m);
}

/* Room for len bytes and a NUL at the pool's end, not yet taken. */
static char *
pool_room(struct manifest *m, size_t len)
{
	struct manifest_block *b = m->pool;
	size_t	 cap;

	if (b == NULL || b->cap - b->used < len + 1) {
		cap = len + 1 > POOL_BLOCK ? len + 1 : POOL_BLOCK;
		b = xcalloc(1, sizeof(*b) + cap);
		b->cap = cap;
		b->next = m->pool;
		m->pool = b;
	}
	return b->data + b->used;
}

/* Takes the len bytes written at the room, and ends them. */
static char *
pool_take(struct manifest *m, size_t len)
{
	char	*p = m->pool->data + m->pool->used;

	p[len] = '\0';
	m->pool->used += len + 1;
	return p;
}

/* s (len bytes, which may already lie at the room) as a name shared by
 * every entry that has it. */
static char *
pool_name(struct manifest *m, const char *s, size_t len)
{
	char	*p;
	size_t	 i;

	for (i = 0; i < m->nnames; i++)
		if (strncmp(m->names[i], s, len) == 0 &&
		    m->names[i][len] == '\0')
			return m->names[i];
	p = pool_room(m, len);
	memmove(p, s, len);
	p = pool_take(m, len);
	if (m->nnames < MANIFEST_NAMES)
		m->names[m->nnames++] = p;
	return p;
}

static char *
pool_dup(struct manifest *m, const char *s)
{
	size_t	 len = strlen(s);

	memcpy(pool_room(m, len), s, len);
	return pool_take(m, len);
}

struct manifest_entry *
manifest_add(struct manifest *m, const struct manifest_entry *e)
{
	struct manifest_entry *n;

	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 256;
		m->entries = xreallocarray(m->entries, m->cap,
		    sizeof(*m->entries));
	}
	n = &m->entries[m->n++];
	*n = *e;
	n->path = pool_dup(m, e->path);
	n->uname = e->uname ? pool_name(m, e->uname, strlen(e->uname)) : NULL;
	n->gname = e->gname ? pool_name(m, e->gname, strlen(e->gname)) : NULL;
	n->link = e->link ? pool_dup(m, e->link) : NULL;
	free(m->sorted);
	m->sorted = NULL;
	return n;
}

/* A growing output line. */
struct line {
	char	*p;
	size_t	 len, cap;
};

static void
line_put(struct line *l, const char *s, size_t n)
{
	if (l->len + n + 1 > l->cap) {
		while (l->len + n + 1 > l->cap)
			l->cap = l->cap ? l->cap * 2 : 1024;
		l->p = xreallocarray(l->p, l->cap, 1);
	}
	memcpy(l->p + l->len, s, n);
	l->len += n;
	l->p[l->len] = '\0';
}

static void
line_printf(struct line *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
line_printf(struct line *l, const char *fmt, ...)
{
	char	 buf[256];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		line_put(l, buf, (size_t)n < sizeof(buf) ? (size_t)n :
		    sizeof(buf) - 1);
}

/* " VALUE" escaped; NULL or empty as "-". */
static void
line_escaped(struct line *l, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p, *run;
	char	 esc[3] = { '%', 0, 0 };

	line_put(l, " ", 1);
	if (s == NULL || *s == '\0') {
		line_put(l, "-", 1);
		return;
	}
	if (strcmp(s, "-") == 0) {
		line_put(l, "%2D", 3);
		return;
	}
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x21 || *p > 0x7e || *p == '%') {
			esc[1] = hex[*p >> 4];
			esc[2] = hex[*p & 0xf];
			line_put(l, esc, 3);
			continue;
		}
		/* A run of plain bytes at once: most names are one. */
		for (run = p; p[1] > 0x20 && p[1] < 0x7f && p[1] != '%'; p++)
			;
		line_put(l, (const char *)run, (size_t)(p - run) + 1);
	}
}

static void
format_entry(struct line *l, const struct manifest_entry *e)
{
	static const char digits[] = "0123456789abcdef";
	char	 type[2] = { e->type, '\0' }, hex[1 + 2 * sizeof(e->sha256)];
	size_t	 i;

	line_put(l, "e ", 2);
	line_put(l, type, 1);
	line_escaped(l, e->path);
	line_printf(l, " %" PRIu64 " %o %" PRIu32 " %" PRIu32, e->size,
	    (unsigned)e->mode, e->uid, e->gid);
	line_escaped(l, e->uname);
	line_escaped(l, e->gname);
	line_printf(l, " %" PRId64 ".%09ld %" PRId64 ".%09ld",
	    e->mtime_sec, e->mtime_nsec, e->ctime_sec, e->ctime_nsec);
	line_printf(l, " %" PRIu64 " %" PRIu64 " %" PRIu64, e->dev, e->ino,
	    e->nlink);
	if (e->has_rdev)
		line_printf(l, " %" PRIu32 ":%" PRIu32, e->rdev_major,
		    e->rdev_minor);
	else
		line_put(l, " -", 2);
	if (e->has_sha256) {
		hex[0] = ' ';
		for (i = 0; i < sizeof(e->sha256); i++) {
			hex[1 + 2 * i] = digits[e->sha256[i] >> 4];
			hex[2 + 2 * i] = digits[e->sha256[i] & 0xf];
		}
		line_put(l, hex, sizeof(hex));
	} else
		line_put(l, " -", 2);
	line_escaped(l, e->link);
	if (e->flags == 0)
		line_put(l, " -", 2);
	else {
		const char *sep = " ";

		if (e->flags & MANIFEST_CHANGED) {
			line_printf(l, "%schanged", sep);
			sep = ",";
		}
		if (e->flags & MANIFEST_UNREADABLE) {
			line_printf(l, "%sunreadable", sep);
			sep = ",";
		}
		if (e->flags & MANIFEST_SPARSE) {
			line_printf(l, "%ssparse", sep);
			sep = ",";
		}
		if (e->flags & MANIFEST_INPARENT)
			line_printf(l, "%sparent", sep);
	}
	line_put(l, "\n", 1);
}

int
manifest_format(const struct manifest *m, manifest_sink_fn sink, void *arg)
{
	struct line l = { 0 };
	size_t	 i;
	int	 r = 0;

	line_printf(&l, HEADER "\nsnapshot %s\ncreated %" PRId64
	    "\nstatus %s\n", m->id, m->created, m->partial ? "partial" : "ok");
	line_printf(&l, "kind %s\n", m->incremental ? "incremental" : "full");
	if (m->incremental)
		line_printf(&l, "parent %s\n", m->parent);
	if (m->job[0] != '\0')
		line_printf(&l, "job %s\n", m->job);
	if (m->finished != 0)
		line_printf(&l, "finished %" PRId64 "\n", m->finished);
	line_printf(&l, "totals %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
	    m->files, m->bytes, m->stored);
	for (i = 0; i < m->n; i++) {
		format_entry(&l, &m->entries[i]);
		/* Flush in pieces: the whole text of a big tree need not
		 * be in memory twice. */
		if (l.len >= 65536) {
			if ((r = sink(arg, l.p, l.len)) != 0)
				goto out;
			l.len = 0;
		}
	}
	line_printf(&l, "end %zu\n", m->n);
	r = sink(arg, l.p, l.len);
 out:
	free(l.p);
	return r;
}

/* Parsing: each helper takes the cursor and the end of the line. */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The next space-separated field: [*s, return) and *s moved past it. */
static int
next_field(const char **s, const char *end, const char **f, size_t *flen)
{
	const char *p = *s;

	if (p >= end || *p != ' ')
		return -1;
	p++;
	*f = p;
	while (p < end && *p != ' ')
		p++;
	*flen = (size_t)(p - *f);
	*s = p;
	return *flen == 0 ? -1 : 0;
}

/* Unescapes a field into m's pool; "-" is NULL. A decoded NUL is
 * refused. A name (user, group) is stored once for all entries. */
static int
field_unescape(struct manifest *m, const char *f, size_t len, size_t max,
    int name, char **out)
{
	char	*o;
	size_t	 i, n = 0;
	int	 hi, lo;

	*out = NULL;
	if (len == 1 && f[0] == '-')
		return 0;
	if (len > 3 * max)
		return -1;
	o = pool_room(m, len);
	for (i = 0; i < len; i++) {
		if (f[i] != '%') {
			if ((unsigned char)f[i] < 0x21 ||
			    (unsigned char)f[i] > 0x7e)
				return -1;
			o[n++] = f[i];
			continue;
		}
		if (i + 2 >= len)
			return -1;
		if ((hi = hexval(f[i + 1])) < 0 || (lo = hexval(f[i + 2])) < 0 ||
		    (hi == 0 && lo == 0))
			return -1;
		o[n++] = (char)(hi << 4 | lo);
		i += 2;
	}
	if (n > max)
		return -1;
	*out = name ? pool_name(m, o, n) : pool_take(m, n);
	return 0;
}

static int
field_u64(const char *f, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t	 i;

	if (len == 0 || len > 20)
		return -1;
	for (i = 0; i < len; i++) {
		if (f[i] < '0' || f[i] > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(f[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(f[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* SECONDS.NNNNNNNNN, seconds possibly negative. */
static int
field_time(const char *f, size_t len, int64_t *sec, long *nsec)
{
	uint64_t s, ns;
	int	 neg = 0;
	size_t	 dot;

	if (len > 0 && f[0] == '-') {
		neg = 1;
		f++;
		len--;
	}
	for (dot = 0; dot < len && f[dot] != '.'; dot++)
		;
	if (dot == len || len - dot - 1 != 9 ||
	    field_u64(f, dot, INT64_MAX, &s) != 0 ||
	    field_u64(f + dot + 1, 9, 999999999, &ns) != 0)
		return -1;
	*sec = neg ? -(int64_t)s : (int64_t)s;
	*nsec = (long)ns;
	return 0;
}

static int
path_ok(const char *p)
{
	size_t	 depth = 1;

	if (p == NULL || *p == '\0')
		return 0;
	for (; *p != '\0'; p++)
		if (*p == '/' && ++depth > MANIFEST_MAX_DEPTH)
			return 0;
	return 1;
}

static int
parse_entry(struct manifest *m, const char *s, const char *end,
    struct manifest_entry *e)
{
	const char *f;
	size_t	 n, i;
	uint64_t v, v2;
	const char *colon;

	memset(e, 0, sizeof(*e));
	/* "e T" */
	if (end - s < 3 || s[0] != 'e' || s[1] != ' ' ||
	    strchr("fdlhcbps", s[2]) == NULL || s[2] == '\0')
		return -1;
	e->type = s[2];
	s += 3;
	if (next_field(&s, end, &f, &n) != 0 ||
	    field_unescape(m, f, n, MANIFEST_MAX_PATH, 0, &e->path) != 0 ||
	    !path_ok(e->path))
		return -1;
	if (next_field(&s, end, &f, &n) != 0 ||
	    field_u64(f, n, INT64_MAX, &e->size) != 0)
		return -1;
	if (next_field(&s, end, &f, &n) != 0 || n > 7)
		return -1;
	for (v = 0, i = 0; i < n; i++) {
		if (f[i] < '0' || f[i] > '7')
			return -1;
		v = v * 8 + (uint64_t)(f[i] - '0');
	}
	e->mode = (uint32_t)v;
	if (next_field(&s, end, &f, &n) != 0 ||
	    field_u64(f, n, UINT32_MAX, &v) != 0)
		return -1;
	e->uid = (uint32_t)v;
	if (next_field(&s, end, &f, &n) != 0 ||
	    field_u64(f, n, UINT32_MAX, &v) != 0)
		return -1;
	e->gid = (uint32_t)v;
	if (next_field(&s, end, &f, &n) != 0 ||
	    field_unescape(m, f, n, 256, 1, &e->uname) != 0)
		return -1;
	if (next_field(&s, end, &f, &n) != 0 ||
	    field_unescape(m, f, n, 256, 1, &e->gname) != 0)
		return -1;
	if (next_field(&s, end, &f, &n) != 0 ||
	    field_time(f, n, &e->mtime_sec, &e->mtime_nsec) != 0)
		return -1;
	if (next_field(&s, end, &f, &n) != 0 ||
	    field_time(f, n, &e->ctime_sec, &e->ctime_nsec) != 0)
		return -1;
	if (next_field(&s, end, &f, &n) != 0 ||
	    field_u64(f, n, UINT64_MAX, &e->dev) != 0)
		return -1;
	if (next_field(&s, end, &f, &n) != 0 ||
	    field_u64(f, n, UINT64_MAX, &e->ino) != 0)
		return -1;
	if (next_field(&s, end, &f, &n) != 0 ||
	    field_u64(f, n, UINT64_MAX, &e->nlink) != 0)
		return -1;
	if (next_field(&s, end, &f, &n) != 0)
		return -1;
	if (!(n == 1 && f[0] == '-')) {
		colon = memchr(f, ':', n);
		if (colon == NULL ||
		    field_u64(f, (size_t)(colon - f), UINT32_MAX, &v) != 0 ||
		    field_u64(colon + 1, n - (size_t)(colon - f) - 1,
		    UINT32_MAX, &v2) != 0)
			return -1;
		e->has_rdev = 1;
		e->rdev_major = (uint32_t)v;
		e->rdev_minor = (uint32_t)v2;
	}
	if (next_field(&s, end, &f, &n) != 0)
		return -1;
	if (!(n == 1 && f[0] == '-')) {
		if (n != 64)
			return -1;
		for (i = 0; i < 32; i++) {
			int hi = hexval(f[2 * i]), lo = hexval(f[2 * i + 1]);

			if (hi < 0 || lo < 0)
				return -1;
			e->sha256[i] = (uint8_t)(hi << 4 | lo);
		}
		e->has_sha256 = 1;
	}
	if (next_field(&s, end, &f, &n) != 0 ||
	    field_unescape(m, f, n, MANIFEST_MAX_PATH, 0, &e->link) != 0)
		return -1;
	if ((e->type == 'l' || e->type == 'h') != (e->link != NULL))
		return -1;
	if (next_field(&s, end, &f, &n) != 0)
		return -1;
	if (!(n == 1 && f[0] == '-')) {
		const char *w = f, *fe = f + n, *c;

		while (w < fe) {
			for (c = w; c < fe && *c != ','; c++)
				;
			if (c - w == 7 && memcmp(w, "changed", 7) == 0)
				e->flags |= MANIFEST_CHANGED;
			else if (c - w == 10 && memcmp(w, "unreadable", 10) == 0)
				e->flags |= MANIFEST_UNREADABLE;
			else if (c - w == 6 && memcmp(w, "parent", 6) == 0)
				e->flags |= MANIFEST_INPARENT;
			else if (c - w == 6 && memcmp(w, "sparse", 6) == 0)
				e->flags |= MANIFEST_SPARSE;
			/* unknown words: a later version's, ignored */
			w = c + 1;
		}
	}
	return s == end ? 0 : -1;
}

/* Compares a line [s, end) with a literal prefix; the rest in *rest. */
static int
line_starts(const char *s, const char *end, const char *lit, const char **rest)
{
	size_t	 n = strlen(lit);

	if ((size_t)(end - s) < n || memcmp(s, lit, n) != 0)
		return 0;
	*rest = s + n;
	return 1;
}

int
manifest_name_valid(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len >= MANIFEST_ID_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return 0;
	return 1;
}

/* The optional header lines between "status" and the first entry, each
 * at most once; seen is the mask of those already met. 1 when the line
 * is one of them, 0 when it is not, -1 when it is malformed. */
#define HDR_KIND	0x1
#define HDR_PARENT	0x2
#define HDR_JOB		0x4
#define HDR_FINISHED	0x8
#define HDR_TOTALS	0x10

static int
parse_header_line(struct manifest *m, const char *s, const char *nl,
    int *seen)
{
	const char *rest, *f;
	size_t	 n;
	uint64_t v;

	if (line_starts(s, nl, "kind ", &rest)) {
		if (*seen & HDR_KIND)
			return -1;
		*seen |= HDR_KIND;
		if (nl - rest == 4 && memcmp(rest, "full", 4) == 0)
			m->incremental = 0;
		else if (nl - rest == 11 && memcmp(rest, "incremental", 11) == 0)
			m->incremental = 1;
		else
			return -1;
		return 1;
	}
	if (line_starts(s, nl, "parent ", &rest)) {
		if ((*seen & HDR_PARENT) ||
		    !manifest_name_valid(rest, (size_t)(nl - rest)))
			return -1;
		*seen |= HDR_PARENT;
		memcpy(m->parent, rest, (size_t)(nl - rest));
		m->parent[nl - rest] = '\0';
		return 1;
	}
	if (line_starts(s, nl, "job ", &rest)) {
		if ((*seen & HDR_JOB) ||
		    !manifest_name_valid(rest, (size_t)(nl - rest)))
			return -1;
		*seen |= HDR_JOB;
		memcpy(m->job, rest, (size_t)(nl - rest));
		m->job[nl - rest] = '\0';
		return 1;
	}
	if (line_starts(s, nl, "finished ", &rest)) {
		if ((*seen & HDR_FINISHED) || field_u64(rest,
		    (size_t)(nl - rest), INT64_MAX, &v) != 0)
			return -1;
		*seen |= HDR_FINISHED;
		m->finished = (int64_t)v;
		return 1;
	}
	if (line_starts(s, nl, "totals", &rest)) {
		if (*seen & HDR_TOTALS)
			return -1;
		*seen |= HDR_TOTALS;
		if (next_field(&rest, nl, &f, &n) != 0 ||
		    field_u64(f, n, UINT64_MAX, &m->files) != 0 ||
		    next_field(&rest, nl, &f, &n) != 0 ||
		    field_u64(f, n, UINT64_MAX, &m->bytes) != 0 ||
		    next_field(&rest, nl, &f, &n) != 0 ||
		    field_u64(f, n, UINT64_MAX, &m->stored) != 0 ||
		    rest != nl)
			return -1;
		return 1;
	}
	return 0;
}

static int
parse(struct manifest *m, const char *buf, size_t len, int header_only)
{
	struct manifest_entry e;
	const char *s = buf, *end = buf + len, *nl, *rest;
	uint64_t v;
	int	 state = 0, r = -EBADMSG, seen = 0, h;

	manifest_init(m);
	while (s < end) {
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL &&
		    header_only && state == 4) {
			/* The buffer ends inside the first entry: the
			 * header is complete if it is consistent. */
			if ((m->incremental != 0) ==
			    ((seen & HDR_PARENT) != 0))
				r = 0;
			goto out;
		}
		if (nl == NULL || nl - s > MANIFEST_MAX_LINE)
			goto out;
		switch (state) {
		case 0:
			if ((size_t)(nl - s) != strlen(HEADER) ||
			    memcmp(s, HEADER, strlen(HEADER)) != 0)
				goto out;
			break;
		case 1:
			if (!line_starts(s, nl, "snapshot ", &rest) ||
			    nl - rest <= 0 || nl - rest >= MANIFEST_ID_MAX)
				goto out;
			for (const char *c = rest; c < nl; c++)
				if (!((*c >= '0' && *c <= '9') ||
				    (*c >= 'A' && *c <= 'Z') ||
				    (*c >= 'a' && *c <= 'z') || *c == '-'))
					goto out;
			memcpy(m->id, rest, (size_t)(nl - rest));
			m->id[nl - rest] = '\0';
			break;
		case 2:
			if (!line_starts(s, nl, "created ", &rest))
				goto out;
			if (*rest == '-') {
				if (field_u64(rest + 1, (size_t)(nl - rest - 1),
				    INT64_MAX, &v) != 0)
					goto out;
				m->created = -(int64_t)v;
			} else {
				if (field_u64(rest, (size_t)(nl - rest),
				    INT64_MAX, &v) != 0)
					goto out;
				m->created = (int64_t)v;
			}
			break;
		case 3:
			if (nl - s == 9 && memcmp(s, "status ok", 9) == 0)
				m->partial = 0;
			else if (nl - s == 14 &&
			    memcmp(s, "status partial", 14) == 0)
				m->partial = 1;
			else
				goto out;
			break;
		case 4:
			if (m->n == 0 && (h = parse_header_line(m, s, nl,
			    &seen)) != 0) {
				if (h < 0)
					goto out;
				s = nl + 1;
				continue;
			}
			/* An incremental names its parent. */
			if ((m->incremental != 0) != ((seen & HDR_PARENT) != 0))
				goto out;
			if (header_only) {
				r = 0;
				goto out;
			}
			if (line_starts(s, nl, "end ", &rest)) {
				if (field_u64(rest, (size_t)(nl - rest),
				    MANIFEST_MAX_ENTRIES, &v) != 0 ||
				    v != m->n)
					goto out;
				state = 5;
				s = nl + 1;
				continue;
			}
			if (m->n >= MANIFEST_MAX_ENTRIES)
				goto out;
			if (parse_entry(m, s, nl, &e) != 0)
				goto out;
			/* Its strings are in m already: no manifest_add. */
			if (m->n == m->cap) {
				m->cap = m->cap ? m->cap * 2 : 256;
				m->entries = xreallocarray(m->entries, m->cap,
				    sizeof(*m->entries));
			}
			m->entries[m->n++] = e;
			s = nl + 1;
			continue;
		default:
			goto out;	/* anything after "end" */
		}
		state++;
		s = nl + 1;
	}
	if (state == 5 || (header_only && state == 4 &&
	    (m->incremental != 0) == ((seen & HDR_PARENT) != 0)))
		r = 0;
 out:
	if (r != 0)
		manifest_free(m);
	return r;
}

int
manifest_parse(struct manifest *m, const char *buf, size_t len)
{
	return parse(m, buf, len, 0);
}

int
manifest_parse_header(struct manifest *m, const char *buf, size_t len)
{
	return parse(m, buf, len, 1);
}

static const struct manifest *sort_m;

static int
sort_cmp(const void *a, const void *b)
{
	return strcmp(sort_m->entries[*(const size_t *)a].path,
	    sort_m->entries[*(const size_t *)b].path);
}

const struct manifest_entry *
manifest_find(struct manifest *m, const char *path)
{
	size_t	 lo, hi, mid;
	int	 c;

	if (m->n == 0)
		return NULL;
	if (m->sorted == NULL) {
		m->sorted = xreallocarray(NULL, m->n, sizeof(size_t));
		for (lo = 0; lo < m->n; lo++)
			m->sorted[lo] = lo;
		/* qsort has no argument pointer; the engine is not
		 * threaded around manifests. */
		sort_m = m;
		qsort(m->sorted, m->n, sizeof(size_t), sort_cmp);
		sort_m = NULL;
	}
	lo = 0;
	hi = m->n;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(path, m->entries[m->sorted[mid]].path);
		if (c == 0)
			return &m->entries[m->sorted[mid]];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}
