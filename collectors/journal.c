/*
 * The journal collector: counts entries of priority emerg..err (0..3)
 * logged since the last run, resuming from a cursor saved in
 * state_dir/journal.cursor so an agent restart neither recounts nor skips.
 *
 * [collector.journal] keys:
 *   rate_warning    range on errors per minute over the run's window
 *                   (an internet-facing sshd alone logs a few err-level
 *                   lines a minute; 60/min is a storm)     default: 60
 *   rate_critical                                          default: unset
 *   max_entries     error entries read per run at most; past it the run
 *                   says "at least N" and skips to the end  default: 10000
 *   directory       read the journal files in this directory instead of
 *                   the local system journal (for tests)    default: unset
 * The first run ever starts at the end of the journal: history is not
 * counted. The journal is opened and closed in every run, so no journal
 * files stay mapped between runs (the daemon's memory footprint).
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-journal.h>

#include "collector.h"
#include "journal.h"
#include "log.h"
#include "sysfile.h"
#include "threshold.h"
#include "timeutil.h"
#include "xmalloc.h"

#define JOURNAL_STATE_NAME	"journal.cursor"
#define JOURNAL_STATE_MAX	(JOURNAL_CURSOR_MAX + 64)
#define JOURNAL_ENTRIES_DEFAULT	10000
#define JOURNAL_ENTRIES_LIMIT	1000000
#define JOURNAL_FIELD_MAX	1024	/* bytes of a field sd-journal returns */
#define JOURNAL_TEXT_MAX	(PATH_MAX + 128)	/* one failure message */

struct journal {
	struct threshold	 rate;	/* errors per minute */
	unsigned long		 max_entries;
	char			*directory;
	char			*state_dir;
	struct journal_position	 pos;
	bool			 have_pos;	/* pos is valid */
	uint64_t		 last_run;	/* CLOCK_MONOTONIC usec, 0: none */
	char			 logged[JOURNAL_TEXT_MAX];	/* last logged */
};

static const struct threshold_key journal_thresholds[] = {
	{ "rate", offsetof(struct journal, rate), "60", "", NULL },
	{ .name = NULL },
};

/* Logs a failure once until a different one, or a success, comes. */
static void
journal_log_once(struct journal *j, const char *text)
{
	if (strcmp(j->logged, text) == 0)
		return;
	snprintf(j->logged, sizeof(j->logged), "%s", text);
	log_warnx("journal: %s", text);
}

static void *
journal_new(void)
{
	struct journal *j = xcalloc(1, sizeof(*j));

	threshold_defaults(j, journal_thresholds);
	j->max_entries = JOURNAL_ENTRIES_DEFAULT;
	return j;
}

static int
journal_configure(void *inst, const char *key, const char *value, char *err,
    size_t errlen)
{
	struct journal *j = inst;

	if (strcmp(key, "directory") == 0) {
		free(j->directory);
		j->directory = value[0] != '\0' ? xstrdup(value) : NULL;
		return 0;
	}
	if (strcmp(key, "max_entries") == 0) {
		char *end;
		unsigned long n;

		errno = 0;
		n = strtoul(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0' ||
		    value[0] < '0' || value[0] > '9' || n == 0 ||
		    n > JOURNAL_ENTRIES_LIMIT) {
			snprintf(err, errlen, "%s: '%s' is not a number from "
			    "1 to %d", key, value, JOURNAL_ENTRIES_LIMIT);
			return -EINVAL;
		}
		j->max_entries = n;
		return 0;
	}
	return threshold_configure(j, journal_thresholds, "max_entries, "
	    "directory", key, value, err, errlen);
}

int
journal_parse_position(const char *buf, size_t len,
    struct journal_position *out)
{
	const char *p = buf, *end = buf + len;
	bool have_since = false;

	memset(out, 0, sizeof(*out));
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		const char *lend = nl != NULL ? nl : end, *v;
		size_t vlen;

