/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Function symbols, build id and load segments of one ELF object (private).
 *
 * An elfsym is one allocation: header, PT_LOAD table, symbols sorted by
 * address, and a pool holding their names. Nothing of the file stays open or
 * mapped after elfsym_open_*() returns. The file is untrusted (it comes from
 * a container): every offset and size is checked against the file, symbol
 * counts and name lengths are capped, and a malformed file gives -ENOEXEC
 * (not ELF / unsupported) or -EINVAL (corrupt), never a crash.
 *
 * Names returned by lookups are borrowed from the elfsym and live until
 * elfsym_free(). Later DWARF line tables slot in next to the symbols.
 *
 * Memory: every allocation sized by the file (libelf's section table, each
 * symbol and string table read whole, the symbol arrays) is charged to a
 * struct parse_budget first. A symbol table that does not fit is skipped
 * (the others are kept: "what symbols fit"); an object none of whose tables
 * fit still opens, with its load segments and build id and no symbols, and
 * elfsym_is_truncated() says so: its frames stay raw addresses.
 *
 * Identity: elfsym_digest() is a SHA-256 over what symbols and DWARF are
 * read from (headers, symbol and string tables, notes, and the contents of
 * .debug_*, .zdebug_*, *gopclntab and .gnu_debuglink), so two files with
 * the same build id but different contents are told apart.
 */
#ifndef STACKD_SYMBOLIZE_ELFSYM_H
#define STACKD_SYMBOLIZE_ELFSYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "budget.h"

struct elfsym;

/* Caps against hostile files; a real object stays far below them. */
#define ELFSYM_MAX_SYMS	    (4u << 20)
#define ELFSYM_MAX_NAME	    4096 /* longer names are truncated */
#define ELFSYM_MAX_POOL	    (128u << 20)
#define ELFSYM_MAX_LOADS    64
#define ELFSYM_MAX_BUILD_ID 64 /* bytes; longer notes are ignored */
#define ELFSYM_DIGEST_SZ    32 /* SHA-256 */

/* Parse the file behind @fd (read with pread, never mapped), within PARSE_BUDGET_DEFAULT. */
int elfsym_open_fd(int fd, struct elfsym **out);
/* Parse an in-memory image (tests, fuzzing); @data is not kept. */
int elfsym_open_mem(const void *data, size_t len, struct elfsym **out);
/* The same, charging @b (see above); -EFBIG only when not even the headers fit. */
int elfsym_open_fd_budget(int fd, struct parse_budget *b, struct elfsym **out);
int elfsym_open_mem_budget(const void *data, size_t len, struct parse_budget *b,
			   struct elfsym **out);
void elfsym_free(struct elfsym *e);

/* Lowercase hex GNU build id, "" when the object has none. */
const char *elfsym_build_id(const struct elfsym *e);
/* Translate a file offset to an ELF virtual address via PT_LOAD; -ENOENT if outside. */
int elfsym_file_to_vaddr(const struct elfsym *e, uint64_t off, uint64_t *vaddr);
/* The function containing @vaddr: 0, or -ENOENT. */
int elfsym_lookup(const struct elfsym *e, uint64_t vaddr, const char **name, uint64_t *start);
size_t elfsym_nr_syms(const struct elfsym *e);
/* Memory held, for the cache budget. */
size_t elfsym_bytes(const struct elfsym *e);
/* Whether a symbol table (or more) was left out because it did not fit the budget or a cap. */
bool elfsym_is_truncated(const struct elfsym *e);
/*
 * The content digest (ELFSYM_DIGEST_SZ bytes), or NULL when the object may
 * not be shared with another file (truncated, or its digest not computed).
 */
const unsigned char *elfsym_digest(const struct elfsym *e);

#endif
