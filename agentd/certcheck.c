/*
 * agentd-certcheck: reads the expiry of X.509 certificates for the
 * certificates collector, so that agentd itself loads no TLS library and
 * never parses what a network peer sent. agentd runs it as a child
 * (collectors/exec.c) with a timeout: once with -f PATH for files (keeping
 * CAP_DAC_READ_SEARCH, no network), once with -e HOST:PORT for endpoints
 * (no capability). Nothing is verified before reading: the point is the
 * expiry even of a broken chain; whether the chain verifies against the
 * system CAs is reported as extra information.
 *
 * Usage: agentd-certcheck [-t SECONDS] [-f PATH]... [-e ENDPOINT]...
 * ENDPOINT is HOST:PORT or [V6]:PORT, optionally @SERVERNAME for the SNI
 * and name check (default HOST unless HOST is an address).
 * Output: one JSON object per line and item, in argument order:
 *   {"item", "kind": "file"|"endpoint", "error"}                 or
 *   {"item", "kind", "subject", "cn", "issuer", "not_after", "chain",
 *    "leaf", "verified", "verify_error"}
 * not_after is unix seconds; chain the number of certificates seen; leaf
 * the 1-based position of the one reported. Exit 0 when every item was
 * answered (errors included), 2 on a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>

#define CERTCHECK_ITEMS_MAX	256
#define CERTCHECK_FILE_MAX	(1024 * 1024)	/* a PEM bundle, bytes */
#define CERTCHECK_CHAIN_MAX	16		/* certificates per item */
#define CERTCHECK_TEXT_MAX	512
#define CERTCHECK_TIMEOUT_MAX	300

struct certcheck_cert {
	char		 subject[CERTCHECK_TEXT_MAX];
	char		 cn[CERTCHECK_TEXT_MAX];
	char		 issuer[CERTCHECK_TEXT_MAX];
	long long	 not_after;
	unsigned	 chain, leaf;
	bool		 verified;
	char		 verify_error[CERTCHECK_TEXT_MAX];
};

static unsigned certcheck_timeout = 10;
static gnutls_x509_trust_list_t certcheck_trust;	/* system CAs or NULL */

static void
certcheck_emit_error(const char *item, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One line per item; stdout is a pipe to agentd, flushed per line so a
 * timeout later still leaves the earlier answers. */
static void
certcheck_emit(json_t *o)
{
	char *s;

	if (o == NULL)
		return;
	if ((s = json_dumps(o, JSON_COMPACT)) != NULL) {
		printf("%s\n", s);
		fflush(stdout);
		free(s);
	}
	json_decref(o);
}

static void
certcheck_emit_error(const char *item, const char *kind, const char *fmt, ...)
{
	char text[CERTCHECK_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	certcheck_emit(json_pack("{s:s, s:s, s:s}", "item", item, "kind", kind,
	    "error", text));
}

static void
certcheck_emit_cert(const char *item, const char *kind,
    const struct certcheck_cert *c)
{
	certcheck_emit(json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:i, s:i, "
	    "s:b, s:s}", "item", item, "kind", kind, "subject", c->subject,
	    "cn", c->cn, "issuer", c->issuer, "not_after",
	    (json_int_t)c->not_after, "chain", (int)c->chain, "leaf",
	    (int)c->leaf, "verified", c->verified, "verify_error",
	    c->verify_error));
}

static void
certcheck_dn(gnutls_x509_crt_t crt, bool issuer, char *buf, size_t len)
{
	gnutls_datum_t d = { NULL, 0 };
	int r;

	r = issuer ? gnutls_x509_crt_get_issuer_dn2(crt, &d) :
	    gnutls_x509_crt_get_dn2(crt, &d);
	if (r < 0)
		snprintf(buf, len, "?");
	else
		snprintf(buf, len, "%.*s", (int)d.size, (const char *)d.data);
	gnutls_free(d.data);
}

/* The leaf of a bundle: the certificate that issued none of the others
 * (fullchain.pem has it first, but a bundle written the other way round
 * must not make us report the CA's expiry). */
static unsigned
certcheck_find_leaf(gnutls_x509_crt_t *crts, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		bool issuer_of_other = false;

		for (unsigned j = 0; j < n && !issuer_of_other; j++)
			if (j != i && gnutls_x509_crt_check_issuer(crts[j],
			    crts[i]) == 1)
				issuer_of_other = true;
		if (!issuer_of_other)
			return i;
	}
	return 0;
}

