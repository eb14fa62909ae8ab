/*
 * The one check model shared by built-in collectors and external checks:
 * a Nagios state, a one-line summary, optional long text and perfdata.
 */
#ifndef RESULT_H
#define RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum check_state {
	STATE_OK = 0,
	STATE_WARNING = 1,
	STATE_CRITICAL = 2,
	STATE_UNKNOWN = 3,
};

#define RESULT_SUMMARY_MAX	1024	/* bytes, including NUL */
#define RESULT_LONG_MAX		8192	/* bytes of long text kept */
#define RESULT_PERF_MAX		256	/* perfdata items kept per result */
#define PERF_LABEL_MAX		128
#define PERF_UOM_MAX		8
#define PERF_RANGE_MAX		64

struct perf {
	char	label[PERF_LABEL_MAX];
	double	value;
	char	uom[PERF_UOM_MAX];	/* "", "s", "%", "B", "KB", "c", ... */
	char	warn[PERF_RANGE_MAX];	/* range text as given; "" if none */
	char	crit[PERF_RANGE_MAX];
	double	min, max;
	bool	has_min, has_max;
};

/* A trustworthy time-to-exhaustion forecast (the forecast collector's
 * nearest one), sent as the check object's "forecast" member. */
struct result_forecast {
	char	item[PERF_LABEL_MAX];	/* "/var", "memory" */
	char	resource[16];		/* "space", "inodes", "memory" */
	double	eta;			/* seconds */
	double	rate;			/* unit per day, > 0 */
	char	unit[PERF_UOM_MAX];	/* "B" or "inodes" */
};

struct result {
	enum check_state state;
	char		 summary[RESULT_SUMMARY_MAX];
	char		*long_text;	/* owned; NULL if none */
	struct perf	*perf;		/* owned array of nperf */
	size_t		 nperf;
	size_t		 perf_cap;	/* allocated items */
	uint64_t	 when_usec;	/* CLOCK_REALTIME when collected: shown */
	uint64_t	 mono_usec;	/* CLOCK_MONOTONIC then: for its age */
	uint64_t	 duration_usec;
	struct result_forecast forecast;	/* valid if has_forecast */
	bool		 has_forecast;
};

/* Empties r (frees what it owns, clears the forecast) and sets state
 * UNKNOWN. */
void		 result_reset(struct result *r);
/* Sets the state and printf-formats the summary (truncated to fit). */
void		 result_set(struct result *r, enum check_state s, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));
/* Appends one perfdata item; returns it zeroed but labelled, or NULL when
 * RESULT_PERF_MAX is reached. The label is truncated to fit. */
struct perf	*result_add_perf(struct result *r, const char *label, double value,
		    const char *uom);
/* Appends text (and a newline) to the long text, up to RESULT_LONG_MAX. */
void		 result_append_long(struct result *r, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
/* Raises r's state to s if s is worse (CRITICAL > WARNING > UNKNOWN > OK). */
void		 result_escalate(struct result *r, enum check_state s);
void		 result_move(struct result *dst, struct result *src);

const char	*result_state_name(enum check_state s);	/* "OK", ... */
/* Parses "OK"/"WARNING"/... (any case); -EINVAL if none. */
int		 result_state_parse(const char *s);

#endif
