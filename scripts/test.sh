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

echo "== format (.clang-format)"
scripts/format.sh

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

echo "== ThreadSanitizer: unit tests and the e2e tests of the HTTP and drain threads"
# gcc 12's TSan runtime cannot map its shadow with more than 28 bits of mmap ASLR (newer
# kernels default to 32 on x86-64): it dies with "unexpected memory mapping".
if [[ -w /proc/sys/vm/mmap_rnd_bits ]] && (($(cat /proc/sys/vm/mmap_rnd_bits) > 28)); then
	echo 28 >/proc/sys/vm/mmap_rnd_bits
fi
cmake -S . -B build-tsan -DSTACKD_WERROR=ON -DSTACKD_TSAN=ON >/dev/null
cmake --build build-tsan -j"$jobs"
# Stop at the first report (exit 66); tests/tsan.supp only names uninstrumented libraries.
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp"
ctest --test-dir build-tsan -L unit --output-on-failure
# The e2e tests whose agents serve HTTP while the drain thread runs (metrics, profiles,
# TLS/auth reloads, abuse, the crowd of held connections with suspended profiles and gone
# clients, the login throttle, history pages, privilege drop in every thread).
# Left out: tests whose bounds a 5-15x slower agent cannot meet and that add no thread
# (sampling ratios of the sym_*/unwind_*/cpu_chain/filter_bpf fixtures, web_load's latency,
# web_tls's 1 s scrape timeout, cpu_seconds' 5% accuracy, history_churn's RSS, which TSan's
# shadow doubles, lifecycle's 5 s exit bound, the .deb).
tsan_e2e='e2e\.(metrics|concurrent|http_errors|cli|privs|web_mtls|web_reload|web_abuse|web_crowd|web_login_throttle|labels_filters|history_exit|hostile_names)$'
ctest --test-dir build-tsan -L e2e -R "$tsan_e2e" --output-on-failure
unset TSAN_OPTIONS

echo "== fuzz targets (${fuzz_seconds}s each)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DSTACKD_FUZZ=ON \
	-DSTACKD_FUZZ_SECONDS="$fuzz_seconds" >/dev/null
cmake --build build-fuzz -j"$jobs"
ctest --test-dir build-fuzz -L fuzz --output-on-failure

echo "== all tests passed"
