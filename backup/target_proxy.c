/*
 * The target proxy (target_proxy.h). Frames, both ways, are a fixed header
 * and a bounded payload:
 *   request: op (1 byte), handle (u32 BE), length (u32 BE), payload
 *   reply:   status (i32 BE: >= 0 or -errno), length (u32 BE), payload
 * The child parsed the network: a reply that breaks a rule (a length over
 * what was asked, a status out of range, a listed name that is not a valid
 * object name or out of order) ends the conversation with -EPROTO, and a
 * child that does not answer in time is killed.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "target.h"
#include "target_proxy.h"
#include "xmalloc.h"

enum {
	OP_OPEN = 1, OP_CLOSE, OP_PUT_BEGIN, OP_PUT_WRITE, OP_PUT_COMMIT,
	OP_PUT_COMMIT_NEW, OP_PUT_ABORT, OP_GET_OPEN, OP_GET_READ,
	OP_GET_CLOSE, OP_LIST, OP_REMOVE, OP_CLEAN
};

#define PROXY_HANDLES	64
#define PROXY_ERRNO_MAX	4095
#define PROXY_ERR_MAX	512

static int	proxy_fd = -1;
static pid_t	proxy_pid = -1;
static unsigned	proxy_timeout = 30;
static int	proxy_broken;
static char	proxy_err[PROXY_ERR_MAX];

struct proxy_h {
	uint32_t h;
};

void
target_proxy_attach(int fd, pid_t pid, unsigned timeout)
{
	proxy_fd = fd;
	proxy_pid = pid;
	proxy_timeout = timeout;
	proxy_broken = 0;
}

void
target_proxy_detach(void)
{
	if (proxy_fd != -1)
		close(proxy_fd);
	proxy_fd = -1;
}

const char *
target_proxy_error(void)
{
	return proxy_err;
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static int
proxy_write_all(int fd, const void *buf, size_t len)
{
	const char *c = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, c, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads len bytes; with deadline (usec, monotonic) != 0, not after it. */
