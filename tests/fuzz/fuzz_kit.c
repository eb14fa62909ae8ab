/*
 * libFuzzer target: a recovery kit, read by dr-restore on a fresh host
 * (a trust boundary). Whatever kit_parse accepts must format to text that
 * parses to the same kit.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kit a, b;
	char	 err[256], *text = NULL;
	size_t	 len, i;

	if (kit_parse((const char *)data, size, &a, err, sizeof(err)) != 0)
		return 0;
	if (kit_format(&a, &text, &len) != 0 ||
	    kit_parse(text, len, &b, err, sizeof(err)) != 0)
		abort();
	if (!same(a.job, b.job) || !same(a.target, b.target) ||
	    a.encrypted != b.encrypted || a.created != b.created ||
	    (a.encrypted && memcmp(a.key, b.key, sizeof(a.key)) != 0) ||
	    !same(a.host_key, b.host_key) ||
	    !same(a.credential, b.credential) || a.nconf != b.nconf)
		abort();
	for (i = 0; i < a.nconf; i++)
		if (strcmp(a.conf[i], b.conf[i]) != 0)
			abort();
	free(text);
	kit_free(&a);
	kit_free(&b);
	return 0;
}
