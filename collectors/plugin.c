/*
 * Parser for Nagios / monitoring-plugins output (exit code, summary, long
 * text, perfdata) into a struct result. Plugin output is untrusted: every
 * byte is bounded and cleaned here, and nothing in it is ever fatal.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "range.h"
#include "result.h"
#include "xmalloc.h"

#define LONG_CAP	(RESULT_LONG_MAX - 1 - PLUGIN_LONG_RESERVE)
#define NUMBER_MAX	64	/* longest number text we convert */

/* Counts of perfdata problems, reported once each in the long text. */
struct perf_stats {
	unsigned	malformed;	/* items skipped */
	unsigned	bad_fields;	/* warn/crit/min/max dropped */
	unsigned	over_limit;	/* valid items past RESULT_PERF_MAX */
};

/* Long text being assembled, bounded by LONG_CAP. */
struct long_buf {
	char	*buf;
	size_t	 used;
	bool	 cut;
};

static bool
is_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF), or 0 when s[0] does not
 * start one.
 */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* C0 controls but tab, DEL, and the C1 range U+0080..U+009F (whose 0x9b
 * is a terminal CSI). */
static bool
is_control(const unsigned char *s, size_t len)
{
	if (len == 1)
		return (s[0] < 0x20 && s[0] != '\t') || s[0] == 0x7f;
	return len == 2 && s[0] == 0xc2 && s[1] < 0xa0;
}

/*
 * Copies n bytes of src into dst, at most cap bytes, control characters
 * and bytes of invalid sequences as '?'. Never splits a character. Returns
 * the bytes written (dst is not terminated); sets *cut when src did not fit.
 */
static size_t
text_clean(char *dst, size_t cap, const char *src, size_t n, bool *cut)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0, k;

	while (i < n) {
		k = utf8_len(s + i, n - i);
		if (k == 0 || is_control(s + i, k)) {
			if (o + 1 > cap)
				goto full;
			dst[o++] = '?';
			i += k == 0 ? 1 : k;
		} else {
			if (o + k > cap)
				goto full;
			memcpy(dst + o, s + i, k);
			o += k;
			i += k;
		}
	}
	return o;
 full:
	*cut = true;
	return o;
}

/* True when every byte of s is valid UTF-8 and none is a control (tab
 * included): the test for a perfdata label or range text. */
static bool
text_is_clean(const char *src, size_t n)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, k;

	while (i < n) {
		k = utf8_len(s + i, n - i);
		if (k == 0 || is_control(s + i, k) || s[i] == '\t')
			return false;
		i += k;
	}
	return true;
}

static void
trim(const char **s, size_t *n)
{
	while (*n > 0 && is_blank((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && (is_blank((unsigned char)(*s)[*n - 1]) ||
	    (*s)[*n - 1] == '\r'))
		(*n)--;
}

/*
 * A perfdata number: [+-]digits[.digits][(e|E)[+-]digits] with at least one
 * digit. The guidelines allow [-0-9.]; the exponent is accepted because
 * plugins that print with %g emit it. Returns the bytes it spans, 0 if none.
 */
static size_t
number_span(const char *s, size_t n)
{
	size_t i = 0, digits = 0, e;

	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		digits++;
	if (i < n && s[i] == '.')
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
	if (digits == 0)
		return 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		/* Only an exponent if digits follow: "5EB" is 5 exabytes. */
		e = i + 1;
		if (e < n && (s[e] == '-' || s[e] == '+'))
			e++;
		if (e < n && s[e] >= '0' && s[e] <= '9') {
			while (e < n && s[e] >= '0' && s[e] <= '9')
				e++;
			i = e;
		}
	}
	return i;
}

/* Converts exactly n bytes (already checked by number_span) to a finite
 * double. strtod follows LC_NUMERIC, which agentd leaves at "C". */
static int
number_convert(const char *s, size_t n, double *out)
{
	char buf[NUMBER_MAX], *end;

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	*out = strtod(buf, &end);
	/* Underflow to 0 or a denormal is fine; overflow is not a reading. */
	if (*end != '\0' || !isfinite(*out))
		return -EINVAL;
	return 0;
}

/* A whole field that must be a number (min, max). */
static int
number_field(const char *s, size_t n, double *out)
{
	if (number_span(s, n) != n)
		return -EINVAL;
	return number_convert(s, n, out);
}

/* value[UOM]: a number or U, then 0..PERF_UOM_MAX-1 letters or '%'. */
static int
value_field(const char *s, size_t n, double *value, char *uom)
{
	size_t i, u;

	if (n > 0 && s[0] == 'U') {
		*value = NAN;
		i = 1;
	} else {
		if ((i = number_span(s, n)) == 0 ||
		    number_convert(s, i, value) != 0)
			return -EINVAL;
	}
	for (u = 0; i < n; i++, u++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '%'))
			return -EINVAL;
		if (u + 1 >= PERF_UOM_MAX)
			return -EINVAL;
		uom[u] = s[i];
	}
	uom[u] = '\0';
	return 0;
}

