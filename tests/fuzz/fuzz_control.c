/* libFuzzer target: control socket request lines. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct control_request req;
	char err[256];

	err[0] = '\0';
	if (control_parse_request((const char *)data, size, &req, err,
	    sizeof(err)) == 0) {
		if (req.cmd == CONTROL_CHECK_RUN && req.name[0] == '\0')
			abort();
	} else if (err[0] == '\0')
		abort();	/* every refusal says why */
	return 0;
}
