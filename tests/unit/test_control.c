/* Control socket request parsing: valid requests and clear errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "control.h"

static int
parse(const char *line, struct control_request *req, char *err, size_t len)
{
	err[0] = '\0';
	return control_parse_request(line, strlen(line), req, err, len);
}

static void
test_valid(void **state)
{
	struct control_request req;
	char err[256];

	(void)state;
	assert_int_equal(parse("{\"cmd\":\"status\"}", &req, err, sizeof(err)), 0);
	assert_int_equal(req.cmd, CONTROL_STATUS);
	assert_int_equal(parse("{\"cmd\":\"checks\",\"future\":[1,2]}", &req,
	    err, sizeof(err)), 0);
	assert_int_equal(req.cmd, CONTROL_CHECKS);
	assert_int_equal(parse("{\"cmd\":\"check_run\",\"name\":\"disk\"}", &req,
	    err, sizeof(err)), 0);
	assert_int_equal(req.cmd, CONTROL_CHECK_RUN);
	assert_string_equal(req.name, "disk");
	assert_int_equal(parse(" {\"cmd\":\"reload\"} ", &req, err, sizeof(err)), 0);
	assert_int_equal(req.cmd, CONTROL_RELOAD);
	assert_int_equal(parse("{\"cmd\":\"backup_run\",\"name\":\"www\"}",
	    &req, err, sizeof(err)), 0);
	assert_int_equal(req.cmd, CONTROL_BACKUP_RUN);
	assert_string_equal(req.name, "www");
	assert_false(req.full);
	assert_int_equal(parse("{\"cmd\":\"backup_run\",\"name\":\"www\","
	    "\"full\":true}", &req, err, sizeof(err)), 0);
	assert_true(req.full);
	assert_int_equal(parse("{\"cmd\":\"backup_status\"}", &req, err,
	    sizeof(err)), 0);
	assert_int_equal(req.cmd, CONTROL_BACKUP_STATUS);
}

/* support_* (issue 10): the members each takes, and each refusal. */
static void
test_maintenance(void **state)
{
	static const struct {
		const char *line, *err;
	} bad[] = {
		{ "{\"cmd\":\"maintenance_start\"}",
		    "'seconds' is not a number of seconds up to 30 days" },
		{ "{\"cmd\":\"maintenance_start\",\"seconds\":2592001}",
		    "'seconds' is not a number of seconds up to 30 days" },
		{ "{\"cmd\":\"maintenance_start\",\"seconds\":60,"
		    "\"user\":[]}",
		    "'user' is not a string of at most 64 bytes" },
		{ "{\"cmd\":\"silence\",\"seconds\":60}",
		    "silence needs a string field 'name' of 1 to 64 bytes" },
		{ "{\"cmd\":\"silence\",\"name\":\"disk\",\"seconds\":-1}",
		    "'seconds' is not a number of seconds up to 30 days" },
	};
	struct control_request req;
	char err[256];

	(void)state;
	assert_int_equal(parse("{\"cmd\":\"maintenance_start\","
	    "\"seconds\":7200,\"reason\":\"kernel\",\"user\":\"bob\"}", &req,
	    err, sizeof(err)), 0);
	assert_int_equal(req.cmd, CONTROL_MAINTENANCE_START);
	assert_int_equal(req.seconds, 7200);
	assert_string_equal(req.reason, "kernel");
	assert_string_equal(req.user, "bob");
	assert_int_equal(parse("{\"cmd\":\"silence\",\"name\":\"disk\","
	    "\"seconds\":0}", &req, err, sizeof(err)), 0);
	assert_int_equal(req.cmd, CONTROL_SILENCE);
	assert_string_equal(req.name, "disk");
	assert_int_equal(req.seconds, 0);
	assert_int_equal(parse("{\"cmd\":\"maintenance_stop\"}", &req, err,
	    sizeof(err)), 0);
	assert_int_equal(req.cmd, CONTROL_MAINTENANCE_STOP);
	assert_int_equal(parse("{\"cmd\":\"maintenance_status\"}", &req, err,
	    sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i].line, &req, err, sizeof(err)) != -EINVAL)
			fail_msg("accepted %s", bad[i].line);
		if (strcmp(err, bad[i].err) != 0)
			fail_msg("%s: got '%s', want '%s'", bad[i].line, err,
			    bad[i].err);
	}
}

