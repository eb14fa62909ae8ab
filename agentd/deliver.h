/*
 * Delivery: takes what the spool holds to the portal through the
 * agentd-reporter helper, one batch at a time, in seq order, and records
 * the portal's ack. Owns the retry policy: exponential back-off with
 * jitter capped at 5 minutes, Retry-After honoured (bounded), bisection
 * of a batch the portal refuses, renumbering after a sequence conflict,
 * the newest heartbeat sent from memory while the disk refuses it.
 */
#ifndef DELIVER_H
#define DELIVER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "identity.h"
#include "spool.h"

#define DELIVER_BACKOFF_MAX_USEC	(300 * 1000000ULL)
#define DELIVER_BATCH_MAX	100
#define DELIVER_BATCH_BYTES	(256 * 1024)
/* The longest Retry-After honoured, seconds. */
#define DELIVER_RETRY_AFTER_MAX	3600
/* A batch unanswered this long past the reporter's own request timeout:
 * the reporter is hung or hostile, and is restarted. */
#define DELIVER_FLIGHT_GRACE_SEC	10

struct deliver;
struct report;

/* The commands of a portal reply, already validated (childmsg.c); the
 * array is borrowed for the call. */
typedef void deliver_commands_fn(json_t *commands, void *arg);

/* Nothing starts before deliver_apply. Reports it makes itself (a
 * sequence reset) go through report_emit(report). 0 or -errno. */
int	deliver_new(sd_event *event, struct report *report,
	    const char *reporter_path, deliver_commands_fn *on_commands,
	    void *arg, struct deliver **dp);
/* The spool to read (borrowed; NULL while it is not open). */
void	deliver_set_spool(struct deliver *d, struct spool *spool);
/* The identity (borrowed until the next call; NULL: not enrolled) and
 * [portal]: (re)starts the reporter if what it is given changed, and ends
 * any back-off (a reload is the operator's word to try now). Returns
 * whether anything the reporter is given changed. */
bool	deliver_apply(struct deliver *d, const struct identity *id,
	    const struct config *cfg);
/* Reports were appended: one spool sync per loop iteration, then send. */
void	deliver_queued(struct deliver *d);
/* Sends the next batch if nothing is in flight or backing off. */
void	deliver_kick(struct deliver *d);
/* Sets (text) or clears (NULL) the error shown in status. */
void	deliver_set_error(struct deliver *d, const char *text);
/* Adds "last_delivery", "last_delivery_age", "last_error", "reporter". */
void	deliver_status(struct deliver *d, json_t *o);
/*
 * The wait before the next delivery attempt: backoff_usec with jitter
 * from rnd (half to all of it), at least retry_after seconds (negative:
 * none) capped at DELIVER_RETRY_AFTER_MAX.
 */
uint64_t deliver_retry_delay(uint64_t backoff_usec, int64_t retry_after,
	    long rnd);
/* Stops the reporter (waiting a bounded time for it). */
void	deliver_free(struct deliver *d);

#endif
