/*
 * Read side of the store for the operator API, and command queuing. A
 * host replaced by a re-enrolment of the same machine is left out of the
 * host list (its successor is the same machine).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "alert.h"
#include "fleet.h"
#include "store.h"
#include "xmalloc.h"


const char *
fleet_worst(const json_t *counts)
{
	/* Nagios severity order: UNKNOWN ranks between WARNING and CRITICAL. */
	if (json_integer_value(json_object_get(counts, "CRITICAL")) > 0)
		return "critical";
	if (json_integer_value(json_object_get(counts, "UNKNOWN")) > 0)
		return "unknown";
	if (json_integer_value(json_object_get(counts, "WARNING")) > 0)
		return "warning";
	if (json_integer_value(json_object_get(counts, "OK")) > 0)
		return "ok";
	return "unknown";	/* no check result yet */
}

static json_t *
fleet_real_or_null(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null() :
	    json_real(sqlite3_column_double(st, i));
}

/*
 * The host's backups at a glance, for the fleet list: backup_age is the
 * seconds since the last good (ok) backup of its job that is furthest
 * behind, null when no job of the host has ever ended ok or none reported;
 * backups_never_ok counts jobs that reported but never ended ok.
 */
static int
fleet_backup_age(struct store *s, const char *agent_id, json_t *h)
{
	static const char sel[] = "SELECT count(*), min(last_ok), "
	    "sum(CASE WHEN last_ok IS NULL THEN 1 ELSE 0 END) FROM backups "
	    "WHERE agent_id = ?";
	sqlite3_stmt *st;

	if ((st = store_stmt(s, sel)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_TRANSIENT);
	if (store_step(s, st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return -EIO;
	}
	json_object_set_new(h, "backup_jobs",
	    json_integer(sqlite3_column_int(st, 0)));
	json_object_set_new(h, "backup_age",
	    sqlite3_column_type(st, 1) == SQLITE_NULL ? json_null() :
	    json_real(store_now() - sqlite3_column_double(st, 1)));
	json_object_set_new(h, "backups_never_ok",
	    json_integer(sqlite3_column_int(st, 2)));
	sqlite3_reset(st);
	return 0;
}

/* One element of GET /hosts/{id}'s backups, from fleet_host's query. */
static int
fleet_backup_row(struct store *s, sqlite3_stmt *st, json_t **out)
{
	json_t *errors;

	(void)s;
	errors = json_loads(store_text(st, 9), 0, NULL);
	/* Eleven pairs: job, snapshot, kind, status, files, bytes,
	 * stored_bytes, duration, finished, last_ok, errors. */
	*out = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:f, s:f, "
	    "s:o, s:o}", "job", store_text(st, 0), "snapshot",
	    store_text(st, 1), "kind", store_text(st, 2), "status",
	    store_text(st, 3), "files", (json_int_t)sqlite3_column_int64(st, 4),
	    "bytes", (json_int_t)sqlite3_column_int64(st, 5), "stored_bytes",
	    (json_int_t)sqlite3_column_int64(st, 6), "duration",
	    sqlite3_column_double(st, 7), "finished",
	    sqlite3_column_double(st, 8), "last_ok",
	    fleet_real_or_null(st, 10), "errors",
	    errors != NULL ? errors : json_array());
	return *out != NULL ? 0 : -ENOMEM;
}

/* The list form of the host in the current row of a HOST_COLUMNS query. */
#define HOST_COLUMNS "id, hostname, revoked IS NOT NULL, unreachable, " \
	"last_seen, machine_id, enrolled, report_interval, inventory, " \
	"superseded_by, maint_open = 1 AND maint_until > " \
	"(julianday('now') - 2440587.5) * 86400.0, " \
	"maint_until, maint_reason, maint_by, maint_started, " \
	"CASE WHEN json_valid(inventory) THEN " \
	"json_extract(inventory, '$.agent_version') END FROM agents"
static int
fleet_host_row(struct store *s, sqlite3_stmt *row, json_t **out)
{
	static const char cnt[] = "SELECT state, count(*) FROM checks WHERE "
	    "agent_id = ? GROUP BY state";
	json_t *counts, *h;
	sqlite3_stmt *st;
	const char *status;
	int rc;

	*out = NULL;
	counts = json_pack("{s:i, s:i, s:i, s:i}", "OK", 0, "WARNING", 0,
	    "CRITICAL", 0, "UNKNOWN", 0);
	if ((st = store_stmt(s, cnt)) == NULL) {
		json_decref(counts);
		return -EIO;
	}
	sqlite3_bind_text(st, 1, store_text(row, 0), -1, SQLITE_TRANSIENT);
	while ((rc = store_step(s, st)) == SQLITE_ROW)
		json_object_set_new(counts, store_text(st, 0),
		    json_integer(sqlite3_column_int64(st, 1)));
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		json_decref(counts);
		return -EIO;
	}
	if (sqlite3_column_int(row, 2))
		status = "unenrolled";
	else if (sqlite3_column_int(row, 3))
		status = "unreachable";
	else
		status = fleet_worst(counts);
	h = json_pack("{s:s, s:s, s:s, s:o, s:o}", "id", store_text(row, 0),
	    "hostname", store_text(row, 1), "status", status, "last_seen",
	    fleet_real_or_null(row, 4), "counts", counts);
	if (h == NULL)
		return -ENOMEM;
	/* In a maintenance window by the portal's clock (alerts held). */
	json_object_set_new(h, "in_maintenance",
	    json_boolean(sqlite3_column_int(row, 10)));
	/* The web app's fleet column; null until an inventory names it. */
	json_object_set_new(h, "agent_version",
	    sqlite3_column_type(row, 15) == SQLITE_TEXT ?
	    json_string(store_text(row, 15)) : json_null());
	if (fleet_backup_age(s, store_text(row, 0), h) != 0) {
		json_decref(h);
		return -EIO;
	}
	*out = h;
	return 0;
}

