/*
 * The uptime collector: seconds since boot, and reboot detection by the
 * kernel's boot id, remembered across agent restarts in state_dir/boot_id.
 *
 * [collector.uptime] keys (ranges in seconds of uptime):
 *   uptime_warning    range on uptime, always applied        default: unset
 *   uptime_critical   range on uptime, always applied        default: unset
 *                     (e.g. "~:31536000" to flag hosts not rebooted for
 *                     kernel updates in a year)
 *   reboot_warning    range on uptime, applied only when the boot id
 *                     changed since the agent last saw it    default: @0:900
 *                     (WARNING for 15 minutes after an unplanned reboot)
 *   reboot_critical   as reboot_warning                      default: unset
 * A fresh install (no saved boot id) never counts as a reboot.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector.h"
#include "log.h"
#include "sysfile.h"
#include "threshold.h"
#include "uptime.h"
#include "xmalloc.h"

#define UPTIME_FILE_MAX		256	/* /proc/uptime, boot_id, state file */
#define UPTIME_STATE_NAME	"boot_id"

/* Each distinct failure is logged once per instance, not every run. */
enum uptime_logged {
	LOGGED_BOOT_ID = 1 << 0,
	LOGGED_STATE_READ = 1 << 1,
	LOGGED_STATE_WRITE = 1 << 2,
	LOGGED_NO_STATE_DIR = 1 << 3,
};

struct uptime {
	struct threshold	 uptime;	/* always applied */
	struct threshold	 reboot;	/* after a reboot only */
	char			*proc;
	char			*state_dir;	/* NULL: no reboot memory */
	struct uptime_saved	 saved;
	int			 logged;
	char			 state_error[128];	/* last write failure */
};

static const struct threshold_key uptime_thresholds[] = {
	{ "uptime", offsetof(struct uptime, uptime), "", "", NULL },
	{ "reboot", offsetof(struct uptime, reboot), "@0:900", "", NULL },
	{ .name = NULL },
};

static void *
uptime_new(void)
{
	struct uptime *u = xcalloc(1, sizeof(*u));

	threshold_defaults(u, uptime_thresholds);
	return u;
}

static int
uptime_configure(void *inst, const char *key, const char *value, char *err,
    size_t errlen)
{
	return threshold_configure(inst, uptime_thresholds, NULL, key, value,
	    err, errlen);
}

int
uptime_parse(const char *buf, size_t len, double *uptime)
{
	char text[UPTIME_FILE_MAX], *end;
	double up, idle;

	*uptime = 0;
	if (len == 0 || len >= sizeof(text))
		return -EINVAL;
	memcpy(text, buf, len);
	text[len] = '\0';
	if (memchr(buf, '\0', len) != NULL || text[0] < '0' || text[0] > '9')
		return -EINVAL;
	errno = 0;
	up = strtod(text, &end);
	if (errno != 0 || end == text || *end != ' ' || !(up >= 0) ||
	    up > 1e12)
		return -EINVAL;
	/* The idle time is not used, but a line without it is not uptime. */
	idle = strtod(end, &end);
	if (errno != 0 || !(idle >= 0) || (*end != '\n' && *end != '\0') ||
	    (*end == '\n' && end[1] != '\0'))
		return -EINVAL;
	*uptime = up;
	return 0;
}

static int
uptime_valid_id(const char *s, size_t len)
{
	if (len != UPTIME_BOOT_ID_LEN)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return 1;
}

int
uptime_parse_boot_id(const char *buf, size_t len,
    char out[UPTIME_BOOT_ID_LEN + 1])
{
	out[0] = '\0';
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (!uptime_valid_id(buf, len))
		return -EINVAL;
	memcpy(out, buf, len);
	out[len] = '\0';
	return 0;
}

