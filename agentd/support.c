/*
 * support: remote support sessions (support.h). The session's states:
 *
 *   request --policy deny--> denied (refused)
 *           --policy ask---> waiting --approve--> open
 *                                    --deny-----> denied
 *                                    --request_timeout--> expired
 *           --policy allow--------------------> open
 *   open --TTL / close / idle / reload / stop--> closed
 *        --the helper fails (host key, key refused, ...)--> failed
 *
 * "open" runs agentd-support; its frames (supportmsg_check) become the
 * "opened" (first "up") and connection events. Nothing here blocks: the
 * timers and the helper are the loop's.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "config.h"
#include "helper.h"
#include "identity.h"
#include "log.h"
#include "report.h"
#include "support.h"
#include "supportmsg.h"
#include "timeutil.h"
#include "xmalloc.h"

#define SUPPORT_KEEP		8	/* ended sessions kept for status */
/* The helper's own end comes after ours, so agentd's timer closes. */
#define SUPPORT_HELPER_SLACK	30	/* seconds */
/* A closing session's helper has this long to report its connections'
 * ends and exit; then it is stopped (SIGTERM, SIGKILL). */
#define SUPPORT_CLOSE_GRACE	5	/* seconds */

enum support_state {
	SUPPORT_WAITING,
	SUPPORT_OPEN,
	SUPPORT_CLOSING,	/* the helper was asked to stop */
	SUPPORT_CLOSED,
	SUPPORT_DENIED,
	SUPPORT_EXPIRED,
	SUPPORT_FAILED,
};

static const char *const support_state_names[] = {
	"waiting", "open", "closing", "closed", "denied", "expired", "failed",
};

struct support_session {
	char		 id[SUPPORT_ID_LEN + 1];
	enum support_state state;
	char		*origin, *by, *reason, *approved_by, *end_reason;
	char		*closed_by;	/* CLOSING: who asked; NULL: the agent */
	unsigned	 ttl;		/* seconds */
	int64_t		 requested, opened, expires, ended;	/* realtime s */
	bool		 up;		/* the forward was granted once */
	unsigned	 conns;		/* open forwarded connections */
	uint64_t	 nconns;	/* forwarded connections so far */
	sd_event_source	*timer;		/* request expiry, then the TTL */
	sd_event_source	*idle;		/* idle_timeout */
	json_t		*frame;		/* for the helper's on_start */
	char		*bastion, *user, *connect;
	unsigned	 port;
};

struct support {
	sd_event		*event;
	struct report		*report;
	char			*state_dir;
	struct helper		*helper;
	struct support_conf	 conf;	/* strings owned */
	/* The resolved bastion (config over identity); NULL if none. */
	char			*bastion, *user, *host_key;
	unsigned		 port;
	struct support_session	*cur;	/* waiting or open; NULL */
	struct support_session	*past[SUPPORT_KEEP];	/* newest first */
	bool			 graceful;	/* false once agentd stops */
};

static void support_end(struct support *, struct support_session *,
    enum support_state, const char *, const char *);

static int
support_on_defer_stop(sd_event_source *src, void *arg)
{
	struct support *s = arg;

	(void)src;
	if (s->cur == NULL)
		helper_stop(s->helper);
	return 0;
}

/* A failure the helper reported comes from inside its frame handler,
 * where the channel must not be freed: the stop waits for the loop's next
 * turn (it exits on its own anyway; this is for one that does not). */
static void
support_stop_later(struct support *s)
{
	sd_event_source *src;

	if (sd_event_add_defer(s->event, &src, support_on_defer_stop, s) < 0) {
		log_warnx("support: cannot schedule the helper's stop");
		return;
	}
	sd_event_source_set_floating(src, 1);
	sd_event_source_unref(src);
}

static int64_t
support_now(void)
{
	return (int64_t)(time_now(CLOCK_REALTIME) / 1000000);
}

/* ---- audit ---- */

