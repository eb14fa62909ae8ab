/* Unit tests for the processes collector: the stat line parser (comm with
 * spaces and ')', short lines, garbage) and full runs on fixture trees. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "collector.h"
#include "processes.h"
#include "testutil.h"

extern const struct collector collector_processes;

#define FIX	"tests/fixtures/processes/"

static void
assert_perf(const struct result *res, const char *label, double value,
    const char *warn, const char *crit)
{
	const struct perf *p = testutil_find_perf(res, label);

	if (p->value < value - 0.05 || p->value > value + 0.05)
		fail_msg("perf %s = %g, expected %g", label, p->value, value);
	assert_string_equal(p->warn, warn);
	assert_string_equal(p->crit, crit);
}

/* Runs the collector once on a fixture; config is key, value, ..., NULL. */
static int
run(const char *fixture, struct result *res, ...)
{
	struct collector_env env = { .proc = fixture, .sys = "/nonexistent" };
	char err[COLLECTOR_ERR_MAX];
	const char *key, *value;
	void *inst = collector_processes.new();
	va_list ap;
	int rc;

	va_start(ap, res);
	while ((key = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		if (collector_processes.configure(inst, key, value, err,
		    sizeof(err)) != 0)
			fail_msg("configure %s=%s: %s", key, value, err);
	}
	va_end(ap);
	assert_int_equal(collector_processes.start(inst, &env), 0);
	rc = collect_run_sync(&collector_processes, inst, NULL, res);
	collector_processes.free(inst);
	return rc;
}

static void
test_parse_real_line(void **unused)
{
	const char *line = "12 (kworker/u8:0-ext4-rsv-conversion) I 2 0 0 0 -1 "
	    "69239136 0 0 0 0 0 41 0 0 20 0 1 0 44 0 0 18446744073709551615 0 "
	    "0 0 0 0 0 0 2147483647 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
	struct processes_stat st;

	(void)unused;
	assert_int_equal(processes_parse_stat(line, strlen(line), &st), 0);
	assert_int_equal(st.pid, 12);
	assert_string_equal(st.comm, "kworker/u8:0-ext4-rsv-conversion");
	assert_int_equal(st.state, 'I');
	assert_int_equal(st.ppid, 2);
	assert_int_equal(st.threads, 1);
}

/* comm is chosen by the process: it may look like the following fields. */
static void
test_parse_hostile_comm(void **unused)
{
	const char *line = "4242 (evil) R 1 2 (x) Z 1 4242 4242 0 -1 4194560 "
	    "1200 0 3 0 17 9 0 0 20 0 7 0 4711\n";
	const char *nl = "77 (a\nb) c) S 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 "
	    "3 0\n";
	struct processes_stat st;

	(void)unused;
	assert_int_equal(processes_parse_stat(line, strlen(line), &st), 0);
	assert_string_equal(st.comm, "evil) R 1 2 (x");
	assert_int_equal(st.state, 'Z');
	assert_int_equal(st.ppid, 1);
	assert_int_equal(st.threads, 7);
	assert_int_equal(processes_parse_stat(nl, strlen(nl), &st), 0);
	assert_string_equal(st.comm, "a\nb) c");
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.threads, 3);
}

static void
test_parse_short_and_garbage(void **unused)
{
	static const char *const bad[] = {
		"", "garbage\n", "12 kworker S 2\n", "12 (x S 2\n",
		"12 (x) 5 2\n", "12 (x) S\n", "12 (x) S -\n", "-12 (x) S 2\n",
		"12 (x) SS 2\n", "12 (x)S 2\n",
		("12 (aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"a) S 2\n"),
		"99999999999999999999999 (x) S 1\n",
	};
	const char *shortline = "800 (short) S 1 800 800 0\n";
	struct processes_stat st;

	(void)unused;
	/* An old or trimmed kernel: no num_threads field, still counted. */
	assert_int_equal(processes_parse_stat(shortline, strlen(shortline),
	    &st), 0);
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.threads, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (processes_parse_stat(bad[i], strlen(bad[i]), &st) !=
		    -EINVAL)
			fail_msg("accepted bad line %zu: '%s'", i, bad[i]);
	/* Truncated mid-comm: no closing parenthesis at all. */
	assert_int_equal(processes_parse_stat(shortline, 8, &st), -EINVAL);
}

static void
test_parse_limit(void **unused)
{
	unsigned long v;

	(void)unused;
	assert_int_equal(processes_parse_limit("4194304\n", 8, &v), 0);
	assert_int_equal(v, 4194304);
	assert_int_equal(processes_parse_limit("32768", 5, &v), 0);
	assert_int_equal(v, 32768);
	assert_int_equal(processes_parse_limit("0\n", 2, &v), -EINVAL);
	assert_int_equal(processes_parse_limit("12 13\n", 6, &v), -EINVAL);
	assert_int_equal(processes_parse_limit("max\n", 4, &v), -EINVAL);
	assert_int_equal(processes_parse_limit("", 0, &v), -EINVAL);
}

/* This machine's real /proc (a container: kernel threads, shells). */
static void
test_run_real_host(void **unused)
{
	struct result res = { 0 };

	(void)unused;
	assert_int_equal(run(FIX "debian12", &res, NULL), 0);
	assert_int_equal(res.state, STATE_OK);
	assert_string_equal(res.summary, "73 processes, 89 threads (0.3% of "
	    "limit 32768); 0 running, 0 zombies, 0 in D state");
	assert_perf(&res, "processes", 73, "", "");
	assert_perf(&res, "sleeping", 73, "", "");
	assert_perf(&res, "threads", 89, "", "");
	assert_perf(&res, "zombies", 0, "50", "");
	assert_perf(&res, "tasks_used", 89 * 100.0 / 32768, "80", "90");
	assert_null(res.long_text);
	result_reset(&res);
}

