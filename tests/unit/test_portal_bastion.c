/*
 * Remote support in the portal's store: the ssh_key an agent enrols
 * with (ingest_ssh_key), the bastion forward port each keyed agent gets
 * (credential_enroll_key: lowest free port, exhaustion, reuse after an
 * unenrolment, kept across re-enrolment), the bastion credentials and the
 * AuthorizedKeysCommand lines.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <unistd.h>

#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "auth.h"
#include "bastionkeys.h"
#include "credential.h"
#include "ingest.h"
#include "portalfix.h"

#define B1	"AAAAC3NzaC1lZDI1NTE5AAAAILamCuYzYSzy/0br35uWk3+fflqvzg9nsbUrIIfeqpgF"
#define B2	"AAAAC3NzaC1lZDI1NTE5AAAAIKo2gQbxVqM72AKJ4kR1/htkeM36yxcbbUt619ZHLvrA"
#define B3	"AAAAC3NzaC1lZDI1NTE5AAAAIPzuWXGuq+AaLjpVFih/sVXsnwTAngCuN2If9YJBhz3r"
#define B4	"AAAAC3NzaC1lZDI1NTE5AAAAIEVvVj9iLYiWxLXzmOXQ9obDkcLexJUYw9JZ56WMu3AE"
#define B5	"AAAAC3NzaC1lZDI1NTE5AAAAIAVvL1lNtMIMP6AMQl0mVpyv9TinWo3viLFxI8Gr3Rgm"
#define K1	"ssh-ed25519 " B1
#define K2	"ssh-ed25519 " B2
#define K3	"ssh-ed25519 " B3
#define K4	"ssh-ed25519 " B4
#define K5	"ssh-ed25519 " B5

static int
key_check(const char *k, char *err, size_t errlen)
{
	return ingest_ssh_key(k, strlen(k), err, errlen);
}

static void
test_ssh_key_valid(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(key_check(K1, err, sizeof(err)), 0);
	assert_int_equal(key_check(K4, err, sizeof(err)), 0);
}

static void
test_ssh_key_invalid(void **state)
{
	static const char *const bad[] = {
		"",
		"ssh-ed25519",
		"ssh-ed25519 ",
		K1 " comment",			/* no comment */
		K1 "\n",
		" " K1,
		"ssh-ed25519  " B1,		/* two spaces */
		"ssh-ed25519\t" B1,
		"ssh-rsa " B1,
		"ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlz",
		"ssh-ed25519 " "AAAAC3NzaC1lZDI1NTE5AAAAIKo2gQbxVqM72AKJ4kR1",
		"ssh-ed25519 " B1 "AAAA",	/* a longer blob */
		/* the blob of 51 bytes, but an inner length of 33 */
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIQABAgMEBQYHCAkKCwwNDg8Q"
		    "ERITFBUWFxgZGhscHR4f",
		/* the blob says another type */
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE4AAAAIAABAgMEBQYHCAkKCwwNDg8Q"
		    "ERITFBUWFxgZGhscHR4f",
		/* base64 of the right length with a character outside it */
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILamCuYzYSzy-0br35uWk3+f"
		    "flqvzg9nsbUrIIfeqpgF",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILamCuYzYSzy/0br35uWk3+f"
		    "flqvzg9nsbUrIIfeqp==",
	};
	char err[256], big[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (key_check(bad[i], err, sizeof(err)) != -EINVAL)
			fail_msg("accepted bad key %zu: %s", i, bad[i]);
		if (strncmp(err, "ssh_key: ", 9) != 0)
			fail_msg("error for %zu does not name ssh_key: %s", i,
			    err);
	}
	/* Bounded: a long one is refused by its length, unread. */
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "ssh-ed25519 ", 12);
	assert_int_equal(key_check(big, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "at most 128 bytes"));
	/* An embedded NUL: the JSON length, not strlen, is checked. */
	assert_int_equal(ingest_ssh_key(K1 "\0x", strlen(K1) + 2, err,
	    sizeof(err)), -EINVAL);
}

