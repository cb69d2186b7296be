# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# Pieces shared by the bench scripts that run profilers side by side (agent_overhead.sh,
# unwind_overhead.sh) and by the others where they fit: sourced, never run.
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# The sourcing script owns these globals: T (scratch directory), PIDS (processes to kill on
# exit), OLD_BPF_STATS (kernel.bpf_stats_enabled to restore, if set), KEEP_TMP.

BENCH_NAME=${BENCH_NAME:-$(basename "$0" .sh)}

die() { echo "$BENCH_NAME: $*" >&2; exit 1; }
log() { echo "# $*" >&2; }

now_ms() { local t=${EPOCHREALTIME/./}; echo $((10#$t / 1000)); }

# utime+stime of the whole process, in clock ticks
proc_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
vm_hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# On exit (any exit): stop every process in PIDS (TERM, 5 s, KILL), restore
# kernel.bpf_stats_enabled, and remove $T unless KEEP_TMP=1 or the script failed.
bench_cleanup()
{
	local rc=$? p
	trap - EXIT INT TERM
	set +e
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	[[ -z ${OLD_BPF_STATS:-} ]] || sysctl -qw kernel.bpf_stats_enabled="$OLD_BPF_STATS"
	# A script's own last words (e.g. removing a cgroup), after its processes are gone.
	! declare -F bench_cleanup_hook >/dev/null || bench_cleanup_hook
	if [[ ${KEEP_TMP:-0} == 1 || $rc != 0 ]]; then
		echo "# raw results and logs kept in $T" >&2
	else
		rm -rf "$T"
	fi
	exit "$rc"
}

bench_traps()
{
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# Forget PID (it was waited for).
untrack()
{
	local p keep=()
	for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

# bench_start_busy N PROGRAM ARGS...: N copies, pinned round-robin to the CPUs when taskset
# exists; their pids go to PIDS and BUSY_PIDS.
bench_start_busy()
{
	local n=$1 i
	shift
	BUSY_PIDS=()
	for ((i = 0; i < n; i++)); do
		if command -v taskset >/dev/null; then
			taskset -c $((i % $(nproc))) "$@" >/dev/null &
		else
			"$@" >/dev/null &
		fi
		PIDS+=($!)
		BUSY_PIDS+=($!)
	done
}

# bench_wait_http URL PID LOG WHAT: until URL answers 2xx, for at most 20 s; dies (showing
# LOG) when PID exits first or the time is up. WHAT says what the URL means ("healthy").
bench_wait_http()
{
	local url=$1 pid=$2 log=$3 what=$4 deadline
	deadline=$(($(now_ms) + 20000))
	until curl -fs -m 1 -o /dev/null "$url"; do
		kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "stackd exited"; }
		(($(now_ms) < deadline)) || { cat "$log" >&2; die "stackd not $what in 20 s"; }
		sleep 0.2
	done
}

# bench_start_bpftrace_args LOG ARG...: `bpftrace ARG...` in the background, its output in LOG;
# its pid in TOOL_PID and PIDS once it attached (dies if it exits or takes 30 s).
bench_start_bpftrace_args()
{
	local log=$1 deadline
	shift
	bpftrace "$@" >"$log" 2>&1 &
	TOOL_PID=$!
	PIDS+=("$TOOL_PID")
	deadline=$(($(now_ms) + 30000))
	until grep -q '^Attaching' "$log"; do
		kill -0 "$TOOL_PID" 2>/dev/null || { cat "$log" >&2; die "bpftrace exited"; }
		(($(now_ms) < deadline)) || die "bpftrace did not attach in 30 s"
		sleep 0.2
	done
}

# bench_start_bpftrace HZ LOG: bpftrace sampling every CPU at HZ with kernel and user stacks
# (stackd's reference), as bench_start_bpftrace_args.
bench_start_bpftrace()
{
	bench_start_bpftrace_args "$2" -e "profile:hz:$1 { @[kstack, ustack, comm] = count(); }"
}

# bench_start_perf HZ LOG DATA: perf record -g of every CPU at HZ into DATA, in the
# background; its pid in TOOL_PID and PIDS.
bench_start_perf()
{
	perf record -e cpu-clock -F "$1" -a -g -o "$3" >"$2" 2>&1 &
	TOOL_PID=$!
	PIDS+=("$TOOL_PID")
	sleep 1
	kill -0 "$TOOL_PID" 2>/dev/null || { cat "$2" >&2; die "perf record exited"; }
}

# bench_stop PID SIGNAL TENTHS: signal PID, wait up to TENTHS x 0.1 s, then KILL; reaps it.
bench_stop()
{
	local pid=$1
	kill -"$2" "$pid"
	for _ in $(seq "$3"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	untrack "$pid"
}

# perf_event BPF programs held by PID: "run_time_ns run_cnt nprogs", summed. Read from
# /proc/PID/fdinfo of its bpf-prog fds: the same kernel counters `bpftool prog show`
# prints as run_time_ns/run_cnt (with kernel.bpf_stats_enabled=1), without a fork per read.
bpf_stats()
{
	local pid=$1 files=()
	mapfile -t files < <(find "/proc/$pid/fd" -lname 'anon_inode:bpf-prog' -printf "/proc/$pid/fdinfo/%f\n" 2>/dev/null)
	((${#files[@]})) || { echo "0 0 0"; return; }
	awk 'function flush() { if (t == 7 && id != "" && !(id in seen)) { seen[id] = 1; RT += rt; RC += rc; n++ } t = id = rt = rc = "" }
		FNR == 1 && NR > 1 { flush() }
		/^prog_type:/ { t = $2 } /^prog_id:/ { id = $2 } /^run_time_ns:/ { rt = $2 } /^run_cnt:/ { rc = $2 }
		END { flush(); printf "%d %d %d\n", RT, RC, n }' "${files[@]}" 2>/dev/null
}

free_port()
{
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 12000))
		[[ -n $(ss -Htan "sport = :$p" 2>/dev/null) ]] || { echo "$p"; return; }
	done
	die "no free port"
}

# The median of the numbers on stdin, one per line.
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# The front of the awk program that prints a results table: reads rows "Hz tool run v4 v5 ..."
# (tab-separated) and defines median(key, col) over the runs of one (Hz, tool); "-" when a run
# has no value. Append an END block: awk -F'\t' "$BENCH_AWK_MEDIANS"' END { ... }' RESULTS
# shellcheck disable=SC2016,SC2034
BENCH_AWK_MEDIANS='
	function median(key, col,    n, i, j, v, a, tmp) {
		n = cnt[key]
		for (i = 1; i <= n; i++) a[i] = val[key, i, col]
		for (i = 1; i <= n; i++) if (a[i] == "-") return "-"
		for (i = 2; i <= n; i++) { tmp = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > tmp + 0; j--) a[j + 1] = a[j]; a[j + 1] = tmp }
		if (n % 2) return a[(n + 1) / 2]
		v = (a[n / 2] + a[n / 2 + 1]) / 2
		return (v == int(v)) ? v : sprintf("%.2f", v)
	}
	{
		key = $1 SUBSEP $2
		if (!(key in cnt)) order[++nk] = key
		c = ++cnt[key]
		for (i = 4; i <= NF; i++) val[key, c, i] = $i
		hz[key] = $1; tool[key] = $2
	}
'
