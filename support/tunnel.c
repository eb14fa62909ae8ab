/*
 * tunnel: the reverse SSH tunnel to the bastion (see tunnel.h for the
 * model and the single-writer rule). One thread, one poll() per turn over
 * the bastion socket, the stop pipe and every target socket; libssh2 is
 * non-blocking throughout, its send and receive go through our callbacks:
 * the send callback is the only writer to the bastion (the output queue),
 * the receive callback stamps the last byte heard for dead-bastion
 * detection.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <libssh2.h>

#include "backoff.h"
#include "hostkey.h"
#include "keyfile.h"
#include "timeutil.h"
#include "tunnel.h"
#include "xmalloc.h"

#define TUNNEL_KEY_MAX		(64 * 1024)
#define TUNNEL_LISTEN_QUEUE	16	/* forwarded opens libssh2 queues */
#define TUNNEL_FLUSH_US		(1000 * 1000)	/* goodbye on the way out */

enum conn_state {
	CONN_CONNECTING,	/* to the target, non-blocking */
	CONN_OPEN,
	CONN_CLOSING,		/* fd gone; libssh2_channel_free pending */
};

struct conn {
	struct conn	*next;
	unsigned	 id;
	enum conn_state	 state;
	LIBSSH2_CHANNEL	*ch;
	int		 fd;
	struct pollfd	*pfd;	/* this turn's entry, or NULL */
	bool		 target_eof;	/* read 0 from the target */
	bool		 eof_sent;	/* EOF on the channel */
	bool		 ch_eof;	/* the bastion's EOF, all data read */
	bool		 fd_shut;	/* SHUT_WR to the target */
	unsigned char	*up;	/* target -> bastion */
	size_t		 up_off, up_len;
	unsigned char	*down;	/* bastion -> target */
	size_t		 down_off, down_len;
	uint64_t	 bytes_in, bytes_out;
};

struct tunnel {
	struct tunnel_conf conf;	/* strings below are our copies */
	char		*key;
	size_t		 keylen;
	struct hostkey	 pinned;
	char		 err[512];
	int		 stop_pipe[2];
	volatile sig_atomic_t stopping;
	uint64_t	 deadline;
	unsigned	 next_conn;
	bool		 ever_up;	/* a session was up in this run */

	/* One session. */
	int		 sock;
	LIBSSH2_SESSION	*ssh;
	LIBSSH2_LISTENER *listener;
	struct conn	*conns;
	unsigned	 nconns;
	uint64_t	 last_rx;	/* us, monotonic: last byte heard */
	bool		 io_dead;	/* tearing down: no more socket I/O */
	int		 io_errno;	/* the socket's failure, for messages */
	bool		 peer_eof;	/* the bastion closed the connection */
	bool		 rx_idle;	/* recv said EAGAIN since the last
					 * POLLIN: libssh2 asks again and
					 * again within a turn; save the
					 * system calls */
	unsigned char	*outq;	/* the single writer's queue */
	size_t		 outq_off, outq_len, outq_cap;
	bool		 outq_overflow;
	uint64_t	 short_sends;	/* packets the socket took in part */
	int		 broken;	/* libssh2's code of a session failure
					 * seen on a channel call, or 0 */
	struct sockaddr_storage target;
	socklen_t	 target_len;
};

static uint64_t
now_us(void)
{
	return time_now(CLOCK_MONOTONIC);
}

static void
tunnel_emit(struct tunnel *t, struct tunnel_event *ev)
{
	if (ev->message == NULL)
		ev->message = "";
	if (t->conf.event != NULL)
		t->conf.event(ev, t->conf.arg);
}

/* ------------------------------------------------------------------ */
/* The bastion socket: libssh2's send and receive. */

/*
 * libssh2's only way out. Never a short count: what the socket does not
 * take now is queued and the whole packet reported sent, so libssh2 1.10
 * never holds a partial packet (tunnel.h). While the queue is not empty,
 * new bytes go behind it, keeping the stream in order.
 */
static ssize_t
tunnel_send_cb(libssh2_socket_t fd, const void *buf, size_t len, int flags,
    void **abstract)
{
	struct tunnel *t = *abstract;
	ssize_t n = 0;
	size_t need;

	if (t->io_dead)
		return (ssize_t)len;	/* tearing down: nobody listens */
	if (t->outq_len == t->outq_off) {
		t->outq_off = t->outq_len = 0;
		n = send(fd, buf, len, flags | MSG_NOSIGNAL);
		if (n == (ssize_t)len)
			return n;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			t->io_errno = errno;
			return -errno;
		}
		if (n < 0)
			n = 0;
	}
	t->short_sends++;
	need = t->outq_len - t->outq_off + len - (size_t)n;
	if (need > TUNNEL_OUTQ_MAX) {
		t->outq_overflow = true;
		return -ENOBUFS;
	}
	if (t->outq_off > 0 && t->outq_len + len - (size_t)n > t->outq_cap) {
		memmove(t->outq, t->outq + t->outq_off,
		    t->outq_len - t->outq_off);
		t->outq_len -= t->outq_off;
		t->outq_off = 0;
	}
	if (t->outq_len + len - (size_t)n > t->outq_cap) {
		size_t cap = t->outq_cap == 0 ? 64 * 1024 : t->outq_cap;

		while (cap < t->outq_len + len - (size_t)n)
			cap *= 2;
		t->outq = xreallocarray(t->outq, cap, 1);
		t->outq_cap = cap;
	}
	memcpy(t->outq + t->outq_len, (const unsigned char *)buf + n,
	    len - (size_t)n);
	t->outq_len += len - (size_t)n;
	return (ssize_t)len;
}

