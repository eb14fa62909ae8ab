/*
 * The processes collector: walks /proc/PID/stat once per run and counts
 * processes by state (running, sleeping, D, zombie, stopped) and threads
 * against the kernel's task limit.
 *
 * [collector.processes] keys (Nagios ranges):
 *   processes_warning, processes_critical   number of processes   unset
 *   running_warning, running_critical       processes in state R  unset
 *   uninterruptible_warning, _critical      processes in state D  unset
 *   zombies_warning                         processes in state Z  50
 *   zombies_critical                                              unset
 *   tasks_used_warning                      threads (each uses a PID) as %
 *                                           of the task limit     80
 *   tasks_used_critical                                           90
 *   max_processes   stop the walk after this many processes (bounds the
 *                   time one run takes; counts are then lower bounds)
 *                                                                 32768
 * The task limit is the smaller of kernel/pid_max and kernel/threads-max:
 * every thread takes a PID, and fork() fails with EAGAIN at either limit.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector.h"
#include "log.h"
#include "processes.h"
#include "threshold.h"
#include "xmalloc.h"

#define PROCESSES_STAT_MAX	2048	/* a stat line is ~1.2 KiB at most */
#define PROCESSES_LIMIT_MAX	64
#define PROCESSES_LISTED	10	/* zombies / D processes in long text */
#define PROCESSES_WALK_DEFAULT	32768
#define PROCESSES_WALK_LIMIT	4194304	/* PID_MAX_LIMIT on 64-bit */

enum processes_metric {
	M_PROCESSES,
	M_RUNNING,
	M_UNINTERRUPTIBLE,
	M_ZOMBIES,
	M_TASKS_USED,
	M_COUNT,
};

static const struct {
	const char	*what;		/* how the summary names it */
	const char	*unit;		/* after the number in the summary */
} processes_metrics[M_COUNT] = {
	[M_PROCESSES] = { "processes", "" },
	[M_RUNNING] = { "running processes", "" },
	[M_UNINTERRUPTIBLE] = { "processes in D state", "" },
	[M_ZOMBIES] = { "zombie processes", "" },
	[M_TASKS_USED] = { "of the task limit used", "%" },
};

struct processes_listed {
	long	pid, ppid;
	char	comm[4 * PROCESSES_COMM_MAX + 1];	/* escaped */
};

struct processes_counts {
	unsigned long	total, running, sleeping, uninterruptible, zombies;
	unsigned long	stopped, threads, vanished, unreadable;
	bool		truncated;
	struct processes_listed zombie[PROCESSES_LISTED];
	struct processes_listed dstate[PROCESSES_LISTED];
};

struct processes {
	struct threshold	 limit[M_COUNT];
	unsigned long		 max_processes;
	char			*proc;
	bool			 logged_walk, logged_limit;
};

#define PROCESSES_AT(m)	offsetof(struct processes, limit[m])

static const struct threshold_key processes_thresholds[] = {
	{ "processes", PROCESSES_AT(M_PROCESSES), "", "", NULL },
	{ "running", PROCESSES_AT(M_RUNNING), "", "", NULL },
	{ "uninterruptible", PROCESSES_AT(M_UNINTERRUPTIBLE), "", "", NULL },
	{ "zombies", PROCESSES_AT(M_ZOMBIES), "50", "", NULL },
	{ "tasks_used", PROCESSES_AT(M_TASKS_USED), "80", "90", NULL },
	{ .name = NULL },
};

static void *
processes_new(void)
{
	struct processes *p = xcalloc(1, sizeof(*p));

	threshold_defaults(p, processes_thresholds);
	p->max_processes = PROCESSES_WALK_DEFAULT;
	return p;
}

static int
processes_configure(void *inst, const char *key, const char *value,
    char *err, size_t errlen)
{
	struct processes *p = inst;

	if (strcmp(key, "max_processes") == 0) {
		char *end;
		unsigned long n;

		errno = 0;
		n = strtoul(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0' ||
		    !isdigit((unsigned char)value[0]) || n == 0 ||
		    n > PROCESSES_WALK_LIMIT) {
			snprintf(err, errlen, "%s: '%s' is not a number from "
			    "1 to %d", key, value, PROCESSES_WALK_LIMIT);
			return -EINVAL;
		}
		p->max_processes = n;
		return 0;
	}
	return threshold_configure(p, processes_thresholds, "max_processes",
	    key, value, err, errlen);
}

