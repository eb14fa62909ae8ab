/*
 * Check scheduling on the loop. Each enabled check has a timer; a due
 * external check waits in a FIFO for one of max_concurrent_checks slots.
 * Collectors that fail double their interval up to 8x (as collectd does)
 * and return to normal on the first success. Calendar entries (checks with
 * a schedule, later backups) fire on CLOCK_REALTIME timers, remember their
 * last run in the state dir and are recomputed when the clock is set.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "collector.h"
#include "exec.h"
#include "log.h"
#include "plugin.h"
#include "safepath.h"
#include "sched.h"
#include "sysfile.h"
#include "timeutil.h"
#include "xmalloc.h"

#define SCHED_BACKOFF_MAX	8	/* times the configured interval */
#define SCHED_FIRST_SPREAD_USEC	(5 * 1000000ULL)
#define SCHED_CAL_FILE		"calendar"
#define SCHED_CAL_FILE_MAX	(64 * 1024)
#define SCHED_CAL_RUNS_MAX	1024	/* entries kept in the file */
#define SCHED_CAL_ID_MAX	128
/* A last run stamped this far ahead of the clock came from a clock that
 * was wrong, not from a small step back: it is not waited for. */
#define SCHED_CAL_AHEAD_MAX	86400

struct sched_cal {
	struct sched		*sched;
	char			*id;
	struct cron		 cron;
	unsigned		 delay;		/* randomized_delay, seconds */
	sched_cal_fn		*fn;
	void			*userdata;
	sd_event_source		*timer;		/* CLOCK_REALTIME */
	int64_t			 nominal;	/* seconds; 0 = never */
	uint64_t		 due;		/* usec, delay included */
	LIST_ENTRY(sched_cal)	 entry;
};

/* The last run of a calendar entry, as the state file keeps it. */
struct sched_cal_run {
	char			*id;
	int64_t			 when;		/* realtime seconds */
};

struct sched_check {
	struct sched		*sched;
	struct check_conf	*conf;		/* in sched's config */
	struct decide_check	*dc;		/* its results and state */
	uint64_t		 runs;
	uint64_t		 started;	/* monotonic usec of this run */
	uint64_t		 interval_usec;	/* current, after back-off */
	bool			 failing;	/* a collector failure is logged */
	sd_event_source		*timer;		/* interval checks */
	struct sched_cal	*cal;		/* calendar checks */
	struct collect_req	*creq;
	struct exec_job		*job;
	bool			 queued;
	TAILQ_ENTRY(sched_check) queue_entry;
	LIST_HEAD(, sched_waiter) waiters;
};

struct sched_waiter {
	struct sched_check	*check;
	sched_run_fn		*fn;
	void			*userdata;
	LIST_ENTRY(sched_waiter) entry;
};

struct sched {
	sd_event		*event;
	struct config		*cfg;
	struct collector_env	 env;
	struct sched_check	**checks;
	size_t			 n;
	TAILQ_HEAD(, sched_check) queue;
	unsigned		 running_external;
	bool			 stopping;
	struct decide		*decide;
	LIST_HEAD(, sched_cal)	 cals;
	struct sched_cal_run	*runs;		/* loaded from runs_dir */
	size_t			 nruns;
	char			*runs_dir;	/* NULL = not loaded yet */
	bool			 runs_unsaved;	/* the last write failed */
	int			 clock_fd;	/* timerfd: clock was set */
	sd_event_source		*clock_src;
};

static void sched_dispatch(struct sched *);
static void sched_arm(struct sched_check *, uint64_t);
static void sched_set_timer(struct sched_check *, uint64_t);

static bool
sched_in_progress(const struct sched_check *c)
{
	return c->creq != NULL || c->job != NULL;
}

