/*
 * The pipeline between a result and a report (agentd/decide.c): which
 * results are news (a change once, not a repeat, not a first OK), the
 * PENDING state before a first result, and, with the real scheduler on a
 * loop, that a `check run` result passes through it before its waiter
 * hears, that a check removed on reload leaves the heartbeat, and that a
 * run abandoned on reload changes nothing.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "collector.h"
#include "config.h"
#include "decide.h"
#include "sched.h"
#include "testutil.h"
#include "timeutil.h"

#define SEC	1000000ULL

/* What a subscriber heard. */
struct heard {
	int	 n;		/* changes */
	int	 reports;	/* of which news */
	int	 from, to;	/* the last change */
	char	 name[64];
};

static void
on_change(const struct decide_change *ch, void *userdata)
{
	struct heard *h = userdata;

	h->n++;
	h->reports += ch->report;
	h->from = ch->from;
	h->to = ch->to;
	snprintf(h->name, sizeof(h->name), "%s", decide_check_name(ch->check));
}

static void
feed(struct decide_check *dc, enum check_state state)
{
	struct result r = { 0 };

	result_reset(&r);
	result_set(&r, state, "state %d", (int)state);
	r.when_usec = time_now(CLOCK_REALTIME);
	r.mono_usec = time_now(CLOCK_MONOTONIC);
	decide_result(dc, &r);
	result_reset(&r);
}

/* The "state" member of check i of the heartbeat. */
static const char *
beat_state(json_t *beat, size_t i)
{
	return json_string_value(json_object_get(json_array_get(beat, i),
	    "state"));
}

/* A change is reported once; the same state again is no news. */
static void
test_change_once(void **state)
{
	struct decide *d = decide_new();
	struct decide_check *dc;
	struct heard h = { 0 };

	(void)state;
	decide_subscribe(d, on_change, &h);
	dc = decide_check_add(d, "disk", CHECK_EXTERNAL, NULL, NULL);
	feed(dc, STATE_OK);
	feed(dc, STATE_WARNING);
	assert_int_equal(h.reports, 1);
	assert_int_equal(h.from, STATE_OK);
	assert_int_equal(h.to, STATE_WARNING);
	assert_string_equal(h.name, "disk");
	assert_true(decide_check_last_change(dc) != 0);
	assert_true(decide_check_last_change_mono(dc) != 0);
	for (int i = 0; i < 3; i++)
		feed(dc, STATE_WARNING);
	if (h.reports != 1)
		fail_msg("the same state again was reported: %d reports",
		    h.reports);
	feed(dc, STATE_OK);	/* the clearing is news too */
	assert_int_equal(h.reports, 2);
	assert_int_equal(h.from, STATE_WARNING);
	assert_int_equal(h.to, STATE_OK);
	decide_check_remove(dc);
	decide_free(d);
}

/* A first OK after start is a change (the status line follows) but not
 * news; a first result that is not OK is. */
static void
test_first_result(void **state)
{
	struct decide *d = decide_new();
	struct decide_check *ok, *bad;
	struct heard h = { 0 };
	unsigned counts[4], pending;

	(void)state;
	decide_subscribe(d, on_change, &h);
	ok = decide_check_add(d, "ok", CHECK_COLLECTOR, NULL, NULL);
	bad = decide_check_add(d, "bad", CHECK_EXTERNAL, NULL, NULL);
	feed(ok, STATE_OK);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.from, -1);
	if (h.reports != 0)
		fail_msg("a first OK was reported as a state change");
	feed(bad, STATE_CRITICAL);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.reports, 1);
	assert_int_equal(h.from, -1);
	assert_int_equal(h.to, STATE_CRITICAL);
	decide_tally(d, counts, &pending);
	assert_int_equal(counts[STATE_OK], 1);
	assert_int_equal(counts[STATE_CRITICAL], 1);
	assert_int_equal(pending, 0);
	decide_free(d);		/* removes what is left */
}

