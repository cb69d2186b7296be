#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Process names that are not UTF-8 never make /metrics or a profile unreadable.
#
#   fixtures: hostile_names exec'd through a symlink named $'\xff\xfe-bad' (so its comm is
#             those bytes) with invalid bytes in its cmdline, and a second one that renames
#             itself with prctl(PR_SET_NAME) to $'\xed\xa0\x80pr\xc0\xaf' (a surrogate, an
#             overlong '/') and forks the child that burns the CPU.
#   agent:    --history.window=2s --profiling.cgroups=<the fixtures' cgroup>, per-comm CPU metrics (--metrics.cpu.labels default: comm)
#   checks:   promtool check metrics parses /metrics (exit 0, or 3 for lint only; never 1),
#             and the series of both processes are there with U+FFFD for the bad bytes;
#             the history profile parses with go tool pprof -raw and shows comm
#             "\ufffd\ufffd-bad"; every string of it is valid UTF-8; a comm= filter with the
#             raw bytes (%FF%FE-bad), with the repaired name and a glob over one select exactly
#             that process; /debug/pprof/folded and /flamegraph are valid UTF-8.
# shellcheck source-path=SCRIPTDIR disable=SC2119
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_require_bpf
e2e_require_cmd "$FIXTURE_CC" go curl promtool python3

FFFD=$'\xef\xbf\xbd'
bad_link=$'\xff\xfe-bad'
bad_prctl=$'\xed\xa0\x80pr\xc0\xaf'
want_link="$FFFD$FFFD-bad"
want_prctl="$FFFD$FFFD${FFFD}pr$FFFD$FFFD"

# valid_utf8 FILE: exit 0 when FILE is entirely valid UTF-8 (Python's strict decoder).
valid_utf8()
{
	python3 -c 'import sys; open(sys.argv[1], "rb").read().decode("utf-8")' "$1" 2>/dev/null
}

fixture=$(e2e_build_fixture hostile_names)
ln -s "$fixture" "$T/$bad_link"

# Only the fixtures' cgroup is sampled: this test is about names, and must not depend on
# whatever else runs on the machine (other hostile fixtures, for one).
cg=$(e2e_cgroup2_mount)/stackd-e2e-names-$$
e2e_cgroup_make "$cg"
agent_start --profiling.frequency=99 --history.window=2s --profiling.cgroups="$cg" \
	--profiling.labels=pid,comm,exe,cmdline

# The shell enters the fixtures' cgroup, then execs the fixture (same pid), so its first
# sample already counts.
in_cg=(sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$cg")
e2e_bg link "${in_cg[@]}" "$T/$bad_link" 120 - $'arg-\xfe\xc0\x80'
p_link=$BG_PID
e2e_bg prctl "${in_cg[@]}" "$fixture" 120 "$bad_prctl" $'\xf4\x90\x80\x80'
p_prctl_parent=$BG_PID # renames itself too, then waits: it may have a sample or not
p_prctl=
for ((i = 0; i < 50; i++)); do
	p_prctl=$(head -n1 "$T/prctl.out" 2>/dev/null) && [[ -n $p_prctl ]] && break
	sleep 0.1
done
[[ -n $p_prctl ]] || fail "the prctl fixture did not report its child"
sleep 0.3
check "$([[ $(cat "/proc/$p_link/comm") == "$bad_link" ]] && echo 1 || echo 0)" \
	"pid $p_link runs with comm \\xff\\xfe-bad (exec'd through the link)"
check "$([[ $(cat "/proc/$p_prctl/comm") == "$bad_prctl" ]] && echo 1 || echo 0)" \
	"pid $p_prctl (forked after prctl(PR_SET_NAME)) is named \\xed\\xa0\\x80pr\\xc0\\xaf with prctl(PR_SET_NAME)"

# Samples of both reach the CPU metrics and close a couple of history windows.
sleep 5
curl -fsS -m 20 -o "$T/metrics.txt" "$AGENT_URL/metrics" || fail "GET /metrics failed"
rc=0
promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1 || rc=$?
if ((rc != 0 && rc != 3)); then
	sed 's/^/    /' "$T/promtool.out" >&2
	grep -a 'comm=' "$T/metrics.txt" | head -5 | od -c | head -20 >&2
	fail "promtool check metrics: exit $rc (a parse error: Prometheus would refuse every scrape)"
fi
info "promtool check metrics: exit $rc ($(wc -l <"$T/promtool.out") lint lines)"
check "$(valid_utf8 "$T/metrics.txt" && echo 1 || echo 0)" "/metrics is valid UTF-8"
check "$(grep -acF "comm=\"$want_link\"" "$T/metrics.txt" | awk '{ print ($1 >= 1) }')" \
	"stackd_cpu_seconds_total has a series with comm=\"\\ufffd\\ufffd-bad\""
check "$(grep -acF "comm=\"$want_prctl\"" "$T/metrics.txt" | awk '{ print ($1 >= 1) }')" \
	"stackd_cpu_seconds_total has a series for the prctl name, bad bytes as U+FFFD"

