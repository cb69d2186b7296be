#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Where the agent's resident memory goes, in steady state with the history on, next to
# bpftrace and perf record, and what it costs in CPU; optionally what one short run of a
# debug-built python3 (python3.11-dbg) costs the agent (eager symbolization).
#
#   sudo bench/footprint.sh                         # RUNS=3 x (30 s warm-up + 20 s window)
#   sudo RUNS=1 TOOLS=stackd bench/footprint.sh     # quick look: ~1 min
#   sudo PYTHON=1 TOOLS=stackd bench/footprint.sh   # + the python3.11d experiment
#
# Parameters (environment):
#   RUNS=3          runs per tool; the table shows medians (order shuffled per run)
#   HZ=99           sampling frequency
#   WARMUP=30       seconds from "tool ready" to the window: steady state means the first
#                   history windows (10 s) are closed and the caches hold the workload
#   DURATION=20     measured window, seconds
#   TOOLS="stackd bpftrace perf"
#   BUSY=2          busy loops (tests/fixtures/cpu_chain), pinned round-robin to the CPUs
#   SCOPE=cgroup    cgroup: stackd samples only a cgroup of its own holding the workload
#                   (--profiling.cgroups; a quiet node on a shared machine); node: everything
#   PYTHON=0        1: after the window, run python3.11d (busy ~2 s) in the cgroup, PY_RUNS
#                   times, and report the agent's CPU and RSS around each run
#   STACKD_BIN      default: build/stackd of this tree; STACKD_ARGS: extra flags
#   GDB=1           break the heap down with gdb (bench/footprint_gdb.py) after the window
#   KEEP_TMP=1      keep raw results and logs
#
# Columns: cpu% = user+sys ticks of the tool's process over the window (% of one CPU);
# rss/anon/file = VmRSS, RssAnon, RssFile (+RssShmem) at the end of the window, MiB;
# hwm = VmHWM (peak, start-up included); cold = VmRSS right after start (stackd: /-/healthy).
set -euo pipefail

RUNS=${RUNS:-3}
HZ=${HZ:-99}
WARMUP=${WARMUP:-30}
DURATION=${DURATION:-20}
TOOLS=${TOOLS:-stackd bpftrace perf}
BUSY=${BUSY:-2}
SCOPE=${SCOPE:-cgroup}
PYTHON=${PYTHON:-0}
PY_RUNS=${PY_RUNS:-3}
GDB=${GDB:-1}
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACKD_BIN=${STACKD_BIN:-$SRC/build/stackd}
STACKD_ARGS=${STACKD_ARGS:-}
NCPU=$(nproc)
CLK_TCK=$(getconf CLK_TCK)

. "$SRC/bench/lib.sh"

[[ $(id -u) == 0 ]] || die "run as root (BPF, perf -a, cgroups)"
[[ $RUNS =~ ^[1-9][0-9]*$ && $DURATION =~ ^[1-9][0-9]*$ && $WARMUP =~ ^[0-9]+$ ]] ||
	die "RUNS, DURATION and WARMUP must be positive integers"
for t in $TOOLS; do
	case $t in
	stackd) [[ -x $STACKD_BIN ]] || die "stackd not built: $STACKD_BIN" ;;
	bpftrace | perf) command -v "$t" >/dev/null || die "$t not installed" ;;
	*) die "unknown tool '$t'" ;;
	esac
done
for c in clang curl awk shuf; do command -v "$c" >/dev/null || die "$c not installed"; done
[[ $GDB == 0 ]] || command -v gdb >/dev/null || die "gdb not installed (or GDB=0)"
[[ $PYTHON == 0 ]] || [[ -x /usr/bin/python3.11d ]] || die "python3.11d missing: apt-get install python3.11-dbg"

T=$(mktemp -d "${TMPDIR:-/tmp}/footprint.XXXXXX")
PIDS=()
CG=""
if [[ $SCOPE == cgroup ]]; then
	CGROOT=/sys/fs/cgroup
	[[ -f $CGROOT/cgroup.procs && $(stat -f -c %T $CGROOT) == cgroup2fs ]] || CGROOT=/sys/fs/cgroup/unified
	CG=$CGROOT/stackd-footprint.$$
	mkdir "$CG"
fi

# bench_cleanup (lib.sh) stops PIDS and removes $T; then the cgroup goes.
bench_cleanup_hook()
{
	if [[ -n $CG ]]; then
		for _ in $(seq 50); do rmdir "$CG" 2>/dev/null && break; sleep 0.1; done
	fi
}
bench_traps

# "rss anon file hwm" in KiB
mem_kb()
{
	awk '/^VmRSS:/ { r = $2 } /^RssAnon:/ { a = $2 } /^RssFile:/ { f += $2 } /^RssShmem:/ { f += $2 }
		/^VmHWM:/ { h = $2 } END { print r, a, f, h }' "/proc/$1/status"
}

metric() { awk -v m="$2" '$1 == m { print $2; f = 1 } END { if (!f) print 0 }' "$1"; }

