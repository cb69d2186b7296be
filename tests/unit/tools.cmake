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
# stackd-flamegraph: its command line (bad input, escaping), then its page in headless Chromium
# (tests/e2e/browser.py through chromedriver). The browser test skips (77) without chromium,
# and fails instead under CI=true.
if(TARGET stackd-flamegraph)
	add_test(NAME unit.test_cli_flamegraph
		COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_flamegraph_browser.sh --cli-only
			$<TARGET_FILE:stackd-flamegraph> ${PROJECT_SOURCE_DIR}/tests/e2e/browser.py
			${CMAKE_CURRENT_BINARY_DIR}/cli_flamegraph)
	set_tests_properties(unit.test_cli_flamegraph PROPERTIES LABELS unit TIMEOUT 120)
	add_test(NAME unit.test_flamegraph_browser
		COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_flamegraph_browser.sh
			$<TARGET_FILE:stackd-flamegraph> ${PROJECT_SOURCE_DIR}/tests/e2e/browser.py
			${CMAKE_CURRENT_BINARY_DIR}/flamegraph_browser)
	set_tests_properties(unit.test_flamegraph_browser PROPERTIES LABELS unit TIMEOUT 300
		${STACKD_SKIP_PROPERTY})
endif()
