/*
 * agentd-backup: one backup run, in its own process, so that libarchive,
 * zstd and libsodium never load into agentd and a crash here cannot take
 * the daemon down. agentd starts it with a socket on fd 3 and
 * CAP_DAC_READ_SEARCH, sends the job as one frame, and reads progress
 * frames and one result frame back (docs/architecture.md, "Backups").
 * Exit 0: ok, 2: partial, 1: failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "catalog.h"
#include "crypt.h"
#include "ipc.h"
#include "lock.h"
#include "log.h"
#include "retention.h"
#include "sftp_child.h"
#include "snapshot.h"
#include "sysrecord.h"
#include "target.h"
#include "target_proxy.h"
#include "xmalloc.h"

#define BK_FD		3
#define BK_JOB_MAX	(256 * 1024)	/* the job frame, bytes */
#define BK_LIST_MAX	256		/* paths, excludes, hook words */
#define BK_ERROR_MAX	512
/* Seconds between SIGTERM and SIGKILL to a timed-out hook's group. */
#define BK_HOOK_GRACE	5
/* Progress frames at most this often (usec). */
#define BK_PROGRESS_USEC 500000ULL

struct bk {
	const char	*job;
	const char	*target;
	const char	*key_file;	/* "" = not encrypted */
	const char	*lock_file;	/* the target's local flock file */
	int		 lock_wait;	/* seconds to wait for a busy target */
	json_int_t	 hook_timeout;	/* seconds a hook may run */
	int		 full;		/* a full snapshot forced */
	json_int_t	 full_every;	/* seconds */
	struct retention_policy keep;
	const char	*paths[BK_LIST_MAX], *excludes[BK_LIST_MAX];
	char		*pre[BK_LIST_MAX + 1], *post[BK_LIST_MAX + 1];
	size_t		 npaths, nexcludes;
	int		 one_file_system, compression;
	json_t		*sftp;		/* the sftp settings; NULL if none */
	uint64_t	 started, last_progress, last_bytes;
	char		 error[BK_ERROR_MAX];
};

static uint64_t
bk_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Writes one frame (4-byte big-endian length, JSON). agentd gone: exit. */
static void
bk_send(json_t *o)
{
	int	 r;

	if ((r = ipc_write(BK_FD, o)) != 0)
		fatalx("write to agentd: %s", strerror(-r));
}

/* A JSON array of at most max strings into out (borrowed). -1 if not. */
static int
bk_strings(json_t *a, const char **out, size_t max, size_t *n)
{
	json_t *v;
	size_t i;

	if (!json_is_array(a) || json_array_size(a) > max)
		return -1;
	json_array_foreach(a, i, v) {
		if ((out[i] = json_string_value(v)) == NULL || *out[i] == '\0')
			return -1;
	}
	*n = json_array_size(a);
	return 0;
}

