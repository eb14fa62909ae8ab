/*
 * The SFTP target over libssh2: sftp://user@host[:port]/path. The server's
 * host key must be the pinned one (type and blob, byte for byte); the
 * client authenticates with a private key, from a file or (a recovery
 * kit's credential) from memory, never written out. Objects are written under
 * ".tmp-NAME-PID-RANDOM", fsynced where the server offers fsync@openssh.com,
 * and renamed. SFTP protocol 3's SSH_FXP_RENAME fails when the new name
 * exists (OpenSSH links, then unlinks), which is put_commit_new's
 * semantics; put_commit, which may replace, removes the old object first
 * when the rename is refused (libssh2 1.10 has no posix-rename@openssh.com:
 * a crash in between leaves the object under its temporary name only).
 *
 * Every blocking call is bounded by libssh2_session_set_timeout; after a
 * timeout or a transport error the session is dead and every later call
 * fails at once, so a hung server costs one timeout, not one per object.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <libssh2.h>
#include <libssh2_sftp.h>
#include <sodium.h>

#include "hostkey.h"
#include "keyfile.h"
#include "log.h"
#include "target.h"
#include "target_sftp.h"
#include "xmalloc.h"

#define TMP_PREFIX	".tmp-"
#define SFTP_KEY_MAX	(64 * 1024)	/* a private key file, bytes */
#define SFTP_CHUNK	30000	/* libssh2 1.10's largest write packet */

static struct sftp_conf conf = { .timeout = 30 };
static char sftp_err[512];
/* The private key, read by target_sftp_configure before the child gives
 * up its identity; key_err is why not. */
static char *key_buf;
static size_t key_len;
static int key_err;

struct sftp_state {
	int		 sock, dead;
	LIBSSH2_SESSION	*ssh;
	LIBSSH2_SFTP	*sftp;
	char		*dir;
	uint64_t	 paced_start;	/* usec; bandwidth pacing */
	unsigned long long paced_bytes;
};

struct sftp_put {
	struct sftp_state *s;
	LIBSSH2_SFTP_HANDLE *h;
	char	*tmp, *name;	/* full paths */
};

struct sftp_get {
	struct sftp_state *s;
	LIBSSH2_SFTP_HANDLE *h;
};

void
target_sftp_configure(const struct sftp_conf *c)
{
	conf = *c;
	if (conf.timeout == 0)
		conf.timeout = 30;
	sftp_err[0] = '\0';
	if (key_buf != NULL) {
		explicit_bzero(key_buf, key_len);
		free(key_buf);
		key_buf = NULL;
	}
	key_err = 0;
	if (conf.key_file != NULL)
		/* Read only if 0600 and ours or root's (keyfile.c). */
		key_err = keyfile_read("sftp_key_file", conf.key_file,
		    SFTP_KEY_MAX, &key_buf, &key_len, sftp_err,
		    sizeof(sftp_err));
	else if (conf.key_text != NULL &&
	    (key_len = strlen(conf.key_text)) <= SFTP_KEY_MAX)
		/* Our own copy: the caller wipes its own. */
		key_buf = xstrdup(conf.key_text);
	else if (conf.key_text != NULL) {
		snprintf(sftp_err, sizeof(sftp_err), "the private key is over "
		    "%d bytes", SFTP_KEY_MAX);
		key_err = -EINVAL;
	}
	conf.key_text = NULL;	/* borrowed: not kept */
}

const char *
target_sftp_error(void)
{
	return sftp_err;
}

static uint64_t
sftp_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* libssh2's last error as -errno; a session-level failure kills it. */
static int
sftp_errno(struct sftp_state *s)
{
	int e = libssh2_session_last_errno(s->ssh);

	if (e == LIBSSH2_ERROR_SFTP_PROTOCOL) {
		switch (libssh2_sftp_last_error(s->sftp)) {
		case LIBSSH2_FX_NO_SUCH_FILE:
		case LIBSSH2_FX_NO_SUCH_PATH:
			return -ENOENT;
		case LIBSSH2_FX_PERMISSION_DENIED:
		case LIBSSH2_FX_WRITE_PROTECT:
			return -EACCES;
		case LIBSSH2_FX_FILE_ALREADY_EXISTS:
			return -EEXIST;
		case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM:
		case LIBSSH2_FX_QUOTA_EXCEEDED:
			return -ENOSPC;
		case LIBSSH2_FX_OP_UNSUPPORTED:
			return -ENOTSUP;
		default:
			return -EIO;
		}
	}
	s->dead = 1;
	if (e == LIBSSH2_ERROR_TIMEOUT) {
		log_warnx("sftp: the server did not answer within %u s",
		    conf.timeout);
		return -ETIMEDOUT;
	}
	return -ECONNABORTED;
}

