/*
 * The target front end: picks the backend by URL scheme and checks object
 * names once here, so no backend can be handed a path with a '/' or "..".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "target.h"
#include "target_proxy.h"
#include "xmalloc.h"

struct target {
	const struct target_ops *ops;
	void	*state;
};

struct target_put {
	const struct target_ops *ops;
	void	*put;
	unsigned long long bytes;
};

struct target_get {
	const struct target_ops *ops;
	void	*get;
};

static const struct target_ops *const backends[] = {
	&target_file_ops,
	&target_proxy_ops,	/* sftp://, served by sftp_child.c */
};

int
target_name_valid(const char *name)
{
	const char *p;

	if (name == NULL || name[0] == '\0' || name[0] == '.' ||
	    strlen(name) > TARGET_NAME_MAX)
		return 0;
	for (p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
		    *p == '-'))
			return 0;
	return 1;
}

int
target_open(const char *url, struct target **out)
{
	const struct target_ops *ops = NULL;
	const char *colon, *loc = url;
	struct target *t;
	void	*state;
	size_t	 i, n;
	int	 r;

	*out = NULL;
	if ((colon = strstr(url, "://")) != NULL) {
		n = (size_t)(colon - url);
		for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
			if (strlen(backends[i]->scheme) == n &&
			    strncmp(backends[i]->scheme, url, n) == 0)
				ops = backends[i];
		loc = colon + 3;
	} else if (url[0] == '/')
		ops = &target_file_ops;
	if (ops == NULL)
		return -EINVAL;
	if ((r = ops->open(loc, &state)) != 0)
		return r;
	t = xcalloc(1, sizeof(*t));
	t->ops = ops;
	t->state = state;
	*out = t;
	return 0;
}

void
target_close(struct target *t)
{
	if (t == NULL)
		return;
	t->ops->close(t->state);
	free(t);
}

int
target_put_begin(struct target *t, const char *name, struct target_put **out)
{
	struct target_put *p;
	void	*put;
	int	 r;

	*out = NULL;
	if (!target_name_valid(name))
		return -EINVAL;
	if ((r = t->ops->put_begin(t->state, name, &put)) != 0)
		return r;
	p = xcalloc(1, sizeof(*p));
	p->ops = t->ops;
	p->put = put;
	*out = p;
	return 0;
}

int
target_put_write(struct target_put *p, const void *buf, size_t len)
{
	int	 r;

	if ((r = p->ops->put_write(p->put, buf, len)) == 0)
		p->bytes += len;
	return r;
}

unsigned long long
target_put_bytes(const struct target_put *p)
{
	return p->bytes;
}

int
target_put_commit(struct target_put *p)
{
	int	 r;

	r = p->ops->put_commit(p->put);
	free(p);
	return r;
}

int
target_put_commit_new(struct target_put *p)
{
	int	 r;

	r = p->ops->put_commit_new(p->put);
	free(p);
	return r;
}

void
target_put_abort(struct target_put *p)
{
	if (p == NULL)
		return;
	p->ops->put_abort(p->put);
	free(p);
}

int
target_get_open(struct target *t, const char *name, struct target_get **out)
{
	struct target_get *g;
	void	*get;
	int	 r;

	*out = NULL;
	if (!target_name_valid(name))
		return -EINVAL;
	if ((r = t->ops->get_open(t->state, name, &get)) != 0)
		return r;
	g = xcalloc(1, sizeof(*g));
	g->ops = t->ops;
	g->get = get;
	*out = g;
	return 0;
}

ssize_t
target_get_read(struct target_get *g, void *buf, size_t len)
{
	return g->ops->get_read(g->get, buf, len);
}

void
target_get_close(struct target_get *g)
{
	if (g == NULL)
		return;
	g->ops->get_close(g->get);
	free(g);
}

int
target_list(struct target *t, char ***names, size_t *n)
{
	return t->ops->list(t->state, names, n);
}

void
target_list_free(char **names, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int
target_remove(struct target *t, const char *name)
{
	if (!target_name_valid(name))
		return -EINVAL;
	return t->ops->remove(t->state, name);
}

int
target_clean(struct target *t)
{
	return t->ops->clean(t->state);
}
