/*
 * The scheduler on a real sd-event loop: back-off of a failing collector,
 * runs skipped (not stacked) while one is in progress, the external-check
 * queue and `check run` moving a check to its front, runs abandoned on
 * reload, and calendar entries (catch-up, clock steps, the state file)
 * with the wall clock injected through time_now_hook.
 *
 * struct sched_check is private to sched.c, and this test reads and sets
 * its timers and back-off directly: it is built with sched.c included
 * (white box), so the library's sched.o is not linked.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "collector.h"
#include "config.h"
#include "decide.h"
#include "sched.c"
#include "testutil.h"
#include "timeutil.h"

#define SEC	1000000ULL

struct fixture {
	char		 dir[64];
	char		 proc[96];
	char		 state[96];
	sd_event	*event;
	struct decide	*decide;
	struct sched	*sched;
};

/* The wall clock the scheduler sees; 0 = the real one. */
static uint64_t fake_realtime;

static uint64_t
fake_now(clockid_t clock)
{
	struct timespec ts;

	if (clock == CLOCK_REALTIME && fake_realtime != 0)
		return fake_realtime;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec / 1000;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || testutil_mkdtemp(f->dir, sizeof(f->dir)) != 0)
		return -1;
	snprintf(f->proc, sizeof(f->proc), "%s/proc", f->dir);
	snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
	if (mkdir(f->proc, 0755) != 0 || mkdir(f->state, 0755) != 0 ||
	    sd_event_new(&f->event) < 0)
		return -1;
	f->decide = decide_new();
	setenv("TZ", "UTC", 1);
	tzset();
	fake_realtime = 0;
	time_now_hook = fake_now;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	sched_free(f->sched);
	decide_free(f->decide);
	sd_event_unref(f->event);
	testutil_rm_rf(f->dir);
	time_now_hook = NULL;
	free(f);
	return 0;
}

/* A config with every built-in collector off but those in `keep`
 * (space-separated), then extra. Fails the test on any config error. */
static struct config *
make_config(struct fixture *f, const char *keep, const char *extra)
{
	struct config_errors errs = { 0 };
	struct config *cfg;
	char *text, *more;
	int rc;

	if (asprintf(&text, "[agent]\nstate_dir = %s\n", f->state) < 0)
		fail();
	for (size_t i = 0; collectors[i] != NULL; i++) {
		if (strstr(keep, collectors[i]->name) != NULL)
			continue;
		if (asprintf(&more, "%s[collector.%s]\nenabled = no\n", text,
		    collectors[i]->name) < 0)
			fail();
		free(text);
		text = more;
	}
	if (asprintf(&more, "%s%s", text, extra) < 0)
		fail();
	free(text);
	rc = config_load_buffer("test.conf", more, strlen(more), &cfg, &errs);
	if (rc != 0)
		fail_msg("config refused: %s", errs.n > 0 ? errs.msgs[0] : "?");
	free(more);
	return cfg;
}

/* Parses text expecting exactly the error want (a substring). */
static void
expect_config_error(const char *text, const char *want)
{
	struct config_errors errs = { 0 };
	struct config *cfg;

	assert_int_equal(config_load_buffer("test.conf", text, strlen(text),
	    &cfg, &errs), -EINVAL);
	assert_int_equal(errs.n, 1);
	assert_contains(errs.msgs[0], want);
	config_errors_free(&errs);
}

/* Turns off every periodic timer so only the test starts runs. */
static void
quiet_timers(struct sched *s)
{
	for (size_t i = 0; i < sched_count(s); i++)
		if (sched_at(s, i)->timer != NULL)
			sd_event_source_set_enabled(sched_at(s, i)->timer,
			    SD_EVENT_OFF);
}

/* Runs the loop until *flag is set or limit_usec passes; fails on the
 * limit unless allow_timeout. */
static void
run_until(struct fixture *f, const int *flag, uint64_t limit_usec,
    int allow_timeout)
{
	uint64_t start = fake_now(CLOCK_MONOTONIC);

	while (flag == NULL || !*flag) {
		uint64_t now = fake_now(CLOCK_MONOTONIC);

		if (now - start >= limit_usec) {
			if (!allow_timeout)
				fail_msg("nothing happened within %.1f s",
				    (double)limit_usec / SEC);
			return;
		}
		if (sd_event_run(f->event, limit_usec - (now - start)) < 0)
			fail_msg("sd_event_run failed");
	}
}

