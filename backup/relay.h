/*
 * A writer thread. Bytes handed to relay_write reach fn in order, in
 * chunks, on a thread of their own, so that the thread that reads, hashes
 * and feeds zstd does not also wait for encryption and the target (a full
 * backup spends about a fifth of its time there). At most RELAY_DEPTH
 * chunks are in flight: memory stays bounded when the target is slow.
 */
#ifndef RELAY_H
#define RELAY_H

#include <stddef.h>

#define RELAY_CHUNK	(256 * 1024)
#define RELAY_DEPTH	4

struct relay;

typedef int (*relay_fn)(void *arg, const void *buf, size_t len);

/* NULL when no thread can be started (the caller then writes itself). */
struct relay *relay_start(relay_fn fn, void *arg);
/* 0, or the first error fn returned (told when a chunk is passed on);
 * nothing more reaches fn after an error. */
int	relay_write(struct relay *, const void *buf, size_t len);
/* Passes on what is buffered, waits for the thread and frees r: 0, or
 * the first error fn returned. */
int	relay_finish(struct relay *r);

#endif
