/* Alert acknowledgement and webhook repeats with injected time: an open
 * unacknowledged alert is sent again every interval, an acknowledged one
 * is not, a maintenance window or a silence holds the repeat; the ack is
 * in the later events; filters and the history of one alert. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "alert.h"
#include "fleet.h"
#include "ingest.h"
#include "log.h"
#include "store.h"
#include "portalfix.h"
#include "testutil.h"

static int
setup(void **state)
{
	alert_outbox_enable(1);
	return portalfix_setup(state);
}

static void
post_state(struct portalfix *f, long long seq, const char *check,
    const char *state)
{
	char json[512];
	double now = store_now();

	snprintf(json, sizeof(json), "{\"reports\": [{\"seq\": %lld, "
	    "\"kind\": \"state_change\", \"time\": %.0f, \"payload\": "
	    "{\"check\": {\"name\": \"%s\", \"state\": \"%s\", "
	    "\"when\": %.0f}}}]}", seq, now, check, state, now);
	portalfix_post(f->store, f->e.agent_id, json);
}

static void
exec(struct store *s, const char *sql)
{
	store_lock(s);
	assert_int_equal(sqlite3_exec(store_db(s), sql, NULL, NULL, NULL),
	    SQLITE_OK);
	store_unlock(s);
}

/* The newest outbox body (parsed; NULL when empty) and the count. */
static json_t *
last_event(struct store *s, long long *n)
{
	sqlite3_stmt *st;
	json_t *o = NULL;

	*n = 0;
	store_lock(s);
	assert_int_equal(sqlite3_prepare_v2(store_db(s), "SELECT body, "
	    "(SELECT count(*) FROM outbox) FROM outbox ORDER BY id DESC "
	    "LIMIT 1", -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW) {
		o = json_loads((const char *)sqlite3_column_text(st, 0), 0,
		    NULL);
		*n = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	store_unlock(s);
	return o;
}

static double
opened_at(struct store *s, long long id)
{
	json_t *a;
	double t;

	assert_int_equal(fleet_alert(s, id, &a), 0);
	t = json_number_value(json_object_get(a, "opened"));
	json_decref(a);
	return t;
}

static void
test_repeat_and_ack(void **state)
{
	struct portalfix *f = *state;
	long long n, before;
	double t0;
	json_t *e, *a, *h;

	post_state(f, 1, "disk", "CRITICAL");
	t0 = opened_at(f->store, 1);
	json_decref(last_event(f->store, &before));
	assert_int_equal(before, 1);

	assert_int_equal(alert_repeat_scan(f->store, t0 + 100, 3600), 0);
	assert_int_equal(alert_repeat_scan(f->store, t0 + 3601, 3600), 1);
	e = last_event(f->store, &n);
	assert_int_equal(n, 2);
	assert_string_equal(json_string_value(json_object_get(e, "event")),
	    "repeated");
	assert_true(json_is_null(json_object_get(e, "ack")));
	json_decref(e);
	/* the interval runs from the last send */
	assert_int_equal(alert_repeat_scan(f->store, t0 + 3700, 3600), 0);
	assert_int_equal(alert_repeat_scan(f->store, t0 + 7300, 3600), 1);

	/* acknowledged: an event with who and why, and no more repeats */
	assert_int_equal(alert_ack(f->store, 1, "alice", "on it", t0 + 7400),
	    0);
	e = last_event(f->store, &n);
	assert_string_equal(json_string_value(json_object_get(e, "event")),
	    "acknowledged");
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(e, "ack"), "by")), "alice");
	json_decref(e);
	before = n;
	if (alert_repeat_scan(f->store, t0 + 86400, 3600) != 0)
		fail_msg("an acknowledged alert was repeated");
	json_decref(last_event(f->store, &n));
	assert_int_equal(n, before);
	assert_int_equal(alert_ack(f->store, 1, "bob", "me too", t0 + 7500),
	    -EALREADY);
	assert_int_equal(alert_ack(f->store, 99, "bob", "x", t0), -ENOENT);

	/* the close carries the ack; a closed alert takes none */
	post_state(f, 2, "disk", "OK");
	e = last_event(f->store, &n);
	assert_string_equal(json_string_value(json_object_get(e, "event")),
	    "closed");
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(e, "ack"), "comment")), "on it");
	json_decref(e);
	post_state(f, 3, "disk", "WARNING");	/* alert 2 */
	post_state(f, 4, "disk", "OK");
	assert_int_equal(alert_ack(f->store, 2, "bob", "late", t0), -ESTALE);

	/* history of alert 1: opened, acknowledged, closed */
	assert_int_equal(fleet_alert(f->store, 1, &a), 0);
	h = json_object_get(a, "history");
	assert_int_equal(json_array_size(h), 3);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(h, 1), "event")), "acknowledged");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(h, 1), "by")), "alice");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(h, 2), "event")), "closed");
	json_decref(a);
	assert_int_equal(fleet_alert(f->store, 999, &a), -ENOENT);
}

