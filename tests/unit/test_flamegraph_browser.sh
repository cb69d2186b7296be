#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# stackd-flamegraph end to end: folded stacks in, the page checked in a real
# browser (headless Chromium driven by tests/e2e/browser.py).
#
# Usage: test_flamegraph_browser.sh [--cli-only] STACKD_FLAMEGRAPH BROWSER_PY WORK_DIR
#
# The command line part (always): a folded input with a known hot function
# renders to a page whose no-JS table puts it first; hostile input (no
# count, negative, overflowing, not a number, a line over 1 MiB, empty
# frames, a total past 2^53) gets one clear message per line and does not
# stop the run; a hostile --title stays text; usage errors exit 2.
#
# The browser part (not with --cli-only): the hot function is drawn with its
# exact share (88.89%: its recursive stack is counted once), a search for it
# reports the same share, a screenshot shows a real drawing, hovering and
# clicking a frame zooms it to the full width, `chromium --dump-dom` shows
# the hot function without running the page's JS, and the page also works
# over http:// (a python3 http.server), where its render time is printed.
# Needs Debian's chromium and chromium-driver (or CHROMIUM and CHROMEDRIVER
# set to their paths): without them the test skips (exit 77), or fails when
# CI=true.
set -euo pipefail

CLI_ONLY=0
if [[ ${1:-} == --cli-only ]]; then
	CLI_ONLY=1
	shift
fi
TOOL=$1
BROWSER_PY=$2
WORK=$3
HOT=stackd_fg_hot_spin

fails=0
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}
ok() { echo "ok: $*"; }
# check COND MESSAGE: COND is 1 for pass (arithmetic truth).
check() {
	if [[ $1 == 1 ]]; then ok "$2"; else fail "$2"; fi
}

rm -rf "$WORK"
mkdir -p "$WORK"
server_pid=
cleanup() {
	if [[ -n $server_pid ]]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
}
trap cleanup EXIT

# ------------------------------------------------------------ the command line

# 200 cold stacks (600 samples), the hot function under three callers, once
# recursive (6000), and a kernel leaf (150): 6750 samples, hot = 88.89%.
awk -v hot="$HOT" 'BEGIN {
	for (i = 0; i < 200; i++)
		printf "main;worker_%d;compute_%d;leaf_%d %d\n", i % 7, i % 13, i, 1 + i % 5
	printf "main;worker_1;%s 3000\n", hot
	printf "main;worker_2;helper;%s 2000\n", hot
	printf "main;worker_3;%s;%s 1000\n", hot, hot
	print "main;syscall_entry;sys_write_[k] 150"
}' >"$WORK/hot.folded"
PAGE=$WORK/hot.html
rc=0
"$TOOL" --title "stackd: flame graph test" --period-ns 10101010 "$WORK/hot.folded" >"$PAGE" \
	2>"$WORK/hot.err" || rc=$?
check "$((rc == 0))" "stackd-flamegraph exits 0 on a clean input (status $rc)"
check "$(($(wc -c <"$WORK/hot.err") == 0))" "nothing on stderr for a clean input"
check "$(($(wc -c <"$PAGE") > 10000))" "page written: $(wc -c <"$PAGE") bytes"
first=$(grep -o '<tr><td>1</td><td class="fn">[^<]*</td>' "$PAGE" || true)
check "$([[ $first == *">$HOT<"* ]] && echo 1 || echo 0)" "no-JS table ranks $HOT first: $first"
check "$(grep -q '<td>6000</td><td>60.606</td><td>88.89</td>' "$PAGE" && echo 1 || echo 0)" \
	"no-JS table: $HOT self 6000 samples, 60.606 s, 88.89%"
check "$(grep -Eq 'https?://' "$PAGE" && echo 0 || echo 1)" "no URL anywhere in the page"
check "$(($(grep -o '<script' "$PAGE" | wc -l) == 3))" "three script elements (data, timeline, code)"
"$TOOL" - <"$WORK/hot.folded" >"$WORK/stdin.html" 2>/dev/null || fail "reading stdin ('-') failed"
check "$([[ $(grep -o '"names":.*' "$WORK/stdin.html") == "$(grep -o '"names":.*' "$PAGE")" ]] && echo 1 || echo 0)" \
	"stdin ('-') gives the same graph as the file"

# Hostile lines: every one reported with its number, none fatal.
{
	echo "good;line 5"
	echo "no_count_here"
	echo "a;b -3"
	echo "a;b 99999999999999999999999"
	echo "a;b 12x"
	echo " 5"
	echo "a;;b 1"
	head -c $((2 << 20)) /dev/zero | tr '\0' 'x'
	echo " 1"
	echo "a;b 9007199254740991"
	printf 'nul\0byte 1\n'
	printf 'final;line 7' # no newline at the end
} >"$WORK/bad.folded"
rc=0
"$TOOL" "$WORK/bad.folded" >"$WORK/bad.html" 2>"$WORK/bad.err" || rc=$?
check "$((rc == 0))" "bad lines are not fatal (status $rc)"
while IFS='|' read -r line want; do
	check "$(grep -q "bad.folded:$line: .*$want" "$WORK/bad.err" && echo 1 || echo 0)" \
		"line $line reported: $want"
done <<'EOF'
2|no sample count
3|negative sample count
4|overflows 64 bits
5|not a decimal sample count
6|no frames before the sample count
7|empty frame name
8|line longer than 1 MiB
9|past 2\^53
10|NUL byte
EOF
check "$(grep -q '9 of 11 lines were bad and skipped' "$WORK/bad.err" && echo 1 || echo 0)" \
	"summary: $(tail -n 1 "$WORK/bad.err")"
