#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The kernel's dwarf_procs map (--unwind.mode=auto: the processes whose user stacks are
# copied for DWARF unwinding, tgid -> leader start time) holds only processes the agent
# still tracks (issue 10): an entry the agent forgot leaks a slot of a 4096-entry HASH,
# and once it is full no process can be switched any more.
#
#   fixtures: unwind_deep built `clang -O2 -g -fomit-frame-pointer` (frame pointers end
#             early: auto mode switches it), cpu_chain (frame pointers reach main: never
#             switched); every one started in a cgroup of its own that the agent is scoped
#             to, so other work on the node neither fills the table nor moves the counters
#   agent:    --unwind.mode=auto --process.max=16 --profiling.cgroups=<that cgroup>
#   checks:   (a) deep fixture X is switched (its entry holds its start time: (c)), then stopped
#                 (SIGSTOP: alive, no longer sampled) while 20 cpu_chain processes are
#                 sampled: the table evicts X (stackd_processes_evicted_total{reason=
#                 "capacity"} moves) and X's entry must be gone within 30 s while X lives;
#                 stackd_unwind_processes_released_total counts it;
#             (b) deep fixture Y is switched, then SIGKILLed: its entry is gone within 5 s;
#             (c) X is killed, its old entry put back with bpftool (an exit the kernel
#                 program missed) and its pid given to a new cpu_chain process Z (pid reuse
#                 forced through /proc/sys/kernel/ns_last_pid): none of Z's samples is
#                 unwound with DWARF over 5 s and no process is switched: the entry's value
#                 (the leader start time) is not Z's.
#             (d) dwarf_procs filled up with bpftool: a new deep fixture cannot be switched
#                 and stackd_unwind_processes_refused_total says so within 10 s.
#   prints:   every entry seen, the counters that moved.
# Every check runs (a failed one is reported and the test goes on), so one run shows which
# of (a), (b), (c) an agent gets wrong; the test fails if any did.
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
CG=$CG_ROOT/stackd-e2e-dwarfprocs-$$
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

agent_start --profiling.frequency=$HZ --unwind.mode=auto --process.max=$MAX_PROCS \
	--profiling.cgroups="$CG"

