/*
 * manifest.c: a round trip of every entry type with hostile names (newline,
 * space, %, invalid UTF-8, "-", long paths), and the parser's refusals:
 * truncation, a wrong count, bad fields, bounds, trailing garbage.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "manifest.h"

struct text {
	char	*p;
	size_t	 len;
};

static int
text_sink(void *arg, const void *buf, size_t len)
{
	struct text *t = arg;

	t->p = realloc(t->p, t->len + len + 1);
	memcpy(t->p + t->len, buf, len);
	t->len += len;
	t->p[t->len] = '\0';
	return 0;
}

static void
fill(struct manifest *m)
{
	struct manifest_entry e;
	static char longpath[4001];

	manifest_init(m);
	snprintf(m->id, sizeof(m->id), "20261125T165500Z-1a2b3c4d");
	m->created = 1795712100;
	m->partial = 1;

	memset(&e, 0, sizeof(e));
	e.type = 'f';
	e.path = "src/new\nline %41 \xff\xfe name";
	e.size = 12345;
	e.mode = 0100644;
	e.uid = 1000;
	e.gid = 100;
	e.uname = "us er";
	e.gname = "-";
	e.mtime_sec = -5;
	e.mtime_nsec = 999999999;
	e.ctime_sec = 1795712000;
	e.ctime_nsec = 1;
	e.dev = 2049;
	e.ino = 123456789012ULL;
	e.nlink = 2;
	e.has_sha256 = 1;
	memset(e.sha256, 0xab, sizeof(e.sha256));
	e.flags = MANIFEST_CHANGED | MANIFEST_SPARSE;
	manifest_add(m, &e);

	memset(&e, 0, sizeof(e));
	e.type = 'h';
	e.path = "src/hard";
	e.link = "src/new\nline %41 \xff\xfe name";
	manifest_add(m, &e);

	memset(&e, 0, sizeof(e));
	e.type = 'b';
	e.path = "src/sda";
	e.mode = 060660;
	e.has_rdev = 1;
	e.rdev_major = 8;
	e.rdev_minor = 4294967295U;
	e.flags = MANIFEST_UNREADABLE;
	manifest_add(m, &e);

	memset(longpath, 'x', sizeof(longpath) - 1);
	for (size_t i = 200; i < sizeof(longpath) - 1; i += 200)
		longpath[i] = '/';
	memset(&e, 0, sizeof(e));
	e.type = 'l';
	e.path = longpath;
	e.link = "-";
	manifest_add(m, &e);
}

static void
test_roundtrip(void **state)
{
	struct manifest m, back;
	struct text t = { NULL, 0 };
	const struct manifest_entry *a, *b;
	size_t	 i;

	(void)state;
	fill(&m);
	assert_int_equal(manifest_format(&m, text_sink, &t), 0);
	/* One line per record, printable ASCII only. */
	for (i = 0; i < t.len; i++)
		if (t.p[i] != '\n' && (t.p[i] < 0x20 || t.p[i] > 0x7e))
			fail_msg("byte 0x%02x at %zu in the text",
			    (unsigned char)t.p[i], i);
	assert_non_null(strstr(t.p, " src/new%0Aline%20%2541%20%FF%FE%20name "));
	assert_non_null(strstr(t.p, " us%20er %2D "));
	assert_non_null(strstr(t.p, " -5.999999999 "));
	assert_non_null(strstr(t.p, " 8:4294967295 "));
	assert_non_null(strstr(t.p, " changed,sparse\n"));
	assert_non_null(strstr(t.p, "\nend 4\n"));

	assert_int_equal(manifest_parse(&back, t.p, t.len), 0);
	assert_string_equal(back.id, m.id);
	assert_int_equal(back.created, m.created);
	assert_int_equal(back.partial, 1);
	assert_int_equal(back.n, m.n);
	for (i = 0; i < m.n; i++) {
		a = &m.entries[i];
		b = &back.entries[i];
		assert_int_equal(a->type, b->type);
		assert_string_equal(a->path, b->path);
		assert_int_equal(a->size, b->size);
		assert_int_equal(a->mode, b->mode);
		assert_int_equal(a->uid, b->uid);
		assert_int_equal(a->mtime_sec, b->mtime_sec);
		assert_int_equal(a->mtime_nsec, b->mtime_nsec);
		assert_int_equal(a->ino, b->ino);
		assert_int_equal(a->rdev_minor, b->rdev_minor);
		assert_int_equal(a->has_sha256, b->has_sha256);
		assert_memory_equal(a->sha256, b->sha256, 32);
		assert_int_equal(a->flags, b->flags);
		if (a->link)
			assert_string_equal(a->link, b->link);
		else
			assert_null(b->link);
		if (a->uname)
			assert_string_equal(a->uname, b->uname);
	}
	assert_ptr_equal(manifest_find(&back, "src/hard"), &back.entries[1]);
	assert_null(manifest_find(&back, "src/nothere"));
	manifest_free(&back);
	manifest_free(&m);
	free(t.p);
}

