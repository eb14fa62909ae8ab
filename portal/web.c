/*
 * The web app's static files: looked up by exact path in the table the
 * build generates, so nothing on disk is ever read or named by a client.
 */
#include <string.h>

#include "web.h"

const struct web_asset *
web_find(const char *url)
{
	size_t i;

	for (i = 0; i < web_nassets; i++)
		if (strcmp(web_assets[i].path, url) == 0)
			return &web_assets[i];
	return NULL;
}

void
web_serve(struct http_request *req, struct http_reply *rep)
{
	const struct web_asset *w = web_find(req->url);
	const char *inm;

	if (w == NULL) {
		http_error(rep, 404, "no such page");
		return;
	}
	if (strcmp(req->method, "GET") != 0 &&
	    strcmp(req->method, "HEAD") != 0) {
		rep->allow = "GET, HEAD";
		http_error(rep, 405, "method %s not allowed", req->method);
		return;
	}
	rep->etag = w->etag;
	rep->html = strncmp(w->type, "text/html", 9) == 0;
	/* Revalidated each time: a new build changes the ETag at once. */
	rep->cache_control = "no-cache";
	inm = http_header(req, "If-None-Match");
	if (inm != NULL && strcmp(inm, w->etag) == 0) {
		rep->status = 304;
		return;
	}
	rep->status = 200;
	rep->data = w->data;
	rep->data_len = w->len;
	rep->content_type = w->type;
}
