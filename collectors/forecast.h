/*
 * forecast collector: the test seam (its statvfs) and the state file's
 * name. The engine is series.h.
 */
#ifndef FORECAST_H
#define FORECAST_H

#include <sys/statvfs.h>

#include "collector.h"

#define FORECAST_STATE_NAME	"forecast"	/* in state_dir */

typedef int forecast_statvfs_fn(const char *path, struct statvfs *st);

/* Replaces the statvfs(3) call of a forecast collector instance. */
void	forecast_set_statvfs(void *inst, forecast_statvfs_fn *fn);
/* Writes the rings to state_dir now (the collector does so every few
 * minutes and when freed). Returns 0 or -errno. */
int	forecast_save(void *inst);

extern const struct collector collector_forecast;

#endif
