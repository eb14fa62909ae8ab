/*
 * lock.c: the lock object's text both ways and its bounds; staleness
 * (a dead pid, a reused pid, another boot id, another host); taking the
 * lock on a real file target while a live run holds it, over a dead
 * run's lock and over another boot's; the leftovers cleaned on taking it.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "lock.h"
#include "target.h"

static long
dead_pid(void)
{
	pid_t	 pid;

	if ((pid = fork()) == 0)
		_exit(0);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return (long)pid;
}

static void
test_text(void **state)
{
	static const char *bad[] = {
		"",
		"agentd-backup-lock 2\n",
		"agentd-backup-lock 1\nhost h\nboot b\npid 0\npstart 1\n"
		    "started 1\njob -\n",
		"agentd-backup-lock 1\nhost h/x\nboot b\npid 1\npstart 1\n"
		    "started 1\njob -\n",
		"agentd-backup-lock 1\nhost h\nboot b\npid 1\npstart 1\n"
		    "started 1\njob -\nextra\n",
		"agentd-backup-lock 1\nhost h\nboot b\npid 1\npstart 1\n"
		    "started 1\n",
		"agentd-backup-lock 1\nhost h\nboot b\npid 99999999999\n"
		    "pstart 1\nstarted 1\njob -\n",
	};
	struct lock_info a, b;
	char	 buf[LOCK_MAX];
	size_t	 i;
	int	 n;

	(void)state;
	assert_int_equal(lock_self(&a, "www"), 0);
	assert_int_equal(a.pid, (long)getpid());
	assert_true(a.pstart > 0);
	n = lock_format(&a, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(lock_parse(&b, buf, (size_t)n), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (lock_parse(&b, bad[i], strlen(bad[i])) != -EBADMSG)
			fail_msg("accepted: %s", bad[i]);
	assert_int_equal(lock_self(&a, "a/b"), -EINVAL);
}

static void
test_stale(void **state)
{
	struct lock_info self, h;

	(void)state;
	assert_int_equal(lock_self(&self, NULL), 0);
	h = self;
	assert_int_equal(lock_stale(&h, &self), 0);	/* this very run */
	h.pid = dead_pid();
	assert_int_equal(lock_stale(&h, &self), 1);
	h = self;
	h.pstart++;				/* the pid, reused */
	assert_int_equal(lock_stale(&h, &self), 1);
	h = self;
	snprintf(h.boot, sizeof(h.boot), "00000000-0000-0000-0000-000000000000");
	assert_int_equal(lock_stale(&h, &self), 1);
	h = self;
	h.pid = dead_pid();
	snprintf(h.host, sizeof(h.host), "another-host");
	assert_int_equal(lock_stale(&h, &self), 0);
}

static void
put_text(struct target *t, const char *name, const char *text)
{
	struct target_put *p;

	assert_int_equal(target_put_begin(t, name, &p), 0);
	assert_int_equal(target_put_write(p, text, strlen(text)), 0);
	assert_int_equal(target_put_commit(p), 0);
}

static void
test_acquire(void **state)
{
	char	 dir[] = "/tmp/test_lock.XXXXXX", url[64], local[96],
		 local2[96], path[160], buf[LOCK_MAX], cmd[128];
	struct lock_info self, h;
	struct backup_lock *l, *l2;
	struct target *t;
	struct stat st;
	int	 n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(url, sizeof(url), "file://%s/t", dir);
	snprintf(path, sizeof(path), "%s/t", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(local, sizeof(local), "%s/local.lock", dir);
	snprintf(local2, sizeof(local2), "%s/local2.lock", dir);
	assert_int_equal(target_open(url, &t), 0);

	assert_int_equal(lock_acquire(t, local, "www", &l, &h), 0);
	/* The same host: the flock says busy before the target is asked. */
	assert_int_equal(lock_acquire(t, local, "db", &l2, &h), -EBUSY);
	assert_int_equal(h.pid, 0);
	/* Another local file (as another host would have): the object
	 * names the live holder. */
	assert_int_equal(lock_acquire(t, local2, "db", &l2, &h), -EBUSY);
	assert_int_equal(h.pid, (long)getpid());
	assert_string_equal(h.job, "www");
	lock_release(l);
	snprintf(path, sizeof(path), "%s/t/lock", dir);
	assert_int_equal(stat(path, &st), -1);

	/* A SIGKILLed run's lock: its pid is gone. */
	assert_int_equal(lock_self(&self, "www"), 0);
	self.pid = dead_pid();
	n = lock_format(&self, buf, sizeof(buf));
	assert_true(n > 0);
	put_text(t, LOCK_OBJECT, buf);
	/* and its leftovers: a temporary, an archive without manifest,
	 * next to a whole snapshot that must stay */
	snprintf(path, sizeof(path), "%s/t/.tmp-x.tar.zst-1-00000000", dir);
	assert_int_equal(close(creat(path, 0600)), 0);
	put_text(t, "20261101T000000Z-00000001.tar.zst", "a");
	put_text(t, "20261101T000000Z-00000001.manifest", "m");
	put_text(t, "20261102T000000Z-00000002.tar.zst.enc", "orphan");
	assert_int_equal(lock_acquire(t, local, "www", &l, &h), 0);
	assert_int_equal(stat(path, &st), -1);
	snprintf(path, sizeof(path),
	    "%s/t/20261102T000000Z-00000002.tar.zst.enc", dir);
	assert_int_equal(stat(path, &st), -1);
	snprintf(path, sizeof(path), "%s/t/20261101T000000Z-00000001.tar.zst",
	    dir);
	assert_int_equal(stat(path, &st), 0);
	lock_release(l);

	/* A lock from before a reboot, with a pid that is alive now. */
	assert_int_equal(lock_self(&self, NULL), 0);
	snprintf(self.boot, sizeof(self.boot), "another-boot");
	n = lock_format(&self, buf, sizeof(buf));
	put_text(t, LOCK_OBJECT, buf);
	assert_int_equal(lock_acquire(t, local, NULL, &l, &h), 0);
	lock_release(l);

	/* Another host's lock is not ours to judge. */
	assert_int_equal(lock_self(&self, NULL), 0);
	snprintf(self.host, sizeof(self.host), "another-host");
	n = lock_format(&self, buf, sizeof(buf));
	put_text(t, LOCK_OBJECT, buf);
	assert_int_equal(lock_acquire(t, local, NULL, &l, &h), -EBUSY);
	assert_string_equal(h.host, "another-host");

	/* Garbage under the lock's name is not silently taken over. */
	put_text(t, LOCK_OBJECT, "not a lock\n");
	assert_int_equal(lock_acquire(t, local, NULL, &l, &h), -EBADMSG);

	target_close(t);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_stale),
		cmocka_unit_test(test_acquire),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
