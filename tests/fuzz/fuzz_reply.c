/* libFuzzer target: the portal's reply to a batch of reports (200), and
 * its body of a sequence conflict (409). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *cmds = NULL, *c;
	uint64_t ack;
	size_t skipped, i;
	char err[256];

	if (reply_parse((const char *)data, size, &ack, &cmds, &skipped, err,
	    sizeof(err)) == 0) {
		if (json_array_size(cmds) > REPLY_COMMANDS_MAX)
			abort();
		json_array_foreach(cmds, i, c)
			if (json_string_value(json_object_get(c, "id")) == NULL ||
			    json_string_value(json_object_get(c, "type")) == NULL)
				abort();
	} else if (cmds != NULL)
		abort();
	json_decref(cmds);
	if (reply_parse_conflict((const char *)data, size, &ack) == 0 &&
	    ack > (uint64_t)INT64_MAX)
		abort();
	return 0;
}
