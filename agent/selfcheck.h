/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `stackd --check`: what the kernel supports and what stackd will be able to do on this
 * machine, one aligned line per check ("ok", "warn", "info" or "FAIL", a name, the
 * finding and, for a problem, the fix), then one verdict per feature. Only probes: no
 * program stays loaded, no perf event stays open, nothing is attached.
 */
#ifndef STACKD_AGENT_SELFCHECK_H
#define STACKD_AGENT_SELFCHECK_H

#include <stdio.h>

#include "config.h"

/* Prints the report to @out. Returns 0 when stackd can sample here, else -ENOTSUP. */
int selfcheck_report(const struct config *cfg, FILE *out);

#endif
