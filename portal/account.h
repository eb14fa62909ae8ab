/*
 * Operator accounts of the web app: users with a role and an Argon2id
 * password hash (libsodium), and the server-side login sessions their
 * cookies name. Session ids and CSRF tokens are random; only a session
 * id's SHA-256 is stored.
 */
#ifndef ACCOUNT_H
#define ACCOUNT_H

#include <stddef.h>

#include <jansson.h>

#include "auth.h"
#include "store.h"

/* Ordered: a route needing ROLE_ENGINEER admits an admin. */
enum account_role {
	ROLE_NONE = 0,		/* anonymous routes */
	ROLE_VIEWER,
	ROLE_ENGINEER,
	ROLE_ADMIN,
};

#define ACCOUNT_MAX_NAME	64
#define ACCOUNT_MIN_PASSWORD	8
#define ACCOUNT_MAX_PASSWORD	1024
/* crypto_pwhash_STRBYTES */
#define ACCOUNT_HASH_LEN	128
/* The cookie that carries a login session id. */
#define ACCOUNT_COOKIE		"agentd_session"

struct account_session {
	char	user[ACCOUNT_MAX_NAME + 1];
	int	role;
	char	csrf[AUTH_TOKEN_LEN];
	double	created, last_seen, expires;
};

/*
 * sodium_init, and hash_slots concurrent password hashes at most (each
 * takes the Argon2id memory); the dummy hash an unknown user is checked
 * against. 0 or -EIO. Once per process, before any other call.
 */
int	account_init(int hash_slots);
/* "viewer", "engineer", "admin" (or "none"); parse: ROLE_NONE if bad. */
const char *account_role_name(int role);
int	account_role_parse(const char *);
/* 1 when name is 1 to ACCOUNT_MAX_NAME of [A-Za-z0-9._@-]. */
int	account_name_ok(const char *name);
/* Argon2id of password into out[ACCOUNT_HASH_LEN]: 0, -EINVAL, -ENOMEM. */
int	account_password_hash(const char *password, char *out, size_t outlen);
/* 1 when password matches hash (constant time in the password). */
int	account_password_verify(const char *hash, const char *password);
/* A random password of 24 base64url characters into out (>= 25). */
int	account_password_generate(char *out, size_t outlen);

/* 0, -EEXIST, -EINVAL (name, role or password), -EBUSY (no hash slot
 * free), -EIO. */
int	account_user_create(struct store *, const char *name, int role,
	    const char *password);
/* New password for a user (enabled or not); ends its sessions. 0, -ENOENT,
 * -EINVAL, -EIO. */
int	account_user_passwd(struct store *, const char *name,
	    const char *password);
/* Disables a user and ends its sessions: 0, -ENOENT (none such or
 * already disabled), -EIO. */
int	account_user_disable(struct store *, const char *name);
/* A new array of {name, role, created, disabled}; never a hash. */
int	account_user_list(struct store *, json_t **out);
/*
 * Checks a password: 0 with *role, -EACCES for a wrong password, an
 * unknown or a disabled user (each costs one Argon2id verification),
 * -EBUSY when every hash slot is taken, -EIO. The store lock is not held
 * while hashing.
 */
int	account_login(struct store *, const char *name, const char *password,
	    int *role);

/* A new session for user at now, ending at now + ttl: the cookie value
 * into token[AUTH_TOKEN_LEN] and the session into out. 0 or -EIO. */
int	account_session_create(struct store *, const char *user, double now,
	    double ttl, char *token, size_t tokenlen,
	    struct account_session *out);
/*
 * The live session token names at now: 0 and *out (last_seen moved to
 * now); -EACCES when unknown, past its absolute expiry, idle for idle
 * seconds or more, or its user is disabled (an expired one is deleted);
 * -EIO.
 */
int	account_session_check(struct store *, const char *token, double now,
	    double idle, struct account_session *out);
/* Deletes the session token names: 0 or -ENOENT, -EIO. */
int	account_session_delete(struct store *, const char *token);
/* 1 when the CSRF token given equals expected; constant time. */
int	account_csrf_ok(const char *expected, const char *given);

#endif
