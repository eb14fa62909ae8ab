/* libFuzzer target: kernel and systemd-oomd messages read from the journal
 * (a process name in them is anyone's choice). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oom_kill k;
	enum oom_line line;

	line = oom_parse_kernel((const char *)data, size, &k);
	if (line != OOM_LINE_NONE && (k.pid <= 0 ||
	    strlen(k.name) >= sizeof(k.name) ||
	    strlen(k.cgroup) >= sizeof(k.cgroup)))
		abort();
	if (oom_parse_oomd((const char *)data, size, &k) &&
	    (!k.oomd || strlen(k.cgroup) >= sizeof(k.cgroup)))
		abort();
	return 0;
}
