/*
 * restarts: systemd services in a restart loop. Lists the loaded service
 * units (Manager.ListUnitsByPatterns([], ["*.service"])) and reads each
 * one's NRestarts (org.freedesktop.systemd1.Service), all asynchronously
 * on the daemon's loop, at most RESTARTS_INFLIGHT calls at a time; keeps
 * each unit's counter over time and judges how much it grew in `window`.
 *
 * [collector.restarts] keys:
 *   restarts_warning   range on one unit's automatic restarts within
 *                      window ("2": three or more)          default: 2
 *   restarts_critical                                       default: unset
 *   window             how far back restarts count (1m..1d)  default: 15m
 *	NRestarts counts systemd's automatic restarts (Restart=) since the
 *	unit was last started by hand. A unit that crashes every few
 *	minutes never stays "failed" long enough for the units collector;
 *	its counter shows it. The first run only takes a baseline: history
 *	is not news. With an interval longer than window, the growth
 *	between two runs counts.
 *   max_units          services read per run at most; the rest, by name,
 *                      are not checked and the long text says so
 *                                                          default: 500
 *   ignore             comma-separated fnmatch(3) globs of unit names not
 *                      to check                             default: none
 *   bus_address        D-Bus address instead of the system bus (tests)
 * Perfdata: max_restarts (the largest growth, with the thresholds),
 * restarting (units over a threshold), services (checked).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "collector.h"
#include "glob.h"
#include "log.h"
#include "restarts.h"
#include "threshold.h"
#include "timeutil.h"
#include "units.h"
#include "xmalloc.h"

#define RESTARTS_RETRY_USEC	(5 * 60 * UINT64_C(1000000))
#define RESTARTS_INFLIGHT	16	/* NRestarts calls at a time */
#define RESTARTS_UNITS_DEFAULT	500
#define RESTARTS_UNITS_LIMIT	5000
#define RESTARTS_WINDOW_DEFAULT	(15 * 60)
#define RESTARTS_IGNORE_MAX	64
#define RESTARTS_NAMED		5	/* units named in the summary */
#define RESTARTS_LONG_MAX	50	/* unit lines in the long text */
#define RESTARTS_ERROR_MAX	256
#define RESTARTS_TEXT_MAX	(RESTARTS_ERROR_MAX + 64)
#define RESTARTS_NAME_MAX	256	/* systemd's limit on a unit name */

uint32_t
restarts_observe(struct restarts_series *s, uint64_t now, uint32_t value,
    uint64_t window)
{
	uint64_t start = now > window ? now - window : 0;

	if (s->n > 0 && value < s->v[s->n - 1])
		s->n = 0;	/* started by hand: counting from 0 again */
	if (s->n == 0 || value != s->v[s->n - 1]) {
		if (s->n == RESTARTS_POINTS) {
			memmove(&s->t[0], &s->t[1], (s->n - 1) *
			    sizeof(s->t[0]));
			memmove(&s->v[0], &s->v[1], (s->n - 1) *
			    sizeof(s->v[0]));
			s->n--;
		}
		s->t[s->n] = now;
		s->v[s->n] = value;
		s->n++;
	}
	/* Point 0 is needed only while point 1 is after the window start. */
	while (s->n >= 2 && s->t[1] <= start) {
		memmove(&s->t[0], &s->t[1], (s->n - 1) * sizeof(s->t[0]));
		memmove(&s->v[0], &s->v[1], (s->n - 1) * sizeof(s->v[0]));
		s->n--;
	}
	return value - s->v[0];
}

/* A service seen in the last run, sorted by name. */
struct restarts_unit {
	char			*name;
	struct restarts_series	 series;
};

/* A service of this run: its NRestarts call. */
struct restarts_target {
	struct restarts		*owner;
	char			*name;
	char			*path;
	sd_bus_slot		*slot;
	uint32_t		 value;
	int			 err;	/* 0: value read */
	bool			 done;
};

struct restarts {
	struct threshold	 restarts;
	unsigned		 window;	/* seconds */
	unsigned long		 max_units;
	char			*ignore[RESTARTS_IGNORE_MAX];
	size_t			 nignore;
	char			*bus_address;

	sd_event		*event;
	sd_bus			*bus;
	uint64_t		 next_open;	/* CLOCK_MONOTONIC usec */
	char			 bus_error[RESTARTS_ERROR_MAX];
	char			 logged[RESTARTS_TEXT_MAX];

