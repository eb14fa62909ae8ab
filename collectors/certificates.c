/*
 * The certificates collector: days until the TLS certificates of
 * configured PEM/DER files and host:port endpoints expire. agentd loads no
 * TLS library and never parses what a network peer sent, so the reading is
 * done by agentd-certcheck (agentd/certcheck.c) in child processes on the
 * loop (collectors/exec.c): one for the files, keeping CAP_DAC_READ_SEARCH
 * (certificates under 0700 directories such as /etc/letsencrypt/live) and
 * touching no network, one for the endpoints with no capability at all.
 *
 * [collector.certificates] keys:
 *   files           blank- or comma-separated paths of PEM (or DER) files;
 *                   in a bundle the leaf is reported: the certificate that
 *                   issued none of the others             default: none
 *   endpoints       HOST:PORT or [V6ADDR]:PORT, each optionally followed by
 *                   @SERVERNAME for the SNI and the name check (default:
 *                   HOST, none for an address)            default: none
 *   days_warning    range on the days left                default: 21:
 *   days_critical   (an expired certificate is below 0)   default: 7:
 *   error_state     state of an item that could not be read (missing
 *                   file, refused or timed-out connection, not TLS):
 *                   ok | warning | critical | unknown     default: unknown
 *   timeout         seconds per endpoint for connect and handshake
 *                   (1-60)                                default: 10
 *   helper          path of agentd-certcheck; for tests (checked like an
 *                   external check's command)             default: next to
 *                   agentd, else LIBEXECDIR/agentd-certcheck
 * The collector is disabled until files or endpoints are set. Why UNKNOWN
 * for an unreadable item: the check measures expiry, and an endpoint that
 * is down says nothing about it (the service's own check alerts on that);
 * error_state makes it CRITICAL for whoever wants that.
 * Whether each chain verifies against the system CAs (and, for an
 * endpoint, matches its name) is shown in the long text; it never changes
 * the state: the point is the expiry, even of a broken chain.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <systemd/sd-event.h>

#include "certificates.h"
#include "collector.h"
#include "exec.h"
#include "log.h"
#include "safepath.h"
#include "threshold.h"
#include "xmalloc.h"

#define CERTIFICATES_ITEMS_MAX	64	/* files, and endpoints, each */
#define CERTIFICATES_TIMEOUT_DEFAULT	10
#define CERTIFICATES_TIMEOUT_LIMIT	60
#define CERTIFICATES_FILES_TIMEOUT	30	/* the whole files run */
#define CERTIFICATES_LINE_MAX	8192	/* one record, bytes */
#define CERTIFICATES_HELPER	"agentd-certcheck"

enum certificates_job {
	JOB_FILES,
	JOB_ENDPOINTS,
	JOB_COUNT,
};

struct certificates {
	struct threshold	 days;
	char			*files[CERTIFICATES_ITEMS_MAX];
	size_t			 nfiles;
	char			*endpoints[CERTIFICATES_ITEMS_MAX];
	size_t			 nendpoints;
	unsigned		 timeout;
	enum check_state	 error_state;
	char			*helper;	/* NULL: found at start() */

	sd_event		*event;
	struct collect_req	*req;		/* in flight, or NULL */
	struct exec_job		*job[JOB_COUNT];
	char			*out[JOB_COUNT];	/* a finished job's stdout */
	size_t			 outlen[JOB_COUNT];
	char			 failure[JOB_COUNT][CERTIFICATES_TEXT_MAX];
};

static const struct threshold_key certificates_thresholds[] = {
	{ "days", offsetof(struct certificates, days), "21:", "7:", NULL },
	{ .name = NULL },
};

static void *
certificates_new(void)
{
	struct certificates *c = xcalloc(1, sizeof(*c));

	threshold_defaults(c, certificates_thresholds);
	c->timeout = CERTIFICATES_TIMEOUT_DEFAULT;
	c->error_state = STATE_UNKNOWN;
	return c;
}

static void
certificates_clear_list(char **list, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free(list[i]);
	*n = 0;
}

