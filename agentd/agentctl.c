/*
 * agentctl: the admin's CLI over agentd's control socket (JSON lines),
 * enrolment with the portal (the only place libcurl runs for it), and
 * restores, recovery kits and DR restores, done here as root (the backup
 * engine, backup/): the daemon never holds write-anywhere rights.
 * Exit codes: `check run` exits with the check's state (0-3, like a
 * plugin); `backup run` 0 ok, 2 partial, 1 failed; `restore` and
 * `dr-restore` 0 all restored and verified, 2 existing paths kept, 1
 * failed; otherwise 0 ok, 1 refused (the agent refused, e.g. a rejected
 * reload; the portal refused the token; already enrolled; not enrolled; an
 * invalid config), 64 usage, 69 agent or portal not reachable (TLS failures
 * included), 74 enrolled but the identity could not be written or removed,
 * 76 a reply we cannot read, 77 the state directory is not writable.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "backup.h"
#include "catalog.h"
#include "config.h"
#include "timeutil.h"
#include "control.h"
#include "crypt.h"
#include "enroll.h"
#include "identity.h"
#include "kit.h"
#include "lock.h"
#include "log.h"
#include "maintenance.h"
#include "restore.h"
#include "retention.h"
#include "sftp_child.h"
#include "sshkey.h"
#include "sysfile.h"
#include "target.h"
#include "target_proxy.h"
#include "verify.h"
#include "xmalloc.h"

#define EXIT_REFUSED	1
#define EXIT_USAGE	64
#define EXIT_UNAVAIL	69
#define EXIT_IOERR	74
#define EXIT_PROTOCOL	76
#define EXIT_NOPERM	77
/* A check run waits for the check: timeouts are at most 1 h. */
#define REPLY_TIMEOUT_MS (3700 * 1000)

#define DEFAULT_SOCKET	"/run/agentd/control.sock"
#define DEFAULT_STATE_DIR "/var/lib/agentd"
#define TOKEN_FILE_MAX	1024

static const char *ctl_socket;
static const char *ctl_config_path = CONFIG_DEFAULT_PATH;
static struct config *ctl_config;

static void
ctl_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: agentctl [--config PATH] [--socket PATH] COMMAND\n"
	    "  status             agent version, uptime, config and every "
	    "check's state\n"
	    "  checks [--json]    every check with its summary, long text and "
	    "perfdata\n"
	    "  check run NAME     run a check now and print its result (exit "
	    "code = state)\n"
	    "  backup run NAME [--full]  run backup job NAME now (--full: a "
	    "full snapshot),\n"
	    "                     wait, print the snapshot id (exit 0 ok, 2 "
	    "partial, 1 failed)\n"
	    "  backup status [--json]  every backup job: running, last result, "
	    "next run\n"
	    "  backup kit NAME --out FILE [--force]\n"
	    "                     write job NAME's recovery kit (target, "
	    "key, job), mode 0600\n"
	    "  restore NAME SNAPSHOT|latest --to DIR [--path P]... [--dry-run]\n"
	    "          [--overwrite never|older|always]\n"
	    "                     restore a snapshot (as root, without agentd);"
	    "\n"
	    "                     exit 0 all restored and verified, 2 existing "
	    "files kept\n"
	    "  dr-restore --kit FILE --to DIR [--snapshot ID|latest] [options "
	    "as restore]\n"
	    "                     restore from the recovery kit alone (no "
	    "config, no state)\n"
	    "  backup list [NAME] [--json]  the snapshots on the jobs' targets\n"
	    "  backup verify NAME SNAPSHOT|latest  re-read, decrypt and "
	    "re-hash a snapshot\n"
	    "                     and its chain; names every bad file (exit 1)\n"
	    "  backup forget NAME [--dry-run]  apply the job's retention "
	    "(keep_*)\n"
	    "                     (list, verify and forget run here, as root, "
	    "without agentd)\n"
	    "  reload             re-read the config (the running one stays if "
	    "the new one is bad)\n"
	    "  version            agentctl's version\n"
	    "  enroll --portal URL (--token-file F | --token T) [--ca FILE] "
	    "[--force]\n"
	    "                     enrol this host with the portal (a one-time "
	    "token);\n"
	    "                     the token may also come from "
	    "$AGENTD_ENROLL_TOKEN.\n"
	    "                     Prefer --token-file or the variable: a token "
	    "on the\n"
	    "                     command line is visible to every user in "
	    "ps(1).\n"
	    "                     --force replaces an existing identity.\n"
	    "  unenroll [--force] revoke the identity at the portal and remove "
	    "it;\n"
	    "                     --force removes it even if the portal cannot "
	    "be reached\n"
	    "  maintenance start --for DURATION [--reason TEXT]\n"
	    "                     open a maintenance window: checks still run "
	    "and report,\n"
	    "                     the portal opens no alert until it ends\n"
	    "  maintenance stop | status  end the window now; show it and the "
	    "silences\n"
	    "  silence NAME --for DURATION | --clear  the same for one check\n"
	    "  support key        print the agent's support public key (made "
	    "once, here)\n"
	    "                     for a bastion's authorized_keys\n"
	    "  support open [--ttl 2h] [--reason TEXT]  ask for a remote "
	    "support session\n"
	    "  support approve ID | deny ID  answer a waiting request "
	    "(policy = ask)\n"
	    "  support close [ID] end the waiting or open session\n"
	    "  support status [--json]  sessions: state, expiry, the "
	    "engineer's command\n"
	    "state_dir and control_socket come from agentd's config, %s\n"
	    "unless --config says otherwise (without one: %s and %s);\n"
	    "--socket or $AGENTD_CONTROL_SOCKET override the socket.\n",
	    CONFIG_DEFAULT_PATH, DEFAULT_STATE_DIR, DEFAULT_SOCKET);
}

/*
 * Sends one request and reads the reply. Returns 0 with *replyp set, or an
 * exit code (EXIT_UNAVAIL, EXIT_PROTOCOL, EXIT_USAGE) with a message in err
 * whose errno-part says whether agentd is simply not running.
 */
static int
ctl_exchange(json_t *req, json_t **replyp, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char *line = NULL, *buf = NULL, *nl = NULL;
	size_t len = 0, cap;
	json_error_t jerr;
	json_t *reply;
	int fd = -1, r;

	*replyp = NULL;
	if (strlen(ctl_socket) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path too long");
		r = EXIT_USAGE;
		goto out;
	}
	strcpy(sun.sun_path, ctl_socket);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		snprintf(err, errlen, "cannot reach agentd at %s: %s%s",
		    ctl_socket, strerror(errno), errno == EACCES ?
		    " (are you root or in group agentd-admin?)" :
		    errno == ENOENT || errno == ECONNREFUSED ?
		    " (is agentd running?)" : "");
		r = EXIT_UNAVAIL;
		goto out;
	}
	line = json_dumps(req, JSON_COMPACT);
	if (line == NULL || dprintf(fd, "%s\n", line) < 0) {
		snprintf(err, errlen, "cannot send to agentd: %s",
		    strerror(errno));
		r = EXIT_UNAVAIL;
		goto out;
	}
	/* The reply grows with the number of checks: read it into a buffer
	 * that doubles up to CONTROL_REPLY_MAX. */
	cap = 65536;
	buf = xreallocarray(NULL, cap, 1);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (len == cap) {
			if (cap == CONTROL_REPLY_MAX) {
				snprintf(err, errlen, "reply longer than %d "
				    "MiB", CONTROL_REPLY_MAX / (1024 * 1024));
				r = EXIT_PROTOCOL;
				goto out;
			}
			cap = cap * 2 > CONTROL_REPLY_MAX ? CONTROL_REPLY_MAX :
			    cap * 2;
			buf = xreallocarray(buf, cap, 1);
		}
		if (poll(&pfd, 1, REPLY_TIMEOUT_MS) == 0) {
			snprintf(err, errlen, "no reply from agentd");
			r = EXIT_UNAVAIL;
			goto out;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "agentd closed the connection "
			    "without a reply");
			r = EXIT_PROTOCOL;
			goto out;
		}
		/* Only the new bytes can hold the end of the line. */
		if ((nl = memchr(buf + len, '\n', (size_t)n)) != NULL)
			break;
		len += (size_t)n;
	}
	reply = json_loadb(buf, (size_t)(nl - buf), 0, &jerr);
	if (!json_is_object(reply)) {
		snprintf(err, errlen, "malformed reply from agentd: %s",
		    jerr.text);
		json_decref(reply);
		r = EXIT_PROTOCOL;
		goto out;
	}
	*replyp = reply;
	r = 0;
 out:
	if (fd != -1)
		close(fd);
	free(line);
	free(buf);
	json_decref(req);
	return r;
}

/* Sends one request, returns the parsed reply or exits with a message. */
static json_t *
ctl_call(json_t *req)
{
	char err[512];
	json_t *reply;
	int r;

	if ((r = ctl_exchange(req, &reply, err, sizeof(err))) != 0) {
		fprintf(stderr, "agentctl: %s\n", err);
		exit(r);
	}
	return reply;
}

/* Sends req (taken); checks the reply's "ok"; prints the agent's error
 * and exits if false. */
static json_t *
ctl_request_json(json_t *req)
{
	json_t *reply, *errs, *e;
	const char *msg;
	size_t i;

	reply = ctl_call(req);
	if (json_is_true(json_object_get(reply, "ok")))
		return reply;
	msg = json_string_value(json_object_get(reply, "error"));
	fprintf(stderr, "agentctl: %s\n", msg != NULL ? msg : "request refused");
	errs = json_object_get(reply, "errors");
	json_array_foreach(errs, i, e)
		fprintf(stderr, "%s\n", json_string_value(e));
	json_decref(reply);
	exit(EXIT_REFUSED);
}

static json_t *
ctl_request(const char *cmd, const char *name)
{
	json_t *req = json_object();

	json_object_set_new(req, "cmd", json_string(cmd));
	if (name != NULL)
		json_object_set_new(req, "name", json_string(name));
	return ctl_request_json(req);
}

