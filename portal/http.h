/*
 * The HTTPS server: libmicrohttpd with GnuTLS, a thread pool, JSON
 * replies. A request is judged on its headers first (the preflight:
 * path, method, credential, body limit) before any of its body is read;
 * connections are bounded in number, per address and in time.
 * Routing and meaning live in api.c.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>

#include <jansson.h>
#include <microhttpd.h>

struct http_slot;

struct http_request {
	struct MHD_Connection	*conn;
	const char		*method;
	const char		*url;
	char			*body;
	size_t			 len;
	size_t			 cap;
	size_t			 max_body;	/* set by the preflight */
	int			 too_large;
	int			 anonymous;	/* preflight: no credential */
	struct http_slot	*slot;		/* counted in the anonymous bound */
};

struct http_reply {
	unsigned int	 status;
	json_t		*body;		/* owned; NULL for no body */
	char		*text;		/* owned text/plain body, instead */
	size_t		 text_len;
	int		 retry_after;	/* > 0: a Retry-After header */
	const char	*allow;		/* an Allow header (405) */
	char		 set_cookie[192]; /* a Set-Cookie value, or "" */
	/* A static body (the web app's files), instead: never freed. */
	const unsigned char *data;
	size_t		 data_len;
	const char	*content_type;	/* data's */
	const char	*etag;		/* an ETag header */
	const char	*cache_control;	/* a Cache-Control header */
	int		 html;		/* adds the Content-Security-Policy */
};

typedef void http_handler(void *arg, struct http_request *,
    struct http_reply *);
/*
 * Called once the headers have arrived, before any body is read: either
 * sets rep (the request is refused with it, its body never read) or sets
 * req->max_body and, for a request that carries no credential the
 * preflight could check, req->anonymous (its body then takes one of a
 * few shared slots).
 */
typedef void http_preflight(void *arg, struct http_request *,
    struct http_reply *);

struct http_options {
	const char	*listen;	/* "ADDR:PORT" or "[ADDR6]:PORT" */
	char		*cert_pem;	/* NUL-terminated PEM text */
	char		*key_pem;
	unsigned int	 threads;	/* 0: one thread per connection */
	unsigned int	 max_connections; /* 0: libmicrohttpd's default */
	unsigned int	 per_ip;	/* from one address; 0: no limit */
	unsigned int	 request_timeout; /* seconds, whole request; 0 none */
	http_preflight	*preflight;
	http_handler	*handler;
	void		*arg;
};

/* The web app's pages: its own scripts and styles only, no frames, no
 * forms or fetches to elsewhere (docs/portal.md, "The web app"). */
#define HTTP_CSP	"default-src 'none'; script-src 'self'; " \
	"style-src 'self'; img-src 'self' data:; connect-src 'self'; " \
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

/* Request line and headers: more is refused with 431 (JSON). */
#define HTTP_MAX_HEADERS	8192
/* Bodies of anonymous requests (enrolment) buffered at once, in all and
 * from one address: 503 beyond. */
#define HTTP_MAX_ANONYMOUS	64
#define HTTP_MAX_ANONYMOUS_PER_IP 8

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
/* A cookie of the request, or NULL. */
const char *http_cookie(struct http_request *, const char *name);
/* The client's address as text ("127.0.0.1", "::1") into buf; "?" when
 * unknown. Returns buf. */
const char *http_client_address(struct http_request *, char *buf,
	    size_t len);

#endif
