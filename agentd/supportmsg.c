/*
 * supportmsg: the one validator of agentd-support's frames (supportmsg.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "supportmsg.h"

static int
supportmsg_text_ok(const char *s)
{
	return strlen(s) <= SUPPORTMSG_TEXT_MAX;
}

static int
supportmsg_count_ok(json_int_t n)
{
	return n >= 0 && n <= SUPPORTMSG_COUNT_MAX;
}

int
supportmsg_check(json_t *msg, char *err, size_t errlen)
{
	json_int_t a = 0, b = 0, c = 0;
	const char *t, *s = "";
	json_error_t jerr;
	int r;

	if (!json_is_object(msg) || json_unpack(msg, "{s:s}", "t", &t) < 0) {
		snprintf(err, errlen, "no string member 't'");
		return -EBADMSG;
	}
	if (strcmp(t, "up") == 0) {
		/* Two pairs: t, port. */
		r = json_unpack_ex(msg, &jerr, JSON_STRICT, "{s:s, s:I}",
		    "t", &t, "port", &a);
		if (r == 0 && (a < 1 || a > 65535))
			goto range;
	} else if (strcmp(t, "down") == 0) {
		/* Three pairs: t, error, message. */
		r = json_unpack_ex(msg, &jerr, JSON_STRICT, "{s:s, s:I, s:s}",
		    "t", &t, "error", &a, "message", &s);
		if (r == 0 && (a < -4095 || a > 0))
			goto range;
	} else if (strcmp(t, "retry") == 0) {
		/* Two pairs: t, delay_ms. */
		r = json_unpack_ex(msg, &jerr, JSON_STRICT, "{s:s, s:I}",
		    "t", &t, "delay_ms", &a);
		if (r == 0 && (a < 0 || a > 86400000))
			goto range;
	} else if (strcmp(t, "conn_open") == 0) {
		/* Two pairs: t, conn. */
		r = json_unpack_ex(msg, &jerr, JSON_STRICT, "{s:s, s:I}",
		    "t", &t, "conn", &a);
		if (r == 0 && !supportmsg_count_ok(a))
			goto range;
	} else if (strcmp(t, "conn_close") == 0) {
		/* Five pairs: t, conn, bytes_in, bytes_out, message. */
		r = json_unpack_ex(msg, &jerr, JSON_STRICT,
		    "{s:s, s:I, s:I, s:I, s:s}", "t", &t, "conn", &a,
		    "bytes_in", &b, "bytes_out", &c, "message", &s);
		if (r == 0 && (!supportmsg_count_ok(a) ||
		    !supportmsg_count_ok(b) || !supportmsg_count_ok(c)))
			goto range;
	} else if (strcmp(t, "failed") == 0) {
		/* Three pairs: t, error, detail. */
		r = json_unpack_ex(msg, &jerr, JSON_STRICT, "{s:s, s:I, s:s}",
		    "t", &t, "error", &a, "detail", &s);
		if (r == 0 && (a < -4095 || a > 0))
			goto range;
	} else {
		snprintf(err, errlen, "unknown frame type");
		return -EBADMSG;
	}
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", t, jerr.text);
		return -EBADMSG;
	}
	if (!supportmsg_text_ok(s)) {
		snprintf(err, errlen, "%s: a text longer than %d bytes", t,
		    SUPPORTMSG_TEXT_MAX);
		return -EBADMSG;
	}
	return 0;
 range:
	snprintf(err, errlen, "%s: a number out of range", t);
	return -EBADMSG;
}
