/*
 * cron_parse and cron_next: the syntax an admin may write, the errors that
 * name field and token, Vixie's day rule, and next fire times across DST
 * transitions in Europe/Berlin and America/New_York (TZ set per test).
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

#include <cmocka.h>

#include "cron.h"
#include "testutil.h"

static void
set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

/* "YYYY-MM-DD HH:MM[:SS]" read as UTC. */
static time_t
utc(const char *s)
{
	struct tm tm = { 0 };

	if (sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) < 5)
		fail_msg("bad test time '%s'", s);
	tm.tm_year -= 1900;
	tm.tm_mon--;
	return timegm(&tm);
}

static const char *
show(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
	return buf;
}

/* The next fire of expr after `after` (UTC) must be want (UTC). */
static void
expect_next_at(const char *expr, const char *after, const char *want,
    const char *file, int line)
{
	struct cron c;
	char err[256], got[64], exp[64];
	time_t t = 0;
	int rc;

	if (cron_parse(expr, &c, err, sizeof(err)) != 0)
		fail_msg("%s:%d: '%s' refused: %s", file, line, expr, err);
	rc = cron_next(&c, utc(after), &t);
	if (rc != 0)
		fail_msg("%s:%d: '%s' after %s: no next time (%d)", file, line,
		    expr, after, rc);
	if (t != utc(want))
		fail_msg("%s:%d: '%s' after %s UTC (TZ=%s): got %s, want %s",
		    file, line, expr, after, getenv("TZ"),
		    show(t, got, sizeof(got)), show(utc(want), exp,
		    sizeof(exp)));
}
#define expect_next(e, a, w) expect_next_at((e), (a), (w), __FILE__, __LINE__)

static void
expect_error(const char *expr, const char *msg)
{
	struct cron c;
	char err[256] = "";

	if (cron_parse(expr, &c, err, sizeof(err)) != -EINVAL)
		fail_msg("'%s' was accepted, expected '%s'", expr, msg);
	assert_contains(err, msg);
}

static void
test_parse_errors(void **state)
{
	(void)state;
	expect_error("", "0 fields, expected 5");
	expect_error("* * * *", "4 fields, expected 5");
	expect_error("* * * * * *", "more than 5 fields");
	expect_error("60 * * * *", "minute: '60' is not a number from 0 to 59");
	expect_error("* 24 * * *", "hour: '24'");
	expect_error("* * 0 * *", "day-of-month: '0'");
	expect_error("* * 32 * *", "day-of-month: '32'");
	expect_error("* * * 13 *", "month: '13' is not a number from 1 to 12 "
	    "or jan-dec");
	expect_error("* * * foo *", "month: 'foo'");
	expect_error("* * * * 8", "day-of-week: '8'");
	expect_error("* * * * monday", "day-of-week: 'monday'");
	expect_error("*/0 * * * *", "minute: '*/0': the step after '/'");
	expect_error("*/x * * * *", "minute: '*/x'");
	expect_error("5-1 * * * *", "minute: '5-1': the range runs backwards");
	expect_error("1,,2 * * * *", "minute: empty item");
	expect_error("1, * * * *", "minute: empty item");
	expect_error("-5 * * * *", "minute: '-5'");
	expect_error("? * * * *", "minute: '?'");
	expect_error("99999999999999999999 * * * *", "minute: '9999");
	expect_error("@often", "'@often' is not @yearly");
	expect_error("@daily 1", "'@daily' is not");
	/* Never fires: no listed month has that day. */
	expect_error("0 0 31 2 *", "day-of-month: '31' is in none of the "
	    "months '2'");
	expect_error("0 0 30,31 feb *", "day-of-month: '30,31'");
	expect_error("0 0 31 4,6,9,11 *", "day-of-month");
}

