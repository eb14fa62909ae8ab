/*
 * Unit tests for the units collector: the reply evaluation without a bus,
 * and the real asynchronous call path against a private dbus-daemon on
 * which this test itself plays org.freedesktop.systemd1 (sd-bus vtable).
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "collector.h"
#include "units.h"
#include "testutil.h"

extern const struct collector collector_units;

#define DBUS_DAEMON	"dbus-daemon"

static void *
new_units(const char *key, ...)
{
	char err[COLLECTOR_ERR_MAX];
	const char *value;
	void *inst = collector_units.new();
	va_list ap;

	va_start(ap, key);
	for (; key != NULL; key = va_arg(ap, const char *)) {
		value = va_arg(ap, const char *);
		if (collector_units.configure(inst, key, value, err,
		    sizeof(err)) != 0)
			fail_msg("configure %s=%s: %s", key, value, err);
	}
	va_end(ap);
	return inst;
}

static const struct units_failed two_failed[] = {
	{ "nginx.service", "A high performance web server", "loaded",
	    "failed", "failed" },
	{ "systemd-fsck@dev-disk-by\\x2duuid-1234.service",
	    "File System Check on /dev/disk/by-uuid/1234", "loaded", "failed",
	    "failed" },
	{ "mnt-backup.mount", "/mnt/backup", "loaded", "failed", "failed" },
};

static void
test_summarise(void **unused)
{
	struct result res = { 0 };
	void *inst = new_units(NULL);

	(void)unused;
	units_summarise(inst, two_failed, 3, &res);
	assert_int_equal(res.state, STATE_WARNING);
	assert_string_equal(res.summary, "3 failed units: nginx.service, "
	    "systemd-fsck@dev-disk-by\\x2duuid-1234.service, mnt-backup.mount");
	assert_contains(res.long_text, "nginx.service: A high performance web "
	    "server (loaded/failed/failed)");
	assert_int_equal(res.nperf, 2);
	assert_string_equal(res.perf[0].label, "failed");
	assert_true(res.perf[0].value == 3);
	assert_string_equal(res.perf[0].warn, "0");
	assert_string_equal(res.perf[0].crit, "");
	result_reset(&res);

	units_summarise(inst, two_failed, 0, &res);
	assert_int_equal(res.state, STATE_OK);
	assert_string_equal(res.summary, "no failed units");
	assert_true(res.perf[0].value == 0);
	result_reset(&res);
	collector_units.free(inst);
}

static void
test_summarise_ignore_and_bounds(void **unused)
{
	struct units_failed many[12];
	char names[12][32];
	struct result res = { 0 };
	void *inst = new_units("ignore", " *.mount , systemd-fsck@*.service,",
	    "failed_critical", "3", NULL);

	(void)unused;
	units_summarise(inst, two_failed, 3, &res);
	assert_int_equal(res.state, STATE_WARNING);
	assert_string_equal(res.summary, "1 failed unit: nginx.service "
	    "(2 ignored)");
	assert_contains(res.long_text, "ignored: mnt-backup.mount");
	assert_true(res.perf[0].value == 1);
	assert_true(res.perf[1].value == 2);
	result_reset(&res);

	/* The summary names 5 units, then counts; critical above 3. */
	for (int i = 0; i < 12; i++) {
		snprintf(names[i], sizeof(names[i]), "job%02d.service", i);
		many[i] = (struct units_failed){ names[i], "hostile\n\x1b[31m",
		    "loaded", "failed", "failed" };
	}
	units_summarise(inst, many, 12, &res);
	assert_int_equal(res.state, STATE_CRITICAL);
	assert_string_equal(res.summary, "12 failed units: job00.service, "
	    "job01.service, job02.service, job03.service, job04.service and "
	    "7 more");
	/* Descriptions come from outside: escaped. */
	assert_contains(res.long_text, "job11.service: hostile\\x0a\\x1b[31m");
	assert_true(strchr(res.summary, '\n') == NULL);
	result_reset(&res);

	/* A unit name with bytes outside ASCII cannot forge text. */
	many[0].name = "evil\n\xff.service";
	units_summarise(inst, many, 1, &res);
	assert_string_equal(res.summary, "1 failed unit: evil??.service");
	result_reset(&res);
	collector_units.free(inst);
}

