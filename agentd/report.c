/*
 * Reports from agentd's main process: what is made (heartbeat every report
 * interval, state changes at once, inventory at start and daily, and
 * whatever another module emits with report_emit) goes into the spool,
 * which this module opens and owns; deliver.c takes it to the portal and
 * command.c answers the portal's commands.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "command.h"
#include "deliver.h"
#include "identity.h"
#include "inventory.h"
#include "log.h"
#include "maintenance.h"
#include "report.h"
#include "spool.h"
#include "timeutil.h"
#include "xmalloc.h"

#define REPORT_INVENTORY_USEC	(24 * 3600 * 1000000ULL)
/* First runs are spread over 5 s: the first heartbeat follows them. */
#define REPORT_FIRST_BEAT_USEC	(6 * 1000000ULL)

struct report {
	sd_event		*event;
	struct sched		*sched;
	struct spool		*spool;
	char			*state_dir;
	struct identity		*id;		/* NULL: not enrolled */
	struct deliver		*deliver;
	struct command		*command;
	/* timers */
	sd_event_source		*beat_timer, *inventory_timer;
	sd_event_source		*spool_timer;	/* spool_open retry */
	uint64_t		 spool_retry_usec;
	bool			 spool_failed;
	uint64_t		 spool_max_bytes;
	struct maintenance	*maintenance;	/* marks every report */
};

void
report_emit(struct report *r, const char *kind, json_t *payload,
    enum report_class cls)
{
	json_t *window;

	if (r->spool == NULL || r->id == NULL) {
		json_decref(payload);
		return;
	}
	if (r->maintenance != NULL &&
	    (window = maintenance_window(r->maintenance)) != NULL)
		json_object_set_new(payload, "maintenance", window);
	if (spool_append(r->spool, kind,
	    (double)time_now(CLOCK_REALTIME) / 1e6, payload,
	    cls == REPORT_IMPORTANT) == 0)
		return;
	deliver_queued(r->deliver);
}

static void
report_append(struct report *r, const char *kind, json_t *payload,
    bool important)
{
	report_emit(r, kind, payload, important ? REPORT_IMPORTANT :
	    REPORT_ROUTINE);
}

/* Every check as decided, with detail: the heartbeat's "checks". */
static json_t *
report_checks(struct report *r)
{
	return decide_json(sched_decide(r->sched), 1);
}

