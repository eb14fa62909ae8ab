/*
 * restarts collector: the decision on one unit's NRestarts series with
 * injected time, the keys, and whole runs against a private dbus-daemon
 * on which this test plays org.freedesktop.systemd1 (the Manager's
 * ListUnitsByPatterns and each service's NRestarts property).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "collector.h"
#include "restarts.h"
#include "testutil.h"
#include "timeutil.h"

extern const struct collector collector_restarts;

#define MIN		(60 * UINT64_C(1000000))
#define WINDOW		(15 * MIN)

/* Feeds (minute, value) pairs and checks the growth after each. */
static void
feed(struct restarts_series *s, const unsigned (*in)[3], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t got = restarts_observe(s, in[i][0] * MIN, in[i][1],
		    WINDOW);

		if (got != in[i][2])
			fail_msg("minute %u, NRestarts %u: growth %u, want %u",
			    in[i][0], in[i][1], got, in[i][2]);
	}
}

static void
test_observe(void **unused)
{
	/* minute, NRestarts, growth within 15 min */
	static const unsigned loop[][3] = {
		{ 100, 5, 0 },		/* first sight: history is not news */
		{ 101, 5, 0 },
		{ 102, 7, 2 },
		{ 103, 8, 3 },
		{ 116, 8, 3 },		/* window starts at 101: value 5 */
		{ 117, 8, 1 },		/* at 102: 7 */
		{ 118, 8, 0 },		/* at 103: 8 */
		{ 119, 2, 0 },		/* started by hand: from 0 again */
		{ 120, 4, 2 },
	};
	struct restarts_series s = { 0 };
	uint32_t g = 0;

	(void)unused;
	feed(&s, loop, sizeof(loop) / sizeof(loop[0]));
	/* Old points are trimmed: a quiet unit keeps one. */
	assert_int_equal(restarts_observe(&s, 200 * MIN, 4, WINDOW), 0);
	assert_int_equal(s.n, 1);

	/* More changes in the window than points kept: undercounted,
	 * never more than the truth, and still over any sane threshold. */
	memset(&s, 0, sizeof(s));
	for (unsigned i = 0; i <= 100; i++)
		g = restarts_observe(&s, i * UINT64_C(1000000), i, WINDOW);
	assert_int_equal(s.n, RESTARTS_POINTS);
	assert_true(g == RESTARTS_POINTS - 1);
}

static void *
new_restarts(const char *key, ...)
{
	char err[COLLECTOR_ERR_MAX];
	const char *value;
	void *inst = collector_restarts.new();
	va_list ap;

	va_start(ap, key);
	for (; key != NULL; key = va_arg(ap, const char *)) {
		value = va_arg(ap, const char *);
		if (collector_restarts.configure(inst, key, value, err,
		    sizeof(err)) != 0)
			fail_msg("configure %s=%s: %s", key, value, err);
	}
	va_end(ap);
	return inst;
}