/* Fills c from crts[leaf]; verifies the chain, leaf first, against the
 * system CAs, checking hostname when not NULL. */
static void
certcheck_describe(gnutls_x509_crt_t *crts, unsigned n, unsigned leaf,
    const char *hostname, struct certcheck_cert *c)
{
	gnutls_x509_crt_t ordered[CERTCHECK_CHAIN_MAX];
	gnutls_datum_t out = { NULL, 0 };
	unsigned status = 0, k = 0;
	size_t len;

	memset(c, 0, sizeof(*c));
	certcheck_dn(crts[leaf], false, c->subject, sizeof(c->subject));
	certcheck_dn(crts[leaf], true, c->issuer, sizeof(c->issuer));
	len = sizeof(c->cn);
	if (gnutls_x509_crt_get_dn_by_oid(crts[leaf], GNUTLS_OID_X520_COMMON_NAME,
	    0, 0, c->cn, &len) < 0)
		c->cn[0] = '\0';
	c->not_after = (long long)gnutls_x509_crt_get_expiration_time(
	    crts[leaf]);
	c->chain = n;
	c->leaf = leaf + 1;

	if (certcheck_trust == NULL) {
		snprintf(c->verify_error, sizeof(c->verify_error),
		    "no system CA store");
		return;
	}
	ordered[k++] = crts[leaf];
	for (unsigned i = 0; i < n && k < CERTCHECK_CHAIN_MAX; i++)
		if (i != leaf)
			ordered[k++] = crts[i];
	if (gnutls_x509_trust_list_verify_crt2(certcheck_trust, ordered, k,
	    NULL, 0, 0, &status, NULL) < 0) {
		snprintf(c->verify_error, sizeof(c->verify_error),
		    "verification failed to run");
		return;
	}
	if (status == 0 && hostname != NULL &&
	    !gnutls_x509_crt_check_hostname(crts[leaf], hostname)) {
		snprintf(c->verify_error, sizeof(c->verify_error),
		    "the certificate does not match the name %s", hostname);
		return;
	}
	if (status == 0) {
		c->verified = true;
		return;
	}
	if (gnutls_certificate_verification_status_print(status,
	    GNUTLS_CRT_X509, &out, 0) == 0) {
		snprintf(c->verify_error, sizeof(c->verify_error), "%.*s",
		    (int)out.size, (const char *)out.data);
		gnutls_free(out.data);
		len = strlen(c->verify_error);
		while (len > 0 && c->verify_error[len - 1] == ' ')
			c->verify_error[--len] = '\0';
	} else
		snprintf(c->verify_error, sizeof(c->verify_error),
		    "not trusted (status 0x%x)", status);
}

static void
certcheck_file(const char *path)
{
	gnutls_x509_crt_t *crts = NULL;
	gnutls_datum_t d = { NULL, 0 };
	struct certcheck_cert c;
	unsigned n = 0;
	struct stat st;
	ssize_t got;
	int fd = -1, r;

	if ((fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)) <
	    0) {
		certcheck_emit_error(path, "file", "cannot open: %s",
		    strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		certcheck_emit_error(path, "file", "not a regular file");
		goto out;
	}
	if (st.st_size > CERTCHECK_FILE_MAX) {
		certcheck_emit_error(path, "file", "larger than %d bytes",
		    CERTCHECK_FILE_MAX);
		goto out;
	}
	d.data = gnutls_malloc((size_t)st.st_size + 1);
	if (d.data == NULL) {
		certcheck_emit_error(path, "file", "out of memory");
		goto out;
	}
	while (d.size < (unsigned)st.st_size) {
		got = read(fd, d.data + d.size, (size_t)st.st_size - d.size);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		d.size += (unsigned)got;
	}
	d.data[d.size] = '\0';
	/* PEM first (the usual form, also a bundle); a lone DER file next. */
	r = gnutls_x509_crt_list_import2(&crts, &n, &d, GNUTLS_X509_FMT_PEM, 0);
	if (r < 0)
		r = gnutls_x509_crt_list_import2(&crts, &n, &d,
		    GNUTLS_X509_FMT_DER, 0);
	if (r < 0 || n == 0) {
		certcheck_emit_error(path, "file", "no certificate: %s",
		    r < 0 ? gnutls_strerror(r) : "empty");
		goto out;
	}
	certcheck_describe(crts, n < CERTCHECK_CHAIN_MAX ? n :
	    CERTCHECK_CHAIN_MAX, certcheck_find_leaf(crts, n <
	    CERTCHECK_CHAIN_MAX ? n : CERTCHECK_CHAIN_MAX), NULL, &c);
	certcheck_emit_cert(path, "file", &c);
out:
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
	gnutls_free(d.data);
	if (fd >= 0)
		close(fd);
}

