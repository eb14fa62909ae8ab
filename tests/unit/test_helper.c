/* Supervision of helper processes (agentd/helper.c) with real children
 * (/bin/sh one-liners) on a real sd-event loop: a crashing helper is
 * restarted with growing, capped back-off (reset after a healthy run), a
 * bad frame kills and restarts it, a one-shot run reports its exit status,
 * helper_stop ends a helper that ignores SIGTERM within a bound, and a
 * missing binary is reported. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "helper.h"
#include "timeutil.h"

#define MS	1000ULL
#define STARTS_MAX 16

struct fixture {
	sd_event	*event;
	struct helper	*h;
	unsigned	 starts, downs, exits, msgs;
	uint64_t	 start_at[STARTS_MAX];
	struct helper_exit last;
	int		 last_spawn_error;
};

static int
validate(json_t *msg, char *err, size_t errlen)
{
	const char *t = json_string_value(json_object_get(msg, "t"));

	if (t == NULL || strcmp(t, "ok") != 0) {
		snprintf(err, errlen, "t is not \"ok\"");
		return -EBADMSG;
	}
	return 0;
}

static void
on_start(struct helper *h, void *arg)
{
	struct fixture *f = arg;

	(void)h;
	if (f->starts < STARTS_MAX)
		f->start_at[f->starts] = time_now(CLOCK_MONOTONIC);
	f->starts++;
}

static void
on_msg(struct helper *h, json_t *msg, void *arg)
{
	struct fixture *f = arg;

	(void)h;
	(void)msg;
	f->msgs++;
}

static void
on_down(struct helper *h, void *arg)
{
	struct fixture *f = arg;

	(void)h;
	f->downs++;
}

static void
on_exit_cb(struct helper *h, const struct helper_exit *ex, void *arg)
{
	struct fixture *f = arg;

	(void)h;
	f->exits++;
	f->last = *ex;
	f->last.why = NULL;
	f->last_spawn_error = ex->spawn_error;
}

static const struct helper_ops ops = {
	.validate = validate,
	.on_start = on_start,
	.on_msg = on_msg,
	.on_down = on_down,
	.on_exit = on_exit_cb,
};

/* Runs the loop until *counter reaches want or limit_ms pass. */
static void
run_until(struct fixture *f, unsigned *counter, unsigned want,
    uint64_t limit_ms)
{
	uint64_t end = time_now(CLOCK_MONOTONIC) + limit_ms * MS;

	while (*counter < want && time_now(CLOCK_MONOTONIC) < end)
		sd_event_run(f->event, 20 * MS);
}

static void
run_for(struct fixture *f, uint64_t ms)
{
	uint64_t end = time_now(CLOCK_MONOTONIC) + ms * MS;

	while (time_now(CLOCK_MONOTONIC) < end)
		sd_event_run(f->event, 20 * MS);
}

static void
make(struct fixture *f, const char *script, enum helper_mode mode,
    const char *path, uint64_t healthy_usec)
{
	char *const argv[] = { "sh", "-c", (char *)script, NULL };
	struct helper_params p = {
		.name = "test-helper",
		.path = path != NULL ? path : "/bin/sh",
		.argv = argv,
		.mode = mode,
		.frame_max = 1024,
		.restart_min_usec = 100 * MS,
		.restart_max_usec = healthy_usec != 0 ? 3200 * MS : 400 * MS,
		.healthy_usec = healthy_usec != 0 ? healthy_usec : 10000 * MS,
		.stop_usec = 300 * MS,
	};
	sigset_t ss;

	memset(f, 0, sizeof(*f));
	sigemptyset(&ss);
	sigaddset(&ss, SIGCHLD);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	assert_int_equal(sd_event_new(&f->event), 0);
	assert_int_equal(helper_new(f->event, &p, &ops, f, &f->h), 0);
}

static void
unmake(struct fixture *f)
{
	helper_free(f->h);
	sd_event_unref(f->event);
}

