/*
 * spooltool: drives agentd's spool for test_spool_crash.sh. "write" appends
 * and syncs until killed, printing what it was told is durable; "check"
 * reopens the spool and holds it to that; "diskfull" fills a small disk.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"

static void
say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One write(2) per line, so a kill -9 never leaves half a line. */
static void
say(const char *fmt, ...)
{
	char line[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0 && write(STDOUT_FILENO, line, (size_t)n) != n)
		exit(2);
}

static json_t *
payload(size_t pad, uint64_t n)
{
	char buf[2048];

	if (pad >= sizeof(buf))
		pad = sizeof(buf) - 1;
	memset(buf, 'p', pad);
	buf[pad] = '\0';
	return json_pack("{s:I,s:s}", "n", (json_int_t)n, "pad", buf);
}

/* write DIR MAX_BYTES ACK_EVERY: prints "S seq important" per durable
 * report and "A ack" per acknowledgement, until killed. */
static int
cmd_write(const char *dir, uint64_t max, unsigned ack_every)
{
	uint64_t seqs[32], last = 0;
	struct spool *s;
	unsigned syncs = 0;
	bool imp[32];
	int n, i, r;

	srandom((unsigned)getpid());
	if ((r = spool_open(dir, max, &s)) < 0)
		return 1;
	for (;;) {
		n = 1 + (int)(random() % 20);
		for (i = 0; i < n; i++) {
			imp[i] = random() % 5 == 0;
			seqs[i] = spool_append(s, imp[i] ? "state_change" :
			    "heartbeat", 1795430400.0, payload(200 +
			    (size_t)(random() % 900), last), imp[i]);
			if (seqs[i] == 0)
				return 1;
		}
		if ((r = spool_sync(s)) < 0) {
			fprintf(stderr, "spooltool: sync: %s\n", strerror(-r));
			return 1;
		}
		for (i = 0; i < n; i++)
			say("S %" PRIu64 " %d\n", seqs[i], imp[i]);
		last = seqs[n - 1];
		if (ack_every > 0 && ++syncs % ack_every == 0 && last > 50) {
			if (spool_ack(s, last - 50) < 0)
				return 1;
			say("A %" PRIu64 "\n", last - 50);
		}
	}
}

/*
 * check DIR strict|bounded < LOG: every report printed durable is there
 * exactly once, in order, unless acknowledged (or, bounded, routine and
 * dropped for space), and no printed seq was ever given twice.
 */
static int
cmd_check(const char *dir, bool strict)
{
	uint64_t *want = NULL, seq, ack = 0, after, got_prev = 0;
	size_t nwant = 0, cap = 0, w = 0, i, nread = 0;
	struct spool_stats st;
	char line[128], c;
	bool *wimp = NULL;
	json_t *arr, *rec;
	struct spool *s;
	int imp;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		if (sscanf(line, "S %" SCNu64 " %d", &seq, &imp) == 2) {
			if (nwant > 0 && seq <= want[nwant - 1]) {
				printf("seq %" PRIu64 " printed after %" PRIu64
				    ": a durable seq was given again\n", seq,
				    want[nwant - 1]);
				return 1;
			}
			if (nwant == cap) {
				cap = cap ? cap * 2 : 1024;
				want = realloc(want, cap * sizeof(*want));
				wimp = realloc(wimp, cap * sizeof(*wimp));
				if (want == NULL || wimp == NULL)
					return 2;
			}
			wimp[nwant] = imp != 0;
			want[nwant++] = seq;
		} else if (sscanf(line, "A %" SCNu64 "%c", &seq, &c) == 2)
			ack = seq;
	}
	if (spool_open(dir, 0, &s) < 0)
		return 1;
	spool_stats(s, &st);
	if (st.acked < ack) {
		printf("acked %" PRIu64 " on disk, %" PRIu64 " was done\n",
		    st.acked, ack);
		return 1;
	}
	if (nwant > 0 && st.next_seq <= want[nwant - 1]) {
		printf("next seq %" PRIu64 " would reuse %" PRIu64 "\n",
		    st.next_seq, want[nwant - 1]);
		return 1;
	}
	while (w < nwant && want[w] <= st.acked)
		w++;
	after = 0;
	for (;;) {
		if ((arr = spool_read(s, after, 100, 1 << 20)) == NULL)
			return 1;
		if (json_array_size(arr) == 0) {
			json_decref(arr);
			break;
		}
		json_array_foreach(arr, i, rec) {
			seq = (uint64_t)json_integer_value(json_object_get(rec,
			    "seq"));
			if (seq <= got_prev) {
				printf("read %" PRIu64 " after %" PRIu64 "\n",
				    seq, got_prev);
				return 1;
			}
			got_prev = after = seq;
			nread++;
			/* Routine reports may have been dropped for space. */
			while (!strict && w < nwant && want[w] < seq &&
			    !wimp[w])
				w++;
			if (w < nwant && want[w] < seq) {
				printf("durable seq %" PRIu64 " lost\n",
				    want[w]);
				return 1;
			}
			if (w < nwant && want[w] == seq)
				w++;
		}
		json_decref(arr);
	}
	for (; w < nwant; w++)
		if (strict || wimp[w]) {
			printf("durable seq %" PRIu64 " lost\n",
			    want[w]);
			return 1;
		}
	printf("ok: %zu printed durable, %zu on disk, acked %" PRIu64
	    ", next %" PRIu64 "\n", nwant, nread, st.acked, st.next_seq);
	spool_close(s);
	free(want);
	free(wimp);
	return 0;
}

