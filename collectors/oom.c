/*
 * oom: processes killed for want of memory, from the kernel's messages
 * in the journal (the OOM killer, global or in a memory cgroup) and from
 * systemd-oomd (known by its executable), read on from a position saved in state_dir/oom.cursor
 * with the journal collector's position code.
 *
 * [collector.oom] keys:
 *   kills_warning   range on the kills in the last `hold`    default: 0
 *                   (any kill warns)
 *   kills_critical                                           default: unset
 *   hold            how long a kill keeps counting (N, Ns, Nm, Nh, Nd;
 *                   0: only the kills since the last run)    default: 1h
 *	A kill is an event, not a level: counted only in the run that
 *	read it, a kill between two runs would be one WARNING result and
 *	gone, or lost to a soft state's retries. Held for an hour, it stays
 *	WARNING long enough to be seen and then clears by itself.
 *   max_entries     kernel entries read per run at most; past it the run
 *                   skips to the end and says so          default: 10000
 *   directory       read the journal files in this directory instead of
 *                   the local system journal (for tests)   default: unset
 * Each kill is logged by the kernel twice ("oom-kill:...,pid=N" then
 * "Out of memory: Killed process N (name)"): they count once. The first
 * run of a process looks back `hold` by time (so a restart neither loses
 * a recent kill nor, once `hold` has passed, repeats an old one); with
 * hold = 0 it resumes from the saved cursor, or the first run ever starts
 * at the end of the journal. The kills kept are bounded (OOM_KEPT).
 *
 * Perfdata: kills (in the hold window, with the thresholds).
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-journal.h>

#include "collector.h"
#include "journal.h"
#include "log.h"
#include "oom.h"
#include "threshold.h"
#include "timeutil.h"
#include "xmalloc.h"

#define OOM_STATE_NAME		"oom.cursor"
#define OOM_ENTRIES_DEFAULT	10000
#define OOM_ENTRIES_LIMIT	1000000
#define OOM_HOLD_DEFAULT	3600
#define OOM_HOLD_LIMIT		(30 * 86400)
#define OOM_LOOK_MAX		1024	/* bytes of a message looked at */
#define OOM_COMM_MAX		15	/* TASK_COMM_LEN - 1 */
#define OOM_TEXT_MAX		(PATH_MAX + 128)
#define OOM_SUMMARY_NAMES	5	/* kills named in the summary */
#define OOM_OOMD_EXE		"/usr/lib/systemd/systemd-oomd"
#define OOM_OOMD_EXE_OLD	"/lib/systemd/systemd-oomd"	/* unmerged /usr */

struct oom {
	struct threshold	 kills;
	unsigned		 hold;		/* seconds */
	unsigned long		 max_entries;
	char			*directory;
	char			*state_dir;
	struct journal_position	 pos;
	bool			 have_pos;	/* pos says where to go on */
	bool			 looked_back;	/* first run of this process done */
	struct oom_kill		 kept[OOM_KEPT];	/* oldest first */
	size_t			 nkept;
	uint64_t		 lost_usec;	/* newest kill pushed out of kept */
	char			 logged[OOM_TEXT_MAX];
};

static const struct threshold_key oom_thresholds[] = {
	{ "kills", offsetof(struct oom, kills), "0", "", NULL },
	{ .name = NULL },
};

static void
oom_log_once(struct oom *o, const char *text)
{
	if (strcmp(o->logged, text) == 0)
		return;
	snprintf(o->logged, sizeof(o->logged), "%s", text);
	log_warnx("oom: %s", text);
}

/* The last occurrence of needle in hay[0..len). */
static const char *
oom_memrmem(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = len >= n ? len - n + 1 : 0; i-- > 0;)
		if (memcmp(hay + i, needle, n) == 0)
			return hay + i;
	return NULL;
}

/* A decimal pid at p (before end), > 0; -1 when none. */
static int
oom_pid(const char *p, const char *end)
{
	long v = 0;
	const char *s = p;

	while (p < end && *p >= '0' && *p <= '9' && p - s < 10) {
		v = v * 10 + (*p - '0');
		p++;
	}
	if (p == s || v <= 0 || v > INT_MAX)
		return -1;
	return (int)v;
}

