/*
 * libFuzzer target: a lock object read back from the target. Whatever
 * lock_parse accepts must format to text that parses to the same lock.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lock_info a, b;
	char	 buf[LOCK_MAX];
	int	 n;

	if (lock_parse(&a, (const char *)data, size) != 0)
		return 0;
	if ((n = lock_format(&a, buf, sizeof(buf))) < 0 ||
	    lock_parse(&b, buf, (size_t)n) != 0 ||
	    memcmp(&a, &b, sizeof(a)) != 0)
		abort();
	return 0;
}
