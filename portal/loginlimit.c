/*
 * Failure counters in a fixed open-addressing table like ratelimit.c's:
 * memory is bounded whatever keys arrive; when a probe run is full the
 * entry whose last failure is oldest is reused. Keys are hashed with a
 * random seed: names and addresses come from clients.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "loginlimit.h"
#include "xmalloc.h"

#define LOGINLIMIT_SLOTS	4096
#define LOGINLIMIT_PROBE	16
#define LOGINLIMIT_KEY		96

struct failures {
	char	 key[LOGINLIMIT_KEY];
	int	 count;
	double	 last;		/* of the last failure */
	int	 used;
};

struct loginlimit {
	pthread_mutex_t	 mu;
	int		 threshold;
	uint32_t	 seed;
	struct failures	*slots;
};

struct loginlimit *
loginlimit_new(int threshold)
{
	struct loginlimit *l = xcalloc(1, sizeof(*l));

	pthread_mutex_init(&l->mu, NULL);
	l->threshold = threshold;
	l->seed = randombytes_random();
	l->slots = xcalloc(LOGINLIMIT_SLOTS, sizeof(*l->slots));
	return l;
}

void
loginlimit_free(struct loginlimit *l)
{
	if (l == NULL)
		return;
	pthread_mutex_destroy(&l->mu);
	free(l->slots);
	free(l);
}

static uint32_t
loginlimit_hash(const struct loginlimit *l, const char *s)
{
	uint32_t h = 2166136261u ^ l->seed;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* key's entry, or with create a new or reused one; lock held. */
static struct failures *
loginlimit_find(struct loginlimit *l, const char *key, int create)
{
	struct failures *f, *victim = NULL;
	uint32_t h = loginlimit_hash(l, key);
	int i;

	for (i = 0; i < LOGINLIMIT_PROBE; i++) {
		f = &l->slots[(h + (uint32_t)i) % LOGINLIMIT_SLOTS];
		if (f->used && strncmp(f->key, key, LOGINLIMIT_KEY - 1) == 0)
			return f;
		if (victim == NULL || (victim->used && (!f->used ||
		    f->last < victim->last)))
			victim = f;
	}
	if (!create)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	strncpy(victim->key, key, LOGINLIMIT_KEY - 1);
	victim->used = 1;
	return victim;
}

/* Seconds a key with count failures is refused after its last one. */
static double
loginlimit_delay(const struct loginlimit *l, int count)
{
	if (count < l->threshold)
		return 0;
	return fmin(LOGINLIMIT_MAX_DELAY, ldexp(1.0, count - l->threshold +
	    1 > 20 ? 20 : count - l->threshold + 1));
}

int
loginlimit_check(struct loginlimit *l, const char *key, double now)
{
	struct failures *f;
	double until;
	int wait = 0;

	pthread_mutex_lock(&l->mu);
	f = loginlimit_find(l, key, 0);
	if (f != NULL) {
		if (now - f->last >= LOGINLIMIT_FORGET)
			f->used = 0;
		else {
			until = f->last + loginlimit_delay(l, f->count);
			if (until > now) {
				wait = (int)ceil(until - now);
				if (wait < 1)
					wait = 1;
			}
		}
	}
	pthread_mutex_unlock(&l->mu);
	return wait;
}

void
loginlimit_fail(struct loginlimit *l, const char *key, double now)
{
	struct failures *f;

	pthread_mutex_lock(&l->mu);
	f = loginlimit_find(l, key, 1);
	if (now - f->last >= LOGINLIMIT_FORGET)
		f->count = 0;
	if (f->count < 1000)
		f->count++;
	f->last = now;
	pthread_mutex_unlock(&l->mu);
}

void
loginlimit_clear(struct loginlimit *l, const char *key)
{
	struct failures *f;

	pthread_mutex_lock(&l->mu);
	if ((f = loginlimit_find(l, key, 0)) != NULL)
		f->used = 0;
	pthread_mutex_unlock(&l->mu);
}