# The id of the agent's dwarf_procs (other agents on the node have maps of that name too):
# the dwarf_procs map among the maps the agent holds open.
names=$(bpftool map show name dwarf_procs -j | grep -o '"id":[0-9]*' | cut -d: -f2)
held=$(cat /proc/"$AGENT_PID"/fdinfo/* 2>/dev/null | awk '$1 == "map_id:" { print $2 }' | sort -u)
MAP_ID=$(comm -12 <(sort <<<"$names") <(sort <<<"$held") | head -n 1)
[[ -n $MAP_ID ]] || fail "no dwarf_procs map among the maps agent pid $AGENT_PID holds"
info "the agent's dwarf_procs is map id $MAP_ID"

# entry PID: the value dwarf_procs holds for PID (its leader start time in ns), or "none".
entry()
{
	bpftool map dump id "$MAP_ID" -j >"$T/dump.json" || fail "bpftool map dump id $MAP_ID failed"
	{ grep -o '"formatted":{"key":[0-9]*,"value":[0-9]*}' "$T/dump.json" || true; } |
		awk -F'[:,}]' -v p="$1" '$3 == p { v = $5 } END { print v == "" ? "none" : v }'
}

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

# switch_deep NAME: start unwind_deep as NAME, wait for auto mode to switch it; sets BG_PID.
switch_deep()
{
	local sw0 t0 v pid
	metrics "$1.m0"
	sw0=$(metric_val "$T/$1.m0" stackd_unwind_processes_switched_total)
	in_cg "$1" "$deep" 120
	pid=$BG_PID
	t0=$(now_ms)
	wait_dwarf_switch "$1" "$sw0" "$t0" 1
	v=$(wait_entry "$pid" present 5)
	info "$1 (pid $pid): dwarf_procs[$pid] = $v, start time $(start_ticks "$pid") ticks"
	[[ $v != none ]] || fail "$1 pid $pid: no dwarf_procs entry 5 s after the switch"
	# What keeps a leaked entry from switching a later process given the pid: part (c).
	part_check "$(value_is_start "$pid" "$v")" "(c) $1 pid $pid switched: its entry holds its start time"
	BG_PID=$pid
	SWITCHED_VALUE=$v
}

# ---- (a) a live process the table evicts leaves dwarf_procs
switch_deep deep_x
X=$BG_PID
X_VALUE=$SWITCHED_VALUE
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
rel=$(metric_val "$T/a.m1" stackd_unwind_processes_released_total)
info "(a) capacity evictions while deep_x was stopped: $ev; dwarf_procs[$X] = $v; released: $rel"
check "$((ev >= 1))" "(a) the process table evicted processes by capacity ($ev), so deep_x's eviction was due"
kill -0 "$X" 2>/dev/null || fail "deep_x (pid $X) died while stopped"
part_check "$([[ $v == none ]] && echo 1 || echo 0)" \
	"(a) deep_x (pid $X, alive, evicted from the table) has no dwarf_procs entry within $EVICT_WAIT s (found: $v)"
part_check "$(awk -v r="$rel" 'BEGIN { print (r >= 1) ? 1 : 0 }')" \
	"(a) stackd_unwind_processes_released_total counted it ($rel, want >= 1)"
for p in "${crowd[@]}"; do e2e_reap "$p" 30 || true; done

# ---- (b) an exited process leaves dwarf_procs
switch_deep deep_y
Y=$BG_PID
kill -KILL "$Y"
e2e_reap "$Y" 10 || true
v=$(wait_entry "$Y" none "$GONE_WAIT")
info "(b) deep_y (pid $Y) killed: dwarf_procs[$Y] = $v"
part_check "$([[ $v == none ]] && echo 1 || echo 0)" \
	"(b) deep_y's entry is gone within $GONE_WAIT s of its exit (found: $v)"

# ---- (c) a process given a switched process's pid starts on frame pointers
kill -KILL "$X"
e2e_reap "$X" 10 || true
info "(c) deep_x (pid $X) killed: dwarf_procs[$X] = $(entry "$X")"
vsz=$(bpftool map show id "$MAP_ID" -j | grep -o '"bytes_value":[0-9]*' | cut -d: -f2)
stale=$X_VALUE
((vsz == 8)) || stale=1 # an agent whose map holds a flag, not the start time

# le_bytes N COUNT: N as COUNT little-endian bytes for bpftool.
le_bytes() { awk -v n="$1" -v c="$2" 'BEGIN { for (i = 0; i < c; i++) { printf "0x%02x ", n % 256; n = int(n / 256) } }'; }

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

# chain_z (frame pointers reach main) gets deep_x's pid; once it runs (its exec cleared the
# pid's entry in the kernel), deep_x's entry is put back as it was: an entry that outlived
# its process (a missed exit). A fork without exec meets such an entry the same way.
# Auto mode may switch chain_z on its own when a stack from its start-up (ld.so, the
# shell before exec) is among its first four: then the attempt proves nothing, try again.
verdict=""
for ((attempt = 1; attempt <= 4; attempt++)); do
	metrics "c$attempt.m0"
	reuse_pid "chain_z$attempt" "$X" "$chain" 30
	Z=$BG_PID
	sleep 2 # two drains: chain_z is known and its first frame-pointer stacks checked
	# shellcheck disable=SC2046 # one word per byte
	if [[ $(entry "$Z") == none ]] &&
		bpftool map update id "$MAP_ID" key $(le_bytes "$Z" 4) value $(le_bytes "$stale" "$vsz") noexist; then
		metrics "c$attempt.m1"
		sleep 5
		metrics "c$attempt.m2"
		v=$(entry "$Z")
		dw=$(delta "c$attempt.m1" "c$attempt.m2" 'stackd_unwind_samples_total{path="dwarf"}')
		fp=$(delta "c$attempt.m1" "c$attempt.m2" 'stackd_unwind_samples_total{path="fp"}')
		sw=$(delta "c$attempt.m0" "c$attempt.m2" stackd_unwind_processes_switched_total)
		info "(c) attempt $attempt: stale dwarf_procs[$Z] = $stale planted; 5 s later dwarf_procs[$Z] = $v;" \
			"samples unwound with dwarf +$dw, fp +$fp; processes switched since chain_z started +$sw"
		((sw == 0)) && verdict=1
	else
		info "(c) attempt $attempt: auto mode switched chain_z on its own (dwarf_procs[$Z] = $(entry "$Z")): again"
	fi
	kill -TERM "$Z"
	e2e_reap "$Z" 10 || true
	[[ -z $verdict ]] || break
done
[[ -n $verdict ]] || fail "(c) auto mode switched chain_z on its own in every attempt: cannot tell"
check "$((fp + dw >= HZ * 5 / 4))" "(c) chain_z was sampled: +$((fp + dw)) samples (want >= 25% of $HZ Hz x 5 s)"
part_check "$((dw == 0))" \
	"(c) the stale entry (deep_x's start time) did not switch chain_z, which reused its pid: +$dw samples unwound with DWARF (want 0)"

# ---- (d) a full dwarf_procs refuses a switch, and says so
# Fill the map with keys no pid can have (above pid_max's 2^22 limit), in one bpftool run.
maxe=$(bpftool map show id "$MAP_ID" -j | grep -o '"max_entries":[0-9]*' | cut -d: -f2)
# map_count: entries in the agent's dwarf_procs.
map_count() { bpftool map dump id "$MAP_ID" -j | awk '{ n += gsub(/"formatted"/, "") } END { print n + 0 }'; }
used=$(map_count)
awk -v id="$MAP_ID" -v n=$((maxe - used)) -v vsz="$vsz" 'BEGIN {
	for (i = 0; i < n; i++) {
		k = 2130706432 + i # 0x7f000000 + i, little-endian
		printf "map update id %d key 0x%02x 0x%02x 0x%02x 0x%02x value", id,
			k % 256, int(k / 256) % 256, int(k / 65536) % 256, int(k / 16777216)
		for (j = 0; j < vsz; j++) printf " 0x00"
		print " noexist"
	} }' >"$T/fill.batch"
bpftool batch file "$T/fill.batch" >"$T/fill.out" 2>&1 || fail "filling dwarf_procs failed: $(tail -n 2 "$T/fill.out")"
info "(d) dwarf_procs filled: $(map_count) of $maxe entries"
metrics d.m0
in_cg deep_w "$deep" 60
W=$BG_PID
deadline=$(($(now_ms) + 10000))
while :; do
	metrics d.m1
	ref=$(delta d.m0 d.m1 stackd_unwind_processes_refused_total)
	((ref < 1 && $(now_ms) < deadline)) || break
	sleep 0.25
done
info "(d) deep_w (pid $W) started with dwarf_procs full: refused +$ref, dwarf_procs[$W] = $(entry "$W")"
part_check "$((ref >= 1))" "(d) the refused switch is counted: stackd_unwind_processes_refused_total +$ref (want >= 1)"
kill -TERM "$W"
e2e_reap "$W" 10 || true
agent_stop

((${#FAILED[@]} == 0)) || fail "${#FAILED[@]} check(s) failed: $(printf '%s; ' "${FAILED[@]}")"
pass "dwarf_procs lost the evicted, the exited, never applied to a reused pid; full, it is counted"