/* Replaces list with the words of value (blanks and commas separate). */
static int
certificates_set_list(char **list, size_t *n, const char *key,
    const char *value, bool paths, char *err, size_t errlen)
{
	char *copy = xstrdup(value), *w, *save = NULL;
	int r = 0;

	certificates_clear_list(list, n);
	for (w = strtok_r(copy, " \t,", &save); w != NULL;
	    w = strtok_r(NULL, " \t,", &save)) {
		if (*n >= CERTIFICATES_ITEMS_MAX) {
			snprintf(err, errlen, "%s: more than %d items", key,
			    CERTIFICATES_ITEMS_MAX);
			r = -EINVAL;
			break;
		}
		if (strlen(w) >= CERTIFICATES_TEXT_MAX ||
		    (paths && w[0] != '/')) {
			snprintf(err, errlen, "%s: '%.64s' is not %s", key, w,
			    paths ? "an absolute path (at most 255 bytes)" :
			    "HOST:PORT (at most 255 bytes)");
			r = -EINVAL;
			break;
		}
		list[(*n)++] = xstrdup(w);
	}
	if (r < 0)
		certificates_clear_list(list, n);
	free(copy);
	return r;
}

static int
certificates_configure(void *inst, const char *key, const char *value,
    char *err, size_t errlen)
{
	struct certificates *c = inst;
	char *end;
	long t;
	int s;

	if (strcmp(key, "files") == 0)
		return certificates_set_list(c->files, &c->nfiles, key, value,
		    true, err, errlen);
	if (strcmp(key, "endpoints") == 0)
		return certificates_set_list(c->endpoints, &c->nendpoints, key,
		    value, false, err, errlen);
	if (strcmp(key, "timeout") == 0) {
		errno = 0;
		t = strtol(value, &end, 10);
		if (errno != 0 || end == value || (*end != '\0' &&
		    strcmp(end, "s") != 0) || t < 1 ||
		    t > CERTIFICATES_TIMEOUT_LIMIT) {
			snprintf(err, errlen, "timeout: '%s' is not a number "
			    "of seconds from 1 to %d", value,
			    CERTIFICATES_TIMEOUT_LIMIT);
			return -EINVAL;
		}
		c->timeout = (unsigned)t;
		return 0;
	}
	if (strcmp(key, "error_state") == 0) {
		if ((s = result_state_parse(value)) < 0) {
			snprintf(err, errlen, "%s: '%s' is not one of ok, "
			    "warning, critical, unknown", key, value);
			return -EINVAL;
		}
		c->error_state = s;
		return 0;
	}
	if (strcmp(key, "helper") == 0) {
		if (value[0] != '/') {
			snprintf(err, errlen, "helper: '%s' is not an absolute "
			    "path", value);
			return -EINVAL;
		}
		free(c->helper);
		c->helper = xstrdup(value);
		return 0;
	}
	return threshold_configure(c, certificates_thresholds, "files, "
	    "endpoints, error_state, timeout, helper", key, value, err,
	    errlen);
}

/* agentd-certcheck next to the running program (a build tree), else in
 * LIBEXECDIR, as agentd finds its other helpers. */
static char *
certificates_find_helper(void)
{
	char self[PATH_MAX], *slash, *path;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			xasprintf(&path, "%s/%s", self, CERTIFICATES_HELPER);
			if (access(path, X_OK) == 0)
				return path;
			free(path);
		}
	}
	xasprintf(&path, "%s/%s", AGENTD_LIBEXECDIR, CERTIFICATES_HELPER);
	return path;
}

static int
certificates_start(void *inst, const struct collector_env *env)
{
	struct certificates *c = inst;

	c->event = env->event;
	if (c->helper == NULL)
		c->helper = certificates_find_helper();
	return 0;
}

/* Copies a JSON string member into dst, made printable (no control
 * characters reach the summary, the logs or a terminal). */
static void
certificates_copy(char *dst, size_t len, json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	size_t i;

	snprintf(dst, len, "%s", s != NULL ? s : "");
	for (i = 0; dst[i] != '\0'; i++)
		if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f)
			dst[i] = '?';
}

int
certificates_parse_line(const char *line, size_t len,
    struct certificates_item *it)
{
	json_t *o = NULL, *v;
	const char *kind;
	int r = -EINVAL;

