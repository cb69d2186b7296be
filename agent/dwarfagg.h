/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Aggregation of DWARF-unwound samples between two drains.
 *
 * Samples whose stacks were copied to user space arrive one by one through
 * the ring buffer; once unwound they are counted here per (process, thread,
 * user ips, kernel ips), like the kernel counts frame-pointer samples, and
 * handed to the drain as neutral samples (sample.h) at the next drain. Bounded by
 * max_entries distinct stacks per drain; a sample beyond it is refused
 * (-ENOSPC) and the caller counts it.
 */
#ifndef STACKD_AGENT_DWARFAGG_H
#define STACKD_AGENT_DWARFAGG_H

#include <stddef.h>
#include <stdint.h>

#include "sample.h"

struct dwarfagg;

int dwarfagg_new(size_t max_entries, struct dwarfagg **out);
void dwarfagg_free(struct dwarfagg *d);
int dwarfagg_add(struct dwarfagg *d, uint32_t tgid, uint32_t pid, uint64_t start_boottime,
		 const uint64_t *uips, uint32_t unr, const uint64_t *kips, uint32_t knr);
/*
 * Calls @cb once per aggregated stack, then empties. The samples have
 * is_dwarf set, a stack state OK with ips or NONE without, and nothing
 * resolved; they are valid during the call only.
 */
void dwarfagg_flush(struct dwarfagg *d, void (*cb)(void *ctx, const struct sample *s), void *ctx);

#endif
