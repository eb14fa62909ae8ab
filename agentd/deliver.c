/*
 * Delivery of spooled reports (see deliver.h): durable first, then handed
 * to the agentd-reporter helper one batch at a time, in seq order; the
 * spool forgets a report only when the portal's ack covers it. The loop
 * owns all timing here: the sync, back-off, ack retries.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "childmsg.h"
#include "deliver.h"
#include "helper.h"
#include "log.h"
#include "report.h"
#include "timeutil.h"
#include "xmalloc.h"

struct deliver {
	sd_event		*event;
	struct report		*report;
	struct spool		*spool;		/* borrowed */
	const struct identity	*id;		/* borrowed; NULL: not enrolled */
	deliver_commands_fn	*on_commands;
	void			*arg;
	struct helper		*helper;	/* agentd-reporter */
	json_t			*child_config;	/* what the helper was given */
	/* sending */
	bool			 in_flight;
	json_int_t		 batch_id;
	uint64_t		 batch_first, batch_last;
	size_t			 batch_n, batch_limit;
	/* The last seq of a batch refused with 400/413: until the ack passes
	 * it, batches stay narrowed around the report that was refused. */
	uint64_t		 suspect_last;
	/* An ack the portal gave that the spool could not persist yet: not
	 * resent, and written again from ack_timer. */
	uint64_t		 ack_pending;
	uint64_t		 direct_sent;	/* last heartbeat sent from memory */
	sd_event_source		*flight_timer;	/* the batch's answer */
	uint64_t		 flight_usec;
	sd_event_source		*retry_timer;	/* delivery back-off */
	sd_event_source		*ack_timer;	/* ack write retry */
	uint64_t		 ack_backoff_usec;
	uint64_t		 backoff_usec;
	bool			 backing_off;
	sd_event_source		*sync_defer, *sync_timer;
	/* status */
	uint64_t		 last_delivery;	/* realtime usec: shown */
	uint64_t		 last_delivery_mono; /* for its age */
	char			 last_error[512];
	bool			 sync_failing;
	bool			 ack_failing;
	unsigned		 conflicts;	/* 409s since the last success */
};

static void deliver_acked(struct deliver *, uint64_t);

static int
deliver_on_sync(sd_event_source *s, void *userdata)
{
	struct deliver *d = userdata;
	int rc;

	(void)s;
	if (d->spool == NULL)
		return 0;
	if ((rc = spool_sync(d->spool)) < 0) {
		if (!d->sync_failing)
			log_event(LOG_ERR, MSGID_SPOOL_FAILED, NULL, 0,
			    "spool: cannot make reports durable: %s; they stay "
			    "queued in memory and are retried", strerror(-rc));
		d->sync_failing = true;
		/* Its own timer: the delivery back-off is not cut short. */
		sd_event_source_set_time_relative(d->sync_timer, 1000000);
		sd_event_source_set_enabled(d->sync_timer, SD_EVENT_ONESHOT);
		/* The current state still goes, from memory (deliver_kick). */
		deliver_kick(d);
		return 0;
	}
	if (d->sync_failing)
		log_info("spool: writing again");
	d->sync_failing = false;
	deliver_kick(d);
	return 0;
}

static int
deliver_on_sync_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	return deliver_on_sync(NULL, userdata);
}

/* ---- sending ---- */

uint64_t
deliver_retry_delay(uint64_t backoff_usec, int64_t retry_after, long rnd)
{
	uint64_t delay;

	/* Jitter: a fleet that lost its portal must not come back at once. */
	delay = backoff_usec / 2 + (uint64_t)rnd % (backoff_usec / 2 + 1);
	/* Retry-After comes from the network: a portal (or anything in
	 * between) must not be able to stop delivery for good. */
	if (retry_after > DELIVER_RETRY_AFTER_MAX)
		retry_after = DELIVER_RETRY_AFTER_MAX;
	if (retry_after > 0 && (uint64_t)retry_after * 1000000 > delay)
		delay = (uint64_t)retry_after * 1000000;
	return delay;
}

