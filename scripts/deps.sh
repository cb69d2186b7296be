#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install the Debian 12 packages stackd builds, runs and tests with.
# Usage: scripts/deps.sh [--test]   (--test adds the real clients the tests use)
set -euo pipefail
build_pkgs=(cmake make gcc clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libdwarf-dev
	libprotobuf-c-dev protobuf-c-compiler libmicrohttpd-dev pkg-config git
	libiberty-dev libyaml-dev libgnutls28-dev libcrypt-dev)
test_pkgs=(libcmocka-dev clang-format-14 libclang-rt-14-dev golang-go prometheus curl python3 bpftrace linux-perf
	procps g++ nodejs libc6-dbg binutils util-linux mount openssl apache2-utils
	dpkg-dev systemd wrk chromium chromium-driver rustc python3-yaml python3.11 python3.11-dev
	openjdk-17-jdk-headless)
pkgs=("${build_pkgs[@]}")
[ "${1:-}" = "--test" ] && pkgs+=("${test_pkgs[@]}")
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
echo "deps: installed ${#pkgs[@]} packages"
