/*
 * network collector: the /proc/net/dev parser, the rate arithmetic and
 * the instance layout (its clock is a seam for the tests).
 */
#ifndef NETWORK_H
#define NETWORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"
#include "threshold.h"

#define NETWORK_NAME_MAX	16	/* IFNAMSIZ */
#define NETWORK_EXCLUDE_MAX	64

/* The counters of one interface that the collector uses. */
struct network_stat {
	char		name[NETWORK_NAME_MAX];
	uint64_t	rx_bytes, rx_packets, rx_errors, rx_drops;
	uint64_t	tx_bytes, tx_packets, tx_errors, tx_drops;
	int		ifindex;	/* from sysfs; 0 when unknown */
};

/* Per second between two samples of one interface. */
struct network_rates {
	double	rx_bytes, tx_bytes;
	double	errors;		/* rx + tx */
	double	drops;		/* rx + tx */
};

struct network {
	struct threshold	 errors, drops;	/* per second, rx + tx */
	char			*exclude[NETWORK_EXCLUDE_MAX];
	size_t			 nexclude;
	struct collector_env	 env;
	/* CLOCK_MONOTONIC in microseconds; tests put a fake here. */
	uint64_t		(*now_fn)(void);
	struct network_stat	*ifs;		/* the last sample */
	size_t			 nifs;
	uint64_t		 sampled;	/* now_fn() then */
	bool			 have_sample;
};

/*
 * Parses /proc/net/dev text (buf need not be NUL-terminated; only complete
 * lines count) into *out, which the caller frees; ifindex is left 0.
 * Returns 0, or -EINVAL when the two header lines are missing or a line
 * is not "name: 16 counters" (*out is then NULL).
 */
int	network_parse_dev(const char *buf, size_t len,
	    struct network_stat **out, size_t *n);

/*
 * Rates between two samples of one interface over elapsed_usec (> 0). A
 * counter that went backwards is a 32-bit wrap when it plausibly was one
 * (old value in the top half of 32 bits, new one in the bottom half: 32-bit
 * kernels and some drivers' hardware counters), or a 64-bit wrap; more
 * than one counter going back, any other decrease, or a changed ifindex
 * means the interface was re-created: -EAGAIN, take cur as the baseline.
 */
int	network_rates_between(const struct network_stat *prev,
	    const struct network_stat *cur, uint64_t elapsed_usec,
	    struct network_rates *out);

extern const struct collector collector_network;

#endif