/*
 * Steps st to the end, turning each row into an element with row, and
 * sets *out to {key: [elements]}. The caller holds the lock; st is reset
 * here on every path.
 */
static int
fleet_collect(struct store *s, sqlite3_stmt *st, const char *key,
    int (*row)(struct store *, sqlite3_stmt *, json_t **), json_t **out)
{
	json_t *arr = json_array(), *e;
	int rc, r;

	*out = NULL;
	while ((rc = store_step(s, st)) == SQLITE_ROW) {
		if ((r = row(s, st, &e)) != 0) {
			sqlite3_reset(st);
			goto out;
		}
		json_array_append_new(arr, e);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		r = -EIO;
		goto out;
	}
	*out = json_pack("{s:o}", key, arr);
	arr = NULL;	/* transferred */
	r = 0;
out:
	json_decref(arr);
	return r;
}

int
fleet_hosts(struct store *s, json_t **out)
{
	struct fleet_host_query q = { 0 };

	return fleet_hosts_query(s, &q, out);
}

#define HOST_MATCH " WHERE superseded_by IS NULL AND (?1 IS NULL OR " \
	"hostname LIKE ?1 ESCAPE '\\' OR id LIKE ?1 ESCAPE '\\') AND " \
	"(?4 IS NULL OR (" HOST_RANK ") = ?4) "
#define HOST_PAGE " LIMIT ?2 OFFSET ?3"
/*
 * Worst first, as fleet_host_row's status ranks them: one pass over the
 * host's checks (its primary key) for the worst state; PENDING alone, or
 * no check, is unknown. (An index on checks(agent_id, state) would make
 * this about twice as fast, at an index update for every check of every
 * heartbeat.)
 */
