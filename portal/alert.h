/*
 * Alerts: "check" alerts follow WARNING/CRITICAL states of a host's checks,
 * "unreachable" alerts follow the dead-man's switch. Each open and close is
 * logged and, with a webhook configured, queued in the outbox table in the
 * same transaction, so no event is lost across a restart.
 */
#ifndef ALERT_H
#define ALERT_H

#include <jansson.h>
#include <sqlite3.h>

#include "store.h"

/* Queue webhook events from now on (off by default). */
void	alert_outbox_enable(int on);

/*
 * The functions below run with the store lock held inside a transaction
 * and return 0 or -EIO.
 */
int	alert_open(struct store *, const char *agent_id, const char *kind,
	    const char *check, const char *state, const char *summary,
	    double now);
/* Closes the open alert of that kind (and check, if not NULL), if any. */
int	alert_close(struct store *, const char *agent_id, const char *kind,
	    const char *check, double now);
/* Closes every open alert of an agent (unenrolled or replaced). */
int	alert_close_agent(struct store *, const char *agent_id, double now);
/* What an alert from a check carries besides its state (schema 7). */
struct alert_warning {
	const char	*reason;	/* JSON text of the state change's
					 * reason, or NULL */
	const char	*forecast;	/* JSON text of check.forecast, or NULL */
	double		 flapping;	/* percent, < 0 when not flapping */
};

/*
 * The alert state a check calls for: "FLAPPING" while it flaps
 * (flapping >= 0), its state when WARNING or CRITICAL, else NULL.
 */
const char *alert_check_desired(const char *state, double flapping);
/*
 * The rule for check alerts: the check's open "check" alert must have the
 * state desired (alert_check_desired); when it has another, or there is
 * none, the open one closes and, when desired is not NULL, a new one
 * opens (WARNING->CRITICAL closes one and opens another). Opening spends
 * one of *budget (the alerts one request may open,
 * PORTAL_MAX_ALERTS_PER_REQUEST); with none left the alert is not opened
 * and 1 is returned instead of 0. w may be NULL.
 */
int	alert_check_reconcile(struct store *, const char *agent_id,
	    const char *check, const char *desired, const char *summary,
	    const struct alert_warning *w, double now, int *budget);
/*
 * The agent's maintenance window is over (stopped, or its end passed):
 * marks it closed and reconciles every check not silenced, so checks
 * still WARNING/CRITICAL get their alerts (and webhooks) now and alerts
 * of checks that recovered meanwhile close.
 */
int	alert_window_end(struct store *, const char *agent_id, double now);
/*
 * For the dead-man thread: ends the maintenance windows whose until has
 * passed by the portal's clock and the silences that ran out, as above.
 * Takes the lock. Returns how many it ended, or a negative errno.
 */
int	alert_window_scan(struct store *, double now);
/* "/var full in ~3 d 4 h at 1.2 GiB/day" from a forecast object. */
void	alert_forecast_text(const json_t *forecast, char *buf, size_t len);

/* The JSON of an alert row selected as ALERT_COLUMNS (new reference). */
#define ALERT_COLUMNS \
	"a.id, a.agent_id, g.hostname, a.kind, a.check_name, a.state, " \
	"a.summary, a.opened, a.closed, a.reason, a.forecast, a.flapping, " \
	"a.acked, a.acked_by, a.ack_comment " \
	"FROM alerts a JOIN agents g ON " \
	"g.id = a.agent_id"
json_t	*alert_row_json(sqlite3_stmt *);

/*
 * Acknowledges open alert id for by (an operator's name) with comment:
 * 0, -ENOENT (no such alert), -ESTALE (closed), -EALREADY (acknowledged
 * before). The webhook gets an "acknowledged" event.
 */
int	alert_ack(struct store *, long long id, const char *by,
	    const char *comment, double now);
/*
 * Sends again ("repeated") each open alert neither acknowledged nor held
 * (host in maintenance, check silenced) whose last event is interval
 * seconds old; at most 100 a run. Returns how many, or a negative errno.
 */
int	alert_repeat_scan(struct store *, double now, double interval);
/*
 * Dead-man's switch: marks unreachable every enrolled host silent for
 * PORTAL_DEADMAN_FACTOR report intervals, with no clock step recorded
 * within them, and opens its alert. Takes the
 * lock. Returns how many hosts it marked, or -EIO.
 */
int	alert_deadman_scan(struct store *, double now);
/*
 * The portal's realtime clock stepped by delta seconds (seen at now): no
 * host is marked unreachable for a silence that began before now until a
 * full grace period has passed, and stamps ahead of now become now. Takes
 * the lock. Returns 0 or -EIO.
 */
int	alert_clock_step(struct store *, double now, double delta);

#endif
