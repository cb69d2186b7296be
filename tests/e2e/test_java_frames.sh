#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Java frames by name (issue 13): OpenJDK 17 (Debian's openjdk-17-jdk-headless), no flag on
# the java command line. The agent asks each JVM for its perf map through the JVM's attach
# socket (as jcmd Compiler.perfmap does) and the in-kernel walk steps through JIT-compiled
# frames by their code blobs (the JVM's own vmStructs say where they are).
#
#   fixture: tests/fixtures/JavaHot.java for JAVA_SECONDS (24) s: the main thread loops
#            JavaHot.main -> Bakery.run -> Bakery.knead -> Bakery.fold (each method too big
#            for C2 to inline into its caller, so each keeps a compiled frame), almost all
#            CPU in fold. Three JVMs, one after the other: as root; as uid/gid 65534 (the
#            attach then runs as that user); in a container layout (`unshare --pid --fork
#            --mount --mount-proc` with a tmpfs of its own on /tmp: its pid and its /tmp are
#            not the host's).
#   agent:   --profiling.frequency=99 --history.window=1s (kernel mode, --java.enabled by default)
#   checks:  per JVM, from /debug/pprof/history?pid=P&start=&end= of the WINDOW (12) s after
#            WARMUP (8) s of warm-up, read while the JVM runs, go tool pprof -raw:
#            >= 90% of the samples with a fold frame read, leaf first,
#              fold; knead; run; (main|Interpreter); ...; JavaCalls::call_helper; ...;
#              JavaMain; ...; start_thread[; clone3]
#            (the Java method names from the perf map, the compiled frames stepped without
#            frame pointers, the native root through libjvm.so);
#            >= 80% of all the JVM's main-thread samples (under JavaMain) are in fold;
#            stackd_java_attach_results_total{result="ok"} >= 3,
#            stackd_java_code_heap_layouts_total >= 3, stackd_java_jit_frames_total > 0.
#   prints:  the chains that did not match, the Java metrics.
#
# Environment: JAVA_SECONDS=24.
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

JDK=/usr/lib/jvm/java-17-openjdk-amd64
SECONDS_RUN=${JAVA_SECONDS:-24}
WARMUP=8
WINDOW=12
MIN_PCT=95

e2e_require_bpf
e2e_require_cmd go curl unshare setpriv
[[ -x $JDK/bin/java && -x $JDK/bin/javac ]] || skip_or_fail "no OpenJDK 17 at $JDK (Debian's openjdk-17-jdk-headless)"

classes=$T/classes
mkdir -p "$classes"
"$JDK/bin/javac" -d "$classes" "$STACKD_SRC/tests/fixtures/JavaHot.java" || fail "javac failed"
# The uid 65534 JVM reads its classes too.
chmod -R a+rX "$T"

# One-second history windows: the range read below starts within a second of the warm-up's end.
agent_start --profiling.frequency=99 --history.window=1s

# run_jvm NAME CMD...: run CMD (a java command line, maybe under setpriv or unshare), find its
# java process, read that process's history after the warm-up, and wait for it.
run_jvm()
{
	local name=$1 jpid="" rc=0
	shift
	e2e_bg "$name" "$@"
	local bg=$BG_PID
	for _ in $(seq 1 50); do
		jpid=$(pgrep -x java -P "$bg" || true)
		[[ -z $jpid ]] && [[ $(cat "/proc/$bg/comm" 2>/dev/null) == java ]] && jpid=$bg
		[[ -n $jpid ]] && break
		sleep 0.1
	done
	[[ -n $jpid ]] || fail "$name: no java process under $bg: $(cat "$T/$name.out")"
	info "$name: java pid $jpid (uid $(stat -c %u "/proc/$jpid")) running $SECONDS_RUN s"
	# After the warm-up (compilations, the first perf maps): the next WINDOW s.
	sleep "$WARMUP"
	local from
	from=$(date +%s)
	sleep "$WINDOW"
	e2e_history "$name" "pid=$jpid&start=$from&end=$(date +%s)"
	e2e_reap "$bg" $((SECONDS_RUN + 60)) || rc=$?
	((rc == 0)) || fail "$name: the JVM exited with status $rc: $(cat "$T/$name.out")"
	printf '%s\n' "$jpid" >"$T/$name.pid"
}