/* Hands the result to whoever asked for this run. */
static void
sched_notify_waiters(struct sched_check *c, const struct result *r, int rc)
{
	struct sched_waiter *w;

	while ((w = LIST_FIRST(&c->waiters)) != NULL) {
		LIST_REMOVE(w, entry);
		w->fn(r, rc, w->userdata);
		free(w);
	}
}

/* A soft state is confirmed or cleared sooner than the interval: the
 * next run is retry_interval from now, if that comes first. */
static void
sched_retry(struct sched_check *c)
{
	uint64_t now, retry = (uint64_t)c->conf->retry_interval * 1000000;

	if (retry == 0 || retry >= c->interval_usec)
		return;
	sd_event_now(c->sched->event, CLOCK_MONOTONIC, &now);
	sched_set_timer(c, now + retry);
}

static void
sched_complete(struct sched_check *c, struct result *r, int rc)
{
	uint64_t interval = (uint64_t)c->conf->interval * 1000000;

	if (c->conf->kind == CHECK_COLLECTOR) {
		if (rc < 0) {
			if (c->interval_usec < interval * SCHED_BACKOFF_MAX)
				c->interval_usec *= 2;
			if (!c->failing) {
				char name[128], summary[512];
				const char *fields[1] = { name };

				snprintf(name, sizeof(name), "CHECK=%s",
				    c->conf->name);
				log_event(LOG_WARNING, MSGID_COLLECTOR_FAILED,
				    fields, 1, "collector %s failed: %s; retrying "
				    "with back-off", c->conf->name, log_escape(
				    summary, sizeof(summary), r->summary));
				c->failing = true;
			}
		} else if (c->failing) {
			log_info("collector %s recovered", c->conf->name);
			c->failing = false;
			c->interval_usec = interval;
		}
	}
	c->runs++;
	/* Decided (and reported) first, so that whoever waits for this run
	 * reads the check's new state. */
	decide_result(c->dc, r);
	sched_notify_waiters(c, decide_check_result(c->dc), 0);
	if (c->timer != NULL && !c->sched->stopping && decide_check_soft(c->dc))
		sched_retry(c);
}

static void
sched_collect_done(struct collect_req *req, void *userdata)
{
	struct sched_check *c = userdata;
	struct result r = { 0 };

	result_move(&r, collect_req_result(req));
	c->creq = NULL;
	sched_complete(c, &r, collect_req_rc(req));
	result_reset(&r);
	collect_req_free(req);
}

/* Turns what the child did into a check result. */
static void
sched_exec_result(struct sched_check *c, const struct exec_outcome *o,
    struct result *r)
{
	char line[256];

	result_reset(r);
	if (o->spawn_error != 0) {
		result_set(r, STATE_UNKNOWN, "cannot run %s: %s",
		    c->conf->argv[0], strerror(o->spawn_error));
		return;
	}
	if (o->timed_out) {
		char name[128];
		const char *fields[1] = { name };

		result_set(r, STATE_UNKNOWN, "timed out after %us",
		    c->conf->timeout);
		snprintf(name, sizeof(name), "CHECK=%s", c->conf->name);
		log_event(LOG_WARNING, MSGID_CHECK_TIMEOUT, fields, 1,
		    "check %s timed out after %us; killed", c->conf->name,
		    c->conf->timeout);
		return;
	}
	plugin_parse(o->out, o->outlen, o->exit_code, r);
	if (o->outlen == 0 && o->err[0] != '\0') {
		/* A plugin that only complained on stderr: show that. */
		size_t n = strcspn(o->err, "\n");

		snprintf(line, sizeof(line), "%.*s", (int)n, o->err);
		log_escape(r->summary, sizeof(r->summary), line);
		result_escalate(r, STATE_UNKNOWN);
	}
	if (o->exit_code == -1 && o->outlen == 0)
		result_set(r, STATE_UNKNOWN, "killed by signal %d (%s)",
		    o->signal, strsignal(o->signal));
	if (o->truncated)
		result_append_long(r, "(output truncated at %zu bytes)",
		    o->outlen);
}

