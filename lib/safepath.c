/*
 * The ownership and mode rule for check commands, walked from the file up
 * to / as OpenSSH's safe_path() does.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "safepath.h"

/*
 * A symlink on the path as written is held to the same owners as a file:
 * in root's sticky directory (/tmp) anyone may create one, and its owner
 * may point it elsewhere between the check and the exec.
 */
static int
safepath_link(const char *path, uid_t self, char *err, size_t errlen)
{
	struct stat st;
	int e;

	if (lstat(path, &st) < 0) {
		e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	if (S_ISLNK(st.st_mode) && st.st_uid != 0 && st.st_uid != self) {
		snprintf(err, errlen, "symlink %s is owned by uid %u, not by "
		    "root or agentd", path, (unsigned)st.st_uid);
		return -EPERM;
	}
	return 0;
}

/* One directory of the chain; 0 or -EPERM/-errno with the reason. */
static int
safepath_dir(const char *dir, uid_t self, char *err, size_t errlen)
{
	struct stat st;
	int e;

	if ((e = safepath_link(dir, self, err, errlen)) < 0)
		return e;
	if (stat(dir, &st) < 0) {
		e = errno;
		snprintf(err, errlen, "%s: %s", dir, strerror(e));
		return -e;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", dir);
		return -ENOTDIR;
	}
	if (st.st_uid != 0 && st.st_uid != self) {
		snprintf(err, errlen, "directory %s is owned by uid %u, not by "
		    "root or agentd", dir, (unsigned)st.st_uid);
		return -EPERM;
	}
	/* Sticky and root's: only an entry's owner may rename or remove it,
	 * and the entry below is held to the same owners. */
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    !((st.st_mode & S_ISVTX) != 0 && st.st_uid == 0)) {
		snprintf(err, errlen, "directory %s is writable by group or "
		    "others", dir);
		return -EPERM;
	}
	return 0;
}

/* Every directory above path (absolute), from its parent up to /. */
static int
safepath_chain(const char *path, uid_t self, char *err, size_t errlen)
{
	char buf[PATH_MAX], *slash;
	int r;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		snprintf(err, errlen, "path too long");
		return -ENAMETOOLONG;
	}
	while ((slash = strrchr(buf, '/')) != NULL) {
		if (slash == buf) {
			if (buf[1] == '\0')
				break;
			buf[1] = '\0';
		} else
			*slash = '\0';
		if ((r = safepath_dir(buf, self, err, errlen)) < 0)
			return r;
	}
	return 0;
}

int
safepath_check(const char *path, uid_t self, char *err, size_t errlen)
{
	char real[PATH_MAX];
	struct stat st;
	int r;

	if (path[0] != '/') {
		snprintf(err, errlen, "%s is not an absolute path", path);
		return -EINVAL;
	}
	/* The directories as written: a symlink in a writable directory could
	 * be pointed elsewhere. */
	if ((r = safepath_chain(path, self, err, errlen)) < 0 ||
	    (r = safepath_link(path, self, err, errlen)) < 0)
		return r;
	if (realpath(path, real) == NULL) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	if (stat(real, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", real, strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", real);
		return -EPERM;
	}
	if ((st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)) == 0) {
		snprintf(err, errlen, "%s is not executable", real);
		return -EACCES;
	}
	if (st.st_uid != 0 && st.st_uid != self) {
		snprintf(err, errlen, "%s is owned by uid %u, not by root or "
		    "agentd", real, (unsigned)st.st_uid);
		return -EPERM;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(err, errlen, "%s is writable by group or others",
		    real);
		return -EPERM;
	}
	/* And where the symlinks led. */
	if (strcmp(real, path) != 0 &&
	    (r = safepath_chain(real, self, err, errlen)) < 0)
		return r;
	return 0;
}
