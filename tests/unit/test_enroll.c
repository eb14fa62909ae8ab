/*
 * enroll: the reply parser (a table of replies and the exact messages), and
 * enroll_run/enroll_revoke up to the network: everything refused locally is
 * refused before the token leaves, failures to connect and TLS failures
 * give their one-line messages, and a failed revocation keeps the identity.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "enroll.h"
#include "identity.h"

static const struct {
	const char	*body;
	const char	*err;	/* NULL: accepted */
} replies[] = {
	{ "{\"agent_id\": \"a3f1c2d4-5b6e-4f70-8a9b-0c1d2e3f4a5b\", "
	    "\"credential\": \"agc_Jx2mQ8vT0kP4wN6rL1sY9bF3hD7gC5zA\", "
	    "\"report_interval\": 60, \"bastion\": {\"address\": "
	    "\"bastion.example.net:22\", \"host_key\": "
	    "\"ssh-ed25519 AAAAC3Nza\"}}", NULL },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"report_interval\": 1, \"bastion\": null, \"new\": {}}", NULL },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"report_interval\": 86400}", NULL },
	/* Issue 10: the user and forward port assigned to the agent's key,
	 * or null when it sent none. */
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"report_interval\": 60, \"bastion\": {\"address\": \"b:22\", "
	    "\"host_key\": \"k\", \"user\": \"support\", "
	    "\"forward_port\": 20001}}", NULL },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"report_interval\": 60, \"bastion\": {\"address\": \"b:22\", "
	    "\"host_key\": \"k\", \"user\": null, \"forward_port\": null}}",
	    NULL },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"report_interval\": 60, \"bastion\": {\"address\": \"b:22\", "
	    "\"host_key\": \"k\", \"user\": \"-oProxyCommand=x\"}}",
	    "bastion.user: empty, longer than 64, starting with '-' or not "
	    "made of letters, digits, '-', '_' and '.'" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"report_interval\": 60, \"bastion\": {\"address\": \"b:22\", "
	    "\"host_key\": \"k\", \"user\": 7}}", "bastion.user: not a string" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"report_interval\": 60, \"bastion\": {\"address\": \"b:22\", "
	    "\"host_key\": \"k\", \"forward_port\": 65536}}",
	    "bastion.forward_port: not null or an integer 1..65535" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"report_interval\": 60, \"bastion\": {\"address\": \"b:22\", "
	    "\"host_key\": \"k\", \"forward_port\": \"22\"}}",
	    "bastion.forward_port: not null or an integer 1..65535" },
	{ "", "not JSON: '[' or '{' expected near end of file" },
	{ "<html>502 Bad Gateway</html>",
	    "not JSON: '[' or '{' expected near '<'" },
	{ "{\"agent_id\": \"a\"", "not JSON: '}' expected near end of file" },
	{ "\"just a string\"", "not JSON: '[' or '{' expected near "
	    "'\"just a string\"'" },
	{ "[]", "not a JSON object" },
	{ "{}", "agent_id: missing" },
	{ "{\"agent_id\": null}", "agent_id: missing" },
	{ "{\"agent_id\": 12}", "agent_id: not a string" },
	{ "{\"agent_id\": \"a/../b\"}", "agent_id: empty, longer than 128 or "
	    "not made of letters, digits, '-', '_' and '.'" },
	{ "{\"agent_id\": \"a\"}", "credential: missing" },
	{ "{\"agent_id\": \"a\", \"credential\": \"\"}", "credential: empty, "
	    "longer than 512 or not printable ASCII without blanks" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\\nX-Evil: 1\"}",
	    "credential: empty, longer than 512 or not printable ASCII "
	    "without blanks" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\"}",
	    "report_interval: missing" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"report_interval\": 60.5}", "report_interval: not an integer" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"report_interval\": -5}",
	    "report_interval: -5 is not within 1..86400 seconds" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"report_interval\": 60, \"bastion\": []}",
	    "bastion: not an object or null" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"report_interval\": 60, \"bastion\": {}}",
	    "bastion.address: missing" },
	{ "{\"agent_id\": \"a\", \"credential\": \"c\", "
	    "\"report_interval\": 60, \"bastion\": {\"address\": \"b:22\", "
	    "\"host_key\": 1}}", "bastion.host_key: not a string" },
	/* Bytes from the portal are escaped in the message. */
	{ "\x1b[2J", "not JSON: '[' or '{' expected near '\\x1b'" },
	{ "{\"agent_id\": \"a\", \"agent_id\": \"b\"}",
	    "not JSON: duplicate object key near '\"agent_id\"'" },
};

