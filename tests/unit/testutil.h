/*
 * Helpers the unit tests share: fixture files, scratch trees under /tmp
 * named after the test program, and perfdata lookup. Every failure here
 * ends the running test with fail_msg, saying which file or label.
 */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <math.h>
#include <stddef.h>
#include <sys/types.h>

#include "result.h"

/* Equal to within a relative 1e-6; fails naming the expression. */
#define assert_near(a, b) do {						\
	double a_ = (a), b_ = (b);					\
	if (fabs(a_ - b_) > 1e-6 * (fabs(b_) + 1))			\
		fail_msg("%s = %.9g, expected %.9g", #a, a_, b_);	\
} while (0)

/* The whole of path, NUL-terminated, its length in *len; caller frees. */
/* Fails at the caller's line unless needle occurs in hay. */
#define assert_contains(hay, needle) \
	testutil_assert_contains((hay), (needle), __FILE__, __LINE__)
void	 testutil_assert_contains(const char *hay, const char *needle,
	    const char *file, int line);

char	*testutil_slurp(const char *path, size_t *len);
/* Writes text to dir/name. */
void	 testutil_put(const char *dir, const char *name, const char *text);
/* Copies the file fixture to dir/name. */
void	 testutil_put_fixture(const char *dir, const char *name,
	    const char *fixture);
/* Removes dir and everything below it; errors are ignored. */
void	 testutil_rm_tree(const char *dir);
/* The perfdata item with this label; fails the test when there is none. */
const struct perf *testutil_find_perf(const struct result *r,
	    const char *label);

/*
 * A scratch /proc (and /sys) for one test, as cmocka setup and teardown:
 * root is /tmp/PROGRAM.XXXXXX, proc and sys are below it; sys stays ""
 * with testutil_tree_setup.
 */
struct testutil_tree {
	char	root[64];
	char	proc[96];
	char	sys[96];
};

int	testutil_tree_setup(void **state);
int	testutil_tree_setup_sys(void **state);
int	testutil_tree_teardown(void **state);

/*
 * Makes the empty directory /tmp/PROGRAM.XXXXXX in dir (len bytes):
 * 0, or -1 after printing why. testutil_rm_rf removes it again.
 */
/*
 * A private dbus-daemon for the collectors that talk D-Bus (units, clock):
 * listens on dir/bus with tests/fixtures/dbus/bus.conf (no activation,
 * anyone may own any name), its address copied into address. Fails the
 * test if it prints no address within 10 s. Stop it with testutil_dbus_stop,
 * which zeroes *pid.
 */
pid_t	testutil_dbus_start(const char *dir, char *address, size_t len);
void	testutil_dbus_stop(pid_t *pid);

int	testutil_mkdtemp(char *dir, size_t len);
void	testutil_rm_rf(const char *dir);

#endif
