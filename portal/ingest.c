/*
 * The one place that decides whether a body from the network is well
 * formed. Everything else in the portal reads only what passed here, so
 * these functions have the unit tests and the fuzz target.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "hostkey.h"
#include "ingest.h"
#include "portal.h"

#define INGEST_MAX_DEPTH	64
#define INGEST_MAX_NAME		256
#define INGEST_MAX_KIND		32
/* A whole body: a report's payload sits three levels down. */
#define INGEST_MAX_DOC_DEPTH	(INGEST_MAX_DEPTH + 8)

/* support_event members the portal keeps, besides session, event, at. */
const char *const ingest_support_events[] = { "requested", "approved",
    "denied", "expired", "opened", "connection_opened", "connection_closed",
    "closed", "failed", NULL };
const char *const ingest_support_strings[] = { "by", "reason", "origin",
    "bastion", "detail", NULL };
const char *const ingest_support_numbers[] = { "ttl", "forward_port",
    "expires", "conn", "bytes_in", "bytes_out", NULL };

static int ingest_fail(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
ingest_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/*
 * The deepest nesting of [ and { in a JSON text, counted in one pass
 * outside strings and stopping as soon as max is passed. jansson would
 * build up to 2048 levels before its own limit; this refuses an absurd
 * body before any of that work, with an error that says why.
 */
static int
ingest_depth_ok(const char *json, size_t len, int max)
{
	int depth = 0, in_string = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (in_string) {
			if (json[i] == '\\')
				i++;
			else if (json[i] == '"')
				in_string = 0;
			continue;
		}
		switch (json[i]) {
		case '"':
			in_string = 1;
			break;
		case '[': case '{':
			if (++depth > max)
				return 0;
			break;
		case ']': case '}':
			depth--;
			break;
		}
	}
	return 1;
}

static json_t *
ingest_load(const char *json, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root;

	if (!ingest_depth_ok(json, len, INGEST_MAX_DOC_DEPTH)) {
		ingest_fail(err, errlen, "body: nested deeper than %d",
		    INGEST_MAX_DOC_DEPTH);
		return NULL;
	}
	/* Duplicate keys: the agent refuses them, and two readers picking
	 * different copies of one key is how a check hides from another. */
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		ingest_fail(err, errlen, "body: invalid JSON at line %d "
		    "column %d: %s", je.line, je.column, je.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		ingest_fail(err, errlen, "body: expected a JSON object");
		return NULL;
	}
	return root;
}

/*
 * Every string in v at most PORTAL_MAX_STRING bytes, nesting bounded.
 * One walk: each value is visited once and the first failure is returned
 * as it is, so the work is linear in the size of v whatever its shape
 * (a second call on a failing child doubled the work per level).
 */
static int
ingest_bounded(const json_t *v, int depth)
{
	const char *k;
	json_t *e;
	size_t i;
	int r;

	if (depth > INGEST_MAX_DEPTH)
		return -ELOOP;
	switch (json_typeof(v)) {
	case JSON_STRING:
		return json_string_length(v) > PORTAL_MAX_STRING ? -E2BIG : 0;
	case JSON_ARRAY:
		json_array_foreach(v, i, e)
			if ((r = ingest_bounded(e, depth + 1)) != 0)
				return r;
		return 0;
	case JSON_OBJECT:
		json_object_foreach((json_t *)v, k, e) {
			if (strlen(k) > PORTAL_MAX_STRING)
				return -E2BIG;
			if ((r = ingest_bounded(e, depth + 1)) != 0)
				return r;
		}
		return 0;
	default:
		return 0;
	}
}

/* A required member that is an object; *out is borrowed from o. */
static int
ingest_req_object(const json_t *o, const char *key, json_t **out,
    char *err, size_t errlen)
{
	json_t *v;

	*out = NULL;
	if ((v = json_object_get(o, key)) == NULL)
		return ingest_fail(err, errlen, "%s: missing", key);
	if (!json_is_object(v))
		return ingest_fail(err, errlen, "%s: expected an object", key);
	*out = v;
	return 0;
}

/* ingest_bounded with the error text naming the member, what. */
static int
ingest_req_bounded(const json_t *v, const char *what, char *err,
    size_t errlen)
{
	switch (ingest_bounded(v, 0)) {
	case 0:
		return 0;
	case -E2BIG:
		return ingest_fail(err, errlen, "%s: a string is longer than "
		    "%d bytes", what, PORTAL_MAX_STRING);
	default:
		return ingest_fail(err, errlen, "%s: nested deeper than %d",
		    what, INGEST_MAX_DEPTH);
	}
}

/* An optional string member: 0 if absent or a string. */
static int
ingest_opt_string(const json_t *o, const char *key, const char *where,
    char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);

	if (v != NULL && !json_is_string(v))
		return ingest_fail(err, errlen, "%s.%s: expected a string",
		    where, key);
	return 0;
}

