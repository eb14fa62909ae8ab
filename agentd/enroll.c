/*
 * Enrolment and unenrolment over HTTPS with blocking libcurl, for agentctl.
 * Everything that can be checked locally is checked before the one-time
 * token goes out, so a token is never spent on an enrolment we cannot keep.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "enroll.h"
#include "identity.h"
#include "inventory.h"
#include "log.h"
#include "xmalloc.h"

#define CONNECT_TIMEOUT_S	10
#define TOTAL_TIMEOUT_S		30
/* How much of the portal's "error" text an admin is shown. */
#define PORTAL_ERROR_SHOWN	200

struct enroll_http {
	long	 status;
	char	*body;
	size_t	 len;
	bool	 too_big;
};

/* Formats into err and escapes it: texts from jansson and curl can quote
 * bytes that came from the portal. */
static void
enroll_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
enroll_err(char *err, size_t errlen, const char *fmt, ...)
{
	char raw[1024];
	va_list ap;

	if (errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	log_escape(err, errlen, raw);
}

static void
enroll_clear(struct identity *id)
{
	free(id->agent_id);
	if (id->credential != NULL) {
		explicit_bzero(id->credential, strlen(id->credential));
		free(id->credential);
	}
	free(id->bastion_address);
	free(id->bastion_host_key);
	free(id->bastion_user);
	memset(id, 0, sizeof(*id));
}

static int
enroll_reply_string(json_t *root, const char *key, char **out,
    char *err, size_t errlen)
{
	json_t *v = json_object_get(root, key);

	if (v == NULL || json_is_null(v)) {
		enroll_err(err, errlen, "%s: missing", key);
		return -EBADMSG;
	}
	if (!json_is_string(v)) {
		enroll_err(err, errlen, "%s: not a string", key);
		return -EBADMSG;
	}
	*out = xstrdup(json_string_value(v));
	return 0;
}

int
enroll_parse_reply(const char *body, size_t len, struct identity *out,
    char *err, size_t errlen)
{
	char why[512];
	json_error_t jerr;
	json_t *root;
	int r;

	memset(out, 0, sizeof(*out));
	if (errlen > 0)
		err[0] = '\0';
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		enroll_err(err, errlen, "not JSON: %s", jerr.text);
		r = -EBADMSG;
		goto out;
	}
	if (!json_is_object(root)) {
		enroll_err(err, errlen, "not a JSON object");
		r = -EBADMSG;
		goto out;
	}
	if ((r = enroll_reply_string(root, "agent_id", &out->agent_id, err,
	    errlen)) < 0)
		goto out;
	if (!identity_valid_agent_id(out->agent_id)) {
		enroll_err(err, errlen, "agent_id: empty, longer than %d or not "
		    "made of letters, digits, '-', '_' and '.'",
		    IDENTITY_AGENT_ID_MAX);
		r = -EBADMSG;
		goto out;
	}
	if ((r = enroll_reply_string(root, "credential", &out->credential,
	    err, errlen)) < 0)
		goto out;
	if (!identity_valid_credential(out->credential)) {
		enroll_err(err, errlen, "credential: empty, longer than %d or "
		    "not printable ASCII without blanks",
		    IDENTITY_CREDENTIAL_MAX);
		r = -EBADMSG;
		goto out;
	}
	if (identity_parse_interval(json_object_get(root, "report_interval"),
	    &out->report_interval, why, sizeof(why)) < 0 ||
	    identity_parse_bastion(json_object_get(root, "bastion"), out, why,
	    sizeof(why)) < 0) {
		enroll_err(err, errlen, "%s", why);
		r = -EBADMSG;
		goto out;
	}
	r = 0;
 out:
	if (r < 0)
		enroll_clear(out);
	if (root != NULL) {
		json_t *c = json_object_get(root, "credential");

		if (json_is_string(c))
			explicit_bzero((char *)json_string_value(c),
			    json_string_length(c));
		json_decref(root);
	}
	return r;
}

static size_t
enroll_write_cb(char *p, size_t size, size_t n, void *userdata)
{
	struct enroll_http *h = userdata;

	n *= size;
	if (n > ENROLL_REPLY_MAX - h->len) {
		h->too_big = true;
		return 0;	/* curl ends the transfer */
	}
	h->body = xreallocarray(h->body, 1, h->len + n + 1);
	memcpy(h->body + h->len, p, n);
	h->len += n;
	h->body[h->len] = '\0';
	return n;
}

