/*
 * addr: HOST:PORT splitting (addr.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int
addr_split(const char *text, char *host, size_t hostlen, char *port,
    size_t portlen)
{
	const char *h, *p, *end;
	size_t hl, pl, i;
	unsigned long n;

	if (hostlen > 0)
		host[0] = '\0';
	if (portlen > 0)
		port[0] = '\0';
	if (text == NULL || strnlen(text, 1024) == 1024)
		return -EINVAL;
	if (text[0] == '[') {
		h = text + 1;
		if ((end = strchr(h, ']')) == NULL || end[1] != ':')
			return -EINVAL;
		hl = (size_t)(end - h);
		p = end + 2;
	} else {
		h = text;
		if ((end = strchr(h, ':')) == NULL || strchr(end + 1, ':'))
			return -EINVAL;
		hl = (size_t)(end - h);
		p = end + 1;
	}
	pl = strlen(p);
	if (hl == 0 || pl == 0 || pl > 5)
		return -EINVAL;
	for (i = 0; i < hl; i++)
		if (h[i] <= ' ' || h[i] > '~' || h[i] == '[' || h[i] == ']' ||
		    h[i] == '/')
			return -EINVAL;
	for (i = 0; i < pl; i++)
		if (p[i] < '0' || p[i] > '9')
			return -EINVAL;
	n = strtoul(p, NULL, 10);
	if (n == 0 || n > 65535)
		return -EINVAL;
	if (hl >= hostlen || pl >= portlen)
		return -ENAMETOOLONG;
	memcpy(host, h, hl);
	host[hl] = '\0';
	memcpy(port, p, pl);
	port[pl] = '\0';
	return 0;
}
