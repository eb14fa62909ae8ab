/*
 * filesystems collector: mountinfo lines (escapes, optional fields,
 * garbage), the choice of mounts on this host and on a busy server's
 * table, and whole runs with statvfs answered from a table.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "filesystems.h"
#include "testutil.h"

#define FIX	"tests/fixtures/filesystems"

/* What the fake statvfs answers, per mount point. */
struct fake_fs {
	const char	*path;
	unsigned long	 frsize, blocks, bfree, bavail, files, ffree;
	int		 err;
};

static const struct fake_fs server_fs[] = {
	{ "/run", 4096, 200899, 200000, 200000, 1004490, 1003700, 0 },
	{ "/", 4096, 2621440, 1572864, 1441792, 655360, 600000, 0 },
	{ "/dev/shm", 4096, 1004490, 1004490, 1004490, 1004490, 1004489, 0 },
	{ "/run/lock", 4096, 1280, 1280, 1280, 1004490, 1004487, 0 },
	{ "/boot/efi", 512, 1048576, 1000000, 1000000, 0, 0, 0 },
	{ "/var", 4096, 1000000, 70000, 70000, 500000, 400000, 0 },
	{ "/home", 4096, 5000000, 2500000, 2400000, 0, 0, 0 },
	{ "/mnt/backup disk", 4096, 1000000, 0, 0, 65536, 65000, 0 },
	{ "/tmp", 4096, 1004495, 1004000, 1004000, 1004495, 1004400, 0 },
	{ "/srv/db", 4096, 1000000, 500000, 500000, 100000, 3000, 0 },
	{ "/media/usb", 4096, 244190208, 200000000, 200000000, 100000,
	    50000, 0 },
	/* Mounts that must never be asked about are absent: the fake
	 * fails the test if they are. */
	{ NULL, 0, 0, 0, 0, 0, 0, 0 },
};

/* statvfs on this host when its mountinfo fixture was taken. */
static const struct fake_fs this_host_fs[] = {
	{ "/", 4096, 66053021, 61888591, 20919867, 16777216, 16365411, 0 },
	{ "/mnt/sandboxing/model_tools_env/v1/python", 4096, 1, 1, 1,
	    3085512, 3085511, 0 },
	{ "/dev/shm", 4096, 6171024, 6171024, 6171024, 3085512, 3085511, 0 },
	{ NULL, 0, 0, 0, 0, 0, 0, 0 },
};

static const struct fake_fs *fake_table = server_fs;
static const struct fake_fs *fake_override;	/* one entry, or NULL */

static int
fake_statvfs(const char *path, struct statvfs *st)
{
	const struct fake_fs *f = NULL;

	if (fake_override != NULL && strcmp(fake_override->path, path) == 0)
		f = fake_override;
	for (const struct fake_fs *t = fake_table; f == NULL && t->path != NULL;
	    t++)
		if (strcmp(t->path, path) == 0)
			f = t;
	if (f == NULL) {
		fail_msg("statvfs asked about %s, which should be skipped",
		    path);
		errno = EINVAL;
		return -1;
	}
	if (f->err != 0) {
		errno = f->err;
		return -1;
	}
	memset(st, 0, sizeof(*st));
	st->f_bsize = st->f_frsize = f->frsize;
	st->f_blocks = f->blocks;
	st->f_bfree = f->bfree;
	st->f_bavail = f->bavail;
	st->f_files = f->files;
	st->f_ffree = st->f_favail = f->ffree;
	return 0;
}

static void
test_parse_line(void **state)
{
	struct fs_mount m;

	(void)state;
	/* The example in proc(5), with an optional field. */
	assert_int_equal(filesystems_parse_mountinfo_line("36 35 98:0 /mnt1 "
	    "/mnt/parent rw,noatime master:1 - ext3 /dev/root "
	    "rw,errors=continue", &m), 0);
	assert_int_equal(m.major, 98);
	assert_int_equal(m.minor, 0);
	assert_string_equal(m.root, "/mnt1");
	assert_string_equal(m.mountpoint, "/mnt/parent");
	assert_string_equal(m.fstype, "ext3");
	assert_string_equal(m.source, "/dev/root");
	filesystems_mount_clear(&m);

	/* No optional fields; escapes for space, tab, newline, backslash. */
	assert_int_equal(filesystems_parse_mountinfo_line("47 26 8:49 / "
	    "/mnt/a\\040b\\011c\\012d\\134e rw - ext4 /dev/my\\040disk rw",
	    &m), 0);
	assert_string_equal(m.mountpoint, "/mnt/a b\tc\nd\\e");
	assert_string_equal(m.source, "/dev/my disk");
	filesystems_mount_clear(&m);

	/* Several optional fields, big device numbers. */
	assert_int_equal(filesystems_parse_mountinfo_line("100 26 259:65536 "
	    "/ /data rw shared:1 master:2 propagate_from:3 - xfs "
	    "/dev/nvme0n1p1 rw", &m), 0);
	assert_int_equal(m.major, 259);
	assert_int_equal(m.minor, 65536);
	filesystems_mount_clear(&m);
}