static char *
sftp_path(struct sftp_state *s, const char *name)
{
	char *p;

	xasprintf(&p, "%s/%s", s->dir, name);
	return p;
}

/* "user@host[:port]/path" into its parts (owned). */
static int
sftp_parse(const char *loc, char **user, char **host, char **port,
    char **dir)
{
	const char *at, *h, *hend, *slash, *colon;

	if ((at = strchr(loc, '@')) == NULL || at == loc)
		return -EINVAL;
	h = at + 1;
	if (*h == '[') {
		if ((hend = strchr(h, ']')) == NULL)
			return -EINVAL;
		h++;
		colon = hend[1] == ':' ? hend + 1 : NULL;
		slash = strchr(hend, '/');
	} else {
		if ((slash = strchr(h, '/')) == NULL)
			return -EINVAL;
		colon = memchr(h, ':', (size_t)(slash - h));
		hend = colon != NULL ? colon : slash;
	}
	if (slash == NULL || hend == h || slash[1] == '\0')
		return -EINVAL;
	*user = xstrndup(loc, (size_t)(at - loc));
	*host = xstrndup(h, (size_t)(hend - h));
	*port = colon != NULL ? xstrndup(colon + 1, (size_t)(slash - colon -
	    1)) : xstrdup("22");
	*dir = xstrdup(slash);
	/* The directory without its trailing slashes ("/" stays). */
	for (size_t n = strlen(*dir); n > 1 && (*dir)[n - 1] == '/'; n--)
		(*dir)[n - 1] = '\0';
	return 0;
}

/* A TCP connection within the timeout; the socket is blocking after. */
static int
sftp_connect(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	struct pollfd pfd;
	int fd = -1, r, err = ECONNREFUSED, fl;
	socklen_t elen;

	if ((r = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(sftp_err, sizeof(sftp_err), "%s: %s", host,
		    gai_strerror(r));
		return -EHOSTUNREACH;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol)) == -1) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			elen = sizeof(err);
			if (poll(&pfd, 1, (int)conf.timeout * 1000) == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
			    &elen) == 0 && err == 0)
				break;
			if (err == 0)
				err = ETIMEDOUT;
		} else
			err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1) {
		snprintf(sftp_err, sizeof(sftp_err), "connect to %s port %s: "
		    "%s", host, port, strerror(err));
		return -err;
	}
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	return fd;
}

/* The server's host key against the pinned "TYPE BASE64" (hostkey.c):
 * type and blob equal, or a loud refusal naming both fingerprints. */
static int
sftp_check_host_key(struct sftp_state *s, const char *host)
{
	struct hostkey pinned;
	const char *blob;
	char got[HOSTKEY_FP_LEN];
	size_t len;
	int type, r;

	if ((blob = libssh2_session_hostkey(s->ssh, &len, &type)) == NULL) {
		snprintf(sftp_err, sizeof(sftp_err), "%s: no host key", host);
		return -EPROTO;
	}
	if (hostkey_parse(conf.host_key, &pinned) < 0) {
		snprintf(sftp_err, sizeof(sftp_err), "sftp_host_key is not "
		    "\"TYPE BASE64\"");
		return -EINVAL;
	}
	if ((r = hostkey_match(&pinned, host, (const unsigned char *)blob,
	    len, sftp_err, sizeof(sftp_err))) < 0) {
		log_warnx("%s", sftp_err);
		return r;
	}
	hostkey_fingerprint((const unsigned char *)blob, len, got, sizeof(got));
	log_debug("sftp: %s host key %s matches the pinned key", host, got);
	return 0;
}

static void
sftp_state_free(struct sftp_state *s)
{
	if (s->sftp != NULL && !s->dead)
		libssh2_sftp_shutdown(s->sftp);
	if (s->ssh != NULL) {
		if (!s->dead)
			libssh2_session_disconnect(s->ssh, "done");
		libssh2_session_free(s->ssh);
	}
	if (s->sock != -1)
		close(s->sock);
	free(s->dir);
	free(s);
}

