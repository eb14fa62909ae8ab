/*
 * safepath.c: which check commands agentd agrees to run. A good plugin;
 * world-writable, group-writable, foreign-owned, not executable, not a
 * regular file, missing; a writable or foreign directory anywhere above;
 * a symlink to an unsafe target and a symlink in an unsafe directory; a
 * root-owned sticky directory (/tmp) allowed, a foreign sticky one not,
 * nor a foreign symlink in it (its owner could repoint it).
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "safepath.h"
#include "testutil.h"

#define OTHER_UID	65534

static char dir[64];

static void
mk(const char *name, mode_t mode, int isdir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (isdir) {
		if (mkdir(path, 0700) < 0)
			fail_msg("mkdir %s: %s", path, strerror(errno));
	} else
		testutil_put(dir, name, "#!/bin/sh\necho OK\n");
	if (chmod(path, mode) < 0)
		fail_msg("chmod %s: %s", path, strerror(errno));
}

/* Expects rc and, when want is not NULL, that text in the reason. */
static void
expect(const char *name, int rc, const char *want)
{
	char path[PATH_MAX], err[PATH_MAX + 128] = "";
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	r = safepath_check(path, geteuid(), err, sizeof(err));
	if (r != rc)
		fail_msg("%s: got %d (%s), want %d", name, r, err, rc);
	if (want != NULL)
		assert_contains(err, want);
}

static void
test_safepath(void **state)
{
	char path[PATH_MAX], target[PATH_MAX];
	uid_t self = geteuid();

	(void)state;
	if (testutil_mkdtemp(dir, sizeof(dir)) != 0)
		fail_msg("no scratch directory");
	chmod(dir, 0755);
	mk("good", 0755, 0);
	expect("good", 0, NULL);
	mk("open", 0777, 0);
	expect("open", -EPERM, "open is writable by group or others");
	mk("gw", 0775, 0);
	expect("gw", -EPERM, "is writable by group or others");
	mk("data", 0644, 0);
	expect("data", -EACCES, "is not executable");
	mk("sub", 0755, 1);
	expect("sub", -EPERM, "is not a regular file");
	expect("missing", -ENOENT, "No such file or directory");

	/* Directories above. */
	mk("gwdir", 0775, 1);
	mk("gwdir/p", 0755, 0);
	expect("gwdir/p", -EPERM, "directory");
	expect("gwdir/p", -EPERM, "gwdir is writable by group or others");
	mk("sticky", 01777, 1);
	mk("sticky/p", 0755, 0);
	if (self == 0)	/* root's sticky directory, as /tmp */
		expect("sticky/p", 0, NULL);

	/* Symlinks: the target is judged, and the directory of the link. */
	snprintf(path, sizeof(path), "%s/tobad", dir);
	snprintf(target, sizeof(target), "%s/open", dir);
	assert_int_equal(symlink(target, path), 0);
	expect("tobad", -EPERM, "open is writable by group or others");
	snprintf(path, sizeof(path), "%s/togood", dir);
	snprintf(target, sizeof(target), "%s/good", dir);
	assert_int_equal(symlink(target, path), 0);
	expect("togood", 0, NULL);
	snprintf(path, sizeof(path), "%s/gwdir/link", dir);
	assert_int_equal(symlink(target, path), 0);
	expect("gwdir/link", -EPERM, "gwdir is writable by group or others");

	if (self == 0) {
		/* Someone else's file, someone else's directory or sticky
		 * directory: refused. */
		mk("theirs", 0755, 0);
		snprintf(path, sizeof(path), "%s/theirs", dir);
		assert_int_equal(chown(path, OTHER_UID, 0), 0);
		expect("theirs", -EPERM, "owned by uid 65534");
		mk("theirdir", 0755, 1);
		mk("theirdir/p", 0755, 0);
		snprintf(path, sizeof(path), "%s/theirdir", dir);
		assert_int_equal(chown(path, OTHER_UID, 0), 0);
		expect("theirdir/p", -EPERM, "theirdir is owned by uid 65534");
		snprintf(path, sizeof(path), "%s/sticky", dir);
		assert_int_equal(chown(path, OTHER_UID, 0), 0);
		expect("sticky/p", -EPERM, "sticky is owned by uid 65534");
		/* A symlink in root's sticky directory belongs to whoever
		 * made it, who may point it elsewhere after the check. */
		snprintf(path, sizeof(path), "%s/sticky", dir);
		assert_int_equal(chown(path, 0, 0), 0);
		snprintf(path, sizeof(path), "%s/sticky/theirlink", dir);
		snprintf(target, sizeof(target), "%s/good", dir);
		assert_int_equal(symlink(target, path), 0);
		assert_int_equal(lchown(path, OTHER_UID, 0), 0);
		expect("sticky/theirlink", -EPERM,
		    "symlink ");
		expect("sticky/theirlink", -EPERM, "owned by uid 65534");
		/* As a directory on the way. */
		snprintf(path, sizeof(path), "%s/sticky/theirdirlink", dir);
		snprintf(target, sizeof(target), "%s", dir);
		assert_int_equal(symlink(target, path), 0);
		assert_int_equal(lchown(path, OTHER_UID, 0), 0);
		expect("sticky/theirdirlink/good", -EPERM,
		    "owned by uid 65534");
		/* Root's own symlink there is fine. */
		snprintf(path, sizeof(path), "%s/sticky/rootlink", dir);
		snprintf(target, sizeof(target), "%s/good", dir);
		assert_int_equal(symlink(target, path), 0);
		expect("sticky/rootlink", 0, NULL);
		/* agentd's own uid is as good as root. */
		snprintf(path, sizeof(path), "%s/theirs", dir);
		assert_int_equal(safepath_check(path, OTHER_UID, target,
		    sizeof(target)), 0);
	}
	assert_int_equal(safepath_check("relative/p", self, target,
	    sizeof(target)), -EINVAL);
	testutil_rm_tree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_safepath),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