static void
test_parse_reply(void **state)
{
	struct identity id;
	char err[512];
	int r;

	(void)state;
	for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		err[0] = '\0';
		r = enroll_parse_reply(replies[i].body,
		    strlen(replies[i].body), &id, err, sizeof(err));
		if (replies[i].err == NULL) {
			if (r != 0)
				fail_msg("reply %zu refused: %s", i, err);
			assert_non_null(id.agent_id);
			assert_non_null(id.credential);
			assert_true(id.report_interval >= 1);
			free(id.agent_id);
			free(id.credential);
			free(id.bastion_address);
			free(id.bastion_host_key);
			free(id.bastion_user);
			continue;
		}
		if (r != -EBADMSG)
			fail_msg("reply %zu (%s): r=%d, want -EBADMSG", i,
			    replies[i].body, r);
		if (id.agent_id != NULL || id.credential != NULL ||
		    id.bastion_address != NULL)
			fail_msg("reply %zu: fields left set on failure", i);
		if (strcmp(err, replies[i].err) != 0)
			fail_msg("reply %zu (%s):\n got '%s'\nwant '%s'", i,
			    replies[i].body, err, replies[i].err);
	}
}

static void
test_parse_reply_fields(void **state)
{
	struct identity id;
	char err[256];

	(void)state;
	assert_int_equal(enroll_parse_reply(replies[0].body,
	    strlen(replies[0].body), &id, err, sizeof(err)), 0);
	assert_string_equal(id.agent_id,
	    "a3f1c2d4-5b6e-4f70-8a9b-0c1d2e3f4a5b");
	assert_string_equal(id.credential,
	    "agc_Jx2mQ8vT0kP4wN6rL1sY9bF3hD7gC5zA");
	assert_int_equal(id.report_interval, 60);
	assert_string_equal(id.bastion_address, "bastion.example.net:22");
	assert_string_equal(id.bastion_host_key, "ssh-ed25519 AAAAC3Nza");
	assert_null(id.portal);
	assert_null(id.ca_file);
	assert_null(id.bastion_user);
	assert_int_equal(id.forward_port, 0);
	free(id.agent_id);
	free(id.credential);
	free(id.bastion_address);
	free(id.bastion_host_key);
	free(id.bastion_user);
	/* Only len bytes count. */
	assert_int_equal(enroll_parse_reply("{}garbage", 2, &id, err,
	    sizeof(err)), -EBADMSG);
	assert_string_equal(err, "agent_id: missing");
}

/* A loopback listener nobody serves, to see whether anything connected. */
static int
listener(int *portp)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	*portp = ntohs(sin.sin_port);
	return fd;
}

static void
assert_nobody_connected(int lfd)
{
	int c = accept(lfd, NULL, NULL);

	if (c >= 0)
		fail_msg("the token went out although the enrolment was "
		    "refused locally");
	close(lfd);
}

static char dir[64];

static int
setup_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_enroll.XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown_dir(void **state)
{
	char path[128];

	(void)state;
	identity_remove(dir);
	snprintf(path, sizeof(path), "%s/state", dir);
	rmdir(path);
	return rmdir(dir);
}

