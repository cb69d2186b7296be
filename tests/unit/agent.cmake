# SPDX-License-Identifier: Apache-2.0
stackd_unit_test(test_config SOURCES test_config.c LIBS agent_core)
stackd_unit_test(test_privs SOURCES test_privs.c LIBS agent_core)
stackd_unit_test(test_cgroupid SOURCES test_cgroupid.c LIBS agent_core)
stackd_unit_test(test_procmeta SOURCES test_procmeta.c LIBS agent_core)
stackd_unit_test(test_labels SOURCES test_labels.c LIBS agent_core)
stackd_unit_test(test_stackcache SOURCES test_stackcache.c LIBS agent_core)
# preflight.c's BPF feature table against the compiled object (helpers, maps, program types).
stackd_unit_test(test_preflight SOURCES test_preflight.c LIBS agent_core)
target_compile_definitions(test_preflight PRIVATE STACKD_BPF_OBJECT="${CMAKE_BINARY_DIR}/bpf/stackd.bpf.o")
# The loader's options from the flags, its map sizing and the order of its steps (no BPF load).
stackd_unit_test(test_loader SOURCES test_loader.c LIBS agent_core)
# The Kubernetes DaemonSet mounts every runtime state directory procmeta.c reads (read-only).
add_test(NAME unit.test_deploy_manifest
	COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_deploy_manifest.sh ${PROJECT_SOURCE_DIR})
set_tests_properties(unit.test_deploy_manifest PROPERTIES LABELS unit ${STACKD_SKIP_PROPERTY})
stackd_unit_test(test_proctable SOURCES test_proctable.c LIBS agent_core)
# Profile windows driven by neutral samples, no BPF (windows.c, sample.c).
stackd_unit_test(test_windows SOURCES test_windows.c LIBS agent_core)
# agent/stats.c's /metrics exposition against golden files (tests/unit/golden).
stackd_unit_test(test_stats SOURCES test_stats.c LIBS agent_core)
target_compile_definitions(test_stats PRIVATE STACKD_GOLDEN_DIR="${CMAKE_CURRENT_SOURCE_DIR}/golden")
# The unwind table manager (row pool, eviction, entry rewrites) against a fake kernel.
stackd_unit_test(test_unwtables SOURCES test_unwtables.c LIBS agent_core)
# CPython processes: the py_procs entry of a live python3.11, one probe per file, none for sh.
stackd_unit_test(test_pyprocs SOURCES test_pyprocs.c LIBS agent_core)
# The JIT perf map helper against fake JVMs (hostile ones included) and live OpenJDK 17 JVMs (root).
stackd_unit_test(test_jattach SOURCES test_jattach.c LIBS agent_core)
# When JVMs are asked for their perf map and code heaps, against fake ops (agent/javaprocs.c).
stackd_unit_test(test_javaprocs SOURCES test_javaprocs.c LIBS agent_core)
