#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The kernel's unwind_procs map (--unwind.mode=kernel: tgid -> the process's leader start
# time and executable mappings with their unwind tables) holds only processes the agent
# still tracks, and an entry is never applied to another process (issues 10, 12): a leaked
# entry costs 10 KiB of kernel memory and a slot of a --process.max-sized map, and an
# entry applied to a process that reused its pid would walk it with another image's tables.
#
#   fixtures: unwind_deep built `clang -O2 -g -fomit-frame-pointer`, cpu_chain; every one
#             started in a cgroup of its own that the agent is scoped to, so other work on the
#             node neither fills the map nor moves the counters
#   agent:    --unwind.mode=kernel --process.max=16 --profiling.cgroups=<that cgroup>
#   checks:   (a) deep fixture X gets an entry holding its start time, then is stopped
#                 (SIGSTOP: alive, no longer sampled) while 20 cpu_chain processes are
#                 sampled: the process table evicts X (stackd_processes_evicted_total{reason=
#                 "capacity"} moves) and X's entry must be gone within 30 s while X lives;
#             (e) X continued: sampled again, it gets its entry back within 10 s (a reload
#                 from its bridge samples: it is announced only once);
#             (b) deep fixture Y gets an entry, then is SIGKILLed: its entry is gone within 5 s;
#             (c) X is killed and its pid given to a new cpu_chain process Z (pid reuse forced
#                 through /proc/sys/kernel/ns_last_pid); once Z is walked, its entry is
#                 replaced by one holding X's start time (an entry that outlived its process):
#                 over 5 s none of Z's samples is walked with it (stackd_unwind_walks_total
#                 stays, stackd_unwind_bridge_samples_total moves);
#             (d) unwind_procs filled up with bpftool: a new deep fixture gets no entry and
#                 stackd_unwind_process_entries_refused_total says so within 10 s.
#   prints:   every entry seen, the counters that moved.
# Every check runs (a failed one is reported and the test goes on), so one run shows which
# of (a)-(e) an agent gets wrong; the test fails if any did.
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HZ=99
MAX_PROCS=16  # the smallest --process.max
NR_CROWD=20   # processes sampled while X is stopped: more than MAX_PROCS
EVICT_WAIT=30 # seconds for the table to evict X and the agent to drop its entry
GONE_WAIT=5   # seconds for an exited process's entry to go
CLK_TCK=$(getconf CLK_TCK)
FAILED=()

e2e_require_bpf
e2e_require_cmd clang bpftool curl objdump
[[ -w /proc/sys/kernel/ns_last_pid ]] || skip_or_fail "/proc/sys/kernel/ns_last_pid not writable: cannot force pid reuse"

# part_check COND MSG: like check, but a failure is recorded and the test goes on.
part_check()
{
	if [[ $1 == 1 ]]; then
		printf '[%s] ok: %s\n' "$E2E_NAME" "$2"
	else
		printf '[%s] FAILED: %s\n' "$E2E_NAME" "$2" >&2
		FAILED+=("$2")
	fi
}

CG_ROOT=$(e2e_cgroup2_mount)
CG=$CG_ROOT/stackd-e2e-unwindprocs-$$
e2e_cgroup_make "$CG"

# in_cg NAME CMD...: run CMD in the background inside $CG (output in $T/NAME.out); sets BG_PID.
in_cg()
{
	local name=$1
	shift
	(
		echo "$BASHPID" >"$CG/cgroup.procs"
		exec "$@"
	) >"$T/$name.out" 2>&1 &
	BG_PID=$!
	e2e_track "$BG_PID"
}

deep=$T/unwind_deep
clang -O2 -g -fomit-frame-pointer -Wall -o "$deep" "$STACKD_SRC/tests/fixtures/unwind_deep.c" >&2 ||
	fail "cannot build fixture unwind_deep"
