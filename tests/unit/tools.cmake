# SPDX-License-Identifier: Apache-2.0
# tools: stackd-symbolize against GNU addr2line on fixtures compiled at test time.
if(TARGET stackd-symbolize)
	add_test(NAME unit.test_cli_symbolize
		COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_cli_symbolize.sh
			$<TARGET_FILE:stackd-symbolize> ${CMAKE_CURRENT_SOURCE_DIR}/fixtures_cli
			${CMAKE_CURRENT_BINARY_DIR}/cli_symbolize)
	set_tests_properties(unit.test_cli_symbolize PROPERTIES LABELS unit
		ENVIRONMENT "CC=${CMAKE_C_COMPILER}")
endif()
