/*
 * series (the forecast engine) with injected time: a disk filling at a
 * steady rate, one filling in bursts, noise around a level, a disk that
 * fills and is cleaned, too few samples, clock steps, the ring's thinning,
 * and the text form (round trip, corrupt, truncated, hostile counts).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "series.h"

#define GIB	(1024.0 * 1024 * 1024)
#define T0	1764000000.0	/* a realtime stamp, as the agent uses */
#define STEP	300.0		/* the collector's default interval */

static const struct series_params params = {
	.window = 6 * 3600,
	.min_samples = 12,
	.min_span = 3600,
	.min_fit = 0.8,
	.horizon = 365 * 86400.0,
};

/* Fails unless got is within pct % of want, saying both. */
static void
assert_within(double got, double want, double pct, const char *what)
{
	if (fabs(got - want) > fabs(want) * pct / 100)
		fail_msg("%s: got %.6g, want %.6g +-%.1f%%", what, got, want,
		    pct);
}

static const char *
verdict_name(enum series_verdict v)
{
	static const char *const names[] = { "FORECAST", "FEW", "SHORT",
	    "NOT_GROWING", "NOISE", "FAR" };

	return (unsigned)v < 6 ? names[v] : "?";
}

#define assert_verdict(got, want) do {					\
	enum series_verdict g_ = (got), w_ = (want);			\
	if (g_ != w_)							\
		fail_msg("verdict %s, want %s", verdict_name(g_),	\
		    verdict_name(w_));					\
} while (0)

/* A deterministic generator for the noise, uniform in [-1, 1]. */
static double
noise(unsigned *seed)
{
	*seed = *seed * 1103515245 + 12345;
	return (double)((*seed >> 8) & 0xffff) / 32767.5 - 1;
}

static void
test_steady_fill(void **state)
{
	struct series *s = series_new(SERIES_SPACE, "/var");
	struct series_fit f;
	double rate = 1.2 * GIB / 86400, used = 40 * GIB, t = T0;

	(void)state;
	/* 100 GiB filling at 1.2 GiB/day, sampled every 5 minutes. */
	for (int i = 0; i <= 72; i++, t += STEP)
		series_add(s, &params, t, used + rate * (t - T0), 100 * GIB);
	t -= STEP;
	assert_verdict(series_forecast(s, &params, t, &f), SERIES_FORECAST);
	assert_within(f.slope * 86400, 1.2 * GIB, 0.1, "rate per day");
	assert_within(f.eta, (100 * GIB - (used + rate * (t - T0))) / rate,
	    1, "eta");
	assert_true(f.r2 > 0.999);
	assert_int_equal(f.n, 73);	/* 6 h, both ends in */
	series_free(s);
}

static void
test_bursts(void **state)
{
	struct series *s = series_new(SERIES_SPACE, "/srv");
	struct series_fit f;
	double used = 20 * GIB, t = T0;

	(void)state;
	/* 1 GiB dumped every 30 minutes (2 GiB/h on average), flat between;
	 * the forecast follows the average rate. */
	for (int i = 0; i <= 72; i++, t += STEP) {
		if (i % 6 == 0 && i > 0)
			used += 1 * GIB;
		series_add(s, &params, t, used, 100 * GIB);
	}
	t -= STEP;
	assert_verdict(series_forecast(s, &params, t, &f), SERIES_FORECAST);
	assert_within(f.slope * 3600, 2 * GIB, 5, "rate per hour");
	assert_within(f.eta, (100 * GIB - used) / (2 * GIB / 3600), 5, "eta");
	series_free(s);
}

static void
test_noise(void **state)
{
	struct series_fit f;
	unsigned seed = 42;
	int forecasts = 0;

	(void)state;
	/* 200 hosts whose disk wanders +-1 GiB around 50 GiB: not one
	 * forecast. */
	for (int h = 0; h < 200; h++) {
		struct series *s = series_new(SERIES_SPACE, "/");
		double t = T0;

		for (int i = 0; i <= 72; i++, t += STEP)
			series_add(s, &params, t, 50 * GIB + GIB *
			    noise(&seed), 100 * GIB);
		if (series_forecast(s, &params, t - STEP, &f) ==
		    SERIES_FORECAST)
			forecasts++;
		series_free(s);
	}
	assert_int_equal(forecasts, 0);
}

static void
test_one_step_is_no_trend(void **state)
{
	struct series *s = series_new(SERIES_SPACE, "/opt");
	struct series_fit f;
	double t = T0;

	(void)state;
	/* A package install halfway: R^2 of a line through one step is at
	 * most 0.75. */
	for (int i = 0; i <= 72; i++, t += STEP)
		series_add(s, &params, t, i < 36 ? 10 * GIB : 12 * GIB,
		    100 * GIB);
	assert_verdict(series_forecast(s, &params, t - STEP, &f),
	    SERIES_NOISE);
	assert_true(f.r2 <= 0.76);
	series_free(s);
}

