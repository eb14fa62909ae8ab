/*
 * The SFTP target (libssh2). It runs only in the network child that
 * sftp_child.c starts (for agentd-backup and agentctl), which holds no
 * capability; the reader talks to it through target_proxy
 * (docs/architecture.md, "The SFTP target's process split").
 */
#ifndef TARGET_SFTP_H
#define TARGET_SFTP_H

#include "target.h"

struct sftp_conf {
	const char	*host_key;	/* "ssh-ed25519 AAAA..." (pinned) */
	const char	*key_file;	/* private key, 0600; or NULL and: */
	const char	*key_text;	/* the private key itself (a kit's) */
	unsigned long long bandwidth;	/* bytes/s, 0 = no limit */
	unsigned	 timeout;	/* seconds per blocking operation */
};

/* Before open: the settings every later open uses (borrowed). Reads the
 * key file now (0600, ours or root's), or copies key_text (not kept
 * borrowed: the caller may wipe it at once), so the caller may then give
 * up its identity and capabilities. */
void	target_sftp_configure(const struct sftp_conf *c);
/* The reason the last open failed, or "". */
const char *target_sftp_error(void);

extern const struct target_ops target_sftp_ops;

#endif