static bool
enroll_tls_error(CURLcode c)
{
	switch (c) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_USE_SSL_FAILED:
		return true;
	default:
		return false;
	}
}

/*
 * One request. The credential, if any, goes in an Authorization header.
 * Returns 0 with h->status set (any HTTP status), or -EHOSTUNREACH /
 * -EBADMSG with a message; h->body is the caller's to free either way.
 */
static int
enroll_http(const char *method, const char *url, const char *ca_file,
    const char *credential, const char *body, struct enroll_http *h,
    char *err, size_t errlen)
{
	char cerr[CURL_ERROR_SIZE] = "", auth[IDENTITY_CREDENTIAL_MAX + 32];
	struct curl_slist *hdrs = NULL, *tmp;
	CURL *c;
	CURLcode rc;
	int r;

	memset(h, 0, sizeof(*h));
	if ((c = curl_easy_init()) == NULL) {
		enroll_err(err, errlen, "cannot start libcurl");
		return -ENOMEM;
	}
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (body != NULL && hdrs != NULL &&
	    (tmp = curl_slist_append(hdrs, "Content-Type: application/json"))
	    != NULL)
		hdrs = tmp;
	if (credential != NULL && hdrs != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
		    credential);
		if ((tmp = curl_slist_append(hdrs, auth)) != NULL)
			hdrs = tmp;
		explicit_bzero(auth, sizeof(auth));
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	/* https only, here and on any redirect (which is not followed). */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)TOTAL_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "agentctl/" AGENTD_VERSION);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, enroll_write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)strlen(body));
	}
	if (strcmp(method, "POST") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		if (h->too_big) {
			enroll_err(err, errlen, "the portal's reply is larger "
			    "than %d KiB", ENROLL_REPLY_MAX / 1024);
			r = -EBADMSG;
		} else if (enroll_tls_error(rc)) {
			enroll_err(err, errlen, "TLS failure with %s: %s; %s%s%s",
			    url, cerr[0] != '\0' ? cerr : curl_easy_strerror(rc),
			    ca_file != NULL ? "is " : "if the portal's "
			    "certificate is from a private CA, pass that CA "
			    "with --ca FILE",
			    ca_file != NULL ? ca_file : "",
			    ca_file != NULL ? " the CA that signed the portal's "
			    "certificate?" : "");
			r = -EHOSTUNREACH;
		} else {
			enroll_err(err, errlen, "cannot reach the portal at "
			    "%s: %s", url, cerr[0] != '\0' ? cerr :
			    curl_easy_strerror(rc));
			r = -EHOSTUNREACH;
		}
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &h->status);
	r = 0;
 out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return r;
}

/* "HTTP 400: <the portal's error text>", escaped and cut short. */
static void
enroll_portal_error(const struct enroll_http *h, char *out, size_t outlen)
{
	char shown[PORTAL_ERROR_SHOWN + 1];
	const char *msg = NULL;
	json_t *root = NULL;

	if (h->body != NULL)
		root = json_loadb(h->body, h->len, 0, NULL);
	msg = json_string_value(json_object_get(root, "error"));
	if (msg != NULL) {
		snprintf(shown, sizeof(shown), "%s", msg);
		enroll_err(out, outlen, "HTTP %ld: %s", h->status, shown);
	} else
		snprintf(out, outlen, "HTTP %ld without an error message",
		    h->status);
	json_decref(root);
}

/* Makes state_dir if it is missing (as agentd does) and checks that we
 * may write there. */
int
enroll_check_state_dir(const char *state_dir, char *err, size_t errlen)
{
	if (mkdir(state_dir, 0750) == -1 && errno != EEXIST) {
		enroll_err(err, errlen, "cannot create state directory %s: %s%s",
		    state_dir, strerror(errno), errno == EACCES ?
		    " (run agentctl as root)" : "");
		return -EACCES;
	}
	if (access(state_dir, W_OK | X_OK) == -1) {
		enroll_err(err, errlen, "cannot write to state directory %s: "
		    "%s%s", state_dir, strerror(errno), errno == EACCES ?
		    " (run agentctl as root)" : "");
		return -EACCES;
	}
	return 0;
}