int
uptime_parse_saved(const char *buf, size_t len, struct uptime_saved *out)
{
	const char *p = buf, *end = buf + len;

	memset(out, 0, sizeof(*out));
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p), *eq;
		const char *lend = nl != NULL ? nl : end;
		char *dst;
		size_t klen;

		if ((eq = memchr(p, '=', lend - p)) == NULL)
			goto bad;
		klen = eq - p;
		if (klen == 7 && memcmp(p, "boot_id", 7) == 0)
			dst = out->boot_id;
		else if (klen == 16 && memcmp(p, "previous_boot_id", 16) == 0)
			dst = out->previous;
		else
			goto bad;
		if (!uptime_valid_id(eq + 1, lend - eq - 1))
			goto bad;
		memcpy(dst, eq + 1, UPTIME_BOOT_ID_LEN);
		dst[UPTIME_BOOT_ID_LEN] = '\0';
		p = nl != NULL ? nl + 1 : end;
	}
	if (out->boot_id[0] == '\0')
		goto bad;
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

/* "45 s", "4 min", "3 h 12 min", "1 day 2 h", "400 days 0 h". */
static void
uptime_duration(char *buf, size_t len, double seconds)
{
	unsigned long long s = (unsigned long long)seconds;
	unsigned long long d = s / 86400, h = s % 86400 / 3600;
	unsigned long long m = s % 3600 / 60;

	if (s < 60)
		snprintf(buf, len, "%llu s", s);
	else if (s < 3600)
		snprintf(buf, len, "%llu min", m);
	else if (d == 0)
		snprintf(buf, len, "%llu h %llu min", h, m);
	else
		snprintf(buf, len, "%llu day%s %llu h", d, d == 1 ? "" : "s",
		    h);
}

void
uptime_describe(char *buf, size_t len, double uptime, time_t now,
    bool rebooted)
{
	char dur[64], when[64];
	time_t boot = now - (time_t)uptime;
	struct tm tm;

	uptime_duration(dur, sizeof(dur), uptime);
	if (gmtime_r(&boot, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm) == 0)
		snprintf(when, sizeof(when), "an unknown time");
	if (rebooted)
		snprintf(buf, len, "rebooted %s ago, at %s", dur, when);
	else
		snprintf(buf, len, "up %s, since %s", dur, when);
}

/* True the first time a failure kind is seen, so it is logged once. */
static bool
uptime_first(struct uptime *u, int which)
{
	if (u->logged & which)
		return false;
	u->logged |= which;
	return true;
}

static int
uptime_start(void *inst, const struct collector_env *env)
{
	struct uptime *u = inst;
	char path[PATH_MAX], buf[UPTIME_FILE_MAX];
	size_t len;
	int r;

	free(u->proc);
	free(u->state_dir);
	u->proc = xstrdup(env->proc);
	u->state_dir = NULL;
	memset(&u->saved, 0, sizeof(u->saved));
	if (env->state_dir == NULL || env->state_dir[0] == '\0') {
		if (uptime_first(u, LOGGED_NO_STATE_DIR))
			log_warnx("uptime: no state directory: reboots are "
			    "not detected");
		return 0;
	}
	u->state_dir = xstrdup(env->state_dir);
	snprintf(path, sizeof(path), "%s/%s", u->state_dir,
	    UPTIME_STATE_NAME);
	r = sysfile_read_small(path, buf, sizeof(buf), &len);
	if (r == -ENOENT)
		return 0;	/* fresh install: nothing to compare with */
	if (r == 0 && uptime_parse_saved(buf, len, &u->saved) != 0)
		r = -EINVAL;
	if (r != 0 && uptime_first(u, LOGGED_STATE_READ))
		log_warnx("uptime: ignoring %s: %s", path,
		    r == -EINVAL ? "not a boot id state file" : strerror(-r));
	return 0;
}

/* Compares the current boot id with the saved one and saves a change.
 * Returns whether this boot is a reboot the agent has witnessed. */
