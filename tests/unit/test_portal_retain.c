/* Report retention on a real SQLite file with injected time: which rows a
 * prune removes, the hourly summaries it leaves, the batch bound, and the
 * dedupe of a resent batch after its reports were pruned. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "ingest.h"
#include "ledger.h"
#include "metrics.h"
#include "log.h"
#include "portal.h"
#include "retain.h"
#include "store.h"
#include "portalfix.h"
#include "testutil.h"

/* 2026-01-01T00:00:00Z, an hour boundary. */
#define T0	1767225600.0

static const struct retain_policy policy = {
	.keep_reports = 30 * 86400.0,
	.keep_summaries = 400 * 86400.0,
	.keep_events = 400 * 86400.0,
};

/* The JSON of heartbeat seq at time t: cpu, memory, load and /var. */
static void
hb_json(char *buf, size_t len, long long seq, double t, double v)
{
	snprintf(buf, len, "{\"seq\": %lld, \"kind\": \"heartbeat\", "
	    "\"time\": %.1f, \"payload\": {\"checks\": ["
	    "{\"name\": \"cpu\", \"state\": \"OK\", \"when\": %.1f, "
	    "\"perfdata\": [{\"label\": \"usage\", \"value\": %g}]},"
	    "{\"name\": \"memory\", \"state\": \"OK\", \"when\": %.1f, "
	    "\"perfdata\": [{\"label\": \"available\", \"value\": %g}]},"
	    "{\"name\": \"load\", \"state\": \"OK\", \"when\": %.1f, "
	    "\"perfdata\": [{\"label\": \"load1\", \"value\": %g}, "
	    "{\"label\": \"load5\", \"value\": 99}]},"
	    "{\"name\": \"filesystems\", \"state\": \"OK\", \"when\": %.1f, "
	    "\"perfdata\": [{\"label\": \"/var:used\", \"value\": %g}, "
	    "{\"label\": \"/var:used_bytes\", \"value\": %g}, "
	    "{\"label\": \"/var:inodes\", \"value\": 1}]}]}}",
	    seq, t, t, v, t, 100 - 2 * v, t, v / 10, t, v + 50,
	    (v + 1) * 1e9);
}

static void
post_hb(struct store *s, const char *agent, long long seq, double t,
    double v)
{
	char rep[2048], json[2100];

	hb_json(rep, sizeof(rep), seq, t, v);
	snprintf(json, sizeof(json), "{\"reports\": [%s]}", rep);
	portalfix_post(s, agent, json);
}

static long long
count(struct store *s, const char *sql)
{
	sqlite3_stmt *st;
	long long n = -1;

	store_lock(s);
	if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) ==
	    SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	store_unlock(s);
	return n;
}

static void
exec(struct store *s, const char *sql)
{
	store_lock(s);
	assert_int_equal(sqlite3_exec(store_db(s), sql, NULL, NULL, NULL),
	    SQLITE_OK);
	store_unlock(s);
}

/* One summary row: n, min, avg, max. */
static void
summary(struct store *s, const char *metric, double hour, long long *n,
    double *mn, double *avg, double *mx)
{
	sqlite3_stmt *st;

	*n = 0;
	store_lock(s);
	assert_int_equal(sqlite3_prepare_v2(store_db(s), "SELECT n, vmin, "
	    "vsum, vmax FROM summaries WHERE metric = ? AND hour = ?", -1,
	    &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, metric, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, hour);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*n = sqlite3_column_int64(st, 0);
		*mn = sqlite3_column_double(st, 1);
		*avg = sqlite3_column_double(st, 2) / (double)*n;
		*mx = sqlite3_column_double(st, 3);
	}
	sqlite3_finalize(st);
	store_unlock(s);
}

/*
 * Ten heartbeats 10 min apart from T0 (values 0..9) and a state change;
 * the first seven received 31 days ago, the rest now: the prune takes
 * exactly the seven old heartbeats and their samples, folded into two
 * hours (six and one), and leaves the state change and the new ones.
 */
