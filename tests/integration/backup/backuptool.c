/*
 * Test driver for the backup engine (backup/): one command per run, so a
 * shell script can back up, restore, verify and list through the library
 * exactly as the programs will.
 *
 *   backuptool keygen KEYFILE
 *   backuptool backup TARGET [-k KEYFILE] [-x GLOB]... [-l LEVEL] [-t THREADS]
 *       [-1] PATH...                         prints the snapshot id
 *   backuptool restore TARGET ID DIR [-k KEYFILE] [-p PATH]... [-n]
 *   backuptool verify TARGET ID [-k KEYFILE] prints "BAD path: why" lines
 *   backuptool list TARGET
 * Exit 0 on success, 2 for a partial backup, 1 otherwise.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypt.h"
#include "log.h"
#include "restore.h"
#include "snapshot.h"
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
	const char *job = NULL;
	uint8_t	 key[CRYPT_KEYBYTES];
	struct target *t = NULL;
	size_t	 nlist = 0, i, n;
	int	 ch, r, level = 3, threads = 0, onefs = 0, dry = 0;

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
	if (optind > argc)
		usage();
	while ((ch = getopt(argc, argv, "1j:k:l:nP:p:t:x:")) != -1) {
		switch (ch) {
		case '1':
			onefs = 1;
			break;
		case 'j':
			job = optarg;
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
	target_close(t);
	return r;
}
