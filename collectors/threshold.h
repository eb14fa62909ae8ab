/*
 * threshold: the warning and critical range of one metric of a built-in
 * collector, the [collector.NAME] keys that set them (METRIC_warning,
 * METRIC_critical) and what a value under them means.
 */
#ifndef THRESHOLD_H
#define THRESHOLD_H

#include <stddef.h>

#include "range.h"
#include "result.h"

struct threshold {
	struct range	warn, crit;
};

/*
 * One metric in a collector's table of thresholds, which ends with an
 * entry whose name is NULL. The defaults are range text ("" for none),
 * constants of the collector: the docs show the same text.
 */
struct threshold_key {
	const char	*name;		/* keys NAME_warning, NAME_critical */
	size_t		 offset;	/* of its struct threshold in inst */
	const char	*warn, *crit;	/* defaults */
};

/* Sets every threshold in keys to its defaults; a default that is not a
 * range is a bug in the collector and fatal. */
void	threshold_defaults(void *inst, const struct threshold_key *keys);

/*
 * Applies one config key: NAME_warning or NAME_critical of an entry in
 * keys sets that range of inst; an empty value removes it, and a key
 * given again (a later drop-in) replaces it. Returns 0, or -EINVAL with
 * err set to "KEY: 'VALUE' is not a range" (the range is then left as it
 * was), or, for any other key, "unknown key 'KEY' (known: OTHER,
 * NAME_warning/_critical, ...)" where other lists the collector's own
 * keys (NULL when it has none). A collector calls it last in configure().
 */
int	threshold_configure(void *inst, const struct threshold_key *keys,
	    const char *other, const char *key, const char *value, char *err,
	    size_t errlen);

/* CRITICAL when value is in crit's alert zone, else WARNING when in
 * warn's, else OK. */
enum check_state threshold_eval(const struct threshold *t, double value);
/* Copies both ranges into p's warn and crit; nothing when p is NULL
 * (result_add_perf's answer once the perfdata is full). */
void	threshold_to_perf(const struct threshold *t, struct perf *p);
/* "WARNING > 90%": the name of state s (WARNING or CRITICAL) and why value
 * crossed that range, unit after each number (see range_why). */
void	threshold_why(const struct threshold *t, enum check_state s,
	    double value, const char *unit, char *buf, size_t len);
/* Appends "WHAT (WARNING > 90%)" to the list in buf, after ", " unless
 * buf is empty: WHAT formatted from fmt, the rest as threshold_why. */
void	threshold_note(char *buf, size_t len, const struct threshold *t,
	    enum check_state s, double value, const char *unit,
	    const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* "WARNING > 5000 ms": the name of state s and the bound of that range,
 * unit after it (see range_describe). */
void	threshold_describe(const struct threshold *t, enum check_state s,
	    const char *unit, char *buf, size_t len);

#endif
