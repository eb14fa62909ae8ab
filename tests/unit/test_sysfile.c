/*
 * sysfile.c: bounded reads (whole file, exactly at the limit, one byte
 * over, files that grow the buffer, procfs files of size 0, failures) and
 * the atomic replacement of a state file (content, mode, no temporary left
 * behind, failures that leave the old state alone).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sysfile.h"
#include "testutil.h"

struct tmp {
	char	dir[64];
};

static int
setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	if (testutil_mkdtemp(t->dir, sizeof(t->dir)) != 0) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct tmp *t = *state;

	testutil_rm_rf(t->dir);
	free(t);
	return 0;
}

/* Writes n bytes of a repeating pattern (or text when given) to dir/name. */
static void
put(const struct tmp *t, const char *name, const char *text, size_t n)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	if ((f = fopen(path, "w")) == NULL)
		fail_msg("cannot create %s: %s", path, strerror(errno));
	if (text != NULL)
		fputs(text, f);
	else
		for (size_t i = 0; i < n; i++)
			fputc('a' + (int)(i % 26), f);
	if (fclose(f) != 0)
		fail_msg("cannot write %s: %s", path, strerror(errno));
}

/* The entries of t->dir other than . and .., comma-separated, sorted. */
static void
list_dir(const struct tmp *t, char *out, size_t len)
{
	struct dirent **names;
	int n;

	out[0] = '\0';
	if ((n = scandir(t->dir, &names, NULL, alphasort)) < 0)
		fail_msg("scandir %s: %s", t->dir, strerror(errno));
	for (int i = 0; i < n; i++) {
		size_t used = strlen(out);

		if (strcmp(names[i]->d_name, ".") != 0 &&
		    strcmp(names[i]->d_name, "..") != 0)
			snprintf(out + used, len - used, "%s%s",
			    used > 0 ? "," : "", names[i]->d_name);
		free(names[i]);
	}
	free(names);
}

static void
test_read_whole_file(void **state)
{
	struct tmp *t = *state;
	char *buf = (char *)1;
	size_t len = 99;
	bool trunc = true;

	put(t, "f", "cpu  1 2 3 4\n", 0);
	assert_int_equal(sysfile_read(t->dir, "f", 4096, &buf, &len, &trunc),
	    0);
	assert_string_equal(buf, "cpu  1 2 3 4\n");
	assert_int_equal(len, 13);
	assert_false(trunc);
	free(buf);

	/* An empty file is an empty string, not a failure. */
	put(t, "empty", "", 0);
	assert_int_equal(sysfile_read(t->dir, "empty", 4096, &buf, &len,
	    &trunc), 0);
	assert_string_equal(buf, "");
	assert_int_equal(len, 0);
	assert_false(trunc);
	free(buf);
}

static void
test_read_limit(void **state)
{
	struct tmp *t = *state;
	char *buf;
	size_t len;
	bool trunc;

	/* max - 1 bytes fit exactly: nothing followed. */
	put(t, "f", NULL, 31);
	assert_int_equal(sysfile_read(t->dir, "f", 32, &buf, &len, &trunc),
	    0);
	assert_int_equal(len, 31);
	assert_int_equal(strlen(buf), 31);
	assert_false(trunc);
	free(buf);

	/* One byte more: the first max - 1 are kept, and trunc says so. */
	put(t, "f", NULL, 32);
	assert_int_equal(sysfile_read(t->dir, "f", 32, &buf, &len, &trunc),
	    0);
	assert_int_equal(len, 31);
	assert_int_equal(memcmp(buf, "abcdefghijklmnopqrstuvwxyzabcde", 31),
	    0);
	assert_int_equal(buf[31], '\0');
	assert_true(trunc);
	free(buf);
}

static void
test_read_grows_past_first_buffer(void **state)
{
	struct tmp *t = *state;
	char *buf;
	size_t len;
	bool trunc;

	/* The buffer starts at 4 KiB and doubles; 10000 bytes need two
	 * steps and must come back intact. */
	put(t, "big", NULL, 10000);
	assert_int_equal(sysfile_read(t->dir, "big", 1024 * 1024, &buf, &len,
	    &trunc), 0);
	assert_int_equal(len, 10000);
	assert_false(trunc);
	for (size_t i = 0; i < len; i++)
		if (buf[i] != 'a' + (int)(i % 26))
			fail_msg("byte %zu is '%c', want '%c'", i, buf[i],
			    'a' + (int)(i % 26));
	assert_int_equal(buf[len], '\0');
	free(buf);

	/* A limit that is not a power of two is still the limit. */
	assert_int_equal(sysfile_read(t->dir, "big", 5000, &buf, &len,
	    &trunc), 0);
	assert_int_equal(len, 4999);
	assert_true(trunc);
	free(buf);
}

static void
test_read_procfs(void **state)
{
	char *buf;
	size_t len;
	bool trunc;

	(void)state;
	/* procfs files report size 0: the read goes by EOF, not st_size. */
	assert_int_equal(sysfile_read("/proc", "self/status", 64 * 1024, &buf,
	    &len, &trunc), 0);
	if (len == 0 || strncmp(buf, "Name:", 5) != 0)
		fail_msg("/proc/self/status read as %zu bytes: '%.40s'", len,
		    buf);
	assert_false(trunc);
	free(buf);
}

