#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Regenerate bpf/vmlinux.h (x86_64) from the running kernel's BTF.
# CO-RE relocations make the committed header work on other kernels too.
set -euo pipefail
btf=${1:-/sys/kernel/btf/vmlinux}
out=$(dirname "$0")/../bpf/vmlinux.h
bpftool=$(command -v bpftool || echo /usr/sbin/bpftool)
[ -r "$btf" ] || { echo "no BTF at $btf (kernel built without CONFIG_DEBUG_INFO_BTF?)" >&2; exit 1; }
"$bpftool" btf dump file "$btf" format c > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out ($(wc -l < "$out") lines)"
