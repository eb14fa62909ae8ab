/*
 * The clock collector: asks the kernel (adjtimex with modes 0, read only)
 * whether an NTP daemon keeps the system clock synchronised, and how large
 * the kernel thinks the error is.
 *
 * [collector.clock] keys:
 *   unsynced_state     state when the kernel clock is not synchronised
 *                      (STA_UNSYNC set or TIME_ERROR returned):
 *                      ok | warning | critical | unknown     default: warning
 *   maxerror_warning   range on the maximum error in ms     default: 5000
 *   maxerror_critical                                        default: unset
 *   esterror_warning   range on the estimated error in ms   default: unset
 *   esterror_critical                                        default: unset
 *   offset_warning     range on |offset| in ms, the part of a correction
 *   offset_critical    the kernel is still slewing           default: unset
 * Why 5000 ms: the kernel adds 0.5 ms to maxerror every second until the
 * NTP daemon updates it; systemd-timesyncd polls every 2048 s at most, so
 * a healthy host reaches ~1000 ms. 5000 ms means no update for hours.
 *   bus_address        D-Bus address to use instead of the system bus
 *                      for the fallback below; for tests only
 *                                                        default: unset
 * The thresholds apply only while synchronised: an unsynchronised clock
 * has maxerror 16 s by definition, and unsynced_state says what that means.
 *
 * Under the packaged unit ProtectClock= refuses even the read-only call
 * (EPERM). Then the collector asks systemd-timedated, which runs outside
 * the sandbox, for org.freedesktop.timedate1's NTPSynchronized property,
 * asynchronously on the daemon's loop. That answer is yes or no, so the
 * thresholds cannot apply. The bus is opened only once adjtimex has been
 * refused; a missing bus is retried every 5 minutes. One call is in flight
 * at most: a new collect() drops a pending one (the framework has given
 * up on its request).
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/timex.h>
#include <time.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "clock.h"
#include "collector.h"
#include "log.h"
#include "threshold.h"
#include "timeutil.h"
#include "xmalloc.h"

#define CLOCK_RETRY_USEC	(5 * 60 * UINT64_C(1000000))
#define CLOCK_CALL_USEC		(10 * UINT64_C(1000000))
#define CLOCK_ERROR_MAX		256	/* bus error text kept */
#define CLOCK_TEXT_MAX		(CLOCK_ERROR_MAX + 64)

#define TIMEDATE_NAME		"org.freedesktop.timedate1"
#define TIMEDATE_PATH		"/org/freedesktop/timedate1"

enum clock_metric {
	M_MAXERROR,
	M_ESTERROR,
	M_OFFSET,
	M_COUNT,
};

/* How the summary names each metric. */
static const char *const clock_what[M_COUNT] = {
	[M_MAXERROR] = "max error",
	[M_ESTERROR] = "estimated error",
	[M_OFFSET] = "offset",
};

struct clock {
	struct threshold	 limit[M_COUNT];	/* in ms */
	enum check_state	 unsynced_state;
	clock_adjtimex_fn	*adjtimex;
	int			 logged_errno;	/* adjtimex's last logged */
	char			*bus_address;

	/* The systemd-timedated fallback. */
	sd_event		*event;
	sd_bus			*bus;
	sd_bus_slot		*call;	/* the pending Property Get */
	struct collect_req	*req;	/* whose result it fills */
	int			 denied; /* errno adjtimex failed with */
	uint64_t		 next_open; /* CLOCK_MONOTONIC usec */
	char			 bus_error[CLOCK_ERROR_MAX];
	char			 logged[CLOCK_TEXT_MAX]; /* last logged */
};

/* In enum clock_metric order: the key is also the perfdata label. */
static const struct threshold_key clock_thresholds[] = {
	{ "maxerror", offsetof(struct clock, limit[M_MAXERROR]), "5000", "", NULL },
	{ "esterror", offsetof(struct clock, limit[M_ESTERROR]), "", "", NULL },
	{ "offset", offsetof(struct clock, limit[M_OFFSET]), "", "", NULL },
	{ .name = NULL },
};

static const char clock_unsynced_summary[] = "clock not synchronised (no NTP "
    "daemon disciplining the kernel clock)";
static const char clock_ntp_advice[] = "an NTP daemon (chronyd, ntpd, "
    "systemd-timesyncd) clears STA_UNSYNC once it has set the clock; start "
    "one, or check that it reaches its servers";

