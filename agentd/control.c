/*
 * The control socket server. Each connection reads bounded lines and
 * answers them in order; `check_run` answers later, when the run is done,
 * and the connection reads no further request until then.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "backup.h"
#include "command.h"
#include "control.h"
#include "decide.h"
#include "log.h"
#include "maintenance.h"
#include "report.h"
#include "support.h"
#include "timeutil.h"
#include "xmalloc.h"

struct control_conn {
	struct control		*control;
	int			 fd;
	sd_event_source		*src;
	char			*in;		/* CONTROL_REQUEST_MAX + 1 */
	size_t			 inlen;
	char			*out;
	size_t			 outlen, outoff;
	struct command_run	*run;		/* check_run in flight */
	sd_event_source		*resume;	/* answers lines after a run */
	int			 closing;	/* after the reply is sent */
	LIST_ENTRY(control_conn) entry;
};

struct control {
	sd_event		*event;
	int			 fd;
	char			*path;
	sd_event_source		*src;
	struct sched		*sched;
	struct control_info	 info;
	control_reload_fn	*reload;
	void			*userdata;
	unsigned		 nconns;
	LIST_HEAD(, control_conn) conns;
};

static void control_conn_process(struct control_conn *);

/* A string member of at most max - 1 bytes into buf; absent is "" unless
 * required. 0 or -EINVAL. */
static int
control_copy_string(json_t *root, const char *key, bool required, char *buf,
    size_t max, char *err, size_t errlen)
{
	json_t *v = json_object_get(root, key);
	const char *s = json_string_value(v);

	buf[0] = '\0';
	if (v == NULL && !required)
		return 0;
	if (s == NULL || strlen(s) >= max || (required && *s == '\0')) {
		snprintf(err, errlen, "'%s' is not a string of %s%zu bytes",
		    key, required ? "1 to " : "at most ", max - 1);
		return -EINVAL;
	}
	strcpy(buf, s);
	return 0;
}

/* The support_* requests' members. */
static int
control_parse_support(json_t *root, struct control_request *req, char *err,
    size_t errlen)
{
	json_t *ttl;

	switch (req->cmd) {
	case CONTROL_SUPPORT_OPEN:
		ttl = json_object_get(root, "ttl");
		if (ttl != NULL && (!json_is_integer(ttl) ||
		    json_integer_value(ttl) < 0 ||
		    json_integer_value(ttl) > 7 * 86400)) {
			snprintf(err, errlen, "'ttl' is not a number of "
			    "seconds up to 7 days");
			return -EINVAL;
		}
		req->ttl = ttl != NULL ? (unsigned)json_integer_value(ttl) : 0;
		return 0;
	case CONTROL_SUPPORT_APPROVE:
	case CONTROL_SUPPORT_DENY:
	case CONTROL_SUPPORT_CLOSE:
		return control_copy_string(root, "id", req->cmd !=
		    CONTROL_SUPPORT_CLOSE, req->id, sizeof(req->id), err,
		    errlen);
	default:
		return 0;
	}
}

/* The maintenance_start and silence requests' "seconds". */
static int
control_parse_maintenance(json_t *root, struct control_request *req,
    char *err, size_t errlen)
{
	json_t *v;

	switch (req->cmd) {
	case CONTROL_MAINTENANCE_START:
	case CONTROL_SILENCE:
		v = json_object_get(root, "seconds");
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > MAINTENANCE_MAX_SECONDS) {
			snprintf(err, errlen, "'seconds' is not a number of "
			    "seconds up to %d days", MAINTENANCE_MAX_SECONDS /
			    86400);
			return -EINVAL;
		}
		req->seconds = (unsigned)json_integer_value(v);
		return 0;
	default:
		return 0;
	}
}

