/* backup.NAME, the staleness check of a backup job: thresholds from the
 * schedule (its longest gap, plus randomized_delay) or configured, the
 * states at injected times, failures in a row, and the state file that
 * keeps the last good time across restarts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "backupstale.h"
#include "cron.h"
#include "log.h"
#include "testutil.h"

/* Wed 2026-11-25 12:00:00 UTC */
#define NOW	1795694400LL
#define H	3600LL
#define D	86400LL

static void
conf(struct backup_conf *bc, const char *schedule, unsigned delay)
{
	char err[128];

	memset(bc, 0, sizeof(*bc));
	bc->name = "www";
	bc->randomized_delay = delay;
	if (schedule != NULL) {
		if (cron_parse(schedule, &bc->cron, err, sizeof(err)) != 0)
			fail_msg("cron_parse %s: %s", schedule, err);
		bc->schedule = (char *)schedule;
	}
}

static int
judge(const struct backup_conf *bc, int64_t last_ok, unsigned failures,
    char *summary, size_t len)
{
	struct backupstale_rec rec = { .last_ok = last_ok,
	    .last_run = last_ok, .failures = failures };
	struct result r = { 0 };
	int st;

	if (failures > 0) {
		rec.last_run = NOW - 60;
		snprintf(rec.last_status, sizeof(rec.last_status), "failed");
	}
	backupstale_eval(bc, &rec, NOW, &r);
	snprintf(summary, len, "%s", r.summary);
	st = (int)r.state;
	result_reset(&r);
	return st;
}

static void
test_daily(void **state)
{
	struct backup_conf bc;
	unsigned warn, crit;
	char s[RESULT_SUMMARY_MAX];

	(void)state;
	conf(&bc, "0 2 * * *", 1800);
	backupstale_limits(&bc, NOW, &warn, &crit);
	assert_int_equal(warn, 36 * H + 1800);
	assert_int_equal(crit, 72 * H + 1800);
	assert_int_equal(judge(&bc, NOW - 10 * H, 0, s, sizeof(s)), STATE_OK);
	assert_non_null(strstr(s, "last good backup 10h0m ago"));
	assert_int_equal(judge(&bc, NOW - 37 * H, 0, s, sizeof(s)),
	    STATE_WARNING);
	assert_int_equal(judge(&bc, NOW - 73 * H, 0, s, sizeof(s)),
	    STATE_CRITICAL);
	assert_non_null(strstr(s, "3d1h ago"));
	/* A recent good backup, then failures: 2 is not yet, 3 is. */
	assert_int_equal(judge(&bc, NOW - 10 * H, 2, s, sizeof(s)), STATE_OK);
	assert_non_null(strstr(s, "last 2 runs not ok"));
	assert_int_equal(judge(&bc, NOW - 10 * H, 3, s, sizeof(s)),
	    STATE_CRITICAL);
	bc.stale_failures = 5;
	assert_int_equal(judge(&bc, NOW - 10 * H, 3, s, sizeof(s)), STATE_OK);
	/* Never run; run but never ok. */
	assert_int_equal(judge(&bc, 0, 0, s, sizeof(s)), STATE_UNKNOWN);
	assert_non_null(strstr(s, "never run"));
	assert_int_equal(judge(&bc, 0, 1, s, sizeof(s)), STATE_WARNING);
	assert_non_null(strstr(s, "no good backup yet"));
	/* Configured thresholds win. */
	bc.stale_warning = 2 * H;
	bc.stale_critical = 4 * H;
	assert_int_equal(judge(&bc, NOW - 3 * H, 0, s, sizeof(s)),
	    STATE_WARNING);
	assert_int_equal(judge(&bc, NOW - 5 * H, 0, s, sizeof(s)),
	    STATE_CRITICAL);
}

static void
test_weekdays_and_none(void **state)
{
	struct backup_conf bc;
	unsigned warn, crit;
	char s[RESULT_SUMMARY_MAX];

	(void)state;
	/* Mon-Fri: the weekend gap of three days sets the limits. */
	conf(&bc, "0 2 * * 1-5", 0);
	backupstale_limits(&bc, NOW, &warn, &crit);
	assert_int_equal(warn, 108 * H);
	assert_int_equal(crit, 216 * H);
	/* No schedule: no default threshold, any age is OK... */
	conf(&bc, NULL, 0);
	backupstale_limits(&bc, NOW, &warn, &crit);
	assert_int_equal(warn, 0);
	assert_int_equal(crit, 0);
	assert_int_equal(judge(&bc, NOW - 400 * D, 0, s, sizeof(s)),
	    STATE_OK);
	/* ...unless configured; a warning alone is enough. */
	bc.stale_warning = 7 * D;
	assert_int_equal(judge(&bc, NOW - 8 * D, 0, s, sizeof(s)),
	    STATE_WARNING);
	assert_int_equal(judge(&bc, NOW - 400 * D, 0, s, sizeof(s)),
	    STATE_WARNING);
	/* A clock that went back is not an error. */
	assert_int_equal(judge(&bc, NOW + 60, 0, s, sizeof(s)), STATE_OK);
}

static void
test_record_and_file(void **state)
{
	struct backupstale_rec rec = { 0 }, back;
	char dir[64], path[128];
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/backupstale.XXXXXX");
	assert_non_null(mkdtemp(dir));
	/* Nothing yet: never run. */
	assert_int_equal(backupstale_load(dir, "www", &back), 0);
	assert_int_equal(back.last_ok, 0);
	assert_int_equal(back.last_run, 0);

	backupstale_record(&rec, "ok", NOW - 100);
	backupstale_record(&rec, "failed", NOW - 50);
	backupstale_record(&rec, "partial", NOW - 10);
	assert_int_equal(rec.last_ok, NOW - 100);
	assert_int_equal(rec.failures, 2);
	assert_int_equal(backupstale_save(dir, "www", &rec), 0);
	assert_int_equal(backupstale_load(dir, "www", &back), 0);
	assert_int_equal(back.last_ok, NOW - 100);
	assert_int_equal(back.last_run, NOW - 10);
	assert_int_equal(back.failures, 2);
	assert_string_equal(back.last_status, "partial");
	backupstale_record(&rec, "ok", NOW);
	assert_int_equal(rec.failures, 0);
	assert_int_equal(rec.last_ok, NOW);

	/* A damaged file is refused, not taken for a good backup. */
	snprintf(path, sizeof(path), "%s/backup/www.state", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("agentd-backup-state 1\nlast_ok 12x\n", f);
	fclose(f);
	assert_int_equal(backupstale_load(dir, "www", &back), -EINVAL);
	assert_int_equal(back.last_ok, 0);
	testutil_rm_tree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_daily),
		cmocka_unit_test(test_weekdays_and_none),
		cmocka_unit_test(test_record_and_file),
	};

	/* The schedule is local time; the figures are for UTC. */
	setenv("TZ", "UTC", 1);
	tzset();
	log_init("test", LOG_TARGET_STDERR, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