struct done {
	int			 n;
	int			 rc;
	char			 order[8];	/* first letters, in order */
	const char		*name;
	struct sched_waiter	*waiter;
	struct done		*log;		/* shared order record */
};

static void
on_done(const struct result *r, int rc, void *userdata)
{
	struct done *d = userdata;
	struct done *log = d->log != NULL ? d->log : d;
	size_t len = strlen(log->order);

	(void)r;
	d->n++;
	d->rc = rc;
	d->waiter = NULL;
	if (d->name != NULL && len + 1 < sizeof(log->order))
		log->order[len] = d->name[0];
	log->n += d->log != NULL;
}

static void
run_now(struct sched *s, const char *name, struct done *d)
{
	struct sched_waiter *w;

	d->name = name;
	assert_int_equal(sched_run_now(s, name, on_done, d, &w), 0);
	if (d->n == 0)
		d->waiter = w;	/* not finished within the call */
}

/* A failing collector doubles its interval up to 8x and gets it back on
 * its first success. */
static void
test_backoff(void **state)
{
	struct fixture *f = *state;
	static const uint64_t want[] = { 20, 40, 80, 80, 80 };
	struct sched_check *c;
	struct done d = { 0 };

	assert_int_equal(sched_new(f->event, make_config(f, "load",
	    "[collector.load]\ninterval = 10s\n"), f->proc, "", f->decide,
	    &f->sched), 0);
	c = sched_find(f->sched, "load");
	assert_non_null(c);
	assert_int_equal(c->interval_usec, 10 * SEC);
	/* No loadavg in the scratch /proc: every run fails. */
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		run_now(f->sched, "load", &d);
		assert_int_equal(d.n, (int)i + 1);
		assert_true(c->failing);
		if (c->interval_usec != want[i] * SEC)
			fail_msg("after %zu failures the interval is %.0f s, "
			    "want %" PRIu64 " s", i + 1,
			    (double)c->interval_usec / SEC, want[i]);
	}
	testutil_put(f->proc, "loadavg", "0.10 0.20 0.30 1/100 1234\n");
	testutil_put(f->proc, "stat", "cpu  1 2 3 4 0 0 0 0 0 0\n"
	    "cpu0 1 2 3 4 0 0 0 0 0 0\n");
	run_now(f->sched, "load", &d);
	assert_false(c->failing);
	assert_int_equal(decide_check_state(c->dc), STATE_OK);
	assert_int_equal(c->interval_usec, 10 * SEC);
}

/* A run still going when the next is due is skipped, not stacked. */
static void
test_skip_while_running(void **state)
{
	struct fixture *f = *state;
	struct sched_check *c;
	struct done d = { 0 };
	char extra[512], path[128], *out;
	uint64_t started, next;
	size_t len;

	snprintf(path, sizeof(path), "%s/runs", f->dir);
	snprintf(extra, sizeof(extra), "[check.slow]\ncommand = /bin/sh -c "
	    "\"echo run >> %s; sleep 1.2\"\ninterval = 5s\ntimeout = 3s\n",
	    path);
	assert_int_equal(sched_new(f->event, make_config(f, "", extra),
	    f->proc, "", f->decide, &f->sched), 0);
	c = sched_find(f->sched, "slow");
	/* Due every 0.3 s from now: the timer comes round four times during
	 * the run. */
	c->interval_usec = 300000;
	run_now(f->sched, "slow", &d);
	started = c->started;
	assert_int_equal(sd_event_source_set_time(c->timer, started + 300000),
	    0);
	run_until(f, &d.n, 5 * SEC, 0);
	assert_int_equal(d.rc, 0);
	assert_int_equal(c->runs, 1);
	out = testutil_slurp(path, &len);
	if (strcmp(out, "run\n") != 0)
		fail_msg("the command ran more than once: '%s'", out);
	free(out);
	/* The timer did fire meanwhile (it was re-armed at least twice). */
	assert_int_equal(sd_event_source_get_time(c->timer, &next), 0);
	if (next < started + 900000)
		fail_msg("the timer did not come round during the run");
	assert_false(c->queued);
}

