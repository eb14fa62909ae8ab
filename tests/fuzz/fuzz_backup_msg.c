/*
 * libFuzzer target: bytes from agentd-backup as agentd reads them, the
 * framing (ipc_split) and then backup_msg_check. A frame it accepts must
 * hold what backup_on_msg and backup_on_exit rely on.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backup.h"
#include "ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fuzz_frame(json_t *msg, void *arg)
{
	const char *t, *status, *snapshot, *error;
	json_int_t files, bytes, stored;
	char err[256];

	(void)arg;
	if (backup_msg_check(msg, err, sizeof(err)) < 0)
		return -EPROTO;
	t = json_string_value(json_object_get(msg, "t"));
	if (t == NULL)
		abort();
	if (strcmp(t, "progress") == 0) {
		if (json_integer_value(json_object_get(msg, "files")) < 0 ||
		    json_integer_value(json_object_get(msg, "bytes")) < 0 ||
		    json_integer_value(json_object_get(msg, "rate")) < 0)
			abort();
		return 0;
	}
	/* backup_on_exit's unpack: six pairs. */
	if (json_unpack(msg, "{s:s, s:s, s:I, s:I, s:I, s:s}",
	    "status", &status, "snapshot", &snapshot, "files", &files,
	    "bytes", &bytes, "stored_bytes", &stored, "error", &error) < 0 ||
	    strlen(snapshot) >= BACKUP_ID_MAX ||
	    strlen(error) > BACKUP_ERROR_MAX || files < 0 || bytes < 0 ||
	    stored < 0)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t used = 0;
	int r;

	r = ipc_split(data, size, BACKUP_FRAME_MAX, &used, fuzz_frame, NULL);
	if (used > size || (r != 0 && r != -EMSGSIZE && r != -EBADMSG &&
	    r != -EPROTO))
		abort();
	return 0;
}