static int
clock_kernel_adjtimex(struct timex *tx)
{
	return adjtimex(tx);
}

void
clock_set_adjtimex(void *inst, clock_adjtimex_fn *fn)
{
	struct clock *c = inst;

	c->adjtimex = fn != NULL ? fn : clock_kernel_adjtimex;
}

static void *
clock_new(void)
{
	struct clock *c = xcalloc(1, sizeof(*c));

	threshold_defaults(c, clock_thresholds);
	c->unsynced_state = STATE_WARNING;
	c->adjtimex = clock_kernel_adjtimex;
	return c;
}

static int
clock_configure(void *inst, const char *key, const char *value, char *err,
    size_t errlen)
{
	struct clock *c = inst;
	int s;

	if (strcmp(key, "bus_address") == 0) {
		free(c->bus_address);
		c->bus_address = value[0] != '\0' ? xstrdup(value) : NULL;
		return 0;
	}
	if (strcmp(key, "unsynced_state") == 0) {
		if ((s = result_state_parse(value)) < 0) {
			snprintf(err, errlen, "%s: '%s' is not one of ok, "
			    "warning, critical, unknown", key, value);
			return -EINVAL;
		}
		c->unsynced_state = s;
		return 0;
	}
	return threshold_configure(c, clock_thresholds, "unsynced_state, "
	    "bus_address", key, value, err, errlen);
}

static const char *
clock_leap_text(int rc)
{
	switch (rc) {
	case TIME_INS:
		return "a leap second will be inserted at midnight UTC";
	case TIME_DEL:
		return "a leap second will be deleted at midnight UTC";
	case TIME_OOP:
		return "a leap second is in progress";
	case TIME_WAIT:
		return "a leap second has just occurred";
	}
	return NULL;
}

static void
clock_add_perf(struct result *res, const struct clock *c, int m, double v)
{
	struct perf *p;

	if ((p = result_add_perf(res, clock_thresholds[m].name, v, "ms")) ==
	    NULL)
		return;
	threshold_to_perf(&c->limit[m], p);
	if (m != M_OFFSET) {
		p->min = 0;
		p->has_min = true;
	}
}

/* Logs a fallback failure once; the same text again stays quiet until
 * another failure or a success came in between. */
static void
clock_log_once(struct clock *c, const char *text)
{
	if (strcmp(c->logged, text) == 0)
		return;
	snprintf(c->logged, sizeof(c->logged), "%s", text);
	log_warnx("clock: %s", text);
}

/* The fallback failed too: UNKNOWN naming both reasons. */
static void
clock_fallback_failed(struct clock *c, struct result *res, const char *text)
{
	clock_log_once(c, text);
	result_set(res, STATE_UNKNOWN, "cannot read the kernel clock state: "
	    "adjtimex: %s; %s", strerror(c->denied), text);
}

static void
clock_timedated_result(struct clock *c, struct result *res, int synced)
{
	if (synced) {
		result_set(res, STATE_OK, "clock synchronised (from "
		    "systemd-timedated: the service's sandbox hides the "
		    "kernel's error figures)");
		result_append_long(res, "systemd-timedated reports "
		    "NTPSynchronized=true. adjtimex(2) is refused here (%s), "
		    "and timedated says only whether the clock is "
		    "synchronised, not by how much it may be off: the "
		    "maxerror, esterror and offset thresholds cannot apply",
		    strerror(c->denied));
	} else {
		result_set(res, c->unsynced_state, "%s",
		    clock_unsynced_summary);
		result_append_long(res, "systemd-timedated reports "
		    "NTPSynchronized=false: %s", clock_ntp_advice);
	}
	result_add_perf(res, "synchronised", synced ? 1 : 0, "");
}

static int
clock_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct clock *c = userdata;
	struct collect_req *req = c->req;
	struct result *res = collect_req_result(req);
	const sd_bus_error *e;
	char text[CLOCK_TEXT_MAX], msg[CLOCK_ERROR_MAX];
	int r, synced;

	(void)ret_error;
	c->call = sd_bus_slot_unref(c->call);
	c->req = NULL;
	if ((e = sd_bus_message_get_error(m)) != NULL) {
		snprintf(text, sizeof(text), "systemd-timedated: %s: %s",
		    e->name, log_escape(msg, sizeof(msg),
		    e->message != NULL ? e->message : ""));
		clock_fallback_failed(c, res, text);
	} else if ((r = sd_bus_message_read(m, "v", "b", &synced)) < 0) {
		snprintf(text, sizeof(text), "systemd-timedated: bad "
		    "NTPSynchronized reply: %s", strerror(-r));
		clock_fallback_failed(c, res, text);
	} else {
		c->logged[0] = '\0';
		clock_timedated_result(c, res, synced);
	}
	collect_req_finish(req);
	return 0;
}

