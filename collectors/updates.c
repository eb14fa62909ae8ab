/*
 * The updates collector: pending security updates and whether the host
 * waits for a reboot. On Debian/Ubuntu it runs `apt-get -s -o
 * Debug::NoLocking=true dist-upgrade` (a simulation takes no dpkg or apt
 * lock, so an admin's apt run is never blocked, nor are we) and reads
 * /var/run/reboot-required(.pkgs); on RPM hosts `dnf -q --cacheonly
 * updateinfo list --security` and `needs-restarting -r` (dnf-utils) when
 * present. Children of the loop (collectors/exec.c) without capabilities.
 * It never refreshes the package lists (`apt-get update` is the apt timer's
 * or the admin's job): the counts are as fresh as the lists.
 *
 * [collector.updates] keys:
 *   security_warning   range on pending security updates  default: 0
 *                      ("0": any pending security update warns)
 *   security_critical                                      default: unset
 *   lists_age_warning  range on the age of apt's package lists in days
 *                      (stale lists make "0 updates" meaningless)
 *                                                          default: 7
 *   lists_age_critical                                     default: unset
 *   reboot_state       state when a reboot is required:
 *                      ok | warning | critical | unknown   default: warning
 *   timeout            seconds for each command (1-600)   default: 120
 *   apt_get, dnf, needs_restarting
 *                      the commands; for tests. Each must pass the same
 *                      ownership checks as an external check's command
 *                      (lib/safepath.c)  default: /usr/bin/apt-get,
 *                      /usr/bin/dnf, /usr/bin/needs-restarting
 *   root               prefix for /var/run/reboot-required and
 *                      /var/lib/apt; for tests                default: /
 * apt-get wins when both exist. Neither: UNKNOWN.
 * dnf(8) (dnf 4, RHEL 9): --cacheonly gives a user other than root
 * read-only use of the system cache, which root's dnf-makecache.timer
 * keeps fresh; the RPM side is tested on fixture output only.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "collector.h"
#include "exec.h"
#include "log.h"
#include "safepath.h"
#include "sysfile.h"
#include "threshold.h"
#include "updates.h"
#include "xmalloc.h"

#define UPDATES_OUTPUT_MAX	(4 * 1024 * 1024)	/* apt-get -s, bytes */
#define UPDATES_TIMEOUT_DEFAULT	120
#define UPDATES_TIMEOUT_LIMIT	600
#define UPDATES_PKGS_MAX	4096	/* reboot-required.pkgs, bytes read */
#define UPDATES_DNF_SET		4096	/* distinct packages counted */
#define UPDATES_TEXT_MAX	(PATH_MAX + 160)

enum updates_metric {
	M_SECURITY,
	M_LISTS_AGE,
	M_COUNT,
};

enum updates_step {
	STEP_IDLE,
	STEP_APT,
	STEP_DNF,
	STEP_NEEDS_RESTARTING,
};

struct updates {
	struct threshold	 limit[M_COUNT];
	enum check_state	 reboot_state;
	unsigned		 timeout;
	char			*apt_get, *dnf, *needs_restarting, *root;

	sd_event		*event;
	struct collect_req	*req;		/* in flight, or NULL */
	struct exec_job		*job;
	enum updates_step	 step;
	bool			 apt;		/* this run asks apt-get */
	struct updates_count	 count;
	bool			 counted;	/* count is valid */
	bool			 truncated;	/* the output was cut */
	bool			 reboot, reboot_known;
	char			 reboot_pkgs[UPDATES_PKGS_MAX];
	char			 note[UPDATES_TEXT_MAX]; /* why not counted */
};

static const struct threshold_key updates_thresholds[] = {
	{ "security", offsetof(struct updates, limit[M_SECURITY]), "0", "", NULL },
	{ "lists_age", offsetof(struct updates, limit[M_LISTS_AGE]), "7",
	    "", NULL },
	{ .name = NULL },
};

static void *
updates_new(void)
{
	struct updates *u = xcalloc(1, sizeof(*u));

	threshold_defaults(u, updates_thresholds);
	u->reboot_state = STATE_WARNING;
	u->timeout = UPDATES_TIMEOUT_DEFAULT;
	u->apt_get = xstrdup("/usr/bin/apt-get");
	u->dnf = xstrdup("/usr/bin/dnf");
	u->needs_restarting = xstrdup("/usr/bin/needs-restarting");
	u->root = xstrdup("");
	return u;
}