/* warn or crit: kept as written when range_parse takes it. Printable ASCII
 * only, because strtod inside range_parse would skip \v or \f. */
static int
range_field(const char *s, size_t n, char *dst)
{
	struct range rg;
	char buf[PERF_RANGE_MAX];

	if (n >= sizeof(buf))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (range_parse(buf, &rg) != 0)
		return -EINVAL;
	memcpy(dst, buf, n + 1);
	return 0;
}

/*
 * Reads the label at s: 'quoted' ('' is one quote; blanks and '=' allowed)
 * or bare (up to '=', no blank or quote). On success *used spans the label
 * and its '='. On failure *used is where to resume: the end of the text
 * for an unterminated quote, else the next blank.
 */
static int
label_read(const char *s, size_t n, char *label, size_t *used)
{
	size_t i = 0, l = 0;
	bool too_long = false;

	if (s[0] == '\'') {
		for (i = 1;; i++) {
			if (i == n) {
				*used = n;
				return -EINVAL;
			}
			if (s[i] == '\'') {
				if (i + 1 < n && s[i + 1] == '\'')
					i++;
				else
					break;
			}
			if (l + 1 < PERF_LABEL_MAX)
				label[l++] = s[i];
			else
				too_long = true;
		}
		i++;	/* closing quote */
	} else {
		for (; i < n && s[i] != '=' && !is_blank(s[i]); i++) {
			if (s[i] == '\'')
				goto bad;
			if (l + 1 < PERF_LABEL_MAX)
				label[l++] = s[i];
			else
				too_long = true;
		}
	}
	label[l] = '\0';
	/* A cut label could merge two series; skip the item instead. */
	if (i == n || s[i] != '=' || l == 0 || too_long ||
	    !text_is_clean(label, l))
		goto bad;
	*used = i + 1;
	return 0;
 bad:
	while (i < n && !is_blank(s[i]))
		i++;
	*used = i;
	return -EINVAL;
}

/*
 * Parses one perfdata item at s (not at a blank) and appends it to r.
 * Returns the bytes consumed, always at least one.
 */
static size_t
perf_item(struct result *r, const char *s, size_t n, struct perf_stats *st)
{
	char label[PERF_LABEL_MAX], uom[PERF_UOM_MAX];
	char warn[PERF_RANGE_MAX] = "", crit[PERF_RANGE_MAX] = "";
	const char *body, *f, *semi;
	size_t used, blen, flen, end;
	double value = 0, min = 0, max = 0;
	bool has_min = false, has_max = false;
	unsigned bad = 0;
	struct perf *p;
	int field;

	if (label_read(s, n, label, &used) != 0) {
		st->malformed++;
		return used > 0 ? used : 1;
	}
	body = s + used;
	for (end = used; end < n && !is_blank(s[end]); end++)
		;
	blen = end - used;

	f = body;
	for (field = 0; f != NULL; field++) {
		semi = memchr(f, ';', blen - (size_t)(f - body));
		flen = semi != NULL ? (size_t)(semi - f) :
		    blen - (size_t)(f - body);
		if (field == 0) {
			if (value_field(f, flen, &value, uom) != 0) {
				st->malformed++;
				return end;
			}
		} else if (flen == 0) {
			/* Empty fields and trailing semicolons are allowed. */
		} else if (field == 1) {
			if (range_field(f, flen, warn) != 0)
				bad++;
		} else if (field == 2) {
			if (range_field(f, flen, crit) != 0)
				bad++;
		} else if (field == 3) {
			if (number_field(f, flen, &min) == 0)
				has_min = true;
			else
				bad++;
		} else if (field == 4) {
			if (number_field(f, flen, &max) == 0)
				has_max = true;
			else
				bad++;
		} else
			bad++;
		f = semi != NULL ? semi + 1 : NULL;
	}

	if ((p = result_add_perf(r, label, value, uom)) == NULL) {
		st->over_limit++;
		return end;
	}
	memcpy(p->warn, warn, sizeof(p->warn));
	memcpy(p->crit, crit, sizeof(p->crit));
	p->min = min;
	p->max = max;
	p->has_min = has_min;
	p->has_max = has_max;
	st->bad_fields += bad;
	return end;
}

/* Parses blank-separated perfdata items in s. */
static void
perf_parse(struct result *r, const char *s, size_t n, struct perf_stats *st)
{
	size_t i = 0;

	while (i < n) {
		if (is_blank(s[i])) {
			i++;
			continue;
		}
		i += perf_item(r, s + i, n - i, st);
	}
}

/* Appends one long-text line, cleaned, unless the text is already full.
 * Leading empty lines are dropped; trailing ones are trimmed at the end. */
