/*
 * oom collector: the kernel's and systemd-oomd's kill messages (and
 * lines that only look like them), the keys, and whole runs against real
 * .journal files made by systemd-journal-remote from
 * tests/fixtures/journal/oom.export, shifted to end just before "now" (a
 * fixed clock through time_now_hook): a kill warns, stays WARNING for
 * `hold` across runs and a restart, and clears after it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "collector.h"
#include "journal.h"
#include "oom.h"
#include "testutil.h"
#include "timeutil.h"

extern const struct collector collector_oom;

#define FIXTURE		"tests/fixtures/journal/oom.export"
#define FIXTURE_LAST	UINT64_C(1793526120000000)	/* its last entry */
#define BOOT_ID		"7f3c2a9e8b1d4c6fa0e5d2b9c8a71f03"

static uint64_t fake_realtime;

static uint64_t
fake_now(clockid_t clock)
{
	struct timespec ts;

	if (clock == CLOCK_REALTIME)
		return fake_realtime;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* A message and its length. */
#define MSG(text)	(text), strlen(text)

static void
test_parse_kernel(void **unused)
{
	static const char *const not_kills[] = {
		"java invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_"
		    "MOVABLE|__GFP_COMP), order=0, oom_score_adj=0",
		"oom_reaper: reaped process 4242 (java), now anon-rss:0kB",
		"Memory cgroup out of memory: Kill process 777 (php-fpm) score "
		    "999 or sacrifice child",
		"bash: Killed process 12 (x) because I said so",
		"Out of memory: Killed process 0 (x) total-vm:1kB",
		"Out of memory: Killed process -5 (x) total-vm:1kB",
		"Out of memory: Killed process 99999999999 (x) total-vm:1kB",
		"Out of memory: Killed process 12 x) total-vm:1kB",
		"Out of memory: Killed process 12 (no closing parenthesis here",
		"Out of memory: Killed process 12",
		"oom-kill:constraint=CONSTRAINT_NONE,task=java",
		"oom-kill:constraint=CONSTRAINT_NONE,pid=12,uid=0",
		"oom-kill:constraint=CONSTRAINT_NONE,task=a-name-much-longer-"
		    "than-a-comm,pid=12,uid=0",
		"",
	};
	struct oom_kill k;
	char big[4096];

	(void)unused;
	assert_int_equal(oom_parse_kernel(MSG("Out of memory: Killed process "
	    "4242 (java) total-vm:8123456kB, anon-rss:3456789kB"), &k),
	    OOM_LINE_KILLED);
	assert_int_equal(k.pid, 4242);
	assert_string_equal(k.name, "java");
	assert_false(k.summary);
	assert_int_equal(oom_parse_kernel(MSG("Memory cgroup out of memory: "
	    "Killed process 77 (php-fpm) total-vm:1kB"), &k), OOM_LINE_KILLED);
	assert_int_equal(k.pid, 77);
	assert_string_equal(k.name, "php-fpm");
	/* Before 4.19: a bare second line. */
	assert_int_equal(oom_parse_kernel(MSG("Killed process 777 (php-fpm) "
	    "total-vm:512000kB"), &k), OOM_LINE_KILLED);
	assert_int_equal(k.pid, 777);
	/* A comm holding ") (" and a control byte: escaped, whole. */
	assert_int_equal(oom_parse_kernel(MSG("Out of memory: Killed process 5 "
	    "(a) (b\x1b) total-vm:1kB"), &k), OOM_LINE_KILLED);
	assert_string_equal(k.name, "a) (b\\x1b");
	/* The summary line, with its cgroup. */
	assert_int_equal(oom_parse_kernel(MSG("oom-kill:constraint=CONSTRAINT_"
	    "NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg"
	    "=/system.slice/app.service,task=ja,pid=va,pid=4242,uid=1001"), &k),
	    OOM_LINE_SUMMARY);
	assert_int_equal(k.pid, 4242);
	assert_string_equal(k.name, "ja,pid=va");
	assert_string_equal(k.cgroup, "/system.slice/app.service");
	assert_true(k.summary);
	for (size_t i = 0; i < sizeof(not_kills) / sizeof(not_kills[0]); i++)
		if (oom_parse_kernel(not_kills[i], strlen(not_kills[i]), &k) !=
		    OOM_LINE_NONE)
			fail_msg("took '%s' for a kill", not_kills[i]);
	/* The length is what counts, not a NUL: a cut message is no kill;
	 * a NUL inside ends it. */
	assert_int_equal(oom_parse_kernel("Out of memory: Killed process 4242 "
	    "(java)", 36, &k), OOM_LINE_NONE);
	assert_int_equal(oom_parse_kernel("Out of memory: Killed process 4\0"
	    "(java) x", 40, &k), OOM_LINE_NONE);
	/* Huge: only the first KiB is looked at. */
	memset(big, 'x', sizeof(big));
	memcpy(big + 2000, "Out of memory: Killed process 1 (a) ", 36);
	assert_int_equal(oom_parse_kernel(big, sizeof(big), &k), OOM_LINE_NONE);
	memcpy(big, "Out of memory: Killed process 1 (a) ", 36);
	assert_int_equal(oom_parse_kernel(big, sizeof(big), &k),
	    OOM_LINE_KILLED);
}

static void
test_parse_oomd(void **unused)
{
	struct oom_kill k;
	const char *m = "Killed /system.slice/batch.service due to memory "
	    "pressure for /system.slice being 81.23% > 50.00% for > 20s with "
	    "reclaim activity";

	(void)unused;
	assert_true(oom_parse_oomd(m, strlen(m), &k));
	assert_string_equal(k.cgroup, "/system.slice/batch.service");
	assert_true(k.oomd);
	assert_false(oom_parse_oomd("Killed due to", 13, &k));
	assert_false(oom_parse_oomd("Killed /a.slice", 15, &k));
	assert_false(oom_parse_oomd("Considered 3 cgroups for killing, top "
	    "candidates were:", 54, &k));
}

static void
test_configure(void **unused)
{
	char err[COLLECTOR_ERR_MAX];
	void *inst = collector_oom.new();

	(void)unused;
	assert_int_equal(collector_oom.configure(inst, "hold", "2x", err,
	    sizeof(err)), -EINVAL);
	assert_string_equal(err, "hold: '2x' is not a duration from 0 to 30d");
	assert_int_equal(collector_oom.configure(inst, "hold", "31d", err,
	    sizeof(err)), -EINVAL);
	assert_int_equal(collector_oom.configure(inst, "hold", "0", err,
	    sizeof(err)), 0);
	assert_int_equal(collector_oom.configure(inst, "hold", "90m", err,
	    sizeof(err)), 0);
	assert_int_equal(collector_oom.configure(inst, "max_entries", "0", err,
	    sizeof(err)), -EINVAL);
	assert_int_equal(collector_oom.configure(inst, "kills", "1", err,
	    sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown key 'kills' (known: hold, "
	    "max_entries, directory, kills_warning/_critical)");
	assert_int_equal(collector_oom.configure(inst, "kills_critical", "2",
	    err, sizeof(err)), 0);
	collector_oom.free(inst);
}

/* ---- real journal files ---- */

static const char *journal_remote;

struct dirs {
	char	journal[32];
	char	state[32];
};

/* Writes dir/name.journal from export text, every __REALTIME_TIMESTAMP
 * moved by shift microseconds. */
static void
write_journal(const char *dir, const char *name, const char *text,
    int64_t shift)
{
	const char *key = "__REALTIME_TIMESTAMP=";
	char cmd[512], *copy, *line, *save = NULL;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s --split-mode=none -o %s/%s.journal - "
	    "2>/dev/null", journal_remote, dir, name);
	if ((f = popen(cmd, "w")) == NULL)
		fail_msg("cannot run %s", cmd);
	copy = strdup(text);
	/* strtok_r drops empty lines: put the entry breaks back. */
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, key, strlen(key)) == 0)
			fprintf(f, "\n%s%llu\n", key, (unsigned long long)
			    (strtoull(line + strlen(key), NULL, 10) + shift));
		else
			fprintf(f, "%s\n", line);
	}
	fprintf(f, "\n");
	free(copy);
	if (pclose(f) != 0)
		fail_msg("%s failed", cmd);
}

