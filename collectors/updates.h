/*
 * The updates collector's parsers, exported so the tests can check them on
 * fixture outputs: apt-get's simulation and dnf's security advisories.
 */
#ifndef UPDATES_H
#define UPDATES_H

#include <stdbool.h>
#include <stddef.h>

#define UPDATES_NAMES_MAX	512	/* bytes of package names kept */

struct updates_count {
	unsigned long	 pending;	/* packages to upgrade or install */
	unsigned long	 security;	/* of those, from a security origin */
	char		 names[UPDATES_NAMES_MAX]; /* "a b c ..." security */
};

/*
 * Counts the "Inst PKG [OLD] (NEW ORIGIN, ORIGIN [ARCH])" lines of
 * `apt-get -s dist-upgrade` in len bytes of out; a package is a security
 * update when one of its origins names a "-security" suite
 * (Debian-Security:12/stable-security, Ubuntu:22.04/jammy-security).
 * Other lines are ignored. Returns 0, or -EINVAL when out is NULL.
 */
int	updates_parse_apt(const char *out, size_t len, struct updates_count *u);

/*
 * Counts the lines "ADVISORY SEVERITY/Sec. NEVRA" of `dnf -q --cacheonly
 * updateinfo list --security`: security is the number of distinct
 * packages (an advisory per line, a package may have several); pending
 * stays 0 (dnf's list is not asked). Returns 0 or -EINVAL.
 */
int	updates_parse_dnf(const char *out, size_t len, struct updates_count *u);

#endif
