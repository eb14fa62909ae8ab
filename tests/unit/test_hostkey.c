/*
 * hostkey.c: parsing a pinned "TYPE BASE64" key (real keys, comments,
 * tabs, padding, and every malformed shape: no blank, bad base64, data
 * after padding, a blob whose type disagrees, oversized input), the
 * SHA256 fingerprint against ssh-keygen's, and the mismatch message.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hostkey.h"

/* ssh-keygen -t ed25519; its fingerprint as ssh-keygen -l prints it. */
#define ED_B64	"AAAAC3NzaC1lZDI1NTE5AAAAIOhGVuW6mlqi0IJh2MjFfVXRd5B0vaQ0J80ni/nIvQYP"
#define ED_KEY	"ssh-ed25519 " ED_B64
#define ED_FP	"SHA256:NDMI9GkTGSJGFBnTvQEjscbxNRnsYv0L3B7eZaotwQw"

static void
test_parse_ok(void **state)
{
	struct hostkey k;

	(void)state;
	assert_int_equal(hostkey_parse(ED_KEY, &k), 0);
	assert_string_equal(k.type, "ssh-ed25519");
	assert_int_equal(k.len, 51);	/* 4+11 + 4+32 */
	assert_int_equal(hostkey_parse(ED_KEY " root@host", &k), 0);
	assert_int_equal(hostkey_parse("ssh-ed25519\t " ED_B64 "\n", &k), 0);
	assert_int_equal(k.len, 51);
}

static void
test_parse_bad(void **state)
{
	static const char *bad[] = {
		"",
		"ssh-ed25519",
		"ssh-ed25519 ",
		" " ED_B64,
		"ssh-rsa " ED_B64,		/* the blob says ed25519 */
		"ssh-ed25519 " ED_B64 "=",	/* padding on a full group */
		"ssh-ed25519 AAAA*AAA",
		"ssh-ed25519 AA=A",		/* data after padding */
		"ssh-ed25519 A",		/* a lone sextet */
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5",	/* type only, cut */
		"ssh-ed\x01" "25519 " ED_B64,
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		    "AAAAAAAA " ED_B64,	/* a type of 72 characters */
	};
	struct hostkey k;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (hostkey_parse(bad[i], &k) != -EINVAL)
			fail_msg("accepted: \"%s\"", bad[i]);
		assert_int_equal(k.len, 0);
	}
	assert_int_equal(hostkey_parse(NULL, &k), -EINVAL);
}

/* A blob bigger than HOSTKEY_BLOB_MAX, and text past HOSTKEY_TEXT_MAX:
 * refused, nothing written past the buffers (valgrind, ASan). */
static void
test_parse_oversized(void **state)
{
	size_t n = HOSTKEY_TEXT_MAX + 100, i;
	char *s = malloc(n + 1);
	struct hostkey k;

	(void)state;
	assert_non_null(s);
	memcpy(s, "ssh-ed25519 ", 12);
	for (i = 12; i < n; i++)
		s[i] = 'A';
	s[n] = '\0';
	assert_int_equal(hostkey_parse(s, &k), -EINVAL);
	s[12 + (HOSTKEY_BLOB_MAX + 8) / 3 * 4] = '\0';	/* fits the text */
	assert_int_equal(hostkey_parse(s, &k), -EINVAL);
	free(s);
}

static void
test_fingerprint(void **state)
{
	struct hostkey k;
	char fp[HOSTKEY_FP_LEN];

	(void)state;
	assert_int_equal(hostkey_parse(ED_KEY, &k), 0);
	hostkey_fingerprint(k.blob, k.len, fp, sizeof(fp));
	assert_string_equal(fp, ED_FP);
	/* A short buffer is cut, terminated. */
	hostkey_fingerprint(k.blob, k.len, fp, 10);
	assert_string_equal(fp, "SHA256:ND");
}

static void
test_match(void **state)
{
	struct hostkey k, other;
	char err[512], want[HOSTKEY_FP_LEN], got[HOSTKEY_FP_LEN], expect[512];

	(void)state;
	assert_int_equal(hostkey_parse(ED_KEY, &k), 0);
	assert_int_equal(hostkey_match(&k, "b.example", k.blob, k.len, err,
	    sizeof(err)), 0);
	other = k;
	other.blob[k.len - 1] ^= 1;
	assert_int_equal(hostkey_match(&k, "b.example", other.blob, other.len,
	    err, sizeof(err)), -EPERM);
	hostkey_fingerprint(k.blob, k.len, want, sizeof(want));
	hostkey_fingerprint(other.blob, other.len, got, sizeof(got));
	snprintf(expect, sizeof(expect), "HOST KEY MISMATCH for b.example: "
	    "expected ssh-ed25519 %s, the server offered %s; refusing to "
	    "connect", want, got);
	assert_string_equal(err, expect);
	/* A shorter blob with the same start is a mismatch too. */
	assert_int_equal(hostkey_match(&k, "h", k.blob, k.len - 1, err,
	    sizeof(err)), -EPERM);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_oversized),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
