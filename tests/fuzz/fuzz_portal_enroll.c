/* libFuzzer target: the portal's parsers for the bodies that arrive before
 * (enrolment) or beside (operators' commands and alert acknowledgements)
 * the agents' reports. Each
 * input must be judged within libFuzzer's -timeout (tests/fuzz/run.sh). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *json = (const char *)data, *token, *type, *key, *comment;
	json_t *root, *host, *args;
	char err[512];

	if (ingest_parse_enroll_key(json, size, &root, &token, &host, &key,
	    err, sizeof(err)) == 0) {
		/* What was accepted is what api_enroll relies on; a key
		 * goes into sshd's authorized_keys lines as it is. */
		if (token == NULL || !json_is_object(host) ||
		    strlen(token) == 0 || strlen(token) > 256)
			abort();
		if (key != NULL && (strlen(key) != 12 + INGEST_SSH_KEY_B64 ||
		    strncmp(key, "ssh-ed25519 ", 12) != 0 ||
		    strpbrk(key + 12, " \t\r\n\"") != NULL))
			abort();
		json_decref(root);
	}
	if (ingest_parse_command(json, size, &root, &type, &args, err,
	    sizeof(err)) == 0) {
		if (type == NULL || !json_is_object(args))
			abort();
		json_decref(root);
	}
	if (ingest_parse_ack(json, size, &root, &comment, err,
	    sizeof(err)) == 0) {
		if (comment == NULL || strlen(comment) == 0 ||
		    strlen(comment) > INGEST_MAX_COMMENT)
			abort();
		json_decref(root);
	}
	return 0;
}