static void
test_parse_line_garbage(void **state)
{
	static const char *const bad[] = {
		"",
		"this is not a mount table",
		("36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 ext3 "
		    "/dev/root rw"),				/* no "-" */
		"36 35 98:0 /mnt1 /mnt/parent rw - ext3 /dev/root",
		"36 35 98:0 /mnt1 /mnt/parent rw - ext3 /dev/root rw extra",
		"x 35 98:0 / /mnt rw - ext3 /dev/root rw",
		"36 35 98 / /mnt rw - ext3 /dev/root rw",	/* no minor */
		"36 35 98:x / /mnt rw - ext3 /dev/root rw",
		"36 35 98:99999999999 / /mnt rw - ext3 /dev/root rw",
		"36 35 98:0 / mnt rw - ext3 /dev/root rw",	/* relative */
		"36 35 98:0 / /mnt\\04 rw - ext3 /dev/root rw",	/* 2 */
		"36 35 98:0 / /mnt\\400 rw - ext3 /dev/root rw", /* >ff */
		"36 35 98:0 / /mnt\\000 rw - ext3 /dev/root rw",	/* 0 */
		"36 35 98:0 / /mnt\\ rw - ext3 /dev/root rw",
		"36 35 98:0 / - rw - ext3 /dev/root rw",
		"1 2 3:4 / /a b c d e f g h i j k l m n o p - x y z",
	};
	struct fs_mount m;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = filesystems_parse_mountinfo_line(bad[i], &m);

		if (r != -EINVAL)
			fail_msg("line %zu \"%s\": got %d, expected -EINVAL",
			    i, bad[i], r);
		assert_null(m.mountpoint);
	}
}

static void
assert_mounts(const struct fs_selection *sel, const char *const *want,
    size_t n)
{
	for (size_t i = 0; i < sel->n && i < n; i++)
		if (strcmp(sel->mounts[i].mountpoint, want[i]) != 0)
			fail_msg("mount %zu is \"%s\", expected \"%s\"", i,
			    sel->mounts[i].mountpoint, want[i]);
	if (sel->n != n)
		fail_msg("%zu mounts chosen, expected %zu", sel->n, n);
}

static void
test_select_server(void **state)
{
	static const char *const want[] = { "/run", "/", "/dev/shm",
	    "/run/lock", "/boot/efi", "/var", "/home", "/mnt/backup disk",
	    "/tmp", "/srv/db", "/media/usb" };
	static const char *const want_excl[] = { "/run", "/", "/dev/shm",
	    "/run/lock", "/boot/efi", "/home", "/tmp" };
	char *exclude[] = { "/mnt/*", "xfs", "fuseblk" };
	struct fs_selection sel;
	size_t len;
	char *buf = testutil_slurp(FIX "/server/proc/self/mountinfo", &len);

	(void)state;
	assert_int_equal(filesystems_select(buf, len, NULL, 0, &sel), 0);
	assert_mounts(&sel, want, sizeof(want) / sizeof(want[0]));
	/* 15 pseudo, 2 snaps, nfs4, 2 FUSE, overlay, iso9660, ramfs */
	assert_int_equal(sel.skipped_type, 23);
	/* /run/user/1000, a container's shm */
	assert_int_equal(sel.skipped_path, 2);
	/* /srv/data (btrfs subvolume), /srv/www (bind mount of /var) */
	assert_int_equal(sel.duplicates, 2);
	assert_int_equal(sel.excluded, 0);
	assert_int_equal(sel.bad_lines, 0);
	/* The btrfs device is represented by its first subvolume. */
	assert_string_equal(sel.mounts[6].root, "/@home");
	filesystems_selection_free(&sel);

	/* Excluding /var's filesystem does not bring in its bind mount. */
	assert_int_equal(filesystems_select(buf, len, exclude, 3, &sel), 0);
	assert_mounts(&sel, want_excl,
	    sizeof(want_excl) / sizeof(want_excl[0]));
	assert_int_equal(sel.excluded, 4);
	filesystems_selection_free(&sel);
	free(buf);
}

