/*
 * identity: the file agentctl enroll writes and agentd reads at start and on
 * reload. Every field is checked here, so the reporter can put agent_id in a
 * URL and the credential in a header without looking at them again.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "identity.h"
#include "sysfile.h"
#include "xmalloc.h"

/* Far above what a real file holds; a bigger one is not ours. */
#define IDENTITY_FILE_MAX	(64 * 1024)
#define PORTAL_URL_MAX		1024
#define BASTION_FIELD_MAX	16384

static void
identity_wipe_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void
identity_free(struct identity *id)
{
	if (id == NULL)
		return;
	free(id->agent_id);
	identity_wipe_free(id->credential);
	free(id->portal);
	free(id->ca_file);
	free(id->bastion_address);
	free(id->bastion_host_key);
	free(id->bastion_user);
	free(id);
}

/* agent_id goes into a URL path: letters, digits, '-', '_', '.' only. */
bool
identity_valid_agent_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > IDENTITY_AGENT_ID_MAX)
		return false;
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_.") == n;
}

/* The credential goes into an Authorization header: visible ASCII only,
 * so it can never end the header or start another. */
bool
identity_valid_credential(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > IDENTITY_CREDENTIAL_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* "https://" and a host, no blanks or control bytes, no trailing slash
 * (the API paths are appended as they are). */
bool
identity_valid_portal(const char *s)
{
	size_t n = strlen(s);

	if (n <= strlen("https://") || n > PORTAL_URL_MAX ||
	    strncmp(s, "https://", strlen("https://")) != 0 || s[n - 1] == '/')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

bool
identity_valid_user(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || s[0] == '-')
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_.") == n;
}

/* Text for ssh's known_hosts and a host:port: printable, one line. */
static bool
identity_valid_text(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return false;
	return true;
}

/* A required string field; *out stays NULL on error. */
static int
identity_get_string(json_t *o, const char *key, bool required, char **out,
    char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (!required)
			return 0;
		snprintf(err, errlen, "%s: missing", key);
		return -EINVAL;
	}
	if (!json_is_string(v)) {
		snprintf(err, errlen, "%s: not a string", key);
		return -EINVAL;
	}
	*out = xstrdup(json_string_value(v));
	return 0;
}

/* Both or neither; aname/kname are the names the admin sees. */
static int
identity_check_bastion(const char *address, const char *host_key,
    const char *aname, const char *kname, char *err, size_t errlen)
{
	if (address == NULL && host_key == NULL)
		return 0;
	if (address == NULL || host_key == NULL) {
		snprintf(err, errlen, "%s: missing (%s is set)",
		    address == NULL ? aname : kname,
		    address == NULL ? kname : aname);
		return -EINVAL;
	}
	if (!identity_valid_text(address, 512) || strchr(address, ' ') != NULL) {
		snprintf(err, errlen, "%s: empty, too long or not one "
		    "host:port word", aname);
		return -EINVAL;
	}
	if (!identity_valid_text(host_key, BASTION_FIELD_MAX)) {
		snprintf(err, errlen, "%s: empty, too long or has control "
		    "characters", kname);
		return -EINVAL;
	}
	return 0;
}

/* "forward_port" (name for messages): null/absent is 0, else 1..65535. */
static int
identity_get_port(json_t *v, const char *name, unsigned *out, char *err,
    size_t errlen)
{
	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > 65535) {
		snprintf(err, errlen, "%s: not null or an integer 1..65535",
		    name);
		return -EINVAL;
	}
	*out = (unsigned)json_integer_value(v);
	return 0;
}

/* The user and forward port the portal assigned: only with a bastion,
 * and a valid login name (uname is the name the admin sees). */
static int
identity_check_assigned(const struct identity *id, const char *uname,
    char *err, size_t errlen)
{
	if (id->bastion_user != NULL && !identity_valid_user(id->bastion_user)) {
		snprintf(err, errlen, "%s: empty, longer than 64, starting "
		    "with '-' or not made of letters, digits, '-', '_' and "
		    "'.'", uname);
		return -EINVAL;
	}
	if (id->bastion_address == NULL &&
	    (id->bastion_user != NULL || id->forward_port != 0)) {
		snprintf(err, errlen, "%s and forward_port need a bastion",
		    uname);
		return -EINVAL;
	}
	return 0;
}