static void
test_configure(void **unused)
{
	char err[COLLECTOR_ERR_MAX];
	void *inst = new_restarts(NULL);

	(void)unused;
	assert_int_equal(collector_restarts.configure(inst, "window", "30s",
	    err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "window: '30s' is not a duration from 1m to "
	    "1d");
	assert_int_equal(collector_restarts.configure(inst, "window", "1h",
	    err, sizeof(err)), 0);
	assert_int_equal(collector_restarts.configure(inst, "max_units",
	    "5001", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "max_units: '5001' is not a number from 1 to "
	    "5000");
	assert_int_equal(collector_restarts.configure(inst, "nope", "1", err,
	    sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown key 'nope' (known: window, "
	    "max_units, ignore, bus_address, restarts_warning/_critical)");
	collector_restarts.free(inst);
}

/* ---- a private bus with a fake systemd on it ---- */

struct fake_unit {
	const char	*name;
	const char	*path;
	uint32_t	 nrestarts;
	bool		 loaded;	/* has an object: false = gone */
};

struct fake_systemd {
	struct fake_unit	*units;
	size_t			 n;
	int			 lists;
	char			 patterns[64];
};

static int
fake_list(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct fake_systemd *f = userdata;
	sd_bus_message *reply = NULL;
	char **states = NULL, **patterns = NULL;
	int r;

	(void)error;
	f->lists++;
	if ((r = sd_bus_message_read_strv(m, &states)) < 0 ||
	    (r = sd_bus_message_read_strv(m, &patterns)) < 0)
		goto out;
	f->patterns[0] = '\0';
	for (char **p = patterns; p != NULL && *p != NULL; p++)
		snprintf(f->patterns + strlen(f->patterns),
		    sizeof(f->patterns) - strlen(f->patterns), "%s;", *p);
	if ((r = sd_bus_message_new_method_return(m, &reply)) < 0 ||
	    (r = sd_bus_message_open_container(reply, 'a', "(ssssssouso)")) < 0)
		goto out;
	for (size_t i = 0; i < f->n; i++) {
		r = sd_bus_message_append(reply, "(ssssssouso)",
		    f->units[i].name, "a service", "loaded", "active",
		    "running", "", f->units[i].path, (uint32_t)0, "", "/");
		if (r < 0)
			goto out;
	}
	if ((r = sd_bus_message_close_container(reply)) < 0)
		goto out;
	r = sd_bus_send(NULL, reply, NULL);
out:
	if (states != NULL)
		for (char **p = states; *p != NULL; p++)
			free(*p);
	if (patterns != NULL)
		for (char **p = patterns; *p != NULL; p++)
			free(*p);
	free(states);
	free(patterns);
	sd_bus_message_unref(reply);
	return r;
}

static const sd_bus_vtable manager_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("ListUnitsByPatterns", "asas", "a(ssssssouso)",
	    fake_list, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END,
};

static const sd_bus_vtable service_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("NRestarts", "u", NULL,
	    offsetof(struct fake_unit, nrestarts), 0),
	SD_BUS_VTABLE_END,
};

static struct fake_unit fake_units[] = {
	{ "cron.service", "/org/freedesktop/systemd1/unit/cron_2eservice",
	    0, true },
	{ "php-fpm.service",
	    "/org/freedesktop/systemd1/unit/php_2dfpm_2eservice", 5, true },
	{ "backup-x.service",
	    "/org/freedesktop/systemd1/unit/backup_2dx_2eservice", 1, true },
	{ "gone.service", "/org/freedesktop/systemd1/unit/gone_2eservice", 0,
	    false },
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

static int
setup_bus(void **state)
{
	struct private_bus *b = calloc(1, sizeof(*b));
	int r;

	if (system("command -v dbus-daemon >/dev/null") != 0) {
		print_message("dbus-daemon not installed (Debian package "
		    "dbus-daemon): skipping the bus tests\n");
		free(b);
		*state = NULL;
		return 0;
	}
	snprintf(b->dir, sizeof(b->dir), "/tmp/test_restarts.XXXXXX");
	if (mkdtemp(b->dir) == NULL)
		return -1;
	b->daemon = testutil_dbus_start(b->dir, b->address,
	    sizeof(b->address));
	b->fake = (struct fake_systemd){ .units = fake_units,
	    .n = sizeof(fake_units) / sizeof(fake_units[0]) };
	if ((r = sd_event_new(&b->event)) < 0 ||
	    (r = sd_bus_new(&b->server)) < 0 ||
	    (r = sd_bus_set_address(b->server, b->address)) < 0 ||
	    (r = sd_bus_set_bus_client(b->server, 1)) < 0 ||
	    (r = sd_bus_start(b->server)) < 0 ||
	    (r = sd_bus_request_name(b->server, "org.freedesktop.systemd1",
	    0)) < 0 ||
	    (r = sd_bus_add_object_vtable(b->server, NULL,
	    "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
	    manager_vtable, &b->fake)) < 0 ||
	    (r = sd_bus_attach_event(b->server, b->event, 0)) < 0)
		goto fail;
	for (size_t i = 0; i < b->fake.n; i++)
		if (fake_units[i].loaded && (r = sd_bus_add_object_vtable(
		    b->server, NULL, fake_units[i].path,
		    "org.freedesktop.systemd1.Service", service_vtable,
		    &fake_units[i])) < 0)
			goto fail;
	*state = b;
	return 0;
fail:
	print_error("fake systemd on %s: %s\n", b->address, strerror(-r));
	teardown_bus((void **)&b);
	return -1;
}

static int
teardown_bus(void **state)
{
	struct private_bus *b = *state;

	time_now_hook = NULL;
	if (b == NULL)
		return 0;
	sd_bus_flush_close_unref(b->server);
	testutil_dbus_stop(&b->daemon);
	sd_event_unref(b->event);
	testutil_rm_tree(b->dir);
	free(b);
	return 0;
}

static uint64_t fake_mono;

static uint64_t
fake_now(clockid_t clock)
{
	struct timespec ts;

	if (clock == CLOCK_MONOTONIC)
		return fake_mono;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void
run(struct private_bus *b, void *inst, struct result *res)
{
	result_reset(res);
	assert_int_equal(collect_run_sync(&collector_restarts, inst, b->event,
	    res), 0);
}

static void
expect(const struct result *res, enum check_state s, const char *summary)
{
	if (res->state != s || strcmp(res->summary, summary) != 0)
		fail_msg("got %d '%s', want %d '%s'", res->state, res->summary,
		    s, summary);
}

/* A baseline, a unit restarting three times in a minute (WARNING, named),
 * more (CRITICAL when set), and quiet again once the window has passed.
 * An ignored unit and one gone between the list and its property are not
 * counted. */
static void
test_bus_restart_loop(void **state)
{
	struct private_bus *b = *state;
	struct collector_env env = { .proc = "/proc", .sys = "/sys" };
	struct result res = { 0 };
	void *inst;

	if (b == NULL)
		skip();
	fake_mono = 1000 * MIN;
	time_now_hook = fake_now;
	env.event = b->event;
	inst = new_restarts("bus_address", b->address, "ignore", "backup-*",
	    "restarts_critical", "5", NULL);
	assert_int_equal(collector_restarts.start(inst, &env), 0);

	run(b, inst, &res);
	assert_int_equal(b->fake.lists, 1);
	assert_string_equal(b->fake.patterns, "*.service;");
	expect(&res, STATE_OK, "2 services: counting restarts from now on");
	assert_contains(res.long_text, "1 services not read: "
	    "org.freedesktop.DBus.Error.UnknownObject: ");
	assert_contains(res.long_text, "1 services ignored");

	fake_units[1].nrestarts = 8;
	fake_units[2].nrestarts = 50;	/* ignored */
	fake_mono += MIN;
	run(b, inst, &res);
	expect(&res, STATE_WARNING, "1 unit restarting in the last 15 min: "
	    "php-fpm.service 3 restarts (WARNING > 2)");
	assert_contains(res.long_text, "php-fpm.service: 3 restarts in the "
	    "last 15 min (NRestarts 8)\n");
	assert_true(testutil_find_perf(&res, "max_restarts")->value == 3);
	assert_string_equal(testutil_find_perf(&res, "max_restarts")->warn,
	    "2");

	fake_units[1].nrestarts = 12;
	fake_units[0].nrestarts = 1;
	fake_mono += MIN;
	run(b, inst, &res);
	expect(&res, STATE_CRITICAL, "1 unit restarting in the last 15 min: "
	    "php-fpm.service 7 restarts (CRITICAL > 5)");

	/* Still in the window: held. Then past it: quiet. */
	fake_mono += 10 * MIN;
	run(b, inst, &res);
	assert_int_equal(res.state, STATE_CRITICAL);
	fake_mono += 15 * MIN;
	run(b, inst, &res);
	expect(&res, STATE_OK, "no restart loops in 2 services (most: 0 "
	    "restarts in the last 15 min)");
	result_reset(&res);
	collector_restarts.free(inst);

	/* max_units: the first by name only. */
	inst = new_restarts("bus_address", b->address, "max_units", "1",
	    NULL);
	assert_int_equal(collector_restarts.start(inst, &env), 0);
	run(b, inst, &res);
	expect(&res, STATE_OK, "1 services: counting restarts from now on");
	assert_contains(res.long_text, "3 services not checked (max_units 1)");
	result_reset(&res);
	collector_restarts.free(inst);
	fake_units[0].nrestarts = 0;
	fake_units[1].nrestarts = 5;
	fake_units[2].nrestarts = 1;
	time_now_hook = NULL;
}

/* No systemd on the bus: UNKNOWN with the bus's reason. */
static void
test_bus_no_systemd(void **state)
{
	struct private_bus *b = *state;
	struct collector_env env = { .proc = "/proc", .sys = "/sys" };
	struct result res = { 0 };
	void *inst;

	if (b == NULL)
		skip();
	env.event = b->event;
	assert_true(sd_bus_release_name(b->server, "org.freedesktop.systemd1")
	    >= 0);
	inst = new_restarts("bus_address", b->address, NULL);
	assert_int_equal(collector_restarts.start(inst, &env), 0);
	run(b, inst, &res);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_contains(res.summary, "ListUnitsByPatterns: "
	    "org.freedesktop.DBus.Error.ServiceUnknown: ");
	result_reset(&res);
	collector_restarts.free(inst);

	/* No bus at all. */
	inst = new_restarts("bus_address", "unix:path=/nonexistent/bus",
	    NULL);
	assert_true(collector_restarts.start(inst, &env) < 0);
	run(b, inst, &res);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_contains(res.summary, "no system bus: ");
	result_reset(&res);
	collector_restarts.free(inst);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_observe),
		cmocka_unit_test(test_configure),
		cmocka_unit_test_setup_teardown(test_bus_restart_loop,
		    setup_bus, teardown_bus),
		cmocka_unit_test_setup_teardown(test_bus_no_systemd,
		    setup_bus, teardown_bus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
