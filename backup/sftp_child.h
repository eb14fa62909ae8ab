/*
 * The network side of an sftp:// target, in a child process: forked before
 * the caller reads anything, it drops to nobody (when root) and to no
 * capability, and serves target_sftp_ops over a socketpair; the caller then
 * opens the target through target_proxy_ops and sends only object names
 * and encrypted bytes. Used by agentd-backup and agentctl
 * (docs/architecture.md, "The SFTP target's process split").
 */
#ifndef SFTP_CHILD_H
#define SFTP_CHILD_H

#include <stddef.h>

#include "target_sftp.h"

#define SFTP_CHILD_UID	65534	/* nobody: the child's uid when run as root */

/*
 * Starts the child with the settings c (its key_file is read, or its
 * key_text copied, in the child before it gives up its identity) and
 * attaches target_proxy to it. close_fd (-1: none) is closed in the
 * child; wipe, wipelen (NULL, 0: none) is memory of the caller's the child
 * wipes first (an encryption key it must not hold). 0, or -errno with the
 * reason in err. One child at a time.
 */
int	sftp_child_start(const struct sftp_conf *c, int close_fd, void *wipe,
	    size_t wipelen, char *err, size_t errlen);
/* Detaches target_proxy (the child sees EOF and exits) and reaps the
 * child; nothing when none runs. */
void	sftp_child_stop(void);

#endif