/* Connects to the system bus (or bus_address) and attaches it to the
 * loop. Returns 0 or -errno with the reason in c->bus_error. */
static int
clock_open_bus(struct clock *c)
{
	sd_bus *bus = NULL;
	int r;

	if (c->bus_address != NULL) {
		if ((r = sd_bus_new(&bus)) < 0 ||
		    (r = sd_bus_set_address(bus, c->bus_address)) < 0 ||
		    (r = sd_bus_set_bus_client(bus, 1)) < 0 ||
		    (r = sd_bus_start(bus)) < 0)
			goto out;
	} else if ((r = sd_bus_open_system(&bus)) < 0)
		goto out;
	if ((r = sd_bus_set_method_call_timeout(bus, CLOCK_CALL_USEC)) < 0)
		goto out;
	r = sd_bus_attach_event(bus, c->event, SD_EVENT_PRIORITY_NORMAL);
	if (r < 0)
		goto out;
	c->bus = bus;
	bus = NULL;	/* transferred */
	c->bus_error[0] = '\0';
	r = 0;
out:
	if (r < 0)
		snprintf(c->bus_error, sizeof(c->bus_error), "%s",
		    strerror(-r));
	sd_bus_close_unref(bus);
	return r;
}

/* Only keeps the loop: the bus is opened when adjtimex is first refused,
 * so a host where it works never talks to D-Bus. */
static int
clock_start(void *inst, const struct collector_env *env)
{
	struct clock *c = inst;

	sd_event_unref(c->event);
	c->event = env->event != NULL ? sd_event_ref(env->event) : NULL;
	c->next_open = 0;
	return 0;
}

/* The request in flight is being freed: drop the call so its reply, if
 * it still comes, finds no slot. */
static void
clock_cancel(void *inst)
{
	struct clock *c = inst;

	c->call = sd_bus_slot_unref(c->call);
	c->req = NULL;
}

/* adjtimex was refused with errno denied: asks systemd-timedated. */
static int
clock_ask_timedated(struct clock *c, struct collect_req *req, int denied)
{
	struct result *res = collect_req_result(req);
	char text[CLOCK_TEXT_MAX];
	int r;

	c->denied = denied;
	if (c->event == NULL) {
		clock_fallback_failed(c, res, "no event loop to ask "
		    "systemd-timedated");
		return 0;
	}
	if (c->call != NULL)
		clock_cancel(c);
	if (c->bus != NULL && sd_bus_is_open(c->bus) <= 0) {
		/* The bus went away (dbus restarted): reconnect at once. */
		c->bus = sd_bus_close_unref(c->bus);
		c->next_open = 0;
	}
	if (c->bus == NULL) {
		if (time_now(CLOCK_MONOTONIC) >= c->next_open &&
		    clock_open_bus(c) < 0)
			c->next_open = time_now(CLOCK_MONOTONIC) +
			    CLOCK_RETRY_USEC;
		if (c->bus == NULL) {
			snprintf(text, sizeof(text), "no system bus: %s",
			    c->bus_error);
			clock_fallback_failed(c, res, text);
			return 0;
		}
	}
	r = sd_bus_call_method_async(c->bus, &c->call, TIMEDATE_NAME,
	    TIMEDATE_PATH, "org.freedesktop.DBus.Properties", "Get",
	    clock_reply, c, "ss", TIMEDATE_NAME, "NTPSynchronized");
	if (r < 0) {
		snprintf(text, sizeof(text), "cannot ask systemd-timedated: %s",
		    strerror(-r));
		clock_fallback_failed(c, res, text);
		return 0;
	}
	c->req = req;
	return COLLECT_PENDING;
}

