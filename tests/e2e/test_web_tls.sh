#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# --web.config.file with TLS and basic auth, read by real clients.
#
#   checks:  certificates made now (CA + server cert for 127.0.0.1); curl --cacert over https:
#            no credentials -> 401 + WWW-Authenticate: Basic realm="stackd", wrong password -> 401,
#            right one -> 200, /-/healthy and /-/ready open without credentials;
#            go tool pprof -tls_ca fetches https://user:pass@127.0.0.1:PORT/debug/pprof/profile?seconds=2;
#            plain HTTP to the TLS port fails cleanly and the agent stays healthy;
#            a real Prometheus scrapes /metrics with scheme https + tls_config.ca_file + basic_auth
#            and sees the target "up"; repeated scrapes cost no extra bcrypt run (cache).
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_require_bpf
e2e_require_cmd curl openssl htpasswd go prometheus

# ---- certificates: a CA, and a server certificate it signs for 127.0.0.1
mkdir -p "$T/pki"
(
	cd "$T/pki"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=stackd-e2e-ca \
		-keyout ca.key -out ca.crt
	openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >server.ext
	openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
		-extfile server.ext -out server.crt
) >"$T/openssl.log" 2>&1 || { cat "$T/openssl.log" >&2; fail "openssl could not make the test certificates"; }
chmod 600 "$T/pki/server.key"

pass_ok=s3cret-$RANDOM
hash=$(htpasswd -nbB -C 10 scraper "$pass_ok" | cut -d: -f2-)
# Relative paths: resolved against the config file's directory.
cat >"$T/pki/web.yml" <<YAML
tls_server_config:
  cert_file: server.crt
  key_file: server.key
basic_auth_users:
  scraper: '$hash'
YAML
chmod 600 "$T/pki/web.yml"
info "web config: TLS (server.crt for 127.0.0.1) + basic auth user 'scraper' (bcrypt cost 10)"

# agent_start waits on http://.../-/ready; with TLS that never answers, so start by hand.
port=$(e2e_free_port)
AGENT_PORT=$port
AGENT_URL=https://127.0.0.1:$port
AGENT_LOG=$T/agent.log
CURL=(curl -sS -m 30 --cacert "$T/pki/ca.crt")
"$STACKD_BIN" --web.listen-address=127.0.0.1:"$port" --web.config.file="$T/pki/web.yml" \
	>"$AGENT_LOG" 2>&1 &
AGENT_PID=$!
e2e_track "$AGENT_PID"
t0=$(now_ms)
until "${CURL[@]}" -fo /dev/null "$AGENT_URL/-/ready" 2>/dev/null; do
	kill -0 "$AGENT_PID" 2>/dev/null || fail "agent exited before /-/ready answered over https"
	(($(now_ms) - t0 < 20000)) || fail "agent not ready over https within 20 s"
	sleep 0.2
done
info "agent pid $AGENT_PID ready at $AGENT_URL after $(($(now_ms) - t0)) ms"
grep -q 'serving on https://' "$AGENT_LOG" || fail "start-up log does not say https"

# ---- basic auth over https
code=$("${CURL[@]}" -D "$T/noauth.h" -o "$T/noauth.b" -w '%{http_code}' "$AGENT_URL/metrics")
www=$(header_value "$T/noauth.h" WWW-Authenticate)
info "GET /metrics without credentials -> $code, WWW-Authenticate '$www', body '$(head -c 60 "$T/noauth.b")'"
check "$((code == 401))" "no credentials -> 401"
[[ $www == 'Basic realm="stackd"' ]] || fail "WWW-Authenticate is '$www', want 'Basic realm=\"stackd\"'"
code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -u scraper:wrong "$AGENT_URL/metrics")
check "$((code == 401))" "wrong password -> $code (want 401)"
code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -u nobody:"$pass_ok" "$AGENT_URL/metrics")
check "$((code == 401))" "unknown user -> $code (want 401)"
code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' -u nobody:"$pass_ok" "$AGENT_URL/nope")
check "$((code == 401))" "unknown path without valid credentials -> $code (401 before 404)"
code=$("${CURL[@]}" -o "$T/metrics.txt" -w '%{http_code}' -u scraper:"$pass_ok" "$AGENT_URL/metrics")
check "$((code == 200))" "right password -> $code (want 200)"
for p in /-/healthy /-/ready; do
	code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$AGENT_URL$p")
	check "$((code == 200))" "$p without credentials -> $code (probes stay open)"
done

