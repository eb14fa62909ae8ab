/*
 * One run of a built-in collector: owns the result while the collector
 * fills it, and completes either at once or later from the loop.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector.h"
#include "timeutil.h"
#include "xmalloc.h"

struct collect_req {
	const struct collector	*collector;
	void			*inst;
	collect_done_fn		*done;
	void			*userdata;
	struct result		 result;
	uint64_t		 started;
	int			 rc;
	int			 finished;
	int			 cancelled;
};

struct collect_req *
collect_req_new(const struct collector *c, void *inst, collect_done_fn *done,
    void *userdata)
{
	struct collect_req *req = xcalloc(1, sizeof(*req));

	req->collector = c;
	req->inst = inst;
	req->done = done;
	req->userdata = userdata;
	result_reset(&req->result);
	return req;
}

struct result *
collect_req_result(struct collect_req *req)
{
	return &req->result;
}

int
collect_req_rc(const struct collect_req *req)
{
	return req->rc;
}

void
collect_req_finish(struct collect_req *req)
{
	if (req->finished || req->cancelled)
		return;
	req->finished = 1;
	req->result.duration_usec = time_now(CLOCK_MONOTONIC) - req->started;
	req->done(req, req->userdata);
}

void
collect_req_start(struct collect_req *req)
{
	int rc;

	req->started = time_now(CLOCK_MONOTONIC);
	req->result.when_usec = time_now(CLOCK_REALTIME);
	req->result.mono_usec = req->started;
	rc = req->collector->collect(req->inst, req);
	if (rc == COLLECT_PENDING)
		return;
	req->rc = rc < 0 ? rc : 0;
	if (rc < 0 && req->result.summary[0] == '\0')
		result_set(&req->result, STATE_UNKNOWN, "collector %s failed: %s",
		    req->collector->name, strerror(-rc));
	collect_req_finish(req);
}

void
collect_req_free(struct collect_req *req)
{
	if (req == NULL)
		return;
	if (!req->finished && req->collector->cancel != NULL)
		req->collector->cancel(req->inst);
	req->cancelled = 1;
	result_reset(&req->result);
	free(req);
}

struct sync_state {
	struct result	*out;
	int		 done;
};

static void
collect_sync_done(struct collect_req *req, void *userdata)
{
	struct sync_state *st = userdata;

	result_move(st->out, &req->result);
	st->done = 1;
}

int
collect_run_sync(const struct collector *c, void *inst, sd_event *event,
    struct result *out)
{
	struct sync_state st = { .out = out };
	struct collect_req *req;
	int rc;

	req = collect_req_new(c, inst, collect_sync_done, &st);
	collect_req_start(req);
	while (!st.done && event != NULL)
		if (sd_event_run(event, UINT64_MAX) < 0)
			break;
	rc = st.done ? req->rc : -ETIMEDOUT;
	collect_req_free(req);
	return rc;
}
