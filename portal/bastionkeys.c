/*
 * agentd-portal bastion-keys: the libcurl request behind sshd's
 * AuthorizedKeysCommand. Every failure (no portal, a wrong certificate,
 * a refused credential, a slow or oversized answer) prints nothing, so
 * sshd lets no agent key in while the portal cannot vouch for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include <curl/curl.h>

#include "bastionkeys.h"

struct bastionkeys_buf {
	char	*p;
	size_t	 len;
	int	 too_large;
};

int
bastionkeys_read_credential(const char *path, char *cred, size_t len,
    char *err, size_t errlen)
{
	struct stat sb;
	ssize_t n;
	size_t i;
	int fd, r;

	cred[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	if (fstat(fd, &sb) == -1) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	/* A credential others can read is one others can use. */
	if (!S_ISREG(sb.st_mode) || (sb.st_mode & 077) != 0 ||
	    sb.st_uid != geteuid()) {
		snprintf(err, errlen, "%s: must be a regular file of uid %u "
		    "with mode 0600 (it is %04o, uid %u)", path,
		    (unsigned)geteuid(), (unsigned)(sb.st_mode & 07777),
		    (unsigned)sb.st_uid);
		r = -EPERM;
		goto out;
	}
	n = read(fd, cred, len - 1);
	if (n == -1) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	cred[n] = '\0';
	if ((size_t)n == len - 1) {
		snprintf(err, errlen, "%s: longer than a credential", path);
		r = -EINVAL;
		goto out;
	}
	if (n > 0 && cred[n - 1] == '\n')
		cred[--n] = '\0';
	for (i = 0; i < (size_t)n; i++)
		if (cred[i] <= ' ' || cred[i] > '~')
			break;
	if (strncmp(cred, "bst_", 4) != 0 || i != (size_t)n) {
		snprintf(err, errlen, "%s: expected one bastion credential "
		    "(bst_...) from agentd-portal bastion-credential create",
		    path);
		r = -EINVAL;
		goto out;
	}
	r = 0;
out:
	if (r != 0)
		memset(cred, 0, len);
	close(fd);
	return r;
}

/* Keeps the answer, up to BASTIONKEYS_MAX_BODY; beyond, the transfer
 * is cut off (a short write ends it) and the answer refused. */
static size_t
bastionkeys_sink(char *p, size_t size, size_t n, void *arg)
{
	struct bastionkeys_buf *b = arg;
	size_t add = size * n;
	char *np;

	if (add > BASTIONKEYS_MAX_BODY - b->len) {
		b->too_large = 1;
		return 0;
	}
	if ((np = realloc(b->p, b->len + add + 1)) == NULL)
		return 0;
	b->p = np;
	memcpy(b->p + b->len, p, add);
	b->len += add;
	b->p[b->len] = '\0';
	return add;
}

int
bastionkeys_fetch(const char *portal, const char *cred, const char *ca,
    long timeout, const char *key, char **body, size_t *len, char *err,
    size_t errlen)
{
	struct bastionkeys_buf b = { 0 };
	struct curl_slist *hdr = NULL;
	char auth[BASTIONKEYS_MAX_CRED + 32], cerr[CURL_ERROR_SIZE] = "";
	char *url = NULL, *esc = NULL;
	size_t plen = strlen(portal);
	long status = 0;
	CURL *c = NULL;
	CURLcode cc;
	int r;

	*body = NULL;
	*len = 0;
	if (strncmp(portal, "https://", 8) != 0) {
		snprintf(err, errlen, "--portal %s: must be an https:// URL",
		    portal);
		return -EINVAL;
	}
	while (plen > 8 && portal[plen - 1] == '/')
		plen--;
	if ((c = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "curl_easy_init failed");
		r = -ENOMEM;
		goto out;
	}
	if (key != NULL && (esc = curl_easy_escape(c, key, 0)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	if (asprintf(&url, "%.*s/api/v1/bastion/keys%s%s", (int)plen, portal,
	    esc != NULL ? "?key=" : "", esc != NULL ? esc : "") == -1) {
		url = NULL;
		r = -ENOMEM;
		goto out;
	}
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cred);
	if ((hdr = curl_slist_append(NULL, auth)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, bastionkeys_sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "agentd-portal-bastion-keys/"
	    AGENTD_VERSION);
	cc = curl_easy_perform(c);
	if (b.too_large) {
		snprintf(err, errlen, "%.*s: answer larger than %d bytes",
		    (int)plen, portal, BASTIONKEYS_MAX_BODY);
		r = -E2BIG;
		goto out;
	}
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "%.*s: %s", (int)plen, portal,
		    cerr[0] != '\0' ? cerr : curl_easy_strerror(cc));
		r = cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		snprintf(err, errlen, "%.*s: HTTP %ld: %.200s", (int)plen,
		    portal, status, b.p != NULL ? b.p : "");
		r = -EACCES;
		goto out;
	}
	*body = b.p != NULL ? b.p : strdup("");
	*len = b.len;
	b.p = NULL;	/* transferred */
	r = *body != NULL ? 0 : -ENOMEM;
out:
	if (esc != NULL)
		curl_free(esc);
	curl_slist_free_all(hdr);
	if (c != NULL)
		curl_easy_cleanup(c);
	explicit_bzero(auth, sizeof(auth));
	free(url);
	free(b.p);
	return r;
}
