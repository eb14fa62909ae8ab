/*
 * memory collector: /proc/meminfo parsing (this host, a 3.2 kernel without
 * MemAvailable, a host short of memory, garbage) and whole runs.
 */
#include <errno.h>
#include <ftw.h>
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

#include "memory.h"

#define FIX	"tests/fixtures/memory"

#define assert_near(a, b) do {						\
	double a_ = (a), b_ = (b);					\
	if (fabs(a_ - b_) > 1e-6 * (fabs(b_) + 1))			\
		fail_msg("%s = %.9g, expected %.9g", #a, a_, b_);	\
} while (0)

static char *
slurp(const char *path, size_t *len)
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

static void
put(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		fail_msg("cannot write %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

static void
put_fixture(const char *dir, const char *name, const char *fixture)
{
	size_t len;
	char *text = slurp(fixture, &len);

	put(dir, name, text);
	free(text);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rm_tree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static const struct perf *
find_perf(const struct result *r, const char *label)
{
	for (size_t i = 0; i < r->nperf; i++)
		if (strcmp(r->perf[i].label, label) == 0)
			return &r->perf[i];
	fail_msg("no perfdata '%s' in result \"%s\"", label, r->summary);
	return NULL;
}

/* A scratch /proc for one test, removed by the teardown. */
struct tree {
	char	root[64];
	char	proc[96];
};

static int
tree_setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));

	snprintf(t->root, sizeof(t->root), "/tmp/test_memory.XXXXXX");
	if (mkdtemp(t->root) == NULL)
		fail_msg("mkdtemp: %s", strerror(errno));
	snprintf(t->proc, sizeof(t->proc), "%s/proc", t->root);
	mkdir(t->proc, 0755);
	*state = t;
	return 0;
}

static int
tree_teardown(void **state)
{
	struct tree *t = *state;

	rm_tree(t->root);
	free(t);
	return 0;
}

static void
test_parse_this_host(void **state)
{
	struct memory_info mi;
	size_t len;
	char *buf = slurp(FIX "/real/proc/meminfo", &len);

	(void)state;
	assert_int_equal(memory_parse_meminfo(buf, len, &mi), 0);
	assert_true(mi.has_available);
	assert_int_equal(mi.total, 24684096ULL * 1024);
	assert_int_equal(mi.free, 24170816ULL * 1024);
	assert_int_equal(mi.available, 24345540ULL * 1024);
	assert_int_equal(mi.buffers, 4184ULL * 1024);
	assert_int_equal(mi.cached, 357804ULL * 1024);
	assert_int_equal(mi.swap_total, 0);
	assert_int_equal(mi.swap_free, 0);
	free(buf);
}

static void
test_parse_old_kernel(void **state)
{
	struct memory_info mi;
	size_t len;
	char *buf = slurp(FIX "/linux-3.2/proc/meminfo", &len);

	(void)state;
	assert_int_equal(memory_parse_meminfo(buf, len, &mi), 0);
	assert_false(mi.has_available);
	/* MemFree + Buffers + Cached */
	assert_int_equal(mi.available, (104588ULL + 155292 + 902124) * 1024);
	assert_int_equal(mi.swap_total, 2097148ULL * 1024);
	assert_int_equal(mi.swap_free, 2041916ULL * 1024);
	free(buf);
}

static void
test_parse_garbage(void **state)
{
	static const char *const bad[] = {
		"",
		"MemTotal: 100 kB\n",			/* no MemFree */
		"MemFree: 100 kB\n",			/* no MemTotal */
		"MemTotal: 0 kB\nMemFree: 0 kB\n",
		"MemTotal: 100 MB\nMemFree: 10 kB\n",	/* unit */
		"MemTotal: -100 kB\nMemFree: 10 kB\n",
		("MemTotal: 100 kB\nMemFree: 10 kB\nSwapTotal: 1 kB\n"
		    "SwapFree: 2 kB\n"),		/* free > total */
		"MemTotal: 99999999999999999999 kB\nMemFree: 1 kB\n",
		"MemTotal: 18014398509481984 kB\nMemFree: 1 kB\n", /* 2^64 B */
		"MemTotal: 100 kB\nMemFree: 10 kB",	/* cut: no newline */
	};
	static const char *const files[] = {
		FIX "/garbage-meminfo",
		FIX "/contradictory-meminfo",
	};
	struct memory_info mi;
	size_t len;
	char *buf;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = memory_parse_meminfo(bad[i], strlen(bad[i]), &mi);

		if (r != -EINVAL)
			fail_msg("input %zu \"%s\": got %d, expected -EINVAL",
			    i, bad[i], r);
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		buf = slurp(files[i], &len);
		if (memory_parse_meminfo(buf, len, &mi) != -EINVAL)
			fail_msg("%s parsed", files[i]);
		free(buf);
	}
	/* A file cut after MemAvailable still has what we need. */
	buf = slurp(FIX "/real/proc/meminfo", &len);
	assert_int_equal(memory_parse_meminfo(buf, strstr(buf, "Buffers") -
	    buf, &mi), 0);
	assert_int_equal(mi.available, 24345540ULL * 1024);
	assert_int_equal(mi.buffers, 0);
	free(buf);
}