# run "$@" inside the workload's cgroup (or not, with SCOPE=node), in the background
in_cg()
{
	if [[ -n $CG ]]; then
		sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$CG" "$@" &
	else
		"$@" &
	fi
}

# -------------------------------------------------------------- the load
clang -O1 -g -fno-omit-frame-pointer -o "$T/cpu_chain" "$SRC/tests/fixtures/cpu_chain.c"
total_s=$((RUNS * $(wc -w <<<"$TOOLS") * (WARMUP + DURATION + 20) + PY_RUNS * 20 + 120))
for ((i = 0; i < BUSY; i++)); do
	in_cg taskset -c $((i % NCPU)) "$T/cpu_chain" "$total_s" >/dev/null
	PIDS+=($!)
done
sleep 0.5

log "footprint: $(uname -r), $NCPU CPUs, $BUSY busy loops; load average $(cut -d' ' -f1-3 /proc/loadavg)"
log "RUNS=$RUNS HZ=$HZ WARMUP=${WARMUP}s DURATION=${DURATION}s SCOPE=$SCOPE TOOLS='$TOOLS'"
[[ $TOOLS != *stackd* ]] || log "stackd: $("$STACKD_BIN" --version 2>&1 | head -n 1) $STACKD_ARGS"

RES=$T/results.tsv
: >"$RES"
URL=""

start_tool()
{
	local tool=$1 log=$2 port
	case $tool in
	stackd)
		port=$(free_port)
		URL=http://127.0.0.1:$port
		local scope=()
		[[ -z $CG ]] || scope=(--profiling.cgroups="$CG")
		# shellcheck disable=SC2086
		"$STACKD_BIN" --web.listen-address=127.0.0.1:"$port" --profiling.frequency="$HZ" \
			--log.level=warn "${scope[@]}" $STACKD_ARGS >"$log" 2>&1 &
		TOOL_PID=$!
		PIDS+=("$TOOL_PID")
		bench_wait_http "$URL/-/healthy" "$TOOL_PID" "$log" healthy
		;;
	bpftrace) bench_start_bpftrace "$HZ" "$log" ;;
	perf) bench_start_perf "$HZ" "$log" "$T/perf.data" ;;
	esac
}

stop_tool()
{
	kill -INT "$1" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	untrack "$1"
}

