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
	struct decide_policy	 policy;
	/* The state without flapping: the hard state once attempts
	 * non-OK results came in a row; -1 before. */
	int			 hard;
	unsigned		 attempt;	/* non-OK in a row while soft */
	/* The last results' states, oldest first once full. */
	unsigned char		 history[DECIDE_FLAP_HISTORY];
	unsigned		 nhistory;
	bool			 flapping;
	double			 flap_percent;
	unsigned		 flap_changes;	/* of hard, kept local */
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
	decide_silence_fn	*silence;
	void			*silence_arg;
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
	dc->hard = -1;
	dc->policy.attempts = 1;
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
decide_check_policy(struct decide_check *dc,
    const struct decide_policy *policy)
{
	dc->policy = *policy;
	if (dc->policy.attempts == 0)
		dc->policy.attempts = 1;
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
 * Nagios's percent state change: the 20 transitions between the last 21
 * results, each that changed weighted from 0.75 (oldest) to 1.25
 * (newest), over 20. A history shorter than 21 counts the transitions it
 * has against the same 20, so a new check does not start out flapping.
 */
static double
decide_flap_percent(const struct decide_check *dc)
{
	const unsigned n = DECIDE_FLAP_HISTORY;
	double sum = 0;

	for (unsigned i = 1; i < dc->nhistory; i++) {
		/* Transition i of the n - 1 possible, newest last. */
		unsigned x = n - dc->nhistory + i;

		if (dc->history[i] != dc->history[i - 1])
			sum += 0.75 + (double)(x - 1) * 0.5 / (double)(n - 2);
	}
	return sum * 100.0 / (double)(n - 1);
}

static void
decide_history_push(struct decide_check *dc, enum check_state s)
{
	if (dc->nhistory == DECIDE_FLAP_HISTORY) {
		memmove(dc->history, dc->history + 1, DECIDE_FLAP_HISTORY - 1);
		dc->nhistory--;
	}
	dc->history[dc->nhistory++] = (unsigned char)s;
}

/* The hard state after a result in s: soft states wait for the policy's
 * attempts; recovery, and a change between problems, are at once. */
static int
decide_hard(struct decide_check *dc, enum check_state s)
{
	if (s == STATE_OK) {
		dc->attempt = 0;
		return STATE_OK;
	}
	if (dc->hard > STATE_OK)
		return (int)s;
	if (++dc->attempt >= dc->policy.attempts) {
		dc->attempt = 0;
		return (int)s;
	}
	return dc->hard;
}

/*
 * The warnings engine between a result and a report (docs/architecture.md
 * "Between a result and a report"): soft states, then flapping. Returns
 * the state the reports show and says why in *reason. While a check flaps,
 * its reported state stays where it was when flapping began; the changes
 * of its hard state are counted locally.
 */
static int
decide_state(struct decide_check *dc, const struct result *r,
    enum decide_reason *reason)
{
	int hard = decide_hard(dc, r->state);

	*reason = hard != dc->hard && hard > STATE_OK &&
	    dc->policy.attempts > 1 && dc->hard <= STATE_OK ?
	    DECIDE_REASON_SOFT : DECIDE_REASON_NONE;
	if (hard != dc->hard && dc->flapping)
		dc->flap_changes++;
	dc->hard = hard;
	decide_history_push(dc, r->state);
	dc->flap_percent = decide_flap_percent(dc);
	if (!dc->flapping && dc->policy.flap_high > 0 &&
	    dc->flap_percent >= dc->policy.flap_high) {
		dc->flapping = true;
		dc->flap_changes = 0;
		*reason = DECIDE_REASON_FLAP_START;
		return dc->state;
	}
	if (dc->flapping) {
		if (dc->policy.flap_high > 0 &&
		    dc->flap_percent >= dc->policy.flap_low)
			return dc->state;
		dc->flapping = false;
		*reason = DECIDE_REASON_FLAP_STOP;
	}
	return hard;
}

static void
decide_log_flap(const struct decide_check *dc, enum decide_reason reason)
{
	char name[128], pct[32];
	const char *fields[2] = { name, pct };

	snprintf(name, sizeof(name), "CHECK=%s", dc->name);
	snprintf(pct, sizeof(pct), "FLAP_PERCENT=%.1f", dc->flap_percent);
	if (reason == DECIDE_REASON_FLAP_START)
		log_event(LOG_WARNING, MSGID_CHECK_FLAPPING, fields, 2,
		    "check %s is flapping (%.1f%% state change); its changes "
		    "are kept locally until it settles", dc->name,
		    dc->flap_percent);
	else
		log_event(LOG_NOTICE, MSGID_CHECK_FLAPPING, fields, 2,
		    "check %s stopped flapping (%.1f%% state change, %u "
		    "changes while flapping)", dc->name, dc->flap_percent,
		    dc->flap_changes);
}

void
decide_result(struct decide_check *dc, struct result *r)
{
	struct decide *d = dc->decide;
	struct decide_change ch;
	int state = decide_state(dc, r, &ch.reason);
	bool flap = ch.reason == DECIDE_REASON_FLAP_START ||
	    ch.reason == DECIDE_REASON_FLAP_STOP;

	ch.check = dc;
	ch.from = dc->state;
	ch.to = state;
	/* A first OK is not news; any other first result or change is, and
	 * so are the start and the end of flapping. */
	ch.report = flap || (ch.from != ch.to &&
	    (ch.from >= 0 || state != STATE_OK));
	if (flap)
		decide_log_flap(dc, ch.reason);
	if (ch.report && ch.from != ch.to)
		decide_log_change(dc, r, state);
	if (ch.from != ch.to) {
		dc->last_change = r->when_usec;
		dc->last_change_mono = time_now(CLOCK_MONOTONIC);
	}
	result_move(&dc->last, r);
	dc->has_result = true;
	dc->state = state;
	if (ch.from == ch.to && !flap)
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

bool
decide_check_soft(const struct decide_check *dc)
{
	return dc->attempt > 0;
}

unsigned
decide_check_attempts(const struct decide_check *dc)
{
	return dc->policy.attempts;
}

double
decide_check_flap_percent(const struct decide_check *dc)
{
	return dc->flap_percent;
}

bool
decide_check_flapping(const struct decide_check *dc)
{
	return dc->flapping;
}

void
decide_set_silence(struct decide *d, decide_silence_fn *fn, void *userdata)
{
	d->silence = fn;
	d->silence_arg = userdata;
}

int64_t
decide_check_silenced(const struct decide_check *dc)
{
	struct decide *d = dc->decide;

	return d->silence != NULL ? d->silence(dc->name, d->silence_arg) : 0;
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
	int64_t silenced;
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
	if (!dc->has_result)
		return o;
	/* What the result said, where the reported state differs. */
	json_object_set_new(o, "state", json_string(dc->state < 0 ?
	    "PENDING" : result_state_name((enum check_state)dc->state)));
	if (decide_check_soft(dc))
		json_object_set_new(o, "soft", json_pack("{s:s, s:I, s:I}",
		    "state", result_state_name(dc->last.state),
		    "attempt", (json_int_t)dc->attempt,
		    "attempts", (json_int_t)dc->policy.attempts));
	if (dc->flapping)
		json_object_set_new(o, "flapping", json_pack("{s:f, s:s, s:I}",
		    "percent", dc->flap_percent, "state", dc->hard < 0 ?
		    "PENDING" : result_state_name((enum check_state)dc->hard),
		    "changes", (json_int_t)dc->flap_changes));
	if ((silenced = decide_check_silenced(dc)) != 0)
		json_object_set_new(o, "silenced_until",
		    json_integer((json_int_t)silenced));
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

struct decide_check *
decide_find(struct decide *d, const char *name)
{
	struct decide_check *dc;

	TAILQ_FOREACH(dc, &d->checks, entry)
		if (strcmp(dc->name, name) == 0)
			return dc;
	return NULL;
}