static void
deliver_schedule_retry(struct deliver *d, int64_t retry_after)
{
	uint64_t delay;

	d->backoff_usec = d->backoff_usec == 0 ? 1000000 :
	    d->backoff_usec * 2;
	if (d->backoff_usec > DELIVER_BACKOFF_MAX_USEC)
		d->backoff_usec = DELIVER_BACKOFF_MAX_USEC;
	delay = deliver_retry_delay(d->backoff_usec, retry_after, random());
	d->backing_off = true;
	sd_event_source_set_time_relative(d->retry_timer, delay);
	sd_event_source_set_enabled(d->retry_timer, SD_EVENT_ONESHOT);
}

/*
 * Writes the ack kept in memory. On failure (full or read-only disk) it
 * stays in memory, so the acknowledged batch is not sent again (deliver_kick
 * reads after it) while delivery goes on, and the write is retried on its
 * own timer, 1 s doubling to 5 minutes.
 */
static int
deliver_persist_ack(struct deliver *d)
{
	int rc;

	if ((rc = spool_ack(d->spool, d->ack_pending)) < 0) {
		if (!d->ack_failing)
			log_event(LOG_ERR, MSGID_SPOOL_FAILED, NULL, 0,
			    "spool: cannot record the portal's ack of seq "
			    "%llu: %s; kept in memory, retried with back-off",
			    (unsigned long long)d->ack_pending, strerror(-rc));
		d->ack_failing = true;
		d->ack_backoff_usec = d->ack_backoff_usec == 0 ? 1000000 :
		    d->ack_backoff_usec * 2;
		if (d->ack_backoff_usec > DELIVER_BACKOFF_MAX_USEC)
			d->ack_backoff_usec = DELIVER_BACKOFF_MAX_USEC;
		sd_event_source_set_time_relative(d->ack_timer,
		    d->ack_backoff_usec);
		sd_event_source_set_enabled(d->ack_timer, SD_EVENT_ONESHOT);
		return rc;
	}
	if (d->ack_failing)
		log_info("spool: acks recorded again");
	d->ack_failing = false;
	d->ack_backoff_usec = 0;
	d->ack_pending = 0;
	sd_event_source_set_enabled(d->ack_timer, SD_EVENT_OFF);
	return 0;
}

static int
deliver_on_ack_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct deliver *d = userdata;

	(void)s;
	(void)usec;
	if (d->spool != NULL && d->ack_pending != 0 &&
	    deliver_persist_ack(d) == 0)
		deliver_kick(d);
	return 0;
}

static int
deliver_on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct deliver *d = userdata;

	(void)s;
	(void)usec;
	d->backing_off = false;
	if (d->spool == NULL)
		return 0;
	deliver_kick(d);
	return 0;
}

/*
 * The spool cannot take reports (full or failing disk) and everything
 * durable is delivered: the newest heartbeat, queued in memory, goes
 * straight to the portal so that the host and its state (its disk alert)
 * stay visible. Its seq was given by the spool and is above everything
 * durable, so it collides with nothing; the portal's ack of it is not
 * recorded past what is durable, and once the disk takes the queue the
 * heartbeat is sent again, an identical retry the portal acknowledges.
 */
static void
deliver_add_direct(struct deliver *d, json_t *batch)
{
	json_t *hb = spool_queued_last(d->spool, "heartbeat");
	uint64_t seq;

	if (hb == NULL)
		return;
	seq = (uint64_t)json_integer_value(json_object_get(hb, "seq"));
	if (seq <= d->direct_sent) {
		json_decref(hb);
		return;
	}
	d->direct_sent = seq;
	json_array_append_new(batch, hb);
}

