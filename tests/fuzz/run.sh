#!/bin/sh
# Builds each libFuzzer target given as an argument (tests/fuzz/fuzz_NAME.c)
# with clang, ASan and UBSan against the library sources, and runs it for
# FUZZ_SECONDS on a scratch copy of tests/fuzz/corpus/NAME/, so new corpus
# entries never land in the repo. One line per target; exits 1 if a target
# does not build or finds a crash, leak, timeout or OOM (the input is kept
# under $BUILD/fuzz/artifacts/).
#
# Environment: BUILD (build), FUZZ_SECONDS (20), FUZZ_CC (clang),
# FUZZ_LIB_SRCS (default: lib/*.c agentd/*.c collectors/*.c portal/*.c
# backup/*.c support/*.c but the programs' main files and the tunnel).
set -u

BUILD=${BUILD:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
FUZZ_CC=${FUZZ_CC:-clang}
PKGS="libsystemd jansson inih libcurl zlib libmicrohttpd sqlite3 gnutls
libarchive libsodium nettle libzstd"

if [ $# -eq 0 ]; then
	echo "fuzz: no targets given (usage: run.sh tests/fuzz/fuzz_NAME.c ...)"
	exit 1
fi
if ! command -v "$FUZZ_CC" >/dev/null 2>&1; then
	echo "fuzz: $FUZZ_CC not found; libFuzzer needs clang"
	exit 1
fi
if ! pkg_cflags=$(pkg-config --cflags $PKGS) ||
    ! pkg_libs=$(pkg-config --libs $PKGS); then
	echo "fuzz: pkg-config cannot find $PKGS"
	exit 1
fi

out=$BUILD/fuzz
objdir=$out/obj
lib=$out/libagentd-fuzz.a
mkdir -p "$objdir" "$out/artifacts"

# As the Makefile builds them (the version has no blanks, so the unquoted
# expansion below keeps -DAGENTD_VERSION="x.y.z" one word).
version=$(cat VERSION 2>/dev/null || echo unknown)
CFLAGS="-std=c17 -D_GNU_SOURCE -DAGENTD_VERSION=\"$version\" -DAGENTD_LIBEXECDIR=\"/usr/lib/agentd\"
    -iquote agentd -iquote collectors -iquote portal -iquote backup
    -iquote support -iquote lib
    $pkg_cflags -g -O1
    -fno-omit-frame-pointer -fno-sanitize-recover=undefined"

# The library once, instrumented for coverage; an archive, so a target only
# links the objects it uses.
if [ -z "${FUZZ_LIB_SRCS:-}" ]; then
	FUZZ_LIB_SRCS=
	for f in lib/*.c agentd/*.c collectors/*.c portal/*.c backup/*.c \
	    support/*.c; do
		case $f in
		agentd/agentd.c|agentd/agentctl.c|agentd/reporter.c|agentd/certcheck.c) ;;
		support/tunnel.c|support/agentd-support.c) ;;	# libssh2: nothing to fuzz offline
		portal/portal.c|portal/\*.c|backup/\*.c) ;;
		*) FUZZ_LIB_SRCS="$FUZZ_LIB_SRCS $f" ;;
		esac
	done
fi
rm -f "$lib" "$objdir"/*.o
objs=
for f in $FUZZ_LIB_SRCS; do
	o=$objdir/$(echo "$f" | tr / _ | sed 's/\.c$/.o/')
	if ! $FUZZ_CC $CFLAGS -fsanitize=fuzzer-no-link,address,undefined \
	    -c -o "$o" "$f"; then
		echo "fuzz: cannot compile $f"
		exit 1
	fi
	objs="$objs $o"
done
ar rcs "$lib" $objs || exit 1

scratch=
trap 'if [ -n "$scratch" ]; then rm -rf "$scratch"; fi' EXIT
trap 'exit 130' INT TERM

failed=0
for src in "$@"; do
	name=$(basename "$src" .c)
	corpus=tests/fuzz/corpus/${name#fuzz_}
	bin=$out/$name
	log=$out/$name.log
	artifacts=$out/artifacts/$name
	mkdir -p "$corpus" "$artifacts"

	if ! $FUZZ_CC $CFLAGS -fsanitize=fuzzer,address,undefined \
	    -o "$bin" "$src" "$lib" $pkg_libs -lm >"$log" 2>&1; then
		echo "fuzz: $name: build FAILED:"
		cat "$log"
		failed=1
		continue
	fi

	scratch=$(mktemp -d "${TMPDIR:-/tmp}/agentd-$name.XXXXXX") || exit 1
	cp -R "$corpus/." "$scratch/"
	"$bin" -max_total_time="$FUZZ_SECONDS" -timeout=2 \
	    -print_final_stats=1 -artifact_prefix="$artifacts/" \
	    "$scratch" >"$log" 2>&1
	rc=$?
	rm -rf "$scratch"
	scratch=

	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
	    tail -n 1)
	if [ $rc -eq 0 ]; then
		secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' \
		    "$log" | tail -n 1)
		echo "fuzz: $name: ${runs:-?} runs in ${secs:-?} s, no crash"
		continue
	fi
	input=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n 1)
	echo "fuzz: $name: CRASH (exit $rc) after ${runs:-?} runs;" \
	    "input: ${input:-none written}; log: $log"
	echo "fuzz: reproduce with: $bin ${input:-}"
	grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|fuzz_)' "$log" |
	    head -n 5
	failed=1
done
exit $failed
