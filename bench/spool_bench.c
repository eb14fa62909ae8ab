/*
 * spool_bench: durable appends per second through agentd's spool (group
 * commit: one fdatasync per batch) against the naive way to the same
 * durability, one file per report (temp file, fsync, rename, fsync dir).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"

#define REPORT_PAD	900	/* with the envelope, about 1 KiB a line */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static json_t *
report_payload(const char *pad, uint64_t n)
{
	return json_pack("{s:I,s:s}", "n", (json_int_t)n, "pad", pad);
}

/* Appends in batches of batch, one spool_sync each, for secs seconds. */
static double
bench_spool(const char *dir, int batch, double secs, const char *pad,
    double *syncs_per_s)
{
	struct spool *s;
	uint64_t n = 0, syncs = 0, seq = 0;
	double t0, t;
	int i;

	if (spool_open(dir, 0, &s) < 0)
		exit(1);
	t0 = now();
	do {
		for (i = 0; i < batch; i++)
			if ((seq = spool_append(s, "heartbeat", 1.0,
			    report_payload(pad, n + (uint64_t)i), false)) == 0)
				exit(1);
		if (spool_sync(s) < 0)
			exit(1);
		n += (uint64_t)batch;
		syncs++;
		/* Keep the spool small, as a live portal would. */
		if (syncs % 64 == 0 && spool_ack(s, seq) < 0)
			exit(1);
		t = now() - t0;
	} while (t < secs);
	spool_ack(s, seq);
	spool_close(s);
	*syncs_per_s = (double)syncs / t;
	return (double)n / t;
}

static double
bench_naive(const char *dir, double secs, const char *pad)
{
	char tmp[1024], path[1024], *text;
	uint64_t n = 0;
	double t0, t;
	json_t *rec;
	size_t len;
	int fd, dfd;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY)) == -1)
		exit(1);
	t0 = now();
	do {
		rec = json_pack("{s:I,s:s,s:f,s:o}", "seq", (json_int_t)n + 1,
		    "kind", "heartbeat", "time", 1.0, "payload",
		    report_payload(pad, n));
		text = json_dumps(rec, JSON_COMPACT);
		len = strlen(text);
		snprintf(tmp, sizeof(tmp), "%s/.%020" PRIu64 ".tmp", dir, n + 1);
		snprintf(path, sizeof(path), "%s/%020" PRIu64 ".json", dir,
		    n + 1);
		if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
		    write(fd, text, len) != (ssize_t)len || fsync(fd) == -1 ||
		    close(fd) == -1 || rename(tmp, path) == -1 ||
		    fsync(dfd) == -1) {
			perror(path);
			exit(1);
		}
		free(text);
		json_decref(rec);
		n++;
		/* Acknowledged at once: the directory stays small. */
		if (n > 64) {
			snprintf(path, sizeof(path), "%s/%020" PRIu64 ".json",
			    dir, n - 64);
			unlink(path);
		}
		t = now() - t0;
	} while (t < secs);
	close(dfd);
	return (double)n / t;
}

int
main(int argc, char **argv)
{
	static const int batches[] = { 1, 10, 100 };
	char pad[REPORT_PAD + 1], dir[512];
	double secs, rate, syncs, naive, best = 0;
	size_t i;

	if (argc != 3) {
		fprintf(stderr, "usage: spool_bench DIR SECONDS\n");
		return 2;
	}
	secs = atof(argv[2]);
	log_init("spool_bench", LOG_TARGET_STDERR, 0);
	memset(pad, 'x', REPORT_PAD);
	pad[REPORT_PAD] = '\0';
	printf("%-28s %14s %12s\n", "", "appends/s", "fsyncs/s");
	for (i = 0; i < sizeof(batches) / sizeof(batches[0]); i++) {
		snprintf(dir, sizeof(dir), "%s/spool-%d", argv[1], batches[i]);
		rate = bench_spool(dir, batches[i], secs, pad, &syncs);
		if (rate > best)
			best = rate;
		printf("spool, batch %-15d %14.0f %12.0f\n", batches[i], rate,
		    syncs);
	}
	snprintf(dir, sizeof(dir), "%s/naive", argv[1]);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return 1;
	naive = bench_naive(dir, secs, pad);
	printf("%-28s %14.0f %12.0f\n", "naive, file per report", naive,
	    naive * 2);
	printf("ratio spool (best batch) / naive: %.1f; goal >= 2000 durable "
	    "appends/s: %s\n", best / naive, best >= 2000 ? "met" : "NOT met");
	return 0;
}
