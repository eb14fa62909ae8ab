/*
 * The logging sink: sd_journal_send with stable MESSAGE_IDs when journald
 * runs, plain lines on stderr otherwise (no journald, or --foreground).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "log.h"

#define LOG_LINE_MAX	2048
#define LOG_FIELDS_MAX	16

static const char	*log_ident = "agentd";
static int		 log_journal;
static int		 log_verbose;

void
log_init(const char *ident, enum log_target target, int verbose)
{
	log_ident = ident;
	log_verbose = verbose;
	log_journal = target == LOG_TARGET_AUTO &&
	    access("/run/systemd/journal/socket", W_OK) == 0;
}

void
log_set_verbose(int verbose)
{
	log_verbose = verbose;
}

int
log_to_journal(void)
{
	return log_journal;
}

static void
log_emit(int priority, const char *message_id, const char *const *fields,
    size_t nfields, const char *msg)
{
	if (log_journal) {
		struct iovec iov[LOG_FIELDS_MAX + 4];
		char prio[16], mid[64], text[LOG_LINE_MAX + 16], ident[64];
		size_t n = 0;

		snprintf(text, sizeof(text), "MESSAGE=%s", msg);
		snprintf(prio, sizeof(prio), "PRIORITY=%d", priority);
		snprintf(ident, sizeof(ident), "SYSLOG_IDENTIFIER=%s", log_ident);
		iov[n++] = (struct iovec){ text, strlen(text) };
		iov[n++] = (struct iovec){ prio, strlen(prio) };
		iov[n++] = (struct iovec){ ident, strlen(ident) };
		if (message_id != NULL) {
			snprintf(mid, sizeof(mid), "MESSAGE_ID=%s", message_id);
			iov[n++] = (struct iovec){ mid, strlen(mid) };
		}
		for (size_t i = 0; i < nfields && i < LOG_FIELDS_MAX; i++)
			iov[n++] = (struct iovec){ (void *)fields[i],
			    strlen(fields[i]) };
		if (sd_journal_sendv(iov, (int)n) >= 0)
			return;
		/* journald went away: fall through to stderr. */
	}
	fprintf(stderr, "%s: %s", log_ident, msg);
	for (size_t i = 0; i < nfields; i++)
		fprintf(stderr, " %s", fields[i]);
	fputc('\n', stderr);
}

static void
log_vmsg(int priority, const char *message_id, const char *const *fields,
    size_t nfields, int with_errno, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	int saved = errno;
	int n;

	if (priority == LOG_DEBUG && !log_verbose)
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno && n >= 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	log_emit(priority, message_id, fields, nfields, msg);
	errno = saved;
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_DEBUG, NULL, NULL, 0, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_INFO, NULL, NULL, 0, 0, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_WARNING, NULL, NULL, 0, 1, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_WARNING, NULL, NULL, 0, 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_CRIT, NULL, NULL, 0, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_CRIT, NULL, NULL, 0, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

void
log_event(int priority, const char *message_id, const char *const *fields,
    size_t nfields, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(priority, message_id, fields, nfields, 0, fmt, ap);
	va_end(ap);
}

char *
log_escape(char *dst, size_t len, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (len == 0)
		return dst;
	for (; *src != '\0'; src++) {
		unsigned char c = (unsigned char)*src;

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= len)
				break;
			dst[o++] = (char)c;
		} else {
			if (o + 4 >= len)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 0xf];
		}
	}
	dst[o] = '\0';
	return dst;
}
