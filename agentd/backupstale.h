/*
 * The built-in check of a backup job, backup.NAME: how long ago its last
 * good snapshot was made against what its schedule allows, and its run of
 * failures; the job's record of that, kept in the state directory so that
 * an agentd restart does not forget it.
 */
#ifndef BACKUPSTALE_H
#define BACKUPSTALE_H

#include <stdint.h>

#include "config.h"
#include "result.h"

/* Consecutive failed runs that make the check CRITICAL by default. */
#define BACKUPSTALE_FAILURES	3

/* What the job has done, as kept in STATE_DIR/backup/NAME.state. Times are
 * realtime seconds, 0 = never. */
struct backupstale_rec {
	int64_t		 last_ok;	/* end of the last ok run */
	int64_t		 last_run;	/* end of the last run, any status */
	unsigned	 failures;	/* failed or partial runs since */
	char		 last_status[16];
};

/*
 * The thresholds (seconds, 0 = none) of bc at now: stale_warning and
 * stale_critical as configured, else from the schedule: 1.5 and 3 times
 * the longest gap between its next fires, plus randomized_delay. A job
 * without a schedule has none unless configured.
 */
void	backupstale_limits(const struct backup_conf *bc, int64_t now,
	    unsigned *warn, unsigned *crit);
/* The check's result for bc with rec at now (realtime seconds). */
void	backupstale_eval(const struct backup_conf *bc,
	    const struct backupstale_rec *rec, int64_t now, struct result *r);
/* A finished run: status "ok", "partial" or "failed", ended at when. */
void	backupstale_record(struct backupstale_rec *rec, const char *status,
	    int64_t when);

/* Loads STATE_DIR/backup/NAME.state; a missing file is a job never run
 * (0 and rec zeroed), an unreadable or malformed one -errno (rec zeroed,
 * logged by the caller). */
int	backupstale_load(const char *state_dir, const char *name,
	    struct backupstale_rec *rec);
/* Replaces it atomically (temporary file, fsync, rename). 0 or -errno. */
int	backupstale_save(const char *state_dir, const char *name,
	    const struct backupstale_rec *rec);

#endif
