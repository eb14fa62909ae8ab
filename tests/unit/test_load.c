/*
 * load collector: /proc/loadavg and CPU list parsing, and whole runs on
 * this host's files, a host without /sys and an overloaded host.
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

#include "load.h"
#include "testutil.h"

#define FIX	"tests/fixtures/load"

static void
test_parse_loadavg(void **state)
{
	static const char *const bad[] = {
		"",
		"0.44 0.26\n",
		"nan 0.26 0.12 1/85 11379\n",
		"-1.00 0.26 0.12 1/85 11379\n",
		"0.44 0.26 1e3 1/85 11379\n",
		"0.44 .26 0.12\n",
		"0.44 0.2.6 0.12\n",
		"0.44 0.26 0x12\n",
	};
	struct load_avg la;
	size_t len;
	char *buf;

	(void)state;
	buf = testutil_slurp(FIX "/real/proc/loadavg", &len);
	assert_int_equal(load_parse_loadavg(buf, len, &la), 0);
	assert_near(la.load1, 0.44);
	assert_near(la.load5, 0.26);
	assert_near(la.load15, 0.12);
	assert_int_equal(la.running, 1);
	assert_int_equal(la.total, 85);
	free(buf);

	/* A decimal comma (someone else's locale) is not a load. */
	buf = testutil_slurp(FIX "/garbage-loadavg", &len);
	assert_int_equal(load_parse_loadavg(buf, len, &la), -EINVAL);
	free(buf);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = load_parse_loadavg(bad[i], strlen(bad[i]), &la);

		if (r != -EINVAL)
			fail_msg("input %zu \"%s\": got %d, expected -EINVAL",
			    i, bad[i], r);
	}
	/* Only the averages are required; the rest is informative. */
	assert_int_equal(load_parse_loadavg("1.5 2 3", 7, &la), 0);
	assert_near(la.load5, 2);
	assert_int_equal(la.total, 0);
}

static void
test_parse_cpulist(void **state)
{
	static const struct {
		const char	*text;
		int		 rc;
		unsigned	 count;
	} cases[] = {
		{ "0-1\n", 0, 2 },
		{ "0\n", 0, 1 },
		{ "0,2-5,8\n", 0, 6 },
		{ "0-63,128-191", 0, 128 },
		{ "", -EINVAL, 0 },
		{ "\n", -EINVAL, 0 },
		{ "3-1\n", -EINVAL, 0 },		/* descending */
		{ "0-3,2\n", -EINVAL, 0 },		/* overlapping */
		{ "0,,1\n", -EINVAL, 0 },
		{ "0-\n", -EINVAL, 0 },
		{ "a\n", -EINVAL, 0 },
		{ "0-1048576\n", -EINVAL, 0 },		/* 2^20 */
		{ "0-4294967296\n", -EINVAL, 0 },
	};
	unsigned n;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = load_parse_cpulist(cases[i].text,
		    strlen(cases[i].text), &n);

		if (r != cases[i].rc || (r == 0 && n != cases[i].count))
			fail_msg("\"%s\": got %d/%u, expected %d/%u",
			    cases[i].text, r, n, cases[i].rc, cases[i].count);
	}
}

