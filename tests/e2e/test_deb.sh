#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The .deb: CPack builds it from the test's build tree, it carries what it should, dpkg
# installs it on this machine, the installed unit passes systemd-analyze verify, the installed
# binary runs, and dpkg removes and purges it again, leaving the machine as it was.
#
#   needs:   root (dpkg -i), cpack, dpkg-deb, dpkg-shlibdeps (dpkg-dev), systemd-analyze
#            (package systemd); not BPF. STACKD_BUILD_DIR (ctest sets it) = a configured and
#            built tree.
#   refuses: to run when a stackd package or any file it would install already exists (it
#            would overwrite someone's install): skip, or fail under CI=true.
#   checks:  control fields (name, version, section, maintainer, Depends computed by
#            dpkg-shlibdeps: libbpf1, libelf1, libmicrohttpd12, ... with versions), conffiles;
#            the file list (exactly the expected paths, nothing from the build tree);
#            systemd-analyze verify of the unit, extracted (--root) and installed (real path),
#            with no output at all (verify only warns, exit 0, on unknown or bad settings);
#            /etc/default/stackd's STACKD_OPTS are flags the binary accepts;
#            stackd --version from /usr/bin; dpkg -r keeps the conffile, dpkg -P removes it.
# shellcheck disable=SC2119 # lib.sh helpers take optional arguments
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $(id -u) == 0 ]] || skip_or_fail "not root (uid $(id -u)); dpkg -i needs root"
e2e_require_cmd cpack dpkg dpkg-deb dpkg-shlibdeps systemd-analyze
BUILD=${STACKD_BUILD_DIR:-$(dirname "$STACKD_BIN")}
[[ -f $BUILD/CPackConfig.cmake ]] || fail "no CPackConfig.cmake in STACKD_BUILD_DIR=$BUILD (configure it first)"

version=$("$STACKD_BIN" --version | awk '{print $2}')
arch=$(dpkg --print-architecture)
unit=/lib/systemd/system/stackd.service
expected=(
	/etc/default/stackd
	/lib/systemd/system/stackd.service
	/usr/bin/stackd
	/usr/share/doc/stackd/ARCHITECTURE.md
	/usr/share/doc/stackd/README.md
)
[[ -x $(dirname "$STACKD_BIN")/stackd-symbolize ]] && expected+=(/usr/bin/stackd-symbolize)
mapfile -t expected < <(printf '%s\n' "${expected[@]}" /usr/share/doc/stackd/DEPLOYING.md | sort)

# ------------------------------------------------------------ the machine as it is
if dpkg-query -W -f='${Status}' stackd 2>/dev/null | grep -c 'installed\|config-files' >/dev/null; then
	skip_or_fail "a stackd package is already on this machine ($(dpkg-query -W -f='${Version} ${Status}' stackd)); refusing to replace it"
fi
for f in "${expected[@]}"; do
	[[ ! -e $f ]] || skip_or_fail "$f already exists and is not from a stackd package; refusing to overwrite it"
done

INSTALLED=0
deb_cleanup()
{
	local rc=$?
	if ((INSTALLED)); then
		printf '[%s] cleanup: dpkg --purge stackd\n' "$E2E_NAME" >&2
		dpkg_retry --purge stackd >/dev/null 2>&1 || true
	fi
	return "$rc"
}
trap 'deb_cleanup; e2e_cleanup' EXIT

# dpkg ARGS: dpkg, waiting (bounded) while another dpkg/apt holds the lock.
dpkg_retry()
{
	local i out rc
	for ((i = 0; i < 60; i++)); do
		rc=0
		out=$(dpkg "$@" 2>&1) || rc=$?
		if ((rc != 0)) && grep -q 'lock' <<<"$out"; then
			sleep 1
			continue
		fi
		printf '%s\n' "$out"
		return "$rc"
	done
	printf '%s\n' "$out"
	return "$rc"
}

