/*
 * The journal collector's pure parts, exported for the unit tests: the
 * saved position (state_dir/journal.cursor) and the list of recent
 * distinct error messages shown in the long text.
 */
#ifndef JOURNAL_H
#define JOURNAL_H

#include <stddef.h>
#include <stdint.h>

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
