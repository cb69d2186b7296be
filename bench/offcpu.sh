#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# What off-CPU profiling costs (issue 14): the whole machine's CPU under a context-switch-heavy
# workload, with stackd's --offcpu.enabled on and off, next to bpftrace doing the same, in one
# run, in shuffled order. Prints figures; nothing here is asserted.
#
#   sudo bench/offcpu.sh                                   # RUNS=5 x 6 configurations: ~11 min
#   sudo RUNS=1 DURATION=5 bench/offcpu.sh                 # quick look: ~2 min
#   sudo CONFIGS="alone offcpu bpftrace" bench/offcpu.sh   # the issue's comparison alone
#   sudo PIN=same bench/offcpu.sh                          # both threads on CPU 0 (see PIN)
#
# The workload is bench/pingpong.c (built gcc -O2 -g): two threads pass one byte back and
# forth over two pipes; every round trip is two blocking reads. A new copy is started for
# every run, the tool (if any) attached to it, WARMUP s left, then a DURATION s window measured.
#
# Parameters (environment):
#   RUNS=5            runs; each runs every configuration once, in its own shuffled order.
#                     The table shows medians over the runs
#   DURATION=10       measured window, seconds (steady state)
#   WARMUP=3          seconds between the tool being ready and the window
#   HZ=99             stackd --profiling.frequency (CPU sampling, on in every stackd configuration)
#   PIN=split         the workload's two threads: split (CPU 0 and CPU 1: every switch goes to
#                     the idle task and back, ~4 switches a round trip, the stack walk at
#                     switch-out runs while the other thread is woken), same (both on CPU 0: 2
#                     switches a round trip, all tracing work on the round trip's path, the
#                     other CPU free for the agent), none (the scheduler's choice: bimodal)
#   CONFIGS           default "alone stackd offcpu offcpu-pid bpftrace bpftrace-sum":
#     alone           the workload alone (the baseline every "added" figure is taken against,
#                     run by run: keep it in CONFIGS)
#     stackd          stackd --profiling.frequency=HZ (CPU profiling only, off-CPU off)
#     offcpu          stackd --profiling.frequency=HZ --offcpu.enabled (every process; defaults:
#                     beyond 5000 switch-outs per CPU and second, 1 in K is walked)
#     offcpu-all      the same with --offcpu.max-walks=1000000: every switch-out walked
#     offcpu-1ms      the same with --offcpu.min-duration=1ms: the workload's periods are all
#                     shorter, so none gets a user walk (those blocked in a system call)
#     offcpu-pid      the same with --profiling.pids=<workload pid> (only the workload is walked;
#                     the program still runs at every switch of the machine)
#     bpftrace        bpftrace 'tracepoint:sched:sched_switch { @[kstack, ustack, comm] = count(); }'
#                     (the switching-out task's stacks at every switch, like stackd's switch-out)
#     bpftrace-sum    bpftrace closer to what stackd does: at switch-out, a per-thread start
#                     time and both stacks in maps keyed by tid; at switch-in, the period summed
#                     under (kstack, ustack, comm) (see BT_SUM below)
#   STACKD_BIN        default: build/stackd of this tree
#   STACKD_ARGS       extra flags for every stackd (e.g. --offcpu.min-duration=0)
#   QUIET_MAX=25      before each run, the machine's busy % over 1 s (bg%) and other programs on
#                     sched_switch are checked (this machine is shared): a run waits, up to
#   QUIET_WAIT=30     seconds, for bg% <= QUIET_MAX and no foreign sched_switch program, then
#                     goes on, marked as noisy (listed under the table); after QUIET_TOTAL=120 s
#                     of such waiting in all, runs only check (1 s) and are marked
#   KEEP_TMP=1        keep raw results and logs
#
# Columns (medians over RUNS; "added" figures are differences to the same run's "alone" first):
#   sys cpu%     busy share of all CPUs over the window: /proc/stat "cpu" line, (user + nice +
#                system + irq + softirq) / (those + idle + iowait); steal left out. Everything
#                running counts: workload, tool, BPF programs, and other work on the machine
#   added        (sys cpu% - alone's) x CPUs: what the configuration added, in % of one CPU
#   rt/s         the workload's round trips per second over the window (SIGUSR1 marks). The
#                workload is a closed loop: tracing work on its path shows as fewer round trips,
#                not only as more CPU, so compare the next two columns too
#   sw/s         context switches per second of the whole machine (/proc/stat ctxt)
#   us/sw        busy CPU microseconds per context switch (sys cpu% x CPUs / sw/s)
#   added@rate   (us/sw - alone's) x alone's sw/s: the added CPU, in % of one CPU, had the
#                workload kept its untraced switch rate (the cost per switch, at the same rate)
#   agent%       user+sys ticks of the tool's process (/proc/PID/stat, all threads) over the
#                window, in % of one CPU (one tick is 0.1% over 10 s). Part of sys cpu%
#   bpf ns/sw    BPF run time per run of the tool's sched_switch program (stackd_switch; bpftrace's
#                tracepoint program): run_time_ns / run_cnt from `bpftool prog show` with
#                kernel.bpf_stats_enabled=1 (turned on for the whole script, restored on exit).
#                It runs at every switch of the machine; charged to the switching tasks
#   bpf%         the tool's BPF programs' total run time (all of them: stackd's CPU sampling
#                too) over the window, in % of one CPU
#   bg%          the machine's busy % in the 1 s before the workload started (other work)
#   other%       busy CPU in the window that is neither the workload's nor the tool's process's
#                (/proc/stat minus both /proc/PID/stat), % of one CPU: interrupts, kernel threads,
#                idle-loop work, other tasks' switches' BPF time, and other work on the machine.
#                Read it against alone's only: /proc/stat's busy time is sampled at ticks, a
#                process's is exact, so with µs-long runs it can be negative. A run well above
#                alone's was disturbed
set -euo pipefail

