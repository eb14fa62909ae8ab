/*
 * Encryption of one target object as a libsodium secretstream
 * (docs/backup-format.md, "Encryption"): a writer that encrypts a byte
 * stream into a sink, a reader that decrypts from a source and refuses any
 * tampering, truncation or reordering. Also the key file.
 */
#ifndef CRYPT_H
#define CRYPT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CRYPT_KEYBYTES	32
#define CRYPT_CHUNK	65536
/* What is written: the magic, the key's id (below), the secretstream
 * header. */
#define CRYPT_MAGIC	"AGDBENC2"
#define CRYPT_KEYIDBYTES 16

/* Where encrypted bytes go: returns 0 or -errno. */
typedef int	(*crypt_sink_fn)(void *arg, const void *buf, size_t len);
/* Where encrypted bytes come from: bytes read, 0 at end, or -errno. */
typedef ssize_t	(*crypt_source_fn)(void *arg, void *buf, size_t len);

struct crypt_writer;
struct crypt_reader;

/* A new random key. 0 or -errno (libsodium could not initialise). */
int	crypt_key_generate(uint8_t key[CRYPT_KEYBYTES]);
/* Key file (mode 0600, written atomically). 0 or -errno; a malformed
 * file is -EINVAL. */
int	crypt_key_save(const char *path, const uint8_t key[CRYPT_KEYBYTES]);
int	crypt_key_load(const char *path, uint8_t key[CRYPT_KEYBYTES]);

/* ad is the object's final name, bound to every chunk. Writes the header
 * at once; *out is freed (and wiped) by crypt_writer_free. */
int	crypt_writer_new(struct crypt_writer **out,
	    const uint8_t key[CRYPT_KEYBYTES], const char *ad,
	    crypt_sink_fn sink, void *arg);
int	crypt_writer_write(struct crypt_writer *w, const void *buf, size_t len);
/* Writes the FINAL chunk; nothing may be written after. */
int	crypt_writer_finish(struct crypt_writer *w);
void	crypt_writer_free(struct crypt_writer *w);

/* -ENOKEY when the object names another key's id (another job's object on
 * a shared target; a reader of the old format cannot tell and gives
 * -EBADMSG on the first read). */
int	crypt_reader_new(struct crypt_reader **out,
	    const uint8_t key[CRYPT_KEYBYTES], const char *ad,
	    crypt_source_fn source, void *arg);
/* Plaintext bytes, 0 once the FINAL chunk was read and the source is at its
 * end, -EBADMSG on any tampering or truncation, or -errno of the source. */
ssize_t	crypt_reader_read(struct crypt_reader *r, void *buf, size_t len);
void	crypt_reader_free(struct crypt_reader *r);

#endif
