/*
 * timeutil: the clocks in microseconds, for everything that measures a
 * duration or stamps an event, with one seam for tests to step the clock.
 */
#ifndef TIMEUTIL_H
#define TIMEUTIL_H

#include <stdint.h>
#include <time.h>

/* clock (CLOCK_MONOTONIC or CLOCK_REALTIME) now, in microseconds.
 * Durations and ages come from CLOCK_MONOTONIC: the wall clock may step
 * back or forward at any time; realtime is only for stamps shown. */
uint64_t	 time_now(clockid_t clock);
/* now - then, or 0 if then is later (a stamp from a clock that stepped,
 * or from before a restart): an age is never negative or wrapped. */
uint64_t	 time_since(uint64_t then, uint64_t now);
/* Parses a config duration "N" (seconds), "Ns", "Nm", "Nh" or "Nd" into
 * seconds. Returns 0, or -EINVAL when s is not one or overflows. */
int		 time_parse_duration(const char *s, unsigned *out);
/* Test seam: when set, time_now() returns what it says instead of
 * reading the clock, so tests can step the wall clock. */
extern uint64_t	(*time_now_hook)(clockid_t clock);

#endif
