/*
 * retention.c: tables of snapshot start times (UTC, and one case in a
 * local time zone where the day boundary differs), with and without
 * parent chains: which are kept and why, that a kept incremental's chain
 * always stays, and when the next run must be full.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "catalog.h"
#include "retention.h"

/* Adds a snapshot started at "YYYY-MM-DD HH:MM" UTC; parent: an index
 * into c or -1 for a full. Returns its index. */
static size_t
add(struct catalog *c, const char *when, int parent)
{
	struct catalog_entry e;
	struct tm tm;
	time_t	 t;
	char	 b[32];

	memset(&e, 0, sizeof(e));
	memset(&tm, 0, sizeof(tm));
	assert_non_null(strptime(when, "%Y-%m-%d %H:%M", &tm));
	t = timegm(&tm);
	strftime(b, sizeof(b), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(e.id, sizeof(e.id), "%s-%08zx", b, c->n);
	e.started = t;
	e.finished = t + 60;
	if (parent >= 0) {
		e.incremental = 1;
		memcpy(e.parent, c->entries[parent].id, sizeof(e.parent));
	}
	catalog_add(c, &e);
	return c->n - 1;
}

/* The plan as a string of 'k' (kept) and '-' (forgotten), oldest first,
 * so that the tables read as timelines. */
static const char *
plan(const struct catalog *c, unsigned last, unsigned daily, unsigned weekly,
    unsigned monthly, unsigned *keep)
{
	static char s[256];
	struct retention_policy p = { last, daily, weekly, monthly };
	size_t	 i;

	retention_plan(c, &p, keep);
	for (i = 0; i < c->n && i < sizeof(s) - 1; i++)
		s[i] = keep[i] ? 'k' : '-';
	s[i] = '\0';
	return s;
}

static void
utc(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

static void
test_daily_weekly_monthly(void **state)
{
	struct catalog c = { 0 };
	unsigned keep[64];
	char	 when[32], why[64];
	int	 d;

	(void)state;
	utc();
	/* One a day, 2026-01-01 (a Thursday) to 01-31, at 02:00. */
	for (d = 1; d <= 31; d++) {
		snprintf(when, sizeof(when), "2026-01-%02d 02:00", d);
		add(&c, when, -1);
	}
	assert_string_equal(plan(&c, 0, 7, 0, 0, keep),
	    "------------------------kkkkkkk");
	assert_string_equal(plan(&c, 2, 0, 0, 0, keep),
	    "-----------------------------kk");
	/* ISO weeks: 01-26..02-01, 01-19..25, 01-12..18: their newest. */
	assert_string_equal(plan(&c, 0, 0, 3, 0, keep),
	    "-----------------k------k-----k");
	/* Both rules keep the newest: the reasons add up. */
	plan(&c, 1, 1, 1, 1, keep);
	assert_string_equal(retention_reasons(keep[30], why, sizeof(why)),
	    "last,daily,weekly,monthly");
	assert_string_equal(retention_reasons(keep[0], why, sizeof(why)),
	    "forget");
	catalog_free(&c);

	/* Several a day: the newest of each day; months: the newest each. */
	add(&c, "2025-11-30 23:00", -1);
	add(&c, "2025-12-31 01:00", -1);
	add(&c, "2025-12-31 23:59", -1);
	add(&c, "2026-01-01 00:00", -1);
	add(&c, "2026-01-02 10:00", -1);
	add(&c, "2026-01-02 11:00", -1);
	assert_string_equal(plan(&c, 0, 3, 0, 0, keep), "--kk-k");
	assert_string_equal(plan(&c, 0, 0, 0, 3, keep), "k-k--k");
	assert_string_equal(plan(&c, 0, 0, 0, 12, keep), "k-k--k");
	/* No policy at all keeps everything. */
	assert_string_equal(plan(&c, 0, 0, 0, 0, keep), "kkkkkk");
	assert_string_equal(retention_reasons(keep[0], why, sizeof(why)),
	    "no-policy");
	catalog_free(&c);
}

static void
test_chains(void **state)
{
	struct catalog c = { 0 };
	unsigned keep[64];
	char	 why[64];
	size_t	 f1, i2, i3, i4, f5, i6;

	(void)state;
	utc();
	f1 = add(&c, "2026-03-01 02:00", -1);
	i2 = add(&c, "2026-03-02 02:00", (int)f1);
	i3 = add(&c, "2026-03-03 02:00", (int)i2);
	i4 = add(&c, "2026-03-04 02:00", (int)i3);
	/* The newest alone is asked for: its whole chain stays. */
	assert_string_equal(plan(&c, 1, 0, 0, 0, keep), "kkkk");
	assert_string_equal(retention_reasons(keep[i4], why, sizeof(why)),
	    "last");
	assert_string_equal(retention_reasons(keep[f1], why, sizeof(why)),
	    "chain");
	f5 = add(&c, "2026-03-05 02:00", -1);
	i6 = add(&c, "2026-03-06 02:00", (int)f5);
	/* The new chain is enough: the old one goes whole. */
	assert_string_equal(plan(&c, 2, 0, 0, 0, keep), "----kk");
	assert_string_equal(plan(&c, 1, 0, 0, 0, keep), "----kk");
	assert_int_equal(keep[f5], RETENTION_CHAIN);
	assert_int_equal(keep[i6], RETENTION_LAST);
	/* Monthly keeps i6 (March's newest) and the April incremental on
	 * it, and f5 for both; ISO weeks keep f1 (week 9) alone, a full. */
	add(&c, "2026-04-01 02:00", (int)i6);
	assert_string_equal(plan(&c, 0, 0, 0, 2, keep), "----kkk");
	assert_string_equal(plan(&c, 0, 0, 3, 0, keep), "k---kkk");
	/* Daily on an old incremental: i3 keeps i2 and f1, not i4. */
	assert_string_equal(plan(&c, 0, 0, 0, 0, keep), "kkkkkkk");
	{
		struct catalog d = { 0 };
		size_t	 a, b, x;

		a = add(&d, "2026-03-01 02:00", -1);
		b = add(&d, "2026-03-02 02:00", (int)a);
		x = add(&d, "2026-03-02 03:00", (int)b);
		add(&d, "2026-03-02 04:00", (int)x);
		/* keep_last 1 keeps the newest; daily 1 the same one. */
		assert_string_equal(plan(&d, 0, 1, 0, 0, keep), "kkkk");
		catalog_free(&d);
	}
	(void)i2;
	(void)i3;
	catalog_free(&c);
}

/* The day boundary is local: in New York (UTC-5 in January) 03:00Z is the
 * evening before. */
static void
test_local_time(void **state)
{
	struct catalog c = { 0 };
	unsigned keep[8];

	(void)state;
	add(&c, "2026-01-09 12:00", -1);
	add(&c, "2026-01-10 03:00", -1);
	add(&c, "2026-01-10 06:00", -1);
	utc();
	assert_string_equal(plan(&c, 0, 2, 0, 0, keep), "k-k");
	setenv("TZ", "America/New_York", 1);
	tzset();
	assert_string_equal(plan(&c, 0, 2, 0, 0, keep), "-kk");
	utc();
	catalog_free(&c);
}

static void
test_needs_full(void **state)
{
	struct catalog c = { 0 };
	struct catalog_entry *e;
	size_t	 f, i;
	int64_t	 day = 86400, now;

	(void)state;
	utc();
	assert_int_equal(retention_needs_full(&c, 7 * day, 0), 1);
	f = add(&c, "2026-03-01 02:00", -1);
	i = add(&c, "2026-03-02 02:00", (int)f);
	now = c.entries[f].started + 6 * day;
	assert_int_equal(retention_needs_full(&c, 7 * day, now), 0);
	assert_int_equal(retention_needs_full(&c, 7 * day, now + day), 1);
	/* full_every 0: never for age alone. */
	assert_int_equal(retention_needs_full(&c, 0, now + 100 * day), 0);
	/* The parent of the newest is gone: a full, not a broken chain. */
	e = &c.entries[i];
	memcpy(e->parent, "20260101T000000Z-ffffffff", 26);
	assert_int_equal(catalog_chain_length(&c, e->id), 0);
	assert_int_equal(retention_needs_full(&c, 7 * day, now), 1);
	catalog_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_daily_weekly_monthly),
		cmocka_unit_test(test_chains),
		cmocka_unit_test(test_local_time),
		cmocka_unit_test(test_needs_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
