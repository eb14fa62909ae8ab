/*
 * Test driver for the backup engine (backup/): one command per run, so a
 * shell script can back up, restore, verify and list through the library
 * exactly as the programs will.
 *
 *   backuptool keygen KEYFILE
 *   backuptool backup TARGET [-k KEYFILE] [-x GLOB]... [-l LEVEL] [-t THREADS]
 *       [-1] [-j JOB] [-P PARENT|-a] [-L LOCALLOCK] PATH...
 *                                            prints the snapshot id; -a: the
 *                                            newest of the job as parent
 *   backuptool catalog TARGET [-k KEYFILE] [-j JOB]
 *                                            "ID JOB KIND PARENT FILES STATUS"
 *   backuptool forget TARGET [-k KEYFILE] [-j JOB] [-n] -r LAST,DAILY,WEEKLY,MONTHLY
 *                                            "keep|forget ID reasons"
 *   backuptool restore TARGET ID DIR [-k KEYFILE] [-p PATH]... [-n]
 *   backuptool verify TARGET ID [-k KEYFILE] prints "BAD path: why" lines
 *   backuptool list TARGET
 *   backuptool sysrecord TARGET ID REC [-k KEYFILE]
 *                                            prints a system record (-s on
 *                                            backup writes them)
 * Exit 0 on success, 2 for a partial backup, 1 otherwise.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "crypt.h"
#include "lock.h"
#include "log.h"
#include "retention.h"
#include "restore.h"
#include "snapshot.h"
#include "sysrecord.h"
#include "target.h"
#include "verify.h"

#define MAXLIST	64

static void
usage(void)
{
	fprintf(stderr, "usage: backuptool keygen|backup|restore|verify|list"
	    " ...\n");
	exit(1);
}

static void
print_bad(void *arg, const char *path, const char *why)
{
	(void)arg;
	/* Raw bytes: the test matches names it made. */
	printf("BAD %s: %s\n", path, why);
}

static void
print_entry(void *arg, const char *path)
{
	(void)arg;
	printf("%s\n", path);
}

