/*
 * keyfile: reading a private key file that only its owner may read, for
 * the libssh2 clients (the SFTP target, the support tunnel).
 */
#ifndef KEYFILE_H
#define KEYFILE_H

#include <stddef.h>

/*
 * Reads path into a NUL-terminated heap buffer (*buf, *len) if it is a
 * regular file of mode 0600 or stricter (no group or other bits), owned
 * by the effective uid or root, of at most max bytes; symlinks are not
 * followed. Returns 0, or a -errno with err saying "WHAT PATH: why"; *buf
 * is then NULL. The caller wipes (explicit_bzero) and frees *buf.
 */
int	keyfile_read(const char *what, const char *path, size_t max,
	    char **buf, size_t *len, char *err, size_t errlen);

#endif
