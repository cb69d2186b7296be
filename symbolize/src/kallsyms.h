/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel text symbols from /proc/kallsyms (private).
 *
 * Lines are "addr type name [module]". Only text symbols (t, T, w, W) are
 * kept, sorted by address; a symbol runs up to the next one. When
 * kptr_restrict hides addresses every line reads 0 and loading fails with
 * -ENODATA: the caller treats kernel symbols as unavailable. Names and
 * module names are borrowed from the table until kallsyms_free().
 */
#ifndef STACKD_SYMBOLIZE_KALLSYMS_H
#define STACKD_SYMBOLIZE_KALLSYMS_H

#include <stddef.h>
#include <stdint.h>

struct kallsyms;

/* No kernel function is this long: past it, an address is in a gap, not a symbol. */
#define KALLSYMS_MAX_SPAN (1u << 20)
#define KALLSYMS_MAX_FILE (256u << 20)

/* Parse kallsyms text (need not be NUL-terminated). 0, -ENODATA, -ENOMEM or -E2BIG. */
int kallsyms_parse(const char *text, size_t len, struct kallsyms **out);
/* Read and parse a kallsyms file (normally /proc/kallsyms). */
int kallsyms_load(const char *path, struct kallsyms **out);
void kallsyms_free(struct kallsyms *k);

/*
 * The symbol containing @addr: 0 or -ENOENT. *module is NULL for the core
 * kernel, else the module name without brackets.
 */
int kallsyms_lookup(const struct kallsyms *k, uint64_t addr, const char **name, const char **module,
		    uint64_t *start);
/* Lowest text address (0 when empty). */
uint64_t kallsyms_min_addr(const struct kallsyms *k);
size_t kallsyms_nr(const struct kallsyms *k);
size_t kallsyms_bytes(const struct kallsyms *k);

#endif
