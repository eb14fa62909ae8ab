/* A portal store on a temporary SQLite file with one enrolled agent, for
 * the unit tests that drive the ledger through ingest. */
#ifndef PORTALFIX_H
#define PORTALFIX_H

#include "credential.h"
#include "store.h"

struct portalfix {
	char			 dir[64];
	char			 path[96];
	struct store		*store;
	struct credential_enrolment e;	/* the agent, "web-01" */
};

/* cmocka setup and teardown: *state is a struct portalfix. */
int	portalfix_setup(void **state);
int	portalfix_teardown(void **state);
/* Parses json as a report request and stores it for agent; fails the
 * test on any error. */
void	portalfix_post(struct store *s, const char *agent, const char *json);

#endif
