/*
 * agentd-portal: the provider's reference portal. `serve` runs the HTTPS
 * API over a SQLite store; `token create` and `operator create` mint the
 * secrets that let agents enrol and operators read the fleet.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/resource.h>
#include <termios.h>

#include <curl/curl.h>
#include <gnutls/gnutls.h>

#include "account.h"
#include "alert.h"
#include "api.h"
#include "audit.h"
#include "auth.h"
#include "bastionkeys.h"
#include "deadman.h"
#include "retain.h"
#include "http.h"
#include "credential.h"
#include "log.h"
#include "portal.h"
#include "ratelimit.h"
#include "store.h"
#include "webhook.h"
#include "xmalloc.h"

#define PORTAL_MAX_PEM	(1024 * 1024)
/* Descriptors kept for everything but client connections. */
#define PORTAL_FD_RESERVE	128
#define EXIT_USAGE	2

static const char usage_text[] =
"usage: agentd-portal serve --listen ADDR:PORT --db PATH --tls-cert FILE\n"
"           --tls-key FILE [--report-interval SECONDS] [--threads N]\n"
"           [--webhook https://URL [--webhook-ca FILE]\n"
"            [--webhook-repeat DURATION]]\n"
"           [--keep-reports DURATION] [--keep-summaries DURATION]\n"
"           [--keep-events DURATION]\n"
"           [--bastion HOST:PORT --bastion-host-key 'TYPE BASE64'\n"
"            [--bastion-user NAME --forward-ports LOW-HIGH]]\n"
"           [--session-ttl DURATION] [--session-idle DURATION]\n"
"           [--log-stderr] [--verbose]\n"
"       agentd-portal token create --db PATH [--expires DURATION]\n"
"           [--replace AGENT_ID]\n"
"       agentd-portal token list --db PATH\n"
"       agentd-portal token revoke ID --db PATH\n"
"       agentd-portal operator create NAME --db PATH [--expires DURATION]\n"
"       agentd-portal operator list --db PATH\n"
"       agentd-portal operator revoke NAME --db PATH\n"
"       agentd-portal bastion-credential create NAME --db PATH\n"
"           [--expires DURATION]\n"
"       agentd-portal bastion-credential list --db PATH\n"
"       agentd-portal bastion-credential revoke NAME --db PATH\n"
"       agentd-portal agent revoke ID --db PATH\n"
"       agentd-portal user create NAME --role viewer|engineer|admin --db PATH\n"
"           [--password-stdin]\n"
"       agentd-portal user list --db PATH\n"
"       agentd-portal user disable NAME --db PATH\n"
"       agentd-portal user passwd NAME --db PATH [--password-stdin]\n"
"       agentd-portal bastion-keys --portal https://URL --credential-file FILE\n"
"           [--ca FILE] [--timeout SECONDS] [KEY]\n"
"       agentd-portal --help | --version\n"
"\n"
"DURATION is a number with s, m, h or d: enrolment tokens default to 24h,\n"
"at most 30d; operator and bastion credentials default to 365d, at most\n"
"that. --threads 0 runs a thread per connection; the default is a pool\n"
"of 4. --forward-ports: ports from 1024 to 65535, one per agent with a\n"
"key. bastion-keys (sshd's AuthorizedKeysCommand) prints nothing and\n"
"exits 1 on any failure; --timeout defaults to 10.\n"
"--max-connections (default 10000) is lowered to fit RLIMIT_NOFILE;\n"
"--connections-per-ip (default 128) bounds one address; a request not\n"
"done within --request-timeout (default 30) is cut off. Heartbeats are\n"
"kept --keep-reports (default 30d), their hourly summaries\n"
"--keep-summaries (400d), other reports and state changes --keep-events\n"
"(400d). --webhook-repeat sends an open, unacknowledged alert again\n"
"at that interval (default: never). A web login\n"
"session lasts --session-ttl (default 12h) and ends after --session-idle\n"
"(default 30m) without a request. user create and passwd read the\n"
"password from the terminal, from stdin with --password-stdin, or (no\n"
"terminal) generate one and print it once. Exit status:\n"
"0 ok, 1 runtime failure, 2 usage error. See docs/portal.md.\n";

enum {
	OPT_LISTEN = 256, OPT_DB, OPT_CERT, OPT_KEY, OPT_INTERVAL,
	OPT_WEBHOOK, OPT_WEBHOOK_CA, OPT_BASTION, OPT_BASTION_KEY,
	OPT_THREADS, OPT_EXPIRES, OPT_STDERR, OPT_HELP, OPT_VERSION,
	OPT_VERBOSE, OPT_REPLACE, OPT_MAX_CONN, OPT_PER_IP, OPT_REQ_TIMEOUT,
	OPT_BASTION_USER, OPT_FORWARD_PORTS, OPT_ROLE, OPT_PASSWORD_STDIN,
	OPT_SESSION_TTL, OPT_SESSION_IDLE, OPT_KEEP_REPORTS,
	OPT_KEEP_SUMMARIES, OPT_KEEP_EVENTS, OPT_WEBHOOK_REPEAT,
};