# verify_clean LABEL ARGS...: systemd-analyze verify ARGS must exit 0 and print nothing.
verify_clean()
{
	local label=$1 out rc=0
	shift
	out=$(SYSTEMD_LOG_COLOR=0 systemd-analyze verify "$@" 2>&1) || rc=$?
	if ((rc != 0)) || [[ -n $out ]]; then
		fail "systemd-analyze verify $label: exit $rc, output: ${out:-<none>}"
	fi
	info "ok: systemd-analyze verify $label: exit 0, no warnings"
}

# ---------------------------------------------------------------- build it
info "cpack -G DEB from $BUILD (stackd $version, $arch)"
cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$T/cpack" >"$T/cpack.log" 2>&1 ||
	{ tail -n 30 "$T/cpack.log" >&2; fail "cpack -G DEB failed (log above)"; }
mapfile -t debs < <(find "$T/cpack" -maxdepth 1 -name '*.deb')
check "$((${#debs[@]} == 1))" "cpack made one .deb: ${debs[*]##*/}"
deb=${debs[0]}
check "$([[ ${deb##*/} == "stackd_${version}_${arch}.deb" ]] && echo 1)" \
	"file name ${deb##*/} is stackd_${version}_${arch}.deb"

# ------------------------------------------------------------ control data
field() { dpkg-deb -f "$deb" "$1"; }
check "$([[ $(field Package) == stackd ]] && echo 1)" "Package: $(field Package)"
check "$([[ $(field Version) == "$version" ]] && echo 1)" "Version: $(field Version)"
check "$([[ $(field Architecture) == "$arch" ]] && echo 1)" "Architecture: $(field Architecture)"
check "$([[ $(field Section) == admin ]] && echo 1)" "Section: $(field Section)"
check "$([[ $(field Maintainer) == *@* ]] && echo 1)" "Maintainer: $(field Maintainer)"
check "$([[ -n $(field Description) ]] && echo 1)" "Description: $(field Description | head -n 1)"
depends=$(field Depends)
info "Depends: $depends"
# From dpkg-shlibdeps, so each comes with a version from the shlibs/symbols files.
for lib in libc6 libbpf1 libelf1 libmicrohttpd12 libprotobuf-c1 libdwarf1 zlib1g; do
	check "$(grep -Eq "(^|, )$lib( \(>= [^)]+\))?(,|$)" <<<"$depends" && echo 1)" "Depends has $lib"
done
check "$(grep -q 'libbpf1 (>=' <<<"$depends" && echo 1)" "Depends are versioned (dpkg-shlibdeps ran)"
dpkg-deb -e "$deb" "$T/control"
check "$([[ $(cat "$T/control/conffiles") == /etc/default/stackd ]] && echo 1)" \
	"conffiles: $(tr '\n' ' ' <"$T/control/conffiles")"
for s in postinst prerm postrm; do
	check "$([[ -x $T/control/$s ]] && sh -n "$T/control/$s" && echo 1)" "$s is executable sh"
done

# ----------------------------------------------------------------- contents
dpkg-deb -c "$deb" >"$T/contents.txt"
mapfile -t files < <(awk '$1 !~ /^d/ { p = $6; sub(/^\./, "", p); print p }' "$T/contents.txt" | sort)
if [[ "${files[*]}" != "${expected[*]}" ]]; then
	diff <(printf '%s\n' "${expected[@]}") <(printf '%s\n' "${files[@]}") >&2 || true
	fail "package files differ from the expected list (diff above: < expected, > in the .deb)"
fi
info "ok: files are exactly: ${files[*]}"
check "$(awk '$6 == "./usr/bin/stackd" && $1 == "-rwxr-xr-x" && $2 == "root/root" { ok = 1 } END { print ok + 0 }' "$T/contents.txt")" \
	"/usr/bin/stackd is -rwxr-xr-x root/root"
check "$(awk '$6 == "./lib/systemd/system/stackd.service" && $1 == "-rw-r--r--" { ok = 1 } END { print ok + 0 }' "$T/contents.txt")" \
	"the unit is -rw-r--r--"

