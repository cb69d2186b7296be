#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Process metadata becomes pprof labels, and every filter selects exactly the
# samples of the process it names, live and from history.
#
#   fixtures: svc_a runs in a docker-style container cgroup
#               <cgroup2>/stackd-e2e-N.slice/docker-<64 hex>.scope,
#             svc_b in a systemd-style unit cgroup
#               <cgroup2>/stackd-e2e-N.slice/stackd-e2e-b.service
#             (both are cpu_chain, started inside their cgroup)
#   agent:    --history.window=2s --profiling.frequency=99
#             --profiling.labels=pid,comm,container_id,container_runtime,unit,cgroup
#   checks:   labels: svc_a's samples carry container_id=<id>, container_runtime=docker and its
#             cgroup path; svc_b's unit=stackd-e2e-b.service; keys not asked for (exe, cmdline)
#             are absent;
#             filters: pid= (live /debug/pprof/profile and history), container= (id prefix),
#             unit=, cgroup= (an ancestor: both), comm= (glob) each return samples of exactly
#             the expected pids and all of them; /debug/pprof/folded?container= only svc_a;
#             bad filter values get 400 with the reason.
# shellcheck source-path=SCRIPTDIR disable=SC2119
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_require_bpf
e2e_require_cmd "$FIXTURE_CC" go curl od

cg2=$(e2e_cgroup2_mount)
slice=/stackd-e2e-$$.slice
cid=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
cg_a=$cg2$slice/docker-$cid.scope
cg_b=$cg2$slice/stackd-e2e-b.service
e2e_cgroup_make "$cg_a"
e2e_cgroup_make "$cg_b"
info "cgroups: $slice/docker-$cid.scope and $slice/stackd-e2e-b.service under $cg2"

fixture=$(e2e_build_fixture cpu_chain)
cp "$fixture" "$T/svc_a"
cp "$fixture" "$T/svc_b"

agent_start --profiling.frequency=99 --history.window=2s \
	--profiling.labels=pid,comm,container_id,container_runtime,unit,cgroup

# Each fixture enters its cgroup before exec, so its first sample already sees it.
e2e_bg svc_a sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" 30' sh "$cg_a" "$T/svc_a"
pa=$BG_PID
e2e_track "$pa"
e2e_bg svc_b sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" 30' sh "$cg_b" "$T/svc_b"
pb=$BG_PID
e2e_track "$pb"
info "svc_a pid $pa, svc_b pid $pb"
for ((i = 0; i < 50; i++)); do
	grep -q "docker-$cid.scope" "/proc/$pa/cgroup" && grep -q "stackd-e2e-b.service" "/proc/$pb/cgroup" && break
	sleep 0.1
done
grep -q "docker-$cid.scope" "/proc/$pa/cgroup" || fail "svc_a is not in its cgroup: $(cat /proc/"$pa"/cgroup)"

# fetch NAME URL: download a profile, then its samples as COUNT<TAB>LABELS in $T/NAME.tsv.
fetch()
{
	local name=$1 url=$2 code
	code=$(curl -sS -m 60 -o "$T/$name.pb.gz" -w '%{http_code}' "$url") || fail "curl $url failed"
	[[ $code == 200 ]] || fail "GET $url -> $code: $(head -c 300 "$T/$name.pb.gz")"
	e2e_pprof -raw "$T/$name.pb.gz" >"$T/$name.raw" 2>"$T/$name.err" ||
		fail "go tool pprof -raw $name: $(cat "$T/$name.err")"
	pprof_labels <"$T/$name.raw" >"$T/$name.tsv"
}

# pids_of NAME: "pid:samples" of every pid in NAME.tsv, sorted by pid.
pids_of()
{
	awk -F'\t' '{ n = split($2, l, "|"); for (i = 1; i <= n; i++) if (l[i] ~ /^pid=/) { p = substr(l[i], 5); c[p] += $1 } }
		END { for (p in c) print p ":" c[p] }' "$T/$1.tsv" | sort -n | tr '\n' ' '
}

