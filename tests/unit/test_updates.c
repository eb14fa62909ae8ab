/*
 * Unit tests for the updates collector: the apt-get and dnf parsers on
 * fixture outputs (apt-get -s dist-upgrade captured on Debian 12, hand-made
 * Ubuntu and dnf lines), and whole runs with stand-in commands (scripts
 * that print the fixtures) and a fixture root for /var/run/reboot-required.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
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
#include <systemd/sd-event.h>

#include "collector.h"
#include "testutil.h"
#include "updates.h"

extern const struct collector collector_updates;

#define FIX	"tests/fixtures/updates"

struct tree {
	char	dir[128];
	char	cwd[512];
	sd_event *event;
};

static void
parse_fixture(const char *name, int (*parse)(const char *, size_t,
    struct updates_count *), struct updates_count *u)
{
	size_t len;
	char *text = testutil_slurp(name, &len);

	assert_int_equal(parse(text, len, u), 0);
	free(text);
}

static void
test_apt_debian12(void **state)
{
	struct updates_count u;

	(void)state;
	parse_fixture(FIX "/apt-debian12.txt", updates_parse_apt, &u);
	/* grep -c '^Inst' and grep -c '^Inst.*-[Ss]ecurity' on the file. */
	if (u.pending != 116 || u.security != 76)
		fail_msg("pending %lu security %lu, expected 116 and 76",
		    u.pending, u.security);
	assert_contains(u.names, "libgcrypt20");
	assert_contains(u.names, "liblzma-dev");
}

static void
test_apt_ubuntu(void **state)
{
	struct updates_count u;

	(void)state;
	parse_fixture(FIX "/apt-ubuntu.txt", updates_parse_apt, &u);
	/* Conf lines do not count; a package named *-security from a
	 * non-security origin is not one. */
	if (u.pending != 6 || u.security != 3)
		fail_msg("pending %lu security %lu, expected 6 and 3",
		    u.pending, u.security);
	assert_string_equal(u.names, "linux-image-6.8.0-51-generic "
	    "libssl3t64 openssl");
}

static void
test_apt_odd(void **state)
{
	static const char odd[] = "Inst\nInst \nInst x\n"
	    "Inst y [1] (2 Debian-Security:12/stable-security [amd64])";
	struct updates_count u;

	(void)state;
	assert_int_equal(updates_parse_apt(odd, sizeof(odd) - 1, &u), 0);
	/* "Inst x" has no origin: pending but not security; the last line
	 * has no newline and still counts. */
	assert_int_equal(u.pending, 2);
	assert_int_equal(u.security, 1);
	assert_int_equal(updates_parse_apt(NULL, 0, &u), 0);
	assert_int_equal(u.pending, 0);
	assert_int_equal(updates_parse_apt(NULL, 5, &u), -EINVAL);
}

static void
test_dnf(void **state)
{
	struct updates_count u;

	(void)state;
	parse_fixture(FIX "/dnf-security.txt", updates_parse_dnf, &u);
	/* openssl-libs has two advisories: one package. */
	if (u.security != 4)
		fail_msg("security %lu, expected 4 distinct packages",
		    u.security);
	assert_int_equal(u.pending, 0);
	assert_contains(u.names, "kernel-core-5.14.0");
}

static int
tree_setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));
	sigset_t ss;

	sigemptyset(&ss);
	sigaddset(&ss, SIGCHLD);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	if (t == NULL || testutil_mkdtemp(t->dir, sizeof(t->dir)) < 0 ||
	    getcwd(t->cwd, sizeof(t->cwd)) == NULL ||
	    sd_event_new(&t->event) < 0)
		return -1;
	*state = t;
	return 0;
}

static int
tree_teardown(void **state)
{
	struct tree *t = *state;

	testutil_rm_rf(t->dir);
	sd_event_unref(t->event);
	free(t);
	return 0;
}

/* An executable script dir/name running body. */
static void
put_script(const struct tree *t, const char *name, const char *body)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
}

