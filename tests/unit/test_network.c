/*
 * network collector: /proc/net/dev parsing (this host, a server with a
 * 2.6-style glued line, garbage), rates across 32/64-bit wraps and
 * re-created interfaces, and whole runs over two samples with a fake
 * clock.
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

#include "network.h"
#include "testutil.h"

#define FIX	"tests/fixtures/network"

static uint64_t fake_usec;

static uint64_t
fake_now(void)
{
	return fake_usec;
}

static void
put_ifindex(const struct testutil_tree *t, const char *name, const char *index)
{
	char dir[256];

	snprintf(dir, sizeof(dir), "%s/class", t->sys);
	mkdir(dir, 0755);
	snprintf(dir, sizeof(dir), "%s/class/net", t->sys);
	mkdir(dir, 0755);
	snprintf(dir, sizeof(dir), "%s/class/net/%s", t->sys, name);
	mkdir(dir, 0755);
	testutil_put(dir, "ifindex", index);
}

static void
test_parse_this_host(void **state)
{
	struct network_stat *v;
	size_t len, n;
	char *buf = testutil_slurp(FIX "/real/proc/net/dev", &len);

	(void)state;
	assert_int_equal(network_parse_dev(buf, len, &v, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(v[0].name, "lo");
	assert_string_equal(v[3].name, "eth0");
	assert_int_equal(v[3].rx_bytes, 26779173);
	assert_int_equal(v[3].rx_packets, 681);
	assert_int_equal(v[3].tx_bytes, 33871);
	assert_int_equal(v[3].tx_packets, 403);
	assert_int_equal(v[3].ifindex, 0);
	free(v);
	free(buf);
}

static void
test_parse_server(void **state)
{
	struct network_stat *v;
	size_t len, n;
	char *buf = testutil_slurp(FIX "/server/proc/net/dev", &len);

	(void)state;
	assert_int_equal(network_parse_dev(buf, len, &v, &n), 0);
	assert_int_equal(n, 5);
	/* "  eth0:98765432101 ..." : no blank after the colon. */
	assert_string_equal(v[1].name, "eth0");
	assert_int_equal(v[1].rx_bytes, 98765432101ULL);
	assert_int_equal(v[1].rx_errors, 12);
	assert_int_equal(v[1].rx_drops, 3456);
	assert_int_equal(v[1].tx_bytes, 12345678901ULL);
	assert_string_equal(v[3].name, "docker0");
	assert_int_equal(v[3].tx_drops, 7);
	assert_string_equal(v[4].name, "veth9a8b7c");
	free(v);
	free(buf);

	/* Header only: no interfaces, fine. */
	buf = testutil_slurp(FIX "/server/proc/net/dev", &len);
	assert_int_equal(network_parse_dev(buf, strstr(buf, "    lo:") - buf,
	    &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	free(buf);
}

static void
test_parse_garbage(void **state)
{
	static const char *const bad[] = {
		"",
		"eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",  /* no head */
		"a|b\nc|d\n eth0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
		"a|b\nc|d\n eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n",
		"a|b\nc|d\n eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n",
		"a|b\nc|d\n eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 -16\n",
		("a|b\nc|d\n abcdefghijklmnop: 1 2 3 4 5 6 7 8 9 10 11 12 13 "
		    "14 15 16\n"),
		"a|b\nc|d\n : 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
		"a|b\n",
	};
	struct network_stat *v = (void *)1;
	size_t len, n;
	char *buf = testutil_slurp(FIX "/garbage-dev", &len);

	(void)state;
	assert_int_equal(network_parse_dev(buf, len, &v, &n), -EINVAL);
	assert_null(v);
	free(buf);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = network_parse_dev(bad[i], strlen(bad[i]), &v, &n);

		if (r != -EINVAL)
			fail_msg("input %zu \"%s\": got %d, expected -EINVAL",
			    i, bad[i], r);
		assert_null(v);
	}
}

