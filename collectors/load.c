/*
 * load: the kernel's 1, 5 and 15 minute load averages from /proc/loadavg,
 * judged per online CPU (from /sys/devices/system/cpu/online, or the
 * cpuN lines of /proc/stat where there is no /sys).
 *
 * [collector.load] keys: Nagios ranges over the load average divided by
 * the number of online CPUs; an empty value removes a default.
 *   load1_warning, load1_critical		default: none
 *   load5_warning, load5_critical		default: none
 *   load15_warning				default: 2
 *   load15_critical				default: 4
 *	Short spikes (cron, a build, a deploy) are normal and pass within
 *	minutes, so only the 15 minute average alerts by default. Linux
 *	counts tasks waiting for disk or NFS in the load, so twice as many
 *	runnable-or-blocked tasks as CPUs for a quarter hour means work is
 *	queueing; four times is an overloaded or stuck host.
 *   load1_clear, load5_clear, load15_clear	per CPU	default: 0.25
 *	Hysteresis: a level stays until the load per CPU is that much
 *	below it (WARNING from 2 clears below 1.75).
 *
 * Perfdata: load1, load5, load15 as the kernel prints them, with the
 * thresholds multiplied by the CPU count; cpus.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "load.h"
#include "sysfile.h"
#include "threshold.h"
#include "xmalloc.h"

#define LOAD_FILE_MAX	4096		/* loadavg, cpu/online */
#define LOAD_STAT_MAX	(256 * 1024)	/* /proc/stat, see cpu.c */
#define LOAD_CPU_LIMIT	(1u << 20)	/* no CPU number is this high */

struct load {
	struct threshold	 avg[3];	/* per CPU: load1, 5, 15 */
	struct threshold_held	 held[3];
	struct collector_env	 env;
};

static const struct threshold_key load_thresholds[] = {
	{ "load1", offsetof(struct load, avg[0]), "", "", "0.25" },
	{ "load5", offsetof(struct load, avg[1]), "", "", "0.25" },
	{ "load15", offsetof(struct load, avg[2]), "2", "4", "0.25" },
	{ .name = NULL },
};

/* Accepts a plain decimal such as "12.05"; *p moves past it. */
static int
next_decimal(const char **p, const char *end, double *out)
{
	const char *s = *p, *start;
	char num[32];
	size_t n;

	while (s < end && *s == ' ')
		s++;
	start = s;
	while (s < end && ((*s >= '0' && *s <= '9') || *s == '.'))
		s++;
	n = s - start;
	if (n == 0 || n >= sizeof(num) || *start == '.' ||
	    memchr(start, '.', n) != memrchr(start, '.', n))
		return -EINVAL;
	if (s < end && *s != ' ' && *s != '\n')
		return -EINVAL;
	memcpy(num, start, n);
	num[n] = '\0';
	*out = strtod(num, NULL);
	*p = s;
	return 0;
}

/* Reads an unsigned decimal below limit; *p moves past it. */
static int
next_unsigned(const char **p, const char *end, unsigned limit, unsigned *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (s >= end || *s < '0' || *s > '9')
		return -EINVAL;
	while (s < end && *s >= '0' && *s <= '9') {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v >= limit)
			return -EINVAL;
		s++;
	}
	*out = (unsigned)v;
	*p = s;
	return 0;
}

int
load_parse_loadavg(const char *buf, size_t len, struct load_avg *out)
{
	const char *p = buf, *end = buf + len;

	memset(out, 0, sizeof(*out));
	if (next_decimal(&p, end, &out->load1) != 0 ||
	    next_decimal(&p, end, &out->load5) != 0 ||
	    next_decimal(&p, end, &out->load15) != 0)
		return -EINVAL;
	/* "running/total" is informative only: keep it when well formed. */
	while (p < end && *p == ' ')
		p++;
	if (next_unsigned(&p, end, UINT_MAX, &out->running) != 0 ||
	    p >= end || *p++ != '/' ||
	    next_unsigned(&p, end, UINT_MAX, &out->total) != 0)
		out->running = out->total = 0;
	return 0;
}

int
load_parse_cpulist(const char *buf, size_t len, unsigned *count)
{
	const char *p = buf, *end = buf + len;
	unsigned lo, hi, n = 0;
	long next = 0;		/* the lowest CPU number still allowed */

	*count = 0;
	while (end > p && (end[-1] == '\n' || end[-1] == ' '))
		end--;
	if (p == end)
		return -EINVAL;
	for (;;) {
		if (next_unsigned(&p, end, LOAD_CPU_LIMIT, &lo) != 0)
			return -EINVAL;
		hi = lo;
		if (p < end && *p == '-') {
			p++;
			if (next_unsigned(&p, end, LOAD_CPU_LIMIT, &hi) != 0)
				return -EINVAL;
		}
		if (lo < next || hi < lo)
			return -EINVAL;
		n += hi - lo + 1;
		next = (long)hi + 1;
		if (p == end)
			break;
		if (*p++ != ',')
			return -EINVAL;
	}
	*count = n;
	return 0;
}