static const struct option long_opts[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "db", required_argument, NULL, OPT_DB },
	{ "tls-cert", required_argument, NULL, OPT_CERT },
	{ "tls-key", required_argument, NULL, OPT_KEY },
	{ "report-interval", required_argument, NULL, OPT_INTERVAL },
	{ "webhook", required_argument, NULL, OPT_WEBHOOK },
	{ "webhook-ca", required_argument, NULL, OPT_WEBHOOK_CA },
	{ "webhook-repeat", required_argument, NULL, OPT_WEBHOOK_REPEAT },
	{ "keep-reports", required_argument, NULL, OPT_KEEP_REPORTS },
	{ "keep-summaries", required_argument, NULL, OPT_KEEP_SUMMARIES },
	{ "keep-events", required_argument, NULL, OPT_KEEP_EVENTS },
	{ "bastion", required_argument, NULL, OPT_BASTION },
	{ "bastion-host-key", required_argument, NULL, OPT_BASTION_KEY },
	{ "bastion-user", required_argument, NULL, OPT_BASTION_USER },
	{ "forward-ports", required_argument, NULL, OPT_FORWARD_PORTS },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "max-connections", required_argument, NULL, OPT_MAX_CONN },
	{ "connections-per-ip", required_argument, NULL, OPT_PER_IP },
	{ "request-timeout", required_argument, NULL, OPT_REQ_TIMEOUT },
	{ "expires", required_argument, NULL, OPT_EXPIRES },
	{ "log-stderr", no_argument, NULL, OPT_STDERR },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "replace", required_argument, NULL, OPT_REPLACE },
	{ "role", required_argument, NULL, OPT_ROLE },
	{ "password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN },
	{ "session-ttl", required_argument, NULL, OPT_SESSION_TTL },
	{ "session-idle", required_argument, NULL, OPT_SESSION_IDLE },
	{ NULL, 0, NULL, 0 },
};

struct options {
	const char	*listen, *db, *cert, *key, *webhook, *webhook_ca;
	const char	*bastion, *bastion_key, *bastion_user;
	int		 port_low, port_high;
	long		 interval, threads;
	long		 max_conn, per_ip, req_timeout;
	double		 expires;	/* 0: the command's default */
	const char	*replace;
	const char	*role;
	int		 password_stdin;
	double		 session_ttl, session_idle;
	int		 log_stderr, verbose;
	struct retain_policy retain;
	double		 webhook_repeat;	/* 0: never */
};

static void __attribute__((noreturn))
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "agentd-portal: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(agentd-portal --help for usage)\n");
	exit(EXIT_USAGE);
}

/*
 * "90", "90s", "15m", "24h", "7d" into seconds. The number is checked
 * against the limit before it is multiplied by its unit, so no input
 * overflows; anything above PORTAL_MAX_DURATION is -ERANGE.
 */
#define PORTAL_MAX_DURATION	(10ULL * 365 * 86400)
static int
parse_duration(const char *s, double *out)
{
	unsigned long long n, unit;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;		/* strtoull takes "-1" and " 1" */
	errno = 0;
	n = strtoull(s, &end, 10);
	if (end == s || (errno != 0 && errno != ERANGE))
		return -EINVAL;
	switch (*end) {
	case '\0': case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default: return -EINVAL;
	}
	if (*end != '\0' && end[1] != '\0')
		return -EINVAL;
	if (n == 0)
		return -EINVAL;
	if (errno == ERANGE || n > PORTAL_MAX_DURATION / unit)
		return -ERANGE;
	*out = (double)(n * unit);
	return 0;
}

static long
parse_long(const char *opt, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "agentd-portal: %s %s: expected an integer "
		    "from %ld to %ld\n", opt, s, min, max);
		exit(EXIT_USAGE);
	}
	return v;
}

/* A duration option (parse_duration) or a usage error. */
static void
parse_keep(const char *opt, const char *s, double *out)
{
	char msg[128];

	if (parse_duration(s, out) != 0) {
		snprintf(msg, sizeof(msg), "%s %%s: expected a duration such "
		    "as 90s, 15m, 24h or 30d (at most 10 years)", opt);
		usage_error(msg, s);
	}
}

/* "LOW-HIGH", unprivileged ports on the bastion: 0 or -EINVAL. */
static int
parse_ports(const char *s, int *low, int *high)
{
	unsigned long l, h;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	l = strtoul(s, &end, 10);
	if (errno != 0 || *end != '-' || end[1] < '0' || end[1] > '9')
		return -EINVAL;
	h = strtoul(end + 1, &end, 10);
	if (errno != 0 || *end != '\0' || l < 1024 || h > 65535 || l > h)
		return -EINVAL;
	*low = (int)l;
	*high = (int)h;
	return 0;
}

