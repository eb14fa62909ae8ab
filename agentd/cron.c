/*
 * Cron expressions for calendar schedules. Parsing turns each field into a
 * bit set; cron_next walks local calendar days (at most CRON_SEARCH_DAYS)
 * and maps the first matching wall time to an instant, so the time spent
 * on any expression is bounded whatever the admin wrote.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cron.h"

#define CRON_TOKEN_SHOWN	32	/* bytes of a bad token quoted back */
#define CRON_DAY		86400

struct cron_field {
	const char		*name;
	int			 min, max;
	const char *const	*names;		/* 3-letter names from min */
};

static const char *const cron_months[] = { "jan", "feb", "mar", "apr",
    "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL };
static const char *const cron_wdays[] = { "sun", "mon", "tue", "wed", "thu",
    "fri", "sat", NULL };

/* Day-of-week takes 7 for Sunday too; it is folded onto 0. */
static const struct cron_field cron_fields[5] = {
	{ "minute", 0, 59, NULL },
	{ "hour", 0, 23, NULL },
	{ "day-of-month", 1, 31, NULL },
	{ "month", 1, 12, cron_months },
	{ "day-of-week", 0, 7, cron_wdays },
};

static const struct {
	const char	*name;
	const char	*expr;
} cron_macros[] = {
	{ "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
	{ "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" },
	{ "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

/* Reads a number or a name at s (up to end) into *v; 0 or -1. */
static int
cron_value(const struct cron_field *f, const char *s, const char *end,
    int *v)
{
	size_t len = (size_t)(end - s);
	int n = 0;

	if (len == 0)
		return -1;
	if (isdigit((unsigned char)*s)) {
		for (; s < end; s++) {
			if (!isdigit((unsigned char)*s) || n > 1000)
				return -1;
			n = n * 10 + (*s - '0');
		}
		if (n < f->min || n > f->max)
			return -1;
		*v = n;
		return 0;
	}
	if (f->names == NULL || len != 3)
		return -1;
	for (int i = 0; f->names[i] != NULL; i++)
		if (strncasecmp(s, f->names[i], 3) == 0) {
			*v = f->min + i;
			return 0;
		}
	return -1;
}

/* One list item: "*", "N", "N-M", each optionally "/STEP". */
static int
cron_item(const struct cron_field *f, const char *s, const char *end,
    uint64_t *bits, char *err, size_t errlen)
{
	const char *slash, *dash;
	int lo, hi, step = 1, n = (int)(end - s);

	if (n > CRON_TOKEN_SHOWN)
		n = CRON_TOKEN_SHOWN;
	if ((slash = memchr(s, '/', (size_t)(end - s))) != NULL) {
		if (cron_value(&(struct cron_field){ f->name, 1, f->max, NULL },
		    slash + 1, end, &step) != 0) {
			snprintf(err, errlen, "%s: '%.*s': the step after '/' "
			    "must be a number from 1 to %d", f->name, n, s,
			    f->max);
			return -1;
		}
	} else
		slash = end;
	if (slash - s == 1 && *s == '*') {
		lo = f->min;
		hi = f->max;
	} else if ((dash = memchr(s, '-', (size_t)(slash - s))) != NULL) {
		if (cron_value(f, s, dash, &lo) != 0 ||
		    cron_value(f, dash + 1, slash, &hi) != 0)
			goto bad;
		if (lo > hi) {
			snprintf(err, errlen, "%s: '%.*s': the range runs "
			    "backwards", f->name, n, s);
			return -1;
		}
	} else {
		if (cron_value(f, s, slash, &lo) != 0)
			goto bad;
		/* "N/STEP" is "N-max/STEP", as cronie reads it. */
		hi = slash != end ? f->max : lo;
	}
	for (int v = lo; v <= hi; v += step)
		*bits |= 1ULL << v;
	return 0;
bad:
	snprintf(err, errlen, "%s: '%.*s' is not a number from %d to %d%s",
	    f->name, n, s, f->min, f->max, f->names == cron_months ?
	    " or jan-dec" : f->names == cron_wdays ? " or sun-sat" : "");
	return -1;
}

/* A comma-separated list of items into *bits. */
static int
cron_field_parse(const struct cron_field *f, const char *s, const char *end,
    uint64_t *bits, char *err, size_t errlen)
{
	const char *comma;

	*bits = 0;
	for (;;) {
		if ((comma = memchr(s, ',', (size_t)(end - s))) == NULL)
			comma = end;
		if (comma == s) {
			snprintf(err, errlen, "%s: empty item in the list",
			    f->name);
			return -1;
		}
		if (cron_item(f, s, comma, bits, err, errlen) != 0)
			return -1;
		if (comma == end)
			return 0;
		s = comma + 1;
	}
}

/* Whether any listed month has any listed day-of-month (29 February
 * counts: it comes round in leap years). */
static bool
cron_mday_possible(const struct cron *c)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };

	for (int m = 1; m <= 12; m++) {
		uint32_t days = (uint32_t)((2ULL << mdays[m - 1]) - 2);

		if ((c->month & (1u << m)) && (c->mday & days))
			return true;
	}
	return false;
}

int
cron_parse(const char *expr, struct cron *c, char *err, size_t errlen)
{
	const char *s = expr, *start[5], *end[5];
	uint64_t bits[5];
	size_t nf = 0;

	memset(c, 0, sizeof(*c));
	if (strlen(expr) > CRON_EXPR_MAX) {
		snprintf(err, errlen, "longer than %d bytes", CRON_EXPR_MAX);
		return -EINVAL;
	}
	s += strspn(s, " \t");
	if (*s == '@') {
		size_t n = strcspn(s, " \t");

		for (size_t i = 0; i < sizeof(cron_macros) /
		    sizeof(cron_macros[0]); i++)
			if (strlen(cron_macros[i].name) == n &&
			    strncasecmp(s, cron_macros[i].name, n) == 0 &&
			    s[n + strspn(s + n, " \t")] == '\0')
				return cron_parse(cron_macros[i].expr, c, err,
				    errlen);
		snprintf(err, errlen, "'%.*s' is not @yearly, @monthly, "
		    "@weekly, @daily or @hourly", (int)(n > CRON_TOKEN_SHOWN ?
		    CRON_TOKEN_SHOWN : n), s);
		return -EINVAL;
	}
	while (*s != '\0') {
		if (nf == 5) {
			snprintf(err, errlen, "more than 5 fields (minute hour "
			    "day-of-month month day-of-week)");
			return -EINVAL;
		}
		start[nf] = s;
		s += strcspn(s, " \t");
		end[nf++] = s;
		s += strspn(s, " \t");
	}
	if (nf < 5) {
		snprintf(err, errlen, "%zu field%s, expected 5 (minute hour "
		    "day-of-month month day-of-week)", nf, nf == 1 ? "" : "s");
		return -EINVAL;
	}
	for (size_t i = 0; i < 5; i++)
		if (cron_field_parse(&cron_fields[i], start[i], end[i],
		    &bits[i], err, errlen) != 0)
			return -EINVAL;
	c->minute = bits[0];
	c->hour = (uint32_t)bits[1];
	c->mday = (uint32_t)bits[2];
	c->month = (uint16_t)bits[3];
	c->wday = (uint8_t)((bits[4] | bits[4] >> 7) & 0x7f);
	c->mday_any = *start[2] == '*';
	c->wday_any = *start[4] == '*';
	/* Unless either day rule applies (then any listed weekday fires),
	 * the day-of-month must exist in a listed month. */
	if ((c->mday_any || c->wday_any) && !cron_mday_possible(c)) {
		snprintf(err, errlen, "day-of-month: '%.*s' is in none of the "
		    "months '%.*s'", (int)(end[2] - start[2] > CRON_TOKEN_SHOWN ?
		    CRON_TOKEN_SHOWN : end[2] - start[2]), start[2],
		    (int)(end[3] - start[3] > CRON_TOKEN_SHOWN ?
		    CRON_TOKEN_SHOWN : end[3] - start[3]), start[3]);
		return -EINVAL;
	}
	return 0;
}

static int
cron_month_days(const struct tm *tm)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };
	int y = tm->tm_year + 1900;

	if (tm->tm_mon == 1 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return mdays[tm->tm_mon];
}

/* The month is matched by the caller. */
static bool
cron_day_matches(const struct cron *c, const struct tm *tm)
{
	bool dm = c->mday & (1u << tm->tm_mday);
	bool wm = c->wday & (1u << tm->tm_wday);

	if (c->mday_any || c->wday_any)
		return dm && wm;
	return dm || wm;
}

/* The local clock's offset from UTC at t, in seconds east. */
static int
cron_gmtoff(time_t t, long *off)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL)
		return -1;
	*off = tm.tm_gmtoff;
	return 0;
}