RUNS=${RUNS:-5}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
HZ=${HZ:-99}
PIN=${PIN:-split}
CONFIGS=${CONFIGS:-alone stackd offcpu offcpu-pid bpftrace bpftrace-sum}
STACKD_ARGS=${STACKD_ARGS:-}
QUIET_MAX=${QUIET_MAX:-25}
QUIET_WAIT=${QUIET_WAIT:-30}
QUIET_TOTAL=${QUIET_TOTAL:-120}
QUIET_WAITED=0
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACKD_BIN=${STACKD_BIN:-$SRC/build/stackd}
NCPU=$(nproc)
CLK_TCK=$(getconf CLK_TCK)

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$SRC/bench/lib.sh"

[[ $(id -u) == 0 ]] || die "run as root (BPF, sysctl kernel.bpf_stats_enabled)"
for v in RUNS DURATION HZ; do [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer"; done
for v in WARMUP QUIET_MAX QUIET_WAIT QUIET_TOTAL; do [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be an integer"; done
case $PIN in
split) ((NCPU >= 2)) || die "PIN=split needs 2 CPUs (PIN=same or none)"; PIN_ARGS=(0 1) ;;
same) PIN_ARGS=(0 0) ;;
none) PIN_ARGS=(-1 -1) ;;
*) die "PIN: split, same or none" ;;
esac
for c in $CONFIGS; do
	case $c in
	alone) ;;
	stackd | offcpu | offcpu-all | offcpu-1ms | offcpu-pid) [[ -x $STACKD_BIN ]] || die "stackd not built: $STACKD_BIN (cmake --build build)" ;;
	bpftrace | bpftrace-sum) command -v bpftrace >/dev/null || die "bpftrace not installed" ;;
	*) die "unknown configuration '$c'" ;;
	esac
