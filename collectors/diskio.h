/*
 * diskio collector: the /proc/diskstats parser, the rate arithmetic and
 * the instance layout (its clock is a seam for the tests).
 */
#ifndef DISKIO_H
#define DISKIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"
#include "threshold.h"

#define DISKIO_NAME_MAX		32	/* DISK_NAME_LEN */
#define DISKIO_EXCLUDE_MAX	64
#define DISKIO_SECTOR		512	/* bytes, whatever the device */

/* One line of /proc/diskstats: the first 11 counters, which every kernel
 * since 2.6 prints for a whole disk (4.18 added discards, 5.5 flushes). */
struct diskio_stat {
	char		name[DISKIO_NAME_MAX];
	unsigned	major, minor;
	uint64_t	reads, reads_merged, sectors_read, ms_reading;
	uint64_t	writes, writes_merged, sectors_written, ms_writing;
	uint64_t	in_flight, io_ticks, weighted_ms;
	unsigned	nfields;	/* counters on the line */
};

/* Rates between two samples of one disk. */
struct diskio_rates {
	double	read_bytes, write_bytes;	/* per second */
	double	read_iops, write_iops;
	double	util;		/* % of time with I/O in flight */
};

struct diskio {
	struct threshold	 util;	/* % busy */
	char			*exclude[DISKIO_EXCLUDE_MAX];
	size_t			 nexclude;
	struct collector_env	 env;
	/* CLOCK_MONOTONIC in microseconds; tests put a fake here. */
	uint64_t		(*now_fn)(void);
	struct diskio_stat	*disks;		/* the last sample */
	size_t			 ndisks;
	uint64_t		 sampled;	/* now_fn() then */
	bool			 have_sample;
};

/* Parses one diskstats line (NUL-terminated, without the newline).
 * Returns 0; -ENODATA for a line with fewer than 11 counters (a 2.6
 * partition line: not a disk); -EINVAL when it is not a diskstats line. */
int	diskio_parse_line(const char *line, struct diskio_stat *out);

/* Parses every complete line of buf into *out (caller frees), skipping
 * -ENODATA lines. Returns 0, or -EINVAL when some line was not diskstats
 * (*out is then NULL). */
int	diskio_parse(const char *buf, size_t len, struct diskio_stat **out,
	    size_t *n);

/*
 * Rates between prev and cur over elapsed_usec (> 0). A counter that went
 * backwards is taken as a 32-bit wrap when it plausibly was one (the old
 * value in the top half of 32 bits, the new one below it: io_ticks is a
 * 32-bit millisecond count that wraps every 49.7 days) or a 64-bit wrap;
 * anything else means the device was reset or replaced: -EAGAIN, take cur
 * as the new baseline. Utilisation is capped at 100.
 */
int	diskio_rates_between(const struct diskio_stat *prev,
	    const struct diskio_stat *cur, uint64_t elapsed_usec,
	    struct diskio_rates *out);

extern const struct collector collector_diskio;

#endif