/* A bastion user name as sshd and useradd take it. */
static int
valid_user(const char *u)
{
	size_t n = strlen(u);

	return n >= 1 && n <= 32 && u[0] != '-' &&
	    strspn(u, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") == n;
}

static void
parse_options(int argc, char **argv, struct options *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->interval = 60;
	o->threads = 4;
	o->max_conn = PORTAL_MAX_CONNECTIONS;
	o->per_ip = 128;
	o->req_timeout = 30;
	o->session_ttl = PORTAL_SESSION_TTL;
	o->session_idle = PORTAL_SESSION_IDLE;
	o->retain.keep_reports = RETAIN_DEFAULT_REPORTS;
	o->retain.keep_summaries = RETAIN_DEFAULT_SUMMARIES;
	o->retain.keep_events = RETAIN_DEFAULT_EVENTS;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN: o->listen = optarg; break;
		case OPT_DB: o->db = optarg; break;
		case OPT_CERT: o->cert = optarg; break;
		case OPT_KEY: o->key = optarg; break;
		case OPT_INTERVAL:
			o->interval = parse_long("--report-interval", optarg,
			    1, 86400);
			break;
		case OPT_WEBHOOK: o->webhook = optarg; break;
		case OPT_WEBHOOK_CA: o->webhook_ca = optarg; break;
		case OPT_BASTION: o->bastion = optarg; break;
		case OPT_BASTION_KEY: o->bastion_key = optarg; break;
		case OPT_BASTION_USER: o->bastion_user = optarg; break;
		case OPT_FORWARD_PORTS:
			if (parse_ports(optarg, &o->port_low,
			    &o->port_high) != 0)
				usage_error("--forward-ports %s: expected "
				    "LOW-HIGH, ports from 1024 to 65535, LOW "
				    "not above HIGH", optarg);
			break;
		case OPT_THREADS:
			o->threads = parse_long("--threads", optarg, 0, 256);
			break;
		case OPT_MAX_CONN:
			o->max_conn = parse_long("--max-connections", optarg,
			    16, 1000000);
			break;
		case OPT_PER_IP:
			o->per_ip = parse_long("--connections-per-ip", optarg,
			    1, 1000000);
			break;
		case OPT_REQ_TIMEOUT:
			o->req_timeout = parse_long("--request-timeout",
			    optarg, 1, 3600);
			break;
		case OPT_EXPIRES:
			if (parse_duration(optarg, &o->expires) != 0)
				usage_error("--expires %s: expected a "
				    "duration such as 90s, 15m, 24h or 7d "
				    "(enrolment tokens at most 30d, operator "
				    "tokens at most 365d)", optarg);
			break;
		case OPT_REPLACE: o->replace = optarg; break;
		case OPT_ROLE: o->role = optarg; break;
		case OPT_PASSWORD_STDIN: o->password_stdin = 1; break;
		case OPT_SESSION_TTL:
			if (parse_duration(optarg, &o->session_ttl) != 0 ||
			    o->session_ttl > 30 * 86400)
				usage_error("--session-ttl %s: expected a "
				    "duration such as 12h, at most 30d",
				    optarg);
			break;
		case OPT_SESSION_IDLE:
			if (parse_duration(optarg, &o->session_idle) != 0 ||
			    o->session_idle > 30 * 86400)
				usage_error("--session-idle %s: expected a "
				    "duration such as 30m, at most 30d",
				    optarg);
			break;
		case OPT_KEEP_REPORTS:
			parse_keep("--keep-reports", optarg,
			    &o->retain.keep_reports);
			break;
		case OPT_KEEP_SUMMARIES:
			parse_keep("--keep-summaries", optarg,
			    &o->retain.keep_summaries);
			break;
		case OPT_KEEP_EVENTS:
			parse_keep("--keep-events", optarg,
			    &o->retain.keep_events);
			break;
		case OPT_WEBHOOK_REPEAT:
			parse_keep("--webhook-repeat", optarg,
			    &o->webhook_repeat);
			break;
		case OPT_STDERR: o->log_stderr = 1; break;
		case OPT_VERBOSE: o->verbose = 1; break;
		case OPT_HELP:
			fputs(usage_text, stdout);
			exit(0);
		case OPT_VERSION:
			printf("agentd-portal %s\n", AGENTD_VERSION);
			exit(0);
		default:
			usage_error("unknown option or missing argument: %s",
			    argv[optind - 1]);
		}
	}
	if (o->db == NULL)
		usage_error("%s", "--db PATH is required");
}

/* A PEM file, at most PORTAL_MAX_PEM bytes, NUL-terminated. */
static char *
read_pem(const char *opt, const char *path)
{
	char *buf = xcalloc(1, PORTAL_MAX_PEM + 1);
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		fatal("%s %s", opt, path);
	while ((n = read(fd, buf + len, PORTAL_MAX_PEM + 1 - len)) > 0)
		len += (size_t)n;
	if (n == -1)
		fatal("%s %s: read", opt, path);
	close(fd);
	if (len > PORTAL_MAX_PEM)
		fatalx("%s %s: larger than %d bytes", opt, path,
		    PORTAL_MAX_PEM);
	if (strstr(buf, "-----BEGIN ") == NULL)
		fatalx("%s %s:1: not a PEM file (no -----BEGIN line)", opt,
		    path);
	return buf;
}

static struct store *
open_store(const char *path)
{
	struct store *s;
	char err[512];

	if (store_open(path, &s, err, sizeof(err)) != 0)
		fatalx("--db %s", err);
	return s;
}

