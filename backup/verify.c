/*
 * Snapshot verification: the archive is read through to the end, each
 * regular file's content hashed and compared with its manifest entry, and
 * every manifest entry must have been met in the archive.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>
#include <sodium.h>

#include "digest.h"
#include "manifest.h"
#include "snapshot.h"
#include "verify.h"
#include "xmalloc.h"

/* Hashes the current entry's data; 0 or -1 when the archive broke. */
static int
hash_data(struct archive *ar, struct archive_entry *e, uint8_t sha[32])
{
	struct digest d;
	const void *buf;
	size_t	 len;
	la_int64_t off;
	int	 r;

	digest_init(&d);
	while ((r = archive_read_data_block(ar, &buf, &len, &off)) !=
	    ARCHIVE_EOF) {
		if (r < ARCHIVE_WARN)
			return -1;
		digest_block(&d, buf, len, (uint64_t)off);
	}
	digest_final(&d, (uint64_t)archive_entry_size(e), sha);
	return 0;
}

/* One snapshot's archive against its manifest (entries held by an
 * ancestor are not expected in it). */
static void
verify_archive(struct target *t, struct manifest *m, const uint8_t *key,
    verify_bad_fn bad, void *arg, struct verify_stats *stats)
{
	const char *id = m->id;
	const struct manifest_entry *me;
	struct snapshot_source *src = NULL;
	struct archive *ar = NULL;
	struct archive_entry *e;
	char	 name[TARGET_NAME_MAX + 1];
	uint8_t	 sha[32], *seen = NULL;
	size_t	 i;
	int	 r;

	seen = xcalloc(m->n ? m->n : 1, 1);
	if ((r = snapshot_archive_open(t, id, key, &ar, &src)) != 0) {
		snapshot_object_name(name, sizeof(name), id, 0, key != NULL);
		bad(arg, name, r == -EBADMSG ? "tampered with, truncated or "
		    "not an archive" : strerror(-r));
		stats->bad++;
		goto missing;
	}
	for (;;) {
		r = archive_read_next_header(ar, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			bad(arg, archive_error_string(ar),
			    "the archive cannot be read on from here");
			stats->bad++;
			break;
		}
		stats->entries++;
		me = manifest_find(m, archive_entry_pathname(e));
		if (me == NULL) {
			bad(arg, archive_entry_pathname(e),
			    "in the archive but not in the manifest");
			stats->bad++;
			continue;
		}
		seen[me - m->entries] = 1;
		if (archive_entry_filetype(e) != AE_IFREG ||
		    archive_entry_hardlink(e) != NULL)
			continue;
		if (hash_data(ar, e, sha) != 0) {
			bad(arg, archive_entry_pathname(e),
			    archive_error_string(ar));
			stats->bad++;
			seen[me - m->entries] = 2;
			break;
		}
		stats->files++;
		stats->bytes += (uint64_t)archive_entry_size(e);
		if (!me->has_sha256 || memcmp(sha, me->sha256, 32) != 0) {
			bad(arg, me->path, "content differs from the manifest");
			stats->bad++;
		}
	}
 missing:
	for (i = 0; i < m->n; i++) {
		me = &m->entries[i];
		if (seen[i] || me->type == 's' ||
		    (me->flags & (MANIFEST_UNREADABLE | MANIFEST_INPARENT)))
			continue;
		bad(arg, me->path, "in the manifest but not in the archive");
		stats->bad++;
	}
	snapshot_archive_close(ar, src);
	free(seen);
}

/* Every "in parent" entry of child must be a file with the same content
 * in parent (stored there, or in parent in turn: checked one level up). */
static void
verify_link(struct manifest *child, struct manifest *parent,
    verify_bad_fn bad, void *arg, struct verify_stats *stats)
{
	const struct manifest_entry *me, *pe;
	size_t	 i;

	for (i = 0; i < child->n; i++) {
		me = &child->entries[i];
		if (!(me->flags & MANIFEST_INPARENT))
			continue;
		pe = manifest_find(parent, me->path);
		if (pe == NULL || pe->type != 'f' || !pe->has_sha256 ||
		    memcmp(pe->sha256, me->sha256, sizeof(me->sha256)) != 0 ||
		    (pe->flags & MANIFEST_UNREADABLE)) {
			bad(arg, me->path, "recorded in the parent snapshot, "
			    "which does not hold it");
			stats->bad++;
		}
	}
}

int
verify_snapshot(struct target *t, const char *id, const uint8_t *key,
    verify_bad_fn bad, void *arg, struct verify_stats *stats)
{
	struct manifest *chain = NULL, m;
	char	 name[TARGET_NAME_MAX + 1];
	size_t	 n = 0, i;
	int	 r, r2;

	memset(stats, 0, sizeof(*stats));
	if (sodium_init() < 0)
		return -EIO;
	if ((r = snapshot_load_chain(t, id, key, &chain, &n)) != 0) {
		/* Which one: this manifest, or one up its chain? */
		r2 = snapshot_load_manifest(t, id, key, &m);
		snapshot_object_name(name, sizeof(name), id, 1, key != NULL);
		if (r2 != 0)
			bad(arg, name, r2 == -EBADMSG ? "tampered with, "
			    "truncated or malformed" : r2 == -ENOKEY ?
			    "encrypted with another key (another job's "
			    "snapshot, or the wrong key)" : strerror(-r2));
		else
			bad(arg, name, "its parent chain is broken: a parent "
			    "is missing, tampered with or malformed");
		manifest_free(&m);
		stats->bad++;
		return r2 == -ENOENT ? r2 : -EBADMSG;
	}
	/* The whole chain: a restore of id reads every archive of it. */
	for (i = 0; i < n; i++) {
		if (i + 1 < n)
			verify_link(&chain[i], &chain[i + 1], bad, arg, stats);
		verify_archive(t, &chain[i], key, bad, arg, stats);
	}
	snapshot_chain_free(chain, n);
	return stats->bad > 0 ? -EBADMSG : 0;
}
