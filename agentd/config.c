/*
 * Config parsing: inih calls config_handler for each key; a reader wrapper
 * counts lines so every error names file:line. Drop-ins in conf.d override
 * the main file key by key.
 */
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>

#include "argv.h"
#include "config.h"
#include "timeutil.h"
#include "identity.h"
#include "log.h"
#include "safepath.h"
#include "xmalloc.h"

#define CONFIG_ERRORS_MAX	100
#define CONFIG_CHECKS_MAX	1000
#define CONFIG_BACKUPS_MAX	100

struct config_parse {
	struct config		*cfg;
	struct config_errors	*errs;
	const char		*file;
	int			 line;
	/* The source: a FILE or a buffer. */
	FILE			*fp;
	const char		*buf;
	size_t			 len, off;
	int			 too_long;	/* line number of an overlong line */
	int			 section_line;	/* of the current [section] */
	int			 section_bad;	/* reported once: skip its keys */
	/* The section as config_section judged it. inih's own copy is cut
	 * at 50 bytes, so keys are filed under this one, never under it. */
	char			 section[128];
};

static void config_error(struct config_parse *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
config_error(struct config_parse *p, const char *fmt, ...)
{
	struct config_errors *e = p->errs;
	char *msg, *full;
	va_list ap;

	if (e->n >= CONFIG_ERRORS_MAX)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		fatal("vasprintf");
	va_end(ap);
	if (e->n + 1 == CONFIG_ERRORS_MAX)
		xasprintf(&full, "%s: too many errors, giving up", p->file);
	else if (p->line == 0)
		xasprintf(&full, "%s: %s", p->file, msg);
	else
		xasprintf(&full, "%s:%d: %s", p->file, p->line, msg);
	free(msg);
	e->msgs = xreallocarray(e->msgs, e->n + 1, sizeof(*e->msgs));
	e->msgs[e->n++] = full;
}

void
config_errors_free(struct config_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	errs->msgs = NULL;
	errs->n = 0;
}

int
config_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static void
config_check_free(struct check_conf *c)
{
	if (c->inst != NULL)
		c->collector->free(c->inst);
	argv_free(c->argv);
	free(c->schedule);
	free(c->command);
	free(c->name);
	free(c->file);
}

static void
config_backup_free(struct backup_conf *b)
{
	free(b->name);
	argv_free(b->paths);
	argv_free(b->excludes);
	free(b->target);
	free(b->sftp_host_key);
	free(b->sftp_key_file);
	free(b->schedule);
	argv_free(b->pre_hook);
	argv_free(b->post_hook);
	free(b->file);
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->nchecks; i++)
		config_check_free(&cfg->checks[i]);
	free(cfg->checks);
	for (size_t i = 0; i < cfg->nbackups; i++)
		config_backup_free(&cfg->backups[i]);
	free(cfg->backups);
	free(cfg->path);
	free(cfg->control_socket);
	free(cfg->control_group);
	free(cfg->state_dir);
	free(cfg->ca_file);
	free(cfg->pinned_pubkey);
	free(cfg->proxy);
	free(cfg->support.bastion);
	free(cfg->support.bastion_user);
	free(cfg->support.bastion_host_key);
	free(cfg->support.target);
	free(cfg->check_defaults.file);
	free(cfg);
}

struct check_conf *
config_find_check(struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nchecks; i++)
		if (strcmp(cfg->checks[i].name, name) == 0)
			return &cfg->checks[i];
	return NULL;
}

struct backup_conf *
config_find_backup(struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nbackups; i++)
		if (strcmp(cfg->backups[i].name, name) == 0)
			return &cfg->backups[i];
	return NULL;
}

static struct backup_conf *
config_add_backup(struct config_parse *p, const char *name)
{
	struct config *cfg = p->cfg;
	struct backup_conf *b;

	if (cfg->nbackups >= CONFIG_BACKUPS_MAX) {
		config_error(p, "more than %d backup jobs", CONFIG_BACKUPS_MAX);
		return NULL;
	}
	cfg->backups = xreallocarray(cfg->backups, cfg->nbackups + 1,
	    sizeof(*cfg->backups));
	b = &cfg->backups[cfg->nbackups++];
	memset(b, 0, sizeof(*b));
	b->name = xstrdup(name);
	b->compression = 3;
	b->encryption = true;
	b->sftp_timeout = 30;
	b->hook_timeout = 600;
	/* The defaults of docs/agentd.conf.example: a weekly full, and
	 * about a week, two weeks of days, two months of weeks and a year
	 * of months kept. */
	b->full_every = 7 * 86400;
	b->keep_last = 7;
	b->keep_daily = 14;
	b->keep_weekly = 8;
	b->keep_monthly = 12;
	b->file = xstrdup(p->file);
	b->line = p->section_line;
	return b;
}

/* A check's warning keys before any is set: [agent]'s apply. */
static void
config_check_inherit(struct check_conf *c)
{
	c->attempts = 0;
	c->retry_interval = 0;
	c->flap_detection = -1;
	c->flap_low = c->flap_high = -1;
}

static struct check_conf *
config_add_check(struct config_parse *p, const char *name,
    enum check_kind kind)
{
	struct config *cfg = p->cfg;
	struct check_conf *c;

	if (cfg->nchecks >= CONFIG_CHECKS_MAX) {
		config_error(p, "more than %d checks", CONFIG_CHECKS_MAX);
		return NULL;
	}
	cfg->checks = xreallocarray(cfg->checks, cfg->nchecks + 1,
	    sizeof(*cfg->checks));
	c = &cfg->checks[cfg->nchecks++];
	memset(c, 0, sizeof(*c));
	c->name = xstrdup(name);
	c->kind = kind;
	c->enabled = true;
	c->interval = 60;
	c->timeout = 10;
	config_check_inherit(c);
	c->file = xstrdup(p->file);
	c->line = p->section_line;
	return c;
}

