/*
 * forecast collector: whole runs on a scratch /proc with statvfs answered
 * from a table that fills with the injected clock (no sleeps): which
 * warnings fire and when, the summary, perfdata and the result's forecast;
 * the rings kept across a restart; a vanished mount; a corrupt state file;
 * exclude; the keys.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "collector.h"
#include "forecast.h"
#include "result.h"
#include "testutil.h"
#include "timeutil.h"

#define GIB	(1024.0 * 1024 * 1024)
#define T0	1764000000.0
#define STEP	300.0
#define BLOCK	4096.0

#define MOUNTINFO \
	"22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n" \
	"23 22 8:2 / /var rw,relatime - ext4 /dev/sda2 rw\n" \
	"24 22 0:5 / /proc rw - proc proc rw\n" \
	"25 22 0:30 / /run/user/1000 rw - tmpfs tmpfs rw\n" \
	"26 22 8:3 / /scratch rw - xfs /dev/sda3 rw\n"

#define MEMINFO \
	"MemTotal:        8000000 kB\n" \
	"MemFree:         1000000 kB\n" \
	"MemAvailable:    4000000 kB\n" \
	"Buffers:          100000 kB\n" \
	"Cached:          2000000 kB\n" \
	"SwapTotal:       2000000 kB\n" \
	"SwapFree:        2000000 kB\n"

static double fake_real = T0;	/* seconds: the wall clock, which may step */
static double fake_mono = 1000;
static double fake_true;	/* seconds since T0 that really passed */
static int var_err;		/* errno for statvfs("/var") */

static uint64_t
fake_now(clockid_t clock)
{
	return (uint64_t)((clock == CLOCK_REALTIME ? fake_real : fake_mono) *
	    1e6);
}

static void
fake_fill(struct statvfs *st, double size, double used, double files,
    double ifree)
{
	memset(st, 0, sizeof(*st));
	st->f_bsize = st->f_frsize = (unsigned long)BLOCK;
	st->f_blocks = (fsblkcnt_t)(size / BLOCK);
	st->f_bfree = st->f_bavail = (fsblkcnt_t)((size - used) / BLOCK);
	st->f_files = (fsfilcnt_t)files;
	st->f_ffree = st->f_favail = (fsfilcnt_t)ifree;
}

/*
 * /: 10 of 50 GiB, steady. /var: 100 GiB, 50 GiB at T0 growing 10 GiB a
 * day. /scratch: inodes 900000 of 1e6 at T0, 4000 more an hour.
 */
