/*
 * agentd: the provider's agent on a customer host. One sd-event loop owns
 * time: it schedules the checks, serves the control socket, talks to
 * systemd (notify, watchdog) and handles SIGHUP reloads and SIGTERM.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "backup.h"
#include "command.h"
#include "control.h"
#include "decide.h"
#include "log.h"
#include "maintenance.h"
#include "report.h"
#include "sched.h"
#include "support.h"
#include "timeutil.h"
#include "xmalloc.h"

/* SIGTERM: children get SIGTERM, then SIGKILL, and we are gone well within
 * systemd's default 90 s and the 5 s we promise. */
#define AGENTD_STOP_KILL_USEC	(1500 * 1000ULL)
#define AGENTD_STOP_MAX_USEC	(3 * 1000000ULL)

struct agentd {
	sd_event	*event;
	const char	*config_path;
	struct decide	*decide;
	struct sched	*sched;
	struct control	*control;
	struct report	*report;
	struct maintenance *maintenance;
	struct backup	*backup;
	struct support	*support;
	sd_event_source	*stop_timer;
	int		 stop_phase;
};

static void
agentd_status_line(struct agentd *a)
{
	unsigned counts[4], pending;

	decide_tally(a->decide, counts, &pending);
	sd_notifyf(0, "STATUS=%zu checks: %u OK, %u WARNING, %u CRITICAL, "
	    "%u UNKNOWN%s", sched_count(a->sched), counts[0], counts[1],
	    counts[2], counts[3], pending > 0 ? ", some pending" : "");
}

/* A maintenance window started or ended: the portal hears at once. */
static void
agentd_on_maintenance(json_t *payload, void *userdata)
{
	report_emit(userdata, "maintenance", payload, REPORT_IMPORTANT);
}

/* A check changed state (decide_change_fn): the status line follows. */
static void
agentd_on_change(const struct decide_change *ch, void *userdata)
{
	(void)ch;
	agentd_status_line(userdata);
}

static void
agentd_print_errors(const struct config_errors *errs, FILE *fp)
{
	for (size_t i = 0; i < errs->n; i++)
		fprintf(fp, "%s\n", errs->msgs[i]);
}

/* Loads the config anew; on success swaps it in, else keeps the old. */
static int
agentd_reload(struct config_errors *errs, void *userdata)
{
	struct agentd *a = userdata;
	struct config *cfg;
	uint64_t now;
	int r;

	sd_event_now(a->event, CLOCK_MONOTONIC, &now);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)now);
	if ((r = config_load(a->config_path, &cfg, errs)) < 0) {
		for (size_t i = 0; i < errs->n; i++) {
			char field[512];
			const char *fields[1] = { field };

			snprintf(field, sizeof(field), "CONFIG_ERROR=%s",
			    errs->msgs[i]);
			log_event(LOG_ERR, MSGID_CONFIG_REJECTED, fields, 1,
			    "config reload rejected, the running config "
			    "stays: %s", errs->msgs[i]);
		}
		sd_notify(0, "READY=1");
		agentd_status_line(a);
		return r;
	}
	if (strcmp(cfg->control_socket, sched_config(a->sched)->control_socket))
		log_warnx("control_socket changed: takes effect at restart");
	log_set_verbose(cfg->verbose);
	sched_apply(a->sched, cfg);
	report_apply(a->report, sched_config(a->sched));
	backup_apply(a->backup);
	support_apply(a->support, sched_config(a->sched));
	log_event(LOG_INFO, MSGID_CONFIG_RELOADED, NULL, 0,
	    "config reloaded from %s: %zu checks", a->config_path,
	    sched_count(a->sched));
	sd_notify(0, "READY=1");
	agentd_status_line(a);
	return 0;
}

static int
agentd_on_sighup(sd_event_source *s, const struct signalfd_siginfo *si,
    void *userdata)
{
	struct config_errors errs = { 0 };

	(void)s;
	(void)si;
	agentd_reload(&errs, userdata);
	config_errors_free(&errs);
	return 0;
}

