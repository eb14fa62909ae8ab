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
	char		*bastion_user;	/* NULL: not assigned (no key sent) */
	unsigned	 forward_port;	/* 0: not assigned */
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
/* "bastion": null/absent (out's bastion fields NULL/0) or {"address",
 * "host_key", "user", "forward_port"}: the first two required, the others
 * null or absent when the portal assigned none (an agent that sent no key,
 * or an older portal). Sets out's bastion_address, bastion_host_key,
 * bastion_user and forward_port and nothing else. 0 or -EINVAL (those
 * fields then NULL/0); the caller frees the strings. */
int	identity_parse_bastion(json_t *v, struct identity *out, char *err,
	    size_t errlen);
/* A bastion login name: 1-64 of letters, digits, '.', '_', '-', not
 * starting with '-' (it goes on an ssh command line). */
bool	identity_valid_user(const char *s);

#endif