	memset(it, 0, sizeof(*it));
	if (line == NULL || len == 0 || len > CERTIFICATES_LINE_MAX)
		goto out;
	if ((o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
	    !json_is_object(o))
		goto out;
	if (!json_is_string(json_object_get(o, "item")) ||
	    (kind = json_string_value(json_object_get(o, "kind"))) == NULL ||
	    (strcmp(kind, "file") != 0 && strcmp(kind, "endpoint") != 0))
		goto out;
	certificates_copy(it->item, sizeof(it->item), o, "item");
	it->is_file = strcmp(kind, "file") == 0;
	it->answered = true;
	if (json_is_string(json_object_get(o, "error"))) {
		certificates_copy(it->error, sizeof(it->error), o, "error");
		if (it->error[0] == '\0')
			snprintf(it->error, sizeof(it->error), "failed");
		r = 0;
		goto out;
	}
	if (!json_is_integer(v = json_object_get(o, "not_after")))
		goto out;
	it->not_after = json_integer_value(v);
	certificates_copy(it->subject, sizeof(it->subject), o, "subject");
	certificates_copy(it->cn, sizeof(it->cn), o, "cn");
	certificates_copy(it->issuer, sizeof(it->issuer), o, "issuer");
	certificates_copy(it->verify_error, sizeof(it->verify_error), o,
	    "verify_error");
	v = json_object_get(o, "chain");
	it->chain = json_is_integer(v) && json_integer_value(v) > 0 &&
	    json_integer_value(v) < 1000 ? (unsigned)json_integer_value(v) : 1;
	v = json_object_get(o, "leaf");
	it->leaf = json_is_integer(v) && json_integer_value(v) > 0 &&
	    json_integer_value(v) <= it->chain ?
	    (unsigned)json_integer_value(v) : 1;
	it->verified = json_is_true(json_object_get(o, "verified"));
	r = 0;
out:
	if (r < 0)
		memset(it, 0, sizeof(*it));
	json_decref(o);
	return r;
}

/* "5 d", "7 h": whole days, or hours in the last day. */
static void
certificates_span(char *buf, size_t len, double secs)
{
	if (secs >= 86400)
		snprintf(buf, len, "%lld d", (long long)(secs / 86400));
	else if (secs >= 3600)
		snprintf(buf, len, "%lld h", (long long)(secs / 3600));
	else
		snprintf(buf, len, "%lld min", (long long)(secs / 60));
}

/* "example.com:443 expires in 5 d (CN=example.com, leaf 2 of 3)". */
static void
certificates_describe(char *buf, size_t len, const struct certificates_item
    *it, time_t now)
{
	double left = (double)(it->not_after - (int64_t)now);
	char span[32], which[48] = "";

	if (it->error[0] != '\0' || !it->answered) {
		snprintf(buf, len, "%s: %s", it->item, it->error);
		return;
	}
	if (it->is_file && it->chain > 1)
		snprintf(which, sizeof(which), ", leaf %u of %u in the file",
		    it->leaf, it->chain);
	certificates_span(span, sizeof(span), fabs(left));
	snprintf(buf, len, "%s %s %s%s (CN=%s%s)", it->item, left <= 0 ?
	    "expired" : "expires in", span, left <= 0 ? " ago" : "",
	    it->cn[0] != '\0' ? it->cn : "none", which);
}

/* As result_escalate orders states: OK, WARNING, UNKNOWN, CRITICAL. */
static int
certificates_rank(enum check_state s)
{
	return s == STATE_OK ? 0 : s == STATE_WARNING ? 1 :
	    s == STATE_CRITICAL ? 3 : 2;
}

void
certificates_summarise(void *inst, const struct certificates_item *items,
    size_t n, time_t now, struct result *res)
{
	struct certificates *c = inst;
	const struct certificates_item *worst = NULL;
	enum check_state worst_state = STATE_OK, s;
	char text[RESULT_SUMMARY_MAX], why[64], stamp[32];
	size_t bad = 0, i;
	struct perf *p;
	struct tm tm;
	double days;

	result_set(res, STATE_OK, "no certificates configured");
	for (i = 0; i < n; i++) {
		const struct certificates_item *it = &items[i];

		if (it->error[0] != '\0' || !it->answered) {
			s = c->error_state;
			result_append_long(res, "%s: %s (%s)", it->item,
			    it->error, result_state_name(s));
		} else {
			days = (double)(it->not_after - (int64_t)now) / 86400;
			s = threshold_eval(&c->days, days);
			gmtime_r(&(time_t){ (time_t)it->not_after }, &tm);
			strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M UTC",
			    &tm);
			why[0] = '\0';
			if (s != STATE_OK)
				threshold_why(&c->days, s, days, " d", why,
				    sizeof(why));
			result_append_long(res, "%s: %s, issuer %s, not after "
			    "%s (%.1f d)%s%s; %s%s%s", it->item,
			    it->subject, it->issuer, stamp, days,
			    why[0] != '\0' ? " " : "", why, it->verified ?
			    "the chain verifies against the system CAs" :
			    "does not verify against the system CAs",
			    it->verified ? "" : ": ", it->verify_error);
			if ((p = result_add_perf(res, it->item,
			    round(days * 10) / 10, "d")) != NULL)
				threshold_to_perf(&c->days, p);
		}
		if (s != STATE_OK)
			bad++;
		result_escalate(res, s);
		/* The worst state; among equals the soonest expiry. */
		if (worst == NULL || certificates_rank(s) >
		    certificates_rank(worst_state) || (s == worst_state &&
		    it->error[0] == '\0' && (worst->error[0] != '\0' ||
		    it->not_after < worst->not_after))) {
			worst = it;
			worst_state = s;
		}
	}
	if (worst == NULL)
		return;
	certificates_describe(text, sizeof(text), worst, now);
	if (res->state == STATE_OK)
		result_set(res, STATE_OK, "%zu certificate%s OK, the soonest: "
		    "%s", n, n == 1 ? "" : "s", text);
	else if (bad > 1)
		result_set(res, res->state, "%s; %zu more not OK", text,
		    bad - 1);
	else
		result_set(res, res->state, "%s", text);
}