/*
 * The instant at which the local clock first reads w (a wall time written
 * as if it were UTC). A local time t satisfies t + offset(t) = w; the
 * offsets that can apply are those in force within a day either side, so
 * each is tried. None fits when w is skipped by a spring-forward: then the
 * answer is the transition, the first instant whose wall time is past w.
 */
static int
cron_instant(time_t w, time_t *tp)
{
	static const long probe[] = { -CRON_DAY, -CRON_DAY / 2, 0,
	    CRON_DAY / 2, CRON_DAY };
	long off, omin = 0, omax = 0;
	time_t lo, hi, mid;
	bool found = false;

	for (size_t i = 0; i < sizeof(probe) / sizeof(probe[0]); i++) {
		long o, o2;

		if (cron_gmtoff(w + probe[i], &o) != 0)
			return -1;
		if (i == 0 || o < omin)
			omin = o;
		if (i == 0 || o > omax)
			omax = o;
		if (cron_gmtoff(w - o, &o2) != 0)
			return -1;
		if (o2 == o && (!found || w - o < *tp)) {
			*tp = w - o;
			found = true;
		}
	}
	if (found)
		return 0;
	lo = w - omax;
	hi = w - omin;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (cron_gmtoff(mid, &off) != 0)
			return -1;
		if (mid + off > w)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (cron_gmtoff(lo, &off) != 0 || lo + off <= w)
		return -1;
	*tp = lo;
	return 0;
}

