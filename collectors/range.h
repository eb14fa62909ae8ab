/*
 * Nagios threshold ranges as the monitoring-plugins guidelines define them:
 * "10" (0..10), "10:" (>= 10), "~:10" (<= 10), "10:20", "@10:20" (inside).
 */
#ifndef RANGE_H
#define RANGE_H

#include <stdbool.h>
#include <stddef.h>

struct range {
	double	start, end;
	bool	start_inf;	/* "~" */
	bool	end_inf;	/* "N:" with nothing after */
	bool	inside;		/* "@": alert when inside */
	bool	set;		/* false: no threshold, never alerts */
};

/* Parses text into r. "" leaves r unset. Returns 0, or -EINVAL when text is
 * not a range (start > end included). */
int	range_parse(const char *text, struct range *r);
/* true when value should raise an alert under r. */
bool	range_alert(const struct range *r, double value);
/* Prints r back in canonical form into buf ("" when unset). */
void	range_format(const struct range *r, char *buf, size_t len);
/* The bound r alerts beyond, for a summary: "> 60", "< 10",
 * "outside 10:20", "inside 10:20" (numbers with up to 15 digits). */
void	range_describe(const struct range *r, char *buf, size_t len);
/* Why value alerts under r, the unit after each number: "> 90%", "< 10%",
 * "inside 10:20%"; "outside 10:20%" for a value that does not alert. */
void	range_why(const struct range *r, double value, const char *unit,
	    char *buf, size_t len);

struct perf;
/* The state for value under a warning and a critical range: CRITICAL when
 * crit alerts, else WARNING when warn alerts, else OK (as enum check_state). */
int	range_eval(const struct range *warn, const struct range *crit,
	    double value);
/* Copies both ranges into a perfdata item's warn/crit text. */
void	range_to_perf(struct perf *p, const struct range *warn,
	    const struct range *crit);

#endif
