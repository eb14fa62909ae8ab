/*
 * series: fixed-size rings of samples, least squares over a window, and
 * their text form in the state dir.
 *
 * The text form, one record a line, numbers in C locale with 17
 * significant digits (they read back exactly):
 *	agentd-forecast 1
 *	series RESOURCE LIMIT MERGED SLOT_START NPOINTS ITEM
 *	T V				(NPOINTS lines, T increasing)
 *	...
 *	end
 * RESOURCE is space, inodes or memory; ITEM has every byte that is blank,
 * a control character or a backslash written as \ooo (as the kernel writes
 * mountinfo). The file is the agent's own, but it is read as untrusted:
 * every count is bounded (SERIES_SET_MAX series, SERIES_CAP points each,
 * SERIES_FILE_MAX bytes) and a file that breaks any rule is refused whole.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "series.h"
#include "xmalloc.h"

#define SERIES_MAGIC		"agentd-forecast 1"
#define SERIES_MERGED_MAX	(1U << 30)
/* A drop restarts the series only when it is larger than this share of
 * the limit: below it, deleting a log file is within a fill's noise. */
#define SERIES_DROP_MIN		0.005
/* One line of the text form: the series line with a fully escaped item. */
#define SERIES_LINE_MAX		(SERIES_ITEM_MAX * 4 + 256)

static const char *const series_names[SERIES_NRESOURCES] = {
	[SERIES_SPACE] = "space",
	[SERIES_INODES] = "inodes",
	[SERIES_MEMORY] = "memory",
};

const char *
series_resource_name(enum series_resource res)
{
	if ((unsigned)res >= SERIES_NRESOURCES)
		return "?";
	return series_names[res];
}

int
series_resource_parse(const char *name)
{
	for (int i = 0; i < SERIES_NRESOURCES; i++)
		if (strcmp(name, series_names[i]) == 0)
			return i;
	return -1;
}

struct series *
series_new(enum series_resource res, const char *item)
{
	struct series *s = xcalloc(1, sizeof(*s));

	s->resource = res;
	s->item = xstrndup(item, SERIES_ITEM_MAX - 1);
	return s;
}

void
series_free(struct series *s)
{
	if (s == NULL)
		return;
	free(s->item);
	free(s);
}

void
series_clear(struct series *s)
{
	s->head = s->n = s->merged = 0;
	s->slot_start = 0;
}

/* The i-th point, oldest first. SERIES_CAP is a power of two. */
static inline struct series_point *
series_at(const struct series *s, unsigned i)
{
	return (struct series_point *)&s->pt[(s->head + i) & (SERIES_CAP - 1)];
}

_Static_assert((SERIES_CAP & (SERIES_CAP - 1)) == 0,
    "SERIES_CAP must be a power of two");

void
series_add(struct series *s, const struct series_params *p, double t,
    double v, double limit)
{
	struct series_point *last;
	double lo, hi, slot;

	if (!isfinite(t) || !isfinite(v) || v < 0 || !isfinite(limit) ||
	    limit < 0)
		return;
	s->limit = limit;
	/* The clock stepped back: what lies after t never happened on the
	 * clock we now read, and a line through it would be nonsense. */
	while (s->n > 0 && series_at(s, s->n - 1)->t > t) {
		s->n--;
		s->merged = 0;
	}
	while (s->n > 0 && series_at(s, 0)->t < t - p->window) {
		s->head = (s->head + 1) & (SERIES_CAP - 1);
		s->n--;
	}
	if (s->n == 0)
		series_clear(s);
	if (s->n > 0) {
		last = series_at(s, s->n - 1);
		lo = hi = last->v;
		for (unsigned i = 0; i + 1 < s->n; i++) {
			double x = series_at(s, i)->v;

			lo = x < lo ? x : lo;
			hi = x > hi ? x : hi;
		}
		/* Cleaned up: the fill before the drop says nothing about the
		 * fill after it. */
		if (last->v - v > SERIES_DROP_MIN * limit &&
		    last->v - v > (hi - lo) / 2)
			series_clear(s);
	}
	slot = p->window / SERIES_CAP;
	if (s->n > 0 && (series_at(s, s->n - 1)->t == t || (s->merged > 0 &&
	    t >= s->slot_start && t - s->slot_start < slot))) {
		/* Points stay strictly ordered in time: one at the same
		 * time as the newest joins it too. */
		if (s->merged == 0) {
			s->merged = 1;
			s->slot_start = t;
		}
		last = series_at(s, s->n - 1);
		last->t = (last->t * s->merged + t) / (s->merged + 1);
		last->v = (last->v * s->merged + v) / (s->merged + 1);
		if (s->merged < SERIES_MERGED_MAX)
			s->merged++;
		return;
	}
	if (s->n == SERIES_CAP) {
		s->head = (s->head + 1) & (SERIES_CAP - 1);
		s->n--;
	}
	last = series_at(s, s->n++);
	last->t = t;
	last->v = v;
	s->merged = 1;
	s->slot_start = t;
}