/* Under the packaged unit's PrivateDevices=, /dev is a private tmpfs of
 * agentd's own: not a host filesystem. /dev/shm still is one. */
static void
test_select_private_dev(void **state)
{
	static const char mountinfo[] =
	    "22 1 0:20 / /dev ro,nosuid - tmpfs tmpfs ro,size=4k,mode=755\n"
	    "23 22 0:21 / /dev/shm rw,nosuid,nodev - tmpfs tmpfs rw\n";
	static const char *const want[] = { "/dev/shm" };
	struct fs_selection sel;

	(void)state;
	assert_int_equal(filesystems_select(mountinfo, sizeof(mountinfo) - 1,
	    NULL, 0, &sel), 0);
	assert_mounts(&sel, want, 1);
	assert_int_equal(sel.skipped_path, 1);
	filesystems_selection_free(&sel);
}

static void
test_select_this_host(void **state)
{
	static const char *const want[] = { "/",
	    "/mnt/sandboxing/model_tools_env/v1/python", "/dev/shm" };
	struct fs_selection sel;
	size_t len;
	char *buf = testutil_slurp(FIX "/real/proc/self/mountinfo", &len);

	(void)state;
	assert_int_equal(filesystems_select(buf, len, NULL, 0, &sel), 0);
	assert_mounts(&sel, want, sizeof(want) / sizeof(want[0]));
	/* /dev/shm is mounted twice; the upper one (0:27) is what
	 * statvfs sees. */
	assert_int_equal(sel.mounts[2].minor, 27);
	assert_int_equal(sel.duplicates, 1);
	/* /sys/fs/cgroup is a tmpfs, but below /sys. */
	assert_int_equal(sel.skipped_path, 1);
	filesystems_selection_free(&sel);
	free(buf);
}

static void
test_select_garbage(void **state)
{
	struct fs_selection sel;
	size_t len, cut;
	char *buf = testutil_slurp(FIX "/garbage-mountinfo", &len);

	(void)state;
	assert_int_equal(filesystems_select(buf, len, NULL, 0, &sel), -EINVAL);
	assert_int_equal(sel.n, 0);
	free(buf);

	/* Cut short: only complete lines count; a garbled line is
	 * counted and skipped. */
	buf = testutil_slurp(FIX "/server/proc/self/mountinfo", &len);
	cut = (size_t)(strstr(buf, "29 25 0:25") - buf) + 10;
	memcpy(buf + 3, "xx", 2);	/* line 1: "21 xx 0:20 ..." */
	assert_int_equal(filesystems_select(buf, cut, NULL, 0, &sel), 0);
	assert_int_equal(sel.bad_lines, 1);
	assert_int_equal(sel.n, 3);	/* /run, /, /dev/shm */
	filesystems_selection_free(&sel);
	free(buf);
}

