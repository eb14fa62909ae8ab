/*
 * Helpers: the processes that hold one dangerous library each (the
 * reporter's libcurl today; backup's libarchive and support's libssh2 next)
 * with the least privilege they need. This module spawns one with a socket
 * on fd 3, supervises it from the loop, restarts it with back-off, and
 * checks every frame it sends with the owner's validate callback before the
 * owner sees it: a helper is untrusted input, and a bad frame kills it.
 */
#ifndef HELPER_H
#define HELPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <systemd/sd-event.h>

#define HELPER_FD		3
#define HELPER_RESTART_MIN_USEC	(1000000ULL)
#define HELPER_RESTART_MAX_USEC	(60 * 1000000ULL)
/* A helper that ran this long before it died was healthy: its next
 * restart starts the back-off again from the minimum. */
#define HELPER_HEALTHY_USEC	(60 * 1000000ULL)
/* helper_stop: SIGTERM, then SIGKILL after this long. */
#define HELPER_STOP_USEC	(1000000ULL)

enum helper_mode {
	HELPER_RESTART,		/* kept running: restarted with back-off */
	HELPER_ONCE,		/* one run; its exit is reported, no restart */
};

/* Flags for helper_params. */
#define HELPER_KEEP_CAPS	0x1	/* keep agentd's ambient capabilities */

struct helper;

/* How a helper ended: exited with status, killed by signal, or never
 * started (spawn_error, an errno; why says it for people). */
struct helper_exit {
	int		 status;	/* -1 unless it exited */
	int		 signal;	/* 0 unless a signal ended it */
	int		 spawn_error;
	const char	*why;		/* one line, for logs and status */
};

struct helper_ops {
	/* Checks a frame whole before on_msg sees any member: 0 or negative
	 * with the reason in err. A failure kills the helper. */
	int	(*validate)(json_t *msg, char *err, size_t errlen);
	/* The channel is up: send the helper its configuration. */
	void	(*on_start)(struct helper *, void *arg);
	/* A frame that passed validate; msg is borrowed. */
	void	(*on_msg)(struct helper *, json_t *msg, void *arg);
	/* The channel is gone (what was in flight is lost). Optional. */
	void	(*on_down)(struct helper *, void *arg);
	/* The process ended or could not start. Optional. */
	void	(*on_exit)(struct helper *, const struct helper_exit *,
		    void *arg);
};

struct helper_params {
	const char		*name;		/* for logs: "agentd-reporter" */
	const char		*path;		/* the binary */
	char *const		*argv;		/* argv[0] included */
	enum helper_mode	 mode;
	int			 flags;		/* HELPER_KEEP_CAPS */
	size_t			 frame_max;	/* largest frame read */
	/* 0: the HELPER_* defaults */
	uint64_t		 restart_min_usec, restart_max_usec;
	uint64_t		 healthy_usec, stop_usec;
};

/* Copies what params point to; does not start anything. 0 or -errno. */
int	helper_new(sd_event *event, const struct helper_params *params,
	    const struct helper_ops *ops, void *arg, struct helper **hp);
/* Starts the helper now if it is not running (back-off reset). In
 * HELPER_RESTART mode it is then kept running until helper_stop. */
void	helper_start(struct helper *h);
/* Closes the channel (EOF asks it to exit), sends SIGTERM and SIGKILL
 * after stop_usec; no restart follows. Idempotent. */
void	helper_stop(struct helper *h);
/* Stops it; the next start follows its exit at once (a new config). */
void	helper_restart(struct helper *h);
/* The helper did useful work: the next restart waits the minimum. */
void	helper_healthy(struct helper *h);
/* Queues a frame. 0, or -ENOTCONN when the channel is down. */
int	helper_send(struct helper *h, const json_t *msg);
bool	helper_up(const struct helper *h);
/* "running", "restarting", "stopped" (for status). */
const char *helper_state(const struct helper *h);
/* Stops it, waits up to stop_usec for it to exit (SIGKILL after), frees.
 * Blocks: for shutdown only, when the loop is done. */
void	helper_free(struct helper *h);

#endif
