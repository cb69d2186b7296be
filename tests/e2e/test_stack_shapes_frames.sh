#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Stack truth, shapes "bigframe signal": a 64 KiB frame and a signal frame.
# See test_stack_shapes.sh (one agent run for these shapes' fixtures).
SHAPES=${SHAPES:-bigframe signal}
# shellcheck source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/test_stack_shapes.sh"
