/*
 * Runs one external check command as a child of the event loop: no shell,
 * a scrubbed environment, its own process group, bounded output, and a
 * timeout that sends SIGTERM and then SIGKILL to the whole group.
 */
#ifndef EXEC_H
#define EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#define EXEC_KILL_GRACE_USEC	(2 * 1000000ULL)	/* SIGTERM -> SIGKILL */
#define EXEC_STDERR_MAX		1024

/* exec_start flags. Without it the plugin gets no capability at all. */
#define EXEC_KEEP_DAC_READ_SEARCH	0x1	/* leave it in the ambient set */

struct exec_job;

struct exec_outcome {
	int	 exit_code;	/* 0..255, or -1 when killed by a signal */
	int	 signal;	/* the signal when exit_code is -1 */
	bool	 timed_out;
	int	 spawn_error;	/* errno when the command could not start */
	char	*out;		/* stdout, NUL-terminated (may hold NULs) */
	size_t	 outlen;
	bool	 truncated;	/* stdout exceeded the cap */
	char	 err[EXEC_STDERR_MAX];	/* start of stderr */
};

typedef void exec_done_fn(struct exec_job *job,
    const struct exec_outcome *o, void *userdata);

/*
 * Starts argv[0] (an absolute path) with argv, with no capability unless
 * flags keep one. done() runs once from the
 * loop when the child has exited (or failed to start); the job stays
 * owned by the caller, who frees it with exec_free (from done() too).
 * Returns 0 or -errno (then no job and no callback).
 */
int	exec_start(sd_event *event, char *const argv[], unsigned flags,
	    unsigned timeout_sec, size_t output_max, exec_done_fn *done,
	    void *userdata, struct exec_job **jobp);
/* Sends sig to the job's process group (shutdown). */
void	exec_signal(struct exec_job *job, int sig);
/* Frees the job; a running child is killed (SIGKILL) and reaped later by
 * the loop, never left behind. */
void	exec_free(struct exec_job *job);

#endif
