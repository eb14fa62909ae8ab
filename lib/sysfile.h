/*
 * sysfile: the small files collectors read (procfs, sysfs, their own state
 * files) read with a size limit, and state files replaced atomically.
 */
#ifndef SYSFILE_H
#define SYSFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Reads dir/name into a NUL-terminated heap buffer of at most max - 1
 * bytes (max > 1), which the caller frees; the buffer starts at 4 KiB and
 * grows only as far as the file does. *truncp says whether more followed
 * the max - 1 bytes kept. Returns 0, -ENAMETOOLONG, or the -errno of
 * open(2) or read(2); *bufp is then NULL.
 */
int	sysfile_read(const char *dir, const char *name, size_t max,
	    char **bufp, size_t *lenp, bool *truncp);

/*
 * Reads the whole of path into buf (NUL-terminated, size > 0). Returns 0;
 * -EFBIG when the file has more than size - 1 bytes, so a cut-off read is
 * never taken for the content; or the -errno of open(2) or read(2). buf
 * and *lenp hold what was read in every case.
 */
int	sysfile_read_small(const char *path, char *buf, size_t size,
	    size_t *lenp);

/*
 * Replaces dir/name with the string data, with the given mode whatever the
 * umask (0600 for secrets: the temporary file is never more open than
 * that): a temporary file in dir, fsync, rename over name, fsync of dir, so
 * a crash leaves either the old or the new content. Returns 0,
 * -ENAMETOOLONG, or the -errno of the step that failed (the temporary file
 * is then removed).
 */
int	sysfile_write_atomic(const char *dir, const char *name,
	    const char *data, mode_t mode);

#endif
