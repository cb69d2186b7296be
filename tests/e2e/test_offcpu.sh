#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Off-CPU profiling (--offcpu.enabled): /debug/pprof/offcpu?seconds=N tells where and how
# long threads wait, with the exact stack of the wait, and in the proportions the waiting
# program measures itself.
#
#   fixture: offcpu_mix (`gcc -O2 -g -fno-omit-frame-pointer -pthread`), one thread cycling
#            main -> run_mix -> phase_sleep  nanosleep 20 ms            (kernel: do_nanosleep)
#                            -> phase_pipe   read() a pipe for ~10 ms   (kernel: pipe_read, or
#                                            anon_pipe_read since Linux 6.15)
#                            -> phase_cpu    10 ms of CPU time          (off CPU only if preempted)
#            a helper thread (pipe_writer) writes the pipe; the fixture measures its own wall
#            time per phase and its thread CPU time, printed at SIGUSR1 (snapshot), SIGUSR2
#            (snapshot, then it stops itself) and exit.
#            A second instance (same binary, same stacks, other pid) and a shell loop of
#            `sleep 0.05` are the other processes.
#   agent:   run 1 --offcpu.enabled --offcpu.min-duration=1us --profiling.frequency=999;
#            run 2 the same with --profiling.pids=<fixture pid>
#   checks:  objdump: the phases call (not jmp to) nanosleep/read/write, no tail call to a phase;
#            run 1: the profile's sample types are switches/count, offcpu/nanoseconds; every
#            sample's offcpu_reason is sleep, disk, preempted or other; the fixture's label keys
#            are those of a CPU profile fetched at the same time plus offcpu_reason; every
#            fixture sample has comm=offcpu_mix and belongs to the main thread (main on the
#            stack) or the helper (pipe_writer on the stack): <= 1% of the fixture's ns in neither;
#            main thread, by ns: >= 99% of the do_nanosleep stacks read exactly
#              [kernel frames with do_nanosleep] clock_nanosleep; nanosleep; phase_sleep; run_mix;
#              main; __libc_start_call_main; __libc_start_main; _start   (libc names: any alias)
#            and >= 99% of the pipe_read stacks [kernel ... pipe_read ...] read; phase_pipe;
#            run_mix; main; ... _start; no kernel frame on the caller side of a user frame;
#            >= 95% of phase_sleep's (phase_pipe's) ns is in those blocked stacks (the rest:
#            preemption on the way in or out); >= 99% of the blocked ns has offcpu_reason=sleep,
#            >= 99% of phase_cpu's off-CPU ns (if any) offcpu_reason=preempted;
#            do_nanosleep switches of phase_sleep = the fixture's cycles in the window +-10%;
#            split: phase_sleep's share of phase_sleep + phase_pipe ns within 3 points of the
#            share of wall time the fixture measured over the same window (SIGUSR1 around it);
#            total: main-thread off-CPU ns per second of the profile's duration within 15% of
#            the fixture's own (wall - thread CPU time) per wall second over the same window;
#            history (fixture stopped at a cycle's end by SIGUSR2, read two drains later):
#            folded?type=offcpu's sleep/pipe split and folded?type=wall's sleep/pipe/cpu
#            shares within 3 points of the fixture's whole-life wall split; pprof, page and
#            speedscope of the same history;
#            the second instance shows up in run 1 (so run 2 has something to filter);
#            run 2: samples of the fixture, and of no other pid.
#   prints:  the fixture's split and totals, stackd's, reasons, the stacks that did not match.
#
# Environment: OFFCPU_WINDOW=5 (seconds of each profile).
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WINDOW=${OFFCPU_WINDOW:-5}
LEAD=2
SPLIT_PP=3       # split within 3 percentage points
TOTAL_PCT=15     # main-thread total within 15%
MIN_EXACT_PCT=99 # blocked stacks with the exact chain, blocked ns with reason=sleep
MIN_BLOCKED_PCT=95
MAX_UNATTR_PCT=1
OFFCPU_CC=gcc
# 999 Hz: the history's wall split takes phase_cpu's share from CPU samples; at the default
# 19 Hz the fixture's ~2 s of CPU are ~40 samples, which can also fall in step with its
# 40 ms cycle (CI saw 19 samples for 1.8 s of CPU, the cpu share 4 points low, twice).
AGENT_ARGS=(--offcpu.enabled --offcpu.min-duration=1us --profiling.frequency=999)

e2e_require_bpf
e2e_require_cmd "$OFFCPU_CC" objdump go curl python3
# Not `--help | grep -q`: under pipefail, grep leaving early can SIGPIPE the writer (CI saw it).
[[ $("$STACKD_BIN" --help 2>&1) == *--offcpu.enabled* ]] ||
	fail "$STACKD_BIN --help has no --offcpu.enabled (agent built without off-CPU profiling?)"