/* With one slot, `check run` on a queued check moves it to the front. */
static void
test_queue_front(void **state)
{
	struct fixture *f = *state;
	struct done log = { 0 }, a = { .log = &log }, b = { .log = &log },
	    c = { .log = &log }, c2 = { .log = &log };
	const char *extra =
	    "[agent]\nmax_concurrent_checks = 1\n"
	    "[check.a]\ncommand = /bin/sh -c \"sleep 0.2\"\n"
	    "[check.b]\ncommand = /bin/sh -c \"sleep 0.2\"\n"
	    "[check.c]\ncommand = /bin/sh -c \"sleep 0.2\"\n";

	assert_int_equal(sched_new(f->event, make_config(f, "", extra),
	    f->proc, "", f->decide, &f->sched), 0);
	quiet_timers(f->sched);
	run_now(f->sched, "a", &a);	/* takes the slot */
	run_now(f->sched, "b", &b);	/* queued */
	run_now(f->sched, "c", &c);	/* queued behind b */
	assert_true(sched_find(f->sched, "b")->queued);
	assert_true(sched_find(f->sched, "c")->queued);
	run_now(f->sched, "c", &c2);	/* someone waits: c goes first */
	log.n = 0;
	for (int i = 0; i < 50 && log.n < 4; i++)
		run_until(f, NULL, 100000, 1);
	/* c's two waiters share its one run. */
	assert_string_equal(log.order, "accb");
	assert_int_equal(sched_find(f->sched, "c")->runs, 1);
}

/* A reload abandons runs in flight: waiters hear -ECANCELED, the child
 * goes, and nothing is left in flight. */
static void
test_reload_abandons(void **state)
{
	struct fixture *f = *state;
	struct done d = { 0 }, q = { 0 };
	const char *extra =
	    "[agent]\nmax_concurrent_checks = 1\n"
	    "[check.long]\ncommand = /bin/sh -c \"sleep 30\"\n"
	    "[check.next]\ncommand = /bin/true\n";

	assert_int_equal(sched_new(f->event, make_config(f, "", extra),
	    f->proc, "", f->decide, &f->sched), 0);
	quiet_timers(f->sched);
	run_now(f->sched, "long", &d);
	run_now(f->sched, "next", &q);
	run_until(f, NULL, 200000, 1);
	assert_int_equal(sched_in_flight(f->sched), 1);
	assert_true(sched_find(f->sched, "next")->queued);
	sched_apply(f->sched, make_config(f, "", extra));
	assert_int_equal(d.n, 1);
	assert_int_equal(d.rc, -ECANCELED);
	assert_int_equal(q.n, 1);
	assert_int_equal(q.rc, -ECANCELED);
	assert_int_equal(sched_in_flight(f->sched), 0);
	assert_false(sched_find(f->sched, "next")->queued);
	run_until(f, NULL, 300000, 1);	/* the killed child is reaped */
}

static void
test_schedule_config(void **state)
{
	struct fixture *f = *state;
	struct config *cfg;
	struct check_conf *c;

	expect_config_error("[check.x]\ncommand = /bin/true\ninterval = 5m\n"
	    "schedule = 0 2 * * *\n", "test.conf:4: schedule: [check.x] "
	    "already has an interval; set one of the two");
	expect_config_error("[check.x]\ncommand = /bin/true\n"
	    "schedule = 0 2 * * *\ninterval = 5m\n", "test.conf:4: interval: "
	    "[check.x] already has a schedule");
	expect_config_error("[check.x]\ncommand = /bin/true\n"
	    "schedule = 0 25 * * *\n", "test.conf:3: schedule: hour: '25'");
	expect_config_error("[check.x]\ncommand = /bin/true\n"
	    "schedule = 0 2 * * *\nrandomized_delay = 2d\n",
	    "test.conf:4: randomized_delay: '2d' is not a duration");
	expect_config_error("[check.x]\ncommand = /bin/true\n"
	    "randomized_delay = 5m\n", "test.conf:1: [check.x]: "
	    "randomized_delay needs a schedule");
	/* A schedule takes a timeout longer than the default interval. */
	cfg = make_config(f, "", "[check.x]\ncommand = /bin/true\n"
	    "schedule = 0 2 * * *\ntimeout = 30m\nrandomized_delay = 30m\n");
	c = config_find_check(cfg, "x");
	assert_string_equal(c->schedule, "0 2 * * *");
	assert_int_equal(c->randomized_delay, 1800);
	assert_int_equal(c->timeout, 1800);
	config_free(cfg);
}

static time_t
utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
	    .tm_hour = h, .tm_min = mi, .tm_sec = s };

	return timegm(&tm);
}

