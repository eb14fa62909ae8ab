/*
 * Unit tests for the journal collector: the saved position parser, the
 * recent-messages list, and full runs against real .journal files made by
 * systemd-journal-remote from export-format text.
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
#include "testutil.h"

extern const struct collector collector_journal;

#define HISTORY		"tests/fixtures/journal/history.export"
#define BOOT_ID		"7f3c2a9e8b1d4c6fa0e5d2b9c8a71f03"

static void
assert_perf_near(const struct result *res, const char *label, double value,
    double slack)
{
	const struct perf *p = testutil_find_perf(res, label);

	if (p->value < value - slack || p->value > value + slack)
		fail_msg("perf %s = %g, expected %g (summary: %s)", label,
		    p->value, value, res->summary);
}

static void
test_parse_position(void **unused)
{
	struct journal_position pos;
	const char *full = "cursor=s=eed75a2745e340d0a755b9bb1bd18617;i=1;"
	    "b=42e98d67df1541dbb3a56d3b560d6b96;m=3e8;t=660e92352e9b2;"
	    "x=8dd3971e00bf4842\nsince=1795404296546738\n";
	const char *bad[] = {
		"", "cursor=abc\n", "since=12x\n", "since=\n",
		"cursor=a b\nsince=1\n", "cursor=\nsince=1\n",
		"since=99999999999999999999999\n", "hello=1\nsince=1\n",
	};

	(void)unused;
	assert_int_equal(journal_parse_position(full, strlen(full), &pos), 0);
	assert_string_equal(pos.cursor, "s=eed75a2745e340d0a755b9bb1bd18617;"
	    "i=1;b=42e98d67df1541dbb3a56d3b560d6b96;m=3e8;t=660e92352e9b2;"
	    "x=8dd3971e00bf4842");
	assert_true(pos.since_usec == UINT64_C(1795404296546738));
	assert_int_equal(journal_parse_position("since=5", 7, &pos), 0);
	assert_string_equal(pos.cursor, "");
	assert_true(pos.since_usec == 5);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (journal_parse_position(bad[i], strlen(bad[i]), &pos) !=
		    -EINVAL)
			fail_msg("accepted bad position %zu: '%s'", i, bad[i]);
	/* Truncated in the cursor line: no since. */
	assert_int_equal(journal_parse_position(full, 40, &pos), -EINVAL);
}

static void
test_recent(void **unused)
{
	const struct journal_recent_entry *e[JOURNAL_RECENT];
	struct journal_recent r = { 0 };
	char big[600];
	size_t n;

	(void)unused;
	journal_recent_add(&r, "sshd", 4, "error: kex", 10, 3);
	journal_recent_add(&r, "kernel", 6, "EXT4-fs error", 13, 2);
	journal_recent_add(&r, "sshd", 4, "error: kex", 10, 3);
	n = journal_recent_sorted(&r, e);
	assert_int_equal(n, 2);
	assert_string_equal(e[0]->ident, "sshd");
	assert_int_equal(e[0]->count, 2);
	assert_string_equal(e[1]->message, "EXT4-fs error");
	assert_int_equal(e[1]->priority, 2);

	/* Bounded to JOURNAL_RECENT distinct messages: the oldest goes. */
	for (int i = 0; i < 6; i++) {
		char msg[16];

		snprintf(msg, sizeof(msg), "msg %d", i);
		journal_recent_add(&r, "app", 3, msg, strlen(msg), 3);
	}
	n = journal_recent_sorted(&r, e);
	assert_int_equal(n, JOURNAL_RECENT);
	assert_string_equal(e[0]->message, "msg 5");
	assert_string_equal(e[4]->message, "msg 1");

	/* Escaped and bounded: control bytes, NUL, long text. */
	memset(&r, 0, sizeof(r));
	journal_recent_add(&r, "x\ny", 3, "a\x1b[2J\0hidden", 12, 0);
	n = journal_recent_sorted(&r, e);
	assert_string_equal(e[0]->ident, "x\\x0ay");
	assert_string_equal(e[0]->message, "a\\x1b[2J");
	memset(big, 'm', sizeof(big));
	journal_recent_add(&r, "big", 3, big, sizeof(big), 3);
	n = journal_recent_sorted(&r, e);
	assert_int_equal(strlen(e[0]->message), JOURNAL_MESSAGE_MAX - 1);
}

