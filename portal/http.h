/*
 * The HTTPS server: libmicrohttpd with GnuTLS, a thread pool, request
 * bodies collected up to PORTAL_MAX_BODY (413 beyond), JSON replies.
 * Routing and meaning live in api.c.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>

#include <jansson.h>
#include <microhttpd.h>

struct http_request {
	struct MHD_Connection	*conn;
	const char		*method;
	const char		*url;
	char			*body;
	size_t			 len;
	size_t			 cap;
	int			 too_large;
};

struct http_reply {
	unsigned int	 status;
	json_t		*body;		/* owned; NULL for no body */
	int		 retry_after;	/* > 0: a Retry-After header */
	const char	*allow;		/* an Allow header (405) */
};

typedef void http_handler(void *arg, struct http_request *,
    struct http_reply *);

struct http_options {
	const char	*listen;	/* "ADDR:PORT" or "[ADDR6]:PORT" */
	char		*cert_pem;	/* NUL-terminated PEM text */
	char		*key_pem;
	unsigned int	 threads;	/* 0: one thread per connection */
	http_handler	*handler;
	void		*arg;
};

/* Starts serving. Returns the daemon, or NULL with err set. */
struct MHD_Daemon *http_start(const struct http_options *, char *err,
	    size_t errlen);
/* Stops accepting, lets requests in progress finish, and stops. */
void	http_stop(struct MHD_Daemon *);
/* Sets rep to status with {"error": msg}. */
void	http_error(struct http_reply *, unsigned int status, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
/* A request header, or NULL. */
const char *http_header(struct http_request *, const char *name);
const char *http_query(struct http_request *, const char *name);

#endif