static void
test_prune_summaries(void **state)
{
	struct portalfix *f = *state;
	double now = store_now(), held, longest;
	long long n;
	double mn, avg, mx;
	char sql[256], json[512];
	int i;

	for (i = 0; i < 10; i++)
		post_hb(f->store, f->e.agent_id, i + 1, T0 + i * 600, i);
	snprintf(json, sizeof(json), "{\"reports\": [{\"seq\": 11, \"kind\": "
	    "\"state_change\", \"time\": %.0f, \"payload\": {\"check\": "
	    "{\"name\": \"disk\", \"state\": \"CRITICAL\", \"when\": %.0f}}}]}",
	    T0, T0);
	portalfix_post(f->store, f->e.agent_id, json);
	assert_int_equal(count(f->store, "SELECT count(*) FROM samples"), 10);
	snprintf(sql, sizeof(sql), "UPDATE reports SET received = %.0f WHERE "
	    "seq <= 7 OR seq = 11", now - 31 * 86400.0);
	exec(f->store, sql);

	assert_int_equal(retain_prune_batch(f->store, &policy, now, &held), 7);
	assert_int_equal(count(f->store, "SELECT count(*) FROM reports WHERE "
	    "kind = 'heartbeat'"), 3);
	assert_int_equal(count(f->store, "SELECT min(seq) FROM reports WHERE "
	    "kind = 'heartbeat'"), 8);
	assert_int_equal(count(f->store, "SELECT count(*) FROM reports WHERE "
	    "kind = 'state_change'"), 1);
	assert_int_equal(count(f->store, "SELECT count(*) FROM samples"), 3);
	assert_int_equal(count(f->store, "SELECT pruned_seq FROM agents"), 7);

	/* first hour: values 0..5 */
	summary(f->store, "cpu", T0, &n, &mn, &avg, &mx);
	assert_int_equal(n, 6);
	assert_true(mn == 0 && mx == 5 && fabs(avg - 2.5) < 1e-9);
	summary(f->store, "memory", T0, &n, &mn, &avg, &mx);
	assert_int_equal(n, 6);
	assert_true(mn == 0 && mx == 10 && fabs(avg - 5) < 1e-9);
	summary(f->store, "load", T0, &n, &mn, &avg, &mx);
	assert_true(n == 6 && mn == 0 && fabs(mx - 0.5) < 1e-9);
	summary(f->store, "/var:used", T0, &n, &mn, &avg, &mx);
	assert_true(n == 6 && mn == 50 && mx == 55);
	summary(f->store, "/var:used_bytes", T0, &n, &mn, &avg, &mx);
	assert_true(n == 6 && mn == 1e9 && mx == 6e9);
	summary(f->store, "/var:inodes", T0, &n, &mn, &avg, &mx);
	assert_int_equal(n, 0);
	/* second hour: value 6 only */
	summary(f->store, "cpu", T0 + 3600, &n, &mn, &avg, &mx);
	assert_true(n == 1 && mn == 6 && avg == 6 && mx == 6);

	/* nothing more is due now; all of it 30 days on, but the state
	 * change (400 days) and the summaries stay */
	assert_int_equal(retain_prune(f->store, &policy, now, 10, &longest),
	    0);
	assert_int_equal(retain_prune(f->store, &policy, now + 31 * 86400.0,
	    10, &longest), 3);
	assert_int_equal(count(f->store, "SELECT count(*) FROM reports"), 1);
	assert_int_equal(count(f->store, "SELECT count(*) FROM samples"), 0);
	summary(f->store, "cpu", T0 + 3600, &n, &mn, &avg, &mx);
	assert_true(n == 4 && mn == 6 && mx == 9 && fabs(avg - 7.5) < 1e-9);

	/* past --keep-events and --keep-summaries: everything goes */
	assert_true(retain_prune(f->store, &policy, now + 500 * 86400.0, 10,
	    &longest) > 0);
	assert_int_equal(count(f->store, "SELECT count(*) FROM reports"), 0);
	assert_int_equal(count(f->store, "SELECT count(*) FROM check_changes"),
	    0);
	assert_int_equal(count(f->store, "SELECT count(*) FROM summaries"), 0);
}

/*
 * The agent resends a batch whose reports were pruned (it never saw the
 * ack): acknowledged, nothing stored again, the check state untouched.
 * New content under a pruned number is still the 409 conflict.
 */
