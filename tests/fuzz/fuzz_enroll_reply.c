/* libFuzzer target: the portal's reply to an enrolment. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enroll.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct identity id;
	char err[256];

	err[0] = '\0';
	if (enroll_parse_reply((const char *)data, size, &id, err,
	    sizeof(err)) == 0) {
		/* What was accepted must be what identity_parse accepts. */
		if (!identity_valid_agent_id(id.agent_id) ||
		    !identity_valid_credential(id.credential) ||
		    id.report_interval < 1 || id.report_interval > 86400 ||
		    (id.bastion_address == NULL) !=
		    (id.bastion_host_key == NULL))
			abort();
		free(id.agent_id);
		free(id.credential);
		free(id.bastion_address);
		free(id.bastion_host_key);
		free(id.bastion_user);
	} else {
		if (err[0] == '\0' || id.agent_id != NULL ||
		    id.credential != NULL)
			abort();	/* every refusal says why, leaves nothing */
		/* Escaped: no control bytes reach a terminal. */
		for (size_t i = 0; err[i] != '\0'; i++)
			if ((unsigned char)err[i] < 0x20 ||
			    (unsigned char)err[i] >= 0x7f)
				abort();
	}
	return 0;
}
