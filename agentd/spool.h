/*
 * The durable report spool: every report is on disk, fsynced, before it is
 * sent, sent in order, and deleted only when the portal acknowledges it.
 * Segment files of JSON lines, appended with group commit (one fdatasync
 * for every report appended in one loop iteration); the acknowledged
 * watermark in its own file. Only agentd's main process touches it.
 */
#ifndef SPOOL_H
#define SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define SPOOL_SEGMENT_MAX	(1024 * 1024)	/* bytes before rotating */
#define SPOOL_RECORD_MAX	(512 * 1024)	/* one report, as JSON */
/* The highest base spool_renumber takes: seqs stay far inside JSON's
 * signed 64-bit integers. */
#define SPOOL_SEQ_MAX		((uint64_t)INT64_MAX / 2)

struct spool;

struct spool_stats {
	uint64_t	next_seq;	/* the seq the next append gets */
	uint64_t	acked;		/* highest seq the portal acknowledged */
	size_t		depth;		/* reports on disk not yet acknowledged */
	size_t		pending;	/* appended, not yet synced */
	uint64_t	bytes;		/* on disk */
	uint64_t	dropped;	/* routine reports dropped for space */
};

/*
 * Opens (creating, mode 0700) the spool directory and recovers it: a torn
 * last line (crash mid-write) is cut off, unreadable lines are skipped with
 * a warning, and numbering continues after the highest seq ever used.
 * max_bytes bounds the spool (see spool_sync). Returns 0 or -errno.
 */
int	spool_open(const char *dir, uint64_t max_bytes, struct spool **sp);
void	spool_close(struct spool *s);

/*
 * Queues one report {"seq", "kind", "time", "payload"} (payload reference
 * taken). Not durable until spool_sync. important = a state change,
 * command result or other event that must never be dropped; routine =
 * heartbeat, inventory. Returns the seq given, or 0 (payload too large,
 * logged).
 */
uint64_t spool_append(struct spool *s, const char *kind, double time,
	    json_t *payload, bool important);
/*
 * Writes every queued report and makes it durable with one fdatasync
 * (and a directory fsync when a segment was created). Over max_bytes, the
 * oldest routine reports are dropped first (segments rewritten without
 * them, atomically); important ones are never dropped, even if the spool
 * then stays over its bound. Returns 0 or -errno (reports stay queued and
 * the next call retries: a full disk loses nothing already accepted).
 */
int	spool_sync(struct spool *s);
/*
 * Reads, in seq order, up to max_reports unacknowledged durable reports
 * with seq > after, at most max_bytes of JSON in all (always at least one
 * report if there is one). Returns a new JSON array (empty if none) or
 * NULL on an I/O error.
 */
json_t	*spool_read(struct spool *s, uint64_t after, size_t max_reports,
	    size_t max_bytes);
/* Records that the portal stored everything up to ack: persists the
 * watermark (fsynced before anything is deleted) and removes segments
 * that hold nothing newer. Returns 0 or -errno. */
int	spool_ack(struct spool *s, uint64_t ack);
void	spool_stats(const struct spool *s, struct spool_stats *st);
/*
 * The newest report of that kind still queued in memory (not durable: the
 * disk is full or failing), as spool_read gives it, or NULL. New reference.
 */
json_t	*spool_queued_last(struct spool *s, const char *kind);
/*
 * After a sequence conflict (the portal already holds other reports up to
 * base: the spool was lost or restored while the identity stayed): gives
 * every unacknowledged report, in order, the seqs base + 1, base + 2, ...
 * (base is raised to the watermark if lower), and the watermark becomes
 * base. Queued reports are synced first. Durable across a crash at any
 * point: the renumbered copy is written aside and committed by one rename,
 * and spool_open finishes a committed renumbering; before the commit the
 * old numbering stands. *np gets how many were renumbered, *old_firstp the
 * old seq of the first. Returns 0 or -errno (-ERANGE: base is past
 * SPOOL_SEQ_MAX, and nothing changes).
 */
int	spool_renumber(struct spool *s, uint64_t base, size_t *np,
	    uint64_t *old_firstp);

#endif