static int
updates_configure(void *inst, const char *key, const char *value, char *err,
    size_t errlen)
{
	struct updates *u = inst;
	char **path = NULL, *end;
	long t;
	int s;

	if (strcmp(key, "apt_get") == 0)
		path = &u->apt_get;
	else if (strcmp(key, "dnf") == 0)
		path = &u->dnf;
	else if (strcmp(key, "needs_restarting") == 0)
		path = &u->needs_restarting;
	else if (strcmp(key, "root") == 0)
		path = &u->root;
	if (path != NULL) {
		if (value[0] != '/' || strlen(value) >= PATH_MAX - 64) {
			snprintf(err, errlen, "%s: '%s' is not an absolute "
			    "path", key, value);
			return -EINVAL;
		}
		free(*path);
		/* root "/" is the empty prefix. */
		*path = xstrdup(path == &u->root && strcmp(value, "/") == 0 ?
		    "" : value);
		return 0;
	}
	if (strcmp(key, "timeout") == 0) {
		errno = 0;
		t = strtol(value, &end, 10);
		if (errno != 0 || end == value || (*end != '\0' &&
		    strcmp(end, "s") != 0) || t < 1 ||
		    t > UPDATES_TIMEOUT_LIMIT) {
			snprintf(err, errlen, "timeout: '%s' is not a number "
			    "of seconds from 1 to %d", value,
			    UPDATES_TIMEOUT_LIMIT);
			return -EINVAL;
		}
		u->timeout = (unsigned)t;
		return 0;
	}
	if (strcmp(key, "reboot_state") == 0) {
		if ((s = result_state_parse(value)) < 0) {
			snprintf(err, errlen, "%s: '%s' is not one of ok, "
			    "warning, critical, unknown", key, value);
			return -EINVAL;
		}
		u->reboot_state = s;
		return 0;
	}
	return threshold_configure(u, updates_thresholds, "reboot_state, "
	    "timeout, apt_get, dnf, needs_restarting, root", key, value, err,
	    errlen);
}

static int
updates_start(void *inst, const struct collector_env *env)
{
	struct updates *u = inst;

	u->event = env->event;
	return 0;
}

/* Appends a package name to the list kept for the long text. */
static void
updates_add_name(struct updates_count *u, const char *name, size_t len)
{
	size_t have = strlen(u->names);

	if (have + len + 2 >= sizeof(u->names))
		return;
	if (have > 0)
		u->names[have++] = ' ';
	memcpy(u->names + have, name, len);
	u->names[have + len] = '\0';
}

int
updates_parse_apt(const char *out, size_t len, struct updates_count *u)
{
	const char *line, *end, *nl, *name, *p, *paren;
	size_t namelen, linelen;

	if (u == NULL || (out == NULL && len > 0))
		return -EINVAL;
	memset(u, 0, sizeof(*u));
	end = out + len;
	for (line = out; line != NULL && line < end; line = nl != NULL ?
	    nl + 1 : NULL) {
		nl = memchr(line, '\n', (size_t)(end - line));
		linelen = (size_t)((nl != NULL ? nl : end) - line);
		if (linelen < 6 || memcmp(line, "Inst ", 5) != 0)
			continue;
		name = line + 5;
		for (p = name; p < line + linelen && *p != ' '; p++)
			;
		namelen = (size_t)(p - name);
		if (namelen == 0)
			continue;
		u->pending++;
		/* The origins are in the last "(...)"; a "-security" suite
		 * there, not in a version or a package name. */
		paren = NULL;
		for (p = name; p < line + linelen; p++)
			if (*p == '(')
				paren = p;
		if (paren == NULL)
			continue;
		if (memmem(paren, (size_t)(line + linelen - paren),
		    "-security", 9) != NULL ||
		    memmem(paren, (size_t)(line + linelen - paren),
		    "-Security:", 10) != NULL) {
			u->security++;
			updates_add_name(u, name, namelen);
		}
	}
	return 0;
}

static uint64_t
updates_hash(const char *s, size_t len)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * UINT64_C(1099511628211);
	return h != 0 ? h : 1;
}

