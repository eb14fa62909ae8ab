/*
 * tunneltool: the support tunnel engine (support/tunnel.c) from the
 * command line, for tests/integration/test_support_tunnel.sh and
 * bench/tunnel. Prints one line per event on stdout (flushed), ends on
 * SIGTERM or SIGINT (a stop), at --ttl, or on a failure retrying cannot
 * mend; the last line says which, with the peak RSS.
 *
 * tunneltool --bastion HOST:PORT --user USER --host-key-file FILE.pub
 *     --key FILE --port N [--target HOST:PORT] [--ttl S] [--sndbuf BYTES]
 *     [--cipher NAME] [--keepalive S] [--keepalive-count N]
 *     [--backoff-min MS] [--backoff-max MS] [--connect-timeout S]
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

#include <libssh2.h>

#include "addr.h"
#include "sysfile.h"
#include "timeutil.h"
#include "tunnel.h"

static struct tunnel *tun;

static void
on_signal(int sig)
{
	(void)sig;
	if (tun != NULL)
		tunnel_stop(tun);
}

static void
on_event(const struct tunnel_event *ev, void *arg)
{
	(void)arg;
	switch (ev->type) {
	case TUNNEL_EV_UP:
		printf("up port=%d\n", ev->port);
		break;
	case TUNNEL_EV_DOWN:
		printf("down error=%d short_sends=%llu message=%s\n", ev->error,
		    (unsigned long long)ev->short_sends, ev->message);
		break;
	case TUNNEL_EV_RETRY:
		printf("retry delay_ms=%u\n", (unsigned)ev->delay_ms);
		break;
	case TUNNEL_EV_CONN_OPEN:
		printf("open conn=%u\n", ev->conn);
		break;
	case TUNNEL_EV_CONN_CLOSE:
		printf("close conn=%u in=%llu out=%llu error=%d message=%s\n",
		    ev->conn, (unsigned long long)ev->bytes_in,
		    (unsigned long long)ev->bytes_out, ev->error, ev->message);
		break;
	}
	fflush(stdout);
}

static void
usage(void)
{
	fprintf(stderr, "usage: tunneltool --bastion HOST:PORT --user USER "
	    "--host-key-file FILE --key FILE --port N [--target HOST:PORT] "
	    "[--ttl S] [--sndbuf BYTES] [--cipher NAME] [--keepalive S] "
	    "[--keepalive-count N] [--backoff-min MS] [--backoff-max MS] "
	    "[--connect-timeout S]\n");
	exit(2);
}

static unsigned long
number(const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v > max)
		usage();
	return v;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bastion", required_argument, NULL, 'b' },
		{ "user", required_argument, NULL, 'u' },
		{ "host-key-file", required_argument, NULL, 'H' },
		{ "key", required_argument, NULL, 'k' },
		{ "port", required_argument, NULL, 'p' },
		{ "target", required_argument, NULL, 't' },
		{ "ttl", required_argument, NULL, 'T' },
		{ "sndbuf", required_argument, NULL, 's' },
		{ "cipher", required_argument, NULL, 'c' },
		{ "keepalive", required_argument, NULL, 'K' },
		{ "keepalive-count", required_argument, NULL, 'C' },
		{ "backoff-min", required_argument, NULL, 'm' },
		{ "backoff-max", required_argument, NULL, 'M' },
		{ "connect-timeout", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct tunnel_conf conf = { .event = on_event };
	char bhost[256], bport[8], thost[256], tport[8], hostkey[8192];
	char err[512];
	struct sigaction sa;
	struct rusage ru;
	unsigned long ttl = 0;
	uint64_t deadline = 0;
	size_t len;
	int ch, r;

	hostkey[0] = '\0';
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'b':
			if (addr_split(optarg, bhost, sizeof(bhost), bport,
			    sizeof(bport)) < 0)
				usage();
			conf.host = bhost;
			conf.port = bport;
			break;
		case 'u':
			conf.user = optarg;
			break;
		case 'H':
			if ((r = sysfile_read_small(optarg, hostkey,
			    sizeof(hostkey), &len)) < 0) {
				fprintf(stderr, "tunneltool: %s: %s\n", optarg,
				    strerror(-r));
				return 1;
			}
			hostkey[strcspn(hostkey, "\n")] = '\0';
			conf.host_key = hostkey;
			break;
		case 'k':
			conf.key_file = optarg;
			break;
		case 'p':
			conf.listen_port = (int)number(optarg, 65535);
			break;
		case 't':
			if (addr_split(optarg, thost, sizeof(thost), tport,
			    sizeof(tport)) < 0)
				usage();
			conf.target_host = thost;
			conf.target_port = tport;
			break;
		case 'T':
			ttl = number(optarg, 86400 * 7);
			break;
		case 's':
			conf.sndbuf = (int)number(optarg, 1 << 30);
			break;
		case 'c':
			conf.cipher = optarg;
			break;
		case 'K':
			conf.keepalive_interval = (unsigned)number(optarg, 3600);
			break;
		case 'C':
			conf.keepalive_count = (unsigned)number(optarg, 100);
			break;
		case 'm':
			conf.backoff_min_ms = (uint32_t)number(optarg, 3600000);
			break;
		case 'M':
			conf.backoff_max_ms = (uint32_t)number(optarg, 3600000);
			break;
		case 'o':
			conf.connect_timeout = (unsigned)number(optarg, 3600);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if ((r = tunnel_new(&conf, &tun, err, sizeof(err))) < 0) {
		fprintf(stderr, "tunneltool: %s\n", err);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (ttl > 0)
		deadline = time_now(CLOCK_MONOTONIC) + (uint64_t)ttl * 1000000;
	r = tunnel_run(tun, deadline);
	getrusage(RUSAGE_SELF, &ru);
	if (r < 0)
		fprintf(stderr, "tunneltool: %s\n", tunnel_error(tun));
	printf("end %s rss_max_kib=%ld cpu_s=%.2f\n", r == TUNNEL_DEADLINE ?
	    "deadline" : r == TUNNEL_STOPPED ? "stopped" : "failed",
	    ru.ru_maxrss, (double)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	tunnel_free(tun);
	libssh2_exit();
	return r < 0 ? 1 : 0;
}
