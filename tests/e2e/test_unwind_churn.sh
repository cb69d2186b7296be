#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Short-lived processes are named (issue 12): 200 execs a second, each burning 20-60 ms
# in a function built without frame pointers, come out with their own hot function,
# and never with another process's function names.
#
#   fixtures: tests/fixtures/unwind_churn.c, `gcc -O2 -g -fomit-frame-pointer`, built as
#             churn_hot (hot function churn_hot_burn) and, with -DCHURN_DECOY, as
#             churn_decoy (the same code at the same addresses, named decoy_burn);
#             churn_spawn (a copy of churn_hot) execs `churn_hot burn 20..60` 200 times
#             a second for 10 s (fork + execve: each a distinct exec; the 20-60 ms are wall
#             clock, spent spinning: ~8 processes share the 2 CPUs at any time), while one
#             churn_decoy process spins in decoy_burn for the whole window.
#   agent:    default --unwind.mode (or CHURN_MODE), --profiling.frequency=99, one
#             profile of 13 s covering the whole churn
#   checks:   the spawner's processes all started and exited 0 (the rate it kept is
#             printed: a loaded node keeps less than 200/s, and that is not asserted); samples with comm churn_hot
#             (the spawner's own children after their exec) come from >= 100 distinct
#             processes; leaving out the samples named as the process's start-up (ld.so's
#             _dl_start, dl_main, the kernel's exec) or exit (exit, do_exit: its address space is
#             going), >= CHURN_MIN_PCT% (30) of them have churn_hot_burn among their user
#             frames (the share of all samples is printed too); 0 of them name decoy_burn, and 0 of the decoy's samples name
#             churn_hot_burn (wrong names); the decoy's own samples are printed.
#   prints:   the shares, the most frequent stacks of churn samples that miss the name.
#
# The floor is a regression guard, not the issue's target (90%, measured by
# bench/unwind_churn.sh): on 2 vCPUs this churn keeps ~8 processes runnable at once, the
# agent's drain thread waits its turn behind them, and a process that lives 20-60 ms is
# often gone before its maps are read. Those get their binary's and ld.so's mappings from
# another process of the same binary (stackd_process_maps_from_template_total); frames in
# their libraries stay raw. Measured here under that load: 54-56% in the session that added
# it, 43-56% over 9 runs a day later, 35.96% in one CI run on a fresh machine; 7% before
# exec-time announcements and templates. The floor (30%) catches a return to that.
#
# Environment: CHURN_MODE (empty: the agent's default; else --unwind.mode), CHURN_MIN_PCT=30,
# CHURN_CC=gcc.
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HZ=99
RATE=200
SECONDS_CHURN=10
WINDOW=$((SECONDS_CHURN + 3))
MODE=${CHURN_MODE:-}
MIN_PCT=${CHURN_MIN_PCT:-30}
CHURN_CC=${CHURN_CC:-gcc}
MIN_PROCS=100 # distinct sampled processes: ~2,000 run on an idle node, each for 20-60 ms

e2e_require_bpf
e2e_require_cmd "$CHURN_CC" go curl nm

src=$STACKD_SRC/tests/fixtures/unwind_churn.c
"$CHURN_CC" -O2 -g -fomit-frame-pointer -Wall -o "$T/churn_hot" "$src" || fail "cannot build $src"
"$CHURN_CC" -O2 -g -fomit-frame-pointer -Wall -DCHURN_DECOY -o "$T/churn_decoy" "$src" ||
	fail "cannot build $src -DCHURN_DECOY"
cp "$T/churn_hot" "$T/churn_spawn"
a_hot=$(nm "$T/churn_hot" | awk '$3 == "churn_hot_burn" { print $1 }')
a_decoy=$(nm "$T/churn_decoy" | awk '$3 == "decoy_burn" { print $1 }')
check "$([[ -n $a_hot && $a_hot == "$a_decoy" ]] && echo 1 || echo 0)" \
	"churn_hot_burn and decoy_burn at the same address in their binaries (0x$a_hot, 0x$a_decoy)"

agent_args=("--profiling.frequency=$HZ")
[[ -n $MODE ]] && agent_args+=(--unwind.mode="$MODE")
agent_start "${agent_args[@]}"