static ssize_t
tunnel_recv_cb(libssh2_socket_t fd, void *buf, size_t len, int flags,
    void **abstract)
{
	struct tunnel *t = *abstract;
	ssize_t n;

	if (t->io_dead)
		return -ECONNRESET;	/* so libssh2 waits for nothing */
	if (t->rx_idle)
		return -EAGAIN;
	if ((n = recv(fd, buf, len, flags)) > 0)
		t->last_rx = now_us();
	else if (n == 0)
		t->peer_eof = true;
	else {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			t->io_errno = errno;
		else
			t->rx_idle = true;
		return -errno;
	}
	return n;
}

/* Sends what the queue holds, as far as the socket takes it. Returns 0 or
 * the socket's -errno. */
static int
tunnel_flush(struct tunnel *t)
{
	ssize_t n;

	while (t->outq_off < t->outq_len) {
		n = send(t->sock, t->outq + t->outq_off,
		    t->outq_len - t->outq_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			t->io_errno = errno;
			return -errno;
		}
		t->outq_off += (size_t)n;
	}
	t->outq_off = t->outq_len = 0;
	return 0;
}

static size_t
tunnel_queued(const struct tunnel *t)
{
	return t->outq_len - t->outq_off;
}

/* ------------------------------------------------------------------ */
/* Setting up a session. */

/* libssh2's last error in words, with its code (-39 is the 1.10 partial
 * packet trouble, tunnel.h), or the socket's. */
static const char *
tunnel_ssh_error(struct tunnel *t)
{
	static char buf[320];
	char *m = NULL;
	int e = 0;

	if (t->io_errno != 0)
		return strerror(t->io_errno);
	if (t->peer_eof)
		return "the bastion closed the connection";
	if (t->ssh != NULL)
		e = libssh2_session_last_error(t->ssh, &m, NULL, 0);
	snprintf(buf, sizeof(buf), "%s (libssh2 %d)", m != NULL && *m != '\0' ?
	    m : "failed", e);
	return buf;
}

/*
 * Waits until the bastion socket is ready the way libssh2 (or the queue)
 * needs, the stop pipe says stop, or until. Returns 0 ready, -ETIMEDOUT,
 * -EINTR (stop), or -errno.
 */
static int
tunnel_wait_ssh(struct tunnel *t, uint64_t until)
{
	struct pollfd p[2];
	uint64_t now;
	int dirs, ms, r;

	if ((r = tunnel_flush(t)) < 0)
		return r;
	for (;;) {
		if (t->stopping)
			return -EINTR;
		now = now_us();
		if (now >= until)
			return -ETIMEDOUT;
		ms = (int)((until - now + 999) / 1000);
		dirs = t->ssh != NULL ? libssh2_session_block_directions(t->ssh) :
		    LIBSSH2_SESSION_BLOCK_OUTBOUND;
		p[0].fd = t->sock;
		p[0].events = 0;
		if (dirs & LIBSSH2_SESSION_BLOCK_INBOUND)
			p[0].events |= POLLIN;
		if ((dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND) || tunnel_queued(t))
			p[0].events |= POLLOUT;
		if (p[0].events == 0)
			p[0].events = POLLIN;
		p[1].fd = t->stop_pipe[0];
		p[1].events = POLLIN;
		if (poll(p, 2, ms) == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[1].revents != 0)
			return -EINTR;
		if (p[0].revents & (POLLIN | POLLERR | POLLHUP))
			t->rx_idle = false;
		if (p[0].revents & POLLOUT)
			if ((r = tunnel_flush(t)) < 0)
				return r;
		if (p[0].revents & (POLLIN | POLLERR | POLLHUP))
			return 0;
		if ((p[0].revents & POLLOUT) && !tunnel_queued(t))
			return 0;
	}
}

