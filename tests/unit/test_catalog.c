/*
 * catalog.c and the manifest header it reads: snapshots listed from their
 * manifests' headers on a real file target (job filter, kinds, parents,
 * totals, a damaged manifest counted and left out, an archive without a
 * manifest ignored), chain lengths, and the header lines' bounds.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "catalog.h"
#include "manifest.h"
#include "target.h"

static int
put_sink(void *arg, const void *buf, size_t len)
{
	return target_put_write(arg, buf, len);
}

static void
put_raw(struct target *t, const char *name, const char *text, size_t len)
{
	struct target_put *p;

	assert_int_equal(target_put_begin(t, name, &p), 0);
	assert_int_equal(target_put_write(p, text, len), 0);
	assert_int_equal(target_put_commit(p), 0);
}

/* A manifest with one entry (of a path long enough to span the first
 * 64 KiB when big is set). */
static void
put_manifest(struct target *t, const char *id, const char *job,
    const char *parent, int partial, int big)
{
	struct manifest m;
	struct manifest_entry e;
	struct target_put *p;
	char	 name[128], *path;

	manifest_init(&m);
	snprintf(m.id, sizeof(m.id), "%s", id);
	m.created = 1795000000;
	m.finished = 1795000100;
	m.partial = partial;
	m.files = 1;
	m.bytes = 5;
	m.stored = 2048;
	if (job != NULL)
		snprintf(m.job, sizeof(m.job), "%s", job);
	if (parent != NULL) {
		m.incremental = 1;
		snprintf(m.parent, sizeof(m.parent), "%s", parent);
	}
	path = calloc(1, 60001);
	memset(path, 'p', big ? 60000 : 10);
	memset(&e, 0, sizeof(e));
	e.type = 'f';
	e.path = path;
	e.size = 5;
	e.mode = 0100644;
	manifest_add(&m, &e);
	snprintf(name, sizeof(name), "%s.manifest", id);
	assert_int_equal(target_put_begin(t, name, &p), 0);
	assert_int_equal(manifest_format(&m, put_sink, p), 0);
	assert_int_equal(target_put_commit(p), 0);
	manifest_free(&m);
	free(path);
}

#define ID1	"20261101T020000Z-00000001"
#define ID2	"20261102T020000Z-00000002"
#define ID3	"20261103T020000Z-00000003"
#define ID4	"20261104T020000Z-00000004"

static void
test_catalog_load(void **state)
{
	char	 dir[] = "/tmp/test_catalog.XXXXXX", url[64], cmd[128];
	const struct catalog_entry *e;
	struct catalog c;
	struct target *t;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(url, sizeof(url), "file://%s", dir);
	assert_int_equal(target_open(url, &t), 0);
	put_manifest(t, ID2, "www", ID1, 1, 1);
	put_manifest(t, ID1, "www", NULL, 0, 0);
	put_manifest(t, ID3, "db", NULL, 0, 0);
	put_raw(t, ID4 ".manifest", "agentd-manifest 1\ngarbage\n", 26);
	put_raw(t, "20261105T020000Z-00000005.tar.zst", "x", 1);

	assert_int_equal(catalog_load(t, NULL, NULL, &c), 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.unreadable, 1);
	assert_string_equal(c.entries[0].id, ID1);
	assert_string_equal(c.entries[1].id, ID2);
	assert_string_equal(catalog_latest(&c)->id, ID3);
	catalog_free(&c);

	assert_int_equal(catalog_load(t, NULL, "www", &c), 0);
	assert_int_equal(c.n, 2);
	e = catalog_find(&c, ID2);
	assert_non_null(e);
	assert_string_equal(e->job, "www");
	assert_int_equal(e->incremental, 1);
	assert_string_equal(e->parent, ID1);
	assert_int_equal(e->started, 1795000000);
	assert_int_equal(e->finished, 1795000100);
	assert_int_equal(e->files, 1);
	assert_int_equal(e->bytes, 5);
	assert_int_equal(e->stored_bytes, 2048);
	assert_int_equal(e->partial, 1);
	e = catalog_find(&c, ID1);
	assert_int_equal(e->incremental, 0);
	assert_string_equal(e->parent, "");
	assert_int_equal(catalog_chain_length(&c, ID2), 2);
	assert_int_equal(catalog_chain_length(&c, ID1), 1);
	catalog_free(&c);

	/* Encrypted snapshots are other objects: none here. */
	{
		uint8_t	 key[32] = { 0 };

		assert_int_equal(catalog_load(t, key, NULL, &c), 0);
		assert_int_equal(c.n, 0);
		catalog_free(&c);
	}
	target_close(t);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_header_lines(void **state)
{
	static const char *bad[] = {
		/* an incremental without its parent, and the reverse */
		"kind incremental\n",
		"kind full\nparent " ID1 "\n",
		"kind sideways\n",
		"kind full\nkind full\n",
		"job a/b\n",
		"job \n",
		"finished -1\n",
		"totals 1 2\n",
		"totals 1 2 3 4\n",
		"totals 1  2 3\n",
		"parent ../x\nkind incremental\n",
	};
	const char *head = "agentd-manifest 1\nsnapshot " ID2 "\ncreated 1\n"
	    "status ok\n";
	struct manifest m;
	char	 buf[512];
	size_t	 i;
	int	 n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = snprintf(buf, sizeof(buf), "%s%send 0\n", head, bad[i]);
		if (manifest_parse(&m, buf, (size_t)n) != -EBADMSG ||
		    manifest_parse_header(&m, buf, (size_t)n) != -EBADMSG)
			fail_msg("accepted: %s", bad[i]);
	}
	/* In any order; header-only stops inside the first entry. */
	n = snprintf(buf, sizeof(buf), "%sparent %s\njob a.b_c-1\nkind "
	    "incremental\ntotals 3 4 5\ne f xx", head, ID1);
	assert_int_equal(manifest_parse_header(&m, buf, (size_t)n), 0);
	assert_int_equal(m.incremental, 1);
	assert_string_equal(m.parent, ID1);
	assert_string_equal(m.job, "a.b_c-1");
	assert_int_equal(m.stored, 5);
	assert_int_equal(m.n, 0);
	manifest_free(&m);
	/* but the whole parser wants the whole thing */
	assert_int_equal(manifest_parse(&m, buf, (size_t)n), -EBADMSG);
	/* A manifest of the first format (no kind) is a full. */
	n = snprintf(buf, sizeof(buf), "%send 0\n", head);
	assert_int_equal(manifest_parse(&m, buf, (size_t)n), 0);
	assert_int_equal(m.incremental, 0);
	manifest_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catalog_load),
		cmocka_unit_test(test_header_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
