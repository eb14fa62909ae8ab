/*
 * cpu: how the processors spent their time between two runs, from the
 * aggregate "cpu" line of /proc/stat, and how many CPUs are online.
 *
 * [collector.cpu] keys: Nagios ranges over the % of all CPU time in the
 * interval; an empty value removes a default.
 *   usage_warning, usage_critical	user + system	default: none
 *	Busy CPUs are what a server is for; alert on the symptoms (load,
 *	iowait, steal) rather than on being used.
 *   iowait_warning			default: 50
 *   iowait_critical			default: none
 *	iowait is idle time with I/O outstanding, not CPU work: a healthy
 *	box doing a backup or a batch job sits at 20-40 %. Above half of
 *	all CPU time is worth a look; the diskio and load collectors carry
 *	the severity, so there is no critical by default.
 *   steal_warning			default: 20
 *   steal_critical			default: 40
 *	Time the hypervisor gave to other guests: near 0 on a well-sized
 *	host. A fifth of the CPU lost is a capacity problem to raise with
 *	the provider (or an exhausted burst credit); 40 % is a starved VM.
 *   usage_clear, iowait_clear, steal_clear	points of %	default: 5
 *	Hysteresis: a level stays until the value is that much back
 *	(iowait WARNING from 50 % clears below 45 %); CPU time swings from
 *	one interval to the next.
 *
 * An unreadable /proc/stat is a collector failure (-errno, UNKNOWN with
 * the reason): the scheduler logs it once and backs off.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counter.h"
#include "cpu.h"
#include "sysfile.h"
#include "threshold.h"
#include "xmalloc.h"

/* /proc/stat is short except for the "intr" line (one number per IRQ);
 * the cpu lines come first, so a cut-off tail does not matter. */
#define CPU_STAT_MAX	(256 * 1024)
#define CPU_LINE_MAX	512

struct cpu {
	struct threshold	 usage, iowait, steal;
	struct threshold_held	 held[3];	/* usage, iowait, steal */
	struct collector_env	 env;
	struct cpu_sample	 prev;
	int			 have_prev;
};

static const struct threshold cpu_none;	/* no threshold */

static const struct threshold_key cpu_thresholds[] = {
	{ "usage", offsetof(struct cpu, usage), "", "", "5" },
	{ "iowait", offsetof(struct cpu, iowait), "50", "", "5" },
	{ "steal", offsetof(struct cpu, steal), "20", "40", "5" },
	{ .name = NULL },
};

/* The aggregate line: "cpu  user nice system idle [iowait ...]". */
static int
parse_cpu_line(const char *line, struct cpu_sample *out)
{
	uint64_t v[10];
	const char *p = line + 3;
	unsigned n = 0;

	/* guest and guest_nice (fields 9, 10) are read only to reject
	 * garbage; newer kernels may add more, which we ignore. */
	while (n < 10) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (counter_parse(&p, &v[n]) != 0)
			return -EINVAL;
		n++;
	}
	if (n < 4)
		return -EINVAL;
	for (unsigned i = n; i < 10; i++)
		v[i] = 0;
	out->user = v[0];
	out->nice = v[1];
	out->system = v[2];
	out->idle = v[3];
	out->iowait = v[4];
	out->irq = v[5];
	out->softirq = v[6];
	out->steal = v[7];
	out->nfields = n;
	return 0;
}

int
cpu_parse_stat(const char *buf, size_t len, struct cpu_sample *out)
{
	const char *p = buf, *end = buf + len, *nl;
	char line[CPU_LINE_MAX];
	int have_total = 0, cpu_lines_done = 0;
	size_t ll;

	memset(out, 0, sizeof(*out));
	while (p < end) {
		nl = memchr(p, '\n', end - p);
		ll = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (strncmp(p, "cpu", ll < 3 ? ll : 3) != 0 ||
		    (ll < 3 && nl != NULL)) {
			/* The kernel prints every cpu line before anything
			 * else, so the first other line, even cut short,
			 * ends them. */
			cpu_lines_done = 1;
			break;
		}
		if (nl == NULL)
			break;		/* a cpu line cut short */
		if (ll >= sizeof(line))
			return -EINVAL;
		memcpy(line, p, ll);
		line[ll] = '\0';
		if (line[3] == ' ') {
			if (have_total || parse_cpu_line(line, out) != 0)
				return -EINVAL;
			have_total = 1;
		} else if (line[3] >= '0' && line[3] <= '9')
			out->ncpu++;
		else
			return -EINVAL;
		p = nl + 1;
	}
	/* A file of nothing but cpu lines (a trimmed fixture, a container's
	 * synthetic /proc/stat) is complete when it ends in a newline. */
	if (p == end)
		cpu_lines_done = 1;
	if (!have_total || !cpu_lines_done)
		return -EINVAL;
	return 0;
}

static uint64_t
cpu_delta(uint64_t prev, uint64_t cur)
{
	return cur >= prev ? cur - prev : 0;
}

static uint64_t
cpu_total(const struct cpu_sample *s)
{
	return s->user + s->nice + s->system + s->idle + s->iowait + s->irq +
	    s->softirq + s->steal;
}

int
cpu_usage_between(const struct cpu_sample *prev, const struct cpu_sample *cur,
    struct cpu_usage *out)
{
	uint64_t user, system, iowait, steal, idle;
	double total;