static void
certificates_cancel(void *inst)
{
	struct certificates *c = inst;

	for (int j = 0; j < JOB_COUNT; j++) {
		if (c->job[j] != NULL)
			exec_free(c->job[j]);
		c->job[j] = NULL;
		free(c->out[j]);
		c->out[j] = NULL;
		c->outlen[j] = 0;
		c->failure[j][0] = '\0';
	}
	c->req = NULL;
}

/* Both runs are over: match their lines to the configured items. */
static void
certificates_complete(struct certificates *c)
{
	struct collect_req *req = c->req;
	struct certificates_item *items, rec;
	size_t n = 0, i;
	const char *line, *nl, *end;

	items = xcalloc(c->nfiles + c->nendpoints, sizeof(*items));
	for (i = 0; i < c->nfiles; i++, n++) {
		snprintf(items[n].item, sizeof(items[n].item), "%s",
		    c->files[i]);
		items[n].is_file = true;
	}
	for (i = 0; i < c->nendpoints; i++, n++)
		snprintf(items[n].item, sizeof(items[n].item), "%s",
		    c->endpoints[i]);
	for (int j = 0; j < JOB_COUNT; j++) {
		if (c->out[j] == NULL)
			continue;
		end = c->out[j] + c->outlen[j];
		for (line = c->out[j]; line < end; line = nl + 1) {
			if ((nl = memchr(line, '\n', (size_t)(end - line))) ==
			    NULL)
				break;	/* cut short: no complete record */
			if (certificates_parse_line(line, (size_t)(nl - line),
			    &rec) < 0 || rec.is_file != (j == JOB_FILES))
				continue;
			for (i = 0; i < n; i++)
				if (!items[i].answered &&
				    items[i].is_file == rec.is_file &&
				    strcmp(items[i].item, rec.item) == 0) {
					items[i] = rec;
					break;
				}
		}
	}
	for (i = 0; i < n; i++)
		if (!items[i].answered)
			snprintf(items[i].error, sizeof(items[i].error),
			    "no answer from %s: %s", CERTIFICATES_HELPER,
			    c->failure[items[i].is_file ? JOB_FILES :
			    JOB_ENDPOINTS][0] != '\0' ? c->failure[
			    items[i].is_file ? JOB_FILES : JOB_ENDPOINTS] :
			    "no record for it");
	certificates_summarise(c, items, n, time(NULL),
	    collect_req_result(req));
	free(items);
	certificates_cancel(c);
	collect_req_finish(req);
}