/* Before its first result a check is PENDING, in the heartbeat too. */
static void
test_pending(void **state)
{
	struct decide *d = decide_new();
	struct decide_check *a, *b;
	unsigned counts[4], pending;
	json_t *beat, *o;

	(void)state;
	a = decide_check_add(d, "a", CHECK_EXTERNAL, NULL, NULL);
	b = decide_check_add(d, "b", CHECK_EXTERNAL, NULL, NULL);
	assert_int_equal(decide_check_state(a), -1);
	assert_null(decide_check_result(a));
	assert_int_equal(decide_check_last_change(a), 0);
	decide_tally(d, counts, &pending);
	assert_int_equal(pending, 2);
	feed(b, STATE_UNKNOWN);
	decide_tally(d, counts, &pending);
	assert_int_equal(pending, 1);
	assert_int_equal(counts[STATE_UNKNOWN], 1);

	beat = decide_json(d, 1);
	assert_int_equal(json_array_size(beat), 2);
	assert_string_equal(beat_state(beat, 0), "PENDING");
	assert_string_equal(beat_state(beat, 1), "UNKNOWN");
	o = json_array_get(beat, 0);
	assert_string_equal(json_string_value(json_object_get(o, "summary")),
	    "not run yet");
	assert_null(json_object_get(o, "last_change"));
	assert_non_null(json_object_get(json_array_get(beat, 1),
	    "last_change"));
	json_decref(beat);
	decide_free(d);
}

/* ---- with the scheduler ---- */

struct fixture {
	char		 dir[64];
	char		 state[96];
	sd_event	*event;
	struct decide	*decide;
	struct sched	*sched;
	struct heard	 heard;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || testutil_mkdtemp(f->dir, sizeof(f->dir)) != 0)
		return -1;
	snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
	if (mkdir(f->state, 0755) != 0 || sd_event_new(&f->event) < 0)
		return -1;
	f->decide = decide_new();
	decide_subscribe(f->decide, on_change, &f->heard);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	sched_free(f->sched);
	decide_free(f->decide);
	sd_event_unref(f->event);
	testutil_rm_rf(f->dir);
	free(f);
	return 0;
}

/* Every built-in collector off, then extra: external checks, scheduled
 * for New Year (YEARLY) so that only the test starts runs. */
static struct config *
make_config(struct fixture *f, const char *extra)
{
	struct config_errors errs = { 0 };
	struct config *cfg;
	char *text, *more;

	if (asprintf(&text, "[agent]\nstate_dir = %s\n", f->state) < 0)
		fail();
	for (size_t i = 0; collectors[i] != NULL; i++) {
		if (asprintf(&more, "%s[collector.%s]\nenabled = no\n", text,
		    collectors[i]->name) < 0)
			fail();
		free(text);
		text = more;
	}
	if (asprintf(&more, "%s%s", text, extra) < 0)
		fail();
	free(text);
	if (config_load_buffer("test.conf", more, strlen(more), &cfg,
	    &errs) != 0)
		fail_msg("config refused: %s", errs.n > 0 ? errs.msgs[0] : "?");
	free(more);
	return cfg;
}

/* Turns the loop for at most limit_usec, until *flag if flag. */
static void
spin(struct fixture *f, const int *flag, uint64_t limit_usec)
{
	uint64_t start = time_now(CLOCK_MONOTONIC), now;

	while ((flag == NULL || !*flag) &&
	    (now = time_now(CLOCK_MONOTONIC)) - start < limit_usec)
		if (sd_event_run(f->event, limit_usec - (now - start)) < 0)
			fail_msg("sd_event_run failed");
}

struct waited {
	int		 n;
	int		 rc;
	int		 decided;	/* the waiter saw WARNING */
	struct fixture	*f;
	const char	*name;
};

static void
on_run(const struct result *r, int rc, void *userdata)
{
	struct waited *w = userdata;
	struct sched_check *c = sched_find(w->f->sched, w->name);
	json_t *o = c != NULL ? sched_check_json(c, 0) : NULL;

	(void)r;
	w->n++;
	w->rc = rc;
	w->decided = o != NULL && strcmp(json_string_value(json_object_get(o,
	    "state")), "WARNING") == 0;
	json_decref(o);
}

#define YEARLY	"schedule = 0 0 1 1 *\n"
#define CHECKS \
	"[check.warn]\ncommand = /bin/sh -c \"echo W; exit 1\"\n" YEARLY \
	"[check.gone]\ncommand = /bin/true\n" YEARLY

