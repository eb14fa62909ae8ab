/*
 * Maintenance windows and per-check silences, kept in
 * state_dir/maintenance as one JSON object:
 *   {"window": {"until", "started", "reason", "by"} or null,
 *    "silences": [{"check", "until", "by"}, ...]}
 * Times are realtime seconds: a window is "until Tuesday 14:00" for the
 * admin and for the portal alike, across restarts and clock steps.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "maintenance.h"
#include "sysfile.h"
#include "timeutil.h"
#include "xmalloc.h"

#define MAINTENANCE_FILE	"maintenance"
#define MAINTENANCE_FILE_MAX	(256 * 1024)
/* What the portal keeps of "by" (docs/protocol.md): 256 bytes. */
#define MAINTENANCE_BY_MAX	256
#define MAINTENANCE_NAME_MAX	65

struct maintenance_silence {
	char		*check;
	int64_t		 until;
	char		*by;
};

struct maintenance {
	sd_event		*event;
	char			*state_dir;
	maintenance_event_fn	*fn;
	void			*userdata;
	bool			 open;		/* a window */
	int64_t			 until, started;
	char			*reason, *by;
	sd_event_source		*timer;		/* the window's end */
	struct maintenance_silence *silences;
	size_t			 nsilences;
};

static int64_t
maintenance_now(void)
{
	return (int64_t)(time_now(CLOCK_REALTIME) / 1000000);
}

static void
maintenance_clear(struct maintenance *m)
{
	m->open = false;
	free(m->reason);
	free(m->by);
	m->reason = m->by = NULL;
	m->until = m->started = 0;
	sd_event_source_disable_unref(m->timer);
	m->timer = NULL;
}

/* Forgets silences that have ended. */
static void
maintenance_prune(struct maintenance *m)
{
	int64_t now = maintenance_now();
	size_t j = 0;

	for (size_t i = 0; i < m->nsilences; i++) {
		if (m->silences[i].until > now) {
			m->silences[j++] = m->silences[i];
			continue;
		}
		free(m->silences[i].check);
		free(m->silences[i].by);
	}
	m->nsilences = j;
}

static json_t *
maintenance_window_json(const struct maintenance *m)
{
	/* Four pairs. */
	return json_pack("{s:I, s:I, s:s, s:s}", "until", (json_int_t)m->until,
	    "started", (json_int_t)m->started, "reason", m->reason,
	    "by", m->by);
}

json_t *
maintenance_status(struct maintenance *m)
{
	json_t *a = json_array();

	maintenance_prune(m);
	for (size_t i = 0; i < m->nsilences; i++)
		/* Three pairs. */
		json_array_append_new(a, json_pack("{s:s, s:I, s:s}", "check",
		    m->silences[i].check, "until",
		    (json_int_t)m->silences[i].until, "by", m->silences[i].by));
	return json_pack("{s:o, s:o}", "window", m->open ?
	    maintenance_window_json(m) : json_null(), "silences", a);
}

/* Writes the file; -EIO when that failed (logged). */
static int
maintenance_save(struct maintenance *m)
{
	json_t *o = maintenance_status(m);
	char *text = json_dumps(o, JSON_COMPACT);
	int r;

	json_decref(o);
	r = sysfile_write_atomic(m->state_dir, MAINTENANCE_FILE, text, 0600);
	free(text);
	if (r < 0) {
		log_warnx("cannot save %s/%s: %s; the maintenance state "
		    "applies until agentd stops", m->state_dir,
		    MAINTENANCE_FILE, strerror(-r));
		return -EIO;
	}
	return 0;
}

static void
maintenance_emit(struct maintenance *m, const char *event, int64_t until,
    const char *reason, const char *by)
{
	char ev[32], esc[MAINTENANCE_REASON_MAX * 4];
	const char *fields[1] = { ev };

	snprintf(ev, sizeof(ev), "MAINTENANCE=%s", event);
	log_event(LOG_NOTICE, MSGID_MAINTENANCE, fields, 1,
	    "maintenance window %s by %s (until %lld): %s", strcmp(event,
	    "start") == 0 ? "started" : "ended", by, (long long)until,
	    log_escape(esc, sizeof(esc), reason));
	if (m->fn != NULL)
		/* Four pairs. */
		m->fn(json_pack("{s:s, s:I, s:s, s:s}", "event", event,
		    "until", (json_int_t)until, "reason", reason, "by", by),
		    m->userdata);
}

