/*
 * smart: what agentd-check-smart makes of smartctl's JSON (--scan -j and
 * -H -A -j DEVICE): the devices, each one's health, and the Nagios result
 * for all of them. Pure functions, for the unit tests and the fuzz target.
 */
#ifndef SMART_H
#define SMART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMART_JSON_MAX		(1024 * 1024)	/* bytes of one output */
#define SMART_DEPTH_MAX		16	/* smartctl nests 5 deep */
#define SMART_DEVICES_MAX	64
#define SMART_NAME_MAX		64	/* "/dev/disk/by-id/..." is cut: refused */
#define SMART_TYPE_MAX		32
#define SMART_WHY_MAX		160

struct smart_device {
	char	name[SMART_NAME_MAX];	/* "/dev/sda" */
	char	type[SMART_TYPE_MAX];	/* "sat", "nvme", "" */
};

struct smart_health {
	char		 name[SMART_NAME_MAX];	/* printable */
	int		 state;		/* 0 OK .. 3 UNKNOWN */
	char		 why[SMART_WHY_MAX];	/* "" when OK */
	bool		 has_temp, has_realloc, has_pending, has_uncorrect;
	bool		 has_media_errors, has_used;
	int64_t		 temp;		/* Celsius */
	int64_t		 realloc;	/* ATA 5 raw */
	int64_t		 pending;	/* ATA 197 raw */
	int64_t		 uncorrect;	/* ATA 198 raw */
	int64_t		 media_errors;	/* NVMe */
	int64_t		 used;		/* NVMe percentage_used */
};

/*
 * Parses `smartctl --scan -j` (buf, len bytes) into at most max devices.
 * Only names under /dev/ made of [A-Za-z0-9/_.:-] and types of
 * [a-z0-9,_+-] are taken (they go on smartctl's command line); others are
 * counted in *skipped. Returns 0, or -EINVAL with the reason in err when
 * the text is not that JSON (too long, too deep, no "devices" array).
 */
int	smart_parse_scan(const char *buf, size_t len, struct smart_device *out,
	    size_t max, size_t *n, size_t *skipped, char *err, size_t errlen);

/*
 * Judges one `smartctl -H -A -j` output for device name into out:
 * CRITICAL when the SMART status is failed, an NVMe critical warning is
 * set or the spare is below its threshold; WARNING for pending or
 * offline-uncorrectable sectors, prefail attributes at threshold
 * (exit status bit 4) or NVMe wear at 100 %; UNKNOWN when smartctl could
 * not read the device (its first error message is the reason) or the
 * output is not such JSON (bounded like smart_parse_scan). Always fills
 * out; returns its state.
 */
int	smart_judge(const char *name, const char *buf, size_t len,
	    struct smart_health *out);

/*
 * The plugin's output for n devices (their results in h): "SMART STATE -
 * summary | perfdata" then one line per device, into buf. Returns the
 * state (the worst), the plugin's exit code.
 */
int	smart_format(const struct smart_health *h, size_t n, char *buf,
	    size_t len);

#endif
