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

/*
 * Parses {"ack": N, "commands": [{"id", "type", "args"}...]}. Returns 0 with
 * *ack and *commands (a new array of the well-formed commands, each with a
 * string id of at most REPLY_COMMAND_ID_MAX bytes, a string type and an
 * object args; malformed ones are dropped and counted in *skipped), or -EBADMSG with the reason in err. Unknown fields
 * are ignored.
 */
int	reply_parse(const char *body, size_t len, uint64_t *ack,
	    json_t **commands, size_t *skipped, char *err, size_t errlen);

#endif