static void
test_repeat_held(void **state)
{
	struct portalfix *f = *state;
	char sql[256];
	double t0;

	post_state(f, 1, "mem", "CRITICAL");
	t0 = opened_at(f->store, 1);
	/* a maintenance window holds it */
	snprintf(sql, sizeof(sql), "UPDATE agents SET maint_open = 1, "
	    "maint_until = %.0f", t0 + 86400);
	exec(f->store, sql);
	if (alert_repeat_scan(f->store, t0 + 7200, 3600) != 0)
		fail_msg("repeated during a maintenance window");
	/* after the window's end (by the clock) it goes out */
	assert_int_equal(alert_repeat_scan(f->store, t0 + 86401, 3600), 1);
	exec(f->store, "UPDATE agents SET maint_open = 0");
	/* a silence of its check holds it too */
	snprintf(sql, sizeof(sql), "UPDATE checks SET silenced_until = %.0f "
	    "WHERE name = 'mem'", t0 + 200000);
	exec(f->store, sql);
	assert_int_equal(alert_repeat_scan(f->store, t0 + 100000, 3600), 0);
	assert_int_equal(alert_repeat_scan(f->store, t0 + 200001, 3600), 1);
}

static size_t
listed(struct store *s, const struct fleet_alert_query *q)
{
	json_t *o;
	size_t n;

	assert_int_equal(fleet_alerts_query(s, q, &o), 0);
	n = json_array_size(json_object_get(o, "alerts"));
	json_decref(o);
	return n;
}

static void
test_filters(void **state)
{
	struct portalfix *f = *state;
	struct fleet_alert_query q = { 0 };

	post_state(f, 1, "disk", "CRITICAL");
	post_state(f, 2, "disk", "OK");
	post_state(f, 3, "mem", "WARNING");
	assert_int_equal(listed(f->store, &q), 2);
	q.open_only = 1;
	assert_int_equal(listed(f->store, &q), 1);
	q.open_only = 0;
	q.closed_only = 1;
	assert_int_equal(listed(f->store, &q), 1);
	q.closed_only = 0;
	q.check = "mem";
	assert_int_equal(listed(f->store, &q), 1);
	q.check = NULL;
	q.host = f->e.agent_id;
	assert_int_equal(listed(f->store, &q), 2);
	q.host = "other";
	assert_int_equal(listed(f->store, &q), 0);
}

/* GET /hosts?sort=status: unreachable, critical, unknown (PENDING only),
 * warning, ok, unenrolled; paging and search. */
