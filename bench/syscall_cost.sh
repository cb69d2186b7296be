#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# What off-CPU profiling adds to every system call of the node: with --offcpu.enabled the
# agent hooks raw_syscalls:sys_exit (the user stack of a long period off CPU is walked
# there, in the thread's own context), so every system call's exit runs one small BPF
# program, and the tracepoint's slow exit path. This measures it against a bpftrace program
# at the same tracepoint doing the lookup a hash-keyed design would (one map lookup by tid).
#
#   sudo bench/syscall_cost.sh                 # RUNS=7 x 4 configurations: ~1 min
#
# Needs root, gcc, curl, bpftrace, bpftool, jq. The workload is bench/syscall_loop.c (gcc -O2):
# N getppid(2) calls, timed by itself (ns per call). Configurations, each run in its own
# shuffled order:
#   alone      the workload only
#   stackd     stackd --profiling.frequency=99 (off-CPU off: no sys_exit program)
#   offcpu     stackd --profiling.frequency=99 --offcpu.enabled
#   bpftrace   bpftrace 'BEGIN { @due[0] = 1; } tracepoint:raw_syscalls:sys_exit { if (@due[tid]) { delete(@due[tid]); } }'
# Columns (medians over the runs): ns/call, added ns/call against alone's, and for stackd's
# sys_exit program its own run time per call (bpftool prog show, kernel.bpf_stats_enabled).
#
# Environment: RUNS (7), CALLS (2000000), STACKD_BIN (build/stackd), KEEP_TMP=1.
set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-7}
CALLS=${CALLS:-2000000}
STACKD_BIN=${STACKD_BIN:-$SRC/build/stackd}
CONFIGS="alone stackd offcpu bpftrace"

((EUID == 0)) || die "run as root (BPF)"
for c in gcc curl bpftrace bpftool jq; do command -v "$c" >/dev/null || die "$c not installed"; done
[[ -x $STACKD_BIN ]] || die "stackd not built: $STACKD_BIN"

T=$(mktemp -d /tmp/syscall_cost.XXXXXX)
PIDS=()
bench_traps
OLD_BPF_STATS=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1
cp "$STACKD_BIN" "$T/stackd"
gcc -O2 -o "$T/syscall_loop" "$SRC/bench/syscall_loop.c"

log "$(uname -r), $(nproc) CPUs; RUNS=$RUNS CALLS=$CALLS; stackd $("$T/stackd" --version 2>&1 | head -n 1)"
log "bpftrace: $(bpftrace --version)"

# sysexit_stats: "run_time_ns run_cnt" of stackd's sys_exit program, 0 0 if none.
sysexit_stats()
{
	bpftool prog show -j | jq -r '[.[] | select(.name == "stackd_sys_exit")] |
		"\([.[].run_time_ns // 0] | add // 0) \([.[].run_cnt // 0] | add // 0)"'
}

measure()
{
	local cfg=$1 run=$2 pid="" port ns s0 s1
	case $cfg in
	stackd | offcpu)
		port=$(free_port)
		local args=(--web.listen-address=127.0.0.1:"$port" --profiling.frequency=99 --log.level=warn)
		[[ $cfg == stackd ]] || args+=(--offcpu.enabled)
		"$T/stackd" "${args[@]}" >"$T/$cfg.$run.log" 2>&1 &
		pid=$!
		PIDS+=("$pid")
		bench_wait_http "http://127.0.0.1:$port/-/ready" "$pid" "$T/$cfg.$run.log" ready
		sleep 1
		;;
	bpftrace)
		bench_start_bpftrace_args "$T/$cfg.$run.log" \
			-e 'BEGIN { @due[0] = 1; } tracepoint:raw_syscalls:sys_exit { if (@due[tid]) { delete(@due[tid]); } }'
		pid=$TOOL_PID
		sleep 1
		;;
	esac
	read -r s0 _ < <(sysexit_stats)
	ns=$("$T/syscall_loop" "$CALLS" | awk '{ print $2 }')
	read -r s1 _ < <(sysexit_stats)
	[[ -z $pid ]] || bench_stop "$pid" TERM 50
	# Only offcpu runs stackd's sys_exit program (a stopping agent's may still be listed).
	local p=-
	[[ $cfg != offcpu ]] || p=$(awk -v a="$s0" -v b="$s1" -v n="$CALLS" 'BEGIN { printf "%.1f", (b - a) / n }')
	printf '%s\t%s\t%s\t%s\n' "$cfg" "$run" "$ns" "$p" >>"$T/rows"
	log "run $run $cfg: $ns ns/call (stackd_sys_exit: $(tail -n 1 "$T/rows" | cut -f4) ns/call)"
}

for run in $(seq "$RUNS"); do
	# shellcheck disable=SC2086
	for cfg in $(shuf -e $CONFIGS); do measure "$cfg" "$run"; done
done

echo
echo "system call cost: getppid x $CALLS, median of $RUNS runs, each in shuffled order"
printf '%-40s %10s %12s %18s\n' configuration ns/call added "sys_exit prog ns"
for cfg in $CONFIGS; do
	m=$(awk -F'\t' -v c="$cfg" '$1 == c { print $3 }' "$T/rows" | median)
	b=$(awk -F'\t' '$1 == "alone" { print $3 }' "$T/rows" | median)
	p=$(awk -F'\t' -v c="$cfg" '$1 == c { print $4 }' "$T/rows" | median)
	case $cfg in
	alone) l="(1) workload alone" ;;
	stackd) l="(2) stackd, off-CPU off" ;;
	offcpu) l="(3) stackd --offcpu.enabled" ;;
	bpftrace) l="(4) bpftrace sys_exit lookup by tid" ;;
	esac
	printf '%-40s %10.1f %12.1f %18s\n' "$l" "$m" "$(awk -v a="$m" -v b="$b" 'BEGIN { print a - b }')" \
		"$([[ $cfg == offcpu ]] && echo "$p" || echo -)"
done
echo
echo "raw rows: config run ns/call sys_exit_prog_ns/call"
sed 's/^/  /' "$T/rows"
