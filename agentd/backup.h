/*
 * Backup jobs, agentd's side: one agentd-backup process per run (it alone
 * loads the archive and crypto libraries), at most one run per job, runs
 * started by the job's calendar schedule, the run_backup command or
 * agentctl; each ending is a backup_result report.
 */
#ifndef BACKUP_H
#define BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <systemd/sd-event.h>

#include "sched.h"

/* The largest frame read from agentd-backup. */
#define BACKUP_FRAME_MAX	(64 * 1024)
#define BACKUP_ERROR_MAX	1024	/* an error text, bytes */
#define BACKUP_ID_MAX		64	/* a snapshot id, bytes */

struct backup;
struct report;

/* Sets up the jobs of sched's config; helper_path is agentd-backup. */
int	backup_new(sd_event *event, struct sched *sched, struct report *report,
	    const char *helper_path, struct backup **bp);
/* After sched_apply: the jobs of the new config (a run in flight goes on
 * with the job it started with). */
void	backup_apply(struct backup *b);
/* Starts a run of job name now. 0 with *run (its number, for
 * backup_status's "last"."run"), -ENOENT (no such job), -EBUSY (already
 * running). */
int	backup_start(struct backup *b, const char *name, bool full,
	    uint64_t *run);
/* [{"job","running","run","progress"?,"last"?,"schedule","next_run"}...]
 * for agentctl backup status. New reference. */
json_t	*backup_status(struct backup *b);
/* Checks one frame from agentd-backup whole: {"t":"progress","files":N,
 * "bytes":N,"rate":N} or {"t":"result","snapshot":S,"status":S,"kind":S,
 * "parent":S,"files":N,"bytes":N,"stored_bytes":N,"forgotten":N,
 * "duration":R,"error":S}, nothing else. 0, or -EBADMSG with the reason
 * in err. */
int	backup_msg_check(json_t *msg, char *err, size_t errlen);
/* Where a job's key lives (state_dir/backup/JOB.key), and the local
 * flock file of a target (one per target URL: lock.h), for agentd-backup
 * and agentctl alike. */
void	backup_key_path(const char *state_dir, const char *job, char *buf,
	    size_t len);
void	backup_lock_path(const char *state_dir, const char *target, char *buf,
	    size_t len);
/* Stops what runs (blocking: shutdown only) and frees. */
void	backup_free(struct backup *b);

#endif
