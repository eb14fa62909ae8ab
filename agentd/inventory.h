/*
 * inventory: what the portal is told about the host at enrolment (and, by
 * the reporter, daily): name, OS, kernel, CPU, memory. Read from procfs,
 * /etc and uname(2); no DNS, nothing that can block.
 */
#ifndef INVENTORY_H
#define INVENTORY_H

#include <stddef.h>

#include <jansson.h>

#define INVENTORY_TEXT_MAX	256	/* os, cpu_model: bytes kept */

/*
 * Builds {"hostname", "machine_id", "os", "kernel", "arch", "cpu_model",
 * "cpus", "memory_bytes", "agent_version"} from the procfs at proc and the
 * /etc at etc (os-release falls back to etc/../usr/lib/os-release, so a
 * test root works like the real one). A value that cannot be read is JSON
 * null, never a guess. Returns 0 with *out set (the caller json_decrefs
 * it), or -errno when uname(2) or gethostname(2) fails.
 */
int	inventory_collect(const char *proc, const char *etc, json_t **out);

/*
 * os-release text (need not be NUL-terminated) to a display name:
 * PRETTY_NAME, else NAME and VERSION, else "Linux" as os-release(5) says.
 * Shell quoting and backslash escapes are undone; control bytes dropped.
 * Returns 0, or -EINVAL when the result would be empty.
 */
int	inventory_parse_os_release(const char *buf, size_t len, char *out,
	    size_t outlen);

/*
 * /proc/cpuinfo text to a CPU model: "model name" (x86, some arm), "cpu
 * model" (mips), "Hardware" (arm boards); on arm64, which prints none, the
 * implementer and part numbers named from the ARM ID tables. Blanks
 * collapsed. Returns 0, or -ENOENT when the text names no model.
 */
int	inventory_parse_cpuinfo(const char *buf, size_t len, char *out,
	    size_t outlen);

#endif
