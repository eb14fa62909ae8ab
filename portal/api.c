/*
 * Routing and the endpoints: enrolment, reports, unenrolment and the
 * operators' fleet API. Every 4xx names the problem in {"error": ...};
 * nothing a client sends reaches SQL except through bound parameters.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "account.h"
#include "alert.h"
#include "api.h"
#include "audit.h"
#include "fleet.h"
#include "gunzip.h"
#include "http.h"
#include "credential.h"
#include "ingest.h"
#include "log.h"
#include "portal.h"
#include "ratelimit.h"
#include "ledger.h"
#include "metrics.h"
#include "session.h"
#include "web.h"

#define API_PREFIX	"/api/v1/"
#define API_MAX_ID	64
/* A check name, as ingest takes it. */
#define API_MAX_CHECK	256

static double
api_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
api_store_error(struct http_reply *rep, int r)
{
	if (r == -ENOENT)
		http_error(rep, 404, "no such host");
	else
		http_error(rep, 500, "portal store error");
}

/* Takes one token from key's bucket; 0, or fills a 429 reply. */
static int
api_limit(struct api *a, const char *key, struct http_reply *rep)
{
	int wait = ratelimit_take(a->limit, key, api_monotonic());

	if (wait == 0)
		return 0;
	http_error(rep, 429, "rate limited: at most %.0f requests/s "
	    "(bursts of %.0f); retry after %d s", PORTAL_RATE_PER_SEC,
	    PORTAL_RATE_BURST, wait);
	rep->retry_after = wait;
	return -EAGAIN;
}

static void
api_enroll(struct api *a, struct http_request *req, struct http_reply *rep)
{
	struct credential_enrolment e;
	struct credential_support sup = { 0 };
	const char *token, *proof;
	json_t *root = NULL, *host, *bastion;
	char err[512];
	int r;

	if (ingest_parse_enroll_key(req->body != NULL ? req->body : "",
	    req->len, &root, &token, &host, &sup.ssh_key, err,
	    sizeof(err)) != 0) {
		http_error(rep, 400, "%s", err);
		return;
	}
	/* A port only where there is a bastion to forward it on. */
	if (a->bastion_address != NULL && a->bastion_user != NULL) {
		sup.port_low = a->port_low;
		sup.port_high = a->port_high;
	}
	/* A host re-enrolling itself proves it with its current credential. */
	proof = auth_bearer(http_header(req, "Authorization"));
	r = credential_enroll_key(a->store, token, host, proof,
	    a->report_interval, &sup, &e);
	if (r == -ENOSPC) {
		http_error(rep, 503, "bastion: every forward port from %d to "
		    "%d is taken; the provider must widen its range",
		    a->port_low, a->port_high);
		goto out;
	}
	if (r == -ENOTUNIQ) {
		http_error(rep, 409, "ssh_key: agent %s has this key; each "
		    "agent needs a key of its own", e.conflict);
		goto out;
	}
	if (r == -EACCES) {
		http_error(rep, 401, "token: unknown, used, revoked or "
		    "expired");
		goto out;
	}
	if (r == -EEXIST) {
		/* At most 200 bytes: what agentctl shows of an error. */
		http_error(rep, 409, "host.machine_id: enrolled as agent %s; "
		    "send that agent's credential, or use a token from "
		    "'agentd-portal token create --replace %s'",
		    e.conflict, e.conflict);
		goto out;
	}
	if (r != 0) {
		http_error(rep, 500, "portal store error");
		goto out;
	}
	if (a->bastion_address != NULL)
		bastion = json_pack("{s:s, s:s, s:o, s:o}",
		    "address", a->bastion_address,
		    "host_key", a->bastion_host_key,
		    "user", e.forward_port != 0 ?
		    json_string(a->bastion_user) : json_null(),
		    "forward_port", e.forward_port != 0 ?
		    json_integer(e.forward_port) : json_null());
	else
		bastion = json_null();
	rep->status = 201;
	rep->body = json_pack("{s:s, s:s, s:i, s:o}", "agent_id", e.agent_id,
	    "credential", e.credential, "report_interval", a->report_interval,
	    "bastion", bastion);
	memset(&e, 0, sizeof(e));
out:
	json_decref(root);
}

/* The body, inflated when Content-Encoding says gzip. 0, or a reply set. */
static int
api_body(struct http_request *req, struct http_reply *rep, char **owned,
    const char **body, size_t *len)
{
	const char *enc = http_header(req, "Content-Encoding");
	int r;

	*owned = NULL;
	*body = req->body != NULL ? req->body : "";
	*len = req->len;
	if (enc == NULL || strcasecmp(enc, "identity") == 0)
		return 0;
	if (strcasecmp(enc, "gzip") != 0) {
		http_error(rep, 400, "Content-Encoding: %s not supported "
		    "(gzip or identity)", strlen(enc) < 32 ? enc : "value");
		return -EINVAL;
	}
	r = gunzip_bounded(*body, *len, PORTAL_MAX_INFLATED, owned, len);
	if (r == -E2BIG) {
		http_error(rep, 413, "body: more than %d bytes after gzip "
		    "decompression", PORTAL_MAX_INFLATED);
		return r;
	}
	if (r != 0) {
		http_error(rep, 400, "body: corrupt or truncated gzip stream");
		return r;
	}
	*body = *owned;
	return 0;
}

/* 0 when the request carries agent_id's live credential; else a reply. */
static int
api_agent_auth(struct api *a, struct http_request *req, const char *agent_id,
    struct http_reply *rep)
{
	const char *cred = auth_bearer(http_header(req, "Authorization"));
	int r;

	if (cred == NULL) {
		http_error(rep, 401, "Authorization: missing Bearer "
		    "credential");
		return -EACCES;
	}
	r = credential_agent_check(a->store, agent_id, cred);
	if (r == -ENOENT)
		http_error(rep, 404, "no such agent");
	else if (r == -EACCES)
		http_error(rep, 401, "credential refused (wrong or revoked): "
		    "re-enrol");
	else if (r != 0)
		http_error(rep, 500, "portal store error");
	return r;
}

