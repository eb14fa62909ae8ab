/*
 * The one path from a result to a report. Owns each check's last result,
 * its state as the reports show it and when that last changed; decides
 * which changes are news and tells the subscribers. The scheduler only
 * runs checks; the report module only reads what is decided here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "decide.h"
#include "log.h"
#include "resultjson.h"
#include "timeutil.h"
#include "xmalloc.h"

struct decide_check {
	struct decide		*decide;
	char			*name;
	enum check_kind		 kind;
	decide_describe_fn	*describe;
	void			*owner;
	struct result		 last;
	bool			 has_result;
	int			 state;		/* reported; -1 = PENDING */
	uint64_t		 last_change;	/* realtime usec; 0 = never */
	uint64_t		 last_change_mono;
	TAILQ_ENTRY(decide_check) entry;
};

struct decide_sub {
	decide_change_fn	*fn;
	void			*userdata;
};

struct decide {
	TAILQ_HEAD(, decide_check) checks;
	size_t			 n;
	struct decide_sub	*subs;
	size_t			 nsubs;
};

struct decide *
decide_new(void)
{
	struct decide *d = xcalloc(1, sizeof(*d));

	TAILQ_INIT(&d->checks);
	return d;
}

void
decide_free(struct decide *d)
{
	if (d == NULL)
		return;
	while (!TAILQ_EMPTY(&d->checks))
		decide_check_remove(TAILQ_FIRST(&d->checks));
	free(d->subs);
	free(d);
}

void
decide_subscribe(struct decide *d, decide_change_fn *fn, void *userdata)
{
	d->subs = xreallocarray(d->subs, d->nsubs + 1, sizeof(*d->subs));
	d->subs[d->nsubs].fn = fn;
	d->subs[d->nsubs++].userdata = userdata;
}

struct decide_check *
decide_check_add(struct decide *d, const char *name, enum check_kind kind,
    decide_describe_fn *describe, void *owner)
{
	struct decide_check *dc = xcalloc(1, sizeof(*dc));

	dc->decide = d;
	dc->name = xstrdup(name);
	dc->kind = kind;
	dc->describe = describe;
	dc->owner = owner;
	dc->state = -1;
	result_reset(&dc->last);
	TAILQ_INSERT_TAIL(&d->checks, dc, entry);
	d->n++;
	return dc;
}

void
decide_check_keep(struct decide_check *dc, decide_describe_fn *describe,
    void *owner)
{
	struct decide *d = dc->decide;

	dc->describe = describe;
	dc->owner = owner;
	TAILQ_REMOVE(&d->checks, dc, entry);
	TAILQ_INSERT_TAIL(&d->checks, dc, entry);
}

void
decide_check_remove(struct decide_check *dc)
{
	if (dc == NULL)
		return;
	TAILQ_REMOVE(&dc->decide->checks, dc, entry);
	dc->decide->n--;
	result_reset(&dc->last);
	free(dc->name);
	free(dc);
}

static void
decide_log_change(const struct decide_check *dc, const struct result *r,
    int state)
{
	char name[128], cur[32], prev[32], summary[512];
	const char *fields[3] = { name, cur, prev };
	const char *was = dc->state < 0 ? "PENDING" :
	    result_state_name((enum check_state)dc->state);
	const char *now = result_state_name((enum check_state)state);
	int prio;

	snprintf(name, sizeof(name), "CHECK=%s", dc->name);
	snprintf(cur, sizeof(cur), "STATE=%s", now);
	snprintf(prev, sizeof(prev), "PREVIOUS_STATE=%s", was);
	log_escape(summary, sizeof(summary), r->summary);
	switch (state) {
	case STATE_OK:
		prio = dc->state < 0 ? LOG_INFO : LOG_NOTICE;
		break;
	case STATE_CRITICAL:
		prio = LOG_ERR;
		break;
	default:
		prio = LOG_WARNING;
		break;
	}
	log_event(prio, MSGID_CHECK_STATE, fields, 3, "check %s: %s -> %s: %s",
	    dc->name, was, now, summary);
}