static void
sched_exec_done(struct exec_job *job, const struct exec_outcome *o,
    void *userdata)
{
	struct sched_check *c = userdata;
	struct sched *s = c->sched;
	struct result r = { 0 };

	if (s->stopping) {
		/* Killed by our own shutdown: not the check's result. */
		c->job = NULL;
		exec_free(job);
		s->running_external--;
		return;
	}
	sched_exec_result(c, o, &r);
	sd_event_now(s->event, CLOCK_MONOTONIC, &r.duration_usec);
	r.duration_usec -= c->started;
	r.when_usec = time_now(CLOCK_REALTIME);
	r.mono_usec = time_now(CLOCK_MONOTONIC);
	c->job = NULL;
	exec_free(job);
	s->running_external--;
	sched_complete(c, &r, 0);
	result_reset(&r);
	sched_dispatch(s);
}

static void
sched_start_external(struct sched_check *c)
{
	struct sched *s = c->sched;
	struct result r = { 0 };
	char why[PATH_MAX + 128];
	int rc;

	sd_event_now(s->event, CLOCK_MONOTONIC, &c->started);
	/* Checked at config load too, but the file or a directory above it
	 * may have changed since. */
	if ((rc = safepath_check(c->conf->argv[0], geteuid(), why,
	    sizeof(why))) == 0)
		rc = exec_start(s->event, c->conf->argv,
		    c->conf->cap_dac_read_search ? EXEC_KEEP_DAC_READ_SEARCH :
		    0, c->conf->timeout, s->cfg->check_output_max,
		    sched_exec_done, c, &c->job);
	else {
		result_reset(&r);
		result_set(&r, STATE_UNKNOWN, "refusing to run %s: %s",
		    c->conf->argv[0], why);
		r.when_usec = time_now(CLOCK_REALTIME);
		r.mono_usec = time_now(CLOCK_MONOTONIC);
		sched_complete(c, &r, rc);
		result_reset(&r);
		return;
	}
	if (rc < 0) {
		result_reset(&r);
		result_set(&r, STATE_UNKNOWN, "cannot start %s: %s",
		    c->conf->argv[0], strerror(-rc));
		r.when_usec = time_now(CLOCK_REALTIME);
		r.mono_usec = time_now(CLOCK_MONOTONIC);
		sched_complete(c, &r, rc);
		result_reset(&r);
		return;
	}
	s->running_external++;
}

/* Starts queued external checks while slots are free. */
static void
sched_dispatch(struct sched *s)
{
	struct sched_check *c;

	while (!s->stopping &&
	    s->running_external < s->cfg->max_concurrent_checks &&
	    (c = TAILQ_FIRST(&s->queue)) != NULL) {
		TAILQ_REMOVE(&s->queue, c, queue_entry);
		c->queued = false;
		sched_start_external(c);
	}
}

static void
sched_start(struct sched_check *c)
{
	struct sched *s = c->sched;

	if (sched_in_progress(c) || c->queued)
		return;
	if (c->conf->kind == CHECK_COLLECTOR) {
		c->creq = collect_req_new(c->conf->collector, c->conf->inst,
		    sched_collect_done, c);
		collect_req_start(c->creq);
		return;
	}
	TAILQ_INSERT_TAIL(&s->queue, c, queue_entry);
	c->queued = true;
	sched_dispatch(s);
}

static int
sched_on_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct sched_check *c = userdata;

	(void)src;
	sched_arm(c, usec + c->interval_usec);
	sched_start(c);
	return 0;
}

/* Sets c's timer to when (monotonic usec), even if that has passed. */
static void
sched_set_timer(struct sched_check *c, uint64_t when)
{
	struct sched *s = c->sched;

	if (c->timer == NULL) {
		if (sd_event_add_time(s->event, &c->timer, CLOCK_MONOTONIC,
		    when, 250000, sched_on_timer, c) < 0)
			fatalx("cannot add a timer for check %s", c->conf->name);
		return;
	}
	sd_event_source_set_time(c->timer, when);
	sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
}