int
cron_next(const struct cron *c, time_t after, time_t *next)
{
	struct tm tm;
	time_t wall0, day0, t = 0;

	/* Far beyond any real clock, yet with room for the search. */
	if (after < 2 * CRON_DAY || after > (time_t)95617584000LL)
		return -ERANGE;
	/* Honours a TZ or /etc/localtime changed since the last call. */
	tzset();
	if (localtime_r(&after, &tm) == NULL)
		return -ERANGE;
	/* Wall times up to after's own minute map to instants no later than
	 * after (the first occurrence of each is what fires), so the search
	 * starts at the next minute. */
	wall0 = timegm(&tm) - tm.tm_sec + 60;
	day0 = wall0 - wall0 % CRON_DAY;
	for (int i = 0; i < CRON_SEARCH_DAYS; i++) {
		time_t day = day0 + (time_t)i * CRON_DAY;

		if (gmtime_r(&day, &tm) == NULL)
			return -ERANGE;
		if (!(c->month & (1u << (tm.tm_mon + 1)))) {
			/* Straight on to the next month's first day. */
			i += cron_month_days(&tm) - tm.tm_mday;
			continue;
		}
		if (!cron_day_matches(c, &tm))
			continue;
		for (int h = 0; h < 24; h++) {
			if (!(c->hour & (1u << h)))
				continue;
			for (int m = 0; m < 60; m++) {
				time_t w = day + h * 3600 + m * 60;

				if (!(c->minute & (1ULL << m)) || w < wall0)
					continue;
				if (cron_instant(w, &t) != 0)
					return -ERANGE;
				if (t > after) {
					*next = t;
					return 0;
				}
			}
		}
	}
	return -ERANGE;
}
