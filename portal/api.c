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

#include "alert.h"
#include "api.h"
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

/* 0 with the operator's name when the token is valid; else a reply. */
static int
api_operator_auth(struct api *a, struct http_request *req, char *name,
    size_t len, struct http_reply *rep)
{
	const char *tok = auth_bearer(http_header(req, "Authorization"));
	char key[300];

	if (tok == NULL) {
		http_error(rep, 401, "Authorization: missing Bearer operator "
		    "token");
		return -EACCES;
	}
	if (credential_operator_check(a->store, tok, name, len) != 0) {
		http_error(rep, 401, "operator token refused");
		return -EACCES;
	}
	snprintf(key, sizeof(key), "operator:%s", name);
	return api_limit(a, key, rep);
}

static void
api_command_create(struct api *a, struct http_request *req,
    const char *host_id, const char *operator_name, struct http_reply *rep)
{
	const char *type;
	json_t *root = NULL, *args, *id = NULL;
	char err[512];
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
		    operator_name, json_string_value(id), type, host_id);
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
 * GET /api/v1/alerts/{id} and POST /api/v1/alerts/{id}/ack {"comment"}.
 * by is who acts: the operator token's name. (The cookie sessions of
 * the web app will pass their user's name here the same way.)
 */
static void
api_alert(struct api *a, struct http_request *req, const char *rest,
    const char *by, struct http_reply *rep)
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
	r = alert_ack(a->store, id, by, comment, store_now());
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
		log_info("operator %s acknowledged alert %lld", by, id);
		rep->status = 200;
		rep->body = out;
	}
	json_decref(root);
}

static void
api_fleet(struct api *a, struct http_request *req, const char *rest,
    struct http_reply *rep)
{
	char name[256], id[API_MAX_ID + 1];
	const char *slash;
	json_t *out = NULL;
	size_t n;
	int r, get = strcmp(req->method, "GET") == 0;

	if (api_operator_auth(a, req, name, sizeof(name), rep) != 0)
		return;
	if (strcmp(rest, "alerts") == 0) {
		if (!get)
			goto not_allowed;
		api_alerts(a, req, rep);
		return;
	} else if (strncmp(rest, "alerts/", 7) == 0) {
		api_alert(a, req, rest + 7, name, rep);
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
				api_command_create(a, req, id, name, rep);
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
	struct api *a = arg;
	const char *rest;

	if (strncmp(req->url, API_PREFIX, strlen(API_PREFIX)) != 0) {
		http_error(rep, 404, "no such endpoint (this portal serves "
		    "%s)", API_PREFIX);
		return;
	}
	if (!api_url_ok(req, rep))
		return;
	rest = req->url + strlen(API_PREFIX);
	if (strcmp(rest, "enroll") == 0) {
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
	else if (strcmp(rest, "hosts") == 0 || strcmp(rest, "alerts") == 0 ||
	    strncmp(rest, "hosts/", 6) == 0 || strncmp(rest, "alerts/", 7) == 0)
		api_fleet(a, req, rest, rep);
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
	struct api *a = arg;
	const char *rest, *slash, *method = req->method, *tok;
	char id[API_MAX_ID + 1], name[256];
	size_t n;

	if (strncmp(req->url, API_PREFIX, strlen(API_PREFIX)) != 0) {
		http_error(rep, 404, "no such endpoint (this portal serves "
		    "%s)", API_PREFIX);
		return;
	}
	if (!api_url_ok(req, rep))
		return;
	rest = req->url + strlen(API_PREFIX);
	if (strcmp(rest, "enroll") == 0) {
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
	if (strcmp(rest, "hosts") == 0 || strcmp(rest, "alerts") == 0 ||
	    strncmp(rest, "hosts/", 6) == 0 ||
	    strncmp(rest, "alerts/", 7) == 0) {
		/* Methods and ids are the handler's: nothing is read first. */
		req->max_body = PORTAL_MAX_SMALL_BODY;
		tok = auth_bearer(http_header(req, "Authorization"));
		if (tok == NULL)
			http_error(rep, 401, "Authorization: missing Bearer "
			    "operator token");
		else if (credential_operator_check(a->store, tok, name,
		    sizeof(name)) != 0)
			http_error(rep, 401, "operator token refused");
		return;
	}
	http_error(rep, 404, "no such endpoint");
	return;
post_only:
	rep->allow = "POST";
not_allowed:
	http_error(rep, 405, "method %s not allowed", method);
}
