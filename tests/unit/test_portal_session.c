/*
 * support_event reports through ingest and the ledger into the sessions
 * view: the checks of ingest, the derived state of each session, its
 * trail in seq order, newest session first, unknown members not kept,
 * and a retried batch not doubling the trail.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ingest.h"
#include "portalfix.h"
#include "session.h"

#define S1	"ses_0123456789abcdef"
#define S2	"ses_fedcba9876543210"

static int
parse(const char *payload, char *err, size_t errlen)
{
	struct ingest_batch *b = calloc(1, sizeof(*b));
	char body[4096];
	int r;

	snprintf(body, sizeof(body), "{\"reports\": [{\"seq\": 1, \"kind\": "
	    "\"support_event\", \"time\": 1, \"payload\": %s}]}", payload);
	r = ingest_parse_reports(body, strlen(body), b, err, errlen);
	ingest_batch_clear(b);
	free(b);
	return r;
}

static void
test_ingest(void **state)
{
	static const char *const bad[][2] = {
		{ "{\"event\": \"opened\", \"at\": 1}", "payload.session: "
		    "missing" },
		{ "{\"session\": \"ses_0123\", \"event\": \"opened\", "
		    "\"at\": 1}", "payload.session: expected ses_" },
		{ "{\"session\": \"ses_0123456789ABCDEF\", \"event\": "
		    "\"opened\", \"at\": 1}", "payload.session: expected" },
		{ "{\"session\": \"" S1 "\", \"event\": \"hijacked\", "
		    "\"at\": 1}", "payload.event: expected requested" },
		{ "{\"session\": \"" S1 "\", \"event\": \"opened\"}",
		    "payload.at: missing" },
		{ "{\"session\": \"" S1 "\", \"event\": \"closed\", "
		    "\"at\": 1, \"reason\": 5}", "payload.reason: expected a "
		    "string of at most 512" },
		{ "{\"session\": \"" S1 "\", \"event\": \"connection_closed\", "
		    "\"at\": 1, \"bytes_in\": -1}", "payload.bytes_in: "
		    "expected a number" },
		{ "{\"session\": \"" S1 "\", \"event\": \"connection_closed\", "
		    "\"at\": 1, \"conn\": \"x\"}", "payload.conn: expected" },
	};
	char err[256], big[1200];
	size_t i;

	(void)state;
	assert_int_equal(parse("{\"session\": \"" S1 "\", \"event\": "
	    "\"requested\", \"at\": 5, \"by\": \"eve\", \"future\": [1]}",
	    err, sizeof(err)), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i][0], err, sizeof(err)) != -EINVAL)
			fail_msg("accepted %s", bad[i][0]);
		if (strstr(err, bad[i][1]) == NULL)
			fail_msg("%s: error '%s' lacks '%s'", bad[i][0], err,
			    bad[i][1]);
	}
	/* A string kept at most 512 bytes. */
	snprintf(big, sizeof(big), "{\"session\": \"" S1 "\", \"event\": "
	    "\"failed\", \"at\": 1, \"detail\": \"%0513d\"}", 0);
	assert_int_equal(parse(big, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "payload.detail"));
}

static void
post(struct store *s, const char *agent, int seq, const char *payload)
{
	char body[2048];

	snprintf(body, sizeof(body), "{\"reports\": [{\"seq\": %d, \"kind\": "
	    "\"support_event\", \"time\": 1, \"payload\": %s}]}", seq,
	    payload);
	portalfix_post(s, agent, body);
}

