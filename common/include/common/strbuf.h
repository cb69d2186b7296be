/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A growable byte buffer with a hard cap (after curl's dynbuf, git's strbuf).
 *
 * Invariants: buf is NUL-terminated whenever it is non-NULL; len < cap;
 * len never exceeds max_sz. An append that would pass max_sz fails with
 * -ENOSPC and leaves the buffer unchanged. The buffer owns buf; strbuf_detach
 * hands it to the caller.
 */
#ifndef STACKD_COMMON_STRBUF_H
#define STACKD_COMMON_STRBUF_H

#include <stddef.h>

struct strbuf {
	char *buf;
	size_t len;
	size_t cap;
	size_t max_sz;
};

void strbuf_init(struct strbuf *sb, size_t max_sz);
void strbuf_free(struct strbuf *sb);
void strbuf_reset(struct strbuf *sb);
int strbuf_append(struct strbuf *sb, const void *data, size_t len);
int strbuf_appends(struct strbuf *sb, const char *s);
int strbuf_appendf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the buffer (caller frees) and leaves sb empty; *len_out may be NULL. */
char *strbuf_detach(struct strbuf *sb, size_t *len_out);

#endif