static void
test_rates(void **state)
{
	struct network_stat a = { .rx_bytes = 1000, .tx_bytes = 2000,
	    .rx_errors = 1, .tx_errors = 2, .rx_drops = 3, .tx_drops = 4,
	    .rx_packets = 10, .tx_packets = 20, .ifindex = 2 };
	struct network_stat b = a;
	struct network_rates r;

	(void)state;
	b.rx_bytes += 50000;
	b.tx_bytes += 10000;
	b.rx_errors += 10;
	b.tx_errors += 10;
	b.tx_drops += 30;
	assert_int_equal(network_rates_between(&a, &b, 10000000, &r), 0);
	assert_near(r.rx_bytes, 5000);
	assert_near(r.tx_bytes, 1000);
	assert_near(r.errors, 2);
	assert_near(r.drops, 3);

	/* A 32-bit byte counter wrapping (32-bit kernel, some drivers). */
	a.rx_bytes = 4294967000ULL;
	b.rx_bytes = 704;
	assert_int_equal(network_rates_between(&a, &b, 10000000, &r), 0);
	assert_near(r.rx_bytes, 100);
	/* A 64-bit one. */
	a.rx_bytes = UINT64_MAX - 499;
	b.rx_bytes = 500;
	assert_int_equal(network_rates_between(&a, &b, 10000000, &r), 0);
	assert_near(r.rx_bytes, 100);
	/* Back from the lower half: a reset, not a wrap. */
	a.rx_bytes = 1000000;
	b.rx_bytes = 500;
	assert_int_equal(network_rates_between(&a, &b, 10000000, &r),
	    -EAGAIN);
	/* Same counters, new ifindex: re-created. */
	b = a;
	b.rx_bytes += 10;
	b.ifindex = 9;
	assert_int_equal(network_rates_between(&a, &b, 10000000, &r),
	    -EAGAIN);
	/* ifindex unknown on one side: counters decide. */
	b.ifindex = 0;
	assert_int_equal(network_rates_between(&a, &b, 10000000, &r), 0);
	/* Two counters back at once: re-created. */
	a.rx_bytes = 3000000000ULL;
	a.tx_bytes = 3000000000ULL;
	b.rx_bytes = 10;
	b.tx_bytes = 10;
	assert_int_equal(network_rates_between(&a, &b, 10000000, &r),
	    -EAGAIN);
	assert_int_equal(network_rates_between(&a, &a, 0, &r), -EAGAIN);
}