	memset(out, 0, sizeof(*out));
	if (cpu_total(cur) < cpu_total(prev))
		return -EAGAIN;
	user = cpu_delta(prev->user, cur->user) +
	    cpu_delta(prev->nice, cur->nice);
	system = cpu_delta(prev->system, cur->system) +
	    cpu_delta(prev->irq, cur->irq) +
	    cpu_delta(prev->softirq, cur->softirq);
	iowait = cpu_delta(prev->iowait, cur->iowait);
	steal = cpu_delta(prev->steal, cur->steal);
	idle = cpu_delta(prev->idle, cur->idle);
	total = (double)user + system + iowait + steal + idle;
	if (total <= 0)
		return -EAGAIN;
	out->user = 100.0 * user / total;
	out->system = 100.0 * system / total;
	out->iowait = 100.0 * iowait / total;
	out->steal = 100.0 * steal / total;
	out->idle = 100.0 * idle / total;
	out->busy = out->user + out->system;
	return 0;
}

static void *
cpu_new(void)
{
	struct cpu *c = xcalloc(1, sizeof(*c));

	threshold_defaults(c, cpu_thresholds);
	return c;
}

static int
cpu_configure(void *inst, const char *key, const char *value, char *err,
    size_t errlen)
{
	return threshold_configure(inst, cpu_thresholds, NULL, key, value,
	    err, errlen);
}

/* One sample of /proc/stat; with res, a failure is explained there. */
static int
cpu_read_sample(struct cpu *c, struct cpu_sample *s, struct result *res)
{
	char *buf = NULL;
	size_t len;
	bool trunc;
	int r;

	if ((r = sysfile_read(c->env.proc, "stat", CPU_STAT_MAX, &buf, &len,
	    &trunc)) != 0) {
		if (res != NULL)
			result_set(res, STATE_UNKNOWN, "cannot read %s/stat: "
			    "%s", c->env.proc, strerror(-r));
		return r;
	}
	if ((r = cpu_parse_stat(buf, len, s)) != 0 && res != NULL)
		result_set(res, STATE_UNKNOWN, "%s/stat: no usable cpu lines%s",
		    c->env.proc, trunc ? " (file longer than the limit)" : "");
	free(buf);
	return r;
}

static int
cpu_start(void *inst, const struct collector_env *env)
{
	struct cpu *c = inst;
	int r;

	c->env = *env;
	if ((r = cpu_read_sample(c, &c->prev, NULL)) != 0)
		return r;
	c->have_prev = 1;
	return 0;
}

/* Adds one % metric with its thresholds and returns its state (held by
 * hysteresis in h, NULL for none). */
static int
cpu_metric(struct result *res, const char *label, double value,
    const struct threshold *t, struct threshold_held *h, char *why,
    size_t whylen)
{
	struct perf *p;
	int state = threshold_eval_held(t, h, value);

	if ((p = result_add_perf(res, label, value, "%")) != NULL) {
		threshold_to_perf(t, p);
		p->min = 0;
		p->max = 100;
		p->has_min = p->has_max = true;
	}
	if (state != STATE_OK)
		threshold_note(why, whylen, t, state, value, "%", "%s %.1f%%",
		    label, value);
	return state;
}

static int
cpu_collect(void *inst, struct collect_req *req)
{
	struct cpu *c = inst;
	struct result *res = collect_req_result(req);
	struct cpu_sample cur;
	struct cpu_usage u;
	char why[512] = "";
	int r;

	if (c->env.proc == NULL) {
		result_set(res, STATE_UNKNOWN, "cpu collector was not started");
		return -EINVAL;
	}
	if ((r = cpu_read_sample(c, &cur, res)) != 0)
		return r;
	if (!c->have_prev || cpu_usage_between(&c->prev, &cur, &u) != 0) {
		/* No baseline (start failed) or counters reset: the next
		 * run has rates. Not logged: it heals by itself. */
		result_set(res, STATE_UNKNOWN, "no CPU time counted since "
		    "the last sample (first sample or counters reset); "
		    "rates from the next run");
		c->prev = cur;
		c->have_prev = 1;
		return 0;
	}
	c->prev = cur;

	res->state = STATE_OK;
	result_escalate(res, cpu_metric(res, "usage", u.busy, &c->usage,
	    &c->held[0], why, sizeof(why)));
	cpu_metric(res, "user", u.user, &cpu_none, NULL, why, sizeof(why));
	cpu_metric(res, "system", u.system, &cpu_none, NULL, why,
	    sizeof(why));
	result_escalate(res, cpu_metric(res, "iowait", u.iowait, &c->iowait,
	    &c->held[1], why, sizeof(why)));
	result_escalate(res, cpu_metric(res, "steal", u.steal, &c->steal,
	    &c->held[2], why, sizeof(why)));
	cpu_metric(res, "idle", u.idle, &cpu_none, NULL, why, sizeof(why));
	result_add_perf(res, "cpus", cur.ncpu, "");

	result_set(res, res->state, "%s%s%u CPU%s, %.1f%% used (user %.1f%%, "
	    "system %.1f%%, iowait %.1f%%, steal %.1f%%)", why,
	    why[0] != '\0' ? "; " : "", cur.ncpu, cur.ncpu == 1 ? "" : "s",
	    u.busy, u.user, u.system, u.iowait, u.steal);
	if (cur.nfields < 8)
		result_append_long(res, "this kernel prints %u fields on the "
		    "cpu line: %s not reported", cur.nfields,
		    cur.nfields < 5 ? "iowait, irq, softirq and steal" :
		    cur.nfields < 7 ? "irq, softirq and steal" : "steal");
	return 0;
}

static void
cpu_free(void *inst)
{
	free(inst);
}

const struct collector collector_cpu = {
	.name = "cpu",
	.description = "CPU time: usage, iowait and steal over the interval",
	.interval = 60,
	.new = cpu_new,
	.configure = cpu_configure,
	.thresholds = cpu_thresholds,
	.start = cpu_start,
	.collect = cpu_collect,
	.free = cpu_free,
};
