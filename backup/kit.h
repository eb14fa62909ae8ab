/*
 * The recovery kit (docs/backup-format.md, "Recovery kit"): what a fresh
 * host needs to restore a job (target, its credentials, the encryption
 * key, the job definition) as one small versioned text file. It is a
 * trust boundary: kit_parse reads it with hard bounds.
 */
#ifndef KIT_H
#define KIT_H

#include <stddef.h>
#include <stdint.h>

#include "crypt.h"

#define KIT_MAGIC	"agentd-recovery-kit 1"
#define KIT_MAX_SIZE	65536	/* bytes of a whole kit */
#define KIT_MAX_LINE	8192	/* bytes of one line, escaped */
#define KIT_MAX_CONF	256	/* conf lines */

struct kit {
	char		*job;		/* [A-Za-z0-9._-], < 64 bytes */
	char		*target;	/* the target URL */
	int		 encrypted;
	uint8_t		 key[CRYPT_KEYBYTES];	/* when encrypted */
	long long	 created;	/* Unix seconds */
	char		*host_key;	/* SFTP: pinned host key; NULL: none */
	char		*credential;	/* SFTP: private key text; NULL: none */
	char		**conf;		/* the job's config section, by line */
	size_t		 nconf;
};

/* Parses a kit. 0 with k filled (free with kit_free), or -EINVAL with a
 * message in err naming the line; k is then empty. */
int	kit_parse(const char *buf, size_t len, struct kit *k, char *err,
	    size_t errlen);
/* The kit as text, NUL-terminated; caller frees (and should wipe: it holds
 * the key). -EINVAL when a field cannot be written (a bad job name). */
int	kit_format(const struct kit *k, char **out, size_t *lenp);
/* Adds one conf line, printf-style. */
void	kit_add_conf(struct kit *k, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Frees what k holds and wipes the key. */
void	kit_free(struct kit *k);

#endif
