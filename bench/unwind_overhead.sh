#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# What complete user stacks through code without frame pointers cost (issue 4),
# side by side in one run: stackd --unwind.mode=fp, =dwarf and =auto against
# `perf record --call-graph dwarf`, at the same frequencies, on BUSY CPUs kept
# 100% busy by a workload built without frame pointers.
#
#   sudo bench/unwind_overhead.sh                       # 3 runs x 20 s per config, ~12 min
#   sudo RUNS=1 DURATION=10 bench/unwind_overhead.sh    # quick look, ~3 min
#   sudo FREQS=99 TOOLS="auto perf" bench/unwind_overhead.sh
#
# Parameters (environment):
#   RUNS=3              runs per (frequency, tool); the table shows medians
#   DURATION=20         measured window per run, seconds
#   WARMUP=3            seconds between "tool ready" and the window (auto mode switches
#                       the workload to DWARF within the first drains of it)
#   FREQS="19 99"       sampling frequencies, Hz
#   TOOLS="fp dwarf auto perf"   fp/dwarf/auto = stackd --unwind.mode=...; perf = perf record
#   WORKLOAD=qsort      qsort: tests/fixtures/unwind_qsort.c (comparator called back by libc's
#                       qsort, 10-45 frames through libc); deep: tests/fixtures/unwind_deep.c
#                       (a 30-level chain); both built gcc -O2 -g -fomit-frame-pointer
#   BUSY=2              copies of the workload, pinned round-robin to the CPUs
#   PERF_CALLGRAPH=dwarf   perf's --call-graph argument (dwarf = 8 KiB stack dumps;
#                       dwarf,16384 for stackd's default --unwind.stack-size)
#   STACKD_BIN          default: build/stackd of this tree
#   STACKD_ARGS         extra stackd flags (e.g. --unwind.stack-size=8KiB)
#   KEEP_TMP=1          keep raw results and logs
#
# What is measured (see bench/README.md):
#   cpu%        user+sys ticks of the tool's process over the window, % of one CPU
#   post s      perf only: CPU seconds (user+sys) of `perf script` turning perf.data into
#               symbolized stacks (its DWARF unwinding happens here, after the capture)
#   total%      cpu% + post s / window: all the tool's own CPU for the window's stacks
#   ns/sample   stackd only: BPF program time per sample (kernel.bpf_stats_enabled=1), which
#               includes the stack copy in dwarf mode; charged to the sampled tasks
#   rss MiB     peak RSS (VmHWM) of the tool's process; post MiB: of `perf script`
#   wl samp     samples of the workload processes: in the profile of the window (stackd),
#               in perf.data (perf: the whole capture, warm-up included)
#   complete%   share of those samples whose user stack reaches main
#   ring full   stackd: delta of stackd_unwind_ring_full_total; perf: LOST events
#   dwarf samp  stackd: delta of stackd_unwind_samples_total{path="dwarf"}
#   switched    stackd: stackd_unwind_processes_switched_total at the end of the window
#   data MiB    perf: size of perf.data per window second x window
set -euo pipefail

RUNS=${RUNS:-3}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
FREQS=${FREQS:-19 99}
TOOLS=${TOOLS:-fp dwarf auto perf}
WORKLOAD=${WORKLOAD:-qsort}
BUSY=${BUSY:-2}
PERF_CALLGRAPH=${PERF_CALLGRAPH:-dwarf}
STACKD_ARGS=${STACKD_ARGS:-}
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACKD_BIN=${STACKD_BIN:-$SRC/build/stackd}
NCPU=$(nproc)
CLK_TCK=$(getconf CLK_TCK)

# die, log, bench_cleanup, bpf_stats, free_port, the medians table...
. "$SRC/bench/lib.sh"

[[ $(id -u) == 0 ]] || die "run as root (BPF, perf -a, sysctl)"
[[ $RUNS =~ ^[1-9][0-9]*$ && $DURATION =~ ^[1-9][0-9]*$ && $WARMUP =~ ^[0-9]+$ && $BUSY =~ ^[1-9][0-9]*$ ]] ||
	die "RUNS, DURATION, BUSY and WARMUP must be positive integers"