/* A non-blocking connect to the bastion within until. */
static int
tunnel_connect(struct tunnel *t, uint64_t until)
{
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, r, e, one = 1;
	socklen_t el;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	/* Name resolution is the one blocking step: the resolver's own
	 * timeouts bound it. */
	if ((r = getaddrinfo(t->conf.host, t->conf.port, &hints, &res)) != 0) {
		snprintf(t->err, sizeof(t->err), "bastion %s: %s",
		    t->conf.host, gai_strerror(r));
		return -EHOSTUNREACH;
	}
	r = -ECONNREFUSED;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol)) == -1) {
			r = -errno;
			continue;
		}
		if (t->conf.sndbuf > 0)
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &t->conf.sndbuf,
			    sizeof(t->conf.sndbuf));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		t->sock = fd;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			if ((r = tunnel_wait_ssh(t, until)) == 0) {
				el = sizeof(e);
				if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e,
				    &el) == -1)
					e = errno;
				if (e == 0)
					break;
				r = -e;
			}
		} else
			r = -errno;
		close(fd);
		t->sock = fd = -1;
		if (r == -EINTR)
			break;
	}
	freeaddrinfo(res);
	if (t->sock == -1) {
		if (r != -EINTR)
			snprintf(t->err, sizeof(t->err), "connect to bastion "
			    "%s port %s: %s", t->conf.host, t->conf.port,
			    strerror(-r));
		return r;
	}
	return 0;
}

/* Calls op until it stops saying EAGAIN, waiting for the socket between
 * calls: rc is op's last result, w the wait's failure (-ETIMEDOUT, -EINTR;
 * kept apart, as libssh2's codes and -errno values overlap). */
#define TUNNEL_RETRY(t, until, rc, w, op) do {				\
	for ((w) = 0;;) {						\
		(rc) = (op);						\
		if ((rc) != LIBSSH2_ERROR_EAGAIN)			\
			break;						\
		if (((w) = tunnel_wait_ssh((t), (until))) < 0)		\
			break;						\
	}								\
} while (0)

static int
tunnel_setup(struct tunnel *t)
{
	uint64_t until = now_us() + (uint64_t)t->conf.connect_timeout *
	    1000000;
	const char *blob;
	size_t len;
	int r, w = 0, type, bound = 0;

	if ((r = tunnel_connect(t, until)) < 0)
		return r;
	t->last_rx = now_us();
	if ((t->ssh = libssh2_session_init_ex(NULL, NULL, NULL, t)) == NULL) {
		snprintf(t->err, sizeof(t->err), "libssh2_session_init failed");
		return -ENOMEM;
	}
	libssh2_session_callback_set(t->ssh, LIBSSH2_CALLBACK_SEND,
	    (void *)tunnel_send_cb);
	libssh2_session_callback_set(t->ssh, LIBSSH2_CALLBACK_RECV,
	    (void *)tunnel_recv_cb);
	libssh2_session_set_blocking(t->ssh, 0);
	/* Ask for the pinned key's type, so a bastion with several host
	 * keys shows the one we know. */
	libssh2_session_method_pref(t->ssh, LIBSSH2_METHOD_HOSTKEY,
	    strcmp(t->pinned.type, "ssh-rsa") == 0 ?
	    "rsa-sha2-512,rsa-sha2-256,ssh-rsa" : t->pinned.type);
	if (t->conf.cipher != NULL &&
	    (libssh2_session_method_pref(t->ssh, LIBSSH2_METHOD_CRYPT_CS,
	    t->conf.cipher) != 0 || libssh2_session_method_pref(t->ssh,
	    LIBSSH2_METHOD_CRYPT_SC, t->conf.cipher) != 0)) {
		snprintf(t->err, sizeof(t->err), "cipher %s: not supported by "
		    "libssh2", t->conf.cipher);
		return -EINVAL;
	}
	TUNNEL_RETRY(t, until, r, w, libssh2_session_handshake(t->ssh,
	    t->sock));
	if (w < 0 || r != 0)
		goto fail;
	if ((blob = libssh2_session_hostkey(t->ssh, &len, &type)) == NULL) {
		snprintf(t->err, sizeof(t->err), "bastion %s: no host key",
		    t->conf.host);
		return -EPROTO;
	}
	if ((r = hostkey_match(&t->pinned, t->conf.host,
	    (const unsigned char *)blob, len, t->err, sizeof(t->err))) < 0)
		return r;
	TUNNEL_RETRY(t, until, r, w, libssh2_userauth_publickey_frommemory(
	    t->ssh, t->conf.user, strlen(t->conf.user), NULL, 0, t->key,
	    t->keylen, NULL));
	if (r == LIBSSH2_ERROR_AUTHENTICATION_FAILED ||
	    r == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED) {
		snprintf(t->err, sizeof(t->err), "the bastion %s refused the "
		    "key of %s: %s", t->conf.host, t->conf.user,
		    tunnel_ssh_error(t));
		return -EACCES;
	}
	if (w < 0 || r != 0)
		goto fail;
	for (;;) {
		t->listener = libssh2_channel_forward_listen_ex(t->ssh,
		    t->conf.listen_host, t->conf.listen_port, &bound,
		    TUNNEL_LISTEN_QUEUE);
		if (t->listener != NULL ||
		    libssh2_session_last_errno(t->ssh) != LIBSSH2_ERROR_EAGAIN)
			break;
		if ((w = tunnel_wait_ssh(t, until)) < 0)
			goto fail;
	}
	if (t->listener == NULL) {
		r = libssh2_session_last_errno(t->ssh);
		if (r == LIBSSH2_ERROR_REQUEST_DENIED) {
			snprintf(t->err, sizeof(t->err), "the bastion %s refused "
			    "to listen on %s:%d for us (not permitted for "
			    "this key, or the port is in use)", t->conf.host,
			    t->conf.listen_host, t->conf.listen_port);
			return -EADDRNOTAVAIL;
		}
		goto fail;
	}
	libssh2_keepalive_config(t->ssh, 1, t->conf.keepalive_interval);
	return bound;
fail:
	if (w == -EINTR)
		return w;
	if (w == -ETIMEDOUT) {
		snprintf(t->err, sizeof(t->err), "bastion %s: no answer within "
		    "%u s", t->conf.host, t->conf.connect_timeout);
		return -ETIMEDOUT;
	}
	snprintf(t->err, sizeof(t->err), "bastion %s: %s", t->conf.host,
	    w < 0 ? strerror(-w) : tunnel_ssh_error(t));
	return -ECONNRESET;
}