static void
test_configure(void **state)
{
	struct network *nw = collector_network.new();
	char err[COLLECTOR_ERR_MAX] = "";

	(void)state;
	assert_int_equal(nw->nexclude, 1);
	assert_string_equal(nw->exclude[0], "lo");
	assert_int_equal(collector_network.configure(nw, "errors_warning",
	    "1:x", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "errors_warning: '1:x' is not a range");
	assert_int_equal(collector_network.configure(nw, "rx_warning", "1",
	    err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown key 'rx_warning'"));
	assert_int_equal(collector_network.configure(nw, "exclude",
	    "lo, veth*, cali*", err, sizeof(err)), 0);
	assert_int_equal(nw->nexclude, 3);
	assert_string_equal(nw->exclude[1], "veth*");
	collector_network.free(nw);
}

static struct network *
start_fake(const char *proc, const char *sys, int want_rc)
{
	struct network *nw = collector_network.new();
	struct collector_env env = { .proc = proc, .sys = sys };

	nw->now_fn = fake_now;
	fake_usec = 7000000;
	assert_int_equal(collector_network.start(nw, &env), want_rc);
	return nw;
}

static void
test_collect_this_host(void **state)
{
	struct testutil_tree *t = *state;
	struct network *nw;
	struct result res = { 0 };
	char dir[160];

	snprintf(dir, sizeof(dir), "%s/net", t->proc);
	mkdir(dir, 0755);
	testutil_put_fixture(dir, "dev", FIX "/real/proc/net/dev");
	nw = start_fake(t->proc, FIX "/real/sys", 0);
	testutil_put_fixture(dir, "dev", FIX "/real/dev.later");
	fake_usec += 10000000;
	assert_int_equal(collect_run_sync(&collector_network, nw, NULL, &res),
	    0);
	assert_int_equal(res.state, STATE_OK);
	/* eth0: 42 bytes in, 7422 out in 10 s; lo excluded. */
	assert_string_equal(res.summary, "3 interfaces, busiest eth0 rx "
	    "4 B/s tx 742 B/s");
	assert_int_equal(res.nperf, 12);
	assert_near(testutil_find_perf(&res, "eth0:rx_bytes_per_s")->value,
	    4.2);
	assert_near(testutil_find_perf(&res, "eth0:tx_bytes_per_s")->value,
	    742.2);
	assert_near(testutil_find_perf(&res, "eth0:errors_per_s")->value, 0);
	assert_string_equal(testutil_find_perf(&res, "eth0:errors_per_s")->warn,
	    "1");
	assert_string_equal(testutil_find_perf(&res, "eth0:errors_per_s")->crit,
	    "10");
	assert_string_equal(testutil_find_perf(&res, "eth0:drops_per_s")->warn,
	    "100");
	assert_string_equal(testutil_find_perf(&res, "eth0:drops_per_s")->crit,
	    "");
	assert_near(testutil_find_perf(&res, "ifb0:rx_bytes_per_s")->value, 0);
	assert_string_equal(res.long_text,
	    "ifb0: rx 0 B/s, tx 0 B/s, errors 0.0/s, drops 0.0/s\n"
	    "ifb1: rx 0 B/s, tx 0 B/s, errors 0.0/s, drops 0.0/s\n"
	    "eth0: rx 4 B/s, tx 742 B/s, errors 0.0/s, drops 0.0/s");
	result_reset(&res);
	collector_network.free(nw);
}

static void
test_collect_server(void **state)
{
	struct testutil_tree *t = *state;
	struct network *nw;
	struct result res = { 0 };
	char dir[160], err[COLLECTOR_ERR_MAX];

	snprintf(dir, sizeof(dir), "%s/net", t->proc);
	mkdir(dir, 0755);
	testutil_put_fixture(dir, "dev", FIX "/server/proc/net/dev");
	nw = start_fake(t->proc, FIX "/server/sys", 0);
	testutil_put_fixture(dir, "dev", FIX "/server/dev.later");
	fake_usec += 60000000;
	assert_int_equal(collect_run_sync(&collector_network, nw, NULL, &res),
	    0);
	assert_int_equal(res.state, STATE_WARNING);
	assert_string_equal(res.summary, "eth0 errors 2.0/s (WARNING > 1/s), "
	    "docker0 drops 120.0/s (WARNING > 100/s); 4 interfaces");
	assert_near(testutil_find_perf(&res, "eth0:rx_bytes_per_s")->value,
	    1e7);
	assert_near(testutil_find_perf(&res, "eth0:tx_bytes_per_s")->value,
	    1e6);
	assert_near(testutil_find_perf(&res, "eth0:errors_per_s")->value, 2);
	assert_near(testutil_find_perf(&res, "eth0:drops_per_s")->value, 10);
	/* eth1's 32-bit rx counter wrapped: 167296 bytes, not 2^64. */
	assert_near(testutil_find_perf(&res, "eth1:rx_bytes_per_s")->value,
	    167296.0 / 60);
	assert_near(testutil_find_perf(&res, "docker0:drops_per_s")->value,
	    120);
	assert_int_equal(res.nperf, 16);
	assert_non_null(strstr(res.long_text, "eth0: rx 9.5 MiB/s, tx 976.6 "
	    "KiB/s, errors 2.0/s, drops 10.0/s\n"));
	result_reset(&res);

	/* Tighter errors threshold, container interfaces left out. */
	assert_int_equal(collector_network.configure(nw, "errors_critical",
	    "1.5", err, sizeof(err)), 0);
	assert_int_equal(collector_network.configure(nw, "exclude",
	    "lo,veth*,docker*", err, sizeof(err)), 0);
	testutil_put_fixture(dir, "dev", FIX "/server/proc/net/dev");
	fake_usec += 60000000;
	/* Counters went back to the first sample: eth0 and eth1 look
	 * re-created (several counters back), no rates for anyone. */
	assert_int_equal(collect_run_sync(&collector_network, nw, NULL, &res),
	    0);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_string_equal(res.summary, "first sample of 2 interfaces; "
	    "rates from the next run");
	result_reset(&res);
	testutil_put_fixture(dir, "dev", FIX "/server/dev.later");
	fake_usec += 60000000;
	assert_int_equal(collect_run_sync(&collector_network, nw, NULL, &res),
	    0);
	assert_int_equal(res.state, STATE_CRITICAL);
	assert_string_equal(res.summary, "eth0 errors 2.0/s (CRITICAL > "
	    "1.5/s); 2 interfaces");
	result_reset(&res);
	collector_network.free(nw);
}

static void
test_collect_appear_disappear(void **state)
{
	struct testutil_tree *t = *state;
	struct network *nw;
	struct result res = { 0 };
	char dir[160];
	static const char head[] = "Inter-|   Receive |  Transmit\n"
	    " face |bytes    packets|bytes    packets\n";
	char text[1024];

	snprintf(dir, sizeof(dir), "%s/net", t->proc);
	mkdir(dir, 0755);
	put_ifindex(t, "eth0", "2\n");
	put_ifindex(t, "tun0", "5\n");
	snprintf(text, sizeof(text), "%s"
	    "  eth0: 1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n"
	    "  tun0: 1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n", head);
	testutil_put(dir, "dev", text);
	nw = start_fake(t->proc, t->sys, 0);

	/* tun0 re-created with a new ifindex (counters happen to be
	 * higher); wg0 appears. */
	put_ifindex(t, "tun0", "8\n");
	put_ifindex(t, "wg0", "9\n");
	snprintf(text, sizeof(text), "%s"
	    "  eth0: 11000 20 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n"
	    "  tun0: 5000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n"
	    "   wg0: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n", head);
	testutil_put(dir, "dev", text);
	fake_usec += 10000000;
	assert_int_equal(collect_run_sync(&collector_network, nw, NULL, &res),
	    0);
	assert_int_equal(res.state, STATE_OK);
	assert_string_equal(res.summary, "3 interfaces, busiest eth0 rx "
	    "1000 B/s tx 0 B/s");
	assert_int_equal(res.nperf, 4);
	assert_string_equal(res.long_text,
	    "tun0: new or re-created, rates from the next run\n"
	    "wg0: new or re-created, rates from the next run\n"
	    "eth0: rx 1000 B/s, tx 0 B/s, errors 0.0/s, drops 0.0/s");
	result_reset(&res);

	/* eth0 gone (a hot-unplugged USB NIC): no longer reported. */
	snprintf(text, sizeof(text), "%s"
	    "  tun0: 6000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n"
	    "   wg0: 10001 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n", head);
	testutil_put(dir, "dev", text);
	fake_usec += 10000000;
	assert_int_equal(collect_run_sync(&collector_network, nw, NULL, &res),
	    0);
	assert_string_equal(res.summary, "2 interfaces, busiest wg0 rx "
	    "1000 B/s tx 0 B/s");
	assert_int_equal(res.nperf, 8);
	assert_near(testutil_find_perf(&res, "tun0:rx_bytes_per_s")->value,
	    100);
	result_reset(&res);

	/* Nothing moved since. */
	fake_usec += 10000000;
	assert_int_equal(collect_run_sync(&collector_network, nw, NULL, &res),
	    0);
	assert_int_equal(res.state, STATE_OK);
	assert_string_equal(res.summary, "2 interfaces, no traffic");
	result_reset(&res);
	collector_network.free(nw);
}

static void
test_collect_failures(void **state)
{
	struct testutil_tree *t = *state;
	struct network *nw;
	struct result res = { 0 };
	char dir[160], want[300], err[COLLECTOR_ERR_MAX];

	nw = start_fake("/nonexistent/proc", "/nonexistent/sys", -ENOENT);
	assert_int_equal(collect_run_sync(&collector_network, nw, NULL, &res),
	    -ENOENT);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_string_equal(res.summary, "cannot read /nonexistent/proc/net/"
	    "dev: No such file or directory");
	result_reset(&res);
	collector_network.free(nw);

	snprintf(dir, sizeof(dir), "%s/net", t->proc);
	mkdir(dir, 0755);
	testutil_put_fixture(dir, "dev", FIX "/garbage-dev");
	nw = start_fake(t->proc, t->sys, -EINVAL);
	assert_int_equal(collect_run_sync(&collector_network, nw, NULL, &res),
	    -EINVAL);
	snprintf(want, sizeof(want), "%s/net/dev: not in the net/dev format",
	    t->proc);
	assert_string_equal(res.summary, want);
	result_reset(&res);

	/* Every interface excluded. */
	testutil_put_fixture(dir, "dev", FIX "/server/proc/net/dev");
	assert_int_equal(collector_network.configure(nw, "exclude", "*", err,
	    sizeof(err)), 0);
	assert_int_equal(collect_run_sync(&collector_network, nw, NULL, &res),
	    0);
	assert_int_equal(res.state, STATE_UNKNOWN);
	snprintf(want, sizeof(want), "no interfaces to watch: every entry of "
	    "%s/net/dev is excluded", t->proc);
	assert_string_equal(res.summary, want);
	result_reset(&res);
	collector_network.free(nw);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_this_host),
		cmocka_unit_test(test_parse_server),
		cmocka_unit_test(test_parse_garbage),
		cmocka_unit_test(test_rates),
		cmocka_unit_test(test_configure),
		cmocka_unit_test_setup_teardown(test_collect_this_host,
		    testutil_tree_setup_sys, testutil_tree_teardown),
		cmocka_unit_test_setup_teardown(test_collect_server,
		    testutil_tree_setup_sys, testutil_tree_teardown),
		cmocka_unit_test_setup_teardown(test_collect_appear_disappear,
		    testutil_tree_setup_sys, testutil_tree_teardown),
		cmocka_unit_test_setup_teardown(test_collect_failures,
		    testutil_tree_setup_sys, testutil_tree_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
