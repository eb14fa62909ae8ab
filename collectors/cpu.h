/*
 * cpu collector: the /proc/stat parser and the usage arithmetic, exported
 * so the unit tests can feed them fixture text.
 */
#ifndef CPU_H
#define CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"

/* The aggregate "cpu" line of /proc/stat, in USER_HZ ticks. Fields an older
 * kernel does not print (steal before 2.6.11, ...) are 0. guest and
 * guest_nice are left out: the kernel already counts them in user/nice. */
struct cpu_sample {
	uint64_t	user, nice, system, idle, iowait, irq, softirq, steal;
	unsigned	nfields;	/* numbers on the "cpu" line */
	unsigned	ncpu;		/* "cpuN" lines: online CPUs */
};

/* Percentages of all CPU time between two samples; they add up to 100. */
struct cpu_usage {
	double	user;	/* user + nice, guest time included */
	double	system;	/* system + irq + softirq */
	double	iowait;
	double	steal;
	double	idle;
	double	busy;	/* user + system: work for this host */
};

/*
 * Parses /proc/stat text (buf need not be NUL-terminated). Only complete
 * lines count, so a buffer cut short still parses as long as every
 * "cpuN" line arrived. Returns 0, or -EINVAL when there is no aggregate
 * "cpu" line with at least user, nice, system and idle, a number is not
 * one, or the buffer ends inside the cpu lines.
 */
int	cpu_parse_stat(const char *buf, size_t len, struct cpu_sample *out);

/*
 * Usage between prev and cur. A single field that went backwards counts
 * as 0 (the kernel's iowait and idle may do that on tickless systems).
 * Returns 0, or -EAGAIN when no time passed or the total went backwards
 * (counters reset): take cur as the new baseline.
 */
int	cpu_usage_between(const struct cpu_sample *prev,
	    const struct cpu_sample *cur, struct cpu_usage *out);

extern const struct collector collector_cpu;

#endif
