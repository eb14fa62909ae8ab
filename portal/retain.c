/*
 * Report retention. Heartbeats are most of the database (one per host per
 * interval, each with every check's result); the charts need only a few
 * numbers of each, so at ingest those numbers go into a narrow samples row
 * and, once a heartbeat is older than --keep-reports, its sample is folded
 * into hourly summaries (count, min, sum, max per metric) and both rows
 * go. Everything is deleted in transactions of at most RETAIN_BATCH rows:
 * each holds the store lock, and every ingest waits for that lock.
 *
 * Dedupe of resent reports: ledger_store recognises a retry by its stored
 * (agent, seq). A pruned row cannot answer that, so each agent keeps the
 * highest pruned seq and the newest agent time among the pruned rows
 * (agents.pruned_seq, pruned_time): a report at or below pruned_seq that
 * is not stored any more and is not newer than pruned_time is a retry of
 * a pruned report (acknowledged, changes nothing); one newer than that is
 * new content under an old number, the sequence conflict (409).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "log.h"
#include "retain.h"
#include "store.h"

/* The number of perfdata item label in check's perfdata, or NAN. */
static double
retain_perf(json_t *check, const char *label)
{
	json_t *pd = json_object_get(check, "perfdata"), *p, *v;
	const char *l;
	size_t i;

	json_array_foreach(pd, i, p) {
		l = json_string_value(json_object_get(p, "label"));
		v = json_object_get(p, "value");
		if (l != NULL && strcmp(l, label) == 0 && json_is_number(v))
			return json_number_value(v);
	}
	return NAN;
}

/* A filesystem label worth a series: "MOUNT:used" or "MOUNT:used_bytes",
 * short, without the tab and newline that separate them in samples.fs. */
static int
retain_fs_label(const char *l)
{
	size_t n = strlen(l);
	const char *c = strrchr(l, ':');

	if (n == 0 || n > RETAIN_MAX_LABEL || strpbrk(l, "\t\n") != NULL ||
	    c == NULL || c == l)
		return 0;
	return strcmp(c, ":used") == 0 || strcmp(c, ":used_bytes") == 0;
}

static void
retain_bind_num(sqlite3_stmt *st, int i, double v)
{
	if (isfinite(v))
		sqlite3_bind_double(st, i, v);
}

int
retain_sample(struct store *s, const char *agent_id, long long seq,
    double time, json_t *checks)
{
	static const char ins[] = "INSERT INTO samples (agent_id, time, seq, "
	    "cpu, memory, load, fs) VALUES (?, ?, ?, ?, ?, ?, ?) "
	    "ON CONFLICT (agent_id, time, seq) DO NOTHING";
	double cpu = NAN, mem = NAN, load = NAN, v;
	json_t *c, *p;
	const char *name, *l;
	char *fs = NULL, num[32];
	size_t i, j, len = 0, cap = 0, nfs = 0, need;
	sqlite3_stmt *st;
	int r;

	json_array_foreach(checks, i, c) {
		if ((name = json_string_value(json_object_get(c,
		    "name"))) == NULL)
			continue;
		if (strcmp(name, "cpu") == 0)
			cpu = retain_perf(c, "usage");
		else if (strcmp(name, "memory") == 0) {
			/* The collector reports what is available; charts
			 * show what is used. */
			if (isfinite(v = retain_perf(c, "available")))
				mem = 100.0 - v;
		} else if (strcmp(name, "load") == 0)
			load = retain_perf(c, "load1");
		else if (strcmp(name, "filesystems") == 0) {
			json_array_foreach(json_object_get(c, "perfdata"), j,
			    p) {
				l = json_string_value(json_object_get(p,
				    "label"));
				if (l == NULL || !retain_fs_label(l) ||
				    !json_is_number(json_object_get(p,
				    "value")) || nfs == RETAIN_MAX_FS)
					continue;
				v = json_number_value(json_object_get(p,
				    "value"));
				snprintf(num, sizeof(num), "%.17g", v);
				need = strlen(l) + strlen(num) + 3;
				if (len + need > cap) {
					cap = cap * 2 + need + 256;
					if ((fs = realloc(fs, cap)) == NULL)
						return -ENOMEM;
				}
				len += (size_t)snprintf(fs + len, cap - len,
				    "%s\t%s\n", l, num);
				nfs++;
			}
		}
	}
	if (!isfinite(cpu) && !isfinite(mem) && !isfinite(load) && nfs == 0) {
		free(fs);
		return 0;
	}
	if ((st = store_stmt(s, ins)) == NULL) {
		free(fs);
		return -EIO;
	}
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, time);
	sqlite3_bind_int64(st, 3, seq);
	retain_bind_num(st, 4, cpu);
	retain_bind_num(st, 5, mem);
	retain_bind_num(st, 6, load);
	if (fs != NULL)
		sqlite3_bind_text(st, 7, fs, (int)len, free);
	r = store_step(s, st) == SQLITE_DONE ? 0 : -EIO;
	return r;
}

