/*
 * threshold.c: the table-driven METRIC_warning / METRIC_critical keys
 * (defaults, valid and unknown keys, bad ranges, a key set again in a
 * drop-in), the words for a value, and every built-in collector's table
 * against the shipped docs/agentd.conf.example.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "collector.h"
#include "config.h"
#include "filesystems.h"
#include "range.h"
#include "testutil.h"
#include "threshold.h"

#define EXAMPLE	"docs/agentd.conf.example"

struct fake {
	int			 other;
	struct threshold	 alpha, beta;
};

static const struct threshold_key fake_keys[] = {
	{ "alpha", offsetof(struct fake, alpha), "10", "20", NULL },
	{ "beta", offsetof(struct fake, beta), "", "5:", NULL },
	{ .name = NULL },
};

/* Metrics with hysteresis: "used" alerts above, "free" below. */
struct held_fake {
	struct threshold	 used, free;
};

static const struct threshold_key held_keys[] = {
	{ "used", offsetof(struct held_fake, used), "90", "95", "2" },
	{ "free", offsetof(struct held_fake, free), "10:", "5:", "0" },
	{ .name = NULL },
};

static void
test_defaults(void **unused)
{
	struct fake f;

	(void)unused;
	memset(&f, 0xa5, sizeof(f));
	threshold_defaults(&f, fake_keys);
	assert_true(f.alpha.warn.set);
	assert_true(f.alpha.warn.end == 10 && f.alpha.warn.start == 0);
	assert_true(f.alpha.crit.set && f.alpha.crit.end == 20);
	assert_false(f.beta.warn.set);
	assert_true(f.beta.crit.set && f.beta.crit.start == 5 &&
	    f.beta.crit.end_inf);
	assert_int_equal(f.other, (int)0xa5a5a5a5);	/* not touched */
}

static void
test_valid_keys(void **unused)
{
	struct fake f = { 0 };
	char err[COLLECTOR_ERR_MAX] = "";

	(void)unused;
	threshold_defaults(&f, fake_keys);
	assert_int_equal(threshold_configure(&f, fake_keys, NULL,
	    "alpha_warning", "~:3", err, sizeof(err)), 0);
	assert_true(f.alpha.warn.start_inf && f.alpha.warn.end == 3);
	assert_true(f.alpha.crit.end == 20);	/* the other one stays */
	assert_int_equal(threshold_configure(&f, fake_keys, NULL,
	    "beta_critical", "", err, sizeof(err)), 0);
	assert_false(f.beta.crit.set);		/* empty removes a default */
	assert_int_equal(threshold_configure(&f, fake_keys, NULL,
	    "beta_warning", "@1:2", err, sizeof(err)), 0);
	assert_true(f.beta.warn.set && f.beta.warn.inside);
	assert_string_equal(err, "");
}

static void
test_unknown_key(void **unused)
{
	static const char *const bad[] = { "alpha", "alpha_warn",
	    "alpha_warningx", "alphabet_warning", "gamma_critical",
	    "_warning", "" };
	struct fake f = { 0 };
	char err[COLLECTOR_ERR_MAX], expect[COLLECTOR_ERR_MAX], tiny[16];

	(void)unused;
	threshold_defaults(&f, fake_keys);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(threshold_configure(&f, fake_keys, "mode",
		    bad[i], "1", err, sizeof(err)), -EINVAL);
		snprintf(expect, sizeof(expect), "unknown key '%s' (known: "
		    "mode, alpha_warning/_critical, beta_warning/_critical)",
		    bad[i]);
		assert_string_equal(err, expect);
	}
	assert_int_equal(threshold_configure(&f, fake_keys, NULL, "gamma",
	    "1", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown key 'gamma' (known: "
	    "alpha_warning/_critical, beta_warning/_critical)");
	/* A short buffer is cut, never overrun. */
	assert_int_equal(threshold_configure(&f, fake_keys, NULL, "gamma",
	    "1", tiny, sizeof(tiny)), -EINVAL);
	assert_string_equal(tiny, "unknown key 'ga");
	/* Nothing changed. */
	assert_true(f.alpha.warn.end == 10 && f.alpha.crit.end == 20);
}

static void
test_bad_range(void **unused)
{
	static const char *const bad[] = { "9x", "20:10", "@", "~", "1:2:3",
	    "nan" };
	struct fake f = { 0 };
	char err[COLLECTOR_ERR_MAX], expect[COLLECTOR_ERR_MAX];

	(void)unused;
	threshold_defaults(&f, fake_keys);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(threshold_configure(&f, fake_keys, NULL,
		    "alpha_critical", bad[i], err, sizeof(err)), -EINVAL);
		snprintf(expect, sizeof(expect), "alpha_critical: '%s' is not "
		    "a range", bad[i]);
		assert_string_equal(err, expect);
		/* A refused value leaves the range as it was. */
		assert_true(f.alpha.crit.set && f.alpha.crit.end == 20);
	}
}

