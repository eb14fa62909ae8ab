/*
 * The web app's files (portal/web/), built into the binary by
 * portal/web-embed.sh: served at / and /static/NAME by exact name only,
 * with an ETag, and the HTML with a strict Content-Security-Policy.
 */
#ifndef WEB_H
#define WEB_H

#include <stddef.h>

#include "http.h"

struct web_asset {
	const char		*path;	/* "/" or "/static/NAME" */
	const char		*type;	/* Content-Type */
	const char		*etag;	/* "\"sha256 prefix\"" */
	const unsigned char	*data;
	size_t			 len;
};

/* In the generated build/webassets.c. */
extern const struct web_asset web_assets[];
extern const size_t web_nassets;

/* The asset at url (a path without query), or NULL. */
const struct web_asset *web_find(const char *url);
/* Replies with url's asset (200, or 304 for a matching If-None-Match),
 * 404 when there is none, 405 for a method other than GET or HEAD. */
void	web_serve(struct http_request *, struct http_reply *);

#endif
