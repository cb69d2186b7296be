#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# C++ symbolization through the real client: demangled names, inline frames
# and DWARF line numbers, as go tool pprof -symbolize=none reads them from the
# agent's profile (so nothing is pprof's own work).
#
#   fixture: tests/fixtures/sym_cpp.cc, clang++ -O2 -g -fno-omit-frame-pointer (PIE):
#            main -> stackd_fx::run_for -> stackd_fx::Burner<int>::spin (noinline)
#            with detail::mix_round and detail::scramble forced inline into spin
#   agent:   --profiling.frequency=99, one profile of 5 s while the fixture burns CPU
#   checks:  the fixture's samples are >= 25% of 99 Hz x 5 s (enough to judge);
#            names (-raw): Burner<int>::spin and run_for carry the demangled name as
#              Function.name (== c++filt of the symbol nm lists) and the mangled symbol as
#              system_name; no fixture Line has a mangled name; every mangled system_name
#              demangles (c++filt) to its Function.name;
#            inline (-raw): the heaviest leaf location has three Lines, innermost first:
#              scramble @ LINE:scramble_body, mix_round @ LINE:mix_calls_scramble,
#              Burner<int>::spin @ LINE:spin_calls_mix (lines from grep -n on the markers),
#              and that chain holds >= 50% of the fixture's samples;
#            oracle: the 5 heaviest leaf locations equal llvm-symbolizer --inlining on the
#              same address (names and file:line);
#            -traces -lines: a stack reads scramble (inline), mix_round (inline),
#              Burner<int>::spin, run_for @ LINE:run_calls_spin, main @ LINE:main_calls_run;
#            the fixture's mapping says [FN][FL][LN][IN].
# shellcheck disable=SC2119 # agent_start and friends take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/test_sym_lib.sh"

HZ=99
WINDOW=5
FIXTURE_CXX=${FIXTURE_CXX:-clang++}
e2e_require_bpf
e2e_require_cmd "$FIXTURE_CXX" go curl nm c++filt readelf llvm-symbolizer

src=$STACKD_SRC/tests/fixtures/sym_cpp.cc
bin=$T/sym_cpp
"$FIXTURE_CXX" -O2 -g -fno-omit-frame-pointer -Wall -o "$bin" "$src" ||
	fail "cannot build $src with $FIXTURE_CXX"
info "built $bin with $FIXTURE_CXX -O2 -g -fno-omit-frame-pointer"

# ---- what the answer must be, from the source and the binary (not from the agent)
L_scr=$(sym_marker_line "$src" scramble_body)
L_mix=$(sym_marker_line "$src" mix_calls_scramble)
L_spin=$(sym_marker_line "$src" spin_calls_mix)
L_run=$(sym_marker_line "$src" run_calls_spin)
L_main=$(sym_marker_line "$src" main_calls_run)
spin_mg=$(nm "$bin" | awk '$3 ~ /^_ZN9stackd_fx6BurnerIiE4spinE/ { print $3; exit }')
run_mg=$(nm "$bin" | awk '$3 ~ /^_ZN9stackd_fx7run_forE/ { print $3; exit }')
[[ -n $spin_mg && -n $run_mg ]] || fail "nm finds no Burner<int>::spin or run_for symbol in $bin"
spin_dm=$(c++filt "$spin_mg")
run_dm=$(c++filt "$run_mg")
scr_dm='stackd_fx::detail::scramble(unsigned long, int)'
mix_dm='stackd_fx::detail::mix_round(unsigned long, int)'
info "expected: $spin_dm ($spin_mg), $run_dm ($run_mg)"
info "expected lines: scramble_body=$L_scr mix_calls_scramble=$L_mix spin_calls_mix=$L_spin" \
	"run_calls_spin=$L_run main_calls_run=$L_main"

agent_start --profiling.frequency=$HZ

e2e_bg sym_cpp "$bin" $((WINDOW + 5))
fx=$BG_PID
info "fixture sym_cpp pid $fx running for $((WINDOW + 5)) s"
sleep 1
sym_fetch p "$WINDOW"
rc=0
e2e_reap "$fx" 30 || rc=$?
check "$((rc == 0))" "fixture exited with status $rc"

