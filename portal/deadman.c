/*
 * A thread that runs alert_deadman_scan on a fixed period; the scan holds
 * the store lock only for its short transaction. Durations here come from
 * the monotonic clock. The silence of a host is a difference of realtime
 * stamps in the database (they must mean the same to every portal
 * instance), so the job also watches for realtime steps: between two runs
 * realtime should advance as much as the monotonic clock; when it does not,
 * the portal's clock was stepped, and every host gets a full grace period
 * from the step (alert_clock_step) instead of being declared unreachable
 * by a jump of the clock.
 */
#include <errno.h>
#include <math.h>
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
	struct deadman_clocks clocks;
	int		 have_prev;	/* prev_* hold the last run's reading */
	double		 prev_mono, prev_real;
	double		 repeat;	/* --webhook-repeat, 0: never */
} dm = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.clocks = { store_monotonic, store_now },
};

void
deadman_set_clocks(const struct deadman_clocks *c)
{
	if (c != NULL)
		dm.clocks = *c;
	else {
		dm.clocks.monotonic = store_monotonic;
		dm.clocks.realtime = store_now;
	}
	dm.have_prev = 0;
}

void
deadman_set_repeat(double interval)
{
	dm.repeat = interval;
}

int
deadman_run(struct store *s)
{
	double mono = dm.clocks.monotonic(), real = dm.clocks.realtime();
	double step;
	int r;

	if (dm.have_prev) {
		step = (real - dm.prev_real) - (mono - dm.prev_mono);
		if (fabs(step) > DEADMAN_STEP_TOLERANCE) {
			log_warnx("deadman: the realtime clock stepped %+.0f s; "
			    "every host gets a full grace period from now",
			    step);
			if ((r = alert_clock_step(s, real, step)) != 0)
				return r;
		}
	}
	dm.prev_mono = mono;
	dm.prev_real = real;
	dm.have_prev = 1;
	/* Maintenance windows and silences whose end has passed: their
	 * held-back alerts, before a host they hid is declared silent. */
	if ((r = alert_window_scan(s, real)) < 0)
		log_warnx("deadman: ending maintenance windows failed");
	if (dm.repeat > 0 && alert_repeat_scan(s, real, dm.repeat) < 0)
		log_warnx("deadman: repeating alerts failed");
	return alert_deadman_scan(s, real);
}

static void *
deadman_main(void *arg)
{
	struct timespec ts;
	double until;

	(void)arg;
	pthread_mutex_lock(&dm.mu);
	while (dm.running) {
		pthread_mutex_unlock(&dm.mu);
		if (deadman_run(dm.store) < 0)
			log_warnx("deadman: scan failed");
		/* The condition variable waits on CLOCK_MONOTONIC. */
		until = store_monotonic() + dm.period;
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
	pthread_condattr_t attr;
	int r;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&dm.cond, &attr);
	pthread_condattr_destroy(&attr);
	dm.store = s;
	dm.period = period;
	dm.running = 1;
	if ((r = pthread_create(&dm.thread, NULL, deadman_main, NULL)) != 0) {
		dm.running = 0;
		pthread_cond_destroy(&dm.cond);
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
	if (was)
		pthread_cond_signal(&dm.cond);
	pthread_mutex_unlock(&dm.mu);
	if (was) {
		pthread_join(dm.thread, NULL);
		pthread_cond_destroy(&dm.cond);
	}
}
