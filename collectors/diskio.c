/*
 * diskio: throughput, IOPS and utilisation of each whole disk between two
 * runs, from /proc/diskstats; /sys/block tells disks from partitions.
 *
 * [collector.diskio] keys:
 *   util_warning, util_critical	% of the interval the disk had I/O in
 *					flight		default: none
 *	Off by default: a nightly backup or a batch job keeps a healthy
 *	disk 100 % busy for an hour, and for SSDs, NVMe and RAID volumes,
 *	which serve many requests at once, 100 % busy is not saturation.
 *	Set it per host where a busy disk means trouble (e.g. 90 / 98 on a
 *	single spinning disk; the warning engine's minimum duration keeps
 *	it to sustained load).
 *   exclude	comma-separated fnmatch(3) patterns of device names,
 *		replacing the default
 *		"loop*, ram*, zram*, dm-*, md*, sr*, fd*, nbd*":
 *		loop devices, RAM disks and zram are memory or files already
 *		counted elsewhere; device-mapper (LVM, dm-crypt) and md RAID
 *		volumes pass their I/O on to the disks below, which are
 *		watched; optical, floppy and unused network block devices
 *		only add idle lines. Set exclude = "loop*" to watch LVM
 *		volumes and md arrays too.
 *
 * A whole disk is a diskstats name with a directory in /sys/block
 * (partitions live below their disk, "cciss/c0d0" is "cciss!c0d0"); a host
 * without /sys/block gives UNKNOWN.
 * Perfdata per disk D: "D:read_bytes_per_s", "D:write_bytes_per_s",
 * "D:read_iops", "D:write_iops" (no unit: rates), "D:util" (%).
 * Counter wraps and device resets are described in diskio.h; a disk seen
 * for the first time gets rates from the next run.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "counter.h"
#include "diskio.h"
#include "fmt.h"
#include "glob.h"
#include "sysfile.h"
#include "timeutil.h"
#include "xmalloc.h"

/* ~150 bytes a line; hosts with thousands of loop or dm devices exist. */
#define DISKSTATS_MAX		(4 * 1024 * 1024)
#define SUMMARY_ITEMS_MAX	5
#define DISKIO_DEFAULT_EXCLUDE	\
	"loop*, ram*, zram*, dm-*, md*, sr*, fd*, nbd*"

static const struct threshold_key diskio_thresholds[] = {
	{ "util", offsetof(struct diskio, util), "", "", NULL },
	{ .name = NULL },
};

/* One disk this run, and what its rates say. */
struct diskio_item {
	const struct diskio_stat *stat;
	struct diskio_rates	 rates;
	bool			 has_rates;
	int			 state;
};