# fetch NAME QUERY: history profile -> go tool pprof -raw -> COUNT<TAB>LABELS in $T/NAME.tsv.
fetch()
{
	local name=$1 url="$AGENT_URL/debug/pprof/history?seconds=60$2" code
	code=$(curl -sS -m 60 -o "$T/$name.pb.gz" -w '%{http_code}' "$url") || fail "curl $url failed"
	[[ $code == 200 ]] || fail "GET $url -> $code: $(head -c 300 "$T/$name.pb.gz")"
	e2e_pprof -raw "$T/$name.pb.gz" >"$T/$name.raw" 2>"$T/$name.err" ||
		fail "go tool pprof -raw ($name): $(cat "$T/$name.err")"
	pprof_labels <"$T/$name.raw" >"$T/$name.tsv"
}

# pids_of NAME: the distinct pids with samples in $T/NAME.tsv, sorted.
pids_of()
{
	awk -F'\t' '{ n = split($2, l, "|"); for (i = 1; i <= n; i++) if (l[i] ~ /^pid=/) print substr(l[i], 5) }' \
		"$T/$1.tsv" | sort -un | tr '\n' ' ' | sed 's/ $//'
}

fetch all ""
check "$(valid_utf8 "$T/all.raw" && echo 1 || echo 0)" "go tool pprof -raw parses the profile; its text is valid UTF-8"
python3 - "$T/all.pb.gz" <<'PY' || fail "the profile's string table has invalid UTF-8"
import gzip, sys
data = gzip.open(sys.argv[1]).read()
# string_table is field 6 (wire type 2) of Profile: walk the top-level fields.
def varint(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1; v |= (c & 0x7f) << s; s += 7
        if c < 0x80: return v, i
i = n = 0
while i < len(data):
    key, i = varint(data, i)
    wt = key & 7
    if wt == 0: _, i = varint(data, i)
    elif wt == 2:
        ln, i = varint(data, i)
        if key >> 3 == 6: data[i:i + ln].decode("utf-8"); n += 1
        i += ln
    elif wt == 1: i += 8
    elif wt == 5: i += 4
    else: sys.exit("bad wire type %d" % wt)
print("string table: %d strings, all valid UTF-8" % n)
PY
link_labels=$(awk -F'\t' -v p="pid=$p_link" 'index("|" $2 "|", "|" p "|") { print $2; exit }' "$T/all.tsv")
prctl_labels=$(awk -F'\t' -v p="pid=$p_prctl" 'index("|" $2 "|", "|" p "|") { print $2; exit }' "$T/all.tsv")
info "link fixture labels: $link_labels"
info "prctl fixture labels: $prctl_labels"
check "$([[ "|$link_labels|" == *"|comm=$want_link|"* ]] && echo 1 || echo 0)" \
	"pid $p_link: comm=\\ufffd\\ufffd-bad in go tool pprof -raw"
check "$([[ "|$link_labels|" == *"|cmdline="*'arg-\xfe\xc0\x80|'* ]] && echo 1 || echo 0)" \
	"pid $p_link: its cmdline label shows the bad bytes as \\xNN text"
check "$([[ "|$link_labels|" == *"|exe=$T/"* ]] && echo 1 || echo 0)" "pid $p_link: exe label present"
check "$([[ "|$prctl_labels|" == *"|comm=$want_prctl|"* ]] && echo 1 || echo 0)" \
	"pid $p_prctl: the prctl name with U+FFFD in go tool pprof -raw"

fetch raw "&comm=%FF%FE-bad"
check "$([[ $(pids_of raw) == "$p_link" ]] && echo 1 || echo 0)" \
	"comm=%FF%FE-bad (the raw bytes) selects exactly pid $p_link (got: $(pids_of raw))"
fetch fixed "&comm=%EF%BF%BD%EF%BF%BD-bad"
check "$([[ $(pids_of fixed) == "$p_link" ]] && echo 1 || echo 0)" \
	"comm=\\ufffd\\ufffd-bad (the repaired name) selects exactly pid $p_link (got: $(pids_of fixed))"
fetch glob "&comm=*pr%EF%BF%BD*"
# The parent made the same prctl before it forked; whether it was sampled is chance.
glob_ok=0
[[ $(pids_of glob) == "$p_prctl" || $(pids_of glob) == "$(printf '%s\n' "$p_prctl" "$p_prctl_parent" | sort -n | tr '\n' ' ' | sed 's/ $//')" ]] && glob_ok=1
check "$glob_ok" \
	"comm=*pr\\ufffd* (a glob over the repaired name) selects pid $p_prctl and at most its renamed parent $p_prctl_parent (got: $(pids_of glob))"

for page in "debug/pprof/folded?seconds=60" "flamegraph?seconds=60"; do
	out=$T/page.$(echo "$page" | tr -c 'a-z' _)
	code=$(curl -sS -m 60 -o "$out" -w '%{http_code}' "$AGENT_URL/$page") || fail "GET /$page failed"
	check "$((code == 200))" "GET /$page -> $code"
	check "$(valid_utf8 "$out" && echo 1 || echo 0)" "/${page%%\?*} is valid UTF-8"
	check "$(grep -acF "$want_link" "$out" | awk '{ print ($1 >= 1) }')" \
		"/${page%%\?*} names the process \\ufffd\\ufffd-bad"
done

kill -0 "$AGENT_PID" 2>/dev/null || fail "agent died"
agent_stop
pass "names that are not UTF-8 reach /metrics, pprof, filters and pages as U+FFFD; every scrape parses"