/* A realtime second as local time, "-" for none. */
static void
ctl_stamp(int64_t secs, char *buf, size_t len)
{
	time_t t = (time_t)secs;
	struct tm tm;

	if (secs <= 0 || localtime_r(&t, &tm) == NULL)
		snprintf(buf, len, "-");
	else
		strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

/* Text from the agent came from plugins: never let it drive the terminal. */
static const char *
ctl_text(json_t *o, const char *key, char *buf, size_t len)
{
	const char *s = json_string_value(json_object_get(o, key));

	return log_escape(buf, len, s != NULL ? s : "");
}

static void
ctl_duration(json_int_t secs, char *buf, size_t len)
{
	if (secs < 0)
		snprintf(buf, len, "-");
	else if (secs < 120)
		snprintf(buf, len, "%llds", (long long)secs);
	else if (secs < 7200)
		snprintf(buf, len, "%lldm", (long long)secs / 60);
	else if (secs < 172800)
		snprintf(buf, len, "%lldh%02lldm", (long long)secs / 3600,
		    (long long)secs % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", (long long)secs / 86400,
		    (long long)secs % 86400 / 3600);
}

/* One line on where reports go and whether they get there. */
static void
ctl_print_reporting(json_t *rep)
{
	/* The agent measures the age on its monotonic clock: our wall
	 * clock minus its stamp would be wrong after a step. */
	json_t *last = json_object_get(rep, "last_delivery_age");
	char portal[256], err[512], ago[32];

	if (!json_is_object(rep))
		return;
	if (!json_is_true(json_object_get(rep, "enrolled"))) {
		printf("portal: not enrolled (agentctl enroll)\n");
		return;
	}
	if (json_is_integer(last))
		ctl_duration(json_integer_value(last), ago, sizeof(ago));
	printf("portal: %s, spool %lld pending, last delivery %s%s\n",
	    ctl_text(rep, "portal", portal, sizeof(portal)),
	    (long long)json_integer_value(json_object_get(rep, "spool_depth")),
	    json_is_integer(last) ? ago : "never",
	    json_is_integer(last) ? " ago" : "");
	if (json_is_string(json_object_get(rep, "last_error")))
		printf("portal: last error: %s\n", ctl_text(rep, "last_error",
		    err, sizeof(err)));
}

/* What the state column does not say: soft, flapping, silenced. */
static const char *
ctl_check_note(json_t *c, char *buf, size_t len)
{
	json_t *soft = json_object_get(c, "soft");
	json_t *flap = json_object_get(c, "flapping");
	char st[16];

	buf[0] = '\0';
	if (json_is_object(soft))
		snprintf(buf, len, " [soft %s, attempt %lld of %lld]",
		    ctl_text(soft, "state", st, sizeof(st)),
		    (long long)json_integer_value(json_object_get(soft,
		    "attempt")), (long long)json_integer_value(
		    json_object_get(soft, "attempts")));
	else if (json_is_object(flap))
		snprintf(buf, len, " [flapping %.0f%%: now %s, %lld changes "
		    "kept here]", json_number_value(json_object_get(flap,
		    "percent")), ctl_text(flap, "state", st, sizeof(st)),
		    (long long)json_integer_value(json_object_get(flap,
		    "changes")));
	if (json_is_integer(json_object_get(c, "silenced_until")))
		snprintf(buf + strlen(buf), len - strlen(buf), " [silenced]");
	return buf;
}

static int
ctl_status(void)
{
	json_t *reply = ctl_request("status", NULL), *checks, *c;
	char up[32], age[32], name[80], state[16], summary[1024], note[128];
	unsigned counts[5] = { 0 };
	static const char *const states[] = { "OK", "WARNING", "CRITICAL",
	    "UNKNOWN", "PENDING" };
	size_t i;

	checks = json_object_get(reply, "checks");
	ctl_duration(json_integer_value(json_object_get(reply, "uptime")), up,
	    sizeof(up));
	printf("agentd %s (pid %lld), up %s\n",
	    json_string_value(json_object_get(reply, "version")),
	    (long long)json_integer_value(json_object_get(reply, "pid")), up);
	printf("config: %s\n", json_string_value(json_object_get(reply,
	    "config")));
	ctl_print_reporting(json_object_get(reply, "reporting"));
	if (json_is_object(json_object_get(reply, "maintenance"))) {
		ctl_stamp(json_integer_value(json_object_get(json_object_get(
		    reply, "maintenance"), "until")), age, sizeof(age));
		printf("maintenance: until %s: %s\n", age, ctl_text(
		    json_object_get(reply, "maintenance"), "reason", summary,
		    sizeof(summary)));
	}
	json_array_foreach(checks, i, c) {
		const char *s = json_string_value(json_object_get(c, "state"));

		for (size_t k = 0; k < 5; k++)
			if (s != NULL && strcmp(s, states[k]) == 0)
				counts[k]++;
	}
	printf("checks: %zu (%u OK, %u WARNING, %u CRITICAL, %u UNKNOWN, "
	    "%u PENDING)\n\n", json_array_size(checks), counts[0], counts[1],
	    counts[2], counts[3], counts[4]);
	printf("%-20s %-8s %6s  %s\n", "CHECK", "STATE", "AGE", "SUMMARY");
	json_array_foreach(checks, i, c) {
		json_t *a = json_object_get(c, "age");

		if (json_is_integer(a))
			ctl_duration(json_integer_value(a), age, sizeof(age));
		else
			snprintf(age, sizeof(age), "-");
		printf("%-20s %-8s %6s  %s%s\n",
		    ctl_text(c, "name", name, sizeof(name)),
		    ctl_text(c, "state", state, sizeof(state)), age,
		    ctl_text(c, "summary", summary, sizeof(summary)),
		    ctl_check_note(c, note, sizeof(note)));
	}
	json_decref(reply);
	return 0;
}

static void
ctl_print_check(json_t *c)
{
	char name[80], state[16], text[8192], buf[256];
	json_t *perf = json_object_get(c, "perfdata"), *p;
	const char *lt;
	size_t i;

	printf("%s: %s: %s\n", ctl_text(c, "name", name, sizeof(name)),
	    ctl_text(c, "state", state, sizeof(state)),
	    ctl_text(c, "summary", text, sizeof(text)));
	if ((lt = json_string_value(json_object_get(c, "long_text"))) != NULL) {
		/* Keep the plugin's line breaks, escape everything else. */
		char *copy = xstrdup(lt), *line, *save = NULL;

		for (line = strtok_r(copy, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			printf("    %s\n", log_escape(text, sizeof(text), line));
		free(copy);
	}
	json_array_foreach(perf, i, p) {
		json_t *v = json_object_get(p, "value");
		const char *w = json_string_value(json_object_get(p, "warn"));
		const char *cr = json_string_value(json_object_get(p, "crit"));

		printf("    %s=", ctl_text(p, "label", buf, sizeof(buf)));
		if (json_is_number(v))
			printf("%g", json_number_value(v));
		else
			printf("U");
		printf("%s", ctl_text(p, "uom", buf, sizeof(buf)));
		if (w != NULL)
			printf(" warn %s", log_escape(buf, sizeof(buf), w));
		if (cr != NULL)
			printf(" crit %s", log_escape(buf, sizeof(buf), cr));
		printf("\n");
	}
}

static int
ctl_checks(int as_json)
{
	json_t *reply = ctl_request("checks", NULL), *checks, *c;
	size_t i;

	checks = json_object_get(reply, "checks");
	if (as_json) {
		json_dumpf(checks, stdout, JSON_INDENT(2));
		putchar('\n');
	} else
		json_array_foreach(checks, i, c)
			ctl_print_check(c);
	json_decref(reply);
	return 0;
}

static int
ctl_check_run(const char *name)
{
	json_t *reply = ctl_request("check_run", name), *c;
	const char *state;
	int code = 3;

	c = json_object_get(reply, "check");
	if (!json_is_object(c)) {
		fprintf(stderr, "agentctl: reply without a check\n");
		json_decref(reply);
		return EXIT_PROTOCOL;
	}
	ctl_print_check(c);
	state = json_string_value(json_object_get(c, "state"));
	if (state != NULL) {
		if (strcmp(state, "OK") == 0)
			code = 0;
		else if (strcmp(state, "WARNING") == 0)
			code = 1;
		else if (strcmp(state, "CRITICAL") == 0)
			code = 2;
	}
	json_decref(reply);
	return code;
}

static void
ctl_bytes(json_int_t n, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	size_t u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u == 0 ? "%.0f %s" : "%.1f %s", v, unit[u]);
}

/* The job's entry in a backup_status reply, or NULL. */
static json_t *
ctl_backup_find(json_t *reply, const char *name)
{
	json_t *b;
	size_t i;

	json_array_foreach(json_object_get(reply, "backups"), i, b)
		if (json_is_string(json_object_get(b, "job")) &&
		    strcmp(json_string_value(json_object_get(b, "job")),
		    name) == 0)
			return b;
	return NULL;
}

/*
 * agentd starts the run; we follow it through backup_status until its
 * result is there. Exit 0 ok, 2 partial, 1 failed (or refused).
 */
static int
ctl_backup_run(const char *name, bool full)
{
	json_t *reply = ctl_request_json(json_pack("{s:s, s:s, s:b}", "cmd",
	    "backup_run", "name", name, "full", full)), *st, *b, *last, *p;
	json_int_t run = json_integer_value(json_object_get(reply, "run"));
	const char *status;
	char snap[160], err[512], bytes[32], rate[32], kind[32], parent[160];
	bool tty = isatty(STDOUT_FILENO), shown = false;
	size_t i;
	json_t *e;
	int code;

	json_decref(reply);
	for (;;) {
		st = ctl_request("backup_status", NULL);
		if ((b = ctl_backup_find(st, name)) == NULL) {
			fprintf(stderr, "agentctl: backup job %s is gone "
			    "(config reloaded?)\n", name);
			json_decref(st);
			return EXIT_REFUSED;
		}
		last = json_object_get(b, "last");
		if (json_is_object(last) && json_integer_value(
		    json_object_get(last, "run")) >= run)
			break;
		p = json_object_get(b, "progress");
		if (tty && json_is_object(p)) {
			ctl_bytes(json_integer_value(json_object_get(p,
			    "bytes")), bytes, sizeof(bytes));
			ctl_bytes(json_integer_value(json_object_get(p,
			    "rate")), rate, sizeof(rate));
			printf("\r%s: %lld files, %s, %s/s\033[K", name,
			    (long long)json_integer_value(json_object_get(p,
			    "files")), bytes, rate);
			fflush(stdout);
			shown = true;
		}
		json_decref(st);
		usleep(250000);
	}
	if (shown)
		printf("\n");
	status = json_string_value(json_object_get(last, "status"));
	if (status == NULL)
		status = "failed";
	ctl_text(last, "snapshot", snap, sizeof(snap));
	ctl_bytes(json_integer_value(json_object_get(last, "bytes")), bytes,
	    sizeof(bytes));
	ctl_bytes(json_integer_value(json_object_get(last, "stored_bytes")),
	    rate, sizeof(rate));
	if (snap[0] != '\0')
		printf("%s\n", snap);
	ctl_text(last, "parent", parent, sizeof(parent));
	fprintf(stderr, "backup %s: %s, %s%s%s, %lld files, %s (%s stored), "
	    "%.1fs\n", name, status, ctl_text(last, "kind", kind,
	    sizeof(kind)), parent[0] != '\0' ? " on " : "", parent,
	    (long long)json_integer_value(json_object_get(last, "files")),
	    bytes, rate, json_number_value(json_object_get(last,
	    "duration")));
	json_array_foreach(json_object_get(last, "errors"), i, e)
		fprintf(stderr, "  %s\n", log_escape(err, sizeof(err),
		    json_string_value(e) != NULL ? json_string_value(e) : ""));
	code = strcmp(status, "ok") == 0 ? 0 :
	    strcmp(status, "partial") == 0 ? 2 : 1;
	json_decref(st);
	return code;
}

static int
ctl_backup_status(int as_json)
{
	json_t *reply = ctl_request("backup_status", NULL), *a, *b, *last;
	char snap[160], when[64], st[32];
	json_int_t next;
	time_t t;
	size_t i;

	a = json_object_get(reply, "backups");
	if (as_json) {
		json_dumpf(a, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(reply);
		return 0;
	}
	json_array_foreach(a, i, b) {
		last = json_object_get(b, "last");
		printf("%s: %s", ctl_text(b, "job", snap, sizeof(snap)),
		    json_is_true(json_object_get(b, "running")) ? "running" :
		    "idle");
		if (json_is_object(last)) {
			printf(", last %s", ctl_text(last, "status", st,
			    sizeof(st)));
			if (*ctl_text(last, "snapshot", snap, sizeof(snap)))
				printf(" %s", snap);
		}
		else
			printf(", never run");
		next = json_integer_value(json_object_get(b, "next_run"));
		if (next > 0) {
			t = (time_t)next;
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M",
			    localtime(&t));
			printf(", next %s", when);
		} else
			printf(", on demand");
		putchar('\n');
	}
	json_decref(reply);
	return 0;
}

/*
 * Reads agentd's config for state_dir and control_socket. A missing file
 * means agentd's defaults; an invalid one is an error, since agentd would
 * refuse it too.
 */
static void
ctl_load_config(void)
{
	struct config_errors errs = { 0 };
	struct stat st;

	if (stat(ctl_config_path, &st) == -1 && errno == ENOENT)
		return;
	if (config_load(ctl_config_path, &ctl_config, &errs) < 0) {
		fprintf(stderr, "agentctl: %s is invalid:\n", ctl_config_path);
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		config_errors_free(&errs);
		exit(EXIT_REFUSED);
	}
}

static const char *
ctl_state_dir(void)
{
	return ctl_config != NULL ? ctl_config->state_dir : DEFAULT_STATE_DIR;
}

/* After the identity changed: a running agentd reloads to see it. Not
 * running is fine; it reads the identity when it starts. */
static void
ctl_notify_agent(void)
{
	json_t *req = json_pack("{s:s}", "cmd", "reload"), *reply;
	const char *msg;
	char err[512];
	int r;

	if ((r = ctl_exchange(req, &reply, err, sizeof(err))) != 0) {
		printf("agentd not notified (%s); it reads the identity when it "
		    "starts\n", err);
		return;
	}
	if (json_is_true(json_object_get(reply, "ok")))
		printf("agentd reloaded\n");
	else {
		msg = json_string_value(json_object_get(reply, "error"));
		fprintf(stderr, "agentctl: warning: agentd refused to reload "
		    "(%s); it reads the identity at its next reload or "
		    "start\n", msg != NULL ? msg : "no reason given");
	}
	json_decref(reply);
}

/* enroll's error codes to the exit codes at the top of this file. */
static int
ctl_enroll_exit(int r)
{
	switch (r) {
	case -EINVAL:
		return EXIT_USAGE;
	case -EACCES:
		return EXIT_NOPERM;
	case -EHOSTUNREACH:
		return EXIT_UNAVAIL;
	case -EBADMSG:
		return EXIT_PROTOCOL;
	case -EIO:
		return EXIT_IOERR;
	default:
		return EXIT_REFUSED;
	}
}

/* The first line of a token file, without trailing blanks. */
static int
ctl_read_token_file(const char *path, char *buf, size_t size)
{
	size_t len;
	char *nl;
	int r;

	if ((r = sysfile_read_small(path, buf, size, &len)) < 0) {
		fprintf(stderr, "agentctl: cannot read token file %s: %s\n",
		    path, r == -EFBIG ? "too large for a token" :
		    strerror(-r));
		return EXIT_USAGE;
	}
	if ((nl = strchr(buf, '\n')) != NULL)
		*nl = '\0';
	len = strlen(buf);
	while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t' ||
	    buf[len - 1] == '\r'))
		buf[--len] = '\0';
	return 0;
}

