/*
 * Backup jobs (see backup.h). A job keeps one struct helper in
 * HELPER_ONCE mode, started anew for each run with agentd's
 * CAP_DAC_READ_SEARCH (it must read every file); what it sends back is
 * checked by backup_msg_check before anything is used.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "backup.h"
#include "backupstale.h"
#include "config.h"
#include "decide.h"
#include "helper.h"
#include "log.h"
#include "report.h"
#include "timeutil.h"
#include "xmalloc.h"

/* Counts and sizes: 2^53, what a JSON number holds exactly. */
#define BACKUP_COUNT_MAX	(1LL << 53)
/* How long a scheduled run waits for its target's lock (another job on the
 * same target running): seconds. A run asked for now does not wait. */
#define BACKUP_LOCK_WAIT	3600
/* A run's duration: ten years is not one. */
#define BACKUP_DURATION_MAX	(3650.0 * 86400)
/* How often backup.NAME is looked at again: staleness grows with time. */
#define BACKUP_STALE_USEC	(60 * 1000000ULL)

struct backup_job {
	struct backup		*backup;
	char			*name;
	struct helper		*helper;
	struct sched_cal	*cal;
	char			*schedule;	/* for status */
	json_t			*frame;		/* the job, for on_start */
	bool			 running, gone, stale;
	uint64_t		 run;		/* the one running or last */
	uint64_t		 started_mono;
	int64_t			 started;	/* realtime seconds */
	json_int_t		 files, bytes, rate;	/* progress */
	json_t			*result;	/* the run's result frame */
	json_t			*last;		/* the last run, for status */
	struct decide_check	*dc;		/* backup.NAME */
	struct backupstale_rec	 rec;		/* what it judges */
	LIST_ENTRY(backup_job)	 entry;
};

struct backup {
	sd_event		*event;
	struct sched		*sched;
	struct report		*report;
	char			*helper_path;
	uint64_t		 runs;
	sd_event_source		*stale_timer;
	LIST_HEAD(, backup_job)	 jobs;
};

/* ---- backup.NAME, the staleness check ---- */

/* Hands the job's check a fresh result, through decide like any check. */
static void
backup_judge(struct backup_job *j)
{
	const struct backup_conf *bc;
	struct result r = { 0 };

	if (j->dc == NULL || (bc = config_find_backup((struct config *)
	    sched_config(j->backup->sched), j->name)) == NULL)
		return;
	backupstale_eval(bc, &j->rec, (int64_t)(time_now(CLOCK_REALTIME) /
	    1000000), &r);
	r.when_usec = time_now(CLOCK_REALTIME);
	r.mono_usec = time_now(CLOCK_MONOTONIC);
	decide_result(j->dc, &r);
	result_reset(&r);
}

static int
backup_stale_tick(sd_event_source *es, uint64_t usec, void *arg)
{
	struct backup *b = arg;
	struct backup_job *j;

	(void)usec;
	LIST_FOREACH(j, &b->jobs, entry)
		if (!j->gone)
			backup_judge(j);
	sd_event_source_set_time_relative(es, BACKUP_STALE_USEC);
	return 0;
}

/* ---- frames ---- */

static int
backup_count_ok(json_int_t v)
{
	return v >= 0 && v <= BACKUP_COUNT_MAX;
}

static int
backup_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n >= BACKUP_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'A' && id[i] <= 'Z') ||
		    (id[i] >= 'a' && id[i] <= 'z') ||
		    (id[i] >= '0' && id[i] <= '9') || id[i] == '-' ||
		    id[i] == '_' || id[i] == '.'))
			return 0;
	return 1;
}

