#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Client certificates and the minimum TLS version from --web.config.file.
#
#   checks:  client_auth_type RequireAndVerifyClientCert + client_ca_file + min_version TLS13:
#            curl without a client certificate fails, with one from another CA fails, with one the
#            CA signed for serverAuth only (extendedKeyUsage) fails, with one the CA signed without
#            extendedKeyUsage or with clientAuth gets 200; curl --tls-max 1.2 fails (TLS 1.3 only); TLS 1.3 works;
#            stackd_http_tls_client_cert_rejected_total counts the refused handshakes.
#            The client is curl: Go 1.19's cmd/pprof ignores -tls_cert/-tls_key/-tls_ca when it
#            fetches a profile (see test_web_tls.sh).
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_require_bpf
e2e_require_cmd curl openssl

mkdir -p "$T/pki"
(
	cd "$T/pki"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=stackd-e2e-ca \
		-keyout ca.key -out ca.crt
	openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr
	printf 'subjectAltName=IP:127.0.0.1\n' >server.ext
	openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
		-extfile server.ext -out server.crt
	openssl req -newkey rsa:2048 -nodes -subj /CN=scraper -keyout client.key -out client.csr
	printf 'extendedKeyUsage=clientAuth\n' >client.ext
	openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
		-extfile client.ext -out client.crt
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=rogue \
		-keyout rogue.key -out rogue.crt
	# Signed by the right CA, but for the other purpose: a server certificate (serverAuth only).
	openssl req -newkey rsa:2048 -nodes -subj /CN=some-server -keyout srvonly.key -out srvonly.csr
	printf 'extendedKeyUsage=serverAuth\n' >srvonly.ext
	openssl x509 -req -in srvonly.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
		-extfile srvonly.ext -out srvonly.crt
	# No extendedKeyUsage at all: unrestricted (RFC 5280 4.2.1.12), so it may authenticate.
	openssl req -newkey rsa:2048 -nodes -subj /CN=no-eku -keyout noeku.key -out noeku.csr
	openssl x509 -req -in noeku.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
		-out noeku.crt
) >"$T/openssl.log" 2>&1 || { cat "$T/openssl.log" >&2; fail "openssl could not make the test certificates"; }

cat >"$T/pki/web.yml" <<YAML
tls_server_config:
  cert_file: server.crt
  key_file: server.key
  client_ca_file: ca.crt
  client_auth_type: RequireAndVerifyClientCert
  min_version: TLS13
YAML
chmod 600 "$T/pki/web.yml" "$T/pki/"*.key

port=$(e2e_free_port)
AGENT_URL=https://127.0.0.1:$port
AGENT_LOG=$T/agent.log
CURL=(curl -sS -m 20 --cacert "$T/pki/ca.crt")
WITH_CERT=(--cert "$T/pki/client.crt" --key "$T/pki/client.key")
"$STACKD_BIN" --web.listen-address=127.0.0.1:"$port" --web.config.file="$T/pki/web.yml" \
	>"$AGENT_LOG" 2>&1 &
AGENT_PID=$!
e2e_track "$AGENT_PID"
t0=$(now_ms)
until "${CURL[@]}" "${WITH_CERT[@]}" -fo /dev/null "$AGENT_URL/-/ready" 2>/dev/null; do
	kill -0 "$AGENT_PID" 2>/dev/null || fail "agent exited before /-/ready answered"
	(($(now_ms) - t0 < 20000)) || fail "agent not ready over mTLS within 20 s"
	sleep 0.2
done
info "agent pid $AGENT_PID ready at $AGENT_URL (mTLS, TLS 1.3 only) after $(($(now_ms) - t0)) ms"

# try NAME CURL_ARGS...: prints curl's exit status and HTTP code.
try()
{
	local name=$1 rc=0 code
	shift
	code=$("${CURL[@]}" -o "$T/$name.body" -w '%{http_code}' "$@" 2>"$T/$name.err") || rc=$?
	info "$name: curl exit $rc, HTTP ${code:-000} $(tr '\n' ' ' <"$T/$name.err" | head -c 160)"
	R_RC=$rc
	R_CODE=${code:-000}
}

try no-cert "$AGENT_URL/metrics"
check "$((R_CODE != 200))" "no client certificate -> no answer (curl exit $R_RC, HTTP $R_CODE)"
try rogue-cert --cert "$T/pki/rogue.crt" --key "$T/pki/rogue.key" "$AGENT_URL/metrics"
check "$((R_CODE != 200))" "certificate from another CA -> no answer (curl exit $R_RC, HTTP $R_CODE)"
try server-only-cert --cert "$T/pki/srvonly.crt" --key "$T/pki/srvonly.key" "$AGENT_URL/metrics"
check "$((R_CODE != 200))" "certificate from client_ca_file with extendedKeyUsage=serverAuth only -> no answer (curl exit $R_RC, HTTP $R_CODE)"
try no-eku-cert --cert "$T/pki/noeku.crt" --key "$T/pki/noeku.key" "$AGENT_URL/metrics"
check "$((R_CODE == 200))" "certificate from client_ca_file without extendedKeyUsage -> HTTP $R_CODE"
try probe-no-cert "$AGENT_URL/-/healthy"
check "$((R_CODE != 200))" "even /-/healthy needs the certificate (TLS comes first): HTTP $R_CODE"
try good-cert "${WITH_CERT[@]}" "$AGENT_URL/metrics"
check "$((R_CODE == 200))" "certificate signed by client_ca_file -> HTTP $R_CODE"
try tls12 --tls-max 1.2 "${WITH_CERT[@]}" "$AGENT_URL/metrics"
check "$((R_RC != 0 && R_CODE != 200))" "min_version TLS13: curl --tls-max 1.2 fails (exit $R_RC)"
try tls13 --tlsv1.3 "${WITH_CERT[@]}" "$AGENT_URL/-/healthy"
check "$((R_RC == 0))" "curl --tlsv1.3 with the certificate works"

"${CURL[@]}" "${WITH_CERT[@]}" -o "$T/metrics.txt" "$AGENT_URL/metrics"
rej=$(metric_sum "$T/metrics.txt" stackd_http_tls_client_cert_rejected_total)
check "$((rej >= 4))" "stackd_http_tls_client_cert_rejected_total = $rej (>= 4 refused handshakes)"
kill -0 "$AGENT_PID" 2>/dev/null || fail "agent died"

kill -TERM "$AGENT_PID"
e2e_reap "$AGENT_PID" 15 || fail "agent did not exit cleanly after SIGTERM"
AGENT_PID=""
pass "mTLS (RequireAndVerifyClientCert) and min_version TLS13 enforced"