/* The name the audit trail shows beside the uid agentd sees. */
static const char *
ctl_user(void)
{
	const char *u = getenv("SUDO_USER");
	struct passwd *pw;

	if (u != NULL && *u != '\0' && strlen(u) <= 64)
		return u;
	if ((pw = getpwuid(getuid())) != NULL && strlen(pw->pw_name) <= 64)
		return pw->pw_name;
	return "";
}

static void
ctl_support_print(json_t *ss)
{
	char id[64], st[32], conn[300], by[600], reason[600], when[64];
	json_int_t exp = json_integer_value(json_object_get(ss, "expires"));
	time_t t = (time_t)exp;

	printf("%s: %s", ctl_text(ss, "id", id, sizeof(id)),
	    ctl_text(ss, "state", st, sizeof(st)));
	if (exp > 0 && strcmp(st, "open") == 0) {
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&t));
		printf(" until %s, %lld connection(s) open", when,
		    (long long)json_integer_value(json_object_get(ss,
		    "open_connections")));
	}
	if (json_object_get(ss, "end_reason") != NULL)
		printf(" (%s)", ctl_text(ss, "end_reason", reason,
		    sizeof(reason)));
	printf("\n  requested by %s: %s\n", ctl_text(ss, "requested_by", by,
	    sizeof(by)), ctl_text(ss, "reason", reason, sizeof(reason)));
	if (strcmp(st, "open") == 0 || strcmp(st, "waiting") == 0)
		printf("  connect: %s\n", ctl_text(ss, "connect", conn,
		    sizeof(conn)));
}

