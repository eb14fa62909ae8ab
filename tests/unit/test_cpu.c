/*
 * cpu collector: /proc/stat parsing (this host's file, old kernels, cut
 * and garbled input), the usage arithmetic, and whole runs over two
 * samples written to a temporary /proc.
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

#include "cpu.h"
#include "testutil.h"

#define FIX	"tests/fixtures/cpu"

static void
test_parse_this_host(void **state)
{
	struct cpu_sample s;
	size_t len;
	char *buf = testutil_slurp(FIX "/real/proc/stat", &len);

	(void)state;
	assert_int_equal(cpu_parse_stat(buf, len, &s), 0);
	assert_int_equal(s.user, 2726);
	assert_int_equal(s.nice, 0);
	assert_int_equal(s.system, 2147);
	assert_int_equal(s.idle, 93069);
	assert_int_equal(s.iowait, 400);
	assert_int_equal(s.irq, 0);
	assert_int_equal(s.softirq, 33);
	assert_int_equal(s.steal, 90);
	assert_int_equal(s.nfields, 10);
	assert_int_equal(s.ncpu, 2);
	free(buf);
}

static void
test_parse_old_kernels(void **state)
{
	struct cpu_sample s;
	size_t len;
	char *buf;

	(void)state;
	/* 2.4: user nice system idle only. */
	buf = testutil_slurp(FIX "/linux-2.4/stat", &len);
	assert_int_equal(cpu_parse_stat(buf, len, &s), 0);
	assert_int_equal(s.nfields, 4);
	assert_int_equal(s.user, 1234);
	assert_int_equal(s.idle, 90000);
	assert_int_equal(s.iowait, 0);
	assert_int_equal(s.steal, 0);
	assert_int_equal(s.ncpu, 1);
	free(buf);

	/* 2.6.9: iowait, irq, softirq but no steal yet. */
	buf = testutil_slurp(FIX "/linux-2.6.9/stat", &len);
	assert_int_equal(cpu_parse_stat(buf, len, &s), 0);
	assert_int_equal(s.nfields, 7);
	assert_int_equal(s.iowait, 6290);
	assert_int_equal(s.softirq, 456);
	assert_int_equal(s.steal, 0);
	assert_int_equal(s.ncpu, 2);
	free(buf);
}

static void
test_parse_truncated(void **state)
{
	struct cpu_sample s;
	size_t len, cut;
	char *buf = testutil_slurp(FIX "/real/proc/stat", &len);
	char *cpu1 = strstr(buf, "cpu1 "), *intr = strstr(buf, "intr ");

	(void)state;
	/* Cut inside the cpu1 line: the CPU count would be wrong. */
	cut = (size_t)(cpu1 - buf) + 8;
	assert_int_equal(cpu_parse_stat(buf, cut, &s), -EINVAL);
	/* Cut right after cpu1's newline: reads as a file of cpu lines. */
	cut = (size_t)(intr - buf);
	assert_int_equal(cpu_parse_stat(buf, cut, &s), 0);
	assert_int_equal(s.ncpu, 2);
	/* Cut inside the intr line: every cpu line arrived, fine. */
	cut = (size_t)(intr - buf) + 20;
	assert_int_equal(cpu_parse_stat(buf, cut, &s), 0);
	assert_int_equal(s.ncpu, 2);
	assert_int_equal(s.steal, 90);
	/* Cut inside the aggregate line. */
	assert_int_equal(cpu_parse_stat(buf, 10, &s), -EINVAL);
	free(buf);
}

static void
test_parse_garbage(void **state)
{
	static const char *const bad[] = {
		"",
		"hello world\n",
		"cpu  1 2 3\n",				/* < 4 fields */
		"cpu  1 2 -3 4\n",			/* negative */
		"cpu  1 2 3 4 99999999999999999999999\n",	/* > 2^64 */
		"cpu  1 2 3 4\ncpu  1 2 3 4\n",		/* two totals */
		"cpu0 1 2 3 4\nintr 1\n",		/* no total */
		"cpux 1 2 3 4\n",
	};
	struct cpu_sample s;
	size_t len;
	char *buf = testutil_slurp(FIX "/garbage-stat", &len);

	(void)state;
	assert_int_equal(cpu_parse_stat(buf, len, &s), -EINVAL);
	free(buf);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = cpu_parse_stat(bad[i], strlen(bad[i]), &s);

		if (r != -EINVAL)
			fail_msg("input %zu \"%s\": got %d, expected -EINVAL",
			    i, bad[i], r);
	}
}

