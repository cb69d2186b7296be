#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Python frames by name (issue 13): CPython 3.11 (Debian's /usr/bin/python3.11, no debug
# package), no change to the program, the frames read by the in-kernel walk.
#
#   fixture: tests/fixtures/py_split.py for PY_SECONDS (20) s: the main thread cycles
#            <module> -> main -> Kitchen.serve -> Kitchen.cook -> bake | fry | boil
#            (15:9:6 ms of its CPU time, measured by the fixture with time.thread_time_ns);
#            a hasher thread runs hash_loop -> hashlib.sha256 on 4 MiB (C, GIL released).
#            Two instances, one after the other: one as is, one in a container layout
#            (`unshare --pid --fork --mount --mount-proc`: its own pid namespace, so its
#            threads' ids, which CPython records, are not the host's).
#   agent:   --profiling.frequency=99 --offcpu.enabled (kernel mode, --python.enabled by default)
#   checks:  per instance, from /debug/pprof/history?pid=P after it exited (go tool pprof -raw):
#            >= 95% of the samples under Kitchen.cook read, leaf first,
#              [native frames;] bake|fry|boil; Kitchen.cook; Kitchen.serve; main; <module>;
#              PyEval_EvalCode; [native frames;] _start
#            (boil as [bubbles; [native frames;]] boil: a generator resumed by boil's loop),
#            and >= 50% of boil's samples are in the generator bubbles;
#            (the Python frames in place of _PyEval_EvalFrameDefault, the native root kept);
#            the bake:fry:boil split of those samples within 3 points of the fixture's own;
#            >= 95% of the hasher's samples read [native;] hash_loop; [native;] Thread.run;
#            Thread._bootstrap_inner; Thread._bootstrap; [native;] start_thread[; clone3],
#            and >= 50% of them have native frames above hash_loop (inside the C digest);
#            file:line: `go tool pprof -list '^bake$'` attributes >= 90% of bake's samples
#            to the fixture's two loop-bake lines, in the fixture's file;
#            no frame named "[unknown Python code]"; stackd_python_frames_total > 0;
#            off CPU (history?type=offcpu): >= 100 switches of the hasher asleep in time.sleep
#            (do_nanosleep), >= 95% of them with hash_loop's chain to start_thread.
#   prints:  the splits, the chains that did not match, the Python metrics.
#
# Environment: PY_SECONDS=20.
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PYTHON=/usr/bin/python3.11
SECONDS_RUN=${PY_SECONDS:-20}
SPLIT_PP=3
MIN_PCT=95

e2e_require_bpf
e2e_require_cmd go curl unshare
[[ -x $PYTHON ]] || skip_or_fail "$PYTHON is not installed (Debian's python3.11)"

fixture=$T/py_split.py
cp "$STACKD_SRC/tests/fixtures/py_split.py" "$fixture" || fail "cannot copy the fixture"

agent_start --profiling.frequency=99 --offcpu.enabled
# One at a time: each main thread gets a CPU of its own (the split is a sampling estimate).
e2e_bg py_host "$PYTHON" "$fixture" "$SECONDS_RUN"
host=$BG_PID
info "fixture pid $host running $SECONDS_RUN s"
rc=0
e2e_reap "$host" $((SECONDS_RUN + 60)) || rc=$?
((rc == 0)) || fail "fixture (host) exited with status $rc: $(cat "$T/py_host.out")"
e2e_bg py_ns unshare --pid --fork --mount --mount-proc "$PYTHON" "$fixture" "$SECONDS_RUN"
ns_parent=$BG_PID
# The python inside is unshare's child (pid 1 of its namespace).
ns=""
for _ in $(seq 1 50); do
	ns=$(pgrep -P "$ns_parent" -x python3.11 || true)
	[[ -n $ns ]] && break
	sleep 0.1
done
[[ -n $ns ]] || fail "no python3.11 under unshare (pid $ns_parent): $(cat "$T/py_ns.out")"
info "fixture in a pid namespace: pid $ns (unshare $ns_parent) running $SECONDS_RUN s"
rc=0
e2e_reap "$ns_parent" $((SECONDS_RUN + 60)) || rc=$?
((rc == 0)) || fail "fixture (pid namespace) exited with status $rc: $(cat "$T/py_ns.out")"
# Every sample the kernel counted before they exited is in the history two drains later.
e2e_wait_drains 2
curl -fsS -m 10 -o "$T/metrics.txt" "$AGENT_URL/metrics" || fail "GET /metrics failed"
info "Python metrics:"
grep -E '^stackd_python_' "$T/metrics.txt" | sed 's/^/    /'