enum series_verdict
series_forecast(const struct series *s, const struct series_params *p,
    double now, struct series_fit *f)
{
	double st = 0, sv = 0, mt, mv, sxx = 0, sxy = 0, syy = 0, first = 0,
	    last = 0;
	unsigned n = 0;

	memset(f, 0, sizeof(*f));
	/* Two passes over at most SERIES_CAP points: deviations from the
	 * means keep the sums exact enough with times near 1.7e9 s. */
	for (unsigned i = 0; i < s->n; i++) {
		const struct series_point *q = series_at(s, i);

		if (q->t < now - p->window || q->t > now)
			continue;
		if (n++ == 0)
			first = q->t;
		last = q->t;
		st += q->t - now;
		sv += q->v;
	}
	f->n = n;
	f->span = last - first;
	if (n == 0 || n < p->min_samples)
		return f->verdict = SERIES_FEW;
	if (f->span < p->min_span || f->span <= 0)
		return f->verdict = SERIES_SHORT;
	mt = st / n;
	mv = sv / n;
	for (unsigned i = 0; i < s->n; i++) {
		const struct series_point *q = series_at(s, i);
		double dt, dv;

		if (q->t < now - p->window || q->t > now)
			continue;
		dt = q->t - now - mt;
		dv = q->v - mv;
		sxx += dt * dt;
		sxy += dt * dv;
		syy += dv * dv;
	}
	if (sxx <= 0)
		return f->verdict = SERIES_SHORT;
	f->slope = sxy / sxx;
	f->r2 = syy > 0 ? sxy * sxy / (sxx * syy) : 0;
	f->value = mv - f->slope * mt;	/* the line at now */
	if (f->slope <= 0 || syy <= 0)
		return f->verdict = SERIES_NOT_GROWING;
	if (f->r2 < p->min_fit)
		return f->verdict = SERIES_NOISE;
	f->eta = (s->limit - f->value) / f->slope;
	if (f->eta < 0)
		f->eta = 0;
	if (f->eta > p->horizon)
		return f->verdict = SERIES_FAR;
	return f->verdict = SERIES_FORECAST;
}

/* ------------------------------------------------------------------ */
/* The set */

struct series *
series_set_find(struct series_set *set, enum series_resource res,
    const char *item)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->s[i]->resource == res &&
		    strcmp(set->s[i]->item, item) == 0)
			return set->s[i];
	return NULL;
}

struct series *
series_set_get(struct series_set *set, enum series_resource res,
    const char *item)
{
	struct series *s;

	if ((s = series_set_find(set, res, item)) != NULL)
		return s;
	if (set->n >= SERIES_SET_MAX)
		return NULL;
	s = series_new(res, item);
	set->s = xreallocarray(set->s, set->n + 1, sizeof(*set->s));
	set->s[set->n++] = s;
	return s;
}

void
series_set_unsee(struct series_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		set->s[i]->seen = false;
}