static void
mkdirs(const struct tree *t, const char *rel)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/%s'", t->dir, rel);
	assert_int_equal(system(cmd), 0);
}

static void *
new_updates(const struct tree *t, const char *key, ...)
{
	char err[COLLECTOR_ERR_MAX];
	struct collector_env env = { .proc = "/proc", .sys = "/sys",
	    .state_dir = t->dir, .event = t->event };
	void *inst = collector_updates.new();
	const char *value;
	va_list ap;

	if (collector_updates.configure(inst, "root", t->dir, err,
	    sizeof(err)) != 0)
		fail_msg("root: %s", err);
	va_start(ap, key);
	for (; key != NULL; key = va_arg(ap, const char *)) {
		value = va_arg(ap, const char *);
		if (collector_updates.configure(inst, key, value, err,
		    sizeof(err)) != 0)
			fail_msg("configure %s=%s: %s", key, value, err);
	}
	va_end(ap);
	assert_int_equal(collector_updates.start(inst, &env), 0);
	return inst;
}

static void
run(const struct tree *t, void *inst, struct result *res)
{
	memset(res, 0, sizeof(*res));
	collect_run_sync(&collector_updates, inst, t->event, res);
}

static void
set_age(const struct tree *t, const char *rel, double days)
{
	char path[512];
	struct timespec ts[2];

	snprintf(path, sizeof(path), "%s/%s", t->dir, rel);
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - (time_t)(days * 86400);
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* Debian: apt-get prints the captured simulation; a reboot is pending. */
static void
test_run_apt(void **state)
{
	struct tree *t = *state;
	struct result res;
	char body[1024], apt[256];
	void *inst;

	snprintf(body, sizeof(body), "cat '%s/" FIX "/apt-debian12.txt'",
	    t->cwd);
	put_script(t, "apt-get", body);
	mkdirs(t, "var/run");
	mkdirs(t, "var/lib/apt/periodic");
	testutil_put(t->dir, "var/lib/apt/periodic/update-success-stamp", "");
	snprintf(apt, sizeof(apt), "%s/apt-get", t->dir);
	inst = new_updates(t, "apt_get", apt, NULL);

	run(t, inst, &res);
	assert_int_equal(res.state, STATE_WARNING);
	assert_string_equal(res.summary, "76 security updates pending "
	    "(WARNING > 0), 116 updates in all");
	assert_near(testutil_find_perf(&res, "security")->value, 76);
	assert_near(testutil_find_perf(&res, "pending")->value, 116);
	assert_near(testutil_find_perf(&res, "reboot_required")->value, 0);
	assert_contains(res.long_text, "as fresh as the package lists");
	result_reset(&res);

	/* Reboot required, with the packages that asked for it. */
	testutil_put(t->dir, "var/run/reboot-required", "*** System restart "
	    "required ***\n");
	testutil_put(t->dir, "var/run/reboot-required.pkgs",
	    "linux-image-6.1.0-40-amd64\nlibc6\n");
	run(t, inst, &res);
	assert_int_equal(res.state, STATE_WARNING);
	assert_contains(res.summary, ", reboot required");
	assert_contains(res.long_text, "reboot required by: "
	    "linux-image-6.1.0-40-amd64 libc6");
	assert_near(testutil_find_perf(&res, "reboot_required")->value, 1);
	result_reset(&res);
	collector_updates.free(inst);

	/* reboot_state and thresholds take effect; stale lists warn. */
	set_age(t, "var/lib/apt/periodic/update-success-stamp", 10);
	inst = new_updates(t, "apt_get", apt, "reboot_state", "critical",
	    "security_warning", "100", NULL);
	run(t, inst, &res);
	assert_int_equal(res.state, STATE_CRITICAL);
	assert_contains(res.summary, "76 security updates pending, 116 "
	    "updates in all, reboot required, package lists 10 d old");
	result_reset(&res);
	collector_updates.free(inst);
}

/* apt-get failing, and a command in an unsafe place. */
static void
test_run_apt_fails(void **state)
{
	struct tree *t = *state;
	struct result res;
	char apt[256], cmd[512];
	void *inst;

	put_script(t, "apt-get", "echo 'E: Could not open lock' >&2; "
	    "exit 100");
	snprintf(apt, sizeof(apt), "%s/apt-get", t->dir);
	inst = new_updates(t, "apt_get", apt, NULL);
	run(t, inst, &res);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_contains(res.summary, "apt-get exited with 100: E: Could not "
	    "open lock");
	result_reset(&res);

	/* Group-writable: anyone in the group could make agentd run code. */
	snprintf(cmd, sizeof(cmd), "chmod g+w '%s'", apt);
	assert_int_equal(system(cmd), 0);
	run(t, inst, &res);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_contains(res.summary, "refusing to run");
	assert_contains(res.summary, "writable by group or others");
	result_reset(&res);
	collector_updates.free(inst);
}

/* RPM: no apt-get; dnf lists advisories, needs-restarting -r says 1. */
static void
test_run_dnf(void **state)
{
	struct tree *t = *state;
	struct result res;
	char body[1024], dnf[256], nr[256];
	void *inst;

	snprintf(body, sizeof(body), "[ \"$*\" = \"-q --cacheonly updateinfo "
	    "list --security\" ] || exit 9\ncat '%s/" FIX "/dnf-security.txt'",
	    t->cwd);
	put_script(t, "dnf", body);
	put_script(t, "needs-restarting", "[ \"$1\" = -r ] || exit 9\n"
	    "echo 'Reboot is required'; exit 1");
	snprintf(dnf, sizeof(dnf), "%s/dnf", t->dir);
	snprintf(nr, sizeof(nr), "%s/needs-restarting", t->dir);
	inst = new_updates(t, "apt_get", "/nonexistent/apt-get", "dnf", dnf,
	    "needs_restarting", nr, NULL);
	run(t, inst, &res);
	assert_int_equal(res.state, STATE_WARNING);
	assert_string_equal(res.summary, "4 security updates pending "
	    "(WARNING > 0), reboot required");
	assert_near(testutil_find_perf(&res, "reboot_required")->value, 1);
	result_reset(&res);

	put_script(t, "needs-restarting", "exit 0");
	put_script(t, "dnf", "exit 0");
	run(t, inst, &res);
	assert_int_equal(res.state, STATE_OK);
	assert_string_equal(res.summary, "0 security updates pending");
	assert_near(testutil_find_perf(&res, "reboot_required")->value, 0);
	result_reset(&res);
	collector_updates.free(inst);

	inst = new_updates(t, "apt_get", "/nonexistent/apt-get", "dnf",
	    "/nonexistent/dnf", NULL);
	run(t, inst, &res);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_contains(res.summary, "no package manager");
	result_reset(&res);
	collector_updates.free(inst);
}

/* A hung apt-get is killed at the timeout: the run still ends. */
static void
test_run_timeout(void **state)
{
	struct tree *t = *state;
	struct result res;
	char apt[256];
	time_t start;
	void *inst;

	put_script(t, "apt-get", "exec sleep 60");
	snprintf(apt, sizeof(apt), "%s/apt-get", t->dir);
	inst = new_updates(t, "apt_get", apt, "timeout", "1", NULL);
	start = time(NULL);
	run(t, inst, &res);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_contains(res.summary, "apt-get timed out after 1 s");
	if (time(NULL) - start > 10)
		fail_msg("the run took %lld s", (long long)(time(NULL) -
		    start));
	result_reset(&res);
	collector_updates.free(inst);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apt_debian12),
		cmocka_unit_test(test_apt_ubuntu),
		cmocka_unit_test(test_apt_odd),
		cmocka_unit_test(test_dnf),
		cmocka_unit_test_setup_teardown(test_run_apt, tree_setup,
		    tree_teardown),
		cmocka_unit_test_setup_teardown(test_run_apt_fails,
		    tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_run_dnf, tree_setup,
		    tree_teardown),
		cmocka_unit_test_setup_teardown(test_run_timeout, tree_setup,
		    tree_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
