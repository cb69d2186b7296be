# SPDX-License-Identifier: Apache-2.0
stackd_unit_test(test_config SOURCES test_config.c LIBS agent_core)
stackd_unit_test(test_privs SOURCES test_privs.c LIBS agent_core)
stackd_unit_test(test_history SOURCES test_history.c LIBS agent_core)
stackd_unit_test(test_cgroupid SOURCES test_cgroupid.c LIBS agent_core)
stackd_unit_test(test_procmeta SOURCES test_procmeta.c LIBS agent_core)
stackd_unit_test(test_labels SOURCES test_labels.c LIBS agent_core)
stackd_unit_test(test_stackcache SOURCES test_stackcache.c LIBS agent_core)
stackd_unit_test(test_proctable SOURCES test_proctable.c LIBS agent_core)