J="$JDK/bin/java -cp $classes JavaHot $SECONDS_RUN"
# shellcheck disable=SC2086 # $J is a command line
run_jvm root $J
# shellcheck disable=SC2086
run_jvm nobody setpriv --reuid=65534 --regid=65534 --clear-groups $J
# shellcheck disable=SC2086
run_jvm ns unshare --pid --fork --mount --mount-proc sh -c "mount -t tmpfs tmpfs /tmp && exec $J"

curl -fsS -m 10 -o "$T/metrics.txt" "$AGENT_URL/metrics" || fail "GET /metrics failed"
info "Java metrics:"
grep -E '^stackd_java_' "$T/metrics.txt" | sed 's/^/    /'
agent_stop

pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? 100 * a / b : 0 }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { print (a >= b) ? 1 : 0 }'; }

# Regexes, handed to awk through the environment (-v would eat their backslashes).
# shellcheck disable=SC2016 # the $ is the class name's, not a variable
export FOLD='long JavaHot\$Bakery\.fold\(long\)' KNEAD='long JavaHot\$Bakery\.knead\(long\)' \
	RUN='long JavaHot\$Bakery\.run\(long, long\)' \
	MAIN='(void JavaHot\.main\(java\.lang\.String\[\]\)|Interpreter)'
for inst in root nobody ns; do
	read -r main fold good < <(awk -F'\t' -v out="$T/bad.$inst.txt" '
	BEGIN { f = ENVIRON["FOLD"]; k = ENVIRON["KNEAD"]; r = ENVIRON["RUN"]; m = ENVIRON["MAIN"] }
	{
		n = split($4, fr, ";"); s = ""
		for (i = 1; i <= n; i++) if (fr[i] ~ /^U:/) s = s (s == "" ? "" : ";") substr(fr[i], 3)
		if (s !~ /(^|;)JavaMain(;|$)/) next
		main += $1
		if (s !~ ("(^|;)" f "(;|$)")) next
		fold += $1
		if (s ~ ("^" f ";" k ";" r ";" m ";([^;]+;)*JavaCalls::call_helper[^;]*;([^;]+;)*JavaMain;([^;]+;)*start_thread(;(__)?clone3)?$"))
			good += $1
		else bad[s] += $1
	}
	END {
		printf "%d %d %d\n", main, fold, good
		printf "" > out
		for (k in bad) printf "%6d  %s\n", bad[k], k | "sort -rn | head -n 5 | cut -c1-700 > \"" out "\""
	}' "$T/$inst.tsv")
	info "$inst: $main main-thread samples, $fold in fold ($(pct "$fold" "$main")%), $good with the whole chain ($(pct "$good" "$fold")%)"
	if [[ -s $T/bad.$inst.txt ]]; then
		info "$inst: other chains through fold (samples, user frames leaf first):"
		sed 's/^/    /' "$T/bad.$inst.txt"
	fi
	check "$((main >= 400))" "$inst: at least 400 main-thread samples in $WINDOW s at 99 Hz ($main)"
	check "$(ge "$(pct "$fold" "$main")" 80)" \
		"$inst: $(pct "$fold" "$main")% of them name JavaHot\$Bakery.fold (want >= 80%)"
	check "$(ge "$(pct "$good" "$fold")" "$MIN_PCT")" \
		"$inst: $(pct "$good" "$fold")% of those read fold;knead;run;main|Interpreter;...;JavaCalls::call_helper;...;JavaMain;...;start_thread (want >= $MIN_PCT%)"
done

ok=$(awk '/^stackd_java_attach_results_total\{result="ok"\}/ { print $2 + 0 }' "$T/metrics.txt")
check "$(ge "${ok:-0}" 3)" "stackd_java_attach_results_total{result=\"ok\"} >= 3 (${ok:-0})"
check "$(ge "$(metric_val "$T/metrics.txt" stackd_java_code_heap_layouts_total)" 3)" \
	"stackd_java_code_heap_layouts_total >= 3"
check "$(awk -v v="$(metric_val "$T/metrics.txt" stackd_java_jit_frames_total)" 'BEGIN { print (v > 0) ? 1 : 0 }')" \
	"stackd_java_jit_frames_total > 0"

pass "Java frames: method names from the JVMs' perf maps and whole chains through JIT code, as root, as another user and in a container layout"
