/*
 * External check processes: fork and exec into a new session with a clean
 * signal mask, environment and capability sets, stdout/stderr read from
 * non-blocking pipes on the loop, timeout escalation SIGTERM -> SIGKILL on
 * the process group, and whatever is left in the group killed when the
 * plugin exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>

#include "exec.h"
#include "log.h"
#include "xmalloc.h"

struct exec_job {
	sd_event		*event;
	pid_t			 pid;
	sd_event_source		*child_src, *out_src, *err_src, *timer_src;
	int			 out_fd, err_fd;
	size_t			 output_max;
	size_t			 errlen;
	bool			 exited, killed;
	bool			 orphaned;	/* freed by caller while running */
	unsigned		 timeout_sec;
	struct exec_outcome	 o;
	exec_done_fn		*done;
	void			*userdata;
};

/* What a check sees of our environment: nothing but a sane PATH and the C
 * locale, so perfdata uses '.' decimals and no secret leaks into a plugin. */
static char *const exec_envp[] = {
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"LANG=C",
	"LC_ALL=C",
	NULL,
};

static void
exec_close_pipe(sd_event_source **src, int *fd)
{
	*src = sd_event_source_disable_unref(*src);
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Reads what is there; at EOF closes the pipe. Excess stdout is drained and
 * dropped so a chatty plugin cannot block on a full pipe. */
static void
exec_drain(struct exec_job *job, int is_err)
{
	char scratch[4096];
	int *fd = is_err ? &job->err_fd : &job->out_fd;

	while (*fd >= 0) {
		char *dst = scratch;
		size_t room = sizeof(scratch);
		ssize_t n;

		if (!is_err && job->o.outlen < job->output_max) {
			dst = job->o.out + job->o.outlen;
			room = job->output_max - job->o.outlen;
		} else if (is_err && job->errlen + 1 < EXEC_STDERR_MAX) {
			dst = job->o.err + job->errlen;
			room = EXEC_STDERR_MAX - 1 - job->errlen;
		}
		n = read(*fd, dst, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			if (is_err)
				exec_close_pipe(&job->err_src, &job->err_fd);
			else
				exec_close_pipe(&job->out_src, &job->out_fd);
			return;
		}
		if (dst == scratch) {
			if (!is_err)
				job->o.truncated = true;
		} else if (is_err)
			job->errlen += (size_t)n;
		else
			job->o.outlen += (size_t)n;
	}
}

static void exec_destroy(struct exec_job *);

static void
exec_finish(struct exec_job *job)
{
	if (job->orphaned) {
		exec_destroy(job);
		return;
	}
	job->timer_src = sd_event_source_disable_unref(job->timer_src);
	job->o.out[job->o.outlen] = '\0';
	job->o.err[job->errlen] = '\0';
	job->done(job, &job->o, job->userdata);
}

static int
exec_on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct exec_job *job = userdata;

	(void)s;
	(void)revents;
	exec_drain(job, fd == job->err_fd);
	return 0;
}

static int
exec_on_child(sd_event_source *s, const siginfo_t *si, void *userdata)
{
	struct exec_job *job = userdata;

	(void)s;
	job->exited = true;
	if (si->si_code == CLD_EXITED) {
		job->o.exit_code = si->si_status;
	} else {
		job->o.exit_code = -1;
		job->o.signal = si->si_status;
	}
	/* Everything the child wrote is in the pipes now; a grandchild that
	 * kept them open must not hold the result back. */
	exec_drain(job, 0);
	exec_drain(job, 1);
	exec_close_pipe(&job->out_src, &job->out_fd);
	exec_close_pipe(&job->err_src, &job->err_fd);
	/* Whatever the plugin left running in its group (`sleep 1000 &`)
	 * goes with it. The leader is still an unreaped zombie here, so
	 * the group id cannot have been reused. A descendant that called
	 * setsid() has left the group: only a cgroup would find it
	 * (docs/architecture.md). */
	kill(-job->pid, SIGKILL);
	exec_finish(job);
	return 0;
}

static int
exec_on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct exec_job *job = userdata;

	(void)usec;
	if (!job->o.timed_out) {
		job->o.timed_out = true;
		job->killed = true;
		kill(-job->pid, SIGTERM);
		sd_event_source_set_time_relative(s, EXEC_KILL_GRACE_USEC);
		sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
		return 0;
	}
	kill(-job->pid, SIGKILL);
	return 0;
}

static int
exec_on_spawn_failed(sd_event_source *s, void *userdata)
{
	(void)s;
	exec_finish(userdata);
	return 0;
}

/*
 * Closes every fd from 3 up except keep, in the child: close-on-exec is
 * only as good as every library agentd links and whoever started agentd
 * (a shell, a test harness) leaving nothing open. System calls only.
 */
static void
exec_close_from3(int keep)
{
	struct rlimit rl;
	unsigned long max;

#ifdef SYS_close_range
	if (keep < 3) {
		if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0)
			return;
	} else if ((keep == 3 || syscall(SYS_close_range, 3U,
	    (unsigned)keep - 1, 0U) == 0) &&
	    syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0U) == 0)
		return;
#endif
	/* Before Linux 5.9: every possible fd, bounded. */
	max = getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY ? (unsigned long)rl.rlim_cur : 65536;
	if (max > 1UL << 20)
		max = 1UL << 20;
	for (unsigned long fd = 3; fd < max; fd++)
		if ((int)fd != keep)
			(void)close((int)fd);
}

/*
 * The child between fork and exec: async-signal-safe calls only. It drops
 * the capabilities agentd holds (systemd gives it CAP_DAC_READ_SEARCH as an
 * ambient capability, which a plain exec would pass on to every plugin)
 * unless the check asked to keep that one. Returns the errno of what
 * failed; on success it does not return.
 */
