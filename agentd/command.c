/*
 * The command table (see command.h) and the ids handled. A portal command
 * is recorded durably before it runs: at most once, even if agentd is
 * killed between the run and the portal's ack of its result (the result
 * is then in the spool and still delivered).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "backup.h"
#include "collector.h"
#include "command.h"
#include "log.h"
#include "reply.h"
#include "report.h"
#include "resultjson.h"
#include "support.h"
#include "sysfile.h"
#include "xmalloc.h"

/* The ids file: COMMAND_SEEN_MAX ids of up to REPLY_COMMAND_ID_MAX bytes,
 * JSON-escaped (6 bytes for one at worst), with room for the frame. */
#define COMMAND_FILE_MAX	(COMMAND_SEEN_MAX * \
	(6 * REPLY_COMMAND_ID_MAX + 3) + 64)

struct command_run {
	struct command		*command;
	const struct command_entry *entry;
	command_done_fn		*done;
	void			*arg;
	char			*name;		/* run_check */
	struct sched_waiter	*waiter;
	bool			 in_exec, answered;
	LIST_ENTRY(command_run)	 entry_link;
};

struct command {
	struct sched		*sched;
	struct report		*report;
	struct backup		*backup;
	struct support		*support;
	char			*state_dir;
	/* The ids handled, oldest first, in a ring; "earlier": recorded by
	 * an earlier agentd, and not answered since by this one. */
	char			*seen[COMMAND_SEEN_MAX];
	bool			 earlier[COMMAND_SEEN_MAX];
	size_t			 seen_head, nseen;
	bool			 save_failing;
	LIST_HEAD(, command_run) runs;
};

/* A portal command's answer: a command_result report. */
struct command_portal_ctx {
	struct command		*command;
	char			*id, *type;
};

static void command_run_check(struct command_run *, json_t *);
static void command_run_backup(struct command_run *, json_t *);
static void command_open_support(struct command_run *, json_t *);

static const struct command_entry command_table[] = {
	{ .type = "run_check", .exec = command_run_check },
	{ .type = "run_backup", .exec = command_run_backup },
	{ .type = "open_support_session", .exec = command_open_support,
	  .merge = true },
};

static const struct command_entry *
command_find(const char *type)
{
	for (size_t i = 0; i < sizeof(command_table) /
	    sizeof(command_table[0]); i++)
		if (strcmp(command_table[i].type, type) == 0)
			return &command_table[i];
	return NULL;
}

static void
command_run_free(struct command_run *run)
{
	LIST_REMOVE(run, entry_link);
	sched_waiter_cancel(run->waiter);
	free(run->name);
	free(run);
}

void
command_answer(struct command_run *run, const char *status,
    const char *detail, json_t *check)
{
	run->answered = true;
	run->done(status, detail, check, run->arg);
	/* An answer from inside exec is freed by command_run. */
	if (!run->in_exec)
		command_run_free(run);
}

/* ---- the table's handlers ---- */

static void
command_check_done(const struct result *res, int rc, void *userdata)
{
	struct command_run *run = userdata;
	struct sched_check *c;
	char detail[256];

	run->waiter = NULL;
	if (rc < 0 || res == NULL) {
		command_answer(run, "failed", "the run was abandoned (reload or "
		    "shutdown)", NULL);
		return;
	}
	snprintf(detail, sizeof(detail), "%s: %s", run->name,
	    result_state_name(res->state));
	c = sched_find(run->command->sched, run->name);
	command_answer(run, "done", detail, c != NULL ? sched_check_json(c, 1) :
	    resultjson_encode(res, 1));
}

static void
command_run_check(struct command_run *run, json_t *args)
{
	const char *name = json_string_value(json_object_get(args, "name"));
	int e;

	if (name == NULL || *name == '\0') {
		command_answer(run, "failed", "run_check needs args.name",
		    NULL);
		return;
	}
	run->name = xstrdup(name);
	if ((e = sched_run_now(run->command->sched, name, command_check_done,
	    run, &run->waiter)) < 0)
		command_answer(run, e == -ENODEV ? "refused" : "failed",
		    e == -ENOENT ? "no such check" : e == -ENODEV ?
		    "the check is disabled" : "the agent is stopping", NULL);
}

