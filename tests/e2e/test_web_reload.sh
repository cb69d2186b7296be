#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# --web.config.file at start-up and on SIGHUP.
#
#   checks:  start-up refuses (exit 1, a message naming the file) a missing file, invalid YAML,
#            an unknown key, a world-writable file;
#            SIGHUP after changing the bcrypt hash: the old password gets 401 at once (also on
#            a keep-alive connection opened before the reload), the new one 200;
#            a profile request in flight across the reload completes (200);
#            an invalid file + SIGHUP: error logged, old settings kept (new password still 200),
#            stackd_http_config_reloads_total{result="failure"} and
#            stackd_http_config_last_reload_successful 0; a reload from plain HTTP to TLS works.
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_require_bpf
e2e_require_cmd curl openssl htpasswd

# ---- start-up refusals: exit 1 before anything slow, with a message naming the problem
refuse()
{
	local what=$1 file=$2 want=$3 rc=0 t0
	t0=$(now_ms)
	timeout 20 "$STACKD_BIN" --web.listen-address=127.0.0.1:"$(e2e_free_port)" \
		--web.config.file="$file" >"$T/refuse.log" 2>&1 || rc=$?
	info "$what: exit $rc after $(($(now_ms) - t0)) ms: $(grep -m1 'web.config' "$T/refuse.log" || tail -n1 "$T/refuse.log")"
	((rc == 1)) || fail "$what: exit status $rc, want 1"
	grep -qF -- "$want" "$T/refuse.log" || fail "$what: log does not say '$want'"
}
refuse "missing file" "$T/nope.yml" "nope.yml: cannot read: No such file"
printf 'tls_server_config:\n  cert_file: [x\n' >"$T/badyaml.yml"
chmod 600 "$T/badyaml.yml"
refuse "invalid YAML" "$T/badyaml.yml" "invalid YAML"
printf 'basic_auth_user:\n  a: b\n' >"$T/unknown.yml"
chmod 600 "$T/unknown.yml"
refuse "unknown key" "$T/unknown.yml" 'unknown key \"basic_auth_user\"'
printf 'basic_auth_users: {}\n' >"$T/ww.yml"
chmod 666 "$T/ww.yml"
refuse "world-writable file" "$T/ww.yml" "world-writable"

# ---- SIGHUP: change the password
hash1=$(htpasswd -nbB -C 8 scraper old-pass | cut -d: -f2-)
hash2=$(htpasswd -nbB -C 8 scraper new-pass | cut -d: -f2-)
printf 'basic_auth_users:\n  scraper: %s\n' "$hash1" >"$T/web.yml"
chmod 600 "$T/web.yml"
agent_start --web.config.file="$T/web.yml"
code()
{
	curl -sS -m 30 -o /dev/null -w '%{http_code}' "$@" 2>/dev/null || true
}
check "$(($(code -u scraper:old-pass "$AGENT_URL/metrics") == 200))" "old password accepted before the reload"

# A profile request in flight across the reload, and a keep-alive connection opened before it.
e2e_bg profile curl -sS -m 30 -o "$T/profile.pb.gz" -w '%{http_code}' -u scraper:old-pass \
	"$AGENT_URL/debug/pprof/profile?seconds=3"
prof=$BG_PID
# keep-alive: one connection, a request before the reload, another (same socket) after it.
cat >"$T/keepalive.py" <<'PY'
import base64, http.client, os, sys, time
port, go = int(sys.argv[1]), sys.argv[2]
auth = {"Authorization": "Basic " + base64.b64encode(b"scraper:old-pass").decode()}
c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
c.request("GET", "/metrics", headers=auth); r = c.getresponse(); r.read()
sock = c.sock
print(r.status, flush=True)
while not os.path.exists(go): time.sleep(0.05)
c.request("GET", "/metrics", headers=auth); same = c.sock is sock
r = c.getresponse(); r.read()
print(r.status, "same-socket" if same else "new-socket", flush=True)
PY
e2e_bg keepalive python3 "$T/keepalive.py" "$AGENT_PORT" "$T/go"
ka=$BG_PID
t0=$(now_ms)
until [[ -s $T/keepalive.out ]]; do
	(($(now_ms) - t0 < 10000)) || fail "keep-alive client did not make its first request"
	sleep 0.05
done
sleep 0.3
printf 'basic_auth_users:\n  scraper: %s\n' "$hash2" >"$T/web.yml"
kill -HUP "$AGENT_PID"
t0=$(now_ms)
until grep -q 'reloaded web config' "$AGENT_LOG"; do
	(($(now_ms) - t0 < 5000)) || fail "no 'reloaded web config' in the log 5 s after SIGHUP"
	sleep 0.1
