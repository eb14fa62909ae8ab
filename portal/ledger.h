/* Storing an agent's report batch: idempotent by (agent, seq). */
#ifndef LEDGER_H
#define LEDGER_H

#include <jansson.h>

#include "ingest.h"
#include "store.h"

/*
 * Stores the reports of b not yet stored for agent_id, applies the new
 * ones (latest check states and their alerts, inventory, command results)
 * and marks the agent seen, all in one transaction. *ack gets the highest
 * seq stored for the agent and *commands (new reference) the pending
 * commands to hand out. Returns 0 or -EIO, or -EEXIST when a report's
 * seq is already stored with other content (a sequence conflict): nothing
 * of the batch is stored, *ack is the highest seq stored, and the host's
 * "sequence" alert is opened.
 */
int	ledger_store(struct store *, const char *agent_id,
	    const struct ingest_batch *b, long long *ack, json_t **commands);

#endif
