/*
 * identity: the file's parser (every field and its message), save and load
 * round trips, mode 0600 whatever the umask, atomic replacement, removal.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "identity.h"

#define GOOD \
	"{\"agent_id\": \"a3f1c2d4-5b6e-4f70-8a9b-0c1d2e3f4a5b\",\n" \
	" \"credential\": \"agc_Jx2mQ8vT0kP4wN6rL1sY9bF3hD7gC5zA\",\n" \
	" \"portal\": \"https://portal.example.net:8443\",\n" \
	" \"ca_file\": null, \"report_interval\": 60,\n" \
	" \"bastion_address\": \"bastion.example.net:22\",\n" \
	" \"bastion_host_key\": \"ssh-ed25519 AAAAC3Nza\",\n" \
	" \"enrolled_at\": 1795430400, \"future_field\": [1, 2]}"

static void
test_parse_good(void **state)
{
	struct identity *id = NULL;
	char err[256] = "";

	(void)state;
	if (identity_parse(GOOD, strlen(GOOD), &id, err, sizeof(err)) != 0)
		fail_msg("good file refused: %s", err);
	assert_string_equal(id->agent_id,
	    "a3f1c2d4-5b6e-4f70-8a9b-0c1d2e3f4a5b");
	assert_string_equal(id->credential,
	    "agc_Jx2mQ8vT0kP4wN6rL1sY9bF3hD7gC5zA");
	assert_string_equal(id->portal, "https://portal.example.net:8443");
	assert_null(id->ca_file);
	assert_int_equal(id->report_interval, 60);
	assert_string_equal(id->bastion_address, "bastion.example.net:22");
	assert_string_equal(id->bastion_host_key, "ssh-ed25519 AAAAC3Nza");
	assert_int_equal(id->enrolled_at, 1795430400);
	identity_free(id);
}

/* A minimal file: the optional fields absent. */
static void
test_parse_minimal(void **state)
{
	const char *t = "{\"agent_id\":\"x\",\"credential\":\"c\","
	    "\"portal\":\"https://p\",\"report_interval\":1,"
	    "\"enrolled_at\":0}";
	struct identity *id = NULL;
	char err[256] = "";

	(void)state;
	if (identity_parse(t, strlen(t), &id, err, sizeof(err)) != 0)
		fail_msg("minimal file refused: %s", err);
	assert_null(id->ca_file);
	assert_null(id->bastion_address);
	assert_null(id->bastion_host_key);
	identity_free(id);
}

static const struct {
	const char	*text;
	const char	*err;
} bad[] = {
	{ "", "not JSON: '[' or '{' expected near end of file (line 1)" },
	{ "[1]", "not a JSON object" },
	{ "{\"agent_id\":\"a\",\"agent_id\":\"b\"}", NULL },	/* duplicate */
	{ "{}", "agent_id: missing" },
	{ "{\"agent_id\": 7}", "agent_id: not a string" },
	{ "{\"agent_id\": \"\"}", "agent_id: empty, longer than 128 or not "
	    "made of letters, digits, '-', '_' and '.'" },
	{ "{\"agent_id\": \"../../etc\"}", "agent_id: empty, longer than 128 "
	    "or not made of letters, digits, '-', '_' and '.'" },
	{ "{\"agent_id\": \"..\"}", "agent_id: empty, longer than 128 "
	    "or not made of letters, digits, '-', '_' and '.'" },
	{ "{\"agent_id\": \"a\"}", "credential: missing" },
	{ "{\"agent_id\": \"a\", \"credential\": \"x\\r\\nHost: evil\"}",
	    "credential: empty, longer than 512 or not printable ASCII "
	    "without blanks" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\"}", "portal: missing" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"portal\": \"http://p\"}", "portal: must be an https:// URL "
	    "without blanks or a trailing '/' (TLS is not optional)" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"portal\": \"https://p/\"}", "portal: must be an https:// URL "
	    "without blanks or a trailing '/' (TLS is not optional)" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"portal\": \"https://\"}", "portal: must be an https:// URL "
	    "without blanks or a trailing '/' (TLS is not optional)" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"portal\": \"https://p\", \"ca_file\": \"ca.pem\"}",
	    "ca_file: not an absolute path" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"portal\": \"https://p\", \"ca_file\": 3}",
	    "ca_file: not a string" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"portal\": \"https://p\"}", "report_interval: missing" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"portal\": \"https://p\", \"report_interval\": \"60\"}",
	    "report_interval: not an integer" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"portal\": \"https://p\", \"report_interval\": 0}",
	    "report_interval: 0 is not within 1..86400 seconds" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"portal\": \"https://p\", \"report_interval\": 86401}",
	    "report_interval: 86401 is not within 1..86400 seconds" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"portal\": \"https://p\", \"report_interval\": 5, "
	    "\"bastion_address\": 22}", "bastion_address: not a string" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"portal\": \"https://p\", \"report_interval\": 5, "
	    "\"bastion_address\": \"b:22\"}",
	    "bastion_host_key: missing (bastion_address is set)" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"portal\": \"https://p\", \"report_interval\": 5, "
	    "\"bastion_address\": null, \"bastion_host_key\": \"k\"}",
	    "bastion_address: missing (bastion_host_key is set)" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"portal\": \"https://p\", \"report_interval\": 5, "
	    "\"bastion_address\": \"b:22 -oProxyCommand=x\", "
	    "\"bastion_host_key\": \"k\"}", "bastion_address: empty, too "
	    "long or not one host:port word" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"portal\": \"https://p\", \"report_interval\": 5, "
	    "\"bastion_address\": \"b:22\", \"bastion_host_key\": "
	    "\"k\\nx\"}", "bastion_host_key: empty, too long or has control "
	    "characters" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"portal\": \"https://p\", \"report_interval\": 5}",
	    "enrolled_at: missing" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"portal\": \"https://p\", \"report_interval\": 5, "
	    "\"bastion_address\": \"b:22\", \"bastion_host_key\": \"k\", "
	    "\"bastion_user\": \"a b\"}", "bastion_user: empty, longer than "
	    "64, starting with '-' or not made of letters, digits, '-', '_' "
	    "and '.'" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"portal\": \"https://p\", \"report_interval\": 5, "
	    "\"bastion_address\": \"b:22\", \"bastion_host_key\": \"k\", "
	    "\"forward_port\": 0}",
	    "forward_port: not null or an integer 1..65535" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"portal\": \"https://p\", \"report_interval\": 5, "
	    "\"forward_port\": 20001}",
	    "bastion_user and forward_port need a bastion" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"portal\": \"https://p\", \"report_interval\": 5, "
	    "\"enrolled_at\": -1}",
	    "enrolled_at: not a non-negative integer" },
};

