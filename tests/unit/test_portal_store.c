/* The portal store on a real SQLite file: idempotent report storage and
 * ack, one-time and expiring enrolment tokens, revoked credentials. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "alert.h"
#include "credential.h"
#include "fleet.h"
#include "ingest.h"
#include "ledger.h"
#include "log.h"
#include "store.h"

struct fixture {
	char		 dir[64];
	char		 path[96];
	struct store	*store;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	log_init("test", LOG_TARGET_STDERR, 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/portal-store.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/db", f->dir);
	if (store_open(f->path, &f->store, err, sizeof(err)) != 0) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char p[128];

	store_close(f->store);
	snprintf(p, sizeof(p), "rm -rf %s", f->dir);
	if (system(p) != 0)
		return -1;
	free(f);
	return 0;
}

static void
enrol(struct store *s, const char *machine_id,
    struct credential_enrolment *e)
{
	char tok[AUTH_TOKEN_LEN];
	json_t *host;

	assert_int_equal(credential_token_create(s, 3600, NULL, tok, sizeof(tok)),
	    0);
	host = json_pack("{s:s, s:s}", "hostname", "web-01", "machine_id",
	    machine_id);
	assert_int_equal(credential_enroll(s, tok, host, NULL, 60, e), 0);
	json_decref(host);
}

/* An enrolment of machine_id with proof and a token replacing replaces;
 * asserts the result r. */
static void
enrol_proved(struct store *s, const char *machine_id, const char *proof,
    const char *replaces, struct credential_enrolment *e, int r)
{
	char tok[AUTH_TOKEN_LEN];
	json_t *host;

	assert_int_equal(credential_token_create(s, 3600, replaces, tok,
	    sizeof(tok)), 0);
	host = json_pack("{s:s, s:s}", "hostname", "web-01", "machine_id",
	    machine_id);
	assert_int_equal(credential_enroll(s, tok, host, proof, 60, e), r);
	json_decref(host);
}

static int
post_rc(struct store *s, const char *agent, const char *json, long long *ack)
{
	struct ingest_batch b;
	json_t *cmds;
	char err[256];
	int r;

	if (ingest_parse_reports(json, strlen(json), &b, err,
	    sizeof(err)) != 0) {
		print_error("parse: %s\n", err);
		fail();
	}
	r = ledger_store(s, agent, &b, ack, &cmds);
	ingest_batch_clear(&b);
	json_decref(cmds);
	return r;
}

static long long
post(struct store *s, const char *agent, const char *json)
{
	long long ack;

	assert_int_equal(post_rc(s, agent, json, &ack), 0);
	return ack;
}

