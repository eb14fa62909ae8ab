/* The portal's side of proactive warnings (issue 11, protocol.md
 * "Warnings"): maintenance windows and silences hold alerts and webhooks
 * back until they end; a flapping check has one alert; forecasts and
 * reasons are kept and shown; hostile members are refused by name. */
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
#include "ledger.h"
#include "portal.h"
#include "portalfix.h"
#include "store.h"

static int
setup(void **state)
{
	alert_outbox_enable(1);
	return portalfix_setup(state);
}

/* A report request of one report; payload is JSON text. */
static void
post(struct portalfix *f, long long seq, const char *kind,
    const char *payload)
{
	char *json;

	if (asprintf(&json, "{\"reports\": [{\"seq\": %lld, \"kind\": "
	    "\"%s\", \"time\": 1, \"payload\": %s}]}", seq, kind,
	    payload) < 0)
		fail_msg("asprintf");
	portalfix_post(f->store, f->e.agent_id, json);
	free(json);
}

/* A state_change of check "disk" to state; extra is more payload members
 * (starting with a comma) or "". */
static void
post_state(struct portalfix *f, long long seq, const char *state,
    const char *check_extra, const char *extra)
{
	char payload[2048];

	snprintf(payload, sizeof(payload), "{\"check\": {\"name\": \"disk\", "
	    "\"state\": \"%s\", \"summary\": \"disk is %s\"%s}%s}", state,
	    state, check_extra, extra);
	post(f, seq, "state_change", payload);
}

/* The maintenance mark of a report, until `in` seconds from now. */
static const char *
mark(double in)
{
	static char buf[128];

	snprintf(buf, sizeof(buf), ", \"maintenance\": {\"until\": %.0f, "
	    "\"reason\": \"kernel update\"}", store_now() + in);
	return buf;
}

static long long
count(struct portalfix *f, const char *sql)
{
	sqlite3_stmt *st;
	long long n;

	assert_int_equal(sqlite3_prepare_v2(store_db(f->store), sql, -1, &st,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

#define WEBHOOKS(f)	count(f, "SELECT count(*) FROM outbox")
#define OPEN(f)		count(f, "SELECT count(*) FROM alerts WHERE " \
			    "closed IS NULL")
#define ALERTS(f)	count(f, "SELECT count(*) FROM alerts")

/* The open alert of the disk check (new reference), or NULL. */
static json_t *
open_alert(struct portalfix *f)
{
	json_t *a, *e, *found = NULL;
	size_t i;

	assert_int_equal(fleet_alerts(f->store, 1, 0, 0, &a), 0);
	json_array_foreach(json_object_get(a, "alerts"), i, e)
		if (json_is_string(json_object_get(e, "check")))
			found = json_incref(e);
	json_decref(a);
	return found;
}

static json_t *
host(struct portalfix *f)
{
	json_t *h;

	assert_int_equal(fleet_host(f->store, f->e.agent_id, &h), 0);
	return h;
}

/* The disk check of the host view (borrowed from h). */
static json_t *
disk(json_t *h)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(h, "checks"), i, c)
		if (strcmp(json_string_value(json_object_get(c, "name")),
		    "disk") == 0)
			return c;
	fail_msg("no disk check in the host view");
	return NULL;
}

/* A window started and stopped by the agent: nothing while it lasts,
 * the still-CRITICAL check's alert and webhook when it stops. */
static void
test_maintenance_stop(void **state)
{
	struct portalfix *f = *state;
	char payload[256];
	json_t *h, *a;

	snprintf(payload, sizeof(payload), "{\"event\": \"start\", "
	    "\"until\": %.0f, \"reason\": \"kernel update\", \"by\": "
	    "\"root\"}", store_now() + 3600);
	post(f, 1, "maintenance", payload);
	post_state(f, 2, "CRITICAL", "", mark(3600));
	if (OPEN(f) != 0 || WEBHOOKS(f) != 0)
		fail_msg("in maintenance: %lld alerts open, %lld webhooks "
		    "queued (want 0, 0)", OPEN(f), WEBHOOKS(f));
	h = host(f);
	assert_true(json_is_true(json_object_get(h, "in_maintenance")));
	a = json_object_get(h, "maintenance");
	if (!json_is_object(a))
		fail_msg("host view: no maintenance object");
	assert_string_equal(json_string_value(json_object_get(a, "reason")),
	    "kernel update");
	assert_string_equal(json_string_value(json_object_get(a, "by")),
	    "root");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(json_object_get(h, "changes"), 0), "held")),
	    "maintenance");
	assert_string_equal(json_string_value(json_object_get(disk(h),
	    "state")), "CRITICAL");
	json_decref(h);

	post(f, 3, "maintenance", "{\"event\": \"stop\", \"by\": \"root\"}");
	if (OPEN(f) != 1 || WEBHOOKS(f) != 1)
		fail_msg("after the window: %lld alerts open, %lld webhooks "
		    "queued (want 1, 1)", OPEN(f), WEBHOOKS(f));
	a = open_alert(f);
	assert_non_null(a);
	assert_string_equal(json_string_value(json_object_get(a, "state")),
	    "CRITICAL");
	json_decref(a);
	h = host(f);
	assert_true(json_is_false(json_object_get(h, "in_maintenance")));
	assert_true(json_is_null(json_object_get(h, "maintenance")));
	json_decref(h);
}

