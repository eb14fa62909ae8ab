/*
 * Users and login sessions. Passwords are hashed with Argon2id at
 * libsodium's INTERACTIVE limits (docs/portal.md, "Accounts", has the
 * measurement behind the choice); a hash runs outside the store lock and
 * in at most hash_slots threads at once, so a flood of logins cannot take
 * every server thread or much memory.
 */
#include <errno.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "account.h"
#include "auth.h"
#include "log.h"
#include "store.h"

static sem_t account_slots;
static char account_dummy[ACCOUNT_HASH_LEN];

static const char *const account_roles[] = { "none", "viewer", "engineer",
    "admin" };

int
account_init(int hash_slots)
{
	char pw[AUTH_TOKEN_LEN];
	int r;

	if (sodium_init() < 0)
		return -EIO;
	if (sem_init(&account_slots, 0, hash_slots > 0 ? hash_slots : 1) != 0)
		return -errno;
	/* An unknown user is verified against this: same cost, never ok. */
	if ((r = account_password_generate(pw, sizeof(pw))) != 0)
		return r;
	r = account_password_hash(pw, account_dummy, sizeof(account_dummy));
	sodium_memzero(pw, sizeof(pw));
	return r;
}

const char *
account_role_name(int role)
{
	if (role < ROLE_NONE || role > ROLE_ADMIN)
		return "none";
	return account_roles[role];
}

int
account_role_parse(const char *s)
{
	int i;

	for (i = ROLE_VIEWER; i <= ROLE_ADMIN; i++)
		if (strcmp(s, account_roles[i]) == 0)
			return i;
	return ROLE_NONE;
}

int
account_name_ok(const char *name)
{
	size_t n = strlen(name);

	return n >= 1 && n <= ACCOUNT_MAX_NAME && strspn(name,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	    "._@-") == n;
}