# expect_pids NAME WHAT PID...: the samples of NAME are of exactly these pids, each present.
expect_pids()
{
	local name=$1 what=$2 got want="" p
	shift 2
	got=$(pids_of "$name")
	for p in "$@"; do
		[[ " $got" == *" $p:"* ]] || fail "$what: no samples of pid $p (got: $got)"
		want="$want $p"
	done
	local extra
	extra=$(awk -v want="$want" 'BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) ok[w[i]] = 1 }
		{ split($0, x, ":"); if (!(x[1] in ok)) printf "%s ", $0 }' <<<"$(tr ' ' '\n' <<<"$got" | sed '/^$/d')")
	check "$([[ -z $extra ]] && echo 1 || echo 0)" "$what: samples of exactly pid(s)$want (got: $got)"
}

# Live profile with a pid filter, while the history fills.
sleep 1
fetch live "$AGENT_URL/debug/pprof/profile?seconds=4&pid=$pa"
expect_pids live "live ?pid=$pa" "$pa"

# The history has windows of both by now (2 s windows, 5 s in).
sleep 3
fetch all "$AGENT_URL/debug/pprof/history?seconds=60"
info "history, unfiltered: pids $(pids_of all | wc -w) distinct"
a_labels=$(awk -F'\t' -v p="pid=$pa" 'index("|" $2 "|", "|" p "|") { print $2; exit }' "$T/all.tsv")
b_labels=$(awk -F'\t' -v p="pid=$pb" 'index("|" $2 "|", "|" p "|") { print $2; exit }' "$T/all.tsv")
info "svc_a labels: $a_labels"
info "svc_b labels: $b_labels"
want_a="cgroup=$slice/docker-$cid.scope|comm=svc_a|container_id=$cid|container_runtime=docker|pid=$pa"
want_b="cgroup=$slice/stackd-e2e-b.service|comm=svc_b|pid=$pb|unit=stackd-e2e-b.service"
check "$([[ $a_labels == "$want_a" ]] && echo 1 || echo 0)" "svc_a labels are exactly $want_a"
check "$([[ $b_labels == "$want_b" ]] && echo 1 || echo 0)" "svc_b labels are exactly $want_b"
bad=$(awk -F'\t' -v a="pid=$pa" -v b="pid=$pb" '
	index("|" $2 "|", "|" a "|") && $2 != wa { n += $1 }
	index("|" $2 "|", "|" b "|") && $2 != wb { n += $1 } END { print n + 0 }' wa="$want_a" wb="$want_b" "$T/all.tsv")
check "$((bad == 0))" "every sample of svc_a and svc_b carries those labels ($bad do not)"
check "$(grep -c -E '(^|\|)(exe|cmdline)=' "$T/all.tsv" | awk '{ print ($1 == 0) }')" \
	"keys not in --profiling.labels (exe, cmdline) are absent"

fetch by_pid "$AGENT_URL/debug/pprof/history?seconds=60&pid=$pb"
expect_pids by_pid "history ?pid=$pb" "$pb"
fetch by_pids "$AGENT_URL/debug/pprof/history?seconds=60&pid=$pa,$pb"
expect_pids by_pids "history ?pid=$pa,$pb" "$pa" "$pb"
fetch by_container "$AGENT_URL/debug/pprof/history?seconds=60&container=${cid:0:12}"
expect_pids by_container "history ?container=${cid:0:12}" "$pa"
fetch by_unit "$AGENT_URL/debug/pprof/history?seconds=60&unit=stackd-e2e-b.service"
expect_pids by_unit "history ?unit=stackd-e2e-b.service" "$pb"
fetch by_cgroup "$AGENT_URL/debug/pprof/history?seconds=60&cgroup=$slice"
expect_pids by_cgroup "history ?cgroup=$slice (the parent of both)" "$pa" "$pb"
fetch by_comm "$AGENT_URL/debug/pprof/history?seconds=60&comm=svc_%2A"
expect_pids by_comm "history ?comm=svc_*" "$pa" "$pb"
fetch by_both "$AGENT_URL/debug/pprof/history?seconds=60&comm=svc_a&cgroup=$slice"
expect_pids by_both "history ?comm=svc_a&cgroup=$slice" "$pa"

# Filtered samples are all of that process's samples: the unfiltered history has no more.
a_all=$(pids_of all | tr ' ' '\n' | awk -F: -v p="$pa" '$1 == p { print $2 }')
a_cont=$(pids_of by_container | tr ' ' '\n' | awk -F: -v p="$pa" '$1 == p { print $2 }')
info "svc_a: $a_all samples unfiltered, $a_cont with ?container= (later windows may have closed between)"
check "$((a_cont >= a_all))" "?container= kept every svc_a sample of the range ($a_cont >= $a_all)"

curl -fsS -m 30 -o "$T/folded.txt" "$AGENT_URL/debug/pprof/folded?seconds=60&container=$cid" ||
	fail "GET /debug/pprof/folded?container= failed"
lines=$(wc -l <"$T/folded.txt")
others=$(grep -vc '^svc_a;' "$T/folded.txt" || true)
hot=$(awk '/;hot_leaf( |;)/ { n += $NF } END { print n + 0 }' "$T/folded.txt")
info "folded ?container=: $lines lines, hot_leaf in $hot samples; first: $(head -n 1 "$T/folded.txt")"
check "$((lines > 0 && others == 0))" "every folded line is svc_a's ($others are not)"
check "$((hot > 0))" "folded stacks reach hot_leaf"

# Bad filters: 400 with the reason, never a profile.
for q in "pid=0" "pid=abc" "pid=1,,2" "cgroup=relative/path" "comm=" \
	"comm=$(printf 'x%.0s' {1..100})" "unit=%01"; do
	code=$(curl -sS -m 10 -o "$T/err.txt" -w '%{http_code}' "$AGENT_URL/debug/pprof/history?$q")
	check "$([[ $code == 400 ]] && echo 1 || echo 0)" "?$q -> $code: $(head -c 120 "$T/err.txt")"
done
code=$(curl -sS -m 10 -o "$T/err.txt" -w '%{http_code}' "$AGENT_URL/debug/pprof/profile?seconds=1&pid=x")
check "$([[ $code == 400 ]] && echo 1 || echo 0)" "live ?pid=x -> $code before any wait"

agent_stop
pass "labels and filters: container, unit and cgroup labels; pid, container, unit, cgroup and comm filters select exactly their samples"