static struct config *
config_new(const char *path)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));

	cfg->path = xstrdup(path);
	cfg->control_socket = xstrdup("/run/agentd/control.sock");
	cfg->control_group = xstrdup("agentd-admin");
	cfg->state_dir = xstrdup("/var/lib/agentd");
	cfg->max_concurrent_checks = 4;
	cfg->check_output_max = 16384;
	cfg->connect_timeout = 10;
	cfg->request_timeout = 30;
	cfg->spool_max_mb = 64;
	cfg->support.target = xstrdup("127.0.0.1:22");
	cfg->support.policy = SUPPORT_POLICY_ASK;
	cfg->support.max_ttl = SUPPORT_MAX_TTL;
	cfg->support.request_timeout = SUPPORT_REQUEST_TIMEOUT;
	for (size_t i = 0; collectors[i] != NULL; i++) {
		struct check_conf *c;

		cfg->checks = xreallocarray(cfg->checks, cfg->nchecks + 1,
		    sizeof(*cfg->checks));
		c = &cfg->checks[cfg->nchecks++];
		memset(c, 0, sizeof(*c));
		c->name = xstrdup(collectors[i]->name);
		c->kind = CHECK_COLLECTOR;
		c->enabled = !collectors[i]->off_by_default;
		c->collector = collectors[i];
		c->interval = collectors[i]->interval;
		c->inst = collectors[i]->new();
		config_check_inherit(c);
		c->file = xstrdup("(built-in)");
	}
	cfg->check_defaults.file = xstrdup(path);
	cfg->check_defaults.attempts = 1;
	cfg->check_defaults.retry_interval = 60;
	cfg->check_defaults.flap_detection = 1;
	cfg->check_defaults.flap_low = 20;
	cfg->check_defaults.flap_high = 30;
	return cfg;
}

static void
config_set_string(char **dst, const char *value)
{
	free(*dst);
	*dst = xstrdup(value);
}

/* The soft-state and flapping keys, of [agent] (the defaults) or of a
 * check. Returns 1 if handled. */
static int
config_warning_key(struct config_parse *p, struct check_conf *c,
    const char *key, const char *value)
{
	unsigned long n;
	bool b;
	char *end;

	if (strcmp(key, "attempts") == 0) {
		errno = 0;
		n = strtoul(value, &end, 10);
		if (errno != 0 || *end != '\0' || n < 1 || n > 100)
			config_error(p, "attempts: '%s' is not a number from 1 "
			    "to 100", value);
		else
			c->attempts = (unsigned)n;
		return 1;
	}
	if (strcmp(key, "retry_interval") == 0) {
		if (time_parse_duration(value, &c->retry_interval) != 0 ||
		    c->retry_interval == 0 || c->retry_interval > 86400) {
			config_error(p, "retry_interval: '%s' is not a duration "
			    "from 1s to 1d (e.g. 30s, 5m)", value);
			c->retry_interval = 0;
		}
		return 1;
	}
	if (strcmp(key, "flap_detection") == 0) {
		if (config_parse_bool(value, &b) != 0)
			config_error(p, "flap_detection: '%s' is not yes or no",
			    value);
		else
			c->flap_detection = b;
		return 1;
	}
	if (strcmp(key, "flap_low") == 0 || strcmp(key, "flap_high") == 0) {
		errno = 0;
		n = strtoul(value, &end, 10);
		if (errno != 0 || *end != '\0' || n < 1 || n > 100 ||
		    value[0] == '-')
			config_error(p, "%s: '%s' is not a percentage from 1 to "
			    "100", key, value);
		else if (key[5] == 'l')
			c->flap_low = (int)n;
		else
			c->flap_high = (int)n;
		return 1;
	}
	return 0;
}

static void
config_agent_key(struct config_parse *p, const char *key, const char *value)
{
	struct config *cfg = p->cfg;
	unsigned long n;
	char *end;

	if (strcmp(key, "control_socket") == 0) {
		if (value[0] != '/' || strlen(value) >= 108)
			config_error(p, "control_socket: '%s' is not an absolute "
			    "socket path (at most 107 bytes)", value);
		else
			config_set_string(&cfg->control_socket, value);
	} else if (strcmp(key, "control_group") == 0) {
		config_set_string(&cfg->control_group, value);
	} else if (strcmp(key, "state_dir") == 0) {
		if (value[0] != '/')
			config_error(p, "state_dir: '%s' is not an absolute path",
			    value);
		else
			config_set_string(&cfg->state_dir, value);
	} else if (strcmp(key, "max_concurrent_checks") == 0) {
		errno = 0;
		n = strtoul(value, &end, 10);
		if (errno != 0 || *end != '\0' || n < 1 || n > 64)
			config_error(p, "max_concurrent_checks: '%s' is not a "
			    "number from 1 to 64", value);
		else
			cfg->max_concurrent_checks = (unsigned)n;
	} else if (strcmp(key, "check_output_max") == 0) {
		errno = 0;
		n = strtoul(value, &end, 10);
		if (errno != 0 || *end != '\0' || n < 1024 || n > 1048576)
			config_error(p, "check_output_max: '%s' is not a number "
			    "of bytes from 1024 to 1048576", value);
		else
			cfg->check_output_max = n;
	} else if (strcmp(key, "verbose") == 0) {
		if (config_parse_bool(value, &cfg->verbose) != 0)
			config_error(p, "verbose: '%s' is not yes or no", value);
	} else if (config_warning_key(p, &cfg->check_defaults, key, value)) {
		/* Where the defaults' order is blamed, if it is wrong. */
		if (strncmp(key, "flap_", 5) == 0) {
			config_set_string(&cfg->check_defaults.file, p->file);
			cfg->check_defaults.line = p->line;
		}
	} else
		config_error(p, "unknown key '%s' in [agent]", key);
}

