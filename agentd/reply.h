/* The portal's answer to a batch of reports: parsed in one place. */
#ifndef REPLY_H
#define REPLY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define REPLY_BODY_MAX		(1024 * 1024)
#define REPLY_COMMANDS_MAX	64
/* A command id's longest form, the portal's limit too (protocol.md). */
#define REPLY_COMMAND_ID_MAX	64
#define REPLY_RETRY_AFTER_MAX	3600	/* seconds; one hour */

/*
 * Parses {"ack": N, "commands": [{"id", "type", "args"}...]}. Returns 0 with
 * *ack and *commands (a new array of the well-formed commands, each with a
 * string id of at most REPLY_COMMAND_ID_MAX bytes, a string type and an
 * object args; malformed ones are dropped and counted in *skipped), or -EBADMSG with the reason in err. Unknown fields
 * are ignored.
 */
int	reply_parse(const char *body, size_t len, uint64_t *ack,
	    json_t **commands, size_t *skipped, char *err, size_t errlen);

/*
 * The body of a 409 (sequence conflict): {"error": ..., "ack": N}. Returns
 * 0 with *ack (the highest seq the portal stores for this agent), or
 * -EBADMSG.
 */
int	reply_parse_conflict(const char *body, size_t len, uint64_t *ack);

/*
 * A Retry-After in seconds as libcurl read it (a 64-bit value, negative
 * when absent): -1 when absent, else bounded to 0..REPLY_RETRY_AFTER_MAX,
 * so no reply can stop delivery for good or overflow a later sum.
 */
int64_t	reply_retry_after(int64_t seconds);

#endif
