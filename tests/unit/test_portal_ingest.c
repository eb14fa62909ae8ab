/* The portal's input parsers: report batches (field-naming errors), the
 * gzip bound, token helpers and the rate limiter. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <zlib.h>

#include "auth.h"
#include "gunzip.h"
#include "ingest.h"
#include "portal.h"
#include "ratelimit.h"

struct parse_case {
	const char	*json;
	int		 rc;
	const char	*err;	/* expected message (prefix) when rc != 0 */
};

static const struct parse_case cases[] = {
	{ "{\"reports\": []}", 0, NULL },
	{ "{\"reports\": [{\"seq\": 1, \"kind\": \"heartbeat\", \"time\": 1.5,"
	  " \"payload\": {\"checks\": [{\"name\": \"disk\", \"state\": \"OK\","
	  " \"summary\": \"fine\", \"when\": 2, \"perfdata\": []}]}}]}", 0,
	  NULL },
	/* unknown fields and kinds are accepted */
	{ "{\"v\": 2, \"reports\": [{\"seq\": 7, \"kind\": \"future\", "
	  "\"time\": 3, \"payload\": {\"x\": [1]}, \"extra\": true}]}", 0,
	  NULL },
	{ "[]", -EINVAL, "body: expected a JSON object" },
	{ "{", -EINVAL, "body: invalid JSON" },
	{ "{}", -EINVAL, "reports: missing" },
	{ "{\"reports\": {}}", -EINVAL, "reports: expected an array" },
	{ "{\"reports\": [1]}", -EINVAL, "reports[0]: expected an object" },
	{ "{\"reports\": [{\"kind\": \"x\", \"time\": 1, \"payload\": {}}]}",
	  -EINVAL, "reports[0].seq: missing" },
	{ "{\"reports\": [{\"seq\": \"1\", \"kind\": \"x\", \"time\": 1, "
	  "\"payload\": {}}]}", -EINVAL, "reports[0].seq: expected an integer" },
	{ "{\"reports\": [{\"seq\": 1.0, \"kind\": \"x\", \"time\": 1, "
	  "\"payload\": {}}]}", -EINVAL, "reports[0].seq: expected an integer" },
	{ "{\"reports\": [{\"seq\": 0, \"kind\": \"x\", \"time\": 1, "
	  "\"payload\": {}}]}", -EINVAL, "reports[0].seq: must be at least 1" },
	{ "{\"reports\": [{\"seq\": -5, \"kind\": \"x\", \"time\": 1, "
	  "\"payload\": {}}]}", -EINVAL, "reports[0].seq: must be at least 1" },
	{ "{\"reports\": [{\"seq\": 9007199254740992, \"kind\": \"x\", "
	  "\"time\": 1, \"payload\": {}}]}", -EINVAL,
	  "reports[0].seq: larger than 9007199254740991" },
	{ "{\"reports\": [{\"seq\": 99999999999999999999999, \"kind\": \"x\", "
	  "\"time\": 1, \"payload\": {}}]}", -EINVAL, "body: invalid JSON" },
	{ "{\"reports\": [{\"seq\": 1, \"kind\": 3, \"time\": 1, "
	  "\"payload\": {}}]}", -EINVAL, "reports[0].kind: expected a string" },
	{ "{\"reports\": [{\"seq\": 1, \"time\": 1, \"payload\": {}}]}",
	  -EINVAL, "reports[0].kind: missing" },
	{ "{\"reports\": [{\"seq\": 1, \"kind\": \"x\", \"payload\": {}}]}",
	  -EINVAL, "reports[0].time: missing" },
	{ "{\"reports\": [{\"seq\": 1, \"kind\": \"x\", \"time\": \"now\", "
	  "\"payload\": {}}]}", -EINVAL, "reports[0].time: expected a number" },
	{ "{\"reports\": [{\"seq\": 1, \"kind\": \"x\", \"time\": 1}]}",
	  -EINVAL, "reports[0].payload: missing" },
	{ "{\"reports\": [{\"seq\": 1, \"kind\": \"x\", \"time\": 1, "
	  "\"payload\": []}]}", -EINVAL, "reports[0].payload: expected an "
	  "object" },
	{ "{\"reports\": [{\"seq\": 1, \"kind\": \"heartbeat\", \"time\": 1, "
	  "\"payload\": {}}]}", -EINVAL, "reports[0].payload.checks: missing" },
	{ "{\"reports\": [{\"seq\": 1, \"kind\": \"heartbeat\", \"time\": 1, "
	  "\"payload\": {\"checks\": [{\"name\": \"d\", \"state\": \"BAD\"}]}}"
	  "]}", -EINVAL, "reports[0].payload.checks[0].state: expected OK, "
	  "WARNING, CRITICAL, UNKNOWN or PENDING" },
	{ "{\"reports\": [{\"seq\": 1, \"kind\": \"state_change\", \"time\": 1,"
	  " \"payload\": {\"check\": {\"state\": \"OK\"}}}]}", -EINVAL,
	  "reports[0].payload.check.name: missing" },
	{ "{\"reports\": [{\"seq\": 1, \"kind\": \"command_result\", "
	  "\"time\": 1, \"payload\": {\"command_id\": \"cmd_1\", \"status\": "
	  "\"maybe\"}}]}", -EINVAL, "reports[0].payload.status: expected done, "
	  "refused or failed" },
	{ "{\"reports\": [{\"seq\": 1, \"kind\": \"inventory\", \"time\": 1, "
	  "\"payload\": {\"host\": {\"hostname\": 5}}}]}", -EINVAL,
	  "reports[0].payload.host.hostname: expected a string" },
	/* second report wrong: the index is named */
	{ "{\"reports\": [{\"seq\": 1, \"kind\": \"x\", \"time\": 1, "
	  "\"payload\": {}}, {\"seq\": 2, \"kind\": \"x\", \"time\": -1, "
	  "\"payload\": {}}]}", -EINVAL, "reports[1].time: out of range" },
	/* not UTF-8 */
	{ "{\"reports\": [{\"seq\": 1, \"kind\": \"\xff\xfe\", \"time\": 1, "
	  "\"payload\": {}}]}", -EINVAL, "body: invalid JSON" },
	{ "{\"reports\": [{\"seq\": 1, \"kind\": \"a\\u0000b\", \"time\": 1, "
	  "\"payload\": {}}]}", -EINVAL, "body: invalid JSON" },
	/* duplicate keys: the agent refuses them, so does the portal */
	{ "{\"reports\": [], \"reports\": []}", -EINVAL,
	  "body: invalid JSON" },
	{ "{\"reports\": [{\"seq\": 1, \"kind\": \"state_change\", \"time\": 1,"
	  " \"payload\": {\"check\": {\"name\": \"a\", \"state\": \"OK\", "
	  "\"state\": \"CRITICAL\"}}}]}", -EINVAL, "body: invalid JSON" },
	/* command ids: at most 64 bytes, as on the agent */
	{ "{\"reports\": [{\"seq\": 1, \"kind\": \"command_result\", "
	  "\"time\": 1, \"payload\": {\"command_id\": \"cmd_"
	  "123456789012345678901234567890123456789012345678901234567890\", "
	  "\"status\": \"done\"}}]}", 0, NULL },
	{ "{\"reports\": [{\"seq\": 1, \"kind\": \"command_result\", "
	  "\"time\": 1, \"payload\": {\"command_id\": \"cmd_"
	  "1234567890123456789012345678901234567890123456789012345678901\", "
	  "\"status\": \"done\"}}]}", -EINVAL,
	  "reports[0].payload.command_id: must be 1 to 64 bytes" },
};