/* agentd.conf and two drop-ins set the same key: the last file wins, an
 * empty value there removes the default, untouched keys keep theirs. */
static void
test_set_twice_across_dropins(void **unused)
{
	char dir[] = "/tmp/agentd-threshold-XXXXXX", path[256], sub[256];
	struct config_errors errs = { 0 };
	struct config *cfg = NULL;
	struct filesystems *fs;

	(void)unused;
	assert_non_null(mkdtemp(dir));
	testutil_put(dir, "agentd.conf", "[collector.filesystems]\n"
	    "used_warning = 70\nused_critical = 80\n");
	snprintf(sub, sizeof(sub), "%s/conf.d", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	testutil_put(sub, "10-first.conf", "[collector.filesystems]\n"
	    "used_warning = 75\n");
	testutil_put(sub, "20-second.conf", "[collector.filesystems]\n"
	    "used_warning = 85\nused_critical =\n");
	snprintf(path, sizeof(path), "%s/agentd.conf", dir);
	assert_int_equal(config_load(path, &cfg, &errs), 0);
	fs = config_find_check(cfg, "filesystems")->inst;
	assert_true(fs->used.warn.set && fs->used.warn.end == 85);
	assert_false(fs->used.crit.set);
	assert_true(fs->inodes.warn.end == 90 && fs->inodes.crit.end == 95);
	config_free(cfg);
	testutil_rm_tree(dir);
}

static void
test_eval_and_words(void **unused)
{
	struct threshold t, inside, none = { 0 };
	struct perf p = { 0 };
	char buf[128];

	(void)unused;
	assert_int_equal(range_parse("90", &t.warn), 0);
	assert_int_equal(range_parse("95", &t.crit), 0);
	assert_int_equal(threshold_eval(&t, 50), STATE_OK);
	assert_int_equal(threshold_eval(&t, 92), STATE_WARNING);
	assert_int_equal(threshold_eval(&t, 99), STATE_CRITICAL);
	assert_int_equal(threshold_eval(&none, 1e300), STATE_OK);
	threshold_why(&t, STATE_WARNING, 92, "%", buf, sizeof(buf));
	assert_string_equal(buf, "WARNING > 90%");
	threshold_why(&t, STATE_CRITICAL, 99, "/s", buf, sizeof(buf));
	assert_string_equal(buf, "CRITICAL > 95/s");
	threshold_describe(&t, STATE_WARNING, " ms", buf, sizeof(buf));
	assert_string_equal(buf, "WARNING > 90 ms");
	assert_int_equal(range_parse("@0:900", &inside.warn), 0);
	inside.crit = none.crit;
	threshold_describe(&inside, STATE_WARNING, "", buf, sizeof(buf));
	assert_string_equal(buf, "WARNING inside 0:900");
	threshold_to_perf(&t, &p);
	assert_string_equal(p.warn, "90");
	assert_string_equal(p.crit, "95");
	threshold_to_perf(&t, NULL);	/* perfdata full: nothing */
}

/* NAME_clear: a default, a margin >= 0, "" for none, only on metrics
 * whose table entry has one. */
static void
test_clear_key(void **unused)
{
	static const char *const bad[] = { "-1", "x", "nan", "inf", "2%",
	    " " };
	struct held_fake f;
	struct fake g;
	char err[COLLECTOR_ERR_MAX], expect[COLLECTOR_ERR_MAX];

	(void)unused;
	threshold_defaults(&f, held_keys);
	assert_true(f.used.clear == 2 && f.free.clear == 0);
	assert_int_equal(threshold_configure(&f, held_keys, NULL, "free_clear",
	    "1.5", err, sizeof(err)), 0);
	assert_true(f.free.clear == 1.5);
	assert_int_equal(threshold_configure(&f, held_keys, NULL, "used_clear",
	    "", err, sizeof(err)), 0);
	assert_true(f.used.clear == 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(threshold_configure(&f, held_keys, NULL,
		    "free_clear", bad[i], err, sizeof(err)), -EINVAL);
		snprintf(expect, sizeof(expect), "free_clear: '%s' is not a "
		    "margin >= 0", bad[i]);
		assert_string_equal(err, expect);
		assert_true(f.free.clear == 1.5);
	}
	assert_int_equal(threshold_configure(&f, held_keys, NULL, "x", "1",
	    err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown key 'x' (known: "
	    "used_warning/_critical/_clear, free_warning/_critical/_clear)");
	/* A table without margins has no _clear keys. */
	threshold_defaults(&g, fake_keys);
	assert_int_equal(threshold_configure(&g, fake_keys, NULL, "alpha_clear",
	    "1", err, sizeof(err)), -EINVAL);
}

/* Feeds values to one item and checks the state after each. */
static void
feed(const struct threshold *t, struct threshold_held *h, const double *v,
    const int *want, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int got = threshold_eval_held(t, h, v[i]);

		if (got != want[i])
			fail_msg("value %g (step %zu): state %d, want %d", v[i],
			    i, got, want[i]);
	}
}

/* "Alert above": warn 90, crit 95, clear 2. A value rising past warn
 * warns; between 88 and 90 it stays WARNING; below 88 OK; rising back to
 * 89 from below is OK. CRITICAL holds down to 93, then WARNING holds. */
static void
test_hysteresis_above(void **unused)
{
	static const double v[] = { 80, 91, 89, 88.01, 87.9, 89, 96, 93.5, 92.9,
	    89, 87, 96, 50 };
	static const int want[] = { STATE_OK, STATE_WARNING, STATE_WARNING,
	    STATE_WARNING, STATE_OK, STATE_OK, STATE_CRITICAL, STATE_CRITICAL,
	    STATE_WARNING, STATE_WARNING, STATE_OK, STATE_CRITICAL, STATE_OK };
	struct threshold t = { .clear = 2 };
	struct threshold_held h = { .state = STATE_OK };
	char buf[128];

	(void)unused;
	assert_int_equal(range_parse("90", &t.warn), 0);
	assert_int_equal(range_parse("95", &t.crit), 0);
	feed(&t, &h, v, want, sizeof(v) / sizeof(v[0]));
	/* The words for a held level say where it clears. */
	threshold_why(&t, STATE_WARNING, 89, "%", buf, sizeof(buf));
	assert_string_equal(buf, "WARNING > 90%, clears < 88%");
	threshold_why(&t, STATE_WARNING, 91, "%", buf, sizeof(buf));
	assert_string_equal(buf, "WARNING > 90%");
	/* Without a margin it is threshold_eval. */
	t.clear = 0;
	assert_int_equal(threshold_eval_held(&t, &h, 91), STATE_WARNING);
	assert_int_equal(threshold_eval_held(&t, &h, 89.9), STATE_OK);
	t.clear = 2;
	assert_int_equal(threshold_eval_held(&t, NULL, 89), STATE_OK);
}

/* "Alert below" (10:, 5:) with clear 2, and an inside range. */
static void
test_hysteresis_below_and_inside(void **unused)
{
	static const double v[] = { 50, 9, 11, 11.99, 12, 11, 4, 6.9, 7.1, 11,
	    13 };
	static const int want[] = { STATE_OK, STATE_WARNING, STATE_WARNING,
	    STATE_WARNING, STATE_OK, STATE_OK, STATE_CRITICAL, STATE_CRITICAL,
	    STATE_WARNING, STATE_WARNING, STATE_OK };
	static const double iv[] = { 15, 9.5, 20.9, 21.1, 19 };
	static const int iwant[] = { STATE_WARNING, STATE_WARNING,
	    STATE_WARNING, STATE_OK, STATE_WARNING };
	struct threshold t = { .clear = 2 }, in = { .clear = 1 };
	struct threshold_held h = { .state = STATE_OK }, ih = { 0 };
	char buf[128];

	(void)unused;
	assert_int_equal(range_parse("10:", &t.warn), 0);
	assert_int_equal(range_parse("5:", &t.crit), 0);
	feed(&t, &h, v, want, sizeof(v) / sizeof(v[0]));
	threshold_why(&t, STATE_WARNING, 11, "%", buf, sizeof(buf));
	assert_string_equal(buf, "WARNING < 10%, clears > 12%");

	assert_int_equal(range_parse("@10:20", &in.warn), 0);
	feed(&in, &ih, iv, iwant, sizeof(iv) / sizeof(iv[0]));
	threshold_why(&in, STATE_WARNING, 9.5, "", buf, sizeof(buf));
	assert_string_equal(buf, "WARNING inside 10:20, clears outside 9:21");
}

/* Per item: each mount keeps its own level; an item gone for a run is
 * forgotten; the memory is bounded. */
static void
test_hysteresis_per_item(void **unused)
{
	struct threshold t = { .clear = 2 };
	struct threshold_memory m = { 0 };
	char item[32];

	(void)unused;
	assert_int_equal(range_parse("90", &t.warn), 0);
	threshold_memory_begin(&m);
	assert_int_equal(threshold_eval_item(&t, &m, "/a", 91), STATE_WARNING);
	assert_int_equal(threshold_eval_item(&t, &m, "/b", 50), STATE_OK);
	threshold_memory_end(&m);
	assert_int_equal(m.n, 2);

	/* Same value, different history; other order. */
	threshold_memory_begin(&m);
	assert_int_equal(threshold_eval_item(&t, &m, "/b", 89), STATE_OK);
	assert_int_equal(threshold_eval_item(&t, &m, "/a", 89), STATE_WARNING);
	threshold_memory_end(&m);

	/* /a unmounted for a run: forgotten. */
	threshold_memory_begin(&m);
	assert_int_equal(threshold_eval_item(&t, &m, "/b", 89), STATE_OK);
	threshold_memory_end(&m);
	assert_int_equal(m.n, 1);
	threshold_memory_begin(&m);
	assert_int_equal(threshold_eval_item(&t, &m, "/a", 89), STATE_OK);
	threshold_memory_end(&m);

	/* Bounded: past THRESHOLD_MEMORY_MAX items, no memory. */
	threshold_memory_free(&m);
	threshold_memory_begin(&m);
	for (int i = 0; i < THRESHOLD_MEMORY_MAX + 1; i++) {
		snprintf(item, sizeof(item), "/m%d", i);
		assert_int_equal(threshold_eval_item(&t, &m, item, 91),
		    STATE_WARNING);
	}
	threshold_memory_end(&m);
	assert_int_equal(m.n, THRESHOLD_MEMORY_MAX);
	threshold_memory_begin(&m);
	assert_int_equal(threshold_eval_item(&t, &m, "/m0", 89), STATE_WARNING);
	snprintf(item, sizeof(item), "/m%d", THRESHOLD_MEMORY_MAX);
	assert_int_equal(threshold_eval_item(&t, &m, item, 89), STATE_OK);
	threshold_memory_free(&m);
	assert_int_equal(m.n, 0);
}

/* The summary list: ", " between notes, cut (never overrun) when full. */
static void
test_note(void **unused)
{
	struct threshold t;
	char buf[128] = "", small[24] = "";

	(void)unused;
	assert_int_equal(range_parse("90", &t.warn), 0);
	assert_int_equal(range_parse("95", &t.crit), 0);
	threshold_note(buf, sizeof(buf), &t, STATE_WARNING, 92, "%",
	    "%s %.1f%% used", "/var", 92.0);
	assert_string_equal(buf, "/var 92.0% used (WARNING > 90%)");
	threshold_note(buf, sizeof(buf), &t, STATE_CRITICAL, 99, "%",
	    "%s %.1f%% used", "/srv", 99.0);
	assert_string_equal(buf, "/var 92.0% used (WARNING > 90%), /srv 99.0% "
	    "used (CRITICAL > 95%)");
	threshold_note(small, sizeof(small), &t, STATE_WARNING, 92, "%",
	    "%s", "a long name for the buffer");
	assert_string_equal(small, "a long name for the buf");
	threshold_note(small, sizeof(small), &t, STATE_WARNING, 92, "%",
	    "%s", "more");
	assert_int_equal(strlen(small), sizeof(small) - 1);
}

/* Every built-in collector with thresholds takes each of its keys with
 * its default, and names all of them when a key is unknown. */
static void
test_builtin_tables(void **unused)
{
	char err[COLLECTOR_ERR_MAX], key[64], want[96];
	const struct threshold_key *k;
	size_t with = 0;
	void *inst;

	(void)unused;
	for (size_t i = 0; collectors[i] != NULL; i++) {
		const struct collector *c = collectors[i];

		if (c->thresholds == NULL)
			continue;
		with++;
		inst = c->new();
		for (k = c->thresholds; k->name != NULL; k++) {
			snprintf(key, sizeof(key), "%s_warning", k->name);
			if (c->configure(inst, key, k->warn, err,
			    sizeof(err)) != 0)
				fail_msg("%s: %s = %s: %s", c->name, key,
				    k->warn, err);
			snprintf(key, sizeof(key), "%s_critical", k->name);
			if (c->configure(inst, key, k->crit, err,
			    sizeof(err)) != 0)
				fail_msg("%s: %s = %s: %s", c->name, key,
				    k->crit, err);
			snprintf(key, sizeof(key), "%s_clear", k->name);
			if (k->clear != NULL && c->configure(inst, key,
			    k->clear, err, sizeof(err)) != 0)
				fail_msg("%s: %s = %s: %s", c->name, key,
				    k->clear, err);
		}
		assert_int_equal(c->configure(inst, "no_such_key", "1", err,
		    sizeof(err)), -EINVAL);
		for (k = c->thresholds; k->name != NULL; k++) {
			snprintf(want, sizeof(want), " %s_warning/_critical",
			    k->name);
			if (strstr(err, want) == NULL)
				fail_msg("%s: '%s' does not name%s", c->name,
				    err, want);
		}
		c->free(inst);
	}
	assert_int_equal(with, 15);
}

/* The index of key's entry in c's table, -1 if none; *which is 0 for
 * _warning, 1 for _critical, 2 for _clear (entries with a margin only). */
static int
find_key(const struct collector *c, const char *key, int *which)
{
	size_t n;

	for (int i = 0; c->thresholds[i].name != NULL; i++) {
		n = strlen(c->thresholds[i].name);
		if (strncmp(key, c->thresholds[i].name, n) != 0)
			continue;
		if (strcmp(key + n, "_warning") == 0)
			*which = 0;
		else if (strcmp(key + n, "_critical") == 0)
			*which = 1;
		else if (strcmp(key + n, "_clear") == 0 &&
		    c->thresholds[i].clear != NULL)
			*which = 2;
		else
			continue;
		return i;
	}
	return -1;
}

/* s ends with suffix. */
static bool
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Whether a fresh instance of c accepts key = value. */
static bool
collector_takes(const struct collector *c, const char *key,
    const char *value)
{
	void *inst = c->new();
	char err[256];
	bool ok = c->configure != NULL &&
	    c->configure(inst, key, value, err, sizeof(err)) == 0;

	c->free(inst);
	return ok;
}

/* The example shows every threshold key of every collector once,
 * commented out with its default: "#NAME_warning = DEFAULT", and
 * "#NAME_clear = DEFAULT" for metrics with hysteresis. */
static void
test_example_matches_defaults(void **unused)
{
	static const char *const suffix[] = { "warning", "critical",
	    "clear" };
	static bool seen[16][16][3];
	char *text, *line, *save = NULL, *eq, key[64];
	const char *value, *def;
	size_t len, klen;
	int ci = -1, ki = -1, which = 0;

	(void)unused;
	text = testutil_slurp(EXAMPLE, &len);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		/* A commented-out section ("#[backup.NAME]") ends one too. */
		if (line[0] == '[' || (line[0] == '#' && line[1] == '[')) {
			ci = -1;
			for (int i = 0; collectors[i] != NULL; i++) {
				snprintf(key, sizeof(key), "[collector.%s]",
				    collectors[i]->name);
				if (strcmp(line, key) == 0)
					ci = i;
			}
			continue;
		}
		if (ci < 0 || line[0] != '#' ||
		    (eq = strstr(line, " =")) == NULL)
			continue;
		klen = eq - (line + 1);
		if (klen == 0 || klen >= sizeof(key) || strspn(line + 1,
		    "abcdefghijklmnopqrstuvwxyz0123456789_") != klen)
			continue;	/* prose */
		memcpy(key, line + 1, klen);
		key[klen] = '\0';
		if (!ends_with(key, "_warning") &&
		    !ends_with(key, "_critical") && !ends_with(key, "_clear"))
			continue;
		value = eq + 2 + strspn(eq + 2, " ");
		/* Not a range but a key of its own (forecast's eta_warning
		 * is a duration): the collector must take the value shown. */
		if ((collectors[ci]->thresholds == NULL ||
		    find_key(collectors[ci], key, &which) < 0) &&
		    collector_takes(collectors[ci], key, value))
			continue;
		if (collectors[ci]->thresholds == NULL ||
		    (ki = find_key(collectors[ci], key, &which)) < 0)
			fail_msg("%s: [collector.%s] %s: not a key of the "
			    "collector", EXAMPLE, collectors[ci]->name, key);
		value = eq + 2 + strspn(eq + 2, " ");
		def = which == 2 ? collectors[ci]->thresholds[ki].clear :
		    which == 1 ? collectors[ci]->thresholds[ki].crit :
		    collectors[ci]->thresholds[ki].warn;
		if (strcmp(value, def) != 0)
			fail_msg("%s: [collector.%s] %s = '%s', the default "
			    "is '%s'", EXAMPLE, collectors[ci]->name, key,
			    value, def);
		assert_true(ci < 16 && ki < 16);
		if (seen[ci][ki][which])
			fail_msg("%s: [collector.%s] %s twice", EXAMPLE,
			    collectors[ci]->name, key);
		seen[ci][ki][which] = true;
	}
	free(text);
	for (int i = 0; collectors[i] != NULL; i++)
		for (int k = 0; collectors[i]->thresholds != NULL &&
		    collectors[i]->thresholds[k].name != NULL; k++)
			for (int w = 0; w < 3; w++)
				if (!seen[i][k][w] && (w < 2 ||
				    collectors[i]->thresholds[k].clear != NULL))
					fail_msg("%s: [collector.%s] has no "
					    "#%s_%s", EXAMPLE,
					    collectors[i]->name,
					    collectors[i]->thresholds[k].name,
					    suffix[w]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_valid_keys),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_bad_range),
		cmocka_unit_test(test_set_twice_across_dropins),
		cmocka_unit_test(test_eval_and_words),
		cmocka_unit_test(test_note),
		cmocka_unit_test(test_clear_key),
		cmocka_unit_test(test_hysteresis_above),
		cmocka_unit_test(test_hysteresis_below_and_inside),
		cmocka_unit_test(test_hysteresis_per_item),
		cmocka_unit_test(test_builtin_tables),
		cmocka_unit_test(test_example_matches_defaults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
