/*
 * Report retention (docs/portal.md, "Retention"): the metrics of each
 * heartbeat kept in a narrow row for charts (samples), heartbeats and
 * their samples pruned after --keep-reports in small transactions, each
 * pruned sample folded into hourly summaries kept for --keep-summaries,
 * and the other reports and the check_changes history pruned after
 * --keep-events.
 */
#ifndef RETAIN_H
#define RETAIN_H

#include <jansson.h>

#include "store.h"

/* Rows one prune transaction removes at most: it holds the store lock
 * for the whole transaction, and ingest waits for that lock. */
#define RETAIN_BATCH		1000
/* Filesystem metrics kept per sample, and their longest label. */
#define RETAIN_MAX_FS		64
#define RETAIN_MAX_LABEL	128

#define RETAIN_DEFAULT_REPORTS		(30.0 * 86400)
#define RETAIN_DEFAULT_SUMMARIES	(400.0 * 86400)
#define RETAIN_DEFAULT_EVENTS		(400.0 * 86400)

struct retain_policy {
	double	keep_reports;	/* heartbeats and their samples */
	double	keep_summaries;	/* hourly summaries */
	double	keep_events;	/* other reports, check_changes */
};

/* The metrics of one heartbeat's checks into samples. Lock held, in the
 * caller's transaction. */
int	retain_sample(struct store *, const char *agent_id, long long seq,
	    double time, json_t *checks);

/*
 * One prune transaction at now: at most RETAIN_BATCH rows of the oldest
 * kind still due. Returns the rows removed (0: nothing left to do) or a
 * negative errno; *held gets the seconds the store lock was held.
 */
int	retain_prune_batch(struct store *, const struct retain_policy *,
	    double now, double *held);
/* Batches until nothing is due or max_batches ran; returns rows removed
 * or a negative errno. *longest gets the longest lock hold. */
long long retain_prune(struct store *, const struct retain_policy *,
	    double now, int max_batches, double *longest);

/* The background thread: a prune pass every period seconds, one batch at
 * a time with the lock released between batches. */
int	retain_start(struct store *, const struct retain_policy *,
	    double period);
void	retain_stop(void);

#endif
