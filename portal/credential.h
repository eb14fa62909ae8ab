/*
 * Who may talk to the portal: one-time enrolment tokens, agent credentials
 * and operator tokens, all stored as SHA-256 hashes. Every function takes
 * the store lock itself.
 */
#ifndef CREDENTIAL_H
#define CREDENTIAL_H

#include <stddef.h>

#include <jansson.h>

#include "auth.h"
#include "store.h"

/* A new enrolment token valid for ttl seconds into token[AUTH_TOKEN_LEN]. */
int	credential_token_create(struct store *, double ttl, char *token,
	    size_t len);

struct credential_enrolment {
	char	agent_id[AUTH_UUID_LEN];
	char	credential[AUTH_TOKEN_LEN];
	char	replaced[AUTH_UUID_LEN];	/* "" or the revoked agent */
};

/*
 * Spends token and creates an agent for host (the enrolment body's "host"
 * object). An earlier agent with the same machine_id is revoked. Returns 0,
 * -EACCES for an unknown, used or expired token, or -EIO.
 */
int	credential_enroll(struct store *, const char *token, json_t *host,
	    int report_interval, struct credential_enrolment *out);
/* 0 when credential is agent_id's and not revoked; -ENOENT for no such
 * agent, -EACCES for a wrong or revoked credential, -EIO. */
int	credential_agent_check(struct store *, const char *agent_id,
	    const char *credential);
/* Revokes the agent's credential (it stays listed as unenrolled). */
int	credential_unenroll(struct store *, const char *agent_id);
/* A new operator token for name; -EEXIST if name exists. */
int	credential_operator_create(struct store *, const char *name,
	    char *token, size_t len);
/* 0 with the operator's name, or -EACCES. */
int	credential_operator_check(struct store *, const char *token, char *name,
	    size_t namelen);

#endif
