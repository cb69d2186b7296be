/* SPDX-License-Identifier: Apache-2.0 */
/*
 * UTF-8 validation and repair (RFC 3629, Unicode 15 §3.9).
 *
 * Every string a process controls (comm, exe, cmdline, cgroup path, names from
 * runtime state files, function and file names from its binaries) ends up in
 * Prometheus label values and pprof string tables, and both consumers reject
 * invalid UTF-8: one bad byte in one label makes a whole scrape unparsable.
 * Valid means: shortest form only (no overlongs such as C0 80), no UTF-16
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequence.
 * U+0000 is valid; callers working on C strings never see it.
 *
 * Repair replaces each *maximal subpart* of an ill-formed sequence with one
 * U+FFFD (the W3C/WHATWG and Python practice): "\xe2\x82" followed by "a" is one
 * U+FFFD then "a"; a byte that cannot start any sequence (80..BF, C0, C1,
 * F5..FF) is one U+FFFD on its own. The repaired form of @n bytes therefore
 * takes at most 3 * @n bytes, repairing is idempotent and valid input comes
 * out unchanged.
 *
 * Pure functions over caller-owned memory: no allocation, thread-safe.
 */
#ifndef STACKD_COMMON_UTF8_H
#define STACKD_COMMON_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UTF8_REPLACEMENT     "\xef\xbf\xbd" /* U+FFFD */
#define UTF8_REPLACEMENT_LEN 3
#define UTF8_INVALID	     UINT32_MAX

/*
 * Decode the character at @s (at most @n bytes). Returns the bytes it takes:
 * 1..4, or 0 only when @n is 0. *@cp gets the code point, or UTF8_INVALID
 * when the returned bytes are a maximal ill-formed subpart.
 */
size_t utf8_decode(const void *s, size_t n, uint32_t *cp);

/* Is [@s, @s + @n) entirely valid UTF-8? */
bool utf8_is_valid(const void *s, size_t n);

/* Bytes the repaired form of [@s, @s + @n) takes, without a NUL. */
size_t utf8_sanitized_len(const void *s, size_t n);

/*
 * Write the repaired form of [@s, @s + @n) into @out, NUL-terminated. When it
 * does not fit in @out_sz - 1 bytes it is cut on a character boundary, so the
 * result is always valid. Returns the bytes written without the NUL (0 when
 * @out_sz is 0: nothing is written). @out must not overlap @s.
 */
size_t utf8_sanitize(const void *s, size_t n, char *out, size_t out_sz);

#endif