static void
api_reports(struct api *a, struct http_request *req, const char *agent_id,
    struct http_reply *rep)
{
	struct ingest_batch *b = NULL;
	const char *body;
	json_t *commands = NULL;
	char *inflated = NULL, err[512];
	long long ack;
	size_t len;
	int r;

	if (api_agent_auth(a, req, agent_id, rep) != 0 ||
	    api_limit(a, agent_id, rep) != 0 ||
	    api_body(req, rep, &inflated, &body, &len) != 0)
		goto out;
	b = calloc(1, sizeof(*b));
	if (b == NULL) {
		http_error(rep, 500, "out of memory");
		goto out;
	}
	r = ingest_parse_reports(body, len, b, err, sizeof(err));
	if (r != 0) {
		http_error(rep, r == -E2BIG ? 413 : 400, "%s", err);
		goto out;
	}
	r = ledger_store(a->store, agent_id, b, &ack, &commands);
	if (r == -EEXIST) {
		/* The agent renumbers after ack and sends again. */
		http_error(rep, 409, "sequence conflict: a seq in this batch is "
		    "already stored with other content (spool lost or "
		    "restored?); renumber after ack");
		json_object_set_new(rep->body, "ack", json_integer(ack));
		goto out;
	}
	if (r != 0) {
		http_error(rep, 500, "portal store error");
		goto out;
	}
	rep->status = 200;
	rep->body = json_pack("{s:I, s:o}", "ack", (json_int_t)ack,
	    "commands", commands);
out:
	if (b != NULL)
		ingest_batch_clear(b);
	free(b);
	free(inflated);
}

static void
api_unenroll(struct api *a, struct http_request *req, const char *agent_id,
    struct http_reply *rep)
{
	int r;

	if (api_agent_auth(a, req, agent_id, rep) != 0 ||
	    api_limit(a, agent_id, rep) != 0)
		return;
	r = credential_unenroll(a->store, agent_id);
	if (r == 0)
		rep->status = 204;
	else
		api_store_error(rep, r);
}

/* Who sends an operator request, as api_authorize found out. */
struct api_principal {
	char	actor[ACCOUNT_MAX_NAME + 300];	/* "user:N", "operator:N" */
	char	name[256];
	int	role;
	int	cookie;		/* a login session: CSRF and Origin apply */
	char	cookie_token[AUTH_TOKEN_LEN + 8];
	struct account_session session;
	char	source[64];	/* the client's address */
};

static void
api_command_create(struct api *a, struct http_request *req,
    const char *host_id, const struct api_principal *p,
    struct http_reply *rep)
{
	const char *type, *operator_name = p->name;
	json_t *root = NULL, *args, *id = NULL;
	char err[512], detail[128];
	int r;

	if (ingest_parse_command(req->body != NULL ? req->body : "", req->len,
	    &root, &type, &args, err, sizeof(err)) != 0) {
		http_error(rep, 400, "%s", err);
		return;
	}
	r = fleet_command_create(a->store, host_id, type, args, operator_name,
	    &id);
	if (r == -ENOENT)
		http_error(rep, 404, "no such enrolled host");
	else if (r != 0)
		api_store_error(rep, r);
	else {
		log_info("operator %s queued %s %s for host %s",
		    p->actor, json_string_value(id), type, host_id);
		snprintf(detail, sizeof(detail), "%s %s",
		    json_string_value(id), type);
		audit_log(a->store, p->actor, p->source, "command.create",
		    host_id, detail);
		rep->status = 201;
		rep->body = json_pack("{s:o}", "id", id);
	}
	json_decref(root);
}

/* An optional integer query parameter from min to max: 0 (*out left
 * alone when absent), or -EINVAL with a 400 reply. */
static int
api_query_int(struct http_request *req, const char *name, long long min,
    long long max, long long *out, struct http_reply *rep)
{
	const char *v = http_query(req, name);
	long long n;
	char *end;

	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < min || n > max) {
		http_error(rep, 400, "%s: expected an integer from %lld to "
		    "%lld", name, min, max);
		return -EINVAL;
	}
	*out = n;
	return 0;
}

/* GET /api/v1/hosts/{id}/metrics?from=T&to=T&step=S (epoch seconds;
 * to defaults to now, from to a day before to). */
static void
api_metrics(struct api *a, struct http_request *req, const char *id,
    struct http_reply *rep)
{
	long long now = (long long)time(NULL), from = -1, to = now, step = 0;
	json_t *out = NULL;
	int r;

	if (api_query_int(req, "to", 1, PORTAL_MAX_SEQ, &to, rep) != 0 ||
	    api_query_int(req, "from", 0, PORTAL_MAX_SEQ, &from, rep) != 0 ||
	    api_query_int(req, "step", 1, METRICS_MAX_RANGE, &step,
	    rep) != 0)
		return;
	if (from < 0)
		from = to > 86400 ? to - 86400 : 0;
	if (from >= to || to - from > METRICS_MAX_RANGE) {
		http_error(rep, 400, "from, to: expected from below to, at "
		    "most %lld days apart", METRICS_MAX_RANGE / 86400);
		return;
	}
	if ((r = metrics_host(a->store, id, from, to, step, &out)) != 0) {
		api_store_error(rep, r);
		return;
	}
	rep->status = 200;
	rep->body = out;
}

