#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Lifecycle under a stuck worker (issue 10, item 6).
#
#   hook:    STACKD_TEST_STALL_DRAIN=FIFO (compiled only into builds with tests): while FIFO
#            exists each drain blocks opening it, as an open() of a hostile FIFO would, until
#            the test opens it for writing
#   checks:  under strace, no file of a sampled process (/proc/PID/...) is opened before the last
#            capset() of the privilege drop;
#            the agent is not dumpable: SIGABRT leaves no core file, where a control process
#            in the same directory with the same RLIMIT_CORE does leave one;
#            a normal SIGTERM still exits 0;
#            with the drain stuck, /-/ready turns 503 within 3 drain intervals (min 5 s) + 5 s,
#            stackd_drain_stalled is 1 and the log says where the drain thread is stuck;
#            once the drain resumes, /-/ready is 200 again and stackd_drain_stalled 0;
#            SIGTERM with the drain stuck ends the agent within 5 s (exit 1, the stuck stage
#            logged): the figure printed is the time from SIGTERM to exit;
#            a second SIGTERM during a stuck shutdown ends it at once (< 1.5 s).
# shellcheck source-path=SCRIPTDIR disable=SC2119
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_require_bpf
e2e_require_cmd curl mkfifo

FIFO=$T/stall.fifo
# Only this shell is sampled: other processes on the node (other tests' hostile fixtures)
# must not be what stalls the drain here; the hook alone does.
ONLY_ME=("--profiling.pids=$$")
export STACKD_TEST_STALL_DRAIN=$FIFO

# ready_status: the HTTP status of /-/ready.
ready_status() { curl -s -m 2 -o /dev/null -w '%{http_code}' "$AGENT_URL/-/ready" || true; }

# wait_ready WANT TIMEOUT_S: /-/ready answers WANT within the timeout; prints the ms it took.
wait_ready()
{
	local t0 deadline
	t0=$(now_ms)
	deadline=$((t0 + $2 * 1000))
	until [[ $(ready_status) == "$1" ]]; do
		(($(now_ms) < deadline)) || fail "/-/ready did not answer $1 within $2 s (last $(ready_status))"
		sleep 0.2
	done
	echo $(($(now_ms) - t0))
}

stalled_metric()
{
	curl -fsS -m 2 "$AGENT_URL/metrics" >"$T/m.txt" || fail "/metrics failed with the drain stuck"
	metric_val "$T/m.txt" stackd_drain_stalled
}

# unstall: let the blocked open() through and stop further drains from blocking.
unstall()
{
	local fd
	exec {fd}>"$FIFO" # completes the drain thread's open() (it is the reader)
	rm -f "$FIFO"
	exec {fd}>&-
}

