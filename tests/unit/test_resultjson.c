/*
 * resultjson: the check object's "forecast" member (docs/protocol.md), its
 * absence without a forecast, and struct result's forecast through
 * result_reset and result_move.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "result.h"
#include "resultjson.h"

static void
with_forecast(struct result *r)
{
	result_reset(r);
	result_set(r, STATE_WARNING, "/var full in ~3 d 4 h at 1.2 GiB/day");
	snprintf(r->forecast.item, sizeof(r->forecast.item), "/var");
	snprintf(r->forecast.resource, sizeof(r->forecast.resource), "space");
	r->forecast.eta = 273600;
	r->forecast.rate = 1288490188.8;
	snprintf(r->forecast.unit, sizeof(r->forecast.unit), "B");
	r->has_forecast = true;
}

static void
test_forecast_member(void **state)
{
	struct result r = { 0 }, moved = { 0 };
	json_t *o, *f;

	(void)state;
	with_forecast(&r);
	for (int detail = 0; detail <= 1; detail++) {
		o = resultjson_encode(&r, detail);
		f = json_object_get(o, "forecast");
		assert_true(json_is_object(f));
		assert_int_equal(json_object_size(f), 5);
		assert_string_equal(json_string_value(json_object_get(f,
		    "item")), "/var");
		assert_string_equal(json_string_value(json_object_get(f,
		    "resource")), "space");
		assert_true(json_number_value(json_object_get(f, "eta")) ==
		    273600);
		assert_true(json_number_value(json_object_get(f, "rate")) ==
		    1288490188.8);
		assert_string_equal(json_string_value(json_object_get(f,
		    "unit")), "B");
		json_decref(o);
	}

	result_move(&moved, &r);
	assert_false(r.has_forecast);
	assert_true(moved.has_forecast);
	assert_string_equal(moved.forecast.item, "/var");
	result_reset(&moved);
	assert_false(moved.has_forecast);
	assert_string_equal(moved.forecast.item, "");
	o = resultjson_encode(&moved, 1);
	assert_null(json_object_get(o, "forecast"));
	json_decref(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forecast_member),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
