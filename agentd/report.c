/*
 * Reports from agentd's main process: spooled durably first, then handed to
 * the agentd-reporter child one batch at a time, in seq order; the spool
 * forgets a report only when the portal's ack covers it. The loop owns all
 * timing here: heartbeats, inventory, back-off, restarting the child.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "childmsg.h"
#include "collector.h"
#include "identity.h"
#include "inventory.h"
#include "ipc.h"
#include "log.h"
#include "report.h"
#include "spool.h"
#include "timeutil.h"
#include "xmalloc.h"

#define REPORT_INVENTORY_USEC	(24 * 3600 * 1000000ULL)
/* First runs are spread over 5 s: the first heartbeat follows them. */
#define REPORT_FIRST_BEAT_USEC	(6 * 1000000ULL)
#define REPORT_RESTART_MAX_USEC	(60 * 1000000ULL)
#define REPORT_RECENT_CMDS	64

struct report_cmd {
	struct report		*report;
	char			*id;
	char			*name;
	struct sched_waiter	*waiter;
	LIST_ENTRY(report_cmd)	 entry;
};

struct report {
	sd_event		*event;
	struct sched		*sched;
	struct spool		*spool;
	char			*state_dir;
	char			*reporter_path;
	struct identity		*id;		/* NULL: not enrolled */
	json_t			*child_config;	/* what the child was given */
	/* the child */
	pid_t			 pid;
	sd_event_source		*child_src;
	struct ipc		*ipc;
	sd_event_source		*restart_timer;
	uint64_t		 restart_usec;
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
	sd_event_source		*retry_timer;	/* delivery back-off */
	sd_event_source		*ack_timer;	/* ack write retry */
	uint64_t		 ack_backoff_usec;
	uint64_t		 backoff_usec;
	bool			 backing_off;
	/* timers */
	sd_event_source		*sync_defer, *sync_timer, *beat_timer;
	sd_event_source		*inventory_timer;
	sd_event_source		*spool_timer;	/* spool_open retry */
	uint64_t		 spool_retry_usec;
	bool			 spool_failed;
	uint64_t		 spool_max_bytes;
	/* status */
	uint64_t		 last_delivery;	/* realtime usec: shown */
	uint64_t		 last_delivery_mono; /* for its age */
	char			 last_error[512];
	bool			 sync_failing;
	bool			 ack_failing;
	unsigned		 conflicts;	/* 409s since the last success */
	/* commands */
	char			*recent[REPORT_RECENT_CMDS];
	size_t			 nrecent;
	LIST_HEAD(, report_cmd)	 cmds;
};

static void report_kick(struct report *);
static void report_acked(struct report *, uint64_t);
static void report_start_child(struct report *);

static void
report_append(struct report *r, const char *kind, json_t *payload,
    bool important)
{
	if (r->spool == NULL || r->id == NULL) {
		json_decref(payload);
		return;
	}
	if (spool_append(r->spool, kind,
	    (double)time_now(CLOCK_REALTIME) / 1e6, payload, important) == 0)
		return;
	/* One sync for everything appended in this loop iteration. */
	sd_event_source_set_enabled(r->sync_defer, SD_EVENT_ONESHOT);
}