/* ------------------------------------------------------------------ */
/* Forwarded connections. */

static void
conn_close(struct tunnel *t, struct conn *c, int error, const char *why)
{
	struct tunnel_event ev = {
		.type = TUNNEL_EV_CONN_CLOSE, .conn = c->id, .error = error,
		.message = why, .bytes_in = c->bytes_in,
		.bytes_out = c->bytes_out,
	};

	if (c->state == CONN_CLOSING)
		return;
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->state = CONN_CLOSING;
	free(c->up);
	free(c->down);
	c->up = c->down = NULL;
	tunnel_emit(t, &ev);
}

static void
conn_accept(struct tunnel *t, LIBSSH2_CHANNEL *ch)
{
	struct tunnel_event ev = { .type = TUNNEL_EV_CONN_OPEN };
	struct conn *c = xcalloc(1, sizeof(*c));
	char msg[160];

	c->id = ++t->next_conn;
	c->ch = ch;
	c->fd = -1;
	c->next = t->conns;
	t->conns = c;
	t->nconns++;
	ev.conn = c->id;
	tunnel_emit(t, &ev);
	if (t->nconns > t->conf.max_conns) {
		snprintf(msg, sizeof(msg), "refused: %u connections open",
		    t->conf.max_conns);
		conn_close(t, c, -EMFILE, msg);
		return;
	}
	c->up = xreallocarray(NULL, TUNNEL_BUF, 1);
	c->down = xreallocarray(NULL, TUNNEL_BUF, 1);
	c->state = CONN_CONNECTING;
	if ((c->fd = socket(t->target.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1 || (connect(c->fd,
	    (struct sockaddr *)&t->target, t->target_len) == -1 &&
	    errno != EINPROGRESS)) {
		snprintf(msg, sizeof(msg), "target %s:%s: %s",
		    t->conf.target_host, t->conf.target_port, strerror(errno));
		conn_close(t, c, -errno, msg);
	}
}

/* Whether libssh2's error code e from a channel call concerns that
 * channel only; anything else (transport, crypto, a MAC) breaks the
 * session. */
static bool
tunnel_channel_only(ssize_t e)
{
	return e == LIBSSH2_ERROR_CHANNEL_CLOSED ||
	    e == LIBSSH2_ERROR_CHANNEL_EOF_SENT ||
	    e == LIBSSH2_ERROR_CHANNEL_FAILURE ||
	    e == LIBSSH2_ERROR_CHANNEL_UNKNOWN ||
	    e == LIBSSH2_ERROR_CHANNEL_WINDOW_EXCEEDED ||
	    e == LIBSSH2_ERROR_CHANNEL_PACKET_EXCEEDED;
}

/* Moves what each side has to the other, setting *moved when a byte
 * moved (libssh2 may hold more already read from the socket, which no
 * poll() would announce). Returns 0, 1 when both sides are done, or the
 * -errno of a failure that ends the connection (with its message). */
static int
conn_pump(struct tunnel *t, struct conn *c, bool *moved, char *msg,
    size_t msglen)
{
	short rev = c->pfd != NULL ? c->pfd->revents : 0;
	ssize_t n;
	int e;
	socklen_t el;

	if (c->state == CONN_CONNECTING) {
		if (!(rev & (POLLOUT | POLLERR | POLLHUP)))
			return 0;
		el = sizeof(e);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el) == -1)
			e = errno;
		if (e != 0) {
			snprintf(msg, msglen, "target %s:%s: %s",
			    t->conf.target_host, t->conf.target_port,
			    strerror(e));
			return -e;
		}
		c->state = CONN_OPEN;
		rev = POLLIN | POLLOUT;
	}
	/* Bastion -> target: read the channel while there is room. */
	while (!c->ch_eof && c->down_len < TUNNEL_BUF) {
		n = libssh2_channel_read(c->ch, (char *)c->down + c->down_len,
		    TUNNEL_BUF - c->down_len);
		if (n == LIBSSH2_ERROR_EAGAIN)
			break;
		if (n < 0) {
			snprintf(msg, msglen, "channel read: %s",
			    tunnel_ssh_error(t));
			if (!tunnel_channel_only(n))
				t->broken = (int)n;
			return -EIO;
		}
		if (n == 0) {
			if (libssh2_channel_eof(c->ch))
				c->ch_eof = true;
			break;
		}
		c->down_len += (size_t)n;
		*moved = true;
	}
	if (!c->ch_eof && c->down_len < TUNNEL_BUF &&
	    libssh2_channel_eof(c->ch))
		c->ch_eof = true;
	while (c->down_off < c->down_len) {
		n = send(c->fd, c->down + c->down_off, c->down_len - c->down_off,
		    MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			snprintf(msg, msglen, "target: %s", strerror(errno));
			return -errno;
		}
		c->down_off += (size_t)n;
		c->bytes_in += (uint64_t)n;
		*moved = true;
	}
	if (c->down_off == c->down_len)
		c->down_off = c->down_len = 0;
	if (c->ch_eof && c->down_len == 0 && !c->fd_shut) {
		shutdown(c->fd, SHUT_WR);
		c->fd_shut = true;
	}
	/* Target -> bastion: read the target while there is room, offer it
	 * to libssh2 while the single writer's queue is short. */
	if (c->up_off == c->up_len)
		c->up_off = c->up_len = 0;
	while (!c->target_eof && c->up_len < TUNNEL_BUF &&
	    (rev & (POLLIN | POLLHUP | POLLERR))) {
		n = recv(c->fd, c->up + c->up_len, TUNNEL_BUF - c->up_len, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			snprintf(msg, msglen, "target: %s", strerror(errno));
			return -errno;
		}
		if (n == 0)
			c->target_eof = true;
		c->up_len += (size_t)n;
		*moved = true;
	}
	while (c->up_off < c->up_len && tunnel_queued(t) < TUNNEL_OUTQ_LOW) {
		n = libssh2_channel_write(c->ch, (char *)c->up + c->up_off,
		    c->up_len - c->up_off);
		if (n == LIBSSH2_ERROR_EAGAIN || n == 0)
			break;		/* the bastion's window is closed */
		if (n < 0) {
			snprintf(msg, msglen, "channel write: %s",
			    tunnel_ssh_error(t));
			if (!tunnel_channel_only(n))
				t->broken = (int)n;
			return -EIO;
		}
		c->up_off += (size_t)n;
		c->bytes_out += (uint64_t)n;
		*moved = true;
	}
	if (c->target_eof && c->up_off == c->up_len && !c->eof_sent) {
		if ((n = libssh2_channel_send_eof(c->ch)) < 0 &&
		    n != LIBSSH2_ERROR_EAGAIN) {
			snprintf(msg, msglen, "channel eof: %s",
			    tunnel_ssh_error(t));
			if (!tunnel_channel_only(n))
				t->broken = (int)n;
			return -EIO;
		}
		c->eof_sent = n == 0;
	}
	if (c->eof_sent && c->fd_shut) {
		snprintf(msg, msglen, "closed");
		return 1;
	}
	return 0;
}

