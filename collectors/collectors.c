/* The static table of built-in collectors: no dlopen, one entry per file. */
#include "collector.h"

extern const struct collector collector_cpu, collector_memory, collector_load,
    collector_filesystems, collector_diskio, collector_network,
    collector_uptime, collector_processes, collector_units, collector_journal,
    collector_clock, collector_certificates, collector_updates,
    collector_oom, collector_restarts, collector_forecast;

const struct collector *const collectors[] = {
	&collector_cpu,
	&collector_memory,
	&collector_load,
	&collector_filesystems,
	&collector_diskio,
	&collector_network,
	&collector_uptime,
	&collector_processes,
	&collector_units,
	&collector_journal,
	&collector_clock,
	&collector_certificates,
	&collector_updates,
	&collector_oom,
	&collector_restarts,
	&collector_forecast,
	NULL,
};

