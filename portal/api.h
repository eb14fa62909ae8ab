/* The v1 endpoints of docs/protocol.md, on top of http.c. */
#ifndef API_H
#define API_H

#include "http.h"
#include "loginlimit.h"
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
	double			 session_ttl;		/* --session-ttl */
	double			 session_idle;		/* --session-idle */
	struct loginlimit	*login_by_addr, *login_by_name;
};

/*
 * The role an operator route needs (ROLE_VIEWER and up, account.h), from
 * the one route table; 0 when path (after /api/v1/) is no operator
 * route; -1 when it is one but not for method, with *allow set to the
 * methods it has.
 */
int	api_route_role(const char *method, const char *path,
	    const char **allow);

/* The http_handler: routes req and fills rep. arg is a struct api. */
void	api_handle(void *arg, struct http_request *req,
	    struct http_reply *rep);

/* The http_preflight: path, method and credential from the headers. */
void	api_preflight(void *arg, struct http_request *req,
	    struct http_reply *rep);

#endif
