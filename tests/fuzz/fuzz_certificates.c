/*
 * libFuzzer target for certificates_parse_line: arbitrary bytes as one
 * line of agentd-certcheck's output (the helper reads what a network peer
 * sent, so its output is untrusted), then the evaluation of what was
 * parsed. Text fields must come out NUL-terminated and printable.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certificates.h"
#include "collector.h"
#include "result.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const struct collector collector_certificates;

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_certificates: invariant failed: "	\
		    "%s\n", #cond);					\
		abort();						\
	}								\
} while (0)

static void
check_text(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	CHECK(n < size);
	for (size_t i = 0; i < n; i++)
		CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void *inst;
	struct certificates_item it;
	struct result res = { 0 };

	if (inst == NULL)
		inst = collector_certificates.new();
	if (certificates_parse_line((const char *)data, size, &it) != 0)
		return 0;
	check_text(it.item, sizeof(it.item));
	check_text(it.error, sizeof(it.error));
	check_text(it.subject, sizeof(it.subject));
	check_text(it.cn, sizeof(it.cn));
	check_text(it.issuer, sizeof(it.issuer));
	check_text(it.verify_error, sizeof(it.verify_error));
	CHECK(it.error[0] != '\0' || (it.leaf >= 1 && it.leaf <= it.chain));
	certificates_summarise(inst, &it, 1, 1800000000, &res);
	CHECK(strnlen(res.summary, sizeof(res.summary)) < sizeof(res.summary));
	CHECK(res.state <= STATE_UNKNOWN);
	result_reset(&res);
	return 0;
}