static void *
load_new(void)
{
	struct load *l = xcalloc(1, sizeof(*l));

	threshold_defaults(l, load_thresholds);
	return l;
}

static int
load_configure(void *inst, const char *key, const char *value, char *err,
    size_t errlen)
{
	return threshold_configure(inst, load_thresholds, NULL, key, value,
	    err, errlen);
}

static int
load_start(void *inst, const struct collector_env *env)
{
	struct load *l = inst;

	l->env = *env;
	return 0;
}

/* Online CPUs from sysfs, else from /proc/stat; 0 with why filled in when
 * neither says. */
static unsigned
load_count_cpus(const struct load *l, char *why, size_t whylen)
{
	struct cpu_sample s;
	char *buf = NULL;
	unsigned n = 0;
	size_t len;
	bool trunc;
	int r;

	if (sysfile_read(l->env.sys, "devices/system/cpu/online", LOAD_FILE_MAX,
	    &buf, &len, &trunc) == 0 && !trunc &&
	    load_parse_cpulist(buf, len, &n) == 0 && n > 0)
		goto out;
	free(buf);
	buf = NULL;
	n = 0;
	if ((r = sysfile_read(l->env.proc, "stat", LOAD_STAT_MAX, &buf, &len,
	    &trunc)) != 0) {
		snprintf(why, whylen, "cannot count online CPUs: no usable "
		    "%s/devices/system/cpu/online, and %s/stat: %s",
		    l->env.sys, l->env.proc, strerror(-r));
		goto out;
	}
	if (cpu_parse_stat(buf, len, &s) != 0 || s.ncpu == 0) {
		snprintf(why, whylen, "cannot count online CPUs: no usable "
		    "%s/devices/system/cpu/online nor cpu lines in %s/stat",
		    l->env.sys, l->env.proc);
		goto out;
	}
	n = s.ncpu;
 out:
	free(buf);
	return n;
}

static int
load_collect(void *inst, struct collect_req *req)
{
	struct load *l = inst;
	struct result *res = collect_req_result(req);
	struct load_avg la;
	struct threshold scaled;
	struct perf *p;
	char *buf = NULL, why[512] = "";
	double value[3];
	unsigned ncpu;
	size_t len;
	bool trunc;
	int r, state;

	if (l->env.proc == NULL) {
		result_set(res, STATE_UNKNOWN, "load collector was not "
		    "started");
		return -EINVAL;
	}
	if ((r = sysfile_read(l->env.proc, "loadavg", LOAD_FILE_MAX, &buf, &len,
	    &trunc)) != 0) {
		result_set(res, STATE_UNKNOWN, "cannot read %s/loadavg: %s",
		    l->env.proc, strerror(-r));
		goto out;
	}
	if (trunc || load_parse_loadavg(buf, len, &la) != 0) {
		r = -EINVAL;
		result_set(res, STATE_UNKNOWN, "%s/loadavg: no load averages "
		    "in it", l->env.proc);
		goto out;
	}
	if ((ncpu = load_count_cpus(l, res->summary,
	    sizeof(res->summary))) == 0) {
		r = -ENOENT;
		res->state = STATE_UNKNOWN;
		goto out;
	}

	res->state = STATE_OK;
	value[0] = la.load1;
	value[1] = la.load5;
	value[2] = la.load15;
	for (size_t i = 0; i < 3; i++) {
		double per_cpu = value[i] / ncpu;

		state = threshold_eval_held(&l->avg[i], &l->held[i], per_cpu);
		result_escalate(res, state);
		/* Graphs want the kernel's numbers, so scale the
		 * thresholds instead of the value. */
		scaled = l->avg[i];
		scaled.warn.start *= ncpu;
		scaled.warn.end *= ncpu;
		scaled.crit.start *= ncpu;
		scaled.crit.end *= ncpu;
		if ((p = result_add_perf(res, load_thresholds[i].name,
		    value[i], "")) != NULL) {
			threshold_to_perf(&scaled, p);
			p->min = 0;
			p->has_min = true;
		}
		if (state != STATE_OK)
			threshold_note(why, sizeof(why), &l->avg[i], state,
			    per_cpu, " per CPU", "%s %.2f per CPU",
			    load_thresholds[i].name, per_cpu);
	}
	result_add_perf(res, "cpus", ncpu, "");
	result_set(res, res->state, "%s%sload %.2f %.2f %.2f on %u CPU%s",
	    why, why[0] != '\0' ? "; " : "", la.load1, la.load5, la.load15,
	    ncpu, ncpu == 1 ? "" : "s");
	if (la.total > 0)
		result_append_long(res, "%u of %u tasks runnable", la.running,
		    la.total);
	r = 0;
 out:
	free(buf);
	return r;
}

static void
load_free(void *inst)
{
	free(inst);
}

const struct collector collector_load = {
	.name = "load",
	.description = "Load averages per online CPU",
	.interval = 60,
	.new = load_new,
	.configure = load_configure,
	.thresholds = load_thresholds,
	.start = load_start,
	.collect = load_collect,
	.free = load_free,
};
