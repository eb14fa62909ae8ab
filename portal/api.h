/* The v1 endpoints of docs/protocol.md, on top of http.c. */
#ifndef API_H
#define API_H

#include "http.h"
#include "ratelimit.h"
#include "store.h"

struct api {
	struct store		*store;
	struct ratelimit	*limit;
	int			 report_interval;
	const char		*bastion_address;	/* NULL: none */
	const char		*bastion_host_key;
	const char		*bastion_user;		/* NULL: no ports */
	int			 port_low, port_high;	/* --forward-ports */
};

/* The http_handler: routes req and fills rep. arg is a struct api. */
void	api_handle(void *arg, struct http_request *req,
	    struct http_reply *rep);

/* The http_preflight: path, method and credential from the headers. */
void	api_preflight(void *arg, struct http_request *req,
	    struct http_reply *rep);

#endif
