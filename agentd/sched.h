/*
 * The scheduler owns the running config and every check's runtime state:
 * one timer per check, a concurrency limit for external checks, back-off
 * for failing collectors, calendar entries. It runs checks and nothing
 * more: every finished run goes to decide_result (decide.h), which keeps
 * the results and states the rest of agentd reads. struct sched_check is
 * private to sched.c.
 */
#ifndef SCHED_H
#define SCHED_H

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include <jansson.h>

#include "config.h"
#include "decide.h"
#include "result.h"

struct sched;
struct sched_cal;
struct sched_check;
struct sched_waiter;

/* Called with each finished result of a `sched_run_now`; r is only valid
 * during the call. rc is 0, or -errno when the run was abandoned (reload,
 * shutdown) and r is NULL. */
typedef void sched_run_fn(const struct result *r, int rc, void *userdata);

/* Takes ownership of cfg. Starts every enabled check; each finished run
 * goes to decide (decide_result), which must outlive the scheduler. */
int	sched_new(sd_event *event, struct config *cfg, const char *proc,
	    const char *sys, struct decide *decide, struct sched **sp);
void	sched_free(struct sched *s);
/* Switches to cfg (owned from now on), keeping each surviving check's last
 * result; runs in flight are abandoned and the old config is freed. */
void	sched_apply(struct sched *s, struct config *cfg);
const struct config *sched_config(const struct sched *s);
/* Where the results go: the checks' decided states, for reports. */
struct decide *sched_decide(const struct sched *s);

size_t	sched_count(const struct sched *s);
struct sched_check *sched_at(struct sched *s, size_t i);
struct sched_check *sched_find(struct sched *s, const char *name);

/* Runs the check now (or joins the run in flight); fn gets the result.
 * Returns 0 with *wp set (cancel with sched_waiter_cancel before
 * userdata dies), -ENOENT for no such check, -ENODEV if disabled,
 * -ESHUTDOWN while stopping. */
int	sched_run_now(struct sched *s, const char *name, sched_run_fn *fn,
	    void *userdata, struct sched_waiter **wp);
void	sched_waiter_cancel(struct sched_waiter *w);

/* Stops scheduling and sends sig to every running external check.
 * Returns how many runs are still in flight. */
size_t	sched_stop(struct sched *s, int sig);
size_t	sched_in_flight(const struct sched *s);
/* A check as JSON: decide_check_json's, with the scheduler's interval,
 * schedule, next_run and runs. New reference. */
json_t	*sched_check_json(const struct sched_check *c, int detail);

/*
 * Calendar entries: fn runs at each time cron gives (local time), plus a
 * random delay of up to randomized_delay seconds. A check with a schedule
 * is one; other modules (backups) may add their own. id ("check.NAME",
 * "backup.NAME": no blanks) keys the time of its last run, kept in the
 * state dir's file "calendar": an entry that missed a fire while agentd
 * was down runs once soon after it is added. The entry is owned by the
 * caller and freed with sched_cal_free before sched_free.
 */
typedef void sched_cal_fn(struct sched_cal *e, void *userdata);

struct sched_cal *sched_cal_add(struct sched *s, const char *id,
	    const struct cron *cron, unsigned randomized_delay,
	    sched_cal_fn *fn, void *userdata);
void	sched_cal_free(struct sched_cal *e);
/* When e fires next (realtime usec, the random delay included), and the
 * calendar time that fire stands for (seconds); 0 when it never will. */
uint64_t sched_cal_due(const struct sched_cal *e);
int64_t	sched_cal_nominal(const struct sched_cal *e);
/* Recomputes every entry's next fire from the wall clock; the loop calls
 * it when the clock is set (a step either way). */
void	sched_clock_changed(struct sched *s);

#endif
