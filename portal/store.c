/*
 * SQLite access for the portal. One connection and one mutex: every write
 * needs SQLite's single writer lock anyway, and a mutex avoids the
 * SQLITE_BUSY retries that a connection per thread would bring (see
 * docs/portal.md, "Concurrency").
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "xmalloc.h"

#define STORE_MAX_STMTS	160

struct cached {
	const char	*sql;
	sqlite3_stmt	*stmt;
};

struct store {
	sqlite3		*db;
	pthread_mutex_t	 mu;
	struct cached	 stmts[STORE_MAX_STMTS];
	size_t		 nstmts;
};

/* Schema version n is migrations[n - 1]; append, never edit. */
static const char *const migrations[] = {
	"CREATE TABLE tokens ("
	"  hash TEXT PRIMARY KEY,"
	"  created REAL NOT NULL,"
	"  expires REAL NOT NULL,"
	"  used REAL);"
	"CREATE TABLE agents ("
	"  id TEXT PRIMARY KEY,"
	"  cred_hash TEXT NOT NULL,"
	"  machine_id TEXT NOT NULL,"
	"  hostname TEXT NOT NULL,"
	"  inventory TEXT NOT NULL,"
	"  enrolled REAL NOT NULL,"
	"  revoked REAL,"
	"  superseded_by TEXT,"
	"  last_seen REAL,"
	"  report_interval INTEGER NOT NULL,"
	"  max_seq INTEGER NOT NULL DEFAULT 0,"
	"  unreachable INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX agents_machine ON agents(machine_id);"
	"CREATE TABLE reports ("
	"  agent_id TEXT NOT NULL,"
	"  seq INTEGER NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  time REAL NOT NULL,"
	"  received REAL NOT NULL,"
	"  payload TEXT NOT NULL,"
	"  PRIMARY KEY (agent_id, seq)) WITHOUT ROWID;"
	"CREATE TABLE checks ("
	"  agent_id TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  since REAL NOT NULL,"
	"  at REAL NOT NULL,"
	"  result TEXT NOT NULL,"
	"  PRIMARY KEY (agent_id, name)) WITHOUT ROWID;"
	"CREATE TABLE alerts ("
	"  id INTEGER PRIMARY KEY,"
	"  agent_id TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  check_name TEXT,"
	"  state TEXT NOT NULL,"
	"  summary TEXT NOT NULL,"
	"  opened REAL NOT NULL,"
	"  closed REAL);"
	"CREATE INDEX alerts_open ON alerts(agent_id, kind, check_name)"
	"  WHERE closed IS NULL;"
	"CREATE TABLE commands ("
	"  id INTEGER PRIMARY KEY,"
	"  agent_id TEXT NOT NULL,"
	"  type TEXT NOT NULL,"
	"  args TEXT NOT NULL,"
	"  created REAL NOT NULL,"
	"  created_by TEXT NOT NULL,"
	"  status TEXT NOT NULL DEFAULT 'pending',"
	"  detail TEXT,"
	"  completed REAL);"
	"CREATE INDEX commands_agent ON commands(agent_id, status);"
	"CREATE TABLE operators ("
	"  name TEXT PRIMARY KEY,"
	"  hash TEXT NOT NULL UNIQUE,"
	"  created REAL NOT NULL,"
	"  revoked REAL);"
	"CREATE TABLE outbox ("
	"  id INTEGER PRIMARY KEY,"
	"  body TEXT NOT NULL,"
	"  created REAL NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_try REAL NOT NULL,"
	"  last_error TEXT);",
	/*
	 * 2: checks are ordered by the agent's report seq, not its clock;
	 * tokens can be revoked and may allow the takeover of one agent's
	 * machine; operator tokens expire and show when they were last
	 * used; the dead-man's switch remembers the last realtime step.
	 */
	"ALTER TABLE checks ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE tokens ADD COLUMN revoked REAL;"
	"ALTER TABLE tokens ADD COLUMN replaces TEXT;"
	"ALTER TABLE operators ADD COLUMN expires REAL;"
	"ALTER TABLE operators ADD COLUMN used REAL;"
	"CREATE TABLE clock_steps ("
	"  id INTEGER PRIMARY KEY,"
	"  at REAL NOT NULL,"
	"  delta REAL NOT NULL);",
	/*
	 * 3: the latest backup_result of each backup job of an agent, and
	 * when that job last ended ok (kept across failed runs).
	 */
	"CREATE TABLE backups ("
	"  agent_id TEXT NOT NULL,"
	"  job TEXT NOT NULL,"
	"  snapshot TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  status TEXT NOT NULL,"
	"  files BIGINT NOT NULL,"
	"  bytes BIGINT NOT NULL,"
	"  stored_bytes BIGINT NOT NULL,"
	"  duration REAL NOT NULL,"
	"  finished REAL NOT NULL,"
	"  errors TEXT NOT NULL,"
	"  last_ok REAL,"
	"  PRIMARY KEY (agent_id, job));",
	/*
	 * 4: remote support. An agent's own ssh-ed25519 public key and the
	 * bastion port it may forward, each unique among live agents
	 * (partial indexes, which PostgreSQL has too); the bastion's
	 * credentials, good for its key listing only.
	 */
	"ALTER TABLE agents ADD COLUMN ssh_key TEXT;"
	"ALTER TABLE agents ADD COLUMN forward_port INTEGER;"
	"CREATE UNIQUE INDEX agents_forward_port ON agents(forward_port)"
	"  WHERE revoked IS NULL AND forward_port IS NOT NULL;"
	"CREATE UNIQUE INDEX agents_ssh_key ON agents(ssh_key)"
	"  WHERE revoked IS NULL AND ssh_key IS NOT NULL;"
	"CREATE TABLE bastions ("
	"  name TEXT PRIMARY KEY,"
	"  hash TEXT NOT NULL UNIQUE,"
	"  created REAL NOT NULL,"
	"  expires REAL,"
	"  used REAL,"
	"  revoked REAL);",
	/*
	 * 5: the audit trail of remote support sessions, one row per
	 * support_event report (its members the portal keeps, as JSON),
	 * in the agent's seq order.
	 */
	"CREATE TABLE support_events ("
	"  agent_id TEXT NOT NULL,"
	"  seq BIGINT NOT NULL,"
	"  session TEXT NOT NULL,"
	"  event TEXT NOT NULL,"
	"  received REAL NOT NULL,"
	"  payload TEXT NOT NULL,"
	"  PRIMARY KEY (agent_id, seq));"
	"CREATE INDEX support_events_session ON support_events(agent_id,"
	"  session, seq);",
	/*
	 * 6: what a command_result says beyond status and detail (an
	 * open_support_session's session, state and connect), as JSON.
	 */
	"ALTER TABLE commands ADD COLUMN result TEXT;",
	/*
	 * 7: proactive warnings. A check's latest forecast (JSON), its
	 * flapping percentage while it flaps, when its silence ends, and
	 * the reason of its last state change (JSON); the reason, forecast
	 * and flapping of an alert; the host's maintenance window (open
	 * until its end has been acted on, see alert_window_scan); the
	 * history of state changes with their reasons and whether their
	 * alert was held back (maintenance, silence).
	 */
	"ALTER TABLE checks ADD COLUMN forecast TEXT;"
	"ALTER TABLE checks ADD COLUMN flapping REAL;"
	"ALTER TABLE checks ADD COLUMN silenced_until REAL;"
	"ALTER TABLE checks ADD COLUMN reason TEXT;"
	"CREATE INDEX checks_silenced ON checks(silenced_until)"
	"  WHERE silenced_until IS NOT NULL;"
	"ALTER TABLE alerts ADD COLUMN reason TEXT;"
	"ALTER TABLE alerts ADD COLUMN forecast TEXT;"
	"ALTER TABLE alerts ADD COLUMN flapping REAL;"
	"ALTER TABLE agents ADD COLUMN maint_open INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE agents ADD COLUMN maint_until REAL;"
	"ALTER TABLE agents ADD COLUMN maint_reason TEXT;"
	"ALTER TABLE agents ADD COLUMN maint_by TEXT;"
	"ALTER TABLE agents ADD COLUMN maint_started REAL;"
	"CREATE TABLE check_changes ("
	"  id INTEGER PRIMARY KEY,"
	"  agent_id TEXT NOT NULL,"
	"  seq BIGINT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  previous TEXT,"
	"  state TEXT NOT NULL,"
	"  flapping REAL,"
	"  reason TEXT,"
	"  held TEXT,"
	"  at REAL NOT NULL);"
	"CREATE INDEX check_changes_agent ON check_changes(agent_id, id);",
	/*
	 * 8: operator accounts of the web app (an Argon2id hash, a role,
	 * disabled rather than deleted so the audit log keeps its names),
	 * their login sessions (the SHA-256 of the cookie's id, a CSRF
	 * token, absolute and idle expiry) and the audit log of operator
	 * actions.
	 */
	"CREATE TABLE users ("
	"  name TEXT PRIMARY KEY,"
	"  role TEXT NOT NULL,"
	"  hash TEXT NOT NULL,"
	"  created REAL NOT NULL,"
	"  disabled REAL);"
	"CREATE TABLE login_sessions ("
	"  hash TEXT PRIMARY KEY,"
	"  user_name TEXT NOT NULL,"
	"  csrf TEXT NOT NULL,"
	"  created REAL NOT NULL,"
	"  last_seen REAL NOT NULL,"
	"  expires REAL NOT NULL);"
	"CREATE INDEX login_sessions_user ON login_sessions(user_name);"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY,"
	"  time REAL NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  source TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  target TEXT,"
	"  detail TEXT);",
	/*
	 * 9: retention and charts. The metrics of each heartbeat (cpu,
	 * memory, load, each filesystem) in one narrow row per heartbeat,
	 * clustered by (agent, time) for the chart endpoint; their hourly
	 * summaries, folded in as the heartbeats are pruned; an index that
	 * finds the oldest reports of a kind without a scan; per agent the
	 * highest pruned seq and its time, so that a resent batch of pruned
	 * reports is still recognised (retain.c); an alert's acknowledgement
	 * and when its webhook event was last sent (repeats).
	 */
	"CREATE TABLE samples ("
	"  agent_id TEXT NOT NULL,"
	"  time REAL NOT NULL,"
	"  seq BIGINT NOT NULL,"
	"  cpu REAL,"
	"  memory REAL,"
	"  load REAL,"
	"  fs TEXT,"
	"  PRIMARY KEY (agent_id, time, seq)) WITHOUT ROWID;"
	"CREATE TABLE summaries ("
	"  agent_id TEXT NOT NULL,"
	"  metric TEXT NOT NULL,"
	"  hour REAL NOT NULL,"
	"  n BIGINT NOT NULL,"
	"  vmin REAL NOT NULL,"
	"  vsum REAL NOT NULL,"
	"  vmax REAL NOT NULL,"
	"  PRIMARY KEY (agent_id, hour, metric)) WITHOUT ROWID;"
	"CREATE INDEX summaries_hour ON summaries(hour);"
	"CREATE INDEX reports_received ON reports(kind, received);"
	"CREATE INDEX check_changes_at ON check_changes(at);"
	"ALTER TABLE agents ADD COLUMN pruned_seq BIGINT NOT NULL DEFAULT 0;"
	"ALTER TABLE agents ADD COLUMN pruned_time REAL NOT NULL DEFAULT 0;"
	"ALTER TABLE alerts ADD COLUMN acked REAL;"
	"ALTER TABLE alerts ADD COLUMN acked_by TEXT;"
	"ALTER TABLE alerts ADD COLUMN ack_comment TEXT;"
	"ALTER TABLE alerts ADD COLUMN notified REAL;",
};

