/* Per-key token buckets (per agent: 20 requests/s, bursts of 100). */
#ifndef RATELIMIT_H
#define RATELIMIT_H

struct ratelimit;

/* A limiter refilling rate tokens per second up to burst. Never NULL. */
struct ratelimit *ratelimit_new(double rate, double burst);
void	ratelimit_free(struct ratelimit *);
/*
 * Takes one token from key's bucket at time now (seconds, monotonic).
 * Returns 0 when allowed, else the whole seconds (>= 1) to wait, for
 * Retry-After. Thread-safe.
 */
int	ratelimit_take(struct ratelimit *, const char *key, double now);

#endif