int
identity_parse_bastion(json_t *v, struct identity *out, char *err,
    size_t errlen)
{
	struct identity b = { 0 };
	char sub[256];
	int r;

	out->bastion_address = out->bastion_host_key = out->bastion_user =
	    NULL;
	out->forward_port = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_object(v)) {
		snprintf(err, errlen, "bastion: not an object or null");
		return -EINVAL;
	}
	if ((r = identity_get_string(v, "address", true, &b.bastion_address,
	    sub, sizeof(sub))) < 0 ||
	    (r = identity_get_string(v, "host_key", true, &b.bastion_host_key,
	    sub, sizeof(sub))) < 0 ||
	    (r = identity_get_string(v, "user", false, &b.bastion_user, sub,
	    sizeof(sub))) < 0 ||
	    (r = identity_get_port(json_object_get(v, "forward_port"),
	    "forward_port", &b.forward_port, sub, sizeof(sub))) < 0) {
		snprintf(err, errlen, "bastion.%s", sub);
		goto out;
	}
	if ((r = identity_check_bastion(b.bastion_address, b.bastion_host_key,
	    "bastion.address", "bastion.host_key", err, errlen)) < 0 ||
	    (r = identity_check_assigned(&b, "bastion.user", err, errlen)) < 0)
		goto out;
	out->bastion_address = b.bastion_address;
	out->bastion_host_key = b.bastion_host_key;
	out->bastion_user = b.bastion_user;
	out->forward_port = b.forward_port;
	memset(&b, 0, sizeof(b));	/* transferred */
 out:
	free(b.bastion_address);
	free(b.bastion_host_key);
	free(b.bastion_user);
	return r;
}

int
identity_parse_interval(json_t *v, unsigned *out, char *err, size_t errlen)
{
	json_int_t n;

	if (v == NULL) {
		snprintf(err, errlen, "report_interval: missing");
		return -EINVAL;
	}
	if (!json_is_integer(v)) {
		snprintf(err, errlen, "report_interval: not an integer");
		return -EINVAL;
	}
	n = json_integer_value(v);
	if (n < 1 || n > 86400) {
		snprintf(err, errlen, "report_interval: %lld is not within "
		    "1..86400 seconds", (long long)n);
		return -EINVAL;
	}
	*out = (unsigned)n;
	return 0;
}

int
identity_parse(const char *text, size_t len, struct identity **idp,
    char *err, size_t errlen)
{
	struct identity *id = NULL;
	json_error_t jerr;
	json_t *root = NULL, *v;
	int r;

	*idp = NULL;
	if (errlen > 0)
		err[0] = '\0';
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(err, errlen, "not JSON: %s (line %d)", jerr.text,
		    jerr.line);
		r = -EINVAL;
		goto out;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "not a JSON object");
		r = -EINVAL;
		goto out;
	}
	id = xcalloc(1, sizeof(*id));
	if ((r = identity_get_string(root, "agent_id", true, &id->agent_id,
	    err, errlen)) < 0)
		goto out;
	if (!identity_valid_agent_id(id->agent_id)) {
		snprintf(err, errlen, "agent_id: empty, longer than %d or not "
		    "made of letters, digits, '-', '_' and '.'",
		    IDENTITY_AGENT_ID_MAX);
		r = -EINVAL;
		goto out;
	}
	if ((r = identity_get_string(root, "credential", true,
	    &id->credential, err, errlen)) < 0)
		goto out;
	if (!identity_valid_credential(id->credential)) {
		snprintf(err, errlen, "credential: empty, longer than %d or not "
		    "printable ASCII without blanks", IDENTITY_CREDENTIAL_MAX);
		r = -EINVAL;
		goto out;
	}
	if ((r = identity_get_string(root, "portal", true, &id->portal, err,
	    errlen)) < 0)
		goto out;
	if (!identity_valid_portal(id->portal)) {
		snprintf(err, errlen, "portal: must be an https:// URL without "
		    "blanks or a trailing '/' (TLS is not optional)");
		r = -EINVAL;
		goto out;
	}
	if ((r = identity_get_string(root, "ca_file", false, &id->ca_file,
	    err, errlen)) < 0)
		goto out;
	if (id->ca_file != NULL && (id->ca_file[0] != '/' ||
	    strlen(id->ca_file) >= PATH_MAX)) {
		snprintf(err, errlen, "ca_file: not an absolute path");
		r = -EINVAL;
		goto out;
	}
	if ((r = identity_parse_interval(json_object_get(root,
	    "report_interval"), &id->report_interval, err, errlen)) < 0)
		goto out;
	if ((r = identity_get_string(root, "bastion_address", false,
	    &id->bastion_address, err, errlen)) < 0 ||
	    (r = identity_get_string(root, "bastion_host_key", false,
	    &id->bastion_host_key, err, errlen)) < 0 ||
	    (r = identity_check_bastion(id->bastion_address,
	    id->bastion_host_key, "bastion_address", "bastion_host_key", err,
	    errlen)) < 0 ||
	    (r = identity_get_string(root, "bastion_user", false,
	    &id->bastion_user, err, errlen)) < 0 ||
	    (r = identity_get_port(json_object_get(root, "forward_port"),
	    "forward_port", &id->forward_port, err, errlen)) < 0 ||
	    (r = identity_check_assigned(id, "bastion_user", err, errlen)) < 0)
		goto out;
	v = json_object_get(root, "enrolled_at");
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		snprintf(err, errlen, "enrolled_at: %s", v == NULL ? "missing" :
		    "not a non-negative integer");
		r = -EINVAL;
		goto out;
	}
	id->enrolled_at = (uint64_t)json_integer_value(v);
	*idp = id;
	id = NULL;	/* transferred */
	r = 0;
 out:
	identity_free(id);
	json_decref(root);
	return r;
}