/* Hand-made tree: zombies (one with a hostile comm), D state, a stopped
 * process, a short line, a garbage line, a vanished process. */
static void
test_run_busy(void **unused)
{
	struct result res = { 0 };

	(void)unused;
	assert_int_equal(run(FIX "busy", &res, NULL), 0);
	assert_int_equal(res.state, STATE_OK);
	assert_string_equal(res.summary, "11 processes, 260 threads (65.0% of "
	    "limit 400); 1 running, 2 zombies, 2 in D state");
	assert_perf(&res, "running", 1, "", "");
	assert_perf(&res, "sleeping", 5, "", "");
	assert_perf(&res, "uninterruptible", 2, "", "");
	assert_perf(&res, "zombies", 2, "50", "");
	assert_perf(&res, "stopped", 1, "", "");
	assert_perf(&res, "tasks_used", 65, "80", "90");
	/* The comm is escaped, the parent named. */
	assert_contains(res.long_text,
	    "zombie: pid 4242 (evil) R 1 2 (x), parent 1");
	assert_contains(res.long_text, "uninterruptible: pid 500 (nfsd), "
	    "parent 2");
	assert_contains(res.long_text, "1 processes unreadable");
	result_reset(&res);

	assert_int_equal(run(FIX "busy", &res, "zombies_warning", "1",
	    "uninterruptible_critical", "1", "tasks_used_warning", "60", NULL),
	    0);
	assert_int_equal(res.state, STATE_CRITICAL);
	assert_string_equal(res.summary,
	    "2 processes in D state (CRITICAL > 1); 2 zombie processes "
	    "(WARNING > 1); 65.0% of the task limit used (WARNING > 60%); "
	    "11 processes, 260 threads (65.0% of limit 400); "
	    "1 running, 2 zombies, 2 in D state");
	assert_perf(&res, "uninterruptible", 2, "", "1");
	result_reset(&res);
}

static void
test_run_bounded_walk(void **unused)
{
	struct result res = { 0 };

	(void)unused;
	assert_int_equal(run(FIX "busy", &res, "max_processes", "3",
	    "processes_warning", "2", NULL), 0);
	assert_int_equal(res.state, STATE_WARNING);
	assert_contains(res.summary, "at least 3 processes (WARNING > 2); "
	    "at least 3 processes, ");
	assert_contains(res.long_text, "walk stopped after 3 processes");
	assert_perf(&res, "processes", 3, "2", "");
	result_reset(&res);
}

static void
test_run_missing(void **unused)
{
	struct result res = { 0 };

	(void)unused;
	assert_int_equal(run(FIX "nonexistent", &res, NULL), -ENOENT);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_string_equal(res.summary, "cannot read " FIX "nonexistent: "
	    "No such file or directory");
	result_reset(&res);

	/* A /proc without the limit files: counts, no tasks_used. */
	assert_int_equal(run(FIX "no-limits", &res, NULL), 0);
	assert_int_equal(res.state, STATE_OK);
	assert_string_equal(res.summary, "1 processes, 1 threads; 0 running, "
	    "0 zombies, 0 in D state");
	assert_contains(res.long_text, "task limit unknown: ");
	for (size_t i = 0; i < res.nperf; i++)
		if (strcmp(res.perf[i].label, "tasks_used") == 0)
			fail_msg("tasks_used without a limit");
	result_reset(&res);
}

static void
test_configure(void **unused)
{
	char err[COLLECTOR_ERR_MAX];
	void *inst = collector_processes.new();

	(void)unused;
	assert_int_equal(collector_processes.configure(inst, "zombies_warning",
	    "9x", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "zombies_warning: '9x' is not a range");
	assert_int_equal(collector_processes.configure(inst, "zombies_warn",
	    "5", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown key 'zombies_warn' (known: "
	    "max_processes, processes_warning/_critical, "
	    "running_warning/_critical, uninterruptible_warning/_critical, "
	    "zombies_warning/_critical, tasks_used_warning/_critical)");
	assert_int_equal(collector_processes.configure(inst, "sleeping_warning",
	    "5", err, sizeof(err)), -EINVAL);
	assert_int_equal(collector_processes.configure(inst, "max_processes",
	    "0", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "max_processes: '0' is not a number from 1 "
	    "to 4194304");
	assert_int_equal(collector_processes.configure(inst, "max_processes",
	    "-5", err, sizeof(err)), -EINVAL);
	assert_int_equal(collector_processes.configure(inst, "max_processes",
	    "1000", err, sizeof(err)), 0);
	assert_int_equal(collector_processes.configure(inst,
	    "tasks_used_critical", "@0:95", err, sizeof(err)), 0);
	collector_processes.free(inst);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_real_line),
		cmocka_unit_test(test_parse_hostile_comm),
		cmocka_unit_test(test_parse_short_and_garbage),
		cmocka_unit_test(test_parse_limit),
		cmocka_unit_test(test_run_real_host),
		cmocka_unit_test(test_run_busy),
		cmocka_unit_test(test_run_bounded_walk),
		cmocka_unit_test(test_run_missing),
		cmocka_unit_test(test_configure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