int
control_parse_request(const char *line, size_t len,
    struct control_request *req, char *err, size_t errlen)
{
	static const struct {
		const char		*name;
		enum control_cmd	 cmd;
	} cmds[] = {
		{ "status", CONTROL_STATUS },
		{ "checks", CONTROL_CHECKS },
		{ "check_run", CONTROL_CHECK_RUN },
		{ "reload", CONTROL_RELOAD },
		{ "backup_run", CONTROL_BACKUP_RUN },
		{ "backup_status", CONTROL_BACKUP_STATUS },
		{ "support_open", CONTROL_SUPPORT_OPEN },
		{ "support_approve", CONTROL_SUPPORT_APPROVE },
		{ "support_deny", CONTROL_SUPPORT_DENY },
		{ "support_close", CONTROL_SUPPORT_CLOSE },
		{ "support_status", CONTROL_SUPPORT_STATUS },
		{ "maintenance_start", CONTROL_MAINTENANCE_START },
		{ "maintenance_stop", CONTROL_MAINTENANCE_STOP },
		{ "maintenance_status", CONTROL_MAINTENANCE_STATUS },
		{ "silence", CONTROL_SILENCE },
	};
	json_error_t jerr;
	json_t *root, *cmd, *name, *full;
	const char *s;
	int r = -EINVAL;

	memset(req, 0, sizeof(*req));
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(err, errlen, "malformed JSON at column %d: %s",
		    jerr.column, jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "request is not a JSON object");
		goto out;
	}
	cmd = json_object_get(root, "cmd");
	if ((s = json_string_value(cmd)) == NULL) {
		snprintf(err, errlen, "missing string field 'cmd'");
		goto out;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(s, cmds[i].name) == 0) {
			req->cmd = cmds[i].cmd;
			r = 0;
		}
	if (r != 0) {
		snprintf(err, errlen, "unknown cmd '%.64s'", s);
		goto out;
	}
	if (req->cmd == CONTROL_CHECK_RUN || req->cmd == CONTROL_BACKUP_RUN ||
	    req->cmd == CONTROL_SILENCE) {
		name = json_object_get(root, "name");
		if ((s = json_string_value(name)) == NULL || *s == '\0' ||
		    strlen(s) >= sizeof(req->name)) {
			snprintf(err, errlen, "%s needs a string field "
			    "'name' of 1 to %zu bytes", json_string_value(cmd),
			    sizeof(req->name) - 1);
			r = -EINVAL;
			goto out;
		}
		strcpy(req->name, s);
	}
	if (req->cmd == CONTROL_BACKUP_RUN &&
	    (full = json_object_get(root, "full")) != NULL) {
		if (!json_is_boolean(full)) {
			snprintf(err, errlen, "backup_run: 'full' is not a "
			    "boolean");
			r = -EINVAL;
			goto out;
		}
		req->full = json_is_true(full);
	}
	/* Any request may say who sends it and why. */
	if ((r = control_copy_string(root, "reason", false, req->reason,
	    sizeof(req->reason), err, errlen)) < 0 ||
	    (r = control_copy_string(root, "user", false, req->user,
	    sizeof(req->user), err, errlen)) < 0 ||
	    (r = control_parse_support(root, req, err, errlen)) < 0 ||
	    (r = control_parse_maintenance(root, req, err, errlen)) < 0)
		goto out;
out:
	json_decref(root);
	return r;
}

/* Every check decide holds, in config order: the scheduler's, then the
 * backup jobs' backup.NAME (agentd/backup.c). */
static json_t *
control_checks_json(struct sched *s, int detail)
{
	return decide_json(sched_decide(s), detail);
}

static json_t *
control_status(struct control *c)
{
	json_t *o = json_object(), *w;

	json_object_set_new(o, "ok", json_true());
	json_object_set_new(o, "version", json_string(AGENTD_VERSION));
	json_object_set_new(o, "pid", json_integer(getpid()));
	json_object_set_new(o, "started",
	    json_real((double)c->info.started / 1e6));
	json_object_set_new(o, "uptime", json_integer((json_int_t)
	    (time_since(c->info.started_mono,
	    time_now(CLOCK_MONOTONIC)) / 1000000)));
	json_object_set_new(o, "config", json_string(c->info.config_path));
	json_object_set_new(o, "checks", control_checks_json(c->sched, 0));
	if (c->info.maintenance != NULL &&
	    (w = maintenance_window(c->info.maintenance)) != NULL)
		json_object_set_new(o, "maintenance", w);
	if (c->info.report != NULL)
		json_object_set_new(o, "reporting",
		    report_status(c->info.report));
	return o;
}