static void
write_identity(const char *state_dir, const char *portal)
{
	struct identity id = {
		.agent_id = "old-agent",
		.credential = "agc_old",
		.portal = (char *)portal,
		.report_interval = 60,
		.enrolled_at = 1,
	};

	assert_int_equal(identity_save(state_dir, &id), 0);
}

static void
test_refused_locally(void **state)
{
	char url[64], err[512], want[512], path[128];
	int lfd, port, r;
	FILE *f;

	(void)state;
	lfd = listener(&port);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);

	r = enroll_run("http://127.0.0.1", "tok", NULL, NULL, dir, false, err,
	    sizeof(err));
	assert_int_equal(r, -EINVAL);
	assert_string_equal(err, "portal URL 'http://127.0.0.1' is not "
	    "https://HOST[:PORT][/PATH] (plain http is never used)");

	r = enroll_run(url, "tok en", NULL, NULL, dir, false, err, sizeof(err));
	assert_int_equal(r, -EINVAL);
	assert_string_equal(err, "the token is empty, longer than 256 or not "
	    "printable ASCII without blanks");

	r = enroll_run(url, "tok", "/nonexistent/ca.pem", NULL, dir, false, err,
	    sizeof(err));
	assert_int_equal(r, -EINVAL);
	assert_string_equal(err, "cannot use CA file /nonexistent/ca.pem: "
	    "No such file or directory");

	/* Already enrolled: refused, the identity untouched. */
	write_identity(dir, "https://old.example.net");
	r = enroll_run(url, "tok", NULL, NULL, dir, false, err, sizeof(err));
	assert_int_equal(r, -EEXIST);
	snprintf(want, sizeof(want), "already enrolled as old-agent with "
	    "https://old.example.net (%s/identity); run 'agentctl unenroll' "
	    "first, or use --force to replace it", dir);
	assert_string_equal(err, want);

	/* An unreadable identity also needs --force. */
	snprintf(path, sizeof(path), "%s/identity", dir);
	f = fopen(path, "w");
	fputs("{broken", f);
	fclose(f);
	r = enroll_run(url, "tok", NULL, NULL, dir, false, err, sizeof(err));
	assert_int_equal(r, -EEXIST);
	assert_true(strstr(err, "/identity: not JSON") != NULL);
	assert_true(strstr(err, "; --force replaces it") != NULL);

	assert_nobody_connected(lfd);
}