done
[[ " $CONFIGS " == *" alone "* ]] || log "warning: no 'alone' in CONFIGS: the added columns will be '-'"
for c in gcc curl bpftool jq awk shuf sysctl; do command -v "$c" >/dev/null || die "$c not installed"; done
sysctl -n kernel.bpf_stats_enabled >/dev/null 2>&1 || die "no kernel.bpf_stats_enabled (kernel >= 5.1 needed)"

T=$(mktemp -d "${TMPDIR:-/tmp}/offcpu.XXXXXX")
PIDS=()
OLD_BPF_STATS=$(sysctl -n kernel.bpf_stats_enabled)
bench_traps
trap 'log "failed (line $LINENO): $BASH_COMMAND"' ERR

gcc -O2 -g -pthread -o "$T/pingpong" "$SRC/bench/pingpong.c"
# A copy: a rebuild of the tree during the run (the machine may be shared) changes nothing here.
if [[ " $CONFIGS " == *" stackd "* || " $CONFIGS " == *" offcpu"* ]]; then
	STACKD_SRC=$STACKD_BIN
	cp "$STACKD_BIN" "$T/stackd"
	STACKD_BIN=$T/stackd
fi

# bpftrace-sum: stackd's switch-out / switch-in pairing, in bpftrace. The order is stackd's:
# the thread coming in first (its period ends), then the one going out (stacks, start time).
# Stacks in a map value are stack ids, as stackd's are hashes. Unlike stackd it has no
# --offcpu.min-duration (every period is summed) and walks kernel threads' stacks too.
cat >"$T/sum.bt" <<'EOF'
tracepoint:sched:sched_switch
{
	$t = @start[args->next_pid];
	if ($t) {
		@[@kst[args->next_pid], @ust[args->next_pid], args->next_comm] = sum(nsecs - $t);
		delete(@start[args->next_pid]);
	}
	if (args->prev_pid) {
		@start[args->prev_pid] = nsecs;
		@kst[args->prev_pid] = kstack;
		@ust[args->prev_pid] = ustack;
	}
}
END { clear(@start); clear(@kst); clear(@ust); }
EOF

# "busy total ctxt" of the whole machine, from /proc/stat (clock ticks; steal left out)
sys_stat()
{
	awk '$1 == "cpu" { b = $2 + $3 + $4 + $7 + $8; t = b + $5 + $6 }
		$1 == "ctxt" { c = $2 } END { print b, t, c }' /proc/stat
}

# The ids of the BPF programs PID holds (from its fdinfo), comma-separated
prog_ids()
{
	# shellcheck disable=SC2016 # awk's $2
	find "/proc/$1/fd" -lname 'anon_inode:bpf-prog' -printf "/proc/$1/fdinfo/%f\n" 2>/dev/null |
		{ xargs -r awk '/^prog_id:/ { print $2 }' 2>/dev/null || true; } | sort -un | paste -sd, - || true
}

# prog_stats IDS: "switch_run_time_ns switch_run_cnt all_run_time_ns nswitch nall" over the
# programs IDS (comma-separated), "switch" being stackd_switch or a tracepoint program on
# sched_switch (bpftrace names its programs after the probe)
prog_stats()
{
	local line="" re='^[0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9]+$'
	# bpftool fails now and then when a program goes away while it lists them: retry
	for _ in 1 2 3 4 5; do
		line=$(prog_stats_once "$1" 2>/dev/null || true)
		[[ $line =~ $re ]] && break
		sleep 0.1
	done
	[[ $line =~ $re ]] || die "bpftool -j prog show | jq failed 5 times (last: '$line')"
	echo "$line"
}

prog_stats_once()
{
	bpftool -j prog show 2>/dev/null | jq -r --argjson ids "[${1}]" '
		[.[] | select(.id as $i | $ids | index($i))] as $p
		| [$p[] | select(.name == "stackd_switch" or (.type == "tracepoint" and (.name | test("sched_switch"))))] as $s
		| "\([$s[].run_time_ns // 0] | add // 0) \([$s[].run_cnt // 0] | add // 0) \([$p[].run_time_ns // 0] | add // 0) \($s | length) \($p | length)"'
}

