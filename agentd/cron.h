/*
 * Calendar schedules: 5-field cron expressions (minute hour day-of-month
 * month day-of-week) parsed once from the config, and the next fire time
 * after an instant in the process's local time zone (TZ), DST included.
 */
#ifndef CRON_H
#define CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CRON_EXPR_MAX	256	/* bytes of an expression */
/* cron_next looks this many days ahead: 400 Gregorian years, after which
 * dates and weekdays repeat, so whatever fires at all fires within it
 * (29 February on a Friday can be 40 years away). */
#define CRON_SEARCH_DAYS 146097

struct cron {
	uint64_t	minute;		/* bit n = minute n, 0-59 */
	uint32_t	hour;		/* 0-23 */
	uint32_t	mday;		/* 1-31 */
	uint16_t	month;		/* 1-12 */
	uint8_t		wday;		/* 0-6, 0 = Sunday */
	/* Vixie cron's rule: when both day fields are restricted (do not
	 * start with '*'), a day matching either one fires. */
	bool		mday_any;
	bool		wday_any;
};

/*
 * Parses expr into *c. Returns 0, or -EINVAL with a message naming the
 * field and the bad token in err (errlen bytes): "day-of-month: '32' is
 * out of range 1-31". An expression that can never fire (a day-of-month
 * no listed month has, as in "0 0 31 2 *") is refused here too.
 */
int	cron_parse(const char *expr, struct cron *c, char *err, size_t errlen);

/*
 * The first instant strictly after `after` (seconds since the epoch) at
 * which c fires in local time. A wall time skipped by a spring-forward
 * fires once, at the transition (the first valid instant after it); a wall
 * time repeated by a fall-back fires once, at its first occurrence.
 * Returns 0 with *next set, or -ERANGE when nothing fires within
 * CRON_SEARCH_DAYS (only for a struct cron that cron_parse did not make)
 * or `after` is before 1970-01-03 or after the year 5000.
 */
int	cron_next(const struct cron *c, time_t after, time_t *next);

#endif