static int
sftp_open(const char *location, void **state)
{
	struct sftp_state *s;
	char *user = NULL, *host = NULL, *port = NULL, *key = NULL;
	char type[64];
	const char *sp;
	int r;

	*state = NULL;
	if (key_err < 0)
		return key_err;		/* sftp_err says why */
	sftp_err[0] = '\0';
	if (conf.host_key == NULL || key_buf == NULL ||
	    (sp = strchr(conf.host_key, ' ')) == NULL ||
	    (size_t)(sp - conf.host_key) >= sizeof(type)) {
		snprintf(sftp_err, sizeof(sftp_err), "sftp_host_key and "
		    "sftp_key_file (or a kit's credential) are required");
		return -EINVAL;
	}
	if (sodium_init() < 0 || libssh2_init(0) != 0)
		return -EIO;
	if (sftp_parse(location, &user, &host, &port, &key) < 0) {
		snprintf(sftp_err, sizeof(sftp_err), "not sftp://USER@HOST"
		    "[:PORT]/PATH");
		return -EINVAL;
	}
	s = xcalloc(1, sizeof(*s));
	s->dir = key;
	key = NULL;
	if ((s->sock = sftp_connect(host, port)) < 0) {
		r = s->sock;
		s->sock = -1;
		goto out;
	}
	if ((s->ssh = libssh2_session_init()) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	libssh2_session_set_blocking(s->ssh, 1);
	libssh2_session_set_timeout(s->ssh, (long)conf.timeout * 1000);
	/* Ask for the pinned key's type, so a server with several host keys
	 * shows the one we know. */
	memcpy(type, conf.host_key, (size_t)(sp - conf.host_key));
	type[sp - conf.host_key] = '\0';
	libssh2_session_method_pref(s->ssh, LIBSSH2_METHOD_HOSTKEY,
	    strcmp(type, "ssh-rsa") == 0 ?
	    "rsa-sha2-512,rsa-sha2-256,ssh-rsa" : type);
	if (libssh2_session_handshake(s->ssh, s->sock) != 0) {
		char *m = NULL;

		libssh2_session_last_error(s->ssh, &m, NULL, 0);
		snprintf(sftp_err, sizeof(sftp_err), "ssh handshake with %s: "
		    "%s", host, m != NULL ? m : "failed");
		r = sftp_errno(s);
		goto out;
	}
	if ((r = sftp_check_host_key(s, host)) < 0)
		goto out;
	if (libssh2_userauth_publickey_frommemory(s->ssh, user, strlen(user),
	    NULL, 0, key_buf, key_len, NULL) != 0) {
		char *m = NULL;

		libssh2_session_last_error(s->ssh, &m, NULL, 0);
		snprintf(sftp_err, sizeof(sftp_err), "%s@%s refused the key "
		    "%s%s: %s", user, host, conf.key_file != NULL ? "in " :
		    "from the recovery kit", conf.key_file != NULL ?
		    conf.key_file : "", m != NULL ? m : "?");
		r = -EACCES;
		goto out;
	}
	if ((s->sftp = libssh2_sftp_init(s->ssh)) == NULL) {
		snprintf(sftp_err, sizeof(sftp_err), "%s: no sftp subsystem",
		    host);
		r = sftp_errno(s);
		goto out;
	}
	r = 0;
out:
	free(user);
	free(host);
	free(port);
	if (r < 0) {
		if (sftp_err[0] == '\0')
			snprintf(sftp_err, sizeof(sftp_err), "%s",
			    strerror(-r));
		sftp_state_free(s);
		return r;
	}
	*state = s;
	return 0;
}

static void
sftp_close(void *state)
{
	sftp_state_free(state);
}

static int
sftp_put_begin(void *state, const char *name, void **out)
{
	struct sftp_state *s = state;
	struct sftp_put *p;
	char *tmp;
	int r;

	if (s->dead)
		return -ECONNABORTED;
	xasprintf(&tmp, TMP_PREFIX "%s-%ld-%08x", name, (long)getpid(),
	    randombytes_random());
	p = xcalloc(1, sizeof(*p));
	p->s = s;
	p->name = sftp_path(s, name);
	p->tmp = sftp_path(s, tmp);
	free(tmp);
	if ((p->h = libssh2_sftp_open_ex(s->sftp, p->tmp,
	    (unsigned)strlen(p->tmp), LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT |
	    LIBSSH2_FXF_EXCL, 0600, LIBSSH2_SFTP_OPENFILE)) == NULL) {
		r = sftp_errno(s);
		free(p->tmp);
		free(p->name);
		free(p);
		return r;
	}
	*out = p;
	return 0;
}

/* Sleeps as long as the bytes sent so far are ahead of the limit. */
static void
sftp_pace(struct sftp_state *s, size_t len)
{
	uint64_t now = sftp_now(), due;
	struct timespec ts;

	if (conf.bandwidth == 0)
		return;
	/* A pause of over a second restarts the account: no burst after. */
	if (s->paced_start == 0 || now - s->paced_start > 1000000 +
	    s->paced_bytes * 1000000 / conf.bandwidth) {
		s->paced_start = now;
		s->paced_bytes = 0;
	}
	s->paced_bytes += len;
	due = s->paced_start + s->paced_bytes * 1000000 / conf.bandwidth;
	if (due > now) {
		ts.tv_sec = (time_t)((due - now) / 1000000);
		ts.tv_nsec = (long)((due - now) % 1000000) * 1000;
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
	}
}

/* OpenSSH answers a full disk with a bare SSH_FX_FAILURE: statvfs tells. */
static int
sftp_write_errno(struct sftp_state *s)
{
	LIBSSH2_SFTP_STATVFS st;
	int r = sftp_errno(s);

	if (r == -EIO && libssh2_sftp_statvfs(s->sftp, s->dir,
	    strlen(s->dir), &st) == 0 && st.f_bavail == 0)
		return -ENOSPC;
	return r;
}

static int
sftp_put_write(void *put, const void *buf, size_t len)
{
	struct sftp_put *p = put;
	const char *c = buf;
	ssize_t n;
	size_t chunk;

	while (len > 0) {
		if (p->s->dead)
			return -ECONNABORTED;
		chunk = len < SFTP_CHUNK ? len : SFTP_CHUNK;
		if ((n = libssh2_sftp_write(p->h, c, chunk)) < 0)
			return sftp_write_errno(p->s);
		/* libssh2 may take less than asked: pace what it took. */
		sftp_pace(p->s, (size_t)n);
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
sftp_put_free(struct sftp_put *p)
{
	free(p->tmp);
	free(p->name);
	free(p);
}

static void
sftp_put_abort(void *put)
{
	struct sftp_put *p = put;

	if (!p->s->dead) {
		if (p->h != NULL)
			libssh2_sftp_close_handle(p->h);
		libssh2_sftp_unlink(p->s->sftp, p->tmp);
	}
	sftp_put_free(p);
}

static int
sftp_exists(struct sftp_state *s, const char *path)
{
	LIBSSH2_SFTP_ATTRIBUTES a;

	return libssh2_sftp_lstat(s->sftp, path, &a) == 0;
}

static int
sftp_commit(void *put, int noreplace)
{
	struct sftp_put *p = put;
	struct sftp_state *s = p->s;
	int r;

	if (s->dead) {
		r = -ECONNABORTED;
		goto fail;
	}
	/* Durable on the server's disk where it offers fsync@openssh.com. */
	if (libssh2_sftp_fsync(p->h) != 0 && (r = sftp_errno(s)) != -ENOTSUP)
		goto fail;
	r = libssh2_sftp_close_handle(p->h);
	p->h = NULL;
	if (r != 0) {
		r = sftp_errno(s);
		goto fail;
	}
	/* Protocol 3's rename never replaces (see the top). */
	if (libssh2_sftp_rename_ex(s->sftp, p->tmp, (unsigned)strlen(p->tmp),
	    p->name, (unsigned)strlen(p->name), 0) == 0) {
		sftp_put_free(p);
		return 0;
	}
	r = sftp_errno(s);
	if (s->dead || !sftp_exists(s, p->name))
		goto fail;
	if (noreplace) {
		r = -EEXIST;
		goto fail;
	}
	if (libssh2_sftp_unlink(s->sftp, p->name) != 0 ||
	    libssh2_sftp_rename_ex(s->sftp, p->tmp, (unsigned)strlen(p->tmp),
	    p->name, (unsigned)strlen(p->name), 0) != 0) {
		r = sftp_errno(s);
		goto fail;
	}
	sftp_put_free(p);
	return 0;
fail:
	sftp_put_abort(p);
	return r;
}

static int
sftp_put_commit(void *put)
{
	return sftp_commit(put, 0);
}

static int
sftp_put_commit_new(void *put)
{
	return sftp_commit(put, 1);
}

static int
sftp_get_open(void *state, const char *name, void **out)
{
	struct sftp_state *s = state;
	struct sftp_get *g;
	LIBSSH2_SFTP_HANDLE *h;
	char *path;
	int r = 0;

	if (s->dead)
		return -ECONNABORTED;
	path = sftp_path(s, name);
	if ((h = libssh2_sftp_open_ex(s->sftp, path, (unsigned)strlen(path),
	    LIBSSH2_FXF_READ, 0, LIBSSH2_SFTP_OPENFILE)) == NULL)
		r = sftp_errno(s);
	free(path);
	if (r < 0)
		return r;
	g = xcalloc(1, sizeof(*g));
	g->s = s;
	g->h = h;
	*out = g;
	return 0;
}

static ssize_t
sftp_get_read(void *get, void *buf, size_t len)
{
	struct sftp_get *g = get;
	ssize_t n;

	if (g->s->dead)
		return -ECONNABORTED;
	if ((n = libssh2_sftp_read(g->h, buf, len)) < 0)
		return sftp_errno(g->s);
	return n;
}

static void
sftp_get_close(void *get)
{
	struct sftp_get *g = get;

	if (!g->s->dead)
		libssh2_sftp_close_handle(g->h);
	free(g);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Temporaries (tmp) or valid final names in the directory. */
static int
sftp_scan(struct sftp_state *s, int tmp, char ***names, size_t *n)
{
	LIBSSH2_SFTP_HANDLE *d;
	LIBSSH2_SFTP_ATTRIBUTES a;
	char ent[512];
	size_t cap = 0;
	int len, r = 0;

	*names = NULL;
	*n = 0;
	if (s->dead)
		return -ECONNABORTED;
	if ((d = libssh2_sftp_opendir(s->sftp, s->dir)) == NULL)
		return sftp_errno(s);
	while ((len = libssh2_sftp_readdir(d, ent, sizeof(ent), &a)) > 0) {
		if (tmp ? strncmp(ent, TMP_PREFIX, strlen(TMP_PREFIX)) != 0 :
		    !target_name_valid(ent))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			*names = xreallocarray(*names, cap, sizeof(char *));
		}
		(*names)[(*n)++] = xstrdup(ent);
	}
	if (len < 0)
		r = sftp_errno(s);
	if (!s->dead)
		libssh2_sftp_closedir(d);
	if (r < 0) {
		target_list_free(*names, *n);
		*names = NULL;
		*n = 0;
		return r;
	}
	if (*n > 0)
		qsort(*names, *n, sizeof(char *), name_cmp);
	return 0;
}

static int
sftp_list(void *state, char ***names, size_t *n)
{
	return sftp_scan(state, 0, names, n);
}

static int
sftp_unlink_name(struct sftp_state *s, const char *name)
{
	char *path = sftp_path(s, name);
	int r = 0;

	if (libssh2_sftp_unlink(s->sftp, path) != 0)
		r = sftp_errno(s);
	free(path);
	return r;
}

static int
sftp_remove(void *state, const char *name)
{
	struct sftp_state *s = state;

	if (s->dead)
		return -ECONNABORTED;
	return sftp_unlink_name(s, name);
}

static int
sftp_clean(void *state)
{
	struct sftp_state *s = state;
	char **names;
	size_t n, i;
	int r, count = 0;

	if ((r = sftp_scan(s, 1, &names, &n)) != 0)
		return r;
	for (i = 0; i < n && !s->dead; i++)
		if (sftp_unlink_name(s, names[i]) == 0)
			count++;
	target_list_free(names, n);
	return count;
}

const struct target_ops target_sftp_ops = {
	.scheme = "sftp",
	.open = sftp_open,
	.close = sftp_close,
	.put_begin = sftp_put_begin,
	.put_write = sftp_put_write,
	.put_commit = sftp_put_commit,
	.put_commit_new = sftp_put_commit_new,
	.put_abort = sftp_put_abort,
	.get_open = sftp_get_open,
	.get_read = sftp_get_read,
	.get_close = sftp_get_close,
	.list = sftp_list,
	.remove = sftp_remove,
	.clean = sftp_clean,
};
