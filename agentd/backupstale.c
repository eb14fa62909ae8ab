/*
 * backup.NAME: the staleness check of a backup job (see backupstale.h).
 * Pure but for the state file, so tests drive it with any clock.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backupstale.h"
#include "cron.h"
#include "sysfile.h"

/* Fires looked at for the longest gap of a schedule ("0 2 * * 1-5" has a
 * three-day gap over the weekend). */
#define STALE_FIRES	16
#define STATE_MAX	512

void
backupstale_limits(const struct backup_conf *bc, int64_t now,
    unsigned *warn, unsigned *crit)
{
	time_t t = (time_t)now, next;
	int64_t gap = 0, prev = 0;

	*warn = bc->stale_warning;
	*crit = bc->stale_critical;
	if (bc->schedule != NULL && (*warn == 0 || *crit == 0)) {
		for (int i = 0; i < STALE_FIRES; i++) {
			if (cron_next(&bc->cron, t, &next) != 0)
				break;
			if (i > 0 && (int64_t)next - prev > gap)
				gap = (int64_t)next - prev;
			prev = (int64_t)next;
			t = next;
		}
		if (gap > 0) {
			if (gap > UINT_MAX / 4)
				gap = UINT_MAX / 4;
			if (*warn == 0)
				*warn = (unsigned)(gap * 3 / 2) +
				    bc->randomized_delay;
			if (*crit == 0)
				*crit = (unsigned)(gap * 3) +
				    bc->randomized_delay;
		}
	}
	/* A configured warning above the derived critical one. */
	if (*warn != 0 && *crit != 0 && *crit < *warn)
		*crit = *warn;
}

/* "3d4h", "2h5m", "40s": an age, two units at most. */
static void
stale_age(char *buf, size_t len, int64_t s)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(buf, len, "%" PRId64 "d%" PRId64 "h", s / 86400,
		    s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%" PRId64 "h%" PRId64 "m", s / 3600,
		    s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, len, "%" PRId64 "m%" PRId64 "s", s / 60, s % 60);
	else
		snprintf(buf, len, "%" PRId64 "s", s);
}

void
backupstale_eval(const struct backup_conf *bc,
    const struct backupstale_rec *rec, int64_t now, struct result *r)
{
	unsigned warn, crit, nfail = bc->stale_failures != 0 ?
	    bc->stale_failures : BACKUPSTALE_FAILURES;
	char age[32], lim[32], fails[64];
	int64_t since;
	struct perf *p;

	result_reset(r);
	backupstale_limits(bc, now, &warn, &crit);
	fails[0] = '\0';
	if (rec->failures > 0)
		snprintf(fails, sizeof(fails), "; last %u run%s %s",
		    rec->failures, rec->failures == 1 ? "" : "s",
		    rec->failures == 1 ? rec->last_status : "not ok");
	if (rec->last_run == 0 && rec->last_ok == 0) {
		result_set(r, STATE_UNKNOWN, "backup %s: never run", bc->name);
		return;
	}
	if (rec->last_ok == 0) {
		result_set(r, rec->failures >= nfail ? STATE_CRITICAL :
		    STATE_WARNING, "backup %s: no good backup yet%s",
		    bc->name, fails);
		return;
	}
	since = now - rec->last_ok;
	if (since < 0)
		since = 0;	/* the clock went back */
	stale_age(age, sizeof(age), since);
	if (crit != 0 && since > (int64_t)crit) {
		stale_age(lim, sizeof(lim), crit);
		result_set(r, STATE_CRITICAL, "backup %s: last good backup "
		    "%s ago, over %s%s", bc->name, age, lim, fails);
	} else if (warn != 0 && since > (int64_t)warn) {
		stale_age(lim, sizeof(lim), warn);
		result_set(r, STATE_WARNING, "backup %s: last good backup "
		    "%s ago, over %s%s", bc->name, age, lim, fails);
	} else
		result_set(r, STATE_OK, "backup %s: last good backup %s ago%s",
		    bc->name, age, fails);
	if (rec->failures >= nfail) {
		result_escalate(r, STATE_CRITICAL);
		snprintf(r->summary, sizeof(r->summary), "backup %s: %u runs "
		    "in a row not ok; last good backup %s ago", bc->name,
		    rec->failures, age);
	}
	if ((p = result_add_perf(r, "age", (double)since, "s")) != NULL) {
		if (warn != 0)
			snprintf(p->warn, sizeof(p->warn), "%u", warn);
		if (crit != 0)
			snprintf(p->crit, sizeof(p->crit), "%u", crit);
		p->min = 0;
		p->has_min = true;
	}
}

void
backupstale_record(struct backupstale_rec *rec, const char *status,
    int64_t when)
{
	rec->last_run = when;
	snprintf(rec->last_status, sizeof(rec->last_status), "%s", status);
	if (strcmp(status, "ok") == 0) {
		rec->last_ok = when;
		rec->failures = 0;
	} else if (rec->failures < 1000000)
		rec->failures++;
}

static int
stale_path(const char *state_dir, char *dir, size_t len)
{
	int n = snprintf(dir, len, "%s/backup", state_dir);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int
backupstale_load(const char *state_dir, const char *name,
    struct backupstale_rec *rec)
{
	char dir[PATH_MAX], file[128], *buf = NULL, status[16];
	long long ok, run;
	unsigned fails;
	size_t len;
	bool trunc;
	int r;

	memset(rec, 0, sizeof(*rec));
	if ((r = stale_path(state_dir, dir, sizeof(dir))) != 0)
		return r;
	snprintf(file, sizeof(file), "%s.state", name);
	if ((r = sysfile_read(dir, file, STATE_MAX, &buf, &len,
	    &trunc)) != 0)
		return r == -ENOENT ? 0 : r;
	if (trunc || sscanf(buf, "agentd-backup-state 1\nlast_ok %lld\n"
	    "last_run %lld\nfailures %u\nlast_status %15s\n", &ok, &run,
	    &fails, status) != 4 || ok < 0 || run < 0) {
		free(buf);
		return -EINVAL;
	}
	free(buf);
	rec->last_ok = ok;
	rec->last_run = run;
	rec->failures = fails;
	snprintf(rec->last_status, sizeof(rec->last_status), "%s",
	    strcmp(status, "-") == 0 ? "" : status);
	return 0;
}

int
backupstale_save(const char *state_dir, const char *name,
    const struct backupstale_rec *rec)
{
	char dir[PATH_MAX], file[128], text[STATE_MAX];
	int r;

	if ((r = stale_path(state_dir, dir, sizeof(dir))) != 0)
		return r;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(file, sizeof(file), "%s.state", name);
	snprintf(text, sizeof(text), "agentd-backup-state 1\nlast_ok %lld\n"
	    "last_run %lld\nfailures %u\nlast_status %s\n",
	    (long long)rec->last_ok, (long long)rec->last_run, rec->failures,
	    rec->last_status[0] != '\0' ? rec->last_status : "-");
	return sysfile_write_atomic(dir, file, text, 0600);
}
