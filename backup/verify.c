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

#include "manifest.h"
#include "snapshot.h"
#include "verify.h"
#include "xmalloc.h"

static void
hash_zeros(crypto_hash_sha256_state *h, uint64_t n)
{
	static const uint8_t zeros[65536];
	size_t	 k;

	while (n > 0) {
		k = n > sizeof(zeros) ? sizeof(zeros) : (size_t)n;
		crypto_hash_sha256_update(h, zeros, k);
		n -= k;
	}
}

/* Hashes the current entry's data; 0 or -1 when the archive broke. */
static int
hash_data(struct archive *ar, struct archive_entry *e, uint8_t sha[32])
{
	crypto_hash_sha256_state h;
	const void *buf;
	size_t	 len;
	la_int64_t off;
	uint64_t pos = 0, size = (uint64_t)archive_entry_size(e);
	int	 r;

	crypto_hash_sha256_init(&h);
	while ((r = archive_read_data_block(ar, &buf, &len, &off)) !=
	    ARCHIVE_EOF) {
		if (r < ARCHIVE_WARN)
			return -1;
		if ((uint64_t)off > pos)
			hash_zeros(&h, (uint64_t)off - pos);
		crypto_hash_sha256_update(&h, buf, len);
		pos = (uint64_t)off + len;
	}
	if (pos < size)
		hash_zeros(&h, size - pos);
	crypto_hash_sha256_final(&h, sha);
	return 0;
}

int
verify_snapshot(struct target *t, const char *id, const uint8_t *key,
    verify_bad_fn bad, void *arg, struct verify_stats *stats)
{
	struct manifest m;
	const struct manifest_entry *me;
	struct snapshot_source *src = NULL;
	struct archive *ar = NULL;
	struct archive_entry *e;
	char	 name[TARGET_NAME_MAX + 1];
	uint8_t	 sha[32], *seen = NULL;
	size_t	 i;
	int	 r;

	memset(stats, 0, sizeof(*stats));
	manifest_init(&m);
	if (sodium_init() < 0)
		return -EIO;
	if ((r = snapshot_load_manifest(t, id, key, &m)) != 0) {
		snapshot_object_name(name, sizeof(name), id, 1, key != NULL);
		bad(arg, name, r == -EBADMSG ? "tampered with, truncated or "
		    "malformed" : strerror(-r));
		stats->bad++;
		goto out;
	}
	seen = xcalloc(m.n ? m.n : 1, 1);
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
		me = manifest_find(&m, archive_entry_pathname(e));
		if (me == NULL) {
			bad(arg, archive_entry_pathname(e),
			    "in the archive but not in the manifest");
			stats->bad++;
			continue;
		}
		seen[me - m.entries] = 1;
		if (archive_entry_filetype(e) != AE_IFREG ||
		    archive_entry_hardlink(e) != NULL)
			continue;
		if (hash_data(ar, e, sha) != 0) {
			bad(arg, archive_entry_pathname(e),
			    archive_error_string(ar));
			stats->bad++;
			seen[me - m.entries] = 2;
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
	for (i = 0; i < m.n; i++) {
		me = &m.entries[i];
		if (seen[i] || me->type == 's' ||
		    (me->flags & MANIFEST_UNREADABLE))
			continue;
		bad(arg, me->path, "in the manifest but not in the archive");
		stats->bad++;
	}
	r = stats->bad > 0 ? -EBADMSG : 0;
 out:
	snapshot_archive_close(ar, src);
	free(seen);
	manifest_free(&m);
	return r;
}
