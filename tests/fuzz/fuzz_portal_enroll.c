/* libFuzzer target: the portal's parsers for the bodies that arrive before
 * (enrolment, login) or beside (operators' commands, token requests,
 * alert acknowledgements) the agents' reports. Each
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
	const char *json = (const char *)data, *token, *type, *key, *name,
	    *password, *replace, *comment;
	double expires;
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
	if (ingest_parse_login(json, size, 64, 1024, &root, &name, &password,
	    err, sizeof(err)) == 0) {
		if (name == NULL || password == NULL || strlen(name) == 0 ||
		    strlen(name) > 64 || strlen(password) == 0 ||
		    strlen(password) > 1024)
			abort();
		json_decref(root);
	}
	if (ingest_parse_user(json, size, 64, 1024, &root, &name, &type,
	    &password, err, sizeof(err)) == 0) {
		if (name == NULL || type == NULL || password == NULL ||
		    strlen(type) == 0 || strlen(type) > 16)
			abort();
		json_decref(root);
	}
	if (ingest_parse_token_request(json, size, 30.0 * 86400, &root,
	    &expires, &replace, err, sizeof(err)) == 0) {
		if (expires != 0 && (expires < 60 || expires > 30.0 * 86400))
			abort();
		if (replace != NULL && (strlen(replace) == 0 ||
		    strlen(replace) > 36))
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