# The root of a main-thread stack, leaf first (glibc 2.36), and the libc frames on top of
# each phase: any of libc's names for the function's address (libc6-dbg has all of them).
ROOT_MAIN='main;__libc_start_call_main;__libc_start_main(_impl)?;_start'
LIBC_CLOCK_NANOSLEEP='(__GI___clock_nanosleep|__clock_nanosleep(_2)?|clock_nanosleep)'
LIBC_NANOSLEEP='(__GI___nanosleep|__nanosleep|nanosleep)'
LIBC_READ='(__GI___libc_read|__GI___read|__GI_read|__libc_read|__read|read)'
SLEEP_CHAIN="^${LIBC_CLOCK_NANOSLEEP};${LIBC_NANOSLEEP};phase_sleep;run_mix;${ROOT_MAIN}\$"
# At read's syscall, libc6-dbg's DWARF has read's body inlined in itself (SYSCALL_CANCEL): gdb's
# bt shows two frames there, and so does stackd (__GI___libc_read;read); one without the DWARF.
PIPE_CHAIN="^(${LIBC_READ};)?${LIBC_READ};phase_pipe;run_mix;${ROOT_MAIN}\$"
# The kernel function a reader of a pipe(2) waits in: pipe_read, anon_pipe_read since 6.15.
KPIPE='^(anon_)?pipe_read$'

fixture=$T/offcpu_mix
"$OFFCPU_CC" -O2 -g -fno-omit-frame-pointer -pthread -Wall -o "$fixture" \
	"$STACKD_SRC/tests/fixtures/offcpu_mix.c" || fail "cannot build fixture offcpu_mix with $OFFCPU_CC"

# ---- the binary: each phase calls its syscall wrapper and stays a frame of its own
objdump -d --no-show-raw-insn "$fixture" >"$T/objdump.txt" || fail "objdump -d $fixture failed"
calls()
{
	awk -v fn="$1" '$0 ~ "^[0-9a-f]+ <" fn ">:$" { on = 1; next } on && /^$/ { exit }
		on && /[[:space:]](call|jmp)[[:space:]]/ { sub(/^[^<]*</, ""); sub(/>.*/, ""); sub(/@plt$/, ""); print $0 }' "$T/objdump.txt" |
		sort -u | tr '\n' ' '
}
tailjmp=$(awk '/^[0-9a-f]+ </ { fn = $2 } /[[:space:]]jmp[[:space:]]+[0-9a-f]+ <(phase_|run_mix|nanosleep|read|write)/ &&
	$0 !~ ("<" substr(fn, 2, length(fn) - 3) "\\+") { print fn ": " $0 }' "$T/objdump.txt")
info "phase_sleep calls: $(calls phase_sleep); phase_pipe calls: $(calls phase_pipe); run_mix calls: $(calls run_mix)"
rm_calls=" $(calls run_mix)"
check "$([[ -z $tailjmp && " $(calls phase_sleep)" == *" nanosleep "* && " $(calls phase_pipe)" == *" read "* &&
	$rm_calls == *" phase_sleep "* && $rm_calls == *" phase_pipe "* && $rm_calls == *" phase_cpu "* ]] &&
	echo 1 || echo 0)" \
	"objdump: phase_sleep calls nanosleep, phase_pipe read, run_mix the phases; no tail call: '${tailjmp}'"

# offcpu_flatten RAW: one line per sample of `go tool pprof -raw` output RAW:
#   NS <TAB> SWITCHES <TAB> PID <TAB> COMM <TAB> REASON <TAB> FRAMES
# with FRAMES as pprof_flatten prints them (leaf first, K: kernel, U: user). pprof_flatten and
# pprof_labels read the samples/count column: the header is rewritten to point it at each value.
offcpu_flatten()
{
	local raw=$1
	pick()
	{
		awk -v want="$1" 'hdr { for (i = 1; i <= NF; i++)
				if ($i ~ ("^" want)) $i = "samples/count"; else if ($i ~ /^samples\/count/) $i = "x/x"
			hdr = 0 }
			/^Samples:$/ { hdr = 1 } { print }' "$raw"
	}
	pick offcpu/nanoseconds | pprof_flatten >"$raw.ns"
	pick switches/count | pprof_flatten >"$raw.sw"
	pick offcpu/nanoseconds | pprof_labels >"$raw.lab"
	[[ $(wc -l <"$raw.ns") == "$(wc -l <"$raw.sw")" && $(wc -l <"$raw.ns") == "$(wc -l <"$raw.lab")" ]] ||
		fail "pprof_flatten and pprof_labels disagree on the number of samples in $raw"
	# ns: COUNT PID COMM FRAMES ($1-$4), sw: the same ($5-$8), lab: COUNT LABELS ($9-$10)
	paste "$raw.ns" "$raw.sw" "$raw.lab" | awk -F'\t' -v OFS='\t' '{
		r = "-"
		if (match($10, /(^|\|)offcpu_reason=[^|]*/)) { r = substr($10, RSTART, RLENGTH); sub(/.*=/, "", r) }
		print $1, $5, $2, $3, r, $4 }'
}

