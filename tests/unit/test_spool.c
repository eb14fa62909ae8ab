/*
 * spool.c: group-commit append, ordered and bounded reads, acknowledgement
 * and its watermark, numbering across reopen, crash recovery of hand-made
 * segments, rotation, shedding routine reports, and a write that fails.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "spool.h"
#include "testutil.h"

#define PAD	900	/* payload padding: lines of about 1 KiB */

struct tmp {
	char	dir[64];
	char	spool[96];
};

static int
setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	if (testutil_mkdtemp(t->dir, sizeof(t->dir)) != 0) {
		free(t);
		return -1;
	}
	snprintf(t->spool, sizeof(t->spool), "%s/spool", t->dir);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct tmp *t = *state;

	testutil_rm_rf(t->dir);
	free(t);
	return 0;
}

static json_t *
payload(size_t pad)
{
	json_t *p = json_object();
	char *s = calloc(1, pad + 1);

	assert_non_null(s);
	memset(s, 'x', pad);
	json_object_set_new(p, "pad", json_string(s));
	free(s);
	return p;
}

static uint64_t
append(struct spool *s, bool important)
{
	uint64_t seq;

	seq = spool_append(s, important ? "state_change" : "heartbeat",
	    1795430400.5, payload(PAD), important);
	assert_true(seq > 0);
	return seq;
}

/* Every seq spool_read returns, in order; *np of them. */
static uint64_t *
read_all(struct spool *s, size_t *np)
{
	json_t *arr, *rec;
	uint64_t *seqs;
	size_t i;

	arr = spool_read(s, 0, SIZE_MAX, SIZE_MAX);
	assert_non_null(arr);
	seqs = calloc(json_array_size(arr) + 1, sizeof(*seqs));
	assert_non_null(seqs);
	json_array_foreach(arr, i, rec)
		seqs[i] = (uint64_t)json_integer_value(json_object_get(rec,
		    "seq"));
	*np = json_array_size(arr);
	json_decref(arr);
	return seqs;
}

static size_t
count_segments(const char *dir, uint64_t *names, size_t max)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != 24 ||
		    strcmp(de->d_name + 20, ".seg") != 0)
			continue;
		if (n < max)
			names[n] = strtoull(de->d_name, NULL, 10);
		n++;
	}
	closedir(d);
	return n;
}

static void
write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static off_t
file_size(const char *dir, const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (stat(path, &st) == -1)
		return -1;
	return st.st_size;
}

static void
test_append_sync_read(void **state)
{
	struct tmp *t = *state;
	struct spool_stats st;
	struct spool *s;
	json_t *arr, *rec;
	uint64_t i;

	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	for (i = 1; i <= 5; i++)
		assert_int_equal(spool_append(s, "heartbeat", 100.0 + i,
		    json_pack("{s:I}", "n", (json_int_t)i), i == 3), i);
	spool_stats(s, &st);
	assert_int_equal(st.pending, 5);
	assert_int_equal(st.depth, 0);
	/* Not durable yet: nothing may be sent. */
	arr = spool_read(s, 0, 100, 1 << 20);
	assert_non_null(arr);
	assert_int_equal(json_array_size(arr), 0);
	json_decref(arr);

	assert_int_equal(spool_sync(s), 0);
	spool_stats(s, &st);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.depth, 5);
	assert_int_equal(st.next_seq, 6);
	assert_true(st.bytes > 0);
	arr = spool_read(s, 0, 100, 1 << 20);
	assert_int_equal(json_array_size(arr), 5);
	json_array_foreach(arr, i, rec) {
		assert_int_equal(json_integer_value(json_object_get(rec,
		    "seq")), i + 1);
		assert_string_equal(json_string_value(json_object_get(rec,
		    "kind")), "heartbeat");
		assert_true(json_real_value(json_object_get(rec, "time")) ==
		    101.0 + (double)i);
		assert_int_equal(json_integer_value(json_object_get(
		    json_object_get(rec, "payload"), "n")), i + 1);
		/* The spool's own flag is not sent. */
		assert_null(json_object_get(rec, "important"));
	}
	json_decref(arr);
	spool_close(s);
}

