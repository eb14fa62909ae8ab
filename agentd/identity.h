/*
 * The agent's identity after enrolment: who it is to the portal and how to
 * reach it. One JSON file, state_dir/identity, mode 0600, written atomically.
 * The credential is a secret: never logged, never passed on a command line.
 */
#ifndef IDENTITY_H
#define IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define IDENTITY_FILE		"identity"
#define IDENTITY_AGENT_ID_MAX	128
#define IDENTITY_CREDENTIAL_MAX	512

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

/* The checks identity_parse applies, shared with the enrol reply parser. */
bool	identity_valid_agent_id(const char *s);
bool	identity_valid_credential(const char *s);
bool	identity_valid_portal(const char *s);
/* "report_interval": an integer 1..86400. 0 or -EINVAL, err names it. */
int	identity_parse_interval(json_t *v, unsigned *out, char *err,
	    size_t errlen);
/* "bastion": null/absent (both outputs NULL) or {"address", "host_key"},
 * both required. 0 or -EINVAL; the caller frees the strings. */
int	identity_parse_bastion(json_t *v, char **addressp, char **host_keyp,
	    char *err, size_t errlen);

#endif
