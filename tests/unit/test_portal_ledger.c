/* The ledger on a real SQLite file: results ordered by report seq, not by
 * the agent's clock; the bounds on checks per agent and alerts per
 * request; alert paging. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "credential.h"
#include "fleet.h"
#include "ingest.h"
#include "ledger.h"
#include "log.h"
#include "portal.h"
#include "store.h"
#include "portalfix.h"
#include "testutil.h"

/* A state_change report of check "disk". */
static void
post_state(struct store *s, const char *agent, long long seq, double when,
    const char *state)
{
	char json[512];

	snprintf(json, sizeof(json), "{\"reports\": [{\"seq\": %lld, "
	    "\"kind\": \"state_change\", \"time\": %.0f, \"payload\": "
	    "{\"check\": {\"name\": \"disk\", \"state\": \"%s\", "
	    "\"when\": %.0f}}}]}", seq, when, state, when);
	portalfix_post(s, agent, json);
}

static const char *
disk_state(struct portalfix *f)
{
	static char state[16];
	json_t *h, *c;
	size_t i;

	state[0] = '\0';
	assert_int_equal(fleet_host(f->store, f->e.agent_id, &h), 0);
	json_array_foreach(json_object_get(h, "checks"), i, c)
		if (strcmp(json_string_value(json_object_get(c, "name")),
		    "disk") == 0)
			snprintf(state, sizeof(state), "%s",
			    json_string_value(json_object_get(c, "state")));
	json_decref(h);
	return state;
}

static size_t
open_alerts(struct portalfix *f)
{
	json_t *a;
	size_t n;

	assert_int_equal(fleet_alerts(f->store, 1, 0, 0, &a), 0);
	n = json_array_size(json_object_get(a, "alerts"));
	json_decref(a);
	return n;
}

/* A clock a day ahead, then corrected: the later reports still count. */
static void
test_future_stamp(void **state)
{
	struct portalfix *f = *state;
	double now = store_now();

	post_state(f->store, f->e.agent_id, 1, now + 86400, "CRITICAL");
	assert_string_equal(disk_state(f), "CRITICAL");
	assert_int_equal(open_alerts(f), 1);
	post_state(f->store, f->e.agent_id, 2, now, "OK");
	if (strcmp(disk_state(f), "OK") != 0)
		fail_msg("seq 2 stamped before seq 1 was ignored: the check "
		    "stays %s", disk_state(f));
	assert_int_equal(open_alerts(f), 0);
	post_state(f->store, f->e.agent_id, 4, now - 86400, "WARNING");
	assert_string_equal(disk_state(f), "WARNING");
	/* an older report arriving late (seq 3 after 4) is stored and
	 * changes nothing, whatever its stamp */
	post_state(f->store, f->e.agent_id, 3, now + 10, "CRITICAL");
	assert_string_equal(disk_state(f), "WARNING");
}

/* A heartbeat of n checks named prefix<i>, all in state. */
static char *
heartbeat(long long seq, const char *prefix, int n, const char *state)
{
	size_t cap = 64 + (size_t)n * 96, len;
	char *s = malloc(cap);
	int i;

	len = (size_t)snprintf(s, cap, "{\"reports\": [{\"seq\": %lld, "
	    "\"kind\": \"heartbeat\", \"time\": 1, \"payload\": {\"checks\": [",
	    seq);
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s{\"name\": "
		    "\"%s%d\", \"state\": \"%s\"}", i ? "," : "", prefix, i,
		    state);
	snprintf(s + len, cap - len, "]}}]}");
	return s;
}

static void
test_bounds(void **state)
{
	struct portalfix *f = *state;
	json_t *h;
	char *s;

	/* every check critical at once: at most the per-request alerts */
	s = heartbeat(1, "c", PORTAL_MAX_CHECKS, "CRITICAL");
	portalfix_post(f->store, f->e.agent_id, s);
	free(s);
	assert_int_equal(open_alerts(f), PORTAL_MAX_ALERTS_PER_REQUEST);
	/* the states are all kept */
	assert_int_equal(fleet_host(f->store, f->e.agent_id, &h), 0);
	assert_int_equal(json_array_size(json_object_get(h, "checks")),
	    PORTAL_MAX_CHECKS);
	json_decref(h);
	/* new checks beyond the per-agent bound are not recorded */
	s = heartbeat(2, "new", 10, "OK");
	portalfix_post(f->store, f->e.agent_id, s);
	free(s);
	assert_int_equal(fleet_host(f->store, f->e.agent_id, &h), 0);
	assert_int_equal(json_array_size(json_object_get(h, "checks")),
	    PORTAL_MAX_CHECKS);
	json_decref(h);
}

static void
test_alert_paging(void **state)
{
	struct portalfix *f = *state;
	json_t *a, *e;
	long long before = 0, prev = 0;
	size_t i, total = 0, pages = 0;
	char *s;

	s = heartbeat(1, "c", 25, "CRITICAL");
	portalfix_post(f->store, f->e.agent_id, s);
	free(s);
	for (;;) {
		assert_int_equal(fleet_alerts(f->store, 0, 10, before, &a), 0);
		json_array_foreach(json_object_get(a, "alerts"), i, e) {
			long long id = json_integer_value(json_object_get(e,
			    "id"));

			if (prev != 0 && id >= prev)
				fail_msg("alert %lld after %lld: not newest "
				    "first, or repeated across pages", id,
				    prev);
			prev = id;
			total++;
		}
		pages++;
		if (json_is_null(json_object_get(a, "next"))) {
			json_decref(a);
			break;
		}
		before = json_integer_value(json_object_get(a, "next"));
		json_decref(a);
		assert_true(pages < 10);
	}
	assert_int_equal(total, 25);
	assert_int_equal(pages, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_future_stamp,
		    portalfix_setup, portalfix_teardown),
		cmocka_unit_test_setup_teardown(test_bounds,
		    portalfix_setup, portalfix_teardown),
		cmocka_unit_test_setup_teardown(test_alert_paging,
		    portalfix_setup, portalfix_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