static void
test_read_after_and_limits(void **state)
{
	struct tmp *t = *state;
	struct spool *s;
	json_t *arr;
	size_t i, n;
	char *one;

	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	for (i = 0; i < 10; i++)
		append(s, false);
	assert_int_equal(spool_sync(s), 0);

	arr = spool_read(s, 3, 4, SIZE_MAX);
	assert_int_equal(json_array_size(arr), 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(json_integer_value(json_object_get(
		    json_array_get(arr, i), "seq")), 4 + i);
	json_decref(arr);

	/* A byte bound smaller than one report still yields one. */
	arr = spool_read(s, 0, 100, 1);
	assert_int_equal(json_array_size(arr), 1);
	one = json_dumps(json_array_get(arr, 0), JSON_COMPACT);
	n = strlen(one);
	free(one);
	json_decref(arr);
	/* Room for two lines (each a little longer than what is sent),
	 * not three. */
	arr = spool_read(s, 0, 100, 2 * n + 2 * 40);
	assert_int_equal(json_array_size(arr), 2);
	json_decref(arr);

	arr = spool_read(s, 10, 100, SIZE_MAX);
	assert_int_equal(json_array_size(arr), 0);
	json_decref(arr);
	arr = spool_read(s, 0, 0, SIZE_MAX);
	assert_int_equal(json_array_size(arr), 0);
	json_decref(arr);
	spool_close(s);
}

static void
test_ack_and_reopen(void **state)
{
	struct tmp *t = *state;
	struct spool_stats st;
	uint64_t names[8], *seqs;
	struct spool *s;
	char acked[128];
	size_t i, n, nseg;
	FILE *f;

	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	for (i = 0; i < 2500; i++) {
		append(s, i % 2);
		if (i % 100 == 99)
			assert_int_equal(spool_sync(s), 0);
	}
	nseg = count_segments(t->spool, names, 8);
	assert_int_equal(nseg, 3);

	assert_int_equal(spool_ack(s, 1500), 0);
	spool_stats(s, &st);
	assert_int_equal(st.acked, 1500);
	assert_int_equal(st.depth, 1000);
	/* The first segment ends before 1500; the second spans it. */
	assert_int_equal(count_segments(t->spool, names, 8), 2);
	snprintf(acked, sizeof(acked), "%s/acked", t->spool);
	f = fopen(acked, "r");
	assert_non_null(f);
	assert_non_null(fgets(acked, sizeof(acked), f));
	fclose(f);
	assert_string_equal(acked, "1500\n");
	seqs = read_all(s, &n);
	assert_int_equal(n, 1000);
	assert_int_equal(seqs[0], 1501);
	assert_int_equal(seqs[999], 2500);
	free(seqs);
	/* An old acknowledgement changes nothing; one past the end is
	 * held to what was spooled. */
	assert_int_equal(spool_ack(s, 10), 0);
	spool_close(s);

	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	spool_stats(s, &st);
	assert_int_equal(st.acked, 1500);
	assert_int_equal(st.depth, 1000);
	assert_int_equal(st.next_seq, 2501);
	assert_int_equal(spool_ack(s, 999999), 0);
	spool_stats(s, &st);
	assert_int_equal(st.acked, 2500);
	assert_int_equal(st.depth, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(count_segments(t->spool, names, 8), 0);
	spool_close(s);

	/* Every segment gone: the watermark alone carries the numbering. */
	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	spool_stats(s, &st);
	assert_int_equal(st.next_seq, 2501);
	assert_int_equal(append(s, true), 2501);
	assert_int_equal(spool_sync(s), 0);
	seqs = read_all(s, &n);
	assert_int_equal(n, 1);
	assert_int_equal(seqs[0], 2501);
	free(seqs);
	spool_close(s);
}

static void
test_reopen_unacked(void **state)
{
	struct tmp *t = *state;
	struct spool_stats st;
	struct spool *s;
	uint64_t *seqs;
	size_t n;

	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	append(s, true);
	append(s, false);
	assert_int_equal(spool_sync(s), 0);
	/* Queued, never synced: gone with the process, and its seq may be
	 * given again since no one ever saw it durable. */
	append(s, false);
	spool_close(s);

	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	spool_stats(s, &st);
	assert_int_equal(st.next_seq, 3);
	assert_int_equal(st.depth, 2);
	assert_int_equal(append(s, true), 3);
	assert_int_equal(spool_sync(s), 0);
	seqs = read_all(s, &n);
	assert_int_equal(n, 3);
	assert_int_equal(seqs[0], 1);
	assert_int_equal(seqs[2], 3);
	free(seqs);
	spool_close(s);
}

#define REC(n, imp) "{\"seq\":" #n ",\"kind\":\"heartbeat\",\"time\":1.5," \
	"\"important\":" #imp ",\"payload\":{}}\n"

static void
test_torn_last_line(void **state)
{
	struct tmp *t = *state;
	const char *seg = "00000000000000000001.seg";
	struct spool_stats st;
	struct spool *s;
	uint64_t *seqs;
	size_t n;

	write_file(t->spool, seg, REC(1, true) REC(2, false)
	    "{\"seq\":3,\"kind\":\"heartb");
	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	assert_int_equal(file_size(t->spool, seg),
	    (off_t)strlen(REC(1, true) REC(2, false)));
	spool_stats(s, &st);
	assert_int_equal(st.next_seq, 3);
	assert_int_equal(st.depth, 2);
	assert_int_equal(append(s, false), 3);
	assert_int_equal(spool_sync(s), 0);
	spool_close(s);

	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	seqs = read_all(s, &n);
	assert_int_equal(n, 3);
	assert_int_equal(seqs[0], 1);
	assert_int_equal(seqs[1], 2);
	assert_int_equal(seqs[2], 3);
	free(seqs);
	spool_close(s);
}

static void
test_garbage_skipped(void **state)
{
	struct tmp *t = *state;
	struct spool_stats st;
	struct spool *s;
	uint64_t *seqs;
	size_t n;

	write_file(t->spool, "00000000000000000001.seg", REC(1, true)
	    "this is not json\n" REC(4, true) "{\"seq\":5}\n"
	    REC(2, false) "\n");
	write_file(t->spool, "00000000000000000006.seg", REC(4, true)
	    REC(6, false));
	write_file(t->spool, "notes.txt", "not a segment\n");
	write_file(t->spool, "00000000000000000001.seg.tmp", REC(99, true));
	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	spool_stats(s, &st);
	/* {"seq":5} has no kind: not a report, so 6 is the highest seq;
	 * the 2 after 4 and the second 4 are out of order. */
	assert_int_equal(st.next_seq, 7);
	assert_int_equal(st.depth, 3);
	seqs = read_all(s, &n);
	assert_int_equal(n, 3);
	assert_int_equal(seqs[0], 1);
	assert_int_equal(seqs[1], 4);
	assert_int_equal(seqs[2], 6);
	free(seqs);
	/* The leftover of an interrupted rewrite is gone. */
	assert_int_equal(file_size(t->spool, "00000000000000000001.seg.tmp"),
	    -1);
	spool_close(s);
}

static void
test_rotation(void **state)
{
	struct tmp *t = *state;
	uint64_t names[8], *seqs;
	struct spool *s;
	char name[32];
	size_t i, n;

	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	for (i = 0; i < 1200; i++)
		append(s, true);
	/* One sync spanning a rotation. */
	assert_int_equal(spool_sync(s), 0);
	assert_int_equal(count_segments(t->spool, names, 8), 2);
	if (names[0] > names[1]) {
		uint64_t x = names[0];

		names[0] = names[1];
		names[1] = x;
	}
	assert_int_equal(names[0], 1);
	assert_true(names[1] > 900 && names[1] < 1200);
	snprintf(name, sizeof(name), "%020" PRIu64 ".seg", names[0]);
	assert_true(file_size(t->spool, name) <= SPOOL_SEGMENT_MAX);
	assert_true(file_size(t->spool, name) > SPOOL_SEGMENT_MAX - 2048);
	seqs = read_all(s, &n);
	assert_int_equal(n, 1200);
	for (i = 0; i < n; i++)
		assert_int_equal(seqs[i], i + 1);
	free(seqs);
	spool_close(s);
}

static void
test_overflow_drops_oldest_routine(void **state)
{
	struct tmp *t = *state;
	uint64_t names[8], newest = 0, *seqs, seq, max;
	struct spool_stats st;
	size_t i, n, nseg, want, routine_lost = 0;
	struct spool *s;

	max = SPOOL_SEGMENT_MAX * 3 / 2;
	assert_int_equal(spool_open(t->spool, max, &s), 0);
	for (i = 1; i <= 3000; i++) {
		append(s, i % 10 == 0);
		if (i % 50 == 0) {
			assert_int_equal(spool_sync(s), 0);
			spool_stats(s, &st);
			if (st.bytes > max)
				fail_msg("after seq %zu: %" PRIu64 " bytes, "
				    "over the bound %" PRIu64, i, st.bytes,
				    max);
		}
	}
	nseg = count_segments(t->spool, names, 8);
	assert_true(nseg >= 3 && nseg <= 8);
	for (i = 0; i < nseg; i++)
		if (names[i] > newest)
			newest = names[i];
	/* Exactly: every important report, and every routine one of the
	 * newest segment (never rewritten); all older routine ones went. */
	seqs = read_all(s, &n);
	want = 0;
	for (seq = 1; seq <= 3000; seq++) {
		if (seq % 10 == 0 || seq >= newest) {
			if (want >= n || seqs[want] != seq)
				fail_msg("seq %" PRIu64 " missing (found %"
				    PRIu64 " at %zu)", seq, want < n ?
				    seqs[want] : 0, want);
			want++;
		} else
			routine_lost++;
	}
	assert_int_equal(n, want);
	spool_stats(s, &st);
	assert_int_equal(st.dropped, routine_lost);
	assert_int_equal(st.depth, n);
	free(seqs);
	spool_close(s);
}

static void
test_overflow_keeps_important(void **state)
{
	struct tmp *t = *state;
	struct spool_stats st;
	struct spool *s;
	uint64_t *seqs;
	size_t i, n;

	assert_int_equal(spool_open(t->spool, 64 * 1024, &s), 0);
	for (i = 0; i < 1500; i++) {
		append(s, true);
		if (i % 100 == 99)
			assert_int_equal(spool_sync(s), 0);
	}
	spool_stats(s, &st);
	assert_int_equal(st.dropped, 0);
	assert_true(st.bytes > 64 * 1024);
	seqs = read_all(s, &n);
	assert_int_equal(n, 1500);
	assert_int_equal(seqs[1499], 1500);
	free(seqs);
	spool_close(s);
}

static void
test_too_large(void **state)
{
	struct tmp *t = *state;
	struct spool_stats st;
	struct spool *s;

	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	assert_int_equal(spool_append(s, "inventory", 1.0,
	    payload(SPOOL_RECORD_MAX), true), 0);
	assert_int_equal(spool_append(s, "inventory", HUGE_VAL,
	    payload(10), true), 0);
	spool_stats(s, &st);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.next_seq, 1);
	spool_close(s);
}

/*
 * A real failed write part-way through a record: RLIMIT_FSIZE makes the
 * kernel write up to the limit, then refuse (EFBIG), as a full disk does.
 */
static void
test_write_failure_keeps_queue(void **state)
{
	struct tmp *t = *state;
	const char *seg = "00000000000000000001.seg";
	struct rlimit old, lim;
	struct spool_stats st;
	struct spool *s;
	uint64_t *seqs;
	off_t size;
	size_t i, n;

	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	for (i = 0; i < 3; i++)
		append(s, true);
	assert_int_equal(spool_sync(s), 0);
	size = file_size(t->spool, seg);
	assert_true(size > 0);

	for (i = 0; i < 3; i++)
		append(s, i == 1);
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)size + PAD + PAD / 2;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(spool_sync(s), -EFBIG);
	assert_int_equal(spool_sync(s), -EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);

	/* No partial record left, nothing queued lost. */
	assert_int_equal(file_size(t->spool, seg), size);
	spool_stats(s, &st);
	assert_int_equal(st.pending, 3);
	assert_int_equal(st.depth, 3);
	assert_int_equal(st.bytes, (uint64_t)size);
	seqs = read_all(s, &n);
	assert_int_equal(n, 3);
	free(seqs);

	assert_int_equal(spool_sync(s), 0);
	spool_close(s);
	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	seqs = read_all(s, &n);
	assert_int_equal(n, 6);
	for (i = 0; i < n; i++)
		assert_int_equal(seqs[i], i + 1);
	free(seqs);
	spool_stats(s, &st);
	assert_int_equal(st.next_seq, 7);
	spool_close(s);
}

