/*
 * One transaction per request: many reports, one commit (group commit).
 * A report whose (agent, seq) is already stored is acknowledged again and
 * changes nothing, so a retried batch is harmless.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "alert.h"
#include "ingest.h"
#include "log.h"
#include "portal.h"
#include "ledger.h"
#include "retain.h"
#include "session.h"
#include "store.h"

/* What one request may still do, and what it was refused. */
struct ledger_budget {
	int	alerts;		/* alerts it may still open */
	int	alerts_dropped;
	int	checks_dropped;	/* new checks beyond PORTAL_MAX_CHECKS */
};

/* Whether the agent may have one more check: 1, 0, or -EIO. */
static int
ledger_check_room(struct store *s, const char *agent_id)
{
	static const char cnt[] = "SELECT count(*) FROM checks WHERE "
	    "agent_id = ?";
	sqlite3_stmt *st;
	int n;

	if ((st = store_stmt(s, cnt)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	if (store_step(s, st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return -EIO;
	}
	n = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	return n < PORTAL_MAX_CHECKS;
}

/*
 * PENDING means "no result yet" (the agent started or reloaded and the
 * check has not run): it makes a check never seen before known, at time
 * 0 so that any real result replaces it, and changes nothing else: a check
 * that was CRITICAL stays CRITICAL, with its alert, until a real result.
 */
static int
ledger_pending(struct store *s, const char *agent_id, const char *name,
    json_t *check, double now)
{
	static const char ins[] = "INSERT INTO checks (agent_id, name, state, "
	    "since, at, result) VALUES (?, ?, 'PENDING', ?, 0, ?) "
	    "ON CONFLICT (agent_id, name) DO NOTHING";
	sqlite3_stmt *st;
	char *result;
	int r;

	/* Not a result: at the agent's limit there is nothing to drop. */
	if ((r = ledger_check_room(s, agent_id)) <= 0)
		return r;
	if ((result = json_dumps(check, JSON_COMPACT)) == NULL)
		return -ENOMEM;
	if ((st = store_stmt(s, ins)) == NULL) {
		free(result);
		return -EIO;
	}
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 3, now);
	sqlite3_bind_text(st, 4, result, -1, free);
	r = store_step(s, st) == SQLITE_DONE ? 0 : -EIO;
	return r;
}

/* What a report says about one check's warnings (protocol.md). */
struct ledger_warn {
	char	*forecast;	/* JSON text: check.forecast (or a forecast
				 * reason) and its "when"; or NULL */
	char	*reason;	/* JSON text of payload.reason, or NULL */
	double	 flapping;	/* percent, < 0 when not flapping */
	double	 silenced_until;	/* 0 when not silenced (by now) */
};

static void
ledger_warn_free(struct ledger_warn *w)
{
	free(w->forecast);
	free(w->reason);
}

/*
 * The warning members of check and of its report's payload p (NULL for
 * a heartbeat's checks): ingest checked their types and ranges.
 */
static int
ledger_warn_read(json_t *check, json_t *p, double when, double now,
    struct ledger_warn *w)
{
	static const char *const fmembers[] = { "item", "resource", "eta",
	    "rate", "unit" };
	json_t *reason, *f, *v, *copy;
	const char *type = NULL;
	double until = 0;
	size_t i;

	memset(w, 0, sizeof(*w));
	w->flapping = -1;
	reason = p != NULL ? json_object_get(p, "reason") : NULL;
	if (reason != NULL)
		type = json_string_value(json_object_get(reason, "type"));
	if ((f = json_object_get(check, "forecast")) == NULL &&
	    type != NULL && strcmp(type, "forecast") == 0)
		f = reason;
	if (f != NULL) {
		/* Only the known members, so that what is kept is bounded. */
		if ((copy = json_object()) == NULL)
			return -ENOMEM;
		for (i = 0; i < sizeof(fmembers) / sizeof(fmembers[0]); i++)
			if ((v = json_object_get(f, fmembers[i])) != NULL)
				json_object_set(copy, fmembers[i], v);
		json_object_set_new(copy, "when", json_real(when));
		w->forecast = json_dumps(copy, JSON_COMPACT);
		json_decref(copy);
		if (w->forecast == NULL)
			return -ENOMEM;
	}
	if ((v = json_object_get(check, "flapping")) != NULL)
		w->flapping = json_number_value(json_object_get(v, "percent"));
	else if (type != NULL && strcmp(type, "flapping") == 0 &&
	    strcmp(json_string_value(json_object_get(reason, "event")),
	    "start") == 0)
		w->flapping = json_is_number(json_object_get(reason,
		    "percent")) ? json_number_value(json_object_get(reason,
		    "percent")) : 0;
	if (reason != NULL &&
	    (w->reason = json_dumps(reason, JSON_COMPACT)) == NULL)
		return -ENOMEM;
	if ((v = json_object_get(check, "silenced_until")) != NULL)
		until = json_number_value(v);
	if (p != NULL && (v = json_object_get(p, "silenced_until")) != NULL &&
	    json_number_value(v) > until)
		until = json_number_value(v);
	/* A silence past the longest window is cut to it (portal.md). */
	if (until > now + PORTAL_MAX_WINDOW)
		until = now + PORTAL_MAX_WINDOW;
	w->silenced_until = until > now ? until : 0;
	return 0;
}

/* One row of the check's state-change history (held: why its alert was
 * held back, or NULL). */
static int
ledger_change(struct store *s, const char *agent_id, const char *name,
    long long seq, const char *previous, const char *state,
    const struct ledger_warn *w, const char *held, double now)
{
	static const char ins[] = "INSERT INTO check_changes (agent_id, seq, "
	    "name, previous, state, flapping, reason, held, at) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?, ?, ?)";
	sqlite3_stmt *st;

	if ((st = store_stmt(s, ins)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, seq);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	if (previous != NULL)
		sqlite3_bind_text(st, 4, previous, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, state, -1, SQLITE_STATIC);
	if (w->flapping >= 0)
		sqlite3_bind_double(st, 6, w->flapping);
	if (w->reason != NULL)
		sqlite3_bind_text(st, 7, w->reason, -1, SQLITE_STATIC);
	if (held != NULL)
		sqlite3_bind_text(st, 8, held, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 9, now);
	return store_step(s, st) == SQLITE_DONE ? 0 : -EIO;
}

/*
 * Records the latest result of one check. Results are ordered by the
 * report's seq, never by the agent's clock: a result stamped in the
 * future by a clock that was later corrected must not hide the results
 * that follow it. A result from an older report than the one stored
 * (reports can arrive out of order) is ignored. p is the state_change's
 * payload (NULL for a heartbeat's checks); in_window says the report
 * came while the host is in a maintenance window: its state is stored
 * and its change recorded, but no alert opens or closes until the window
 * ends (alert_window_end), nor while the check is silenced.
 */
static int
ledger_check(struct store *s, const char *agent_id, json_t *check,
    json_t *p, long long seq, int in_window, double now,
    struct ledger_budget *bud)
{
	static const char sel[] = "SELECT state, seq, flapping, "
	    "silenced_until FROM checks WHERE agent_id = ? AND name = ?";
	static const char up[] = "INSERT INTO checks (agent_id, name, state, "
	    "since, at, result, seq, forecast, flapping, silenced_until, "
	    "reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
	    "ON CONFLICT (agent_id, name) DO UPDATE SET state = ?3, "
	    "since = CASE WHEN state = ?3 THEN since ELSE ?4 END, at = ?5, "
	    "result = ?6, seq = ?7, forecast = ?8, flapping = ?9, "
	    "silenced_until = ?10, reason = COALESCE(?11, CASE WHEN "
	    "state = ?3 THEN reason ELSE NULL END)";
	const char *name, *state, *summary, *held;
	char old[16] = "", *result = NULL;
	struct ledger_warn w;
	struct alert_warning aw;
	json_t *v;
	double when, since, old_flap = -1;
	sqlite3_stmt *st;
	int rc, r, known, was_silenced = 0, changed;

	name = json_string_value(json_object_get(check, "name"));
	state = json_string_value(json_object_get(check, "state"));
	if (strcmp(state, "PENDING") == 0)
		return ledger_pending(s, agent_id, name, check, now);
	summary = json_string_value(json_object_get(check, "summary"));
	if (summary == NULL)
		summary = "";
	v = json_object_get(check, "when");
	when = json_is_number(v) ? json_number_value(v) : now;
	v = json_object_get(check, "last_change");
	since = json_is_number(v) ? json_number_value(v) : when;

	if ((st = store_stmt(s, sel)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	rc = store_step(s, st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -EIO;
	known = rc == SQLITE_ROW;
	if (known) {
		if (sqlite3_column_int64(st, 1) > seq) {
			sqlite3_reset(st);
			return 0;
		}
		snprintf(old, sizeof(old), "%s", store_text(st, 0));
		if (sqlite3_column_type(st, 2) != SQLITE_NULL)
			old_flap = sqlite3_column_double(st, 2);
		was_silenced = sqlite3_column_type(st, 3) != SQLITE_NULL;
	}
	sqlite3_reset(st);
	if (!known) {
		if ((r = ledger_check_room(s, agent_id)) < 0)
			return r;
		if (r == 0) {
			bud->checks_dropped++;
			return 0;
		}
	}
	if ((r = ledger_warn_read(check, p, when, now, &w)) != 0)
		goto out;
	if ((result = json_dumps(check, JSON_COMPACT)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if ((st = store_stmt(s, up)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, state, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 4, since);
	sqlite3_bind_double(st, 5, when);
	sqlite3_bind_text(st, 6, result, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, seq);
	if (w.forecast != NULL)
		sqlite3_bind_text(st, 8, w.forecast, -1, SQLITE_STATIC);
	if (w.flapping >= 0)
		sqlite3_bind_double(st, 9, w.flapping);
	if (w.silenced_until > 0)
		sqlite3_bind_double(st, 10, w.silenced_until);
	if (w.reason != NULL)
		sqlite3_bind_text(st, 11, w.reason, -1, SQLITE_STATIC);
	if (store_step(s, st) != SQLITE_DONE) {
		r = -EIO;
		goto out;
	}
	held = in_window ? "maintenance" : w.silenced_until > 0 ?
	    "silenced" : NULL;
	changed = !known || strcmp(old, state) != 0 ||
	    (old_flap >= 0) != (w.flapping >= 0);
	/* History: changes, and checks first seen in a non-OK state. */
	if (changed && (known || strcmp(state, "OK") != 0 ||
	    w.flapping >= 0) && (r = ledger_change(s, agent_id, name, seq,
	    known ? old : NULL, state, &w, held, now)) != 0)
		goto out;
	/*
	 * Alerts follow the state, unless held back; a check whose silence
	 * the agent lifted early is brought in line at once.
	 */
	if (held != NULL || (!changed && !(was_silenced &&
	    w.silenced_until == 0))) {
		r = 0;
		goto out;
	}
	aw.reason = w.reason;
	aw.forecast = w.forecast;
	aw.flapping = w.flapping;
	r = alert_check_reconcile(s, agent_id, name,
	    alert_check_desired(state, w.flapping), summary, &aw, now,
	    &bud->alerts);
	if (r == 1) {
		bud->alerts_dropped++;
		r = 0;
	}
out:
	ledger_warn_free(&w);
	free(result);
	return r;
}

/*
 * The host's maintenance window as a report shows it: a payload's
 * "maintenance" mark with its until ahead opens (or moves) the window,
 * a "maintenance" report starts or ends it. An until further ahead than
 * PORTAL_MAX_WINDOW is cut to it. *in_window gets whether the report
 * is held back: marked with an until still ahead by the portal's clock,
 * or sent while the stored window is open.
 */
static int
ledger_window(struct store *s, const char *agent_id,
    const struct ingest_report *rep, double now, int *in_window)
{
	static const char sel[] = "SELECT maint_open, maint_until FROM agents "
	    "WHERE id = ?";
	static const char open[] = "UPDATE agents SET maint_until = ?2, "
	    "maint_reason = ?3, maint_by = CASE WHEN maint_open = 1 THEN "
	    "COALESCE(?4, maint_by) ELSE ?4 END, maint_started = CASE WHEN "
	    "maint_open = 1 THEN maint_started ELSE ?5 END, maint_open = 1 "
	    "WHERE id = ?1";
	json_t *m, *p = rep->payload;
	const char *event = NULL, *reason = "", *by = NULL;
	double until = 0, cur_until = 0;
	sqlite3_stmt *st;
	int cur_open, start = 0;

	*in_window = 0;
	if ((st = store_stmt(s, sel)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	if (store_step(s, st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return -EIO;
	}
	cur_open = sqlite3_column_int(st, 0);
	cur_until = sqlite3_column_double(st, 1);
	sqlite3_reset(st);
	if (strcmp(rep->kind, "maintenance") == 0) {
		event = json_string_value(json_object_get(p, "event"));
		if (strcmp(event, "stop") == 0)
			return cur_open ? alert_window_end(s, agent_id, now) :
			    0;
		start = 1;
		m = p;
		by = json_string_value(json_object_get(p, "by"));
	} else if ((m = json_object_get(p, "maintenance")) == NULL) {
		*in_window = cur_open && cur_until > now;
		return 0;
	}
	until = json_number_value(json_object_get(m, "until"));
	if (json_is_string(json_object_get(m, "reason")))
		reason = json_string_value(json_object_get(m, "reason"));
	if (until > now + PORTAL_MAX_WINDOW)
		until = now + PORTAL_MAX_WINDOW;
	if (until <= now) {
		/* Over by the portal's clock (a report from a spool, or a
		 * clock apart): nothing held back; an open window ends. */
		if (start && cur_open)
			return alert_window_end(s, agent_id, now);
		*in_window = cur_open && cur_until > now;
		return 0;
	}
	*in_window = 1;
	if (!start && cur_open && cur_until == until)
		return 0;
	if ((st = store_stmt(s, open)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, until);
	sqlite3_bind_text(st, 3, reason, -1, SQLITE_STATIC);
	if (by != NULL)
		sqlite3_bind_text(st, 4, by, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 5, start ? rep->time : now);
	return store_step(s, st) == SQLITE_DONE ? 0 : -EIO;
}

static int
ledger_inventory(struct store *s, const char *agent_id, json_t *host)
{
	static const char upd[] = "UPDATE agents SET inventory = ?, "
	    "hostname = COALESCE(?, hostname) WHERE id = ?";
	const char *hostname;
	sqlite3_stmt *st;
	char *inv;
	int r;

	if ((inv = json_dumps(host, JSON_COMPACT)) == NULL)
		return -ENOMEM;
	hostname = json_string_value(json_object_get(host, "hostname"));
	if (hostname != NULL && hostname[0] == '\0')
		hostname = NULL;
	if ((st = store_stmt(s, upd)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, inv, -1, SQLITE_STATIC);
	if (hostname != NULL)
		sqlite3_bind_text(st, 2, hostname, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, agent_id, -1, SQLITE_STATIC);
	r = store_step(s, st) == SQLITE_DONE ? 0 : -EIO;
out:
	free(inv);
	return r;
}

/* The members of a command_result the operator sees beside status and
 * detail: an open_support_session's answer (protocol.md). */
static const char *const ledger_result_keys[] = { "session", "state",
    "connect" };
#define LEDGER_RESULT_MAX	512

/* Command ids are "cmd_<n>"; a result for another agent's or an unknown
 * command changes nothing. */
static int
ledger_command_result(struct store *s, const char *agent_id, json_t *p,
    double now)
{
	static const char upd[] = "UPDATE commands SET status = ?, "
	    "detail = ?, completed = ?, result = ? WHERE id = ? AND "
	    "agent_id = ? AND status = 'pending'";
	const char *id = json_string_value(json_object_get(p, "command_id"));
	json_t *extra, *v;
	long long n;
	char *end, *text = NULL;
	sqlite3_stmt *st;
	size_t i;
	int r;

	if (strncmp(id, "cmd_", 4) != 0)
		return 0;
	errno = 0;
	n = strtoll(id + 4, &end, 10);
	if (errno != 0 || *end != '\0' || end == id + 4 || n < 1)
		return 0;
	/* Only short strings are kept; anything else is ignored, as the
	 * members the portal does not know are. */
	if ((extra = json_object()) == NULL)
		return -ENOMEM;
	for (i = 0; i < sizeof(ledger_result_keys) /
	    sizeof(ledger_result_keys[0]); i++) {
		v = json_object_get(p, ledger_result_keys[i]);
		if (json_is_string(v) &&
		    json_string_length(v) <= LEDGER_RESULT_MAX)
			json_object_set(extra, ledger_result_keys[i], v);
	}
	if (json_object_size(extra) > 0 && (text = json_dumps(extra,
	    JSON_COMPACT)) == NULL) {
		json_decref(extra);
		return -ENOMEM;
	}
	json_decref(extra);
	if ((st = store_stmt(s, upd)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, json_string_value(json_object_get(p,
	    "status")), -1, SQLITE_STATIC);
	if (json_is_string(json_object_get(p, "detail")))
		sqlite3_bind_text(st, 2, json_string_value(json_object_get(p,
		    "detail")), -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 3, now);
	if (text != NULL)
		sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, n);
	sqlite3_bind_text(st, 6, agent_id, -1, SQLITE_STATIC);
	r = store_step(s, st) == SQLITE_DONE ? 0 : -EIO;
out:
	free(text);
	return r;
}

/*
 * backup_result: the newest result of each job replaces the one before;
 * last_ok is when the job last ended ok (its agent's clock: started plus
 * duration, or the report's time), kept across failed runs. An agent may
 * have PORTAL_MAX_BACKUPS jobs; results of further jobs are stored as
 * reports only.
 */
static int
ledger_backup_result(struct store *s, const char *agent_id,
    const struct ingest_report *rep)
{
	static const char cnt[] = "SELECT count(*), sum(CASE WHEN job = ?2 "
	    "THEN 1 ELSE 0 END) FROM backups WHERE agent_id = ?1";
	static const char ups[] = "INSERT INTO backups (agent_id, job, "
	    "snapshot, kind, status, files, bytes, stored_bytes, duration, "
	    "finished, errors, last_ok) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
	    "?8, ?9, ?10, ?11, CASE WHEN ?5 = 'ok' THEN ?10 ELSE NULL END) "
	    "ON CONFLICT (agent_id, job) DO UPDATE SET snapshot = ?3, "
	    "kind = ?4, status = ?5, files = ?6, bytes = ?7, "
	    "stored_bytes = ?8, duration = ?9, finished = ?10, errors = ?11, "
	    "last_ok = CASE WHEN ?5 = 'ok' THEN ?10 ELSE backups.last_ok END";
	json_t *p = rep->payload, *errors;
	const char *job = json_string_value(json_object_get(p, "job"));
	double duration, finished;
	sqlite3_stmt *st;
	char *etext;
	int r, n, have;

	if ((st = store_stmt(s, cnt)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, job, -1, SQLITE_STATIC);
	if (store_step(s, st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return -EIO;
	}
	n = sqlite3_column_int(st, 0);
	have = sqlite3_column_int(st, 1);
	sqlite3_reset(st);
	if (!have && n >= PORTAL_MAX_BACKUPS) {
		log_warnx("agent %s: backup job %s beyond %d jobs not kept",
		    agent_id, job, PORTAL_MAX_BACKUPS);
		return 0;
	}
	duration = json_number_value(json_object_get(p, "duration"));
	finished = json_is_number(json_object_get(p, "started")) ?
	    json_number_value(json_object_get(p, "started")) + duration :
	    rep->time;
	errors = json_object_get(p, "errors");
	etext = errors != NULL ? json_dumps(errors, JSON_COMPACT) :
	    strdup("[]");
	if (etext == NULL)
		return -ENOMEM;
	if ((st = store_stmt(s, ups)) == NULL) {
		free(etext);
		return -EIO;
	}
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, job, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, json_string_value(json_object_get(p,
	    "snapshot")), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, json_string_value(json_object_get(p,
	    "kind")), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, json_string_value(json_object_get(p,
	    "status")), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)json_number_value(
	    json_object_get(p, "files")));
	sqlite3_bind_int64(st, 7, (sqlite3_int64)json_number_value(
	    json_object_get(p, "bytes")));
	sqlite3_bind_int64(st, 8, (sqlite3_int64)json_number_value(
	    json_object_get(p, "stored_bytes")));
	sqlite3_bind_double(st, 9, duration);
	sqlite3_bind_double(st, 10, finished);
	sqlite3_bind_text(st, 11, etext, -1, SQLITE_STATIC);
	r = store_step(s, st) == SQLITE_DONE ? 0 : -EIO;
	free(etext);
	return r;
}

static int ledger_sequence_reset(struct store *, const char *, json_t *,
    double);

/* What a newly stored report changes besides the reports table. */
static int
ledger_apply(struct store *s, const char *agent_id,
    const struct ingest_report *rep, double now, struct ledger_budget *bud)
{
	json_t *checks, *c;
	size_t i;
	int r, in_window;

	if ((r = ledger_window(s, agent_id, rep, now, &in_window)) != 0)
		return r;
	if (strcmp(rep->kind, "heartbeat") == 0) {
		checks = json_object_get(rep->payload, "checks");
		if ((r = retain_sample(s, agent_id, rep->seq, rep->time,
		    checks)) != 0)
			return r;
		json_array_foreach(checks, i, c)
			if ((r = ledger_check(s, agent_id, c, NULL, rep->seq,
			    in_window, now, bud)) != 0)
				return r;
	} else if (strcmp(rep->kind, "state_change") == 0)
		return ledger_check(s, agent_id,
		    json_object_get(rep->payload, "check"), rep->payload,
		    rep->seq, in_window, now, bud);
	else if (strcmp(rep->kind, "inventory") == 0)
		return ledger_inventory(s, agent_id,
		    json_object_get(rep->payload, "host"));
	else if (strcmp(rep->kind, "command_result") == 0)
		return ledger_command_result(s, agent_id, rep->payload, now);
	else if (strcmp(rep->kind, "backup_result") == 0)
		return ledger_backup_result(s, agent_id, rep);
	else if (strcmp(rep->kind, "sequence_reset") == 0)
		return ledger_sequence_reset(s, agent_id, rep->payload, now);
	else if (strcmp(rep->kind, "support_event") == 0)
		return session_record(s, agent_id, rep->seq, rep->payload, now);
	return 0;
}

/*
 * A report whose (agent, seq) is already stored: 0 when it is the same
 * report again (a retry, acknowledged again), 1 when the stored one
 * differs: the agent numbers from below what it had sent (its spool was
 * lost, or restored from a VM snapshot, while its identity stayed).
 */
static int
ledger_differs(struct store *s, const char *agent_id,
    const struct ingest_report *rep, const char *payload)
{
	static const char sel[] = "SELECT kind, time, payload FROM reports "
	    "WHERE agent_id = ? AND seq = ?";
	sqlite3_stmt *st;
	int rc, r;

	if ((st = store_stmt(s, sel)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, rep->seq);
	if ((rc = store_step(s, st)) != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? 0 : -EIO;
	}
	r = strcmp(store_text(st, 0), rep->kind) != 0 ||
	    sqlite3_column_double(st, 1) != rep->time ||
	    strcmp(store_text(st, 2), payload) != 0;
	sqlite3_reset(st);
	return r;
}

/* Opens the host's "sequence" alert (one at a time), in its own
 * transaction: the batch that caused it was rolled back. */
static void
ledger_conflict_alert(struct store *s, const char *agent_id,
    const char *hostname, long long seq, long long ack, double now)
{
	static const char sel[] = "SELECT count(*) FROM alerts WHERE "
	    "agent_id = ? AND kind = 'sequence' AND closed IS NULL";
	char summary[256], f_agent[64], f_seq[48], esc[256];
	const char *fields[2] = { f_agent, f_seq };
	sqlite3_stmt *st;
	int open = 0;

	snprintf(f_agent, sizeof(f_agent), "AGENT_ID=%s", agent_id);
	snprintf(f_seq, sizeof(f_seq), "SEQ=%lld", seq);
	log_event(LOG_WARNING, MSGID_PORTAL_SEQ_CONFLICT, fields, 2,
	    "host %s (%s) sent seq %lld, already stored with other content "
	    "(spool lost or restored?); answered 409 with ack %lld so that it "
	    "renumbers", log_escape(esc, sizeof(esc), hostname), agent_id,
	    seq, ack);
	if (store_begin(s) != 0)
		return;
	if ((st = store_stmt(s, sel)) == NULL)
		goto fail;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	if (store_step(s, st) == SQLITE_ROW)
		open = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	snprintf(summary, sizeof(summary), "sequence conflict: seq %lld "
	    "sent again with other content (spool lost or restored?); the "
	    "agent renumbers its reports after %lld", seq, ack);
	if (open == 0 && alert_open(s, agent_id, "sequence", NULL, "WARNING",
	    summary, now) != 0)
		goto fail;
	if (store_commit(s) == 0)
		return;
 fail:
	store_rollback(s);
}

/* The agent's "sequence_reset" report: it renumbered after a conflict;
 * the alert says how many and closes. */
static int
ledger_sequence_reset(struct store *s, const char *agent_id, json_t *p,
    double now)
{
	static const char upd[] = "UPDATE alerts SET summary = ? WHERE "
	    "agent_id = ? AND kind = 'sequence' AND closed IS NULL";
	char summary[256];
	sqlite3_stmt *st;

	snprintf(summary, sizeof(summary), "sequence reset: %lld reports "
	    "renumbered (from seq %lld to %lld)",
	    (long long)json_integer_value(json_object_get(p, "renumbered")),
	    (long long)json_integer_value(json_object_get(p, "old_first")),
	    (long long)json_integer_value(json_object_get(p, "new_first")));
	if ((st = store_stmt(s, upd)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, summary, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, agent_id, -1, SQLITE_STATIC);
	if (store_step(s, st) != SQLITE_DONE)
		return -EIO;
	return alert_close(s, agent_id, "sequence", NULL, now);
}

static int
ledger_commands(struct store *s, const char *agent_id, json_t **out)
{
	static const char sel[] = "SELECT id, type, args FROM commands WHERE "
	    "agent_id = ? AND status = 'pending' ORDER BY id LIMIT 32";
	json_t *arr = json_array(), *args;
	sqlite3_stmt *st;
	char id[32];
	int rc;

	*out = NULL;
	if ((st = store_stmt(s, sel)) == NULL) {
		json_decref(arr);
		return -EIO;
	}
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	while ((rc = store_step(s, st)) == SQLITE_ROW) {
		snprintf(id, sizeof(id), "cmd_%lld",
		    (long long)sqlite3_column_int64(st, 0));
		args = json_loads(store_text(st, 2), 0, NULL);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:o}", "id",
		    id, "type", store_text(st, 1), "args",
		    args != NULL ? args : json_object()));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return -EIO;
	}
	*out = arr;
	return 0;
}

static int
ledger_max_seq(struct store *s, const char *agent_id, long long *ack)
{
	static const char sel[] = "SELECT max_seq FROM agents WHERE id = ?";
	sqlite3_stmt *st;
	int rc;

	if ((st = store_stmt(s, sel)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	rc = store_step(s, st);
	if (rc == SQLITE_ROW)
		*ack = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : -EIO;
}

int
ledger_store(struct store *s, const char *agent_id,
    const struct ingest_batch *b, long long *ack, json_t **commands)
{
	static const char sel[] = "SELECT unreachable, hostname, pruned_seq, "
	    "pruned_time FROM agents WHERE id = ?";
	static const char unins[] = "DELETE FROM reports WHERE agent_id = ? "
	    "AND seq = ?";
	static const char ins[] = "INSERT OR IGNORE INTO reports (agent_id, "
	    "seq, kind, time, received, payload) VALUES (?, ?, ?, ?, ?, ?)";
	static const char upd[] = "UPDATE agents SET last_seen = ?, "
	    "unreachable = 0, max_seq = MAX(max_seq, ?) WHERE id = ? "
	    "RETURNING max_seq";
	char f_agent[64], hostname[256], esc[256];
	const char *fields[1] = { f_agent };
	struct ledger_budget bud = { .alerts = PORTAL_MAX_ALERTS_PER_REQUEST };
	double now = store_now();
	long long top = 0, conflict = 0, pruned_seq;
	double pruned_time;
	sqlite3_stmt *st;
	char *payload;
	size_t i;
	int r, was_unreachable;

	*ack = 0;
	*commands = NULL;
	store_lock(s);
	if ((r = store_begin(s)) != 0)
		goto out;
	if ((st = store_stmt(s, sel)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	if (store_step(s, st) != SQLITE_ROW) {
		sqlite3_reset(st);
		r = -EIO;
		goto out;
	}
	was_unreachable = sqlite3_column_int(st, 0);
	snprintf(hostname, sizeof(hostname), "%s", store_text(st, 1));
	pruned_seq = sqlite3_column_int64(st, 2);
	pruned_time = sqlite3_column_double(st, 3);
	sqlite3_reset(st);

	for (i = 0; i < b->n; i++) {
		const struct ingest_report *rep = &b->reports[i];

		if ((payload = json_dumps(rep->payload, JSON_COMPACT)) ==
		    NULL) {
			r = -ENOMEM;
			goto out;
		}
		if ((st = store_stmt(s, ins)) == NULL) {
			free(payload);
			r = -EIO;
			goto out;
		}
		sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, rep->seq);
		sqlite3_bind_text(st, 3, rep->kind, -1, SQLITE_STATIC);
		sqlite3_bind_double(st, 4, rep->time);
		sqlite3_bind_double(st, 5, now);
		sqlite3_bind_text(st, 6, payload, -1, SQLITE_TRANSIENT);
		if (store_step(s, st) != SQLITE_DONE) {
			free(payload);
			r = -EIO;
			goto out;
		}
		if (rep->seq > top)
			top = rep->seq;
		if (sqlite3_changes(store_db(s)) == 1 &&
		    rep->seq <= pruned_seq) {
			/*
			 * Not stored, at or below what retention pruned: a
			 * retry of a pruned report (no newer than the newest
			 * pruned) is acknowledged and changes nothing; newer
			 * content is the conflict a stored row would show
			 * (retain.c).
			 */
			if (rep->time > pruned_time) {
				conflict = rep->seq;
				r = -EEXIST;
			} else if ((st = store_stmt(s, unins)) == NULL)
				r = -EIO;
			else {
				sqlite3_bind_text(st, 1, agent_id, -1,
				    SQLITE_STATIC);
				sqlite3_bind_int64(st, 2, rep->seq);
				r = store_step(s, st) == SQLITE_DONE ? 0 :
				    -EIO;
			}
		} else if (sqlite3_changes(store_db(s)) == 1)
			r = ledger_apply(s, agent_id, rep, now, &bud);
		else if ((r = ledger_differs(s, agent_id, rep, payload)) == 1) {
			conflict = rep->seq;
			r = -EEXIST;
		}
		free(payload);
		if (r != 0)
			goto out;
	}

	if ((st = store_stmt(s, upd)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_double(st, 1, now);
	sqlite3_bind_int64(st, 2, top);
	sqlite3_bind_text(st, 3, agent_id, -1, SQLITE_STATIC);
	if (store_step(s, st) != SQLITE_ROW) {
		sqlite3_reset(st);
		r = -EIO;
		goto out;
	}
	*ack = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (was_unreachable) {
		if ((r = alert_close(s, agent_id, "unreachable", NULL,
		    now)) != 0)
			goto out;
		snprintf(f_agent, sizeof(f_agent), "AGENT_ID=%s", agent_id);
		log_event(LOG_NOTICE, MSGID_PORTAL_HOST_BACK, fields, 1,
		    "host %s (%s) reachable again",
		    log_escape(esc, sizeof(esc), hostname), agent_id);
	}
	if ((r = ledger_commands(s, agent_id, commands)) != 0)
		goto out;
	if ((r = store_commit(s)) != 0)
		goto out;
	if (bud.checks_dropped > 0)
		log_warnx("agent %s: %d results of new checks not recorded: "
		    "an agent may have at most %d checks", agent_id,
		    bud.checks_dropped, PORTAL_MAX_CHECKS);
	if (bud.alerts_dropped > 0)
		log_warnx("agent %s: %d alerts not opened: one request may "
		    "open at most %d", agent_id, bud.alerts_dropped,
		    PORTAL_MAX_ALERTS_PER_REQUEST);
out:
	if (r != 0) {
		store_rollback(s);
		json_decref(*commands);
		*commands = NULL;
		*ack = 0;
	}
	if (r == -EEXIST && (r = ledger_max_seq(s, agent_id, ack)) == 0) {
		ledger_conflict_alert(s, agent_id, hostname, conflict, *ack,
		    now);
		r = -EEXIST;
	}
	store_unlock(s);
	return r;
}
