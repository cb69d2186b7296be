# SPDX-License-Identifier: Apache-2.0
# bpf_object(NAME SOURCE [HEADERS...]): compile SOURCE with clang -target bpf
# (CO-RE, against the committed vmlinux.h), strip DWARF with llvm-strip -g,
# and generate NAME.skel.h with bpftool gen skeleton. Yields an INTERFACE
# target NAME_skel whose include directory holds the skeleton.
find_program(BPF_CLANG NAMES clang clang-14 REQUIRED)
find_program(BPF_LLVM_STRIP NAMES llvm-strip llvm-strip-14 REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)

function(bpf_object name src)
	set(out_dir ${CMAKE_CURRENT_BINARY_DIR})
	set(obj ${out_dir}/${name}.bpf.o)
	set(skel ${out_dir}/${name}.skel.h)
	get_filename_component(src_abs ${src} ABSOLUTE)
	get_filename_component(src_dir ${src_abs} DIRECTORY)
	add_custom_command(
		OUTPUT ${obj}
		COMMAND ${BPF_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_x86 -mcpu=v3
			-Wall -Wno-unused-function -I${src_dir} -I${CMAKE_SOURCE_DIR}/symbolize/include -idirafter /usr/include/x86_64-linux-gnu
			-c ${src_abs} -o ${obj}.tmp
		COMMAND ${BPF_LLVM_STRIP} -g ${obj}.tmp -o ${obj}
		DEPENDS ${src_abs} ${ARGN}
		COMMENT "BPF ${name}.bpf.o"
		VERBATIM)
	add_custom_command(
		OUTPUT ${skel}
		COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}
		DEPENDS ${obj}
		COMMENT "skeleton ${name}.skel.h"
		VERBATIM)
	add_custom_target(${name}_skel_gen DEPENDS ${skel})
	add_library(${name}_skel INTERFACE)
	add_dependencies(${name}_skel ${name}_skel_gen)
	target_include_directories(${name}_skel INTERFACE ${out_dir} ${src_dir})
	target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF PkgConfig::LIBELF PkgConfig::ZLIB)
endfunction()