static void
config_portal_key(struct config_parse *p, const char *key, const char *value)
{
	struct config *cfg = p->cfg;
	unsigned long n;
	char *end;

	if (strcmp(key, "ca_file") == 0) {
		if (value[0] != '/')
			config_error(p, "ca_file: '%s' is not an absolute path",
			    value);
		else
			config_set_string(&cfg->ca_file, value);
	} else if (strcmp(key, "pinned_pubkey") == 0) {
		if (strncmp(value, "sha256//", 8) != 0 && value[0] != '/')
			config_error(p, "pinned_pubkey: '%s' is neither "
			    "sha256//BASE64 nor an absolute path to a public "
			    "key", value);
		else
			config_set_string(&cfg->pinned_pubkey, value);
	} else if (strcmp(key, "proxy") == 0) {
		config_set_string(&cfg->proxy, value);
	} else if (strcmp(key, "connect_timeout") == 0) {
		if (time_parse_duration(value, &cfg->connect_timeout) != 0 ||
		    cfg->connect_timeout == 0 || cfg->connect_timeout > 300)
			config_error(p, "connect_timeout: '%s' is not a duration "
			    "from 1s to 5m", value);
	} else if (strcmp(key, "timeout") == 0) {
		if (time_parse_duration(value, &cfg->request_timeout) != 0 ||
		    cfg->request_timeout == 0 || cfg->request_timeout > 600)
			config_error(p, "timeout: '%s' is not a duration from 1s "
			    "to 10m", value);
	} else if (strcmp(key, "spool_max_mb") == 0) {
		errno = 0;
		n = strtoul(value, &end, 10);
		if (errno != 0 || *end != '\0' || n < 1 || n > 65536)
			config_error(p, "spool_max_mb: '%s' is not a number from "
			    "1 to 65536", value);
		else
			cfg->spool_max_mb = (unsigned)n;
	} else
		config_error(p, "unknown key '%s' in [portal]", key);
}

/* Keys every check takes, built-in or external. Returns 1 if handled. */
static int
config_common_key(struct config_parse *p, struct check_conf *c,
    const char *key, const char *value)
{
	if (config_warning_key(p, c, key, value))
		return 1;
	if (strcmp(key, "interval") == 0) {
		if (time_parse_duration(value, &c->interval) != 0 ||
		    c->interval == 0 || c->interval > 86400)
			config_error(p, "interval: '%s' is not a duration from "
			    "1s to 1d (e.g. 30s, 5m)", value);
		return 1;
	}
	if (strcmp(key, "enabled") == 0) {
		c->enabled_set = true;
		if (config_parse_bool(value, &c->enabled) != 0)
			config_error(p, "enabled: '%s' is not yes or no", value);
		return 1;
	}
	return 0;
}

static void
config_collector_key(struct config_parse *p, const char *name,
    const char *key, const char *value)
{
	struct check_conf *c = config_find_check(p->cfg, name);
	char err[COLLECTOR_ERR_MAX] = "";

	if (config_common_key(p, c, key, value))
		return;
	if (c->collector->configure == NULL ||
	    c->collector->configure(c->inst, key, value, err, sizeof(err)) != 0)
		config_error(p, "[collector.%s] %s", name,
		    err[0] != '\0' ? err : "unknown key");
	/* Configuring one that is off by default turns it on, unless the
	 * admin said otherwise. */
	else if (c->collector->off_by_default && !c->enabled_set)
		c->enabled = true;
}

static int
config_valid_name(const char *name)
{
	if (*name == '\0' || strlen(name) > 64)
		return 0;
	for (; *name != '\0'; name++)
		if (!((*name >= 'a' && *name <= 'z') ||
		    (*name >= 'A' && *name <= 'Z') ||
		    (*name >= '0' && *name <= '9') ||
		    *name == '_' || *name == '-' || *name == '.'))
			return 0;
	return 1;
}

/* A check's calendar keys, and the rule that schedule and interval
 * exclude each other. Returns 1 if the key is handled. */
static int
config_schedule_key(struct config_parse *p, struct check_conf *c,
    const char *key, const char *value)
{
	char err[256];

	if (strcmp(key, "interval") == 0) {
		c->interval_set = true;
		if (c->schedule != NULL) {
			config_error(p, "interval: [check.%s] already has a "
			    "schedule; set one of the two", c->name);
			return 1;
		}
		return 0;	/* parsed with the common keys */
	}
	if (strcmp(key, "schedule") == 0) {
		if (c->interval_set) {
			config_error(p, "schedule: [check.%s] already has an "
			    "interval; set one of the two", c->name);
			return 1;
		}
		if (cron_parse(value, &c->cron, err, sizeof(err)) != 0) {
			config_error(p, "schedule: %s", err);
			return 1;
		}
		config_set_string(&c->schedule, value);
		return 1;
	}
	if (strcmp(key, "randomized_delay") == 0) {
		if (time_parse_duration(value, &c->randomized_delay) != 0 ||
		    c->randomized_delay > 86400)
			config_error(p, "randomized_delay: '%s' is not a "
			    "duration from 0 to 1d (e.g. 30m)", value);
		return 1;
	}
	return 0;
}