/* A crash inside sysfile_write_atomic leaves ".acked.XXXXXX" behind: the
 * next open removes it, and the watermark it did not replace stands. */
static void
test_acked_temp_cleaned(void **state)
{
	struct tmp *t = *state;
	struct spool_stats st;
	struct spool *s;
	char path[160];

	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	append(s, true);
	append(s, true);
	assert_int_equal(spool_sync(s), 0);
	assert_int_equal(spool_ack(s, 1), 0);
	spool_close(s);
	write_file(t->spool, ".acked.Ab12Cd", "2");
	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	snprintf(path, sizeof(path), "%s/.acked.Ab12Cd", t->spool);
	if (access(path, F_OK) == 0)
		fail_msg("%s left behind", path);
	spool_stats(s, &st);
	assert_int_equal(st.acked, 1);
	assert_int_equal(st.depth, 1);
	spool_close(s);
}

/* After a sequence conflict: the unacknowledged reports get base+1...,
 * in order, durably; numbering goes on after them. */
static void
test_renumber(void **state)
{
	struct tmp *t = *state;
	struct spool_stats st;
	struct spool *s;
	uint64_t *seqs, names[4], old_first;
	size_t i, n;

	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	for (i = 0; i < 5; i++)
		append(s, i == 3);
	assert_int_equal(spool_sync(s), 0);
	assert_int_equal(spool_ack(s, 2), 0);
	append(s, true);	/* queued, not yet synced: renumbered too */
	assert_int_equal(spool_renumber(s, 100, &n, &old_first), 0);
	assert_int_equal(n, 4);
	assert_int_equal(old_first, 3);
	spool_stats(s, &st);
	assert_int_equal(st.acked, 100);
	assert_int_equal(st.next_seq, 105);
	assert_int_equal(st.depth, 4);
	seqs = read_all(s, &n);
	assert_int_equal(n, 4);
	for (i = 0; i < n; i++)
		assert_int_equal(seqs[i], 101 + i);
	free(seqs);
	assert_int_equal(append(s, false), 105);
	assert_int_equal(spool_sync(s), 0);
	spool_close(s);

	/* Durable: the same after a reopen, one old segment name gone. */
	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	seqs = read_all(s, &n);
	assert_int_equal(n, 5);
	for (i = 0; i < n; i++)
		assert_int_equal(seqs[i], 101 + i);
	free(seqs);
	spool_stats(s, &st);
	assert_int_equal(st.acked, 100);
	assert_int_equal(st.next_seq, 106);
	assert_int_equal(count_segments(t->spool, names, 4), 1);
	assert_int_equal(names[0], 101);
	/* A base under the watermark is raised to it: never back. */
	assert_int_equal(spool_renumber(s, 7, &n, &old_first), 0);
	assert_int_equal(n, 5);
	assert_int_equal(old_first, 101);
	spool_stats(s, &st);
	assert_int_equal(st.acked, 100);
	assert_int_equal(st.next_seq, 106);
	spool_close(s);
}