/*
 * Splits "host:port[@servername]" or "[v6]:port[@servername]" into its
 * parts. Returns 0 or -1 with why set.
 */
static int
certcheck_parse_endpoint(const char *spec, char *host, size_t hostlen,
    char *port, size_t portlen, char *sni, size_t snilen, const char **why)
{
	char buf[CERTCHECK_TEXT_MAX], *at, *p, *h;
	unsigned char addr[16];

	if (strlen(spec) >= sizeof(buf)) {
		*why = "too long";
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", spec);
	sni[0] = '\0';
	if ((at = strchr(buf, '@')) != NULL) {
		*at++ = '\0';
		snprintf(sni, snilen, "%s", at);
	}
	if (buf[0] == '[') {
		h = buf + 1;
		if ((p = strchr(h, ']')) == NULL || p[1] != ':') {
			*why = "expected [ADDRESS]:PORT";
			return -1;
		}
		*p = '\0';
		p += 2;
	} else {
		h = buf;
		if ((p = strrchr(buf, ':')) == NULL || strchr(buf, ':') != p) {
			*why = "expected HOST:PORT";
			return -1;
		}
		*p++ = '\0';
	}
	if (*h == '\0' || *p == '\0' || strspn(p, "0123456789") != strlen(p) ||
	    atoi(p) < 1 || atoi(p) > 65535) {
		*why = "expected HOST:PORT with a port from 1 to 65535";
		return -1;
	}
	snprintf(host, hostlen, "%s", h);
	snprintf(port, portlen, "%s", p);
	/* RFC 6066: no address in SNI; nor a name check against one. */
	if (sni[0] == '\0' && inet_pton(AF_INET, h, addr) != 1 &&
	    inet_pton(AF_INET6, h, addr) != 1)
		snprintf(sni, snilen, "%s", h);
	return 0;
}

static long long
certcheck_ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000LL +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/* A TCP connection to one of host's addresses within the deadline;
 * returns the socket (blocking again) or -1 with why set. */
static int
certcheck_connect(const char *host, const char *port,
    const struct timespec *deadline, char *why, size_t whylen)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct pollfd pfd;
	struct timeval tv;
	socklen_t slen;
	int fd = -1, r, soerr;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((r = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(why, whylen, "cannot resolve the name: %s",
		    gai_strerror(r));
		return -1;
	}
	snprintf(why, whylen, "no address");
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		long long left = certcheck_ms_left(deadline);

		if (left <= 0) {
			snprintf(why, whylen, "connect: timed out after %u s",
			    certcheck_timeout);
			break;
		}
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			snprintf(why, whylen, "socket: %s", strerror(errno));
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
		    errno != EINPROGRESS) {
			snprintf(why, whylen, "connect: %s", strerror(errno));
			goto next;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		r = poll(&pfd, 1, (int)left);
		if (r == 0) {
			snprintf(why, whylen, "connect: timed out after %u s",
			    certcheck_timeout);
			goto next;
		}
		soerr = 0;
		slen = sizeof(soerr);
		if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
		    &slen) < 0 || soerr != 0) {
			snprintf(why, whylen, "connect: %s",
			    strerror(soerr != 0 ? soerr : errno));
			goto next;
		}
		/* Blocking from here, with socket timeouts as a backstop to
		 * GnuTLS's handshake timeout. */
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		tv.tv_sec = certcheck_timeout;
		tv.tv_usec = 0;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		break;