static void
config_check_key(struct config_parse *p, const char *name, const char *key,
    const char *value)
{
	struct check_conf *c = config_find_check(p->cfg, name);
	char err[256];

	if (c == NULL && (c = config_add_check(p, name, CHECK_EXTERNAL)) == NULL)
		return;
	if (config_schedule_key(p, c, key, value))
		return;
	if (config_common_key(p, c, key, value))
		return;
	if (strcmp(key, "command") == 0) {
		char **argv = NULL;

		/* Kept even when bad, so it is not also "missing". */
		config_set_string(&c->command, value);
		argv_free(c->argv);
		c->argv = NULL;
		if (argv_split(value, &argv, err, sizeof(err)) < 0) {
			config_error(p, "command: %s", err);
			return;
		}
		if (argv[0][0] != '/') {
			config_error(p, "command: '%s' is not an absolute path "
			    "(no shell and no PATH lookup)", argv[0]);
			argv_free(argv);
			return;
		}
		/* Whoever can replace the plugin runs code as agentd: refuse
		 * what root (or agentd) does not alone control. The
		 * scheduler asks again before each run. */
		if (safepath_check(argv[0], geteuid(), err, sizeof(err)) < 0) {
			config_error(p, "command: refusing to run %s: %s",
			    argv[0], err);
			argv_free(argv);
			return;
		}
		c->argv = argv;
	} else if (strcmp(key, "capabilities") == 0) {
		if (strcasecmp(value, "none") == 0)
			c->cap_dac_read_search = false;
		else if (strcasecmp(value, "dac_read_search") == 0 ||
		    strcasecmp(value, "cap_dac_read_search") == 0)
			c->cap_dac_read_search = true;
		else
			config_error(p, "capabilities: '%s' is not 'none' or "
			    "'dac_read_search'", value);
	} else if (strcmp(key, "timeout") == 0) {
		if (time_parse_duration(value, &c->timeout) != 0 ||
		    c->timeout == 0 || c->timeout > 3600)
			config_error(p, "timeout: '%s' is not a duration from "
			    "1s to 1h", value);
	} else
		config_error(p, "unknown key '%s' in [check.%s]", key, name);
}

/* A hook or a check command: split without a shell, absolute, and safe to
 * run with agentd's rights. NULL with the error reported otherwise. */
static char **
config_command(struct config_parse *p, const char *key, const char *value)
{
	char **argv = NULL;
	char err[256];

	if (argv_split(value, &argv, err, sizeof(err)) < 0) {
		config_error(p, "%s: %s", key, err);
		return NULL;
	}
	if (argv[0][0] != '/') {
		config_error(p, "%s: '%s' is not an absolute path (no shell "
		    "and no PATH lookup)", key, argv[0]);
		argv_free(argv);
		return NULL;
	}
	if (safepath_check(argv[0], geteuid(), err, sizeof(err)) < 0) {
		config_error(p, "%s: refusing to run %s: %s", key, argv[0],
		    err);
		argv_free(argv);
		return NULL;
	}
	return argv;
}

/* file:///abs/path, or sftp://user@host[:port]/path (with the sftp_* keys
 * checked once the section is read). */
static int
config_backup_target_ok(const char *value)
{
	const char *path, *at, *slash;

	if (strncmp(value, "file://", 7) == 0)
		path = value + 7;
	else if (strncmp(value, "sftp://", 7) == 0) {
		at = strchr(value + 7, '@');
		slash = strchr(value + 7, '/');
		if (at == NULL || at == value + 7 || slash == NULL ||
		    slash < at || slash == at + 1 || slash[1] == '\0')
			return 0;
		path = slash;
	} else
		return 0;
	if (path[0] != '/' || strlen(value) >= PATH_MAX)
		return 0;
	for (path = value; *path != '\0'; path++)
		if ((unsigned char)*path <= 0x20 || *path == 0x7f)
			return 0;
	return 1;
}

/* "ssh-ed25519 AAAA...", "ecdsa-sha2-nistp256 AAAA...", "ssh-rsa AAAA..."
 * (a trailing comment is dropped). The blob is checked by the child. */
static int
config_host_key_ok(const char *value, char **out)
{
	static const char *const types[] = { "ssh-ed25519",
	    "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
	    "ecdsa-sha2-nistp521", "ssh-rsa" };
	const char *sp = strchr(value, ' '), *b, *e;
	size_t i;

	if (sp == NULL)
		return 0;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strlen(types[i]) == (size_t)(sp - value) &&
		    strncmp(types[i], value, (size_t)(sp - value)) == 0)
			break;
	if (i == sizeof(types) / sizeof(types[0]))
		return 0;
	b = sp + 1;
	for (e = b; (*e >= 'A' && *e <= 'Z') || (*e >= 'a' && *e <= 'z') ||
	    (*e >= '0' && *e <= '9') || *e == '+' || *e == '/' || *e == '='; e++)
		;
	if (e - b < 16 || (*e != '\0' && *e != ' '))
		return 0;
	xasprintf(out, "%s %.*s", types[i], (int)(e - b), b);
	return 1;
}

/* "HOST:PORT" or "[V6]:PORT": one word, no control bytes, a port 1-65535,
 * a host without ':' unless bracketed (support/addr.c splits it again in
 * the helper; this is the same rule, for --check-config). */
