#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Bad requests get Go net/http/pprof-style errors, and hostile input does not
# hurt the agent.
#
#   checks:  /debug/pprof/profile?seconds=abc|0|-1|999999 -> 400, text/plain, X-Go-Pprof: 1;
#            GET /nope -> 404; POST /metrics -> 405;
#            10 KB hostile query strings -> 4xx; a 64 KB URL -> 4xx or refused;
#            the agent still answers /-/healthy and /metrics afterwards.
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_require_bpf
e2e_require_cmd curl

agent_start

# req NAME EXPECT_RE CURL_ARGS... : one request, its status must match EXPECT_RE;
# sets R_CODE, R_CTYPE, R_PPROF (X-Go-Pprof), R_BODY (first line), R_MS.
req()
{
	local name=$1 want=$2 out
	shift 2
	: >"$T/$name.h"
	: >"$T/$name.b"
	out=$(curl -sS -m 15 -D "$T/$name.h" -o "$T/$name.b" -w '%{http_code} %{time_total}' "$@" 2>"$T/$name.err") ||
		out="000 0"
	read -r R_CODE R_MS <<<"$out"
	[[ $R_CODE != 000 ]] || fail "$name: no HTTP response ($(tr -d '\n' <"$T/$name.err")); want $want"
	R_MS=$(awk -v s="$R_MS" 'BEGIN { printf "%d", s * 1000 }')
	R_CTYPE=$(header_value "$T/$name.h" Content-Type)
	R_PPROF=$(header_value "$T/$name.h" X-Go-Pprof)
	R_BODY=$(awk 'NR == 1 { print substr($0, 1, 120); exit }' "$T/$name.b" | tr -cd '[:print:]')
	info "$name: HTTP $R_CODE in $R_MS ms, Content-Type '$R_CTYPE', X-Go-Pprof '$R_PPROF', body '$R_BODY'"
	[[ $R_CODE =~ ^($want)$ ]] || fail "$name: HTTP $R_CODE, want $want"
}

for s in abc 0 -1 999999; do
	req "seconds=$s" 400 "$AGENT_URL/debug/pprof/profile?seconds=$s"
	[[ $R_CTYPE == text/plain* ]] || fail "seconds=$s: Content-Type '$R_CTYPE', want text/plain"
	[[ $R_PPROF == 1 ]] || fail "seconds=$s: X-Go-Pprof header '$R_PPROF', want 1"
	((R_MS < 2000)) || fail "seconds=$s: error took $R_MS ms; a bad request must not block"
	info "ok: seconds=$s -> 400 text/plain, X-Go-Pprof: 1"
done

req nope 404 "$AGENT_URL/nope"
info "ok: GET /nope -> 404"

req post-metrics 405 -X POST --data 'x=1' "$AGENT_URL/metrics"
allow=$(header_value "$T/post-metrics.h" Allow)
info "ok: POST /metrics -> 405 (Allow: '${allow:-<none>}')"
[[ -n $allow ]] || info "note: 405 without an Allow header (RFC 9110 says a 405 MUST carry Allow)"

# Hostile query strings, each a different way to upset a parser: ~10 KB ones
# (the brief's size; a server may refuse them before parsing, with 414) and
# ~3 KB ones that fit common URI limits and so reach the query parser.
bad_values=(0 -1 abc 99999999)
for size in 10240 3000; do
	long_digits=$(head -c "$size" /dev/zero | tr '\0' '9')
	junk_pct=$(for ((i = 0; i < size / 7; i++)); do printf '%%00%%ff%%'; done)
	many_args=$(for ((i = 0; i < size / 12; i++)); do printf 'seconds=%s&' "${bad_values[i % 4]}"; done)
	long_key=$(head -c "$size" /dev/zero | tr '\0' 'k')
	req "hostile-digits-$size" '4[0-9][0-9]' "$AGENT_URL/debug/pprof/profile?seconds=$long_digits"
	req "hostile-percent-$size" '4[0-9][0-9]' "$AGENT_URL/debug/pprof/profile?seconds=$junk_pct"
	req "hostile-repeated-$size" '4[0-9][0-9]' "$AGENT_URL/debug/pprof/profile?${many_args}seconds=abc"
	req "hostile-key-$size" '4[0-9][0-9]' "$AGENT_URL/debug/pprof/profile?$long_key=1&seconds=-5"
	info "ok: ~$size-byte hostile query strings -> 4xx"
done

# Beyond any sane limit: refusal (4xx) or a closed connection are both fine;
# what matters is that the agent survives it.
huge=$(head -c 65536 /dev/zero | tr '\0' 'a')
code=$(curl -sS -m 15 -o /dev/null -w '%{http_code}' "$AGENT_URL/debug/pprof/profile?x=$huge" 2>/dev/null) || true
code=${code:-000}
info "64 KB URL -> HTTP ${code:-000}"
[[ $code =~ ^(4[0-9][0-9]|000)$ ]] || fail "64 KB URL -> HTTP $code, want 4xx (or a refused connection)"

kill -0 "$AGENT_PID" 2>/dev/null || fail "agent died after hostile requests"
check "$(($(http_code "$AGENT_URL/-/healthy") == 200))" "agent still answers /-/healthy after hostile requests"
check "$(($(http_code "$AGENT_URL/metrics") == 200))" "agent still answers /metrics after hostile requests"

agent_stop TERM
pass "HTTP errors: 400s with pprof error headers, 404, 405, hostile queries refused, agent healthy"