	/* The run in flight. */
	struct collect_req	*req;
	sd_bus_slot		*list;		/* ListUnitsByPatterns */
	struct restarts_target	*targets;
	size_t			 ntargets, next, ndone;
	size_t			 listed, ignored;	/* services seen */
	char			 call_error[RESTARTS_ERROR_MAX];

	struct restarts_unit	*units;		/* sorted by name */
	size_t			 nunits;
	bool			 baseline;	/* a run completed before */
};

static const struct threshold_key restarts_thresholds[] = {
	{ "restarts", offsetof(struct restarts, restarts), "2", "", NULL },
	{ .name = NULL },
};

static void
restarts_log_once(struct restarts *rs, const char *text)
{
	if (strcmp(rs->logged, text) == 0)
		return;
	snprintf(rs->logged, sizeof(rs->logged), "%s", text);
	log_warnx("restarts: %s", text);
}

static void *
restarts_new(void)
{
	struct restarts *rs = xcalloc(1, sizeof(*rs));

	threshold_defaults(rs, restarts_thresholds);
	rs->window = RESTARTS_WINDOW_DEFAULT;
	rs->max_units = RESTARTS_UNITS_DEFAULT;
	return rs;
}

static int
restarts_configure(void *inst, const char *key, const char *value,
    char *err, size_t errlen)
{
	struct restarts *rs = inst;
	unsigned long n;
	unsigned d;
	char *end;

	if (strcmp(key, "ignore") == 0)
		return glob_list_parse(rs->ignore, &rs->nignore,
		    RESTARTS_IGNORE_MAX, key, value, err, errlen);
	if (strcmp(key, "bus_address") == 0) {
		free(rs->bus_address);
		rs->bus_address = value[0] != '\0' ? xstrdup(value) : NULL;
		return 0;
	}
	if (strcmp(key, "window") == 0) {
		if (time_parse_duration(value, &d) != 0 || d < 60 ||
		    d > 86400) {
			snprintf(err, errlen, "%s: '%s' is not a duration from "
			    "1m to 1d", key, value);
			return -EINVAL;
		}
		rs->window = d;
		return 0;
	}
	if (strcmp(key, "max_units") == 0) {
		errno = 0;
		n = strtoul(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0' ||
		    value[0] < '0' || value[0] > '9' || n == 0 ||
		    n > RESTARTS_UNITS_LIMIT) {
			snprintf(err, errlen, "%s: '%s' is not a number from "
			    "1 to %d", key, value, RESTARTS_UNITS_LIMIT);
			return -EINVAL;
		}
		rs->max_units = n;
		return 0;
	}
	return threshold_configure(rs, restarts_thresholds, "window, "
	    "max_units, ignore, bus_address", key, value, err, errlen);
}

/* Drops the run in flight: its calls' replies, if they still come, find
 * no slot. */
static void
restarts_drop_run(struct restarts *rs)
{
	rs->list = sd_bus_slot_unref(rs->list);
	for (size_t i = 0; i < rs->ntargets; i++) {
		sd_bus_slot_unref(rs->targets[i].slot);
		free(rs->targets[i].name);
		free(rs->targets[i].path);
	}
	free(rs->targets);
	rs->targets = NULL;
	rs->ntargets = rs->next = rs->ndone = 0;
	rs->listed = rs->ignored = 0;
	rs->call_error[0] = '\0';
}

static void
restarts_cancel(void *inst)
{
	struct restarts *rs = inst;

	restarts_drop_run(rs);
	rs->req = NULL;
}

/* Ends the run with UNKNOWN and text. */
static void
restarts_fail(struct restarts *rs, const char *text)
{
	struct collect_req *req = rs->req;

	restarts_log_once(rs, text);
	result_set(collect_req_result(req), STATE_UNKNOWN, "%s", text);
	restarts_cancel(rs);
	collect_req_finish(req);
}