case $WORKLOAD in qsort | deep) ;; *) die "WORKLOAD: qsort or deep" ;; esac
for t in $TOOLS; do
	case $t in
	fp | dwarf | auto) [[ -x $STACKD_BIN ]] || die "stackd not built: $STACKD_BIN" ;;
	perf) command -v perf >/dev/null || die "perf not installed (linux-perf)" ;;
	*) die "unknown tool '$t' (fp, dwarf, auto, perf)" ;;
	esac
done
for c in gcc curl go awk; do command -v "$c" >/dev/null || die "$c not installed"; done
if [[ $TOOLS =~ (fp|dwarf|auto) && $("$STACKD_BIN" --help 2>&1) != *--unwind.mode* ]]; then
	die "$STACKD_BIN has no --unwind.mode (built before issue 4?)"
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/unwind_overhead.XXXXXX")
PIDS=()
OLD_BPF_STATS=$(sysctl -n kernel.bpf_stats_enabled)

bench_traps

# metric_val FILE 'name{labels}' or 'name': one series (0 if absent)
metric_val()
{
	awk -v s="$2" 'index($0, s " ") == 1 { v = $2 } END { printf "%.0f\n", v + 0 }' "$1"
}

# pprof -raw on stdin, workload pids as "p1 p2": "samples complete" where complete = some
# frame (any inline level) of a [non-kernel] location is named main.
pprof_complete()
{
	awk -v pids="$1" '
	BEGIN { n = split(pids, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 }
	/^Samples:$/ { sec = "hdr"; next } /^Locations$/ { sec = "locs"; next } /^Mappings$/ { sec = "maps"; next }
	sec == "hdr" { sec = "s"; next }
	sec == "s" {
		if ($0 ~ /^( +-?[0-9]+)+: /) { ns++; p = index($0, ":"); split(substr($0, 1, p - 1), v, " ")
			cnt[ns] = v[1]; ids[ns] = substr($0, p + 1); next }
		if (match($0, /pid:\[[0-9]+/)) { s = substr($0, RSTART + 5, RLENGTH - 5); pid[ns] = s }
		next
	}
	sec == "locs" {
		if (match($0, /^ *[0-9]+: 0x[0-9a-fA-F]+ /)) { split($0, f, " "); cur = f[1]; sub(/:$/, "", cur); rest = substr($0, RLENGTH + 1) }
		else rest = $0
		if (rest ~ /(^|[ \]])main [^ ]*:-?[0-9]+ s=/ || rest ~ /^ *main [^ ]*:-?[0-9]+ s=/) ismain[cur] = 1
		next
	}
	END {
		for (i = 1; i <= ns; i++) {
			if (!(pid[i] in want)) continue
			tot += cnt[i]; m = split(ids[i], l, " ")
			for (j = 1; j <= m; j++) if (l[j] in ismain) { good += cnt[i]; break }
		}
		printf "%d %d\n", tot, good
	}'
}

# perf script -F pid,ip,sym on stdin: "samples complete" for the workload pids. A sample is a
# header line (the pid, right-aligned) and one tab-indented line per frame ("ADDR SYM").
perf_complete()
{
	awk -v pids="$1" '
	BEGIN { n = split(pids, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 }
	function flush() { if (inb && (p in want)) { tot++; if (hasmain) good++ } inb = 0; hasmain = 0 }
	/^$/ { flush(); next }
	/^\t/ { if (inb) { l = $0; sub(/^[ \t]*[0-9a-f]+ /, "", l); sub(/\+0x[0-9a-f]+$/, "", l); if (l == "main") hasmain = 1 } next }
	{ flush(); inb = 1; p = $1 + 0 }
	END { flush(); printf "%d %d\n", tot, good }'
}

# ------------------------------------------------------------- the load
gcc -O2 -g -fomit-frame-pointer -o "$T/unwind_$WORKLOAD" "$SRC/tests/fixtures/unwind_$WORKLOAD.c"
total_s=$((RUNS * $(wc -w <<<"$FREQS") * $(wc -w <<<"$TOOLS") * (DURATION + WARMUP + 40) + 60))
bench_start_busy "$BUSY" "$T/unwind_$WORKLOAD" "$total_s"
WL_PIDS=("${BUSY_PIDS[@]}")
sysctl -qw kernel.bpf_stats_enabled=1

log "unwind_overhead: $(uname -r), $NCPU CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $BUSY x unwind_$WORKLOAD (pids ${WL_PIDS[*]}) pinned round-robin"
log "RUNS=$RUNS DURATION=${DURATION}s WARMUP=${WARMUP}s FREQS='$FREQS' TOOLS='$TOOLS' PERF_CALLGRAPH=$PERF_CALLGRAPH STACKD_ARGS='$STACKD_ARGS'"
[[ ! $TOOLS =~ (fp|dwarf|auto) ]] || log "stackd: $("$STACKD_BIN" --version 2>&1 | head -n 1) ($STACKD_BIN)"
[[ $TOOLS != *perf* ]] || log "perf: $(perf --version 2>&1 | head -n 1)"
log "at most about $(((total_s - 60) / 60)) min"

RES=$T/results.tsv
: >"$RES"

# measure TOOL FREQ RUN: one window; appends a line to $RES
measure()
{
	local tool=$1 hz=$2 run=$3 pid port url t0 t1 k0 k1 rt0 rc0 rt1 rc1 nprog curl_pid=""
	local log=$T/$tool.$hz.$run.log
	local cpu total hwm bpf_ns="-" wl="-" good="-" cpl="-" rfull="-" dws="-" sw="-" post="-" post_mib="-" data_mib="-"
	local -a sargs
	case $tool in
	fp | dwarf | auto)
		port=$(free_port)
		url=http://127.0.0.1:$port
		read -r -a sargs <<<"$STACKD_ARGS"
		"$STACKD_BIN" --web.listen-address=127.0.0.1:"$port" --profiling.frequency="$hz" \
			--unwind.mode="$tool" --log.level=warn "${sargs[@]}" >"$log" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		bench_wait_http "$url/-/ready" "$pid" "$log" ready
		;;
	perf)
		rm -f "$T/perf.data"
		perf record -e cpu-clock -F "$hz" -a --call-graph "$PERF_CALLGRAPH" -o "$T/perf.data" >"$log" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		sleep 1
		kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "perf record exited"; }
		;;
	esac
	sleep "$WARMUP"

	t0=$(now_ms)
	k0=$(proc_ticks "$pid")
	read -r rt0 rc0 nprog < <(bpf_stats "$pid")
	if [[ $tool != perf ]]; then
		curl -fsS -m 10 -o "$T/m0" "$url/metrics"
		curl -sS -m $((DURATION + 60)) -o "$T/profile.pb.gz" -w '%{http_code}' \
			"$url/debug/pprof/profile?seconds=$DURATION" >"$T/curl.w" 2>"$T/curl.err" &
		curl_pid=$!
		PIDS+=("$curl_pid")
	fi
	sleep "$DURATION"
	t1=$(now_ms)
	k1=$(proc_ticks "$pid")
	read -r rt1 rc1 nprog < <(bpf_stats "$pid")
	hwm=$(vm_hwm_kb "$pid")
	if [[ $tool != perf ]]; then
		curl -fsS -m 10 -o "$T/m1" "$url/metrics"
		rfull=$(($(metric_val "$T/m1" stackd_unwind_ring_full_total) - $(metric_val "$T/m0" stackd_unwind_ring_full_total)))
		dws=$(($(metric_val "$T/m1" 'stackd_unwind_samples_total{path="dwarf"}') -
			$(metric_val "$T/m0" 'stackd_unwind_samples_total{path="dwarf"}')))
		sw=$(metric_val "$T/m1" stackd_unwind_processes_switched_total)
		wait "$curl_pid" || true
		untrack "$curl_pid"
		if [[ $(cat "$T/curl.w") == 200 ]]; then
			read -r wl good < <(PPROF_TMPDIR=$T HOME=$T timeout 120 go tool pprof -symbolize=none -raw \
				"$T/profile.pb.gz" 2>/dev/null | pprof_complete "${WL_PIDS[*]}")
		else
			log "stackd profile request failed: HTTP $(cat "$T/curl.w") $(cat "$T/curl.err")"
		fi
		((nprog > 0)) || log "warning: no perf_event BPF program found in /proc/$pid/fd"
		(((rc1 - rc0) > 0)) && bpf_ns=$(((rt1 - rt0) / (rc1 - rc0)))
	fi

	# stop the tool
	if [[ $tool == perf ]]; then bench_stop "$pid" INT 600; else bench_stop "$pid" TERM 600; fi

	local win_s
	win_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1000 }')
	cpu=$(awk -v k=$((k1 - k0)) -v hz="$CLK_TCK" -v w="$win_s" 'BEGIN { printf "%.2f", 100 * k / hz / w }')
	if [[ $tool == perf ]]; then
		local cap_s size tu ts tm
		# post-processing: perf script does the DWARF unwinding and symbolization
		/usr/bin/time -f '%U %S %M' -o "$T/post.time" \
			perf script -i "$T/perf.data" -F pid,ip,sym >"$T/perf.script" 2>"$T/perf.script.err" ||
			log "perf script failed: $(tail -n 3 "$T/perf.script.err")"
		read -r tu ts tm <"$T/post.time"
		post=$(awk -v u="$tu" -v s="$ts" 'BEGIN { printf "%.2f", u + s }')
		post_mib=$((tm / 1024))
		read -r wl good < <(perf_complete "${WL_PIDS[*]}" <"$T/perf.script")
		rfull=$(perf report -i "$T/perf.data" --stats 2>/dev/null |
			awk '/LOST(_SAMPLES)? events:/ { n += $3 } END { print n + 0 }')
		# perf.data covers warm-up + window + stop: scale its size to the window
		cap_s=$(awk -v a="$t0" -v b="$(now_ms)" -v w="$WARMUP" 'BEGIN { printf "%.3f", (b - a) / 1000 + w + 1 }')
		size=$(stat -c %s "$T/perf.data")
		data_mib=$(awk -v s="$size" -v c="$cap_s" -v w="$win_s" 'BEGIN { printf "%.1f", s / c * w / 1048576 }')
		rm -f "$T/perf.data" "$T/perf.data.old" "$T/perf.script"
	fi
	total=$cpu
	[[ $post == - ]] || total=$(awk -v c="$cpu" -v p="$post" -v w="$win_s" 'BEGIN { printf "%.2f", c + 100 * p / w }')
	if [[ $wl != - ]]; then
		cpl=$(awk -v g="$good" -v t="$wl" 'BEGIN { printf "%.2f", t ? 100 * g / t : 0 }')
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$hz" "$tool" "$run" "$cpu" "$post" "$total" \
		"$bpf_ns" "$((hwm / 1024))" "$post_mib" "$wl" "$cpl" "$rfull" "$dws" "$sw" "$data_mib" >>"$RES"
	log "run $run ${hz}Hz $tool: cpu ${cpu}% post ${post}s total ${total}% bpf ${bpf_ns}ns/sample rss $((hwm / 1024))MiB post-rss ${post_mib}MiB wl-samples $wl complete ${cpl}% ring-full/lost $rfull dwarf-samples $dws switched $sw data ${data_mib}MiB (window ${win_s}s)"
}

