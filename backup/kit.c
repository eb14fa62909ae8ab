/*
 * The recovery kit: formatting and the bounded parser. Every value is
 * escaped like a manifest field (bytes outside 0x21-0x7e and '%' as %XX),
 * so one field is one word and any byte fits.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kit.h"
#include "log.h"
#include "xmalloc.h"

#define KIT_JOB_MAX	64

static void
kit_put_escaped(FILE *fp, const char *s)
{
	const unsigned char *p;

	if (*s == '\0') {
		fputc('-', fp);
		return;
	}
	if (strcmp(s, "-") == 0) {
		fputs("%2D", fp);
		return;
	}
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x21 || *p > 0x7e || *p == '%')
			fprintf(fp, "%%%02X", *p);
		else
			fputc(*p, fp);
	}
}

/* A copy of escaped value v unescaped; NULL if malformed or it holds a
 * NUL byte. "-" is the empty string. */
static char *
kit_unescape(const char *v)
{
	char	*out, *o;
	int	 hi, lo;

	if (strcmp(v, "-") == 0)
		return xstrdup("");
	out = o = xreallocarray(NULL, strlen(v) + 1, 1);
	while (*v != '\0') {
		if (*v != '%') {
			*o++ = *v++;
			continue;
		}
		if (!isxdigit((unsigned char)v[1]) ||
		    !isxdigit((unsigned char)v[2]) ||
		    islower((unsigned char)v[1]) || islower((unsigned char)v[2]))
			goto bad;
		hi = isdigit((unsigned char)v[1]) ? v[1] - '0' : v[1] - 'A' + 10;
		lo = isdigit((unsigned char)v[2]) ? v[2] - '0' : v[2] - 'A' + 10;
		if (hi == 0 && lo == 0)
			goto bad;
		*o++ = (char)(hi << 4 | lo);
		v += 3;
	}
	*o = '\0';
	return out;
 bad:
	free(out);
	return NULL;
}

static int
kit_job_valid(const char *s)
{
	size_t	 n = strlen(s);

	if (n == 0 || n >= KIT_JOB_MAX)
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") == n;
}

void
kit_add_conf(struct kit *k, const char *fmt, ...)
{
	va_list	 ap;

	k->conf = xreallocarray(k->conf, k->nconf + 1, sizeof(*k->conf));
	va_start(ap, fmt);
	if (vasprintf(&k->conf[k->nconf], fmt, ap) == -1)
		fatalx("kit: out of memory");
	va_end(ap);
	k->nconf++;
}

void
kit_free(struct kit *k)
{
	size_t	 i;

	free(k->job);
	free(k->target);
	free(k->host_key);
	if (k->credential != NULL) {
		explicit_bzero(k->credential, strlen(k->credential));
		free(k->credential);
	}
	for (i = 0; i < k->nconf; i++)
		free(k->conf[i]);
	free(k->conf);
	explicit_bzero(k, sizeof(*k));
}

