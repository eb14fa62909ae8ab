/*
 * Helpers the unit tests share (see testutil.h). Linked into every unit
 * test; the scratch directories take the program's name so that a test
 * that leaves one behind says which it was.
 */
#include <unistd.h>
#include <sys/wait.h>
#include <signal.h>
#include <poll.h>
#include <fcntl.h>
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "testutil.h"

char *
testutil_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (f == NULL)
		fail_msg("cannot open fixture %s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		fail_msg("short read on %s", path);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

void
testutil_put(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		fail_msg("cannot write %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

void
testutil_put_fixture(const char *dir, const char *name, const char *fixture)
{
	size_t len;
	char *text = testutil_slurp(fixture, &len);

	testutil_put(dir, name, text);
	free(text);
}

static int
testutil_rm_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
testutil_rm_tree(const char *dir)
{
	nftw(dir, testutil_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const struct perf *
testutil_find_perf(const struct result *r, const char *label)
{
	for (size_t i = 0; i < r->nperf; i++)
		if (strcmp(r->perf[i].label, label) == 0)
			return &r->perf[i];
	fail_msg("no perfdata '%s' in result \"%s\"", label, r->summary);
	return NULL;
}

static int
testutil_tree_new(void **state, int with_sys)
{
	struct testutil_tree *t = calloc(1, sizeof(*t));

	snprintf(t->root, sizeof(t->root), "/tmp/%s.XXXXXX",
	    program_invocation_short_name);
	if (mkdtemp(t->root) == NULL)
		fail_msg("mkdtemp: %s", strerror(errno));
	snprintf(t->proc, sizeof(t->proc), "%s/proc", t->root);
	mkdir(t->proc, 0755);
	if (with_sys) {
		snprintf(t->sys, sizeof(t->sys), "%s/sys", t->root);
		mkdir(t->sys, 0755);
	}
	*state = t;
	return 0;
}

int
testutil_tree_setup(void **state)
{
	return testutil_tree_new(state, 0);
}

int
testutil_tree_setup_sys(void **state)
{
	return testutil_tree_new(state, 1);
}

int
testutil_tree_teardown(void **state)
{
	struct testutil_tree *t = *state;

	testutil_rm_tree(t->root);
	free(t);
	return 0;
}

int
testutil_mkdtemp(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/%s.XXXXXX", program_invocation_short_name);
	if (mkdtemp(dir) == NULL) {
		print_error("mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

void
testutil_rm_rf(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		print_error("could not remove %s\n", dir);
}

void
testutil_assert_contains(const char *hay, const char *needle, const char *file,
    int line)
{
	if (hay != NULL && strstr(hay, needle) != NULL)
		return;
	print_error("'%s' not found in '%s'\n", needle,
	    hay != NULL ? hay : "(null)");
	_fail(file, line);
}

pid_t
testutil_dbus_start(const char *dir, char *address, size_t len)
{
	char arg[128], line[256];
	struct pollfd pfd;
	int fds[2];
	ssize_t n = 0;
	pid_t pid;

	snprintf(arg, sizeof(arg), "--address=unix:path=%s/bus", dir);
	if (pipe2(fds, O_CLOEXEC) != 0)
		fail_msg("pipe: %s", strerror(errno));
	if ((pid = fork()) == -1)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		int log;

		/* Its complaints (fd limits in a container) go to a file. */
		snprintf(line, sizeof(line), "%s/dbus-daemon.log", dir);
		log = open(line, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (log >= 0)
			dup2(log, STDERR_FILENO);
		dup2(fds[1], STDOUT_FILENO);
		execlp("dbus-daemon", "dbus-daemon",
		    "--config-file=tests/fixtures/dbus/bus.conf", "--nofork",
		    "--nopidfile", "--print-address", arg, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	pfd = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	if (poll(&pfd, 1, 10000) != 1 ||
	    (n = read(fds[0], line, sizeof(line) - 1)) <= 0)
		fail_msg("dbus-daemon printed no address within 10 s (see "
		    "%s/dbus-daemon.log)", dir);
	close(fds[0]);
	line[n] = '\0';
	line[strcspn(line, "\n")] = '\0';
	snprintf(address, len, "%s", line);
	return pid;
}

void
testutil_dbus_stop(pid_t *pid)
{
	int status;

	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	waitpid(*pid, &status, 0);
	*pid = 0;
}
