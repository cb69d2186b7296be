#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# stackd-symbolize against addr2line (binutils), eu-addr2line (elfutils) and
# llvm-symbolizer on the same random addresses inside libc's debug file
# (libc6-dbg) and Debian's python3.11d (python3.11-dbg): start-up time,
# throughput, peak RSS, and agreement with llvm-symbolizer. Prints figures;
# asserts nothing. See bench/README.md.
#
#   bench/symbolize_bench.sh                         # RUNS=3, SIZES="1 10000 100000"
#   RUNS=1 SIZES="1 10000" bench/symbolize_bench.sh  # quick look
#
# Environment:
#   RUNS=3                   runs per (target, tool, size); medians are printed
#   START_RUNS=9             runs with one address (start-up is noisy and cheap)
#   SIZES="1 10000 100000"   numbers of addresses (1 = start-up time)
#   TARGETS="libc python"    which files
#   TOOLS="stackd-symbolize addr2line eu-addr2line llvm-symbolizer"
#   SEED=1                   random addresses are reproducible
#   TIMEOUT=120              seconds per run; a run over it is reported, not waited for
#   STACKD_SYMBOLIZE=PATH    binary to test; default: build it in BUILD_DIR
#   BUILD_DIR=build-bench    CMake build directory (relative to the source root)
#   WORKDIR=DIR              where addresses and outputs go (default: a new /tmp dir)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-3}
START_RUNS=${START_RUNS:-9}
SIZES=${SIZES:-1 10000 100000}
TARGETS=${TARGETS:-libc python}
TOOLS=${TOOLS:-stackd-symbolize addr2line eu-addr2line llvm-symbolizer}
SEED=${SEED:-1}
TIMEOUT=${TIMEOUT:-120}
BUILD_DIR=${BUILD_DIR:-build-bench}

# die
. "$ROOT/bench/lib.sh"

need() { # command, Debian package
	command -v "$1" >/dev/null 2>&1 || die "$1 not found: apt-get install $2"
}
need python3 python3
need nm binutils
need readelf binutils
[ -x /usr/bin/time ] || die "/usr/bin/time not found: apt-get install time"

LLVM_SYMBOLIZER=$(command -v llvm-symbolizer || command -v llvm-symbolizer-14 || true)
tool_args=()
for t in $TOOLS; do
	case $t in
	stackd-symbolize)
		if [ -z "${STACKD_SYMBOLIZE:-}" ]; then
			echo "# building stackd-symbolize in $BUILD_DIR" >&2
			cmake -S "$ROOT" -B "$ROOT/$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
				-DSTACKD_TESTS=OFF >/dev/null
			cmake --build "$ROOT/$BUILD_DIR" -j"$(nproc)" --target stackd-symbolize >/dev/null
			STACKD_SYMBOLIZE=$ROOT/$BUILD_DIR/stackd-symbolize
		fi
		[ -x "$STACKD_SYMBOLIZE" ] || die "$STACKD_SYMBOLIZE is not executable"
		tool_args+=(--tool "stackd-symbolize=$STACKD_SYMBOLIZE")
		;;
	addr2line)
		need addr2line binutils
		tool_args+=(--tool "addr2line=$(command -v addr2line)")
		;;
	eu-addr2line)
		need eu-addr2line elfutils
		tool_args+=(--tool "eu-addr2line=$(command -v eu-addr2line)")
		;;
	llvm-symbolizer)
		[ -n "$LLVM_SYMBOLIZER" ] || die "llvm-symbolizer not found: apt-get install llvm"
		tool_args+=(--tool "llvm-symbolizer=$LLVM_SYMBOLIZER")
		;;
	*) die "unknown tool $t" ;;
	esac
done
case " $TOOLS " in
*" llvm-symbolizer "*) ;;
*) die "llvm-symbolizer is the reference for agreement; keep it in TOOLS" ;;
esac

target_args=()
for t in $TARGETS; do
	case $t in
	libc)
		# The libc this very shell runs on, and its debug file by build id.
		libc=$(awk '$6 ~ /\/libc\.so\.6$/ { print $6; exit }' /proc/self/maps)
		[ -n "$libc" ] || die "cannot find libc.so.6 in /proc/self/maps"
		bid=$(readelf -n "$libc" | awk '/Build ID:/ { print $3; exit }')
		[ -n "$bid" ] || die "$libc has no build id"
		dbg=/usr/lib/debug/.build-id/${bid:0:2}/${bid:2}.debug
		[ -f "$dbg" ] || die "$dbg not found: apt-get install libc6-dbg"
		target_args+=(--target "libc=$dbg")
		;;
	python)
		py=/usr/bin/python3.11d
		[ -f "$py" ] || die "$py not found: apt-get install python3.11-dbg"
		target_args+=(--target "python=$py")
		;;
	*) die "unknown target $t" ;;
	esac
done

extra=()
[ -n "${WORKDIR:-}" ] && extra+=(--workdir "$WORKDIR")
echo "# $(date -u +%F), kernel $(uname -r), $(nproc) CPUs, load average $(cut -d" " -f1-3 /proc/loadavg)"
for t in $TOOLS; do
	case $t in
	stackd-symbolize) v=$("$STACKD_SYMBOLIZE" --version) ;;
	addr2line) v=$(addr2line --version | head -n 1) ;;
	eu-addr2line) v=$(eu-addr2line --version | head -n 1) ;;
	llvm-symbolizer) v="llvm-symbolizer $("$LLVM_SYMBOLIZER" --version | awk '/version/ { print $NF; exit }')" ;;
	esac
	echo "#   $v"
done
exec python3 "$ROOT/bench/symbolize_bench.py" "${tool_args[@]}" "${target_args[@]}" \
	--sizes "$SIZES" --runs "$RUNS" --start-runs "$START_RUNS" --seed "$SEED" --timeout "$TIMEOUT" "${extra[@]}"