static int
count_reports(struct store *s, const char *agent)
{
	static const char sql[] = "SELECT count(*) FROM reports WHERE "
	    "agent_id = ?";
	sqlite3_stmt *st;
	int n;

	store_lock(s);
	st = store_stmt(s, sql);
	sqlite3_bind_text(st, 1, agent, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	store_unlock(s);
	return n;
}

static void
test_idempotent(void **state)
{
	struct fixture *f = *state;
	struct credential_enrolment e;
	static const char b1[] = "{\"reports\": [{\"seq\": 1, \"kind\": "
	    "\"heartbeat\", \"time\": 1, \"payload\": {\"checks\": [{\"name\": "
	    "\"disk\", \"state\": \"CRITICAL\", \"when\": 1}]}}, {\"seq\": 2, "
	    "\"kind\": \"x\", \"time\": 2, \"payload\": {}}]}";
	static const char b0[] = "{\"reports\": [{\"seq\": 1, \"kind\": "
	    "\"heartbeat\", \"time\": 1, \"payload\": {\"checks\": [{\"name\": "
	    "\"disk\", \"state\": \"CRITICAL\", \"when\": 1}]}}]}";
	json_t *alerts;

	enrol(f->store, "m1", &e);
	assert_int_equal(post(f->store, e.agent_id, b1), 2);
	assert_int_equal(count_reports(f->store, e.agent_id), 2);
	/* the same batch again: same ack, stored once, no second alert */
	assert_int_equal(post(f->store, e.agent_id, b1), 2);
	assert_int_equal(count_reports(f->store, e.agent_id), 2);
	/* an older seq alone, the same report, still acks the highest */
	assert_int_equal(post(f->store, e.agent_id, b0), 2);
	assert_int_equal(count_reports(f->store, e.agent_id), 2);
	assert_int_equal(post(f->store, e.agent_id, "{\"reports\": []}"), 2);
	assert_int_equal(fleet_alerts(f->store, 1, 0, 0, &alerts), 0);
	assert_int_equal(json_array_size(json_object_get(alerts, "alerts")),
	    1);
	json_decref(alerts);
}

static const char *
check_state(struct store *s, const char *agent, const char *name, char *buf,
    size_t len)
{
	static const char sql[] = "SELECT state FROM checks WHERE "
	    "agent_id = ? AND name = ?";
	sqlite3_stmt *st;

	buf[0] = '\0';
	store_lock(s);
	st = store_stmt(s, sql);
	sqlite3_bind_text(st, 1, agent, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(buf, len, "%s", sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	store_unlock(s);
	return buf;
}

static size_t
open_alerts(struct store *s)
{
	json_t *alerts;
	size_t n;

	assert_int_equal(fleet_alerts(s, 1, 0, 0, &alerts), 0);
	n = json_array_size(json_object_get(alerts, "alerts"));
	json_decref(alerts);
	return n;
}

/* A seq already stored with other content is a sequence conflict: nothing
 * of the batch is stored, the ack says where to renumber from, the host
 * gets a "sequence" alert; the agent's sequence_reset report closes it. */
static void
test_sequence_conflict(void **state)
{
	struct fixture *f = *state;
	struct credential_enrolment e;
	static const char b1[] = "{\"reports\": [{\"seq\": 1, \"kind\": "
	    "\"x\", \"time\": 1, \"payload\": {}}, {\"seq\": 2, \"kind\": "
	    "\"x\", \"time\": 2, \"payload\": {\"n\": 2}}]}";
	/* the spool was lost: numbering restarts at 1 */
	static const char again[] = "{\"reports\": [{\"seq\": 1, \"kind\": "
	    "\"x\", \"time\": 1, \"payload\": {}}, {\"seq\": 2, \"kind\": "
	    "\"x\", \"time\": 50, \"payload\": {\"n\": 50}}, {\"seq\": 3, "
	    "\"kind\": \"x\", \"time\": 51, \"payload\": {}}]}";
	static const char renum[] = "{\"reports\": [{\"seq\": 3, \"kind\": "
	    "\"x\", \"time\": 50, \"payload\": {\"n\": 50}}, {\"seq\": 4, "
	    "\"kind\": \"x\", \"time\": 51, \"payload\": {}}, {\"seq\": 5, "
	    "\"kind\": \"sequence_reset\", \"time\": 52, \"payload\": "
	    "{\"renumbered\": 2, \"old_first\": 2, \"new_first\": 3}}]}";
	json_t *alerts, *a;
	long long ack = -1;

	enrol(f->store, "m6", &e);
	assert_int_equal(post(f->store, e.agent_id, b1), 2);
	assert_int_equal(post_rc(f->store, e.agent_id, again, &ack), -EEXIST);
	assert_int_equal(ack, 2);
	assert_int_equal(count_reports(f->store, e.agent_id), 2);
	assert_int_equal(open_alerts(f->store), 1);
	/* again: still one alert */
	assert_int_equal(post_rc(f->store, e.agent_id, again, &ack), -EEXIST);
	assert_int_equal(open_alerts(f->store), 1);
	assert_int_equal(post(f->store, e.agent_id, renum), 5);
	assert_int_equal(count_reports(f->store, e.agent_id), 5);
	assert_int_equal(open_alerts(f->store), 0);
	assert_int_equal(fleet_alerts(f->store, 0, 0, 0, &alerts), 0);
	a = json_array_get(json_object_get(alerts, "alerts"), 0);
	assert_string_equal(json_string_value(json_object_get(a, "kind")),
	    "sequence");
	assert_string_equal(json_string_value(json_object_get(a, "summary")),
	    "sequence reset: 2 reports renumbered (from seq 2 to 3)");
	json_decref(alerts);
}

/* PENDING is "no result yet": stored, makes a new check known, never
 * changes a known check's state nor its alerts. */
static void
test_pending(void **state)
{
	struct fixture *f = *state;
	struct credential_enrolment e;
	static const char b1[] = "{\"reports\": [{\"seq\": 1, \"kind\": "
	    "\"heartbeat\", \"time\": 1, \"payload\": {\"checks\": [{\"name\": "
	    "\"disk\", \"state\": \"CRITICAL\", \"when\": 1}]}}]}";
	static const char b2[] = "{\"reports\": [{\"seq\": 2, \"kind\": "
	    "\"heartbeat\", \"time\": 2, \"payload\": {\"checks\": [{\"name\": "
	    "\"disk\", \"state\": \"PENDING\", \"summary\": \"not run yet\"}, "
	    "{\"name\": \"nginx\", \"state\": \"PENDING\"}]}}]}";
	static const char b3[] = "{\"reports\": [{\"seq\": 3, \"kind\": "
	    "\"heartbeat\", \"time\": 3, \"payload\": {\"checks\": [{\"name\": "
	    "\"nginx\", \"state\": \"WARNING\", \"when\": 0.5}]}}]}";
	char buf[16];
	json_t *h;

	enrol(f->store, "m5", &e);
	assert_int_equal(post(f->store, e.agent_id, b1), 1);
	assert_int_equal(open_alerts(f->store), 1);
	assert_int_equal(post(f->store, e.agent_id, b2), 2);
	assert_int_equal(count_reports(f->store, e.agent_id), 2);
	assert_string_equal(check_state(f->store, e.agent_id, "disk", buf,
	    sizeof(buf)), "CRITICAL");
	assert_string_equal(check_state(f->store, e.agent_id, "nginx", buf,
	    sizeof(buf)), "PENDING");
	assert_int_equal(open_alerts(f->store), 1);
	assert_int_equal(fleet_host(f->store, e.agent_id, &h), 0);
	assert_string_equal(json_string_value(json_object_get(h, "status")),
	    "critical");
	json_decref(h);
	/* a real result replaces PENDING whatever its (agent) time */
	assert_int_equal(post(f->store, e.agent_id, b3), 3);
	assert_string_equal(check_state(f->store, e.agent_id, "nginx", buf,
	    sizeof(buf)), "WARNING");
	assert_int_equal(open_alerts(f->store), 2);
}

static void
test_token_one_time(void **state)
{
	struct fixture *f = *state;
	struct credential_enrolment e;
	char tok[AUTH_TOKEN_LEN];
	json_t *host = json_pack("{s:s, s:s}", "hostname", "h", "machine_id",
	    "m2");

	assert_int_equal(credential_token_create(f->store, 3600, NULL, tok,
	    sizeof(tok)), 0);
	assert_int_equal(credential_enroll(f->store, tok, host, NULL, 60, &e), 0);
	assert_int_equal(credential_enroll(f->store, tok, host, NULL, 60, &e),
	    -EACCES);
	assert_int_equal(credential_enroll(f->store, "enr_unknown", host, NULL, 60,
	    &e), -EACCES);
	/* already expired */
	assert_int_equal(credential_token_create(f->store, -1, NULL, tok,
	    sizeof(tok)), 0);
	assert_int_equal(credential_enroll(f->store, tok, host, NULL, 60, &e),
	    -EACCES);
	json_decref(host);
}

static void
test_credentials(void **state)
{
	struct fixture *f = *state;
	struct credential_enrolment a, b;
	char name[64], op[AUTH_TOKEN_LEN], op2[AUTH_TOKEN_LEN];

	enrol(f->store, "m3", &a);
	assert_int_equal(credential_agent_check(f->store, a.agent_id,
	    a.credential), 0);
	assert_int_equal(credential_agent_check(f->store, a.agent_id,
	    "agc_wrong"), -EACCES);
	assert_int_equal(credential_agent_check(f->store, "nope",
	    a.credential), -ENOENT);
	/* the same machine enrols again with its credential: the old
	 * credential is revoked */
	enrol_proved(f->store, "m3", a.credential, NULL, &b, 0);
	assert_string_equal(b.replaced, a.agent_id);
	assert_int_equal(credential_agent_check(f->store, a.agent_id,
	    a.credential), -EACCES);
	assert_int_equal(credential_agent_check(f->store, b.agent_id,
	    b.credential), 0);
	assert_int_equal(credential_unenroll(f->store, b.agent_id), 0);
	assert_int_equal(credential_agent_check(f->store, b.agent_id,
	    b.credential), -EACCES);
	assert_int_equal(credential_operator_create(f->store, "alice", 3600, op,
	    sizeof(op)), 0);
	assert_int_equal(credential_operator_create(f->store, "alice", 3600, op2,
	    sizeof(op2)), -EEXIST);
	assert_int_equal(credential_operator_check(f->store, op, name,
	    sizeof(name)), 0);
	assert_string_equal(name, "alice");
	assert_int_equal(credential_operator_check(f->store, "opr_x", name,
	    sizeof(name)), -EACCES);
}

static void
test_deadman(void **state)
{
	struct fixture *f = *state;
	struct credential_enrolment e;
	json_t *h;

	enrol(f->store, "m4", &e);
	assert_int_equal(alert_deadman_scan(f->store, store_now()), 0);
	/* 3 x 60 s later */
	assert_int_equal(alert_deadman_scan(f->store, store_now() + 181), 1);
	assert_int_equal(alert_deadman_scan(f->store, store_now() + 181), 0);
	assert_int_equal(fleet_host(f->store, e.agent_id, &h), 0);
	assert_string_equal(json_string_value(json_object_get(h, "status")),
	    "unreachable");
	json_decref(h);
	post(f->store, e.agent_id, "{\"reports\": []}");
	assert_int_equal(fleet_host(f->store, e.agent_id, &h), 0);
	assert_string_equal(json_string_value(json_object_get(h, "status")),
	    "unknown");
	json_decref(h);
	assert_int_equal(fleet_alerts(f->store, 1, 0, 0, &h), 0);
	assert_int_equal(json_array_size(json_object_get(h, "alerts")), 0);
	json_decref(h);
}

/* Another holder of a token cannot take over a live host's slot. */
static void
test_takeover(void **state)
{
	struct fixture *f = *state;
	struct credential_enrolment v, x, y;
	json_t *alerts, *a;

	enrol(f->store, "victim", &v);
	/* no proof: refused, nothing changes, the refusal is an alert */
	enrol_proved(f->store, "victim", NULL, NULL, &x, -EEXIST);
	assert_string_equal(x.conflict, v.agent_id);
	assert_int_equal(credential_agent_check(f->store, v.agent_id,
	    v.credential), 0);
	/* a wrong credential is no proof either; one alert stays open */
	enrol_proved(f->store, "victim", "agc_guess", NULL, &x, -EEXIST);
	assert_int_equal(fleet_alerts(f->store, 1, 0, 0, &alerts), 0);
	assert_int_equal(json_array_size(json_object_get(alerts, "alerts")),
	    1);
	a = json_array_get(json_object_get(alerts, "alerts"), 0);
	assert_string_equal(json_string_value(json_object_get(a, "kind")),
	    "enrolment_refused");
	assert_string_equal(json_string_value(json_object_get(a, "host_id")),
	    v.agent_id);
	json_decref(alerts);
	/* a token made to replace another agent does not help */
	enrol_proved(f->store, "victim", NULL, "some-other-agent", &x,
	    -EEXIST);
	/* the operator's explicit replacement does */
	enrol_proved(f->store, "victim", NULL, v.agent_id, &y, 0);
	assert_string_equal(y.replaced, v.agent_id);
	assert_int_equal(credential_agent_check(f->store, v.agent_id,
	    v.credential), -EACCES);
	assert_int_equal(credential_agent_check(f->store, y.agent_id,
	    y.credential), 0);
	/* the refusal alert closed with the replaced agent */
	assert_int_equal(fleet_alerts(f->store, 1, 0, 0, &alerts), 0);
	assert_int_equal(json_array_size(json_object_get(alerts, "alerts")),
	    0);
	json_decref(alerts);
}

static void
test_token_admin(void **state)
{
	struct fixture *f = *state;
	struct credential_enrolment e;
	char tok[AUTH_TOKEN_LEN], hash[AUTH_HASH_LEN], id[16], name[64];
	char op[AUTH_TOKEN_LEN], *text;
	json_t *list, *host = json_pack("{s:s, s:s}", "hostname", "h",
	    "machine_id", "m9");

	assert_int_equal(credential_token_create(f->store, 3600, NULL, tok,
	    sizeof(tok)), 0);
	assert_int_equal(auth_hash(tok, hash, sizeof(hash)), 0);
	snprintf(id, sizeof(id), "%.*s", CREDENTIAL_TOKEN_ID_LEN, hash);
	assert_int_equal(credential_token_list(f->store, &list), 0);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(list, 0), "id")), id);
	/* the list never holds a secret or a whole hash */
	text = json_dumps(list, 0);
	if (strstr(text, tok) != NULL || strstr(text, hash) != NULL)
		fail_msg("token list shows a secret: %s", text);
	free(text);
	json_decref(list);
	assert_int_equal(credential_token_revoke(f->store, id), 0);
	assert_int_equal(credential_token_revoke(f->store, id), -ENOENT);
	assert_int_equal(credential_token_revoke(f->store, "short"), -ENOENT);
	if (credential_enroll(f->store, tok, host, NULL, 60, &e) != -EACCES)
		fail_msg("a revoked enrolment token still enrols");

	assert_int_equal(credential_operator_create(f->store, "bob", 3600, op,
	    sizeof(op)), 0);
	assert_int_equal(credential_operator_check(f->store, op, name,
	    sizeof(name)), 0);
	assert_int_equal(credential_operator_list(f->store, &list), 0);
	assert_int_equal(json_array_size(list), 1);
	assert_true(json_is_number(json_object_get(json_array_get(list, 0),
	    "used")));
	json_decref(list);
	assert_int_equal(credential_operator_revoke(f->store, "bob"), 0);
	if (credential_operator_check(f->store, op, name, sizeof(name)) !=
	    -EACCES)
		fail_msg("a revoked operator token is still accepted");
	assert_int_equal(credential_operator_revoke(f->store, "bob"), -ENOENT);
	/* a revoked name gets a new token; the old one stays refused */
	assert_int_equal(credential_operator_create(f->store, "bob", 3600,
	    tok, sizeof(tok)), 0);
	assert_int_equal(credential_operator_check(f->store, tok, name,
	    sizeof(name)), 0);
	assert_int_equal(credential_operator_check(f->store, op, name,
	    sizeof(name)), -EACCES);
	/* an expired operator token is refused */
	assert_int_equal(credential_operator_create(f->store, "carol", -1, op,
	    sizeof(op)), 0);
	assert_int_equal(credential_operator_check(f->store, op, name,
	    sizeof(name)), -EACCES);
	json_decref(host);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_idempotent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sequence_conflict, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_token_one_time, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_credentials, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_deadman, setup, teardown),
		cmocka_unit_test_setup_teardown(test_takeover, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_token_admin, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