static int64_t
recorded(struct fixture *f, const char *id)
{
	char path[128], *text, *line;
	long long when;
	size_t len;
	int64_t found = -1;

	snprintf(path, sizeof(path), "%s/calendar", f->state);
	text = testutil_slurp(path, &len);
	for (line = strtok(text, "\n"); line != NULL;
	    line = strtok(NULL, "\n")) {
		char name[128];

		if (sscanf(line, "%lld %127s", &when, name) == 2 &&
		    strcmp(name, id) == 0)
			found = when;
	}
	free(text);
	return found;
}

/* Where each entry's next fire lands from a known last run and clock. */
static void
test_calendar_plan(void **state)
{
	struct fixture *f = *state;
	const time_t now = utc(2026, 1, 15, 10, 0, 0);
	struct sched_check *daily, *recent, *fresh, *ahead, *spread;
	char text[512];
	uint64_t due;

	snprintf(text, sizeof(text), "%lld check.daily\n%lld check.recent\n"
	    "%lld check.ahead\ngarbage line\n-5 check.neg\n",
	    (long long)(now - 2 * 86400),
	    (long long)utc(2026, 1, 15, 2, 0, 30),
	    (long long)utc(2030, 1, 1, 0, 0, 0));
	testutil_put(f->state, "calendar", text);
	fake_realtime = (uint64_t)now * SEC;
	assert_int_equal(sched_new(f->event, make_config(f, "",
	    "[check.daily]\ncommand = /bin/true\nschedule = 0 2 * * *\n"
	    "[check.recent]\ncommand = /bin/true\nschedule = 0 2 * * *\n"
	    "[check.fresh]\ncommand = /bin/true\nschedule = 0 2 * * *\n"
	    "[check.ahead]\ncommand = /bin/true\nschedule = 0 2 * * *\n"
	    "[check.spread]\ncommand = /bin/true\nschedule = 0 2 * * *\n"
	    "randomized_delay = 30m\n"), f->proc, "", f->decide, &f->sched), 0);
	daily = sched_find(f->sched, "daily");
	recent = sched_find(f->sched, "recent");
	fresh = sched_find(f->sched, "fresh");
	ahead = sched_find(f->sched, "ahead");
	spread = sched_find(f->sched, "spread");
	assert_null(daily->timer);
	/* Two days down: runs now, once, for the first 02:00 it missed. */
	assert_int_equal(sched_cal_nominal(daily->cal),
	    utc(2026, 1, 14, 2, 0, 0));
	assert_int_equal(sched_cal_due(daily->cal), (uint64_t)now * SEC);
	/* Ran at 02:00 today: tomorrow. */
	assert_int_equal(sched_cal_nominal(recent->cal),
	    utc(2026, 1, 16, 2, 0, 0));
	/* Never seen: no run now, and its first sight is recorded. */
	assert_int_equal(sched_cal_nominal(fresh->cal),
	    utc(2026, 1, 16, 2, 0, 0));
	assert_int_equal(recorded(f, "check.fresh"), now);
	/* Stamped in 2030 by a clock that was wrong: not waited for. */
	assert_int_equal(sched_cal_nominal(ahead->cal),
	    utc(2026, 1, 16, 2, 0, 0));
	due = sched_cal_due(spread->cal);
	assert_true(due >= (uint64_t)utc(2026, 1, 16, 2, 0, 0) * SEC);
	assert_true(due <= (uint64_t)utc(2026, 1, 16, 2, 30, 0) * SEC);

	/* The clock is set back 12 hours: 02:00 today, already run, is not
	 * run again when it comes round. */
	fake_realtime = (uint64_t)(now - 12 * 3600) * SEC;
	sched_clock_changed(f->sched);
	assert_int_equal(sched_cal_nominal(recent->cal),
	    utc(2026, 1, 16, 2, 0, 0));
	/* Forward a day: the 02:00 jumped over runs now, once. */
	fake_realtime = (uint64_t)(now + 86400) * SEC;
	sched_clock_changed(f->sched);
	assert_int_equal(sched_cal_nominal(fresh->cal),
	    utc(2026, 1, 16, 2, 0, 0));
	assert_int_equal(sched_cal_due(fresh->cal), (now + 86400) * SEC);
	/* Back a year: the next 02:00 of that day, not in a year. */
	fake_realtime = (uint64_t)(now - 365 * 86400) * SEC;
	sched_clock_changed(f->sched);
	assert_int_equal(sched_cal_nominal(fresh->cal),
	    utc(2025, 1, 16, 2, 0, 0));
}

