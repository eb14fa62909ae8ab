/*
 * Ages and uptimes across a step of the wall clock (issue 7, defect 14):
 * a real scheduler and control socket in this process, with time_now()
 * faked so that the wall clock jumps back a day and forward a year while
 * the monotonic clock moves on by seconds. Every age must follow the
 * monotonic clock; the stamps shown may follow the wall clock.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "collector.h"
#include "config.h"
#include "control.h"
#include "decide.h"
#include "log.h"
#include "sched.h"
#include "testutil.h"
#include "timeutil.h"

static int64_t	 step_real;	/* usec added to CLOCK_REALTIME */
static uint64_t	 step_mono;	/* usec added to CLOCK_MONOTONIC */

static uint64_t
fake_now(clockid_t clock)
{
	struct timespec ts;
	uint64_t us;

	clock_gettime(clock, &ts);
	us = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	return clock == CLOCK_REALTIME ? (uint64_t)((int64_t)us + step_real) :
	    us + step_mono;
}

static void
test_since(void **state)
{
	(void)state;
	assert_int_equal(time_since(5, 7), 2);
	assert_int_equal(time_since(7, 7), 0);
	/* A stamp from the future is no age at all, not 2^64 - 2. */
	assert_int_equal(time_since(7, 5), 0);
}

static int
no_reload(struct config_errors *errs, void *userdata)
{
	(void)errs;
	(void)userdata;
	return -EINVAL;
}

static void
run_done(const struct result *r, int rc, void *userdata)
{
	(void)r;
	*(int *)userdata = rc == 0 ? 1 : -1;
}

struct agent {
	char		 dir[48], sock[96];
	sd_event	*event;
	struct decide	*decide;
	struct sched	*sched;
	struct control	*control;
};

/* One request over the real socket, the loop turning until the reply. */
static json_t *
ask(struct agent *a, const char *req)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char *buf = calloc(1, 1 << 20);
	size_t len = 0;
	json_t *o;
	int fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", a->sock);
	assert_true((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0)) >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	for (int i = 0; i < 1000 && memchr(buf, '\n', len) == NULL; i++) {
		ssize_t n;

		sd_event_run(a->event, 10000);
		if ((n = read(fd, buf + len, (1 << 20) - 1 - len)) > 0)
			len += (size_t)n;
	}
	close(fd);
	if (memchr(buf, '\n', len) == NULL)
		fail_msg("no reply to %s", req);
	o = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
	free(buf);
	if (!json_is_object(o))
		fail_msg("reply to %s is not a JSON object", req);
	return o;
}

/* The "age" of check name in a "checks" array. */
static json_int_t
check_age(json_t *checks, const char *name)
{
	size_t i;
	json_t *c;

	json_array_foreach(checks, i, c)
		if (strcmp(json_string_value(json_object_get(c, "name")),
		    name) == 0) {
			if (!json_is_integer(json_object_get(c, "age")))
				fail_msg("check %s has no integer age", name);
			return json_integer_value(json_object_get(c, "age"));
		}
	fail_msg("no check %s", name);
	return -1;
}

/* Status and checks after the wall clock moved by real_s seconds and the
 * monotonic one by mono_s: ages and uptime are mono_s (give or take the
 * second this test takes), whatever the wall clock did. */
static void
expect_ages(struct agent *a, int64_t real_s, json_int_t mono_s)
{
	json_t *st, *ck;
	json_int_t v;

	step_real = real_s * 1000000;
	step_mono = (uint64_t)mono_s * 1000000;
	st = ask(a, "{\"cmd\":\"status\"}\n");
	assert_true(json_is_true(json_object_get(st, "ok")));
	assert_true(json_is_number(json_object_get(st, "started")));
	v = json_integer_value(json_object_get(st, "uptime"));
	if (v < mono_s || v > mono_s + 2)
		fail_msg("wall clock %+lld s, monotonic %+lld s: uptime %lld",
		    (long long)real_s, (long long)mono_s, (long long)v);
	for (int k = 0; k < 2; k++) {
		const char *name = k == 0 ? "load" : "ext";

		v = check_age(json_object_get(st, "checks"), name);
		if (v < mono_s || v > mono_s + 2)
			fail_msg("wall clock %+lld s, monotonic %+lld s: status "
			    "age of %s is %lld", (long long)real_s,
			    (long long)mono_s, name, (long long)v);
	}
	ck = ask(a, "{\"cmd\":\"checks\"}\n");
	v = check_age(json_object_get(ck, "checks"), "ext");
	if (v < mono_s || v > mono_s + 2)
		fail_msg("wall clock %+lld s: checks age %lld", (long long)real_s,
		    (long long)v);
	json_decref(st);
	json_decref(ck);
}