static int
config_hostport_ok(const char *value)
{
	const char *colon = strrchr(value, ':'), *h = value, *he;
	unsigned long n;
	char *end;

	if (strlen(value) > 512 || colon == NULL || colon == value)
		return 0;
	for (const char *c = value; *c != '\0'; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
			return 0;
	if (*h == '[') {
		he = strchr(h, ']');
		if (he == NULL || he + 1 != colon || he == h + 1)
			return 0;
	} else if (memchr(h, ':', (size_t)(colon - h)) != NULL)
		return 0;
	if (colon[1] < '0' || colon[1] > '9')
		return 0;
	errno = 0;
	n = strtoul(colon + 1, &end, 10);
	return errno == 0 && *end == '\0' && n >= 1 && n <= 65535;
}

const char *
config_support_policy_name(enum support_policy policy)
{
	switch (policy) {
	case SUPPORT_POLICY_DENY:
		return "deny";
	case SUPPORT_POLICY_ALLOW:
		return "allow";
	default:
		return "ask";
	}
}

static void
config_support_key(struct config_parse *p, const char *key,
    const char *value)
{
	struct support_conf *sc = &p->cfg->support;
	unsigned long n;
	char *end, *hk = NULL;

	if (strcmp(key, "bastion") == 0) {
		if (!config_hostport_ok(value))
			config_error(p, "bastion: '%s' is not HOST:PORT",
			    value);
		else
			config_set_string(&sc->bastion, value);
	} else if (strcmp(key, "bastion_user") == 0) {
		if (!identity_valid_user(value))
			config_error(p, "bastion_user: '%s' is not a login name "
			    "(1-64 letters, digits, '.', '_', '-', not "
			    "starting with '-')", value);
		else
			config_set_string(&sc->bastion_user, value);
	} else if (strcmp(key, "bastion_host_key") == 0) {
		if (!config_host_key_ok(value, &hk))
			config_error(p, "bastion_host_key: not 'TYPE BASE64' "
			    "(e.g. the second and third fields of "
			    "ssh-keyscan's line)");
		else {
			free(sc->bastion_host_key);
			sc->bastion_host_key = hk;
		}
	} else if (strcmp(key, "forward_port") == 0) {
		errno = 0;
		n = strtoul(value, &end, 10);
		if (errno != 0 || *end != '\0' || value[0] < '0' ||
		    value[0] > '9' || n < 1 || n > 65535)
			config_error(p, "forward_port: '%s' is not a port from "
			    "1 to 65535", value);
		else
			sc->forward_port = (unsigned)n;
	} else if (strcmp(key, "target") == 0) {
		if (!config_hostport_ok(value))
			config_error(p, "target: '%s' is not HOST:PORT", value);
		else
			config_set_string(&sc->target, value);
	} else if (strcmp(key, "policy") == 0) {
		if (strcmp(value, "deny") == 0)
			sc->policy = SUPPORT_POLICY_DENY;
		else if (strcmp(value, "ask") == 0)
			sc->policy = SUPPORT_POLICY_ASK;
		else if (strcmp(value, "allow") == 0)
			sc->policy = SUPPORT_POLICY_ALLOW;
		else
			config_error(p, "policy: '%s' is not deny, ask or "
			    "allow", value);
	} else if (strcmp(key, "max_ttl") == 0) {
		if (time_parse_duration(value, &sc->max_ttl) != 0 ||
		    sc->max_ttl < 60 || sc->max_ttl > 7 * 86400)
			config_error(p, "max_ttl: '%s' is not a duration from "
			    "1m to 7d", value);
	} else if (strcmp(key, "request_timeout") == 0) {
		if (time_parse_duration(value, &sc->request_timeout) != 0 ||
		    sc->request_timeout == 0 || sc->request_timeout > 86400)
			config_error(p, "request_timeout: '%s' is not a "
			    "duration from 1s to 1d", value);
	} else if (strcmp(key, "idle_timeout") == 0) {
		if (time_parse_duration(value, &sc->idle_timeout) != 0 ||
		    sc->idle_timeout > 7 * 86400)
			config_error(p, "idle_timeout: '%s' is not a duration "
			    "up to 7d (0: none)", value);
	} else
		config_error(p, "unknown key '%s' in [support]", key);
}

/* "10M" (bytes/s; K, M, G are powers of 1024), "0" for no limit. */
static int
config_parse_rate(const char *s, unsigned long long *out)
{
	unsigned long long n, mul = 1;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0)
		return -EINVAL;
	if (*end == 'K' || *end == 'k')
		mul = 1024;
	else if (*end == 'M')
		mul = 1024 * 1024;
	else if (*end == 'G')
		mul = 1024ULL * 1024 * 1024;
	if (mul != 1)
		end++;
	if (*end != '\0' || n > (1ULL << 40) / mul)
		return -EINVAL;
	*out = n * mul;
	return 0;
}

