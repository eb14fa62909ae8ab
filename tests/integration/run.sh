#!/bin/sh
# Runs every tests/integration/test_*.sh from the repo root; prints one line
# per test and a closing "N passed, N failed".
set -u
passed=0 failed=0
for t in tests/integration/test_*.sh; do
	name=$(basename "$t" .sh)
	start=$(date +%s)
	if out=$(bash "$t" 2>&1); then
		passed=$((passed + 1))
		echo "integration: ok   $name ($(( $(date +%s) - start )) s)"
	else
		failed=$((failed + 1))
		echo "integration: FAIL $name"
		printf '%s\n' "$out" | sed 's/^/    /'
	fi
done
echo "integration: $passed passed, $failed failed"
[ $failed -eq 0 ]