static void
test_resend_after_prune(void **state)
{
	struct portalfix *f = *state;
	struct ingest_batch *b = calloc(1, sizeof(*b));
	double now = store_now(), longest;
	char rep[2048], json[4200], err[256];
	json_t *cmds;
	long long ack;
	int i;

	for (i = 0; i < 5; i++)
		post_hb(f->store, f->e.agent_id, i + 1, T0 + i * 60, i);
	exec(f->store, "UPDATE reports SET received = 0");
	assert_int_equal(retain_prune(f->store, &policy, now, 10, &longest),
	    5);
	assert_int_equal(count(f->store, "SELECT count(*) FROM reports"), 0);

	/* seq 3 and 4 again, as sent before */
	hb_json(rep, sizeof(rep), 3, T0 + 2 * 60, 2);
	snprintf(json, sizeof(json), "{\"reports\": [%s,", rep);
	hb_json(rep, sizeof(rep), 4, T0 + 3 * 60, 3);
	snprintf(json + strlen(json), sizeof(json) - strlen(json), "%s]}",
	    rep);
	assert_int_equal(ingest_parse_reports(json, strlen(json), b, err,
	    sizeof(err)), 0);
	assert_int_equal(ledger_store(f->store, f->e.agent_id, b, &ack,
	    &cmds), 0);
	json_decref(cmds);
	ingest_batch_clear(b);
	assert_int_equal(ack, 5);
	if (count(f->store, "SELECT count(*) FROM reports") != 0)
		fail_msg("a resent pruned report was stored again");
	assert_int_equal(count(f->store, "SELECT count(*) FROM samples"), 0);

	/* new content (a later time) under pruned seq 2: the conflict */
	hb_json(rep, sizeof(rep), 2, now, 7);
	snprintf(json, sizeof(json), "{\"reports\": [%s]}", rep);
	assert_int_equal(ingest_parse_reports(json, strlen(json), b, err,
	    sizeof(err)), 0);
	assert_int_equal(ledger_store(f->store, f->e.agent_id, b, &ack,
	    &cmds), -EEXIST);
	assert_int_equal(ack, 5);
	ingest_batch_clear(b);
	free(b);

	/* the next new report is stored as usual */
	post_hb(f->store, f->e.agent_id, 6, now, 1);
	assert_int_equal(count(f->store, "SELECT count(*) FROM reports WHERE "
	    "kind = 'heartbeat'"), 1);
}

/* 2500 due heartbeats: transactions of 1000, 1000 and 500. */
static void
test_batches(void **state)
{
	struct portalfix *f = *state;
	double now = store_now(), held;
	char rep[2048];
	char *json;
	size_t cap = 100 * 2100, len;
	int i, j;

	json = malloc(cap);
	for (i = 0; i < 25; i++) {
		len = (size_t)snprintf(json, cap, "{\"reports\": [");
		for (j = 0; j < 100; j++) {
			hb_json(rep, sizeof(rep), i * 100 + j + 1,
			    T0 + (i * 100 + j) * 60.0, j % 10);
			len += (size_t)snprintf(json + len, cap - len, "%s%s",
			    j ? "," : "", rep);
		}
		snprintf(json + len, cap - len, "]}");
		portalfix_post(f->store, f->e.agent_id, json);
	}
	free(json);
	exec(f->store, "UPDATE reports SET received = 0");
	assert_int_equal(retain_prune_batch(f->store, &policy, now, &held),
	    RETAIN_BATCH);
	assert_int_equal(retain_prune_batch(f->store, &policy, now, &held),
	    RETAIN_BATCH);
	assert_int_equal(retain_prune_batch(f->store, &policy, now, &held),
	    500);
	assert_int_equal(retain_prune_batch(f->store, &policy, now, &held), 0);
	print_message("longest of the last batches: %.1f ms\n", held * 1e3);
	assert_int_equal(count(f->store, "SELECT sum(n) FROM summaries WHERE "
	    "metric = 'cpu'"), 2500);
	assert_int_equal(count(f->store, "SELECT count(*) FROM samples"), 0);
}

/* Heartbeats stored before schema 8 have no samples: their payloads
 * are read when they are pruned, and summarised all the same. */
static void
test_legacy_heartbeats(void **state)
{
	struct portalfix *f = *state;
	double now = store_now(), held, mn, avg, mx;
	long long n;
	int i;

	for (i = 0; i < 4; i++)
		post_hb(f->store, f->e.agent_id, i + 1, T0 + i * 60, i);
	exec(f->store, "DELETE FROM samples WHERE seq <= 3");
	exec(f->store, "UPDATE reports SET received = 0");
	assert_int_equal(retain_prune_batch(f->store, &policy, now, &held), 4);
	summary(f->store, "cpu", T0, &n, &mn, &avg, &mx);
	assert_true(n == 4 && mn == 0 && mx == 3 && fabs(avg - 1.5) < 1e-9);
	summary(f->store, "/var:used_bytes", T0, &n, &mn, &avg, &mx);
	assert_int_equal(n, 4);
	assert_int_equal(count(f->store, "SELECT count(*) FROM samples"), 0);
}

