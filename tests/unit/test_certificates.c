/*
 * Unit tests for the certificates collector: the record parser and the
 * evaluation on hand-made items, then whole runs of the real collector and
 * agentd-certcheck on certificates made here with GnuTLS (expired, 3 days,
 * 10 days, 60 days, a chain written CA first), a missing file, and an
 * endpoint that accepts and never speaks (the probe must time out).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <systemd/sd-event.h>

#include "certificates.h"
#include "collector.h"
#include "testutil.h"

extern const struct collector collector_certificates;

#define DAY	86400

struct tree {
	char		 dir[128];
	char		 helper[PATH_MAX];
	sd_event	*event;
};

static void *
new_certs(const struct tree *t, const char *key, ...)
{
	char err[COLLECTOR_ERR_MAX];
	struct collector_env env = { .proc = "/proc", .sys = "/sys",
	    .state_dir = "/nonexistent", .event = t != NULL ? t->event : NULL };
	void *inst = collector_certificates.new();
	const char *value;
	va_list ap;

	va_start(ap, key);
	for (; key != NULL; key = va_arg(ap, const char *)) {
		value = va_arg(ap, const char *);
		if (collector_certificates.configure(inst, key, value, err,
		    sizeof(err)) != 0)
			fail_msg("configure %s=%s: %s", key, value, err);
	}
	va_end(ap);
	if (t != NULL) {
		if (collector_certificates.configure(inst, "helper", t->helper,
		    err, sizeof(err)) != 0)
			fail_msg("helper: %s", err);
		assert_int_equal(collector_certificates.start(inst, &env), 0);
	}
	return inst;
}

static void
test_parse_line(void **state)
{
	static const char ok[] = "{\"item\":\"/etc/a.pem\",\"kind\":\"file\","
	    "\"subject\":\"CN=a\",\"cn\":\"a\\u0007b\",\"issuer\":\"CN=ca\","
	    "\"not_after\":1800000000,\"chain\":3,\"leaf\":2,"
	    "\"verified\":false,\"verify_error\":\"unknown issuer\"}";
	static const char bad[] = "{\"item\":\"x:1\",\"kind\":\"endpoint\","
	    "\"error\":\"connect: Connection refused\"}";
	struct certificates_item it;

	(void)state;
	assert_int_equal(certificates_parse_line(ok, sizeof(ok) - 1, &it), 0);
	assert_string_equal(it.item, "/etc/a.pem");
	assert_true(it.is_file);
	assert_true(it.answered);
	/* A control character from a certificate never reaches the text. */
	assert_string_equal(it.cn, "a?b");
	assert_int_equal(it.not_after, 1800000000);
	assert_int_equal(it.chain, 3);
	assert_int_equal(it.leaf, 2);
	assert_false(it.verified);
	assert_int_equal(certificates_parse_line(bad, sizeof(bad) - 1, &it),
	    0);
	assert_false(it.is_file);
	assert_string_equal(it.error, "connect: Connection refused");

	assert_int_equal(certificates_parse_line("garbage", 7, &it), -EINVAL);
	assert_int_equal(certificates_parse_line("[1]", 3, &it), -EINVAL);
	assert_int_equal(certificates_parse_line("{\"item\":\"a\","
	    "\"kind\":\"file\"}", 25, &it), -EINVAL);	/* no not_after */
	assert_int_equal(certificates_parse_line("{\"item\":\"a\","
	    "\"kind\":\"dir\",\"error\":\"x\"}", 37, &it), -EINVAL);
	assert_int_equal(certificates_parse_line(NULL, 0, &it), -EINVAL);
}

static void
item(struct certificates_item *it, const char *name, bool is_file,
    time_t now, double days, const char *cn)
{
	memset(it, 0, sizeof(*it));
	snprintf(it->item, sizeof(it->item), "%s", name);
	it->is_file = is_file;
	it->answered = true;
	it->not_after = (int64_t)now + (int64_t)(days * DAY);
	snprintf(it->cn, sizeof(it->cn), "%s", cn);
	snprintf(it->subject, sizeof(it->subject), "CN=%s", cn);
	snprintf(it->issuer, sizeof(it->issuer), "CN=Test CA");
	it->chain = it->leaf = 1;
}

