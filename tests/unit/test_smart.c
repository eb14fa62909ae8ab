/*
 * smart.c: smartctl's JSON as agentd-check-smart reads it. Fixtures in
 * tests/fixtures/smart/ have the shape of smartmontools 7.x's -j output
 * (passed, failing, NVMe, a device that could not be opened); hostile
 * inputs: deep nesting, huge, wrong types, option-like device names.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smart.h"
#include "testutil.h"

#define FIX	"tests/fixtures/smart/"

static int
judge_file(const char *name, const char *file, struct smart_health *h)
{
	size_t len;
	char *text = testutil_slurp(file, &len);
	int s = smart_judge(name, text, len, h);

	free(text);
	return s;
}

static void
test_scan(void **unused)
{
	struct smart_device d[SMART_DEVICES_MAX];
	char err[SMART_WHY_MAX], *text;
	size_t len, n, skipped;
	const char *hostile = "{\"devices\": [{\"name\": \"-o/dev/sda\"}, "
	    "{\"name\": \"/dev/sd a\"}, {\"name\": \"/dev/../etc/shadow\", "
	    "\"type\": \"sat\"}, {\"name\": \"/dev/sdx\", \"type\": \"sat; "
	    "rm\"}, {\"name\": 5}, {\"name\": \"/dev/sdy\", \"type\": 7}, "
	    "{\"name\": \"/dev/sdz\"}, 3, null]}";

	(void)unused;
	text = testutil_slurp(FIX "scan.json", &len);
	assert_int_equal(smart_parse_scan(text, len, d, SMART_DEVICES_MAX, &n,
	    &skipped, err, sizeof(err)), 0);
	free(text);
	assert_int_equal(n, 3);
	assert_int_equal(skipped, 0);
	assert_string_equal(d[0].name, "/dev/sda");
	assert_string_equal(d[0].type, "sat");
	assert_string_equal(d[2].name, "/dev/nvme0");
	assert_string_equal(d[2].type, "nvme");

	/* Names that could be options or leave /dev, odd types: skipped. */
	assert_int_equal(smart_parse_scan(hostile, strlen(hostile), d,
	    SMART_DEVICES_MAX, &n, &skipped, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(d[0].name, "/dev/sdz");
	assert_string_equal(d[0].type, "");
	assert_int_equal(skipped, 8);
	/* Bounded: max devices. */
	text = testutil_slurp(FIX "scan.json", &len);
	assert_int_equal(smart_parse_scan(text, len, d, 2, &n, &skipped, err,
	    sizeof(err)), 0);
	free(text);
	assert_int_equal(n, 2);
	assert_int_equal(skipped, 1);

	assert_int_equal(smart_parse_scan("{}", 2, d, 4, &n, &skipped, err,
	    sizeof(err)), -EINVAL);
	assert_string_equal(err, "smartctl --scan: no \"devices\" array");
	assert_int_equal(smart_parse_scan("[1]", 3, d, 4, &n, &skipped, err,
	    sizeof(err)), -EINVAL);
	assert_string_equal(err, "smartctl output is not a JSON object");
	assert_int_equal(smart_parse_scan("{\"devices\": [], \"devices\": []}",
	    30, d, 4, &n, &skipped, err, sizeof(err)), -EINVAL);
	assert_contains(err, "smartctl output is not JSON: ");
}

static void
test_judge_fixtures(void **unused)
{
	struct smart_health h;

	(void)unused;
	assert_int_equal(judge_file("sda", FIX "sda-passed.json", &h), 0);
	assert_string_equal(h.why, "");
	assert_true(h.has_temp && h.temp == 34);
	assert_true(h.has_realloc && h.realloc == 0);
	assert_true(h.has_pending && h.pending == 0);
	assert_true(h.has_uncorrect && h.uncorrect == 0);
	assert_false(h.has_media_errors);

	assert_int_equal(judge_file("sdb", FIX "sdb-failed.json", &h), 2);
	assert_string_equal(h.why, "SMART health FAILED, 16 pending sectors, "
	    "16 offline uncorrectable sectors");
	assert_true(h.realloc == 3972);

	assert_int_equal(judge_file("nvme0", FIX "nvme0-passed.json", &h), 0);
	assert_true(h.has_used && h.used == 3);
	assert_true(h.has_media_errors && h.media_errors == 0);
	assert_true(h.temp == 38);
	assert_false(h.has_realloc);

	assert_int_equal(judge_file("sdc", FIX "sdc-open-failed.json", &h), 3);
	assert_string_equal(h.why, "cannot open: Smartctl open device: "
	    "/dev/sdc failed: Permission denied");
}

static void
test_judge_nvme_and_bits(void **unused)
{
	struct smart_health h;
	const char *worn = "{\"smart_status\": {\"passed\": true}, "
	    "\"nvme_smart_health_information_log\": {\"critical_warning\": 0, "
	    "\"available_spare\": 5, \"available_spare_threshold\": 10, "
	    "\"percentage_used\": 104, \"media_errors\": 7}}";
	const char *warn = "{\"smart_status\": {\"passed\": true}, "
	    "\"nvme_smart_health_information_log\": {\"critical_warning\": 4}}";
	const char *prefail = "{\"smartctl\": {\"exit_status\": 16}, "
	    "\"smart_status\": {\"passed\": true}}";
	const char *nosmart = "{\"smartctl\": {\"exit_status\": 4}}";

	(void)unused;
	assert_int_equal(smart_judge("nvme1", worn, strlen(worn), &h), 2);
	assert_string_equal(h.why, "spare 5% below 10%, worn out (104% used)");
	assert_true(h.media_errors == 7);
	assert_int_equal(smart_judge("nvme2", warn, strlen(warn), &h), 2);
	assert_string_equal(h.why, "NVMe critical warning 0x4");
	assert_int_equal(smart_judge("sdd", prefail, strlen(prefail), &h), 1);
	assert_string_equal(h.why, "a prefail attribute is at its threshold");
	assert_int_equal(smart_judge("sde", nosmart, strlen(nosmart), &h), 3);
	assert_string_equal(h.why, "no SMART status (no SMART support, or it "
	    "is off)");
}

/* Hostile outputs: never more than UNKNOWN with a reason, bounded. */
static void
test_judge_hostile(void **unused)
{
	struct smart_health h;
	size_t big = SMART_JSON_MAX + 1, deep = 10000;
	char *buf = malloc(big > 2 * deep ? big : 2 * deep);
	const char *types = "{\"smart_status\": {\"passed\": \"yes\"}, "
	    "\"temperature\": {\"current\": -5}, \"ata_smart_attributes\": "
	    "{\"table\": {\"id\": 5}}}";
	const char *neg = "{\"smart_status\": {\"passed\": true}, "
	    "\"temperature\": {\"current\": -5}, \"ata_smart_attributes\": "
	    "{\"table\": [{\"id\": 197, \"raw\": {\"value\": "
	    "99999999999999999999}}, 5, null]}}";
	const char *neg2 = "{\"smart_status\": {\"passed\": true}, "
	    "\"temperature\": {\"current\": -5}}";
	const char *strs = "{\"a\": \"[[[[[[[[[[[[[[[[[[[[\\\"[[[\", "
	    "\"smart_status\": {\"passed\": true}}";

	(void)unused;
	/* Nesting far past what smartctl does, and past jansson's own. */
	for (size_t i = 0; i < deep; i++) {
		buf[i] = '[';
		buf[deep + i] = ']';
	}
	assert_int_equal(smart_judge("x", buf, 2 * deep, &h), 3);
	assert_string_equal(h.why, "smartctl output nested deeper than 16");
	/* Huge. */
	memset(buf, ' ', big);
	buf[0] = '{';
	buf[big - 1] = '}';
	assert_int_equal(smart_judge("x", buf, big, &h), 3);
	assert_string_equal(h.why, "smartctl output longer than 1048576 "
	    "bytes");
	free(buf);
	/* Wrong types: no status. */
	assert_int_equal(smart_judge("x", types, strlen(types), &h), 3);
	/* A number too big for an integer is not JSON to jansson; a
	 * negative temperature is ignored. */
	assert_int_equal(smart_judge("x", neg, strlen(neg), &h), 3);
	assert_contains(h.why, "smartctl output is not JSON: ");
	assert_int_equal(smart_judge("x", neg2, strlen(neg2), &h), 0);
	assert_false(h.has_temp);
	/* Not text: escaped. */
	assert_int_equal(smart_judge("x\x1b[2J", "\x01\x02", 2, &h), 3);
	assert_string_equal(h.name, "x?[2J");
	assert_contains(h.why, "smartctl output is not JSON: ");
	/* Strings inside count no depth. */
	assert_int_equal(smart_judge("x", strs, strlen(strs), &h), 0);
}

static void
test_format(void **unused)
{
	struct smart_health h[3];
	char out[2048], tiny[40];

	(void)unused;
	judge_file("sda", FIX "sda-passed.json", &h[0]);
	judge_file("nvme0", FIX "nvme0-passed.json", &h[1]);
	assert_int_equal(smart_format(h, 2, out, sizeof(out)), 0);
	assert_string_equal(out, "SMART OK - 2 devices healthy | "
	    "sda_temperature=34 sda_reallocated=0;;;0 sda_pending=0;0;;0 "
	    "sda_uncorrectable=0;0;;0 nvme0_temperature=38 "
	    "nvme0_media_errors=0;;;0 nvme0_used=3%;99;;0;100\n"
	    "sda: OK\nnvme0: OK\n");

	judge_file("sdb", FIX "sdb-failed.json", &h[1]);
	judge_file("sdc", FIX "sdc-open-failed.json", &h[2]);
	assert_int_equal(smart_format(h, 3, out, sizeof(out)), 2);
	assert_contains(out, "SMART CRITICAL - sdb CRITICAL: SMART health "
	    "FAILED, 16 pending sectors, 16 offline uncorrectable sectors, "
	    "sdc UNKNOWN: cannot open: Smartctl open device: /dev/sdc "
	    "failed: Permission denied (2 of 3 devices) | ");
	assert_contains(out, "\nsda: OK\nsdb: CRITICAL: SMART health FAILED");

	/* Only UNKNOWN and OK: UNKNOWN; no perfdata: no "|". */
	assert_int_equal(smart_format(&h[2], 1, out, sizeof(out)), 3);
	assert_string_equal(out, "SMART UNKNOWN - sdc UNKNOWN: cannot open: "
	    "Smartctl open device: /dev/sdc failed: Permission denied (1 of "
	    "1 device)\nsdc: UNKNOWN: cannot open: Smartctl open device: "
	    "/dev/sdc failed: Permission denied\n");
	assert_int_equal(smart_format(h, 0, out, sizeof(out)), 3);
	assert_string_equal(out, "SMART UNKNOWN - no device to check\n");
	/* A small buffer is cut, never overrun. */
	assert_int_equal(smart_format(h, 3, tiny, sizeof(tiny)), 2);
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_judge_fixtures),
		cmocka_unit_test(test_judge_nvme_and_bits),
		cmocka_unit_test(test_judge_hostile),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
