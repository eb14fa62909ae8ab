/* Unit tests for the clock collector: a table of struct timex readings fed
 * through the adjtimex seam, plus one run against the real kernel. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/timex.h>

#include <cmocka.h>

#include "clock.h"
#include "collector.h"

extern const struct collector collector_clock;

struct reading {
	const char	*name;
	int		 rc;		/* adjtimex return, -1: fail with err */
	int		 err;
	int		 status;
	long		 offset, freq, maxerror, esterror;
};

/* This container (no NTP daemon): read with adjtimex here. */
static const struct reading unsynced_here = {
	"unsynced container", TIME_ERROR, 0, STA_UNSYNC, 0, 0, 16000000,
	16000000,
};
/* A chrony-disciplined Debian 12 host (ns resolution). */
static const struct reading chrony = {
	"chrony", TIME_OK, 0, STA_PLL | STA_NANO, -2473, -1150720, 12345, 312,
};
/* systemd-timesyncd at its longest poll: maxerror grew to ~1 s. */
static const struct reading timesyncd = {
	"timesyncd", TIME_OK, 0, STA_PLL | STA_NANO, 180000, 655360, 1024600,
	16000,
};
/* Synchronised long ago, the daemon silent for hours since. */
static const struct reading stale = {
	"stale", TIME_OK, 0, STA_PLL | STA_NANO, 0, 0, 9000000, 16000,
};
/* ntpd in microsecond mode still slewing a 400 ms correction. */
static const struct reading slewing = {
	"slewing", TIME_OK, 0, STA_PLL, -400000, 0, 30000, 2000,
};
/* TIME_ERROR without STA_UNSYNC: PPS discipline lost its signal. */
static const struct reading pps_error = {
	"pps", TIME_ERROR, 0, STA_PLL | STA_PPSTIME | STA_PPSJITTER, 0, 0,
	1000, 10,
};
static const struct reading leap = {
	"leap", TIME_INS, 0, STA_PLL | STA_NANO | STA_INS, 0, 0, 5000, 100,
};
static const struct reading denied = {
	"seccomp", -1, EPERM, 0, 0, 0, 0, 0,
};

static const struct reading *current;
static int calls;

static int
fake_adjtimex(struct timex *tx)
{
	calls++;
	if (tx->modes != 0)
		fail_msg("adjtimex called with modes 0x%x: must only read",
		    tx->modes);
	if (current->rc == -1) {
		errno = current->err;
		return -1;
	}
	tx->status = current->status;
	tx->offset = current->offset;
	tx->freq = current->freq;
	tx->maxerror = current->maxerror;
	tx->esterror = current->esterror;
	return current->rc;
}

#define assert_contains(hay, needle) \
	assert_contains_at((hay), (needle), __FILE__, __LINE__)

static void
assert_contains_at(const char *hay, const char *needle, const char *file,
    int line)
{
	if (hay != NULL && strstr(hay, needle) != NULL)
		return;
	print_error("'%s' not found in '%s'\n", needle,
	    hay != NULL ? hay : "(null)");
	_fail(file, line);
}

static const struct perf *
find_perf(const struct result *res, const char *label)
{
	for (size_t i = 0; i < res->nperf; i++)
		if (strcmp(res->perf[i].label, label) == 0)
			return &res->perf[i];
	print_error("no perfdata '%s' in %zu items\n", label, res->nperf);
	fail();
	return NULL;
}

static void
assert_perf(const struct result *res, const char *label, double value,
    const char *uom, const char *warn)
{
	const struct perf *p = find_perf(res, label);

	if (p->value < value - 1e-6 || p->value > value + 1e-6)
		fail_msg("perf %s = %.9g, expected %.9g", label, p->value,
		    value);
	assert_string_equal(p->uom, uom);
	assert_string_equal(p->warn, warn);
}