static void
test_summarise(void **state)
{
	struct certificates_item items[4];
	time_t now = 1800000000;
	struct result res = { 0 };
	void *inst = new_certs(NULL, NULL);

	(void)state;
	item(&items[0], "/etc/ssl/a.pem", true, now, 60.5, "a.example");
	item(&items[1], "example.com:443", false, now, 5.5, "example.com");
	certificates_summarise(inst, items, 2, now, &res);
	assert_int_equal(res.state, STATE_CRITICAL);
	assert_string_equal(res.summary, "example.com:443 expires in 5 d "
	    "(CN=example.com)");
	assert_near(testutil_find_perf(&res, "example.com:443")->value, 5.5);
	assert_string_equal(testutil_find_perf(&res, "example.com:443")->warn,
	    "21:");
	assert_string_equal(testutil_find_perf(&res, "example.com:443")->crit,
	    "7:");
	assert_near(testutil_find_perf(&res, "/etc/ssl/a.pem")->value, 60.5);
	result_reset(&res);

	/* All fine: the soonest is named. */
	items[1].not_after = now + 30 * DAY;
	certificates_summarise(inst, items, 2, now, &res);
	assert_int_equal(res.state, STATE_OK);
	assert_string_equal(res.summary, "2 certificates OK, the soonest: "
	    "example.com:443 expires in 30 d (CN=example.com)");
	result_reset(&res);

	/* Expired beats warning; an unreadable item is UNKNOWN, ranked
	 * below CRITICAL; the others are counted. */
	item(&items[2], "/etc/ssl/old.pem", true, now, -3.2, "old.example");
	items[2].chain = 3;
	items[2].leaf = 1;
	memset(&items[3], 0, sizeof(items[3]));
	snprintf(items[3].item, sizeof(items[3].item), "down.example:443");
	items[3].answered = true;
	snprintf(items[3].error, sizeof(items[3].error), "connect: timed out");
	items[1].not_after = now + 10 * DAY;
	certificates_summarise(inst, items, 4, now, &res);
	assert_int_equal(res.state, STATE_CRITICAL);
	assert_string_equal(res.summary, "/etc/ssl/old.pem expired 3 d ago "
	    "(CN=old.example, leaf 1 of 3 in the file); 2 more not OK");
	assert_contains(res.long_text, "down.example:443: connect: timed out "
	    "(UNKNOWN)");
	result_reset(&res);

	/* Only the unreadable one: UNKNOWN with its reason. */
	certificates_summarise(inst, &items[3], 1, now, &res);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_string_equal(res.summary, "down.example:443: connect: timed "
	    "out");
	result_reset(&res);
	collector_certificates.free(inst);

	/* error_state makes it CRITICAL; hours in the last day. */
	inst = new_certs(NULL, "error_state", "critical", NULL);
	certificates_summarise(inst, &items[3], 1, now, &res);
	assert_int_equal(res.state, STATE_CRITICAL);
	result_reset(&res);
	items[0].not_after = now + 7 * 3600 + 60;
	certificates_summarise(inst, items, 1, now, &res);
	assert_string_equal(res.summary, "/etc/ssl/a.pem expires in 7 h "
	    "(CN=a.example)");
	result_reset(&res);
	collector_certificates.free(inst);
}

static void
test_configure(void **state)
{
	char err[COLLECTOR_ERR_MAX];
	void *inst = collector_certificates.new();

	(void)state;
	assert_int_equal(collector_certificates.configure(inst, "files",
	    "relative.pem", err, sizeof(err)), -EINVAL);
	assert_contains(err, "not an absolute path");
	assert_int_equal(collector_certificates.configure(inst, "timeout",
	    "0", err, sizeof(err)), -EINVAL);
	assert_int_equal(collector_certificates.configure(inst, "timeout",
	    "61", err, sizeof(err)), -EINVAL);
	assert_int_equal(collector_certificates.configure(inst, "helper",
	    "agentd-certcheck", err, sizeof(err)), -EINVAL);
	assert_int_equal(collector_certificates.configure(inst, "nope", "1",
	    err, sizeof(err)), -EINVAL);
	assert_contains(err, "unknown key 'nope'");
	assert_int_equal(collector_certificates.configure(inst, "endpoints",
	    "a:1, [::1]:2 b:3@c", err, sizeof(err)), 0);
	assert_true(collector_certificates.off_by_default);
	collector_certificates.free(inst);
}

