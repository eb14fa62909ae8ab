/*
 * smart: smartctl's JSON read strictly and bounded (size, depth, types),
 * one device's health judged from it, and the Nagios result for all the
 * devices. agentd-check-smart runs smartctl or reads what a root timer
 * saved; this file never runs anything.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "smart.h"

#define SMART_TABLE_MAX		256	/* ATA attributes looked at */
#define SMART_NAMED		5	/* devices named in the summary */

static const char *const smart_states[] = { "OK", "WARNING", "CRITICAL",
    "UNKNOWN" };

/* Whether buf nests arrays and objects at most max deep (strings and
 * their escapes skipped). jansson would go deeper; nothing we read does. */
static bool
smart_depth_ok(const char *buf, size_t len, int max)
{
	bool in_string = false;
	int depth = 0;

	for (size_t i = 0; i < len; i++) {
		char c = buf[i];

		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		} else if (c == '"')
			in_string = true;
		else if (c == '{' || c == '[') {
			if (++depth > max)
				return false;
		} else if (c == '}' || c == ']')
			depth--;
	}
	return true;
}

/* Parses buf as one JSON object, bounded; NULL with the reason in err. */
static json_t *
smart_load(const char *buf, size_t len, char *err, size_t errlen)
{
	char text[JSON_ERROR_TEXT_LENGTH * 2];
	json_error_t jerr;
	json_t *root;

	if (len > SMART_JSON_MAX) {
		snprintf(err, errlen, "smartctl output longer than %d bytes",
		    SMART_JSON_MAX);
		return NULL;
	}
	if (!smart_depth_ok(buf, len, SMART_DEPTH_MAX)) {
		snprintf(err, errlen, "smartctl output nested deeper than %d",
		    SMART_DEPTH_MAX);
		return NULL;
	}
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(err, errlen, "smartctl output is not JSON: %s",
		    log_escape(text, sizeof(text), jerr.text));
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		snprintf(err, errlen, "smartctl output is not a JSON object");
		return NULL;
	}
	return root;
}

/* s is made only of characters in allowed, and not empty. */
static bool
smart_made_of(const char *s, const char *allowed)
{
	return s[0] != '\0' && strspn(s, allowed) == strlen(s);
}

int
smart_parse_scan(const char *buf, size_t len, struct smart_device *out,
    size_t max, size_t *n, size_t *skipped, char *err, size_t errlen)
{
	static const char name_chars[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_.:-";
	static const char type_chars[] = "abcdefghijklmnopqrstuvwxyz"
	    "0123456789,_+-";
	json_t *root, *devices, *d, *v;
	const char *name, *type;
	size_t i;

	*n = *skipped = 0;
	if ((root = smart_load(buf, len, err, errlen)) == NULL)
		return -EINVAL;
	if (!json_is_array(devices = json_object_get(root, "devices"))) {
		json_decref(root);
		snprintf(err, errlen, "smartctl --scan: no \"devices\" array");
		return -EINVAL;
	}
	json_array_foreach(devices, i, d) {
		name = json_string_value(json_object_get(d, "name"));
		v = json_object_get(d, "type");
		type = v == NULL ? "" : json_string_value(v);
		if (name == NULL || type == NULL ||
		    strncmp(name, "/dev/", 5) != 0 ||
		    strlen(name) >= SMART_NAME_MAX ||
		    !smart_made_of(name, name_chars) ||
		    strstr(name, "/../") != NULL ||
		    strlen(type) >= SMART_TYPE_MAX ||
		    (type[0] != '\0' && !smart_made_of(type, type_chars)) ||
		    *n == max) {
			(*skipped)++;
			continue;
		}
		snprintf(out[*n].name, sizeof(out[*n].name), "%s", name);
		snprintf(out[*n].type, sizeof(out[*n].type), "%s", type);
		(*n)++;
	}
	json_decref(root);
	return 0;
}

/* obj.key as a non-negative integer into *out; false when absent or of
 * another type. */
static bool
smart_int(json_t *obj, const char *key, int64_t *out)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = json_integer_value(v);
	return true;
}

