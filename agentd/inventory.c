/*
 * inventory: the host facts sent at enrolment and in inventory reports.
 * Parsers for os-release and cpuinfo live here; meminfo is the memory
 * collector's parser, so the two never disagree about MemTotal.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <jansson.h>

#include "inventory.h"
#include "memory.h"
#include "sysfile.h"

/* os-release and machine-id are a few hundred bytes; cpuinfo on a big
 * host is about 1.5 KiB per CPU and the first CPU is all we need. */
#define OS_RELEASE_MAX	(16 * 1024)
#define CPUINFO_MAX	(64 * 1024)
#define MEMINFO_MAX	(16 * 1024)

/* Walks buf[0..len) one line at a time; the last may lack its newline. */
struct line {
	const char	*p;
	size_t		 len;
};

static bool
inventory_next_line(const char *buf, size_t len, size_t *pos,
    struct line *l)
{
	const char *nl;

	if (*pos >= len)
		return false;
	l->p = buf + *pos;
	nl = memchr(l->p, '\n', len - *pos);
	l->len = nl != NULL ? (size_t)(nl - l->p) : len - *pos;
	*pos += l->len + 1;
	return true;
}

/*
 * Undoes os-release quoting (a subset of shell: "..." with \ escapes,
 * '...' literal, or a bare word) into out. Control bytes are dropped.
 */