# fetch NAME: GET /debug/pprof/offcpu?seconds=$WINDOW into $T/NAME.pb.gz, with a SIGUSR1
# snapshot of the fixture before and after; -raw into $T/NAME.raw, flattened into $T/NAME.tsv.
fetch()
{
	local name=$1 url="$AGENT_URL/debug/pprof/offcpu?seconds=$WINDOW" code n0 rc=0 deadline
	n0=$(grep -c '^snapshot ' "$T/offcpu_mix.out" || true)
	kill -USR1 "$fx" || fail "fixture offcpu_mix (pid $fx) is gone: $(cat "$T/offcpu_mix.out")"
	info "fetching $url"
	code=$(curl -sS -m $((WINDOW + 30)) -o "$T/$name.pb.gz" -w '%{http_code}' "$url" 2>"$T/$name.curl.err") || true
	kill -USR1 "$fx" || fail "fixture offcpu_mix (pid $fx) is gone: $(cat "$T/offcpu_mix.out")"
	[[ $code == 200 ]] || fail "GET $url: HTTP ${code:-none} $(cat "$T/$name.curl.err")"
	deadline=$(($(now_ms) + 3000))
	while (($(grep -c '^snapshot ' "$T/offcpu_mix.out" || true) < n0 + 2)); do
		(($(now_ms) < deadline)) || fail "fixture printed no snapshot for SIGUSR1 within 3 s"
		sleep 0.05
	done
	grep '^snapshot ' "$T/offcpu_mix.out" | tail -n 2 >"$T/$name.snap"
	e2e_pprof -symbolize=none -raw "$T/$name.pb.gz" >"$T/$name.raw" 2>"$T/$name.raw.err" || rc=$?
	((rc == 0)) || { cat "$T/$name.raw.err" >&2; fail "go tool pprof -raw exited with status $rc"; }
	offcpu_flatten "$T/$name.raw" >"$T/$name.tsv"
}

# ================================================================ run 1: everything
agent_start "${AGENT_ARGS[@]}"
secs=$((3 * LEAD + 2 * (WINDOW + 2) + 30))
e2e_bg offcpu_mix "$fixture" "$secs"
fx=$BG_PID
e2e_bg offcpu_mix_other "$fixture" "$secs"
fx_other=$BG_PID
e2e_bg sleeper bash -c 'while :; do sleep 0.05; done'
sleeper=$BG_PID
info "fixture offcpu_mix pid $fx, second instance pid $fx_other, sleep loop pid $sleeper (for $secs s)"
sleep "$LEAD"
# A CPU profile over the same time, for its label keys.
e2e_bg cpuprof curl -sS -m $((WINDOW + 30)) -o "$T/cpu.pb.gz" "$AGENT_URL/debug/pprof/profile?seconds=$WINDOW"
cpuprof=$BG_PID
fetch run1
rc=0
e2e_reap "$cpuprof" $((WINDOW + 35)) || rc=$?
((rc == 0)) || fail "GET /debug/pprof/profile?seconds=$WINDOW: curl exited with status $rc: $(cat "$T/cpuprof.out")"
rc=0
e2e_pprof -symbolize=none -raw "$T/cpu.pb.gz" >"$T/cpu.raw" 2>"$T/cpu.raw.err" || rc=$?
((rc == 0)) || { cat "$T/cpu.raw.err" >&2; fail "go tool pprof -raw (CPU profile) exited with status $rc"; }

# ---- the profile as a whole
types=$(awk '/^Samples:$/ { getline; gsub(/\[dflt\]/, ""); print; exit }' "$T/run1.raw")
dur=$(awk '/^Duration: / { d = $2; sub(/s$/, "", d); print d + 0; exit }' "$T/run1.raw")
info "sample types: '$types'; duration: ${dur:-?} s"
check "$([[ $types == 'switches/count offcpu/nanoseconds' ]] && echo 1 || echo 0)" \
	"sample types are 'switches/count offcpu/nanoseconds' ('$types')"
check "$(awk -v d="${dur:-0}" -v w="$WINDOW" 'BEGIN { print (d >= w && d <= w + 2.5) ? 1 : 0 }')" \
	"profile duration ${dur:-?} s (want $WINDOW s up to two drain intervals more)"
info "offcpu_reason over all samples (ns, switches):"
awk -F'\t' '{ ns[$5] += $1; sw[$5] += $2 } END { for (r in ns) printf "    %-10s %15.0f ns %8.0f switches\n", r, ns[r], sw[r] }' \
	"$T/run1.tsv" | sort
