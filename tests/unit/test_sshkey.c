/*
 * sshkey: the agent's support key. The private file is what OpenSSH reads
 * (ssh-keygen -y gives back our public line), the public line is checked
 * strictly, and the pair is made once, 0600, and kept.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "sshkey.h"

static char tmpdir[] = "/tmp/test_sshkey.XXXXXX";

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

/* A fixed seed gives a fixed key: the public line is known. */
static void
test_format_public(void **state)
{
	uint8_t seed[32] = { 0 }, pk[32], sk[64];
	char pub[SSHKEY_PUB_MAX + 1];

	(void)state;
	assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
	assert_int_equal(sshkey_format_public(pk, pub, sizeof(pub)), 0);
	/* ed25519 of the all-zero seed (RFC 8032's public key for it). */
	assert_string_equal(pub, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDtqJ7z"
	    "OtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop");
	assert_true(sshkey_valid_public(pub));
	assert_int_equal(sshkey_format_public(pk, pub, 20), -ENOSPC);
}

/* OpenSSH itself reads the private file and derives our public line. */
static void
test_private_reads_in_openssh(void **state)
{
	uint8_t seed[32], pk[32], sk[64];
	char pub[SSHKEY_PUB_MAX + 1], path[256], cmd[512], got[256];
	char *text = NULL;
	FILE *p;

	(void)state;
	if (system("command -v ssh-keygen >/dev/null") != 0)
		skip();
	for (unsigned i = 0; i < 4; i++) {
		memset(seed, (int)(i * 77), sizeof(seed));
		assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
		assert_int_equal(sshkey_format_private(pk, sk, 0x01020304u * i,
		    &text), 0);
		assert_int_equal(strncmp(text,
		    "-----BEGIN OPENSSH PRIVATE KEY-----\n", 36), 0);
		/* Lines of at most 70 columns, as ssh-keygen writes them. */
		for (const char *l = text; *l != '\0';
		    l = strchr(l, '\n') + 1)
			assert_true(strcspn(l, "\n") <= 70);
		snprintf(path, sizeof(path), "%s/k%u", tmpdir, i);
		write_file(path, text, 0600);
		free(text);
		assert_int_equal(sshkey_format_public(pk, pub, sizeof(pub)),
		    0);
		snprintf(cmd, sizeof(cmd), "ssh-keygen -y -f %s 2>&1", path);
		assert_non_null(p = popen(cmd, "r"));
		got[0] = '\0';
		if (fgets(got, sizeof(got), p) == NULL)
			got[0] = '\0';
		pclose(p);
		got[strcspn(got, "\n")] = '\0';
		/* ssh-keygen appends the (empty) comment after a blank. */
		if (strncmp(got, pub, strlen(pub)) != 0)
			fail_msg("ssh-keygen -y: '%s', want '%s'", got, pub);
	}
}

static void
test_valid_public(void **state)
{
	static const char *bad[] = {
		"",
		"ssh-ed25519",
		"ssh-ed25519 ",
		"ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIDtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJ"
		    "DpjrASKGLWdop",
		/* a comment: the contract's line has none */
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDtqJ7zOtqQtYqOo0CpvDXNlMhV"
		    "3HeJDpjrASKGLWdop agent",
		/* a blob that says ssh-rsa */
		"ssh-ed25519 AAAAB3NzaC1yc2EAAAAIDtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJD"
		    "pjrASKGLWdop",
		/* one byte short */
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDtqJ7zOtqQtYqOo0CpvDXNlMhV"
		    "3HeJDpjrASKGLWc=",
		"ssh-ed25519 !!!!C3NzaC1lZDI1NTE5AAAAIDtqJ7zOtqQtYqOo0CpvDXNlMhV"
		    "3HeJDpjrASKGLWdop",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDtqJ7zOtqQtYqOo0CpvDXNlMhV"
		    "3HeJDpjrASKGLWdop\n",
	};

	(void)state;
	assert_false(sshkey_valid_public(NULL));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sshkey_valid_public(bad[i]))
			fail_msg("accepted bad line %zu: '%s'", i, bad[i]);
}

/* Made once, 0600, kept; a lost public half makes a new pair. */
static void
test_ensure(void **state)
{
	char pub[SSHKEY_PUB_MAX + 1], pub2[SSHKEY_PUB_MAX + 1], err[512];
	char path[256];
	struct stat st;
	bool created;
	mode_t old;

	(void)state;
	assert_int_equal(sshkey_read_public(tmpdir, pub, sizeof(pub), err,
	    sizeof(err)), -ENOENT);
	old = umask(0);
	if (sshkey_ensure(tmpdir, pub, sizeof(pub), &created, err,
	    sizeof(err)) != 0)
		fail_msg("ensure: %s", err);
	umask(old);
	assert_true(created);
	assert_true(sshkey_valid_public(pub));
	assert_int_equal(sshkey_private_path(tmpdir, path, sizeof(path)), 0);
	assert_int_equal(stat(path, &st), 0);
	if ((st.st_mode & 07777) != 0600)
		fail_msg("private key mode %o, want 0600", st.st_mode & 07777);
	snprintf(path, sizeof(path), "%s/%s", tmpdir, SSHKEY_DIR);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);

	assert_int_equal(sshkey_ensure(tmpdir, pub2, sizeof(pub2), &created,
	    err, sizeof(err)), 0);
	assert_false(created);
	assert_string_equal(pub, pub2);
	assert_int_equal(sshkey_read_public(tmpdir, pub2, sizeof(pub2), err,
	    sizeof(err)), 0);
	assert_string_equal(pub, pub2);

	/* A public file that is not one key line is an error, not a key. */
	snprintf(path, sizeof(path), "%s/%s/%s", tmpdir, SSHKEY_DIR,
	    SSHKEY_PUB_FILE);
	write_file(path, "ssh-ed25519 AAAA\n", 0644);
	assert_int_equal(sshkey_ensure(tmpdir, pub2, sizeof(pub2), &created,
	    err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, SSHKEY_PUB_FILE));

	/* Only the private half left: a new pair, not a mismatched one. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(sshkey_ensure(tmpdir, pub2, sizeof(pub2), &created,
	    err, sizeof(err)), 0);
	assert_true(created);
	assert_string_not_equal(pub, pub2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_public),
		cmocka_unit_test(test_private_reads_in_openssh),
		cmocka_unit_test(test_valid_public),
		cmocka_unit_test(test_ensure),
	};
	char cmd[128];
	int r;

	if (mkdtemp(tmpdir) == NULL || sodium_init() < 0)
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	return r;
}