for inst in host ns; do
	declare -n pid=$inst
	e2e_history "$inst" "pid=$pid&seconds=600"
	# The off-CPU history: the hasher's sleeps (time.sleep, GIL released), by switches.
	e2e_history "$inst.off" "type=offcpu&pid=$pid&seconds=600"
	unset -n pid
done
agent_stop

# judge TSV: "cook good bake fry boil hash hash_good hash_native unknown"; other chains to
# $T/bad.*.txt. User frames only, leaf first.
judge()
{
	awk -F'\t' -v out="$2" '
	{
		n = split($4, fr, ";"); s = ""
		for (i = 1; i <= n; i++) if (fr[i] ~ /^U:/) s = s (s == "" ? "" : ";") substr(fr[i], 3)
		if (s ~ /\[unknown Python code\]/) unknown += $1
		if (s ~ /(^|;)Kitchen\.cook;/) {
			cook += $1
			# boil runs a generator (bubbles) in an eval call of its own: native frames between.
			if (s ~ /(^|;)(bake|fry|(bubbles;([^;]+;)*)?boil);Kitchen\.cook;Kitchen\.serve;main;<module>;PyEval_EvalCode;([^;]+;)*_start$/) {
				good += $1
				if (s ~ /(^|;)bake;Kitchen\.cook;/) b += $1
				else if (s ~ /(^|;)fry;Kitchen\.cook;/) f += $1
				else { c += $1; if (s ~ /(^|;)bubbles;/) gen += $1 }
			} else bad[s] += $1
		}
		if (s ~ /(^|;)hash_loop(;|$)/) {
			h += $1
			if (s ~ /(^|;)hash_loop;([^;]+;)*Thread\.run;Thread\._bootstrap_inner;Thread\._bootstrap;([^;]+;)*start_thread(;(__)?clone3)?$/)
				hg += $1
			else hbad[s] += $1
			if (s !~ /^hash_loop(;|$)/) hn += $1
		}
	}
	END {
		printf "%d %d %d %d %d %d %d %d %d %d\n", cook, good, b, f, c, h, hg, hn, unknown, gen
		printf "" > (out ".cook.txt"); printf "" > (out ".hash.txt")
		for (k in bad) printf "%6d  %s\n", bad[k], k | "sort -rn | head -n 4 | cut -c1-600 > \"" out ".cook.txt\""
		for (k in hbad) printf "%6d  %s\n", hbad[k], k | "sort -rn | head -n 4 | cut -c1-600 > \"" out ".hash.txt\""
	}' "$1"
}

pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? 100 * a / b : 0 }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { print (a >= b) ? 1 : 0 }'; }
near() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; print (d <= t) ? 1 : 0 }'; }

