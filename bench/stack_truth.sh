#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Stack truth, side by side (issue 12): for each stack-shape fixture of the e2e tests
# (tests/fixtures/stack_shapes*.{c,cc,rs}), print the chain three ways, leaf first,
# so a person can compare them:
#
#   gdb      `gdb -batch -p PID -ex 'set backtrace past-main on' -ex 'thread apply all bt'`
#            (attach, interrupt: one stack per thread, inlined frames included)
#   perf     `perf record --call-graph dwarf -p PID` for PERF_S seconds, the most frequent
#            chain (perf script) and its share
#   stackd   the agent's profile of PROFILE_S seconds (go tool pprof -traces), the most
#            frequent chain of the process and its share
#
# Not a test (nothing is asserted); run as root from the source tree:
#
#   bench/stack_truth.sh [SHAPE...]     # default: every shape, gcc and clang builds
#
# Environment: STACKD_BIN (default build/stackd), STACKD_ARGS (extra agent flags, e.g.
# --unwind.mode=dwarf), CCS="gcc clang", RUSTC (default /usr/bin/rustc if present),
# PERF_S=2, PROFILE_S=4, KEEP_TMP=1 (keep the raw outputs).
#
# Notes when reading: gdb synthesizes frames for tail calls from DWARF call-site records
# (e.g. glibc's qsort, which is `jmp qsort_r`), which perf and stackd rightly do not show;
# gdb prints "<signal handler called>" where perf and stackd print __restore_rt.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACKD_BIN=${STACKD_BIN:-$SRC/build/stackd}
CCS=${CCS:-gcc clang}
PERF_S=${PERF_S:-2}
PROFILE_S=${PROFILE_S:-4}
if [[ -z ${RUSTC:-} ]]; then
	RUSTC=rustc
	[[ -x /usr/bin/rustc ]] && RUSTC=/usr/bin/rustc