/* GET /api/v1/hosts?limit=N&offset=N&sort=hostname|status|last_seen&q=TEXT */
static void
api_hosts(struct api *a, struct http_request *req, struct http_reply *rep)
{
	struct fleet_host_query q = { 0 };
	long long limit = 0, offset = 0;
	json_t *out = NULL;
	int r;

	if (api_query_int(req, "limit", 1, FLEET_MAX_HOSTS_PAGE, &limit,
	    rep) != 0 ||
	    api_query_int(req, "offset", 0, 1000000, &offset, rep) != 0)
		return;
	q.limit = (int)limit;
	q.offset = (int)offset;
	q.sort = http_query(req, "sort");
	if (q.sort != NULL && strcmp(q.sort, "hostname") != 0 &&
	    strcmp(q.sort, "status") != 0 && strcmp(q.sort, "last_seen") != 0) {
		http_error(rep, 400, "sort: expected hostname, status or "
		    "last_seen");
		return;
	}
	q.q = http_query(req, "q");
	if (q.q != NULL && (q.q[0] == '\0' || strlen(q.q) > 256)) {
		http_error(rep, 400, "q: expected 1 to 256 bytes");
		return;
	}
	q.state = http_query(req, "state");
	if (q.state != NULL && !fleet_status_valid(q.state)) {
		http_error(rep, 400, "state: expected unreachable, critical, "
		    "unknown, warning, ok or unenrolled");
		return;
	}
	if ((r = fleet_hosts_query(a->store, &q, &out)) != 0) {
		api_store_error(rep, r);
		return;
	}
	rep->status = 200;
	rep->body = out;
}

/* GET /api/v1/alerts?state=open|closed&host=ID&check=NAME&limit=N&before=ID
 * (open=1, the older form of state=open, is still read). */
static void
api_alerts(struct api *a, struct http_request *req, struct http_reply *rep)
{
	struct fleet_alert_query q = { 0 };
	const char *state = http_query(req, "state"), *open;
	long long limit = 0, before = 0;
	json_t *out = NULL;
	int r;

	if (api_query_int(req, "limit", 1, FLEET_MAX_ALERTS, &limit,
	    rep) != 0 ||
	    api_query_int(req, "before", 1, PORTAL_MAX_SEQ, &before, rep) != 0)
		return;
	open = http_query(req, "open");
	q.open_only = open != NULL && strcmp(open, "1") == 0;
	if (state != NULL && strcmp(state, "open") == 0)
		q.open_only = 1;
	else if (state != NULL && strcmp(state, "closed") == 0)
		q.closed_only = 1;
	else if (state != NULL) {
		http_error(rep, 400, "state: expected open or closed");
		return;
	}
	q.host = http_query(req, "host");
	q.check = http_query(req, "check");
	if ((q.host != NULL && (q.host[0] == '\0' ||
	    strlen(q.host) > API_MAX_ID)) || (q.check != NULL &&
	    (q.check[0] == '\0' || strlen(q.check) > API_MAX_CHECK))) {
		http_error(rep, 400, "host, check: expected 1 to %d and 1 to "
		    "%d bytes", API_MAX_ID, API_MAX_CHECK);
		return;
	}
	q.limit = (int)limit;
	q.before = before;
	if ((r = fleet_alerts_query(a->store, &q, &out)) != 0) {
		api_store_error(rep, r);
		return;
	}
	rep->status = 200;
	rep->body = out;
}

/*
 * GET /api/v1/alerts/{id} and POST /api/v1/alerts/{id}/ack {"comment"},
 * acknowledged by p's actor ("user:NAME" or "operator:NAME"), audited.
 */
static void
api_alert(struct api *a, struct http_request *req, const char *rest,
    const struct api_principal *p, struct http_reply *rep)
{
	const char *slash = strchr(rest, '/'), *comment;
	json_t *root = NULL, *out = NULL;
	char num[24], *end, err[512];
	long long id;
	size_t n = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	int r;

	if (n == 0 || n >= sizeof(num) || (slash != NULL &&
	    strcmp(slash, "/ack") != 0)) {
		http_error(rep, 404, "no such endpoint");
		return;
	}
	memcpy(num, rest, n);
	num[n] = '\0';
	errno = 0;
	id = strtoll(num, &end, 10);
	if (num[0] < '1' || num[0] > '9' || *end != '\0' || errno != 0 ||
	    id > PORTAL_MAX_SEQ) {
		http_error(rep, 404, "no such alert");
		return;
	}
	if (slash == NULL) {
		if (strcmp(req->method, "GET") != 0) {
			rep->allow = "GET";
			http_error(rep, 405, "method %s not allowed",
			    req->method);
			return;
		}
		if ((r = fleet_alert(a->store, id, &out)) == -ENOENT)
			http_error(rep, 404, "no such alert");
		else if (r != 0)
			api_store_error(rep, r);
		else {
			rep->status = 200;
			rep->body = out;
		}
		return;
	}
	if (strcmp(req->method, "POST") != 0) {
		rep->allow = "POST";
		http_error(rep, 405, "method %s not allowed", req->method);
		return;
	}
	if (ingest_parse_ack(req->body != NULL ? req->body : "", req->len,
	    &root, &comment, err, sizeof(err)) != 0) {
		http_error(rep, 400, "%s", err);
		return;
	}
	r = alert_ack(a->store, id, p->actor, comment, store_now());
	if (r == -ENOENT)
		http_error(rep, 404, "no such alert");
	else if (r == -ESTALE)
		http_error(rep, 409, "alert %lld is closed", id);
	else if (r == -EALREADY)
		http_error(rep, 409, "alert %lld is already acknowledged", id);
	else if (r != 0)
		api_store_error(rep, r);
	else if ((r = fleet_alert(a->store, id, &out)) != 0)
		api_store_error(rep, r);
	else {
		snprintf(num, sizeof(num), "%lld", id);
		(void)audit_log(a->store, p->actor, p->source, "alert.ack",
		    num, comment);
		log_info("%s acknowledged alert %lld", p->actor, id);
		rep->status = 200;
		rep->body = out;
	}
	json_decref(root);
}

