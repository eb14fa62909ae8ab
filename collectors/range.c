/*
 * Nagios threshold ranges (monitoring-plugins development guidelines):
 * [@]start:end, start defaults to 0, "~" is -infinity, an empty end is
 * +infinity; alert when outside start..end, or inside with "@".
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "range.h"
#include "result.h"

/* Parses a whole number token; nothing else may follow it. */
static int
range_number(const char *s, size_t len, double *out)
{
	char buf[64], *end;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	*out = strtod(buf, &end);
	if (errno != 0 || *end != '\0' || !isfinite(*out))
		return -EINVAL;
	return 0;
}

int
range_parse(const char *text, struct range *r)
{
	const char *colon, *p = text;
	struct range n = { 0 };

	*r = (struct range){ 0 };
	if (*p == '\0')
		return 0;
	if (*p == '@') {
		n.inside = true;
		p++;
	}
	if ((colon = strchr(p, ':')) == NULL) {
		/* "10": 0..10 */
		if (range_number(p, strlen(p), &n.end) != 0)
			return -EINVAL;
	} else {
		if (colon == p + 1 && *p == '~')
			n.start_inf = true;
		else if (colon != p &&
		    range_number(p, colon - p, &n.start) != 0)
			return -EINVAL;
		if (colon[1] == '\0')
			n.end_inf = true;
		else if (range_number(colon + 1, strlen(colon + 1), &n.end) != 0)
			return -EINVAL;
	}
	if (!n.start_inf && !n.end_inf && n.start > n.end)
		return -EINVAL;
	n.set = true;
	*r = n;
	return 0;
}

bool
range_alert(const struct range *r, double value)
{
	bool within;

	if (!r->set)
		return false;
	within = (r->start_inf || value >= r->start) &&
	    (r->end_inf || value <= r->end);
	return r->inside ? within : !within;
}

/* The shorter of %.15g and %.17g that reads back as v: %g's six digits
 * would turn a threshold of 216442024755 bytes into 2.16442e+11. */
static void
range_format_number(char *buf, size_t len, double v)
{
	snprintf(buf, len, "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, len, "%.17g", v);
}

void
range_format(const struct range *r, char *buf, size_t len)
{
	char start[40] = "", end[32] = "", num[32];

	if (len == 0)
		return;
	if (!r->set) {
		buf[0] = '\0';
		return;
	}
	if (r->start_inf)
		snprintf(start, sizeof(start), "~:");
	else if (r->start != 0) {
		range_format_number(num, sizeof(num), r->start);
		snprintf(start, sizeof(start), "%s:", num);
	} else if (r->end_inf)
		snprintf(start, sizeof(start), "0:");
	if (!r->end_inf)
		range_format_number(end, sizeof(end), r->end);
	snprintf(buf, len, "%s%s%s", r->inside ? "@" : "", start, end);
}

void
range_describe(const struct range *r, char *buf, size_t len)
{
	if (r->inside)
		snprintf(buf, len, "inside %.15g:%.15g", r->start, r->end);
	else if (r->start_inf || (r->start == 0 && !r->end_inf))
		snprintf(buf, len, "> %.15g", r->end);
	else if (r->end_inf)
		snprintf(buf, len, "< %.15g", r->start);
	else
		snprintf(buf, len, "outside %.15g:%.15g", r->start, r->end);
}

void
range_why(const struct range *r, double value, const char *unit, char *buf,
    size_t len)
{
	char text[PERF_RANGE_MAX];

	range_format(r, text, sizeof(text));
	if (r->inside)
		snprintf(buf, len, "inside %s%s", text + 1, unit);
	else if (!r->end_inf && value > r->end)
		snprintf(buf, len, "> %g%s", r->end, unit);
	else if (!r->start_inf && value < r->start)
		snprintf(buf, len, "< %g%s", r->start, unit);
	else
		snprintf(buf, len, "outside %s%s", text, unit);
}

int
range_eval(const struct range *warn, const struct range *crit, double value)
{
	if (range_alert(crit, value))
		return STATE_CRITICAL;
	if (range_alert(warn, value))
		return STATE_WARNING;
	return STATE_OK;
}

void
range_to_perf(struct perf *p, const struct range *warn,
    const struct range *crit)
{
	range_format(warn, p->warn, sizeof(p->warn));
	range_format(crit, p->crit, sizeof(p->crit));
}