static void
test_configure(void **state)
{
	void *inst = collector_load.new();
	char err[COLLECTOR_ERR_MAX] = "";

	(void)state;
	assert_int_equal(collector_load.configure(inst, "load5_warning", "x",
	    err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "load5_warning: 'x' is not a range");
	assert_int_equal(collector_load.configure(inst, "load15_critical",
	    "5", err, sizeof(err)), 0);
	assert_int_equal(collector_load.configure(inst, "load_warning", "5",
	    err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown key 'load_warning'"));
	assert_int_equal(collector_load.configure(inst, "load1_warn", "5",
	    err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown key 'load1_warn'"));
	collector_load.free(inst);
}

static void
run(const char *proc, const char *sys, void *inst, struct result *res,
    int want_rc)
{
	struct collector_env env = { .proc = proc, .sys = sys };

	assert_int_equal(collector_load.start(inst, &env), 0);
	assert_int_equal(collect_run_sync(&collector_load, inst, NULL, res),
	    want_rc);
}

static void
test_collect_this_host(void **state)
{
	struct result res = { 0 };
	void *inst = collector_load.new();
	const struct perf *p;

	(void)state;
	run(FIX "/real/proc", FIX "/real/sys", inst, &res, 0);
	assert_int_equal(res.state, STATE_OK);
	assert_string_equal(res.summary, "load 0.44 0.26 0.12 on 2 CPUs");
	assert_string_equal(res.long_text, "1 of 85 tasks runnable");
	assert_int_equal(res.nperf, 4);
	p = testutil_find_perf(&res, "load1");
	assert_near(p->value, 0.44);
	assert_string_equal(p->warn, "");
	p = testutil_find_perf(&res, "load15");
	assert_near(p->value, 0.12);
	/* Per-CPU thresholds 2 and 4, scaled to the host's 2 CPUs. */
	assert_string_equal(p->warn, "4");
	assert_string_equal(p->crit, "8");
	assert_near(testutil_find_perf(&res, "cpus")->value, 2);
	result_reset(&res);
	collector_load.free(inst);
}

static void
test_collect_without_sys(void **state)
{
	struct result res = { 0 };
	void *inst = collector_load.new();

	(void)state;
	/* CPU count from /proc/stat's cpuN lines. */
	run(FIX "/nosys/proc", FIX "/nosys/sys", inst, &res, 0);
	assert_int_equal(res.state, STATE_OK);
	assert_string_equal(res.summary, "load 0.85 0.62 0.40 on 2 CPUs");
	result_reset(&res);

	/* Neither: UNKNOWN saying why. */
	run(FIX "/busy/proc", FIX "/nosys/sys", inst, &res, -ENOENT);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_string_equal(res.summary, "cannot count online CPUs: no usable "
	    FIX "/nosys/sys/devices/system/cpu/online, and " FIX "/busy/proc/"
	    "stat: No such file or directory");
	result_reset(&res);
	collector_load.free(inst);
}

static void
test_collect_overloaded(void **state)
{
	struct result res = { 0 };
	void *inst = collector_load.new();
	char err[COLLECTOR_ERR_MAX];
	const struct perf *p;

	(void)state;
	/* 26.31 25.54 24.92 on 6 CPUs (list "0,2-5,8"). */
	run(FIX "/busy/proc", FIX "/busy/sys", inst, &res, 0);
	assert_int_equal(res.state, STATE_CRITICAL);
	assert_string_equal(res.summary, "load15 4.15 per CPU (CRITICAL > 4 "
	    "per CPU); load 26.31 25.54 24.92 on 6 CPUs");
	p = testutil_find_perf(&res, "load15");
	assert_string_equal(p->warn, "12");
	assert_string_equal(p->crit, "24");
	result_reset(&res);

	/* Move the critical up; add a load1 warning. */
	assert_int_equal(collector_load.configure(inst, "load15_critical",
	    "5", err, sizeof(err)), 0);
	assert_int_equal(collector_load.configure(inst, "load1_warning",
	    "3.5", err, sizeof(err)), 0);
	run(FIX "/busy/proc", FIX "/busy/sys", inst, &res, 0);
	assert_int_equal(res.state, STATE_WARNING);
	assert_string_equal(res.summary, "load1 4.38 per CPU (WARNING > 3.5 "
	    "per CPU), load15 4.15 per CPU (WARNING > 2 per CPU); load 26.31 "
	    "25.54 24.92 on 6 CPUs");
	assert_string_equal(testutil_find_perf(&res, "load1")->warn, "21");
	assert_string_equal(testutil_find_perf(&res, "load15")->crit, "30");
	result_reset(&res);
	collector_load.free(inst);
}

static void
test_collect_failures(void **state)
{
	struct testutil_tree *t = *state;
	struct result res = { 0 };
	void *inst = collector_load.new();
	char want[256];

	run("/nonexistent/proc", FIX "/real/sys", inst, &res, -ENOENT);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_string_equal(res.summary, "cannot read /nonexistent/proc/"
	    "loadavg: No such file or directory");
	result_reset(&res);

	testutil_put_fixture(t->proc, "loadavg", FIX "/garbage-loadavg");
	run(t->proc, FIX "/real/sys", inst, &res, -EINVAL);
	assert_int_equal(res.state, STATE_UNKNOWN);
	snprintf(want, sizeof(want), "%s/loadavg: no load averages in it",
	    t->proc);
	assert_string_equal(res.summary, want);
	result_reset(&res);
	collector_load.free(inst);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_loadavg),
		cmocka_unit_test(test_parse_cpulist),
		cmocka_unit_test(test_configure),
		cmocka_unit_test(test_collect_this_host),
		cmocka_unit_test(test_collect_without_sys),
		cmocka_unit_test(test_collect_overloaded),
		cmocka_unit_test_setup_teardown(test_collect_failures,
		    testutil_tree_setup, testutil_tree_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