static void
test_hosts_sort(void **state)
{
	struct portalfix *f = *state;
	struct fleet_host_query q = { .sort = "status" };
	static const char *const want[] = { "h-a", "h-b", "h-d", "h-f",
	    "h-c", "h-e" };
	json_t *o, *h;
	size_t i;

	exec(f->store, "DELETE FROM agents");
	exec(f->store, "INSERT INTO agents (id, cred_hash, machine_id, "
	    "hostname, inventory, enrolled, report_interval, unreachable, "
	    "revoked) VALUES "
	    "('a', 'x1', 'm1', 'h-a', '{}', 0, 60, 1, NULL),"
	    "('b', 'x2', 'm2', 'h-b', '{}', 0, 60, 0, NULL),"
	    "('c', 'x3', 'm3', 'h-c', '{}', 0, 60, 0, NULL),"
	    "('d', 'x4', 'm4', 'h-d', '{}', 0, 60, 0, NULL),"
	    "('e', 'x5', 'm5', 'h-e', '{}', 0, 60, 0, 1),"
	    "('f', 'x6', 'm6', 'h-f', '{}', 0, 60, 0, NULL)");
	exec(f->store, "INSERT INTO checks (agent_id, name, state, since, at, "
	    "result) VALUES ('a', 'x', 'OK', 0, 0, '{}'), "
	    "('b', 'x', 'OK', 0, 0, '{}'), ('b', 'y', 'CRITICAL', 0, 0, '{}'),"
	    "('b', 'z', 'WARNING', 0, 0, '{}'), ('c', 'x', 'OK', 0, 0, '{}'),"
	    "('d', 'x', 'PENDING', 0, 0, '{}'), ('e', 'x', 'CRITICAL', 0, 0, "
	    "'{}'), ('f', 'x', 'WARNING', 0, 0, '{}'), "
	    "('f', 'y', 'PENDING', 0, 0, '{}')");
	assert_int_equal(fleet_hosts_query(f->store, &q, &o), 0);
	assert_int_equal(json_integer_value(json_object_get(o, "total")), 6);
	json_array_foreach(json_object_get(o, "hosts"), i, h)
		if (i >= 6 || strcmp(json_string_value(json_object_get(h,
		    "hostname")), want[i]) != 0)
			fail_msg("sort=status: %zu is %s, want %s", i,
			    json_string_value(json_object_get(h, "hostname")),
			    i < 6 ? want[i] : "none");
	json_decref(o);
	q.limit = 2;
	q.offset = 2;
	assert_int_equal(fleet_hosts_query(f->store, &q, &o), 0);
	h = json_object_get(o, "hosts");
	assert_int_equal(json_array_size(h), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(h,
	    0), "hostname")), "h-d");
	json_decref(o);
	q.limit = 0;
	q.offset = 0;
	q.q = "H-F";
	assert_int_equal(fleet_hosts_query(f->store, &q, &o), 0);
	assert_int_equal(json_integer_value(json_object_get(o, "total")), 1);
	json_decref(o);
	q.q = "h_";
	assert_int_equal(fleet_hosts_query(f->store, &q, &o), 0);
	assert_int_equal(json_integer_value(json_object_get(o, "total")), 0);
	json_decref(o);
}

/* The ack body: a comment string, 1 to 1024 bytes; nothing else. */
static void
test_parse_ack(void **state)
{
	static const char *const bad[] = {
		"", "[]", "{}", "{\"comment\": 1}", "{\"comment\": \"\"}",
		"{\"comment\": null}", "{\"comment\": [\"x\"]}",
		"{\"comment\": \"a\\u0000b\"}", "not json",
	};
	char big[2200], err[256];
	const char *c;
	json_t *root;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ingest_parse_ack(bad[i], strlen(bad[i]), &root, &c, err,
		    sizeof(err)) == 0)
			fail_msg("accepted %s", bad[i]);
		assert_null(root);
	}
	snprintf(big, sizeof(big), "{\"comment\": \"%01025d\"}", 0);
	assert_int_not_equal(ingest_parse_ack(big, strlen(big), &root, &c,
	    err, sizeof(err)), 0);
	snprintf(big, sizeof(big), "{\"comment\": \"%01024d\"}", 0);
	assert_int_equal(ingest_parse_ack(big, strlen(big), &root, &c, err,
	    sizeof(err)), 0);
	assert_int_equal(strlen(c), 1024);
	json_decref(root);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_repeat_and_ack, setup,
		    portalfix_teardown),
		cmocka_unit_test_setup_teardown(test_repeat_held, setup,
		    portalfix_teardown),
		cmocka_unit_test_setup_teardown(test_filters, setup,
		    portalfix_teardown),
		cmocka_unit_test_setup_teardown(test_hosts_sort, setup,
		    portalfix_teardown),
		cmocka_unit_test(test_parse_ack),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