static void
api_fleet(struct api *a, struct http_request *req, const char *rest,
    const struct api_principal *p, struct http_reply *rep)
{
	char id[API_MAX_ID + 1];
	const char *slash;
	json_t *out = NULL;
	size_t n;
	int r, get = strcmp(req->method, "GET") == 0;

	if (strcmp(rest, "alerts") == 0) {
		if (!get)
			goto not_allowed;
		api_alerts(a, req, rep);
		return;
	} else if (strncmp(rest, "alerts/", 7) == 0) {
		api_alert(a, req, rest + 7, p, rep);
		return;
	} else if (strcmp(rest, "hosts") == 0) {
		if (!get)
			goto not_allowed;
		api_hosts(a, req, rep);
		return;
	} else {
		rest += strlen("hosts/");
		slash = strchr(rest, '/');
		n = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
		if (n == 0 || n > API_MAX_ID) {
			http_error(rep, 404, "no such host");
			return;
		}
		memcpy(id, rest, n);
		id[n] = '\0';
		if (slash == NULL) {
			if (!get)
				goto not_allowed;
			r = fleet_host(a->store, id, &out);
		} else if (strcmp(slash, "/commands") == 0) {
			if (strcmp(req->method, "POST") == 0) {
				api_command_create(a, req, id, p, rep);
				return;
			}
			if (!get) {
				rep->allow = "GET, POST";
				http_error(rep, 405, "method %s not allowed",
				    req->method);
				return;
			}
			r = fleet_commands(a->store, id, &out);
		} else if (strcmp(slash, "/metrics") == 0) {
			if (!get)
				goto not_allowed;
			api_metrics(a, req, id, rep);
			return;
		} else if (strcmp(slash, "/sessions") == 0) {
			if (!get)
				goto not_allowed;
			r = session_list(a->store, id, &out);
		} else {
			http_error(rep, 404, "no such endpoint");
			return;
		}
	}
	if (r != 0) {
		api_store_error(rep, r);
		return;
	}
	rep->status = 200;
	rep->body = out;
	return;
not_allowed:
	rep->allow = "GET";
	http_error(rep, 405, "method %s not allowed", req->method);
}

/* /api/v1/agents/{id}/reports or /api/v1/agents/{id} */
static void
api_agents(struct api *a, struct http_request *req, const char *rest,
    struct http_reply *rep)
{
	char id[API_MAX_ID + 1];
	const char *slash = strchr(rest, '/');
	size_t n = slash != NULL ? (size_t)(slash - rest) : strlen(rest);

	if (n == 0 || n > API_MAX_ID) {
		http_error(rep, 404, "no such agent");
		return;
	}
	memcpy(id, rest, n);
	id[n] = '\0';
	if (slash == NULL) {
		if (strcmp(req->method, "DELETE") == 0)
			api_unenroll(a, req, id, rep);
		else {
			rep->allow = "DELETE";
			http_error(rep, 405, "method %s not allowed",
			    req->method);
		}
	} else if (strcmp(slash, "/reports") == 0) {
		if (strcmp(req->method, "POST") == 0)
			api_reports(a, req, id, rep);
		else {
			rep->allow = "POST";
			http_error(rep, 405, "method %s not allowed",
			    req->method);
		}
	} else
		http_error(rep, 404, "no such endpoint");
}

/* ---- Operators: the route table, authentication, roles and CSRF ---- */


/*
 * Every operator route and the least role it needs, in one table that
 * the preflight and the handler both read: a role is never checked in a
 * handler. A "*" in a path is one segment of 1 to API_MAX_ID bytes. A
 * bearer operator token counts as ROLE_ADMIN. allow is the same for
 * every row of a path (the 405's Allow header).
 */
static const struct api_route {
	const char	*method;
	const char	*path;
	int		 role;
	const char	*allow;
} api_routes[] = {
	{ "GET", "hosts", ROLE_VIEWER, "GET" },
	{ "GET", "alerts", ROLE_VIEWER, "GET" },
	{ "GET", "alerts/*", ROLE_VIEWER, "GET" },
	{ "POST", "alerts/*/ack", ROLE_ENGINEER, "POST" },
	{ "GET", "hosts/*", ROLE_VIEWER, "GET, DELETE" },
	{ "DELETE", "hosts/*", ROLE_ADMIN, "GET, DELETE" },
	{ "GET", "hosts/*/commands", ROLE_VIEWER, "GET, POST" },
	{ "POST", "hosts/*/commands", ROLE_ENGINEER, "GET, POST" },
	{ "GET", "hosts/*/sessions", ROLE_VIEWER, "GET" },
	{ "GET", "hosts/*/metrics", ROLE_VIEWER, "GET" },
	{ "GET", "session", ROLE_VIEWER, "GET" },
	{ "POST", "logout", ROLE_VIEWER, "POST" },
	{ "GET", "audit", ROLE_ADMIN, "GET" },
	{ "GET", "users", ROLE_ADMIN, "GET, POST" },
	{ "POST", "users", ROLE_ADMIN, "GET, POST" },
	{ "DELETE", "users/*", ROLE_ADMIN, "DELETE" },
	{ "GET", "tokens", ROLE_ADMIN, "GET, POST" },
	{ "POST", "tokens", ROLE_ADMIN, "GET, POST" },
	{ "DELETE", "tokens/*", ROLE_ADMIN, "DELETE" },
};

/* 1 when path matches pattern segment by segment. */
static int
api_path_match(const char *pattern, const char *path)
{
	size_t n;

	while (*pattern != '\0') {
		if (*pattern == '*') {
			n = strcspn(path, "/");
			if (n == 0 || n > API_MAX_ID)
				return 0;
			path += n;
			pattern++;
		} else if (*pattern++ != *path++)
			return 0;
	}
	return *path == '\0';
}

int
api_route_role(const char *method, const char *path, const char **allow)
{
	size_t i;
	int known = 0;

	for (i = 0; i < sizeof(api_routes) / sizeof(api_routes[0]); i++) {
		if (!api_path_match(api_routes[i].path, path))
			continue;
		if (strcmp(api_routes[i].method, method) == 0)
			return api_routes[i].role;
		known = 1;
		if (allow != NULL)
			*allow = api_routes[i].allow;
	}
	return known ? -1 : 0;
}