int
backup_msg_check(json_t *msg, char *err, size_t errlen)
{
	json_int_t files, bytes, rate, stored, forgotten;
	const char *t, *id, *status, *error, *kind, *parent;
	json_error_t jerr;
	double duration;

	if (json_unpack(msg, "{s:s}", "t", &t) < 0) {
		snprintf(err, errlen, "no string member 't'");
		return -EBADMSG;
	}
	if (strcmp(t, "progress") == 0) {
		/* Four pairs: t, files, bytes, rate. */
		if (json_unpack_ex(msg, &jerr, JSON_STRICT,
		    "{s:s, s:I, s:I, s:I}", "t", &t, "files", &files,
		    "bytes", &bytes, "rate", &rate) < 0) {
			snprintf(err, errlen, "progress: %s", jerr.text);
			return -EBADMSG;
		}
		if (!backup_count_ok(files) || !backup_count_ok(bytes) ||
		    !backup_count_ok(rate)) {
			snprintf(err, errlen, "progress: a count out of range");
			return -EBADMSG;
		}
		return 0;
	}
	if (strcmp(t, "result") != 0) {
		snprintf(err, errlen, "unknown frame type");
		return -EBADMSG;
	}
	/* Eleven pairs: t, snapshot, status, kind, parent, files, bytes,
	 * stored_bytes, forgotten, duration, error. */
	if (json_unpack_ex(msg, &jerr, JSON_STRICT,
	    "{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:F, s:s}",
	    "t", &t, "snapshot", &id, "status", &status, "kind", &kind,
	    "parent", &parent, "files", &files, "bytes", &bytes,
	    "stored_bytes", &stored, "forgotten", &forgotten,
	    "duration", &duration, "error", &error) < 0) {
		snprintf(err, errlen, "result: %s", jerr.text);
		return -EBADMSG;
	}
	/* A full has no parent, an incremental one (also when the run
	 * failed: the kind is what it was to be). */
	if ((strcmp(kind, "full") != 0 || *parent != '\0') &&
	    (strcmp(kind, "incremental") != 0 || *parent == '\0' ||
	    !backup_id_ok(parent))) {
		snprintf(err, errlen, "result: kind is not full without a "
		    "parent or incremental with one");
		return -EBADMSG;
	}
	if (!backup_count_ok(forgotten)) {
		snprintf(err, errlen, "result: a count out of range");
		return -EBADMSG;
	}
	if (strcmp(status, "ok") != 0 && strcmp(status, "partial") != 0 &&
	    strcmp(status, "failed") != 0) {
		snprintf(err, errlen, "result: status is not ok, partial or "
		    "failed");
		return -EBADMSG;
	}
	if (!backup_id_ok(id) || (*id == '\0' && strcmp(status, "failed"))) {
		snprintf(err, errlen, "result: a bad snapshot id");
		return -EBADMSG;
	}
	if (!backup_count_ok(files) || !backup_count_ok(bytes) ||
	    !backup_count_ok(stored) || !(duration >= 0) ||
	    duration > BACKUP_DURATION_MAX) {
		snprintf(err, errlen, "result: a count out of range");
		return -EBADMSG;
	}
	if (strlen(error) > BACKUP_ERROR_MAX) {
		snprintf(err, errlen, "result: error text over %d bytes",
		    BACKUP_ERROR_MAX);
		return -EBADMSG;
	}
	return 0;
}

/* ---- runs ---- */