static void
test_configure(void **unused)
{
	char err[COLLECTOR_ERR_MAX];
	void *inst = collector_journal.new();

	(void)unused;
	assert_int_equal(collector_journal.configure(inst, "rate_warning",
	    "9x", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "rate_warning: '9x' is not a range");
	assert_int_equal(collector_journal.configure(inst, "rate", "9", err,
	    sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown key 'rate' (known: "
	    "max_entries, directory, rate_warning/_critical)");
	assert_int_equal(collector_journal.configure(inst, "max_entries", "0",
	    err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "max_entries: '0' is not a number from 1 to "
	    "1000000");
	assert_int_equal(collector_journal.configure(inst, "max_entries", "50",
	    err, sizeof(err)), 0);
	assert_int_equal(collector_journal.configure(inst, "rate_critical",
	    "600", err, sizeof(err)), 0);
	collector_journal.free(inst);
}

static void *
new_journal(const char *state_dir, const char *key, ...)
{
	struct collector_env env = {
		.proc = "/proc", .sys = "/sys", .state_dir = state_dir,
	};
	char err[COLLECTOR_ERR_MAX];
	const char *value;
	void *inst = collector_journal.new();
	va_list ap;

	va_start(ap, key);
	for (; key != NULL; key = va_arg(ap, const char *)) {
		value = va_arg(ap, const char *);
		if (collector_journal.configure(inst, key, value, err,
		    sizeof(err)) != 0)
			fail_msg("configure %s=%s: %s", key, value, err);
	}
	va_end(ap);
	assert_int_equal(collector_journal.start(inst, &env), 0);
	return inst;
}

static void
run(void *inst, struct result *res)
{
	assert_int_equal(collect_run_sync(&collector_journal, inst, NULL, res),
	    0);
}

static void
remove_tree(const char *dir)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		print_error("could not remove %s\n", dir);
}

/* No journal: a missing directory, an empty one, and (in a container
 * without journald) the system journal. UNKNOWN with the reason. */
static void
test_no_journal(void **unused)
{
	char dir[] = "/tmp/test_journal.XXXXXX";
	struct result res = { 0 };
	void *inst;

	(void)unused;
	inst = new_journal(NULL, "directory", "/nonexistent/journal", NULL);
	run(inst, &res);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_string_equal(res.summary, "no journal: No such file or "
	    "directory");
	result_reset(&res);
	collector_journal.free(inst);

	assert_non_null(mkdtemp(dir));
	inst = new_journal(NULL, "directory", dir, NULL);
	for (int i = 0; i < 2; i++) {
		run(inst, &res);
		assert_int_equal(res.state, STATE_UNKNOWN);
		assert_contains(res.summary, "no journal: no journal files "
		    "found or readable");
		result_reset(&res);
	}
	collector_journal.free(inst);
	remove_tree(dir);

	/* The system journal: whatever this host has, an UNKNOWN must be
	 * "no journal" with a reason, nothing else. */
	inst = new_journal(NULL, NULL);
	run(inst, &res);
	if (res.state == STATE_UNKNOWN)
		assert_contains(res.summary, "no journal: ");
	else
		print_message("system journal here: %s\n", res.summary);
	result_reset(&res);
	collector_journal.free(inst);
}

/* ---- real journal files ---- */

/* Debian ships it in /lib/systemd, RHEL in /usr/lib/systemd. */
static const char *journal_remote;

struct entry {
	int		 priority;
	const char	*ident;
	const char	*message;
};

/* Writes dir/name.journal holding entries, one second apart ending at
 * end_usec, in the boot of the history fixture. */
static void
write_journal(const char *dir, const char *name, const struct entry *e,
    size_t n, uint64_t end_usec)
{
	char cmd[512];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s --split-mode=none -o %s/%s.journal - "
	    "2>/dev/null", journal_remote, dir, name);
	if ((f = popen(cmd, "w")) == NULL)
		fail_msg("cannot run %s", cmd);
	for (size_t i = 0; i < n; i++) {
		uint64_t t = end_usec - (n - 1 - i) * 1000000;

		/* Monotonic time grows with wall time: same boot, later. */
		fprintf(f, "__REALTIME_TIMESTAMP=%llu\n"
		    "__MONOTONIC_TIMESTAMP=%llu\n_BOOT_ID=" BOOT_ID "\n"
		    "_TRANSPORT=syslog\nPRIORITY=%d\nSYSLOG_IDENTIFIER=%s\n"
		    "_HOSTNAME=web1\nMESSAGE=%s\n\n", (unsigned long long)t,
		    (unsigned long long)(t - UINT64_C(1790000000000000)),
		    e[i].priority, e[i].ident, e[i].message);
	}
	if (pclose(f) != 0)
		fail_msg("%s failed", cmd);
}

static uint64_t
now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

struct journal_dirs {
	char	journal[32];
	char	state[32];
};

static int
setup_journal(void **state)
{
	struct journal_dirs *d;
	char cmd[512];

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
	snprintf(d->journal, sizeof(d->journal), "/tmp/test_journal.XXXXXX");
	snprintf(d->state, sizeof(d->state), "/tmp/test_jstate.XXXXXX");
	if (mkdtemp(d->journal) == NULL || mkdtemp(d->state) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "%s --split-mode=none -o %s/history.journal"
	    " - < %s 2>/dev/null", journal_remote, d->journal, HISTORY);
	if (system(cmd) != 0) {
		print_error("%s failed\n", cmd);
		return -1;
	}
	*state = d;
	return 0;
}

static int
teardown_journal(void **state)
{
	struct journal_dirs *d = *state;

	if (d == NULL)
		return 0;
	remove_tree(d->journal);
	remove_tree(d->state);
	free(d);
	return 0;
}

static void
read_state(const struct journal_dirs *d, struct journal_position *pos)
{
	char path[64], buf[1024];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/journal.cursor", d->state);
	if ((f = fopen(path, "r")) == NULL)
		fail_msg("no state file %s", path);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (journal_parse_position(buf, n, pos) != 0)
		fail_msg("bad state file: %.*s", (int)n, buf);
}

static void
write_state(const struct journal_dirs *d, const struct journal_position *pos)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/journal.cursor", d->state);
	if ((f = fopen(path, "w")) == NULL)
		fail_msg("cannot write %s", path);
	if (pos->cursor[0] != '\0')
		fprintf(f, "cursor=%s\n", pos->cursor);
	fprintf(f, "since=%llu\n", (unsigned long long)pos->since_usec);
	fclose(f);
}

static void
write_file_text(const struct journal_dirs *d, const char *text)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/journal.cursor", d->state);
	if ((f = fopen(path, "w")) == NULL)
		fail_msg("cannot write %s", path);
	fputs(text, f);
	fclose(f);
}

