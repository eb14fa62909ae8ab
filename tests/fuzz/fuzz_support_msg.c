/*
 * libFuzzer target: bytes from agentd-support as agentd reads them, the
 * framing (ipc_split) and then supportmsg_check. A frame it accepts must
 * hold what agentd's support module relies on.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "supportmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fuzz_frame(json_t *msg, void *arg)
{
	const char *t, *s;
	char err[256];

	(void)arg;
	if (supportmsg_check(msg, err, sizeof(err)) < 0) {
		if (err[0] == '\0')
			abort();	/* every refusal says why */
		return -EPROTO;
	}
	t = json_string_value(json_object_get(msg, "t"));
	if (t == NULL)
		abort();
	s = json_string_value(json_object_get(msg, strcmp(t, "failed") == 0 ?
	    "detail" : "message"));
	if (s != NULL && strlen(s) > SUPPORTMSG_TEXT_MAX)
		abort();
	if (strcmp(t, "conn_close") == 0 &&
	    (json_integer_value(json_object_get(msg, "bytes_in")) < 0 ||
	    json_integer_value(json_object_get(msg, "bytes_out")) < 0))
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t used = 0;
	int r;

	r = ipc_split(data, size, SUPPORTMSG_FRAME_MAX, &used, fuzz_frame,
	    NULL);
	if (used > size || (r != 0 && r != -EMSGSIZE && r != -EBADMSG &&
	    r != -EPROTO))
		abort();
	return 0;
}