static json_t *
control_error(const char *msg)
{
	json_t *o = json_object();

	json_object_set_new(o, "ok", json_false());
	json_object_set_new(o, "error", json_string(msg));
	return o;
}

static void
control_conn_free(struct control_conn *conn)
{
	struct control *c = conn->control;

	command_cancel(conn->run);
	sd_event_source_disable_unref(conn->resume);
	LIST_REMOVE(conn, entry);
	c->nconns--;
	sd_event_source_disable_unref(conn->src);
	close(conn->fd);
	free(conn->in);
	free(conn->out);
	free(conn);
}

/* Writes what the socket takes; returns -1 if the connection is gone. */
static int
control_conn_flush(struct control_conn *conn)
{
	while (conn->outoff < conn->outlen) {
		ssize_t n = send(conn->fd, conn->out + conn->outoff,
		    conn->outlen - conn->outoff, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			return -1;
		conn->outoff += (size_t)n;
	}
	if (conn->outoff == conn->outlen) {
		conn->outoff = conn->outlen = 0;
		if (conn->closing)
			return -1;
	}
	sd_event_source_set_io_events(conn->src,
	    (conn->outlen > 0 ? EPOLLOUT : 0) |
	    (conn->run == NULL && !conn->closing ? EPOLLIN : 0));
	return 0;
}

/* Queues one reply line; takes the reference to o. */
static void
control_reply(struct control_conn *conn, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);
	size_t n;

	json_decref(o);
	if (s == NULL)
		fatalx("cannot encode a control reply");
	n = strlen(s);
	conn->out = xreallocarray(conn->out, conn->outlen + n + 2, 1);
	memcpy(conn->out + conn->outlen, s, n);
	conn->out[conn->outlen + n] = '\n';
	conn->outlen += n + 1;
	free(s);
}

/* The answer of run_check (command.c, the portal's handler too). */
static void
control_run_done(const char *status, const char *detail, json_t *check,
    void *userdata)
{
	struct control_conn *conn = userdata;
	json_t *o;

	conn->run = NULL;
	if (strcmp(status, "done") != 0) {
		json_decref(check);
		control_reply(conn, control_error(detail));
	} else {
		o = json_object();
		json_object_set_new(o, "ok", json_true());
		json_object_set_new(o, "check", check != NULL ? check :
		    json_null());
		control_reply(conn, o);
	}
	/* Further buffered lines are answered from the loop, not from
	 * inside the scheduler that called us (a reload would pull the
	 * checks from under it). */
	sd_event_source_set_enabled(conn->resume, SD_EVENT_ONESHOT);
}

/* The answer of run_backup: the run is started (agentctl then follows it
 * with backup_status) or refused. */
static void
control_backup_done(const char *status, const char *detail, json_t *run,
    void *userdata)
{
	struct control_conn *conn = userdata;
	json_t *o;

	conn->run = NULL;
	if (strcmp(status, "done") != 0 || run == NULL) {
		o = control_error(detail);
		json_object_set_new(o, "status", json_string(status));
		json_decref(run);
	} else {
		o = run;
		json_object_set_new(o, "ok", json_true());
	}
	control_reply(conn, o);
	sd_event_source_set_enabled(conn->resume, SD_EVENT_ONESHOT);
}

static int
control_on_resume(sd_event_source *s, void *userdata)
{
	(void)s;
	control_conn_process(userdata);
	return 0;
}

