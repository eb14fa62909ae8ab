/*
 * inventory: os-release from four distributions and a hand-made one,
 * cpuinfo from x86, arm64, a Raspberry Pi and MIPS, and a whole collection
 * from a fake root (including the /usr/lib/os-release fallback).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "inventory.h"
#include "testutil.h"

#define FIX	"tests/fixtures/inventory"

static void
expect_os(const char *fixture, const char *want)
{
	char path[256], out[INVENTORY_TEXT_MAX];
	size_t len;
	char *buf;

	snprintf(path, sizeof(path), FIX "/%s", fixture);
	buf = testutil_slurp(path, &len);
	if (inventory_parse_os_release(buf, len, out, sizeof(out)) != 0)
		fail_msg("%s: no name parsed", fixture);
	free(buf);
	if (strcmp(out, want) != 0)
		fail_msg("%s: got '%s', want '%s'", fixture, out, want);
}

static void
test_os_release(void **state)
{
	(void)state;
	expect_os("os-release.debian12", "Debian GNU/Linux 12 (bookworm)");
	expect_os("os-release.ubuntu2204", "Ubuntu 22.04.4 LTS");
	expect_os("os-release.rhel9", "Red Hat Enterprise Linux 9.4 (Plow)");
	expect_os("os-release.alpine", "Alpine Linux v3.19");
	expect_os("os-release.noprettyname",
	    "Example OS 1.0 \"Quoted\" $edition");
}

static void
test_os_release_edges(void **state)
{
	char out[32];
	const char *t;

	(void)state;
	/* os-release(5): no names at all means "Linux". */
	t = "ID=foo\n";
	assert_int_equal(inventory_parse_os_release(t, strlen(t), out,
	    sizeof(out)), 0);
	assert_string_equal(out, "Linux");
	/* An empty PRETTY_NAME does not count; a key that only starts the
	 * same does not either. */
	t = "PRETTY_NAME=\"\"\nPRETTY_NAMEX=bad\nNAME=Foo\n";
	assert_int_equal(inventory_parse_os_release(t, strlen(t), out,
	    sizeof(out)), 0);
	assert_string_equal(out, "Foo");
	/* Control bytes are dropped, long names cut, an unterminated quote
	 * and the missing last newline are survived. */
	t = "PRETTY_NAME=\"A\x1b[31mB\tC";
	assert_int_equal(inventory_parse_os_release(t, strlen(t), out,
	    sizeof(out)), 0);
	assert_string_equal(out, "A[31mBC");
	t = "PRETTY_NAME=0123456789012345678901234567890123456789\n";
	assert_int_equal(inventory_parse_os_release(t, strlen(t), out,
	    sizeof(out)), 0);
	assert_int_equal(strlen(out), sizeof(out) - 1);
	/* Only len bytes are read. */
	t = "PRETTY_NAME=Short and more";
	assert_int_equal(inventory_parse_os_release(t, 17, out, sizeof(out)),
	    0);
	assert_string_equal(out, "Short");
}

static void
expect_cpu(const char *fixture, const char *want)
{
	char path[256], out[INVENTORY_TEXT_MAX];
	size_t len;
	char *buf;
	int r;

	snprintf(path, sizeof(path), FIX "/%s", fixture);
	buf = testutil_slurp(path, &len);
	r = inventory_parse_cpuinfo(buf, len, out, sizeof(out));
	free(buf);
	if (r != 0)
		fail_msg("%s: returned %d", fixture, r);
	if (strcmp(out, want) != 0)
		fail_msg("%s: got '%s', want '%s'", fixture, out, want);
}

static void
test_cpuinfo(void **state)
{
	(void)state;
	expect_cpu("cpuinfo.x86", "AMD EPYC 7B13");
	expect_cpu("cpuinfo.x86-intel",
	    "Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz");
	expect_cpu("cpuinfo.arm64", "ARM Neoverse-N1");
	expect_cpu("cpuinfo.rpi", "ARMv7 Processor rev 3 (v7l)");
	expect_cpu("cpuinfo.mips", "MIPS 1004Kc V2.15");
}

