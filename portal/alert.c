/*
 * Opening and closing alerts, the journal events that go with them, and
 * the webhook outbox rows written in the caller's transaction.
 */
#include <errno.h>
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

json_t *
alert_row_json(sqlite3_stmt *st)
{
	json_t *o;

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
	    MSGID_PORTAL_ALERT_CLOSED, fields, 4, "alert %lld %s: %s %s on %s",
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

int
alert_open(struct store *s, const char *agent_id, const char *kind,
    const char *check, const char *state, const char *summary, double now)
{
	static const char ins[] = "INSERT INTO alerts (agent_id, kind, "
	    "check_name, state, summary, opened) VALUES (?, ?, ?, ?, ?, ?)";
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
	if (store_step(s, st) != SQLITE_DONE)
		return -EIO;
	return alert_event(s, sqlite3_last_insert_rowid(store_db(s)),
	    "opened");
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

static int
alert_state_alerts(const char *state)
{
	return state != NULL && (strcmp(state, "WARNING") == 0 ||
	    strcmp(state, "CRITICAL") == 0);
}

int
alert_check_changed(struct store *s, const char *agent_id, const char *check,
    const char *old_state, const char *new_state, const char *summary,
    double now, int *budget)
{
	int r;

	if (old_state != NULL && strcmp(old_state, new_state) == 0)
		return 0;
	if (alert_state_alerts(old_state) &&
	    (r = alert_close(s, agent_id, "check", check, now)) != 0)
		return r;
	if (!alert_state_alerts(new_state))
		return 0;
	/* Out of budget: the check's state is stored, its alert is not. */
	if (*budget <= 0)
		return 1;
	(*budget)--;
	return alert_open(s, agent_id, "check", check, new_state, summary,
	    now);
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
	    "LIMIT 64";
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
