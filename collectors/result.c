/* The check result model: every collector and external check fills one. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "result.h"
#include "xmalloc.h"

static const char *const state_names[] = {
	[STATE_OK] = "OK",
	[STATE_WARNING] = "WARNING",
	[STATE_CRITICAL] = "CRITICAL",
	[STATE_UNKNOWN] = "UNKNOWN",
};

void
result_reset(struct result *r)
{
	free(r->long_text);
	free(r->perf);
	memset(r, 0, sizeof(*r));
	r->state = STATE_UNKNOWN;
}

void
result_set(struct result *r, enum check_state s, const char *fmt, ...)
{
	va_list ap;

	r->state = s;
	va_start(ap, fmt);
	vsnprintf(r->summary, sizeof(r->summary), fmt, ap);
	va_end(ap);
}

struct perf *
result_add_perf(struct result *r, const char *label, double value,
    const char *uom)
{
	struct perf *p;

	if (r->nperf >= RESULT_PERF_MAX)
		return NULL;
	if (r->nperf == r->perf_cap) {
		r->perf_cap = r->perf_cap == 0 ? 8 : r->perf_cap * 2;
		r->perf = xreallocarray(r->perf, r->perf_cap, sizeof(*r->perf));
	}
	p = &r->perf[r->nperf++];
	memset(p, 0, sizeof(*p));
	snprintf(p->label, sizeof(p->label), "%s", label);
	snprintf(p->uom, sizeof(p->uom), "%s", uom != NULL ? uom : "");
	p->value = value;
	return p;
}

void
result_append_long(struct result *r, const char *fmt, ...)
{
	size_t used = r->long_text != NULL ? strlen(r->long_text) : 0;
	va_list ap;
	int n;

	if (used + 1 >= RESULT_LONG_MAX)
		return;
	if (r->long_text == NULL)
		r->long_text = xcalloc(1, RESULT_LONG_MAX);
	if (used > 0)
		r->long_text[used++] = '\n';
	va_start(ap, fmt);
	n = vsnprintf(r->long_text + used, RESULT_LONG_MAX - used, fmt, ap);
	va_end(ap);
	if (n < 0)
		r->long_text[used] = '\0';
}

/* Nagios ranks UNKNOWN between WARNING and CRITICAL for "worst of". */
static int
state_rank(enum check_state s)
{
	switch (s) {
	case STATE_OK:
		return 0;
	case STATE_WARNING:
		return 1;
	case STATE_UNKNOWN:
		return 2;
	case STATE_CRITICAL:
		return 3;
	}
	return 2;
}

void
result_escalate(struct result *r, enum check_state s)
{
	if (state_rank(s) > state_rank(r->state))
		r->state = s;
}

void
result_move(struct result *dst, struct result *src)
{
	result_reset(dst);
	*dst = *src;
	memset(src, 0, sizeof(*src));
	src->state = STATE_UNKNOWN;
}

const char *
result_state_name(enum check_state s)
{
	if ((unsigned)s > STATE_UNKNOWN)
		return "UNKNOWN";
	return state_names[s];
}

int
result_state_parse(const char *s)
{
	for (int i = STATE_OK; i <= STATE_UNKNOWN; i++)
		if (strcasecmp(s, state_names[i]) == 0)
			return i;
	return -EINVAL;
}
