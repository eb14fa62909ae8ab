/*
 * The SFTP network child (sftp_child.h): fork, read the key, become nobody,
 * drop every capability, serve target_sftp_ops. It owns the child's pid;
 * the reader's side of the conversation is target_proxy's.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include <linux/capability.h>

#include "log.h"
#include "sftp_child.h"
#include "target_proxy.h"
#include "target_sftp.h"

static pid_t child_pid = -1;

/* Drops every capability, for good: the SFTP child must not be able to
 * read what the reader can. */
static void
sftp_child_drop_caps(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { { 0 } };

	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL)
		fatal("PR_CAP_AMBIENT_CLEAR_ALL");
	if (syscall(SYS_capset, &hdr, data) < 0)
		fatal("capset");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("PR_SET_NO_NEW_PRIVS");
}

/* The CapEff line of our status, for the log (tests read it). */
static void
sftp_child_log_caps(void)
{
	char line[256];
	FILE *f;

	if ((f = fopen("/proc/self/status", "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "CapEff:", 7) == 0) {
			line[strcspn(line, "\n")] = '\0';
			log_debug("sftp child %ld: %s", (long)getpid(), line);
		}
	fclose(f);
}

int
sftp_child_start(const struct sftp_conf *c, int close_fd, void *wipe,
    size_t wipelen, char *err, size_t errlen)
{
	int sv[2], r;
	pid_t pid;

	if (child_pid > 0) {
		snprintf(err, errlen, "an sftp child already runs");
		return -EBUSY;
	}
	/* A child that died is an error on the socket, not a signal that
	 * ends the reader (the child inherits this: libssh2 writes too). */
	signal(SIGPIPE, SIG_IGN);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		r = -errno;
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return r;
	}
	if ((pid = fork()) < 0) {
		r = -errno;
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (pid == 0) {
		if (wipe != NULL)
			explicit_bzero(wipe, wipelen);
		close(sv[0]);
		if (close_fd != -1)
			close(close_fd);
		target_sftp_configure(c);	/* reads the key file */
		/* As root, uid 0 alone would still open root's 0600 files:
		 * the child becomes nobody first. */
		if (geteuid() == 0 && (setgroups(0, NULL) < 0 ||
		    setresgid(SFTP_CHILD_UID, SFTP_CHILD_UID,
		    SFTP_CHILD_UID) < 0 ||
		    setresuid(SFTP_CHILD_UID, SFTP_CHILD_UID,
		    SFTP_CHILD_UID) < 0))
			fatal("sftp child: cannot become uid %d",
			    SFTP_CHILD_UID);
		sftp_child_drop_caps();
		sftp_child_log_caps();
		target_proxy_serve(sv[1], &target_sftp_ops, target_sftp_error);
		_exit(0);
	}
	close(sv[1]);
	target_proxy_attach(sv[0], pid, c->timeout != 0 ? c->timeout : 30);
	child_pid = pid;
	return 0;
}

void
sftp_child_stop(void)
{
	target_proxy_detach();
	if (child_pid <= 0)
		return;
	while (waitpid(child_pid, NULL, 0) < 0 && errno == EINTR)
		;
	child_pid = -1;
}