size_t
series_set_sweep(struct series_set *set, unsigned mask)
{
	size_t o = 0, gone = 0;

	for (size_t i = 0; i < set->n; i++) {
		if (!set->s[i]->seen && (mask & (1U << set->s[i]->resource))) {
			series_free(set->s[i]);
			gone++;
			continue;
		}
		set->s[o++] = set->s[i];
	}
	set->n = o;
	return gone;
}

void
series_set_clear(struct series_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		series_free(set->s[i]);
	free(set->s);
	set->s = NULL;
	set->n = 0;
}

/* ------------------------------------------------------------------ */
/* The text form */

static void
series_escape(FILE *f, const char *item)
{
	for (const unsigned char *p = (const unsigned char *)item; *p != '\0';
	    p++) {
		if (*p <= ' ' || *p == 0x7f || *p == '\\')
			fprintf(f, "\\%03o", *p);
		else
			fputc(*p, f);
	}
}

void
series_set_format(const struct series_set *set, char **out)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if ((f = open_memstream(&buf, &len)) == NULL)
		fatal("open_memstream");
	fprintf(f, "%s\n", SERIES_MAGIC);
	for (size_t i = 0; i < set->n; i++) {
		const struct series *s = set->s[i];

		fprintf(f, "series %s %.17g %u %.17g %u ",
		    series_resource_name(s->resource), s->limit, s->merged,
		    s->slot_start, s->n);
		series_escape(f, s->item);
		fputc('\n', f);
		for (unsigned k = 0; k < s->n; k++)
			fprintf(f, "%.17g %.17g\n", series_at(s, k)->t,
			    series_at(s, k)->v);
	}
	fprintf(f, "end\n");
	if (fclose(f) != 0 || buf == NULL)
		fatal("open_memstream");
	*out = buf;
}

/* Decodes \ooo escapes into out (size SERIES_ITEM_MAX); -EINVAL when in
 * is malformed, too long, or decodes to a NUL. */
static int
series_unescape(const char *in, char *out)
{
	size_t o = 0;

	for (; *in != '\0'; o++) {
		if (o + 1 >= SERIES_ITEM_MAX)
			return -EINVAL;
		if (*in != '\\') {
			out[o] = *in++;
			continue;
		}
		if (in[1] < '0' || in[1] > '3' || in[2] < '0' || in[2] > '7' ||
		    in[3] < '0' || in[3] > '7' ||
		    (in[1] == '0' && in[2] == '0' && in[3] == '0'))
			return -EINVAL;
		out[o] = (char)((in[1] - '0') << 6 | (in[2] - '0') << 3 |
		    (in[3] - '0'));
		in += 4;
	}
	out[o] = '\0';
	return o > 0 ? 0 : -EINVAL;
}

static int
series_number(const char *s, double *out)
{
	char *end;

	if (*s == '\0')
		return -EINVAL;
	errno = 0;
	*out = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(*out))
		return -EINVAL;
	return 0;
}