static const struct {
	const char	*event, *msgid;
	int		 prio;
} support_events[] = {
	{ "requested", MSGID_SUPPORT_REQUESTED, LOG_NOTICE },
	{ "approved", MSGID_SUPPORT_APPROVED, LOG_NOTICE },
	{ "denied", MSGID_SUPPORT_DENIED, LOG_NOTICE },
	{ "expired", MSGID_SUPPORT_EXPIRED, LOG_NOTICE },
	{ "opened", MSGID_SUPPORT_OPENED, LOG_NOTICE },
	{ "connection_opened", MSGID_SUPPORT_CONN_OPENED, LOG_INFO },
	{ "connection_closed", MSGID_SUPPORT_CONN_CLOSED, LOG_INFO },
	{ "closed", MSGID_SUPPORT_CLOSED, LOG_NOTICE },
	{ "failed", MSGID_SUPPORT_FAILED, LOG_ERR },
};

/*
 * One audit event: a journald entry (MESSAGE_ID, SUPPORT_SESSION,
 * SUPPORT_EVENT) with text, and a support_event report whose payload is
 * {"session", "event", "at"} plus extra's members (reference taken).
 */
static void
support_audit(struct support *s, struct support_session *ss,
    const char *event, json_t *extra, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
support_audit(struct support *s, struct support_session *ss,
    const char *event, json_t *extra, const char *fmt, ...)
{
	char text[1024], f1[64], f2[64];
	const char *fields[2] = { f1, f2 };
	size_t i;
	json_t *p;
	va_list ap;

	for (i = 0; i < sizeof(support_events) / sizeof(support_events[0]);
	    i++)
		if (strcmp(support_events[i].event, event) == 0)
			break;
	if (i == sizeof(support_events) / sizeof(support_events[0]))
		fatalx("support: unknown audit event %s", event);
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	snprintf(f1, sizeof(f1), "SUPPORT_SESSION=%s", ss->id);
	snprintf(f2, sizeof(f2), "SUPPORT_EVENT=%s", event);
	log_event(support_events[i].prio, support_events[i].msgid, fields, 2,
	    "support session %s: %s", ss->id, text);
	/* Three pairs: session, event, at. */
	p = json_pack("{s:s, s:s, s:I}", "session", ss->id, "event", event,
	    "at", (json_int_t)support_now());
	if (p == NULL)
		fatalx("cannot encode a support_event");
	if (extra != NULL) {
		json_object_update(p, extra);
		json_decref(extra);
	}
	report_emit(s->report, "support_event", p, REPORT_IMPORTANT);
}

/* ---- settings ---- */

static void
support_conf_free(struct support_conf *c)
{
	free(c->bastion);
	free(c->bastion_user);
	free(c->bastion_host_key);
	free(c->target);
	memset(c, 0, sizeof(*c));
}

static char *
support_dup(const char *a)
{
	return a != NULL ? xstrdup(a) : NULL;
}

/* The config's [support] over the identity's bastion. */
static void
support_settings(struct support *s, const struct config *cfg)
{
	const struct support_conf *c = &cfg->support;
	struct identity *id = NULL;
	char err[512];
	int r;

	support_conf_free(&s->conf);
	s->conf = *c;
	s->conf.bastion = support_dup(c->bastion);
	s->conf.bastion_user = support_dup(c->bastion_user);
	s->conf.bastion_host_key = support_dup(c->bastion_host_key);
	s->conf.target = support_dup(c->target);
	free(s->state_dir);
	s->state_dir = xstrdup(cfg->state_dir);
	free(s->bastion);
	free(s->user);
	free(s->host_key);
	s->bastion = s->user = s->host_key = NULL;
	s->port = 0;
	if ((r = identity_load(cfg->state_dir, &id, err, sizeof(err))) < 0 &&
	    r != -ENOENT)
		log_warnx("support: %s; only [support] settings are used",
		    err);
	if (c->bastion != NULL) {
		s->bastion = xstrdup(c->bastion);
		s->host_key = xstrdup(c->bastion_host_key);
	} else if (id != NULL && id->bastion_address != NULL) {
		s->bastion = xstrdup(id->bastion_address);
		s->host_key = xstrdup(id->bastion_host_key);
	}
	if (c->bastion_user != NULL)
		s->user = xstrdup(c->bastion_user);
	else if (id != NULL && id->bastion_user != NULL)
		s->user = xstrdup(id->bastion_user);
	s->port = c->forward_port != 0 ? c->forward_port :
	    id != NULL ? id->forward_port : 0;
	identity_free(id);
}

/* ---- sessions ---- */

static void
support_session_free(struct support_session *ss)
{
	if (ss == NULL)
		return;
	sd_event_source_disable_unref(ss->timer);
	sd_event_source_disable_unref(ss->idle);
	json_decref(ss->frame);
	free(ss->origin);
	free(ss->by);
	free(ss->reason);
	free(ss->approved_by);
	free(ss->end_reason);
	free(ss->closed_by);
	free(ss->bastion);
	free(ss->user);
	free(ss->connect);
	free(ss);
}

static void
support_new_id(char id[SUPPORT_ID_LEN + 1])
{
	uint8_t b[8];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		fatal("getrandom");
	snprintf(id, SUPPORT_ID_LEN + 1, "ses_%02x%02x%02x%02x%02x%02x%02x"
	    "%02x", b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
}

static int
support_on_idle(sd_event_source *src, uint64_t usec, void *arg)
{
	struct support *s = arg;

	(void)src;
	(void)usec;
	if (s->cur != NULL && s->cur->state == SUPPORT_OPEN)
		support_end(s, s->cur, SUPPORT_CLOSED, "idle", NULL);
	return 0;
}

/* (Re)arms the idle timer while no forwarded connection is open. */
static void
support_idle_arm(struct support *s, struct support_session *ss)
{
	sd_event_source_disable_unref(ss->idle);
	ss->idle = NULL;
	if (s->conf.idle_timeout == 0 || ss->conns > 0)
		return;
	if (sd_event_add_time_relative(s->event, &ss->idle, CLOCK_MONOTONIC,
	    (uint64_t)s->conf.idle_timeout * 1000000, 100000,
	    support_on_idle, s) < 0)
		log_warnx("support: cannot arm the idle timer");
}

static int
support_on_timer(sd_event_source *src, uint64_t usec, void *arg)
{
	struct support *s = arg;
	struct support_session *ss = s->cur;

	(void)src;
	(void)usec;
	if (ss == NULL)
		return 0;
	if (ss->state == SUPPORT_WAITING)
		support_end(s, ss, SUPPORT_EXPIRED, NULL, NULL);
	else if (ss->state == SUPPORT_OPEN)
		support_end(s, ss, SUPPORT_CLOSED, "ttl", NULL);
	else if (ss->state == SUPPORT_CLOSING) {
		log_warnx("support session %s: agentd-support did not end "
		    "within %ds; stopping it", ss->id, SUPPORT_CLOSE_GRACE);
		support_end(s, ss, SUPPORT_CLOSED, ss->end_reason,
		    ss->closed_by);
	}
	return 0;
}

static void
support_arm(struct support *s, struct support_session *ss, unsigned sec)
{
	sd_event_source_disable_unref(ss->timer);
	ss->timer = NULL;
	if (sd_event_add_time_relative(s->event, &ss->timer, CLOCK_MONOTONIC,
	    (uint64_t)sec * 1000000, 100000, support_on_timer, s) < 0)
		fatalx("support: cannot arm a session timer");
}

/* The session goes into the past (status) and is not current any more. */
static void
support_retire(struct support *s, struct support_session *ss)
{
	if (s->cur == ss)
		s->cur = NULL;
	sd_event_source_disable_unref(ss->timer);
	sd_event_source_disable_unref(ss->idle);
	ss->timer = ss->idle = NULL;
	support_session_free(s->past[SUPPORT_KEEP - 1]);
	memmove(&s->past[1], &s->past[0], (SUPPORT_KEEP - 1) *
	    sizeof(s->past[0]));
	s->past[0] = ss;
}

/*
 * Ends ss in state st: closed (reason, by: NULL for the agent itself),
 * denied (by), expired, failed (reason: the detail). The helper, if any,
 * is stopped; the audit event is emitted.
 */
static void
support_end(struct support *s, struct support_session *ss,
    enum support_state st, const char *reason, const char *by)
{
	enum support_state was = ss->state;
	json_t *stop;

	/*
	 * An open session closes in two steps: the helper is asked to stop
	 * (any frame after the session frame), reports the ends of the
	 * connections still open and exits; then it is "closed". agentd's
	 * own stop (graceful == false) cannot wait for that.
	 */
	if (was == SUPPORT_OPEN && st == SUPPORT_CLOSED && s->graceful) {
		ss->state = SUPPORT_CLOSING;
		ss->end_reason = support_dup(reason);
		ss->closed_by = support_dup(by);
		/* One pair: t. */
		stop = json_pack("{s:s}", "t", "stop");
		if (stop == NULL || helper_send(s->helper, stop) < 0)
			helper_stop(s->helper);
		json_decref(stop);
		support_arm(s, ss, SUPPORT_CLOSE_GRACE);
		return;
	}
	if (ss->end_reason == NULL || ss->end_reason != reason) {
		char *r = support_dup(reason);

		free(ss->end_reason);
		ss->end_reason = r;
	}
	ss->state = st;
	ss->ended = support_now();
	if (st == SUPPORT_FAILED)
		support_stop_later(s);
	else if (was == SUPPORT_OPEN || was == SUPPORT_CLOSING)
		helper_stop(s->helper);
	reason = ss->end_reason;
	switch (st) {
	case SUPPORT_CLOSED:
		if (by != NULL)
			/* Two pairs: reason, by. */
			support_audit(s, ss, "closed", json_pack("{s:s, s:s}",
			    "reason", reason, "by", by), "closed (%s) by %s",
			    reason, by);
		else
			/* One pair: reason. */
			support_audit(s, ss, "closed", json_pack("{s:s}",
			    "reason", reason), "closed (%s)", reason);
		break;
	case SUPPORT_DENIED:
		/* One pair: by. */
		support_audit(s, ss, "denied", json_pack("{s:s}", "by", by),
		    "denied by %s", by);
		break;
	case SUPPORT_EXPIRED:
		support_audit(s, ss, "expired", NULL, "request expired "
		    "unanswered");
		break;
	case SUPPORT_FAILED:
		/* One pair: detail. */
		support_audit(s, ss, "failed", json_pack("{s:s}", "detail",
		    reason), "failed: %s", reason);
		break;
	default:
		break;
	}
	support_retire(s, ss);
}

/* The approved session starts: the helper gets its frame on start. */
static void
support_open(struct support *s, struct support_session *ss)
{
	char path[PATH_MAX];

	ss->state = SUPPORT_OPEN;
	ss->opened = support_now();
	ss->expires = ss->opened + ss->ttl;
	snprintf(path, sizeof(path), "%s/support/id_ed25519", s->state_dir);
	/* Nine pairs: t, session, bastion, user, host_key, key_file,
	 * forward_port, target, ttl. */
	ss->frame = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I}",
	    "t", "session", "session", ss->id, "bastion", s->bastion,
	    "user", s->user, "host_key", s->host_key, "key_file", path,
	    "forward_port", (json_int_t)s->port, "target", s->conf.target,
	    "ttl", (json_int_t)ss->ttl + SUPPORT_HELPER_SLACK);
	if (ss->frame == NULL)
		fatalx("cannot encode the support session frame");
	support_arm(s, ss, ss->ttl);
	support_idle_arm(s, ss);
	helper_start(s->helper);
}