static int
exec_child(char *const argv[], int devnull, int out_w, int err_w,
    int report_w, unsigned flags)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3 };
	/* Zeroed: valgrind does not know that capget fills it. */
	struct __user_cap_data_struct data[2] = { 0 };
	sigset_t none;

	if (setsid() < 0)
		return errno;
	/* The loop blocks signals for sd-event and may ignore SIGPIPE: the
	 * plugin must see neither. */
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		return errno;
	if (dup2(devnull, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0)
		return errno;
	exec_close_from3(report_w);
	if (chdir("/") < 0)
		return errno;
	/* EINVAL: a kernel before 4.3 has no ambient set to clear. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL)
		return errno;
	if (syscall(SYS_capget, &hdr, data) < 0)
		return errno;
	if (flags & EXEC_KEEP_DAC_READ_SEARCH) {
		/* Fails when agentd does not hold it (run by hand, as root):
		 * then there is nothing to keep. */
		(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE,
		    CAP_DAC_READ_SEARCH, 0, 0);
	} else if (data[0].inheritable != 0 || data[1].inheritable != 0) {
		/* Nothing inheritable either, so a file capability cannot
		 * bring it back. */
		data[0].inheritable = data[1].inheritable = 0;
		if (syscall(SYS_capset, &hdr, data) < 0)
			return errno;
	}
	execve(argv[0], argv, exec_envp);
	return errno;
}

static int
exec_spawn(struct exec_job *job, char *const argv[], int out_w, int err_w,
    unsigned flags)
{
	int devnull, report[2], e = 0;
	ssize_t n;
	pid_t pid;

	if ((devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (pipe2(report, O_CLOEXEC) < 0) {
		e = errno;
		close(devnull);
		return -e;
	}
	if ((pid = fork()) < 0) {
		e = errno;
		goto out;
	}
	if (pid == 0) {
		/* The report pipe closes on a successful exec; else the
		 * errno goes through it. */
		ssize_t w;

		e = exec_child(argv, devnull, out_w, err_w, report[1],
		    flags);
		w = write(report[1], &e, sizeof(e));
		_exit(w == (ssize_t)sizeof(e) ? 127 : 126);
	}
	close(report[1]);
	report[1] = -1;
	/* Bounded: the child execs or fails at once. */
	do {
		n = read(report[0], &e, sizeof(e));
	} while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(e)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		goto out;
	}
	e = 0;
	job->pid = pid;
out:
	close(devnull);
	close(report[0]);
	if (report[1] >= 0)
		close(report[1]);
	return -e;
}

int
exec_start(sd_event *event, char *const argv[], unsigned flags,
    unsigned timeout_sec, size_t output_max, exec_done_fn *done,
    void *userdata, struct exec_job **jobp)
{
	struct exec_job *job;
	int out[2] = { -1, -1 }, err[2] = { -1, -1 };
	int r;

	*jobp = NULL;
	job = xcalloc(1, sizeof(*job));
	job->event = sd_event_ref(event);
	job->out_fd = job->err_fd = -1;
	job->output_max = output_max;
	job->timeout_sec = timeout_sec;
	job->done = done;
	job->userdata = userdata;
	job->o.out = xcalloc(1, output_max + 1);

	if (pipe2(out, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    pipe2(err, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = -errno;
		goto out;
	}
	if ((r = exec_spawn(job, argv, out[1], err[1], flags)) < 0) {
		/* Not started: report it through the callback like any
		 * other outcome, from the loop, so callers have one path. */
		job->o.spawn_error = -r;
		job->o.exit_code = -1;
		close(out[0]);
		close(err[0]);
		out[0] = err[0] = -1;
		if ((r = sd_event_add_defer(event, &job->timer_src,
		    exec_on_spawn_failed, job)) < 0)
			goto out;
		goto spawned_failed;
	}
	job->out_fd = out[0];
	job->err_fd = err[0];
	out[0] = err[0] = -1;	/* transferred */
	if ((r = sd_event_add_io(event, &job->out_src, job->out_fd, EPOLLIN,
	    exec_on_output, job)) < 0 ||
	    (r = sd_event_add_io(event, &job->err_src, job->err_fd, EPOLLIN,
	    exec_on_output, job)) < 0 ||
	    (r = sd_event_add_child(event, &job->child_src, job->pid, WEXITED,
	    exec_on_child, job)) < 0 ||
	    (r = sd_event_add_time_relative(event, &job->timer_src,
	    CLOCK_MONOTONIC, (uint64_t)timeout_sec * 1000000, 0,
	    exec_on_timeout, job)) < 0) {
		kill(-job->pid, SIGKILL);
		goto out;
	}
	r = 0;
spawned_failed:
	*jobp = job;
	job = NULL;	/* transferred */
out:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	if (job != NULL)
		exec_free(job);
	return r;
}

void
exec_signal(struct exec_job *job, int sig)
{
	if (job->pid > 0 && !job->exited)
		kill(-job->pid, sig);
}

static void
exec_destroy(struct exec_job *job)
{
	sd_event_source_disable_unref(job->child_src);
	exec_close_pipe(&job->out_src, &job->out_fd);
	exec_close_pipe(&job->err_src, &job->err_fd);
	sd_event_source_disable_unref(job->timer_src);
	sd_event_unref(job->event);
	free(job->o.out);
	free(job);
}

void
exec_free(struct exec_job *job)
{
	if (job == NULL)
		return;
	if (job->child_src != NULL && !job->exited) {
		/* Never leave a child unreaped: kill it and let its exit
		 * event free the job. */
		kill(-job->pid, SIGKILL);
		job->orphaned = true;
		return;
	}
	exec_destroy(job);
}