static void
test_flat_and_shrinking(void **state)
{
	struct series *s = series_new(SERIES_SPACE, "/home");
	struct series_fit f;
	double t = T0;

	(void)state;
	for (int i = 0; i <= 24; i++, t += STEP)
		series_add(s, &params, t, 10 * GIB, 100 * GIB);
	assert_verdict(series_forecast(s, &params, t - STEP, &f),
	    SERIES_NOT_GROWING);
	series_clear(s);
	/* Shrinking slowly (no drop big enough to restart). */
	for (int i = 0; i <= 24; i++, t += STEP)
		series_add(s, &params, t, 10 * GIB - i * 1e6, 100 * GIB);
	assert_verdict(series_forecast(s, &params, t - STEP, &f),
	    SERIES_NOT_GROWING);
	assert_true(f.slope < 0);
	series_free(s);
}

static void
test_filled_then_cleaned(void **state)
{
	struct series *s = series_new(SERIES_SPACE, "/var");
	struct series_fit f;
	double t = T0, used = 50 * GIB;

	(void)state;
	/* Fills at 8 GiB/h: a forecast, CRITICAL material. */
	for (int i = 0; i <= 48; i++, t += STEP) {
		series_add(s, &params, t, used, 100 * GIB);
		used += 8 * GIB * STEP / 3600;
	}
	assert_verdict(series_forecast(s, &params, t - STEP, &f),
	    SERIES_FORECAST);
	assert_within(f.slope * 3600, 8 * GIB, 0.5, "rate before");
	/* Cleaned down to 30 GiB: the forecast is withdrawn at once. */
	series_add(s, &params, t, 30 * GIB, 100 * GIB);
	assert_verdict(series_forecast(s, &params, t, &f), SERIES_FEW);
	assert_int_equal(f.n, 1);
	/* It then grows at 0.5 GiB/h: after an hour and 12 points, the
	 * forecast is the new rate, not a blend with the old one. */
	used = 30 * GIB;
	for (int i = 1; i <= 12; i++) {
		t += STEP;
		used += 0.5 * GIB * STEP / 3600;
		series_add(s, &params, t, used, 100 * GIB);
	}
	assert_verdict(series_forecast(s, &params, t, &f), SERIES_FORECAST);
	assert_within(f.slope * 3600, 0.5 * GIB, 0.5, "rate after");
	series_free(s);
}

static void
test_few_and_short(void **state)
{
	struct series *s = series_new(SERIES_MEMORY, "memory");
	struct series_fit f;
	double t = T0;

	(void)state;
	assert_verdict(series_forecast(s, &params, t, &f), SERIES_FEW);
	for (int i = 0; i < 11; i++, t += STEP)
		series_add(s, &params, t, GIB + i * 1e6, 8 * GIB);
	assert_verdict(series_forecast(s, &params, t - STEP, &f), SERIES_FEW);
	assert_int_equal(f.n, 11);
	/* Enough points, but within 40 minutes: min_span is an hour. */
	series_clear(s);
	for (int i = 0; i < 13; i++)
		series_add(s, &params, T0 + i * 200, GIB + i * 1e6, 8 * GIB);
	assert_verdict(series_forecast(s, &params, T0 + 2400, &f),
	    SERIES_SHORT);
	series_free(s);
}

static void
test_far(void **state)
{
	struct series *s = series_new(SERIES_INODES, "/");
	struct series_fit f;
	double t = T0;

	(void)state;
	/* 10 inodes an hour of 6.5 million: centuries. */
	for (int i = 0; i <= 72; i++, t += STEP)
		series_add(s, &params, t, 300000 + i * 10.0 / 12, 6.5e6);
	assert_verdict(series_forecast(s, &params, t - STEP, &f), SERIES_FAR);
	series_free(s);
}

static void
test_thinning(void **state)
{
	struct series *s = series_new(SERIES_SPACE, "/tmp");
	struct series_fit f;
	double rate = 10 * GIB / 86400, t;
	int i;

	(void)state;
	/* One sample a second for 12 h: the ring keeps <= 128 points that
	 * still span the whole 6 h window. */
	for (i = 0; i <= 12 * 3600; i++) {
		t = T0 + i;
		series_add(s, &params, t, GIB + rate * i, 100 * GIB);
		assert_true(s->n <= SERIES_CAP);
	}
	assert_verdict(series_forecast(s, &params, t, &f), SERIES_FORECAST);
	assert_true(f.n >= SERIES_CAP - 2);
	assert_true(f.span >= params.window * 0.97);
	assert_within(f.slope, rate, 0.5, "rate");
	assert_within(f.eta, (100 * GIB - GIB - rate * (i - 1)) / rate, 1,
	    "eta");
	/* The memory of a series does not depend on the rate. */
	assert_true(sizeof(struct series) <= 4096 - 64);
	series_free(s);
}