int
diskio_parse_line(const char *line, struct diskio_stat *out)
{
	uint64_t v[11], maj, min, extra;
	const char *p = line, *name;
	size_t n = 0, namelen;

	memset(out, 0, sizeof(*out));
	if (counter_parse(&p, &maj) != 0 || counter_parse(&p, &min) != 0 ||
	    maj > UINT_MAX || min > UINT_MAX)
		return -EINVAL;
	while (*p == ' ' || *p == '\t')
		p++;
	name = p;
	while (*p != '\0' && *p != ' ' && *p != '\t')
		p++;
	namelen = p - name;
	if (namelen == 0 || namelen >= sizeof(out->name))
		return -EINVAL;
	while (n < 11 && *p != '\0') {
		if (counter_parse(&p, &v[n]) != 0)
			return -EINVAL;
		n++;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	out->nfields = (unsigned)n;
	/* Newer kernels add counters; they must still be numbers. */
	while (*p != '\0') {
		if (counter_parse(&p, &extra) != 0)
			return -EINVAL;
		out->nfields++;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	memcpy(out->name, name, namelen);
	out->name[namelen] = '\0';
	out->major = (unsigned)maj;
	out->minor = (unsigned)min;
	if (n < 11)
		return -ENODATA;
	out->reads = v[0];
	out->reads_merged = v[1];
	out->sectors_read = v[2];
	out->ms_reading = v[3];
	out->writes = v[4];
	out->writes_merged = v[5];
	out->sectors_written = v[6];
	out->ms_writing = v[7];
	out->in_flight = v[8];
	out->io_ticks = v[9];
	out->weighted_ms = v[10];
	return 0;
}

int
diskio_parse(const char *buf, size_t len, struct diskio_stat **out,
    size_t *n)
{
	const char *p = buf, *end = buf + len, *nl;
	struct diskio_stat *v = NULL;
	size_t nv = 0, cap = 0;
	char line[512];
	int r;

	*out = NULL;
	*n = 0;
	while (p < end && (nl = memchr(p, '\n', end - p)) != NULL) {
		if ((size_t)(nl - p) >= sizeof(line)) {
			free(v);
			return -EINVAL;
		}
		memcpy(line, p, nl - p);
		line[nl - p] = '\0';
		p = nl + 1;
		if (nv == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		if ((r = diskio_parse_line(line, &v[nv])) == 0)
			nv++;
		else if (r != -ENODATA) {
			free(v);
			return -EINVAL;
		}
	}
	*out = v;
	*n = nv;
	return 0;
}

int
diskio_rates_between(const struct diskio_stat *prev,
    const struct diskio_stat *cur, uint64_t elapsed_usec,
    struct diskio_rates *out)
{
	const uint64_t pv[] = { prev->reads, prev->sectors_read, prev->writes,
	    prev->sectors_written, prev->io_ticks };
	const uint64_t cv[] = { cur->reads, cur->sectors_read, cur->writes,
	    cur->sectors_written, cur->io_ticks };
	uint64_t d[5];
	double secs = elapsed_usec / 1e6;

	memset(out, 0, sizeof(*out));
	if (elapsed_usec == 0 || counter_deltas(pv, cv, 5, d) != 0)
		return -EAGAIN;
	out->read_iops = d[0] / secs;
	out->read_bytes = (double)d[1] * DISKIO_SECTOR / secs;
	out->write_iops = d[2] / secs;
	out->write_bytes = (double)d[3] * DISKIO_SECTOR / secs;
	out->util = 100.0 * (double)d[4] / (elapsed_usec / 1000.0);
	if (out->util > 100)
		out->util = 100;
	return 0;
}

/* The clock seam the tests replace. */
static uint64_t
diskio_now(void)
{
	return time_now(CLOCK_MONOTONIC);
}

static void *
diskio_new(void)
{
	struct diskio *d = xcalloc(1, sizeof(*d));

	glob_list_parse(d->exclude, &d->nexclude, DISKIO_EXCLUDE_MAX, "exclude",
	    DISKIO_DEFAULT_EXCLUDE, NULL, 0);
	threshold_defaults(d, diskio_thresholds);
	d->now_fn = diskio_now;
	return d;
}

static int
diskio_configure(void *inst, const char *key, const char *value, char *err,
    size_t errlen)
{
	struct diskio *d = inst;

	if (strcmp(key, "exclude") == 0)
		return glob_list_parse(d->exclude, &d->nexclude,
		    DISKIO_EXCLUDE_MAX, key, value, err, errlen);
	return threshold_configure(d, diskio_thresholds, "exclude", key, value,
	    err, errlen);
}

/* Whether name is a whole disk: it has a directory in /sys/block. */
static bool
diskio_is_disk(const struct diskio *d, const char *name)
{
	char path[PATH_MAX], sysname[DISKIO_NAME_MAX], *s;
	int n;

	snprintf(sysname, sizeof(sysname), "%s", name);
	for (s = sysname; (s = strchr(s, '/')) != NULL; s++)
		*s = '!';
	n = snprintf(path, sizeof(path), "%s/block/%s", d->env.sys, sysname);
	return n > 0 && (size_t)n < sizeof(path) && access(path, F_OK) == 0;
}

/*
 * Reads diskstats and keeps the whole, not excluded disks in *disks (the
 * caller frees). On failure the result (when not NULL) says why.
 */
static int
diskio_sample(struct diskio *d, struct diskio_stat **disks, size_t *n,
    struct result *res)
{
	struct diskio_stat *all = NULL;
	char *buf = NULL, path[PATH_MAX];
	size_t len, nall;
	bool trunc;
	int r;

	*disks = NULL;
	*n = 0;
	snprintf(path, sizeof(path), "%s/block", d->env.sys);
	if (access(path, F_OK) == -1) {
		r = -errno;
		if (res != NULL)
			result_set(res, STATE_UNKNOWN, "no %s: cannot tell "
			    "disks from partitions (%s)", path, strerror(-r));
		goto out;
	}
	if ((r = sysfile_read(d->env.proc, "diskstats", DISKSTATS_MAX, &buf,
	    &len, &trunc)) != 0) {
		if (res != NULL)
			result_set(res, STATE_UNKNOWN, "cannot read "
			    "%s/diskstats: %s", d->env.proc, strerror(-r));
		goto out;
	}
	if (trunc || diskio_parse(buf, len, &all, &nall) != 0) {
		r = -EINVAL;
		if (res != NULL)
			result_set(res, STATE_UNKNOWN, "%s/diskstats: %s",
			    d->env.proc, trunc ? "longer than 4 MiB" :
			    "not in the diskstats format");
		goto out;
	}
	*disks = xcalloc(nall + 1, sizeof(**disks));
	for (size_t i = 0; i < nall; i++) {
		if (glob_list_match(d->exclude, d->nexclude, all[i].name) ||
		    !diskio_is_disk(d, all[i].name))
			continue;
		(*disks)[(*n)++] = all[i];
	}
	r = 0;
 out:
	free(all);
	free(buf);
	return r;
}

static int
diskio_start(void *inst, const struct collector_env *env)
{
	struct diskio *d = inst;
	int r;

	d->env = *env;
	if ((r = diskio_sample(d, &d->disks, &d->ndisks, NULL)) != 0)
		return r;
	d->sampled = d->now_fn();
	d->have_sample = true;
	return 0;
}

/* The disk in the last sample; new device numbers under an old name
 * (a disk swapped while the host ran) make it a new disk. */
static const struct diskio_stat *
diskio_find(const struct diskio *d, const struct diskio_stat *cur)
{
	for (size_t i = 0; i < d->ndisks; i++)
		if (strcmp(d->disks[i].name, cur->name) == 0 &&
		    d->disks[i].major == cur->major &&
		    d->disks[i].minor == cur->minor)
			return &d->disks[i];
	return NULL;
}

static void
diskio_perf(const struct diskio *d, struct result *res,
    const struct diskio_item *it)
{
	static const char *const names[] = { "read_bytes_per_s",
	    "write_bytes_per_s", "read_iops", "write_iops" };
	const double values[] = { it->rates.read_bytes, it->rates.write_bytes,
	    it->rates.read_iops, it->rates.write_iops };
	char label[PERF_LABEL_MAX];
	struct perf *p;

	for (size_t i = 0; i < 4; i++) {
		snprintf(label, sizeof(label), "%s:%s", it->stat->name,
		    names[i]);
		if ((p = result_add_perf(res, label, values[i], "")) != NULL) {
			p->min = 0;
			p->has_min = true;
		}
	}
	snprintf(label, sizeof(label), "%s:util", it->stat->name);
	if ((p = result_add_perf(res, label, it->rates.util, "%")) != NULL) {
		threshold_to_perf(&d->util, p);
		p->min = 0;
		p->max = 100;
		p->has_min = p->has_max = true;
	}
}

static int
diskio_collect(void *inst, struct collect_req *req)
{
	static const int order[] = { STATE_CRITICAL, STATE_WARNING };
	struct diskio *d = inst;
	struct result *res = collect_req_result(req);
	struct diskio_stat *disks = NULL;
	struct diskio_item *items = NULL;
	const struct diskio_stat *prev;
	char problems[RESULT_SUMMARY_MAX / 2] = "";
	char rd[32], wr[32];
	size_t n, nrated = 0, nproblems = 0, named = 0, busiest = SIZE_MAX, len;
	uint64_t now, elapsed;
	int r;

	if (d->env.proc == NULL) {
		result_set(res, STATE_UNKNOWN, "diskio collector was not "
		    "started");
		return -EINVAL;
	}
	now = d->now_fn();
	if ((r = diskio_sample(d, &disks, &n, res)) != 0)
		goto out;
	elapsed = now - d->sampled;

	res->state = STATE_OK;
	items = xcalloc(n + 1, sizeof(*items));
	for (size_t i = 0; i < n; i++) {
		struct diskio_item *it = &items[i];

		it->stat = &disks[i];
		if (!d->have_sample || (prev = diskio_find(d, it->stat)) ==
		    NULL || diskio_rates_between(prev, it->stat, elapsed,
		    &it->rates) != 0) {
			result_append_long(res, "%s: new or reset, rates from "
			    "the next run", it->stat->name);
			continue;
		}
		it->has_rates = true;
		it->state = threshold_eval(&d->util, it->rates.util);
		result_escalate(res, it->state);
		if (it->state != STATE_OK)
			nproblems++;
		if (busiest == SIZE_MAX ||
		    it->rates.util > items[busiest].rates.util)
			busiest = i;
		nrated++;
	}

	if (n == 0)
		result_set(res, STATE_UNKNOWN, "no disks to watch: every "
		    "entry of %s/diskstats is excluded or not in %s/block",
		    d->env.proc, d->env.sys);
	else if (nrated == 0)
		result_set(res, STATE_UNKNOWN, "first sample of %zu disk%s; "
		    "rates from the next run", n, n == 1 ? "" : "s");
	else {
		for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
			for (size_t i = 0; i < n; i++) {
				const struct diskio_item *it = &items[i];

				if (!it->has_rates || it->state != order[k] ||
				    named++ >= SUMMARY_ITEMS_MAX)
					continue;
				threshold_note(problems, sizeof(problems),
				    &d->util, it->state, it->rates.util, "%",
				    "%s %.1f%% busy", it->stat->name,
				    it->rates.util);
			}
		if (nproblems > SUMMARY_ITEMS_MAX) {
			len = strlen(problems);
			snprintf(problems + len, sizeof(problems) - len,
			    " and %zu more", nproblems - SUMMARY_ITEMS_MAX);
		}
		fmt_bytes(items[busiest].rates.read_bytes, rd, sizeof(rd));
		fmt_bytes(items[busiest].rates.write_bytes, wr, sizeof(wr));
		if (nproblems > 0)
			result_set(res, res->state, "%s; %zu disk%s", problems,
			    n, n == 1 ? "" : "s");
		else
			result_set(res, res->state, "%zu disk%s, busiest %s "
			    "%.1f%% busy (read %s/s, write %s/s)", n, n == 1 ?
			    "" : "s", items[busiest].stat->name,
			    items[busiest].rates.util, rd, wr);
	}
	for (size_t i = 0; i < n; i++) {
		const struct diskio_item *it = &items[i];

		if (!it->has_rates)
			continue;
		diskio_perf(d, res, it);
		fmt_bytes(it->rates.read_bytes, rd, sizeof(rd));
		fmt_bytes(it->rates.write_bytes, wr, sizeof(wr));
		result_append_long(res, "%s: %.1f%% busy, read %s/s (%.1f "
		    "IOPS), write %s/s (%.1f IOPS)", it->stat->name,
		    it->rates.util, rd, it->rates.read_iops, wr,
		    it->rates.write_iops);
	}
	if (res->nperf == RESULT_PERF_MAX)
		result_append_long(res, "perfdata limited to %d items",
		    RESULT_PERF_MAX);

	/* This sample is the next run's baseline. */
	free(d->disks);
	d->disks = disks;
	disks = NULL;	/* transferred */
	d->ndisks = n;
	d->sampled = now;
	d->have_sample = true;
	r = 0;
 out:
	free(items);
	free(disks);
	return r;
}

static void
diskio_free(void *inst)
{
	struct diskio *d = inst;

	glob_list_clear(d->exclude, &d->nexclude);
	free(d->disks);
	free(d);
}

const struct collector collector_diskio = {
	.name = "diskio",
	.description = "Throughput, IOPS and utilisation of each disk",
	.interval = 60,
	.new = diskio_new,
	.configure = diskio_configure,
	.thresholds = diskio_thresholds,
	.start = diskio_start,
	.collect = diskio_collect,
	.free = diskio_free,
};
