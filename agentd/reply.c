/* Portal reply parsing: bounded, strict on what we use, lenient on the rest. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "reply.h"

static int
reply_string_ok(json_t *v, size_t max)
{
	const char *s = json_string_value(v);

	return s != NULL && *s != '\0' && strlen(s) <= max;
}

int
reply_parse(const char *body, size_t len, uint64_t *ack, json_t **commands,
    size_t *skipped, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root, *a, *cmds, *c;
	size_t i;

	*commands = NULL;
	*skipped = 0;
	if (len > REPLY_BODY_MAX) {
		snprintf(err, errlen, "reply larger than %d bytes", REPLY_BODY_MAX);
		return -EBADMSG;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(root)) {
		if (root == NULL)
			snprintf(err, errlen, "reply is not JSON (line %d: %s)",
			    jerr.line, jerr.text);
		else
			snprintf(err, errlen, "reply is not a JSON object");
		json_decref(root);
		return -EBADMSG;
	}
	a = json_object_get(root, "ack");
	if (!json_is_integer(a) || json_integer_value(a) < 0) {
		snprintf(err, errlen, "reply: 'ack' is missing or not a "
		    "non-negative integer");
		json_decref(root);
		return -EBADMSG;
	}
	*ack = (uint64_t)json_integer_value(a);
	*commands = json_array();
	cmds = json_object_get(root, "commands");
	json_array_foreach(cmds, i, c) {
		json_t *args = json_object_get(c, "args");

		if (!json_is_object(c) ||
		    !reply_string_ok(json_object_get(c, "id"),
		    REPLY_COMMAND_ID_MAX) ||
		    !reply_string_ok(json_object_get(c, "type"), 64) ||
		    (args != NULL && !json_is_object(args)) ||
		    json_array_size(*commands) >= REPLY_COMMANDS_MAX) {
			(*skipped)++;
			continue;
		}
		/* Only the three members agentd knows: it accepts nothing
		 * else from this process (childmsg.c). */
		json_array_append_new(*commands, json_pack("{s:O, s:O, s:o}",
		    "id", json_object_get(c, "id"), "type",
		    json_object_get(c, "type"), "args", args != NULL ?
		    json_incref(args) : json_object()));
	}
	if (cmds != NULL && !json_is_array(cmds))
		(*skipped)++;
	json_decref(root);
	return 0;
}

int64_t
reply_retry_after(int64_t seconds)
{
	if (seconds < 0)
		return -1;
	return seconds > REPLY_RETRY_AFTER_MAX ? REPLY_RETRY_AFTER_MAX :
	    seconds;
}

int
reply_parse_conflict(const char *body, size_t len, uint64_t *ack)
{
	json_t *root, *a;
	int r = -EBADMSG;

	if (len > REPLY_BODY_MAX)
		return -EBADMSG;
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	a = json_object_get(root, "ack");
	if (json_is_integer(a) && json_integer_value(a) >= 0) {
		*ack = (uint64_t)json_integer_value(a);
		r = 0;
	}
	json_decref(root);
	return r;
}