/*
 * A browser tells where a request comes from: Sec-Fetch-Site (the fetch
 * metadata) and Origin. Either, when present, must name this portal;
 * a request without them (curl, an old browser) is left to the CSRF
 * token. 1, or 0 with a 403 in rep.
 */
static int
api_same_origin(struct http_request *req, struct http_reply *rep)
{
	const char *site = http_header(req, "Sec-Fetch-Site");
	const char *origin = http_header(req, "Origin");
	const char *host = http_header(req, "Host");

	if (site != NULL && strcmp(site, "same-origin") != 0 &&
	    strcmp(site, "none") != 0) {
		http_error(rep, 403, "Sec-Fetch-Site: %s request refused "
		    "(only same-origin)", strlen(site) < 32 ? site : "cross");
		return 0;
	}
	if (origin != NULL && (host == NULL ||
	    strncmp(origin, "https://", 8) != 0 ||
	    strcmp(origin + 8, host) != 0)) {
		http_error(rep, 403, "Origin: a cross-site request is "
		    "refused");
		return 0;
	}
	return 1;
}

/*
 * Who sends req, and whether they may do it: a bearer operator token
 * (scripts; admin rights, no CSRF token), else the login session of the
 * cookie, whose state-changing requests must come from this portal's own
 * pages and carry the session's X-CSRF-Token. 0 with *p, or a reply.
 */
static int
api_authorize(struct api *a, struct http_request *req, int role,
    struct api_principal *p, struct http_reply *rep)
{
	const char *tok = auth_bearer(http_header(req, "Authorization"));
	const char *cookie = http_cookie(req, ACCOUNT_COOKIE), *m;
	int r;

	memset(p, 0, sizeof(*p));
	http_client_address(req, p->source, sizeof(p->source));
	if (tok != NULL) {
		if (credential_operator_check(a->store, tok, p->name,
		    sizeof(p->name)) != 0) {
			http_error(rep, 401, "operator token refused");
			return -EACCES;
		}
		p->role = ROLE_ADMIN;
		snprintf(p->actor, sizeof(p->actor), "operator:%s", p->name);
	} else if (cookie != NULL) {
		r = account_session_check(a->store, cookie, store_now(),
		    a->session_idle, &p->session);
		if (r == -EACCES) {
			http_error(rep, 401, "session expired or unknown: "
			    "log in again");
			return r;
		}
		if (r != 0) {
			http_error(rep, 500, "portal store error");
			return r;
		}
		p->role = p->session.role;
		p->cookie = 1;
		snprintf(p->cookie_token, sizeof(p->cookie_token), "%s",
		    cookie);
		snprintf(p->name, sizeof(p->name), "%s", p->session.user);
		snprintf(p->actor, sizeof(p->actor), "user:%s", p->name);
	} else {
		http_error(rep, 401, "log in (POST %slogin) or send "
		    "Authorization: Bearer with an operator token",
		    API_PREFIX);
		return -EACCES;
	}
	if (p->role < role) {
		http_error(rep, 403, "role %s may not do this (needs %s)",
		    account_role_name(p->role), account_role_name(role));
		return -EPERM;
	}
	m = req->method;
	if (p->cookie && strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
		if (!api_same_origin(req, rep))
			return -EPERM;
		if (!account_csrf_ok(p->session.csrf,
		    http_header(req, "X-CSRF-Token"))) {
			http_error(rep, 403, "X-CSRF-Token: missing or wrong "
			    "(GET %ssession has it)", API_PREFIX);
			return -EPERM;
		}
	}
	return 0;
}

/* Logs a login event with its journal fields (name and address). */
static void
api_login_event(int priority, const char *msgid, const char *name,
    const char *source, const char *what)
{
	char esc[ACCOUNT_MAX_NAME * 4 + 1], f_user[sizeof(esc) + 8];
	char f_src[80];
	const char *fields[2];

	log_escape(esc, sizeof(esc), name);
	snprintf(f_user, sizeof(f_user), "USER=%s", esc);
	snprintf(f_src, sizeof(f_src), "SOURCE=%s", source);
	fields[0] = f_user;
	fields[1] = f_src;
	log_event(priority, msgid, fields, 2, "login %s: %s from %s", what,
	    esc, source);
}

/* POST /api/v1/login {name, password}: a session cookie and its CSRF
 * token, or 401, 429 while the address or name is limited. */
static void
api_login(struct api *a, struct http_request *req, struct http_reply *rep)
{
	struct account_session ss;
	const char *name, *password;
	json_t *root = NULL;
	char source[64], akey[96], nkey[96], token[AUTH_TOKEN_LEN], err[512];
	double now = api_monotonic();
	int role, wait, r;

	http_client_address(req, source, sizeof(source));
	if (!api_same_origin(req, rep))
		return;
	if (ingest_parse_login(req->body != NULL ? req->body : "", req->len,
	    ACCOUNT_MAX_NAME, ACCOUNT_MAX_PASSWORD, &root, &name, &password,
	    err, sizeof(err)) != 0) {
		http_error(rep, 400, "%s", err);
		return;
	}
	snprintf(akey, sizeof(akey), "addr:%s", source);
	snprintf(nkey, sizeof(nkey), "name:%s", name);
	/* Checked before the password: a right one is refused too. */
	wait = loginlimit_check(a->login_by_addr, akey, now);
	r = loginlimit_check(a->login_by_name, nkey, now);
	if (r > wait)
		wait = r;
	if (wait > 0) {
		/* Debug only: the failures that led here were logged, and a
		 * flood of refusals must not flood the journal. */
		log_debug("login refused for %d s (too many failures) from %s",
		    wait, source);
		http_error(rep, 429, "too many failed logins from this address "
		    "or for this name; retry after %d s", wait);
		rep->retry_after = wait;
		goto out;
	}
	r = account_login(a->store, name, password, &role);
	if (r == -EBUSY) {
		http_error(rep, 503, "too many logins in progress; retry "
		    "later");
		rep->retry_after = 1;
		goto out;
	}
	if (r == -EACCES) {
		loginlimit_fail(a->login_by_addr, akey, api_monotonic());
		loginlimit_fail(a->login_by_name, nkey, api_monotonic());
		api_login_event(LOG_WARNING, MSGID_PORTAL_LOGIN_FAILED, name,
		    source, "failed");
		audit_log(a->store, "anonymous", source, "login.failed", name,
		    NULL);
		http_error(rep, 401, "name or password wrong (or the account "
		    "is disabled)");
		goto out;
	}
	if (r != 0 || account_session_create(a->store, name, store_now(),
	    a->session_ttl, token, sizeof(token), &ss) != 0) {
		http_error(rep, 500, "portal store error");
		goto out;
	}
	loginlimit_clear(a->login_by_name, nkey);
	snprintf(rep->set_cookie, sizeof(rep->set_cookie), "%s=%s; HttpOnly; "
	    "Secure; SameSite=Strict; Path=/", ACCOUNT_COOKIE, token);
	api_login_event(LOG_INFO, MSGID_PORTAL_LOGIN, name, source, "ok");
	audit_log(a->store, "anonymous", source, "login", name,
	    account_role_name(role));
	rep->status = 200;
	rep->body = json_pack("{s:s, s:s, s:s, s:f}", "user", name, "role",
	    account_role_name(role), "csrf", ss.csrf, "expires", ss.expires);
	explicit_bzero(token, sizeof(token));
out:
	json_decref(root);
}