done
info "log: $(grep -m1 'reloaded web config' "$AGENT_LOG" | sed 's/.*msg=//')"
check "$(($(code -u scraper:old-pass "$AGENT_URL/metrics") == 401))" "old password -> 401 after SIGHUP"
check "$(($(code -u scraper:new-pass "$AGENT_URL/metrics") == 200))" "new password -> 200 after SIGHUP"
touch "$T/go"
e2e_reap "$ka" 20 || fail "keep-alive client failed: $(cat "$T/keepalive.out")"
ka_out=$(tr '\n' ' ' <"$T/keepalive.out")
info "keep-alive connection opened before the reload, old password: $ka_out"
[[ $ka_out == "200 401 same-socket " ]] || fail "old password on a pre-reload keep-alive connection: '$ka_out', want '200 401 same-socket'"
# curl reuses one connection for both URLs: the second request rides the keep-alive one.
out=$(curl -sS -m 30 -o /dev/null -o /dev/null -w '%{http_code} %{num_connects}\n' \
	-u scraper:new-pass "$AGENT_URL/metrics" "$AGENT_URL/metrics" 2>/dev/null | tr '\n' ' ')
info "two requests on one connection with the new password: $out"
[[ $out == "200 1 200 0 " ]] || fail "keep-alive requests with the new password: '$out', want '200 1 200 0'"
rc=0
e2e_reap "$prof" 20 || rc=$?
pcode=$(cat "$T/profile.out")
check "$((rc == 0 && pcode == 200))" "profile request in flight across the reload completed: HTTP $pcode"

# ---- invalid file + SIGHUP: old settings kept
printf 'basic_auth_users:\n  scraper: not-a-hash\n' >"$T/web.yml"
kill -HUP "$AGENT_PID"
t0=$(now_ms)
until grep -q 'reload failed' "$AGENT_LOG"; do
	(($(now_ms) - t0 < 5000)) || fail "no 'reload failed' in the log 5 s after SIGHUP with a bad file"
	sleep 0.1
done
info "log: $(grep -m1 'reload failed' "$AGENT_LOG" | sed 's/.*msg=//')"
check "$(($(code -u scraper:new-pass "$AGENT_URL/metrics") == 200))" "invalid file: the previous password still works"
check "$(($(code "$AGENT_URL/metrics") == 401))" "invalid file: auth still required"
curl -sS -m 10 -u scraper:new-pass -o "$T/metrics.txt" "$AGENT_URL/metrics"
f=$(awk '$1 == "stackd_http_config_reloads_total{result=\"failure\"}" { print $2 }' "$T/metrics.txt")
ok=$(metric_sum "$T/metrics.txt" stackd_http_config_last_reload_successful)
check "$((f == 1 && ok == 0))" "reload failure counted (failures $f, last_reload_successful $ok)"

# ---- from plain HTTP to TLS by SIGHUP, on the same port
mkdir -p "$T/pki"
(
	cd "$T/pki"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout server.key -out server.crt
) >"$T/openssl.log" 2>&1 || { cat "$T/openssl.log" >&2; fail "openssl failed"; }
printf 'tls_server_config:\n  cert_file: pki/server.crt\n  key_file: pki/server.key\n' >"$T/web.yml"
kill -HUP "$AGENT_PID"
t0=$(now_ms)
# One second per attempt: a connection made before the SIGHUP is handled is accepted by the
# plain-HTTP daemon, which then waits for a request line that the TLS hello never completes.
until [[ $(code --cacert "$T/pki/server.crt" -m 1 "https://127.0.0.1:$AGENT_PORT/metrics") == 200 ]]; do
	(($(now_ms) - t0 < 5000)) || fail "no https on port $AGENT_PORT 5 s after the SIGHUP to TLS"
	sleep 0.1
done
check 1 "SIGHUP switched port $AGENT_PORT to https (auth now off: /metrics 200 without credentials)"
check "$(($(code "http://127.0.0.1:$AGENT_PORT/metrics") != 200))" "plain HTTP no longer answers"
kill -0 "$AGENT_PID" 2>/dev/null || fail "agent died"
kill -TERM "$AGENT_PID"
e2e_reap "$AGENT_PID" 15 || fail "agent did not exit cleanly"
AGENT_PID=""
pass "web config refused at start-up when bad; SIGHUP applies a valid one and keeps the old on error"
