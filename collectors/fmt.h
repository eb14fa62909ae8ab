/*
 * fmt: numbers written for people in summaries and long text.
 */
#ifndef FMT_H
#define FMT_H

#include <stddef.h>

/* Writes bytes in binary units: "512 B", "1.5 KiB", "23.5 GiB" (whole
 * bytes below 1 KiB, one decimal above, EiB at most). */
void	fmt_bytes(double bytes, char *buf, size_t len);

#endif
