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
/*
 * The rule for check alerts: when a check's state changes, its open alert
 * (if any) closes; when the new state is WARNING or CRITICAL a new alert
 * opens. old_state is NULL for a check seen for the first time. Opening
 * spends one of *budget (the alerts one request may open,
 * PORTAL_MAX_ALERTS_PER_REQUEST); with none left the alert is not opened
 * and 1 is returned instead of 0.
 */
int	alert_check_changed(struct store *, const char *agent_id,
	    const char *check, const char *old_state, const char *new_state,
	    const char *summary, double now, int *budget);

/* The JSON of an alert row selected as ALERT_COLUMNS (new reference). */
#define ALERT_COLUMNS \
	"a.id, a.agent_id, g.hostname, a.kind, a.check_name, a.state, " \
	"a.summary, a.opened, a.closed FROM alerts a JOIN agents g ON " \
	"g.id = a.agent_id"
json_t	*alert_row_json(sqlite3_stmt *);

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
