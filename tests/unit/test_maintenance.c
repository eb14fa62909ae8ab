/*
 * agentd/maintenance.c: a window opens, is reported, survives a restart
 * (the file is 0600), ends early or runs out while agentd was down (and
 * the portal hears "stop"); silences are set, listed and lifted; a
 * damaged or hostile state file is refused whole without a crash.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "maintenance.h"
#include "testutil.h"

struct events {
	int	 starts, stops;
	char	 by[512];
	json_int_t until;
};

static void
on_event(json_t *payload, void *userdata)
{
	struct events *e = userdata;
	const char *ev = json_string_value(json_object_get(payload, "event"));

	if (strcmp(ev, "start") == 0)
		e->starts++;
	else
		e->stops++;
	snprintf(e->by, sizeof(e->by), "%s",
	    json_string_value(json_object_get(payload, "by")));
	e->until = json_integer_value(json_object_get(payload, "until"));
	json_decref(payload);
}

static int
setup(void **state)
{
	char tmpl[] = "/tmp/test_maintenance.XXXXXX";

	assert_non_null(mkdtemp(tmpl));
	*state = strdup(tmpl);
	return 0;
}

static int
teardown(void **state)
{
	testutil_rm_tree(*state);
	free(*state);
	return 0;
}

static void
test_window(void **state)
{
	const char *dir = *state;
	struct events e = { 0 };
	struct maintenance *m;
	char err[256], path[512], longby[400];
	struct stat st;
	json_t *w;
	time_t now = time(NULL);

	m = maintenance_open(NULL, dir, on_event, &e);
	assert_null(maintenance_window(m));
	assert_int_equal(maintenance_stop(m, "me"), -ENOENT);
	assert_int_equal(maintenance_start(m, 0, "", "me", err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(maintenance_start(m, MAINTENANCE_MAX_SECONDS + 1,
	    "", "me", err, sizeof(err)), -EINVAL);
	assert_int_equal(maintenance_start(m, 7200, "kernel upgrade", "root",
	    err, sizeof(err)), 0);
	assert_int_equal(e.starts, 1);
	w = maintenance_window(m);
	assert_non_null(w);
	assert_true(json_integer_value(json_object_get(w, "until")) >=
	    now + 7200);
	assert_string_equal(json_string_value(json_object_get(w, "reason")),
	    "kernel upgrade");
	json_decref(w);
	snprintf(path, sizeof(path), "%s/maintenance", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	maintenance_free(m);

	/* A restart keeps the window, and says nothing new. */
	m = maintenance_open(NULL, dir, on_event, &e);
	w = maintenance_window(m);
	if (w == NULL)
		fail_msg("the window did not survive a restart");
	json_decref(w);
	assert_int_equal(e.starts + e.stops, 1);
	assert_int_equal(maintenance_stop(m, "alice"), 0);
	assert_int_equal(e.stops, 1);
	assert_string_equal(e.by, "alice");
	assert_null(maintenance_window(m));
	maintenance_free(m);
	m = maintenance_open(NULL, dir, on_event, &e);
	assert_null(maintenance_window(m));
	/* "by" is cut to what the portal keeps (256 bytes). */
	memset(longby, 'u', sizeof(longby) - 1);
	longby[sizeof(longby) - 1] = '\0';
	assert_int_equal(maintenance_start(m, 60, "", longby, err,
	    sizeof(err)), 0);
	assert_int_equal(strlen(e.by), 255);
	maintenance_free(m);
}

/* A window that ended while agentd was down is reported stopped once. */
static void
test_expired_while_down(void **state)
{
	const char *dir = *state;
	struct events e = { 0 };
	struct maintenance *m;
	char text[256];
	long long past = (long long)time(NULL) - 10;

	snprintf(text, sizeof(text), "{\"window\": {\"until\": %lld, "
	    "\"started\": %lld, \"reason\": \"r\", \"by\": \"b\"}, "
	    "\"silences\": []}", past, past - 3600);
	testutil_put(dir, "maintenance", text);
	m = maintenance_open(NULL, dir, on_event, &e);
	assert_int_equal(e.stops, 1);
	assert_string_equal(e.by, "expired");
	assert_int_equal(e.until, past);
	assert_null(maintenance_window(m));
	maintenance_free(m);
	m = maintenance_open(NULL, dir, on_event, &e);
	assert_int_equal(e.stops, 1);	/* once */
	maintenance_free(m);
}

