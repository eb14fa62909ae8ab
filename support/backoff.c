/*
 * backoff: exponential reconnect delays with equal jitter (backoff.h).
 */
#include "backoff.h"

uint32_t
backoff_delay(unsigned attempt, uint32_t min_ms, uint32_t max_ms,
    uint32_t rnd)
{
	uint64_t d;
	uint32_t half;

	if (min_ms == 0)
		min_ms = 1;
	if (max_ms < min_ms)
		max_ms = min_ms;
	/* 2^32 ms is 49 days: past 32 doublings the cap has long won. */
	d = attempt >= 32 ? max_ms : (uint64_t)min_ms << attempt;
	if (d > max_ms)
		d = max_ms;
	half = (uint32_t)(d / 2);
	return (uint32_t)(d - half) + rnd % (half + 1);
}