static void
certificates_done(struct exec_job *job, const struct exec_outcome *o,
    void *userdata)
{
	struct certificates *c = userdata;
	int j = job == c->job[JOB_FILES] ? JOB_FILES : JOB_ENDPOINTS;
	char err[128];

	if (o->spawn_error != 0)
		snprintf(c->failure[j], sizeof(c->failure[j]), "cannot start "
		    "it: %s", strerror(o->spawn_error));
	else if (o->timed_out)
		snprintf(c->failure[j], sizeof(c->failure[j]), "timed out");
	else if (o->exit_code != 0)
		snprintf(c->failure[j], sizeof(c->failure[j]), "exit code %d%s"
		    "%s", o->exit_code, o->err[0] != '\0' ? ": " : "",
		    log_escape(err, sizeof(err), o->err));
	c->out[j] = xcalloc(1, o->outlen + 1);
	if (o->outlen > 0)
		memcpy(c->out[j], o->out, o->outlen);
	c->outlen[j] = o->outlen;
	c->job[j] = NULL;
	exec_free(job);
	if (c->job[JOB_FILES] == NULL && c->job[JOB_ENDPOINTS] == NULL)
		certificates_complete(c);
}

/* argv for one run: helper -t T then -f/-e per item; freed by the caller
 * (strings are borrowed except the timeout). */
static char **
certificates_argv(struct certificates *c, int j, char *tbuf, size_t tlen)
{
	char **list = j == JOB_FILES ? c->files : c->endpoints;
	size_t n = j == JOB_FILES ? c->nfiles : c->nendpoints, k = 0;
	char **argv = xcalloc(2 * n + 4, sizeof(*argv));

	snprintf(tbuf, tlen, "%u", c->timeout);
	argv[k++] = c->helper;
	argv[k++] = "-t";
	argv[k++] = tbuf;
	for (size_t i = 0; i < n; i++) {
		argv[k++] = j == JOB_FILES ? "-f" : "-e";
		argv[k++] = list[i];
	}
	argv[k] = NULL;
	return argv;
}

static int
certificates_collect(void *inst, struct collect_req *req)
{
	struct certificates *c = inst;
	struct result *res = collect_req_result(req);
	char why[PATH_MAX + 128], tbuf[16], **argv;
	unsigned timeout;
	size_t n;
	int r;

	if (c->req != NULL)
		certificates_cancel(c);	/* the framework gave up on it */
	if (c->nfiles + c->nendpoints == 0) {
		result_set(res, STATE_OK, "no certificates configured (set "
		    "files or endpoints)");
		return 0;
	}
	if (c->event == NULL || c->helper == NULL) {
		result_set(res, STATE_UNKNOWN, "collector not started");
		return -EINVAL;
	}
	/* A package upgrade may have changed the file since the last run,
	 * and whoever can replace it runs code as agentd. */
	if ((r = safepath_check(c->helper, geteuid(), why, sizeof(why))) <
	    0) {
		result_set(res, STATE_UNKNOWN, "refusing to run %s: %s",
		    c->helper, why);
		return r;
	}
	c->req = req;
	for (int j = 0; j < JOB_COUNT; j++) {
		n = j == JOB_FILES ? c->nfiles : c->nendpoints;
		if (n == 0)
			continue;
		argv = certificates_argv(c, j, tbuf, sizeof(tbuf));
		timeout = j == JOB_FILES ? CERTIFICATES_FILES_TIMEOUT :
		    c->timeout * (unsigned)n + 5;
		r = exec_start(c->event, argv, j == JOB_FILES ?
		    EXEC_KEEP_DAC_READ_SEARCH : 0, timeout,
		    CERTIFICATES_LINE_MAX * (n + 1), certificates_done, c,
		    &c->job[j]);
		free(argv);
		if (r < 0) {
			certificates_cancel(c);
			result_set(res, STATE_UNKNOWN, "cannot start %s: %s",
			    c->helper, strerror(-r));
			return r;
		}
	}
	return COLLECT_PENDING;
}

static void
certificates_free(void *inst)
{
	struct certificates *c = inst;

	if (c == NULL)
		return;
	certificates_cancel(c);
	certificates_clear_list(c->files, &c->nfiles);
	certificates_clear_list(c->endpoints, &c->nendpoints);
	free(c->helper);
	free(c);
}

const struct collector collector_certificates = {
	.name = "certificates",
	.description = "days until TLS certificates (files, endpoints) expire",
	.interval = 3600,
	.off_by_default = true,
	.new = certificates_new,
	.configure = certificates_configure,
	.thresholds = certificates_thresholds,
	.start = certificates_start,
	.collect = certificates_collect,
	.cancel = certificates_cancel,
	.free = certificates_free,
};
