/*
 * libFuzzer target for plugin_parse: arbitrary bytes as a plugin's stdout,
 * the first byte as its exit code, then the invariants every consumer of a
 * struct result relies on. A broken invariant aborts, which libFuzzer
 * reports as a crash.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "result.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_plugin: invariant failed: %s\n",	\
		    #cond);						\
		abort();						\
	}								\
} while (0)

/* Valid UTF-8 with no control character but tab (and newline when
 * newline_ok): what plugin_parse promises for its text. */
static void
check_text(const char *s, size_t n, int newline_ok)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		if (p[i] < 0x80) {
			CHECK(p[i] >= 0x20 || p[i] == '\t' ||
			    (newline_ok && p[i] == '\n'));
			CHECK(p[i] != 0x7f);
			i++;
			continue;
		}
		if (p[i] >= 0xc2 && p[i] <= 0xdf)
			k = 2;
		else if (p[i] >= 0xe0 && p[i] <= 0xef)
			k = 3;
		else {
			CHECK(p[i] >= 0xf0 && p[i] <= 0xf4);
			k = 4;
		}
		CHECK(i + k <= n);
		for (size_t j = 1; j < k; j++)
			CHECK((p[i + j] & 0xc0) == 0x80);
		CHECK(!(p[i] == 0xc2 && p[i + 1] < 0xa0));	/* C1 */
		CHECK(!(p[i] == 0xe0 && p[i + 1] < 0xa0));	/* overlong */
		CHECK(!(p[i] == 0xed && p[i + 1] > 0x9f));	/* surrogate */
		CHECK(!(p[i] == 0xf0 && p[i + 1] < 0x90));	/* overlong */
		CHECK(!(p[i] == 0xf4 && p[i + 1] > 0x8f));	/* > U+10FFFF */
		i += k;
	}
}

static void
check_perf(const struct perf *p)
{
	size_t n = strnlen(p->label, sizeof(p->label));

	CHECK(n > 0 && n < sizeof(p->label));
	check_text(p->label, n, 0);
	CHECK(memchr(p->label, '\t', n) == NULL);
	n = strnlen(p->uom, sizeof(p->uom));
	CHECK(n < sizeof(p->uom));
	for (size_t i = 0; i < n; i++)
		CHECK(p->uom[i] == '%' ||
		    (p->uom[i] >= 'a' && p->uom[i] <= 'z') ||
		    (p->uom[i] >= 'A' && p->uom[i] <= 'Z'));
	CHECK(strnlen(p->warn, sizeof(p->warn)) < sizeof(p->warn));
	CHECK(strnlen(p->crit, sizeof(p->crit)) < sizeof(p->crit));
	check_text(p->warn, strlen(p->warn), 0);
	check_text(p->crit, strlen(p->crit), 0);
	CHECK(isnan(p->value) || isfinite(p->value));
	CHECK(!p->has_min || isfinite(p->min));
	CHECK(!p->has_max || isfinite(p->max));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result r = { 0 };
	int exit_code;
	size_t n;

	if (size == 0)
		return 0;
	/* Signed, so -1 (killed), 0-3, 4, 126 and 127 are all reachable. */
	exit_code = (int8_t)data[0];
	result_reset(&r);
	CHECK(plugin_parse((const char *)data + 1, size - 1, exit_code,
	    &r) == 0);

	CHECK(r.state >= STATE_OK && r.state <= STATE_UNKNOWN);
	if (exit_code >= 0 && exit_code <= 3)
		CHECK((int)r.state == exit_code);
	else
		CHECK(r.state == STATE_UNKNOWN);
	n = strnlen(r.summary, sizeof(r.summary));
	CHECK(n > 0 && n < sizeof(r.summary));
	check_text(r.summary, n, 0);
	if (r.long_text != NULL) {
		n = strnlen(r.long_text, RESULT_LONG_MAX);
		CHECK(n > 0 && n < RESULT_LONG_MAX);
		check_text(r.long_text, n, 1);
	}
	CHECK(r.nperf <= RESULT_PERF_MAX);
	CHECK(r.nperf == 0 || r.perf != NULL);
	for (size_t i = 0; i < r.nperf; i++)
		check_perf(&r.perf[i]);
	result_reset(&r);
	return 0;
}
