/*
 * Random tokens from gnutls_rnd, stored only as SHA-256 hashes and compared
 * in constant time, so neither the database nor timing reveals a secret.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "auth.h"

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Unpadded base64url of n bytes; out must hold 4 * ceil(n / 3) + 1. */
static void
auth_b64url(const unsigned char *in, size_t n, char *out)
{
	size_t i, o = 0;
	unsigned int v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (unsigned int)in[i] << 16 | (unsigned int)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
		out[o++] = b64url[v & 63];
	}
	if (n - i == 1) {
		v = (unsigned int)in[i] << 16;
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
	} else if (n - i == 2) {
		v = (unsigned int)in[i] << 16 | (unsigned int)in[i + 1] << 8;
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
	}
	out[o] = '\0';
}

int
auth_token_new(const char *prefix, char *out, size_t outlen)
{
	unsigned char raw[AUTH_TOKEN_BYTES];
	int r;

	if (strlen(prefix) != 3 || outlen < AUTH_TOKEN_LEN)
		return -EINVAL;
	if (gnutls_rnd(GNUTLS_RND_KEY, raw, sizeof(raw)) != 0) {
		r = -EIO;
		goto out;
	}
	memcpy(out, prefix, 3);
	out[3] = '_';
	auth_b64url(raw, sizeof(raw), out + 4);
	r = 0;
out:
	gnutls_memset(raw, 0, sizeof(raw));
	return r;
}

int
auth_hash(const char *s, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	size_t i;

	if (outlen < AUTH_HASH_LEN)
		return -EINVAL;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, s, strlen(s), md) != 0)
		return -EIO;
	for (i = 0; i < sizeof(md); i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
	return 0;
}

int
auth_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

int
auth_uuid(char *out, size_t outlen)
{
	unsigned char u[16];

	if (outlen < AUTH_UUID_LEN)
		return -EINVAL;
	if (gnutls_rnd(GNUTLS_RND_NONCE, u, sizeof(u)) != 0)
		return -EIO;
	u[6] = (u[6] & 0x0f) | 0x40;
	u[8] = (u[8] & 0x3f) | 0x80;
	snprintf(out, outlen, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5],
	    u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
	return 0;
}

const char *
auth_bearer(const char *header)
{
	if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0)
		return NULL;
	header += 7;
	while (*header == ' ')
		header++;
	return *header != '\0' ? header : NULL;
}
