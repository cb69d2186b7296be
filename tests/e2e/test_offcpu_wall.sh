#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The wall-clock profile (/debug/pprof/wall, --offcpu.enabled): on-CPU samples and off-CPU
# periods of the same threads in one profile, so each thread's time adds up to the window
# and the parts of a loop's time are in the proportions the program measures itself.
#
#   fixture: offcpu_mix (`gcc -O2 -g -fno-omit-frame-pointer -pthread`): the main thread
#            cycles phase_sleep (nanosleep 20 ms), phase_pipe (blocking read, ~10 ms),
#            phase_cpu (10 ms of CPU); a pipe_writer thread; wall time per phase printed
#            at SIGUSR1 before and after the request
#   agent:   --offcpu.enabled --offcpu.min-duration=1us --profiling.frequency=999 (phase_cpu's
#            share comes from CPU samples: ~1,700 of them keep its noise near 1 point)
#   checks:  sample types events/count wall/nanoseconds; every sample of the fixture has a
#            tid label; the main thread's (tid = pid) and pipe_writer's wall ns are each
#            within 10% of the profile's duration; the main thread's shares of phase_cpu,
#            phase_sleep and phase_pipe (of the three together) are each within 3 points of
#            the fixture's own wall split over the same window (the issue's target).
#   prints:  both splits, the per-thread totals.
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WINDOW=5
LEAD=2
SPLIT_PP=3
TOTAL_PCT=10

e2e_require_bpf
e2e_require_cmd gcc go curl

fixture=$T/offcpu_mix
gcc -O2 -g -fno-omit-frame-pointer -pthread -Wall -o "$fixture" \
	"$STACKD_SRC/tests/fixtures/offcpu_mix.c" || fail "cannot build fixture offcpu_mix"

agent_start --profiling.frequency=999 --offcpu.enabled --offcpu.min-duration=1us
e2e_bg offcpu_mix "$fixture" $((LEAD + WINDOW + 20))
fx=$BG_PID
sleep "$LEAD"

url="$AGENT_URL/debug/pprof/wall?seconds=$WINDOW&pid=$fx"
kill -USR1 "$fx"
info "fetching $url"
code=$(curl -sS -m $((WINDOW + 30)) -o "$T/wall.pb.gz" -w '%{http_code}' "$url" 2>"$T/curl.err") || true
kill -USR1 "$fx"
[[ $code == 200 ]] || fail "GET $url: HTTP ${code:-none} $(cat "$T/curl.err")"
deadline=$(($(now_ms) + 3000))
while (($(grep -c '^snapshot ' "$T/offcpu_mix.out" || true) < 2)); do
	(($(now_ms) < deadline)) || fail "fixture printed no snapshot for SIGUSR1 within 3 s"
	sleep 0.05
done
kill -TERM "$fx"
e2e_reap "$fx" 10 || true
agent_stop

rc=0
e2e_pprof -symbolize=none -raw "$T/wall.pb.gz" >"$T/wall.raw" 2>"$T/raw.err" || rc=$?
((rc == 0)) || { cat "$T/raw.err" >&2; fail "go tool pprof -raw exited with status $rc"; }
types=$(awk '/^Samples:$/ { getline; print; exit }' "$T/wall.raw" | xargs)
check "$([[ $types == "events/count wall/nanoseconds" ]] && echo 1 || echo 0)" \
	"sample types are 'events/count wall/nanoseconds' ('$types')"
dur=$(awk '/^Duration:/ { print $2; exit }' "$T/wall.raw")

# The wall/nanoseconds column read as pprof_flatten's and pprof_labels' count column.
sed -e '/^Samples:$/{n;s|wall/nanoseconds|samples/count|;s|events/count|x/x|}' "$T/wall.raw" >"$T/wall.ns.raw"
pprof_flatten <"$T/wall.ns.raw" >"$T/wall.tsv"
pprof_labels <"$T/wall.ns.raw" >"$T/wall.lab"
[[ $(wc -l <"$T/wall.tsv") == "$(wc -l <"$T/wall.lab")" ]] ||
	fail "pprof_flatten and pprof_labels disagree on the number of samples"