/* One kernel kill line at usec. */
static void
write_kill(const char *dir, const char *name, uint64_t usec, int pid,
    const char *comm)
{
	char text[512];

	snprintf(text, sizeof(text), "__REALTIME_TIMESTAMP=%llu\n"
	    "__MONOTONIC_TIMESTAMP=%llu\n_BOOT_ID=" BOOT_ID "\n"
	    "_TRANSPORT=kernel\nPRIORITY=3\nSYSLOG_IDENTIFIER=kernel\n"
	    "_HOSTNAME=web1\nMESSAGE=Out of memory: Killed process %d (%s) "
	    "total-vm:1000kB, anon-rss:900kB\n", (unsigned long long)usec,
	    (unsigned long long)(usec - UINT64_C(1790000000000000)), pid, comm);
	write_journal(dir, name, text, 0);
}

static int
setup_journal(void **state)
{
	struct dirs *d;

	journal_remote = "/lib/systemd/systemd-journal-remote";
	if (access(journal_remote, X_OK) != 0)
		journal_remote = "/usr/lib/systemd/systemd-journal-remote";
	if (access(journal_remote, X_OK) != 0) {
		print_message("systemd-journal-remote missing (Debian package "
		    "systemd-journal-remote): skipping the journal file "
		    "tests\n");
		*state = NULL;
		return 0;
	}
	d = calloc(1, sizeof(*d));
	snprintf(d->journal, sizeof(d->journal), "/tmp/test_oom.XXXXXX");
	snprintf(d->state, sizeof(d->state), "/tmp/test_oomst.XXXXXX");
	if (mkdtemp(d->journal) == NULL || mkdtemp(d->state) == NULL)
		return -1;
	*state = d;
	return 0;
}