void
deliver_kick(struct deliver *d)
{
	struct spool_stats st;
	json_t *batch, *msg, *last;

	if (!helper_up(d->helper) || d->in_flight || d->backing_off || d->id == NULL ||
	    d->spool == NULL)
		return;
	spool_stats(d->spool, &st);
	batch = spool_read(d->spool, st.acked > d->ack_pending ? st.acked :
	    d->ack_pending, d->batch_limit, DELIVER_BATCH_BYTES);
	if (batch != NULL && json_array_size(batch) == 0 && st.pending > 0 &&
	    d->sync_failing)
		deliver_add_direct(d, batch);
	if (batch == NULL || json_array_size(batch) == 0) {
		json_decref(batch);
		return;
	}
	d->batch_n = json_array_size(batch);
	d->batch_first = (uint64_t)json_integer_value(json_object_get(
	    json_array_get(batch, 0), "seq"));
	last = json_array_get(batch, json_array_size(batch) - 1);
	d->batch_last = (uint64_t)json_integer_value(json_object_get(last,
	    "seq"));
	msg = json_pack("{s:s, s:I, s:o}", "t", "send", "id", ++d->batch_id,
	    "reports", batch);
	if (helper_send(d->helper, msg) == 0) {
		d->in_flight = true;
		sd_event_source_set_time_relative(d->flight_timer,
		    d->flight_usec);
		sd_event_source_set_enabled(d->flight_timer,
		    SD_EVENT_ONESHOT);
	}
	json_decref(msg);
}

/*
 * The portal holds other reports under seqs we are sending (409): our
 * spool was lost or restored while the identity stayed. Renumber what is
 * unacknowledged after the portal's ack, say so loudly, send again.
 */
static void
deliver_conflict(struct deliver *d, uint64_t ack, const char *text)
{
	char f_from[48], f_to[48], f_count[48];
	const char *fields[3] = { f_from, f_to, f_count };
	uint64_t old_first;
	size_t n;
	int rc;

	if ((rc = spool_renumber(d->spool, ack, &n, &old_first)) < 0) {
		snprintf(d->last_error, sizeof(d->last_error), "sequence "
		    "conflict, cannot renumber the spool: %s", strerror(-rc));
		log_event(LOG_ERR, MSGID_SPOOL_FAILED, NULL, 0, "%s",
		    d->last_error);
		deliver_schedule_retry(d, -1);
		return;
	}
	d->ack_pending = 0;	/* of the old numbering */
	d->direct_sent = 0;
	d->suspect_last = 0;
	d->batch_limit = DELIVER_BATCH_MAX;
	if (n == 0 || d->conflicts++ > 0) {
		/* Nothing to renumber, or a conflict again right after one
		 * (another agent with our identity?): not in a tight loop. */
		snprintf(d->last_error, sizeof(d->last_error), "%s", text);
		deliver_schedule_retry(d, -1);
		if (n == 0)
			return;
	}
	snprintf(f_from, sizeof(f_from), "SEQ_FROM=%llu",
	    (unsigned long long)old_first);
	snprintf(f_to, sizeof(f_to), "SEQ_TO=%llu",
	    (unsigned long long)(ack + 1));
	snprintf(f_count, sizeof(f_count), "COUNT=%zu", n);
	log_event(LOG_ERR, MSGID_SEQUENCE_RESET, fields, 3, "sequence reset: "
	    "the portal already holds other reports up to seq %llu (was the "
	    "spool lost or restored from a snapshot?); %zu unacknowledged "
	    "reports renumbered from seq %llu to %llu and sent again",
	    (unsigned long long)ack, n, (unsigned long long)old_first,
	    (unsigned long long)(ack + 1));
	report_emit(d->report, "sequence_reset", json_pack("{s:I, s:I, s:I}",
	    "renumbered", (json_int_t)n, "old_first", (json_int_t)old_first,
	    "new_first", (json_int_t)(ack + 1)), REPORT_IMPORTANT);
	deliver_kick(d);
}

