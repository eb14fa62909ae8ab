/*
 * memory collector: /proc/meminfo parsing (this host, a 3.2 kernel without
 * MemAvailable, a host short of memory, garbage) and whole runs.
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

#include "memory.h"
#include "testutil.h"

#define FIX	"tests/fixtures/memory"

static void
test_parse_this_host(void **state)
{
	struct memory_info mi;
	size_t len;
	char *buf = testutil_slurp(FIX "/real/proc/meminfo", &len);

	(void)state;
	assert_int_equal(memory_parse_meminfo(buf, len, &mi), 0);
	assert_true(mi.has_available);
	assert_int_equal(mi.total, 24684096ULL * 1024);
	assert_int_equal(mi.free, 24170816ULL * 1024);
	assert_int_equal(mi.available, 24345540ULL * 1024);
	assert_int_equal(mi.buffers, 4184ULL * 1024);
	assert_int_equal(mi.cached, 357804ULL * 1024);
	assert_int_equal(mi.swap_total, 0);
	assert_int_equal(mi.swap_free, 0);
	free(buf);
}

static void
test_parse_old_kernel(void **state)
{
	struct memory_info mi;
	size_t len;
	char *buf = testutil_slurp(FIX "/linux-3.2/proc/meminfo", &len);

	(void)state;
	assert_int_equal(memory_parse_meminfo(buf, len, &mi), 0);
	assert_false(mi.has_available);
	/* MemFree + Buffers + Cached */
	assert_int_equal(mi.available, (104588ULL + 155292 + 902124) * 1024);
	assert_int_equal(mi.swap_total, 2097148ULL * 1024);
	assert_int_equal(mi.swap_free, 2041916ULL * 1024);
	free(buf);
}

static void
test_parse_garbage(void **state)
{
	static const char *const bad[] = {
		"",
		"MemTotal: 100 kB\n",			/* no MemFree */
		"MemFree: 100 kB\n",			/* no MemTotal */
		"MemTotal: 0 kB\nMemFree: 0 kB\n",
		"MemTotal: 100 MB\nMemFree: 10 kB\n",	/* unit */
		"MemTotal: -100 kB\nMemFree: 10 kB\n",
		("MemTotal: 100 kB\nMemFree: 10 kB\nSwapTotal: 1 kB\n"
		    "SwapFree: 2 kB\n"),		/* free > total */
		"MemTotal: 99999999999999999999 kB\nMemFree: 1 kB\n",
		"MemTotal: 18014398509481984 kB\nMemFree: 1 kB\n", /* 2^64 B */
		"MemTotal: 100 kB\nMemFree: 10 kB",	/* cut: no newline */
	};
	static const char *const files[] = {
		FIX "/garbage-meminfo",
		FIX "/contradictory-meminfo",
	};
	struct memory_info mi;
	size_t len;
	char *buf;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = memory_parse_meminfo(bad[i], strlen(bad[i]), &mi);

		if (r != -EINVAL)
			fail_msg("input %zu \"%s\": got %d, expected -EINVAL",
			    i, bad[i], r);
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		buf = testutil_slurp(files[i], &len);
		if (memory_parse_meminfo(buf, len, &mi) != -EINVAL)
			fail_msg("%s parsed", files[i]);
		free(buf);
	}
	/* A file cut after MemAvailable still has what we need. */
	buf = testutil_slurp(FIX "/real/proc/meminfo", &len);
	assert_int_equal(memory_parse_meminfo(buf, strstr(buf, "Buffers") -
	    buf, &mi), 0);
	assert_int_equal(mi.available, 24345540ULL * 1024);
	assert_int_equal(mi.buffers, 0);
	free(buf);
}

