/*
 * support: remote support sessions (issue 10, docs/remote-support.md).
 * Requests from agentctl and from the portal's open_support_session are
 * judged by [support] policy (deny, ask, allow); an approved session runs
 * agentd-support (the tunnel, libssh2, in its own process) until its TTL,
 * a close, an idle timeout, a reload that forbids it, or agentd's stop.
 * Every step is a journald entry with a MESSAGE_ID and a support_event
 * report (docs/protocol.md). One session at a time.
 */
#ifndef SUPPORT_H
#define SUPPORT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <systemd/sd-event.h>

#define SUPPORT_ID_LEN		20	/* "ses_" + 16 hex */
#define SUPPORT_TEXT_MAX	512	/* by, reason: bytes */

struct support;
struct report;
struct config;

/* Takes the settings from cfg and the identity in state_dir. 0 or -errno. */
int	support_new(sd_event *event, struct report *report,
	    const struct config *cfg, const char *helper_path,
	    struct support **sp);
/* After a reload: new settings; a session the new policy forbids (deny)
 * or whose bastion changed is closed with reason "policy". */
void	support_apply(struct support *s, const struct config *cfg);

/*
 * A request: origin "portal" or "local", by (who asks), reason, ttl in
 * seconds (0: the default, 2h; cut to max_ttl). Returns 0 with *answerp
 * {"session", "state" ("waiting"|"open"), "connect"}, or -EPERM (policy
 * deny), -ENODEV (no bastion configured), -EBUSY (a session is waiting
 * or open) with detail saying it.
 */
int	support_request(struct support *s, const char *origin, const char *by,
	    const char *reason, unsigned ttl, json_t **answerp, char *detail,
	    size_t detaillen);
/* Answers a waiting request. 0, or -ENOENT (no such waiting request). */
int	support_approve(struct support *s, const char *id, const char *by);
int	support_deny(struct support *s, const char *id, const char *by);
/* Closes a waiting or open session (id NULL: the current one). 0 or
 * -ENOENT. */
int	support_close(struct support *s, const char *id, const char *by);
/* The current and recent sessions, newest first. New reference. */
json_t	*support_status(struct support *s);
/* agentd stops: the session closes (reason "agent_stopped"), the helper
 * is stopped and waited for. Frees. */
void	support_free(struct support *s);

#endif