/* Reads and checks the job frame; its strings live as long as *root. */
static void
bk_read_job(struct bk *b, json_t **root)
{
	json_t *o, *paths, *excl, *pre, *post, *sftp = NULL;
	json_error_t jerr;
	const char *t, *hook[BK_LIST_MAX];
	json_int_t keep[4];
	size_t n;
	int r;

	if ((r = ipc_read(BK_FD, BK_JOB_MAX, &o)) != 0)
		fatalx("no job from agentd: %s", strerror(-r));
	jerr.text[0] = '\0';
	/* Nineteen pairs and an optional one: t, job, paths, excludes,
	 * one_file_system, target, compression, key_file, pre_hook,
	 * post_hook, hook_timeout, lock_file, lock_wait, full, full_every,
	 * keep_last, keep_daily, keep_weekly, keep_monthly, sftp. */
	if (json_unpack_ex(o, &jerr, JSON_STRICT,
	    "{s:s, s:s, s:o, s:o, s:b, s:s, s:i, s:s, s:o, s:o, s:I, s:s, "
	    "s:i, s:b, s:I, s:I, s:I, s:I, s:I, s?o}",
	    "t", &t, "job", &b->job, "paths", &paths, "excludes", &excl,
	    "one_file_system", &b->one_file_system, "target", &b->target,
	    "compression", &b->compression, "key_file", &b->key_file,
	    "pre_hook", &pre, "post_hook", &post,
	    "hook_timeout", &b->hook_timeout,
	    "lock_file", &b->lock_file, "lock_wait", &b->lock_wait,
	    "full", &b->full,
	    "full_every", &b->full_every, "keep_last", &keep[0],
	    "keep_daily", &keep[1], "keep_weekly", &keep[2],
	    "keep_monthly", &keep[3], "sftp", &sftp) < 0 ||
	    strcmp(t, "job") != 0 || b->lock_file[0] != '/' ||
	    b->lock_wait < 0 || b->lock_wait > 86400 ||
	    b->hook_timeout < 1 || b->hook_timeout > 86400 ||
	    b->full_every < 0 || b->full_every > INT32_MAX ||
	    keep[0] < 0 || keep[0] > UINT32_MAX / 2 ||
	    keep[1] < 0 || keep[1] > UINT32_MAX / 2 ||
	    keep[2] < 0 || keep[2] > UINT32_MAX / 2 ||
	    keep[3] < 0 || keep[3] > UINT32_MAX / 2 ||
	    bk_strings(paths, b->paths, BK_LIST_MAX, &b->npaths) < 0 ||
	    b->npaths == 0 ||
	    bk_strings(excl, b->excludes, BK_LIST_MAX, &b->nexcludes) < 0 ||
	    b->compression < 1 || b->compression > 19)
		fatalx("malformed job frame: %s",
		    jerr.text[0] != '\0' ? jerr.text : "bad member");
	b->keep.keep_last = (unsigned)keep[0];
	b->keep.keep_daily = (unsigned)keep[1];
	b->keep.keep_weekly = (unsigned)keep[2];
	b->keep.keep_monthly = (unsigned)keep[3];
	if (bk_strings(pre, hook, BK_LIST_MAX, &n) < 0)
		fatalx("malformed job frame: pre_hook");
	for (size_t i = 0; i < n; i++)
		b->pre[i] = (char *)hook[i];
	if (bk_strings(post, hook, BK_LIST_MAX, &n) < 0)
		fatalx("malformed job frame: post_hook");
	for (size_t i = 0; i < n; i++)
		b->post[i] = (char *)hook[i];
	b->sftp = sftp;
	*root = o;
}

/* The running hook's process group, for bk_on_term; 0 when none. */
static volatile sig_atomic_t bk_hook_pgid;

/* agentd stops us (its own stop, or a run it gives up on): a hook running
 * in its own group would be left behind, so it is told first. Only
 * async-signal-safe calls. */
static void
bk_on_term(int sig)
{
	pid_t pgid = (pid_t)bk_hook_pgid;

	if (pgid > 0)
		kill(-pgid, SIGTERM);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * Waits up to usec for child pid to end, without reaping it: while it is
 * a zombie its pid, which is also its process group's id, cannot be
 * reused, so the group can still be signalled safely. 1 when it ended,
 * 0 when the time ran out, -errno. SIGCHLD is blocked by the caller.
 */
static int
bk_wait_for(pid_t pid, uint64_t usec)
{
	uint64_t until = bk_now() + usec, now;
	struct timespec ts;
	siginfo_t si;
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG |
		    WNOWAIT) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (si.si_pid == pid)
			return 1;
		if ((now = bk_now()) >= until)
			return 0;
		ts.tv_sec = (time_t)((until - now) / 1000000);
		ts.tv_nsec = (long)((until - now) % 1000000) * 1000;
		/* Any SIGCHLD (the SFTP child's too) only wakes us to look. */
		(void)sigtimedwait(&chld, NULL, &ts);
	}
}

/*
 * Runs a hook without a shell, stdin /dev/null, output to our stderr, in a
 * process group of its own. One that runs longer than hook_timeout has
 * its whole group sent SIGTERM, then SIGKILL after BK_HOOK_GRACE seconds:
 * a hung dump command must not hold the run (and the target's lock)
 * forever, nor leave its children behind. 0 when it exited 0; else -1
 * with the reason in b->error.
 */