badreason=$(awk -F'\t' '$5 !~ /^(sleep|disk|preempted|other)$/ { n++ } END { print n + 0 }' "$T/run1.tsv")
check "$((badreason == 0))" "every sample has offcpu_reason in {sleep, disk, preempted, other} ($badreason without)"
npids=$(awk -F'\t' '{ print $3 }' "$T/run1.tsv" | sort -u | wc -l)
other_ns=$(awk -F'\t' -v p="$fx_other" '$3 == p && $6 ~ /(^|;)U:phase_sleep;U:run_mix;U:main(;|$)/ { n += $1 } END { printf "%.0f\n", n }' "$T/run1.tsv")
info "run 1: $npids pids in the profile; second instance (pid $fx_other): $((other_ns / 1000000)) ms in phase_sleep"
check "$((other_ns > 0))" "the second instance's phase_sleep is in the unfiltered profile ($other_ns ns), so run 2 has it to filter out"

# ---- the fixture, as stackd saw it
# judge TSV PID: key=value lines; stacks that did not match in $T/bad.{sleep,pipe}.txt.
judge()
{
	awk -F'\t' -v pid="$2" -v sre="$SLEEP_CHAIN" -v pre="$PIPE_CHAIN" -v kpipe="$KPIPE" -v T="$T" '
	$3 != pid { next }
	{
		ns = $1; sw = $2; n = split($6, fr, ";"); u = ""; seen_u = 0; mixed = 0
		dn = 0; pr = 0; hasmain = 0; helper = 0; phase = ""
		for (i = 1; i <= n; i++) {
			kind = substr(fr[i], 1, 1); name = substr(fr[i], 3)
			if (kind == "K") {
				if (seen_u) mixed = 1
				if (name == "do_nanosleep") dn = 1
				if (name ~ kpipe) pr = 1
				continue
			}
			seen_u = 1; u = u (u == "" ? "" : ";") name
			if (name == "main") hasmain = 1
			if (name == "pipe_writer") helper = 1
			if (phase == "" && name ~ /^phase_(sleep|pipe|cpu)$/) phase = name
		}
		all += ns
		if (comm_bad == "" && $4 != "offcpu_mix") comm_bad = $4
		if ($4 != "offcpu_mix") badcomm += ns
		if (mixed) mixedns += ns
		if (helper) { helperns += ns; next }
		if (!hasmain) { unattr += ns; unattr_s[$5 " " $6] += ns; next }
		mainns += ns; reason[$5] += ns
		if (phase == "") phase = "other"
		ph[phase] += ns; phsw[phase] += sw
		if (phase == "phase_cpu") { cpu_ns += ns; if ($5 == "preempted") cpu_pre += ns }
		blocked = (phase == "phase_sleep" && dn) || (phase == "phase_pipe" && pr)
		if (blocked) {
			bl[phase] += ns; blsw[phase] += sw
			if ($5 == "sleep") blsleep += ns
			else badreason[phase " " $5] += ns
			blall += ns
			ok = (phase == "phase_sleep" ? u ~ sre : u ~ pre) && !mixed
			if (ok) exact[phase] += ns
			else bad[phase, $6] += ns
		}
	}
	END {
		printf "all=%.0f\nmain=%.0f\nhelper=%.0f\nunattr=%.0f\nmixed=%.0f\nbadcomm=%.0f\ncomm_bad=%s\n", all, mainns,
			helperns, unattr, mixedns, badcomm, comm_bad == "" ? "-" : comm_bad
		printf "sleep=%.0f\npipe=%.0f\ncpu=%.0f\nother=%.0f\n", ph["phase_sleep"], ph["phase_pipe"], ph["phase_cpu"], ph["other"]
		printf "sleep_bl=%.0f\npipe_bl=%.0f\nsleep_exact=%.0f\npipe_exact=%.0f\n", bl["phase_sleep"], bl["phase_pipe"],
			exact["phase_sleep"], exact["phase_pipe"]
		printf "sleep_bl_sw=%.0f\npipe_bl_sw=%.0f\nbl_all=%.0f\nbl_sleep=%.0f\ncpu_pre=%.0f\n", blsw["phase_sleep"],
			blsw["phase_pipe"], blall, blsleep, cpu_pre
		for (r in reason) printf "reason_%s=%.0f\n", r, reason[r]
		for (k in bad) { split(k, kk, SUBSEP)
			printf "%12.0f ns  %s\n", bad[k], kk[2] | "sort -rn | head -n 5 | cut -c1-700 > \"" T "/bad." substr(kk[1], 7) ".txt\"" }
		for (k in unattr_s) printf "%12.0f ns  %s\n", unattr_s[k], k | "sort -rn | head -n 5 | cut -c1-700 > \"" T "/unattr.txt\""
		for (k in badreason) printf "%12.0f ns  %s\n", badreason[k], k | "sort -rn > \"" T "/badreason.txt\""
	}' "$1"
}
declare -A s=()
while IFS='=' read -r k v; do s[$k]=$v; done < <(judge "$T/run1.tsv" "$fx")

