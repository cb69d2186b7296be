# SPDX-License-Identifier: Apache-2.0
# symbolize: maps parsing, ELF symbols, kallsyms, the symbolizer. The private
# headers (elfsym.h, kallsyms.h, symcache.h) are tested directly, hence src/.
set(STACKD_SYM_SRC ${PROJECT_SOURCE_DIR}/symbolize/src)
set(STACKD_SYM_FIXTURES ${CMAKE_CURRENT_SOURCE_DIR}/fixtures_sym)

stackd_unit_test(test_procmaps SOURCES test_procmaps.c LIBS symbolize)
stackd_unit_test(test_elfsym SOURCES test_elfsym.c LIBS symbolize)
stackd_unit_test(test_kallsyms SOURCES test_kallsyms.c LIBS symbolize)
stackd_unit_test(test_symbolizer SOURCES test_symbolizer.c LIBS symbolize ${CMAKE_DL_LIBS})

foreach(t test_elfsym test_kallsyms test_symbolizer)
	target_include_directories(${t} PRIVATE ${STACKD_SYM_SRC})
endforeach()
# Fixture sources are compiled by the tests themselves, with $CC.
foreach(t test_elfsym test_symbolizer)
	target_compile_definitions(${t} PRIVATE STACKD_SYM_FIXTURES="${STACKD_SYM_FIXTURES}")
endforeach()

# Names and where binaries live: demangling, JIT perf maps, stripped Go, vDSO.
# The Go and Rust fixtures are built by the test itself (go build, rustc).
stackd_unit_test(test_names SOURCES test_names.c LIBS symbolize)
target_include_directories(test_names PRIVATE ${STACKD_SYM_SRC})
target_compile_definitions(test_names PRIVATE
	STACKD_NAMES_FIXTURES="${CMAKE_CURRENT_SOURCE_DIR}/fixtures_names")
set_tests_properties(unit.test_names PROPERTIES TIMEOUT 300)

# DWARF lines, inline chains and separate debug files; fixtures built by the
# test with $CC and clang (DWARF 4 and 5), compared with llvm-symbolizer.
stackd_unit_test(test_dwarf SOURCES test_dwarf.c LIBS symbolize)
target_include_directories(test_dwarf PRIVATE ${STACKD_SYM_SRC})
target_compile_definitions(test_dwarf PRIVATE
	STACKD_DWARF_FIXTURES="${CMAKE_CURRENT_SOURCE_DIR}/fixtures_dwarf")
set_tests_properties(unit.test_dwarf PROPERTIES TIMEOUT 300)

# The DWARF unwinder on recorded snapshots: fixtures_unwind/unw_snap.c is built
# by the test with gcc and clang (-O2 -fomit-frame-pointer) and run to record them.
stackd_unit_test(test_unwind SOURCES test_unwind.c LIBS symbolize)
target_include_directories(test_unwind PRIVATE ${STACKD_SYM_SRC})
target_compile_definitions(test_unwind PRIVATE
	STACKD_UNW_FIXTURES="${CMAKE_CURRENT_SOURCE_DIR}/fixtures_unwind")

# The unwind table compiler against `readelf --debug-dump=frames-interp` on libc, the agent,
# CPython and tests/fixtures/unwind_deep.c built by the test (gcc/clang -O2 -fomit-frame-pointer,
# and .debug_frame only).
stackd_unit_test(test_cfitab SOURCES test_cfitab.c LIBS symbolize)
target_include_directories(test_cfitab PRIVATE ${STACKD_SYM_SRC})
target_compile_definitions(test_cfitab PRIVATE STACKD_AGENT_BIN="$<TARGET_FILE:stackd>"
	STACKD_FIXTURES="${PROJECT_SOURCE_DIR}/tests/fixtures")
add_dependencies(test_cfitab stackd)
set_tests_properties(unit.test_cfitab PROPERTIES TIMEOUT 300)

# CPython frames read from outside the interpreter: the 3.11 layout against offsetof() in
# python3.11-dev's headers, the location table against CPython's own co_lines(), the runtime
# probe on Debian's python3.11, a live interpreter's threads and frames, and hostile memory.
stackd_unit_test(test_python SOURCES test_python.c LIBS symbolize)
target_include_directories(test_python PRIVATE ${STACKD_SYM_SRC})
find_path(STACKD_PY311_INCLUDE Python.h PATHS /usr/include/python3.11 NO_DEFAULT_PATH)
if(STACKD_PY311_INCLUDE)
	add_library(py311_offsets OBJECT python311_offsets.c)
	target_include_directories(py311_offsets PRIVATE ${STACKD_PY311_INCLUDE}
		${PROJECT_SOURCE_DIR}/symbolize/include)
	# CPython's headers are not written for our warning flags.
	target_compile_options(py311_offsets PRIVATE -w)
	target_sources(test_python PRIVATE $<TARGET_OBJECTS:py311_offsets>)
	target_compile_definitions(test_python PRIVATE STACKD_HAVE_PY311_HEADERS=1)
endif()
# HotSpot's code heaps (symbolize/hotspot.c): OpenJDK 17's libjvm.so, a live JVM running
# tests/fixtures/JavaHot.java against its own perf map, and hostile memory.
stackd_unit_test(test_hotspot SOURCES test_hotspot.c LIBS symbolize)
target_compile_definitions(test_hotspot PRIVATE STACKD_FIXTURES="${PROJECT_SOURCE_DIR}/tests/fixtures")