static void
control_reload(struct control_conn *conn)
{
	struct config_errors errs = { 0 };
	json_t *o, *a;

	if (conn->control->reload(&errs, conn->control->userdata) == 0) {
		o = json_object();
		json_object_set_new(o, "ok", json_true());
	} else {
		o = control_error("the new config was rejected; the running "
		    "config stays");
		a = json_array();
		for (size_t i = 0; i < errs.n; i++)
			json_array_append_new(a, json_string(errs.msgs[i]));
		json_object_set_new(o, "errors", a);
	}
	config_errors_free(&errs);
	control_reply(conn, o);
}

/* Who asks, as the audit trail names a local client: the uid the kernel
 * vouches for, and the name the client gives. */
static void
control_peer(struct control_conn *conn, const char *user, char *by,
    size_t len)
{
	struct ucred cred;
	socklen_t sl = sizeof(cred);
	char esc[300];

	if (getsockopt(conn->fd, SOL_SOCKET, SO_PEERCRED, &cred, &sl) < 0)
		cred.uid = (uid_t)-1;
	if (*user != '\0')
		snprintf(by, len, "%s (uid %ld)", log_escape(esc, sizeof(esc),
		    user), (long)(int)cred.uid);
	else
		snprintf(by, len, "uid %ld", (long)(int)cred.uid);
}

static void
control_support(struct control_conn *conn, const struct control_request *req)
{
	struct support *s = conn->control->info.support;
	json_t *o = NULL, *answer = NULL;
	char by[400], detail[600];
	const char *id = req->id[0] != '\0' ? req->id : NULL;
	int r;

	if (s == NULL) {
		control_reply(conn, control_error("remote support is not set "
		    "up in this agentd"));
		return;
	}
	control_peer(conn, req->user, by, sizeof(by));
	switch (req->cmd) {
	case CONTROL_SUPPORT_OPEN:
		r = support_request(s, "local", by, req->reason, req->ttl,
		    &answer, detail, sizeof(detail));
		if (r < 0) {
			o = control_error(detail);
			break;
		}
		o = answer;
		json_object_set_new(o, "ok", json_true());
		break;
	case CONTROL_SUPPORT_APPROVE:
	case CONTROL_SUPPORT_DENY:
	case CONTROL_SUPPORT_CLOSE:
		r = req->cmd == CONTROL_SUPPORT_APPROVE ?
		    support_approve(s, id, by) :
		    req->cmd == CONTROL_SUPPORT_DENY ? support_deny(s, id, by) :
		    support_close(s, id, by);
		if (r < 0) {
			snprintf(detail, sizeof(detail), "%s%s", id != NULL ?
			    "no such " : "no ", req->cmd == CONTROL_SUPPORT_CLOSE ?
			    "waiting or open session" : "waiting request");
			o = control_error(detail);
			break;
		}
		o = json_object();
		json_object_set_new(o, "ok", json_true());
		break;
	default:
		o = json_object();
		json_object_set_new(o, "ok", json_true());
		json_object_set_new(o, "sessions", support_status(s));
		break;
	}
	control_reply(conn, o);
}

static void
control_maintenance(struct control_conn *conn,
    const struct control_request *req)
{
	struct maintenance *m = conn->control->info.maintenance;
	char by[400], detail[300];
	json_t *o;
	int r = 0;

	if (m == NULL) {
		control_reply(conn, control_error("maintenance is not set up "
		    "in this agentd"));
		return;
	}
	control_peer(conn, req->user, by, sizeof(by));
	detail[0] = '\0';
	switch (req->cmd) {
	case CONTROL_MAINTENANCE_START:
		r = maintenance_start(m, req->seconds, req->reason, by, detail,
		    sizeof(detail));
		break;
	case CONTROL_MAINTENANCE_STOP:
		if ((r = maintenance_stop(m, by)) == -ENOENT)
			snprintf(detail, sizeof(detail), "no maintenance window "
			    "is open");
		break;
	case CONTROL_SILENCE:
		if (decide_find(sched_decide(conn->control->sched),
		    req->name) == NULL &&
		    req->seconds != 0) {
			snprintf(detail, sizeof(detail), "no check named '%s'",
			    req->name);
			r = -ENOENT;
			break;
		}
		r = maintenance_silence(m, req->name, req->seconds, by, detail,
		    sizeof(detail));
		break;
	default:
		break;
	}
	/* -EIO: it applies, but did not reach the disk (logged). */
	if (r < 0 && r != -EIO) {
		control_reply(conn, control_error(detail));
		return;
	}
	o = maintenance_status(m);
	json_object_set_new(o, "ok", json_true());
	if (r == -EIO)
		json_object_set_new(o, "warning", json_string("not saved: it "
		    "ends if agentd restarts (see the log)"));
	control_reply(conn, o);
}