static void
test_enroll_body(void **state)
{
	const char *tok, *key;
	json_t *root, *host;
	char err[256], body[512];

	(void)state;
	snprintf(body, sizeof(body), "{\"token\": \"enr_x\", \"host\": "
	    "{\"hostname\": \"h\", \"machine_id\": \"m\"}, \"ssh_key\": "
	    "\"%s\"}", K2);
	assert_int_equal(ingest_parse_enroll_key(body, strlen(body), &root,
	    &tok, &host, &key, err, sizeof(err)), 0);
	assert_string_equal(key, K2);
	json_decref(root);
	snprintf(body, sizeof(body), "{\"token\": \"enr_x\", \"host\": "
	    "{\"hostname\": \"h\", \"machine_id\": \"m\"}}");
	assert_int_equal(ingest_parse_enroll_key(body, strlen(body), &root,
	    &tok, &host, &key, err, sizeof(err)), 0);
	assert_null(key);
	json_decref(root);
	snprintf(body, sizeof(body), "{\"token\": \"enr_x\", \"host\": "
	    "{\"hostname\": \"h\", \"machine_id\": \"m\"}, \"ssh_key\": 5}");
	assert_int_equal(ingest_parse_enroll_key(body, strlen(body), &root,
	    &tok, &host, &key, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "ssh_key: expected a string");
	assert_null(root);
}

/* Enrols machine with key (NULL: none) and the range; returns the
 * result, e filled. */
static int
enrol(struct store *s, const char *machine, const char *key,
    const char *proof, int low, int high, struct credential_enrolment *e)
{
	struct credential_support sup = { key, low, high };
	char tok[AUTH_TOKEN_LEN];
	json_t *host;
	int r;

	assert_int_equal(credential_token_create(s, 3600, NULL, tok,
	    sizeof(tok)), 0);
	host = json_pack("{s:s, s:s}", "hostname", machine, "machine_id",
	    machine);
	r = credential_enroll_key(s, tok, host, proof, 60, &sup, e);
	json_decref(host);
	return r;
}

static void
test_ports(void **state)
{
	struct portalfix *f = *state;
	struct credential_enrolment a, b, c, d, a2, c2;
	char cred[AUTH_TOKEN_LEN];

	/* The fixture's agent has no key and no port. */
	assert_int_equal(enrol(f->store, "ma", K1, NULL, 40000, 40002, &a), 0);
	assert_int_equal(a.forward_port, 40000);
	assert_int_equal(enrol(f->store, "mb", K2, NULL, 40000, 40002, &b), 0);
	assert_int_equal(b.forward_port, 40001);
	/* No key: no port, and none used up. */
	assert_int_equal(enrol(f->store, "mx", NULL, NULL, 40000, 40002, &d),
	    0);
	assert_int_equal(d.forward_port, 0);
	/* No range: the key is kept, no port. */
	assert_int_equal(enrol(f->store, "my", K5, NULL, 0, 0, &d), 0);
	assert_int_equal(d.forward_port, 0);
	assert_int_equal(enrol(f->store, "mc", K3, NULL, 40000, 40002, &c), 0);
	assert_int_equal(c.forward_port, 40002);
	/* Exhausted: -ENOSPC, nothing enrolled. */
	assert_int_equal(enrol(f->store, "md", K4, NULL, 40000, 40002, &d),
	    -ENOSPC);
	assert_string_equal(d.agent_id, "");
	/* Another agent's key: refused, naming it, nothing spent. */
	assert_int_equal(enrol(f->store, "mz", K1, NULL, 0, 0, &d),
	    -ENOTUNIQ);
	assert_string_equal(d.conflict, a.agent_id);
	/* Re-enrolment (proved by its credential) keeps the port, even with
	 * the range full. */
	assert_int_equal(enrol(f->store, "mb", K2, b.credential, 40000, 40002,
	    &a2), 0);
	assert_int_equal(a2.forward_port, 40001);
	assert_string_not_equal(a2.agent_id, b.agent_id);
	/* An unenrolment frees its port for the next one: the lowest. */
	assert_int_equal(credential_unenroll(f->store, a.agent_id), 0);
	assert_int_equal(enrol(f->store, "md", K4, NULL, 40000, 40002, &d), 0);
	assert_int_equal(d.forward_port, 40000);
	/* A port outside a narrowed range is not kept. */
	snprintf(cred, sizeof(cred), "%s", c.credential);
	assert_int_equal(enrol(f->store, "mc", K3, cred, 40000, 40001, &c2),
	    -ENOSPC);
	assert_int_equal(credential_unenroll(f->store, d.agent_id), 0);
	assert_int_equal(enrol(f->store, "mc", K3, cred, 40000, 40001, &c2),
	    0);
	assert_int_equal(c2.forward_port, 40000);
}

static void
test_keys_listing(void **state)
{
	struct portalfix *f = *state;
	struct credential_enrolment a, b;
	char want[512], tok[AUTH_TOKEN_LEN], name[64], *text;
	size_t len;

	assert_int_equal(enrol(f->store, "ma", K1, NULL, 41000, 41009, &a), 0);
	assert_int_equal(enrol(f->store, "mb", K2, NULL, 41000, 41009, &b), 0);
	assert_int_equal(credential_bastion_keys(f->store, NULL, &text, &len),
	    0);
	snprintf(want, sizeof(want), "restrict,port-forwarding,permitlisten="
	    "\"127.0.0.1:41000\" %s agent-%s\nrestrict,port-forwarding,"
	    "permitlisten=\"127.0.0.1:41001\" %s agent-%s\n", K1, a.agent_id,
	    K2, b.agent_id);
	assert_string_equal(text, want);
	assert_int_equal(len, strlen(want));
	free(text);
	assert_int_equal(credential_bastion_keys(f->store, B2, &text, &len),
	    0);
	assert_non_null(strstr(text, b.agent_id));
	assert_null(strstr(text, a.agent_id));
	free(text);
	/* Revoked: gone at once. */
	assert_int_equal(credential_unenroll(f->store, b.agent_id), 0);
	assert_int_equal(credential_bastion_keys(f->store, B2, &text, &len),
	    0);
	assert_string_equal(text, "");
	assert_int_equal(len, 0);
	free(text);

	/* Bastion credentials are not operator tokens, and back. */
	assert_int_equal(credential_bastion_create(f->store, "b1", 3600, tok,
	    sizeof(tok)), 0);
	assert_memory_equal(tok, "bst_", 4);
	assert_int_equal(credential_bastion_check(f->store, tok, name,
	    sizeof(name)), 0);
	assert_string_equal(name, "b1");
	assert_int_equal(credential_operator_check(f->store, tok, name,
	    sizeof(name)), -EACCES);
	assert_int_equal(credential_bastion_create(f->store, "b1", 3600, tok,
	    sizeof(tok)), -EEXIST);
	assert_int_equal(credential_bastion_revoke(f->store, "b1"), 0);
	assert_int_equal(credential_bastion_check(f->store, tok, name,
	    sizeof(name)), -EACCES);
	assert_int_equal(credential_operator_create(f->store, "o1", 3600, tok,
	    sizeof(tok)), 0);
	assert_int_equal(credential_bastion_check(f->store, tok, name,
	    sizeof(name)), -EACCES);
}

/* Writes text to path with mode; returns path. */
static const char *
cred_file(const char *path, const char *text, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static void
test_credential_file(void **state)
{
	char dir[] = "/tmp/bastioncred.XXXXXX", path[64], link[64];
	char cred[BASTIONKEYS_MAX_CRED], err[256], big[400];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/cred", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(bastionkeys_read_credential(cred_file(path,
	    "bst_abc\n", 0600), cred, sizeof(cred), err, sizeof(err)), 0);
	assert_string_equal(cred, "bst_abc");
	assert_int_equal(bastionkeys_read_credential(cred_file(path,
	    "bst_abc", 0400), cred, sizeof(cred), err, sizeof(err)), 0);
	/* Readable by others: refused, and the error says the mode. */
	assert_int_equal(bastionkeys_read_credential(cred_file(path,
	    "bst_abc\n", 0640), cred, sizeof(cred), err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "0640"));
	assert_string_equal(cred, "");
	/* Another user's file. */
	cred_file(path, "bst_abc\n", 0600);
	if (geteuid() == 0) {
		assert_int_equal(chown(path, 65534, 65534), 0);
		assert_int_equal(bastionkeys_read_credential(path, cred,
		    sizeof(cred), err, sizeof(err)), -EPERM);
	}
	/* Not a credential of the right kind, or two lines, or too long. */
	assert_int_equal(bastionkeys_read_credential(cred_file(path,
	    "opr_abc\n", 0600), cred, sizeof(cred), err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(bastionkeys_read_credential(cred_file(path,
	    "bst_abc\nbst_def\n", 0600), cred, sizeof(cred), err,
	    sizeof(err)), -EINVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "bst_", 4);
	assert_int_equal(bastionkeys_read_credential(cred_file(path, big,
	    0600), cred, sizeof(cred), err, sizeof(err)), -EINVAL);
	/* A symbolic link is not followed. */
	cred_file(path, "bst_abc\n", 0600);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(bastionkeys_read_credential(link, cred, sizeof(cred),
	    err, sizeof(err)), -ELOOP);
	unlink(link);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ssh_key_valid),
		cmocka_unit_test(test_ssh_key_invalid),
		cmocka_unit_test(test_enroll_body),
		cmocka_unit_test(test_credential_file),
		cmocka_unit_test_setup_teardown(test_ports, portalfix_setup,
		    portalfix_teardown),
		cmocka_unit_test_setup_teardown(test_keys_listing,
		    portalfix_setup, portalfix_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
