/* libFuzzer target: any bytes as a config file must parse or fail cleanly. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_errors errs = { 0 };
	struct config *cfg = NULL;
	int r;

	r = config_load_buffer("fuzz.conf", (const char *)data, size, &cfg,
	    &errs);
	if ((r == 0) != (cfg != NULL) || (r == 0) != (errs.n == 0))
		abort();
	for (size_t i = 0; i < errs.n; i++)
		if (strncmp(errs.msgs[i], "fuzz.conf", 9) != 0)
			abort();
	config_free(cfg);
	config_errors_free(&errs);
	return 0;
}
