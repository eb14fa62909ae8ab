/* The dead-man's switch thread: marks silent hosts unreachable. */
#ifndef DEADMAN_H
#define DEADMAN_H

#include "store.h"

/* Realtime may drift from the monotonic clock by this much between two
 * runs before it counts as a step (NTP slews far less). */
#define DEADMAN_STEP_TOLERANCE	2.0

/* Where the job reads time; tests inject their own. */
struct deadman_clocks {
	double	(*monotonic)(void);	/* seconds, any origin */
	double	(*realtime)(void);	/* seconds since the epoch */
};

/* Scans every period seconds. Returns 0 or a negative errno. */
int	deadman_start(struct store *, double period);
void	deadman_stop(void);

/* Sets the clocks (NULL: the system's) and forgets the last reading. Not
 * while the thread runs. */
void	deadman_set_clocks(const struct deadman_clocks *);
/*
 * One run of the job: reads both clocks, records a realtime step since
 * the previous run (alert_clock_step), ends the maintenance windows and
 * silences whose end has passed (alert_window_scan), then scans. Returns
 * what alert_deadman_scan returns.
 */
int	deadman_run(struct store *);
/* Each run also sends open, unacknowledged, unheld alerts again every
 * interval seconds (alert_repeat_scan); 0, the default, never. */
void	deadman_set_repeat(double interval);

#endif
