/*
 * Run locks on a target (lock.h). The flock makes runs on one host take
 * turns, so that only one of them at a time judges and removes a stale
 * lock object: two runs cannot both remove a dead run's lock and then
 * one the other's fresh one.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>

#include "lock.h"
#include "log.h"
#include "snapshot.h"
#include "xmalloc.h"

#define LOCK_HEADER	"agentd-backup-lock 1"
#define ESC_MAX		1024

struct backup_lock {
	struct target	*t;
	int		 fd;
};

/* The start time of pid in clock ticks after boot (/proc/PID/stat field
 * 22), 0 when the process does not exist. */
static uint64_t
proc_start(long pid)
{
	char	 path[64], buf[1024], *p;
	ssize_t	 n;
	int	 fd, field;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The name in parentheses may hold anything: count from the last
	 * ')', which is field 2. */
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	for (field = 2; field < 22 && p != NULL; field++)
		if ((p = strchr(p + 1, ' ')) != NULL)
			p++;
	return p != NULL ? strtoull(p, NULL, 10) : 0;
}

static int
read_line_file(const char *path, char *buf, size_t len)
{
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* Host names and boot ids are written as they are: only these bytes. */
static int
word_valid(const char *s, size_t len, size_t max)
{
	size_t	 i;

	if (len == 0 || len >= max)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return 0;
	return 1;
}

int
lock_self(struct lock_info *li, const char *job)
{
	int	 r;

	memset(li, 0, sizeof(*li));
	if (gethostname(li->host, sizeof(li->host) - 1) == -1)
		return -errno;
	if (!word_valid(li->host, strlen(li->host), sizeof(li->host)))
		snprintf(li->host, sizeof(li->host), "unnamed");
	if ((r = read_line_file("/proc/sys/kernel/random/boot_id", li->boot,
	    sizeof(li->boot))) != 0)
		return r;
	if (!word_valid(li->boot, strlen(li->boot), sizeof(li->boot)))
		return -EIO;
	li->pid = (long)getpid();
	li->pstart = proc_start(li->pid);
	li->started = (int64_t)time(NULL);
	if (job != NULL) {
		if (!manifest_name_valid(job, strlen(job)))
			return -EINVAL;
		snprintf(li->job, sizeof(li->job), "%s", job);
	}
	return 0;
}

int
lock_format(const struct lock_info *li, char *buf, size_t len)
{
	int	 n;

	n = snprintf(buf, len, LOCK_HEADER "\nhost %s\nboot %s\npid %ld\n"
	    "pstart %" PRIu64 "\nstarted %" PRId64 "\njob %s\n", li->host,
	    li->boot, li->pid, li->pstart, li->started,
	    li->job[0] ? li->job : "-");
	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

/* "KEY VALUE\n" at *s: the value's bounds, *s moved past the line. */
static int
take_line(const char **s, const char *end, const char *key, const char **v,
    size_t *vlen)
{
	const char *nl;
	size_t	 k = strlen(key);

	if ((nl = memchr(*s, '\n', (size_t)(end - *s))) == NULL ||
	    (size_t)(nl - *s) <= k + 1 || memcmp(*s, key, k) != 0 ||
	    (*s)[k] != ' ')
		return -1;
	*v = *s + k + 1;
	*vlen = (size_t)(nl - *v);
	*s = nl + 1;
	return 0;
}

static int
take_u64(const char **s, const char *end, const char *key, uint64_t max,
    uint64_t *out)
{
	const char *v;
	size_t	 n, i;
	uint64_t x = 0;

	if (take_line(s, end, key, &v, &n) != 0 || n > 19)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (x > max)
		return -1;
	*out = x;
	return 0;
}

int
lock_parse(struct lock_info *li, const char *buf, size_t len)
{
	const char *s = buf, *end = buf + len, *v;
	size_t	 n, h = strlen(LOCK_HEADER);
	uint64_t x;

	memset(li, 0, sizeof(*li));
	if (len > LOCK_MAX || len < h + 1 || memcmp(s, LOCK_HEADER, h) != 0 ||
	    s[h] != '\n')
		goto bad;
	s += h + 1;
	if (take_line(&s, end, "host", &v, &n) != 0 ||
	    !word_valid(v, n, sizeof(li->host)))
		goto bad;
	memcpy(li->host, v, n);
	if (take_line(&s, end, "boot", &v, &n) != 0 ||
	    !word_valid(v, n, sizeof(li->boot)))
		goto bad;
	memcpy(li->boot, v, n);
	if (take_u64(&s, end, "pid", INT32_MAX, &x) != 0 || x == 0)
		goto bad;
	li->pid = (long)x;
	if (take_u64(&s, end, "pstart", UINT64_MAX / 10, &li->pstart) != 0 ||
	    take_u64(&s, end, "started", INT64_MAX / 10, &x) != 0)
		goto bad;
	li->started = (int64_t)x;
	if (take_line(&s, end, "job", &v, &n) != 0)
		goto bad;
	if (!(n == 1 && v[0] == '-')) {
		if (!manifest_name_valid(v, n))
			goto bad;
		memcpy(li->job, v, n);
	}
	if (s != end)
		goto bad;
	return 0;
 bad:
	memset(li, 0, sizeof(*li));
	return -EBADMSG;
}

int
lock_stale(const struct lock_info *holder, const struct lock_info *self)
{
	uint64_t start;

	if (strcmp(holder->host, self->host) != 0)
		return 0;
	if (strcmp(holder->boot, self->boot) != 0)
		return 1;	/* rebooted since: nothing of it runs */
	if (kill((pid_t)holder->pid, 0) == -1 && errno == ESRCH)
		return 1;
	/* The pid is taken: by the same process, or a new one? */
	start = proc_start(holder->pid);
	return start != 0 && start != holder->pstart;
}

/* Reads the lock object into *li: 0, -ENOENT, -EBADMSG. */
static int
lock_read(struct target *t, struct lock_info *li)
{
	struct target_get *g;
	char	 buf[LOCK_MAX + 1];
	size_t	 len = 0;
	ssize_t	 n;
	int	 r;

	if ((r = target_get_open(t, LOCK_OBJECT, &g)) != 0)
		return r;
	while (len < sizeof(buf) &&
	    (n = target_get_read(g, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	target_get_close(g);
	return lock_parse(li, buf, len);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
lock_clean(struct target *t)
{
	char	**names = NULL, want[TARGET_NAME_MAX + 1];
	const char *key;
	size_t	 n = 0, i, k, base;
	int	 r, count, enc;

	if ((count = target_clean(t)) < 0)
		return count;
	if ((r = target_list(t, &names, &n)) != 0)
		return r;
	/* An archive whose manifest never came: the run stopped between
	 * the two commits. names is sorted; look the manifest up. */
	for (i = 0; i < n; i++) {
		k = strlen(names[i]);
		enc = k > 12 && strcmp(names[i] + k - 12, ".tar.zst.enc") == 0;
		if (!enc && !(k > 8 && strcmp(names[i] + k - 8, ".tar.zst") == 0))
			continue;
		base = k - (enc ? 12 : 8);
		snprintf(want, sizeof(want), "%.*s.manifest%s", (int)base,
		    names[i], enc ? ".enc" : "");
		key = want;
		if (bsearch(&key, names, n, sizeof(*names), name_cmp) != NULL)
			continue;
		if ((r = target_remove(t, names[i])) == 0) {
			log_info("%s: removed, a leftover of an interrupted run",
			    names[i]);
			count++;
		}
	}
	target_list_free(names, n);
	return count;
}

int
lock_acquire(struct target *t, const char *local, const char *job,
    struct backup_lock **out, struct lock_info *holder)
{
	struct lock_info self, other;
	struct target_put *p = NULL;
	char	 text[LOCK_MAX], eb[ESC_MAX];
	int	 fd = -1, r, len, tries, cleaned;

	*out = NULL;
	if (holder != NULL)
		memset(holder, 0, sizeof(*holder));
	if ((r = lock_self(&self, job)) != 0)
		return r;
	if ((len = lock_format(&self, text, sizeof(text))) < 0)
		return len;
	if ((fd = open(local, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1) {
		r = -errno;
		log_warn("%s", log_escape(eb, sizeof(eb), local));
		return r;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto out;
	}
	/* Bounded: each round either takes the lock, or finds a live
	 * holder, or removes a stale lock that only this host judges. */
	for (tries = 0; tries < 3; tries++) {
		if ((r = target_put_begin(t, LOCK_OBJECT, &p)) != 0 ||
		    (r = target_put_write(p, text, (size_t)len)) != 0)
			goto out;
		r = target_put_commit_new(p);
		p = NULL;
		if (r != -EEXIST)
			break;
		if ((r = lock_read(t, &other)) == -ENOENT)
			continue;	/* released meanwhile */
		if (r != 0) {
			log_warnx("%s: not a lock object; remove it by hand "
			    "if no run is going on", LOCK_OBJECT);
			goto out;
		}
		if (!lock_stale(&other, &self)) {
			if (holder != NULL)
				*holder = other;
			r = -EBUSY;
			goto out;
		}
		log_info("removing the stale lock of pid %ld on %s (boot %s), "
		    "started %" PRId64, other.pid, other.host, other.boot,
		    other.started);
		if ((r = target_remove(t, LOCK_OBJECT)) != 0 && r != -ENOENT)
			goto out;
	}
	if (r == -EEXIST)
		r = -EBUSY;
	if (r != 0)
		goto out;
	if ((cleaned = lock_clean(t)) < 0)
		log_warnx("cleaning leftovers: %s", strerror(-cleaned));
	*out = xcalloc(1, sizeof(**out));
	(*out)->t = t;
	(*out)->fd = fd;
	fd = -1;	/* transferred */
	r = 0;
 out:
	if (p != NULL)
		target_put_abort(p);
	if (fd != -1)
		close(fd);
	return r;
}

void
lock_release(struct backup_lock *l)
{
	int	 r;

	if (l == NULL)
		return;
	if ((r = target_remove(l->t, LOCK_OBJECT)) != 0)
		log_warnx("%s: cannot remove: %s", LOCK_OBJECT, strerror(-r));
	close(l->fd);	/* drops the flock */
	free(l);
}