/*
 * The state the reports show for dc after result r. Today that is the
 * result's own state: every change is reported at once. This is where the
 * warnings engine goes (DESIGN.md "Warnings"): a soft state held until a
 * minimum duration has passed, hysteresis around a threshold, flapping, a
 * forecast, a maintenance window; it may keep dc->state (return it
 * unchanged) or move it, and may keep per-check history in decide_check.
 */
static int
decide_state(const struct decide_check *dc, const struct result *r)
{
	(void)dc;
	return (int)r->state;
}

void
decide_result(struct decide_check *dc, struct result *r)
{
	struct decide *d = dc->decide;
	struct decide_change ch;
	int state = decide_state(dc, r);

	ch.check = dc;
	ch.from = dc->state;
	ch.to = state;
	/* A first OK is not news; any other first result or change is. */
	ch.report = ch.from != ch.to && (ch.from >= 0 || state != STATE_OK);
	if (ch.report)
		decide_log_change(dc, r, state);
	if (ch.from != ch.to) {
		dc->last_change = r->when_usec;
		dc->last_change_mono = time_now(CLOCK_MONOTONIC);
	}
	result_move(&dc->last, r);
	dc->has_result = true;
	dc->state = state;
	if (ch.from == ch.to)
		return;
	for (size_t i = 0; i < d->nsubs; i++)
		d->subs[i].fn(&ch, d->subs[i].userdata);
}

const char *
decide_check_name(const struct decide_check *dc)
{
	return dc->name;
}

enum check_kind
decide_check_kind(const struct decide_check *dc)
{
	return dc->kind;
}

const struct result *
decide_check_result(const struct decide_check *dc)
{
	return dc->has_result ? &dc->last : NULL;
}

int
decide_check_state(const struct decide_check *dc)
{
	return dc->state;
}

uint64_t
decide_check_last_change(const struct decide_check *dc)
{
	return dc->last_change;
}

uint64_t
decide_check_last_change_mono(const struct decide_check *dc)
{
	return dc->last_change_mono;
}

json_t *
decide_check_json(const struct decide_check *dc, int detail)
{
	json_t *o;

	if (dc->has_result) {
		o = resultjson_encode(&dc->last, detail);
		/* The age survives a step of the wall clock; "when" (the
		 * stamp shown) does not have to. */
		json_object_set_new(o, "age", json_integer((json_int_t)
		    (time_since(dc->last.mono_usec,
		    time_now(CLOCK_MONOTONIC)) / 1000000)));
	} else {
		o = json_object();
		json_object_set_new(o, "state", json_string("PENDING"));
		json_object_set_new(o, "summary", json_string("not run yet"));
	}
	json_object_set_new(o, "name", json_string(dc->name));
	json_object_set_new(o, "kind", json_string(dc->kind ==
	    CHECK_COLLECTOR ? "collector" : "external"));
	if (dc->describe != NULL)
		dc->describe(o, dc->owner);
	if (dc->last_change != 0)
		json_object_set_new(o, "last_change",
		    json_real((double)dc->last_change / 1e6));
	return o;
}

json_t *
decide_json(const struct decide *d, int detail)
{
	const struct decide_check *dc;
	json_t *a = json_array();

	TAILQ_FOREACH(dc, &d->checks, entry)
		json_array_append_new(a, decide_check_json(dc, detail));
	return a;
}

void
decide_tally(const struct decide *d, unsigned counts[4], unsigned *pending)
{
	const struct decide_check *dc;

	memset(counts, 0, 4 * sizeof(counts[0]));
	*pending = 0;
	TAILQ_FOREACH(dc, &d->checks, entry) {
		if (dc->state < 0)
			(*pending)++;
		else
			counts[dc->state & 3]++;
	}
}

size_t
decide_count(const struct decide *d)
{
	return d->n;
}