/* The next periodic run at when; a loop that fell behind skips runs. */
static void
sched_arm(struct sched_check *c, uint64_t when)
{
	struct sched *s = c->sched;
	uint64_t now;

	sd_event_now(s->event, CLOCK_MONOTONIC, &now);
	if (when < now)
		when = now + c->interval_usec;	/* fell behind: skip runs */
	sched_set_timer(c, when);
}

/* Abandons a run in flight (reload, shutdown); waiters hear -ECANCELED. */
static void
sched_abandon(struct sched_check *c)
{
	struct sched *s = c->sched;

	if (c->queued) {
		TAILQ_REMOVE(&s->queue, c, queue_entry);
		c->queued = false;
	}
	if (c->job != NULL) {
		exec_free(c->job);
		c->job = NULL;
		s->running_external--;
	}
	sched_notify_waiters(c, NULL, -ECANCELED);
}

static void
sched_check_free(struct sched_check *c)
{
	sched_abandon(c);
	collect_req_free(c->creq);
	sd_event_source_disable_unref(c->timer);
	sched_cal_free(c->cal);
	decide_check_remove(c->dc);
	free(c);
}

/* ---- Calendar entries ---- */

static void
sched_runs_free(struct sched *s)
{
	for (size_t i = 0; i < s->nruns; i++)
		free(s->runs[i].id);
	free(s->runs);
	s->runs = NULL;
	s->nruns = 0;
	free(s->runs_dir);
	s->runs_dir = NULL;
}

/* Reads state_dir/calendar: lines "SECONDS ID". A missing file is an empty
 * one; a bad line is skipped (the entry then starts afresh). */
static void
sched_runs_load(struct sched *s)
{
	char *buf = NULL, *line, *next, *end;
	bool trunc;
	size_t len;
	int rc;

	if (s->runs_dir != NULL)
		return;
	s->runs_dir = xstrdup(s->cfg->state_dir);
	rc = sysfile_read(s->runs_dir, SCHED_CAL_FILE, SCHED_CAL_FILE_MAX,
	    &buf, &len, &trunc);
	if (rc < 0) {
		if (rc != -ENOENT)
			log_warnx("cannot read %s/%s: %s; calendar entries "
			    "start afresh", s->runs_dir, SCHED_CAL_FILE,
			    strerror(-rc));
		return;
	}
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		long long when;
		char *id;

		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (s->nruns >= SCHED_CAL_RUNS_MAX)
			break;
		errno = 0;
		when = strtoll(line, &end, 10);
		if (errno != 0 || end == line || *end != ' ' || when <= 0)
			continue;
		id = end + 1;
		if (*id == '\0' || strlen(id) >= SCHED_CAL_ID_MAX ||
		    strpbrk(id, " \t\r") != NULL)
			continue;
		s->runs = xreallocarray(s->runs, s->nruns + 1,
		    sizeof(*s->runs));
		s->runs[s->nruns].id = xstrdup(id);
		s->runs[s->nruns++].when = when;
	}
	free(buf);
}

static struct sched_cal_run *
sched_runs_find(struct sched *s, const char *id)
{
	for (size_t i = 0; i < s->nruns; i++)
		if (strcmp(s->runs[i].id, id) == 0)
			return &s->runs[i];
	return NULL;
}