static void
long_add(struct long_buf *lb, const char *s, size_t n)
{
	while (n > 0 && (is_blank(s[n - 1]) || s[n - 1] == '\r'))
		n--;
	if (lb->cut || (lb->used == 0 && n == 0))
		return;
	if (lb->used > 0) {
		if (lb->used + 1 > LONG_CAP) {
			lb->cut = true;
			return;
		}
		lb->buf[lb->used++] = '\n';
	}
	lb->used += text_clean(lb->buf + lb->used, LONG_CAP - lb->used, s, n,
	    &lb->cut);
}

static bool
all_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_blank(s[i]) && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

/* Length of the line at s (n bytes left) without its '\n' and the CRs
 * before it; *next is where the following line starts, or NULL. */
static size_t
line_span(const char *s, size_t n, const char **next)
{
	const char *nl;
	size_t len;

	if ((nl = memchr(s, '\n', n)) != NULL) {
		len = (size_t)(nl - s);
		*next = nl + 1;
	} else {
		len = n;
		*next = NULL;
	}
	while (len > 0 && s[len - 1] == '\r')
		len--;
	return len;
}

/* One perfdata segment or a line split at its first '|'. */
static void
perf_after_bar(struct result *r, const char *line, size_t n,
    const char *bar, struct perf_stats *st)
{
	perf_parse(r, bar + 1, n - (size_t)(bar + 1 - line), st);
}

/* The summary: trimmed, cleaned, cut on a character boundary. */
static void
summary_set(struct result *r, const char *s, size_t n, const char *how)
{
	bool cut = false;

	trim(&s, &n);
	n = text_clean(r->summary, sizeof(r->summary) - 1, s, n, &cut);
	r->summary[n] = '\0';
	if (n == 0)
		snprintf(r->summary, sizeof(r->summary),
		    "(empty summary, %s)", how);
}

/* Our own notes go after the plugin's text, into the reserved room. */
static void
notes_add(struct result *r, const struct long_buf *lb,
    const struct perf_stats *st, int exit_code)
{
	if (lb->cut)
		result_append_long(r, "plugin output: long text cut at %zu "
		    "bytes", lb->used);
	if (exit_code < 0)
		result_append_long(r, "plugin was killed by a signal: "
		    "state UNKNOWN");
	else if (exit_code > STATE_UNKNOWN)
		result_append_long(r, "plugin exit code %d is not a plugin "
		    "state (0-3): state UNKNOWN", exit_code);
	if (st->malformed > 0)
		result_append_long(r, "perfdata: %u malformed item%s ignored",
		    st->malformed, st->malformed == 1 ? "" : "s");
	if (st->bad_fields > 0)
		result_append_long(r, "perfdata: %u invalid warn/crit/min/max "
		    "field%s dropped", st->bad_fields,
		    st->bad_fields == 1 ? "" : "s");
	if (st->over_limit > 0)
		result_append_long(r, "perfdata: %u item%s over the limit of "
		    "%d dropped", st->over_limit,
		    st->over_limit == 1 ? "" : "s", RESULT_PERF_MAX);
}

int
plugin_parse(const char *out, size_t len, int exit_code, struct result *r)
{
	struct long_buf lb = { 0 };
	struct perf_stats st = { 0 };
	const char *line, *next, *bar, *end;
	bool in_perf = false;
	char how[32];
	size_t n;

	if (r == NULL || (out == NULL && len > 0))
		return -EINVAL;
	if (out == NULL)
		out = "";
	end = out + len;

	r->state = exit_code >= STATE_OK && exit_code <= STATE_UNKNOWN ?
	    (enum check_state)exit_code : STATE_UNKNOWN;
	if (exit_code < 0)
		snprintf(how, sizeof(how), "killed by a signal");
	else
		snprintf(how, sizeof(how), "exit code %d", exit_code);
	if (all_blank(out, len)) {
		snprintf(r->summary, sizeof(r->summary), "(no output, %s)",
		    how);
		return 0;
	}

	/* First line: summary | perfdata. */
	n = line_span(out, len, &next);
	if ((bar = memchr(out, '|', n)) != NULL) {
		perf_after_bar(r, out, n, bar, &st);
		n = (size_t)(bar - out);
	}
	summary_set(r, out, n, how);

	/* Later lines: long text until a '|', then perfdata to the end. */
	lb.buf = xcalloc(1, LONG_CAP + 1);
	for (line = next; line != NULL; line = next) {
		n = line_span(line, (size_t)(end - line), &next);
		if (in_perf)
			perf_parse(r, line, n, &st);
		else if ((bar = memchr(line, '|', n)) != NULL) {
			long_add(&lb, line, (size_t)(bar - line));
			perf_after_bar(r, line, n, bar, &st);
			in_perf = true;
		} else
			long_add(&lb, line, n);
	}
	while (lb.used > 0 && (lb.buf[lb.used - 1] == '\n' ||
	    is_blank(lb.buf[lb.used - 1])))
		lb.used--;
	lb.buf[lb.used] = '\0';
	if (lb.used > 0)
		result_append_long(r, "%s", lb.buf);
	notes_add(r, &lb, &st, exit_code);
	free(lb.buf);
	return 0;
}
