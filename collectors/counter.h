/*
 * counter: kernel counters as /proc prints them: reading one from a line,
 * and the difference between two readings across 32- and 64-bit wraps.
 */
#ifndef COUNTER_H
#define COUNTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Reads the unsigned decimal at *p after blanks (spaces, tabs); it must
 * end at a blank or the end of the string. Moves *p past it. Returns 0,
 * or -EINVAL when there is no number, it overflows 64 bits or something
 * else follows it (*p is then left alone).
 */
int	counter_parse(const char **p, uint64_t *out);

/*
 * Sets *delta to cur - prev and returns true when cur >= prev, or when the
 * counter plausibly wrapped: at 64 bits (prev in the top half, cur in the
 * bottom half), or at 32 bits (prev below 2^32 in the top half of 32
 * bits, cur below 2^31). Any other decrease is a reset, not a wrap:
 * returns false and leaves *delta alone.
 */
bool	counter_delta(uint64_t prev, uint64_t cur, uint64_t *delta);

/*
 * The deltas of n counters of one device or interface between two
 * samples into d[0..n-1], each by counter_delta. Returns 0, or -EAGAIN
 * when one was reset rather than wrapped, or when more than one went
 * backwards: counters wrap one at a time, so several going back at once
 * is a device that was reset or replaced (take cur as the new baseline).
 */
int	counter_deltas(const uint64_t *prev, const uint64_t *cur, size_t n,
	    uint64_t *d);

#endif
