/*
 * The units collector's reply evaluation, exported so the tests can check
 * it without a bus: one entry per failed unit as ListUnitsFiltered gives it.
 */
#ifndef UNITS_H
#define UNITS_H

#include <stddef.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

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

/* Connects to the D-Bus at address (NULL: the system bus) with a 10 s
 * method call timeout, attached to event, into *out. Returns 0 or -errno
 * (*out NULL). Shared with the restarts collector. */
int	units_bus_open(const char *address, sd_event *event, sd_bus **out);

#endif
