/*
 * The units collector: asks systemd over the system bus for failed units
 * (org.freedesktop.systemd1.Manager.ListUnitsFiltered(["failed"])), without
 * blocking: the call is asynchronous on the daemon's sd-event loop.
 *
 * [collector.units] keys:
 *   failed_warning    range on the number of failed units   default: 0
 *                     ("0" alerts on anything above zero)
 *   failed_critical                                         default: unset
 *   ignore            comma-separated fnmatch(3) globs of unit names not
 *                     to count, e.g. "*.mount, backup-*.service"
 *                                                           default: none
 *   bus_address       D-Bus address to use instead of the system bus; for
 *                     tests only                            default: unset
 * Without a system bus (containers without systemd) the result is UNKNOWN
 * "no system bus: ...", logged once; opening is retried every 5 minutes.
 *
 * One call is in flight at most. A new collect() while a call is pending
 * drops that call: the framework has given up on (freed) its request.
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
#include "threshold.h"
#include "timeutil.h"
#include "units.h"
#include "xmalloc.h"

#define UNITS_RETRY_USEC	(5 * 60 * UINT64_C(1000000))
#define UNITS_CALL_USEC		(10 * UINT64_C(1000000))
#define UNITS_IGNORE_MAX	64	/* globs in "ignore" */
#define UNITS_REPLY_MAX		4096	/* failed units read from one reply */
#define UNITS_NAMED		5	/* unit names in the summary */
#define UNITS_LONG_MAX		50	/* unit lines in the long text */
#define UNITS_ERROR_MAX		256	/* bus error text kept */
#define UNITS_TEXT_MAX		(UNITS_ERROR_MAX + 64)

struct units {
	struct threshold	 failed;
	char			*ignore[UNITS_IGNORE_MAX];
	size_t			 nignore;
	char			*bus_address;

	sd_event		*event;
	sd_bus			*bus;
	sd_bus_slot		*call;		/* the pending ListUnitsFiltered */
	struct collect_req	*req;		/* whose result it fills */
	uint64_t		 next_open;	/* CLOCK_MONOTONIC usec */
	char			 bus_error[UNITS_ERROR_MAX];
	char			 logged[UNITS_TEXT_MAX];	/* last logged */
};

static const struct threshold_key units_thresholds[] = {
	{ "failed", offsetof(struct units, failed), "0", "", NULL },
	{ .name = NULL },
};

/* Logs a failure once; the same text again stays quiet until another
 * failure or a success came in between. */
static void
units_log_once(struct units *u, const char *text)
{
	if (strcmp(u->logged, text) == 0)
		return;
	snprintf(u->logged, sizeof(u->logged), "%s", text);
	log_warnx("units: %s", text);
}

static void *
units_new(void)
{
	struct units *u = xcalloc(1, sizeof(*u));

	threshold_defaults(u, units_thresholds);
	return u;
}

static int
units_configure(void *inst, const char *key, const char *value, char *err,
    size_t errlen)
{
	struct units *u = inst;

	if (strcmp(key, "ignore") == 0) {
		if (glob_list_parse(u->ignore, &u->nignore, UNITS_IGNORE_MAX,
		    key, value, err, errlen) == 0)
			return 0;
		/* One message for both limits, naming the whole value. */
		snprintf(err, errlen, "ignore: '%s' has a glob longer than %d "
		    "bytes or more than %d globs", value, GLOB_LEN_MAX,
		    UNITS_IGNORE_MAX);
		return -EINVAL;
	}
	if (strcmp(key, "bus_address") == 0) {
		free(u->bus_address);
		u->bus_address = value[0] != '\0' ? xstrdup(value) : NULL;
		return 0;
	}
	return threshold_configure(u, units_thresholds, "ignore, bus_address",
	    key, value, err, errlen);
}

/* Unit names are ASCII by systemd's rules; anything else from the bus is
 * shown as '?' so it cannot forge summary text. */
static const char *
units_clean(char *dst, size_t len, const char *src)
{
	size_t o = 0;

	for (; *src != '\0' && o + 1 < len; src++)
		dst[o++] = (*src > 0x20 && *src < 0x7f) ? *src : '?';
	dst[o] = '\0';
	return dst;
}

static const char *
units_str(const char *s)
{
	return s != NULL ? s : "";
}

void
units_summarise(void *inst, const struct units_failed *units, size_t n,
    struct result *res)
{
	struct units *u = inst;
	char names[RESULT_SUMMARY_MAX / 2] = "", clean[256], desc[512];
	char load[32], active[32], sub[32];
	size_t failed = 0, ignored = 0, named = 0, off = 0;
	struct perf *p;

