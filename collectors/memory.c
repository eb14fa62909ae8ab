/*
 * memory: how much RAM the kernel could hand out without swapping
 * (MemAvailable) and how full swap is, from /proc/meminfo.
 *
 * [collector.memory] keys: Nagios ranges; an empty value removes a default.
 *   available_warning	% of RAM available	default: 10:
 *   available_critical	% of RAM available	default: 5:
 *	MemAvailable already counts reclaimable page cache, so a busy box
 *	with a full cache still shows plenty. Below 10 % the kernel is
 *	reclaiming hard; below 5 % the OOM killer is close. (ZFS's ARC is
 *	not in MemAvailable: lower these on ZFS hosts.)
 *   swap_used_warning	% of swap used		default: 90
 *   swap_used_critical	% of swap used		default: none
 *	Long-running hosts park idle pages in swap harmlessly, so only a
 *	nearly full swap warns, and available memory carries the severity.
 *	A host without swap has no swap metric and never warns on it.
 *   available_clear, swap_used_clear	points of %	default: 2
 *	Hysteresis: a level stays until the value is that much back on the
 *	good side (available WARNING below 10 % clears above 12 %).
 *
 * Perfdata: available (%), available_bytes (B, max = RAM), and with swap
 * swap_used (%), swap_used_bytes (B, max = swap size).
 * An unreadable or garbled meminfo is a collector failure (-errno, UNKNOWN
 * with the reason): the scheduler logs it once and backs off.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "memory.h"
#include "sysfile.h"
#include "threshold.h"
#include "xmalloc.h"

#define MEMINFO_MAX	(64 * 1024)	/* the real file is ~1.5 KiB */

struct memory {
	struct threshold	 available, swap_used;
	struct threshold_held	 held[2];	/* available, swap_used */
	struct collector_env	 env;
};

static const struct threshold_key memory_thresholds[] = {
	{ "available", offsetof(struct memory, available), "10:", "5:",
	    "2" },
	{ "swap_used", offsetof(struct memory, swap_used), "90", "", "2" },
	{ .name = NULL },
};

/* One "Key:   123 kB" line; fields we do not use are skipped unread. */
static int
parse_line(const char *line, struct memory_info *out, unsigned *seen)
{
	static const struct {
		const char	*key;
		size_t		 off;
		unsigned	 bit;
	} want[] = {
		{ "MemTotal", offsetof(struct memory_info, total), 1 << 0 },
		{ "MemFree", offsetof(struct memory_info, free), 1 << 1 },
		{ "MemAvailable", offsetof(struct memory_info, available),
		    1 << 2 },
		{ "Buffers", offsetof(struct memory_info, buffers), 1 << 3 },
		{ "Cached", offsetof(struct memory_info, cached), 1 << 4 },
		{ "SwapTotal", offsetof(struct memory_info, swap_total),
		    1 << 5 },
		{ "SwapFree", offsetof(struct memory_info, swap_free), 1 << 6 },
	};
	const char *colon = strchr(line, ':'), *p;
	unsigned long long kb;
	char *end;

	if (colon == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (strlen(want[i].key) != (size_t)(colon - line) ||
		    strncmp(line, want[i].key, colon - line) != 0)
			continue;
		if (*seen & want[i].bit)
			return 0;	/* the first one counts */
		p = colon + 1;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		kb = strtoull(p, &end, 10);
		if (errno != 0 || strcmp(end, " kB") != 0 ||
		    kb > UINT64_MAX / 1024)
			return -EINVAL;
		*(uint64_t *)((char *)out + want[i].off) = kb * 1024;
		*seen |= want[i].bit;
		return 0;
	}
	return 0;
}

int
memory_parse_meminfo(const char *buf, size_t len, struct memory_info *out)
{
	const char *p = buf, *end = buf + len, *nl;
	char line[256];
	unsigned seen = 0;
	size_t ll;

	memset(out, 0, sizeof(*out));
	while (p < end && (nl = memchr(p, '\n', end - p)) != NULL) {
		ll = nl - p;
		/* No line we want is long; a long one is someone else's. */
		if (ll < sizeof(line)) {
			memcpy(line, p, ll);
			line[ll] = '\0';
			if (parse_line(line, out, &seen) != 0)
				return -EINVAL;
		}
		p = nl + 1;
	}
	if ((seen & 3) != 3 || out->total == 0 || out->free > out->total ||
	    out->swap_free > out->swap_total)
		return -EINVAL;
	out->has_available = (seen & (1 << 2)) != 0;
	if (!out->has_available)
		out->available = out->free + out->buffers + out->cached;
	if (out->available > out->total)
		out->available = out->total;
	return 0;
}

