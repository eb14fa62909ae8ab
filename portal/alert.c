/*
 * Opening and closing alerts, the journal events that go with them, and
 * the webhook outbox rows written in the caller's transaction.
 */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "alert.h"
#include "log.h"
#include "portal.h"
#include "store.h"
#include "webhook.h"

static atomic_int alert_outbox_on;

void
alert_outbox_enable(int on)
{
	atomic_store(&alert_outbox_on, on);
}

/*
 * "/var full in ~3 d 4 h at 1.2 GiB/day": what an operator reads first in
 * an alert from a forecast. buf gets "" when f lacks what it needs.
 */
void
alert_forecast_text(const json_t *f, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB",
	    "TiB", "PiB", "EiB" };
	const char *item, *res, *unit;
	char eta[48], rate[48], what[192];
	double e, r;
	size_t u = 0;

	buf[0] = '\0';
	item = json_string_value(json_object_get(f, "item"));
	res = json_string_value(json_object_get(f, "resource"));
	unit = json_string_value(json_object_get(f, "unit"));
	if (item == NULL || res == NULL ||
	    !json_is_number(json_object_get(f, "eta")) ||
	    !json_is_number(json_object_get(f, "rate")))
		return;
	e = json_number_value(json_object_get(f, "eta"));
	r = json_number_value(json_object_get(f, "rate"));
	if (e >= 86400)
		snprintf(eta, sizeof(eta), "%.0f d %.0f h", floor(e / 86400),
		    floor(fmod(e, 86400) / 3600));
	else if (e >= 3600)
		snprintf(eta, sizeof(eta), "%.0f h %.0f min", floor(e / 3600),
		    floor(fmod(e, 3600) / 60));
	else
		snprintf(eta, sizeof(eta), "%.0f min", floor(e / 60));
	if (unit != NULL && strcmp(unit, "B") == 0) {
		while (r >= 1024 && u < sizeof(units) / sizeof(units[0]) - 1) {
			r /= 1024;
			u++;
		}
		snprintf(rate, sizeof(rate), "%.1f %s/day", r, units[u]);
	} else
		snprintf(rate, sizeof(rate), "%.3g %s/day", r,
		    unit != NULL && unit[0] != '\0' ? unit : "units");
	if (strcmp(res, "inodes") == 0)
		snprintf(what, sizeof(what), "%.128s out of inodes", item);
	else if (strcmp(res, "space") == 0 || strcmp(res, "memory") == 0)
		snprintf(what, sizeof(what), "%.128s full", item);
	else
		snprintf(what, sizeof(what), "%.128s %.16s exhausted", item,
		    res);
	snprintf(buf, len, "%s in ~%s at %s", what, eta, rate);
}

/* Column i as parsed JSON, or null (a new reference either way). */
static json_t *
alert_json_column(sqlite3_stmt *st, int i)
{
	json_t *v;

	if (sqlite3_column_type(st, i) == SQLITE_NULL ||
	    (v = json_loads(store_text(st, i), 0, NULL)) == NULL)
		return json_null();
	return v;
}

json_t *
alert_row_json(sqlite3_stmt *st)
{
	json_t *o, *f;
	char text[320];

	o = json_pack("{s:I, s:s, s:s, s:s, s:o, s:s, s:s, s:f, s:o}",
	    "id", (json_int_t)sqlite3_column_int64(st, 0),
	    "host_id", store_text(st, 1),
	    "hostname", store_text(st, 2),
	    "kind", store_text(st, 3),
	    "check", sqlite3_column_type(st, 4) == SQLITE_NULL ? json_null() :
	    json_string(store_text(st, 4)),
	    "state", store_text(st, 5),
	    "summary", store_text(st, 6),
	    "opened", sqlite3_column_double(st, 7),
	    "closed", sqlite3_column_type(st, 8) == SQLITE_NULL ? json_null() :
	    json_real(sqlite3_column_double(st, 8)));
	if (o == NULL)
		return NULL;
	/* Warnings (schema 7): why the check changed, the forecast with
	 * its ETA and rate in words, and the flapping percentage. */
	json_object_set_new(o, "reason", alert_json_column(st, 9));
	f = alert_json_column(st, 10);
	if (json_is_object(f)) {
		alert_forecast_text(f, text, sizeof(text));
		json_object_set_new(f, "text", json_string(text));
	}
	json_object_set_new(o, "forecast", f);
	json_object_set_new(o, "flapping",
	    sqlite3_column_type(st, 11) == SQLITE_NULL ? json_null() :
	    json_pack("{s:f}", "percent", sqlite3_column_double(st, 11)));
	/* Schema 8: who acknowledged it, when, and why. */
	json_object_set_new(o, "ack",
	    sqlite3_column_type(st, 12) == SQLITE_NULL ? json_null() :
	    json_pack("{s:f, s:s, s:s}", "at", sqlite3_column_double(st, 12),
	    "by", store_text(st, 13), "comment", store_text(st, 14)));
	return o;
}