static int
ingest_opt_number(const json_t *o, const char *key, const char *where,
    char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);

	if (v != NULL && !json_is_null(v) && !json_is_number(v))
		return ingest_fail(err, errlen, "%s.%s: expected a number",
		    where, key);
	return 0;
}

/* A required, non-empty string of at most max bytes. */
static int
ingest_req_string(const json_t *o, const char *key, size_t max,
    const char *where, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		return ingest_fail(err, errlen, "%s%s%s: missing", where,
		    *where ? "." : "", key);
	if (!json_is_string(v))
		return ingest_fail(err, errlen, "%s%s%s: expected a string",
		    where, *where ? "." : "", key);
	if (json_string_length(v) == 0 || json_string_length(v) > max)
		return ingest_fail(err, errlen, "%s%s%s: must be 1 to %zu "
		    "bytes", where, *where ? "." : "", key, max);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return ingest_fail(err, errlen, "%s%s%s: contains NUL",
		    where, *where ? "." : "", key);
	return 0;
}

/* An optional string of at most max bytes without NUL ("" allowed). */
static int
ingest_opt_text(const json_t *o, const char *key, size_t max,
    const char *where, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		return 0;
	if (!json_is_string(v) || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return ingest_fail(err, errlen, "%s.%s: expected a string of "
		    "at most %zu bytes", where, key, max);
	return 0;
}

/*
 * A number member from lo to hi; required or not. lo_open: lo itself is
 * refused (a rate must be above 0). JSON has no NaN or infinity and
 * jansson refuses numbers that overflow a double, so a range is enough.
 */
static int
ingest_range(const json_t *o, const char *key, int required, double lo,
    int lo_open, double hi, const char *where, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);
	double d;

	if (v == NULL) {
		if (required)
			return ingest_fail(err, errlen, "%s.%s: missing",
			    where, key);
		return 0;
	}
	d = json_is_number(v) ? json_number_value(v) : lo - 1;
	if (!json_is_number(v) || !isfinite(d) || d < lo ||
	    (lo_open && d == lo) || d > hi)
		return ingest_fail(err, errlen, "%s.%s: expected a number "
		    "%s %g %s %g", where, key, lo_open ? "above" : "from", lo,
		    lo_open ? "and at most" : "to", hi);
	return 0;
}

/* check.forecast and a "forecast" reason (protocol.md, Warnings). */
static int
ingest_forecast_members(const json_t *f, const char *where, char *err,
    size_t errlen)
{
	int r;

	if ((r = ingest_req_string(f, "item", INGEST_MAX_ITEM, where, err,
	    errlen)) != 0 ||
	    (r = ingest_req_string(f, "resource", INGEST_MAX_RESOURCE, where,
	    err, errlen)) != 0 ||
	    (r = ingest_range(f, "eta", 1, 0, 0, INGEST_MAX_ETA, where, err,
	    errlen)) != 0 ||
	    (r = ingest_range(f, "rate", 1, 0, 1, INGEST_MAX_RATE, where, err,
	    errlen)) != 0 ||
	    (r = ingest_opt_text(f, "unit", INGEST_MAX_UNIT, where, err,
	    errlen)) != 0)
		return r;
	return 0;
}

/* An optional object member: 0 and *out NULL if absent. */
static int
ingest_opt_object(const json_t *o, const char *key, json_t **out,
    const char *where, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_object(v))
		return ingest_fail(err, errlen, "%s.%s: expected an object",
		    where, key);
	*out = v;
	return 0;
}

/* The warning members of a check object: forecast, flapping,
 * silenced_until (all optional). */
static int
ingest_check_warnings(const json_t *check, const char *where, char *err,
    size_t errlen)
{
	char sub[160];
	json_t *v;
	int r;

	if ((r = ingest_opt_object(check, "forecast", &v, where, err,
	    errlen)) != 0)
		return r;
	if (v != NULL) {
		snprintf(sub, sizeof(sub), "%s.forecast", where);
		if ((r = ingest_forecast_members(v, sub, err, errlen)) != 0)
			return r;
	}
	if ((r = ingest_opt_object(check, "flapping", &v, where, err,
	    errlen)) != 0)
		return r;
	if (v != NULL) {
		snprintf(sub, sizeof(sub), "%s.flapping", where);
		if ((r = ingest_range(v, "percent", 1, 0, 0, 100, sub, err,
		    errlen)) != 0)
			return r;
	}
	return ingest_range(check, "silenced_until", 0, 0, 0,
	    (double)PORTAL_MAX_SEQ, where, err, errlen);
}

