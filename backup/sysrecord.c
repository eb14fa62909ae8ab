/*
 * System records beside a snapshot: what a DR restore needs to rebuild the
 * machine around the files (the package selection, the disk layout). The
 * programs run without a shell, with a bounded output and time.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypt.h"
#include "log.h"
#include "sysrecord.h"
#include "xmalloc.h"

const char *const sysrecord_names[] = { "packages", "disks", "fstab" };
const size_t sysrecord_count = sizeof(sysrecord_names) /
    sizeof(sysrecord_names[0]);

struct sysrec_cmd {
	const char	*rec;
	const char	*argv[4];
};

/* Tried in order; the first program that exists gives the record. */
static const struct sysrec_cmd sysrec_cmds[] = {
	{ "packages", { "/usr/bin/dpkg", "--get-selections", NULL } },
	{ "packages", { "/bin/dpkg", "--get-selections", NULL } },
	{ "packages", { "/usr/bin/rpm", "-qa", NULL } },
	{ "packages", { "/bin/rpm", "-qa", NULL } },
	{ "disks", { "/usr/bin/lsblk", "-J", "-O", NULL } },
	{ "disks", { "/bin/lsblk", "-J", "-O", NULL } },
};

void
sysrecord_object_name(char *buf, size_t len, const char *id, const char *rec,
    int encrypted)
{
	snprintf(buf, len, "%s.sys-%s%s", id, rec, encrypted ? ".enc" : "");
}

static long long
sysrec_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs argv (no shell, stdin and stderr /dev/null) and collects its
 * output. 0, or -1 with the reason logged. */
static int
sysrec_run(const char *const *argv, char **out, size_t *outlen)
{
	static char *const envp[] = {
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };
	struct pollfd pfd;
	long long deadline = sysrec_ms() + SYSRECORD_SECONDS * 1000LL;
	char	*buf = NULL;
	size_t	 len = 0, cap = 0;
	ssize_t	 n;
	pid_t	 pid;
	int	 p[2], fd, status, r = -1, tms;

	*out = NULL;
	*outlen = 0;
	if (pipe2(p, O_CLOEXEC) < 0) {
		log_warn("%s: pipe", argv[0]);
		return -1;
	}
	if ((pid = fork()) < 0) {
		log_warn("%s: fork", argv[0]);
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		if ((fd = open("/dev/null", O_RDWR)) >= 0) {
			dup2(fd, 0);
			dup2(fd, 2);
		}
		dup2(p[1], 1);
		closefrom(3);
		if (chdir("/") < 0)
			_exit(127);
		execve(argv[0], (char *const *)argv, envp);
		_exit(127);
	}
	close(p[1]);
	pfd.fd = p[0];
	pfd.events = POLLIN;
	for (;;) {
		if ((tms = (int)(deadline - sysrec_ms())) <= 0) {
			log_warnx("%s: still running after %d s, stopped",
			    argv[0], SYSRECORD_SECONDS);
			goto kill;
		}
		if (poll(&pfd, 1, tms) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("%s: poll", argv[0]);
			goto kill;
		}
		if (len == cap) {
			if (cap >= SYSRECORD_MAX) {
				log_warnx("%s: more than %lu bytes of output",
				    argv[0], SYSRECORD_MAX);
				goto kill;
			}
			cap = cap == 0 ? 65536 : cap * 2;
			buf = xreallocarray(buf, cap + 1, 1);
		}
		if ((n = read(p[0], buf + len, cap - len)) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_warn("%s: read", argv[0]);
			goto kill;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	r = 0;
	goto reap;
kill:
	kill(pid, SIGKILL);
reap:
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		log_warnx("%s: %s %d", argv[0], WIFEXITED(status) ?
		    "exited with status" : "killed by signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) :
		    WTERMSIG(status));
		r = -1;
	}
	if (r == 0) {
		if (buf == NULL)
			buf = xcalloc(1, 1);
		buf[len] = '\0';
		*out = buf;
		*outlen = len;
		buf = NULL;	/* transferred */
	}
	free(buf);
	return r;
}

/* A regular file of at most SYSRECORD_MAX bytes. 0, -ENOENT, or -1. */
static int
sysrec_file(const char *path, char **out, size_t *outlen)
{
	char	*buf = NULL;
	size_t	 len = 0;
	ssize_t	 n;
	int	 fd, r = -1;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		log_warn("%s", path);
		return -1;
	}
	buf = xcalloc(1, SYSRECORD_MAX + 1);
	while ((n = read(fd, buf + len, SYSRECORD_MAX + 1 - len)) > 0)
		if ((len += (size_t)n) > SYSRECORD_MAX)
			break;
	if (n < 0)
		log_warn("%s", path);
	else if (len > SYSRECORD_MAX)
		log_warnx("%s: larger than %lu bytes", path, SYSRECORD_MAX);
	else {
		buf[len] = '\0';
		*out = buf;
		*outlen = len;
		buf = NULL;	/* transferred */
		r = 0;
	}
	close(fd);
	free(buf);
	return r;
}