	for (size_t i = 0; i < n; i++) {
		const struct units_failed *f = &units[i];

		units_clean(clean, sizeof(clean), units_str(f->name));
		if (glob_list_match(u->ignore, u->nignore,
		    units_str(f->name))) {
			ignored++;
			result_append_long(res, "ignored: %s", clean);
			continue;
		}
		failed++;
		if (failed <= UNITS_LONG_MAX) {
			units_clean(load, sizeof(load),
			    units_str(f->load_state));
			units_clean(active, sizeof(active),
			    units_str(f->active_state));
			units_clean(sub, sizeof(sub), units_str(f->sub_state));
			log_escape(desc, sizeof(desc),
			    units_str(f->description));
			result_append_long(res, "%s: %s (%s/%s/%s)", clean,
			    desc, load, active, sub);
		}
		if (named < UNITS_NAMED) {
			int w = snprintf(names + off, sizeof(names) - off,
			    "%s%s", named > 0 ? ", " : "", clean);

			if (w > 0 && (size_t)w < sizeof(names) - off) {
				off += (size_t)w;
				named++;
			}
		}
	}
	if (failed > UNITS_LONG_MAX)
		result_append_long(res, "and %zu more failed units",
		    failed - UNITS_LONG_MAX);

	res->state = threshold_eval(&u->failed, (double)failed);
	if (failed == 0)
		result_set(res, res->state, "no failed units");
	else if (failed > named)
		result_set(res, res->state,
		    "%zu failed unit%s: %s and %zu more", failed,
		    failed == 1 ? "" : "s", names, failed - named);
	else
		result_set(res, res->state, "%zu failed unit%s: %s", failed,
		    failed == 1 ? "" : "s", names);
	if (ignored > 0) {
		size_t len = strlen(res->summary);

		snprintf(res->summary + len, sizeof(res->summary) - len,
		    " (%zu ignored)", ignored);
	}

	if ((p = result_add_perf(res, "failed", (double)failed, "")) != NULL) {
		threshold_to_perf(&u->failed, p);
		p->min = 0;
		p->has_min = true;
	}
	p = result_add_perf(res, "ignored", (double)ignored, "");
	if (p != NULL) {
		p->min = 0;
		p->has_min = true;
	}
}

/* Reads the a(ssssssouso) array of the reply into res. */
static int
units_read_reply(struct units *u, sd_bus_message *m, struct result *res)
{
	struct units_failed *units = NULL;
	const char *following, *path, *job_type, *job_path;
	uint32_t job_id;
	bool truncated = false;
	size_t n = 0;
	int r;

	if ((r = sd_bus_message_enter_container(m, 'a', "(ssssssouso)")) < 0)
		goto out;
	units = xcalloc(UNITS_REPLY_MAX, sizeof(*units));
	for (;;) {
		struct units_failed *f = &units[n];

		if (n == UNITS_REPLY_MAX) {
			truncated = true;
			break;
		}
		r = sd_bus_message_read(m, "(ssssssouso)", &f->name,
		    &f->description, &f->load_state, &f->active_state,
		    &f->sub_state, &following, &path, &job_id, &job_type,
		    &job_path);
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		n++;
	}
	/* The strings point into m, alive until the callback returns. */
	units_summarise(u, units, n, res);
	if (truncated)
		result_append_long(res, "reply truncated after %d units",
		    UNITS_REPLY_MAX);
	r = 0;
out:
	free(units);
	return r;
}

static int
units_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct units *u = userdata;
	struct collect_req *req = u->req;
	struct result *res = collect_req_result(req);
	const sd_bus_error *e;
	char text[UNITS_TEXT_MAX], msg[UNITS_ERROR_MAX];
	int r;

	(void)ret_error;
	u->call = sd_bus_slot_unref(u->call);
	u->req = NULL;
	if ((e = sd_bus_message_get_error(m)) != NULL) {
		snprintf(text, sizeof(text), "ListUnitsFiltered: %s: %s",
		    e->name, log_escape(msg, sizeof(msg),
		    e->message != NULL ? e->message : ""));
		units_log_once(u, text);
		result_set(res, STATE_UNKNOWN, "%s", text);
	} else if ((r = units_read_reply(u, m, res)) < 0) {
		snprintf(text, sizeof(text), "ListUnitsFiltered: bad reply: %s",
		    strerror(-r));
		units_log_once(u, text);
		result_set(res, STATE_UNKNOWN, "%s", text);
	} else
		u->logged[0] = '\0';
	collect_req_finish(req);
	return 0;
}