		if (lend - p > 7 && memcmp(p, "cursor=", 7) == 0) {
			v = p + 7;
			vlen = lend - v;
			/* A cursor is printable ASCII, never empty here. */
			if (vlen == 0 || vlen >= sizeof(out->cursor))
				goto bad;
			for (size_t i = 0; i < vlen; i++)
				if (v[i] <= 0x20 || v[i] >= 0x7f)
					goto bad;
			memcpy(out->cursor, v, vlen);
			out->cursor[vlen] = '\0';
		} else if (lend - p > 6 && memcmp(p, "since=", 6) == 0) {
			uint64_t n = 0;

			for (v = p + 6; v < lend; v++) {
				if (*v < '0' || *v > '9' ||
				    n > (UINT64_MAX - 9) / 10)
					goto bad;
				n = n * 10 + (uint64_t)(*v - '0');
			}
			out->since_usec = n;
			have_since = true;
		} else
			goto bad;
		p = nl != NULL ? nl + 1 : end;
	}
	if (!have_since)
		goto bad;
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

void
journal_escape(char *dst, size_t dstlen, const char *src, size_t len)
{
	char raw[JOURNAL_MESSAGE_MAX];

	if (len >= sizeof(raw))
		len = sizeof(raw) - 1;
	memcpy(raw, src, len);
	raw[len] = '\0';	/* an embedded NUL just ends the text */
	log_escape(dst, dstlen, raw);
}

void
journal_recent_add(struct journal_recent *r, const char *ident,
    size_t identlen, const char *message, size_t msglen, int priority)
{
	struct journal_recent_entry e = { .priority = priority, .count = 1 };
	size_t oldest = 0;

	journal_escape(e.ident, sizeof(e.ident), ident, identlen);
	journal_escape(e.message, sizeof(e.message), message, msglen);
	e.seen = ++r->clock;
	for (size_t i = 0; i < r->n; i++) {
		struct journal_recent_entry *k = &r->entry[i];

		if (strcmp(k->ident, e.ident) == 0 &&
		    strcmp(k->message, e.message) == 0) {
			k->count++;
			k->seen = e.seen;
			if (priority < k->priority)
				k->priority = priority;
			return;
		}
		if (k->seen < r->entry[oldest].seen)
			oldest = i;
	}
	if (r->n < JOURNAL_RECENT)
		r->entry[r->n++] = e;
	else
		r->entry[oldest] = e;
}

size_t
journal_recent_sorted(const struct journal_recent *r,
    const struct journal_recent_entry **out)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++) {
		size_t k = n++;

		/* Insertion sort, newest first: at most JOURNAL_RECENT. */
		while (k > 0 && out[k - 1]->seen < r->entry[i].seen) {
			out[k] = out[k - 1];
			k--;
		}
		out[k] = &r->entry[i];
	}
	return n;
}

int
journal_position_save(const char *state_dir, const char *name,
    const struct journal_position *pos)
{
	char data[JOURNAL_STATE_MAX];

	if (pos->cursor[0] != '\0')
		snprintf(data, sizeof(data), "cursor=%s\nsince=%llu\n",
		    pos->cursor, (unsigned long long)pos->since_usec);
	else
		snprintf(data, sizeof(data), "since=%llu\n",
		    (unsigned long long)pos->since_usec);
	return sysfile_write_atomic(state_dir, name, data, 0644);
}

int
journal_position_load(const char *state_dir, const char *name,
    struct journal_position *pos, char *text, size_t textlen)
{
	char path[PATH_MAX], buf[JOURNAL_STATE_MAX];
	size_t len;
	int r;

	memset(pos, 0, sizeof(*pos));
	snprintf(path, sizeof(path), "%s/%s", state_dir, name);
	r = sysfile_read_small(path, buf, sizeof(buf), &len);
	if (r == -ENOENT)
		return r;
	if (r == 0 && journal_parse_position(buf, len, pos) == 0)
		return 0;
	if (r == 0 || r == -EFBIG) {
		snprintf(text, textlen, "ignoring %s: not a journal "
		    "position: counting from the end of the journal", path);
		return -EINVAL;
	}
	snprintf(text, textlen, "ignoring %s: %s", path, strerror(-r));
	return r;
}