static uint64_t
dir_bytes(const char *dir)
{
	char path[512];
	struct dirent *de;
	struct stat st;
	uint64_t sum = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return UINT64_MAX;
	while ((de = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (strstr(de->d_name, ".seg") != NULL &&
		    stat(path, &st) == 0)
			sum += (uint64_t)st.st_size;
	}
	closedir(d);
	return sum;
}

/*
 * diskfull DIR FILLER: syncs until the disk is full, checks the failure
 * left no partial record and kept the queue, frees FILLER, and checks the
 * queued reports land.
 */
static int
cmd_diskfull(const char *dir, const char *filler)
{
	struct spool_stats st;
	struct spool *s;
	uint64_t accepted = 0, seq, i;
	json_t *arr;
	int r = 0, k;

	if (spool_open(dir, 0, &s) < 0)
		return 1;
	for (i = 0; i < 100000 && r == 0; i++) {
		for (k = 0; k < 5; k++)
			if ((seq = spool_append(s, "state_change", 1.0,
			    payload(1000, i), true)) != 0)
				accepted = seq;
		r = spool_sync(s);
	}
	if (r != -ENOSPC) {
		printf("sync on a full disk: %s, not ENOSPC\n", strerror(-r));
		return 1;
	}
	spool_stats(s, &st);
	if (st.pending != 5 || st.bytes != dir_bytes(dir)) {
		printf("after ENOSPC: %zu pending (want 5), %" PRIu64 " bytes "
		    "known, %" PRIu64 " on disk\n", st.pending, st.bytes,
		    dir_bytes(dir));
		return 1;
	}
	if ((r = spool_sync(s)) != -ENOSPC) {
		printf("second sync on a full disk: %d\n", r);
		return 1;
	}
	if (unlink(filler) == -1) {
		perror(filler);
		return 1;
	}
	if ((r = spool_sync(s)) != 0) {
		printf("sync after freeing space: %s\n", strerror(-r));
		return 1;
	}
	spool_close(s);
	if (spool_open(dir, 0, &s) < 0)
		return 1;
	arr = spool_read(s, accepted - 5, 100, SIZE_MAX);
	spool_stats(s, &st);
	if (arr == NULL || json_array_size(arr) != 5 ||
	    st.depth != accepted || st.next_seq != accepted + 1) {
		printf("after reopen: %zu of the last 5 read, depth %zu of "
		    "%" PRIu64 ", next %" PRIu64 "\n", arr ?
		    json_array_size(arr) : 0, st.depth, accepted, st.next_seq);
		return 1;
	}
	json_decref(arr);
	spool_close(s);
	printf("ok: full disk at %" PRIu64 " reports; the 5 queued landed\n",
	    accepted - 5);
	return 0;
}

int
main(int argc, char **argv)
{
	log_init("spooltool", LOG_TARGET_STDERR, 0);
	if (argc == 5 && strcmp(argv[1], "write") == 0)
		return cmd_write(argv[2], strtoull(argv[3], NULL, 10),
		    (unsigned)atoi(argv[4]));
	if (argc == 4 && strcmp(argv[1], "check") == 0)
		return cmd_check(argv[2], strcmp(argv[3], "strict") == 0);
	if (argc == 4 && strcmp(argv[1], "diskfull") == 0)
		return cmd_diskfull(argv[2], argv[3]);
	fprintf(stderr, "usage: spooltool write DIR MAX_BYTES ACK_EVERY | "
	    "check DIR strict|bounded < LOG | diskfull DIR FILLER\n");
	return 2;
}