#define HOST_RANK "CASE WHEN revoked IS NOT NULL THEN 6 WHEN " \
	"unreachable = 1 THEN 0 ELSE (SELECT CASE WHEN m IS NULL OR m = 9 " \
	"THEN 2 ELSE m END FROM (SELECT min(CASE c.state WHEN 'CRITICAL' " \
	"THEN 1 WHEN 'UNKNOWN' THEN 2 WHEN 'WARNING' THEN 3 WHEN 'OK' THEN 4 " \
	"ELSE 9 END) AS m FROM checks c WHERE c.agent_id = agents.id) w) END"

/* HOST_RANK's values and the status names fleet_host_row gives them. */
static const char *const fleet_rank_names[] = { "unreachable", "critical",
    "unknown", "warning", "ok", NULL, "unenrolled" };

int
fleet_status_valid(const char *st)
{
	for (size_t i = 0; i < sizeof(fleet_rank_names) /
	    sizeof(fleet_rank_names[0]); i++)
		if (fleet_rank_names[i] != NULL &&
		    strcmp(st, fleet_rank_names[i]) == 0)
			return (int)i + 1;
	return 0;
}

/* {"critical": N, ...}: the hosts matching q (not its state or page) by
 * status, for the fleet's counts. */
static int
fleet_status_counts(struct store *s, const char *like, json_t **out)
{
	static const char sql[] = "SELECT r, count(*) FROM (SELECT "
	    HOST_RANK " AS r FROM agents" HOST_MATCH ") GROUP BY r";
	sqlite3_stmt *st;
	int rc;
	long long r;

	if ((st = store_stmt(s, sql)) == NULL)
		return -EIO;
	if (like != NULL)
		sqlite3_bind_text(st, 1, like, -1, SQLITE_STATIC);
	*out = json_object();
	while ((rc = store_step(s, st)) == SQLITE_ROW) {
		r = sqlite3_column_int64(st, 0);
		if (r >= 0 && r < (long long)(sizeof(fleet_rank_names) /
		    sizeof(fleet_rank_names[0])) && fleet_rank_names[r] != NULL)
			json_object_set_new(*out, fleet_rank_names[r],
			    json_integer(sqlite3_column_int64(st, 1)));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		json_decref(*out);
		*out = NULL;
		return -EIO;
	}
	return 0;
}

int
fleet_hosts_query(struct store *s, const struct fleet_host_query *q,
    json_t **out)
{
	static const char by_name[] = "SELECT " HOST_COLUMNS HOST_MATCH
	    "ORDER BY hostname, id" HOST_PAGE;
	static const char by_status[] = "SELECT " HOST_COLUMNS HOST_MATCH
	    "ORDER BY " HOST_RANK ", hostname, id" HOST_PAGE;
	static const char by_seen[] = "SELECT " HOST_COLUMNS HOST_MATCH
	    "ORDER BY COALESCE(last_seen, 0), hostname, id" HOST_PAGE;
	static const char cnt[] = "SELECT count(*) FROM agents" HOST_MATCH;
	const char *sql = by_name;
	char *like = NULL;
	json_t *states = NULL;
	sqlite3_stmt *st;
	size_t i, n;
	long long total = 0;
	int r, rank;

	*out = NULL;
	if (q->sort != NULL && strcmp(q->sort, "status") == 0)
		sql = by_status;
	else if (q->sort != NULL && strcmp(q->sort, "last_seen") == 0)
		sql = by_seen;
	if (q->q != NULL) {
		/* "%q%" with LIKE's own characters escaped */
		like = xcalloc(1, 2 * strlen(q->q) + 3);
		n = 0;
		like[n++] = '%';
		for (i = 0; q->q[i] != '\0'; i++) {
			if (strchr("%_\\", q->q[i]) != NULL)
				like[n++] = '\\';
			like[n++] = q->q[i];
		}
		like[n++] = '%';
		like[n] = '\0';
	}
	rank = q->state != NULL ? fleet_status_valid(q->state) - 1 : -1;
	store_lock(s);
	if ((r = fleet_status_counts(s, like, &states)) != 0)
		goto out;
	if ((st = store_stmt(s, cnt)) == NULL) {
		r = -EIO;
		goto out;
	}
	if (like != NULL)
		sqlite3_bind_text(st, 1, like, -1, SQLITE_STATIC);
	if (rank >= 0)
		sqlite3_bind_int(st, 4, rank);
	if (store_step(s, st) != SQLITE_ROW) {
		sqlite3_reset(st);
		r = -EIO;
		goto out;
	}
	total = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if ((st = store_stmt(s, sql)) == NULL) {
		r = -EIO;
		goto out;
	}
	if (like != NULL)
		sqlite3_bind_text(st, 1, like, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, q->limit > 0 ? q->limit : 100000);
	sqlite3_bind_int(st, 3, q->offset > 0 ? q->offset : 0);
	if (rank >= 0)
		sqlite3_bind_int(st, 4, rank);
	if ((r = fleet_collect(s, st, "hosts", fleet_host_row, out)) == 0) {
		json_object_set_new(*out, "total", json_integer(total));
		json_object_set_new(*out, "states", states);
		states = NULL;
	}
out:
	store_unlock(s);
	json_decref(states);
	free(like);
	return r;
}

