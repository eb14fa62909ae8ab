/* libFuzzer target: smartctl's JSON as agentd-check-smart reads it (a
 * smartctl, or a file a timer saved, is outside agentd's control). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smart_device devs[4];
	struct smart_health h;
	char err[SMART_WHY_MAX], out[1024];
	size_t n, skipped;
	int s;

	if (smart_parse_scan((const char *)data, size, devs, 4, &n, &skipped,
	    err, sizeof(err)) == 0) {
		if (n > 4)
			abort();
		for (size_t i = 0; i < n; i++)
			if (strncmp(devs[i].name, "/dev/", 5) != 0)
				abort();
	}
	s = smart_judge("sda", (const char *)data, size, &h);
	if (s < 0 || s > 3 || s != h.state || strlen(h.why) >= sizeof(h.why))
		abort();
	if (smart_format(&h, 1, out, sizeof(out)) != s ||
	    strlen(out) >= sizeof(out))
		abort();
	return 0;
}
