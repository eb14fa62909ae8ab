/*
 * agentd-support: one remote support session, in its own process, so that
 * libssh2 and its crypto never load into agentd. agentd starts it (no
 * capabilities, no_new_privs) only while a session is open, with a socket
 * on fd 3; it reads one session frame, runs the tunnel (support/tunnel.c)
 * until the session's time is up or agentd stops it (a second frame, {"t":
 * "stop"}: the connections' ends are still told; or EOF, SIGTERM), and
 * sends each tunnel event back as a frame (agentd/supportmsg.h).
 * Exit 0: the time ran out or it was stopped; 1: a failure retrying cannot
 * mend (the host key, the key refused, the forward refused), told first
 * in a "failed" frame.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "addr.h"
#include "ipc.h"
#include "log.h"
#include "timeutil.h"
#include "tunnel.h"

#define SUP_FD		3
#define SUP_FRAME_MAX	(64 * 1024)	/* the session frame, bytes */
#define SUP_TEXT_MAX	512		/* agentd's bound on a text */
#define SUP_TTL_MAX	(7 * 86400)	/* seconds: max_ttl's bound */

static struct tunnel *sup_tunnel;

/* Text for a frame: printable ASCII (a peer's words may be anything, and
 * jansson takes only valid UTF-8), at most SUP_TEXT_MAX bytes. */
static json_t *
sup_text(const char *s)
{
	char buf[SUP_TEXT_MAX + 1];
	size_t i;

	for (i = 0; s[i] != '\0' && i < SUP_TEXT_MAX; i++)
		buf[i] = (unsigned char)s[i] >= 0x20 &&
		    (unsigned char)s[i] < 0x7f ? s[i] : '?';
	buf[i] = '\0';
	return json_string(buf);
}

/* Writes one frame (4-byte big-endian length, JSON); o is consumed.
 * agentd gone: the session has no one to answer to, so it ends. */
static void
sup_send(json_t *o)
{
	int	 r;

	if ((r = ipc_write(SUP_FD, o)) != 0)
		fatalx("write to agentd: %s", strerror(-r));
}

/* The tunnel's events as frames; each json_pack's pairs are counted. */
static void
sup_event(const struct tunnel_event *ev, void *arg)
{
	(void)arg;
	switch (ev->type) {
	case TUNNEL_EV_UP:
		/* Two pairs. */
		sup_send(json_pack("{s:s, s:I}", "t", "up", "port",
		    (json_int_t)ev->port));
		break;
	case TUNNEL_EV_DOWN:
		/* Three pairs. */
		sup_send(json_pack("{s:s, s:I, s:o}", "t", "down", "error",
		    (json_int_t)(ev->error < -4095 ? -EIO : ev->error),
		    "message", sup_text(ev->message)));
		break;
	case TUNNEL_EV_RETRY:
		/* Two pairs. */
		sup_send(json_pack("{s:s, s:I}", "t", "retry", "delay_ms",
		    (json_int_t)ev->delay_ms));
		break;
	case TUNNEL_EV_CONN_OPEN:
		/* Two pairs. */
		sup_send(json_pack("{s:s, s:I}", "t", "conn_open", "conn",
		    (json_int_t)ev->conn));
		break;
	case TUNNEL_EV_CONN_CLOSE:
		/* Five pairs. */
		sup_send(json_pack("{s:s, s:I, s:I, s:I, s:o}", "t",
		    "conn_close", "conn", (json_int_t)ev->conn, "bytes_in",
		    (json_int_t)ev->bytes_in, "bytes_out",
		    (json_int_t)ev->bytes_out, "message",
		    sup_text(ev->message)));
		break;
	}
}

/* agentd closed the channel (helper_stop): end the session. A thread of
 * its own, so the tunnel's loop needs to know nothing of fd 3. */
static void *
sup_watch(void *arg)
{
	char c;
	ssize_t n;

	(void)arg;
	/* agentd sends nothing after the session frame: any byte or EOF
	 * ends the session. */
	while ((n = read(SUP_FD, &c, 1)) < 0 && errno == EINTR)
		;
	tunnel_stop(sup_tunnel);
	return NULL;
}

static void
sup_on_term(int sig)
{
	(void)sig;
	if (sup_tunnel != NULL)
		tunnel_stop(sup_tunnel);
}

int
main(int argc, char **argv)
{
	char bhost[256], bport[8], thost[256], tport[8], err[512];
	const char *t, *session, *bastion, *user, *host_key, *key_file;
	const char *target;
	struct tunnel_conf conf = { 0 };
	json_int_t forward_port, ttl;
	json_error_t jerr;
	pthread_t watcher;
	json_t *o;
	int r;

	(void)argv;
	log_init("agentd-support", argc > 1 ? LOG_TARGET_STDERR :
	    LOG_TARGET_AUTO, 0);
	signal(SIGPIPE, SIG_IGN);
	if ((r = ipc_read(SUP_FD, SUP_FRAME_MAX, &o)) != 0)
		fatalx("no session from agentd: %s", strerror(-r));
	jerr.text[0] = '\0';
	/* Nine pairs: t, session, bastion, user, host_key, key_file,
	 * forward_port, target, ttl. */
	if (json_unpack_ex(o, &jerr, JSON_STRICT,
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I}",
	    "t", &t, "session", &session, "bastion", &bastion, "user", &user,
	    "host_key", &host_key, "key_file", &key_file,
	    "forward_port", &forward_port, "target", &target, "ttl", &ttl) < 0
	    || strcmp(t, "session") != 0 || forward_port < 1 ||
	    forward_port > 65535 || ttl < 1 || ttl > SUP_TTL_MAX ||
	    key_file[0] != '/' ||
	    addr_split(bastion, bhost, sizeof(bhost), bport, sizeof(bport)) < 0
	    || addr_split(target, thost, sizeof(thost), tport, sizeof(tport)) <
	    0)
		fatalx("malformed session frame: %s",
		    jerr.text[0] != '\0' ? jerr.text : "bad member");
	conf.host = bhost;
	conf.port = bport;
	conf.user = user;
	conf.host_key = host_key;
	conf.key_file = key_file;
	conf.listen_port = (int)forward_port;
	conf.target_host = thost;
	conf.target_port = tport;
	conf.event = sup_event;
	if ((r = tunnel_new(&conf, &sup_tunnel, err, sizeof(err))) < 0) {
		/* Three pairs. */
		sup_send(json_pack("{s:s, s:I, s:o}", "t", "failed", "error",
		    (json_int_t)(r < -4095 ? -EIO : r), "detail",
		    sup_text(err)));
		json_decref(o);
		return 1;
	}
	signal(SIGTERM, sup_on_term);
	if (pthread_create(&watcher, NULL, sup_watch, NULL) != 0)
		fatalx("cannot start the channel watcher");
	pthread_detach(watcher);
	log_info("session %s: to %s@%s, forward 127.0.0.1:%lld to %s, for "
	    "%llds", session, user, bastion, (long long)forward_port, target,
	    (long long)ttl);
	r = tunnel_run(sup_tunnel, time_now(CLOCK_MONOTONIC) +
	    (uint64_t)ttl * 1000000);
	if (r < 0)
		/* Three pairs. */
		sup_send(json_pack("{s:s, s:I, s:o}", "t", "failed", "error",
		    (json_int_t)(r < -4095 ? -EIO : r), "detail",
		    sup_text(tunnel_error(sup_tunnel))));
	json_decref(o);
	/* The watcher may still hold the tunnel: exit without freeing it;
	 * tunnel_run wiped nothing it still needs, and the process ends. */
	return r < 0 ? 1 : 0;
}