/* A window the agent never ends: the portal's clock ends it (the
 * dead-man job), and hides no silence of the host while it lasts. */
static void
test_maintenance_expires(void **state)
{
	struct portalfix *f = *state;
	double now = store_now();

	post_state(f, 1, "CRITICAL", "", mark(3600));
	post_state(f, 2, "WARNING", "", mark(3600));
	assert_int_equal(OPEN(f), 0);
	assert_int_equal(alert_window_scan(f->store, now + 600), 0);
	/* silent for 10 report intervals, but in maintenance */
	assert_int_equal(alert_deadman_scan(f->store, now + 600), 0);
	assert_int_equal(WEBHOOKS(f), 0);
	assert_int_equal(alert_window_scan(f->store, now + 3601), 1);
	if (OPEN(f) != 1 || WEBHOOKS(f) != 1)
		fail_msg("window over by the portal's clock: %lld alerts open, "
		    "%lld webhooks (want 1, 1)", OPEN(f), WEBHOOKS(f));
	assert_int_equal(count(f, "SELECT count(*) FROM alerts WHERE "
	    "state = 'WARNING' AND closed IS NULL"), 1);
	/* done once */
	assert_int_equal(alert_window_scan(f->store, now + 3700), 0);
	assert_int_equal(alert_deadman_scan(f->store, now + 3700), 1);
}

/* A mark whose until has passed by the portal's clock holds nothing. */
static void
test_maintenance_past(void **state)
{
	struct portalfix *f = *state;

	post_state(f, 1, "CRITICAL", "", mark(-60));
	assert_int_equal(OPEN(f), 1);
	assert_int_equal(WEBHOOKS(f), 1);
}

/* Alerts open before the window stay; a check that recovers inside it
 * has its alert closed when the window ends. */
static void
test_maintenance_recovery(void **state)
{
	struct portalfix *f = *state;

	post_state(f, 1, "CRITICAL", "", "");
	assert_int_equal(OPEN(f), 1);
	post_state(f, 2, "OK", "", mark(3600));
	assert_int_equal(OPEN(f), 1);
	assert_int_equal(WEBHOOKS(f), 1);
	post(f, 3, "maintenance", "{\"event\": \"stop\"}");
	assert_int_equal(OPEN(f), 0);
	assert_int_equal(WEBHOOKS(f), 2);
}

/* A silenced check's change opens nothing until the silence ends. */
static void
test_silence(void **state)
{
	struct portalfix *f = *state;
	char extra[96];
	double now = store_now();
	json_t *h;

	snprintf(extra, sizeof(extra), ", \"silenced_until\": %.0f",
	    now + 600);
	post_state(f, 1, "CRITICAL", "", extra);
	assert_int_equal(OPEN(f), 0);
	assert_int_equal(WEBHOOKS(f), 0);
	h = host(f);
	assert_true(json_is_number(json_object_get(disk(h),
	    "silenced_until")));
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(json_object_get(h, "changes"), 0), "held")),
	    "silenced");
	json_decref(h);
	assert_int_equal(alert_window_scan(f->store, now + 300), 0);
	assert_int_equal(alert_window_scan(f->store, now + 601), 1);
	assert_int_equal(OPEN(f), 1);
	assert_int_equal(WEBHOOKS(f), 1);
	h = host(f);
	assert_true(json_is_null(json_object_get(disk(h), "silenced_until")));
	json_decref(h);
}

/* A silence in the check object (heartbeat), lifted early by the agent:
 * the alert opens with the first report without it. */
