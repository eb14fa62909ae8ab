/*
 * Maintenance windows and silences (agentctl(8) "maintenance"): while a window is open the agent still
 * checks and reports, but every report says so, and the portal opens no
 * alert for it; a silence does the same for one check. Both are kept in
 * state_dir/maintenance, so they survive a restart, and end by the wall
 * clock.
 */
#ifndef MAINTENANCE_H
#define MAINTENANCE_H

#include <stdint.h>

#include <jansson.h>
#include <systemd/sd-event.h>

#define MAINTENANCE_MAX_SECONDS	(30 * 86400)	/* a window or a silence */
#define MAINTENANCE_REASON_MAX	512		/* bytes, with the NUL */
#define MAINTENANCE_SILENCES_MAX 1024

struct maintenance;

/* A window started, was stopped, or ran out: event "start" or "stop",
 * payload {"event", "until", "reason", "by"} (reference passed). */
typedef void maintenance_event_fn(json_t *payload, void *userdata);

/* Loads state_dir/maintenance (a damaged file is logged and set aside
 * as if empty); a window that ended while agentd was down is reported as
 * stopped ("by": "expired"). fn hears every start and stop. */
struct maintenance *maintenance_open(sd_event *event, const char *state_dir,
	    maintenance_event_fn *fn, void *userdata);
void	maintenance_free(struct maintenance *m);

/* Opens (or replaces) the window for seconds from now. 0, or -EINVAL
 * with err set; -EIO if it could not be saved (it applies anyway). */
int	maintenance_start(struct maintenance *m, unsigned seconds,
	    const char *reason, const char *by, char *err, size_t errlen);
/* Ends the window now; -ENOENT if none is open. */
int	maintenance_stop(struct maintenance *m, const char *by);
/* {"until", "reason", "by", "started"} while a window is open, else
 * NULL: what every report carries. New reference. */
json_t	*maintenance_window(struct maintenance *m);

/* Silences check name for seconds (0: lifts it; -ENOENT if it had none). */
int	maintenance_silence(struct maintenance *m, const char *name,
	    unsigned seconds, const char *by, char *err, size_t errlen);
/* The realtime second name is silenced until, or 0 (decide_silence_fn). */
int64_t	maintenance_silenced(const char *name, void *m);

/* {"window": {...} or null, "silences": [{"check", "until", "by"}]}. */
json_t	*maintenance_status(struct maintenance *m);

#endif
