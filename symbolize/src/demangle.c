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

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
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

/*
 * Output sink with a hard cap. libiberty's allocating wrappers grow their
 * buffer without bound, and a short hostile name can ask for unbounded
 * output: "_RNvMNtC1r5out3_FGC2r5out3_" (27 bytes) makes rust-demangle print
 * billions of lifetimes (found by fuzz_demangle: a 2 GiB realloc). The
 * callback variants write through us instead and allocate nothing, so when
 * the cap is hit we longjmp out: bounded memory and bounded time.
 */
struct sink {
	char buf[DEMANGLE_MAX_OUTPUT + 1];
	size_t len;
	jmp_buf overflow;
};

static void sink_put(const char *s, size_t n, void *opaque)
{
	struct sink *k = opaque;

	if (!n)
		return; /* rust-demangle sometimes hands over (NULL, 0) */
	if (n > DEMANGLE_MAX_OUTPUT - k->len)
		longjmp(k->overflow, 1);
	memcpy(k->buf + k->len, s, n);
	k->len += n;
}

/*
 * Rust v0 binders ("G" + base-62 count + "_") make rust-demangle loop once
 * per bound lifetime, printing nothing while it skips a path: a hostile
 * count is a near-infinite loop the output cap cannot stop
 * ("_RNvMNvMNtC1r5out3_FGtC1r5out3_FGC2_" hangs). Real code binds a handful
 * of lifetimes. A binder follows "F" (fn signature) or "D" (dyn bounds);
 * refuse a name where such a "G" could start a count above 64. A false alarm
 * (an identifier containing "FG") only leaves a name mangled.
 */
static bool has_huge_binder(const char *name)
{
	for (const char *p = strchr(name, 'G'); p; p = strchr(p + 1, 'G')) {
		uint64_t v = 0;
		const char *q = p + 1;

		if (p == name || (p[-1] != 'F' && p[-1] != 'D'))
			continue;

		for (; *q && *q != '_'; q++) {
			int d = *q >= '0' && *q <= '9'	 ? *q - '0'
				: *q >= 'a' && *q <= 'z' ? *q - 'a' + 10
				: *q >= 'A' && *q <= 'Z' ? *q - 'A' + 36
							 : -1;

			if (d < 0)
				break;
			v = v * 62 + (uint64_t)d;
			if (v > 64)
				return true;
		}
	}
	return false;
}

/* Demangle with a bounded sink: a malloc'd copy of the output, or NULL. */
static char *demangle_bounded(const char *name, bool rust)
{
	struct sink *k = malloc(sizeof(*k));
	char *out = NULL;
	int ok;

	if (!k)
		return NULL;
	k->len = 0;
	if (setjmp(k->overflow) == 0) {
		ok = rust ? rust_demangle_callback(name, DEMANGLE_FLAGS, sink_put, k)
			  : cplus_demangle_v3_callback(name, DEMANGLE_FLAGS, sink_put, k);
		if (ok && k->len) {
			k->buf[k->len] = '\0';
			out = strdup(k->buf);
		}
	}
	free(k);
	return out;
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
	if (name[1] == 'R' && has_huge_binder(name))
		return NULL;
	if (name[1] == 'R' || (name[1] == 'Z' && name[2] == 'N'))
		out = demangle_bounded(name, true);
	if (!out && name[1] == 'Z') {
		out = demangle_bounded(name, false);
		if (out && has_rust_hash(name, len))
			strip_rust_hash(out);
	}
	return out;
}
