/*
 * timeutil: the clocks in microseconds. Lives in lib/ because collectors,
 * the scheduler, reports and the control socket all measure with it.
 */
#include <stdint.h>
#include <time.h>

#include "timeutil.h"

uint64_t (*time_now_hook)(clockid_t clock);

uint64_t
time_now(clockid_t clock)
{
	struct timespec ts;

	if (time_now_hook != NULL)
		return time_now_hook(clock);
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t
time_since(uint64_t then, uint64_t now)
{
	return now > then ? now - then : 0;
}