for inst in host ns; do
	read -r cook good bk fr bo h hg hn unknown gen < <(judge "$T/$inst.tsv" "$T/bad.$inst")
	read -r fb ff fc < <(awk '/^split / { for (i = 2; i <= 4; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		print v["bake"], v["fry"], v["boil"] }' "$T/py_$inst.out")
	[[ -n $fb ]] || fail "$inst: the fixture printed no split: $(cat "$T/py_$inst.out")"
	info "$inst: $cook samples under Kitchen.cook, $good with the exact chain ($(pct "$good" "$cook")%); hasher $h ($hg with its chain, $hn inside C)"
	if [[ -s $T/bad.$inst.cook.txt ]]; then
		info "$inst: other chains under Kitchen.cook (samples, user frames leaf first):"
		sed 's/^/    /' "$T/bad.$inst.cook.txt"
	fi
	if [[ -s $T/bad.$inst.hash.txt ]]; then
		info "$inst: other hasher chains:"
		sed 's/^/    /' "$T/bad.$inst.hash.txt"
	fi
	check "$((cook >= 300))" "$inst: at least 300 samples under Kitchen.cook ($cook)"
	check "$(ge "$(pct "$good" "$cook")" "$MIN_PCT")" \
		"$inst: $(pct "$good" "$cook")% of them read bake|fry|boil;Kitchen.cook;Kitchen.serve;main;<module>;PyEval_EvalCode;...;_start (want >= $MIN_PCT%)"
	tot=$((fb + ff + fc))
	info "$inst: split bake:fry:boil, stackd $(pct "$bk" "$good"):$(pct "$fr" "$good"):$(pct "$bo" "$good"), fixture $(pct "$fb" "$tot"):$(pct "$ff" "$tot"):$(pct "$fc" "$tot")"
	for row in "bake $bk $fb" "fry $fr $ff" "boil $bo $fc"; do
		read -r name sd fx <<<"$row"
		a=$(pct "$fx" "$tot")
		s=$(pct "$sd" "$good")
		check "$(near "$a" "$s" "$SPLIT_PP")" "$inst: $name's share: stackd $s% vs fixture $a% (thread CPU time; want within $SPLIT_PP points)"
	done
	check "$(ge "$(pct "$gen" "$bo")" 50)" "$inst: $(pct "$gen" "$bo")% of boil's samples are in its generator bubbles (want >= 50%)"
	check "$((h >= 100))" "$inst: at least 100 hasher samples ($h)"
	check "$(ge "$(pct "$hg" "$h")" "$MIN_PCT")" \
		"$inst: $(pct "$hg" "$h")% of the hasher's samples read hash_loop;...;Thread.run;Thread._bootstrap_inner;Thread._bootstrap;...;start_thread (want >= $MIN_PCT%)"
	check "$(ge "$(pct "$hn" "$h")" 50)" \
		"$inst: $(pct "$hn" "$h")% of the hasher's samples are in native code above hash_loop (the digest, GIL released; want >= 50%)"
	check "$((unknown == 0))" "$inst: no frame is [unknown Python code] ($unknown samples)"
	# Off CPU: the hasher asleep in time.sleep, its Python frames kept.
	read -r sl slg < <(awk -F'\t' '$4 ~ /(^|;)K:do_nanosleep(;|$)/ && $4 ~ /(^|;)U:hash_loop(;|$)/ {
		n += $1; s = $4; gsub(/(^|;)K:[^;]*/, "", s); gsub(/U:/, "", s); sub(/^;/, "", s)
		if (s ~ /(^|;)hash_loop;([^;]+;)*Thread\.run;Thread\._bootstrap_inner;Thread\._bootstrap;([^;]+;)*start_thread(;(__)?clone3)?$/) g += $1 }
		END { printf "%d %d\n", n, g }' "$T/$inst.off.tsv")
	info "$inst: off CPU, $sl switches of the hasher asleep in do_nanosleep, $slg with its whole chain"
	check "$((sl >= 100))" "$inst: at least 100 off-CPU switches of hash_loop in do_nanosleep ($sl)"
	check "$(ge "$(pct "$slg" "$sl")" "$MIN_PCT")" \
		"$inst: $(pct "$slg" "$sl")% of them read hash_loop;...;Thread._bootstrap;...;start_thread (want >= $MIN_PCT%)"
done

# file:line, as go tool pprof -list shows them: bake's samples on its loop lines, in its file.
rc=0
e2e_pprof -symbolize=none -list '^bake$' "$T/host.pb.gz" >"$T/list.txt" 2>"$T/list.err" || rc=$?
((rc == 0)) || { cat "$T/list.err" >&2; fail "go tool pprof -list exited with status $rc"; }
read -r in_loop all_cum file_ok < <(awk -v f="$fixture" '
	/^ROUTINE/ { ok = (index($0, " in " f) > 0) }
	/^ *[-0-9.a-z]+ +[-0-9.a-z]+ +[0-9]+:/ {
		c = $2; v = c + 0
		if (c ~ /ms$/) v = v / 1000; else if (c ~ /us$/) v = v / 1e6; else if (c == ".") v = 0
		all += v; if ($0 ~ /# loop-bake/) loop += v
	}
	END { printf "%.4f %.4f %d\n", loop, all, ok }' "$T/list.txt")
info "go tool pprof -list '^bake\$':"
sed -n '1,16p' "$T/list.txt" | sed 's/^/    /'
check "$((file_ok == 1))" "pprof -list finds bake in the fixture's file $fixture"
check "$(awk -v a="$in_loop" -v b="$all_cum" 'BEGIN { print (b > 0 && a >= 0.9 * b) ? 1 : 0 }')" \
	"bake's samples on its loop-bake lines: ${in_loop}s of ${all_cum}s (want >= 90%)"
check "$(awk -v v="$(metric_val "$T/metrics.txt" stackd_python_frames_total)" 'BEGIN { print (v > 0) ? 1 : 0 }')" \
	"stackd_python_frames_total > 0"

pass "Python frames: exact chains to _start and start_thread, the fixture's split, file:line, in and out of a pid namespace"