/* support open|approve|deny|close|status: argv[0] is "support". */
static int
ctl_support(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ttl", required_argument, NULL, 't' },
		{ "reason", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sub = argc > 1 ? argv[1] : "";
	const char *reason = "";
	json_t *req, *reply, *a, *ss;
	unsigned ttl = 0;
	bool as_json = false;
	char id[64];
	size_t i;
	int ch;

	optind = 2;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 't':
			if (time_parse_duration(optarg, &ttl) != 0 ||
			    ttl == 0 || ttl > 7 * 86400) {
				fprintf(stderr, "agentctl: --ttl '%s' is not a "
				    "duration up to 7d (e.g. 2h)\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'r':
			reason = optarg;
			break;
		case 'j':
			as_json = true;
			break;
		default:
			return -1;
		}
	}
	req = json_object();
	json_object_set_new(req, "user", json_string(ctl_user()));
	if (strcmp(sub, "open") == 0 && optind == argc) {
		json_object_set_new(req, "cmd", json_string("support_open"));
		json_object_set_new(req, "ttl", json_integer(ttl));
		json_object_set_new(req, "reason", json_string(reason));
		reply = ctl_request_json(req);
		printf("session %s %s\nconnect: %s\n", ctl_text(reply,
		    "session", id, sizeof(id)), json_string_value(
		    json_object_get(reply, "state")), json_string_value(
		    json_object_get(reply, "connect")));
		json_decref(reply);
		return 0;
	}
	if ((strcmp(sub, "approve") == 0 || strcmp(sub, "deny") == 0) &&
	    optind == argc - 1) {
		json_object_set_new(req, "cmd", json_string(strcmp(sub,
		    "approve") == 0 ? "support_approve" : "support_deny"));
		json_object_set_new(req, "id", json_string(argv[optind]));
		json_decref(ctl_request_json(req));
		printf("%s %s\n", argv[optind], strcmp(sub, "approve") == 0 ?
		    "approved" : "denied");
		return 0;
	}
	if (strcmp(sub, "close") == 0 && optind >= argc - 1) {
		json_object_set_new(req, "cmd", json_string("support_close"));
		if (optind == argc - 1)
			json_object_set_new(req, "id",
			    json_string(argv[optind]));
		json_decref(ctl_request_json(req));
		printf("closed\n");
		return 0;
	}
	if (strcmp(sub, "status") == 0 && optind == argc) {
		json_object_set_new(req, "cmd", json_string("support_status"));
		reply = ctl_request_json(req);
		a = json_object_get(reply, "sessions");
		if (as_json) {
			json_dumpf(a, stdout, JSON_INDENT(2));
			putchar('\n');
		} else if (json_array_size(a) == 0)
			printf("no support sessions\n");
		json_array_foreach(a, i, ss)
			if (!as_json)
				ctl_support_print(ss);
		json_decref(reply);
		return 0;
	}
	json_decref(req);
	return -1;
}

static void
ctl_maintenance_print(json_t *reply)
{
	json_t *w = json_object_get(reply, "window"), *a, *sl;
	char when[64], by[400], reason[600], name[80];
	size_t i;

	if (json_is_object(w)) {
		ctl_stamp(json_integer_value(json_object_get(w, "until")),
		    when, sizeof(when));
		printf("maintenance until %s, by %s: %s\n", when,
		    ctl_text(w, "by", by, sizeof(by)),
		    ctl_text(w, "reason", reason, sizeof(reason)));
	} else
		printf("no maintenance window\n");
	a = json_object_get(reply, "silences");
	json_array_foreach(a, i, sl) {
		ctl_stamp(json_integer_value(json_object_get(sl, "until")),
		    when, sizeof(when));
		printf("silenced: %s until %s, by %s\n", ctl_text(sl, "check",
		    name, sizeof(name)), when, ctl_text(sl, "by", by,
		    sizeof(by)));
	}
}

/* maintenance start|stop|status and silence NAME: argv[0] is the command.
 * Returns -1 for a usage error. */
static int
ctl_maintenance(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "for", required_argument, NULL, 'f' },
		{ "reason", required_argument, NULL, 'r' },
		{ "clear", no_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	bool silence = strcmp(argv[0], "silence") == 0, clear = false;
	const char *sub = argc > 1 ? argv[1] : "", *reason = "";
	unsigned secs = 0;
	json_t *req;
	int ch;

	optind = 2;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (time_parse_duration(optarg, &secs) != 0 ||
			    secs == 0 || secs > MAINTENANCE_MAX_SECONDS) {
				fprintf(stderr, "agentctl: --for '%s' is not a "
				    "duration up to %dd (e.g. 2h)\n", optarg,
				    MAINTENANCE_MAX_SECONDS / 86400);
				return EXIT_USAGE;
			}
			break;
		case 'r':
			reason = optarg;
			break;
		case 'c':
			clear = true;
			break;
		default:
			return -1;
		}
	}
	if (optind != argc)
		return -1;
	req = json_object();
	json_object_set_new(req, "user", json_string(ctl_user()));
	if (silence && (secs != 0) != !clear)
		goto usage;
	if (silence) {
		json_object_set_new(req, "cmd", json_string("silence"));
		json_object_set_new(req, "name", json_string(sub));
		json_object_set_new(req, "seconds", json_integer(secs));
	} else if (strcmp(sub, "start") == 0 && secs != 0 && !clear) {
		json_object_set_new(req, "cmd",
		    json_string("maintenance_start"));
		json_object_set_new(req, "seconds", json_integer(secs));
		json_object_set_new(req, "reason", json_string(reason));
	} else if ((strcmp(sub, "stop") == 0 || strcmp(sub, "status") == 0) &&
	    secs == 0 && !clear && *reason == '\0')
		json_object_set_new(req, "cmd", json_string(strcmp(sub,
		    "stop") == 0 ? "maintenance_stop" : "maintenance_status"));
	else
		goto usage;
	req = ctl_request_json(req);
	ctl_maintenance_print(req);
	json_decref(req);
	return 0;
usage:
	json_decref(req);
	return -1;
}

/* support key: the public line, the pair made on first use. As root, as
 * enroll: the files get state_dir's owner so agentd can use them. */
static int
ctl_support_key(void)
{
	char pub[SSHKEY_PUB_MAX + 1], err[1024];
	bool created;
	int r;

	if ((r = enroll_check_state_dir(ctl_state_dir(), err,
	    sizeof(err))) < 0 ||
	    (r = sshkey_ensure(ctl_state_dir(), pub, sizeof(pub), &created,
	    err, sizeof(err))) < 0) {
		fprintf(stderr, "agentctl: support key: %s\n", err);
		return r == -EACCES ? EXIT_NOPERM : EXIT_IOERR;
	}
	if (created)
		fprintf(stderr, "agentctl: made the support key %s/%s/%s\n",
		    ctl_state_dir(), SSHKEY_DIR, SSHKEY_FILE);
	printf("%s\n", pub);
	return 0;
}

static int
ctl_enroll(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "portal", required_argument, NULL, 'p' },
		{ "token", required_argument, NULL, 't' },
		{ "token-file", required_argument, NULL, 'T' },
		{ "ca", required_argument, NULL, 'c' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *portal = NULL, *token = NULL, *token_file = NULL;
	const char *ca = NULL;
	char tokbuf[TOKEN_FILE_MAX], err[1024], pub[SSHKEY_PUB_MAX + 1];
	struct identity *id = NULL;
	bool force = false, created;
	int ch, r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			portal = optarg;
			break;
		case 't':
			token = optarg;
			break;
		case 'T':
			token_file = optarg;
			break;
		case 'c':
			ca = optarg;
			break;
		case 'f':
			force = true;
			break;
		default:
			ctl_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc || portal == NULL) {
		fprintf(stderr, "agentctl: enroll needs --portal URL\n");
		return EXIT_USAGE;
	}
	if (token != NULL && token_file != NULL) {
		fprintf(stderr, "agentctl: give --token or --token-file, not "
		    "both\n");
		return EXIT_USAGE;
	}
	if (token_file != NULL) {
		if ((r = ctl_read_token_file(token_file, tokbuf,
		    sizeof(tokbuf))) != 0)
			return r;
		token = tokbuf;
	}
	if (token == NULL)
		token = getenv("AGENTD_ENROLL_TOKEN");
	if (token == NULL || *token == '\0') {
		fprintf(stderr, "agentctl: enroll needs a token: --token-file F, "
		    "$AGENTD_ENROLL_TOKEN or --token T\n");
		return EXIT_USAGE;
	}
	/* The support key is made (once) before the token is spent, so the
	 * portal gets it with the enrolment (issue 10). */
	if ((r = enroll_check_state_dir(ctl_state_dir(), err,
	    sizeof(err))) < 0 ||
	    (r = sshkey_ensure(ctl_state_dir(), pub, sizeof(pub), &created,
	    err, sizeof(err))) < 0) {
		explicit_bzero(tokbuf, sizeof(tokbuf));
		fprintf(stderr, "agentctl: cannot make the agent's support "
		    "key: %s\n", err);
		return r == -EACCES ? EXIT_NOPERM : EXIT_IOERR;
	}
	r = enroll_run(portal, token, ca, pub, ctl_state_dir(), force, err,
	    sizeof(err));
	explicit_bzero(tokbuf, sizeof(tokbuf));
	if (r < 0) {
		fprintf(stderr, "agentctl: %s\n", err);
		return ctl_enroll_exit(r);
	}
	/* Read back what agentd will read. */
	if (identity_load(ctl_state_dir(), &id, err, sizeof(err)) < 0) {
		fprintf(stderr, "agentctl: enrolled, but the identity does not "
		    "read back: %s\n", err);
		return EXIT_IOERR;
	}
	printf("enrolled as %s with %s; identity in %s/%s\n", id->agent_id,
	    id->portal, ctl_state_dir(), IDENTITY_FILE);
	if (id->bastion_user != NULL && id->forward_port != 0)
		printf("support bastion %s: user %s, forward port %u\n",
		    id->bastion_address, id->bastion_user, id->forward_port);
	identity_free(id);
	ctl_notify_agent();
	return 0;
}

static int
ctl_unenroll(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	char msg[1024];
	bool force = false;
	int ch, r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'f') {
			ctl_usage(stderr);
			return EXIT_USAGE;
		}
		force = true;
	}
	if (optind != argc) {
		ctl_usage(stderr);
		return EXIT_USAGE;
	}
	r = enroll_revoke(ctl_state_dir(), force, msg, sizeof(msg));
	if (r < 0) {
		fprintf(stderr, "agentctl: %s\n", msg);
		return r == -ENOENT ? EXIT_REFUSED : ctl_enroll_exit(r);
	}
	printf("%s\n", msg);
	ctl_notify_agent();
	return 0;
}

/* ---- restore, recovery kit, DR restore: in agentctl itself, as root ---- */

/* Follows a restore for the terminal: files, bytes, rate, ETA. */
struct ctl_progress {
	const struct restore_stats *stats;
	uint64_t	 total_bytes;	/* 0: unknown (a path filter) */
	struct timespec	 start, last;
	bool		 tty, shown;
};

static double
ctl_elapsed(const struct timespec *from, const struct timespec *to)
{
	return (double)(to->tv_sec - from->tv_sec) +
	    (double)(to->tv_nsec - from->tv_nsec) / 1e9;
}

static void
ctl_restore_progress(void *arg, const char *path)
{
	struct ctl_progress *p = arg;
	struct timespec now;
	char	 bytes[32], rate[32], eta[32] = "";
	double	 t, r;

	(void)path;
	if (!p->tty)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (p->shown && ctl_elapsed(&p->last, &now) < 0.25)
		return;
	p->last = now;
	t = ctl_elapsed(&p->start, &now);
	r = t > 0 ? (double)p->stats->bytes / t : 0;
	ctl_bytes((json_int_t)p->stats->bytes, bytes, sizeof(bytes));
	ctl_bytes((json_int_t)r, rate, sizeof(rate));
	if (p->total_bytes > p->stats->bytes && r > 0) {
		snprintf(eta, sizeof(eta), ", ETA ");
		ctl_duration((json_int_t)((double)(p->total_bytes -
		    p->stats->bytes) / r), eta + 6, sizeof(eta) - 6);
	}
	fprintf(stderr, "\r%llu files, %s, %s/s%s\033[K",
	    (unsigned long long)p->stats->files, bytes, rate, eta);
	p->shown = true;
}