static void
test_silence_lifted(void **state)
{
	struct portalfix *f = *state;
	char p[256];

	snprintf(p, sizeof(p), "{\"checks\": [{\"name\": \"disk\", \"state\": "
	    "\"CRITICAL\", \"silenced_until\": %.0f}]}", store_now() + 600);
	post(f, 1, "heartbeat", p);
	assert_int_equal(OPEN(f), 0);
	post(f, 2, "heartbeat", "{\"checks\": [{\"name\": \"disk\", "
	    "\"state\": \"CRITICAL\"}]}");
	assert_int_equal(OPEN(f), 1);
	assert_int_equal(WEBHOOKS(f), 1);
}

/* Flapping start opens one FLAPPING alert; flips in between change
 * nothing; stop closes it and leaves the check's own state. */
static void
test_flapping(void **state)
{
	struct portalfix *f = *state;
	static const char flap[] = ", \"flapping\": {\"percent\": 41.5}";
	char p[256];
	json_t *a, *h;
	int i;

	post_state(f, 1, "CRITICAL", flap, ", \"previous_state\": \"OK\", "
	    "\"reason\": {\"type\": \"flapping\", \"event\": \"start\", "
	    "\"percent\": 41.5}");
	assert_int_equal(OPEN(f), 1);
	a = open_alert(f);
	assert_string_equal(json_string_value(json_object_get(a, "state")),
	    "FLAPPING");
	assert_true(json_number_value(json_object_get(json_object_get(a,
	    "flapping"), "percent")) == 41.5);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    a, "reason"), "event")), "start");
	json_decref(a);
	for (i = 0; i < 20; i++) {
		snprintf(p, sizeof(p), "{\"checks\": [{\"name\": \"disk\", "
		    "\"state\": \"%s\"%s}]}", i % 2 ? "CRITICAL" : "OK", flap);
		post(f, 2 + i, "heartbeat", p);
	}
	h = host(f);
	assert_true(json_is_object(json_object_get(disk(h), "flapping")));
	json_decref(h);
	if (ALERTS(f) != 1 || WEBHOOKS(f) != 1)
		fail_msg("while flapping: %lld alerts, %lld webhooks (want 1, "
		    "1)", ALERTS(f), WEBHOOKS(f));
	post_state(f, 30, "OK", "", ", \"reason\": {\"type\": \"flapping\", "
	    "\"event\": \"stop\", \"percent\": 12}");
	if (OPEN(f) != 0 || ALERTS(f) != 1 || WEBHOOKS(f) != 2)
		fail_msg("flapping stopped at OK: %lld open, %lld alerts, %lld "
		    "webhooks (want 0, 1, 2)", OPEN(f), ALERTS(f),
		    WEBHOOKS(f));
	h = host(f);
	assert_true(json_is_null(json_object_get(disk(h), "flapping")));
	json_decref(h);
}

/* Stopping at CRITICAL: the FLAPPING alert gives way to a CRITICAL one. */
static void
test_flapping_stop_critical(void **state)
{
	struct portalfix *f = *state;
	json_t *a;

	post_state(f, 1, "WARNING", ", \"flapping\": {\"percent\": 35}",
	    ", \"reason\": {\"type\": \"flapping\", \"event\": \"start\", "
	    "\"percent\": 35}");
	post_state(f, 2, "CRITICAL", "", ", \"reason\": {\"type\": "
	    "\"flapping\", \"event\": \"stop\", \"percent\": 10}");
	assert_int_equal(OPEN(f), 1);
	assert_int_equal(ALERTS(f), 2);
	a = open_alert(f);
	assert_string_equal(json_string_value(json_object_get(a, "state")),
	    "CRITICAL");
	assert_true(json_is_null(json_object_get(a, "flapping")));
	json_decref(a);
}

