/*
 * sysfile: bounded reads of the small files collectors parse, and the
 * crash-safe replacement of a collector's state file. One copy of the
 * open/read/EINTR/limit loop for every collector.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sysfile.h"
#include "xmalloc.h"

int
sysfile_read(const char *dir, const char *name, size_t max, char **bufp,
    size_t *lenp, bool *truncp)
{
	char path[PATH_MAX], *buf = NULL, extra;
	size_t cap = 4096, len = 0;
	ssize_t n;
	int fd = -1, r, pn;

	*bufp = NULL;
	*lenp = 0;
	*truncp = false;
	pn = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (pn < 0 || (size_t)pn >= sizeof(path))
		return -ENAMETOOLONG;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno != 0 ? -errno : -EIO;
	if (cap > max)
		cap = max;
	buf = xcalloc(1, cap);
	for (;;) {
		if (len + 1 == cap) {
			if (cap == max) {
				/* Full: one byte more says whether the
				 * file went on. */
				while ((n = read(fd, &extra, 1)) == -1 &&
				    errno == EINTR)
					;
				*truncp = n > 0;
				break;
			}
			cap = cap > max / 2 ? max : cap * 2;
			buf = xreallocarray(buf, 1, cap);
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			r = errno != 0 ? -errno : -EIO;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*bufp = buf;
	buf = NULL;	/* transferred */
	*lenp = len;
	r = 0;
 out:
	free(buf);
	close(fd);
	return r;
}

int
sysfile_read_small(const char *path, char *buf, size_t size, size_t *lenp)
{
	size_t len = 0;
	ssize_t n;
	char extra;
	int fd, r;

	*lenp = 0;
	buf[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -errno;
	for (;;) {
		if (len + 1 >= size) {
			while ((n = read(fd, &extra, 1)) == -1 &&
			    errno == EINTR)
				;
			r = n > 0 ? -EFBIG : n == -1 ? -errno : 0;
			goto out;
		}
		n = read(fd, buf + len, size - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	r = 0;
 out:
	close(fd);
	buf[len] = '\0';
	*lenp = len;
	return r;
}

int
sysfile_write_atomic(const char *dir, const char *name, const char *data,
    mode_t mode)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	size_t len = strlen(data), off = 0;
	int fd = -1, dfd, r;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		return -errno;
	/* mkostemp creates 0600: widen only if asked. */
	if (fchmod(fd, mode) == -1) {
		r = -errno;
		goto out;
	}
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		if (n == 0) {	/* no progress and no errno to report */
			r = -EIO;
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1) {
		r = -errno;
		goto out;
	}
	r = close(fd);
	fd = -1;
	if (r == -1) {
		r = -errno;
		goto out;
	}
	if (rename(tmp, path) == -1) {
		r = -errno;
		goto out;
	}
	tmp[0] = '\0';	/* renamed: nothing to remove */
	/* The rename itself must reach the disk too: until it has, a caller
	 * must not act on it (the spool deletes segments after its ack). */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		r = -errno;
		goto out;
	}
	r = fsync(dfd) == -1 ? -errno : 0;
	close(dfd);
 out:
	if (fd != -1)
		close(fd);
	if (tmp[0] != '\0')
		unlink(tmp);
	return r;
}
