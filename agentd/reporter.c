/*
 * agentd-reporter: the only part of the agent that talks to the network.
 * agentd starts it with a socket on fd 3 and hands it batches of spooled
 * reports; it POSTs each batch to the portal (libcurl multi on its own
 * sd-event loop, keep-alive, HTTP/2 where offered, gzip bodies, TLS always
 * verified) and answers with the portal's ack and commands. It holds no
 * capabilities and never touches the disk: the spool stays with agentd,
 * which keeps libcurl's 6-8 MiB out of the main process as well.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include <curl/curl.h>
#include <jansson.h>
#include <systemd/sd-event.h>
#include <zlib.h>

#include "ipc.h"
#include "log.h"
#include "reply.h"
#include "xmalloc.h"

#define REPORTER_FD	3

struct reporter {
	sd_event	*event;
	struct ipc	*ipc;
	CURLM		*multi;
	CURL		*easy;
	sd_event_source	*timer;
	/* From agentd's config message. */
	char		*url;
	char		*auth;		/* "Authorization: Bearer ..." (secret) */
	char		*ca_file, *pinned_pubkey, *proxy;
	long		 connect_timeout, timeout;
	/* The request in flight. */
	json_int_t	 id;
	int		 busy;
	struct curl_slist *headers;
	unsigned char	*body;
	size_t		 bodylen;
	char		*reply;
	size_t		 replylen;
	int		 reply_too_big;
	char		 errbuf[CURL_ERROR_SIZE];
};

/* Drops every capability agentd might have passed down: the network side
 * never gets to read files it could not read anyway. */
static void
reporter_drop_privileges(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { { 0 } };

	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (syscall(SYS_capset, &hdr, data) < 0)
		fatal("capset");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("PR_SET_NO_NEW_PRIVS");
}

