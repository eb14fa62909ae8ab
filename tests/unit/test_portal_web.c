/* The web app's embedded files (build/webassets.c, portal/web.c): each
 * served at its one exact path with its type and an ETag; no other path,
 * no directory, no traversal, no second name for index.html. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "web.h"

static void
test_exact_paths(void **state)
{
	const struct web_asset *w;

	(void)state;
	w = web_find("/");
	assert_non_null(w);
	assert_string_equal(w->type, "text/html; charset=utf-8");
	/* Not NUL-terminated: xxd -i gives the bytes only. */
	assert_non_null(memmem(w->data, w->len, "/static/app.js", 14));
	w = web_find("/static/app.js");
	assert_non_null(w);
	assert_string_equal(w->type, "text/javascript; charset=utf-8");
	w = web_find("/static/style.css");
	assert_non_null(w);
	assert_string_equal(w->type, "text/css; charset=utf-8");
	assert_null(web_find("/index.html"));
	assert_null(web_find("/static/index.html"));
	assert_null(web_find("/static/"));
	assert_null(web_find("/static"));
	assert_null(web_find("/static/../portal.db"));
	assert_null(web_find("/static/app.js/"));
	assert_null(web_find("/static/APP.JS"));
	assert_null(web_find(""));
}

/* Every file has a quoted ETag of its own and a non-empty body. */
static void
test_etags(void **state)
{
	size_t i, j;

	(void)state;
	assert_true(web_nassets >= 5);
	for (i = 0; i < web_nassets; i++) {
		assert_true(web_assets[i].len > 0);
		assert_int_equal(web_assets[i].etag[0], '"');
		assert_int_equal(strlen(web_assets[i].etag), 22);
		for (j = 0; j < i; j++) {
			assert_string_not_equal(web_assets[i].path,
			    web_assets[j].path);
			assert_string_not_equal(web_assets[i].etag,
			    web_assets[j].etag);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_paths),
		cmocka_unit_test(test_etags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
