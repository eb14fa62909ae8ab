/*
 * The local directory target: objects are files in one directory, written
 * under ".tmp-NAME-PID-RANDOM", fsynced, renamed, and the directory
 * fsynced, so a crash leaves either the old state or the whole object.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sodium.h>

#include "target.h"
#include "xmalloc.h"

#define TMP_PREFIX	".tmp-"

struct file_state {
	int	 dirfd;
};

struct file_put {
	int	 dirfd, fd;
	char	*tmp, *name;
};

struct file_get {
	int	 fd;
};

static int
file_open(const char *location, void **state)
{
	struct file_state *s;
	int	 fd;

	*state = NULL;
	if (location[0] != '/')
		return -EINVAL;
	if ((fd = open(location, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -errno;
	s = xcalloc(1, sizeof(*s));
	s->dirfd = fd;
	*state = s;
	return 0;
}

static void
file_close(void *state)
{
	struct file_state *s = state;

	close(s->dirfd);
	free(s);
}

static int
file_put_begin(void *state, const char *name, void **out)
{
	struct file_state *s = state;
	struct file_put *p;
	int	 r;

	if (sodium_init() < 0)
		return -EIO;
	p = xcalloc(1, sizeof(*p));
	p->dirfd = s->dirfd;
	p->name = xstrdup(name);
	xasprintf(&p->tmp, TMP_PREFIX "%s-%ld-%08x", name, (long)getpid(),
	    randombytes_random());
	if ((p->fd = openat(s->dirfd, p->tmp, O_WRONLY | O_CREAT | O_EXCL |
	    O_CLOEXEC, 0600)) == -1) {
		r = -errno;
		free(p->tmp);
		free(p->name);
		free(p);
		return r;
	}
	*out = p;
	return 0;
}

static int
file_put_write(void *put, const void *buf, size_t len)
{
	struct file_put *p = put;
	const char *c = buf;
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(p->fd, c, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
file_put_abort(void *put)
{
	struct file_put *p = put;

	if (p->fd != -1)
		close(p->fd);
	unlinkat(p->dirfd, p->tmp, 0);
	free(p->tmp);
	free(p->name);
	free(p);
}

/* Moves the temporary to its name; with noreplace, -EEXIST when the name
 * exists (the SFTP rename of protocol 3 has the same semantics). */
static int
file_rename(struct file_put *p, int noreplace)
{
	if (!noreplace)
		return renameat(p->dirfd, p->tmp, p->dirfd, p->name) == -1 ?
		    -errno : 0;
	if (renameat2(p->dirfd, p->tmp, p->dirfd, p->name,
	    RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* A file system without RENAME_NOREPLACE: a hard link fails the
	 * same way on an existing name. */
	if (linkat(p->dirfd, p->tmp, p->dirfd, p->name, 0) == -1)
		return -errno;
	unlinkat(p->dirfd, p->tmp, 0);
	return 0;
}

static int
file_commit(void *put, int noreplace)
{
	struct file_put *p = put;
	int	 r;

	if (fsync(p->fd) == -1) {
		r = -errno;
		goto fail;
	}
	r = close(p->fd);
	p->fd = -1;
	if (r == -1) {
		r = -errno;
		goto fail;
	}
	if ((r = file_rename(p, noreplace)) != 0)
		goto fail;
	/* The rename is durable only once the directory is. */
	r = fsync(p->dirfd) == -1 ? -errno : 0;
	free(p->tmp);
	free(p->name);
	free(p);
	return r;
 fail:
	file_put_abort(p);
	return r;
}

static int
file_put_commit(void *put)
{
	return file_commit(put, 0);
}

static int
file_put_commit_new(void *put)
{
	return file_commit(put, 1);
}

static int
file_get_open(void *state, const char *name, void **out)
{
	struct file_state *s = state;
	struct file_get *g;
	int	 fd;

	if ((fd = openat(s->dirfd, name, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return -errno;
	g = xcalloc(1, sizeof(*g));
	g->fd = fd;
	*out = g;
	return 0;
}

static ssize_t
file_get_read(void *get, void *buf, size_t len)
{
	struct file_get *g = get;
	ssize_t	 n;

	while ((n = read(g->fd, buf, len)) == -1 && errno == EINTR)
		;
	return n == -1 ? -errno : n;
}

static void
file_get_close(void *get)
{
	struct file_get *g = get;

	close(g->fd);
	free(g);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in the directory: temporaries (tmp) or valid final names. */
static int
file_scan(struct file_state *s, int tmp, char ***names, size_t *n)
{
	struct dirent *d;
	DIR	*dir;
	size_t	 cap = 0;
	int	 fd;

	*names = NULL;
	*n = 0;
	if ((fd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return -errno;
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return -errno;
	}
	while ((d = readdir(dir)) != NULL) {
		if (tmp ? strncmp(d->d_name, TMP_PREFIX,
		    strlen(TMP_PREFIX)) != 0 : !target_name_valid(d->d_name))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			*names = xreallocarray(*names, cap, sizeof(char *));
		}
		(*names)[(*n)++] = xstrdup(d->d_name);
	}
	closedir(dir);
	if (*n > 0)
		qsort(*names, *n, sizeof(char *), name_cmp);
	return 0;
}

static int
file_list(void *state, char ***names, size_t *n)
{
	return file_scan(state, 0, names, n);
}

static int
file_remove(void *state, const char *name)
{
	struct file_state *s = state;

	if (unlinkat(s->dirfd, name, 0) == -1)
		return -errno;
	return fsync(s->dirfd) == -1 ? -errno : 0;
}

static int
file_clean(void *state)
{
	struct file_state *s = state;
	char	**names;
	size_t	 n, i;
	int	 r, count = 0;

	if ((r = file_scan(s, 1, &names, &n)) != 0)
		return r;
	for (i = 0; i < n; i++)
		if (unlinkat(s->dirfd, names[i], 0) == 0)
			count++;
	target_list_free(names, n);
	if (count > 0)
		fsync(s->dirfd);
	return count;
}

const struct target_ops target_file_ops = {
	.scheme = "file",
	.open = file_open,
	.close = file_close,
	.put_begin = file_put_begin,
	.put_write = file_put_write,
	.put_commit = file_put_commit,
	.put_commit_new = file_put_commit_new,
	.put_abort = file_put_abort,
	.get_open = file_get_open,
	.get_read = file_get_read,
	.get_close = file_get_close,
	.list = file_list,
	.remove = file_remove,
	.clean = file_clean,
};