int
kit_format(const struct kit *k, char **out, size_t *lenp)
{
	FILE	*fp;
	char	*buf = NULL;
	size_t	 len = 0, i;

	*out = NULL;
	if (k->job == NULL || !kit_job_valid(k->job) || k->target == NULL ||
	    *k->target == '\0')
		return -EINVAL;
	if ((fp = open_memstream(&buf, &len)) == NULL)
		return -errno;
	fprintf(fp, "%s\ncreated %lld\njob %s\ntarget ", KIT_MAGIC,
	    k->created, k->job);
	kit_put_escaped(fp, k->target);
	fputs("\nkey ", fp);
	if (k->encrypted)
		for (i = 0; i < CRYPT_KEYBYTES; i++)
			fprintf(fp, "%02x", k->key[i]);
	else
		fputc('-', fp);
	fputs("\nhost_key ", fp);
	kit_put_escaped(fp, k->host_key != NULL ? k->host_key : "");
	fputs("\ncredential ", fp);
	kit_put_escaped(fp, k->credential != NULL ? k->credential : "");
	fputc('\n', fp);
	for (i = 0; i < k->nconf; i++) {
		fputs("conf ", fp);
		kit_put_escaped(fp, k->conf[i]);
		fputc('\n', fp);
	}
	fprintf(fp, "end %zu\n", k->nconf);
	if (fclose(fp) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	if (lenp != NULL)
		*lenp = len;
	return 0;
}

static int
kit_hexkey(const char *v, uint8_t key[CRYPT_KEYBYTES])
{
	size_t	 i;
	int	 hi, lo;

	if (strlen(v) != CRYPT_KEYBYTES * 2)
		return -1;
	for (i = 0; i < CRYPT_KEYBYTES; i++) {
		hi = v[2 * i];
		lo = v[2 * i + 1];
		if (!isxdigit(hi) || !isxdigit(lo) || isupper(hi) ||
		    isupper(lo))
			return -1;
		hi = isdigit(hi) ? hi - '0' : hi - 'a' + 10;
		lo = isdigit(lo) ? lo - '0' : lo - 'a' + 10;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/*
 * One line is "NAME VALUE" (exactly one space, VALUE one escaped word).
 * The fields may come in any order, each once (conf up to KIT_MAX_CONF
 * times); job, target and key are required; "end COUNT" is last and
 * COUNT is the number of conf lines, so a truncated kit is refused.
 */
int
kit_parse(const char *buf, size_t len, struct kit *k, char *err,
    size_t errlen)
{
	char	 line[KIT_MAX_LINE + 1], *sp, *val, *end;
	const char *p = buf, *nl;
	size_t	 n, lineno = 0;
	unsigned long long count;
	int	 seen_key = 0, seen_created = 0, seen_hk = 0, seen_cred = 0;
	int	 ended = 0;

	memset(k, 0, sizeof(*k));
	snprintf(err, errlen, "malformed");
	if (len > KIT_MAX_SIZE) {
		snprintf(err, errlen, "larger than %d bytes", KIT_MAX_SIZE);
		goto bad;
	}
	while (p < buf + len) {
		lineno++;
		if ((nl = memchr(p, '\n', (size_t)(buf + len - p))) == NULL) {
			snprintf(err, errlen, "line %zu: no newline at the end",
			    lineno);
			goto bad;
		}
		n = (size_t)(nl - p);
		if (n > KIT_MAX_LINE || memchr(p, '\0', n) != NULL) {
			snprintf(err, errlen, "line %zu: too long or holds a "
			    "NUL byte", lineno);
			goto bad;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p = nl + 1;
		if (ended) {
			snprintf(err, errlen, "line %zu: text after end",
			    lineno);
			goto bad;
		}
		if (lineno == 1) {
			if (strcmp(line, KIT_MAGIC) != 0) {
				snprintf(err, errlen, "not a recovery kit of "
				    "version 1 (first line)");
				goto bad;
			}
			continue;
		}
		if ((sp = strchr(line, ' ')) == NULL || sp == line ||
		    sp[1] == '\0' || strchr(sp + 1, ' ') != NULL) {
			snprintf(err, errlen, "line %zu: not \"NAME VALUE\"",
			    lineno);
			goto bad;
		}
		*sp = '\0';
		val = sp + 1;
		if (strcmp(line, "end") == 0) {
			errno = 0;
			count = strtoull(val, &end, 10);
			if (*end != '\0' || !isdigit((unsigned char)*val) ||
			    errno != 0 || count != k->nconf) {
				snprintf(err, errlen, "line %zu: end count "
				    "does not match (truncated?)", lineno);
				goto bad;
			}
			ended = 1;
		} else if (strcmp(line, "job") == 0) {
			if (k->job != NULL || !kit_job_valid(val)) {
				snprintf(err, errlen, "line %zu: bad or "
				    "repeated job", lineno);
				goto bad;
			}
			k->job = xstrdup(val);
		} else if (strcmp(line, "target") == 0) {
			if (k->target != NULL ||
			    (k->target = kit_unescape(val)) == NULL ||
			    *k->target == '\0') {
				snprintf(err, errlen, "line %zu: bad or "
				    "repeated target", lineno);
				goto bad;
			}
		} else if (strcmp(line, "key") == 0) {
			if (seen_key++ || (strcmp(val, "-") != 0 &&
			    kit_hexkey(val, k->key) != 0)) {
				snprintf(err, errlen, "line %zu: bad or "
				    "repeated key (64 lower-case hex digits "
				    "or -)", lineno);
				goto bad;
			}
			k->encrypted = strcmp(val, "-") != 0;
		} else if (strcmp(line, "created") == 0) {
			errno = 0;
			k->created = strtoll(val, &end, 10);
			if (seen_created++ || *end != '\0' || errno != 0 ||
			    !isdigit((unsigned char)*val)) {
				snprintf(err, errlen, "line %zu: bad or "
				    "repeated created", lineno);
				goto bad;
			}
		} else if (strcmp(line, "host_key") == 0 ||
		    strcmp(line, "credential") == 0) {
			int *seen = line[0] == 'h' ? &seen_hk : &seen_cred;
			char **dst = line[0] == 'h' ? &k->host_key :
			    &k->credential;

			if ((*seen)++ || (*dst = kit_unescape(val)) == NULL) {
				snprintf(err, errlen, "line %zu: bad or "
				    "repeated %s", lineno, line);
				goto bad;
			}
			if (**dst == '\0') {
				free(*dst);
				*dst = NULL;
			}
		} else if (strcmp(line, "conf") == 0) {
			char *c;

			if (k->nconf == KIT_MAX_CONF ||
			    (c = kit_unescape(val)) == NULL) {
				snprintf(err, errlen, "line %zu: bad conf line "
				    "or more than %d", lineno, KIT_MAX_CONF);
				goto bad;
			}
			k->conf = xreallocarray(k->conf, k->nconf + 1,
			    sizeof(*k->conf));
			k->conf[k->nconf++] = c;
		} else {
			snprintf(err, errlen, "line %zu: unknown field", lineno);
			goto bad;
		}
	}
	if (lineno == 0) {
		snprintf(err, errlen, "empty");
		goto bad;
	}
	if (!ended || k->job == NULL || k->target == NULL || !seen_key) {
		snprintf(err, errlen, "%s", !ended ? "no end line (truncated)" :
		    "job, target or key missing");
		goto bad;
	}
	explicit_bzero(line, sizeof(line));
	return 0;
 bad:
	explicit_bzero(line, sizeof(line));
	kit_free(k);
	return -EINVAL;
}