/* A forecast's ETA and rate reach the check, the alert and the webhook. */
static void
test_forecast(void **state)
{
	struct portalfix *f = *state;
	static const char fc[] = "{\"item\": \"/var\", \"resource\": "
	    "\"space\", \"eta\": 273600, \"rate\": 1288490188.8, "
	    "\"unit\": \"B\"}";
	char ce[256], pe[256];
	json_t *a, *h, *c;
	sqlite3_stmt *st;

	snprintf(ce, sizeof(ce), ", \"forecast\": %s", fc);
	snprintf(pe, sizeof(pe), ", \"previous_state\": \"OK\", \"reason\": "
	    "{\"type\": \"forecast\", \"item\": \"/var\", \"resource\": "
	    "\"space\", \"eta\": 273600, \"rate\": 1288490188.8, \"unit\": "
	    "\"B\"}");
	post_state(f, 1, "WARNING", ce, pe);
	a = open_alert(f);
	assert_non_null(a);
	c = json_object_get(a, "forecast");
	assert_true(json_number_value(json_object_get(c, "eta")) == 273600);
	assert_true(json_number_value(json_object_get(c, "rate")) ==
	    1288490188.8);
	assert_string_equal(json_string_value(json_object_get(c, "text")),
	    "/var full in ~3 d 4 h at 1.2 GiB/day");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    a, "reason"), "type")), "forecast");
	json_decref(a);
	/* the webhook's body is the alert's JSON */
	assert_int_equal(sqlite3_prepare_v2(store_db(f->store), "SELECT body "
	    "FROM outbox", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	if (strstr((const char *)sqlite3_column_text(st, 0),
	    "\"eta\":273600") == NULL ||
	    strstr((const char *)sqlite3_column_text(st, 0),
	    "3 d 4 h at 1.2 GiB/day") == NULL)
		fail_msg("webhook body without the forecast: %s",
		    sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	h = host(f);
	c = json_object_get(disk(h), "forecast");
	assert_string_equal(json_string_value(json_object_get(c, "item")),
	    "/var");
	assert_true(json_number_value(json_object_get(c, "eta")) == 273600);
	assert_true(json_is_number(json_object_get(c, "when")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    disk(h), "reason"), "type")), "forecast");
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    json_array_get(json_object_get(h, "changes"), 0), "reason"),
	    "type")), "forecast");
	json_decref(h);
}

/* What an enrolled but hostile agent might send. */
static void
refused(const char *payload, const char *kind, const char *want)
{
	struct ingest_batch *b = calloc(1, sizeof(*b));
	char *json, err[256];

	if (asprintf(&json, "{\"reports\": [{\"seq\": 1, \"kind\": \"%s\", "
	    "\"time\": 1, \"payload\": %s}]}", kind, payload) < 0)
		fail_msg("asprintf");
	if (ingest_parse_reports(json, strlen(json), b, err,
	    sizeof(err)) == 0)
		fail_msg("accepted: %s", json);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" does not name %s", err, want);
	free(json);
	free(b);
}

#define CHK(x)	"{\"check\": {\"name\": \"d\", \"state\": \"OK\"" x "}}"

static void
test_hostile(void **state)
{
	char big[700], p[900];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	refused("{\"event\": \"start\", \"until\": -5}", "maintenance",
	    "payload.until");
	refused("{\"event\": \"start\", \"until\": 1e300}", "maintenance",
	    "payload.until");
	refused("{\"event\": \"start\"}", "maintenance", "payload.until");
	refused("{\"event\": \"pause\", \"until\": 5}", "maintenance",
	    "payload.event");
	refused("{\"event\": \"start\", \"until\": \"soon\"}", "maintenance",
	    "payload.until");
	snprintf(p, sizeof(p), "{\"event\": \"start\", \"until\": 5, "
	    "\"reason\": \"%s\"}", big);
	refused(p, "maintenance", "payload.reason");
	snprintf(p, sizeof(p), "{\"event\": \"stop\", \"by\": \"%s\"}", big);
	refused(p, "maintenance", "payload.by");
	refused("{\"event\": \"stop\", \"by\": 7}", "maintenance",
	    "payload.by");
	refused("{\"checks\": [], \"maintenance\": \"yes\"}", "heartbeat",
	    "payload.maintenance");
	refused("{\"checks\": [], \"maintenance\": {\"until\": -1}}",
	    "heartbeat", "payload.maintenance.until");
	snprintf(p, sizeof(p), "{\"checks\": [], \"maintenance\": {\"until\": "
	    "5, \"reason\": \"%s\"}}", big);
	refused(p, "heartbeat", "payload.maintenance.reason");
	refused("{\"command_id\": \"cmd_1\", \"status\": \"done\", "
	    "\"maintenance\": {\"reason\": \"\"}}", "command_result",
	    "payload.maintenance.until");
	refused(CHK(", \"forecast\": \"soon\""), "state_change",
	    "check.forecast");
	refused(CHK(", \"forecast\": {\"item\": \"/\", \"resource\": \"space\","
	    " \"eta\": 5, \"rate\": 0}"), "state_change",
	    "check.forecast.rate");
	refused(CHK(", \"forecast\": {\"item\": \"/\", \"resource\": \"space\","
	    " \"eta\": -1, \"rate\": 3}"), "state_change",
	    "check.forecast.eta");
	refused(CHK(", \"forecast\": {\"item\": \"/\", \"resource\": \"space\","
	    " \"eta\": 1e30, \"rate\": 3}"), "state_change",
	    "check.forecast.eta");
	refused(CHK(", \"forecast\": {\"resource\": \"space\", \"eta\": 1, "
	    "\"rate\": 3}"), "state_change", "check.forecast.item");
	snprintf(p, sizeof(p), CHK(", \"forecast\": {\"item\": \"%s\", "
	    "\"resource\": \"space\", \"eta\": 1, \"rate\": 3}"), big);
	refused(p, "state_change", "check.forecast.item");
	refused(CHK(", \"forecast\": {\"item\": \"/\", \"resource\": \"space\","
	    " \"eta\": 1, \"rate\": 3, \"unit\": \"gigabytes\"}"),
	    "state_change", "check.forecast.unit");
	refused(CHK(", \"flapping\": {\"percent\": 150}"), "state_change",
	    "check.flapping.percent");
	refused(CHK(", \"flapping\": true"), "state_change", "check.flapping");
	refused(CHK(", \"silenced_until\": \"later\""), "state_change",
	    "check.silenced_until");
	refused("{\"checks\": [{\"name\": \"d\", \"state\": \"OK\", "
	    "\"silenced_until\": -3}]}", "heartbeat",
	    "checks[0].silenced_until");
	refused("{\"check\": {\"name\": \"d\", \"state\": \"OK\"}, "
	    "\"reason\": \"forecast\"}", "state_change", "payload.reason");
	refused("{\"check\": {\"name\": \"d\", \"state\": \"OK\"}, "
	    "\"reason\": {\"type\": 5}}", "state_change",
	    "payload.reason.type");
	refused("{\"check\": {\"name\": \"d\", \"state\": \"OK\"}, "
	    "\"reason\": {\"type\": \"flapping\", \"event\": \"maybe\"}}",
	    "state_change", "payload.reason.event");
	refused("{\"check\": {\"name\": \"d\", \"state\": \"OK\"}, "
	    "\"reason\": {\"type\": \"soft\", \"attempts\": 0}}",
	    "state_change", "payload.reason.attempts");
	refused("{\"check\": {\"name\": \"d\", \"state\": \"OK\"}, "
	    "\"reason\": {\"type\": \"forecast\", \"item\": \"/\"}}",
	    "state_change", "payload.reason.resource");
	refused("{\"check\": {\"name\": \"d\", \"state\": \"OK\"}, "
	    "\"silenced_until\": 1e300}", "state_change",
	    "payload.silenced_until");
}