int
identity_load(const char *state_dir, struct identity **idp, char *err,
    size_t errlen)
{
	char *buf = NULL, why[512], path[PATH_MAX];
	struct stat st;
	size_t len;
	bool trunc;
	int r;

	*idp = NULL;
	if (errlen > 0)
		err[0] = '\0';
	/* The credential in it is as good as a password: a file others can
	 * read is refused, as OpenSSH refuses an unprotected private key. */
	snprintf(path, sizeof(path), "%s/%s", state_dir, IDENTITY_FILE);
	if (stat(path, &st) == 0 && (st.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s: UNPROTECTED IDENTITY FILE: mode %04o "
		    "lets group or others read the agent's credential; "
		    "refused. Fix: chmod 600 %s (and re-enrol if others may "
		    "have read it)", path, (unsigned)(st.st_mode & 07777),
		    path);
		return -EINVAL;
	}
	r = sysfile_read(state_dir, IDENTITY_FILE, IDENTITY_FILE_MAX + 1, &buf,
	    &len, &trunc);
	if (r == -ENOENT)
		return r;
	if (r < 0) {
		snprintf(err, errlen, "%s/%s: cannot read: %s", state_dir,
		    IDENTITY_FILE, strerror(-r));
		return -EINVAL;
	}
	if (trunc) {
		snprintf(err, errlen, "%s/%s: larger than %d bytes", state_dir,
		    IDENTITY_FILE, IDENTITY_FILE_MAX);
		r = -EINVAL;
		goto out;
	}
	if ((r = identity_parse(buf, len, idp, why, sizeof(why))) < 0)
		snprintf(err, errlen, "%s/%s: %s", state_dir, IDENTITY_FILE,
		    why);
 out:
	if (buf != NULL) {
		explicit_bzero(buf, len);
		free(buf);
	}
	return r;
}

/* The file holds a secret: 0600 whatever the umask, and the text we built
 * is wiped before it is freed. */
int
identity_save(const char *state_dir, const struct identity *id)
{
	char *text = NULL, *line = NULL;
	json_t *root = NULL;
	int r;

	if (id->agent_id == NULL || !identity_valid_agent_id(id->agent_id) ||
	    id->credential == NULL ||
	    !identity_valid_credential(id->credential) ||
	    id->portal == NULL || !identity_valid_portal(id->portal) ||
	    id->report_interval < 1 || id->report_interval > 86400 ||
	    (id->ca_file != NULL && id->ca_file[0] != '/') ||
	    (id->bastion_address == NULL) != (id->bastion_host_key == NULL) ||
	    (id->bastion_user != NULL && !identity_valid_user(id->bastion_user))
	    || id->forward_port > 65535 || (id->bastion_address == NULL &&
	    (id->bastion_user != NULL || id->forward_port != 0)))
		return -EINVAL;
	/* The keys are the struct's field names. 10 pairs. */
	root = json_pack("{s:s, s:s, s:s, s:o, s:I, s:o, s:o, s:o, s:o, s:I}",
	    "agent_id", id->agent_id,
	    "credential", id->credential,
	    "portal", id->portal,
	    "ca_file", id->ca_file != NULL ? json_string(id->ca_file) :
	    json_null(),
	    "report_interval", (json_int_t)id->report_interval,
	    "bastion_address", id->bastion_address != NULL ?
	    json_string(id->bastion_address) : json_null(),
	    "bastion_host_key", id->bastion_host_key != NULL ?
	    json_string(id->bastion_host_key) : json_null(),
	    "bastion_user", id->bastion_user != NULL ?
	    json_string(id->bastion_user) : json_null(),
	    "forward_port", id->forward_port != 0 ?
	    json_integer((json_int_t)id->forward_port) : json_null(),
	    "enrolled_at", (json_int_t)id->enrolled_at);
	if (root == NULL ||
	    (text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) ==
	    NULL) {
		r = -ENOMEM;
		goto out;
	}
	xasprintf(&line, "%s\n", text);
	r = sysfile_write_atomic(state_dir, IDENTITY_FILE, line, 0600);
 out:
	if (text != NULL) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	if (line != NULL) {
		explicit_bzero(line, strlen(line));
		free(line);
	}
	/* jansson keeps its own copy of the credential: wipe it too. */
	if (root != NULL) {
		json_t *c = json_object_get(root, "credential");

		if (json_is_string(c))
			explicit_bzero((char *)json_string_value(c),
			    json_string_length(c));
		json_decref(root);
	}
	return r;
}

int
identity_remove(const char *state_dir)
{
	char path[PATH_MAX];
	int dfd;

	if (snprintf(path, sizeof(path), "%s/%s", state_dir, IDENTITY_FILE) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	if (unlink(path) == -1)
		return errno == ENOENT ? 0 : -errno;
	if ((dfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}
