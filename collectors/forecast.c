/*
 * forecast: the time until each filesystem runs out of space and of
 * inodes, and until memory plus swap run out, by least squares over a
 * window of samples (series.c), so the provider hears on Monday that /var
 * will be full on Thursday.
 *
 * Series: per filesystem, bytes used of used + available to users (as df
 * counts, root's reserve counts as full) and inodes used of the inode
 * table (where there is one); memory+swap used = (MemTotal + SwapTotal) -
 * (MemAvailable + SwapFree) of MemTotal + SwapTotal. The filesystems are
 * exactly those the filesystems collector checks (filesystems_select),
 * less this collector's own exclude.
 *
 * [collector.forecast] keys (durations as elsewhere: 90, 90s, 15m, 6h, 7d):
 *   window		samples fitted: the last ...		default: 6h
 *   min_samples	points in the window before any forecast	default: 12
 *			(at most 128, the ring's size)
 *   min_span		and the time they must cover		default: 1h
 *   min_fit		R^2 the line must reach, 0..1		default: 0.8
 *	A single jump (a package install, a copied file) at any point of a
 *	flat window fits a line with R^2 <= 0.75, so it never forecasts;
 *	two or more regular bursts (>= 0.9) and a steady fill (~1) do.
 *	Noise around a level has R^2 near 0.
 *   eta_warning	WARNING when an ETA is under		default: 7d
 *   eta_critical	CRITICAL when under			default: 24h
 *   exclude		fnmatch(3) patterns as in [collector.filesystems]
 *			("/mnt/scratch*" a mount point, "tmpfs" a type)
 * A flat or shrinking series has no forecast, nor one whose ETA is beyond
 * a year. A drop of more than half the window's range (a disk cleaned)
 * restarts that series from the drop.
 *
 * Memory: one series is a ring of 128 points of 16 bytes, 2.1 KiB with its
 * header and name, whatever the interval (closer samples are averaged);
 * at most 1024 series (2.1 MiB): a host has a few dozen. The rings are
 * kept in state_dir/forecast (replaced atomically, at most every 5
 * minutes and when the agent stops), read back at the first run, so a
 * restart does not reset the window; a file that does not parse is
 * refused with a logged reason and the collector starts empty. Series of
 * mounts that are gone are dropped.
 *
 * Perfdata, for each series with a forecast: "ITEM:eta" (s) and
 * "ITEM:rate" (B per day) for space, "ITEM:inodes_eta" and
 * "ITEM:inodes_rate" (inodes per day), "memory:eta" and "memory:rate";
 * and "series" (how many are tracked). The result's forecast member is
 * the nearest ETA.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filesystems.h"
#include "fmt.h"
#include "forecast.h"
#include "glob.h"
#include "log.h"
#include "memory.h"
#include "series.h"
#include "sysfile.h"
#include "timeutil.h"
#include "xmalloc.h"

#define MOUNTINFO_MAX		(4 * 1024 * 1024)	/* as filesystems.c */
#define MEMINFO_MAX		(64 * 1024)
#define FORECAST_SAVE_USEC	(300 * 1000000ULL)
#define FORECAST_HORIZON	(365 * 86400.0)
#define SUMMARY_ITEMS_MAX	3

enum {
	LOGGED_MOUNTINFO = 1 << 0,
	LOGGED_MEMINFO = 1 << 1,
	LOGGED_FULL = 1 << 2,
	LOGGED_SAVE = 1 << 3,
	LOGGED_STATVFS = 1 << 4,
};

struct forecast {
	struct series_params	 params;
	double			 eta_warning, eta_critical;	/* s */
	char			*exclude[FILESYSTEMS_EXCLUDE_MAX];
	size_t			 nexclude;
	struct collector_env	 env;
	char			*state_dir;	/* NULL: nothing kept */
	forecast_statvfs_fn	*statvfs_fn;
	struct series_set	 set;
	bool			 loaded;	/* state file read */
	bool			 dirty;		/* samples since the save */
	uint64_t		 saved;		/* CLOCK_MONOTONIC usec */
	unsigned		 logged;
};

/* One series' verdict, for sorting and the summary. */
struct forecast_item {
	const struct series	*s;
	struct series_fit	 fit;
	enum check_state	 state;
	size_t			 idx;		/* in the set: a stable order */
	char			 show[PERF_LABEL_MAX - 16];
};