static void
test_connection_refused(void **state)
{
	char url[64], err[512], want[512], state_dir[128];
	int lfd, port, r;
	struct stat st;

	(void)state;
	lfd = listener(&port);
	close(lfd);	/* nothing listens there now */
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/", port);
	/* A missing state dir is made, as agentd would. */
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	r = enroll_run(url, "tok", NULL, NULL, state_dir, false, err, sizeof(err));
	assert_int_equal(r, -EHOSTUNREACH);
	snprintf(want, sizeof(want), "cannot reach the portal at "
	    "https://127.0.0.1:%d/api/v1/enroll: ", port);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("got '%s', want it to start with '%s'", err, want);
	assert_int_equal(stat(state_dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
}

/* A server that speaks plain text where TLS is expected. */
static pid_t
not_tls_server(int *portp)
{
	int lfd = listener(portp), fl;
	pid_t pid;

	fl = fcntl(lfd, F_GETFL);
	fcntl(lfd, F_SETFL, fl & ~O_NONBLOCK);
	if ((pid = fork()) == 0) {
		for (int i = 0; i < 4; i++) {
			int c = accept(lfd, NULL, NULL);
			static const char resp[] = "HTTP/1.1 400 Bad Request\r\n"
			    "Content-Length: 0\r\n\r\n";

			if (c < 0)
				_exit(1);
			if (write(c, resp, sizeof(resp) - 1) < 0)
				_exit(1);
			close(c);
		}
		_exit(0);
	}
	close(lfd);
	return pid;
}

static void
test_tls_failure(void **state)
{
	char url[64], err[1024];
	int port, r;
	pid_t pid;

	(void)state;
	pid = not_tls_server(&port);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
	r = enroll_run(url, "tok", NULL, NULL, dir, false, err, sizeof(err));
	assert_int_equal(r, -EHOSTUNREACH);
	if (strncmp(err, "TLS failure with ", 17) != 0 ||
	    strstr(err, "; if the portal's certificate is from a private CA, "
	    "pass that CA with --ca FILE") == NULL)
		fail_msg("got '%s'", err);

	/* With --ca the hint names the file. */
	r = enroll_run(url, "tok", "/etc/hostname", NULL, dir, false, err,
	    sizeof(err));
	assert_int_equal(r, -EHOSTUNREACH);
	if (strncmp(err, "TLS failure with ", 17) != 0 ||
	    strstr(err, "; is /etc/hostname the CA that signed the portal's "
	    "certificate?") == NULL)
		fail_msg("got '%s'", err);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

static void
test_revoke_local(void **state)
{
	char url[64], msg[1024], want[512], path[128];
	struct identity *id = NULL;
	int lfd, port, r;
	FILE *f;

	(void)state;
	r = enroll_revoke(dir, false, msg, sizeof(msg));
	assert_int_equal(r, -ENOENT);
	snprintf(want, sizeof(want), "not enrolled: there is no %s/identity",
	    dir);
	assert_string_equal(msg, want);

	/* Portal unreachable: kept, and said so; --force removes it. */
	lfd = listener(&port);
	close(lfd);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
	write_identity(dir, url);
	r = enroll_revoke(dir, false, msg, sizeof(msg));
	assert_int_equal(r, -EHOSTUNREACH);
	if (strstr(msg, "cannot reach the portal") == NULL ||
	    strstr(msg, "; identity kept (try again, or use --force to "
	    "remove it locally)") == NULL)
		fail_msg("got '%s'", msg);
	assert_int_equal(identity_load(dir, &id, msg, sizeof(msg)), 0);
	identity_free(id);
	r = enroll_revoke(dir, true, msg, sizeof(msg));
	assert_int_equal(r, 0);
	if (strstr(msg, "removed the identity anyway, so the portal still "
	    "counts agent old-agent as enrolled") == NULL)
		fail_msg("got '%s'", msg);
	assert_int_equal(identity_load(dir, &id, msg, sizeof(msg)), -ENOENT);

	/* An invalid file: only --force removes it. */
	snprintf(path, sizeof(path), "%s/identity", dir);
	f = fopen(path, "w");
	fputs("{}", f);
	fclose(f);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(enroll_revoke(dir, false, msg, sizeof(msg)),
	    -EINVAL);
	snprintf(want, sizeof(want), "%s/identity: agent_id: missing; "
	    "--force removes it without telling the portal", dir);
	assert_string_equal(msg, want);
	assert_int_equal(enroll_revoke(dir, true, msg, sizeof(msg)), 0);
	assert_true(access(path, F_OK) == -1);
}

/* Run as a user, an unwritable state dir is refused before the network. */
static void
test_state_dir_not_writable(void **state)
{
	char err[512], sub[128];
	int r;

	(void)state;
	if (geteuid() == 0)
		skip();	/* root writes anywhere */
	snprintf(sub, sizeof(sub), "%s/state", dir);
	assert_int_equal(mkdir(sub, 0500), 0);
	r = enroll_run("https://127.0.0.1:1", "tok", NULL, NULL, sub, false, err,
	    sizeof(err));
	assert_int_equal(r, -EACCES);
	assert_true(strstr(err, "cannot write to state directory") != NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_reply),
		cmocka_unit_test(test_parse_reply_fields),
		cmocka_unit_test_setup_teardown(test_refused_locally,
		    setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_connection_refused,
		    setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_tls_failure, setup_dir,
		    teardown_dir),
		cmocka_unit_test_setup_teardown(test_revoke_local, setup_dir,
		    teardown_dir),
		cmocka_unit_test_setup_teardown(test_state_dir_not_writable,
		    setup_dir, teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