int
ingest_check(const json_t *check, const char *where, char *err,
    size_t errlen)
{
	/* PENDING: the agent has no result yet (a check that has not run
	 * since a start or reload); the ledger stores it as "no result". */
	static const char *const states[] = { "OK", "WARNING", "CRITICAL",
	    "UNKNOWN", "PENDING" };
	const char *state;
	size_t i;
	int r;

	if (!json_is_object(check))
		return ingest_fail(err, errlen, "%s: expected an object",
		    where);
	if ((r = ingest_req_string(check, "name", INGEST_MAX_NAME, where,
	    err, errlen)) != 0)
		return r;
	if ((r = ingest_req_string(check, "state", 16, where, err,
	    errlen)) != 0)
		return r;
	state = json_string_value(json_object_get(check, "state"));
	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (strcmp(state, states[i]) == 0)
			break;
	if (i == sizeof(states) / sizeof(states[0]))
		return ingest_fail(err, errlen, "%s.state: expected OK, "
		    "WARNING, CRITICAL, UNKNOWN or PENDING", where);
	if ((r = ingest_opt_string(check, "summary", where, err,
	    errlen)) != 0 ||
	    (r = ingest_opt_string(check, "long_text", where, err,
	    errlen)) != 0 ||
	    (r = ingest_opt_string(check, "kind", where, err, errlen)) != 0 ||
	    (r = ingest_opt_number(check, "when", where, err, errlen)) != 0 ||
	    (r = ingest_opt_number(check, "last_change", where, err,
	    errlen)) != 0)
		return r;
	if (json_object_get(check, "perfdata") != NULL &&
	    !json_is_array(json_object_get(check, "perfdata")))
		return ingest_fail(err, errlen, "%s.perfdata: expected an "
		    "array", where);
	return ingest_check_warnings(check, where, err, errlen);
}

/* A non-negative number member (integer or real), required. */
static int
ingest_req_count(const json_t *o, const char *key, const char *where,
    char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		return ingest_fail(err, errlen, "%s.%s: missing", where, key);
	if (!json_is_number(v) || json_number_value(v) < 0 ||
	    json_number_value(v) > (double)PORTAL_MAX_SEQ)
		return ingest_fail(err, errlen, "%s.%s: expected a number "
		    "from 0 to 2^53-1", where, key);
	return 0;
}

/* One of the words in list (NULL-terminated); the message lists them. */
static int
ingest_req_word(const json_t *o, const char *key, const char *const *list,
    const char *expect, const char *where, char *err, size_t errlen)
{
	const char *v;
	int r;

	if ((r = ingest_req_string(o, key, 32, where, err, errlen)) != 0)
		return r;
	v = json_string_value(json_object_get(o, key));
	for (; *list != NULL; list++)
		if (strcmp(v, *list) == 0)
			return 0;
	return ingest_fail(err, errlen, "%s.%s: expected %s", where, key,
	    expect);
}

