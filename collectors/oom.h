/*
 * oom collector: the parsers of the kernel's and systemd-oomd's kill
 * messages, exported for the unit tests and the fuzz target.
 */
#ifndef OOM_H
#define OOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OOM_NAME_MAX	64	/* escaped process name (comm is 15 bytes) */
#define OOM_CGROUP_MAX	160	/* escaped cgroup path, cut */
#define OOM_KEPT	32	/* kills remembered for the hold window */

/* One kill: by the kernel (a process) or by systemd-oomd (a cgroup). */
struct oom_kill {
	uint64_t	usec;			/* CLOCK_REALTIME of the entry */
	int		pid;			/* 0: oomd (a whole cgroup) */
	char		name[OOM_NAME_MAX];	/* process; "" for oomd */
	char		cgroup[OOM_CGROUP_MAX];	/* "" when unknown */
	bool		oomd;
	bool		summary;	/* from an "oom-kill:" line only */
	bool		merged;		/* both of the kernel's lines seen */
};

enum oom_line {
	OOM_LINE_NONE = 0,	/* not about a kill */
	OOM_LINE_KILLED,	/* "... out of memory: Killed process N (x)" */
	OOM_LINE_SUMMARY,	/* "oom-kill:...,task_memcg=C,task=x,pid=N" */
};

/* Reads one kernel message (msg, len bytes, not NUL-terminated; at most
 * the first 1 KiB is looked at). Fills out (name and cgroup escaped) for
 * a kill line or an oom-kill summary line and says which. */
enum oom_line oom_parse_kernel(const char *msg, size_t len,
	    struct oom_kill *out);
/* Reads one systemd-oomd message: "Killed /x.slice/y.service due to ..."
 * fills out (the cgroup) and returns true; anything else false. */
bool	oom_parse_oomd(const char *msg, size_t len, struct oom_kill *out);

#endif
