/*
 * agentd-check-smart: a Nagios plugin for SMART health, shipped with agentd
 * and run by its external-check path like any check_* plugin.
 *
 *   agentd-check-smart [--smartctl PATH]
 *	runs `smartctl --scan -j`, then `smartctl -H -A -j [-d TYPE] DEV` per
 *	device. Needs what smartctl needs to open a disk (root, or
 *	CAP_SYS_RAWIO, and CAP_SYS_ADMIN for NVMe), which agentd's checks
 *	never have: under the shipped agentd.service it can only say so.
 *   agentd-check-smart --dir DIR [--max-age DURATION]
 *	judges the outputs a root timer saved (agentd-smart.timer running
 *	`agentd-check-smart --collect DIR`): DIR/NAME.json per device, older
 *	than max-age (default 2h) is UNKNOWN.
 *   agentd-check-smart --collect DIR [--smartctl PATH]
 *	runs smartctl as above and saves each device's output (temporary
 *	file, fsync, rename) as DIR/NAME.json, removing files of devices no
 *	longer found. Meant for root; exit 0, or 1 with the reason on stderr.
 *
 * Without smartctl: UNKNOWN "smartctl not installed". Outputs are read up
 * to 1 MiB each and parsed by collectors/smart.c (bounded, strict); a hung
 * smartctl is the plugin runner's timeout to end (it kills the group).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "smart.h"
#include "sysfile.h"
#include "timeutil.h"
#include "xmalloc.h"

#define SMART_OUT_MAX		(64 * 1024)	/* the plugin's own output */
#define SMART_AGE_DEFAULT	(2 * 3600)

static const char *const smart_search[] = { "/usr/sbin/smartctl",
    "/sbin/smartctl", "/usr/local/sbin/smartctl", "/usr/bin/smartctl" };

static void
usage(void)
{
	fprintf(stderr, "usage: agentd-check-smart [--smartctl PATH]\n"
	    "       agentd-check-smart --dir DIR [--max-age DURATION]\n"
	    "       agentd-check-smart --collect DIR [--smartctl PATH]\n");
	exit(3);
}

/* Prints a one-line UNKNOWN and exits 3, as the plugin API wants. */
static void
unknown(const char *fmt, ...) __attribute__((format(printf, 1, 2),
    noreturn));

