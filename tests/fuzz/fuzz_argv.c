/* libFuzzer target: command lines from the config, split without a shell. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "argv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line, **argv = NULL, err[256];
	int argc;

	if ((line = malloc(size + 1)) == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	err[0] = '\0';
	argc = argv_split(line, &argv, err, sizeof(err));
	if (argc > 0) {
		/* argc words, each a string, then the terminating NULL */
		if (argc > ARGV_WORDS_MAX || argv[argc] != NULL)
			abort();
		for (int i = 0; i < argc; i++)
			if (argv[i] == NULL || strlen(argv[i]) > size)
				abort();
		argv_free(argv);
	} else if (err[0] == '\0' || argv != NULL)
		abort();	/* a refusal says why and returns nothing */
	free(line);
	return 0;
}
