/*
 * kit.c: the recovery kit's text both ways (every byte of a value
 * survives), and what the parser refuses: another magic or version, a
 * missing or repeated field, a bad key, unknown fields, truncation (the
 * end count), text after end, NUL bytes, over-long lines and kits.
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

#include "kit.h"

#define KEYHEX "000102030405060708090a0b0c0d0e0f" \
	"101112131415161718191a1b1c1d1e1f"

static int
parse(const char *text, struct kit *k, char *err, size_t errlen)
{
	return kit_parse(text, strlen(text), k, err, errlen);
}

static void
test_roundtrip(void **state)
{
	struct kit k = { 0 }, b;
	char	*text = NULL, err[256];
	size_t	 len, i;

	(void)state;
	k.job = strdup("www");
	k.target = strdup("file:///srv/back up/%x");
	k.encrypted = 1;
	for (i = 0; i < CRYPT_KEYBYTES; i++)
		k.key[i] = (uint8_t)i;
	k.created = 1795712100;
	k.host_key = strdup("ssh-ed25519 AAAA");
	k.credential = strdup("-");
	kit_add_conf(&k, "[backup.www]");
	kit_add_conf(&k, "paths = '/etc' \"/srv/my data\"\n\t\xff");
	kit_add_conf(&k, "%s", "");
	assert_int_equal(kit_format(&k, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	assert_non_null(strstr(text, "\nkey " KEYHEX "\n"));
	assert_non_null(strstr(text, "\ntarget file:///srv/back%20up/%25x\n"));
	assert_int_equal(kit_parse(text, len, &b, err, sizeof(err)), 0);
	assert_string_equal(b.job, "www");
	assert_string_equal(b.target, k.target);
	assert_int_equal(b.encrypted, 1);
	assert_memory_equal(b.key, k.key, CRYPT_KEYBYTES);
	assert_int_equal(b.created, k.created);
	assert_string_equal(b.host_key, k.host_key);
	assert_string_equal(b.credential, "-");
	assert_int_equal(b.nconf, 3);
	for (i = 0; i < 3; i++)
		assert_string_equal(b.conf[i], k.conf[i]);
	kit_free(&b);
	free(text);

	/* Unencrypted, no SFTP fields. */
	k.encrypted = 0;
	free(k.host_key);
	k.host_key = NULL;
	assert_int_equal(kit_format(&k, &text, &len), 0);
	assert_non_null(strstr(text, "\nkey -\n"));
	assert_int_equal(kit_parse(text, len, &b, err, sizeof(err)), 0);
	assert_int_equal(b.encrypted, 0);
	assert_null(b.host_key);
	kit_free(&b);
	free(text);

	/* A job name that the kit cannot carry. */
	free(k.job);
	k.job = strdup("a b");
	assert_int_equal(kit_format(&k, &text, &len), -EINVAL);
	assert_null(text);
	kit_free(&k);
}

static void
test_refused(void **state)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "", "empty" },
		{ "agentd-recovery-kit 2\njob a\ntarget t\nkey -\nend 0\n",
		    "first line" },
		{ "agentd-recovery-kit 1\njob a\ntarget t\nkey -\n",
		    "truncated" },
		{ "agentd-recovery-kit 1\njob a\ntarget t\nkey -\nend 0",
		    "no newline" },
		{ "agentd-recovery-kit 1\njob a\ntarget t\nconf x\nkey -\n"
		    "end 0\n", "end count" },
		{ "agentd-recovery-kit 1\ntarget t\nkey -\nend 0\n",
		    "missing" },
		{ "agentd-recovery-kit 1\njob a\nkey -\nend 0\n", "missing" },
		{ "agentd-recovery-kit 1\njob a\ntarget t\nend 0\n",
		    "missing" },
		{ "agentd-recovery-kit 1\njob a\njob b\ntarget t\nkey -\n"
		    "end 0\n", "repeated job" },
		{ "agentd-recovery-kit 1\njob a/b\ntarget t\nkey -\nend 0\n",
		    "bad or repeated job" },
		{ "agentd-recovery-kit 1\njob a\ntarget t\nkey 00\nend 0\n",
		    "bad or repeated key" },
		{ "agentd-recovery-kit 1\njob a\ntarget t\nkey "
		    "000102030405060708090A0B0C0D0E0F"
		    "101112131415161718191a1b1c1d1e1f\nend 0\n", "key" },
		{ "agentd-recovery-kit 1\njob a\ntarget %zz\nkey -\nend 0\n",
		    "target" },
		{ "agentd-recovery-kit 1\njob a\ntarget %00\nkey -\nend 0\n",
		    "target" },
		{ "agentd-recovery-kit 1\njob a\ntarget -\nkey -\nend 0\n",
		    "target" },
		{ "agentd-recovery-kit 1\njob a\ntarget t\nkey -\nwhat x\n"
		    "end 0\n", "unknown field" },
		{ "agentd-recovery-kit 1\njob a\ntarget t u\nkey -\nend 0\n",
		    "NAME VALUE" },
		{ "agentd-recovery-kit 1\njob  a\ntarget t\nkey -\nend 0\n",
		    "NAME VALUE" },
		{ "agentd-recovery-kit 1\njob a\ntarget t\nkey -\nend 0\n"
		    "job b\n", "after end" },
		{ "agentd-recovery-kit 1\njob a\ntarget t\nkey -\nend -1\n",
		    "end count" },
		{ "agentd-recovery-kit 1\njob a\ntarget t\ncreated 1x\nkey -\n"
		    "end 0\n", "created" },
	};
	struct kit k;
	char	 err[256], *big;
	size_t	 i, n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i].text, &k, err, sizeof(err)) != -EINVAL ||
		    strstr(err, bad[i].why) == NULL)
			fail_msg("case %zu (%s): accepted or said \"%s\"", i,
			    bad[i].why, err);
		assert_null(k.job);
		assert_null(k.target);
	}
	/* A NUL byte inside a line. */
	assert_int_equal(kit_parse("agentd-recovery-kit 1\njob a\0b\n", 29, &k,
	    err, sizeof(err)), -EINVAL);
	/* An over-long line, an over-large kit. */
	n = KIT_MAX_LINE + 64;
	big = calloc(1, n + 64);
	strcpy(big, "agentd-recovery-kit 1\nconf ");
	memset(big + strlen(big), 'a', KIT_MAX_LINE);
	strcat(big, "\n");
	assert_int_equal(parse(big, &k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "too long"));
	free(big);
	assert_int_equal(kit_parse("x", KIT_MAX_SIZE + 1, &k, err,
	    sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "larger"));
}

static void
test_conf_bound(void **state)
{
	struct kit k = { 0 }, b;
	char	*text = NULL, err[256];
	size_t	 len, i;

	(void)state;
	k.job = strdup("a");
	k.target = strdup("file:///t");
	for (i = 0; i < KIT_MAX_CONF; i++)
		kit_add_conf(&k, "x = y");
	assert_int_equal(kit_format(&k, &text, &len), 0);
	assert_int_equal(kit_parse(text, len, &b, err, sizeof(err)), 0);
	assert_int_equal(b.nconf, KIT_MAX_CONF);
	kit_free(&b);
	free(text);
	kit_add_conf(&k, "one more");
	assert_int_equal(kit_format(&k, &text, &len), 0);
	assert_int_equal(kit_parse(text, len, &b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "more than"));
	free(text);
	kit_free(&k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_conf_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