static void
test_sessions(void **state)
{
	struct portalfix *f = *state;
	const char *id = f->e.agent_id;
	json_t *arr, *a, *b, *ev;

	assert_int_equal(session_list(f->store, id, &arr), 0);
	assert_int_equal(json_array_size(arr), 0);
	json_decref(arr);
	assert_int_equal(session_list(f->store, "no-such", &arr), -ENOENT);

	post(f->store, id, 1, "{\"session\": \"" S1 "\", \"event\": "
	    "\"requested\", \"at\": 100, \"by\": \"eve@provider\", "
	    "\"reason\": \"disk full\", \"ttl\": 3600, \"origin\": "
	    "\"portal\", \"secret_extra\": \"not kept\"}");
	assert_int_equal(session_list(f->store, id, &arr), 0);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(arr, 0), "state")), "waiting");
	json_decref(arr);
	post(f->store, id, 2, "{\"session\": \"" S1 "\", \"event\": "
	    "\"approved\", \"at\": 101, \"by\": \"root\"}");
	post(f->store, id, 3, "{\"session\": \"" S1 "\", \"event\": "
	    "\"opened\", \"at\": 102, \"bastion\": \"b:22\", "
	    "\"forward_port\": 40001, \"expires\": 3702}");
	post(f->store, id, 4, "{\"session\": \"" S1 "\", \"event\": "
	    "\"connection_opened\", \"at\": 103, \"conn\": 1}");
	assert_int_equal(session_list(f->store, id, &arr), 0);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(arr, 0), "state")), "open");
	json_decref(arr);
	post(f->store, id, 5, "{\"session\": \"" S1 "\", \"event\": "
	    "\"connection_closed\", \"at\": 104, \"conn\": 1, \"bytes_in\": "
	    "10, \"bytes_out\": 20}");
	post(f->store, id, 6, "{\"session\": \"" S2 "\", \"event\": "
	    "\"requested\", \"at\": 105, \"by\": \"mallory\", \"origin\": "
	    "\"portal\"}");
	post(f->store, id, 7, "{\"session\": \"" S1 "\", \"event\": "
	    "\"closed\", \"at\": 106, \"reason\": \"ttl\"}");
	post(f->store, id, 8, "{\"session\": \"" S2 "\", \"event\": "
	    "\"denied\", \"at\": 107, \"by\": \"root\"}");
	/* The same batch again: acknowledged, not stored twice. */
	post(f->store, id, 8, "{\"session\": \"" S2 "\", \"event\": "
	    "\"denied\", \"at\": 107, \"by\": \"root\"}");

	assert_int_equal(session_list(f->store, id, &arr), 0);
	assert_int_equal(json_array_size(arr), 2);
	b = json_array_get(arr, 0);	/* newest first */
	a = json_array_get(arr, 1);
	assert_string_equal(json_string_value(json_object_get(b, "session")),
	    S2);
	assert_string_equal(json_string_value(json_object_get(b, "state")),
	    "denied");
	assert_string_equal(json_string_value(json_object_get(b,
	    "close_reason")), "denied");
	assert_string_equal(json_string_value(json_object_get(b,
	    "requested_by")), "mallory");
	assert_true(json_is_null(json_object_get(b, "opened")));
	assert_int_equal(json_array_size(json_object_get(b, "events")), 2);

	assert_string_equal(json_string_value(json_object_get(a, "state")),
	    "closed");
	assert_string_equal(json_string_value(json_object_get(a,
	    "requested_by")), "eve@provider");
	assert_string_equal(json_string_value(json_object_get(a, "reason")),
	    "disk full");
	assert_int_equal(json_integer_value(json_object_get(a, "opened")),
	    102);
	assert_int_equal(json_integer_value(json_object_get(a, "closed")),
	    106);
	assert_string_equal(json_string_value(json_object_get(a,
	    "close_reason")), "ttl");
	assert_false(json_is_true(json_object_get(a, "events_truncated")));
	assert_int_equal(json_array_size(json_object_get(a, "events")), 6);
	ev = json_array_get(json_object_get(a, "events"), 0);
	assert_string_equal(json_string_value(json_object_get(ev, "event")),
	    "requested");
	assert_int_equal(json_integer_value(json_object_get(ev, "ttl")),
	    3600);
	assert_true(json_is_number(json_object_get(ev, "received")));
	assert_null(json_object_get(ev, "secret_extra"));
	ev = json_array_get(json_object_get(a, "events"), 4);
	assert_int_equal(json_integer_value(json_object_get(ev, "bytes_out")),
	    20);
	json_decref(arr);
}

static void
test_bounds(void **state)
{
	struct portalfix *f = *state;
	const char *id = f->e.agent_id;
	char p[256];
	json_t *arr;
	int i;

	/* More sessions than one answer holds: the newest ones. */
	for (i = 0; i < SESSION_MAX_LISTED + 5; i++) {
		snprintf(p, sizeof(p), "{\"session\": \"ses_%016x\", "
		    "\"event\": \"expired\", \"at\": %d}", i, i);
		post(f->store, id, i + 1, p);
	}
	/* More events in one session than one answer holds. */
	for (i = 0; i < SESSION_MAX_EVENTS + 3; i++) {
		snprintf(p, sizeof(p), "{\"session\": \"ses_%016x\", "
		    "\"event\": \"connection_opened\", \"at\": %d, \"conn\": "
		    "%d}", 0xffff, i, i);
		post(f->store, id, SESSION_MAX_LISTED + 6 + i, p);
	}
	assert_int_equal(session_list(f->store, id, &arr), 0);
	assert_int_equal(json_array_size(arr), SESSION_MAX_LISTED);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(arr, 0), "session")), "ses_000000000000ffff");
	assert_true(json_is_true(json_object_get(json_array_get(arr, 0),
	    "events_truncated")));
	assert_int_equal(json_array_size(json_object_get(json_array_get(arr,
	    0), "events")), SESSION_MAX_EVENTS);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(arr, 1), "session")), "ses_0000000000000036");
	json_decref(arr);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ingest),
		cmocka_unit_test_setup_teardown(test_sessions,
		    portalfix_setup, portalfix_teardown),
		cmocka_unit_test_setup_teardown(test_bounds,
		    portalfix_setup, portalfix_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
