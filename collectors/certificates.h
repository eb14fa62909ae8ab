/*
 * The certificates collector's parsing and evaluation, exported so the
 * tests can check them without a child: one item per file or endpoint
 * as agentd-certcheck answers it (agentd/certcheck.c).
 */
#ifndef CERTIFICATES_H
#define CERTIFICATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct result;

#define CERTIFICATES_TEXT_MAX	256

struct certificates_item {
	char		 item[CERTIFICATES_TEXT_MAX];	/* path or host:port */
	bool		 is_file;
	bool		 answered;	/* the helper said something */
	char		 error[CERTIFICATES_TEXT_MAX];	/* "" when read */
	char		 subject[CERTIFICATES_TEXT_MAX];
	char		 cn[CERTIFICATES_TEXT_MAX];
	char		 issuer[CERTIFICATES_TEXT_MAX];
	int64_t		 not_after;	/* unix seconds */
	unsigned	 chain, leaf;	/* certificates seen; which is reported */
	bool		 verified;	/* against the system CAs */
	char		 verify_error[CERTIFICATES_TEXT_MAX];
};

/* Parses one line of agentd-certcheck's output (len bytes, no newline)
 * into it, which is cleared first. Strings are cut to fit and made
 * printable. Returns 0, or -EINVAL when the line is not a record. */
int	certificates_parse_line(const char *line, size_t len,
	    struct certificates_item *it);

/* Fills res (state, summary, long text, perfdata: days left per item)
 * for n items at time now under inst's thresholds and error_state. inst
 * is an instance from collector_certificates.new(). */
void	certificates_summarise(void *inst, const struct certificates_item
	    *items, size_t n, time_t now, struct result *res);

#endif
