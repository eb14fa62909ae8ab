/*
 * hostkey: parsing a pinned "TYPE BASE64" host key, fingerprints, and the
 * exact comparison with what a server offers (see hostkey.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <nettle/sha2.h>

#include "hostkey.h"

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64value(unsigned char c)
{
	const char *p;

	if (c == '\0' || (p = strchr(b64chars, c)) == NULL)
		return -1;
	return (int)(p - b64chars);
}

/* Standard base64 of n bytes at src (stops at a blank or NUL); padding
 * optional but, if present, exact. Returns the decoded length or -1. */
static int
b64decode(const char *src, size_t n, unsigned char *dst, size_t dstlen)
{
	uint32_t acc = 0;
	size_t i, out = 0, pad = 0, bits = 0;
	int v;

	for (i = 0; i < n; i++) {
		if (src[i] == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || (v = b64value((unsigned char)src[i])) < 0)
			return -1;	/* data after padding, or not base64 */
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (out == dstlen)
				return -1;
			dst[out++] = (unsigned char)(acc >> bits);
		}
	}
	/* Leftover bits must be zero and the padding must fit the length. */
	if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0 || pad > 2 ||
	    (pad > 0 && (n % 4) != 0))
		return -1;
	return (int)out;
}

int
hostkey_parse(const char *text, struct hostkey *out)
{
	size_t tlen, blen, n;
	const char *p;
	int len;

	memset(out, 0, sizeof(*out));
	if (text == NULL || (n = strnlen(text, HOSTKEY_TEXT_MAX)) ==
	    HOSTKEY_TEXT_MAX)
		return -EINVAL;
	tlen = strcspn(text, " \t");
	if (tlen == 0 || tlen >= sizeof(out->type) || tlen == n)
		return -EINVAL;
	for (p = text; p < text + tlen; p++)
		if (*p <= ' ' || *p > '~')
			return -EINVAL;
	memcpy(out->type, text, tlen);
	p = text + tlen + strspn(text + tlen, " \t");
	blen = strcspn(p, " \t\r\n");
	/* Anything after the blob must be a blank-separated comment. */
	if (blen == 0 || (len = b64decode(p, blen, out->blob,
	    sizeof(out->blob))) < 0)
		goto bad;
	out->len = (size_t)len;
	/* The blob names its own type, string(type), and has a key after. */
	if (out->len <= 4 + tlen || out->blob[0] != 0 || out->blob[1] != 0 ||
	    ((size_t)out->blob[2] << 8 | out->blob[3]) != tlen ||
	    memcmp(out->blob + 4, out->type, tlen) != 0)
		goto bad;
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

void
hostkey_fingerprint(const unsigned char *blob, size_t len, char *out,
    size_t outlen)
{
	struct sha256_ctx ctx;
	unsigned char h[SHA256_DIGEST_SIZE];
	char b64[48];
	size_t i, o = 0;
	uint32_t v;

	sha256_init(&ctx);
	sha256_update(&ctx, len, blob);
	sha256_digest(&ctx, sizeof(h), h);
	/* 32 bytes: ten full groups and two bytes, unpadded (43 chars). */
	for (i = 0; i + 2 < sizeof(h); i += 3) {
		v = (uint32_t)h[i] << 16 | (uint32_t)h[i + 1] << 8 | h[i + 2];
		b64[o++] = b64chars[v >> 18 & 63];
		b64[o++] = b64chars[v >> 12 & 63];
		b64[o++] = b64chars[v >> 6 & 63];
		b64[o++] = b64chars[v & 63];
	}
	v = (uint32_t)h[i] << 16 | (uint32_t)h[i + 1] << 8;
	b64[o++] = b64chars[v >> 18 & 63];
	b64[o++] = b64chars[v >> 12 & 63];
	b64[o++] = b64chars[v >> 6 & 63];
	b64[o] = '\0';
	snprintf(out, outlen, "SHA256:%s", b64);
}

int
hostkey_match(const struct hostkey *pinned, const char *host,
    const unsigned char *seen, size_t seenlen, char *err, size_t errlen)
{
	char want[HOSTKEY_FP_LEN], got[HOSTKEY_FP_LEN];

	/* The blob begins with the type's name: equal blobs, equal types. */
	if (pinned->len == seenlen && memcmp(pinned->blob, seen, seenlen) == 0)
		return 0;
	hostkey_fingerprint(pinned->blob, pinned->len, want, sizeof(want));
	hostkey_fingerprint(seen, seenlen, got, sizeof(got));
	snprintf(err, errlen, "HOST KEY MISMATCH for %s: expected %s %s, the "
	    "server offered %s; refusing to connect", host, pinned->type, want,
	    got);
	return -EPERM;
}
