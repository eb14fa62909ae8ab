/*
 * Whether an external check command may be run with agentd's rights: the
 * OpenSSH safe_path() rule (AuthorizedKeysCommand, StrictModes) applied
 * to a plugin, since whoever can replace it runs code as agentd.
 */
#ifndef SAFEPATH_H
#define SAFEPATH_H

#include <stddef.h>
#include <sys/types.h>

/*
 * path (absolute) must resolve, symlinks followed, to a regular file with an
 * execute bit, owned by root or by `self`, not writable by group or others;
 * and every directory above it, on the path as written and on the resolved
 * one, up to /, must be owned by root or `self` and not writable by group
 * or others, except a sticky directory owned by root (/tmp): there nobody
 * else can rename or remove the entry below it, which is checked in turn.
 * Returns 0, or -errno with the reason in err ("... is writable by group or
 * others", -EPERM for an unsafe path).
 */
int	safepath_check(const char *path, uid_t self, char *err, size_t errlen);

#endif