/* ---- the helper ---- */

static void
support_on_start(struct helper *h, void *arg)
{
	struct support *s = arg;

	if (s->cur == NULL || s->cur->state != SUPPORT_OPEN) {
		helper_stop(h);
		return;
	}
	if (helper_send(h, s->cur->frame) < 0)
		log_warnx("support: cannot send the session to agentd-support");
}

static void
support_on_msg(struct helper *h, json_t *msg, void *arg)
{
	struct support *s = arg;
	struct support_session *ss = s->cur;
	const char *t = json_string_value(json_object_get(msg, "t"));
	json_int_t conn = json_integer_value(json_object_get(msg, "conn"));
	char esc[SUPPORTMSG_TEXT_MAX * 4 + 1];

	(void)h;
	if (ss == NULL || (ss->state != SUPPORT_OPEN &&
	    ss->state != SUPPORT_CLOSING))
		return;		/* a late frame of a session that ended */
	if (strcmp(t, "up") == 0) {
		char	 until[64];
		time_t	 end = (time_t)ss->expires;
		struct tm tm;

		if (ss->up || ss->state != SUPPORT_OPEN)
			return;		/* a reconnect: not a new opening */
		ss->up = true;
		if (localtime_r(&end, &tm) == NULL ||
		    strftime(until, sizeof(until), "%Y-%m-%d %H:%M:%S %Z",
		    &tm) == 0)
			snprintf(until, sizeof(until), "%" PRId64, ss->expires);
		/* Three pairs: bastion, forward_port, expires. */
		support_audit(s, ss, "opened", json_pack("{s:s, s:I, s:I}",
		    "bastion", ss->bastion, "forward_port",
		    (json_int_t)ss->port, "expires", (json_int_t)ss->expires),
		    "open on %s port %u until %s; connect with: %s",
		    ss->bastion, ss->port, until, ss->connect);
	} else if (strcmp(t, "conn_open") == 0) {
		ss->conns++;
		ss->nconns++;
		support_idle_arm(s, ss);
		/* One pair: conn. */
		support_audit(s, ss, "connection_opened", json_pack("{s:I}",
		    "conn", conn), "connection %lld opened", (long long)conn);
	} else if (strcmp(t, "conn_close") == 0) {
		json_int_t in = json_integer_value(json_object_get(msg,
		    "bytes_in"));
		json_int_t out = json_integer_value(json_object_get(msg,
		    "bytes_out"));

		if (ss->conns > 0)
			ss->conns--;
		support_idle_arm(s, ss);
		/* Three pairs: conn, bytes_in, bytes_out. */
		support_audit(s, ss, "connection_closed", json_pack(
		    "{s:I, s:I, s:I}", "conn", conn, "bytes_in", in,
		    "bytes_out", out), "connection %lld closed: %lld bytes "
		    "in, %lld out (%s)", (long long)conn, (long long)in,
		    (long long)out, log_escape(esc, sizeof(esc),
		    json_string_value(json_object_get(msg, "message"))));
	} else if (strcmp(t, "down") == 0) {
		log_info("support session %s: bastion session down: %s", ss->id,
		    log_escape(esc, sizeof(esc), json_string_value(
		    json_object_get(msg, "message"))));
	} else if (strcmp(t, "failed") == 0 && ss->state == SUPPORT_OPEN) {
		/* Escaped and cut to the 512 bytes a report's text may have. */
		log_escape(esc, SUPPORTMSG_TEXT_MAX + 1, json_string_value(
		    json_object_get(msg, "detail")));
		support_end(s, ss, SUPPORT_FAILED, esc, NULL);
	}
}

