#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# deploy/kubernetes/daemonset.yaml against the agent: the manifest parses (every document),
# and every container-runtime state directory agent/procmeta.c reads the pod, namespace and
# container names from is mounted read-only at its own path from the same host path, so the
# labels the README promises appear in a DaemonSet pod. The directories are read from
# procmeta.c's state_source table, so neither side can change without the other.
# Usage: test_deploy_manifest.sh SOURCE_DIR
set -euo pipefail
src=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
manifest=$src/deploy/kubernetes/daemonset.yaml
procmeta=$src/agent/procmeta.c

if ! python3 -c 'import yaml' 2>/dev/null; then
	echo "python3 with PyYAML (Debian python3-yaml) is needed" >&2
	[[ ${CI:-} == true ]] && exit 1
	exit 77
fi

# The state directories: the string after the runtime in each state_source initializer.
dirs=$(awk '/^static const struct state_source src_/ { in_src = 1 }
	in_src && match($0, /"\/(run|var)\/[^"]*"/) { print substr($0, RSTART + 1, RLENGTH - 2); in_src = 0 }' \
	"$procmeta" | sort -u)
ndirs=$(printf '%s\n' "$dirs" | grep -c . || true)
if ((ndirs < 4)); then
	echo "FAIL: found $ndirs state directories in $procmeta (want >= 4): the parser is stale" >&2
	exit 1
fi

python3 - "$manifest" $dirs <<'PY'
import sys, yaml

manifest, dirs = sys.argv[1], sys.argv[2:]
with open(manifest) as f:
    docs = [d for d in yaml.safe_load_all(f) if d]
kinds = sorted(d.get("kind", "?") for d in docs)
print(f"{manifest}: {len(docs)} documents: {', '.join(kinds)}")
ds = [d for d in docs if d.get("kind") == "DaemonSet"]
if len(ds) != 1:
    sys.exit(f"FAIL: want one DaemonSet, found {len(ds)}")
spec = ds[0]["spec"]["template"]["spec"]
if spec.get("hostPID") is not True:
    sys.exit("FAIL: the DaemonSet must use hostPID: true")
volumes = {v["name"]: v for v in spec.get("volumes", [])}
(ctr,) = [c for c in spec["containers"] if c["name"] == "stackd"]
mounts = ctr.get("volumeMounts", [])
failed = False
for d in dirs:
    d = d.rstrip("/")
    # The closest mount at or above the directory (the agent reads d/<id>/...).
    cover = [m for m in mounts if d == m["mountPath"].rstrip("/")
             or d.startswith(m["mountPath"].rstrip("/") + "/")]
    if not cover:
        print(f"FAIL: {d} (procmeta.c) is not mounted into the stackd container")
        failed = True
        continue
    m = max(cover, key=lambda m: len(m["mountPath"]))
    v = volumes.get(m["name"], {})
    host = v.get("hostPath", {}).get("path", "").rstrip("/")
    problems = []
    if m.get("readOnly") is not True:
        problems.append("not readOnly")
    if host != m["mountPath"].rstrip("/"):
        problems.append(f"host path {host or '(none)'} != mountPath {m['mountPath']}")
    if v.get("hostPath", {}).get("type", "") not in ("", "DirectoryOrCreate", "Directory"):
        problems.append(f"hostPath type {v['hostPath']['type']}")
    if problems:
        print(f"FAIL: {d}: volume {m['name']}: {'; '.join(problems)}")
        failed = True
    else:
        print(f"ok: {d} <- hostPath {host} (volume {m['name']}, read-only)")
for m in mounts:
    if m.get("readOnly") is not True:
        print(f"FAIL: volumeMount {m['name']} ({m['mountPath']}) is writable")
        failed = True
sys.exit(1 if failed else 0)
PY
echo "PASS: the DaemonSet mounts all $ndirs runtime state directories procmeta.c reads, read-only"