static const struct entry burst[] = {
	{ 3, "backup", "cannot write /srv/backup: No space left on device" },
	{ 6, "cron", "(root) CMD (run-parts /etc/cron.hourly)" },
	{ 0, "kernel", "Kernel panic - not syncing: Fatal exception" },
	{ 3, "backup", "cannot write /srv/backup: No space left on device" },
	{ 4, "nginx", "upstream response is buffered to a temporary file" },
};

static const struct entry later[] = {
	{ 2, "smartd", "Device: /dev/sda, 8 Currently unreadable sectors" },
	{ 5, "sudo", "admin : TTY=pts/0 ; COMMAND=/bin/true" },
	{ 3, "sshd", "error: kex_exchange_identification: banner line "
	    "contains invalid characters" },
};

/* History is not counted; new errors are, once; a restart resumes from
 * the saved cursor; the rate uses the time since the saved run. */
static void
test_count_and_resume(void **state)
{
	struct journal_dirs *d = *state;
	struct journal_position pos;
	struct result res = { 0 };
	uint64_t now = now_usec();
	void *inst;

	if (d == NULL)
		skip();
	inst = new_journal(d->state, "directory", d->journal,
	    "rate_warning", "1", NULL);
	run(inst, &res);
	assert_int_equal(res.state, STATE_OK);
	assert_string_equal(res.summary, "counting errors logged from now on");
	assert_perf_near(&res, "errors", 0, 0);
	result_reset(&res);
	read_state(d, &pos);
	/* The last history error (the kernel one) is where counting starts. */
	assert_contains(pos.cursor, "b=" BOOT_ID);

	write_journal(d->journal, "burst", burst, 5, now);
	run(inst, &res);
	assert_int_equal(res.state, STATE_WARNING);
	assert_contains(res.summary, "3 errors logged in the last ");
	assert_contains(res.summary, "/min, WARNING > 1/min); last: backup: "
	    "cannot write /srv/backup: No space left on device");
	assert_contains(res.long_text, "backup (err, 2x): cannot write "
	    "/srv/backup: No space left on device\nkernel (emerg): Kernel "
	    "panic - not syncing: Fatal exception");
	assert_perf_near(&res, "errors", 3, 0);
	assert_string_equal(testutil_find_perf(&res, "rate")->warn, "1");
	result_reset(&res);

	/* Nothing new: nothing counted twice. */
	run(inst, &res);
	assert_int_equal(res.state, STATE_OK);
	assert_contains(res.summary, "no errors logged in the last ");
	assert_perf_near(&res, "errors", 0, 0);
	result_reset(&res);
	collector_journal.free(inst);

	/* Agent restart two minutes after the saved run: resumes at the
	 * cursor, and the rate is over those two minutes. */
	write_journal(d->journal, "later", later, 3, now + 5000000);
	read_state(d, &pos);
	pos.since_usec = now_usec() - 120 * UINT64_C(1000000);
	write_state(d, &pos);
	inst = new_journal(d->state, "directory", d->journal, NULL);
	run(inst, &res);
	assert_int_equal(res.state, STATE_OK);
	assert_contains(res.summary, "2 errors logged in the last 2 min "
	    "(1.0/min); last: sshd: error: kex_exchange_identification");
	assert_perf_near(&res, "errors", 2, 0);
	assert_perf_near(&res, "rate", 1.0, 0.02);
	assert_contains(res.long_text, "smartd (crit): Device: /dev/sda, 8 "
	    "Currently unreadable sectors");
	result_reset(&res);
	collector_journal.free(inst);
}