static int
agentd_on_stop_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct agentd *a = userdata;

	if (a->stop_phase == 1) {
		log_warnx("checks still running at shutdown; killing them");
		sched_stop(a->sched, SIGKILL);
		a->stop_phase = 2;
		sd_event_source_set_time(s, usec + AGENTD_STOP_MAX_USEC -
		    AGENTD_STOP_KILL_USEC);
		sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
		return 0;
	}
	sd_event_exit(a->event, 0);
	return 0;
}

/* Leaves the loop once no check is in flight any more. */
static int
agentd_on_post(sd_event_source *s, void *userdata)
{
	struct agentd *a = userdata;

	(void)s;
	if (a->stop_phase > 0 && sched_in_flight(a->sched) == 0)
		sd_event_exit(a->event, 0);
	return 0;
}

static int
agentd_on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si,
    void *userdata)
{
	struct agentd *a = userdata;
	sd_event_source *post;

	(void)s;
	if (a->stop_phase > 0)
		return 0;
	log_event(LOG_INFO, MSGID_STOPPED, NULL, 0, "stopping on signal %u",
	    si->ssi_signo);
	sd_notify(0, "STOPPING=1");
	a->stop_phase = 1;
	control_close(a->control);
	a->control = NULL;
	if (sched_stop(a->sched, SIGTERM) == 0) {
		sd_event_exit(a->event, 0);
		return 0;
	}
	sd_event_add_time_relative(a->event, &a->stop_timer, CLOCK_MONOTONIC,
	    AGENTD_STOP_KILL_USEC, 0, agentd_on_stop_timer, a);
	sd_event_add_post(a->event, &post, agentd_on_post, a);
	sd_event_source_set_floating(post, 1);
	sd_event_source_unref(post);
	return 0;
}

static void
agentd_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: agentd [--config PATH] [--check-config] [--foreground] "
	    "[--verbose]\n"
	    "       agentd --version\n"
	    "  --config PATH   config file (default %s);\n"
	    "                  conf.d/*.conf beside it is read after it\n"
	    "  --check-config  print every config problem as file:line: "
	    "message and exit\n"
	    "  --foreground    log to stderr instead of journald\n"
	    "  --verbose       log debug messages too\n", CONFIG_DEFAULT_PATH);
}

static int
agentd_check_config(const char *path)
{
	struct config_errors errs = { 0 };
	struct config *cfg;
	size_t n = 0;

	if (config_load(path, &cfg, &errs) < 0) {
		agentd_print_errors(&errs, stderr);
		config_errors_free(&errs);
		return 1;
	}
	for (size_t i = 0; i < cfg->nchecks; i++)
		n += cfg->checks[i].enabled;
	printf("%s: OK, %zu checks enabled\n", path, n);
	config_free(cfg);
	return 0;
}

/* The helpers (agentd-reporter, agentd-backup) live beside agentd in a
 * build tree, in libexec when installed. */
static char *
agentd_helper_path(const char *name)
{
	char self[4096], *slash, *path;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			xasprintf(&path, "%s/%s", self, name);
			if (access(path, X_OK) == 0)
				return path;
			free(path);
		}
	}
	xasprintf(&path, "%s/%s", AGENTD_LIBEXECDIR, name);
	return path;
}

