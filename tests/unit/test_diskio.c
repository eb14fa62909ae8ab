/*
 * diskio collector: /proc/diskstats lines from three kernel generations,
 * rates with counter wraps and resets, and whole runs over two samples
 * (this host's, a server's) with a fake clock.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "diskio.h"
#include "testutil.h"

#define FIX	"tests/fixtures/diskio"

static uint64_t fake_usec;

static uint64_t
fake_now(void)
{
	return fake_usec;
}

static void
test_parse_lines(void **state)
{
	struct diskio_stat s;
	struct diskio_stat *v;
	size_t len, n;
	char *buf;

	(void)state;
	/* 5.5+: 17 counters. */
	assert_int_equal(diskio_parse_line(" 259       0 nvme0n1 45223101 12 "
	    "3022312344 8123311 88233122 77123 9123441232 51233411 3 31233441 "
	    "61002121 1233 0 39212312 1222 2343433 12311", &s), 0);
	assert_string_equal(s.name, "nvme0n1");
	assert_int_equal(s.major, 259);
	assert_int_equal(s.minor, 0);
	assert_int_equal(s.reads, 45223101);
	assert_int_equal(s.sectors_read, 3022312344ULL);
	assert_int_equal(s.writes, 88233122);
	assert_int_equal(s.sectors_written, 9123441232ULL);
	assert_int_equal(s.in_flight, 3);
	assert_int_equal(s.io_ticks, 31233441);
	assert_int_equal(s.weighted_ms, 61002121);
	assert_int_equal(s.nfields, 17);

	/* 4.9: 11 counters; a 2.6 partition line has only 4. */
	buf = testutil_slurp(FIX "/linux-4.9-diskstats", &len);
	assert_int_equal(diskio_parse(buf, len, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "sda");
	assert_int_equal(v[0].nfields, 11);
	assert_int_equal(v[0].io_ticks, 2301230);
	assert_string_equal(v[1].name, "sda2");
	free(v);
	free(buf);
	assert_int_equal(diskio_parse_line("   8    1 sda1 2341 45233 12 48",
	    &s), -ENODATA);

	/* This host. */
	buf = testutil_slurp(FIX "/real/proc/diskstats", &len);
	assert_int_equal(diskio_parse(buf, len, &v, &n), 0);
	assert_int_equal(n, 10);
	assert_string_equal(v[8].name, "vda");
	assert_int_equal(v[8].sectors_read, 3239066);
	assert_int_equal(v[8].io_ticks, 7416);
	free(v);
	free(buf);
}

static void
test_parse_garbage(void **state)
{
	static const char *const bad[] = {
		"",
		"sda 1 2 3 4 5 6 7 8 9 10 11",
		"8 x sda 1 2 3 4 5 6 7 8 9 10 11",
		"8 0 sda 1 2 3 4 5 6 7 8 9 10 -11",
		"8 0 sda 1 2 3 4 5 6 7 8 9 10 11 x",
		"8 0 sda 1 2 3 4 5 6 7 8 9 10 99999999999999999999999",
		("8 0 abcdefghijklmnopqrstuvwxyzabcdefgh 1 2 3 4 5 6 7 8 9 10 "
		    "11"),
		"4294967296 0 sda 1 2 3 4 5 6 7 8 9 10 11",
	};
	struct diskio_stat s, *v = (void *)1;
	size_t len, n;
	char *buf = testutil_slurp(FIX "/garbage-diskstats", &len);

	(void)state;
	assert_int_equal(diskio_parse(buf, len, &v, &n), -EINVAL);
	assert_null(v);
	free(buf);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = diskio_parse_line(bad[i], &s);

		if (r != -EINVAL)
			fail_msg("line %zu \"%s\": got %d, expected -EINVAL",
			    i, bad[i], r);
	}
}