static int
restarts_by_name(const void *a, const void *b)
{
	const struct restarts_target *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* Unit names are ASCII by systemd's rules; anything else shows as '?'. */
static const char *
restarts_clean(char *dst, size_t len, const char *src)
{
	size_t o = 0;

	for (; *src != '\0' && o + 1 < len; src++)
		dst[o++] = (*src > 0x20 && *src < 0x7f) ? *src : '?';
	dst[o] = '\0';
	return dst;
}

/* "15 min", "2 h". */
static void
restarts_window(char *buf, size_t len, unsigned seconds)
{
	if (seconds % 3600 == 0)
		snprintf(buf, len, "%u h", seconds / 3600);
	else
		snprintf(buf, len, "%u min", (seconds + 59) / 60);
}

/* All replies in: the series move on (units gone are forgotten), and the
 * result says which units grew past the thresholds. */
static void
restarts_evaluate(struct restarts *rs, struct result *res)
{
	struct restarts_unit *next;
	char names[RESULT_SUMMARY_MAX / 2] = "", clean[RESTARTS_NAME_MAX];
	char window[32], why[PERF_RANGE_MAX + 64];
	uint64_t now = time_now(CLOCK_MONOTONIC);
	uint32_t most = 0, growth;
	size_t o = 0, nnext = 0, read = 0, over = 0, named = 0, lines = 0;
	enum check_state s;
	struct perf *p;
	size_t used;

	qsort(rs->targets, rs->ntargets, sizeof(*rs->targets),
	    restarts_by_name);
	next = xcalloc(rs->ntargets + 1, sizeof(*next));
	res->state = STATE_OK;
	restarts_window(window, sizeof(window), rs->window);
	for (size_t i = 0; i < rs->ntargets; i++) {
		struct restarts_target *t = &rs->targets[i];
		struct restarts_unit *u = &next[nnext];
		int c = 1;

		if (t->err != 0)
			continue;
		read++;
		/* Both lists sorted by name: one merge pass. */
		while (o < rs->nunits &&
		    (c = strcmp(rs->units[o].name, t->name)) < 0)
			o++;
		if (o < rs->nunits && c == 0) {
			*u = rs->units[o];
			rs->units[o++].name = NULL;	/* moved */
		} else
			u->name = xstrdup(t->name);
		nnext++;
		growth = restarts_observe(&u->series, now, t->value,
		    (uint64_t)rs->window * 1000000);
		if (growth > most)
			most = growth;
		s = threshold_eval(&rs->restarts, growth);
		restarts_clean(clean, sizeof(clean), t->name);
		if (growth > 0 && lines++ < RESTARTS_LONG_MAX)
			result_append_long(res, "%s: %u restart%s in the last "
			    "%s (NRestarts %u)", clean, growth, growth == 1 ?
			    "" : "s", window, t->value);
		if (s == STATE_OK)
			continue;
		result_escalate(res, s);
		over++;
		if (named++ < RESTARTS_NAMED) {
			threshold_why(&rs->restarts, s, growth, "", why,
			    sizeof(why));
			used = strlen(names);
			snprintf(names + used, sizeof(names) - used, "%s%s "
			    "%u restart%s (%s)", used > 0 ? ", " : "", clean,
			    growth, growth == 1 ? "" : "s", why);
		}
	}
	for (size_t i = 0; i < rs->nunits; i++)
		free(rs->units[i].name);
	free(rs->units);
	rs->units = next;
	rs->nunits = nnext;

	if (over > 0)
		result_set(res, res->state, "%zu unit%s restarting in the last "
		    "%s: %s%s", over, over == 1 ? "" : "s", window, names,
		    over > named ? " and more" : "");
	else if (!rs->baseline)
		result_set(res, STATE_OK, "%zu services: counting restarts "
		    "from now on", read);
	else
		result_set(res, STATE_OK, "no restart loops in %zu services "
		    "(most: %u restart%s in the last %s)", read, most,
		    most == 1 ? "" : "s", window);
	if (over > RESTARTS_NAMED) {
		used = strlen(res->summary);
		snprintf(res->summary + used, sizeof(res->summary) - used,
		    " (%zu in all)", over);
	}
	if (lines > RESTARTS_LONG_MAX)
		result_append_long(res, "and %zu more units restarted",
		    lines - RESTARTS_LONG_MAX);
	if (read < rs->ntargets)
		result_append_long(res, "%zu services not read: %s",
		    rs->ntargets - read, rs->call_error);
	if (rs->listed > rs->ntargets + rs->ignored)
		result_append_long(res, "%zu services not checked "
		    "(max_units %lu)", rs->listed - rs->ntargets - rs->ignored,
		    rs->max_units);
	if (rs->ignored > 0)
		result_append_long(res, "%zu services ignored", rs->ignored);
	rs->baseline = true;

	if ((p = result_add_perf(res, "max_restarts", most, "")) != NULL) {
		threshold_to_perf(&rs->restarts, p);
		p->min = 0;
		p->has_min = true;
	}
	result_add_perf(res, "restarting", (double)over, "");
	result_add_perf(res, "services", (double)read, "");
}

static int restarts_got(sd_bus_message *m, void *userdata,
    sd_bus_error *ret_error);

/* Starts NRestarts calls up to RESTARTS_INFLIGHT in flight. */
static int
restarts_send(struct restarts *rs)
{
	struct restarts_target *t;
	int r;

	while (rs->next < rs->ntargets &&
	    rs->next - rs->ndone < RESTARTS_INFLIGHT) {
		t = &rs->targets[rs->next++];
		r = sd_bus_call_method_async(rs->bus, &t->slot,
		    "org.freedesktop.systemd1", t->path,
		    "org.freedesktop.DBus.Properties", "Get", restarts_got, t,
		    "ss", "org.freedesktop.systemd1.Service", "NRestarts");
		if (r < 0)
			return r;
	}
	return 0;
}

static void
restarts_done(struct restarts *rs)
{
	struct collect_req *req = rs->req;
	const char *e = rs->call_error;
	char text[RESTARTS_TEXT_MAX];

	if (rs->ntargets > 0 && rs->ndone == rs->ntargets) {
		bool none = true;

		for (size_t i = 0; i < rs->ntargets && none; i++)
			none = rs->targets[i].err != 0;
		if (none) {
			/* Not one answer: a policy or an old systemd. */
			snprintf(text, sizeof(text), "cannot read NRestarts: "
			    "%s", e);
			restarts_fail(rs, text);
			return;
		}
	}
	restarts_evaluate(rs, collect_req_result(req));
	rs->logged[0] = '\0';
	restarts_cancel(rs);
	collect_req_finish(req);
}

static int
restarts_got(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct restarts_target *t = userdata;
	struct restarts *rs = t->owner;
	const sd_bus_error *e;
	char msg[RESTARTS_ERROR_MAX];
	int r;

	(void)ret_error;
	t->slot = sd_bus_slot_unref(t->slot);
	t->done = true;
	rs->ndone++;
	if ((e = sd_bus_message_get_error(m)) != NULL) {
		/* Mostly a unit unloaded since the list: skipped. */
		t->err = -EIO;
		snprintf(rs->call_error, sizeof(rs->call_error), "%s: %s",
		    e->name, log_escape(msg, sizeof(msg), e->message != NULL ?
		    e->message : ""));
	} else if ((r = sd_bus_message_read(m, "v", "u", &t->value)) < 0) {
		t->err = r;
		snprintf(rs->call_error, sizeof(rs->call_error), "bad "
		    "NRestarts reply: %s", strerror(-r));
	}
	if ((r = restarts_send(rs)) < 0) {
		snprintf(msg, sizeof(msg), "cannot ask for NRestarts: %s",
		    strerror(-r));
		restarts_fail(rs, msg);
		return 0;
	}
	if (rs->ndone == rs->ntargets)
		restarts_done(rs);
	return 0;
}

/* The list of services: keeps the first max_units by name not ignored,
 * then asks each for NRestarts. */
static int
restarts_listed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct restarts *rs = userdata;
	const char *name, *desc, *load, *active, *sub, *following, *path;
	const char *job_type, *job_path;
	const sd_bus_error *e;
	char text[RESTARTS_TEXT_MAX], msg[RESTARTS_ERROR_MAX];
	uint32_t job_id;
	size_t cap = 0;
	int r;

	(void)ret_error;
	rs->list = sd_bus_slot_unref(rs->list);
	if ((e = sd_bus_message_get_error(m)) != NULL) {
		snprintf(text, sizeof(text), "ListUnitsByPatterns: %s: %s",
		    e->name, log_escape(msg, sizeof(msg), e->message != NULL ?
		    e->message : ""));
		restarts_fail(rs, text);
		return 0;
	}
	if ((r = sd_bus_message_enter_container(m, 'a', "(ssssssouso)")) < 0)
		goto bad;
	for (;;) {
		r = sd_bus_message_read(m, "(ssssssouso)", &name, &desc, &load,
		    &active, &sub, &following, &path, &job_id, &job_type,
		    &job_path);
		if (r < 0)
			goto bad;
		if (r == 0)
			break;
		rs->listed++;
		if (strlen(name) >= RESTARTS_NAME_MAX ||
		    !sd_bus_object_path_is_valid(path))
			continue;
		if (glob_list_match(rs->ignore, rs->nignore, name)) {
			rs->ignored++;
			continue;
		}
		if (rs->ntargets == cap) {
			if (cap == rs->max_units) {
				/* Keep the first by name: stable runs. */
				size_t last = 0;

				for (size_t i = 1; i < rs->ntargets; i++)
					if (strcmp(rs->targets[i].name,
					    rs->targets[last].name) > 0)
						last = i;
				if (strcmp(name, rs->targets[last].name) > 0)
					continue;
				free(rs->targets[last].name);
				free(rs->targets[last].path);
				rs->targets[last].name = xstrdup(name);
				rs->targets[last].path = xstrdup(path);
				continue;
			}
			cap = cap == 0 ? 64 : cap * 2;
			if (cap > rs->max_units)
				cap = rs->max_units;
			rs->targets = xreallocarray(rs->targets, cap,
			    sizeof(*rs->targets));
		}
		rs->targets[rs->ntargets++] = (struct restarts_target){
			.owner = rs, .name = xstrdup(name),
			.path = xstrdup(path),
		};
	}
	if (rs->ntargets == 0) {
		restarts_done(rs);
		return 0;
	}
	if ((r = restarts_send(rs)) < 0) {
		snprintf(text, sizeof(text), "cannot ask for NRestarts: %s",
		    strerror(-r));
		restarts_fail(rs, text);
	}
	return 0;
bad:
	snprintf(text, sizeof(text), "ListUnitsByPatterns: bad reply: %s",
	    strerror(-r));
	restarts_fail(rs, text);
	return 0;
}

