/*
 * What agentd accepts from agentd-support: the helper holds libssh2 and
 * talks to the bastion, so every frame it sends is untrusted input and is
 * checked here, whole, before any member is used.
 */
#ifndef SUPPORTMSG_H
#define SUPPORTMSG_H

#include <stddef.h>

#include <jansson.h>

#define SUPPORTMSG_FRAME_MAX	(8 * 1024)	/* bytes, one event */
#define SUPPORTMSG_TEXT_MAX	512		/* message, detail */
/* Byte counts and connection ids: 2^53, what a JSON number holds. */
#define SUPPORTMSG_COUNT_MAX	(1LL << 53)

/*
 * Checks msg against the frames agentd-support sends (and nothing else):
 *   {"t":"up","port":N}				N 1..65535
 *   {"t":"down","error":E,"message":S}		E -4095..0
 *   {"t":"retry","delay_ms":N}			N 0..86400000
 *   {"t":"conn_open","conn":C}
 *   {"t":"conn_close","conn":C,"bytes_in":N,"bytes_out":N,"message":S}
 *   {"t":"failed","error":E,"detail":S}
 * every member present, of its type and bounds, strings of at most
 * SUPPORTMSG_TEXT_MAX bytes. Returns 0, or -EBADMSG with the reason in
 * err (not escaped).
 */
int	supportmsg_check(json_t *msg, char *err, size_t errlen);

#endif