/* Answered once the run is started (its outcome is a backup_result
 * report); the answer's object is {"job","run"}. */
static void
command_run_backup(struct command_run *run, json_t *args)
{
	/* args.job; args.name as docs/protocol.md first had it. */
	const char *job = json_string_value(json_object_get(args, "job"));
	json_t *full;
	char detail[160];
	uint64_t n;
	int e;

	if (run->command->backup == NULL) {
		command_answer(run, "refused", "run_backup: backups are not "
		    "set up in this agentd", NULL);
		return;
	}
	if (job == NULL)
		job = json_string_value(json_object_get(args, "name"));
	if (job == NULL || *job == '\0' || strlen(job) > 64) {
		command_answer(run, "failed", "run_backup needs args.job",
		    NULL);
		return;
	}
	/* args.full (optional): a full snapshot whatever full_every says. */
	full = json_object_get(args, "full");
	if (full != NULL && !json_is_boolean(full)) {
		command_answer(run, "failed", "run_backup: args.full is not a "
		    "boolean", NULL);
		return;
	}
	if ((e = backup_start(run->command->backup, job, json_is_true(full),
	    &n)) < 0) {
		command_answer(run, e == -EBUSY ? "refused" : "failed",
		    e == -EBUSY ? "already running" : "no such backup job",
		    NULL);
		return;
	}
	snprintf(detail, sizeof(detail), "backup %s started (run %llu)", job,
	    (unsigned long long)n);
	/* Two pairs: job, run. */
	command_answer(run, "done", detail, json_pack("{s:s, s:I}", "job", job,
	    "run", (json_int_t)n));
}

/*
 * The portal asks for a support session (docs/protocol.md): args
 * {"requested_by", "minutes", "reason"}. Answered at once: done with
 * {"session", "state", "connect"} (state "waiting" under policy ask), or
 * refused with the reason; the rest is told by support_event reports.
 */
static void
command_open_support(struct command_run *run, json_t *args)
{
	const char *by, *reason;
	json_t *answer = NULL, *m;
	char detail[600];
	json_int_t minutes = 0;
	int e;

	if (run->command->support == NULL) {
		command_answer(run, "refused", "open_support_session: remote "
		    "support is not set up in this agentd", NULL);
		return;
	}
	by = json_string_value(json_object_get(args, "requested_by"));
	reason = json_string_value(json_object_get(args, "reason"));
	m = json_object_get(args, "minutes");
	if (m != NULL && !json_is_null(m)) {
		if (!json_is_integer(m) || json_integer_value(m) < 1 ||
		    json_integer_value(m) > 7 * 24 * 60) {
			command_answer(run, "failed", "open_support_session: "
			    "args.minutes is not an integer from 1 to 10080",
			    NULL);
			return;
		}
		minutes = json_integer_value(m);
	}
	if (by == NULL || *by == '\0') {
		command_answer(run, "failed", "open_support_session needs "
		    "args.requested_by", NULL);
		return;
	}
	if ((e = support_request(run->command->support, "portal", by,
	    reason != NULL ? reason : "", (unsigned)minutes * 60, &answer,
	    detail, sizeof(detail))) < 0) {
		command_answer(run, e == -EINVAL ? "failed" : "refused", detail,
		    NULL);
		return;
	}
	command_answer(run, "done", detail, answer);
}

/* ---- running ---- */

int
command_run(struct command *c, const char *type, json_t *args,
    command_done_fn *done, void *arg, struct command_run **runp)
{
	const struct command_entry *e = command_find(type);
	struct command_run *run;

	*runp = NULL;
	if (e == NULL)
		return -ENOENT;
	run = xcalloc(1, sizeof(*run));
	run->command = c;
	run->entry = e;
	run->done = done;
	run->arg = arg;
	LIST_INSERT_HEAD(&c->runs, run, entry_link);
	run->in_exec = true;
	e->exec(run, args);
	run->in_exec = false;
	if (run->answered)
		command_run_free(run);
	else
		*runp = run;
	return 0;
}

void
command_cancel(struct command_run *run)
{
	if (run != NULL)
		command_run_free(run);
}