static void
config_backup_key(struct config_parse *p, const char *name, const char *key,
    const char *value)
{
	struct backup_conf *b = config_find_backup(p->cfg, name);
	char err[256];
	unsigned long n;
	char *end;

	if (b == NULL && (b = config_add_backup(p, name)) == NULL)
		return;
	if (strcmp(key, "paths") == 0) {
		argv_free(b->paths);
		b->paths = NULL;
		if (argv_split(value, &b->paths, err, sizeof(err)) < 0) {
			config_error(p, "paths: %s", err);
			return;
		}
		for (size_t i = 0; b->paths[i] != NULL; i++)
			if (b->paths[i][0] != '/') {
				config_error(p, "paths: '%s' is not an absolute "
				    "path", b->paths[i]);
				argv_free(b->paths);
				b->paths = NULL;
				return;
			}
	} else if (strcmp(key, "exclude") == 0) {
		argv_free(b->excludes);
		b->excludes = NULL;
		if (value[0] != '\0' &&
		    argv_split(value, &b->excludes, err, sizeof(err)) < 0)
			config_error(p, "exclude: %s", err);
	} else if (strcmp(key, "one_file_system") == 0) {
		if (config_parse_bool(value, &b->one_file_system) != 0)
			config_error(p, "one_file_system: '%s' is not yes or no",
			    value);
	} else if (strcmp(key, "target") == 0) {
		if (!config_backup_target_ok(value))
			config_error(p, "target: '%s' is not supported: only "
			    "file:///ABSOLUTE/PATH and sftp://USER@HOST[:PORT]/PATH "
			    "targets are", value);
		else
			config_set_string(&b->target, value);
	} else if (strcmp(key, "sftp_host_key") == 0) {
		char *k;

		if (!config_host_key_ok(value, &k))
			config_error(p, "sftp_host_key: not an ssh public key "
			    "line (e.g. ssh-ed25519 AAAA..., as in the "
			    "server's ssh_host_ed25519_key.pub)");
		else {
			free(b->sftp_host_key);
			b->sftp_host_key = k;
		}
	} else if (strcmp(key, "sftp_key_file") == 0) {
		if (value[0] != '/')
			config_error(p, "sftp_key_file: '%s' is not an absolute "
			    "path", value);
		else
			config_set_string(&b->sftp_key_file, value);
	} else if (strcmp(key, "sftp_timeout") == 0) {
		if (time_parse_duration(value, &b->sftp_timeout) != 0 ||
		    b->sftp_timeout < 1 || b->sftp_timeout > 3600)
			config_error(p, "sftp_timeout: '%s' is not a duration "
			    "from 1s to 1h", value);
	} else if (strcmp(key, "bandwidth_limit") == 0) {
		if (config_parse_rate(value, &b->bandwidth_limit) != 0)
			config_error(p, "bandwidth_limit: '%s' is not a rate in "
			    "bytes per second (e.g. 10M, 512K, 0 for none)",
			    value);
	} else if (strcmp(key, "schedule") == 0) {
		free(b->schedule);
		b->schedule = NULL;
		if (value[0] == '\0')
			return;		/* on demand only */
		if (cron_parse(value, &b->cron, err, sizeof(err)) != 0)
			config_error(p, "schedule: %s", err);
		else
			b->schedule = xstrdup(value);
	} else if (strcmp(key, "randomized_delay") == 0) {
		if (time_parse_duration(value, &b->randomized_delay) != 0 ||
		    b->randomized_delay > 86400)
			config_error(p, "randomized_delay: '%s' is not a "
			    "duration from 0 to 1d (e.g. 30m)", value);
	} else if (strcmp(key, "compression") == 0) {
		errno = 0;
		n = strtoul(value, &end, 10);
		if (errno != 0 || *end != '\0' || value[0] < '0' ||
		    value[0] > '9' || n < 1 || n > 19)
			config_error(p, "compression: '%s' is not a zstd level "
			    "from 1 to 19", value);
		else
			b->compression = (int)n;
	} else if (strcmp(key, "full_every") == 0) {
		if (time_parse_duration(value, &b->full_every) != 0 ||
		    b->full_every > 366 * 86400)
			config_error(p, "full_every: '%s' is not a duration from "
			    "0 to 366d (e.g. 7d; 0: only the first run is full)",
			    value);
	} else if (strncmp(key, "keep_", 5) == 0 &&
	    (strcmp(key + 5, "last") == 0 || strcmp(key + 5, "daily") == 0 ||
	    strcmp(key + 5, "weekly") == 0 ||
	    strcmp(key + 5, "monthly") == 0)) {
		unsigned *keep = key[5] == 'l' ? &b->keep_last :
		    key[5] == 'd' ? &b->keep_daily :
		    key[5] == 'w' ? &b->keep_weekly : &b->keep_monthly;

		errno = 0;
		n = strtoul(value, &end, 10);
		if (errno != 0 || *end != '\0' || value[0] < '0' ||
		    value[0] > '9' || n > 100000)
			config_error(p, "%s: '%s' is not a number from 0 to "
			    "100000", key, value);
		else
			*keep = (unsigned)n;
	} else if (strcmp(key, "encryption") == 0) {
		if (config_parse_bool(value, &b->encryption) != 0)
			config_error(p, "encryption: '%s' is not yes or no",
			    value);
	} else if (strcmp(key, "stale_warning") == 0 ||
	    strcmp(key, "stale_critical") == 0) {
		unsigned *d = key[6] == 'w' ? &b->stale_warning :
		    &b->stale_critical;

		if (time_parse_duration(value, d) != 0 || *d == 0 ||
		    *d > 3650 * 86400U)
			config_error(p, "%s: '%s' is not a duration from 1s "
			    "to 3650d (e.g. 36h)", key, value);
	} else if (strcmp(key, "stale_failures") == 0) {
		errno = 0;
		n = strtoul(value, &end, 10);
		if (errno != 0 || *end != '\0' || value[0] < '0' ||
		    value[0] > '9' || n < 1 || n > 1000)
			config_error(p, "stale_failures: '%s' is not a count "
			    "from 1 to 1000", value);
		else
			b->stale_failures = (unsigned)n;
	} else if (strcmp(key, "hook_timeout") == 0) {
		if (time_parse_duration(value, &b->hook_timeout) != 0 ||
		    b->hook_timeout < 1 || b->hook_timeout > 86400)
			config_error(p, "hook_timeout: '%s' is not a duration "
			    "from 1s to 1d (e.g. 10m)", value);
	} else if (strcmp(key, "pre_hook") == 0 ||
	    strcmp(key, "post_hook") == 0) {
		char ***hook = key[1] == 'r' ? &b->pre_hook : &b->post_hook;

		argv_free(*hook);
		*hook = NULL;
		if (value[0] != '\0')
			*hook = config_command(p, key, value);
	} else
		config_error(p, "unknown key '%s' in [backup.%s]", key, name);
}