static int
report_on_sync(sd_event_source *s, void *userdata)
{
	struct report *r = userdata;
	int rc;

	(void)s;
	if (r->spool == NULL)
		return 0;
	if ((rc = spool_sync(r->spool)) < 0) {
		if (!r->sync_failing)
			log_event(LOG_ERR, MSGID_SPOOL_FAILED, NULL, 0,
			    "spool: cannot make reports durable: %s; they stay "
			    "queued in memory and are retried", strerror(-rc));
		r->sync_failing = true;
		/* Its own timer: the delivery back-off is not cut short. */
		sd_event_source_set_time_relative(r->sync_timer, 1000000);
		sd_event_source_set_enabled(r->sync_timer, SD_EVENT_ONESHOT);
		/* The current state still goes, from memory (report_kick). */
		report_kick(r);
		return 0;
	}
	if (r->sync_failing)
		log_info("spool: writing again");
	r->sync_failing = false;
	report_kick(r);
	return 0;
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
report_on_change(const struct decide_change *ch, void *userdata)
{
	static const char *const names[] = { "OK", "WARNING", "CRITICAL",
	    "UNKNOWN" };
	struct report *r = userdata;

	/* What is news was decided in decide.c, not here. */
	if (!ch->report)
		return;
	report_append(r, "state_change", json_pack("{s:o, s:s}", "check",
	    decide_check_json(ch->check, 1), "previous_state",
	    ch->from < 0 ? "PENDING" : names[ch->from & 3]), true);
}

/* ---- commands from the portal ---- */

static void
report_command_result(struct report *r, const char *id, const char *type,
    const char *status, const char *detail, json_t *check)
{
	json_t *p = json_pack("{s:s, s:s, s:s, s:s}", "command_id", id, "type",
	    type, "status", status, "detail", detail);

	if (check != NULL)
		json_object_set_new(p, "check", check);
	report_append(r, "command_result", p, true);
}

static void
report_cmd_free(struct report_cmd *rc)
{
	LIST_REMOVE(rc, entry);
	sched_waiter_cancel(rc->waiter);
	free(rc->id);
	free(rc->name);
	free(rc);
}

static void
report_cmd_done(const struct result *res, int rc, void *userdata)
{
	struct report_cmd *cmd = userdata;
	struct report *r = cmd->report;
	struct sched_check *c = sched_find(r->sched, cmd->name);
	char detail[256];

	cmd->waiter = NULL;
	if (rc < 0 || res == NULL)
		report_command_result(r, cmd->id, "run_check", "failed",
		    "the run was abandoned (reload or shutdown)", NULL);
	else {
		snprintf(detail, sizeof(detail), "%s: %s", cmd->name,
		    result_state_name(res->state));
		report_command_result(r, cmd->id, "run_check", "done", detail,
		    c != NULL ? sched_check_json(c, 1) : NULL);
	}
	report_cmd_free(cmd);
}

/* The portal repeats a command until its result arrives: run it once. */
static bool
report_seen(struct report *r, const char *id)
{
	for (size_t i = 0; i < r->nrecent; i++)
		if (strcmp(r->recent[i], id) == 0)
			return true;
	if (r->nrecent == REPORT_RECENT_CMDS) {
		free(r->recent[0]);
		memmove(r->recent, r->recent + 1,
		    (REPORT_RECENT_CMDS - 1) * sizeof(r->recent[0]));
		r->nrecent--;
	}
	r->recent[r->nrecent++] = xstrdup(id);
	return false;
}

static void
report_command(struct report *r, json_t *cmd)
{
	const char *id = json_string_value(json_object_get(cmd, "id"));
	const char *type = json_string_value(json_object_get(cmd, "type"));
	json_t *args = json_object_get(cmd, "args");
	const char *name = json_string_value(json_object_get(args, "name"));
	char esc[160], detail[160];
	struct report_cmd *rc;
	int e;

	if (report_seen(r, id))
		return;
	if (strcmp(type, "run_check") == 0) {
		if (name == NULL) {
			report_command_result(r, id, type, "failed",
			    "run_check needs args.name", NULL);
			return;
		}
		rc = xcalloc(1, sizeof(*rc));
		rc->report = r;
		rc->id = xstrdup(id);
		rc->name = xstrdup(name);
		LIST_INSERT_HEAD(&r->cmds, rc, entry);
		log_info("portal command %s: run check %s", log_escape(esc,
		    sizeof(esc), id), log_escape(detail, sizeof(detail), name));
		if ((e = sched_run_now(r->sched, name, report_cmd_done, rc,
		    &rc->waiter)) < 0) {
			report_command_result(r, id, type, e == -ENODEV ?
			    "refused" : "failed", e == -ENOENT ? "no such check" :
			    e == -ENODEV ? "the check is disabled" :
			    "the agent is stopping", NULL);
			report_cmd_free(rc);
		}
	} else if (strcmp(type, "run_backup") == 0 ||
	    strcmp(type, "open_support_session") == 0) {
		snprintf(detail, sizeof(detail), "%s is not supported by agentd "
		    "%s", type, AGENTD_VERSION);
		report_command_result(r, id, type, "refused", detail, NULL);
	} else
		log_warnx("portal command %s: unknown type '%s' ignored",
		    log_escape(esc, sizeof(esc), id),
		    log_escape(detail, sizeof(detail), type));
}

static int
report_on_sync_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	return report_on_sync(NULL, userdata);
}