# Programs on sched_switch that are not ours (another stackd, bpftrace, ...): "id:name ..."
foreign_switch_progs()
{
	bpftool -j prog show 2>/dev/null | jq -r --argjson ids "[${1:-}]" '
		[.[] | select((.id as $i | $ids | index($i)) | not)
		     | select(.name == "stackd_switch" or (.name | test("sched_switch")))
		     | "\(.id):\(.name)"] | join(" ")'
}

# quiet_wait: waits (up to QUIET_WAIT s) for a quiet machine; sets BG (busy % over the last
# second) and NOISY ("" or why)
quiet_wait()
{
	local deadline b0 t0 c0 b1 t1 c1 foreign wait=$QUIET_WAIT
	((QUIET_WAITED < QUIET_TOTAL)) || wait=0
	deadline=$(($(now_ms) + wait * 1000))
	while :; do
		read -r b0 t0 c0 < <(sys_stat)
		sleep 1
		read -r b1 t1 c1 < <(sys_stat)
		BG=$(awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.1f", (t > 0 ? 100 * b / t : 0) }')
		foreign=$(foreign_switch_progs "" || true)
		NOISY=""
		awk -v b="$BG" -v m="$QUIET_MAX" 'BEGIN { exit !(b > m) }' && NOISY="bg ${BG}% > ${QUIET_MAX}%"
		[[ -z $foreign ]] || NOISY+="${NOISY:+, }foreign sched_switch programs: $foreign"
		[[ -n $NOISY ]] || return 0
		(($(now_ms) < deadline)) || { log "warning: machine not quiet after ${wait}s ($NOISY): measuring anyway"; return 0; }
		sleep 4
		QUIET_WAITED=$((QUIET_WAITED + 5))
	done
}

sysctl -qw kernel.bpf_stats_enabled=1
log "offcpu: $(uname -r), $NCPU CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), load average $(cut -d' ' -f1-3 /proc/loadavg)"
log "RUNS=$RUNS DURATION=${DURATION}s WARMUP=${WARMUP}s HZ=$HZ PIN=$PIN (threads on CPUs ${PIN_ARGS[*]}) CONFIGS='$CONFIGS'"
[[ -z ${STACKD_SRC:-} ]] || log "stackd: $("$STACKD_BIN" --version 2>&1 | head -n 1) ($STACKD_SRC of $(date -r "$STACKD_SRC" '+%F %T'), HEAD $(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$SRC" diff --quiet HEAD -- agent bpf exporter 2>/dev/null || echo '+dirty')) $STACKD_ARGS"
! command -v bpftrace >/dev/null || log "bpftrace: $(bpftrace --version 2>&1 | head -n 1); bpftool: $(bpftool version 2>&1 | head -n 1)"

RES=$T/results.tsv
: >"$RES"
NOTES=$T/notes
: >"$NOTES"

# mark PINGPONG_PID OUT: asks the workload for a mark; prints "ns round_trips"
mark()
{
	local n0 n
	n0=$(grep -c '^mark ' "$2" || true)
	kill -USR1 "$1"
	for _ in $(seq 100); do
		n=$(grep -c '^mark ' "$2" || true)
		((n > n0)) && break
		sleep 0.01
	done
	((n > n0)) || die "the workload did not answer SIGUSR1 (see $2)"
	awk '/^mark / { l = $2 " " $3 } END { print l }' "$2"
}