static void
agentd_prepare_state_dir(const char *dir)
{
	/* Under systemd StateDirectory= makes it; by hand we try. */
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		log_warn("cannot create state directory %s; reboot detection "
		    "and journal cursors will not persist", dir);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 't' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct agentd a = { .config_path = CONFIG_DEFAULT_PATH };
	struct config_errors errs = { 0 };
	struct control_info info;
	struct config *cfg;
	char *reporter;
	int ch, check_only = 0, foreground = 0, verbose = 0, r;
	sigset_t mask;

	while ((ch = getopt_long(argc, argv, "c:tfvVh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			a.config_path = optarg;
			break;
		case 't':
			check_only = 1;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'V':
			printf("agentd %s\n", AGENTD_VERSION);
			return 0;
		case 'h':
			agentd_usage(stdout);
			return 0;
		default:
			agentd_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		agentd_usage(stderr);
		return 2;
	}
	if (check_only)
		return agentd_check_config(a.config_path);

	log_init("agentd", foreground ? LOG_TARGET_STDERR : LOG_TARGET_AUTO,
	    verbose);
	if (config_load(a.config_path, &cfg, &errs) < 0) {
		/* Start-up stops on a bad config: each problem once. */
		for (size_t i = 0; i < errs.n; i++)
			log_warnx("%s", errs.msgs[i]);
		if (log_to_journal())
			agentd_print_errors(&errs, stderr);
		config_errors_free(&errs);
		return 1;
	}
	if (cfg->verbose)
		log_set_verbose(1);

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((r = sd_event_default(&a.event)) < 0)
		fatalx("sd_event_default: %s", strerror(-r));
	sd_event_add_signal(a.event, NULL, SIGTERM, agentd_on_sigterm, &a);
	sd_event_add_signal(a.event, NULL, SIGINT, agentd_on_sigterm, &a);
	sd_event_add_signal(a.event, NULL, SIGHUP, agentd_on_sighup, &a);
	/* Pings at half of WATCHDOG_USEC, from the loop: a stuck loop is
	 * exactly what the watchdog should catch. */
	if ((r = sd_event_set_watchdog(a.event, 1)) < 0)
		log_warnx("watchdog: %s", strerror(-r));

	agentd_prepare_state_dir(cfg->state_dir);
	/* The pipeline: sched -> decide -> report (and the status line).
	 * Subscribed before the first result can arrive (the loop runs
	 * nothing until sd_event_loop). */
	a.decide = decide_new();
	sched_new(a.event, cfg, "/proc", "/sys", a.decide, &a.sched);
	reporter = agentd_helper_path("agentd-reporter");
	if ((r = report_new(a.event, a.sched, cfg, reporter, &a.report)) < 0)
		fatalx("cannot open the report spool in %s: %s", cfg->state_dir,
		    strerror(-r));
	free(reporter);
	a.maintenance = maintenance_open(a.event, cfg->state_dir,
	    agentd_on_maintenance, a.report);
	report_set_maintenance(a.report, a.maintenance);
	decide_set_silence(a.decide, maintenance_silenced, a.maintenance);
	reporter = agentd_helper_path("agentd-backup");
	backup_new(a.event, a.sched, a.report, reporter, &a.backup);
	free(reporter);
	command_set_backup(report_commands(a.report), a.backup);
	/* agentd-support runs only while a session is open. */
	reporter = agentd_helper_path("agentd-support");
	if ((r = support_new(a.event, a.report, cfg, reporter,
	    &a.support)) < 0)
		fatalx("cannot set up remote support: %s", strerror(-r));
	free(reporter);
	command_set_support(report_commands(a.report), a.support);
	decide_subscribe(a.decide, agentd_on_change, &a);
	decide_subscribe(a.decide, report_on_change, a.report);

	info.config_path = a.config_path;
	info.started = time_now(CLOCK_REALTIME);
	info.started_mono = time_now(CLOCK_MONOTONIC);
	info.report = a.report;
	info.backup = a.backup;
	info.support = a.support;
	info.maintenance = a.maintenance;
	r = control_open(a.event, cfg->control_socket, cfg->control_group,
	    a.sched, &info, agentd_reload, &a, &a.control);
	if (r == -EADDRINUSE)
		fatalx("another agentd is listening on %s", cfg->control_socket);
	if (r < 0)
		fatalx("control socket %s: %s", cfg->control_socket, strerror(-r));

	log_event(LOG_INFO, MSGID_STARTED, NULL, 0,
	    "agentd %s started: %zu checks, config %s", AGENTD_VERSION,
	    sched_count(a.sched), a.config_path);
	sd_notify(0, "READY=1");
	agentd_status_line(&a);

	r = sd_event_loop(a.event);

	control_close(a.control);
	command_set_backup(report_commands(a.report), NULL);
	backup_free(a.backup);
	/* Its "closed (agent_stopped)" goes to the spool, still open. */
	command_set_support(report_commands(a.report), NULL);
	support_free(a.support);
	report_free(a.report);
	maintenance_free(a.maintenance);
	sched_free(a.sched);
	decide_free(a.decide);
	sd_event_source_disable_unref(a.stop_timer);
	sd_event_unref(a.event);
	return r < 0 ? 1 : 0;
}
