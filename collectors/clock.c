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
 * The thresholds apply only while synchronised: an unsynchronised clock
 * has maxerror 16 s by definition, and unsynced_state says what that means.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/timex.h>

#include "clock.h"
#include "collector.h"
#include "log.h"
#include "range.h"
#include "xmalloc.h"

enum clock_metric {
	M_MAXERROR,
	M_ESTERROR,
	M_OFFSET,
	M_COUNT,
};

static const struct {
	const char	*key;
	const char	*what;
} clock_metrics[M_COUNT] = {
	[M_MAXERROR] = { "maxerror", "max error" },
	[M_ESTERROR] = { "esterror", "estimated error" },
	[M_OFFSET] = { "offset", "offset" },
};

struct clock {
	struct range		 warn[M_COUNT], crit[M_COUNT];
	enum check_state	 unsynced_state;
	clock_adjtimex_fn	*adjtimex;
	int			 logged_errno;	/* last failure logged */
};

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

	range_parse("5000", &c->warn[M_MAXERROR]);
	c->unsynced_state = STATE_WARNING;
	c->adjtimex = clock_kernel_adjtimex;
	return c;
}

static int
clock_configure(void *inst, const char *key, const char *value, char *err,
    size_t errlen)
{
	struct clock *c = inst;
	size_t klen;
	int s;

	if (strcmp(key, "unsynced_state") == 0) {
		if ((s = result_state_parse(value)) < 0) {
			snprintf(err, errlen, "%s: '%s' is not one of ok, "
			    "warning, critical, unknown", key, value);
			return -EINVAL;
		}
		c->unsynced_state = s;
		return 0;
	}
	for (int m = 0; m < M_COUNT; m++) {
		struct range *r;

		klen = strlen(clock_metrics[m].key);
		if (strncmp(key, clock_metrics[m].key, klen) != 0)
			continue;
		if (strcmp(key + klen, "_warning") == 0)
			r = &c->warn[m];
		else if (strcmp(key + klen, "_critical") == 0)
			r = &c->crit[m];
		else
			continue;
		if (range_parse(value, r) != 0) {
			snprintf(err, errlen, "%s: '%s' is not a range", key,
			    value);
			return -EINVAL;
		}
		return 0;
	}
	snprintf(err, errlen, "unknown key '%s'", key);
	return -EINVAL;
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

	if ((p = result_add_perf(res, clock_metrics[m].key, v, "ms")) == NULL)
		return;
	range_to_perf(p, &c->warn[m], &c->crit[m]);
	if (m != M_OFFSET) {
		p->min = 0;
		p->has_min = true;
	}
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
		result_set(res, c->unsynced_state, "clock not synchronised "
		    "(no NTP daemon disciplining the kernel clock)");
		result_append_long(res, "kernel status 0x%x%s, adjtimex "
		    "returned %d: an NTP daemon (chronyd, ntpd, "
		    "systemd-timesyncd) clears STA_UNSYNC once it has set the "
		    "clock; start one, or check that it reaches its servers",
		    (unsigned)tx.status,
		    (tx.status & STA_UNSYNC) ? " (STA_UNSYNC)" : "", rc);
	} else {
		res->state = STATE_OK;
		for (int m = 0; m < M_COUNT; m++) {
			enum check_state s;
			int n;

			s = range_eval(&c->warn[m], &c->crit[m], fabs(ms[m]));
			if (s == STATE_OK)
				continue;
			result_escalate(res, s);
			range_describe(s == STATE_CRITICAL ? &c->crit[m] :
			    &c->warn[m], desc, sizeof(desc));
			n = snprintf(alerts + off, sizeof(alerts) - off,
			    ", %s %.0f ms (%s %s ms)", clock_metrics[m].what,
			    m == M_OFFSET ? fabs(ms[m]) : ms[m],
			    result_state_name(s), desc);
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
	free(inst);
}

const struct collector collector_clock = {
	.name = "clock",
	.description = "kernel clock synchronisation (NTP) and its error",
	.interval = 60,
	.new = clock_new,
	.configure = clock_configure,
	.collect = clock_collect,
	.free = clock_free,
};
