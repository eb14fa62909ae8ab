/*
 * libmicrohttpd glue: TLS from PEM in memory, one request context per
 * request collecting the body within the protocol's bound, and replies
 * built from jansson objects. Plain HTTP is not offered.
 */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <jansson.h>
#include <microhttpd.h>

#include "http.h"
#include "log.h"
#include "portal.h"
#include "xmalloc.h"

/* MHD needs the options until it stops; one server per process. */
static struct http_options http_opts;
static struct sockaddr_storage http_addr;

void
http_error(struct http_reply *rep, unsigned int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_decref(rep->body);
	rep->status = status;
	rep->body = json_pack("{s:s}", "error", msg);
	if (rep->body == NULL)	/* msg quoted non-UTF-8 input */
		rep->body = json_pack("{s:s}", "error", "malformed request");
}

const char *
http_header(struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *
http_query(struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
	    name);
}

static enum MHD_Result
http_send(struct MHD_Connection *c, struct http_reply *rep)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char *text = NULL, ra[16];
	size_t len = 0;

	if (rep->body != NULL) {
		text = json_dumps(rep->body, JSON_COMPACT);
		json_decref(rep->body);
		rep->body = NULL;
		if (text == NULL)
			return MHD_NO;
		len = strlen(text);
	}
	resp = MHD_create_response_from_buffer(len, text != NULL ? text : "",
	    text != NULL ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		free(text);
		return MHD_NO;
	}
	if (text != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    "application/json");
	if (rep->retry_after > 0) {
		snprintf(ra, sizeof(ra), "%d", rep->retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (rep->allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
		    rep->allow);
	ret = MHD_queue_response(c, rep->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
http_access(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **ctx)
{
	struct http_request *req = *ctx;
	struct http_reply rep = { 0 };
	const char *cl;
	unsigned long long n;
	char *end;

	(void)cls;
	(void)version;
	if (req == NULL) {
		req = xcalloc(1, sizeof(*req));
		req->conn = c;
		req->method = method;
		req->url = url;
		*ctx = req;
		/* Refuse a declared oversize body before it is sent. */
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL) {
			errno = 0;
			n = strtoull(cl, &end, 10);
			if (errno == 0 && *end == '\0' && n > PORTAL_MAX_BODY) {
				http_error(&rep, 413,
				    "body: %llu bytes, at most %d", n,
				    PORTAL_MAX_BODY);
				return http_send(c, &rep);
			}
		}
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (!req->too_large && req->len + *upload_size >
		    PORTAL_MAX_BODY) {
			req->too_large = 1;
			free(req->body);
			req->body = NULL;
			req->len = req->cap = 0;
		}
		if (!req->too_large) {
			if (req->len + *upload_size + 1 > req->cap) {
				req->cap = req->len + *upload_size + 1;
				if (req->cap < 4096)
					req->cap = 4096;
				req->body = xreallocarray(req->body, req->cap,
				    1);
			}
			memcpy(req->body + req->len, upload, *upload_size);
			req->len += *upload_size;
			req->body[req->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (req->too_large)
		http_error(&rep, 413, "body: more than "
		    "%d bytes", PORTAL_MAX_BODY);
	else
		http_opts.handler(http_opts.arg, req, &rep);
	if (rep.status == 0)
		http_error(&rep, 500,
		    "no reply");
	return http_send(c, &rep);
}

static void
http_completed(void *cls, struct MHD_Connection *c, void **ctx,
    enum MHD_RequestTerminationCode toe)
{
	struct http_request *req = *ctx;

	(void)cls;
	(void)c;
	(void)toe;
	if (req == NULL)
		return;
	free(req->body);
	free(req);
	*ctx = NULL;
}

static void
http_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_debug("http: %s", msg);
}

/* "127.0.0.1:8443" or "[::1]:8443" into http_addr. */
static int
http_parse_listen(const char *listen, int *v6, char *err, size_t errlen)
{
	struct addrinfo hints = { 0 }, *ai = NULL;
	char host[256];
	const char *colon, *port;
	size_t hlen;
	int rc;

	if (listen[0] == '[') {
		colon = strstr(listen, "]:");
		if (colon == NULL)
			goto bad;
		hlen = (size_t)(colon - listen - 1);
		if (hlen >= sizeof(host))
			goto bad;
		memcpy(host, listen + 1, hlen);
		port = colon + 2;
	} else {
		colon = strrchr(listen, ':');
		if (colon == NULL)
			goto bad;
		hlen = (size_t)(colon - listen);
		if (hlen >= sizeof(host))
			goto bad;
		memcpy(host, listen, hlen);
		port = colon + 1;
	}
	host[hlen] = '\0';
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &ai)) != 0) {
		snprintf(err, errlen, "--listen %s: %s", listen,
		    gai_strerror(rc));
		return -EINVAL;
	}
	memcpy(&http_addr, ai->ai_addr, ai->ai_addrlen);
	*v6 = ai->ai_family == AF_INET6;
	freeaddrinfo(ai);
	return 0;
bad:
	snprintf(err, errlen, "--listen %s: expected ADDRESS:PORT", listen);
	return -EINVAL;
}

/*
 * MHD's "%HH" decoding, except that an escape of a NUL or another control
 * character stays as it was: decoded, "%00" would end the C string MHD
 * hands on and truncate an id in the path. The router refuses a path with
 * a '%' left in it (api.c).
 */
static size_t
http_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	char *r = s, *w = s, hex[3] = "";
	unsigned long v;

	(void)cls;
	(void)c;
	while (*r != '\0') {
		if (r[0] == '%' && isxdigit((unsigned char)r[1]) &&
		    isxdigit((unsigned char)r[2])) {
			hex[0] = r[1];
			hex[1] = r[2];
			v = strtoul(hex, NULL, 16);
			if (v >= 0x20 && v != 0x7f) {
				*w++ = (char)v;
				r += 3;
				continue;
			}
		}
		*w++ = *r++;
	}
	*w = '\0';
	return (size_t)(w - s);
}

