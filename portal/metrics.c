/*
 * Chart data. The samples (one narrow row per heartbeat, clustered by
 * agent and time) and the hourly summaries (clustered by agent and hour)
 * are read by one range scan each and folded into buckets as they come:
 * the work is bounded by the rows in the range (43,200 for 30 days at
 * 60 s), never by the size of the payloads, and the answer by
 * METRICS_MAX_POINTS buckets per series. A sample and a summary never
 * count the same heartbeat: a sample is folded into its summary when it
 * is deleted (retain.c).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "metrics.h"
#include "retain.h"
#include "store.h"
#include "xmalloc.h"

struct series {
	char		 name[RETAIN_MAX_LABEL + 1];
	double		*mn, *sum, *mx;
	long long	*n;
};

struct chart {
	long long	 from, step;
	size_t		 nb;		/* buckets */
	struct series	 s[METRICS_MAX_SERIES];
	size_t		 ns;
};

static struct series *
metrics_series(struct chart *c, const char *name)
{
	struct series *s;
	size_t i;

	for (i = 0; i < c->ns; i++)
		if (strcmp(c->s[i].name, name) == 0)
			return &c->s[i];
	if (c->ns == METRICS_MAX_SERIES || strlen(name) > RETAIN_MAX_LABEL)
		return NULL;
	s = &c->s[c->ns++];
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->mn = xcalloc(c->nb, sizeof(double));
	s->sum = xcalloc(c->nb, sizeof(double));
	s->mx = xcalloc(c->nb, sizeof(double));
	s->n = xcalloc(c->nb, sizeof(long long));
	return s;
}

/* n values at time t with their min, sum and max into their bucket. */
static void
metrics_add(struct chart *c, const char *name, double t, long long n,
    double mn, double sum, double mx)
{
	struct series *s;
	long long b;

	if (n <= 0 || !isfinite(sum) || (s = metrics_series(c, name)) == NULL)
		return;
	b = (long long)floor((t - (double)c->from) / (double)c->step);
	if (b < 0)
		b = 0;		/* an hour begun before from */
	if ((size_t)b >= c->nb)
		return;
	if (s->n[b] == 0 || mn < s->mn[b])
		s->mn[b] = mn;
	if (s->n[b] == 0 || mx > s->mx[b])
		s->mx[b] = mx;
	s->sum[b] += sum;
	s->n[b] += n;
}