static void
test_crash_restarts_with_backoff(void **state)
{
	struct fixture f;
	uint64_t g1, g2, g4;

	(void)state;
	make(&f, "exit 3", HELPER_RESTART, NULL, 0);
	helper_start(f.h);
	run_until(&f, &f.starts, 6, 8000);
	assert_true(f.starts >= 6);
	assert_int_equal(f.last.status, 3);
	/* 100, 200, 400, 400, 400 ms (capped; 1600 ms uncapped at g4). */
	g1 = f.start_at[2] - f.start_at[1];
	g2 = f.start_at[3] - f.start_at[2];
	g4 = f.start_at[5] - f.start_at[4];
	if (g1 < 180 * MS || g2 < 380 * MS || g4 < 380 * MS || g4 > 1200 * MS)
		fail_msg("restart gaps %llu, %llu, .., %llu ms: not 200, 400, "
		    ".., 400", (unsigned long long)(g1 / MS),
		    (unsigned long long)(g2 / MS), (unsigned long long)(g4 / MS));
	/* A stopped helper is not restarted. */
	helper_stop(f.h);
	run_for(&f, 600);
	assert_string_equal(helper_state(f.h), "stopped");
	unmake(&f);
}

static void
test_healthy_resets_backoff(void **state)
{
	struct fixture f;
	uint64_t g4;

	(void)state;
	/* Lives 500 ms, longer than healthy (200 ms): every restart waits
	 * the minimum, 100 ms; without the reset g4 would be 500 + 800 (the
	 * cap is 3200 ms here). */
	make(&f, "sleep 0.5; exit 1", HELPER_RESTART, NULL, 200 * MS);
	helper_start(f.h);
	run_until(&f, &f.starts, 5, 8000);
	assert_true(f.starts >= 5);
	g4 = f.start_at[4] - f.start_at[3];
	if (g4 > 1000 * MS)
		fail_msg("gap after a healthy run %llu ms: back-off not reset",
		    (unsigned long long)(g4 / MS));
	unmake(&f);
}

static void
test_bad_frame_kills_and_restarts(void **state)
{
	struct fixture f;

	(void)state;
	/* A good frame and a bad one (10 bytes each), then it would linger. */
	make(&f, "printf '\\000\\000\\000\\012{\"t\":\"ok\"}' >&3; "
	    "printf '\\000\\000\\000\\012{\"t\":\"no\"}' >&3; exec sleep 30",
	    HELPER_RESTART, NULL, 0);
	helper_start(f.h);
	run_until(&f, &f.starts, 2, 3000);
	assert_int_equal(f.starts, 2);
	assert_true(f.msgs >= 1);
	assert_true(f.downs >= 1);
	assert_int_equal(f.last.signal, SIGKILL);
	unmake(&f);
}

static void
test_oversized_frame_kills(void **state)
{
	struct fixture f;

	(void)state;
	/* Announces 1 MiB against a frame_max of 1024. */
	make(&f, "printf '\\000\\020\\000\\000' >&3; exec sleep 30",
	    HELPER_RESTART, NULL, 0);
	helper_start(f.h);
	run_until(&f, &f.exits, 1, 3000);
	assert_int_equal(f.exits, 1);
	assert_int_equal(f.last.signal, SIGKILL);
	unmake(&f);
}

static void
test_once_reports_exit_status(void **state)
{
	struct fixture f;

	(void)state;
	make(&f, "exit 7", HELPER_ONCE, NULL, 0);
	helper_start(f.h);
	run_until(&f, &f.exits, 1, 3000);
	assert_int_equal(f.exits, 1);
	assert_int_equal(f.last.status, 7);
	assert_int_equal(f.last.signal, 0);
	/* No restart in one-shot mode. */
	run_for(&f, 500);
	assert_int_equal(f.starts, 1);
	assert_string_equal(helper_state(f.h), "stopped");
	/* Another run when asked. */
	helper_start(f.h);
	run_until(&f, &f.exits, 2, 3000);
	assert_int_equal(f.starts, 2);
	unmake(&f);
}

