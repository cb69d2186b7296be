#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Stack truth, shapes "cpp rust": C++ inline frames and Rust's runtime start.
# See test_stack_shapes.sh (one agent run for these shapes' fixtures).
SHAPES=${SHAPES:-cpp rust}
# shellcheck source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/test_stack_shapes.sh"