/* ---- sending ---- */

uint64_t
report_retry_delay(uint64_t backoff_usec, int64_t retry_after, long rnd)
{
	uint64_t delay;

	/* Jitter: a fleet that lost its portal must not come back at once. */
	delay = backoff_usec / 2 + (uint64_t)rnd % (backoff_usec / 2 + 1);
	/* Retry-After comes from the network: a portal (or anything in
	 * between) must not be able to stop delivery for good. */
	if (retry_after > REPORT_RETRY_AFTER_MAX)
		retry_after = REPORT_RETRY_AFTER_MAX;
	if (retry_after > 0 && (uint64_t)retry_after * 1000000 > delay)
		delay = (uint64_t)retry_after * 1000000;
	return delay;
}

static void
report_schedule_retry(struct report *r, int64_t retry_after)
{
	uint64_t delay;

	r->backoff_usec = r->backoff_usec == 0 ? 1000000 :
	    r->backoff_usec * 2;
	if (r->backoff_usec > REPORT_BACKOFF_MAX_USEC)
		r->backoff_usec = REPORT_BACKOFF_MAX_USEC;
	delay = report_retry_delay(r->backoff_usec, retry_after, random());
	r->backing_off = true;
	sd_event_source_set_time_relative(r->retry_timer, delay);
	sd_event_source_set_enabled(r->retry_timer, SD_EVENT_ONESHOT);
}

/*
 * Writes the ack kept in memory. On failure (full or read-only disk) it
 * stays in memory, so the acknowledged batch is not sent again (report_kick
 * reads after it) while delivery goes on, and the write is retried on its
 * own timer, 1 s doubling to 5 minutes.
 */
static int
report_persist_ack(struct report *r)
{
	int rc;

	if ((rc = spool_ack(r->spool, r->ack_pending)) < 0) {
		if (!r->ack_failing)
			log_event(LOG_ERR, MSGID_SPOOL_FAILED, NULL, 0,
			    "spool: cannot record the portal's ack of seq "
			    "%llu: %s; kept in memory, retried with back-off",
			    (unsigned long long)r->ack_pending, strerror(-rc));
		r->ack_failing = true;
		r->ack_backoff_usec = r->ack_backoff_usec == 0 ? 1000000 :
		    r->ack_backoff_usec * 2;
		if (r->ack_backoff_usec > REPORT_BACKOFF_MAX_USEC)
			r->ack_backoff_usec = REPORT_BACKOFF_MAX_USEC;
		sd_event_source_set_time_relative(r->ack_timer,
		    r->ack_backoff_usec);
		sd_event_source_set_enabled(r->ack_timer, SD_EVENT_ONESHOT);
		return rc;
	}
	if (r->ack_failing)
		log_info("spool: acks recorded again");
	r->ack_failing = false;
	r->ack_backoff_usec = 0;
	r->ack_pending = 0;
	sd_event_source_set_enabled(r->ack_timer, SD_EVENT_OFF);
	return 0;
}

static int
report_on_ack_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct report *r = userdata;

	(void)s;
	(void)usec;
	if (r->spool != NULL && r->ack_pending != 0 &&
	    report_persist_ack(r) == 0)
		report_kick(r);
	return 0;
}