/* The window is over: it is reported, forgotten and saved. */
static void
maintenance_end(struct maintenance *m, const char *by)
{
	char *reason = xstrdup(m->reason);
	int64_t until = m->until;

	maintenance_clear(m);
	(void)maintenance_save(m);
	maintenance_emit(m, "stop", until, reason, by);
	free(reason);
}

static int
maintenance_on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct maintenance *m = userdata;

	(void)s;
	(void)usec;
	/* The realtime timer fires at until, also after a clock step. */
	if (m->open && maintenance_now() >= m->until)
		maintenance_end(m, "expired");
	return 0;
}

static void
maintenance_arm(struct maintenance *m)
{
	uint64_t when = (uint64_t)m->until * 1000000;

	if (m->event == NULL)
		return;
	if (m->timer != NULL) {
		sd_event_source_set_time(m->timer, when);
		sd_event_source_set_enabled(m->timer, SD_EVENT_ONESHOT);
		return;
	}
	if (sd_event_add_time(m->event, &m->timer, CLOCK_REALTIME, when,
	    1000000, maintenance_on_timer, m) < 0)
		fatalx("cannot add the maintenance timer");
}

static bool
maintenance_text_ok(const char *s, size_t max)
{
	return s != NULL && strlen(s) < max;
}

/* The saved state; anything malformed is refused whole. */
static int
maintenance_parse(struct maintenance *m, const char *buf, size_t len,
    char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root, *w = NULL, *sl = NULL, *v;
	json_int_t until, started;
	const char *reason, *by, *check;
	size_t i;
	int r = -EINVAL;

	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(err, errlen, "line %d: %s", jerr.line, jerr.text);
		return -EINVAL;
	}
	/* Two pairs. */
	if (json_unpack_ex(root, &jerr, JSON_STRICT, "{s:o, s:o}", "window",
	    &w, "silences", &sl) != 0) {
		snprintf(err, errlen, "not a maintenance state: %s",
		    jerr.text);
		goto out;
	}
	if (!json_is_array(sl) ||
	    json_array_size(sl) > MAINTENANCE_SILENCES_MAX) {
		snprintf(err, errlen, "silences: not an array of at most %d",
		    MAINTENANCE_SILENCES_MAX);
		goto out;
	}
	if (!json_is_null(w)) {
		/* Four pairs. */
		if (json_unpack_ex(w, &jerr, JSON_STRICT, "{s:I, s:I, s:s, s:s}",
		    "until", &until, "started", &started, "reason", &reason,
		    "by", &by) != 0 ||
		    !maintenance_text_ok(reason, MAINTENANCE_REASON_MAX) ||
		    !maintenance_text_ok(by, MAINTENANCE_BY_MAX)) {
			snprintf(err, errlen, "window: %s", jerr.text);
			goto out;
		}
		m->open = true;
		m->until = until;
		m->started = started;
		m->reason = xstrdup(reason);
		m->by = xstrdup(by);
	}
	m->silences = xreallocarray(NULL, json_array_size(sl) + 1,
	    sizeof(*m->silences));
	json_array_foreach(sl, i, v) {
		/* Three pairs. */
		if (json_unpack_ex(v, &jerr, JSON_STRICT, "{s:s, s:I, s:s}",
		    "check", &check, "until", &until, "by", &by) != 0 ||
		    !maintenance_text_ok(check, MAINTENANCE_NAME_MAX) ||
		    !maintenance_text_ok(by, MAINTENANCE_BY_MAX)) {
			snprintf(err, errlen, "silences[%zu]: %s", i,
			    jerr.text);
			goto out;
		}
		m->silences[m->nsilences].check = xstrdup(check);
		m->silences[m->nsilences].until = until;
		m->silences[m->nsilences++].by = xstrdup(by);
	}
	r = 0;
out:
	json_decref(root);
	return r;
}

static void
maintenance_forget(struct maintenance *m)
{
	maintenance_clear(m);
	for (size_t i = 0; i < m->nsilences; i++) {
		free(m->silences[i].check);
		free(m->silences[i].by);
	}
	free(m->silences);
	m->silences = NULL;
	m->nsilences = 0;
}

