/* The operators' view of the fleet (/api/v1/hosts, alerts, commands).
 * Each function takes the store lock and returns 0, -ENOENT or -EIO. */
#ifndef FLEET_H
#define FLEET_H

#include <jansson.h>

#include "store.h"

/* {"hosts": [...]} */
int	fleet_hosts(struct store *, json_t **out);
/* A page of the host list: limit 0 for all (at most 100000), q a
 * substring of the hostname or id (NULL: all), sort "hostname" (NULL),
 * "status" (worst first: unreachable, critical, unknown, warning, ok,
 * unenrolled) or "last_seen" (longest silent first). The answer also
 * has "total", the hosts that match q. */
#define FLEET_MAX_HOSTS_PAGE	1000
struct fleet_host_query {
	int		 limit, offset;
	const char	*q, *sort;
	const char	*state;		/* a host status, or NULL for any */
};
/* 1 when s is a host status ("critical", "unreachable", ...). */
int	fleet_status_valid(const char *s);
int	fleet_hosts_query(struct store *, const struct fleet_host_query *,
	    json_t **out);
/* One host with inventory and latest checks. */
int	fleet_host(struct store *, const char *id, json_t **out);
/* The largest page of alerts, and the page size when none is asked. */
#define FLEET_MAX_ALERTS	1000
/* State changes of its checks a host view lists, newest first. */
#define FLEET_MAX_CHANGES_S	"50"
/*
 * {"alerts": [...], "next": ID or null}, newest first: at most limit
 * alerts (1 to FLEET_MAX_ALERTS; 0 for the most) with an id below before
 * (0: from the newest). "next" is the before of the following page, null
 * on the last.
 */
int	fleet_alerts(struct store *, int open_only, int limit,
	    long long before, json_t **out);
/* fleet_alerts with filters: NULL or 0 members do not filter. */
struct fleet_alert_query {
	int		 open_only, closed_only;
	const char	*host;		/* agent id */
	const char	*check;		/* check name */
	int		 limit;
	long long	 before;
};
int	fleet_alerts_query(struct store *, const struct fleet_alert_query *,
	    json_t **out);
/* One alert with its "history": opened, acknowledged, closed, in order.
 * 0, -ENOENT or -EIO. */
int	fleet_alert(struct store *, long long id, json_t **out);
/* Queues a command for an enrolled host; *id gets "cmd_<n>" (new ref). */
int	fleet_command_create(struct store *, const char *host_id,
	    const char *type, json_t *args, const char *operator_name,
	    json_t **id);
/* {"commands": [...]} of a host, newest first. */
int	fleet_commands(struct store *, const char *host_id, json_t **out);
/* "ok", "warning", "critical", "unknown" from state counts. */
const char *fleet_worst(const json_t *counts);

#endif