static void
deliver_failed(struct deliver *d, json_t *msg)
{
	const char *error = json_string_value(json_object_get(msg, "error"));
	int status = (int)json_integer_value(json_object_get(msg, "status"));
	int64_t retry_after = (int64_t)json_integer_value(json_object_get(msg,
	    "retry_after"));
	char text[512], field[64];
	const char *fields[1] = { field };

	log_escape(text, sizeof(text), error != NULL ? error : "unknown error");
	if (status == 409 && json_is_integer(json_object_get(msg, "ack")) &&
	    json_integer_value(json_object_get(msg, "ack")) >= 0) {
		deliver_conflict(d, (uint64_t)json_integer_value(
		    json_object_get(msg, "ack")), text);
		return;
	}
	if ((status == 400 || status == 413) && d->batch_first == d->batch_last) {
		/* The portal refuses this one report for good: keeping it would
		 * block every later report behind it. */
		snprintf(field, sizeof(field), "SEQ=%llu",
		    (unsigned long long)d->batch_first);
		log_event(LOG_ERR, MSGID_REPORT_REFUSED, fields, 1,
		    "portal refused report %llu (%s); dropped so later reports "
		    "can flow", (unsigned long long)d->batch_first, text);
		/* Another refused report may follow in the same range:
		 * bisect the rest of it rather than go one by one. */
		if (d->suspect_last > d->batch_first)
			d->batch_limit = d->suspect_last - d->batch_first >
			    DELIVER_BATCH_MAX ? DELIVER_BATCH_MAX :
			    (size_t)(d->suspect_last - d->batch_first);
		deliver_acked(d, d->batch_first);
		return;
	}
	if ((status == 400 || status == 413) && d->batch_n > 1) {
		/* Bisect: each refused batch halves, each accepted half
		 * moves on at the same width, so the refused report is
		 * found in about 2 log2(n) requests, without back-off (the
		 * answer will not change by waiting). */
		d->batch_limit = d->batch_n / 2;
		if (d->suspect_last < d->batch_last)
			d->suspect_last = d->batch_last;
		deliver_kick(d);
		return;
	}
	if (strcmp(d->last_error, text) != 0) {
		snprintf(field, sizeof(field), "HTTP_STATUS=%d", status);
		if (status == 401 || status == 404)
			log_event(LOG_ERR, MSGID_CREDENTIAL_REFUSED, fields, 1,
			    "the portal refused this agent's credential (%s): "
			    "re-enrol the host with agentctl enroll; reports "
			    "stay spooled", text);
		else
			log_event(LOG_WARNING, MSGID_REPORT_FAILED, fields, 1,
			    "cannot deliver reports: %s; retrying with "
			    "back-off", text);
		snprintf(d->last_error, sizeof(d->last_error), "%s", text);
	}
	deliver_schedule_retry(d, retry_after);
}

/* The portal has everything up to ack: record it and send what follows. */
static void
deliver_acked(struct deliver *d, uint64_t ack)
{
	struct spool_stats st;

	/* A heartbeat sent from memory is acknowledged past what is
	 * durable: only what the spool holds can be recorded. */
	spool_stats(d->spool, &st);
	if (ack > st.next_seq - 1 - st.pending)
		ack = st.next_seq - 1 - st.pending;
	if (d->suspect_last != 0 && ack >= d->suspect_last) {
		d->suspect_last = 0;
		d->batch_limit = DELIVER_BATCH_MAX;
	} else if (d->suspect_last == 0)
		d->batch_limit = DELIVER_BATCH_MAX;
	if (ack > d->ack_pending)
		d->ack_pending = ack;
	/* On failure the ack waits in memory, on its own timer. */
	if (!d->ack_failing)
		deliver_persist_ack(d);
	deliver_kick(d);
}

/* A frame from the reporter, already checked whole (childmsg_check, the
 * helper's validate callback). */
static void
deliver_on_msg(struct helper *h, json_t *msg, void *userdata)
{
	struct deliver *d = userdata;
	json_t *cmds;
	uint64_t ack;

	(void)h;
	if (json_integer_value(json_object_get(msg, "id")) != d->batch_id ||
	    !d->in_flight)
		return;	/* a stale answer from before a restart */
	d->in_flight = false;
	sd_event_source_set_enabled(d->flight_timer, SD_EVENT_OFF);
	if (!json_is_true(json_object_get(msg, "ok"))) {
		deliver_failed(d, msg);
		return;
	}
	ack = (uint64_t)json_integer_value(json_object_get(msg, "ack"));
	if (d->last_error[0] != '\0')
		log_info("delivering reports again (HTTP/%s)",
		    json_string_value(json_object_get(msg, "http")));
	d->last_error[0] = '\0';
	d->conflicts = 0;
	d->last_delivery = time_now(CLOCK_REALTIME);
	d->last_delivery_mono = time_now(CLOCK_MONOTONIC);
	helper_healthy(d->helper);
	if (json_integer_value(json_object_get(msg, "skipped")) > 0)
		log_warnx("portal sent %lld malformed commands; ignored",
		    (long long)json_integer_value(json_object_get(msg,
		    "skipped")));
	cmds = json_object_get(msg, "commands");
	if (json_array_size(cmds) > 0 && d->on_commands != NULL)
		d->on_commands(cmds, d->arg);
	if (ack < d->batch_first) {
		/* Nothing of the batch was stored: do not spin on it. */
		snprintf(d->last_error, sizeof(d->last_error), "the portal "
		    "acknowledged %llu, before this batch (%llu..%llu)",
		    (unsigned long long)ack, (unsigned long long)d->batch_first,
		    (unsigned long long)d->batch_last);
		deliver_schedule_retry(d, -1);
		return;
	}
	d->backoff_usec = 0;
	deliver_acked(d, ack > d->batch_last ? d->batch_last : ack);
	return;
}