/* An agent inventing 100 kinds: one transaction looks at 64 of them,
 * the next goes on from there; none is left behind. */
static void
test_many_kinds(void **state)
{
	struct portalfix *f = *state;
	double now = store_now(), held;
	char json[256];
	int i;

	for (i = 0; i < 100; i++) {
		snprintf(json, sizeof(json), "{\"reports\": [{\"seq\": %d, "
		    "\"kind\": \"kind%03d\", \"time\": 1, \"payload\": {}}]}",
		    i + 1, i);
		portalfix_post(f->store, f->e.agent_id, json);
	}
	exec(f->store, "UPDATE reports SET received = 0");
	assert_int_equal(retain_prune_batch(f->store, &policy, now, &held),
	    64);
	assert_int_equal(retain_prune_batch(f->store, &policy, now, &held),
	    36);
	assert_int_equal(count(f->store, "SELECT count(*) FROM reports"), 0);
	assert_int_equal(count(f->store, "SELECT pruned_seq FROM agents"),
	    100);
}

/* The points of series name in a metrics answer (borrowed), or NULL. */
static json_t *
points(json_t *m, const char *name)
{
	json_t *sr;
	size_t i;

	json_array_foreach(json_object_get(m, "series"), i, sr)
		if (strcmp(json_string_value(json_object_get(sr, "name")),
		    name) == 0)
			return json_object_get(sr, "points");
	return NULL;
}

/*
 * Ten heartbeats, the first seven pruned: one hour of the chart comes from
 * a summary, the rest from samples, each heartbeat counted once; a step
 * that would give more than 1000 points is raised; an unknown host is
 * -ENOENT; the forecast of /var becomes a line from its last value.
 */
static void
test_metrics(void **state)
{
	struct portalfix *f = *state;
	double now = store_now(), held;
	json_t *m, *p, *fc;
	char json[1024];
	long long total = 0;
	size_t i;

	for (i = 0; i < 10; i++)
		post_hb(f->store, f->e.agent_id, (long long)i + 1,
		    T0 + (double)i * 600, (double)i);
	exec(f->store, "UPDATE reports SET received = 0 WHERE seq <= 7");
	assert_int_equal(retain_prune_batch(f->store, &policy, now, &held), 7);
	snprintf(json, sizeof(json), "{\"reports\": [{\"seq\": 11, \"kind\": "
	    "\"heartbeat\", \"time\": %.0f, \"payload\": {\"checks\": ["
	    "{\"name\": \"forecast\", \"state\": \"WARNING\", \"when\": "
	    "%.0f, \"forecast\": {\"item\": \"/var\", \"resource\": "
	    "\"space\", \"eta\": 86400, \"rate\": 1e9, \"unit\": "
	    "\"B\"}}]}}]}", T0 + 6000, T0 + 6000);
	portalfix_post(f->store, f->e.agent_id, json);

	/* hourly buckets: hour 0 from the summary (6), hour 1 from a
	 * summary (1) and samples (3) */
	assert_int_equal(metrics_host(f->store, f->e.agent_id,
	    (long long)T0, (long long)T0 + 7200, 3600, &m), 0);
	p = points(m, "cpu");
	assert_non_null(p);
	assert_int_equal(json_array_size(p), 2);
	assert_true(json_number_value(json_array_get(json_array_get(p, 0),
	    2)) == 2.5);
	assert_true(json_number_value(json_array_get(json_array_get(p, 1),
	    1)) == 6 && json_number_value(json_array_get(json_array_get(p, 1),
	    2)) == 7.5 && json_number_value(json_array_get(json_array_get(p,
	    1), 3)) == 9);
	assert_non_null(points(m, "/var:used"));
	assert_non_null(points(m, "/var:used_bytes"));
	assert_non_null(points(m, "memory"));
	assert_non_null(points(m, "load"));
	assert_null(points(m, "/var:inodes"));
	fc = json_array_get(json_object_get(m, "forecasts"), 0);
	assert_non_null(fc);
	assert_string_equal(json_string_value(json_object_get(fc, "series")),
	    "/var:used_bytes");
	/* from the last bucket's mean (8.5e9 on average over 7..9 + 1) */
	p = json_object_get(fc, "line");
	assert_true(json_array_size(p) == 2);
	assert_true(fabs(json_number_value(json_array_get(json_array_get(p,
	    1), 1)) - json_number_value(json_array_get(json_array_get(p, 0),
	    1)) - 1e9) < 1);
	json_decref(m);

	/* minute buckets: ten points (six hours would be 360 minute
	 * buckets, within the bound) and each heartbeat once */
	assert_int_equal(metrics_host(f->store, f->e.agent_id,
	    (long long)T0, (long long)T0 + 6 * 3600, 60, &m), 0);
	json_array_foreach(points(m, "cpu"), i, p)
		total++;
	assert_int_equal(total, 5);	/* 2 hour summaries + 3 samples */
	json_decref(m);

	/* a year in 1 s steps: raised to 1000 points at most */
	assert_int_equal(metrics_host(f->store, f->e.agent_id,
	    (long long)T0 - 365 * 86400LL, (long long)T0 + 86400, 1, &m), 0);
	assert_true(json_integer_value(json_object_get(m, "step")) >=
	    366 * 86400LL / METRICS_MAX_POINTS);
	json_decref(m);
	assert_int_equal(metrics_host(f->store, "no-such-host", 0, 100, 0,
	    &m), -ENOENT);
}

