/* What agentd accepts from agentd-backup (agentd/backup.c,
 * backup_msg_check): the two frame shapes, strictly, within bounds. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "backup.h"

static int
check(const char *text)
{
	json_error_t jerr;
	json_t *o = json_loads(text, 0, &jerr);
	char err[256] = "";
	int r;

	if (o == NULL)
		fail_msg("bad test JSON %s: %s", text, jerr.text);
	r = backup_msg_check(o, err, sizeof(err));
	if (r != 0 && err[0] == '\0')
		fail_msg("refused without a reason: %s", text);
	json_decref(o);
	return r;
}

#define RESULT(snap, status, files, dur, error) \
	RESULT_KIND(snap, status, "\"full\"", "\"\"", files, dur, error)
#define RESULT_KIND(snap, status, kind, parent, files, dur, error) \
	"{\"t\":\"result\",\"snapshot\":" snap ",\"status\":" status \
	",\"kind\":" kind ",\"parent\":" parent ",\"files\":" files \
	",\"bytes\":10,\"stored_bytes\":5,\"forgotten\":0,\"duration\":" \
	dur ",\"error\":" error "}"

static void
test_good(void **state)
{
	(void)state;
	assert_int_equal(check("{\"t\":\"progress\",\"files\":1,\"bytes\":2,"
	    "\"rate\":3}"), 0);
	assert_int_equal(check(RESULT("\"20261125T171127Z-12da32ba\"",
	    "\"ok\"", "3", "1.5", "\"\"")), 0);
	assert_int_equal(check(RESULT("\"x\"", "\"partial\"", "0", "0",
	    "\"1 unreadable\"")), 0);
	assert_int_equal(check(RESULT("\"\"", "\"failed\"", "0", "2",
	    "\"pre_hook failed\"")), 0);
	assert_int_equal(check(RESULT_KIND("\"b\"", "\"ok\"",
	    "\"incremental\"", "\"a\"", "1", "1", "\"\"")), 0);
}

static void
test_bad(void **state)
{
	static const char *const bad[] = {
		"{}",
		"{\"t\":7}",
		"{\"t\":\"hello\"}",
		/* progress: missing, extra, wrong type, negative */
		"{\"t\":\"progress\",\"files\":1,\"bytes\":2}",
		"{\"t\":\"progress\",\"files\":1,\"bytes\":2,\"rate\":3,"
		    "\"x\":1}",
		"{\"t\":\"progress\",\"files\":\"1\",\"bytes\":2,\"rate\":3}",
		"{\"t\":\"progress\",\"files\":-1,\"bytes\":2,\"rate\":3}",
		"{\"t\":\"progress\",\"files\":1,\"bytes\":9007199254740993,"
		    "\"rate\":3}",
		/* result */
		RESULT("\"x\"", "\"great\"", "1", "1", "\"\""),
		RESULT("\"../x\"", "\"ok\"", "1", "1", "\"\""),
		RESULT("\"a b\"", "\"ok\"", "1", "1", "\"\""),
		RESULT("\"\"", "\"ok\"", "1", "1", "\"\""),
		RESULT("\"x\"", "\"ok\"", "-1", "1", "\"\""),
		RESULT("\"x\"", "\"ok\"", "1", "-1", "\"\""),
		RESULT("\"x\"", "\"ok\"", "1", "1e12", "\"\""),
		RESULT("\"x\"", "\"ok\"", "1", "\"1\"", "\"\""),
		RESULT("\"x\"", "\"ok\"", "1", "1", "null"),
		/* kind and parent: a full with a parent, an incremental
		 * without one or with a bad one, another kind */
		RESULT_KIND("\"x\"", "\"ok\"", "\"full\"", "\"a\"", "1", "1",
		    "\"\""),
		RESULT_KIND("\"x\"", "\"ok\"", "\"incremental\"", "\"\"", "1",
		    "1", "\"\""),
		RESULT_KIND("\"x\"", "\"ok\"", "\"incremental\"", "\"../a\"",
		    "1", "1", "\"\""),
		RESULT_KIND("\"x\"", "\"ok\"", "\"differential\"", "\"\"",
		    "1", "1", "\"\""),
		"{\"t\":\"result\",\"snapshot\":\"x\",\"status\":\"ok\"}",
		"{\"t\":\"result\",\"snapshot\":\"x\",\"status\":\"ok\","
		    "\"kind\":\"full\",\"parent\":\"\",\"files\":1,"
		    "\"bytes\":10,\"stored_bytes\":5,\"forgotten\":0,"
		    "\"duration\":1,\"error\":\"\",\"extra\":true}",
	};
	char big[BACKUP_ERROR_MAX + 200], id[BACKUP_ID_MAX + 40];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (check(bad[i]) != -EBADMSG)
			fail_msg("accepted: %s", bad[i]);
	/* An error text over the bound, a snapshot id over its bound. */
	snprintf(big, sizeof(big), RESULT("\"x\"", "\"ok\"", "1", "1",
	    "\"%0*d\""), BACKUP_ERROR_MAX + 1, 0);
	assert_int_equal(check(big), -EBADMSG);
	snprintf(id, sizeof(id), "\"%0*d\"", BACKUP_ID_MAX, 0);
	snprintf(big, sizeof(big), RESULT("%s", "\"ok\"", "1", "1", "\"\""),
	    id);
	assert_int_equal(check(big), -EBADMSG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