/* Channels whose close is done are freed; the rest wait for the bastion's
 * CLOSE (libssh2_channel_free says EAGAIN meanwhile). */
static void
conn_reap(struct tunnel *t, bool all)
{
	struct conn **pp = &t->conns, *c;
	int r;

	while ((c = *pp) != NULL) {
		if (c->state != CONN_CLOSING) {
			pp = &c->next;
			continue;
		}
		if (c->ch != NULL && !all &&
		    (r = libssh2_channel_free(c->ch)) == LIBSSH2_ERROR_EAGAIN) {
			pp = &c->next;
			continue;
		}
		/* With all, libssh2_session_free frees the channels. */
		*pp = c->next;
		t->nconns--;
		free(c);
	}
}

/* ------------------------------------------------------------------ */
/* A session's life. */

static void
tunnel_teardown(struct tunnel *t, int error, const char *why, bool polite)
{
	struct tunnel_event ev = { .type = TUNNEL_EV_DOWN, .error = error,
	    .message = why, .short_sends = t->short_sends };
	struct conn *c;
	uint64_t until;
	bool was_up = t->listener != NULL;

	for (c = t->conns; c != NULL; c = c->next)
		conn_close(t, c, error, why);
	if (t->ssh != NULL && polite && !t->io_dead && t->io_errno == 0) {
		/* A goodbye frees the bastion's port at once; bounded. */
		libssh2_session_disconnect(t->ssh, why);
		until = now_us() + TUNNEL_FLUSH_US;
		while (tunnel_queued(t) > 0 && tunnel_wait_ssh(t, until) == 0)
			;
	}
	t->io_dead = true;
	conn_reap(t, true);
	if (t->ssh != NULL) {
		/* io_dead: no I/O, so no EAGAIN; the listener and channels go
		 * with the session. */
		libssh2_session_free(t->ssh);
		t->ssh = NULL;
	}
	t->listener = NULL;
	if (t->sock != -1)
		close(t->sock);
	t->sock = -1;
	free(t->outq);
	t->outq = NULL;
	t->outq_off = t->outq_len = t->outq_cap = 0;
	t->outq_overflow = false;
	t->short_sends = 0;
	t->broken = 0;
	t->io_errno = 0;
	t->peer_eof = false;
	t->rx_idle = false;
	t->io_dead = false;
	if (was_up || error < 0)
		tunnel_emit(t, &ev);
}