/* backup_result (protocol.md): what the ledger keeps of it, bounded. */
static int
ingest_backup_result(const json_t *p, const char *sub, char *err,
    size_t errlen)
{
	static const char *const statuses[] = { "ok", "partial", "failed",
	    NULL };
	static const char *const kinds[] = { "full", "incremental", NULL };
	const char *job, *snap;
	json_t *v, *e;
	size_t i, n;
	int r;

	if ((r = ingest_req_string(p, "job", PORTAL_MAX_BACKUP_JOB, sub, err,
	    errlen)) != 0 ||
	    (r = ingest_req_word(p, "status", statuses, "ok, partial or "
	    "failed", sub, err, errlen)) != 0 ||
	    (r = ingest_req_word(p, "kind", kinds, "full or incremental",
	    sub, err, errlen)) != 0)
		return r;
	job = json_string_value(json_object_get(p, "job"));
	if ((n = strspn(job, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
	    "wxyz0123456789._-")) != strlen(job))
		return ingest_fail(err, errlen, "%s.job: only [A-Za-z0-9._-]",
		    sub);
	/* "" when the run failed before a snapshot existed. */
	v = json_object_get(p, "snapshot");
	if (!json_is_string(v) || json_string_length(v) > PORTAL_MAX_SNAPSHOT)
		return ingest_fail(err, errlen, "%s.snapshot: expected a "
		    "string of at most %d bytes", sub, PORTAL_MAX_SNAPSHOT);
	snap = json_string_value(v);
	if (strspn(snap, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") != json_string_length(v))
		return ingest_fail(err, errlen, "%s.snapshot: only "
		    "[A-Za-z0-9._-]", sub);
	if ((r = ingest_req_count(p, "files", sub, err, errlen)) != 0 ||
	    (r = ingest_req_count(p, "bytes", sub, err, errlen)) != 0 ||
	    (r = ingest_req_count(p, "stored_bytes", sub, err, errlen)) != 0 ||
	    (r = ingest_req_count(p, "duration", sub, err, errlen)) != 0)
		return r;
	if ((v = json_object_get(p, "started")) != NULL &&
	    (r = ingest_req_count(p, "started", sub, err, errlen)) != 0)
		return r;
	if ((v = json_object_get(p, "errors")) != NULL) {
		if (!json_is_array(v) ||
		    json_array_size(v) > PORTAL_MAX_BACKUP_ERRORS)
			return ingest_fail(err, errlen, "%s.errors: expected "
			    "an array of at most %d strings", sub,
			    PORTAL_MAX_BACKUP_ERRORS);
		json_array_foreach(v, i, e)
			if (!json_is_string(e) ||
			    json_string_length(e) > PORTAL_MAX_BACKUP_ERROR)
				return ingest_fail(err, errlen, "%s.errors[%zu]"
				    ": expected a string of at most %d bytes",
				    sub, i, PORTAL_MAX_BACKUP_ERROR);
	}
	return 0;
}

/*
 * support_event (docs/protocol.md): the session id, the event and its
 * time are required; the members the portal keeps are checked for type
 * and length when present; any other member is ignored (and not kept).
 */
static int
ingest_support_event(const json_t *p, const char *sub, char *err,
    size_t errlen)
{
	const char *id;
	json_t *v;
	size_t i;
	int r;

	if ((r = ingest_req_string(p, "session", INGEST_SESSION_ID_LEN, sub,
	    err, errlen)) != 0)
		return r;
	id = json_string_value(json_object_get(p, "session"));
	if (strlen(id) != INGEST_SESSION_ID_LEN ||
	    strncmp(id, "ses_", 4) != 0 ||
	    strspn(id + 4, "0123456789abcdef") != INGEST_SESSION_ID_LEN - 4)
		return ingest_fail(err, errlen, "%s.session: expected "
		    "ses_ and 16 lower-case hex digits", sub);
	if ((r = ingest_req_word(p, "event", ingest_support_events,
	    "requested, approved, denied, expired, opened, "
	    "connection_opened, connection_closed, closed or failed", sub,
	    err, errlen)) != 0)
		return r;
	if ((r = ingest_req_count(p, "at", sub, err, errlen)) != 0)
		return r;
	for (i = 0; ingest_support_strings[i] != NULL; i++) {
		v = json_object_get(p, ingest_support_strings[i]);
		if (v != NULL && !json_is_null(v) && (!json_is_string(v) ||
		    json_string_length(v) > INGEST_MAX_EVENT_STRING ||
		    strlen(json_string_value(v)) != json_string_length(v)))
			return ingest_fail(err, errlen, "%s.%s: expected a "
			    "string of at most %d bytes", sub,
			    ingest_support_strings[i],
			    INGEST_MAX_EVENT_STRING);
	}
	for (i = 0; ingest_support_numbers[i] != NULL; i++)
		if (json_object_get(p, ingest_support_numbers[i]) != NULL &&
		    !json_is_null(json_object_get(p,
		    ingest_support_numbers[i])) &&
		    (r = ingest_req_count(p, ingest_support_numbers[i], sub,
		    err, errlen)) != 0)
			return r;
	return 0;
}

/*
 * A state_change's "reason": forecast, flapping or soft, each with its
 * members checked; a type this portal does not know is kept unread, as an
 * unknown member would be (a newer agent may send one).
 */
static int
ingest_reason(const json_t *p, const char *sub, char *err, size_t errlen)
{
	static const char *const events[] = { "start", "stop", NULL };
	char where[160];
	const char *type;
	json_t *v;
	int r;

	if ((r = ingest_opt_object(p, "reason", &v, sub, err, errlen)) != 0 ||
	    v == NULL)
		return r;
	snprintf(where, sizeof(where), "%s.reason", sub);
	if ((r = ingest_req_string(v, "type", INGEST_MAX_KIND, where, err,
	    errlen)) != 0)
		return r;
	type = json_string_value(json_object_get(v, "type"));
	if (strcmp(type, "forecast") == 0)
		return ingest_forecast_members(v, where, err, errlen);
	if (strcmp(type, "flapping") == 0) {
		if ((r = ingest_req_word(v, "event", events, "start or stop",
		    where, err, errlen)) != 0)
			return r;
		return ingest_range(v, "percent", 0, 0, 0, 100, where, err,
		    errlen);
	}
	if (strcmp(type, "soft") == 0)
		return ingest_range(v, "attempts", 1, 1, 0,
		    INGEST_MAX_ATTEMPTS, where, err, errlen);
	return 0;
}

/*
 * Members any report's payload may carry: "maintenance" {until, reason}
 * while the host is in a maintenance window, "silenced_until".
 */
static int
ingest_marks(const json_t *p, const char *sub, char *err, size_t errlen)
{
	char where[160];
	json_t *v;
	int r;

	if ((r = ingest_opt_object(p, "maintenance", &v, sub, err,
	    errlen)) != 0)
		return r;
	if (v != NULL) {
		snprintf(where, sizeof(where), "%s.maintenance", sub);
		if ((r = ingest_range(v, "until", 1, 0, 0,
		    (double)PORTAL_MAX_SEQ, where, err, errlen)) != 0 ||
		    (r = ingest_opt_text(v, "reason", INGEST_MAX_EVENT_STRING,
		    where, err, errlen)) != 0)
			return r;
	}
	return ingest_range(p, "silenced_until", 0, 0, 0,
	    (double)PORTAL_MAX_SEQ, sub, err, errlen);
}

/* The "maintenance" report: a window started, or ended (stopped early
 * or expired) on the agent. */
static int
ingest_maintenance(const json_t *p, const char *sub, char *err,
    size_t errlen)
{
	static const char *const events[] = { "start", "stop", NULL };
	int r;

	if ((r = ingest_req_word(p, "event", events, "start or stop", sub,
	    err, errlen)) != 0)
		return r;
	if ((r = ingest_range(p, "until", strcmp(json_string_value(
	    json_object_get(p, "event")), "start") == 0, 0, 0,
	    (double)PORTAL_MAX_SEQ, sub, err, errlen)) != 0 ||
	    (r = ingest_opt_text(p, "reason", INGEST_MAX_EVENT_STRING, sub,
	    err, errlen)) != 0 ||
	    (r = ingest_opt_text(p, "by", INGEST_MAX_NAME, sub, err,
	    errlen)) != 0)
		return r;
	return 0;
}

static int
ingest_payload(const struct ingest_report *rep, const char *where,
    char *err, size_t errlen)
{
	static const char *const statuses[] = { "done", "refused", "failed" };
	char sub[96];
	json_t *v, *c;
	size_t i;
	int r;

	if (strcmp(rep->kind, "heartbeat") == 0) {
		v = json_object_get(rep->payload, "checks");
		if (v == NULL)
			return ingest_fail(err, errlen, "%s.payload.checks: "
			    "missing", where);
		if (!json_is_array(v))
			return ingest_fail(err, errlen, "%s.payload.checks: "
			    "expected an array", where);
		if (json_array_size(v) > PORTAL_MAX_CHECKS)
			return ingest_fail(err, errlen, "%s.payload.checks: "
			    "%zu checks, at most %d per agent", where,
			    json_array_size(v), PORTAL_MAX_CHECKS);
		json_array_foreach(v, i, c) {
			snprintf(sub, sizeof(sub), "%s.payload.checks[%zu]",
			    where, i);
			if ((r = ingest_check(c, sub, err, errlen)) != 0)
				return r;
		}
	} else if (strcmp(rep->kind, "state_change") == 0) {
		snprintf(sub, sizeof(sub), "%s.payload.check", where);
		v = json_object_get(rep->payload, "check");
		if (v == NULL)
			return ingest_fail(err, errlen, "%s: missing", sub);
		if ((r = ingest_check(v, sub, err, errlen)) != 0)
			return r;
		snprintf(sub, sizeof(sub), "%s.payload", where);
		if ((r = ingest_reason(rep->payload, sub, err, errlen)) != 0)
			return r;
	} else if (strcmp(rep->kind, "inventory") == 0) {
		snprintf(sub, sizeof(sub), "%s.payload.host", where);
		v = json_object_get(rep->payload, "host");
		if (v == NULL)
			return ingest_fail(err, errlen, "%s: missing", sub);
		if (!json_is_object(v))
			return ingest_fail(err, errlen, "%s: expected an "
			    "object", sub);
		if ((r = ingest_opt_string(v, "hostname", sub, err,
		    errlen)) != 0)
			return r;
	} else if (strcmp(rep->kind, "command_result") == 0) {
		snprintf(sub, sizeof(sub), "%s.payload", where);
		if ((r = ingest_req_string(rep->payload, "command_id",
		    PORTAL_MAX_COMMAND_ID, sub,
		    err, errlen)) != 0 ||
		    (r = ingest_req_string(rep->payload, "status", 16, sub,
		    err, errlen)) != 0 ||
		    (r = ingest_opt_string(rep->payload, "detail", sub, err,
		    errlen)) != 0)
			return r;
		v = json_object_get(rep->payload, "status");
		for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
			if (strcmp(json_string_value(v), statuses[i]) == 0)
				break;
		if (i == sizeof(statuses) / sizeof(statuses[0]))
			return ingest_fail(err, errlen, "%s.status: expected "
			    "done, refused or failed", sub);
	} else if (strcmp(rep->kind, "backup_result") == 0) {
		snprintf(sub, sizeof(sub), "%s.payload", where);
		if ((r = ingest_backup_result(rep->payload, sub, err,
		    errlen)) != 0)
			return r;
	} else if (strcmp(rep->kind, "support_event") == 0) {
		snprintf(sub, sizeof(sub), "%s.payload", where);
		if ((r = ingest_support_event(rep->payload, sub, err,
		    errlen)) != 0)
			return r;
	} else if (strcmp(rep->kind, "maintenance") == 0) {
		snprintf(sub, sizeof(sub), "%s.payload", where);
		if ((r = ingest_maintenance(rep->payload, sub, err,
		    errlen)) != 0)
			return r;
	}
	/* Other kinds are stored and acknowledged unread (protocol.md). */
	snprintf(sub, sizeof(sub), "%s.payload", where);
	return ingest_marks(rep->payload, sub, err, errlen);
}

static int
ingest_report(json_t *o, size_t i, struct ingest_report *rep, char *err,
    size_t errlen)
{
	char where[32];
	json_t *v;
	int r;

	snprintf(where, sizeof(where), "reports[%zu]", i);
	if (!json_is_object(o))
		return ingest_fail(err, errlen, "%s: expected an object",
		    where);
	if ((v = json_object_get(o, "seq")) == NULL)
		return ingest_fail(err, errlen, "%s.seq: missing", where);
	if (!json_is_integer(v))
		return ingest_fail(err, errlen, "%s.seq: expected an integer",
		    where);
	rep->seq = json_integer_value(v);
	if (rep->seq < 1)
		return ingest_fail(err, errlen, "%s.seq: must be at least 1",
		    where);
	if (rep->seq > PORTAL_MAX_SEQ)
		return ingest_fail(err, errlen, "%s.seq: larger than %lld",
		    where, PORTAL_MAX_SEQ);
	if ((r = ingest_req_string(o, "kind", INGEST_MAX_KIND, where, err,
	    errlen)) != 0)
		return r;
	rep->kind = json_string_value(json_object_get(o, "kind"));
	if ((v = json_object_get(o, "time")) == NULL)
		return ingest_fail(err, errlen, "%s.time: missing", where);
	if (!json_is_number(v))
		return ingest_fail(err, errlen, "%s.time: expected a number",
		    where);
	rep->time = json_number_value(v);
	if (!isfinite(rep->time) || rep->time < 0)
		return ingest_fail(err, errlen, "%s.time: out of range",
		    where);
	if ((v = json_object_get(o, "payload")) == NULL)
		return ingest_fail(err, errlen, "%s.payload: missing", where);
	if (!json_is_object(v))
		return ingest_fail(err, errlen, "%s.payload: expected an "
		    "object", where);
	rep->payload = v;
	switch (ingest_bounded(v, 0)) {
	case 0:
		break;
	case -E2BIG:
		return ingest_fail(err, errlen, "%s.payload: a string is "
		    "longer than %d bytes", where, PORTAL_MAX_STRING);
	default:
		return ingest_fail(err, errlen, "%s.payload: nested deeper "
		    "than %d", where, INGEST_MAX_DEPTH);
	}
	return ingest_payload(rep, where, err, errlen);
}

int
ingest_parse_reports(const char *json, size_t len, struct ingest_batch *b,
    char *err, size_t errlen)
{
	json_t *arr;
	size_t i, n, checks = 0;
	int r;

	b->root = NULL;
	b->n = 0;
	if (errlen > 0)
		err[0] = '\0';
	if ((b->root = ingest_load(json, len, err, errlen)) == NULL)
		return -EINVAL;
	if ((arr = json_object_get(b->root, "reports")) == NULL) {
		r = ingest_fail(err, errlen, "reports: missing");
		goto out;
	}
	if (!json_is_array(arr)) {
		r = ingest_fail(err, errlen, "reports: expected an array");
		goto out;
	}
	n = json_array_size(arr);
	if (n > PORTAL_MAX_REPORTS) {
		snprintf(err, errlen, "reports: %zu reports, at most %d per "
		    "request", n, PORTAL_MAX_REPORTS);
		r = -E2BIG;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((r = ingest_report(json_array_get(arr, i), i,
		    &b->reports[i], err, errlen)) != 0)
			goto out;
		/*
		 * Each check is a row to update (and maybe an alert) under
		 * the store's one lock: 8 MiB of them would hold every
		 * thread for seconds. The agent splits a batch on 413.
		 */
		if (strcmp(b->reports[i].kind, "heartbeat") == 0)
			checks += json_array_size(json_object_get(
			    b->reports[i].payload, "checks"));
		else if (strcmp(b->reports[i].kind, "state_change") == 0)
			checks++;
		if (checks > PORTAL_MAX_REQUEST_CHECKS) {
			snprintf(err, errlen, "reports: more than %d checks "
			    "in one request", PORTAL_MAX_REQUEST_CHECKS);
			r = -E2BIG;
			goto out;
		}
	}
	b->n = n;
	r = 0;
out:
	if (r != 0)
		ingest_batch_clear(b);
	return r;
}

void
ingest_batch_clear(struct ingest_batch *b)
{
	json_decref(b->root);
	b->root = NULL;
	b->n = 0;
}

/*
 * The one form of key the bastion will list: "ssh-ed25519 " and the 68
 * base64 characters of its 51-byte blob (the type as an SSH string, then
 * the 32-byte key as one), nothing before or after. 51 bytes are 17
 * whole base64 groups, so the text has no padding and one spelling only:
 * two agents cannot hold the same key in two forms.
 */
int
ingest_ssh_key(const char *key, size_t len, char *err, size_t errlen)
{
	static const char prefix[] = "ssh-ed25519 ";
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
	    "opqrstuvwxyz0123456789+/";
	static const unsigned char head[] = { 0, 0, 0, 11, 's', 's', 'h',
	    '-', 'e', 'd', '2', '5', '5', '1', '9', 0, 0, 0, 32 };
	struct hostkey hk;
	size_t plen = sizeof(prefix) - 1;

	if (len > INGEST_MAX_SSH_KEY || strnlen(key, len) != len)
		return ingest_fail(err, errlen, "ssh_key: at most %d bytes, "
		    "no NUL", INGEST_MAX_SSH_KEY);
	if (len < plen || memcmp(key, prefix, plen) != 0)
		return ingest_fail(err, errlen, "ssh_key: expected "
		    "\"ssh-ed25519 BASE64\" (ssh-ed25519 keys only)");
	if (len != plen + INGEST_SSH_KEY_B64 ||
	    strspn(key + plen, b64) != INGEST_SSH_KEY_B64)
		return ingest_fail(err, errlen, "ssh_key: expected the %d "
		    "base64 characters of an ed25519 key and no comment",
		    INGEST_SSH_KEY_B64);
	if (hostkey_parse(key, &hk) != 0 || hk.len != sizeof(head) + 32 ||
	    memcmp(hk.blob, head, sizeof(head)) != 0)
		return ingest_fail(err, errlen, "ssh_key: not an ssh-ed25519 "
		    "public key blob");
	return 0;
}

int
ingest_parse_enroll(const char *json, size_t len, json_t **root,
    const char **token, json_t **host, char *err, size_t errlen)
{
	return ingest_parse_enroll_key(json, len, root, token, host, NULL,
	    err, errlen);
}

int
ingest_parse_enroll_key(const char *json, size_t len, json_t **root,
    const char **token, json_t **host, const char **ssh_key, char *err,
    size_t errlen)
{
	static const char *const strs[] = { "os", "kernel", "arch",
	    "cpu_model", "agent_version" };
	json_t *o, *h, *v;
	size_t i;
	int r;

	*root = NULL;
	*token = NULL;
	*host = NULL;
	if (ssh_key != NULL)
		*ssh_key = NULL;
	if ((o = ingest_load(json, len, err, errlen)) == NULL)
		return -EINVAL;
	if ((r = ingest_req_string(o, "token", 256, "", err, errlen)) != 0)
		goto out;
	/* Optional: agents before the support tunnel send none. */
	if ((v = json_object_get(o, "ssh_key")) != NULL) {
		if (!json_is_string(v)) {
			r = ingest_fail(err, errlen, "ssh_key: expected a "
			    "string");
			goto out;
		}
		if ((r = ingest_ssh_key(json_string_value(v),
		    json_string_length(v), err, errlen)) != 0)
			goto out;
	}
	if ((r = ingest_req_object(o, "host", &h, err, errlen)) != 0)
		goto out;
	if ((r = ingest_req_string(h, "hostname", 255, "host", err,
	    errlen)) != 0 ||
	    (r = ingest_req_string(h, "machine_id", 128, "host", err,
	    errlen)) != 0)
		goto out;
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if ((r = ingest_opt_string(h, strs[i], "host", err,
		    errlen)) != 0)
			goto out;
	if (((v = json_object_get(h, "cpus")) != NULL &&
	    !json_is_integer(v)) ||
	    ((v = json_object_get(h, "memory_bytes")) != NULL &&
	    !json_is_integer(v))) {
		r = ingest_fail(err, errlen, "host.%s: expected an integer",
		    json_object_get(h, "cpus") == v ? "cpus" :
		    "memory_bytes");
		goto out;
	}
	if ((r = ingest_req_bounded(h, "host", err, errlen)) != 0)
		goto out;
	*token = json_string_value(json_object_get(o, "token"));
	*host = h;
	if (ssh_key != NULL)
		*ssh_key = json_string_value(json_object_get(o, "ssh_key"));
	*root = o;
	o = NULL;	/* transferred */
	r = 0;
out:
	json_decref(o);
	return r;
}

int
ingest_parse_ack(const char *json, size_t len, json_t **root,
    const char **comment, char *err, size_t errlen)
{
	json_t *o;
	int r;

	*root = NULL;
	*comment = NULL;
	if ((o = ingest_load(json, len, err, errlen)) == NULL)
		return -EINVAL;
	if ((r = ingest_req_string(o, "comment", INGEST_MAX_COMMENT, "", err,
	    errlen)) != 0) {
		json_decref(o);
		return r;
	}
	*comment = json_string_value(json_object_get(o, "comment"));
	*root = o;
	return 0;
}

int
ingest_parse_command(const char *json, size_t len, json_t **root,
    const char **type, json_t **args, char *err, size_t errlen)
{
	json_t *o, *a, *v;
	const char *t;
	int r;

	*root = NULL;
	*type = NULL;
	*args = NULL;
	if ((o = ingest_load(json, len, err, errlen)) == NULL)
		return -EINVAL;
	if ((r = ingest_req_string(o, "type", 64, "", err, errlen)) != 0)
		goto out;
	t = json_string_value(json_object_get(o, "type"));
	if ((r = ingest_req_object(o, "args", &a, err, errlen)) != 0)
		goto out;
	if (strcmp(t, "run_check") == 0 || strcmp(t, "run_backup") == 0) {
		if ((r = ingest_req_string(a, "name", INGEST_MAX_NAME, "args",
		    err, errlen)) != 0)
			goto out;
	} else if (strcmp(t, "open_support_session") == 0) {
		if ((r = ingest_req_string(a, "requested_by", INGEST_MAX_NAME,
		    "args", err, errlen)) != 0)
			goto out;
		v = json_object_get(a, "minutes");
		if (v == NULL || !json_is_integer(v) ||
		    json_integer_value(v) < 1 ||
		    json_integer_value(v) > 24 * 60) {
			r = ingest_fail(err, errlen, "args.minutes: expected "
			    "an integer from 1 to 1440");
			goto out;
		}
	} else {
		r = ingest_fail(err, errlen, "type: expected run_check, "
		    "run_backup or open_support_session");
		goto out;
	}
	if ((r = ingest_req_bounded(a, "args", err, errlen)) != 0)
		goto out;
	*type = t;
	*args = a;
	*root = o;
	o = NULL;	/* transferred */
	r = 0;
out:
	json_decref(o);
	return r;
}

int
ingest_parse_login(const char *json, size_t len, size_t max_name,
    size_t max_password, json_t **root, const char **name,
    const char **password, char *err, size_t errlen)
{
	json_t *o;
	int r;

	*root = NULL;
	*name = *password = NULL;
	if ((o = ingest_load(json, len, err, errlen)) == NULL)
		return -EINVAL;
	if ((r = ingest_req_string(o, "name", max_name, "", err,
	    errlen)) != 0 ||
	    (r = ingest_req_string(o, "password", max_password, "", err,
	    errlen)) != 0)
		goto out;
	*name = json_string_value(json_object_get(o, "name"));
	*password = json_string_value(json_object_get(o, "password"));
	*root = o;
	o = NULL;	/* transferred */
	r = 0;
out:
	json_decref(o);
	return r;
}

int
ingest_parse_token_request(const char *json, size_t len, double max_ttl,
    json_t **root, double *expires, const char **replace, char *err,
    size_t errlen)
{
	json_t *o, *v;
	int r;

	*root = NULL;
	*expires = 0;
	*replace = NULL;
	if (len == 0)
		return 0;
	if ((o = ingest_load(json, len, err, errlen)) == NULL)
		return -EINVAL;
	if ((v = json_object_get(o, "expires")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 60 ||
		    (double)json_integer_value(v) > max_ttl) {
			r = ingest_fail(err, errlen, "expires: expected an "
			    "integer from 60 to %.0f (seconds)", max_ttl);
			goto out;
		}
		*expires = (double)json_integer_value(v);
	}
	if (json_object_get(o, "replace") != NULL) {
		if ((r = ingest_req_string(o, "replace", 36, "", err,
		    errlen)) != 0)
			goto out;
		*replace = json_string_value(json_object_get(o, "replace"));
	}
	*root = o;
	o = NULL;	/* transferred */
	r = 0;
out:
	json_decref(o);
	return r;
}

int
ingest_parse_user(const char *json, size_t len, size_t max_name,
    size_t max_password, json_t **root, const char **name, const char **role,
    const char **password, char *err, size_t errlen)
{
	json_t *o;
	int r;

	*root = NULL;
	*name = *role = *password = NULL;
	if ((o = ingest_load(json, len, err, errlen)) == NULL)
		return -EINVAL;
	if ((r = ingest_req_string(o, "name", max_name, "", err,
	    errlen)) != 0 ||
	    (r = ingest_req_string(o, "role", 16, "", err, errlen)) != 0 ||
	    (r = ingest_req_string(o, "password", max_password, "", err,
	    errlen)) != 0)
		goto out;
	*name = json_string_value(json_object_get(o, "name"));
	*role = json_string_value(json_object_get(o, "role"));
	*password = json_string_value(json_object_get(o, "password"));
	*root = o;
	o = NULL;	/* transferred */
	r = 0;
out:
	json_decref(o);
	return r;
}
