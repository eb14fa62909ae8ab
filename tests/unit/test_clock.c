/*
 * Unit tests for the clock collector: a table of struct timex readings fed
 * through the adjtimex seam, one run against the real kernel, and the
 * systemd-timedated fallback (adjtimex refused) against a private
 * dbus-daemon on which this test plays org.freedesktop.timedate1.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timex.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "clock.h"
#include "collector.h"
#include "testutil.h"

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
static const struct reading denied_acces = {
	"lsm", -1, EACCES, 0, 0, 0, 0, 0,
};
static const struct reading no_syscall = {
	"enosys", -1, ENOSYS, 0, 0, 0, 0, 0,
};
/* Not a sandbox: no fallback for this one. */
static const struct reading bad_call = {
	"einval", -1, EINVAL, 0, 0, 0, 0, 0,
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

static void
assert_perf(const struct result *res, const char *label, double value,
    const char *uom, const char *warn)
{
	const struct perf *p = testutil_find_perf(res, label);

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

	/* Refused, but no loop to ask timedated on (never started). */
	assert_int_equal(run(&denied, &res, NULL), 0);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_string_equal(res.summary, "cannot read the kernel clock state: "
	    "adjtimex: Operation not permitted; no event loop to ask "
	    "systemd-timedated");
	assert_int_equal(res.nperf, 0);
	result_reset(&res);

	assert_int_equal(run(&bad_call, &res, NULL), 0);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_string_equal(res.summary, "cannot read the kernel clock state: "
	    "adjtimex: Invalid argument");
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
	testutil_find_perf(&res, "maxerror");
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
	assert_string_equal(err, "unknown key 'offset' (known: "
	    "unsynced_state, bus_address, maxerror_warning/_critical, "
	    "esterror_warning/_critical, offset_warning/_critical)");
	assert_int_equal(collector_clock.configure(inst, "esterror_critical",
	    "~:50", err, sizeof(err)), 0);
	collector_clock.free(inst);
}

/* ---- the systemd-timedated fallback ---- */

#define DBUS_DAEMON	"dbus-daemon"
/* test_units' private bus: no activation, anyone owns any name. */
#define TIMEDATE	"org.freedesktop.timedate1"

struct fake_timedated {
	int	synced;
	int	gets;		/* NTPSynchronized reads served */
};

static int
fake_get_synced(sd_bus *bus, const char *path, const char *interface,
    const char *property, sd_bus_message *reply, void *userdata,
    sd_bus_error *error)
{
	struct fake_timedated *f = userdata;

	(void)bus;
	(void)path;
	(void)interface;
	(void)property;
	(void)error;
	f->gets++;
	return sd_bus_message_append(reply, "b", f->synced);
}

static const sd_bus_vtable fake_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("NTPSynchronized", "b", fake_get_synced, 0, 0),
	SD_BUS_VTABLE_END,
};

struct private_bus {
	char			 dir[64];
	char			 address[256];
	pid_t			 daemon;
	sd_event		*event;
	sd_bus			*server;
	struct fake_timedated	 fake;
};

static int
teardown_bus(void **state)
{
	struct private_bus *b = *state;
	char cmd[128];

	if (b == NULL)
		return 0;
	sd_bus_flush_close_unref(b->server);
	testutil_dbus_stop(&b->daemon);
	sd_event_unref(b->event);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->dir);
	if (system(cmd) != 0)
		print_error("could not remove %s\n", b->dir);
	free(b);
	return 0;
}

static int
setup_bus(void **state)
{
	struct private_bus *b = calloc(1, sizeof(*b));
	int r;

	*state = NULL;
	if (b == NULL)
		return -1;
	if (system("command -v " DBUS_DAEMON " >/dev/null") != 0) {
		print_message("%s not installed (Debian package dbus-daemon): "
		    "skipping the bus tests\n", DBUS_DAEMON);
		free(b);
		return 0;
	}
	snprintf(b->dir, sizeof(b->dir), "/tmp/test_clock.XXXXXX");
	if (mkdtemp(b->dir) == NULL) {
		free(b);
		return -1;
	}
	b->daemon = testutil_dbus_start(b->dir, b->address,
	    sizeof(b->address));
	if ((r = sd_event_new(&b->event)) < 0 ||
	    (r = sd_bus_new(&b->server)) < 0 ||
	    (r = sd_bus_set_address(b->server, b->address)) < 0 ||
	    (r = sd_bus_set_bus_client(b->server, 1)) < 0 ||
	    (r = sd_bus_start(b->server)) < 0 ||
	    (r = sd_bus_request_name(b->server, TIMEDATE, 0)) < 0 ||
	    (r = sd_bus_add_object_vtable(b->server, NULL,
	    "/org/freedesktop/timedate1", TIMEDATE, fake_vtable,
	    &b->fake)) < 0 ||
	    (r = sd_bus_attach_event(b->server, b->event, 0)) < 0) {
		print_error("fake timedated on %s: %s\n", b->address,
		    strerror(-r));
		teardown_bus((void **)&b);
		return -1;
	}
	*state = b;
	return 0;
}