static void
test_parse_forms(void **state)
{
	struct cron a, b;
	char err[256];

	(void)state;
	assert_int_equal(cron_parse("0 12 * jan-mar mon-fri", &a, err,
	    sizeof(err)), 0);
	assert_int_equal(a.month, 0xe);
	assert_int_equal(a.wday, 0x3e);
	assert_int_equal(cron_parse("0 12 * JAN-MAR Mon-Fri", &b, err,
	    sizeof(err)), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	/* 7 is Sunday, as is 0. */
	assert_int_equal(cron_parse("0 0 * * 7", &a, err, sizeof(err)), 0);
	assert_int_equal(cron_parse("0 0 * * sun", &b, err, sizeof(err)), 0);
	assert_int_equal(a.wday, 1);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(cron_parse("0 0 * * 5-7", &a, err, sizeof(err)), 0);
	assert_int_equal(a.wday, 0x61);
	/* Steps on ranges and "N/step" as "N-max/step". */
	assert_int_equal(cron_parse("1-30/5 */6 * * *", &a, err, sizeof(err)),
	    0);
	assert_true(a.minute == ((1ULL << 1) | (1ULL << 6) | (1ULL << 11) |
	    (1ULL << 16) | (1ULL << 21) | (1ULL << 26)));
	assert_int_equal(a.hour, (1 << 0) | (1 << 6) | (1 << 12) | (1 << 18));
	assert_int_equal(cron_parse("50/5 * * * *", &a, err, sizeof(err)), 0);
	assert_true(a.minute == ((1ULL << 50) | (1ULL << 55)));
	assert_int_equal(cron_parse("  0\t2  * * *  ", &a, err, sizeof(err)),
	    0);
	assert_int_equal(cron_parse("@daily", &b, err, sizeof(err)), 0);
	assert_int_equal(cron_parse("0 0 * * *", &a, err, sizeof(err)), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	/* 29 February is possible, in leap years. */
	assert_int_equal(cron_parse("0 0 29 2 *", &a, err, sizeof(err)), 0);
	/* Day 31 in February, but any Monday too: fires. */
	assert_int_equal(cron_parse("0 0 31 2 1", &a, err, sizeof(err)), 0);
}

static void
test_next_utc(void **state)
{
	(void)state;
	set_tz("UTC");
	expect_next("*/15 * * * *", "2026-11-25 10:07:30", "2026-11-25 10:15");
	expect_next("*/15 * * * *", "2026-11-25 10:15:00", "2026-11-25 10:30");
	expect_next("* * * * *", "2026-11-25 10:15:59", "2026-11-25 10:16");
	expect_next("0 2 * * *", "2026-11-25 02:00:00", "2026-11-26 02:00");
	expect_next("0 2 * * *", "2026-11-25 01:59:59", "2026-11-25 02:00");
	expect_next("1-30/5 * * * *", "2026-11-25 10:26:00",
	    "2026-11-25 11:01");
	expect_next("0 0 1 * *", "2026-12-15 00:00", "2027-01-01 00:00");
	expect_next("0 9 * * mon-fri", "2026-11-27 09:00", "2026-11-30 09:00");
	expect_next("0 0 29 2 *", "2026-03-01 00:00", "2028-02-29 00:00");
	/* The longest gap there is: 2100 is not a leap year. */
	expect_next("0 0 29 2 *", "2096-03-01 00:00", "2104-02-29 00:00");
}

/* Both day fields restricted: either fires; one starting with '*': both. */
static void
test_next_day_rule(void **state)
{
	(void)state;
	set_tz("UTC");
	/* 2026-11-25 is a Wednesday; Friday the 27th comes before the 13th. */
	expect_next("0 0 13 * 5", "2026-11-25 12:00", "2026-11-27 00:00");
	expect_next("0 0 13 * 5", "2026-12-11 12:00", "2026-12-13 00:00");
	expect_next("0 0 13 * *", "2026-11-25 12:00", "2026-12-13 00:00");
	expect_next("0 0 * * 5", "2026-11-25 12:00", "2026-11-27 00:00");
	/* "*" + step is still '*': odd days that are Mondays. */
	expect_next("0 0 */2 * 1", "2026-11-25 12:00", "2026-12-07 00:00");
	/* Rare but possible (found by fuzzing): more than 10 years away. */
	expect_next("0 0 */7 5 5", "2026-06-01 00:00", "2037-05-01 00:00");
}

/* Europe/Berlin 2026: CET -> CEST at 01:00 UTC on 29 March (02:00 -> 03:00
 * local), CEST -> CET at 01:00 UTC on 25 October (03:00 -> 02:00 local). */
static void
test_next_berlin(void **state)
{
	(void)state;
	set_tz("Europe/Berlin");
	expect_next("0 2 * * *", "2026-03-27 12:00", "2026-03-28 01:00");
	/* Skipped: 02:30 fires once, at the transition (03:00 CEST). */
	expect_next("30 2 * * *", "2026-03-28 12:00", "2026-03-29 01:00");
	expect_next("30 2 * * *", "2026-03-29 01:00", "2026-03-30 00:30");
	/* Four skipped times, one run. */
	expect_next("*/15 2 * * *", "2026-03-29 00:00", "2026-03-29 01:00");
	expect_next("*/15 2 * * *", "2026-03-29 01:00", "2026-03-30 00:00");
	/* The hour after the gap runs as usual. */
	expect_next("*/30 * * * *", "2026-03-29 00:45", "2026-03-29 01:00");
	expect_next("*/30 * * * *", "2026-03-29 01:00", "2026-03-29 01:30");
	/* Repeated: 02:30 fires once, at its first occurrence (CEST). */
	expect_next("30 2 * * *", "2026-10-24 12:00", "2026-10-25 00:30");
	expect_next("30 2 * * *", "2026-10-25 00:30", "2026-10-26 01:30");
	/* Every half hour: 02:00 and 02:30 CET are not run again. */
	expect_next("*/30 * * * *", "2026-10-25 00:00", "2026-10-25 00:30");
	expect_next("*/30 * * * *", "2026-10-25 00:30", "2026-10-25 02:00");
	expect_next("*/30 * * * *", "2026-10-25 01:10", "2026-10-25 02:00");
	expect_next("0 3 * * *", "2026-10-24 12:00", "2026-10-25 02:00");
}

/* America/New_York 2026: EST -> EDT at 07:00 UTC on 8 March (02:00 ->
 * 03:00), EDT -> EST at 06:00 UTC on 1 November (02:00 -> 01:00). */
static void
test_next_new_york(void **state)
{
	(void)state;
	set_tz("America/New_York");
	expect_next("0 9 * * *", "2026-11-25 12:00", "2026-11-25 14:00");
	expect_next("30 2 * * *", "2026-03-07 12:00", "2026-03-08 07:00");
	expect_next("30 2 * * *", "2026-03-08 07:00", "2026-03-09 06:30");
	expect_next("30 1 * * *", "2026-10-31 12:00", "2026-11-01 05:30");
	expect_next("30 1 * * *", "2026-11-01 05:30", "2026-11-02 06:30");
	expect_next("0 0 1 * *", "2026-06-15 00:00", "2026-07-01 04:00");
}

/* Nothing within the bound, or a date out of range: -ERANGE, quickly. */
static void
test_next_bounded(void **state)
{
	struct cron c;
	struct timespec t0, t1;
	char err[256];
	time_t t;
	double ms;

	(void)state;
	set_tz("Europe/Berlin");
	/* What cron_parse refuses, built by hand: 31 February. */
	assert_int_equal(cron_parse("0 0 1 2 *", &c, err, sizeof(err)), 0);
	c.mday = 1u << 31;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(cron_next(&c, utc("2026-01-01 00:00"), &t), -ERANGE);
	/* Every minute of every day, but no day ever matches. */
	assert_int_equal(cron_parse("* * * * *", &c, err, sizeof(err)), 0);
	c.month = 0;
	assert_int_equal(cron_next(&c, utc("2026-01-01 00:00"), &t), -ERANGE);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	if (ms > 500)
		fail_msg("two searches to the bound took %.0f ms", ms);
	assert_int_equal(cron_parse("* * * * *", &c, err, sizeof(err)), 0);
	assert_int_equal(cron_next(&c, (time_t)-1, &t), -ERANGE);
	assert_int_equal(cron_next(&c, (time_t)1 << 40, &t), -ERANGE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_forms),
		cmocka_unit_test(test_next_utc),
		cmocka_unit_test(test_next_day_rule),
		cmocka_unit_test(test_next_berlin),
		cmocka_unit_test(test_next_new_york),
		cmocka_unit_test(test_next_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