static void
test_parse_bad(void **state)
{
	struct identity *id;
	char err[512];
	int r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		id = (struct identity *)1;
		err[0] = '\0';
		r = identity_parse(bad[i].text, strlen(bad[i].text), &id, err,
		    sizeof(err));
		if (r != -EINVAL || id != NULL)
			fail_msg("case %zu (%s): r=%d id=%p", i, bad[i].text, r,
			    (void *)id);
		if (bad[i].err == NULL) {
			if (err[0] == '\0')
				fail_msg("case %zu: no message", i);
		} else if (strcmp(err, bad[i].err) != 0)
			fail_msg("case %zu (%s):\n got '%s'\nwant '%s'", i,
			    bad[i].text, err, bad[i].err);
	}
}

static void
test_limits(void **state)
{
	char text[2048], id128[130], cred[520], err[256];
	struct identity *id = NULL;

	(void)state;
	memset(id128, 'a', 128);
	id128[128] = '\0';
	memset(cred, 'c', 512);
	cred[512] = '\0';
	snprintf(text, sizeof(text), "{\"agent_id\":\"%s\",\"credential\":"
	    "\"%s\",\"portal\":\"https://p\",\"report_interval\":86400,"
	    "\"enrolled_at\":1}", id128, cred);
	if (identity_parse(text, strlen(text), &id, err, sizeof(err)) != 0)
		fail_msg("at the limits: %s", err);
	identity_free(id);
	id128[128] = 'a';
	id128[129] = '\0';
	snprintf(text, sizeof(text), "{\"agent_id\":\"%s\"}", id128);
	assert_int_equal(identity_parse(text, strlen(text), &id, err,
	    sizeof(err)), -EINVAL);
	assert_true(strncmp(err, "agent_id:", 9) == 0);
	cred[512] = 'c';
	cred[513] = '\0';
	snprintf(text, sizeof(text), "{\"agent_id\":\"a\",\"credential\":"
	    "\"%s\"}", cred);
	assert_int_equal(identity_parse(text, strlen(text), &id, err,
	    sizeof(err)), -EINVAL);
	assert_true(strncmp(err, "credential:", 11) == 0);
}

static char tmpdir[64];

static int
setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_identity.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown_dir(void **state)
{
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/%s", tmpdir, IDENTITY_FILE);
	unlink(path);
	return rmdir(tmpdir);
}

