/*
 * The run lock of a target: one run (backup, forget) at a time on a
 * target, and a lock left by a crashed or SIGKILLed run never blocks the
 * next one. Two parts: flock on a local file in the agent's state (the
 * kernel drops it when the process dies), and an object "lock" on the
 * target naming host, boot id, pid and the pid's start time, which the
 * next run on the same host removes when that process is gone.
 */
#ifndef LOCK_H
#define LOCK_H

#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "target.h"

#define LOCK_OBJECT	"lock"
#define LOCK_MAX	4096	/* bytes of a lock object read back */

struct lock_info {
	char		 host[256];
	char		 boot[64];	/* /proc/sys/kernel/random/boot_id */
	long		 pid;
	uint64_t	 pstart;	/* the pid's start, ticks after boot */
	int64_t		 started;	/* Unix seconds */
	char		 job[MANIFEST_ID_MAX];	/* "" when unnamed */
};

struct backup_lock;

/* This process, as a lock names it. 0 or -errno. */
int	lock_self(struct lock_info *li, const char *job);
/* The text of a lock object; its length, or -ENOSPC. */
int	lock_format(const struct lock_info *li, char *buf, size_t len);
/* Parses a lock object. 0 or -EBADMSG. */
int	lock_parse(struct lock_info *li, const char *buf, size_t len);
/*
 * Whether holder's run is certainly over, seen from self: same host and
 * another boot, or same host and boot and its pid gone or now another
 * process (a different start time). A lock of another host is never
 * stale: that host's own next run removes it.
 */
int	lock_stale(const struct lock_info *holder, const struct lock_info *self);

/*
 * Takes the target's lock: flock on local (created 0600 if needed; use
 * one file per target), then the lock object, removing a stale one.
 * Then removes the leftovers of interrupted runs (temporaries, archives
 * without a manifest). 0; -EBUSY when a live run holds it (its lock in
 * *holder when not NULL and known: holder->pid 0 when only the local
 * flock is taken); -EBADMSG when the lock object is not a lock; other
 * -errno.
 */
int	lock_acquire(struct target *t, const char *local, const char *job,
	    struct backup_lock **out, struct lock_info *holder);
/* Removes the lock object and drops the flock. NULL is fine. */
void	lock_release(struct backup_lock *l);
/* The leftovers of interrupted runs removed (only under the lock); their
 * count, or -errno. */
int	lock_clean(struct target *t);

#endif
