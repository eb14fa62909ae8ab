/*
 * A target in another process. The reader (which holds CAP_DAC_READ_SEARCH)
 * sees target_proxy_ops; the child that speaks to the network serves a real
 * backend over a socketpair. The reader sends object names and the bytes
 * the engine already encrypted; every reply is checked as untrusted input
 * (docs/architecture.md, "The SFTP target's process split").
 */
#ifndef TARGET_PROXY_H
#define TARGET_PROXY_H

#include <sys/types.h>

#include "target.h"

/* One frame's payload at most; a list reply may be PROXY_LIST_MAX. */
#define PROXY_MAX	(1024 * 1024)
#define PROXY_LIST_MAX	(16 * 1024 * 1024)

/* The reader side: fd is its end of the socketpair, pid the child (killed
 * when it does not answer within timeout seconds). */
void	target_proxy_attach(int fd, pid_t pid, unsigned timeout);
/* Closes the reader's end: the child sees EOF and exits. */
void	target_proxy_detach(void);
/* The child's reason for a failed open (sanitized), or "". */
const char *target_proxy_error(void);

/* The child side: serves ops on fd until EOF; errmsg (may be NULL) gives
 * the text sent back with a failed open. */
void	target_proxy_serve(int fd, const struct target_ops *ops,
	    const char *(*errmsg)(void));

extern const struct target_ops target_proxy_ops;

#endif
