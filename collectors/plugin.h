/*
 * Reading what a Nagios / monitoring-plugins check printed: its exit code
 * and stdout become one struct result. Pure parsing; the runner that spawns
 * the plugin and caps its output lives elsewhere.
 */
#ifndef PLUGIN_H
#define PLUGIN_H

#include <stddef.h>

#include "result.h"

/* Room kept at the end of the long text for the parser's own notes
 * (malformed perfdata, odd exit codes), so a plugin that fills the long
 * text cannot hide them. */
#define PLUGIN_LONG_RESERVE	512

/*
 * Parses len bytes of plugin stdout (any bytes: NUL, CRLF, invalid UTF-8,
 * cut short) and the plugin's exit code into r, which the caller has reset.
 *
 * State: exit codes 0-3 map to OK/WARNING/CRITICAL/UNKNOWN; anything else
 * (4, 126, 127, ... and any negative value, which means "did not exit:
 * killed by a signal") is UNKNOWN, with a long-text line saying why.
 *
 * Layout (Nagios 3 plugin API): the first line up to the first '|' is the
 * summary and the rest of that line is perfdata; later lines are long text
 * until a line containing '|': the part before it is still long text, the
 * part after it and every later line are perfdata.
 *
 * Text: summary and long text keep valid UTF-8 and tabs; other control
 * characters (C0, DEL, C1) and every byte of an invalid UTF-8 sequence
 * become '?', so nothing downstream (logs, JSON, terminals) can be forged.
 * The summary is trimmed; "(no output, exit code N)" (or "killed by a
 * signal") replaces an empty output, "(empty summary, exit code N)" an empty
 * first line. Each long-text line loses its trailing blanks and CR; the
 * summary is cut at RESULT_SUMMARY_MAX - 1 bytes and the long text at
 * RESULT_LONG_MAX - 1 - PLUGIN_LONG_RESERVE bytes, both on a character
 * boundary, the latter with a note.
 *
 * Perfdata: 'label'=value[UOM];[warn];[crit];[min];[max], separated by
 * blanks. A quoted label may hold blanks, '=' and '' (one quote); an
 * unquoted one may not hold '=' or a quote. value is a C-locale number
 * ([+-]digits[.digits][e[+-]digits]) or U (undetermined, stored as NAN).
 * A decimal comma is not accepted: the runner should set LC_NUMERIC=C, as
 * Icinga does. UOM is 0-7 letters or '%' (KiB, MB, c, us, ...). warn and
 * crit must pass range_parse and are kept as written; min and max are
 * numbers. An item whose label, value or UOM is bad is skipped; a bad
 * warn/crit/min/max (or a sixth field) is dropped from an item that is
 * otherwise kept. Items past RESULT_PERF_MAX are dropped. Each kind of
 * problem adds one counting line to the long text; none changes the state.
 *
 * Returns 0, or -EINVAL when r is NULL or out is NULL with len > 0.
 */
int	plugin_parse(const char *out, size_t len, int exit_code,
	    struct result *r);

#endif
