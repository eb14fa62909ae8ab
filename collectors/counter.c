/*
 * counter: the /proc number reader and the wrap-aware delta shared by the
 * collectors that turn two samples of kernel counters into rates.
 */
#include <errno.h>
#include <stdlib.h>

#include "counter.h"

int
counter_parse(const char **p, uint64_t *out)
{
	const char *s = *p;
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno != 0 || (*end != '\0' && *end != ' ' && *end != '\t'))
		return -EINVAL;
	*p = end;
	return 0;
}

bool
counter_delta(uint64_t prev, uint64_t cur, uint64_t *delta)
{
	if (cur >= prev) {
		*delta = cur - prev;
		return true;
	}
	if (prev >= UINT64_C(1) << 63 && cur < UINT64_C(1) << 63) {
		*delta = cur - prev;	/* modulo 2^64 */
		return true;
	}
	if (prev <= UINT32_MAX && prev >= UINT64_C(1) << 31 &&
	    cur < UINT64_C(1) << 31) {
		*delta = (UINT32_MAX - prev) + cur + 1;
		return true;
	}
	return false;
}

int
counter_deltas(const uint64_t *prev, const uint64_t *cur, size_t n,
    uint64_t *d)
{
	unsigned backwards = 0;

	for (size_t i = 0; i < n; i++) {
		if (cur[i] < prev[i])
			backwards++;
		if (!counter_delta(prev[i], cur[i], &d[i]))
			return -EAGAIN;
	}
	return backwards > 1 ? -EAGAIN : 0;
}
