#!/bin/sh
# Runs each cmocka unit test binary; under valgrind (leaks are errors) unless
# the build has sanitizers. Prints one summary line, exits 1 on any failure.
set -u
passed=0 failed=0
for t in "$@"; do
	if [ "${SANITIZE:-}" != 1 ] && command -v valgrind >/dev/null; then
		valgrind -q --error-exitcode=99 --leak-check=full \
		    --errors-for-leak-kinds=definite,indirect \
		    --show-leak-kinds=definite,indirect "$t"
	else
		"$t"
	fi
	rc=$?
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1))
	else
		echo "unit: FAIL: $t exited $rc (99 = valgrind error)"
		failed=$((failed + 1))
	fi
done
echo "unit: $passed passed, $failed failed"
[ $failed -eq 0 ]