/* Prints each path a dry run would restore (escaped). */
static void
ctl_dry_entry(void *arg, const char *path)
{
	char	 eb[1024];

	(void)arg;
	printf("  %s\n", log_escape(eb, sizeof(eb), path));
}

struct ctl_restore_args {
	const char	*snapshot;	/* id or "latest" */
	const char	*to;
	const char	**paths;
	size_t		 npaths;
	bool		 dry_run;
	enum restore_overwrite overwrite;
};

/*
 * Opens the target at url. An sftp:// one is served by a network child
 * (sftp_child.c: nobody when we are root, no capability) started here with
 * sc; we send it names and encrypted bytes only, and it wipes its copy of
 * key (ours, CRYPT_KEYBYTES; may be NULL) before anything else. 0, or -1
 * with a message that starts with what.
 */
static int
ctl_target_open(const char *what, const char *url,
    const struct sftp_conf *sc, uint8_t *key, struct target **t)
{
	char	 err[512];
	int	 r, sftp = strncmp(url, "sftp://", 7) == 0;

	*t = NULL;
	if (sftp && sc == NULL) {
		fprintf(stderr, "agentctl: %s: target %s: no sftp settings\n",
		    what, url);
		return -1;
	}
	if (sftp && (r = sftp_child_start(sc, -1, key, key != NULL ?
	    CRYPT_KEYBYTES : 0, err, sizeof(err))) < 0) {
		fprintf(stderr, "agentctl: %s: target %s: %s\n", what, url,
		    err);
		return -1;
	}
	if ((r = target_open(url, t)) != 0) {
		fprintf(stderr, "agentctl: %s: target %s: %s\n", what, url,
		    sftp && target_proxy_error()[0] != '\0' ?
		    target_proxy_error() : r == -EINVAL ? "not a target URL "
		    "this agentctl knows" : strerror(-r));
		sftp_child_stop();
		return -1;
	}
	return 0;
}

/* Closes a target of ctl_target_open and ends its network child. */
static void
ctl_target_close(struct target *t)
{
	target_close(t);
	sftp_child_stop();
}

/* A job's sftp settings (config.h), borrowed from bc. */
static void
ctl_bk_sftp(const struct backup_conf *bc, struct sftp_conf *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->host_key = bc->sftp_host_key;
	sc->key_file = bc->sftp_key_file;
	sc->bandwidth = bc->bandwidth_limit;
	sc->timeout = bc->sftp_timeout;
}

/*
 * The snapshot of job that spec names ("latest" or an id). A snapshot
 * whose manifest names no job (made without one) counts as the job's:
 * the key already tells the jobs of one target apart.
 */
static const struct catalog_entry *
ctl_restore_pick(const struct catalog *cat, const char *job,
    const char *spec)
{
	const struct catalog_entry *ce;
	size_t	 i;

	for (i = cat->n; i > 0; i--) {
		ce = &cat->entries[i - 1];
		if (ce->job[0] != '\0' && strcmp(ce->job, job) != 0)
			continue;
		if (strcmp(spec, "latest") == 0 || strcmp(spec, ce->id) == 0)
			return ce;
	}
	return NULL;
}

/*
 * Restores one snapshot of job from the target at url (sc: its sftp
 * settings, NULL for none) into a->to. Exit 0 when every file was
 * restored and matched its hash, 2 when that holds but existing paths
 * were kept (--overwrite), 1 otherwise.
 */
static int
ctl_restore_from(const char *url, const struct sftp_conf *sc, uint8_t *key,
    const char *job, const struct ctl_restore_args *a)
{
	struct target *t = NULL;
	struct catalog cat = { 0 };
	const struct catalog_entry *ce;
	struct restore_opts o;
	struct restore_stats st;
	struct ctl_progress prog = { 0 };
	struct timespec end;
	char	 id[MANIFEST_ID_MAX], bytes[32];
	int	 r, code = EXIT_REFUSED;

	/* Owners, some attributes and device nodes need root; say so once
	 * rather than let each file warn. */
	if (!a->dry_run && geteuid() != 0)
		fprintf(stderr, "agentctl: not root: owners and special files "
		    "may not be restored\n");
	if (ctl_target_open("restore", url, sc, key, &t) != 0)
		return EXIT_UNAVAIL;
	if ((r = catalog_load(t, key, NULL, &cat)) != 0) {
		fprintf(stderr, "agentctl: cannot list %s: %s\n", url,
		    strerror(-r));
		code = EXIT_UNAVAIL;
		goto out;
	}
	if ((ce = ctl_restore_pick(&cat, job, a->snapshot)) == NULL) {
		fprintf(stderr, "agentctl: %s: no %s snapshot of job %s%s\n",
		    url, strcmp(a->snapshot, "latest") == 0 ? "readable" :
		    "such", job, cat.unreadable > 0 ? " (some manifests could "
		    "not be read or authenticated: wrong key, or tampered "
		    "with)" : cat.foreign > 0 ? " (its snapshots are under "
		    "another key: wrong key)" : "");
		goto out;
	}
	snprintf(id, sizeof(id), "%s", ce->id);
	memset(&o, 0, sizeof(o));
	o.to = a->to;
	o.paths = a->paths;
	o.npaths = a->npaths;
	o.dry_run = a->dry_run;
	o.key = key;
	o.overwrite = a->overwrite;
	if (a->dry_run)
		o.on_entry = ctl_dry_entry;
	else {
		prog.stats = &st;
		prog.total_bytes = a->npaths == 0 ? ce->bytes : 0;
		prog.tty = isatty(STDERR_FILENO);
		o.on_entry = ctl_restore_progress;
		o.arg = &prog;
	}
	clock_gettime(CLOCK_MONOTONIC, &prog.start);
	if (a->dry_run)
		printf("would restore %s of job %s into %s:\n", id, job, a->to);
	r = restore_snapshot(t, id, &o, &st);
	clock_gettime(CLOCK_MONOTONIC, &end);
	if (prog.shown)
		fputc('\n', stderr);
	ctl_bytes((json_int_t)st.bytes, bytes, sizeof(bytes));
	printf("%s %s: %llu entries, %llu files, %s, %.1fs, %llu kept, "
	    "%llu refused, %llu mismatched%s\n", a->dry_run ? "dry run" :
	    "restored", id, (unsigned long long)st.entries,
	    (unsigned long long)st.files, bytes, ctl_elapsed(&prog.start, &end),
	    (unsigned long long)st.kept, (unsigned long long)st.refused,
	    (unsigned long long)st.mismatched, r == 0 ? "" : ": FAILED");
	if (r == 0)
		code = st.kept > 0 ? 2 : 0;
 out:
	catalog_free(&cat);
	ctl_target_close(t);
	return code;
}

/* Options shared by restore and dr-restore; the rest of argv in *rest. */
static int
ctl_restore_opts(int argc, char **argv, struct ctl_restore_args *a,
    const char **kit)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "path", required_argument, NULL, 'p' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "overwrite", required_argument, NULL, 'o' },
		{ "kit", required_argument, NULL, 'k' },
		{ "snapshot", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	int	 ch;

	optind = 0;	/* glibc: a full re-init, so options may follow NAME */
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 't':
			a->to = optarg;
			break;
		case 'p':
			a->paths = xreallocarray(a->paths, a->npaths + 1,
			    sizeof(*a->paths));
			a->paths[a->npaths++] = optarg;
			break;
		case 'n':
			a->dry_run = true;
			break;
		case 'o':
			if (strcmp(optarg, "always") == 0)
				a->overwrite = RESTORE_OVERWRITE_ALWAYS;
			else if (strcmp(optarg, "never") == 0)
				a->overwrite = RESTORE_OVERWRITE_NEVER;
			else if (strcmp(optarg, "older") == 0)
				a->overwrite = RESTORE_OVERWRITE_OLDER;
			else {
				fprintf(stderr, "agentctl: --overwrite takes "
				    "never, older or always\n");
				return EXIT_USAGE;
			}
			break;
		case 'k':
			if (kit == NULL)
				return EXIT_USAGE;
			*kit = optarg;
			break;
		case 's':
			if (kit == NULL)
				return EXIT_USAGE;
			a->snapshot = optarg;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (a->to == NULL) {
		fprintf(stderr, "agentctl: --to DIR is required\n");
		return EXIT_USAGE;
	}
	return 0;
}

/* ---- backup list, verify, forget: the engine, here, as root ---- */

/* The job of the config, or NULL with a message. */
static const struct backup_conf *
ctl_bk_job(const char *name)
{
	char esc[160];

	if (ctl_config == NULL) {
		fprintf(stderr, "agentctl: no config at %s, so no backup "
		    "jobs\n", ctl_config_path);
		return NULL;
	}
	for (size_t i = 0; i < ctl_config->nbackups; i++)
		if (strcmp(ctl_config->backups[i].name, name) == 0)
			return &ctl_config->backups[i];
	fprintf(stderr, "agentctl: no backup job %s in %s\n",
	    log_escape(esc, sizeof(esc), name), ctl_config_path);
	return NULL;
}

/* Opens the job's target and loads its key (when it has encryption);
 * *keyp NULL for none. 0; 1 when there is no key yet and no_key_ok (the
 * job never ran here, so it has no snapshot); -1 with a message. */