static void
test_parse_table(void **state)
{
	struct ingest_batch b;
	char err[512];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = ingest_parse_reports(cases[i].json, strlen(cases[i].json),
		    &b, err, sizeof(err));
		if (rc != cases[i].rc || (cases[i].err != NULL &&
		    strncmp(err, cases[i].err, strlen(cases[i].err)) != 0)) {
			print_error("case %zu: %s\n  got rc %d err '%s'\n"
			    "  want rc %d err '%s'\n", i, cases[i].json, rc,
			    err, cases[i].rc, cases[i].err ? cases[i].err :
			    "");
			fail();
		}
		if (rc == 0)
			ingest_batch_clear(&b);
		assert_null(b.root);
	}
}

static void
test_parse_fields(void **state)
{
	static const char j[] = "{\"reports\": [{\"seq\": 41, \"kind\": "
	    "\"heartbeat\", \"time\": 1795430400.12, \"payload\": {\"checks\": "
	    "[]}}, {\"seq\": 9007199254740991, \"kind\": \"x\", \"time\": 2, "
	    "\"payload\": {}}]}";
	struct ingest_batch b;
	char err[256];

	(void)state;
	assert_int_equal(ingest_parse_reports(j, strlen(j), &b, err,
	    sizeof(err)), 0);
	assert_int_equal(b.n, 2);
	assert_int_equal(b.reports[0].seq, 41);
	assert_string_equal(b.reports[0].kind, "heartbeat");
	assert_true(b.reports[0].time > 1795430400.1 &&
	    b.reports[0].time < 1795430400.2);
	assert_int_equal(b.reports[1].seq, 9007199254740991LL);
	ingest_batch_clear(&b);
}

