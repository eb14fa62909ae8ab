/*
 * Check scheduling on the loop. Each enabled check has a timer; a due
 * external check waits in a FIFO for one of max_concurrent_checks slots.
 * Collectors that fail double their interval up to 8x (as collectd does)
 * and return to normal on the first success.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector.h"
#include "exec.h"
#include "log.h"
#include "plugin.h"
#include "resultjson.h"
#include "safepath.h"
#include "sched.h"
#include "xmalloc.h"

#define SCHED_BACKOFF_MAX	8	/* times the configured interval */
#define SCHED_FIRST_SPREAD_USEC	(5 * 1000000ULL)

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
	sched_event_fn		*event_cb;
	void			*event_arg;
};

static void sched_dispatch(struct sched *);
static void sched_arm(struct sched_check *, uint64_t);

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

static void
sched_log_change(struct sched_check *c, const struct result *r)
{
	char name[128], state[32], prev[32], summary[512];
	const char *fields[3] = { name, state, prev };
	const char *was = c->has_result ? result_state_name(c->last.state) :
	    "PENDING";
	int prio;

	snprintf(name, sizeof(name), "CHECK=%s", c->conf->name);
	snprintf(state, sizeof(state), "STATE=%s", result_state_name(r->state));
	snprintf(prev, sizeof(prev), "PREVIOUS_STATE=%s", was);
	log_escape(summary, sizeof(summary), r->summary);
	switch (r->state) {
	case STATE_OK:
		prio = c->has_result ? LOG_NOTICE : LOG_INFO;
		break;
	case STATE_CRITICAL:
		prio = LOG_ERR;
		break;
	default:
		prio = LOG_WARNING;
		break;
	}
	log_event(prio, MSGID_CHECK_STATE, fields, 3, "check %s: %s -> %s: %s",
	    c->conf->name, was, result_state_name(r->state), summary);
}

static void
sched_complete(struct sched_check *c, struct result *r, int rc)
{
	struct sched *s = c->sched;
	bool changed = !c->has_result || c->last.state != r->state;
	int prev = c->has_result ? (int)c->last.state : -1;
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
	/* A first OK is not news; any other first result or change is. */
	if (changed && (c->has_result || r->state != STATE_OK))
		sched_log_change(c, r);
	if (changed)
		c->last_change = r->when_usec;
	c->runs++;
	result_move(&c->last, r);
	c->has_result = true;
	sched_notify_waiters(c, &c->last, 0);
	if (s->event_cb != NULL)
		s->event_cb(s, c, prev, s->event_arg);
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
	r.when_usec = collect_now(CLOCK_REALTIME);
	r.mono_usec = collect_now(CLOCK_MONOTONIC);
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
		r.when_usec = collect_now(CLOCK_REALTIME);
		sched_complete(c, &r, rc);
		result_reset(&r);
		return;
	}
	if (rc < 0) {
		result_reset(&r);
		result_set(&r, STATE_UNKNOWN, "cannot start %s: %s",
		    c->conf->argv[0], strerror(-rc));
		r.when_usec = collect_now(CLOCK_REALTIME);
		r.mono_usec = collect_now(CLOCK_MONOTONIC);
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
	result_reset(&c->last);
	free(c);
}

/* Builds runtime entries for cfg, taking last results from old by name. */
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
		result_reset(&c->last);
		for (size_t j = 0; j < nold; j++) {
			if (old[j] == NULL ||
			    strcmp(old[j]->conf->name, conf->name) != 0 ||
			    old[j]->conf->kind != conf->kind)
				continue;
			result_move(&c->last, &old[j]->last);
			c->has_result = old[j]->has_result;
			c->last_change = old[j]->last_change;
			c->runs = old[j]->runs;
		}
		if (conf->kind == CHECK_COLLECTOR &&
		    conf->collector->start != NULL)
			conf->collector->start(conf->inst, &s->env);
		s->checks[s->n++] = c;
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
    const char *sys, struct sched **sp)
{
	struct sched *s = xcalloc(1, sizeof(*s));

	s->event = sd_event_ref(event);
	s->cfg = cfg;
	s->env.proc = proc;
	s->env.sys = sys;
	s->env.state_dir = cfg->state_dir;
	s->env.event = event;
	TAILQ_INIT(&s->queue);
	srandom((unsigned)collect_now(CLOCK_REALTIME));
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
	sched_build(s, old, nold);
	sched_release(oldcfg, old, nold);
}

void
sched_free(struct sched *s)
{
	if (s == NULL)
		return;
	sched_release(s->cfg, s->checks, s->n);
	sd_event_unref(s->event);
	free(s);
}

void
sched_set_event_cb(struct sched *s, sched_event_fn *fn, void *userdata)
{
	s->event_cb = fn;
	s->event_arg = userdata;
}

const struct config *
sched_config(const struct sched *s)
{
	return s->cfg;
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
	s->stopping = true;
	for (size_t i = 0; i < s->n; i++) {
		struct sched_check *c = s->checks[i];

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

void
sched_tally(struct sched *s, unsigned counts[4], unsigned *pending)
{
	memset(counts, 0, 4 * sizeof(counts[0]));
	*pending = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (!s->checks[i]->has_result)
			(*pending)++;
		else
			counts[s->checks[i]->last.state & 3]++;
	}
}

json_t *
sched_check_json(const struct sched_check *c, int detail)
{
	uint64_t now = collect_now(CLOCK_MONOTONIC);
	json_t *o;

	if (c->has_result) {
		o = resultjson_encode(&c->last, detail);
		/* The age survives a step of the wall clock; "when" (the
		 * stamp shown) does not have to. */
		json_object_set_new(o, "age", json_integer((json_int_t)
		    (collect_since(c->last.mono_usec, now) / 1000000)));
	} else {
		o = json_object();
		json_object_set_new(o, "state", json_string("PENDING"));
		json_object_set_new(o, "summary", json_string("not run yet"));
	}
	json_object_set_new(o, "name", json_string(c->conf->name));
	json_object_set_new(o, "kind", json_string(c->conf->kind ==
	    CHECK_COLLECTOR ? "collector" : "external"));
	json_object_set_new(o, "interval", json_integer(c->conf->interval));
	if (c->last_change != 0)
		json_object_set_new(o, "last_change",
		    json_real((double)c->last_change / 1e6));
	json_object_set_new(o, "runs", json_integer((json_int_t)c->runs));
	return o;
}
