/*
 * The audit trail of remote support sessions: every support_event report
 * an agent sends, and the operators' view of it
 * (GET /api/v1/hosts/{id}/sessions).
 */
#ifndef SESSION_H
#define SESSION_H

#include <jansson.h>

#include "store.h"

/* What one answer holds at most: the newest sessions, and the events of
 * each (the oldest first; "events_truncated" says when more exist). */
#define SESSION_MAX_LISTED	50
#define SESSION_MAX_LISTED_STR	"50"
#define SESSION_MAX_EVENTS	500
#define SESSION_MAX_EVENTS_STR	"500"

/*
 * Keeps a support_event (checked by ingest) of report seq: its members the
 * portal knows, as received, in the caller's transaction. 0 or -EIO.
 */
int	session_record(struct store *, const char *agent_id, long long seq,
	    const json_t *payload, double received);

/*
 * A new array of the host's sessions, newest first, each
 * {"session", "state", "requested_by", "reason", "opened", "closed",
 * "close_reason", "events_truncated", "events": [...]}. Takes the lock.
 * 0, -ENOENT for no such host, -ENOMEM or -EIO.
 */
int	session_list(struct store *, const char *agent_id, json_t **out);

/* The state a session is in after event (docs/protocol.md), or NULL. */
const char *session_state(const char *event);

#endif