/* More errors than max_entries: "at least", then skip to the end. */
static void
test_bounded(void **state)
{
	struct journal_dirs *d = *state;
	struct journal_position pos = { .cursor = "" };
	struct result res = { 0 };
	uint64_t now = now_usec();
	void *inst;

	if (d == NULL)
		skip();
	write_journal(d->journal, "burst", burst, 5, now - 20000000);
	write_journal(d->journal, "later", later, 3, now - 10000000);
	/* No cursor: count from a time, 60 s ago (5 errors since). */
	pos.since_usec = now - 60 * UINT64_C(1000000);
	write_state(d, &pos);
	inst = new_journal(d->state, "directory", d->journal, "max_entries",
	    "2", NULL);
	run(inst, &res);
	assert_int_equal(res.state, STATE_OK);
	assert_contains(res.summary, "at least 2 errors logged in the last 6");
	assert_perf_near(&res, "rate", 2.0, 0.05);
	assert_contains(res.long_text, "stopped after 2 entries "
	    "(max_entries); skipped to the end of the journal");
	result_reset(&res);

	run(inst, &res);
	assert_contains(res.summary, "no errors logged in the last ");
	result_reset(&res);
	collector_journal.free(inst);

	/* A cursor libsystemd rejects: resume from the saved run's time. */
	pos.since_usec = now - 60 * UINT64_C(1000000);
	snprintf(pos.cursor, sizeof(pos.cursor), "s=zz;i=q");
	write_state(d, &pos);
	inst = new_journal(d->state, "directory", d->journal, NULL);
	run(inst, &res);
	assert_int_equal(res.state, STATE_OK);
	assert_contains(res.summary, "5 errors logged in the last 6");
	result_reset(&res);
	run(inst, &res);
	assert_contains(res.summary, "no errors logged in the last ");
	result_reset(&res);
	collector_journal.free(inst);

	/* A state file that is not one: a fresh start from the end. */
	write_file_text(d, "garbage\n");
	inst = new_journal(d->state, "directory", d->journal, NULL);
	run(inst, &res);
	assert_string_equal(res.summary, "counting errors logged from now on");
	result_reset(&res);
	collector_journal.free(inst);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_position),
		cmocka_unit_test(test_recent),
		cmocka_unit_test(test_configure),
		cmocka_unit_test(test_no_journal),
		cmocka_unit_test_setup_teardown(test_count_and_resume,
		    setup_journal, teardown_journal),
		cmocka_unit_test_setup_teardown(test_bounded, setup_journal,
		    teardown_journal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