/*
 * Each connection is a descriptor: raise the soft RLIMIT_NOFILE to the
 * hard one and keep the connection limit below it, with room for the
 * store, the listening socket, the thread pool's epoll and wake-up
 * descriptors and the webhook's connection. Past the limit a new
 * connection is closed at once; past RLIMIT_NOFILE accept() would fail
 * for everyone, the way a flood of idle connections locked agents out.
 */
static unsigned int
connection_limit(long wanted)
{
	struct rlimit rl;
	rlim_t room;
	unsigned int n;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		fatal("getrlimit RLIMIT_NOFILE");
	if (rl.rlim_cur != rl.rlim_max) {
		rlim_t old = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			log_warn("setrlimit RLIMIT_NOFILE %llu",
			    (unsigned long long)rl.rlim_max);
			rl.rlim_cur = old;
		}
	}
	room = rl.rlim_cur == RLIM_INFINITY ? (rlim_t)wanted +
	    PORTAL_FD_RESERVE : rl.rlim_cur;
	if (room < 16 + PORTAL_FD_RESERVE)
		fatalx("RLIMIT_NOFILE %llu: too low to serve (at least %d)",
		    (unsigned long long)room, 16 + PORTAL_FD_RESERVE);
	n = (unsigned int)wanted;
	if (room - PORTAL_FD_RESERVE < (rlim_t)n) {
		n = (unsigned int)(room - PORTAL_FD_RESERVE);
		log_warnx("--max-connections %ld lowered to %u to fit "
		    "RLIMIT_NOFILE %llu (raise LimitNOFILE)", wanted, n,
		    (unsigned long long)room);
	}
	return n;
}

