/* libFuzzer target: a pinned host key "TYPE BASE64" (config, or the
 * portal's enrolment reply), parsed, fingerprinted and compared. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hostkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hostkey k;
	char *text, fp[HOSTKEY_FP_LEN], err[512];

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (hostkey_parse(text, &k) == 0) {
		/* The blob starts with the type, as an SSH string. */
		if (k.len <= 4 + strlen(k.type) || k.len > sizeof(k.blob) ||
		    memcmp(k.blob + 4, k.type, strlen(k.type)) != 0)
			abort();
		hostkey_fingerprint(k.blob, k.len, fp, sizeof(fp));
		if (strncmp(fp, "SHA256:", 7) != 0 || strlen(fp) != 50)
			abort();
		if (hostkey_match(&k, "h", k.blob, k.len, err,
		    sizeof(err)) != 0)
			abort();
		/* Any other bytes are a mismatch. */
		if (hostkey_match(&k, "h", data, size, err, sizeof(err)) == 0 &&
		    (size != k.len || memcmp(data, k.blob, size) != 0))
			abort();
	} else if (k.len != 0 || k.type[0] != '\0')
		abort();	/* a refusal leaves nothing behind */
	free(text);
	return 0;
}
