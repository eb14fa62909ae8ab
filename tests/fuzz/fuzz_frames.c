/*
 * libFuzzer target: bytes from agentd-reporter as agentd reads them, the
 * framing (ipc_split) and then the check of each frame (childmsg_check).
 * A frame the check accepts must hold what deliver_on_msg relies on.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "childmsg.h"
#include "ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fuzz_frame(json_t *msg, void *arg)
{
	char err[256];
	json_t *cmds, *c;
	size_t i;

	(void)arg;
	if (childmsg_check(msg, err, sizeof(err)) < 0)
		return -EPROTO;
	if (!json_is_integer(json_object_get(msg, "id")) ||
	    !json_is_boolean(json_object_get(msg, "ok")))
		abort();
	cmds = json_object_get(msg, "commands");
	json_array_foreach(cmds, i, c) {
		const char *id = json_string_value(json_object_get(c, "id"));
		const char *type = json_string_value(json_object_get(c, "type"));

		if (id == NULL || type == NULL || strlen(id) > CHILDMSG_ID_MAX ||
		    !json_is_object(json_object_get(c, "args")))
			abort();
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t used = 0;
	int r;

	r = ipc_split(data, size, CHILDMSG_FRAME_MAX, &used, fuzz_frame, NULL);
	if (used > size || (r != 0 && r != -EMSGSIZE && r != -EBADMSG &&
	    r != -EPROTO))
		abort();
	return 0;
}