/* A `check run` (agentctl, the portal's run_check) goes through decide
 * like any run, before its waiter hears: the waiter reads the new state. */
static void
test_check_run(void **state)
{
	struct fixture *f = *state;
	struct waited w = { .f = f, .name = "warn" };
	struct sched_waiter *wp;

	assert_int_equal(sched_new(f->event, make_config(f, CHECKS),
	    "/proc", "", f->decide, &f->sched), 0);
	assert_int_equal(sched_run_now(f->sched, "warn", on_run, &w, &wp), 0);
	spin(f, &w.n, 5 * SEC);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.rc, 0);
	if (!w.decided)
		fail_msg("the waiter ran before the result was decided");
	assert_int_equal(f->heard.reports, 1);
	assert_string_equal(f->heard.name, "warn");
	assert_int_equal(f->heard.to, STATE_WARNING);
}

/* A check removed by a reload leaves the heartbeat; a surviving one keeps
 * its state, and the heartbeat follows the new config's order. */
static void
test_reload_removes(void **state)
{
	struct fixture *f = *state;
	struct waited w = { .f = f, .name = "warn" };
	struct sched_waiter *wp;
	json_t *beat;

	assert_int_equal(sched_new(f->event, make_config(f, CHECKS),
	    "/proc", "", f->decide, &f->sched), 0);
	assert_int_equal(sched_run_now(f->sched, "warn", on_run, &w, &wp), 0);
	spin(f, &w.n, 5 * SEC);
	assert_int_equal(decide_count(f->decide), 2);
	sched_apply(f->sched, make_config(f,
	    "[check.new]\ncommand = /bin/true\n" YEARLY
	    "[check.warn]\ncommand = /bin/sh -c \"echo W; exit 1\"\n"
	    YEARLY));
	beat = decide_json(f->decide, 0);
	if (json_array_size(beat) != 2)
		fail_msg("the heartbeat has %zu checks after the reload, "
		    "want 2", json_array_size(beat));
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(beat, 0), "name")), "new");
	assert_string_equal(beat_state(beat, 0), "PENDING");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(beat, 1), "name")), "warn");
	assert_string_equal(beat_state(beat, 1), "WARNING");
	json_decref(beat);
	/* The survivor's next result in the same state is no news. */
	w.n = 0;
	assert_int_equal(sched_run_now(f->sched, "warn", on_run, &w, &wp), 0);
	spin(f, &w.n, 5 * SEC);
	assert_int_equal(f->heard.reports, 1);
}

/* The result of a run a reload abandoned is dropped: no change, the
 * check stays PENDING. */
static void
test_reload_abandoned(void **state)
{
	struct fixture *f = *state;
	const char *conf =
	    "[check.slow]\ncommand = /bin/sh -c \"sleep 0.3; echo C; exit 2\"\n"
	    YEARLY;
	struct waited w = { .f = f, .name = "slow" };
	struct sched_waiter *wp;
	unsigned counts[4], pending;

	assert_int_equal(sched_new(f->event, make_config(f, conf), "/proc",
	    "", f->decide, &f->sched), 0);
	assert_int_equal(sched_run_now(f->sched, "slow", on_run, &w, &wp), 0);
	spin(f, NULL, 100000);
	assert_int_equal(sched_in_flight(f->sched), 1);
	sched_apply(f->sched, make_config(f, conf));
	assert_int_equal(w.n, 1);
	assert_int_equal(w.rc, -ECANCELED);
	spin(f, NULL, SEC);	/* long past the plugin's end */
	if (f->heard.n != 0)
		fail_msg("a result of the abandoned run went through: %s -> %d",
		    f->heard.name, f->heard.to);
	decide_tally(f->decide, counts, &pending);
	assert_int_equal(pending, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_change_once),
		cmocka_unit_test(test_first_result),
		cmocka_unit_test(test_pending),
		cmocka_unit_test_setup_teardown(test_check_run, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reload_removes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reload_abandoned, setup,
		    teardown),
	};
	sigset_t ss;

	/* sd-event's child sources need SIGCHLD blocked, as agentd does. */
	sigemptyset(&ss);
	sigaddset(&ss, SIGCHLD);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
