/* The operators' audit log: who did what to which target, from where. */
#ifndef AUDIT_H
#define AUDIT_H

#include <jansson.h>

#include "store.h"

#define AUDIT_MAX_PAGE	500

/*
 * Appends one record at the current time: actor ("user:NAME",
 * "operator:NAME" or "cli"), source (the client's address, or "cli"),
 * action ("login", "command.create", ...), target and detail (NULL for
 * none). 0 or -EIO; a failure is logged here, so callers may ignore it.
 */
int	audit_log(struct store *, const char *actor, const char *source,
	    const char *action, const char *target, const char *detail);
/* A new object {records: [{id, time, actor, source, action, target,
 * detail}...], next}: at most limit records, newest first, with an id
 * below before (0: from the newest); next is the before of the next page
 * or null. 0 or -EIO. */
int	audit_list(struct store *, long long before, int limit, json_t **out);

#endif