/* A started instance reading r through the seam; key, value, ..., NULL. */
static void *
start_clock(sd_event *event, const struct reading *r, const char *key, ...)
{
	struct collector_env env = {
		.proc = "/proc", .sys = "/sys", .event = event,
	};
	char err[COLLECTOR_ERR_MAX];
	const char *value;
	void *inst = collector_clock.new();
	va_list ap;

	va_start(ap, key);
	for (; key != NULL; key = va_arg(ap, const char *)) {
		value = va_arg(ap, const char *);
		if (collector_clock.configure(inst, key, value, err,
		    sizeof(err)) != 0)
			fail_msg("configure %s=%s: %s", key, value, err);
	}
	va_end(ap);
	clock_set_adjtimex(inst, fake_adjtimex);
	current = r;
	assert_int_equal(collector_clock.start(inst, &env), 0);
	return inst;
}

/* One run of a started instance on the loop; adjtimex is asked once. */
static void
collect_on(void *inst, sd_event *event, struct result *res)
{
	int rc;

	calls = 0;
	rc = collect_run_sync(&collector_clock, inst, event, res);
	if (rc != 0)
		fail_msg("%s: collect returned %d (%s): %s", current->name, rc,
		    strerror(-rc), res->summary);
	if (calls != 1)
		fail_msg("%s: adjtimex called %d times", current->name, calls);
}

/* Clients connected to the private bus (unique names), the fake included. */
static int
bus_clients(struct private_bus *b)
{
	char **names = NULL;
	int n = 0;

	assert_int_equal(sd_bus_list_names(b->server, &names, NULL), 0);
	for (char **s = names; s != NULL && *s != NULL; s++) {
		if ((*s)[0] == ':')
			n++;
		free(*s);
	}
	free(names);
	return n;
}

static void
test_timedated(void **state)
{
	struct private_bus *b = *state;
	struct result res = { 0 };
	void *inst;

	if (b == NULL)
		skip();
	b->fake = (struct fake_timedated){ .synced = 1 };
	inst = start_clock(b->event, &denied, "bus_address", b->address,
	    NULL);
	collect_on(inst, b->event, &res);
	assert_int_equal(b->fake.gets, 1);
	assert_int_equal(res.state, STATE_OK);
	assert_string_equal(res.summary, "clock synchronised (from "
	    "systemd-timedated: the service's sandbox hides the kernel's "
	    "error figures)");
	assert_contains(res.long_text, "NTPSynchronized=true");
	assert_contains(res.long_text, "(Operation not permitted)");
	assert_contains(res.long_text, "thresholds cannot apply");
	/* No error figures were read: none may be reported. */
	assert_int_equal(res.nperf, 1);
	assert_perf(&res, "synchronised", 1, "", "");
	assert_int_equal(bus_clients(b), 2);
	result_reset(&res);

	/* The next run reuses the connection: NTP lost its servers. */
	b->fake.synced = 0;
	collect_on(inst, b->event, &res);
	assert_int_equal(b->fake.gets, 2);
	assert_int_equal(res.state, STATE_WARNING);
	assert_string_equal(res.summary, "clock not synchronised (no NTP "
	    "daemon disciplining the kernel clock)");
	assert_contains(res.long_text, "systemd-timedated reports "
	    "NTPSynchronized=false: an NTP daemon (chronyd, ntpd, "
	    "systemd-timesyncd) clears STA_UNSYNC");
	assert_int_equal(res.nperf, 1);
	assert_perf(&res, "synchronised", 0, "", "");
	assert_int_equal(bus_clients(b), 2);
	result_reset(&res);
	collector_clock.free(inst);

	/* unsynced_state applies; EACCES and ENOSYS fall back too. */
	inst = start_clock(b->event, &denied_acces, "bus_address",
	    b->address, "unsynced_state", "critical", NULL);
	collect_on(inst, b->event, &res);
	assert_int_equal(b->fake.gets, 3);
	assert_int_equal(res.state, STATE_CRITICAL);
	assert_string_equal(res.summary, "clock not synchronised (no NTP "
	    "daemon disciplining the kernel clock)");
	result_reset(&res);
	current = &no_syscall;
	b->fake.synced = 1;
	collect_on(inst, b->event, &res);
	assert_int_equal(b->fake.gets, 4);
	assert_int_equal(res.state, STATE_OK);
	assert_contains(res.long_text, "(Function not implemented)");
	result_reset(&res);
	collector_clock.free(inst);
}

