#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Short periods off CPU are counted, not walked; long ones in a system call are walked on the
# way back, in the thread's own context, and keep their whole user stack.
#
#   fixture: bench/pingpong.c (two threads pass one byte over two pipes: every round trip is
#            two blocking read(2)s, tens of thousands of periods off CPU a second, each a few
#            to a few tens of µs), its threads pinned to CPUs 0 and 1 when there are two
#   agent:   --offcpu.enabled --offcpu.max-walks=1000000 (no sampling: every switch-out
#            counts) --profiling.pids=<pingpong>, run twice:
#            short: --offcpu.min-duration=1s (every period of the workload is shorter)
#            long:  --offcpu.min-duration=1us (almost every period is longer)
#   checks:  short, over WINDOW s: >= 10,000 periods counted short
#            (stackd_offcpu_short_periods_total) and the user walks
#            (stackd_offcpu_user_walks_total) at most 1% of them (preemptions, walked at the
#            switch-out, where their registers are);
#            long: >= 10,000 periods recorded, >= 90% of them walked on the way back
#            (stackd_offcpu_deferred_walks_total), <= 1% of those without a user stack
#            (stackd_offcpu_user_stack_lost_total); /debug/pprof/offcpu: >= 95% of the
#            workload's off-CPU ns in stacks whose user frames read, leaf first,
#            read;xfer;ping_loop|pong_loop;start_thread;clone3 (the thread's whole chain).
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WINDOW=4

e2e_require_bpf
e2e_require_cmd "$FIXTURE_CC" curl go

"$FIXTURE_CC" -O2 -g -pthread -Wall -o "$T/pingpong" "$STACKD_SRC/bench/pingpong.c" ||
	fail "cannot build bench/pingpong.c with $FIXTURE_CC"
cpus=(-1 -1)
(($(nproc) >= 2)) && cpus=(0 1)
e2e_bg pingpong "$T/pingpong" 60 "${cpus[@]}"
pp=$BG_PID
sleep 0.5
kill -0 "$pp" 2>/dev/null || fail "pingpong exited: $(cat "$T/pingpong.out")"

# delta NAME METRIC: METRIC's growth between $T/NAME.0.prom and $T/NAME.1.prom.
delta()
{
	awk -v a="$(metric_val "$T/$1.0.prom" "$2")" -v b="$(metric_val "$T/$1.1.prom" "$2")" \
		'BEGIN { printf "%.0f\n", b - a }'
}

# run NAME MIN_DURATION: an agent for pingpong only, /metrics WINDOW s apart.
run()
{
	agent_start --profiling.frequency=19 --offcpu.enabled --offcpu.max-walks=1000000 \
		--offcpu.min-duration="$2" --profiling.pids="$pp"
	sleep 1.5 # the tables are in, the first drain passed
	curl -fsS -m 10 -o "$T/$1.0.prom" "$AGENT_URL/metrics" || fail "GET /metrics failed"
	sleep "$WINDOW"
	curl -fsS -m 10 -o "$T/$1.1.prom" "$AGENT_URL/metrics" || fail "GET /metrics failed"
	short_periods=$(delta "$1" stackd_offcpu_short_periods_total)
	periods=$(delta "$1" stackd_offcpu_periods_total)
	user_walks=$(delta "$1" stackd_offcpu_user_walks_total)
	deferred_walks=$(delta "$1" stackd_offcpu_deferred_walks_total)
	user_stack_lost=$(delta "$1" stackd_offcpu_user_stack_lost_total)
	unsampled=$(delta "$1" stackd_offcpu_unsampled_total)
	info "$1 (--offcpu.min-duration=$2) over $WINDOW s: short $short_periods, recorded $periods," \
		"user walks $user_walks, deferred $deferred_walks, without user stack $user_stack_lost," \
		"unsampled $unsampled"
}

run short 1s
check "$((short_periods >= 10000))" "min 1s: $short_periods periods counted short (want >= 10000)"
check "$((100 * user_walks <= short_periods))" \
	"min 1s: $user_walks user walks for $short_periods short periods (want <= 1%)"
short_walks="$user_walks for $short_periods"
agent_stop

run long 1us
check "$((periods >= 10000))" "min 1us: $periods periods recorded (want >= 10000)"
check "$((10 * deferred_walks >= 9 * periods))" \
	"min 1us: $deferred_walks of $periods recorded periods walked at the system call's exit (want >= 90%)"
check "$((100 * user_stack_lost <= deferred_walks))" \
	"min 1us: $user_stack_lost of $deferred_walks deferred periods without a user stack (want <= 1%)"

code=$(curl -sS -m 30 -o "$T/offcpu.pb.gz" -w '%{http_code}' "$AGENT_URL/debug/pprof/offcpu?seconds=2") || true
[[ $code == 200 ]] || fail "GET /debug/pprof/offcpu: HTTP ${code:-none}"
e2e_pprof -symbolize=none -raw "$T/offcpu.pb.gz" >"$T/offcpu.raw" 2>"$T/offcpu.err" ||
	fail "go tool pprof -raw failed: $(head -c 300 "$T/offcpu.err")"
# pprof_flatten's COUNT is the first value: switches. Weigh by it (each period counts once).
pprof_flatten <"$T/offcpu.raw" >"$T/offcpu.tsv"
read -r all good < <(chain_share "$T/offcpu.tsv" \
	'^([^;]*read;)+xfer;(ping|pong)_loop;start_thread;(__)?clone3$' "$T/offcpu.other" "$pp")
if [[ -s $T/offcpu.other ]]; then
	info "other chains (periods, user frames leaf first):"
	cut -c1-400 "$T/offcpu.other" | sed 's/^/      /'
fi
check "$((all > 1000 && 100 * good >= 95 * all))" \
	"/debug/pprof/offcpu: $good of $all periods of pingpong have read <- xfer <- ping_loop|pong_loop <- start_thread <- clone3"
agent_stop
pass "short periods counted without a user walk ($short_walks); long ones walked at the system call's exit with whole stacks ($good of $all)"
