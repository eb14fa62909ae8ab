/*
 * The agent's identity after enrolment: who it is to the portal and how to
 * reach it. One JSON file, state_dir/identity, mode 0600, written atomically.
 * The credential is a secret: never logged, never passed on a command line.
 */
#ifndef IDENTITY_H
#define IDENTITY_H

#include <stdint.h>

#define IDENTITY_FILE	"identity"

struct identity {
	char		*agent_id;
	char		*credential;	/* secret */
	char		*portal;	/* https://host:port, no trailing slash */
	char		*ca_file;	/* NULL: the system's CA store */
	unsigned	 report_interval;	/* seconds */
	char		*bastion_address;	/* NULL if none */
	char		*bastion_host_key;
	uint64_t	 enrolled_at;	/* epoch seconds */
};

/* Reads state_dir/identity. Returns 0, -ENOENT (not enrolled), or -EINVAL
 * with a message naming the file and field in err. *idp is freed with
 * identity_free. */
int	identity_load(const char *state_dir, struct identity **idp, char *err,
	    size_t errlen);
/* Parses the file's text (unit tests, fuzzing). Same contract. */
int	identity_parse(const char *text, size_t len, struct identity **idp,
	    char *err, size_t errlen);
/* Writes atomically with mode 0600 (temp, fsync, rename, fsync dir). */
int	identity_save(const char *state_dir, const struct identity *id);
/* Removes the file; 0 if it was not there. */
int	identity_remove(const char *state_dir);
void	identity_free(struct identity *id);

#endif
