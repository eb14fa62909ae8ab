/*
 * Operator accounts (portal/account.c, audit.c, loginlimit.c) and the
 * operator route table (api.c): password hashing and verification,
 * session expiry with injected times, the CSRF comparison, roles.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "account.h"
#include "api.h"
#include "audit.h"
#include "loginlimit.h"
#include "portalfix.h"

static int
setup(void **state)
{
	if (account_init(1) != 0)
		return -1;
	return portalfix_setup(state);
}

static void
test_password(void **state)
{
	char hash[ACCOUNT_HASH_LEN], hash2[ACCOUNT_HASH_LEN], pw[32];
	char big[ACCOUNT_MAX_PASSWORD + 2];

	(void)state;
	assert_int_equal(account_password_hash("correct horse", hash,
	    sizeof(hash)), 0);
	/* Argon2id at the INTERACTIVE limits, salted: two hashes differ. */
	assert_non_null(strstr(hash, "$argon2id$v=19$m=65536,t=2,p=1$"));
	assert_int_equal(account_password_hash("correct horse", hash2,
	    sizeof(hash2)), 0);
	assert_string_not_equal(hash, hash2);
	assert_true(account_password_verify(hash, "correct horse"));
	assert_false(account_password_verify(hash, "correct hors"));
	assert_false(account_password_verify(hash, "correct horse "));
	assert_false(account_password_verify(hash, ""));
	assert_false(account_password_verify("garbage", "correct horse"));
	assert_int_equal(account_password_hash("", hash, sizeof(hash)),
	    -EINVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(account_password_hash(big, hash, sizeof(hash)),
	    -EINVAL);
	assert_false(account_password_verify(hash2, big));
	assert_int_equal(account_password_generate(pw, sizeof(pw)), 0);
	assert_int_equal(strlen(pw), 24);
}

static void
test_users(void **state)
{
	struct portalfix *f = *state;
	json_t *list;
	int role;

	assert_int_equal(account_user_create(f->store, "alice", ROLE_ENGINEER,
	    "password-1"), 0);
	assert_int_equal(account_user_create(f->store, "alice", ROLE_ADMIN,
	    "password-2"), -EEXIST);
	assert_int_equal(account_user_create(f->store, "bad name",
	    ROLE_ADMIN, "password-2"), -EINVAL);
	assert_int_equal(account_user_create(f->store, "bob", ROLE_NONE,
	    "password-2"), -EINVAL);
	assert_int_equal(account_user_create(f->store, "bob", ROLE_VIEWER,
	    "short"), -EINVAL);
	assert_int_equal(account_login(f->store, "alice", "password-1", &role),
	    0);
	assert_int_equal(role, ROLE_ENGINEER);
	assert_int_equal(account_login(f->store, "alice", "password-2", &role),
	    -EACCES);
	assert_int_equal(role, ROLE_NONE);
	assert_int_equal(account_login(f->store, "nobody", "password-1",
	    &role), -EACCES);
	assert_int_equal(account_user_passwd(f->store, "alice", "password-3"),
	    0);
	assert_int_equal(account_login(f->store, "alice", "password-1", &role),
	    -EACCES);
	assert_int_equal(account_login(f->store, "alice", "password-3", &role),
	    0);
	assert_int_equal(account_user_passwd(f->store, "nobody", "password-3"),
	    -ENOENT);
	assert_int_equal(account_user_disable(f->store, "alice"), 0);
	assert_int_equal(account_user_disable(f->store, "alice"), -ENOENT);
	assert_int_equal(account_login(f->store, "alice", "password-3", &role),
	    -EACCES);
	assert_int_equal(account_user_list(f->store, &list), 0);
	assert_int_equal(json_array_size(list), 1);
	assert_true(json_is_number(json_object_get(json_array_get(list, 0),
	    "disabled")));
	assert_null(json_object_get(json_array_get(list, 0), "hash"));
	json_decref(list);
}

