/*
 * The processes collector's parsers, exported for the unit tests:
 * one /proc/PID/stat line, and the one-number limit files.
 */
#ifndef PROCESSES_H
#define PROCESSES_H

#include <stddef.h>

#define PROCESSES_COMM_MAX	64	/* kernel limit incl. kworker suffix */

struct processes_stat {
	long	pid;
	char	comm[PROCESSES_COMM_MAX + 1];	/* raw bytes, NUL-terminated */
	char	state;		/* 'R', 'S', 'D', 'Z', 'T', 'I', ... */
	long	ppid;
	long	threads;	/* 0 when the line stops before field 20 */
};

/* Parses one /proc/PID/stat line. The comm field may hold spaces and ')',
 * so it ends at the LAST ')'. Returns 0 or -EINVAL. */
int	processes_parse_stat(const char *buf, size_t len,
	    struct processes_stat *out);
/* Parses a file holding one positive integer ("32768\n"), such as
 * kernel/pid_max. Returns 0 or -EINVAL. */
int	processes_parse_limit(const char *buf, size_t len,
	    unsigned long *out);

#endif
