/* The portal's backup_result: the newest result per (agent, job) in GET
 * /hosts/{id} with the last good time kept across failures, the age of the
 * last good backup in the fleet list, and the bounds ingest puts on it. */
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

/* A backup_result report of job "www" with the given payload tail. */
static char *
result(long long seq, const char *status, double started, const char *snap)
{
	char *s;

	if (asprintf(&s, "{\"reports\": [{\"seq\": %lld, \"kind\": "
	    "\"backup_result\", \"time\": %.0f, \"payload\": {\"job\": "
	    "\"www\", \"snapshot\": \"%s\", \"kind\": \"full\", \"status\": "
	    "\"%s\", \"files\": 12, \"bytes\": 3000, \"stored_bytes\": 900, "
	    "\"duration\": 2.5, \"errors\": %s, \"run\": 1, \"started\": "
	    "%.0f}}]}", seq, started + 3, snap, status,
	    strcmp(status, "ok") == 0 ? "[]" : "[\"pre_hook failed\"]",
	    started) < 0)
		fail_msg("asprintf");
	return s;
}

static json_t *
host_backups(struct portalfix *f)
{
	json_t *h, *b;

	assert_int_equal(fleet_host(f->store, f->e.agent_id, &h), 0);
	b = json_incref(json_object_get(h, "backups"));
	json_decref(h);
	assert_non_null(b);
	return b;
}

static json_t *
list_host(struct portalfix *f)
{
	json_t *l, *h;

	assert_int_equal(fleet_hosts(f->store, &l), 0);
	h = json_incref(json_array_get(json_object_get(l, "hosts"), 0));
	json_decref(l);
	assert_non_null(h);
	return h;
}

static void
test_latest_and_last_ok(void **state)
{
	struct portalfix *f = *state;
	double t0 = (double)(long long)store_now() - 7200;
	json_t *b, *e, *h;
	char *s;

	/* Nothing reported: no backups, no age. */
	b = host_backups(f);
	assert_int_equal(json_array_size(b), 0);
	json_decref(b);
	h = list_host(f);
	assert_true(json_is_null(json_object_get(h, "backup_age")));
	json_decref(h);

	portalfix_post(f->store, f->e.agent_id,
	    s = result(1, "ok", t0, "S1"));
	free(s);
	b = host_backups(f);
	assert_int_equal(json_array_size(b), 1);
	e = json_array_get(b, 0);
	assert_string_equal(json_string_value(json_object_get(e, "job")),
	    "www");
	assert_string_equal(json_string_value(json_object_get(e,
	    "snapshot")), "S1");
	assert_string_equal(json_string_value(json_object_get(e, "status")),
	    "ok");
	assert_string_equal(json_string_value(json_object_get(e, "kind")),
	    "full");
	assert_int_equal(json_integer_value(json_object_get(e, "files")), 12);
	assert_int_equal(json_integer_value(json_object_get(e, "bytes")),
	    3000);
	assert_int_equal(json_integer_value(json_object_get(e,
	    "stored_bytes")), 900);
	assert_true(json_real_value(json_object_get(e, "duration")) == 2.5);
	assert_true(json_real_value(json_object_get(e, "finished")) ==
	    t0 + 2.5);
	assert_true(json_real_value(json_object_get(e, "last_ok")) ==
	    t0 + 2.5);
	json_decref(b);

	/* A failed run replaces the result; the last good time stays. */
	portalfix_post(f->store, f->e.agent_id,
	    s = result(2, "failed", t0 + 3600, ""));
	free(s);
	b = host_backups(f);
	assert_int_equal(json_array_size(b), 1);
	e = json_array_get(b, 0);
	assert_string_equal(json_string_value(json_object_get(e, "status")),
	    "failed");
	assert_string_equal(json_string_value(json_object_get(e,
	    "snapshot")), "");
	assert_true(json_real_value(json_object_get(e, "finished")) ==
	    t0 + 3602.5);
	assert_true(json_real_value(json_object_get(e, "last_ok")) ==
	    t0 + 2.5);
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(e, "errors"), 0)), "pre_hook failed");
	json_decref(b);

	/* The fleet list: the age of the last good backup. */
	h = list_host(f);
	assert_true(json_is_real(json_object_get(h, "backup_age")));
	assert_true(json_real_value(json_object_get(h, "backup_age")) >
	    7190 && json_real_value(json_object_get(h, "backup_age")) < 7300);
	assert_int_equal(json_integer_value(json_object_get(h,
	    "backups_never_ok")), 0);
	assert_int_equal(json_integer_value(json_object_get(h,
	    "backup_jobs")), 1);
	json_decref(h);
}

static void
test_bounds(void **state)
{
	static const char *const bad[] = {
		"\"status\": \"great\"",
		"\"files\": -1",
		"\"bytes\": \"many\"",
		"\"duration\": -0.5",
		"\"job\": \"../etc\"",
		"\"job\": \"\"",
		"\"snapshot\": \"a b\"",
		"\"kind\": \"differential\"",
		"\"errors\": \"not a list\"",
		"\"errors\": [1]",
	};
	struct ingest_batch *b = calloc(1, sizeof(*b));
	char json[4096], err[256], longerr[1100];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* The bad member comes first; duplicates are refused by
		 * the parser, so the good ones follow only when unnamed. */
		snprintf(json, sizeof(json), "{\"reports\": [{\"seq\": 1, "
		    "\"kind\": \"backup_result\", \"time\": 1, \"payload\": "
		    "{%s%s%s%s%s%s%s%s}}]}", bad[i],
		    strstr(bad[i], "\"job\"") ? "" : ", \"job\": \"www\"",
		    strstr(bad[i], "\"status\"") ? "" : ", \"status\": \"ok\"",
		    strstr(bad[i], "\"kind\"") ? "" : ", \"kind\": \"full\"",
		    strstr(bad[i], "\"snapshot\"") ? "" :
		    ", \"snapshot\": \"S\"",
		    strstr(bad[i], "\"files\"") ? "" : ", \"files\": 1",
		    strstr(bad[i], "\"bytes\"") ? "" :
		    ", \"bytes\": 1, \"stored_bytes\": 1",
		    strstr(bad[i], "\"duration\"") ? "" : ", \"duration\": 1");
		if (ingest_parse_reports(json, strlen(json), b, err,
		    sizeof(err)) == 0)
			fail_msg("accepted: %s", json);
		ingest_batch_clear(b);
	}
	/* An error text over the bound. */
	memset(longerr, 'x', sizeof(longerr) - 1);
	longerr[sizeof(longerr) - 1] = '\0';
	snprintf(json, sizeof(json), "{\"reports\": [{\"seq\": 1, \"kind\": "
	    "\"backup_result\", \"time\": 1, \"payload\": {\"job\": \"www\", "
	    "\"status\": \"failed\", \"kind\": \"full\", \"snapshot\": \"\", "
	    "\"files\": 0, \"bytes\": 0, \"stored_bytes\": 0, \"duration\": "
	    "0, \"errors\": [\"%s\"]}}]}", longerr);
	if (ingest_parse_reports(json, strlen(json), b, err,
	    sizeof(err)) == 0)
		fail_msg("accepted an error text of %zu bytes",
		    strlen(longerr));
	assert_non_null(strstr(err, "errors[0]"));
	ingest_batch_clear(b);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_latest_and_last_ok,
		    portalfix_setup, portalfix_teardown),
		cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
