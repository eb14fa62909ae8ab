/*
 * hostkey: a pinned SSH host key ("TYPE BASE64", as in known_hosts or a
 * .pub file) and its comparison with the key a server offers, byte for
 * byte, with the SHA256 fingerprints a person can compare. Used by every
 * libssh2 client of ours (the SFTP target, the support tunnel); pulls in
 * nettle's SHA-256, so only programs that check host keys link it.
 */
#ifndef HOSTKEY_H
#define HOSTKEY_H

#include <stddef.h>

#define HOSTKEY_TYPE_MAX	64	/* "ssh-ed25519", "ecdsa-sha2-nistp256" */
#define HOSTKEY_BLOB_MAX	4096	/* an RSA-16384 key is ~2 KiB */
#define HOSTKEY_TEXT_MAX	8192	/* what hostkey_parse reads at most */
#define HOSTKEY_FP_LEN		52	/* "SHA256:" + 43 + NUL, rounded */

struct hostkey {
	char		type[HOSTKEY_TYPE_MAX];
	unsigned char	blob[HOSTKEY_BLOB_MAX];
	size_t		len;
};

/*
 * Parses "TYPE BASE64[ COMMENT]" (spaces or tabs between): TYPE of 1 to 63
 * printable characters, BASE64 standard with optional '=' padding, and the
 * decoded blob must begin with TYPE as an SSH string (so the two cannot
 * disagree). Reads at most HOSTKEY_TEXT_MAX bytes. Returns 0 or -EINVAL.
 */
int	hostkey_parse(const char *text, struct hostkey *out);

/* "SHA256:" and the unpadded base64 of the blob's SHA-256, as ssh-keygen
 * -l prints it; out of at least HOSTKEY_FP_LEN bytes. */
void	hostkey_fingerprint(const unsigned char *blob, size_t len, char *out,
	    size_t outlen);

/*
 * The key a server offered against the pinned one: 0 when the blobs are
 * equal; otherwise -EPERM and err says, loudly, "HOST KEY MISMATCH for
 * HOST: expected TYPE SHA256:..., the server offered SHA256:...; refusing
 * to connect".
 */
int	hostkey_match(const struct hostkey *pinned, const char *host,
	    const unsigned char *seen, size_t seenlen, char *err,
	    size_t errlen);

#endif