static void
test_configure(void **state)
{
	struct filesystems *fs = collector_filesystems.new();
	char err[COLLECTOR_ERR_MAX] = "", many[1024] = "", longpat[400];

	(void)state;
	assert_int_equal(collector_filesystems.configure(fs, "used_warning",
	    "9x", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "used_warning: '9x' is not a range");
	assert_int_equal(collector_filesystems.configure(fs, "inodes_critical",
	    "@", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "inodes_critical: '@' is not a range");
	assert_int_equal(collector_filesystems.configure(fs, "mounts", "/",
	    err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown key 'mounts'"));

	assert_int_equal(collector_filesystems.configure(fs, "exclude",
	    " /mnt/* , zfs,,nfs*  ", err, sizeof(err)), 0);
	assert_int_equal(fs->nexclude, 3);
	assert_string_equal(fs->exclude[0], "/mnt/*");
	assert_string_equal(fs->exclude[1], "zfs");
	assert_string_equal(fs->exclude[2], "nfs*");
	/* A second exclude replaces the first. */
	assert_int_equal(collector_filesystems.configure(fs, "exclude", "",
	    err, sizeof(err)), 0);
	assert_int_equal(fs->nexclude, 0);

	for (int i = 0; i < 65; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
		    "/m%d,", i);
	assert_int_equal(collector_filesystems.configure(fs, "exclude", many,
	    err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "exclude: more than 64 patterns");
	assert_int_equal(fs->nexclude, 0);
	memset(longpat, 'a', sizeof(longpat) - 1);
	longpat[sizeof(longpat) - 1] = '\0';
	assert_int_equal(collector_filesystems.configure(fs, "exclude",
	    longpat, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is longer than 255 bytes"));
	collector_filesystems.free(fs);
}

static struct filesystems *
new_fake(const char *proc)
{
	struct filesystems *fs = collector_filesystems.new();
	struct collector_env env = { .proc = proc, .sys = "/nonexistent" };

	fs->statvfs_fn = fake_statvfs;
	assert_int_equal(collector_filesystems.start(fs, &env), 0);
	return fs;
}

static void
test_collect_server(void **state)
{
	struct filesystems *fs = new_fake(FIX "/server/proc");
	struct result res = { 0 };
	const struct perf *p;

	(void)state;
	fake_table = server_fs;
	assert_int_equal(collect_run_sync(&collector_filesystems, fs, NULL,
	    &res), 0);
	assert_int_equal(res.state, STATE_CRITICAL);
	assert_string_equal(res.summary, "/mnt/backup disk 100.0% used "
	    "(CRITICAL > 95%), /srv/db inodes 97.0% used (CRITICAL > 95%), "
	    "/var 93.0% used (WARNING > 90%); 11 filesystems");

	/* / : 1048576 used, 1441792 available to users. */
	p = testutil_find_perf(&res, "/:used");
	assert_near(p->value, 100.0 * 1048576 / (1048576 + 1441792));
	assert_string_equal(p->uom, "%");
	assert_string_equal(p->warn, "90");
	assert_string_equal(p->crit, "95");
	p = testutil_find_perf(&res, "/:used_bytes");
	assert_near(p->value, 1048576.0 * 4096);
	assert_string_equal(p->uom, "B");
	assert_near(p->max, 2621440.0 * 4096);
	p = testutil_find_perf(&res, "/:inodes");
	assert_near(p->value, 100.0 * 55360 / 655360);
	assert_string_equal(p->warn, "90");
	/* vfat with 512-byte blocks and no inode table. */
	assert_near(testutil_find_perf(&res, "/boot/efi:used")->value,
	    100.0 * 48576 / 1048576);
	assert_near(testutil_find_perf(&res, "/boot/efi:used_bytes")->value,
	    48576.0 * 512);
	for (size_t i = 0; i < res.nperf; i++)
		if (strcmp(res.perf[i].label, "/boot/efi:inodes") == 0 ||
		    strcmp(res.perf[i].label, "/home:inodes") == 0)
			fail_msg("%s reported without an inode table",
			    res.perf[i].label);
	assert_near(testutil_find_perf(&res, "/mnt/backup disk:used")->value,
	    100);
	assert_near(testutil_find_perf(&res, "/srv/db:inodes")->value, 97);
	/* 11 mounts, 3 metrics each but for vfat and btrfs. */
	assert_int_equal(res.nperf, 31);

	assert_non_null(res.long_text);
	assert_non_null(strstr(res.long_text, "/var: 93.0% used (3.5 GiB of "
	    "3.8 GiB), inodes 20.0% used, xfs on /dev/sdb1\n"));
	assert_non_null(strstr(res.long_text, "/home: 51.0% used (9.5 GiB of "
	    "19.1 GiB), btrfs on /dev/sdc\n"));
	assert_non_null(strstr(res.long_text, "\nnot checked: 23 pseudo, "
	    "network or image, 2 of containers or sessions, 0 excluded, "
	    "2 duplicate"));
	result_reset(&res);
	collector_filesystems.free(fs);
}

static void
test_collect_this_host(void **state)
{
	struct filesystems *fs = new_fake(FIX "/real/proc");
	struct result res = { 0 };
	const struct perf *p;

	(void)state;
	fake_table = this_host_fs;
	assert_int_equal(collect_run_sync(&collector_filesystems, fs, NULL,
	    &res), 0);
	fake_table = server_fs;
	assert_int_equal(res.state, STATE_OK);
	/* df says 17%: it rounds up. */
	assert_string_equal(res.summary, "3 filesystems, fullest / 16.6% "
	    "used");
	p = testutil_find_perf(&res, "/:used");
	assert_near(p->value, 100.0 * 4164430 / (4164430 + 20919867));
	p = testutil_find_perf(&res, "/:inodes");
	assert_near(p->value, 100.0 * 411805 / 16777216);
	assert_near(testutil_find_perf(&res, "/dev/shm:used")->value, 0);
	assert_int_equal(res.nperf, 9);
	assert_string_equal(res.long_text, "/: 16.6% used (15.9 GiB of 252.0 "
	    "GiB), inodes 2.5% used, ext4 on /dev/vda\n"
	    "/mnt/sandboxing/model_tools_env/v1/python: 0.0% used (0 B of "
	    "4.0 KiB), inodes 0.0% used, tmpfs on model_tools_unavailable\n"
	    "/dev/shm: 0.0% used (0 B of 23.5 GiB), inodes 0.0% used, tmpfs "
	    "on tmpfs\n"
	    "not checked: 15 pseudo, network or image, 1 of containers or "
	    "sessions, 0 excluded, 1 duplicate");
	result_reset(&res);
	collector_filesystems.free(fs);
}

static void
test_collect_thresholds_and_exclude(void **state)
{
	struct filesystems *fs = new_fake(FIX "/server/proc");
	struct result res = { 0 };
	char err[COLLECTOR_ERR_MAX];

	(void)state;
	fake_table = server_fs;
	assert_int_equal(collector_filesystems.configure(fs, "exclude",
	    "/mnt/*,/srv/db", err, sizeof(err)), 0);
	assert_int_equal(collector_filesystems.configure(fs, "used_warning",
	    "95", err, sizeof(err)), 0);
	assert_int_equal(collector_filesystems.configure(fs, "used_critical",
	    "", err, sizeof(err)), 0);
	assert_int_equal(collect_run_sync(&collector_filesystems, fs, NULL,
	    &res), 0);
	assert_int_equal(res.state, STATE_OK);
	assert_string_equal(res.summary, "9 filesystems, fullest /var 93.0% "
	    "used");
	assert_string_equal(testutil_find_perf(&res, "/var:used")->crit, "");
	result_reset(&res);
	collector_filesystems.free(fs);
}

/* Hysteresis per mount: /var raised WARNING at 93 % stays WARNING at
 * 89 % (within used_clear = 2 of 90), clears at 87 %; with the margin
 * set to 0 it clears at once. */
static void
test_collect_hysteresis(void **state)
{
	static const struct fake_fs var89 = { "/var", 4096, 1000000, 110000,
	    110000, 500000, 400000, 0 };
	static const struct fake_fs var87 = { "/var", 4096, 1000000, 130000,
	    130000, 500000, 400000, 0 };
	struct filesystems *fs = new_fake(FIX "/server/proc");
	struct result res = { 0 };
	char err[COLLECTOR_ERR_MAX];

	(void)state;
	fake_table = server_fs;
	assert_int_equal(collector_filesystems.configure(fs, "exclude",
	    "/mnt/*,/srv/db", err, sizeof(err)), 0);
	assert_int_equal(collect_run_sync(&collector_filesystems, fs, NULL,
	    &res), 0);
	assert_string_equal(res.summary, "/var 93.0% used (WARNING > 90%); "
	    "9 filesystems");
	result_reset(&res);

	fake_override = &var89;
	assert_int_equal(collect_run_sync(&collector_filesystems, fs, NULL,
	    &res), 0);
	assert_int_equal(res.state, STATE_WARNING);
	assert_string_equal(res.summary, "/var 89.0% used (WARNING > 90%, "
	    "clears < 88%); 9 filesystems");
	result_reset(&res);

	fake_override = &var87;
	assert_int_equal(collect_run_sync(&collector_filesystems, fs, NULL,
	    &res), 0);
	assert_int_equal(res.state, STATE_OK);
	result_reset(&res);
	/* Rising again to 89 % from below is not an alert. */
	fake_override = &var89;
	assert_int_equal(collect_run_sync(&collector_filesystems, fs, NULL,
	    &res), 0);
	assert_int_equal(res.state, STATE_OK);
	result_reset(&res);

	/* No margin: 93 % warns, 89 % is OK at once. */
	assert_int_equal(collector_filesystems.configure(fs, "used_clear",
	    "0", err, sizeof(err)), 0);
	fake_override = NULL;
	assert_int_equal(collect_run_sync(&collector_filesystems, fs, NULL,
	    &res), 0);
	assert_int_equal(res.state, STATE_WARNING);
	result_reset(&res);
	fake_override = &var89;
	assert_int_equal(collect_run_sync(&collector_filesystems, fs, NULL,
	    &res), 0);
	assert_int_equal(res.state, STATE_OK);
	result_reset(&res);
	fake_override = NULL;
	collector_filesystems.free(fs);
}

static void
test_collect_statvfs_failures(void **state)
{
	static const struct fake_fs denied = { "/tmp", 0, 0, 0, 0, 0, 0,
	    EACCES };
	static const struct fake_fs gone = { "/media/usb", 0, 0, 0, 0, 0, 0,
	    ENOENT };
	static const struct fake_fs empty = { "/run/lock", 4096, 0, 0, 0, 0,
	    0, 0 };
	struct filesystems *fs = new_fake(FIX "/server/proc");
	struct result res = { 0 };
	char err[COLLECTOR_ERR_MAX];

	(void)state;
	fake_table = server_fs;
	assert_int_equal(collector_filesystems.configure(fs, "exclude",
	    "/mnt/*,/srv/*,/var", err, sizeof(err)), 0);
	/* Permission denied: the mount is UNKNOWN, named first. */
	fake_override = &denied;
	assert_int_equal(collect_run_sync(&collector_filesystems, fs, NULL,
	    &res), 0);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_string_equal(res.summary, "/tmp: statvfs: Permission denied "
	    "(UNKNOWN); 8 filesystems");
	assert_non_null(strstr(res.long_text, "/tmp: statvfs: Permission "
	    "denied\n"));
	result_reset(&res);

	/* Unmounted since mountinfo was read: not reported at all. */
	fake_override = &gone;
	assert_int_equal(collect_run_sync(&collector_filesystems, fs, NULL,
	    &res), 0);
	assert_int_equal(res.state, STATE_OK);
	assert_string_equal(res.summary, "7 filesystems, fullest /home 51.0% "
	    "used");
	result_reset(&res);

	/* 0 blocks: nothing to measure, not reported. */
	fake_override = &empty;
	assert_int_equal(collect_run_sync(&collector_filesystems, fs, NULL,
	    &res), 0);
	assert_string_equal(res.summary, "7 filesystems, fullest /home 51.0% "
	    "used");
	fake_override = NULL;
	result_reset(&res);
	collector_filesystems.free(fs);
}

static void
test_collect_failures(void **state)
{
	struct filesystems *fs;
	struct result res = { 0 };
	char err[COLLECTOR_ERR_MAX];

	(void)state;
	fs = new_fake("/nonexistent/proc");
	assert_int_equal(collect_run_sync(&collector_filesystems, fs, NULL,
	    &res), -ENOENT);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_string_equal(res.summary, "cannot read /nonexistent/proc/self/"
	    "mountinfo: No such file or directory");
	result_reset(&res);
	collector_filesystems.free(fs);

	/* Everything excluded: nothing to say, UNKNOWN. */
	fs = new_fake(FIX "/server/proc");
	assert_int_equal(collector_filesystems.configure(fs, "exclude",
	    "/*", err, sizeof(err)), 0);
	assert_int_equal(collect_run_sync(&collector_filesystems, fs, NULL,
	    &res), 0);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_string_equal(res.summary, "no filesystem to check: 23 pseudo, "
	    "network or image, 2 of containers or sessions, 11 excluded");
	result_reset(&res);
	collector_filesystems.free(fs);
}

static void
test_collect_this_host_for_real(void **state)
{
	struct filesystems *fs = collector_filesystems.new();
	struct collector_env env = { .proc = "/proc", .sys = "/sys" };
	struct result res = { 0 };
	const struct perf *p;

	(void)state;
	/* The real statvfs on the live mount table: values vary, the
	 * shape does not. */
	assert_int_equal(collector_filesystems.start(fs, &env), 0);
	assert_int_equal(collect_run_sync(&collector_filesystems, fs, NULL,
	    &res), 0);
	p = testutil_find_perf(&res, "/:used");
	assert_true(p->value >= 0 && p->value <= 100);
	result_reset(&res);
	collector_filesystems.free(fs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_line),
		cmocka_unit_test(test_parse_line_garbage),
		cmocka_unit_test(test_select_server),
		cmocka_unit_test(test_select_private_dev),
		cmocka_unit_test(test_select_this_host),
		cmocka_unit_test(test_select_garbage),
		cmocka_unit_test(test_configure),
		cmocka_unit_test(test_collect_server),
		cmocka_unit_test(test_collect_this_host),
		cmocka_unit_test(test_collect_thresholds_and_exclude),
		cmocka_unit_test(test_collect_hysteresis),
		cmocka_unit_test(test_collect_statvfs_failures),
		cmocka_unit_test(test_collect_failures),
		cmocka_unit_test(test_collect_this_host_for_real),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
