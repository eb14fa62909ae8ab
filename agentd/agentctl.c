/*
 * agentctl: the admin's CLI over agentd's control socket (JSON lines).
 * Exit codes: `check run` exits with the check's state (0-3, like a
 * plugin); otherwise 0 ok, 1 the agent refused (e.g. a rejected reload),
 * 64 usage, 69 agent not reachable, 76 a reply we cannot read.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "control.h"
#include "log.h"
#include "xmalloc.h"

#define EXIT_REFUSED	1
#define EXIT_USAGE	64
#define EXIT_UNAVAIL	69
#define EXIT_PROTOCOL	76
/* A check run waits for the check: timeouts are at most 1 h. */
#define REPLY_TIMEOUT_MS (3700 * 1000)

static const char *ctl_socket = "/run/agentd/control.sock";

static void
ctl_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: agentctl [--socket PATH] COMMAND\n"
	    "  status             agent version, uptime, config and every "
	    "check's state\n"
	    "  checks [--json]    every check with its summary, long text and "
	    "perfdata\n"
	    "  check run NAME     run a check now and print its result (exit "
	    "code = state)\n"
	    "  reload             re-read the config (the running one stays if "
	    "the new one is bad)\n"
	    "  version            agentctl's version\n"
	    "The socket is %s unless --socket or $AGENTD_CONTROL_SOCKET says "
	    "otherwise.\n", ctl_socket);
}

/* Sends one request, returns the parsed reply or exits with a message. */
static json_t *
ctl_call(json_t *req)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char *line, buf[CONTROL_LINE_MAX];
	size_t len = 0;
	json_error_t jerr;
	json_t *reply;
	int fd;

	if (strlen(ctl_socket) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "agentctl: socket path too long\n");
		exit(EXIT_USAGE);
	}
	strcpy(sun.sun_path, ctl_socket);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "agentctl: cannot reach agentd at %s: %s%s\n",
		    ctl_socket, strerror(errno), errno == EACCES ?
		    " (are you root or in group agentd-admin?)" :
		    errno == ENOENT || errno == ECONNREFUSED ?
		    " (is agentd running?)" : "");
		exit(EXIT_UNAVAIL);
	}
	line = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (line == NULL || dprintf(fd, "%s\n", line) < 0) {
		fprintf(stderr, "agentctl: cannot send to agentd: %s\n",
		    strerror(errno));
		exit(EXIT_UNAVAIL);
	}
	free(line);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, REPLY_TIMEOUT_MS) == 0) {
			fprintf(stderr, "agentctl: no reply from agentd\n");
			exit(EXIT_UNAVAIL);
		}
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "agentctl: agentd closed the connection "
			    "without a reply\n");
			exit(EXIT_PROTOCOL);
		}
		len += (size_t)n;
		if (memchr(buf, '\n', len) != NULL)
			break;
		if (len == sizeof(buf) - 1) {
			fprintf(stderr, "agentctl: reply too long\n");
			exit(EXIT_PROTOCOL);
		}
	}
	close(fd);
	reply = json_loadb(buf, (size_t)((char *)memchr(buf, '\n', len) - buf),
	    0, &jerr);
	if (!json_is_object(reply)) {
		fprintf(stderr, "agentctl: malformed reply from agentd: %s\n",
		    jerr.text);
		exit(EXIT_PROTOCOL);
	}
	return reply;
}

/* Checks the reply's "ok"; prints the agent's error and exits if false. */
static json_t *
ctl_request(const char *cmd, const char *name)
{
	json_t *req = json_object(), *reply, *errs, *e;
	const char *msg;
	size_t i;

	json_object_set_new(req, "cmd", json_string(cmd));
	if (name != NULL)
		json_object_set_new(req, "name", json_string(name));
	reply = ctl_call(req);
	if (json_is_true(json_object_get(reply, "ok")))
		return reply;
	msg = json_string_value(json_object_get(reply, "error"));
	fprintf(stderr, "agentctl: %s\n", msg != NULL ? msg : "request refused");
	errs = json_object_get(reply, "errors");
	json_array_foreach(errs, i, e)
		fprintf(stderr, "%s\n", json_string_value(e));
	json_decref(reply);
	exit(EXIT_REFUSED);
}

/* Text from the agent came from plugins: never let it drive the terminal. */
static const char *
ctl_text(json_t *o, const char *key, char *buf, size_t len)
{
	const char *s = json_string_value(json_object_get(o, key));

	return log_escape(buf, len, s != NULL ? s : "");
}

static void
ctl_duration(json_int_t secs, char *buf, size_t len)
{
	if (secs < 0)
		snprintf(buf, len, "-");
	else if (secs < 120)
		snprintf(buf, len, "%llds", (long long)secs);
	else if (secs < 7200)
		snprintf(buf, len, "%lldm", (long long)secs / 60);
	else if (secs < 172800)
		snprintf(buf, len, "%lldh%02lldm", (long long)secs / 3600,
		    (long long)secs % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", (long long)secs / 86400,
		    (long long)secs % 86400 / 3600);
}

