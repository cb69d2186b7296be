#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install dependencies, build, and run stackd with its defaults
# (listening on 127.0.0.1:6061). Extra arguments go to stackd.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTACKD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
exec $sudo ./build/stackd "$@"