int
account_password_hash(const char *password, char *out, size_t outlen)
{
	size_t n = strlen(password);

	if (outlen < crypto_pwhash_STRBYTES || n < 1 ||
	    n > ACCOUNT_MAX_PASSWORD)
		return -EINVAL;
	if (crypto_pwhash_str(out, password, n,
	    crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		return -ENOMEM;
	return 0;
}

int
account_password_verify(const char *hash, const char *password)
{
	size_t n = strlen(password);

	if (n > ACCOUNT_MAX_PASSWORD)
		return 0;
	return crypto_pwhash_str_verify(hash, password, n) == 0;
}

int
account_password_generate(char *out, size_t outlen)
{
	char tok[AUTH_TOKEN_LEN];
	int r;

	if (outlen < 25)
		return -EINVAL;
	if ((r = auth_token_new("pwd", tok, sizeof(tok))) != 0)
		return r;
	memcpy(out, tok + 4, 24);	/* 144 random bits */
	out[24] = '\0';
	sodium_memzero(tok, sizeof(tok));
	return 0;
}

int
account_user_create(struct store *s, const char *name, int role,
    const char *password)
{
	char hash[ACCOUNT_HASH_LEN];
	sqlite3_stmt *st;
	int r;

	if (!account_name_ok(name) || role < ROLE_VIEWER || role > ROLE_ADMIN ||
	    strlen(password) < ACCOUNT_MIN_PASSWORD)
		return -EINVAL;
	/* A hash slot, as for a login: the API creates users too. */
	if (sem_trywait(&account_slots) != 0)
		return -EBUSY;
	r = account_password_hash(password, hash, sizeof(hash));
	sem_post(&account_slots);
	if (r != 0)
		return r;
	store_lock(s);
	st = store_stmt(s, "INSERT INTO users (name, role, hash, created) "
	    "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING");
	if (st == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, account_role_name(role), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 4, store_now());
	if (store_step(s, st) != SQLITE_DONE)
		r = -EIO;
	else
		r = sqlite3_changes(store_db(s)) == 1 ? 0 : -EEXIST;
out:
	store_unlock(s);
	sodium_memzero(hash, sizeof(hash));
	return r;
}

/* Ends every session of name; lock held. */
static int
account_sessions_end(struct store *s, const char *name)
{
	sqlite3_stmt *st;

	st = store_stmt(s, "DELETE FROM login_sessions WHERE user_name = ?");
	if (st == NULL)
		return -EIO;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	return store_step(s, st) == SQLITE_DONE ? 0 : -EIO;
}

/*
 * Sets the one column of user name that sql updates ("UPDATE users SET
 * col = ?1 WHERE name = ?2 ..."): text when text is not NULL, else the
 * time now; then ends the user's sessions, in one transaction. 0,
 * -ENOENT when no row changed, or -EIO.
 */
static int
account_user_update(struct store *s, const char *sql, const char *name,
    const char *text)
{
	sqlite3_stmt *st;
	int r;

	store_lock(s);
	if ((r = store_begin(s)) != 0)
		goto out;
	if ((st = store_stmt(s, sql)) == NULL) {
		r = -EIO;
		goto fail;
	}
	if (text != NULL)
		sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_double(st, 1, store_now());
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	if (store_step(s, st) != SQLITE_DONE) {
		r = -EIO;
		goto fail;
	}
	if (sqlite3_changes(store_db(s)) != 1) {
		r = -ENOENT;
		goto fail;
	}
	if ((r = account_sessions_end(s, name)) != 0)
		goto fail;
	r = store_commit(s);
	goto out;
fail:
	store_rollback(s);
out:
	store_unlock(s);
	return r;
}

int
account_user_passwd(struct store *s, const char *name, const char *password)
{
	char hash[ACCOUNT_HASH_LEN];
	int r;

	if (strlen(password) < ACCOUNT_MIN_PASSWORD)
		return -EINVAL;
	if ((r = account_password_hash(password, hash, sizeof(hash))) != 0)
		return r;
	r = account_user_update(s, "UPDATE users SET hash = ?1 WHERE "
	    "name = ?2", name, hash);
	sodium_memzero(hash, sizeof(hash));
	return r;
}

int
account_user_disable(struct store *s, const char *name)
{
	return account_user_update(s, "UPDATE users SET disabled = ?1 WHERE "
	    "name = ?2 AND disabled IS NULL", name, NULL);
}

int
account_user_list(struct store *s, json_t **out)
{
	sqlite3_stmt *st;
	json_t *arr = json_array();
	int rc, r;

	*out = NULL;
	store_lock(s);
	st = store_stmt(s, "SELECT name, role, created, disabled FROM users "
	    "ORDER BY name");
	if (st == NULL) {
		r = -EIO;
		goto out;
	}
	while ((rc = store_step(s, st)) == SQLITE_ROW)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:f, s:o}",
		    "name", store_text(st, 0), "role", store_text(st, 1),
		    "created", sqlite3_column_double(st, 2), "disabled",
		    sqlite3_column_type(st, 3) == SQLITE_NULL ? json_null() :
		    json_real(sqlite3_column_double(st, 3))));
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
account_login(struct store *s, const char *name, const char *password,
    int *role)
{
	char hash[ACCOUNT_HASH_LEN];
	sqlite3_stmt *st;
	int found = 0, rc, r, ok;

	*role = ROLE_NONE;
	/* A free hash slot or none: a thread never queues for one. */
	if (sem_trywait(&account_slots) != 0)
		return -EBUSY;
	store_lock(s);
	st = store_stmt(s, "SELECT hash, role FROM users WHERE name = ? AND "
	    "disabled IS NULL");
	if (st == NULL) {
		store_unlock(s);
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = store_step(s, st);
	if (rc == SQLITE_ROW && strlen(store_text(st, 0)) < sizeof(hash)) {
		strncpy(hash, store_text(st, 0), sizeof(hash) - 1);
		hash[sizeof(hash) - 1] = '\0';
		*role = account_role_parse(store_text(st, 1));
		found = 1;
	}
	store_unlock(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = -EIO;
		goto out;
	}
	/* The unknown user pays the same Argon2id as the known one. */
	ok = account_password_verify(found ? hash : account_dummy, password);
	r = found && ok && *role != ROLE_NONE ? 0 : -EACCES;
out:
	if (r != 0)
		*role = ROLE_NONE;
	sem_post(&account_slots);
	sodium_memzero(hash, sizeof(hash));
	return r;
}

int
account_session_create(struct store *s, const char *user, double now,
    double ttl, char *token, size_t tokenlen, struct account_session *out)
{
	char hash[AUTH_HASH_LEN];
	sqlite3_stmt *st;
	int r;

	memset(out, 0, sizeof(*out));
	if (tokenlen < AUTH_TOKEN_LEN || strlen(user) > ACCOUNT_MAX_NAME)
		return -EINVAL;
	if ((r = auth_token_new("ses", token, tokenlen)) != 0 ||
	    (r = auth_token_new("csr", out->csrf, sizeof(out->csrf))) != 0 ||
	    (r = auth_hash(token, hash, sizeof(hash))) != 0)
		return r;
	store_lock(s);
	if ((r = store_begin(s)) != 0)
		goto out;
	/* Expired sessions go at each login: the table stays small. */
	st = store_stmt(s, "DELETE FROM login_sessions WHERE expires <= ?");
	if (st == NULL) {
		r = -EIO;
		goto fail;
	}
	sqlite3_bind_double(st, 1, now);
	if (store_step(s, st) != SQLITE_DONE) {
		r = -EIO;
		goto fail;
	}
	st = store_stmt(s, "INSERT INTO login_sessions (hash, user_name, csrf, "
	    "created, last_seen, expires) VALUES (?, ?, ?, ?, ?, ?)");
	if (st == NULL) {
		r = -EIO;
		goto fail;
	}
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, out->csrf, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 4, now);
	sqlite3_bind_double(st, 5, now);
	sqlite3_bind_double(st, 6, now + ttl);
	if (store_step(s, st) != SQLITE_DONE) {
		r = -EIO;
		goto fail;
	}
	if ((r = store_commit(s)) != 0)
		goto out;
	snprintf(out->user, sizeof(out->user), "%s", user);
	out->created = out->last_seen = now;
	out->expires = now + ttl;
	goto out;
fail:
	store_rollback(s);
out:
	store_unlock(s);
	if (r != 0) {
		sodium_memzero(token, tokenlen);
		memset(out, 0, sizeof(*out));
	}
	return r;
}

