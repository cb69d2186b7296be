#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The pictures, in headless Chromium from Debian: / lists the busy fixture
# with a link to its flame graph, and /flamegraph?pid= draws the fixture's hot
# function, zooms on click and reports a search's matched share.
#
#   fixture: cpu_chain (main -> level_one -> level_two -> level_three -> hot_leaf)
#   agent:   --profiling.frequency=99 --history.window=2s
#   checks:  / names the fixture's pid and comm with a /flamegraph?pid=<pid> link;
#            the linked page loads nothing from the network, logs no error, draws hot_leaf
#            with >= 80% of the samples, a search for hot_leaf matches >= 80%, a click on
#            level_two zooms it to the full width; a screenshot is kept (a real drawing:
#            size and colours checked) in the build tree as flamegraph_page.png.
# shellcheck source-path=SCRIPTDIR disable=SC2119
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_require_bpf
e2e_require_cmd "$FIXTURE_CC" curl python3 chromium chromedriver

fixture=$(e2e_build_fixture cpu_chain)
agent_start --profiling.frequency=99 --history.window=2s
e2e_bg cpu_chain "$fixture" 30
fx=$BG_PID
e2e_track "$fx"
sleep 6 # a few closed windows

curl -fsS -m 10 -o "$T/index.html" "$AGENT_URL/" || fail "GET / failed"
row=$(grep -F ">$fx</td>" "$T/index.html" || true)
info "index row: ${row:0:200}"
check "$([[ $row == *cpu_chain* ]] && echo 1 || echo 0)" "/ lists pid $fx (cpu_chain)"
check "$([[ $row == *"/flamegraph?pid=$fx"* ]] && echo 1 || echo 0)" "/ links to /flamegraph?pid=$fx"

url="$AGENT_URL/flamegraph?pid=$fx&seconds=60"
shot=${STACKD_BUILD_DIR:-$T}/flamegraph_page.png
rc=0
python3 "$STACKD_SRC/tests/e2e/browser.py" flame "$url" --expect hot_leaf --min-share 80 \
	--screenshot "$shot" --search hot_leaf --min-matched 80 --click level_two \
	>"$T/browser.out" 2>&1 || rc=$?
sed 's/^/    browser.py: /' "$T/browser.out"
if ((rc == 77)); then
	skip_or_fail "chromium or chromedriver missing"
fi
check "$((rc == 0))" "the flame graph page passed every browser check (status $rc)"
check "$(($(stat -c %s "$shot" 2>/dev/null || echo 0) > 8192))" "screenshot kept: $shot"

agent_stop
pass "/ lists the fixture; /flamegraph?pid=$fx draws hot_leaf, zooms and searches in headless Chromium"
