#!/usr/bin/env bash
# The spool under kill -9: a driver appends and syncs in a loop, printing
# each seq it was told is durable; killed at random moments, then reopened:
# every printed seq is there once, in order, and numbering never reuses one.
# Then a full disk (a 256 KiB tmpfs in a private mount namespace, when
# unshare works): sync fails cleanly and the queued reports land later.
set -u
TOP=$(pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$TOP/$BUILD ;; esac
T=$(mktemp -d /tmp/spool-crash.XXXXXX)
PID=""
cleanup() {
	[ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

make -s BUILD="$BUILD" "$BUILD/libagentd.a" "$BUILD/libcommon.a" \
	>/dev/null || fail "cannot build $BUILD/libagentd.a"
# Same flags as the Makefile; a sanitizer build needs them at link too.
san=""
nm "$BUILD/libagentd.a" 2>/dev/null | grep -q __asan_ &&
	san="-fsanitize=address,undefined"
${CC:-cc} -std=c17 -D_GNU_SOURCE -iquote agentd -iquote collectors \
	-iquote lib -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 $san \
	$(pkg-config --cflags jansson) -O2 -g \
	-o "$T/spooltool" tests/integration/spool/spooltool.c \
	"$BUILD/libagentd.a" "$BUILD/libcommon.a" \
	$(pkg-config --libs libsystemd jansson inih) -lm ||
	fail "cannot build spooltool"

# crash_rounds DIR MAX_BYTES ACK_EVERY strict|bounded ROUNDS
crash_rounds() {
	dir=$1 max=$2 ackevery=$3 mode=$4 rounds=$5
	: > "$T/log.$mode"
	for r in $(seq 1 "$rounds"); do
		"$T/spooltool" write "$dir" "$max" "$ackevery" \
		    >> "$T/log.$mode" 2>"$T/err" &
		PID=$!
		# 50-650 ms: mid-append, mid-sync, mid-rotation, mid-ack.
		sleep "0.$(( 5 + RANDOM % 60 ))" 2>/dev/null || sleep 1
		kill -0 "$PID" 2>/dev/null ||
			fail "round $r: writer died early: $(cat "$T/err")"
		kill -KILL "$PID"
		wait "$PID" 2>/dev/null
		PID=""
		out=$("$T/spooltool" check "$dir" "$mode" < "$T/log.$mode" \
		    2>&1) || fail "round $r ($mode): $out"
	done
	echo "$mode: $rounds kills: ${out##*ok: }"
}

crash_rounds "$T/strict" 0 200 strict 8
crash_rounds "$T/bounded" $((2 * 1024 * 1024)) 0 bounded 5
n=$(grep -c '^S' "$T/log.strict")
[ "$n" -gt 100 ] || fail "only $n reports written: the kills came too early"

if unshare -m true 2>/dev/null; then
	mkdir "$T/full"
	out=$(unshare -m sh -c '
		mount -t tmpfs -o size=256k none "$1" || exit 3
		# 64 KiB the disk gets back once full.
		head -c 65536 /dev/zero > "$1/filler"
		"$2" diskfull "$1/spool" "$1/filler"' sh "$T/full" \
		"$T/spooltool" 2>&1)
	rc=$?
	if [ $rc -eq 3 ]; then
		echo "full disk: skipped (tmpfs mount refused)"
	else
		[ $rc -eq 0 ] || fail "full disk: $out"
		echo "full disk: ${out##*ok: }"
	fi
else
	echo "full disk: skipped (unshare -m refused)"
fi
exit 0
