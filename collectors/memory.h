/*
 * memory collector: the /proc/meminfo parser, exported for the unit tests.
 */
#ifndef MEMORY_H
#define MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"

/* What the collector needs from /proc/meminfo, in bytes. */
struct memory_info {
	uint64_t	total;
	uint64_t	free;
	uint64_t	available;	/* MemAvailable, or the estimate */
	uint64_t	buffers;
	uint64_t	cached;
	uint64_t	swap_total;	/* 0: no swap */
	uint64_t	swap_free;
	bool		has_available;	/* else estimated (< 3.14) */
};

/*
 * Parses /proc/meminfo text (buf need not be NUL-terminated; only complete
 * lines count). Without MemAvailable, available is estimated as MemFree +
 * Buffers + Cached, as tools did before 3.14. Returns 0, or -EINVAL when
 * MemTotal or MemFree is missing, a value we use is not a number of kB,
 * or the numbers contradict each other (free above total).
 */
int	memory_parse_meminfo(const char *buf, size_t len,
	    struct memory_info *out);

extern const struct collector collector_memory;

#endif
