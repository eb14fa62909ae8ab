/*
 * The control socket: JSON lines over a unix stream socket, one request
 * and one reply per line. Access is by the socket's mode and group.
 */
#ifndef CONTROL_H
#define CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "sched.h"

/* A request names a command and at most a check: it stays small, since
 * anyone in the control group may send one. */
#define CONTROL_REQUEST_MAX	4096
/* A reply lists every check; agentctl reads up to this much, so a status
 * of thousands of checks with their long texts still fits. */
#define CONTROL_REPLY_MAX	(32 * 1024 * 1024)
#define CONTROL_CONN_MAX	32

enum control_cmd {
	CONTROL_STATUS,
	CONTROL_CHECKS,
	CONTROL_CHECK_RUN,
	CONTROL_RELOAD,
	CONTROL_BACKUP_RUN,
	CONTROL_BACKUP_STATUS,
	CONTROL_SUPPORT_OPEN,
	CONTROL_SUPPORT_APPROVE,
	CONTROL_SUPPORT_DENY,
	CONTROL_SUPPORT_CLOSE,
	CONTROL_SUPPORT_STATUS,
	CONTROL_MAINTENANCE_START,
	CONTROL_MAINTENANCE_STOP,
	CONTROL_MAINTENANCE_STATUS,
	CONTROL_SILENCE,
};

struct control_request {
	enum control_cmd cmd;
	char		 name[65];	/* check_run, backup_run, silence */
	bool		 full;		/* backup_run: force a full snapshot */
	/* support_*: "id" (approve, deny: required; close: optional),
	 * open: "ttl" seconds (0: default). */
	char		 id[32];
	unsigned	 ttl;
	/* Any request: "reason", and "user" (who the client says it is;
	 * agentd adds the uid it sees). */
	char		 reason[513];
	char		 user[65];
	/* maintenance_start, silence (0: lift it): "seconds". */
	unsigned	 seconds;
};

/* Parses one request line: {"cmd":"status"|"checks"|"reload"|
 * "backup_status"} or {"cmd":"check_run"|"backup_run","name":"..."},
 * backup_run with an optional boolean "full"; unknown fields are ignored. Returns 0,
 * or -EINVAL with a message for the client in err. */
int	control_parse_request(const char *line, size_t len,
	    struct control_request *req, char *err, size_t errlen);

/* Re-reads the config; on failure fills errs and keeps the running one. */
typedef int control_reload_fn(struct config_errors *errs, void *userdata);

struct report;
struct support;
struct maintenance;

struct control_info {
	const char	*config_path;
	uint64_t	 started;	/* realtime usec: shown */
	uint64_t	 started_mono;	/* monotonic usec: for the uptime */
	struct report	*report;	/* reporting state for status */
	struct backup	*backup;	/* backup_status */
	struct support	*support;	/* support_* */
	struct maintenance *maintenance; /* maintenance_*, silence */
};

struct control;

/* Listens on path (removing a stale socket, refusing to take over a live
 * one). Returns 0 or -errno. */
int	control_open(sd_event *event, const char *path, const char *group,
	    struct sched *sched, const struct control_info *info,
	    control_reload_fn *reload, void *userdata, struct control **cp);
void	control_close(struct control *c);

#endif
