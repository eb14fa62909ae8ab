/*
 * Chart data of one host (GET /api/v1/hosts/{id}/metrics): cpu, memory,
 * load and each filesystem over a time range, from the heartbeats'
 * samples and, where those were pruned, their hourly summaries; at most
 * METRICS_MAX_POINTS points per series.
 */
#ifndef METRICS_H
#define METRICS_H

#include <jansson.h>

#include "store.h"

#define METRICS_MAX_POINTS	1000
/* Series in one answer: cpu, memory, load and filesystems' two each. */
#define METRICS_MAX_SERIES	64
/* The longest range asked for (seconds): summaries live 400 days by
 * default, --keep-summaries at most 10 years. */
#define METRICS_MAX_RANGE	(3660LL * 86400)

/*
 * The series of host id from from to to (epoch seconds, from < to) in
 * buckets of step seconds, raised so that no series has more than
 * METRICS_MAX_POINTS (step 0: the range over 500, at least 60 s).
 * 0, -ENOENT for an unknown host, or -EIO.
 */
int	metrics_host(struct store *, const char *id, long long from,
	    long long to, long long step, json_t **out);

#endif
