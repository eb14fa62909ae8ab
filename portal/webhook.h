/*
 * Webhook fan-out: a sender thread POSTs the outbox rows that alert.c
 * writes, oldest first, with exponential back-off until the receiver
 * answers 2xx. Rows are deleted only then, so delivery survives restarts.
 */
#ifndef WEBHOOK_H
#define WEBHOOK_H

#include "store.h"

/* Starts the sender for an https:// url; ca_file may be NULL (system CAs).
 * Returns 0 or a negative errno. */
int	webhook_start(struct store *, const char *url, const char *ca_file);
/* Stops the sender (an attempt in flight finishes, bounded by its timeout). */
void	webhook_stop(void);
/* Tells the sender that a row was queued; safe before webhook_start. */
void	webhook_kick(void);
/* Delay before retry number attempts (1, 2, 4 ... 300 s). */
double	webhook_backoff(int attempts);

#endif