/* {"reports": [n minimal reports]} */
static char *
batch_of(size_t n)
{
	size_t cap = 64 + n * 64, len, i;
	char *s = malloc(cap);

	assert_non_null(s);
	len = (size_t)snprintf(s, cap, "{\"reports\": [");
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s{\"seq\": %zu, "
		    "\"kind\": \"x\", \"time\": 1, \"payload\": {}}",
		    i ? "," : "", i + 1);
	snprintf(s + len, cap - len, "]}");
	return s;
}

static void
test_parse_count_limit(void **state)
{
	struct ingest_batch b;
	char err[256], *s;

	(void)state;
	s = batch_of(PORTAL_MAX_REPORTS);
	assert_int_equal(ingest_parse_reports(s, strlen(s), &b, err,
	    sizeof(err)), 0);
	assert_int_equal(b.n, PORTAL_MAX_REPORTS);
	ingest_batch_clear(&b);
	free(s);
	s = batch_of(PORTAL_MAX_REPORTS + 1);
	assert_int_equal(ingest_parse_reports(s, strlen(s), &b, err,
	    sizeof(err)), -E2BIG);
	assert_string_equal(err, "reports: 101 reports, at most 100 per "
	    "request");
	free(s);
}

/* A heartbeat listing more checks than an agent may have: 400. */
static void
test_parse_check_count(void **state)
{
	struct ingest_batch b;
	size_t cap = 128 + (PORTAL_MAX_CHECKS + 1) * 48, len, i;
	char err[256], *s = malloc(cap);

	(void)state;
	len = (size_t)snprintf(s, cap, "{\"reports\": [{\"seq\": 1, \"kind\": "
	    "\"heartbeat\", \"time\": 1, \"payload\": {\"checks\": [");
	for (i = 0; i < PORTAL_MAX_CHECKS + 1; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s{\"name\": "
		    "\"c%zu\", \"state\": \"OK\"}", i ? "," : "", i);
	snprintf(s + len, cap - len, "]}}]}");
	assert_int_equal(ingest_parse_reports(s, strlen(s), &b, err,
	    sizeof(err)), -EINVAL);
	assert_string_equal(err, "reports[0].payload.checks: 1001 checks, at "
	    "most 1000 per agent");
	free(s);
}

/* n heartbeats of per checks each */
static char *
heartbeats_of(size_t n, size_t per)
{
	size_t cap = 64 + n * (100 + per * 40), len, i, j;
	char *s = malloc(cap);

	assert_non_null(s);
	len = (size_t)snprintf(s, cap, "{\"reports\": [");
	for (i = 0; i < n; i++) {
		len += (size_t)snprintf(s + len, cap - len, "%s{\"seq\": %zu, "
		    "\"kind\": \"heartbeat\", \"time\": 1, \"payload\": "
		    "{\"checks\": [", i ? "," : "", i + 1);
		for (j = 0; j < per; j++)
			len += (size_t)snprintf(s + len, cap - len, "%s{\"name\":"
			    " \"c%zu\", \"state\": \"OK\"}", j ? "," : "", j);
		len += (size_t)snprintf(s + len, cap - len, "]}}");
	}
	snprintf(s + len, cap - len, "]}");
	return s;
}

/* Every check is store work under one lock: a request carries a bounded
 * number of them, or is 413 so that the agent splits it. */
static void
test_parse_check_limit(void **state)
{
	struct ingest_batch *b = calloc(1, sizeof(*b));
	char err[256], *s;

	(void)state;
	assert_non_null(b);
	s = heartbeats_of(100, PORTAL_MAX_REQUEST_CHECKS / 100);
	assert_int_equal(ingest_parse_reports(s, strlen(s), b, err,
	    sizeof(err)), 0);
	ingest_batch_clear(b);
	free(s);
	s = heartbeats_of(100, PORTAL_MAX_REQUEST_CHECKS / 100 + 1);
	assert_int_equal(ingest_parse_reports(s, strlen(s), b, err,
	    sizeof(err)), -E2BIG);
	assert_string_equal(err, "reports: more than 20000 checks in one "
	    "request");
	free(s);
	free(b);
}

static void
test_parse_long_string(void **state)
{
	size_t n = PORTAL_MAX_STRING + 1, len;
	struct ingest_batch b;
	char err[256], *s;

	(void)state;
	s = malloc(n + 200);
	assert_non_null(s);
	len = (size_t)sprintf(s, "{\"reports\": [{\"seq\": 1, \"kind\": "
	    "\"x\", \"time\": 1, \"payload\": {\"t\": \"");
	memset(s + len, 'a', n);
	strcpy(s + len + n, "\"}}]}");
	assert_int_equal(ingest_parse_reports(s, strlen(s), &b, err,
	    sizeof(err)), -EINVAL);
	assert_string_equal(err, "reports[0].payload: a string is longer "
	    "than 65536 bytes");
	free(s);
}

static void
test_enroll_and_command(void **state)
{
	static const char ok[] = "{\"token\": \"enr_x\", \"host\": "
	    "{\"hostname\": \"h\", \"machine_id\": \"m\", \"cpus\": 2}}";
	static const char bad[] = "{\"token\": \"enr_x\", \"host\": "
	    "{\"hostname\": \"h\"}}";
	static const char cmd[] = "{\"type\": \"open_support_session\", "
	    "\"args\": {\"requested_by\": \"bob\", \"minutes\": 0}}";
	const char *tok, *type;
	json_t *root, *host, *args;
	char err[256];

	(void)state;
	assert_int_equal(ingest_parse_enroll(ok, strlen(ok), &root, &tok,
	    &host, err, sizeof(err)), 0);
	assert_string_equal(tok, "enr_x");
	json_decref(root);
	assert_int_equal(ingest_parse_enroll(bad, strlen(bad), &root, &tok,
	    &host, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "host.machine_id: missing");
	assert_null(root);
	assert_int_equal(ingest_parse_command(cmd, strlen(cmd), &root, &type,
	    &args, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "args.minutes: expected an integer from 1 "
	    "to 1440");
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * prefix, then depth levels of open, each followed by wide small siblings
 * ("{\"a\":1}," each), the innermost value "0", the closes, then suffix.
 * An open of "[" nests arrays; "{\"k\":" nests objects.
 */
static char *
nested(const char *prefix, const char *open, const char *close,
    size_t depth, size_t wide, const char *suffix)
{
	static const char sib[] = "{\"a\":1},";
	size_t cap, len, i, j;
	char *s;

	cap = strlen(prefix) + strlen(suffix) + 2 + depth * (strlen(open) +
	    strlen(close) + wide * (sizeof(sib) - 1));
	s = malloc(cap);
	assert_non_null(s);
	len = (size_t)snprintf(s, cap, "%s", prefix);
	for (i = 0; i < depth; i++) {
		memcpy(s + len, open, strlen(open));
		len += strlen(open);
		for (j = 0; j < wide; j++) {
			memcpy(s + len, sib, sizeof(sib) - 1);
			len += sizeof(sib) - 1;
		}
	}
	s[len++] = '0';
	for (i = 0; i < depth; i++) {
		memcpy(s + len, close, strlen(close));
		len += strlen(close);
	}
	snprintf(s + len, cap - len, "%s", suffix);
	return s;
}

/* An enrolment body with host.x nested depth deep: err after at most 1 s. */
static void
enroll_nested(const char *open, const char *close, size_t depth, size_t wide,
    int want_rc, const char *want_err)
{
	const char *tok;
	json_t *root, *host;
	char err[512], *s;
	double t0, dt;
	int rc;

	s = nested("{\"token\": \"enr_x\", \"host\": {\"hostname\": \"h\", "
	    "\"machine_id\": \"m\", \"x\": ", open, close, depth, wide, "}}");
	err[0] = '\0';
	t0 = now();
	rc = ingest_parse_enroll(s, strlen(s), &root, &tok, &host, err,
	    sizeof(err));
	dt = now() - t0;
	if (rc != want_rc || (want_err != NULL && strcmp(err, want_err) != 0) ||
	    dt > 1.0) {
		print_error("enrolment body %zu bytes, %zu deep, %zu wide: "
		    "rc %d err '%s' in %.3f s; want rc %d err '%s' within "
		    "1 s\n", strlen(s), depth, wide, rc, err, dt, want_rc,
		    want_err != NULL ? want_err : "");
		fail();
	}
	if (rc == 0)
		json_decref(root);
	free(s);
}

/* A report whose payload.x is nested depth deep; as above. */
static void
report_nested(size_t depth, size_t wide, int want_rc, const char *want_err)
{
	struct ingest_batch *b = calloc(1, sizeof(*b));
	char err[512], *s;
	double t0, dt;
	int rc;

	assert_non_null(b);
	s = nested("{\"reports\": [{\"seq\": 1, \"kind\": \"x\", \"time\": 1, "
	    "\"payload\": {\"x\": ", "[", "]", depth, wide, "}}]}");
	err[0] = '\0';
	t0 = now();
	rc = ingest_parse_reports(s, strlen(s), b, err, sizeof(err));
	dt = now() - t0;
	if (rc != want_rc || (want_err != NULL && strcmp(err, want_err) != 0) ||
	    dt > 1.0) {
		print_error("report body %zu bytes, %zu deep, %zu wide: rc %d "
		    "err '%s' in %.3f s; want rc %d err '%s' within 1 s\n",
		    strlen(s), depth, wide, rc, err, dt, want_rc,
		    want_err != NULL ? want_err : "");
		fail();
	}
	if (rc == 0)
		ingest_batch_clear(b);
	free(b);
	free(s);
}

/*
 * Issue 7: a ~200-byte enrolment body nested 66 deep never returned (the
 * bound check walked a failing child twice per level, 2^64 work). Every
 * depth must be refused in linear time with an error that says why.
 */
static void
test_deep_nesting(void **state)
{
	(void)state;
	/* host is level 0: 63 arrays put the innermost value at 64, fine */
	enroll_nested("[", "]", 63, 0, 0, NULL);
	enroll_nested("[", "]", 66, 0, -EINVAL,
	    "host: nested deeper than 64");
	enroll_nested("{\"k\":", "}", 66, 0, -EINVAL,
	    "host: nested deeper than 64");
	enroll_nested("[", "]", 1000, 0, -EINVAL,
	    "body: nested deeper than 72");
	enroll_nested("[", "]", 100000, 0, -EINVAL,
	    "body: nested deeper than 72");
	enroll_nested("{\"k\":", "}", 100000, 0, -EINVAL,
	    "body: nested deeper than 72");
	report_nested(63, 0, 0, NULL);
	report_nested(66, 0, -EINVAL,
	    "reports[0].payload: nested deeper than 64");
	report_nested(1000, 0, -EINVAL, "body: nested deeper than 72");
	report_nested(100000, 0, -EINVAL, "body: nested deeper than 72");
}

/* Wide at every level as well as deep: still linear, pass or fail. */
static void
test_wide_and_deep(void **state)
{
	(void)state;
	/* the siblings' members are one level below the innermost value */
	enroll_nested("[", "]", 62, 200, 0, NULL);
	enroll_nested("[", "]", 66, 200, -EINVAL,
	    "host: nested deeper than 64");
	report_nested(62, 1000, 0, NULL);
	report_nested(66, 1000, -EINVAL,
	    "reports[0].payload: nested deeper than 64");
	report_nested(5000, 20, -EINVAL, "body: nested deeper than 72");
}

/* Brackets inside strings are not nesting; escaped quotes stay inside. */
static void
test_depth_ignores_strings(void **state)
{
	struct ingest_batch b;
	char err[256], *s, *body;
	size_t n = 5000, len;

	(void)state;
	s = malloc(2 * n + 1);
	assert_non_null(s);
	memset(s, '[', n);
	memset(s + n, '{', n);
	s[2 * n] = '\0';
	body = malloc(4 * n + 200);
	assert_non_null(body);
	len = (size_t)sprintf(body, "{\"reports\": [{\"seq\": 1, \"kind\": "
	    "\"x\", \"time\": 1, \"payload\": {\"t\": \"\\\"\\\\%s\"}}]}", s);
	assert_int_equal(ingest_parse_reports(body, len, &b, err,
	    sizeof(err)), 0);
	ingest_batch_clear(&b);
	free(body);
	free(s);
}

static char *
gz(const char *data, size_t len, size_t *outlen)
{
	z_stream z = { 0 };
	size_t cap = compressBound((uLong)len) + 64;
	char *out = malloc(cap);

	assert_non_null(out);
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
	    Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)(uintptr_t)data;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	*outlen = cap - z.avail_out;
	deflateEnd(&z);
	return out;
}

static void
test_gunzip_bound(void **state)
{
	size_t big = PORTAL_MAX_INFLATED + 1, zlen, outlen;
	char *plain, *z, *out;
	double t0;

	(void)state;
	plain = calloc(1, big);
	assert_non_null(plain);
	/* exactly at the bound: accepted */
	z = gz(plain, PORTAL_MAX_INFLATED, &zlen);
	assert_int_equal(gunzip_bounded(z, zlen, PORTAL_MAX_INFLATED, &out,
	    &outlen), 0);
	assert_int_equal(outlen, PORTAL_MAX_INFLATED);
	free(out);
	free(z);
	/* one byte more: a bomb of zeros, refused without output, and soon
	 * (the work is bounded by the output bound, not the stream) */
	z = gz(plain, big, &zlen);
	assert_true(zlen < 16 * 1024);
	t0 = now();
	assert_int_equal(gunzip_bounded(z, zlen, PORTAL_MAX_INFLATED, &out,
	    &outlen), -E2BIG);
	if (now() - t0 > 1.0) {
		print_error("refusing a %zu-byte gzip bomb took %.3f s\n",
		    zlen, now() - t0);
		fail();
	}
	assert_null(out);
	/* truncated and garbage */
	assert_int_equal(gunzip_bounded(z, zlen / 2, PORTAL_MAX_INFLATED, &out,
	    &outlen), -EINVAL);
	assert_int_equal(gunzip_bounded("not gzip", 8, PORTAL_MAX_INFLATED,
	    &out, &outlen), -EINVAL);
	free(z);
	z = gz("{\"reports\": []}", 15, &zlen);
	assert_int_equal(gunzip_bounded(z, zlen, 100, &out, &outlen), 0);
	assert_string_equal(out, "{\"reports\": []}");
	free(out);
	free(z);
	free(plain);
}

static void
test_tokens(void **state)
{
	char a[AUTH_TOKEN_LEN], b[AUTH_TOKEN_LEN], h[AUTH_HASH_LEN];
	char u[AUTH_UUID_LEN];

	(void)state;
	assert_int_equal(auth_token_new("agc", a, sizeof(a)), 0);
	assert_int_equal(auth_token_new("agc", b, sizeof(b)), 0);
	assert_int_equal(strlen(a), AUTH_TOKEN_LEN - 1);
	assert_memory_equal(a, "agc_", 4);
	assert_string_not_equal(a, b);
	assert_int_equal(strspn(a + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijk"
	    "lmnopqrstuvwxyz0123456789-_"), 43);
	assert_int_equal(auth_hash("abc", h, sizeof(h)), 0);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a"
	    "9cb410ff61f20015ad");
	assert_int_equal(auth_uuid(u, sizeof(u)), 0);
	assert_int_equal(strlen(u), 36);
	assert_int_equal(u[14], '4');
	assert_string_equal(auth_bearer("Bearer agc_x"), "agc_x");
	assert_null(auth_bearer("Basic x"));
	assert_null(auth_bearer("Bearer "));
	assert_null(auth_bearer(NULL));
}

static void
test_constant_time_equal(void **state)
{
	(void)state;
	assert_int_equal(auth_equal("abcdef", "abcdef", 6), 1);
	assert_int_equal(auth_equal("abcdef", "abcdeg", 6), 0);
	assert_int_equal(auth_equal("xbcdef", "abcdef", 6), 0);
	assert_int_equal(auth_equal("", "", 0), 1);
}

static void
test_ratelimit(void **state)
{
	struct ratelimit *rl = ratelimit_new(20, 100);
	int i, w;

	(void)state;
	for (i = 0; i < 100; i++)
		if ((w = ratelimit_take(rl, "a", 1000.0)) != 0) {
			print_error("request %d of the burst refused (%d)\n",
			    i, w);
			fail();
		}
	assert_int_equal(ratelimit_take(rl, "a", 1000.0), 1);
	/* another key has its own bucket */
	assert_int_equal(ratelimit_take(rl, "b", 1000.0), 0);
	/* 20/s: after 0.1 s two more */
	assert_int_equal(ratelimit_take(rl, "a", 1000.1), 0);
	assert_int_equal(ratelimit_take(rl, "a", 1000.1), 0);
	assert_int_equal(ratelimit_take(rl, "a", 1000.1), 1);
	/* refilled to the burst, not beyond */
	for (i = 0; i < 100; i++)
		assert_int_equal(ratelimit_take(rl, "a", 2000.0), 0);
	assert_int_equal(ratelimit_take(rl, "a", 2000.0), 1);
	ratelimit_free(rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_fields),
		cmocka_unit_test(test_parse_count_limit),
		cmocka_unit_test(test_parse_check_count),
		cmocka_unit_test(test_parse_check_limit),
		cmocka_unit_test(test_parse_long_string),
		cmocka_unit_test(test_enroll_and_command),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_wide_and_deep),
		cmocka_unit_test(test_depth_ignores_strings),
		cmocka_unit_test(test_gunzip_bound),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_constant_time_equal),
		cmocka_unit_test(test_ratelimit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