/* ------------------------------------------------------------------ */
/* Whole runs with certificates made here. */

struct keycert {
	gnutls_x509_privkey_t	key;
	gnutls_x509_crt_t	crt;
};

/* A certificate for cn valid from now - 30 days to now + days, signed by
 * ca (self-signed when NULL); appended in PEM to path. */
static void
make_cert(struct keycert *kc, const char *cn, double days,
    const struct keycert *ca, const char *path)
{
	unsigned char serial[8];
	unsigned char buf[8192];
	size_t len = sizeof(buf);
	time_t now = time(NULL);
	FILE *f;

	assert_int_equal(gnutls_x509_privkey_init(&kc->key), 0);
	assert_int_equal(gnutls_x509_privkey_generate(kc->key,
	    GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
	    0), 0);
	assert_int_equal(gnutls_x509_crt_init(&kc->crt), 0);
	assert_int_equal(gnutls_x509_crt_set_version(kc->crt, 3), 0);
	for (size_t i = 0; i < sizeof(serial); i++)
		serial[i] = (unsigned char)(rand() & 0x7f);
	assert_int_equal(gnutls_x509_crt_set_serial(kc->crt, serial,
	    sizeof(serial)), 0);
	assert_int_equal(gnutls_x509_crt_set_dn_by_oid(kc->crt,
	    GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)strlen(cn)), 0);
	assert_int_equal(gnutls_x509_crt_set_activation_time(kc->crt,
	    now - 30 * DAY), 0);
	assert_int_equal(gnutls_x509_crt_set_expiration_time(kc->crt,
	    now + (time_t)(days * DAY)), 0);
	assert_int_equal(gnutls_x509_crt_set_key(kc->crt, kc->key), 0);
	if (ca == NULL || ca == kc)
		assert_int_equal(gnutls_x509_crt_set_basic_constraints(kc->crt,
		    1, -1), 0);
	assert_int_equal(gnutls_x509_crt_sign2(kc->crt, ca != NULL ? ca->crt :
	    kc->crt, ca != NULL ? ca->key : kc->key, GNUTLS_DIG_SHA256, 0), 0);
	assert_int_equal(gnutls_x509_crt_export(kc->crt, GNUTLS_X509_FMT_PEM,
	    buf, &len), 0);
	assert_non_null(f = fopen(path, "a"));
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
}

static void
free_cert(struct keycert *kc)
{
	gnutls_x509_crt_deinit(kc->crt);
	gnutls_x509_privkey_deinit(kc->key);
}

static int
tree_setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));
	char self[PATH_MAX - 64], *slash;
	ssize_t n;
	sigset_t ss;

	sigemptyset(&ss);
	sigaddset(&ss, SIGCHLD);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	if (t == NULL || testutil_mkdtemp(t->dir, sizeof(t->dir)) < 0 ||
	    sd_event_new(&t->event) < 0)
		return -1;
	/* BUILD/tests/test_certificates -> BUILD/agentd-certcheck */
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) < 0)
		return -1;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	snprintf(t->helper, sizeof(t->helper), "%s/agentd-certcheck", self);
	if (access(t->helper, X_OK) < 0) {
		print_error("%s: %s (make builds it)\n", t->helper,
		    strerror(errno));
		return -1;
	}
	*state = t;
	return 0;
}

static int
tree_teardown(void **state)
{
	struct tree *t = *state;

	testutil_rm_rf(t->dir);
	sd_event_unref(t->event);
	free(t);
	return 0;
}

