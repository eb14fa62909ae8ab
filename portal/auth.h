/* Secrets: enrolment tokens, agent credentials, operator tokens and agent
 * ids. Tokens are random, shown once, and only their SHA-256 is stored. */
#ifndef AUTH_H
#define AUTH_H

#include <stddef.h>

#define AUTH_TOKEN_BYTES	32
/* "xxx_" + unpadded base64url of 32 bytes + NUL. */
#define AUTH_TOKEN_LEN		(4 + 43 + 1)
#define AUTH_HASH_LEN		(64 + 1)	/* hex SHA-256 + NUL */
#define AUTH_UUID_LEN		37

/* A new token "<prefix>_<base64url>" (prefix is 3 letters: enr, agc, opr)
 * into out[AUTH_TOKEN_LEN]. Returns 0 or -EIO when the RNG fails. */
int	auth_token_new(const char *prefix, char *out, size_t outlen);
/* Hex SHA-256 of s into out[AUTH_HASH_LEN]. Returns 0 or -EIO. */
int	auth_hash(const char *s, char *out, size_t outlen);
/* 1 when the n bytes are equal; time depends on n only. */
int	auth_equal(const void *a, const void *b, size_t n);
/* A random RFC 4122 version 4 UUID into out[AUTH_UUID_LEN]. */
int	auth_uuid(char *out, size_t outlen);
/* The token of an "Authorization: Bearer <token>" value, or NULL. */
const char *auth_bearer(const char *header);

#endif
