/*
 * Retention of a job's snapshots. The rules are restic's forget --keep-*:
 * walking from the newest snapshot to the oldest, keep_last keeps the n
 * newest; keep_daily keeps the newest snapshot of each of the n newest
 * days that have one (local time, by start time), keep_weekly the same
 * per ISO 8601 week, keep_monthly per calendar month. A snapshot is kept
 * if any rule keeps it; then every snapshot the chain of a kept one
 * passes through is kept too.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "retention.h"
#include "sysrecord.h"
#include "snapshot.h"

/* The local-time bucket of t for a rule: a number that differs exactly
 * when the day (ISO week, month) does. */
static long
bucket(int64_t t, unsigned rule)
{
	time_t	 tt = (time_t)t;
	struct tm tm;
	char	 b[16];

	if (localtime_r(&tt, &tm) == NULL)
		return -1;
	switch (rule) {
	case RETENTION_DAILY:
		return (long)(tm.tm_year + 1900) * 1000 + tm.tm_yday;
	case RETENTION_WEEKLY:
		if (strftime(b, sizeof(b), "%G%V", &tm) == 0)
			return -1;
		return strtol(b, NULL, 10);
	default:
		return (long)(tm.tm_year + 1900) * 100 + tm.tm_mon;
	}
}

static void
keep_buckets(const struct catalog *c, unsigned rule, unsigned n,
    unsigned *keep)
{
	long	 last = 0, b;
	unsigned used = 0;
	size_t	 i;
	int	 first = 1;

	for (i = c->n; i-- > 0 && used < n; ) {
		b = bucket(c->entries[i].started, rule);
		if (!first && b == last)
			continue;	/* an older one of a bucket kept */
		first = 0;
		last = b;
		keep[i] |= rule;
		used++;
	}
}

void
retention_plan(const struct catalog *c, const struct retention_policy *p,
    unsigned *keep)
{
	const struct catalog_entry *e, *pe;
	size_t	 i, k;

	memset(keep, 0, c->n * sizeof(*keep));
	if (p->keep_last == 0 && p->keep_daily == 0 && p->keep_weekly == 0 &&
	    p->keep_monthly == 0) {
		/* No policy is not "forget everything". */
		for (i = 0; i < c->n; i++)
			keep[i] = RETENTION_NO_POLICY;
		return;
	}
	for (i = c->n, k = 0; i-- > 0 && k < p->keep_last; k++)
		keep[i] |= RETENTION_LAST;
	keep_buckets(c, RETENTION_DAILY, p->keep_daily, keep);
	keep_buckets(c, RETENTION_WEEKLY, p->keep_weekly, keep);
	keep_buckets(c, RETENTION_MONTHLY, p->keep_monthly, keep);
	/* Newest first, so that a chain kept for a kept incremental is
	 * itself followed up when its members are reached. */
	for (i = c->n; i-- > 0; ) {
		if (keep[i] == 0)
			continue;
		e = &c->entries[i];
		while (e->incremental && (pe = catalog_find(c,
		    e->parent)) != NULL && strcmp(pe->id, e->id) < 0) {
			keep[pe - c->entries] |= RETENTION_CHAIN;
			e = pe;
		}
	}
}

const char *
retention_reasons(unsigned keep, char *buf, size_t len)
{
	static const struct {
		unsigned	 bit;
		const char	*word;
	} words[] = {
		{ RETENTION_LAST, "last" },
		{ RETENTION_DAILY, "daily" },
		{ RETENTION_WEEKLY, "weekly" },
		{ RETENTION_MONTHLY, "monthly" },
		{ RETENTION_CHAIN, "chain" },
		{ RETENTION_NO_POLICY, "no-policy" },
	};
	size_t	 i, off = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (!(keep & words[i].bit) || off >= len)
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
		    off ? "," : "", words[i].word);
	}
	if (keep == 0)
		snprintf(buf, len, "forget");
	return buf;
}

int
retention_apply(struct target *t, const struct catalog *c,
    const unsigned *keep, int encrypted)
{
	char	 name[TARGET_NAME_MAX + 1];
	size_t	 i;
	int	 r, rv = 0;

	for (i = c->n; i-- > 0; ) {
		if (keep[i] != 0)
			continue;
		/* The manifest first: without it the snapshot is gone and
		 * its archive a leftover that the next run's cleaning
		 * removes should this stop here. Its system records go
		 * before, so none outlives it. */
		if ((r = sysrecord_remove(t, c->entries[i].id,
		    encrypted)) != 0)
			log_warnx("%s: cannot remove its system records: %s",
			    c->entries[i].id, strerror(-r));
		snapshot_object_name(name, sizeof(name), c->entries[i].id, 1,
		    encrypted);
		if ((r = target_remove(t, name)) != 0 && r != -ENOENT) {
			log_warnx("%s: cannot remove: %s", name, strerror(-r));
			if (rv == 0)
				rv = r;
			continue;
		}
		snapshot_object_name(name, sizeof(name), c->entries[i].id, 0,
		    encrypted);
		if ((r = target_remove(t, name)) != 0 && r != -ENOENT) {
			log_warnx("%s: cannot remove: %s", name, strerror(-r));
			if (rv == 0)
				rv = r;
		}
	}
	return rv;
}

int
retention_needs_full(const struct catalog *c, int64_t full_every, int64_t now)
{
	const struct catalog_entry *latest, *e;
	size_t	 len, i;

	if ((latest = catalog_latest(c)) == NULL)
		return 1;
	len = catalog_chain_length(c, latest->id);
	if (len == 0 || len + 1 >= SNAPSHOT_CHAIN_MAX)
		return 1;
	if (full_every <= 0)
		return 0;
	for (i = c->n; i-- > 0; ) {
		e = &c->entries[i];
		if (!e->incremental)
			return now - e->started >= full_every;
	}
	return 1;
}