static void
test_read_failures(void **state)
{
	struct tmp *t = *state;
	char *buf = (char *)1, name[PATH_MAX + 8];
	size_t len = 99;
	bool trunc = true;

	assert_int_equal(sysfile_read(t->dir, "missing", 4096, &buf, &len,
	    &trunc), -ENOENT);
	assert_null(buf);
	assert_int_equal(len, 0);
	assert_false(trunc);

	/* A directory opens but does not read: no buffer is leaked. */
	buf = (char *)1;
	snprintf(name, sizeof(name), "%s/sub", t->dir);
	if (mkdir(name, 0700) != 0)
		fail_msg("mkdir %s: %s", name, strerror(errno));
	assert_int_equal(sysfile_read(t->dir, "sub", 4096, &buf, &len,
	    &trunc), -EISDIR);
	assert_null(buf);

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(sysfile_read(t->dir, name, 4096, &buf, &len,
	    &trunc), -ENAMETOOLONG);
	assert_null(buf);
}

static void
test_read_small(void **state)
{
	struct tmp *t = *state;
	char path[PATH_MAX], buf[16];
	size_t len;

	snprintf(path, sizeof(path), "%s/f", t->dir);
	put(t, "f", "270.10 503.27\n", 0);
	assert_int_equal(sysfile_read_small(path, buf, sizeof(buf), &len), 0);
	assert_string_equal(buf, "270.10 503.27\n");
	assert_int_equal(len, 14);

	/* size - 1 bytes fit. */
	put(t, "f", NULL, 15);
	assert_int_equal(sysfile_read_small(path, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 15);
	assert_string_equal(buf, "abcdefghijklmno");

	/* One more is -EFBIG, with what was read still terminated. */
	put(t, "f", NULL, 16);
	assert_int_equal(sysfile_read_small(path, buf, sizeof(buf), &len),
	    -EFBIG);
	assert_int_equal(len, 15);
	assert_string_equal(buf, "abcdefghijklmno");

	snprintf(path, sizeof(path), "%s/missing", t->dir);
	assert_int_equal(sysfile_read_small(path, buf, sizeof(buf), &len),
	    -ENOENT);
	assert_int_equal(len, 0);
	assert_string_equal(buf, "");

	assert_int_equal(sysfile_read_small(t->dir, buf, sizeof(buf), &len),
	    -EISDIR);
	assert_int_equal(len, 0);
}

static void
test_write_atomic(void **state)
{
	struct tmp *t = *state;
	char path[PATH_MAX], buf[256], names[256];
	struct stat st;
	size_t len;
	mode_t old_umask;

	snprintf(path, sizeof(path), "%s/boot_id", t->dir);
	/* The mode is 0644 whatever the umask. */
	old_umask = umask(077);
	assert_int_equal(sysfile_write_atomic(t->dir, "boot_id",
	    "boot_id=first\nprevious_boot_id=older\n", 0644), 0);
	umask(old_umask);
	assert_int_equal(sysfile_read_small(path, buf, sizeof(buf), &len), 0);
	assert_string_equal(buf, "boot_id=first\nprevious_boot_id=older\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);

	/* Replacing with shorter data leaves nothing of the old file. */
	assert_int_equal(sysfile_write_atomic(t->dir, "boot_id",
	    "boot_id=second\n", 0644), 0);
	assert_int_equal(sysfile_read_small(path, buf, sizeof(buf), &len), 0);
	assert_string_equal(buf, "boot_id=second\n");

	/* Empty data is an empty file. */
	assert_int_equal(sysfile_write_atomic(t->dir, "empty", "", 0600), 0);
	snprintf(path, sizeof(path), "%s/empty", t->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 0);

	/* No temporary file is left behind. */
	list_dir(t, names, sizeof(names));
	assert_string_equal(names, "boot_id,empty");
}

static void
test_write_atomic_failures(void **state)
{
	struct tmp *t = *state;
	char path[PATH_MAX], sub[PATH_MAX], names[256], name[PATH_MAX];

	snprintf(path, sizeof(path), "%s/no/such/dir", t->dir);
	assert_int_equal(sysfile_write_atomic(path, "state", "x\n", 0644),
	    -ENOENT);

	/* rename over a directory fails: the temporary file is removed and
	 * the directory is untouched. */
	snprintf(sub, sizeof(sub), "%s/state", t->dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(sysfile_write_atomic(t->dir, "state", "x\n", 0644),
	    -EISDIR);
	list_dir(t, names, sizeof(names));
	assert_string_equal(names, "state");

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(sysfile_write_atomic(t->dir, name, "x\n", 0644),
	    -ENAMETOOLONG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_whole_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_read_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_read_grows_past_first_buffer, setup, teardown),
		cmocka_unit_test(test_read_procfs),
		cmocka_unit_test_setup_teardown(test_read_failures, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_read_small, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_write_atomic, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_write_atomic_failures,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