static int
store_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s", msg != NULL ? msg :
		    sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int
store_migrate(sqlite3 *db, char *err, size_t errlen)
{
	size_t nmig = sizeof(migrations) / sizeof(migrations[0]);
	sqlite3_stmt *st = NULL;
	char sql[64], sub[256];
	int r, version;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		snprintf(err, errlen, "user_version: %s", sqlite3_errmsg(db));
		r = -EIO;
		goto out;
	}
	version = sqlite3_column_int(st, 0);
	if (version < 0 || (size_t)version > nmig) {
		snprintf(err, errlen, "schema version %d is newer than this "
		    "portal knows (%zu)", version, nmig);
		r = -EPROTO;
		goto out;
	}
	for (; (size_t)version < nmig; version++) {
		if ((r = store_exec(db, "BEGIN IMMEDIATE", err, errlen)) != 0)
			goto out;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		    version + 1);
		if ((r = store_exec(db, migrations[version], sub,
		    sizeof(sub))) != 0 ||
		    (r = store_exec(db, sql, sub, sizeof(sub))) != 0 ||
		    (r = store_exec(db, "COMMIT", sub, sizeof(sub))) != 0) {
			snprintf(err, errlen, "migration to version %d: %s",
			    version + 1, sub);
			store_exec(db, "ROLLBACK", sub, sizeof(sub));
			goto out;
		}
	}
	r = 0;