int
main(int argc, char **argv)
{
	const char *cmd, *keyfile = NULL, *list[MAXLIST], *parent = NULL;
	const char *job = NULL, *local = NULL, *rules = NULL;
	struct backup_lock *lk = NULL;
	struct lock_info holder;
	int	 autoparent = 0;
	char	 latest[MANIFEST_ID_MAX];	/* -a: the parent */
	uint8_t	 key[CRYPT_KEYBYTES];
	struct target *t = NULL;
	size_t	 nlist = 0, i, n;
	int	 ch, r, level = 3, threads = 0, onefs = 0, dry = 0, sys = 0;

	log_init("backuptool", LOG_TARGET_STDERR, 0);
	if (argc < 3)
		usage();
	cmd = argv[1];
	if (strcmp(cmd, "keygen") == 0) {
		if ((r = crypt_key_generate(key)) != 0 ||
		    (r = crypt_key_save(argv[2], key)) != 0) {
			fprintf(stderr, "%s: %s\n", argv[2], strerror(-r));
			return 1;
		}
		return 0;
	}
	if ((r = target_open(argv[2], &t)) != 0) {
		fprintf(stderr, "%s: %s\n", argv[2], strerror(-r));
		return 1;
	}
	optind = 3;
	if (strcmp(cmd, "restore") == 0)
		optind = 5;
	else if (strcmp(cmd, "verify") == 0)
		optind = 4;
	else if (strcmp(cmd, "sysrecord") == 0)
		optind = 5;
	if (optind > argc)
		usage();
	while ((ch = getopt(argc, argv, "1aj:k:L:l:nP:p:r:st:x:")) != -1) {
		switch (ch) {
		case '1':
			onefs = 1;
			break;
		case 'a':
			autoparent = 1;
			break;
		case 'j':
			job = optarg;
			break;
		case 'L':
			local = optarg;
			break;
		case 'r':
			rules = optarg;
			break;
		case 'P':
			parent = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'l':
			level = atoi(optarg);
			break;
		case 'n':
			dry = 1;
			break;
		case 's':
			sys = 1;
			break;
		case 't':
			threads = atoi(optarg);
			break;
		case 'p':
		case 'x':
			if (nlist == MAXLIST)
				usage();
			list[nlist++] = optarg;
			break;
		default:
			usage();
		}
	}
	if (keyfile != NULL && (r = crypt_key_load(keyfile, key)) != 0) {
		fprintf(stderr, "%s: %s\n", keyfile, strerror(-r));
		return 1;
	}
	if (local != NULL && (r = lock_acquire(t, local, job, &lk,
	    &holder)) != 0) {
		fprintf(stderr, "lock: %s (pid %ld on %s)\n", strerror(-r),
		    holder.pid, holder.host);
		return 1;
	}
	if (strcmp(cmd, "backup") == 0 && autoparent) {
		struct catalog c;

		if ((r = catalog_load(t, keyfile ? key : NULL, job, &c)) != 0) {
			fprintf(stderr, "catalog: %s\n", strerror(-r));
			return 1;
		}
		if (catalog_latest(&c) != NULL) {
			snprintf(latest, sizeof(latest), "%s",
			    catalog_latest(&c)->id);
			parent = latest;
		}
		catalog_free(&c);
	}
	if (strcmp(cmd, "backup") == 0) {
		struct snapshot_opts o = {
			.paths = (const char *const *)argv + optind,
			.npaths = (size_t)(argc - optind),
			.excludes = list,
			.nexcludes = nlist,
			.one_file_system = onefs,
			.compression = level,
			.threads = threads,
			.key = keyfile ? key : NULL,
			.parent = parent,
			.job = job,
		};
		struct snapshot_stats st;

		if ((r = snapshot_create(t, &o, &st)) != 0) {
			fprintf(stderr, "backup: %s\n", strerror(-r));
			return 1;
		}
		printf("%s\n", st.id);
		if (sys && (r = sysrecord_write(t, st.id, o.key)) < 0) {
			fprintf(stderr, "system records: %s\n", strerror(-r));
			return 1;
		}
		fprintf(stderr, "backup: %s entries %llu files %llu bytes %llu "
		    "stored %llu unchanged %llu unreadable %llu changed %llu%s\n",
		    st.id,
		    (unsigned long long)st.entries,
		    (unsigned long long)st.files,
		    (unsigned long long)st.bytes,
		    (unsigned long long)st.stored_bytes,
		    (unsigned long long)st.unchanged,
		    (unsigned long long)st.unreadable,
		    (unsigned long long)st.changed,
		    st.partial ? " partial" : "");
		r = st.partial ? 2 : 0;
	} else if (strcmp(cmd, "restore") == 0) {
		struct restore_opts o = {
			.to = argv[4],
			.paths = list,
			.npaths = nlist,
			.dry_run = dry,
			.key = keyfile ? key : NULL,
			.on_entry = dry ? print_entry : NULL,
		};
		struct restore_stats st;

		r = restore_snapshot(t, argv[3], &o, &st);
		fprintf(stderr, "restore: entries %llu files %llu bytes %llu "
		    "refused %llu mismatched %llu: %s\n",
		    (unsigned long long)st.entries,
		    (unsigned long long)st.files, (unsigned long long)st.bytes,
		    (unsigned long long)st.refused,
		    (unsigned long long)st.mismatched,
		    r ? strerror(-r) : "ok");
		r = r ? 1 : 0;
	} else if (strcmp(cmd, "verify") == 0) {
		struct verify_stats st;

		r = verify_snapshot(t, argv[3], keyfile ? key : NULL,
		    print_bad, NULL, &st);
		fprintf(stderr, "verify: entries %llu files %llu bad %llu: %s\n",
		    (unsigned long long)st.entries,
		    (unsigned long long)st.files, (unsigned long long)st.bad,
		    r ? strerror(-r) : "ok");
		r = r ? 1 : 0;
	} else if (strcmp(cmd, "catalog") == 0 || strcmp(cmd, "forget") == 0) {
		struct retention_policy pol = { 0 };
		struct catalog c;
		unsigned *keep;
		char	 why[64];

		if ((r = catalog_load(t, keyfile ? key : NULL, job, &c)) != 0)
			return 1;
		if (strcmp(cmd, "catalog") == 0) {
			for (i = 0; i < c.n; i++)
				printf("%s %s %s %s %llu %s\n", c.entries[i].id,
				    c.entries[i].job[0] ? c.entries[i].job : "-",
				    c.entries[i].incremental ? "incremental" :
				    "full", c.entries[i].parent[0] ?
				    c.entries[i].parent : "-",
				    (unsigned long long)c.entries[i].files,
				    c.entries[i].partial ? "partial" : "ok");
		} else {
			if (rules == NULL || sscanf(rules, "%u,%u,%u,%u",
			    &pol.keep_last, &pol.keep_daily, &pol.keep_weekly,
			    &pol.keep_monthly) != 4)
				usage();
			keep = calloc(c.n + 1, sizeof(*keep));
			retention_plan(&c, &pol, keep);
			for (i = 0; i < c.n; i++)
				printf("%s %s %s\n", keep[i] ? "keep" : "forget",
				    c.entries[i].id, retention_reasons(keep[i],
				    why, sizeof(why)));
			if (!dry)
				r = retention_apply(t, &c, keep, keyfile != NULL);
			free(keep);
		}
		catalog_free(&c);
		r = r ? 1 : 0;
	} else if (strcmp(cmd, "sysrecord") == 0) {
		char	*data;
		size_t	 len;

		if ((r = sysrecord_read(t, argv[3], argv[4],
		    keyfile ? key : NULL, &data, &len)) != 0) {
			fprintf(stderr, "sysrecord %s: %s\n", argv[4],
			    strerror(-r));
			return 1;
		}
		fwrite(data, 1, len, stdout);
		free(data);
	} else if (strcmp(cmd, "list") == 0) {
		char	**names;

		if ((r = target_list(t, &names, &n)) != 0) {
			fprintf(stderr, "list: %s\n", strerror(-r));
			return 1;
		}
		for (i = 0; i < n; i++)
			printf("%s\n", names[i]);
		target_list_free(names, n);
	} else
		usage();
	lock_release(lk);
	target_close(t);
	return r;
}