static json_t *
backup_strings(char **v)
{
	json_t *a = json_array();

	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* FNV-1a: one lock file per target URL, whatever its length or bytes. */
static uint64_t
backup_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

void
backup_key_path(const char *state_dir, const char *job, char *buf,
    size_t len)
{
	snprintf(buf, len, "%s/backup/%s.key", state_dir, job);
}

void
backup_lock_path(const char *state_dir, const char *target, char *buf,
    size_t len)
{
	snprintf(buf, len, "%s/backup/target-%016llx.lock", state_dir,
	    (unsigned long long)backup_hash(target));
}

/* The job frame agentd-backup reads first (backup/agentd-backup.c). */
static json_t *
backup_job_frame(const struct config *cfg, const struct backup_conf *bc,
    bool full, bool scheduled)
{
	char key[PATH_MAX], lock[PATH_MAX];
	json_t *o;

	key[0] = '\0';
	if (bc->encryption)
		backup_key_path(cfg->state_dir, bc->name, key, sizeof(key));
	backup_lock_path(cfg->state_dir, bc->target, lock, sizeof(lock));
	/* Nineteen pairs: t, job, paths, excludes, one_file_system,
	 * target, compression, key_file, pre_hook, post_hook, hook_timeout,
	 * lock_file, lock_wait, full, full_every, keep_last, keep_daily,
	 * keep_weekly, keep_monthly. */
	o = json_pack("{s:s, s:s, s:o, s:o, s:b, s:s, s:i, s:s, s:o, s:o, "
	    "s:I, s:s, s:i, s:b, s:I, s:I, s:I, s:I, s:I}",
	    "t", "job", "job", bc->name, "paths", backup_strings(bc->paths),
	    "excludes", backup_strings(bc->excludes),
	    "one_file_system", bc->one_file_system, "target", bc->target,
	    "compression", bc->compression, "key_file", key,
	    "pre_hook", backup_strings(bc->pre_hook),
	    "post_hook", backup_strings(bc->post_hook),
	    "hook_timeout", (json_int_t)bc->hook_timeout,
	    "lock_file", lock, "lock_wait", scheduled ? BACKUP_LOCK_WAIT : 0,
	    "full", full,
	    "full_every", (json_int_t)bc->full_every,
	    "keep_last", (json_int_t)bc->keep_last,
	    "keep_daily", (json_int_t)bc->keep_daily,
	    "keep_weekly", (json_int_t)bc->keep_weekly,
	    "keep_monthly", (json_int_t)bc->keep_monthly);
	/* Four pairs: host_key, key_file, bandwidth_limit, timeout. */
	if (o != NULL && strncmp(bc->target, "sftp://", 7) == 0 &&
	    json_object_set_new(o, "sftp", json_pack("{s:s, s:s, s:I, s:I}",
	    "host_key", bc->sftp_host_key, "key_file", bc->sftp_key_file,
	    "bandwidth_limit", (json_int_t)bc->bandwidth_limit,
	    "timeout", (json_int_t)bc->sftp_timeout)) < 0) {
		json_decref(o);
		o = NULL;
	}
	if (o == NULL)
		fatalx("cannot encode backup job %s", bc->name);
	return o;
}

static void
backup_on_start(struct helper *h, void *arg)
{
	struct backup_job *j = arg;

	if (helper_send(h, j->frame) < 0)
		log_warnx("backup %s: cannot send the job", j->name);
}

static void
backup_on_msg(struct helper *h, json_t *msg, void *arg)
{
	struct backup_job *j = arg;
	const char *t = json_string_value(json_object_get(msg, "t"));

	(void)h;
	if (strcmp(t, "progress") == 0) {
		j->files = json_integer_value(json_object_get(msg, "files"));
		j->bytes = json_integer_value(json_object_get(msg, "bytes"));
		j->rate = json_integer_value(json_object_get(msg, "rate"));
	} else if (j->result == NULL)
		j->result = json_deep_copy(msg);
	else
		log_warnx("backup %s: a second result ignored", j->name);
}

/* The run ended: its outcome, checked against the exit status, becomes the
 * job's last result and a backup_result report. ex is NULL when agentd
 * stops under a running run: its helper is gone with no exit status. */
static void
backup_ended(struct backup_job *j, const struct helper_exit *ex)
{
	const char *status = "failed", *snapshot = "", *error = "";
	const char *kind = "full", *parent = "";
	json_int_t files = 0, bytes = 0, stored = 0, forgotten = 0;
	double duration;
	char why[BACKUP_ERROR_MAX + 256], esc[BACKUP_ERROR_MAX + 64];
	int expect, r;
	json_t *errors, *p;

	duration = (double)time_since(j->started_mono,
	    time_now(CLOCK_MONOTONIC)) / 1e6;
	why[0] = '\0';
	if (j->result != NULL) {
		/* Nine pairs: status, snapshot, kind, parent, files, bytes,
		 * stored_bytes, forgotten, error (checked whole by
		 * backup_msg_check). */
		json_unpack(j->result, "{s:s, s:s, s:s, s:s, s:I, s:I, s:I, "
		    "s:I, s:s}", "status", &status, "snapshot", &snapshot,
		    "kind", &kind, "parent", &parent, "files", &files,
		    "bytes", &bytes, "stored_bytes", &stored,
		    "forgotten", &forgotten, "error", &error);
		expect = strcmp(status, "ok") == 0 ? 0 :
		    strcmp(status, "partial") == 0 ? 2 : 1;
		/* Stopped after its result: the run was over. */
		if (ex != NULL && ex->status != expect) {
			snprintf(why, sizeof(why), "%s%s%s after its result",
			    error, *error != '\0' ? "; " : "", ex->why);
			status = "failed";
		} else
			snprintf(why, sizeof(why), "%s", error);
	} else if (ex == NULL)
		snprintf(why, sizeof(why), "interrupted: agentd stopped");
	else
		snprintf(why, sizeof(why), "agentd-backup ended without a "
		    "result: %s", ex->why != NULL ? ex->why : "?");

	errors = json_array();
	if (why[0] != '\0')
		json_array_append_new(errors, json_string(why));
	/* Thirteen pairs: job, snapshot, kind, parent, status, files,
	 * bytes, stored_bytes, forgotten, duration, errors, run, started. */
	p = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:f, "
	    "s:o, s:I, s:I}", "job", j->name, "snapshot", snapshot,
	    "kind", kind, "parent", parent, "status", status, "files", files,
	    "bytes", bytes, "stored_bytes", stored, "forgotten", forgotten,
	    "duration", duration, "errors", errors,
	    "run", (json_int_t)j->run, "started", (json_int_t)j->started);
	if (p == NULL)
		fatalx("cannot encode a backup result");
	if (strcmp(status, "ok") == 0)
		log_info("backup %s: %s snapshot %s, %lld files, %lld bytes",
		    j->name, kind, snapshot, (long long)files,
		    (long long)bytes);
	else
		log_warnx("backup %s: %s%s%s", j->name, status,
		    why[0] != '\0' ? ": " : "",
		    log_escape(esc, sizeof(esc), why));
	json_decref(j->last);
	j->last = json_incref(p);
	report_emit(j->backup->report, "backup_result", p, REPORT_IMPORTANT);
	backupstale_record(&j->rec, status, (int64_t)(time_now(CLOCK_REALTIME) /
	    1000000));
	if ((r = backupstale_save(sched_config(j->backup->sched)->state_dir,
	    j->name, &j->rec)) != 0)
		log_warnx("backup %s: cannot keep its last run in the state "
		    "directory: %s", j->name, strerror(-r));
	backup_judge(j);
	json_decref(j->result);
	j->result = NULL;
	json_decref(j->frame);
	j->frame = NULL;
	j->running = false;
}