/* The portal URL as stored: https://, no trailing slashes. */
static int
enroll_normalise_url(const char *in, char **outp, char *err, size_t errlen)
{
	char *url = xstrdup(in);
	size_t n = strlen(url);

	*outp = NULL;
	while (n > 0 && url[n - 1] == '/')
		url[--n] = '\0';
	if (!identity_valid_portal(url)) {
		enroll_err(err, errlen, "portal URL '%s' is not https://HOST"
		    "[:PORT][/PATH] (plain http is never used)", in);
		free(url);
		return -EINVAL;
	}
	*outp = url;
	return 0;
}

int
enroll_run(const char *portal_url, const char *token, const char *ca_file,
    const char *ssh_key, const char *state_dir, bool force, char *err, size_t errlen)
{
	struct identity id = { 0 }, *old = NULL;
	struct enroll_http h = { 0 };
	char *portal = NULL, *url = NULL, *ca = NULL, *body = NULL;
	const char *proof = NULL;
	char why[1024];
	json_t *host = NULL, *req = NULL;
	size_t tlen = strlen(token);
	int r;

	if (errlen > 0)
		err[0] = '\0';
	if ((r = enroll_normalise_url(portal_url, &portal, err, errlen)) < 0)
		goto out;
	if (tlen == 0 || tlen > ENROLL_TOKEN_MAX ||
	    !identity_valid_credential(token)) {
		enroll_err(err, errlen, "the token is empty, longer than %d or "
		    "not printable ASCII without blanks", ENROLL_TOKEN_MAX);
		r = -EINVAL;
		goto out;
	}
	if (ca_file != NULL) {
		/* agentd runs elsewhere than here: keep an absolute path. */
		if ((ca = realpath(ca_file, NULL)) == NULL ||
		    access(ca, R_OK) == -1) {
			enroll_err(err, errlen, "cannot use CA file %s: %s",
			    ca_file, strerror(errno));
			r = -EINVAL;
			goto out;
		}
	}
	if ((r = enroll_check_state_dir(state_dir, err, errlen)) < 0)
		goto out;
	r = identity_load(state_dir, &old, why, sizeof(why));
	if (r == 0 && !force) {
		enroll_err(err, errlen, "already enrolled as %s with %s (%s/%s); "
		    "run 'agentctl unenroll' first, or use --force to replace "
		    "it", old->agent_id, old->portal, state_dir, IDENTITY_FILE);
		r = -EEXIST;
		goto out;
	}
	if (r == -EINVAL && !force) {
		enroll_err(err, errlen, "%s; --force replaces it", why);
		r = -EEXIST;
		goto out;
	}
	if ((r = inventory_collect("/proc", "/etc", &host)) < 0) {
		enroll_err(err, errlen, "cannot collect the host inventory: %s",
		    strerror(-r));
		goto out;
	}
	/* 2 pairs; the key is an optional third (docs/protocol.md). */
	req = json_pack("{s:s, s:O}", "token", token, "host", host);
	if (req != NULL && ssh_key != NULL &&
	    json_object_set_new(req, "ssh_key", json_string(ssh_key)) != 0) {
		json_decref(req);
		req = NULL;
	}
	if (req == NULL || (body = json_dumps(req, JSON_COMPACT)) == NULL) {
		enroll_err(err, errlen, "cannot build the enrolment request");
		r = -ENOMEM;
		goto out;
	}
	/*
	 * Re-enrolling with the same portal: the current credential proves
	 * that this is the host the portal knows under this machine_id
	 * (docs/protocol.md). It never goes to another portal.
	 */
	if (old != NULL && old->portal != NULL &&
	    strcmp(old->portal, portal) == 0)
		proof = old->credential;
	xasprintf(&url, "%s/api/v1/enroll", portal);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = enroll_http("POST", url, ca, proof, body, &h, err, errlen);
	curl_global_cleanup();
	if (r < 0)
		goto out;
	if (h.status == 401) {
		enroll_err(err, errlen, "token refused: unknown, used, "
		    "revoked or expired");
		r = -EPERM;
		goto out;
	}
	if (h.status == 409) {
		/* The portal's text names the agent and the two ways out. */
		enroll_portal_error(&h, why, sizeof(why));
		enroll_err(err, errlen, "the portal refused to let this host "
		    "replace the agent enrolled with its machine_id (%s): %s",
		    proof != NULL ? "this host's identity is not that "
		    "agent's" : "this host has no identity for this portal "
		    "to prove it", why);
		r = -EPERM;
		goto out;
	}
	if (h.status != 201 && h.status != 200) {
		enroll_portal_error(&h, why, sizeof(why));
		enroll_err(err, errlen, "the portal refused the enrolment: %s",
		    why);
		r = -EPERM;
		goto out;
	}
	if ((r = enroll_parse_reply(h.body != NULL ? h.body : "", h.len, &id,
	    why, sizeof(why))) < 0) {
		enroll_err(err, errlen, "the portal's reply is malformed (%s); "
		    "the token may be spent, ask for a new one", why);
		goto out;
	}
	id.portal = portal;
	id.ca_file = ca;
	id.enrolled_at = (uint64_t)time(NULL);
	r = identity_save(state_dir, &id);
	id.portal = id.ca_file = NULL;	/* still owned by portal, ca */
	if (r < 0) {
		enroll_err(err, errlen, "enrolled as %s, but cannot save "
		    "%s/%s: %s; enrol again with a new token", id.agent_id,
		    state_dir, IDENTITY_FILE, strerror(-r));
		r = -EIO;
		goto out;
	}
	r = 0;
 out:
	enroll_clear(&id);
	identity_free(old);
	free(portal);
	free(ca);
	free(url);
	free(h.body);
	if (body != NULL) {
		explicit_bzero(body, strlen(body));	/* holds the token */
		free(body);
	}
	json_decref(req);
	json_decref(host);
	return r;
}

