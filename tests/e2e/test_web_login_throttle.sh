#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Password guessing over basic auth is slowed per client address, and never locks out anyone else.
#
#   config:  basic_auth_users: alice (bcrypt cost 4)
#   checks:  5 wrong passwords from 127.0.0.1 get 401 (each a bcrypt run); the next ones get
#            429 with Retry-After and run no bcrypt (stackd_http_auth_bcrypt_checks_total stops
#            growing, stackd_http_auth_throttled_total counts them); alice's cached credentials
#            still get 200 from the same address; the right password from another address
#            (127.0.0.2, never failed) gets 200 at once; after Retry-After the address may try again.
# shellcheck source-path=SCRIPTDIR disable=SC2119
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_require_bpf
e2e_require_cmd curl python3

hash=$(python3 -W ignore -c 'import crypt; print(crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))')
[[ $hash == '$2b$04$'* ]] || fail "python3 crypt could not make a bcrypt hash: $hash"
printf "basic_auth_users:\n  alice: '%s'\n" "$hash" >"$T/web.yml"
chmod 600 "$T/web.yml"
port=$(e2e_free_port)
agent_start --web.listen-address=127.0.0.1:"$port" --web.config.file="$T/web.yml"

# code FROM USER:PASS PATH: the HTTP status from address FROM (its headers in $T/hdr.txt).
code()
{
	curl -sS -m 20 --interface "$1" -u "$2" -D "$T/hdr.txt" -o /dev/null -w '%{http_code}' \
		"http://127.0.0.1:$port/$3" || echo 000
}
retry_after() { awk -F': *' 'tolower($1) == "retry-after" { gsub(/\r/, "", $2); print $2 }' "$T/hdr.txt"; }
metric() { curl -sS -m 20 -u alice:s3cret "http://127.0.0.1:$port/metrics" -o "$T/m.txt" && metric_sum "$T/m.txt" "$1"; }

check "$(($(code 127.0.0.1 alice:s3cret metrics) == 200))" "alice:s3cret -> 200 (now cached)"
for i in 1 2 3 4 5; do
	c=$(code 127.0.0.1 alice:guess$i metrics)
	check "$((c == 401))" "wrong password $i from 127.0.0.1 -> $c (401)"
done
b0=$(metric stackd_http_auth_bcrypt_checks_total)
c=$(code 127.0.0.1 alice:guess6 metrics)
check "$((c == 401))" "6th wrong password -> $c (401, and now the address waits)"
c=$(code 127.0.0.1 alice:guess7 metrics)
retry=$(retry_after)
check "$((c == 429 && ${retry:-0} >= 1))" "7th wrong password at once -> $c, Retry-After: ${retry:-none}"
c=$(code 127.0.0.1 alice:guess8 metrics)
check "$((c == 429))" "8th -> $c"
b1=$(metric stackd_http_auth_bcrypt_checks_total)
check "$((b1 - b0 == 1))" "only the 6th ran bcrypt: stackd_http_auth_bcrypt_checks_total +$((b1 - b0))"
thr=$(metric stackd_http_auth_throttled_total)
check "$((thr == 2))" "stackd_http_auth_throttled_total = $thr"
check "$(($(code 127.0.0.1 alice:s3cret metrics) == 200))" "alice's cached credentials from the same address -> 200"
c=$(code 127.0.0.2 alice:s3cret-no metrics)
check "$((c == 401))" "another address (127.0.0.2) still gets its bcrypt check: $c"
sleep "$((retry + 1))"
c=$(code 127.0.0.1 alice:guess9 metrics)
check "$((c == 401))" "after Retry-After the address may try again: $c"
agent_stop
pass "failed logins slowed per address; nobody else locked out"