/* While adjtimex works the bus is never opened, even if configured. */
static void
test_no_bus_when_adjtimex_works(void **state)
{
	struct private_bus *b = *state;
	struct result res = { 0 };
	void *inst;

	if (b == NULL)
		skip();
	b->fake = (struct fake_timedated){ .synced = 0 };
	inst = start_clock(b->event, &chrony, "bus_address", b->address,
	    NULL);
	for (int i = 0; i < 2; i++) {
		collect_on(inst, b->event, &res);
		assert_int_equal(res.state, STATE_OK);
		assert_string_equal(res.summary, "clock synchronised, max "
		    "error 12 ms, offset -0.002 ms");
		result_reset(&res);
	}
	current = &bad_call;
	collect_on(inst, b->event, &res);
	assert_string_equal(res.summary, "cannot read the kernel clock "
	    "state: adjtimex: Invalid argument");
	result_reset(&res);
	assert_int_equal(b->fake.gets, 0);
	assert_int_equal(bus_clients(b), 1);
	collector_clock.free(inst);
}

static void
test_timedated_failures(void **state)
{
	struct private_bus *b = *state;
	struct result res = { 0 };
	void *inst;

	if (b == NULL)
		skip();
	b->fake = (struct fake_timedated){ .synced = 1 };

	/* No timedated on the bus. */
	assert_true(sd_bus_release_name(b->server, TIMEDATE) >= 0);
	inst = start_clock(b->event, &denied, "bus_address", b->address,
	    NULL);
	collect_on(inst, b->event, &res);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_contains(res.summary, "cannot read the kernel clock state: "
	    "adjtimex: Operation not permitted; systemd-timedated: "
	    "org.freedesktop.DBus.Error.ServiceUnknown: ");
	assert_int_equal(res.nperf, 0);
	result_reset(&res);

	/* Back on the bus: the same connection finds it. */
	assert_true(sd_bus_request_name(b->server, TIMEDATE, 0) >= 0);
	collect_on(inst, b->event, &res);
	assert_int_equal(res.state, STATE_OK);
	assert_int_equal(b->fake.gets, 1);
	result_reset(&res);
	collector_clock.free(inst);

	/* No bus at all, twice (the retry is paced, the answer the same). */
	inst = start_clock(b->event, &denied, "bus_address",
	    "unix:path=/nonexistent/bus", NULL);
	for (int i = 0; i < 2; i++) {
		collect_on(inst, b->event, &res);
		assert_int_equal(res.state, STATE_UNKNOWN);
		assert_string_equal(res.summary, "cannot read the kernel clock "
		    "state: adjtimex: Operation not permitted; no system bus: "
		    "No such file or directory");
		result_reset(&res);
	}
	collector_clock.free(inst);
}

static void
never_done(struct collect_req *req, void *userdata)
{
	(void)req;
	(void)userdata;
	fail_msg("done() ran for a cancelled request");
}

/* A request freed while its call is in flight: the late reply is dropped,
 * and the next run works. */
static void
test_timedated_cancel(void **state)
{
	struct private_bus *b = *state;
	struct collect_req *req;
	struct result res = { 0 };
	void *inst;

	if (b == NULL)
		skip();
	b->fake = (struct fake_timedated){ .synced = 1 };
	inst = start_clock(b->event, &denied, "bus_address", b->address,
	    NULL);
	req = collect_req_new(&collector_clock, inst, never_done, NULL);
	collect_req_start(req);
	collect_req_free(req);
	/* Let the fake answer and the reply arrive. */
	for (int i = 0; i < 50 && b->fake.gets == 0; i++)
		assert_true(sd_event_run(b->event, 100000) >= 0);
	assert_int_equal(b->fake.gets, 1);
	for (int i = 0; i < 5; i++)
		assert_true(sd_event_run(b->event, 20000) >= 0);

	collect_on(inst, b->event, &res);
	assert_int_equal(b->fake.gets, 2);
	assert_int_equal(res.state, STATE_OK);
	result_reset(&res);
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
		cmocka_unit_test_setup_teardown(test_timedated, setup_bus,
		    teardown_bus),
		cmocka_unit_test_setup_teardown(test_no_bus_when_adjtimex_works,
		    setup_bus, teardown_bus),
		cmocka_unit_test_setup_teardown(test_timedated_failures,
		    setup_bus, teardown_bus),
		cmocka_unit_test_setup_teardown(test_timedated_cancel,
		    setup_bus, teardown_bus),
	};

	/* A lost reply must fail the test, not hang the suite. */
	alarm(120);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