int
updates_parse_dnf(const char *out, size_t len, struct updates_count *u)
{
	const char *line, *end, *nl, *f[4], *p, *le;
	size_t flen[4], nf, linelen, used = 0;
	uint64_t *set, h;
	size_t slot;
	bool seen;

	if (u == NULL || (out == NULL && len > 0))
		return -EINVAL;
	memset(u, 0, sizeof(*u));
	set = xcalloc(UPDATES_DNF_SET, sizeof(*set));
	end = out + len;
	for (line = out; line != NULL && line < end; line = nl != NULL ?
	    nl + 1 : NULL) {
		nl = memchr(line, '\n', (size_t)(end - line));
		linelen = (size_t)((nl != NULL ? nl : end) - line);
		le = line + linelen;
		/* Three blank-separated fields exactly. */
		nf = 0;
		for (p = line; p < le && nf < 4;) {
			while (p < le && (*p == ' ' || *p == '\t' ||
			    *p == '\r'))
				p++;
			if (p == le)
				break;
			f[nf] = p;
			while (p < le && *p != ' ' && *p != '\t' && *p != '\r')
				p++;
			flen[nf] = (size_t)(p - f[nf]);
			nf++;
		}
		if (nf != 3 || memmem(f[1], flen[1], "Sec", 3) == NULL)
			continue;
		h = updates_hash(f[2], flen[2]);
		slot = h % UPDATES_DNF_SET;
		seen = false;
		while (set[slot] != 0) {
			if (set[slot] == h) {
				seen = true;
				break;
			}
			slot = (slot + 1) % UPDATES_DNF_SET;
		}
		if (seen)
			continue;
		u->security++;
		updates_add_name(u, f[2], flen[2]);
		if (used + 1 < UPDATES_DNF_SET) {	/* keep a free slot */
			set[slot] = h;
			used++;
		}
	}
	free(set);
	return 0;
}

/* The age in days of apt's lists: the apt timer's success stamp, else the
 * lists directory (apt renames every fetched list into it). Returns -1
 * when neither exists. */
static double
updates_lists_age(struct updates *u)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/var/lib/apt/periodic/"
	    "update-success-stamp", u->root);
	if (stat(path, &st) < 0) {
		snprintf(path, sizeof(path), "%s/var/lib/apt/lists", u->root);
		if (stat(path, &st) < 0)
			return -1;
	}
	return (double)(time(NULL) - st.st_mtime) / 86400;
}

/* Debian/Ubuntu: update-notifier's flag file, and which packages set it
 * (kept for the long text). */
static void
updates_debian_reboot(struct updates *u)
{
	char path[PATH_MAX], pkgs[UPDATES_PKGS_MAX];
	struct stat st;
	size_t n = 0;
	int r;

	u->reboot_known = true;
	u->reboot_pkgs[0] = '\0';
	snprintf(path, sizeof(path), "%s/var/run/reboot-required", u->root);
	if ((u->reboot = lstat(path, &st) == 0) == false)
		return;
	snprintf(path, sizeof(path), "%s/var/run/reboot-required.pkgs",
	    u->root);
	/* A longer list is cut (-EFBIG): what was read still names some. */
	r = sysfile_read_small(path, pkgs, sizeof(pkgs), &n);
	if ((r == 0 || r == -EFBIG) && n > 0) {
		for (size_t i = 0; i < n && pkgs[i] != '\0'; i++)
			if (pkgs[i] == '\n')
				pkgs[i] = ' ';
		while (n > 0 && (pkgs[n - 1] == ' ' || pkgs[n - 1] == '\0'))
			pkgs[--n] = '\0';
		log_escape(u->reboot_pkgs, sizeof(u->reboot_pkgs), pkgs);
	}
}

/* Appends text to the summary, as far as it fits. */
static void
updates_summary_add(struct result *res, const char *text)
{
	size_t have = strlen(res->summary);

	snprintf(res->summary + have, sizeof(res->summary) - have, "%s", text);
}