static int
report_on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct report *r = userdata;

	(void)s;
	(void)usec;
	r->backing_off = false;
	if (r->spool == NULL)
		return 0;
	report_kick(r);
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
report_add_direct(struct report *r, json_t *batch)
{
	json_t *hb = spool_queued_last(r->spool, "heartbeat");
	uint64_t seq;

	if (hb == NULL)
		return;
	seq = (uint64_t)json_integer_value(json_object_get(hb, "seq"));
	if (seq <= r->direct_sent) {
		json_decref(hb);
		return;
	}
	r->direct_sent = seq;
	json_array_append_new(batch, hb);
}

static void
report_kick(struct report *r)
{
	struct spool_stats st;
	json_t *batch, *msg, *last;

	if (r->ipc == NULL || r->in_flight || r->backing_off || r->id == NULL ||
	    r->spool == NULL)
		return;
	spool_stats(r->spool, &st);
	batch = spool_read(r->spool, st.acked > r->ack_pending ? st.acked :
	    r->ack_pending, r->batch_limit, REPORT_BATCH_BYTES);
	if (batch != NULL && json_array_size(batch) == 0 && st.pending > 0 &&
	    r->sync_failing)
		report_add_direct(r, batch);
	if (batch == NULL || json_array_size(batch) == 0) {
		json_decref(batch);
		return;
	}
	r->batch_n = json_array_size(batch);
	r->batch_first = (uint64_t)json_integer_value(json_object_get(
	    json_array_get(batch, 0), "seq"));
	last = json_array_get(batch, json_array_size(batch) - 1);
	r->batch_last = (uint64_t)json_integer_value(json_object_get(last,
	    "seq"));
	msg = json_pack("{s:s, s:I, s:o}", "t", "send", "id", ++r->batch_id,
	    "reports", batch);
	if (ipc_send(r->ipc, msg) == 0)
		r->in_flight = true;
	json_decref(msg);
}

/*
 * The portal holds other reports under seqs we are sending (409): our
 * spool was lost or restored while the identity stayed. Renumber what is
 * unacknowledged after the portal's ack, say so loudly, send again.
 */
static void
report_conflict(struct report *r, uint64_t ack, const char *text)
{
	char f_from[48], f_to[48], f_count[48];
	const char *fields[3] = { f_from, f_to, f_count };
	uint64_t old_first;
	size_t n;
	int rc;

	if ((rc = spool_renumber(r->spool, ack, &n, &old_first)) < 0) {
		snprintf(r->last_error, sizeof(r->last_error), "sequence "
		    "conflict, cannot renumber the spool: %s", strerror(-rc));
		log_event(LOG_ERR, MSGID_SPOOL_FAILED, NULL, 0, "%s",
		    r->last_error);
		report_schedule_retry(r, -1);
		return;
	}
	r->ack_pending = 0;	/* of the old numbering */
	r->direct_sent = 0;
	r->suspect_last = 0;
	r->batch_limit = REPORT_BATCH_MAX;
	if (n == 0 || r->conflicts++ > 0) {
		/* Nothing to renumber, or a conflict again right after one
		 * (another agent with our identity?): not in a tight loop. */
		snprintf(r->last_error, sizeof(r->last_error), "%s", text);
		report_schedule_retry(r, -1);
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
	report_append(r, "sequence_reset", json_pack("{s:I, s:I, s:I}",
	    "renumbered", (json_int_t)n, "old_first", (json_int_t)old_first,
	    "new_first", (json_int_t)(ack + 1)), true);
	report_kick(r);
}

static void
report_failed(struct report *r, json_t *msg)
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
		report_conflict(r, (uint64_t)json_integer_value(
		    json_object_get(msg, "ack")), text);
		return;
	}
	if ((status == 400 || status == 413) && r->batch_first == r->batch_last) {
		/* The portal refuses this one report for good: keeping it would
		 * block every later report behind it. */
		snprintf(field, sizeof(field), "SEQ=%llu",
		    (unsigned long long)r->batch_first);
		log_event(LOG_ERR, MSGID_REPORT_REFUSED, fields, 1,
		    "portal refused report %llu (%s); dropped so later reports "
		    "can flow", (unsigned long long)r->batch_first, text);
		/* Another refused report may follow in the same range:
		 * bisect the rest of it rather than go one by one. */
		if (r->suspect_last > r->batch_first)
			r->batch_limit = r->suspect_last - r->batch_first >
			    REPORT_BATCH_MAX ? REPORT_BATCH_MAX :
			    (size_t)(r->suspect_last - r->batch_first);
		report_acked(r, r->batch_first);
		return;
	}
	if ((status == 400 || status == 413) && r->batch_n > 1) {
		/* Bisect: each refused batch halves, each accepted half
		 * moves on at the same width, so the refused report is
		 * found in about 2 log2(n) requests, without back-off (the
		 * answer will not change by waiting). */
		r->batch_limit = r->batch_n / 2;
		if (r->suspect_last < r->batch_last)
			r->suspect_last = r->batch_last;
		report_kick(r);
		return;
	}
	if (strcmp(r->last_error, text) != 0) {
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
		snprintf(r->last_error, sizeof(r->last_error), "%s", text);
	}
	report_schedule_retry(r, retry_after);
}

