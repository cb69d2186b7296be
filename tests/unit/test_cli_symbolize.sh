#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# stackd-symbolize must print exactly what GNU addr2line prints.
#
# Usage: test_cli_symbolize.sh STACKD_SYMBOLIZE FIXTURE_DIR WORK_DIR
#
# Builds tests/unit/fixtures_cli with $CC (-O2 -g: two levels of inlining)
# and clang++ (mangled names), then, for every byte address of the
# fixtures' own functions plus a few unknown ones, compares the output of
# both tools byte for byte under several option sets, with addresses as
# arguments and on stdin; checks that stdin answers come before EOF
# (coprocess use), --debug-dir with a debug file split off by objcopy, the
# exit status on unusable files, and --pid on a live copy of the fixture
# against addr2line on the same addresses as ELF virtual addresses.
# Needs binutils (addr2line, nm, readelf, objcopy) and clang++.
#
# The fixtures avoid what stackd deliberately prints differently from
# addr2line: line discriminators (not in the symbolizer's frames), the
# DWARF 5 sequence-start file bug of binutils, and symbol aliases (the
# outermost name comes from the symbol table, as llvm-symbolizer does).
set -euo pipefail
trap '' PIPE # a tool that dies early is a failure to report, not a signal

BIN=$1
FX_DIR=$2
WORK=$3
CC=${CC:-cc}
CXX=${CXX:-clang++}

fails=0
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}
# ok WHAT FAILS_BEFORE: report WHAT as passed if no failure came since.
ok() {
	if [ "$fails" = "$2" ]; then
		echo "ok: $1"
	fi
}

rm -rf "$WORK"
mkdir -p "$WORK"
sleeper_pid=
cleanup() {
	if [ -n "$sleeper_pid" ]; then
		kill "$sleeper_pid" 2>/dev/null || true
		wait "$sleeper_pid" 2>/dev/null || true
	fi
}
trap cleanup EXIT

C_FX=$WORK/inline_chain
CXX_FX=$WORK/cxx_names
"$CC" -O2 -g -o "$C_FX" "$FX_DIR/inline_chain.c"
"$CXX" -O1 -g -o "$CXX_FX" "$FX_DIR/cxx_names.cpp"

