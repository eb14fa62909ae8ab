/*
 * Reporting, agentd's side: turns check results into reports (heartbeat
 * every report interval, state changes at once, inventory at start and
 * daily, command results), makes them durable in the spool, and feeds them
 * in order to the agentd-reporter process, which does the HTTPS. Owns the
 * retry policy (exponential back-off with jitter, capped at 5 minutes,
 * Retry-After honoured) and the portal's commands (under local policy).
 */
#ifndef REPORT_H
#define REPORT_H

#include <stdint.h>

#include <jansson.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "decide.h"
#include "sched.h"

#define REPORT_BACKOFF_MAX_USEC	(300 * 1000000ULL)
#define REPORT_BATCH_MAX	100
#define REPORT_BATCH_BYTES	(256 * 1024)
/* The longest Retry-After honoured, seconds. */
#define REPORT_RETRY_AFTER_MAX	3600

struct report;

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
/* {"enrolled", "portal", "agent_id", "spool_depth", "last_delivery",
 * "last_delivery_age" (seconds, from the monotonic clock),
 * "last_error", ...} for agentctl status. New reference. */
json_t	*report_status(struct report *r);
/*
 * The wait before the next delivery attempt: backoff_usec with jitter
 * from rnd (half to all of it), at least retry_after seconds (negative:
 * none) capped at REPORT_RETRY_AFTER_MAX.
 */
uint64_t report_retry_delay(uint64_t backoff_usec, int64_t retry_after,
	    long rnd);
/* Flushes what is queued to the spool; stops the reporter. */
void	report_free(struct report *r);

#endif
