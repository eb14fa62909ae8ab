/*
 * threshold: one place for what every built-in collector did with its
 * METRIC_warning / METRIC_critical / METRIC_clear keys: defaults, parsing,
 * the message for a bad key, the state and words for a value, and the
 * per-item memory of raised levels that hysteresis needs.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "threshold.h"
#include "xmalloc.h"

static struct threshold *
threshold_at(void *inst, const struct threshold_key *k)
{
	return (struct threshold *)((char *)inst + k->offset);
}

/* A clear margin: a finite number >= 0, "" for 0. */
static int
threshold_parse_clear(const char *text, double *out)
{
	char *end;
	double v;

	if (*text == '\0') {
		*out = 0;
		return 0;
	}
	errno = 0;
	v = strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0' || !isfinite(v) ||
	    v < 0)
		return -EINVAL;
	*out = v;
	return 0;
}

void
threshold_defaults(void *inst, const struct threshold_key *keys)
{
	struct threshold *t;

	for (const struct threshold_key *k = keys; k->name != NULL; k++) {
		t = threshold_at(inst, k);
		if (range_parse(k->warn, &t->warn) != 0 ||
		    range_parse(k->crit, &t->crit) != 0)
			fatalx("threshold %s: default '%s' / '%s' is not a "
			    "range", k->name, k->warn, k->crit);
		t->clear = 0;
		if (k->clear != NULL &&
		    threshold_parse_clear(k->clear, &t->clear) != 0)
			fatalx("threshold %s: default clear '%s' is not a "
			    "margin", k->name, k->clear);
	}
}

/* The entry of keys that key belongs to, or NULL; *what is the range or
 * the margin it sets (one of them NULL). */
static const struct threshold_key *
threshold_find(void *inst, const struct threshold_key *keys, const char *key,
    struct range **range, double **clear)
{
	size_t n;

	*range = NULL;
	*clear = NULL;
	for (const struct threshold_key *k = keys; k->name != NULL; k++) {
		n = strlen(k->name);
		if (strncmp(key, k->name, n) != 0)
			continue;
		if (strcmp(key + n, "_warning") == 0)
			*range = &threshold_at(inst, k)->warn;
		else if (strcmp(key + n, "_critical") == 0)
			*range = &threshold_at(inst, k)->crit;
		else if (k->clear != NULL && strcmp(key + n, "_clear") == 0)
			*clear = &threshold_at(inst, k)->clear;
		else
			continue;
		return k;
	}
	return NULL;
}

/* "unknown key 'KEY' (known: OTHER, NAME_warning/_critical, ...)". */
static void
threshold_unknown(const struct threshold_key *keys, const char *other,
    const char *key, char *err, size_t errlen)
{
	const char *sep = "";
	size_t used;

	snprintf(err, errlen, "unknown key '%s' (known: ", key);
	if (other != NULL) {
		used = strlen(err);
		snprintf(err + used, errlen - used, "%s", other);
		sep = ", ";
	}
	for (const struct threshold_key *k = keys; k->name != NULL; k++) {
		used = strlen(err);
		snprintf(err + used, errlen - used, "%s%s_warning/_critical%s",
		    sep, k->name, k->clear != NULL ? "/_clear" : "");
		sep = ", ";
	}
	used = strlen(err);
	snprintf(err + used, errlen - used, ")");
}

int
threshold_configure(void *inst, const struct threshold_key *keys,
    const char *other, const char *key, const char *value, char *err,
    size_t errlen)
{
	struct range *r, parsed;
	double *clear, margin;

	if (threshold_find(inst, keys, key, &r, &clear) == NULL) {
		threshold_unknown(keys, other, key, err, errlen);
		return -EINVAL;
	}
	if (clear != NULL) {
		if (threshold_parse_clear(value, &margin) != 0) {
			snprintf(err, errlen, "%s: '%s' is not a margin >= 0",
			    key, value);
			return -EINVAL;
		}
		*clear = margin;
		return 0;
	}
	if (range_parse(value, &parsed) != 0) {
		snprintf(err, errlen, "%s: '%s' is not a range", key, value);
		return -EINVAL;
	}
	*r = parsed;
	return 0;
}

enum check_state
threshold_eval(const struct threshold *t, double value)
{
	return range_eval(&t->warn, &t->crit, value);
}

/* The range that gave state s. */
static const struct range *
threshold_range(const struct threshold *t, enum check_state s)
{
	return s == STATE_CRITICAL ? &t->crit : &t->warn;
}

/*
 * Whether value, which r lets pass, is still within margin of r on the
 * side raised (a value r alerted on) left it by: for "alert above 90",
 * value > 90 - margin; for "alert below 10" (10:), value < 10 + margin;
 * for "@10:20", within 10 - margin .. 20 + margin. A raised value that r
 * does not alert on (r changed since) holds nothing.
 */
