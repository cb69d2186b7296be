#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Stack truth, shapes "deep qsort syscall threads": 30 frames deep through libc (qsort, read) and worker threads.
# See test_stack_shapes.sh (one agent run for these shapes' fixtures).
SHAPES=${SHAPES:-deep qsort syscall threads}
# shellcheck source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/test_stack_shapes.sh"
