// SPDX-License-Identifier: Apache-2.0
/*
 * Demangling through libiberty (Debian libiberty-dev, the GNU demangler).
 *
 * Why libiberty: it is the demangler binutils (c++filt, addr2line), gdb and
 * perf use, kept in step with GCC's mangling and fuzzed upstream (OSS-Fuzz);
 * it is plain C, handles C++ (cp-demangle) and both Rust schemes, legacy and
 * v0 (rust-demangle, verified on Debian 12's 20230104 release against
 * symbols from rustc -C symbol-mangling-version=v0); and Debian ships it as a
 * position-independent static archive, so nothing is added at run time. The
 * two objects we pull in (cp-demangle.o, rust-demangle.o) only call
 * malloc/realloc/free — not xmalloc, which would exit() on OOM — and keep no
 * global state. The alternatives fall short: libstdc++'s abi::__cxa_demangle
 * is the same C++ code without Rust, and LLVM's Demangle library is C++ and
 * would bring libstdc++ into a C agent.
 *
 * Only the two schemes asked for are tried, and only on names with their
 * prefix: libiberty's cplus_demangle() in "auto" style would also try GNAT
 * and D rules, which turn some plain C names into nonsense.
 */
#include "demangle.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libiberty/demangle.h>

/* Function arguments and cv-qualifiers, as c++filt and pprof show them. */
#define DEMANGLE_FLAGS (DMGL_PARAMS | DMGL_ANSI)

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Does @name end like a Rust legacy symbol: "17h" + 16 hex digits + "E"? */
static bool has_rust_hash(const char *name, size_t len)
{
	size_t i;

	if (len < 20 || memcmp(name + len - 20, "17h", 3) || name[len - 1] != 'E')
		return false;
	for (i = len - 17; i < len - 1; i++) {
		if (!is_hex(name[i]))
			return false;
	}
	return true;
}

/*
 * Drop the trailing "::h<16 hex>" of a demangled Rust legacy name in place.
 * libiberty already omits it when it accepts the name as Rust; this catches
 * legacy names it rejects (a hash it finds implausible) and prints as C++.
 */
static void strip_rust_hash(char *s)
{
	size_t n = strlen(s);

	if (n >= 19 && !memcmp(s + n - 19, "::h", 3))
		s[n - 19] = '\0';
}

char *demangle(const char *name)
{
	char *out = NULL;
	size_t len;

	if (!name || name[0] != '_')
		return NULL;
	len = strnlen(name, DEMANGLE_MAX_NAME + 1);
	if (len > DEMANGLE_MAX_NAME)
		return NULL;
	/* Rust v0 "_R..."; Rust legacy hides in the C++ "_ZN...17h<hash>E" form. */
	if (name[1] == 'R' || (name[1] == 'Z' && name[2] == 'N'))
		out = rust_demangle(name, DEMANGLE_FLAGS);
	if (!out && name[1] == 'Z') {
		out = cplus_demangle_v3(name, DEMANGLE_FLAGS);
		if (out && has_rust_hash(name, len))
			strip_rust_hash(out);
	}
	if (out && !*out) {
		free(out);
		return NULL;
	}
	return out;
}