# measure CONFIG RUN: appends a row to $RES
measure()
{
	local cfg=$1 run=$2 log=$T/$1.$2.log out=$T/pingpong.$1.$2.out
	local pp pid="" port url ids="" agent="-" bpfns="-" bpfpct="-" nsw
	local b0 t0 c0 b1 t1 c1 w0 w1 m0 m1 k0 k1 p0 p1 srt0 src0 art0 srt1 src1 art1 ms0 ms1
	local -a sargs=()

	quiet_wait
	"$T/pingpong" 0 "${PIN_ARGS[@]}" >"$out" 2>&1 &
	pp=$!
	PIDS+=("$pp")
	sleep 0.2
	kill -0 "$pp" 2>/dev/null || { cat "$out" >&2; die "the workload exited"; }

	case $cfg in
	stackd | offcpu | offcpu-all | offcpu-1ms | offcpu-pid)
		port=$(free_port)
		url=http://127.0.0.1:$port
		read -r -a sargs <<<"$STACKD_ARGS"
		[[ $cfg == stackd ]] || sargs+=(--offcpu.enabled)
		[[ $cfg != offcpu-pid ]] || sargs+=(--profiling.pids="$pp")
		[[ $cfg != offcpu-all ]] || sargs+=(--offcpu.max-walks=1000000)
		[[ $cfg != offcpu-1ms ]] || sargs+=(--offcpu.min-duration=1ms)
		"$STACKD_BIN" --web.listen-address=127.0.0.1:"$port" --profiling.frequency="$HZ" \
			--log.level=warn "${sargs[@]}" >"$log" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		bench_wait_http "$url/-/ready" "$pid" "$log" ready
		;;
	bpftrace | bpftrace-sum)
		if [[ $cfg == bpftrace ]]; then
			bench_start_bpftrace_args "$log" -e 'tracepoint:sched:sched_switch { @[kstack, ustack, comm] = count(); }'
		else
			bench_start_bpftrace_args "$log" "$T/sum.bt"
		fi
		pid=$TOOL_PID
		;;
	esac
	sleep "$WARMUP"
	kill -0 "$pp" 2>/dev/null || { cat "$out" >&2; die "the workload exited"; }
	if [[ -n $pid ]]; then
		ids=$(prog_ids "$pid")
		[[ -n $ids ]] || die "$cfg: no BPF program found in /proc/$pid/fd"
	fi

	# The window. Reads that fork go outside the /proc/stat bracket where they can.
	[[ $cfg != offcpu* ]] || curl -fsS -m 5 -o "$T/metrics.$cfg.$run.0" "$url/metrics"
	[[ -z $pid ]] || read -r srt0 src0 art0 nsw _ < <(prog_stats "$ids")
	read -r ms0 m0 < <(mark "$pp" "$out")
	[[ -z $pid ]] || k0=$(proc_ticks "$pid")
	p0=$(proc_ticks "$pp")
	read -r b0 t0 c0 < <(sys_stat)
	w0=$(now_ms)
	sleep "$DURATION"
	read -r b1 t1 c1 < <(sys_stat)
	w1=$(now_ms)
	p1=$(proc_ticks "$pp")
	[[ -z $pid ]] || k1=$(proc_ticks "$pid")
	read -r ms1 m1 < <(mark "$pp" "$out")
	[[ -z $pid ]] || read -r srt1 src1 art1 nsw _ < <(prog_stats "$ids")
	[[ $cfg != offcpu* ]] || curl -fsS -m 5 -o "$T/metrics.$cfg.$run.1" "$url/metrics"

	local win
	win=$(awk -v a="$ms0" -v b="$ms1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
	if [[ -n $pid ]]; then
		agent=$(awk -v k=$((k1 - k0)) -v hz="$CLK_TCK" -v w="$win" 'BEGIN { printf "%.2f", 100 * k / hz / w }')
		bpfpct=$(awk -v r=$((art1 - art0)) -v w="$win" 'BEGIN { printf "%.3f", 100 * r / 1e9 / w }')
		((nsw == 0 || src1 - src0 <= 0)) || bpfns=$(((srt1 - srt0) / (src1 - src0)))
		((nsw > 0)) || [[ $cfg == stackd ]] || log "warning: $cfg: no sched_switch program among its BPF programs ($ids)"
	fi
	# the machine's busy % and switch rate (ticks are of all CPUs together)
	local busy rt sw other
	other=$(awk -v b=$((b1 - b0)) -v p=$((p1 - p0)) -v k=$((${k1:-0} - ${k0:-0})) -v t=$((t1 - t0)) -v c="$NCPU" \
		'BEGIN { printf "%.1f", (t > 0 ? 100 * c * (b - p - k) / t : 0) }')
	busy=$(awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.2f", (t > 0 ? 100 * b / t : 0) }')
	rt=$(awk -v n=$((m1 - m0)) -v w="$win" 'BEGIN { printf "%d", n / w }')
	sw=$(awk -v n=$((c1 - c0)) -v ms=$((w1 - w0)) 'BEGIN { printf "%d", (ms > 0 ? 1000 * n / ms : 0) }')

	if [[ -n $pid ]]; then
		case $cfg in
		bpftrace*) bench_stop "$pid" INT 300 ;; # prints its map (resolving stacks) at exit
		*) bench_stop "$pid" TERM 100 ;;
		esac
	fi
	bench_stop "$pp" TERM 20
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$HZ" "$cfg" "$run" "$busy" "$rt" "$sw" "$agent" "$bpfns" "$bpfpct" "$BG" "$other" >>"$RES"
	[[ -z $NOISY ]] || printf 'run %s %s: %s\n' "$run" "$cfg" "$NOISY" >>"$NOTES"
	log "run $run $cfg: sys ${busy}% rt/s $rt sw/s $sw agent ${agent}% bpf ${bpfns} ns/switch, ${bpfpct}% other ${other}% (bg ${BG}%; window ${win}s)"
}