for ((run = 1; run <= RUNS; run++)); do
	for hz in $FREQS; do
		for tool in $TOOLS; do
			measure "$tool" "$hz" "$run"
		done
	done
done

# ------------------------------------------------------------- the table (medians)
echo
echo "unwind overhead: $BUSY x unwind_$WORKLOAD (no frame pointers) on $NCPU CPUs, ${DURATION}s window, median of $RUNS run(s)"
echo "fp/dwarf/auto = stackd --unwind.mode; perf = perf record -e cpu-clock -a --call-graph $PERF_CALLGRAPH"
echo "cpu%: the tool's process over the window, % of one CPU; post s: perf script CPU seconds afterwards"
echo
awk -F'\t' "$BENCH_AWK_MEDIANS"'
	END {
		fmt = "%4s  %-6s %6s %7s %7s %9s %8s %8s %8s %10s %10s %10s %9s %9s\n"
		printf fmt, "Hz", "tool", "cpu%", "post s", "total%", "ns/sample", "rss MiB", "post MiB", "wl samp", "complete%", "ring full", "dwarf samp", "switched", "data MiB"
		for (k = 1; k <= nk; k++) {
			key = order[k]
			printf fmt, hz[key], tool[key], median(key, 4), median(key, 5), median(key, 6), median(key, 7),
				median(key, 8), median(key, 9), median(key, 10), median(key, 11), median(key, 12),
				median(key, 13), median(key, 14), median(key, 15)
		}
	}' "$RES"
echo
echo "targets (reported, not asserted): auto at 99 Hz <= 2% of one CPU and below perf --call-graph dwarf"
echo "(record + post-processing); >= 98% complete stacks"
echo
echo "raw per-run rows: Hz tool run cpu% post_s total% bpf_ns rss_MiB post_MiB wl_samples complete% ring_full dwarf_samples switched data_MiB"
sed 's/^/  /' "$RES"