struct MHD_Daemon *
http_start(const struct http_options *o, char *err, size_t errlen)
{
	struct MHD_Daemon *d;
	unsigned int flags;
	int v6;

	http_opts = *o;
	if (http_parse_listen(o->listen, &v6, err, errlen) != 0)
		return NULL;
	flags = MHD_USE_TLS | MHD_USE_ITC | MHD_USE_ERROR_LOG |
	    MHD_USE_INTERNAL_POLLING_THREAD;
	if (o->threads == 0)
		flags |= MHD_USE_THREAD_PER_CONNECTION;
	else
		flags |= MHD_USE_EPOLL;
	if (v6)
		flags |= MHD_USE_IPv6;
	d = MHD_start_daemon(flags, 0, NULL, NULL, http_access, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&http_addr,
	    MHD_OPTION_HTTPS_MEM_CERT, o->cert_pem,
	    MHD_OPTION_HTTPS_MEM_KEY, o->key_pem,
	    MHD_OPTION_HTTPS_PRIORITIES,
	    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL,
	    MHD_OPTION_UNESCAPE_CALLBACK, http_unescape, NULL,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)4000,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
	    MHD_OPTION_THREAD_POOL_SIZE, o->threads > 1 ? o->threads : 0,
	    MHD_OPTION_END);
	if (d == NULL) {
		snprintf(err, errlen, "cannot serve HTTPS on %s (address in "
		    "use, or the certificate and key do not match)",
		    o->listen);
		return NULL;
	}
	return d;
}

void
http_stop(struct MHD_Daemon *d)
{
	const union MHD_DaemonInfo *info;
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	int i;

	if (d == NULL)
		return;
	MHD_quiesce_daemon(d);
	/* Give requests in flight a moment; idle keep-alives just close. */
	for (i = 0; i < 40; i++) {
		info = MHD_get_daemon_info(d,
		    MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
		if (info == NULL || info->num_connections == 0)
			break;
		nanosleep(&ts, NULL);
	}
	MHD_stop_daemon(d);
}