est=$((RUNS * $(wc -w <<<"$CONFIGS") * (WARMUP + DURATION + 7) / 60 + 1))
log "about $est min"
for ((run = 1; run <= RUNS; run++)); do
	# shellcheck disable=SC2086
	for cfg in $(shuf -e $CONFIGS); do measure "$cfg" "$run"; done
done

# ------------------------------------------------------------- the table (medians)
# Per run, the added figures against that run's "alone": rows become
# Hz cfg run busy added rt sw us/sw added@rate agent bpfns bpfpct bg other
ADDED=$T/added.tsv
awk -F'\t' -v OFS='\t' -v ncpu="$NCPU" '
	NR == FNR { if ($2 == "alone") { ab[$3] = $4; asw[$3] = $6 } next }
	{
		us = ($6 > 0) ? 1e6 * ($4 / 100 * ncpu) / $6 : 0
		add = "-"; addr = "-"
		if ($3 in ab) {
			add = sprintf("%.1f", ($4 - ab[$3]) * ncpu)
			aus = (asw[$3] > 0) ? 1e6 * (ab[$3] / 100 * ncpu) / asw[$3] : 0
			addr = sprintf("%.1f", (us - aus) * asw[$3] / 1e4)
		}
		print $1, $2, $3, $4, add, $5, $6, sprintf("%.2f", us), addr, $7, $8, $9, $10, $11
	}' "$RES" "$RES" >"$ADDED"