static int
restarts_open_bus(struct restarts *rs)
{
	int r;

	if ((r = units_bus_open(rs->bus_address, rs->event, &rs->bus)) < 0)
		snprintf(rs->bus_error, sizeof(rs->bus_error), "%s",
		    strerror(-r));
	else
		rs->bus_error[0] = '\0';
	return r;
}

static int
restarts_start(void *inst, const struct collector_env *env)
{
	struct restarts *rs = inst;
	int r;

	if (env->event == NULL) {
		snprintf(rs->bus_error, sizeof(rs->bus_error), "no event loop");
		return -EINVAL;
	}
	sd_event_unref(rs->event);
	rs->event = sd_event_ref(env->event);
	if ((r = restarts_open_bus(rs)) < 0)
		rs->next_open = time_now(CLOCK_MONOTONIC) + RESTARTS_RETRY_USEC;
	return r;
}

static int
restarts_collect(void *inst, struct collect_req *req)
{
	struct restarts *rs = inst;
	struct result *res = collect_req_result(req);
	char text[RESTARTS_TEXT_MAX];
	int r;

	if (rs->event == NULL) {
		result_set(res, STATE_UNKNOWN, "restarts collector not "
		    "started: %s", rs->bus_error[0] != '\0' ? rs->bus_error :
		    "no event loop");
		return 0;
	}
	restarts_cancel(rs);
	if (rs->bus != NULL && sd_bus_is_open(rs->bus) <= 0) {
		rs->bus = sd_bus_close_unref(rs->bus);
		rs->next_open = 0;
	}
	if (rs->bus == NULL) {
		if (time_now(CLOCK_MONOTONIC) >= rs->next_open &&
		    restarts_open_bus(rs) < 0)
			rs->next_open = time_now(CLOCK_MONOTONIC) +
			    RESTARTS_RETRY_USEC;
		if (rs->bus == NULL) {
			snprintf(text, sizeof(text), "no system bus: %s",
			    rs->bus_error);
			restarts_log_once(rs, text);
			result_set(res, STATE_UNKNOWN, "%s", text);
			return 0;
		}
	}
	r = sd_bus_call_method_async(rs->bus, &rs->list,
	    "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
	    "org.freedesktop.systemd1.Manager", "ListUnitsByPatterns",
	    restarts_listed, rs, "asas", 0, 1, "*.service");
	if (r < 0) {
		snprintf(text, sizeof(text), "cannot call ListUnitsByPatterns: "
		    "%s", strerror(-r));
		restarts_log_once(rs, text);
		result_set(res, STATE_UNKNOWN, "%s", text);
		return 0;
	}
	rs->req = req;
	return COLLECT_PENDING;
}

static void
restarts_free(void *inst)
{
	struct restarts *rs = inst;

	if (rs == NULL)
		return;
	restarts_drop_run(rs);
	for (size_t i = 0; i < rs->nunits; i++)
		free(rs->units[i].name);
	free(rs->units);
	sd_bus_close_unref(rs->bus);
	sd_event_unref(rs->event);
	glob_list_clear(rs->ignore, &rs->nignore);
	free(rs->bus_address);
	free(rs);
}

const struct collector collector_restarts = {
	.name = "restarts",
	.description = "systemd services in a restart loop (NRestarts)",
	.interval = 60,
	.new = restarts_new,
	.configure = restarts_configure,
	.thresholds = restarts_thresholds,
	.start = restarts_start,
	.collect = restarts_collect,
	.cancel = restarts_cancel,
	.free = restarts_free,
};
