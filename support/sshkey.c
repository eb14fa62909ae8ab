/*
 * sshkey: the agent's ed25519 key (sshkey.h). The private file is built
 * as OpenSSH's sshkey_private_to_blob2 builds an unencrypted key
 * (PROTOCOL.key): magic, cipher and KDF "none", one public key, and the
 * private section padded to the cipher block size (8 for "none").
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "sshkey.h"
#include "sysfile.h"
#include "xmalloc.h"

#define KEY_MAGIC	"openssh-key-v1"	/* and its NUL */
#define KEY_TYPE	"ssh-ed25519"
#define KEY_BEGIN	"-----BEGIN OPENSSH PRIVATE KEY-----\n"
#define KEY_END		"-----END OPENSSH PRIVATE KEY-----\n"
#define KEY_COLS	70
/* The public blob: string type, string pk. */
#define PUB_BLOB_LEN	(4 + 11 + 4 + 32)
#define PRIV_FILE_MAX	4096

/* A bounded SSH wire buffer; the sizes here are fixed and small. */
struct sshbuf {
	uint8_t	 b[512];
	size_t	 n;
};

static void
sshbuf_u32(struct sshbuf *s, uint32_t v)
{
	s->b[s->n++] = (uint8_t)(v >> 24);
	s->b[s->n++] = (uint8_t)(v >> 16);
	s->b[s->n++] = (uint8_t)(v >> 8);
	s->b[s->n++] = (uint8_t)v;
}

static void
sshbuf_string(struct sshbuf *s, const void *p, size_t len)
{
	sshbuf_u32(s, (uint32_t)len);
	memcpy(s->b + s->n, p, len);
	s->n += len;
}

static void
sshkey_pub_blob(const uint8_t pk[32], struct sshbuf *s)
{
	s->n = 0;
	sshbuf_string(s, KEY_TYPE, strlen(KEY_TYPE));
	sshbuf_string(s, pk, 32);
}

int
sshkey_format_public(const uint8_t pk[32], char *pub, size_t publen)
{
	char b64[128];
	struct sshbuf blob;

	sshkey_pub_blob(pk, &blob);
	sodium_bin2base64(b64, sizeof(b64), blob.b, blob.n,
	    sodium_base64_VARIANT_ORIGINAL);
	if (snprintf(pub, publen, "%s %s", KEY_TYPE, b64) >= (int)publen)
		return -ENOSPC;
	return 0;
}

