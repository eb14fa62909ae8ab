/*
 * The built-in collector interface, in the spirit of collectd's plugin API:
 * each collector is one file exporting a const struct collector, listed in
 * the table in collectors.c. A collector yields one result per run.
 *
 * Lifetime of one instance: new() -> configure()* -> start() -> collect()*
 * -> free(). new() and configure() run while the config is parsed (also for
 * --check-config), so they must not open anything; start() does.
 * Ownership: the framework owns the instance pointer returned by new() and
 * always releases it with free(), whether start() succeeded or not.
 */
#ifndef COLLECTOR_H
#define COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <systemd/sd-event.h>

#include "result.h"

#define COLLECTOR_ERR_MAX	256

/* Where a collector reads the system from; tests point these at fixtures. */
struct collector_env {
	const char	*proc;		/* "/proc" */
	const char	*sys;		/* "/sys" */
	const char	*state_dir;	/* persistent state, e.g. /var/lib/agentd */
	sd_event	*event;		/* the daemon's loop, for async collectors */
};

struct collect_req;
struct threshold_key;
/* Completes an asynchronous collection started by collect(). */
void	collect_req_finish(struct collect_req *req);
/* The result the collector fills in (already reset to UNKNOWN). */
struct result *collect_req_result(struct collect_req *req);

#define COLLECT_PENDING	1	/* collect() returned: will call finish later */

struct collector {
	const char	*name;		/* section is [collector.NAME] */
	const char	*description;
	unsigned	 interval;	/* default seconds between runs */
	/* Disabled until its section sets a key other than "enabled" (a
	 * collector with nothing to watch until told what: certificates). */
	bool		 off_by_default;

	/* Allocates an instance with the default thresholds. */
	void	*(*new)(void);
	/* One key of [collector.NAME] (not "interval"/"enabled": the framework
	 * takes those). Returns 0, or -EINVAL with a message in err. */
	int	 (*configure)(void *inst, const char *key, const char *value,
		    char *err, size_t errlen);
	/* Its METRIC_warning / METRIC_critical keys with their defaults
	 * (threshold.h), ending in a NULL name; NULL when it has none.
	 * configure() applies them; the table is here so the shipped
	 * example config can be checked against the defaults. */
	const struct threshold_key *thresholds;
	/* Opens what the collector needs and takes a baseline for rates.
	 * Optional. Returns 0 or -errno; on failure collect() still runs and
	 * should report UNKNOWN with the reason. */
	int	 (*start)(void *inst, const struct collector_env *env);
	/* Fills collect_req_result(req). Returns 0 when done, COLLECT_PENDING
	 * when it will call collect_req_finish() from the loop later, or
	 * -errno for a collector failure (the result then says why). */
	int	 (*collect)(void *inst, struct collect_req *req);
	/* Optional, for collectors that return COLLECT_PENDING: forget the
	 * request in flight (it is being freed); finish must not follow. */
	void	 (*cancel)(void *inst);
	void	 (*free)(void *inst);
};

typedef void collect_done_fn(struct collect_req *req, void *userdata);

/* Starts one run of inst; done() is called exactly once, possibly before
 * collect_req_start returns. The request owns its result until freed. */
struct collect_req *collect_req_new(const struct collector *c, void *inst,
		    collect_done_fn *done, void *userdata);
void		 collect_req_start(struct collect_req *req);
/* After done(): 0, or the -errno the collector failed with. */
int		 collect_req_rc(const struct collect_req *req);
/* Frees the request; an unfinished one is cancelled (done() never runs). */
void		 collect_req_free(struct collect_req *req);
/* For tests and `agentctl check run`: runs inst to completion, driving
 * event (may be NULL for synchronous collectors). Returns the collect()
 * code (0 or -errno); *out receives the result. */
int		 collect_run_sync(const struct collector *c, void *inst,
		    sd_event *event, struct result *out);

/* NULL-terminated table of every built-in collector. */
extern const struct collector *const collectors[];

#endif
