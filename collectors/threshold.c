/*
 * threshold: one place for what every built-in collector did with its
 * METRIC_warning / METRIC_critical keys: defaults, parsing, the message
 * for a bad key, and the state and words for a value.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "threshold.h"

static struct threshold *
threshold_at(void *inst, const struct threshold_key *k)
{
	return (struct threshold *)((char *)inst + k->offset);
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
	}
}

/* The range key names in keys, or NULL. */
static struct range *
threshold_find(void *inst, const struct threshold_key *keys, const char *key)
{
	size_t n;

	for (const struct threshold_key *k = keys; k->name != NULL; k++) {
		n = strlen(k->name);
		if (strncmp(key, k->name, n) != 0)
			continue;
		if (strcmp(key + n, "_warning") == 0)
			return &threshold_at(inst, k)->warn;
		if (strcmp(key + n, "_critical") == 0)
			return &threshold_at(inst, k)->crit;
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
		snprintf(err + used, errlen - used, "%s%s_warning/_critical",
		    sep, k->name);
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

	if ((r = threshold_find(inst, keys, key)) == NULL) {
		threshold_unknown(keys, other, key, err, errlen);
		return -EINVAL;
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

void
threshold_to_perf(const struct threshold *t, struct perf *p)
{
	if (p != NULL)
		range_to_perf(p, &t->warn, &t->crit);
}

/* The range that gave state s. */
static const struct range *
threshold_range(const struct threshold *t, enum check_state s)
{
	return s == STATE_CRITICAL ? &t->crit : &t->warn;
}

void
threshold_why(const struct threshold *t, enum check_state s, double value,
    const char *unit, char *buf, size_t len)
{
	char reason[PERF_RANGE_MAX + 32];

	range_why(threshold_range(t, s), value, unit, reason, sizeof(reason));
	snprintf(buf, len, "%s %s", result_state_name(s), reason);
}

void
threshold_note(char *buf, size_t len, const struct threshold *t,
    enum check_state s, double value, const char *unit, const char *fmt, ...)
{
	char what[256], why[PERF_RANGE_MAX + 48];
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
