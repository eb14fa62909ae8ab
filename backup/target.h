/*
 * Targets: where snapshot objects are stored (docs/backup-format.md,
 * "Layout and names"). One vtable per kind, chosen by the URL's scheme;
 * callers see only the target_* functions. An object is written through
 * target_put_* and appears under its name only at target_put_commit.
 */
#ifndef TARGET_H
#define TARGET_H

#include <stddef.h>
#include <sys/types.h>

#define TARGET_NAME_MAX	128

struct target;
struct target_put;
struct target_get;

struct target_ops {
	const char *scheme;	/* "file" for file:///path */
	int	(*open)(const char *location, void **state);
	void	(*close)(void *state);
	int	(*put_begin)(void *state, const char *name, void **put);
	int	(*put_write)(void *put, const void *buf, size_t len);
	/* Makes the object durable under its name; frees put either way. */
	int	(*put_commit)(void *put);
	/* The same, but -EEXIST (and nothing left) when the name exists:
	 * how a lock object is taken. */
	int	(*put_commit_new)(void *put);
	void	(*put_abort)(void *put);
	int	(*get_open)(void *state, const char *name, void **get);
	ssize_t	(*get_read)(void *get, void *buf, size_t len);
	void	(*get_close)(void *get);
	/* Final names (temporaries excluded), sorted; caller frees each and
	 * the array. */
	int	(*list)(void *state, char ***names, size_t *n);
	int	(*remove)(void *state, const char *name);
	/* Leftover temporaries of interrupted runs removed; their count. */
	int	(*clean)(void *state);
};

/* Opens "file:///dir" (or a plain absolute path). 0 or -errno; -EINVAL for
 * an unknown scheme. */
int	target_open(const char *url, struct target **out);
void	target_close(struct target *t);
/* A valid object name: [A-Za-z0-9._-], not starting with '.', at most
 * TARGET_NAME_MAX bytes. */
int	target_name_valid(const char *name);

int	target_put_begin(struct target *t, const char *name,
	    struct target_put **out);
int	target_put_write(struct target_put *p, const void *buf, size_t len);
/* Durable under its name, or -errno and nothing left; frees p. */
int	target_put_commit(struct target_put *p);
/* Only if no object has the name: else -EEXIST and nothing left; frees p. */
int	target_put_commit_new(struct target_put *p);
void	target_put_abort(struct target_put *p);
/* Bytes written so far through p. */
unsigned long long target_put_bytes(const struct target_put *p);

int	target_get_open(struct target *t, const char *name,
	    struct target_get **out);
ssize_t	target_get_read(struct target_get *g, void *buf, size_t len);
void	target_get_close(struct target_get *g);

int	target_list(struct target *t, char ***names, size_t *n);
void	target_list_free(char **names, size_t n);
int	target_remove(struct target *t, const char *name);
int	target_clean(struct target *t);

extern const struct target_ops target_file_ops;

#endif