static void
test_usage_arithmetic(void **state)
{
	struct cpu_sample a, b;
	struct cpu_usage u;
	size_t len;
	char *buf;

	(void)state;
	buf = testutil_slurp(FIX "/real/proc/stat", &len);
	assert_int_equal(cpu_parse_stat(buf, len, &a), 0);
	free(buf);
	buf = testutil_slurp(FIX "/real/stat.later", &len);
	assert_int_equal(cpu_parse_stat(buf, len, &b), 0);
	free(buf);
	/* Deltas: user 30, system 105, idle 97, iowait 10, softirq 2,
	 * steal 20: 264 ticks. */
	assert_int_equal(cpu_usage_between(&a, &b, &u), 0);
	assert_near(u.user, 100.0 * 30 / 264);
	assert_near(u.system, 100.0 * 107 / 264);
	assert_near(u.iowait, 100.0 * 10 / 264);
	assert_near(u.steal, 100.0 * 20 / 264);
	assert_near(u.idle, 100.0 * 97 / 264);
	assert_near(u.busy, 100.0 * 137 / 264);
	assert_near(u.user + u.system + u.iowait + u.steal + u.idle, 100);

	/* iowait going backwards (tickless accounting) counts as 0. */
	b = a;
	b.user += 50;
	b.idle += 60;
	b.iowait -= 10;
	assert_int_equal(cpu_usage_between(&a, &b, &u), 0);
	assert_near(u.user, 100.0 * 50 / 110);
	assert_near(u.iowait, 0);
	assert_near(u.idle, 100.0 * 60 / 110);

	/* No time at all, or a total that shrank: new baseline. */
	assert_int_equal(cpu_usage_between(&a, &a, &u), -EAGAIN);
	b = a;
	b.idle -= 1000;
	assert_int_equal(cpu_usage_between(&a, &b, &u), -EAGAIN);
}

