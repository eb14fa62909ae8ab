/*
 * Reporting, agentd's side: makes reports (heartbeat every report
 * interval, state changes at once, inventory at start and daily) and takes
 * those of other modules (report_emit: command results, warnings, backup
 * results, session audit events), making them durable in the spool it owns.
 * deliver.c takes the spool to the portal; command.c answers the portal's
 * commands.
 */
#ifndef REPORT_H
#define REPORT_H

#include <stdint.h>

#include <jansson.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "decide.h"
#include "sched.h"

/* Whether the spool may drop a report when it is full. */
enum report_class {
	REPORT_ROUTINE,		/* heartbeat, inventory: oldest dropped first */
	REPORT_IMPORTANT,	/* state changes, warnings, command and backup
				 * results, session audit events: never */
};

struct report;
struct command;

/* Opens the spool under cfg->state_dir and, if the host is enrolled,
 * starts the reporter. Not being enrolled is not an error, nor is a spool
 * that cannot be opened (logged, retried on a timer). 0 or -errno. */
int	report_new(sd_event *event, struct sched *sched,
	    const struct config *cfg, const char *reporter_path,
	    struct report **rp);
/* After a reload: re-reads the identity and [portal]; restarts the
 * reporter if anything it uses changed. */
void	report_apply(struct report *r, const struct config *cfg);
/* Subscribed to decide (decide_change_fn, userdata the report): a check
 * changed state; a state_change report goes out if the change is news. */
void	report_on_change(const struct decide_change *ch, void *userdata);
struct maintenance;
/* While m has a window open, every report's payload carries
 * "maintenance": {"until", "reason"}. */
void	report_set_maintenance(struct report *r, struct maintenance *m);
/*
 * Queues one report of the given kind (docs/protocol.md lists them; the
 * portal stores a kind it does not know) with its payload (reference
 * taken), stamped now, made durable within this loop iteration and sent
 * in order. Dropped, and the payload freed, while the host is not
 * enrolled or the spool is not open.
 */
void	report_emit(struct report *r, const char *kind, json_t *payload,
	    enum report_class cls);
/* The command dispatcher (commands from the portal and agentctl). */
struct command *report_commands(struct report *r);
/* {"enrolled", "portal", "agent_id", "spool_depth", "last_delivery",
 * "last_delivery_age" (seconds, from the monotonic clock),
 * "last_error", ...} for agentctl status. New reference. */
json_t	*report_status(struct report *r);
/* Flushes what is queued to the spool; stops the reporter. */
void	report_free(struct report *r);

#endif
