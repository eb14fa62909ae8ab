/* The operators' view of the fleet (/api/v1/hosts, alerts, commands).
 * Each function takes the store lock and returns 0, -ENOENT or -EIO. */
#ifndef FLEET_H
#define FLEET_H

#include <jansson.h>

#include "store.h"

/* {"hosts": [...]} */
int	fleet_hosts(struct store *, json_t **out);
/* One host with inventory and latest checks. */
int	fleet_host(struct store *, const char *id, json_t **out);
/* {"alerts": [...]}, newest first. */
int	fleet_alerts(struct store *, int open_only, json_t **out);
/* Queues a command for an enrolled host; *id gets "cmd_<n>" (new ref). */
int	fleet_command_create(struct store *, const char *host_id,
	    const char *type, json_t *args, const char *operator_name,
	    json_t **id);
/* {"commands": [...]} of a host, newest first. */
int	fleet_commands(struct store *, const char *host_id, json_t **out);
/* "ok", "warning", "critical", "unknown" from state counts. */
const char *fleet_worst(const json_t *counts);

#endif
