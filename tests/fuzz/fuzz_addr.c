/* libFuzzer target: HOST:PORT as the support settings give the bastion
 * and the target (config, or the portal's enrolment reply). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, host[256], port[8];
	unsigned long n;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (addr_split(text, host, sizeof(host), port, sizeof(port)) == 0) {
		n = strtoul(port, NULL, 10);
		if (host[0] == '\0' || n < 1 || n > 65535 ||
		    strlen(host) >= size)
			abort();
	} else if (host[0] != '\0' || port[0] != '\0')
		abort();
	free(text);
	return 0;
}