static void
support_on_exit(struct helper *h, const struct helper_exit *e, void *arg)
{
	struct support *s = arg;
	char why[SUPPORTMSG_TEXT_MAX + 1];	/* a report's text bound */

	(void)h;
	if (s->cur != NULL && s->cur->state == SUPPORT_CLOSING) {
		/* It told what it had to tell: now the session is closed. */
		support_end(s, s->cur, SUPPORT_CLOSED, s->cur->end_reason,
		    s->cur->closed_by);
		return;
	}
	if (s->cur == NULL || s->cur->state != SUPPORT_OPEN)
		return;		/* stopped by us, or it failed and said so */
	snprintf(why, sizeof(why), "agentd-support ended: %s", e->why);
	support_end(s, s->cur, SUPPORT_FAILED, why, NULL);
}

static const struct helper_ops support_helper_ops = {
	.validate = supportmsg_check,
	.on_start = support_on_start,
	.on_msg = support_on_msg,
	.on_exit = support_on_exit,
};

/* ---- the API ---- */

int
support_new(sd_event *event, struct report *report, const struct config *cfg,
    const char *helper_path, struct support **sp)
{
	struct support *s = xcalloc(1, sizeof(*s));
	char *argv[] = { "agentd-support", NULL };
	struct helper_params hp = {
		.name = "agentd-support",
		.path = helper_path,
		.argv = argv,
		.mode = HELPER_ONCE,
		.flags = 0,		/* no capabilities */
		.frame_max = SUPPORTMSG_FRAME_MAX,
	};
	int r;

	s->event = event;
	s->report = report;
	s->graceful = true;
	support_settings(s, cfg);
	if ((r = helper_new(event, &hp, &support_helper_ops, s,
	    &s->helper)) < 0) {
		support_free(s);
		return r;
	}
	*sp = s;
	return 0;
}

