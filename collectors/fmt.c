/*
 * fmt: the one way collectors write sizes for people, so every summary
 * says "1.5 GiB" alike.
 */
#include <stdio.h>

#include "fmt.h"

void
fmt_bytes(double bytes, char *buf, size_t len)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB",
	    "PiB", "EiB" };
	size_t i = 0;

	if (bytes < 1024) {
		snprintf(buf, len, "%.0f B", bytes);
		return;
	}
	bytes /= 1024;
	while (bytes >= 1024 && i + 1 < sizeof(unit) / sizeof(unit[0])) {
		bytes /= 1024;
		i++;
	}
	snprintf(buf, len, "%.1f %s", bytes, unit[i]);
}
