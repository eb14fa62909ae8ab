/*
 * Token buckets in a fixed-size open-addressing table, one per key. A full
 * table evicts the least recently used bucket in the probe run, so memory
 * stays bounded whatever keys arrive; an evicted key starts full again.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"
#include "xmalloc.h"

#define RATELIMIT_SLOTS	8192
#define RATELIMIT_PROBE	16
#define RATELIMIT_KEY	64

struct bucket {
	char	 key[RATELIMIT_KEY];
	double	 tokens;
	double	 last;
	int	 used;
};

struct ratelimit {
	pthread_mutex_t	 mu;
	double		 rate;
	double		 burst;
	struct bucket	*slots;
};

struct ratelimit *
ratelimit_new(double rate, double burst)
{
	struct ratelimit *rl = xcalloc(1, sizeof(*rl));

	pthread_mutex_init(&rl->mu, NULL);
	rl->rate = rate;
	rl->burst = burst;
	rl->slots = xcalloc(RATELIMIT_SLOTS, sizeof(*rl->slots));
	return rl;
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	pthread_mutex_destroy(&rl->mu);
	free(rl->slots);
	free(rl);
}

/* FNV-1a: keys are agent ids chosen by us, so no hash flooding worry. */
static uint32_t
ratelimit_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

int
ratelimit_take(struct ratelimit *rl, const char *key, double now)
{
	struct bucket *b = NULL, *oldest = NULL, *s;
	uint32_t h = ratelimit_hash(key);
	int i, wait = 0;

	pthread_mutex_lock(&rl->mu);
	for (i = 0; i < RATELIMIT_PROBE; i++) {
		s = &rl->slots[(h + (uint32_t)i) % RATELIMIT_SLOTS];
		if (s->used && strncmp(s->key, key, RATELIMIT_KEY - 1) == 0) {
			b = s;
			break;
		}
		if (!s->used) {
			if (oldest == NULL || oldest->used)
				oldest = s;
		} else if (oldest == NULL ||
		    (oldest->used && s->last < oldest->last))
			oldest = s;
	}
	if (b == NULL) {
		b = oldest;
		memset(b, 0, sizeof(*b));
		strncpy(b->key, key, RATELIMIT_KEY - 1);
		b->used = 1;
		b->tokens = rl->burst;
		b->last = now;
	}
	if (now > b->last) {
		b->tokens = fmin(rl->burst, b->tokens + (now - b->last) *
		    rl->rate);
		b->last = now;
	}
	if (b->tokens >= 1.0)
		b->tokens -= 1.0;
	else {
		wait = (int)ceil((1.0 - b->tokens) / rl->rate);
		if (wait < 1)
			wait = 1;
	}
	pthread_mutex_unlock(&rl->mu);
	return wait;
}
