/*
 * The units collector's reply evaluation, exported so the tests can check
 * it without a bus: one entry per failed unit as ListUnitsFiltered gives it.
 */
#ifndef UNITS_H
#define UNITS_H

#include <stddef.h>

struct result;

struct units_failed {
	const char	*name;		/* "nginx.service" */
	const char	*description;
	const char	*load_state;	/* "loaded" */
	const char	*active_state;	/* "failed" */
	const char	*sub_state;	/* "failed" */
};

/* Fills res (state, summary, long text, perfdata) for the n failed units
 * under inst's configuration (thresholds, ignore globs). inst is an
 * instance from collector_units.new(). */
void	units_summarise(void *inst, const struct units_failed *units,
	    size_t n, struct result *res);

#endif
