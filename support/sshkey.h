/*
 * sshkey: the agent's own ed25519 key for the support bastion. Made once
 * with libsodium, kept in state_dir/support/id_ed25519 (OpenSSH's
 * "openssh-key-v1" form, unencrypted, as libssh2 1.10 and ssh-keygen read
 * it; 0600) and id_ed25519.pub ("ssh-ed25519 BASE64", no comment: the
 * form the enrolment request sends and a bastion's authorized_keys takes).
 */
#ifndef SSHKEY_H
#define SSHKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SSHKEY_DIR		"support"
#define SSHKEY_FILE		"id_ed25519"
#define SSHKEY_PUB_FILE		"id_ed25519.pub"
/* "ssh-ed25519 " and the base64 of the 51-byte blob: 80 bytes. */
#define SSHKEY_PUB_MAX		128

/*
 * The public line of the key pk (32 bytes): "ssh-ed25519 BASE64". Returns
 * 0 or -ENOSPC if it does not fit in publen.
 */
int	sshkey_format_public(const uint8_t pk[32], char *pub, size_t publen);

/*
 * The private key file's text for the pair (pk, sk: libsodium's 64-byte
 * secret key, seed then pk), "-----BEGIN OPENSSH PRIVATE KEY-----" and
 * the unencrypted openssh-key-v1 blob in 70-column base64; checkint is
 * the blob's check word (random in a real key). *textp is heap, wiped
 * and freed by the caller. Returns 0 or -ENOMEM.
 */
int	sshkey_format_private(const uint8_t pk[32], const uint8_t sk[64],
	    uint32_t checkint, char **textp);

/* Is line exactly "ssh-ed25519 BASE64" of a 32-byte key, nothing else? */
bool	sshkey_valid_public(const char *line);

/*
 * Makes state_dir/support/id_ed25519 and .pub unless both are there
 * (written atomically, the private one 0600; directory and files owned
 * as state_dir is, so agentd's helper can read what root made), and puts
 * the public line in pub. *created says whether it was made now. Returns
 * 0 or a -errno with err saying which file and why.
 */
int	sshkey_ensure(const char *state_dir, char *pub, size_t publen,
	    bool *created, char *err, size_t errlen);

/* Reads the public line back; -ENOENT if there is no key yet, -EINVAL
 * if the file is not one line sshkey_valid_public takes. */
int	sshkey_read_public(const char *state_dir, char *pub, size_t publen,
	    char *err, size_t errlen);

/* state_dir/support/id_ed25519 into path; -ENAMETOOLONG or 0. */
int	sshkey_private_path(const char *state_dir, char *path, size_t len);

#endif
