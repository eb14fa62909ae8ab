/*
 * The catalog of a target, from the header of each snapshot's manifest:
 * a snapshot exists exactly when its manifest does, so the manifests are
 * the catalog and nothing else has to be kept in step with them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "log.h"
#include "snapshot.h"
#include "xmalloc.h"

void
catalog_free(struct catalog *c)
{
	free(c->entries);
	memset(c, 0, sizeof(*c));
}

void
catalog_add(struct catalog *c, const struct catalog_entry *e)
{
	c->entries = xreallocarray(c->entries, c->n + 1, sizeof(*c->entries));
	c->entries[c->n++] = *e;
}

const struct catalog_entry *
catalog_find(const struct catalog *c, const char *id)
{
	size_t	 i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->entries[i].id, id) == 0)
			return &c->entries[i];
	return NULL;
}

const struct catalog_entry *
catalog_latest(const struct catalog *c)
{
	return c->n > 0 ? &c->entries[c->n - 1] : NULL;
}

size_t
catalog_chain_length(const struct catalog *c, const char *id)
{
	const struct catalog_entry *e;
	size_t	 n = 0;

	while ((e = catalog_find(c, id)) != NULL) {
		n++;
		if (!e->incremental)
			return n;
		/* Parents are older: a loop cannot happen, but bound it. */
		if (strcmp(e->parent, e->id) >= 0 || n > c->n)
			return 0;
		id = e->parent;
	}
	return 0;
}

/* The id of "ID.manifest[.enc]" when name is one, with the wanted
 * encryption. */
static int
manifest_id(const char *name, int encrypted, char id[MANIFEST_ID_MAX])
{
	const char *suffix = encrypted ? ".manifest.enc" : ".manifest";
	size_t	 n = strlen(name), k = strlen(suffix);

	if (n <= k || strcmp(name + n - k, suffix) != 0 ||
	    !manifest_name_valid(name, n - k))
		return 0;
	memcpy(id, name, n - k);
	id[n - k] = '\0';
	return 1;
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct catalog_entry *)a)->id,
	    ((const struct catalog_entry *)b)->id);
}

int
catalog_load(struct target *t, const uint8_t *key, const char *job,
    struct catalog *c)
{
	struct catalog_entry ce;
	struct manifest m;
	char	**names = NULL, id[MANIFEST_ID_MAX];
	size_t	 n = 0, i;
	int	 r;

	memset(c, 0, sizeof(*c));
	if ((r = target_list(t, &names, &n)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		if (!manifest_id(names[i], key != NULL, id))
			continue;
		if ((r = snapshot_load_header(t, id, key, &m)) == -ENOKEY) {
			/* Another key's: another job's on a shared target
			 * (crypt.h), not damage. */
			log_debug("%s: another key's snapshot", names[i]);
			c->foreign++;
			manifest_free(&m);
			continue;
		}
		if (r != 0 || strcmp(m.id, id) != 0) {
			log_warnx("%s: cannot read its manifest: %s", names[i],
			    r == 0 || r == -EBADMSG ? "tampered with or "
			    "malformed" : strerror(-r));
			c->unreadable++;
			manifest_free(&m);
			continue;
		}
		if (job == NULL || strcmp(job, m.job) == 0) {
			memset(&ce, 0, sizeof(ce));
			memcpy(ce.id, m.id, sizeof(ce.id));
			memcpy(ce.job, m.job, sizeof(ce.job));
			memcpy(ce.parent, m.parent, sizeof(ce.parent));
			ce.incremental = m.incremental;
			ce.started = m.created;
			ce.finished = m.finished;
			ce.files = m.files;
			ce.bytes = m.bytes;
			ce.stored_bytes = m.stored;
			ce.partial = m.partial;
			catalog_add(c, &ce);
		}
		manifest_free(&m);
	}
	target_list_free(names, n);
	if (c->n > 1)
		qsort(c->entries, c->n, sizeof(*c->entries), entry_cmp);
	return 0;
}
