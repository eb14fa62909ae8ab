/*
 * What agentd accepts from agentd-reporter: every frame the child sends is
 * untrusted input (the child parses the network and may be compromised),
 * so each is checked here, in one place, before any member is used.
 */
#ifndef CHILDMSG_H
#define CHILDMSG_H

#include <stddef.h>

#include <jansson.h>

#include "reply.h"

/* The largest frame agentd reads from the reporter: a reply body is at most
 * REPLY_BODY_MAX (1 MiB); the frame adds a little around it. */
#define CHILDMSG_FRAME_MAX	(2 * 1024 * 1024)
#define CHILDMSG_ID_MAX		REPLY_COMMAND_ID_MAX	/* bytes */
#define CHILDMSG_TYPE_MAX	64	/* a command type, bytes */
#define CHILDMSG_ERROR_MAX	1024	/* an error text, bytes */
#define CHILDMSG_ARGS_DEPTH	8	/* nesting inside a command's args */

/*
 * Checks msg against the one frame type the reporter may send, "result",
 * in its two shapes:
 *   {"t":"result","id":N,"ok":false,"status":N,"retry_after":N,"error":S}
 *   {"t":"result","id":N,"ok":true,"ack":N,"commands":[C...],"skipped":N,
 *    "http":"1.1"|"2"}
 * with C = {"id":S,"type":S,"args":{...}}: every member present, of its
 * type, within its bounds, and nothing else. Returns 0, or -EBADMSG with
 * the reason in err (not escaped: it may quote the frame's keys).
 */
int	childmsg_check(json_t *msg, char *err, size_t errlen);

#endif
