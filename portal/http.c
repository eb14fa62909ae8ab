/*
 * libmicrohttpd glue: TLS from PEM in memory, one request context per
 * request collecting the body within the protocol's bound, and replies
 * built from jansson objects. Plain HTTP is not offered.
 */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

/* An open connection, for the request deadline (http_reaper). */
struct http_conn {
	struct http_conn	*prev, *next;
	int			 fd;
	int			 closing;	/* shut down by the reaper */
	double			 start;		/* of the current request */
};

static pthread_mutex_t http_conns_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t http_reaper_cond;
static struct http_conn *http_conns;
static pthread_t http_reaper_thread;
static int http_reaper_stop, http_reaper_started;
/*
 * Anonymous request bodies being buffered: HTTP_MAX_ANONYMOUS in all, and
 * HTTP_MAX_ANONYMOUS_PER_IP from one address, so that one client cannot
 * hold every slot. At most HTTP_MAX_ANONYMOUS addresses hold one at once.
 */
struct http_slot {
	unsigned char	addr[16];
	int		family;
	int		n;
};
static int http_slot_key(struct MHD_Connection *, unsigned char[16], int *);
static pthread_mutex_t http_slots_lock = PTHREAD_MUTEX_INITIALIZER;
static struct http_slot http_slots[HTTP_MAX_ANONYMOUS];
static int http_slots_used;

void
http_error(struct http_reply *rep, unsigned int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_decref(rep->body);
	free(rep->text);
	rep->text = NULL;
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

const char *
http_cookie(struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, name);
}