static void
test_clock_steps(void **state)
{
	struct series *s = series_new(SERIES_SPACE, "/var");
	struct series_fit f;
	double t = T0;

	(void)state;
	for (int i = 0; i <= 24; i++, t += STEP)
		series_add(s, &params, t, 10 * GIB + i * 0.1 * GIB, 100 * GIB);
	t -= STEP;
	/* The clock steps back an hour: the last hour's points are from
	 * the future and go; what is left is still a good line. */
	series_add(s, &params, t - 3600, 10 * GIB + 12 * 0.1 * GIB,
	    100 * GIB);
	assert_int_equal(s->n, 13);
	assert_verdict(series_forecast(s, &params, t - 3600, &f),
	    SERIES_FORECAST);
	assert_within(f.slope * 3600, 1.2 * GIB, 1, "rate after a step back");
	/* Forward by two days: the window is empty but for the new point. */
	series_add(s, &params, t + 2 * 86400, 10 * GIB, 100 * GIB);
	assert_verdict(series_forecast(s, &params, t + 2 * 86400, &f),
	    SERIES_FEW);
	assert_int_equal(s->n, 1);
	series_free(s);
}

static void
fill_set(struct series_set *set)
{
	struct series *a, *b;

	a = series_set_get(set, SERIES_SPACE, "/mnt/my disk\n\\x");
	b = series_set_get(set, SERIES_MEMORY, "memory");
	assert_non_null(a);
	assert_non_null(b);
	series_set_get(set, SERIES_INODES, "/empty");
	for (int i = 0; i < 40; i++) {
		series_add(a, &params, T0 + i * STEP, 1e9 + i * 1234567.25,
		    1e11);
		series_add(b, &params, T0 + i * STEP + 0.5, 3e9 - i, 8e9);
	}
}

static void
test_text_round_trip(void **state)
{
	struct series_set set = { 0 }, back = { 0 };
	char *text = NULL, *again = NULL, err[256];
	double now = T0 + 40 * STEP;

	(void)state;
	fill_set(&set);
	series_set_format(&set, &text);
	assert_non_null(strstr(text, "/mnt/my\\040disk\\012\\134x"));
	assert_int_equal(series_set_parse(text, strlen(text), now,
	    params.window, &back, err, sizeof(err)), 0);
	assert_int_equal(back.n, 3);
	for (size_t i = 0; i < set.n; i++) {
		struct series *x = set.s[i], *y;

		y = series_set_find(&back, x->resource, x->item);
		assert_non_null(y);
		assert_int_equal(y->n, x->n);
		assert_true(y->limit == x->limit);
		assert_int_equal(y->merged, x->merged);
		assert_true(y->slot_start == x->slot_start);
		for (unsigned k = 0; k < x->n; k++) {
			assert_true(y->pt[(y->head + k) % SERIES_CAP].t ==
			    x->pt[(x->head + k) % SERIES_CAP].t);
			assert_true(y->pt[(y->head + k) % SERIES_CAP].v ==
			    x->pt[(x->head + k) % SERIES_CAP].v);
		}
	}
	series_set_format(&back, &again);
	assert_string_equal(text, again);
	series_set_clear(&back);

	/* Read back after a clock step back of an hour, and after a week:
	 * points from the future are dropped, and those out of the window. */
	assert_int_equal(series_set_parse(text, strlen(text), now - 3600,
	    params.window, &back, err, sizeof(err)), 0);
	assert_int_equal(series_set_find(&back, SERIES_SPACE,
	    "/mnt/my disk\n\\x")->n, 29);
	series_set_clear(&back);
	assert_int_equal(series_set_parse(text, strlen(text), now + 7 * 86400,
	    params.window, &back, err, sizeof(err)), 0);
	assert_int_equal(back.n, 3);
	assert_int_equal(back.s[0]->n + back.s[1]->n + back.s[2]->n, 0);
	series_set_clear(&back);
	free(text);
	free(again);
	series_set_clear(&set);
}

static void
expect_refused(const char *text, const char *why)
{
	struct series_set set = { 0 };
	char err[256] = "";

	if (series_set_parse(text, strlen(text), T0 + 86400, params.window,
	    &set, err, sizeof(err)) != -EINVAL)
		fail_msg("accepted: %s", why);
	assert_int_equal(set.n, 0);
	assert_null(set.s);
	assert_true(err[0] != '\0');
}

