/*
 * The forecast engine's cost over many series (bench/warnings): heap bytes
 * per tracked series with a full window, and CPU per sample added and
 * evaluated (series_add + series_forecast), per point fitted, at the
 * collector's default interval (5 min: 73 points in 6 h) and sampled
 * every second (the ring thinned to 128 points).
 *   usage: warnings_bench [SERIES] [ROUNDS]	(default 10000, 50)
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "series.h"

static double
cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* One sample per series at time t, each then evaluated; returns the
 * points fitted in all. */
static double
round_all(struct series **s, size_t n, const struct series_params *p,
    double t, unsigned *forecasts)
{
	struct series_fit f;
	double points = 0;

	for (size_t i = 0; i < n; i++) {
		/* Each series fills at its own steady rate, with a wobble. */
		double v = 1e9 + (t - 1.764e9) * (1000 + i) +
		    (double)((i * 7919 + (size_t)t) % 1000);

		series_add(s[i], p, t, v, 1e10);
		if (series_forecast(s[i], p, t, &f) == SERIES_FORECAST)
			(*forecasts)++;
		points += f.n;
	}
	return points;
}

static void
bench(const char *what, size_t n, unsigned rounds, double step)
{
	const struct series_params p = { .window = 6 * 3600, .min_samples = 12,
	    .min_span = 3600, .min_fit = 0.8, .horizon = 365 * 86400.0 };
	struct series **s = calloc(n, sizeof(*s));
	struct mallinfo2 before, after;
	double t = 1.764e9, warm, ns, points = 0;
	unsigned forecasts = 0;
	char name[64], *text;
	struct series_set one = { 0 };

	before = mallinfo2();
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "/srv/volume%05zu", i);
		s[i] = series_new(SERIES_SPACE, name);
	}
	after = mallinfo2();
	/* Fill every window first (the memory is then at its most), a
	 * point per ring slot: faster samples would only be averaged. */
	warm = p.window / SERIES_CAP + 1;
	warm = step > warm ? step : warm;
	for (double end = t + p.window; t <= end; t += warm)
		round_all(s, n, &p, t, &forecasts);
	forecasts = 0;
	ns = cpu_ns();
	for (unsigned r = 0; r < rounds; r++, t += step)
		points += round_all(s, n, &p, t, &forecasts);
	ns = cpu_ns() - ns;
	printf("%s: %zu series, %u rounds, %.0f points fitted per "
	    "evaluation, %u forecasts\n", what, n, rounds,
	    points / ((double)n * rounds), forecasts);
	printf("  memory: %.0f bytes per series (heap; sizeof %zu)\n",
	    (double)(after.uordblks - before.uordblks) / n,
	    sizeof(struct series));
	printf("  cpu: %.0f ns per sample added and evaluated, %.2f ns per "
	    "point evaluated\n", ns / ((double)n * rounds), ns / points);
	one.s = &s[0];
	one.n = 1;
	series_set_format(&one, &text);
	printf("  state file: %zu bytes per series\n", strlen(text));
	free(text);
	for (size_t i = 0; i < n; i++)
		series_free(s[i]);
	free(s);
}

int
main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	unsigned rounds = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 50;

	if (n == 0 || rounds == 0) {
		fprintf(stderr, "usage: warnings_bench [SERIES] [ROUNDS]\n");
		return 2;
	}
	bench("every 5 min", n, rounds, 300);
	bench("every 1 s (thinned)", n, rounds, 1);
	return 0;
}
