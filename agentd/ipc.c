/*
 * Length-prefixed JSON frames over a stream socket, both directions
 * buffered, on the event loop. A frame larger than IPC_MSG_MAX, or text
 * that is not a JSON object, closes the channel.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc.h"
#include "xmalloc.h"

struct ipc {
	int		 fd;
	sd_event_source	*src;
	ipc_msg_fn	*on_msg;
	ipc_close_fn	*on_close;
	void		*userdata;
	unsigned char	*in;
	size_t		 inlen, insize;
	unsigned char	*out;
	size_t		 outlen, outoff;
	int		 closed;
};

static void
ipc_end(struct ipc *ipc, int error)
{
	if (ipc->closed)
		return;
	ipc->closed = 1;
	sd_event_source_set_enabled(ipc->src, SD_EVENT_OFF);
	ipc->on_close(ipc, error, ipc->userdata);
}

static void
ipc_update_events(struct ipc *ipc)
{
	if (!ipc->closed)
		sd_event_source_set_io_events(ipc->src, EPOLLIN |
		    (ipc->outlen > ipc->outoff ? EPOLLOUT : 0));
}

static int
ipc_flush(struct ipc *ipc)
{
	while (ipc->outoff < ipc->outlen) {
		ssize_t n = send(ipc->fd, ipc->out + ipc->outoff,
		    ipc->outlen - ipc->outoff, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return -errno;
		ipc->outoff += (size_t)n;
	}
	if (ipc->outoff == ipc->outlen)
		ipc->outoff = ipc->outlen = 0;
	ipc_update_events(ipc);
	return 0;
}

/* Hands every complete frame to on_msg. Returns -EBADMSG on a bad one. */
static int
ipc_dispatch(struct ipc *ipc)
{
	size_t off = 0;

	while (!ipc->closed && ipc->inlen - off >= 4) {
		const unsigned char *p = ipc->in + off;
		uint32_t len = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		    (uint32_t)p[2] << 8 | p[3];
		json_error_t jerr;
		json_t *msg;

		if (len == 0 || len > IPC_MSG_MAX)
			return -EBADMSG;
		if (ipc->inlen - off - 4 < len)
			break;
		msg = json_loadb((const char *)p + 4, len, 0, &jerr);
		off += 4 + len;
		if (!json_is_object(msg)) {
			json_decref(msg);
			return -EBADMSG;
		}
		ipc->on_msg(ipc, msg, ipc->userdata);
		json_decref(msg);
	}
	memmove(ipc->in, ipc->in + off, ipc->inlen - off);
	ipc->inlen -= off;
	return 0;
}

static int
ipc_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct ipc *ipc = userdata;
	int r;

	(void)s;
	if ((revents & EPOLLOUT) && (r = ipc_flush(ipc)) < 0) {
		ipc_end(ipc, r);
		return 0;
	}
	if (!(revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return 0;
	for (;;) {
		ssize_t n;

		if (ipc->insize - ipc->inlen < 65536) {
			ipc->insize = ipc->insize * 2 + 65536;
			if (ipc->insize > IPC_MSG_MAX + 65536 + 4)
				ipc->insize = IPC_MSG_MAX + 65536 + 4;
			ipc->in = xreallocarray(ipc->in, ipc->insize, 1);
		}
		n = read(fd, ipc->in + ipc->inlen, ipc->insize - ipc->inlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			ipc_end(ipc, n == 0 ? 0 : -errno);
			return 0;
		}
		ipc->inlen += (size_t)n;
		if ((r = ipc_dispatch(ipc)) < 0) {
			ipc_end(ipc, r);
			return 0;
		}
		if (ipc->closed)
			return 0;
	}
	return 0;
}

int
ipc_new(sd_event *event, int fd, ipc_msg_fn *on_msg, ipc_close_fn *on_close,
    void *userdata, struct ipc **ip)
{
	struct ipc *ipc = xcalloc(1, sizeof(*ipc));
	int r, flags;

	/* A passed-down end may be blocking: the loop needs it not to be. */
	if ((flags = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		r = -errno;
		close(fd);
		free(ipc);
		return r;
	}
	ipc->fd = fd;
	ipc->on_msg = on_msg;
	ipc->on_close = on_close;
	ipc->userdata = userdata;
	if ((r = sd_event_add_io(event, &ipc->src, fd, EPOLLIN, ipc_on_io,
	    ipc)) < 0) {
		close(fd);
		free(ipc);
		return r;
	}
	*ip = ipc;
	return 0;
}

int
ipc_send(struct ipc *ipc, const json_t *msg)
{
	char *text;
	size_t len;

	if (ipc->closed)
		return -EPIPE;
	if ((text = json_dumps(msg, JSON_COMPACT)) == NULL)
		return -EINVAL;
	len = strlen(text);
	if (len > IPC_MSG_MAX) {
		free(text);
		return -EMSGSIZE;
	}
	ipc->out = xreallocarray(ipc->out, ipc->outlen + len + 4, 1);
	ipc->out[ipc->outlen++] = (unsigned char)(len >> 24);
	ipc->out[ipc->outlen++] = (unsigned char)(len >> 16);
	ipc->out[ipc->outlen++] = (unsigned char)(len >> 8);
	ipc->out[ipc->outlen++] = (unsigned char)len;
	memcpy(ipc->out + ipc->outlen, text, len);
	ipc->outlen += len;
	free(text);
	return ipc_flush(ipc);
}

void
ipc_free(struct ipc *ipc)
{
	if (ipc == NULL)
		return;
	sd_event_source_disable_unref(ipc->src);
	close(ipc->fd);
	free(ipc->in);
	free(ipc->out);
	free(ipc);
}