# NS PID COMM FRAMES TID
paste "$T/wall.tsv" "$T/wall.lab" | awk -F'\t' -v OFS='\t' '{
	t = "-"; if (match($6, /(^|\|)tid=[0-9]+/)) { t = substr($6, RSTART, RLENGTH); sub(/.*=/, "", t) }
	print $1, $2, $3, $4, t }' >"$T/wall.all"

helper_tid=$(awk -F'\t' -v pid="$fx" '$2 == pid && $5 != pid && $5 != "-" { print $5; exit }' "$T/wall.all")
read -r notid main_ns helper_ns cpu_ns sleep_ns pipe_ns < <(awk -F'\t' -v pid="$fx" -v h="${helper_tid:-x}" '
	$2 != pid { next }
	$5 == "-" { notid += $1 }
	$5 == pid { m += $1
		if ($4 ~ /(^|;)U:phase_cpu(;|$)/) c += $1
		else if ($4 ~ /(^|;)U:phase_sleep(;|$)/) s += $1
		else if ($4 ~ /(^|;)U:phase_pipe(;|$)/) p += $1 }
	$5 == h { w += $1 }
	END { printf "%.0f %.0f %.0f %.0f %.0f %.0f\n", notid, m, w, c, s, p }' "$T/wall.all")
check "$((notid == 0))" "every sample of pid $fx has a tid label ($notid ns without)"
info "wall over ${dur} s: main thread $((main_ns / 1000000)) ms (phase_cpu $((cpu_ns / 1000000)), phase_sleep $((sleep_ns / 1000000)), phase_pipe $((pipe_ns / 1000000))), pipe_writer (tid ${helper_tid:-none}) $((helper_ns / 1000000)) ms"
for part in "main thread:$main_ns" "pipe_writer:$helper_ns"; do
	name=${part%%:*} ns=${part#*:}
	err=$(awk -v n="$ns" -v d="$dur" 'BEGIN { e = 100 * (n / 1e9 - d) / d; if (e < 0) e = -e; printf "%.1f", e }')
	check "$(awk -v e="$err" -v m="$TOTAL_PCT" 'BEGIN { print (e <= m) ? 1 : 0 }')" \
		"$name: $(awk -v n="$ns" 'BEGIN { printf "%.3f", n / 1e9 }') s of wall time in a ${dur} s profile ($err% off; want <= $TOTAL_PCT%)"
done

read -r _ _ sl0 pi0 cp0 _ _ < <(grep '^snapshot ' "$T/offcpu_mix.out" | head -n 1)
read -r _ _ sl1 pi1 cp1 _ _ < <(grep '^snapshot ' "$T/offcpu_mix.out" | sed -n 2p)
fsum=$(((sl1 - sl0) + (pi1 - pi0) + (cp1 - cp0)))
ssum=$((cpu_ns + sleep_ns + pipe_ns))
((fsum > 0 && ssum > 0)) || fail "no phase time (fixture $fsum ns, stackd $ssum ns)"
for part in "phase_cpu:$((cp1 - cp0)):$cpu_ns" "phase_sleep:$((sl1 - sl0)):$sleep_ns" "phase_pipe:$((pi1 - pi0)):$pipe_ns"; do
	IFS=: read -r name f s <<<"$part"
	fpct=$(awk -v a="$f" -v t="$fsum" 'BEGIN { printf "%.2f", 100 * a / t }')
	spct=$(awk -v a="$s" -v t="$ssum" 'BEGIN { printf "%.2f", 100 * a / t }')
	check "$(awk -v a="$fpct" -v b="$spct" -v m="$SPLIT_PP" 'BEGIN { d = a - b; if (d < 0) d = -d; print (d <= m) ? 1 : 0 }')" \
		"$name: stackd $spct% of the main thread's phase time vs the fixture's $fpct% (want within $SPLIT_PP points)"
done
pass "wall profile: each thread's time adds up to the window, the loop's split as the fixture measured it"