/* Replaces the file as a whole (temporary file, fsync, rename). */
static void
sched_runs_save(struct sched *s)
{
	char *text = xstrdup(""), *more;
	int rc;

	for (size_t i = 0; i < s->nruns; i++) {
		xasprintf(&more, "%s%" PRId64 " %s\n", text, s->runs[i].when,
		    s->runs[i].id);
		free(text);
		text = more;
	}
	/* Logged when it starts failing and when it works again, not at
	 * every run of an every-minute schedule. */
	if ((rc = sysfile_write_atomic(s->runs_dir, SCHED_CAL_FILE, text,
	    0640)) < 0 && !s->runs_unsaved)
		log_warnx("cannot write %s/%s: %s; a run missed while agentd "
		    "is down may not be caught up", s->runs_dir,
		    SCHED_CAL_FILE, strerror(-rc));
	else if (rc == 0 && s->runs_unsaved)
		log_info("%s/%s written again", s->runs_dir, SCHED_CAL_FILE);
	s->runs_unsaved = rc < 0;
	free(text);
}

/* Records id's last run at when; a full table drops its oldest entry. */
static void
sched_runs_set(struct sched *s, const char *id, int64_t when)
{
	struct sched_cal_run *r = sched_runs_find(s, id);

	if (r == NULL) {
		if (s->nruns >= SCHED_CAL_RUNS_MAX) {
			size_t old = 0;

			for (size_t i = 1; i < s->nruns; i++)
				if (s->runs[i].when < s->runs[old].when)
					old = i;
			free(s->runs[old].id);
			s->runs[old] = s->runs[--s->nruns];
		}
		s->runs = xreallocarray(s->runs, s->nruns + 1,
		    sizeof(*s->runs));
		r = &s->runs[s->nruns++];
		r->id = xstrdup(id);
	}
	r->when = when;
	sched_runs_save(s);
}

static int sched_cal_on_timer(sd_event_source *, uint64_t, void *);

/*
 * Sets e's next fire from its last run and the wall clock. A fire between
 * the last run and now was missed (agentd was down, or the clock jumped
 * ahead): it runs now, once however many were missed. Otherwise the next
 * fire is the first after now, or after the last run if the clock went
 * back a little, so that no calendar time runs twice; a last run more than
 * SCHED_CAL_AHEAD_MAX ahead was stamped by a wrong clock and is ignored.
 */
static void
sched_cal_plan(struct sched_cal *e)
{
	struct sched *s = e->sched;
	struct sched_cal_run *r = sched_runs_find(s, e->id);
	int64_t now = (int64_t)(time_now(CLOCK_REALTIME) / 1000000);
	int64_t last = r != NULL ? r->when : now, from = now;
	uint64_t due;
	time_t t;

	if (cron_next(&e->cron, (time_t)last, &t) == 0 && t <= now) {
		log_info("calendar %s: the run due at %" PRId64 " was missed; "
		    "running it now", e->id, (int64_t)t);
		e->nominal = t;
		due = (uint64_t)now * 1000000;
	} else {
		if (last > now && last - now <= SCHED_CAL_AHEAD_MAX)
			from = last;
		if (cron_next(&e->cron, (time_t)from, &t) != 0) {
			log_warnx("calendar %s: no next run in 400 years",
			    e->id);
			e->nominal = 0;
			e->due = 0;
			sd_event_source_set_enabled(e->timer, SD_EVENT_OFF);
			return;
		}
		e->nominal = t;
		due = (uint64_t)t * 1000000;
	}
	if (e->delay > 0)
		due += (uint64_t)random() % ((uint64_t)e->delay * 1000000 + 1);
	e->due = due;
	if (e->timer == NULL) {
		if (sd_event_add_time(s->event, &e->timer, CLOCK_REALTIME, due,
		    100000, sched_cal_on_timer, e) < 0)
			fatalx("cannot add a timer for calendar %s", e->id);
	} else {
		sd_event_source_set_time(e->timer, due);
		sd_event_source_set_enabled(e->timer, SD_EVENT_ONESHOT);
	}
	if (s->stopping)
		sd_event_source_set_enabled(e->timer, SD_EVENT_OFF);
}

/* The run is recorded before it starts: a crash during it does not
 * repeat it at the next start (a backup that kills agentd would loop). */