static int
report_on_beat(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct report *r = userdata;
	struct spool_stats st;
	uint64_t interval;

	memset(&st, 0, sizeof(st));
	if (r->spool != NULL)
		spool_stats(r->spool, &st);
	report_append(r, "heartbeat", json_pack("{s:{s:s, s:I, s:I}, s:o}",
	    "agent", "version", AGENTD_VERSION, "uptime",
	    (json_int_t)(time_now(CLOCK_MONOTONIC) / 1000000), "spool_depth",
	    (json_int_t)st.depth, "checks", report_checks(r)), false);
	interval = (uint64_t)(r->id != NULL ? r->id->report_interval : 60) *
	    1000000;
	sd_event_source_set_time(s, usec + interval);
	sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

static int
report_on_inventory(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct report *r = userdata;
	json_t *host = NULL;

	if (inventory_collect("/proc", "/etc", &host) == 0)
		report_append(r, "inventory", json_pack("{s:o}", "host", host),
		    false);
	sd_event_source_set_time(s, usec + REPORT_INVENTORY_USEC);
	sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

void
report_set_maintenance(struct report *r, struct maintenance *m)
{
	r->maintenance = m;
}

/* Why the state changed (docs/protocol.md "state_change"), or NULL. */
static json_t *
report_reason(const struct decide_change *ch)
{
	switch (ch->reason) {
	case DECIDE_REASON_SOFT:
		/* Two pairs. */
		return json_pack("{s:s, s:I}", "type", "soft", "attempts",
		    (json_int_t)decide_check_attempts(ch->check));
	case DECIDE_REASON_FLAP_START:
	case DECIDE_REASON_FLAP_STOP:
		/* Three pairs. */
		return json_pack("{s:s, s:s, s:f}", "type", "flapping",
		    "event", ch->reason == DECIDE_REASON_FLAP_START ? "start" :
		    "stop", "percent", decide_check_flap_percent(ch->check));
	default:
		return NULL;
	}
}

void
report_on_change(const struct decide_change *ch, void *userdata)
{
	static const char *const names[] = { "OK", "WARNING", "CRITICAL",
	    "UNKNOWN" };
	struct report *r = userdata;
	json_t *payload, *reason;
	int64_t silenced;

	/* What is news was decided in decide.c, not here. */
	if (!ch->report)
		return;
	payload = json_pack("{s:o, s:s}", "check",
	    decide_check_json(ch->check, 1), "previous_state",
	    ch->from < 0 ? "PENDING" : names[ch->from & 3]);
	if ((reason = report_reason(ch)) == NULL &&
	    (reason = json_object_get(json_object_get(payload, "check"),
	    "forecast")) != NULL) {
		/* The forecast's members, copied (docs/protocol.md). */
		reason = json_copy(reason);
		json_object_set_new(reason, "type", json_string("forecast"));
	}
	if (reason != NULL)
		json_object_set_new(payload, "reason", reason);
	if ((silenced = decide_check_silenced(ch->check)) != 0)
		json_object_set_new(payload, "silenced_until",
		    json_integer((json_int_t)silenced));
	report_append(r, "state_change", payload, true);
}

static void
report_on_commands(json_t *cmds, void *arg)
{
	struct report *r = arg;

	command_portal(r->command, cmds);
}

struct command *
report_commands(struct report *r)
{
	return r->command;
}

void
report_apply(struct report *r, const struct config *cfg)
{
	struct identity *id = NULL;
	char err[256];
	int rc;

	rc = identity_load(r->state_dir, &id, err, sizeof(err));
	if (rc < 0 && rc != -ENOENT)
		log_warnx("%s; not reporting", err);
	/* deliver borrows the identity: hand over the new one first. */
	if (!deliver_apply(r->deliver, id, cfg)) {
		identity_free(r->id);
		r->id = id;
		return;
	}
	identity_free(r->id);
	r->id = id;
	if (id == NULL) {
		log_info("not enrolled: reports are not sent (agentctl enroll)");
		return;
	}
	log_info("reporting to %s as agent %s", id->portal, id->agent_id);
	report_on_inventory(r->inventory_timer, time_now(CLOCK_MONOTONIC),
	    r);
}

/*
 * Opens the spool. Monitoring never depends on it: on failure the checks
 * keep running (agentctl status shows them), it is logged loudly and tried
 * again, 1 s doubling to 5 minutes; reports made meanwhile are lost.
 */
static void
report_open_spool(struct report *r)
{
	char *dir, text[512];
	int rc;

	xasprintf(&dir, "%s/spool", r->state_dir);
	rc = spool_open(dir, r->spool_max_bytes, &r->spool);
	if (rc < 0) {
		log_event(LOG_ERR, MSGID_SPOOL_FAILED, NULL, 0,
		    "spool: cannot open %s: %s; checks keep running, reports "
		    "are not made until it opens (retrying)", dir,
		    strerror(-rc));
		snprintf(text, sizeof(text), "spool %s: %s", dir,
		    strerror(-rc));
		deliver_set_error(r->deliver, text);
		r->spool_failed = true;
		r->spool_retry_usec = r->spool_retry_usec == 0 ? 1000000 :
		    r->spool_retry_usec * 2;
		if (r->spool_retry_usec > DELIVER_BACKOFF_MAX_USEC)
			r->spool_retry_usec = DELIVER_BACKOFF_MAX_USEC;
		sd_event_source_set_time_relative(r->spool_timer,
		    r->spool_retry_usec);
		sd_event_source_set_enabled(r->spool_timer, SD_EVENT_ONESHOT);
	} else {
		r->spool_retry_usec = 0;
		if (r->spool_failed) {
			log_info("spool: %s open", dir);
			deliver_set_error(r->deliver, NULL);
			r->spool_failed = false;
			/* The one made at start was lost: make it again. */
			report_on_inventory(r->inventory_timer,
			    time_now(CLOCK_MONOTONIC), r);
		}
		deliver_set_spool(r->deliver, r->spool);
	}
	free(dir);
}

static int
report_on_spool_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	report_open_spool(userdata);
	return 0;
}

int
report_new(sd_event *event, struct sched *sched, const struct config *cfg,
    const char *reporter_path, struct report **rp)
{
	struct report *r = xcalloc(1, sizeof(*r));
	uint64_t now;
	int rc;

	r->event = sd_event_ref(event);
	r->sched = sched;
	r->state_dir = xstrdup(cfg->state_dir);
	r->spool_max_bytes = (uint64_t)cfg->spool_max_mb * 1024 * 1024;
	if ((rc = deliver_new(event, r, reporter_path, report_on_commands, r,
	    &r->deliver)) < 0 ||
	    (rc = command_new(sched, r, cfg->state_dir, &r->command)) < 0)
		fatalx("cannot set up reporting: %s", strerror(-rc));
	sd_event_now(event, CLOCK_MONOTONIC, &now);
	if (sd_event_add_time(event, &r->beat_timer, CLOCK_MONOTONIC,
	    now + REPORT_FIRST_BEAT_USEC, 0, report_on_beat, r) < 0 ||
	    sd_event_add_time(event, &r->inventory_timer, CLOCK_MONOTONIC,
	    now + REPORT_INVENTORY_USEC, 0, report_on_inventory, r) < 0 ||
	    sd_event_add_time(event, &r->spool_timer, CLOCK_MONOTONIC,
	    UINT64_MAX, 0, report_on_spool_timer, r) < 0)
		fatalx("cannot set up the reporting timers");
	report_open_spool(r);
	report_apply(r, cfg);
	*rp = r;
	return 0;
}

json_t *
report_status(struct report *r)
{
	struct spool_stats st;
	json_t *o = json_object();

	memset(&st, 0, sizeof(st));
	if (r->spool != NULL)
		spool_stats(r->spool, &st);
	json_object_set_new(o, "enrolled", json_boolean(r->id != NULL));
	if (r->id != NULL) {
		json_object_set_new(o, "portal", json_string(r->id->portal));
		json_object_set_new(o, "agent_id", json_string(r->id->agent_id));
	}
	json_object_set_new(o, "spool_depth", json_integer((json_int_t)
	    (st.depth + st.pending)));
	json_object_set_new(o, "spool_bytes", json_integer((json_int_t)st.bytes));
	json_object_set_new(o, "acked", json_integer((json_int_t)st.acked));
	json_object_set_new(o, "dropped", json_integer((json_int_t)st.dropped));
	deliver_status(r->deliver, o);
	return o;
}

void
report_free(struct report *r)
{
	if (r == NULL)
		return;
	/* Runs in flight are answered "failed" into the spool first. */
	command_free(r->command);
	if (r->spool != NULL && spool_sync(r->spool) < 0)
		log_warnx("spool: reports queued at shutdown could not be "
		    "written");
	deliver_free(r->deliver);
	sd_event_source_disable_unref(r->beat_timer);
	sd_event_source_disable_unref(r->inventory_timer);
	sd_event_source_disable_unref(r->spool_timer);
	spool_close(r->spool);
	identity_free(r->id);
	free(r->state_dir);
	sd_event_unref(r->event);
	free(r);
}
