#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Check (default) or apply (--fix) the committed .clang-format on every C source and header
# tracked by git, except the generated bpf/vmlinux.h. CI runs the check: a file that is not
# formatted fails the suite, with the diff to apply.
# Usage: scripts/format.sh [--fix]
set -euo pipefail
cd "$(dirname "$0")/.."
cf=${CLANG_FORMAT:-clang-format-14}
command -v "$cf" >/dev/null || cf=clang-format
mapfile -t files < <(git ls-files '*.c' '*.h' | grep -v '^bpf/vmlinux\.h$')
if [ "${1:-}" = "--fix" ]; then
	"$cf" -i "${files[@]}"
	exit 0
fi
bad=0
for f in "${files[@]}"; do
	if ! "$cf" --dry-run -Werror "$f" >/dev/null 2>&1; then
		echo "format: $f is not formatted; scripts/format.sh --fix applies this:" >&2
		"$cf" "$f" | diff -u "$f" - | head -40 >&2 || true
		bad=$((bad + 1))
	fi
done
if ((bad)); then
	echo "format: $bad of ${#files[@]} files need scripts/format.sh --fix" >&2
	exit 1
fi
echo "format: ${#files[@]} files follow .clang-format ($("$cf" --version | grep -o 'version [0-9.]*'))"