static int
series_count(const char *s, unsigned long max, unsigned *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static void
series_err(char *err, size_t errlen, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
series_err(char *err, size_t errlen, unsigned line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (errlen > 0)
		snprintf(err, errlen, "line %u: %s", line, msg);
}

/* Keeps the points of s in [now - window, now]. */
static void
series_trim(struct series *s, double now, double window)
{
	while (s->n > 0 && series_at(s, s->n - 1)->t > now) {
		s->n--;
		s->merged = 0;
	}
	while (s->n > 0 && series_at(s, 0)->t < now - window) {
		s->head = (s->head + 1) & (SERIES_CAP - 1);
		s->n--;
	}
	if (s->n == 0)
		series_clear(s);
}

int
series_set_parse(const char *buf, size_t len, double now, double window,
    struct series_set *set, char *err, size_t errlen)
{
	const char *p = buf, *end = buf + len, *nl;
	char *line = NULL, *tok[8], *save, *t, *item = NULL;
	struct series *s = NULL;
	unsigned lineno = 0, want = 0, merged = 0, npts = 0;
	double limit, slot, tv, vv;
	bool done = false;
	size_t ntok;
	int res, r = -EINVAL;

	memset(set, 0, sizeof(*set));
	item = xcalloc(1, SERIES_ITEM_MAX);
	if (len > SERIES_FILE_MAX) {
		series_err(err, errlen, 0, "longer than %zu bytes",
		    (size_t)SERIES_FILE_MAX);
		goto out;
	}
	while (p < end) {
		if ((nl = memchr(p, '\n', end - p)) == NULL) {
			series_err(err, errlen, lineno + 1, "no newline: "
			    "truncated");
			goto out;
		}
		lineno++;
		if ((size_t)(nl - p) > SERIES_LINE_MAX ||
		    memchr(p, '\0', nl - p) != NULL) {
			series_err(err, errlen, lineno, "too long or binary");
			goto out;
		}
		free(line);
		line = xstrndup(p, nl - p);
		p = nl + 1;
		if (done) {
			series_err(err, errlen, lineno, "data after end");
			goto out;
		}
		if (lineno == 1) {
			if (strcmp(line, SERIES_MAGIC) != 0) {
				series_err(err, errlen, lineno, "not '%s'",
				    SERIES_MAGIC);
				goto out;
			}
			continue;
		}
		ntok = 0;
		save = NULL;
		for (t = strtok_r(line, " ", &save); t != NULL;
		    t = strtok_r(NULL, " ", &save)) {
			if (ntok == sizeof(tok) / sizeof(tok[0])) {
				series_err(err, errlen, lineno, "too many "
				    "fields");
				goto out;
			}
			tok[ntok++] = t;
		}
		if (want > 0) {
			struct series_point *q;

			if (ntok != 2 || series_number(tok[0], &tv) != 0 ||
			    series_number(tok[1], &vv) != 0 || vv < 0) {
				series_err(err, errlen, lineno, "not a point");
				goto out;
			}
			if (s->n > 0 && tv <= series_at(s, s->n - 1)->t) {
				series_err(err, errlen, lineno, "points out "
				    "of order");
				goto out;
			}
			q = series_at(s, s->n++);
			q->t = tv;
			q->v = vv;
			if (--want == 0) {
				/* A slot that started after its point is not
				 * one this code wrote: start a new one. */
				if (s->slot_start > tv)
					s->merged = 0;
				series_trim(s, now, window);
			}
			continue;
		}
		if (ntok == 1 && strcmp(tok[0], "end") == 0) {
			done = true;
			continue;
		}
		if (ntok != 7 || strcmp(tok[0], "series") != 0 ||
		    (res = series_resource_parse(tok[1])) < 0 ||
		    series_number(tok[2], &limit) != 0 || limit < 0 ||
		    series_count(tok[3], SERIES_MERGED_MAX, &merged) != 0 ||
		    series_number(tok[4], &slot) != 0 ||
		    series_count(tok[5], SERIES_CAP, &npts) != 0 ||
		    series_unescape(tok[6], item) != 0) {
			series_err(err, errlen, lineno, "not a series line");
			goto out;
		}
		if (series_set_find(set, res, item) != NULL) {
			series_err(err, errlen, lineno, "%s series given "
			    "twice", series_resource_name(res));
			goto out;
		}
		if ((s = series_set_get(set, res, item)) == NULL) {
			series_err(err, errlen, lineno, "more than %d series",
			    SERIES_SET_MAX);
			goto out;
		}
		s->limit = limit;
		s->merged = npts > 0 ? merged : 0;
		s->slot_start = slot;
		want = npts;
	}
	if (!done) {
		series_err(err, errlen, lineno, lineno == 0 ? "empty" :
		    "no end line: truncated");
		goto out;
	}
	r = 0;
 out:
	free(line);
	free(item);
	if (r != 0)
		series_set_clear(set);
	return r;
}