# The fixture's own figures over the window: the two snapshots around the request.
read -r _ m0 sl0 pi0 cp0 cy0 tc0 < <(head -n 1 "$T/run1.snap")
read -r _ m1 sl1 pi1 cp1 cy1 tc1 < <(tail -n 1 "$T/run1.snap")
span=$((m1 - m0)) dsl=$((sl1 - sl0)) dpi=$((pi1 - pi0)) dcp=$((cp1 - cp0)) dcy=$((cy1 - cy0)) dtc=$((tc1 - tc0))
info "fixture over $((span / 1000000)) ms around the request: $dcy cycles; wall in phase_sleep $((dsl / 1000000)) ms, phase_pipe $((dpi / 1000000)) ms, phase_cpu $((dcp / 1000000)) ms; thread CPU $((dtc / 1000000)) ms, so $(((span - dtc) / 1000000)) ms off CPU"
ms() { echo $((${s[$1]:-0} / 1000000)); }
info "stackd over ${dur} s: fixture $(ms all) ms off CPU: main thread $(ms main) ms (phase_sleep $(ms sleep), phase_pipe $(ms pipe), phase_cpu $(ms cpu), elsewhere $(ms other)), pipe_writer $(ms helper) ms, neither $(ms unattr) ms"
info "main thread by offcpu_reason: $(for k in "${!s[@]}"; do [[ $k == reason_* ]] && printf '%s=%s ms ' "${k#reason_}" "$(ms "$k")"; done)"

check "$((s[main] > 0))" "the fixture's main thread is in the profile ($(ms main) ms off CPU)"
# label_keys RAW PID: the label keys of PID's samples, sorted, comma-separated.
label_keys()
{
	pprof_labels <"$1" | awk -F'\t' -v pid="$2" '{
		n = split($2, kv, "|"); mine = 0
		for (i = 1; i <= n; i++) if (kv[i] == "pid=" pid) mine = 1
		if (!mine) next
		for (i = 1; i <= n; i++) { k = kv[i]; sub(/=.*/, "", k); keys[k] = 1 }
	} END { for (k in keys) print k }' | sort | paste -s -d, -
}
cpu_keys=$(label_keys "$T/cpu.raw" "$fx")
off_keys=$(label_keys "$T/run1.raw" "$fx")
want_keys=$(printf '%s\n' "${cpu_keys//,/$'\n'}" offcpu_reason | sort | paste -s -d, -)
check "$([[ -n $cpu_keys && $off_keys == "$want_keys" ]] && echo 1 || echo 0)" \
	"pid $fx's label keys: off-CPU '$off_keys' = CPU profile's '$cpu_keys' + offcpu_reason"
check "$((s[badcomm] == 0))" "every sample of pid $fx has comm=offcpu_mix (first other: ${s[comm_bad]})"
check "$((s[mixed] == 0))" "no stack of pid $fx has a kernel frame on the caller side of a user frame ($(ms mixed) ms)"
if [[ -s $T/unattr.txt ]]; then
	info "stacks of pid $fx with neither main nor pipe_writer (ns, reason, frames leaf first):"
	sed 's/^/    /' "$T/unattr.txt"
fi
check "$((100 * s[unattr] <= MAX_UNATTR_PCT * s[all]))" \
	"$(ms unattr) of $(ms all) ms of pid $fx in stacks with neither main nor pipe_writer (want <= $MAX_UNATTR_PCT%)"

# ---- exact stacks of the waits
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? 100 * a / b : 0 }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { print (a >= b) ? 1 : 0 }'; }
for p in sleep pipe; do
	[[ $p == sleep ]] && kf=do_nanosleep chain=$SLEEP_CHAIN || kf='(anon_)pipe_read' chain=$PIPE_CHAIN
	if [[ -s $T/bad.$p.txt ]]; then
		info "phase_$p stacks blocked in $kf without the exact chain (ns, frames leaf first):"
		sed 's/^/    /' "$T/bad.$p.txt"
	fi
	check "$((s[${p}_bl] > 0))" "phase_$p has stacks blocked in $kf ($(ms "${p}_bl") ms)"
	e=$(pct "${s[${p}_exact]}" "${s[${p}_bl]}")
	check "$(ge "$e" "$MIN_EXACT_PCT")" \
		"phase_$p: $e% of the ns blocked in $kf has the exact user chain ${chain} (want >= $MIN_EXACT_PCT%)"
	b=$(pct "${s[${p}_bl]}" "${s[$p]}")
	check "$(ge "$b" "$MIN_BLOCKED_PCT")" \
		"phase_$p: $b% of its off-CPU ns is blocked in $kf (want >= $MIN_BLOCKED_PCT%; the rest is preemption)"
done
if [[ -s $T/badreason.txt ]]; then
	info "blocked stacks whose reason is not sleep (ns, phase reason):"
	sed 's/^/    /' "$T/badreason.txt"