static void
test_support(void **state)
{
	static const struct {
		const char *line, *err;
	} bad[] = {
		{ "{\"cmd\":\"support_open\",\"ttl\":-1}",
		    "'ttl' is not a number of seconds up to 7 days" },
		{ "{\"cmd\":\"support_open\",\"ttl\":\"2h\"}",
		    "'ttl' is not a number of seconds up to 7 days" },
		{ "{\"cmd\":\"support_open\",\"reason\":5}",
		    "'reason' is not a string of at most 512 bytes" },
		{ "{\"cmd\":\"support_approve\"}",
		    "'id' is not a string of 1 to 31 bytes" },
		{ "{\"cmd\":\"support_deny\",\"id\":\"\"}",
		    "'id' is not a string of 1 to 31 bytes" },
		{ "{\"cmd\":\"support_close\",\"id\":\"ses_0123456789abcdef0123456789abcdef\"}",
		    "'id' is not a string of at most 31 bytes" },
	};
	struct control_request req;
	char err[256];

	(void)state;
	assert_int_equal(parse("{\"cmd\":\"support_open\",\"ttl\":7200,"
	    "\"reason\":\"disk full\",\"user\":\"alice\"}", &req, err,
	    sizeof(err)), 0);
	assert_int_equal(req.cmd, CONTROL_SUPPORT_OPEN);
	assert_int_equal(req.ttl, 7200);
	assert_string_equal(req.reason, "disk full");
	assert_string_equal(req.user, "alice");
	assert_int_equal(parse("{\"cmd\":\"support_open\"}", &req, err,
	    sizeof(err)), 0);
	assert_int_equal(req.ttl, 0);
	assert_string_equal(req.reason, "");
	assert_int_equal(parse("{\"cmd\":\"support_approve\","
	    "\"id\":\"ses_0123456789abcdef\"}", &req, err, sizeof(err)), 0);
	assert_int_equal(req.cmd, CONTROL_SUPPORT_APPROVE);
	assert_string_equal(req.id, "ses_0123456789abcdef");
	assert_int_equal(parse("{\"cmd\":\"support_close\"}", &req, err,
	    sizeof(err)), 0);
	assert_int_equal(req.cmd, CONTROL_SUPPORT_CLOSE);
	assert_string_equal(req.id, "");
	assert_int_equal(parse("{\"cmd\":\"support_status\"}", &req, err,
	    sizeof(err)), 0);
	assert_int_equal(req.cmd, CONTROL_SUPPORT_STATUS);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i].line, &req, err, sizeof(err)) != -EINVAL)
			fail_msg("accepted %s", bad[i].line);
		if (strcmp(err, bad[i].err) != 0)
			fail_msg("%s: got '%s', want '%s'", bad[i].line, err,
			    bad[i].err);
	}
}

static void
test_errors(void **state)
{
	static const struct {
		const char *line, *err;
	} rows[] = {
		{ "", "malformed JSON at column" },
		{ "{\"cmd\":", "malformed JSON at column" },
		{ "[\"status\"]", "request is not a JSON object" },
		{ "{}", "missing string field 'cmd'" },
		{ "{\"cmd\":7}", "missing string field 'cmd'" },
		{ "{\"cmd\":\"rm -rf\"}", "unknown cmd 'rm -rf'" },
		{ "{\"cmd\":\"check_run\"}", "check_run needs a string field 'name'" },
		{ "{\"cmd\":\"check_run\",\"name\":\"\"}", "check_run needs" },
		{ "{\"cmd\":\"check_run\",\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", "check_run needs" },
		{ "{\"cmd\":\"status\",\"cmd\":\"reload\"}", "malformed JSON" },
		{ "{\"cmd\":\"backup_run\"}", "backup_run needs a string field "
		  "'name'" },
		{ "{\"cmd\":\"backup_run\",\"name\":[\"x\"]}", "backup_run needs" },
		{ "{\"cmd\":\"backup_run\",\"name\":\"x\",\"full\":\"yes\"}",
		  "backup_run: 'full' is not a boolean" },
	};
	struct control_request req;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int r = parse(rows[i].line, &req, err, sizeof(err));

		if (r != -EINVAL || strstr(err, rows[i].err) == NULL)
			fail_msg("row %zu: '%s': got %d '%s', want error '%s'",
			    i, rows[i].line, r, err, rows[i].err);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_support),
		cmocka_unit_test(test_maintenance),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