/* A 409 whose ack is near the top of the range (a broken or hostile
 * portal): renumbering there would push seqs past what JSON integers
 * hold, and a record whose seq reads back negative is skipped as garbage:
 * lost. Refused, the reports keep their numbers. */
static void
test_renumber_out_of_range(void **state)
{
	struct tmp *t = *state;
	struct spool *s;
	uint64_t *seqs, old_first;
	size_t i, n;
	int r;

	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	for (i = 0; i < 3; i++)
		append(s, true);
	assert_int_equal(spool_sync(s), 0);
	r = spool_renumber(s, (uint64_t)INT64_MAX - 1, &n, &old_first);
	if (r != -ERANGE)
		fail_msg("renumber from INT64_MAX - 1: %d (%zu renumbered), "
		    "want -ERANGE", r, n);
	spool_close(s);
	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	seqs = read_all(s, &n);
	if (n != 3)
		fail_msg("%zu of 3 reports left after the refused renumbering",
		    n);
	for (i = 0; i < n; i++)
		assert_int_equal(seqs[i], 1 + i);
	free(seqs);
	spool_close(s);
}

/* A kill -9 inside spool_renumber: before the commit (only the temp
 * file) the old numbering stands; after it (the "renumbered" file) the
 * next open finishes the renumbering. Nothing is lost either way. */