static void
unknown(const char *fmt, ...)
{
	va_list ap;

	printf("SMART UNKNOWN - ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(3);
}

/* Runs argv, its stdout into *out (at most SMART_JSON_MAX + 1 bytes: more
 * is too long, and the rest is not waited for), stderr discarded.
 * Returns its exit status (0-255), or -errno when it could not run. */
static int
run_capture(char *const argv[], char **out, size_t *outlen)
{
	size_t cap = SMART_JSON_MAX + 1, len = 0;
	char *buf = xcalloc(1, cap + 1);
	int fds[2], status, devnull;
	ssize_t n;
	pid_t pid;

	*out = NULL;
	*outlen = 0;
	if (pipe2(fds, O_CLOEXEC) == -1) {
		free(buf);
		return -errno;
	}
	if ((pid = fork()) == -1) {
		close(fds[0]);
		close(fds[1]);
		free(buf);
		return -errno;
	}
	if (pid == 0) {
		devnull = open("/dev/null", O_RDWR);
		if (dup2(fds[1], STDOUT_FILENO) == -1 || devnull == -1 ||
		    dup2(devnull, STDIN_FILENO) == -1 ||
		    dup2(devnull, STDERR_FILENO) == -1)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	while (len < cap) {
		n = read(fds[0], buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (len == cap)
		kill(pid, SIGKILL);	/* too long: judged as such */
	close(fds[0]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			free(buf);
			return -errno;
		}
	*out = buf;
	*outlen = len;
	if (WIFEXITED(status))
		return WEXITSTATUS(status) == 127 ? -ENOEXEC :
		    WEXITSTATUS(status);
	return 255;
}

/* The smartctl to run: --smartctl, else the usual places. NULL if none. */
static const char *
find_smartctl(const char *given)
{
	if (given != NULL)
		return access(given, X_OK) == 0 ? given : NULL;
	for (size_t i = 0; i < sizeof(smart_search) / sizeof(smart_search[0]);
	    i++)
		if (access(smart_search[i], X_OK) == 0)
			return smart_search[i];
	return NULL;
}

/* "sda" for "/dev/sda", "bus_0" for "/dev/bus/0": the name shown, in
 * perfdata labels and in saved file names. */
static void
short_name(const char *dev, char *buf, size_t len)
{
	size_t o = 0;

	if (strncmp(dev, "/dev/", 5) == 0)
		dev += 5;
	for (; *dev != '\0' && o + 1 < len; dev++)
		buf[o++] = *dev == '/' ? '_' : *dev;
	buf[o] = '\0';
}

/* Lists the devices with `smartctl --scan -j`; exits UNKNOWN on failure. */
static size_t
scan(const char *smartctl, struct smart_device *devs)
{
	char *argv[] = { (char *)smartctl, "--scan", "-j", NULL };
	char err[SMART_WHY_MAX], *out = NULL;
	size_t len, n, skipped;
	int rc;

	if ((rc = run_capture(argv, &out, &len)) < 0)
		unknown("cannot run %s: %s", smartctl, strerror(-rc));
	if (smart_parse_scan(out, len, devs, SMART_DEVICES_MAX, &n, &skipped,
	    err, sizeof(err)) != 0)
		unknown("%s --scan: %s", smartctl, err);
	free(out);
	return n;
}

/* One device's -H -A -j output; *rc its exit status or -errno. */
static char *
read_device(const char *smartctl, const struct smart_device *d,
    size_t *len, int *rc)
{
	char *argv[8], *out = NULL;
	int a = 0;

	argv[a++] = (char *)smartctl;
	argv[a++] = "-H";
	argv[a++] = "-A";
	argv[a++] = "-j";
	if (d->type[0] != '\0') {
		argv[a++] = "-d";
		argv[a++] = (char *)d->type;
	}
	argv[a++] = (char *)d->name;
	argv[a] = NULL;
	*rc = run_capture(argv, &out, len);
	return out;
}

static int
check_live(const char *smartctl)
{
	struct smart_device devs[SMART_DEVICES_MAX];
	struct smart_health *h;
	char name[SMART_NAME_MAX], *out, *text;
	size_t n, len;
	int rc, state;

	n = scan(smartctl, devs);
	if (n == 0)
		unknown("smartctl --scan found no device");
	h = xcalloc(n, sizeof(*h));
	for (size_t i = 0; i < n; i++) {
		short_name(devs[i].name, name, sizeof(name));
		out = read_device(smartctl, &devs[i], &len, &rc);
		if (rc < 0) {
			snprintf(h[i].name, sizeof(h[i].name), "%s", name);
			h[i].state = 3;
			snprintf(h[i].why, sizeof(h[i].why), "cannot run "
			    "smartctl: %s", strerror(-rc));
		} else
			smart_judge(name, out, len, &h[i]);
		free(out);
	}
	text = xcalloc(1, SMART_OUT_MAX);
	state = smart_format(h, n, text, SMART_OUT_MAX);
	fputs(text, stdout);
	free(text);
	free(h);
	return state;
}

/* NAME.json with a NAME that --collect could have written: it becomes a
 * perfdata label and a word of the summary. */
static bool
is_json_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 5 && n - 5 < SMART_NAME_MAX &&
	    strcmp(name + n - 5, ".json") == 0 &&
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_.:-") == n;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads dir/name (regular, not a symlink, at most SMART_JSON_MAX + 1
 * bytes); its mtime into *mtime. NULL with errno on failure. */
static char *
read_saved(int dirfd, const char *name, size_t *len, time_t *mtime)
{
	size_t cap = SMART_JSON_MAX + 1;
	char *buf = NULL;
	struct stat st;
	ssize_t n;
	int fd, saved;

	*len = 0;
	if ((fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1)
		saved = errno;
	else if (!S_ISREG(st.st_mode))
		saved = EINVAL;		/* a directory, a FIFO, ... */
	else
		saved = 0;
	if (saved != 0) {
		close(fd);
		errno = saved;
		return NULL;
	}
	*mtime = st.st_mtime;
	buf = xcalloc(1, cap + 1);
	while (*len < cap) {
		n = read(fd, buf + *len, cap - *len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*len += (size_t)n;
	}
	close(fd);
	return buf;
}

static int
check_dir(const char *dir, unsigned max_age)
{
	struct smart_health *h;
	char *names[SMART_DEVICES_MAX], *buf, *text, stem[SMART_NAME_MAX];
	size_t n = 0, more = 0, len;
	struct dirent *e;
	time_t now = time(NULL), mtime = 0;
	DIR *d;
	int state;

	if ((d = opendir(dir)) == NULL)
		unknown("%s: %s (is agentd-smart.timer enabled?)", dir,
		    strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (!is_json_name(e->d_name))
			continue;
		if (n == SMART_DEVICES_MAX) {
			more++;
			continue;
		}
		names[n++] = xstrdup(e->d_name);
	}
	if (n == 0)
		unknown("no SMART data in %s (is agentd-smart.timer "
		    "enabled?)", dir);
	qsort(names, n, sizeof(names[0]), by_name);
	h = xcalloc(n, sizeof(*h));
	for (size_t i = 0; i < n; i++) {
		snprintf(stem, sizeof(stem), "%.*s",
		    (int)(strlen(names[i]) - 5), names[i]);
		if ((buf = read_saved(dirfd(d), names[i], &len, &mtime)) ==
		    NULL) {
			snprintf(h[i].name, sizeof(h[i].name), "%s", stem);
			h[i].state = 3;
			snprintf(h[i].why, sizeof(h[i].why), "cannot read "
			    "%s/%s: %s", dir, names[i], strerror(errno));
		} else if (max_age > 0 && now - mtime > (time_t)max_age) {
			snprintf(h[i].name, sizeof(h[i].name), "%s", stem);
			h[i].state = 3;
			snprintf(h[i].why, sizeof(h[i].why), "saved %lld min "
			    "ago, more than --max-age (is agentd-smart.timer "
			    "running?)", (long long)(now - mtime) / 60);
		} else
			smart_judge(stem, buf, len, &h[i]);
		free(buf);
		free(names[i]);
	}
	closedir(d);
	text = xcalloc(1, SMART_OUT_MAX);
	state = smart_format(h, n, text, SMART_OUT_MAX);
	fputs(text, stdout);
	if (more > 0)
		printf("%zu more files in %s not read\n", more, dir);
	free(text);
	free(h);
	return state;
}

/* Saves every device's output in dir; removes files of devices gone. */
static int
collect(const char *smartctl, const char *dir)
{
	struct smart_device devs[SMART_DEVICES_MAX];
	char name[SMART_NAME_MAX], file[SMART_NAME_MAX + 8], *out;
	size_t n, len;
	int rc, r, failed = 0;
	struct dirent *e;
	DIR *d;

	n = scan(smartctl, devs);
	for (size_t i = 0; i < n; i++) {
		short_name(devs[i].name, name, sizeof(name));
		snprintf(file, sizeof(file), "%s.json", name);
		out = read_device(smartctl, &devs[i], &len, &rc);
		if (rc < 0 || len > SMART_JSON_MAX) {
			fprintf(stderr, "agentd-check-smart: %s: %s\n",
			    devs[i].name, rc < 0 ? strerror(-rc) :
			    "output too long");
			failed = 1;
		} else if ((r = sysfile_write_atomic(dir, file, out,
		    0644)) != 0) {
			fprintf(stderr, "agentd-check-smart: %s/%s: %s\n", dir,
			    file, strerror(-r));
			failed = 1;
		}
		free(out);
	}
	if ((d = opendir(dir)) == NULL)
		return 1;
	while ((e = readdir(d)) != NULL) {
		bool found = false;

		if (!is_json_name(e->d_name))
			continue;
		for (size_t i = 0; i < n && !found; i++) {
			short_name(devs[i].name, name, sizeof(name));
			snprintf(file, sizeof(file), "%s.json", name);
			found = strcmp(file, e->d_name) == 0;
		}
		if (!found)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
	return failed;
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "smartctl", required_argument, NULL, 's' },
		{ "dir", required_argument, NULL, 'd' },
		{ "max-age", required_argument, NULL, 'a' },
		{ "collect", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *given = NULL, *dir = NULL, *collect_dir = NULL, *smartctl;
	unsigned max_age = SMART_AGE_DEFAULT;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			given = optarg;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'c':
			collect_dir = optarg;
			break;
		case 'a':
			if (time_parse_duration(optarg, &max_age) != 0)
				unknown("--max-age: '%s' is not a duration",
				    optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || (dir != NULL && collect_dir != NULL) ||
	    (dir != NULL && given != NULL))
		usage();
	if (dir != NULL)
		return check_dir(dir, max_age);
	if ((smartctl = find_smartctl(given)) == NULL) {
		if (collect_dir != NULL) {
			fprintf(stderr, "agentd-check-smart: smartctl not "
			    "installed (smartmontools)\n");
			return 1;
		}
		unknown("smartctl not installed (smartmontools)");
	}
	if (collect_dir != NULL)
		return collect(smartctl, collect_dir);
	return check_live(smartctl);
}