out:
	sqlite3_finalize(st);
	return r;
}

int
store_open(const char *path, struct store **out, char *err, size_t errlen)
{
	struct store *s = NULL;
	sqlite3 *db = NULL;
	int r;

	*out = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, db != NULL ?
		    sqlite3_errmsg(db) : "out of memory");
		r = -EIO;
		goto out;
	}
	sqlite3_busy_timeout(db, 5000);
	/*
	 * WAL: readers never block the writer. synchronous=NORMAL in WAL
	 * mode fsyncs only at checkpoints; a power cut can lose the last
	 * transactions but never corrupts the database; docs/portal.md
	 * explains why that trade-off is acceptable here.
	 */
	if ((r = store_exec(db, "PRAGMA journal_mode=WAL", err, errlen)) != 0 ||
	    (r = store_exec(db, "PRAGMA synchronous=NORMAL", err,
	    errlen)) != 0 ||
	    (r = store_exec(db, "PRAGMA foreign_keys=ON", err, errlen)) != 0)
		goto out;
	if ((r = store_migrate(db, err, errlen)) != 0)
		goto out;
	s = xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	s->db = db;
	db = NULL;	/* transferred */
	*out = s;
	r = 0;
out:
	if (db != NULL)
		sqlite3_close(db);
	return r;
}

