/*
 * range.c against the monitoring-plugins threshold syntax: parsing, the
 * alert rule at and around each bound, and range_format reading back the
 * same range.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "range.h"
#include "result.h"

struct parse_case {
	const char	*name;
	const char	*text;
	int		 rc;
	bool		 set, inside, start_inf, end_inf;
	double		 start, end;
	const char	*canon;		/* range_format of the result */
};

#define OK_RANGE	.rc = 0, .set = true
#define BAD_RANGE	.rc = -EINVAL, .canon = ""

static const struct parse_case parses[] = {
	{ "empty: no threshold", "", .rc = 0, .canon = "" },
	{ "10", "10", OK_RANGE, .end = 10, .canon = "10" },
	{ "10:", "10:", OK_RANGE, .start = 10, .end_inf = true,
	    .canon = "10:" },
	{ "~:10", "~:10", OK_RANGE, .start_inf = true, .end = 10,
	    .canon = "~:10" },
	{ "10:20", "10:20", OK_RANGE, .start = 10, .end = 20,
	    .canon = "10:20" },
	{ "@10:20", "@10:20", OK_RANGE, .inside = true, .start = 10, .end = 20,
	    .canon = "@10:20" },
	{ "-5:-1", "-5:-1", OK_RANGE, .start = -5, .end = -1,
	    .canon = "-5:-1" },
	{ "1e3", "1e3", OK_RANGE, .end = 1000, .canon = "1000" },
	{ "0", "0", OK_RANGE, .end = 0, .canon = "0" },
	{ "@0", "@0", OK_RANGE, .inside = true, .end = 0, .canon = "@0" },
	{ ": (0 to infinity, as monitoring-plugins reads it)", ":", OK_RANGE,
	    .end_inf = true, .canon = "0:" },
	{ "~:", "~:", OK_RANGE, .start_inf = true, .end_inf = true,
	    .canon = "~:" },
	{ "@~:", "@~:", OK_RANGE, .inside = true, .start_inf = true,
	    .end_inf = true, .canon = "@~:" },
	{ "0:10 is 10", "0:10", OK_RANGE, .end = 10, .canon = "10" },
	{ "0:", "0:", OK_RANGE, .end_inf = true, .canon = "0:" },
	{ "10:10", "10:10", OK_RANGE, .start = 10, .end = 10,
	    .canon = "10:10" },
	{ "1.5:2.5", "1.5:2.5", OK_RANGE, .start = 1.5, .end = 2.5,
	    .canon = "1.5:2.5" },
	{ "-1:", "-1:", OK_RANGE, .start = -1, .end_inf = true,
	    .canon = "-1:" },
	{ "@-10:-5", "@-10:-5", OK_RANGE, .inside = true, .start = -10,
	    .end = -5, .canon = "@-10:-5" },
	{ "~:-3.25", "~:-3.25", OK_RANGE, .start_inf = true, .end = -3.25,
	    .canon = "~:-3.25" },
	{ "0.001", "0.001", OK_RANGE, .end = 0.001, .canon = "0.001" },
	{ "5.000 (check_load)", "5.000", OK_RANGE, .end = 5, .canon = "5" },
	/* Values that need more than %g's six digits to read back. */
	{ "1234567", "1234567", OK_RANGE, .end = 1234567,
	    .canon = "1234567" },
	{ "216442024755 (check_disk bytes)", "216442024755", OK_RANGE,
	    .end = 216442024755.0, .canon = "216442024755" },
	{ "@1e3:2500000", "@1e3:2500000", OK_RANGE, .inside = true,
	    .start = 1000, .end = 2500000, .canon = "@1000:2500000" },
	{ "0.1234567", "0.1234567", OK_RANGE, .end = 0.1234567,
	    .canon = "0.1234567" },

	{ "20:10 rejected (start > end)", "20:10", BAD_RANGE },
	{ "-1 rejected (0 > -1)", "-1", BAD_RANGE },
	{ "garbage", "abc", BAD_RANGE },
	{ "garbage end", "10:abc", BAD_RANGE },
	{ "trailing garbage", "10:20x", BAD_RANGE },
	{ "trailing blank", "10 ", BAD_RANGE },
	{ "unit suffix", "80%", BAD_RANGE },
	{ "~ alone", "~", BAD_RANGE },
	{ "~10", "~10", BAD_RANGE },
	{ "@ alone", "@", BAD_RANGE },
	{ "@@10", "@@10", BAD_RANGE },
	{ "two colons", "10:20:30", BAD_RANGE },
	{ "~ as end", "10:~", BAD_RANGE },
	{ "~:~", "~:~", BAD_RANGE },
	{ "decimal comma", "1,5", BAD_RANGE },
	{ "inf", "inf", BAD_RANGE },
	{ "nan", "nan", BAD_RANGE },
	{ "overflow", "1e400", BAD_RANGE },
	{ "double sign", "--5", BAD_RANGE },
	{ "number too long for range_number", "1.0000000000000000000000000"
	    "000000000000000000000000000000000000000000", BAD_RANGE },
};