/* Raises h to state s and adds why to its reasons. */
static void
smart_note(struct smart_health *h, int s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
smart_note(struct smart_health *h, int s, const char *fmt, ...)
{
	size_t used = strlen(h->why);
	va_list ap;

	if (s > h->state)
		h->state = s;
	if (used > 0 && used + 2 < sizeof(h->why)) {
		memcpy(h->why + used, ", ", 3);
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(h->why + used, sizeof(h->why) - used, fmt, ap);
	va_end(ap);
}

/* The first error message smartctl gave, escaped, or "". */
static void
smart_message(json_t *root, char *buf, size_t len)
{
	json_t *msgs = json_object_get(json_object_get(root, "smartctl"),
	    "messages"), *m;
	const char *s;
	size_t i;

	buf[0] = '\0';
	json_array_foreach(msgs, i, m) {
		if ((s = json_string_value(json_object_get(m, "string"))) ==
		    NULL)
			continue;
		log_escape(buf, len, s);
		s = json_string_value(json_object_get(m, "severity"));
		if (s != NULL && strcmp(s, "error") == 0)
			return;
	}
}

/* ATA attributes 5, 197, 198 (raw values) and the temperature. */
static void
smart_ata(json_t *root, struct smart_health *h)
{
	json_t *table = json_object_get(json_object_get(root,
	    "ata_smart_attributes"), "table"), *a;
	int64_t id, raw;
	size_t i;

	json_array_foreach(table, i, a) {
		if (i == SMART_TABLE_MAX)
			break;
		if (!smart_int(a, "id", &id) ||
		    !smart_int(json_object_get(a, "raw"), "value", &raw))
			continue;
		if (id == 5) {
			h->realloc = raw;
			h->has_realloc = true;
		} else if (id == 197) {
			h->pending = raw;
			h->has_pending = true;
		} else if (id == 198) {
			h->uncorrect = raw;
			h->has_uncorrect = true;
		}
	}
}

static void
smart_nvme(json_t *root, struct smart_health *h)
{
	json_t *log = json_object_get(root,
	    "nvme_smart_health_information_log");
	int64_t cw, spare, spare_min;

	if (!json_is_object(log))
		return;
	if (smart_int(log, "critical_warning", &cw) && cw != 0)
		smart_note(h, 2, "NVMe critical warning 0x%" PRIx64, cw);
	if (smart_int(log, "available_spare", &spare) &&
	    smart_int(log, "available_spare_threshold", &spare_min) &&
	    spare < spare_min)
		smart_note(h, 2, "spare %" PRId64 "%% below %" PRId64 "%%",
		    spare, spare_min);
	if (smart_int(log, "percentage_used", &h->used)) {
		h->has_used = true;
		if (h->used >= 100)
			smart_note(h, 1, "worn out (%" PRId64 "%% used)",
			    h->used);
	}
	if (smart_int(log, "media_errors", &h->media_errors))
		h->has_media_errors = true;
	if (!h->has_temp && smart_int(log, "temperature", &h->temp))
		h->has_temp = true;
}

int
smart_judge(const char *name, const char *buf, size_t len,
    struct smart_health *h)
{
	json_t *root, *status, *passed;
	char msg[SMART_WHY_MAX];
	int64_t exit_status = 0;
	size_t o = 0;

	memset(h, 0, sizeof(*h));
	for (; *name != '\0' && o + 1 < sizeof(h->name); name++)
		h->name[o++] = (*name > 0x20 && *name < 0x7f) ? *name : '?';
	h->state = 3;
	if ((root = smart_load(buf, len, h->why, sizeof(h->why))) == NULL)
		return h->state;
	smart_int(json_object_get(root, "smartctl"), "exit_status",
	    &exit_status);
	status = json_object_get(root, "smart_status");
	passed = json_object_get(status, "passed");
	if (!json_is_boolean(passed)) {
		smart_message(root, msg, sizeof(msg));
		if (exit_status & 0x02)
			snprintf(h->why, sizeof(h->why), "cannot open: %s",
			    msg[0] != '\0' ? msg : "device open failed");
		else
			snprintf(h->why, sizeof(h->why), "no SMART status%s%s",
			    msg[0] != '\0' ? ": " : " (no SMART support, or "
			    "it is off)", msg);
		json_decref(root);
		return h->state;
	}
	h->state = 0;
	if (smart_int(json_object_get(root, "temperature"), "current",
	    &h->temp))
		h->has_temp = true;
	smart_ata(root, h);
	smart_nvme(root, h);
	if (!json_boolean_value(passed))
		smart_note(h, 2, "SMART health FAILED");
	if (h->has_pending && h->pending > 0)
		smart_note(h, 1, "%" PRId64 " pending sector%s", h->pending,
		    h->pending == 1 ? "" : "s");
	if (h->has_uncorrect && h->uncorrect > 0)
		smart_note(h, 1, "%" PRId64 " offline uncorrectable sector%s",
		    h->uncorrect, h->uncorrect == 1 ? "" : "s");
	if ((exit_status & 0x10) && h->state == 0)
		smart_note(h, 1, "a prefail attribute is at its threshold");
	json_decref(root);
	return h->state;
}

/* Appends to buf at *used, never past len. */
static void
smart_append(char *buf, size_t len, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
smart_append(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (*used >= len)
		return;
	va_start(ap, fmt);
	w = vsnprintf(buf + *used, len - *used, fmt, ap);
	va_end(ap);
	if (w > 0)
		*used = (size_t)w >= len - *used ? len - 1 : *used + (size_t)w;
}

int
smart_format(const struct smart_health *h, size_t n, char *buf, size_t len)
{
	/* Worst first in the summary; UNKNOWN after CRITICAL. */
	static const int order[] = { 2, 3, 1 };
	size_t used = 0, bad = 0, named = 0, perf_at;
	int state = 0;

	if (len == 0)
		return 3;
	buf[0] = '\0';
	if (n == 0) {
		smart_append(buf, len, &used, "SMART UNKNOWN - no device to "
		    "check\n");
		return 3;
	}
	for (size_t i = 0; i < n; i++) {
		if (h[i].state != 0)
			bad++;
		if (h[i].state == 2 || (h[i].state == 3 && state != 2) ||
		    (h[i].state == 1 && state == 0))
			state = h[i].state;
	}
	smart_append(buf, len, &used, "SMART %s - ", smart_states[state]);
	if (bad == 0)
		smart_append(buf, len, &used, "%zu device%s healthy", n,
		    n == 1 ? "" : "s");
	for (size_t k = 0; k < 3 && bad > 0; k++)
		for (size_t i = 0; i < n; i++) {
			if (h[i].state != order[k] || named++ >= SMART_NAMED)
				continue;
			smart_append(buf, len, &used, "%s%s %s: %s", named > 1 ?
			    ", " : "", h[i].name, smart_states[h[i].state],
			    h[i].why);
		}
	if (named > SMART_NAMED)
		smart_append(buf, len, &used, " and %zu more",
		    named - SMART_NAMED);
	if (bad > 0)
		smart_append(buf, len, &used, " (%zu of %zu device%s)", bad, n,
		    n == 1 ? "" : "s");
	perf_at = used;
	smart_append(buf, len, &used, " |");
	for (size_t i = 0; i < n; i++) {
		if (h[i].has_temp)
			smart_append(buf, len, &used, " %s_temperature=%"
			    PRId64, h[i].name, h[i].temp);
		if (h[i].has_realloc)
			smart_append(buf, len, &used, " %s_reallocated=%"
			    PRId64 ";;;0", h[i].name, h[i].realloc);
		if (h[i].has_pending)
			smart_append(buf, len, &used, " %s_pending=%" PRId64
			    ";0;;0", h[i].name, h[i].pending);
		if (h[i].has_uncorrect)
			smart_append(buf, len, &used, " %s_uncorrectable=%"
			    PRId64 ";0;;0", h[i].name, h[i].uncorrect);
		if (h[i].has_media_errors)
			smart_append(buf, len, &used, " %s_media_errors=%"
			    PRId64 ";;;0", h[i].name, h[i].media_errors);
		if (h[i].has_used)
			smart_append(buf, len, &used, " %s_used=%" PRId64
			    "%%;99;;0;100", h[i].name, h[i].used);
	}
	if (used == perf_at + 2) {
		/* No perfdata at all: no "|". */
		used = perf_at;
		buf[used] = '\0';
	}
	smart_append(buf, len, &used, "\n");
	for (size_t i = 0; i < n; i++)
		smart_append(buf, len, &used, "%s: %s%s%s\n", h[i].name,
		    smart_states[h[i].state], h[i].why[0] != '\0' ? ": " : "",
		    h[i].why);
	return state;
}