static void
test_stop_kills_within_bound(void **state)
{
	struct fixture f;
	uint64_t t0, took;

	(void)state;
	/* Ignores SIGTERM (and the EOF on fd 3). */
	make(&f, "trap '' TERM; exec sleep 30", HELPER_RESTART, NULL, 0);
	helper_start(f.h);
	run_until(&f, &f.starts, 1, 2000);
	assert_int_equal(f.starts, 1);
	run_for(&f, 100);
	t0 = time_now(CLOCK_MONOTONIC);
	helper_stop(f.h);
	run_until(&f, &f.exits, 1, 3000);
	took = time_now(CLOCK_MONOTONIC) - t0;
	assert_int_equal(f.exits, 1);
	assert_int_equal(f.last.signal, SIGKILL);
	if (took < 250 * MS || took > 1500 * MS)
		fail_msg("stopped after %llu ms, not 300 ms (stop_usec)",
		    (unsigned long long)(took / MS));
	run_for(&f, 300);
	assert_int_equal(f.starts, 1);
	unmake(&f);
}

/* A helper that closes its channel but lingers, deaf to SIGTERM (hung,
 * or compromised and stalling delivery), is killed within stop_usec and
 * restarted, not waited for. */
static void
test_closed_channel_kills_lingering(void **state)
{
	struct fixture f;
	uint64_t t0, took;

	(void)state;
	make(&f, "trap '' TERM; exec 3>&-; exec sleep 30", HELPER_RESTART,
	    NULL, 0);
	t0 = time_now(CLOCK_MONOTONIC);
	helper_start(f.h);
	run_until(&f, &f.starts, 2, 3000);
	took = time_now(CLOCK_MONOTONIC) - t0;
	if (f.starts < 2)
		fail_msg("a helper that closed fd 3 and ignores SIGTERM is "
		    "still running after %llu ms: never killed, never "
		    "restarted", (unsigned long long)(took / MS));
	assert_int_equal(f.last.signal, SIGKILL);
	unmake(&f);
}

/* agentd ignores SIGPIPE; an ignored signal survives exec, so a helper
 * would start with it ignored unless the child resets it. */
static void
test_signals_default(void **state)
{
	struct fixture f;
	char path[] = "/tmp/test_helper.sigXXXXXX", script[256], buf[128];
	FILE *fp;
	int fd;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	close(fd);
	snprintf(script, sizeof(script),
	    "grep '^SigIgn' /proc/$$/status > %s", path);
	signal(SIGPIPE, SIG_IGN);
	make(&f, script, HELPER_ONCE, NULL, 0);
	helper_start(f.h);
	run_until(&f, &f.exits, 1, 3000);
	signal(SIGPIPE, SIG_DFL);
	assert_int_equal(f.exits, 1);
	assert_non_null(fp = fopen(path, "r"));
	if (fgets(buf, sizeof(buf), fp) == NULL)
		buf[0] = '\0';
	fclose(fp);
	unlink(path);
	buf[strcspn(buf, "\n")] = '\0';
	/* Signals 1-31 only: 32 and 33 are glibc's own, which signal()
	 * refuses to touch (valgrind leaves them ignored in the child). */
	if (strncmp(buf, "SigIgn:\t", 8) != 0 ||
	    (strtoull(buf + 8, NULL, 16) & 0x7fffffffULL) != 0)
		fail_msg("the helper started with signals ignored: \"%s\"",
		    buf);
	unmake(&f);
}

static void
test_missing_binary(void **state)
{
	struct fixture f;

	(void)state;
	make(&f, "exit 0", HELPER_ONCE, "/nonexistent/helper", 0);
	helper_start(f.h);
	assert_int_equal(f.exits, 1);
	assert_int_equal(f.last_spawn_error, ENOENT);
	assert_int_equal(f.starts, 0);
	unmake(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crash_restarts_with_backoff),
		cmocka_unit_test(test_healthy_resets_backoff),
		cmocka_unit_test(test_bad_frame_kills_and_restarts),
		cmocka_unit_test(test_oversized_frame_kills),
		cmocka_unit_test(test_once_reports_exit_status),
		cmocka_unit_test(test_stop_kills_within_bound),
		cmocka_unit_test(test_closed_channel_kills_lingering),
		cmocka_unit_test(test_signals_default),
		cmocka_unit_test(test_missing_binary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