/* The portal has everything up to ack: record it and send what follows. */
static void
report_acked(struct report *r, uint64_t ack)
{
	struct spool_stats st;

	/* A heartbeat sent from memory is acknowledged past what is
	 * durable: only what the spool holds can be recorded. */
	spool_stats(r->spool, &st);
	if (ack > st.next_seq - 1 - st.pending)
		ack = st.next_seq - 1 - st.pending;
	if (r->suspect_last != 0 && ack >= r->suspect_last) {
		r->suspect_last = 0;
		r->batch_limit = REPORT_BATCH_MAX;
	} else if (r->suspect_last == 0)
		r->batch_limit = REPORT_BATCH_MAX;
	if (ack > r->ack_pending)
		r->ack_pending = ack;
	/* On failure the ack waits in memory, on its own timer. */
	if (!r->ack_failing)
		report_persist_ack(r);
	report_kick(r);
}

/* A frame from the child: checked whole before any member is used
 * (childmsg.c); one that fails ends the channel (report_on_close kills and
 * restarts the child, which is broken or compromised). */
static int
report_on_msg(struct ipc *ipc, json_t *msg, void *userdata)
{
	struct report *r = userdata;
	char why[256], esc[512];
	json_t *cmds, *c;
	uint64_t ack;
	size_t i;

	(void)ipc;
	if (childmsg_check(msg, why, sizeof(why)) < 0) {
		log_warnx("agentd-reporter sent a bad frame (%s); killing and "
		    "restarting it", log_escape(esc, sizeof(esc), why));
		return -1;
	}
	if (json_integer_value(json_object_get(msg, "id")) != r->batch_id ||
	    !r->in_flight)
		return 0;	/* a stale answer from before a restart */
	r->in_flight = false;
	if (!json_is_true(json_object_get(msg, "ok"))) {
		report_failed(r, msg);
		return 0;
	}
	ack = (uint64_t)json_integer_value(json_object_get(msg, "ack"));
	if (r->last_error[0] != '\0')
		log_info("delivering reports again (HTTP/%s)",
		    json_string_value(json_object_get(msg, "http")));
	r->last_error[0] = '\0';
	r->conflicts = 0;
	r->last_delivery = time_now(CLOCK_REALTIME);
	r->last_delivery_mono = time_now(CLOCK_MONOTONIC);
	r->restart_usec = 0;
	if (json_integer_value(json_object_get(msg, "skipped")) > 0)
		log_warnx("portal sent %lld malformed commands; ignored",
		    (long long)json_integer_value(json_object_get(msg,
		    "skipped")));
	cmds = json_object_get(msg, "commands");
	json_array_foreach(cmds, i, c)
		report_command(r, c);
	if (ack < r->batch_first) {
		/* Nothing of the batch was stored: do not spin on it. */
		snprintf(r->last_error, sizeof(r->last_error), "the portal "
		    "acknowledged %llu, before this batch (%llu..%llu)",
		    (unsigned long long)ack, (unsigned long long)r->batch_first,
		    (unsigned long long)r->batch_last);
		report_schedule_retry(r, -1);
		return 0;
	}
	r->backoff_usec = 0;
	report_acked(r, ack > r->batch_last ? r->batch_last : ack);
	return 0;
}

