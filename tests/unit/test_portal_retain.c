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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