static void *
forecast_new(void)
{
	struct forecast *fc = xcalloc(1, sizeof(*fc));

	fc->params.window = 6 * 3600;
	fc->params.min_samples = 12;
	fc->params.min_span = 3600;
	fc->params.min_fit = 0.8;
	fc->params.horizon = FORECAST_HORIZON;
	fc->eta_warning = 7 * 86400;
	fc->eta_critical = 86400;
	fc->statvfs_fn = statvfs;
	return fc;
}

void
forecast_set_statvfs(void *inst, forecast_statvfs_fn *fn)
{
	((struct forecast *)inst)->statvfs_fn = fn;
}

static int
forecast_configure(void *inst, const char *key, const char *value,
    char *err, size_t errlen)
{
	static const struct {
		const char	*key;
		size_t		 off;
		double		 min;
	} durations[] = {
		{ "window", offsetof(struct forecast, params.window), 60 },
		{ "min_span", offsetof(struct forecast, params.min_span), 0 },
		{ "eta_warning", offsetof(struct forecast, eta_warning), 0 },
		{ "eta_critical", offsetof(struct forecast, eta_critical), 0 },
	};
	struct forecast *fc = inst;
	unsigned long n;
	unsigned secs;
	double d;
	char *end;

	if (strcmp(key, "exclude") == 0)
		return glob_list_parse(fc->exclude, &fc->nexclude,
		    FILESYSTEMS_EXCLUDE_MAX, key, value, err, errlen);
	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]);
	    i++) {
		if (strcmp(key, durations[i].key) != 0)
			continue;
		if (time_parse_duration(value, &secs) != 0 ||
		    (d = secs) < durations[i].min) {
			snprintf(err, errlen, "%s: '%s' is not a duration "
			    "(like 90s, 15m, 6h, 7d) of at least %.0f s", key,
			    value, durations[i].min);
			return -EINVAL;
		}
		*(double *)((char *)fc + durations[i].off) = d;
		return 0;
	}
	if (strcmp(key, "min_samples") == 0) {
		errno = 0;
		n = strtoul(value, &end, 10);
		if (*value < '0' || *value > '9' || *end != '\0' ||
		    errno != 0 || n < 2 || n > SERIES_CAP) {
			snprintf(err, errlen, "min_samples: '%s' is not a "
			    "number from 2 to %d", value, SERIES_CAP);
			return -EINVAL;
		}
		fc->params.min_samples = (unsigned)n;
		return 0;
	}
	if (strcmp(key, "min_fit") == 0) {
		errno = 0;
		d = strtod(value, &end);
		if (*value == '\0' || *end != '\0' || errno != 0 ||
		    !(d >= 0 && d <= 1)) {
			snprintf(err, errlen, "min_fit: '%s' is not a number "
			    "from 0 to 1", value);
			return -EINVAL;
		}
		fc->params.min_fit = d;
		return 0;
	}
	snprintf(err, errlen, "unknown key '%s' (known: window, min_samples, "
	    "min_span, min_fit, eta_warning, eta_critical, exclude)", key);
	return -EINVAL;
}

static int
forecast_start(void *inst, const struct collector_env *env)
{
	struct forecast *fc = inst;

	fc->env = *env;
	free(fc->state_dir);
	fc->state_dir = NULL;
	if (env->state_dir != NULL && env->state_dir[0] != '\0')
		fc->state_dir = xstrdup(env->state_dir);
	/* The rings are read at the first run, not here: on a reload the
	 * instance being replaced saves its rings when it is freed, which
	 * is after this start. */
	return 0;
}

/* Reads state_dir/forecast once; a bad file leaves the set empty. */
static void
forecast_load(struct forecast *fc, double now)
{
	char *buf = NULL, err[320];
	size_t len;
	bool trunc;
	int r;

	fc->loaded = true;
	if (fc->state_dir == NULL)
		return;
	r = sysfile_read(fc->state_dir, FORECAST_STATE_NAME,
	    SERIES_FILE_MAX + 1, &buf, &len, &trunc);
	if (r == -ENOENT)
		return;
	if (r != 0) {
		log_warnx("forecast: ignoring %s/%s: %s: starting with no "
		    "samples", fc->state_dir, FORECAST_STATE_NAME,
		    strerror(-r));
		return;
	}
	if (trunc)
		log_warnx("forecast: ignoring %s/%s: longer than %zu bytes: "
		    "starting with no samples", fc->state_dir,
		    FORECAST_STATE_NAME, (size_t)SERIES_FILE_MAX);
	else if (series_set_parse(buf, len, now, fc->params.window, &fc->set,
	    err, sizeof(err)) != 0)
		log_warnx("forecast: ignoring %s/%s: %s: starting with no "
		    "samples", fc->state_dir, FORECAST_STATE_NAME, err);
	else
		log_debug("forecast: %zu series read from %s/%s", fc->set.n,
		    fc->state_dir, FORECAST_STATE_NAME);
	free(buf);
}

