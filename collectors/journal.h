/*
 * The journal collector's pure parts, exported for the unit tests: the
 * saved position (state_dir/journal.cursor) and the list of recent
 * distinct error messages shown in the long text; and the journal
 * reading shared with the collectors that follow other entries (oom):
 * open, resume from a saved position, save it, escape a field.
 */
#ifndef JOURNAL_H
#define JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-journal.h>

#define JOURNAL_CURSOR_MAX	512	/* systemd cursors are ~130 bytes */
#define JOURNAL_RECENT		5	/* distinct messages kept per run */
#define JOURNAL_IDENT_MAX	64	/* escaped SYSLOG_IDENTIFIER kept */
#define JOURNAL_MESSAGE_MAX	200	/* escaped MESSAGE kept */

/* Where the last run stopped: the cursor of the last error entry counted
 * ("" when none was ever seen) and the wall-clock time of that run. */
struct journal_position {
	char		cursor[JOURNAL_CURSOR_MAX];
	uint64_t	since_usec;	/* CLOCK_REALTIME */
};

/* Parses "cursor=...\nsince=USEC\n" (cursor line optional).
 * Returns 0 or -EINVAL (out is then zeroed). */
int	journal_parse_position(const char *buf, size_t len,
	    struct journal_position *out);

/* Reads state_dir/name into pos. Returns 0, -ENOENT when there is no
 * file (the first run), or another -errno with text saying that and why
 * the file is ignored. */
int	journal_position_load(const char *state_dir, const char *name,
	    struct journal_position *pos, char *text, size_t textlen);
/* Writes pos to state_dir/name (temp file, fsync, rename): 0 or -errno. */
int	journal_position_save(const char *state_dir, const char *name,
	    const struct journal_position *pos);
/* Opens the journal files in directory, or the local system journal when
 * it is NULL, into *out. Returns 0, or -errno (-ENODATA: no journal file
 * found or readable) with text saying why ("no journal: ..."); *out is
 * then NULL. The caller closes it with sd_journal_close. */
int	journal_open(const char *directory, sd_journal **out, char *text,
	    size_t textlen);
/* Puts sj at the end of its matches and pos->cursor on the last entry
 * there (unchanged when none). Returns 0 or -errno. */
int	journal_position_tail(sd_journal *sj, struct journal_position *pos);
/* Puts sj where pos left off: at its cursor, or, when there is none or
 * this libsystemd rejects it (cleared and logged with who), at its since
 * time. Read on with journal_position_next. Returns 0 or -errno. */
int	journal_position_seek(sd_journal *sj, struct journal_position *pos,
	    const char *who);
/* The next entry after pos: sd_journal_next, skipping the entry at pos's
 * cursor that seeking to it lands on. *first is true before the first
 * call. Returns > 0 for an entry, 0 at the end, or -errno. */
int	journal_position_next(sd_journal *sj, const struct journal_position *pos,
	    bool *first);
/* pos->cursor := the cursor of sj's current entry. 0 or -errno. */
int	journal_position_here(sd_journal *sj, struct journal_position *pos);
/* The value of field in sj's current entry, without "FIELD=", and its
 * length (not NUL-terminated). 0 or -errno (-ENOENT: no such field). */
int	journal_field(sd_journal *sj, const char *field, const char **value,
	    size_t *len);
/* Copies at most len raw bytes of src (bounded, an embedded NUL ends
 * it) escaped for a log line or a summary into dst. */
void	journal_escape(char *dst, size_t dstlen, const char *src, size_t len);

struct journal_recent_entry {
	char		ident[JOURNAL_IDENT_MAX];
	char		message[JOURNAL_MESSAGE_MAX];
	int		priority;	/* 0 emerg .. 3 err */
	unsigned	count;
	uint64_t	seen;		/* order of the latest occurrence */
};

struct journal_recent {
	struct journal_recent_entry entry[JOURNAL_RECENT];
	size_t		n;
	uint64_t	clock;
};

/* Records one error: a repeat of a kept (ident, message) is counted, a new
 * one replaces the oldest. ident and message are raw journal bytes of the
 * given length (not NUL-terminated); they are bounded and escaped here. */
void	journal_recent_add(struct journal_recent *r, const char *ident,
	    size_t identlen, const char *message, size_t msglen, int priority);
/* The kept entries, newest first; returns how many (<= JOURNAL_RECENT). */
size_t	journal_recent_sorted(const struct journal_recent *r,
	    const struct journal_recent_entry **out);

#endif
