/*
 * glob: lists of fnmatch(3) patterns that a config key gives as one
 * comma-separated value ("loop*, ram*"), as exclude and ignore keys do.
 */
#ifndef GLOB_H
#define GLOB_H

#include <stdbool.h>
#include <stddef.h>

#define GLOB_LEN_MAX	255	/* bytes of one pattern */

/*
 * Replaces the *n patterns in list, which has room for max, with the
 * comma-separated patterns in value: blanks around each are dropped and
 * empty ones skipped; the list owns the copies (glob_list_clear frees
 * them). Returns 0, or -EINVAL for a pattern longer than GLOB_LEN_MAX
 * bytes or more than max patterns, with the reason in err (prefixed with
 * key; err may be NULL when errlen is 0) and the list left empty.
 */
int	glob_list_parse(char **list, size_t *n, size_t max, const char *key,
	    const char *value, char *err, size_t errlen);
/* Frees the n patterns in list and sets *n to 0. */
void	glob_list_clear(char **list, size_t *n);
/* true when name matches one of the n patterns. */
bool	glob_list_match(char *const *list, size_t n, const char *name);

#endif
