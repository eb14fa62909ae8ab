/*
 * libFuzzer target for the updates collector's parsers: arbitrary bytes as
 * the output of `apt-get -s dist-upgrade` and of `dnf updateinfo list`
 * (commands whose output agentd reads as untrusted input).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "updates.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_updates: invariant failed: %s\n",	\
		    #cond);						\
		abort();						\
	}								\
} while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct updates_count u;

	CHECK(updates_parse_apt((const char *)data, size, &u) == 0);
	CHECK(u.security <= u.pending);
	CHECK(u.pending <= size / 6 + 1);
	CHECK(strnlen(u.names, sizeof(u.names)) < sizeof(u.names));
	CHECK(updates_parse_dnf((const char *)data, size, &u) == 0);
	CHECK(u.pending == 0);
	CHECK(u.security <= size / 5 + 1);
	CHECK(strnlen(u.names, sizeof(u.names)) < sizeof(u.names));
	return 0;
}