check "$(grep -q '"names":\["all","\[truncated\]","good","line","final"\]' "$WORK/bad.html" && echo 1 || echo 0)" \
	"the good lines (first and last, without newline) are in the graph"
# Many bad lines: 20 shown, all counted.
seq 1 500 | sed 's/$/ x/' >"$WORK/many.folded"
"$TOOL" "$WORK/many.folded" >/dev/null 2>"$WORK/many.err" || fail "500 bad lines: non-zero status"
check "$(($(grep -c 'line skipped' "$WORK/many.err") == 20))" "500 bad lines: 20 messages shown"
check "$(grep -q '500 of 500 lines were bad' "$WORK/many.err" && echo 1 || echo 0)" "500 bad lines: all counted"

"$TOOL" --title '</title><script>alert(1)</script>' "$WORK/hot.folded" >"$WORK/title.html"
check "$(grep -q '<title>&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;</title>' "$WORK/title.html" && echo 1 || echo 0)" \
	"a hostile --title is escaped"
check "$(($(grep -o '<script' "$WORK/title.html" | wc -l) == 3))" "no script element from the title"

"$TOOL" --help >"$WORK/help.out" || fail "--help exits non-zero"
check "$(grep -q '^Usage: stackd-flamegraph' "$WORK/help.out" && echo 1 || echo 0)" "--help prints the usage"
for args in "--bogus" "a b" "--period-ns=-1 x"; do
	rc=0
	# shellcheck disable=SC2086 # word splitting wanted
	"$TOOL" $args </dev/null >/dev/null 2>&1 || rc=$?
	check "$((rc == 2))" "usage error '$args' exits 2 (status $rc)"
done
rc=0
"$TOOL" "$WORK/no-such-file" >/dev/null 2>"$WORK/nofile.err" || rc=$?
check "$((rc == 1))" "a missing file exits 1: $(cat "$WORK/nofile.err")"

if ((CLI_ONLY)); then
	((fails == 0)) || { echo "$fails check(s) failed" >&2; exit 1; }
	echo "PASS: stackd-flamegraph command line"
	exit 0
fi

# ----------------------------------------------------------------- the browser

# browser.py reads the same two variables.
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export CHROMEDRIVER=${CHROMEDRIVER:-$(command -v chromedriver || echo /usr/bin/chromedriver)}
missing=""
[[ -x $CHROMIUM ]] || missing+=" chromium"
[[ -x $CHROMEDRIVER ]] || missing+=" chromedriver"
if [[ -n $missing ]]; then
	((fails == 0)) || { echo "$fails check(s) failed" >&2; exit 1; }
	if [[ ${CI:-} == true ]]; then
		echo "FAIL: cannot run:$missing not installed (apt-get install chromium chromium-driver; CI=true: a test that cannot run fails)" >&2
		exit 1
	fi
	echo "SKIP:$missing not installed (apt-get install chromium chromium-driver)"
	exit 77
fi

rc=0
python3 "$BROWSER_PY" flame "$PAGE" --expect "$HOT" --min-share 88 \
	--screenshot "$WORK/flame.png" --search "^$HOT\$" --min-matched 88 --click worker_2 \
	>"$WORK/flame.out" 2>&1 || rc=$?
sed 's/^/  browser.py: /' "$WORK/flame.out"
check "$((rc == 0))" "browser.py flame passed (status $rc)"
share=$(sed -n "s/^frame $HOT: .*share \([0-9.]*\)% of total$/\1/p" "$WORK/flame.out")
matched=$(sed -n 's/^search .*: matched \([0-9.]*\)% of total.*/\1/p' "$WORK/flame.out")
check "$([[ $share == 88.89 ]] && echo 1 || echo 0)" "$HOT drawn with share $share% (want 88.89: 6000 of 6750, recursion counted once)"
check "$([[ $matched == 88.89 ]] && echo 1 || echo 0)" "search ^$HOT\$ matched $matched% (want 88.89, not 103.70)"
check "$(grep -q "^click worker_2: zoomed .*(100.0%)" "$WORK/flame.out" && echo 1 || echo 0)" \
	"a real click on worker_2 zooms it to the full width"
check "$(($(stat -c %s "$WORK/flame.png" 2>/dev/null || echo 0) > 8192))" \
	"screenshot kept: $WORK/flame.png"

# Without JS: what `chromium --dump-dom` serializes still names the hot function.
timeout 60 "$CHROMIUM" --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage \
	--dump-dom "file://$(realpath "$PAGE")" >"$WORK/dom.html" 2>"$WORK/dom.err" || true
check "$(grep -q "<td class=\"fn\"[^>]*>$HOT</td>" "$WORK/dom.html" && echo 1 || echo 0)" \
	"chromium --dump-dom shows $HOT in the top-functions table"

# Over http://, from a python3 http.server on a port the kernel picks.
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$WORK" >"$WORK/http.out" 2>&1 &
server_pid=$!
port=
for ((i = 0; i < 100; i++)); do
	port=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$WORK/http.out" | head -n 1)
	[[ -n $port ]] && break
	sleep 0.1
done
if [[ -z $port ]]; then
	fail "python3 -m http.server did not start: $(cat "$WORK/http.out")"
else
	rc=0
	python3 "$BROWSER_PY" render-time "http://127.0.0.1:$port/hot.html" --runs 3 \
		>"$WORK/render.out" 2>&1 || rc=$?
	sed 's/^/  browser.py: /' "$WORK/render.out"
	check "$((rc == 0))" "the page renders over http:// (status $rc)"
fi

((fails == 0)) || { echo "$fails check(s) failed" >&2; exit 1; }
echo "PASS: stackd-flamegraph page checked in headless Chromium"