/* Column i as parsed JSON, or null (a new reference either way). */
static json_t *
fleet_json_or_null(sqlite3_stmt *st, int i)
{
	json_t *v;

	if (sqlite3_column_type(st, i) == SQLITE_NULL ||
	    (v = json_loads(store_text(st, i), 0, NULL)) == NULL)
		return json_null();
	return v;
}

/*
 * A check of the host view as the portal keeps it: its forecast (with
 * the ETA and rate in words), flapping percentage, silence (null once
 * over by the portal's clock) and the reason of its last state change,
 * from fleet_host's chk query. These replace what the agent sent.
 */
static void
fleet_check_warnings(sqlite3_stmt *st, json_t *c)
{
	char text[320];
	json_t *f;

	f = fleet_json_or_null(st, 2);
	if (json_is_object(f)) {
		alert_forecast_text(f, text, sizeof(text));
		json_object_set_new(f, "text", json_string(text));
	}
	json_object_set_new(c, "forecast", f);
	json_object_set_new(c, "flapping",
	    sqlite3_column_type(st, 3) == SQLITE_NULL ? json_null() :
	    json_pack("{s:f}", "percent", sqlite3_column_double(st, 3)));
	json_object_set_new(c, "silenced_until",
	    sqlite3_column_type(st, 4) == SQLITE_NULL ||
	    sqlite3_column_double(st, 4) <= store_now() ? json_null() :
	    json_real(sqlite3_column_double(st, 4)));
	json_object_set_new(c, "reason", fleet_json_or_null(st, 5));
}

/* One element of GET /hosts/{id}'s changes, from fleet_host's query. */
static int
fleet_change_row(struct store *s, sqlite3_stmt *st, json_t **out)
{
	(void)s;
	/* Eight pairs: check, previous, state, flapping, reason, held, at,
	 * seq. */
	*out = json_pack("{s:s, s:o, s:s, s:o, s:o, s:o, s:f, s:I}",
	    "check", store_text(st, 0), "previous",
	    sqlite3_column_type(st, 1) == SQLITE_NULL ? json_null() :
	    json_string(store_text(st, 1)), "state", store_text(st, 2),
	    "flapping", sqlite3_column_type(st, 3) == SQLITE_NULL ?
	    json_null() : json_pack("{s:f}", "percent",
	    sqlite3_column_double(st, 3)), "reason", fleet_json_or_null(st, 4),
	    "held", sqlite3_column_type(st, 5) == SQLITE_NULL ? json_null() :
	    json_string(store_text(st, 5)), "at",
	    sqlite3_column_double(st, 6), "seq",
	    (json_int_t)sqlite3_column_int64(st, 7));
	return *out != NULL ? 0 : -ENOMEM;
}