static void
control_handle(struct control_conn *conn, const char *line, size_t len)
{
	struct control *c = conn->control;
	struct control_request req;
	char err[256];
	json_t *o;

	if (control_parse_request(line, len, &req, err, sizeof(err)) != 0) {
		control_reply(conn, control_error(err));
		return;
	}
	switch (req.cmd) {
	case CONTROL_STATUS:
		control_reply(conn, control_status(c));
		break;
	case CONTROL_CHECKS:
		o = json_object();
		json_object_set_new(o, "ok", json_true());
		json_object_set_new(o, "checks", control_checks_json(c->sched, 1));
		control_reply(conn, o);
		break;
	case CONTROL_CHECK_RUN:
		if (c->info.report == NULL) {
			control_reply(conn, control_error("the agent is "
			    "stopping"));
			break;
		}
		o = json_pack("{s:s}", "name", req.name);
		(void)command_run(report_commands(c->info.report), "run_check",
		    o, control_run_done, conn, &conn->run);
		json_decref(o);
		break;
	case CONTROL_RELOAD:
		control_reload(conn);
		break;
	case CONTROL_BACKUP_RUN:
		if (c->info.report == NULL) {
			control_reply(conn, control_error("the agent is "
			    "stopping"));
			break;
		}
		/* Two pairs: job, full. */
		o = json_pack("{s:s, s:b}", "job", req.name, "full", req.full);
		(void)command_run(report_commands(c->info.report), "run_backup",
		    o, control_backup_done, conn, &conn->run);
		json_decref(o);
		break;
	case CONTROL_BACKUP_STATUS:
		o = json_object();
		json_object_set_new(o, "ok", json_true());
		json_object_set_new(o, "backups", c->info.backup != NULL ?
		    backup_status(c->info.backup) : json_array());
		control_reply(conn, o);
		break;
	case CONTROL_SUPPORT_OPEN:
	case CONTROL_SUPPORT_APPROVE:
	case CONTROL_SUPPORT_DENY:
	case CONTROL_SUPPORT_CLOSE:
	case CONTROL_SUPPORT_STATUS:
		control_support(conn, &req);
		break;
	case CONTROL_MAINTENANCE_START:
	case CONTROL_MAINTENANCE_STOP:
	case CONTROL_MAINTENANCE_STATUS:
	case CONTROL_SILENCE:
		control_maintenance(conn, &req);
		break;
	}
}

/* Answers every complete line buffered, stopping while a run is pending. */
static void
control_conn_process(struct control_conn *conn)
{
	char *nl;

	while (conn->run == NULL && !conn->closing &&
	    (nl = memchr(conn->in, '\n', conn->inlen)) != NULL) {
		size_t len = (size_t)(nl - conn->in);

		control_handle(conn, conn->in, len);
		conn->inlen -= len + 1;
		memmove(conn->in, nl + 1, conn->inlen);
	}
	if (control_conn_flush(conn) < 0)
		control_conn_free(conn);
}

