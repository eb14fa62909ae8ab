/* The agent's parser of the portal's reply: command ids are bounded at the
 * same 64 bytes as on the portal (docs/protocol.md), duplicate keys are
 * refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "reply.h"

/* A reply with one run_check command whose id is "cmd_" + n digits. */
static size_t
commands_kept(size_t n, size_t *skipped)
{
	char body[512], id[256];
	json_t *cmds;
	uint64_t ack;
	char err[128];
	size_t kept, i;

	snprintf(id, sizeof(id), "cmd_");
	for (i = 0; i < n; i++)
		id[4 + i] = (char)('0' + i % 10);
	id[4 + n] = '\0';
	snprintf(body, sizeof(body), "{\"ack\": 3, \"commands\": [{\"id\": "
	    "\"%s\", \"type\": \"run_check\", \"args\": {\"name\": \"x\"}}]}",
	    id);
	assert_int_equal(reply_parse(body, strlen(body), &ack, &cmds, skipped,
	    err, sizeof(err)), 0);
	kept = json_array_size(cmds);
	json_decref(cmds);
	return kept;
}

static void
test_command_id_length(void **state)
{
	size_t skipped;

	(void)state;
	assert_int_equal(REPLY_COMMAND_ID_MAX, 64);
	/* 64 bytes: kept */
	assert_int_equal(commands_kept(60, &skipped), 1);
	assert_int_equal(skipped, 0);
	/* 65 bytes: the portal would never send it; dropped and counted */
	if (commands_kept(61, &skipped) != 0)
		fail_msg("a 65-byte command id was accepted; the portal's "
		    "limit is 64");
	assert_int_equal(skipped, 1);
}

static void
test_duplicate_keys(void **state)
{
	static const char body[] = "{\"ack\": 1, \"ack\": 2}";
	json_t *cmds;
	uint64_t ack;
	size_t skipped;
	char err[128];

	(void)state;
	assert_int_equal(reply_parse(body, strlen(body), &ack, &cmds,
	    &skipped, err, sizeof(err)), -EBADMSG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command_id_length),
		cmocka_unit_test(test_duplicate_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