static int
fake_statvfs(const char *path, struct statvfs *st)
{
	double h = fake_true / 3600;

	if (strcmp(path, "/") == 0)
		fake_fill(st, 50 * GIB, 10 * GIB, 3e6, 2.9e6);
	else if (strcmp(path, "/var") == 0 && var_err != 0) {
		errno = var_err;
		return -1;
	} else if (strcmp(path, "/var") == 0)
		fake_fill(st, 100 * GIB, 50 * GIB + 10 * GIB * h / 24, 6e6,
		    5e6);
	else if (strcmp(path, "/scratch") == 0)
		fake_fill(st, 20 * GIB, 5 * GIB, 1e6, 1e6 - (900000 + 4000 *
		    h));
	else {
		fail_msg("statvfs asked about %s, which is not checked", path);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

struct fixture {
	struct testutil_tree	*tree;
	char			 state[128];
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char dir[160];

	testutil_tree_setup((void **)&fx->tree);
	snprintf(dir, sizeof(dir), "%s/self", fx->tree->proc);
	mkdir(dir, 0755);
	testutil_put(dir, "mountinfo", MOUNTINFO);
	testutil_put(fx->tree->proc, "meminfo", MEMINFO);
	snprintf(fx->state, sizeof(fx->state), "%s/state", fx->tree->root);
	mkdir(fx->state, 0700);
	fake_real = T0;
	fake_mono = 1000;
	fake_true = 0;
	var_err = 0;
	time_now_hook = fake_now;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	void *tree = fx->tree;

	time_now_hook = NULL;
	testutil_tree_teardown(&tree);
	free(fx);
	return 0;
}

static void *
instance(struct fixture *fx, const char *const *keys)
{
	struct collector_env env = { .proc = fx->tree->proc, .sys = "",
	    .state_dir = fx->state };
	void *inst = collector_forecast.new();
	char err[256];

	for (; keys != NULL && keys[0] != NULL; keys += 2)
		if (collector_forecast.configure(inst, keys[0], keys[1], err,
		    sizeof(err)) != 0)
			fail_msg("%s = %s: %s", keys[0], keys[1], err);
	forecast_set_statvfs(inst, fake_statvfs);
	assert_int_equal(collector_forecast.start(inst, &env), 0);
	return inst;
}

/* One run at the fake time, then the clock moves on by STEP. */
static void
run(void *inst, struct result *r)
{
	result_reset(r);
	assert_int_equal(collect_run_sync(&collector_forecast, inst, NULL, r),
	    0);
	fake_real += STEP;
	fake_mono += STEP;
	fake_true += STEP;
}

static bool
has_perf(const struct result *r, const char *label)
{
	for (size_t i = 0; i < r->nperf; i++)
		if (strcmp(r->perf[i].label, label) == 0)
			return true;
	return false;
}

static void
assert_within(double got, double want, double pct, const char *what)
{
	if (fabs(got - want) > fabs(want) * pct / 100)
		fail_msg("%s: got %.6g, want %.6g +-%.1f%%", what, got, want,
		    pct);
}

static void
test_fill_warns(void **state)
{
	struct fixture *fx = *state;
	struct result r = { 0 };
	void *inst = instance(fx, NULL);
	double h, first_warning = -1;

	/* 7 series: /, /var and /scratch space and inodes, memory. Nothing
	 * for the first hour (12 points, 1 h needed), then the warnings. */
	for (int i = 0; i <= 72; i++) {
		h = (fake_real - T0) / 3600;
		run(inst, &r);
		if (i < 12) {
			assert_int_equal(r.state, STATE_OK);
			assert_false(r.has_forecast);
			assert_string_equal(r.summary, "7 series tracked, none "
			    "filling up");
		}
		if (r.state != STATE_OK && first_warning < 0)
			first_warning = h;
	}
	assert_true(first_warning >= 1 && first_warning <= 1.01);
	h = (fake_real - STEP - T0) / 3600;
	assert_int_equal(r.state, STATE_CRITICAL);
	/* /scratch's inodes: (1e6 - 900000 - 4000 h) / 4000 h to go. */
	assert_true(r.has_forecast);
	assert_string_equal(r.forecast.item, "/scratch");
	assert_string_equal(r.forecast.resource, "inodes");
	assert_string_equal(r.forecast.unit, "inodes");
	assert_within(r.forecast.eta, (100000 - 4000 * h) / 4000 * 3600, 1,
	    "inode eta");
	assert_within(r.forecast.rate, 96000, 1, "inode rate");
	assert_within(testutil_find_perf(&r, "/scratch:inodes_eta")->value,
	    r.forecast.eta, 0.01, "perf inode eta");
	/* /var: (100 - 50 - 10 h / 24) GiB at 10 GiB a day. */
	assert_within(testutil_find_perf(&r, "/var:eta")->value,
	    (50 - 10 * h / 24) / 10 * 86400, 1, "/var eta");
	assert_within(testutil_find_perf(&r, "/var:rate")->value, 10 * GIB,
	    1, "/var rate");
	assert_string_equal(testutil_find_perf(&r, "/var:eta")->uom, "s");
	assert_false(has_perf(&r, "/:eta"));
	assert_false(has_perf(&r, "memory:eta"));
	assert_int_equal((int)testutil_find_perf(&r, "series")->value, 7);
	assert_string_equal(r.summary, "/scratch out of inodes in ~19 h at "
	    "96000 inodes/day (CRITICAL < 1 d), /var full in ~4 d 18 h at "
	    "10.0 GiB/day (WARNING < 7 d); 7 series tracked");
	assert_contains(r.long_text, "memory+swap: ");
	assert_contains(r.long_text, "not growing");
	result_reset(&r);
	collector_forecast.free(inst);
}

static void
test_restart_keeps_window(void **state)
{
	struct fixture *fx = *state;
	struct result r = { 0 };
	void *inst = instance(fx, NULL);
	char path[256];
	struct stat st;

	for (int i = 0; i < 24; i++)
		run(inst, &r);
	assert_true(r.has_forecast);
	collector_forecast.free(inst);	/* saves */
	snprintf(path, sizeof(path), "%s/forecast", fx->state);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* The agent comes back 10 minutes later: forecasts at once. */
	fake_real += 600;
	fake_mono += 600;
	fake_true += 600;
	inst = instance(fx, NULL);
	run(inst, &r);
	assert_true(r.has_forecast);
	assert_string_equal(r.forecast.item, "/scratch");
	assert_int_equal(r.state, STATE_CRITICAL);

	/* /var is unmounted: its series go (and with them its forecast). */
	snprintf(path, sizeof(path), "%s/self", fx->tree->proc);
	testutil_put(path, "mountinfo", "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
	    "26 22 8:3 / /scratch rw - xfs /dev/sda3 rw\n");
	run(inst, &r);
	assert_int_equal((int)testutil_find_perf(&r, "series")->value, 5);
	assert_false(has_perf(&r, "/var:eta"));
	result_reset(&r);
	collector_forecast.free(inst);
}

static void
test_clock_steps(void **state)
{
	struct fixture *fx = *state;
	struct result r = { 0 };
	void *inst = instance(fx, NULL);

	for (int i = 0; i < 24; i++)
		run(inst, &r);
	assert_within(testutil_find_perf(&r, "/var:rate")->value, 10 * GIB,
	    1, "/var rate");
	/* The wall clock steps back 40 minutes: the samples "from the
	 * future" go; the new one, 40 minutes' growth ahead of its stamp,
	 * bends the line a little, no more. */
	fake_real -= 2400 + STEP;
	run(inst, &r);
	assert_within(testutil_find_perf(&r, "/var:rate")->value, 10 * GIB,
	    20, "/var rate after a step back");
	assert_true(r.has_forecast);
	assert_true(r.forecast.eta > 0);
	/* Forward by two days: the window holds one sample, no forecast
	 * (rather than a line through two days of silence). */
	fake_real += 2 * 86400;
	run(inst, &r);
	assert_false(r.has_forecast);
	assert_int_equal(r.state, STATE_OK);
	result_reset(&r);
	collector_forecast.free(inst);
}

static void
test_statvfs_failure_keeps_series(void **state)
{
	struct fixture *fx = *state;
	struct result r = { 0 };
	void *inst = instance(fx, NULL);

	for (int i = 0; i < 15; i++)
		run(inst, &r);
	assert_true(has_perf(&r, "/var:eta"));
	var_err = EIO;
	run(inst, &r);
	assert_int_equal((int)testutil_find_perf(&r, "series")->value, 7);
	var_err = 0;
	run(inst, &r);
	assert_true(has_perf(&r, "/var:eta"));
	result_reset(&r);
	collector_forecast.free(inst);
}

static void
test_corrupt_state(void **state)
{
	static const char *const bad[] = {
		"garbage\n",
		"agentd-forecast 1\nseries space 1 1 0 5 /var\n1 2\n",
		"agentd-forecast 1\nseries space 1 1 0 4000000000 /var\nend\n",
		"",
	};
	struct fixture *fx = *state;
	struct result r = { 0 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		void *inst;

		testutil_put(fx->state, "forecast", bad[i]);
		inst = instance(fx, NULL);
		run(inst, &r);
		assert_int_equal(r.state, STATE_OK);
		assert_string_equal(r.summary, "7 series tracked, none filling "
		    "up");
		collector_forecast.free(inst);	/* replaces the bad file */
	}
	result_reset(&r);
}

static void
test_exclude(void **state)
{
	static const char *const keys[] = { "exclude", "/var, xfs", NULL };
	struct fixture *fx = *state;
	struct result r = { 0 };
	void *inst = instance(fx, keys);

	run(inst, &r);
	assert_int_equal((int)testutil_find_perf(&r, "series")->value, 3);
	result_reset(&r);
	collector_forecast.free(inst);
}

static void
test_thresholds_configured(void **state)
{
	static const char *const keys[] = { "window", "2h", "min_samples", "4",
	    "min_span", "15m", "min_fit", "0.9", "eta_warning", "30d",
	    "eta_critical", "5d", NULL };
	struct fixture *fx = *state;
	struct result r = { 0 };
	void *inst = instance(fx, keys);

	/* Forecasts after 4 points and 15 minutes; /var (4.9 d) is now
	 * CRITICAL under 5 d. */
	for (int i = 0; i < 4; i++)
		run(inst, &r);
	assert_true(has_perf(&r, "/var:eta"));
	assert_contains(r.summary, "/var full in ~4 d 23 h at 10.0 GiB/day "
	    "(CRITICAL < 5 d)");
	result_reset(&r);
	collector_forecast.free(inst);
}

static void
test_bad_keys(void **state)
{
	static const char *const bad[][2] = {
		{ "window", "6x" }, { "window", "10s" }, { "window", "" },
		{ "min_samples", "1" }, { "min_samples", "129" },
		{ "min_samples", "ten" }, { "min_fit", "1.5" },
		{ "min_fit", "-0.1" }, { "min_fit", "nan" },
		{ "eta_warning", "-1d" }, { "size", "1" },
	};
	void *inst = collector_forecast.new();
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (collector_forecast.configure(inst, bad[i][0], bad[i][1],
		    err, sizeof(err)) != -EINVAL)
			fail_msg("%s = '%s' accepted", bad[i][0], bad[i][1]);
		assert_true(err[0] != '\0');
	}
	collector_forecast.free(inst);
}

static void
test_min_span_over_window(void **state)
{
	static const char *const keys[] = { "window", "1h", "min_span", "2h",
	    NULL };
	struct fixture *fx = *state;
	struct result r = { 0 };
	void *inst = instance(fx, keys);

	assert_int_equal(collect_run_sync(&collector_forecast, inst, NULL, &r),
	    -EINVAL);
	assert_int_equal(r.state, STATE_UNKNOWN);
	assert_contains(r.summary, "min_span");
	result_reset(&r);
	collector_forecast.free(inst);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fill_warns, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_restart_keeps_window,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_clock_steps, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_statvfs_failure_keeps_series, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_state, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_exclude, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thresholds_configured,
		    setup, teardown),
		cmocka_unit_test(test_bad_keys),
		cmocka_unit_test_setup_teardown(test_min_span_over_window,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