enum oom_line
oom_parse_kernel(const char *msg, size_t len, struct oom_kill *out)
{
	const char *end, *p, *name, *close = NULL, *task, *memcg;
	char look[OOM_LOOK_MAX + 1];
	int pid;

	memset(out, 0, sizeof(*out));
	if (len > OOM_LOOK_MAX)
		len = OOM_LOOK_MAX;
	memcpy(look, msg, len);
	look[len] = '\0';
	end = look + strlen(look);	/* a NUL ends the text */

	if (strncmp(look, "oom-kill:", 9) == 0) {
		/* ...,task_memcg=/a/b,task=NAME,pid=N,uid=U: the comm may
		 * hold commas, so find pid= last and task= just before. */
		if ((p = oom_memrmem(look, end - look, ",pid=")) == NULL ||
		    (pid = oom_pid(p + 5, end)) < 0)
			return OOM_LINE_NONE;
		task = NULL;
		for (const char *q = p; q >= look && p - q <= OOM_COMM_MAX + 6;
		    q--)
			if (strncmp(q, ",task=", 6) == 0) {
				task = q;
				break;
			}
		if (task == NULL)
			return OOM_LINE_NONE;
		out->pid = pid;
		journal_escape(out->name, sizeof(out->name), task + 6,
		    p - (task + 6));
		if ((memcg = strstr(look, "task_memcg=")) != NULL &&
		    memcg < task)
			journal_escape(out->cgroup, sizeof(out->cgroup),
			    memcg + 11, task - (memcg + 11));
		out->summary = true;
		return OOM_LINE_SUMMARY;
	}

	/* "Out of memory: Killed process N (x) ...", "Memory cgroup out of
	 * memory: Killed process ...", and before 4.19 a bare "Killed
	 * process N (x) ..." after "Out of memory: Kill process". */
	if ((p = strstr(look, "Killed process ")) == NULL)
		return OOM_LINE_NONE;
	if (p != look) {
		char before[OOM_LOOK_MAX + 1];

		memcpy(before, look, p - look);
		before[p - look] = '\0';
		if (strcasestr(before, "out of memory") == NULL)
			return OOM_LINE_NONE;
	}
	p += 15;
	if ((pid = oom_pid(p, end)) < 0)
		return OOM_LINE_NONE;
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	if (end - p < 3 || p[0] != ' ' || p[1] != '(')
		return OOM_LINE_NONE;
	name = p + 2;
	/* The comm may hold ')': the last one within its 15 bytes. */
	for (const char *q = name; q < end && q - name <= OOM_COMM_MAX; q++)
		if (*q == ')')
			close = q;
	if (close == NULL)
		return OOM_LINE_NONE;
	out->pid = pid;
	journal_escape(out->name, sizeof(out->name), name, close - name);
	return OOM_LINE_KILLED;
}

bool
oom_parse_oomd(const char *msg, size_t len, struct oom_kill *out)
{
	char look[OOM_LOOK_MAX + 1];
	const char *due;

	memset(out, 0, sizeof(*out));
	if (len > OOM_LOOK_MAX)
		len = OOM_LOOK_MAX;
	memcpy(look, msg, len);
	look[len] = '\0';
	/* "Killed /system.slice/x.service due to memory pressure for ..."
	 * (and "due to memory used ..." for swap kills). */
	if (strncmp(look, "Killed /", 8) != 0 ||
	    (due = strstr(look + 7, " due to ")) == NULL)
		return false;
	journal_escape(out->cgroup, sizeof(out->cgroup), look + 7,
	    due - (look + 7));
	out->oomd = true;
	return true;
}

static void *
oom_new(void)
{
	struct oom *o = xcalloc(1, sizeof(*o));

	threshold_defaults(o, oom_thresholds);
	o->hold = OOM_HOLD_DEFAULT;
	o->max_entries = OOM_ENTRIES_DEFAULT;
	return o;
}