static int
control_on_conn(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct control_conn *conn = userdata;
	ssize_t n;

	(void)s;
	if (revents & EPOLLOUT) {
		if (control_conn_flush(conn) < 0) {
			control_conn_free(conn);
			return 0;
		}
	}
	if (conn->run != NULL) {
		/* The client left while its run is in flight. */
		if (revents & (EPOLLHUP | EPOLLERR))
			control_conn_free(conn);
		return 0;
	}
	if (!(revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return 0;
	n = read(fd, conn->in + conn->inlen, CONTROL_REQUEST_MAX - conn->inlen);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		control_conn_free(conn);
		return 0;
	}
	conn->inlen += (size_t)n;
	if (conn->inlen == CONTROL_REQUEST_MAX &&
	    memchr(conn->in, '\n', conn->inlen) == NULL) {
		control_reply(conn, control_error("request line too long"));
		conn->closing = 1;
		conn->inlen = 0;
	}
	control_conn_process(conn);
	return 0;
}

static int
control_on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct control *c = userdata;
	struct control_conn *conn;
	int cfd;

	(void)s;
	(void)revents;
	if ((cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("control: accept");
		return 0;
	}
	if (c->nconns >= CONTROL_CONN_MAX) {
		log_warnx("control: too many connections; refusing one");
		close(cfd);
		return 0;
	}
	conn = xcalloc(1, sizeof(*conn));
	conn->control = c;
	conn->fd = cfd;
	conn->in = xcalloc(1, CONTROL_REQUEST_MAX + 1);
	if (sd_event_add_io(c->event, &conn->src, cfd, EPOLLIN,
	    control_on_conn, conn) < 0 ||
	    sd_event_add_defer(c->event, &conn->resume, control_on_resume,
	    conn) < 0) {
		sd_event_source_disable_unref(conn->src);
		close(cfd);
		free(conn->in);
		free(conn);
		return 0;
	}
	sd_event_source_set_enabled(conn->resume, SD_EVENT_OFF);
	LIST_INSERT_HEAD(&c->conns, conn, entry);
	c->nconns++;
	return 0;
}

/* Makes the socket reachable by its group only. A missing group is
 * not fatal: root and the agent's user can still use the socket. */
static void
control_set_owner(const char *path, const char *group)
{
	struct group *gr;

	if (chmod(path, 0660) < 0)
		log_warn("control: chmod %s", path);
	if (group[0] == '\0')
		return;
	if ((gr = getgrnam(group)) == NULL) {
		log_warnx("control: group '%s' does not exist; only root and "
		    "this user can use %s", group, path);
		return;
	}
	if (chown(path, (uid_t)-1, gr->gr_gid) < 0)
		log_warn("control: chown %s to group %s", path, group);
}

static int
control_listen(const char *path, int *fdp)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, r;
	mode_t old;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0)
		return -errno;
	/* A socket someone answers on belongs to a running agent. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 ||
	    errno == EAGAIN) {
		close(fd);
		return -EADDRINUSE;
	}
	close(fd);
	unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0)
		return -errno;
	old = umask(0117);
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (r < 0 || listen(fd, 16) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*fdp = fd;
	return 0;
}

int
control_open(sd_event *event, const char *path, const char *group,
    struct sched *sched, const struct control_info *info,
    control_reload_fn *reload, void *userdata, struct control **cp)
{
	struct control *c;
	char *dir, *slash;
	int r, fd = -1;

	*cp = NULL;
	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			log_warn("control: mkdir %s", dir);
	}
	free(dir);
	if ((r = control_listen(path, &fd)) < 0)
		return r;
	control_set_owner(path, group);
	c = xcalloc(1, sizeof(*c));
	c->event = sd_event_ref(event);
	c->fd = fd;
	c->path = xstrdup(path);
	c->sched = sched;
	c->info = *info;
	c->reload = reload;
	c->userdata = userdata;
	LIST_INIT(&c->conns);
	if ((r = sd_event_add_io(event, &c->src, fd, EPOLLIN, control_on_accept,
	    c)) < 0) {
		control_close(c);
		return r;
	}
	*cp = c;
	return 0;
}

void
control_close(struct control *c)
{
	struct control_conn *conn;

	if (c == NULL)
		return;
	while ((conn = LIST_FIRST(&c->conns)) != NULL)
		control_conn_free(conn);
	sd_event_source_disable_unref(c->src);
	close(c->fd);
	unlink(c->path);
	free(c->path);
	sd_event_unref(c->event);
	free(c);
}