/* POST /api/v1/logout: ends the cookie's session. */
static void
api_logout(struct api *a, const struct api_principal *p,
    struct http_reply *rep)
{
	if (!p->cookie) {
		http_error(rep, 400, "logout ends a login session; an operator "
		    "token is revoked with 'agentd-portal operator revoke'");
		return;
	}
	if (account_session_delete(a->store, p->cookie_token) == -EIO) {
		http_error(rep, 500, "portal store error");
		return;
	}
	audit_log(a->store, p->actor, p->source, "logout", p->name, NULL);
	snprintf(rep->set_cookie, sizeof(rep->set_cookie), "%s=; HttpOnly; "
	    "Secure; SameSite=Strict; Path=/; Max-Age=0", ACCOUNT_COOKIE);
	rep->status = 204;
}

/* GET /api/v1/session: who is asking, and the CSRF token of a session. */
static void
api_session(struct api *a, const struct api_principal *p,
    struct http_reply *rep)
{
	if (!p->cookie) {
		rep->body = json_pack("{s:s, s:s, s:s}", "user", p->name,
		    "role", account_role_name(p->role), "kind", "operator");
	} else {
		rep->body = json_pack("{s:s, s:s, s:s, s:s, s:f, s:f}",
		    "user", p->name, "role", account_role_name(p->role),
		    "kind", "session", "csrf", p->session.csrf, "expires",
		    p->session.expires, "idle_expires",
		    p->session.last_seen + a->session_idle);
	}
	rep->status = 200;
}

/* GET, POST /api/v1/tokens and DELETE /api/v1/tokens/{id}. */
static void
api_tokens(struct api *a, struct http_request *req, const char *rest,
    const struct api_principal *p, struct http_reply *rep)
{
	char token[AUTH_TOKEN_LEN], err[512];
	const char *replace;
	json_t *root = NULL, *out = NULL;
	double ttl;
	int r;

	if (strcmp(req->method, "GET") == 0) {
		if (credential_token_list(a->store, &out) != 0) {
			http_error(rep, 500, "portal store error");
			return;
		}
		rep->status = 200;
		rep->body = out;
	} else if (strcmp(req->method, "POST") == 0) {
		if (ingest_parse_token_request(req->body != NULL ? req->body :
		    "", req->len, CREDENTIAL_TOKEN_MAX_TTL, &root, &ttl,
		    &replace, err, sizeof(err)) != 0) {
			http_error(rep, 400, "%s", err);
			return;
		}
		if (ttl == 0)
			ttl = 86400;
		r = credential_token_create(a->store, ttl, replace, token,
		    sizeof(token));
		if (r != 0)
			api_store_error(rep, r);
		else {
			audit_log(a->store, p->actor, p->source,
			    "token.create", replace, NULL);
			rep->status = 201;
			rep->body = json_pack("{s:s, s:f}", "token", token,
			    "expires", store_now() + ttl);
		}
		explicit_bzero(token, sizeof(token));
		json_decref(root);
	} else {
		rest += strlen("tokens/");
		r = credential_token_revoke(a->store, rest);
		if (r == -ENOENT)
			http_error(rep, 404, "no such token (or revoked)");
		else if (r != 0)
			http_error(rep, 500, "portal store error");
		else {
			audit_log(a->store, p->actor, p->source,
			    "token.revoke", rest, NULL);
			rep->status = 204;
		}
	}
}