/* One run with reading r (NULL: the real kernel); config key, value, ... */
static int
run(const struct reading *r, struct result *res, ...)
{
	char err[COLLECTOR_ERR_MAX];
	const char *key, *value;
	void *inst = collector_clock.new();
	va_list ap;
	int rc;

	va_start(ap, res);
	while ((key = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		if (collector_clock.configure(inst, key, value, err,
		    sizeof(err)) != 0)
			fail_msg("configure %s=%s: %s", key, value, err);
	}
	va_end(ap);
	current = r;
	calls = 0;
	if (r != NULL)
		clock_set_adjtimex(inst, fake_adjtimex);
	rc = collect_run_sync(&collector_clock, inst, NULL, res);
	if (r != NULL && calls != 1)
		fail_msg("%s: adjtimex called %d times", r->name, calls);
	collector_clock.free(inst);
	return rc;
}

static void
test_unsynced(void **unused)
{
	struct result res = { 0 };

	(void)unused;
	assert_int_equal(run(&unsynced_here, &res, NULL), 0);
	assert_int_equal(res.state, STATE_WARNING);
	assert_string_equal(res.summary, "clock not synchronised (no NTP "
	    "daemon disciplining the kernel clock)");
	assert_contains(res.long_text, "kernel status 0x40 (STA_UNSYNC), "
	    "adjtimex returned 5");
	/* 16 s of maxerror is what "unsynchronised" means: no threshold. */
	assert_perf(&res, "maxerror", 16000, "ms", "5000");
	assert_perf(&res, "synchronised", 0, "", "");
	result_reset(&res);

	assert_int_equal(run(&unsynced_here, &res, "unsynced_state",
	    "critical", NULL), 0);
	assert_int_equal(res.state, STATE_CRITICAL);
	result_reset(&res);
	assert_int_equal(run(&unsynced_here, &res, "unsynced_state", "OK",
	    NULL), 0);
	assert_int_equal(res.state, STATE_OK);
	result_reset(&res);

	assert_int_equal(run(&pps_error, &res, NULL), 0);
	assert_int_equal(res.state, STATE_WARNING);
	assert_contains(res.summary, "clock not synchronised");
	assert_contains(res.long_text, "kernel status 0x205, adjtimex "
	    "returned 5");
	result_reset(&res);
}

static void
test_synced(void **unused)
{
	struct result res = { 0 };

	(void)unused;
	assert_int_equal(run(&chrony, &res, NULL), 0);
	assert_int_equal(res.state, STATE_OK);
	assert_string_equal(res.summary, "clock synchronised, max error 12 ms, "
	    "offset -0.002 ms");
	assert_perf(&res, "offset", -0.002473, "ms", "");
	assert_perf(&res, "maxerror", 12.345, "ms", "5000");
	assert_perf(&res, "esterror", 0.312, "ms", "");
	assert_perf(&res, "frequency", -1150720 / 65536.0, "", "");
	assert_perf(&res, "synchronised", 1, "", "");
	assert_contains(res.long_text, "frequency -17.559 ppm");
	result_reset(&res);

	/* A normal timesyncd host is not a warning. */
	assert_int_equal(run(&timesyncd, &res, NULL), 0);
	assert_int_equal(res.state, STATE_OK);
	assert_string_equal(res.summary, "clock synchronised, max error 1025 "
	    "ms, offset +0.180 ms");
	result_reset(&res);
}

static void
test_thresholds(void **unused)
{
	struct result res = { 0 };

	(void)unused;
	assert_int_equal(run(&stale, &res, NULL), 0);
	assert_int_equal(res.state, STATE_WARNING);
	assert_string_equal(res.summary, "clock synchronised, but max error "
	    "9000 ms (WARNING > 5000 ms)");
	result_reset(&res);

	assert_int_equal(run(&stale, &res, "maxerror_critical", "8000",
	    "esterror_warning", "10", NULL), 0);
	assert_int_equal(res.state, STATE_CRITICAL);
	assert_string_equal(res.summary, "clock synchronised, but max error "
	    "9000 ms (CRITICAL > 8000 ms), estimated error 16 ms (WARNING > "
	    "10 ms)");
	result_reset(&res);

	/* Microsecond mode, negative offset: compared by magnitude. */
	assert_int_equal(run(&slewing, &res, "offset_warning", "100",
	    "offset_critical", "500", NULL), 0);
	assert_int_equal(res.state, STATE_WARNING);
	assert_string_equal(res.summary, "clock synchronised, but offset 400 "
	    "ms (WARNING > 100 ms)");
	assert_perf(&res, "offset", -400, "ms", "100");
	result_reset(&res);
}

static void
test_leap_and_failure(void **unused)
{
	struct result res = { 0 };

	(void)unused;
	assert_int_equal(run(&leap, &res, NULL), 0);
	assert_int_equal(res.state, STATE_OK);
	assert_contains(res.long_text, "a leap second will be inserted at "
	    "midnight UTC");
	result_reset(&res);

	assert_int_equal(run(&denied, &res, NULL), 0);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_string_equal(res.summary, "cannot read the kernel clock state: "
	    "adjtimex: Operation not permitted");
	assert_int_equal(res.nperf, 0);
	result_reset(&res);
}

/* The real kernel: whatever this host's NTP state, never UNKNOWN. */
static void
test_real_kernel(void **unused)
{
	struct result res = { 0 };

	(void)unused;
	assert_int_equal(run(NULL, &res, NULL), 0);
	if (res.state != STATE_OK && res.state != STATE_WARNING)
		fail_msg("real adjtimex: state %d: %s", res.state, res.summary);
	assert_contains(res.summary, "clock ");
	find_perf(&res, "maxerror");
	result_reset(&res);
}

static void
test_configure(void **unused)
{
	char err[COLLECTOR_ERR_MAX];
	void *inst = collector_clock.new();

	(void)unused;
	assert_int_equal(collector_clock.configure(inst, "unsynced_state",
	    "panic", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unsynced_state: 'panic' is not one of ok, "
	    "warning, critical, unknown");
	assert_int_equal(collector_clock.configure(inst, "maxerror_warning",
	    "9x", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "maxerror_warning: '9x' is not a range");
	assert_int_equal(collector_clock.configure(inst, "offset", "5", err,
	    sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown key 'offset'");
	assert_int_equal(collector_clock.configure(inst, "esterror_critical",
	    "~:50", err, sizeof(err)), 0);
	collector_clock.free(inst);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unsynced),
		cmocka_unit_test(test_synced),
		cmocka_unit_test(test_thresholds),
		cmocka_unit_test(test_leap_and_failure),
		cmocka_unit_test(test_real_kernel),
		cmocka_unit_test(test_configure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