static void
inventory_unquote(const char *v, size_t n, char *out, size_t outlen)
{
	size_t o = 0, i = 0;
	char q = '\0';

	if (n > 0 && (v[0] == '"' || v[0] == '\'')) {
		q = v[0];
		i = 1;
	}
	for (; i < n && o + 1 < outlen; i++) {
		char c = v[i];

		if (q != '\0' && c == q)
			break;
		if (q == '"' && c == '\\' && i + 1 < n &&
		    strchr("\"\\$`", v[i + 1]) != NULL)
			c = v[++i];
		if ((unsigned char)c < 0x20 || c == 0x7f)
			continue;
		out[o++] = c;
	}
	/* A bare word ends at trailing blanks. */
	while (q == '\0' && o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

/* Finds KEY= in os-release text; copies the unquoted value. */
static bool
inventory_os_field(const char *buf, size_t len, const char *key, char *out,
    size_t outlen)
{
	size_t pos = 0, klen = strlen(key);
	struct line l;

	while (inventory_next_line(buf, len, &pos, &l)) {
		if (l.len > klen && memcmp(l.p, key, klen) == 0 &&
		    l.p[klen] == '=') {
			inventory_unquote(l.p + klen + 1, l.len - klen - 1, out,
			    outlen);
			return out[0] != '\0';
		}
	}
	return false;
}

int
inventory_parse_os_release(const char *buf, size_t len, char *out,
    size_t outlen)
{
	char name[INVENTORY_TEXT_MAX], version[INVENTORY_TEXT_MAX];

	if (outlen == 0)
		return -EINVAL;
	out[0] = '\0';
	if (inventory_os_field(buf, len, "PRETTY_NAME", out, outlen))
		return 0;
	if (!inventory_os_field(buf, len, "NAME", name, sizeof(name)))
		snprintf(name, sizeof(name), "Linux");
	if (inventory_os_field(buf, len, "VERSION", version, sizeof(version)))
		snprintf(out, outlen, "%s %s", name, version);
	else
		snprintf(out, outlen, "%s", name);
	return out[0] != '\0' ? 0 : -EINVAL;
}

/* Copies a cpuinfo value with runs of blanks made one space. */
static void
inventory_squeeze(const char *v, size_t n, char *out, size_t outlen)
{
	size_t o = 0;
	bool blank = false;

	for (size_t i = 0; i < n && o + 1 < outlen; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == ' ' || c == '\t') {
			blank = o > 0;
			continue;
		}
		if (c < 0x20 || c == 0x7f)
			continue;
		if (blank && o + 2 < outlen)
			out[o++] = ' ';
		blank = false;
		out[o++] = (char)c;
	}
	out[o] = '\0';
}

/* From the ARM architecture reference's MIDR implementer codes and the
 * part numbers the vendors publish (the table lscpu also carries). */
static const struct {
	unsigned	 implementer;
	const char	*name;
} arm_implementers[] = {
	{ 0x41, "ARM" }, { 0x42, "Broadcom" }, { 0x43, "Cavium" },
	{ 0x46, "Fujitsu" }, { 0x48, "HiSilicon" }, { 0x4e, "NVIDIA" },
	{ 0x50, "APM" }, { 0x51, "Qualcomm" }, { 0x61, "Apple" },
	{ 0xc0, "Ampere" },
};

static const struct {
	unsigned	 implementer, part;
	const char	*name;
} arm_parts[] = {
	{ 0x41, 0xd03, "Cortex-A53" }, { 0x41, 0xd04, "Cortex-A35" },
	{ 0x41, 0xd05, "Cortex-A55" }, { 0x41, 0xd07, "Cortex-A57" },
	{ 0x41, 0xd08, "Cortex-A72" }, { 0x41, 0xd09, "Cortex-A73" },
	{ 0x41, 0xd0a, "Cortex-A75" }, { 0x41, 0xd0b, "Cortex-A76" },
	{ 0x41, 0xd0c, "Neoverse-N1" }, { 0x41, 0xd0d, "Cortex-A77" },
	{ 0x41, 0xd40, "Neoverse-V1" }, { 0x41, 0xd41, "Cortex-A78" },
	{ 0x41, 0xd44, "Cortex-X1" }, { 0x41, 0xd46, "Cortex-A510" },
	{ 0x41, 0xd47, "Cortex-A710" }, { 0x41, 0xd48, "Cortex-X2" },
	{ 0x41, 0xd49, "Neoverse-N2" }, { 0x41, 0xd4f, "Neoverse-V2" },
	{ 0x43, 0x0af, "ThunderX2 99xx" }, { 0x46, 0x001, "A64FX" },
	{ 0x48, 0xd01, "Kunpeng-920" }, { 0xc0, 0xac3, "Ampere-1" },
};

static void
inventory_arm_name(unsigned impl, unsigned part, char *out, size_t outlen)
{
	const char *iname = NULL, *pname = NULL;
	size_t i;

	for (i = 0; i < sizeof(arm_implementers) / sizeof(arm_implementers[0]);
	    i++)
		if (arm_implementers[i].implementer == impl)
			iname = arm_implementers[i].name;
	for (i = 0; i < sizeof(arm_parts) / sizeof(arm_parts[0]); i++)
		if (arm_parts[i].implementer == impl &&
		    arm_parts[i].part == part)
			pname = arm_parts[i].name;
	if (iname != NULL && pname != NULL)
		snprintf(out, outlen, "%s %s", iname, pname);
	else if (iname != NULL)
		snprintf(out, outlen, "%s part 0x%03x", iname, part);
	else
		snprintf(out, outlen, "implementer 0x%02x part 0x%03x", impl,
		    part);
}

int
inventory_parse_cpuinfo(const char *buf, size_t len, char *out,
    size_t outlen)
{
	/* Best first: the first match of the best key wins. */
	static const char *const keys[] = { "model name", "cpu model",
	    "Hardware" };
	char found[3][INVENTORY_TEXT_MAX] = { "", "", "" };
	long impl = -1, part = -1;
	size_t pos = 0;
	struct line l;

	if (outlen == 0)
		return -EINVAL;
	out[0] = '\0';
	while (inventory_next_line(buf, len, &pos, &l)) {
		const char *colon = memchr(l.p, ':', l.len);
		size_t klen, vlen;
		const char *v;

		if (colon == NULL)
			continue;
		klen = (size_t)(colon - l.p);
		while (klen > 0 && (l.p[klen - 1] == ' ' ||
		    l.p[klen - 1] == '\t'))
			klen--;
		v = colon + 1;
		vlen = l.len - (size_t)(v - l.p);
		for (size_t k = 0; k < 3; k++)
			if (klen == strlen(keys[k]) &&
			    memcmp(l.p, keys[k], klen) == 0 &&
			    found[k][0] == '\0')
				inventory_squeeze(v, vlen, found[k],
				    sizeof(found[k]));
		if ((klen == 15 && memcmp(l.p, "CPU implementer", 15) == 0 &&
		    impl == -1) ||
		    (klen == 8 && memcmp(l.p, "CPU part", 8) == 0 &&
		    part == -1)) {
			char num[32], *end;
			long n;

			inventory_squeeze(v, vlen, num, sizeof(num));
			errno = 0;
			n = strtol(num, &end, 0);
			if (errno == 0 && end != num && *end == '\0' && n >= 0 &&
			    n <= 0xfff) {
				if (l.p[4] == 'i')
					impl = n;
				else
					part = n;
			}
		}
	}
	for (size_t k = 0; k < 3; k++)
		if (found[k][0] != '\0') {
			snprintf(out, outlen, "%s", found[k]);
			return 0;
		}
	if (impl != -1 && part != -1) {
		inventory_arm_name((unsigned)impl, (unsigned)part, out, outlen);
		return 0;
	}
	return -ENOENT;
}

/* A JSON string from a parser's result, or null when it had none. */
static json_t *
inventory_text(int r, const char *s)
{
	json_t *v = r == 0 ? json_string(s) : NULL;

	/* json_string refuses bytes that are not UTF-8. */
	return v != NULL ? v : json_null();
}

static json_t *
inventory_os(const char *etc)
{
	char path[PATH_MAX], *buf = NULL, name[INVENTORY_TEXT_MAX];
	size_t len;
	bool trunc;
	int r;

	r = sysfile_read(etc, "os-release", OS_RELEASE_MAX, &buf, &len,
	    &trunc);
	if (r == -ENOENT) {
		/* os-release(5): /etc/os-release may be absent, then the
		 * vendor's copy under /usr/lib is the one. */
		snprintf(path, sizeof(path), "%s/../usr/lib", etc);
		r = sysfile_read(path, "os-release", OS_RELEASE_MAX, &buf,
		    &len, &trunc);
	}
	if (r == 0)
		r = inventory_parse_os_release(buf, len, name, sizeof(name));
	free(buf);
	return inventory_text(r, name);
}

static json_t *
inventory_cpu_model(const char *proc)
{
	char *buf = NULL, model[INVENTORY_TEXT_MAX];
	size_t len;
	bool trunc;
	int r;

	/* Cut-off text is fine: the first CPU's lines come first. */
	r = sysfile_read(proc, "cpuinfo", CPUINFO_MAX, &buf, &len, &trunc);
	if (r == 0)
		r = inventory_parse_cpuinfo(buf, len, model, sizeof(model));
	free(buf);
	return inventory_text(r, model);
}

static json_t *
inventory_memory(const char *proc)
{
	struct memory_info mi;
	char *buf = NULL;
	size_t len;
	bool trunc;
	int r;

	r = sysfile_read(proc, "meminfo", MEMINFO_MAX, &buf, &len, &trunc);
	if (r == 0)
		r = memory_parse_meminfo(buf, len, &mi);
	free(buf);
	if (r < 0 || mi.total > INT64_MAX)
		return json_null();
	return json_integer((json_int_t)mi.total);
}

/* machine-id(5): 32 lower-case hex digits and a newline. */
static json_t *
inventory_machine_id(const char *etc)
{
	char *buf = NULL;
	size_t len;
	bool trunc;
	json_t *v;
	int r;

	r = sysfile_read(etc, "machine-id", 64, &buf, &len, &trunc);
	if (r < 0)
		return json_null();
	while (len > 0 && isspace((unsigned char)buf[len - 1]))
		buf[--len] = '\0';
	if (!trunc && len == 32 && strspn(buf, "0123456789abcdef") == 32)
		v = json_string(buf);
	else
		v = json_null();
	free(buf);
	return v;
}

int
inventory_collect(const char *proc, const char *etc, json_t **out)
{
	char host[HOST_NAME_MAX + 1];
	struct utsname u;
	long ncpu;

	*out = NULL;
	if (uname(&u) == -1 || gethostname(host, sizeof(host)) == -1)
		return -errno;
	host[sizeof(host) - 1] = '\0';
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	*out = json_pack("{s:o, s:o, s:o, s:s, s:s, s:o, s:o, s:o, s:s}",
	    "hostname", inventory_text(0, host),
	    "machine_id", inventory_machine_id(etc),
	    "os", inventory_os(etc),
	    "kernel", u.release,
	    "arch", u.machine,
	    "cpu_model", inventory_cpu_model(proc),
	    "cpus", ncpu > 0 ? json_integer(ncpu) : json_null(),
	    "memory_bytes", inventory_memory(proc),
	    "agent_version", AGENTD_VERSION);
	return *out != NULL ? 0 : -ENOMEM;
}