static int
ctl_bk_open(const struct backup_conf *bc, struct target **t, uint8_t *key,
    const uint8_t **keyp, int no_key_ok)
{
	char path[PATH_MAX], what[96];
	struct sftp_conf sc;
	int r;

	*t = NULL;
	*keyp = NULL;
	if (bc->encryption) {
		backup_key_path(ctl_state_dir(), bc->name, path, sizeof(path));
		if ((r = crypt_key_load(path, key)) == -ENOENT && no_key_ok)
			return 1;
		if (r != 0) {
			fprintf(stderr, "agentctl: backup %s: key %s: %s%s\n",
			    bc->name, path, r == -EINVAL ? "malformed" :
			    strerror(-r), r == -ENOENT ? " (the job has "
			    "never run here?)" : "");
			return -1;
		}
		*keyp = key;
	}
	ctl_bk_sftp(bc, &sc);
	snprintf(what, sizeof(what), "backup %s", bc->name);
	if (ctl_target_open(what, bc->target, &sc, key, t) != 0) {
		explicit_bzero(key, CRYPT_KEYBYTES);
		*keyp = NULL;
		return -1;
	}
	return 0;
}

static int
ctl_restore(int argc, char **argv)
{
	struct ctl_restore_args a = { 0 };
	struct backup_conf *bc;
	struct sftp_conf sc;
	uint8_t	 key[CRYPT_KEYBYTES];
	char	*keyfile = NULL;
	int	 r;

	if ((r = ctl_restore_opts(argc, argv, &a, NULL)) != 0 ||
	    argc - optind != 2) {
		if (r == 0)
			fprintf(stderr, "agentctl: restore NAME SNAPSHOT|latest "
			    "--to DIR\n");
		r = EXIT_USAGE;
		goto out;
	}
	a.snapshot = argv[optind + 1];
	if (ctl_config == NULL || (bc = config_find_backup(ctl_config,
	    argv[optind])) == NULL) {
		fprintf(stderr, "agentctl: no backup job %s in %s (on a host "
		    "without its config: agentctl dr-restore --kit)\n",
		    argv[optind], ctl_config_path);
		r = EXIT_REFUSED;
		goto out;
	}
	if (bc->encryption) {
		xasprintf(&keyfile, "%s/backup/%s.key", ctl_state_dir(),
		    bc->name);
		if ((r = crypt_key_load(keyfile, key)) != 0) {
			fprintf(stderr, "agentctl: key file %s: %s\n", keyfile,
			    r == -EINVAL ? "malformed" : strerror(-r));
			r = EXIT_REFUSED;
			goto out;
		}
	}
	ctl_bk_sftp(bc, &sc);
	r = ctl_restore_from(bc->target, &sc, bc->encryption ? key : NULL,
	    bc->name, &a);
 out:
	explicit_bzero(key, sizeof(key));
	free(keyfile);
	free(a.paths);
	return r;
}

/* One argv word quoted for argv_split (collectors/argv.h). */
static void
ctl_kit_word(FILE *fp, const char *w)
{
	if (strchr(w, '\'') == NULL) {
		fprintf(fp, "'%s'", w);
		return;
	}
	fputc('"', fp);
	for (; *w != '\0'; w++) {
		if (strchr("\"\\$`", *w) != NULL)
			fputc('\\', fp);
		fputc(*w, fp);
	}
	fputc('"', fp);
}

static void
ctl_kit_conf_argv(struct kit *k, const char *name, char **argv)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp;

	if (argv == NULL || (fp = open_memstream(&buf, &len)) == NULL)
		return;
	fprintf(fp, "%s =", name);
	for (; *argv != NULL; argv++) {
		fputc(' ', fp);
		ctl_kit_word(fp, *argv);
	}
	fclose(fp);
	kit_add_conf(k, "%s", buf);
	free(buf);
}

/* The job's [backup.NAME] section, as agentd read it. */
static void
ctl_kit_conf(struct kit *k, const struct backup_conf *bc)
{
	kit_add_conf(k, "[backup.%s]", bc->name);
	ctl_kit_conf_argv(k, "paths", bc->paths);
	ctl_kit_conf_argv(k, "exclude", bc->excludes);
	kit_add_conf(k, "one_file_system = %s",
	    bc->one_file_system ? "yes" : "no");
	kit_add_conf(k, "target = %s", bc->target);
	if (bc->sftp_host_key != NULL)
		kit_add_conf(k, "sftp_host_key = %s", bc->sftp_host_key);
	if (bc->sftp_key_file != NULL) {
		kit_add_conf(k, "sftp_key_file = %s", bc->sftp_key_file);
		kit_add_conf(k, "sftp_timeout = %u", bc->sftp_timeout);
	}
	if (bc->schedule != NULL) {
		kit_add_conf(k, "schedule = %s", bc->schedule);
		kit_add_conf(k, "randomized_delay = %u", bc->randomized_delay);
	}
	kit_add_conf(k, "compression = %d", bc->compression);
	kit_add_conf(k, "encryption = %s", bc->encryption ? "yes" : "no");
	ctl_kit_conf_argv(k, "pre_hook", bc->pre_hook);
	ctl_kit_conf_argv(k, "post_hook", bc->post_hook);
}

/* An sftp job's pinned host key and private key (the file's text) into
 * the kit, so that dr-restore needs nothing else. 0, or -1 said. */
static int
ctl_kit_sftp(struct kit *k, const struct backup_conf *bc)
{
	char	 buf[KIT_MAX_LINE];
	size_t	 len = 0;
	int	 r;

	if ((r = sysfile_read_small(bc->sftp_key_file, buf, sizeof(buf),
	    &len)) != 0) {
		fprintf(stderr, "agentctl: sftp_key_file %s: %s\n",
		    bc->sftp_key_file, r == -EFBIG ? "too long for a kit" :
		    strerror(-r));
		explicit_bzero(buf, sizeof(buf));
		return -1;
	}
	k->host_key = xstrdup(bc->sftp_host_key);
	k->credential = xstrdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

/*
 * backup kit NAME --out FILE [--force]: written 0600 with O_EXCL (--force
 * replaces an existing file: through a new one, never by writing into
 * it, so its old mode or owner cannot leak the key).
 */
static int
ctl_backup_kit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct kit k = { 0 }, check = { 0 };
	struct backup_conf *bc;
	struct stat st;
	const char *out = NULL;
	char	*keyfile = NULL, *text = NULL, *tmp = NULL, err[256] = "";
	size_t	 len = 0;
	bool	 force = false;
	int	 ch, r = EXIT_REFUSED, fd = -1;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'o')
			out = optarg;
		else if (ch == 'f')
			force = true;
		else
			return EXIT_USAGE;
	}
	if (out == NULL || argc - optind != 1) {
		fprintf(stderr, "agentctl: backup kit NAME --out FILE "
		    "[--force]\n");
		return EXIT_USAGE;
	}
	if (ctl_config == NULL || (bc = config_find_backup(ctl_config,
	    argv[optind])) == NULL) {
		fprintf(stderr, "agentctl: no backup job %s in %s\n",
		    argv[optind], ctl_config_path);
		return EXIT_REFUSED;
	}
	k.job = xstrdup(bc->name);
	k.target = xstrdup(bc->target);
	k.created = (long long)time(NULL);
	k.encrypted = bc->encryption;
	if (bc->encryption) {
		xasprintf(&keyfile, "%s/backup/%s.key", ctl_state_dir(),
		    bc->name);
		if ((r = crypt_key_load(keyfile, k.key)) != 0) {
			fprintf(stderr, "agentctl: key file %s: %s%s\n",
			    keyfile, r == -EINVAL ? "malformed" : strerror(-r),
			    r == -ENOENT ? " (the key is made at the job's "
			    "first run)" : "");
			r = EXIT_REFUSED;
			goto out;
		}
	}
	if (strncmp(bc->target, "sftp://", 7) == 0 &&
	    ctl_kit_sftp(&k, bc) != 0) {
		r = EXIT_REFUSED;
		goto out;
	}
	ctl_kit_conf(&k, bc);
	/* What is written must be what dr-restore reads (a long private
	 * key could pass a kit line's bound). */
	if (kit_format(&k, &text, &len) != 0 ||
	    kit_parse(text, len, &check, err, sizeof(err)) != 0) {
		fprintf(stderr, "agentctl: cannot format the kit%s%s\n",
		    text != NULL ? ": " : "", text != NULL ? err : "");
		r = EXIT_REFUSED;
		goto out;
	}
	kit_free(&check);
	if (force)
		xasprintf(&tmp, "%s.tmp-%ld", out, (long)getpid());
	if ((fd = open(tmp != NULL ? tmp : out, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
		fprintf(stderr, "agentctl: %s: %s%s\n", out, strerror(errno),
		    errno == EEXIST ? " (refusing to replace it; --force "
		    "does)" : "");
		r = errno == EEXIST ? EXIT_REFUSED : EXIT_IOERR;
		goto out;
	}
	/* The umask can only narrow 0600, but a default ACL could widen it. */
	if (fchmod(fd, 0600) == -1 || fstat(fd, &st) == -1 ||
	    (st.st_mode & 077) != 0) {
		fprintf(stderr, "agentctl: %s: cannot make it readable by its "
		    "owner only\n", out);
		r = EXIT_IOERR;
		goto unlink;
	}
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) == -1) {
		fprintf(stderr, "agentctl: %s: %s\n", out, strerror(errno));
		r = EXIT_IOERR;
		goto unlink;
	}
	if (tmp != NULL && rename(tmp, out) == -1) {
		fprintf(stderr, "agentctl: %s: %s\n", out, strerror(errno));
		r = EXIT_IOERR;
		goto unlink;
	}
	printf("recovery kit for job %s written to %s (mode 0600): it holds "
	    "the encryption key; keep it offline\n", k.job, out);
	r = 0;
	goto out;
 unlink:
	unlink(tmp != NULL ? tmp : out);
 out:
	if (fd != -1)
		close(fd);
	if (text != NULL) {
		explicit_bzero(text, len);
		free(text);
	}
	free(tmp);
	free(keyfile);
	kit_free(&k);
	return r;
}

/*
 * Reads a kit. Like OpenSSH with a private key, a kit that others can
 * read is refused: its key may have leaked, and the admin must know.
 */
