/* The command table and the ids handled (agentd/command.c): unsupported
 * commands answered "refused", unknown types ignored, an id run once, ids
 * persisted across a new command module (an earlier agentd's id answered
 * "failed", interrupted, once), the file bounded to the newest
 * COMMAND_SEEN_MAX ids, and a malformed file forgotten, not trusted.
 * report_emit is replaced here to capture the results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "command.h"
#include "report.h"
#include "testutil.h"

static json_t *emitted;

void
report_emit(struct report *r, const char *kind, json_t *payload,
    enum report_class cls)
{
	(void)r;
	assert_string_equal(kind, "command_result");
	assert_int_equal(cls, REPORT_IMPORTANT);
	json_array_append_new(emitted, payload);
}

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	emitted = json_array();
	return testutil_mkdtemp(dir, sizeof(dir));
}

static int
teardown(void **state)
{
	(void)state;
	json_decref(emitted);
	testutil_rm_rf(dir);
	return 0;
}

/* A reply's commands: ids and types given as "id:type" strings. */
static json_t *
cmds(const char *first, ...)
{
	json_t *a = json_array();
	char id[128];
	const char *s, *colon;
	va_list ap;

	va_start(ap, first);
	for (s = first; s != NULL; s = va_arg(ap, const char *)) {
		colon = strchr(s, ':');
		snprintf(id, sizeof(id), "%.*s", (int)(colon - s), s);
		json_array_append_new(a, json_pack("{s:s, s:s, s:{}}", "id", id,
		    "type", colon + 1, "args"));
	}
	va_end(ap);
	return a;
}

static const char *
emitted_field(size_t i, const char *key)
{
	return json_string_value(json_object_get(json_array_get(emitted, i),
	    key));
}

static struct command *
open_commands(void)
{
	struct command *c;

	/* No check runs here: the sched is never used. */
	assert_int_equal(command_new(NULL, (struct report *)1, dir, &c), 0);
	return c;
}

static void
test_once_and_across_restart(void **state)
{
	struct command *c = open_commands();
	json_t *a = cmds("cmd_1:run_backup", "cmd_2:open_support_session",
	    "cmd_3:reboot", NULL);

	(void)state;
	command_portal(c, a);
	assert_int_equal(json_array_size(emitted), 2);
	assert_string_equal(emitted_field(0, "command_id"), "cmd_1");
	assert_string_equal(emitted_field(0, "status"), "refused");
	assert_contains(emitted_field(0, "detail"),
	    "backups are not set up");
	assert_string_equal(emitted_field(1, "type"), "open_support_session");
	assert_string_equal(emitted_field(1, "status"), "refused");
	/* Handed out again: not run again. */
	command_portal(c, a);
	assert_int_equal(json_array_size(emitted), 2);
	command_free(c);

	/* A new agentd: the ids are known; the known types are answered
	 * "failed" (interrupted) once, the unknown one stays ignored. */
	c = open_commands();
	command_portal(c, a);
	assert_int_equal(json_array_size(emitted), 4);
	assert_string_equal(emitted_field(2, "command_id"), "cmd_1");
	assert_string_equal(emitted_field(2, "status"), "failed");
	assert_contains(emitted_field(2, "detail"), "interrupted");
	command_portal(c, a);
	assert_int_equal(json_array_size(emitted), 4);
	command_free(c);
	json_decref(a);
}

static void
test_file_bounded(void **state)
{
	struct command *c = open_commands();
	json_t *file, *ids, *a;
	json_error_t jerr;
	char path[128], id[32];
	int n = 0;

	(void)state;
	/* 1100 ids in replies of 50 (unknown type: recorded, not run). */
	while (n < 1100) {
		a = json_array();
		for (int i = 0; i < 50; i++, n++) {
			snprintf(id, sizeof(id), "cmd_%d", n);
			json_array_append_new(a, json_pack("{s:s, s:s, s:{}}",
			    "id", id, "type", "reboot", "args"));
		}
		command_portal(c, a);
		json_decref(a);
	}
	command_free(c);
	snprintf(path, sizeof(path), "%s/%s", dir, COMMAND_SEEN_FILE);
	file = json_load_file(path, 0, &jerr);
	if (file == NULL)
		fail_msg("%s: %s", path, jerr.text);
	ids = json_object_get(file, "ids");
	assert_int_equal(json_array_size(ids), COMMAND_SEEN_MAX);
	/* The newest kept, oldest first. */
	assert_string_equal(json_string_value(json_array_get(ids, 0)),
	    "cmd_76");
	assert_string_equal(json_string_value(json_array_get(ids,
	    COMMAND_SEEN_MAX - 1)), "cmd_1099");
	json_decref(file);

	/* Reloaded: an old id still known, the dropped one runs again. */
	c = open_commands();
	a = cmds("cmd_80:run_backup", "cmd_5:run_backup", NULL);
	command_portal(c, a);
	assert_int_equal(json_array_size(emitted), 2);
	assert_string_equal(emitted_field(0, "status"), "failed");
	assert_string_equal(emitted_field(1, "command_id"), "cmd_5");
	assert_string_equal(emitted_field(1, "status"), "refused");
	json_decref(a);
	command_free(c);
}

static void
test_malformed_file(void **state)
{
	static const char *const bad[] = {
		"not json",
		"{\"version\":1,\"ids\":\"cmd_1\"}",
		"{\"version\":1,\"ids\":[],\"extra\":1}",
		"[\"cmd_1\"]",
	};
	struct command *c;
	json_t *a = cmds("cmd_1:run_backup", NULL);

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		testutil_put(dir, COMMAND_SEEN_FILE, bad[i]);
		c = open_commands();
		command_portal(c, a);
		/* Forgotten: the command runs (refused), not "interrupted". */
		assert_int_equal(json_array_size(emitted), i + 1);
		assert_string_equal(emitted_field(i, "status"), "refused");
		command_free(c);
	}
	/* Ids that are not strings, empty or too long are skipped. */
	testutil_put(dir, COMMAND_SEEN_FILE, "{\"version\":1,\"ids\":[7,\"\","
	    "\"cmd_1\"]}");
	c = open_commands();
	command_portal(c, a);
	assert_string_equal(emitted_field(json_array_size(emitted) - 1,
	    "status"), "failed");
	command_free(c);
	json_decref(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_once_and_across_restart,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_bounded, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_malformed_file, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