static bool
uptime_track_boot(struct uptime *u, const char *boot_id)
{
	char data[2 * UPTIME_BOOT_ID_LEN + 64];
	int r;

	if (strcmp(u->saved.boot_id, boot_id) == 0)
		return u->saved.previous[0] != '\0';
	if (u->saved.boot_id[0] != '\0')
		memcpy(u->saved.previous, u->saved.boot_id,
		    sizeof(u->saved.previous));
	else
		u->saved.previous[0] = '\0';
	memcpy(u->saved.boot_id, boot_id, sizeof(u->saved.boot_id));
	if (u->state_dir == NULL)
		return u->saved.previous[0] != '\0';
	if (u->saved.previous[0] != '\0')
		snprintf(data, sizeof(data),
		    "boot_id=%s\nprevious_boot_id=%s\n", u->saved.boot_id,
		    u->saved.previous);
	else
		snprintf(data, sizeof(data), "boot_id=%s\n", u->saved.boot_id);
	r = sysfile_write_atomic(u->state_dir, UPTIME_STATE_NAME, data,
	    0644);
	if (r != 0) {
		snprintf(u->state_error, sizeof(u->state_error),
		    "cannot save %s/%s: %s", u->state_dir, UPTIME_STATE_NAME,
		    strerror(-r));
		if (uptime_first(u, LOGGED_STATE_WRITE))
			log_warnx("uptime: %s: reboots across agent restarts "
			    "are not detected", u->state_error);
	} else
		u->state_error[0] = '\0';
	return u->saved.previous[0] != '\0';
}

static int
uptime_collect(void *inst, struct collect_req *req)
{
	struct uptime *u = inst;
	struct result *res = collect_req_result(req);
	char path[PATH_MAX], buf[UPTIME_FILE_MAX], id[UPTIME_BOOT_ID_LEN + 1];
	char summary[192], range[PERF_RANGE_MAX];
	enum check_state up_state, reboot_state = STATE_OK;
	bool rebooted = false;
	struct perf *p;
	double up;
	size_t len;
	int r;

	if (u->proc == NULL) {
		result_set(res, STATE_UNKNOWN, "uptime collector not started");
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/uptime", u->proc);
	if ((r = sysfile_read_small(path, buf, sizeof(buf), &len)) != 0 ||
	    (r = uptime_parse(buf, len, &up)) != 0) {
		result_set(res, STATE_UNKNOWN, "cannot read %s: %s", path,
		    r == -EINVAL ? "not in /proc/uptime format" : strerror(-r));
		return r;
	}

	snprintf(path, sizeof(path), "%s/sys/kernel/random/boot_id", u->proc);
	if ((r = sysfile_read_small(path, buf, sizeof(buf), &len)) == 0 &&
	    (r = uptime_parse_boot_id(buf, len, id)) == 0)
		rebooted = uptime_track_boot(u, id);
	else {
		if (uptime_first(u, LOGGED_BOOT_ID))
			log_warnx("uptime: %s: reboots are not detected: %s",
			    path, r == -EINVAL ? "not a boot id" :
			    strerror(-r));
		result_append_long(res, "reboot detection off: %s: %s", path,
		    r == -EINVAL ? "not a boot id" : strerror(-r));
	}
	if (u->state_error[0] != '\0')
		result_append_long(res, "reboot memory off: %s",
		    u->state_error);

	up_state = threshold_eval(&u->uptime, up);
	if (rebooted) {
		reboot_state = threshold_eval(&u->reboot, up);
		result_append_long(res, "previous boot id %s, current %s",
		    u->saved.previous, u->saved.boot_id);
	}
	/* A reboot long ago is no news: "up ..." once outside the window. */
	uptime_describe(summary, sizeof(summary), up, time(NULL),
	    rebooted && reboot_state != STATE_OK);
	res->state = STATE_OK;
	result_escalate(res, up_state);
	result_escalate(res, reboot_state);
	if (up_state != STATE_OK) {
		range_format(up_state == STATE_CRITICAL ? &u->uptime.crit :
		    &u->uptime.warn, range, sizeof(range));
		result_set(res, res->state, "%s (%s: uptime outside %s s)",
		    summary, result_state_name(up_state), range);
	} else
		result_set(res, res->state, "%s", summary);

	if ((p = result_add_perf(res, "uptime", (double)(long long)up, "s"))
	    != NULL) {
		threshold_to_perf(&u->uptime, p);
		p->min = 0;
		p->has_min = true;
	}
	return 0;
}

static void
uptime_free(void *inst)
{
	struct uptime *u = inst;

	if (u == NULL)
		return;
	free(u->proc);
	free(u->state_dir);
	free(u);
}

const struct collector collector_uptime = {
	.name = "uptime",
	.description = "time since boot and reboot detection",
	.interval = 60,
	.new = uptime_new,
	.configure = uptime_configure,
	.thresholds = uptime_thresholds,
	.start = uptime_start,
	.collect = uptime_collect,
	.free = uptime_free,
};