/* Parses a decimal token at *pp (after spaces); advances *pp. */
static int
processes_number(const char **pp, const char *end, long *out)
{
	const char *p = *pp;
	bool neg = false;
	long v = 0;

	while (p < end && *p == ' ')
		p++;
	if (p < end && *p == '-') {
		neg = true;
		p++;
	}
	if (p >= end || !isdigit((unsigned char)*p))
		return -EINVAL;
	for (; p < end && isdigit((unsigned char)*p); p++) {
		if (v > (LONG_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (*p - '0');
	}
	if (p < end && *p != ' ' && *p != '\n')
		return -EINVAL;
	*out = neg ? -v : v;
	*pp = p;
	return 0;
}

int
processes_parse_stat(const char *buf, size_t len, struct processes_stat *out)
{
	const char *end = buf + len, *p = buf, *open, *close;
	size_t clen;
	long skip;

	memset(out, 0, sizeof(*out));
	if (processes_number(&p, end, &out->pid) != 0 || out->pid <= 0)
		goto bad;
	if (end - p < 2 || p[0] != ' ' || p[1] != '(')
		goto bad;
	open = p + 1;
	if ((close = memrchr(open, ')', end - open)) == NULL)
		goto bad;
	clen = close - open - 1;
	if (clen > PROCESSES_COMM_MAX)
		goto bad;
	memcpy(out->comm, open + 1, clen);
	out->comm[clen] = '\0';
	p = close + 1;
	if (end - p < 2 || p[0] != ' ' || !isalpha((unsigned char)p[1]))
		goto bad;
	out->state = p[1];
	p += 2;
	if (p < end && *p != ' ')
		goto bad;
	if (processes_number(&p, end, &out->ppid) != 0 || out->ppid < 0)
		goto bad;
	/* Fields 5..19 (pgrp .. nice) are not needed; 20 is num_threads.
	 * A line that stops early (an old or trimmed kernel) keeps 0. */
	for (int field = 5; field < 20; field++)
		if (processes_number(&p, end, &skip) != 0)
			return 0;
	if (processes_number(&p, end, &out->threads) != 0 || out->threads < 0)
		out->threads = 0;
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

int
processes_parse_limit(const char *buf, size_t len, unsigned long *out)
{
	const char *p = buf, *end = buf + len;
	long v;

	*out = 0;
	if (processes_number(&p, end, &v) != 0 || v <= 0)
		return -EINVAL;
	if (p < end && *p == '\n')
		p++;
	if (p != end)
		return -EINVAL;
	*out = (unsigned long)v;
	return 0;
}

/* Reads path (relative to dirfd) into buf once: enough for procfs files,
 * which hand out a whole line per read. */
static int
processes_read(int dirfd, const char *path, char *buf, size_t size,
    size_t *lenp)
{
	ssize_t n;
	int fd, r = 0;

	*lenp = 0;
	if ((fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC)) == -1)
		return -errno;
	do {
		n = read(fd, buf, size - 1);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		r = -errno;
	else
		*lenp = (size_t)n;
	close(fd);
	buf[*lenp] = '\0';
	return r;
}

static void
processes_list(struct processes_listed *list, unsigned long count,
    const struct processes_stat *st)
{
	struct processes_listed *l;

	if (count >= PROCESSES_LISTED)
		return;
	l = &list[count];
	l->pid = st->pid;
	l->ppid = st->ppid;
	log_escape(l->comm, sizeof(l->comm), st->comm);
}

static void
processes_count_one(struct processes_counts *c, const struct processes_stat *st)
{
	c->total++;
	c->threads += st->threads > 0 ? (unsigned long)st->threads : 1;
	switch (st->state) {
	case 'R':
		c->running++;
		break;
	case 'D':
		processes_list(c->dstate, c->uninterruptible, st);
		c->uninterruptible++;
		break;
	case 'Z':
		processes_list(c->zombie, c->zombies, st);
		c->zombies++;
		break;
	case 'T':
	case 't':
		c->stopped++;
		break;
	default:
		/* S, I (idle kernel thread), and the rare P, W, K, X. */
		c->sleeping++;
		break;
	}
}

/* Walks procdir; returns 0 or -errno when procdir itself cannot be read.
 * Processes vanishing mid-walk are normal and only counted. */
static int
processes_walk(const char *procdir, unsigned long max,
    struct processes_counts *c)
{
	char path[NAME_MAX + 8], buf[PROCESSES_STAT_MAX];
	struct processes_stat st;
	struct dirent *de;
	size_t len;
	DIR *d;
	int r;

	if ((d = opendir(procdir)) == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;

		if (!isdigit((unsigned char)n[0]) ||
		    strspn(n, "0123456789") != strlen(n) || strlen(n) > 10)
			continue;
		if (c->total >= max) {
			c->truncated = true;
			break;
		}
		snprintf(path, sizeof(path), "%s/stat", n);
		r = processes_read(dirfd(d), path, buf, sizeof(buf), &len);
		if (r == -ENOENT || r == -ESRCH)
			c->vanished++;
		else if (r != 0 || processes_parse_stat(buf, len, &st) != 0)
			c->unreadable++;
		else
			processes_count_one(c, &st);
	}
	closedir(d);
	return 0;
}

/* The task limit: min(pid_max, threads-max); 0 when neither is readable. */
static unsigned long
processes_task_limit(const char *proc, char *why, size_t whylen)
{
	static const char *const files[] = {
		"sys/kernel/pid_max", "sys/kernel/threads-max",
	};
	char path[PATH_MAX], buf[PROCESSES_LIMIT_MAX];
	unsigned long limit = 0, v;
	size_t len;
	int r;

	why[0] = '\0';
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", proc, files[i]);
		r = processes_read(AT_FDCWD, path, buf, sizeof(buf), &len);
		if (r == 0 && processes_parse_limit(buf, len, &v) != 0)
			r = -EINVAL;
		if (r != 0) {
			snprintf(why, whylen, "%s: %s", path, r == -EINVAL ?
			    "not a number" : strerror(-r));
			continue;
		}
		if (limit == 0 || v < limit)
			limit = v;
	}
	return limit;
}

static void
processes_add_perf(struct result *res, const char *label, double value,
    const char *uom, const struct threshold *t)
{
	struct perf *pf;

	if ((pf = result_add_perf(res, label, value, uom)) == NULL)
		return;
	pf->min = 0;
	pf->has_min = true;
	if (strcmp(uom, "%") == 0) {
		pf->max = 100;
		pf->has_max = true;
	}
	if (t != NULL)
		threshold_to_perf(t, pf);
}

static void
processes_long_list(struct result *res, const char *what,
    const struct processes_listed *list, unsigned long count)
{
	for (unsigned long i = 0; i < count && i < PROCESSES_LISTED; i++)
		result_append_long(res, "%s: pid %ld (%s), parent %ld", what,
		    list[i].pid, list[i].comm, list[i].ppid);
	if (count > PROCESSES_LISTED)
		result_append_long(res, "%s: and %lu more", what,
		    count - PROCESSES_LISTED);
}

static int
processes_collect(void *inst, struct collect_req *req)
{
	struct processes *p = inst;
	struct result *res = collect_req_result(req);
	struct processes_counts *c;
	char alerts[RESULT_SUMMARY_MAX / 2] = "", desc[80], why[PATH_MAX + 64];
	double value[M_COUNT];
	unsigned long limit;
	size_t off = 0;
	int r;

	if (p->proc == NULL) {
		result_set(res, STATE_UNKNOWN,
		    "processes collector not started");
		return -EINVAL;
	}
	c = xcalloc(1, sizeof(*c));
	if ((r = processes_walk(p->proc, p->max_processes, c)) != 0) {
		if (!p->logged_walk)
			log_warnx("processes: cannot read %s: %s", p->proc,
			    strerror(-r));
		p->logged_walk = true;
		result_set(res, STATE_UNKNOWN, "cannot read %s: %s", p->proc,
		    strerror(-r));
		goto out;
	}
	limit = processes_task_limit(p->proc, why, sizeof(why));

	value[M_PROCESSES] = c->total;
	value[M_RUNNING] = c->running;
	value[M_UNINTERRUPTIBLE] = c->uninterruptible;
	value[M_ZOMBIES] = c->zombies;
	value[M_TASKS_USED] = limit > 0 ?
	    (double)c->threads * 100.0 / (double)limit : 0;

	res->state = STATE_OK;
	for (int m = 0; m < M_COUNT; m++) {
		enum check_state s;
		int n;

		if (m == M_TASKS_USED && limit == 0)
			continue;
		s = threshold_eval(&p->limit[m], value[m]);
		if (s == STATE_OK)
			continue;
		result_escalate(res, s);
		threshold_describe(&p->limit[m], s, processes_metrics[m].unit,
		    desc, sizeof(desc));
		n = snprintf(alerts + off, sizeof(alerts) - off,
		    "%s%.*f%s %s (%s); ", c->truncated ? "at least " : "",
		    m == M_TASKS_USED ? 1 : 0, value[m],
		    processes_metrics[m].unit, processes_metrics[m].what,
		    desc);
		if (n > 0 && (size_t)n < sizeof(alerts) - off)
			off += (size_t)n;
	}
	if (limit > 0)
		snprintf(desc, sizeof(desc), " (%.1f%% of limit %lu)",
		    value[M_TASKS_USED], limit);
	else
		desc[0] = '\0';
	result_set(res, res->state, "%s%s%lu processes, %lu threads%s; "
	    "%lu running, %lu zombies, %lu in D state", alerts,
	    c->truncated ? "at least " : "", c->total, c->threads, desc,
	    c->running, c->zombies, c->uninterruptible);

	processes_long_list(res, "zombie", c->zombie, c->zombies);
	processes_long_list(res, "uninterruptible", c->dstate,
	    c->uninterruptible);
	if (c->truncated)
		result_append_long(res, "walk stopped after %lu processes "
		    "(max_processes)", p->max_processes);
	if (c->unreadable > 0)
		result_append_long(res, "%lu processes unreadable",
		    c->unreadable);
	if (limit == 0) {
		result_append_long(res, "task limit unknown: %s", why);
		if (!p->logged_limit)
			log_warnx("processes: task limit unknown: %s", why);
		p->logged_limit = true;
	}

	processes_add_perf(res, "processes", c->total, "",
	    &p->limit[M_PROCESSES]);
	processes_add_perf(res, "running", c->running, "",
	    &p->limit[M_RUNNING]);
	processes_add_perf(res, "sleeping", c->sleeping, "", NULL);
	processes_add_perf(res, "uninterruptible", c->uninterruptible, "",
	    &p->limit[M_UNINTERRUPTIBLE]);
	processes_add_perf(res, "zombies", c->zombies, "",
	    &p->limit[M_ZOMBIES]);
	processes_add_perf(res, "stopped", c->stopped, "", NULL);
	processes_add_perf(res, "threads", c->threads, "", NULL);
	if (limit > 0)
		processes_add_perf(res, "tasks_used", value[M_TASKS_USED], "%",
		    &p->limit[M_TASKS_USED]);
out:
	free(c);
	return r;
}

static int
processes_start(void *inst, const struct collector_env *env)
{
	struct processes *p = inst;

	free(p->proc);
	p->proc = xstrdup(env->proc);
	return 0;
}

static void
processes_free(void *inst)
{
	struct processes *p = inst;

	if (p == NULL)
		return;
	free(p->proc);
	free(p);
}

const struct collector collector_processes = {
	.name = "processes",
	.description = "process counts by state, zombies, task limit use",
	.interval = 60,
	.new = processes_new,
	.configure = processes_configure,
	.thresholds = processes_thresholds,
	.start = processes_start,
	.collect = processes_collect,
	.free = processes_free,
};
