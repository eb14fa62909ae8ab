/*
 * Frames from agentd-reporter, as a hostile child would write them: the
 * framing (ipc_split: truncated length prefix, partial body, a length of 0
 * or over the maximum, a body that is not a JSON object, duplicate keys)
 * and the parent's check of each frame (childmsg_check: the two good
 * shapes; a command without id, with an id that is no string or too long,
 * args nested too deep; wrong types, unknown frame type, extra members).
 * Then the loop itself: a peer that floods frames or trickles one that
 * never completes must not keep the loop from its other sources.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "childmsg.h"
#include "ipc.h"
#include "reply.h"

#define OKFRAME	"{\"t\":\"result\",\"id\":3,\"ok\":true,\"ack\":7," \
	"\"commands\":[{\"id\":\"c1\",\"type\":\"run_check\",\"args\":" \
	"{\"name\":\"disk\"}}],\"skipped\":0,\"http\":\"2\"}"
#define ERRFRAME "{\"t\":\"result\",\"id\":3,\"ok\":false,\"status\":500," \
	"\"retry_after\":-1,\"error\":\"HTTP 500: database is locked\"}"

static int
check(const char *text)
{
	json_error_t jerr;
	json_t *msg = json_loads(text, 0, &jerr);
	char err[256];
	int r;

	if (msg == NULL)
		fail_msg("test frame is not JSON: %s: %s", text, jerr.text);
	r = childmsg_check(msg, err, sizeof(err));
	json_decref(msg);
	return r;
}

static void
bad(const char *text)
{
	if (check(text) != -EBADMSG)
		fail_msg("accepted a bad frame: %s", text);
}

/* The good frame with one command replaced by cmd. */
static void
bad_command(const char *cmd)
{
	char text[16384];

	snprintf(text, sizeof(text), "{\"t\":\"result\",\"id\":3,\"ok\":true,"
	    "\"ack\":7,\"commands\":[%s],\"skipped\":0,\"http\":\"1.1\"}", cmd);
	bad(text);
}

