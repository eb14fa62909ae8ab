/*
 * Retention: which snapshots of a job to keep (keep_last / daily / weekly
 * / monthly in local time, as restic's forget --keep-*), never one that a
 * kept incremental's chain passes through; and when the next run must be
 * a full one.
 */
#ifndef RETENTION_H
#define RETENTION_H

#include <stdint.h>

#include "catalog.h"
#include "target.h"

struct retention_policy {
	unsigned	 keep_last, keep_daily, keep_weekly, keep_monthly;
};

/* Why a snapshot is kept (any of them), 0: it goes. */
#define RETENTION_LAST		0x01
#define RETENTION_DAILY		0x02
#define RETENTION_WEEKLY	0x04
#define RETENTION_MONTHLY	0x08
#define RETENTION_CHAIN		0x10	/* a kept incremental needs it */
#define RETENTION_NO_POLICY	0x20	/* every keep_* is 0: keep all */

/*
 * Decides for each snapshot of c (one job's catalog) whether it stays:
 * keep[i] gets the RETENTION_* reasons for c->entries[i], 0 when it goes.
 * keep has c->n elements.
 */
void	retention_plan(const struct catalog *c,
	    const struct retention_policy *p, unsigned *keep);

/* The reasons as words ("last,daily,chain"), into buf. */
const char *retention_reasons(unsigned keep, char *buf, size_t len);

/*
 * Removes the snapshots keep marks 0, newest first and each manifest
 * before its archive, so that whatever is left at any moment is a set of
 * whole snapshots with whole chains. The caller holds the target's lock.
 * 0, or the first -errno (the rest are still tried).
 */
int	retention_apply(struct target *t, const struct catalog *c,
	    const unsigned *keep, int encrypted);

/*
 * Whether the next run of the job whose catalog is c must be full: no
 * snapshot yet, the newest full started full_every seconds or more before
 * now (full_every 0: only when there is none), or the newest snapshot's
 * chain is broken or would grow past the chain limit.
 */
int	retention_needs_full(const struct catalog *c, int64_t full_every,
	    int64_t now);

#endif
