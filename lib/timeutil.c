/*
 * timeutil: the clocks in microseconds. Lives in lib/ because collectors,
 * the scheduler, reports and the control socket all measure with it.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "timeutil.h"

uint64_t (*time_now_hook)(clockid_t clock);

uint64_t
time_now(clockid_t clock)
{
	struct timespec ts;

	if (time_now_hook != NULL)
		return time_now_hook(clock);
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t
time_since(uint64_t then, uint64_t now)
{
	return now > then ? now - then : 0;
}

int
time_parse_duration(const char *s, unsigned *out)
{
	unsigned long v, mult = 1;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0)
		return -EINVAL;
	if (*end != '\0') {
		if (end[1] != '\0')
			return -EINVAL;
		switch (*end) {
		case 's':
			break;
		case 'm':
			mult = 60;
			break;
		case 'h':
			mult = 3600;
			break;
		case 'd':
			mult = 86400;
			break;
		default:
			return -EINVAL;
		}
	}
	if (v > UINT_MAX / mult)
		return -EINVAL;
	*out = (unsigned)(v * mult);
	return 0;
}