int
forecast_save(void *inst)
{
	struct forecast *fc = inst;
	char *data = NULL;
	int r;

	if (fc->state_dir == NULL || !fc->loaded)
		return 0;
	series_set_format(&fc->set, &data);
	r = sysfile_write_atomic(fc->state_dir, FORECAST_STATE_NAME, data,
	    0600);
	free(data);
	fc->saved = time_now(CLOCK_MONOTONIC);
	if (r != 0) {
		if (!(fc->logged & LOGGED_SAVE))
			log_warnx("forecast: cannot save %s/%s: %s: a restart "
			    "starts the windows again", fc->state_dir,
			    FORECAST_STATE_NAME, strerror(-r));
		fc->logged |= LOGGED_SAVE;
		return r;
	}
	fc->logged &= ~LOGGED_SAVE;
	fc->dirty = false;
	return 0;
}

static void
forecast_sample(struct forecast *fc, enum series_resource res,
    const char *item, double now, double used, double limit)
{
	struct series *s;

	if ((s = series_set_get(&fc->set, res, item)) == NULL) {
		if (!(fc->logged & LOGGED_FULL))
			log_warnx("forecast: more than %d series: %s %s and "
			    "later ones are not tracked", SERIES_SET_MAX,
			    item, series_resource_name(res));
		fc->logged |= LOGGED_FULL;
		return;
	}
	s->seen = true;
	series_add(s, &fc->params, now, used, limit);
	fc->dirty = true;
}

/* Keeps the series of an unanswered statvfs (not gone, just failing). */
static void
forecast_keep(struct forecast *fc, const char *item)
{
	struct series *s;

	if ((s = series_set_find(&fc->set, SERIES_SPACE, item)) != NULL)
		s->seen = true;
	if ((s = series_set_find(&fc->set, SERIES_INODES, item)) != NULL)
		s->seen = true;
}

/* Samples every selected filesystem; -errno when mountinfo is unusable
 * (the filesystem series are then kept as they are). */
static int
forecast_filesystems(struct forecast *fc, double now, char *why,
    size_t whylen)
{
	struct fs_selection sel = { 0 };
	struct statvfs st;
	char *buf = NULL;
	double unit, used_blocks;
	size_t len;
	bool trunc;
	int r;

	if ((r = sysfile_read(fc->env.proc, "self/mountinfo", MOUNTINFO_MAX,
	    &buf, &len, &trunc)) != 0) {
		snprintf(why, whylen, "cannot read %s/self/mountinfo: %s",
		    fc->env.proc, strerror(-r));
		goto out;
	}
	if ((r = filesystems_select(buf, len, fc->exclude, fc->nexclude,
	    &sel)) != 0) {
		snprintf(why, whylen, "%s/self/mountinfo: no mount table in "
		    "it", fc->env.proc);
		goto out;
	}
	for (size_t i = 0; i < sel.n; i++) {
		const char *mp = sel.mounts[i].mountpoint;

		if (fc->statvfs_fn(mp, &st) == -1) {
			/* Gone, or not visible from here: its series go. */
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			if (!(fc->logged & LOGGED_STATVFS))
				log_warnx("forecast: statvfs %s: %s", mp,
				    strerror(errno));
			fc->logged |= LOGGED_STATVFS;
			forecast_keep(fc, mp);
			continue;
		}
		if (st.f_blocks == 0)
			continue;
		unit = st.f_frsize != 0 ? (double)st.f_frsize :
		    (double)st.f_bsize;
		used_blocks = st.f_bfree <= st.f_blocks ?
		    (double)(st.f_blocks - st.f_bfree) : 0;
		forecast_sample(fc, SERIES_SPACE, mp, now, used_blocks * unit,
		    (used_blocks + (double)st.f_bavail) * unit);
		if (st.f_files > 0)
			forecast_sample(fc, SERIES_INODES, mp, now,
			    st.f_ffree <= st.f_files ?
			    (double)(st.f_files - st.f_ffree) : 0,
			    (double)st.f_files);
	}
	r = 0;
 out:
	filesystems_selection_free(&sel);
	free(buf);
	return r;
}

