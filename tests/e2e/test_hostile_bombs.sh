#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Memory bombs in a profiled binary cost the agent its per-object parse budget,
# not the sizes the binary claims.
#
#   fixture: tests/fixtures/sym_chain.c (clang -O1 -g), turned by tests/fixtures/elfbomb.py
#            into sym_bomb:
#              .symtab                    claims 512 MiB (a hole at the end of the file)
#              .debug_info, .debug_abbrev SHF_COMPRESSED, each claiming 1 GiB, and really
#                                         inflating to 1 GiB of zeros (~1 MiB on disk)
#            It still runs: section headers play no part in loading it.
#   agent:   defaults (--symbolize.cache-size=64MiB, so a 64 MiB per-object budget),
#            --profiling.frequency=99; one 5 s profile while sym_bomb burns CPU (the
#            profile is what makes the agent load DWARF: symbolization is on read).
#   checks:  the agent's peak RSS (VmHWM) stays under 200 MB (the old agent read the
#            .symtab whole and inflated both sections: 2.5+ GB);
#            sym_bomb's samples are in the profile, in its mapping, as raw addresses
#            (its symbols did not fit); stackd_symbolize_objects_too_big_total rose by
#            >= 2 (the symbol tables at priming, the DWARF at the profile) and the refused
#            bytes counter by >= 1 GiB; /metrics still passes promtool-free sanity (parses).
# shellcheck disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/test_sym_lib.sh"

HZ=99
WINDOW=5
RSS_BOUND_KB=$((200 * 1024))
e2e_require_bpf
e2e_require_cmd "$FIXTURE_CC" go curl python3

src=$STACKD_SRC/tests/fixtures/sym_chain.c
"$FIXTURE_CC" -O1 -g -fno-omit-frame-pointer -Wall -Wl,--build-id=sha1 \
	'-DSYM_CHAIN_TAG="sym_bomb"' -o "$T/sym_chain_g" "$src" || fail "cannot build $src"
python3 "$STACKD_SRC/tests/fixtures/elfbomb.py" "$T/sym_chain_g" "$T/sym_bomb" \
	--symtab-mib 512 --zbomb-mib 1024 --zbomb-sections .debug_info,.debug_abbrev ||
	fail "elfbomb.py could not arm $T/sym_bomb"
info "sym_bomb: $(stat -c %s "$T/sym_bomb") bytes claimed, $(($(stat -c %b "$T/sym_bomb") * 512 / 1024)) KiB on disk"
readelf -SW "$T/sym_bomb" | grep -E ' \.(symtab|debug_info|debug_abbrev) ' | sed 's/^/    /'

agent_start --profiling.frequency=$HZ
curl -fsS -m 10 -o "$T/m0" "$AGENT_URL/metrics" || fail "GET /metrics failed"
tb0=$(metric_val "$T/m0" stackd_symbolize_objects_too_big_total)
rb0=$(metric_val "$T/m0" stackd_symbolize_too_big_refused_bytes_total)
hwm0=$(awk '/^VmHWM:/ { print $2 }' "/proc/$AGENT_PID/status")
info "agent VmHWM before the bomb: $((hwm0 / 1024)) MB"

e2e_bg sym_bomb "$T/sym_bomb" $((WINDOW + 6))
fx=$BG_PID
sleep 1
sym_fetch p "$WINDOW"
kill -0 "$AGENT_PID" 2>/dev/null || fail "the agent died while profiling the bomb"
curl -fsS -m 10 -o "$T/m1" "$AGENT_URL/metrics" || fail "GET /metrics failed after the bomb"
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$AGENT_PID/status")
rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$AGENT_PID/status")
info "agent VmHWM after the bomb: $((hwm / 1024)) MB (VmRSS now $((rss / 1024)) MB)"
scheck "$((hwm < RSS_BOUND_KB))" "agent peak RSS $((hwm / 1024)) MB < $((RSS_BOUND_KB / 1024)) MB"

tb=$(metric_val "$T/m1" stackd_symbolize_objects_too_big_total)
rb=$(metric_val "$T/m1" stackd_symbolize_too_big_refused_bytes_total)
info "too big: objects $tb0 -> $tb, refused bytes $rb0 -> $rb"
scheck "$(awk -v a="$tb0" -v b="$tb" 'BEGIN { print (b - a >= 2) }')" \
	"stackd_symbolize_objects_too_big_total rose by >= 2 (symbols at priming, DWARF at the profile)"
scheck "$(awk -v a="$rb0" -v b="$rb" 'BEGIN { print (b - a >= 2^30) }')" \
	"stackd_symbolize_too_big_refused_bytes_total rose by >= 1 GiB"
info "frames left unsymbolized: $(grep '^stackd_symbolize_failures_total{' "$T/m1" | tr '\n' ' ')"

rc=0
e2e_reap "$fx" 30 || rc=$?
check "$((rc == 0))" "fixture sym_bomb exited with status $rc"
n=$(sym_pid_samples "$T/p" "$fx")
# The machine may be busy: what matters is that the samples are there.
scheck "$((n >= 5))" "sym_bomb (pid $fx): $n samples at $HZ Hz over $WINDOW s (want >= 5)"
sym_leaf_lines "$T/p" "$fx" >"$T/leaves"
info "sym_bomb: heaviest leaf locations (samples, location, address, mapping, Lines):"
head -n 3 "$T/leaves" | sed 's/^/    /'
m=$(head -n1 "$T/leaves" | cut -f4)
mapping=$(awk -F'\t' -v m="$m" '$1 == m { print $5 " " $6 " " $7 }' "$T/p.maps")
info "sym_bomb: mapping of the heaviest leaf: $mapping"
scheck "$([[ $mapping == *sym_bomb* ]] && echo 1 || echo 0)" \
	"sym_bomb's heaviest leaf is in its own mapping (module + address)"
named=$(awk -F'\t' '$5 ~ /^sym_chain_/ { c += $1 } END { print c + 0 }' "$T/leaves")
scheck "$((named == 0))" "no leaf named from the refused .symtab ($named samples named; want raw addresses)"
agent_stop
sym_done "a 512 MiB .symtab and two 1 GiB zlib bombs cost the agent $((hwm / 1024)) MB peak RSS"
