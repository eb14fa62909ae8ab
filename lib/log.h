/*
 * Logging: journald with structured fields when it runs, stderr otherwise.
 * log_warn adds the errno text, log_warnx does not; fatal* exit(1).
 * Text that came from outside (plugin output, requests) goes through
 * log_escape first.
 */
#ifndef LOG_H
#define LOG_H

#include <stddef.h>
#include <syslog.h>

/* Stable MESSAGE_IDs for events a provider would alert on (journalctl
 * MESSAGE_ID=...). Never change a published one. */
#define MSGID_STARTED		"5e1c7a0d3b6f4a2e9c8d7b6a5f4e3d21"
#define MSGID_STOPPED		"8a2b4c6d8e0f42a4b6c8d0e2f4a6b8c1"
#define MSGID_CHECK_STATE	"c3e1f27a9b4d4f0e8a6c2d1b7e5f9a34"
#define MSGID_CONFIG_RELOADED	"1f9e8d7c6b5a49382716a5b4c3d2e1f0"
#define MSGID_CONFIG_REJECTED	"2a3b4c5d6e7f48091a2b3c4d5e6f7a8b"
#define MSGID_COLLECTOR_FAILED	"7d6c5b4a39284716b5a4c3d2e1f0a9b8"
#define MSGID_CHECK_TIMEOUT	"4b5c6d7e8f9041a2b3c4d5e6f7a8b9c0"
#define MSGID_REPORT_FAILED	"9c8b7a6f5e4d43c2b1a0f9e8d7c6b5a4"
#define MSGID_CREDENTIAL_REFUSED "e4d3c2b1a0f94e8d7c6b5a4f3e2d1c0b"
#define MSGID_REPORT_REFUSED	"6a5b4c3d2e1f40a9b8c7d6e5f4a3b2c1"
#define MSGID_SPOOL_FAILED	"b2c3d4e5f6a748b9c0d1e2f3a4b5c6d7"
#define MSGID_SEQUENCE_RESET	"0f3e9a7c5b1d4e28a6c4f2b0d8e6a4c2"
/* Remote support sessions (agentd/support.c; docs/remote-support.md). */
#define MSGID_SUPPORT_REQUESTED	"b9383909ae8e0ac39b640f8f5a41dad7"
#define MSGID_SUPPORT_APPROVED	"e0c148d2b80ce5ce1af1da670eb775a0"
#define MSGID_SUPPORT_DENIED	"c0344f10f1901519d1a08090b7d53039"
#define MSGID_SUPPORT_EXPIRED	"bee37e062fdf0675ff6c932cf401a289"
#define MSGID_SUPPORT_OPENED	"fe8d87932545f7bb3aba5a5779057b2d"
#define MSGID_SUPPORT_CONN_OPENED "1101495b73e2b8a36529835715f4cfdf"
#define MSGID_SUPPORT_CONN_CLOSED "3b8bb705c030a6c103b165ee957e106e"
#define MSGID_SUPPORT_CLOSED	"e6ff186da13a289ce733d3a84ac2e161"
#define MSGID_SUPPORT_FAILED	"97b4c6a7aeeb12ca0840bf126774bb3e"
#define MSGID_CHECK_FLAPPING	"5d5534b3d86d48bbac2582663a6d5727"
#define MSGID_MAINTENANCE	"e9a2b95fb402457da4bab38e45dc530f"

enum log_target {
	LOG_TARGET_AUTO,	/* journald if its socket exists, else stderr */
	LOG_TARGET_STDERR,
};

void	log_init(const char *ident, enum log_target target, int verbose);
void	log_set_verbose(int verbose);
int	log_to_journal(void);

void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/*
 * One structured event: priority, a MESSAGE_ID from above, nfields extra
 * journal fields already formatted as "KEY=value", and the message. On
 * stderr the fields are appended as key=value.
 */
void	log_event(int priority, const char *message_id, const char *const *fields,
	    size_t nfields, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));

/* Copies src into dst (always terminated), control and non-ASCII bytes as
 * \xNN, so outside text cannot forge log lines. Returns dst. */
char	*log_escape(char *dst, size_t len, const char *src);

#endif