/* Folds one value into its hour's summary. */
static int
retain_fold(struct store *s, const char *agent_id, const char *metric,
    double hour, double v)
{
	static const char ups[] = "INSERT INTO summaries (agent_id, metric, "
	    "hour, n, vmin, vsum, vmax) VALUES (?1, ?2, ?3, 1, ?4, ?4, ?4) "
	    "ON CONFLICT (agent_id, hour, metric) DO UPDATE SET "
	    "n = summaries.n + 1, vsum = summaries.vsum + ?4, "
	    "vmin = CASE WHEN ?4 < summaries.vmin THEN ?4 ELSE "
	    "summaries.vmin END, vmax = CASE WHEN ?4 > summaries.vmax THEN "
	    "?4 ELSE summaries.vmax END";
	sqlite3_stmt *st;

	if ((st = store_stmt(s, ups)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, metric, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 3, hour);
	sqlite3_bind_double(st, 4, v);
	return store_step(s, st) == SQLITE_DONE ? 0 : -EIO;
}

/* The sample of heartbeat (agent, time, seq) into the summaries, and
 * gone: 0, 1 when it has no sample, or a negative errno. */
static int
retain_fold_sample(struct store *s, const char *agent_id, double time,
    long long seq)
{
	static const char sel[] = "SELECT cpu, memory, load, fs FROM samples "
	    "WHERE agent_id = ? AND time = ? AND seq = ?";
	static const char del[] = "DELETE FROM samples WHERE agent_id = ? AND "
	    "time = ? AND seq = ?";
	static const char *const cols[] = { "cpu", "memory", "load" };
	double hour = floor(time / 3600) * 3600, v, vals[3];
	char *fs = NULL, *line, *tab, *save = NULL, *end;
	sqlite3_stmt *st;
	int rc, r = 0, i, have[3];

	if ((st = store_stmt(s, sel)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, time);
	sqlite3_bind_int64(st, 3, seq);
	if ((rc = store_step(s, st)) == SQLITE_DONE)
		return 1;
	if (rc != SQLITE_ROW)
		return -EIO;
	/* The row is read whole before the upserts reuse the lock's
	 * statements. */
	for (i = 0; i < 3; i++) {
		have[i] = sqlite3_column_type(st, i) != SQLITE_NULL;
		vals[i] = sqlite3_column_double(st, i);
	}
	if (sqlite3_column_type(st, 3) != SQLITE_NULL &&
	    (fs = strdup(store_text(st, 3))) == NULL)
		return -ENOMEM;
	sqlite3_reset(st);
	for (i = 0; i < 3 && r == 0; i++)
		if (have[i])
			r = retain_fold(s, agent_id, cols[i], hour, vals[i]);
	for (line = fs != NULL ? strtok_r(fs, "\n", &save) : NULL;
	    line != NULL && r == 0; line = strtok_r(NULL, "\n", &save)) {
		if ((tab = strchr(line, '\t')) == NULL)
			continue;
		*tab = '\0';
		v = strtod(tab + 1, &end);
		if (end != tab + 1 && isfinite(v))
			r = retain_fold(s, agent_id, line, hour, v);
	}
	free(fs);
	if (r != 0)
		return r;
	if ((st = store_stmt(s, del)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, time);
	sqlite3_bind_int64(st, 3, seq);
	return store_step(s, st) == SQLITE_DONE ? 0 : -EIO;
}

/*
 * A heartbeat stored before schema 9 has no sample: it is made from the
 * payload now, so that its numbers still reach the summaries. 0 or a
 * negative errno (an unreadable payload is skipped).
 */
static int
retain_legacy_sample(struct store *s, const char *agent_id, double time,
    long long seq)
{
	static const char sel[] = "SELECT payload FROM reports WHERE "
	    "agent_id = ? AND seq = ?";
	json_t *p;
	sqlite3_stmt *st;
	int rc, r;

	if ((st = store_stmt(s, sel)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, seq);
	if ((rc = store_step(s, st)) != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? 0 : -EIO;
	}
	p = json_loads(store_text(st, 0), 0, NULL);
	sqlite3_reset(st);
	if (p == NULL)
		return 0;
	r = retain_sample(s, agent_id, seq, time, json_object_get(p,
	    "checks"));
	json_decref(p);
	if (r == 0 && (r = retain_fold_sample(s, agent_id, time, seq)) == 1)
		r = 0;		/* nothing to chart in it */
	return r;
}

/* Up to max rows of reports of kind received before cut: heartbeats'
 * samples folded, rows deleted, the agents' pruned marks raised. */
static int
retain_reports(struct store *s, const char *kind, double cut, int max)
{
	static const char sel[] = "SELECT agent_id, seq, time FROM reports "
	    "WHERE kind = ? AND received < ? LIMIT ?";
	static const char del[] = "DELETE FROM reports WHERE agent_id = ? AND "
	    "seq = ?";
	static const char mark[] = "UPDATE agents SET pruned_seq = CASE WHEN "
	    "?2 > pruned_seq THEN ?2 ELSE pruned_seq END, pruned_time = CASE "
	    "WHEN ?3 > pruned_time THEN ?3 ELSE pruned_time END WHERE id = ?1";
	struct row { char agent[72]; long long seq; double time; } *rows;
	int heartbeat = strcmp(kind, "heartbeat") == 0, n = 0, rc, r = 0, i;
	sqlite3_stmt *st;

	if ((rows = calloc((size_t)max, sizeof(*rows))) == NULL)
		return -ENOMEM;
	if ((st = store_stmt(s, sel)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, cut);
	sqlite3_bind_int(st, 3, max);
	while (n < max && (rc = store_step(s, st)) == SQLITE_ROW) {
		snprintf(rows[n].agent, sizeof(rows[n].agent), "%s",
		    store_text(st, 0));
		rows[n].seq = sqlite3_column_int64(st, 1);
		rows[n].time = sqlite3_column_double(st, 2);
		n++;
	}
	sqlite3_reset(st);
	for (i = 0; i < n; i++) {
		if (heartbeat && (r = retain_fold_sample(s, rows[i].agent,
		    rows[i].time, rows[i].seq)) == 1)
			r = retain_legacy_sample(s, rows[i].agent,
			    rows[i].time, rows[i].seq);
		if (heartbeat && r != 0)
			goto out;
		if ((st = store_stmt(s, del)) == NULL) {
			r = -EIO;
			goto out;
		}
		sqlite3_bind_text(st, 1, rows[i].agent, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, rows[i].seq);
		if (store_step(s, st) != SQLITE_DONE) {
			r = -EIO;
			goto out;
		}
		if ((st = store_stmt(s, mark)) == NULL) {
			r = -EIO;
			goto out;
		}
		sqlite3_bind_text(st, 1, rows[i].agent, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, rows[i].seq);
		sqlite3_bind_double(st, 3, rows[i].time);
		if (store_step(s, st) != SQLITE_DONE) {
			r = -EIO;
			goto out;
		}
	}
	r = n;
out:
	free(rows);
	return r;
}

/* The next kind of report after prev (the first with ""), by the index:
 * 1 with it in buf, 0 when there is none. */
static int
retain_next_kind(struct store *s, const char *prev, char *buf, size_t len)
{
	static const char sel[] = "SELECT kind FROM reports WHERE kind > ? "
	    "ORDER BY kind LIMIT 1";
	sqlite3_stmt *st;
	int rc;

	if ((st = store_stmt(s, sel)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, prev, -1, SQLITE_TRANSIENT);
	if ((rc = store_step(s, st)) == SQLITE_ROW)
		snprintf(buf, len, "%s", store_text(st, 0));
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -EIO;
}

/* A DELETE of at most max rows by one bound parameter (the cut). */
static int
retain_delete(struct store *s, const char *sql, double cut, int max)
{
	sqlite3_stmt *st;

	if ((st = store_stmt(s, sql)) == NULL)
		return -EIO;
	sqlite3_bind_double(st, 1, cut);
	sqlite3_bind_int(st, 2, max);
	if (store_step(s, st) != SQLITE_DONE)
		return -EIO;
	return sqlite3_changes(store_db(s));
}

/*
 * Kinds of report one transaction looks at, and where the last one
 * stopped: an agent may invent any number of kinds, and each costs an
 * index seek under the lock. Only touched with the store lock held.
 */
#define RETAIN_KINDS_PER_BATCH	64
static char retain_kind_cursor[256];

/* The work of one transaction; rows removed or a negative errno. */
static int
retain_batch(struct store *s, const struct retain_policy *p, double now)
{
	static const char changes[] = "DELETE FROM check_changes WHERE id IN "
	    "(SELECT id FROM check_changes WHERE at < ? LIMIT ?)";
	static const char sums[] = "DELETE FROM summaries WHERE "
	    "(agent_id, hour, metric) IN (SELECT agent_id, hour, metric FROM "
	    "summaries WHERE hour < ? LIMIT ?)";
	char kind[256];
	int n, left = RETAIN_BATCH, r, rc = 1, kinds = 0;

	if ((n = retain_reports(s, "heartbeat", now - p->keep_reports,
	    left)) < 0)
		return n;
	left -= n;
	/* The cursor moves past a kind once none of its rows is due. */
	while (left > 0 && kinds++ < RETAIN_KINDS_PER_BATCH &&
	    (rc = retain_next_kind(s, retain_kind_cursor, kind,
	    sizeof(kind))) == 1) {
		if (strcmp(kind, "heartbeat") != 0) {
			if ((r = retain_reports(s, kind, now - p->keep_events,
			    left)) < 0)
				return r;
			left -= r;
			if (left == 0)
				break;	/* maybe more of it: stay */
		}
		snprintf(retain_kind_cursor, sizeof(retain_kind_cursor), "%s",
		    kind);
	}
	if (rc < 0)
		return rc;
	if (rc == 0)
		retain_kind_cursor[0] = '\0';	/* all seen: start again */
	if (left > 0) {
		if ((r = retain_delete(s, changes, now - p->keep_events,
		    left)) < 0)
			return r;
		left -= r;
	}
	if (left > 0) {
		if ((r = retain_delete(s, sums, now - p->keep_summaries,
		    left)) < 0)
			return r;
		left -= r;
	}
	return RETAIN_BATCH - left;
}

int
retain_prune_batch(struct store *s, const struct retain_policy *p,
    double now, double *held)
{
	double t0;
	int r;

	store_lock(s);
	t0 = store_monotonic();
	if ((r = store_begin(s)) != 0)
		goto out;
	if ((r = retain_batch(s, p, now)) < 0) {
		store_rollback(s);
		goto out;
	}
	if (store_commit(s) != 0)
		r = -EIO;
out:
	*held = store_monotonic() - t0;
	store_unlock(s);
	return r;
}

long long
retain_prune(struct store *s, const struct retain_policy *p, double now,
    int max_batches, double *longest)
{
	long long total = 0;
	double held;
	int i, r;

	*longest = 0;
	for (i = 0; i < max_batches; i++) {
		r = retain_prune_batch(s, p, now, &held);
		if (held > *longest)
			*longest = held;
		if (r < 0)
			return r;
		total += r;
		if (r < RETAIN_BATCH)
			break;
	}
	return total;
}

/* The thread. */

static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cond;
	pthread_t	 thread;
	int		 running;
	double		 period;
	struct store	*store;
	struct retain_policy policy;
} rt = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* Waits secs on the monotonic clock or until stopped: 0 when stopped. */
static int
retain_wait(double secs)
{
	struct timespec ts;
	double until = store_monotonic() + secs;
	int running;

	ts.tv_sec = (time_t)until;
	ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
	pthread_mutex_lock(&rt.mu);
	while (rt.running && pthread_cond_timedwait(&rt.cond, &rt.mu,
	    &ts) != ETIMEDOUT)
		;
	running = rt.running;
	pthread_mutex_unlock(&rt.mu);
	return running;
}

static void *
retain_main(void *arg)
{
	long long total;
	double held, longest;
	int r;

	(void)arg;
	do {
		total = 0;
		longest = 0;
		/* A pause between batches lets waiting ingest take the
		 * lock (a mutex is not fair). */
		do {
			r = retain_prune_batch(rt.store, &rt.policy,
			    store_now(), &held);
			if (held > longest)
				longest = held;
			if (r > 0)
				total += r;
		} while (r == RETAIN_BATCH && retain_wait(0.02));
		if (r < 0)
			log_warnx("retention: pruning failed");
		if (total > 0)
			log_info("retention: %lld rows pruned (longest "
			    "transaction %.1f ms)", total, longest * 1e3);
	} while (retain_wait(rt.period));
	return NULL;
}

int
retain_start(struct store *s, const struct retain_policy *p, double period)
{
	pthread_condattr_t attr;
	int r;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&rt.cond, &attr);
	pthread_condattr_destroy(&attr);
	rt.store = s;
	rt.policy = *p;
	rt.period = period;
	rt.running = 1;
	if ((r = pthread_create(&rt.thread, NULL, retain_main, NULL)) != 0) {
		rt.running = 0;
		pthread_cond_destroy(&rt.cond);
		return -r;
	}
	return 0;
}

void
retain_stop(void)
{
	int was;

	pthread_mutex_lock(&rt.mu);
	was = rt.running;
	rt.running = 0;
	if (was)
		pthread_cond_signal(&rt.cond);
	pthread_mutex_unlock(&rt.mu);
	if (was) {
		pthread_join(rt.thread, NULL);
		pthread_cond_destroy(&rt.cond);
	}
}