static int
config_handler(void *user, const char *section, const char *key,
    const char *value)
{
	struct config_parse *p = user;

	section = p->section;	/* inih's copy may be truncated */
	if (p->too_long == p->line || p->section_bad)
		return 1;	/* already reported */
	if (strcmp(section, "agent") == 0)
		config_agent_key(p, key, value);
	else if (strcmp(section, "portal") == 0)
		config_portal_key(p, key, value);
	else if (strcmp(section, "support") == 0)
		config_support_key(p, key, value);
	else if (strncmp(section, "collector.", 10) == 0)
		config_collector_key(p, section + 10, key, value);
	else if (strncmp(section, "check.", 6) == 0)
		config_check_key(p, section + 6, key, value);
	else if (strncmp(section, "backup.", 7) == 0)
		config_backup_key(p, section + 7, key, value);
	else
		config_error(p, "'%s' is outside any [section]", key);
	return 1;
}

/* Judges a [section] header where it stands, once, so that an empty
 * unknown section is caught too and a bad one is not reported per key. */
static void
config_section(struct config_parse *p, const char *line)
{
	const char *end, *name;
	struct check_conf *c;
	char *section = p->section;

	/* inih skips what isspace() skips, \v and \f included. */
	while (isspace((unsigned char)*line))
		line++;
	if (*line != '[' || (end = strchr(line, ']')) == NULL)
		return;		/* not a header, or inih's syntax error */
	snprintf(section, sizeof(p->section), "%.*s", (int)(end - line - 1),
	    line + 1);
	p->section_line = p->line;
	p->section_bad = 1;
	if (strcmp(section, "agent") == 0 || strcmp(section, "portal") == 0 ||
	    strcmp(section, "support") == 0) {
		p->section_bad = 0;
	} else if (strncmp(section, "collector.", 10) == 0) {
		name = section + 10;
		c = config_find_check(p->cfg, name);
		if (c == NULL || c->kind != CHECK_COLLECTOR)
			config_error(p, "[%s]: no such built-in collector",
			    section);
		else
			p->section_bad = 0;
	} else if (strncmp(section, "check.", 6) == 0) {
		name = section + 6;
		c = config_find_check(p->cfg, name);
		if (!config_valid_name(name))
			config_error(p, "[%s]: a check name is 1 to 64 letters, "
			    "digits, '-', '_' or '.'", section);
		else if (c != NULL && c->kind == CHECK_COLLECTOR)
			config_error(p, "[%s]: the name is taken by the "
			    "built-in collector", section);
		else if (strncmp(name, "backup.", 7) == 0)
			/* backup.NAME is the check of backup job NAME. */
			config_error(p, "[%s]: check names backup.* are the "
			    "backup jobs' checks", section);
		else
			p->section_bad = 0;
	} else if (strncmp(section, "backup.", 7) == 0) {
		name = section + 7;
		if (!config_valid_name(name))
			config_error(p, "[%s]: a backup job name is 1 to 64 "
			    "letters, digits, '-', '_' or '.'", section);
		else {
			p->section_bad = 0;
			/* Defined here even when it has no key yet, so an
			 * empty section is reported as incomplete. */
			if (config_find_backup(p->cfg, name) == NULL)
				(void)config_add_backup(p, name);
		}
	} else
		config_error(p, "unknown section [%s]", section);
}

/* inih's fgets-style reader: counts lines and catches overlong ones. */
static char *
config_reader(char *str, int num, void *stream)
{
	struct config_parse *p = stream;
	size_t n = 0;
	int c;

	if (num < 2)
		return NULL;
	for (;;) {
		if (p->fp != NULL)
			c = getc(p->fp);
		else
			c = p->off < p->len ? (unsigned char)p->buf[p->off++] : EOF;
		if (c == EOF) {
			if (n == 0)
				return NULL;
			break;
		}
		if (n + 1 < (size_t)num) {
			if (c == '\0')
				c = ' ';	/* never cut a line silently */
			str[n++] = (char)c;
		} else if (p->too_long != p->line + 1) {
			p->too_long = p->line + 1;
			p->line++;
			config_error(p, "line longer than %d bytes", num - 2);
			p->line--;
		}
		if (c == '\n')
			break;
	}
	str[n] = '\0';
	p->line++;
	config_section(p, str);
	return str;
}

static void
config_parse_source(struct config_parse *p)
{
	int r;

	p->line = 0;
	p->too_long = 0;
	p->section_line = 0;
	p->section_bad = 0;
	p->section[0] = '\0';
	r = ini_parse_stream(config_reader, p, config_handler, p);
	if (r > 0 && r != p->too_long) {
		/* inih's own syntax errors: only the first is reported. */
		p->line = r;
		config_error(p, "syntax error (expected [section] or key = value)");
	}
}

/* Gives c [agent]'s value of every warning key it does not set, and
 * checks the flap thresholds' order where c sets one. */
static void
config_resolve_warning(struct config_parse *p, struct check_conf *c)
{
	const struct check_conf *d = &p->cfg->check_defaults;
	bool own = c->flap_low >= 0 || c->flap_high >= 0;

	if (c->attempts == 0)
		c->attempts = d->attempts;
	if (c->retry_interval == 0)
		c->retry_interval = d->retry_interval;
	if (c->flap_detection < 0)
		c->flap_detection = d->flap_detection;
	if (c->flap_low < 0)
		c->flap_low = d->flap_low;
	if (c->flap_high < 0)
		c->flap_high = d->flap_high;
	if (own && c->flap_low >= c->flap_high && d->flap_low < d->flap_high) {
		p->file = c->file;
		p->line = c->line;
		config_error(p, "[%s.%s]: flap_low (%d) must be below flap_high "
		    "(%d)", c->kind == CHECK_COLLECTOR ? "collector" : "check",
		    c->name, c->flap_low, c->flap_high);
	}
}