bool
sshkey_valid_public(const char *line)
{
	uint8_t blob[PUB_BLOB_LEN + 4];
	struct sshbuf want;
	const char *b64;
	size_t n, len;

	if (line == NULL || (len = strnlen(line, SSHKEY_PUB_MAX + 1)) >
	    SSHKEY_PUB_MAX || strncmp(line, KEY_TYPE " ",
	    strlen(KEY_TYPE) + 1) != 0)
		return false;
	b64 = line + strlen(KEY_TYPE) + 1;
	if (sodium_base642bin(blob, sizeof(blob), b64, strlen(b64), NULL, &n,
	    NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || n != PUB_BLOB_LEN)
		return false;
	/* The blob names the same type and holds 32 bytes of key. */
	sshkey_pub_blob(blob + PUB_BLOB_LEN - 32, &want);
	return memcmp(want.b, blob, PUB_BLOB_LEN) == 0;
}

int
sshkey_format_private(const uint8_t pk[32], const uint8_t sk[64],
    uint32_t checkint, char **textp)
{
	struct sshbuf blob, priv, pubb;
	char *b64 = NULL, *text = NULL;
	size_t b64len, i, o, tlen;
	uint8_t pad;

	*textp = NULL;
	sshkey_pub_blob(pk, &pubb);
	priv.n = 0;
	sshbuf_u32(&priv, checkint);
	sshbuf_u32(&priv, checkint);
	sshbuf_string(&priv, KEY_TYPE, strlen(KEY_TYPE));
	sshbuf_string(&priv, pk, 32);
	sshbuf_string(&priv, sk, 64);
	sshbuf_string(&priv, "", 0);		/* comment */
	for (pad = 1; priv.n % 8 != 0; pad++)
		priv.b[priv.n++] = pad;

	blob.n = 0;
	memcpy(blob.b, KEY_MAGIC, sizeof(KEY_MAGIC));
	blob.n = sizeof(KEY_MAGIC);
	sshbuf_string(&blob, "none", 4);	/* cipher */
	sshbuf_string(&blob, "none", 4);	/* KDF */
	sshbuf_string(&blob, "", 0);		/* KDF options */
	sshbuf_u32(&blob, 1);			/* one key */
	sshbuf_string(&blob, pubb.b, pubb.n);
	sshbuf_string(&blob, priv.b, priv.n);
	sodium_memzero(&priv, sizeof(priv));

	b64len = sodium_base64_ENCODED_LEN(blob.n,
	    sodium_base64_VARIANT_ORIGINAL);
	b64 = xcalloc(1, b64len);
	sodium_bin2base64(b64, b64len, blob.b, blob.n,
	    sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(&blob, sizeof(blob));
	b64len = strlen(b64);
	tlen = strlen(KEY_BEGIN) + b64len + b64len / KEY_COLS + 1 +
	    strlen(KEY_END) + 1;
	text = xcalloc(1, tlen);
	o = 0;
	memcpy(text, KEY_BEGIN, strlen(KEY_BEGIN));
	o += strlen(KEY_BEGIN);
	for (i = 0; i < b64len; i += KEY_COLS) {
		size_t n = b64len - i < KEY_COLS ? b64len - i : KEY_COLS;

		memcpy(text + o, b64 + i, n);
		o += n;
		text[o++] = '\n';
	}
	memcpy(text + o, KEY_END, strlen(KEY_END) + 1);
	sodium_memzero(b64, b64len);
	free(b64);
	*textp = text;
	return 0;
}

int
sshkey_private_path(const char *state_dir, char *path, size_t len)
{
	if (snprintf(path, len, "%s/%s/%s", state_dir, SSHKEY_DIR,
	    SSHKEY_FILE) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

int
sshkey_read_public(const char *state_dir, char *pub, size_t publen,
    char *err, size_t errlen)
{
	char dir[PATH_MAX], *buf = NULL;
	size_t len;
	bool trunc;
	int r;

	if (publen > 0)
		pub[0] = '\0';
	if (snprintf(dir, sizeof(dir), "%s/%s", state_dir, SSHKEY_DIR) >=
	    (int)sizeof(dir))
		return -ENAMETOOLONG;
	if ((r = sysfile_read(dir, SSHKEY_PUB_FILE, SSHKEY_PUB_MAX + 2, &buf,
	    &len, &trunc)) < 0) {
		snprintf(err, errlen, "%s/%s: %s", dir, SSHKEY_PUB_FILE,
		    strerror(-r));
		return r;
	}
	if (!trunc && len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (trunc || strlen(buf) != len || !sshkey_valid_public(buf) ||
	    len >= publen) {
		snprintf(err, errlen, "%s/%s: not one \"ssh-ed25519 BASE64\" "
		    "line", dir, SSHKEY_PUB_FILE);
		r = -EINVAL;
		goto out;
	}
	memcpy(pub, buf, len + 1);
	r = 0;
 out:
	free(buf);
	return r;
}

/* Gives path the owner of state_dir: agentd's helper, not root, reads it. */
static int
sshkey_chown(const char *path, const struct stat *owner, char *err,
    size_t errlen)
{
	if (geteuid() == 0 && lchown(path, owner->st_uid, owner->st_gid) != 0) {
		snprintf(err, errlen, "chown %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

int
sshkey_ensure(const char *state_dir, char *pub, size_t publen,
    bool *created, char *err, size_t errlen)
{
	uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	char dir[PATH_MAX], path[PATH_MAX], line[SSHKEY_PUB_MAX + 2];
	char *text = NULL;
	struct stat st, kst;
	int r;

	*created = false;
	if (errlen > 0)
		err[0] = '\0';
	if (stat(state_dir, &st) != 0) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", state_dir, strerror(errno));
		return r;
	}
	if (snprintf(dir, sizeof(dir), "%s/%s", state_dir, SSHKEY_DIR) >=
	    (int)sizeof(dir) || sshkey_private_path(state_dir, path,
	    sizeof(path)) < 0) {
		snprintf(err, errlen, "%s: path too long", state_dir);
		return -ENAMETOOLONG;
	}
	/* Both files there: the key is made once and kept. */
	if (lstat(path, &kst) == 0 &&
	    (r = sshkey_read_public(state_dir, pub, publen, err, errlen)) !=
	    -ENOENT)
		return r;
	if (mkdir(dir, 0700) == 0) {
		if ((r = sshkey_chown(dir, &st, err, errlen)) < 0)
			return r;
	} else if (errno != EEXIST) {
		r = -errno;
		snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno));
		return r;
	}
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium cannot start");
		return -EIO;
	}
	crypto_sign_keypair(pk, sk);
	if ((r = sshkey_format_private(pk, sk, randombytes_random(),
	    &text)) < 0 ||
	    (r = sshkey_format_public(pk, line, sizeof(line))) < 0) {
		snprintf(err, errlen, "cannot format the key: %s",
		    strerror(-r));
		goto out;
	}
	if ((r = sysfile_write_atomic(dir, SSHKEY_FILE, text, 0600)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		goto out;
	}
	if ((r = sshkey_chown(path, &st, err, errlen)) < 0)
		goto out;
	/* The public file last: its presence says the pair is complete. */
	memcpy(line + strlen(line), "\n", 2);	/* SSHKEY_PUB_MAX + 2 */
	if ((r = sysfile_write_atomic(dir, SSHKEY_PUB_FILE, line, 0644)) < 0) {
		snprintf(err, errlen, "%s/%s: %s", dir, SSHKEY_PUB_FILE,
		    strerror(-r));
		goto out;
	}
	if (snprintf(path, sizeof(path), "%s/%s", dir, SSHKEY_PUB_FILE) >=
	    (int)sizeof(path)) {
		r = -ENAMETOOLONG;
		goto out;
	}
	if ((r = sshkey_chown(path, &st, err, errlen)) < 0)
		goto out;
	if ((r = sshkey_read_public(state_dir, pub, publen, err, errlen)) < 0)
		goto out;
	*created = true;
 out:
	sodium_memzero(sk, sizeof(sk));
	if (text != NULL) {
		sodium_memzero(text, strlen(text));
		free(text);
	}
	return r;
}