/* ---- the ids handled ---- */

/* The slot of id among the ids handled, or -1. */
static int
command_seen(struct command *c, const char *id)
{
	for (size_t i = 0; i < c->nseen; i++)
		if (strcmp(c->seen[i], id) == 0)
			return (int)i;
	return -1;
}

static void
command_remember(struct command *c, const char *id, bool earlier)
{
	size_t slot;

	if (c->nseen < COMMAND_SEEN_MAX)
		slot = c->nseen++;
	else {
		slot = c->seen_head;
		c->seen_head = (c->seen_head + 1) % COMMAND_SEEN_MAX;
		free(c->seen[slot]);
	}
	c->seen[slot] = xstrdup(id);
	c->earlier[slot] = earlier;
}

/* Writes the ids, oldest first, atomically. On failure the ids stay in
 * memory (no double run while agentd lives); logged once per outage. */
static void
command_save(struct command *c)
{
	json_t *ids = json_array(), *o;
	char *text;
	int rc;

	for (size_t i = 0; i < c->nseen; i++)
		json_array_append_new(ids, json_string(c->seen[(c->seen_head +
		    i) % COMMAND_SEEN_MAX]));
	/* Two pairs: version, ids. */
	o = json_pack("{s:i, s:o}", "version", 1, "ids", ids);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (text == NULL)
		fatalx("cannot encode the command ids");
	rc = sysfile_write_atomic(c->state_dir, COMMAND_SEEN_FILE, text, 0600);
	free(text);
	if (rc < 0 && !c->save_failing)
		log_warnx("cannot record the portal's command ids in %s/%s: "
		    "%s; a command may run again after a restart",
		    c->state_dir, COMMAND_SEEN_FILE, strerror(-rc));
	else if (rc == 0 && c->save_failing)
		log_info("command ids recorded again");
	c->save_failing = rc < 0;
}

/* The file is agentd's own, but a disk can lie: anything that is not the
 * expected shape is ignored (logged), never trusted further. */
static void
command_load(struct command *c)
{
	char *buf = NULL, esc[160];
	json_t *o = NULL, *ids, *v;
	json_error_t jerr;
	size_t len, i;
	bool trunc;
	int rc;

	rc = sysfile_read(c->state_dir, COMMAND_SEEN_FILE, COMMAND_FILE_MAX,
	    &buf, &len, &trunc);
	if (rc == -ENOENT)
		return;
	if (rc < 0 || trunc) {
		log_warnx("cannot read %s/%s: %s; earlier command ids "
		    "forgotten", c->state_dir, COMMAND_SEEN_FILE,
		    rc < 0 ? strerror(-rc) : "too large");
		goto out;
	}
	o = json_loadb(buf, len, 0, &jerr);
	/* Two pairs: version, ids; "!": nothing else. */
	if (o == NULL || json_unpack_ex(o, &jerr, JSON_STRICT, "{s:i, s:o}",
	    "version", &rc, "ids", &ids) < 0 || !json_is_array(ids)) {
		log_warnx("%s/%s is malformed (%s); earlier command ids "
		    "forgotten", c->state_dir, COMMAND_SEEN_FILE,
		    log_escape(esc, sizeof(esc), jerr.text));
		goto out;
	}
	json_array_foreach(ids, i, v) {
		const char *id = json_string_value(v);

		if (id != NULL && *id != '\0' &&
		    strlen(id) <= REPLY_COMMAND_ID_MAX &&
		    command_seen(c, id) < 0)
			command_remember(c, id, true);
	}
out:
	json_decref(o);
	free(buf);
}

/* ---- the portal's commands ---- */

static void
command_portal_done(const char *status, const char *detail, json_t *check,
    void *arg)
{
	struct command_portal_ctx *ctx = arg;
	/* Four pairs: command_id, type, status, detail. */
	json_t *p = json_pack("{s:s, s:s, s:s, s:s}", "command_id", ctx->id,
	    "type", ctx->type, "status", status, "detail", detail);
	const struct command_entry *e = command_find(ctx->type);

	if (check != NULL && e != NULL && e->merge) {
		/* Its members beside the four; never over them. */
		json_object_update_missing(p, check);
		json_decref(check);
	} else if (check != NULL)
		json_object_set_new(p, "check", check);
	report_emit(ctx->command->report, "command_result", p,
	    REPORT_IMPORTANT);
	free(ctx->id);
	free(ctx->type);
	free(ctx);
}

