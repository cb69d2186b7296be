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
#            The page links its selection as pprof, folded and speedscope (same query);
#            /debug/pprof/speedscope?seconds=60&pid= is a valid speedscope file (schema
#            fields, indices in range, endValue = sum of weights) with hot_leaf as a frame,
#            and over a closed range (start/end in the past) its weights add up to the
#            folded total of the same query.
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

# Export: the page's links carry its own selection.
curl -fsS -m 30 -o "$T/flame.html" "$url" || fail "GET $url failed"
for path in /debug/pprof/history /debug/pprof/folded /debug/pprof/speedscope; do
	check "$(($(grep -cF "href=\"$path?seconds=60&amp;pid=$fx\"" "$T/flame.html") >= 1))" \
		"the page links $path?seconds=60&pid=$fx"
done
# type=: cpu is the default; the off-CPU and wall histories exist only with --offcpu.enabled.
code=$(curl -sS -m 30 -o "$T/flame_cpu.html" -w '%{http_code}' "$url&type=cpu") || true
check "$([[ $code == 200 ]] && grep -q 'stackd CPU flame graph' "$T/flame_cpu.html" &&
	grep -qF "href=\"/debug/pprof/folded?type=cpu&amp;seconds=60&amp;pid=$fx\"" "$T/flame_cpu.html" &&
	echo 1 || echo 0)" "/flamegraph?type=cpu: HTTP $code, the CPU page, its links keep type=cpu"
for t in offcpu wall; do
	code=$(curl -sS -m 30 -o "$T/type_$t.txt" -w '%{http_code}' "$AGENT_URL/debug/pprof/folded?type=$t") || true
	check "$([[ $code == 404 ]] && grep -q -- '--offcpu.enabled' "$T/type_$t.txt" && echo 1 || echo 0)" \
		"folded?type=$t without --offcpu.enabled: HTTP $code ($(head -c 200 "$T/type_$t.txt"))"
done

# The speedscope file: schema, the hot function, and the folded total of a closed range.
sfile=${STACKD_BUILD_DIR:-$T}/flamegraph_page.speedscope.json
curl -fsS -m 30 -o "$sfile" "$AGENT_URL/debug/pprof/speedscope?seconds=60&pid=$fx" ||
	fail "GET /debug/pprof/speedscope?seconds=60&pid=$fx failed"
now=$(date +%s)
# Windows are 2 s: every window overlapping [now-20, now-5) is closed by now, so the two
# answers below are of the same windows.
range="start=$((now - 20))&end=$((now - 5))&pid=$fx"
curl -fsS -m 30 -o "$T/range.folded" "$AGENT_URL/debug/pprof/folded?$range" ||
	fail "GET /debug/pprof/folded?$range failed"
curl -fsS -m 30 -o "$T/range.speedscope.json" "$AGENT_URL/debug/pprof/speedscope?$range" ||
	fail "GET /debug/pprof/speedscope?$range failed"
folded_total=$(awk '{ s += $NF } END { print s + 0 }' "$T/range.folded")
rc=0
python3 - "$sfile" "$T/range.speedscope.json" "$folded_total" >"$T/speedscope.out" 2>&1 <<'PY' || rc=$?
import json, sys

def validate(path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json", doc["$schema"]
    assert isinstance(doc["name"], str) and isinstance(doc["exporter"], str)
    frames = doc["shared"]["frames"]
    assert all(isinstance(fr["name"], str) for fr in frames)
    names = [fr["name"] for fr in frames]
    assert len(set(names)) == len(names), "frames not deduplicated"
    total = 0
    for p in doc["profiles"]:
        assert p["type"] == "sampled" and p["unit"] in ("none", "nanoseconds"), p["type"]
        assert isinstance(p["name"], str)
        assert len(p["samples"]) == len(p["weights"])
        for st in p["samples"]:
            assert st and all(0 <= i < len(frames) for i in st), st
            assert frames[st[0]]["name"] == p["name"], "the root frame is not the comm"
        assert p["startValue"] == 0 and p["endValue"] == sum(p["weights"])
        total += sum(p["weights"])
    return doc, names, total

doc, names, total = validate(sys.argv[1])
print("seconds=60: %d frames, %d profiles (%s), %d samples" % (
    len(names), len(doc["profiles"]), ",".join(p["name"] for p in doc["profiles"]), total))
assert "hot_leaf" in names, "hot_leaf is not a frame"
assert [p["name"] for p in doc["profiles"]] == ["cpu_chain"], "one profile, the fixture's comm"
_, _, rtotal = validate(sys.argv[2])
print("closed range: speedscope %d samples, folded %s" % (rtotal, sys.argv[3]))
assert rtotal == int(sys.argv[3]) and rtotal > 0, "totals differ"
PY
sed 's/^/    speedscope: /' "$T/speedscope.out"
check "$((rc == 0))" "speedscope file valid, hot_leaf a frame, same total as folded"

agent_stop
pass "/ lists the fixture; /flamegraph?pid=$fx draws hot_leaf, zooms and searches in headless Chromium; exports as speedscope"
