/*
 * plugin_parse against real monitoring-plugins output (copied from the
 * Debian 12 monitoring-plugins-basic 2.3.3 binaries), the guidelines'
 * classic formats and hostile bytes. One cmocka test per table row.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "plugin.h"
#include "result.h"

#define PERF_WANT_MAX	16

struct plugin_case {
	const char	*name;
	const char	*out;
	size_t		 len;		/* 0: strlen(out) */
	int		 exit_code;
	enum check_state state;
	const char	*summary;
	const char	*long_text;	/* NULL: none expected */
	/* Each item as 'label'=VALUEUOM;warn;crit;min;max, value and min/max
	 * in shortest round-trip form, U for NAN, "" for an absent field. */
	const char	*perf[PERF_WANT_MAX];
};

/* For outputs holding NUL bytes. */
#define BYTES(s)	.out = (s), .len = sizeof(s) - 1

static const struct plugin_case cases[] = {
	/* Real plugins, as Debian 12 prints them. */
	{
		.name = "check_load",
		.out = "LOAD OK - total load average: 0.17, 0.11, 0.05|"
		    "load1=0.170;5.000;10.000;0; load5=0.110;4.000;8.000;0; "
		    "load15=0.050;3.000;6.000;0; \n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "LOAD OK - total load average: 0.17, 0.11, 0.05",
		.perf = {
			"'load1'=0.17;5.000;10.000;0;",
			"'load5'=0.11;4.000;8.000;0;",
			"'load15'=0.05;3.000;6.000;0;",
		},
	},
	{
		.name = "check_load -r (empty warn/crit)",
		.out = "LOAD OK - scaled load average: 0.09, 0.06, 0.03 - total "
		    "load average: 0.17, 0.11, 0.05|load1=0.170;;;0; "
		    "scaled_load1=0.085;5.000;10.000;0; load5=0.110;;;0; "
		    "scaled_load5=0.055;4.000;8.000;0; load15=0.050;;;0; "
		    "scaled_load15=0.025;3.000;6.000;0; \n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "LOAD OK - scaled load average: 0.09, 0.06, 0.03 - "
		    "total load average: 0.17, 0.11, 0.05",
		.perf = {
			"'load1'=0.17;;;0;",
			"'scaled_load1'=0.085;5.000;10.000;0;",
			"'load5'=0.11;;;0;",
			"'scaled_load5'=0.055;4.000;8.000;0;",
			"'load15'=0.05;;;0;",
			"'scaled_load15'=0.025;3.000;6.000;0;",
		},
	},
	{
		.name = "check_disk -p /",
		.out = "DISK OK - free space: / 81765MiB (83% inode=97%);| "
		    "/=17006854144B;216442024755;243497277849;0;270552530944\n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "DISK OK - free space: / 81765MiB (83% inode=97%);",
		.perf = {
			"'/'=17006854144B;216442024755;243497277849;0;"
			    "270552530944",
		},
	},
	{
		.name = "check_disk, several mounts",
		.out = "DISK WARNING - free space: /dev 12045MiB (100% "
		    "inode=99%); /dev/shm 24105MiB (100% inode=99%); / 9765MiB "
		    "(15% inode=97%);| /dev=0B;10104078336;11367088128;0;"
		    "12630097920 /dev/shm=0B;20220739584;22748332032;0;"
		    "25275924480 /=229006854144B;216442024755;243497277849;0;"
		    "270552530944\n",
		.exit_code = 1, .state = STATE_WARNING,
		.summary = "DISK WARNING - free space: /dev 12045MiB (100% "
		    "inode=99%); /dev/shm 24105MiB (100% inode=99%); / 9765MiB "
		    "(15% inode=97%);",
		.perf = {
			"'/dev'=0B;10104078336;11367088128;0;12630097920",
			"'/dev/shm'=0B;20220739584;22748332032;0;25275924480",
			"'/'=229006854144B;216442024755;243497277849;0;"
			    "270552530944",
		},
	},
	{
		.name = "check_disk, path missing",
		.out = "DISK CRITICAL - /nonexist is not accessible: No such "
		    "file or directory\n",
		.exit_code = 2, .state = STATE_CRITICAL,
		.summary = "DISK CRITICAL - /nonexist is not accessible: No such "
		    "file or directory",
	},
	{
		.name = "check_procs",
		.out = "PROCS OK: 73 processes | procs=73;;;0;\n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "PROCS OK: 73 processes",
		.perf = { "'procs'=73;;;0;" },
	},
	{
		.name = "check_procs -m RSS",
		.out = "RSS CRITICAL: 14 crit, 0 warn out of 73 processes | "
		    "procs=73;;;0; procs_warn=0;;;0; procs_crit=14;;;0;\n",
		.exit_code = 2, .state = STATE_CRITICAL,
		.summary = "RSS CRITICAL: 14 crit, 0 warn out of 73 processes",
		.perf = {
			"'procs'=73;;;0;",
			"'procs_warn'=0;;;0;",
			"'procs_crit'=14;;;0;",
		},
	},
	{
		.name = "check_procs -C bash -w 1:1",
		.out = "PROCS WARNING: 6 processes with command name 'bash' | "
		    "procs=6;1:1;;0;\n",
		.exit_code = 1, .state = STATE_WARNING,
		.summary = "PROCS WARNING: 6 processes with command name 'bash'",
		.perf = { "'procs'=6;1:1;;0;" },
	},
	{
		.name = "check_swap, no swap",
		.out = "SWAP CRITICAL - 0% free (0MB out of 0MB) - Swap is "
		    "either disabled, not present, or of zero size. "
		    "|swap=0B;0;0;0;0\n",
		.exit_code = 2, .state = STATE_CRITICAL,
		.summary = "SWAP CRITICAL - 0% free (0MB out of 0MB) - Swap is "
		    "either disabled, not present, or of zero size.",
		.perf = { "'swap'=0B;0;0;0;0" },
	},
	{
		.name = "check_users",
		.out = "USERS OK - 0 users currently logged in |users=0;5;10;0\n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "USERS OK - 0 users currently logged in",
		.perf = { "'users'=0;5;10;0;" },
	},
	{
		.name = "check_dummy 2 text",
		.out = "CRITICAL: text\n",
		.exit_code = 2, .state = STATE_CRITICAL,
		.summary = "CRITICAL: text",
	},
	{
		.name = "check_dummy 5 (its own UNKNOWN)",
		.out = "UNKNOWN: Status 5 is not a supported error state\n",
		.exit_code = 3, .state = STATE_UNKNOWN,
		.summary = "UNKNOWN: Status 5 is not a supported error state",
	},
	{
		/* The text's '|' starts perfdata, as in Nagios itself. */
		.name = "check_dummy 1 'a | b'",
		.out = "WARNING: a | b\n",
		.exit_code = 1, .state = STATE_WARNING,
		.summary = "WARNING: a",
		.long_text = "perfdata: 1 malformed item ignored",
	},
	{
		.name = "check_file_age",
		.out = "FILE_AGE CRITICAL: /etc/passwd is 7 seconds old and 1297 "
		    "bytes | age=7s;1;2 size=1297B;0;0;0\n",
		.exit_code = 2, .state = STATE_CRITICAL,
		.summary = "FILE_AGE CRITICAL: /etc/passwd is 7 seconds old and "
		    "1297 bytes",
		.perf = { "'age'=7s;1;2;;", "'size'=1297B;0;0;0;" },
	},
	{
		.name = "check_tcp",
		.out = "TCP OK - 0.001 second response time on 127.0.0.1 port "
		    "18080|time=0.001041s;;;0.000000;10.000000\n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "TCP OK - 0.001 second response time on 127.0.0.1 "
		    "port 18080",
		.perf = { "'time'=0.001041s;;;0;10" },
	},
	{
		.name = "check_tcp, refused",
		.out = "connect to address 127.0.0.1 and port 1: Connection "
		    "refused\n",
		.exit_code = 2, .state = STATE_CRITICAL,
		.summary = "connect to address 127.0.0.1 and port 1: Connection "
		    "refused",
	},
	{
		.name = "check_http 404",
		.out = "HTTP WARNING: HTTP/1.0 404 File not found - 520 bytes in "
		    "0.007 second response time |time=0.007402s;;;0.000000;"
		    "10.000000 size=520B;;;0;\n",
		.exit_code = 1, .state = STATE_WARNING,
		.summary = "HTTP WARNING: HTTP/1.0 404 File not found - 520 bytes "
		    "in 0.007 second response time",
		.perf = { "'time'=0.007402s;;;0;10", "'size'=520B;;;0;" },
	},
	{
		.name = "check_ping",
		.out = "PING OK - Packet loss = 0%, RTA = 0.05 ms|"
		    "rta=0.054000ms;100.000000;200.000000;0.000000 "
		    "pl=0%;20;50;0;\n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "PING OK - Packet loss = 0%, RTA = 0.05 ms",
		.perf = {
			"'rta'=0.054ms;100.000000;200.000000;0;",
			"'pl'=0%;20;50;0;",
		},
	},
	{
		.name = "check_apt",
		.out = "APT CRITICAL: 118 packages available for upgrade (77 "
		    "critical updates). |available_upgrades=118;;;0 "
		    "critical_updates=77;;;0\n",
		.exit_code = 2, .state = STATE_CRITICAL,
		.summary = "APT CRITICAL: 118 packages available for upgrade (77 "
		    "critical updates).",
		.perf = {
			"'available_upgrades'=118;;;0;",
			"'critical_updates'=77;;;0;",
		},
	},
	{
		.name = "check_load usage error",
		.out = "check_load: Could not parse arguments\nUsage:\n"
		    "check_load [-r] -w WLOAD1,WLOAD5,WLOAD15 -c CLOAD1,CLOAD5,"
		    "CLOAD15 [-n NUMBER_OF_PROCS]\n",
		.exit_code = 3, .state = STATE_UNKNOWN,
		.summary = "check_load: Could not parse arguments",
		.long_text = "Usage:\ncheck_load [-r] -w WLOAD1,WLOAD5,WLOAD15 "
		    "-c CLOAD1,CLOAD5,CLOAD15 [-n NUMBER_OF_PROCS]",
	},
	{
		/* "[-4|-6]" in the usage text is a perfdata separator. */
		.name = "check_ping usage error",
		.out = "<wrta> (10.000000) cannot be larger than <crta> "
		    "(1.000000)\ncheck_ping: Could not parse arguments\n"
		    "Usage:\ncheck_ping -H <host_address> -w <wrta>,<wpl>% -c "
		    "<crta>,<cpl>%\n [-p packets] [-t timeout] [-4|-6]\n",
		.exit_code = 3, .state = STATE_UNKNOWN,
		.summary = "<wrta> (10.000000) cannot be larger than <crta> "
		    "(1.000000)",
		.long_text = "check_ping: Could not parse arguments\nUsage:\n"
		    "check_ping -H <host_address> -w <wrta>,<wpl>% -c "
		    "<crta>,<cpl>%\n [-p packets] [-t timeout] [-4\n"
		    "perfdata: 1 malformed item ignored",
	},

	/* The guidelines' multi-line layout. */
	{
		.name = "multi-line: long text, perfdata on later lines",
		.out = "DISK OK - free space: / 3326 MB (56%); | "
		    "/=2643MB;5948;5958;0;5968\n"
		    "/ 15272 MB (77%);\n"
		    "/boot 68 MB (69%);\n"
		    "/home 69357 MB (27%);\n"
		    "/var/log 819 MB (84%); | /boot=68MB;88;93;0;98\n"
		    "/home=69357MB;253404;253409;0;253414 \n"
		    "/var/log=818MB;970;975;0;980\n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "DISK OK - free space: / 3326 MB (56%);",
		.long_text = "/ 15272 MB (77%);\n/boot 68 MB (69%);\n"
		    "/home 69357 MB (27%);\n/var/log 819 MB (84%);",
		.perf = {
			"'/'=2643MB;5948;5958;0;5968",
			"'/boot'=68MB;88;93;0;98",
			"'/home'=69357MB;253404;253409;0;253414",
			"'/var/log'=818MB;970;975;0;980",
		},
	},
	{
		.name = "multi-line: no perfdata on the first line",
		.out = "OK - 2 services\nsvc1 running\nsvc2 running\n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "OK - 2 services",
		.long_text = "svc1 running\nsvc2 running",
	},
	{
		.name = "multi-line: a bare '|' line",
		.out = "OK\nlong1\n| a=1\nb=2\n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "OK",
		.long_text = "long1",
		.perf = { "'a'=1;;;;", "'b'=2;;;;" },
	},
	{
		.name = "multi-line: '|' after perfdata began is an item",
		.out = "OK|a=1\nlong\nx|b=2\nc=3 | d=4\n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "OK",
		.long_text = "long\nx\nperfdata: 1 malformed item ignored",
		.perf = { "'a'=1;;;;", "'b'=2;;;;", "'c'=3;;;;", "'d'=4;;;;" },
	},
	{
		.name = "multi-line: blank lines",
		.out = "OK\n\nline\n\n\nline2  \n\n\n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "OK",
		.long_text = "line\n\n\nline2",
	},

	/* Perfdata syntax. */
	{
		.name = "quoted labels: spaces, '', '='",
		.out = "OK | 'my label'=5 'it''s'=1 'a=b'=2;;;; ''''=3 "
		    "'temp\xc3\xa9rature'=21.5C\n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "OK",
		.perf = {
			"'my label'=5;;;;",
			"'it''s'=1;;;;",
			"'a=b'=2;;;;",
			"''''=3;;;;",
			"'temp\xc3\xa9rature'=21.5C;;;;",
		},
	},
	{
		.name = "U values",
		.out = "UNKNOWN - no data | 'rta'=U;100;200;0; pl=U% c=Us\n",
		.exit_code = 3, .state = STATE_UNKNOWN,
		.summary = "UNKNOWN - no data",
		.perf = { "'rta'=U;100;200;0;", "'pl'=U%;;;;", "'c'=Us;;;;" },
	},
	{
		.name = "empty warn/crit, min and max given",
		.out = "OK | x=1;;;0;100 y=2;;5 z=3;4\n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "OK",
		.perf = { "'x'=1;;;0;100", "'y'=2;;5;;", "'z'=3;4;;;" },
	},
	{
		.name = "trailing semicolons",
		.out = "OK | a=1;;;; b=2;; c=3; d=4;;;;;;\n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "OK",
		.perf = { "'a'=1;;;;", "'b'=2;;;;", "'c'=3;;;;", "'d'=4;;;;" },
	},
	{
		.name = "ranges kept as written",
		.out = "OK | a=1;@10:20;~:30 b=2;10:;-5:-1 c=3;1e3;:\n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "OK",
		.perf = {
			"'a'=1;@10:20;~:30;;",
			"'b'=2;10:;-5:-1;;",
			"'c'=3;1e3;:;;",
		},
	},
	{
		.name = "units, signs, exponents",
		.out = "OK | a=1KiB b=2MiB c=3c d=4us e=5ms f=6% g=7TB h=1e3B "
		    "i=-2.5 j=+3 k=.5s l=1.5e-3s m=2E+2 n=5EB o=7.\n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "OK",
		.perf = {
			"'a'=1KiB;;;;", "'b'=2MiB;;;;", "'c'=3c;;;;",
			"'d'=4us;;;;", "'e'=5ms;;;;", "'f'=6%;;;;",
			"'g'=7TB;;;;", "'h'=1000B;;;;", "'i'=-2.5;;;;",
			"'j'=3;;;;", "'k'=0.5s;;;;", "'l'=0.0015s;;;;",
			"'m'=200;;;;", "'n'=5EB;;;;", "'o'=7;;;;",
		},
	},
	{
		.name = "tabs between items",
		.out = "OK |a=1\tb=2\t\t c=3\n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "OK",
		.perf = { "'a'=1;;;;", "'b'=2;;;;", "'c'=3;;;;" },
	},
	{
		.name = "malformed items skipped, bad fields dropped",
		.out = "OK | good=1 =2 noequals x=abc y=1;;;;;5 z=1ZZZZZZZZ "
		    "'q'x=1 w=5;foo;1:2;a;b v=1e999 u=0x10 t=inf s=1,5 "
		    "r=2 ''=4 it's=3\n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "OK",
		.long_text = "perfdata: 11 malformed items ignored\n"
		    "perfdata: 4 invalid warn/crit/min/max fields dropped",
		.perf = { "'good'=1;;;;", "'y'=1;;;;", "'w'=5;;1:2;;",
		    "'r'=2;;;;" },
	},
	{
		.name = "unquoted label holding '=' is malformed",
		.out = "OK | a=b=1 'a=b'=1\n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "OK",
		.long_text = "perfdata: 1 malformed item ignored",
		.perf = { "'a=b'=1;;;;" },
	},
	{
		.name = "decimal comma is malformed (LC_NUMERIC=C expected)",
		.out = "OK | load=0,50;1,00;2,00 ok=0.5;1,5\n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "OK",
		.long_text = "perfdata: 1 malformed item ignored\n"
		    "perfdata: 1 invalid warn/crit/min/max field dropped",
		.perf = { "'ok'=0.5;;;;" },
	},
	{
		.name = "invalid ranges dropped",
		.out = "OK | a=1;10s;20% b=2;20:10;5\n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "OK",
		.long_text = "perfdata: 3 invalid warn/crit/min/max fields "
		    "dropped",
		.perf = { "'a'=1;;;;", "'b'=2;;5;;" },
	},
	{
		.name = "unterminated quoted label (cut output)",
		.out = "OK | a=1 'cut label=2 b=3",
		.exit_code = 0, .state = STATE_OK,
		.summary = "OK",
		.long_text = "perfdata: 1 malformed item ignored",
		.perf = { "'a'=1;;;;" },
	},
	{
		.name = "control character in a label",
		.out = "OK | 'a\tb'=1 'c\x1b'=2 d=3\n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "OK",
		.long_text = "perfdata: 2 malformed items ignored",
		.perf = { "'d'=3;;;;" },
	},

	/* Bytes and line ends. */
	{
		.name = "CRLF line ends",
		.out = "OK - fine|a=1;2;3\r\nline one\r\nline two\r\n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "OK - fine",
		.long_text = "line one\nline two",
		.perf = { "'a'=1;2;3;;" },
	},
	{
		.name = "NUL bytes",
		BYTES("OK\0 hidden|a=1\0b c=2\nlong\0text\n"),
		.exit_code = 0, .state = STATE_OK,
		.summary = "OK? hidden",
		.long_text = "long?text\nperfdata: 1 malformed item ignored",
		.perf = { "'c'=2;;;;" },
	},
	{
		.name = "no trailing newline",
		.out = "WARNING - 5 things|things=5;3;10",
		.exit_code = 1, .state = STATE_WARNING,
		.summary = "WARNING - 5 things",
		.perf = { "'things'=5;3;10;;" },
	},
	{
		.name = "control characters replaced, tab kept",
		.out = "OK \x1b[31mred\x1b[0m\tTab\x7f\x01 \xc2\x9b" "2J|a=1\n"
		    "bell\a here\rthere\n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "OK ?[31mred?[0m\tTab?? ?2J",
		.long_text = "bell? here?there",
		.perf = { "'a'=1;;;;" },
	},
	{
		.name = "invalid UTF-8 replaced per byte",
		.out = "OK caf\xc3\xa9 \xff\xfe bad \xc3 x \xc0\xaf \xed\xa0\x80 "
		    "\xf4\x90\x80\x80 \xe2\x82\xac end\xe2\x82\n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "OK caf\xc3\xa9 ?? bad ? x ?? ??? ???? \xe2\x82\xac "
		    "end??",
	},
	{
		.name = "summary trimmed",
		.out = "  \t OK\tall\tgood \t \n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "OK\tall\tgood",
	},

	/* Empty and odd outputs, exit codes. */
	{
		.name = "only '|'",
		.out = "|\n",
		.exit_code = 0, .state = STATE_OK,
		.summary = "(empty summary, exit code 0)",
	},
	{
		.name = "perfdata without summary",
		.out = "|a=1\nsome text\n",
		.exit_code = 1, .state = STATE_WARNING,
		.summary = "(empty summary, exit code 1)",
		.long_text = "some text",
		.perf = { "'a'=1;;;;" },
	},
	{
		.name = "empty output, exit 0",
		.out = "",
		.exit_code = 0, .state = STATE_OK,
		.summary = "(no output, exit code 0)",
	},
	{
		.name = "blank output, exit 2",
		.out = "  \n\r\n\t\n",
		.exit_code = 2, .state = STATE_CRITICAL,
		.summary = "(no output, exit code 2)",
	},
	{
		.name = "exit 4 with output",
		.out = "OK - all good\n",
		.exit_code = 4, .state = STATE_UNKNOWN,
		.summary = "OK - all good",
		.long_text = "plugin exit code 4 is not a plugin state (0-3): "
		    "state UNKNOWN",
	},
	{
		.name = "exit 4, no output",
		.out = "",
		.exit_code = 4, .state = STATE_UNKNOWN,
		.summary = "(no output, exit code 4)",
	},
	{
		.name = "exit 126, no output",
		.out = "",
		.exit_code = 126, .state = STATE_UNKNOWN,
		.summary = "(no output, exit code 126)",
	},
	{
		.name = "exit 127, no output",
		.out = "",
		.exit_code = 127, .state = STATE_UNKNOWN,
		.summary = "(no output, exit code 127)",
	},
	{
		.name = "killed (-1), no output",
		.out = "",
		.exit_code = -1, .state = STATE_UNKNOWN,
		.summary = "(no output, killed by a signal)",
	},
	{
		.name = "killed (-1) mid-output",
		.out = "OK - starting|a=1\nline",
		.exit_code = -1, .state = STATE_UNKNOWN,
		.summary = "OK - starting",
		.long_text = "line\nplugin was killed by a signal: state UNKNOWN",
		.perf = { "'a'=1;;;;" },
	},
	{
		.name = "exit 3 with text",
		.out = "UNKNOWN - cannot read /proc/x\n",
		.exit_code = 3, .state = STATE_UNKNOWN,
		.summary = "UNKNOWN - cannot read /proc/x",
	},
};

/* Shortest of %.15g / %.17g that reads back as v; U for NAN. */
static void
num_format(char *buf, size_t len, double v)
{
	if (isnan(v)) {
		snprintf(buf, len, "U");
		return;
	}
	snprintf(buf, len, "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, len, "%.17g", v);
}

static void
perf_format(char *buf, size_t len, const struct perf *p)
{
	char label[2 * PERF_LABEL_MAX], v[32], mn[32] = "", mx[32] = "";
	size_t o = 0;

	for (const char *s = p->label; *s != '\0'; s++) {
		if (*s == '\'')
			label[o++] = '\'';
		label[o++] = *s;
	}
	label[o] = '\0';
	num_format(v, sizeof(v), p->value);
	if (p->has_min)
		num_format(mn, sizeof(mn), p->min);
	if (p->has_max)
		num_format(mx, sizeof(mx), p->max);
	snprintf(buf, len, "'%s'=%s%s;%s;%s;%s;%s", label, v, p->uom, p->warn,
	    p->crit, mn, mx);
}

static void
perf_dump(const struct result *r)
{
	char buf[512];

	for (size_t i = 0; i < r->nperf; i++) {
		perf_format(buf, sizeof(buf), &r->perf[i]);
		print_message("  got perf[%zu] %s\n", i, buf);
	}
}

static void
test_case(void **state)
{
	const struct plugin_case *c = *state;
	struct result r = { 0 };
	char got[512];
	size_t nwant = 0, len;

	result_reset(&r);
	len = c->len != 0 ? c->len : strlen(c->out);
	assert_int_equal(plugin_parse(c->out, len, c->exit_code, &r), 0);
	assert_string_equal(result_state_name(r.state),
	    result_state_name(c->state));
	assert_string_equal(r.summary, c->summary);
	if (c->long_text == NULL) {
		if (r.long_text != NULL)
			fail_msg("unexpected long text \"%s\"", r.long_text);
	} else {
		if (r.long_text == NULL)
			fail_msg("no long text, want \"%s\"", c->long_text);
		assert_string_equal(r.long_text, c->long_text);
	}
	while (nwant < PERF_WANT_MAX && c->perf[nwant] != NULL)
		nwant++;
	if (r.nperf != nwant)
		perf_dump(&r);
	assert_int_equal(r.nperf, nwant);
	for (size_t i = 0; i < nwant; i++) {
		perf_format(got, sizeof(got), &r.perf[i]);
		assert_string_equal(got, c->perf[i]);
	}
	result_reset(&r);
}

/* The cap: 300 items, the first RESULT_PERF_MAX kept in order. */
static void
test_perf_cap(void **state)
{
	struct result r = { 0 };
	char *out, want[64];
	size_t len = 0, cap = 300 * 32;

	(void)state;
	out = malloc(cap);
	assert_non_null(out);
	len += snprintf(out, cap, "OK - many|");
	for (int i = 0; i < 300; i++)
		len += snprintf(out + len, cap - len, "m%d=%d;%d;%d;0;%d ",
		    i, i, i + 1, i + 2, i + 3);
	result_reset(&r);
	assert_int_equal(plugin_parse(out, len, 0, &r), 0);
	assert_int_equal(r.nperf, RESULT_PERF_MAX);
	for (int i = 0; i < RESULT_PERF_MAX; i++) {
		char got[128];

		snprintf(want, sizeof(want), "'m%d'=%d;%d;%d;0;%d", i, i,
		    i + 1, i + 2, i + 3);
		perf_format(got, sizeof(got), &r.perf[i]);
		assert_string_equal(got, want);
	}
	assert_non_null(r.long_text);
	assert_string_equal(r.long_text,
	    "perfdata: 44 items over the limit of 256 dropped");
	result_reset(&r);
	free(out);
}

/* A summary over RESULT_SUMMARY_MAX - 1 bytes is cut before a character
 * that would not fit whole. */
static void
test_summary_cut(void **state)
{
	struct result r = { 0 };
	char out[RESULT_SUMMARY_MAX + 16];
	size_t n = RESULT_SUMMARY_MAX - 2;

	(void)state;
	memset(out, 'a', n);
	memcpy(out + n, "\xc3\xa9tail|x=1\n", 11);
	result_reset(&r);
	assert_int_equal(plugin_parse(out, n + 11, 0, &r), 0);
	assert_int_equal(strlen(r.summary), n);
	assert_int_equal(r.summary[n - 1], 'a');
	assert_int_equal(r.nperf, 1);
	result_reset(&r);

	/* Exactly fits: 1021 'a' + 2-byte character = 1023 bytes. */
	memset(out, 'a', n - 1);
	memcpy(out + n - 1, "\xc3\xa9\n", 3);
	assert_int_equal(plugin_parse(out, n + 2, 0, &r), 0);
	assert_int_equal(strlen(r.summary), RESULT_SUMMARY_MAX - 1);
	assert_memory_equal(r.summary + n - 1, "\xc3\xa9", 2);
	result_reset(&r);
}

/* Long text is capped with room kept for the parser's notes. */
static void
test_long_cut(void **state)
{
	struct result r = { 0 };
	const char *note, *want_note = "plugin output: long text cut at ";
	char *out;
	size_t len = 0, cap = 20000, used;

	(void)state;
	out = malloc(cap);
	assert_non_null(out);
	len += snprintf(out, cap, "OK\n");
	/* 2-byte characters at odd offsets so a cut could split one. */
	while (len < 12000)
		len += snprintf(out + len, cap - len,
		    "x line of text \xc3\xa9\xc3\xa9\xc3\xa9\n");
	len += snprintf(out + len, cap - len, "end | a=1 bad\n");
	result_reset(&r);
	assert_int_equal(plugin_parse(out, len, 4, &r), 0);
	assert_non_null(r.long_text);
	assert_true(strlen(r.long_text) < RESULT_LONG_MAX);
	note = strstr(r.long_text, want_note);
	if (note == NULL) {
		used = strlen(r.long_text);
		fail_msg("no cut note in long text tail \"%s\"",
		    r.long_text + (used > 200 ? used - 200 : 0));
	}
	used = (size_t)(note - r.long_text) - 1;
	assert_true(used <= RESULT_LONG_MAX - 1 - PLUGIN_LONG_RESERVE);
	assert_true(used > RESULT_LONG_MAX - 1 - PLUGIN_LONG_RESERVE - 32);
	/* The cut never leaves half a character. */
	assert_true(((unsigned char)r.long_text[used - 1] & 0xc0) != 0xc0);
	assert_non_null(strstr(note, "\nplugin exit code 4 is not a plugin "
	    "state (0-3): state UNKNOWN\nperfdata: 1 malformed item ignored"));
	assert_int_equal(r.nperf, 1);
	result_reset(&r);
	free(out);
}

/* 127 bytes of label are kept; 128 would be cut, so the item is skipped. */
static void
test_label_length(void **state)
{
	struct result r = { 0 };
	char out[600];
	int n;

	(void)state;
	n = snprintf(out, sizeof(out), "OK | '%0127d'=1 %0128d=2 x=3",
	    0, 0);
	result_reset(&r);
	assert_int_equal(plugin_parse(out, (size_t)n, 0, &r), 0);
	assert_int_equal(r.nperf, 2);
	assert_int_equal(strlen(r.perf[0].label), PERF_LABEL_MAX - 1);
	assert_string_equal(r.perf[1].label, "x");
	assert_string_equal(r.long_text, "perfdata: 1 malformed item ignored");
	result_reset(&r);
}

static void
test_bad_args(void **state)
{
	struct result r = { 0 };

	(void)state;
	result_reset(&r);
	assert_int_equal(plugin_parse(NULL, 5, 0, &r), -EINVAL);
	assert_int_equal(plugin_parse("OK", 2, 0, NULL), -EINVAL);
	assert_int_equal(plugin_parse(NULL, 0, 2, &r), 0);
	assert_string_equal(r.summary, "(no output, exit code 2)");
	assert_int_equal(r.state, STATE_CRITICAL);
	result_reset(&r);
}

/*
 * The installed plugins themselves, where present: whatever they measure
 * here, their output must parse with no perfdata complaint and the state
 * must follow the exit code.
 */
static void
test_live_plugins(void **state)
{
	static const struct {
		const char *cmd;
		size_t nperf;
	} live[] = {
		{ "check_load -w 5,4,3 -c 10,8,6", 3 },
		{ "check_load -r -w 5,4,3 -c 10,8,6", 6 },
		{ "check_disk -w 20% -c 10% -p /", 1 },
		{ "check_procs", 1 },
		{ "check_swap -w 20% -c 10%", 1 },
		{ "check_users -w 5 -c 10", 1 },
		{ "check_dummy 2 text", 0 },
		{ "check_dummy 1 'x | y=1;2;3'", 1 },
	};
	const char *dir = "/usr/lib/nagios/plugins";
	char cmd[256], path[256], out[65536];
	size_t len;
	int status, ran = 0;
	FILE *f;

	(void)state;
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
		struct result r = { 0 };

		snprintf(path, sizeof(path), "%s/%.*s", dir,
		    (int)strcspn(live[i].cmd, " "), live[i].cmd);
		if (access(path, X_OK) != 0)
			continue;
		snprintf(cmd, sizeof(cmd), "LC_ALL=C %s/%s", dir, live[i].cmd);
		f = popen(cmd, "r");
		assert_non_null(f);
		len = fread(out, 1, sizeof(out), f);
		status = pclose(f);
		if (!WIFEXITED(status))
			fail_msg("%s did not exit (status %d)", cmd, status);
		result_reset(&r);
		assert_int_equal(plugin_parse(out, len, WEXITSTATUS(status),
		    &r), 0);
		if (r.long_text != NULL || r.nperf != live[i].nperf) {
			print_message("%s printed: %.*s", cmd, (int)len, out);
			perf_dump(&r);
		}
		assert_null(r.long_text);
		assert_int_equal(r.nperf, live[i].nperf);
		assert_int_equal(r.state, WEXITSTATUS(status) <= 3 ?
		    WEXITSTATUS(status) : STATE_UNKNOWN);
		assert_true(r.summary[0] != '\0' && r.summary[0] != '(');
		result_reset(&r);
		ran++;
	}
	if (ran == 0)
		skip();
}

int
main(void)
{
	size_t n = sizeof(cases) / sizeof(cases[0]);
	struct CMUnitTest *rows;
	const struct CMUnitTest others[] = {
		cmocka_unit_test(test_perf_cap),
		cmocka_unit_test(test_summary_cut),
		cmocka_unit_test(test_long_cut),
		cmocka_unit_test(test_label_length),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_live_plugins),
	};
	int failed;

	/* One named test per row, so a failure names its row. */
	rows = calloc(n, sizeof(*rows));
	if (rows == NULL)
		return 1;
	for (size_t i = 0; i < n; i++) {
		rows[i].name = cases[i].name;
		rows[i].test_func = test_case;
		rows[i].initial_state = (void *)(uintptr_t)&cases[i];
	}
	failed = _cmocka_run_group_tests("plugin_table", rows, n, NULL, NULL);
	failed += cmocka_run_group_tests(others, NULL, NULL);
	free(rows);
	return failed != 0;
}
