#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The command line behaves like an exporter's: documented flags, clean
# refusals, clean shutdown.
#
#   checks:  --help exits 0 and mentions every flag; --version exits 0;
#            an unknown flag, --profiling.frequency=abc|0 (and other bad values) exit
#            non-zero, promptly, with a message;
#            a busy port (held by another program, then by a running stackd) exits
#            non-zero with a message naming the address;
#            all flags with valid values start the agent, and max-profile-seconds takes effect;
#            SIGTERM and SIGINT -> exit status 0.
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FLAGS=(--web.listen-address --profiling.frequency --profiling.include-idle
	--profiling.drain-interval --profiling.max-profile-seconds --bpf.stack-map-entries
	--bpf.counts-map-entries --symbolize.cache-size --process.max --log.level --help --version)

e2e_require_bpf
e2e_require_cmd curl

# run_cli NAME ARGS...: run the agent in the foreground (20 s max); sets C_RC and
# C_OUT (stdout+stderr). 124 means it did not exit.
run_cli()
{
	local name=$1
	shift
	C_RC=0
	timeout -k 5 20 "$STACKD_BIN" "$@" >"$T/$name.out" 2>&1 </dev/null || C_RC=$?
	C_OUT=$(cat "$T/$name.out")
}

# must_refuse NAME ARGS...: non-zero (not a timeout) and a message.
must_refuse()
{
	local name=$1
	shift
	run_cli "$name" "$@"
	info "$name: stackd $* -> exit $C_RC: $(head -n 3 "$T/$name.out" | tr '\n' ' ')"
	((C_RC != 124 && C_RC != 137)) || fail "$name: stackd $* did not exit within 20 s (it should refuse)"
	((C_RC != 0)) || fail "$name: stackd $* exited 0 (want non-zero)"
	[[ -n $C_OUT ]] || fail "$name: stackd $* exited $C_RC without any message"
}

# ---- --help, --version
run_cli help --help
((C_RC == 0)) || { cat "$T/help.out" >&2; fail "--help exited $C_RC (want 0)"; }
missing=()
for f in "${FLAGS[@]}"; do
	grep -qF -- "$f" "$T/help.out" || missing+=("$f")
