/*
 * Helpers the unit tests share (see testutil.h). Linked into every unit
 * test; the scratch directories take the program's name so that a test
 * that leaves one behind says which it was.
 */
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
