/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Function names of Go binaries from their pclntab (private).
 *
 * Go keeps a PC → function table (runtime.pclntab, section .gopclntab, or
 * .data.rel.ro.gopclntab in PIE builds) in every binary for its own
 * tracebacks, so it survives `strip` and `-ldflags=-s -w`. This reads the
 * functab of the Go 1.16/1.17 (magic 0xfffffffa), 1.18/1.19 (0xfffffff0)
 * and 1.20+ (0xfffffff1) layouts, little-endian, 64- or 32-bit pointers.
 * Older layouts (0xfffffffb) give -ENOTSUP. Binaries over 256 MiB of text
 * with several text sections are not handled (lookups past the first fail).
 *
 * A struct gopclntab is compact: (start, name) pairs sorted by address and a
 * name pool; the section is read once and not kept. Input is untrusted:
 * every offset is bounds-checked, counts and sizes are capped, bad input is
 * -EINVAL or -ENOEXEC, never a crash.
 */
#ifndef STACKD_SYMBOLIZE_GOPCLNTAB_H
#define STACKD_SYMBOLIZE_GOPCLNTAB_H

#include <stddef.h>
#include <stdint.h>

#include "budget.h"

#define GOPCLNTAB_MAX_SECTION (256u << 20)
#define GOPCLNTAB_MAX_FUNCS   (4u << 20)
#define GOPCLNTAB_MAX_NAME    4096 /* longer names are truncated */

/* Only load the table when the ELF file has no .symtab (a stripped binary). */
#define GOPCLNTAB_IF_STRIPPED (1u << 0)

struct gopclntab;

/*
 * Parse a pclntab image. @text_start is the ELF address of .text (what Go
 * 1.18+ entry offsets are relative to), or 0 to trust the table's header.
 */
int gopclntab_parse(const void *data, size_t len, uint64_t text_start, struct gopclntab **out);
/*
 * Find and parse the pclntab of the ELF file behind @fd (or in memory).
 * -ENOENT when it has none (or, with GOPCLNTAB_IF_STRIPPED, has a .symtab).
 */
int gopclntab_open_fd(int fd, unsigned flags, struct gopclntab **out);
int gopclntab_open_mem(const void *data, size_t len, unsigned flags, struct gopclntab **out);
/*
 * The two above within PARSE_BUDGET_DEFAULT; these charge @b before each
 * allocation (section headers, names, the section read whole, the function
 * table): -EFBIG when a charge does not fit.
 */
int gopclntab_open_fd_budget(int fd, unsigned flags, struct parse_budget *b,
			     struct gopclntab **out);
int gopclntab_open_mem_budget(const void *data, size_t len, unsigned flags, struct parse_budget *b,
			      struct gopclntab **out);
void gopclntab_free(struct gopclntab *t);

/* The function containing ELF address @vaddr: 0 or -ENOENT. @name borrowed. NULL-safe. */
int gopclntab_lookup(const struct gopclntab *t, uint64_t vaddr, const char **name, uint64_t *start);
size_t gopclntab_nr(const struct gopclntab *t);
size_t gopclntab_bytes(const struct gopclntab *t);

#endif
