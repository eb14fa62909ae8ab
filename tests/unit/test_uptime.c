/* Unit tests for the uptime collector: parsers, and full runs against
 * fixture trees with a temporary state directory for reboot detection. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "collector.h"
#include "uptime.h"
#include "testutil.h"

extern const struct collector collector_uptime;

#define FIX	"tests/fixtures/uptime/"
#define THIS_HOST_BOOT_ID	"42e98d67-df15-41db-b3a5-6d3b560d6b96"
#define OTHER_BOOT_ID		"0c8e2a7b-5f41-4d9e-9a3b-7e6d5c4b3a21"

/* strstr that says what it looked for and in what, when it fails. */
static void
write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		fail_msg("cannot create %s", path);
	fputs(text, f);
	fclose(f);
}

static char *
slurp(const char *dir, const char *name, char *buf, size_t len)
{
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "r")) == NULL) {
		buf[0] = '\0';
		return NULL;
	}
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
remove_tree(char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		print_error("could not remove %s\n", dir);
}

/* Runs the collector once on a fixture; config is key, value, ..., NULL. */
static int
run(const char *fixture, const char *state_dir, struct result *res, ...)
{
	struct collector_env env = {
		.proc = fixture, .sys = "/nonexistent", .state_dir = state_dir,
	};
	char err[COLLECTOR_ERR_MAX];
	const char *key, *value;
	void *inst = collector_uptime.new();
	va_list ap;
	int rc;

	va_start(ap, res);
	while ((key = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		rc = collector_uptime.configure(inst, key, value, err,
		    sizeof(err));
		if (rc != 0)
			fail_msg("configure %s=%s: %s", key, value, err);
	}
	va_end(ap);
	assert_int_equal(collector_uptime.start(inst, &env), 0);
	rc = collect_run_sync(&collector_uptime, inst, NULL, res);
	collector_uptime.free(inst);
	return rc;
}

static void
test_parse_uptime(void **unused)
{
	double up;

	(void)unused;
	assert_int_equal(uptime_parse("439.14 830.25\n", 14, &up), 0);
	assert_true(up > 439.13 && up < 439.15);
	assert_int_equal(uptime_parse("5.00 1.00", 9, &up), 0);
	assert_true(up > 4.99 && up < 5.01);
	/* Garbage, one field only, negative, trailing junk, empty. */
	assert_int_equal(uptime_parse("up 5 days\n", 10, &up), -EINVAL);
	assert_int_equal(uptime_parse("439.14\n", 7, &up), -EINVAL);
	assert_int_equal(uptime_parse("-4.0 1.0\n", 9, &up), -EINVAL);
	assert_int_equal(uptime_parse("4.0 1.0 x\n", 10, &up), -EINVAL);
	assert_int_equal(uptime_parse("4.0 1.0\n\n", 9, &up), -EINVAL);
	assert_int_equal(uptime_parse("", 0, &up), -EINVAL);
	/* Truncated mid-number is still a number, but not without idle. */
	assert_int_equal(uptime_parse("439.1", 5, &up), -EINVAL);
}

static void
test_parse_boot_id(void **unused)
{
	char id[UPTIME_BOOT_ID_LEN + 1];
	const char *good = THIS_HOST_BOOT_ID "\n";

	(void)unused;
	assert_int_equal(uptime_parse_boot_id(good, strlen(good), id), 0);
	assert_string_equal(id, THIS_HOST_BOOT_ID);
	assert_int_equal(uptime_parse_boot_id(good, 20, id), -EINVAL);
	assert_string_equal(id, "");
	assert_int_equal(uptime_parse_boot_id(
	    "42E98D67-DF15-41DB-B3A5-6D3B560D6B96\n", 37, id), -EINVAL);
	assert_int_equal(uptime_parse_boot_id(
	    "42e98d67df1541dbb3a56d3b560d6b96\n", 33, id), -EINVAL);
}

static void
test_parse_saved(void **unused)
{
	struct uptime_saved s;
	const char *one = "boot_id=" THIS_HOST_BOOT_ID "\n";
	const char *two = "boot_id=" THIS_HOST_BOOT_ID "\nprevious_boot_id="
	    OTHER_BOOT_ID "\n";
	const char *bad = "boot_id=" THIS_HOST_BOOT_ID "\nuptime=5\n";

	(void)unused;
	assert_int_equal(uptime_parse_saved(one, strlen(one), &s), 0);
	assert_string_equal(s.boot_id, THIS_HOST_BOOT_ID);
	assert_string_equal(s.previous, "");
	assert_int_equal(uptime_parse_saved(two, strlen(two), &s), 0);
	assert_string_equal(s.previous, OTHER_BOOT_ID);
	assert_int_equal(uptime_parse_saved(bad, strlen(bad), &s), -EINVAL);
	assert_string_equal(s.boot_id, "");
	assert_int_equal(uptime_parse_saved("", 0, &s), -EINVAL);
	assert_int_equal(uptime_parse_saved(one, 30, &s), -EINVAL);
}

static void
test_describe(void **unused)
{
	/* 2026-11-23 10:06:30 UTC */
	time_t now = 1795428390;
	char buf[128];

	(void)unused;
	uptime_describe(buf, sizeof(buf), 270.5, now, true);
	assert_string_equal(buf, "rebooted 4 min ago, at 2026-11-23 10:02 UTC");
	uptime_describe(buf, sizeof(buf), 42, now, true);
	assert_string_equal(buf, "rebooted 42 s ago, at 2026-11-23 10:05 UTC");
	uptime_describe(buf, sizeof(buf), 3 * 3600 + 12 * 60, now, false);
	assert_string_equal(buf, "up 3 h 12 min, since 2026-11-23 06:54 UTC");
	uptime_describe(buf, sizeof(buf), 86400 + 7200, now, false);
	assert_string_equal(buf, "up 1 day 2 h, since 2026-11-22 08:06 UTC");
	uptime_describe(buf, sizeof(buf), 400.0 * 86400, now, false);
	assert_string_equal(buf, "up 400 days 0 h, since 2025-10-19 10:06 UTC");
}

/* A fresh install has nothing to compare with: OK, and the id is saved. */
static void
test_fresh_install(void **unused)
{
	char dir[] = "/tmp/test_uptime.XXXXXX", buf[256];
	struct result res = { 0 };
	struct stat st;

	(void)unused;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(run(FIX "debian12", dir, &res, NULL), 0);
	assert_int_equal(res.state, STATE_OK);
	assert_contains(res.summary, "up 7 min, since ");
	assert_int_equal(res.nperf, 1);
	assert_string_equal(res.perf[0].label, "uptime");
	assert_true(res.perf[0].value == 439);
	assert_string_equal(res.perf[0].uom, "s");
	assert_string_equal(res.perf[0].warn, "");
	assert_non_null(slurp(dir, "boot_id", buf, sizeof(buf)));
	assert_string_equal(buf, "boot_id=" THIS_HOST_BOOT_ID "\n");
	snprintf(buf, sizeof(buf), "%s/boot_id", dir);
	assert_int_equal(stat(buf, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	result_reset(&res);
	remove_tree(dir);
}

/* The boot id changed 7 minutes ago: WARNING, and it stays a warning when
 * the agent restarts inside the window. */
static void
test_reboot_detected(void **unused)
{
	char dir[] = "/tmp/test_uptime.XXXXXX", buf[256];
	struct result res = { 0 };

	(void)unused;
	assert_non_null(mkdtemp(dir));
	write_file(dir, "boot_id", "boot_id=" OTHER_BOOT_ID "\n");
	assert_int_equal(run(FIX "debian12", dir, &res, NULL), 0);
	assert_int_equal(res.state, STATE_WARNING);
	if (strncmp(res.summary, "rebooted 7 min ago, at ", 23) != 0 ||
	    strstr(res.summary, " UTC") == NULL)
		fail_msg("summary: %s", res.summary);
	assert_non_null(res.long_text);
	assert_contains(res.long_text, "previous boot id " OTHER_BOOT_ID);
	assert_non_null(slurp(dir, "boot_id", buf, sizeof(buf)));
	assert_string_equal(buf, "boot_id=" THIS_HOST_BOOT_ID
	    "\nprevious_boot_id=" OTHER_BOOT_ID "\n");
	result_reset(&res);

	/* Agent restart: the saved state still says "rebooted". */
	assert_int_equal(run(FIX "debian12", dir, &res, NULL), 0);
	assert_int_equal(res.state, STATE_WARNING);
	assert_contains(res.summary, "rebooted 7 min ago");
	result_reset(&res);

	/* A narrower window: the same reboot is no longer news. */
	assert_int_equal(run(FIX "debian12", dir, &res, "reboot_warning",
	    "@0:300", NULL), 0);
	assert_int_equal(res.state, STATE_OK);
	assert_contains(res.summary, "up 7 min, since ");
	result_reset(&res);

	/* reboot_critical escalates. */
	assert_int_equal(run(FIX "debian12", dir, &res, "reboot_critical",
	    "@0:600", NULL), 0);
	assert_int_equal(res.state, STATE_CRITICAL);
	result_reset(&res);
	remove_tree(dir);
}

/* A reboot seen long after it happened (agent down for weeks) is OK. */
static void
test_old_reboot_and_uptime_range(void **unused)
{
	char dir[] = "/tmp/test_uptime.XXXXXX";
	struct result res = { 0 };

	(void)unused;
	assert_non_null(mkdtemp(dir));
	write_file(dir, "boot_id", "boot_id=" OTHER_BOOT_ID "\n");
	assert_int_equal(run(FIX "long-uptime", dir, &res, NULL), 0);
	assert_int_equal(res.state, STATE_OK);
	assert_contains(res.summary, "up 41 days 16 h, since ");
	assert_true(res.perf[0].value == 3600030);
	result_reset(&res);

	/* Not rebooted for over 10 days: the uptime range says so. */
	assert_int_equal(run(FIX "long-uptime", dir, &res, "uptime_warning",
	    "~:864000", NULL), 0);
	assert_int_equal(res.state, STATE_WARNING);
	assert_contains(res.summary, "(WARNING: uptime outside ~:864000 s)");
	assert_string_equal(res.perf[0].warn, "~:864000");
	result_reset(&res);
	remove_tree(dir);
}

/* No state directory, or one that cannot be written: still OK, said in
 * the long text; the in-memory id still works within one run. */
static void
test_unwritable_state(void **unused)
{
	struct result res = { 0 };

	(void)unused;
	assert_int_equal(run(FIX "debian12", "/nonexistent/agentd", &res,
	    NULL), 0);
	assert_int_equal(res.state, STATE_OK);
	assert_contains(res.long_text, "cannot save /nonexistent/agentd/"
	    "boot_id: No such file or directory");
	result_reset(&res);

	assert_int_equal(run(FIX "debian12", NULL, &res, NULL), 0);
	assert_int_equal(res.state, STATE_OK);
	result_reset(&res);
}

static void
test_bad_input(void **unused)
{
	struct result res = { 0 };
	char dir[] = "/tmp/test_uptime.XXXXXX", path[64];

	(void)unused;
	assert_int_equal(run(FIX "garbage", NULL, &res, NULL), -EINVAL);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_string_equal(res.summary, "cannot read " FIX "garbage/uptime: "
	    "not in /proc/uptime format");
	result_reset(&res);

	assert_int_equal(run(FIX "missing", NULL, &res, NULL), -ENOENT);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_string_equal(res.summary, "cannot read " FIX "missing/uptime: "
	    "No such file or directory");
	result_reset(&res);

	/* Without a boot id the uptime still counts; no state is written. */
	assert_non_null(mkdtemp(dir));
	assert_int_equal(run(FIX "no-boot-id", dir, &res, NULL), 0);
	assert_int_equal(res.state, STATE_OK);
	assert_contains(res.summary, "up 12 s, since ");
	assert_contains(res.long_text, "reboot detection off: ");
	snprintf(path, sizeof(path), "%s/boot_id", dir);
	assert_int_equal(access(path, F_OK), -1);
	result_reset(&res);

	/* A corrupt state file counts as a fresh install, then is fixed. */
	write_file(dir, "boot_id", "garbage\n");
	assert_int_equal(run(FIX "debian12", dir, &res, NULL), 0);
	assert_int_equal(res.state, STATE_OK);
	result_reset(&res);
	remove_tree(dir);
}

static void
test_configure(void **unused)
{
	char err[COLLECTOR_ERR_MAX];
	void *inst = collector_uptime.new();

	(void)unused;
	assert_int_equal(collector_uptime.configure(inst, "reboot_warning",
	    "@0:1800", err, sizeof(err)), 0);
	assert_int_equal(collector_uptime.configure(inst, "uptime_warning",
	    "9x", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "uptime_warning: '9x' is not a range");
	assert_int_equal(collector_uptime.configure(inst, "uptime_warn",
	    "5", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown key 'uptime_warn' (known: "
	    "uptime_warning/_critical, reboot_warning/_critical)");
	collector_uptime.free(inst);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_uptime),
		cmocka_unit_test(test_parse_boot_id),
		cmocka_unit_test(test_parse_saved),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_fresh_install),
		cmocka_unit_test(test_reboot_detected),
		cmocka_unit_test(test_old_reboot_and_uptime_range),
		cmocka_unit_test(test_unwritable_state),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_configure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