void
support_apply(struct support *s, const struct config *cfg)
{
	char *bastion = support_dup(s->bastion), *key = support_dup(s->host_key);
	char *user = support_dup(s->user);
	unsigned port = s->port;
	bool moved;

	support_settings(s, cfg);
	moved = (bastion == NULL) != (s->bastion == NULL) ||
	    (bastion != NULL && (strcmp(bastion, s->bastion) != 0 ||
	    strcmp(key, s->host_key) != 0)) || port != s->port ||
	    (user == NULL) != (s->user == NULL) ||
	    (user != NULL && strcmp(user, s->user) != 0);
	free(bastion);
	free(key);
	free(user);
	if (s->cur == NULL || s->cur->state == SUPPORT_CLOSING)
		return;
	if (s->conf.policy == SUPPORT_POLICY_DENY || (moved &&
	    s->cur->state == SUPPORT_OPEN)) {
		if (s->cur->state == SUPPORT_WAITING)
			support_end(s, s->cur, SUPPORT_DENIED, NULL, "policy");
		else
			support_end(s, s->cur, SUPPORT_CLOSED, "policy", NULL);
	}
}

static bool
support_text_ok(const char *t)
{
	return t != NULL && strlen(t) <= SUPPORT_TEXT_MAX;
}

int
support_request(struct support *s, const char *origin, const char *by,
    const char *reason, unsigned ttl, json_t **answerp, char *detail,
    size_t detaillen)
{
	struct support_session *ss;
	char esc_by[SUPPORT_TEXT_MAX * 4 + 1], esc_re[SUPPORT_TEXT_MAX * 4 + 1];
	unsigned max = s->conf.max_ttl;

	*answerp = NULL;
	if (!support_text_ok(by) || !support_text_ok(reason)) {
		snprintf(detail, detaillen, "requested_by and reason are "
		    "strings of at most %d bytes", SUPPORT_TEXT_MAX);
		return -EINVAL;
	}
	if (s->bastion == NULL || s->user == NULL || s->port == 0) {
		snprintf(detail, detaillen, "no bastion configured");
		return -ENODEV;
	}
	if (s->cur != NULL) {
		snprintf(detail, detaillen, "session %s is %s", s->cur->id,
		    support_state_names[s->cur->state]);
		return -EBUSY;
	}
	if (strcmp(helper_state(s->helper), "stopped") != 0) {
		snprintf(detail, detaillen, "the previous session is still "
		    "closing; try again in a few seconds");
		return -EBUSY;
	}
	if (ttl == 0)
		ttl = SUPPORT_DEFAULT_TTL;
	if (ttl > max)
		ttl = max;
	ss = xcalloc(1, sizeof(*ss));
	support_new_id(ss->id);
	ss->origin = xstrdup(origin);
	ss->by = xstrdup(by);
	ss->reason = xstrdup(reason);
	ss->ttl = ttl;
	ss->requested = support_now();
	ss->bastion = xstrdup(s->bastion);
	ss->user = xstrdup(s->user);
	ss->port = s->port;
	/* The agents' bastion account takes only agent keys and may not
	 * connect out: an engineer jumps through an account of their own
	 * (docs/bastion.md), which the agent cannot know. */
	xasprintf(&ss->connect, "ssh -J ENGINEER@%s -p %u root@127.0.0.1",
	    s->bastion, s->port);
	s->cur = ss;
	/* Four pairs: by, reason, ttl, origin. */
	support_audit(s, ss, "requested", json_pack("{s:s, s:s, s:I, s:s}",
	    "by", by, "reason", reason, "ttl", (json_int_t)ttl, "origin",
	    origin), "requested by %s (%s) for %us: %s",
	    log_escape(esc_by, sizeof(esc_by), by), origin, ttl,
	    log_escape(esc_re, sizeof(esc_re), reason));
	switch (s->conf.policy) {
	case SUPPORT_POLICY_DENY:
		support_end(s, ss, SUPPORT_DENIED, NULL, "policy");
		snprintf(detail, detaillen, "policy deny");
		return -EPERM;
	case SUPPORT_POLICY_ALLOW:
		/* One pair: by. */
		support_audit(s, ss, "approved", json_pack("{s:s}", "by",
		    "policy"), "approved by policy allow");
		support_open(s, ss);
		break;
	default:
		log_warnx("support session %s waits for consent: agentctl "
		    "support approve %s (or deny %s) within %us", ss->id,
		    ss->id, ss->id, s->conf.request_timeout);
		support_arm(s, ss, s->conf.request_timeout);
		break;
	}
	/* Three pairs: session, state, connect. */
	*answerp = json_pack("{s:s, s:s, s:s}", "session", ss->id, "state",
	    support_state_names[ss->state], "connect", ss->connect);
	snprintf(detail, detaillen, "session %s %s", ss->id,
	    support_state_names[ss->state]);
	return 0;
}