static void *
memory_new(void)
{
	struct memory *m = xcalloc(1, sizeof(*m));

	threshold_defaults(m, memory_thresholds);
	return m;
}

static int
memory_configure(void *inst, const char *key, const char *value, char *err,
    size_t errlen)
{
	return threshold_configure(inst, memory_thresholds, NULL, key, value,
	    err, errlen);
}

static int
memory_start(void *inst, const struct collector_env *env)
{
	struct memory *m = inst;

	m->env = *env;
	return 0;
}

/* Adds the % metric and its byte companion; returns the state and notes
 * a problem in why as "<name> N%<suffix> (STATE reason)". */
static int
memory_metric(struct result *res, const char *label, const char *name,
    const char *suffix, double pct, uint64_t bytes, uint64_t max,
    const struct threshold *t, struct threshold_held *h, char *why,
    size_t whylen)
{
	char blabel[64];
	int state = threshold_eval_held(t, h, pct);
	struct perf *p;

	if ((p = result_add_perf(res, label, pct, "%")) != NULL) {
		threshold_to_perf(t, p);
		p->min = 0;
		p->max = 100;
		p->has_min = p->has_max = true;
	}
	snprintf(blabel, sizeof(blabel), "%s_bytes", label);
	if ((p = result_add_perf(res, blabel, (double)bytes, "B")) != NULL) {
		p->min = 0;
		p->max = (double)max;
		p->has_min = p->has_max = true;
	}
	if (state != STATE_OK)
		threshold_note(why, whylen, t, state, pct, "%",
		    "%s %.1f%%%s", name, pct, suffix);
	return state;
}

static int
memory_collect(void *inst, struct collect_req *req)
{
	struct memory *m = inst;
	struct result *res = collect_req_result(req);
	struct memory_info mi;
	char *buf = NULL, why[512] = "", avail[32], total[32], swap[128];
	double avail_pct, swap_pct;
	uint64_t swap_used;
	size_t len;
	bool trunc;
	int r;

	if (m->env.proc == NULL) {
		result_set(res, STATE_UNKNOWN, "memory collector was not "
		    "started");
		return -EINVAL;
	}
	if ((r = sysfile_read(m->env.proc, "meminfo", MEMINFO_MAX, &buf, &len,
	    &trunc)) != 0) {
		result_set(res, STATE_UNKNOWN, "cannot read %s/meminfo: %s",
		    m->env.proc, strerror(-r));
		goto out;
	}
	if (trunc || memory_parse_meminfo(buf, len, &mi) != 0) {
		r = -EINVAL;
		result_set(res, STATE_UNKNOWN, "%s/meminfo: %s", m->env.proc,
		    trunc ? "longer than 64 KiB" : "no usable MemTotal and "
		    "MemFree");
		goto out;
	}

	res->state = STATE_OK;
	avail_pct = 100.0 * mi.available / mi.total;
	result_escalate(res, memory_metric(res, "available",
	    "available memory", "", avail_pct,
	    mi.available, mi.total, &m->available, &m->held[0], why,
	    sizeof(why)));
	if (mi.swap_total > 0) {
		swap_used = mi.swap_total - mi.swap_free;
		swap_pct = 100.0 * swap_used / mi.swap_total;
		result_escalate(res, memory_metric(res, "swap_used",
		    "swap", " used", swap_pct,
		    swap_used, mi.swap_total, &m->swap_used, &m->held[1],
		    why, sizeof(why)));
		fmt_bytes((double)mi.swap_total, total, sizeof(total));
		snprintf(swap, sizeof(swap), "swap %.1f%% used of %s",
		    swap_pct, total);
	} else
		snprintf(swap, sizeof(swap), "no swap");

	fmt_bytes((double)mi.available, avail, sizeof(avail));
	fmt_bytes((double)mi.total, total, sizeof(total));
	result_set(res, res->state, "%s%s%s of %s available (%.1f%%), %s", why,
	    why[0] != '\0' ? "; " : "", avail, total, avail_pct, swap);
	if (!mi.has_available)
		result_append_long(res, "this kernel has no MemAvailable "
		    "(before 3.14): estimated as MemFree + Buffers + Cached");
	r = 0;
 out:
	free(buf);
	return r;
}

static void
memory_free(void *inst)
{
	free(inst);
}

const struct collector collector_memory = {
	.name = "memory",
	.description = "RAM available without swapping, and swap use",
	.interval = 60,
	.new = memory_new,
	.configure = memory_configure,
	.thresholds = memory_thresholds,
	.start = memory_start,
	.collect = memory_collect,
	.free = memory_free,
};
