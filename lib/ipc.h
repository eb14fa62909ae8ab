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

/* msg is borrowed for the call; on_msg must not free the ipc. A negative
 * return refuses the frame: the channel ends with -EPROTO. */
typedef int ipc_msg_fn(struct ipc *ipc, json_t *msg, void *userdata);
/* One parsed frame for ipc_split; negative stops the split with it. */
typedef int ipc_frame_fn(json_t *msg, void *arg);
/* The channel ended: 0 for EOF, else -errno (-EBADMSG: a frame that is
 * not a JSON object, -EMSGSIZE: one too large, -EPROTO: one on_msg
 * refused). The
 * ipc must still be freed by its owner (on_close may do it). */
typedef void ipc_close_fn(struct ipc *ipc, int error, void *userdata);

/* Takes ownership of fd. Returns 0 or -errno. */
int	ipc_new(sd_event *event, int fd, ipc_msg_fn *on_msg,
	    ipc_close_fn *on_close, void *userdata, struct ipc **ip);
/* Frames larger than max (at most IPC_MSG_MAX, the default) end the
 * channel with -EMSGSIZE as soon as their length prefix arrives. */
void	ipc_set_max_in(struct ipc *ipc, size_t max);
/* The framing alone: hands each complete frame in buf[0..len) to fn and
 * sets *used to the bytes consumed (a partial frame stays). Returns 0,
 * -EMSGSIZE for a length of 0 or over max, -EBADMSG for a body that is not
 * a JSON object, or fn's negative return. For tests and fuzzing too. */
int	ipc_split(const unsigned char *buf, size_t len, size_t max,
	    size_t *used, ipc_frame_fn *fn, void *arg);
/* For a helper without an event loop (agentd-backup, agentd-support),
 * blocking. ipc_write sends msg as one frame and frees it: 0 or -errno.
 * ipc_read reads one frame: 0 with *msg (a JSON object), -ENODATA at EOF
 * before it, -EMSGSIZE for a length of 0 or over max, -EBADMSG for a cut
 * frame or a body that is not a JSON object, or -errno. */
int	ipc_write(int fd, json_t *msg);
int	ipc_read(int fd, size_t max, json_t **msg);
/* Queues one message; it is written as the socket allows. 0 or -errno. */
int	ipc_send(struct ipc *ipc, const json_t *msg);
void	ipc_free(struct ipc *ipc);

#endif
