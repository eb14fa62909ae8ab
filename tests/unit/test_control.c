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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
