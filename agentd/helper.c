/*
 * Spawning and supervising helper processes (see helper.h). The loop owns
 * all of it: the child source reaps, timers restart with back-off and
 * turn a SIGTERM that was ignored into a SIGKILL.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper.h"
#include "ipc.h"
#include "log.h"
#include "timeutil.h"
#include "xmalloc.h"

struct helper {
	sd_event		*event;
	const struct helper_ops	*ops;
	void			*arg;
	char			*name, *path;
	char			**argv;
	enum helper_mode	 mode;
	int			 flags;
	size_t			 frame_max;
	uint64_t		 restart_min, restart_max, healthy, stop_usec;

	pid_t			 pid;
	uint64_t		 started;	/* monotonic usec */
	sd_event_source		*child_src;
	struct ipc		*ipc;
	sd_event_source		*restart_timer, *kill_timer;
	uint64_t		 restart_usec;	/* the last back-off */
	bool			 wanted;	/* keep it running */
	bool			 restart_now;	/* after this exit, at once */
};

static void helper_spawn(struct helper *);

/* The child between fork and exec: only system calls, then exec; an
 * errno that stops it goes back to the parent through errfd. */
static void __attribute__((noreturn))
helper_child(struct helper *h, int fd, int errfd)
{
	static char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	    "LC_ALL=C", NULL };
	sigset_t none;
	int e, null;

	/* agentd ignores SIGPIPE, and an ignored signal survives exec: the
	 * helper starts from the defaults, as a plugin does (exec.c). */
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* dup2 onto fd 3 clears close-on-exec; fd 3 itself must be told. */
	if (fd == HELPER_FD) {
		if (fcntl(fd, F_SETFD, 0) < 0)
			goto fail;
	} else if (dup2(fd, HELPER_FD) < 0)
		goto fail;
	if ((null = open("/dev/null", O_RDONLY)) < 0)
		goto fail;
	if (null != 0 && (dup2(null, 0) < 0 || close(null) < 0))
		goto fail;
	/* agentd opens everything close-on-exec; this makes sure of it for
	 * whatever a library opened (kernels before 5.11 do without). */
#ifdef SYS_close_range
	(void)syscall(SYS_close_range, HELPER_FD + 1, ~0U, 4 /* CLOEXEC */);
