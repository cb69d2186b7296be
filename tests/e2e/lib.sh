# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
#
# Shared helpers for the e2e tests. Each test script starts with
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# and then uses the helpers below. Contract:
#   - a test prints what it checked and the figures it saw, and exits
#     0 (pass), 1 (fail) or 77 (skipped: cannot run here, and not in CI);
#   - everything a test starts in the background is registered with
#     e2e_track and killed by the EXIT trap, whatever the outcome;
#   - every wait is bounded.
#
# Environment (ctest sets the first three; the defaults suit a run by hand
# from the source tree):
#   STACKD_BIN      the agent binary            (default $STACKD_SRC/build/stackd)
#   STACKD_SRC      the source tree             (default: two levels above this file)
#   STACKD_E2E_TMP  where scratch dirs are made (default ${TMPDIR:-/tmp})
#   CI=true         a test that cannot run (not root, no BPF, a tool missing) FAILS
#                   instead of skipping: in CI a skipped e2e test hides a broken runner
#   KEEP_TMP=1      keep the scratch directory of a passing test too
#   FIXTURE_CC      compiler for the fixtures (default clang; gcc drops leaf frames)
#   TSAN_OPTIONS    for an agent built with -DSTACKD_TSAN=ON (default below: stop at the
#                   first report, exit 66, suppress only races inside uninstrumented
#                   libraries); any ThreadSanitizer report in the scratch files fails the test

set -euo pipefail

E2E_NAME=$(basename "$0" .sh)
STACKD_SRC=${STACKD_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
STACKD_BIN=${STACKD_BIN:-$STACKD_SRC/build/stackd}
STACKD_E2E_TMP=${STACKD_E2E_TMP:-${TMPDIR:-/tmp}}
FIXTURE_CC=${FIXTURE_CC:-clang}
readonly E2E_SKIP=77
# Ignored by binaries built without ThreadSanitizer.
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1 exitcode=66 second_deadlock_stack=1 suppressions=$STACKD_SRC/tests/tsan.supp}
# An agent built with ThreadSanitizer runs 5-15x slower: the library's own waits (start-up,
# stop, pprof's fetch) stretch by E2E_SLOW; the tests' assertions do not change.
E2E_SLOW=1
E2E_PPROF_FLAGS=()
# gcc links the TSan runtime dynamically, clang statically: both leave __tsan_init's name.
if [[ -x $STACKD_BIN ]] && grep -aqF __tsan_init "$STACKD_BIN"; then
	E2E_SLOW=4
	# pprof's own deadline is 1.5x the profile's seconds, too tight for a TSan agent.
	E2E_PPROF_FLAGS=(-timeout=120)
fi

mkdir -p "$STACKD_E2E_TMP"
T=$(mktemp -d "$STACKD_E2E_TMP/$E2E_NAME.XXXXXX")
mkdir -p "$T/home" "$T/pprof-tmp"

E2E_PIDS=()   # background processes to kill on exit
AGENT_PID=""  # the agent started by agent_start, while it runs
AGENT_PORT=""
AGENT_URL=""
AGENT_LOG=""
AGENT_N=0
BG_PID=""     # pid of the last e2e_bg process

# ---------------------------------------------------------------- messages

info() { printf '[%s] %s\n' "$E2E_NAME" "$*"; }

# Print the tail of the current agent log (on failures).
agent_dump_log()
{
	[[ -n $AGENT_LOG && -f $AGENT_LOG && $AGENT_LOG != "${AGENT_LOG_DUMPED:-}" ]] || return 0
	AGENT_LOG_DUMPED=$AGENT_LOG
	printf '[%s] ---- agent log %s (last 80 lines) ----\n' "$E2E_NAME" "$AGENT_LOG" >&2
	tail -n 80 "$AGENT_LOG" >&2 || true
	printf '[%s] ---- end of agent log ----\n' "$E2E_NAME" >&2
}

fail()
{
	printf '[%s] FAIL: %s\n' "$E2E_NAME" "$*" >&2
	exit 1
}

pass()
{
	printf '[%s] PASS: %s\n' "$E2E_NAME" "${*:-all checks passed}"
	exit 0
}