/* The alert's JSON plus "event" goes to the outbox, and an event is logged. */
static int
alert_event(struct store *s, sqlite3_int64 id, const char *event)
{
	static const char sel[] = "SELECT " ALERT_COLUMNS " WHERE a.id = ?";
	static const char ins[] = "INSERT INTO outbox (body, created, "
	    "next_try) VALUES (?, ?, ?)";
	char f_id[48], f_agent[64], f_kind[32], f_check[300], esc[256];
	const char *fields[4] = { f_id, f_agent, f_kind, f_check };
	sqlite3_stmt *st;
	json_t *o = NULL;
	char *body = NULL;
	int r;

	if ((st = store_stmt(s, sel)) == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	if (store_step(s, st) != SQLITE_ROW)
		return -EIO;
	o = alert_row_json(st);
	if (o == NULL) {
		r = -ENOMEM;
		goto out;
	}
	snprintf(f_id, sizeof(f_id), "ALERT_ID=%lld", (long long)id);
	snprintf(f_agent, sizeof(f_agent), "AGENT_ID=%s", store_text(st, 1));
	snprintf(f_kind, sizeof(f_kind), "ALERT_KIND=%s", store_text(st, 3));
	snprintf(f_check, sizeof(f_check), "CHECK=%s",
	    log_escape(esc, sizeof(esc), store_text(st, 4)));
	log_event(strcmp(event, "opened") == 0 ? LOG_WARNING : LOG_NOTICE,
	    strcmp(event, "opened") == 0 ? MSGID_PORTAL_ALERT_OPENED :
	    strcmp(event, "closed") == 0 ? MSGID_PORTAL_ALERT_CLOSED : NULL,
	    fields, 4, "alert %lld %s: %s %s on %s",
	    (long long)id, event, store_text(st, 3), f_check + 6,
	    log_escape(esc, sizeof(esc), store_text(st, 2)));
	if (!atomic_load(&alert_outbox_on)) {
		r = 0;
		goto out;
	}
	json_object_set_new(o, "event", json_string(event));
	if ((body = json_dumps(o, JSON_COMPACT)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if ((st = store_stmt(s, ins)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, body, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, store_now());
	sqlite3_bind_double(st, 3, 0);
	if (store_step(s, st) != SQLITE_DONE) {
		r = -EIO;
		goto out;
	}
	webhook_kick();
	r = 0;
out:
	free(body);
	json_decref(o);
	return r;
}

/* alert_open with the warning columns; w may be NULL. */
static int
alert_insert(struct store *s, const char *agent_id, const char *kind,
    const char *check, const char *state, const char *summary,
    const struct alert_warning *w, double now)
{
	static const char ins[] = "INSERT INTO alerts (agent_id, kind, "
	    "check_name, state, summary, opened, reason, forecast, flapping) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
	sqlite3_stmt *st;

	if ((st = store_stmt(s, ins)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	if (check != NULL)
		sqlite3_bind_text(st, 3, check, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, state, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, summary, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 6, now);
	if (w != NULL && w->reason != NULL)
		sqlite3_bind_text(st, 7, w->reason, -1, SQLITE_STATIC);
	if (w != NULL && w->forecast != NULL)
		sqlite3_bind_text(st, 8, w->forecast, -1, SQLITE_STATIC);
	if (w != NULL && w->flapping >= 0)
		sqlite3_bind_double(st, 9, w->flapping);
	if (store_step(s, st) != SQLITE_DONE)
		return -EIO;
	return alert_event(s, sqlite3_last_insert_rowid(store_db(s)),
	    "opened");
}

int
alert_open(struct store *s, const char *agent_id, const char *kind,
    const char *check, const char *state, const char *summary, double now)
{
	return alert_insert(s, agent_id, kind, check, state, summary, NULL,
	    now);
}

/* Closes the open alerts the statement selects (ids in column 0). */
static int
alert_close_selected(struct store *s, sqlite3_stmt *sel, double now)
{
	static const char upd[] = "UPDATE alerts SET closed = ? WHERE id = ?";
	sqlite3_int64 ids[64];
	sqlite3_stmt *st;
	size_t i, n = 0;
	int rc, r;

	while ((rc = store_step(s, sel)) == SQLITE_ROW && n < 64)
		ids[n++] = sqlite3_column_int64(sel, 0);
	sqlite3_reset(sel);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -EIO;
	for (i = 0; i < n; i++) {
		if ((st = store_stmt(s, upd)) == NULL)
			return -EIO;
		sqlite3_bind_double(st, 1, now);
		sqlite3_bind_int64(st, 2, ids[i]);
		if (store_step(s, st) != SQLITE_DONE)
			return -EIO;
		if ((r = alert_event(s, ids[i], "closed")) != 0)
			return r;
	}
	return 0;
}

int
alert_close(struct store *s, const char *agent_id, const char *kind,
    const char *check, double now)
{
	static const char sel[] = "SELECT id FROM alerts WHERE agent_id = ? "
	    "AND kind = ? AND (?3 IS NULL OR check_name = ?3) AND "
	    "closed IS NULL";
	sqlite3_stmt *st;

	if ((st = store_stmt(s, sel)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	if (check != NULL)
		sqlite3_bind_text(st, 3, check, -1, SQLITE_STATIC);
	return alert_close_selected(s, st, now);
}

int
alert_close_agent(struct store *s, const char *agent_id, double now)
{
	static const char sel[] = "SELECT id FROM alerts WHERE agent_id = ? "
	    "AND closed IS NULL";
	sqlite3_stmt *st;

	if ((st = store_stmt(s, sel)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	return alert_close_selected(s, st, now);
}

const char *
alert_check_desired(const char *state, double flapping)
{
	if (flapping >= 0)
		return "FLAPPING";
	if (state != NULL && (strcmp(state, "WARNING") == 0 ||
	    strcmp(state, "CRITICAL") == 0))
		return state;
	return NULL;
}

int
alert_check_reconcile(struct store *s, const char *agent_id,
    const char *check, const char *desired, const char *summary,
    const struct alert_warning *w, double now, int *budget)
{
	static const char sel[] = "SELECT state FROM alerts WHERE "
	    "agent_id = ? AND kind = 'check' AND check_name = ? AND "
	    "closed IS NULL LIMIT 2";
	sqlite3_stmt *st;
	char open[16] = "";
	int rc, n = 0, r;

	if ((st = store_stmt(s, sel)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, check, -1, SQLITE_STATIC);
	while ((rc = store_step(s, st)) == SQLITE_ROW)
		if (n++ == 0)
			snprintf(open, sizeof(open), "%s", store_text(st, 0));
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return -EIO;
	if (n == 1 && desired != NULL && strcmp(open, desired) == 0)
		return 0;
	if (n == 0 && desired == NULL)
		return 0;
	if (n > 0 && (r = alert_close(s, agent_id, "check", check, now)) != 0)
		return r;
	if (desired == NULL)
		return 0;
	/* Out of budget: the check's state is stored, its alert is not. */
	if (*budget <= 0)
		return 1;
	(*budget)--;
	return alert_insert(s, agent_id, "check", check, desired, summary, w,
	    now);
}

/*
 * Brings the check alerts of the agent (of the check name, if not NULL)
 * in line with its checks' stored states (alert_check_reconcile),
 * skipping checks still silenced: what a maintenance window or a silence
 * held back is acted on when it ends.
 */
static int
alert_reconcile_checks(struct store *s, const char *agent_id,
    const char *name, double now, int *budget)
{
	static const char sel[] = "SELECT name, state, flapping, forecast, "
	    "reason, json_extract(result, '$.summary') FROM checks WHERE "
	    "agent_id = ?1 AND (?3 IS NULL OR name = ?3) AND "
	    "state != 'PENDING' AND (silenced_until IS NULL OR "
	    "silenced_until <= ?2) ORDER BY name";
	sqlite3_stmt *st;
	json_t *rows = NULL, *row;
	struct alert_warning w;
	int rc, r;
	size_t i;

	/* Collected first: reconciling runs other statements. */
	if ((st = store_stmt(s, sel)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, now);
	if (name != NULL)
		sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	if ((rows = json_array()) == NULL)
		return -ENOMEM;
	while ((rc = store_step(s, st)) == SQLITE_ROW)
		json_array_append_new(rows, json_pack("[s, s, f, s?, s?, s?]",
		    store_text(st, 0), store_text(st, 1),
		    sqlite3_column_type(st, 2) == SQLITE_NULL ? -1.0 :
		    sqlite3_column_double(st, 2),
		    sqlite3_column_type(st, 3) == SQLITE_NULL ? NULL :
		    store_text(st, 3),
		    sqlite3_column_type(st, 4) == SQLITE_NULL ? NULL :
		    store_text(st, 4),
		    sqlite3_column_type(st, 5) == SQLITE_NULL ? NULL :
		    store_text(st, 5)));
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		r = -EIO;
		goto out;
	}
	json_array_foreach(rows, i, row) {
		w.flapping = json_real_value(json_array_get(row, 2));
		w.forecast = json_string_value(json_array_get(row, 3));
		w.reason = json_string_value(json_array_get(row, 4));
		r = alert_check_reconcile(s, agent_id,
		    json_string_value(json_array_get(row, 0)),
		    alert_check_desired(json_string_value(json_array_get(row,
		    1)), w.flapping), json_is_string(json_array_get(row, 5)) ?
		    json_string_value(json_array_get(row, 5)) : "", &w, now,
		    budget);
		if (r < 0)
			goto out;
	}
	r = 0;
out:
	json_decref(rows);
	return r;
}

int
alert_window_end(struct store *s, const char *agent_id, double now)
{
	static const char upd[] = "UPDATE agents SET maint_open = 0 WHERE "
	    "id = ?";
	sqlite3_stmt *st;
	int budget = PORTAL_MAX_CHECKS;

	if ((st = store_stmt(s, upd)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	if (store_step(s, st) != SQLITE_DONE)
		return -EIO;
	return alert_reconcile_checks(s, agent_id, NULL, now, &budget);
}

int
alert_window_scan(struct store *s, double now)
{
	static const char win[] = "SELECT id FROM agents WHERE maint_open = 1 "
	    "AND revoked IS NULL AND maint_until <= ? LIMIT 64";
	static const char sil[] = "SELECT agent_id, name FROM checks WHERE "
	    "silenced_until IS NOT NULL AND silenced_until <= ? LIMIT 256";
	static const char unsil[] = "UPDATE checks SET silenced_until = NULL "
	    "WHERE agent_id = ? AND name = ?";
	char ids[64][40];
	json_t *rows = NULL, *row;
	sqlite3_stmt *st;
	int n = 0, i, rc, r, done = 0, budget = PORTAL_MAX_CHECKS;
	size_t k;

	store_lock(s);
	if ((r = store_begin(s)) != 0)
		goto out;
	if ((st = store_stmt(s, win)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_double(st, 1, now);
	while ((rc = store_step(s, st)) == SQLITE_ROW && n < 64)
		snprintf(ids[n++], sizeof(ids[0]), "%s", store_text(st, 0));
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		r = -EIO;
		goto out;
	}
	for (i = 0; i < n; i++) {
		log_info("host %s: maintenance window over; alerts for its "
		    "checks as they are now", ids[i]);
		if ((r = alert_window_end(s, ids[i], now)) < 0)
			goto out;
		done++;
	}
	/* Silences that ran out: the check's alert as its state is now. */
	if ((st = store_stmt(s, sil)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_double(st, 1, now);
	rows = json_array();
	while ((rc = store_step(s, st)) == SQLITE_ROW)
		json_array_append_new(rows, json_pack("[s, s]",
		    store_text(st, 0), store_text(st, 1)));
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		r = -EIO;
		goto out;
	}
	json_array_foreach(rows, k, row) {
		if ((st = store_stmt(s, unsil)) == NULL) {
			r = -EIO;
			goto out;
		}
		sqlite3_bind_text(st, 1, json_string_value(json_array_get(row,
		    0)), -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, json_string_value(json_array_get(row,
		    1)), -1, SQLITE_TRANSIENT);
		if (store_step(s, st) != SQLITE_DONE) {
			r = -EIO;
			goto out;
		}
		if ((r = alert_reconcile_checks(s, json_string_value(
		    json_array_get(row, 0)), json_string_value(
		    json_array_get(row, 1)), now, &budget)) < 0)
			goto out;
		done++;
	}
	r = store_commit(s);
out:
	json_decref(rows);
	if (r < 0)
		store_rollback(s);
	store_unlock(s);
	return r < 0 ? r : done;
}

int
alert_clock_step(struct store *s, double now, double delta)
{
	/*
	 * Stamps ahead of now were made by the clock before it was set
	 * back: they become now, or a silent host would be noticed only
	 * when realtime catches up with them. The step's row grants every
	 * host a grace period from now (alert_deadman_scan); rows older
	 * than any grace period are dropped.
	 */
	static const char seen[] = "UPDATE agents SET last_seen = ?1 WHERE "
	    "last_seen > ?1";
	static const char enrolled[] = "UPDATE agents SET enrolled = ?1 "
	    "WHERE last_seen IS NULL AND enrolled > ?1";
	static const char steps[] = "UPDATE clock_steps SET at = ?1 WHERE "
	    "at > ?1";
	static const char prune[] = "DELETE FROM clock_steps WHERE at < ?1 - ?2";
	static const char ins[] = "INSERT INTO clock_steps (at, delta) "
	    "VALUES (?1, ?2)";
	const char *const sql[] = { seen, enrolled, steps, prune, ins };
	sqlite3_stmt *st;
	size_t i;
	int r;

	store_lock(s);
	if ((r = store_begin(s)) != 0)
		goto out;
	for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		if ((st = store_stmt(s, sql[i])) == NULL) {
			r = -EIO;
			goto out;
		}
		sqlite3_bind_double(st, 1, now);
		if (sql[i] == prune)
			sqlite3_bind_double(st, 2, (PORTAL_DEADMAN_FACTOR + 1) *
			    86400.0);
		else if (sql[i] == ins)
			sqlite3_bind_double(st, 2, delta);
		if (store_step(s, st) != SQLITE_DONE) {
			r = -EIO;
			goto out;
		}
	}
	r = store_commit(s);
out:
	if (r != 0)
		store_rollback(s);
	store_unlock(s);
	return r;
}

int
alert_deadman_scan(struct store *s, double now)
{
	/* Silent for FACTOR intervals, and no clock step within them. */
	static const char sel[] = "SELECT id, hostname, report_interval, "
	    "COALESCE(last_seen, enrolled) FROM agents WHERE revoked IS NULL "
	    "AND unreachable = 0 AND COALESCE(last_seen, enrolled) < "
	    "?1 - ?2 * report_interval AND NOT EXISTS (SELECT 1 FROM "
	    "clock_steps WHERE at >= ?1 - ?2 * agents.report_interval) "
	    "AND NOT (maint_open = 1 AND maint_until > ?1) LIMIT 64";
	static const char upd[] = "UPDATE agents SET unreachable = 1 "
	    "WHERE id = ?";
	char ids[64][40], f_agent[64], esc[256], summary[128];
	const char *fields[1] = { f_agent };
	sqlite3_stmt *st;
	int n = 0, i, rc, r;
	double silent[64];

	store_lock(s);
	if ((r = store_begin(s)) != 0)
		goto out;
	if ((st = store_stmt(s, sel)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_double(st, 1, now);
	sqlite3_bind_int(st, 2, PORTAL_DEADMAN_FACTOR);
	while ((rc = store_step(s, st)) == SQLITE_ROW) {
		snprintf(ids[n], sizeof(ids[n]), "%s", store_text(st, 0));
		silent[n] = now - sqlite3_column_double(st, 3);
		snprintf(f_agent, sizeof(f_agent), "AGENT_ID=%.39s", ids[n]);
		log_event(LOG_WARNING, MSGID_PORTAL_HOST_UNREACHABLE, fields, 1,
		    "host %s (%s) unreachable: nothing for %.0f s",
		    log_escape(esc, sizeof(esc), store_text(st, 1)), ids[n],
		    silent[n]);
		n++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		r = -EIO;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((st = store_stmt(s, upd)) == NULL) {
			r = -EIO;
			goto out;
		}
		sqlite3_bind_text(st, 1, ids[i], -1, SQLITE_STATIC);
		if (store_step(s, st) != SQLITE_DONE) {
			r = -EIO;
			goto out;
		}
		snprintf(summary, sizeof(summary), "no report for %.0f s",
		    silent[i]);
		if ((r = alert_open(s, ids[i], "unreachable", NULL,
		    "UNREACHABLE", summary, now)) != 0)
			goto out;
	}
	r = store_commit(s);
out:
	if (r != 0)
		store_rollback(s);
	store_unlock(s);
	return r != 0 ? r : n;
}

int
alert_ack(struct store *s, long long id, const char *by, const char *comment,
    double now)
{
	static const char sel[] = "SELECT closed IS NOT NULL, acked IS NOT "
	    "NULL FROM alerts WHERE id = ?";
	static const char upd[] = "UPDATE alerts SET acked = ?, acked_by = ?, "
	    "ack_comment = ? WHERE id = ?";
	sqlite3_stmt *st;
	int rc, r;

	store_lock(s);
	if ((r = store_begin(s)) != 0)
		goto out;
	if ((st = store_stmt(s, sel)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	if ((rc = store_step(s, st)) != SQLITE_ROW) {
		sqlite3_reset(st);
		r = rc == SQLITE_DONE ? -ENOENT : -EIO;
		goto out;
	}
	r = sqlite3_column_int(st, 0) ? -ESTALE : sqlite3_column_int(st, 1) ?
	    -EALREADY : 0;
	sqlite3_reset(st);
	if (r != 0)
		goto out;
	if ((st = store_stmt(s, upd)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_double(st, 1, now);
	sqlite3_bind_text(st, 2, by, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, comment, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, id);
	if (store_step(s, st) != SQLITE_DONE) {
		r = -EIO;
		goto out;
	}
	if ((r = alert_event(s, id, "acknowledged")) != 0)
		goto out;
	r = store_commit(s);
out:
	if (r != 0)
		store_rollback(s);
	store_unlock(s);
	return r;
}

int
alert_repeat_scan(struct store *s, double now, double interval)
{
	/*
	 * Held: the host in a maintenance window by the portal's clock, or
	 * the alert's check silenced; the repeat waits until neither holds.
	 */
	static const char sel[] = "SELECT a.id FROM alerts a JOIN agents g ON "
	    "g.id = a.agent_id LEFT JOIN checks c ON c.agent_id = a.agent_id "
	    "AND c.name = a.check_name WHERE a.closed IS NULL AND "
	    "a.acked IS NULL AND COALESCE(a.notified, a.opened) <= ?1 AND "
	    "NOT (g.maint_open = 1 AND g.maint_until > ?2) AND "
	    "(c.silenced_until IS NULL OR c.silenced_until <= ?2) "
	    "ORDER BY a.id LIMIT 100";
	static const char upd[] = "UPDATE alerts SET notified = ? WHERE id = ?";
	sqlite3_int64 ids[100];
	sqlite3_stmt *st;
	int n = 0, i, r;

	store_lock(s);
	if ((r = store_begin(s)) != 0)
		goto out;
	if ((st = store_stmt(s, sel)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_double(st, 1, now - interval);
	sqlite3_bind_double(st, 2, now);
	while (n < 100 && (r = store_step(s, st)) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (n < 100 && r != SQLITE_DONE) {
		r = -EIO;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((st = store_stmt(s, upd)) == NULL) {
			r = -EIO;
			goto out;
		}
		sqlite3_bind_double(st, 1, now);
		sqlite3_bind_int64(st, 2, ids[i]);
		if (store_step(s, st) != SQLITE_DONE) {
			r = -EIO;
			goto out;
		}
		if ((r = alert_event(s, ids[i], "repeated")) != 0)
			goto out;
	}
	if ((r = store_commit(s)) == 0)
		r = n;
out:
	if (r < 0)
		store_rollback(s);
	store_unlock(s);
	return r;
}