static void
test_configure(void **unused)
{
	char err[COLLECTOR_ERR_MAX], big[400];
	void *inst = collector_units.new();

	(void)unused;
	assert_int_equal(collector_units.configure(inst, "failed_warning",
	    "9x", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "failed_warning: '9x' is not a range");
	assert_int_equal(collector_units.configure(inst, "failed", "1", err,
	    sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown key 'failed' (known: "
	    "ignore, bus_address, failed_warning/_critical)");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(collector_units.configure(inst, "ignore", big, err,
	    sizeof(err)), -EINVAL);
	assert_contains(err, "ignore: 'aaaa");
	assert_int_equal(collector_units.configure(inst, "ignore", "a,b", err,
	    sizeof(err)), 0);
	collector_units.free(inst);
}

/* Without a bus: UNKNOWN with the reason, and no crash without a loop. */
static void
test_no_bus(void **unused)
{
	struct collector_env env = { .proc = "/proc", .sys = "/sys" };
	struct result res = { 0 };
	sd_event *event = NULL;
	void *inst;

	(void)unused;
	inst = new_units("bus_address", "unix:path=/nonexistent/bus", NULL);
	assert_int_equal(collector_units.start(inst, &env), -EINVAL);
	assert_int_equal(collect_run_sync(&collector_units, inst, NULL, &res),
	    0);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_string_equal(res.summary, "units collector not started: "
	    "no event loop");
	result_reset(&res);
	collector_units.free(inst);

	assert_int_equal(sd_event_new(&event), 0);
	env.event = event;
	inst = new_units("bus_address", "unix:path=/nonexistent/bus", NULL);
	assert_int_equal(collector_units.start(inst, &env), -ENOENT);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(collect_run_sync(&collector_units, inst,
		    event, &res), 0);
		assert_int_equal(res.state, STATE_UNKNOWN);
		assert_string_equal(res.summary, "no system bus: No such file "
		    "or directory");
		result_reset(&res);
	}
	collector_units.free(inst);
	sd_event_unref(event);
}

/* The real system bus, whatever this host has: never a hang or a crash;
 * without one (a container) the reason is said. */
static void
test_system_bus(void **unused)
{
	struct collector_env env = { .proc = "/proc", .sys = "/sys" };
	struct result res = { 0 };
	sd_event *event = NULL;
	void *inst = new_units(NULL);

	(void)unused;
	assert_int_equal(sd_event_new(&event), 0);
	env.event = event;
	collector_units.start(inst, &env);
	assert_int_equal(collect_run_sync(&collector_units, inst, event, &res),
	    0);
	if (getenv("DBUS_SYSTEM_BUS_ADDRESS") == NULL &&
	    access("/run/dbus/system_bus_socket", F_OK) != 0)
		assert_contains(res.summary, "no system bus: ");
	else if (strstr(res.summary, "failed unit") == NULL)
		print_message("system bus here: %s\n", res.summary);
	result_reset(&res);
	collector_units.free(inst);
	sd_event_unref(event);
}

/* ---- a private bus with a fake systemd on it ---- */

struct fake_systemd {
	const struct units_failed	*units;
	size_t				 n;
	const char			*error;		/* reply with it */
	char				 filter[64];	/* states asked */
	int				 calls;
};

static int
fake_list_units(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake_systemd *f = userdata;
	sd_bus_message *reply = NULL;
	char **states = NULL;
	int r;

	f->calls++;
	if ((r = sd_bus_message_read_strv(m, &states)) < 0)
		return r;
	f->filter[0] = '\0';
	for (char **s = states; s != NULL && *s != NULL; s++) {
		strncat(f->filter, *s, sizeof(f->filter) - strlen(f->filter) -
		    2);
		strcat(f->filter, ";");
		free(*s);
	}
	free(states);
	if (f->error != NULL)
		return sd_bus_error_set(error, f->error, "go away");
	if ((r = sd_bus_message_new_method_return(m, &reply)) < 0 ||
	    (r = sd_bus_message_open_container(reply, 'a', "(ssssssouso)")) < 0)
		goto out;
	for (size_t i = 0; i < f->n; i++) {
		const struct units_failed *u = &f->units[i];

		r = sd_bus_message_append(reply, "(ssssssouso)", u->name,
		    u->description, u->load_state, u->active_state,
		    u->sub_state, "", "/org/freedesktop/systemd1/unit/x",
		    (uint32_t)0, "", "/");
		if (r < 0)
			goto out;
	}
	if ((r = sd_bus_message_close_container(reply)) < 0)
		goto out;
	r = sd_bus_send(NULL, reply, NULL);
out:
	sd_bus_message_unref(reply);
	return r;
}

static const sd_bus_vtable fake_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("ListUnitsFiltered", "as", "a(ssssssouso)",
	    fake_list_units, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END,
};

struct private_bus {
	char			 dir[64];
	char			 address[256];
	pid_t			 daemon;
	sd_event		*event;
	sd_bus			*server;
	struct fake_systemd	 fake;
};

static int	teardown_bus(void **);

/* Connects b->server and serves the fake Manager on it. */
static int
connect_fake(struct private_bus *b)
{
	int r;

	if ((r = sd_bus_new(&b->server)) < 0 ||
	    (r = sd_bus_set_address(b->server, b->address)) < 0 ||
	    (r = sd_bus_set_bus_client(b->server, 1)) < 0 ||
	    (r = sd_bus_start(b->server)) < 0 ||
	    (r = sd_bus_request_name(b->server, "org.freedesktop.systemd1",
	    0)) < 0 ||
	    (r = sd_bus_add_object_vtable(b->server, NULL,
	    "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
	    fake_vtable, &b->fake)) < 0 ||
	    (r = sd_bus_attach_event(b->server, b->event, 0)) < 0)
		return r;
	return 0;
}

static int
setup_bus(void **state)
{
	struct private_bus *b = calloc(1, sizeof(*b));
	int r;

	if (system("command -v " DBUS_DAEMON " >/dev/null") != 0) {
		print_message("%s not installed (Debian package dbus-daemon): "
		    "skipping the bus tests\n", DBUS_DAEMON);
		free(b);
		*state = NULL;
		return 0;
	}
	snprintf(b->dir, sizeof(b->dir), "/tmp/test_units.XXXXXX");
	if (mkdtemp(b->dir) == NULL)
		return -1;
	b->daemon = testutil_dbus_start(b->dir, b->address,
	    sizeof(b->address));
	if ((r = sd_event_new(&b->event)) < 0 || (r = connect_fake(b)) < 0) {
		print_error("fake systemd on %s: %s\n", b->address,
		    strerror(-r));
		teardown_bus((void **)&b);
		return -1;
	}
	*state = b;
	return 0;
}

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

static void *
start_on_bus(struct private_bus *b, const char *ignore)
{
	struct collector_env env = {
		.proc = "/proc", .sys = "/sys", .event = b->event,
	};
	void *inst = new_units("bus_address", b->address, "ignore", ignore,
	    NULL);

	assert_int_equal(collector_units.start(inst, &env), 0);
	return inst;
}

static void
test_bus_failed_units(void **state)
{
	struct private_bus *b = *state;
	struct result res = { 0 };
	void *inst;

	if (b == NULL)
		skip();
	b->fake = (struct fake_systemd){ .units = two_failed, .n = 3 };
	inst = start_on_bus(b, "*.mount");
	assert_int_equal(collect_run_sync(&collector_units, inst, b->event,
	    &res), 0);
	assert_int_equal(b->fake.calls, 1);
	assert_string_equal(b->fake.filter, "failed;");
	assert_int_equal(res.state, STATE_WARNING);
	assert_string_equal(res.summary, "2 failed units: nginx.service, "
	    "systemd-fsck@dev-disk-by\\x2duuid-1234.service (1 ignored)");
	assert_true(res.perf[0].value == 2);
	result_reset(&res);

	/* The next run reuses the connection: the units got fixed. */
	b->fake.n = 0;
	assert_int_equal(collect_run_sync(&collector_units, inst, b->event,
	    &res), 0);
	assert_int_equal(b->fake.calls, 2);
	assert_int_equal(res.state, STATE_OK);
	assert_string_equal(res.summary, "no failed units");
	result_reset(&res);
	collector_units.free(inst);
}

static void
test_bus_errors(void **state)
{
	struct private_bus *b = *state;
	struct result res = { 0 };
	void *inst;

	if (b == NULL)
		skip();
	b->fake = (struct fake_systemd){
		.error = "org.freedesktop.DBus.Error.AccessDenied",
	};
	inst = start_on_bus(b, "");
	assert_int_equal(collect_run_sync(&collector_units, inst, b->event,
	    &res), 0);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_string_equal(res.summary, "ListUnitsFiltered: "
	    "org.freedesktop.DBus.Error.AccessDenied: go away");
	result_reset(&res);

	/* No systemd on the bus at all. */
	assert_true(sd_bus_release_name(b->server, "org.freedesktop.systemd1")
	    >= 0);
	assert_int_equal(collect_run_sync(&collector_units, inst, b->event,
	    &res), 0);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_contains(res.summary, "ListUnitsFiltered: "
	    "org.freedesktop.DBus.Error.ServiceUnknown: ");
	result_reset(&res);
	assert_true(sd_bus_request_name(b->server, "org.freedesktop.systemd1",
	    0) >= 0);

	/* The bus goes away: UNKNOWN, then one reconnect attempt at once. */
	testutil_dbus_stop(&b->daemon);
	assert_int_equal(collect_run_sync(&collector_units, inst, b->event,
	    &res), 0);
	assert_int_equal(res.state, STATE_UNKNOWN);
	result_reset(&res);
	assert_int_equal(collect_run_sync(&collector_units, inst, b->event,
	    &res), 0);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_contains(res.summary, "no system bus: ");
	result_reset(&res);

	/* The bus is back, but reconnecting waits for the slow retry: no
	 * attempt on every run. */
	b->daemon = testutil_dbus_start(b->dir, b->address,
	    sizeof(b->address));
	assert_int_equal(collect_run_sync(&collector_units, inst, b->event,
	    &res), 0);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_contains(res.summary, "no system bus: ");
	result_reset(&res);
	collector_units.free(inst);

	/* A new instance (agent restart) connects to the new daemon. */
	b->fake = (struct fake_systemd){ .units = two_failed, .n = 1 };
	b->server = sd_bus_flush_close_unref(b->server);
	assert_int_equal(connect_fake(b), 0);
	inst = start_on_bus(b, "");
	assert_int_equal(collect_run_sync(&collector_units, inst, b->event,
	    &res), 0);
	assert_int_equal(res.state, STATE_WARNING);
	assert_string_equal(res.summary, "1 failed unit: nginx.service");
	result_reset(&res);
	collector_units.free(inst);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_summarise),
		cmocka_unit_test(test_summarise_ignore_and_bounds),
		cmocka_unit_test(test_configure),
		cmocka_unit_test(test_no_bus),
		cmocka_unit_test(test_system_bus),
		cmocka_unit_test_setup_teardown(test_bus_failed_units,
		    setup_bus, teardown_bus),
		cmocka_unit_test_setup_teardown(test_bus_errors, setup_bus,
		    teardown_bus),
	};

	/* A lost reply must fail the test, not hang the suite. */
	alarm(120);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
