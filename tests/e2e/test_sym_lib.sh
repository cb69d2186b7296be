# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
#
# Helpers shared by the symbolization e2e tests (test_sym_*.sh). Not a test:
# sourced after lib.sh, it only defines functions.
#
#   sym_fetch NAME SECONDS
#       go tool pprof -symbolize=none fetches the agent's profile once and
#       saves it as $T/NAME.pb.gz; then, from that one file:
#         $T/NAME.raw        go tool pprof -raw
#         $T/NAME.traces     go tool pprof -sample_index=samples -traces -lines
#         $T/NAME.locs       one row per pprof Line (TSV, see sym_raw_tables)
#         $T/NAME.samples    one row per sample
#         $T/NAME.maps       one row per mapping
#         $T/NAME.blocks     one row per -traces block (see sym_traces_blocks)
#       -symbolize=none matters: pprof must show what the agent served, not
#       what pprof could work out from the local binaries itself (it would
#       also demangle names on its own).
#
# TSV layouts (tab-separated; empty fields are empty strings):
#   locs:    LOC  ADDR  MAP  IDX  NAME  SYSTEM_NAME  FILE  LINE
#            IDX 1 is the innermost Line of the location; a location without
#            Lines has one row with IDX 0 and empty NAME..LINE ("??" lines,
#            a Line without a Function, have NAME "??").
#   samples: COUNT  PID  COMM  LOC LOC ...   (leaf first; "-" for a missing label)
#   maps:    MAP  START  LIMIT  OFFSET  FILE  BUILD_ID  FLAGS   (FLAGS as "[FN][LN]..")
#   blocks:  PID  COMM  COUNT  FRAME  FRAME ...   (-traces -lines frames, leaf first,
#            each "name file:line" as pprof prints it)

[[ ${BASH_SOURCE[0]} != "$0" ]] || {
	echo "test_sym_lib.sh holds helpers for test_sym_*.sh; it is not a test" >&2
	exit 0
}