fx_samples=$(sym_pid_samples "$T/p" "$fx")
expected=$((HZ * WINDOW))
# Symbolization is what is tested here, not sample counts: a quarter of the
# ideal is plenty to judge it, and keeps a loaded machine from failing the test.
check "$((4 * fx_samples >= expected))" \
	"fixture samples $fx_samples vs $HZ Hz x $WINDOW s = $expected (want >= 25%)"

# The fixture's mapping (the executable segment of $bin).
read -r map_id map_start map_off map_flags < <(awk -F'\t' -v f="$bin" \
	'$5 == f || index($5, f " ") == 1 { print $1, $2, $4, $7; exit }' "$T/p.maps") || true
[[ -n ${map_id:-} ]] || fail "no mapping of $bin in the profile (mappings: $(cut -f5 "$T/p.maps" | tr '\n' ' '))"
info "fixture mapping M=$map_id start $map_start offset $map_off flags '$map_flags'"

# Lines of the locations the fixture's samples use, in its mapping.
awk -F'\t' -v pid="$fx" -v m="$map_id" '
	FILENAME ~ /\.samples$/ { if ($2 == pid) { n = split($4, l, " "); for (i = 1; i <= n; i++) used[l[i]] = 1 }; next }
	($1 in used) && $3 == m' "$T/p.samples" "$T/p.locs" >"$T/fx.locs"
info "fixture locations: $(cut -f1 "$T/fx.locs" | sort -u | wc -l), Lines: $(wc -l <"$T/fx.locs")"

# ---- names
spin_rows=$(awk -F'\t' -v n="$spin_dm" -v s="$spin_mg" '$5 == n && $6 == s' "$T/fx.locs" | wc -l)
spin_any=$(awk -F'\t' '$5 ~ /spin/ || $6 ~ /spin/ { print $5 " [system_name " $6 "]"; exit }' "$T/fx.locs")
scheck "$((spin_rows > 0))" \
	"Function.name '$spin_dm' with system_name '$spin_mg' on $spin_rows Lines (first spin Line seen: '$spin_any')"
run_rows=$(awk -F'\t' -v n="$run_dm" -v s="$run_mg" '$5 == n && $6 == s' "$T/fx.locs" | wc -l)
run_any=$(awk -F'\t' '$5 ~ /run_for/ || $6 ~ /run_for/ { print $5 " [system_name " $6 "]"; exit }' "$T/fx.locs")
scheck "$((run_rows > 0))" \
	"Function.name '$run_dm' with system_name '$run_mg' on $run_rows Lines (first run_for Line seen: '$run_any')"
mangled=$(awk -F'\t' '$5 ~ /^_Z/' "$T/fx.locs" | wc -l)
scheck "$((mangled == 0))" "fixture Lines whose Function.name is still mangled: $mangled (want 0)"
bad_dm=0
total_dm=0
while IFS=$'\t' read -r name sys; do
	total_dm=$((total_dm + 1))
	want=$(c++filt "$sys")
	if [[ $want != "$name" ]]; then
		bad_dm=$((bad_dm + 1))
		info "  system_name $sys demangles to '$want', Function.name is '$name'"
	fi
done < <(awk -F'\t' '$6 ~ /^_Z/ { print $5 "\t" $6 }' "$T/fx.locs" | sort -u)
scheck "$((total_dm > 0 && bad_dm == 0))" \
	"$total_dm distinct mangled system_names, $bad_dm whose c++filt differs from Function.name (want >0, 0)"

# ---- inline frames and lines: the heaviest leaf location
sym_leaf_lines "$T/p" "$fx" >"$T/leaves.tsv"
info "heaviest leaf locations of pid $fx (samples, location, address, mapping, Lines innermost first):"
head -n 5 "$T/leaves.tsv" | sed 's/^/    /'
[[ -s $T/leaves.tsv ]] || fail "pid $fx has no samples"
# The heaviest leaf whose innermost Line has a source line: a line-0 row is the compiler
# saying "no line here" (llvm-symbolizer says the same; the oracle below checks those).
IFS=$'\t' read -r top_n top_loc top_addr _ top_chain < <(awk -F'\t' '{
	split($5, part, / [|] /); if (part[1] !~ /:0$/) { print; exit } }' "$T/leaves.tsv") ||
	fail "pid $fx: every leaf location's innermost Line is line 0"