static int
ctl_status(void)
{
	json_t *reply = ctl_request("status", NULL), *checks, *c;
	char up[32], age[32], name[80], state[16], summary[1024];
	unsigned counts[5] = { 0 };
	static const char *const states[] = { "OK", "WARNING", "CRITICAL",
	    "UNKNOWN", "PENDING" };
	size_t i;

	checks = json_object_get(reply, "checks");
	ctl_duration(json_integer_value(json_object_get(reply, "uptime")), up,
	    sizeof(up));
	printf("agentd %s (pid %lld), up %s\n",
	    json_string_value(json_object_get(reply, "version")),
	    (long long)json_integer_value(json_object_get(reply, "pid")), up);
	printf("config: %s\n", json_string_value(json_object_get(reply,
	    "config")));
	json_array_foreach(checks, i, c) {
		const char *s = json_string_value(json_object_get(c, "state"));

		for (size_t k = 0; k < 5; k++)
			if (s != NULL && strcmp(s, states[k]) == 0)
				counts[k]++;
	}
	printf("checks: %zu (%u OK, %u WARNING, %u CRITICAL, %u UNKNOWN, "
	    "%u PENDING)\n\n", json_array_size(checks), counts[0], counts[1],
	    counts[2], counts[3], counts[4]);
	printf("%-20s %-8s %6s  %s\n", "CHECK", "STATE", "AGE", "SUMMARY");
	json_array_foreach(checks, i, c) {
		json_t *a = json_object_get(c, "age");

		if (json_is_integer(a))
			ctl_duration(json_integer_value(a), age, sizeof(age));
		else
			snprintf(age, sizeof(age), "-");
		printf("%-20s %-8s %6s  %s\n",
		    ctl_text(c, "name", name, sizeof(name)),
		    ctl_text(c, "state", state, sizeof(state)), age,
		    ctl_text(c, "summary", summary, sizeof(summary)));
	}
	json_decref(reply);
	return 0;
}

static void
ctl_print_check(json_t *c)
{
	char name[80], state[16], text[8192], buf[256];
	json_t *perf = json_object_get(c, "perfdata"), *p;
	const char *lt;
	size_t i;

	printf("%s: %s: %s\n", ctl_text(c, "name", name, sizeof(name)),
	    ctl_text(c, "state", state, sizeof(state)),
	    ctl_text(c, "summary", text, sizeof(text)));
	if ((lt = json_string_value(json_object_get(c, "long_text"))) != NULL) {
		/* Keep the plugin's line breaks, escape everything else. */
		char *copy = xstrdup(lt), *line, *save = NULL;

		for (line = strtok_r(copy, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			printf("    %s\n", log_escape(text, sizeof(text), line));
		free(copy);
	}
	json_array_foreach(perf, i, p) {
		json_t *v = json_object_get(p, "value");
		const char *w = json_string_value(json_object_get(p, "warn"));
		const char *cr = json_string_value(json_object_get(p, "crit"));

		printf("    %s=", ctl_text(p, "label", buf, sizeof(buf)));
		if (json_is_number(v))
			printf("%g", json_number_value(v));
		else
			printf("U");
		printf("%s", ctl_text(p, "uom", buf, sizeof(buf)));
		if (w != NULL)
			printf(" warn %s", log_escape(buf, sizeof(buf), w));
		if (cr != NULL)
			printf(" crit %s", log_escape(buf, sizeof(buf), cr));
		printf("\n");
	}
}

static int
ctl_checks(int as_json)
{
	json_t *reply = ctl_request("checks", NULL), *checks, *c;
	size_t i;

	checks = json_object_get(reply, "checks");
	if (as_json) {
		json_dumpf(checks, stdout, JSON_INDENT(2));
		putchar('\n');
	} else
		json_array_foreach(checks, i, c)
			ctl_print_check(c);
	json_decref(reply);
	return 0;
}

static int
ctl_check_run(const char *name)
{
	json_t *reply = ctl_request("check_run", name), *c;
	const char *state;
	int code = 3;

	c = json_object_get(reply, "check");
	if (!json_is_object(c)) {
		fprintf(stderr, "agentctl: reply without a check\n");
		json_decref(reply);
		return EXIT_PROTOCOL;
	}
	ctl_print_check(c);
	state = json_string_value(json_object_get(c, "state"));
	if (state != NULL) {
		if (strcmp(state, "OK") == 0)
			code = 0;
		else if (strcmp(state, "WARNING") == 0)
			code = 1;
		else if (strcmp(state, "CRITICAL") == 0)
			code = 2;
	}
	json_decref(reply);
	return code;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env;
	int ch;

	log_init("agentctl", LOG_TARGET_STDERR, 0);
	if ((env = getenv("AGENTD_CONTROL_SOCKET")) != NULL && *env != '\0')
		ctl_socket = env;
	while ((ch = getopt_long(argc, argv, "+s:h", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			ctl_socket = optarg;
			break;
		case 'h':
			ctl_usage(stdout);
			return 0;
		default:
			ctl_usage(stderr);
			return EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 1 && strcmp(argv[0], "status") == 0)
		return ctl_status();
	if (argc == 1 && strcmp(argv[0], "checks") == 0)
		return ctl_checks(0);
	if (argc == 2 && strcmp(argv[0], "checks") == 0 &&
	    strcmp(argv[1], "--json") == 0)
		return ctl_checks(1);
	if (argc == 3 && strcmp(argv[0], "check") == 0 &&
	    strcmp(argv[1], "run") == 0)
		return ctl_check_run(argv[2]);
	if (argc == 1 && strcmp(argv[0], "reload") == 0) {
		json_decref(ctl_request("reload", NULL));
		printf("config reloaded\n");
		return 0;
	}
	if (argc == 1 && strcmp(argv[0], "version") == 0) {
		printf("agentctl %s\n", AGENTD_VERSION);
		return 0;
	}
	ctl_usage(stderr);
	return EXIT_USAGE;
}