static void
test_rates(void **state)
{
	struct diskio_stat a = { .reads = 1000, .sectors_read = 20000,
	    .writes = 500, .sectors_written = 8000, .io_ticks = 100 };
	struct diskio_stat b = a;
	struct diskio_rates r;

	(void)state;
	b.reads += 300;
	b.sectors_read += 6000;
	b.writes += 150;
	b.sectors_written += 2400;
	b.io_ticks += 2500;
	assert_int_equal(diskio_rates_between(&a, &b, 10000000, &r), 0);
	assert_near(r.read_iops, 30);
	assert_near(r.read_bytes, 6000.0 * 512 / 10);
	assert_near(r.write_iops, 15);
	assert_near(r.write_bytes, 2400.0 * 512 / 10);
	assert_near(r.util, 25);

	/* io_ticks is 32-bit milliseconds: it wraps after 49.7 days. */
	a.io_ticks = 4294960000ULL;
	b.io_ticks = 2704;
	assert_int_equal(diskio_rates_between(&a, &b, 10000000, &r), 0);
	assert_near(r.util, 100.0 * 10000 / 10000);
	b.io_ticks = 1704;
	assert_int_equal(diskio_rates_between(&a, &b, 10000000, &r), 0);
	assert_near(r.util, 90);
	/* A 64-bit counter wrapping (never in practice, but exact). */
	a.io_ticks = 100;
	b.io_ticks = 2600;
	a.sectors_read = UINT64_MAX - 99;
	b.sectors_read = 900;
	assert_int_equal(diskio_rates_between(&a, &b, 10000000, &r), 0);
	assert_near(r.read_bytes, 1000.0 * 512 / 10);

	/* Going back from the lower half is not a wrap: a reset. */
	a.sectors_read = 20000;
	b.sectors_read = 100;
	assert_int_equal(diskio_rates_between(&a, &b, 10000000, &r), -EAGAIN);
	/* Two counters back at once: a new device, even if each could
	 * have wrapped. */
	a.sectors_read = 3000000000ULL;
	b.sectors_read = 100;
	a.io_ticks = 3000000000ULL;
	b.io_ticks = 100;
	assert_int_equal(diskio_rates_between(&a, &b, 10000000, &r), -EAGAIN);
	/* No time: no rates. */
	assert_int_equal(diskio_rates_between(&a, &a, 0, &r), -EAGAIN);
	/* io_ticks rounding may exceed the interval a little. */
	b = a;
	b.io_ticks += 10010;
	assert_int_equal(diskio_rates_between(&a, &b, 10000000, &r), 0);
	assert_near(r.util, 100);
}