static int
cmd_serve(struct options *o)
{
	struct http_options ho = { 0 };
	struct api a = { 0 };
	struct MHD_Daemon *d;
	struct store *s;
	const char *fields[2];
	char f_listen[300], f_db[PATH_MAX + 8], err[512];
	sigset_t set;
	int sig, r;

	if (o->listen == NULL || o->cert == NULL || o->key == NULL)
		usage_error("%s", "serve needs --listen, --tls-cert and "
		    "--tls-key");
	if ((o->bastion == NULL) != (o->bastion_key == NULL))
		usage_error("%s", "--bastion and --bastion-host-key go "
		    "together");
	if ((o->bastion_user == NULL) != (o->port_low == 0))
		usage_error("%s", "--bastion-user and --forward-ports go "
		    "together");
	if (o->bastion_user != NULL && o->bastion == NULL)
		usage_error("%s", "--bastion-user and --forward-ports need "
		    "--bastion");
	if (o->bastion_user != NULL && !valid_user(o->bastion_user))
		usage_error("--bastion-user %s: 1 to 32 letters, digits and "
		    "._- (not starting with -)", o->bastion_user);
	if (o->webhook_repeat > 0 && o->webhook == NULL)
		usage_error("%s", "--webhook-repeat needs --webhook");
	if (o->webhook_ca != NULL && o->webhook == NULL)
		usage_error("%s", "--webhook-ca needs --webhook");
	if (o->webhook != NULL && strncmp(o->webhook, "https://", 8) != 0)
		usage_error("--webhook %s: must be an https:// URL",
		    o->webhook);
	if (o->webhook_ca != NULL && access(o->webhook_ca, R_OK) != 0)
		fatal("--webhook-ca %s", o->webhook_ca);

	ho.listen = o->listen;
	ho.cert_pem = read_pem("--tls-cert", o->cert);
	ho.key_pem = read_pem("--tls-key", o->key);
	ho.threads = (unsigned int)o->threads;
	ho.max_connections = connection_limit(o->max_conn);
	ho.per_ip = (unsigned int)o->per_ip;
	ho.request_timeout = (unsigned int)o->req_timeout;
	ho.preflight = api_preflight;
	ho.handler = api_handle;
	ho.arg = &a;

	/* Threads inherit this mask; main alone takes the signals. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	s = open_store(o->db);
	a.store = s;
	a.limit = ratelimit_new(PORTAL_RATE_PER_SEC, PORTAL_RATE_BURST);
	a.report_interval = (int)o->interval;
	a.bastion_address = o->bastion;
	a.bastion_host_key = o->bastion_key;
	a.bastion_user = o->bastion_user;
	a.port_low = o->port_low;
	a.port_high = o->port_high;
	a.session_ttl = o->session_ttl;
	a.session_idle = o->session_idle;
	a.login_by_addr = loginlimit_new(PORTAL_LOGIN_FAILS_ADDR);
	a.login_by_name = loginlimit_new(PORTAL_LOGIN_FAILS_NAME);
	/*
	 * Half the pool's threads at most hash passwords at once (each
	 * Argon2id takes 64 MiB for about 0.1 s): a login flood gets 503s
	 * while the other threads go on serving.
	 */
	if ((r = account_init(o->threads > 1 ? (int)o->threads / 2 : o->threads
	    == 0 ? 4 : 1)) != 0)
		fatalx("libsodium: %s", strerror(-r));
	if (o->webhook != NULL) {
		alert_outbox_enable(1);
		if ((r = webhook_start(s, o->webhook, o->webhook_ca)) != 0)
			fatalx("--webhook %s: %s", o->webhook, strerror(-r));
	}
	deadman_set_repeat(o->webhook_repeat);
	if ((r = deadman_start(s, 0.5)) != 0)
		fatalx("deadman thread: %s", strerror(-r));
	/* A pass a minute; more often when heartbeats are kept for
	 * seconds only (tests). */
	if ((r = retain_start(s, &o->retain, o->retain.keep_reports < 120 ?
	    1 : 60)) != 0)
		fatalx("retention thread: %s", strerror(-r));
	if ((d = http_start(&ho, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	snprintf(f_listen, sizeof(f_listen), "LISTEN=%s", o->listen);
	snprintf(f_db, sizeof(f_db), "DB=%s", o->db);
	fields[0] = f_listen;
	fields[1] = f_db;
	log_event(LOG_INFO, MSGID_PORTAL_STARTED, fields, 2,
	    "agentd-portal %s serving https://%s (%ld threads%s; at most %u "
	    "connections, %u per address, %u s per request)",
	    AGENTD_VERSION, o->listen, o->threads,
	    o->threads == 0 ? ": one per connection" : "",
	    ho.max_connections, ho.per_ip, ho.request_timeout);
	if (o->bastion_user != NULL)
		log_info("bastion %s: agents with a key log in as %s, each "
		    "with its own forward port from %d to %d", o->bastion,
		    o->bastion_user, o->port_low, o->port_high);

	while (sigwait(&set, &sig) != 0)
		;
	log_info("signal %d: stopping", sig);
	http_stop(d);
	retain_stop();
	deadman_stop();
	webhook_stop();
	store_close(s);
	ratelimit_free(a.limit);
	loginlimit_free(a.login_by_addr);
	loginlimit_free(a.login_by_name);
	gnutls_memset(ho.key_pem, 0, strlen(ho.key_pem));
	free(ho.key_pem);
	free(ho.cert_pem);
	log_event(LOG_INFO, MSGID_PORTAL_STOPPED, NULL, 0,
	    "agentd-portal stopped");
	return 0;
}

/* The ttl asked with --expires, or def; above max is a usage error. */
static double
token_ttl(const struct options *o, double def, double max, const char *what)
{
	char buf[96];

	if (o->expires == 0)
		return def;
	if (o->expires > max) {
		snprintf(buf, sizeof(buf), "%.0fd", max / 86400);
		fprintf(stderr, "agentd-portal: --expires: %s last at most "
		    "%s\n", what, buf);
		exit(EXIT_USAGE);
	}
	return o->expires;
}

static int
cmd_token_create(struct options *o)
{
	char token[AUTH_TOKEN_LEN];
	struct store *s;
	double ttl;
	int r;

	ttl = token_ttl(o, 86400, CREDENTIAL_TOKEN_MAX_TTL,
	    "enrolment tokens");
	if (o->replace != NULL && (o->replace[0] == '\0' ||
	    strlen(o->replace) >= AUTH_UUID_LEN))
		usage_error("--replace %s: expected an agent id", o->replace);
	s = open_store(o->db);
	r = credential_token_create(s, ttl, o->replace, token, sizeof(token));
	store_close(s);
	if (r != 0)
		fatalx("token create: %s", strerror(-r));
	printf("%s\n", token);
	gnutls_memset(token, 0, sizeof(token));
	return 0;
}

/* A stamp of a list, in UTC, or "-". */
static const char *
format_stamp(json_t *v, char *buf, size_t len)
{
	struct tm tm;
	time_t t;

	if (!json_is_number(v))
		return "-";
	t = (time_t)json_number_value(v);
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return "?";
	return buf;
}

/* What token, operator and bastion-credential commands act on. */
enum secret_kind { KIND_TOKEN, KIND_OPERATOR, KIND_BASTION };
static const char *const kind_words[] = { "token", "operator",
    "bastion-credential" };

/* Prints the list of tokens, operators or bastion credentials; no
 * secret. */
static int
cmd_list(struct options *o, enum secret_kind kind)
{
	int tokens = kind == KIND_TOKEN;
	char c[32], e[32], u[32];
	const char *state, *who;
	double now;
	struct store *s;
	json_t *arr = NULL, *t;
	size_t i;
	int r;

	s = open_store(o->db);
	r = tokens ? credential_token_list(s, &arr) : kind == KIND_OPERATOR ?
	    credential_operator_list(s, &arr) :
	    credential_bastion_list(s, &arr);
	now = store_now();
	store_close(s);
	if (r != 0)
		fatalx("%s list: %s", kind_words[kind], strerror(-r));
	printf("%-14s %-20s %-20s %-20s %s\n", tokens ? "ID" : "NAME",
	    "CREATED", "EXPIRES", tokens ? "USED" : "LAST USED", "STATE");
	json_array_foreach(arr, i, t) {
		if (!json_is_null(json_object_get(t, "revoked")))
			state = "revoked";
		else if (json_is_number(json_object_get(t, "expires")) &&
		    json_number_value(json_object_get(t, "expires")) <= now)
			state = "expired";
		else if (tokens && !json_is_null(json_object_get(t, "used")))
			state = "used";
		else
			state = "valid";
		who = json_string_value(json_object_get(t,
		    tokens ? "id" : "name"));
		printf("%-14s %-20s %-20s %-20s %s", who,
		    format_stamp(json_object_get(t, "created"), c, sizeof(c)),
		    format_stamp(json_object_get(t, "expires"), e, sizeof(e)),
		    format_stamp(json_object_get(t, "used"), u, sizeof(u)),
		    state);
		if (json_is_string(json_object_get(t, "replaces")))
			printf(" (replaces %s)", json_string_value(
			    json_object_get(t, "replaces")));
		printf("\n");
	}
	json_decref(arr);
	return 0;
}

static int
cmd_revoke(struct options *o, enum secret_kind kind, const char *what)
{
	struct store *s = open_store(o->db);
	const char *w = kind_words[kind];
	int r;

	r = kind == KIND_TOKEN ? credential_token_revoke(s, what) :
	    kind == KIND_OPERATOR ? credential_operator_revoke(s, what) :
	    credential_bastion_revoke(s, what);
	store_close(s);
	if (r == -ENOENT)
		fatalx("%s %s: none such (or already revoked); see %s list",
		    w, what, w);
	if (r != 0)
		fatalx("%s revoke: %s", w, strerror(-r));
	printf("%s %s revoked\n", w, what);
	return 0;
}

/* An operator token or a bastion credential for name, shown once. */
static int
cmd_named_create(struct options *o, enum secret_kind kind, const char *name)
{
	const char *w = kind_words[kind];
	char token[AUTH_TOKEN_LEN];
	struct store *s;
	double ttl;
	size_t i;
	int r;

	if (name[0] == '\0' || strlen(name) > 64) {
		fprintf(stderr, "agentd-portal: %s NAME %s: 1 to 64 "
		    "characters\n", w, name);
		exit(EXIT_USAGE);
	}
	for (i = 0; name[i] != '\0'; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') ||
		    strchr("._@-", name[i]) != NULL))
			usage_error("NAME %s: letters, digits and ._@- only",
			    name);
	ttl = token_ttl(o, CREDENTIAL_OPERATOR_MAX_TTL,
	    CREDENTIAL_OPERATOR_MAX_TTL, kind == KIND_OPERATOR ?
	    "operator tokens" : "bastion credentials");
	s = open_store(o->db);
	r = kind == KIND_OPERATOR ? credential_operator_create(s, name, ttl,
	    token, sizeof(token)) : credential_bastion_create(s, name, ttl,
	    token, sizeof(token));
	store_close(s);
	if (r == -EEXIST)
		fatalx("%s %s already exists (%s revoke %s first to give it "
		    "a new token)", w, name, w, name);
	if (r != 0)
		fatalx("%s create: %s", w, strerror(-r));
	printf("%s\n", token);
	gnutls_memset(token, 0, sizeof(token));
	return 0;
}

/* Unenrols an agent from the provider's side: its credential and its
 * bastion key stop working at once. */
static int
cmd_agent_revoke(struct options *o, const char *id)
{
	struct store *s = open_store(o->db);
	int r;

	r = credential_unenroll(s, id);
	store_close(s);
	if (r == -ENOENT)
		fatalx("agent %s: none such (or already unenrolled)", id);
	if (r != 0)
		fatalx("agent revoke: %s", strerror(-r));
	printf("agent %s revoked\n", id);
	return 0;
}

/*
 * A new password into pw: from stdin's first line with --password-stdin,
 * from the terminal (twice, without echo), or, with neither, a random
 * one (*generated set: the caller prints it once). Never from argv.
 */
static void
read_password(const struct options *o, char *pw, size_t len, int *generated)
{
	struct termios old, quiet;
	char again[ACCOUNT_MAX_PASSWORD + 2];
	FILE *tty = NULL;
	size_t n;

	*generated = 0;
	if (!o->password_stdin && !isatty(STDIN_FILENO)) {
		if (account_password_generate(pw, len) != 0)
			fatalx("cannot generate a password");
		*generated = 1;
		return;
	}
	if (!o->password_stdin) {
		if ((tty = fopen("/dev/tty", "r+")) == NULL)
			fatal("/dev/tty");
		if (tcgetattr(fileno(tty), &old) != 0)
			fatal("tcgetattr");
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
		fputs("Password: ", tty);
		fflush(tty);
	}
	if (fgets(pw, (int)len, tty != NULL ? tty : stdin) == NULL)
		pw[0] = '\0';
	if (tty != NULL) {
		fputs("\nAgain: ", tty);
		fflush(tty);
		if (fgets(again, sizeof(again), tty) == NULL)
			again[0] = '\0';
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
		fputs("\n", tty);
		fclose(tty);
		if (strcmp(pw, again) != 0) {
			explicit_bzero(again, sizeof(again));
			fatalx("the passwords differ");
		}
		explicit_bzero(again, sizeof(again));
	}
	n = strlen(pw);
	if (n > 0 && pw[n - 1] == '\n')
		pw[--n] = '\0';
	else if (n + 1 >= len)
		fatalx("password: more than %d bytes", ACCOUNT_MAX_PASSWORD);
	if (n < ACCOUNT_MIN_PASSWORD)
		fatalx("password: at least %d characters", ACCOUNT_MIN_PASSWORD);
}

/* agentd-portal user create|list|disable|passwd: operator accounts. */
static int
cmd_user(struct options *o, const char *sub, const char *name)
{
	char pw[ACCOUNT_MAX_PASSWORD + 2], c[32], d[32];
	struct store *s;
	json_t *arr = NULL, *u;
	size_t i;
	int generated = 0, role = ROLE_NONE, r;

	if (strcmp(sub, "create") == 0) {
		if (o->role == NULL ||
		    (role = account_role_parse(o->role)) == ROLE_NONE)
			usage_error("%s", "user create needs --role viewer, "
			    "engineer or admin");
		if (!account_name_ok(name))
			usage_error("NAME %s: 1 to 64 letters, digits and ._@-",
			    name);
	} else if (o->role != NULL)
		usage_error("%s", "--role goes with user create");
	if (o->password_stdin && strcmp(sub, "create") != 0 &&
	    strcmp(sub, "passwd") != 0)
		usage_error("%s", "--password-stdin goes with user create or "
		    "passwd");
	if (account_init(1) != 0)
		fatalx("libsodium: cannot initialise");
	if (strcmp(sub, "create") == 0 || strcmp(sub, "passwd") == 0)
		read_password(o, pw, sizeof(pw), &generated);
	s = open_store(o->db);
	if (strcmp(sub, "list") == 0) {
		r = account_user_list(s, &arr);
		store_close(s);
		if (r != 0)
			fatalx("user list: %s", strerror(-r));
		printf("%-24s %-9s %-20s %s\n", "NAME", "ROLE", "CREATED",
		    "DISABLED");
		json_array_foreach(arr, i, u)
			printf("%-24s %-9s %-20s %s\n", json_string_value(
			    json_object_get(u, "name")), json_string_value(
			    json_object_get(u, "role")), format_stamp(
			    json_object_get(u, "created"), c, sizeof(c)),
			    format_stamp(json_object_get(u, "disabled"), d,
			    sizeof(d)));
		json_decref(arr);
		return 0;
	}
	if (strcmp(sub, "create") == 0)
		r = account_user_create(s, name, role, pw);
	else if (strcmp(sub, "passwd") == 0)
		r = account_user_passwd(s, name, pw);
	else
		r = account_user_disable(s, name);
	if (r == 0)
		audit_log(s, "cli", "cli", strcmp(sub, "create") == 0 ?
		    "user.create" : strcmp(sub, "passwd") == 0 ?
		    "user.passwd" : "user.disable", name,
		    role != ROLE_NONE ? account_role_name(role) : NULL);
	store_close(s);
	if (r == -EEXIST)
		fatalx("user %s already exists", name);
	if (r == -ENOENT)
		fatalx("user %s: none such%s", name, strcmp(sub, "disable") ==
		    0 ? " (or already disabled)" : "");
	if (r != 0)
		fatalx("user %s: %s", sub, strerror(-r));
	if (generated)
		printf("%s\n", pw);
	else
		printf("user %s %s\n", name, strcmp(sub, "create") == 0 ?
		    "created" : strcmp(sub, "passwd") == 0 ?
		    "has a new password" : "disabled");
	explicit_bzero(pw, sizeof(pw));
	return 0;
}

#define BASTIONKEYS_TIMEOUT	10
#define BASTIONKEYS_MAX_TIMEOUT	120

/*
 * agentd-portal bastion-keys: sshd's AuthorizedKeysCommand. Its own
 * options (it needs no database); stdout carries the portal's answer and
 * nothing else, and only when the whole answer came with a 200.
 * Exit 0, 1 on any failure, 2 on a usage error.
 */
static int
cmd_bastion_keys(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "portal", required_argument, NULL, 'p' },
		{ "credential-file", required_argument, NULL, 'c' },
		{ "ca", required_argument, NULL, 'a' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *portal = NULL, *credfile = NULL, *ca = NULL, *key = NULL;
	char cred[BASTIONKEYS_MAX_CRED], err[512], *body = NULL;
	long timeout = BASTIONKEYS_TIMEOUT;
	size_t len;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p': portal = optarg; break;
		case 'c': credfile = optarg; break;
		case 'a': ca = optarg; break;
		case 't':
			timeout = parse_long("--timeout", optarg, 1,
			    BASTIONKEYS_MAX_TIMEOUT);
			break;
		default:
			usage_error("bastion-keys: unknown option or missing "
			    "argument: %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		key = argv[optind++];
	if (optind < argc)
		usage_error("bastion-keys: unexpected argument %s",
		    argv[optind]);
	if (portal == NULL || credfile == NULL)
		usage_error("%s", "bastion-keys needs --portal and "
		    "--credential-file");
	log_init("agentd-portal", LOG_TARGET_STDERR, 0);
	if (bastionkeys_read_credential(credfile, cred, sizeof(cred), err,
	    sizeof(err)) != 0) {
		log_warnx("bastion-keys: --credential-file %s", err);
		return 1;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		log_warnx("bastion-keys: curl_global_init failed");
		return 1;
	}
	r = bastionkeys_fetch(portal, cred, ca, timeout, key, &body, &len,
	    err, sizeof(err));
	explicit_bzero(cred, sizeof(cred));
	curl_global_cleanup();
	if (r != 0) {
		log_warnx("bastion-keys: %s (no keys printed)", err);
		return 1;
	}
	if (fwrite(body, 1, len, stdout) != len || fflush(stdout) != 0) {
		log_warn("bastion-keys: stdout");
		free(body);
		return 1;
	}
	free(body);
	return 0;
}

int
main(int argc, char **argv)
{
	struct options o;
	const char *cmd, *sub = NULL, *name = NULL;
	enum secret_kind kind;
	int r, i, first;

	if (argc < 2)
		usage_error("%s", "missing command (serve, token, "
		    "operator, user, agent, bastion-credential, "
		    "bastion-keys)");
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("agentd-portal %s\n", AGENTD_VERSION);
		return 0;
	}
	if (strcmp(cmd, "bastion-keys") == 0)
		return cmd_bastion_keys(argc - 1, argv + 1);
	first = 2;
	if (strcmp(cmd, "token") == 0 || strcmp(cmd, "operator") == 0 ||
	    strcmp(cmd, "bastion-credential") == 0) {
		if (argc < 3 || (strcmp(argv[2], "create") != 0 &&
		    strcmp(argv[2], "list") != 0 &&
		    strcmp(argv[2], "revoke") != 0))
			usage_error("%s: expected create, list or revoke", cmd);
		sub = argv[2];
		first = 3;
		if (strcmp(sub, "revoke") == 0 || (strcmp(cmd, "token") !=
		    0 && strcmp(sub, "create") == 0)) {
			if (argc < 4 || argv[3][0] == '-')
				usage_error("%s needs a NAME or ID",
				    strcmp(sub, "revoke") == 0 ? "revoke" :
				    "create");
			name = argv[3];
			first = 4;
		}
	} else if (strcmp(cmd, "agent") == 0) {
		if (argc < 4 || strcmp(argv[2], "revoke") != 0 ||
		    argv[3][0] == '-')
			usage_error("%s", "agent: expected revoke ID");
		sub = argv[2];
		name = argv[3];
		first = 4;
	} else if (strcmp(cmd, "user") == 0) {
		if (argc < 3 || (strcmp(argv[2], "create") != 0 &&
		    strcmp(argv[2], "list") != 0 &&
		    strcmp(argv[2], "disable") != 0 &&
		    strcmp(argv[2], "passwd") != 0))
			usage_error("%s", "user: expected create, list, "
			    "disable or passwd");
		sub = argv[2];
		first = 3;
		if (strcmp(sub, "list") != 0) {
			if (argc < 4 || argv[3][0] == '-')
				usage_error("user %s needs a NAME", sub);
			name = argv[3];
			first = 4;
		}
	} else if (strcmp(cmd, "serve") != 0)
		usage_error("unknown command %s", cmd);
	/* getopt sees the options after the command words. */
	for (i = first; i < argc; i++)
		argv[i - first + 1] = argv[i];
	argc -= first - 1;
	parse_options(argc, argv, &o);
	if (optind < argc)
		usage_error("unexpected argument %s", argv[optind]);
	log_init("agentd-portal", o.log_stderr ? LOG_TARGET_STDERR :
	    LOG_TARGET_AUTO, o.verbose);
	if ((o.expires != 0 || o.replace != NULL) && (sub == NULL ||
	    strcmp(sub, "create") != 0))
		usage_error("%s", "--expires and --replace go with token, "
		    "operator or bastion-credential create");
	if (o.replace != NULL && strcmp(cmd, "token") != 0)
		usage_error("%s", "--replace goes with token create");
	if ((o.role != NULL || o.password_stdin) && strcmp(cmd, "user") != 0)
		usage_error("%s", "--role and --password-stdin go with user "
		    "create or passwd");

	if (strcmp(cmd, "serve") == 0) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
			fatalx("curl_global_init failed");
		r = cmd_serve(&o);
		curl_global_cleanup();
	} else if (strcmp(cmd, "agent") == 0)
		r = cmd_agent_revoke(&o, name);
	else if (strcmp(cmd, "user") == 0)
		r = cmd_user(&o, sub, name);
	else {
		kind = strcmp(cmd, "token") == 0 ? KIND_TOKEN :
		    strcmp(cmd, "operator") == 0 ? KIND_OPERATOR :
		    KIND_BASTION;
		if (strcmp(sub, "list") == 0)
			r = cmd_list(&o, kind);
		else if (strcmp(sub, "revoke") == 0)
			r = cmd_revoke(&o, kind, name);
		else if (kind == KIND_TOKEN)
			r = cmd_token_create(&o);
		else
			r = cmd_named_create(&o, kind, name);
	}
	return r;
}
