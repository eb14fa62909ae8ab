/*
 * addr: "HOST:PORT" and "[V6]:PORT" as the support settings write an
 * address (bastion, target), split and bounded.
 */
#ifndef ADDR_H
#define ADDR_H

#include <stddef.h>

/*
 * Splits text into host (without brackets) and port (1-65535, digits
 * only). host must not be empty nor contain ':' unless bracketed. Returns
 * 0, or -EINVAL (malformed) or -ENAMETOOLONG (a part does not fit).
 */
int	addr_split(const char *text, char *host, size_t hostlen, char *port,
	    size_t portlen);

#endif