/* gzip of the request body (zlib, gzip header via windowBits 15+16). */
static int
reporter_gzip(const char *in, size_t len, unsigned char **out, size_t *outlen)
{
	z_stream z = { 0 };
	size_t cap;
	int r;

	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	cap = deflateBound(&z, len) + 64;
	*out = xcalloc(1, cap);
	z.next_in = (unsigned char *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = *out;
	z.avail_out = (uInt)cap;
	r = deflate(&z, Z_FINISH);
	*outlen = cap - z.avail_out;
	deflateEnd(&z);
	if (r != Z_STREAM_END) {
		free(*out);
		*out = NULL;
		return -EIO;
	}
	return 0;
}

static size_t
reporter_on_body(char *data, size_t size, size_t n, void *userdata)
{
	struct reporter *rp = userdata;
	size_t len = size * n;

	if (rp->replylen + len > REPLY_BODY_MAX) {
		rp->reply_too_big = 1;
		return 0;	/* curl aborts the transfer */
	}
	rp->reply = xreallocarray(rp->reply, rp->replylen + len + 1, 1);
	memcpy(rp->reply + rp->replylen, data, len);
	rp->replylen += len;
	rp->reply[rp->replylen] = '\0';
	return len;
}

/*
 * The failed answer to a batch; ack >= 0 on a sequence conflict. An error
 * text that is not UTF-8 (curl's, or a peer's) cannot go into JSON: it is
 * sent escaped rather than not at all, since agentd waits for an answer.
 */
static void
reporter_answer_error(struct reporter *rp, long status, int64_t retry_after,
    const char *error, int64_t ack)
{
	char esc[1024];
	json_t *m;

	for (int i = 0; i < 2; i++) {
		/* Six pairs, and ack as a seventh on a conflict. */
		m = json_pack("{s:s, s:I, s:b, s:i, s:I, s:s}", "t", "result",
		    "id", rp->id, "ok", 0, "status", (int)status,
		    "retry_after", (json_int_t)reply_retry_after(retry_after),
		    "error", error);
		if (m != NULL)
			break;
		error = log_escape(esc, sizeof(esc), error);
	}
	if (m != NULL && ack >= 0)
		json_object_set_new(m, "ack", json_integer((json_int_t)ack));
	ipc_send(rp->ipc, m);
	json_decref(m);
}

/* The portal's error text, for the log; bounded (never cutting a UTF-8
 * character in two) and only if it is JSON. */
static void
reporter_portal_error(const struct reporter *rp, char *buf, size_t len)
{
	json_t *root = json_loadb(rp->reply != NULL ? rp->reply : "",
	    rp->replylen, 0, NULL);
	const char *e = json_string_value(json_object_get(root, "error"));
	size_t n;

	snprintf(buf, len, "%.300s", e != NULL ? e : "(no error text)");
	n = strlen(buf);
	if (e != NULL && n < strlen(e))
		while (n > 0 && ((unsigned char)e[n] & 0xc0) == 0x80)
			buf[--n] = '\0';
	json_decref(root);
}

static void
reporter_done(struct reporter *rp, CURLcode code)
{
	char err[512], perr[320];
	long status = 0, version = 0;
	curl_off_t retry = -1;
	uint64_t ack;
	json_t *cmds, *m;
	size_t skipped;

	curl_easy_getinfo(rp->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(rp->easy, CURLINFO_RETRY_AFTER, &retry);
	curl_easy_getinfo(rp->easy, CURLINFO_HTTP_VERSION, &version);
	if (code != CURLE_OK) {
		if (rp->reply_too_big)
			snprintf(err, sizeof(err), "reply larger than %d bytes",
			    REPLY_BODY_MAX);
		else
			snprintf(err, sizeof(err), "%s", rp->errbuf[0] != '\0' ?
			    rp->errbuf : curl_easy_strerror(code));
		reporter_answer_error(rp, 0, -1, err, -1);
	} else if (status == 409 && reply_parse_conflict(rp->reply != NULL ?
	    rp->reply : "", rp->replylen, &ack) == 0) {
		/* A sequence conflict: agentd renumbers after this ack. */
		reporter_portal_error(rp, perr, sizeof(perr));
		snprintf(err, sizeof(err), "HTTP %ld: %s", status, perr);
		reporter_answer_error(rp, status, -1, err, (int64_t)ack);
	} else if (status != 200) {
		reporter_portal_error(rp, perr, sizeof(perr));
		snprintf(err, sizeof(err), "HTTP %ld: %s", status, perr);
		reporter_answer_error(rp, status, (int64_t)retry, err, -1);
	} else if (reply_parse(rp->reply != NULL ? rp->reply : "", rp->replylen,
	    &ack, &cmds, &skipped, err, sizeof(err)) < 0) {
		reporter_answer_error(rp, status, -1, err, -1);
	} else {
		m = json_pack("{s:s, s:I, s:b, s:I, s:o, s:i, s:s}", "t",
		    "result", "id", rp->id, "ok", 1, "ack", (json_int_t)ack,
		    "commands", cmds, "skipped", (int)skipped, "http",
		    version == CURL_HTTP_VERSION_2_0 ? "2" : "1.1");
		ipc_send(rp->ipc, m);
		json_decref(m);
	}
	curl_multi_remove_handle(rp->multi, rp->easy);
	curl_slist_free_all(rp->headers);
	rp->headers = NULL;
	free(rp->body);
	rp->body = NULL;
	free(rp->reply);
	rp->reply = NULL;
	rp->replylen = 0;
	rp->reply_too_big = 0;
	rp->busy = 0;
}

static void
reporter_check_multi(struct reporter *rp)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(rp->multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
			reporter_done(rp, msg->data.result);
}

static int
reporter_on_socket_io(sd_event_source *s, int fd, uint32_t revents,
    void *userdata)
{
	struct reporter *rp = userdata;
	int action = 0, running;

	(void)s;
	if (revents & EPOLLIN)
		action |= CURL_CSELECT_IN;
	if (revents & EPOLLOUT)
		action |= CURL_CSELECT_OUT;
	if (revents & (EPOLLERR | EPOLLHUP))
		action |= CURL_CSELECT_ERR;
	curl_multi_socket_action(rp->multi, fd, action, &running);
	reporter_check_multi(rp);
	return 0;
}

/* curl tells us which sockets to watch; each gets an sd-event source. */
static int
reporter_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userdata,
    void *socketp)
{
	struct reporter *rp = userdata;
	sd_event_source *src = socketp;
	uint32_t events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		sd_event_source_disable_unref(src);
		curl_multi_assign(rp->multi, fd, NULL);
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= EPOLLIN;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= EPOLLOUT;
	if (src == NULL) {
		if (sd_event_add_io(rp->event, &src, fd, events,
		    reporter_on_socket_io, rp) < 0)
			return -1;
		curl_multi_assign(rp->multi, fd, src);
	} else
		sd_event_source_set_io_events(src, events);
	return 0;
}

static int
reporter_on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct reporter *rp = userdata;
	int running;

	(void)s;
	(void)usec;
	curl_multi_socket_action(rp->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	reporter_check_multi(rp);
	return 0;
}

static int
reporter_curl_timer(CURLM *multi, long timeout_ms, void *userdata)
{
	struct reporter *rp = userdata;

	(void)multi;
	if (timeout_ms < 0) {
		sd_event_source_set_enabled(rp->timer, SD_EVENT_OFF);
		return 0;
	}
	sd_event_source_set_time_relative(rp->timer,
	    (uint64_t)timeout_ms * 1000);
	sd_event_source_set_enabled(rp->timer, SD_EVENT_ONESHOT);
	return 0;
}

static char *
reporter_dup_opt(const char *s)
{
	return s != NULL && *s != '\0' ? xstrdup(s) : NULL;
}

/*
 * agentd's config frame, read with a strict format: a member missing,
 * mistyped or unknown means agentd and this program disagree about the
 * frame, and silently running with half a config (no proxy, the default
 * timeout) is worse than stopping loudly.
 */
static void
reporter_configure(struct reporter *rp, json_t *msg)
{
	const char *t, *portal, *id, *cred;
	const char *ca_file = NULL, *pinned = NULL, *proxy = NULL;
	int connect_timeout, timeout;
	json_error_t jerr;

	/* Nine pairs, as report_child_config packs them. */
	if (json_unpack_ex(msg, &jerr, JSON_STRICT,
	    "{s:s, s:s, s:s, s:s, s?s, s?s, s?s, s:i, s:i}", "t", &t,
	    "portal", &portal, "agent_id", &id, "credential", &cred,
	    "ca_file", &ca_file, "pinned_pubkey", &pinned, "proxy", &proxy,
	    "connect_timeout", &connect_timeout, "timeout", &timeout) < 0)
		fatalx("reporter: bad config message from agentd: %s",
		    jerr.text);
	free(rp->url);
	free(rp->auth);
	free(rp->ca_file);
	free(rp->pinned_pubkey);
	free(rp->proxy);
	xasprintf(&rp->url, "%s/api/v1/agents/%s/reports", portal, id);
	xasprintf(&rp->auth, "Authorization: Bearer %s", cred);
	rp->ca_file = reporter_dup_opt(ca_file);
	rp->pinned_pubkey = reporter_dup_opt(pinned);
	rp->proxy = reporter_dup_opt(proxy);
	rp->connect_timeout = connect_timeout > 0 ? connect_timeout : 10;
	rp->timeout = timeout > 0 ? timeout : 30;
}

static void
reporter_send(struct reporter *rp, json_t *msg)
{
	json_t *body = json_object(), *reports = NULL;
	json_error_t jerr;
	const char *t;
	char *text;
	int r;

	if (rp->busy || rp->url == NULL) {
		fatalx("reporter: send while %s", rp->busy ? "busy" :
		    "not configured");
	}
	/* Three pairs: t, id, reports. */
	if (json_unpack_ex(msg, &jerr, JSON_STRICT, "{s:s, s:I, s:o}", "t", &t,
	    "id", &rp->id, "reports", &reports) < 0)
		fatalx("reporter: bad send message from agentd: %s", jerr.text);
	if (!json_is_array(reports))
		fatalx("reporter: bad send message from agentd: reports is "
		    "not an array");
	json_object_set(body, "reports", reports);
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (text == NULL)
		fatalx("reporter: cannot encode a batch");
	r = reporter_gzip(text, strlen(text), &rp->body, &rp->bodylen);
	free(text);
	if (r < 0) {
		reporter_answer_error(rp, 0, -1, "cannot compress the batch",
		    -1);
		return;
	}
	rp->headers = curl_slist_append(NULL, "Content-Type: application/json");
	rp->headers = curl_slist_append(rp->headers, "Content-Encoding: gzip");
	rp->headers = curl_slist_append(rp->headers, "Expect:");
	rp->headers = curl_slist_append(rp->headers, rp->auth);

	curl_easy_setopt(rp->easy, CURLOPT_URL, rp->url);
	curl_easy_setopt(rp->easy, CURLOPT_HTTPHEADER, rp->headers);
	curl_easy_setopt(rp->easy, CURLOPT_POSTFIELDS, rp->body);
	curl_easy_setopt(rp->easy, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)rp->bodylen);
	curl_easy_setopt(rp->easy, CURLOPT_CAINFO, rp->ca_file);
	curl_easy_setopt(rp->easy, CURLOPT_PINNEDPUBLICKEY, rp->pinned_pubkey);
	curl_easy_setopt(rp->easy, CURLOPT_PROXY, rp->proxy);
	curl_easy_setopt(rp->easy, CURLOPT_CONNECTTIMEOUT, rp->connect_timeout);
	curl_easy_setopt(rp->easy, CURLOPT_TIMEOUT, rp->timeout);
	rp->errbuf[0] = '\0';
	rp->busy = 1;
	curl_multi_add_handle(rp->multi, rp->easy);
}