/* GET, POST /api/v1/users and DELETE /api/v1/users/{name} (disables). */
static void
api_users(struct api *a, struct http_request *req, const char *rest,
    const struct api_principal *p, struct http_reply *rep)
{
	const char *name, *role, *password;
	json_t *root = NULL, *out = NULL;
	char err[512];
	int r, rl;

	if (strcmp(req->method, "GET") == 0) {
		if (account_user_list(a->store, &out) != 0) {
			http_error(rep, 500, "portal store error");
			return;
		}
		rep->status = 200;
		rep->body = out;
		return;
	}
	if (strcmp(req->method, "DELETE") == 0) {
		name = rest + strlen("users/");
		r = account_user_disable(a->store, name);
		if (r == -ENOENT)
			http_error(rep, 404, "no such user (or disabled)");
		else if (r != 0)
			http_error(rep, 500, "portal store error");
		else {
			audit_log(a->store, p->actor, p->source,
			    "user.disable", name, NULL);
			rep->status = 204;
		}
		return;
	}
	if (ingest_parse_user(req->body != NULL ? req->body : "", req->len,
	    ACCOUNT_MAX_NAME, ACCOUNT_MAX_PASSWORD, &root, &name, &role,
	    &password, err, sizeof(err)) != 0) {
		http_error(rep, 400, "%s", err);
		return;
	}
	rl = account_role_parse(role);
	if (rl == ROLE_NONE)
		http_error(rep, 400, "role: expected viewer, engineer or admin");
	else if (!account_name_ok(name))
		http_error(rep, 400, "name: 1 to %d letters, digits and ._@-",
		    ACCOUNT_MAX_NAME);
	else if (strlen(password) < ACCOUNT_MIN_PASSWORD)
		http_error(rep, 400, "password: at least %d characters",
		    ACCOUNT_MIN_PASSWORD);
	else if ((r = account_user_create(a->store, name, rl,
	    password)) == -EEXIST)
		http_error(rep, 409, "user %s exists", name);
	else if (r == -EBUSY) {
		http_error(rep, 503, "password hashing busy; retry later");
		rep->retry_after = 1;
	} else if (r != 0)
		http_error(rep, 500, "portal store error");
	else {
		audit_log(a->store, p->actor, p->source, "user.create", name,
		    role);
		rep->status = 201;
		rep->body = json_pack("{s:s, s:s}", "name", name, "role",
		    role);
	}
	json_decref(root);
}

/* DELETE /api/v1/hosts/{id}: revokes the agent (as agent revoke). */
static void
api_agent_revoke(struct api *a, const char *rest,
    const struct api_principal *p, struct http_reply *rep)
{
	const char *id = rest + strlen("hosts/");
	int r = credential_unenroll(a->store, id);

	if (r == -ENOENT)
		http_error(rep, 404, "no such agent (or already revoked)");
	else if (r != 0)
		http_error(rep, 500, "portal store error");
	else {
		audit_log(a->store, p->actor, p->source, "agent.revoke", id,
		    NULL);
		log_info("%s revoked agent %s", p->actor, id);
		rep->status = 204;
	}
}

/* The operator routes, once api_authorize has let req through. */
static void
api_operator(struct api *a, struct http_request *req, const char *rest,
    const struct api_principal *p, struct http_reply *rep)
{
	long long limit = 0, before = 0;
	json_t *out = NULL;

	if (strcmp(rest, "session") == 0)
		api_session(a, p, rep);
	else if (strcmp(rest, "logout") == 0)
		api_logout(a, p, rep);
	else if (strcmp(rest, "audit") == 0) {
		if (api_query_int(req, "limit", 1, AUDIT_MAX_PAGE, &limit,
		    rep) != 0 ||
		    api_query_int(req, "before", 1, PORTAL_MAX_SEQ, &before,
		    rep) != 0)
			return;
		if (audit_list(a->store, before, (int)limit, &out) != 0) {
			http_error(rep, 500, "portal store error");
			return;
		}
		rep->status = 200;
		rep->body = out;
	} else if (strncmp(rest, "users", 5) == 0)
		api_users(a, req, rest, p, rep);
	else if (strncmp(rest, "tokens", 6) == 0)
		api_tokens(a, req, rest, p, rep);
	else if (strcmp(req->method, "DELETE") == 0)
		api_agent_revoke(a, rest, p, rep);
	else
		api_fleet(a, req, rest, p, rep);
}

/* 0 with the bastion credential's name when the request carries a live
 * one; else a reply. */
static int
api_bastion_auth(struct api *a, struct http_request *req, char *name,
    size_t len, struct http_reply *rep)
{
	const char *tok = auth_bearer(http_header(req, "Authorization"));

	if (tok == NULL) {
		http_error(rep, 401, "Authorization: missing Bearer bastion "
		    "credential");
		return -EACCES;
	}
	if (credential_bastion_check(a->store, tok, name, len) != 0) {
		http_error(rep, 401, "bastion credential refused (only a "
		    "bastion credential is good here)");
		return -EACCES;
	}
	return 0;
}

/*
 * GET /api/v1/bastion/keys[?key=BASE64]: the AuthorizedKeysCommand lines
 * (docs/bastion.md). A '+' of the base64 arrives as ' ' when the client
 * did not escape it (query strings treat '+' as a space); base64 has no
 * space, so it is put back.
 */
static void
api_bastion_keys(struct api *a, struct http_request *req,
    struct http_reply *rep)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
	    "opqrstuvwxyz0123456789+/";
	const char *q = http_query(req, "key");
	char blob[INGEST_SSH_KEY_B64 + 1], name[256], key[300], *text;
	size_t i, len;
	int r;

	if (api_bastion_auth(a, req, name, sizeof(name), rep) != 0)
		return;
	/* Each bastion has its own bucket, as each operator has. */
	snprintf(key, sizeof(key), "bastion:%s", name);
	if (api_limit(a, key, rep) != 0)
		return;
	if (q != NULL) {
		if (strlen(q) != INGEST_SSH_KEY_B64) {
			http_error(rep, 400, "key: expected the %d base64 "
			    "characters of an ssh-ed25519 key",
			    INGEST_SSH_KEY_B64);
			return;
		}
		for (i = 0; i < INGEST_SSH_KEY_B64; i++)
			blob[i] = q[i] == ' ' ? '+' : q[i];
		blob[i] = '\0';
		if (strspn(blob, b64) != INGEST_SSH_KEY_B64) {
			http_error(rep, 400, "key: expected the %d base64 "
			    "characters of an ssh-ed25519 key",
			    INGEST_SSH_KEY_B64);
			return;
		}
	}
	r = credential_bastion_keys(a->store, q != NULL ? blob : NULL, &text,
	    &len);
	if (r != 0) {
		http_error(rep, 500, "portal store error");
		return;
	}
	rep->status = 200;
	rep->text = text;
	rep->text_len = len;
}

/*
 * http.c leaves an escaped NUL or control character escaped; no endpoint
 * or id has a '%', a control character or a DEL in it. 0 (and a 400 in
 * rep) if the URL has one.
 */
