/* Config parsing: defaults, overrides, drop-ins and every error's file:line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "timeutil.h"

static struct config *
load_ok(const char *text)
{
	struct config_errors errs = { 0 };
	struct config *cfg = NULL;
	int r = config_load_buffer("t.conf", text, strlen(text), &cfg, &errs);

	for (size_t i = 0; i < errs.n; i++)
		print_message("unexpected error: %s\n", errs.msgs[i]);
	assert_int_equal(r, 0);
	assert_non_null(cfg);
	config_errors_free(&errs);
	return cfg;
}

/* Asserts the config is rejected with exactly the expected messages. */
static void
load_fails(const char *text, const char *const *expect, size_t n)
{
	struct config_errors errs = { 0 };
	struct config *cfg = NULL;
	int r = config_load_buffer("t.conf", text, strlen(text), &cfg, &errs);

	assert_int_equal(r, -EINVAL);
	assert_null(cfg);
	for (size_t i = 0; i < errs.n; i++)
		print_message("got: %s\n", errs.msgs[i]);
	assert_int_equal(errs.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(errs.msgs[i], expect[i]);
	config_errors_free(&errs);
}

static void
test_defaults(void **state)
{
	struct config *cfg = load_ok("");
	struct check_conf *c;

	(void)state;
	assert_string_equal(cfg->control_socket, "/run/agentd/control.sock");
	assert_string_equal(cfg->state_dir, "/var/lib/agentd");
	assert_int_equal(cfg->max_concurrent_checks, 4);
	/* every built-in collector is on by default, except those with
	 * nothing to watch until configured */
	for (size_t i = 0; collectors[i] != NULL; i++) {
		c = config_find_check(cfg, collectors[i]->name);
		assert_non_null(c);
		assert_int_equal(c->enabled, !collectors[i]->off_by_default);
		assert_int_equal(c->kind, CHECK_COLLECTOR);
		assert_int_equal(c->interval, collectors[i]->interval);
	}
	config_free(cfg);
}

/* certificates is off until it has something to watch; "enabled" written
 * by the admin wins, before or after. */
static void
test_off_by_default(void **state)
{
	struct config *cfg = load_ok("");

	(void)state;
	assert_false(config_find_check(cfg, "certificates")->enabled);
	config_free(cfg);
	cfg = load_ok("[collector.certificates]\n"
	    "files = /etc/ssl/certs/a.pem\n");
	assert_true(config_find_check(cfg, "certificates")->enabled);
	config_free(cfg);
	cfg = load_ok("[collector.certificates]\n"
	    "enabled = no\n"
	    "endpoints = example.com:443\n");
	assert_false(config_find_check(cfg, "certificates")->enabled);
	config_free(cfg);
	cfg = load_ok("[collector.certificates]\n"
	    "enabled = yes\n");
	assert_true(config_find_check(cfg, "certificates")->enabled);
	config_free(cfg);
}

static void
test_external_check(void **state)
{
	struct config *cfg = load_ok(
	    "# comment\n"
	    "[agent]\n"
	    "control_socket = /tmp/x.sock\n"
	    "max_concurrent_checks = 2\n"
	    "[check.sysload]\n"
	    "command = /usr/lib/nagios/plugins/check_load -w '5,4,3' -c 10,8,6;x\n"
	    "interval = 2m\n"
	    "timeout = 30s\n"
	    "[collector.cpu]\n"
	    "interval = 15\n"
	    "[collector.journal]\n"
	    "enabled = no\n");
	struct check_conf *c = config_find_check(cfg, "sysload");

	(void)state;
	assert_string_equal(cfg->control_socket, "/tmp/x.sock");
	assert_int_equal(cfg->max_concurrent_checks, 2);
	assert_non_null(c);
	assert_int_equal(c->kind, CHECK_EXTERNAL);
	assert_int_equal(c->interval, 120);
	assert_int_equal(c->timeout, 30);
	/* ';' is no comment and no shell operator: it stays in the word */
	assert_string_equal(c->argv[0], "/usr/lib/nagios/plugins/check_load");
	assert_string_equal(c->argv[2], "5,4,3");
	assert_string_equal(c->argv[4], "10,8,6;x");
	assert_null(c->argv[5]);
	assert_int_equal(config_find_check(cfg, "cpu")->interval, 15);
	assert_false(config_find_check(cfg, "journal")->enabled);
	config_free(cfg);
}

static void
test_errors_all_reported(void **state)
{
	static const char *const expect[] = {
		"t.conf:2: unknown key 'colour' in [agent]",
		"t.conf:3: max_concurrent_checks: '0' is not a number from 1 to 64",
		"t.conf:4: unknown section [bogus]",
		"t.conf:7: interval: '5x' is not a duration from 1s to 1d (e.g. 30s, 5m)",
		"t.conf:8: command: 'check_x' is not an absolute path (no shell and no PATH lookup)",
		"t.conf:9: [collector.nosuch]: no such built-in collector",
		"t.conf:11: [check.cpu]: the name is taken by the built-in collector",
		"t.conf:13: [check.bad name]: a check name is 1 to 64 letters, digits, '-', '_' or '.'",
		"t.conf:15: unknown section [empty]",
	};

	(void)state;
	load_fails(
	    "[agent]\n"
	    "colour = blue\n"
	    "max_concurrent_checks = 0\n"
	    "[bogus]\n"
	    "a = b\n"
	    "[check.x]\n"
	    "interval = 5x\n"
	    "command = check_x\n"
	    "[collector.nosuch]\n"
	    "interval = 5\n"
	    "[check.cpu]\n"
	    "command = /bin/true\n"
	    "[check.bad name]\n"
	    "command = /bin/true\n"
	    "[empty]\n", expect, sizeof(expect) / sizeof(*expect));
}

static void
test_syntax_and_quotes(void **state)
{
	static const char *const quote[] = {
		"t.conf:2: command: unterminated single quote (opened at column 11)",
	};
	static const char *const syntax[] = {
		"t.conf:2: syntax error (expected [section] or key = value)",
	};
	static const char *const missing[] = {
		"t.conf:3: [check.nocmd]: missing 'command'",
	};
	static const char *const timeout[] = {
		"t.conf:1: [check.slow]: timeout (60s) must be shorter than interval (60s)",
	};

	(void)state;
	load_fails("[check.q]\ncommand = /bin/echo 'unterminated\n", quote, 1);
	load_fails("[agent]\nthis line has no equals sign\n", syntax, 1);
	load_fails("[agent]\n\n[check.nocmd]\ninterval = 5m\n", missing, 1);
	load_fails("[check.slow]\ncommand = /bin/true\ntimeout = 1m\n", timeout, 1);
}

static void
test_long_line(void **state)
{
	static const char *const expect[] = {
		"t.conf:2: line longer than 8190 bytes",
	};
	size_t n = CONFIG_LINE_MAX + 100;
	char *text = malloc(n + 64);

	(void)state;
	strcpy(text, "[check.long]\ncommand = /bin/echo ");
	memset(text + strlen(text), 'a', n);
	strcpy(text + strlen("[check.long]\ncommand = /bin/echo ") + n, "\n");
	load_fails(text, expect, 1);
	free(text);
}

static void
test_collector_threshold_error(void **state)
{
	struct config_errors errs = { 0 };
	struct config *cfg = NULL;
	const char *text = "[collector.filesystems]\nused_warning = 9x\n";

	(void)state;
	assert_int_equal(config_load_buffer("t.conf", text, strlen(text), &cfg,
	    &errs), -EINVAL);
	assert_int_equal(errs.n, 1);
	print_message("got: %s\n", errs.msgs[0]);
	/* the collector's own message, prefixed with where and which */
	assert_non_null(strstr(errs.msgs[0], "t.conf:2: [collector.filesystems] "));
	assert_non_null(strstr(errs.msgs[0], "9x"));
	config_errors_free(&errs);
}

static void
test_dropins_override(void **state)
{
	char dir[] = "/tmp/agentd-config-XXXXXX", path[256], sub[256];
	struct config_errors errs = { 0 };
	struct config *cfg = NULL;
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/agentd.conf", dir);
	snprintf(sub, sizeof(sub), "%s/conf.d", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	fp = fopen(path, "w");
	fputs("[check.web]\ncommand = /bin/true\ninterval = 30\n", fp);
	fclose(fp);
	snprintf(sub, sizeof(sub), "%s/conf.d/20-web.conf", dir);
	fp = fopen(sub, "w");
	fputs("[check.web]\ninterval = 45\n", fp);
	fclose(fp);
	snprintf(sub, sizeof(sub), "%s/conf.d/10-bad.conf", dir);
	fp = fopen(sub, "w");
	fputs("[agent]\n\nstate_dir = relative\n", fp);
	fclose(fp);

	assert_int_equal(config_load(path, &cfg, &errs), -EINVAL);
	assert_int_equal(errs.n, 1);
	print_message("got: %s\n", errs.msgs[0]);
	assert_non_null(strstr(errs.msgs[0], "/conf.d/10-bad.conf:3: state_dir: "
	    "'relative' is not an absolute path"));
	config_errors_free(&errs);
	unlink(sub);

	assert_int_equal(config_load(path, &cfg, &errs), 0);
	assert_int_equal(config_find_check(cfg, "web")->interval, 45);
	config_free(cfg);
	snprintf(sub, sizeof(sub), "%s/conf.d/20-web.conf", dir);
	unlink(sub);
	snprintf(sub, sizeof(sub), "%s/conf.d", dir);
	rmdir(sub);
	unlink(path);
	rmdir(dir);
}

static void
test_missing_file(void **state)
{
	struct config_errors errs = { 0 };
	struct config *cfg = NULL;

	(void)state;
	assert_int_equal(config_load("/nonexistent/agentd.conf", &cfg, &errs),
	    -EINVAL);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.msgs[0], "/nonexistent/agentd.conf: cannot "
	    "open: No such file or directory");
	config_errors_free(&errs);
}

static void
test_durations_and_bools(void **state)
{
	unsigned v;
	bool b;

	(void)state;
	assert_int_equal(time_parse_duration("90", &v), 0);
	assert_int_equal(v, 90);
	assert_int_equal(time_parse_duration("5m", &v), 0);
	assert_int_equal(v, 300);
	assert_int_equal(time_parse_duration("2h", &v), 0);
	assert_int_equal(v, 7200);
	assert_int_equal(time_parse_duration("1d", &v), 0);
	assert_int_equal(v, 86400);
	assert_int_equal(time_parse_duration("", &v), -EINVAL);
	assert_int_equal(time_parse_duration("-5", &v), -EINVAL);
	assert_int_equal(time_parse_duration("5mm", &v), -EINVAL);
	assert_int_equal(time_parse_duration("99999999999d", &v), -EINVAL);
	assert_int_equal(config_parse_bool("Yes", &b), 0);
	assert_true(b);
	assert_int_equal(config_parse_bool("off", &b), 0);
	assert_false(b);
	assert_int_equal(config_parse_bool("maybe", &b), -EINVAL);
}

/*
 * Headers inih reads differently from us (found by fuzz_config): a \v
 * before '[' (inih skips it) and a name past inih's 50-byte section
 * buffer. Keys go under the section we judged, never under inih's.
 */
static void
test_section_as_judged(void **state)
{
	static const char *const vt[] = {
		"t.conf:1: unknown section [nosuch]",
		"t.conf:2: [collector.nilesystems]: no such built-in collector",
	};
	static const char *const unknown[] = {
		"t.conf:2: unknown key 'bogus' in [check."
		    "a123456789b123456789c123456789d123456789e123456789]",
		"t.conf:1: [check."
		    "a123456789b123456789c123456789d123456789e123456789]: "
		    "missing 'command'",
	};
	struct config *cfg;
	struct check_conf *c;

	(void)state;
	load_fails("[nosuch]\n\v\f [collector.nilesystems]\n"
	    "timeout = 10s\n", vt, 2);
	cfg = load_ok("[check.a123456789b123456789c123456789d123456789e1234]\n"
	    "command = /bin/true\n");
	c = config_find_check(cfg,
	    "a123456789b123456789c123456789d123456789e1234");
	assert_non_null(c);
	assert_string_equal(c->command, "/bin/true");
	config_free(cfg);
	load_fails("[check.a123456789b123456789c123456789d123456789e123456789]"
	    "\nbogus = 1\n", unknown, 2);
}

static void
test_backup_job(void **state)
{
	struct config *cfg = load_ok(
	    "[backup.www]\n"
	    "paths = /etc \"/srv/my data\"\n"
	    "exclude = *.tmp /var/www/cache\n"
	    "one_file_system = yes\n"
	    "target = file:///srv/backup\n"
	    "schedule = 0 2 * * *\n"
	    "randomized_delay = 30m\n"
	    "compression = 7\n"
	    "full_every = 2d\n"
	    "keep_last = 3\n"
	    "keep_weekly = 0\n"
	    "pre_hook = /bin/true 'a b'\n"
	    "hook_timeout = 90s\n");
	struct backup_conf *b;

	(void)state;
	assert_int_equal(cfg->nbackups, 1);
	b = config_find_backup(cfg, "www");
	assert_non_null(b);
	assert_string_equal(b->paths[0], "/etc");
	assert_string_equal(b->paths[1], "/srv/my data");
	assert_null(b->paths[2]);
	assert_string_equal(b->excludes[1], "/var/www/cache");
	assert_true(b->one_file_system);
	assert_string_equal(b->target, "file:///srv/backup");
	assert_string_equal(b->schedule, "0 2 * * *");
	assert_int_equal(b->randomized_delay, 1800);
	assert_int_equal(b->compression, 7);
	assert_true(b->encryption);		/* the default */
	assert_int_equal(b->full_every, 2 * 86400);
	assert_int_equal(b->keep_last, 3);
	assert_int_equal(b->keep_daily, 14);	/* the defaults */
	assert_int_equal(b->keep_weekly, 0);
	assert_int_equal(b->keep_monthly, 12);
	assert_string_equal(b->pre_hook[0], "/bin/true");
	assert_string_equal(b->pre_hook[1], "a b");
	assert_null(b->post_hook);
	assert_int_equal(b->hook_timeout, 90);
	assert_null(config_find_backup(cfg, "nope"));
	config_free(cfg);
}

static void
test_backup_errors(void **state)
{
	static const char *const expect[] = {
		"t.conf:3: target: 'ftp://u@h/p' is not supported: only "
		    "file:///ABSOLUTE/PATH and sftp://USER@HOST[:PORT]/PATH "
		    "targets are",
		"t.conf:4: compression: '20' is not a zstd level from 1 to 19",
		"t.conf:5: schedule: minute: '61' is not a number from 0 to 59",
		"t.conf:6: pre_hook: 'true' is not an absolute path (no shell "
		    "and no PATH lookup)",
		"t.conf:7: unknown key 'keep_hourly' in [backup.a]",
		"t.conf:8: paths: 'rel' is not an absolute path",
		"t.conf:9: encryption: 'maybe' is not yes or no",
		"t.conf:10: [backup.b/c]: a backup job name is 1 to 64 "
		    "letters, digits, '-', '_' or '.'",
		"t.conf:1: [backup.a]: missing 'paths'",
		"t.conf:1: [backup.a]: missing 'target'",
		"t.conf:11: [backup.empty]: missing 'paths'",
		"t.conf:11: [backup.empty]: missing 'target'",
	};
	static const char *const expect_keep[] = {
		"t.conf:4: full_every: '1w' is not a duration from 0 to 366d "
		    "(e.g. 7d; 0: only the first run is full)",
		"t.conf:5: full_every: '400d' is not a duration from 0 to 366d "
		    "(e.g. 7d; 0: only the first run is full)",
		"t.conf:6: keep_last: '-1' is not a number from 0 to 100000",
		"t.conf:7: keep_daily: '7x' is not a number from 0 to 100000",
		"t.conf:8: keep_monthly: '100001' is not a number from 0 to "
		    "100000",
		"t.conf:9: hook_timeout: '0' is not a duration from 1s to 1d "
		    "(e.g. 10m)",
		"t.conf:10: hook_timeout: '2d' is not a duration from 1s to 1d "
		    "(e.g. 10m)",
	};

	(void)state;
	load_fails(
	    "[backup.a]\n"
	    "paths = /etc\n"
	    "target = ftp://u@h/p\n"
	    "compression = 20\n"
	    "schedule = 61 * * * *\n"
	    "pre_hook = true\n"
	    "keep_hourly = 7\n"
	    "paths = rel\n"
	    "encryption = maybe\n"
	    "[backup.b/c]\n"
	    "[backup.empty]\n", expect, sizeof(expect) / sizeof(expect[0]));
	load_fails(
	    "[backup.a]\n"
	    "paths = /etc\n"
	    "target = file:///b\n"
	    "full_every = 1w\n"
	    "full_every = 400d\n"
	    "keep_last = -1\n"
	    "keep_daily = 7x\n"
	    "keep_monthly = 100001\n"
	    "hook_timeout = 0\n"
	    "hook_timeout = 2d\n", expect_keep,
	    sizeof(expect_keep) / sizeof(expect_keep[0]));
}

/* backup.NAME's thresholds: stale_warning, stale_critical, stale_failures;
 * and the check names it takes. */
static void
test_backup_stale_keys(void **state)
{
	static const char *const expect[] = {
		"t.conf:4: stale_warning: '0' is not a duration from 1s to "
		    "3650d (e.g. 36h)",
		"t.conf:5: stale_critical: 'soon' is not a duration from 1s "
		    "to 3650d (e.g. 36h)",
		"t.conf:6: stale_failures: '0' is not a count from 1 to 1000",
		"t.conf:7: [check.backup.a]: check names backup.* are the "
		    "backup jobs' checks",
	};
	struct config *cfg = load_ok(
	    "[backup.www]\n"
	    "paths = /etc\n"
	    "target = file:///srv/backup\n"
	    "stale_warning = 36h\n"
	    "stale_critical = 3d\n"
	    "stale_failures = 5\n");
	struct backup_conf *b;

	(void)state;
	b = config_find_backup(cfg, "www");
	assert_non_null(b);
	assert_int_equal(b->stale_warning, 36 * 3600);
	assert_int_equal(b->stale_critical, 3 * 86400);
	assert_int_equal(b->stale_failures, 5);
	config_free(cfg);
	load_fails(
	    "[backup.a]\n"
	    "paths = /etc\n"
	    "target = file:///srv/backup\n"
	    "stale_warning = 0\n"
	    "stale_critical = soon\n"
	    "stale_failures = 0\n"
	    "[check.backup.a]\n"
	    "command = /bin/true\n", expect, sizeof(expect) / sizeof(expect[0]));
}

static void
test_backup_sftp(void **state)
{
	static const char *const expect[] = {
		"t.conf:4: target: 'sftp://h/p' is not supported: only "
		    "file:///ABSOLUTE/PATH and sftp://USER@HOST[:PORT]/PATH "
		    "targets are",
		/* In parentheses: clang's -Wstring-concatenation. */
		("t.conf:5: bandwidth_limit: '5T' is not a rate in bytes "
		    "per second (e.g. 10M, 512K, 0 for none)"),
		"t.conf:6: sftp_key_file: 'key' is not an absolute path",
		"t.conf:7: sftp_timeout: '2h' is not a duration from 1s to 1h",
		"t.conf:1: [backup.bad]: an sftp target needs sftp_host_key",
		"t.conf:1: [backup.bad]: an sftp target needs sftp_key_file",
		"t.conf:1: [backup.bad]: an sftp target needs encryption = yes",
	};
	struct config *cfg = load_ok(
	    "[backup.r]\n"
	    "paths = /etc\n"
	    "target = sftp://bk@nas.example:2222/srv/b\n"
	    "sftp_host_key = ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBWk root@nas\n"
	    "sftp_key_file = /etc/agentd/bk_key\n"
	    "bandwidth_limit = 10M\n"
	    "sftp_timeout = 2m\n");
	struct backup_conf *b;

	(void)state;
	b = config_find_backup(cfg, "r");
	assert_non_null(b);
	assert_string_equal(b->target, "sftp://bk@nas.example:2222/srv/b");
	/* The comment after the key is dropped. */
	assert_string_equal(b->sftp_host_key,
	    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBWk");
	assert_string_equal(b->sftp_key_file, "/etc/agentd/bk_key");
	assert_int_equal(b->bandwidth_limit, 10 * 1024 * 1024);
	assert_int_equal(b->sftp_timeout, 120);
	config_free(cfg);

	load_fails(
	    "[backup.bad]\n"
	    "paths = /etc\n"
	    "target = sftp://u@h:22/p\n"
	    "target = sftp://h/p\n"
	    "bandwidth_limit = 5T\n"
	    "sftp_key_file = key\n"
	    "sftp_timeout = 2h\n"
	    "encryption = no\n", expect, sizeof(expect) / sizeof(expect[0]));
}

/* [support] (issue 10): the defaults, every key, every refusal. */
static void
test_support(void **state)
{
	static const char *const expect[] = {
		"t.conf:2: bastion: 'b.example.net' is not HOST:PORT",
		"t.conf:3: bastion: 'fe80::1:22' is not HOST:PORT",
		"t.conf:4: bastion: 'b:0' is not HOST:PORT",
		"t.conf:5: bastion_user: '-oProxyCommand=x' is not a login "
		    "name (1-64 letters, digits, '.', '_', '-', not starting "
		    "with '-')",
		"t.conf:6: bastion_host_key: not 'TYPE BASE64' (e.g. the second "
		    "and third fields of ssh-keyscan's line)",
		"t.conf:7: forward_port: '70000' is not a port from 1 to 65535",
		"t.conf:8: forward_port: '-1' is not a port from 1 to 65535",
		"t.conf:9: target: '127.0.0.1' is not HOST:PORT",
		"t.conf:10: policy: 'maybe' is not deny, ask or allow",
		"t.conf:11: max_ttl: '30s' is not a duration from 1m to 7d",
		"t.conf:12: request_timeout: '0' is not a duration from 1s to "
		    "1d",
		"t.conf:13: idle_timeout: '8d' is not a duration up to 7d (0: "
		    "none)",
		"t.conf:14: unknown key 'ttl' in [support]",
		"t.conf: [support]: bastion is set without bastion_host_key",
	};
	struct config *cfg;

	(void)state;
	cfg = load_ok("");
	assert_null(cfg->support.bastion);
	assert_null(cfg->support.bastion_user);
	assert_null(cfg->support.bastion_host_key);
	assert_int_equal(cfg->support.forward_port, 0);
	assert_string_equal(cfg->support.target, "127.0.0.1:22");
	assert_int_equal(cfg->support.policy, SUPPORT_POLICY_ASK);
	assert_int_equal(cfg->support.max_ttl, 8 * 3600);
	assert_int_equal(cfg->support.request_timeout, 15 * 60);
	assert_int_equal(cfg->support.idle_timeout, 0);
	config_free(cfg);

	cfg = load_ok("[support]\n"
	    "bastion = [::1]:2222\n"
	    "bastion_user = agents\n"
	    "bastion_host_key = ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMq "
	    "comment\n"
	    "forward_port = 20001\n"
	    "target = 127.0.0.1:2200\n"
	    "policy = allow\n"
	    "max_ttl = 4h\n"
	    "request_timeout = 90s\n"
	    "idle_timeout = 30m\n");
	assert_string_equal(cfg->support.bastion, "[::1]:2222");
	assert_string_equal(cfg->support.bastion_user, "agents");
	assert_string_equal(cfg->support.bastion_host_key,
	    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMq");
	assert_int_equal(cfg->support.forward_port, 20001);
	assert_string_equal(cfg->support.target, "127.0.0.1:2200");
	assert_int_equal(cfg->support.policy, SUPPORT_POLICY_ALLOW);
	assert_string_equal(config_support_policy_name(cfg->support.policy),
	    "allow");
	assert_int_equal(cfg->support.max_ttl, 4 * 3600);
	assert_int_equal(cfg->support.request_timeout, 90);
	assert_int_equal(cfg->support.idle_timeout, 30 * 60);
	config_free(cfg);
	cfg = load_ok("[support]\npolicy = deny\n");
	assert_int_equal(cfg->support.policy, SUPPORT_POLICY_DENY);
	config_free(cfg);

	load_fails("[support]\n"
	    "bastion = b.example.net\n"
	    "bastion = fe80::1:22\n"
	    "bastion = b:0\n"
	    "bastion_user = -oProxyCommand=x\n"
	    "bastion_host_key = AAAA\n"
	    "forward_port = 70000\n"
	    "forward_port = -1\n"
	    "target = 127.0.0.1\n"
	    "policy = maybe\n"
	    "max_ttl = 30s\n"
	    "request_timeout = 0\n"
	    "idle_timeout = 8d\n"
	    "ttl = 2h\n"
	    "bastion = b:22\n", expect, sizeof(expect) / sizeof(expect[0]));
}

/* [agent] gives every check its attempts, retry_interval and flap keys;
 * a check's own win, whichever file and order they come in. */
static void
test_warning_keys(void **state)
{
	static const char *const expect[] = {
		"t.conf:2: attempts: '0' is not a number from 1 to 100",
		"t.conf:3: retry_interval: '0' is not a duration from 1s to 1d "
		    "(e.g. 30s, 5m)",
		"t.conf:4: flap_low: '101' is not a percentage from 1 to 100",
		"t.conf:5: flap_detection: 'maybe' is not yes or no",
		"t.conf:1: [check.a]: flap_low (40) must be below flap_high "
		    "(30)",
	};
	static const char *const expect_agent[] = {
		"t.conf:3: [agent]: flap_low (50) must be below flap_high (40)",
	};
	struct config *cfg = load_ok(
	    "[check.a]\n"
	    "command = /bin/true\n"
	    "attempts = 5\n"
	    "flap_high = 60\n"
	    "[agent]\n"
	    "attempts = 3\n"
	    "retry_interval = 10s\n"
	    "flap_low = 25\n"
	    "flap_high = 50\n"
	    "[check.b]\n"
	    "command = /bin/true\n"
	    "flap_detection = no\n"
	    "retry_interval = 2m\n");
	struct check_conf *a = config_find_check(cfg, "a");
	struct check_conf *b = config_find_check(cfg, "b");
	struct check_conf *cpu = config_find_check(cfg, "cpu");

	(void)state;
	assert_int_equal(a->attempts, 5);
	assert_int_equal(a->retry_interval, 10);
	assert_int_equal(a->flap_low, 25);
	assert_int_equal(a->flap_high, 60);
	assert_int_equal(a->flap_detection, 1);
	assert_int_equal(b->attempts, 3);
	assert_int_equal(b->retry_interval, 120);
	assert_int_equal(b->flap_detection, 0);
	assert_int_equal(cpu->attempts, 3);
	assert_int_equal(cpu->flap_high, 50);
	config_free(cfg);
	cfg = load_ok("");
	cpu = config_find_check(cfg, "cpu");
	assert_int_equal(cpu->attempts, 1);
	assert_int_equal(cpu->retry_interval, 60);
	assert_int_equal(cpu->flap_low, 20);
	assert_int_equal(cpu->flap_high, 30);
	assert_int_equal(cpu->flap_detection, 1);
	config_free(cfg);
	load_fails(
	    "[check.a]\n"
	    "attempts = 0\n"
	    "retry_interval = 0\n"
	    "flap_low = 101\n"
	    "flap_detection = maybe\n"
	    "command = /bin/true\n"
	    "flap_low = 40\n",
	    expect, sizeof(expect) / sizeof(expect[0]));
	load_fails(
	    "[agent]\n"
	    "flap_high = 40\n"
	    "flap_low = 50\n",
	    expect_agent, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_off_by_default),
		cmocka_unit_test(test_external_check),
		cmocka_unit_test(test_errors_all_reported),
		cmocka_unit_test(test_syntax_and_quotes),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_collector_threshold_error),
		cmocka_unit_test(test_dropins_override),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_durations_and_bools),
		cmocka_unit_test(test_section_as_judged),
		cmocka_unit_test(test_backup_job),
		cmocka_unit_test(test_backup_errors),
		cmocka_unit_test(test_backup_stale_keys),
		cmocka_unit_test(test_backup_sftp),
		cmocka_unit_test(test_support),
		cmocka_unit_test(test_warning_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
