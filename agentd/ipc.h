/*
 * Messages between agentd and its reporter process: one JSON object per
 * frame (4-byte big-endian length, then the text) on a non-blocking stream
 * socket driven by sd-event. A malformed or oversized frame ends the
 * channel, as OpenSMTPD treats a bad imsg: the peer is not to be trusted.
 */
#ifndef IPC_H
#define IPC_H

#include <jansson.h>
#include <systemd/sd-event.h>

#define IPC_MSG_MAX	(16 * 1024 * 1024)

struct ipc;

/* msg is borrowed for the call; on_msg must not free the ipc. */
typedef void ipc_msg_fn(struct ipc *ipc, json_t *msg, void *userdata);
/* The channel ended: 0 for EOF, else -errno (-EBADMSG: bad frame). The
 * ipc must still be freed by its owner (on_close may do it). */
typedef void ipc_close_fn(struct ipc *ipc, int error, void *userdata);

/* Takes ownership of fd. Returns 0 or -errno. */
int	ipc_new(sd_event *event, int fd, ipc_msg_fn *on_msg,
	    ipc_close_fn *on_close, void *userdata, struct ipc **ip);
/* Queues one message; it is written as the socket allows. 0 or -errno. */
int	ipc_send(struct ipc *ipc, const json_t *msg);
void	ipc_free(struct ipc *ipc);

#endif
