/*
 * Secretstream encryption of target objects (docs/backup-format.md).
 * Fixed-size chunks need no length prefix: every chunk but the last is
 * full, and only the last carries the FINAL tag, so truncation at a chunk
 * boundary is caught as a missing FINAL.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sodium.h>

#include "crypt.h"
#include "xmalloc.h"

#define SS_HEADERBYTES	crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define SS_ABYTES	crypto_secretstream_xchacha20poly1305_ABYTES
#define MAGIC_LEN	8
#define KEY_PREFIX	"agentd-backup-key 1 "

struct crypt_writer {
	crypto_secretstream_xchacha20poly1305_state st;
	crypt_sink_fn	 sink;
	void		*arg;
	char		*ad;
	uint8_t		 plain[CRYPT_CHUNK];
	size_t		 fill;
	uint8_t		 out[CRYPT_CHUNK + SS_ABYTES];
	int		 finished;
};

struct crypt_reader {
	crypto_secretstream_xchacha20poly1305_state st;
	crypt_source_fn	 source;
	void		*arg;
	char		*ad;
	uint8_t		 in[CRYPT_CHUNK + SS_ABYTES + 1];
	uint8_t		 plain[CRYPT_CHUNK];
	size_t		 pos, len;
	int		 final;
};

/* libsodium needs one sodium_init; it is idempotent and thread-safe. */
static int
crypt_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

/* Reads exactly len bytes unless the source ends: the count read or -errno. */
static ssize_t
read_full(crypt_source_fn source, void *arg, uint8_t *buf, size_t len)
{
	size_t	 got = 0;
	ssize_t	 n;

	while (got < len) {
		n = source(arg, buf + got, len - got);
		if (n < 0)
			return n;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int
crypt_key_generate(uint8_t key[CRYPT_KEYBYTES])
{
	int	 r;

	if ((r = crypt_init()) != 0)
		return r;
	crypto_secretstream_xchacha20poly1305_keygen(key);
	return 0;
}

int
crypt_key_save(const char *path, const uint8_t key[CRYPT_KEYBYTES])
{
	char	 line[sizeof(KEY_PREFIX) + 2 * CRYPT_KEYBYTES + 2];
	char	*tmp = NULL;
	int	 fd = -1, r;
	size_t	 len;

	memcpy(line, KEY_PREFIX, sizeof(KEY_PREFIX) - 1);
	sodium_bin2hex(line + sizeof(KEY_PREFIX) - 1, 2 * CRYPT_KEYBYTES + 1,
	    key, CRYPT_KEYBYTES);
	len = strlen(line);
	line[len++] = '\n';
	xasprintf(&tmp, "%s.tmp", path);
	errno = 0;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1 || fchmod(fd, 0600) == -1 ||
	    write(fd, line, len) != (ssize_t)len || fsync(fd) == -1) {
		r = errno ? -errno : -EIO;
		goto out;
	}
	if (close(fd) == -1) {
		fd = -1;
		r = -errno;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		r = -errno;
		goto out;
	}
	r = 0;
 out:
	sodium_memzero(line, sizeof(line));
	if (fd != -1)
		close(fd);
	if (r != 0)
		unlink(tmp);
	free(tmp);
	return r;
}

int
crypt_key_load(const char *path, uint8_t key[CRYPT_KEYBYTES])
{
	char	 buf[256];
	const char *hex;
	size_t	 binlen;
	ssize_t	 n;
	int	 fd, r;

	if ((r = crypt_init()) != 0)
		return r;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r != 0)
		goto out;
	buf[n] = '\0';
	if (strncmp(buf, KEY_PREFIX, sizeof(KEY_PREFIX) - 1) != 0) {
		r = -EINVAL;
		goto out;
	}
	hex = buf + sizeof(KEY_PREFIX) - 1;
	if (strlen(hex) != 2 * CRYPT_KEYBYTES + 1 ||
	    hex[2 * CRYPT_KEYBYTES] != '\n' ||
	    sodium_hex2bin(key, CRYPT_KEYBYTES, hex, 2 * CRYPT_KEYBYTES,
	    NULL, &binlen, NULL) != 0 || binlen != CRYPT_KEYBYTES) {
		r = -EINVAL;
		goto out;
	}
	r = 0;
 out:
	sodium_memzero(buf, sizeof(buf));
	return r;
}

/*
 * The key's public id: a keyed BLAKE2b of a fixed string, so it tells
 * nothing of the key, only which objects share one. It lets a reader
 * pass over another job's objects on a shared target instead of taking
 * them for damaged ones.
 */
static void
key_id(const uint8_t key[CRYPT_KEYBYTES], uint8_t id[CRYPT_KEYIDBYTES])
{
	static const char what[] = "agentd-backup key id 1";

	crypto_generichash(id, CRYPT_KEYIDBYTES, (const uint8_t *)what,
	    sizeof(what) - 1, key, CRYPT_KEYBYTES);
}

int
crypt_writer_new(struct crypt_writer **out, const uint8_t key[CRYPT_KEYBYTES],
    const char *ad, crypt_sink_fn sink, void *arg)
{
	struct crypt_writer *w = NULL;
	uint8_t	 head[MAGIC_LEN + CRYPT_KEYIDBYTES + SS_HEADERBYTES];
	int	 r;

	*out = NULL;
	if ((r = crypt_init()) != 0)
		return r;
	w = xcalloc(1, sizeof(*w));
	w->sink = sink;
	w->arg = arg;
	w->ad = xstrdup(ad);
	memcpy(head, CRYPT_MAGIC, MAGIC_LEN);
	key_id(key, head + MAGIC_LEN);
	crypto_secretstream_xchacha20poly1305_init_push(&w->st,
	    head + MAGIC_LEN + CRYPT_KEYIDBYTES, key);
	if ((r = sink(arg, head, sizeof(head))) != 0)
		goto out;
	*out = w;
	w = NULL;	/* transferred */
 out:
	crypt_writer_free(w);
	return r;
}

