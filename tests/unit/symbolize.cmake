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