static void
test_configure(void **state)
{
	void *inst = collector_cpu.new();
	char err[COLLECTOR_ERR_MAX] = "";

	(void)state;
	assert_int_equal(collector_cpu.configure(inst, "iowait_warning", "9x",
	    err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "iowait_warning: '9x' is not a range");
	assert_int_equal(collector_cpu.configure(inst, "steal_critical",
	    "20:10", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "steal_critical: '20:10' is not a range");
	assert_int_equal(collector_cpu.configure(inst, "user_warning", "10",
	    err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown key 'user_warning'"));
	assert_int_equal(collector_cpu.configure(inst, "usage_warning", "90",
	    err, sizeof(err)), 0);
	assert_int_equal(collector_cpu.configure(inst, "steal_warning", "",
	    err, sizeof(err)), 0);
	collector_cpu.free(inst);
}

static void
test_collect_this_host(void **state)
{
	struct testutil_tree *t = *state;
	struct collector_env env = { .proc = t->proc, .sys = "/nonexistent" };
	struct result res = { 0 };
	void *inst = collector_cpu.new();
	const struct perf *p;

	testutil_put_fixture(t->proc, "stat", FIX "/real/proc/stat");
	assert_int_equal(collector_cpu.start(inst, &env), 0);
	testutil_put_fixture(t->proc, "stat", FIX "/real/stat.later");
	assert_int_equal(collect_run_sync(&collector_cpu, inst, NULL, &res),
	    0);
	assert_int_equal(res.state, STATE_OK);
	assert_string_equal(res.summary, "2 CPUs, 51.9% used (user 11.4%, "
	    "system 40.5%, iowait 3.8%, steal 7.6%)");
	assert_null(res.long_text);
	assert_int_equal(res.nperf, 7);
	p = testutil_find_perf(&res, "usage");
	assert_near(p->value, 100.0 * 137 / 264);
	assert_string_equal(p->uom, "%");
	assert_string_equal(p->warn, "");
	assert_true(p->has_min && p->has_max);
	assert_near(p->max, 100);
	p = testutil_find_perf(&res, "iowait");
	assert_near(p->value, 100.0 * 10 / 264);
	assert_string_equal(p->warn, "50");
	assert_string_equal(p->crit, "");
	p = testutil_find_perf(&res, "steal");
	assert_near(p->value, 100.0 * 20 / 264);
	assert_string_equal(p->warn, "20");
	assert_string_equal(p->crit, "40");
	assert_near(testutil_find_perf(&res, "system")->value,
	    100.0 * 107 / 264);
	assert_near(testutil_find_perf(&res, "user")->value, 100.0 * 30 / 264);
	assert_near(testutil_find_perf(&res, "idle")->value, 100.0 * 97 / 264);
	assert_near(testutil_find_perf(&res, "cpus")->value, 2);

	/* Same counters again: no time passed, UNKNOWN, then fine. */
	assert_int_equal(collect_run_sync(&collector_cpu, inst, NULL, &res),
	    0);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_non_null(strstr(res.summary, "rates from the next run"));
	result_reset(&res);
	collector_cpu.free(inst);
}

static void
test_collect_thresholds(void **state)
{
	struct testutil_tree *t = *state;
	struct collector_env env = { .proc = t->proc, .sys = "/nonexistent" };
	struct result res = { 0 };
	void *inst = collector_cpu.new();
	char err[COLLECTOR_ERR_MAX];

	assert_int_equal(collector_cpu.configure(inst, "usage_critical",
	    "90", err, sizeof(err)), 0);
	testutil_put(t->proc, "stat", "cpu  0 0 0 0 0 0 0 0 0 0\n"
	    "cpu0 0 0 0 0 0 0 0 0 0 0\nintr 0\n");
	assert_int_equal(collector_cpu.start(inst, &env), 0);

	/* 100 ticks: user 10, system 10, idle 10, iowait 60, steal 10. */
	testutil_put(t->proc, "stat", "cpu  10 0 10 10 60 0 0 10 0 0\n"
	    "cpu0 10 0 10 10 60 0 0 10 0 0\nintr 0\n");
	assert_int_equal(collect_run_sync(&collector_cpu, inst, NULL, &res),
	    0);
	assert_int_equal(res.state, STATE_WARNING);
	assert_string_equal(res.summary, "iowait 60.0% (WARNING > 50%); "
	    "1 CPU, 20.0% used (user 10.0%, system 10.0%, iowait 60.0%, "
	    "steal 10.0%)");

	/* Next 100: nice 40 (folded into user), softirq 10 (into system),
	 * steal 50: CRITICAL steal, WARNING usage stays below 90. */
	testutil_put(t->proc, "stat", "cpu  10 40 10 10 60 0 10 60 0 0\n"
	    "cpu0 10 40 10 10 60 0 10 60 0 0\nintr 0\n");
	assert_int_equal(collect_run_sync(&collector_cpu, inst, NULL, &res),
	    0);
	assert_int_equal(res.state, STATE_CRITICAL);
	assert_string_equal(res.summary, "steal 50.0% (CRITICAL > 40%); "
	    "1 CPU, 50.0% used (user 40.0%, system 10.0%, iowait 0.0%, "
	    "steal 50.0%)");

	/* Counters reset (total shrank): UNKNOWN once, new baseline. */
	testutil_put(t->proc, "stat", "cpu  1 0 1 1 0 0 0 0 0 0\n"
	    "cpu0 1 0 1 1 0 0 0 0 0 0\nintr 0\n");
	assert_int_equal(collect_run_sync(&collector_cpu, inst, NULL, &res),
	    0);
	assert_int_equal(res.state, STATE_UNKNOWN);
	testutil_put(t->proc, "stat", "cpu  96 0 1 1 0 0 0 0 0 0\n"
	    "cpu0 96 0 1 1 0 0 0 0 0 0\nintr 0\n");
	assert_int_equal(collect_run_sync(&collector_cpu, inst, NULL, &res),
	    0);
	assert_int_equal(res.state, STATE_CRITICAL);
	assert_string_equal(res.summary, "usage 100.0% (CRITICAL > 90%); "
	    "1 CPU, 100.0% used (user 100.0%, system 0.0%, iowait 0.0%, "
	    "steal 0.0%)");
	assert_string_equal(testutil_find_perf(&res, "usage")->crit, "90");
	result_reset(&res);
	collector_cpu.free(inst);
}

static void
test_collect_old_kernel(void **state)
{
	struct testutil_tree *t = *state;
	struct collector_env env = { .proc = t->proc, .sys = "/nonexistent" };
	struct result res = { 0 };
	void *inst = collector_cpu.new();

	testutil_put_fixture(t->proc, "stat", FIX "/linux-2.4/stat");
	assert_int_equal(collector_cpu.start(inst, &env), 0);
	testutil_put(t->proc, "stat", "cpu  1284 5 678 90050\n"
	    "cpu0 1284 5 678 90050\npage 5741 1808\n");
	assert_int_equal(collect_run_sync(&collector_cpu, inst, NULL, &res),
	    0);
	assert_int_equal(res.state, STATE_OK);
	assert_string_equal(res.summary, "1 CPU, 50.0% used (user 50.0%, "
	    "system 0.0%, iowait 0.0%, steal 0.0%)");
	assert_non_null(res.long_text);
	assert_string_equal(res.long_text, "this kernel prints 4 fields on "
	    "the cpu line: iowait, irq, softirq and steal not reported");
	result_reset(&res);
	collector_cpu.free(inst);
}

static void
test_collect_no_proc(void **state)
{
	struct collector_env env = { .proc = "/nonexistent/proc",
	    .sys = "/nonexistent/sys" };
	struct result res = { 0 };
	void *inst = collector_cpu.new();

	(void)state;
	assert_int_equal(collector_cpu.start(inst, &env), -ENOENT);
	assert_int_equal(collect_run_sync(&collector_cpu, inst, NULL, &res),
	    -ENOENT);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_string_equal(res.summary, "cannot read /nonexistent/proc/stat: "
	    "No such file or directory");
	assert_int_equal(res.nperf, 0);
	result_reset(&res);
	collector_cpu.free(inst);
}

static void
test_collect_garbage(void **state)
{
	struct testutil_tree *t = *state;
	struct collector_env env = { .proc = t->proc, .sys = "/nonexistent" };
	struct result res = { 0 };
	void *inst = collector_cpu.new();
	char want[256];

	testutil_put_fixture(t->proc, "stat", FIX "/garbage-stat");
	assert_int_equal(collector_cpu.start(inst, &env), -EINVAL);
	assert_int_equal(collect_run_sync(&collector_cpu, inst, NULL, &res),
	    -EINVAL);
	assert_int_equal(res.state, STATE_UNKNOWN);
	snprintf(want, sizeof(want), "%s/stat: no usable cpu lines", t->proc);
	assert_string_equal(res.summary, want);
	result_reset(&res);
	collector_cpu.free(inst);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_this_host),
		cmocka_unit_test(test_parse_old_kernels),
		cmocka_unit_test(test_parse_truncated),
		cmocka_unit_test(test_parse_garbage),
		cmocka_unit_test(test_usage_arithmetic),
		cmocka_unit_test(test_configure),
		cmocka_unit_test_setup_teardown(test_collect_this_host,
		    testutil_tree_setup, testutil_tree_teardown),
		cmocka_unit_test_setup_teardown(test_collect_thresholds,
		    testutil_tree_setup, testutil_tree_teardown),
		cmocka_unit_test_setup_teardown(test_collect_old_kernel,
		    testutil_tree_setup, testutil_tree_teardown),
		cmocka_unit_test(test_collect_no_proc),
		cmocka_unit_test_setup_teardown(test_collect_garbage,
		    testutil_tree_setup, testutil_tree_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