static void
journal_save(struct journal *j)
{
	char text[JOURNAL_TEXT_MAX];
	int r;

	if (j->state_dir == NULL)
		return;
	if ((r = journal_position_save(j->state_dir, JOURNAL_STATE_NAME,
	    &j->pos)) != 0) {
		snprintf(text, sizeof(text), "cannot save %s/%s: %s: a restart "
		    "starts counting from the end of the journal", j->state_dir,
		    JOURNAL_STATE_NAME, strerror(-r));
		journal_log_once(j, text);
	}
}

static int
journal_start(void *inst, const struct collector_env *env)
{
	struct journal *j = inst;
	char text[JOURNAL_TEXT_MAX];
	int r;

	free(j->state_dir);
	j->state_dir = NULL;
	j->have_pos = false;
	j->last_run = 0;
	if (env->state_dir == NULL || env->state_dir[0] == '\0')
		return 0;
	j->state_dir = xstrdup(env->state_dir);
	r = journal_position_load(j->state_dir, JOURNAL_STATE_NAME, &j->pos,
	    text, sizeof(text));
	if (r == -ENOENT)
		return 0;	/* first run: start at the end */
	if (r == 0) {
		j->have_pos = true;
		return 0;
	}
	journal_log_once(j, text);
	return 0;
}

int
journal_field(sd_journal *sj, const char *field, const char **value,
    size_t *len)
{
	size_t flen = strlen(field);
	const void *data;
	size_t dlen;
	int r;

	*value = "";
	*len = 0;
	if ((r = sd_journal_get_data(sj, field, &data, &dlen)) < 0)
		return r;
	if (dlen <= flen || ((const char *)data)[flen] != '=')
		return -EBADMSG;
	*value = (const char *)data + flen + 1;
	*len = dlen - flen - 1;
	return 0;
}

static void
journal_note(sd_journal *sj, struct journal_recent *recent)
{
	const char *ident, *msg, *prio;
	size_t ilen, mlen, plen;
	int priority = 3;

	if (journal_field(sj, "SYSLOG_IDENTIFIER", &ident, &ilen) < 0 &&
	    journal_field(sj, "_COMM", &ident, &ilen) < 0) {
		ident = "?";
		ilen = 1;
	}
	if (journal_field(sj, "MESSAGE", &msg, &mlen) < 0) {
		msg = "";
		mlen = 0;
	}
	if (journal_field(sj, "PRIORITY", &prio, &plen) == 0 && plen == 1 &&
	    prio[0] >= '0' && prio[0] <= '3')
		priority = prio[0] - '0';
	journal_recent_add(recent, ident, ilen, msg, mlen, priority);
}

int
journal_position_here(sd_journal *sj, struct journal_position *pos)
{
	char *cursor = NULL;
	int r;

	if ((r = sd_journal_get_cursor(sj, &cursor)) < 0)
		return r;
	snprintf(pos->cursor, sizeof(pos->cursor), "%s", cursor);
	free(cursor);
	return 0;
}

int
journal_position_tail(sd_journal *sj, struct journal_position *pos)
{
	int r;

	if ((r = sd_journal_seek_tail(sj)) < 0 ||
	    (r = sd_journal_previous(sj)) < 0)
		return r;
	return r > 0 ? journal_position_here(sj, pos) : 0;
}

int
journal_position_seek(sd_journal *sj, struct journal_position *pos,
    const char *who)
{
	if (pos->cursor[0] != '\0' &&
	    sd_journal_seek_cursor(sj, pos->cursor) < 0) {
		/* Not a cursor this libsystemd understands: use the time. */
		log_warnx("%s: saved cursor rejected: counting from the "
		    "time of the last run", who);
		pos->cursor[0] = '\0';
	}
	if (pos->cursor[0] == '\0')
		return sd_journal_seek_realtime_usec(sj, pos->since_usec);
	return 0;
}

int
journal_position_next(sd_journal *sj, const struct journal_position *pos,
    bool *first)
{
	int r;

	if ((r = sd_journal_next(sj)) <= 0)
		return r;
	/* seek_cursor lands on the entry counted last time. */
	if (*first && pos->cursor[0] != '\0' &&
	    sd_journal_test_cursor(sj, pos->cursor) > 0) {
		*first = false;
		return sd_journal_next(sj);
	}
	*first = false;
	return r;
}