static void
on_cal(struct sched_cal *e, void *userdata)
{
	int *fired = userdata;

	(void)e;
	(*fired)++;
}

/* On the real clock: a missed run fires on the loop, is recorded, and the
 * next one is planned after now; an entry that is not a check (as backups
 * will add) works the same. */
static void
test_calendar_fire(void **state)
{
	struct fixture *f = *state;
	time_t now = time(NULL), next;
	struct sched_check *c;
	struct sched_cal *job;
	struct done d = { 0 };
	struct cron cron;
	char text[128], err[128];
	int fired = 0;

	snprintf(text, sizeof(text), "%lld check.daily\n%lld backup.etc\n",
	    (long long)(now - 2 * 86400), (long long)(now - 2 * 86400));
	testutil_put(f->state, "calendar", text);
	assert_int_equal(sched_new(f->event, make_config(f, "",
	    "[check.daily]\ncommand = /bin/true\nschedule = 0 2 * * *\n"),
	    f->proc, "", f->decide, &f->sched), 0);
	assert_int_equal(cron_parse("30 3 * * *", &cron, err, sizeof(err)), 0);
	job = sched_cal_add(f->sched, "backup.etc", &cron, 0, on_cal, &fired);
	c = sched_find(f->sched, "daily");
	run_now(f->sched, "daily", &d);	/* to hear when it ends */
	run_until(f, &d.n, 5 * SEC, 0);
	run_until(f, &fired, 5 * SEC, 0);
	/* Both timers are due in the same second and sd-event dispatches
	 * one source per iteration, in either order: let the loop settle
	 * before reading the record. */
	run_until(f, NULL, 300000, 1);
	assert_int_equal(fired, 1);
	assert_true(recorded(f, "check.daily") >= now);
	assert_true(recorded(f, "backup.etc") >= now);
	assert_int_equal(cron_next(&cron, time(NULL), &next), 0);
	assert_int_equal(sched_cal_nominal(job), next);
	assert_true(sched_cal_nominal(c->cal) > now);
	/* Nothing more fires: one catch-up, not one per missed day. */
	run_until(f, NULL, 300000, 1);
	assert_int_equal(fired, 1);
	assert_true(c->runs <= 2);
	sched_cal_free(job);
}

/* A check refused before it starts (its file changed after the load)
 * still gets a monotonic stamp: the "age" shown is counted from it. */
static void
test_refused_run_stamped(void **state)
{
	struct fixture *f = *state;
	char extra[256], path[160];
	const struct result *r;
	struct sched_check *c;
	struct done d = { 0 };
	uint64_t before;

	testutil_put(f->dir, "check_x", "#!/bin/sh\necho OK\n");
	snprintf(path, sizeof(path), "%s/check_x", f->dir);
	assert_int_equal(chmod(path, 0755), 0);
	snprintf(extra, sizeof(extra), "[check.x]\ncommand = %s\n", path);
	assert_int_equal(sched_new(f->event, make_config(f, "", extra),
	    f->proc, "", f->decide, &f->sched), 0);
	quiet_timers(f->sched);
	c = sched_find(f->sched, "x");
	assert_non_null(c);
	assert_int_equal(chmod(path, 0777), 0);
	before = fake_now(CLOCK_MONOTONIC);
	run_now(f->sched, "x", &d);
	run_until(f, &d.n, 5 * SEC, 0);
	r = decide_check_result(c->dc);
	assert_non_null(r);
	assert_int_equal(r->state, STATE_UNKNOWN);
	assert_contains(r->summary, "refusing to run");
	if (r->mono_usec < before)
		fail_msg("refused run stamped %" PRIu64 " us on the monotonic "
		    "clock, before the run (%" PRIu64 "): its age would be "
		    "counted from boot", r->mono_usec, before);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_run_stamped, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_skip_while_running, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_queue_front, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reload_abandons, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_schedule_config, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_calendar_plan, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_calendar_fire, setup,
		    teardown),
	};
	sigset_t ss;

	/* sd-event's child sources need SIGCHLD blocked, as agentd does. */
	sigemptyset(&ss);
	sigaddset(&ss, SIGCHLD);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
