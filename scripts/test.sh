#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install dependencies, build with warnings as errors, and run the whole test
# suite: unit tests, end-to-end tests (root + BPF), the unit tests again under
# ASan/UBSan, and the fuzz targets for a short budget.
# Under CI=true a test that cannot run (no root, no BPF) fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test
jobs=$(nproc)
fuzz_seconds=${STACKD_FUZZ_SECONDS:-20}

echo "== build (gcc, -Werror)"
cmake -S . -B build -DSTACKD_WERROR=ON >/dev/null
cmake --build build -j"$jobs"

echo "== unit and end-to-end tests"
ctest --test-dir build --output-on-failure

echo "== unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DSTACKD_WERROR=ON -DSTACKD_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	ctest --test-dir build-asan -L unit --output-on-failure

echo "== fuzz targets (${fuzz_seconds}s each)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DSTACKD_FUZZ=ON \
	-DSTACKD_FUZZ_SECONDS="$fuzz_seconds" >/dev/null
cmake --build build-fuzz -j"$jobs"
ctest --test-dir build-fuzz -L fuzz --output-on-failure

echo "== all tests passed"