int
fleet_host(struct store *s, const char *id, json_t **out)
{
	static const char sel[] = "SELECT " HOST_COLUMNS " WHERE id = ?";
	static const char chk[] = "SELECT result, since, forecast, flapping, "
	    "silenced_until, reason FROM checks WHERE agent_id = ? ORDER BY "
	    "name";
	static const char chg[] = "SELECT name, previous, state, flapping, "
	    "reason, held, at, seq FROM check_changes WHERE agent_id = ? "
	    "ORDER BY id DESC LIMIT " FLEET_MAX_CHANGES_S;
	static const char bk[] = "SELECT job, snapshot, kind, status, files, "
	    "bytes, stored_bytes, duration, finished, errors, last_ok FROM "
	    "backups WHERE agent_id = ? ORDER BY job";
	/* What an engineer's ssh -J line needs, and which key it is. */
	static const char sup[] = "SELECT ssh_key, forward_port FROM agents "
	    "WHERE id = ?";
	json_t *h = NULL, *checks, *c;
	sqlite3_stmt *st;
	int rc, r;

	*out = NULL;
	store_lock(s);
	if ((st = store_stmt(s, sel)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = store_step(s, st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		r = rc == SQLITE_DONE ? -ENOENT : -EIO;
		goto out;
	}
	if ((r = fleet_host_row(s, st, &h)) != 0) {
		sqlite3_reset(st);
		goto out;
	}
	json_object_set_new(h, "machine_id", json_string(store_text(st, 5)));
	json_object_set_new(h, "enrolled",
	    json_real(sqlite3_column_double(st, 6)));
	json_object_set_new(h, "report_interval",
	    json_integer(sqlite3_column_int(st, 7)));
	c = json_loads(store_text(st, 8), 0, NULL);
	json_object_set_new(h, "inventory", c != NULL ? c : json_object());
	json_object_set_new(h, "superseded_by",
	    sqlite3_column_type(st, 9) == SQLITE_NULL ? json_null() :
	    json_string(store_text(st, 9)));
	/* Four pairs: until, reason, by, started. */
	json_object_set_new(h, "maintenance", sqlite3_column_int(st, 10) ?
	    json_pack("{s:f, s:s, s:o, s:o}", "until",
	    sqlite3_column_double(st, 11), "reason", store_text(st, 12), "by",
	    sqlite3_column_type(st, 13) == SQLITE_NULL ? json_null() :
	    json_string(store_text(st, 13)), "started",
	    fleet_real_or_null(st, 14)) : json_null());
	sqlite3_reset(st);

	checks = json_array();
	json_object_set_new(h, "checks", checks);
	if ((st = store_stmt(s, chk)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while ((rc = store_step(s, st)) == SQLITE_ROW) {
		if ((c = json_loads(store_text(st, 0), 0, NULL)) == NULL)
			continue;
		json_object_set_new(c, "since",
		    json_real(sqlite3_column_double(st, 1)));
		fleet_check_warnings(st, c);
		json_array_append_new(checks, c);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		r = -EIO;
		goto out;
	}
	if ((st = store_stmt(s, chg)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if ((r = fleet_collect(s, st, "changes", fleet_change_row, &c)) != 0)
		goto out;
	json_object_update(h, c);
	json_decref(c);
	if ((st = store_stmt(s, bk)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if ((r = fleet_collect(s, st, "backups", fleet_backup_row,
	    &c)) != 0)
		goto out;
	json_object_update(h, c);
	json_decref(c);
	if ((st = store_stmt(s, sup)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (store_step(s, st) == SQLITE_ROW) {
		json_object_set_new(h, "ssh_key",
		    sqlite3_column_type(st, 0) == SQLITE_NULL ? json_null() :
		    json_string(store_text(st, 0)));
		json_object_set_new(h, "forward_port",
		    sqlite3_column_type(st, 1) == SQLITE_NULL ? json_null() :
		    json_integer(sqlite3_column_int(st, 1)));
	}
	sqlite3_reset(st);
	*out = h;
	h = NULL;	/* transferred */
	r = 0;
out:
	store_unlock(s);
	json_decref(h);
	return r;
}

/* alert_row_json reports no failure; a NULL element is skipped on append. */
static int
fleet_alert_row(struct store *s, sqlite3_stmt *st, json_t **out)
{
	(void)s;
	*out = alert_row_json(st);
	return 0;
}

int
fleet_alerts(struct store *s, int open_only, int limit, long long before,
    json_t **out)
{
	struct fleet_alert_query q = { .open_only = open_only,
	    .limit = limit, .before = before };

	return fleet_alerts_query(s, &q, out);
}

int
fleet_alerts_query(struct store *s, const struct fleet_alert_query *q,
    json_t **out)
{
	/* One row more than asked tells whether there is a next page. */
	static const char sel[] = "SELECT " ALERT_COLUMNS
	    " WHERE (?1 = 0 OR a.closed IS NULL) AND (?2 = 0 OR a.id < ?2) "
	    "AND (?4 = 0 OR a.closed IS NOT NULL) AND (?5 IS NULL OR "
	    "a.agent_id = ?5) AND (?6 IS NULL OR a.check_name = ?6) "
	    "ORDER BY a.id DESC LIMIT ?3";
	sqlite3_stmt *st;
	json_t *arr, *last;
	size_t n;
	int r, limit = q->limit;

	*out = NULL;
	if (limit <= 0 || limit > FLEET_MAX_ALERTS)
		limit = FLEET_MAX_ALERTS;
	store_lock(s);
	if ((st = store_stmt(s, sel)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_int(st, 1, q->open_only != 0);
	sqlite3_bind_int64(st, 2, q->before > 0 ? q->before : 0);
	sqlite3_bind_int(st, 3, limit + 1);
	sqlite3_bind_int(st, 4, q->closed_only != 0);
	if (q->host != NULL)
		sqlite3_bind_text(st, 5, q->host, -1, SQLITE_STATIC);
	if (q->check != NULL)
		sqlite3_bind_text(st, 6, q->check, -1, SQLITE_STATIC);
	if ((r = fleet_collect(s, st, "alerts", fleet_alert_row, out)) != 0)
		goto out;
	arr = json_object_get(*out, "alerts");
	n = json_array_size(arr);
	if (n > (size_t)limit) {
		json_array_remove(arr, n - 1);
		last = json_array_get(arr, n - 2);
		json_object_set(*out, "next", json_object_get(last, "id"));
	} else
		json_object_set_new(*out, "next", json_null());
out:
	store_unlock(s);
	return r;
}

/* A history entry: {"event", "at"} (new reference). */
static json_t *
fleet_history_event(const char *event, json_t *at)
{
	return json_pack("{s:s, s:O}", "event", event, "at", at);
}

int
fleet_alert(struct store *s, long long id, json_t **out)
{
	static const char sel[] = "SELECT " ALERT_COLUMNS " WHERE a.id = ?";
	json_t *o = NULL, *h, *ack, *e;
	sqlite3_stmt *st;
	int rc, r;

	*out = NULL;
	store_lock(s);
	if ((st = store_stmt(s, sel)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	if ((rc = store_step(s, st)) != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? -ENOENT : -EIO;
		goto out;
	}
	if ((o = alert_row_json(st)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	/* The alert's life from its own columns: an acknowledgement comes
	 * after the opening and before any close (alert_ack). */
	h = json_array();
	json_array_append_new(h, fleet_history_event("opened",
	    json_object_get(o, "opened")));
	if (json_is_object(ack = json_object_get(o, "ack"))) {
		e = fleet_history_event("acknowledged",
		    json_object_get(ack, "at"));
		json_object_set(e, "by", json_object_get(ack, "by"));
		json_object_set(e, "comment", json_object_get(ack, "comment"));
		json_array_append_new(h, e);
	}
	if (!json_is_null(json_object_get(o, "closed")))
		json_array_append_new(h, fleet_history_event("closed",
		    json_object_get(o, "closed")));
	json_object_set_new(o, "history", h);
	*out = o;
	r = 0;
out:
	store_unlock(s);
	return r;
}

/*
 * Runs a query taking host_id that returns a row when the host is known:
 * 0, -ENOENT without a row, -EIO. The caller holds the lock.
 */
static int
fleet_host_known(struct store *s, const char *sql, const char *host_id)
{
	sqlite3_stmt *st;
	int rc;

	if ((st = store_stmt(s, sql)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, host_id, -1, SQLITE_STATIC);
	rc = store_step(s, st);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? -ENOENT : -EIO;
	return 0;
}

int
fleet_command_create(struct store *s, const char *host_id, const char *type,
    json_t *args, const char *operator_name, json_t **id)
{
	static const char sel[] = "SELECT 1 FROM agents WHERE id = ? AND "
	    "revoked IS NULL";
	static const char ins[] = "INSERT INTO commands (agent_id, type, args, "
	    "created, created_by) VALUES (?, ?, ?, ?, ?)";
	sqlite3_stmt *st;
	char *a = NULL, buf[32];
	int r;

	*id = NULL;
	if ((a = json_dumps(args, JSON_COMPACT)) == NULL)
		return -ENOMEM;
	store_lock(s);
	if ((r = fleet_host_known(s, sel, host_id)) != 0)
		goto out;
	if ((st = store_stmt(s, ins)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, host_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, a, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 4, store_now());
	sqlite3_bind_text(st, 5, operator_name, -1, SQLITE_STATIC);
	if (store_step(s, st) != SQLITE_DONE) {
		r = -EIO;
		goto out;
	}
	snprintf(buf, sizeof(buf), "cmd_%lld",
	    (long long)sqlite3_last_insert_rowid(store_db(s)));
	*id = json_string(buf);
	r = 0;
out:
	store_unlock(s);
	free(a);
	return r;
}

/* The list form of a command in the current row of fleet_commands' query. */
static int
fleet_command_row(struct store *s, sqlite3_stmt *st, json_t **out)
{
	json_t *args, *extra;
	char id[32];

	(void)s;
	snprintf(id, sizeof(id), "cmd_%lld",
	    (long long)sqlite3_column_int64(st, 0));
	args = json_loads(store_text(st, 2), 0, NULL);
	/* Six pairs: id, type, args, created, status, detail. */
	*out = json_pack("{s:s, s:s, s:o, s:f, s:s, s:o}", "id", id, "type",
	    store_text(st, 1), "args", args != NULL ? args : json_object(),
	    "created", sqlite3_column_double(st, 3), "status",
	    store_text(st, 4), "detail",
	    sqlite3_column_type(st, 5) == SQLITE_NULL ? json_null() :
	    json_string(store_text(st, 5)));
	if (*out == NULL)
		return -ENOMEM;
	/* The result's own members (session, state, connect), when the
	 * agent sent any: ledger_command_result kept them. */
	if (sqlite3_column_type(st, 6) != SQLITE_NULL &&
	    (extra = json_loads(store_text(st, 6), 0, NULL)) != NULL) {
		if (json_is_object(extra))
			json_object_update_missing(*out, extra);
		json_decref(extra);
	}
	return 0;
}

int
fleet_commands(struct store *s, const char *host_id, json_t **out)
{
	static const char exists[] = "SELECT 1 FROM agents WHERE id = ?";
	static const char sel[] = "SELECT id, type, args, created, status, "
	    "detail, result FROM commands WHERE agent_id = ? ORDER BY id DESC "
	    "LIMIT 1000";
	sqlite3_stmt *st;
	int r;

	*out = NULL;
	store_lock(s);
	if ((r = fleet_host_known(s, exists, host_id)) != 0)
		goto out;
	if ((st = store_stmt(s, sel)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, host_id, -1, SQLITE_STATIC);
	r = fleet_collect(s, st, "commands", fleet_command_row, out);
out:
	store_unlock(s);
	return r;
}