/* Replaces the first occurrence of from in text by to and expects a
 * refusal. */
static void
expect_refused(const struct text *t, const char *from, const char *to)
{
	struct manifest m;
	char	*s, *p;
	size_t	 len;

	p = strstr(t->p, from);
	if (p == NULL)
		fail_msg("'%s' not in the text", from);
	len = t->len - strlen(from) + strlen(to);
	s = malloc(len + 1);
	memcpy(s, t->p, (size_t)(p - t->p));
	strcpy(s + (p - t->p), to);
	strcat(s, p + strlen(from));
	if (manifest_parse(&m, s, len) != -EBADMSG)
		fail_msg("accepted with '%s' as '%s'", from, to);
	free(s);
}

static void
test_refusals(void **state)
{
	struct manifest m;
	struct text t = { NULL, 0 };
	char	*big;
	size_t	 cut;

	(void)state;
	fill(&m);
	assert_int_equal(manifest_format(&m, text_sink, &t), 0);
	manifest_free(&m);

	/* Truncated anywhere, even at a line end. */
	for (cut = 0; cut < t.len; cut += 7)
		if (manifest_parse(&m, t.p, cut) != -EBADMSG)
			fail_msg("accepted when cut to %zu bytes", cut);
	expect_refused(&t, "agentd-manifest 1", "agentd-manifest 2");
	expect_refused(&t, "\nend 4\n", "\nend 3\n");
	expect_refused(&t, "\nend 4\n", "\nend 4\ne d x\n");
	expect_refused(&t, "status partial", "status fine");
	expect_refused(&t, "%FF", "%00");		/* a NUL in a name */
	expect_refused(&t, "%FF", "%F");
	expect_refused(&t, "%FF", "%GG");
	expect_refused(&t, " -5.999999999 ", " -5.99999999 ");
	expect_refused(&t, " 100644 ", " 100648 ");
	expect_refused(&t, " 8:4294967295 ", " 8:4294967296 ");
	expect_refused(&t, "e h src/hard", "e x src/hard");
	expect_refused(&t, "e h src/hard", "e h  src/hard");
	expect_refused(&t, " changed,sparse\n", " changed,sparse extra\n");
	expect_refused(&t, "snapshot 2026", "snapshot /2026");
	/* A symlink without a target. */
	expect_refused(&t, " %2D -\n", " - -\n");

	/* A line over the bound. */
	big = malloc(MANIFEST_MAX_LINE + 200);
	snprintf(big, 200, "agentd-manifest 1\nsnapshot x\ncreated 0\n"
	    "status ok\ne f ");
	cut = strlen(big);
	memset(big + cut, 'a', MANIFEST_MAX_LINE);
	big[cut + MANIFEST_MAX_LINE] = '\n';
	assert_int_equal(manifest_parse(&m, big, cut + MANIFEST_MAX_LINE + 1),
	    -EBADMSG);
	free(big);
	free(t.p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