static int
enroll_remove(const char *state_dir, char *msg, size_t msglen)
{
	int r;

	if ((r = identity_remove(state_dir)) < 0) {
		enroll_err(msg, msglen, "cannot remove %s/%s: %s", state_dir,
		    IDENTITY_FILE, strerror(-r));
		return -EIO;
	}
	return 0;
}

int
enroll_revoke(const char *state_dir, bool force, char *msg, size_t msglen)
{
	struct identity *id = NULL;
	struct enroll_http h = { 0 };
	char why[1024], *url = NULL;
	int r;

	if (msglen > 0)
		msg[0] = '\0';
	if ((r = enroll_check_state_dir(state_dir, msg, msglen)) < 0)
		return r;
	r = identity_load(state_dir, &id, why, sizeof(why));
	if (r == -ENOENT) {
		enroll_err(msg, msglen, "not enrolled: there is no %s/%s",
		    state_dir, IDENTITY_FILE);
		return r;
	}
	if (r < 0 && !force) {
		enroll_err(msg, msglen, "%s; --force removes it without "
		    "telling the portal", why);
		return -EINVAL;
	}
	if (r < 0) {
		if ((r = enroll_remove(state_dir, msg, msglen)) == 0)
			enroll_err(msg, msglen, "removed the invalid identity "
			    "(%s) without telling the portal", why);
		return r;
	}
	xasprintf(&url, "%s/api/v1/agents/%s", id->portal, id->agent_id);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = enroll_http("DELETE", url, id->ca_file, id->credential, NULL, &h,
	    why, sizeof(why));
	curl_global_cleanup();
	if (r == 0 && (h.status == 204 || h.status == 200)) {
		if ((r = enroll_remove(state_dir, msg, msglen)) < 0)
			goto out;
		enroll_err(msg, msglen, "agent %s revoked at %s; identity "
		    "removed", id->agent_id, id->portal);
		goto out;
	}
	if (r == 0 && (h.status == 401 || h.status == 404)) {
		if ((r = enroll_remove(state_dir, msg, msglen)) < 0)
			goto out;
		enroll_err(msg, msglen, "the portal no longer knows agent %s "
		    "(already revoked, or the host re-enrolled); identity "
		    "removed", id->agent_id);
		goto out;
	}
	if (r == 0) {
		char tmp[512];

		enroll_portal_error(&h, tmp, sizeof(tmp));
		snprintf(why, sizeof(why), "the portal answered %s", tmp);
	}
	if (force) {
		if ((r = enroll_remove(state_dir, msg, msglen)) < 0)
			goto out;
		enroll_err(msg, msglen, "%s; removed the identity anyway, so "
		    "the portal still counts agent %s as enrolled", why,
		    id->agent_id);
		goto out;
	}
	enroll_err(msg, msglen, "%s; identity kept (try again, or use --force "
	    "to remove it locally)", why);
	r = -EHOSTUNREACH;
 out:
	identity_free(id);
	free(url);
	free(h.body);
	return r;
}