nfp=$(objdump -d --no-show-raw-insn "$deep" | awk '/^[0-9a-f]+ <f[0-9]+>:$/ { inf = 1; next }
	/^[0-9a-f]+ </ { inf = 0 } inf && /mov +%rsp,%rbp/ { n++ } END { print n + 0 }')
check "$((nfp == 0))" "unwind_deep has no frame-pointer prologue in f1..f30 ($nfp found)"
chain=$(e2e_build_fixture cpu_chain)

agent_start --profiling.frequency=$HZ --unwind.mode=kernel --process.max=$MAX_PROCS \
	--profiling.cgroups="$CG"

# The id of the agent's unwind_procs (other agents on the node have maps of that name too):
# the unwind_procs map among the maps the agent holds open.
names=$(bpftool map show name unwind_procs -j | grep -o '"id":[0-9]*' | cut -d: -f2)
held=$(cat /proc/"$AGENT_PID"/fdinfo/* 2>/dev/null | awk '$1 == "map_id:" { print $2 }' | sort -u)
MAP_ID=$(comm -12 <(sort <<<"$names") <(sort <<<"$held") | head -n 1)
[[ -n $MAP_ID ]] || fail "no unwind_procs map among the maps agent pid $AGENT_PID holds"
info "the agent's unwind_procs is map id $MAP_ID"

# entry PID: the leader start time (ns) unwind_procs holds for PID, or "none".
entry()
{
	local v
	v=$(bpftool map lookup id "$MAP_ID" key $(le_bytes "$1" 4) -j 2>/dev/null |
		grep -o '"start_boottime":[0-9]*' | head -n 1 | cut -d: -f2) || true
	echo "${v:-none}"
}

# le_bytes N COUNT: N as COUNT little-endian bytes for bpftool.
le_bytes() { awk -v n="$1" -v c="$2" 'BEGIN { for (i = 0; i < c; i++) { printf "0x%02x ", n % 256; n = int(n / 256) } }'; }

# start_ticks PID: field 22 of /proc/PID/stat (comm of our fixtures has no spaces).
start_ticks() { awk '{ print $22 }' "/proc/$1/stat"; }

# wait_entry PID WANT(present|none) TIMEOUT_S: poll until it holds; prints the last value.
wait_entry()
{
	local pid=$1 want=$2 deadline=$(($(now_ms) + $3 * 1000)) v
	while :; do
		v=$(entry "$pid")
		if [[ $want == none ]]; then [[ $v == none ]] && break; else [[ $v != none ]] && break; fi
		(($(now_ms) < deadline)) || break
		sleep 0.25
	done
	echo "$v"
}

# value_is_start PID VALUE: 1 when VALUE (ns since boot) is PID's start time.
value_is_start()
{
	awk -v v="$2" -v t="$(start_ticks "$1")" -v hz="$CLK_TCK" \
		'BEGIN { print (v != "none" && int(v / (1e9 / hz)) == t) ? 1 : 0 }'
}

metrics() { curl -fsS -m 10 -o "$T/$1" "$AGENT_URL/metrics" || fail "GET /metrics failed"; }

# walked_deep NAME: start unwind_deep as NAME, wait for its entry; sets BG_PID, ENTRY_VALUE.
walked_deep()
{
	local v pid
	in_cg "$1" "$deep" 120
	pid=$BG_PID
	v=$(wait_entry "$pid" present 10)
	info "$1 (pid $pid): unwind_procs[$pid] = $v, start time $(start_ticks "$pid") ticks"
	if [[ $v == none ]]; then
		curl -fsS -m 10 "$AGENT_URL/metrics" | grep -E '^stackd_(unwind_(process|walks|bridge|samples)|process)' >&2 || true
		info "unwind_procs holds $(bpftool map dump id "$MAP_ID" -j | grep -c '"key"') entries"
		fail "$1 pid $pid: no unwind_procs entry 10 s after it started"
	fi
	# What keeps a leaked entry from applying to a later process given the pid: part (c).
	part_check "$(value_is_start "$pid" "$v")" "(c) $1 pid $pid: its entry holds its start time"
	BG_PID=$pid
	ENTRY_VALUE=$v
}

# ---- (a) a live process the table evicts leaves unwind_procs
walked_deep deep_x
X=$BG_PID
X_VALUE=$ENTRY_VALUE
kill -STOP "$X"
metrics a.m0
info "deep_x stopped; starting $NR_CROWD cpu_chain processes (--process.max=$MAX_PROCS)"
crowd=()
for ((i = 0; i < NR_CROWD; i++)); do
	in_cg "crowd$i" "$chain" 6
	crowd+=("$BG_PID")
done
v=$(wait_entry "$X" none "$EVICT_WAIT")
metrics a.m1
ev=$(($(metric_val "$T/a.m1" 'stackd_processes_evicted_total{reason="capacity"}') - \
	$(metric_val "$T/a.m0" 'stackd_processes_evicted_total{reason="capacity"}')))
info "(a) capacity evictions while deep_x was stopped: $ev; unwind_procs[$X] = $v"
check "$((ev >= 1))" "(a) the process table evicted processes by capacity ($ev), so deep_x's eviction was due"
kill -0 "$X" 2>/dev/null || fail "deep_x (pid $X) died while stopped"
part_check "$([[ $v == none ]] && echo 1 || echo 0)" \
	"(a) deep_x (pid $X, alive, evicted from the table) has no unwind_procs entry within $EVICT_WAIT s (found: $v)"
for p in "${crowd[@]}"; do e2e_reap "$p" 30 || true; done

# ---- (e) ... and gets it back when it is sampled again (it is announced only once)
metrics e.m0
kill -CONT "$X"
v=$(wait_entry "$X" present 10)
metrics e.m1
rel=$(($(metric_val "$T/e.m1" stackd_unwind_table_reloads_total) - \
	$(metric_val "$T/e.m0" stackd_unwind_table_reloads_total)))
info "(e) deep_x (pid $X) continued: unwind_procs[$X] = $v; stackd_unwind_table_reloads_total +$rel"
part_check "$(value_is_start "$X" "$v")" \
	"(e) deep_x, evicted alive and sampled again, has its entry back within 10 s (found: $v)"
part_check "$((rel >= 1))" "(e) the reload is counted: stackd_unwind_table_reloads_total +$rel (want >= 1)"

# ---- (b) an exited process leaves unwind_procs
walked_deep deep_y
Y=$BG_PID
kill -KILL "$Y"
e2e_reap "$Y" 10 || true
v=$(wait_entry "$Y" none "$GONE_WAIT")
info "(b) deep_y (pid $Y) killed: unwind_procs[$Y] = $v"
part_check "$([[ $v == none ]] && echo 1 || echo 0)" \
	"(b) deep_y's entry is gone within $GONE_WAIT s of its exit (found: $v)"

# ---- (c) an entry that outlived its process does not apply to the process given its pid
kill -KILL "$X"
e2e_reap "$X" 10 || true
info "(c) deep_x (pid $X) killed: unwind_procs[$X] = $(entry "$X")"
vsz=$(bpftool map show id "$MAP_ID" -j | grep -o '"bytes_value":[0-9]*' | cut -d: -f2)

# delta FROM TO METRIC: how much METRIC moved between two /metrics dumps.
delta() { awk -v a="$(metric_val "$T/$1" "$3")" -v b="$(metric_val "$T/$2" "$3")" 'BEGIN { printf "%d", b - a }'; }

# reuse_pid NAME PID CMD...: start CMD in $CG as process PID (ns_last_pid, 200 tries); sets BG_PID.
reuse_pid()
{
	local name=$1 pid=$2 try
	shift 2
	for ((try = 1; try <= 200; try++)); do
		# No fork between this write and in_cg's: the next pid the kernel hands out is PID.
		echo $((pid - 1)) >/proc/sys/kernel/ns_last_pid
		in_cg "$name" "$@"
		[[ $BG_PID == "$pid" ]] && { info "$name got pid $pid after $try tries"; return 0; }
		kill -KILL "$BG_PID" 2>/dev/null || true
		e2e_reap "$BG_PID" 10 || true
	done
	fail "could not get pid $pid again in 200 tries (another process took it each time)"
}

# The stale value: X's start time, no mappings (a missed exit; an agent that applied it
# regardless of the start time would walk Z by frame pointers, counted as walks).
stale_value()
{
	le_bytes "$X_VALUE" 8
	for ((b = 8; b < vsz; b++)); do printf '0x00 '; done
}
reuse_pid chain_z "$X" "$chain" 30
Z=$BG_PID
v=$(wait_entry "$Z" present 10)
info "(c) chain_z (pid $Z): its own entry $v"
part_check "$(value_is_start "$Z" "$v")" "(c) chain_z pid $Z got an entry of its own"
# shellcheck disable=SC2046 # one word per byte (a value too long for bpftool batch lines)
bpftool map update id "$MAP_ID" key $(le_bytes "$Z" 4) value $(stale_value) >"$T/stale.out" 2>&1 ||
	fail "planting the stale entry failed: $(tail -n 2 "$T/stale.out")"
sleep 2 # /metrics shows the counters as of the last drain (1 s): start after planting
metrics c.m1
sleep 5
metrics c.m2
v=$(entry "$Z")
walks=0
for e in complete no_table table_full read_fault depth unsupported bad_frame; do
	walks=$((walks + $(delta c.m1 c.m2 "stackd_unwind_walks_total{end=\"$e\"}")))
done
bridge=$(delta c.m1 c.m2 stackd_unwind_bridge_samples_total)
info "(c) stale unwind_procs[$Z] = $X_VALUE planted; 5 s later unwind_procs[$Z] = $v;" \
	"walks +$walks, bridge samples +$bridge"
kill -TERM "$Z"
e2e_reap "$Z" 10 || true
check "$((walks + bridge >= HZ * 5 / 4))" "(c) chain_z was sampled: +$((walks + bridge)) samples (want >= 25% of $HZ Hz x 5 s)"
part_check "$((walks == 0))" \
	"(c) the stale entry (deep_x's start time) was not applied to chain_z, which reused its pid: +$walks walks (want 0)"

# ---- (d) a full unwind_procs refuses an entry, and says so
# Fill the map with keys no pid can have (above pid_max's 2^22 limit).
maxe=$(bpftool map show id "$MAP_ID" -j | grep -o '"max_entries":[0-9]*' | cut -d: -f2)
# map_count: entries in the agent's unwind_procs.
map_count() { bpftool map dump id "$MAP_ID" -j | awk '{ n += gsub(/"formatted"/, "") } END { print n + 0 }'; }
used=$(map_count)
zeros=$(for ((b = 0; b < vsz; b++)); do printf '0x00 '; done)
for ((i = 0; i < maxe - used; i++)); do
	# shellcheck disable=SC2046,SC2086 # one word per byte
	bpftool map update id "$MAP_ID" key $(le_bytes $((0x7f000000 + i)) 4) value $zeros noexist \
		>"$T/fill.out" 2>&1 || fail "filling unwind_procs failed: $(tail -n 2 "$T/fill.out")"
done
info "(d) unwind_procs filled: $(map_count) of $maxe entries"
metrics d.m0
in_cg deep_w "$deep" 60
W=$BG_PID
deadline=$(($(now_ms) + 10000))
while :; do
	metrics d.m1
	ref=$(delta d.m0 d.m1 stackd_unwind_process_entries_refused_total)
	((ref < 1 && $(now_ms) < deadline)) || break
	sleep 0.25
done
info "(d) deep_w (pid $W) started with unwind_procs full: refused +$ref, unwind_procs[$W] = $(entry "$W")"
part_check "$((ref >= 1))" "(d) the refused entry is counted: stackd_unwind_process_entries_refused_total +$ref (want >= 1)"
kill -TERM "$W"
e2e_reap "$W" 10 || true
agent_stop

((${#FAILED[@]} == 0)) || fail "${#FAILED[@]} check(s) failed: $(printf '%s; ' "${FAILED[@]}")"
pass "unwind_procs lost the evicted (back once sampled), the exited, never applied to a reused pid; full, it is counted"
