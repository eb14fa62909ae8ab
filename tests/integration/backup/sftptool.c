/*
 * The SFTP backend itself (target_sftp_ops, no proxy) against a real
 * server, for test_backup_sftp.sh: put and commit, commit_new on an
 * existing name (-EEXIST, nothing left), an overwriting commit, get and
 * read, list, clean of an abandoned temporary, remove.
 *   sftptool HOST_KEY_LINE KEY_FILE USER@HOST:PORT/PATH
 * Prints "ok" or why not; exit 0 or 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target.h"
#include "target_sftp.h"

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "sftptool: " __VA_ARGS__);		\
		fprintf(stderr, "\n");					\
		return 1;						\
	}								\
} while (0)

static int
put(const struct target_ops *o, void *s, const char *name, const char *text,
    int noreplace)
{
	void *p;
	int r;

	if ((r = o->put_begin(s, name, &p)) != 0)
		return r;
	if ((r = o->put_write(p, text, strlen(text))) != 0) {
		o->put_abort(p);
		return r;
	}
	return noreplace ? o->put_commit_new(p) : o->put_commit(p);
}

int
main(int argc, char **argv)
{
	const struct target_ops *o = &target_sftp_ops;
	struct sftp_conf c = { 0 };
	void *s, *g, *p;
	char buf[64], **names;
	size_t n, i;
	ssize_t got;
	int r, seen = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: sftptool HOST_KEY KEY_FILE LOCATION\n");
		return 2;
	}
	c.host_key = argv[1];
	c.key_file = argv[2];
	c.timeout = 5;
	target_sftp_configure(&c);
	r = o->open(argv[3], &s);
	CHECK(r == 0, "open: %s: %s", strerror(-r), target_sftp_error());
	CHECK((r = put(o, s, "t1", "hello", 0)) == 0, "put t1: %s",
	    strerror(-r));
	CHECK((r = put(o, s, "t1", "other", 1)) == -EEXIST, "commit_new on "
	    "an existing name: %d, not -EEXIST", r);
	CHECK((r = put(o, s, "t1", "world", 0)) == 0, "overwrite t1: %s",
	    strerror(-r));
	CHECK((r = o->get_open(s, "t1", &g)) == 0, "get t1: %s", strerror(-r));
	got = o->get_read(g, buf, sizeof(buf) - 1);
	o->get_close(g);
	CHECK(got == 5 && memcmp(buf, "world", 5) == 0, "t1 reads %zd bytes",
	    got);
	/* An abandoned upload: a leftover temporary for clean. */
	CHECK((r = o->put_begin(s, "t2", &p)) == 0, "put t2: %s",
	    strerror(-r));
	CHECK(o->put_write(p, "x", 1) == 0, "write t2");
	CHECK((r = o->list(s, &names, &n)) == 0, "list: %s", strerror(-r));
	for (i = 0; i < n; i++) {
		CHECK(strcmp(names[i], "t2") != 0, "a temporary listed");
		seen += strcmp(names[i], "t1") == 0;
	}
	target_list_free(names, n);
	CHECK(seen == 1, "t1 not listed");
	CHECK((r = o->clean(s)) == 1, "clean: %d, not 1", r);
	o->put_abort(p);
	CHECK((r = o->remove(s, "t1")) == 0, "remove t1: %s", strerror(-r));
	CHECK((r = o->get_open(s, "t1", &g)) == -ENOENT, "get of a removed "
	    "object: %d", r);
	CHECK((r = o->remove(s, "t1")) == -ENOENT, "remove again: %d", r);
	o->close(s);
	printf("ok\n");
	return 0;
}
