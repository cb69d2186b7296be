#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Least privilege and operations (issue 6, parts 3 and 4).
#
#   checks:  once ready, EVERY thread of the agent (/proc/PID/task/*/status, capabilities are
#            per thread) has CapEff = CapPrm = CapBnd = exactly the documented set (README,
#            "Privileges": derived here from the same sysctls), CapInh = CapAmb = 0 and
#            NoNewPrivs: 1 -- a connection thread started after the drop included;
#            SIGUSR1 -> a level=debug line "log level debug"; SIGUSR2 twice -> "log level warn",
#            after which info lines are gone (the SIGTERM shutdown line is not logged);
#            --run-as-user=nobody: every thread has Uid/Gid 65534, the same capabilities, and a
#            profile fetched with go tool pprof still has the full symbolized chain of a root-owned
#            fixture in a 0700 root directory, plus symbolized kernel frames; /metrics still works;
#            --run-as-user=no-such-user: start-up fails with exit 1 (fail closed);
#            a world-writable --web.config.file is refused at start-up (exit 1) and on SIGHUP;
#            stackd --check exits 0 and prints BTF, perf events and one probe line per BPF
#            program type, map type and helper the programs use.
# shellcheck source-path=SCRIPTDIR disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

e2e_require_bpf
e2e_require_cmd "$FIXTURE_CC" go curl

# ---- the documented set (README "Privileges"), computed from this kernel's settings
sysctl_or() { cat "/proc/sys/$1" 2>/dev/null || echo "$2"; }
cap_last=$(sysctl_or kernel/cap_last_cap 0)
kptr=$(sysctl_or kernel/kptr_restrict 1)
paranoid=$(sysctl_or kernel/perf_event_paranoid 2)
unpriv_bpf=$(sysctl_or kernel/unprivileged_bpf_disabled 1)
IFS=. read -r kmaj kmin _ < <(uname -r)
kmin=${kmin%%[!0-9]*}
want=$(((1 << 19) | (1 << 2)))                          # CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH
if ((cap_last >= 40)); then want=$((want | (1 << 40))); else want=$((want | (1 << 21))); fi
if ((kptr == 1 || (kptr == 0 && paranoid > 1))); then want=$((want | (1 << 34))); fi # CAP_SYSLOG
if ((kmaj < 6 || (kmaj == 6 && kmin < 5))) && ((unpriv_bpf != 0)); then
	want=$((want | (1 << (cap_last >= 39 ? 39 : 21))))
fi
WANT=$(printf '%016x' "$want")
info "kernel $kmaj.$kmin, cap_last_cap $cap_last, kptr_restrict $kptr, perf_event_paranoid $paranoid, unprivileged_bpf_disabled $unpriv_bpf: want capabilities $WANT"

# status_field STATUS_FILE NAME: the first value of "NAME:\t..." (all of it for Uid/Gid).
status_field() { awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "$1"; }

# check_threads PID WANT_UID: every thread's credentials, as the kernel reports them.
check_threads()
{
	local pid=$1 uid=$2 t n=0 eff prm bnd inh amb nnp uids gids comm
	for t in /proc/"$pid"/task/*; do
		cp "$t/status" "$T/status.$n" 2>/dev/null || continue
		comm=$(cat "$t/comm" 2>/dev/null || echo '?')
		eff=$(status_field "$T/status.$n" CapEff)
		prm=$(status_field "$T/status.$n" CapPrm)
		bnd=$(status_field "$T/status.$n" CapBnd)
		inh=$(status_field "$T/status.$n" CapInh)
		amb=$(status_field "$T/status.$n" CapAmb)
		nnp=$(status_field "$T/status.$n" NoNewPrivs)
		uids=$(status_field "$T/status.$n" Uid | tr -s ' \t' ' ')
		gids=$(status_field "$T/status.$n" Gid | tr -s ' \t' ' ')
		info "  thread ${t##*/} ($comm): Uid $uids Gid $gids CapEff $eff CapPrm $prm CapBnd $bnd CapInh $inh CapAmb $amb NoNewPrivs $nnp"
		[[ $eff == "$WANT" && $prm == "$WANT" && $bnd == "$WANT" ]] ||
			fail "thread ${t##*/} ($comm): CapEff/CapPrm/CapBnd $eff/$prm/$bnd, want $WANT in all three"
		[[ $inh == 0000000000000000 && $amb == 0000000000000000 ]] ||
			fail "thread ${t##*/} ($comm): CapInh $inh CapAmb $amb, want 0"
		[[ $nnp == 1 ]] || fail "thread ${t##*/} ($comm): NoNewPrivs $nnp, want 1"
		[[ $uids == "$uid $uid $uid $uid" ]] || fail "thread ${t##*/} ($comm): Uid $uids, want $uid x4"
		if ((uid != 0)); then
			[[ $gids == "$uid $uid $uid $uid" ]] || fail "thread ${t##*/} ($comm): Gid $gids, want $uid x4"
		fi
		n=$((n + 1))
	done
	NTHREADS=$n
}