static void
test_renumber_crash(void **state)
{
	struct tmp *t = *state;
	struct spool_stats st;
	struct spool *s;
	uint64_t *seqs, names[4];
	size_t i, n;

	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	for (i = 0; i < 3; i++)
		append(s, true);
	assert_int_equal(spool_sync(s), 0);
	spool_close(s);
	/* Before the commit. */
	write_file(t->spool, "renumbered.tmp", "{\"seq\":51,\"kind\":\"x\",");
	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	seqs = read_all(s, &n);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++)
		assert_int_equal(seqs[i], 1 + i);
	free(seqs);
	spool_close(s);
	/* After the commit, before the old segments went. */
	write_file(t->spool, "renumbered",
	    "{\"seq\":51,\"kind\":\"x\",\"time\":1,\"important\":true,"
	    "\"payload\":{\"n\":1}}\n"
	    "{\"seq\":52,\"kind\":\"x\",\"time\":1,\"important\":true,"
	    "\"payload\":{\"n\":2}}\n"
	    "{\"seq\":53,\"kind\":\"x\",\"time\":1,\"important\":true,"
	    "\"payload\":{\"n\":3}}\n");
	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	seqs = read_all(s, &n);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++)
		assert_int_equal(seqs[i], 51 + i);
	free(seqs);
	spool_stats(s, &st);
	assert_int_equal(st.acked, 50);
	assert_int_equal(st.next_seq, 54);
	assert_int_equal(count_segments(t->spool, names, 4), 1);
	assert_int_equal(names[0], 51);
	spool_close(s);
}

