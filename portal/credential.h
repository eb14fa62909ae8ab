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

/* Enrolment tokens are named by the first characters of their hash. */
#define CREDENTIAL_TOKEN_ID_LEN	12
#define CREDENTIAL_TOKEN_ID_STR	"12"
/* The longest lifetimes (docs/portal.md, "Tokens"). */
#define CREDENTIAL_TOKEN_MAX_TTL	(30.0 * 86400)
#define CREDENTIAL_OPERATOR_MAX_TTL	(365.0 * 86400)

/*
 * A new enrolment token valid for ttl seconds into token[AUTH_TOKEN_LEN].
 * With replaces (an agent id) not NULL, an enrolment with it may take
 * over that agent's machine (see credential_enroll).
 */
int	credential_token_create(struct store *, double ttl,
	    const char *replaces, char *token, size_t len);
/* A new array of {id, created, expires, used, revoked, replaces}; never
 * a secret. */
int	credential_token_list(struct store *, json_t **out);
/* Revokes the unspent or spent token with that id: 0, -ENOENT or -EIO. */
int	credential_token_revoke(struct store *, const char *id);

struct credential_enrolment {
	char	agent_id[AUTH_UUID_LEN];
	char	credential[AUTH_TOKEN_LEN];
	char	replaced[AUTH_UUID_LEN];	/* "" or the revoked agent */
	char	how[48];			/* how the replacement was allowed */
	char	conflict[AUTH_UUID_LEN];	/* -EEXIST: the agent in the way */
	int	forward_port;			/* 0: none */
};

/* Remote support at enrolment: the agent's key and the portal's range. */
struct credential_support {
	const char	*ssh_key;	/* checked by ingest_ssh_key; NULL: none */
	int		 port_low;	/* 0: no range, no port */
	int		 port_high;
};

/*
 * Spends token and creates an agent for host (the enrolment body's "host"
 * object). A live agent with the same machine_id is revoked and replaced
 * only if proof (NULL: none) is its current credential, or the token was
 * created to replace it; otherwise nothing changes (the token is not
 * spent), the refusal is logged and opens an "enrolment_refused" alert on
 * that agent, and -EEXIST is returned with its id in out->conflict.
 * Returns 0, -EACCES for an unknown, used, revoked or expired token,
 * -EEXIST, or -EIO.
 */
int	credential_enroll(struct store *, const char *token, json_t *host,
	    const char *proof, int report_interval,
	    struct credential_enrolment *out);
/*
 * credential_enroll, and with sup (NULL: none) the agent's ssh_key is
 * stored and, when the portal has a range, out->forward_port assigned:
 * the port of the agent it replaces if in the range, else the lowest one
 * no live agent holds. -ENOSPC (logged, nothing changed) when the range
 * is full; -ENOTUNIQ, with its id in out->conflict, when another live
 * agent (not one this enrolment replaces) has the same key.
 */
int	credential_enroll_key(struct store *, const char *token, json_t *host,
	    const char *proof, int report_interval,
	    const struct credential_support *sup,
	    struct credential_enrolment *out);
/* 0 when credential is agent_id's and not revoked; -ENOENT for no such
 * agent, -EACCES for a wrong or revoked credential, -EIO. */
int	credential_agent_check(struct store *, const char *agent_id,
	    const char *credential);
/* Revokes the agent's credential (it stays listed as unenrolled). */
int	credential_unenroll(struct store *, const char *agent_id);
/* A new operator token for name valid for ttl seconds; -EEXIST if a live
 * operator has that name (a revoked one gets the new token). */
int	credential_operator_create(struct store *, const char *name,
	    double ttl, char *token, size_t len);
/* 0 with the operator's name, or -EACCES (unknown, revoked or expired). */
int	credential_operator_check(struct store *, const char *token, char *name,
	    size_t namelen);
/* A new array of {name, created, expires, used, revoked}. */
int	credential_operator_list(struct store *, json_t **out);
/* 0, -ENOENT (no live operator of that name) or -EIO. */
int	credential_operator_revoke(struct store *, const char *name);
/* The same four for the bastion's credentials ("bst_...", table
 * bastions), good for the key listing only. */
int	credential_bastion_create(struct store *, const char *name,
	    double ttl, char *token, size_t len);
int	credential_bastion_check(struct store *, const char *token, char *name,
	    size_t namelen);
int	credential_bastion_list(struct store *, json_t **out);
int	credential_bastion_revoke(struct store *, const char *name);
/*
 * The AuthorizedKeysCommand lines of every live agent with a key and a
 * port, or of the one whose key's base64 is blob (NULL: all), into *text
 * (caller frees; "" when none). 0, -ENOMEM or -EIO.
 */
int	credential_bastion_keys(struct store *, const char *blob, char **text,
	    size_t *len);

#endif