const char *
http_client_address(struct http_request *req, char *buf, size_t len)
{
	unsigned char addr[16];
	int family;

	if (http_slot_key(req->conn, addr, &family) != 0 ||
	    inet_ntop(family, addr, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

static enum MHD_Result
http_send(struct MHD_Connection *c, struct http_reply *rep)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char *text = NULL, ra[16];
	const char *type = "application/json";
	size_t len = 0;

	if (rep->data != NULL) {
		json_decref(rep->body);
		rep->body = NULL;
		free(rep->text);
		rep->text = NULL;
		resp = MHD_create_response_from_buffer(rep->data_len,
		    (void *)(uintptr_t)rep->data, MHD_RESPMEM_PERSISTENT);
		if (resp == NULL)
			return MHD_NO;
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    rep->content_type);
		goto headers;
	}
	if (rep->text != NULL) {
		json_decref(rep->body);
		rep->body = NULL;
		text = rep->text;
		len = rep->text_len;
		rep->text = NULL;	/* transferred */
		type = "text/plain; charset=utf-8";
	} else if (rep->body != NULL) {
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
		    type);
headers:
	/* Every reply: no type guessing, no Referer to anyone. */
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	if (rep->html)
		MHD_add_response_header(resp, "Content-Security-Policy",
		    HTTP_CSP);
	if (rep->etag != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, rep->etag);
	if (rep->cache_control != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
		    rep->cache_control);
	if (rep->retry_after > 0) {
		snprintf(ra, sizeof(ra), "%d", rep->retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (rep->allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
		    rep->allow);
	if (rep->set_cookie[0] != '\0') {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE,
		    rep->set_cookie);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
		    "no-store");
	}
	ret = MHD_queue_response(c, rep->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* The client's address in the form a slot keeps; 0 or -1. */
static int
http_slot_key(struct MHD_Connection *c, unsigned char addr[16], int *family)
{
	const union MHD_ConnectionInfo *info;
	const struct sockaddr *sa;

	info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (info == NULL || (sa = info->client_addr) == NULL)
		return -1;
	memset(addr, 0, 16);
	*family = sa->sa_family;
	if (sa->sa_family == AF_INET)
		memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)->
		    sin_addr, 4);
	else if (sa->sa_family == AF_INET6)
		memcpy(addr, &((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_addr, 16);
	else
		return -1;
	return 0;
}

/* One of the anonymous body slots for req: 0, or -EBUSY when none. */
static int
http_slot_take(struct http_request *req)
{
	struct http_slot *free_slot = NULL, *mine = NULL;
	unsigned char addr[16];
	int family, i, r = -EBUSY;

	if (http_slot_key(req->conn, addr, &family) != 0)
		return -EBUSY;
	pthread_mutex_lock(&http_slots_lock);
	for (i = 0; i < HTTP_MAX_ANONYMOUS; i++) {
		if (http_slots[i].n == 0) {
			if (free_slot == NULL)
				free_slot = &http_slots[i];
		} else if (http_slots[i].family == family &&
		    memcmp(http_slots[i].addr, addr, 16) == 0)
			mine = &http_slots[i];
	}
	if (http_slots_used >= HTTP_MAX_ANONYMOUS || (mine != NULL &&
	    mine->n >= HTTP_MAX_ANONYMOUS_PER_IP))
		goto out;
	if (mine == NULL) {
		mine = free_slot;	/* one is free: used < the array size */
		memcpy(mine->addr, addr, 16);
		mine->family = family;
	}
	mine->n++;
	http_slots_used++;
	req->slot = mine;
	r = 0;
out:
	pthread_mutex_unlock(&http_slots_lock);
	return r;
}

static void
http_slot_release(struct http_request *req)
{
	pthread_mutex_lock(&http_slots_lock);
	req->slot->n--;
	http_slots_used--;
	pthread_mutex_unlock(&http_slots_lock);
	req->slot = NULL;
}

/* Adds one header's length to the sum at cls. */
static enum MHD_Result
http_header_size(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	size_t *sum = cls;

	(void)kind;
	*sum += strlen(key) + (value != NULL ? strlen(value) : 0) + 4;
	return MHD_YES;
}

/*
 * The first call for a request: its headers are in, its body is not.
 * Everything that can refuse it is decided here, so a request that will
 * be refused never has its body buffered: header size, the preflight
 * (path, method, credential, body limit), the declared length, and for
 * an anonymous body one of HTTP_MAX_ANONYMOUS slots. 0 to go on, or -1
 * with rep set.
 */
static int
http_headers(struct http_request *req, struct http_reply *rep)
{
	const char *cl, *te;
	unsigned long long n = 0;
	size_t hsize = strlen(req->url) + strlen(req->method) + 16;
	char *end;
	int chunked;

	MHD_get_connection_values(req->conn, MHD_HEADER_KIND,
	    http_header_size, &hsize);
	if (hsize > HTTP_MAX_HEADERS) {
		http_error(rep, 431, "request line and headers: more than %d "
		    "bytes", HTTP_MAX_HEADERS);
		return -1;
	}
	cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	te = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_TRANSFER_ENCODING);
	chunked = te != NULL && strcasecmp(te, "identity") != 0;
	if (cl != NULL) {
		errno = 0;
		n = strtoull(cl, &end, 10);
		if (errno != 0 || end == cl || *end != '\0') {
			http_error(rep, 400, "Content-Length: not a number");
			return -1;
		}
	}
	req->max_body = PORTAL_MAX_BODY;
	if (http_opts.preflight != NULL) {
		http_opts.preflight(http_opts.arg, req, rep);
		if (rep->status != 0)
			return -1;
	}
	if (n > req->max_body) {
		http_error(rep, 413, "body: %llu bytes, at most %zu", n,
		    req->max_body);
		return -1;
	}
	if (req->anonymous && (n > 0 || chunked)) {
		if (http_slot_take(req) != 0) {
			http_error(rep, 503, "too many enrolments in progress; "
			    "retry later");
			rep->retry_after = 5;
			return -1;
		}
	}
	return 0;
}

static enum MHD_Result
http_access(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **ctx)
{
	struct http_request *req = *ctx;
	struct http_reply rep = { 0 };

	(void)cls;
	(void)version;
	if (req == NULL) {
		req = xcalloc(1, sizeof(*req));
		req->conn = c;
		req->method = method;
		req->url = url;
		*ctx = req;
		/* Refused on its headers: the body is never read. */
		if (http_headers(req, &rep) != 0)
			return http_send(c, &rep);
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (!req->too_large && req->len + *upload_size >
		    req->max_body) {
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
				if (req->cap > req->max_body + 1)
					req->cap = req->max_body + 1;
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
		http_error(&rep, 413, "body: more than %zu bytes",
		    req->max_body);
	else
		http_opts.handler(http_opts.arg, req, &rep);
	if (rep.status == 0)
		http_error(&rep, 500,
		    "no reply");
	return http_send(c, &rep);
}

static double
http_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
http_completed(void *cls, struct MHD_Connection *c, void **ctx,
    enum MHD_RequestTerminationCode toe)
{
	const union MHD_ConnectionInfo *info;
	struct http_request *req = *ctx;
	struct http_conn *hc;

	(void)cls;
	(void)toe;
	/* The next request on this connection gets a deadline of its own. */
	info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (info != NULL && (hc = info->socket_context) != NULL) {
		pthread_mutex_lock(&http_conns_lock);
		hc->start = http_now();
		pthread_mutex_unlock(&http_conns_lock);
	}
	if (req == NULL)
		return;
	if (req->slot != NULL)
		http_slot_release(req);
	free(req->body);
	free(req);
	*ctx = NULL;
}

/* Keeps the list of open connections the reaper walks. */
static void
http_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
    enum MHD_ConnectionNotificationCode code)
{
	const union MHD_ConnectionInfo *info;
	struct http_conn *hc;

	(void)cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		info = MHD_get_connection_info(c,
		    MHD_CONNECTION_INFO_CONNECTION_FD);
		if (info == NULL)
			return;
		hc = xcalloc(1, sizeof(*hc));
		hc->fd = info->connect_fd;
		hc->start = http_now();
		pthread_mutex_lock(&http_conns_lock);
		hc->next = http_conns;
		if (http_conns != NULL)
			http_conns->prev = hc;
		http_conns = hc;
		pthread_mutex_unlock(&http_conns_lock);
		*socket_ctx = hc;
		return;
	}
	if ((hc = *socket_ctx) == NULL)
		return;
	/* MHD closes the socket after this returns, never before. */
	pthread_mutex_lock(&http_conns_lock);
	if (hc->prev != NULL)
		hc->prev->next = hc->next;
	else
		http_conns = hc->next;
	if (hc->next != NULL)
		hc->next->prev = hc->prev;
	pthread_mutex_unlock(&http_conns_lock);
	free(hc);
	*socket_ctx = NULL;
}

/*
 * MHD's own timeout is an idle timeout: a client that trickles a byte
 * every few seconds never trips it, and one that never finishes its
 * headers never reaches http_access. So once a second the reaper shuts
 * down every connection whose current request (counted from the accept,
 * or from the end of the previous request) is older than the deadline;
 * MHD then sees the socket closed and cleans up as usual. Under the list
 * lock the socket is still open (see http_connection), so the descriptor
 * cannot have been reused for another connection.
 */
static void *
http_reaper(void *arg)
{
	struct http_conn *hc;
	struct timespec ts;
	double now, last_log = 0;
	unsigned long closed = 0;

	(void)arg;
	pthread_mutex_lock(&http_conns_lock);
	while (!http_reaper_stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&http_reaper_cond, &http_conns_lock,
		    &ts);
		now = http_now();
		for (hc = http_conns; hc != NULL; hc = hc->next) {
			if (hc->closing || http_opts.request_timeout == 0 ||
			    now - hc->start <=
			    (double)http_opts.request_timeout)
				continue;
			shutdown(hc->fd, SHUT_RDWR);
			hc->closing = 1;
			closed++;
		}
		if (closed > 0 && now - last_log >= 60) {
			log_info("closed %lu connection%s that had not "
			    "completed a request within %u s", closed,
			    closed == 1 ? "" : "s", http_opts.request_timeout);
			closed = 0;
			last_log = now;
		}
	}
	pthread_mutex_unlock(&http_conns_lock);
	return NULL;
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

static void
http_reaper_join(void)
{
	if (!http_reaper_started)
		return;
	pthread_mutex_lock(&http_conns_lock);
	http_reaper_stop = 1;
	pthread_cond_signal(&http_reaper_cond);
	pthread_mutex_unlock(&http_conns_lock);
	pthread_join(http_reaper_thread, NULL);
	http_reaper_started = 0;
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
	pthread_condattr_t ca;
	unsigned int flags;
	int v6, r;

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
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&http_reaper_cond, &ca);
	pthread_condattr_destroy(&ca);
	http_reaper_stop = 0;
	if ((r = pthread_create(&http_reaper_thread, NULL, http_reaper,
	    NULL)) != 0) {
		snprintf(err, errlen, "request deadline thread: %s",
		    strerror(r));
		return NULL;
	}
	http_reaper_started = 1;
	/*
	 * The memory pool holds the request line and headers: it is kept
	 * well above HTTP_MAX_HEADERS so that http_headers, not MHD (whose
	 * own error pages are HTML), refuses large headers.
	 */
	d = MHD_start_daemon(flags, 0, NULL, NULL, http_access, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&http_addr,
	    MHD_OPTION_HTTPS_MEM_CERT, o->cert_pem,
	    MHD_OPTION_HTTPS_MEM_KEY, o->key_pem,
	    MHD_OPTION_HTTPS_PRIORITIES,
	    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed, NULL,
	    MHD_OPTION_NOTIFY_CONNECTION, http_connection, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL,
	    MHD_OPTION_UNESCAPE_CALLBACK, http_unescape, NULL,
	    MHD_OPTION_CONNECTION_TIMEOUT, o->request_timeout,
	    MHD_OPTION_CONNECTION_LIMIT, o->max_connections,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->per_ip,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(4 * HTTP_MAX_HEADERS),
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
	    MHD_OPTION_THREAD_POOL_SIZE, o->threads > 1 ? o->threads : 0,
	    MHD_OPTION_END);
	if (d == NULL) {
		snprintf(err, errlen, "cannot serve HTTPS on %s (address in "
		    "use, or the certificate and key do not match)",
		    o->listen);
		http_reaper_join();
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
	http_reaper_join();
}