# Every byte of the functions named by the regex (sized symbols only), in hex.
addrs_of() {
	local addr size type name a
	nm -S "$1" | while read -r addr size type name; do
		[ -n "$name" ] && [[ $type =~ ^[TtWw]$ ]] && [[ $name =~ $2 ]] || continue
		for ((a = 16#$addr; a < 16#$addr + 16#$size; a++)); do
			printf '%x\n' "$a"
		done
	done
}

# Addresses nothing or only the symbol table knows: "??:0" and "??:?" forms.
extra_addrs() {
	local start
	start=$(nm "$1" | awk '$3 == "_start" { print $1 }')
	printf '%s\n' 0 1 7fffffffffffffff ffffffffffffffff "$start"
}

addrs_of "$C_FX" '^(main|cli_fx_.*)$' >"$WORK/c.addrs"
extra_addrs "$C_FX" >>"$WORK/c.addrs"
addrs_of "$CXX_FX" '^(main|_ZN9stackd_fx.*)$' >"$WORK/cxx.addrs"
[ "$(wc -l <"$WORK/c.addrs")" -gt 100 ] || fail "too few fixture addresses: $(wc -l <"$WORK/c.addrs")"
# The fixture must really have inlined frames, or -i tests nothing.
addr2line -e "$C_FX" -i $(cat "$WORK/c.addrs") >"$WORK/inlines.check"
grep -q 'inline_chain\.h:' "$WORK/inlines.check" || fail "fixture has no inline frames from inline_chain.h"

# compare NAME FILE ADDR_FILE OPTIONS...: arguments and stdin, against addr2line.
compare() {
	local name=$1 exe=$2 addrs=$3
	shift 3
	local rc=0 before=$fails
	addr2line -e "$exe" "$@" $(cat "$addrs") >"$WORK/$name.want"
	"$BIN" -e "$exe" "$@" $(cat "$addrs") >"$WORK/$name.got" 2>"$WORK/$name.err" || rc=$?
	if [ "$rc" != 0 ]; then
		fail "$name: exit status $rc (args): $(head -c 300 "$WORK/$name.err")"
	elif ! diff -u "$WORK/$name.want" "$WORK/$name.got" >"$WORK/$name.diff"; then
		fail "$name (args) differs from addr2line:"$'\n'"$(head -n 30 "$WORK/$name.diff")"
	fi
	rc=0
	"$BIN" -e "$exe" "$@" <"$addrs" >"$WORK/$name.stdin.got" 2>"$WORK/$name.err" || rc=$?
	[ "$rc" = 0 ] || fail "$name: exit status $rc (stdin)"
	diff -u "$WORK/$name.want" "$WORK/$name.stdin.got" >"$WORK/$name.stdin.diff" ||
		fail "$name (stdin) differs from addr2line:"$'\n'"$(head -n 30 "$WORK/$name.stdin.diff")"
	ok "$name ($*)" "$before"
}

compare c_plain "$C_FX" "$WORK/c.addrs"
compare c_f "$C_FX" "$WORK/c.addrs" -f
compare c_i "$C_FX" "$WORK/c.addrs" -i
compare c_fi "$C_FX" "$WORK/c.addrs" -f -i
compare c_a "$C_FX" "$WORK/c.addrs" -a
compare c_afi "$C_FX" "$WORK/c.addrs" -a -f -i
compare c_p "$C_FX" "$WORK/c.addrs" -p
compare c_pi "$C_FX" "$WORK/c.addrs" -p -i
compare c_pafi "$C_FX" "$WORK/c.addrs" -p -a -f -i
compare c_sfi "$C_FX" "$WORK/c.addrs" -s -f -i
compare c_long "$C_FX" "$WORK/c.addrs" --addresses --functions --inlines --pretty-print --basenames
compare cxx_fi "$CXX_FX" "$WORK/cxx.addrs" -f -i
compare cxx_Cfi "$CXX_FX" "$WORK/cxx.addrs" -C -f -i
compare cxx_pCafi "$CXX_FX" "$WORK/cxx.addrs" -p -C -a -f -i

# Address spellings on stdin: 0x, upper case, blanks, empty and garbage lines,
# a line longer than addr2line's 100-byte fgets() buffer, no final newline.
before=$fails
first=$(head -n 1 "$WORK/c.addrs")
{
	printf '0x%s\n' "$first"
	printf '0X%s\n' "$(echo "$first" | tr a-f A-F)"
	printf '  \t%s\n\n' "$first"
	printf 'zz\n-1\n+10\n%s zz\n' "$first"
	printf '%0150d%s\n' 0 "$first"
	printf '%s' "$first"
} >"$WORK/odd.in"
addr2line -e "$C_FX" -a -f <"$WORK/odd.in" >"$WORK/odd.want"
"$BIN" -e "$C_FX" -a -f <"$WORK/odd.in" >"$WORK/odd.got" || fail "odd spellings: exit status $?"
diff -u "$WORK/odd.want" "$WORK/odd.got" || fail "odd address spellings differ from addr2line"
ok "address spellings on stdin" "$before"

# Coprocess: each answer must arrive while stdin is still open.
before=$fails
coproc SYM { "$BIN" -e "$C_FX" -f; }
# bash drops SYM once the coprocess exits: keep the fds and pid.
sym_in=${SYM[1]} sym_out=${SYM[0]} sym_pid=$SYM_PID
for a in "$first" 0; do
	want=$(addr2line -e "$C_FX" -f "$a" | head -n 1)
	if ! echo "$a" >&"$sym_in"; then
		fail "coprocess: exited early"
		break
	fi
	if ! read -r -t 10 got <&"$sym_out"; then
		fail "coprocess: no answer for $a (EOF, or nothing within 10 s)"
		break
	fi
	[ "$got" = "$want" ] || fail "coprocess: got '$got' for $a, want '$want'"
	read -r -t 10 _ <&"$sym_out" || fail "coprocess: no file:line for $a"
done
exec {sym_in}>&-
wait "$sym_pid" || fail "coprocess: exit status $?"
ok "coprocess answers before EOF" "$before"

# --debug-dir: DWARF from a separate debug file found by build id, for a
# binary stripped of it, must read as addr2line reads the unstripped one.
before=$fails
bid=$(readelf -n "$C_FX" | awk '/Build ID:/ { print $3; exit }')
if [ -z "$bid" ]; then
	fail "--debug-dir: fixture has no build id"
else
	mkdir -p "$WORK/debug/.build-id/${bid:0:2}"
	objcopy --only-keep-debug "$C_FX" "$WORK/debug/.build-id/${bid:0:2}/${bid:2}.debug"
	objcopy --strip-debug "$C_FX" "$WORK/stripped"
	addr2line -e "$C_FX" -f -i $(cat "$WORK/c.addrs") >"$WORK/debugdir.want"
	"$BIN" -e "$WORK/stripped" --debug-dir "$WORK/nowhere" --debug-dir "$WORK/debug" -f -i \
		$(cat "$WORK/c.addrs") >"$WORK/debugdir.got" || fail "--debug-dir: exit status $?"
	diff -u "$WORK/debugdir.want" "$WORK/debugdir.got" >"$WORK/debugdir.diff" ||
		fail "--debug-dir differs from addr2line:"$'\n'"$(head -n 30 "$WORK/debugdir.diff")"
	# Without it there is no DWARF to find: the lines must be unknown.
	"$BIN" -e "$WORK/stripped" --debug-dir "$WORK/nowhere" -f -i "$first" >"$WORK/nodebug.got" ||
		fail "no debug file: exit status $?"
	grep -q '^??:?$' "$WORK/nodebug.got" || fail "no debug file, yet: $(cat "$WORK/nodebug.got")"
fi
ok "--debug-dir" "$before"

# Unusable files: exit status 1 and a message, like addr2line.
expect_error() {
	local what=$1
	shift
	if "$BIN" "$@" 0 >"$WORK/err.out" 2>"$WORK/err.err"; then
		fail "$what: exit status 0"
	else
		rc=$?
		[ "$rc" = 1 ] || fail "$what: exit status $rc, want 1"
		[ -s "$WORK/err.err" ] || fail "$what: no message on stderr"
	fi
}
before=$fails
echo "not an ELF file" >"$WORK/text.txt"
head -c 64 "$C_FX" >"$WORK/truncated"
expect_error "missing file" -e "$WORK/does-not-exist"
expect_error "not ELF" -e "$WORK/text.txt"
expect_error "directory" -e "$WORK"
expect_error "truncated ELF" -e "$WORK/truncated"
expect_error "no such pid" --pid 2147483647
expect_error "unknown option" --no-such-option
ok "errors" "$before"

# --pid: runtime addresses of a live (PIE) fixture. Its first mapping (file
# offset 0) is where ELF address 0 is mapped.
before=$fails
"$C_FX" 9 &
sleeper_pid=$!
base=
for _ in $(seq 50); do
	base=$(awk -v p="$C_FX" '$6 == p && $3 == "00000000" { split($1, r, "-"); print r[1]; exit }' \
		"/proc/$sleeper_pid/maps" 2>/dev/null || true)
	[ -n "$base" ] && break
	sleep 0.1
done
[ -n "$base" ] || fail "--pid: fixture $sleeper_pid has no mapping of $C_FX"
addrs_of "$C_FX" '^(main|cli_fx_.*)$' >"$WORK/pid.vaddrs"
while read -r a; do
	printf '%x\n' $((16#$base + 16#$a))
done <"$WORK/pid.vaddrs" >"$WORK/pid.addrs"
addr2line -e "$C_FX" -f -i $(cat "$WORK/pid.vaddrs") >"$WORK/pid.want"
"$BIN" --pid "$sleeper_pid" -f -i $(cat "$WORK/pid.addrs") >"$WORK/pid.got" ||
	fail "--pid: exit status $?"
diff -u "$WORK/pid.want" "$WORK/pid.got" >"$WORK/pid.diff" ||
	fail "--pid differs from addr2line on ELF addresses:"$'\n'"$(head -n 30 "$WORK/pid.diff")"
# --return-addresses looks up address - 1.
second=$(sed -n 2p "$WORK/pid.addrs")
want=$(addr2line -e "$C_FX" -f -i "$first")
got=$("$BIN" --pid "$sleeper_pid" -f -i --return-addresses "$second") ||
	fail "--return-addresses: exit status $?"
[ "$got" = "$want" ] || fail "--return-addresses: got '$got', want '$want'"
ok "--pid" "$before"

if [ "$fails" -ne 0 ]; then
	echo "$fails failure(s); outputs in $WORK" >&2
	exit 1
fi
echo "all ok"