int
units_bus_open(const char *address, sd_event *event, sd_bus **out)
{
	sd_bus *bus = NULL;
	int r;

	*out = NULL;
	if (address != NULL) {
		if ((r = sd_bus_new(&bus)) < 0 ||
		    (r = sd_bus_set_address(bus, address)) < 0 ||
		    (r = sd_bus_set_bus_client(bus, 1)) < 0 ||
		    (r = sd_bus_start(bus)) < 0)
			goto out;
	} else if ((r = sd_bus_open_system(&bus)) < 0)
		goto out;
	if ((r = sd_bus_set_method_call_timeout(bus, UNITS_CALL_USEC)) < 0)
		goto out;
	r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
	if (r < 0)
		goto out;
	*out = bus;
	bus = NULL;	/* transferred */
	r = 0;
out:
	sd_bus_close_unref(bus);
	return r;
}

/* Connects to the system bus (or bus_address) and attaches it to the
 * loop. Returns 0 or -errno with the reason in u->bus_error. */
static int
units_open_bus(struct units *u)
{
	int r;

	if ((r = units_bus_open(u->bus_address, u->event, &u->bus)) < 0)
		snprintf(u->bus_error, sizeof(u->bus_error), "%s",
		    strerror(-r));
	else
		u->bus_error[0] = '\0';
	return r;
}

static int
units_start(void *inst, const struct collector_env *env)
{
	struct units *u = inst;
	int r;

	if (env->event == NULL) {
		snprintf(u->bus_error, sizeof(u->bus_error), "no event loop");
		return -EINVAL;
	}
	sd_event_unref(u->event);
	u->event = sd_event_ref(env->event);
	if ((r = units_open_bus(u)) < 0)
		u->next_open = time_now(CLOCK_MONOTONIC) + UNITS_RETRY_USEC;
	return r;
}

/* The request in flight is being freed: drop the call so its reply, if
 * it still comes, finds no slot. */
static void
units_cancel(void *inst)
{
	struct units *u = inst;

	u->call = sd_bus_slot_unref(u->call);
	u->req = NULL;
}

static int
units_collect(void *inst, struct collect_req *req)
{
	struct units *u = inst;
	struct result *res = collect_req_result(req);
	char text[UNITS_TEXT_MAX];
	int r;

	if (u->event == NULL) {
		result_set(res, STATE_UNKNOWN, "units collector not started: "
		    "%s", u->bus_error[0] != '\0' ? u->bus_error :
		    "no event loop");
		return 0;
	}
	if (u->call != NULL)
		units_cancel(u);
	if (u->bus != NULL && sd_bus_is_open(u->bus) <= 0) {
		/* The bus went away (dbus restarted): reconnect at once. */
		u->bus = sd_bus_close_unref(u->bus);
		u->next_open = 0;
	}
	if (u->bus == NULL) {
		if (time_now(CLOCK_MONOTONIC) >= u->next_open && units_open_bus(u) < 0)
			u->next_open = time_now(CLOCK_MONOTONIC) + UNITS_RETRY_USEC;
		if (u->bus == NULL) {
			snprintf(text, sizeof(text), "no system bus: %s",
			    u->bus_error);
			units_log_once(u, text);
			result_set(res, STATE_UNKNOWN, "%s", text);
			return 0;
		}
	}
	r = sd_bus_call_method_async(u->bus, &u->call,
	    "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
	    "org.freedesktop.systemd1.Manager", "ListUnitsFiltered",
	    units_reply, u, "as", 1, "failed");
	if (r < 0) {
		snprintf(text, sizeof(text), "cannot call ListUnitsFiltered: "
		    "%s", strerror(-r));
		units_log_once(u, text);
		result_set(res, STATE_UNKNOWN, "%s", text);
		return 0;
	}
	u->req = req;
	return COLLECT_PENDING;
}

static void
units_free(void *inst)
{
	struct units *u = inst;

	if (u == NULL)
		return;
	sd_bus_slot_unref(u->call);	/* the reply callback never runs */
	sd_bus_close_unref(u->bus);
	sd_event_unref(u->event);
	glob_list_clear(u->ignore, &u->nignore);
	free(u->bus_address);
	free(u);
}

const struct collector collector_units = {
	.name = "units",
	.description = "failed systemd units",
	.interval = 60,
	.new = units_new,
	.configure = units_configure,
	.thresholds = units_thresholds,
	.start = units_start,
	.collect = units_collect,
	.cancel = units_cancel,
	.free = units_free,
};