static int
forecast_memory(struct forecast *fc, double now, char *why, size_t whylen)
{
	struct memory_info mi;
	char *buf = NULL;
	double limit, free_;
	size_t len;
	bool trunc;
	int r;

	if ((r = sysfile_read(fc->env.proc, "meminfo", MEMINFO_MAX, &buf,
	    &len, &trunc)) != 0) {
		snprintf(why, whylen, "cannot read %s/meminfo: %s",
		    fc->env.proc, strerror(-r));
		goto out;
	}
	if ((r = memory_parse_meminfo(buf, len, &mi)) != 0) {
		snprintf(why, whylen, "%s/meminfo: not understood",
		    fc->env.proc);
		goto out;
	}
	limit = (double)mi.total + (double)mi.swap_total;
	free_ = (double)mi.available + (double)mi.swap_free;
	forecast_sample(fc, SERIES_MEMORY, "memory", now,
	    free_ < limit ? limit - free_ : 0, limit);
 out:
	free(buf);
	return r;
}

/* "3 d 4 h", "7 d", "5 h 12 min", "5 h", "12 min", "40 s". */
static void
forecast_fmt_eta(double s, char *buf, size_t len)
{
	unsigned long long v = s > 0 ? (unsigned long long)(s + 0.5) : 0;

	if (v >= 86400 && v % 86400 / 3600 > 0)
		snprintf(buf, len, "%llu d %llu h", v / 86400,
		    v % 86400 / 3600);
	else if (v >= 86400)
		snprintf(buf, len, "%llu d", v / 86400);
	else if (v >= 3600 && v % 3600 / 60 > 0)
		snprintf(buf, len, "%llu h %llu min", v / 3600, v % 3600 / 60);
	else if (v >= 3600)
		snprintf(buf, len, "%llu h", v / 3600);
	else if (v >= 60)
		snprintf(buf, len, "%llu min", v / 60);
	else
		snprintf(buf, len, "%llu s", v);
}

/* "1.2 GiB/day", "3400 inodes/day". */
static void
forecast_fmt_rate(const struct series *s, double per_day, char *buf,
    size_t len)
{
	char b[32];

	if (s->resource == SERIES_INODES) {
		snprintf(buf, len, "%.0f inodes/day", per_day);
		return;
	}
	fmt_bytes(per_day, b, sizeof(b));
	snprintf(buf, len, "%s/day", b);
}

/* "/var full in ~3 d 4 h at 1.2 GiB/day". */
static void
forecast_describe(const struct forecast_item *it, char *buf, size_t len)
{
	char eta[48], rate[48];

	forecast_fmt_eta(it->fit.eta, eta, sizeof(eta));
	forecast_fmt_rate(it->s, it->fit.slope * 86400, rate, sizeof(rate));
	switch (it->s->resource) {
	case SERIES_SPACE:
		snprintf(buf, len, "%s full in ~%s at %s", it->show, eta, rate);
		break;
	case SERIES_INODES:
		snprintf(buf, len, "%s out of inodes in ~%s at %s", it->show,
		    eta, rate);
		break;
	default:
		snprintf(buf, len, "memory+swap exhausted in ~%s at %s", eta,
		    rate);
		break;
	}
}

static void
forecast_printable(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (; *in != '\0' && o + 1 < len; in++)
		out[o++] = (unsigned char)*in < 0x20 || *in == 0x7f ? '?' : *in;
	out[o] = '\0';
}