int
journal_open(const char *directory, sd_journal **out, char *text,
    size_t textlen)
{
	sd_journal *sj = NULL;
	uint64_t bytes = 0;
	int r;

	*out = NULL;
	if (directory != NULL)
		r = sd_journal_open_directory(&sj, directory, 0);
	else
		r = sd_journal_open(&sj, SD_JOURNAL_LOCAL_ONLY);
	if (r >= 0 && (r = sd_journal_get_usage(sj, &bytes)) >= 0 &&
	    bytes == 0)
		r = -ENODATA;
	if (r < 0) {
		snprintf(text, textlen, "no journal: %s", r == -ENODATA ?
		    "no journal files found or readable (is systemd-journald "
		    "running, is agentd in group systemd-journal?)" :
		    strerror(-r));
		sd_journal_close(sj);
		return r;
	}
	sd_journal_set_data_threshold(sj, JOURNAL_FIELD_MAX);
	*out = sj;
	return 0;
}

/* "45 s", "5 min", "3 h" for the window a count covers. */
static void
journal_window(char *buf, size_t len, double seconds)
{
	if (seconds < 120)
		snprintf(buf, len, "%.0f s", seconds);
	else if (seconds < 7200)
		snprintf(buf, len, "%.0f min", seconds / 60);
	else
		snprintf(buf, len, "%.0f h", seconds / 3600);
}

static const char *
journal_priority_name(int p)
{
	static const char *const names[] = { "emerg", "alert", "crit", "err" };

	return p >= 0 && p <= 3 ? names[p] : "err";
}

static void
journal_report(struct journal *j, struct result *res, unsigned long count,
    bool truncated, double seconds, const struct journal_recent *recent)
{
	const struct journal_recent_entry *sorted[JOURNAL_RECENT];
	char window[32], desc[80], alert[128] = "";
	double rate = count * 60.0 / seconds;
	enum check_state s;
	struct perf *p;
	size_t n;

	journal_window(window, sizeof(window), seconds);
	s = threshold_eval(&j->rate, rate);
	if (s != STATE_OK) {
		threshold_describe(&j->rate, s, "/min", desc, sizeof(desc));
		snprintf(alert, sizeof(alert), ", %s", desc);
	}
	n = journal_recent_sorted(recent, sorted);
	if (count == 0)
		result_set(res, s, "no errors logged in the last %s", window);
	else
		result_set(res, s, "%s%lu error%s logged in the last %s "
		    "(%.1f/min%s); last: %s: %s", truncated ? "at least " : "",
		    count, count == 1 ? "" : "s", window, rate, alert,
		    sorted[0]->ident, sorted[0]->message);
	for (size_t i = 0; i < n; i++) {
		if (sorted[i]->count > 1)
			result_append_long(res, "%s (%s, %ux): %s",
			    sorted[i]->ident,
			    journal_priority_name(sorted[i]->priority),
			    sorted[i]->count, sorted[i]->message);
		else
			result_append_long(res, "%s (%s): %s", sorted[i]->ident,
			    journal_priority_name(sorted[i]->priority),
			    sorted[i]->message);
	}
	if (truncated)
		result_append_long(res, "stopped after %lu entries "
		    "(max_entries); skipped to the end of the journal",
		    j->max_entries);

	if ((p = result_add_perf(res, "errors", (double)count, "")) != NULL) {
		p->min = 0;
		p->has_min = true;
	}
	if ((p = result_add_perf(res, "rate", rate, "")) != NULL) {
		threshold_to_perf(&j->rate, p);
		p->min = 0;
		p->has_min = true;
	}
}