/* ---- the child ---- */

static void
report_stop_child(struct report *r)
{
	if (r->ipc != NULL) {
		ipc_free(r->ipc);	/* EOF tells the child to exit */
		r->ipc = NULL;
	}
	if (r->pid > 0)
		kill(r->pid, SIGTERM);
	r->in_flight = false;
}

/* At shutdown the loop is gone: give the child up to a second to finish
 * on its own, so systemd does not have to SIGKILL it after us. */
static void
report_reap_child(struct report *r)
{
	for (int i = 0; i < 100 && r->pid > 0; i++) {
		if (waitpid(r->pid, NULL, WNOHANG) != 0)
			r->pid = 0;
		else
			usleep(10000);
	}
	if (r->pid > 0) {
		kill(r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
		r->pid = 0;
	}
}

static void
report_on_close(struct ipc *ipc, int error, void *userdata)
{
	struct report *r = userdata;

	(void)ipc;
	/* A child that breaks the framing is not asked to stop: it is
	 * killed (the frame itself is logged by report_on_msg). */
	if (error == -EBADMSG || error == -EMSGSIZE || error == -EPROTO) {
		if (error == -EMSGSIZE)
			log_warnx("agentd-reporter announced a frame of 0 or over "
			    "%d bytes; killing and restarting it",
			    CHILDMSG_FRAME_MAX);
		else if (error == -EBADMSG)
			log_warnx("agentd-reporter sent a frame that is not a "
			    "JSON object; killing and restarting it");
		if (r->pid > 0)
			kill(r->pid, SIGKILL);
	}
	report_stop_child(r);
}

static int
report_on_restart(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	report_start_child(userdata);
	return 0;
}

/* The next start of the child, later each time, 1 s to 60 s. */
static void
report_schedule_restart(struct report *r)
{
	if (r->id == NULL)
		return;
	r->restart_usec = r->restart_usec == 0 ? 1000000 :
	    r->restart_usec * 2;
	if (r->restart_usec > REPORT_RESTART_MAX_USEC)
		r->restart_usec = REPORT_RESTART_MAX_USEC;
	sd_event_source_set_time_relative(r->restart_timer, r->restart_usec);
	sd_event_source_set_enabled(r->restart_timer, SD_EVENT_ONESHOT);
}

static int
report_on_child_exit(sd_event_source *s, const siginfo_t *si, void *userdata)
{
	struct report *r = userdata;

	(void)s;
	r->child_src = sd_event_source_disable_unref(r->child_src);
	r->pid = 0;
	if (r->ipc != NULL)
		log_warnx("agentd-reporter exited (%s %d); restarting it",
		    si->si_code == CLD_EXITED ? "status" : "signal",
		    si->si_status);
	report_stop_child(r);
	report_schedule_restart(r);
	return 0;
}

static void
report_start_child(struct report *r)
{
	static char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	    "LC_ALL=C", NULL };
	char *const argv[] = { "agentd-reporter", log_to_journal() ? NULL :
	    "--stderr", NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	int sv[2], rc;

	if (r->pid > 0 || r->id == NULL)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		log_warn("reporter: socketpair");
		return;
	}
	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	rc = posix_spawn(&r->pid, r->reporter_path, &fa, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	if (rc != 0) {
		snprintf(r->last_error, sizeof(r->last_error), "cannot start %s: "
		    "%s", r->reporter_path, strerror(rc));
		log_warnx("%s; retrying", r->last_error);
		close(sv[0]);
		r->pid = 0;
		report_schedule_restart(r);
		return;
	}
	if (sd_event_add_child(r->event, &r->child_src, r->pid, WEXITED,
	    report_on_child_exit, r) < 0 ||
	    ipc_new(r->event, sv[0], report_on_msg, report_on_close, r,
	    &r->ipc) < 0)
		fatalx("cannot watch agentd-reporter");
	ipc_set_max_in(r->ipc, CHILDMSG_FRAME_MAX);
	ipc_send(r->ipc, r->child_config);
	report_kick(r);
}

/* What the child needs to know; the credential never leaves memory
 * except through this socket. */
static json_t *
report_child_config(const struct identity *id, const struct config *cfg)
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
report_reset_retry(struct report *r)
{
	r->backoff_usec = 0;
	r->backing_off = false;
	r->batch_limit = REPORT_BATCH_MAX;
	r->suspect_last = 0;
	sd_event_source_set_enabled(r->retry_timer, SD_EVENT_OFF);
}

void
report_apply(struct report *r, const struct config *cfg)
{
	struct identity *id = NULL;
	char err[256];
	json_t *conf;
	int rc;

	rc = identity_load(r->state_dir, &id, err, sizeof(err));
	if (rc < 0 && rc != -ENOENT)
		log_warnx("%s; not reporting", err);
	conf = id != NULL ? report_child_config(id, cfg) : NULL;
	/* A reload or a re-enrolment is the operator's word to try now:
	 * whatever back-off or Retry-After was running ends here. */
	report_reset_retry(r);
	if (conf != NULL && r->child_config != NULL &&
	    json_equal(conf, r->child_config)) {
		json_decref(conf);
		identity_free(r->id);
		r->id = id;
		report_kick(r);
		return;
	}
	report_stop_child(r);
	json_decref(r->child_config);
	r->child_config = conf;
	identity_free(r->id);
	r->id = id;
	if (id == NULL) {
		log_info("not enrolled: reports are not sent (agentctl enroll)");
		return;
	}
	log_info("reporting to %s as agent %s", id->portal, id->agent_id);
	r->restart_usec = 0;
	report_on_inventory(r->inventory_timer, time_now(CLOCK_MONOTONIC),
	    r);
	if (r->pid == 0)
		report_start_child(r);
	else	/* the old one is on its way out; its exit starts the new */
		r->restart_usec = 0;
}

/*
 * Opens the spool. Monitoring never depends on it: on failure the checks
 * keep running (agentctl status shows them), it is logged loudly and tried
 * again, 1 s doubling to 5 minutes; reports made meanwhile are lost.
 */
static void
report_open_spool(struct report *r)
{
	char *dir;
	int rc;

	xasprintf(&dir, "%s/spool", r->state_dir);
	rc = spool_open(dir, r->spool_max_bytes, &r->spool);
	if (rc < 0) {
		log_event(LOG_ERR, MSGID_SPOOL_FAILED, NULL, 0,
		    "spool: cannot open %s: %s; checks keep running, reports "
		    "are not made until it opens (retrying)", dir,
		    strerror(-rc));
		snprintf(r->last_error, sizeof(r->last_error), "spool %s: %s",
		    dir, strerror(-rc));
		r->spool_failed = true;
		r->spool_retry_usec = r->spool_retry_usec == 0 ? 1000000 :
		    r->spool_retry_usec * 2;
		if (r->spool_retry_usec > REPORT_BACKOFF_MAX_USEC)
			r->spool_retry_usec = REPORT_BACKOFF_MAX_USEC;
		sd_event_source_set_time_relative(r->spool_timer,
		    r->spool_retry_usec);
		sd_event_source_set_enabled(r->spool_timer, SD_EVENT_ONESHOT);
	} else {
		r->spool_retry_usec = 0;
		if (r->spool_failed) {
			log_info("spool: %s open", dir);
			r->last_error[0] = '\0';
			r->spool_failed = false;
			/* The one made at start was lost: make it again. */
			report_on_inventory(r->inventory_timer,
			    time_now(CLOCK_MONOTONIC), r);
		}
		report_kick(r);
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

	r->event = sd_event_ref(event);
	r->sched = sched;
	r->state_dir = xstrdup(cfg->state_dir);
	r->reporter_path = xstrdup(reporter_path);
	r->batch_limit = REPORT_BATCH_MAX;
	r->spool_max_bytes = (uint64_t)cfg->spool_max_mb * 1024 * 1024;
	LIST_INIT(&r->cmds);
	sd_event_now(event, CLOCK_MONOTONIC, &now);
	if (sd_event_add_defer(event, &r->sync_defer, report_on_sync, r) < 0 ||
	    sd_event_add_time(event, &r->sync_timer, CLOCK_MONOTONIC,
	    UINT64_MAX, 0, report_on_sync_timer, r) < 0 ||
	    sd_event_add_time(event, &r->ack_timer, CLOCK_MONOTONIC,
	    UINT64_MAX, 0, report_on_ack_timer, r) < 0 ||
	    sd_event_add_time(event, &r->retry_timer, CLOCK_MONOTONIC,
	    UINT64_MAX, 0, report_on_retry, r) < 0 ||
	    sd_event_add_time(event, &r->restart_timer, CLOCK_MONOTONIC,
	    UINT64_MAX, 0, report_on_restart, r) < 0 ||
	    sd_event_add_time(event, &r->beat_timer, CLOCK_MONOTONIC,
	    now + REPORT_FIRST_BEAT_USEC, 0, report_on_beat, r) < 0 ||
	    sd_event_add_time(event, &r->inventory_timer, CLOCK_MONOTONIC,
	    now + REPORT_INVENTORY_USEC, 0, report_on_inventory, r) < 0 ||
	    sd_event_add_time(event, &r->spool_timer, CLOCK_MONOTONIC,
	    UINT64_MAX, 0, report_on_spool_timer, r) < 0)
		fatalx("cannot set up the reporting timers");
	sd_event_source_set_enabled(r->sync_defer, SD_EVENT_OFF);
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
	json_object_set_new(o, "last_delivery", r->last_delivery == 0 ?
	    json_null() : json_real((double)r->last_delivery / 1e6));
	json_object_set_new(o, "last_delivery_age", r->last_delivery == 0 ?
	    json_null() : json_integer((json_int_t)(time_since(
	    r->last_delivery_mono, time_now(CLOCK_MONOTONIC)) / 1000000)));
	json_object_set_new(o, "last_error", r->last_error[0] == '\0' ?
	    json_null() : json_string(r->last_error));
	json_object_set_new(o, "reporter", json_string(r->ipc != NULL ?
	    "running" : r->id == NULL ? "stopped" : "restarting"));
	return o;
}

void
report_free(struct report *r)
{
	struct report_cmd *rc;

	if (r == NULL)
		return;
	while ((rc = LIST_FIRST(&r->cmds)) != NULL)
		report_cmd_free(rc);
	if (r->spool != NULL && spool_sync(r->spool) < 0)
		log_warnx("spool: reports queued at shutdown could not be "
		    "written");
	report_stop_child(r);
	report_reap_child(r);
	sd_event_source_disable_unref(r->child_src);
	sd_event_source_disable_unref(r->sync_defer);
	sd_event_source_disable_unref(r->sync_timer);
	sd_event_source_disable_unref(r->ack_timer);
	sd_event_source_disable_unref(r->retry_timer);
	sd_event_source_disable_unref(r->restart_timer);
	sd_event_source_disable_unref(r->beat_timer);
	sd_event_source_disable_unref(r->inventory_timer);
	sd_event_source_disable_unref(r->spool_timer);
	spool_close(r->spool);
	json_decref(r->child_config);
	identity_free(r->id);
	for (size_t i = 0; i < r->nrecent; i++)
		free(r->recent[i]);
	free(r->state_dir);
	free(r->reporter_path);
	sd_event_unref(r->event);
	free(r);
}
