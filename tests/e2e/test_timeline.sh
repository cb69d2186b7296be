#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The flame graph page's timeline, in headless Chromium: a range selected on it (mouse drag,
# or the page's own select, or the arrow keys) redraws the graph for that range without a
# reload and keeps the range in the URL; the timeline's seconds are the CPU seconds the
# metrics count.
#
#   fixture: phase_shift 8 (main -> run_phases -> phase_old -> spin for 8 s, then phase_new)
#   agent:   --profiling.frequency=99 --history.window=2s
#   checks:  /flamegraph?pid=FX&seconds=600 has a timeline of >= 2 windows; dragging from
#            2.5 s after the switch to the end draws phase_new and not phase_old, the URL says
#            start=..&end=.. (no seconds), the page was not reloaded; the right arrow key on the
#            focused timeline moves the selection one window later; selecting the first half
#            through stackdFlame.select draws phase_old and not phase_new; a shift-drag over the
#            first half makes the second a differential graph: phase_new coloured as grown
#            (> +50 points) and first in the table of changes, phase_old last, as shrunk; the sum of the
#            timeline's filtered seconds over all windows equals
#            stackd_cpu_seconds_total{comm="phase_shift"} within 5% (both count the same
#            samples); the timeline JSON endpoint refuses format=xml (400).
# shellcheck source-path=SCRIPTDIR disable=SC2119
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PHASE=8
MARGIN=2.5

e2e_require_bpf
e2e_require_cmd "$FIXTURE_CC" curl python3 chromium chromedriver

agent_start --profiling.frequency=99 --history.window=2s
e2e_run_phase_shift "$PHASE"
info "fixture pid $FX: start $T_START, switch $T_SWITCH, end $T_END"

url="$AGENT_URL/flamegraph?pid=$FX&seconds=600"
shot=${STACKD_BUILD_DIR:-$T}/timeline_page.png
new_from=$(awk -v s="$T_SWITCH" -v m="$MARGIN" 'BEGIN { printf "%.3f", s + m }')
new_to=$(awk -v s="$T_END" 'BEGIN { printf "%.3f", s + 0.5 }')
old_to=$(awk -v s="$T_SWITCH" -v m="$MARGIN" 'BEGIN { printf "%.3f", s - m }')
browse()
{
	local name=$1 rc=0
	shift
	python3 "$STACKD_SRC/tests/e2e/browser.py" timeline "$url" "$@" >"$T/$name.out" 2>&1 || rc=$?
	sed "s/^/    browser.py ($name): /" "$T/$name.out"
	((rc != 77)) || skip_or_fail "chromium or chromedriver missing"
	return "$rc"
}
rc=0
browse drag --from "$new_from" --to "$new_to" --drag --expect phase_new --absent phase_old --keys \
	--base-from "$T_START" --base-to "$old_to" --grew phase_new --shrank phase_old \
	--screenshot "$shot" || rc=$?
check "$((rc == 0))" "drag on the timeline: phase_new drawn, phase_old gone, URL kept, no reload; arrow key moves it; shift-drag over the first half compares: phase_new grown and listed first, phase_old shrunk (status $rc)"
rc=0
browse select --from "$T_START" --to "$old_to" --expect phase_old --absent phase_new \
	--sum-from 0 --sum-to 1e12 || rc=$?
check "$((rc == 0))" "stackdFlame.select of the first half: phase_old drawn, phase_new gone (status $rc)"

# The timeline's seconds against the metric: the same samples, counted twice.
read -r _ tl_sel < <(awk '/timeline-seconds:/ { print $(NF - 1), $NF }' "$T/select.out")
metric=$(curl -sS -m 10 "$AGENT_URL/metrics" | awk '/^stackd_cpu_seconds_total\{/ && /comm="phase_shift"/ { s += $NF } END { printf "%.6f", s + 0 }')
info "timeline: ${tl_sel:-?} s of CPU for pid $FX over all windows; stackd_cpu_seconds_total{comm=\"phase_shift\"} $metric s"
check "$(awk -v a="${tl_sel:-0}" -v b="$metric" 'BEGIN { print (b > 5 && a >= 0.95 * b && a <= 1.05 * b) ? 1 : 0 }')" \
	"the timeline's CPU seconds (${tl_sel:-?}) match the metric ($metric) within 5%"
# The index: the node's CPU as an SVG timeline whose bars link to their window's flame graph.
curl -fsS -m 10 -o "$T/index.html" "$AGENT_URL/" || fail "GET / failed"
bars=$(grep -c '<a href="/flamegraph?start=[0-9.]*&amp;end=[0-9.]*" role="listitem"><rect ' "$T/index.html" || true)
check "$((bars >= 2))" "/ draws the CPU timeline: $bars windows, each a link to its flame graph"
# Pages at a desktop and a phone size, by keyboard; screenshots kept for people.
for p in "index 1280x800 $AGENT_URL/ CPUs" "flamegraph 1280x800 $url zoom-the-graph" \
	"index_phone 390x844 $AGENT_URL/ -" "flamegraph_phone 390x844 $url -"; do
	read -r name size purl tab <<<"$p"
	args=(page "$purl" --window "$size" --screenshot "${STACKD_BUILD_DIR:-$T}/timeline_$name.png")
	[[ $tab == - ]] || args+=(--tab-to "${tab//-/ }")
	rc=0
	python3 "$STACKD_SRC/tests/e2e/browser.py" "${args[@]}" >"$T/page_$name.out" 2>&1 || rc=$?
	sed "s/^/    browser.py ($name): /" "$T/page_$name.out"
	what="$name at $size fits the width"
	[[ $tab == - ]] || what+="; Tab reaches '${tab//-/ }' (Enter on a table function zooms)"
	check "$((rc == 0))" "$what (status $rc)"
done
code=$(curl -sS -m 10 -o "$T/bad.txt" -w '%{http_code}' "$url&format=xml") || true
check "$([[ $code == 400 ]] && echo 1 || echo 0)" "/flamegraph?format=xml: HTTP $code ($(head -c 120 "$T/bad.txt"))"
agent_stop
pass "timeline: selections redraw without a reload, ${tl_sel:-?} s vs metric $metric s"