static void
test_save_load(void **state)
{
	struct identity in = {
		.agent_id = "agent-1",
		.credential = "agc_secret",
		.portal = "https://127.0.0.1:8443",
		.ca_file = "/etc/agentd/ca.pem",
		.report_interval = 30,
		.enrolled_at = 1700000000,
	};
	struct identity *out = NULL;
	char path[128], err[256];
	struct stat st;
	mode_t old;

	(void)state;
	/* Not there yet. */
	assert_int_equal(identity_load(tmpdir, &out, err, sizeof(err)),
	    -ENOENT);
	assert_null(out);
	/* Even a umask of 0 must not widen the mode. */
	old = umask(0);
	assert_int_equal(identity_save(tmpdir, &in), 0);
	umask(old);
	snprintf(path, sizeof(path), "%s/%s", tmpdir, IDENTITY_FILE);
	assert_int_equal(stat(path, &st), 0);
	if ((st.st_mode & 07777) != 0600)
		fail_msg("mode %o, want 0600", st.st_mode & 07777);
	if (identity_load(tmpdir, &out, err, sizeof(err)) != 0)
		fail_msg("reload: %s", err);
	assert_string_equal(out->agent_id, in.agent_id);
	assert_string_equal(out->credential, in.credential);
	assert_string_equal(out->portal, in.portal);
	assert_string_equal(out->ca_file, in.ca_file);
	assert_int_equal(out->report_interval, 30);
	assert_null(out->bastion_address);
	assert_int_equal(out->enrolled_at, 1700000000);
	identity_free(out);

	/* Replacing: the new content, still 0600, no temp file left. */
	in.bastion_address = "b.example.net:22";
	in.bastion_host_key = "ssh-ed25519 AAAA";
	in.ca_file = NULL;
	assert_int_equal(identity_save(tmpdir, &in), 0);
	assert_int_equal(identity_load(tmpdir, &out, err, sizeof(err)), 0);
	assert_string_equal(out->bastion_address, "b.example.net:22");
	assert_null(out->ca_file);
	assert_null(out->bastion_user);
	assert_int_equal(out->forward_port, 0);
	identity_free(out);

	/* Issue 10: the assigned user and forward port round-trip. */
	in.bastion_user = "support";
	in.forward_port = 20001;
	assert_int_equal(identity_save(tmpdir, &in), 0);
	assert_int_equal(identity_load(tmpdir, &out, err, sizeof(err)), 0);
	assert_string_equal(out->bastion_user, "support");
	assert_int_equal(out->forward_port, 20001);
	identity_free(out);
	in.bastion_user = "-x";
	assert_int_equal(identity_save(tmpdir, &in), -EINVAL);
	in.bastion_user = NULL;
	in.forward_port = 0;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	/* What the parser would refuse is never written. */
	in.portal = "http://plain";
	assert_int_equal(identity_save(tmpdir, &in), -EINVAL);
	in.portal = "https://ok";
	in.bastion_host_key = NULL;
	assert_int_equal(identity_save(tmpdir, &in), -EINVAL);

	assert_int_equal(identity_remove(tmpdir), 0);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(identity_remove(tmpdir), 0);	/* already gone */
}

static void
test_load_errors_name_the_file(void **state)
{
	struct identity *out = NULL;
	char path[128], err[256], want[256], *big;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/%s", tmpdir, IDENTITY_FILE);
	f = fopen(path, "w");
	fputs("{\"agent_id\": \"a\", \"credential\": 5}", f);
	fclose(f);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(identity_load(tmpdir, &out, err, sizeof(err)),
	    -EINVAL);
	assert_null(out);
	snprintf(want, sizeof(want), "%s: credential: not a string", path);
	assert_string_equal(err, want);

	/* Bigger than any real identity: refused unparsed. */
	big = malloc(70000);
	memset(big, ' ', 69999);
	big[0] = '{';
	big[69998] = '}';
	big[69999] = '\0';
	f = fopen(path, "w");
	fputs(big, f);
	fclose(f);
	free(big);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(identity_load(tmpdir, &out, err, sizeof(err)),
	    -EINVAL);
	snprintf(want, sizeof(want), "%s: larger than 65536 bytes", path);
	assert_string_equal(err, want);
}

/* A credential others can read is refused, naming the file and the fix,
 * as OpenSSH refuses an UNPROTECTED PRIVATE KEY FILE. */
static void
test_load_unprotected(void **state)
{
	struct identity in = {
		.agent_id = "agent-1",
		.credential = "agc_secret",
		.portal = "https://127.0.0.1:8443",
		.report_interval = 30,
	};
	struct identity *out = NULL;
	char path[128], err[512], want[256];
	static const mode_t modes[] = { 0644, 0640, 0604, 0660 };
	size_t i;

	(void)state;
	assert_int_equal(identity_save(tmpdir, &in), 0);
	snprintf(path, sizeof(path), "%s/%s", tmpdir, IDENTITY_FILE);
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		assert_int_equal(chmod(path, modes[i]), 0);
		assert_int_equal(identity_load(tmpdir, &out, err, sizeof(err)),
		    -EINVAL);
		assert_null(out);
		snprintf(want, sizeof(want), "%s: UNPROTECTED IDENTITY FILE: "
		    "mode %04o", path, (unsigned)modes[i]);
		if (strncmp(err, want, strlen(want)) != 0)
			fail_msg("got '%s', want it to start '%s'", err, want);
		snprintf(want, sizeof(want), "chmod 600 %s", path);
		if (strstr(err, want) == NULL)
			fail_msg("'%s' does not say '%s'", err, want);
	}
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(identity_load(tmpdir, &out, err, sizeof(err)), 0);
	identity_free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_minimal),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_limits),
		cmocka_unit_test_setup_teardown(test_save_load, setup_dir,
		    teardown_dir),
		cmocka_unit_test_setup_teardown(test_load_errors_name_the_file,
		    setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_load_unprotected,
		    setup_dir, teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
