/*
 * libFuzzer target: a manifest read back from the target. Whatever
 * manifest_parse accepts must format to text that parses to the same
 * entries (the escaping is a bijection), and every path must be findable.
 * The header-only parser (the catalog's) runs on every input and must
 * agree with the full one on the header of any manifest that one accepts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct text {
	char	*p;
	size_t	 len;
};

static int
text_sink(void *arg, const void *buf, size_t len)
{
	struct text *t = arg;

	if ((t->p = realloc(t->p, t->len + len)) == NULL)
		abort();
	memcpy(t->p + t->len, buf, len);
	t->len += len;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest m, m2, h;
	struct text t = { NULL, 0 };
	size_t	 i;
	int	 hr;

	hr = manifest_parse_header(&h, (const char *)data, size);
	if (manifest_parse(&m, (const char *)data, size) != 0) {
		manifest_free(&h);
		return 0;
	}
	if (hr != 0 || h.incremental != m.incremental ||
	    strcmp(h.parent, m.parent) != 0 || strcmp(h.job, m.job) != 0 ||
	    h.finished != m.finished || h.stored != m.stored || h.n != 0)
		abort();
	manifest_free(&h);
	if (manifest_format(&m, text_sink, &t) != 0 ||
	    manifest_parse(&m2, t.p, t.len) != 0 || m2.n != m.n ||
	    strcmp(m.id, m2.id) != 0 || m.partial != m2.partial ||
	    m.incremental != m2.incremental ||
	    strcmp(m.parent, m2.parent) != 0 || strcmp(m.job, m2.job) != 0 ||
	    m.finished != m2.finished || m.files != m2.files ||
	    m.bytes != m2.bytes || m.stored != m2.stored)
		abort();
	for (i = 0; i < m.n; i++) {
		if (strcmp(m.entries[i].path, m2.entries[i].path) != 0 ||
		    m.entries[i].size != m2.entries[i].size ||
		    m.entries[i].mtime_nsec != m2.entries[i].mtime_nsec ||
		    m.entries[i].flags != m2.entries[i].flags ||
		    (m.entries[i].link == NULL) != (m2.entries[i].link == NULL))
			abort();
		if (manifest_find(&m2, m.entries[i].path) == NULL)
			abort();
	}
	manifest_free(&m2);
	manifest_free(&m);
	free(t.p);
	return 0;
}