static int
bk_hook(struct bk *b, const char *which, char **argv)
{
	sigset_t chld, old;
	pid_t pid;
	int status, fd, r, timed_out = 0;

	if (argv[0] == NULL)
		return 0;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);
	if ((pid = fork()) < 0) {
		snprintf(b->error, sizeof(b->error), "%s: fork: %s", which,
		    strerror(errno));
		sigprocmask(SIG_SETMASK, &old, NULL);
		return -1;
	}
	if (pid == 0) {
		static char *const envp[] = {
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
			    "/usr/bin:/sbin:/bin",
			"LC_ALL=C", NULL };

		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		if ((fd = open("/dev/null", O_RDONLY)) >= 0) {
			dup2(fd, 0);
			if (fd > 0)
				close(fd);
		}
		close(BK_FD);
		if (chdir("/") < 0)
			_exit(127);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	/* Both sides set the group: a kill right after fork finds it. */
	setpgid(pid, pid);
	bk_hook_pgid = pid;
	r = bk_wait_for(pid, (uint64_t)b->hook_timeout * 1000000);
	if (r == 0) {
		timed_out = 1;
		log_warnx("backup %s: %s %s still running after %lld s; "
		    "stopping its process group", b->job, which, argv[0],
		    (long long)b->hook_timeout);
		kill(-pid, SIGTERM);
		r = bk_wait_for(pid, BK_HOOK_GRACE * 1000000ULL);
	}
	/* What is left of a timed-out hook's group (the leader gone on
	 * SIGTERM or not) gets SIGKILL; the unreaped leader keeps the
	 * group's id ours until then. */
	if (timed_out)
		kill(-pid, SIGKILL);
	/* Before the leader is reaped: then its id may be reused. */
	bk_hook_pgid = 0;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			snprintf(b->error, sizeof(b->error), "%s: waitpid: %s",
			    which, strerror(errno));
			sigprocmask(SIG_SETMASK, &old, NULL);
			return -1;
		}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (timed_out) {
		snprintf(b->error, sizeof(b->error), "%s timed out after %lld "
		    "s: %s (its process group killed)", which,
		    (long long)b->hook_timeout, argv[0]);
		return -1;
	}
	if (r < 0) {
		snprintf(b->error, sizeof(b->error), "%s: waitid: %s", which,
		    strerror(-r));
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		snprintf(b->error, sizeof(b->error), "%s %s exited with status "
		    "%d", which, argv[0], WEXITSTATUS(status));
	else
		snprintf(b->error, sizeof(b->error), "%s %s was killed by "
		    "signal %d", which, argv[0], WTERMSIG(status));
	return -1;
}

/*
 * An sftp:// target: the network side is a child forked before anything is
 * read, with no capability, that serves target_sftp_ops over a socketpair;
 * this process talks to it through target_proxy_ops and sends it only
 * names and encrypted bytes (sftp_child.c, docs/architecture.md).
 */
static int
bk_sftp_child(struct bk *b)
{
	struct sftp_conf c = { 0 };
	json_int_t bw = 0, timeout = 30;
	json_error_t jerr;

	/* Four pairs: host_key, key_file, bandwidth_limit, timeout. */
	if (json_unpack_ex(b->sftp, &jerr, JSON_STRICT,
	    "{s:s, s:s, s:I, s:I}", "host_key", &c.host_key,
	    "key_file", &c.key_file, "bandwidth_limit", &bw,
	    "timeout", &timeout) < 0)
		fatalx("malformed job frame: sftp: %s", jerr.text);
	if (bw < 0 || timeout < 1 || timeout > 3600)
		fatalx("malformed job frame: sftp: a value out of range");
	c.bandwidth = (unsigned long long)bw;
	c.timeout = (unsigned)timeout;
	/* agentd hears from the reader only: the child closes BK_FD. */
	return sftp_child_start(&c, BK_FD, NULL, 0, b->error,
	    sizeof(b->error));
}

/* The job's key, made at the first run (docs/agentd.conf.example). */
static int
bk_key(struct bk *b, uint8_t key[CRYPT_KEYBYTES])
{
	char *dir, *slash;
	int r;

	if ((r = crypt_key_load(b->key_file, key)) != -ENOENT)
		goto out;
	dir = xstrdup(b->key_file);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			r = -errno;
			free(dir);
			goto out;
		}
	}
	free(dir);
	if ((r = crypt_key_generate(key)) == 0 &&
	    (r = crypt_key_save(b->key_file, key)) == 0)
		log_info("backup %s: new encryption key in %s", b->job,
		    b->key_file);
out:
	if (r < 0)
		snprintf(b->error, sizeof(b->error), "key file %s: %s",
		    b->key_file, r == -EINVAL ? "malformed" : strerror(-r));
	return r;
}

static void
bk_progress(const struct snapshot_stats *st, void *arg)
{
	struct bk *b = arg;
	uint64_t now = bk_now(), dt = now - b->last_progress;
	json_int_t rate;

	if (dt < BK_PROGRESS_USEC)
		return;
	rate = (json_int_t)((st->bytes - b->last_bytes) * 1000000 / dt);
	b->last_progress = now;
	b->last_bytes = st->bytes;
	/* Four pairs: t, files, bytes, rate. */
	bk_send(json_pack("{s:s, s:I, s:I, s:I}", "t", "progress",
	    "files", (json_int_t)st->files, "bytes", (json_int_t)st->bytes,
	    "rate", rate));
}