void
store_close(struct store *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nstmts; i++)
		sqlite3_finalize(s->stmts[i].stmt);
	if (sqlite3_close(s->db) != SQLITE_OK)
		log_warnx("store: close: %s", sqlite3_errmsg(s->db));
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void
store_lock(struct store *s)
{
	pthread_mutex_lock(&s->mu);
}

/* Resets every cached statement first: one left mid-SELECT would keep a
 * read snapshot open, and rows other processes write (an operator or
 * token created with the CLI) would stay invisible to the server. */
void
store_unlock(struct store *s)
{
	for (size_t i = 0; i < s->nstmts; i++)
		sqlite3_reset(s->stmts[i].stmt);
	pthread_mutex_unlock(&s->mu);
}

sqlite3 *
store_db(struct store *s)
{
	return s->db;
}

sqlite3_stmt *
store_stmt(struct store *s, const char *sql)
{
	sqlite3_stmt *st;
	size_t i;

	for (i = 0; i < s->nstmts; i++) {
		if (s->stmts[i].sql == sql) {
			sqlite3_reset(s->stmts[i].stmt);
			sqlite3_clear_bindings(s->stmts[i].stmt);
			return s->stmts[i].stmt;
		}
	}
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
	    NULL) != SQLITE_OK) {
		log_warnx("store: prepare %.60s: %s", sql,
		    sqlite3_errmsg(s->db));
		return NULL;
	}
	if (s->nstmts == STORE_MAX_STMTS)
		fatalx("store: more than %d distinct statements",
		    STORE_MAX_STMTS);
	s->stmts[s->nstmts].sql = sql;
	s->stmts[s->nstmts].stmt = st;
	s->nstmts++;
	return st;
}

int
store_step(struct store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		log_warnx("store: %.60s: %s", sqlite3_sql(st),
		    sqlite3_errmsg(s->db));
	return rc;
}

const char *
store_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t != NULL ? (const char *)t : "";
}

int
store_begin(struct store *s)
{
	char err[256];

	if (store_exec(s->db, "BEGIN IMMEDIATE", err, sizeof(err)) != 0) {
		log_warnx("store: begin: %s", err);
		return -EIO;
	}
	return 0;
}

int
store_commit(struct store *s)
{
	char err[256];

	if (store_exec(s->db, "COMMIT", err, sizeof(err)) != 0) {
		log_warnx("store: commit: %s", err);
		store_rollback(s);
		return -EIO;
	}
	return 0;
}

void
store_rollback(struct store *s)
{
	char err[256];

	if (sqlite3_get_autocommit(s->db))
		return;
	if (store_exec(s->db, "ROLLBACK", err, sizeof(err)) != 0)
		log_warnx("store: rollback: %s", err);
}

double
store_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double
store_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