# The test cannot run on this machine: skip, or fail when CI=true.
skip_or_fail()
{
	if [[ ${CI:-} == true ]]; then
		fail "cannot run: $* (CI=true: an e2e test that cannot run fails)"
	fi
	printf '[%s] SKIP: %s\n' "$E2E_NAME" "$*"
	exit "$E2E_SKIP"
}

# check COND_EXIT_STATUS MESSAGE: prints "ok: MESSAGE" or fails with it.
# Usage: check "$(( a >= b ))" "a=$a >= b=$b"   (arithmetic truth: 1 = ok)
check()
{
	if [[ $1 == 1 ]]; then
		printf '[%s] ok: %s\n' "$E2E_NAME" "$2"
	else
		fail "$2"
	fi
}

# Milliseconds since the epoch (bash 5 EPOCHREALTIME, no fork).
now_ms()
{
	local t=${EPOCHREALTIME/./}
	echo $((10#$t / 1000))
}

# ------------------------------------------------------- process tracking

e2e_track() { E2E_PIDS+=("$@"); }

e2e_untrack()
{
	local p keep=()
	for p in "${E2E_PIDS[@]}"; do
		[[ $p == "$1" ]] || keep+=("$p")
	done
	E2E_PIDS=("${keep[@]}")
}

# e2e_wait_exit PID TIMEOUT_S: 0 when PID is gone within the timeout.
e2e_wait_exit()
{
	local pid=$1 deadline=$(($(now_ms) + $2 * 1000))
	while kill -0 "$pid" 2>/dev/null; do
		(($(now_ms) < deadline)) || return 1
		sleep 0.1
	done
	return 0
}

# e2e_bg NAME CMD...: run CMD in the background, output to $T/NAME.out; sets BG_PID.
e2e_bg()
{
	local name=$1
	shift
	"$@" >"$T/$name.out" 2>&1 &
	BG_PID=$!
	e2e_track "$BG_PID"
}

# e2e_reap PID TIMEOUT_S: wait for a tracked background process, return its status
# (124 if it did not end in time; it is then killed).
e2e_reap()
{
	local pid=$1 rc=0
	if ! e2e_wait_exit "$pid" "$2"; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		e2e_untrack "$pid"
		return 124
	fi
	wait "$pid" || rc=$?
	e2e_untrack "$pid"
	return "$rc"
}

# A ThreadSanitizer report in any agent log or background output (an agent built with
# -DSTACKD_TSAN=ON): print the first one and return 1. The agent may have died of it
# (halt_on_error) or, without halt_on_error, passed the test with a race in it.
e2e_tsan_reports()
{
	local f
	f=$(grep -rlIE '(WARNING|ERROR|FATAL): ThreadSanitizer' "$T" 2>/dev/null | head -n 1) || true
	[[ -n $f ]] || return 0
	printf '[%s] FAIL: ThreadSanitizer report in %s:\n' "$E2E_NAME" "$f" >&2
	sed -n '/ThreadSanitizer/,/^SUMMARY: ThreadSanitizer/p' "$f" | head -n 60 >&2
	return 1
}

e2e_cleanup()
{
	local rc=$? p
	trap - EXIT INT TERM
	set +e
	for p in "${E2E_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${E2E_PIDS[@]}"; do
		if ! e2e_wait_exit "$p" $((5 * E2E_SLOW)); then
			printf '[%s] cleanup: pid %s ignored SIGTERM for %s s, SIGKILL\n' "$E2E_NAME" "$p" \
				$((5 * E2E_SLOW)) >&2
			kill -KILL "$p" 2>/dev/null
		fi
	done
	e2e_cgroup_cleanup
	# Checked after every process is gone, so reports printed at exit count too.
	if ((rc == 0 || rc == E2E_SKIP)) && ! e2e_tsan_reports; then
		rc=1
	elif ((rc != 0)); then
		e2e_tsan_reports || true
	fi
	if ((rc != 0 && rc != E2E_SKIP)) && [[ -n $AGENT_LOG ]]; then
		agent_dump_log
	fi
	if ((rc == 0 || rc == E2E_SKIP)) && [[ ${KEEP_TMP:-0} != 1 ]]; then
		rm -rf "$T"
	else
		printf '[%s] scratch files kept in %s\n' "$E2E_NAME" "$T" >&2
	fi
	exit "$rc"
}
trap e2e_cleanup EXIT
# A command failing under set -e would end the test without a word: say where.
set -E
trap '[[ $BASHPID != "$$" ]] || printf "[%s] FAIL: unexpected status %s at %s:%s: %s\n" "$E2E_NAME" "$?" "${BASH_SOURCE[0]##*/}" "$LINENO" "$BASH_COMMAND" >&2' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------- preconditions

# Root and BPF: the agent loads programs and opens perf events on every CPU.
e2e_require_bpf()
{
	[[ $(id -u) == 0 ]] || skip_or_fail "not root (uid $(id -u)); the agent needs root for BPF and perf events"
	[[ -r /sys/kernel/btf/vmlinux ]] || skip_or_fail "no kernel BTF (/sys/kernel/btf/vmlinux); CO-RE programs cannot load"
	[[ -d /sys/fs/bpf || -e /proc/sys/kernel/unprivileged_bpf_disabled ]] ||
		skip_or_fail "kernel without BPF syscall support"
	[[ -x $STACKD_BIN ]] || fail "agent binary not found or not executable: STACKD_BIN=$STACKD_BIN (build it first)"
}

e2e_require_cmd()
{
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip_or_fail "required tool '$c' not found in PATH"
	done
}

# ------------------------------------------------------------------ ports

# e2e_port_in_use PORT: 0 when any TCP socket (v4 or v6, any state) uses PORT locally.
e2e_port_in_use()
{
	local hex
	hex=$(printf ':%04X' "$1")
	awk -v h="$hex" 'FNR > 1 && substr($2, length($2) - 4) == h { found = 1 }
		END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# A free loopback port below the ephemeral range (so outgoing connections
# cannot take it between the check and the bind).
e2e_free_port()
{
	local i port
	for ((i = 0; i < 500; i++)); do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
		if ! e2e_port_in_use "$port"; then
			echo "$port"
			return 0
		fi
	done
	fail "no free TCP port found in 20000-31999"
}

# -------------------------------------------------------------- the agent

# agent_start [FLAGS...]: start the agent on a free loopback port (unless FLAGS
# has --web.listen-address), wait until /-/ready answers (20 s), set AGENT_PID,
# AGENT_PORT, AGENT_URL, AGENT_LOG. Dumps the log and fails if it does not come up.
agent_start()
{
	local a listen="" args=()
	for a in "$@"; do
		[[ $a == --web.listen-address=* ]] && listen=${a#--web.listen-address=}
	done
	if [[ -z $listen ]]; then
		listen=127.0.0.1:$(e2e_free_port)
		args+=("--web.listen-address=$listen")
	fi
	AGENT_PORT=${listen##*:}
	AGENT_URL=http://127.0.0.1:$AGENT_PORT
	AGENT_N=$((AGENT_N + 1))
	AGENT_LOG=$T/agent.$AGENT_N.log
	info "starting: $STACKD_BIN ${args[*]} $*"
	"$STACKD_BIN" "${args[@]}" "$@" >"$AGENT_LOG" 2>&1 &
	AGENT_PID=$!
	e2e_track "$AGENT_PID"
	agent_wait_healthy $((20 * E2E_SLOW))
}

# agent_wait_healthy TIMEOUT_S
agent_wait_healthy()
{
	local t0 deadline rc
	t0=$(now_ms)
	deadline=$((t0 + $1 * 1000))
	while (($(now_ms) < deadline)); do
		if ! kill -0 "$AGENT_PID" 2>/dev/null; then
			rc=0
			wait "$AGENT_PID" || rc=$?
			e2e_untrack "$AGENT_PID"
			agent_dump_log
			fail "agent exited with status $rc before /-/ready answered"
		fi
		# /-/healthy is liveness (200 as soon as HTTP binds); /-/ready means attached.
		if curl -fsS -m 2 -o /dev/null "$AGENT_URL/-/ready" 2>/dev/null; then
			info "agent pid $AGENT_PID ready at $AGENT_URL after $(($(now_ms) - t0)) ms"
			return 0
		fi
		sleep 0.2
	done
	agent_dump_log
	fail "agent pid $AGENT_PID not ready at $AGENT_URL/-/ready within $1 s"
}

# agent_stop [SIGNAL]: signal the agent (TERM), wait up to 15 s, require exit status 0.
agent_stop()
{
	local sig=${1:-TERM} pid=$AGENT_PID rc=0 t0
	[[ -n $pid ]] || fail "agent_stop: no agent running"
	t0=$(now_ms)
	kill -"$sig" "$pid" 2>/dev/null || fail "agent pid $pid already gone before SIG$sig"
	if ! e2e_wait_exit "$pid" $((15 * E2E_SLOW)); then
		agent_dump_log
		fail "agent pid $pid did not exit within $((15 * E2E_SLOW)) s of SIG$sig"
	fi
	wait "$pid" || rc=$?
	e2e_untrack "$pid"
	AGENT_PID=""
	if ((rc != 0)); then
		agent_dump_log
		fail "agent exited with status $rc after SIG$sig (want 0)"
	fi
	info "agent stopped by SIG$sig: exit status 0 after $(($(now_ms) - t0)) ms"
}

# ------------------------------------------------------------- fixtures

# e2e_build_fixture NAME: compile tests/fixtures/NAME.c into $T/NAME; prints the path.
# The binary keeps NAME as its file name, so the process comm is NAME.
e2e_build_fixture()
{
	local name=$1 out=$T/$1
	"$FIXTURE_CC" -O1 -g -fno-omit-frame-pointer -Wall -o "$out" \
		"$STACKD_SRC/tests/fixtures/$name.c" >&2 ||
		fail "cannot build fixture $name with $FIXTURE_CC"
	echo "$out"
}

# e2e_run_phase_shift PHASE: build and run the phase_shift fixture (PHASE s of phase_old,
# then PHASE s of phase_new) against the running agent, wait for its end and for the
# drain that puts its end into the history. Sets FX (its pid) and T_START, T_SWITCH,
# T_END (the Unix times, fractional, it printed).
e2e_run_phase_shift()
{
	local phase=$1 fixture rc=0

	fixture=$(e2e_build_fixture phase_shift)
	e2e_bg phase_shift "$fixture" "$phase"
	FX=$BG_PID
	e2e_reap "$FX" $((2 * phase + 30)) || rc=$?
	((rc == 0)) || fail "phase_shift exited with status $rc: $(cat "$T/phase_shift.out")"
	# shellcheck disable=SC2034 # set for the caller
	read -r T_START T_SWITCH T_END < <(awk '{ t[$1] = $2 } END { print t["start"], t["switch"], t["end"] }' \
		"$T/phase_shift.out")
	[[ -n $T_END ]] || fail "phase_shift printed no times: $(cat "$T/phase_shift.out")"
	sleep 2.5 # the last drain (1 s) has the end in the history
}

# -------------------------------------------------------------- clients

# go tool pprof, with its side files kept out of $HOME and bounded in time.
e2e_pprof()
{
	PPROF_TMPDIR=$T/pprof-tmp HOME=$T/home timeout $((90 * E2E_SLOW)) go tool pprof \
		"${E2E_PPROF_FLAGS[@]}" "$@"
}

# e2e_pprof_bg NAME ARGS...: e2e_pprof in the background, stdout to $T/NAME.txt,
# stderr to $T/NAME.err; sets BG_PID (the timeout process, so the cleanup trap's
# SIGTERM reaches pprof too). Collect with e2e_reap.
e2e_pprof_bg()
{
	local name=$1
	shift
	(
		export PPROF_TMPDIR=$T/pprof-tmp HOME=$T/home
		exec timeout $((90 * E2E_SLOW)) go tool pprof "${E2E_PPROF_FLAGS[@]}" "$@" \
			>"$T/$name.txt" 2>"$T/$name.err"
	) &
	BG_PID=$!
	e2e_track "$BG_PID"
}

# e2e_history NAME QUERY: /debug/pprof/history?QUERY of the running agent into $T/NAME.pb.gz,
# its go tool pprof -raw into $T/NAME.raw, flattened (pprof_flatten) into $T/NAME.tsv.
e2e_history()
{
	local url="$AGENT_URL/debug/pprof/history?$2" code rc=0
	code=$(curl -sS -m 30 -o "$T/$1.pb.gz" -w '%{http_code}' "$url" 2>"$T/$1.curl.err") || true
	[[ $code == 200 ]] || fail "GET $url: HTTP ${code:-none} $(cat "$T/$1.curl.err")"
	e2e_pprof -symbolize=none -raw "$T/$1.pb.gz" >"$T/$1.raw" 2>"$T/$1.raw.err" || rc=$?
	((rc == 0)) || { cat "$T/$1.raw.err" >&2; fail "go tool pprof -raw ($url) exited with status $rc"; }
	pprof_flatten <"$T/$1.raw" >"$T/$1.tsv"
}

# pprof_flatten < (go tool pprof -raw output)
# One line per sample:  COUNT <TAB> PID <TAB> COMM <TAB> FRAMES
# COUNT is the samples/count value, PID/COMM the labels ("-" when absent),
# FRAMES the stack leaf first, ';'-separated, each "K:name" for a location in
# the [kernel.kallsyms] mapping, "U:name" otherwise; inlined functions expand
# innermost first; a location without lines shows its address.
pprof_flatten()
{
	awk '
	function addline(id, s,    name) {
		if (s == "") return
		if (s == "??") name = "??"
		else {
			sub(/ s=-?[0-9]+(\(.*\))?$/, "", s)   # " s=START(system_name)"
			sub(/ [^ ]*:-?[0-9]+$/, "", s)        # " file:line"
			name = s
		}
		nl[id]++
		lname[id, nl[id]] = name
	}
	/^Samples:$/   { sec = "hdr"; next }
	/^Locations$/  { sec = "locs"; next }
	/^Mappings$/   { sec = "maps"; next }
	sec == "hdr" {
		si = 1
		n = split($0, st, " ")
		for (i = 1; i <= n; i++) if (st[i] ~ /^samples\/count/) si = i
		sec = "samples"
		next
	}
	sec == "samples" {
		if ($0 ~ /^( +-?[0-9]+)+: /) {
			ns++
			p = index($0, ":")
			split(substr($0, 1, p - 1), v, " ")
			cnt[ns] = v[si]
			ids[ns] = substr($0, p + 1)
			pid[ns] = "-"; comm[ns] = "-"
			next
		}
		if (match($0, /(^| )pid:\[-?[0-9]+/)) {
			s = substr($0, RSTART, RLENGTH); sub(/.*pid:\[/, "", s); pid[ns] = s
		}
		if (match($0, /(^| )comm:\[[^]]*\]/)) {
			s = substr($0, RSTART, RLENGTH); sub(/.*comm:\[/, "", s); sub(/\]$/, "", s); comm[ns] = s
		}
		next
	}
	sec == "locs" {
		if (match($0, /^ *[0-9]+: 0x[0-9a-fA-F]+ /)) {
			split($0, f, " ")
			cur = f[1]; sub(/:$/, "", cur)
			addr[cur] = f[2]; nl[cur] = 0
			rest = substr($0, RLENGTH + 1)
			if (match(rest, /^M=[0-9]+ /)) {
				lmap[cur] = substr(rest, 3, RLENGTH - 3)
				rest = substr(rest, RLENGTH + 1)
			}
			sub(/^\[F\] /, "", rest)
			addline(cur, rest)
		} else {
			rest = $0; sub(/^ +/, "", rest)
			addline(cur, rest)
		}
		next
	}
	sec == "maps" {
		split($0, f, / /)
		id = f[1]; sub(/:$/, "", id)
		mfile[id] = f[3]
		next
	}
	END {
		for (i = 1; i <= ns; i++) {
			n = split(ids[i], l, " ")
			fr = ""
			for (j = 1; j <= n; j++) {
				id = l[j]
				k = (mfile[lmap[id]] == "[kernel.kallsyms]") ? "K:" : "U:"
				if (nl[id] == 0) fr = fr (fr == "" ? "" : ";") k addr[id]
				for (x = 1; x <= nl[id]; x++)
					fr = fr (fr == "" ? "" : ";") k lname[id, x]
			}
			printf "%s\t%s\t%s\t%s\n", cnt[i], pid[i], comm[i], fr
		}
	}'
}

# chain_share TSV ERE OUT [PID]: of the samples in TSV (pprof_flatten's output; of PID's
# only, when given), print "ALL GOOD": all of them and those whose user frames, leaf
# first and ';'-joined without the U: prefixes, match ERE. The four most frequent other
# chains go to OUT ("COUNT  CHAIN" lines), for the log.
chain_share()
{
	awk -F'\t' -v re="$2" -v bad="$3" -v pid="${4:-}" '
	pid == "" || $2 == pid {
		n = split($4, fr, ";"); s = ""
		for (i = 1; i <= n; i++) if (fr[i] ~ /^U:/) s = s (s == "" ? "" : ";") substr(fr[i], 3)
		all += $1
		if (s ~ re) good += $1
		else badc[s] += $1
	}
	END {
		printf "%d %d\n", all, good
		printf "" > bad
		close(bad)
		for (k in badc) printf "%6d  %s\n", badc[k], k | "sort -rn | head -n 4 > \"" bad "\""
	}' "$1"
}

# http_code URL [CURL_ARGS...]: print the HTTP status (000 on connection failure).
http_code()
{
	local url=$1
	shift
	curl -sS -o /dev/null -m 30 -w '%{http_code}' "$@" "$url" 2>/dev/null || true
}

# header_value FILE NAME: value of header NAME (case-insensitive) in a curl -D dump.
header_value()
{
	awk -v want="$(printf '%s' "$2" | tr '[:upper:]' '[:lower:]')" '
		{ sub(/\r$/, "") }
		{ p = index($0, ":"); if (p == 0) next
		  k = tolower(substr($0, 1, p - 1)); v = substr($0, p + 1); sub(/^[ \t]+/, "", v)
		  if (k == want) val = v }
		END { printf "%s", val }' "$1"
}

# metric_sum FILE NAME: sum of all samples of metric NAME (any labels) in Prometheus text.
metric_sum()
{
	awk -v m="$2" '
		/^#/ { next }
		index($0, m "{") == 1 { line = $0; sub(/^[^}]*\}/, "", line) }
		$1 == m { line = $0; sub(/^[^ ]+/, "", line) }
		index($0, m "{") == 1 || $1 == m { split(line, a, " "); s += a[1]; n++ }
		END { if (n == 0) { print "absent"; exit 1 } printf "%.17g\n", s }' "$1"
}

# metric_val FILE 'name{labels}' or 'name': the value of one series in a /metrics dump (0 if absent).
metric_val()
{
	awk -v s="$2" 'index($0, s " ") == 1 { v = $2 } END { printf "%.17g\n", v + 0 }' "$1"
}

# e2e_drains: stackd_drains_total now (0 if /metrics cannot be read).
e2e_drains()
{
	curl -fsS -m 5 "$AGENT_URL/metrics" 2>/dev/null | awk '$1 == "stackd_drains_total" { v = $2 } END { printf "%.0f\n", v + 0 }'
}

# e2e_wait_drains N: N more drains than now have completed (60 s at most, then fail). After a
# process is stopped, two drains put every period and sample of it that has ended in the history.
e2e_wait_drains()
{
	local d0 deadline=$(($(now_ms) + 60000))
	d0=$(e2e_drains)
	until (($(e2e_drains) >= d0 + $1)); do
		(($(now_ms) < deadline)) || fail "fewer than $1 drains in 60 s (stackd_drains_total was $d0)"
		sleep 0.1
	done
}

# wait_kernel_walks MODE W0 T0 WANT: with --unwind.mode=kernel, wait (10 s at most) until
# stackd_unwind_walks_total{end="complete"} has grown by WANT from W0, i.e. the BPF program
# walks stacks with the tables user space loaded, then check it did. The counter is
# node-wide: callers also let the fixture run a while first. T0: fixture start (ms).
wait_kernel_walks()
{
	local mode=$1 w0=$2 t0=$3 want=$4 w1 deadline

	deadline=$(($(now_ms) + 10000))
	while :; do
		curl -fsS -m 5 -o "$T/$mode.mkw" "$AGENT_URL/metrics" || fail "GET /metrics failed"
		w1=$(metric_val "$T/$mode.mkw" 'stackd_unwind_walks_total{end="complete"}')
		(($(now_ms) < deadline)) || break
		awk -v a="$w0" -v b="$w1" -v w="$want" 'BEGIN { exit !(b - a >= w) }' && break
		sleep 0.25
	done
	info "stackd_unwind_walks_total{end=\"complete\"}: $w0 -> $w1 ($(($(now_ms) - t0)) ms after the fixture started)"
	check "$(awk -v a="$w0" -v b="$w1" -v w="$want" 'BEGIN { print (b - a >= w) ? 1 : 0 }')" \
		"kernel mode walked stacks with tables before the window: +$(awk -v a="$w0" -v b="$w1" 'BEGIN { print b - a }') (want >= $want)"
}

# pprof_labels < (go tool pprof -raw output)
# One line per sample:  COUNT <TAB> LABELS
# LABELS is every label of the sample as key=value, sorted, '|'-separated
# (values are printed by pprof as key:[value]).
pprof_labels()
{
	awk '
	/^Samples:$/ { sec = "hdr"; next }
	/^Locations$/ { sec = "" }
	sec == "hdr" { si = 1; n = split($0, st, " ")
		for (i = 1; i <= n; i++) if (st[i] ~ /^samples\/count/) si = i
		sec = "samples"; next }
	sec == "samples" {
		if ($0 ~ /^( +-?[0-9]+)+: /) {
			ns++; p = index($0, ":"); split(substr($0, 1, p - 1), v, " "); cnt[ns] = v[si]; next
		}
		s = $0
		while (match(s, /[a-z_]+:\[[^]]*\]/)) {
			kv = substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH)
			k = kv; sub(/:.*/, "", k); val = kv; sub(/^[a-z_]+:\[/, "", val); sub(/\]$/, "", val)
			lab[ns] = lab[ns] (lab[ns] == "" ? "" : "|") k "=" val
		}
	}
	END {
		for (i = 1; i <= ns; i++) {
			n = split(lab[i], parts, "|"); out = ""
			# insertion sort: a handful of labels
			for (a = 2; a <= n; a++) { x = parts[a]; b = a - 1
				while (b >= 1 && parts[b] > x) { parts[b + 1] = parts[b]; b-- } parts[b + 1] = x }
			for (a = 1; a <= n; a++) out = out (a > 1 ? "|" : "") parts[a]
			printf "%s\t%s\n", cnt[i], out
		}
	}'
}

# e2e_cgroup2_mount: print the cgroup v2 mount point (pure v2 or hybrid), or fail/skip.
e2e_cgroup2_mount()
{
	local m
	m=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
	[[ -n $m ]] || skip_or_fail "no cgroup2 mount (cgroup v1 only)"
	echo "$m"
}

# e2e_cgroup_make PATH: create a cgroup (its parents too) and remove it on exit.
E2E_CGROUPS=()
e2e_cgroup_make()
{
	mkdir -p "$1" || fail "cannot create cgroup $1"
	E2E_CGROUPS+=("$1")
}

# Move what is left in our cgroups back to the root and remove them (EXIT trap).
e2e_cgroup_cleanup()
{
	local cg p root
	((${#E2E_CGROUPS[@]})) || return 0
	root=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
	for cg in "${E2E_CGROUPS[@]}"; do
		[[ -f $cg/cgroup.procs ]] || continue
		while read -r p; do echo "$p" >"$root/cgroup.procs" 2>/dev/null || true; done <"$cg/cgroup.procs"
	done
	for ((i = ${#E2E_CGROUPS[@]} - 1; i >= 0; i--)); do
		cg=${E2E_CGROUPS[i]}
		# rmdir the cgroup and then its parents this test made, deepest first
		while [[ $cg != "$root" && -d $cg ]]; do rmdir "$cg" 2>/dev/null || break; cg=${cg%/*}; done
	done
}
