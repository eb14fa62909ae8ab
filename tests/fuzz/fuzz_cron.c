/*
 * libFuzzer target: calendar schedules from the admin's config. Whatever
 * cron_parse accepts, cron_next must answer in bounded time with an
 * instant after the one asked about, in a zone with DST.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Around the spring-forward and fall-back of 2026 in Berlin. */
	static const time_t after[] = { 1774745400, 1774746000, 1792882800,
	    1792890000, 1798761599 };
	static int tz_set;
	struct cron c;
	char *expr, err[256];
	time_t t;

	if (!tz_set) {
		setenv("TZ", "Europe/Berlin", 1);
		tzset();
		tz_set = 1;
	}
	if ((expr = malloc(size + 1)) == NULL)
		return 0;
	memcpy(expr, data, size);
	expr[size] = '\0';
	err[0] = '\0';
	if (cron_parse(expr, &c, err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort();	/* a refusal says why */
		free(expr);
		return 0;
	}
	for (size_t i = 0; i < sizeof(after) / sizeof(after[0]); i++) {
		int rc = cron_next(&c, after[i], &t);

		/* Parsing refuses what can never fire. */
		if (rc != 0 || t <= after[i])
			abort();
	}
	free(expr);
	return 0;
}
