/*
 * Commands: one table of the actions agentd takes on request, shared by
 * the portal's commands (a reply's "commands") and the control socket
 * where they overlap (agentctl check run NAME is run_check). The portal
 * repeats a command until its result arrives, so the ids handled are kept
 * in the state dir: a command is not run twice, even across a restart.
 */
#ifndef COMMAND_H
#define COMMAND_H

#include <stdbool.h>

#include <jansson.h>

#include "sched.h"

/* The ids remembered (the newest; the portal hands out at most 64 per
 * reply and repeats only those still pending). */
#define COMMAND_SEEN_MAX	1024
#define COMMAND_SEEN_FILE	"commands"

struct command;
struct command_run;
struct report;

/* How a command ended: status "done", "refused" (policy or unsupported)
 * or "failed", a one-line detail, and for run_check the check (a new
 * reference, or NULL). */
typedef void command_done_fn(const char *status, const char *detail,
	    json_t *check, void *arg);

struct command_entry {
	const char	*type;
	/* The answer's object goes into the command_result payload itself
	 * (open_support_session: session, state, connect), not under
	 * "check". */
	bool		 merge;
	/* Starts the command; args is borrowed for the call. It answers
	 * through command_answer, at once or later. */
	void		(*exec)(struct command_run *run, json_t *args);
};

/* Loads the ids handled before from state_dir (a missing or unreadable
 * file is an empty list, logged). Results of portal commands are reports
 * (report_emit). 0 or -errno. */
int	command_new(struct sched *sched, struct report *report,
	    const char *state_dir, struct command **cp);
/* The commands of a portal reply (each {"id","type","args"}, validated
 * by childmsg.c): each new id is recorded, then run; its result goes to
 * the portal as a command_result report. Unknown types are logged and
 * ignored (docs/protocol.md). */
void	command_portal(struct command *c, json_t *cmds);
/* Runs type with args for a local client. done is called exactly once,
 * maybe before this returns, unless the run is cancelled first. Returns
 * 0 with *runp set while the command is pending (NULL once answered), or
 * -ENOENT for an unknown type (done not called). */
int	command_run(struct command *c, const char *type, json_t *args,
	    command_done_fn *done, void *arg, struct command_run **runp);
/* Forgets a pending run: done will not be called. */
void	command_cancel(struct command_run *run);
/* For the table's handlers: the answer of run (exactly once). */
void	command_answer(struct command_run *run, const char *status,
	    const char *detail, json_t *check);
/* Where run_backup goes (backup.h); until set, it is refused. */
struct backup;
void	command_set_backup(struct command *c, struct backup *b);
/* Where open_support_session goes (support.h); until set, refused. */
struct support;
void	command_set_support(struct command *c, struct support *s);
/* Cancels what is pending (no answer) and frees. */
void	command_free(struct command *c);

#endif
