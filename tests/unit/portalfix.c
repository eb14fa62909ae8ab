/* A portal store with one enrolled agent (portalfix.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "auth.h"
#include "ingest.h"
#include "ledger.h"
#include "log.h"
#include "portalfix.h"
#include "testutil.h"

int
portalfix_setup(void **state)
{
	struct portalfix *f = calloc(1, sizeof(*f));
	char err[256], tok[AUTH_TOKEN_LEN];
	json_t *host;

	log_init("test", LOG_TARGET_STDERR, 0);
	snprintf(f->dir, sizeof(f->dir), "/tmp/portalfix.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/db", f->dir);
	if (store_open(f->path, &f->store, err, sizeof(err)) != 0) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	host = json_pack("{s:s, s:s}", "hostname", "web-01", "machine_id",
	    "m1");
	if (credential_token_create(f->store, 3600, NULL, tok,
	    sizeof(tok)) != 0 ||
	    credential_enroll(f->store, tok, host, NULL, 60, &f->e) != 0)
		return -1;
	json_decref(host);
	*state = f;
	return 0;
}

int
portalfix_teardown(void **state)
{
	struct portalfix *f = *state;

	store_close(f->store);
	testutil_rm_tree(f->dir);
	free(f);
	return 0;
}

void
portalfix_post(struct store *s, const char *agent, const char *json)
{
	struct ingest_batch *b = calloc(1, sizeof(*b));
	json_t *cmds;
	char err[256];
	long long ack;

	if (ingest_parse_reports(json, strlen(json), b, err,
	    sizeof(err)) != 0)
		fail_msg("parse: %s", err);
	assert_int_equal(ledger_store(s, agent, b, &ack, &cmds), 0);
	ingest_batch_clear(b);
	free(b);
	json_decref(cmds);
}