int
account_session_check(struct store *s, const char *token, double now,
    double idle, struct account_session *out)
{
	char hash[AUTH_HASH_LEN];
	sqlite3_stmt *st;
	int rc, r, dead = 0;

	memset(out, 0, sizeof(*out));
	if (strlen(token) >= AUTH_TOKEN_LEN + 8 ||
	    (r = auth_hash(token, hash, sizeof(hash))) != 0)
		return -EACCES;
	store_lock(s);
	st = store_stmt(s, "SELECT l.user_name, l.csrf, l.created, "
	    "l.last_seen, l.expires, u.role, u.disabled FROM login_sessions l "
	    "JOIN users u ON u.name = l.user_name WHERE l.hash = ?");
	if (st == NULL) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	rc = store_step(s, st);
	if (rc == SQLITE_DONE) {
		r = -EACCES;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = -EIO;
		goto out;
	}
	snprintf(out->user, sizeof(out->user), "%s", store_text(st, 0));
	snprintf(out->csrf, sizeof(out->csrf), "%s", store_text(st, 1));
	out->created = sqlite3_column_double(st, 2);
	out->last_seen = sqlite3_column_double(st, 3);
	out->expires = sqlite3_column_double(st, 4);
	out->role = account_role_parse(store_text(st, 5));
	if (out->expires <= now || out->last_seen + idle <= now ||
	    sqlite3_column_type(st, 6) != SQLITE_NULL ||
	    out->role == ROLE_NONE)
		dead = 1;
	/* Written at most once a second: reads need not all be writes. */
	st = dead ? store_stmt(s, "DELETE FROM login_sessions WHERE hash = ?") :
	    now - out->last_seen >= 1 ? store_stmt(s, "UPDATE login_sessions "
	    "SET last_seen = ? WHERE hash = ?") : NULL;
	if (st != NULL) {
		if (dead)
			sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
		else {
			sqlite3_bind_double(st, 1, now);
			sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
		}
		if (store_step(s, st) != SQLITE_DONE) {
			r = -EIO;
			goto out;
		}
	}
	if (dead) {
		r = -EACCES;
		goto out;
	}
	out->last_seen = now;
	r = 0;
out:
	store_unlock(s);
	if (r != 0)
		memset(out, 0, sizeof(*out));
	return r;
}

int
account_session_delete(struct store *s, const char *token)
{
	char hash[AUTH_HASH_LEN];
	sqlite3_stmt *st;
	int r;

	if (auth_hash(token, hash, sizeof(hash)) != 0)
		return -EIO;
	store_lock(s);
	st = store_stmt(s, "DELETE FROM login_sessions WHERE hash = ?");
	if (st == NULL)
		r = -EIO;
	else {
		sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
		if (store_step(s, st) != SQLITE_DONE)
			r = -EIO;
		else
			r = sqlite3_changes(store_db(s)) == 1 ? 0 : -ENOENT;
	}
	store_unlock(s);
	return r;
}

int
account_csrf_ok(const char *expected, const char *given)
{
	size_t n = strlen(expected);

	if (given == NULL || n == 0 || strlen(given) != n)
		return 0;
	return auth_equal(expected, given, n);
}
