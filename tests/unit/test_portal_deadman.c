/* The dead-man's switch with injected clocks: a step of the portal's
 * realtime clock, forward or back, neither marks the fleet unreachable
 * nor hides a silent host; without a step, silence is measured as before. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "alert.h"
#include "credential.h"
#include "deadman.h"
#include "fleet.h"
#include "log.h"
#include "store.h"
#include "testutil.h"

#define HOSTS	3

static double fake_mono, fake_real;

static double
mono(void)
{
	return fake_mono;
}

static double
real(void)
{
	return fake_real;
}

struct fixture {
	char		 dir[64];
	char		 path[96];
	struct store	*store;
};

static int
setup(void **state)
{
	static const struct deadman_clocks clocks = { mono, real };
	struct fixture *f = calloc(1, sizeof(*f));
	struct credential_enrolment e;
	char err[256], tok[AUTH_TOKEN_LEN], mid[16];
	json_t *host;
	int i;

	log_init("test", LOG_TARGET_STDERR, 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/portal-deadman.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/db", f->dir);
	if (store_open(f->path, &f->store, err, sizeof(err)) != 0) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	/* HOSTS hosts enrolled now, report interval 60 s: unreachable
	 * after 180 s of silence. */
	for (i = 0; i < HOSTS; i++) {
		snprintf(mid, sizeof(mid), "m%d", i);
		host = json_pack("{s:s, s:s}", "hostname", mid, "machine_id",
		    mid);
		if (credential_token_create(f->store, 3600, NULL, tok,
		    sizeof(tok)) != 0 ||
		    credential_enroll(f->store, tok, host, NULL, 60, &e) != 0)
			return -1;
		json_decref(host);
	}
	fake_mono = 1000;
	fake_real = store_now();
	deadman_set_clocks(&clocks);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	deadman_set_clocks(NULL);
	store_close(f->store);
	testutil_rm_tree(f->dir);
	free(f);
	return 0;
}

/* Both clocks advance by d, realtime also jumps by step. */
static int
run_after(struct fixture *f, double d, double step)
{
	fake_mono += d;
	fake_real += d + step;
	return deadman_run(f->store);
}

static void
test_no_step(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(run_after(f, 0, 0), 0);
	assert_int_equal(run_after(f, 170, 0), 0);
	/* NTP-sized drift is no step */
	assert_int_equal(run_after(f, 5, 0.01), 0);
	assert_int_equal(run_after(f, 6, 0), HOSTS);
}

static void
test_forward_step(void **state)
{
	struct fixture *f = *state;
	int n;

	assert_int_equal(run_after(f, 0, 0), 0);
	/* the portal's clock jumps two hours ahead */
	n = run_after(f, 0.5, 7200);
	if (n != 0)
		fail_msg("a forward step of the portal's clock marked %d hosts "
		    "unreachable", n);
	assert_int_equal(run_after(f, 100, 0), 0);
	/* a full grace period after the step, silent hosts are noticed */
	assert_int_equal(run_after(f, 79, 0), 0);
	assert_int_equal(run_after(f, 2, 0), HOSTS);
}

static void
test_backward_step(void **state)
{
	struct fixture *f = *state;
	int n;

	assert_int_equal(run_after(f, 0, 0), 0);
	/* the portal's clock is set back a day: the hosts' stamps are now
	 * in the future, which must not hide their silence for a day */
	assert_int_equal(run_after(f, 0.5, -86400), 0);
	assert_int_equal(run_after(f, 170, 0), 0);
	n = run_after(f, 11, 0);
	if (n != HOSTS)
		fail_msg("%d of %d silent hosts unreachable 181 s after the "
		    "clock was set back", n, HOSTS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_step, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forward_step, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_backward_step, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
