/*
 * Command-line splitting for external checks: sh quoting rules, without a
 * shell, so a check's command line can never inject or expand anything.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argv.h"
#include "xmalloc.h"

static int argv_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
argv_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

void
argv_free(char **argv)
{
	if (argv == NULL)
		return;
	for (size_t i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

int
argv_split(const char *cmdline, char ***argvp, char *err, size_t errlen)
{
	char **argv = NULL, *word = NULL;
	size_t len, i, w = 0, argc = 0, open_col;
	bool in_word = false;
	unsigned char c;
	int r;

	*argvp = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((len = strnlen(cmdline, ARGV_LINE_MAX + 1)) > ARGV_LINE_MAX) {
		r = argv_error(err, errlen, "command line is longer than %d "
		    "bytes", ARGV_LINE_MAX);
		goto out;
	}
	/* A newline would silently join two commands into one argv. */
	for (i = 0; i < len; i++) {
		c = (unsigned char)cmdline[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			r = argv_error(err, errlen, "control character 0x%02x "
			    "at column %zu", c, i + 1);
			goto out;
		}
	}

	word = xcalloc(1, len + 1);	/* no word is longer than the line */
	argv = xcalloc(ARGV_WORDS_MAX + 1, sizeof(*argv));
	for (i = 0; i < len; i++) {
		c = (unsigned char)cmdline[i];
		if (c == ' ' || c == '\t') {
			if (in_word) {
				argv[argc++] = xstrndup(word, w);
				in_word = false;
			}
			continue;
		}
		if (!in_word) {
			if (argc == ARGV_WORDS_MAX) {
				r = argv_error(err, errlen, "more than %d words "
				    "(word %d starts at column %zu)",
				    ARGV_WORDS_MAX, ARGV_WORDS_MAX + 1, i + 1);
				goto out;
			}
			in_word = true;
			w = 0;
		}
		switch (c) {
		case '\\':
			if (i + 1 == len) {
				r = argv_error(err, errlen, "trailing backslash "
				    "at column %zu", i + 1);
				goto out;
			}
			word[w++] = cmdline[++i];
			break;
		case '\'':
			open_col = i + 1;
			for (i++; i < len && cmdline[i] != '\''; i++)
				word[w++] = cmdline[i];
			if (i == len) {
				r = argv_error(err, errlen, "unterminated single "
				    "quote (opened at column %zu)", open_col);
				goto out;
			}
			break;
		case '"':
			open_col = i + 1;
			for (i++; i < len && cmdline[i] != '"'; i++) {
				if (cmdline[i] == '\\' && i + 1 < len &&
				    strchr("\"\\$`", cmdline[i + 1]) != NULL)
					i++;
				word[w++] = cmdline[i];
			}
			if (i == len) {
				r = argv_error(err, errlen, "unterminated double "
				    "quote (opened at column %zu)", open_col);
				goto out;
			}
			break;
		default:
			word[w++] = (char)c;
			break;
		}
	}
	if (in_word)
		argv[argc++] = xstrndup(word, w);

	if (argc == 0) {
		r = argv_error(err, errlen, "empty command");
		goto out;
	}
	if (argv[0][0] == '\0') {
		r = argv_error(err, errlen, "empty program name (the first "
		    "word is an empty quoted string)");
		goto out;
	}
	argv = xreallocarray(argv, argc + 1, sizeof(*argv));
	*argvp = argv;
	argv = NULL;	/* transferred */
	r = (int)argc;
 out:
	argv_free(argv);
	free(word);
	return r;
}
