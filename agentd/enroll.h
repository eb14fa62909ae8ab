/*
 * Enrolment: trading a one-time token for an identity, and revoking it.
 * Blocking libcurl; agentctl's code only, never linked into agentd's loop.
 */
#ifndef ENROLL_H
#define ENROLL_H

#include <stdbool.h>
#include <stddef.h>

#include "identity.h"

#define ENROLL_REPLY_MAX	(64 * 1024)
#define ENROLL_TOKEN_MAX	256

/*
 * Parses the portal's 201 body (len bytes, need not be NUL-terminated) into
 * out's agent_id, credential, report_interval and bastion fields; the others
 * are left NULL/0 for the caller. Returns 0, or -EBADMSG with a message
 * naming the field in err and every field of out NULL/0. The caller frees
 * the strings (identity_free on a heap copy, or by hand).
 */
int	enroll_parse_reply(const char *body, size_t len, struct identity *out,
	    char *err, size_t errlen);

/*
 * Enrols this host: checks that state_dir is writable and that no identity
 * is there (unless force) before the token is spent, POSTs the inventory
 * to portal_url/api/v1/enroll with TLS verification on (ca_file, if not
 * NULL, is the CA bundle to trust) and ssh_key (the agent's public key
 * line for the support bastion, or NULL), and saves the identity with the
 * bastion user and forward port the portal assigned. Returns 0 or:
 *   -EINVAL	bad portal URL, token or CA file (err says which)
 *   -EEXIST	already enrolled, and not force
 *   -EACCES	state_dir not writable
 *   -EHOSTUNREACH	network or TLS failure
 *   -EPERM	the portal refused (401: the token; 409: the portal knows
 *		this machine as another agent and this host cannot prove
 *		it is that agent; other 4xx/5xx)
 * A host that has an identity for the same portal (re-enrolling with
 * force) sends its credential as proof that it is the agent it replaces.
 *   -EBADMSG	the reply was malformed or too large
 *   -EIO	enrolled, but the identity could not be saved
 * err always holds one line for the admin; it never contains the token or
 * the credential.
 */
int	enroll_run(const char *portal_url, const char *token,
	    const char *ca_file, const char *ssh_key, const char *state_dir, bool force, char *err,
	    size_t errlen);

/* Makes state_dir if it is missing (0750, as agentd does) and checks that
 * we may write there: 0 or -EACCES with err saying why. */
int	enroll_check_state_dir(const char *state_dir, char *err,
	    size_t errlen);

/*
 * Revokes the identity in state_dir (DELETE /api/v1/agents/{id}) and removes
 * the file on 204, or on 401/404 (the portal no longer knows it). On any
 * other outcome the file is kept, unless force. Returns 0 (the file is gone)
 * or -ENOENT (not enrolled), -EACCES (state_dir not writable), -EINVAL (the
 * file is invalid, and not force), -EHOSTUNREACH (portal not reached or
 * failed; file kept). msg holds one line in every case.
 */
int	enroll_revoke(const char *state_dir, bool force, char *msg,
	    size_t msglen);

#endif