/* ---- the reporter helper ---- */

/* What the child needs to know; the credential never leaves memory
 * except through this socket. */
static json_t *
deliver_child_config(const struct identity *id, const struct config *cfg)
{
	/* Nine pairs; "s*" leaves an unset option out altogether. The
	 * child unpacks this with a strict format of the same nine. */
	return json_pack("{s:s, s:s, s:s, s:s, s:s*, s:s*, s:s*, s:i, s:i}",
	    "t", "config", "portal", id->portal, "agent_id", id->agent_id,
	    "credential", id->credential, "ca_file", cfg->ca_file != NULL ?
	    cfg->ca_file : id->ca_file, "pinned_pubkey", cfg->pinned_pubkey,
	    "proxy", cfg->proxy, "connect_timeout", (int)cfg->connect_timeout,
	    "timeout", (int)cfg->request_timeout);
}

static void
deliver_reset_retry(struct deliver *d)
{
	d->backoff_usec = 0;
	d->backing_off = false;
	d->batch_limit = DELIVER_BATCH_MAX;
	d->suspect_last = 0;
	sd_event_source_set_enabled(d->retry_timer, SD_EVENT_OFF);
}


static void
deliver_on_start(struct helper *h, void *userdata)
{
	struct deliver *d = userdata;

	helper_send(h, d->child_config);
	deliver_kick(d);
}

/* The batch in flight is lost with the channel: sent again after. */
static void
deliver_on_down(struct helper *h, void *userdata)
{
	struct deliver *d = userdata;

	(void)h;
	d->in_flight = false;
	sd_event_source_set_enabled(d->flight_timer, SD_EVENT_OFF);
}

/* The reporter bounds every request by its timeout: a batch still
 * unanswered well after it means a hung or hostile child, which would
 * otherwise hold delivery for good. */
static int
deliver_on_flight_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct deliver *d = userdata;

	(void)s;
	(void)usec;
	if (!d->in_flight)
		return 0;
	snprintf(d->last_error, sizeof(d->last_error), "agentd-reporter did "
	    "not answer batch %llu..%llu within %llu s; restarting it",
	    (unsigned long long)d->batch_first,
	    (unsigned long long)d->batch_last,
	    (unsigned long long)(d->flight_usec / 1000000));
	log_warnx("%s", d->last_error);
	d->in_flight = false;
	helper_restart(d->helper);
	return 0;
}

static void
deliver_on_exit(struct helper *h, const struct helper_exit *ex,
    void *userdata)
{
	struct deliver *d = userdata;

	(void)h;
	if (ex->spawn_error != 0)
		snprintf(d->last_error, sizeof(d->last_error), "%s", ex->why);
}

static const struct helper_ops deliver_reporter_ops = {
	.validate = childmsg_check,
	.on_start = deliver_on_start,
	.on_msg = deliver_on_msg,
	.on_down = deliver_on_down,
	.on_exit = deliver_on_exit,
};

