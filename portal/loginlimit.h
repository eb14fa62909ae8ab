/*
 * Failed logins counted per key (a source address, a user name): after
 * threshold failures each further one doubles the time the key is
 * refused, up to LOGINLIMIT_MAX_DELAY.
 */
#ifndef LOGINLIMIT_H
#define LOGINLIMIT_H

#define LOGINLIMIT_MAX_DELAY	900	/* seconds */
/* A key's failures are forgotten after this long without one. */
#define LOGINLIMIT_FORGET	3600

struct loginlimit;

/* A table refusing a key after threshold failures. Never NULL. */
struct loginlimit *loginlimit_new(int threshold);
void	loginlimit_free(struct loginlimit *);
/* 0 when key may try at now (monotonic seconds), else the whole seconds
 * (>= 1) until it may, for Retry-After. Thread-safe. */
int	loginlimit_check(struct loginlimit *, const char *key, double now);
/* Counts a failure of key at now. */
void	loginlimit_fail(struct loginlimit *, const char *key, double now);
/* Forgets key's failures (a login that succeeded). */
void	loginlimit_clear(struct loginlimit *, const char *key);

#endif