static void
test_cpuinfo_edges(void **state)
{
	char out[64];
	const char *t;

	(void)state;
	t = "processor : 0\nflags : fpu\n";
	assert_int_equal(inventory_parse_cpuinfo(t, strlen(t), out,
	    sizeof(out)), -ENOENT);
	assert_string_equal(out, "");
	/* Board name when there is no model name. */
	t = "Processor : x\nHardware\t: Allwinner  sun8i\n";
	assert_int_equal(inventory_parse_cpuinfo(t, strlen(t), out,
	    sizeof(out)), 0);
	assert_string_equal(out, "Allwinner sun8i");
	/* An unknown part of a known implementer, an unknown implementer. */
	t = "CPU implementer : 0x41\nCPU part : 0xfff\n";
	assert_int_equal(inventory_parse_cpuinfo(t, strlen(t), out,
	    sizeof(out)), 0);
	assert_string_equal(out, "ARM part 0xfff");
	t = "CPU implementer : 0x99\nCPU part : 0x001\n";
	assert_int_equal(inventory_parse_cpuinfo(t, strlen(t), out,
	    sizeof(out)), 0);
	assert_string_equal(out, "implementer 0x99 part 0x001");
	/* Garbage numbers name nothing. */
	t = "CPU implementer : banana\nCPU part : 0xd0c\n";
	assert_int_equal(inventory_parse_cpuinfo(t, strlen(t), out,
	    sizeof(out)), -ENOENT);
}

static const char *
get_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		fail_msg("%s: not a string", key);
	return json_string_value(v);
}

static void
test_collect_fake_root(void **state)
{
	char root[] = "/tmp/test_inventory.XXXXXX", proc[256], etc[256];
	char usrlib[512];
	struct utsname u;
	json_t *inv = NULL;

	(void)state;
	assert_non_null(mkdtemp(root));
	snprintf(proc, sizeof(proc), "%s/proc", root);
	snprintf(etc, sizeof(etc), "%s/etc", root);
	snprintf(usrlib, sizeof(usrlib), "%s/usr/lib", root);
	mkdir(proc, 0755);
	mkdir(etc, 0755);
	snprintf(usrlib, sizeof(usrlib), "%s/usr", root);
	mkdir(usrlib, 0755);
	snprintf(usrlib, sizeof(usrlib), "%s/usr/lib", root);
	mkdir(usrlib, 0755);
	testutil_put_fixture(proc, "cpuinfo", FIX "/cpuinfo.arm64");
	testutil_put_fixture(proc, "meminfo", FIX "/meminfo");
	testutil_put_fixture(etc, "machine-id", FIX "/machine-id");
	/* Only the vendor copy: the fallback must find it. */
	testutil_put_fixture(usrlib, "os-release", FIX "/os-release.alpine");

	assert_int_equal(inventory_collect(proc, etc, &inv), 0);
	assert_non_null(inv);
	assert_int_equal(uname(&u), 0);
	assert_string_equal(get_str(inv, "os"), "Alpine Linux v3.19");
	assert_string_equal(get_str(inv, "machine_id"),
	    "0f8c5a1e9b7d4c3a8e2f6b1d0c9a7e5f");
	assert_string_equal(get_str(inv, "cpu_model"), "ARM Neoverse-N1");
	assert_string_equal(get_str(inv, "kernel"), u.release);
	assert_string_equal(get_str(inv, "arch"), u.machine);
	assert_string_equal(get_str(inv, "agent_version"), AGENTD_VERSION);
	assert_true(strlen(get_str(inv, "hostname")) > 0);
	assert_int_equal(json_integer_value(json_object_get(inv,
	    "memory_bytes")), 8026896LL * 1024);
	assert_true(json_integer_value(json_object_get(inv, "cpus")) >= 1);
	json_decref(inv);

	/* /etc/os-release wins over the vendor copy; what is missing or
	 * malformed is null, never made up. */
	testutil_put_fixture(etc, "os-release", FIX "/os-release.debian12");
	testutil_put_fixture(etc, "machine-id", FIX "/os-release.alpine");
	snprintf(usrlib, sizeof(usrlib), "%s/cpuinfo", proc);
	unlink(usrlib);
	snprintf(usrlib, sizeof(usrlib), "%s/meminfo", proc);
	unlink(usrlib);
	assert_int_equal(inventory_collect(proc, etc, &inv), 0);
	assert_string_equal(get_str(inv, "os"),
	    "Debian GNU/Linux 12 (bookworm)");
	assert_true(json_is_null(json_object_get(inv, "machine_id")));
	assert_true(json_is_null(json_object_get(inv, "cpu_model")));
	assert_true(json_is_null(json_object_get(inv, "memory_bytes")));
	json_decref(inv);
	testutil_rm_tree(root);
}

/* This machine: everything a Linux host has is there. */
static void
test_collect_this_host(void **state)
{
	json_t *inv = NULL;

	(void)state;
	assert_int_equal(inventory_collect("/proc", "/etc", &inv), 0);
	assert_true(json_is_string(json_object_get(inv, "os")));
	assert_true(json_integer_value(json_object_get(inv,
	    "memory_bytes")) > 0);
	json_decref(inv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_os_release),
		cmocka_unit_test(test_os_release_edges),
		cmocka_unit_test(test_cpuinfo),
		cmocka_unit_test(test_cpuinfo_edges),
		cmocka_unit_test(test_collect_fake_root),
		cmocka_unit_test(test_collect_this_host),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