static void
test_configure(void **state)
{
	void *inst = collector_memory.new();
	char err[COLLECTOR_ERR_MAX] = "";

	(void)state;
	assert_int_equal(collector_memory.configure(inst, "available_warning",
	    "10:x", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "available_warning: '10:x' is not a range");
	assert_int_equal(collector_memory.configure(inst, "free_warning",
	    "10", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown key 'free_warning'"));
	assert_int_equal(collector_memory.configure(inst, "swap_used_critical",
	    "@95:100", err, sizeof(err)), 0);
	collector_memory.free(inst);
}

static void
run(const char *proc, void *inst, struct result *res, int want_rc)
{
	struct collector_env env = { .proc = proc, .sys = "/nonexistent" };

	assert_int_equal(collector_memory.start(inst, &env), 0);
	assert_int_equal(collect_run_sync(&collector_memory, inst, NULL, res),
	    want_rc);
}

static void
test_collect_this_host(void **state)
{
	struct result res = { 0 };
	void *inst = collector_memory.new();
	const struct perf *p;

	(void)state;
	run(FIX "/real/proc", inst, &res, 0);
	assert_int_equal(res.state, STATE_OK);
	/* No swap here: no swap metric, no warning. */
	assert_string_equal(res.summary, "23.2 GiB of 23.5 GiB available "
	    "(98.6%), no swap");
	assert_null(res.long_text);
	assert_int_equal(res.nperf, 2);
	p = find_perf(&res, "available");
	assert_near(p->value, 100.0 * 24345540 / 24684096);
	assert_string_equal(p->uom, "%");
	assert_string_equal(p->warn, "10:");
	assert_string_equal(p->crit, "5:");
	p = find_perf(&res, "available_bytes");
	assert_near(p->value, 24345540.0 * 1024);
	assert_string_equal(p->uom, "B");
	assert_true(p->has_max);
	assert_near(p->max, 24684096.0 * 1024);
	result_reset(&res);
	collector_memory.free(inst);
}

static void
test_collect_old_kernel(void **state)
{
	struct result res = { 0 };
	void *inst = collector_memory.new();
	const struct perf *p;

	(void)state;
	run(FIX "/linux-3.2/proc", inst, &res, 0);
	assert_int_equal(res.state, STATE_OK);
	assert_string_equal(res.summary, "1.1 GiB of 2.0 GiB available "
	    "(56.4%), swap 2.6% used of 2.0 GiB");
	assert_string_equal(res.long_text, "this kernel has no MemAvailable "
	    "(before 3.14): estimated as MemFree + Buffers + Cached");
	assert_int_equal(res.nperf, 4);
	p = find_perf(&res, "swap_used");
	assert_near(p->value, 100.0 * (2097148 - 2041916) / 2097148);
	assert_string_equal(p->warn, "90");
	assert_string_equal(p->crit, "");
	p = find_perf(&res, "swap_used_bytes");
	assert_near(p->value, (2097148.0 - 2041916) * 1024);
	assert_near(p->max, 2097148.0 * 1024);
	result_reset(&res);
	collector_memory.free(inst);
}

static void
test_collect_short_of_memory(void **state)
{
	struct result res = { 0 };
	void *inst = collector_memory.new();
	char err[COLLECTOR_ERR_MAX];

	(void)state;
	run(FIX "/low/proc", inst, &res, 0);
	assert_int_equal(res.state, STATE_CRITICAL);
	assert_string_equal(res.summary, "available memory 4.0% (CRITICAL "
	    "< 5%), swap 96.0% used (WARNING > 90%); 313.7 MiB of 7.7 GiB "
	    "available (4.0%), swap 96.0% used of 1024.0 MiB");
	result_reset(&res);

	/* Thresholds removed by an empty value: nothing alerts. */
	assert_int_equal(collector_memory.configure(inst, "available_critical",
	    "", err, sizeof(err)), 0);
	assert_int_equal(collector_memory.configure(inst, "available_warning",
	    "", err, sizeof(err)), 0);
	assert_int_equal(collector_memory.configure(inst, "swap_used_warning",
	    "", err, sizeof(err)), 0);
	run(FIX "/low/proc", inst, &res, 0);
	assert_int_equal(res.state, STATE_OK);
	assert_string_equal(find_perf(&res, "available")->warn, "");
	result_reset(&res);
	collector_memory.free(inst);
}

static void
test_collect_failures(void **state)
{
	struct tree *t = *state;
	struct result res = { 0 };
	void *inst = collector_memory.new();
	char want[256];

	run("/nonexistent/proc", inst, &res, -ENOENT);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_string_equal(res.summary, "cannot read /nonexistent/proc/"
	    "meminfo: No such file or directory");
	result_reset(&res);

	put_fixture(t->proc, "meminfo", FIX "/garbage-meminfo");
	run(t->proc, inst, &res, -EINVAL);
	assert_int_equal(res.state, STATE_UNKNOWN);
	snprintf(want, sizeof(want), "%s/meminfo: no usable MemTotal and "
	    "MemFree", t->proc);
	assert_string_equal(res.summary, want);
	assert_int_equal(res.nperf, 0);
	result_reset(&res);
	collector_memory.free(inst);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_this_host),
		cmocka_unit_test(test_parse_old_kernel),
		cmocka_unit_test(test_parse_garbage),
		cmocka_unit_test(test_configure),
		cmocka_unit_test(test_collect_this_host),
		cmocka_unit_test(test_collect_old_kernel),
		cmocka_unit_test(test_collect_short_of_memory),
		cmocka_unit_test_setup_teardown(test_collect_failures,
		    tree_setup, tree_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
