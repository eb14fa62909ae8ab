/*
 * libFuzzer target: the replies of the SFTP child, which parsed the
 * network, read by the reader's target_proxy. The input is the child's
 * whole side of the conversation (an open reply first); the reader opens,
 * lists, opens and reads an object and removes one. Whatever the bytes,
 * no crash, every listed name valid and in order, no read longer than
 * asked.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "target.h"
#include "target_proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct target *t;
	struct target_get *g;
	char **names, buf[64];
	size_t n, i;
	ssize_t r;
	int sv[2], big = 1 << 20;

	if (size > 65536 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	/* All the replies are there before the first request; then EOF. */
	if (write(sv[1], data, size) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	shutdown(sv[1], SHUT_WR);
	/* pid 0: nothing to kill. A timeout of 1 s, never reached: the
	 * bytes are there or EOF is. */
	target_proxy_attach(sv[0], 0, 1);
	if (target_open("sftp:///x", &t) == 0) {
		if (target_list(t, &names, &n) == 0) {
			for (i = 0; i < n; i++)
				if (!target_name_valid(names[i]) || (i > 0 &&
				    strcmp(names[i - 1], names[i]) >= 0))
					abort();
			target_list_free(names, n);
		}
		if (target_get_open(t, "obj", &g) == 0) {
			if ((r = target_get_read(g, buf, sizeof(buf))) >
			    (ssize_t)sizeof(buf))
				abort();
			target_get_close(g);
		}
		(void)target_remove(t, "obj");
		target_close(t);
	}
	target_proxy_detach();
	close(sv[1]);
	return 0;
}