static int
teardown_journal(void **state)
{
	struct dirs *d = *state;

	time_now_hook = NULL;
	if (d == NULL)
		return 0;
	testutil_rm_tree(d->journal);
	testutil_rm_tree(d->state);
	free(d);
	return 0;
}

static void *
new_oom(const struct dirs *d, const char *key, ...)
{
	struct collector_env env = {
		.proc = "/proc", .sys = "/sys", .state_dir = d->state,
	};
	char err[COLLECTOR_ERR_MAX];
	const char *value;
	void *inst = collector_oom.new();
	va_list ap;

	assert_int_equal(collector_oom.configure(inst, "directory",
	    d->journal, err, sizeof(err)), 0);
	va_start(ap, key);
	for (; key != NULL; key = va_arg(ap, const char *)) {
		value = va_arg(ap, const char *);
		if (collector_oom.configure(inst, key, value, err,
		    sizeof(err)) != 0)
			fail_msg("configure %s=%s: %s", key, value, err);
	}
	va_end(ap);
	assert_int_equal(collector_oom.start(inst, &env), 0);
	return inst;
}

static void
run(void *inst, struct result *res)
{
	result_reset(res);
	assert_int_equal(collect_run_sync(&collector_oom, inst, NULL, res), 0);
}

static void
expect(const struct result *res, enum check_state s, const char *summary,
    double kills)
{
	if (res->state != s || strcmp(res->summary, summary) != 0)
		fail_msg("got %d '%s', want %d '%s'", res->state, res->summary,
		    s, summary);
	if (testutil_find_perf(res, "kills")->value != kills)
		fail_msg("kills = %g, want %g", testutil_find_perf(res,
		    "kills")->value, kills);
}

/* The fixture's three kills (the kernel's two lines for one kill count
 * once; a user logging as systemd-oomd or like the kernel does not count)
 * warn, stay WARNING while held, across a restart, and clear after. */
static void
test_fixture_runs(void **state)
{
	struct dirs *d = *state;
	struct result res = { 0 };
	uint64_t start;
	size_t len;
	char *text;
	void *inst;

	if (d == NULL)
		skip();
	fake_realtime = start = (uint64_t)time(NULL) * 1000000;
	time_now_hook = fake_now;
	text = testutil_slurp(FIXTURE, &len);
	/* The fixture's last entry a minute ago. */
	write_journal(d->journal, "fixture", text,
	    (int64_t)(start - 60000000 - FIXTURE_LAST));
	free(text);

	inst = new_oom(d, NULL);
	run(inst, &res);
	expect(&res, STATE_WARNING, "3 OOM kills in the last 1 h (WARNING > "
	    "0): php-fpm (pid 777), /system.slice/batch.service, java (pid "
	    "4242); last 90 s ago", 3);
	assert_string_equal(res.long_text, "90 s ago: the kernel killed "
	    "php-fpm (pid 777)\n"
	    "2 min ago: systemd-oomd killed /system.slice/batch.service\n"
	    "3 min ago: the kernel killed java (pid 4242) in "
	    "/system.slice/app.service");
	assert_string_equal(testutil_find_perf(&res, "kills")->warn, "0");

	/* Nothing new: still held. */
	fake_realtime += 60000000;
	run(inst, &res);
	expect(&res, STATE_WARNING, "3 OOM kills in the last 1 h (WARNING > "
	    "0): php-fpm (pid 777), /system.slice/batch.service, java (pid "
	    "4242); last 2 min ago", 3);

	/* A new kill, read from the saved position. */
	write_kill(d->journal, "later", fake_realtime - 1000000, 9001,
	    "postgres");
	fake_realtime += 60000000;
	run(inst, &res);
	expect(&res, STATE_WARNING, "4 OOM kills in the last 1 h (WARNING > "
	    "0): postgres (pid 9001), php-fpm (pid 777), "
	    "/system.slice/batch.service, java (pid 4242); last 61 s ago", 4);
	collector_oom.free(inst);

	/* A restart keeps what is still within hold. */
	inst = new_oom(d, "kills_critical", "3", NULL);
	run(inst, &res);
	assert_int_equal(res.state, STATE_CRITICAL);
	assert_contains(res.summary, "4 OOM kills in the last 1 h (CRITICAL "
	    "> 3): ");

	/* An hour after the first kills, only postgres is left. */
	fake_realtime = start + 3600000000 - 30000000;
	run(inst, &res);
	expect(&res, STATE_WARNING, "1 OOM kill in the last 1 h (WARNING > 0): "
	    "postgres (pid 9001); last 59 min ago", 1);
	/* And then none: OK again by itself. */
	fake_realtime = start + 2 * 3600000000ULL;
	run(inst, &res);
	expect(&res, STATE_OK, "no OOM kills in the last 1 h", 0);
	assert_null(res.long_text);
	result_reset(&res);
	collector_oom.free(inst);
	time_now_hook = NULL;
}