static int
clock_collect(void *inst, struct collect_req *req)
{
	struct clock *c = inst;
	struct result *res = collect_req_result(req);
	char alerts[RESULT_SUMMARY_MAX / 2] = "", desc[80];
	struct timex tx;
	double ms[M_COUNT], freq_ppm;
	const char *leap;
	bool synced;
	size_t off = 0;
	int rc, saved;

	memset(&tx, 0, sizeof(tx));	/* modes 0: read only */
	errno = 0;
	if ((rc = c->adjtimex(&tx)) == -1) {
		saved = errno != 0 ? errno : EIO;
		/* A sandbox (seccomp) or a kernel without the call. */
		if (saved == EPERM || saved == EACCES || saved == ENOSYS) {
			if (c->logged_errno != saved)
				log_info("clock: adjtimex: %s; asking "
				    "systemd-timedated instead",
				    strerror(saved));
			c->logged_errno = saved;
			return clock_ask_timedated(c, req, saved);
		}
		if (c->logged_errno != saved)
			log_warnx("clock: adjtimex: %s", strerror(saved));
		c->logged_errno = saved;
		result_set(res, STATE_UNKNOWN, "cannot read the kernel clock "
		    "state: adjtimex: %s", strerror(saved));
		return 0;
	}
	c->logged_errno = 0;

	synced = !(tx.status & STA_UNSYNC) && rc != TIME_ERROR;
	ms[M_MAXERROR] = (double)tx.maxerror / 1000.0;
	ms[M_ESTERROR] = (double)tx.esterror / 1000.0;
	ms[M_OFFSET] = (double)tx.offset /
	    ((tx.status & STA_NANO) ? 1000000.0 : 1000.0);
	freq_ppm = (double)tx.freq / 65536.0;

	if (!synced) {
		result_set(res, c->unsynced_state, "%s",
		    clock_unsynced_summary);
		result_append_long(res, "kernel status 0x%x%s, adjtimex "
		    "returned %d: %s", (unsigned)tx.status,
		    (tx.status & STA_UNSYNC) ? " (STA_UNSYNC)" : "", rc,
		    clock_ntp_advice);
	} else {
		res->state = STATE_OK;
		for (int m = 0; m < M_COUNT; m++) {
			enum check_state s;
			int n;

			s = threshold_eval(&c->limit[m], fabs(ms[m]));
			if (s == STATE_OK)
				continue;
			result_escalate(res, s);
			threshold_describe(&c->limit[m], s, " ms", desc,
			    sizeof(desc));
			n = snprintf(alerts + off, sizeof(alerts) - off,
			    ", %s %.0f ms (%s)", clock_what[m],
			    m == M_OFFSET ? fabs(ms[m]) : ms[m], desc);
			if (n > 0 && (size_t)n < sizeof(alerts) - off)
				off += (size_t)n;
		}
		if (res->state != STATE_OK)
			result_set(res, res->state, "clock synchronised, but%s",
			    alerts + 1);
		else
			result_set(res, res->state, "clock synchronised, max "
			    "error %.0f ms, offset %+.3f ms", ms[M_MAXERROR],
			    ms[M_OFFSET]);
	}
	if ((leap = clock_leap_text(rc)) != NULL)
		result_append_long(res, "%s", leap);
	result_append_long(res, "offset %+.6f ms, frequency %+.3f ppm, max "
	    "error %.3f ms, estimated error %.3f ms, status 0x%x",
	    ms[M_OFFSET], freq_ppm, ms[M_MAXERROR], ms[M_ESTERROR],
	    (unsigned)tx.status);

	clock_add_perf(res, c, M_OFFSET, ms[M_OFFSET]);
	clock_add_perf(res, c, M_MAXERROR, ms[M_MAXERROR]);
	clock_add_perf(res, c, M_ESTERROR, ms[M_ESTERROR]);
	result_add_perf(res, "frequency", freq_ppm, "");
	result_add_perf(res, "synchronised", synced ? 1 : 0, "");
	return 0;
}

static void
clock_free(void *inst)
{
	struct clock *c = inst;

	if (c == NULL)
		return;
	sd_bus_slot_unref(c->call);	/* the reply callback never runs */
	sd_bus_close_unref(c->bus);
	sd_event_unref(c->event);
	free(c->bus_address);
	free(c);
}

const struct collector collector_clock = {
	.name = "clock",
	.description = "kernel clock synchronisation (NTP) and its error",
	.interval = 60,
	.new = clock_new,
	.configure = clock_configure,
	.thresholds = clock_thresholds,
	.start = clock_start,
	.collect = clock_collect,
	.cancel = clock_cancel,
	.free = clock_free,
};
