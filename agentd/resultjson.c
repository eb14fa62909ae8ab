/* Encodes results for the control socket and the portal reports. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "resultjson.h"

static json_t *
resultjson_number(double v, int has)
{
	/* JSON has no NaN: an undetermined ("U") value is null. */
	if (!has || !isfinite(v))
		return json_null();
	return json_real(v);
}

/* Plugin text is not always valid UTF-8, which JSON requires: keep it, with
 * the bytes outside ASCII shown as '?' when the whole is not UTF-8. */
static json_t *
resultjson_text(const char *s)
{
	json_t *j;
	char *copy;

	if ((j = json_string(s)) != NULL)
		return j;
	if ((copy = strdup(s)) == NULL)
		return json_null();
	for (char *p = copy; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j != NULL ? j : json_null();
}

static json_t *
resultjson_perf(const struct perf *p)
{
	json_t *o = json_object();

	json_object_set_new(o, "label", resultjson_text(p->label));
	json_object_set_new(o, "value", resultjson_number(p->value, 1));
	if (p->uom[0] != '\0')
		json_object_set_new(o, "uom", json_string(p->uom));
	if (p->warn[0] != '\0')
		json_object_set_new(o, "warn", json_string(p->warn));
	if (p->crit[0] != '\0')
		json_object_set_new(o, "crit", json_string(p->crit));
	if (p->has_min)
		json_object_set_new(o, "min", resultjson_number(p->min, 1));
	if (p->has_max)
		json_object_set_new(o, "max", resultjson_number(p->max, 1));
	return o;
}

/* {"item", "resource", "eta", "rate", "unit"} (docs/protocol.md). */
static json_t *
resultjson_forecast(const struct result_forecast *f)
{
	json_t *o = json_object();

	json_object_set_new(o, "item", resultjson_text(f->item));
	json_object_set_new(o, "resource", resultjson_text(f->resource));
	json_object_set_new(o, "eta", resultjson_number(f->eta, 1));
	json_object_set_new(o, "rate", resultjson_number(f->rate, 1));
	json_object_set_new(o, "unit", resultjson_text(f->unit));
	return o;
}

json_t *
resultjson_encode(const struct result *r, int with_detail)
{
	json_t *o = json_object(), *perf;

	json_object_set_new(o, "state", json_string(result_state_name(r->state)));
	json_object_set_new(o, "summary", resultjson_text(r->summary));
	json_object_set_new(o, "when", json_real((double)r->when_usec / 1e6));
	json_object_set_new(o, "duration_ms",
	    json_real((double)r->duration_usec / 1e3));
	if (r->has_forecast)
		json_object_set_new(o, "forecast", resultjson_forecast(
		    &r->forecast));
	if (!with_detail)
		return o;
	if (r->long_text != NULL)
		json_object_set_new(o, "long_text", resultjson_text(r->long_text));
	perf = json_array();
	for (size_t i = 0; i < r->nperf; i++)
		json_array_append_new(perf, resultjson_perf(&r->perf[i]));
	json_object_set_new(o, "perfdata", perf);
	return o;
}
