/*
 * The uptime collector's parsers, exported for the unit tests: /proc/uptime,
 * the kernel boot id, and the state file that remembers the last boot id.
 */
#ifndef UPTIME_H
#define UPTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define UPTIME_BOOT_ID_LEN	36	/* "8-4-4-4-12" hex digits and dashes */

/* What env->state_dir/boot_id holds. previous is "" unless a reboot was
 * seen during the current boot (so an agent restart keeps the warning). */
struct uptime_saved {
	char	boot_id[UPTIME_BOOT_ID_LEN + 1];
	char	previous[UPTIME_BOOT_ID_LEN + 1];
};

/* Parses /proc/uptime ("270.10 503.27\n") into seconds since boot.
 * Returns 0 or -EINVAL. */
int	uptime_parse(const char *buf, size_t len, double *uptime);
/* Parses /proc/sys/kernel/random/boot_id into out (a NUL-terminated
 * lowercase UUID of UPTIME_BOOT_ID_LEN characters). Returns 0 or -EINVAL. */
int	uptime_parse_boot_id(const char *buf, size_t len,
	    char out[UPTIME_BOOT_ID_LEN + 1]);
/* Parses the state file ("boot_id=...\n[previous_boot_id=...\n]").
 * Returns 0 or -EINVAL (out is then empty). */
int	uptime_parse_saved(const char *buf, size_t len,
	    struct uptime_saved *out);
/* The summary for an uptime at wall-clock time now: "rebooted 4 min ago, at
 * 2026-11-23 10:02 UTC" when rebooted, else "up 3 days 4 h, since ...". */
void	uptime_describe(char *buf, size_t len, double uptime, time_t now,
	    bool rebooted);

#endif
