/*
 * The audit table. Every state-changing operator action calls audit_log
 * once, after it succeeded or was refused, so the log answers "who did
 * this" without reading the journal of every portal instance.
 */
#include <errno.h>
#include <stdint.h>

#include <sqlite3.h>

#include "audit.h"
#include "log.h"
#include "store.h"

int
audit_log(struct store *s, const char *actor, const char *source,
    const char *action, const char *target, const char *detail)
{
	sqlite3_stmt *st;
	int r = 0;

	store_lock(s);
	st = store_stmt(s, "INSERT INTO audit (time, actor, source, action, "
	    "target, detail) VALUES (?, ?, ?, ?, ?, ?)");
	if (st == NULL)
		r = -EIO;
	else {
		sqlite3_bind_double(st, 1, store_now());
		sqlite3_bind_text(st, 2, actor, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, source, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, action, -1, SQLITE_STATIC);
		if (target != NULL)
			sqlite3_bind_text(st, 5, target, -1, SQLITE_STATIC);
		if (detail != NULL)
			sqlite3_bind_text(st, 6, detail, -1, SQLITE_STATIC);
		if (store_step(s, st) != SQLITE_DONE)
			r = -EIO;
	}
	store_unlock(s);
	if (r != 0)
		log_warnx("audit: cannot record %s by %s", action, actor);
	return r;
}

/* A text column, or null. */
static json_t *
audit_text(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null() :
	    json_string(store_text(st, i));
}

int
audit_list(struct store *s, long long before, int limit, json_t **out)
{
	sqlite3_stmt *st;
	json_t *recs = json_array(), *o;
	long long last = 0;
	int rc, r, n = 0;

	*out = NULL;
	if (limit < 1 || limit > AUDIT_MAX_PAGE)
		limit = AUDIT_MAX_PAGE;
	store_lock(s);
	st = store_stmt(s, "SELECT id, time, actor, source, action, target, "
	    "detail FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?");
	if (st == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_int64(st, 1, before > 0 ? before : INT64_MAX);
	sqlite3_bind_int(st, 2, limit);
	while ((rc = store_step(s, st)) == SQLITE_ROW) {
		last = sqlite3_column_int64(st, 0);
		n++;
		o = json_pack("{s:I, s:f, s:s, s:s, s:s, s:o, s:o}",
		    "id", (json_int_t)last, "time",
		    sqlite3_column_double(st, 1), "actor", store_text(st, 2),
		    "source", store_text(st, 3), "action", store_text(st, 4),
		    "target", audit_text(st, 5), "detail", audit_text(st, 6));
		if (o != NULL)
			json_array_append_new(recs, o);
	}
	if (rc != SQLITE_DONE) {
		r = -EIO;
		goto out;
	}
	*out = json_pack("{s:o, s:o}", "records", recs, "next",
	    n == limit && last > 1 ? json_integer(last) : json_null());
	recs = NULL;	/* transferred */
	r = *out != NULL ? 0 : -ENOMEM;
out:
	store_unlock(s);
	json_decref(recs);
	return r;
}
