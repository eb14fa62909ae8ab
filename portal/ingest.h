/*
 * Parsing of everything agents and operators send: report batches,
 * enrolment requests and command requests. Errors name the field, as
 * "reports[3].seq: expected an integer", for the 4xx body.
 */
#ifndef INGEST_H
#define INGEST_H

#include <stddef.h>

#include <jansson.h>

#include "portal.h"

struct ingest_report {
	long long	 seq;
	const char	*kind;		/* borrowed from the batch */
	double		 time;
	json_t		*payload;	/* borrowed from the batch */
};

struct ingest_batch {
	json_t			*root;
	size_t			 n;
	struct ingest_report	 reports[PORTAL_MAX_REPORTS];
};

/*
 * Parses and checks a {"reports": [...]} body of len bytes (need not be
 * NUL-terminated). Returns 0 with b filled (free with ingest_batch_clear),
 * -EINVAL for a malformed body (400) or -E2BIG for more than
 * PORTAL_MAX_REPORTS reports (413); err says which field.
 */
int	ingest_parse_reports(const char *json, size_t len,
	    struct ingest_batch *b, char *err, size_t errlen);
void	ingest_batch_clear(struct ingest_batch *);

/* A check object ("reports[0].payload.check" as where): 0 or -EINVAL. */
int	ingest_check(const json_t *check, const char *where, char *err,
	    size_t errlen);

/*
 * An enrolment body: *root gets the parsed document (caller json_decref),
 * *token and *host point into it. Returns 0 or -EINVAL with err.
 */
int	ingest_parse_enroll(const char *json, size_t len, json_t **root,
	    const char **token, json_t **host, char *err, size_t errlen);

/*
 * As ingest_parse_enroll, and *ssh_key points at the optional "ssh_key"
 * (NULL when absent), checked with ingest_ssh_key.
 */
int	ingest_parse_enroll_key(const char *json, size_t len, json_t **root,
	    const char **token, json_t **host, const char **ssh_key,
	    char *err, size_t errlen);

/* An agent's public key as enrolment carries it (docs/protocol.md): 0, or
 * -EINVAL with err naming "ssh_key". */
#define INGEST_MAX_SSH_KEY	128
#define INGEST_SSH_KEY_B64	68	/* base64 of the 51-byte blob */
int	ingest_ssh_key(const char *key, size_t len, char *err,
	    size_t errlen);

/* support_event: "ses_" and 16 hex digits; the strings kept of it; the
 * events, and the string and number members the portal keeps (NULL-
 * terminated lists). */
#define INGEST_SESSION_ID_LEN	20
#define INGEST_MAX_EVENT_STRING	512

/* Warnings (protocol.md): a forecast's item (agentd's PERF_LABEL_MAX),
 * resource and unit; the largest eta (100 years, in seconds) and rate
 * (units per day: 10^18, an exabyte a day) taken; soft attempts. */
#define INGEST_MAX_ITEM		128
#define INGEST_MAX_RESOURCE	16
#define INGEST_MAX_UNIT		8
#define INGEST_MAX_ETA		3155760000.0
#define INGEST_MAX_RATE		1e18
#define INGEST_MAX_ATTEMPTS	1000000
extern const char *const ingest_support_events[];
extern const char *const ingest_support_strings[];
extern const char *const ingest_support_numbers[];

/* An alert acknowledgement: {"comment": "..."} (1 to INGEST_MAX_COMMENT
 * bytes); *comment points into *root. As above. */
#define INGEST_MAX_COMMENT	1024
int	ingest_parse_ack(const char *json, size_t len, json_t **root,
	    const char **comment, char *err, size_t errlen);
/* An operator's command: {"type": ..., "args": {...}}; as above. */
int	ingest_parse_command(const char *json, size_t len, json_t **root,
	    const char **type, json_t **args, char *err, size_t errlen);
/* A login: {"name": ..., "password": ...}, each a string without NUL of
 * at most max_name and max_password bytes; *root owns the strings. */
int	ingest_parse_login(const char *json, size_t len, size_t max_name,
	    size_t max_password, json_t **root, const char **name,
	    const char **password, char *err, size_t errlen);
/* A new user: {"name", "role", "password"}, strings without NUL of at
 * most max_name, 16 and max_password bytes; *root owns the strings. */
int	ingest_parse_user(const char *json, size_t len, size_t max_name,
	    size_t max_password, json_t **root, const char **name,
	    const char **role, const char **password, char *err,
	    size_t errlen);
/* An enrolment token request: an empty body, or {"expires": seconds from
 * 60 to max_ttl, "replace": agent id}, each optional; *expires is 0 and
 * *replace NULL when absent. */
int	ingest_parse_token_request(const char *json, size_t len, double max_ttl,
	    json_t **root, double *expires, const char **replace, char *err,
	    size_t errlen);

#endif