static void
test_configure(void **state)
{
	void *inst = collector_memory.new();
	char err[COLLECTOR_ERR_MAX] = "";

	(void)state;
	assert_int_equal(collector_memory.configure(inst, "available_warning",
	    "10:x", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "available_warning: '10:x' is not a range");
	assert_int_equal(collector_memory.configure(inst, "free_warning",
	    "10", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown key 'free_warning'"));
	assert_int_equal(collector_memory.configure(inst, "swap_used_critical",
	    "@95:100", err, sizeof(err)), 0);
	collector_memory.free(inst);
}

static void
run(const char *proc, void *inst, struct result *res, int want_rc)
{
	struct collector_env env = { .proc = proc, .sys = "/nonexistent" };

	assert_int_equal(collector_memory.start(inst, &env), 0);
	assert_int_equal(collect_run_sync(&collector_memory, inst, NULL, res),
	    want_rc);
}

static void
test_collect_this_host(void **state)
{
	struct result res = { 0 };
	void *inst = collector_memory.new();
	const struct perf *p;

	(void)state;
	run(FIX "/real/proc", inst, &res, 0);
	assert_int_equal(res.state, STATE_OK);
	/* No swap here: no swap metric, no warning. */
	assert_string_equal(res.summary, "23.2 GiB of 23.5 GiB available "
	    "(98.6%), no swap");
	assert_null(res.long_text);
	assert_int_equal(res.nperf, 2);
	p = testutil_find_perf(&res, "available");
	assert_near(p->value, 100.0 * 24345540 / 24684096);
	assert_string_equal(p->uom, "%");
	assert_string_equal(p->warn, "10:");
	assert_string_equal(p->crit, "5:");
	p = testutil_find_perf(&res, "available_bytes");
	assert_near(p->value, 24345540.0 * 1024);
	assert_string_equal(p->uom, "B");
	assert_true(p->has_max);
	assert_near(p->max, 24684096.0 * 1024);
	result_reset(&res);
	collector_memory.free(inst);
}

static void
test_collect_old_kernel(void **state)
{
	struct result res = { 0 };
	void *inst = collector_memory.new();
	const struct perf *p;

	(void)state;
	run(FIX "/linux-3.2/proc", inst, &res, 0);
	assert_int_equal(res.state, STATE_OK);
	assert_string_equal(res.summary, "1.1 GiB of 2.0 GiB available "
	    "(56.4%), swap 2.6% used of 2.0 GiB");
	assert_string_equal(res.long_text, "this kernel has no MemAvailable "
	    "(before 3.14): estimated as MemFree + Buffers + Cached");
	assert_int_equal(res.nperf, 4);
	p = testutil_find_perf(&res, "swap_used");
	assert_near(p->value, 100.0 * (2097148 - 2041916) / 2097148);
	assert_string_equal(p->warn, "90");
	assert_string_equal(p->crit, "");
	p = testutil_find_perf(&res, "swap_used_bytes");
	assert_near(p->value, (2097148.0 - 2041916) * 1024);
	assert_near(p->max, 2097148.0 * 1024);
	result_reset(&res);
	collector_memory.free(inst);
}

static void
test_collect_short_of_memory(void **state)
{
	struct result res = { 0 };
	void *inst = collector_memory.new();
	char err[COLLECTOR_ERR_MAX];

	(void)state;
	run(FIX "/low/proc", inst, &res, 0);
	assert_int_equal(res.state, STATE_CRITICAL);
	assert_string_equal(res.summary, "available memory 4.0% (CRITICAL "
	    "< 5%), swap 96.0% used (WARNING > 90%); 313.7 MiB of 7.7 GiB "
	    "available (4.0%), swap 96.0% used of 1024.0 MiB");
	result_reset(&res);

	/* Thresholds removed by an empty value: nothing alerts. */
	assert_int_equal(collector_memory.configure(inst, "available_critical",
	    "", err, sizeof(err)), 0);
	assert_int_equal(collector_memory.configure(inst, "available_warning",
	    "", err, sizeof(err)), 0);
	assert_int_equal(collector_memory.configure(inst, "swap_used_warning",
	    "", err, sizeof(err)), 0);
	run(FIX "/low/proc", inst, &res, 0);
	assert_int_equal(res.state, STATE_OK);
	assert_string_equal(testutil_find_perf(&res, "available")->warn, "");
	result_reset(&res);
	collector_memory.free(inst);
}

static void
test_collect_failures(void **state)
{
	struct testutil_tree *t = *state;
	struct result res = { 0 };
	void *inst = collector_memory.new();
	char want[256];

	run("/nonexistent/proc", inst, &res, -ENOENT);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_string_equal(res.summary, "cannot read /nonexistent/proc/"
	    "meminfo: No such file or directory");
	result_reset(&res);

	testutil_put_fixture(t->proc, "meminfo", FIX "/garbage-meminfo");
	run(t->proc, inst, &res, -EINVAL);
	assert_int_equal(res.state, STATE_UNKNOWN);
	snprintf(want, sizeof(want), "%s/meminfo: no usable MemTotal and "
	    "MemFree", t->proc);
	assert_string_equal(res.summary, want);
	assert_int_equal(res.nperf, 0);
	result_reset(&res);
	collector_memory.free(inst);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_this_host),
		cmocka_unit_test(test_parse_old_kernel),
		cmocka_unit_test(test_parse_garbage),
		cmocka_unit_test(test_configure),
		cmocka_unit_test(test_collect_this_host),
		cmocka_unit_test(test_collect_old_kernel),
		cmocka_unit_test(test_collect_short_of_memory),
		cmocka_unit_test_setup_teardown(test_collect_failures,
		    testutil_tree_setup, testutil_tree_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
