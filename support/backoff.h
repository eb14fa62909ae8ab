/*
 * backoff: the delay before the support tunnel's next connection attempt,
 * exponential, bounded, with jitter; pure, so it is unit-tested alone.
 */
#ifndef BACKOFF_H
#define BACKOFF_H

#include <stdint.h>

/*
 * The delay in ms before attempt number `attempt` (0 for the first retry):
 * d = min(max_ms, min_ms * 2^attempt), then "equal jitter": d/2 plus rnd
 * modulo (d/2 + 1), so agents that lost the bastion together do not come
 * back in step, and no delay is under half the nominal one. min_ms of 0 is
 * taken as 1; max_ms under min_ms as min_ms. Never overflows.
 */
uint32_t	backoff_delay(unsigned attempt, uint32_t min_ms, uint32_t max_ms,
		    uint32_t rnd);

#endif