/* The directory removed under a running spool: recreated 0700 at the
 * next sync, numbering goes on, no seq of the lost reports is reused. */
static void
test_dir_removed(void **state)
{
	struct tmp *t = *state;
	struct spool_stats st;
	struct spool *s;
	struct stat sb;
	uint64_t *seqs;
	size_t n;

	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	append(s, true);
	append(s, true);
	append(s, false);
	assert_int_equal(spool_sync(s), 0);
	assert_int_equal(spool_ack(s, 1), 0);
	testutil_rm_rf(t->spool);
	assert_int_equal(append(s, true), 4);
	assert_int_equal(spool_sync(s), 0);
	assert_int_equal(stat(t->spool, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	spool_stats(s, &st);
	assert_int_equal(st.acked, 3);
	assert_int_equal(st.depth, 1);
	seqs = read_all(s, &n);
	assert_int_equal(n, 1);
	assert_int_equal(seqs[0], 4);
	free(seqs);
	spool_close(s);
	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	spool_stats(s, &st);
	assert_int_equal(st.next_seq, 5);
	spool_close(s);
}

/* Reports waiting in memory (the disk cannot take them) stay within the
 * bound by giving up the oldest routine ones, so the newest heartbeat is
 * always there to be sent from memory. */
static void
test_queue_keeps_newest(void **state)
{
	struct tmp *t = *state;
	struct spool_stats st;
	struct spool *s;
	json_t *hb;
	size_t i;

	assert_int_equal(spool_open(t->spool, 3 * (PAD + 100), &s), 0);
	assert_null(spool_queued_last(s, "heartbeat"));
	append(s, true);
	for (i = 0; i < 5; i++)
		append(s, false);
	spool_stats(s, &st);
	assert_true(st.pending < 6);
	assert_true(st.dropped > 0);
	hb = spool_queued_last(s, "heartbeat");
	assert_non_null(hb);
	assert_int_equal(json_integer_value(json_object_get(hb, "seq")), 6);
	assert_null(json_object_get(hb, "important"));
	json_decref(hb);
	hb = spool_queued_last(s, "state_change");
	assert_non_null(hb);
	assert_int_equal(json_integer_value(json_object_get(hb, "seq")), 1);
	json_decref(hb);
	spool_close(s);
}

/*
 * A segment rewrite (shedding) whose temp file hits RLIMIT_FSIZE part-way:
 * the first write is short, the next one fails with EFBIG, and EFBIG is
 * what is reported, not a stale errno from before the short write.
 */
static void
test_rewrite_short_write(void **state)
{
	struct tmp *t = *state;
	struct rlimit old, lim;
	struct spool *s;
	char logpath[128], *text;
	size_t i, len;
	int saved, fd;

	assert_int_equal(spool_open(t->spool, 0, &s), 0);
	for (i = 0; i < 1100; i++)
		append(s, i % 2 == 0);
	assert_int_equal(spool_sync(s), 0);
	spool_close(s);

	snprintf(logpath, sizeof(logpath), "%s/log", t->dir);
	fflush(stderr);
	saved = dup(2);
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved != -1 && fd != -1);
	dup2(fd, 2);
	close(fd);
	assert_int_equal(spool_open(t->spool, 512 * 1024, &s), 0);
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 100 * 1024 + PAD / 2;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	errno = ENOTTY;		/* what a stale errno would say */
	append(s, true);
	assert_int_equal(spool_sync(s), 0);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	spool_close(s);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	text = testutil_slurp(logpath, &len);
	assert_non_null(text);
	assert_contains(text, ".tmp: write: File too large");
	if (strstr(text, "Inappropriate ioctl") != NULL)
		fail_msg("a stale errno reported: %s", text);
	free(text);
}

static void
test_bad_watermark(void **state)
{
	struct tmp *t = *state;
	struct spool *s = (struct spool *)&s;

	write_file(t->spool, "acked", "12x\n");
	assert_int_equal(spool_open(t->spool, 0, &s), -EBADMSG);
	assert_null(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_sync_read,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_after_and_limits,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_and_reopen,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_unacked,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_last_line,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_skipped,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_overflow_drops_oldest_routine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overflow_keeps_important,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_large,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_failure_keeps_queue,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_watermark,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_acked_temp_cleaned,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_renumber,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_renumber_out_of_range,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_renumber_crash,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_removed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_keeps_newest,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_rewrite_short_write,
		    setup, teardown),
	};

	log_init("test_spool", LOG_TARGET_STDERR, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