static int
api_url_ok(const struct http_request *req, struct http_reply *rep)
{
	const char *p;

	for (p = req->url; *p != '\0'; p++)
		if (*p == '%' || (unsigned char)*p < 0x20 || *p == 0x7f) {
			http_error(rep, 400, "URL: escaped NUL or control "
			    "characters, and '%%', are not allowed");
			return 0;
		}
	return 1;
}

void
api_handle(void *arg, struct http_request *req, struct http_reply *rep)
{
	struct api_principal p;
	struct api *a = arg;
	const char *rest;
	int role;

	if (strncmp(req->url, API_PREFIX, strlen(API_PREFIX)) != 0) {
		if (web_find(req->url) != NULL)
			web_serve(req, rep);
		else
			http_error(rep, 404, "no such endpoint (this portal "
			    "serves %s and its web app)", API_PREFIX);
		return;
	}
	if (!api_url_ok(req, rep))
		return;
	rest = req->url + strlen(API_PREFIX);
	role = api_route_role(req->method, rest, &rep->allow);
	if (role < 0) {
		http_error(rep, 405, "method %s not allowed", req->method);
		return;
	}
	if (role > 0) {
		/* Checked again: a session may end while the body arrives. */
		if (api_authorize(a, req, role, &p, rep) == 0 &&
		    api_limit(a, p.actor, rep) == 0)
			api_operator(a, req, rest, &p, rep);
		explicit_bzero(&p, sizeof(p));
		return;
	}
	if (strcmp(rest, "login") == 0) {
		if (strcmp(req->method, "POST") == 0)
			api_login(a, req, rep);
		else {
			rep->allow = "POST";
			http_error(rep, 405, "method %s not allowed",
			    req->method);
		}
	} else if (strcmp(rest, "enroll") == 0) {
		if (strcmp(req->method, "POST") == 0)
			api_enroll(a, req, rep);
		else {
			rep->allow = "POST";
			http_error(rep, 405, "method %s not allowed",
			    req->method);
		}
	} else if (strcmp(rest, "bastion/keys") == 0) {
		if (strcmp(req->method, "GET") == 0)
			api_bastion_keys(a, req, rep);
		else {
			rep->allow = "GET";
			http_error(rep, 405, "method %s not allowed",
			    req->method);
		}
	} else if (strncmp(rest, "agents/", 7) == 0)
		api_agents(a, req, rest + 7, rep);
	else
		http_error(rep, 404, "no such endpoint");
}

/*
 * The http_preflight: what can be decided from the headers alone, so that
 * nobody can make the portal buffer a body it would refuse. The path and
 * method as api_handle routes them, and the credential, checked here once
 * more than the handlers do (it may be revoked while the body arrives).
 * Enrolment carries its token in the body: it is anonymous with a small
 * body limit.
 */
void
api_preflight(void *arg, struct http_request *req, struct http_reply *rep)
{
	struct api_principal p;
	struct api *a = arg;
	const char *rest, *slash, *method = req->method;
	char id[API_MAX_ID + 1], name[256];
	size_t n;
	int role;

	if (strncmp(req->url, API_PREFIX, strlen(API_PREFIX)) != 0) {
		/* The web app's own files, by exact name: anyone may load
		 * them (what they show is behind the API's auth). */
		if (web_find(req->url) != NULL) {
			if (strcmp(method, "GET") != 0 &&
			    strcmp(method, "HEAD") != 0) {
				rep->allow = "GET, HEAD";
				goto not_allowed;
			}
			req->max_body = 0;
			return;
		}
		http_error(rep, 404, "no such endpoint (this portal serves "
		    "%s and its web app)", API_PREFIX);
		return;
	}
	if (!api_url_ok(req, rep))
		return;
	rest = req->url + strlen(API_PREFIX);
	role = api_route_role(method, rest, &rep->allow);
	if (role < 0)
		goto not_allowed;
	if (role > 0) {
		/* Identity, role, CSRF: all decided before any body. */
		req->max_body = PORTAL_MAX_SMALL_BODY;
		(void)api_authorize(a, req, role, &p, rep);
		explicit_bzero(&p, sizeof(p));
		return;
	}
	/* A login is anonymous until its password is checked: a small
	 * body in one of the shared anonymous slots, as an enrolment. */
	if (strcmp(rest, "enroll") == 0 || strcmp(rest, "login") == 0) {
		if (strcmp(method, "POST") != 0)
			goto post_only;
		req->anonymous = 1;
		req->max_body = PORTAL_MAX_ENROLL_BODY;
		return;
	}
	if (strcmp(rest, "bastion/keys") == 0) {
		/* The bastion's credential only: no other is good here. */
		if (strcmp(method, "GET") != 0) {
			rep->allow = "GET";
			goto not_allowed;
		}
		req->max_body = PORTAL_MAX_SMALL_BODY;
		(void)api_bastion_auth(a, req, name, sizeof(name), rep);
		return;
	}
	if (strncmp(rest, "agents/", 7) == 0) {
		rest += 7;
		slash = strchr(rest, '/');
		n = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
		if (n == 0 || n > API_MAX_ID) {
			http_error(rep, 404, "no such agent");
			return;
		}
		if (slash == NULL) {
			if (strcmp(method, "DELETE") != 0) {
				rep->allow = "DELETE";
				goto not_allowed;
			}
			req->max_body = PORTAL_MAX_SMALL_BODY;
		} else if (strcmp(slash, "/reports") == 0) {
			if (strcmp(method, "POST") != 0)
				goto post_only;
			req->max_body = PORTAL_MAX_BODY;
		} else {
			http_error(rep, 404, "no such endpoint");
			return;
		}
		memcpy(id, rest, n);
		id[n] = '\0';
		(void)api_agent_auth(a, req, id, rep);
		return;
	}
	http_error(rep, 404, "no such endpoint");
	return;
post_only:
	rep->allow = "POST";
not_allowed:
	http_error(rep, 405, "method %s not allowed", method);
}