static void
test_childmsg(void **state)
{
	char text[8192], id[CHILDMSG_ID_MAX + 2];
	size_t n;

	(void)state;
	assert_int_equal(check(OKFRAME), 0);
	assert_int_equal(check(ERRFRAME), 0);
	/* A sequence conflict carries the portal's ack; a Retry-After past
	 * 2^31 is the reporter's to pass on (agentd caps it). */
	assert_int_equal(check("{\"t\":\"result\",\"id\":3,\"ok\":false,"
	    "\"status\":409,\"retry_after\":-1,\"error\":\"x\",\"ack\":8}"), 0);
	assert_int_equal(check("{\"t\":\"result\",\"id\":3,\"ok\":false,"
	    "\"status\":429,\"retry_after\":99999999999,\"error\":\"x\"}"), 0);
	bad("{\"t\":\"result\",\"id\":3,\"ok\":false,\"status\":500,"
	    "\"retry_after\":-1,\"error\":\"x\",\"ack\":8}");
	bad("{\"t\":\"result\",\"id\":3,\"ok\":false,\"status\":409,"
	    "\"retry_after\":-1,\"error\":\"x\",\"ack\":-3}");
	bad("{\"t\":\"result\",\"id\":3,\"ok\":false,\"status\":409,"
	    "\"retry_after\":-1,\"error\":\"x\",\"ack\":\"8\"}");
	/* The commands: the crash of issue 7 was an id that is no string. */
	bad_command("{\"type\":\"run_check\",\"args\":{}}");
	bad_command("{\"id\":42,\"type\":\"run_check\",\"args\":{}}");
	bad_command("{\"id\":null,\"type\":\"run_check\",\"args\":{}}");
	bad_command("{\"id\":\"c\",\"args\":{}}");
	bad_command("{\"id\":\"c\",\"type\":[],\"args\":{}}");
	bad_command("{\"id\":\"c\",\"type\":\"run_check\"}");
	bad_command("{\"id\":\"c\",\"type\":\"run_check\",\"args\":\"x\"}");
	bad_command("{\"id\":\"c\",\"type\":\"run_check\",\"args\":{},\"x\":1}");
	bad_command("{\"id\":\"\",\"type\":\"run_check\",\"args\":{}}");
	bad_command("\"run_check\"");
	memset(id, 'i', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';	/* one byte over */
	snprintf(text, sizeof(text), "{\"id\":\"%s\",\"type\":\"t\","
	    "\"args\":{}}", id);
	bad_command(text);
	/* args nested deeper than allowed, and just within. */
	n = (size_t)snprintf(text, sizeof(text), "{\"id\":\"c\",\"type\":\"t\","
	    "\"args\":");
	for (int i = 0; i < CHILDMSG_ARGS_DEPTH + 1; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "{\"a\":");
	n += (size_t)snprintf(text + n, sizeof(text) - n, "1");
	for (int i = 0; i < CHILDMSG_ARGS_DEPTH + 1; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "}");
	snprintf(text + n, sizeof(text) - n, "}");
	bad_command(text);
	/* The frame itself. */
	bad("{}");
	bad("{\"t\":\"result\"}");
	bad("{\"t\":\"rezult\",\"id\":3,\"ok\":false,\"status\":500,"
	    "\"retry_after\":-1,\"error\":\"x\"}");
	bad("{\"t\":7,\"ok\":true}");
	bad("{\"t\":\"result\",\"id\":\"3\",\"ok\":false,\"status\":500,"
	    "\"retry_after\":-1,\"error\":\"x\"}");
	bad("{\"t\":\"result\",\"id\":3,\"ok\":1,\"status\":500,"
	    "\"retry_after\":-1,\"error\":\"x\"}");
	bad("{\"t\":\"result\",\"id\":3,\"ok\":false,\"status\":500,"
	    "\"retry_after\":-1}");
	bad("{\"t\":\"result\",\"id\":3,\"ok\":false,\"status\":500,"
	    "\"retry_after\":-1,\"error\":\"x\",\"more\":true}");
	bad("{\"t\":\"result\",\"id\":3,\"ok\":false,\"status\":-5,"
	    "\"retry_after\":-1,\"error\":\"x\"}");
	bad("{\"t\":\"result\",\"id\":3,\"ok\":true,\"ack\":\"7\","
	    "\"commands\":[],\"skipped\":0,\"http\":\"2\"}");
	bad("{\"t\":\"result\",\"id\":3,\"ok\":true,\"ack\":-1,"
	    "\"commands\":[],\"skipped\":0,\"http\":\"2\"}");
	bad("{\"t\":\"result\",\"id\":3,\"ok\":true,\"ack\":7,"
	    "\"commands\":{},\"skipped\":0,\"http\":\"2\"}");
	bad("{\"t\":\"result\",\"id\":3,\"ok\":true,\"ack\":7,"
	    "\"commands\":[],\"skipped\":0,\"http\":\"3\"}");
	bad("{\"t\":\"result\",\"id\":3,\"ok\":true,\"ack\":7,"
	    "\"commands\":[],\"skipped\":0}");
	/* More commands than a reply may carry. */
	n = (size_t)snprintf(text, sizeof(text), "{\"t\":\"result\",\"id\":3,"
	    "\"ok\":true,\"ack\":7,\"skipped\":0,\"http\":\"2\",\"commands\":[");
	for (int i = 0; i <= REPLY_COMMANDS_MAX; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s{\"id\":"
		    "\"c%d\",\"type\":\"t\",\"args\":{}}", i > 0 ? "," : "", i);
	snprintf(text + n, sizeof(text) - n, "]}");
	bad(text);
}

struct collect {
	int	n;
	int	refuse_at;	/* refuse the frame with this number (1-based) */
};

static int
collect(json_t *msg, void *arg)
{
	struct collect *c = arg;

	(void)msg;
	c->n++;
	return c->n == c->refuse_at ? -EPROTO : 0;
}

/* Appends a frame with the given announced length and body. */
static size_t
frame(unsigned char *buf, size_t off, uint32_t len, const char *body)
{
	buf[off] = (unsigned char)(len >> 24);
	buf[off + 1] = (unsigned char)(len >> 16);
	buf[off + 2] = (unsigned char)(len >> 8);
	buf[off + 3] = (unsigned char)len;
	memcpy(buf + off + 4, body, strlen(body));
	return off + 4 + strlen(body);
}

static void
test_split(void **state)
{
	unsigned char buf[4096];
	struct collect c = { 0 };
	size_t n, used;

	(void)state;
	/* Two frames and the start of a third: two delivered, the third
	 * kept for later. */
	n = frame(buf, 0, 2, "{}");
	n = frame(buf, n, (uint32_t)strlen(OKFRAME), OKFRAME);
	n = frame(buf, n, 10, "{\"a\"");
	assert_int_equal(ipc_split(buf, n, 1024, &used, collect, &c), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(used, n - 8);
	/* A truncated length prefix: nothing consumed, nothing delivered. */
	c.n = 0;
	assert_int_equal(ipc_split(buf, 3, 1024, &used, collect, &c), 0);
	assert_int_equal(used, 0);
	assert_int_equal(c.n, 0);
	/* A length over the maximum is refused from the prefix alone, before
	 * any body arrives; so is 0. */
	n = frame(buf, 0, 1025, "");
	assert_int_equal(ipc_split(buf, n, 1024, &used, collect, &c),
	    -EMSGSIZE);
	n = frame(buf, 0, 0xffffffffu, "");
	assert_int_equal(ipc_split(buf, n, IPC_MSG_MAX, &used, collect, &c),
	    -EMSGSIZE);
	n = frame(buf, 0, 0, "");
	assert_int_equal(ipc_split(buf, n, 1024, &used, collect, &c),
	    -EMSGSIZE);
	/* Bodies that are not one JSON object, or repeat a key. */
	n = frame(buf, 0, 2, "[]");
	assert_int_equal(ipc_split(buf, n, 1024, &used, collect, &c), -EBADMSG);
	n = frame(buf, 0, 3, "{x}");
	assert_int_equal(ipc_split(buf, n, 1024, &used, collect, &c), -EBADMSG);
	n = frame(buf, 0, 13, "{\"a\":1,\"a\":2}");
	assert_int_equal(ipc_split(buf, n, 1024, &used, collect, &c), -EBADMSG);
	n = frame(buf, 0, 13, "{\"a\":\"\\u0000\"}");
	assert_int_equal(ipc_split(buf, n, 1024, &used, collect, &c), -EBADMSG);
	assert_int_equal(c.n, 0);
	/* The callback's refusal stops the split there. */
	c = (struct collect){ .refuse_at = 1 };
	n = frame(buf, 0, 2, "{}");
	n = frame(buf, n, 2, "{}");
	assert_int_equal(ipc_split(buf, n, 1024, &used, collect, &c), -EPROTO);
	assert_int_equal(c.n, 1);
}

/* ---- the loop against a flooding or trickling peer ---- */

struct peer {
	int		fd;
	int		mode;	/* 0: flood, 1: trickle */
	volatile int	stop;
};

static void *
peer_run(void *arg)
{
	struct peer *p = arg;
	unsigned char buf[65536];
	size_t n = 0, len = strlen(ERRFRAME);

	if (p->mode == 0) {
		while (n + 4 + len <= sizeof(buf))
			n = frame(buf, n, (uint32_t)len, ERRFRAME);
		while (!p->stop)
			if (write(p->fd, buf, n) < 0)
				break;
	} else {
		/* A frame of 1000 bytes announced, one byte every 10 ms. */
		n = frame(buf, 0, 1000, "{");
		if (write(p->fd, buf, n) < 0)
			return NULL;
		while (!p->stop) {
			if (write(p->fd, " ", 1) < 0)
				break;
			usleep(10000);
		}
	}
	return NULL;
}

struct sink {
	long	frames;
	int	closed;
	int	ticks;
};

static int
sink_msg(struct ipc *ipc, json_t *msg, void *userdata)
{
	(void)ipc;
	(void)msg;
	((struct sink *)userdata)->frames++;
	return 0;
}

static void
sink_close(struct ipc *ipc, int error, void *userdata)
{
	(void)ipc;
	(void)error;
	((struct sink *)userdata)->closed = 1;
}

static int
on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct sink *k = userdata;

	if (++k->ticks < 10) {
		sd_event_source_set_time(s, usec + 20000);
		sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	}
	return 0;
}

static uint64_t
now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Ten 20 ms ticks of a timer must come in well under a second while the
 * peer writes as fast as it can, or trickles a frame that never ends. */
static void
run_peer(int mode)
{
	struct peer p = { .mode = mode };
	struct sink k = { 0 };
	sd_event *ev = NULL;
	sd_event_source *tick = NULL;
	struct ipc *ipc = NULL;
	const char *preload = getenv("LD_PRELOAD");
	/* valgrind runs us some 50 times slower: the bound scales. */
	uint64_t limit = preload != NULL && strstr(preload, "vgpreload") !=
	    NULL ? 8000000 : 1000000;
	pthread_t th;
	uint64_t start;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	assert_int_equal(sd_event_new(&ev), 0);
	assert_int_equal(ipc_new(ev, sv[0], sink_msg, sink_close, &k, &ipc), 0);
	ipc_set_max_in(ipc, CHILDMSG_FRAME_MAX);
	assert_true(sd_event_add_time_relative(ev, &tick, CLOCK_MONOTONIC,
	    20000, 0, on_tick, &k) >= 0);
	p.fd = sv[1];
	assert_int_equal(pthread_create(&th, NULL, peer_run, &p), 0);
	start = now_usec();
	while (k.ticks < 10 && now_usec() - start < limit + 1000000)
		assert_true(sd_event_run(ev, 100000) >= 0);
	p.stop = 1;
	shutdown(sv[1], SHUT_RDWR);
	pthread_join(th, NULL);
	if (k.ticks < 10 || now_usec() - start > limit)
		fail_msg("mode %d: %d ticks in %llu ms (want 10 in ~200 ms, at "
		    "most %llu): the peer held the loop", mode, k.ticks,
		    (unsigned long long)(now_usec() - start) / 1000,
		    (unsigned long long)limit / 1000);
	if (mode == 0)
		assert_true(k.frames > 0);
	else {
		assert_int_equal(k.frames, 0);
		assert_int_equal(k.closed, 0);
	}
	ipc_free(ipc);
	close(sv[1]);
	sd_event_source_disable_unref(tick);
	sd_event_unref(ev);
}

static void
test_flood(void **state)
{
	(void)state;
	run_peer(0);
}

static void
test_trickle(void **state)
{
	(void)state;
	run_peer(1);
}

/* A helper's blocking side (ipc_write, ipc_read) against hostile bytes:
 * one good frame each way, then a cut prefix, a cut body, a length over
 * the bound, a body that is no object, and EOF before a frame. */
static void
test_blocking(void **state)
{
	static const struct {
		const char	*bytes;
		size_t		 len;
		int		 want;
	} bad[] = {
		{ "\0\0", 2, -EBADMSG },
		{ "\0\0\0\x09{\"a\":", 9, -EBADMSG },
		{ "\0\x10\0\0", 4, -EMSGSIZE },
		{ "\0\0\0\0", 4, -EMSGSIZE },
		{ "\0\0\0\x03[1]", 7, -EBADMSG },
		{ "\0\0\0\x0d{\"a\":1,\"a\":2}", 17, -EBADMSG },
		{ "", 0, -ENODATA },
	};
	json_t	*m;
	size_t	 i;
	int	 sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(ipc_write(sv[0], json_pack("{s:s, s:i}", "t",
	    "job", "n", 7)), 0);
	assert_int_equal(ipc_read(sv[1], 4096, &m), 0);
	assert_string_equal(json_string_value(json_object_get(m, "t")), "job");
	json_decref(m);
	assert_int_equal(ipc_write(sv[0], NULL), -ENOMEM);
	close(sv[0]);
	close(sv[1]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		assert_int_equal(write(sv[0], bad[i].bytes, bad[i].len),
		    (ssize_t)bad[i].len);
		close(sv[0]);
		if (ipc_read(sv[1], 65536, &m) != bad[i].want)
			fail_msg("case %zu: not %d", i, bad[i].want);
		assert_null(m);
		close(sv[1]);
	}
	/* The reader gone: the writer is told, not killed (SIGPIPE off). */
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	assert_int_equal(ipc_write(sv[0], json_pack("{s:s}", "t", "x")),
	    -EPIPE);
	close(sv[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_childmsg),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_flood),
		cmocka_unit_test(test_trickle),
		cmocka_unit_test(test_blocking),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