done
info "--help: exit 0, $(wc -l <"$T/help.out") lines"
((${#missing[@]} == 0)) || { cat "$T/help.out" >&2; fail "--help does not mention: ${missing[*]}"; }
info "ok: --help mentions all ${#FLAGS[@]} flags"

run_cli version --version
info "--version -> exit $C_RC: $(head -n 2 "$T/version.out" | tr '\n' ' ')"
((C_RC == 0)) || fail "--version exited $C_RC (want 0)"
grep -Eq '[0-9]+\.[0-9]+' "$T/version.out" || fail "--version prints no version number"
info "ok: --version exits 0 with a version"

# ---- refusals (a free port is given so a flag that is wrongly accepted cannot clash)
port=$(e2e_free_port)
L=--web.listen-address=127.0.0.1:$port
must_refuse unknown "$L" --no-such-flag
grep -q 'no-such-flag' "$T/unknown.out" || fail "the message for an unknown flag does not name it"
info "ok: unknown flag refused, message names it"
must_refuse freq-abc "$L" --profiling.frequency=abc
must_refuse freq-zero "$L" --profiling.frequency=0
info "ok: --profiling.frequency=abc and =0 refused"
must_refuse drain-abc "$L" --profiling.drain-interval=abc
must_refuse loglevel-bad "$L" --log.level=loud
must_refuse cache-bad "$L" --symbolize.cache-size=lots
must_refuse addr-bad --web.listen-address=not-an-address
info "ok: bad drain interval, log level, cache size and listen address refused"

# ---- busy port, held by another program
if command -v python3 >/dev/null 2>&1; then
	bport=$(e2e_free_port)
	e2e_bg http-server python3 -m http.server --bind 127.0.0.1 "$bport"
	holder=$BG_PID
	deadline=$(($(now_ms) + 10000))
	until e2e_port_in_use "$bport"; do
		(($(now_ms) < deadline)) || fail "python3 http.server did not listen on $bport within 10 s"
		sleep 0.1
	done
	must_refuse busy-python --web.listen-address=127.0.0.1:"$bport"
	grep -q "$bport" "$T/busy-python.out" || fail "the busy-port message does not mention the address 127.0.0.1:$bport"
	info "ok: port $bport held by python3 http.server -> refused, message names the address"
	kill "$holder" 2>/dev/null || true
	e2e_reap "$holder" 10 || true
else
	info "note: python3 not found; busy port tested with a second stackd only"
fi

# ---- busy port, held by a running stackd; then clean shutdown on SIGTERM
agent_start
must_refuse busy-stackd --web.listen-address=127.0.0.1:"$AGENT_PORT"
grep -q "$AGENT_PORT" "$T/busy-stackd.out" || fail "the busy-port message does not mention the address 127.0.0.1:$AGENT_PORT"
info "ok: second instance on 127.0.0.1:$AGENT_PORT refused, message names the address"
check "$(($(http_code "$AGENT_URL/-/healthy") == 200))" "first instance still healthy after the second one gave up"
agent_stop TERM

# ---- every flag with a valid value; SIGINT
agent_start --profiling.frequency=49 --profiling.include-idle --profiling.drain-interval=500ms \
	--profiling.max-profile-seconds=60 --bpf.stack-map-entries=8192 --bpf.counts-map-entries=8192 \
	--symbolize.cache-size=64MiB --process.max=2048 --log.level=debug
code=$(http_code "$AGENT_URL/debug/pprof/profile?seconds=61")
check "$((code == 400))" "--profiling.max-profile-seconds=60 takes effect: seconds=61 -> HTTP $code (want 400)"
code=$(http_code "$AGENT_URL/debug/pprof/profile?seconds=1")
check "$((code == 200))" "seconds=1 within the limit -> HTTP $code (want 200)"
agent_stop INT

# ---- a limit below Go's 30 s default is a valid setting too
agent_start --profiling.max-profile-seconds=5
code=$(http_code "$AGENT_URL/debug/pprof/profile?seconds=6")
check "$((code == 400))" "--profiling.max-profile-seconds=5: seconds=6 -> HTTP $code (want 400)"
code=$(http_code "$AGENT_URL/debug/pprof/profile?seconds=2")
check "$((code == 200))" "--profiling.max-profile-seconds=5: seconds=2 -> HTTP $code (want 200)"
agent_stop TERM

# ---- SIGTERM while a profile request blocks: exit 0 promptly, and the client gets an answer
# (an HTTP status, e.g. 503 "shutting down"), not a connection closed without a response.
agent_start
(exec curl -sS -m 60 -o "$T/inflight.body" -w '%{http_code}' \
	"$AGENT_URL/debug/pprof/profile?seconds=30" >"$T/inflight.code" 2>"$T/inflight.err") &
inflight=$!
e2e_track "$inflight"
sleep 1.5
agent_stop TERM
rc=0
e2e_reap "$inflight" 15 || rc=$?
code=$(cat "$T/inflight.code" 2>/dev/null || true)
info "in-flight profile request at SIGTERM: curl exit $rc, HTTP ${code:-none}, body '$(head -c 100 "$T/inflight.body" 2>/dev/null | tr -cd '[:print:]')' $(tr -d '\n' <"$T/inflight.err")"
((rc != 124)) || fail "the in-flight profile request was still hanging 15 s after the agent exited"
[[ $code =~ ^(200|5[0-9][0-9])$ ]] ||
	fail "the profile request in flight at SIGTERM got no HTTP response (HTTP '${code:-none}', curl exit $rc); want 503 or 200"
info "ok: the in-flight profile request was answered with HTTP $code"

pass "CLI: help, version, refusals, busy port, valid flags, SIGTERM/SIGINT exit 0"