# stop_timed SIGNAL...: signal the agent (several signals 0.5 s apart), wait up to 15 s;
# sets STOP_MS (first signal to exit) and STOP_RC.
stop_timed()
{
	local t0 i sigs=("$@") pid=$AGENT_PID
	t0=$(now_ms)
	for ((i = 0; i < ${#sigs[@]}; i++)); do
		((i == 0)) || sleep 0.5 # two signals at once would be one pending signal
		kill -"${sigs[i]}" "$pid"
	done
	e2e_wait_exit "$pid" 15 || fail "agent did not exit within 15 s of SIG$1"
	STOP_MS=$(($(now_ms) - t0))
	STOP_RC=0
	wait "$pid" || STOP_RC=$?
	e2e_untrack "$pid"
	AGENT_PID=""
}

# wait_drains N: at least N drains completed (the first drains of a loaded machine are slow).
wait_drains()
{
	local deadline=$(($(now_ms) + 60000))
	until curl -fsS -m 2 "$AGENT_URL/metrics" >"$T/d.txt" 2>/dev/null &&
		(($(metric_val "$T/d.txt" stackd_drains_total) >= $1)); do
		(($(now_ms) < deadline)) || fail "fewer than $1 drains in 60 s"
		sleep 0.2
	done
}

# stall: make the next drain block in the hook, and wait until one does.
stall()
{
	wait_drains 2
	mkfifo "$FIFO"
	sleep 2 # the next drain (every 1 s) now blocks in the hook
}

# ---- privileges are dropped before the first file a process controls is opened
command -v strace >/dev/null 2>&1 || skip_or_fail "strace not installed: cannot observe the start-up order"
(while :; do :; done) &
busy=$!
e2e_track "$busy"
printf '#!/bin/sh\nexec strace -f -qq -o "%s" -e trace=openat,capset "%s" "$@"\n' \
	"$T/strace.txt" "$STACKD_BIN" >"$T/strace-stackd"
chmod +x "$T/strace-stackd"
real_bin=$STACKD_BIN
STACKD_BIN=$T/strace-stackd
agent_start "--profiling.pids=$busy" --profiling.frequency=99 --profiling.drain-interval=100ms
STACKD_BIN=$real_bin
wait_drains 3
# Each thread's first capset is its drop (a straggler signalled twice repeats it, harmlessly);
# the first open of the busy process's files (its maps, exe, cgroup...) must come after all.
last_capset=$(awk '/capset\(/ && !seen[$1]++ { last = NR } END { if (last) print last }' "$T/strace.txt")
first_open=$(grep -nE "openat\(.*\"/proc/$busy/" "$T/strace.txt" | head -1 | cut -d: -f1)
[[ -n $last_capset && -n $first_open ]] ||
	fail "strace shows no capset (${last_capset:-none}) or no open of /proc/$busy (${first_open:-none})"
info "strace: last thread's first capset at line $last_capset, first open of /proc/$busy/ at line $first_open: $(sed -n "${first_open}p" "$T/strace.txt" | cut -c1-100)"
check "$((first_open > last_capset))" "no /proc/$busy file opened before every thread dropped its privileges"
agent_real=$(pgrep -P "$AGENT_PID" | head -1)
kill -TERM "$agent_real" 2>/dev/null || true
e2e_wait_exit "$AGENT_PID" 10 || fail "the agent under strace did not stop"
wait "$AGENT_PID" || true
e2e_untrack "$AGENT_PID"
AGENT_PID=""
kill "$busy"
wait "$busy" 2>/dev/null || true
e2e_untrack "$busy"

# ---- not dumpable: other processes' stack bytes live in the agent's memory
mkdir -p "$T/cwd"
cd "$T/cwd"
ulimit -c unlimited || skip_or_fail "cannot raise RLIMIT_CORE"
for ((i = 0; i < 3; i++)); do
	sleep 30 &
	ctl=$!
	sleep 0.2 # past the exec: the sleep itself dumps
	kill -ABRT "$ctl"
	wait "$ctl" || true
	ctl_cores=$(find . -maxdepth 1 -name 'core*' | wc -l)
	((ctl_cores == 0)) || break
done
((ctl_cores > 0)) || skip_or_fail "a dumpable control process left no core in its directory (core_pattern '$(cat /proc/sys/kernel/core_pattern)'): cannot observe the agent's"
rm -f core*
agent_start "${ONLY_ME[@]}" --profiling.frequency=49
kill -ABRT "$AGENT_PID"
e2e_wait_exit "$AGENT_PID" 10 || fail "agent did not die of SIGABRT"
wait "$AGENT_PID" || true
e2e_untrack "$AGENT_PID"
AGENT_PID=""
agent_cores=$(find . -maxdepth 1 -name 'core*' | wc -l)
check "$((agent_cores == 0))" "SIGABRT left $agent_cores core file(s) of the agent (a control process left $ctl_cores): PR_SET_DUMPABLE 0"
rm -f core*
ulimit -c 0
cd "$T"

# ---- a normal shutdown is still clean
agent_start "${ONLY_ME[@]}" --profiling.frequency=49
agent_stop TERM

# ---- a stuck drain turns /-/ready into 503 and a metric, and back
agent_start "${ONLY_ME[@]}" --profiling.frequency=49 --profiling.drain-interval=1s
wait_drains 2
check "$(($(stalled_metric) == 0))" "stackd_drain_stalled 0 while draining"
mkfifo "$FIFO"
ms=$(wait_ready 503 15)
info "drain stuck: /-/ready 503 after $ms ms"
check "$(($(stalled_metric) == 1))" "stackd_drain_stalled 1 with the drain stuck"
body=$(curl -s -m 2 "$AGENT_URL/-/ready" || true)
[[ $body == "Not ready: the drain is stalled: no drain for "* ]] ||
	fail "/-/ready's 503 does not say the drain is stalled: '$body'"
info "/-/ready: $body"
grep -q 'drain thread made no progress for .* (stuck in [a-z]' "$AGENT_LOG" ||
	fail "no log line saying where the drain thread is stuck"
info "log: $(grep -m1 -o 'drain thread made no progress[^"]*' "$AGENT_LOG")"
last=$(metric_val "$T/m.txt" stackd_drain_last_success_timestamp_seconds)
age=$(awk -v l="$last" -v n="$(date +%s)" 'BEGIN { printf "%d", n - l }')
check "$((age >= 4 && age < 60))" "stackd_drain_last_success_timestamp_seconds is ${age}s old"
unstall
ms=$(wait_ready 200 10)
info "drain resumed: /-/ready 200 after $ms ms"
check "$(($(stalled_metric) == 0))" "stackd_drain_stalled back to 0"
grep -q 'drain resumed' "$AGENT_LOG" || fail "no 'drain resumed' log line"

# ---- SIGTERM with the drain stuck: gone within 5 s, saying where it was stuck
stall
stop_timed TERM
TERM_MS=$STOP_MS
info "SIGTERM with the drain stuck: exit status $STOP_RC after $STOP_MS ms"
check "$((STOP_MS <= 5000))" "SIGTERM ended the agent in $STOP_MS ms (<= 5000)"
check "$((STOP_RC == 1))" "a shutdown cut short exits 1 (got $STOP_RC)"
grep -q 'shutdown did not finish within 4 s, stuck stopping the drain thread (drain thread in [a-z]' "$AGENT_LOG" ||
	fail "the forced exit does not name the stuck stage"
info "log: $(grep -m1 -o 'shutdown did not finish[^"]*' "$AGENT_LOG")"
rm -f "$FIFO"

# ---- a second SIGTERM ends a stuck shutdown at once
agent_start "${ONLY_ME[@]}" --profiling.frequency=49 --profiling.drain-interval=1s
stall
stop_timed TERM TERM
info "two SIGTERMs 0.5 s apart with the drain stuck: exit status $STOP_RC after $STOP_MS ms"
check "$((STOP_MS < 2000))" "the second SIGTERM ended the agent at once ($STOP_MS ms after the first)"
check "$((STOP_RC == 1))" "exit status 1 after the second signal (got $STOP_RC)"
grep -q 'second SIGTERM' "$AGENT_LOG" || fail "no log line for the second SIGTERM"
rm -f "$FIFO"

pass "not dumpable; clean SIGTERM; stuck drain -> 503 + metric and back; SIGTERM exit in $TERM_MS ms"