static int
sysrec_sink(void *arg, const void *buf, size_t len)
{
	return target_put_write(arg, buf, len);
}

static int
sysrec_put(struct target *t, const char *id, const char *rec,
    const uint8_t *key, const char *data, size_t len)
{
	char	 name[TARGET_NAME_MAX + 1];
	struct target_put *p = NULL;
	struct crypt_writer *cw = NULL;
	int	 r;

	sysrecord_object_name(name, sizeof(name), id, rec, key != NULL);
	if ((r = target_put_begin(t, name, &p)) != 0)
		goto out;
	if (key != NULL) {
		if ((r = crypt_writer_new(&cw, key, name, sysrec_sink,
		    p)) != 0 ||
		    (r = crypt_writer_write(cw, data, len)) != 0 ||
		    (r = crypt_writer_finish(cw)) != 0)
			goto out;
	} else if ((r = target_put_write(p, data, len)) != 0)
		goto out;
	r = target_put_commit(p);
	p = NULL;	/* committed or aborted by the commit */
out:
	crypt_writer_free(cw);
	if (p != NULL)
		target_put_abort(p);
	if (r != 0)
		log_warnx("%s: %s", name, strerror(-r));
	return r;
}

int
sysrecord_write(struct target *t, const char *id, const uint8_t *key)
{
	char	*data;
	size_t	 i, len;
	int	 r, n = 0, have_pkg = 0, have_disks = 0;

	for (i = 0; i < sizeof(sysrec_cmds) / sizeof(sysrec_cmds[0]); i++) {
		const struct sysrec_cmd *c = &sysrec_cmds[i];
		int pkg = strcmp(c->rec, "packages") == 0;

		if ((pkg && have_pkg) || (!pkg && have_disks) ||
		    access(c->argv[0], X_OK) != 0)
			continue;
		if (pkg)
			have_pkg = 1;
		else
			have_disks = 1;
		if (sysrec_run(c->argv, &data, &len) != 0)
			continue;
		r = sysrec_put(t, id, c->rec, key, data, len);
		free(data);
		if (r != 0)
			return r;
		n++;
	}
	if (sysrec_file("/etc/fstab", &data, &len) == 0) {
		r = sysrec_put(t, id, "fstab", key, data, len);
		free(data);
		if (r != 0)
			return r;
		n++;
	}
	return n;
}

int
sysrecord_remove(struct target *t, const char *id, int encrypted)
{
	char	 name[TARGET_NAME_MAX + 1];
	size_t	 i;
	int	 r, rv = 0;

	for (i = 0; i < sysrecord_count; i++) {
		sysrecord_object_name(name, sizeof(name), id,
		    sysrecord_names[i], encrypted);
		if ((r = target_remove(t, name)) != 0 && r != -ENOENT &&
		    rv == 0)
			rv = r;
	}
	return rv;
}

static ssize_t
sysrec_source(void *arg, void *buf, size_t len)
{
	return target_get_read(arg, buf, len);
}

int
sysrecord_read(struct target *t, const char *id, const char *rec,
    const uint8_t *key, char **out, size_t *outlen)
{
	char	 name[TARGET_NAME_MAX + 1], *buf = NULL;
	struct target_get *g = NULL;
	struct crypt_reader *cr = NULL;
	size_t	 len = 0;
	ssize_t	 n;
	int	 r;

	*out = NULL;
	*outlen = 0;
	sysrecord_object_name(name, sizeof(name), id, rec, key != NULL);
	if ((r = target_get_open(t, name, &g)) != 0)
		goto out;
	if (key != NULL && (r = crypt_reader_new(&cr, key, name,
	    sysrec_source, g)) != 0)
		goto out;
	buf = xcalloc(1, SYSRECORD_MAX + 1);
	for (;;) {
		n = cr != NULL ? crypt_reader_read(cr, buf + len,
		    SYSRECORD_MAX + 1 - len) :
		    target_get_read(g, buf + len, SYSRECORD_MAX + 1 - len);
		if (n < 0) {
			r = (int)n;
			goto out;
		}
		if (n == 0)
			break;
		if ((len += (size_t)n) > SYSRECORD_MAX) {
			r = -EBADMSG;
			goto out;
		}
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;	/* transferred */
	r = 0;
out:
	free(buf);
	crypt_reader_free(cr);
	target_get_close(g);
	return r;
}
