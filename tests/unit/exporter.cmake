# SPDX-License-Identifier: Apache-2.0
stackd_unit_test(test_pprof SOURCES test_pprof.c LIBS exporter stackd_proto PkgConfig::ZLIB)
stackd_unit_test(test_promtext SOURCES test_promtext.c LIBS exporter m)
stackd_unit_test(test_http SOURCES test_http.c LIBS exporter)
stackd_unit_test(test_webconfig SOURCES test_webconfig.c LIBS exporter)
stackd_unit_test(test_flamegraph SOURCES test_flamegraph.c LIBS exporter)
# The speedscope file writer: exact JSON, hostile names, the byte budget.
stackd_unit_test(test_speedscope SOURCES test_speedscope.c LIBS exporter)
stackd_unit_test(test_history SOURCES test_history.c LIBS exporter)
stackd_unit_test(test_profile SOURCES test_profile.c LIBS exporter)
stackd_unit_test(test_query SOURCES test_query.c LIBS exporter)
stackd_unit_test(test_basicauth SOURCES test_basicauth.c LIBS exporter)
target_include_directories(test_basicauth PRIVATE ${PROJECT_SOURCE_DIR}/exporter/src)