# sym_raw_tables RAW PREFIX: parse go tool pprof -raw output into PREFIX.{locs,samples,maps}.
sym_raw_tables()
{
	awk -v locs="$2.locs" -v samples="$2.samples" -v maps="$2.maps" '
	function emit(loc, idx, s,    name, sys, file, line, p) {
		name = ""; sys = ""; file = ""; line = ""
		if (idx > 0 && s == "??") name = "??"
		else if (idx > 0) {
			# "NAME FILE:LINE s=START" or "... s=START(SYSTEM_NAME)" (go 1.19 pprof);
			# newer pprof prints FILE:LINE:COLUMN.
			if (match(s, / s=-?[0-9]+(\(.*\))?$/)) {
				p = substr(s, RSTART + 1)
				s = substr(s, 1, RSTART - 1)
				if (match(p, /\(.*\)$/)) sys = substr(p, RSTART + 1, RLENGTH - 2)
			}
			if (match(s, /(^| )[^ ]*:-?[0-9]+(:-?[0-9]+)?$/)) {
				file = substr(s, RSTART); sub(/^ /, "", file)
				s = substr(s, 1, RSTART - 1)
				if (file ~ /:-?[0-9]+:-?[0-9]+$/) sub(/:-?[0-9]+$/, "", file) # a column goes
				line = file; sub(/.*:/, "", line); sub(/:-?[0-9]+$/, "", file)
			}
			name = s
			if (sys == "") sys = name
		}
		printf "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", loc, addr[loc], lmap[loc], idx, name, sys, file, line > locs
	}
	/^Samples:$/   { sec = "hdr"; next }
	/^Locations$/  { sec = "locs"; next }
	/^Mappings$/   { sec = "maps"; next }
	sec == "hdr" {
		si = 1
		n = split($0, st, " ")
		for (i = 1; i <= n; i++) if (st[i] ~ /^samples\/count/) si = i
		sec = "samples"
		next
	}
	sec == "samples" {
		if ($0 ~ /^( +-?[0-9]+)+: /) {
			ns++
			p = index($0, ":")
			split(substr($0, 1, p - 1), v, " ")
			cnt[ns] = v[si]
			ids[ns] = substr($0, p + 1); gsub(/^ +| +$/, "", ids[ns])
			pid[ns] = "-"; comm[ns] = "-"
			next
		}
		if (match($0, /(^| )pid:\[-?[0-9]+/)) {
			s = substr($0, RSTART, RLENGTH); sub(/.*pid:\[/, "", s); pid[ns] = s
		}
		if (match($0, /(^| )comm:\[[^]]*\]/)) {
			s = substr($0, RSTART, RLENGTH); sub(/.*comm:\[/, "", s); sub(/\]$/, "", s); comm[ns] = s
		}
		next
	}
	sec == "locs" {
		if (match($0, /^ *[0-9]+: 0x[0-9a-fA-F]+ /)) {
			split($0, f, " ")
			cur = f[1]; sub(/:$/, "", cur)
			addr[cur] = f[2]; lmap[cur] = ""; idx = 0
			rest = substr($0, RLENGTH + 1)
			if (match(rest, /^M=[0-9]+ ?/)) {
				lmap[cur] = substr(rest, 3, RLENGTH - 2); sub(/ $/, "", lmap[cur])
				rest = substr(rest, RLENGTH + 1)
			}
			sub(/^\[F\] ?/, "", rest)
			if (rest == "") emit(cur, 0, "")
			else emit(cur, ++idx, rest)
		} else if (cur != "") {
			rest = $0; sub(/^ +/, "", rest)
			if (rest != "") emit(cur, ++idx, rest)
		}
		next
	}
	sec == "maps" {
		if (!match($0, /^[0-9]+: 0x[0-9a-fA-F]+\/0x[0-9a-fA-F]+\/0x[0-9a-fA-F]+ /)) next
		hd = substr($0, 1, RLENGTH - 1); rest = substr($0, RLENGTH + 1)
		split(hd, f, /[ \/]/)
		id = f[1]; sub(/:$/, "", id)
		# "FILE BUILD_ID FLAGS" (go 1.19: "%s %s %s"), BUILD_ID and FLAGS possibly empty.
		flags = ""
		if (match(rest, / (\[[A-Z]+\])*$/)) {
			flags = substr(rest, RSTART + 1)
			rest = substr(rest, 1, RSTART - 1)
		}
		bid = ""
		if (match(rest, / [0-9a-fA-F]*$/)) {
			bid = substr(rest, RSTART + 1); rest = substr(rest, 1, RSTART - 1)
		}
		printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", id, f[2], f[3], f[4], rest, bid, flags > maps
		next
	}
	END {
		for (i = 1; i <= ns; i++)
			printf "%s\t%s\t%s\t%s\n", cnt[i], pid[i], comm[i], ids[i] > samples
	}' "$1"
	touch "$2.locs" "$2.samples" "$2.maps"
}

# sym_traces_blocks TRACES: go tool pprof -traces output -> blocks TSV on stdout.
# Blocks are separated by "-----------+---"; label lines are "%10s:  value",
# frame lines "%10s   name" (the value only on the leaf line).
sym_traces_blocks()
{
	awk '
	function flush(   i, out) {
		if (nf > 0) {
			out = (("pid" in lab) ? lab["pid"] : "-") "\t" (("comm" in lab) ? lab["comm"] : "-") "\t" cnt
			for (i = 1; i <= nf; i++) out = out "\t" fr[i]
			print out
		}
		nf = 0; delete lab; cnt = 0
	}
	/^-----------\+/ { flush(); inb = 1; next }
	!inb { next }
	substr($0, 11, 3) == ":  " { k = substr($0, 1, 10); gsub(/ /, "", k); lab[k] = substr($0, 14); next }
	substr($0, 11, 3) == "   " {
		v = substr($0, 1, 10); gsub(/ /, "", v); if (v != "") cnt = v + 0
		fr[++nf] = substr($0, 14); next
	}
	END { flush() }' "$1"
}

# sym_fetch NAME SECONDS: one profile through go tool pprof, then its views (see above).
sym_fetch()
{
	local name=$1 secs=$2 rc=0 url
	url="$AGENT_URL/debug/pprof/profile?seconds=$secs"
	info "fetching $url with go tool pprof -symbolize=none -proto"
	e2e_pprof_bg "$name.fetch" -symbolize=none -proto "$url"
	e2e_reap "$BG_PID" 120 || rc=$?
	if ((rc != 0)); then
		cat "$T/$name.fetch.err" >&2
		fail "go tool pprof -proto $url exited with status $rc"
	fi
	mv "$T/$name.fetch.txt" "$T/$name.pb.gz"
	e2e_pprof -symbolize=none -raw "$T/$name.pb.gz" >"$T/$name.raw" 2>"$T/$name.raw.err" ||
		fail "go tool pprof -raw $T/$name.pb.gz failed: $(head -c 400 "$T/$name.raw.err")"
	e2e_pprof -symbolize=none -sample_index=samples -traces -lines "$T/$name.pb.gz" \
		>"$T/$name.traces" 2>"$T/$name.traces.err" ||
		fail "go tool pprof -traces -lines $T/$name.pb.gz failed: $(head -c 400 "$T/$name.traces.err")"
	sym_raw_tables "$T/$name.raw" "$T/$name"
	sym_traces_blocks "$T/$name.traces" >"$T/$name.blocks"
	info "ok: go tool pprof read the profile: $(wc -l <"$T/$name.samples") samples rows," \
		"$(cut -f1 "$T/$name.locs" | sort -u | wc -l) locations, $(wc -l <"$T/$name.blocks") -traces blocks"
}

# sym_pid_samples PREFIX PID: total sample count of PID.
sym_pid_samples()
{
	awk -F'\t' -v pid="$2" '$2 == pid { n += $1 } END { print n + 0 }' "$1.samples"
}

# sym_marker_line FILE MARKER: the line number of "// LINE:MARKER" at the end of a line.
sym_marker_line()
{
	local n
	n=$(grep -n -E "// LINE:$2\$" "$1" | cut -d: -f1)
	[[ $n =~ ^[0-9]+$ ]] || fail "marker LINE:$2 not found exactly once in $1 (got '$n')"
	echo "$n"
}

# sym_leaf_lines PREFIX PID: for each leaf location of PID's samples, weighted
# by samples: COUNT LOC ADDR MAP then its Lines "name@file:line" joined by " | "
# (innermost first), heaviest first.
sym_leaf_lines()
{
	awk -F'\t' -v pid="$2" '
	FILENAME ~ /\.locs$/ {
		addr[$1] = $2; map[$1] = $3
		if ($4 > 0) ln[$1] = (ln[$1] == "" ? "" : ln[$1] " | ") $5 "@" $7 ":" $8
		next
	}
	$2 == pid { split($4, l, " "); w[l[1]] += $1 }
	END { for (k in w) printf "%d\t%s\t%s\t%s\t%s\n", w[k], k, addr[k], map[k], ln[k] }' \
		"$1.locs" "$1.samples" | sort -t"$(printf '\t')" -k1,1nr
}

# sym_show_block BLOCKS PID [PATTERN]: print the heaviest -traces block of PID
# (whose frames match PATTERN, an awk regex) for the log, one frame per line.
sym_show_block()
{
	awk -F'\t' -v pid="$2" -v pat="${3:-}" '
	$1 == pid && (pat == "" || $0 ~ pat) && $3 + 0 > best { best = $3 + 0; row = $0 }
	END {
		if (row == "") { print "    (no -traces block of pid " pid ")"; exit }
		n = split(row, f, "\t")
		printf "    %s samples, comm %s:\n", f[3], f[2]
		for (i = 4; i <= n; i++) printf "      %s\n", f[i]
	}' "$1"
}

# sym_vaddr BIN MAP_START MAP_OFFSET ADDR: the ELF virtual address (as
# addr2line and llvm-symbolizer take it) of runtime ADDR in a mapping of BIN
# that starts at MAP_START with file offset MAP_OFFSET (all hex or decimal).
sym_vaddr()
{
	local off typ o v _p fs
	off=$(($4 - $2 + $3))
	while read -r typ o v _p fs _; do
		[[ $typ == LOAD ]] || continue
		if ((off >= o && off < o + fs)); then
			printf '0x%x\n' $((off - o + v))
			return 0
		fi
	done < <(readelf -lW "$1")
	return 1
}

# sym_llvm_chain FILE VADDR: llvm-symbolizer's frames for VADDR in FILE (an ELF
# with DWARF: the binary or its debug file), innermost first, as
# "name@basename:line" joined by " | ": the oracle the agent is compared with.
sym_llvm_chain()
{
	llvm-symbolizer --obj="$1" --inlining --functions=linkage --demangle "$2" | awk '
		NF == 0 { next }
		fn == "" { fn = $0; next }
		{ loc = $0; sub(/:[0-9]+$/, "", loc)   # the column
		  line = loc; sub(/.*:/, "", line); file = loc; sub(/:[0-9]+$/, "", file); sub(/.*\//, "", file)
		  out = out (out == "" ? "" : " | ") fn "@" file ":" line; fn = "" }
		END { print out }'
}

# sym_basename_chain CHAIN: "name@/dir/file:line | ..." -> "name@file:line | ..."
sym_basename_chain()
{
	printf '%s\n' "$1" | awk '{
		n = split($0, part, / \| /); out = ""
		for (i = 1; i <= n; i++) {
			s = part[i]; at = 0
			for (j = length(s); j > 0; j--) if (substr(s, j, 1) == "@") { at = j; break }
			if (at) { nm = substr(s, 1, at); f = substr(s, at + 1); sub(/.*\//, "", f); s = nm f }
			out = out (i > 1 ? " | " : "") s
		}
		print out }'
}

# scheck COND MESSAGE: like lib.sh's check, but a failure is recorded and the
# test goes on, so one run shows every symbolization check that fails;
# sym_done then fails the test if any did.
SYM_FAILED=()
scheck()
{
	if [[ $1 == 1 ]]; then
		printf '[%s] ok: %s\n' "$E2E_NAME" "$2"
	else
		printf '[%s] NOT OK: %s\n' "$E2E_NAME" "$2" >&2
		SYM_FAILED+=("$2")
	fi
}

# sym_done PASS_MESSAGE: pass, or fail listing the scheck failures.
sym_done()
{
	local m
	if ((${#SYM_FAILED[@]} > 0)); then
		printf '[%s] %d check(s) failed:\n' "$E2E_NAME" "${#SYM_FAILED[@]}" >&2
		for m in "${SYM_FAILED[@]}"; do
			printf '[%s]   - %s\n' "$E2E_NAME" "$m" >&2
		done
		fail "${#SYM_FAILED[@]} symbolization check(s) failed (first: ${SYM_FAILED[0]})"
	fi
	pass "$@"
}

# sym_perfmap_lookup MAP ADDR: the perf-map entry (START SIZE NAME) covering ADDR,
# the last one listed when several do (V8 reuses addresses), or nothing.
sym_perfmap_lookup()
{
	local start size name hit=""
	while read -r start size name; do
		[[ $start =~ ^[0-9a-fA-F]+$ && $size =~ ^[0-9a-fA-F]+$ ]] || continue
		if (($2 >= 0x$start && $2 < 0x$start + 0x$size)); then
			hit="$start $size $name"
		fi
	done <"$1"
	printf '%s\n' "$hit"
}

# sym_perfmap_report LEAVES MAP: for the 5 heaviest leaf locations, what the
# perf map (a copy taken while the process ran) says about their address.
sym_perfmap_report()
{
	local n addr chain hit
	while IFS=$'\t' read -r n _ addr _ chain; do
		hit=$(sym_perfmap_lookup "$2" "$addr")
		info "  leaf $addr ($n samples): agent '${chain}'; perf map: '${hit:-no entry}'"
	done < <(head -n 5 "$1")
}