/* Whole-config rules, checked once every file is read. */
static void
config_validate(struct config_parse *p)
{
	struct config *cfg = p->cfg;

	if (cfg->check_defaults.flap_low >= cfg->check_defaults.flap_high) {
		p->file = cfg->check_defaults.file;
		p->line = cfg->check_defaults.line;
		config_error(p, "[agent]: flap_low (%d) must be below flap_high "
		    "(%d)", cfg->check_defaults.flap_low,
		    cfg->check_defaults.flap_high);
	}
	for (size_t i = 0; i < cfg->nchecks; i++)
		config_resolve_warning(p, &cfg->checks[i]);
	for (size_t i = 0; i < cfg->nchecks; i++) {
		struct check_conf *c = &cfg->checks[i];

		if (c->kind != CHECK_EXTERNAL)
			continue;
		p->file = c->file;
		p->line = c->line;
		if (c->command == NULL)
			config_error(p, "[check.%s]: missing 'command'", c->name);
		if (c->randomized_delay != 0 && c->schedule == NULL)
			config_error(p, "[check.%s]: randomized_delay needs a "
			    "schedule", c->name);
		if (c->schedule == NULL && c->timeout >= c->interval)
			config_error(p, "[check.%s]: timeout (%us) must be shorter "
			    "than interval (%us)", c->name, c->timeout,
			    c->interval);
	}
	for (size_t i = 0; i < cfg->nbackups; i++) {
		struct backup_conf *b = &cfg->backups[i];

		p->file = b->file;
		p->line = b->line;
		if (b->paths == NULL)
			config_error(p, "[backup.%s]: missing 'paths'", b->name);
		if (b->target == NULL)
			config_error(p, "[backup.%s]: missing 'target'",
			    b->name);
		if (b->randomized_delay != 0 && b->schedule == NULL)
			config_error(p, "[backup.%s]: randomized_delay needs a "
			    "schedule", b->name);
		if (b->target != NULL && strncmp(b->target, "sftp://", 7) == 0) {
			if (b->sftp_host_key == NULL)
				config_error(p, "[backup.%s]: an sftp target "
				    "needs sftp_host_key", b->name);
			if (b->sftp_key_file == NULL)
				config_error(p, "[backup.%s]: an sftp target "
				    "needs sftp_key_file", b->name);
			/* The remote side must never see plaintext. */
			if (!b->encryption)
				config_error(p, "[backup.%s]: an sftp target "
				    "needs encryption = yes", b->name);
		}
	}
	/* The identity's pinned key belongs to the identity's bastion: a
	 * bastion named here brings its own key, and a key its bastion. */
	if ((cfg->support.bastion == NULL) !=
	    (cfg->support.bastion_host_key == NULL)) {
		p->file = cfg->path;
		p->line = 0;
		config_error(p, "[support]: %s is set without %s",
		    cfg->support.bastion != NULL ? "bastion" :
		    "bastion_host_key", cfg->support.bastion != NULL ?
		    "bastion_host_key" : "bastion");
	}
}

static void
config_inih_setup(void)
{
	/* Commands contain ';' and may be long: no inline comments, a heap
	 * line buffer of our own size, no multi-line continuation. */
	ini_allow_inline_comments = false;
	ini_allow_multiline = false;
	ini_use_stack = false;
	ini_allow_realloc = false;
	ini_max_line = CONFIG_LINE_MAX;
	ini_initial_alloc = CONFIG_LINE_MAX;
	ini_stop_on_first_error = false;
}

static int
config_finish(struct config_parse *p, struct config **cfgp)
{
	config_validate(p);
	if (p->errs->n > 0) {
		config_free(p->cfg);
		return -EINVAL;
	}
	*cfgp = p->cfg;
	return 0;
}

int
config_load_buffer(const char *name, const char *buf, size_t len,
    struct config **cfgp, struct config_errors *errs)
{
	struct config_parse p = { .errs = errs, .file = name, .buf = buf,
	    .len = len };

	*cfgp = NULL;
	config_inih_setup();
	p.cfg = config_new(name);
	config_parse_source(&p);
	return config_finish(&p, cfgp);
}

static void
config_parse_file(struct config_parse *p, const char *path, int required)
{
	p->file = path;
	p->line = 0;
	if ((p->fp = fopen(path, "re")) == NULL) {
		if (required || errno != ENOENT)
			config_error(p, "cannot open: %s", strerror(errno));
		return;
	}
	config_parse_source(p);
	if (ferror(p->fp))
		config_error(p, "read error: %s", strerror(errno));
	fclose(p->fp);
	p->fp = NULL;
}

int
config_load(const char *path, struct config **cfgp, struct config_errors *errs)
{
	struct config_parse p = { .errs = errs };
	char *dir = NULL, *pattern = NULL, *slash;
	glob_t g = { 0 };

	*cfgp = NULL;
	config_inih_setup();
	p.cfg = config_new(path);
	config_parse_file(&p, path, 1);

	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	else
		strcpy(dir, ".");
	xasprintf(&pattern, "%s/conf.d/*.conf", dir);
	/* glob sorts by name: the drop-in order is documented as such. */
	if (glob(pattern, 0, NULL, &g) == 0)
		for (size_t i = 0; i < g.gl_pathc; i++)
			config_parse_file(&p, g.gl_pathv[i], 1);
	globfree(&g);
	free(pattern);
	free(dir);
	return config_finish(&p, cfgp);
}