struct eval_case {
	const char	*name;
	const char	*warn, *crit;
	double		 value;
	enum check_state want;
};

static const struct eval_case evals[] = {
	/* "10": alert outside 0..10, bounds included in the good zone. */
	{ "10: 0 ok", "", "10", 0, STATE_OK },
	{ "10: 10 ok", "", "10", 10, STATE_OK },
	{ "10: 10.001 alerts", "", "10", 10.001, STATE_CRITICAL },
	{ "10: -0.001 alerts", "", "10", -0.001, STATE_CRITICAL },
	/* "10:": alert below 10. */
	{ "10:: 9.99 alerts", "", "10:", 9.99, STATE_CRITICAL },
	{ "10:: 10 ok", "", "10:", 10, STATE_OK },
	{ "10:: 1e300 ok", "", "10:", 1e300, STATE_OK },
	/* "~:10": alert above 10. */
	{ "~:10: -1e300 ok", "", "~:10", -1e300, STATE_OK },
	{ "~:10: 10 ok", "", "~:10", 10, STATE_OK },
	{ "~:10: 11 alerts", "", "~:10", 11, STATE_CRITICAL },
	/* "10:20": alert outside. */
	{ "10:20: 9 alerts", "", "10:20", 9, STATE_CRITICAL },
	{ "10:20: 10 ok", "", "10:20", 10, STATE_OK },
	{ "10:20: 20 ok", "", "10:20", 20, STATE_OK },
	{ "10:20: 21 alerts", "", "10:20", 21, STATE_CRITICAL },
	/* "@10:20": alert inside, bounds included. */
	{ "@10:20: 9.9 ok", "", "@10:20", 9.9, STATE_OK },
	{ "@10:20: 10 alerts", "", "@10:20", 10, STATE_CRITICAL },
	{ "@10:20: 15 alerts", "", "@10:20", 15, STATE_CRITICAL },
	{ "@10:20: 20 alerts", "", "@10:20", 20, STATE_CRITICAL },
	{ "@10:20: 20.1 ok", "", "@10:20", 20.1, STATE_OK },
	/* "@0": alert on exactly 0. */
	{ "@0: 0 alerts", "", "@0", 0, STATE_CRITICAL },
	{ "@0: 1 ok", "", "@0", 1, STATE_OK },
	{ "~:: never alerts", "", "~:", -1e300, STATE_OK },
	{ "@~:: always alerts", "", "@~:", 42, STATE_CRITICAL },
	/* warn and crit together: crit wins, then warn. */
	{ "warn 80, crit 90: 50", "80", "90", 50, STATE_OK },
	{ "warn 80, crit 90: 85", "80", "90", 85, STATE_WARNING },
	{ "warn 80, crit 90: 95", "80", "90", 95, STATE_CRITICAL },
	{ "warn 20:, crit 10: (free space): 15", "20:", "10:", 15,
	    STATE_WARNING },
	{ "warn 20:, crit 10: (free space): 5", "20:", "10:", 5,
	    STATE_CRITICAL },
	{ "warn only", "5", "", 6, STATE_WARNING },
	{ "no thresholds", "", "", 1e300, STATE_OK },
};

