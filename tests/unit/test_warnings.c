/*
 * The warnings engine in decide.c: soft states (attempts), Nagios's
 * weighted percent state change, one "flapping started" and one
 * "flapping stopped" for a check that flips, and what the heartbeat shows
 * meanwhile (the reported state, "soft", "flapping", "silenced_until").
 * Results are fed directly: no time passes, no sleep.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "decide.h"
#include "timeutil.h"

struct heard {
	int			 n, reports;
	int			 from, to;
	enum decide_reason	 reason;
	int			 starts, stops, changes_while_flapping;
	bool			 flapping;
};

static void
on_change(const struct decide_change *ch, void *userdata)
{
	struct heard *h = userdata;

	h->n++;
	h->reports += ch->report;
	h->from = ch->from;
	h->to = ch->to;
	h->reason = ch->reason;
	if (ch->reason == DECIDE_REASON_FLAP_START) {
		h->starts++;
		h->flapping = true;
	} else if (ch->reason == DECIDE_REASON_FLAP_STOP) {
		h->stops++;
		h->flapping = false;
	} else if (h->flapping)
		h->changes_while_flapping++;
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

static struct decide_check *
add(struct decide *d, unsigned attempts, unsigned low, unsigned high)
{
	struct decide_check *dc = decide_check_add(d, "disk", CHECK_EXTERNAL,
	    NULL, NULL);

	decide_check_policy(dc, &(struct decide_policy){ attempts, low,
	    high });
	return dc;
}

/* A member of the check's heartbeat JSON, as text ("" if absent). */
static const char *
member(struct decide_check *dc, const char *path, char *buf, size_t len)
{
	json_t *o = decide_check_json(dc, 0), *v = o;
	char key[64], *dot;
	const char *p = path;

	for (;;) {
		snprintf(key, sizeof(key), "%s", p);
		if ((dot = strchr(key, '.')) != NULL)
			*dot = '\0';
		v = json_object_get(v, key);
		if (dot == NULL || v == NULL)
			break;
		p += dot - key + 1;
	}
	if (json_is_string(v))
		snprintf(buf, len, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else
		snprintf(buf, len, "%s", v == NULL ? "" : "?");
	json_decref(o);
	return buf;
}

/* attempts = 3: two CRITICALs are soft (the heartbeat still says OK and
 * why), the third is hard and reported as such; a change between problems
 * and the recovery are at once; an OK between resets the count. */
static void
test_soft_attempts(void **state)
{
	struct decide *d = decide_new();
	struct decide_check *dc;
	struct heard h = { 0 };
	char buf[64];

	(void)state;
	decide_subscribe(d, on_change, &h);
	dc = add(d, 3, 0, 0);
	feed(dc, STATE_OK);
	feed(dc, STATE_CRITICAL);
	feed(dc, STATE_CRITICAL);
	if (h.reports != 0)
		fail_msg("a soft CRITICAL was reported (%d reports)",
		    h.reports);
	assert_true(decide_check_soft(dc));
	assert_int_equal(decide_check_state(dc), STATE_OK);
	assert_string_equal(member(dc, "state", buf, sizeof(buf)), "OK");
	assert_string_equal(member(dc, "soft.state", buf, sizeof(buf)),
	    "CRITICAL");
	assert_string_equal(member(dc, "soft.attempt", buf, sizeof(buf)), "2");
	assert_string_equal(member(dc, "soft.attempts", buf, sizeof(buf)),
	    "3");
	feed(dc, STATE_CRITICAL);
	assert_int_equal(h.reports, 1);
	assert_int_equal(h.from, STATE_OK);
	assert_int_equal(h.to, STATE_CRITICAL);
	assert_int_equal(h.reason, DECIDE_REASON_SOFT);
	assert_false(decide_check_soft(dc));
	assert_string_equal(member(dc, "soft", buf, sizeof(buf)), "");
	feed(dc, STATE_WARNING);	/* problem to problem: at once */
	assert_int_equal(h.reports, 2);
	assert_int_equal(h.to, STATE_WARNING);
	assert_int_equal(h.reason, DECIDE_REASON_NONE);
	feed(dc, STATE_OK);		/* recovery: at once */
	assert_int_equal(h.reports, 3);
	assert_int_equal(h.to, STATE_OK);
	feed(dc, STATE_CRITICAL);
	feed(dc, STATE_OK);
	feed(dc, STATE_CRITICAL);
	feed(dc, STATE_CRITICAL);
	if (h.reports != 3)
		fail_msg("an OK between did not reset the attempts: %d "
		    "reports", h.reports);
	decide_check_remove(dc);
	decide_free(d);
}

/* A check that fails from its first run stays PENDING until the failure
 * is hard; attempts = 1 (the default) reports the first result. */
static void
test_soft_first(void **state)
{
	struct decide *d = decide_new();
	struct decide_check *dc, *plain;
	struct heard h = { 0 };
	char buf[64];

	(void)state;
	decide_subscribe(d, on_change, &h);
	dc = add(d, 3, 0, 0);
	feed(dc, STATE_UNKNOWN);
	feed(dc, STATE_UNKNOWN);
	assert_int_equal(decide_check_state(dc), -1);
	assert_string_equal(member(dc, "state", buf, sizeof(buf)), "PENDING");
	assert_int_equal(h.n, 0);
	feed(dc, STATE_UNKNOWN);
	assert_int_equal(h.reports, 1);
	assert_int_equal(h.from, -1);
	assert_int_equal(h.to, STATE_UNKNOWN);
	plain = decide_check_add(d, "plain", CHECK_EXTERNAL, NULL, NULL);
	feed(plain, STATE_CRITICAL);
	assert_int_equal(h.reports, 2);
	decide_check_remove(dc);
	decide_check_remove(plain);
	decide_free(d);
}

/* Nagios's weights: a change in the newest transition counts 1.25/20,
 * in the oldest 0.75/20, all twenty 100 %. */
static void
test_flap_percent(void **state)
{
	struct decide *d = decide_new();
	struct decide_check *dc;

	(void)state;
	dc = add(d, 1, 0, 0);
	for (int i = 0; i < DECIDE_FLAP_HISTORY; i++)
		feed(dc, STATE_OK);
	assert_float_equal(decide_check_flap_percent(dc), 0, 1e-9);
	feed(dc, STATE_WARNING);
	assert_float_equal(decide_check_flap_percent(dc), 6.25, 1e-9);
	for (int i = 0; i < DECIDE_FLAP_HISTORY - 2; i++)
		feed(dc, STATE_WARNING);
	/* The change is now the oldest transition of the 20. */
	assert_float_equal(decide_check_flap_percent(dc), 3.75, 1e-9);
	for (int i = 0; i < DECIDE_FLAP_HISTORY; i++)
		feed(dc, i % 2 ? STATE_OK : STATE_CRITICAL);
	assert_float_equal(decide_check_flap_percent(dc), 100, 1e-9);
	/* No detection with flap_high 0, whatever the percentage. */
	assert_false(decide_check_flapping(dc));
	decide_check_remove(dc);
	decide_free(d);
}

/* A plugin that flips on every run, then settles: one start, one stop,
 * no state change reported in between, and the stop carries the state
 * it settled in; with flap detection off, every flip is reported. */
static void
test_flap_once(void **state)
{
	struct decide *d = decide_new();
	struct decide_check *dc;
	struct heard h = { 0 };
	int before;
	char buf[64];

	(void)state;
	decide_subscribe(d, on_change, &h);
	dc = add(d, 1, 20, 30);
	for (int i = 0; i < 40; i++)
		feed(dc, i % 2 ? STATE_CRITICAL : STATE_OK);
	assert_int_equal(h.starts, 1);
	assert_int_equal(h.stops, 0);
	assert_true(decide_check_flapping(dc));
	/* 6 transitions make 30 % at the earliest: the first few flips
	 * before that were reported as changes. */
	before = h.reports - h.starts;
	if (before < 5 || before > 8)
		fail_msg("%d changes reported before flapping began", before);
	assert_int_equal(h.changes_while_flapping, 0);
	assert_string_equal(member(dc, "flapping.state", buf, sizeof(buf)),
	    "CRITICAL");
	assert_true(member(dc, "flapping.changes", buf, sizeof(buf))[0] !=
	    '0');
	for (int i = 0; i < 40; i++)
		feed(dc, STATE_WARNING);
	assert_int_equal(h.starts, 1);
	assert_int_equal(h.stops, 1);
	assert_int_equal(h.changes_while_flapping, 0);
	assert_int_equal(h.to, STATE_WARNING);
	assert_int_equal(decide_check_state(dc), STATE_WARNING);
	assert_string_equal(member(dc, "flapping", buf, sizeof(buf)), "");
	decide_check_remove(dc);

	memset(&h, 0, sizeof(h));
	dc = add(d, 1, 0, 0);
	for (int i = 0; i < 40; i++)
		feed(dc, i % 2 ? STATE_CRITICAL : STATE_OK);
	assert_int_equal(h.starts, 0);
	assert_int_equal(h.reports, 39);	/* the first OK is no news */
	decide_check_remove(dc);
	decide_free(d);
}

/* Soft failures while flapping do not end it; settling on a soft
 * problem reports the hard state, not the soft one. */
static void
test_flap_with_soft(void **state)
{
	struct decide *d = decide_new();
	struct decide_check *dc;
	struct heard h = { 0 };

	(void)state;
	decide_subscribe(d, on_change, &h);
	dc = add(d, 2, 20, 30);
	for (int i = 0; i < 40; i++)
		feed(dc, i % 2 ? STATE_CRITICAL : STATE_OK);
	/* With attempts = 2, a lone CRITICAL is soft: nothing before. */
	assert_int_equal(h.starts, 1);
	assert_int_equal(h.reports, 1);
	for (int i = 0; i < 40; i++)
		feed(dc, STATE_OK);
	assert_int_equal(h.stops, 1);
	assert_int_equal(h.to, STATE_OK);
	assert_int_equal(h.from, STATE_OK);
	decide_check_remove(dc);
	decide_free(d);
}

static int64_t
silenced(const char *name, void *userdata)
{
	return strcmp(name, "disk") == 0 ? *(int64_t *)userdata : 0;
}

static void
test_silenced_json(void **state)
{
	struct decide *d = decide_new();
	struct decide_check *dc, *other;
	int64_t until = 1764100000;
	char buf[64];

	(void)state;
	decide_set_silence(d, silenced, &until);
	dc = add(d, 1, 0, 0);
	other = decide_check_add(d, "load", CHECK_COLLECTOR, NULL, NULL);
	feed(dc, STATE_CRITICAL);
	feed(other, STATE_CRITICAL);
	assert_string_equal(member(dc, "silenced_until", buf, sizeof(buf)),
	    "1764100000");
	assert_string_equal(member(other, "silenced_until", buf,
	    sizeof(buf)), "");
	assert_int_equal(decide_check_silenced(dc), until);
	assert_ptr_equal(decide_find(d, "load"), other);
	assert_null(decide_find(d, "nope"));
	decide_check_remove(dc);
	decide_check_remove(other);
	decide_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_soft_attempts),
		cmocka_unit_test(test_soft_first),
		cmocka_unit_test(test_flap_percent),
		cmocka_unit_test(test_flap_once),
		cmocka_unit_test(test_flap_with_soft),
		cmocka_unit_test(test_silenced_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
