#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Cost of continuous profiling, side by side in one run: stackd vs bpftrace vs
# perf record, at the same frequencies, on a node with BUSY CPUs kept 100% busy.
#
#   sudo bench/agent_overhead.sh                      # 3 runs x 20 s per config
#   sudo RUNS=1 DURATION=10 bench/agent_overhead.sh   # quick look
#
# Parameters (environment):
#   RUNS=3          runs per (frequency, tool); the table shows medians
#   DURATION=20     measured window per run, seconds
#   WARMUP=3        seconds between "tool ready" and the window
#   FREQS="19 99"   sampling frequencies, Hz
#   TOOLS="stackd bpftrace perf"
#   BUSY=2          busy loops (cpu_chain fixture), pinned round-robin to CPUs
#   STACKD_BIN      default: build/stackd of this tree
#   KEEP_TMP=1      keep raw results and logs
#
# What is measured over the window (see bench/README.md for what it means):
#   cpu%       user+sys of the tool's process (/proc/PID/stat ticks) / window, % of one CPU
#   ns/sample  BPF program run time per sample (perf_event programs of the process,
#              run_time_ns / run_cnt, kernel.bpf_stats_enabled=1); bpf% = run time / window
#   rss        peak RSS (VmHWM) at the end of the window, MiB
#   recv       samples the tool received: BPF run_cnt delta (stackd, bpftrace); samples in
#              perf.data per second of capture x window (perf)
#   exp        frequency x CPUs x window: what the tool was asked to take (busy CPUs + idle)
#   ctr        stackd only: delta of stackd_bpf_samples_total
#   prof       stackd only: samples in the profile fetched for the window (seconds=DURATION)
#   serve ms   stackd only: curl time_total minus DURATION (building + encoding + sending)
set -euo pipefail

RUNS=${RUNS:-3}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
FREQS=${FREQS:-19 99}
TOOLS=${TOOLS:-stackd bpftrace perf}
BUSY=${BUSY:-2}
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACKD_BIN=${STACKD_BIN:-$SRC/build/stackd}
NCPU=$(nproc)
CLK_TCK=$(getconf CLK_TCK)

# die, log, bench_cleanup, bpf_stats, free_port, the medians table...
. "$SRC/bench/lib.sh"

[[ $(id -u) == 0 ]] || die "run as root (BPF, perf -a, sysctl)"
[[ $RUNS =~ ^[1-9][0-9]*$ && $DURATION =~ ^[1-9][0-9]*$ && $WARMUP =~ ^[0-9]+$ ]] ||
	die "RUNS, DURATION and WARMUP must be positive integers"
for t in $TOOLS; do
	case $t in
	stackd) [[ -x $STACKD_BIN ]] || die "stackd not built: $STACKD_BIN" ;;
	bpftrace | perf) command -v "$t" >/dev/null || die "$t not installed" ;;
	*) die "unknown tool '$t' (stackd, bpftrace, perf)" ;;
	esac
done
for c in clang curl bpftool awk; do command -v "$c" >/dev/null || die "$c not installed"; done
HAVE_GO=0
command -v go >/dev/null && HAVE_GO=1

T=$(mktemp -d "${TMPDIR:-/tmp}/agent_overhead.XXXXXX")
PIDS=()
OLD_BPF_STATS=$(sysctl -n kernel.bpf_stats_enabled)

bench_traps

metric_sum()
{
	awk -v m="$2" '/^#/ { next }
		index($0, m "{") == 1 { l = $0; sub(/^[^}]*\}/, "", l); split(l, a, " "); s += a[1] }
		$1 == m { s += $2 }
		END { printf "%d\n", s }' "$1"
}

# ------------------------------------------------------------- the load
clang -O1 -g -fno-omit-frame-pointer -o "$T/cpu_chain" "$SRC/tests/fixtures/cpu_chain.c"
total_s=$((RUNS * $(wc -w <<<"$FREQS") * $(wc -w <<<"$TOOLS") * (DURATION + WARMUP + 15) + 60))
bench_start_busy "$BUSY" "$T/cpu_chain" "$total_s"
sysctl -qw kernel.bpf_stats_enabled=1

log "agent_overhead: $(uname -r), $NCPU CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $BUSY busy loops pinned round-robin"
log "RUNS=$RUNS DURATION=${DURATION}s WARMUP=${WARMUP}s FREQS='$FREQS' TOOLS='$TOOLS'"
[[ $TOOLS != *stackd* ]] || log "stackd: $("$STACKD_BIN" --version 2>&1 | head -n 1)"
[[ $TOOLS != *bpftrace* ]] || log "bpftrace: $(bpftrace --version 2>&1 | head -n 1)"
[[ $TOOLS != *perf* ]] || log "perf: $(perf --version 2>&1 | head -n 1)"
log "total about $(((total_s - 60) / 60)) min"

RES=$T/results.tsv
: >"$RES"