static struct support_session *
support_find_current(struct support *s, const char *id)
{
	if (s->cur == NULL || (id != NULL && strcmp(s->cur->id, id) != 0))
		return NULL;
	return s->cur;
}

int
support_approve(struct support *s, const char *id, const char *by)
{
	struct support_session *ss = support_find_current(s, id);

	if (ss == NULL || ss->state != SUPPORT_WAITING)
		return -ENOENT;
	ss->approved_by = xstrdup(by);
	/* One pair: by. */
	support_audit(s, ss, "approved", json_pack("{s:s}", "by", by),
	    "approved by %s", by);
	support_open(s, ss);
	return 0;
}

int
support_deny(struct support *s, const char *id, const char *by)
{
	struct support_session *ss = support_find_current(s, id);

	if (ss == NULL || ss->state != SUPPORT_WAITING)
		return -ENOENT;
	support_end(s, ss, SUPPORT_DENIED, NULL, by);
	return 0;
}

int
support_close(struct support *s, const char *id, const char *by)
{
	struct support_session *ss = support_find_current(s, id);

	if (ss == NULL)
		return -ENOENT;
	if (ss->state == SUPPORT_WAITING)
		support_end(s, ss, SUPPORT_DENIED, NULL, by);
	else if (ss->state == SUPPORT_OPEN)
		support_end(s, ss, SUPPORT_CLOSED, "closed", by);
	return 0;
}

