#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# A real Prometheus server scrapes the agent and stores its samples.
#
#   checks:  prometheus (scrape_interval 1s) shows the stackd target health "up" within 30 s,
#            with no scrape error; /api/v1/query?query=stackd_bpf_samples_total returns a value;
#            the PromQL sum(rate(stackd_cpu_seconds_total{comm="prom_fx"}[10s])) returns the
#            busy fixture's CPU rate (0.5..1.15 CPUs); Prometheus stops cleanly.
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_require_bpf
e2e_require_cmd "$FIXTURE_CC" prometheus curl

fixture=$(e2e_build_fixture cpu_chain)
# Its own comm, so no other cpu_chain on the machine adds to the rate below.
cp "$fixture" "$T/prom_fx"
agent_start --profiling.frequency=99
e2e_bg prom_fx "$T/prom_fx" 60
info "fixture prom_fx (cpu_chain) pid $BG_PID running (so the sample counter moves)"

pport=$(e2e_free_port)
purl=http://127.0.0.1:$pport
cat >"$T/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: stackd
    static_configs:
      - targets: ['127.0.0.1:$AGENT_PORT']
YAML
info "starting prometheus on $purl scraping 127.0.0.1:$AGENT_PORT every 1 s"
e2e_bg prometheus prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/tsdb" \
	--web.listen-address=127.0.0.1:"$pport" --log.level=info
prom=$BG_PID

prom_dump()
{
	echo "---- prometheus log (last 30 lines) ----" >&2
	tail -n 30 "$T/prometheus.out" >&2 || true
	echo "---- /api/v1/targets ----" >&2
	cat "$T/targets.json" >&2 2>/dev/null || true
	echo >&2
}

# Wait for the target to be up.
t0=$(now_ms)
health=""
while :; do
	kill -0 "$prom" 2>/dev/null || { prom_dump; fail "prometheus exited early"; }
	if curl -fsS -m 2 -o "$T/targets.json" "$purl/api/v1/targets?state=active" 2>/dev/null; then
		health=$(grep -o '"health":"[a-z]*"' "$T/targets.json" | head -n 1 | cut -d'"' -f4 || true)
		[[ $health == up ]] && break
	fi
	if (($(now_ms) - t0 > 30000)); then
		prom_dump
		fail "target not up within 30 s (health '${health:-none}')"
	fi
	sleep 0.5
done
last_error=$(grep -o '"lastError":"[^"]*"' "$T/targets.json" | head -n 1 | cut -d'"' -f4 || true)
info "target health 'up' after $(($(now_ms) - t0)) ms; lastError '${last_error}'"
[[ -z $last_error ]] || { prom_dump; fail "target up but lastError is '$last_error'"; }

# Wait for the counter to be queryable.
t0=$(now_ms)
value=""
while :; do
	if curl -fsS -m 2 -o "$T/query.json" "$purl/api/v1/query?query=stackd_bpf_samples_total" 2>/dev/null; then
		value=$(grep -o '"value":\[[^]]*\]' "$T/query.json" | head -n 1 | sed 's/.*,"\([^"]*\)"\]$/\1/' || true)
		[[ -n $value ]] && break
	fi
	if (($(now_ms) - t0 > 30000)); then
		prom_dump
		cat "$T/query.json" >&2 2>/dev/null || true
		fail "stackd_bpf_samples_total not queryable in Prometheus within 30 s"
	fi
	sleep 0.5
done
info "query stackd_bpf_samples_total -> $(head -c 300 "$T/query.json")"
check "$(awk -v v="$value" 'BEGIN { print (v + 0 >= 0 && v != "") ? 1 : 0 }')" \
	"Prometheus stored stackd_bpf_samples_total = $value"

# The scrape also stores Prometheus' own per-target series; show them as figures.
for q in scrape_samples_scraped scrape_duration_seconds; do
	v=$(curl -fsS -m 2 "$purl/api/v1/query?query=$q%7Bjob%3D%22stackd%22%7D" 2>/dev/null |
		grep -o '"value":\[[^]]*\]' | head -n 1 | sed 's/.*,"\([^"]*\)"\]$/\1/' || true)
	info "$q{job=\"stackd\"} = ${v:-?}"
done

# PromQL over the profile-derived metric: the fixture burns one CPU, so the rate of its
# CPU seconds is ~1. Ask once Prometheus holds 10 s of scrapes of it.
q='sum(rate(stackd_cpu_seconds_total{comm="prom_fx"}[10s]))'
qenc=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$q")
sleep 12
t0=$(now_ms)
rate=""
while :; do
	if curl -fsS -m 2 -o "$T/rate.json" "$purl/api/v1/query?query=$qenc" 2>/dev/null; then
		rate=$(grep -o '"value":\[[^]]*\]' "$T/rate.json" | head -n 1 | sed 's/.*,"\([^"]*\)"\]$/\1/' || true)
		[[ -n $rate ]] && break
	fi
	if (($(now_ms) - t0 > 30000)); then
		prom_dump
		cat "$T/rate.json" >&2 2>/dev/null || true
		fail "$q returned nothing within 30 s"
	fi
	sleep 1
done
info "PromQL $q -> $rate"
check "$(awk -v v="$rate" 'BEGIN { print (v >= 0.5 && v <= 1.15) ? 1 : 0 }')" \
	"the fixture's CPU rate from Prometheus is $rate CPUs (one busy thread: want 0.5..1.15)"

kill -TERM "$prom"
rc=0
e2e_reap "$prom" 20 || rc=$?
check "$((rc == 0))" "prometheus stopped (exit $rc)"
agent_stop TERM
pass "Prometheus scraped the agent: target up, stackd_bpf_samples_total = $value, fixture CPU rate $rate"
