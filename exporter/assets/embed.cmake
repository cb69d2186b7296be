# SPDX-License-Identifier: Apache-2.0
# Turn a file into a C byte array, at build time, with nothing but cmake:
#   cmake -DIN=page.html -DOUT=page.c -DSYMBOL=name -P embed.cmake
# defines `const char name[]` (the bytes plus a NUL, so it is also a C string)
# and `const size_t name_len` (without the NUL).
if(NOT IN OR NOT OUT OR NOT SYMBOL)
	message(FATAL_ERROR "embed.cmake: IN, OUT and SYMBOL must be set")
endif()
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" nhex)
math(EXPR nbytes "${nhex} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
# 16 bytes per line, so that compiler diagnostics and diffs stay readable.
string(REPEAT "0x[0-9a-f][0-9a-f]," 16 line)
string(REGEX REPLACE "(${line})" "\\1\n" body "${body}")
get_filename_component(name "${IN}" NAME)
file(WRITE "${OUT}.tmp"
	"/* Generated from ${name} by embed.cmake: do not edit. */\n"
	"#include <stddef.h>\n"
	"extern const char ${SYMBOL}[];\n"
	"extern const size_t ${SYMBOL}_len;\n"
	"const char ${SYMBOL}[] = {\n${body}0x00\n};\n"
	"const size_t ${SYMBOL}_len = ${nbytes};\n")
# Only touch OUT when it changes, so that an unchanged page rebuilds nothing.
execute_process(COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${OUT}.tmp" "${OUT}")
file(REMOVE "${OUT}.tmp")