static void
backup_on_exit(struct helper *h, const struct helper_exit *ex, void *arg)
{
	(void)h;
	backup_ended(arg, ex);
}

static const struct helper_ops backup_helper_ops = {
	.validate = backup_msg_check,
	.on_start = backup_on_start,
	.on_msg = backup_on_msg,
	.on_exit = backup_on_exit,
};

static struct backup_job *
backup_find(struct backup *b, const char *name)
{
	struct backup_job *j;

	LIST_FOREACH(j, &b->jobs, entry)
		if (!j->gone && strcmp(j->name, name) == 0)
			return j;
	return NULL;
}

static int
backup_job_start(struct backup_job *j, bool full, bool scheduled)
{
	const struct config *cfg = sched_config(j->backup->sched);
	const struct backup_conf *bc;

	if (j->running)
		return -EBUSY;
	if ((bc = config_find_backup((struct config *)cfg, j->name)) == NULL)
		return -ENOENT;
	j->frame = backup_job_frame(cfg, bc, full, scheduled);
	j->running = true;
	j->run = ++j->backup->runs;
	j->started = time(NULL);
	j->started_mono = time_now(CLOCK_MONOTONIC);
	j->files = j->bytes = j->rate = 0;
	log_info("backup %s: run %llu started%s", j->name,
	    (unsigned long long)j->run, full ? " (full forced)" : "");
	helper_start(j->helper);
	return 0;
}

int
backup_start(struct backup *b, const char *name, bool full, uint64_t *run)
{
	struct backup_job *j = backup_find(b, name);
	int r;

	if (j == NULL)
		return -ENOENT;
	if ((r = backup_job_start(j, full, false)) == 0)
		*run = j->run;
	return r;
}

static void
backup_on_cal(struct sched_cal *e, void *userdata)
{
	struct backup_job *j = userdata;

	(void)e;
	if (backup_job_start(j, false, true) == -EBUSY)
		log_warnx("backup %s: still running at its scheduled time; "
		    "this run skipped", j->name);
}

/* ---- jobs ---- */

static struct backup_job *
backup_job_new(struct backup *b, const char *name)
{
	char *const argv[] = { "agentd-backup", log_to_journal() ? NULL :
	    "--stderr", NULL };
	struct helper_params hp = {
		.name = "agentd-backup",
		.path = b->helper_path,
		.argv = argv,
		.mode = HELPER_ONCE,
		.flags = HELPER_KEEP_CAPS,
		.frame_max = BACKUP_FRAME_MAX,
	};
	struct backup_job *j = xcalloc(1, sizeof(*j));
	char check[80];
	int r;

	j->backup = b;
	j->name = xstrdup(name);
	/* Its last good time survives a restart; before the first run the
	 * check says "never run". */
	if ((r = backupstale_load(sched_config(b->sched)->state_dir, name,
	    &j->rec)) != 0)
		log_warnx("backup %s: its state file cannot be read (%s); "
		    "taken as never run", name, strerror(-r));
	snprintf(check, sizeof(check), "backup.%s", name);
	j->dc = decide_check_add(sched_decide(b->sched), check,
	    CHECK_COLLECTOR, NULL, NULL);
	if ((r = helper_new(b->event, &hp, &backup_helper_ops, j,
	    &j->helper)) < 0)
		fatalx("cannot set up agentd-backup: %s", strerror(-r));
	LIST_INSERT_HEAD(&b->jobs, j, entry);
	return j;
}

