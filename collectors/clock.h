/*
 * The clock collector's test seam: the adjtimex(2) call is a function
 * pointer in the instance, so the tests feed recorded struct timex values.
 */
#ifndef CLOCK_COLLECTOR_H
#define CLOCK_COLLECTOR_H

#include <sys/timex.h>

/* Same contract as adjtimex(2): fills tx, returns the clock state
 * (TIME_OK .. TIME_ERROR) or -1 with errno set; EPERM, EACCES and ENOSYS
 * make the collector ask systemd-timedated instead. */
typedef int clock_adjtimex_fn(struct timex *tx);

/* Replaces the adjtimex call of a clock collector instance. */
void	clock_set_adjtimex(void *inst, clock_adjtimex_fn *fn);

#endif
