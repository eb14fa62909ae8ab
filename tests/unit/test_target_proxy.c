/*
 * target_proxy.c: the reader's side against a child serving the file
 * target (every operation through the frames, commit_new's -EEXIST, the
 * open error text), and against a hostile child whose replies break the
 * rules (a listed name with a '/', names out of order, a read longer than
 * asked, a status out of range): each ends the conversation with -EPROTO
 * and every later call fails.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "target.h"
#include "target_proxy.h"

static const char *
child_err(void)
{
	return "a reason\nwith a newline";
}

static pid_t
serve_file(void)
{
	int sv[2];
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	if ((pid = fork()) == 0) {
		close(sv[0]);
		target_proxy_serve(sv[1], &target_file_ops, child_err);
		_exit(0);
	}
	close(sv[1]);
	target_proxy_attach(sv[0], pid, 5);
	return pid;
}

static void
test_round_trip(void **state)
{
	char dir[] = "/tmp/test_proxy.XXXXXX", url[64], buf[16], **names;
	struct target *t;
	struct target_put *p;
	struct target_get *g;
	size_t n;
	pid_t pid;
	int status;

	(void)state;
	assert_non_null(mkdtemp(dir));
	pid = serve_file();
	/* The child's open error comes back, made printable. */
	assert_int_equal(target_open("sftp://relative", &t), -EINVAL);
	assert_string_equal(target_proxy_error(), "a reason?with a newline");
	snprintf(url, sizeof(url), "sftp://%s", dir);
	assert_int_equal(target_open(url, &t), 0);

	assert_int_equal(target_put_begin(t, "obj", &p), 0);
	assert_int_equal(target_put_write(p, "hello", 5), 0);
	assert_int_equal(target_put_commit(p), 0);
	assert_int_equal(target_put_begin(t, "obj", &p), 0);
	assert_int_equal(target_put_write(p, "other", 5), 0);
	assert_int_equal(target_put_commit_new(p), -EEXIST);
	assert_int_equal(target_put_begin(t, "aaa", &p), 0);
	target_put_abort(p);

	assert_int_equal(target_list(t, &names, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "obj");
	target_list_free(names, n);

	assert_int_equal(target_get_open(t, "obj", &g), 0);
	assert_int_equal(target_get_read(g, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(target_get_read(g, buf, sizeof(buf)), 0);
	target_get_close(g);
	assert_int_equal(target_get_open(t, "nope", &g), -ENOENT);
	assert_int_equal(target_clean(t), 0);
	assert_int_equal(target_remove(t, "obj"), 0);
	target_close(t);
	target_proxy_detach();
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	rmdir(dir);
}

/* A child that answers open with 0 and the next request with reply. */
static pid_t
serve_hostile(const void *reply, size_t len)
{
	unsigned char hdr[9], ok[8] = { 0 }, junk[4096];
	int sv[2];
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	if ((pid = fork()) == 0) {
		close(sv[0]);
		for (int i = 0; i < 2; i++) {
			size_t want;

			if (read(sv[1], hdr, 9) != 9)
				_exit(1);
			want = (size_t)hdr[5] << 24 | (size_t)hdr[6] << 16 |
			    (size_t)hdr[7] << 8 | hdr[8];
			if (want > sizeof(junk) ||
			    (want > 0 && read(sv[1], junk, want) !=
			    (ssize_t)want))
				_exit(1);
			if (write(sv[1], i == 0 ? (const void *)ok : reply,
			    i == 0 ? 8 : len) < 0)
				_exit(1);
		}
		pause();
		_exit(0);
	}
	close(sv[1]);
	target_proxy_attach(sv[0], pid, 5);
	return pid;
}

static void
hostile(const void *reply, size_t len, int list)
{
	struct target *t;
	char **names, buf[8];
	struct target_get *g;
	size_t n;
	pid_t pid = serve_hostile(reply, len);
	int status;

	assert_int_equal(target_open("sftp:///x", &t), 0);
	if (list)
		assert_int_equal(target_list(t, &names, &n), -EPROTO);
	else
		/* A get_open answered with a bad status or handle. */
		assert_int_equal(target_get_open(t, "obj", &g), -EPROTO);
	(void)buf;
	/* The child was killed; nothing more goes through. */
	assert_int_equal(target_remove(t, "obj"), -ECONNABORTED);
	target_close(t);
	target_proxy_detach();
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static void
test_hostile_list(void **state)
{
	/* Two names claimed, one with a '/'. */
	static const unsigned char slash[] = { 0, 0, 0, 2, 0, 0, 0, 8,
	    'a', 0, '.', '.', '/', 'x', 'y', 0 };
	/* Out of order. */
	static const unsigned char order[] = { 0, 0, 0, 2, 0, 0, 0, 4,
	    'b', 0, 'a', 0 };
	/* A count unlike the names. */
	static const unsigned char count[] = { 0, 0, 0, 3, 0, 0, 0, 4,
	    'a', 0, 'b', 0 };
	/* A name without its NUL. */
	static const unsigned char nonul[] = { 0, 0, 0, 1, 0, 0, 0, 2,
	    'a', 'b' };

	(void)state;
	hostile(slash, sizeof(slash), 1);
	hostile(order, sizeof(order), 1);
	hostile(count, sizeof(count), 1);
	hostile(nonul, sizeof(nonul), 1);
}

static void
test_hostile_status(void **state)
{
	/* A status below -4095. */
	static const unsigned char low[] = { 0xff, 0xff, 0x00, 0x00, 0, 0, 0,
	    0 };
	/* A handle beyond the table. */
	static const unsigned char handle[] = { 0, 0, 1, 0, 0, 0, 0, 0 };
	/* A payload where none was asked. */
	static const unsigned char payload[] = { 0, 0, 0, 0, 0, 0, 0, 1, 'x' };

	(void)state;
	hostile(low, sizeof(low), 0);
	hostile(handle, sizeof(handle), 0);
	hostile(payload, sizeof(payload), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_hostile_list),
		cmocka_unit_test(test_hostile_status),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
