/*
 * Length-prefixed JSON frames over a stream socket, both directions
 * buffered, on the event loop. A frame larger than the channel's maximum,
 * text that is not a JSON object, or a frame on_msg refuses closes the
 * channel.
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

#define IPC_READ_CHUNK		(64 * 1024)	/* bytes per read(2) */
#define IPC_READS_PER_WAKEUP	2

struct ipc {
	int		 fd;
	sd_event_source	*src;
	ipc_msg_fn	*on_msg;
	ipc_close_fn	*on_close;
	void		*userdata;
	unsigned char	*in;
	size_t		 inlen, insize;
	size_t		 max_in;	/* largest frame accepted */
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

int
ipc_split(const unsigned char *buf, size_t len, size_t max, size_t *used,
    ipc_frame_fn *fn, void *arg)
{
	size_t off = 0;
	int r = 0;

	while (len - off >= 4) {
		const unsigned char *p = buf + off;
		uint32_t flen = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		    (uint32_t)p[2] << 8 | p[3];
		json_error_t jerr;
		json_t *msg;

		/* Judged before the body arrives: a peer announcing more than
		 * we take never gets to make us buffer it. */
		if (flen == 0 || flen > max) {
			r = -EMSGSIZE;
			break;
		}
		if (len - off - 4 < flen)
			break;
		msg = json_loadb((const char *)p + 4, flen,
		    JSON_REJECT_DUPLICATES, &jerr);
		off += 4 + flen;
		if (!json_is_object(msg)) {
			json_decref(msg);
			r = -EBADMSG;
			break;
		}
		r = fn(msg, arg);
		json_decref(msg);
		if (r < 0)
			break;
	}
	*used = off;
	return r < 0 ? r : 0;
}

static int
ipc_deliver(json_t *msg, void *arg)
{
	struct ipc *ipc = arg;

	if (ipc->closed)
		return -ECANCELED;
	return ipc->on_msg(ipc, msg, ipc->userdata) < 0 ? -EPROTO : 0;
}

/* Hands every complete frame to on_msg. Returns -EBADMSG on one that is
 * not a JSON object, -EMSGSIZE on an oversized one, -EPROTO on one on_msg
 * refused. */
static int
ipc_dispatch(struct ipc *ipc)
{
	size_t used;
	int r;

	r = ipc_split(ipc->in, ipc->inlen, ipc->max_in, &used, ipc_deliver,
	    ipc);
	if (r == -ECANCELED)
		r = 0;
	memmove(ipc->in, ipc->in + used, ipc->inlen - used);
	ipc->inlen -= used;
	return r;
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
	/* A bounded amount per wakeup: a peer that writes as fast as we read
	 * must not keep the loop here. The source is level-triggered, so
	 * the rest is read on the next iteration, after the other sources
	 * had their turn. */
	for (int reads = 0; reads < IPC_READS_PER_WAKEUP; reads++) {
		size_t room;
		ssize_t n;

		if (ipc->insize - ipc->inlen < IPC_READ_CHUNK) {
			ipc->insize = ipc->insize * 2 + IPC_READ_CHUNK;
			if (ipc->insize > ipc->max_in + IPC_READ_CHUNK + 4)
				ipc->insize = ipc->max_in + IPC_READ_CHUNK + 4;
			ipc->in = xreallocarray(ipc->in, ipc->insize, 1);
		}
		room = ipc->insize - ipc->inlen;
		if (room > IPC_READ_CHUNK)
			room = IPC_READ_CHUNK;
		n = read(fd, ipc->in + ipc->inlen, room);
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
	ipc->max_in = IPC_MSG_MAX;
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
ipc_set_max_in(struct ipc *ipc, size_t max)
{
	ipc->max_in = max < IPC_MSG_MAX ? max : IPC_MSG_MAX;
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

/* Writes or reads all of len bytes; 0, -EPIPE / -ENODATA at a closed
 * peer (n bytes done in *done), or -errno. */
static int
ipc_full(int fd, void *buf, size_t len, int out, size_t *done)
{
	size_t	 off = 0;
	ssize_t	 n;

	while (off < len) {
		n = out ? write(fd, (char *)buf + off, len - off) :
		    read(fd, (char *)buf + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		off += (size_t)n;
	}
	if (done != NULL)
		*done = off;
	return off == len ? 0 : out ? -EPIPE : -ENODATA;
}

int
ipc_write(int fd, json_t *msg)
{
	unsigned char hdr[4];
	size_t	 len;
	char	*s;
	int	 r;

	s = msg != NULL ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	if (s == NULL)
		return -ENOMEM;
	len = strlen(s);
	hdr[0] = (unsigned char)(len >> 24);
	hdr[1] = (unsigned char)(len >> 16);
	hdr[2] = (unsigned char)(len >> 8);
	hdr[3] = (unsigned char)len;
	if ((r = ipc_full(fd, hdr, 4, 1, NULL)) == 0)
		r = ipc_full(fd, s, len, 1, NULL);
	free(s);
	return r;
}

int
ipc_read(int fd, size_t max, json_t **msg)
{
	unsigned char hdr[4];
	size_t	 len, got;
	char	*buf;
	int	 r;

	*msg = NULL;
	if ((r = ipc_full(fd, hdr, 4, 0, &got)) != 0)
		return r == -ENODATA && got > 0 ? -EBADMSG : r;
	len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
	    (size_t)hdr[2] << 8 | hdr[3];
	if (len == 0 || len > max)
		return -EMSGSIZE;
	buf = xcalloc(1, len);
	if ((r = ipc_full(fd, buf, len, 0, NULL)) == 0 &&
	    ((*msg = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL)) ==
	    NULL || !json_is_object(*msg))) {
		json_decref(*msg);
		*msg = NULL;
		r = -EBADMSG;
	}
	free(buf);
	return r == -ENODATA ? -EBADMSG : r;
}