/* hold = 0: a kill counts in the run that reads it only; the position
 * survives a restart (from the saved cursor, nothing is read twice). */
static void
test_hold_zero_and_cursor(void **state)
{
	struct dirs *d = *state;
	struct result res = { 0 };
	struct journal_position pos;
	char path[96], buf[1024];
	size_t len;
	void *inst;
	FILE *f;

	if (d == NULL)
		skip();
	fake_realtime = (uint64_t)time(NULL) * 1000000;
	time_now_hook = fake_now;
	write_kill(d->journal, "old", fake_realtime - 600000000, 10, "old");

	/* First run ever with hold = 0: history is not news. */
	inst = new_oom(d, "hold", "0", NULL);
	run(inst, &res);
	expect(&res, STATE_OK, "no OOM kills since the last run", 0);
	write_kill(d->journal, "new", fake_realtime + 1000000, 11, "new");
	fake_realtime += 60000000;
	run(inst, &res);
	expect(&res, STATE_WARNING, "1 OOM kill since the last run (WARNING "
	    "> 0): new (pid 11); last 59 s ago", 1);
	run(inst, &res);
	expect(&res, STATE_OK, "no OOM kills since the last run", 0);
	collector_oom.free(inst);

	snprintf(path, sizeof(path), "%s/oom.cursor", d->state);
	assert_non_null(f = fopen(path, "r"));
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_int_equal(journal_parse_position(buf, len, &pos), 0);
	assert_contains(pos.cursor, "b=" BOOT_ID);

	/* A restart resumes from the cursor: the kill is not read again. */
	inst = new_oom(d, "hold", "0", NULL);
	run(inst, &res);
	expect(&res, STATE_OK, "no OOM kills since the last run", 0);
	result_reset(&res);
	collector_oom.free(inst);
	time_now_hook = NULL;
}

/* More kernel lines than max_entries: the run says so and goes on from
 * the end; more kills than are kept: "at least". */
static void
test_bounds(void **state)
{
	struct dirs *d = *state;
	struct result res = { 0 };
	char name[16], comm[16];
	void *inst;

	if (d == NULL)
		skip();
	fake_realtime = (uint64_t)time(NULL) * 1000000;
	time_now_hook = fake_now;
	for (int i = 0; i < OOM_KEPT + 3; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		snprintf(comm, sizeof(comm), "p%d", i);
		write_kill(d->journal, name, fake_realtime - 100000000 +
		    (uint64_t)i * 1000000, 100 + i, comm);
	}
	inst = new_oom(d, NULL);
	run(inst, &res);
	assert_int_equal(res.state, STATE_WARNING);
	assert_contains(res.summary, "at least 32 OOM kills in the last 1 h "
	    "(WARNING > 0): p34 (pid 134), p33 (pid 133), p32 (pid 132), "
	    "p31 (pid 131), p30 (pid 130) and 27 more; last ");
	collector_oom.free(inst);

	inst = new_oom(d, "max_entries", "5", NULL);
	run(inst, &res);
	assert_int_equal(res.state, STATE_WARNING);
	assert_contains(res.long_text, "stopped after 5 kernel entries "
	    "(max_entries); skipped to the end of the journal");
	result_reset(&res);
	collector_oom.free(inst);
	time_now_hook = NULL;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_kernel),
		cmocka_unit_test(test_parse_oomd),
		cmocka_unit_test(test_configure),
		cmocka_unit_test_setup_teardown(test_fixture_runs,
		    setup_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(test_hold_zero_and_cursor,
		    setup_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(test_bounds, setup_journal,
		    teardown_journal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
