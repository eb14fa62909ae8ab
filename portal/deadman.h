/* The dead-man's switch thread: marks silent hosts unreachable. */
#ifndef DEADMAN_H
#define DEADMAN_H

#include "store.h"

/* Scans every period seconds. Returns 0 or a negative errno. */
int	deadman_start(struct store *, double period);
void	deadman_stop(void);

#endif