static void
test_configure(void **state)
{
	struct diskio *d = collector_diskio.new();
	char err[COLLECTOR_ERR_MAX] = "";

	(void)state;
	assert_int_equal(d->nexclude, 8);
	assert_string_equal(d->exclude[0], "loop*");
	assert_string_equal(d->exclude[7], "nbd*");
	assert_int_equal(collector_diskio.configure(d, "util_warning", "9x",
	    err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "util_warning: '9x' is not a range");
	assert_int_equal(collector_diskio.configure(d, "await_warning", "9",
	    err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown key 'await_warning'"));
	assert_int_equal(collector_diskio.configure(d, "exclude", "loop*",
	    err, sizeof(err)), 0);
	assert_int_equal(d->nexclude, 1);
	collector_diskio.free(d);
}

static struct diskio *
start_fake(const char *proc, const char *sys, int want_rc)
{
	struct diskio *d = collector_diskio.new();
	struct collector_env env = { .proc = proc, .sys = sys };

	d->now_fn = fake_now;
	fake_usec = 5000000;
	assert_int_equal(collector_diskio.start(d, &env), want_rc);
	return d;
}

static void
test_collect_this_host(void **state)
{
	struct testutil_tree *t = *state;
	struct diskio *d;
	struct result res = { 0 };
	const struct perf *p;

	testutil_put_fixture(t->proc, "diskstats", FIX "/real/proc/diskstats");
	d = start_fake(t->proc, FIX "/real/sys", 0);
	testutil_put_fixture(t->proc, "diskstats", FIX "/real/diskstats.later");
	fake_usec += 10000000;
	assert_int_equal(collect_run_sync(&collector_diskio, d, NULL, &res),
	    0);
	assert_int_equal(res.state, STATE_OK);
	/* vda: 409960 sectors read, 437896 written, 292 ms busy in 10 s;
	 * zram0 and the loop devices are excluded. */
	assert_string_equal(res.summary, "1 disk, busiest vda 2.9% busy "
	    "(read 20.0 MiB/s, write 21.4 MiB/s)");
	assert_int_equal(res.nperf, 5);
	p = testutil_find_perf(&res, "vda:read_bytes_per_s");
	assert_near(p->value, 409960.0 * 512 / 10);
	assert_string_equal(p->uom, "");
	assert_near(testutil_find_perf(&res, "vda:write_bytes_per_s")->value,
	    437896.0 * 512 / 10);
	assert_near(testutil_find_perf(&res, "vda:read_iops")->value, 22.3);
	assert_near(testutil_find_perf(&res, "vda:write_iops")->value, 31.6);
	p = testutil_find_perf(&res, "vda:util");
	assert_near(p->value, 2.92);
	assert_string_equal(p->uom, "%");
	assert_string_equal(p->warn, "");
	assert_string_equal(res.long_text, "vda: 2.9% busy, read 20.0 MiB/s "
	    "(22.3 IOPS), write 21.4 MiB/s (31.6 IOPS)");
	result_reset(&res);
	collector_diskio.free(d);
}

static void
test_collect_server(void **state)
{
	struct testutil_tree *t = *state;
	struct diskio *d;
	struct result res = { 0 };
	char err[COLLECTOR_ERR_MAX];

	testutil_put_fixture(t->proc, "diskstats",
	    FIX "/server/proc/diskstats");
	d = start_fake(t->proc, FIX "/server/sys", 0);
	testutil_put_fixture(t->proc, "diskstats",
	    FIX "/server/diskstats.later");
	fake_usec += 60000000;
	assert_int_equal(collect_run_sync(&collector_diskio, d, NULL, &res),
	    0);
	/* No utilisation threshold by default. */
	assert_int_equal(res.state, STATE_OK);
	assert_string_equal(res.summary, "3 disks, busiest nvme0n1 99.0% busy "
	    "(read 62.5 MiB/s, write 15.6 MiB/s)");
	/* Partitions, dm-0, md0, loop0, sr0, zram0 are not reported;
	 * cciss/c0d0 is found as /sys/block/cciss!c0d0. */
	assert_int_equal(res.nperf, 15);
	assert_near(testutil_find_perf(&res, "sda:read_bytes_per_s")->value,
	    409600);
	assert_near(testutil_find_perf(&res, "sda:write_bytes_per_s")->value,
	    819200);
	assert_near(testutil_find_perf(&res, "sda:read_iops")->value, 10);
	assert_near(testutil_find_perf(&res, "sda:write_iops")->value, 20);
	assert_near(testutil_find_perf(&res, "sda:util")->value, 20);
	assert_near(testutil_find_perf(&res, "nvme0n1:read_iops")->value, 1000);
	assert_near(testutil_find_perf(&res, "nvme0n1:util")->value, 99);
	assert_near(testutil_find_perf(&res,
	    "cciss/c0d0:read_bytes_per_s")->value, 48.0 * 512 / 60);
	assert_string_equal(res.long_text,
	    "sda: 20.0% busy, read 400.0 KiB/s (10.0 IOPS), write 800.0 KiB/s "
	    "(20.0 IOPS)\n"
	    "nvme0n1: 99.0% busy, read 62.5 MiB/s (1000.0 IOPS), write "
	    "15.6 MiB/s (500.0 IOPS)\n"
	    "cciss/c0d0: 0.1% busy, read 410 B/s (0.1 IOPS), write 0 B/s "
	    "(0.0 IOPS)");
	result_reset(&res);
	collector_diskio.free(d);

	/* Thresholds on; LVM volumes watched too. */
	testutil_put_fixture(t->proc, "diskstats",
	    FIX "/server/proc/diskstats");
	d = start_fake(t->proc, FIX "/server/sys", 0);
	assert_int_equal(collector_diskio.configure(d, "util_warning", "15",
	    err, sizeof(err)), 0);
	assert_int_equal(collector_diskio.configure(d, "util_critical", "98",
	    err, sizeof(err)), 0);
	assert_int_equal(collector_diskio.configure(d, "exclude",
	    "loop*,sr*,zram*,md*", err, sizeof(err)), 0);
	testutil_put_fixture(t->proc, "diskstats",
	    FIX "/server/diskstats.later");
	fake_usec += 60000000;
	assert_int_equal(collect_run_sync(&collector_diskio, d, NULL, &res),
	    0);
	assert_int_equal(res.state, STATE_CRITICAL);
	/* The start() sample predates the exclude change: dm-0 was not in
	 * it, so it has rates only from the next run. */
	assert_string_equal(res.summary, "nvme0n1 99.0% busy (CRITICAL > 98%), "
	    "sda 20.0% busy (WARNING > 15%); 4 disks");
	assert_string_equal(testutil_find_perf(&res, "sda:util")->warn, "15");
	assert_string_equal(testutil_find_perf(&res, "sda:util")->crit, "98");
	assert_non_null(strstr(res.long_text, "dm-0: new or reset, rates from "
	    "the next run"));
	result_reset(&res);
	collector_diskio.free(d);
}

static void
test_collect_changes(void **state)
{
	struct testutil_tree *t = *state;
	struct diskio *d;
	struct result res = { 0 };
	char dir[160];

	snprintf(dir, sizeof(dir), "%s/block", t->sys);
	mkdir(dir, 0755);
	snprintf(dir, sizeof(dir), "%s/block/sda", t->sys);
	mkdir(dir, 0755);
	snprintf(dir, sizeof(dir), "%s/block/sdb", t->sys);
	mkdir(dir, 0755);
	testutil_put(t->proc, "diskstats",
	    "   8       0 sda 100 0 800 0 100 0 800 0 0 4294960000 0\n"
	    "   8      16 sdb 100 0 800 0 100 0 800 0 0 1000 0\n");
	d = start_fake(t->proc, t->sys, 0);

	/* sda's io_ticks wraps; sdb was replaced (all counters back);
	 * sdc appears. */
	snprintf(dir, sizeof(dir), "%s/block/sdc", t->sys);
	mkdir(dir, 0755);
	testutil_put(t->proc, "diskstats",
	    "   8       0 sda 160 0 1280 0 100 0 800 0 0 2704 0\n"
	    "   8      16 sdb 5 0 40 0 1 0 8 0 0 10 0\n"
	    "   8      32 sdc 5 0 40 0 1 0 8 0 0 10 0\n");
	fake_usec += 10000000;
	assert_int_equal(collect_run_sync(&collector_diskio, d, NULL, &res),
	    0);
	assert_int_equal(res.state, STATE_OK);
	assert_string_equal(res.summary, "3 disks, busiest sda 100.0% busy "
	    "(read 24.0 KiB/s, write 0 B/s)");
	assert_int_equal(res.nperf, 5);
	assert_near(testutil_find_perf(&res, "sda:read_iops")->value, 6);
	assert_non_null(strstr(res.long_text, "sdb: new or reset"));
	assert_non_null(strstr(res.long_text, "sdc: new or reset"));
	result_reset(&res);

	/* sda unplugged: gone from the report; the others have rates. */
	testutil_put(t->proc, "diskstats",
	    "   8      16 sdb 15 0 40 0 1 0 8 0 0 1010 0\n"
	    "   8      32 sdc 5 0 40 0 11 0 8 0 0 5010 0\n");
	fake_usec += 10000000;
	assert_int_equal(collect_run_sync(&collector_diskio, d, NULL, &res),
	    0);
	assert_string_equal(res.summary, "2 disks, busiest sdc 50.0% busy "
	    "(read 0 B/s, write 0 B/s)");
	assert_int_equal(res.nperf, 10);
	assert_near(testutil_find_perf(&res, "sdb:util")->value, 10);
	result_reset(&res);
	collector_diskio.free(d);
}

static void
test_collect_failures(void **state)
{
	struct testutil_tree *t = *state;
	struct diskio *d;
	struct result res = { 0 };
	char want[300];

	/* No /sys/block: cannot tell disks from partitions. */
	d = start_fake(FIX "/server/proc", "/nonexistent/sys", -ENOENT);
	assert_int_equal(collect_run_sync(&collector_diskio, d, NULL, &res),
	    -ENOENT);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_string_equal(res.summary, "no /nonexistent/sys/block: cannot "
	    "tell disks from partitions (No such file or directory)");
	result_reset(&res);
	collector_diskio.free(d);

	d = start_fake("/nonexistent/proc", FIX "/server/sys", -ENOENT);
	assert_int_equal(collect_run_sync(&collector_diskio, d, NULL, &res),
	    -ENOENT);
	assert_string_equal(res.summary, "cannot read /nonexistent/proc/"
	    "diskstats: No such file or directory");
	result_reset(&res);
	collector_diskio.free(d);

	testutil_put_fixture(t->proc, "diskstats", FIX "/garbage-diskstats");
	d = start_fake(t->proc, FIX "/server/sys", -EINVAL);
	assert_int_equal(collect_run_sync(&collector_diskio, d, NULL, &res),
	    -EINVAL);
	snprintf(want, sizeof(want), "%s/diskstats: not in the diskstats "
	    "format", t->proc);
	assert_string_equal(res.summary, want);
	result_reset(&res);
	collector_diskio.free(d);

	/* start() failed, the file is back: first sample, UNKNOWN. */
	d = start_fake(t->proc, FIX "/server/sys", -EINVAL);
	testutil_put_fixture(t->proc, "diskstats",
	    FIX "/server/proc/diskstats");
	assert_int_equal(collect_run_sync(&collector_diskio, d, NULL, &res),
	    0);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_string_equal(res.summary, "first sample of 3 disks; rates from "
	    "the next run");
	result_reset(&res);
	fake_usec += 1000000;
	assert_int_equal(collect_run_sync(&collector_diskio, d, NULL, &res),
	    0);
	assert_int_equal(res.state, STATE_OK);
	result_reset(&res);
	collector_diskio.free(d);

	/* Everything excluded. */
	d = start_fake(FIX "/server/proc", FIX "/server/sys", 0);
	{
		char err[COLLECTOR_ERR_MAX];

		assert_int_equal(collector_diskio.configure(d, "exclude", "*",
		    err, sizeof(err)), 0);
	}
	assert_int_equal(collect_run_sync(&collector_diskio, d, NULL, &res),
	    0);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_string_equal(res.summary, "no disks to watch: every entry of "
	    FIX "/server/proc/diskstats is excluded or not in " FIX
	    "/server/sys/block");
	result_reset(&res);
	collector_diskio.free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_lines),
		cmocka_unit_test(test_parse_garbage),
		cmocka_unit_test(test_rates),
		cmocka_unit_test(test_configure),
		cmocka_unit_test_setup_teardown(test_collect_this_host,
		    testutil_tree_setup_sys, testutil_tree_teardown),
		cmocka_unit_test_setup_teardown(test_collect_server,
		    testutil_tree_setup_sys, testutil_tree_teardown),
		cmocka_unit_test_setup_teardown(test_collect_changes,
		    testutil_tree_setup_sys, testutil_tree_teardown),
		cmocka_unit_test_setup_teardown(test_collect_failures,
		    testutil_tree_setup_sys, testutil_tree_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
