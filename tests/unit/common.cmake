# SPDX-License-Identifier: Apache-2.0
stackd_unit_test(test_common SOURCES test_common.c LIBS common)
# test_hmap_nomem makes calloc() fail on demand.
target_link_options(test_common PRIVATE -Wl,--wrap=calloc)
stackd_unit_test(test_safefile SOURCES test_safefile.c LIBS common)
stackd_unit_test(test_utf8 SOURCES test_utf8.c LIBS common)