struct maintenance *
maintenance_open(sd_event *event, const char *state_dir,
    maintenance_event_fn *fn, void *userdata)
{
	struct maintenance *m = xcalloc(1, sizeof(*m));
	char err[256];
	size_t len;
	bool trunc;
	char *buf;
	int r;

	m->event = event;
	m->state_dir = xstrdup(state_dir);
	m->fn = fn;
	m->userdata = userdata;
	r = sysfile_read(state_dir, MAINTENANCE_FILE, MAINTENANCE_FILE_MAX,
	    &buf, &len, &trunc);
	if (r == -ENOENT)
		return m;
	if (r < 0 || trunc) {
		log_warnx("%s/%s: %s; no maintenance window or silence is "
		    "restored", state_dir, MAINTENANCE_FILE, trunc ?
		    "too large" : strerror(-r));
	} else if (maintenance_parse(m, buf, len, err, sizeof(err)) < 0) {
		log_warnx("%s/%s: %s; no maintenance window or silence is "
		    "restored", state_dir, MAINTENANCE_FILE, err);
		maintenance_forget(m);
	}
	free(buf);
	if (m->open && maintenance_now() >= m->until)
		/* It ran out while agentd was down: the portal hears. */
		maintenance_end(m, "expired");
	else if (m->open)
		maintenance_arm(m);
	return m;
}

void
maintenance_free(struct maintenance *m)
{
	if (m == NULL)
		return;
	maintenance_forget(m);
	free(m->state_dir);
	free(m);
}

int
maintenance_start(struct maintenance *m, unsigned seconds,
    const char *reason, const char *by, char *err, size_t errlen)
{
	if (seconds == 0 || seconds > MAINTENANCE_MAX_SECONDS) {
		snprintf(err, errlen, "a maintenance window lasts from 1 s to "
		    "%d days", MAINTENANCE_MAX_SECONDS / 86400);
		return -EINVAL;
	}
	if (!maintenance_text_ok(reason, MAINTENANCE_REASON_MAX)) {
		snprintf(err, errlen, "the reason is longer than %d bytes",
		    MAINTENANCE_REASON_MAX - 1);
		return -EINVAL;
	}
	free(m->reason);
	free(m->by);
	m->open = true;
	m->started = maintenance_now();
	m->until = m->started + seconds;
	m->reason = xstrdup(reason);
	m->by = xstrndup(by, MAINTENANCE_BY_MAX - 1);
	maintenance_arm(m);
	maintenance_emit(m, "start", m->until, m->reason, m->by);
	return maintenance_save(m);
}

int
maintenance_stop(struct maintenance *m, const char *by)
{
	if (!m->open)
		return -ENOENT;
	maintenance_end(m, by);
	return 0;
}

json_t *
maintenance_window(struct maintenance *m)
{
	/* A window past its end that the timer has not closed yet (the
	 * loop is busy) is over already. */
	if (!m->open || maintenance_now() >= m->until)
		return NULL;
	/* Two pairs: what the portal needs. */
	return json_pack("{s:I, s:s}", "until", (json_int_t)m->until,
	    "reason", m->reason);
}

int
maintenance_silence(struct maintenance *m, const char *name,
    unsigned seconds, const char *by, char *err, size_t errlen)
{
	size_t i;

	if (seconds > MAINTENANCE_MAX_SECONDS) {
		snprintf(err, errlen, "a silence lasts at most %d days",
		    MAINTENANCE_MAX_SECONDS / 86400);
		return -EINVAL;
	}
	maintenance_prune(m);
	for (i = 0; i < m->nsilences; i++)
		if (strcmp(m->silences[i].check, name) == 0)
			break;
	if (seconds == 0) {
		if (i == m->nsilences) {
			snprintf(err, errlen, "%s is not silenced", name);
			return -ENOENT;
		}
		free(m->silences[i].check);
		free(m->silences[i].by);
		m->silences[i] = m->silences[--m->nsilences];
		return maintenance_save(m);
	}
	if (i == m->nsilences) {
		if (m->nsilences >= MAINTENANCE_SILENCES_MAX) {
			snprintf(err, errlen, "%d checks are silenced already",
			    MAINTENANCE_SILENCES_MAX);
			return -EINVAL;
		}
		m->silences = xreallocarray(m->silences, m->nsilences + 1,
		    sizeof(*m->silences));
		m->silences[m->nsilences].check = xstrndup(name,
		    MAINTENANCE_NAME_MAX - 1);
		m->silences[m->nsilences++].by = NULL;
	}
	free(m->silences[i].by);
	m->silences[i].by = xstrndup(by, MAINTENANCE_BY_MAX - 1);
	m->silences[i].until = maintenance_now() + seconds;
	return maintenance_save(m);
}

int64_t
maintenance_silenced(const char *name, void *arg)
{
	struct maintenance *m = arg;
	int64_t now = maintenance_now();

	for (size_t i = 0; i < m->nsilences; i++)
		if (m->silences[i].until > now &&
		    strcmp(m->silences[i].check, name) == 0)
			return m->silences[i].until;
	return 0;
}
