/* External check processes (collectors/exec.c) on a real sd-event loop:
 * a plugin inherits only its stdin, stdout and stderr, whatever agentd or
 * a library it links left open without close-on-exec. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "exec.h"
#include "timeutil.h"

#define MS	1000ULL

struct run {
	int	 done;
	char	 out[512];
	int	 exit_code;
	int	 spawn_error;
};

static void
on_done(struct exec_job *job, const struct exec_outcome *o, void *userdata)
{
	struct run *r = userdata;

	r->done = 1;
	r->exit_code = o->exit_code;
	r->spawn_error = o->spawn_error;
	snprintf(r->out, sizeof(r->out), "%.*s", (int)o->outlen, o->out);
	exec_free(job);
}

/* Lists the fds the plugin holds with shell built-ins only (dash opens no
 * file for [ -e ]), so the list is the plugin's own, not a tool's. */
static const char fd_script[] =
    "i=0; while [ $i -lt 300 ]; do "
    "[ -e /proc/self/fd/$i ] && printf '%s ' $i; i=$((i+1)); done";

static void
test_plugin_sees_only_stdio(void **state)
{
	char *const argv[] = { "/bin/sh", "-c", (char *)fd_script, NULL };
	struct exec_job *job;
	struct run r = { 0 };
	sd_event *event;
	sigset_t ss;
	uint64_t end;
	int leak, high;

	(void)state;
	sigemptyset(&ss);
	sigaddset(&ss, SIGCHLD);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	/* What a library might leave: an fd without close-on-exec, low and
	 * high. */
	assert_true((leak = open("/dev/null", O_RDONLY)) >= 0);
	assert_true((high = dup2(leak, 250)) == 250);
	assert_int_equal(sd_event_new(&event), 0);
	assert_int_equal(exec_start(event, argv, 0, 10, 4096, on_done, &r,
	    &job), 0);
	end = time_now(CLOCK_MONOTONIC) + 10000 * MS;
	while (!r.done && time_now(CLOCK_MONOTONIC) < end)
		sd_event_run(event, 50 * MS);
	assert_true(r.done);
	assert_int_equal(r.spawn_error, 0);
	assert_int_equal(r.exit_code, 0);
	if (strcmp(r.out, "0 1 2 ") != 0)
		fail_msg("plugin holds fds \"%s\", want \"0 1 2 \" (fd %d and "
		    "%d were left open without close-on-exec)", r.out, leak,
		    high);
	close(leak);
	close(high);
	sd_event_unref(event);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plugin_sees_only_stdio),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