static int
metrics_summaries(struct store *st_, const char *id, long long from,
    long long to, struct chart *c)
{
	static const char sel[] = "SELECT metric, hour, n, vmin, vsum, vmax "
	    "FROM summaries WHERE agent_id = ? AND hour >= ? AND hour < ?";
	sqlite3_stmt *st;
	int rc;

	if ((st = store_stmt(st_, sel)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, floor((double)from / 3600) * 3600);
	sqlite3_bind_double(st, 3, (double)to);
	while ((rc = store_step(st_, st)) == SQLITE_ROW)
		metrics_add(c, store_text(st, 0), sqlite3_column_double(st, 1),
		    sqlite3_column_int64(st, 2), sqlite3_column_double(st, 3),
		    sqlite3_column_double(st, 4),
		    sqlite3_column_double(st, 5));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int
metrics_samples(struct store *st_, const char *id, long long from,
    long long to, struct chart *c)
{
	static const char sel[] = "SELECT time, cpu, memory, load, fs FROM "
	    "samples WHERE agent_id = ? AND time >= ? AND time < ?";
	static const char *const cols[] = { "cpu", "memory", "load" };
	const unsigned char *fs;
	const char *p, *tab, *nl;
	char label[RETAIN_MAX_LABEL + 1], *end;
	sqlite3_stmt *st;
	double t, v;
	size_t n;
	int rc, i;

	if ((st = store_stmt(st_, sel)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, (double)from);
	sqlite3_bind_double(st, 3, (double)to);
	while ((rc = store_step(st_, st)) == SQLITE_ROW) {
		t = sqlite3_column_double(st, 0);
		for (i = 0; i < 3; i++) {
			if (sqlite3_column_type(st, i + 1) == SQLITE_NULL)
				continue;
			v = sqlite3_column_double(st, i + 1);
			metrics_add(c, cols[i], t, 1, v, v, v);
		}
		if ((fs = sqlite3_column_text(st, 4)) == NULL)
			continue;
		/* "LABEL\tVALUE\n"..., as retain_sample wrote it */
		for (p = (const char *)fs; *p != '\0'; p = nl + 1) {
			if ((nl = strchr(p, '\n')) == NULL)
				break;
			if ((tab = memchr(p, '\t', (size_t)(nl - p))) == NULL ||
			    (n = (size_t)(tab - p)) > RETAIN_MAX_LABEL)
				continue;
			memcpy(label, p, n);
			label[n] = '\0';
			v = strtod(tab + 1, &end);
			if (end != tab + 1)
				metrics_add(c, label, t, 1, v, v, v);
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static const char *
metrics_unit(const char *name)
{
	size_t n = strlen(name);

	if (strcmp(name, "load") == 0)
		return "";
	if (n > 11 && strcmp(name + n - 11, ":used_bytes") == 0)
		return "B";
	return "%";
}

/* The last point's mean of series name, or NAN. */
static double
metrics_last(const struct chart *c, const char *name)
{
	size_t i, b;

	for (i = 0; i < c->ns; i++) {
		if (strcmp(c->s[i].name, name) != 0)
			continue;
		for (b = c->nb; b > 0; b--)
			if (c->s[i].n[b - 1] > 0)
				return c->s[i].sum[b - 1] /
				    (double)c->s[i].n[b - 1];
	}
	return NAN;
}

/*
 * The forecasts of the host's checks as lines: from the result's time at
 * the last charted value to the ETA at that value plus rate * eta (a
 * filesystem's used bytes when it is full); without a charted value, the
 * ETA alone ("line" null).
 */
static int
metrics_forecasts(struct store *st_, const char *id, const struct chart *c,
    json_t *out)
{
	static const char sel[] = "SELECT name, forecast FROM checks WHERE "
	    "agent_id = ? AND forecast IS NOT NULL";
	const char *item, *resource, *unit;
	char series[RETAIN_MAX_LABEL + 16];
	json_t *f, *line;
	double when, eta, rate, y0;
	sqlite3_stmt *st;
	int rc;

	if ((st = store_stmt(st_, sel)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while ((rc = store_step(st_, st)) == SQLITE_ROW) {
		if ((f = json_loads(store_text(st, 1), 0, NULL)) == NULL)
			continue;
		item = json_string_value(json_object_get(f, "item"));
		resource = json_string_value(json_object_get(f, "resource"));
		unit = json_string_value(json_object_get(f, "unit"));
		when = json_number_value(json_object_get(f, "when"));
		eta = json_number_value(json_object_get(f, "eta"));
		rate = json_number_value(json_object_get(f, "rate"));
		if (item == NULL || resource == NULL || unit == NULL) {
			json_decref(f);
			continue;
		}
		y0 = NAN;
		series[0] = '\0';
		if (strcmp(resource, "space") == 0 && strcmp(unit, "B") == 0) {
			snprintf(series, sizeof(series), "%s:used_bytes",
			    item);
			y0 = metrics_last(c, series);
		}
		line = isfinite(y0) ? json_pack("[[f, f], [f, f]]", when, y0,
		    when + eta, y0 + rate * eta / 86400) : json_null();
		json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s?, "
		    "s:s, s:f, s:f, s:f, s:o}", "check", store_text(st, 0),
		    "item", item, "resource", resource, "series",
		    series[0] != '\0' ? series : NULL, "unit", unit,
		    "when", when, "eta", when + eta, "rate", rate,
		    "line", line != NULL ? line : json_null()));
		json_decref(f);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static json_t *
metrics_json(const struct chart *c)
{
	json_t *arr = json_array(), *pts;
	const struct series *s;
	size_t i, b;

	for (i = 0; i < c->ns; i++) {
		s = &c->s[i];
		pts = json_array();
		for (b = 0; b < c->nb; b++)
			if (s->n[b] > 0)
				json_array_append_new(pts, json_pack(
				    "[I, f, f, f]", (json_int_t)(c->from +
				    (long long)b * c->step), s->mn[b],
				    s->sum[b] / (double)s->n[b], s->mx[b]));
		json_array_append_new(arr, json_pack("{s:s, s:s, s:o}",
		    "name", s->name, "unit", metrics_unit(s->name),
		    "points", pts));
	}
	return arr;
}

int
metrics_host(struct store *s, const char *id, long long from, long long to,
    long long step, json_t **out)
{
	static const char sel[] = "SELECT 1 FROM agents WHERE id = ?";
	struct chart *c = xcalloc(1, sizeof(*c));
	json_t *forecasts = NULL;
	long long span = to - from, least;
	sqlite3_stmt *st;
	size_t i;
	int rc, r;

	*out = NULL;
	least = (span + METRICS_MAX_POINTS - 1) / METRICS_MAX_POINTS;
	if (step == 0)
		step = span / 500 > 60 ? span / 500 : 60;
	if (step < least)
		step = least;
	c->from = from;
	c->step = step;
	c->nb = (size_t)((span + step - 1) / step);
	store_lock(s);
	if ((st = store_stmt(s, sel)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = store_step(s, st);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? -ENOENT : -EIO;
		goto out;
	}
	forecasts = json_array();
	if ((r = metrics_summaries(s, id, from, to, c)) != 0 ||
	    (r = metrics_samples(s, id, from, to, c)) != 0 ||
	    (r = metrics_forecasts(s, id, c, forecasts)) != 0)
		goto out;
	*out = json_pack("{s:s, s:I, s:I, s:I, s:o, s:o}", "host_id", id,
	    "from", (json_int_t)from, "to", (json_int_t)to,
	    "step", (json_int_t)step, "series", metrics_json(c),
	    "forecasts", forecasts);
	forecasts = NULL;	/* transferred */
	r = *out != NULL ? 0 : -ENOMEM;
out:
	store_unlock(s);
	json_decref(forecasts);
	for (i = 0; i < c->ns; i++) {
		free(c->s[i].mn);
		free(c->s[i].sum);
		free(c->s[i].mx);
		free(c->s[i].n);
	}
	free(c);
	return r;
}
