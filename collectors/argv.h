/*
 * Splitting an admin-written command line ([check.NAME] command = ...) into
 * an argv for execve, with sh-like quoting but no shell: nothing is
 * expanded, globbed, redirected or chained.
 */
#ifndef ARGV_H
#define ARGV_H

#include <stddef.h>

#define ARGV_WORDS_MAX	256		/* words in one command line */
#define ARGV_LINE_MAX	65536		/* bytes in one command line */

/*
 * Splits cmdline into words. Blanks (space, tab) separate words. Single
 * quotes keep everything literally; double quotes keep everything but
 * \" \\ \$ \` (the backslash goes; any other backslash stays, as in POSIX
 * sh); outside quotes a backslash keeps the next character. '' or "" is an
 * empty word. ; | & $( ) * ? ~ # > < are ordinary characters.
 *
 * Returns argc (>= 1) and sets *argvp to a NULL-terminated argv that the
 * caller frees with argv_free. On error returns -EINVAL with *argvp NULL
 * and a message naming the problem and its 1-based byte column in err:
 * unterminated quote, trailing backslash, a control character (tab
 * aside), an empty command or program name, more than ARGV_WORDS_MAX
 * words, a line longer than ARGV_LINE_MAX bytes.
 */
int	argv_split(const char *cmdline, char ***argvp, char *err,
	    size_t errlen);
/* Frees an argv from argv_split; NULL is fine. */
void	argv_free(char **argv);

#endif
