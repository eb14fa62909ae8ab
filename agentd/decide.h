/*
 * Between a result and a report: every check's current state as the
 * reports show it. The scheduler hands each finished result to
 * decide_result; decide keeps it, decides what state the check is in and
 * whether that is news, logs a change and tells its subscribers (the
 * report module, the status line). The heartbeat reads every check from
 * here. The warnings engine (hysteresis, flapping, forecasts) will plug
 * into decide_state in decide.c.
 */
#ifndef DECIDE_H
#define DECIDE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "result.h"

struct decide;
struct decide_check;

/* Why a change happened, beyond "the result says so". */
enum decide_reason {
	DECIDE_REASON_NONE,
	DECIDE_REASON_SOFT,		/* hard after policy.attempts results */
	DECIDE_REASON_FLAP_START,	/* from == to: flapping began */
	DECIDE_REASON_FLAP_STOP,	/* to: the state once it stopped */
};

/* A check whose state changed, or that began or stopped flapping. from is
 * -1 (PENDING) for its first result since it was added. report: the change
 * is news, to be reported now (a first OK is not). */
struct decide_change {
	struct decide_check	*check;
	int			 from;
	int			 to;
	bool			 report;
	enum decide_reason	 reason;
};

/*
 * How a check's results become its reported state (docs/agentd.conf.5):
 * a non-OK result must come attempts times in a row before the state is
 * hard (recovery to OK is at once); flapping starts when the weighted
 * state change over the last DECIDE_FLAP_HISTORY results reaches
 * flap_high percent and stops below flap_low (flap_high 0: never).
 */
struct decide_policy {
	unsigned	attempts;	/* >= 1 */
	unsigned	flap_low, flap_high;
};

#define DECIDE_FLAP_HISTORY	21

typedef void decide_change_fn(const struct decide_change *ch, void *userdata);
/* Adds the owner's members (the scheduler's: interval, schedule, runs)
 * to a check's JSON. */
typedef void decide_describe_fn(json_t *o, void *owner);

struct decide *decide_new(void);
/* The checks must have been removed first. */
void	decide_free(struct decide *d);
/* fn hears every state change, in the order subscribed. */
void	decide_subscribe(struct decide *d, decide_change_fn *fn,
	    void *userdata);

/* A new check, PENDING, at the end of the list. describe may be NULL. */
struct decide_check *decide_check_add(struct decide *d, const char *name,
	    enum check_kind kind, decide_describe_fn *describe, void *owner);
/* A check that survives a reload keeps its state and moves to the end of
 * the list (so the list follows the new config's order), under its new
 * owner. */
void	decide_check_keep(struct decide_check *dc,
	    decide_describe_fn *describe, void *owner);
/* The policy of a new check is attempts 1, no flap detection. */
void	decide_check_policy(struct decide_check *dc,
	    const struct decide_policy *policy);
/* The check leaves the heartbeat; NULL is ignored. */
void	decide_check_remove(struct decide_check *dc);

/* The one entry point: a finished run of dc (collector or external check,
 * scheduled or asked for). Takes the contents of r (r is left reset). */
void	decide_result(struct decide_check *dc, struct result *r);

const char *decide_check_name(const struct decide_check *dc);
enum check_kind decide_check_kind(const struct decide_check *dc);
/* The last result; NULL while PENDING. */
const struct result *decide_check_result(const struct decide_check *dc);
/* The state the reports show: -1 while PENDING. */
int	decide_check_state(const struct decide_check *dc);
/* A non-OK result has not yet repeated attempts times: the scheduler
 * re-checks at retry_interval. */
bool	decide_check_soft(const struct decide_check *dc);
unsigned decide_check_attempts(const struct decide_check *dc);
/* The weighted percent state change over the last results, and whether
 * that made the check flap. */
double	decide_check_flap_percent(const struct decide_check *dc);
bool	decide_check_flapping(const struct decide_check *dc);
/* When the state last changed: realtime usec (shown) and monotonic usec
 * (for durations); 0 = never. */
uint64_t decide_check_last_change(const struct decide_check *dc);
uint64_t decide_check_last_change_mono(const struct decide_check *dc);

/* A check as JSON: its last result (with long text and perfdata if
 * detail) and age, or PENDING; "state" is the reported state; name,
 * kind, the owner's members, last_change, and while they apply "soft"
 * {state, attempt, attempts}, "flapping" {percent, state, changes} and
 * "silenced_until". New reference. */
json_t	*decide_check_json(const struct decide_check *dc, int detail);
/* Every check, in config order, for the heartbeat. New reference. */
json_t	*decide_json(const struct decide *d, int detail);
/* Silences are asked of fn (NULL: none): the realtime second a check is
 * silenced until, or 0. */
typedef int64_t decide_silence_fn(const char *name, void *userdata);
void	decide_set_silence(struct decide *d, decide_silence_fn *fn,
	    void *userdata);
int64_t	decide_check_silenced(const struct decide_check *dc);

/* Counts checks by state; pending = no result yet. */
void	decide_tally(const struct decide *d, unsigned counts[4],
	    unsigned *pending);
size_t	decide_count(const struct decide *d);
/* The check of that name, or NULL. */
struct decide_check *decide_find(struct decide *d, const char *name);

#endif