static json_t *
support_session_json(const struct support_session *ss)
{
	/* Ten pairs: id, state, origin, requested_by, reason, ttl,
	 * requested, expires, connect, connections. */
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, "
	    "s:I}", "id", ss->id, "state", support_state_names[ss->state],
	    "origin", ss->origin, "requested_by", ss->by, "reason", ss->reason,
	    "ttl", (json_int_t)ss->ttl, "requested", (json_int_t)ss->requested,
	    "expires", (json_int_t)ss->expires, "connect", ss->connect,
	    "connections", (json_int_t)ss->nconns);

	if (o == NULL)
		fatalx("cannot encode a support session");
	if (ss->state == SUPPORT_OPEN || ss->state == SUPPORT_CLOSING) {
		json_object_set_new(o, "connected", json_boolean(ss->up));
		json_object_set_new(o, "open_connections",
		    json_integer(ss->conns));
	}
	if (ss->end_reason != NULL)
		json_object_set_new(o, "end_reason",
		    json_string(ss->end_reason));
	if (ss->ended != 0)
		json_object_set_new(o, "ended", json_integer(ss->ended));
	return o;
}

json_t *
support_status(struct support *s)
{
	json_t *a = json_array();

	if (s->cur != NULL)
		json_array_append_new(a, support_session_json(s->cur));
	for (size_t i = 0; i < SUPPORT_KEEP && s->past[i] != NULL; i++)
		json_array_append_new(a, support_session_json(s->past[i]));
	return a;
}

void
support_free(struct support *s)
{
	if (s == NULL)
		return;
	s->graceful = false;
	if (s->cur != NULL)
		support_end(s, s->cur, SUPPORT_CLOSED, s->cur->state ==
		    SUPPORT_CLOSING ? s->cur->end_reason : "agent_stopped",
		    s->cur->state == SUPPORT_CLOSING ? s->cur->closed_by : NULL);
	helper_free(s->helper);
	for (size_t i = 0; i < SUPPORT_KEEP; i++)
		support_session_free(s->past[i]);
	support_conf_free(&s->conf);
	free(s->state_dir);
	free(s->bastion);
	free(s->user);
	free(s->host_key);
	free(s);
}
