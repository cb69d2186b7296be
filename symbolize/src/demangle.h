/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Demangling of C++ (Itanium ABI) and Rust (legacy and v0) symbol names
 * (private to the symbolizer).
 *
 * demangle() returns a malloc'd human-readable name the caller frees, or
 * NULL when the name is not mangled, is mangled in a scheme we do not
 * handle, is malformed, or is longer than DEMANGLE_MAX_NAME (names come
 * from untrusted binaries). Rust legacy hashes ("::h<16 hex>") are dropped,
 * like rustfilt does. Thread-safe: no global state.
 */
#ifndef STACKD_SYMBOLIZE_DEMANGLE_H
#define STACKD_SYMBOLIZE_DEMANGLE_H

/*
 * Longer names are left mangled. The demangler's working set (on the stack)
 * grows with the name's length, so the cap bounds it too.
 */
#define DEMANGLE_MAX_NAME 4096
/* Longest demangled output; past it the name stays mangled (templates can be long). */
#define DEMANGLE_MAX_OUTPUT 16384

char *demangle(const char *name);

#endif