static void
updates_finish(struct updates *u)
{
	struct collect_req *req = u->req;
	struct result *res = collect_req_result(req);
	enum check_state s;
	char why[64] = "", text[96];
	struct perf *p;
	double age;

	u->req = NULL;
	u->step = STEP_IDLE;
	if (!u->counted)
		result_set(res, STATE_UNKNOWN, "%s", u->note);
	else {
		s = threshold_eval(&u->limit[M_SECURITY],
		    (double)u->count.security);
		if (s != STATE_OK)
			threshold_why(&u->limit[M_SECURITY], s,
			    (double)u->count.security, "", why, sizeof(why));
		result_set(res, s, "%lu security update%s pending%s%s%s",
		    u->count.security, u->count.security == 1 ? "" : "s",
		    why[0] != '\0' ? " (" : "", why, why[0] != '\0' ? ")" :
		    "");
		if (u->apt) {
			snprintf(text, sizeof(text), ", %lu update%s in all",
			    u->count.pending, u->count.pending == 1 ? "" :
			    "s");
			updates_summary_add(res, text);
		}
		if (u->count.names[0] != '\0')
			result_append_long(res, "security updates: %s%s",
			    u->count.names, u->count.security > 0 &&
			    strlen(u->count.names) + 64 > UPDATES_NAMES_MAX ?
			    " ..." : "");
		if ((p = result_add_perf(res, "security", (double)
		    u->count.security, "")) != NULL) {
			threshold_to_perf(&u->limit[M_SECURITY], p);
			p->min = 0;
			p->has_min = true;
		}
		if (u->truncated)
			result_append_long(res, "the command's output was cut "
			    "at %d bytes: the counts are low",
			    UPDATES_OUTPUT_MAX);
		if (u->apt)
			result_add_perf(res, "pending",
			    (double)u->count.pending, "");
	}
	if (u->reboot_known) {
		if (u->reboot) {
			result_escalate(res, u->reboot_state);
			updates_summary_add(res, ", reboot required");
			if (u->reboot_pkgs[0] != '\0')
				result_append_long(res, "reboot required by: "
				    "%s", u->reboot_pkgs);
		}
		result_add_perf(res, "reboot_required", u->reboot ? 1 : 0, "");
	}
	if (u->apt && u->counted && (age = updates_lists_age(u)) >= 0) {
		s = threshold_eval(&u->limit[M_LISTS_AGE], age);
		if (s != STATE_OK) {
			result_escalate(res, s);
			snprintf(text, sizeof(text), ", package lists %.0f d "
			    "old (is apt-get update run?)", age);
			updates_summary_add(res, text);
		}
		result_append_long(res, "the counts are as fresh as the "
		    "package lists: updated %.1f d ago", age);
		if ((p = result_add_perf(res, "lists_age", age, "d")) != NULL)
			threshold_to_perf(&u->limit[M_LISTS_AGE], p);
	}
	collect_req_finish(req);
}

static void updates_done(struct exec_job *, const struct exec_outcome *,
    void *);

/* Starts argv[0] after the safe-path check; on failure fills note. */
static int
updates_run(struct updates *u, char *const argv[], enum updates_step step)
{
	char why[PATH_MAX + 128];
	int r;

	if ((r = safepath_check(argv[0], geteuid(), why, sizeof(why))) < 0) {
		snprintf(u->note, sizeof(u->note), "refusing to run %.*s",
		    (int)sizeof(u->note) - 32, why);
		return r;
	}
	u->step = step;
	if ((r = exec_start(u->event, argv, 0, u->timeout, UPDATES_OUTPUT_MAX,
	    updates_done, u, &u->job)) < 0) {
		snprintf(u->note, sizeof(u->note), "cannot start %.*s: %s",
		    PATH_MAX, argv[0], strerror(-r));
		u->step = STEP_IDLE;
	}
	return r;
}

/* Why a command's outcome is no answer, or "" when it is one. */
static void
updates_outcome_note(struct updates *u, const char *cmd,
    const struct exec_outcome *o, bool any_exit)
{
	char err[EXEC_STDERR_MAX];

	u->note[0] = '\0';
	if (o->spawn_error != 0)
		snprintf(u->note, sizeof(u->note), "cannot start %s: %s", cmd,
		    strerror(o->spawn_error));
	else if (o->timed_out)
		snprintf(u->note, sizeof(u->note), "%s timed out after %u s",
		    cmd, u->timeout);
	else if (o->exit_code < 0)
		snprintf(u->note, sizeof(u->note), "%s killed by signal %d",
		    cmd, o->signal);
	else if (o->exit_code != 0 && !any_exit)
		snprintf(u->note, sizeof(u->note), "%s exited with %d: %.200s",
		    cmd, o->exit_code, log_escape(err, sizeof(err), o->err));
}