/* Unknown members and reason types are ignored; a window or silence
 * ever so far ahead is cut to PORTAL_MAX_WINDOW. */
static void
test_tolerant(void **state)
{
	struct portalfix *f = *state;
	double now = store_now(), until;
	json_t *h;

	post_state(f, 1, "CRITICAL", ", \"forecast\": {\"item\": \"/\", "
	    "\"resource\": \"space\", \"eta\": 5, \"rate\": 3, \"colour\": "
	    "\"red\"}", ", \"reason\": {\"type\": \"astrology\", \"stars\": "
	    "3}, \"maintenance\": {\"until\": 4000000000000, \"mood\": 1}");
	h = host(f);
	until = json_number_value(json_object_get(json_object_get(h,
	    "maintenance"), "until"));
	if (until > store_now() + PORTAL_MAX_WINDOW || until < now +
	    PORTAL_MAX_WINDOW - 5)
		fail_msg("maintenance until %.0f, want now + %.0f", until,
		    PORTAL_MAX_WINDOW);
	assert_null(json_object_get(json_object_get(disk(h), "forecast"),
	    "colour"));
	json_decref(h);
	assert_int_equal(OPEN(f), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_maintenance_stop, setup,
		    portalfix_teardown),
		cmocka_unit_test_setup_teardown(test_maintenance_expires,
		    setup, portalfix_teardown),
		cmocka_unit_test_setup_teardown(test_maintenance_past, setup,
		    portalfix_teardown),
		cmocka_unit_test_setup_teardown(test_maintenance_recovery,
		    setup, portalfix_teardown),
		cmocka_unit_test_setup_teardown(test_silence, setup,
		    portalfix_teardown),
		cmocka_unit_test_setup_teardown(test_silence_lifted, setup,
		    portalfix_teardown),
		cmocka_unit_test_setup_teardown(test_flapping, setup,
		    portalfix_teardown),
		cmocka_unit_test_setup_teardown(test_flapping_stop_critical,
		    setup, portalfix_teardown),
		cmocka_unit_test_setup_teardown(test_forecast, setup,
		    portalfix_teardown),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test_setup_teardown(test_tolerant, setup,
		    portalfix_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