static void
backup_job_free(struct backup_job *j)
{
	LIST_REMOVE(j, entry);
	decide_check_remove(j->dc);
	sched_cal_free(j->cal);
	helper_free(j->helper);
	json_decref(j->frame);
	json_decref(j->result);
	json_decref(j->last);
	free(j->schedule);
	free(j->name);
	free(j);
}

void
backup_apply(struct backup *b)
{
	const struct config *cfg = sched_config(b->sched);
	struct backup_job *j, *next;
	char id[80];

	LIST_FOREACH(j, &b->jobs, entry)
		j->stale = true;
	for (size_t i = 0; i < cfg->nbackups; i++) {
		const struct backup_conf *bc = &cfg->backups[i];

		if ((j = backup_find(b, bc->name)) == NULL)
			j = backup_job_new(b, bc->name);
		else
			/* After the scheduler's checks, in config order. */
			decide_check_keep(j->dc, NULL, NULL);
		j->stale = false;
		sched_cal_free(j->cal);
		j->cal = NULL;
		free(j->schedule);
		j->schedule = NULL;
		if (bc->schedule != NULL) {
			snprintf(id, sizeof(id), "backup.%s", bc->name);
			j->cal = sched_cal_add(b->sched, id, &bc->cron,
			    bc->randomized_delay, backup_on_cal, j);
			j->schedule = xstrdup(bc->schedule);
		}
	}
	for (j = LIST_FIRST(&b->jobs); j != NULL; j = next) {
		next = LIST_NEXT(j, entry);
		if (!j->stale)
			continue;
		sched_cal_free(j->cal);
		j->cal = NULL;
		decide_check_remove(j->dc);
		j->dc = NULL;
		if (j->running)
			/* Its run finishes and is reported; the helper
			 * cannot be freed from its own exit callback, so
			 * the job stays (unlisted) until shutdown. */
			j->gone = true;
		else
			backup_job_free(j);
	}
	/* Thresholds may have changed with the config. */
	LIST_FOREACH(j, &b->jobs, entry)
		if (!j->gone)
			backup_judge(j);
}

json_t *
backup_status(struct backup *b)
{
	json_t *a = json_array(), *o;
	struct backup_job *j;
	uint64_t due;

	LIST_FOREACH(j, &b->jobs, entry) {
		if (j->gone)
			continue;
		/* Three pairs: job, running, run. */
		o = json_pack("{s:s, s:b, s:I}", "job", j->name,
		    "running", j->running, "run", (json_int_t)j->run);
		if (j->running)
			/* Four pairs: files, bytes, rate, started. */
			json_object_set_new(o, "progress", json_pack(
			    "{s:I, s:I, s:I, s:I}", "files", j->files,
			    "bytes", j->bytes, "rate", j->rate,
			    "started", (json_int_t)j->started));
		json_object_set(o, "last", j->last != NULL ? j->last :
		    json_null());
		json_object_set_new(o, "schedule", j->schedule != NULL ?
		    json_string(j->schedule) : json_null());
		due = j->cal != NULL ? sched_cal_due(j->cal) : 0;
		json_object_set_new(o, "next_run", due != 0 ?
		    json_integer((json_int_t)(due / 1000000)) : json_null());
		json_array_append_new(a, o);
	}
	return a;
}

int
backup_new(sd_event *event, struct sched *sched, struct report *report,
    const char *helper_path, struct backup **bp)
{
	struct backup *b = xcalloc(1, sizeof(*b));

	b->event = event;
	b->sched = sched;
	b->report = report;
	b->helper_path = xstrdup(helper_path);
	LIST_INIT(&b->jobs);
	backup_apply(b);
	if (sd_event_add_time_relative(event, &b->stale_timer,
	    CLOCK_MONOTONIC, BACKUP_STALE_USEC, 1000000, backup_stale_tick,
	    b) < 0)
		fatalx("cannot set up the backup staleness timer");
	*bp = b;
	return 0;
}

void
backup_free(struct backup *b)
{
	struct backup_job *j;

	if (b == NULL)
		return;
	while ((j = LIST_FIRST(&b->jobs)) != NULL) {
		/* A run cut short by our stop is still a run the portal
		 * must hear of: once its helper is stopped (SIGTERM, then
		 * SIGKILL), a failed backup_result goes to the spool, which
		 * is still open (report_free comes after us). */
		if (j->running) {
			helper_free(j->helper);
			j->helper = NULL;
			backup_ended(j, NULL);
		}
		backup_job_free(j);
	}
	sd_event_source_unref(b->stale_timer);
	free(b->helper_path);
	free(b);
}
