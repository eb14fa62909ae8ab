/*
 * target.c + target_file.c: an object appears under its name only at
 * commit (a temporary before), an abort leaves nothing, list shows final
 * names only and sorted, clean removes leftover temporaries, and names
 * that could leave the directory are refused before any backend sees them.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "target.h"

/* Entries in dir other than . and .. */
static int
count_entries(const char *dir, int *tmps)
{
	struct dirent *d;
	DIR	*dp;
	int	 n = 0;

	*tmps = 0;
	assert_non_null(dp = opendir(dir));
	while ((d = readdir(dp)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		n++;
		if (strncmp(d->d_name, ".tmp-", 5) == 0)
			(*tmps)++;
	}
	closedir(dp);
	return n;
}

static void
test_put_get(void **state)
{
	char	 dir[] = "/tmp/test_target.XXXXXX", url[64], buf[16];
	struct target *t;
	struct target_put *p;
	struct target_get *g;
	char	**names;
	size_t	 n;
	int	 tmps;
	ssize_t	 got;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(url, sizeof(url), "file://%s", dir);
	assert_int_equal(target_open(url, &t), 0);

	assert_int_equal(target_put_begin(t, "b.manifest", &p), 0);
	assert_int_equal(target_put_write(p, "hello", 5), 0);
	/* Before the commit: only a temporary. */
	assert_int_equal(count_entries(dir, &tmps), 1);
	assert_int_equal(tmps, 1);
	assert_int_equal(target_get_open(t, "b.manifest", &g), -ENOENT);
	assert_int_equal(target_put_commit(p), 0);
	assert_int_equal(count_entries(dir, &tmps), 1);
	assert_int_equal(tmps, 0);

	assert_int_equal(target_get_open(t, "b.manifest", &g), 0);
	got = target_get_read(g, buf, sizeof(buf));
	assert_int_equal(got, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(target_get_read(g, buf, sizeof(buf)), 0);
	target_get_close(g);

	/* An abort leaves nothing. */
	assert_int_equal(target_put_begin(t, "c.tar.zst", &p), 0);
	assert_int_equal(target_put_write(p, "x", 1), 0);
	target_put_abort(p);
	assert_int_equal(count_entries(dir, &tmps), 1);

	/* Leftovers of a killed run (named as target_file names them):
	 * never listed, cleaned. */
	for (int i = 0; i < 2; i++) {
		FILE	*f;
		char	 path[128];

		snprintf(path, sizeof(path), "%s/.tmp-a.tar.zst-%d-0000abcd",
		    dir, 100 + i);
		assert_non_null(f = fopen(path, "w"));
		fclose(f);
	}
	assert_int_equal(target_list(t, &names, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "b.manifest");
	target_list_free(names, n);
	assert_int_equal(target_clean(t), 2);
	assert_int_equal(count_entries(dir, &tmps), 1);

	assert_int_equal(target_remove(t, "b.manifest"), 0);
	assert_int_equal(target_remove(t, "b.manifest"), -ENOENT);
	target_close(t);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_names(void **state)
{
	static const char *bad[] = { "", ".", "..", "../x", "a/b", ".tmp-x",
	    "a b", "a\nb", "\xff", NULL };
	char	 longname[TARGET_NAME_MAX + 2];
	struct target *t;
	struct target_put *p;
	struct target_get *g;
	size_t	 i;

	(void)state;
	for (i = 0; bad[i] != NULL; i++)
		if (target_name_valid(bad[i]))
			fail_msg("'%s' accepted as a name", bad[i]);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(target_name_valid(longname));
	longname[TARGET_NAME_MAX] = '\0';
	assert_true(target_name_valid(longname));
	assert_true(target_name_valid("20261125T165500Z-1a2b3c4d.tar.zst.enc"));

	assert_int_equal(target_open("/tmp", &t), 0);
	assert_int_equal(target_put_begin(t, "../etc-passwd", &p), -EINVAL);
	assert_int_equal(target_get_open(t, "../etc/passwd", &g), -EINVAL);
	assert_int_equal(target_remove(t, "a/b"), -EINVAL);
	target_close(t);
	assert_int_equal(target_open("ftp://host/x", &t), -EINVAL);
	assert_int_equal(target_open("relative/dir", &t), -EINVAL);
	assert_int_equal(target_open("file:///nonexistent-dir-x", &t), -ENOENT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