next:
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static void
certcheck_endpoint(const char *spec)
{
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_session_t session = NULL;
	gnutls_x509_crt_t crts[CERTCHECK_CHAIN_MAX];
	const gnutls_datum_t *peers;
	char host[CERTCHECK_TEXT_MAX], port[16], sni[CERTCHECK_TEXT_MAX];
	char why[CERTCHECK_TEXT_MAX];
	struct certcheck_cert c;
	struct timespec deadline;
	const char *perr = NULL;
	unsigned npeers = 0, n = 0;
	long long left;
	int fd = -1, r;

	if (certcheck_parse_endpoint(spec, host, sizeof(host), port,
	    sizeof(port), sni, sizeof(sni), &perr) < 0) {
		certcheck_emit_error(spec, "endpoint", "%s", perr);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += certcheck_timeout;
	if ((fd = certcheck_connect(host, port, &deadline, why,
	    sizeof(why))) < 0) {
		certcheck_emit_error(spec, "endpoint", "%s", why);
		return;
	}
	if ((r = gnutls_certificate_allocate_credentials(&cred)) < 0 ||
	    (r = gnutls_init(&session, GNUTLS_CLIENT)) < 0 ||
	    (r = gnutls_set_default_priority(session)) < 0 ||
	    (r = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE,
	    cred)) < 0) {
		certcheck_emit_error(spec, "endpoint", "TLS setup: %s",
		    gnutls_strerror(r));
		goto out;
	}
	if (sni[0] != '\0')
		gnutls_server_name_set(session, GNUTLS_NAME_DNS, sni,
		    strlen(sni));
	gnutls_transport_set_int(session, fd);
	left = certcheck_ms_left(&deadline);
	gnutls_handshake_set_timeout(session, left > 1 ? (unsigned)left : 1);
	do {
		r = gnutls_handshake(session);
	} while (r < 0 && !gnutls_error_is_fatal(r) &&
	    certcheck_ms_left(&deadline) > 0);
	if (r < 0) {
		certcheck_emit_error(spec, "endpoint", "TLS handshake: %s",
		    r == GNUTLS_E_TIMEDOUT || r == GNUTLS_E_AGAIN ?
		    "timed out" : gnutls_strerror(r));
		goto out;
	}
	peers = gnutls_certificate_get_peers(session, &npeers);
	if (peers == NULL || npeers == 0) {
		certcheck_emit_error(spec, "endpoint",
		    "the server sent no certificate");
		goto out;
	}
	for (n = 0; n < npeers && n < CERTCHECK_CHAIN_MAX; n++) {
		if (gnutls_x509_crt_init(&crts[n]) < 0)
			break;
		if ((r = gnutls_x509_crt_import(crts[n], &peers[n],
		    GNUTLS_X509_FMT_DER)) < 0) {
			gnutls_x509_crt_deinit(crts[n]);
			break;
		}
	}
	if (n == 0) {
		certcheck_emit_error(spec, "endpoint", "cannot read the "
		    "server's certificate");
		goto out;
	}
	/* TLS sends the server's own certificate first. */
	certcheck_describe(crts, n, 0, sni[0] != '\0' ? sni : NULL, &c);
	certcheck_emit_cert(spec, "endpoint", &c);
	for (unsigned i = 0; i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_bye(session, GNUTLS_SHUT_WR);
out:
	if (session != NULL)
		gnutls_deinit(session);
	if (cred != NULL)
		gnutls_certificate_free_credentials(cred);
	close(fd);
}

static void
certcheck_usage(void)
{
	fprintf(stderr, "usage: agentd-certcheck [-t seconds] [-f path]... "
	    "[-e host:port[@servername]]...\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *items[CERTCHECK_ITEMS_MAX];
	bool is_file[CERTCHECK_ITEMS_MAX];
	size_t nitems = 0;
	char *end;
	long t;
	int ch;

	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "t:f:e:")) != -1) {
		switch (ch) {
		case 't':
			t = strtol(optarg, &end, 10);
			if (*end != '\0' || t < 1 || t > CERTCHECK_TIMEOUT_MAX)
				certcheck_usage();
			certcheck_timeout = (unsigned)t;
			break;
		case 'f':
		case 'e':
			if (nitems >= CERTCHECK_ITEMS_MAX)
				certcheck_usage();
			is_file[nitems] = ch == 'f';
			items[nitems++] = optarg;
			break;
		default:
			certcheck_usage();
		}
	}
	if (optind != argc)
		certcheck_usage();
	if (gnutls_global_init() < 0)
		return 1;
	if (gnutls_x509_trust_list_init(&certcheck_trust, 0) < 0 ||
	    gnutls_x509_trust_list_add_system_trust(certcheck_trust, 0, 0) <=
	    0) {
		if (certcheck_trust != NULL)
			gnutls_x509_trust_list_deinit(certcheck_trust, 1);
		certcheck_trust = NULL;
	}
	for (size_t i = 0; i < nitems; i++) {
		if (is_file[i])
			certcheck_file(items[i]);
		else
			certcheck_endpoint(items[i]);
	}
	if (certcheck_trust != NULL)
		gnutls_x509_trust_list_deinit(certcheck_trust, 1);
	gnutls_global_deinit();
	return 0;
}