# measure TOOL FREQ RUN: one window; appends a line to $RES
measure()
{
	local tool=$1 hz=$2 run=$3 pid port="" url="" t0 t1 k0 k1 rt0 rc0 rt1 rc1 nprog s0 s1 curl_pid=""
	local log=$T/$tool.$hz.$run.log deadline
	case $tool in
	stackd)
		port=$(free_port)
		url=http://127.0.0.1:$port
		"$STACKD_BIN" --web.listen-address=127.0.0.1:"$port" --profiling.frequency="$hz" \
			--log.level=warn >"$log" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		bench_wait_http "$url/-/healthy" "$pid" "$log" healthy
		;;
	bpftrace)
		bench_start_bpftrace "$hz" "$log"
		pid=$TOOL_PID
		;;
	perf)
		bench_start_perf "$hz" "$log" "$T/perf.data"
		pid=$TOOL_PID
		;;
	esac
	sleep "$WARMUP"

	# window start: timestamps and counters read back to back
	t0=$(now_ms)
	k0=$(proc_ticks "$pid")
	read -r rt0 rc0 nprog < <(bpf_stats "$pid")
	if [[ $tool == stackd ]]; then
		curl -fsS -m 10 -o "$T/m0" "$url/metrics"
		s0=$(metric_sum "$T/m0" stackd_bpf_samples_total)
		curl -sS -m $((DURATION + 60)) -o "$T/profile.pb.gz" -w '%{http_code} %{time_total}' \
			"$url/debug/pprof/profile?seconds=$DURATION" >"$T/curl.w" 2>"$T/curl.err" &
		curl_pid=$!
		PIDS+=("$curl_pid")
	fi
	sleep "$DURATION"
	t1=$(now_ms)
	k1=$(proc_ticks "$pid")
	read -r rt1 rc1 nprog < <(bpf_stats "$pid")
	if [[ $tool != perf ]] && ((nprog == 0)); then
		log "warning: no perf_event BPF program found in /proc/$pid/fd of $tool"
	fi
	local hwm ctr="-" prof="-" serve="-" recv bpf_ns="-" bpf_ms="-" win_s cpu
	hwm=$(vm_hwm_kb "$pid")
	if [[ $tool == stackd ]]; then
		curl -fsS -m 10 -o "$T/m1" "$url/metrics"
		s1=$(metric_sum "$T/m1" stackd_bpf_samples_total)
		ctr=$((s1 - s0))
		wait "$curl_pid" || true
		untrack "$curl_pid"
		local code secs
		read -r code secs <"$T/curl.w" || true
		if [[ $code == 200 ]]; then
			serve=$(awk -v s="$secs" -v d="$DURATION" 'BEGIN { printf "%.0f", (s - d) * 1000 }')
			if ((HAVE_GO)); then
				prof=$(PPROF_TMPDIR=$T HOME=$T timeout 60 go tool pprof -raw "$T/profile.pb.gz" 2>/dev/null |
					awk '/^Samples:/ { s = 1; getline; next } /^Locations/ { s = 0 }
						s && /^ +[0-9]+ +[0-9]+: / { n += $1 } END { print n + 0 }')
			fi
		else
			log "stackd profile request failed: HTTP $code $(cat "$T/curl.err")"
		fi
	fi

	# stop the tool
	if [[ $tool == stackd ]]; then bench_stop "$pid" TERM 300; else bench_stop "$pid" INT 300; fi

	win_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1000 }')
	cpu=$(awk -v k=$((k1 - k0)) -v hz="$CLK_TCK" -v w="$win_s" 'BEGIN { printf "%.2f", 100 * k / hz / w }')
	if [[ $tool == perf ]]; then
		# perf keeps no counter we can read mid-run: rate over its whole capture, scaled to the window
		recv=$(perf script -i "$T/perf.data" -F time 2>/dev/null | awk -v w="$win_s" '
			{ t = $1 + 0; if (n == 0) first = t; last = t; n++ }
			END { if (n > 1 && last > first) printf "%.0f", n / (last - first) * w; else print 0 }')
		rm -f "$T/perf.data" "$T/perf.data.old"
	else
		recv=$((rc1 - rc0))
		if ((recv > 0)); then
			bpf_ns=$(((rt1 - rt0) / recv))
			bpf_ms=$(awk -v ns=$((rt1 - rt0)) 'BEGIN { printf "%.1f", ns / 1e6 }')
		fi
	fi
	local expect
	expect=$(awk -v f="$hz" -v c="$NCPU" -v w="$win_s" 'BEGIN { printf "%.0f", f * c * w }')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$hz" "$tool" "$run" "$cpu" "$bpf_ns" "$bpf_ms" \
		"$((hwm / 1024))" "$recv" "$expect" "$ctr" "$prof" "$serve" >>"$RES"
	log "run $run ${hz}Hz $tool: cpu ${cpu}% bpf ${bpf_ns}ns/sample ${bpf_ms}ms rss $((hwm / 1024))MiB recv $recv/$expect ctr $ctr prof $prof serve ${serve}ms (window ${win_s}s)"
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
echo "agent overhead: $BUSY busy CPUs of $NCPU, ${DURATION}s window, median of $RUNS run(s)"
echo "cpu%: user+sys of the tool process, % of one CPU; bpf: BPF program time in the kernel"
echo "(charged to the sampled tasks, not to the tool); exp = Hz x $NCPU CPUs x window"
echo
awk -F'\t' "$BENCH_AWK_MEDIANS"'
	END {
		fmt = "%4s  %-9s %6s %9s %8s %6s %7s %8s %8s %6s %8s %8s %9s\n"
		printf fmt, "Hz", "tool", "cpu%", "ns/sample", "bpf ms", "bpf%", "rss MiB", "recv", "exp", "recv%", "ctr", "prof", "serve ms"
		for (k = 1; k <= nk; k++) {
			key = order[k]
			recv = median(key, 8); ex = median(key, 9); bms = median(key, 6)
			pct = (ex > 0) ? sprintf("%.0f", 100 * recv / ex) : "-"
			bpct = (bms == "-") ? "-" : sprintf("%.2f", bms / 10 / '"$DURATION"')
			printf fmt, hz[key], tool[key], median(key, 4), median(key, 5), bms, bpct, median(key, 7),
				recv, ex, pct, median(key, 10), median(key, 11), median(key, 12)
		}
	}' "$RES"
echo
echo "raw per-run rows: Hz tool run cpu% bpf_ns bpf_ms rss_MiB recv exp ctr prof serve_ms"
sed 's/^/  /' "$RES"
