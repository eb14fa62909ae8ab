/* Allocation that cannot fail: an agent out of memory has nothing better to do
 * than exit and let systemd restart it, as OpenSSH's xmalloc does. */
#ifndef XMALLOC_H
#define XMALLOC_H

#include <stddef.h>

void	*xcalloc(size_t n, size_t size);
void	*xreallocarray(void *p, size_t n, size_t size);
char	*xstrdup(const char *s);
char	*xstrndup(const char *s, size_t n);
int	 xasprintf(char **ret, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