#endif
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		goto fail;
	/* agentd's CAP_DAC_READ_SEARCH is ambient: it would survive exec.
	 * Only a helper that must read every file keeps it. */
	if (!(h->flags & HELPER_KEEP_CAPS) && prctl(PR_CAP_AMBIENT,
	    PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		goto fail;
	execve(h->path, h->argv, envp);
fail:
	e = errno;
	(void)!write(errfd, &e, sizeof(e));
	_exit(127);
}

/* The back-off after a failure: doubling from restart_min to restart_max. */
static void
helper_schedule_restart(struct helper *h)
{
	uint64_t delay;

	if (!h->wanted || h->mode != HELPER_RESTART)
		return;
	if (h->restart_now) {
		h->restart_now = false;
		delay = 1;
	} else {
		h->restart_usec = h->restart_usec == 0 ? h->restart_min :
		    h->restart_usec * 2;
		if (h->restart_usec > h->restart_max)
			h->restart_usec = h->restart_max;
		delay = h->restart_usec;
	}
	sd_event_source_set_time_relative(h->restart_timer, delay);
	sd_event_source_set_enabled(h->restart_timer, SD_EVENT_ONESHOT);
}

/* The channel is gone: tell the owner once. */
static void
helper_down(struct helper *h)
{
	if (h->ipc == NULL)
		return;
	ipc_free(h->ipc);	/* EOF tells the helper to exit */
	h->ipc = NULL;
	if (h->ops->on_down != NULL)
		h->ops->on_down(h, h->arg);
}

static int
helper_on_msg(struct ipc *ipc, json_t *msg, void *userdata)
{
	struct helper *h = userdata;
	char why[256], esc[512];

	(void)ipc;
	if (h->ops->validate(msg, why, sizeof(why)) < 0) {
		log_warnx("%s sent a bad frame (%s); killing %s", h->name,
		    log_escape(esc, sizeof(esc), why), h->mode ==
		    HELPER_RESTART ? "and restarting it" : "it");
		return -1;	/* helper_on_close kills it */
	}
	h->ops->on_msg(h, msg, h->arg);
	return 0;
}

static void
helper_on_close(struct ipc *ipc, int error, void *userdata)
{
	struct helper *h = userdata;
	const char *what = h->mode == HELPER_RESTART ? "killing and restarting "
	    "it" : "killing it";

	(void)ipc;
	/* A helper that breaks the framing is not asked to stop: it is
	 * broken or compromised (the refused frame was logged above). */
	if (error == -EBADMSG || error == -EMSGSIZE || error == -EPROTO) {
		if (error == -EMSGSIZE)
			log_warnx("%s announced a frame of 0 or over %zu bytes; "
			    "%s", h->name, h->frame_max, what);
		else if (error == -EBADMSG)
			log_warnx("%s sent a frame that is not a JSON object; "
			    "%s", h->name, what);
		if (h->pid > 0)
			kill(h->pid, SIGKILL);
	} else if (h->pid > 0) {
		/* As helper_stop: one that lingers without its channel would
		 * hold off every restart. */
		kill(h->pid, SIGTERM);
		sd_event_source_set_time_relative(h->kill_timer, h->stop_usec);
		sd_event_source_set_enabled(h->kill_timer, SD_EVENT_ONESHOT);
	}
	helper_down(h);
}

static int
helper_on_exit(sd_event_source *s, const siginfo_t *si, void *userdata)
{
	struct helper *h = userdata;
	struct helper_exit ex = { .status = -1 };
	char why[128];

	(void)s;
	h->child_src = sd_event_source_disable_unref(h->child_src);
	h->pid = 0;
	sd_event_source_set_enabled(h->kill_timer, SD_EVENT_OFF);
	if (si->si_code == CLD_EXITED)
		ex.status = si->si_status;
	else
		ex.signal = si->si_status;
	snprintf(why, sizeof(why), "%s exited (%s %d)", h->name,
	    si->si_code == CLD_EXITED ? "status" : "signal", si->si_status);
	ex.why = why;
	/* Unexpected only while the channel was up. */
	if (h->ipc != NULL && h->mode == HELPER_RESTART && h->wanted)
		log_warnx("%s; restarting it", why);
	helper_down(h);
	if (time_since(h->started, time_now(CLOCK_MONOTONIC)) >= h->healthy)
		h->restart_usec = 0;
	if (h->mode == HELPER_ONCE)
		h->wanted = false;
	if (h->ops->on_exit != NULL)
		h->ops->on_exit(h, &ex, h->arg);
	helper_schedule_restart(h);
	return 0;
}

static void
helper_spawn(struct helper *h)
{
	struct helper_exit ex = { .status = -1 };
	char why[512];
	int sv[2] = { -1, -1 }, ep[2] = { -1, -1 }, err = 0;
	ssize_t n;
	pid_t pid;

	if (h->pid > 0 || !h->wanted)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    pipe2(ep, O_CLOEXEC) < 0) {
		err = errno;
		goto fail;
	}
	if ((pid = fork()) < 0) {
		err = errno;
		goto fail;
	}
	if (pid == 0)
		helper_child(h, sv[1], ep[1]);
	close(ep[1]);
	ep[1] = -1;
	close(sv[1]);
	sv[1] = -1;
	/* Blocks only until exec: the pipe closes on it (close-on-exec),
	 * or carries the errno that stopped the child before it. */
	do
		n = read(ep[0], &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	close(ep[0]);
	ep[0] = -1;
	if (n == sizeof(err)) {
		waitpid(pid, NULL, 0);
		goto fail;
	}
	err = 0;
	h->pid = pid;
	h->started = time_now(CLOCK_MONOTONIC);
	/* The exit after the frames: a helper that writes its last frame
	 * and exits at once makes both pending in one iteration, and among
	 * equal priorities sd-event's order is arbitrary; handling the exit
	 * first would drop the frame still in the socket. (Suspected once:
	 * an agentd-backup that failed at once was reported "without a
	 * result"; not reproduced in 120 tries either way.) */
	if (sd_event_add_child(h->event, &h->child_src, pid, WEXITED,
	    helper_on_exit, h) < 0 ||
	    sd_event_source_set_priority(h->child_src,
	    SD_EVENT_PRIORITY_NORMAL + 1) < 0 ||
	    ipc_new(h->event, sv[0], helper_on_msg, helper_on_close, h,
	    &h->ipc) < 0)
		fatalx("cannot watch %s", h->name);
	ipc_set_max_in(h->ipc, h->frame_max);
	if (h->ops->on_start != NULL)
		h->ops->on_start(h, h->arg);
	return;
fail:
	for (int i = 0; i < 2; i++) {
		if (sv[i] >= 0)
			close(sv[i]);
		if (ep[i] >= 0)
			close(ep[i]);
	}
	snprintf(why, sizeof(why), "cannot start %s: %s", h->path,
	    strerror(err));
	log_warnx("%s; %s", why, h->mode == HELPER_RESTART ? "retrying" :
	    "giving up");
	ex.spawn_error = err;
	ex.why = why;
	if (h->mode == HELPER_ONCE)
		h->wanted = false;
	if (h->ops->on_exit != NULL)
		h->ops->on_exit(h, &ex, h->arg);
	helper_schedule_restart(h);
}

static int
helper_on_restart(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	helper_spawn(userdata);
	return 0;
}

static int
helper_on_kill(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct helper *h = userdata;

	(void)s;
	(void)usec;
	if (h->pid > 0) {
		log_warnx("%s did not exit on SIGTERM; killing it", h->name);
		kill(h->pid, SIGKILL);
	}
	return 0;
}

int
helper_new(sd_event *event, const struct helper_params *p,
    const struct helper_ops *ops, void *arg, struct helper **hp)
{
	struct helper *h;
	size_t n;

	*hp = NULL;
	if (p->argv == NULL || p->argv[0] == NULL || ops->validate == NULL ||
	    ops->on_msg == NULL)
		return -EINVAL;
	h = xcalloc(1, sizeof(*h));
	h->event = sd_event_ref(event);
	h->ops = ops;
	h->arg = arg;
	h->name = xstrdup(p->name);
	h->path = xstrdup(p->path);
	for (n = 0; p->argv[n] != NULL; n++)
		;
	h->argv = xcalloc(n + 1, sizeof(*h->argv));
	for (size_t i = 0; i < n; i++)
		h->argv[i] = xstrdup(p->argv[i]);
	h->mode = p->mode;
	h->flags = p->flags;
	h->frame_max = p->frame_max != 0 ? p->frame_max : IPC_MSG_MAX;
	h->restart_min = p->restart_min_usec != 0 ? p->restart_min_usec :
	    HELPER_RESTART_MIN_USEC;
	h->restart_max = p->restart_max_usec != 0 ? p->restart_max_usec :
	    HELPER_RESTART_MAX_USEC;
	h->healthy = p->healthy_usec != 0 ? p->healthy_usec :
	    HELPER_HEALTHY_USEC;
	h->stop_usec = p->stop_usec != 0 ? p->stop_usec : HELPER_STOP_USEC;
	if (sd_event_add_time(event, &h->restart_timer, CLOCK_MONOTONIC,
	    UINT64_MAX, 0, helper_on_restart, h) < 0 ||
	    sd_event_add_time(event, &h->kill_timer, CLOCK_MONOTONIC,
	    UINT64_MAX, 0, helper_on_kill, h) < 0)
		fatalx("cannot set up the timers of %s", h->name);
	*hp = h;
	return 0;
}

void
helper_start(struct helper *h)
{
	h->wanted = true;
	h->restart_usec = 0;
	if (h->pid > 0) {
		/* On its way out after a stop: its exit starts the next. */
		h->restart_now = h->ipc == NULL;
		return;
	}
	sd_event_source_set_enabled(h->restart_timer, SD_EVENT_OFF);
	helper_spawn(h);
}

void
helper_stop(struct helper *h)
{
	h->wanted = false;
	h->restart_now = false;
	sd_event_source_set_enabled(h->restart_timer, SD_EVENT_OFF);
	helper_down(h);
	if (h->pid > 0) {
		kill(h->pid, SIGTERM);
		sd_event_source_set_time_relative(h->kill_timer, h->stop_usec);
		sd_event_source_set_enabled(h->kill_timer, SD_EVENT_ONESHOT);
	}
}

void
helper_restart(struct helper *h)
{
	helper_stop(h);
	helper_start(h);
}

void
helper_healthy(struct helper *h)
{
	h->restart_usec = 0;
}

int
helper_send(struct helper *h, const json_t *msg)
{
	if (h->ipc == NULL)
		return -ENOTCONN;
	return ipc_send(h->ipc, msg);
}

bool
helper_up(const struct helper *h)
{
	return h->ipc != NULL;
}

const char *
helper_state(const struct helper *h)
{
	return h->ipc != NULL ? "running" : h->wanted ? "restarting" :
	    "stopped";
}

void
helper_free(struct helper *h)
{
	uint64_t waited = 0;

	if (h == NULL)
		return;
	helper_stop(h);
	/* The loop is gone: give the helper stop_usec to finish on its own,
	 * so that systemd does not have to SIGKILL it after us. */
	while (h->pid > 0 && waited < h->stop_usec) {
		if (waitpid(h->pid, NULL, WNOHANG) != 0)
			h->pid = 0;
		else {
			usleep(10000);
			waited += 10000;
		}
	}
	if (h->pid > 0) {
		kill(h->pid, SIGKILL);
		waitpid(h->pid, NULL, 0);
	}
	sd_event_source_disable_unref(h->child_src);
	sd_event_source_disable_unref(h->restart_timer);
	sd_event_source_disable_unref(h->kill_timer);
	for (size_t i = 0; h->argv[i] != NULL; i++)
		free(h->argv[i]);
	free(h->argv);
	free(h->name);
	free(h->path);
	sd_event_unref(h->event);
	free(h);
}