# ------------------------------------------- the unit, extracted, before installing
# --root needs the units the service depends on (sysinit.target, ...): the host's, copied.
dpkg-deb -x "$deb" "$T/root"
cp -a -n /lib/systemd/system/. "$T/root/lib/systemd/system/"
verify_clean "--root=<extracted .deb> stackd.service" --root="$T/root" stackd.service
# A unit whose ExecStart binary is missing must fail: the check above is not vacuous.
rm "$T/root/usr/bin/stackd"
rc=0
systemd-analyze verify --root="$T/root" stackd.service >"$T/verify-neg.txt" 2>&1 || rc=$?
check "$((rc != 0))" "verify fails without the binary (exit $rc: $(head -n 1 "$T/verify-neg.txt"))"

# ----------------------------------------------------------------- install
INSTALLED=1
out=$(dpkg_retry -i "$deb") || { printf '%s\n' "$out" >&2; fail "dpkg -i failed"; }
status=$(dpkg-query -W -f='${Status} ${Version}' stackd)
check "$([[ $status == "install ok installed $version" ]] && echo 1)" "dpkg -i: $status"
for f in "${expected[@]}"; do
	[[ -e $f ]] || fail "$f missing after dpkg -i"
	dpkg -S "$f" >/dev/null 2>&1 || fail "$f is not owned by the package (dpkg -S)"
done
info "ok: all ${#expected[@]} files installed and owned by stackd"
verify_clean "$unit (installed)" "$unit"
got=$(/usr/bin/stackd --version)
check "$([[ $got == "stackd $version "* ]] && echo 1)" "/usr/bin/stackd --version: $got"
if [[ -x /usr/bin/stackd-symbolize ]]; then
	/usr/bin/stackd-symbolize --help >/dev/null 2>&1 || /usr/bin/stackd-symbolize --version >/dev/null 2>&1 ||
		fail "/usr/bin/stackd-symbolize does not run"
	info "ok: /usr/bin/stackd-symbolize runs"
fi
# The unit passes $STACKD_OPTS from /etc/default/stackd: flags before --version are parsed and
# validated (exit 2 on a bad one) before --version prints.
# shellcheck disable=SC1091
opts=$(. /etc/default/stackd && printf '%s' "$STACKD_OPTS")
rc=0
# shellcheck disable=SC2086 # word splitting is what systemd does with $STACKD_OPTS
/usr/bin/stackd $opts --version >/dev/null 2>"$T/opts.err" || rc=$?
check "$((rc == 0))" "/etc/default/stackd STACKD_OPTS accepted by stackd: $opts (exit $rc $(cat "$T/opts.err"))"
# The unit's ExecStart, word for word.
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
check "$([[ $exec_start == '/usr/bin/stackd $STACKD_OPTS' ]] && echo 1)" "ExecStart=$exec_start"

# ----------------------------------------------------------- remove, purge
echo "# local edit" >>/etc/default/stackd
out=$(dpkg_retry -r stackd) || { printf '%s\n' "$out" >&2; fail "dpkg -r failed"; }
status=$(dpkg-query -W -f='${Status}' stackd 2>/dev/null || true)
check "$([[ $status == "deinstall ok config-files" ]] && echo 1)" "dpkg -r: $status"
check "$([[ -f /etc/default/stackd ]] && grep -q '# local edit' /etc/default/stackd && echo 1)" \
	"dpkg -r kept the edited conffile /etc/default/stackd"
for f in "${expected[@]}"; do
	[[ $f == /etc/default/stackd || ! -e $f ]] || fail "$f still there after dpkg -r"
done
out=$(dpkg_retry --purge stackd) || { printf '%s\n' "$out" >&2; fail "dpkg --purge failed"; }
INSTALLED=0
status=$(dpkg-query -W -f='${Status}' stackd 2>/dev/null || true)
check "$([[ -z $status || $status == "unknown ok not-installed" ]] && echo 1)" \
	"dpkg --purge: package gone (${status:-no record})"
for f in "${expected[@]}"; do
	[[ ! -e $f ]] || fail "$f still there after dpkg --purge"
done
[[ ! -e /usr/share/doc/stackd ]] || fail "/usr/share/doc/stackd left behind"
info "ok: no file of the package left"

pass "stackd_${version}_${arch}.deb: built, inspected, verified, installed, removed, purged"