static int
sched_cal_on_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct sched_cal *e = userdata;
	struct sched *s = e->sched;

	(void)src;
	(void)usec;
	if (s->stopping)
		return 0;
	sched_runs_set(s, e->id, (int64_t)(time_now(CLOCK_REALTIME) /
	    1000000));
	sched_cal_plan(e);
	e->fn(e, e->userdata);
	return 0;
}

/* Arms a timerfd that the kernel cancels when the realtime clock is set
 * (TFD_TIMER_CANCEL_ON_SET): sd-event has no such notification, and a
 * realtime timer alone would wait too long after a step back. */
static int
sched_clock_arm(struct sched *s)
{
	struct itimerspec its = { .it_value = { .tv_sec =
	    (time_t)(((uint64_t)1 << (sizeof(time_t) * 8 - 1)) - 1) } };

	return timerfd_settime(s->clock_fd, TFD_TIMER_ABSTIME |
	    TFD_TIMER_CANCEL_ON_SET, &its, NULL);
}

static int
sched_on_clock_set(sd_event_source *src, int fd, uint32_t revents,
    void *userdata)
{
	struct sched *s = userdata;
	uint64_t n;

	(void)src;
	(void)revents;
	/* ECANCELED is the news; a spurious wakeup reads EAGAIN. */
	if (read(fd, &n, sizeof(n)) < 0 && errno != ECANCELED)
		return 0;
	if (sched_clock_arm(s) < 0)
		log_warn("timerfd_settime");
	log_info("the wall clock was set; calendar runs recomputed");
	sched_clock_changed(s);
	return 0;
}

static void
sched_clock_watch(struct sched *s)
{
	if (s->clock_fd >= 0)
		return;
	if ((s->clock_fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK |
	    TFD_CLOEXEC)) < 0 || sched_clock_arm(s) < 0 ||
	    sd_event_add_io(s->event, &s->clock_src, s->clock_fd, EPOLLIN,
	    sched_on_clock_set, s) < 0) {
		/* Then each fire still recomputes the next one. */
		log_warn("cannot watch for clock changes");
		if (s->clock_fd >= 0)
			close(s->clock_fd);
		s->clock_fd = -2;	/* do not try again */
	}
}

void
sched_clock_changed(struct sched *s)
{
	struct sched_cal *e;

	LIST_FOREACH(e, &s->cals, entry)
		sched_cal_plan(e);
}

struct sched_cal *
sched_cal_add(struct sched *s, const char *id, const struct cron *cron,
    unsigned randomized_delay, sched_cal_fn *fn, void *userdata)
{
	struct sched_cal *e = xcalloc(1, sizeof(*e));

	e->sched = s;
	e->id = xstrdup(id);
	e->cron = *cron;
	e->delay = randomized_delay;
	e->fn = fn;
	e->userdata = userdata;
	sched_runs_load(s);
	/* First seen: a run missed from now on is caught up, none before. */
	if (sched_runs_find(s, id) == NULL)
		sched_runs_set(s, id, (int64_t)(time_now(CLOCK_REALTIME) /
		    1000000));
	LIST_INSERT_HEAD(&s->cals, e, entry);
	sched_clock_watch(s);
	sched_cal_plan(e);
	return e;
}

void
sched_cal_free(struct sched_cal *e)
{
	if (e == NULL)
		return;
	LIST_REMOVE(e, entry);
	sd_event_source_disable_unref(e->timer);
	free(e->id);
	free(e);
}

uint64_t
sched_cal_due(const struct sched_cal *e)
{
	return e->nominal != 0 ? e->due : 0;
}

int64_t
sched_cal_nominal(const struct sched_cal *e)
{
	return e->nominal;
}

static void
sched_check_on_cal(struct sched_cal *e, void *userdata)
{
	(void)e;
	sched_start(userdata);
}