/* mkdir -p of the lock file's directory, one level (state_dir exists). */
static int
bk_mkdir_for(const char *file)
{
	char *dir = xstrdup(file), *slash;
	int r = 0;

	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			r = -errno;
	}
	free(dir);
	return r;
}

/*
 * Takes the target's lock; a scheduled run (lock_wait > 0) whose target
 * another run holds tries again every second for up to lock_wait seconds
 * (jobs sharing a target take turns), one asked for now fails at once.
 */
static int
bk_lock(struct bk *b, struct target *t, struct backup_lock **lk,
    struct lock_info *holder)
{
	uint64_t until = bk_now() + (uint64_t)b->lock_wait * 1000000;
	int r, told = 0;

	while ((r = lock_acquire(t, b->lock_file, b->job, lk, holder)) ==
	    -EBUSY && bk_now() < until) {
		if (!told++)
			log_info("backup %s: target busy (another run holds "
			    "the lock); waiting up to %d s", b->job,
			    b->lock_wait);
		sleep(1);
	}
	return r;
}

/*
 * Retention after an ok run, under the run's lock: the catalog anew (the
 * new snapshot in it), the plan, and what it forgets removed. The count
 * forgotten, or -errno with the reason in b->error.
 */
static int
bk_forget(struct bk *b, struct target *t, const uint8_t *key)
{
	struct catalog c;
	unsigned *keep = NULL;
	char why[64];
	size_t i;
	int r, n = 0;

	if ((r = catalog_load(t, key, b->job, &c)) != 0) {
		snprintf(b->error, sizeof(b->error), "retention: cannot list "
		    "the target: %s", strerror(-r));
		return r;
	}
	keep = xcalloc(c.n + 1, sizeof(*keep));
	retention_plan(&c, &b->keep, keep);
	for (i = 0; i < c.n; i++)
		if (keep[i] == 0) {
			n++;
			log_info("backup %s: forgetting %s", b->job,
			    c.entries[i].id);
		} else
			log_debug("backup %s: keeping %s (%s)", b->job,
			    c.entries[i].id, retention_reasons(keep[i], why,
			    sizeof(why)));
	if (n > 0 && (r = retention_apply(t, &c, keep, key != NULL)) != 0) {
		snprintf(b->error, sizeof(b->error), "retention: %s",
		    strerror(-r));
		n = r;
	}
	free(keep);
	catalog_free(&c);
	return n;
}

