/*
 * load collector: the /proc/loadavg and CPU list parsers, exported for the
 * unit tests.
 */
#ifndef LOAD_H
#define LOAD_H

#include <stddef.h>

#include "collector.h"

struct load_avg {
	double		load1, load5, load15;
	unsigned	running, total;	/* tasks; 0 if absent */
};

/* Parses "0.02 0.08 0.04 1/86 5362" (buf need not be NUL-terminated).
 * Returns 0, or -EINVAL when the three averages are not plain decimals. */
int	load_parse_loadavg(const char *buf, size_t len,
	    struct load_avg *out);

/* Counts the CPUs in a kernel CPU list such as "0-3,6,8-9" (the format of
 * /sys/devices/system/cpu/online). Returns 0, or -EINVAL on anything else
 * (descending or overlapping ranges, empty list, CPU numbers >= 2^20). */
int	load_parse_cpulist(const char *buf, size_t len, unsigned *count);

extern const struct collector collector_load;

#endif