fi
r=$(pct "${s[bl_sleep]}" "${s[bl_all]}")
check "$(ge "$r" "$MIN_EXACT_PCT")" \
	"$r% of the ns blocked in do_nanosleep or pipe_read has offcpu_reason=sleep (TASK_INTERRUPTIBLE; want >= $MIN_EXACT_PCT%)"
if ((s[cpu] > 0)); then
	r=$(pct "${s[cpu_pre]}" "${s[cpu]}")
	check "$(ge "$r" "$MIN_EXACT_PCT")" \
		"phase_cpu never blocks: $r% of its $(ms cpu) ms off CPU has offcpu_reason=preempted (want >= $MIN_EXACT_PCT%)"
else
	info "phase_cpu was never preempted in the window (no reason to check)"
fi
# One nanosleep per cycle: the switches blocked in do_nanosleep count the cycles.
want_sw=$(awk -v c="$dcy" -v sp="$span" -v d="$dur" 'BEGIN { printf "%.0f", c * d * 1e9 / sp }')
check "$(awk -v a="${s[sleep_bl_sw]}" -v w="$want_sw" 'BEGIN { print (a >= 0.9 * w && a <= 1.1 * w) ? 1 : 0 }')" \
	"phase_sleep: ${s[sleep_bl_sw]} switches blocked in do_nanosleep vs $want_sw cycles in ${dur} s (fixture's rate; want +-10%)"

# ---- the split, stackd against the fixture
fx_split=$(awk -v a="$dsl" -v b="$dpi" 'BEGIN { printf "%.2f", 100 * a / (a + b) }')
sd_split=$(awk -v a="${s[sleep]}" -v b="${s[pipe]}" 'BEGIN { printf "%.2f", (a + b) ? 100 * a / (a + b) : 0 }')
info "split sleep:pipe, fixture (wall): $fx_split% : $(awk -v x="$fx_split" 'BEGIN { printf "%.2f", 100 - x }')%; stackd (off-CPU ns): $sd_split% : $(awk -v x="$sd_split" 'BEGIN { printf "%.2f", 100 - x }')%"
check "$(awk -v a="$fx_split" -v b="$sd_split" -v t="$SPLIT_PP" 'BEGIN { d = a - b; if (d < 0) d = -d; print (d <= t) ? 1 : 0 }')" \
	"phase_sleep's share of phase_sleep + phase_pipe: stackd $sd_split% vs fixture $fx_split% (want within $SPLIT_PP points)"

# ---- the total, as rates: the request's window (dur) is not exactly the snapshots' span.
# The fixture's wall minus its thread CPU time is exactly its time off CPU, for every
# reason (waits and preemption), which is what stackd sums for the main thread: both are
# compared per second, stackd's over the profile's duration, the fixture's over the span.
# Sleep + pipe wall time alone (3/4 of the cycle) is printed too: it leaves out preemption
# in phase_cpu and counts the syscalls' on-CPU microseconds, a looser figure.
fx_rate=$(awk -v sp="$span" -v tc="$dtc" 'BEGIN { printf "%.4f", (sp - tc) / sp }')
fx_sp_rate=$(awk -v sp="$span" -v a="$dsl" -v b="$dpi" 'BEGIN { printf "%.4f", (a + b) / sp }')
sd_rate=$(awk -v n="${s[main]}" -v d="$dur" 'BEGIN { printf "%.4f", n / (d * 1e9) }')
info "off CPU per second: stackd main thread $sd_rate s/s; fixture wall - CPU $fx_rate s/s; fixture sleep + pipe wall $fx_sp_rate s/s"
check "$(awk -v a="$sd_rate" -v b="$fx_rate" -v t="$TOTAL_PCT" 'BEGIN { print (a >= b * (1 - t / 100) && a <= b * (1 + t / 100)) ? 1 : 0 }')" \
	"main-thread off-CPU time: stackd $sd_rate s/s vs fixture $fx_rate s/s (want within $TOTAL_PCT%)"