# wait_log PATTERN: the agent log has a line matching the ERE within 5 s.
wait_log()
{
	local deadline=$(($(now_ms) + 5000))
	until grep -Eq -- "$1" "$AGENT_LOG"; do
		(($(now_ms) < deadline)) || fail "no log line matching '$1' within 5 s"
		sleep 0.1
	done
	info "ok: log has: $(grep -E -- "$1" "$AGENT_LOG" | tail -n 1)"
}

# ---- as root: capabilities in every thread, including a connection thread born after the drop
agent_start
grep -q 'msg="privileges dropped in all' "$AGENT_LOG" || fail "ready, but no 'privileges dropped' line"
info "$(grep 'privileges dropped' "$AGENT_LOG")"
(exec curl -sS -m 30 -o /dev/null "$AGENT_URL/debug/pprof/profile?seconds=3") &
inflight=$!
e2e_track "$inflight"
sleep 1
check_threads "$AGENT_PID" 0
check "$((NTHREADS >= 4))" "$NTHREADS threads (main, MHD-listen, drain, a connection thread) all hold exactly $WANT, NoNewPrivs 1"
e2e_reap "$inflight" 15 || fail "the profile request during the check failed"

# ---- log level by signal
if grep -q 'level=debug' "$AGENT_LOG"; then fail "debug lines before SIGUSR1 at --log.level=info"; fi
kill -USR1 "$AGENT_PID"
wait_log 'level=debug msg="log level debug \(was info, SIGUSR1\)"'
kill -USR2 "$AGENT_PID"
wait_log 'level=info msg="log level info \(was debug, SIGUSR2\)"'
kill -USR2 "$AGENT_PID"
wait_log 'level=warn msg="log level warn \(was info, SIGUSR2\)"'
check "$(($(http_code "$AGENT_URL/-/healthy") == 200))" "agent still healthy after SIGUSR1/SIGUSR2"
agent_stop TERM
if grep -q 'received SIGTERM' "$AGENT_LOG"; then
	fail "info line 'received SIGTERM' logged at level warn: SIGUSR2 did not lower the level"
fi
info "ok: at level warn the info line 'received SIGTERM, shutting down' is not logged"

# ---- --run-as-user=nobody: a root-owned fixture in a root-only directory is still symbolized
mkdir -p "$T/rootonly"
chmod 0700 "$T" "$T/rootonly"
FIXTURE_OUT=$T/rootonly
fixture=$FIXTURE_OUT/cpu_chain
kfixture=$FIXTURE_OUT/syscall_heavy
for f in cpu_chain syscall_heavy; do
	"$FIXTURE_CC" -O1 -g -fno-omit-frame-pointer -Wall -o "$FIXTURE_OUT/$f" "$STACKD_SRC/tests/fixtures/$f.c" ||
		fail "cannot build $f"
	chmod 0700 "$FIXTURE_OUT/$f"
done
info "fixture $fixture: $(stat -c '%U:%G %a' "$fixture"), directory $(stat -c '%U:%G %a' "$FIXTURE_OUT")"
if setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all test -r "$fixture" 2>/dev/null; then
	fail "nobody can read $fixture without capabilities: the test would prove nothing"
