/*
 * threshold: the warning and critical range of one metric of a built-in
 * collector, the [collector.NAME] keys that set them (METRIC_warning,
 * METRIC_critical, METRIC_clear) and what a value under them means,
 * including the hysteresis that keeps a level raised until the value is
 * back by the clear margin (per item: a mount, a CPU, ...).
 */
#ifndef THRESHOLD_H
#define THRESHOLD_H

#include <stddef.h>

#include "range.h"
#include "result.h"

struct threshold {
	struct range	warn, crit;
	double		clear;	/* hysteresis margin, metric's unit; 0: none */
};

/* The level one item last raised under a threshold, and the value that
 * raised it (which side of the range it left by). */
struct threshold_held {
	char		item[PERF_LABEL_MAX];
	int		state;		/* enum check_state: OK, WARNING, CRITICAL */
	double		value;
	unsigned	run;		/* threshold_memory's run it was seen in */
};

/* A collector's memory of the levels its items raised, kept across runs.
 * Bounded: beyond THRESHOLD_MEMORY_MAX items, new ones have no memory
 * (and so no hysteresis); an item not evaluated in a run is forgotten. */
#define THRESHOLD_MEMORY_MAX	4096
struct threshold_memory {
	struct threshold_held	*held;
	size_t			 n, cap;
	size_t			 hint;	/* next expected, items come in order */
	unsigned		 run;
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
	/* Default clear margin (a non-negative number, "0" for none), or
	 * NULL when the metric has no NAME_clear key (counters and rates,
	 * which do not bounce around a level, and collectors that keep no
	 * threshold_memory). */
	const char	*clear;
};

/* Sets every threshold in keys to its defaults; a default that is not a
 * range is a bug in the collector and fatal. */
void	threshold_defaults(void *inst, const struct threshold_key *keys);

/*
 * Applies one config key: NAME_warning or NAME_critical of an entry in
 * keys sets that range of inst; an empty value removes it, and a key
 * given again (a later drop-in) replaces it. NAME_clear (entries with a
 * clear default only) sets the margin: a number >= 0, "" for 0. Returns
 * 0, or -EINVAL with err set to "KEY: 'VALUE' is not a range" (or "... is
 * not a margin >= 0"; the value is then left as it was), or, for any
 * other key, "unknown key 'KEY' (known: OTHER, NAME_warning/_critical,
 * NAME_warning/_critical/_clear, ...)" where other lists the collector's
 * own keys (NULL when it has none). A collector calls it last in
 * configure().
 */
int	threshold_configure(void *inst, const struct threshold_key *keys,
	    const char *other, const char *key, const char *value, char *err,
	    size_t errlen);

/* CRITICAL when value is in crit's alert zone, else WARNING when in
 * warn's, else OK. */
enum check_state threshold_eval(const struct threshold *t, double value);
/*
 * threshold_eval with hysteresis: when h last raised a level above the
 * one value gives now, and value is still within t->clear of that
 * level's range, on the side the raising value left it by, the level
 * stays (CRITICAL at 94.5 with crit 95 and clear 1; WARNING between 88
 * and 90 with warn 90). A level from a range that changed since (a
 * reload) is held only while the new range agrees. Updates h. With a
 * margin of 0 or h NULL it is threshold_eval.
 */
enum check_state threshold_eval_held(const struct threshold *t,
	    struct threshold_held *h, double value);
/* Starts a collector run: items evaluated from now on are kept by
 * threshold_memory_end. */
void	threshold_memory_begin(struct threshold_memory *m);
/* threshold_eval_held on item's entry in m ("/var:used"), created (OK)
 * when new; plain threshold_eval when m is full or t has no margin. */
enum check_state threshold_eval_item(const struct threshold *t,
	    struct threshold_memory *m, const char *item, double value);
/* Forgets the items not evaluated since threshold_memory_begin (an
 * unmounted filesystem, an unplugged interface). */
void	threshold_memory_end(struct threshold_memory *m);
void	threshold_memory_free(struct threshold_memory *m);

/* Copies both ranges into p's warn and crit; nothing when p is NULL
 * (result_add_perf's answer once the perfdata is full). */
void	threshold_to_perf(const struct threshold *t, struct perf *p);
/* "WARNING > 90%": the name of state s (WARNING or CRITICAL) and why value
 * crossed that range, unit after each number (see range_why); for a
 * level held by hysteresis, "WARNING > 90%, clears < 88%". */
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
