/*
 * A thread that runs alert_deadman_scan on a fixed period; the scan holds
 * the store lock only for its short transaction.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "alert.h"
#include "deadman.h"
#include "log.h"
#include "store.h"

static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cond;
	pthread_t	 thread;
	int		 running;
	double		 period;
	struct store	*store;
} dm = { .mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void *
deadman_main(void *arg)
{
	struct timespec ts;
	double until;

	(void)arg;
	pthread_mutex_lock(&dm.mu);
	while (dm.running) {
		pthread_mutex_unlock(&dm.mu);
		if (alert_deadman_scan(dm.store, store_now()) < 0)
			log_warnx("deadman: scan failed");
		until = store_now() + dm.period;
		ts.tv_sec = (time_t)until;
		ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
		pthread_mutex_lock(&dm.mu);
		while (dm.running && pthread_cond_timedwait(&dm.cond, &dm.mu,
		    &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&dm.mu);
	return NULL;
}

int
deadman_start(struct store *s, double period)
{
	int r;

	dm.store = s;
	dm.period = period;
	dm.running = 1;
	if ((r = pthread_create(&dm.thread, NULL, deadman_main, NULL)) != 0) {
		dm.running = 0;
		return -r;
	}
	return 0;
}

void
deadman_stop(void)
{
	int was;

	pthread_mutex_lock(&dm.mu);
	was = dm.running;
	dm.running = 0;
	pthread_cond_signal(&dm.cond);
	pthread_mutex_unlock(&dm.mu);
	if (was)
		pthread_join(dm.thread, NULL);
}
