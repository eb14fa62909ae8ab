/*
 * series: the forecast engine. A fixed-size ring of (time, value) samples
 * per tracked resource, a least-squares line over a window with a
 * fit-quality guard, the time until the line meets the resource's limit,
 * and the text form the rings are kept in across agent restarts.
 *
 * Memory: one series is sizeof(struct series) (SERIES_CAP points of 16
 * bytes plus ~64 bytes of header: 2 KiB + 64 B) plus its item name, whatever
 * the sampling rate: samples closer together than window / SERIES_CAP are
 * averaged into one point, so the ring always spans the whole window.
 * Time is a parameter everywhere (seconds, CLOCK_REALTIME in the agent):
 * nothing here reads a clock.
 */
#ifndef SERIES_H
#define SERIES_H

#include <stdbool.h>
#include <stddef.h>

#define SERIES_CAP		128	/* points per ring */
#define SERIES_ITEM_MAX		4096	/* bytes of an item name, with NUL */
#define SERIES_SET_MAX		1024	/* series in one set (and state file) */
/* A state file holds at most SERIES_SET_MAX series of SERIES_CAP points
 * (a point is at most 50 bytes of text: 6.4 KiB a series plus its name; a
 * host's few dozen series make a few hundred KiB); a longer one is
 * refused unread. */
#define SERIES_FILE_MAX		((size_t)16 * 1024 * 1024)

enum series_resource {
	SERIES_SPACE,		/* bytes used of a filesystem */
	SERIES_INODES,		/* inodes used of a filesystem */
	SERIES_MEMORY,		/* bytes of RAM + swap in use */
	SERIES_NRESOURCES,
};

struct series_point {
	double	t;		/* seconds (CLOCK_REALTIME) */
	double	v;
};

struct series {
	char			*item;		/* mount point, or "memory" */
	enum series_resource	 resource;
	double			 limit;		/* value at which it is full */
	unsigned		 head;		/* oldest point */
	unsigned		 n;		/* points held */
	unsigned		 merged;	/* samples in the newest point */
	double			 slot_start;	/* time of its first sample */
	bool			 seen;		/* for the caller's sweeps */
	struct series_point	 pt[SERIES_CAP];
};

/* What makes a line trustworthy enough to forecast from. */
struct series_params {
	double		window;		/* seconds of samples fitted */
	unsigned	min_samples;	/* points in the window, <= SERIES_CAP */
	double		min_span;	/* seconds from first to last point */
	double		min_fit;	/* R^2 of the line, 0..1 */
	double		horizon;	/* ETAs beyond this are no forecast */
};

enum series_verdict {
	SERIES_FORECAST,	/* eta and rate are set */
	SERIES_FEW,		/* fewer than min_samples points */
	SERIES_SHORT,		/* they span less than min_span */
	SERIES_NOT_GROWING,	/* flat or shrinking */
	SERIES_NOISE,		/* R^2 under min_fit */
	SERIES_FAR,		/* ETA beyond horizon */
};

struct series_fit {
	enum series_verdict verdict;
	unsigned	n;		/* points fitted */
	double		span;		/* seconds they cover */
	double		slope;		/* units per second */
	double		r2;
	double		value;		/* fitted value at now */
	double		eta;		/* seconds until limit, >= 0 */
};

/* A new empty series for item (copied, truncated to SERIES_ITEM_MAX). */
struct series	*series_new(enum series_resource res, const char *item);
void		 series_free(struct series *s);
/* Forgets every point (the series restarts). */
void		 series_clear(struct series *s);

/*
 * Adds the sample (t, v) with the resource's current limit. Points later
 * than t (the clock stepped back) and points older than the window are
 * dropped first. A big drop (v below the previous point by more than half
 * of the window's range and more than 0.5 % of the limit: a disk cleaned)
 * restarts the series, so the old slope does not linger. A sample less
 * than window / SERIES_CAP after the newest point's first sample is
 * averaged into that point. Non-finite or negative values are ignored.
 */
void		 series_add(struct series *s, const struct series_params *p,
		    double t, double v, double limit);

/* Fits a line to the points in [now - window, now] and says whether it
 * gives a forecast; f is filled in every case. */
enum series_verdict series_forecast(const struct series *s,
		    const struct series_params *p, double now,
		    struct series_fit *f);

const char	*series_resource_name(enum series_resource res);
/* "space" -> SERIES_SPACE; -1 if none. */
int		 series_resource_parse(const char *name);

/* A bounded set of series, found by (resource, item). */
struct series_set {
	struct series	**s;
	size_t		  n;
};

/* The series for (res, item), or NULL. */
struct series	*series_set_find(struct series_set *set,
		    enum series_resource res, const char *item);
/* Finds or creates it; NULL when the set already has SERIES_SET_MAX. */
struct series	*series_set_get(struct series_set *set,
		    enum series_resource res, const char *item);
/* Sets seen = false on every series. */
void		 series_set_unsee(struct series_set *set);
/* Frees the series whose seen is false, of the resources in mask
 * (1 << SERIES_SPACE ...); returns how many. */
size_t		 series_set_sweep(struct series_set *set, unsigned mask);
void		 series_set_clear(struct series_set *set);

/*
 * The text form of a set (see series.c); *out is a NUL-terminated heap
 * string the caller frees.
 */
void		 series_set_format(const struct series_set *set, char **out);
/*
 * Parses the text form into set (empty on entry). Points later than now
 * (a clock step, or a hostile file) and older than now - window are
 * dropped. Returns 0, or -EINVAL with the reason in err and set left
 * empty: wrong header, a count above its bound, a malformed or duplicate
 * series, a non-finite or unordered point, trailing garbage.
 */
int		 series_set_parse(const char *buf, size_t len, double now,
		    double window, struct series_set *set, char *err,
		    size_t errlen);

#endif