static int
ctl_kit_load(const char *path, struct kit *k)
{
	char	 buf[KIT_MAX_SIZE + 1], err[256];
	struct stat st;
	ssize_t	 n;
	size_t	 len = 0;
	int	 fd, r = EXIT_REFUSED;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		fprintf(stderr, "agentctl: kit %s: %s\n", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return EXIT_REFUSED;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "agentctl: kit %s: not a regular file\n", path);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		fprintf(stderr, "agentctl: kit %s: mode %04o: readable by "
		    "others, refused (its key may have leaked; chmod 600 it "
		    "to use it)\n", path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	while (len < sizeof(buf) && (n = read(fd, buf + len,
	    sizeof(buf) - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "agentctl: kit %s: %s\n", path,
			    strerror(errno));
			goto out;
		}
		len += (size_t)n;
	}
	if (kit_parse(buf, len, k, err, sizeof(err)) != 0) {
		fprintf(stderr, "agentctl: kit %s: %s\n", path, err);
		goto out;
	}
	r = 0;
 out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return r;
}

/*
 * dr-restore --kit FILE --to DIR [--snapshot ID|latest]: no config, no
 * state; everything comes from the kit. An sftp:// target logs in with the
 * kit's credential, handed to the network child in memory (never written
 * to a file), and must offer the kit's pinned host key.
 */
static int
ctl_dr_restore(int argc, char **argv)
{
	struct ctl_restore_args a = { .snapshot = "latest" };
	struct kit k = { 0 };
	struct sftp_conf sc = { .timeout = 30 };
	const char *kitpath = NULL;
	int	 r, sftp;

	if ((r = ctl_restore_opts(argc, argv, &a, &kitpath)) != 0 ||
	    optind != argc || kitpath == NULL) {
		fprintf(stderr, "agentctl: dr-restore --kit FILE --to DIR "
		    "[--snapshot ID|latest]\n");
		free(a.paths);
		return EXIT_USAGE;
	}
	if ((r = ctl_kit_load(kitpath, &k)) != 0)
		goto out;
	sftp = strncmp(k.target, "sftp://", 7) == 0;
	if (sftp && (k.host_key == NULL || k.credential == NULL)) {
		fprintf(stderr, "agentctl: kit %s: the sftp target needs the "
		    "kit's host_key and credential, and it has %s\n", kitpath,
		    k.host_key == NULL && k.credential == NULL ? "neither" :
		    k.host_key == NULL ? "no host_key" : "no credential");
		r = EXIT_REFUSED;
		goto out;
	}
	if (!sftp && (k.host_key != NULL || k.credential != NULL))
		fprintf(stderr, "agentctl: note: the kit's SFTP fields are "
		    "not used: its target is not sftp://\n");
	sc.host_key = k.host_key;
	sc.key_text = k.credential;
	r = ctl_restore_from(k.target, sftp ? &sc : NULL,
	    k.encrypted ? k.key : NULL, k.job, &a);
 out:
	kit_free(&k);
	free(a.paths);
	return r;
}

/* One job's snapshots into a (JSON) or onto stdout. 0, or -1. */
static int
ctl_bk_list_job(const struct backup_conf *bc, json_t *a)
{
	uint8_t key[CRYPT_KEYBYTES];
	const uint8_t *k;
	struct target *t;
	struct catalog c;
	char when[32], size[32], stored[32];
	int r, ret = 0;

	if ((r = ctl_bk_open(bc, &t, key, &k, 1)) != 0)
		return r > 0 ? 0 : -1;
	if ((r = catalog_load(t, k, bc->name, &c)) != 0) {
		fprintf(stderr, "agentctl: backup %s: cannot list %s: %s\n",
		    bc->name, bc->target, strerror(-r));
		ret = -1;
		goto out;
	}
	/* Another job's snapshots on a shared target name their key's id
	 * and are passed over (c.foreign). Not a failure either: ones
	 * written before the key id, which look just like damaged ones
	 * here; verify tells damage apart. */
	if (c.unreadable > 0)
		fprintf(stderr, "agentctl: backup %s: %zu manifests on %s do "
		    "not open with this job's key (damaged, or another job's "
		    "written before key ids: `agentctl backup verify` checks "
		    "a snapshot)\n", bc->name, c.unreadable, bc->target);
	for (size_t i = 0; i < c.n; i++) {
		const struct catalog_entry *e = &c.entries[i];

		if (a != NULL) {
			/* Eleven pairs: id, job, kind, parent, started,
			 * finished, files, bytes, stored_bytes, status,
			 * target. */
			json_array_append_new(a, json_pack("{s:s, s:s, s:s, "
			    "s:o, s:I, s:o, s:I, s:I, s:I, s:s, s:s}",
			    "id", e->id, "job", bc->name,
			    "kind", e->incremental ? "incremental" : "full",
			    "parent", e->parent[0] != '\0' ?
			    json_string(e->parent) : json_null(),
			    "started", (json_int_t)e->started,
			    "finished", e->finished != 0 ?
			    json_integer((json_int_t)e->finished) :
			    json_null(),
			    "files", (json_int_t)e->files,
			    "bytes", (json_int_t)e->bytes,
			    "stored_bytes", (json_int_t)e->stored_bytes,
			    "status", e->partial ? "partial" : "ok",
			    "target", bc->target));
			continue;
		}
		ctl_stamp(e->started, when, sizeof(when));
		ctl_bytes((json_int_t)e->bytes, size, sizeof(size));
		ctl_bytes((json_int_t)e->stored_bytes, stored, sizeof(stored));
		printf("%-12s %-26s %-11s %-19s %8llu %10s %10s %-7s %s\n",
		    bc->name, e->id, e->incremental ? "incremental" : "full",
		    when, (unsigned long long)e->files, size, stored,
		    e->partial ? "partial" : "ok",
		    e->parent[0] != '\0' ? e->parent : "-");
	}
	catalog_free(&c);
out:
	ctl_target_close(t);
	explicit_bzero(key, sizeof(key));
	return ret;
}

/* backup list [NAME] [--json]: every job's snapshots, or NAME's. */
static int
ctl_backup_list(const char *name, int as_json)
{
	const struct backup_conf *bc;
	json_t *a = as_json ? json_array() : NULL;
	int ret = 0;

	if (name != NULL && (bc = ctl_bk_job(name)) == NULL) {
		json_decref(a);
		return EXIT_REFUSED;
	}
	if (!as_json)
		printf("%-12s %-26s %-11s %-19s %8s %10s %10s %-7s %s\n", "JOB",
		    "SNAPSHOT", "KIND", "STARTED", "FILES", "SIZE", "STORED",
		    "STATUS", "PARENT");
	for (size_t i = 0; ctl_config != NULL && i < ctl_config->nbackups;
	    i++) {
		bc = &ctl_config->backups[i];
		if (name != NULL && strcmp(bc->name, name) != 0)
			continue;
		if (ctl_bk_list_job(bc, a) != 0)
			ret = EXIT_REFUSED;
	}
	if (as_json) {
		json_dumpf(a, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(a);
	}
	return ret;
}

static void
ctl_bk_bad(void *arg, const char *path, const char *why)
{
	char esc[8192];

	(*(unsigned long long *)arg)++;
	/* Names come from a snapshot: never let them drive the terminal. */
	printf("BAD %s: %s\n", log_escape(esc, sizeof(esc), path), why);
}

/* backup verify NAME SNAPSHOT|latest. Exit 0 intact, 1 anything bad. */
static int
ctl_backup_verify(const char *name, const char *snap)
{
	const struct backup_conf *bc;
	uint8_t key[CRYPT_KEYBYTES];
	const uint8_t *k;
	struct target *t;
	struct catalog c = { 0 };
	struct verify_stats st = { 0 };
	unsigned long long bad = 0;
	char id[MANIFEST_ID_MAX], esc[160];
	int r, ret = EXIT_REFUSED;

	if ((bc = ctl_bk_job(name)) == NULL)
		return EXIT_REFUSED;
	if (ctl_bk_open(bc, &t, key, &k, 0) != 0)
		return EXIT_REFUSED;
	if (strcmp(snap, "latest") == 0) {
		if ((r = catalog_load(t, k, bc->name, &c)) != 0 ||
		    catalog_latest(&c) == NULL) {
			fprintf(stderr, "agentctl: backup %s: %s\n", name,
			    r != 0 ? strerror(-r) : "no snapshot");
			goto out;
		}
		snprintf(id, sizeof(id), "%s", catalog_latest(&c)->id);
	} else if (!target_name_valid(snap) || strlen(snap) >= sizeof(id)) {
		fprintf(stderr, "agentctl: '%s' is not a snapshot id\n",
		    log_escape(esc, sizeof(esc), snap));
		goto out;
	} else
		snprintf(id, sizeof(id), "%s", snap);
	r = verify_snapshot(t, id, k, ctl_bk_bad, &bad, &st);
	if (r == 0) {
		printf("%s: ok, %llu entries, %llu files, %llu bytes "
		    "re-hashed\n", id, (unsigned long long)st.entries,
		    (unsigned long long)st.files,
		    (unsigned long long)st.bytes);
		ret = 0;
	} else if (r == -EBADMSG)
		fprintf(stderr, "agentctl: backup %s: snapshot %s is damaged: "
		    "%llu problems\n", name, id, bad);
	else
		fprintf(stderr, "agentctl: backup %s: snapshot %s cannot be "
		    "read: %s\n", name, id, r == -ENOENT ? "no such snapshot" :
		    strerror(-r));
out:
	catalog_free(&c);
	ctl_target_close(t);
	explicit_bzero(key, sizeof(key));
	return ret;
}

/*
 * The target's local lock file, made here (as root) so that agentd's own
 * runs, as its user, can still open it: the directory and the file get
 * the owner of state_dir.
 */
static int
ctl_bk_lock_file(const struct backup_conf *bc, char *path, size_t len)
{
	char dir[PATH_MAX];
	struct stat st;
	int fd;

	if (stat(ctl_state_dir(), &st) != 0) {
		fprintf(stderr, "agentctl: %s: %s\n", ctl_state_dir(),
		    strerror(errno));
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s/backup", ctl_state_dir());
	if (mkdir(dir, 0700) == 0 && chown(dir, st.st_uid, st.st_gid) != 0)
		fprintf(stderr, "agentctl: warning: chown %s: %s\n", dir,
		    strerror(errno));
	backup_lock_path(ctl_state_dir(), bc->target, path, len);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) < 0) {
		fprintf(stderr, "agentctl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fchown(fd, st.st_uid, st.st_gid) != 0)
		fprintf(stderr, "agentctl: warning: chown %s: %s\n", path,
		    strerror(errno));
	close(fd);
	return 0;
}

/* backup forget NAME [--dry-run]: retention as after each ok run, under
 * the target's lock; the plan printed, kept ones with their reasons. */
static int
ctl_backup_forget(const char *name, int dry)
{
	const struct backup_conf *bc;
	struct retention_policy pol;
	struct backup_lock *lk = NULL;
	struct lock_info holder;
	uint8_t key[CRYPT_KEYBYTES];
	const uint8_t *k;
	struct target *t;
	struct catalog c = { 0 };
	unsigned *keep = NULL;
	char lock[PATH_MAX], why[80];
	size_t gone = 0;
	int r, ret = EXIT_REFUSED;

	if ((bc = ctl_bk_job(name)) == NULL)
		return EXIT_REFUSED;
	pol.keep_last = bc->keep_last;
	pol.keep_daily = bc->keep_daily;
	pol.keep_weekly = bc->keep_weekly;
	pol.keep_monthly = bc->keep_monthly;
	if ((r = ctl_bk_open(bc, &t, key, &k, 1)) != 0) {
		if (r < 0)
			return EXIT_REFUSED;
		printf("no snapshots: job %s has never run here (no key)\n",
		    name);
		return 0;
	}
	if (ctl_bk_lock_file(bc, lock, sizeof(lock)) != 0)
		goto out;
	if ((r = lock_acquire(t, lock, bc->name, &lk, &holder)) != 0) {
		if (r == -EBUSY && holder.pid != 0)
			fprintf(stderr, "agentctl: backup %s: target busy "
			    "(another run holds the lock: pid %ld on %s)\n",
			    name, holder.pid, log_escape(why, sizeof(why),
			    holder.host));
		else if (r == -EBUSY)
			fprintf(stderr, "agentctl: backup %s: target busy "
			    "(another run holds the lock)\n", name);
		else
			fprintf(stderr, "agentctl: backup %s: cannot lock "
			    "the target: %s\n", name, strerror(-r));
		goto out;
	}
	if ((r = catalog_load(t, k, bc->name, &c)) != 0) {
		fprintf(stderr, "agentctl: backup %s: cannot list %s: %s\n",
		    name, bc->target, strerror(-r));
		goto out;
	}
	keep = xcalloc(c.n + 1, sizeof(*keep));
	retention_plan(&c, &pol, keep);
	for (size_t i = 0; i < c.n; i++) {
		if (keep[i] != 0)
			printf("keep   %s  %s\n", c.entries[i].id,
			    retention_reasons(keep[i], why, sizeof(why)));
		else {
			printf("forget %s\n", c.entries[i].id);
			gone++;
		}
	}
	if (dry) {
		printf("dry run: %zu of %zu snapshots would be forgotten\n",
		    gone, c.n);
		ret = 0;
	} else if (gone > 0 && (r = retention_apply(t, &c, keep,
	    k != NULL)) != 0)
		fprintf(stderr, "agentctl: backup %s: forgetting: %s\n", name,
		    strerror(-r));
	else {
		printf("%zu of %zu snapshots forgotten\n", gone, c.n);
		ret = 0;
	}
out:
	free(keep);
	catalog_free(&c);
	lock_release(lk);
	ctl_target_close(t);
	explicit_bzero(key, sizeof(key));
	return ret;
}

/* backup list|verify|forget: argv[0] is "backup". -1: not one of them. */
static int
ctl_backup_engine(int argc, char **argv)
{
	const char *name = NULL;
	int as_json = 0, i;

	if (strcmp(argv[1], "list") == 0) {
		for (i = 2; i < argc; i++) {
			if (strcmp(argv[i], "--json") == 0)
				as_json = 1;
			else if (name == NULL && argv[i][0] != '-')
				name = argv[i];
			else
				return -1;
		}
		return ctl_backup_list(name, as_json);
	}
	if (strcmp(argv[1], "verify") == 0 && argc == 4)
		return ctl_backup_verify(argv[2], argv[3]);
	if (strcmp(argv[1], "forget") == 0 && (argc == 3 || (argc == 4 &&
	    strcmp(argv[3], "--dry-run") == 0)))
		return ctl_backup_forget(argv[2], argc == 4);
	if (strcmp(argv[1], "forget") == 0 && argc == 4 &&
	    strcmp(argv[2], "--dry-run") == 0)
		return ctl_backup_forget(argv[3], 1);
	return -1;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env;
	int ch, r;

	log_init("agentctl", LOG_TARGET_STDERR, 0);
	if ((env = getenv("AGENTD_CONTROL_SOCKET")) != NULL && *env != '\0')
		ctl_socket = env;
	while ((ch = getopt_long(argc, argv, "+c:s:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			ctl_config_path = optarg;
			break;
		case 's':
			ctl_socket = optarg;
			break;
		case 'h':
			ctl_usage(stdout);
			return 0;
		default:
			ctl_usage(stderr);
			return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		ctl_usage(stderr);
		return EXIT_USAGE;
	}
	if (argc == 1 && strcmp(argv[0], "version") == 0) {
		printf("agentctl %s\n", AGENTD_VERSION);
		return 0;
	}
	/* backup list/verify/forget run the engine here: the jobs come
	 * from the config, no agentd needed. */
	if (argc >= 2 && strcmp(argv[0], "backup") == 0 &&
	    (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "verify") == 0 ||
	    strcmp(argv[1], "forget") == 0)) {
		ctl_load_config();
		if ((r = ctl_backup_engine(argc, argv)) < 0) {
			ctl_usage(stderr);
			r = EXIT_USAGE;
		}
		config_free(ctl_config);
		return r;
	}
	/* Enrolment, restore and the kit need state_dir (and the jobs); the
	 * others need the config only when no socket was named. dr-restore
	 * needs none: a DR host may have no config at all. */
	if (strcmp(argv[0], "enroll") == 0 ||
	    strcmp(argv[0], "unenroll") == 0 || ctl_socket == NULL ||
	    (argc == 2 && strcmp(argv[0], "support") == 0 &&
	    strcmp(argv[1], "key") == 0) ||
	    strcmp(argv[0], "restore") == 0 ||
	    (argc >= 2 && strcmp(argv[0], "backup") == 0 &&
	    strcmp(argv[1], "kit") == 0))
		ctl_load_config();
	if (ctl_socket == NULL)
		ctl_socket = ctl_config != NULL ? ctl_config->control_socket :
		    DEFAULT_SOCKET;
	if (strcmp(argv[0], "enroll") == 0) {
		r = ctl_enroll(argc, argv);
		config_free(ctl_config);
		return r;
	}
	if (strcmp(argv[0], "unenroll") == 0) {
		r = ctl_unenroll(argc, argv);
		config_free(ctl_config);
		return r;
	}
	if (argc == 2 && strcmp(argv[0], "support") == 0 &&
	    strcmp(argv[1], "key") == 0) {
		r = ctl_support_key();
		config_free(ctl_config);
		return r;
	}
	if (argc >= 2 && strcmp(argv[0], "support") == 0) {
		if ((r = ctl_support(argc, argv)) < 0) {
			ctl_usage(stderr);
			r = EXIT_USAGE;
		}
		return r;
	}
	if (argc >= 2 && (strcmp(argv[0], "maintenance") == 0 ||
	    strcmp(argv[0], "silence") == 0)) {
		if ((r = ctl_maintenance(argc, argv)) < 0) {
			ctl_usage(stderr);
			r = EXIT_USAGE;
		}
		return r;
	}
	if (argc == 1 && strcmp(argv[0], "status") == 0)
		return ctl_status();
	if (argc == 1 && strcmp(argv[0], "checks") == 0)
		return ctl_checks(0);
	if (argc == 2 && strcmp(argv[0], "checks") == 0 &&
	    strcmp(argv[1], "--json") == 0)
		return ctl_checks(1);
	if (argc == 3 && strcmp(argv[0], "check") == 0 &&
	    strcmp(argv[1], "run") == 0)
		return ctl_check_run(argv[2]);
	if (argc == 3 && strcmp(argv[0], "backup") == 0 &&
	    strcmp(argv[1], "run") == 0)
		return ctl_backup_run(argv[2], false);
	if (argc == 4 && strcmp(argv[0], "backup") == 0 &&
	    strcmp(argv[1], "run") == 0 && strcmp(argv[3], "--full") == 0)
		return ctl_backup_run(argv[2], true);
	if ((argc == 2 || argc == 3) && strcmp(argv[0], "backup") == 0 &&
	    strcmp(argv[1], "status") == 0 &&
	    (argc == 2 || strcmp(argv[2], "--json") == 0))
		return ctl_backup_status(argc == 3);
	if (strcmp(argv[0], "restore") == 0 ||
	    strcmp(argv[0], "dr-restore") == 0 ||
	    (argc >= 2 && strcmp(argv[0], "backup") == 0 &&
	    strcmp(argv[1], "kit") == 0)) {
		if (strcmp(argv[0], "restore") == 0)
			r = ctl_restore(argc, argv);
		else if (strcmp(argv[0], "dr-restore") == 0)
			r = ctl_dr_restore(argc, argv);
		else
			r = ctl_backup_kit(argc - 1, argv + 1);
		config_free(ctl_config);
		return r;
	}
	if (argc == 1 && strcmp(argv[0], "reload") == 0) {
		json_decref(ctl_request("reload", NULL));
		printf("config reloaded\n");
		return 0;
	}
	ctl_usage(stderr);
	return EXIT_USAGE;
}
