/* libFuzzer target: the portal's report parser, directly and behind the
 * bounded gzip decoder (inputs starting with the gzip magic). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "gunzip.h"
#include "ingest.h"
#include "portal.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ingest_batch *b = calloc(1, sizeof(*b));
	char err[512], *plain = NULL;
	const char *json = (const char *)data;
	size_t len = size;

	if (b == NULL)
		return 0;
	if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
		if (gunzip_bounded(data, size, 1024 * 1024, &plain, &len) != 0)
			goto out;
		json = plain;
	}
	if (ingest_parse_reports(json, len, b, err, sizeof(err)) == 0)
		ingest_batch_clear(b);
out:
	free(plain);
	free(b);
	return 0;
}