/* 30 days of samples at 60 s: the chart of the month and of its last day
 * in well under 100 ms (a looser bound here: valgrind runs this too). */
static void
test_metrics_month(void **state)
{
	struct portalfix *f = *state;
	double t0, ms;
	sqlite3_stmt *st;
	json_t *m;
	int i;

	store_lock(f->store);
	assert_int_equal(sqlite3_exec(store_db(f->store), "BEGIN", NULL, NULL,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(store_db(f->store), "INSERT INTO "
	    "samples VALUES (?, ?, ?, ?, ?, ?, ?)", -1, &st, NULL), SQLITE_OK);
	for (i = 0; i < 43200; i++) {
		sqlite3_bind_text(st, 1, f->e.agent_id, -1, SQLITE_STATIC);
		sqlite3_bind_double(st, 2, T0 + i * 60.0);
		sqlite3_bind_int64(st, 3, i + 1);
		sqlite3_bind_double(st, 4, i % 100);
		sqlite3_bind_double(st, 5, 50);
		sqlite3_bind_double(st, 6, 0.5);
		sqlite3_bind_text(st, 7, "/:used\t40\n/:used_bytes\t4e9\n"
		    "/var:used\t60\n/var:used_bytes\t6e9\n", -1,
		    SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_exec(store_db(f->store), "COMMIT", NULL, NULL,
	    NULL), SQLITE_OK);
	store_unlock(f->store);

	t0 = store_monotonic();
	assert_int_equal(metrics_host(f->store, f->e.agent_id, (long long)T0,
	    (long long)T0 + 30 * 86400, 0, &m), 0);
	ms = (store_monotonic() - t0) * 1e3;
	assert_int_equal(json_array_size(json_object_get(m, "series")), 7);
	assert_true(json_array_size(points(m, "cpu")) <= METRICS_MAX_POINTS);
	json_decref(m);
	print_message("metrics, 30 days of 43200 heartbeats: %.1f ms\n", ms);
	assert_true(ms < 2000);
	t0 = store_monotonic();
	assert_int_equal(metrics_host(f->store, f->e.agent_id,
	    (long long)T0 + 29 * 86400, (long long)T0 + 30 * 86400, 0, &m), 0);
	ms = (store_monotonic() - t0) * 1e3;
	json_decref(m);
	print_message("metrics, its last day: %.1f ms\n", ms);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_prune_summaries,
		    portalfix_setup, portalfix_teardown),
		cmocka_unit_test_setup_teardown(test_resend_after_prune,
		    portalfix_setup, portalfix_teardown),
		cmocka_unit_test_setup_teardown(test_batches,
		    portalfix_setup, portalfix_teardown),
		cmocka_unit_test_setup_teardown(test_legacy_heartbeats,
		    portalfix_setup, portalfix_teardown),
		cmocka_unit_test_setup_teardown(test_many_kinds,
		    portalfix_setup, portalfix_teardown),
		cmocka_unit_test_setup_teardown(test_metrics,
		    portalfix_setup, portalfix_teardown),
		cmocka_unit_test_setup_teardown(test_metrics_month,
		    portalfix_setup, portalfix_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