echo
echo "off-CPU profiling cost: pingpong (2 threads, one byte over two pipes, PIN=$PIN: CPUs ${PIN_ARGS[*]}) on $NCPU CPUs;"
echo "${DURATION}s window after ${WARMUP}s; median of $RUNS run(s), each in shuffled order; stackd at $HZ Hz CPU sampling"
echo
awk -F'\t' "$BENCH_AWK_MEDIANS"'
	BEGIN {
		label["alone"] = "(1) workload alone"
		label["stackd"] = "(2) stackd, off-CPU off"
		label["offcpu"] = "(3) stackd --offcpu.enabled"
		label["offcpu-pid"] = "(4) stackd offcpu, pids=workload"
		label["offcpu-all"] = "(3b) stackd offcpu, all walked"
		label["offcpu-1ms"] = "(3c) stackd offcpu, min 1 ms"
		label["bpftrace"] = "(5) bpftrace sched_switch count"
		label["bpftrace-sum"] = "(6) bpftrace sched_switch sum"
	}
	END {
		fmt = "%-33s %10s %7s %7s %7s %6s %10s %7s %9s %7s %5s %6s\n"
		printf fmt, "configuration", "sys cpu%", "added", "rt/s", "sw/s", "us/sw", "added@rate", "agent%", "bpf ns/sw", "bpf%", "bg%", "other%"
		printf fmt, "", "(all CPUs)", "(% CPU)", "", "", "", "(% CPU)", "(% CPU)", "", "(% CPU)", "", "(% CPU)"
		for (k = 1; k <= nk; k++) {
			key = order[k]
			t = tool[key]
			printf fmt, (t in label) ? label[t] : t, median(key, 4), median(key, 5), median(key, 6), median(key, 7),
				median(key, 8), median(key, 9), median(key, 10), median(key, 11), median(key, 12), median(key, 13), median(key, 14)
			add[t] = median(key, 5); addr[t] = median(key, 9); ns[t] = median(key, 11); sw[t] = median(key, 7)
		}
		print ""
		if (("offcpu" in add) && ("bpftrace" in add) && add["offcpu"] != "-" && add["bpftrace"] != "-") {
			v = (add["offcpu"] + 0 <= add["bpftrace"] + 0) ? "MET" : "NOT MET"
			printf "verdict: stackd --offcpu.enabled adds %s%% of a CPU, bpftrace (count) %s%%", add["offcpu"], add["bpftrace"]
			if ("bpftrace-sum" in add) printf ", bpftrace (sum) %s%%", add["bpftrace-sum"]
			printf " -> target (<= bpftrace) %s\n", v
			v = (addr["offcpu"] + 0 <= addr["bpftrace"] + 0) ? "<=" : ">"
			printf "         at the untraced switch rate (added@rate): stackd %s%% %s bpftrace %s%%\n", addr["offcpu"], v, addr["bpftrace"]
		}
		for (t in ns) if (ns[t] != "-" && ns[t] + 0 > 0)
			printf "  %-13s BPF %6s ns per switch: 1%% of one CPU at %d switches/s\n", t, ns[t], 1e7 / ns[t]
		for (t in addr) if (t != "alone" && addr[t] != "-" && addr[t] + 0 > 0 && sw[t] + 0 > 0)
			printf "  %-13s whole machine %.2f us per switch added: 1%% of one CPU at %d switches/s\n", t,
				addr[t] * 1e4 / sw["alone"], 1e4 / (addr[t] * 1e4 / sw["alone"])
	}' "$ADDED"

# stackd's own counters over the last run of each off-CPU configuration
for cfg in offcpu offcpu-all offcpu-1ms offcpu-pid; do
	f0=$T/metrics.$cfg.$RUNS.0
	f1=$T/metrics.$cfg.$RUNS.1
	[[ -s $f1 ]] || continue
	echo
	echo "stackd /metrics, $cfg, run $RUNS, at the end of the window (delta over the window in brackets):"
	awk -v w="$DURATION" '
		NR == FNR { if ($1 ~ /^stackd_/) v0[$1] = $2; next }
		$1 ~ /^stackd_(offcpu_(periods|short_periods|short_seconds|unsampled|deferred_walks|user_stack_lost|user_walks|dropped|seconds_cut)_total|unwind_walks_total)/ ||
		index($1, "stackd_offcpu_seconds_total{comm=\"pingpong\"") == 1 {
			d = ($1 in v0) ? $2 - v0[$1] : $2
			printf "  %-70s %14s  (+%.0f, %.0f/s)\n", $1, $2, d, d / w
		}' "$f0" "$f1"
done

if [[ -s $NOTES ]]; then
	echo
	echo "noisy runs (measured anyway; the bg% column shows how busy the machine was before each run):"
	sed 's/^/  /' "$NOTES"
fi
echo
echo "raw per-run rows: Hz config run sys_cpu% added rt/s sw/s us/sw added@rate agent% bpf_ns/sw bpf% bg% other%"
sed 's/^/  /' "$ADDED"
echo "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