static int
oom_configure(void *inst, const char *key, const char *value, char *err,
    size_t errlen)
{
	struct oom *o = inst;
	unsigned long n;
	unsigned d;
	char *end;

	if (strcmp(key, "directory") == 0) {
		free(o->directory);
		o->directory = value[0] != '\0' ? xstrdup(value) : NULL;
		return 0;
	}
	if (strcmp(key, "hold") == 0) {
		if (time_parse_duration(value, &d) != 0 || d > OOM_HOLD_LIMIT) {
			snprintf(err, errlen, "%s: '%s' is not a duration from "
			    "0 to 30d", key, value);
			return -EINVAL;
		}
		o->hold = d;
		return 0;
	}
	if (strcmp(key, "max_entries") == 0) {
		errno = 0;
		n = strtoul(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0' ||
		    value[0] < '0' || value[0] > '9' || n == 0 ||
		    n > OOM_ENTRIES_LIMIT) {
			snprintf(err, errlen, "%s: '%s' is not a number from "
			    "1 to %d", key, value, OOM_ENTRIES_LIMIT);
			return -EINVAL;
		}
		o->max_entries = n;
		return 0;
	}
	return threshold_configure(o, oom_thresholds, "hold, max_entries, "
	    "directory", key, value, err, errlen);
}

static int
oom_start(void *inst, const struct collector_env *env)
{
	struct oom *o = inst;
	char text[OOM_TEXT_MAX];
	int r;

	free(o->state_dir);
	o->state_dir = NULL;
	o->have_pos = o->looked_back = false;
	o->nkept = 0;
	o->lost_usec = 0;
	if (env->state_dir == NULL || env->state_dir[0] == '\0')
		return 0;
	o->state_dir = xstrdup(env->state_dir);
	r = journal_position_load(o->state_dir, OOM_STATE_NAME, &o->pos, text,
	    sizeof(text));
	if (r == 0)
		o->have_pos = true;
	else if (r != -ENOENT)
		oom_log_once(o, text);
	return 0;
}

/* Keeps k, the newest kill; the oldest goes when full. */
static void
oom_keep(struct oom *o, const struct oom_kill *k)
{
	if (o->nkept == OOM_KEPT) {
		o->lost_usec = o->kept[0].usec;
		memmove(&o->kept[0], &o->kept[1],
		    (OOM_KEPT - 1) * sizeof(o->kept[0]));
		o->nkept--;
	}
	o->kept[o->nkept++] = *k;
}

/* Reads the current entry; keeps it when it is a kill. Returns 1 for a
 * new kill, 0 otherwise. */
static int
oom_entry(struct oom *o, sd_journal *sj)
{
	const char *msg, *transport;
	struct oom_kill k, *last;
	size_t mlen, tlen;
	enum oom_line line;

	if (journal_field(sj, "MESSAGE", &msg, &mlen) < 0)
		return 0;
	if (journal_field(sj, "_TRANSPORT", &transport, &tlen) == 0 &&
	    tlen == 6 && memcmp(transport, "kernel", 6) == 0)
		line = oom_parse_kernel(msg, mlen, &k);
	else
		line = oom_parse_oomd(msg, mlen, &k) ? OOM_LINE_KILLED :
		    OOM_LINE_NONE;
	if (line == OOM_LINE_NONE)
		return 0;
	if (sd_journal_get_realtime_usec(sj, &k.usec) < 0)
		k.usec = time_now(CLOCK_REALTIME);
	/* The kernel's summary line comes just before its "Killed process"
	 * line for the same kill: one kill, named by the latter. */
	last = o->nkept > 0 ? &o->kept[o->nkept - 1] : NULL;
	if (last != NULL && !k.oomd && !last->oomd && !last->merged &&
	    last->pid == k.pid && last->summary != k.summary) {
		if (!k.summary)
			snprintf(last->name, sizeof(last->name), "%s", k.name);
		if (last->cgroup[0] == '\0')
			snprintf(last->cgroup, sizeof(last->cgroup), "%s",
			    k.cgroup);
		last->merged = true;
		return 0;
	}
	oom_keep(o, &k);
	return 1;
}

/* Reads the kill entries after the position; *truncated when it stopped
 * at max_entries and skipped to the end. */