/* The scheduler's members of a check's JSON (decide_describe_fn). */
static void
sched_describe(json_t *o, void *owner)
{
	const struct sched_check *c = owner;

	json_object_set_new(o, "interval", json_integer(c->conf->interval));
	if (c->cal != NULL) {
		json_object_set_new(o, "schedule",
		    json_string(c->conf->schedule));
		if (sched_cal_due(c->cal) != 0)
			json_object_set_new(o, "next_run", json_real(
			    (double)sched_cal_due(c->cal) / 1e6));
	}
	json_object_set_new(o, "runs", json_integer((json_int_t)c->runs));
}

/* Builds runtime entries for cfg, taking over from old, by name and kind,
 * each surviving check's decide entry and run count. */
static void
sched_build(struct sched *s, struct sched_check **old, size_t nold)
{
	uint64_t now;

	sd_event_now(s->event, CLOCK_MONOTONIC, &now);
	s->checks = xreallocarray(NULL, s->cfg->nchecks, sizeof(*s->checks));
	s->n = 0;
	for (size_t i = 0; i < s->cfg->nchecks; i++) {
		struct check_conf *conf = &s->cfg->checks[i];
		struct sched_check *c;

		if (!conf->enabled)
			continue;
		c = xcalloc(1, sizeof(*c));
		c->sched = s;
		c->conf = conf;
		c->interval_usec = (uint64_t)conf->interval * 1000000;
		LIST_INIT(&c->waiters);
		/* A surviving check (same name and kind) keeps its results
		 * and state; the others leave decide with their old entry. */
		for (size_t j = 0; j < nold && c->dc == NULL; j++) {
			if (old[j]->dc == NULL ||
			    strcmp(old[j]->conf->name, conf->name) != 0 ||
			    old[j]->conf->kind != conf->kind)
				continue;
			c->dc = old[j]->dc;
			old[j]->dc = NULL;
			decide_check_keep(c->dc, sched_describe, c);
			c->runs = old[j]->runs;
		}
		if (c->dc == NULL)
			c->dc = decide_check_add(s->decide, conf->name,
			    conf->kind, sched_describe, c);
		decide_check_policy(c->dc, &(struct decide_policy){
		    .attempts = conf->attempts,
		    .flap_low = conf->flap_detection ? (unsigned)conf->flap_low : 0,
		    .flap_high = conf->flap_detection ?
		    (unsigned)conf->flap_high : 0 });
		if (conf->kind == CHECK_COLLECTOR &&
		    conf->collector->start != NULL)
			conf->collector->start(conf->inst, &s->env);
		s->checks[s->n++] = c;
		if (conf->schedule != NULL) {
			char id[SCHED_CAL_ID_MAX];

			snprintf(id, sizeof(id), "check.%s", conf->name);
			c->cal = sched_cal_add(s, id, &conf->cron,
			    conf->randomized_delay, sched_check_on_cal, c);
			continue;
		}
		/* Spread first runs so checks do not all fire together. A
		 * first run is never skipped: building many checks takes
		 * longer than the smallest offsets, and sched_arm would
		 * then put them off by a whole interval. */
		sched_set_timer(c, now + (uint64_t)random() %
		    (c->interval_usec < SCHED_FIRST_SPREAD_USEC ?
		    c->interval_usec : SCHED_FIRST_SPREAD_USEC));
	}
}

int
sched_new(sd_event *event, struct config *cfg, const char *proc,
    const char *sys, struct decide *decide, struct sched **sp)
{
	struct sched *s = xcalloc(1, sizeof(*s));

	s->event = sd_event_ref(event);
	s->decide = decide;
	s->cfg = cfg;
	s->env.proc = proc;
	s->env.sys = sys;
	s->env.state_dir = cfg->state_dir;
	s->env.event = event;
	s->clock_fd = -1;
	TAILQ_INIT(&s->queue);
	LIST_INIT(&s->cals);
	srandom((unsigned)time_now(CLOCK_REALTIME));
	sched_build(s, NULL, 0);
	*sp = s;
	return 0;
}