/* Encrypts the buffered plaintext as one chunk with the given tag. */
static int
writer_push(struct crypt_writer *w, uint8_t tag)
{
	unsigned long long clen;

	crypto_secretstream_xchacha20poly1305_push(&w->st, w->out, &clen,
	    w->plain, w->fill, (const uint8_t *)w->ad, strlen(w->ad), tag);
	w->fill = 0;
	return w->sink(w->arg, w->out, (size_t)clen);
}

int
crypt_writer_write(struct crypt_writer *w, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t	 n;
	int	 r;

	if (w->finished)
		return -EINVAL;
	while (len > 0) {
		/* A full chunk is pushed only when more follows: the last
		 * bytes always go out with the FINAL tag. */
		if (w->fill == CRYPT_CHUNK &&
		    (r = writer_push(w, 0)) != 0)
			return r;
		n = CRYPT_CHUNK - w->fill;
		if (n > len)
			n = len;
		memcpy(w->plain + w->fill, p, n);
		w->fill += n;
		p += n;
		len -= n;
	}
	return 0;
}

int
crypt_writer_finish(struct crypt_writer *w)
{
	if (w->finished)
		return -EINVAL;
	w->finished = 1;
	return writer_push(w,
	    crypto_secretstream_xchacha20poly1305_TAG_FINAL);
}

void
crypt_writer_free(struct crypt_writer *w)
{
	if (w == NULL)
		return;
	free(w->ad);
	sodium_memzero(w, sizeof(*w));
	free(w);
}

int
crypt_reader_new(struct crypt_reader **out, const uint8_t key[CRYPT_KEYBYTES],
    const char *ad, crypt_source_fn source, void *arg)
{
	struct crypt_reader *rd = NULL;
	uint8_t	 magic[MAGIC_LEN], id[CRYPT_KEYIDBYTES], want[CRYPT_KEYIDBYTES];
	uint8_t	 head[SS_HEADERBYTES];
	ssize_t	 n;
	int	 r;

	*out = NULL;
	if ((r = crypt_init()) != 0)
		return r;
	if ((n = read_full(source, arg, magic, sizeof(magic))) < 0)
		return (int)n;
	if ((size_t)n != sizeof(magic))
		return -EBADMSG;
	if (memcmp(magic, CRYPT_MAGIC, MAGIC_LEN) != 0)
		return -EBADMSG;
	if ((n = read_full(source, arg, id, sizeof(id))) < 0)
		return (int)n;
	if ((size_t)n != sizeof(id))
		return -EBADMSG;
	key_id(key, want);
	if (sodium_memcmp(id, want, sizeof(id)) != 0)
		return -ENOKEY;
	if ((n = read_full(source, arg, head, sizeof(head))) < 0)
		return (int)n;
	if ((size_t)n != sizeof(head))
		return -EBADMSG;
	rd = xcalloc(1, sizeof(*rd));
	rd->source = source;
	rd->arg = arg;
	rd->ad = xstrdup(ad);
	if (crypto_secretstream_xchacha20poly1305_init_pull(&rd->st,
	    head, key) != 0) {
		r = -EBADMSG;
		goto out;
	}
	*out = rd;
	rd = NULL;	/* transferred */
	r = 0;
 out:
	crypt_reader_free(rd);
	return r;
}

/* Reads and opens the next chunk into rd->plain. */
static int
reader_pull(struct crypt_reader *rd)
{
	unsigned long long mlen;
	uint8_t	 tag, extra;
	ssize_t	 n;

	n = read_full(rd->source, rd->arg, rd->in, CRYPT_CHUNK + SS_ABYTES);
	if (n < 0)
		return (int)n;
	if ((size_t)n < SS_ABYTES)
		return -EBADMSG;	/* ended without a FINAL chunk */
	if (crypto_secretstream_xchacha20poly1305_pull(&rd->st, rd->plain,
	    &mlen, &tag, rd->in, (unsigned long long)n,
	    (const uint8_t *)rd->ad, strlen(rd->ad)) != 0)
		return -EBADMSG;
	if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
		/* Nothing may follow the FINAL chunk. */
		if ((n = read_full(rd->source, rd->arg, &extra, 1)) < 0)
			return (int)n;
		if (n != 0)
			return -EBADMSG;
		rd->final = 1;
	} else if (tag != 0 || mlen != CRYPT_CHUNK)
		return -EBADMSG;
	rd->pos = 0;
	rd->len = (size_t)mlen;
	return 0;
}

ssize_t
crypt_reader_read(struct crypt_reader *rd, void *buf, size_t len)
{
	size_t	 n;
	int	 r;

	while (rd->pos == rd->len) {
		if (rd->final)
			return 0;
		if ((r = reader_pull(rd)) != 0)
			return r;
	}
	n = rd->len - rd->pos;
	if (n > len)
		n = len;
	memcpy(buf, rd->plain + rd->pos, n);
	rd->pos += n;
	return (ssize_t)n;
}

void
crypt_reader_free(struct crypt_reader *rd)
{
	if (rd == NULL)
		return;
	free(rd->ad);
	sodium_memzero(rd, sizeof(*rd));
	free(rd);
}