# ---- the same waits from the history: type=offcpu and type=wall on folded, pprof, page, speedscope
# The history holds the fixture's whole life (it started after the agent) up to the last drain;
# its split is compared with the fixture's own since it started. Both accounts are frozen:
# SIGUSR2 makes the fixture print its snapshot and stop itself at the end of a cycle, and the
# history is read two drains later (a contention burst between the last drain and a later
# snapshot once moved the wall split by 4 points in CI).
n0=$(grep -c '^snapshot ' "$T/offcpu_mix.out" || true)
kill -USR2 "$fx" || fail "fixture offcpu_mix (pid $fx) is gone"
deadline=$(($(now_ms) + 3000))
until [[ $(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$fx/stat" 2>/dev/null) == T ]]; do
	(($(now_ms) < deadline)) || fail "fixture offcpu_mix (pid $fx) did not stop itself within 3 s of SIGUSR2"
	sleep 0.02
done
e2e_wait_drains 2
hq="pid=$fx&seconds=600"
for t in offcpu wall; do
	code=$(curl -sS -m 30 -o "$T/hist_$t.folded" -w '%{http_code}' "$AGENT_URL/debug/pprof/folded?type=$t&$hq") || true
	[[ $code == 200 ]] || fail "GET /debug/pprof/folded?type=$t: HTTP ${code:-none} $(head -c 300 "$T/hist_$t.folded")"
	[[ $t == offcpu ]] || continue
	# The same history as pprof, right after (a drain may come between the two).
	code=$(curl -sS -m 30 -o "$T/hist_offcpu.pb.gz" -w '%{http_code}' "$AGENT_URL/debug/pprof/history?type=offcpu&$hq") || true
	[[ $code == 200 ]] || fail "GET /debug/pprof/history?type=offcpu: HTTP ${code:-none}"
done
deadline=$(($(now_ms) + 3000))
while (($(grep -c '^snapshot ' "$T/offcpu_mix.out" || true) < n0 + 1)); do
	(($(now_ms) < deadline)) || fail "fixture printed no snapshot for SIGUSR1 within 3 s"
	sleep 0.05
done
kill -CONT "$fx" || fail "fixture offcpu_mix (pid $fx) is gone"
read -r _ _ hsl hpi hcp _ _ < <(grep '^snapshot ' "$T/offcpu_mix.out" | tail -n 1)
# folded_split FILE: µs of phase_sleep, phase_pipe and phase_cpu (main thread), and of stacks with
# the exact blocked chain: comm, the root of main, run_mix, the phase, libc, then kernel frames.
SLEEP_FOLDED="^offcpu_mix;_start;__libc_start_main(_impl)?;__libc_start_call_main;main;run_mix;phase_sleep;${LIBC_NANOSLEEP}(_[[]i[]])?;${LIBC_CLOCK_NANOSLEEP}(_[[]i[]])?;([^;]*_[[]k[]];)*do_nanosleep_[[]k[]](;|\$)"
folded_split()
{
	awk -v sre="$SLEEP_FOLDED" '{
		n = $NF; st = $0; sub(/ [0-9]+$/, "", st); all += n
		if (st !~ /;main;run_mix;/) next
		if (st ~ /;run_mix;phase_sleep(;|$)/) { sl += n; if (st ~ sre) ex += n }
		else if (st ~ /;run_mix;phase_pipe(;|$)/) pi += n
		else if (st ~ /;run_mix;phase_cpu(;|$)/) cp += n
	} END { printf "%.0f %.0f %.0f %.0f %.0f\n", sl, pi, cp, ex, all }' "$1"
}
read -r osl opi _ oex _ < <(folded_split "$T/hist_offcpu.folded")
read -r wsl wpi wcp _ _ < <(folded_split "$T/hist_wall.folded")
info "history of pid $fx: off-CPU folded phase_sleep $((osl / 1000)) ms ($((oex / 1000)) ms with the exact chain), phase_pipe $((opi / 1000)) ms; wall folded sleep $((wsl / 1000)) / pipe $((wpi / 1000)) / cpu $((wcp / 1000)) ms; fixture so far sleep $((hsl / 1000000)) / pipe $((hpi / 1000000)) / cpu $((hcp / 1000000)) ms"
check "$(ge "$(pct "$oex" "$osl")" "$MIN_EXACT_PCT")" \
	"folded?type=offcpu: $(pct "$oex" "$osl")% of phase_sleep's µs has the exact chain down to do_nanosleep_[k] (want >= $MIN_EXACT_PCT%)"
hfx=$(awk -v a="$hsl" -v b="$hpi" 'BEGIN { printf "%.2f", 100 * a / (a + b) }')
hsd=$(awk -v a="$osl" -v b="$opi" 'BEGIN { printf "%.2f", (a + b) ? 100 * a / (a + b) : 0 }')
check "$(awk -v a="$hfx" -v b="$hsd" -v t="$SPLIT_PP" 'BEGIN { d = a - b; if (d < 0) d = -d; print (d <= t) ? 1 : 0 }')" \
	"folded?type=offcpu: phase_sleep's share of sleep + pipe $hsd% vs fixture $hfx% (want within $SPLIT_PP points)"
for ph in sl pi cp; do
	declare -n fxv="h$ph" sdv="w$ph"
	a=$(awk -v f="$fxv" -v t="$((hsl + hpi + hcp))" 'BEGIN { printf "%.2f", 100 * f / t }')
	b=$(awk -v f="$sdv" -v t="$((wsl + wpi + wcp))" 'BEGIN { printf "%.2f", t ? 100 * f / t : 0 }')
	check "$(awk -v a="$a" -v b="$b" -v t="$SPLIT_PP" 'BEGIN { d = a - b; if (d < 0) d = -d; print (d <= t) ? 1 : 0 }')" \
		"folded?type=wall: the $ph phase's share of the cycle $b% vs fixture $a% (want within $SPLIT_PP points)"
	unset -n fxv sdv
done
# The history as pprof: the off-CPU sample types, and the folded µs are its ns.
rc=0
e2e_pprof -symbolize=none -raw "$T/hist_offcpu.pb.gz" >"$T/hist_offcpu.raw" 2>"$T/hist_offcpu.raw.err" || rc=$?
((rc == 0)) || { cat "$T/hist_offcpu.raw.err" >&2; fail "go tool pprof -raw (history?type=offcpu) exited with status $rc"; }
htypes=$(awk '/^Samples:$/ { getline; gsub(/\[dflt\]/, ""); print; exit }' "$T/hist_offcpu.raw")
check "$([[ $htypes == 'switches/count offcpu/nanoseconds' ]] && echo 1 || echo 0)" \
	"history?type=offcpu: sample types 'switches/count offcpu/nanoseconds' ('$htypes')"
hns=$(offcpu_flatten "$T/hist_offcpu.raw" | awk -F'\t' '$6 ~ /(^|;)U:phase_sleep;U:run_mix;U:main(;|$)/ { n += $1 } END { printf "%.0f\n", n }')
info "history?type=offcpu: phase_sleep $((hns / 1000000)) ms (pprof, a later drain than folded may be in it)"
check "$(awk -v p="$hns" -v f="$osl" 'BEGIN { print (p >= 0.98 * f * 1000 && p <= 1.25 * f * 1000) ? 1 : 0 }')" \
	"history?type=offcpu's phase_sleep ns ($hns) is folded's µs ($osl) x 1000 (at most one drain more)"
# The flame graph page and the speedscope file of the off-CPU history.
code=$(curl -sS -m 30 -o "$T/hist_offcpu.html" -w '%{http_code}' "$AGENT_URL/flamegraph?type=offcpu&$hq") || true
check "$([[ $code == 200 ]] && grep -q 'stackd off-CPU flame graph' "$T/hist_offcpu.html" &&
	grep -q '"unit":"µs","measure":"off-CPU"' "$T/hist_offcpu.html" && grep -q 'phase_sleep' "$T/hist_offcpu.html" &&
	grep -q 'type=offcpu' "$T/hist_offcpu.html" && echo 1 || echo 0)" \
	"/flamegraph?type=offcpu: HTTP $code, an off-CPU page in µs with phase_sleep, its exports keep type=offcpu"
code=$(curl -sS -m 30 -o "$T/hist_offcpu.speedscope" -w '%{http_code}' "$AGENT_URL/debug/pprof/speedscope?type=offcpu&$hq") || true
ss=$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(sorted({p["unit"] for p in d["profiles"]})), sum(sum(p["weights"]) for p in d["profiles"]))' "$T/hist_offcpu.speedscope" 2>&1) || ss="invalid: $ss"
check "$([[ $code == 200 && ${ss%% *} == microseconds ]] && echo 1 || echo 0)" \
	"/debug/pprof/speedscope?type=offcpu: HTTP $code, unit and total: $ss"