# ---- go tool pprof over https, credentials in the URL. Go 1.19's cmd/pprof fetches
# profiles with its own client, which ignores -tls_ca (only upstream pprof's fetcher
# reads it): the CA reaches it through SSL_CERT_FILE, which Go's x509 honours on Linux.
# -tls_ca stays on the command line for pprof builds that do read it.
export SSL_CERT_FILE=$T/pki/ca.crt
t0=$(now_ms)
e2e_pprof -symbolize=none -raw -tls_ca="$T/pki/ca.crt" \
	"https://scraper:$pass_ok@127.0.0.1:$port/debug/pprof/profile?seconds=2" \
	>"$T/pprof.txt" 2>"$T/pprof.err" || { cat "$T/pprof.err" >&2; fail "go tool pprof could not fetch the profile over https"; }
info "go tool pprof fetched over https in $(($(now_ms) - t0)) ms: $(grep -m1 -i 'duration' "$T/pprof.txt" || head -n 2 "$T/pprof.txt" | tr '\n' ' ')"
grep -q '^Samples:' "$T/pprof.txt" || fail "pprof -raw output has no Samples section"
e2e_pprof -symbolize=none -raw -tls_ca="$T/pki/ca.crt" \
	"https://scraper:wrong@127.0.0.1:$port/debug/pprof/profile?seconds=1" \
	>/dev/null 2>"$T/pprof-bad.err" && fail "go tool pprof with a wrong password succeeded"
info "ok: go tool pprof with a wrong password fails: $(grep -m1 -o '401[^"]*' "$T/pprof-bad.err" || tail -n 1 "$T/pprof-bad.err")"
unset SSL_CERT_FILE

# ---- plain HTTP to the TLS port: a clean failure, not a crash
rc=0
out=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/metrics" 2>&1) || rc=$?
info "plain HTTP to the TLS port: curl exit $rc, '$out'"
((rc != 0)) || [[ $out != 200* ]] || fail "plain HTTP to the TLS port answered 200"
printf 'GET /metrics HTTP/1.0\r\n\r\n' >"$T/plain.req"
timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; cat '$T/plain.req' >&3; cat <&3 >/dev/null" || true
sleep 0.3
kill -0 "$AGENT_PID" 2>/dev/null || fail "agent died after plain HTTP on its TLS port"
code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$AGENT_URL/-/healthy")
check "$((code == 200))" "agent still healthy over https after plain-HTTP clients"

# ---- a real Prometheus: https + CA + basic auth
pport=$(e2e_free_port)
purl=http://127.0.0.1:$pport
cat >"$T/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: stackd
    scheme: https
    tls_config:
      ca_file: $T/pki/ca.crt
    basic_auth:
      username: scraper
      password: '$pass_ok'
    static_configs:
      - targets: ['127.0.0.1:$port']
YAML
e2e_bg prometheus prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/tsdb" \
	--web.listen-address=127.0.0.1:"$pport"
prom=$BG_PID
t0=$(now_ms)
health=""
while :; do
	kill -0 "$prom" 2>/dev/null || { tail -n 30 "$T/prometheus.out" >&2; fail "prometheus exited early"; }
	if curl -fsS -m 2 -o "$T/targets.json" "$purl/api/v1/targets?state=active" 2>/dev/null; then
		health=$(grep -o '"health":"[a-z]*"' "$T/targets.json" | head -n 1 | cut -d'"' -f4 || true)
		[[ $health == up ]] && break
	fi
	if (($(now_ms) - t0 > 30000)); then
		cat "$T/targets.json" >&2 2>/dev/null || true
		fail "prometheus target not up within 30 s over https + basic auth (health '${health:-none}')"
	fi
	sleep 0.5
done
info "prometheus target health 'up' over https + basic auth after $(($(now_ms) - t0)) ms"
"${CURL[@]}" -o "$T/m1.txt" -u scraper:"$pass_ok" "$AGENT_URL/metrics"
b1=$(metric_sum "$T/m1.txt" stackd_http_auth_bcrypt_checks_total)
sleep 3
"${CURL[@]}" -o "$T/m2.txt" -u scraper:"$pass_ok" "$AGENT_URL/metrics"
b2=$(metric_sum "$T/m2.txt" stackd_http_auth_bcrypt_checks_total)
s2=$(metric_sum "$T/m2.txt" 'stackd_http_requests_total')
check "$((b2 == b1))" "3 s of 1 s scrapes cost no bcrypt run (bcrypt checks $b1 -> $b2; $s2 requests answered)"
u=$(metric_sum "$T/m2.txt" stackd_http_unauthorized_total)
check "$((u >= 5))" "stackd_http_unauthorized_total counts the refusals ($u)"
kill -TERM "$prom"
e2e_reap "$prom" 20 || true

kill -TERM "$AGENT_PID"
e2e_reap "$AGENT_PID" 15 || fail "agent did not exit cleanly after SIGTERM"
AGENT_PID=""
pass "TLS + basic auth: curl, go tool pprof and Prometheus over https"