static int
forecast_cmp(const void *a, const void *b)
{
	const struct forecast_item *x = a, *y = b;
	bool fx = x->fit.verdict == SERIES_FORECAST,
	    fy = y->fit.verdict == SERIES_FORECAST;

	if (fx != fy)
		return fx ? -1 : 1;
	if (fx && x->fit.eta != y->fit.eta)
		return x->fit.eta < y->fit.eta ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* One long-text line per series: what it holds and why (no) forecast. */
static void
forecast_note(struct result *res, const struct forecast *fc,
    const struct forecast_item *it)
{
	const struct series *s = it->s;
	char what[PERF_LABEL_MAX + 16], span[48], text[320], a[32], b[32];

	if (s->resource == SERIES_MEMORY)
		snprintf(what, sizeof(what), "memory+swap");
	else
		snprintf(what, sizeof(what), "%s %s", it->show,
		    series_resource_name(s->resource));
	forecast_fmt_eta(it->fit.span, span, sizeof(span));
	switch (it->fit.verdict) {
	case SERIES_FORECAST:
	case SERIES_FAR:
		forecast_describe(it, text, sizeof(text));
		if (it->fit.verdict == SERIES_FAR)
			snprintf(text, sizeof(text), "growing, full in more "
			    "than a year");
		break;
	case SERIES_FEW:
		snprintf(text, sizeof(text), "no forecast yet, %u points "
		    "needed", fc->params.min_samples);
		break;
	case SERIES_SHORT:
		forecast_fmt_eta(fc->params.min_span, a, sizeof(a));
		snprintf(text, sizeof(text), "no forecast yet, %s needed", a);
		break;
	case SERIES_NOT_GROWING:
		snprintf(text, sizeof(text), "not growing");
		break;
	case SERIES_NOISE:
		snprintf(text, sizeof(text), "no trend (R^2 %.2f < %.2f)",
		    it->fit.r2, fc->params.min_fit);
		break;
	}
	if (s->resource == SERIES_INODES) {
		snprintf(a, sizeof(a), "%.0f", s->n > 0 ?
		    s->pt[(s->head + s->n - 1) % SERIES_CAP].v : 0);
		snprintf(b, sizeof(b), "%.0f", s->limit);
	} else {
		fmt_bytes(s->n > 0 ? s->pt[(s->head + s->n - 1) %
		    SERIES_CAP].v : 0, a, sizeof(a));
		fmt_bytes(s->limit, b, sizeof(b));
	}
	result_append_long(res, "%s: %s of %s, %u point%s over %s: %s", what,
	    a, b, it->fit.n, it->fit.n == 1 ? "" : "s", span, text);
}

static void
forecast_perf(struct result *res, const struct forecast_item *it)
{
	char label[PERF_LABEL_MAX];
	struct perf *p;
	const char *eta = it->s->resource == SERIES_INODES ? "inodes_eta" :
	    "eta";
	const char *rate = it->s->resource == SERIES_INODES ? "inodes_rate" :
	    "rate";

	snprintf(label, sizeof(label), "%s:%s", it->show, eta);
	if ((p = result_add_perf(res, label, it->fit.eta, "s")) != NULL) {
		p->min = 0;
		p->has_min = true;
	}
	snprintf(label, sizeof(label), "%s:%s", it->show, rate);
	result_add_perf(res, label, it->fit.slope * 86400,
	    it->s->resource == SERIES_INODES ? "" : "B");
}

static int
forecast_collect(void *inst, struct collect_req *req)
{
	struct forecast *fc = inst;
	struct result *res = collect_req_result(req);
	struct forecast_item *items = NULL;
	char fswhy[PATH_MAX + 64] = "", memwhy[PATH_MAX + 64] = "",
	    list[RESULT_SUMMARY_MAX / 2] = "", one[PERF_LABEL_MAX + 128],
	    eta[48];
	const char *sep = "";
	unsigned mask = 0;
	size_t n, nforecast = 0, nbad = 0, named = 0, l;
	double now;
	uint64_t mono;
	int r = 0;

	if (fc->env.proc == NULL) {
		result_set(res, STATE_UNKNOWN, "forecast collector was not "
		    "started");
		return -EINVAL;
	}
	if (fc->params.min_span > fc->params.window) {
		result_set(res, STATE_UNKNOWN, "min_span (%.0f s) is longer "
		    "than window (%.0f s)", fc->params.min_span,
		    fc->params.window);
		return -EINVAL;
	}
	now = (double)time_now(CLOCK_REALTIME) / 1e6;
	if (!fc->loaded)
		forecast_load(fc, now);

	series_set_unsee(&fc->set);
	if (forecast_filesystems(fc, now, fswhy, sizeof(fswhy)) == 0)
		mask |= 1U << SERIES_SPACE | 1U << SERIES_INODES;
	if (forecast_memory(fc, now, memwhy, sizeof(memwhy)) == 0)
		mask |= 1U << SERIES_MEMORY;
	/* Only what was looked at can be gone. */
	series_set_sweep(&fc->set, mask);

	n = fc->set.n;
	items = xcalloc(n + 1, sizeof(*items));
	res->state = STATE_OK;
	for (size_t i = 0; i < n; i++) {
		struct forecast_item *it = &items[i];

		it->s = fc->set.s[i];
		it->idx = i;
		forecast_printable(it->s->item, it->show, sizeof(it->show));
		it->state = STATE_OK;
		if (series_forecast(it->s, &fc->params, now, &it->fit) !=
		    SERIES_FORECAST)
			continue;
		nforecast++;
		if (it->fit.eta < fc->eta_critical)
			it->state = STATE_CRITICAL;
		else if (it->fit.eta < fc->eta_warning)
			it->state = STATE_WARNING;
		if (it->state != STATE_OK)
			nbad++;
		result_escalate(res, it->state);
	}
	qsort(items, n, sizeof(*items), forecast_cmp);

	if (nforecast > 0) {
		const struct forecast_item *it = &items[0];

		snprintf(res->forecast.item, sizeof(res->forecast.item), "%s",
		    it->show);
		snprintf(res->forecast.resource,
		    sizeof(res->forecast.resource), "%s",
		    series_resource_name(it->s->resource));
		res->forecast.eta = it->fit.eta;
		res->forecast.rate = it->fit.slope * 86400;
		snprintf(res->forecast.unit, sizeof(res->forecast.unit), "%s",
		    it->s->resource == SERIES_INODES ? "inodes" : "B");
		res->has_forecast = true;
	}
	/* Sorted by ETA: the non-OK ones come first. */
	for (size_t i = 0; i < nbad && named < SUMMARY_ITEMS_MAX; i++) {
		forecast_describe(&items[i], one, sizeof(one));
		forecast_fmt_eta(items[i].state == STATE_CRITICAL ?
		    fc->eta_critical : fc->eta_warning, eta, sizeof(eta));
		l = strlen(list);
		snprintf(list + l, sizeof(list) - l, "%s%s (%s < %s)", sep, one,
		    result_state_name(items[i].state), eta);
		sep = ", ";
		named++;
	}
	if (nbad > named) {
		l = strlen(list);
		snprintf(list + l, sizeof(list) - l, " and %zu more",
		    nbad - named);
	}
	if (nbad > 0)
		result_set(res, res->state, "%s; %zu series tracked", list, n);
	else if (nforecast > 0) {
		forecast_describe(&items[0], one, sizeof(one));
		result_set(res, res->state, "%zu series tracked, nearest: %s",
		    n, one);
	} else
		result_set(res, res->state, "%zu series tracked, none filling "
		    "up", n);
	if (fswhy[0] != '\0' || memwhy[0] != '\0') {
		/* What could not be sampled says so, whatever the rest. */
		l = strlen(res->summary);
		snprintf(res->summary + l, sizeof(res->summary) - l, "; %s%s%s",
		    fswhy, fswhy[0] != '\0' && memwhy[0] != '\0' ? "; " : "",
		    memwhy);
		result_escalate(res, STATE_UNKNOWN);
		if (fswhy[0] != '\0' && !(fc->logged & LOGGED_MOUNTINFO))
			log_warnx("forecast: %s", fswhy);
		if (memwhy[0] != '\0' && !(fc->logged & LOGGED_MEMINFO))
			log_warnx("forecast: %s", memwhy);
		fc->logged |= (fswhy[0] != '\0' ? LOGGED_MOUNTINFO : 0) |
		    (memwhy[0] != '\0' ? LOGGED_MEMINFO : 0);
	}

	for (size_t i = 0; i < n; i++) {
		if (items[i].fit.verdict == SERIES_FORECAST)
			forecast_perf(res, &items[i]);
		forecast_note(res, fc, &items[i]);
	}
	if (result_add_perf(res, "series", (double)n, "") == NULL)
		result_append_long(res, "perfdata limited to %d items",
		    RESULT_PERF_MAX);

	mono = time_now(CLOCK_MONOTONIC);
	if (fc->dirty && (fc->saved == 0 ||
	    time_since(fc->saved, mono) >= FORECAST_SAVE_USEC))
		forecast_save(fc);
	free(items);
	return r;
}

static void
forecast_free(void *inst)
{
	struct forecast *fc = inst;

	if (fc->dirty)
		forecast_save(fc);
	glob_list_clear(fc->exclude, &fc->nexclude);
	series_set_clear(&fc->set);
	free(fc->state_dir);
	free(fc);
}

const struct collector collector_forecast = {
	.name = "forecast",
	.description = "Time until filesystems (space, inodes) and memory "
	    "run out, by trend",
	.interval = 300,
	.new = forecast_new,
	.configure = forecast_configure,
	.start = forecast_start,
	.collect = forecast_collect,
	.free = forecast_free,
};