# measure TOOL RUN: one steady-state window; appends a line to $RES
measure()
{
	local tool=$1 run=$2 pid cold t0 t1 k0 k1 rss anon file hwm m
	local log=$T/$tool.$run.log
	start_tool "$tool" "$log"
	pid=$TOOL_PID
	read -r cold _ < <(mem_kb "$pid")
	sleep "$WARMUP"
	t0=$(now_ms)
	k0=$(proc_ticks "$pid")
	sleep "$DURATION"
	k1=$(proc_ticks "$pid")
	t1=$(now_ms)
	read -r rss anon file hwm < <(mem_kb "$pid")
	if [[ $tool == stackd ]]; then
		m=$T/metrics.$run
		curl -fs -m 10 "$URL/metrics" >"$m" || : >"$m"
		cp "/proc/$pid/smaps" "$T/smaps.$run"
		[[ $GDB == 0 ]] || timeout 60 gdb -p "$pid" -batch -x "$SRC/bench/footprint_gdb.py" 2>/dev/null |
			grep '^FP ' >"$T/gdb.$run" || true
		[[ $PYTHON == 0 || $run != 1 ]] || python_experiment "$pid"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$run" \
		"$(awk -v k=$((k1 - k0)) -v t=$((t1 - t0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", 100 * k / hz / (t / 1000) }')" \
		"$cold" "$rss" "$anon" "$file" "$hwm" >>"$RES"
	stop_tool "$pid"
}

# python_experiment PID: the agent's CPU ticks and RSS over 8 s with a short python3.11d run
# in the workload (busy ~2 s), next to 8 s without it, PY_RUNS times each.
python_experiment()
{
	local pid=$1 i k0 k1 r0 r1 py
	for ((i = 1; i <= PY_RUNS; i++)); do
		k0=$(proc_ticks "$pid")
		read -r r0 _ < <(mem_kb "$pid")
		sleep 8
		k1=$(proc_ticks "$pid")
		read -r r1 _ < <(mem_kb "$pid")
		echo "quiet $i $((k1 - k0)) $r0 $r1" >>"$T/python.txt"
		k0=$k1
		r0=$r1
		in_cg /usr/bin/python3.11d -c 'import time
t = time.time()
while time.time() - t < 2: sum(range(1000))'
		py=$!
		wait "$py" || true
		sleep 6
		k1=$(proc_ticks "$pid")
		read -r r1 _ < <(mem_kb "$pid")
		echo "python $i $((k1 - k0)) $r0 $r1" >>"$T/python.txt"
	done
}

for ((run = 1; run <= RUNS; run++)); do
	for tool in $(shuf -e $TOOLS); do
		log "run $run: $tool"
		measure "$tool" "$run"
	done
done

# -------------------------------------------------------------- report
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo
echo "steady state at $HZ Hz after ${WARMUP} s, ${DURATION} s window, medians of $RUNS run(s); MiB"
printf '%-9s %6s %7s %7s %7s %7s %7s\n' tool 'cpu%' cold rss anon file hwm
for tool in $TOOLS; do
	row=$(awk -v t="$tool" -F'\t' '$1 == t' "$RES")
	col() { awk -F'\t' -v c="$1" '{ print $c }' <<<"$row" | median; }
	printf '%-9s %6s %7.1f %7.1f %7.1f %7.1f %7.1f\n' "$tool" "$(col 3)" \
		"$(col 4 | awk '{ print $1 / 1024 }')" "$(col 5 | awk '{ print $1 / 1024 }')" \
		"$(col 6 | awk '{ print $1 / 1024 }')" "$(col 7 | awk '{ print $1 / 1024 }')" \
		"$(col 8 | awk '{ print $1 / 1024 }')"
done
echo
echo "per run:"
awk -F'\t' '{ printf "  %-9s run %s  cpu%% %s  cold %.1f  rss %.1f  anon %.1f  file %.1f  hwm %.1f\n", $1, $2, $3, $4/1024, $5/1024, $6/1024, $7/1024, $8/1024 }' "$RES"

if [[ $TOOLS == *stackd* ]]; then
	# the breakdown of the run with the median RSS
	mrun=$(awk -F'\t' '$1 == "stackd" { print $5, $2 }' "$RES" | sort -n | awk '{ v[NR] = $2 } END { print v[int((NR + 1) / 2)] }')
	echo
	echo "stackd breakdown (run $mrun, the median RSS), MiB"
	awk '/^[0-9a-f]+-[0-9a-f]+ / { n = $6; if (n == "") n = "[anon]"; else if (n ~ /^\// && n !~ /stackd$/) n = "shared libraries (file)"; else if (n ~ /stackd$/) n = "stackd binary (file)" }
		/^Rss:/ { r[n] += $2 } END { for (k in r) printf "  smaps %-28s %7.1f\n", k, r[k] / 1024 }' "$T/smaps.$mrun" | sort -k3 -rn
	m=$T/metrics.$mrun
	for k in stackd_symbol_cache_bytes stackd_stack_cache_bytes stackd_unwind_cache_bytes \
		stackd_history_bytes stackd_process_maps_bytes stackd_process_labels_bytes stackd_perfmap_bytes; do
		printf '  metric %-38s %7.1f\n' "$k" "$(metric "$m" "$k" | awk '{ print $1 / 1048576 }')"
	done
	if [[ -s $T/gdb.$mrun ]]; then
		g=$T/gdb.$mrun
		awk '$2 == "symcache.obj" { for (i = 4; i <= NF; i++) { split($i, kv, "="); s[kv[1]] += kv[2] } }
			END { printf "  gdb    symbol cache: symbols %.1f, DWARF owned %.1f, DWARF used in place from file mappings %.1f (charged, file-backed), debug-file symbols %.1f\n",
				s["elf"] / 1048576, (s["dw"] - s["dw_mapped"]) / 1048576, s["dw_mapped"] / 1048576, s["dbg_elf"] / 1048576 }' "$g"
		awk '$2 == "symcache.obj" { printf "  gdb    object %s %7.2f MiB  %s %s %s\n", substr($4, 1, 12), $3 / 1048576, $5, $6, $7 }' "$g" | head -8
		awk '$2 ~ /^(kallsyms|stackcache|unwind)\.bytes$/ { printf "  gdb    %-28s %7.1f\n", $2, $3 / 1048576 }
			$2 == "malloc.uordblks" { printf "  gdb    malloc in use               %7.1f\n", $3 / 1048576 }
			$2 == "malloc.fordblks" { printf "  gdb    malloc free in arenas       %7.1f\n", $3 / 1048576 }
			$2 == "malloc.hblkhd" { printf "  gdb    malloc in mmap chunks       %7.1f\n", $3 / 1048576 }' "$g"
	fi
	# glibc thread stacks: anonymous rw-p mappings of 8 MiB (RLIMIT_STACK)
	awk '/^[0-9a-f]+-[0-9a-f]+ / { st = ($6 == "" && $2 == "rw-p") } /^Size:/ { sz = $2 }
		/^Rss:/ { if (st && sz == 8192) { n++; r += $2 } }
		END { printf "  smaps  thread stacks (8 MiB mappings): %d, resident %.2f MiB\n", n, r / 1024 }' "$T/smaps.$mrun"
fi
if [[ -s $T/python.txt ]]; then
	echo
	echo "python3.11d (busy 2 s) in the workload: agent CPU over 8 s and RSS growth, per trial"
	awk -v hz="$CLK_TCK" '{ printf "  %-6s %s  cpu %.2f s  rss %+.1f MiB (%.1f -> %.1f)\n", $1, $2, $3 / hz, ($5 - $4) / 1024, $4 / 1024, $5 / 1024 }' "$T/python.txt"
fi
log "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the figures)"