static void
test_run_files(void **state)
{
	struct tree *t = *state;
	struct keycert expired, three, sixty, ca, leaf;
	char p_exp[256], p_three[256], p_sixty[256], p_chain[256],
	    p_missing[256], files[1400];
	struct result res = { 0 };
	void *inst;

	snprintf(p_exp, sizeof(p_exp), "%s/expired.pem", t->dir);
	snprintf(p_three, sizeof(p_three), "%s/three.pem", t->dir);
	snprintf(p_sixty, sizeof(p_sixty), "%s/sixty.pem", t->dir);
	snprintf(p_chain, sizeof(p_chain), "%s/chain.pem", t->dir);
	snprintf(p_missing, sizeof(p_missing), "%s/missing.pem", t->dir);
	make_cert(&expired, "expired.test", -2.5, NULL, p_exp);
	make_cert(&three, "three.test", 3.5, NULL, p_three);
	make_cert(&sixty, "sixty.test", 60.5, NULL, p_sixty);
	/* The CA first: the leaf is the second certificate in the file. */
	make_cert(&ca, "Test CA", 900, NULL, p_chain);
	make_cert(&leaf, "leaf.test", 10.5, &ca, p_chain);

	snprintf(files, sizeof(files), "%s %s", p_sixty, p_chain);
	inst = new_certs(t, "files", files, NULL);
	collect_run_sync(&collector_certificates, inst, t->event, &res);
	assert_int_equal(res.state, STATE_WARNING);
	if (strstr(res.summary, "chain.pem expires in 10 d (CN=leaf.test, "
	    "leaf 2 of 2 in the file)") == NULL)
		fail_msg("the chain's leaf is not the one reported: %s",
		    res.summary);
	assert_near(testutil_find_perf(&res, p_sixty)->value, 60.5);
	assert_contains(res.long_text, "does not verify against the system "
	    "CAs");
	result_reset(&res);
	collector_certificates.free(inst);

	snprintf(files, sizeof(files), "%s,%s,%s,%s,%s", p_sixty, p_missing,
	    p_three, p_chain, p_exp);
	inst = new_certs(t, "files", files, NULL);
	collect_run_sync(&collector_certificates, inst, t->event, &res);
	assert_int_equal(res.state, STATE_CRITICAL);
	if (strstr(res.summary, "expired.pem expired 2 d ago "
	    "(CN=expired.test); 3 more not OK") == NULL)
		fail_msg("summary: %s", res.summary);
	assert_contains(res.long_text, "missing.pem: cannot open: No such "
	    "file or directory (UNKNOWN)");
	assert_near(testutil_find_perf(&res, p_three)->value, 3.5);
	assert_near(testutil_find_perf(&res, p_exp)->value, -2.5);
	result_reset(&res);
	collector_certificates.free(inst);

	free_cert(&expired);
	free_cert(&three);
	free_cert(&sixty);
	free_cert(&ca);
	free_cert(&leaf);
}

/* A listener that never accepts: the kernel completes the TCP handshake,
 * nobody speaks TLS. The probe gives up at its timeout. */
static void
test_run_silent_endpoint(void **state)
{
	struct tree *t = *state;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);
	struct result res = { 0 };
	char ep[64];
	time_t start;
	void *inst;
	int fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
	snprintf(ep, sizeof(ep), "127.0.0.1:%u", ntohs(sin.sin_port));
	inst = new_certs(t, "endpoints", ep, "timeout", "1", NULL);
	start = time(NULL);
	collect_run_sync(&collector_certificates, inst, t->event, &res);
	assert_int_equal(res.state, STATE_UNKNOWN);
	assert_contains(res.summary, ep);
	assert_contains(res.summary, "timed out");
	if (time(NULL) - start > 5)
		fail_msg("the probe took %lld s with timeout 1",
		    (long long)(time(NULL) - start));
	result_reset(&res);
	collector_certificates.free(inst);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_line),
		cmocka_unit_test(test_summarise),
		cmocka_unit_test(test_configure),
		cmocka_unit_test_setup_teardown(test_run_files, tree_setup,
		    tree_teardown),
		cmocka_unit_test_setup_teardown(test_run_silent_endpoint,
		    tree_setup, tree_teardown),
	};

	srand((unsigned)time(NULL));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