static int
oom_read(struct oom *o, sd_journal *sj, unsigned long *fresh,
    bool *truncated)
{
	unsigned long seen = 0;
	bool first = true;
	int r;

	*fresh = 0;
	*truncated = false;
	if ((r = journal_position_seek(sj, &o->pos, "oom")) < 0)
		return r;
	while (seen < o->max_entries) {
		if ((r = journal_position_next(sj, &o->pos, &first)) < 0)
			return r;
		if (r == 0)
			break;
		seen++;
		*fresh += oom_entry(o, sj);
	}
	if (seen == o->max_entries && (r = sd_journal_next(sj)) != 0) {
		if (r < 0)
			return r;
		*truncated = true;
		return journal_position_tail(sj, &o->pos);
	}
	return seen > 0 ? journal_position_here(sj, &o->pos) : 0;
}

/* "45 s", "5 min", "3 h", "2 d". */
static void
oom_duration(char *buf, size_t len, double seconds)
{
	if (seconds < 120)
		snprintf(buf, len, "%.0f s", seconds);
	else if (seconds < 3600)
		snprintf(buf, len, "%.0f min", seconds / 60);
	else if (seconds < 172800)
		snprintf(buf, len, "%.0f h", seconds / 3600);
	else
		snprintf(buf, len, "%.0f d", seconds / 86400);
}

/* "java (pid 1234)" or the cgroup systemd-oomd killed. */
static void
oom_who(const struct oom_kill *k, char *buf, size_t len)
{
	if (k->oomd)
		snprintf(buf, len, "%s", k->cgroup);
	else
		snprintf(buf, len, "%s (pid %d)", k->name, k->pid);
}

static void
oom_report(struct oom *o, struct result *res, uint64_t now, bool truncated)
{
	char window[32], ago[32], who[OOM_CGROUP_MAX + 32], names[512] = "";
	char desc[80], alert[96] = "";
	size_t first = 0, n, used;
	enum check_state s;
	struct perf *p;

	/* The kills still in the window, oldest first from kept[first]. */
	if (o->hold > 0)
		while (first < o->nkept && time_since(o->kept[first].usec,
		    now) > (uint64_t)o->hold * 1000000)
			first++;
	n = o->nkept - first;
	s = threshold_eval(&o->kills, (double)n);
	if (s != STATE_OK) {
		threshold_describe(&o->kills, s, "", desc, sizeof(desc));
		snprintf(alert, sizeof(alert), " (%s)", desc);
	}
	if (o->hold > 0)
		oom_duration(window, sizeof(window), o->hold);
	for (size_t i = o->nkept; i-- > first;) {
		if (o->nkept - i > OOM_SUMMARY_NAMES) {
			used = strlen(names);
			snprintf(names + used, sizeof(names) - used,
			    " and %zu more", i - first + 1);
			break;
		}
		oom_who(&o->kept[i], who, sizeof(who));
		used = strlen(names);
		snprintf(names + used, sizeof(names) - used, "%s%s",
		    used > 0 ? ", " : "", who);
	}
	/* "at least" when a kill still in the window was pushed out. */
	if (n == 0)
		result_set(res, s, "no OOM kills %s%s", o->hold > 0 ?
		    "in the last " : "since the last run",
		    o->hold > 0 ? window : "");
	else {
		oom_duration(ago, sizeof(ago), (double)time_since(
		    o->kept[o->nkept - 1].usec, now) / 1e6);
		result_set(res, s, "%s%zu OOM kill%s %s%s%s: %s; last %s ago",
		    o->lost_usec != 0 && (o->hold == 0 || time_since(
		    o->lost_usec, now) <= (uint64_t)o->hold * 1000000) ?
		    "at least " : "", n, n == 1 ? "" : "s", o->hold > 0 ?
		    "in the last " : "since the last run", o->hold > 0 ?
		    window : "", alert, names, ago);
	}
	for (size_t i = o->nkept; i-- > first;) {
		const struct oom_kill *k = &o->kept[i];

		oom_who(k, who, sizeof(who));
		oom_duration(ago, sizeof(ago),
		    (double)time_since(k->usec, now) / 1e6);
		if (k->oomd)
			result_append_long(res, "%s ago: systemd-oomd killed "
			    "%s", ago, who);
		else if (k->cgroup[0] != '\0')
			result_append_long(res, "%s ago: the kernel killed %s "
			    "in %s", ago, who, k->cgroup);
		else
			result_append_long(res, "%s ago: the kernel killed %s",
			    ago, who);
	}
	if (truncated)
		result_append_long(res, "stopped after %lu kernel entries "
		    "(max_entries); skipped to the end of the journal",
		    o->max_entries);
	if ((p = result_add_perf(res, "kills", (double)n, "")) != NULL) {
		threshold_to_perf(&o->kills, p);
		p->min = 0;
		p->has_min = true;
	}
}