/* Requests go before their instances: freeing a pending one cancels it
 * in its collector. */
static void
sched_release(struct config *cfg, struct sched_check **checks, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sched_check_free(checks[i]);
	free(checks);
	config_free(cfg);
}

void
sched_apply(struct sched *s, struct config *cfg)
{
	struct sched_check **old = s->checks;
	struct config *oldcfg = s->cfg;
	size_t nold = s->n;

	for (size_t i = 0; i < nold; i++)
		sched_abandon(old[i]);
	s->cfg = cfg;
	s->env.state_dir = cfg->state_dir;
	if (s->runs_dir != NULL && strcmp(s->runs_dir, cfg->state_dir) != 0)
		sched_runs_free(s);	/* read again from the new dir */
	sched_build(s, old, nold);
	sched_release(oldcfg, old, nold);
}

void
sched_free(struct sched *s)
{
	if (s == NULL)
		return;
	sched_release(s->cfg, s->checks, s->n);
	sched_runs_free(s);
	sd_event_source_disable_unref(s->clock_src);
	if (s->clock_fd >= 0)
		close(s->clock_fd);
	sd_event_unref(s->event);
	free(s);
}

const struct config *
sched_config(const struct sched *s)
{
	return s->cfg;
}

struct decide *
sched_decide(const struct sched *s)
{
	return s->decide;
}

size_t
sched_count(const struct sched *s)
{
	return s->n;
}

struct sched_check *
sched_at(struct sched *s, size_t i)
{
	return i < s->n ? s->checks[i] : NULL;
}

struct sched_check *
sched_find(struct sched *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->checks[i]->conf->name, name) == 0)
			return s->checks[i];
	return NULL;
}

int
sched_run_now(struct sched *s, const char *name, sched_run_fn *fn,
    void *userdata, struct sched_waiter **wp)
{
	struct sched_check *c;
	struct sched_waiter *w;
	struct check_conf *conf;

	*wp = NULL;
	if (s->stopping)
		return -ESHUTDOWN;
	if ((c = sched_find(s, name)) == NULL) {
		conf = config_find_check(s->cfg, name);
		return conf != NULL && !conf->enabled ? -ENODEV : -ENOENT;
	}
	w = xcalloc(1, sizeof(*w));
	w->check = c;
	w->fn = fn;
	w->userdata = userdata;
	LIST_INSERT_HEAD(&c->waiters, w, entry);
	*wp = w;
	/* A queued external check moves to the front: someone is waiting. */
	if (c->queued) {
		TAILQ_REMOVE(&s->queue, c, queue_entry);
		TAILQ_INSERT_HEAD(&s->queue, c, queue_entry);
	}
	sched_start(c);
	return 0;
}

void
sched_waiter_cancel(struct sched_waiter *w)
{
	if (w == NULL)
		return;
	LIST_REMOVE(w, entry);
	free(w);
}

size_t
sched_in_flight(const struct sched *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		if (sched_in_progress(s->checks[i]))
			n++;
	return n;
}

size_t
sched_stop(struct sched *s, int sig)
{
	struct sched_cal *e;

	s->stopping = true;
	LIST_FOREACH(e, &s->cals, entry)
		sd_event_source_set_enabled(e->timer, SD_EVENT_OFF);
	for (size_t i = 0; i < s->n; i++) {
		struct sched_check *c = s->checks[i];

		if (c->timer != NULL)
			sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
		if (c->queued) {
			TAILQ_REMOVE(&s->queue, c, queue_entry);
			c->queued = false;
		}
		if (c->job != NULL)
			exec_signal(c->job, sig);
	}
	return sched_in_flight(s);
}

json_t *
sched_check_json(const struct sched_check *c, int detail)
{
	return decide_check_json(c->dc, detail);
}