fi
SHAPES=("$@")
((${#SHAPES[@]})) || SHAPES=(deep qsort syscall bigframe threads signal cpp rust)

[[ $(id -u) == 0 ]] || die "run as root (the agent loads BPF; perf and gdb attach)"
for c in gdb perf go curl; do command -v "$c" >/dev/null || die "'$c' not found"; done
[[ -x $STACKD_BIN ]] || die "no agent binary at $STACKD_BIN (build it, or set STACKD_BIN)"

T=$(mktemp -d "${TMPDIR:-/tmp}/stack_truth.XXXXXX")
PIDS=()
bench_traps

# ------------------------------------------------------------ fixtures

for cc in $CCS; do
	"$cc" -O2 -g -fomit-frame-pointer -pthread -o "$T/shape_$cc" "$SRC/tests/fixtures/stack_shapes.c"
done
g++ -O2 -g -fomit-frame-pointer -o "$T/shape_cpp" "$SRC/tests/fixtures/stack_shapes_cpp.cc"
"$RUSTC" -O -C force-frame-pointers=no -g -o "$T/shape_rs" "$SRC/tests/fixtures/stack_shapes_rs.rs"

# ------------------------------------------------------------ the agent

port=$((20000 + RANDOM % 10000))
# shellcheck disable=SC2086 # STACKD_ARGS: flags, split on spaces
"$STACKD_BIN" --web.listen-address=127.0.0.1:$port --profiling.frequency=99 ${STACKD_ARGS:-} \
	>"$T/agent.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
	curl -fsS -m 1 -o /dev/null "http://127.0.0.1:$port/-/ready" 2>/dev/null && break
	sleep 0.2
done
curl -fsS -m 1 -o /dev/null "http://127.0.0.1:$port/-/ready" || die "agent not ready: $(tail -5 "$T/agent.log")"

# ------------------------------------------------------------ the three views

# gdb_chains PID: one line per thread, frames leaf first, ';'-separated.
gdb_chains()
{
	gdb -batch -p "$1" -ex 'set backtrace past-main on' -ex 'thread apply all bt' 2>/dev/null | awk '
		/^Thread / { if (s != "") print s; s = ""; next }
		/^#[0-9]+ / {
			l = $0
			if (l ~ /<signal handler called>/) f = "<signal handler called>"
			else { sub(/^#[0-9]+ +(0x[0-9a-f]+ in )?/, "", l); f = l; sub(/ \(.*$/, "", f) }
			s = s (s == "" ? "" : ";") f
		}
		END { if (s != "") print s }'
}

# top_chains FILE: "share% chain" for the 3 most frequent lines of FILE (COUNT<TAB>CHAIN).
top_chains()
{
	awk -F'\t' '{ c[$2] += $1; t += $1 } END { for (k in c) printf "%6.1f%%  %s\n", 100 * c[k] / t, k }' "$1" |
		sort -rn | head -n 3
}

# perf_chains PID OUT: perf's dwarf-unwound chains of PID, "1<TAB>chain" per sample.
perf_chains()
{
	perf record -q -o "$T/perf.data" --call-graph dwarf -F 99 -p "$1" -- sleep "$PERF_S" >/dev/null 2>&1 || true
	perf script -i "$T/perf.data" -F ip,sym 2>/dev/null | awk '
		/^$/ { if (s != "") print "1\t" s; s = ""; next }
		{ f = $2; sub(/\+0x[0-9a-f]+$/, "", f); if (f == "") f = $1; s = s (s == "" ? "" : ";") f }
		END { if (s != "") print "1\t" s }' >"$2"
}

# stackd_chains PID PB OUT: the agent's chains of PID (go tool pprof -traces), "COUNT<TAB>chain".
stackd_chains()
{
	PPROF_TMPDIR=$T HOME=$T go tool pprof -symbolize=none -traces "$2" 2>/dev/null | awk -v pid="$1" '
		function flush() { if (inb && mine && s != "") printf "%d\t%s\n", n, s; s = ""; mine = 0; inb = 0 }
		/^-+\+-+$/ { flush(); inb = 1; next }
		!inb { next }
		$1 == "pid:" { mine = ($2 == pid); next }
		/^ +[a-z_]+: / { next }
		{
			l = $0
			if (s == "" && match(l, /^ +[0-9.]+[a-z]* +/)) { n = l; sub(/^ +/, "", n); sub(/ .*/, "", n); n += 0; l = substr(l, RLENGTH + 1) }
			sub(/^ +/, "", l); sub(/ +$/, "", l)
			if (l ~ /^\[kernel\.kallsyms\]|^K:/) next
			s = s (s == "" ? "" : ";") l
		}
		END { flush() }' >"$3"
}

run_one() # NAME CMD...
{
	local name=$1 pid
	shift
	"$@" >"$T/$name.out" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	sleep 1.5
	echo "==== $name (pid $pid)"
	echo "-- gdb bt (per thread):"
	gdb_chains "$pid" | sed 's/^/   /'
	curl -fsS -m $((PROFILE_S + 20)) -o "$T/$name.pb.gz" \
		"http://127.0.0.1:$port/debug/pprof/profile?seconds=$PROFILE_S" &
	local curl_pid=$!
	perf_chains "$pid" "$T/$name.perf.tsv"
	wait "$curl_pid" || log "$name: profile fetch failed"
	echo "-- perf --call-graph dwarf (top chains):"
	top_chains "$T/$name.perf.tsv" | sed 's/^/   /'
	stackd_chains "$pid" "$T/$name.pb.gz" "$T/$name.stackd.tsv"
	echo "-- stackd${STACKD_ARGS:+ ($STACKD_ARGS)} (top chains):"
	top_chains "$T/$name.stackd.tsv" | sed 's/^/   /'
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	untrack "$pid"
}

for s in "${SHAPES[@]}"; do
	case $s in
	cpp) run_one cpp.g++ "$T/shape_cpp" 60 ;;
	rust) run_one rust.rustc "$T/shape_rs" 60 ;;
	*) for cc in $CCS; do run_one "$s.$cc" "$T/shape_$cc" "$s" 60; done ;;
	esac
done