fi

agent_start --run-as-user=nobody --profiling.frequency=49
grep -q 'user nobody (uid 65534' "$AGENT_LOG" || fail "no 'user nobody' in the privileges line"
check_threads "$AGENT_PID" 65534
check "$((NTHREADS >= 3))" "--run-as-user=nobody: $NTHREADS threads run as 65534 with exactly $WANT, NoNewPrivs 1"

e2e_bg cpu_chain "$fixture" 8
fx=$BG_PID
e2e_bg syscall_heavy "$kfixture" 8
kfx=$BG_PID
sleep 1
e2e_pprof -symbolize=none -raw "$AGENT_URL/debug/pprof/profile?seconds=4" >"$T/raw.txt" 2>"$T/raw.err" ||
	{ cat "$T/raw.err" >&2; fail "go tool pprof -raw failed"; }
pprof_flatten <"$T/raw.txt" >"$T/flat.tsv"
read -r fx_samples fx_chain < <(awk -F'\t' -v pid="$fx" '
	$2 == pid { n += $1; if ($4 ~ /(^|;)U:hot_leaf;U:level_three;U:level_two;U:level_one;U:main(;|$)/) c += $1 }
	END { printf "%d %d\n", n, c }' "$T/flat.tsv")
# syscall_heavy's kernel samples: named kernel frames on top of its do_syscalls frame.
ksym=$(awk -F'\t' -v pid="$kfx" '$2 == pid && $4 ~ /U:do_syscalls/ {
	n = split($4, f, ";"); for (i = 1; i <= n; i++) if (f[i] ~ /^K:[A-Za-z_]/) { k += $1; break } }
	END { print k + 0 }' "$T/flat.tsv")
info "fixture pid $fx: $fx_samples samples, $fx_chain with hot_leaf;level_three;level_two;level_one;main"
info "syscall_heavy pid $kfx: $ksym samples with symbolized kernel frames under do_syscalls"
check "$((fx_samples > 0 && 2 * fx_chain >= fx_samples))" \
	"as nobody, the root-only fixture's stacks are symbolized (chain in $fx_chain of $fx_samples samples)"
check "$((ksym > 0))" "as nobody, kernel frames are symbolized ($ksym samples): /proc/kallsyms still has addresses"
curl -fsS -m 10 "$AGENT_URL/metrics" >"$T/metrics.txt" || fail "/metrics failed as nobody"
opens=$(awk '/^stackd_symbolize_failures_total\{reason="open"\}/ { print $2 }' "$T/metrics.txt")
fds=$(metric_sum "$T/metrics.txt" process_open_fds || echo absent)
info "/metrics as nobody: process_open_fds $fds, symbolize failures (open) ${opens:-?}"
check "$([[ $fds =~ ^[0-9]+$ ]] && ((fds > 0)) && echo 1 || echo 0)" "process_open_fds still read as nobody ($fds)"
e2e_reap "$fx" 20 || true
e2e_reap "$kfx" 20 || true
agent_stop TERM

# ---- an unknown user: fail closed (exit 1), with a message
rc=0
timeout -k 5 30 "$STACKD_BIN" --web.listen-address=127.0.0.1:"$(e2e_free_port)" \
	--run-as-user=no-such-user-stackd >"$T/nouser.out" 2>&1 || rc=$?
info "--run-as-user=no-such-user-stackd -> exit $rc: $(grep -m1 'no-such-user' "$T/nouser.out" || true)"
check "$((rc == 1))" "an unknown --run-as-user is a start-up failure (exit $rc, want 1)"
grep -q 'no such user' "$T/nouser.out" || fail "the message does not say the user does not exist"

# ---- --web.config.file must be writable by root only: refused at start and on SIGHUP
mkdir -p "$T/etc"
chmod 0755 "$T/etc"
printf 'basic_auth_users: {}\n' >"$T/etc/web.yml"
chmod 0666 "$T/etc/web.yml"
rc=0
timeout -k 5 30 "$STACKD_BIN" --web.listen-address=127.0.0.1:"$(e2e_free_port)" \
	--web.config.file="$T/etc/web.yml" >"$T/wwconfig.out" 2>&1 || rc=$?
info "world-writable --web.config.file -> exit $rc: $(grep -m1 'refusing' "$T/wwconfig.out" || true)"
check "$((rc == 1))" "a world-writable --web.config.file is refused at start-up (exit $rc, want 1)"
grep -q 'writable by every user' "$T/wwconfig.out" || fail "the refusal does not say why"
chmod 0644 "$T/etc/web.yml"
agent_start --web.config.file="$T/etc/web.yml"
chmod 0666 "$T/etc/web.yml"
kill -HUP "$AGENT_PID"
wait_log 'level=error msg="refusing .*web.yml.*writable by every user'
check "$(($(http_code "$AGENT_URL/-/ready") == 200))" "after refusing the reload the agent still serves (old config kept)"
agent_stop TERM

# ---- stackd --check
rc=0
timeout 60 "$STACKD_BIN" --check >"$T/check.out" 2>&1 || rc=$?
sed 's/^/    /' "$T/check.out"
check "$((rc == 0))" "stackd --check exits $rc here (want 0)"
for name in 'BTF' 'perf events' 'BPF programs' 'BPF maps' 'BPF helpers' 'BPF load' 'capabilities' \
	'kptr_restrict' 'kallsyms' '=> sampling' '=> kernel symbols'; do
	grep -Eq "^ok +$name " "$T/check.out" || fail "stackd --check has no 'ok' line for '$name'"
done
grep -Eq '^(ok|info) +perf_event_paranoid +[-0-9]+: ' "$T/check.out" ||
	fail "stackd --check does not report perf_event_paranoid"
grep -Eq "^info +after start-up +keeps " "$T/check.out" || fail "stackd --check does not say which capabilities stay"
# One probe line per helper the programs call (preflight.c's table; test_preflight keeps it equal to
# the object's calls), each with the kernel release it needs and the feature that uses it.
for h in map_lookup_elem map_update_elem map_delete_elem get_smp_processor_id \
	get_current_pid_tgid get_current_comm get_current_task get_stackid get_stack \
	probe_read_kernel ringbuf_reserve ringbuf_submit probe_read_user ringbuf_query \
	get_current_task_btf task_pt_regs get_current_cgroup_id get_current_ancestor_cgroup_id; do
	grep -Eq "^ok +BPF helper +bpf_$h: yes \(Linux [0-9]+\.[0-9]+\+, (sampling|CFI unwinding|cgroup filter)\)$" \
		"$T/check.out" || fail "stackd --check has no 'ok BPF helper bpf_$h: yes (Linux X.Y+, feature)' line"
done
nhelpers=$(grep -Ec '^ok +BPF helper ' "$T/check.out")
if [[ -n ${STACKD_BUILD_DIR:-} && -f $STACKD_BUILD_DIR/bpf/stackd.bpf.o ]] && command -v llvm-objdump >/dev/null; then
	ncalled=$(llvm-objdump -d "$STACKD_BUILD_DIR/bpf/stackd.bpf.o" | grep -oE 'call [0-9]+$' | sort -u | wc -l)
	check "$((nhelpers == ncalled))" "--check probes $nhelpers helpers; stackd.bpf.o calls $ncalled distinct ones"
fi
for kind in 'BPF program +perf_event' 'BPF map +RINGBUF' 'BPF map +STACK_TRACE'; do
	grep -Eq "^ok +$kind: yes \(Linux " "$T/check.out" || fail "stackd --check has no ok line for '$kind'"
done
if grep -Eq '^FAIL' "$T/check.out"; then fail "stackd --check exits 0 but has FAIL lines"; fi
info "ok: --check reports ok for BTF, perf events, each BPF program type, map type and helper ($nhelpers), the load, capabilities, sampling"

pass "capabilities dropped in every thread, NoNewPrivs, --run-as-user, SIGUSR1/SIGUSR2, --check"
