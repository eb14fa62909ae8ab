/*
 * agentd-portal: the provider's reference server for wire protocol v1
 * (docs/protocol.md). Limits and journal MESSAGE_IDs shared by its modules.
 */
#ifndef PORTAL_H
#define PORTAL_H

/* journalctl MESSAGE_ID=... for events an operator alerts on. */
#define MSGID_PORTAL_HOST_UNREACHABLE	"c3a321fd8317f86e51745aa2aa8c1b64"
#define MSGID_PORTAL_HOST_BACK		"e872c355cfd0e27822d54a2c5ebfcc82"
#define MSGID_PORTAL_ALERT_OPENED	"abe5646a851078ad576424134a1a2c66"
#define MSGID_PORTAL_ALERT_CLOSED	"a2937abe748824e1168b09c45e92752a"
#define MSGID_PORTAL_WEBHOOK_FAILING	"2fa93e5b3e1fdea98d12da77085de2d6"
#define MSGID_PORTAL_ENROLLED		"cb254b29cd1a226c108d23e0e87b0036"
#define MSGID_PORTAL_STARTED		"4176085abc2e32e5d5689746f3dff27c"
#define MSGID_PORTAL_STOPPED		"dbf8b089be34c13e27c4e56431574cf8"
#define MSGID_PORTAL_SEQ_CONFLICT	"5d0c6f2e8a9b4c71b3e2d4f6a8c0e1b7"
/* Web app logins: a session opened, a password refused. */
#define MSGID_PORTAL_LOGIN		"de56b1acc33c46b1dbf7fbc434dc0f59"
#define MSGID_PORTAL_LOGIN_FAILED	"35876622afb842962ee9b69f6de69707"

/* Protocol limits (docs/protocol.md, "Limits"). */
#define PORTAL_MAX_BODY		(1024 * 1024)
/* Enrolment (anonymous until its token is read) and the other endpoints. */
#define PORTAL_MAX_ENROLL_BODY	(8 * 1024)
#define PORTAL_MAX_SMALL_BODY	(64 * 1024)
#define PORTAL_MAX_INFLATED	(8 * 1024 * 1024)
#define PORTAL_MAX_REPORTS	100
/* Checks in one request's heartbeats and state changes (413 beyond). */
#define PORTAL_MAX_REQUEST_CHECKS	20000
#define PORTAL_MAX_STRING	(64 * 1024)
#define PORTAL_RATE_PER_SEC	20.0
#define PORTAL_RATE_BURST	100.0
/* Checks one agent may have; a report naming more new ones is refused. */
#define PORTAL_MAX_CHECKS	1000
/* Alerts one report request may open; beyond, states are kept unalerted. */
#define PORTAL_MAX_ALERTS_PER_REQUEST	100
/* Command ids ("cmd_<n>"), the same limit as the agent's (reply.h). */
#define PORTAL_MAX_COMMAND_ID	64
/* backup_result: a job name (agentd's [backup.NAME]), a snapshot id, the
 * error texts of one run, and backup jobs kept per agent. */
#define PORTAL_MAX_BACKUP_JOB	64
#define PORTAL_MAX_SNAPSHOT	64
#define PORTAL_MAX_BACKUP_ERRORS	16
#define PORTAL_MAX_BACKUP_ERROR	1024
#define PORTAL_MAX_BACKUPS	100
/* Default connection cap; systemd/agentd-portal.service's LimitNOFILE fits it. */
#define PORTAL_MAX_CONNECTIONS	10000
/* A host is unreachable after this many silent report intervals. */
#define PORTAL_DEADMAN_FACTOR	3
/* The longest maintenance window or silence the portal honours, from the
 * time it hears of it: a later until is cut to this (31 days). */
#define PORTAL_MAX_WINDOW	(31.0 * 86400)
/* Web app login sessions: absolute and idle lifetime (--session-ttl,
 * --session-idle), and the failed logins after which an address or a
 * user name is refused for a doubling delay. */
#define PORTAL_SESSION_TTL	(12.0 * 3600)
#define PORTAL_SESSION_IDLE	(30.0 * 60)
#define PORTAL_LOGIN_FAILS_NAME	5
#define PORTAL_LOGIN_FAILS_ADDR	20
/* Largest seq accepted: exact in a double, so any JSON reader keeps it. */
#define PORTAL_MAX_SEQ		9007199254740991LL

#endif
