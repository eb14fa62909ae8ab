/*
 * Validation of the reporter's frames (see childmsg.h). Strict jansson
 * formats ("!": no member besides those named) do the shape; the bounds
 * the formats cannot say are checked after.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "childmsg.h"
#include "reply.h"

/* Depth of nested arrays and objects below v (v itself is 1). */
static int
childmsg_depth_ok(json_t *v, int left)
{
	const char *key;
	json_t *e;
	size_t i;

	if (!json_is_object(v) && !json_is_array(v))
		return 1;
	if (left == 0)
		return 0;
	if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			if (!childmsg_depth_ok(e, left - 1))
				return 0;
	} else {
		json_object_foreach(v, key, e)
			if (!childmsg_depth_ok(e, left - 1))
				return 0;
	}
	return 1;
}

static int
childmsg_command(json_t *c, size_t i, char *err, size_t errlen)
{
	const char *id, *type;
	json_t *args;
	json_error_t jerr;

	/* Three pairs: id, type, args. */
	if (json_unpack_ex(c, &jerr, JSON_STRICT, "{s:s, s:s, s:o}", "id", &id,
	    "type", &type, "args", &args) < 0) {
		snprintf(err, errlen, "command %zu: %s", i, jerr.text);
		return -EBADMSG;
	}
	if (*id == '\0' || strlen(id) > CHILDMSG_ID_MAX) {
		snprintf(err, errlen, "command %zu: id is empty or longer than "
		    "%d bytes", i, CHILDMSG_ID_MAX);
		return -EBADMSG;
	}
	if (*type == '\0' || strlen(type) > CHILDMSG_TYPE_MAX) {
		snprintf(err, errlen, "command %zu: type is empty or longer "
		    "than %d bytes", i, CHILDMSG_TYPE_MAX);
		return -EBADMSG;
	}
	if (!json_is_object(args) || !childmsg_depth_ok(args,
	    CHILDMSG_ARGS_DEPTH)) {
		snprintf(err, errlen, "command %zu: args is not an object or "
		    "nests deeper than %d", i, CHILDMSG_ARGS_DEPTH);
		return -EBADMSG;
	}
	return 0;
}

int
childmsg_check(json_t *msg, char *err, size_t errlen)
{
	const char *t, *error, *http;
	json_int_t id, ack, retry_after;
	json_t *cmds, *c;
	int ok, status, skipped;
	json_error_t jerr;
	size_t i;

	if (!json_is_object(msg)) {
		snprintf(err, errlen, "not a JSON object");
		return -EBADMSG;
	}
	/* The type first: it says which shape to hold the rest to. */
	if (json_unpack_ex(msg, &jerr, 0, "{s:s, s:b}", "t", &t, "ok",
	    &ok) < 0) {
		snprintf(err, errlen, "%s", jerr.text);
		return -EBADMSG;
	}
	if (strcmp(t, "result") != 0) {
		snprintf(err, errlen, "unknown frame type");
		return -EBADMSG;
	}
	if (!ok) {
		/* Six or seven pairs: t, id, ok, status, retry_after, error,
		 * and ack on a sequence conflict (409). */
		ack = -1;
		if (json_unpack_ex(msg, &jerr, JSON_STRICT,
		    "{s:s, s:I, s:b, s:i, s:I, s:s, s?I}", "t", &t, "id", &id,
		    "ok", &ok, "status", &status, "retry_after", &retry_after,
		    "error", &error, "ack", &ack) < 0) {
			snprintf(err, errlen, "%s", jerr.text);
			return -EBADMSG;
		}
		if (status < 0 || status > 999 || retry_after < -1 ||
		    strlen(error) > CHILDMSG_ERROR_MAX ||
		    (json_object_get(msg, "ack") != NULL &&
		    (status != 409 || ack < 0))) {
			snprintf(err, errlen, "status, retry_after, error or "
			    "ack out of bounds");
			return -EBADMSG;
		}
		return 0;
	}
	/* Seven pairs: t, id, ok, ack, commands, skipped, http. */
	if (json_unpack_ex(msg, &jerr, JSON_STRICT,
	    "{s:s, s:I, s:b, s:I, s:o, s:i, s:s}", "t", &t, "id", &id, "ok",
	    &ok, "ack", &ack, "commands", &cmds, "skipped", &skipped, "http",
	    &http) < 0) {
		snprintf(err, errlen, "%s", jerr.text);
		return -EBADMSG;
	}
	if (ack < 0 || skipped < 0 || (strcmp(http, "1.1") != 0 &&
	    strcmp(http, "2") != 0)) {
		snprintf(err, errlen, "ack, skipped or http out of bounds");
		return -EBADMSG;
	}
	if (!json_is_array(cmds) || json_array_size(cmds) >
	    REPLY_COMMANDS_MAX) {
		snprintf(err, errlen, "commands is not an array of at most %d",
		    REPLY_COMMANDS_MAX);
		return -EBADMSG;
	}
	json_array_foreach(cmds, i, c)
		if (childmsg_command(c, i, err, errlen) < 0)
			return -EBADMSG;
	return 0;
}