bool
deliver_apply(struct deliver *d, const struct identity *id,
    const struct config *cfg)
{
	json_t *conf = id != NULL ? deliver_child_config(id, cfg) : NULL;

	/* A reload or a re-enrolment is the operator's word to try now:
	 * whatever back-off or Retry-After was running ends here. */
	deliver_reset_retry(d);
	d->id = id;
	d->flight_usec = ((uint64_t)cfg->request_timeout +
	    DELIVER_FLIGHT_GRACE_SEC) * 1000000;
	if (conf != NULL && d->child_config != NULL &&
	    json_equal(conf, d->child_config)) {
		json_decref(conf);
		deliver_kick(d);
		return false;
	}
	json_decref(d->child_config);
	d->child_config = conf;
	if (id == NULL)
		helper_stop(d->helper);
	else	/* at once, or as soon as the old one has gone */
		helper_restart(d->helper);
	return true;
}

void
deliver_set_spool(struct deliver *d, struct spool *spool)
{
	d->spool = spool;
	deliver_kick(d);
}

void
deliver_queued(struct deliver *d)
{
	/* One sync for everything appended in this loop iteration. */
	sd_event_source_set_enabled(d->sync_defer, SD_EVENT_ONESHOT);
}

void
deliver_set_error(struct deliver *d, const char *text)
{
	snprintf(d->last_error, sizeof(d->last_error), "%s",
	    text != NULL ? text : "");
}

void
deliver_status(struct deliver *d, json_t *o)
{
	json_object_set_new(o, "last_delivery", d->last_delivery == 0 ?
	    json_null() : json_real((double)d->last_delivery / 1e6));
	json_object_set_new(o, "last_delivery_age", d->last_delivery == 0 ?
	    json_null() : json_integer((json_int_t)(time_since(
	    d->last_delivery_mono, time_now(CLOCK_MONOTONIC)) / 1000000)));
	json_object_set_new(o, "last_error", d->last_error[0] == '\0' ?
	    json_null() : json_string(d->last_error));
	json_object_set_new(o, "reporter", json_string(helper_up(d->helper) ?
	    "running" : d->id == NULL ? "stopped" : "restarting"));
}

int
deliver_new(sd_event *event, struct report *report, const char *reporter_path,
    deliver_commands_fn *on_commands, void *arg, struct deliver **dp)
{
	char *const argv[] = { "agentd-reporter", log_to_journal() ? NULL :
	    "--stderr", NULL };
	struct helper_params hp = {
		.name = "agentd-reporter",
		.path = reporter_path,
		.argv = argv,
		.mode = HELPER_RESTART,
		.frame_max = CHILDMSG_FRAME_MAX,
	};
	struct deliver *d = xcalloc(1, sizeof(*d));
	int rc;

	d->event = sd_event_ref(event);
	d->report = report;
	d->on_commands = on_commands;
	d->arg = arg;
	d->batch_limit = DELIVER_BATCH_MAX;
	if ((rc = helper_new(event, &hp, &deliver_reporter_ops, d,
	    &d->helper)) < 0)
		fatalx("cannot set up agentd-reporter: %s", strerror(-rc));
	if (sd_event_add_defer(event, &d->sync_defer, deliver_on_sync, d) < 0 ||
	    sd_event_add_time(event, &d->sync_timer, CLOCK_MONOTONIC,
	    UINT64_MAX, 0, deliver_on_sync_timer, d) < 0 ||
	    sd_event_add_time(event, &d->ack_timer, CLOCK_MONOTONIC,
	    UINT64_MAX, 0, deliver_on_ack_timer, d) < 0 ||
	    sd_event_add_time(event, &d->retry_timer, CLOCK_MONOTONIC,
	    UINT64_MAX, 0, deliver_on_retry, d) < 0 ||
	    sd_event_add_time(event, &d->flight_timer, CLOCK_MONOTONIC,
	    UINT64_MAX, 0, deliver_on_flight_timer, d) < 0)
		fatalx("cannot set up the delivery timers");
	sd_event_source_set_enabled(d->sync_defer, SD_EVENT_OFF);
	*dp = d;
	return 0;
}

void
deliver_free(struct deliver *d)
{
	if (d == NULL)
		return;
	helper_free(d->helper);
	sd_event_source_disable_unref(d->sync_defer);
	sd_event_source_disable_unref(d->sync_timer);
	sd_event_source_disable_unref(d->ack_timer);
	sd_event_source_disable_unref(d->retry_timer);
	sd_event_source_disable_unref(d->flight_timer);
	json_decref(d->child_config);
	sd_event_unref(d->event);
	free(d);
}