static bool
threshold_within(const struct range *r, double raised, double value,
    double margin)
{
	if (!r->set || !range_alert(r, raised))
		return false;
	if (r->inside)
		return (r->start_inf || value >= r->start - margin) &&
		    (r->end_inf || value <= r->end + margin);
	if (!r->end_inf && raised > r->end)
		return value > r->end - margin;
	if (!r->start_inf && raised < r->start)
		return value < r->start + margin;
	return false;
}

enum check_state
threshold_eval_held(const struct threshold *t, struct threshold_held *h,
    double value)
{
	enum check_state s = threshold_eval(t, value);

	if (h == NULL)
		return s;
	if (t->clear > 0 && isfinite(value))
		for (int l = h->state < STATE_CRITICAL ? h->state :
		    STATE_CRITICAL; l > (int)s; l--)
			if (threshold_within(threshold_range(t, l), h->value,
			    value, t->clear)) {
				h->state = l;
				return l;	/* held: h->value stays */
			}
	h->state = s;
	h->value = value;
	return s;
}

void
threshold_memory_begin(struct threshold_memory *m)
{
	m->run++;
	m->hint = 0;
}

/* item's entry in m, created when new; NULL when m is full. */
static struct threshold_held *
threshold_memory_find(struct threshold_memory *m, const char *item)
{
	struct threshold_held *h;

	/* A collector evaluates its items in the same order every run:
	 * look where the last one was found first. */
	if (m->hint < m->n &&
	    strcmp(m->held[m->hint].item, item) == 0)
		return &m->held[m->hint++];
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->held[i].item, item) == 0) {
			m->hint = i + 1;
			return &m->held[i];
		}
	if (m->n == THRESHOLD_MEMORY_MAX)
		return NULL;
	if (m->n == m->cap) {
		m->cap = m->cap == 0 ? 8 : m->cap * 2;
		m->held = xreallocarray(m->held, m->cap, sizeof(*m->held));
	}
	h = &m->held[m->n++];
	memset(h, 0, sizeof(*h));
	snprintf(h->item, sizeof(h->item), "%s", item);
	h->state = STATE_OK;
	m->hint = m->n;
	return h;
}

enum check_state
threshold_eval_item(const struct threshold *t, struct threshold_memory *m,
    const char *item, double value)
{
	struct threshold_held *h;

	if (t->clear <= 0 || (h = threshold_memory_find(m, item)) == NULL)
		return threshold_eval(t, value);
	h->run = m->run;
	return threshold_eval_held(t, h, value);
}

void
threshold_memory_end(struct threshold_memory *m)
{
	size_t o = 0;

	for (size_t i = 0; i < m->n; i++)
		if (m->held[i].run == m->run)
			m->held[o++] = m->held[i];
	m->n = o;
	m->hint = 0;
}

void
threshold_memory_free(struct threshold_memory *m)
{
	free(m->held);
	memset(m, 0, sizeof(*m));
}

void
threshold_to_perf(const struct threshold *t, struct perf *p)
{
	if (p != NULL)
		range_to_perf(p, &t->warn, &t->crit);
}

/* ", clears < 88%": where a level held by hysteresis ends. */
static void
threshold_clears(const struct range *r, double value, double margin,
    const char *unit, char *buf, size_t len)
{
	if (r->inside)
		snprintf(buf, len, ", clears outside %g:%g%s", r->start -
		    margin, r->end + margin, unit);
	else if (!r->end_inf && (r->start_inf || r->end - value <
	    value - r->start))
		snprintf(buf, len, ", clears < %g%s", r->end - margin, unit);
	else
		snprintf(buf, len, ", clears > %g%s", r->start + margin, unit);
}

void
threshold_why(const struct threshold *t, enum check_state s, double value,
    const char *unit, char *buf, size_t len)
{
	const struct range *r = threshold_range(t, s);
	char reason[PERF_RANGE_MAX + 32], clears[80] = "";

	if (!range_alert(r, value)) {
		/* Held by hysteresis: name the bound it was raised at. */
		range_describe(r, reason, sizeof(reason));
		snprintf(reason + strlen(reason), sizeof(reason) -
		    strlen(reason), "%s", unit);
		threshold_clears(r, value, t->clear, unit, clears,
		    sizeof(clears));
	} else
		range_why(r, value, unit, reason, sizeof(reason));
	snprintf(buf, len, "%s %s%s", result_state_name(s), reason, clears);
}

void
threshold_note(char *buf, size_t len, const struct threshold *t,
    enum check_state s, double value, const char *unit, const char *fmt, ...)
{
	char what[256], why[PERF_RANGE_MAX + 128];
	size_t used = strlen(buf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	threshold_why(t, s, value, unit, why, sizeof(why));
	snprintf(buf + used, len - used, "%s%s (%s)", used > 0 ? ", " : "",
	    what, why);
}

void
threshold_describe(const struct threshold *t, enum check_state s,
    const char *unit, char *buf, size_t len)
{
	char bound[80];

	range_describe(threshold_range(t, s), bound, sizeof(bound));
	snprintf(buf, len, "%s %s%s", result_state_name(s), bound, unit);
}