static void
updates_done(struct exec_job *job, const struct exec_outcome *o,
    void *userdata)
{
	struct updates *u = userdata;
	char *argv[] = { u->needs_restarting, "-r", NULL };
	enum updates_step step = u->step;

	u->job = NULL;
	u->step = STEP_IDLE;
	switch (step) {
	case STEP_APT:
	case STEP_DNF:
		updates_outcome_note(u, step == STEP_APT ? "apt-get" : "dnf",
		    o, false);
		if (u->note[0] == '\0') {
			if (step == STEP_APT)
				updates_parse_apt(o->out, o->outlen,
				    &u->count);
			else
				updates_parse_dnf(o->out, o->outlen,
				    &u->count);
			u->counted = true;
			u->truncated = o->truncated;
		}
		exec_free(job);
		if (step == STEP_DNF && u->counted &&
		    access(u->needs_restarting, X_OK) == 0 &&
		    updates_run(u, argv, STEP_NEEDS_RESTARTING) == 0)
			return;
		break;
	case STEP_NEEDS_RESTARTING:
		/* 1: reboot required, 0: not; anything else: no answer. */
		updates_outcome_note(u, "needs-restarting", o, true);
		if (u->note[0] == '\0' && (o->exit_code == 0 ||
		    o->exit_code == 1)) {
			u->reboot_known = true;
			u->reboot = o->exit_code == 1;
		}
		u->note[0] = '\0';
		exec_free(job);
		break;
	case STEP_IDLE:
		exec_free(job);
		return;
	}
	updates_finish(u);
}

static void
updates_cancel(void *inst)
{
	struct updates *u = inst;

	if (u->job != NULL)
		exec_free(u->job);
	u->job = NULL;
	u->req = NULL;
	u->step = STEP_IDLE;
}

static int
updates_collect(void *inst, struct collect_req *req)
{
	struct updates *u = inst;
	struct result *res = collect_req_result(req);
	char *apt_argv[] = { u->apt_get, "-s", "-q", "-o",
	    "Debug::NoLocking=true", "dist-upgrade", NULL };
	char *dnf_argv[] = { u->dnf, "-q", "--cacheonly", "updateinfo",
	    "list", "--security", NULL };
	int r;

	if (u->req != NULL)
		updates_cancel(u);	/* the framework gave up on it */
	if (u->event == NULL) {
		result_set(res, STATE_UNKNOWN, "collector not started");
		return -EINVAL;
	}
	memset(&u->count, 0, sizeof(u->count));
	u->counted = u->truncated = false;
	u->reboot = u->reboot_known = false;
	u->note[0] = '\0';
	u->apt = access(u->apt_get, X_OK) == 0;
	if (u->apt) {
		/* The flag file is read now: no child needed for it. */
		updates_debian_reboot(u);
		r = updates_run(u, apt_argv, STEP_APT);
	} else if (access(u->dnf, X_OK) == 0)
		r = updates_run(u, dnf_argv, STEP_DNF);
	else {
		result_set(res, STATE_UNKNOWN, "neither %s nor %s exists: no "
		    "package manager to ask", u->apt_get, u->dnf);
		return 0;
	}
	if (r < 0) {
		result_set(res, STATE_UNKNOWN, "%s", u->note);
		return r;
	}
	u->req = req;
	return COLLECT_PENDING;
}

static void
updates_free(void *inst)
{
	struct updates *u = inst;

	if (u == NULL)
		return;
	updates_cancel(u);
	free(u->apt_get);
	free(u->dnf);
	free(u->needs_restarting);
	free(u->root);
	free(u);
}

const struct collector collector_updates = {
	.name = "updates",
	.description = "pending security updates and reboot required",
	.interval = 3600,
	.new = updates_new,
	.configure = updates_configure,
	.thresholds = updates_thresholds,
	.start = updates_start,
	.collect = updates_collect,
	.cancel = updates_cancel,
	.free = updates_free,
};