int
main(int argc, char **argv)
{
	struct bk b = { 0 };
	struct snapshot_stats st = { 0 };
	struct snapshot_opts o = { 0 };
	struct target *t = NULL;
	struct backup_lock *lk = NULL;
	struct lock_info holder;
	struct catalog c = { 0 };
	uint8_t key[CRYPT_KEYBYTES];
	const char *status = "failed";
	json_t *job = NULL;
	char saved[BK_ERROR_MAX], hook_err[BK_ERROR_MAX];
	char parent[MANIFEST_ID_MAX] = "";
	int64_t newest;
	int r, encrypted, full = 1, forgotten = 0;

	(void)argv;
	log_init("agentd-backup", argc > 1 ? LOG_TARGET_STDERR :
	    LOG_TARGET_AUTO, 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, bk_on_term);
	bk_read_job(&b, &job);
	b.started = bk_now();
	/* The first entry is shown at once: the files so far, rate 0. */
	b.last_progress = b.started - BK_PROGRESS_USEC;
	encrypted = b.key_file[0] != '\0';

	if (b.sftp != NULL && bk_sftp_child(&b) < 0)
		goto done;
	if ((r = target_open(b.target, &t)) < 0) {
		snprintf(b.error, sizeof(b.error), "target %s: %s", b.target,
		    b.sftp != NULL && target_proxy_error()[0] != '\0' ?
		    target_proxy_error() : strerror(-r));
		goto done;
	}
	/* The lock before the hooks: a busy target runs no pre_hook. It
	 * also removes what interrupted runs left (lock.h). */
	if ((r = bk_mkdir_for(b.lock_file)) == 0)
		r = bk_lock(&b, t, &lk, &holder);
	if (r < 0) {
		if (r == -EBUSY && holder.pid != 0)
			snprintf(b.error, sizeof(b.error), "target busy "
			    "(another run holds the lock: pid %ld on %.200s, "
			    "job %.64s)", holder.pid, holder.host,
			    holder.job[0] != '\0' ? holder.job : "-");
		else if (r == -EBUSY)
			snprintf(b.error, sizeof(b.error), "target busy "
			    "(another run holds the lock)");
		else
			/* The lock object is written to the target: a full
			 * one fails here first. */
			snprintf(b.error, sizeof(b.error), "cannot lock the "
			    "target %s (local lock file %s): %s", b.target,
			    b.lock_file, strerror(-r));
		goto done;
	}
	if (bk_hook(&b, "pre_hook", b.pre) < 0)
		goto done;
	if (encrypted && bk_key(&b, key) < 0)
		goto post;
	/* Full or incremental: forced, or as full_every and the chain say;
	 * an incremental's parent is the job's newest snapshot. */
	if ((r = catalog_load(t, encrypted ? key : NULL, b.job, &c)) < 0) {
		snprintf(b.error, sizeof(b.error), "cannot list the target: "
		    "%s", strerror(-r));
		goto post;
	}
	if (!b.full && !retention_needs_full(&c, (int64_t)b.full_every,
	    (int64_t)time(NULL))) {
		full = 0;
		snprintf(parent, sizeof(parent), "%s", catalog_latest(&c)->id);
	}
	/* Ids carry the start second and then random bytes: a snapshot
	 * started in the same second as the job's newest could sort before
	 * it and the next run would take the older one for the newest. So
	 * start in a later second (bounded: a clock stepped back gets two
	 * seconds, not a hang). */
	newest = catalog_latest(&c) != NULL ? catalog_latest(&c)->started : 0;
	for (int i = 0; i < 3 && (int64_t)time(NULL) <= newest; i++)
		sleep(1);
	catalog_free(&c);
	o.paths = b.paths;
	o.npaths = b.npaths;
	o.excludes = b.excludes;
	o.nexcludes = b.nexcludes;
	o.one_file_system = b.one_file_system;
	o.compression = b.compression;
	o.key = encrypted ? key : NULL;
	o.parent = full ? NULL : parent;
	o.job = b.job;
	o.progress = bk_progress;
	o.progress_arg = &b;
	if ((r = snapshot_create(t, &o, &st)) < 0) {
		/* A full or read-only target is the target's fault, not the
		 * files': say which one (jobs may have several). */
		if (r == -ENOSPC || r == -EDQUOT || r == -EROFS ||
		    r == -EFBIG)
			snprintf(b.error, sizeof(b.error), "no snapshot made: "
			    "target %s: %s", b.target, strerror(-r));
		else
			snprintf(b.error, sizeof(b.error), "no snapshot made: "
			    "%s", strerror(-r));
		st.id[0] = '\0';
		goto post;
	}
	if (st.partial) {
		/* No retention after a partial run: it would count towards
		 * keep_last and could push out the last whole snapshot. */
		status = "partial";
		snprintf(b.error, sizeof(b.error), "%llu unreadable (see the "
		    "log)", (unsigned long long)st.unreadable);
	} else {
		status = "ok";
	}
	/* The package selection and disk layout, for a DR restore; a host
	 * that cannot give them is no reason to fail the snapshot. */
	if ((r = sysrecord_write(t, st.id, o.key)) < 0)
		log_warnx("backup %s: system records: %s", b.job,
		    strerror(-r));
	/* A failed forget leaves the snapshot ok; it is told. */
	if (strcmp(status, "ok") == 0 &&
	    (r = bk_forget(&b, t, encrypted ? key : NULL)) > 0)
		forgotten = r;
post:
	/* A failing post_hook is told, after any earlier error; the
	 * snapshot it follows stands. */
	memcpy(saved, b.error, sizeof(saved));
	if (bk_hook(&b, "post_hook", b.post) < 0 && saved[0] != '\0') {
		memcpy(hook_err, b.error, sizeof(hook_err));
		snprintf(b.error, sizeof(b.error), "%.250s; %.250s", saved,
		    hook_err);
	}
done:
	lock_release(lk);
	target_close(t);
	sftp_child_stop();
	explicit_bzero(key, sizeof(key));
	/* Eleven pairs: t, snapshot, status, kind, parent, files, bytes,
	 * stored_bytes, forgotten, duration, error. */
	bk_send(json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, "
	    "s:f, s:s}", "t", "result", "snapshot", st.id, "status", status,
	    "kind", full ? "full" : "incremental", "parent", parent,
	    "files", (json_int_t)st.files, "bytes", (json_int_t)st.bytes,
	    "stored_bytes", (json_int_t)st.stored_bytes,
	    "forgotten", (json_int_t)forgotten,
	    "duration", (double)(bk_now() - b.started) / 1e6,
	    "error", b.error));
	json_decref(job);
	return strcmp(status, "ok") == 0 ? 0 :
	    strcmp(status, "partial") == 0 ? 2 : 1;
}
