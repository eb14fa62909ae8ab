/*
 * Tokens and credentials in the database. Lookups go by hash, and the
 * stored hash is compared again in constant time, so what the database
 * index does with the bytes leaks nothing about the secret.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "alert.h"
#include "auth.h"
#include "credential.h"
#include "ingest.h"
#include "log.h"
#include "portal.h"
#include "store.h"

/* A new secret with the given prefix in token, and its hash for the store. */
static int
credential_new_secret(const char *prefix, char *token, size_t len,
    char *hash, size_t hashlen)
{
	int r;

	if ((r = auth_token_new(prefix, token, len)) != 0)
		return r;
	return auth_hash(token, hash, hashlen);
}

/* Whether a stored hash column equals hash, compared in constant time. */
static int
credential_hash_matches(const char *stored, const char *hash)
{
	return strlen(stored) == AUTH_HASH_LEN - 1 &&
	    auth_equal(stored, hash, AUTH_HASH_LEN - 1);
}

int
credential_token_create(struct store *s, double ttl, const char *replaces,
    char *token, size_t len)
{
	static const char ins[] = "INSERT INTO tokens (hash, created, "
	    "expires, replaces) VALUES (?, ?, ?, ?)";
	char hash[AUTH_HASH_LEN];
	sqlite3_stmt *st;
	double now = store_now();
	int r;

	if ((r = credential_new_secret("enr", token, len, hash,
	    sizeof(hash))) != 0)
		return r;
	store_lock(s);
	if ((st = store_stmt(s, ins)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, now);
	sqlite3_bind_double(st, 3, now + ttl);
	if (replaces != NULL)
		sqlite3_bind_text(st, 4, replaces, -1, SQLITE_STATIC);
	r = store_step(s, st) == SQLITE_DONE ? 0 : -EIO;
out:
	store_unlock(s);
	return r;
}

/* A stamp column as a JSON number, or null. */
static json_t *
credential_stamp(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null() :
	    json_real(sqlite3_column_double(st, i));
}

int
credential_token_list(struct store *s, json_t **out)
{
	/* The id is a prefix of the hash: it names a token, reveals
	 * nothing of the secret, and needs no column of its own. */
	static const char sel[] = "SELECT substr(hash, 1, "
	    CREDENTIAL_TOKEN_ID_STR "), created, expires, used, revoked, "
	    "replaces FROM tokens ORDER BY created, hash";
	json_t *arr = json_array(), *e;
	sqlite3_stmt *st;
	int rc, r;

	*out = NULL;
	store_lock(s);
	if ((st = store_stmt(s, sel)) == NULL) {
		r = -EIO;
		goto out;
	}
	while ((rc = store_step(s, st)) == SQLITE_ROW) {
		e = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o}",
		    "id", store_text(st, 0),
		    "created", credential_stamp(st, 1),
		    "expires", credential_stamp(st, 2),
		    "used", credential_stamp(st, 3),
		    "revoked", credential_stamp(st, 4),
		    "replaces", sqlite3_column_type(st, 5) == SQLITE_NULL ?
		    json_null() : json_string(store_text(st, 5)));
		if (e == NULL || json_array_append_new(arr, e) != 0) {
			sqlite3_reset(st);
			r = -ENOMEM;
			goto out;
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		r = -EIO;
		goto out;
	}
	*out = arr;
	arr = NULL;	/* transferred */
	r = 0;
out:
	store_unlock(s);
	json_decref(arr);
	return r;
}