/* Counts the error entries after the saved position into *count. */
static int
journal_count(struct journal *j, sd_journal *sj, unsigned long *count,
    bool *truncated, struct journal_recent *recent)
{
	bool first = true;
	int r;

	*count = 0;
	*truncated = false;
	if ((r = journal_position_seek(sj, &j->pos, "journal")) < 0)
		return r;
	while (*count < j->max_entries) {
		if ((r = journal_position_next(sj, &j->pos, &first)) < 0)
			return r;
		if (r == 0)
			break;
		(*count)++;
		journal_note(sj, recent);
	}
	if (*count == j->max_entries && (r = sd_journal_next(sj)) != 0) {
		if (r < 0)
			return r;
		/* A storm: do not fall further behind, jump to now. */
		*truncated = true;
		return journal_position_tail(sj, &j->pos);
	}
	if (*count == 0)
		return 0;
	/* sd_journal_next() returning 0 leaves the last entry current. */
	return journal_position_here(sj, &j->pos);
}

static int
journal_collect(void *inst, struct collect_req *req)
{
	struct journal *j = inst;
	struct result *res = collect_req_result(req);
	struct journal_recent *recent = NULL;
	char old_cursor[JOURNAL_CURSOR_MAX], text[JOURNAL_TEXT_MAX];
	uint64_t now = time_now(CLOCK_REALTIME);
	uint64_t mono = time_now(CLOCK_MONOTONIC);
	sd_journal *sj = NULL;
	unsigned long count;
	bool truncated;
	double seconds;
	int r;

	if ((r = journal_open(j->directory, &sj, text, sizeof(text))) < 0) {
		journal_log_once(j, text);
		result_set(res, STATE_UNKNOWN, "%s", text);
		r = 0;
		goto out;
	}
	for (int prio = 0; prio <= 3; prio++) {
		char match[16];

		snprintf(match, sizeof(match), "PRIORITY=%d", prio);
		if ((r = sd_journal_add_match(sj, match, 0)) < 0)
			goto fail;
	}

	if (!j->have_pos) {
		/* First run: history is not news. */
		memset(&j->pos, 0, sizeof(j->pos));
		if ((r = journal_position_tail(sj, &j->pos)) < 0)
			goto fail;
		j->pos.since_usec = now;
		j->have_pos = true;
		j->last_run = mono;
		journal_save(j);
		result_set(res, STATE_OK, "counting errors logged from now on");
		result_add_perf(res, "errors", 0, "");
		threshold_to_perf(&j->rate, result_add_perf(res, "rate", 0,
		    ""));
		r = 0;
		goto out;
	}

	recent = xcalloc(1, sizeof(*recent));
	memcpy(old_cursor, j->pos.cursor, sizeof(old_cursor));
	if ((r = journal_count(j, sj, &count, &truncated, recent)) < 0)
		goto fail;
	/* The window: since the last run of this process, or since the
	 * saved run before a restart. */
	if (j->last_run != 0)
		seconds = (double)(mono - j->last_run) / 1e6;
	else
		/* Only the saved wall-clock stamp survives a restart;
		 * a step back makes it 0, raised to 1 s below. */
		seconds = (double)time_since(j->pos.since_usec, now) / 1e6;
	if (seconds < 1)
		seconds = 1;
	j->pos.since_usec = now;
	j->last_run = mono;
	if (strcmp(old_cursor, j->pos.cursor) != 0)
		journal_save(j);
	journal_report(j, res, count, truncated, seconds, recent);
	if (strncmp(j->logged, "no journal", 10) == 0)
		j->logged[0] = '\0';
	r = 0;
	goto out;
fail:
	snprintf(text, sizeof(text), "cannot read the journal: %s",
	    strerror(-r));
	journal_log_once(j, text);
	result_set(res, STATE_UNKNOWN, "%s", text);
	r = 0;
out:
	free(recent);
	sd_journal_close(sj);
	return r;
}

static void
journal_free(void *inst)
{
	struct journal *j = inst;

	if (j == NULL)
		return;
	free(j->directory);
	free(j->state_dir);
	free(j);
}

const struct collector collector_journal = {
	.name = "journal",
	.description = "errors (priority err and worse) logged in the journal",
	.interval = 60,
	.new = journal_new,
	.configure = journal_configure,
	.thresholds = journal_thresholds,
	.start = journal_start,
	.collect = journal_collect,
	.free = journal_free,
};