static void
test_parse(void **state)
{
	const struct parse_case *c = *state;
	struct range r, back;
	char buf[PERF_RANGE_MAX], again[PERF_RANGE_MAX];

	memset(&r, 0xa5, sizeof(r));
	assert_int_equal(range_parse(c->text, &r), c->rc);
	assert_int_equal(r.set, c->set);
	if (!c->set) {
		/* A rejected or empty text leaves no threshold behind. */
		assert_false(range_alert(&r, 1e300));
		range_format(&r, buf, sizeof(buf));
		assert_string_equal(buf, "");
		return;
	}
	assert_int_equal(r.inside, c->inside);
	assert_int_equal(r.start_inf, c->start_inf);
	assert_int_equal(r.end_inf, c->end_inf);
	if (!c->start_inf)
		assert_true(r.start == c->start);
	if (!c->end_inf)
		assert_true(r.end == c->end);

	range_format(&r, buf, sizeof(buf));
	assert_string_equal(buf, c->canon);
	/* The canonical text reads back as the very same range. */
	assert_int_equal(range_parse(buf, &back), 0);
	assert_int_equal(back.set, r.set);
	assert_int_equal(back.inside, r.inside);
	assert_int_equal(back.start_inf, r.start_inf);
	assert_int_equal(back.end_inf, r.end_inf);
	if (back.start != r.start || back.end != r.end)
		fail_msg("\"%s\" printed as \"%s\" reads back as %.17g:%.17g, "
		    "not %.17g:%.17g", c->text, buf, back.start, back.end,
		    r.start, r.end);
	range_format(&back, again, sizeof(again));
	assert_string_equal(again, buf);
}

static void
test_eval(void **state)
{
	const struct eval_case *c = *state;
	struct range w, cr;

	assert_int_equal(range_parse(c->warn, &w), 0);
	assert_int_equal(range_parse(c->crit, &cr), 0);
	assert_string_equal(result_state_name(range_eval(&w, &cr, c->value)),
	    result_state_name(c->want));
}

static void
test_to_perf(void **state)
{
	struct perf p;
	struct range w, c, none;

	(void)state;
	memset(&p, 0, sizeof(p));
	assert_int_equal(range_parse("0:80", &w), 0);
	assert_int_equal(range_parse("@90:1e3", &c), 0);
	range_to_perf(&p, &w, &c);
	assert_string_equal(p.warn, "80");
	assert_string_equal(p.crit, "@90:1000");
	assert_int_equal(range_parse("", &none), 0);
	range_to_perf(&p, &none, &none);
	assert_string_equal(p.warn, "");
	assert_string_equal(p.crit, "");
}

/* A short buffer is cut and terminated, never overrun. */
static void
test_format_short(void **state)
{
	struct range r;
	char buf[8];

	(void)state;
	assert_int_equal(range_parse("@-10:-5", &r), 0);
	memset(buf, 'z', sizeof(buf));
	range_format(&r, buf, 4);
	assert_string_equal(buf, "@-1");
	assert_int_equal(buf[4], 'z');
	range_format(&r, buf, 0);
	assert_int_equal(buf[0], '@');
}

static int
run_table(const char *group, CMUnitTestFunction fn, const void *rows,
    size_t n, size_t size)
{
	struct CMUnitTest *t;
	int failed;

	if ((t = calloc(n, sizeof(*t))) == NULL)
		return 1;
	for (size_t i = 0; i < n; i++) {
		const void *row = (const char *)rows + i * size;

		/* Every row struct starts with its name. */
		t[i].name = *(const char *const *)row;
		t[i].test_func = fn;
		t[i].initial_state = (void *)(uintptr_t)row;
	}
	failed = _cmocka_run_group_tests(group, t, n, NULL, NULL);
	free(t);
	return failed;
}

int
main(void)
{
	const struct CMUnitTest others[] = {
		cmocka_unit_test(test_to_perf),
		cmocka_unit_test(test_format_short),
	};
	int failed = 0;

	failed += run_table("range_parse", test_parse, parses,
	    sizeof(parses) / sizeof(parses[0]), sizeof(parses[0]));
	failed += run_table("range_eval", test_eval, evals,
	    sizeof(evals) / sizeof(evals[0]), sizeof(evals[0]));
	failed += cmocka_run_group_tests(others, NULL, NULL);
	return failed != 0;
}
