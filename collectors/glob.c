/*
 * glob: the one parser of comma-separated fnmatch(3) pattern lists for
 * config keys, with the size limits every such key shares.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glob.h"
#include "xmalloc.h"

int
glob_list_parse(char **list, size_t *n, size_t max, const char *key,
    const char *value, char *err, size_t errlen)
{
	const char *p = value, *e, *comma;
	size_t len;

	glob_list_clear(list, n);
	while (*p != '\0') {
		comma = strchr(p, ',');
		e = comma != NULL ? comma : p + strlen(p);
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		len = e - p;
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len > GLOB_LEN_MAX) {
			snprintf(err, errlen, "%s: pattern '%.32s...' is "
			    "longer than %d bytes", key, p, GLOB_LEN_MAX);
			goto fail;
		}
		if (len > 0) {
			if (*n == max) {
				snprintf(err, errlen, "%s: more than %zu "
				    "patterns", key, max);
				goto fail;
			}
			list[(*n)++] = xstrndup(p, len);
		}
		p = comma != NULL ? comma + 1 : e;
	}
	return 0;
 fail:
	glob_list_clear(list, n);
	return -EINVAL;
}

void
glob_list_clear(char **list, size_t *n)
{
	for (size_t i = 0; i < *n; i++) {
		free(list[i]);
		list[i] = NULL;
	}
	*n = 0;
}

bool
glob_list_match(char *const *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (fnmatch(list[i], name, 0) == 0)
			return true;
	return false;
}
