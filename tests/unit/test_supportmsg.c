/*
 * supportmsg: every frame agentd-support may send is accepted, and each
 * way of getting one wrong is refused with a reason.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "supportmsg.h"

static int
check(const char *text, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *o = json_loads(text, 0, &jerr);
	int r;

	if (o == NULL)
		fail_msg("test frame is not JSON: %s", text);
	err[0] = '\0';
	r = supportmsg_check(o, err, errlen);
	json_decref(o);
	return r;
}

static void
test_good(void **state)
{
	static const char *good[] = {
		"{\"t\":\"up\",\"port\":20001}",
		"{\"t\":\"down\",\"error\":-110,\"message\":\"bastion dead\"}",
		"{\"t\":\"down\",\"error\":0,\"message\":\"\"}",
		"{\"t\":\"retry\",\"delay_ms\":1500}",
		"{\"t\":\"conn_open\",\"conn\":1}",
		"{\"t\":\"conn_close\",\"conn\":1,\"bytes_in\":9007199254740992,"
		    "\"bytes_out\":0,\"message\":\"closed\"}",
		"{\"t\":\"failed\",\"error\":-1,\"detail\":\"HOST KEY MISMATCH\"}",
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (check(good[i], err, sizeof(err)) != 0)
			fail_msg("refused %s: %s", good[i], err);
}

static void
test_bad(void **state)
{
	static const struct {
		const char *frame, *err;
	} bad[] = {
		{ "{}", "no string member 't'" },
		{ "{\"t\":1}", "no string member 't'" },
		{ "[\"up\"]", "no string member 't'" },
		{ "{\"t\":\"hello\"}", "unknown frame type" },
		{ "{\"t\":\"up\"}", "up: Object item not found: port" },
		{ "{\"t\":\"up\",\"port\":0}", "up: a number out of range" },
		{ "{\"t\":\"up\",\"port\":65536}", "up: a number out of range" },
		{ "{\"t\":\"up\",\"port\":\"22\"}", NULL },
		{ "{\"t\":\"up\",\"port\":22,\"extra\":1}", NULL },
		{ "{\"t\":\"down\",\"error\":5,\"message\":\"x\"}",
		    "down: a number out of range" },
		{ "{\"t\":\"retry\",\"delay_ms\":-1}",
		    "retry: a number out of range" },
		{ "{\"t\":\"conn_open\",\"conn\":-1}",
		    "conn_open: a number out of range" },
		{ "{\"t\":\"conn_close\",\"conn\":1,\"bytes_in\":9007199254740993,"
		    "\"bytes_out\":0,\"message\":\"\"}",
		    "conn_close: a number out of range" },
		{ "{\"t\":\"conn_close\",\"conn\":1,\"bytes_in\":1,"
		    "\"bytes_out\":1.5,\"message\":\"\"}", NULL },
		{ "{\"t\":\"failed\",\"error\":-1}", NULL },
	};
	char err[256], frame[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (check(bad[i].frame, err, sizeof(err)) != -EBADMSG)
			fail_msg("accepted %s", bad[i].frame);
		if (err[0] == '\0')
			fail_msg("no reason for %s", bad[i].frame);
		if (bad[i].err != NULL && strcmp(err, bad[i].err) != 0)
			fail_msg("%s: got '%s', want '%s'", bad[i].frame, err,
			    bad[i].err);
	}
	/* A text one byte over the bound. */
	snprintf(frame, sizeof(frame), "{\"t\":\"failed\",\"error\":-1,"
	    "\"detail\":\"%0*d\"}", SUPPORTMSG_TEXT_MAX + 1, 0);
	assert_int_equal(check(frame, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "failed: a text longer than 512 bytes");
	snprintf(frame, sizeof(frame), "{\"t\":\"failed\",\"error\":-1,"
	    "\"detail\":\"%0*d\"}", SUPPORTMSG_TEXT_MAX, 0);
	assert_int_equal(check(frame, err, sizeof(err)), 0);
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