static int
reporter_on_msg(struct ipc *ipc, json_t *msg, void *userdata)
{
	struct reporter *rp = userdata;
	const char *t = json_string_value(json_object_get(msg, "t"));

	(void)ipc;
	if (t != NULL && strcmp(t, "config") == 0)
		reporter_configure(rp, msg);
	else if (t != NULL && strcmp(t, "send") == 0)
		reporter_send(rp, msg);
	else
		fatalx("reporter: unknown message from agentd");
	return 0;
}

static void
reporter_on_close(struct ipc *ipc, int error, void *userdata)
{
	struct reporter *rp = userdata;

	(void)ipc;
	/* agentd went away (or restarts us): nothing left to do. */
	sd_event_exit(rp->event, error < 0 ? 1 : 0);
}

/* One easy handle for the process' life: its connection is reused. */
static void
reporter_setup_curl(struct reporter *rp)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
	    (rp->multi = curl_multi_init()) == NULL ||
	    (rp->easy = curl_easy_init()) == NULL)
		fatalx("cannot initialise libcurl");
	curl_multi_setopt(rp->multi, CURLMOPT_SOCKETFUNCTION,
	    reporter_curl_socket);
	curl_multi_setopt(rp->multi, CURLMOPT_SOCKETDATA, rp);
	curl_multi_setopt(rp->multi, CURLMOPT_TIMERFUNCTION, reporter_curl_timer);
	curl_multi_setopt(rp->multi, CURLMOPT_TIMERDATA, rp);
	curl_easy_setopt(rp->easy, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(rp->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(rp->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(rp->easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(rp->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(rp->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(rp->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(rp->easy, CURLOPT_USERAGENT, "agentd/" AGENTD_VERSION);
	curl_easy_setopt(rp->easy, CURLOPT_ERRORBUFFER, rp->errbuf);
	curl_easy_setopt(rp->easy, CURLOPT_WRITEFUNCTION, reporter_on_body);
	curl_easy_setopt(rp->easy, CURLOPT_WRITEDATA, rp);
	if (sd_event_add_time_relative(rp->event, &rp->timer, CLOCK_MONOTONIC,
	    UINT64_MAX / 2, 0, reporter_on_timer, rp) < 0)
		fatalx("cannot add the curl timer");
	sd_event_source_set_enabled(rp->timer, SD_EVENT_OFF);
}

int
main(int argc, char **argv)
{
	struct reporter rp = { 0 };
	sigset_t mask;
	int r;

	(void)argv;
	log_init("agentd-reporter", argc > 1 ? LOG_TARGET_STDERR :
	    LOG_TARGET_AUTO, 0);
	reporter_drop_privileges();
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((r = sd_event_default(&rp.event)) < 0)
		fatalx("sd_event_default: %s", strerror(-r));
	sd_event_add_signal(rp.event, NULL, SIGTERM, NULL, NULL);
	sd_event_add_signal(rp.event, NULL, SIGINT, NULL, NULL);
	reporter_setup_curl(&rp);
	if ((r = ipc_new(rp.event, REPORTER_FD, reporter_on_msg,
	    reporter_on_close, &rp, &rp.ipc)) < 0)
		fatalx("no channel to agentd on fd %d: %s", REPORTER_FD,
		    strerror(-r));
	r = sd_event_loop(rp.event);

	if (rp.busy)
		curl_multi_remove_handle(rp.multi, rp.easy);
	curl_easy_cleanup(rp.easy);
	curl_multi_cleanup(rp.multi);
	curl_slist_free_all(rp.headers);
	curl_global_cleanup();
	ipc_free(rp.ipc);
	sd_event_source_disable_unref(rp.timer);
	sd_event_unref(rp.event);
	free(rp.body);
	free(rp.reply);
	free(rp.url);
	if (rp.auth != NULL)
		explicit_bzero(rp.auth, strlen(rp.auth));
	free(rp.auth);
	free(rp.ca_file);
	free(rp.pinned_pubkey);
	free(rp.proxy);
	return r < 0 ? 1 : 0;
}