static void
test_silence(void **state)
{
	const char *dir = *state;
	struct maintenance *m;
	char err[256];
	json_t *st;
	int64_t until;

	m = maintenance_open(NULL, dir, NULL, NULL);
	assert_int_equal(maintenance_silenced("disk", m), 0);
	assert_int_equal(maintenance_silence(m, "disk", 3600, "root", err,
	    sizeof(err)), 0);
	until = maintenance_silenced("disk", m);
	assert_true(until >= (int64_t)time(NULL) + 3599);
	assert_int_equal(maintenance_silenced("load", m), 0);
	assert_int_equal(maintenance_silence(m, "load", 0, "root", err,
	    sizeof(err)), -ENOENT);
	assert_int_equal(maintenance_silence(m, "load",
	    MAINTENANCE_MAX_SECONDS + 1, "root", err, sizeof(err)), -EINVAL);
	maintenance_free(m);

	m = maintenance_open(NULL, dir, NULL, NULL);
	if (maintenance_silenced("disk", m) != until)
		fail_msg("the silence did not survive a restart");
	st = maintenance_status(m);
	assert_int_equal(json_array_size(json_object_get(st, "silences")), 1);
	assert_true(json_is_null(json_object_get(st, "window")));
	json_decref(st);
	assert_int_equal(maintenance_silence(m, "disk", 0, "root", err,
	    sizeof(err)), 0);
	assert_int_equal(maintenance_silenced("disk", m), 0);
	maintenance_free(m);
}

/* Each of these is refused whole: no window, no silence, no crash. */
static void
test_damaged(void **state)
{
	const char *dir = *state;
	const char *bad[] = {
		"",
		"not json",
		"[]",
		"{\"window\": null}",
		"{\"window\": 5, \"silences\": []}",
		"{\"window\": null, \"silences\": [{\"check\": 5, \"until\": 1, "
		    "\"by\": \"x\"}]}",
		"{\"window\": null, \"silences\": [], \"extra\": 1}",
		"{\"window\": {\"until\": 99999999999, \"started\": 1, "
		    "\"reason\": \"r\"}, \"silences\": []}",
		"{\"window\": null, \"window\": null, \"silences\": []}",
	};
	struct maintenance *m;
	char *deep, *many;
	size_t n = 100000, off = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		testutil_put(dir, "maintenance", bad[i]);
		m = maintenance_open(NULL, dir, NULL, NULL);
		assert_null(maintenance_window(m));
		maintenance_free(m);
	}
	/* 100000 levels of nesting (jansson stops at 2048). */
	deep = malloc(2 * n + 1);
	memset(deep, '[', n);
	memset(deep + n, ']', n);
	deep[2 * n] = '\0';
	testutil_put(dir, "maintenance", deep);
	m = maintenance_open(NULL, dir, NULL, NULL);
	assert_null(maintenance_window(m));
	maintenance_free(m);
	free(deep);
	/* More silences than are allowed. */
	many = malloc(64 * (MAINTENANCE_SILENCES_MAX + 2) + 64);
	off = (size_t)sprintf(many, "{\"window\": null, \"silences\": [");
	for (int i = 0; i <= MAINTENANCE_SILENCES_MAX; i++)
		off += (size_t)sprintf(many + off, "%s{\"check\": \"c%d\", "
		    "\"until\": 9999999999, \"by\": \"x\"}", i ? "," : "", i);
	sprintf(many + off, "]}");
	testutil_put(dir, "maintenance", many);
	m = maintenance_open(NULL, dir, NULL, NULL);
	assert_int_equal(maintenance_silenced("c1", m), 0);
	maintenance_free(m);
	free(many);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expired_while_down, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_silence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