int
credential_token_revoke(struct store *s, const char *id)
{
	static const char upd[] = "UPDATE tokens SET revoked = ? WHERE "
	    "substr(hash, 1, " CREDENTIAL_TOKEN_ID_STR ") = ? AND "
	    "revoked IS NULL";
	sqlite3_stmt *st;
	int r;

	if (strlen(id) != CREDENTIAL_TOKEN_ID_LEN)
		return -ENOENT;
	store_lock(s);
	if ((st = store_stmt(s, upd)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_double(st, 1, store_now());
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	if (store_step(s, st) != SQLITE_DONE)
		r = -EIO;
	else
		r = sqlite3_changes(store_db(s)) > 0 ? 0 : -ENOENT;
out:
	store_unlock(s);
	return r;
}

/*
 * A refused takeover of agent_id's machine: an open "enrolment_refused"
 * alert on that host (one at a time) so that the operators see it, in its
 * own transaction since the enrolment's was rolled back.
 */
static void
credential_refused(struct store *s, const char *agent_id,
    const char *hostname)
{
	static const char sel[] = "SELECT 1 FROM alerts WHERE agent_id = ? "
	    "AND kind = 'enrolment_refused' AND closed IS NULL";
	char summary[400], esc[256];
	sqlite3_stmt *st;
	int rc, r;

	log_escape(esc, sizeof(esc), hostname);
	log_warnx("enrolment as %s refused: its machine_id is agent %s's, "
	    "and the request proved neither that agent's credential nor an "
	    "operator's permission to replace it", esc, agent_id);
	if ((r = store_begin(s)) != 0)
		return;
	if ((st = store_stmt(s, sel)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	rc = store_step(s, st);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = -EIO;
		goto out;
	}
	snprintf(summary, sizeof(summary), "an enrolment with this host's "
	    "machine_id (as hostname %s) was refused: no proof of this "
	    "agent's credential or an operator's replacement", esc);
	if (rc == SQLITE_DONE && (r = alert_open(s, agent_id,
	    "enrolment_refused", NULL, "WARNING", summary,
	    store_now())) != 0)
		goto out;
	r = store_commit(s);
out:
	if (r != 0)
		store_rollback(s);
}

/*
 * Revokes the live agents of machine_id (a reinstalled host enrols again),
 * but only those the request may replace: the agent whose credential
 * proof hashes to (the agent re-enrolling itself), or the one an operator
 * named when creating the token (replaces). Any other live agent of the
 * machine makes it -EEXIST with its id in conflict, changing nothing.
 */
static int
credential_supersede(struct store *s, const char *machine_id,
    const char *proof_hash, const char *replaces, const char *new_id,
    struct credential_enrolment *out, double now)
{
	static const char sel[] = "SELECT id, cred_hash FROM agents WHERE "
	    "machine_id = ? AND revoked IS NULL";
	static const char upd[] = "UPDATE agents SET revoked = ?, "
	    "superseded_by = ? WHERE id = ?";
	char ids[16][AUTH_UUID_LEN];
	sqlite3_stmt *st;
	int n = 0, i, rc, r, proved;

	if ((st = store_stmt(s, sel)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, machine_id, -1, SQLITE_STATIC);
	while ((rc = store_step(s, st)) == SQLITE_ROW && n < 16) {
		proved = proof_hash != NULL &&
		    credential_hash_matches(store_text(st, 1), proof_hash);
		if (!proved && (replaces == NULL ||
		    strcmp(replaces, store_text(st, 0)) != 0)) {
			snprintf(out->conflict, sizeof(out->conflict), "%s",
			    store_text(st, 0));
			sqlite3_reset(st);
			return -EEXIST;
		}
		snprintf(out->how, sizeof(out->how), "%s", proved ?
		    "proved by its credential" : "allowed by the operator's "
		    "token");
		snprintf(ids[n++], AUTH_UUID_LEN, "%s", store_text(st, 0));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -EIO;
	for (i = 0; i < n; i++) {
		if ((st = store_stmt(s, upd)) == NULL)
			return -EIO;
		sqlite3_bind_double(st, 1, now);
		sqlite3_bind_text(st, 2, new_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, ids[i], -1, SQLITE_STATIC);
		if (store_step(s, st) != SQLITE_DONE)
			return -EIO;
		if ((r = alert_close_agent(s, ids[i], now)) != 0)
			return r;
		snprintf(out->replaced, sizeof(out->replaced), "%.36s",
		    ids[i]);
	}
	return 0;
}

/*
 * The bastion port for new_id: the one of the agent it replaces (a host
 * re-enrolling keeps its port, and the engineer's instructions stay
 * right) if still in the range, else the lowest port of the range that
 * no live agent holds; -ENOSPC when every one is held. The walk reads
 * each held port once, so it is bounded by the size of the range. The
 * unique index on live agents' ports keeps two portal instances from
 * handing out one port twice.
 */
static int
credential_pick_port(struct store *s, const struct credential_support *sup,
    const char *new_id, int *port)
{
	static const char kept[] = "SELECT forward_port FROM agents WHERE "
	    "superseded_by = ?1 AND forward_port BETWEEN ?2 AND ?3";
	static const char held[] = "SELECT forward_port FROM agents WHERE "
	    "revoked IS NULL AND forward_port BETWEEN ?1 AND ?2 "
	    "ORDER BY forward_port";
	sqlite3_stmt *st;
	int rc, p, want;

	*port = 0;
	if ((st = store_stmt(s, kept)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, new_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, sup->port_low);
	sqlite3_bind_int(st, 3, sup->port_high);
	rc = store_step(s, st);
	if (rc == SQLITE_ROW)
		*port = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -EIO;
	if (*port != 0)
		return 0;
	if ((st = store_stmt(s, held)) == NULL)
		return -EIO;
	sqlite3_bind_int(st, 1, sup->port_low);
	sqlite3_bind_int(st, 2, sup->port_high);
	want = sup->port_low;
	while ((rc = store_step(s, st)) == SQLITE_ROW) {
		p = sqlite3_column_int(st, 0);
		if (p > want)
			break;
		want = p + 1;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -EIO;
	if (want > sup->port_high)
		return -ENOSPC;
	*port = want;
	return 0;
}

/* 0 when no live agent holds key; -ENOTUNIQ with it in out->conflict. */
static int
credential_key_free(struct store *s, const char *key,
    struct credential_enrolment *out)
{
	static const char sel[] = "SELECT id FROM agents WHERE revoked IS "
	    "NULL AND ssh_key = ?";
	sqlite3_stmt *st;
	int rc;

	if ((st = store_stmt(s, sel)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = store_step(s, st);
	if (rc == SQLITE_ROW)
		snprintf(out->conflict, sizeof(out->conflict), "%s",
		    store_text(st, 0));
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return -ENOTUNIQ;
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int
credential_enroll(struct store *s, const char *token, json_t *host,
    const char *proof, int report_interval, struct credential_enrolment *out)
{
	return credential_enroll_key(s, token, host, proof, report_interval,
	    NULL, out);
}

int
credential_enroll_key(struct store *s, const char *token, json_t *host,
    const char *proof, int report_interval,
    const struct credential_support *sup, struct credential_enrolment *out)
{
	static const char spend[] = "UPDATE tokens SET used = ? WHERE "
	    "hash = ? AND used IS NULL AND revoked IS NULL AND expires > ? "
	    "RETURNING replaces";
	static const char ins[] = "INSERT INTO agents (id, cred_hash, "
	    "machine_id, hostname, inventory, enrolled, report_interval, "
	    "ssh_key, forward_port) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
	char hash[AUTH_HASH_LEN], cred_hash[AUTH_HASH_LEN], esc[256];
	char proof_hash[AUTH_HASH_LEN], replaces[AUTH_UUID_LEN] = "";
	char f_agent[64], f_host[300], conflict[AUTH_UUID_LEN];
	const char *fields[2] = { f_agent, f_host };
	const char *machine_id, *hostname;
	double now = store_now();
	sqlite3_stmt *st;
	char *inventory = NULL;
	int r, rc, locked = 0, has_replaces = 0;

	memset(out, 0, sizeof(*out));
	machine_id = json_string_value(json_object_get(host, "machine_id"));
	hostname = json_string_value(json_object_get(host, "hostname"));
	if (machine_id == NULL || hostname == NULL)
		return -EINVAL;
	if ((r = auth_hash(token, hash, sizeof(hash))) != 0 ||
	    (proof != NULL && (r = auth_hash(proof, proof_hash,
	    sizeof(proof_hash))) != 0) ||
	    (r = auth_uuid(out->agent_id, sizeof(out->agent_id))) != 0 ||
	    (r = credential_new_secret("agc", out->credential,
	    sizeof(out->credential), cred_hash, sizeof(cred_hash))) != 0)
		goto out;
	if ((inventory = json_dumps(host, JSON_COMPACT)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	store_lock(s);
	locked = 1;
	if ((r = store_begin(s)) != 0)
		goto out;
	if ((st = store_stmt(s, spend)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_double(st, 1, now);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 3, now);
	rc = store_step(s, st);
	if (rc == SQLITE_ROW) {
		has_replaces = sqlite3_column_type(st, 0) != SQLITE_NULL;
		snprintf(replaces, sizeof(replaces), "%s", store_text(st, 0));
		rc = store_step(s, st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			r = -EIO;
			goto out;
		}
	} else {
		sqlite3_reset(st);
		r = rc == SQLITE_DONE ? -EACCES : -EIO;
		goto out;
	}
	if ((r = credential_supersede(s, machine_id, proof != NULL ?
	    proof_hash : NULL, has_replaces ? replaces : NULL, out->agent_id,
	    out, now)) != 0)
		goto out;
	/* Two lines with one key would give its holder the first one's
	 * port: a key is one live agent's (its re-enrolment was revoked
	 * above, so it may keep its key). */
	if (sup != NULL && sup->ssh_key != NULL &&
	    (r = credential_key_free(s, sup->ssh_key, out)) != 0) {
		if (r == -ENOTUNIQ)
			log_warnx("enrolment of %s refused: its ssh_key is "
			    "agent %s's", log_escape(esc, sizeof(esc),
			    hostname), out->conflict);
		goto out;
	}
	if (sup != NULL && sup->ssh_key != NULL && sup->port_low > 0 &&
	    (r = credential_pick_port(s, sup, out->agent_id,
	    &out->forward_port)) != 0) {
		if (r == -ENOSPC)
			log_warnx("enrolment of %s refused: every bastion "
			    "forward port from %d to %d is held by a live "
			    "agent (widen --forward-ports, or unenrol hosts)",
			    log_escape(esc, sizeof(esc), hostname),
			    sup->port_low, sup->port_high);
		goto out;
	}
	if ((st = store_stmt(s, ins)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, out->agent_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, cred_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, machine_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, hostname, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, inventory, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 6, now);
	sqlite3_bind_int(st, 7, report_interval);
	if (sup != NULL && sup->ssh_key != NULL)
		sqlite3_bind_text(st, 8, sup->ssh_key, -1, SQLITE_STATIC);
	if (out->forward_port != 0)
		sqlite3_bind_int(st, 9, out->forward_port);
	if (store_step(s, st) != SQLITE_DONE) {
		r = -EIO;
		goto out;
	}
	if ((r = store_commit(s)) != 0)
		goto out;
	snprintf(f_agent, sizeof(f_agent), "AGENT_ID=%s", out->agent_id);
	snprintf(f_host, sizeof(f_host), "HOSTNAME=%s",
	    log_escape(esc, sizeof(esc), hostname));
	log_event(LOG_NOTICE, MSGID_PORTAL_ENROLLED, fields, 2,
	    "enrolled %s as agent %s%s%s%s%s%s", esc, out->agent_id,
	    out->replaced[0] ? ", replacing " : "", out->replaced,
	    out->replaced[0] ? " (" : "", out->how,
	    out->replaced[0] ? ")" : "");
	r = 0;
out:
	if (locked) {
		if (r != 0)
			store_rollback(s);
		if (r == -EEXIST) {
			snprintf(conflict, sizeof(conflict), "%s",
			    out->conflict);
			credential_refused(s, conflict, hostname);
		}
		store_unlock(s);
	}
	if (r != 0) {
		snprintf(conflict, sizeof(conflict), "%s", out->conflict);
		memset(out, 0, sizeof(*out));
		if (r == -EEXIST || r == -ENOTUNIQ)
			snprintf(out->conflict, sizeof(out->conflict), "%s",
			    conflict);
	}
	explicit_bzero(proof_hash, sizeof(proof_hash));
	free(inventory);
	return r;
}

int
credential_agent_check(struct store *s, const char *agent_id,
    const char *credential)
{
	static const char sel[] = "SELECT cred_hash, revoked IS NOT NULL "
	    "FROM agents WHERE id = ?";
	char hash[AUTH_HASH_LEN];
	const char *stored;
	sqlite3_stmt *st;
	int rc, r;

	if ((r = auth_hash(credential, hash, sizeof(hash))) != 0)
		return r;
	store_lock(s);
	if ((st = store_stmt(s, sel)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_STATIC);
	rc = store_step(s, st);
	if (rc == SQLITE_DONE) {
		r = -ENOENT;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = -EIO;
		goto out;
	}
	stored = store_text(st, 0);
	if (!credential_hash_matches(stored, hash) ||
	    sqlite3_column_int(st, 1) != 0)
		r = -EACCES;
	else
		r = 0;
out:
	if (st != NULL)
		sqlite3_reset(st);
	store_unlock(s);
	return r;
}

int
credential_unenroll(struct store *s, const char *agent_id)
{
	static const char upd[] = "UPDATE agents SET revoked = ?, "
	    "unreachable = 0 WHERE id = ? AND revoked IS NULL";
	double now = store_now();
	sqlite3_stmt *st;
	int r;

	store_lock(s);
	if ((r = store_begin(s)) != 0)
		goto out;
	if ((st = store_stmt(s, upd)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_double(st, 1, now);
	sqlite3_bind_text(st, 2, agent_id, -1, SQLITE_STATIC);
	if (store_step(s, st) != SQLITE_DONE) {
		r = -EIO;
		goto out;
	}
	if (sqlite3_changes(store_db(s)) != 1) {
		r = -ENOENT;
		goto out;
	}
	if ((r = alert_close_agent(s, agent_id, now)) != 0)
		goto out;
	r = store_commit(s);
	if (r == 0)
		log_info("agent %s unenrolled", agent_id);
out:
	if (r != 0)
		store_rollback(s);
	store_unlock(s);
	return r;
}

/*
 * Operators and bastions hold the same kind of named, expiring token in
 * tables of the same shape; the statements differ in the table name only
 * (and must be literals for the statement cache).
 */
struct credential_named {
	const char	*prefix;
	const char	*ins, *sel, *used, *list, *revoke;
};

#define CREDENTIAL_NAMED(table, pfx) {					\
	.prefix = pfx,							\
	/* A revoked name may get a new token; a live one not. */	\
	.ins = "INSERT INTO " table " (name, hash, created, expires) "	\
	    "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET "	\
	    "hash = ?2, created = ?3, expires = ?4, revoked = NULL, "	\
	    "used = NULL WHERE " table ".revoked IS NOT NULL",		\
	.sel = "SELECT hash, name FROM " table " WHERE hash = ? AND "	\
	    "revoked IS NULL AND (expires IS NULL OR expires > ?)",	\
	/* At most one write a minute per name for "used". */		\
	.used = "UPDATE " table " SET used = ?1 WHERE name = ?2 AND "	\
	    "(used IS NULL OR used < ?1 - 60 OR used > ?1)",		\
	.list = "SELECT name, created, expires, used, revoked FROM "	\
	    table " ORDER BY name",					\
	.revoke = "UPDATE " table " SET revoked = ? WHERE name = ? AND "	\
	    "revoked IS NULL",						\
}

static const struct credential_named credential_operators =
    CREDENTIAL_NAMED("operators", "opr");
static const struct credential_named credential_bastions =
    CREDENTIAL_NAMED("bastions", "bst");

static int
credential_named_create(struct store *s, const struct credential_named *k,
    const char *name, double ttl, char *token, size_t len)
{
	char hash[AUTH_HASH_LEN];
	sqlite3_stmt *st;
	double now = store_now();
	int rc, r;

	if ((r = credential_new_secret(k->prefix, token, len, hash,
	    sizeof(hash))) != 0)
		return r;
	store_lock(s);
	if ((st = store_stmt(s, k->ins)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 3, now);
	sqlite3_bind_double(st, 4, now + ttl);
	rc = store_step(s, st);
	if (rc != SQLITE_DONE)
		r = -EIO;
	else
		r = sqlite3_changes(store_db(s)) == 1 ? 0 : -EEXIST;
	sqlite3_reset(st);
out:
	store_unlock(s);
	return r;
}

static int
credential_named_check(struct store *s, const struct credential_named *k,
    const char *token, char *name, size_t namelen)
{
	char hash[AUTH_HASH_LEN];
	double now = store_now();
	sqlite3_stmt *st;
	int r;

	if ((r = auth_hash(token, hash, sizeof(hash))) != 0)
		return r;
	store_lock(s);
	if ((st = store_stmt(s, k->sel)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, now);
	if (store_step(s, st) == SQLITE_ROW &&
	    credential_hash_matches(store_text(st, 0), hash)) {
		snprintf(name, namelen, "%s", store_text(st, 1));
		r = 0;
	} else
		r = -EACCES;
	sqlite3_reset(st);
	if (r == 0 && (st = store_stmt(s, k->used)) != NULL) {
		sqlite3_bind_double(st, 1, now);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		store_step(s, st);	/* a bookkeeping failure is logged */
	}
out:
	store_unlock(s);
	return r;
}

static int
credential_named_list(struct store *s, const struct credential_named *k,
    json_t **out)
{
	json_t *arr = json_array(), *e;
	sqlite3_stmt *st;
	int rc, r;

	*out = NULL;
	store_lock(s);
	if ((st = store_stmt(s, k->list)) == NULL) {
		r = -EIO;
		goto out;
	}
	while ((rc = store_step(s, st)) == SQLITE_ROW) {
		e = json_pack("{s:s, s:o, s:o, s:o, s:o}",
		    "name", store_text(st, 0),
		    "created", credential_stamp(st, 1),
		    "expires", credential_stamp(st, 2),
		    "used", credential_stamp(st, 3),
		    "revoked", credential_stamp(st, 4));
		if (e == NULL || json_array_append_new(arr, e) != 0) {
			sqlite3_reset(st);
			r = -ENOMEM;
			goto out;
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		r = -EIO;
		goto out;
	}
	*out = arr;
	arr = NULL;	/* transferred */
	r = 0;
out:
	store_unlock(s);
	json_decref(arr);
	return r;
}

static int
credential_named_revoke(struct store *s, const struct credential_named *k,
    const char *name)
{
	sqlite3_stmt *st;
	int r;

	store_lock(s);
	if ((st = store_stmt(s, k->revoke)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_double(st, 1, store_now());
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	if (store_step(s, st) != SQLITE_DONE)
		r = -EIO;
	else
		r = sqlite3_changes(store_db(s)) > 0 ? 0 : -ENOENT;
out:
	store_unlock(s);
	return r;
}

int
credential_operator_create(struct store *s, const char *name, double ttl,
    char *token, size_t len)
{
	return credential_named_create(s, &credential_operators, name, ttl,
	    token, len);
}

int
credential_operator_check(struct store *s, const char *token, char *name,
    size_t namelen)
{
	return credential_named_check(s, &credential_operators, token, name,
	    namelen);
}

int
credential_operator_list(struct store *s, json_t **out)
{
	return credential_named_list(s, &credential_operators, out);
}

int
credential_operator_revoke(struct store *s, const char *name)
{
	return credential_named_revoke(s, &credential_operators, name);
}

int
credential_bastion_create(struct store *s, const char *name, double ttl,
    char *token, size_t len)
{
	return credential_named_create(s, &credential_bastions, name, ttl,
	    token, len);
}

int
credential_bastion_check(struct store *s, const char *token, char *name,
    size_t namelen)
{
	return credential_named_check(s, &credential_bastions, token, name,
	    namelen);
}

int
credential_bastion_list(struct store *s, json_t **out)
{
	return credential_named_list(s, &credential_bastions, out);
}

int
credential_bastion_revoke(struct store *s, const char *name)
{
	return credential_named_revoke(s, &credential_bastions, name);
}

/*
 * The lines sshd's AuthorizedKeysCommand prints (docs/bastion.md): one
 * per live agent with a key and a port, each allowed to listen on its own
 * port on the bastion's loopback and nothing else. blob (NULL: all) is
 * the base64 part of one key, as sshd's %k gives it.
 */
int
credential_bastion_keys(struct store *s, const char *blob, char **text,
    size_t *len)
{
	static const char all[] = "SELECT id, ssh_key, forward_port FROM "
	    "agents WHERE revoked IS NULL AND ssh_key IS NOT NULL AND "
	    "forward_port IS NOT NULL ORDER BY forward_port";
	static const char one[] = "SELECT id, ssh_key, forward_port FROM "
	    "agents WHERE revoked IS NULL AND ssh_key = ? AND "
	    "forward_port IS NOT NULL ORDER BY forward_port";
	char key[INGEST_MAX_SSH_KEY + 16];
	sqlite3_stmt *st;
	FILE *f;
	int rc, r;

	*text = NULL;
	*len = 0;
	if ((f = open_memstream(text, len)) == NULL)
		return -ENOMEM;
	store_lock(s);
	if ((st = store_stmt(s, blob != NULL ? one : all)) == NULL) {
		r = -EIO;
		goto out;
	}
	if (blob != NULL) {
		snprintf(key, sizeof(key), "ssh-ed25519 %s", blob);
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	}
	while ((rc = store_step(s, st)) == SQLITE_ROW)
		fprintf(f, "restrict,port-forwarding,permitlisten="
		    "\"127.0.0.1:%d\" %s agent-%s\n", sqlite3_column_int(st, 2),
		    store_text(st, 1), store_text(st, 0));
	sqlite3_reset(st);
	r = rc == SQLITE_DONE ? 0 : -EIO;
out:
	store_unlock(s);
	if (fclose(f) != 0 && r == 0)
		r = -ENOMEM;
	if (r != 0) {
		free(*text);
		*text = NULL;
		*len = 0;
	}
	return r;
}