static void
test_session_expiry(void **state)
{
	struct portalfix *f = *state;
	struct account_session s, c;
	char tok[AUTH_TOKEN_LEN], tok2[AUTH_TOKEN_LEN];
	double t = 1000000;

	assert_int_equal(account_user_create(f->store, "carol", ROLE_VIEWER,
	    "password-1"), 0);
	/* 100 s absolute, 30 s idle. */
	assert_int_equal(account_session_create(f->store, "carol", t, 100, tok,
	    sizeof(tok), &s), 0);
	assert_int_equal(strncmp(tok, "ses_", 4), 0);
	assert_int_equal(strncmp(s.csrf, "csr_", 4), 0);
	assert_int_equal(account_session_check(f->store, tok, t + 29, 30, &c),
	    0);
	assert_string_equal(c.user, "carol");
	assert_int_equal(c.role, ROLE_VIEWER);
	assert_string_equal(c.csrf, s.csrf);
	/* Each use moves last_seen: never idle, until the absolute end. */
	assert_int_equal(account_session_check(f->store, tok, t + 58, 30, &c),
	    0);
	assert_int_equal(account_session_check(f->store, tok, t + 87, 30, &c),
	    0);
	assert_int_equal(account_session_check(f->store, tok, t + 100, 30,
	    &c), -EACCES);
	/* Deleted once expired: an earlier time does not bring it back. */
	assert_int_equal(account_session_check(f->store, tok, t + 1, 30, &c),
	    -EACCES);

	/* Idle: 30 s without a request ends it. */
	assert_int_equal(account_session_create(f->store, "carol", t, 100, tok,
	    sizeof(tok), &s), 0);
	assert_int_equal(account_session_check(f->store, tok, t + 30, 30, &c),
	    -EACCES);

	/* Logout, and a disabled user's sessions end. */
	assert_int_equal(account_session_create(f->store, "carol", t, 100, tok,
	    sizeof(tok), &s), 0);
	assert_int_equal(account_session_create(f->store, "carol", t, 100,
	    tok2, sizeof(tok2), &s), 0);
	assert_int_equal(account_session_delete(f->store, tok), 0);
	assert_int_equal(account_session_delete(f->store, tok), -ENOENT);
	assert_int_equal(account_session_check(f->store, tok, t + 1, 30, &c),
	    -EACCES);
	assert_int_equal(account_session_check(f->store, tok2, t + 1, 30, &c),
	    0);
	assert_int_equal(account_user_disable(f->store, "carol"), 0);
	assert_int_equal(account_session_check(f->store, tok2, t + 2, 30, &c),
	    -EACCES);
	assert_int_equal(account_session_check(f->store, "ses_forged", t, 30,
	    &c), -EACCES);
}

static void
test_csrf(void **state)
{
	(void)state;
	assert_true(account_csrf_ok("csr_abc", "csr_abc"));
	assert_false(account_csrf_ok("csr_abc", "csr_abd"));
	assert_false(account_csrf_ok("csr_abc", "csr_ab"));
	assert_false(account_csrf_ok("csr_abc", "csr_abcd"));
	assert_false(account_csrf_ok("csr_abc", ""));
	assert_false(account_csrf_ok("csr_abc", NULL));
	assert_false(account_csrf_ok("", ""));
}

static void
test_roles(void **state)
{
	const char *allow = NULL;

	(void)state;
	assert_int_equal(account_role_parse("viewer"), ROLE_VIEWER);
	assert_int_equal(account_role_parse("admin"), ROLE_ADMIN);
	assert_int_equal(account_role_parse("root"), ROLE_NONE);
	assert_string_equal(account_role_name(ROLE_ENGINEER), "engineer");
	assert_int_equal(api_route_role("GET", "hosts", NULL), ROLE_VIEWER);
	assert_int_equal(api_route_role("GET", "hosts/abc", NULL),
	    ROLE_VIEWER);
	assert_int_equal(api_route_role("GET", "hosts/abc/commands", NULL),
	    ROLE_VIEWER);
	assert_int_equal(api_route_role("POST", "hosts/abc/commands", NULL),
	    ROLE_ENGINEER);
	assert_int_equal(api_route_role("DELETE", "hosts/abc", NULL),
	    ROLE_ADMIN);
	assert_int_equal(api_route_role("POST", "tokens", NULL), ROLE_ADMIN);
	assert_int_equal(api_route_role("DELETE", "tokens/7", NULL),
	    ROLE_ADMIN);
	assert_int_equal(api_route_role("GET", "audit", NULL), ROLE_ADMIN);
	assert_int_equal(api_route_role("GET", "users", NULL), ROLE_ADMIN);
	assert_int_equal(api_route_role("POST", "users", NULL), ROLE_ADMIN);
	assert_int_equal(api_route_role("DELETE", "users/bob", NULL),
	    ROLE_ADMIN);
	assert_int_equal(api_route_role("GET", "session", NULL), ROLE_VIEWER);
	assert_int_equal(api_route_role("POST", "logout", NULL), ROLE_VIEWER);
	/* Every state-changing route needs more than a viewer. */
	assert_true(api_route_role("POST", "hosts/x/commands", NULL) >
	    ROLE_VIEWER);
	/* Not operator routes: the handler's own. */
	assert_int_equal(api_route_role("POST", "login", NULL), 0);
	assert_int_equal(api_route_role("POST", "enroll", NULL), 0);
	assert_int_equal(api_route_role("POST", "agents/x/reports", NULL), 0);
	assert_int_equal(api_route_role("GET", "hosts/", NULL), 0);
	assert_int_equal(api_route_role("GET", "hosts/a/b/c", NULL), 0);
	assert_int_equal(api_route_role("GET", "hostsx", NULL), 0);
	/* A known path with another method: 405 with its Allow. */
	assert_int_equal(api_route_role("PUT", "hosts/abc/commands", &allow),
	    -1);
	assert_string_equal(allow, "GET, POST");
	assert_int_equal(api_route_role("POST", "hosts", &allow), -1);
	assert_string_equal(allow, "GET");
}

