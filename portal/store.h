/*
 * The portal's SQLite database: one connection in WAL mode behind one
 * mutex, schema migrations by PRAGMA user_version, and a cache of prepared
 * statements. Higher modules (credential, ledger, alert, fleet, webhook) own
 * the queries; they hold the lock for a whole transaction.
 */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>

#include <sqlite3.h>

struct store;

/* Opens (creating and migrating) the database at path. Returns 0 or a
 * negative errno with err saying what failed. */
int	store_open(const char *path, struct store **out, char *err,
	    size_t errlen);
/* Finalizes statements and closes; NULL is fine. */
void	store_close(struct store *);

void	store_lock(struct store *);
void	store_unlock(struct store *);
/*
 * The prepared statement for sql, which must be a string literal (the
 * cache is keyed by its address), reset and unbound. Lock held. NULL and a
 * logged error if it does not prepare.
 */
sqlite3_stmt *store_stmt(struct store *, const char *sql);
sqlite3	*store_db(struct store *);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK with the lock held: 0 or -EIO. */
int	store_begin(struct store *);
int	store_commit(struct store *);
void	store_rollback(struct store *);
/* sqlite3_step that logs unexpected results; returns its result code. */
int	store_step(struct store *, sqlite3_stmt *);
/* Text of column i or "" for NULL. */
const char *store_text(sqlite3_stmt *, int i);
/* Wall-clock time, seconds since the epoch: for stamps, never durations. */
double	store_now(void);
/* CLOCK_MONOTONIC in seconds: for durations inside one process. */
double	store_monotonic(void);

#endif