/*
 * A command an earlier agentd recorded comes again: its result has not
 * reached the portal. If that agentd spooled one, it is delivered ahead of
 * this answer and the portal keeps the first; if it was killed during the
 * run, this is the only answer. Either way the command does not run twice.
 */
static void
command_interrupted(struct command *c, int slot, const char *type)
{
	struct command_portal_ctx *ctx;
	char esc[160];

	c->earlier[slot] = false;	/* answered once per agentd */
	log_warnx("portal command %s came again after a restart: not run "
	    "twice", log_escape(esc, sizeof(esc), c->seen[slot]));
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->command = c;
	ctx->id = xstrdup(c->seen[slot]);
	ctx->type = xstrdup(type);
	command_portal_done("failed", "interrupted: agentd restarted before "
	    "the result was delivered; not run again", NULL, ctx);
}

void
command_portal(struct command *c, json_t *cmds)
{
	struct command_portal_ctx *ctx;
	struct command_run *run;
	char esc[160], esc2[160];
	const char *id, *type;
	bool added = false, isnew[REPLY_COMMANDS_MAX];
	json_t *cmd;
	size_t i;
	int slot;

	/* Record every new id before anything runs: durable first. There
	 * are at most REPLY_COMMANDS_MAX (childmsg.c). */
	json_array_foreach(cmds, i, cmd) {
		if (i >= REPLY_COMMANDS_MAX)
			break;
		id = json_string_value(json_object_get(cmd, "id"));
		type = json_string_value(json_object_get(cmd, "type"));
		isnew[i] = (slot = command_seen(c, id)) < 0;
		if (isnew[i]) {
			command_remember(c, id, false);
			added = true;
		} else if (c->earlier[slot] && command_find(type) != NULL)
			command_interrupted(c, slot, type);
	}
	if (added)
		command_save(c);
	json_array_foreach(cmds, i, cmd) {
		if (i >= REPLY_COMMANDS_MAX)
			break;
		if (!isnew[i])
			continue;
		id = json_string_value(json_object_get(cmd, "id"));
		type = json_string_value(json_object_get(cmd, "type"));
		log_escape(esc, sizeof(esc), id);
		if (command_find(type) == NULL) {
			log_warnx("portal command %s: unknown type '%s' ignored",
			    esc, log_escape(esc2, sizeof(esc2), type));
			continue;
		}
		log_info("portal command %s: %s", esc,
		    log_escape(esc2, sizeof(esc2), type));
		ctx = xcalloc(1, sizeof(*ctx));
		ctx->command = c;
		ctx->id = xstrdup(id);
		ctx->type = xstrdup(type);
		command_run(c, type, json_object_get(cmd, "args"),
		    command_portal_done, ctx, &run);
	}
}

int
command_new(struct sched *sched, struct report *report,
    const char *state_dir, struct command **cp)
{
	struct command *c = xcalloc(1, sizeof(*c));

	c->sched = sched;
	c->report = report;
	c->state_dir = xstrdup(state_dir);
	LIST_INIT(&c->runs);
	command_load(c);
	*cp = c;
	return 0;
}

void
command_set_backup(struct command *c, struct backup *b)
{
	c->backup = b;
}

void
command_set_support(struct command *c, struct support *s)
{
	c->support = s;
}

void
command_free(struct command *c)
{
	struct command_run *run;

	if (c == NULL)
		return;
	/* A portal command's context is its done argument: freed with an
	 * answer nobody will send (the portal asks again; its id is
	 * recorded, so it is not run again: it stays pending there). */
	while ((run = LIST_FIRST(&c->runs)) != NULL) {
		if (run->done == command_portal_done)
			command_portal_done("failed", "the agent stopped during "
			    "the run", NULL, run->arg);
		command_run_free(run);
	}
	for (size_t i = 0; i < c->nseen; i++)
		free(c->seen[i]);
	free(c->state_dir);
	free(c);
}
