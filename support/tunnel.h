/*
 * tunnel: the support session's engine. One outbound SSH connection
 * (libssh2) to the provider's bastion, its host key pinned, the agent's
 * ed25519 key for authentication, and a reverse forward of the bastion's
 * LISTEN_HOST:PORT to a local target (the host's sshd), relayed for many
 * concurrent connections in one thread with poll() and non-blocking
 * libssh2. Keepalives detect a dead bastion; the session is re-established
 * with bounded, jittered exponential back-off until the deadline or a
 * stop. Everything that happens is reported through one callback.
 *
 * THE SINGLE-WRITER RULE (libssh2 1.10, Debian 12). When a non-blocking
 * send leaves part of an SSH packet unsent, libssh2 1.10 remembers it and
 * fails every other packet with LIBSSH2_ERROR_BAD_USE (-39) until exactly
 * that packet is retried (libssh2 issue 1397, fixed in 1.11.1 by PR 1454).
 * Retrying "the same write" is not enough with 1.10: libssh2_keepalive_send
 * and libssh2_channel_send_eof build their packet on their own stack and
 * never retry it, and the channel-open confirmation of every forwarded
 * connection, window adjusts and keepalive replies are sent from inside
 * reads. So libssh2 is never shown a short send: the engine installs its
 * own send callback, which writes what the socket takes and queues the
 * rest, whole packets in order, in one bounded output queue that the loop
 * flushes on POLLOUT. Every byte to the bastion leaves through that one
 * queue; libssh2 never has a partial packet pending, so the -39 path is
 * never entered. New channel data is offered to libssh2 only while the
 * queue holds less than TUNNEL_OUTQ_LOW bytes, so the queue stays near one
 * packet per channel; a peer that makes it grow past TUNNEL_OUTQ_MAX
 * (replies it forces us to queue) ends the session.
 */
#ifndef TUNNEL_H
#define TUNNEL_H

#include <stdint.h>

#define TUNNEL_OUTQ_LOW		(64 * 1024)
#define TUNNEL_OUTQ_MAX		(4 * 1024 * 1024)
#define TUNNEL_BUF		(64 * 1024)	/* per connection, each way */

struct tunnel;

enum tunnel_event_type {
	TUNNEL_EV_UP,		/* forward granted: port */
	TUNNEL_EV_DOWN,		/* session over: error, message */
	TUNNEL_EV_RETRY,	/* next attempt in delay_ms */
	TUNNEL_EV_CONN_OPEN,	/* a forwarded connection: conn */
	TUNNEL_EV_CONN_CLOSE,	/* conn, bytes each way, error, message */
};

struct tunnel_event {
	enum tunnel_event_type type;
	unsigned	 conn;		/* CONN_*: id, unique in this tunnel */
	int		 port;		/* UP: the port bound on the bastion */
	int		 error;		/* DOWN, CONN_CLOSE: 0 or -errno */
	const char	*message;	/* DOWN, CONN_CLOSE: why; never NULL */
	uint64_t	 bytes_in;	/* CONN_CLOSE: bastion -> target */
	uint64_t	 bytes_out;	/* CONN_CLOSE: target -> bastion */
	uint32_t	 delay_ms;	/* RETRY */
	uint64_t	 short_sends;	/* DOWN: packets the socket took only
					 * in part (queued: tunnel.h) */
};

/* Called from tunnel_run for each event; the event and its strings live
 * only for the call. */
typedef void (*tunnel_event_cb)(const struct tunnel_event *ev, void *arg);

struct tunnel_conf {
	const char	*host, *port;	/* the bastion */
	const char	*user;
	const char	*host_key;	/* pinned "TYPE BASE64" */
	const char	*key_file;	/* the agent's private key, 0600; or */
	const char	*key_text;	/* the same, in memory (copied) */
	const char	*listen_host;	/* on the bastion; NULL: 127.0.0.1 */
	int		 listen_port;	/* 1-65535 */
	const char	*target_host, *target_port;	/* NULL: 127.0.0.1:22 */
	const char	*cipher;	/* e.g. "aes128-ctr"; NULL: default */
	unsigned	 connect_timeout;	/* s, connect to forward; 15 */
	unsigned	 keepalive_interval;	/* s; 15 */
	unsigned	 keepalive_count;	/* silent intervals = dead; 3 */
	unsigned	 max_conns;		/* concurrent; 16 */
	uint32_t	 backoff_min_ms;	/* 1000 */
	uint32_t	 backoff_max_ms;	/* 60000 */
	int		 sndbuf;	/* SO_SNDBUF to the bastion; 0: kernel's */
	tunnel_event_cb	 event;
	void		*arg;
};

/* tunnel_run's endings besides a -errno. */
#define TUNNEL_STOPPED		0	/* tunnel_stop */
#define TUNNEL_DEADLINE		1	/* the deadline passed */

/*
 * Checks conf (the pinned key parses, the private key is readable if from
 * a file) and keeps a copy of it; nothing is connected yet. Returns 0 and
 * *out, or -EINVAL / the key file's -errno with err saying why.
 */
int	tunnel_new(const struct tunnel_conf *conf, struct tunnel **out,
	    char *err, size_t errlen);

/*
 * Runs sessions until tunnel_stop (TUNNEL_STOPPED), the monotonic
 * deadline in microseconds of time_now(CLOCK_MONOTONIC) (TUNNEL_DEADLINE;
 * 0 is none), or a failure that retrying cannot mend (negative):
 * -EPERM the host key does not match the pinned one, -EACCES the bastion
 * refused the key, -EADDRNOTAVAIL the bastion refused the forward on the
 * first session (not permitted, or the port is taken; after a session was
 * up, a refusal is retried: the old session may still hold the port).
 * Network failures and a dead bastion are retried with back-off. At every
 * end, open connections are closed (CONN_CLOSE) and the session ends
 * (DOWN). tunnel_error tells the last failure in words.
 */
int	tunnel_run(struct tunnel *t, uint64_t deadline);

/* Moves the deadline (0: none); for use from the event callback. */
void	tunnel_set_deadline(struct tunnel *t, uint64_t deadline);

/* Asks tunnel_run to end; async-signal-safe, and callable from the event
 * callback. */
void	tunnel_stop(struct tunnel *t);

/* The last failure, in words ("" if none). */
const char *tunnel_error(const struct tunnel *t);

/* Wipes the key and frees; t may be NULL. */
void	tunnel_free(struct tunnel *t);

#endif
