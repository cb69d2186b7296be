#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# What the in-kernel unwinder's tables cost (issue 12): bytes and build time of the compiled
# table (.eh_frame, and a separate debug file's .debug_frame for objects without CFI of their
# own) of a few named objects, and the total for every distinct executable object mapped by
# this machine's running processes. The tables are built by tools/stackd-unwind-tables.c with
# the agent's own code (symbolize's unwtab + cfitab_from_unwtab).
#
#   sudo bench/unwind_tables.sh                       # ~10 s
#   OBJECTS="/usr/bin/python3.11 /usr/lib/x86_64-linux-gnu/libLLVM-15.so.1" bench/unwind_tables.sh
#   STACKD_UNWIND_TABLES=build/stackd-unwind-tables NODE=0 bench/unwind_tables.sh
#
# Parameters (environment):
#   OBJECTS         the named objects; default: this machine's libc, python3, libstdc++ and
#                   the largest libLLVM / libclang-cpp found (a large C++ binary)
#   NODE=1          also the node total (root: /proc/PID/map_files of every process)
#   RUNS=3          build-time runs of the named objects (the median is printed; the first
#                   run may read the files from disk, the others from the page cache)
#   STACKD_UNWIND_TABLES  default: build/stackd-unwind-tables (built when missing)
#   KEEP_TMP=1      keep the per-object listing of the node
#
# Columns: cfi KiB (.eh_frame + converted .debug_frame read), fdes, rows, bpf KiB (rows as a BPF
# map holds them, 8 bytes a row), unwtab KiB (the section copies the agent's object cache keeps
# beside the table), build ms (thread CPU time: read + compile; median of RUNS).
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NODE=${NODE:-1}
RUNS=${RUNS:-3}
TOOL=${STACKD_UNWIND_TABLES:-$SRC/build/stackd-unwind-tables}

. "$SRC/bench/lib.sh"

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
if [[ ! -x $TOOL ]]; then
	log "building $TOOL"
	cmake -S "$SRC" -B "$SRC/build" >/dev/null && cmake --build "$SRC/build" -j2 --target stackd-unwind-tables >/dev/null ||
		die "could not build stackd-unwind-tables"
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/unwind_tables.XXXXXX")
PIDS=()
bench_traps

if [[ -z ${OBJECTS:-} ]]; then
	big=$(ls -S /usr/lib/x86_64-linux-gnu/libLLVM-*.so.1 /usr/lib/llvm-*/lib/libclang-cpp.so.* 2>/dev/null | head -n 1 || true)
	OBJECTS="$(readlink -f /lib/x86_64-linux-gnu/libc.so.6) $(readlink -f /usr/bin/python3)"
	OBJECTS+=" $(readlink -f /usr/lib/x86_64-linux-gnu/libstdc++.so.6) ${big:+$(readlink -f "$big")}"
fi

echo "unwind tables, built as the agent builds them ($(uname -r); $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo
fmt="%-52s %9s %7s %8s %9s %10s %9s\n"
# shellcheck disable=SC2059
printf "$fmt" object "cfi KiB" fdes rows "bpf KiB" "unwtab KiB" "build ms"
for o in $OBJECTS; do
	[[ -r $o ]] || { log "skipped (unreadable): $o"; continue; }
	for ((r = 1; r <= RUNS; r++)); do "$TOOL" -q "$o" | tail -n 1; done >"$T/one"
	# one "total" line per run: same sizes, varying time
	read -r cfi fdes rows bpf ub <<<"$(awk -F'\t' 'NR == 1 { print $3, $4, $5, $6, $8 }' "$T/one")"
	ms=$(awk -F'\t' '{ print $9 }' "$T/one" | median)
	# shellcheck disable=SC2059
	printf "$fmt" "$o" $((cfi / 1024)) "$fdes" "$rows" $((bpf / 1024)) $((ub / 1024)) "$ms"
done

if [[ $NODE == 1 ]]; then
	[[ $(id -u) == 0 ]] || die "NODE=1 needs root (/proc/PID/map_files); NODE=0 for the named objects only"
	# Every executable file mapping of every process, opened through map_files (deleted files
	# and other mount namespaces included), named by its path.
	nproc_seen=0
	for m in /proc/[0-9]*/maps; do
		pid=${m#/proc/}
		pid=${pid%/maps}
		awk -v pid="$pid" '$2 ~ /x/ && $6 ~ /^\// { n = $6; for (i = 7; i <= NF; i++) n = n " " $i
			print "/proc/" pid "/map_files/" $1 "\t" n }' "$m" 2>/dev/null || true
		nproc_seen=$((nproc_seen + 1))
	done >"$T/maps.lst"
	nmaps=$(wc -l <"$T/maps.lst")
	"$TOOL" <"$T/maps.lst" >"$T/node.tsv"
	echo
	echo "this machine: $nproc_seen processes, $nmaps executable file mappings"
	awk -F'\t' '/^#/ || $1 == "total" { next } $10 == "ok" { n++ }
		END { printf "  distinct objects with a table: %d\n", n }' "$T/node.tsv"
	awk -F'\t' '$1 == "total" { printf "  %s\n  cfi %.1f MiB, %d FDEs, %d rows: %.1f MiB of BPF rows (table %.1f MiB), unwtab %.1f MiB; build %.0f ms of CPU\n",
		$2, $3 / 1048576, $4, $5, $6 / 1048576, $7 / 1048576, $8 / 1048576, $9 }' "$T/node.tsv"
	echo "  largest tables (bpf KiB, rows, build ms):"
	awk -F'\t' '!/^#/ && $1 != "total" && $10 == "ok"' "$T/node.tsv" | sort -t$'\t' -k6,6nr | head -n 8 |
		awk -F'\t' '{ printf "    %8d %8d %7.1f  %s\n", $6 / 1024, $5, $9, $1 }'
	awk -F'\t' '!/^#/ && $1 != "total" && $10 != "ok" { n[$10]++ } END { for (k in n) printf "  %s: %d\n", k, n[k] }' "$T/node.tsv"
fi
