/*
 * agentd.conf and the *.conf drop-ins in conf.d (INI, read with inih). Parsing
 * collects every problem as "file:line: message" instead of stopping at
 * the first, so --check-config and a rejected reload can show them all.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "collector.h"
#include "cron.h"

#define CONFIG_DEFAULT_PATH	"/etc/agentd/agentd.conf"
#define CONFIG_LINE_MAX		8192

enum check_kind {
	CHECK_COLLECTOR,	/* built-in, [collector.NAME] */
	CHECK_EXTERNAL,		/* Nagios plugin, [check.NAME] */
};

struct check_conf {
	char			*name;
	enum check_kind		 kind;
	bool			 enabled;
	bool			 enabled_set;	/* "enabled" written */
	unsigned		 interval;	/* seconds */
	unsigned		 timeout;	/* seconds, external only */
	/* External only: a calendar schedule instead of the interval. */
	char			*schedule;	/* as written; NULL = interval */
	struct cron		 cron;		/* schedule, parsed */
	unsigned		 randomized_delay; /* seconds added, at most */
	bool			 interval_set;	/* written in the config */
	const struct collector	*collector;	/* built-in only */
	void			*inst;		/* built-in instance, owned */
	char			*command;	/* external: as written */
	char			**argv;		/* external: split, owned */
	bool			 cap_dac_read_search; /* external: keep it */
	/* Soft states and flapping (decide.h's policy); 0, and -1 for the
	 * flap keys, take [agent]'s until config_load resolves them. */
	unsigned		 attempts;
	unsigned		 retry_interval;	/* seconds */
	int			 flap_detection;	/* bool */
	int			 flap_low, flap_high;	/* percent */
	char			*file;		/* where first defined */
	int			 line;
};

/* [backup.NAME]: one backup job (docs/backup-format.md): full and
 * incremental snapshots to a file:// target, with retention. */
struct backup_conf {
	char		*name;
	char		**paths;	/* argv_split, owned; NULL = missing */
	char		**excludes;	/* argv_split, owned; may be NULL */
	bool		 one_file_system;
	char		*target;	/* "file:///abs/path", "sftp://u@h:p/path" */
	/* sftp:// only: the pinned host key ("ssh-ed25519 AAAA..."), the
	 * private key file, bytes/s (0 = no limit), seconds per operation. */
	char		*sftp_host_key, *sftp_key_file;
	unsigned long long bandwidth_limit;
	unsigned	 sftp_timeout;
	char		*schedule;	/* as written; NULL = on demand only */
	struct cron	 cron;
	unsigned	 randomized_delay; /* seconds */
	int		 compression;	/* zstd level 1..19 */
	bool		 encryption;
	char		**pre_hook;	/* absolute argv, owned; NULL = none */
	char		**post_hook;
	/* The longest a hook may run (seconds), then its process group is
	 * killed and the hook fails. */
	unsigned	 hook_timeout;
	/* backup.NAME's thresholds, seconds (0 = from the schedule, or none
	 * without one), and failed runs in a row that make it CRITICAL
	 * (0 = BACKUPSTALE_FAILURES). */
	unsigned	 stale_warning, stale_critical, stale_failures;
	/* A full snapshot at least this often (seconds; 0: only the first
	 * run), incrementals in between. */
	unsigned	 full_every;
	/* Retention (backup/retention.h), applied after each ok run and by
	 * agentctl backup forget; every keep_* 0 keeps everything. */
	unsigned	 keep_last, keep_daily, keep_weekly, keep_monthly;
	char		*file;		/* where first defined */
	int		 line;
};

/* [support] policy for remote support sessions (docs/remote-support.md). */
enum support_policy {
	SUPPORT_POLICY_DENY,
	SUPPORT_POLICY_ASK,	/* the default */
	SUPPORT_POLICY_ALLOW,
};

#define SUPPORT_DEFAULT_TTL	(2 * 3600)	/* a session's, if none asked */
#define SUPPORT_MAX_TTL		(8 * 3600)	/* max_ttl's default */
#define SUPPORT_REQUEST_TIMEOUT	(15 * 60)	/* an "ask" request waits */

/*
 * [support]: where the bastion is and what a session may do. The bastion
 * fields NULL/0 are taken from the enrolment identity (the portal's
 * assignment); the config wins where it sets them.
 */
struct support_conf {
	char		*bastion;		/* "HOST:PORT" */
	char		*bastion_user;
	char		*bastion_host_key;	/* "TYPE BASE64" */
	unsigned	 forward_port;		/* on the bastion's loopback */
	char		*target;		/* "HOST:PORT", 127.0.0.1:22 */
	enum support_policy policy;
	unsigned	 max_ttl;		/* seconds */
	unsigned	 request_timeout;	/* seconds */
	unsigned	 idle_timeout;		/* seconds; 0: none */
};

struct config {
	char		*path;
	char		*control_socket;
	char		*control_group;		/* "" = leave the group alone */
	char		*state_dir;
	unsigned	 max_concurrent_checks;
	size_t		 check_output_max;	/* bytes kept of plugin stdout */
	bool		 verbose;
	/* [agent] defaults of every check's attempts, retry_interval,
	 * flap_detection, flap_low and flap_high. */
	struct check_conf check_defaults;
	/* [portal]: where and how reports go; the portal URL and the agent's
	 * credential come from the identity written at enrolment. */
	char		*ca_file;		/* overrides the identity's */
	char		*pinned_pubkey;		/* curl's "sha256//..." form */
	char		*proxy;
	unsigned	 connect_timeout;	/* seconds */
	unsigned	 request_timeout;	/* seconds */
	unsigned	 spool_max_mb;
	struct check_conf *checks;		/* built-ins first, in table order */
	size_t		 nchecks;
	struct backup_conf *backups;		/* in config order */
	size_t		 nbackups;
	struct support_conf support;
};

struct config_errors {
	char	**msgs;		/* "file:line: message" */
	size_t	  n;
};

/*
 * Reads path and then every *.conf in conf.d beside it, in name order, later
 * values overriding earlier ones. Returns 0 with *cfgp set, or -EINVAL with
 * every problem in errs (which the caller frees with config_errors_free).
 */
int	config_load(const char *path, struct config **cfgp,
	    struct config_errors *errs);
/* Parses one in-memory buffer as if it were the file `name` (fuzzing and
 * unit tests). Same contract as config_load. */
int	config_load_buffer(const char *name, const char *buf, size_t len,
	    struct config **cfgp, struct config_errors *errs);
void	config_free(struct config *cfg);
void	config_errors_free(struct config_errors *errs);
struct check_conf *config_find_check(struct config *cfg, const char *name);
struct backup_conf *config_find_backup(struct config *cfg, const char *name);

/* yes/no, true/false, on/off, 1/0. */
int	config_parse_bool(const char *s, bool *out);
/* "deny", "ask", "allow" and back. */
const char *config_support_policy_name(enum support_policy policy);

#endif