static int
tunnel_resolve_target(struct tunnel *t)
{
	struct addrinfo hints, *res = NULL;
	int r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((r = getaddrinfo(t->conf.target_host, t->conf.target_port, &hints,
	    &res)) != 0) {
		snprintf(t->err, sizeof(t->err), "target %s: %s",
		    t->conf.target_host, gai_strerror(r));
		return -EHOSTUNREACH;
	}
	memcpy(&t->target, res->ai_addr, res->ai_addrlen);
	t->target_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/*
 * The relay: one poll per turn over the bastion, the stop pipe and the
 * targets. Returns why it ended: TUNNEL_STOPPED, TUNNEL_DEADLINE, or a
 * -errno with t->err set (the session is dead).
 */
static int
tunnel_relay(struct tunnel *t)
{
	struct pollfd *pfd = NULL;
	size_t npfd = 0, cap = 0;
	struct conn *c;
	LIBSSH2_CHANNEL *ch;
	uint64_t now, dead_after, wake;
	char msg[256];
	int r, next_ka, ms;
	bool moved;

	dead_after = (uint64_t)t->conf.keepalive_interval *
	    (t->conf.keepalive_count + 1) * 1000000;
	for (;;) {
		/* Accept what the bastion forwarded; this also reads the
		 * transport, so it runs every turn. */
		while (tunnel_queued(t) < TUNNEL_OUTQ_LOW &&
		    (ch = libssh2_channel_forward_accept(t->listener)) != NULL)
			conn_accept(t, ch);
		moved = false;
		for (c = t->conns; c != NULL; c = c->next) {
			if (c->state == CONN_CLOSING)
				continue;
			msg[0] = '\0';
			if ((r = conn_pump(t, c, &moved, msg, sizeof(msg))) != 0)
				conn_close(t, c, r < 0 ? r : 0, msg);
			if (t->broken != 0 && t->err[0] == '\0')
				snprintf(t->err, sizeof(t->err), "bastion %s: %s",
				    t->conf.host, msg);
			c->pfd = NULL;
		}
		conn_reap(t, false);
		if (t->broken != 0) {
			r = -ECONNRESET;	/* t->err says why */
			goto out;
		}
		if (t->outq_overflow) {
			snprintf(t->err, sizeof(t->err), "bastion %s: more than "
			    "%d bytes queued for it", t->conf.host,
			    TUNNEL_OUTQ_MAX);
			r = -ENOBUFS;
			goto out;
		}
		/* The socket's own word, from our callbacks: libssh2 turns a
		 * failed read in forward_accept into "channel not found". */
		if (t->io_errno != 0 || t->peer_eof) {
			snprintf(t->err, sizeof(t->err), "bastion %s: %s",
			    t->conf.host, tunnel_ssh_error(t));
			r = -ECONNRESET;
			goto out;
		}
		next_ka = (int)t->conf.keepalive_interval;
		if (tunnel_queued(t) < TUNNEL_OUTQ_LOW)
			libssh2_keepalive_send(t->ssh, &next_ka);
		if ((r = tunnel_flush(t)) < 0) {
			snprintf(t->err, sizeof(t->err), "bastion %s: %s",
			    t->conf.host, strerror(-r));
			r = -ECONNRESET;
			goto out;
		}
		now = now_us();
		if (t->stopping) {
			r = TUNNEL_STOPPED;
			goto out;
		}
		if (t->deadline != 0 && now >= t->deadline) {
			r = TUNNEL_DEADLINE;
			goto out;
		}
		if (now - t->last_rx > dead_after) {
			snprintf(t->err, sizeof(t->err), "bastion %s: silent for "
			    "%u keepalive intervals of %u s", t->conf.host,
			    t->conf.keepalive_count + 1,
			    t->conf.keepalive_interval);
			r = -ETIMEDOUT;
			goto out;
		}

		/* The poll set: bastion, stop pipe, each target. */
		if (cap < t->nconns + 2) {
			cap = t->nconns + 8;
			pfd = xreallocarray(pfd, cap, sizeof(*pfd));
		}
		pfd[0].fd = t->sock;
		pfd[0].events = POLLIN | (tunnel_queued(t) ? POLLOUT : 0);
		pfd[1].fd = t->stop_pipe[0];
		pfd[1].events = POLLIN;
		npfd = 2;
		for (c = t->conns; c != NULL; c = c->next) {
			if (c->state == CONN_CLOSING)
				continue;
			pfd[npfd].fd = c->fd;
			pfd[npfd].events = 0;
			if (c->state == CONN_CONNECTING || c->down_len > 0)
				pfd[npfd].events |= POLLOUT;
			if (c->state == CONN_OPEN && !c->target_eof &&
			    c->up_len < TUNNEL_BUF)
				pfd[npfd].events |= POLLIN;
			pfd[npfd].revents = 0;
			/* Nothing wanted: out of this poll, or a POLLHUP
			 * would wake it while a full buffer waits for the
			 * bastion's window. */
			if (pfd[npfd].events == 0)
				pfd[npfd].fd = -1;
			c->pfd = &pfd[npfd++];
		}
		wake = now + (uint64_t)(next_ka > 0 ? next_ka : 1) * 1000000;
		if (t->last_rx + dead_after + 1000 < wake)
			wake = t->last_rx + dead_after + 1000;
		if (t->deadline != 0 && t->deadline < wake)
			wake = t->deadline;
		ms = wake > now ? (int)((wake - now + 999) / 1000) : 0;
		if (moved)
			ms = 0;		/* look again before sleeping */
		/* A channel still closing waits for the bastion's CLOSE, a
		 * byte on the socket: no timer needed. */
		if (poll(pfd, npfd, ms) == -1 && errno != EINTR) {
			snprintf(t->err, sizeof(t->err), "poll: %s",
			    strerror(errno));
			r = -errno;
			goto out;
		}
		if (pfd[0].revents & (POLLIN | POLLERR | POLLHUP))
			t->rx_idle = false;
		/* A failed flush shows as io_errno at the top of the turn. */
		if (pfd[0].revents & POLLOUT)
			(void)tunnel_flush(t);
	}
out:
	for (c = t->conns; c != NULL; c = c->next)
		c->pfd = NULL;
	free(pfd);
	return r;
}

static void
tunnel_drain_stop_pipe(struct tunnel *t)
{
	char buf[16];

	while (read(t->stop_pipe[0], buf, sizeof(buf)) > 0)
		;
}

/* Sleeps until, unless stopped first. Returns -EINTR when stopped. */
static int
tunnel_sleep(struct tunnel *t, uint64_t until)
{
	struct pollfd p = { .fd = t->stop_pipe[0], .events = POLLIN };
	uint64_t now;

	while (!t->stopping && (now = now_us()) < until)
		if (poll(&p, 1, (int)((until - now + 999) / 1000)) > 0)
			break;
	return t->stopping ? -EINTR : 0;
}

int
tunnel_run(struct tunnel *t, uint64_t deadline)
{
	struct tunnel_event ev;
	unsigned attempt = 0;
	uint64_t until;
	uint32_t rnd;
	int r, bound;

	t->deadline = deadline;
	t->ever_up = false;
	t->err[0] = '\0';
	if ((r = tunnel_resolve_target(t)) < 0)
		return r;
	for (;;) {
		if (t->stopping) {
			r = TUNNEL_STOPPED;
			break;
		}
		if (t->deadline != 0 && now_us() >= t->deadline) {
			r = TUNNEL_DEADLINE;
			break;
		}
		t->err[0] = '\0';
		bound = tunnel_setup(t);
		if (bound == -EINTR) {
			tunnel_teardown(t, 0, "stopped", false);
			continue;
		}
		if (bound == -EADDRNOTAVAIL && t->ever_up)
			bound = -EAGAIN;	/* our old session's port */
		if (bound == -EPERM || bound == -EACCES ||
		    bound == -EADDRNOTAVAIL || bound == -EINVAL) {
			r = bound;
			tunnel_teardown(t, r, t->err, true);
			break;
		}
		if (bound >= 0) {
			t->ever_up = true;
			attempt = 0;
			memset(&ev, 0, sizeof(ev));
			ev.type = TUNNEL_EV_UP;
			ev.port = bound != 0 ? bound : t->conf.listen_port;
			tunnel_emit(t, &ev);
			r = tunnel_relay(t);
			if (r == TUNNEL_STOPPED) {
				tunnel_teardown(t, 0, "stopped", true);
				break;
			}
			if (r == TUNNEL_DEADLINE) {
				tunnel_teardown(t, 0, "the session's time is up",
				    true);
				break;
			}
			tunnel_teardown(t, r, t->err, false);
		} else
			tunnel_teardown(t, bound, t->err, false);
		/* Retry after a jittered, growing pause, not past the
		 * deadline. */
		if (getentropy(&rnd, sizeof(rnd)) == -1)
			rnd = (uint32_t)now_us();
		memset(&ev, 0, sizeof(ev));
		ev.type = TUNNEL_EV_RETRY;
		ev.delay_ms = backoff_delay(attempt++, t->conf.backoff_min_ms,
		    t->conf.backoff_max_ms, rnd);
		until = now_us() + (uint64_t)ev.delay_ms * 1000;
		if (t->deadline != 0 && until > t->deadline)
			until = t->deadline;
		tunnel_emit(t, &ev);
		tunnel_sleep(t, until);
	}
	tunnel_drain_stop_pipe(t);
	t->stopping = 0;
	return r;
}

/* ------------------------------------------------------------------ */
/* Creation and the rest of the API. */

int
tunnel_new(const struct tunnel_conf *conf, struct tunnel **out, char *err,
    size_t errlen)
{
	struct tunnel *t;
	int r;

	*out = NULL;
	if (conf->host == NULL || conf->port == NULL || conf->user == NULL ||
	    conf->host_key == NULL || (conf->key_file == NULL) ==
	    (conf->key_text == NULL) || conf->listen_port < 1 ||
	    conf->listen_port > 65535) {
		snprintf(err, errlen, "the bastion, its user and host key, one "
		    "private key and a listen port are required");
		return -EINVAL;
	}
	t = xcalloc(1, sizeof(*t));
	t->sock = -1;
	t->stop_pipe[0] = t->stop_pipe[1] = -1;
	t->conf = *conf;
	t->conf.host = xstrdup(conf->host);
	t->conf.port = xstrdup(conf->port);
	t->conf.user = xstrdup(conf->user);
	t->conf.host_key = NULL;
	t->conf.key_file = NULL;
	t->conf.key_text = NULL;
	t->conf.listen_host = xstrdup(conf->listen_host != NULL ?
	    conf->listen_host : "127.0.0.1");
	t->conf.target_host = xstrdup(conf->target_host != NULL ?
	    conf->target_host : "127.0.0.1");
	t->conf.target_port = xstrdup(conf->target_port != NULL ?
	    conf->target_port : "22");
	t->conf.cipher = conf->cipher != NULL ? xstrdup(conf->cipher) : NULL;
#define DEFAULT(f, v) do { if (t->conf.f == 0) t->conf.f = (v); } while (0)
	DEFAULT(connect_timeout, 15);
	DEFAULT(keepalive_interval, 15);
	DEFAULT(keepalive_count, 3);
	DEFAULT(max_conns, 16);
	DEFAULT(backoff_min_ms, 1000);
	DEFAULT(backoff_max_ms, 60000);
#undef DEFAULT
	if (hostkey_parse(conf->host_key, &t->pinned) < 0) {
		snprintf(err, errlen, "the bastion's host key is not \"TYPE "
		    "BASE64\"");
		r = -EINVAL;
		goto out;
	}
	if (conf->key_file != NULL) {
		if ((r = keyfile_read("key file", conf->key_file,
		    TUNNEL_KEY_MAX, &t->key, &t->keylen, err, errlen)) < 0)
			goto out;
	} else if ((t->keylen = strnlen(conf->key_text, TUNNEL_KEY_MAX + 1)) >
	    TUNNEL_KEY_MAX) {
		snprintf(err, errlen, "the private key is over %d bytes",
		    TUNNEL_KEY_MAX);
		r = -EINVAL;
		goto out;
	} else
		t->key = xstrdup(conf->key_text);
	if (pipe2(t->stop_pipe, O_CLOEXEC | O_NONBLOCK) == -1) {
		r = -errno;
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto out;
	}
	if (libssh2_init(0) != 0) {
		snprintf(err, errlen, "libssh2_init failed");
		r = -EIO;
		goto out;
	}
	*out = t;
	t = NULL;	/* transferred */
	r = 0;
out:
	tunnel_free(t);
	return r;
}

void
tunnel_set_deadline(struct tunnel *t, uint64_t deadline)
{
	t->deadline = deadline;
}

void
tunnel_stop(struct tunnel *t)
{
	int saved = errno;
	ssize_t n;

	t->stopping = 1;
	n = write(t->stop_pipe[1], "x", 1);
	(void)n;
	errno = saved;
}

const char *
tunnel_error(const struct tunnel *t)
{
	return t->err;
}

void
tunnel_free(struct tunnel *t)
{
	if (t == NULL)
		return;
	if (t->ssh != NULL)
		tunnel_teardown(t, 0, "freed", false);
	if (t->key != NULL) {
		explicit_bzero(t->key, t->keylen);
		free(t->key);
	}
	explicit_bzero(&t->pinned, sizeof(t->pinned));
	free((char *)t->conf.host);
	free((char *)t->conf.port);
	free((char *)t->conf.user);
	free((char *)t->conf.listen_host);
	free((char *)t->conf.target_host);
	free((char *)t->conf.target_port);
	free((char *)t->conf.cipher);
	if (t->stop_pipe[0] != -1)
		close(t->stop_pipe[0]);
	if (t->stop_pipe[1] != -1)
		close(t->stop_pipe[1]);
	free(t);
}
