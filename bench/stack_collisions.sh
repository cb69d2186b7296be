#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# How many stacks collide in the stack-trace maps, and how many are lost, when
# nearly every sample is a new stack. Two copies of tests/fixtures/many_stacks
# (59,049 distinct call paths) keep both CPUs busy while stackd samples at
# FREQS Hz with default (derived) map sizes; prints, per frequency, the
# distinct stacks per drain interval, collisions (rescued by the overflow map)
# and stacks lost, from /metrics deltas over DURATION seconds.
# Usage: sudo bench/stack_collisions.sh   (FREQS="99 1000 10000" DURATION=10)
set -euo pipefail
cd "$(dirname "$0")/.."
STACKD_BIN=${STACKD_BIN:-build/stackd}
FREQS=${FREQS:-"99 1000 10000"}
DURATION=${DURATION:-10}
PORT=${PORT:-16199}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
clang -O1 -g -fno-omit-frame-pointer -o "$tmp/many_stacks" tests/fixtures/many_stacks.c
export PPROF_TMPDIR=$tmp HOME=$tmp

metric() { # NAME [LABELS] -> value
	curl -s "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}

printf '%7s %9s %9s %12s %12s %11s %10s %10s\n' Hz stack_map overflow samples/drain \
	distinct/drain collisions lost lost%
for f in $FREQS; do
	"$STACKD_BIN" --web.listen-address=127.0.0.1:$PORT --profiling.frequency="$f" \
		--log.level=warn 2>"$tmp/agent.log" &
	agent=$!
	for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/-/ready" >/dev/null && break; sleep 0.1; done
	"$tmp/many_stacks" $((DURATION + 4)) >/dev/null &
	"$tmp/many_stacks" $((DURATION + 4)) >/dev/null &
	sleep 1
	c0=$(( $(metric 'stackd_stack_collisions_total{stack="user"}') + $(metric 'stackd_stack_collisions_total{stack="kernel"}') ))
	l0=$(( $(metric 'stackd_stacks_lost_total{stack="user"}') + $(metric 'stackd_stacks_lost_total{stack="kernel"}') ))
	d0=$(metric stackd_drains_total)
	# A 1-second window: its distinct stacks are one drain interval's worth.
	curl -s -o "$tmp/p1.pb.gz" "http://127.0.0.1:$PORT/debug/pprof/profile?seconds=1"
	distinct=$(go tool pprof -raw -symbolize=none -tagfocus=comm=many_stacks "$tmp/p1.pb.gz" 2>/dev/null |
		awk '/^Samples:/{s=1; next} /^Locations/{s=0} s && /^ +[0-9]+ +[0-9]+:/{n++} END{print n+0}')
	sleep $((DURATION - 1))
	c1=$(( $(metric 'stackd_stack_collisions_total{stack="user"}') + $(metric 'stackd_stack_collisions_total{stack="kernel"}') ))
	l1=$(( $(metric 'stackd_stacks_lost_total{stack="user"}') + $(metric 'stackd_stacks_lost_total{stack="kernel"}') ))
	d1=$(metric stackd_drains_total)
	smap=$(metric 'stackd_bpf_map_entries{map="stacks"}')
	ovf=$(metric 'stackd_bpf_map_entries{map="overflow"}')
	drains=$((d1 - d0))
	kill -INT $agent; wait $agent || true
	wait || true
	per_drain=$(( f * $(nproc) ))
	printf '%7s %9s %9s %12s %12s %11s %10s %9s%%\n' "$f" "$smap" "${ovf:-?}" "$per_drain" \
		"$distinct" "$((c1 - c0)) /${drains}d" "$((l1 - l0))" \
		"$(awk -v l=$((l1 - l0)) -v n=$((per_drain * drains)) 'BEGIN{printf "%.3f", n ? 100*l/n : 0}')"
done