e2e_bg decoy "$T/churn_decoy" burn $(((WINDOW + 20) * 1000))
decoy=$BG_PID
url="$AGENT_URL/debug/pprof/profile?seconds=$WINDOW"
info "fetching $url in the background; decoy pid $decoy"
(curl -sS -m $((WINDOW + 30)) -o "$T/profile.pb.gz" -w '%{http_code}' "$url" >"$T/code.txt" 2>"$T/curl.err") &
curl_pid=$!
e2e_track "$curl_pid"
sleep 1
info "churn: $RATE execs/s for $SECONDS_CHURN s"
# The spawner is the load generator: at nice -10 (its children go back to 0 before their
# exec) it keeps its rate on a node whose CPUs the churn and other work fill.
e2e_bg spawn nice -n -10 "$T/churn_spawn" spawn "$RATE" "$SECONDS_CHURN" "$T/churn_hot"
spawner=$BG_PID
rc=0
e2e_reap "$spawner" $((SECONDS_CHURN + 60)) || rc=$?
info "spawner: $(cat "$T/spawn.out") (status $rc)"
((rc == 0)) || fail "the spawner failed (status $rc)"
e2e_reap "$curl_pid" $((WINDOW + 40)) || true
code=$(cat "$T/code.txt" 2>/dev/null || true)
[[ $code == 200 ]] || fail "GET $url: HTTP ${code:-none} $(cat "$T/curl.err")"
curl -fsS -m 10 -o "$T/metrics.txt" "$AGENT_URL/metrics" || fail "GET /metrics failed"
kill -TERM "$decoy" 2>/dev/null || fail "decoy (pid $decoy) exited early"
e2e_reap "$decoy" 10 || true
agent_stop

rc=0
e2e_pprof -symbolize=none -raw "$T/profile.pb.gz" >"$T/raw.txt" 2>"$T/raw.err" || rc=$?
((rc == 0)) || { cat "$T/raw.err" >&2; fail "go tool pprof -raw exited with status $rc"; }
pprof_flatten <"$T/raw.txt" >"$T/flat.tsv"
info "unwind metrics:"
grep -E '^stackd_unwind_[a-z_]+(\{[^}]*\})? ' "$T/metrics.txt" | grep -v cache | sed 's/^/    /' || true

# "churn startexit named procs wrong_in_churn decoy decoy_named wrong_d"; misses in $T/miss.txt.
# startexit: samples of a churn process starting (in ld.so before main, or in the kernel's
# exec) or ending (exit, exit_group: the address space is being torn down), named as such:
# true stacks of what the process was doing, not of its hot function, so they are left
# out of the share (and counted apart).
read -r churn startexit named procs wrong_c decoy_all decoy_named wrong_d < <(awk -F'\t' -v decoy="$decoy" -v miss="$T/miss.txt" '
	{
		n = split($4, fr, ";"); s = ""; hot = 0; dec = 0; se = 0
		for (i = 1; i <= n; i++) {
			f = substr(fr[i], 3)
			if (fr[i] ~ /^K:/) {
				if (f ~ /^(do_exit|do_group_exit|bprm_execve|do_execveat_common.*|begin_new_exec)$/) se = 1
				continue
			}
			s = s (s == "" ? "" : ";") f
			if (f == "churn_hot_burn") hot = 1
			if (f == "decoy_burn") dec = 1
			if (f ~ /^(_dl_start|_dl_start_user|_dl_start_final|_dl_sysdep_start|dl_main|_exit|exit|__run_exit_handlers|_dl_fini)$/) se = 1
		}
	}
	$2 == decoy { da += $1; if (dec) dn += $1; if (hot) wd += $1; next }
	$3 == "churn_hot" {
		c += $1; p[$2] = 1
		if (dec) wc += $1
		if (hot) h += $1
		else if (se) sx += $1
		else m[s == "" ? "(no user frames)" : s] += $1
	}
	END {
		for (k in p) np++
		printf "%d %d %d %d %d %d %d %d\n", c, sx, h, np, wc, da, dn, wd
		for (k in m) printf "%6d  %s\n", m[k], k | "sort -rn | head -n 8 > \"" miss "\""
	}' "$T/flat.tsv")
pct=$(awk -v a="$named" -v b="$churn" -v x="$startexit" 'BEGIN { printf "%.2f", b - x ? 100 * a / (b - x) : 0 }')
raw_pct=$(awk -v a="$named" -v b="$churn" 'BEGIN { printf "%.2f", b ? 100 * a / b : 0 }')
info "churn: $churn samples from $procs processes; $startexit in start-up or exit; $named name churn_hot_burn: $pct% of the rest ($raw_pct% of all)"
info "decoy (pid $decoy): $decoy_all samples, $decoy_named name decoy_burn"
if [[ -s $T/miss.txt ]]; then
	info "churn samples without churn_hot_burn (samples, user frames leaf first):"
	cut -c1-300 "$T/miss.txt" | sed 's/^/    /'
fi
check "$((procs >= MIN_PROCS))" "$procs distinct churn processes sampled (want >= $MIN_PROCS)"
check "$(awk -v p="$pct" -v m="$MIN_PCT" 'BEGIN { print (p >= m) ? 1 : 0 }')" \
	"$pct% of churn samples name churn_hot_burn (want >= $MIN_PCT%)"
check "$((wrong_c == 0))" "no churn sample names decoy_burn ($wrong_c do)"
check "$((wrong_d == 0))" "no decoy sample names churn_hot_burn ($wrong_d do)"
check "$((decoy_all > 0))" "the decoy was sampled ($decoy_all samples)"
pass "short-lived processes named in mode ${MODE:-default}: $pct% of $churn samples, 0 wrong names"