chain_exp="$scr_dm@sym_cpp.cc:$L_scr | $mix_dm@sym_cpp.cc:$L_mix | $spin_dm@sym_cpp.cc:$L_spin"
top_base=$(sym_basename_chain "${top_chain:-}")
nl_top=$(awk -F'\t' -v l="$top_loc" '$1 == l && $4 > 0' "$T/p.locs" | wc -l)
scheck "$((nl_top == 3))" "heaviest leaf location $top_loc ($top_addr, $top_n samples) has $nl_top Lines (want 3: scramble, mix_round, spin)"
for i in 1 2 3; do
	got=$(printf '%s\n' "$top_base" | awk -F' [|] ' -v i="$i" '{ print $i }')
	want=$(printf '%s\n' "$chain_exp" | awk -F' [|] ' -v i="$i" '{ print $i }')
	scheck "$([[ $got == "$want" ]] && echo 1 || echo 0)" "Line[$((i - 1))] of location $top_loc is '$got' (want '$want')"
done
chain_samples=$(awk -F'\t' -v want="$chain_exp" '{
	n = split($5, part, / \| /); s = ""
	for (i = 1; i <= n; i++) { p = part[i]; sub(/@.*\//, "@", p); s = s (i > 1 ? " | " : "") p }
	if (s == want) c += $1 } END { print c + 0 }' "$T/leaves.tsv")
scheck "$((2 * chain_samples >= fx_samples))" \
	"samples whose leaf is the full inline chain: $chain_samples of $fx_samples (want >= 50%)"

# ---- the oracle: llvm-symbolizer on the same addresses
oracle_bad=0
oracle_n=0
while IFS=$'\t' read -r n _ addr map chain; do
	[[ $map == "$map_id" ]] || continue
	va=$(sym_vaddr "$bin" "$map_start" "$map_off" "$addr") || fail "address $addr is in no PT_LOAD of $bin"
	# A line-0 row ("no source line") names no file that can be held
	# against anyone: compare function and line only there.
	want=$(sym_llvm_chain "$bin" "$va" | sed -E 's/@[^|@]*:0( \||$)/@?:0\1/g')
	got=$(sym_basename_chain "$chain" | sed -E 's/@[^|@]*:0( \||$)/@?:0\1/g')
	oracle_n=$((oracle_n + 1))
	if [[ $got != "$want" ]]; then
		oracle_bad=$((oracle_bad + 1))
		info "  $addr (vaddr $va, $n samples): agent '$got'"
		info "  $addr (vaddr $va):       llvm-symbolizer '$want'"
	fi
done < <(head -n 5 "$T/leaves.tsv")
scheck "$((oracle_n > 0 && oracle_bad == 0))" \
	"heaviest $oracle_n leaf locations: $oracle_bad differ from llvm-symbolizer --inlining (want 0)"

# ---- the client's view: go tool pprof -traces -lines
info "heaviest -traces -lines stack of pid $fx:"
sym_show_block "$T/p.blocks" "$fx"
traces_ok=$(awk -F'\t' -v pid="$fx" -v scr="$scr_dm" -v mix="$mix_dm" -v spin="$spin_dm" -v run="$run_dm" \
	-v ls="$L_scr" -v lm="$L_mix" -v lp="$L_spin" -v lr="$L_run" -v lmain="$L_main" '
	function is(fr, name, line, inl) {
		return index(fr, name " ") == 1 && index(fr, "sym_cpp.cc:" line) > 0 &&
			((fr ~ / \(inline\)$/) == inl)
	}
	$1 == pid && NF >= 8 && is($4, scr, ls, 1) && is($5, mix, lm, 1) && is($6, spin, lp, 0) &&
		is($7, run, lr, 0) && is($8, "main", lmain, 0) { n += $3 }
	END { print n + 0 }' "$T/p.blocks")
scheck "$((traces_ok > 0))" \
	"-traces -lines: $traces_ok samples read scramble:$L_scr (inline) <- mix_round:$L_mix (inline) <- spin:$L_spin <- run_for:$L_run <- main:$L_main"

# ---- mapping flags: without them pprof's default mode would re-symbolize from local files
for fl in FN FL LN IN; do
	scheck "$([[ $map_flags == *"[$fl]"* ]] && echo 1 || echo 0)" "fixture mapping has [$fl] (flags '$map_flags')"
done

sym_done "C++: demangled names, inline chain of 3 at $top_addr ($chain_samples of $fx_samples samples), lines agree with markers and llvm-symbolizer"