static int
proxy_read_all(int fd, void *buf, size_t len, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct timespec ts;
	uint64_t now;
	char *c = buf;
	ssize_t n;

	while (len > 0) {
		if (deadline != 0) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			now = (uint64_t)ts.tv_sec * 1000000 +
			    (uint64_t)ts.tv_nsec / 1000;
			if (now >= deadline)
				return -ETIMEDOUT;
			n = poll(&pfd, 1, (int)((deadline - now) / 1000) + 1);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return n == 0 ? -ETIMEDOUT : -errno;
		}
		if ((n = read(fd, c, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- the reader side ---- */

/* Ends the conversation: the child is killed, every later call fails. */
static int
proxy_fail(int r, const char *why)
{
	if (!proxy_broken) {
		log_warnx("target child: %s", why);
		if (proxy_pid > 0)
			kill(proxy_pid, SIGKILL);
	}
	proxy_broken = 1;
	return r;
}

/*
 * One request and its reply. The reply's payload (at most max bytes) goes
 * to a malloc'd *out (NUL-terminated) when out is given; else it must be
 * empty. Returns the child's status, checked to be -errno or >= 0.
 */
static int
proxy_call(int op, uint32_t h, const void *payload, size_t len,
    char **out, size_t *outlen, size_t max)
{
	unsigned char hdr[9], rhdr[8];
	uint64_t deadline;
	struct timespec ts;
	int32_t status;
	uint32_t rlen;
	char *buf;
	int r;

	if (out != NULL)
		*out = NULL;
	if (proxy_fd == -1 || proxy_broken)
		return -ECONNABORTED;
	hdr[0] = (unsigned char)op;
	put32(hdr + 1, h);
	put32(hdr + 5, (uint32_t)len);
	if ((r = proxy_write_all(proxy_fd, hdr, sizeof(hdr))) < 0 ||
	    (len > 0 && (r = proxy_write_all(proxy_fd, payload, len)) < 0))
		return proxy_fail(r, "cannot send a request");
	/* The child's own operations are bounded by its timeout; an open or
	 * an abort may take a few of them. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	deadline = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec /
	    1000 + ((uint64_t)proxy_timeout * 4 + 10) * 1000000;
	if ((r = proxy_read_all(proxy_fd, rhdr, sizeof(rhdr), deadline)) < 0)
		return proxy_fail(r, r == -ETIMEDOUT ? "no answer in time" :
		    "no reply");
	status = (int32_t)get32(rhdr);
	rlen = get32(rhdr + 4);
	if (status < -PROXY_ERRNO_MAX)
		return proxy_fail(-EPROTO, "a status out of range");
	if (rlen > max || (out == NULL && rlen > 0))
		return proxy_fail(-EPROTO, "a reply longer than asked");
	buf = xcalloc(1, (size_t)rlen + 1);
	if (rlen > 0 && (r = proxy_read_all(proxy_fd, buf, rlen,
	    deadline)) < 0) {
		free(buf);
		return proxy_fail(r, "a short reply");
	}
	if (out != NULL) {
		*out = buf;
		*outlen = rlen;
	} else
		free(buf);
	return status;
}

static int
proxy_name_call(int op, const char *name)
{
	return proxy_call(op, 0, name, strlen(name), NULL, NULL, 0);
}

static int
proxy_open(const char *location, void **state)
{
	char *msg;
	size_t len, i;
	int r;

	*state = NULL;
	proxy_err[0] = '\0';
	if (proxy_fd == -1) {
		snprintf(proxy_err, sizeof(proxy_err), "sftp targets are "
		    "served by agentd-backup only");
		return -ENOTSUP;
	}
	if (strlen(location) > PROXY_MAX)
		return -EINVAL;
	r = proxy_call(OP_OPEN, 0, location, strlen(location), &msg, &len,
	    PROXY_ERR_MAX - 1);
	if (msg != NULL) {
		/* The child's words, shown to people: printable ASCII only. */
		for (i = 0; i < len; i++)
			proxy_err[i] = msg[i] >= 0x20 && msg[i] < 0x7f ?
			    msg[i] : '?';
		proxy_err[len] = '\0';
		free(msg);
	}
	if (r > 0)
		return proxy_fail(-EPROTO, "open: a positive status");
	if (r == 0)
		*state = &proxy_fd;
	return r;
}

static void
proxy_close(void *state)
{
	(void)state;
	(void)proxy_call(OP_CLOSE, 0, NULL, 0, NULL, NULL, 0);
}

static int
proxy_handle_begin(int op, const char *name, void **out)
{
	struct proxy_h *p;
	int r;

	if ((r = proxy_name_call(op, name)) < 0)
		return r;
	if (r >= PROXY_HANDLES)
		return proxy_fail(-EPROTO, "a handle out of range");
	p = xcalloc(1, sizeof(*p));
	p->h = (uint32_t)r;
	*out = p;
	return 0;
}

static int
proxy_put_begin(void *state, const char *name, void **out)
{
	(void)state;
	return proxy_handle_begin(OP_PUT_BEGIN, name, out);
}

static int
proxy_put_write(void *put, const void *buf, size_t len)
{
	struct proxy_h *p = put;
	const char *c = buf;
	size_t chunk;
	int r;

	while (len > 0) {
		chunk = len < PROXY_MAX ? len : PROXY_MAX;
		if ((r = proxy_call(OP_PUT_WRITE, p->h, c, chunk, NULL, NULL,
		    0)) != 0)
			return r > 0 ? proxy_fail(-EPROTO, "write: status")
			    : r;
		c += chunk;
		len -= chunk;
	}
	return 0;
}

static int
proxy_handle_end(int op, void *handle)
{
	struct proxy_h *p = handle;
	int r;

	r = proxy_call(op, p->h, NULL, 0, NULL, NULL, 0);
	free(p);
	return r > 0 ? proxy_fail(-EPROTO, "end: a positive status") : r;
}

static int
proxy_put_commit(void *put)
{
	return proxy_handle_end(OP_PUT_COMMIT, put);
}

static int
proxy_put_commit_new(void *put)
{
	return proxy_handle_end(OP_PUT_COMMIT_NEW, put);
}

static void
proxy_put_abort(void *put)
{
	(void)proxy_handle_end(OP_PUT_ABORT, put);
}

static int
proxy_get_open(void *state, const char *name, void **out)
{
	(void)state;
	return proxy_handle_begin(OP_GET_OPEN, name, out);
}

static ssize_t
proxy_get_read(void *get, void *buf, size_t len)
{
	struct proxy_h *g = get;
	unsigned char want[4];
	char *data;
	size_t n;
	int r;

	if (len > PROXY_MAX)
		len = PROXY_MAX;
	put32(want, (uint32_t)len);
	r = proxy_call(OP_GET_READ, g->h, want, sizeof(want), &data, &n,
	    len);
	if (r >= 0 && (size_t)r != n) {
		free(data);
		return proxy_fail(-EPROTO, "read: a count unlike the data");
	}
	if (r > 0)
		memcpy(buf, data, n);
	free(data);
	return r;
}

static void
proxy_get_close(void *get)
{
	(void)proxy_handle_end(OP_GET_CLOSE, get);
}

static int
proxy_list(void *state, char ***names, size_t *n)
{
	char *buf, *p, *end;
	size_t len, cap = 0;
	int r, count;

	(void)state;
	*names = NULL;
	*n = 0;
	if ((count = proxy_call(OP_LIST, 0, NULL, 0, &buf, &len,
	    PROXY_LIST_MAX)) < 0) {
		free(buf);
		return count;
	}
	/* count names, each NUL-terminated, valid, in strictly rising
	 * order (sorted and unique, as the contract says). */
	r = 0;
	for (p = buf, end = buf + len; p < end; p += strlen(p) + 1) {
		if (memchr(p, '\0', (size_t)(end - p)) == NULL ||
		    !target_name_valid(p) || (*n > 0 &&
		    strcmp((*names)[*n - 1], p) >= 0)) {
			r = -EPROTO;
			break;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			*names = xreallocarray(*names, cap, sizeof(char *));
		}
		(*names)[(*n)++] = xstrdup(p);
	}
	free(buf);
	if (r == 0 && *n != (size_t)count)
		r = -EPROTO;
	if (r < 0) {
		target_list_free(*names, *n);
		*names = NULL;
		*n = 0;
		return proxy_fail(r, "list: a bad name list");
	}
	return 0;
}

static int
proxy_remove(void *state, const char *name)
{
	int r;

	(void)state;
	r = proxy_name_call(OP_REMOVE, name);
	return r > 0 ? proxy_fail(-EPROTO, "remove: a positive status") : r;
}

static int
proxy_clean(void *state)
{
	(void)state;
	return proxy_call(OP_CLEAN, 0, NULL, 0, NULL, NULL, 0);
}

const struct target_ops target_proxy_ops = {
	.scheme = "sftp",
	.open = proxy_open,
	.close = proxy_close,
	.put_begin = proxy_put_begin,
	.put_write = proxy_put_write,
	.put_commit = proxy_put_commit,
	.put_commit_new = proxy_put_commit_new,
	.put_abort = proxy_put_abort,
	.get_open = proxy_get_open,
	.get_read = proxy_get_read,
	.get_close = proxy_get_close,
	.list = proxy_list,
	.remove = proxy_remove,
	.clean = proxy_clean,
};

/* ---- the child side ---- */

struct serve_slot {
	int	 kind;	/* 0 free, 1 put, 2 get */
	void	*p;
};

static void
serve_reply(int fd, int status, const void *payload, size_t len)
{
	unsigned char hdr[8];

	put32(hdr, (uint32_t)status);
	put32(hdr + 4, (uint32_t)len);
	if (proxy_write_all(fd, hdr, sizeof(hdr)) < 0 ||
	    (len > 0 && proxy_write_all(fd, payload, len) < 0))
		_exit(1);
}

static int
serve_slot_new(struct serve_slot *slots, int kind, void *p)
{
	for (int i = 0; i < PROXY_HANDLES; i++)
		if (slots[i].kind == 0) {
			slots[i].kind = kind;
			slots[i].p = p;
			return i;
		}
	return -1;
}

void
target_proxy_serve(int fd, const struct target_ops *ops,
    const char *(*errmsg)(void))
{
	struct serve_slot slots[PROXY_HANDLES] = { { 0, NULL } };
	unsigned char hdr[9];
	void *state = NULL, *h;
	char *buf = xcalloc(1, PROXY_MAX + 1), **names;
	size_t n, i, len, cap;
	uint32_t hi, want;
	ssize_t got;
	int op, r;

	while (proxy_read_all(fd, hdr, sizeof(hdr), 0) == 0) {
		op = hdr[0];
		hi = get32(hdr + 1);
		len = get32(hdr + 5);
		if (len > PROXY_MAX || proxy_read_all(fd, buf, len, 0) < 0)
			break;
		buf[len] = '\0';
		/* The reader is trusted, but a handle is still checked. */
		if ((op == OP_PUT_WRITE || op == OP_PUT_COMMIT ||
		    op == OP_PUT_COMMIT_NEW || op == OP_PUT_ABORT) &&
		    (hi >= PROXY_HANDLES || slots[hi].kind != 1))
			break;
		if ((op == OP_GET_READ || op == OP_GET_CLOSE) &&
		    (hi >= PROXY_HANDLES || slots[hi].kind != 2))
			break;
		if (op != OP_OPEN && state == NULL)
			break;
		switch (op) {
		case OP_OPEN: {
			const char *m;

			if (state != NULL)
				goto out;
			r = ops->open(buf, &state);
			m = r < 0 && errmsg != NULL ? errmsg() : "";
			serve_reply(fd, r, m, strnlen(m, PROXY_ERR_MAX - 1));
			break;
		}
		case OP_CLOSE:
			serve_reply(fd, 0, NULL, 0);
			goto out;
		case OP_PUT_BEGIN:
		case OP_GET_OPEN:
			r = (op == OP_PUT_BEGIN ? ops->put_begin :
			    ops->get_open)(state, buf, &h);
			if (r == 0 && (r = serve_slot_new(slots,
			    op == OP_PUT_BEGIN ? 1 : 2, h)) < 0) {
				if (op == OP_PUT_BEGIN)
					ops->put_abort(h);
				else
					ops->get_close(h);
				r = -EMFILE;
			}
			serve_reply(fd, r, NULL, 0);
			break;
		case OP_PUT_WRITE:
			serve_reply(fd, ops->put_write(slots[hi].p, buf, len),
			    NULL, 0);
			break;
		case OP_PUT_COMMIT:
		case OP_PUT_COMMIT_NEW:
		case OP_PUT_ABORT:
			h = slots[hi].p;
			slots[hi].kind = 0;
			if (op == OP_PUT_ABORT) {
				ops->put_abort(h);
				r = 0;
			} else
				r = (op == OP_PUT_COMMIT ? ops->put_commit :
				    ops->put_commit_new)(h);
			serve_reply(fd, r, NULL, 0);
			break;
		case OP_GET_READ:
			if (len != 4 || (want = get32((unsigned char *)buf)) >
			    PROXY_MAX)
				goto out;
			got = ops->get_read(slots[hi].p, buf, want);
			serve_reply(fd, (int)got, buf, got > 0 ? (size_t)got :
			    0);
			break;
		case OP_GET_CLOSE:
			ops->get_close(slots[hi].p);
			slots[hi].kind = 0;
			serve_reply(fd, 0, NULL, 0);
			break;
		case OP_LIST: {
			char *out = NULL;
			size_t olen = 0;

			if ((r = ops->list(state, &names, &n)) < 0) {
				serve_reply(fd, r, NULL, 0);
				break;
			}
			for (i = 0, cap = 0; i < n; i++)
				cap += strlen(names[i]) + 1;
			if (cap > PROXY_LIST_MAX) {
				target_list_free(names, n);
				serve_reply(fd, -EFBIG, NULL, 0);
				break;
			}
			out = xcalloc(1, cap + 1);
			for (i = 0; i < n; i++) {
				memcpy(out + olen, names[i],
				    strlen(names[i]) + 1);
				olen += strlen(names[i]) + 1;
			}
			target_list_free(names, n);
			serve_reply(fd, (int)n, out, olen);
			free(out);
			break;
		}
		case OP_REMOVE:
			serve_reply(fd, ops->remove(state, buf), NULL, 0);
			break;
		case OP_CLEAN:
			serve_reply(fd, ops->clean(state), NULL, 0);
			break;
		default:
			goto out;
		}
	}
out:
	for (i = 0; i < PROXY_HANDLES; i++)
		if (slots[i].kind == 1)
			ops->put_abort(slots[i].p);
		else if (slots[i].kind == 2)
			ops->get_close(slots[i].p);
	if (state != NULL)
		ops->close(state);
	free(buf);
}
