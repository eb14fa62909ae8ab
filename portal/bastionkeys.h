/*
 * The bastion's side of key provisioning: `agentd-portal bastion-keys`,
 * run by sshd as its AuthorizedKeysCommand, asks the portal for the lines
 * of the live agents (docs/bastion.md) with the bastion's credential and
 * fails closed: anything but a whole 200 answer prints nothing.
 */
#ifndef BASTIONKEYS_H
#define BASTIONKEYS_H

#include <stddef.h>

/* What the command reads of a credential file and of an answer. */
#define BASTIONKEYS_MAX_CRED	256
#define BASTIONKEYS_MAX_BODY	(16 * 1024 * 1024)

/*
 * Reads the credential in path: a regular file of the caller's that no
 * one else may read or write (0600 or stricter), holding "bst_..." and an
 * optional newline. Returns 0, or -EPERM / -EINVAL / -errno with err.
 */
int	bastionkeys_read_credential(const char *path, char *cred, size_t len,
	    char *err, size_t errlen);

/*
 * GET {portal}/api/v1/bastion/keys[?key=KEY] over HTTPS with certificate
 * verification (ca: NULL for the system's CAs), within timeout seconds.
 * 0 with *body (caller frees) and *len for a 200 answer; otherwise a
 * negative errno and err says why.
 */
int	bastionkeys_fetch(const char *portal, const char *cred, const char *ca,
	    long timeout, const char *key, char **body, size_t *len, char *err,
	    size_t errlen);

#endif
