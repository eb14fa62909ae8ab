/*
 * restarts collector: the per-unit record of systemd's NRestarts counter
 * and the decision on it, exported for the unit tests (injected time).
 */
#ifndef RESTARTS_H
#define RESTARTS_H

#include <stddef.h>
#include <stdint.h>

#define RESTARTS_POINTS	32	/* changes of one unit's counter kept */

/*
 * One unit's NRestarts as seen over time: the points where it changed
 * (the first observation is one), oldest first, trimmed to what the
 * window needs. The value at the start of the window is that of the
 * newest point at or before it, or the first observation if later.
 */
struct restarts_series {
	uint64_t	t[RESTARTS_POINTS];	/* CLOCK_MONOTONIC usec */
	uint32_t	v[RESTARTS_POINTS];
	size_t		n;
};

/*
 * Records value seen at now (usec) and returns how much the counter grew
 * within the last window usec. A value below the last one (systemd resets
 * NRestarts when the unit is started by hand) starts the series again.
 * With more than RESTARTS_POINTS changes in the window the oldest go (the
 * growth is then undercounted, never overcounted).
 */
uint32_t restarts_observe(struct restarts_series *s, uint64_t now,
	    uint32_t value, uint64_t window);

#endif