static int
oom_collect(void *inst, struct collect_req *req)
{
	struct oom *o = inst;
	struct result *res = collect_req_result(req);
	char old_cursor[JOURNAL_CURSOR_MAX], text[OOM_TEXT_MAX];
	uint64_t now = time_now(CLOCK_REALTIME);
	sd_journal *sj = NULL;
	unsigned long fresh;
	bool truncated;
	int r;

	if ((r = journal_open(o->directory, &sj, text, sizeof(text))) < 0) {
		oom_log_once(o, text);
		result_set(res, STATE_UNKNOWN, "%s", text);
		r = 0;
		goto out;
	}
	/* The kernel, or systemd-oomd by its executable (journald sets
	 * _EXE; anyone can log as SYSLOG_IDENTIFIER=systemd-oomd). */
	if ((r = sd_journal_add_match(sj, "_TRANSPORT=kernel", 0)) < 0 ||
	    (r = sd_journal_add_disjunction(sj)) < 0 ||
	    (r = sd_journal_add_match(sj, "_EXE=" OOM_OOMD_EXE, 0)) < 0 ||
	    (r = sd_journal_add_match(sj, "_EXE=" OOM_OOMD_EXE_OLD, 0)) < 0)
		goto fail;

	if (!o->looked_back && o->hold > 0) {
		/* First run of this process: the kills of the last hold,
		 * whatever was read before a restart. */
		o->pos.cursor[0] = '\0';
		o->pos.since_usec = now > (uint64_t)o->hold * 1000000 ?
		    now - (uint64_t)o->hold * 1000000 : 0;
		o->have_pos = true;
	} else if (!o->have_pos) {
		/* hold = 0 and no saved position: history is not news. */
		memset(&o->pos, 0, sizeof(o->pos));
		if ((r = journal_position_tail(sj, &o->pos)) < 0)
			goto fail;
		o->pos.since_usec = now;
		o->have_pos = true;
	}
	o->looked_back = true;
	if (o->hold == 0) {
		/* Only the kills read in this run count. */
		o->nkept = 0;
		o->lost_usec = 0;
	}

	memcpy(old_cursor, o->pos.cursor, sizeof(old_cursor));
	if ((r = oom_read(o, sj, &fresh, &truncated)) < 0)
		goto fail;
	o->pos.since_usec = now;
	if (o->state_dir != NULL && strcmp(old_cursor, o->pos.cursor) != 0 &&
	    (r = journal_position_save(o->state_dir, OOM_STATE_NAME,
	    &o->pos)) != 0) {
		snprintf(text, sizeof(text), "cannot save %s/%s: %s",
		    o->state_dir, OOM_STATE_NAME, strerror(-r));
		oom_log_once(o, text);
	}
	if (fresh > 0)
		log_info("oom: %lu new OOM kill%s in the journal", fresh,
		    fresh == 1 ? "" : "s");
	oom_report(o, res, now, truncated);
	if (strncmp(o->logged, "no journal", 10) == 0)
		o->logged[0] = '\0';
	r = 0;
	goto out;
fail:
	snprintf(text, sizeof(text), "cannot read the journal: %s",
	    strerror(-r));
	oom_log_once(o, text);
	result_set(res, STATE_UNKNOWN, "%s", text);
	r = 0;
out:
	sd_journal_close(sj);
	return r;
}

static void
oom_free(void *inst)
{
	struct oom *o = inst;

	if (o == NULL)
		return;
	free(o->directory);
	free(o->state_dir);
	free(o);
}

const struct collector collector_oom = {
	.name = "oom",
	.description = "processes killed for want of memory (kernel OOM "
	    "killer, systemd-oomd)",
	.interval = 60,
	.new = oom_new,
	.configure = oom_configure,
	.thresholds = oom_thresholds,
	.start = oom_start,
	.collect = oom_collect,
	.free = oom_free,
};