static void
test_text_refused(void **state)
{
	struct series_set set = { 0 };
	char *text, *cut, *big;
	size_t len, off;

	(void)state;
	fill_set(&set);
	series_set_format(&set, &text);
	len = strlen(text);
	/* Cut anywhere: refused, never half read. */
	for (size_t n = 0; n + 1 < len; n += 7) {
		cut = strndup(text, n);
		expect_refused(cut, "truncated");
		free(cut);
	}
	free(text);
	series_set_clear(&set);

	expect_refused("", "empty");
	expect_refused("agentd-forecast 2\nend\n", "version");
	expect_refused("agentd-forecast 1\nend\nend\n", "after end");
	expect_refused("agentd-forecast 1\nend", "no newline");
	expect_refused("agentd-forecast 1\nseries disk 10 1 0 0 /x\nend\n",
	    "resource");
	expect_refused("agentd-forecast 1\nseries space 10 1 0 129 /x\nend\n",
	    "points above the ring");
	expect_refused("agentd-forecast 1\nseries space 10 1 0 "
	    "99999999999999999999 /x\nend\n", "huge count");
	expect_refused("agentd-forecast 1\nseries space nan 1 0 0 /x\nend\n",
	    "nan limit");
	expect_refused("agentd-forecast 1\nseries space -1 1 0 0 /x\nend\n",
	    "negative limit");
	expect_refused("agentd-forecast 1\nseries space 10 1 0 1 /x\n"
	    "1764000000 inf\nend\n", "inf value");
	expect_refused("agentd-forecast 1\nseries space 10 1 0 2 /x\n"
	    "1764000000 1\n1764000000 2\nend\n", "unordered points");
	expect_refused("agentd-forecast 1\nseries space 10 1 0 0 /x\n"
	    "series space 10 1 0 0 /x\nend\n", "duplicate");
	expect_refused("agentd-forecast 1\nseries space 10 1 0 0 /\\000\n"
	    "end\n", "NUL in item");
	expect_refused("agentd-forecast 1\nseries space 10 1 0 0 /\\9\n"
	    "end\n", "bad escape");
	expect_refused("agentd-forecast 1\nseries space 10 1 0 0 /x extra\n"
	    "end\n", "extra field");
	expect_refused("agentd-forecast 1\nseries space 10 1 0 1 /x\n"
	    "end\n", "missing point");
	expect_refused("agentd-forecast 1\nseries space 10 1 0 0 /x\0\n"
	    "end\n", "binary");

	/* More series than the set may hold. */
	big = malloc(64 * (SERIES_SET_MAX + 2) + 64);
	off = (size_t)sprintf(big, "agentd-forecast 1\n");
	for (int i = 0; i <= SERIES_SET_MAX; i++)
		off += (size_t)sprintf(big + off, "series space 1 0 0 0 /m%d\n",
		    i);
	sprintf(big + off, "end\n");
	expect_refused(big, "too many series");
	free(big);
}

static void
test_set_sweep(void **state)
{
	struct series_set set = { 0 };

	(void)state;
	fill_set(&set);
	series_set_unsee(&set);
	series_set_find(&set, SERIES_INODES, "/empty")->seen = true;
	/* Memory not sampled this time: kept; the unseen mount goes. */
	assert_int_equal(series_set_sweep(&set, 1U << SERIES_SPACE |
	    1U << SERIES_INODES), 1);
	assert_int_equal(set.n, 2);
	assert_null(series_set_find(&set, SERIES_SPACE, "/mnt/my disk\n\\x"));
	assert_non_null(series_set_find(&set, SERIES_MEMORY, "memory"));
	for (int i = 0; set.n < SERIES_SET_MAX; i++) {
		char name[32];

		snprintf(name, sizeof(name), "/m%d", i);
		assert_non_null(series_set_get(&set, SERIES_SPACE, name));
	}
	assert_null(series_set_get(&set, SERIES_SPACE, "/one-more"));
	series_set_clear(&set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_steady_fill),
		cmocka_unit_test(test_bursts),
		cmocka_unit_test(test_noise),
		cmocka_unit_test(test_one_step_is_no_trend),
		cmocka_unit_test(test_flat_and_shrinking),
		cmocka_unit_test(test_filled_then_cleaned),
		cmocka_unit_test(test_few_and_short),
		cmocka_unit_test(test_far),
		cmocka_unit_test(test_thinning),
		cmocka_unit_test(test_clock_steps),
		cmocka_unit_test(test_text_round_trip),
		cmocka_unit_test(test_text_refused),
		cmocka_unit_test(test_set_sweep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
