/*
 * Remote support sessions as the portal keeps them: one row per
 * support_event, in the agent's seq order (never its clock), and the
 * state of each session derived from its last event when asked.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "ingest.h"
#include "session.h"

const char *
session_state(const char *event)
{
	static const char *const map[][2] = {
		{ "requested", "waiting" },
		{ "approved", "approved" },
		{ "opened", "open" },
		{ "connection_opened", "open" },
		{ "connection_closed", "open" },
		{ "closed", "closed" },
		{ "denied", "denied" },
		{ "expired", "expired" },
		{ "failed", "failed" },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(event, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}

/* The members of p the portal keeps (session.h): a new object. */
static json_t *
session_kept(const json_t *p)
{
	static const char *const base[] = { "session", "event", "at", NULL };
	const char *const *lists[] = { base, ingest_support_strings,
	    ingest_support_numbers };
	json_t *o = json_object(), *v;
	const char *const *k;
	size_t i;

	if (o == NULL)
		return NULL;
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		for (k = lists[i]; *k != NULL; k++)
			if ((v = json_object_get(p, *k)) != NULL &&
			    json_object_set(o, *k, v) != 0) {
				json_decref(o);
				return NULL;
			}
	return o;
}

int
session_record(struct store *s, const char *agent_id, long long seq,
    const json_t *payload, double received)
{
	static const char ins[] = "INSERT INTO support_events (agent_id, "
	    "seq, session, event, received, payload) VALUES (?, ?, ?, ?, ?, "
	    "?) ON CONFLICT (agent_id, seq) DO NOTHING";
	json_t *kept;
	sqlite3_stmt *st;
	char *text = NULL;
	int r;

	if ((kept = session_kept(payload)) == NULL ||
	    (text = json_dumps(kept, JSON_COMPACT)) == NULL) {
		json_decref(kept);
		return -ENOMEM;
	}
	json_decref(kept);
	if ((st = store_stmt(s, ins)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
	sqlite3_bind_text(st, 3, json_string_value(json_object_get(payload,
	    "session")), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, json_string_value(json_object_get(payload,
	    "event")), -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 5, received);
	sqlite3_bind_text(st, 6, text, -1, SQLITE_STATIC);
	r = store_step(s, st) == SQLITE_DONE ? 0 : -EIO;
out:
	free(text);
	return r;
}

/* A member of o, or null (new reference). */
static json_t *
session_member(json_t *o, const char *key)
{
	json_t *v = o != NULL ? json_object_get(o, key) : NULL;

	return v != NULL ? json_incref(v) : json_null();
}

/*
 * One session's summary and trail: the events in seq order, at most
 * SESSION_MAX_EVENTS of them (the first ones, which say who asked and
 * why; the state is from the last event stored, counted or not).
 */
static int
session_one(struct store *s, const char *agent_id, const char *id,
    json_t **out)
{
	static const char evs[] = "SELECT payload, received FROM "
	    "support_events WHERE agent_id = ? AND session = ? ORDER BY seq "
	    "LIMIT " SESSION_MAX_EVENTS_STR;
	static const char last[] = "SELECT payload, count(*) FROM "
	    "support_events WHERE agent_id = ?1 AND session = ?2 AND seq = "
	    "(SELECT max(seq) FROM support_events WHERE agent_id = ?1 AND "
	    "session = ?2)";
	static const char total[] = "SELECT count(*) FROM support_events "
	    "WHERE agent_id = ? AND session = ?";
	json_t *events = json_array(), *e, *requested = NULL, *opened = NULL;
	json_t *end = NULL, *lastev = NULL, *sess = NULL;
	const char *ev, *state;
	sqlite3_stmt *st;
	long long n = 0;
	int rc, r;

	*out = NULL;
	if (events == NULL)
		return -ENOMEM;
	if ((st = store_stmt(s, evs)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	while ((rc = store_step(s, st)) == SQLITE_ROW) {
		if ((e = json_loads(store_text(st, 0), 0, NULL)) == NULL ||
		    !json_is_object(e)) {
			json_decref(e);
			continue;	/* written by us: cannot happen */
		}
		json_object_set_new(e, "received",
		    json_real(sqlite3_column_double(st, 1)));
		ev = json_string_value(json_object_get(e, "event"));
		if (ev != NULL && strcmp(ev, "requested") == 0 &&
		    requested == NULL)
			requested = e;
		else if (ev != NULL && strcmp(ev, "opened") == 0 &&
		    opened == NULL)
			opened = e;
		else if (ev != NULL && end == NULL &&
		    (strcmp(ev, "closed") == 0 || strcmp(ev, "denied") == 0 ||
		    strcmp(ev, "expired") == 0 || strcmp(ev, "failed") == 0))
			end = e;
		if (json_array_append_new(events, e) != 0) {
			sqlite3_reset(st);
			r = -ENOMEM;
			goto out;
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		r = -EIO;
		goto out;
	}
	if ((st = store_stmt(s, total)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	if (store_step(s, st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if ((st = store_stmt(s, last)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	if (store_step(s, st) == SQLITE_ROW)
		lastev = json_loads(store_text(st, 0), 0, NULL);
	sqlite3_reset(st);
	ev = json_string_value(json_object_get(lastev, "event"));
	state = ev != NULL ? session_state(ev) : NULL;
	/* closed: its reason; denied, expired, failed: that word. */
	sess = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:b, s:O}",
	    "session", id,
	    "state", state != NULL ? state : "unknown",
	    "requested_by", session_member(requested, "by"),
	    "reason", session_member(requested, "reason"),
	    "opened", session_member(opened, "at"),
	    "closed", session_member(end, "at"),
	    "close_reason", end == NULL ? json_null() :
	    strcmp(json_string_value(json_object_get(end, "event")),
	    "closed") == 0 ? session_member(end, "reason") :
	    json_incref(json_object_get(end, "event")),
	    "events_truncated", n > SESSION_MAX_EVENTS,
	    "events", events);
	if (sess == NULL) {
		r = -ENOMEM;
		goto out;
	}
	*out = sess;
	r = 0;
out:
	json_decref(lastev);
	json_decref(events);
	return r;
}

int
session_list(struct store *s, const char *agent_id, json_t **out)
{
	static const char exists[] = "SELECT 1 FROM agents WHERE id = ?";
	/* Newest first: by the seq of each session's first event. */
	static const char sel[] = "SELECT session, min(seq) AS first FROM "
	    "support_events WHERE agent_id = ? GROUP BY session ORDER BY "
	    "first DESC LIMIT " SESSION_MAX_LISTED_STR;
	char ids[SESSION_MAX_LISTED][INGEST_SESSION_ID_LEN + 1];
	json_t *arr = json_array(), *one;
	sqlite3_stmt *st;
	int rc, r, n = 0, i;

	*out = NULL;
	if (arr == NULL)
		return -ENOMEM;
	store_lock(s);
	if ((st = store_stmt(s, exists)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	rc = store_step(s, st);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? -ENOENT : -EIO;
		goto out;
	}
	if ((st = store_stmt(s, sel)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	while ((rc = store_step(s, st)) == SQLITE_ROW && n < SESSION_MAX_LISTED)
		snprintf(ids[n++], sizeof(ids[0]), "%s", store_text(st, 0));
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		r = -EIO;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((r = session_one(s, agent_id, ids[i], &one)) != 0)
			goto out;
		if (json_array_append_new(arr, one) != 0) {
			r = -ENOMEM;
			goto out;
		}
	}
	*out = arr;
	arr = NULL;	/* transferred */
	r = 0;
out:
	store_unlock(s);
	json_decref(arr);
	return r;
}