static void
test_loginlimit(void **state)
{
	struct loginlimit *l = loginlimit_new(5);
	int i;

	(void)state;
	for (i = 0; i < 4; i++)
		loginlimit_fail(l, "name:bob", 100);
	assert_int_equal(loginlimit_check(l, "name:bob", 100), 0);
	loginlimit_fail(l, "name:bob", 100);
	/* The 5th failure: 2 s, then each one doubles it. */
	assert_int_equal(loginlimit_check(l, "name:bob", 100), 2);
	assert_int_equal(loginlimit_check(l, "name:bob", 101.5), 1);
	assert_int_equal(loginlimit_check(l, "name:bob", 102), 0);
	loginlimit_fail(l, "name:bob", 102);
	assert_int_equal(loginlimit_check(l, "name:bob", 102), 4);
	for (i = 0; i < 30; i++)
		loginlimit_fail(l, "name:bob", 200);
	assert_int_equal(loginlimit_check(l, "name:bob", 200),
	    LOGINLIMIT_MAX_DELAY);
	assert_int_equal(loginlimit_check(l, "name:alice", 200), 0);
	/* Forgotten after an hour without a failure, or on success. */
	assert_int_equal(loginlimit_check(l, "name:bob",
	    200 + LOGINLIMIT_FORGET), 0);
	for (i = 0; i < 6; i++)
		loginlimit_fail(l, "name:carol", 300);
	loginlimit_clear(l, "name:carol");
	assert_int_equal(loginlimit_check(l, "name:carol", 300), 0);
	/* Many keys: the table stays bounded and keeps working. */
	for (i = 0; i < 20000; i++) {
		char key[32];

		snprintf(key, sizeof(key), "addr:%d", i);
		loginlimit_fail(l, key, 400);
	}
	loginlimit_free(l);
}

static void
test_audit(void **state)
{
	struct portalfix *f = *state;
	json_t *page, *recs;
	long long next;
	int i;

	for (i = 0; i < 5; i++)
		assert_int_equal(audit_log(f->store, "user:alice", "127.0.0.1",
		    "command.create", "host-1", i == 4 ? NULL : "cmd_1"), 0);
	assert_int_equal(audit_list(f->store, 0, 3, &page), 0);
	recs = json_object_get(page, "records");
	assert_int_equal(json_array_size(recs), 3);
	assert_true(json_is_null(json_object_get(json_array_get(recs, 0),
	    "detail")));
	next = json_integer_value(json_object_get(page, "next"));
	assert_true(next > 0);
	json_decref(page);
	assert_int_equal(audit_list(f->store, next, 3, &page), 0);
	assert_int_equal(json_array_size(json_object_get(page, "records")), 2);
	assert_true(json_is_null(json_object_get(page, "next")));
	json_decref(page);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_password),
		cmocka_unit_test_setup_teardown(test_users, setup,
		    portalfix_teardown),
		cmocka_unit_test_setup_teardown(test_session_expiry, setup,
		    portalfix_teardown),
		cmocka_unit_test(test_csrf),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_loginlimit),
		cmocka_unit_test_setup_teardown(test_audit, setup,
		    portalfix_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