code=$(curl -sS -m 30 -o "$T/type_bad.txt" -w '%{http_code}' "$AGENT_URL/debug/pprof/folded?type=offcp") || true
check "$([[ $code == 400 ]] && grep -q 'cpu, offcpu or wall' "$T/type_bad.txt" && echo 1 || echo 0)" \
	"folded?type=offcp: HTTP $code ($(head -c 200 "$T/type_bad.txt"))"
agent_stop

# ================================================================ run 2: --profiling.pids
agent_start "${AGENT_ARGS[@]}" --profiling.pids="$fx"
sleep "$LEAD"
fetch run2
read -r n2 fx2 others2 < <(awk -F'\t' -v p="$fx" '{ n++; if ($3 == p) f += $1; else { o += $1; op[$3] = 1 } }
	END { s = ""; for (k in op) s = s (s == "" ? "" : ",") k; printf "%.0f %.0f %s\n", n, f, s == "" ? "-" : s }' "$T/run2.tsv")
info "run 2 (--profiling.pids=$fx): $n2 samples, $((fx2 / 1000000)) ms of pid $fx, other pids: $others2"
check "$((fx2 > 0))" "the filtered profile has the fixture's samples ($((fx2 / 1000000)) ms)"
check "$([[ $others2 == - ]] && echo 1 || echo 0)" \
	"the filtered profile has no sample of any other pid (second instance $fx_other, sleep loop $sleeper; saw: $others2)"
agent_stop

kill -TERM "$fx" 2>/dev/null || fail "fixture offcpu_mix (pid $fx) exited early"
rc=0
e2e_reap "$fx" 10 || rc=$?
check "$((rc == 0))" "fixture exited with status $rc after SIGTERM"
info "fixture's whole run: $(grep -E '^(phase_|cycles)' "$T/offcpu_mix.out" | tr '\n' ' ')"

pass "off-CPU: exact wait stacks, split $sd_split% vs fixture $fx_split%, $sd_rate vs $fx_rate s/s off CPU, pid filter holds"
