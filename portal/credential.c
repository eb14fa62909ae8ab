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
credential_token_create(struct store *s, double ttl, char *token, size_t len)
{
	static const char ins[] = "INSERT INTO tokens (hash, created, "
	    "expires) VALUES (?, ?, ?)";
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
	r = store_step(s, st) == SQLITE_DONE ? 0 : -EIO;
out:
	store_unlock(s);
	return r;
}

/* Revokes the live agents of machine_id (a reinstalled host enrols again). */
static int
credential_supersede(struct store *s, const char *machine_id,
    const char *new_id, char *replaced, size_t len, double now)
{
	static const char sel[] = "SELECT id FROM agents WHERE machine_id = ? "
	    "AND revoked IS NULL";
	static const char upd[] = "UPDATE agents SET revoked = ?, "
	    "superseded_by = ? WHERE id = ?";
	char ids[16][AUTH_UUID_LEN];
	sqlite3_stmt *st;
	int n = 0, i, rc, r;

	if ((st = store_stmt(s, sel)) == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, machine_id, -1, SQLITE_STATIC);
	while ((rc = store_step(s, st)) == SQLITE_ROW && n < 16)
		snprintf(ids[n++], AUTH_UUID_LEN, "%s", store_text(st, 0));
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
		snprintf(replaced, len, "%.36s", ids[i]);
	}
	return 0;
}

int
credential_enroll(struct store *s, const char *token, json_t *host,
    int report_interval, struct credential_enrolment *out)
{
	static const char spend[] = "UPDATE tokens SET used = ? WHERE "
	    "hash = ? AND used IS NULL AND expires > ?";
	static const char ins[] = "INSERT INTO agents (id, cred_hash, "
	    "machine_id, hostname, inventory, enrolled, report_interval) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?)";
	char hash[AUTH_HASH_LEN], cred_hash[AUTH_HASH_LEN], esc[256];
	char f_agent[64], f_host[300];
	const char *fields[2] = { f_agent, f_host };
	const char *machine_id, *hostname;
	double now = store_now();
	sqlite3_stmt *st;
	char *inventory = NULL;
	int r, locked = 0;

	memset(out, 0, sizeof(*out));
	machine_id = json_string_value(json_object_get(host, "machine_id"));
	hostname = json_string_value(json_object_get(host, "hostname"));
	if (machine_id == NULL || hostname == NULL)
		return -EINVAL;
	if ((r = auth_hash(token, hash, sizeof(hash))) != 0 ||
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
	if (store_step(s, st) != SQLITE_DONE) {
		r = -EIO;
		goto out;
	}
	if (sqlite3_changes(store_db(s)) != 1) {
		r = -EACCES;
		goto out;
	}
	if ((r = credential_supersede(s, machine_id, out->agent_id,
	    out->replaced, sizeof(out->replaced), now)) != 0)
		goto out;
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
	    "enrolled %s as agent %s%s%s", esc, out->agent_id,
	    out->replaced[0] ? ", replacing " : "", out->replaced);
	r = 0;
out:
	if (locked) {
		if (r != 0)
			store_rollback(s);
		store_unlock(s);
	}
	if (r != 0)
		memset(out, 0, sizeof(*out));
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

int
credential_operator_create(struct store *s, const char *name, char *token,
    size_t len)
{
	static const char ins[] = "INSERT INTO operators (name, hash, created) "
	    "VALUES (?, ?, ?)";
	char hash[AUTH_HASH_LEN];
	sqlite3_stmt *st;
	int rc, r;

	if ((r = credential_new_secret("opr", token, len, hash,
	    sizeof(hash))) != 0)
		return r;
	store_lock(s);
	if ((st = store_stmt(s, ins)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 3, store_now());
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT)
		r = -EEXIST;
	else
		r = rc == SQLITE_DONE ? 0 : -EIO;
	sqlite3_reset(st);
out:
	store_unlock(s);
	return r;
}

int
credential_operator_check(struct store *s, const char *token, char *name,
    size_t namelen)
{
	static const char sel[] = "SELECT hash, name FROM operators WHERE "
	    "hash = ? AND revoked IS NULL";
	char hash[AUTH_HASH_LEN];
	sqlite3_stmt *st;
	int r;

	if ((r = auth_hash(token, hash, sizeof(hash))) != 0)
		return r;
	store_lock(s);
	if ((st = store_stmt(s, sel)) == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	if (store_step(s, st) == SQLITE_ROW &&
	    credential_hash_matches(store_text(st, 0), hash)) {
		snprintf(name, namelen, "%s", store_text(st, 1));
		r = 0;
	} else
		r = -EACCES;
	sqlite3_reset(st);
out:
	store_unlock(s);
	return r;
}