static void
test_steps(void **state)
{
	static const char *const off[] = { "cpu", "memory", "filesystems",
	    "diskio", "network", "uptime", "processes", "units", "journal",
	    "clock", "oom", "restarts", "certificates", "updates",
	    "forecast" };
	struct config_errors errs = { 0 };
	struct control_info info = { .config_path = "test" };
	struct config *cfg = NULL;
	struct agent a = { 0 };
	char conf[4096];
	size_t n;
	int done;

	(void)state;
	time_now_hook = fake_now;
	step_real = step_mono = 0;
	snprintf(a.dir, sizeof(a.dir), "/tmp/test_clockstep.%d", (int)getpid());
	testutil_rm_tree(a.dir);
	assert_int_equal(mkdir(a.dir, 0700), 0);
	snprintf(a.sock, sizeof(a.sock), "%s/control.sock", a.dir);
	n = (size_t)snprintf(conf, sizeof(conf), "[agent]\ncontrol_socket = %s\n"
	    "state_dir = %s\ncontrol_group =\n[check.ext]\ncommand = /bin/true\n"
	    "interval = 1h\n[collector.load]\ninterval = 1h\n", a.sock, a.dir);
	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++)
		n += (size_t)snprintf(conf + n, sizeof(conf) - n,
		    "[collector.%s]\nenabled = no\n", off[i]);
	if (config_load_buffer("test.conf", conf, n, &cfg, &errs) != 0)
		fail_msg("config: %s", errs.n > 0 ? errs.msgs[0] : "?");
	assert_true(sd_event_default(&a.event) >= 0);
	a.decide = decide_new();
	assert_int_equal(sched_new(a.event, cfg, "/proc", "/sys", a.decide,
	    &a.sched), 0);
	/* A built-in collector and an external check, after their first
	 * runs (spread over 5 s): the next are an hour away, so no timer
	 * fires during the steps below. */
	for (time_t end = time(NULL) + 10; time(NULL) < end;) {
		done = decide_check_result(decide_find(a.decide, "load")) !=
		    NULL && decide_check_result(decide_find(a.decide,
		    "ext")) != NULL;
		if (done)
			break;
		sd_event_run(a.event, 10000);
	}
	if (!done)
		fail_msg("load and ext did not run within their first spread");
	/* Fresh results of both, and the uptime, start now: the steps
	 * below measure from here. */
	for (int k = 0; k < 2; k++) {
		struct sched_waiter *w = NULL;

		done = 0;
		assert_int_equal(sched_run_now(a.sched, k == 0 ? "load" : "ext",
		    run_done, &done, &w), 0);
		for (int i = 0; i < 500 && done == 0; i++)
			sd_event_run(a.event, 10000);
		assert_int_equal(done, 1);
	}
	info.started = time_now(CLOCK_REALTIME);
	info.started_mono = time_now(CLOCK_MONOTONIC);
	assert_int_equal(control_open(a.event, a.sock, "", a.sched, &info,
	    no_reload, NULL, &a.control), 0);

	expect_ages(&a, 0, 0);
	expect_ages(&a, -86400, 5);		/* back a day */
	expect_ages(&a, 365 * 86400, 10);	/* forward a year */
	expect_ages(&a, -3 * 365 * 86400, 20);	/* back before the start */

	control_close(a.control);
	sched_stop(a.sched, SIGKILL);
	sched_free(a.sched);
	decide_free(a.decide);
	sd_event_unref(a.event);
	testutil_rm_tree(a.dir);
	time_now_hook = NULL;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_since),
		cmocka_unit_test(test_steps),
	};
	sigset_t ss;

	/* External checks are reaped through the loop, as in agentd. */
	sigemptyset(&ss);
	sigaddset(&ss, SIGCHLD);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	log_init("test_clockstep", LOG_TARGET_STDERR, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
