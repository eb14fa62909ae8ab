#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "relay.h"
#include "xmalloc.h"

struct relay {
	pthread_t	 thread;
	pthread_mutex_t	 lock;
	pthread_cond_t	 filled;	/* a chunk is ready, or done */
	pthread_cond_t	 drained;	/* a chunk is free again */
	relay_fn	 fn;
	void		*arg;
	unsigned char	*chunk[RELAY_DEPTH];
	size_t		 len[RELAY_DEPTH];	/* > 0: ready for fn */
	size_t		 head;		/* the chunk being filled */
	size_t		 fill;		/* its bytes so far */
	size_t		 tail;		/* the next chunk for fn */
	int		 done;
	int		 err;
};

static void *
relay_main(void *arg)
{
	struct relay *r = arg;
	size_t	 len;
	int	 e;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (r->len[r->tail] == 0 && !r->done)
			pthread_cond_wait(&r->filled, &r->lock);
		if ((len = r->len[r->tail]) == 0)
			break;		/* done, and nothing left */
		pthread_mutex_unlock(&r->lock);
		e = r->err == 0 ? r->fn(r->arg, r->chunk[r->tail], len) : 0;
		pthread_mutex_lock(&r->lock);
		if (e != 0 && r->err == 0)
			r->err = e;
		r->len[r->tail] = 0;
		r->tail = (r->tail + 1) % RELAY_DEPTH;
		pthread_cond_signal(&r->drained);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

struct relay *
relay_start(relay_fn fn, void *arg)
{
	struct relay *r = xcalloc(1, sizeof(*r));
	size_t	 i;

	r->fn = fn;
	r->arg = arg;
	for (i = 0; i < RELAY_DEPTH; i++)
		r->chunk[i] = xcalloc(1, RELAY_CHUNK);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->filled, NULL);
	pthread_cond_init(&r->drained, NULL);
	if (pthread_create(&r->thread, NULL, relay_main, r) != 0) {
		r->done = 1;
		relay_finish(r);
		return NULL;
	}
	return r;
}

/* Hands the chunk being filled to the thread; waits for a free one. */
static int
relay_pass(struct relay *r)
{
	int	 e;

	pthread_mutex_lock(&r->lock);
	r->len[r->head] = r->fill;
	pthread_cond_signal(&r->filled);
	r->head = (r->head + 1) % RELAY_DEPTH;
	r->fill = 0;
	while (r->len[r->head] != 0)
		pthread_cond_wait(&r->drained, &r->lock);
	e = r->err;
	pthread_mutex_unlock(&r->lock);
	return e;
}

int
relay_write(struct relay *r, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t	 k;
	int	 e;

	while (len > 0) {
		k = RELAY_CHUNK - r->fill;
		if (k > len)
			k = len;
		memcpy(r->chunk[r->head] + r->fill, p, k);
		r->fill += k;
		p += k;
		len -= k;
		if (r->fill == RELAY_CHUNK && (e = relay_pass(r)) != 0)
			return e;
	}
	return 0;	/* an error is told at the next chunk passed */
}

int
relay_finish(struct relay *r)
{
	size_t	 i;
	int	 e;

	if (!r->done) {
		if (r->fill > 0)
			relay_pass(r);
		pthread_mutex_lock(&r->lock);
		r->done = 1;
		pthread_cond_signal(&r->filled);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->thread, NULL);
	}
	e = r->err;
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->filled);
	pthread_cond_destroy(&r->drained);
	for (i = 0; i < RELAY_DEPTH; i++)
		free(r->chunk[i]);
	free(r);
	return e;
}
