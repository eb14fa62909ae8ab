/*
 * libFuzzer target: the forecast collector's state file
 * (state_dir/forecast), read back at start as untrusted. Whatever
 * series_set_parse accepts is bounded (series, points), ordered in time,
 * finite, within the window, and formats to text that parses to the same;
 * a refusal leaves the set empty and says why.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "series.h"

#define NOW	1764000000.0
#define WINDOW	21600.0

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct series_params p = { .window = WINDOW, .min_samples = 2,
	    .min_span = 0, .min_fit = 0, .horizon = 1e12 };
	struct series_set set, again;
	struct series_fit f;
	char err[256], *text, *text2;

	err[0] = '\0';
	if (series_set_parse((const char *)data, size, NOW, WINDOW, &set, err,
	    sizeof(err)) != 0) {
		if (set.n != 0 || set.s != NULL || err[0] == '\0')
			abort();
		return 0;
	}
	if (set.n > SERIES_SET_MAX)
		abort();
	for (size_t i = 0; i < set.n; i++) {
		const struct series *s = set.s[i];

		if (s->n > SERIES_CAP || !isfinite(s->limit))
			abort();
		for (unsigned k = 0; k < s->n; k++) {
			const struct series_point *q =
			    &s->pt[(s->head + k) % SERIES_CAP];

			if (!isfinite(q->t) || !isfinite(q->v) ||
			    q->t > NOW || q->t < NOW - WINDOW || (k > 0 &&
			    q->t <= s->pt[(s->head + k - 1) % SERIES_CAP].t))
				abort();
		}
		series_forecast(s, &p, NOW, &f);
		series_add(set.s[i], &p, NOW, 1, 2);
	}
	series_set_format(&set, &text);
	if (series_set_parse(text, strlen(text), NOW, WINDOW, &again, err,
	    sizeof(err)) != 0 || again.n != set.n)
		abort();
	series_set_format(&again, &text2);
	if (strcmp(text, text2) != 0)
		abort();
	free(text);
	free(text2);
	series_set_clear(&again);
	series_set_clear(&set);
	return 0;
}
