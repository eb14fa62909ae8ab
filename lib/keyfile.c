/*
 * keyfile: a private key read only from a file nobody else can read (see
 * keyfile.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "keyfile.h"
#include "xmalloc.h"

int
keyfile_read(const char *what, const char *path, size_t max, char **buf,
    size_t *len, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	int fd, r = 0;

	*buf = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		r = -errno;
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0 ||
	    (st.st_uid != geteuid() && st.st_uid != 0) ||
	    (size_t)st.st_size > max) {
		snprintf(err, errlen, "%s %s: must be a regular file of mode "
		    "0600 owned by uid %u or root", what, path,
		    (unsigned)geteuid());
		r = -EACCES;
		goto out;
	}
	*buf = xcalloc(1, (size_t)st.st_size + 1);
	if ((n = read(fd, *buf, (size_t)st.st_size)) != st.st_size) {
		snprintf(err, errlen, "%s %s: short read", what, path);
		r = -EIO;
		goto out;
	}
	*len = (size_t)n;
out:
	if (fd != -1)
		close(fd);
	if (r < 0 && *buf != NULL) {
		explicit_bzero(*buf, (size_t)st.st_size);
		free(*buf);
		*buf = NULL;
	}
	return r;
}
